/**
 * The server ends the sink's connection (pg_terminate_backend: SQLSTATE 57P01) under its other
 * statements than the records' inserts (see ended-insert.test.ts): the migration, the session's
 * "active" row at first connect, the reads of a backfill, the row of an ended session
 * (closeEnded/closeAdopted), the checkpoints at flush() (at close(), and the "finalized" row:
 * reader-terminated.test.ts). Each is run again at once on a new connection and reported as a
 * failure overcome (audit_sink_recovered, a warning), not as an outage. Real PostgreSQL, a real
 * child process for the ended session.
 */
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { migratePostgres, PostgresSink } from "../../src/postgres/index.js";
import { ddlLockKey } from "../../src/postgres/schema.js";
import { readJsonl, tmpProject } from "../helpers/index.js";
import { killChildren, startFixture, type ChildHandle } from "../helpers/core.js";
import { lockTable, PG_URL, pgTestScope, sql, until } from "../fixtures/postgres/db.js";

const { schemaFor } = pgTestScope();
const lockers: pg.Client[] = [];
const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  for (const c of lockers.splice(0)) await c.end().catch(() => undefined);
});

/** A backend of `app` not in `not`, waiting on a lock in a statement whose text matches `like` (an SQL LIKE pattern). */
async function waiting(app: string, like: string, not: readonly number[] = []): Promise<number> {
  let pid: number | undefined;
  const found = await until(async () => {
    const rows = await sql<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND query LIKE $2 ORDER BY pid", [app, like]);
    pid = rows.map((r) => r.pid).find((p) => !not.includes(p));
    return pid !== undefined;
  });
  expect(found, `no backend of ${app} waits on a lock in ${like}`).toBe(true);
  return pid!;
}

/**
 * Ends the backend of `app` waiting in `like`; then the statement must wait there again at once
 * on another backend (sent again, not spooled for the outage's retry, 60 s away); then `locker`
 * commits and the statement goes through.
 */
async function endOnceUnder(app: string, like: string, locker: pg.Client): Promise<void> {
  const first = await waiting(app, like);
  const [{ t }] = (await sql<{ t: boolean }>("SELECT pg_terminate_backend($1, 10000) AS t", [first])) as [{ t: boolean }];
  expect(t).toBe(true);
  await waiting(app, like, [first]);
  await locker.query("COMMIT");
}

/** A sink whose connections are named `app`; an outage's retry comes after 60 s (never within the test's waits). */
function sinkOf(schema: string, app: string, o: { migrate?: boolean } = {}): PostgresSink {
  return new PostgresSink({ connectionString: PG_URL, schema, poolConfig: { application_name: app }, retryMinMs: 60_000, retryMaxMs: 60_000, ...o });
}

/** A logger of session `sid` in `projectPath` with `sink`, and its error events. */
function loggerOf(sid: string, projectPath: string, sink: PostgresSink) {
  const logger = new AuditLogger({ sessionId: sid, projectPath, sinks: [sink], fullContentLogging: false });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  return { logger, errors };
}

const errorRecords = (projectPath: string, sid: string): string[] => readJsonl(path.join(projectPath, "audit_logs", `errors_${sid}.jsonl`)).map((e) => `${String(e.errorType)} ${String(e.severity)}`);

const statusOf = async (schema: string, sid: string): Promise<string | undefined> => (await sql<{ status: string }>(`SELECT status FROM "${schema}".audit_sessions WHERE session_id = $1`, [sid]))[0]?.status;

/** The records all stored at once (no outage, nothing spooled), the ending reported once as overcome, nothing else. */
async function expectOvercome(sink: PostgresSink, errors: string[], done: RegExp): Promise<void> {
  expect(await sink.whenStored(15_000), JSON.stringify(sink.stats())).toBe(true);
  expect(sink.stats()).toMatchObject({ spilled: 0, outage: false });
  expect(errors.filter((e) => /cannot store records/.test(e))).toEqual([]);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(done);
}

describe("the server ends the sink's connection under its other statements", () => {
  it("the first connect's session row (\"active\"): written again at once on a new connection, reported as overcome; no outage, nothing spooled", async () => {
    const schema = schemaFor("endedrow");
    await migratePostgres({ connectionString: PG_URL, schema });
    const app = `audit-logger-endedrow-${process.pid}`;
    const locker = await lockTable(schema, "audit_sessions", lockers);
    const projectPath = tmpProject();
    const sink = sinkOf(schema, app);
    const { logger, errors } = loggerOf("ended_row", projectPath, sink);
    for (let i = 0; i < 5; i++) logger.logToolUsage({ toolName: "t", operation: "first", parameters: { i } });
    await endOnceUnder(app, "%INSERT INTO%audit_sessions%'active'%", locker);
    await expectOvercome(sink, errors, /the server ended its connection during the write of session ended_row's row \("active"\) \(SQLSTATE 57P01.*written again on a new connection: nothing is lost/);
    expect(await statusOf(schema, "ended_row")).toBe("active");
    const summary = await logger.finalizeSession();
    expect(await statusOf(schema, "ended_row")).toBe("finalized");
    const [r] = await sql<{ c: string }>(`SELECT count(*)::text AS c FROM "${schema}".audit_records WHERE session_id = 'ended_row'`);
    expect(Number(r!.c)).toBe(summary.totalRecords);
    expect(errorRecords(projectPath, "ended_row")).toEqual(["audit_sink_recovered warning"]);
    expect(fs.readdirSync(path.join(projectPath, "audit_logs")).filter((f) => f.startsWith(".pg_spool_"))).toEqual([]);
  }, 60_000);

  it("the migration (waiting on the schema's DDL lock): run again at once on a new connection; the store made, no outage", async () => {
    const schema = schemaFor("endedmig");
    const app = `audit-logger-endedmig-${process.pid}`;
    // (another migration of the same schema holds its advisory lock)
    const locker = new pg.Client({ connectionString: PG_URL });
    lockers.push(locker);
    await locker.connect();
    await locker.query("BEGIN");
    await locker.query("SELECT pg_advisory_xact_lock(hashtext($1))", [ddlLockKey(schema)]);
    const projectPath = tmpProject();
    const sink = sinkOf(schema, app);
    const { logger, errors } = loggerOf("ended_mig", projectPath, sink);
    logger.logToolUsage({ toolName: "t", operation: "first" });
    await endOnceUnder(app, "%pg_advisory_xact_lock%", locker);
    await expectOvercome(sink, errors, /the server ended its connection during the migration of the store's schema \(SQLSTATE 57P01.*written again on a new connection/);
    await logger.finalizeSession();
    expect(await statusOf(schema, "ended_mig")).toBe("finalized");
    expect(errorRecords(projectPath, "ended_mig")).toEqual(["audit_sink_recovered warning"]);
  }, 60_000);

  it("the row of a session that ended without finalizeSession() (closeEnded, closeAdopted): written again at once, the row interrupted; no outage", async () => {
    const schema = schemaFor("endedclose");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const h = startFixture("../postgres/end-child.ts", {}, [JSON.stringify({ url: PG_URL, schema, projectPath, records: 3, end: "exit" })]);
    children.push(h);
    const ended = (await h.waitForLine((l) => l.startsWith("stored "), "stored")).slice("stored ".length);
    expect((await h.exited).code).toBe(0);
    expect(await statusOf(schema, ended)).toBe("active");
    // its row locked: the next sink's UPDATE of it waits there
    const locker = new pg.Client({ connectionString: PG_URL });
    lockers.push(locker);
    await locker.connect();
    await locker.query("BEGIN");
    await locker.query(`SELECT 1 FROM "${schema}".audit_sessions WHERE session_id = $1 FOR UPDATE`, [ended]);
    const app = `audit-logger-endedclose-${process.pid}`;
    const sink = sinkOf(schema, app);
    const { logger, errors } = loggerOf("ended_next", projectPath, sink);
    logger.logToolUsage({ toolName: "t", operation: "next" });
    await endOnceUnder(app, "%INSERT INTO%audit_sessions%closed_at%", locker);
    await expectOvercome(sink, errors, new RegExp(`the server ended its connection during the write of session ${ended}'s row \\("interrupted"\\) \\(SQLSTATE 57P01.*written again on a new connection`));
    expect(await statusOf(schema, ended)).toBe("interrupted");
    await logger.finalizeSession();
    expect(await statusOf(schema, "ended_next")).toBe("finalized");
    expect(errorRecords(projectPath, "ended_next")).toEqual(["audit_sink_recovered warning"]);
    // (its marker went once its row was recorded)
    expect(fs.readdirSync(path.join(projectPath, "audit_logs")).filter((f) => f.startsWith(".pg_") && f.includes(ended))).toEqual([]);
  }, 60_000);

  it("the reads of a backfill (the records of a resumed session that the store lacks): read again at once; the records sent, no outage", async () => {
    const schema = schemaFor("endedread");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    // the session's first run had no sink: its records are in the files only
    const first = new AuditLogger({ sessionId: "ended_read", projectPath, fullContentLogging: false });
    for (let i = 0; i < 5; i++) first.logToolUsage({ toolName: "t", operation: "files only", parameters: { i } });
    await first.finalizeSession();
    const locker = await lockTable(schema, "audit_retention_cuts", lockers);
    const app = `audit-logger-endedread-${process.pid}`;
    const sink = sinkOf(schema, app);
    const { logger, errors } = loggerOf("ended_read", projectPath, sink);
    await endOnceUnder(app, "%audit_retention_cuts%", locker);
    await expectOvercome(sink, errors, /the server ended its connection during the read of session ended_read's retention cuts \(SQLSTATE 57P01.*read again on a new connection: nothing is lost/);
    expect(sink.stats().backfilled).toBeGreaterThanOrEqual(5);
    const summary = await logger.finalizeSession();
    const [r] = await sql<{ c: string }>(`SELECT count(*)::text AS c FROM "${schema}".audit_records WHERE session_id = 'ended_read'`);
    expect(Number(r!.c)).toBe(summary.totalRecords);
  }, 60_000);

  it("the checkpoints (flush): written again at once, now reported as overcome (the retry was silent)", async () => {
    const schema = schemaFor("endedcp");
    const app = `audit-logger-endedcp-${process.pid}`;
    const projectPath = tmpProject();
    const sink = sinkOf(schema, app);
    const { logger, errors } = loggerOf("ended_cp", projectPath, sink);
    for (let i = 0; i < 5; i++) logger.logToolUsage({ toolName: "t", operation: "before", parameters: { i } });
    expect(await sink.whenStored(20_000)).toBe(true);
    const locker = await lockTable(schema, "audit_checkpoints", lockers);
    const flushed = sink.flush();
    await endOnceUnder(app, "%INSERT INTO%audit_checkpoints%", locker);
    await flushed;
    await expectOvercome(sink, errors, /the server ended its connection during the write of session ended_cp's checkpoints \(SQLSTATE 57P01.*written again on a new connection/);
    const [c] = await sql<{ c: string }>(`SELECT count(*)::text AS c FROM "${schema}".audit_checkpoints WHERE session_id = 'ended_cp'`);
    expect(Number(c!.c)).toBeGreaterThan(0);
    await logger.finalizeSession();
    expect(errorRecords(projectPath, "ended_cp")).toEqual(["audit_sink_recovered warning"]);
  }, 60_000);
});
