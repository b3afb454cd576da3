import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_PRICES, percentile, priceOf } from "../../src/reader/analytics.js";
import { AuditViewer } from "../../src/reader/viewer.js";
import { cleanupTmp } from "../helpers/index.js";
import { buildFixture, MODELS, type Fixture, type Logged } from "./fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(async () => {
  if (!fx.live.isClosed) await fx.live.finalizeSession();
  cleanupTmp();
});

/** Nearest rank, written independently of the library: the value at 1-based rank ceil(p·n/100). */
function nearestRank(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.ceil((p * s.length) / 100) - 1]!;
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const n = (v: unknown) => (typeof v === "number" ? v : 0);
const of = (kind: Logged["kind"], pred: (i: Record<string, unknown>) => boolean = () => true) => fx.logged.filter((l) => l.kind === kind && pred(l.input)).map((l) => l.input);

describe("percentile", () => {
  it("is nearest-rank", () => {
    expect(percentile(new Float64Array([1, 2, 3, 4]), 50)).toBe(2);
    expect(percentile(new Float64Array([1, 2, 3, 4]), 95)).toBe(4);
    expect(percentile(new Float64Array([5]), 99)).toBe(5);
    expect(percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 95)).toBe(100);
    expect(percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90)).toBe(90);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });
});

describe("the built-in prices", () => {
  it("price dated names by their family, and Claude Opus 4.5 apart from the Opus 4 its prefix gives (it was priced $15/$75, three times its list price); Haiku 4.5 and GPT-5 have prices", () => {
    const p = (m: string) => priceOf(m, DEFAULT_MODEL_PRICES);
    expect(p("claude-opus-4-5-20251101")).toEqual({ inputPerMTok: 5, outputPerMTok: 25 });
    expect(p("claude-opus-4-1-20250805")).toEqual({ inputPerMTok: 15, outputPerMTok: 75 });
    expect(p("claude-haiku-4-5")).toEqual({ inputPerMTok: 1, outputPerMTok: 5 });
    expect(p("claude-sonnet-4-5-20250929")).toEqual({ inputPerMTok: 3, outputPerMTok: 15 });
    expect(p("gpt-5-mini-2025-08-07")).toEqual({ inputPerMTok: 0.25, outputPerMTok: 2 });
    expect(p("gpt-5")).toEqual({ inputPerMTok: 1.25, outputPerMTok: 10 });
    expect(p("gpt-5-pro-2025-10-06")).toEqual({ inputPerMTok: 15, outputPerMTok: 120 });
    expect(p("gpt-4o-2024-08-06")).toEqual({ inputPerMTok: 2.5, outputPerMTok: 10 });
  });
});

describe("generateAnalyticsReport", () => {
  it("per model: calls, tokens, exact latency percentiles and cost", async () => {
    const r = await new AuditViewer({ auditPath: fx.auditPath }).generateAnalyticsReport();
    expect(Object.keys(r.models).sort()).toEqual([...MODELS].sort());
    const prices: Record<string, [number, number] | null> = {
      "gpt-4o": [2.5, 10],
      "gpt-4o-mini-2024-07-18": [0.15, 0.6],
      "claude-3": null,
      "claude-3-5-haiku": [0.8, 4],
    };
    let totalCost = 0;
    for (const model of MODELS) {
      const calls = of("chat_interaction", (i) => i.model === model);
      const m = r.models[model]!;
      expect(m.calls).toBe(calls.length);
      expect(m.failures).toBe(calls.filter((c) => c.success === false).length);
      const input = sum(calls.map((c) => n(c.inputTokens)));
      const output = sum(calls.map((c) => n(c.outputTokens)));
      expect(m.inputTokens).toBe(input);
      expect(m.outputTokens).toBe(output);
      expect(m.tokens).toBe(sum(calls.map((c) => (c.tokensUsed !== undefined ? n(c.tokensUsed) : n(c.inputTokens) + n(c.outputTokens)))));
      expect(m.callsWithoutTokenSplit).toBe(calls.filter((c) => c.tokensUsed !== undefined).length);
      const lat = calls.map((c) => c.durationSeconds as number);
      expect(m.latencySeconds).toMatchObject({
        count: lat.length,
        p50: nearestRank(lat, 50),
        p95: nearestRank(lat, 95),
        p99: nearestRank(lat, 99),
        max: Math.max(...lat),
      });
      expect(m.latencySeconds.mean).toBeCloseTo(sum(lat) / lat.length, 12);
      const p = prices[model]!;
      if (p === null) expect(m.costUsd).toBeNull();
      else {
        const cost = (input * p[0] + output * p[1]) / 1e6;
        expect(m.costUsd).toBeCloseTo(cost, 12);
        totalCost += cost;
      }
    }
    expect(r.totals.costUsd).toBeCloseTo(totalCost, 12);
    expect(r.totals.unpricedModels).toEqual(["claude-3"]);
    expect(r.percentileMethod).toBe("nearest-rank");
  });

  it("takes price overrides from the viewer and from the call", async () => {
    const v = new AuditViewer({ auditPath: fx.auditPath, prices: { "claude-3": { inputPerMTok: 1, outputPerMTok: 2 } } });
    const calls = of("chat_interaction", (i) => i.model === "claude-3");
    const expected = (sum(calls.map((c) => n(c.inputTokens))) * 1 + sum(calls.map((c) => n(c.outputTokens))) * 2) / 1e6;
    const r = await v.generateAnalyticsReport();
    expect(r.models["claude-3"]!.costUsd).toBeCloseTo(expected, 12);
    expect(r.totals.unpricedModels).toEqual([]);
    const r2 = await v.generateAnalyticsReport({ prices: { "gpt-4o": { inputPerMTok: 0, outputPerMTok: 0 } } });
    expect(r2.models["gpt-4o"]!.costUsd).toBe(0);
    // the longest prefix wins: gpt-4o-mini-… is priced as gpt-4o-mini, not gpt-4o
    expect(r2.models["gpt-4o-mini-2024-07-18"]!.price).toEqual({ inputPerMTok: 0.15, outputPerMTok: 0.6 });
  });

  it("per interaction type, tool, persona, file operation, metric and error", async () => {
    const r = await new AuditViewer({ auditPath: fx.auditPath }).generateAnalyticsReport();
    for (const type of ["chat", "api_request"]) {
      const calls = of("chat_interaction", (i) => i.interactionType === type);
      expect(r.interactionTypes[type]!.calls).toBe(calls.length);
      expect(r.interactionTypes[type]!.latencySeconds.p95).toBe(nearestRank(calls.map((c) => c.durationSeconds as number), 95));
    }
    for (const tool of ["search", "weather", "calc"]) {
      const calls = of("tool_usage", (i) => i.toolName === tool);
      const t = r.tools[tool]!;
      expect(t.calls).toBe(calls.length);
      expect(t.successRate).toBeCloseTo(calls.filter((c) => c.success !== false).length / calls.length, 12);
      const lat = calls.map((c) => c.durationSeconds as number);
      expect([t.latencySeconds.p50, t.latencySeconds.p95, t.latencySeconds.p99, t.latencySeconds.max]).toEqual([
        nearestRank(lat, 50),
        nearestRank(lat, 95),
        nearestRank(lat, 99),
        Math.max(...lat),
      ]);
      const counts = new Map<string, number>();
      for (const c of calls) if (c.success === false) counts.set(c.errorMessage as string, (counts.get(c.errorMessage as string) ?? 0) + 1);
      expect(t.topErrors).toEqual([...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([message, count]) => ({ message, count })));
    }
    for (const persona of ["planner", "coder"]) {
      const acts = of("persona_activity", (i) => i.personaName === persona);
      expect(r.personas[persona]).toMatchObject({ activities: acts.length });
      expect(r.personas[persona]!.timeSpentSeconds).toBeCloseTo(sum(acts.map((a) => a.durationSeconds as number)), 12);
    }
    for (const op of ["create", "read", "modify", "delete"]) {
      const ops = of("file_operation", (i) => i.operation === op);
      expect(r.fileOperations[op]).toEqual({ count: ops.length, failures: ops.filter((o) => o.success === false).length, bytes: sum(ops.map((o) => o.fileSize as number)) });
    }
    expect(r.metrics.map((m) => `${m.metricName}/${m.unit}`)).toEqual(["burst/n", "latency/ms", "queue_depth/items"]);
    for (const m of r.metrics) {
      const vals = of("performance_metric", (i) => i.metricName === m.metricName).map((i) => (i.value as number) + 0); // -0 is written as 0
      expect(m).toMatchObject({ count: vals.length, min: Math.min(...vals), max: Math.max(...vals), p50: nearestRank(vals, 50), p95: nearestRank(vals, 95) });
      expect(m.mean).toBeCloseTo(sum(vals) / vals.length, 10);
    }
    const errors = of("error");
    expect(r.errors.total).toBe(errors.length);
    expect(r.errors.byType).toEqual({
      TimeoutError: errors.filter((e) => e.errorType === "TimeoutError").length,
      ValueError: errors.filter((e) => e.errorType === "ValueError").length,
    });
    expect(r.errors.bySeverity).toEqual({ critical: errors.filter((e) => e.severity === "critical").length, error: errors.filter((e) => e.severity === "error").length });
    const hourOf = (ts: string) => Math.floor(Date.parse(ts) / 3_600_000);
    const hours = fx.logged.map((l) => hourOf(l.timestamp));
    const span = Math.max(...hours) - Math.min(...hours) + 1;
    expect(r.period.hours).toBe(span);
    expect(r.errors.ratePerHour).toBeCloseTo(errors.length / span, 12);
  });

  it("hourly series: chat calls, tokens and errors per UTC hour", async () => {
    const r = await new AuditViewer({ auditPath: fx.auditPath }).generateAnalyticsReport();
    const want = new Map<string, { calls: number; toolCalls: number; tokens: number; errors: number }>();
    for (const l of fx.logged) {
      const h = new Date(Math.floor(Date.parse(l.timestamp) / 3_600_000) * 3_600_000).toISOString();
      const b = want.get(h) ?? { calls: 0, toolCalls: 0, tokens: 0, errors: 0 };
      if (l.kind === "chat_interaction") {
        b.calls++;
        b.tokens += l.input.tokensUsed !== undefined ? n(l.input.tokensUsed) : n(l.input.inputTokens) + n(l.input.outputTokens);
      }
      if (l.kind === "tool_usage") b.toolCalls++;
      if (l.kind === "error") b.errors++;
      want.set(h, b);
    }
    expect(r.hourly).toEqual([...want].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([hour, b]) => ({ hour, ...b })));
    expect(r.hourly.length).toBeGreaterThan(3);
    expect(r.totals.records).toBe(fx.logged.length);
  });

  it("narrows to a session and a time range", async () => {
    const v = new AuditViewer({ auditPath: fx.auditPath });
    const beta = await v.generateAnalyticsReport({ sessionId: "beta" });
    expect(beta.sessions).toEqual(["beta"]);
    expect(beta.totals.records).toBe(fx.logged.filter((l) => l.sessionId === "beta").length);
    const chats = fx.logged.filter((l) => l.kind === "chat_interaction");
    const since = chats[10]!.timestamp;
    const until = chats[20]!.timestamp;
    const ranged = await v.generateAnalyticsReport({ since, until });
    expect(ranged.totals.chatInteractions).toBe(chats.filter((c) => c.timestamp >= since && c.timestamp < until).length);
    const single = await new AuditViewer({ auditPath: fx.auditPath, sessionId: "alpha" }).generateAnalyticsReport();
    expect(single.totals.records).toBe(fx.logged.filter((l) => l.sessionId === "alpha").length);
  });
});

// Found by review 2026-12-04 (fourth session): names were keys of plain objects, so a model named
// "constructor" found Object's own member: the report's total cost became NaN (null in JSON) and
// the summary counted `"constructor": "function Object() { [native code] }1"`; "__proto__" vanished.
describe("names that are Object's own members", () => {
  it("are models, personas and tools like any other, in the summary and the report; the cost of the priced ones adds up", async () => {
    const { AuditLogger } = await import("../../src/index.js");
    const { tmpProject } = await import("../helpers/index.js");
    const logger = new AuditLogger({ sessionId: "odd_names", projectPath: tmpProject() });
    for (const model of ["constructor", "__proto__", "toString", "gpt-4o"]) {
      logger.logChatInteraction({ prompt: "q", response: "a", model, inputTokens: 1_000_000, outputTokens: 0, persona: model });
      logger.logToolUsage({ toolName: model, operation: "hasOwnProperty", success: true });
      logger.logPersonaActivity({ personaName: model, activityType: "valueOf", description: "d" });
    }
    const summary = await logger.finalizeSession();
    expect(JSON.stringify(summary.models)).toBe('{"constructor":1,"__proto__":1,"toString":1,"gpt-4o":1}');
    const report = await new AuditViewer({ auditPath: logger.auditDir }).generateAnalyticsReport();
    expect(Object.keys(report.models).sort()).toEqual(["__proto__", "constructor", "gpt-4o", "toString"]);
    const ctor = Object.entries(report.models).find(([k]) => k === "constructor")![1];
    expect(ctor.calls).toBe(1);
    expect(report.totals.costUsd).toBeCloseTo(DEFAULT_MODEL_PRICES["gpt-4o"]!.inputPerMTok, 10);
    expect(ctor.costUsd).toBeNull();
    expect(Object.keys(report.tools).sort()).toEqual(["__proto__", "constructor", "gpt-4o", "toString"]);
    expect(Object.keys(report.personas).sort()).toEqual(["__proto__", "constructor", "gpt-4o", "toString"]);
    expect(JSON.parse(JSON.stringify(report)).totals.costUsd).toBeCloseTo(DEFAULT_MODEL_PRICES["gpt-4o"]!.inputPerMTok, 10);
    expect(priceOf("constructor", DEFAULT_MODEL_PRICES)).toBeUndefined();
  });
});
