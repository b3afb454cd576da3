/**
 * The compliance pages' API over the PostgreSQL store (real server, real PostgresSink): the holds
 * and their releases come from the store's audit_event rows, and a user's records and a time
 * range are found across sessions in SQL.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { dropSchema, freshSchema, PG_URL } from "../fixtures/postgres/db.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

const schema = freshSchema("servecomp");
let server: RunningServer;
const ids: Record<string, string> = {};
let holdA = "";
let holdB = "";

beforeAll(async () => {
  const projectPath = tmpProject("audit-serve-pg-comp-");
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    vi.setSystemTime(Date.parse("2025-03-01T08:00:00.000Z"));
    const one = new AuditLogger({ sessionId: "one", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    ids.oneDana = one.logChatInteraction({ model: "gpt-4o", prompt: "dana asks", response: "ok", userId: "dana" });
    vi.setSystemTime(Date.parse("2025-03-02T08:00:00.000Z"));
    ids.oneEli = one.logToolUsage({ toolName: "t", operation: "op", userId: "eli" });
    holdA = one.placeLegalHold("all", "audit 2025");
    vi.setSystemTime(Date.parse("2025-03-03T08:00:00.000Z"));
    one.releaseLegalHold(holdA, "audit done");
    await one.finalizeSession();
    vi.setSystemTime(Date.parse("2025-03-04T08:00:00.000Z"));
    const two = new AuditLogger({ sessionId: "two", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    ids.twoDana = two.logError({ errorType: "E", message: "for dana", severity: "error", userId: "dana" });
    holdB = two.placeLegalHold("one", "subpoena 12");
    await two.finalizeSession();
  } finally {
    vi.useRealTimers();
  }
  server = await startServer({ postgres: { connectionString: PG_URL, schema } });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await dropSchema(schema);
  cleanupTmp();
});

async function json<T>(p: string): Promise<T> {
  const r = await fetch(new URL(p, server.baseUrl), { headers: { authorization: `Bearer ${server.token}` } });
  expect(r.status, p).toBe(200);
  return (await r.json()) as T;
}

describe("serve --postgres: holds, users and time ranges", () => {
  it("lists the holds placed and released in the store's audit_event rows (no holds file there)", async () => {
    const r = await json<{ holds: Array<{ holdId: string; scope: string; reason: string; released: { reason: string } | null; inHoldsFile: boolean | null }>; events: Array<{ eventType: string; sessionId: string }> }>("/api/events");
    expect(r.holds.map((h) => [h.holdId, h.scope, h.reason, h.released?.reason ?? null, h.inHoldsFile])).toEqual([
      [holdB, "one", "subpoena 12", null, null],
      [holdA, "all", "audit 2025", "audit done", null],
    ]);
    expect(r.events.map((e) => [e.eventType, e.sessionId])).toEqual([
      ["legal_hold_placed", "two"],
      ["legal_hold_released", "one"],
      ["legal_hold_placed", "one"],
    ]);
  });

  it("finds a user's records across the store's sessions, and a time range", async () => {
    const all = await json<{ rows: Array<{ id: string }> }>("/api/records?user=dana");
    expect(all.rows.map((r) => r.id)).toEqual([ids.twoDana, ids.oneDana]);
    const range = await json<{ rows: Array<{ id: string }> }>("/api/records?since=2025-03-02&until=2025-03-04");
    expect(range.rows.map((r) => r.id)).toEqual([ids.oneEli]);
    const tl = await json<{ rows: Array<{ id: string }> }>("/api/sessions/one/timeline?until=2025-03-02");
    expect(tl.rows.map((r) => r.id)).toEqual([ids.oneDana]);
  });
});
