import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { AuditLogger, AuditViewer, auditContext, verifyAuditLog } from "../../src/index.js";
import { migratePostgres, PostgresRecordSource, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";
import { dropSchema, freePort, freshSchema, PG_URL, PgProxy, sql, until } from "../fixtures/postgres/db.js";
import { childArgs } from "../helpers/child-args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const schemas: string[] = [];
const proxies: PgProxy[] = [];

afterEach(async () => {
  for (const p of proxies.splice(0)) await p.stop();
  for (const s of schemas.splice(0)) await dropSchema(s);
  cleanupTmp();
});

function schemaFor(tag: string): string {
  const s = freshSchema(tag);
  schemas.push(s);
  return s;
}

async function countRows(schema: string, sessionId: string): Promise<{ total: number; distinct: number }> {
  const [r] = await sql<{ total: string; d: string }>(
    `SELECT count(*)::text AS total, count(DISTINCT (kind, seq))::text AS d FROM "${schema}".audit_records WHERE session_id = $1`,
    [sessionId],
  );
  return { total: Number(r!.total), distinct: Number(r!.d) };
}


function runChild(args: object): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...childArgs(path.join(here, "../fixtures/postgres/writer.ts")), JSON.stringify(args)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

describe("PostgresSink", () => {
  it("four processes write one store concurrently: every record present once, every chain verifies", async () => {
    const schema = schemaFor("four");
    const projectPath = tmpProject();
    const count = 400;
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) => runChild({ url: PG_URL, schema, projectPath, sessionId: `instance_${n}`, count })),
    );
    for (const r of results) expect(r.code, r.err).toBe(0);
    const source = new PostgresRecordSource({ connectionString: PG_URL, schema });
    try {
      const sessions = await source.listSessions();
      expect(sessions.map((s) => s.sessionId).sort()).toEqual(["instance_1", "instance_2", "instance_3", "instance_4"]);
      const auditDir = path.join(projectPath, "audit_logs");
      for (const [i, r] of results.entries()) {
        const { summary, stats, errors } = JSON.parse(r.out) as { summary: { totalRecords: number; sessionId: string }; stats: { stored: number; duplicates: number }; errors: string[] };
        expect(errors).toEqual([]);
        expect(stats.stored).toBe(summary.totalRecords);
        const listing = sessions.find((s) => s.sessionId === `instance_${i + 1}`)!;
        expect(listing.status).toBe("finalized");
        expect(listing.totalRecords).toBe(summary.totalRecords);
        expect(await countRows(schema, summary.sessionId)).toEqual({ total: summary.totalRecords, distinct: summary.totalRecords });
        // the store holds the very lines of the files, in chain order
        const fileLines = fs.readFileSync(path.join(auditDir, `tool_usage_${summary.sessionId}.jsonl`), "utf8").trimEnd().split("\n");
        const stored: string[] = [];
        for await (const rec of source.records("tool_usage", summary.sessionId)) stored.push(JSON.stringify(rec));
        expect(stored).toEqual(fileLines);
      }
      const report = await verifyPostgres({ connectionString: PG_URL, schema });
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.sessions).toHaveLength(4);
      expect(report.recordsChecked).toBe(results.reduce((n, r) => n + (JSON.parse(r.out) as { summary: { totalRecords: number } }).summary.totalRecords, 0));
      expect((await verifyAuditLog(auditDir)).ok).toBe(true);
    } finally {
      await source.close();
    }
  });

  it("pointed at a port where nothing listens, then at the real server: every record stored exactly once", async () => {
    const schema = schemaFor("outage");
    const projectPath = tmpProject();
    const port = await freePort();
    const proxy = new PgProxy(port);
    proxies.push(proxy);
    const sink = new PostgresSink({ connectionString: proxy.url, schema, retryMinMs: 50, retryMaxMs: 200, flushTimeoutMs: 1000, connectTimeoutMs: 1000 });
    const logger = new AuditLogger({ sessionId: "outage", projectPath, sinks: [sink] });
    const reported: Error[] = [];
    logger.on("error", (e) => reported.push(e));
    for (let i = 0; i < 300; i++) {
      // the callers never see the outage and never wait for it
      expect(typeof logger.logToolUsage({ toolName: "search", operation: "q", parameters: { i } })).toBe("string");
    }
    await logger.flush(); // resolves: the records are in the spool
    const spool = sink.spoolPath!;
    expect(path.dirname(spool)).toBe(path.join(projectPath, "audit_logs"));
    expect(reported.length).toBeGreaterThan(0);
    expect(reported[0]!.message).toMatch(/cannot store records/);
    expect(sink.stats().outage).toBe(true);
    // the spool holds the sealed lines themselves, in order (the error record the outage produced included)
    const spooled = readJsonl(spool);
    expect(spooled.filter((r) => r.type === "tool_usage").map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));

    await proxy.start(); // the server is reachable from now on
    for (let i = 0; i < 50; i++) logger.logToolUsage({ toolName: "search", operation: "q", parameters: { late: i } });
    expect(await sink.whenStored(20_000)).toBe(true);
    const summary = await logger.finalizeSession();
    expect(fs.existsSync(spool)).toBe(false);
    expect(await countRows(schema, "outage")).toEqual({ total: summary.totalRecords, distinct: summary.totalRecords });
    const tools = await sql<{ seq: string }>(`SELECT seq::text FROM "${schema}".audit_records WHERE session_id = 'outage' AND kind = 'tool_usage' ORDER BY seq`);
    expect(tools.map((r) => Number(r.seq)).sort((a, b) => a - b)).toEqual(Array.from({ length: 350 }, (_, i) => i + 1));
    const report = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(report.problems).toEqual([]);
  });

  it("a record the store refuses for good (a value out of range, a row too large to index) is reported and left out; the rest of its batch and what follows are stored", async () => {
    const schema = schemaFor("refused");
    const projectPath = tmpProject();
    // first run: the store is unreachable (its proxy down), the records wait in the spool
    const store = new PgProxy(await freePort());
    proxies.push(store);
    const dead = new PostgresSink({ connectionString: store.url, schema, flushTimeoutMs: 200, closeTimeoutMs: 200, connectTimeoutMs: 500 });
    const first = new AuditLogger({ sessionId: "refused", projectPath, sinks: [dead] });
    first.on("error", () => undefined);
    for (let i = 0; i < 10; i++) first.logToolUsage({ toolName: "search", operation: "q", parameters: { i } });
    await first.finalizeSession();
    // Lines the store cannot take: in the spool, a seq past bigint (SQLSTATE 22003: a damaged
    // spool); in the session's file and the spool, a userId whose index entry is larger than a
    // btree page allows (54000: written by an older version, which had no limit on a context's userId).
    const spool = dead.spoolPath!;
    const forge = (file: string, seq: number, change: (line: string) => string) => {
      const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
      const at = lines.findIndex((line) => (JSON.parse(line) as { type: string; seq: number }).type === "tool_usage" && (JSON.parse(line) as { seq: number }).seq === seq);
      expect(at).toBeGreaterThanOrEqual(0);
      lines[at] = change(lines[at]!);
      fs.writeFileSync(file, `${lines.join("\n")}\n`);
    };
    forge(spool, 5, (line) => line.replace('"seq":5,', '"seq":100000000000000000000,'));
    const longUser = Array.from({ length: 120 }, (_, i) => createHash("md5").update(String(i)).digest("hex")).join("");
    const withLongUser = (line: string) => line.replace('"toolName":', `"userId":"${longUser}","toolName":`);
    forge(path.join(projectPath, "audit_logs", "tool_usage_refused.jsonl"), 7, withLongUser);
    forge(spool, 7, withLongUser);

    // second run, store reachable: what the store lacks is sent from the files, then the spool is replayed
    await store.start();
    const sink = new PostgresSink({ connectionString: store.url, schema });
    const logger = new AuditLogger({ sessionId: "refused", projectPath, sinks: [sink] });
    const reported: Error[] = [];
    logger.on("error", (e) => reported.push(e));
    for (let i = 0; i < 5; i++) logger.logToolUsage({ toolName: "search", operation: "q", parameters: { late: i } });
    const stored = await sink.whenStored(20_000);
    expect(stored, JSON.stringify(sink.stats())).toBe(true);
    expect(sink.stats(), JSON.stringify(sink.stats())).toMatchObject({ outage: false, refused: 3 });
    const refusals = reported.filter((e) => /the store refused/.test(e.message)).map((e) => e.message);
    expect(refusals, refusals.join("\n")).toHaveLength(3);
    expect(refusals[0]).toMatch(/tool_usage record seq 7 of session refused[\s\S]*SQLSTATE 54000[\s\S]*still in the session's files/);
    expect(refusals[1]).toMatch(/tool_usage record seq 100000000000000000000 of session refused[\s\S]*SQLSTATE 22003/);
    expect(refusals[2]).toMatch(/tool_usage record seq 7 of session refused[\s\S]*SQLSTATE 54000/);
    await logger.finalizeSession();
    expect(fs.existsSync(spool)).toBe(false);
    const tools = await sql<{ seq: string }>(`SELECT seq::text FROM "${schema}".audit_records WHERE session_id = 'refused' AND kind = 'tool_usage' ORDER BY seq`);
    // (seq 5 came from the file: the spool's damaged copy was the one refused)
    expect(tools.map((r) => Number(r.seq)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15]);
    // the refusals are in the audit trail too, and the store's verify names what it lacks
    const errs = readJsonl(path.join(projectPath, "audit_logs", "errors_refused.jsonl"));
    expect(errs.filter((r) => /the store refused/.test(String(r.message)))).toHaveLength(3);
    const report = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => `${p.kind}: ${p.detail}`)).toContain("seq_gap: Record has seq 8 where 7 was expected.");
  });

  it("a connection lost mid-batch after the server committed duplicates nothing", async () => {
    const schema = schemaFor("cut");
    const projectPath = tmpProject();
    const proxy = new PgProxy(await freePort());
    proxies.push(proxy);
    await proxy.start();
    const sink = new PostgresSink({ connectionString: proxy.url, schema, retryMinMs: 300, batchSize: 100 });
    const logger = new AuditLogger({ sessionId: "cut", projectPath, sinks: [sink] });
    logger.on("error", () => undefined);
    logger.logPerformanceMetric({ metricName: "warm", value: 1, unit: "ms" });
    expect(await sink.whenStored(10_000)).toBe(true); // connected and migrated
    proxy.cutAfterInsertReply = true;
    for (let i = 0; i < 100; i++) logger.logPerformanceMetric({ metricName: "m", value: i, unit: "ms" });
    // the batch landed, but the sink never heard so: it is in the spool, waiting for the retry
    expect(await until(() => proxy.cuts === 1 && sink.stats().outage)).toBe(true);
    const landed = await sql<{ c: string }>(`SELECT count(*)::text AS c FROM "${schema}".audit_records WHERE session_id = 'cut' AND kind = 'performance_metric'`);
    expect(Number(landed[0]!.c)).toBe(101);
    expect(sink.stats().spilled).toBeGreaterThanOrEqual(100);
    expect(await sink.whenStored(20_000)).toBe(true);
    const summary = await logger.finalizeSession();
    expect(sink.stats().duplicates).toBeGreaterThanOrEqual(100); // replayed, and refused as already stored
    expect(await countRows(schema, "cut")).toEqual({ total: summary.totalRecords, distinct: summary.totalRecords });
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  });

  it("after a crash, the next logger of the session sends what the store lacks, once", async () => {
    const schema = schemaFor("crash");
    const projectPath = tmpProject();
    // first run: the store is unreachable and the spool is lost with the process (simulated by deleting it)
    const dead = new PostgresSink({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/test`, schema, flushTimeoutMs: 200, closeTimeoutMs: 200, connectTimeoutMs: 500 });
    const first = new AuditLogger({ sessionId: "crashy", projectPath, sinks: [dead] });
    first.on("error", () => undefined);
    for (let i = 0; i < 120; i++) first.logFileOperation({ operation: "read", filePath: `/tmp/f${i}` });
    await first.finalizeSession();
    expect(fs.existsSync(dead.spoolPath!)).toBe(true);
    fs.rmSync(dead.spoolPath!);

    // second run, store reachable: the files are the truth, the store catches up
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
    const second = new AuditLogger({ sessionId: "crashy", projectPath, sinks: [sink] });
    second.on("error", () => undefined);
    for (let i = 0; i < 30; i++) second.logFileOperation({ operation: "modify", filePath: `/tmp/g${i}` });
    const summary = await second.finalizeSession();
    expect(sink.stats().backfilled).toBeGreaterThanOrEqual(120);
    expect(await countRows(schema, "crashy")).toEqual({ total: summary.totalRecords, distinct: summary.totalRecords });
    const report = await verifyPostgres({ connectionString: PG_URL, schema, sessionId: "crashy" });
    expect(report.problems).toEqual([]);
  });

  it("an idle connection the server drops is no failure to store: no error reported, and the next records are stored", async () => {
    const schema = schemaFor("idle");
    const name = `audit-logger-idle-${process.pid}`;
    const sink = new PostgresSink({ connectionString: PG_URL, schema, poolConfig: { application_name: name } });
    const logger = new AuditLogger({ sessionId: "idle", projectPath: tmpProject(), sinks: [sink] });
    const errors: Error[] = [];
    logger.on("error", (e) => errors.push(e));
    logger.logToolUsage({ toolName: "t", operation: "before" });
    await logger.flush();
    const [{ n }] = (await sql<{ n: string }>(`SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity WHERE application_name = $1`, [name])) as [{ n: string }];
    expect(Number(n)).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    logger.logToolUsage({ toolName: "t", operation: "after" });
    const summary = await logger.finalizeSession();
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(summary.counts.error).toBe(0);
    expect(await countRows(schema, "idle")).toEqual({ total: 2, distinct: 2 });
  });

  it("two instances writing one sessionId are reported as a fork while they write (each seq is in the store twice, with other ts: no conflict, so it went unseen)", async () => {
    const schema = schemaFor("twowriters");
    const errors: string[] = [];
    const loggers = [1, 2].map(() => {
      const l = new AuditLogger({ sessionId: "shared", projectPath: tmpProject(), sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
      l.on("error", (e) => errors.push(e.message));
      return l;
    });
    // (a few ms apart: records of the two made in the same millisecond share (seq, ts), and the
    // store keeps only the first of such a pair)
    for (let i = 0; i < 20; i++) {
      for (const l of loggers) {
        l.logToolUsage({ toolName: "t", operation: `op${i}` });
        await new Promise((r) => setTimeout(r, 3));
      }
    }
    for (const l of loggers) await l.finalizeSession();
    // Each sink reports a fork once at most. The one whose first batch was committed second sees
    // the other's seq 1, in that batch's insert or in its next statement (when the two inserts ran
    // at the same time); the other one too if it checks again after that (it reported nothing
    // before: see the next test).
    const forks = errors.filter((m) => /holds different records at .* of session shared: its chain forks/.test(m));
    expect(forks.length, errors.join("\n")).toBeGreaterThanOrEqual(1);
    expect(forks.length, errors.join("\n")).toBeLessThanOrEqual(2);
    expect(forks.filter((m) => /holds different records at tool_usage#1\b/.test(m)).length, errors.join("\n")).toBeGreaterThanOrEqual(1);
    const report = await verifyPostgres({ connectionString: PG_URL, schema, sessionId: "shared" });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toContain("seq_duplicate");
  });

  it("two instances of one sessionId whose batches are inserted at the same time (neither insert sees the other's rows) are reported as a fork at seq 1 too (it went unreported: found under load)", async () => {
    const schema = schemaFor("together");
    await migratePostgres({ connectionString: PG_URL, schema });
    // This month's partition (and the next) locked against writes: each sink's insert takes its
    // snapshot, then waits to write its rows there; both wait, and are let go together.
    const locker = new pg.Client({ connectionString: PG_URL });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      const parts = await locker.query<{ p: string }>(`SELECT i.inhrelid::regclass::text AS p FROM pg_inherits i WHERE i.inhparent = $1::regclass`, [`"${schema}".audit_records`]);
      expect(parts.rows.length).toBeGreaterThanOrEqual(1);
      for (const { p } of parts.rows) await locker.query(`LOCK TABLE ${p} IN EXCLUSIVE MODE`);
      const app = `audit-logger-together-${process.pid}`;
      const errors: string[] = [];
      const loggers = [1, 2].map((n) => {
        const l = new AuditLogger({ sessionId: "together", projectPath: tmpProject(), sinks: [new PostgresSink({ connectionString: PG_URL, schema, poolConfig: { application_name: `${app}-${n}` } })] });
        l.on("error", (e) => errors.push(e.message));
        return l;
      });
      // (a few ms apart, as above: no two records of one seq share a millisecond)
      for (let i = 0; i < 5; i++) {
        for (const l of loggers) {
          l.logToolUsage({ toolName: "t", operation: `op${i}` });
          await new Promise((r) => setTimeout(r, 3));
        }
      }
      const waiting = async () => {
        const rows = await sql<{ n: string }>(`SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name LIKE $1 AND wait_event_type = 'Lock' AND query LIKE 'WITH x AS%'`, [`${app}-%`]);
        return Number(rows[0]!.n) === 2;
      };
      expect(await until(waiting)).toBe(true);
      await locker.query("COMMIT");
      for (const l of loggers) await l.finalizeSession();
      const forks = errors.filter((m) => /holds different records at .* of session together: its chain forks/.test(m));
      expect(forks.length, errors.join("\n")).toBeGreaterThanOrEqual(1);
      expect(forks.length, errors.join("\n")).toBeLessThanOrEqual(2);
      expect(forks.filter((m) => /holds different records at tool_usage#1\b/.test(m)).length, errors.join("\n")).toBeGreaterThanOrEqual(1);
      const report = await verifyPostgres({ connectionString: PG_URL, schema, sessionId: "together" });
      expect(report.problems.map((p) => p.kind)).toContain("seq_duplicate");
    } finally {
      await locker.end();
    }
  });

  it("a session resumed after a crash that lost records from the files, which the store kept, is reported at once: the store is ahead, and the chain forks there", async () => {
    const schema = schemaFor("ahead");
    const projectPath = tmpProject();
    const first = new AuditLogger({ sessionId: "ahead", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    for (let i = 0; i < 10; i++) first.logToolUsage({ toolName: "t", operation: `op${i}` });
    await first.finalizeSession();
    // the crash: the files lost their last 5 records (the store has them)
    const file = path.join(first.auditDir, "tool_usage_ahead.jsonl");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").split("\n").slice(0, 5).join("\n") + "\n");
    const errors: string[] = [];
    const second = new AuditLogger({ sessionId: "ahead", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    second.on("error", (e) => errors.push(e.message));
    second.logToolUsage({ toolName: "t", operation: "after the crash" });
    await second.finalizeSession();
    expect(errors.filter((m) => m.includes("tool_usage records of session ahead up to seq 10, the files only up to 5"))).toHaveLength(1);
    expect(errors.filter((m) => m.includes("holds different records"))).toEqual([]);
  });

  it("stores records whose model, userId or traceId hold U+0000 or a lone surrogate (text columns cannot); verify and the reader agree with the lines", async () => {
    const schema = schemaFor("nul");
    const sink = new PostgresSink({ connectionString: PG_URL, schema, flushTimeoutMs: 5_000 });
    const logger = new AuditLogger({ sessionId: "nul", projectPath: tmpProject(), sinks: [sink] });
    const errors: Error[] = [];
    logger.on("error", (e) => errors.push(e));
    await auditContext.run({ userId: "u\u0000x", traceId: "t\uD800y" }, async () => {
      logger.logChatInteraction({ model: "m\u0000odel", prompt: "p", response: "r" });
      logger.logToolUsage({ toolName: "t", operation: "after" });
    });
    const summary = await logger.finalizeSession();
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(await countRows(schema, "nul")).toEqual({ total: summary.totalRecords, distinct: summary.totalRecords });
    const report = await verifyPostgres({ connectionString: PG_URL, schema, sessionId: "nul" });
    expect(report.problems).toEqual([]);
    const source = new PostgresRecordSource({ connectionString: PG_URL, schema });
    try {
      const got: Array<Record<string, unknown>> = [];
      for await (const rec of source.records("chat_interaction", "nul")) got.push(rec as unknown as Record<string, unknown>);
      expect(got.map((r) => [r.model, r.userId, r.traceId])).toEqual([["m\u0000odel", "u\u0000x", "t\uD800y"]]);
    } finally {
      await source.close();
    }
    // filters holding such characters find the record, as over the files (they were a raw PostgreSQL error)
    const viewer = new AuditViewer({ postgres: { connectionString: PG_URL, schema } });
    for (const filter of [{ userId: "u\u0000x" }, { model: "m\u0000odel" }, { traceId: "t\uD800y" }]) {
      expect((await viewer.getChatInteractions(filter)).map((r) => r.userId)).toEqual(["u\u0000x"]);
    }
    expect(await viewer.getToolUsages({ toolName: "t\u0000" })).toEqual([]);
  });

  it("viewer filters over the store tell apart values that differ only in U+0000, a lone surrogate or U+FFFD (the columns hold all three as U+FFFD)", async () => {
    const schema = schemaFor("collide");
    const logger = new AuditLogger({ sessionId: "collide", projectPath: tmpProject(), sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    const users = ["bob\u0000", "bob\uD800", "bob\uFFFD", "bob"];
    for (const userId of users) for (let i = 0; i < 3; i++) auditContext.run({ userId }, () => logger.logChatInteraction({ prompt: `p${i}`, response: "r" }));
    await logger.finalizeSession();
    const viewer = new AuditViewer({ postgres: { connectionString: PG_URL, schema } });
    for (const userId of users) {
      const got = await viewer.getChatInteractions({ userId });
      expect(got.map((r) => r.userId)).toEqual([userId, userId, userId]);
      expect((await viewer.getChatInteractions({ userId, limit: 1, offset: 1 })).map((r) => r.promptPreview)).toEqual(["p1"]);
    }
  });

  it("opens its connections outside any request's context, also for a flush() or finalizeSession() called in one (they kept that request's trace and user for their life)", async () => {
    const schema = schemaFor("ctx");
    // the app's own pool, whose idle connections close quickly: each step below needs a new one
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1, idleTimeoutMillis: 30 });
    const madeIn: Array<string | null> = [];
    pool.on("connect", () => madeIn.push(auditContext.get()?.traceId ?? null));
    try {
      const sink = new PostgresSink({ pool, schema });
      const logger = new AuditLogger({ sessionId: "ctx", projectPath: tmpProject(), sinks: [sink] });
      const idle = async () => expect(await until(() => pool.totalCount === 0, 5_000)).toBe(true);
      await auditContext.run({ userId: "req-user", traceId: "req-trace" }, async () => {
        logger.logToolUsage({ toolName: "t", operation: "in a request" });
        await logger.flush();
        await idle();
        await logger.flush(); // its checkpoints need a connection again
        await idle();
        await logger.finalizeSession();
      });
      expect(madeIn.length).toBeGreaterThanOrEqual(2);
      expect(madeIn.filter((t) => t !== null)).toEqual([]);
      expect(await countRows(schema, "ctx")).toEqual({ total: 1, distinct: 1 });
    } finally {
      await pool.end();
    }
  });
});
