/**
 * Builds audit logs with the real AuditLogger, at controlled times (only `Date` is faked), and
 * remembers what was logged so tests can compute the expected answers themselves.
 */
import path from "node:path";
import { vi } from "vitest";
import { AuditLogger } from "../../src/logger.js";
import { TEST_KEY, tmpProject } from "../helpers/index.js";

export type Kind = "chat_interaction" | "tool_usage" | "persona_activity" | "file_operation" | "performance_metric" | "error";

export interface Logged {
  readonly kind: Kind;
  readonly id: string;
  readonly sessionId: string;
  readonly timestamp: string;
  readonly input: Record<string, unknown>;
}

export const T0 = Date.parse("2025-03-01T10:00:00.000Z");
export const MODELS = ["gpt-4o", "gpt-4o-mini-2024-07-18", "claude-3", "claude-3-5-haiku"] as const;
export const TOOLS = ["search", "weather", "calc"] as const;
export const PERSONAS = ["planner", "coder"] as const;

/** Deterministic pseudo-random numbers (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Fixture {
  readonly projectPath: string;
  readonly auditPath: string;
  readonly logged: Logged[];
  /** still open (not finalized): the encrypted session */
  readonly live: AuditLogger;
}

/**
 * Session "alpha": plain, rotated every 2 KiB, finalized; records one minute apart from T0, over
 * several hours. Session "beta": encrypted with TEST_KEY, left open; starts at T0 + 5h.
 */
export async function buildFixture(): Promise<Fixture> {
  vi.useFakeTimers({ toFake: ["Date"] });
  const projectPath = tmpProject("audit-viewer-");
  const logged: Logged[] = [];
  let clock = T0;
  const at = () => {
    vi.setSystemTime(clock);
    const ts = new Date(clock).toISOString();
    clock += 60_000;
    return ts;
  };
  const rand = rng(42);
  /** sets the clock, then logs, so the remembered timestamp is the record's */
  const record = (logger: AuditLogger, kind: Kind, input: object, log: () => string) => {
    const timestamp = at();
    logged.push({ kind, id: log(), sessionId: logger.sessionId, timestamp, input: input as Record<string, unknown> });
  };
  const fill = (logger: AuditLogger, n: number, tag: string) => {
    for (let i = 0; i < n; i++) {
      const model = MODELS[i % MODELS.length]!;
      const persona = PERSONAS[i % 2]!;
      const input: Record<string, unknown> = {
        interactionType: i % 3 === 0 ? "api_request" : "chat",
        prompt: `${tag} prompt ${i}, with "quotes", commas\nand a newline`,
        response: i % 5 === 0 ? `=cmd|' /C calc'!A0 ${tag}${i}` : `${tag} response ${i}`,
        model,
        persona,
        durationSeconds: Math.round(rand() * 5000) / 1000,
        success: i % 7 !== 3,
        userId: i % 2 ? "user-1" : "user-2",
        traceId: `trace-${i % 4}`,
        ...(i % 4 === 2 ? { tokensUsed: 100 + i } : { inputTokens: 10 * i + 3, outputTokens: 5 * i + 1 }),
        ...(i % 7 === 3 ? { errorMessage: "rate limited" } : {}),
      };
      record(logger, "chat_interaction", input, () => logger.logChatInteraction(input as never));
      const tool = TOOLS[i % TOOLS.length]!;
      const tin: Record<string, unknown> = {
        toolName: tool,
        operation: i % 2 ? "get" : "list",
        parameters: { q: `${tag} param ${i}`, n: i },
        result: { items: [i, `${tag} result, "${i}"`] },
        success: i % 4 !== 1,
        durationSeconds: Math.round(rand() * 2000) / 1000,
        persona,
        ...(i % 4 === 1 ? { errorMessage: i % 8 === 1 ? "timeout" : "bad gateway" } : {}),
      };
      record(logger, "tool_usage", tin, () => logger.logToolUsage(tin as never));
      if (i % 2 === 0) {
        const pin = { personaName: PERSONAS[(i / 2) % 2]!, activityType: i % 4 ? "review" : "plan", durationSeconds: i / 2, description: `step ${i}` };
        record(logger, "persona_activity", pin, () => logger.logPersonaActivity(pin));
        const ops = ["create", "read", "modify", "delete"] as const;
        const fin = { operation: ops[(i / 2) % 4]!, filePath: `/tmp/f${i % 3}.txt`, fileSize: 100 * i, success: i % 6 !== 4 };
        record(logger, "file_operation", fin, () => logger.logFileOperation(fin));
      }
      const min = { metricName: i % 3 ? "latency" : "queue_depth", value: i % 3 ? Math.round(rand() * 1000) / 10 : -(i % 5), unit: i % 3 ? "ms" : "items" };
      record(logger, "performance_metric", min, () => logger.logPerformanceMetric(min));
      if (i % 3 === 1) {
        const ein = { errorType: i % 2 ? "ValueError" : "TimeoutError", message: `failure ${i}`, severity: (i % 9 === 1 ? "critical" : "error") as "critical" | "error" };
        record(logger, "error", ein, () => logger.logError(ein));
      }
    }
  };
  at();
  const alpha = new AuditLogger({ sessionId: "alpha", projectPath, rotation: { size: "2k" } });
  fill(alpha, 40, "alpha");
  at();
  await alpha.finalizeSession();
  clock = T0 + 5 * 3_600_000;
  at();
  const beta = new AuditLogger({ sessionId: "beta", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
  fill(beta, 12, "beta");
  // a burst within one millisecond: order falls back to seq
  const burstTs = at();
  for (let k = 0; k < 5; k++) {
    const m = { metricName: "burst", value: k, unit: "n" };
    logged.push({ kind: "performance_metric", id: beta.logPerformanceMetric(m), sessionId: "beta", timestamp: burstTs, input: m });
  }
  await beta.flush();
  vi.useRealTimers();
  return { projectPath, auditPath: path.join(projectPath, "audit_logs"), logged, live: beta };
}

/** The logged entries of a kind, newest first (timestamps, then creation order). */
export function newestFirst(logged: readonly Logged[], kind: Kind, pred: (l: Logged) => boolean = () => true): Logged[] {
  const idx = new Map(logged.map((l, i) => [l, i]));
  return logged.filter((l) => l.kind === kind && pred(l)).sort((a, b) => (a.timestamp === b.timestamp ? idx.get(b)! - idx.get(a)! : a.timestamp < b.timestamp ? 1 : -1));
}
