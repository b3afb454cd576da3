/**
 * The analytics report, computed in one streaming pass over the records. Memory: counters per
 * group, plus the numeric samples that exact percentiles need (8 bytes per latency or metric
 * value, never the records themselves).
 */
import type { RawRecord } from "./records.js";
import { dict } from "../record/stats.js";

/** USD per one million tokens. */
export interface ModelPrice {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
}

/**
 * Built-in list prices (USD per 1M tokens, public list prices as of 2025). A model matches its
 * exact name, else the longest name here followed only by a snapshot date or alias
 * ("gpt-4o-2024-08-06" → "gpt-4o"; never a variant: "o3-pro" is not priced as "o3"), see
 * {@link priceMatch}. Override or extend with the `prices` option; prices change, check your
 * provider's page.
 *
 * @example
 * new AuditViewer({ auditPath, prices: { ...DEFAULT_MODEL_PRICES, "my-model": { inputPerMTok: 1, outputPerMTok: 3 } } });
 */
export const DEFAULT_MODEL_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  "gpt-4o": { inputPerMTok: 2.5, outputPerMTok: 10 },
  // (the first gpt-4o snapshot kept its launch price)
  "gpt-4o-2024-05-13": { inputPerMTok: 5, outputPerMTok: 15 },
  "gpt-4o-mini": { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  "gpt-4.1": { inputPerMTok: 2, outputPerMTok: 8 },
  "gpt-4.1-mini": { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  "gpt-4.1-nano": { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  "gpt-4-turbo": { inputPerMTok: 10, outputPerMTok: 30 },
  "gpt-4-turbo-preview": { inputPerMTok: 10, outputPerMTok: 30 },
  "gpt-4": { inputPerMTok: 30, outputPerMTok: 60 },
  "gpt-4-32k": { inputPerMTok: 60, outputPerMTok: 120 },
  "gpt-4.5-preview": { inputPerMTok: 75, outputPerMTok: 150 },
  "gpt-3.5-turbo": { inputPerMTok: 0.5, outputPerMTok: 1.5 },
  o1: { inputPerMTok: 15, outputPerMTok: 60 },
  "o1-preview": { inputPerMTok: 15, outputPerMTok: 60 },
  "o1-mini": { inputPerMTok: 1.1, outputPerMTok: 4.4 },
  "o1-pro": { inputPerMTok: 150, outputPerMTok: 600 },
  o3: { inputPerMTok: 2, outputPerMTok: 8 },
  "o3-pro": { inputPerMTok: 20, outputPerMTok: 80 },
  "o3-mini": { inputPerMTok: 1.1, outputPerMTok: 4.4 },
  "o4-mini": { inputPerMTok: 1.1, outputPerMTok: 4.4 },
  "claude-3-opus": { inputPerMTok: 15, outputPerMTok: 75 },
  "claude-3-sonnet": { inputPerMTok: 3, outputPerMTok: 15 },
  "claude-3-haiku": { inputPerMTok: 0.25, outputPerMTok: 1.25 },
  "claude-3-5-sonnet": { inputPerMTok: 3, outputPerMTok: 15 },
  "claude-3-5-haiku": { inputPerMTok: 0.8, outputPerMTok: 4 },
  "claude-3-7-sonnet": { inputPerMTok: 3, outputPerMTok: 15 },
  "claude-sonnet-4": { inputPerMTok: 3, outputPerMTok: 15 },
  "claude-opus-4": { inputPerMTok: 15, outputPerMTok: 75 },
  "claude-opus-4-1": { inputPerMTok: 15, outputPerMTok: 75 },
  // (Opus 4.5 is priced apart from the 4 and 4.1 its prefix would give: $5/$25, not $15/$75)
  "claude-opus-4-5": { inputPerMTok: 5, outputPerMTok: 25 },
  "claude-sonnet-4-5": { inputPerMTok: 3, outputPerMTok: 15 },
  "claude-haiku-4-5": { inputPerMTok: 1, outputPerMTok: 5 },
  "gpt-5": { inputPerMTok: 1.25, outputPerMTok: 10 },
  "gpt-5-chat-latest": { inputPerMTok: 1.25, outputPerMTok: 10 },
  "gpt-5-codex": { inputPerMTok: 1.25, outputPerMTok: 10 },
  "gpt-5.1": { inputPerMTok: 1.25, outputPerMTok: 10 },
  "gpt-5-mini": { inputPerMTok: 0.25, outputPerMTok: 2 },
  "gpt-5-nano": { inputPerMTok: 0.05, outputPerMTok: 0.4 },
  // (priced apart from the gpt-5 its prefix would give)
  "gpt-5-pro": { inputPerMTok: 15, outputPerMTok: 120 },
  "gemini-1.5-pro": { inputPerMTok: 1.25, outputPerMTok: 5 },
  "gemini-1.5-flash": { inputPerMTok: 0.075, outputPerMTok: 0.3 },
  "gemini-2.0-flash": { inputPerMTok: 0.1, outputPerMTok: 0.4 },
});

/**
 * What may follow a table's name in a model name it prices: snapshot dates and aliases only
 * ("-2024-08-06", "-20250514", "@20250514", "-0613", "-002", "-latest", "-0"), one or more.
 */
const SNAPSHOT_SUFFIX = /^(?:[-@](?:\d{8}|\d{4}-\d{2}-\d{2}|\d{3,4}|0|latest))+$/;

/**
 * The entry of `table` that prices `model`, and its name: the exact name; else the longest name
 * that `model` extends by a snapshot suffix only (see SNAPSHOT_SUFFIX), or a name ending in `*`
 * that `model` starts with (the rest of it). A variant ("-pro", "-mini", "-preview", "-lite",
 * ".5") is never priced as its base: until 2026-12-05 any prefix was, and o3-pro-2025-06-10 got
 * o3's $2/$8 (list $20/$80), o1-pro o1's $15/$60, gpt-4.5-preview gpt-4's $30/$60.
 *
 * @example
 * priceMatch("gpt-4o-2024-08-06", DEFAULT_MODEL_PRICES)?.name // "gpt-4o"
 * priceMatch("gpt-4o-audio-preview", DEFAULT_MODEL_PRICES)    // undefined
 */
export function priceMatch(model: string, table: Readonly<Record<string, ModelPrice>>): { readonly name: string; readonly price: ModelPrice } | undefined {
  // (own names only: "constructor" found Object's, and the report's cost became NaN)
  if (Object.hasOwn(table, model)) return { name: model, price: table[model]! };
  let best: string | undefined;
  let bestLength = -1;
  for (const name of Object.keys(table)) {
    const wildcard = name.endsWith("*");
    const base = wildcard ? name.slice(0, -1) : name;
    if (base.length <= bestLength || !model.startsWith(base)) continue;
    if (wildcard || SNAPSHOT_SUFFIX.test(model.slice(base.length))) {
      best = name;
      bestLength = base.length;
    }
  }
  return best !== undefined ? { name: best, price: table[best]! } : undefined;
}

/** The price of `model` in `table` (see {@link priceMatch}). */
export function priceOf(model: string, table: Readonly<Record<string, ModelPrice>>): ModelPrice | undefined {
  return priceMatch(model, table)?.price;
}

/**
 * The tokens of one call as they are billed: input and output at their prices, and Anthropic's
 * prompt-cache tokens, which its `usage` keeps apart from `input_tokens` (`cache_read_input_tokens`
 * at 0.1× the input price, `cache_creation_input_tokens` at 1.25× for the 5-minute cache and 2×
 * for the 1-hour one, as `cache_creation.ephemeral_1h_input_tokens` tells).
 */
export interface BilledTokens {
  /** input tokens at the input price (cache tokens a record counted in `inputTokens` taken out) */
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
}

/** Anthropic's prompt-cache prices as multiples of the input price. */
const CACHE_READ = 0.1;
const CACHE_WRITE_5M = 1.25;
const CACHE_WRITE_1H = 2;

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The billed tokens of a chat record. Cache tokens come from the raw `usage` (the Anthropic
 * wrapper's, or the AI SDK's raw usage of an Anthropic model). The Anthropic wrapper's
 * `inputTokens` is Anthropic's `input_tokens`, without them; the AI SDK's is its `inputTokens.total`,
 * with them: they are taken out of it. OpenAI's `prompt_tokens_details.cached_tokens` are inside
 * `prompt_tokens` and stay at the full input price (their discount differs by model).
 */
export function billedTokens(r: RawRecord): BilledTokens {
  let input = num(r.inputTokens);
  const u = r.usage;
  if (!isObj(u)) return { input, output: num(r.outputTokens), cacheRead: 0, cacheWrite5m: 0, cacheWrite1h: 0 };
  const cacheRead = num(u.cache_read_input_tokens);
  const writes = num(u.cache_creation_input_tokens);
  const byTtl = isObj(u.cache_creation) ? u.cache_creation : undefined;
  const cacheWrite1h = byTtl ? num(byTtl.ephemeral_1h_input_tokens) : 0;
  const cacheWrite5m = Math.max(byTtl ? num(byTtl.ephemeral_5m_input_tokens) : 0, writes - cacheWrite1h);
  const cached = cacheRead + cacheWrite5m + cacheWrite1h;
  if (cached > 0 && input !== num(u.input_tokens) && input === num(u.input_tokens) + cached) input -= cached;
  return { input, output: num(r.outputTokens), cacheRead, cacheWrite5m, cacheWrite1h };
}

/** USD of `t` at `price`. */
export function costOf(t: BilledTokens, price: ModelPrice): number {
  const input = t.input + t.cacheRead * CACHE_READ + t.cacheWrite5m * CACHE_WRITE_5M + t.cacheWrite1h * CACHE_WRITE_1H;
  return (input * price.inputPerMTok + t.output * price.outputPerMTok) / 1e6;
}

function addBilled(a: BilledTokens, b: BilledTokens): void {
  a.input += b.input;
  a.output += b.output;
  a.cacheRead += b.cacheRead;
  a.cacheWrite5m += b.cacheWrite5m;
  a.cacheWrite1h += b.cacheWrite1h;
}

/** Latency figures in seconds; percentiles by the nearest-rank method. null without samples. */
export interface LatencyStats {
  readonly count: number;
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface ModelAnalytics {
  readonly calls: number;
  readonly successes: number;
  readonly failures: number;
  readonly tokens: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Anthropic prompt-cache reads, from the calls' raw `usage` (not in `inputTokens` as the Anthropic wrapper records it) */
  readonly cacheReadTokens: number;
  /** Anthropic prompt-cache writes (5-minute and 1-hour), likewise */
  readonly cacheWriteTokens: number;
  /** USD from input, output and prompt-cache tokens; null when the model has no price */
  readonly costUsd: number | null;
  /** the price used, or null */
  readonly price: ModelPrice | null;
  /** the name in the price table whose price was used: the model's own, or the one it is a snapshot of; null without a price */
  readonly pricedAs: string | null;
  /** calls that gave only `tokensUsed` without the input/output split: their tokens are not in `costUsd` */
  readonly callsWithoutTokenSplit: number;
  /**
   * successful calls that gave no token count at all (an OpenAI stream without
   * `stream_options.include_usage`): not in `tokens`, nor in `costUsd`
   */
  readonly callsWithoutTokens: number;
  readonly latencySeconds: LatencyStats;
}

export interface InteractionTypeAnalytics {
  readonly calls: number;
  readonly successes: number;
  readonly failures: number;
  readonly tokens: number;
  readonly latencySeconds: LatencyStats;
}

export interface ToolAnalytics {
  readonly calls: number;
  readonly successes: number;
  readonly failures: number;
  /** successes / calls */
  readonly successRate: number;
  readonly latencySeconds: LatencyStats;
  /** the most frequent error messages, most frequent first (at most 5) */
  readonly topErrors: ReadonlyArray<{ readonly message: string; readonly count: number }>;
  readonly operations: Readonly<Record<string, number>>;
}

export interface PersonaAnalytics {
  readonly activities: number;
  /** sum of the activities' `durationSeconds` */
  readonly timeSpentSeconds: number;
  readonly activityTypes: Readonly<Record<string, number>>;
}

export interface FileOperationAnalytics {
  readonly count: number;
  readonly failures: number;
  /** sum of `fileSize` */
  readonly bytes: number;
}

export interface MetricAnalytics {
  readonly metricName: string;
  readonly unit: string;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
}

export interface ErrorAnalytics {
  readonly total: number;
  readonly byType: Readonly<Record<string, number>>;
  readonly bySeverity: Readonly<Record<string, number>>;
  /** errors divided by the number of clock hours (UTC) from the first record's hour to the last's, inclusive */
  readonly ratePerHour: number;
}

/** One UTC hour of the time series. */
export interface HourlyPoint {
  /** start of the hour, ISO 8601 */
  readonly hour: string;
  /** chat interactions */
  readonly calls: number;
  readonly toolCalls: number;
  /** `tokensUsed` of the chat interactions */
  readonly tokens: number;
  readonly errors: number;
}

/** What `generateAnalyticsReport()` resolves to. */
export interface AnalyticsReport {
  readonly generatedAt: string;
  readonly sessions: readonly string[];
  readonly period: { readonly start: string | null; readonly end: string | null; readonly hours: number };
  readonly totals: {
    readonly records: number;
    readonly chatInteractions: number;
    readonly toolUsages: number;
    readonly personaActivities: number;
    readonly fileOperations: number;
    readonly performanceMetrics: number;
    readonly errors: number;
    readonly tokens: number;
    readonly inputTokens: number;
    readonly outputTokens: number;
    /** Anthropic prompt-cache reads and writes, over every model */
    readonly cacheReadTokens: number;
    readonly cacheWriteTokens: number;
    /** sum over priced models */
    readonly costUsd: number;
    /** models without a price: their cost is not in `costUsd` */
    readonly unpricedModels: readonly string[];
    /** every model's `callsWithoutTokenSplit`, summed */
    readonly callsWithoutTokenSplit: number;
    /** every model's `callsWithoutTokens`, summed */
    readonly callsWithoutTokens: number;
    /**
     * calls of priced models that `costUsd` leaves out, for want of token counts or of their
     * input/output split (the calls of `unpricedModels` are all left out)
     */
    readonly uncostedCalls: number;
  };
  readonly models: Readonly<Record<string, ModelAnalytics>>;
  readonly interactionTypes: Readonly<Record<string, InteractionTypeAnalytics>>;
  readonly tools: Readonly<Record<string, ToolAnalytics>>;
  readonly personas: Readonly<Record<string, PersonaAnalytics>>;
  readonly fileOperations: Readonly<Record<string, FileOperationAnalytics>>;
  /** one entry per metric name and unit, sorted by name then unit */
  readonly metrics: readonly MetricAnalytics[];
  readonly errors: ErrorAnalytics;
  readonly hourly: readonly HourlyPoint[];
  /** lines that were not records (a torn final line, damage): see `audit-logger verify` */
  readonly skippedLines: number;
  readonly percentileMethod: "nearest-rank";
}

/** A growable array of doubles: 8 bytes per sample. */
class Samples {
  private data = new Float64Array(16);
  length = 0;
  sum = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
    this.sum += v;
  }
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}

/**
 * The nearest-rank percentile of sorted values: the smallest value with at least p% of the values
 * at or below it, i.e. `sorted[ceil(p/100 · n) − 1]` (p50 of [1,2,3,4] is 2).
 *
 * @example
 * percentile(new Float64Array([1, 2, 3, 4]), 95) // 4
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  return sorted[Math.min(rank, n) - 1]!;
}

function latency(s: Samples): LatencyStats {
  if (s.length === 0) return { count: 0, mean: null, p50: null, p95: null, p99: null, max: null };
  const v = s.sorted();
  return { count: s.length, mean: s.sum / s.length, p50: percentile(v, 50), p95: percentile(v, 95), p99: percentile(v, 99), max: v[v.length - 1]! };
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

const str = (v: unknown, dflt: string): string => (typeof v === "string" ? v : dflt);

/** Distinct error messages remembered per tool; beyond it, new messages are counted as "(other)". */
const MAX_DISTINCT_ERRORS = 1000;

interface ModelAcc {
  calls: number;
  ok: number;
  tokens: number;
  input: number;
  output: number;
  noSplit: number;
  noTokens: number;
  billed: BilledTokens;
  lat: Samples;
}
interface TypeAcc {
  calls: number;
  ok: number;
  tokens: number;
  lat: Samples;
}
interface ToolAcc {
  calls: number;
  ok: number;
  lat: Samples;
  errors: Map<string, number>;
  ops: Map<string, number>;
}
interface HourAcc {
  calls: number;
  toolCalls: number;
  tokens: number;
  errors: number;
}

const HOUR_MS = 3_600_000;

/** Accumulates the report from records fed one at a time, in any order. */
export class AnalyticsAccumulator {
  private readonly models = new Map<string, ModelAcc>();
  private readonly types = new Map<string, TypeAcc>();
  private readonly tools = new Map<string, ToolAcc>();
  private readonly personas = new Map<string, { n: number; secs: number; types: Map<string, number> }>();
  private readonly files = new Map<string, { n: number; fail: number; bytes: number }>();
  private readonly metrics = new Map<string, { name: string; unit: string; min: number; max: number; s: Samples }>();
  private readonly errorTypes = new Map<string, number>();
  private readonly severities = new Map<string, number>();
  private readonly hours = new Map<number, HourAcc>();
  private counts = { records: 0, chat: 0, tool: 0, persona: 0, file: 0, metric: 0, error: 0 };
  private first: string | undefined;
  private last: string | undefined;

  add(r: RawRecord): void {
    this.counts.records++;
    const ts = typeof r.timestamp === "string" ? r.timestamp : undefined;
    let hour: HourAcc | undefined;
    if (ts !== undefined) {
      if (this.first === undefined || ts < this.first) this.first = ts;
      if (this.last === undefined || ts > this.last) this.last = ts;
      const ms = Date.parse(ts);
      if (!Number.isNaN(ms)) {
        const h = Math.floor(ms / HOUR_MS);
        hour = this.hours.get(h);
        if (!hour) this.hours.set(h, (hour = { calls: 0, toolCalls: 0, tokens: 0, errors: 0 }));
      }
    }
    switch (r.type) {
      case "chat_interaction": {
        this.counts.chat++;
        const model = str(r.model, "unknown");
        const ok = r.success !== false;
        const tokens = num(r.tokensUsed);
        let m = this.models.get(model);
        if (!m) this.models.set(model, (m = { calls: 0, ok: 0, tokens: 0, input: 0, output: 0, noSplit: 0, noTokens: 0, billed: { input: 0, output: 0, cacheRead: 0, cacheWrite5m: 0, cacheWrite1h: 0 }, lat: new Samples() }));
        m.calls++;
        if (ok) m.ok++;
        m.tokens += tokens;
        m.input += num(r.inputTokens);
        m.output += num(r.outputTokens);
        addBilled(m.billed, billedTokens(r));
        if (r.inputTokens === undefined && r.outputTokens === undefined) {
          if (tokens > 0) m.noSplit++;
          else if (ok && r.tokensUsed === undefined) m.noTokens++;
        }
        const type = str(r.interactionType, "chat");
        let t = this.types.get(type);
        if (!t) this.types.set(type, (t = { calls: 0, ok: 0, tokens: 0, lat: new Samples() }));
        t.calls++;
        if (ok) t.ok++;
        t.tokens += tokens;
        if (typeof r.durationSeconds === "number") {
          m.lat.push(r.durationSeconds);
          t.lat.push(r.durationSeconds);
        }
        if (hour) {
          hour.calls++;
          hour.tokens += tokens;
        }
        break;
      }
      case "tool_usage": {
        this.counts.tool++;
        const name = str(r.toolName, "unknown");
        let t = this.tools.get(name);
        if (!t) this.tools.set(name, (t = { calls: 0, ok: 0, lat: new Samples(), errors: new Map(), ops: new Map() }));
        t.calls++;
        if (r.success !== false) t.ok++;
        else {
          const msg = str(r.errorMessage, "(no message)");
          if (t.errors.has(msg) || t.errors.size < MAX_DISTINCT_ERRORS) bump(t.errors, msg);
          else bump(t.errors, "(other)");
        }
        bump(t.ops, str(r.operation, "unknown"));
        if (typeof r.durationSeconds === "number") t.lat.push(r.durationSeconds);
        if (hour) hour.toolCalls++;
        break;
      }
      case "persona_activity": {
        this.counts.persona++;
        const name = str(r.personaName, "unknown");
        let p = this.personas.get(name);
        if (!p) this.personas.set(name, (p = { n: 0, secs: 0, types: new Map() }));
        p.n++;
        p.secs += num(r.durationSeconds);
        bump(p.types, str(r.activityType, "unknown"));
        break;
      }
      case "file_operation": {
        this.counts.file++;
        const op = str(r.operation, "unknown");
        let f = this.files.get(op);
        if (!f) this.files.set(op, (f = { n: 0, fail: 0, bytes: 0 }));
        f.n++;
        if (r.success === false) f.fail++;
        f.bytes += num(r.fileSize);
        break;
      }
      case "performance_metric": {
        this.counts.metric++;
        if (typeof r.value !== "number" || !Number.isFinite(r.value)) break;
        const name = str(r.metricName, "unknown");
        const unit = str(r.unit, "");
        const key = `${name}\u0000${unit}`;
        let m = this.metrics.get(key);
        if (!m) this.metrics.set(key, (m = { name, unit, min: r.value, max: r.value, s: new Samples() }));
        m.min = Math.min(m.min, r.value);
        m.max = Math.max(m.max, r.value);
        m.s.push(r.value);
        break;
      }
      case "error": {
        this.counts.error++;
        bump(this.errorTypes, str(r.errorType, "unknown"));
        bump(this.severities, str(r.severity, "error"));
        if (hour) hour.errors++;
        break;
      }
    }
  }

  report(o: { sessions: readonly string[]; prices: Readonly<Record<string, ModelPrice>>; skippedLines: number; now?: Date }): AnalyticsReport {
    const models = dict<ModelAnalytics>();
    let cost = 0;
    let tokens = 0;
    let input = 0;
    let output = 0;
    let cacheRead = 0;
    let cacheWrite = 0;
    const unpriced: string[] = [];
    let noSplit = 0;
    let noTokens = 0;
    let uncosted = 0;
    for (const [name, m] of [...this.models].sort(byKey)) {
      const match = priceMatch(name, o.prices);
      const price = match?.price;
      const c = price ? costOf(m.billed, price) : null;
      if (c !== null) {
        cost += c;
        uncosted += m.noSplit + m.noTokens;
      } else unpriced.push(name);
      noSplit += m.noSplit;
      noTokens += m.noTokens;
      tokens += m.tokens;
      input += m.input;
      output += m.output;
      cacheRead += m.billed.cacheRead;
      cacheWrite += m.billed.cacheWrite5m + m.billed.cacheWrite1h;
      models[name] = {
        calls: m.calls,
        successes: m.ok,
        failures: m.calls - m.ok,
        tokens: m.tokens,
        inputTokens: m.input,
        outputTokens: m.output,
        cacheReadTokens: m.billed.cacheRead,
        cacheWriteTokens: m.billed.cacheWrite5m + m.billed.cacheWrite1h,
        costUsd: c,
        price: price ?? null,
        pricedAs: match?.name ?? null,
        callsWithoutTokenSplit: m.noSplit,
        callsWithoutTokens: m.noTokens,
        latencySeconds: latency(m.lat),
      };
    }
    const interactionTypes = dict<InteractionTypeAnalytics>();
    for (const [name, t] of [...this.types].sort(byKey)) {
      interactionTypes[name] = { calls: t.calls, successes: t.ok, failures: t.calls - t.ok, tokens: t.tokens, latencySeconds: latency(t.lat) };
    }
    const tools = dict<ToolAnalytics>();
    for (const [name, t] of [...this.tools].sort(byKey)) {
      const topErrors = [...t.errors]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, 5)
        .map(([message, count]) => ({ message, count }));
      tools[name] = {
        calls: t.calls,
        successes: t.ok,
        failures: t.calls - t.ok,
        successRate: t.calls ? t.ok / t.calls : 0,
        latencySeconds: latency(t.lat),
        topErrors,
        operations: Object.fromEntries([...t.ops].sort(byKey)),
      };
    }
    const personas = dict<PersonaAnalytics>();
    for (const [name, p] of [...this.personas].sort(byKey)) {
      personas[name] = { activities: p.n, timeSpentSeconds: p.secs, activityTypes: Object.fromEntries([...p.types].sort(byKey)) };
    }
    const fileOperations = dict<FileOperationAnalytics>();
    for (const [op, f] of [...this.files].sort(byKey)) fileOperations[op] = { count: f.n, failures: f.fail, bytes: f.bytes };
    const metrics: MetricAnalytics[] = [...this.metrics.values()]
      .sort((a, b) => (a.name === b.name ? (a.unit < b.unit ? -1 : 1) : a.name < b.name ? -1 : 1))
      .map((m) => {
        const v = m.s.sorted();
        return { metricName: m.name, unit: m.unit, count: m.s.length, min: m.min, max: m.max, mean: m.s.sum / m.s.length, p50: percentile(v, 50), p95: percentile(v, 95) };
      });
    const hourKeys = [...this.hours.keys()].sort((a, b) => a - b);
    const span = hourKeys.length ? hourKeys[hourKeys.length - 1]! - hourKeys[0]! + 1 : 0;
    const hourly: HourlyPoint[] = hourKeys.map((h) => ({ hour: new Date(h * HOUR_MS).toISOString(), ...this.hours.get(h)! }));
    return {
      generatedAt: (o.now ?? new Date()).toISOString(),
      sessions: o.sessions,
      period: { start: this.first ?? null, end: this.last ?? null, hours: span },
      totals: {
        records: this.counts.records,
        chatInteractions: this.counts.chat,
        toolUsages: this.counts.tool,
        personaActivities: this.counts.persona,
        fileOperations: this.counts.file,
        performanceMetrics: this.counts.metric,
        errors: this.counts.error,
        tokens,
        inputTokens: input,
        outputTokens: output,
        cacheReadTokens: cacheRead,
        cacheWriteTokens: cacheWrite,
        costUsd: cost,
        unpricedModels: unpriced,
        callsWithoutTokenSplit: noSplit,
        callsWithoutTokens: noTokens,
        uncostedCalls: uncosted,
      },
      models,
      interactionTypes,
      tools,
      personas,
      fileOperations,
      metrics,
      errors: {
        total: this.counts.error,
        byType: Object.fromEntries([...this.errorTypes].sort(byKey)),
        bySeverity: Object.fromEntries([...this.severities].sort(byKey)),
        ratePerHour: span ? this.counts.error / span : 0,
      },
      hourly,
      skippedLines: o.skippedLines,
      percentileMethod: "nearest-rank",
    };
  }
}

function byKey<V>(a: [string, V], b: [string, V]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
