import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer } from "../../src/index.js";
import { applyPostgresRetention, migratePostgres, PostgresRecordSource, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { SCHEMA_VERSION } from "../../src/postgres/schema.js";
import { TEST_KEY, tmpProject } from "../helpers/index.js";
import { freePort, lockTable, PG_URL, PgProxy, pgTestScope, sql, until } from "../fixtures/postgres/db.js";
import { chat, instance, storeAtVersion } from "../fixtures/postgres/subject-keys.js";
import { startServer } from "../../src/serve/server.js";
import { runCli } from "../cli/helpers.js";
import { openStore } from "../../src/cli/store.js";
import { StoreFollower } from "../../src/cli/tail-store.js";

const { schemaFor, proxies } = pgTestScope();
const lockers: pg.Client[] = [];
afterEach(async () => {
  for (const c of lockers.splice(0)) await c.end().catch(() => undefined);
});

/** A store holding one session of 30 tool records; its schema and the files' audit directory. */
async function populated(tag: string): Promise<{ schema: string; auditDir: string }> {
  const schema = schemaFor(tag);
  const logger = new AuditLogger({ sessionId: tag, projectPath: tmpProject(), sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
  for (let i = 0; i < 30; i++) logger.logToolUsage({ toolName: "t", operation: "op", parameters: { i } });
  await logger.finalizeSession();
  return { schema, auditDir: logger.auditDir };
}

/** The store's URL with an application_name of this test's own: its connections only are ended. */
function urlFor(app: string): string {
  const u = new URL(PG_URL);
  u.searchParams.set("application_name", app);
  return u.toString();
}

/** A second client holding ACCESS EXCLUSIVE on `table` (audit_records): the reader's query waits there (a known moment to end it). */
const lockRecords = (schema: string, table = "audit_records"): Promise<pg.Client> => lockTable(schema, table, lockers);

/** Waits (20 s at most) for a backend of `app` other than `not` waiting for the lock (its statement matching `statement`, if given); returns its pid. */
async function waiter(app: string, not: readonly number[] = [], statement?: RegExp): Promise<number> {
  for (const end = Date.now() + 20_000; Date.now() < end; ) {
    const rows = await sql<{ pid: number; query: string }>(`SELECT pid, query FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND NOT (pid = ANY($2::int[]))`, [app, not]);
    const row = rows.find((r) => statement === undefined || statement.test(r.query));
    if (row) return row.pid;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no query of ${app}${statement ? ` matching ${statement}` : ""} waits for the lock${not.length > 0 ? " again: the statement was not run again" : ""}`);
}

const terminate = (pid: number) => sql(`SELECT pg_terminate_backend($1)`, [pid]);

/**
 * Runs `call` (its connections named `app`) while `lock` holds the table it needs; ends the
 * connection of the statement that waits there (the one whose text matches `statement`, if
 * given), waits for that statement again on a new connection, then lets the lock go: what `call`
 * resolved to, or its failure.
 */
async function endedOnce<T>(app: string, lock: pg.Client, call: () => Promise<T>, statement?: RegExp): Promise<{ value: T | undefined; err: Error | undefined }> {
  const outcome = call().then(
    (value) => ({ value, err: undefined }),
    (err: unknown) => ({ value: undefined, err: err as Error }),
  );
  const first = await waiter(app, [], statement);
  await terminate(first);
  await waiter(app, [first], statement); // the statement again, on a new connection
  await lock.query("COMMIT");
  return outcome;
}

/** A logger of session `sid` whose PostgresSink (connections named `app`) stored 5 records, and the errors it reports. */
async function sinkSession(schema: string, sid: string, app: string): Promise<{ logger: AuditLogger; errors: string[] }> {
  const sink = new PostgresSink({ connectionString: urlFor(app), schema });
  const logger = new AuditLogger({ sessionId: sid, projectPath: tmpProject(), sinks: [sink], fullContentLogging: false });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  for (let i = 0; i < 5; i++) logger.logToolUsage({ toolName: "t", operation: "op", parameters: { i } });
  expect(await sink.whenStored(20_000)).toBe(true);
  return { logger, errors };
}

describe("a read of the store whose connection an administrator ends (pg_terminate_backend, 57P01)", () => {
  it("runs again on a new connection and answers as the files do", async () => {
    const { schema, auditDir } = await populated("rterm");
    const app = `audit-logger-rterm-${process.pid}`;
    const store = new AuditViewer({ postgres: { connectionString: urlFor(app), schema } });
    const lock = await lockRecords(schema);
    const read = store.getToolUsages({ limit: 100 });
    const first = await waiter(app);
    await terminate(first);
    // (before 2026-12-06 the read failed here: "Check that the server is up …")
    await waiter(app, [first]); // the read again, on a new connection
    await lock.query("COMMIT");
    const got = await read;
    expect(got).toHaveLength(30);
    expect(got).toEqual(await new AuditViewer({ auditPath: auditDir }).getToolUsages({ limit: 100 }));
  }, 60_000);

  it("ended again on the new connection: fails saying what happened (SQLSTATE 57P01, who ends connections), not to check host, port and password", async () => {
    const { schema } = await populated("rterm2");
    const app = `audit-logger-rterm2-${process.pid}`;
    const source = new PostgresRecordSource({ connectionString: urlFor(app), schema });
    const lock = await lockRecords(schema);
    const read = source.query("tool_usage", {});
    const outcome = read.then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    const first = await waiter(app);
    await terminate(first);
    await terminate(await waiter(app, [first]));
    const err = await outcome;
    await lock.query("COMMIT");
    expect(err?.code).toBe("AUDIT_ERR_IO");
    expect(err?.message).toMatch(/the server ended the connection during the query \(SQLSTATE 57P01: terminating connection due to administrator command\), and again on a new connection: an administrator or a tool ended it/);
    expect(err?.message).not.toMatch(/host, port, user, password/);
    // the source still reads once the connections are left alone
    expect(await source.query("tool_usage", {})).toHaveLength(30);
    await source.close();
  }, 60_000);

  it("a read of the store's data keys (audit_subject_keys, a reader with the master key) runs again too: the records open", async () => {
    const schema = schemaFor("kterm");
    const inst = instance("kterm", schema);
    chat(inst.logger, "alice", "alice's prompt");
    chat(inst.logger, "bob", "bob's prompt");
    await inst.logger.finalizeSession();
    expect(inst.errors).toEqual([]);
    const app = `audit-logger-kterm-${process.pid}`;
    const viewer = new AuditViewer({ postgres: { connectionString: urlFor(app), schema }, encryptionKey: TEST_KEY });
    // the records are read; the key rows wait for the lock, and their connection is ended there
    // (before 2026-12-06 the key read failed, and so did the viewer's read)
    const { value: chats, err } = await endedOnce(app, await lockRecords(schema, "audit_subject_keys"), () => viewer.getChatInteractions());
    expect(err?.message).toBeUndefined();
    expect(chats?.map((c) => c.promptPreview).sort()).toEqual(["alice's prompt", "bob's prompt"]);
  }, 60_000);

  it("verifyPostgres: a read whose connection is ended runs again, and the report is the one an undisturbed verify gives", async () => {
    const { schema } = await populated("vterm");
    const app = `audit-logger-vterm-${process.pid}`;
    // (before 2026-12-06 the whole verify failed)
    const { value: report, err } = await endedOnce(app, await lockRecords(schema), () => verifyPostgres({ connectionString: urlFor(app), schema }));
    expect(err?.message).toBeUndefined();
    expect(report).toEqual(await verifyPostgres({ connectionString: PG_URL, schema }));
    expect(report?.ok).toBe(true);
  }, 60_000);
});

describe("a write in its own transaction whose connection an administrator ends (57P01): run again on a new connection", () => {
  it("migratePostgres: the upgrade applies", async () => {
    const schema = schemaFor("mterm");
    await storeAtVersion(schema, SCHEMA_VERSION - 1);
    const app = `audit-logger-mterm-${process.pid}`;
    // (before 2026-12-06 migratePostgres failed)
    const { value: result, err } = await endedOnce(app, await lockRecords(schema, "audit_schema_version"), () => migratePostgres({ connectionString: urlFor(app), schema }));
    expect(err?.message).toBeUndefined();
    expect(result).toEqual({ schema, version: SCHEMA_VERSION, created: false });
    const [row] = await sql<{ v: number }>(`SELECT max(version) AS v FROM "${schema}".audit_schema_version`);
    expect(Number(row!.v)).toBe(SCHEMA_VERSION);
  }, 60_000);

  it("PostgresSink.close(): the session's row is marked finalized; reported as a failure overcome, not as one", async () => {
    const schema = schemaFor("fterm");
    const app = `audit-logger-fterm-${process.pid}`;
    const { logger, errors } = await sinkSession(schema, "fterm", app);
    // the UPDATE of the session's row, as close() marks it finalized, waits for the lock and is ended there
    // (before 2026-12-06 close() reported "could not mark session fterm finalized", and the row stayed "active")
    const { value: summary } = await endedOnce(app, await lockRecords(schema, "audit_sessions"), () => logger.finalizeSession(), /^UPDATE .*audit_sessions SET status = 'finalized'/);
    // (until 2026-12-06 the second attempt said nothing: now it is reported as the batches' are, see ended-statements.test.ts)
    expect(errors).toEqual([expect.stringMatching(/the server ended its connection during the write of session fterm's row \("finalized"\) \(SQLSTATE 57P01.*written again on a new connection: nothing is lost/)]);
    const [row] = await sql<{ status: string; total: string | null }>(`SELECT status, info->>'totalRecords' AS total FROM "${schema}".audit_sessions WHERE session_id = 'fterm'`);
    expect(row).toEqual({ status: "finalized", total: String(summary?.totalRecords) });
  }, 60_000);

  it("applyPostgresRetention: the month is dropped, and the drop returned", async () => {
    const schema = schemaFor("rtterm");
    await migratePostgres({ connectionString: PG_URL, schema });
    await sql(`SELECT "${schema}".audit_ensure_partition('2026-09-10T00:00:00Z')`);
    const app = `audit-logger-rtterm-${process.pid}`;
    // (before 2026-12-06 applyPostgresRetention failed)
    const { value: drops, err } = await endedOnce(app, await lockRecords(schema), () =>
      applyPostgresRetention({ connectionString: urlFor(app), schema, before: "2026-11-01T00:00:00Z", reason: "policy" }),
    );
    expect(err?.message).toBeUndefined();
    expect(drops?.map((d) => d.partition)).toEqual(["audit_records_p2026_09"]);
    expect(await sql(`SELECT to_regclass($1)::text AS t`, [`"${schema}".audit_records_p2026_09`])).toEqual([{ t: null }]);
  }, 60_000);

  it("PostgresSink: the checkpoint of the session's chain heads is written; reported as a failure overcome, not as one", async () => {
    const schema = schemaFor("cterm");
    const app = `audit-logger-cterm-${process.pid}`;
    const { logger, errors } = await sinkSession(schema, "cterm", app);
    // (before 2026-12-06 close() reported "could not write checkpoints")
    const { value: summary } = await endedOnce(app, await lockRecords(schema, "audit_checkpoints"), () => logger.finalizeSession(), /audit_checkpoints/);
    // (until 2026-12-06 the second attempt said nothing)
    expect(errors).toEqual([expect.stringMatching(/the server ended its connection during the write of session cterm's checkpoints \(SQLSTATE 57P01.*written again on a new connection: nothing is lost/)]);
    const [row] = await sql<{ seq: string }>(`SELECT max(seq)::text AS seq FROM "${schema}".audit_checkpoints WHERE session_id = 'cterm' AND kind = 'tool_usage'`);
    expect(Number(row!.seq)).toBe(summary?.counts.tool_usage);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  }, 60_000);

  it("audit-logger serve over the store: a record's page (its own queries of the store, not the viewer's) answers", async () => {
    const { schema } = await populated("sterm");
    const [rec] = await sql<{ id: string }>(`SELECT id FROM "${schema}".audit_records WHERE session_id = 'sterm' AND kind = 'tool_usage' ORDER BY seq LIMIT 1`);
    const app = `audit-logger-sterm-${process.pid}`;
    // one connection, through a proxy that holds serve's query of the record by id (every query
    // of the request touches audit_records: a lock there holds the viewer's first)
    const proxy = new PgProxy(await freePort());
    proxies.push(proxy);
    await proxy.start();
    const u = new URL(proxy.url);
    u.searchParams.set("application_name", app);
    const pool = new pg.Pool({ connectionString: u.toString(), max: 1 });
    pool.on("error", () => undefined);
    const server = await startServer({ postgres: { pool, schema } });
    try {
      const get = () => fetch(new URL(`/api/sessions/sterm/records/${rec!.id}`, server.baseUrl), { headers: { authorization: `Bearer ${server.token}` } }).then(async (r) => ({ status: r.status, body: await r.text() }));
      const undisturbed = await get();
      expect(undisturbed.status, undisturbed.body).toBe(200);
      const held = proxy.holdStatement("AND id = $2");
      const page = get();
      await held.reached;
      // its connection ended while the statement is on its way: the server's answer is the 57P01 error
      const [pid] = await sql<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, [app]);
      await terminate(pid!.pid);
      expect(await until(async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [pid!.pid])).length === 0, 10_000)).toBe(true);
      held.release();
      // (before 2026-12-06 the page failed, 500: serve's own query of the record was not run again)
      expect(await page).toEqual(undisturbed);
    } finally {
      await server.close();
      await pool.end();
    }
  }, 60_000);

  it("the CLI over the store (verify --postgres): its listing of the sessions runs again, and the verify passes", async () => {
    const { schema } = await populated("clterm");
    const app = `audit-logger-clterm-${process.pid}`;
    // (before 2026-12-06 the command failed: the CLI's own listing of the store's sessions was not run again)
    const { value: run, err } = await endedOnce(app, await lockRecords(schema), () => runCli(["verify", "--postgres", urlFor(app), "--schema", schema, "--json"]), /UNION SELECT DISTINCT session_id/);
    expect(err?.message).toBeUndefined();
    expect(run?.code, run?.stderr).toBe(0);
    expect((JSON.parse(run!.stdout) as { ok: boolean }).ok).toBe(true);
  }, 60_000);

  it("tail --postgres (no -f): its snapshot, a read-only transaction, is taken again on a new connection, and gives the lines an undisturbed one gives", async () => {
    const { schema } = await populated("tlterm");
    const app = `audit-logger-tlterm-${process.pid}`;
    const store = await openStore({ url: urlFor(app), schema });
    try {
      const undisturbed = await new StoreFollower(store, undefined, ["tool_usage"]).start(7);
      expect(undisturbed).toHaveLength(7);
      // (before 2026-12-06 the snapshot failed with 57P01, and tail with it)
      const { value: lines, err } = await endedOnce(app, await lockRecords(schema), () => new StoreFollower(store, undefined, ["tool_usage"]).start(7), /max\(seq\)::text AS seq/);
      expect(err?.message).toBeUndefined();
      expect(lines).toEqual(undisturbed);
    } finally {
      await store.close();
    }
  }, 60_000);
});
