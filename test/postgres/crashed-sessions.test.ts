import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger, AuditViewer } from "../../src/index.js";
import { migratePostgres, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "../cli/helpers.js";
import { deadPid, killChildren, leaveLock, startFixture, type ChildHandle } from "../helpers/core.js";
import { filesAndStore, freePort, leaveCrashed, nextSession, PG_URL, PgProxy, schemaRegistry, sql } from "../fixtures/postgres/db.js";

const { schemaFor, dropAll } = schemaRegistry();
const proxies: PgProxy[] = [];
const children: ChildHandle[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await killChildren(children);
  for (const p of proxies.splice(0)) await p.stop();
  await dropAll();
  cleanupTmp();
});

/** A fresh schema, migrated, and a fresh project (its audit directory: `dir`). */
async function storeAndDir(tag: string): Promise<{ schema: string; projectPath: string; dir: string }> {
  const schema = schemaFor(tag);
  await migratePostgres({ connectionString: PG_URL, schema });
  const projectPath = tmpProject();
  return { schema, projectPath, dir: path.join(projectPath, "audit_logs") };
}

/** The records of `sid` in the store equal every line of its files, and verify --postgres finds them whole. */
async function expectStoreHoldsFiles(dir: string, schema: string, sid: string): Promise<number> {
  const { files, store } = await filesAndStore(dir, schema, sid);
  expect(store).toEqual(files);
  const report = await verifyPostgres({ connectionString: PG_URL, schema, sessionId: sid });
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.recordsChecked).toBe(files.length);
  return files.length;
}

describe("a session whose process was SIGKILLed while its PostgresSink held records in memory", () => {
  it("is sent from its files by the next sink in the directory, of another session: the store then holds every record its files hold", async () => {
    const { schema, projectPath, dir } = await storeAndDir("killed");
    const store = new PgProxy(await freePort());
    proxies.push(store);
    await store.start();
    const h = startFixture("../postgres/kill-child.ts", {}, [JSON.stringify({ url: store.url, schema, projectPath, before: 30, after: 200 })]);
    children.push(h);
    const sid = (await h.waitForLine((l) => l.startsWith("stored "), "stored")).slice("stored ".length);
    // the store stalls (no error: the sink keeps the records in memory, none spooled), the child logs on, and is killed
    store.holding = true;
    fs.writeFileSync(path.join(projectPath, "go"), "");
    const logged = await h.waitForLine((l) => l.startsWith("logged "), "logged");
    const held = JSON.parse(logged.slice("logged ".length)) as { queued: number; spilled: number };
    expect(held.queued).toBeGreaterThan(0);
    expect(held.spilled).toBe(0);
    h.child.kill("SIGKILL");
    expect((await h.exited).signal).toBe("SIGKILL");
    await store.stop();
    // what SIGKILL left: the files hold every record, the store the first ones only, no spool, a stale lock
    const left = await filesAndStore(dir, schema, sid);
    expect(left.files.length).toBeGreaterThan(230);
    expect(left.store.length).toBeLessThan(left.files.length);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool"))).toEqual([]);
    expect(fs.existsSync(path.join(dir, `.session_${sid}.lock`))).toBe(true);
    // (verify --postgres cannot see the missing tail)
    expect((await verifyPostgres({ connectionString: PG_URL, schema, sessionId: sid })).problems).toEqual([]);

    // the next process's logger: a new sessionId, the same directory and store (spelt as the
    // child spelt it: its session file names that store)
    store.holding = false;
    await store.start();
    const next = await nextSession(projectPath, { connectionString: store.url, schema });
    expect(next.errors).toEqual([]);
    expect(await expectStoreHoldsFiles(dir, schema, sid)).toBe(left.files.length);
    expect(next.stats.recoveredSessions).toBe(1);
    expect(next.stats.recovered).toBe(left.files.length - left.store.length);
    const [row] = await sql<{ status: string }>(`SELECT status FROM "${schema}".audit_sessions WHERE session_id = $1`, [sid]);
    expect(row?.status).toBe("interrupted"); // (its process died without finalizing it; "active" for good until 2026-12-05)
    const checkpoints = await sql<{ seq: string }>(`SELECT seq::text FROM "${schema}".audit_checkpoints WHERE session_id = $1 AND kind = 'tool_usage' ORDER BY seq DESC LIMIT 1`, [sid]);
    expect(Number(checkpoints[0]?.seq)).toBe(230);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);

    // done once: the sink after it does not read that session again
    const third = await nextSession(projectPath, { connectionString: store.url, schema });
    expect(third.errors).toEqual([]);
    expect(third.stats.recoveredSessions).toBe(0);
    expect(third.stats.recovered).toBe(0);
  }, 60_000);
});

/**
 * A session of `count` records whose files the store lacks (written without a sink), ended
 * cleanly; with `crashed`, left as a SIGKILL leaves it: its lock names a process of this host
 * that has ended, its session file says "active" and lists `sinks` (default: a PostgresSink of a
 * version that did not name its store, which any store's sink recovers).
 */
async function sessionNotInStore(projectPath: string, count: number, crashed: boolean, sinks: readonly string[] = ["PostgresSink"]): Promise<string> {
  const logger = new AuditLogger({ projectPath, durability: "sync", fullContentLogging: false });
  for (let i = 0; i < count; i++) logger.logToolUsage({ toolName: "t", operation: `op${i}` });
  await logger.finalizeSession();
  const sid = logger.sessionId;
  if (crashed) leaveCrashed(path.join(projectPath, "audit_logs"), sid, sinks);
  return sid;
}

const storedOf = async (schema: string, sid: string): Promise<number> =>
  Number((await sql<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".audit_records WHERE session_id = $1`, [sid]))[0]!.n);

describe("recovering crashed sessions as a sink opens", () => {
  it("leaves a session that ended cleanly alone (not read, though the store lacks its records), and `backfill: false` turns it off", async () => {
    const { schema, projectPath, dir } = await storeAndDir("cleanend");
    const clean = await sessionNotInStore(projectPath, 5, false);
    const crashed = await sessionNotInStore(projectPath, 5, true);
    const off = await nextSession(projectPath, { connectionString: PG_URL, schema, backfill: false });
    expect(off.errors).toEqual([]);
    expect(await storedOf(schema, crashed)).toBe(0);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(".pg_recovery_"))).toEqual([]);
    const on = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(on.errors).toEqual([]);
    expect(await expectStoreHoldsFiles(dir, schema, crashed)).toBe(on.stats.recovered);
    expect(on.stats.recoveredSessions).toBe(1);
    expect(off.stats.recoveredSessions).toBe(0);
    expect(off.stats.recovered).toBe(0);
    // the session that ended cleanly is no crash: nothing of it was read or sent
    expect(await storedOf(schema, clean)).toBe(0);
  }, 30_000);

  it("skips a lock file naming a session id no session can have (.session_x.1.lock) and recovers the others", async () => {
    const { schema, projectPath, dir } = await storeAndDir("badlock");
    const crashed = await sessionNotInStore(projectPath, 3, true);
    // planted: lockFileName refuses "x.1" and ".."; until 2026-12-05 the AuditPathError ended the
    // search for crashed sessions (an error reported, no session recovered)
    for (const sid of ["x.1", ".."]) leaveLock(dir, sid);
    const next = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(next.errors).toEqual([]);
    expect(next.stats.recoveredSessions).toBe(1);
    expect(await expectStoreHoldsFiles(dir, schema, crashed)).toBe(3);
  }, 30_000);

  it("takes only a session that wrote to this store: not one with no sink, nor one whose sink wrote to another store", async () => {
    const { schema, projectPath, dir } = await storeAndDir("whose");
    const probe = new PostgresSink({ connectionString: PG_URL, schema });
    const here = probe.description;
    await probe.close();
    expect(here).toMatch(/^PostgresSink:[0-9a-f]{10}$/);
    const other = new PostgresSink({ connectionString: PG_URL, schema: `${schema}_other` });
    const elsewhere = other.description;
    await other.close();
    expect(elsewhere).not.toBe(here);
    const mine = await sessionNotInStore(projectPath, 4, true, [here]);
    const noSink = await sessionNotInStore(projectPath, 4, true, []);
    const otherStore = await sessionNotInStore(projectPath, 4, true, [elsewhere]);
    const next = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(next.errors).toEqual([]);
    expect(await expectStoreHoldsFiles(dir, schema, mine)).toBe(4);
    expect(next.stats.recoveredSessions).toBe(1);
    expect(await storedOf(schema, noSink)).toBe(0);
    expect(await storedOf(schema, otherStore)).toBe(0);
    // and a logger's session file names its PostgresSink by store
    const own = JSON.parse(fs.readFileSync(path.join(dir, fs.readdirSync(dir).find((f) => f.startsWith("session_") && ![mine, noSink, otherStore].some((x) => f === `session_${x}.json`))!), "utf8")) as {
      config: { sinks: string[] };
    };
    expect(own.config.sinks).toEqual([here]);
  }, 30_000);

  it("is done by one of two sinks opening at once, and a claim whose process is gone is taken over", async () => {
    const { schema, projectPath, dir } = await storeAndDir("twoopen");
    const a = await sessionNotInStore(projectPath, 40, true);
    const b = await sessionNotInStore(projectPath, 40, true);
    // b's crash was claimed by a sink whose process died before it was done
    const sinkProbe = new PostgresSink({ connectionString: PG_URL, schema });
    const probe = new AuditLogger({ projectPath, sinks: [sinkProbe], fullContentLogging: false });
    probe.on("error", () => undefined);
    const marker = (sid: string) => fs.readdirSync(dir).find((f) => f.startsWith(".pg_recovery_") && f.endsWith(`_${sid}`));
    // (the probe's sink has claimed or recovered both by the time its record is stored)
    expect(await sinkProbe.whenStored(10_000)).toBe(true);
    await probe.finalizeSession();
    for (const sid of [a, b]) await expectStoreHoldsFiles(dir, schema, sid);
    expect(sinkProbe.stats().recoveredSessions).toBe(2);
    const bLock = fs.readFileSync(path.join(dir, `.session_${b}.lock`), "utf8");
    fs.writeFileSync(path.join(dir, marker(b)!), JSON.stringify({ lock: bLock, pid: deadPid() }));
    await sql(`DROP SCHEMA "${schema}" CASCADE`);
    await migratePostgres({ connectionString: PG_URL, schema });
    // two loggers open at once, each with a sink of the store
    const sinks = [new PostgresSink({ connectionString: PG_URL, schema }), new PostgresSink({ connectionString: PG_URL, schema })];
    const loggers = sinks.map((s) => new AuditLogger({ projectPath, sinks: [s], fullContentLogging: false }));
    const errors: string[] = [];
    for (const l of loggers) l.on("error", (e) => errors.push(e.message));
    await Promise.all(loggers.map((l) => l.finalizeSession()));
    expect(errors).toEqual([]);
    // a's marker says done: neither sends it again; b's dead claim is taken over by one of them
    expect(sinks.map((s) => s.stats().recoveredSessions).sort()).toEqual([0, 1]);
    expect(sinks.reduce((n, s) => n + s.stats().recovered, 0)).toBe(await storedOf(schema, b));
    expect(await storedOf(schema, a)).toBe(0);
    expect(await expectStoreHoldsFiles(dir, schema, b)).toBeGreaterThanOrEqual(40);
    expect(JSON.parse(fs.readFileSync(path.join(dir, marker(b)!), "utf8"))).toEqual({ lock: bLock, done: true });
  }, 30_000);

  it("a crash of a session recovered before (a new lock) is recovered again, and each store recovers it for itself", async () => {
    const { schema, projectPath, dir } = await storeAndDir("again");
    const sid = await sessionNotInStore(projectPath, 3, true);
    const first = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(await storedOf(schema, sid)).toBe(3);
    expect(first.stats.recoveredSessions).toBe(1);
    // the session resumed, three more records, killed again
    const resumed = new AuditLogger({ sessionId: sid, projectPath, durability: "sync", fullContentLogging: false });
    for (let i = 0; i < 3; i++) resumed.logToolUsage({ toolName: "t", operation: `again${i}` });
    await resumed.finalizeSession();
    leaveCrashed(dir, sid);
    const again = await nextSession(projectPath, { connectionString: PG_URL, schema });
    await expectStoreHoldsFiles(dir, schema, sid);
    expect(again.stats.recoveredSessions).toBe(1);
    expect(again.stats.recovered).toBeGreaterThanOrEqual(3);
    // another store (here: the same server under another name, so another store to the sinks)
    const other = new PgProxy(await freePort());
    proxies.push(other);
    await other.start();
    expect((await nextSession(projectPath, { connectionString: other.url, schema })).stats.recoveredSessions).toBe(1);
  }, 30_000);

  it("a crashed session whose recovery fails on the disk is reported through the error event, and the sink goes on storing its own records", async () => {
    const { schema, projectPath } = await storeAndDir("diskfail");
    const sid = await sessionNotInStore(projectPath, 3, true);
    // the marker cannot be made (a directory the process may not write, as another user's)
    const link = fs.linkSync;
    vi.spyOn(fs, "linkSync").mockImplementation((from, to) => {
      if (path.basename(String(to)).startsWith(".pg_recovery_")) throw Object.assign(new Error(`EACCES: permission denied, link '${String(from)}' -> '${String(to)}'`), { code: "EACCES", path: String(from) });
      return link(from, to);
    });
    const sink = new PostgresSink({ connectionString: PG_URL, schema, retryMinMs: 50 });
    const logger = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
    const errors: string[] = [];
    logger.on("error", (e) => errors.push(e.message));
    logger.logToolUsage({ toolName: "t", operation: "own" });
    expect(await sink.whenStored(5_000)).toBe(true);
    await logger.finalizeSession();
    expect(errors.filter((m) => m.includes(`could not recover session ${sid}`) && m.includes("EACCES"))).toHaveLength(1);
    expect(sink.stats().outage).toBe(false);
    expect(sink.stats().recoveredSessions).toBe(0);
    expect(await storedOf(schema, logger.sessionId)).toBeGreaterThanOrEqual(1);
    // the next sink, the disk writable again, recovers it
    vi.restoreAllMocks();
    expect((await nextSession(projectPath, { connectionString: PG_URL, schema })).stats.recoveredSessions).toBe(1);
    expect(await storedOf(schema, sid)).toBe(3);
  }, 30_000);
});

// Found by the integrity pass, 2026-12-05: a session whose process was killed stayed "active" in
// the store for good (the viewer over the store showed it running), though the next sink in its
// directory finds it dead (its lock left, no live process) and sends its last records.
describe("the store's status of a session whose process was SIGKILLed", () => {
  it("is interrupted once the next sink in its directory recovers it (viewer, summary --postgres); a logger resuming it makes it active, then finalized", async () => {
    const { schema, projectPath, dir } = await storeAndDir("status");
    const h = startFixture("../postgres/kill-child.ts", {}, [JSON.stringify({ url: PG_URL, schema, projectPath, before: 5, after: 3 })]);
    children.push(h);
    const sid = (await h.waitForLine((l) => l.startsWith("stored "), "stored")).slice("stored ".length);
    fs.writeFileSync(path.join(projectPath, "go"), "");
    await h.waitForLine((l) => l.startsWith("logged "), "logged");
    h.child.kill("SIGKILL");
    expect((await h.exited).signal).toBe("SIGKILL");
    const statusOf = async (): Promise<{ status: string; closed: boolean } | undefined> =>
      (await sql<{ status: string; closed: boolean }>(`SELECT status, closed_at IS NOT NULL AS closed FROM "${schema}".audit_sessions WHERE session_id = $1`, [sid]))[0];
    // (the kill itself tells the store nothing)
    expect(await statusOf()).toEqual({ status: "active", closed: false });

    const next = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(next.errors).toEqual([]);
    expect(next.stats.recoveredSessions).toBe(1);
    expect(await statusOf()).toEqual({ status: "interrupted", closed: true });
    const viewer = new AuditViewer({ postgres: { connectionString: PG_URL, schema } });
    const listed = (await viewer.listSessions()).find((l) => l.sessionId === sid);
    expect(listed?.status).toBe("interrupted");
    expect(listed?.totalRecords).toBe(9); // every record, the last ones sent by the recovery
    expect((await viewer.getSessionSummary(sid))?.status).toBe("interrupted");
    expect((await viewer.listSessions()).find((l) => l.sessionId === next.sessionId)?.status).toBe("finalized");
    const summary = await runCli(["summary", "--postgres", PG_URL, "--schema", schema, "--session", sid]);
    expect(summary.code, summary.stderr).toBe(0);
    expect(summary.stdout).toContain(`Session ${sid} (interrupted)`);
    // (its files say what they said: the session file "active", the lock a dead process's)
    expect(JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8")).status).toBe("active");
    // and the files' readers agree: the lock the dead child left tells them so
    expect((await new AuditViewer({ auditPath: dir }).listSessions()).find((l) => l.sessionId === sid)?.status).toBe("interrupted");

    // the same session resumed by a new process: active while it runs, finalized after
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
    const resumed = new AuditLogger({ projectPath, sessionId: sid, sinks: [sink], fullContentLogging: false });
    resumed.logToolUsage({ toolName: "t", operation: "resumed" });
    expect(await sink.whenStored(10_000)).toBe(true);
    expect(await statusOf()).toEqual({ status: "active", closed: false });
    // another sink opening in the directory meanwhile leaves the live session alone
    expect((await nextSession(projectPath, { connectionString: PG_URL, schema })).stats.recoveredSessions).toBe(0);
    expect(await statusOf()).toEqual({ status: "active", closed: false });
    await resumed.finalizeSession();
    expect(await statusOf()).toEqual({ status: "finalized", closed: true });
  }, 90_000);

  it("a row of another host's run (same pid, no resumedAt: two first runs of one session id, pid 1 in two containers) is left as it is; this host's run's is marked interrupted", async () => {
    // (the same-run check compared pid and resumedAt only: two first runs of one sessionId on two
    // hosts whose processes have the same pid passed as one, and the recovery of the crash on this
    // host marked the other host's live run "interrupted"; found by the session-status pass, 2026-12-05)
    const { schema, projectPath, dir } = await storeAndDir("otherhost");
    for (const sid of ["here", "elsewhere"]) {
      const logger = new AuditLogger({ sessionId: sid, projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
      logger.logToolUsage({ toolName: "t", operation: sid });
      await logger.finalizeSession();
    }
    // (both crashed after both ran: a crash left before the second ran would be its sink's to recover)
    for (const sid of ["here", "elsewhere"]) {
      leaveCrashed(dir, sid);
      // (its session file as the crashed first run's process left it: pid 1, this host, no resumedAt)
      const f = path.join(dir, `session_${sid}.json`);
      const crashed = { ...(JSON.parse(fs.readFileSync(f, "utf8")) as Record<string, unknown>), pid: 1, hostname: os.hostname() };
      fs.writeFileSync(f, JSON.stringify(crashed));
      // the store's rows: each that of a live run, "active"; the one of "elsewhere" that of a first
      // run on another host, with the pid and (no) resumedAt of the session file here
      const info = sid === "elsewhere" ? { ...crashed, hostname: "another-host" } : crashed;
      await sql(`UPDATE "${schema}".audit_sessions SET status = 'active', closed_at = NULL, info = $2::jsonb WHERE session_id = $1`, [sid, JSON.stringify(info)]);
    }
    const file = JSON.parse(fs.readFileSync(path.join(dir, "session_elsewhere.json"), "utf8")) as { pid: number; hostname: string; resumedAt?: string };
    expect(file).toMatchObject({ status: "active", pid: 1, hostname: os.hostname() });
    expect(file.resumedAt).toBeUndefined();
    const rowOf = async (sid: string) =>
      (await sql<{ status: string; closed: boolean; pid: string; hostname: string }>(`SELECT status, closed_at IS NOT NULL AS closed, info->>'pid' AS pid, info->>'hostname' AS hostname FROM "${schema}".audit_sessions WHERE session_id = $1`, [sid]))[0];
    expect(await rowOf("elsewhere")).toEqual({ status: "active", closed: false, pid: String(file.pid), hostname: "another-host" });

    const next = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(next.errors).toEqual([]);
    expect(next.stats.recoveredSessions).toBe(2);
    expect(await rowOf("here")).toEqual({ status: "interrupted", closed: true, pid: String(file.pid), hostname: file.hostname });
    expect(await rowOf("elsewhere")).toEqual({ status: "active", closed: false, pid: String(file.pid), hostname: "another-host" });
  }, 30_000);

  it("a row of another run of this host with the same pid and resumedAt but another procStart (a pid reused) is left as it is; the same procStart's, or a row without one, is marked interrupted", async () => {
    // (the same-run check compared pid, resumedAt and hostname, not the process's start the session
    // file records on Linux: a later first run whose process got the crashed one's pid passed as
    // the crashed run, and its live row was marked "interrupted"; found 2026-12-06)
    const { schema, projectPath, dir } = await storeAndDir("procstart");
    const sids = ["same_start", "reused_pid", "row_without_start"] as const;
    for (const sid of sids) {
      const logger = new AuditLogger({ sessionId: sid, projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
      logger.logToolUsage({ toolName: "t", operation: sid });
      await logger.finalizeSession();
    }
    for (const sid of sids) {
      leaveCrashed(dir, sid);
      // (the session file as the crashed first run left it: pid 1, this host, its procStart, no resumedAt)
      const f = path.join(dir, `session_${sid}.json`);
      const { procStart: _p, ...rest } = JSON.parse(fs.readFileSync(f, "utf8")) as Record<string, unknown>;
      const crashed = { ...rest, pid: 1, hostname: os.hostname(), procStart: "4242" };
      fs.writeFileSync(f, JSON.stringify(crashed));
      // the store's rows, each a live run's, "active", differing from the file only in procStart
      const info = sid === "same_start" ? crashed : sid === "reused_pid" ? { ...crashed, procStart: "9999" } : { ...rest, pid: 1, hostname: os.hostname() };
      await sql(`UPDATE "${schema}".audit_sessions SET status = 'active', closed_at = NULL, info = $2::jsonb WHERE session_id = $1`, [sid, JSON.stringify(info)]);
    }
    const rowOf = async (sid: string) =>
      (await sql<{ status: string; closed: boolean; procStart: string | null }>(`SELECT status, closed_at IS NOT NULL AS closed, info->>'procStart' AS "procStart" FROM "${schema}".audit_sessions WHERE session_id = $1`, [sid]))[0];
    expect(await rowOf("reused_pid")).toEqual({ status: "active", closed: false, procStart: "9999" });

    const next = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(next.errors).toEqual([]);
    expect(next.stats.recoveredSessions).toBe(3);
    expect(await rowOf("same_start")).toEqual({ status: "interrupted", closed: true, procStart: "4242" });
    expect(await rowOf("reused_pid")).toEqual({ status: "active", closed: false, procStart: "9999" });
    expect(await rowOf("row_without_start")).toEqual({ status: "interrupted", closed: true, procStart: "4242" });
  }, 30_000);

  it("resumed by another process while the next sink recovers it: that sink leaves the resumed run's row active", async () => {
    // (the recovery read the session file once it had sent the records: by then the resumed run's,
    // "active", which it took for a crashed one, and, being that run's, marked the live run's row
    // "interrupted"; found by the session-status pass, 2026-12-05)
    const { schema, projectPath, dir } = await storeAndDir("resumedmid");
    const store = new PgProxy(await freePort());
    proxies.push(store);
    await store.start();
    const h = startFixture("../postgres/kill-child.ts", {}, [JSON.stringify({ url: store.url, schema, projectPath, before: 5, after: 3 })]);
    children.push(h);
    const sid = (await h.waitForLine((l) => l.startsWith("stored "), "stored")).slice("stored ".length);
    fs.writeFileSync(path.join(projectPath, "go"), "");
    await h.waitForLine((l) => l.startsWith("logged "), "logged");
    h.child.kill("SIGKILL");
    expect((await h.exited).signal).toBe("SIGKILL");
    // the next sink of that store takes the crashed session up; its first statement about it is
    // held on the way, and meanwhile another process resumes the session (another instance, whose
    // sink names the store otherwise)
    const gate = store.holdStatement(sid);
    const sink = new PostgresSink({ connectionString: store.url, schema });
    const next = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
    const errors: string[] = [];
    next.on("error", (e) => errors.push(e.message));
    await gate.reached;
    const again = startFixture("../postgres/end-child.ts", {}, [JSON.stringify({ url: PG_URL, schema, projectPath, end: "live", sessionId: sid, records: 2 })]);
    children.push(again);
    await again.waitForLine((l) => l === `stored ${sid}`, "stored");
    const rowOf = async () => (await sql<{ status: string; pid: string | null }>(`SELECT status, info->>'pid' AS pid FROM "${schema}".audit_sessions WHERE session_id = $1`, [sid]))[0];
    expect(await rowOf()).toEqual({ status: "active", pid: String(again.child.pid) });
    gate.release();
    next.logToolUsage({ toolName: "t", operation: "next" });
    await next.finalizeSession();
    expect(errors).toEqual([]);
    expect(sink.stats().recoveredSessions).toBe(1);
    expect(await rowOf()).toEqual({ status: "active", pid: String(again.child.pid) });
    expect(JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8")).status).toBe("active");
    expect((await new AuditViewer({ auditPath: dir }).listSessions()).find((l) => l.sessionId === sid)?.status).toBe("active");
    expect((await new AuditViewer({ postgres: { connectionString: PG_URL, schema } }).listSessions()).find((l) => l.sessionId === sid)?.status).toBe("active");
    // that run ends through its exit hook: the next sink of its store marks it, of that run
    again.child.kill("SIGTERM");
    await again.exited;
    expect((await nextSession(projectPath, { connectionString: PG_URL, schema })).errors).toEqual([]);
    expect(await rowOf()).toEqual({ status: "interrupted", pid: String(again.child.pid) });
  }, 90_000);
});
