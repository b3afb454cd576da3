/**
 * The cost the viewer's server returns (found by a new-user review, 2026-12-05): prompt-cache
 * tokens priced in the report and the hourly series alike.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

let server: RunningServer;

beforeAll(async () => {
  const logger = new AuditLogger({ sessionId: "cost", projectPath: tmpProject("audit-serve-cost-"), fullContentLogging: false });
  const usage = { input_tokens: 10, cache_creation_input_tokens: 1_000, cache_read_input_tokens: 200_000, output_tokens: 10 };
  logger.logChatInteraction({ prompt: "x", model: "claude-sonnet-4-5-20250929", inputTokens: 10, outputTokens: 10, usage });
  logger.logChatInteraction({ prompt: "x", model: "claude-sonnet-4-5-20250929" });
  await logger.finalizeSession();
  server = await startServer({ auditPath: logger.auditDir, port: 0 });
});

afterAll(async () => {
  await server?.close();
  cleanupTmp();
});

async function getJson<T>(p: string): Promise<T> {
  const r = await fetch(`http://${server.host}:${server.port}${p}`, { headers: { authorization: `Bearer ${server.token}` } });
  expect(r.status).toBe(200);
  return (await r.json()) as T;
}

const CACHED_CALL_USD = (10 * 3 + 10 * 15 + 200_000 * 0.3 + 1_000 * 3.75) / 1e6;

describe("serve: cost", () => {
  it("prices prompt-cache tokens in the session's stats, the analytics report and the cost per hour", async () => {
    const stats = await getJson<{ costUsd: number }>("/api/sessions/cost/stats");
    expect(stats.costUsd).toBeCloseTo(CACHED_CALL_USD, 12);
    const a = await getJson<{ report: { totals: { costUsd: number; cacheReadTokens: number } }; charts: { hourly: { costUsd: number[] } } }>("/api/sessions/cost/analytics");
    expect(a.report.totals.costUsd).toBeCloseTo(CACHED_CALL_USD, 12);
    expect(a.report.totals.cacheReadTokens).toBe(200_000);
    expect(a.charts.hourly.costUsd.reduce((n, x) => n + x, 0)).toBeCloseTo(CACHED_CALL_USD, 12);
  });
});

describe("serve: calls the cost leaves out", () => {
  it("are counted in the session's stats and the analytics report", async () => {
    const stats = await getJson<{ uncostedCalls: number }>("/api/sessions/cost/stats");
    expect(stats.uncostedCalls).toBe(1);
    const a = await getJson<{ report: { totals: { callsWithoutTokens: number; uncostedCalls: number } } }>("/api/sessions/cost/analytics");
    expect(a.report.totals).toMatchObject({ callsWithoutTokens: 1, uncostedCalls: 1 });
  });
});
