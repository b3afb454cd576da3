/**
 * A session's stats (GET /api/sessions/:sid/stats) read that session's files only. Found
 * 2026-12-05: each stats request ran the whole sessions listing (every session's session file and
 * chain tails) for one session's counts and status: ~0.9 s a request at 600 sessions, ~0.19 s
 * after (docs/BENCHMARKS.md). Real loggers, real files, the real server over HTTP.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it, vi } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";

const servers: RunningServer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of servers.splice(0)) await s.close();
  cleanupTmp();
});

/** The real server on `dir`: a GET of a path under it, which must answer 200, as JSON. */
async function serveDir(dir: string): Promise<(p: string) => Promise<Record<string, unknown>>> {
  const server = await startServer({ auditPath: dir, port: 0 });
  servers.push(server);
  return async (p) => {
    const r = await fetch(`${server.baseUrl}${p}`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(r.status).toBe(200);
    return (await r.json()) as Record<string, unknown>;
  };
}

it("a session's stats open none of another session's files, and say what the listing says of it", async () => {
  const projectPath = tmpProject("audit-stats-reads-");
  const dir = auditDirOf(projectPath);
  for (const sid of ["alpha", "beta", "gamma"]) {
    const l = new AuditLogger({ sessionId: sid, projectPath, fullContentLogging: false });
    l.logToolUsage({ toolName: "t", operation: sid });
    l.logChatInteraction({ prompt: "p", response: "r", model: "gpt-4o-mini" });
    if (sid === "beta") l.logToolUsage({ toolName: "t", operation: "again" });
    await l.finalizeSession();
  }
  const get = await serveDir(dir);
  const listing = (await get("api/sessions")).sessions as Array<{ sessionId: string; status: string; counts: unknown; totalRecords: number }>;
  await get("api/sessions/beta/stats"); // (the first: what serve keeps of a session is made)

  const opened: string[] = [];
  const openSync = fs.openSync;
  vi.spyOn(fs, "openSync").mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
    opened.push(path.basename(String(file)));
    return (openSync as (...a: unknown[]) => number)(file, ...rest);
  }) as typeof fs.openSync);
  const stats = await get("api/sessions/beta/stats");
  vi.restoreAllMocks();

  expect(opened.filter((n) => /alpha|gamma/.test(n))).toEqual([]);
  const beta = listing.find((s) => s.sessionId === "beta")!;
  expect(stats).toMatchObject({ sessionId: "beta", status: beta.status, counts: beta.counts, totalRecords: beta.totalRecords });
  expect(beta.counts).toMatchObject({ tool_usage: 2, chat_interaction: 1 });
});

it("a timeline page of every kind, and a record with its children and parent, each list the directory once, and answer as before", async () => {
  // Found 2026-12-06: a timeline page listed the directory once per kind (six names lists of the
  // whole directory a page), a record three times (itself, its children, its parent).
  const projectPath = tmpProject("audit-timeline-reads-");
  const dir = auditDirOf(projectPath);
  const l = new AuditLogger({ sessionId: "s", projectPath, fullContentLogging: false });
  const chat = l.logChatInteraction({ prompt: "p", response: "r", model: "gpt-4o-mini" });
  const tool = l.logToolUsage({ toolName: "t", operation: "call", parentId: chat });
  l.logToolUsage({ toolName: "t", operation: "inner", parentId: tool });
  l.logPerformanceMetric({ metricName: "m", value: 1, unit: "ms" });
  l.logError({ errorType: "E", message: "x" });
  await l.finalizeSession();
  for (const sid of ["other1", "other2"]) {
    const o = new AuditLogger({ sessionId: sid, projectPath, fullContentLogging: false });
    o.logToolUsage({ toolName: "t", operation: sid });
    await o.finalizeSession();
  }
  const get = await serveDir(dir);
  const listings = (): (() => number) => {
    const reads = vi.spyOn(fs, "readdirSync");
    return () => {
      const n = reads.mock.calls.filter(([p]) => path.resolve(String(p)) === path.resolve(dir)).length;
      reads.mockRestore();
      return n;
    };
  };
  let count = listings();
  const page = (await get("api/sessions/s/timeline?limit=50")) as { rows: Array<{ id: string; type: string; depth: number }> };
  expect(count()).toBe(1);
  expect(page.rows.map((r) => r.type).sort()).toEqual(["chat_interaction", "error", "performance_metric", "tool_usage", "tool_usage"]);
  expect(page.rows.find((r) => r.id === tool)?.depth).toBe(1);
  count = listings();
  const detail = (await get(`api/sessions/s/records/${tool}`)) as { record: { id: string }; parent: { id: string } | null; children: Array<{ id: string }> };
  expect(count()).toBe(1);
  expect(detail.record.id).toBe(tool);
  expect(detail.parent?.id).toBe(chat);
  expect(detail.children).toHaveLength(1);
});
