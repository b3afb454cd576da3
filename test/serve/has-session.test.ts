/**
 * Which sessions a request for one session finds (ServeData.hasSession, asked on every
 * `/api/sessions/:sid/...` request): those the sessions list has, and no other. Found 2026-12-05:
 * each request judged every session of the directory (a stat of each record file, the first line
 * of some): ~70 ms a request at 605 sessions. Now a session is found from its own files (or rows),
 * with the same answers: pinned here for every kind of session, over the files and over the
 * PostgreSQL store. Real loggers, real files, real retention, the real server over HTTP.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, withRecordTime } from "../../src/logger.js";
import { applyPostgresRetention, PostgresSink } from "../../src/postgres/index.js";
import { ServeData } from "../../src/serve/data.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";
import { PG_URL, schemaRegistry } from "../fixtures/postgres/db.js";

const { schemaFor, dropAll } = schemaRegistry();
const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await dropAll();
  cleanupTmp();
});

const DAY = 86_400_000;

async function serve(o: Parameters<typeof startServer>[0]): Promise<(p: string) => Promise<number>> {
  const server = await startServer({ ...o, port: 0 });
  servers.push(server);
  return async (p) => {
    const r = await fetch(new URL(p, server.baseUrl), { headers: { authorization: `Bearer ${server.token}` } });
    await r.arrayBuffer();
    return r.status;
  };
}

/** A finished session of `sessionId` with a tool call (and whatever `act` adds), its records at `at` when given. */
async function session(projectPath: string, sessionId: string, o: { at?: number; act?: (l: AuditLogger) => void; extra?: { rotation?: { size: number }; encryptionKey?: string; fullContentLogging?: boolean } } = {}): Promise<void> {
  const l = new AuditLogger({ sessionId, projectPath, fullContentLogging: false, thread: false, ...o.extra });
  const log = () => l.logToolUsage({ toolName: "t", operation: sessionId });
  if (o.at !== undefined) withRecordTime(o.at, log);
  else log();
  o.act?.(l);
  await l.finalizeSession();
}

describe("a request for one session, over the files", () => {
  it("finds the sessions the sessions list has, of every kind, and no other", async () => {
    const projectPath = tmpProject("audit-has-session-");
    const dir = auditDirOf(projectPath);
    // removed by retention (its cleaner's chain records the removal), and one whose records were
    // deleted by hand, its audit_event chain left (listed as records gone)
    await session(projectPath, "removed", { at: Date.now() - 400 * DAY });
    const cleaner = new AuditLogger({ sessionId: "cleaner", projectPath, fullContentLogging: false, thread: false, maxLogAgeDays: 30 });
    expect((await cleaner.cleanup()).removed.map((r) => r.sessionId)).toEqual(["removed"]);
    cleaner.placeLegalHold("ghost", "a hold on a session with no files");
    await cleaner.finalizeSession();
    await session(projectPath, "chained", { act: (l) => l.placeLegalHold("case 9") });
    for (const f of fs.readdirSync(dir)) if (/_chained\.json/.test(f) && !f.startsWith("audit_events_")) fs.rmSync(path.join(dir, f));

    await session(projectPath, "plain");
    await new AuditLogger({ sessionId: "empty", projectPath, fullContentLogging: false, thread: false }).finalizeSession();
    await session(projectPath, "secret", { extra: { encryptionKey: TEST_KEY, fullContentLogging: true }, act: (l) => l.logChatInteraction({ prompt: "p", response: "r", model: "gpt-4o-mini" }) });
    // rotated segments only: its session file and active files gone (listed by the segments' first records)
    await session(projectPath, "segs", { extra: { rotation: { size: 1024 } }, act: (l) => { for (let i = 0; i < 30; i++) l.logToolUsage({ toolName: "t", operation: `op ${i}` }); } });
    for (const f of fs.readdirSync(dir)) if (/_segs\.json(l)?$/.test(f) && !f.startsWith("audit_events_")) fs.rmSync(path.join(dir, f));
    expect(fs.readdirSync(dir).filter((f) => f.startsWith("tool_usage_segs.")).length).toBeGreaterThan(0);
    // a record file under its own name whose first line names no session (listed by its name), one
    // whose first record is another session's (not listed: that session is), and a file under
    // another name whose first record names a session with no file of its own (listed by it)
    fs.writeFileSync(path.join(dir, "errors_noname.jsonl"), "not a record\n");
    const plainTool = fs.readFileSync(path.join(dir, "tool_usage_plain.jsonl"));
    fs.writeFileSync(path.join(dir, "tool_usage_borrowed.jsonl"), plainTool);
    fs.writeFileSync(path.join(dir, "errors_elsewhere.jsonl"), plainTool.toString("utf8").replace(/"sessionId":"plain"/g, '"sessionId":"named"'));
    // names the listing leaves out: not regular files, and an id no file can have
    execFileSync("mkfifo", [path.join(dir, "session_fifo.json")]);
    execFileSync("mkfifo", [path.join(dir, "tool_usage_fifo2.jsonl")]);
    fs.mkdirSync(path.join(dir, "session_folder.json"));
    fs.symlinkSync(path.join(dir, "tool_usage_plain.jsonl"), path.join(dir, "tool_usage_linked.jsonl"));
    fs.writeFileSync(path.join(dir, "session_x.1.json"), "{}");

    const get = await serve({ auditPath: dir, encryptionKey: TEST_KEY });
    // (a session that starts after the server did is found too)
    await session(projectPath, "late");

    const data = new ServeData({ auditPath: dir, encryptionKey: TEST_KEY });
    const listed = await data.viewer.getSessionIds();
    const found = ["plain", "empty", "secret", "segs", "noname", "named", "cleaner", "late"];
    const missing = ["removed", "chained", "ghost", "borrowed", "fifo", "fifo2", "folder", "linked", "x.1", "x", "elsewhere", "unknown"];
    expect(listed.sort()).toEqual([...found].sort());
    const gone = (await data.listSessions()).filter((s) => s.recordsGone).map((s) => s.sessionId);
    expect(gone.sort()).toEqual(["chained", "ghost"]);
    for (const sid of [...found, ...missing]) {
      const want = found.includes(sid);
      expect(await data.hasSession(sid), sid).toBe(want);
      expect(await data.hasSession(sid), sid).toBe(listed.includes(sid));
      if (sid !== "x.1") expect(await get(`/api/sessions/${sid}/stats`), sid).toBe(want ? 200 : 404);
    }
  });

  it("a request for one session opens no file of another session", async (ctx) => {
    const projectPath = tmpProject("audit-has-session-reads-");
    const dir = auditDirOf(projectPath);
    // (this file system must record reads in a file's access time for the check to mean anything:
    // relatime records the first read after a change, mount -o noatime none)
    const probe = path.join(projectPath, "probe.txt");
    fs.writeFileSync(probe, "x");
    fs.utimesSync(probe, new Date(1000), fs.statSync(probe).mtime);
    fs.readFileSync(probe);
    if (fs.statSync(probe).atimeMs === 1000) ctx.skip();

    await session(projectPath, "mine");
    // another session whose rotated segments the old check opened (a segment's first record says whose it is)
    await session(projectPath, "other", { extra: { rotation: { size: 1024 } }, act: (l) => { for (let i = 0; i < 30; i++) l.logToolUsage({ toolName: "t", operation: `op ${i}` }); } });
    const others = fs.readdirSync(dir).filter((f) => f.includes("_other"));
    expect(others.filter((f) => /\.\d+\.jsonl$/.test(f)).length).toBeGreaterThan(0);
    const get = await serve({ auditPath: dir });
    for (const f of others) fs.utimesSync(path.join(dir, f), new Date(1000), fs.statSync(path.join(dir, f)).mtime);

    for (const p of ["stats", "timeline?limit=5", "analytics", "export.json", "export/tool_usage.csv"]) expect(await get(`/api/sessions/mine/${p}`), p).toBe(200);
    const read = others.filter((f) => fs.statSync(path.join(dir, f)).atimeMs !== 1000);
    expect(read).toEqual([]);
    // (and a request for that session reads them)
    expect(await get("/api/sessions/other/timeline?limit=5")).toBe(200);
    expect(others.filter((f) => fs.statSync(path.join(dir, f)).atimeMs !== 1000).length).toBeGreaterThan(0);
  });
});

describe("a request for one session, over the PostgreSQL store", () => {
  it("finds the sessions the store's sessions list has, and no other", async () => {
    const schema = schemaFor("has_session");
    const projectPath = tmpProject();
    const sink = () => new PostgresSink({ connectionString: PG_URL, schema });
    const stored = async (sessionId: string, at?: number, act?: (l: AuditLogger) => void): Promise<void> => {
      const l = new AuditLogger({ sessionId, projectPath, sinks: [sink()], fullContentLogging: false, maxLogAgeDays: 2555 });
      const errors: string[] = [];
      l.on("error", (e) => errors.push(e.message));
      const log = () => l.logToolUsage({ toolName: "t", operation: sessionId });
      if (at !== undefined) withRecordTime(at, log);
      else log();
      act?.(l);
      await l.finalizeSession();
      expect(errors).toEqual([]);
    };
    await stored("gone", Date.parse("2026-09-10T00:00:00Z"));
    await stored("kept");
    const empty = new AuditLogger({ sessionId: "empty", projectPath, sinks: [sink()], fullContentLogging: false });
    await empty.finalizeSession();
    await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-11-01T00:00:00Z", reason: "policy" });
    await stored("maint", undefined, (l) => l.placeLegalHold("never_here", "inquiry"));

    const get = await serve({ postgres: { connectionString: PG_URL, schema } });
    await stored("late");
    const pg = (await import("pg")).default;
    const pool = new pg.Pool({ connectionString: PG_URL });
    try {
      const data = new ServeData({ postgres: { pool, schema } });
      const listed = await data.viewer.getSessionIds();
      const found = ["kept", "empty", "maint", "late"];
      expect(listed.sort()).toEqual([...found].sort());
      expect((await data.listSessions()).filter((s) => s.recordsGone).map((s) => s.sessionId).sort()).toEqual(["gone", "never_here"]);
      for (const sid of [...found, "gone", "never_here", "unknown"]) {
        expect(await data.hasSession(sid), sid).toBe(found.includes(sid));
        expect(await get(`/api/sessions/${sid}/stats`), sid).toBe(found.includes(sid) ? 200 : 404);
      }
    } finally {
      await pool.end();
    }
  });
});
