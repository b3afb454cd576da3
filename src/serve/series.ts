/**
 * Chart data the analytics report does not already hold, computed server-side in one pass over a
 * session's chat records: cost per hour and a latency histogram per model. The browser only ever
 * receives these aggregates, never the records behind them.
 */
import { billedTokens, costOf, priceOf, type AnalyticsReport, type ModelPrice } from "../reader/analytics.js";
import type { RawRecord } from "../reader/records.js";

/** Upper bounds (seconds) of the latency histogram's buckets; the last bucket is open-ended. */
export const LATENCY_EDGES: readonly number[] = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

/** Hourly series aligned on `hours` (UTC hour starts, seconds since the epoch). */
export interface HourlySeries {
  readonly hours: number[];
  readonly calls: number[];
  readonly toolCalls: number[];
  readonly tokens: number[];
  readonly costUsd: number[];
  readonly errors: number[];
}

/** What the analytics page draws. */
export interface ChartData {
  readonly hourly: HourlySeries;
  /** counts per bucket of {@link LATENCY_EDGES} (plus one for "more"), per model */
  readonly latency: { readonly edges: readonly number[]; readonly models: Readonly<Record<string, number[]>> };
  readonly tools: ReadonlyArray<{ readonly name: string; readonly calls: number; readonly successRate: number }>;
}

const HOUR_MS = 3_600_000;
/** Fill empty hours between the first and the last only up to this many points. */
const MAX_DENSE_HOURS = 24 * 366;

/** Accumulates cost per hour and latency per model from chat records fed one at a time. */
export class ChartAccumulator {
  private readonly cost = new Map<number, number>();
  private readonly latency = new Map<string, number[]>();
  constructor(private readonly prices: Readonly<Record<string, ModelPrice>>) {}

  add(r: RawRecord): void {
    if (r.type !== "chat_interaction") return;
    const model = typeof r.model === "string" ? r.model : "unknown";
    const ms = typeof r.timestamp === "string" ? Date.parse(r.timestamp) : Number.NaN;
    const price = priceOf(model, this.prices);
    if (price && !Number.isNaN(ms)) {
      const h = Math.floor(ms / HOUR_MS);
      this.cost.set(h, (this.cost.get(h) ?? 0) + costOf(billedTokens(r), price));
    }
    if (typeof r.durationSeconds === "number" && Number.isFinite(r.durationSeconds)) {
      let counts = this.latency.get(model);
      if (!counts) this.latency.set(model, (counts = new Array<number>(LATENCY_EDGES.length + 1).fill(0)));
      let i = LATENCY_EDGES.findIndex((edge) => r.durationSeconds as number <= edge);
      if (i < 0) i = LATENCY_EDGES.length;
      counts[i]!++;
    }
  }

  /** The chart data, with the hourly counts taken from the analytics report. */
  result(report: AnalyticsReport): ChartData {
    const byHour = new Map<number, { calls: number; toolCalls: number; tokens: number; errors: number }>();
    for (const p of report.hourly) byHour.set(Math.floor(Date.parse(p.hour) / HOUR_MS), p);
    const keys = [...new Set([...byHour.keys(), ...this.cost.keys()])].sort((a, b) => a - b);
    let hours = keys;
    if (keys.length > 1 && keys[keys.length - 1]! - keys[0]! < MAX_DENSE_HOURS) {
      hours = [];
      for (let h = keys[0]!; h <= keys[keys.length - 1]!; h++) hours.push(h);
    }
    const hourly: HourlySeries = { hours: [], calls: [], toolCalls: [], tokens: [], costUsd: [], errors: [] };
    for (const h of hours) {
      const p = byHour.get(h);
      hourly.hours.push((h * HOUR_MS) / 1000);
      hourly.calls.push(p?.calls ?? 0);
      hourly.toolCalls.push(p?.toolCalls ?? 0);
      hourly.tokens.push(p?.tokens ?? 0);
      hourly.errors.push(p?.errors ?? 0);
      hourly.costUsd.push(this.cost.get(h) ?? 0);
    }
    const models = Object.fromEntries([...this.latency].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
    const tools = Object.entries(report.tools).map(([name, t]) => ({ name, calls: t.calls, successRate: t.successRate }));
    return { hourly, latency: { edges: LATENCY_EDGES, models }, tools };
  }
}
