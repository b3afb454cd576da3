// The PostgresSink and a session file that is not a regular file (found by review of the writer
// side, 2026-12-05). The sink read `session_<id>.json` (its own session's, at open and close; an
// adopted spool's session's) with a plain readFileSync: a FIFO under that name blocked the sink,
// and with it the app's whole event loop, in open() for good, deaf to SIGTERM. It must never throw
// into the app nor hang: such a file is not read, the session's row gets no info from it, and the
// sink says so through its error reporting (the logger's `error` event and `errors` record).
// Its own spool, opened to append with a plain openSync, hung the same way as a spill wrote to it.
// Each case runs in a child (test/fixtures/core/writer-fifo-child.mts) killed after a while.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { migratePostgres, PostgresSink } from "../../src/postgres/index.js";
import { mkfifo, runFifoChild } from "../helpers/core.js";
import { readJsonl, tmpProject } from "../helpers/index.js";
import { freePort, leaveCrashed, PG_URL, PgProxy, pgTestScope, sql } from "../fixtures/postgres/db.js";

const { schemaFor, proxies } = pgTestScope();

async function migrated(tag: string): Promise<string> {
  const schema = schemaFor(tag);
  await migratePostgres({ connectionString: PG_URL, schema });
  return schema;
}

/**
 * A store that is away (a proxy not started yet) and session `sessionId` that ended while it was,
 * logging `count` tool uses: they stay in its spool, the only file of the directory named
 * `.pg_spool_…`, whose name is returned.
 */
async function spooledSession(projectPath: string, schema: string, sessionId: string, count: number): Promise<{ store: PgProxy; spool: string }> {
  const store = new PgProxy(await freePort());
  proxies.push(store);
  const logger = new AuditLogger({ sessionId, projectPath, sinks: [new PostgresSink({ connectionString: store.url, schema, closeTimeoutMs: 300 })], fullContentLogging: false });
  logger.on("error", () => undefined);
  for (let i = 0; i < count; i++) logger.logToolUsage({ toolName: "t", operation: `op${i}` });
  await logger.finalizeSession();
  const spools = fs.readdirSync(path.join(projectPath, "audit_logs")).filter((n) => n.startsWith(".pg_spool_"));
  expect(spools).toHaveLength(1);
  return { store, spool: spools[0]! };
}

const reportsOf = (out: Record<string, unknown>): string[] => (out.errors as Array<{ message: string }>).map((e) => e.message);

describe("PostgresSink and a FIFO named like a session file or its spool", () => {
  it("adopting a spool whose session's file is a FIFO: the spool's records are stored, the FIFO is not opened, the sink reports it", async () => {
    const schema = await migrated("fifoadopt");
    const projectPath = tmpProject("audit-pg-fifo-");
    const dir = path.join(projectPath, "audit_logs");
    // a session that ended while the store was away: its records stay in its spool
    const { store } = await spooledSession(projectPath, schema, "a", 3);
    const sessionFile = path.join(dir, "session_a.json");
    fs.rmSync(sessionFile);
    mkfifo(sessionFile);

    // the next process's sink adopts the spool (the same store: reached through the proxy, up now)
    await store.start();
    const out = await runFifoChild("logger", [JSON.stringify({ projectPath, sessionId: "next", pg: { url: store.url, schema } })]);
    if (out === "hung") throw new Error("the next logger's sink hung on the FIFO");
    expect(out.error).toBeUndefined();
    expect(reportsOf(out)).toEqual([expect.stringContaining("session_a.json is a FIFO, not a regular file")]);
    expect((out.stats as { adopted: number }).adopted).toBeGreaterThanOrEqual(3);
    const rows = await sql<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".audit_records WHERE session_id = $1 AND kind = 'tool_usage'`, ["a"]);
    expect(Number(rows[0]!.n)).toBe(3);
    const [row] = await sql<{ info: unknown }>(`SELECT info FROM "${schema}".audit_sessions WHERE session_id = $1`, ["a"]);
    expect(row?.info).toEqual({});
    expect(fs.lstatSync(sessionFile).isFIFO()).toBe(true);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith(".pg_spool_"))).toEqual([]);
  }, 90_000);

  it("a sink opened (and closed) on a session whose file is a FIFO returns from both, and reports it", async () => {
    const schema = await migrated("fifoopen");
    const auditDir = path.join(tmpProject("audit-pg-fifo-open-"), "audit_logs");
    fs.mkdirSync(auditDir);
    mkfifo(path.join(auditDir, "session_po.json"));
    const out = await runFifoChild("pg-open", [JSON.stringify({ url: PG_URL, schema, auditDir, sessionId: "po" })]);
    if (out === "hung") throw new Error("the sink hung on the FIFO");
    // (once as it opens, once as it marks the session finalized)
    const report = expect.stringMatching(/^PostgresSink did not read the session file of session po: session_po\.json is a FIFO, not a regular file/);
    expect(reportsOf(out)).toEqual([report, report]);
    const [row] = await sql<{ info: unknown }>(`SELECT info FROM "${schema}".audit_sessions WHERE session_id = 'po'`);
    expect(row?.info).toEqual({});
    expect(fs.lstatSync(path.join(auditDir, "session_po.json")).isFIFO()).toBe(true);
  }, 60_000);

  it("its own spool's name a FIFO: the spill is never opened there (it hung the app for good as the session ended), it is reported, the records are in the files", async () => {
    const schema = await migrated("fifospool");
    const projectPath = tmpProject("audit-pg-fifo-spool-");
    const dir = path.join(projectPath, "audit_logs");
    // the store away: a first session spools, which names this store's spools
    const { store, spool } = await spooledSession(projectPath, schema, "p1", 1);
    const fifo = path.join(dir, spool.replace(/_p1\.jsonl$/, "_p2.jsonl"));
    mkfifo(fifo);
    const out = await runFifoChild("logger", [JSON.stringify({ projectPath, sessionId: "p2", pg: { url: store.url, schema, closeTimeoutMs: 300 } })]);
    if (out === "hung") throw new Error("the sink's spill hung on the FIFO");
    expect(out.error).toBeUndefined();
    // (refused as the sink opens, in the logger's constructor, before the child's listener: its
    // report is the errors record; since the security pass of 2026-12-05 the spool is looked at
    // before anything is read or written, and the outage says the records are in the files)
    const recorded = readJsonl<{ errorType: string; message: string }>(path.join(dir, "errors_p2.jsonl"));
    expect(recorded).toContainEqual(expect.objectContaining({ errorType: "audit_write_failed", message: expect.stringContaining(`${path.basename(fifo)} is a FIFO, not a regular file`) }));
    expect(reportsOf(out)).toContainEqual(expect.stringContaining("The spool could not be opened: they are in the session's files only"));
    expect(fs.readFileSync(path.join(dir, "tool_usage_p2.jsonl"), "utf8")).toContain('"after the resume"');
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
  }, 90_000);

  it("recovering a crashed session with a FIFO at its marker's old temporary name (`.pg_recovery_<store>_<id>.<pid>.tmp`): the marker is written, nothing hangs, the FIFO is left alone", async () => {
    const schema = await migrated("fifomarker");
    const projectPath = tmpProject("audit-pg-fifo-marker-");
    const dir = path.join(projectPath, "audit_logs");
    const crashed = new AuditLogger({ sessionId: "cr", projectPath, fullContentLogging: false });
    crashed.logToolUsage({ toolName: "t", operation: "op" });
    await crashed.finalizeSession();
    leaveCrashed(dir, "cr");
    const out = await runFifoChild("logger", [JSON.stringify({ projectPath, sessionId: "rec", pg: { url: PG_URL, schema }, plant: [{ name: ".pg_recovery_{store}_cr.{pid}.tmp" }] })]);
    if (out === "hung") throw new Error("the recovery hung on the FIFO");
    expect(out).toEqual({ startTime: expect.any(String), errors: [], stats: expect.objectContaining({ recoveredSessions: 1 }) });
    // (the temporary name has had a random part since the operator pass of 2026-12-05: the FIFO at
    // the pid-only name is not the writer's, and is never opened)
    const markers = fs.readdirSync(dir).filter((n) => n.startsWith(".pg_recovery_") && !n.endsWith(".tmp"));
    expect(markers).toHaveLength(1);
    const planted = fs.readdirSync(dir).filter((n) => n.startsWith(".pg_recovery_") && n.endsWith(".tmp"));
    expect(planted).toHaveLength(1);
    expect(fs.lstatSync(path.join(dir, planted[0]!)).isFIFO()).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(dir, markers[0]!), "utf8"))).toMatchObject({ done: true });
  }, 60_000);
});
