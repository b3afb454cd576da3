/**
 * The server ends the sink's connection under a batch insert (pg_terminate_backend: SQLSTATE
 * 57P01): the batch is sent again at once on a new connection, not spooled as an outage.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { readJsonl, tmpProject } from "../helpers/index.js";
import { freePort, lockTable, PG_URL, PgProxy, pgTestScope, sql, until, waitsForLock } from "../fixtures/postgres/db.js";
import { chat, instance, keyRows } from "../fixtures/postgres/subject-keys.js";

const { schemaFor, proxies } = pgTestScope();
const lockers: pg.Client[] = [];
afterEach(async () => {
  for (const c of lockers.splice(0)) await c.end().catch(() => undefined);
});

/** The pids of the backends of `app` (the sink's pool's application_name). */
async function backends(app: string): Promise<number[]> {
  return (await sql<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", [app])).map((r) => r.pid);
}

/** A logger of session `sid` whose PostgresSink (its connections named `app`) stored 20 records; no retry after an outage within the test's time. */
async function storedSession(sid: string, tag: string, o: { url?: string; retryMs?: number } = {}) {
  const schema = schemaFor(tag);
  const app = `audit-logger-${tag}-${process.pid}`;
  const projectPath = tmpProject();
  // (an outage's retry comes after 60 s unless told: a batch spooled is not stored within the test's waits)
  const retryMs = o.retryMs ?? 60_000;
  const sink = new PostgresSink({ connectionString: o.url ?? PG_URL, schema, poolConfig: { application_name: app }, retryMinMs: retryMs, retryMaxMs: retryMs });
  const logger = new AuditLogger({ sessionId: sid, projectPath, sinks: [sink], fullContentLogging: false });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  for (let i = 0; i < 20; i++) logger.logToolUsage({ toolName: "t", operation: "before", parameters: { i } });
  expect(await sink.whenStored(20_000)).toBe(true);
  return { schema, app, projectPath, sink, logger, errors };
}

/** A client holding ACCESS EXCLUSIVE on the schema's audit_records, in a transaction (COMMIT releases it). */
const lockRecords = (schema: string, table = "audit_records"): Promise<pg.Client> => lockTable(schema, table, lockers);

/** What is left in the store, the spool and the trail once the session is finalized. */
async function outcome(s: Awaited<ReturnType<typeof storedSession>>, sid: string) {
  const summary = await s.logger.finalizeSession();
  const [r] = await sql<{ c: string; d: string }>(`SELECT count(*)::text AS c, count(DISTINCT (kind, seq))::text AS d FROM "${s.schema}".audit_records WHERE session_id = $1`, [sid]);
  const dir = path.join(s.projectPath, "audit_logs");
  const errs = readJsonl(path.join(dir, `errors_${sid}.jsonl`));
  return {
    summary,
    rows: Number(r!.c),
    distinct: Number(r!.d),
    spoolFiles: fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool_")),
    errorRecords: errs.map((e) => `${String(e.errorType)} ${String(e.severity)}`),
    verify: (await verifyPostgres({ connectionString: PG_URL, schema: s.schema, sessionId: sid })).problems,
  };
}

/** Every record of the session in the store once, no spool left, verify clean. */
function expectOnceAndClean(o: Awaited<ReturnType<typeof outcome>>): void {
  expect(o.rows).toBe(o.summary.totalRecords);
  expect(o.distinct).toBe(o.summary.totalRecords);
  expect(o.spoolFiles).toEqual([]);
  expect(o.verify).toEqual([]);
}

/**
 * The 30 records after the first 20 stored at once, on the second attempt (no outage, nothing
 * spooled), once; the ended connection reported (an error event, an errors record) as a failure
 * overcome, not as records not stored.
 */
async function expectRecovered(s: Awaited<ReturnType<typeof storedSession>>, sid: string): Promise<void> {
  expect(await s.sink.whenStored(15_000), JSON.stringify(s.sink.stats())).toBe(true);
  // (50 records and the errors record of the recovery)
  expect(s.sink.stats()).toMatchObject({ stored: 51, duplicates: 0, spilled: 0, outage: false });
  const o = await outcome(s, sid);
  expectOnceAndClean(o);
  expect(s.errors.filter((e) => /cannot store records/.test(e))).toEqual([]);
  expect(s.errors.filter((e) => /ended its connection during a batch insert of 30 records \(SQLSTATE 57P01.*sent again on a new connection and stored/.test(e))).toHaveLength(1);
  expect(o.errorRecords).toEqual(["audit_sink_recovered warning"]);
}

describe("the server ends the sink's connection under a batch insert", () => {
  it("in flight (pg_terminate_backend while the insert waits on a lock): sent again at once on a new connection; stored once, nothing spooled, reported as no loss", async () => {
    const s = await storedSession("ended_inflight", "endedfly");
    const locker = await lockRecords(s.schema);
    for (let i = 0; i < 30; i++) s.logger.logToolUsage({ toolName: "t", operation: "in flight", parameters: { i } });
    // the sink's insert waits on the lock: its backend is ended under it
    expect(await until(async () => (await backends(s.app)).length === 1)).toBe(true);
    const [first] = await backends(s.app);
    await waitsForLock(first!);
    const [{ t }] = (await sql<{ t: boolean }>("SELECT pg_terminate_backend($1, 10000) AS t", [first])) as [{ t: boolean }];
    expect(t).toBe(true);
    // the batch is sent again at once, on a new connection (it waits on the lock too), not after
    // the outage's retry delay (60 s)
    expect(await until(async () => (await backends(s.app)).some((p) => p !== first), 15_000), JSON.stringify(s.sink.stats())).toBe(true);
    const [second] = (await backends(s.app)).filter((p) => p !== first);
    await waitsForLock(second!);
    await locker.query("COMMIT");
    await expectRecovered(s, "ended_inflight");
  }, 60_000);

  it("between batches (the connection idle in the pool, ended just before the next batch takes it): that batch is sent again at once, not spooled", async () => {
    const s = await storedSession("ended_idle", "endedidle");
    const [pid] = await backends(s.app);
    expect(pid).toBeDefined();
    // Ended synchronously (this process's event loop held until the backend is gone), from an I/O
    // callback (the poll phase): its goodbye (57P01) waits unread on the sink's idle connection,
    // and the pool hands that connection to the next batch (the pump starts in this turn's check
    // phase) before it reads it, as when the server ends it just before the batch starts. (From a
    // promise's continuation the next poll phase came first: the pool saw the end and dropped the
    // connection, and nothing was met; the errors record asserted below shows it was met.)
    const script = `const pg = require("pg"); const c = new pg.Client({ connectionString: process.argv[1] });
      c.connect().then(() => c.query("SELECT pg_terminate_backend($1::int, 10000) AS t", [process.argv[2]])).then((r) => { process.stdout.write(String(r.rows[0].t)); return c.end(); });`;
    const ended = await new Promise<string>((resolve) =>
      fs.stat(s.projectPath, () => {
        const out = execFileSync(process.execPath, ["-e", script, PG_URL, String(pid)], { encoding: "utf8" });
        for (let i = 0; i < 30; i++) s.logger.logToolUsage({ toolName: "t", operation: "after idle end", parameters: { i } });
        resolve(out);
      }),
    );
    expect(ended).toBe("true");
    await expectRecovered(s, "ended_idle");
  }, 60_000);

  it("after the commit (the server says it ended the connection once the rows were committed): sent again, nothing is stored twice, the rows count as duplicates", async () => {
    const proxy = new PgProxy(await freePort());
    proxies.push(proxy);
    await proxy.start();
    const s = await storedSession("ended_late", "endedlate", { url: proxy.url });
    proxy.endAfterInsertReply = true;
    for (let i = 0; i < 30; i++) s.logger.logToolUsage({ toolName: "t", operation: "committed, then ended", parameters: { i } });
    expect(await s.sink.whenStored(15_000), JSON.stringify(s.sink.stats())).toBe(true);
    expect(proxy.cuts).toBe(1);
    // the 30 rows were committed by the first attempt: the second stores none of them again
    // (and the errors record of the recovery)
    expect(s.sink.stats()).toMatchObject({ stored: 21, duplicates: 30, spilled: 0, outage: false });
    const o = await outcome(s, "ended_late");
    expectOnceAndClean(o);
    // (no fork reported: the second attempt's check found the first one's rows, the same records)
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]).toMatch(/ended its connection during a batch insert of 30 records \(SQLSTATE 57P01/);
    expect(o.errorRecords).toEqual(["audit_sink_recovered warning"]);
  }, 60_000);

  it("on the second attempt too: the batch is spooled (an outage, reported so, saying the insert was tried twice) and stored once the store takes it, once", async () => {
    const s = await storedSession("ended_twice", "endedtwice", { retryMs: 300 });
    const locker = await lockRecords(s.schema);
    for (let i = 0; i < 30; i++) s.logger.logToolUsage({ toolName: "t", operation: "ended twice", parameters: { i } });
    const ended: number[] = [];
    // both attempts' backends are ended as they wait on the lock
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(await until(async () => (await backends(s.app)).some((p) => !ended.includes(p)))).toBe(true);
      const pid = (await backends(s.app)).find((p) => !ended.includes(p))!;
      await waitsForLock(pid);
      await sql("SELECT pg_terminate_backend($1, 10000)", [pid]);
      ended.push(pid);
    }
    expect(await until(() => s.sink.stats().outage)).toBe(true);
    expect(s.sink.stats().spilled).toBeGreaterThanOrEqual(30);
    await locker.query("COMMIT");
    expect(await s.sink.whenStored(20_000), JSON.stringify(s.sink.stats())).toBe(true);
    const o = await outcome(s, "ended_twice");
    expectOnceAndClean(o);
    expect(s.errors.filter((e) => /cannot store records .*57P01/.test(e))).toHaveLength(1);
    // (the outage's report says the statement was tried twice)
    expect(s.errors.find((e) => /cannot store records/.test(e))).toMatch(/57P01; the statement was already tried twice: the server ended its connection under it, and it failed again at once on a new connection\)/);
    expect(s.errors.filter((e) => /sent again on a new connection and stored/.test(e))).toEqual([]);
    expect(o.errorRecords).toEqual(["audit_write_failed critical"]);
  }, 60_000);

  it("under the insert of an encrypted session's key lines (audit_subject_keys): sent again at once; the key and its record stored, nothing spooled", async () => {
    const schema = schemaFor("endedkeys");
    const app = `audit-logger-endedkeys-${process.pid}`;
    const a = instance("ended_keys", schema, PG_URL, { poolConfig: { application_name: app }, retryMinMs: 60_000, retryMaxMs: 60_000 });
    chat(a.logger, "alice", "first");
    expect(await a.sink.whenStored(20_000)).toBe(true);
    const locker = await lockRecords(schema, "audit_subject_keys");
    chat(a.logger, "bob", "second"); // (a new subject: a new key line, sent before the record)
    expect(await until(async () => (await backends(app)).length === 1)).toBe(true);
    const [first] = await backends(app);
    await waitsForLock(first!);
    await sql("SELECT pg_terminate_backend($1, 10000)", [first]);
    expect(await until(async () => (await backends(app)).some((p) => p !== first), 15_000), JSON.stringify(a.sink.stats())).toBe(true);
    await locker.query("COMMIT");
    expect(await a.sink.whenStored(15_000), JSON.stringify(a.sink.stats())).toBe(true);
    expect(a.sink.stats()).toMatchObject({ keys: 2, duplicates: 0, spilled: 0, outage: false });
    const summary = await a.logger.finalizeSession();
    expect((await keyRows(schema)).filter((k) => k.line !== null)).toHaveLength(2);
    const [r] = await sql<{ c: string }>(`SELECT count(*)::text AS c FROM "${schema}".audit_records WHERE session_id = 'ended_keys'`);
    expect(Number(r!.c)).toBe(summary.totalRecords);
    expect(fs.readdirSync(path.join(a.projectPath, "audit_logs")).filter((f) => f.startsWith(".pg_spool_"))).toEqual([]);
    expect((await verifyPostgres({ connectionString: PG_URL, schema, sessionId: "ended_keys" })).problems).toEqual([]);
    expect(a.errors).toHaveLength(1);
    expect(a.errors[0]).toMatch(/ended its connection during the insert of 1 key line of session ended_keys \(SQLSTATE 57P01.*sent again on a new connection and stored/);
  }, 60_000);
});
