import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { migratePostgres, PostgresSink, verifyPostgres, type PostgresSinkOptions } from "../../src/postgres/index.js";
import { tmpProject } from "../helpers/index.js";
import { leastPrivilegeWriter, PG_URL, pgTestScope, sql, until } from "../fixtures/postgres/db.js";
import { storeAtVersion } from "../fixtures/postgres/subject-keys.js";
import { SCHEMA_VERSION } from "../../src/postgres/schema.js";

const { schemaFor } = pgTestScope();
const roles: string[] = [];
const lockers: pg.Client[] = [];
afterEach(async () => {
  for (const c of lockers.splice(0)) await c.end().catch(() => undefined);
  // (its grants first: this hook may run before pgTestScope's drops the schema)
  for (const r of roles.splice(0)) await sql(`DROP OWNED BY ${r}; DROP ROLE ${r}`);
});

/** A store with a throwaway writer role (never postgres): its schema and the role's URL. */
async function store(tag: string): Promise<{ schema: string; url: string }> {
  const schema = schemaFor(tag);
  await migratePostgres({ connectionString: PG_URL, schema });
  const { role, url } = await leastPrivilegeWriter(schema, `h7t_${tag}`);
  roles.push(role);
  return { schema, url };
}

/** A second client holding ACCESS EXCLUSIVE on the schema's audit_records until `release()`. */
async function lockRecords(schema: string): Promise<{ release(): Promise<void> }> {
  const c = new pg.Client({ connectionString: PG_URL });
  lockers.push(c);
  await c.connect();
  await c.query("BEGIN");
  await c.query(`LOCK TABLE "${schema}".audit_records IN ACCESS EXCLUSIVE MODE`);
  let done = false;
  return {
    async release() {
      if (done) return;
      done = true;
      await c.query("COMMIT");
    },
  };
}

const rowsOf = async (schema: string, sid: string) => {
  const [r] = await sql<{ c: string; d: string }>(`SELECT count(*)::text AS c, count(DISTINCT (kind, seq))::text AS d FROM "${schema}".audit_records WHERE session_id = $1`, [sid]);
  return { rows: Number(r!.c), distinct: Number(r!.d) };
};

/**
 * A logger of session `sid` on `projectPath` with one PostgresSink (`options` over the writer
 * role's store) that stored 20 records; then a lock on audit_records is taken and 30 more logged.
 */
async function sessionUnderLock(sid: string, projectPath: string, st: { schema: string; url: string }, options: Partial<PostgresSinkOptions>) {
  const sink = new PostgresSink({ connectionString: st.url, schema: st.schema, migrate: false, ...options });
  const logger = new AuditLogger({ sessionId: sid, projectPath, sinks: [sink], fullContentLogging: false });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  for (let i = 0; i < 20; i++) logger.logToolUsage({ toolName: "t", operation: "before", parameters: { i } });
  expect(await sink.whenStored(20_000)).toBe(true);
  const lock = await lockRecords(st.schema);
  for (let i = 0; i < 30; i++) logger.logToolUsage({ toolName: "t", operation: "locked", parameters: { i } });
  return { sink, logger, errors, lock };
}

describe("close() while a lock on audit_records holds the sink's insert", () => {
  it("returns within closeTimeoutMs (not after queryTimeoutMs), and a later sink stores what it left", async () => {
    const st = await store("closelock");
    const { schema, url } = st;
    const projectPath = tmpProject();
    const { logger, errors, lock } = await sessionUnderLock("closelock", projectPath, st, { closeTimeoutMs: 1_000, queryTimeoutMs: 120_000 });
    // the lock is held 60 s at most: far longer than closeTimeoutMs (1 s) and flushTimeoutMs (5 s)
    let lockReleased = false;
    const releaseLater = setTimeout(() => void lock.release().then(() => (lockReleased = true)), 60_000);
    // (before 2026-12-06 close() took flushTimeoutMs + closeTimeoutMs + the insert's queryTimeoutMs, 120 s: the logger gave up on it
    // after its sinkTimeoutMs, 30 s, and the sink went on in the background)
    const summary = await logger.finalizeSession();
    const closedWhileLocked = !lockReleased;
    clearTimeout(releaseLater);
    expect(closedWhileLocked).toBe(true);
    // (the logger's own bound, sinkTimeoutMs (30 s), is not what ended the sink's close)
    expect(errors.filter((e) => /did not settle/.test(e))).toEqual([]);
    // what was not stored is reported, and waits in the spool
    // (said as it cancels the statement that waits at the deadline; or, when the deadline fell in
    // the back-off between two of them, which a loaded machine's timing makes likely, as close()
    // leaves the records in the spool: seen once in a run of the whole suite under load 17)
    expect(errors.some((e) => /closeTimeoutMs \(1000 ms\) of close\(\) is over/.test(e) || /are still in .* did not finish within closeTimeoutMs/.test(e)), JSON.stringify(errors)).toBe(true);
    expect(logger.sessionId).toBe("closelock");
    await lock.release();

    // the insert close canceled did not commit later: only the records stored before the lock are there
    await new Promise((r) => setTimeout(r, 300));
    expect((await rowsOf(schema, "closelock")).rows).toBeLessThan(summary.totalRecords);

    // the next sink in the directory sends what the session left (its spool), and records its end
    const next = new PostgresSink({ connectionString: url, schema, migrate: false });
    const later = new AuditLogger({ sessionId: "later", projectPath, sinks: [next], fullContentLogging: false });
    expect(await next.whenStored(20_000)).toBe(true);
    await later.finalizeSession();
    expect(await rowsOf(schema, "closelock")).toEqual({ rows: summary.totalRecords, distinct: summary.totalRecords });
    // and its end: the session was finalized (its file says so), and its row says so too (it stayed
    // "active" until 2026-12-06: the final session file names no run, and the row's did)
    const [row] = await sql<{ status: string; total: string | null }>(`SELECT status, info->>'totalRecords' AS total FROM "${schema}".audit_sessions WHERE session_id = 'closelock'`);
    expect(row).toEqual({ status: "finalized", total: String(summary.totalRecords) });
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  }, 240_000);
});

describe("a batch that waits for a lock longer than queryTimeoutMs", () => {
  it("is canceled on the server: it does not commit once the lock goes, and stats().stored counts each record once", async () => {
    const st = await store("qtlock");
    const { sink, logger, errors, lock } = await sessionUnderLock("qtlock", tmpProject(), st, { queryTimeoutMs: 400, retryMinMs: 50, retryMaxMs: 200 });
    const { schema } = st;
    // several inserts time out against the lock (reported once, as an outage)
    expect(await until(() => errors.some((e) => /cannot store records/.test(e)), 20_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1_500));
    await lock.release();

    expect(await sink.whenStored(30_000)).toBe(true);
    const summary = await logger.finalizeSession();
    const stored = await rowsOf(schema, "qtlock");
    expect(stored).toEqual({ rows: summary.totalRecords, distinct: summary.totalRecords });
    // (before 2026-12-06 the timed-out insert committed once the lock went, its batch sent again counted as duplicates)
    expect({ stored: sink.stats().stored, duplicates: sink.stats().duplicates }).toEqual({ stored: summary.totalRecords, duplicates: 0 });
    expect(errors.some((e) => /queryTimeoutMs \(400 ms\)/.test(e))).toBe(true);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  }, 120_000);
});

/** The backends of `app` (an application_name of the test's own) and what each does. */
const backendsOf = (app: string) => sql<{ pid: number; state: string | null; wait: string | null; query: string }>(`SELECT pid, state, wait_event_type AS wait, query FROM pg_stat_activity WHERE application_name = $1`, [app]);

/**
 * A store one schema version behind (the sink's migration has an upgrade to apply), a second
 * client holding ACCESS EXCLUSIVE on its audit_schema_version (the migration waits there), and a
 * connection string naming this test's connections (`app`).
 */
async function migrationLocked(tag: string): Promise<{ schema: string; locker: pg.Client; app: string; url: string }> {
  const schema = schemaFor(tag);
  await storeAtVersion(schema, SCHEMA_VERSION - 1);
  const locker = new pg.Client({ connectionString: PG_URL });
  lockers.push(locker);
  await locker.connect();
  await locker.query("BEGIN");
  await locker.query(`LOCK TABLE "${schema}".audit_schema_version IN ACCESS EXCLUSIVE MODE`);
  const app = `audit-logger-${tag}-${process.pid}`;
  const u = new URL(PG_URL);
  u.searchParams.set("application_name", app);
  return { schema, locker, app, url: u.toString() };
}

describe("close() while the sink's migration waits for a lock another session holds", () => {
  it("cancels the migration on the server: close() reports it, no backend of the sink is left, and the migration does not apply once the lock goes", async () => {
    const { schema, locker, app, url } = await migrationLocked("closemig");
    const projectPath = tmpProject();
    const sink = new PostgresSink({ connectionString: url, schema, closeTimeoutMs: 1_000, flushTimeoutMs: 500, queryTimeoutMs: 120_000 });
    const logger = new AuditLogger({ sessionId: "closemig", projectPath, sinks: [sink], fullContentLogging: false });
    const errors: string[] = [];
    logger.on("error", (e) => errors.push(e.message));
    for (let i = 0; i < 5; i++) logger.logToolUsage({ toolName: "t", operation: "op", parameters: { i } });
    // the migration waits for the lock
    expect(await until(async () => (await backendsOf(app)).some((b) => b.wait === "Lock"), 20_000)).toBe(true);
    const summary = await logger.finalizeSession();

    // close() canceled it and said so; its connection is gone (the lock is still held). Before
    // 2026-12-06 the migration's backend went on waiting (for queryTimeoutMs, 120 s) after close() returned.
    // (said as it cancels the statement that waits at the deadline; or, when the deadline fell in
    // the back-off between two of them, which a loaded machine's timing makes likely, as close()
    // leaves the records in the spool: seen once in a run of the whole suite under load 17)
    expect(errors.some((e) => /closeTimeoutMs \(1000 ms\) of close\(\) is over/.test(e) || /are still in .* did not finish within closeTimeoutMs/.test(e)), JSON.stringify(errors)).toBe(true);
    expect(await until(async () => (await backendsOf(app)).length === 0, 10_000), JSON.stringify(await backendsOf(app))).toBe(true);
    await locker.query("COMMIT");
    await new Promise((r) => setTimeout(r, 500));
    const version = async () => Number((await sql<{ v: number }>(`SELECT max(version) AS v FROM "${schema}".audit_schema_version`))[0]!.v);
    expect(await version()).toBe(SCHEMA_VERSION - 1);

    // the next sink in the directory migrates and sends what the session left
    const next = new PostgresSink({ connectionString: PG_URL, schema });
    const later = new AuditLogger({ sessionId: "closemig_later", projectPath, sinks: [next], fullContentLogging: false });
    expect(await next.whenStored(20_000)).toBe(true);
    await later.finalizeSession();
    expect(await version()).toBe(SCHEMA_VERSION);
    expect(await rowsOf(schema, "closemig")).toEqual({ rows: summary.totalRecords, distinct: summary.totalRecords });
  }, 120_000);
});

describe("a migration of the sink that waits for a lock longer than queryTimeoutMs", () => {
  it("is canceled on the server each time (an outage, reported once); close() cancels the one still waiting and says so; nothing applies once the lock goes", async () => {
    const { schema, locker, app, url } = await migrationLocked("qtmig");
    const sink = new PostgresSink({ connectionString: url, schema, queryTimeoutMs: 300, retryMinMs: 50, retryMaxMs: 100, closeTimeoutMs: 1_000, flushTimeoutMs: 500 });
    const logger = new AuditLogger({ sessionId: "qtmig", projectPath: tmpProject(), sinks: [sink], fullContentLogging: false });
    const errors: string[] = [];
    logger.on("error", (e) => errors.push(e.message));
    logger.logToolUsage({ toolName: "t", operation: "op" });
    // each migration waits for the lock until queryTimeoutMs cancels it on the server: never more than one waits
    expect(await until(() => errors.some((e) => /queryTimeoutMs \(300 ms\)/.test(e)), 20_000)).toBe(true);
    for (let i = 0; i < 10; i++) {
      expect((await backendsOf(app)).filter((b) => b.wait === "Lock").length).toBeLessThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await until(async () => (await backendsOf(app)).some((b) => b.wait === "Lock"), 20_000)).toBe(true);
    await logger.finalizeSession();
    // the outage was reported once; the cancel at close() too, though the sink was already in its outage
    expect(errors.filter((e) => /cannot store records/.test(e) && /queryTimeoutMs/.test(e))).toHaveLength(1);
    // (said as it cancels the statement that waits at the deadline; or, when the deadline fell in
    // the back-off between two of them, which a loaded machine's timing makes likely, as close()
    // leaves the records in the spool: seen once in a run of the whole suite under load 17)
    expect(errors.some((e) => /closeTimeoutMs \(1000 ms\) of close\(\) is over/.test(e) || /are still in .* did not finish within closeTimeoutMs/.test(e)), JSON.stringify(errors)).toBe(true);
    expect(await until(async () => (await backendsOf(app)).length === 0, 10_000), JSON.stringify(await backendsOf(app))).toBe(true);
    await locker.query("COMMIT");
    await new Promise((r) => setTimeout(r, 500));
    const [row] = await sql<{ v: number }>(`SELECT max(version) AS v FROM "${schema}".audit_schema_version`);
    expect(Number(row!.v)).toBe(SCHEMA_VERSION - 1);
  }, 120_000);
});
