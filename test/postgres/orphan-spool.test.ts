import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { migratePostgres, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { OWN_PROC_START } from "../../src/sink/owner.js";
import { clockAhead, nameOf } from "../helpers/core.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, endedWithSpools, freePort, freshSchema, PG_URL, PgProxy, sql } from "../fixtures/postgres/db.js";

const HOUR = 3_600_000;
const schemas: string[] = [];
const proxies: PgProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.stop();
  for (const s of schemas.splice(0)) await dropSchema(s);
  cleanupTmp();
});

/** Runs a logger with a sink of `url`/`schema` in `projectPath` (one record, finalized, no error): the tool records of each session in the store then. */
async function storedAfterRun(projectPath: string, url: string, schema: string): Promise<Map<string, number>> {
  const b = new AuditLogger({ projectPath, sinks: [new PostgresSink({ connectionString: url, schema })], fullContentLogging: false });
  const errors: string[] = [];
  b.on("error", (e) => errors.push(e.message));
  b.logToolUsage({ toolName: "t", operation: "op" });
  await b.finalizeSession();
  expect(errors).toEqual([]);
  const rows = await sql<{ session_id: string; n: string }>(`SELECT session_id, count(*)::text AS n FROM "${schema}".audit_records WHERE kind = 'tool_usage' GROUP BY 1`);
  return new Map(rows.map((r) => [r.session_id, Number(r.n)]));
}

/** The store, reached through a proxy that is down until `start()`: the same store to the sinks before and after. */
async function storeDown(): Promise<PgProxy> {
  const p = new PgProxy(await freePort());
  proxies.push(p);
  return p;
}

/** A fresh schema, migrated (dropped after the test), and a fresh project (its audit directory: `dir`). */
async function storeAndDir(tag: string): Promise<{ schema: string; projectPath: string; dir: string }> {
  const schema = freshSchema(tag);
  schemas.push(schema);
  await migratePostgres({ connectionString: PG_URL, schema });
  const projectPath = tmpProject();
  return { schema, projectPath, dir: path.join(projectPath, "audit_logs") };
}

const spools = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool"));

describe("a spool left by a session that ended while the store was away", () => {
  it("is replayed by the next sink in that directory, though its sessionId is another (the default: new per process)", async () => {
    const { schema, projectPath, dir } = await storeAndDir("orph");
    const store = await storeDown();
    // the first process: the store unreachable while it ends
    const a = new AuditLogger({ projectPath, sinks: [new PostgresSink({ connectionString: store.url, schema, closeTimeoutMs: 300 })], fullContentLogging: false });
    a.on("error", () => undefined);
    for (let i = 0; i < 5; i++) a.logToolUsage({ toolName: "t", operation: "op" });
    await a.finalizeSession();
    expect(spools(dir)).toHaveLength(1);
    // (the five records, and the errors record of the failure to store them)
    const spooled = fs.readFileSync(path.join(dir, spools(dir)[0]!), "utf8").trimEnd().split("\n").length;
    expect(spooled).toBeGreaterThanOrEqual(5);
    // a spool of another schema in the same directory is not this sink's to replay
    fs.copyFileSync(path.join(dir, spools(dir)[0]!), path.join(dir, `.pg_spool_otherschema_${a.sessionId}.jsonl`));
    // the next process: a new sessionId, the store back
    await store.start();
    const errors: string[] = [];
    const sink = new PostgresSink({ connectionString: store.url, schema });
    const b = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
    b.on("error", (e) => errors.push(e.message));
    b.logToolUsage({ toolName: "t", operation: "op" });
    await b.finalizeSession();
    expect(errors).toEqual([]);
    expect(sink.stats().adopted).toBe(spooled);
    const rows = await sql<{ session_id: string; n: string }>(`SELECT session_id, count(*)::text AS n FROM "${schema}".audit_records GROUP BY 1 ORDER BY 1`);
    expect(rows.map((r) => [r.session_id, Number(r.n)]).sort()).toEqual([[a.sessionId, spooled], [b.sessionId, 1]].sort());
    const [row] = await sql<{ status: string }>(`SELECT status FROM "${schema}".audit_sessions WHERE session_id = $1`, [a.sessionId]);
    expect(row?.status).toBe("finalized");
    expect(spools(dir)).toEqual([`.pg_spool_otherschema_${a.sessionId}.jsonl`]);
    const report = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(report.problems).toEqual([]);
    expect(report.sessions).toContain(a.sessionId);
  });

  it("is left alone while its session's logger lives (its own sink replays it)", async () => {
    const { schema, projectPath, dir } = await storeAndDir("orphlive");
    const store = await storeDown();
    // (no retry of its own before B ends: its spool stays while B opens)
    const a = new AuditLogger({ projectPath, sinks: [new PostgresSink({ connectionString: store.url, schema, flushTimeoutMs: 100, closeTimeoutMs: 300, retryMinMs: 60_000 })], fullContentLogging: false });
    a.on("error", () => undefined);
    a.logToolUsage({ toolName: "t", operation: "op" });
    await a.flush();
    expect(spools(dir)).toHaveLength(1);
    await store.start();
    const sink = new PostgresSink({ connectionString: store.url, schema });
    const b = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
    b.logToolUsage({ toolName: "t", operation: "op" });
    await b.finalizeSession();
    expect(sink.stats().adopted).toBe(0);
    expect(spools(dir)).toHaveLength(1);
    const rows = await sql(`SELECT 1 FROM "${schema}".audit_records WHERE session_id = $1`, [a.sessionId]);
    expect(rows).toHaveLength(0);
    a.removeAllListeners("error");
    a.on("error", () => undefined);
    await a.finalizeSession();
  });

  it("claimed by an adopter that crashed is taken over though the claim's pid lives again (pid reuse), and a live claim is left alone", async () => {
    const { schema, projectPath, dir } = await storeAndDir("orphpid");
    const store = await storeDown();
    // three ended sessions, each leaving a spool of three records
    const ended = await endedWithSpools(projectPath, store.url, schema);
    const spoolOf = (sid: string) => path.join(dir, spools(dir).find((f) => f.endsWith(`_${sid}.jsonl`))!);
    const start = OWN_PROC_START ?? "1";
    const otherStart = String(Number(start) + 1);
    // (names as this version makes them, nameOf: this host's and pid namespace's, judged by the pid)
    // 1: claimed by an earlier process that had this process's pid (a container's app is pid 1 after every restart)
    fs.renameSync(spoolOf(ended[0]!), `${spoolOf(ended[0]!)}.adopting-${nameOf(process.pid)}-${otherStart}`);
    // 2: claimed by a process whose pid another live process has now
    const pid1Start = fs.existsSync("/proc/1/stat") ? fs.readFileSync("/proc/1/stat", "utf8").split(") ")[1]!.split(" ")[19]! : "0";
    fs.renameSync(spoolOf(ended[1]!), `${spoolOf(ended[1]!)}.adopting-${nameOf(1)}-${Number(pid1Start) + 1}`);
    // 3: claimed by this very process (another sink of it is replaying it): not to be touched
    const live = `${spoolOf(ended[2]!)}.adopting-${nameOf(process.pid)}${OWN_PROC_START !== undefined ? `-${OWN_PROC_START}` : ""}`;
    fs.renameSync(spoolOf(ended[2]!), live);
    await store.start();
    const stored = await storedAfterRun(projectPath, store.url, schema);
    expect(stored.get(ended[0]!)).toBe(3);
    expect(stored.get(ended[1]!)).toBe(3);
    expect(stored.get(ended[2]!)).toBeUndefined();
    expect(spools(dir)).toEqual([path.basename(live)]);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  });

  // (until 2026-12-06 such a claim was judged by its pid here, and one naming this process's pid
  // made before it started was taken over at once: another container's live adopter of an older
  // version, pid 1 in both, lost its claim so. An older name does not say whose it is: by its age)
  it("claimed as an older version names a claim (by pid only), this process's pid among them, is kept while young, and taken over once an hour untouched", async () => {
    const { schema, projectPath, dir } = await storeAndDir("orphown");
    const store = await storeDown();
    const ended = await endedWithSpools(projectPath, store.url, schema, 2);
    const spoolOf = (sid: string) => path.join(dir, spools(dir).find((f) => f.endsWith(`_${sid}.jsonl`))!);
    const claims = [`${spoolOf(ended[0]!)}.adopting-${process.pid}`, `${spoolOf(ended[1]!)}.adopting-1`];
    fs.renameSync(spoolOf(ended[0]!), claims[0]!);
    fs.renameSync(spoolOf(ended[1]!), claims[1]!);
    await store.start();
    const run = (): Promise<Map<string, number>> => storedAfterRun(projectPath, store.url, schema);
    const first = await run();
    for (const sid of ended) expect(first.get(sid), sid).toBeUndefined();
    expect(spools(dir).sort()).toEqual(claims.map((c) => path.basename(c)).sort());
    clockAhead(HOUR + 60_000);
    try {
      const later = await run();
      for (const sid of ended) expect(later.get(sid), sid).toBe(3);
      expect(spools(dir)).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  }, 30_000);
});

describe("one logger writing two stores (one schema name)", () => {
  async function proxy(): Promise<PgProxy> {
    const p = new PgProxy(await freePort());
    proxies.push(p);
    await p.start();
    return p;
  }

  it("keeps a spool per store: a sink of another store does not adopt it, one of its own store does", async () => {
    const { schema, projectPath, dir } = await storeAndDir("twostores");
    // store 2 is reached through a proxy (another host:port, so another store to the sinks), down while A runs
    const store2 = await proxy();
    await store2.stop();
    const a = new AuditLogger({
      projectPath,
      sinks: [new PostgresSink({ connectionString: PG_URL, schema }), new PostgresSink({ connectionString: store2.url, schema, closeTimeoutMs: 200, connectTimeoutMs: 300 })],
      fullContentLogging: false,
    });
    a.on("error", () => undefined);
    for (let i = 0; i < 5; i++) a.logToolUsage({ toolName: "t", operation: `op${i}` });
    await a.finalizeSession();
    expect(spools(dir)).toHaveLength(1);
    const left = spools(dir)[0]!;
    // B writes store 1 only: store 2's spool is not its to replay
    const s1 = new PostgresSink({ connectionString: PG_URL, schema });
    const b = new AuditLogger({ projectPath, sinks: [s1], fullContentLogging: false });
    b.logToolUsage({ toolName: "t", operation: "b" });
    await b.finalizeSession();
    expect(s1.stats().adopted).toBe(0);
    expect(spools(dir)).toEqual([left]);
    // C writes store 2, up again: it adopts the spool
    await store2.start();
    const s2 = new PostgresSink({ connectionString: store2.url, schema });
    const c = new AuditLogger({ projectPath, sinks: [s2], fullContentLogging: false });
    c.logToolUsage({ toolName: "t", operation: "c" });
    await c.finalizeSession();
    expect(s2.stats().adopted).toBeGreaterThanOrEqual(5);
    expect(spools(dir)).toEqual([]);
  }, 30_000);

  it("both away, then back: each sink replays its own spool and is done (it spun at 100% CPU on a shared one)", async () => {
    const { schema, projectPath } = await storeAndDir("twoout");
    const [p1, p2] = [await proxy(), await proxy()];
    const opts = { schema, retryMinMs: 50, retryMaxMs: 200, connectTimeoutMs: 500, flushTimeoutMs: 500 };
    const s1 = new PostgresSink({ connectionString: p1.url, ...opts });
    const s2 = new PostgresSink({ connectionString: p2.url, ...opts });
    const logger = new AuditLogger({ projectPath, sinks: [s1, s2], fullContentLogging: false });
    logger.on("error", () => undefined);
    logger.logToolUsage({ toolName: "t", operation: "warmup" });
    await logger.flush();
    await p1.stop();
    await p2.stop();
    for (let i = 0; i < 100; i++) {
      // lines of different lengths, flushed now and then: the two sinks' appends interleave
      logger.logToolUsage({ toolName: "t", operation: "x".repeat(i % 7) + i });
      if (i % 10 === 0) await logger.flush();
    }
    await logger.flush();
    expect(s1.spoolPath).not.toBe(s2.spoolPath);
    await p1.start();
    await p2.start();
    expect(await Promise.all([s1.whenStored(8_000), s2.whenStored(8_000)])).toEqual([true, true]);
    const [row] = await sql<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".audit_records WHERE session_id = $1 AND kind = 'tool_usage'`, [logger.sessionId]);
    expect(Number(row!.n)).toBe(101);
    await logger.finalizeSession();
    expect(spools(path.join(projectPath, "audit_logs"))).toEqual([]);
  }, 30_000);

  it("a spool another writer appended to (its window then ends inside a line) is replayed and done, the piece skipped and reported: the pump spun at 100% CPU on it", async () => {
    const { schema, projectPath } = await storeAndDir("torn");
    const store = await storeDown();
    const spoolPath = path.join(projectPath, "shared.spool");
    const sink = new PostgresSink({ connectionString: store.url, schema, spoolPath, retryMinMs: 50, retryMaxMs: 100, connectTimeoutMs: 300, flushTimeoutMs: 200 });
    const logger = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
    const errors: string[] = [];
    logger.on("error", (e) => errors.push(e.message));
    fs.writeFileSync(spoolPath, "another writer's piece"); // after the sink opened its spool
    for (let i = 0; i < 10; i++) logger.logToolUsage({ toolName: "t", operation: `op${i}` });
    await logger.flush();
    await store.start();
    const cpu = process.cpuUsage();
    expect(await sink.whenStored(5_000)).toBe(true);
    const used = process.cpuUsage(cpu);
    expect((used.user + used.system) / 1000).toBeLessThan(2_000);
    expect(errors.some((e) => /not a whole line/.test(e))).toBe(true);
    expect(fs.existsSync(spoolPath)).toBe(false);
    await logger.finalizeSession();
  }, 30_000);

  it("a spool of the default schema named by session only (as before 2026-12-05) is still taken up by a sink of the default schema, of no other", async () => {
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    // a spool an older version left for session "old" (one sealed line of it)
    const store = await storeDown();
    const a = new AuditLogger({ sessionId: "old", projectPath, fullContentLogging: false });
    a.logToolUsage({ toolName: "t", operation: "op" });
    await a.finalizeSession();
    const line = fs.readFileSync(path.join(dir, "tool_usage_old.jsonl"), "utf8");
    fs.writeFileSync(path.join(dir, ".pg_spool_old.jsonl"), line);
    // (the store is down: what a sink has to send shows as not stored)
    const pending = async (schema?: string): Promise<boolean> => {
      const sink = new PostgresSink({ connectionString: store.url, ...(schema ? { schema } : {}), connectTimeoutMs: 200, closeTimeoutMs: 0, flushTimeoutMs: 0 });
      const b = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
      b.on("error", () => undefined);
      const stored = await sink.whenStored(300);
      await b.finalizeSession();
      return !stored;
    };
    expect(await pending("another_schema")).toBe(false);
    expect(await pending()).toBe(true);
    // (released for the next one, under its name)
    expect(spools(dir)).toContain(".pg_spool_old.jsonl");
  }, 30_000);

  it("naming a session id no session can have (x.1, ..) is left alone, and the sink opens", async () => {
    const { schema, projectPath, dir } = await storeAndDir("orphbad");
    const probe = new PostgresSink({ connectionString: PG_URL, schema });
    const key = probe.description.slice("PostgresSink:".length);
    await probe.close();
    fs.mkdirSync(dir, { recursive: true });
    // planted: lockFileName refuses these ids; until 2026-12-05 the AuditPathError failed the
    // sink's open() (a critical audit_write_failed record: the crashed-session search, the
    // session's info and the tails of its files were skipped)
    for (const sid of ["x.1", ".."]) {
      const line = `{"id":"r","type":"tool_usage","sessionId":"${sid}","seq":1,"timestamp":"2026-01-01T00:00:00.000Z","prevHash":"${"0".repeat(64)}","hash":"${"a".repeat(64)}"}`;
      fs.writeFileSync(path.join(dir, `.pg_spool_${key}_${sid}.jsonl`), line + "\n");
    }
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
    const b = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
    b.on("error", () => undefined);
    b.logToolUsage({ toolName: "t", operation: "op" });
    await b.finalizeSession();
    const errors = fs.readFileSync(path.join(dir, `errors_${b.sessionId}.jsonl`), "utf8");
    expect(errors).not.toContain("Opening sink");
    expect(sink.stats().adopted).toBe(0);
    expect(spools(dir).sort()).toEqual([`.pg_spool_${key}_...jsonl`, `.pg_spool_${key}_x.1.jsonl`]);
    const report = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(report.problems).toEqual([]);
    expect(report.sessions).toEqual([b.sessionId]);
  });
});
