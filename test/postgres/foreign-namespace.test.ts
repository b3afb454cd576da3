// Found 2026-12-06: a spool's claim (`….adopting-<pid>-<start>`) and a crash recovery's claim (the
// recovery marker, `{lock, pid, procStart}`) were judged by their pid in this pid namespace: a
// container given this host's name and sharing the audit directory had its claim taken over
// while it replayed or recovered, when its pid was free here. A claim now names its pid namespace
// (`<pid>n<namespace>` in the name; the whole holder, pidNs too, in the marker): one of another
// namespace is taken over only once an hour old; one of this namespace whose process is gone at
// once; an older claim as before. A spool's claim names its host too since (`…h<host>`: two hosts
// sharing the directory over the network commonly have pid namespaces of one number), judged as
// one of another namespace when it is another host's. The other namespace or host is written as a
// process of it writes it (a second pid namespace takes privileges this test has not). Real
// PostgreSQL, real files, real processes; the hour is reached with the clock set ahead (Date only).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { migratePostgres, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { OWN_HOST_TAG, OWN_NS_TAG, OWN_PROC_START } from "../../src/sink/owner.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { childArgs } from "../helpers/child-args.js";
import { clockAhead, deadPid, killedPid, OTHER_HOST_TAG, OTHER_NS_TAG, OWN_NS_SUFFIX } from "../helpers/core.js";
import { endedWithSpools, freePort, leaveCrashed, PG_URL, PgProxy, schemaRegistry, sql } from "../fixtures/postgres/db.js";

const { schemaFor, dropAll } = schemaRegistry();
const proxies: PgProxy[] = [];
const HOUR = 3_600_000;

afterEach(async () => {
  vi.useRealTimers();
  for (const p of proxies.splice(0)) await p.stop();
  await dropAll();
  cleanupTmp();
});

/** The tool records of session `sid` in the store. */
const storedOf = async (schema: string, sid: string): Promise<number> =>
  Number((await sql<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".audit_records WHERE session_id = $1 AND kind = 'tool_usage'`, [sid]))[0]!.n);

/** Opens a logger with a sink of `url`/`schema` in `projectPath`, logs one record, finalizes: its sink's stats and errors. */
async function oneRun(projectPath: string, url: string, schema: string): Promise<{ stats: ReturnType<PostgresSink["stats"]>; errors: string[] }> {
  const sink = new PostgresSink({ connectionString: url, schema });
  const logger = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  logger.logToolUsage({ toolName: "t", operation: "op" });
  await logger.finalizeSession();
  return { stats: sink.stats(), errors };
}

/**
 * The claims a spool test plants (see NAME_PID): `foreign`, of a maker whose liveness cannot be
 * told here (its pid dead here); `killed`, of this host and namespace, its process gone; `older`,
 * an older name's (no host), its pid dead here: judged by its age as a foreign one (until
 * 2026-12-06 by its pid here, and another container's or host's live adopter of an older version
 * lost its claim whenever that pid was free here).
 */
interface ClaimCase {
  readonly of: string;
  readonly foreign: (dead: number) => string;
  readonly killed: (killed: number) => string;
  readonly older: (dead: number) => string;
}
const CLAIM_CASES: readonly ClaimCase[] = [
  { of: "another namespace", foreign: (d) => `${d}n${OTHER_NS_TAG}h${OWN_HOST_TAG}`, killed: (k) => `${k}${OWN_NS_SUFFIX}h${OWN_HOST_TAG}`, older: (d) => `${d}` },
  // (found 2026-12-06: names carried no host, and two hosts sharing the directory over the
  // network commonly have pid namespaces of one number, the initial one; `…h<host>` since)
  { of: "another host", foreign: (d) => `${d}${OWN_NS_SUFFIX}h${OTHER_HOST_TAG}`, killed: (k) => `${k}${OWN_NS_SUFFIX}h${OWN_HOST_TAG}`, older: (d) => `${d}${OWN_NS_SUFFIX}` },
];

describe("a spool claimed for replay (`….adopting-<pid>n<namespace>h<host>-<start>`)", () => {
  it.each(CLAIM_CASES)("of $of is left while young though its pid is dead here, and replayed once an hour old, and so is an older claim (no host); this host's and namespace's of a killed process is replayed at once", async (c) => {
    const schema = schemaFor("nsspool");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const store = new PgProxy(await freePort());
    proxies.push(store);
    const spools = (): string[] => fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool"));
    // three ended sessions, each leaving a spool of three records (the store away)
    const ended = await endedWithSpools(projectPath, store.url, schema);
    const spoolOf = (sid: string): string => path.join(dir, spools().find((f) => f.endsWith(`_${sid}.jsonl`))!);
    const dead = deadPid();
    const killed = await killedPid();
    const foreign = `${spoolOf(ended[0]!)}.adopting-${c.foreign(dead)}-${OWN_PROC_START ?? "1"}`;
    fs.renameSync(spoolOf(ended[0]!), foreign);
    fs.renameSync(spoolOf(ended[1]!), `${spoolOf(ended[1]!)}.adopting-${c.killed(killed)}`);
    const older = `${spoolOf(ended[2]!)}.adopting-${c.older(dead)}`;
    fs.renameSync(spoolOf(ended[2]!), older);
    await store.start();

    const b = await oneRun(projectPath, store.url, schema);
    expect(b.errors).toEqual([]);
    expect(await storedOf(schema, ended[0]!)).toBe(0);
    expect(await storedOf(schema, ended[1]!)).toBe(3);
    expect(await storedOf(schema, ended[2]!)).toBe(0);
    expect(spools().sort()).toEqual([path.basename(foreign), path.basename(older)].sort());

    clockAhead(HOUR + 60_000);
    const later = await oneRun(projectPath, store.url, schema);
    expect(later.errors).toEqual([]);
    expect(await storedOf(schema, ended[0]!)).toBe(3);
    expect(await storedOf(schema, ended[2]!)).toBe(3);
    expect(spools()).toEqual([]);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  }, 60_000);
});

/**
 * A spool an ended session left, which a sink (options `extra`) of a new logger claims for replay;
 * its first batch is held by the store's proxy (`gate`) while another namespace's sink takes the
 * claim over (renamed to `theirs`, as it does once an hour old).
 */
async function claimTakenOver(tag: string, extra: Partial<ConstructorParameters<typeof PostgresSink>[0]>) {
  const schema = schemaFor(tag);
  await migratePostgres({ connectionString: PG_URL, schema });
  const projectPath = tmpProject();
  const dir = path.join(projectPath, "audit_logs");
  const store = new PgProxy(await freePort());
  proxies.push(store);
  const [ended] = await endedWithSpools(projectPath, store.url, schema, 1);
  const gate = store.holdStatement(ended!);
  await store.start();
  const sink = new PostgresSink({ connectionString: store.url, schema, ...extra });
  const logger = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  await gate.reached;
  const claimed = fs.readdirSync(dir).find((f) => f.includes(".adopting-"))!;
  expect(claimed).toContain(`.adopting-${process.pid}${OWN_NS_SUFFIX}`);
  const theirs = `${claimed.replace(/\.adopting-.*$/, "")}.adopting-${deadPid()}n${OTHER_NS_TAG}-1`;
  fs.renameSync(path.join(dir, claimed), path.join(dir, theirs));
  const spools = (): string[] => fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool") && f.includes(ended!));
  return { schema, sink, logger, errors, gate, theirs, spools };
}

describe("a spool this sink replays, whose claim another namespace's sink took over (an hour old: its adopter may live)", () => {
  it("is left to that sink: this one goes on with its own records, not failing at each pump on the claim's old name", async () => {
    // (batches of one record: a second read of the claim follows the held one)
    const { schema, sink, logger, errors, gate, theirs, spools } = await claimTakenOver("nstaken", { batchSize: 1, retryMinMs: 50, retryMaxMs: 100 });
    gate.release();
    logger.logToolUsage({ toolName: "t", operation: "mine" });
    await logger.finalizeSession();
    expect(await storedOf(schema, logger.sessionId)).toBe(1);
    expect(sink.stats().spooledBytes).toBe(0);
    expect(errors).toEqual([]);
    expect(spools()).toEqual([theirs]);
  }, 60_000);

  it("as this sink closes with its replay still waiting (canceled at closeTimeoutMs): the claim is left under its new name, and no failure is reported for it", async () => {
    const { logger, errors, gate, theirs, spools } = await claimTakenOver("nstakenclose", { closeTimeoutMs: 300 });
    try {
      await logger.finalizeSession();
    } finally {
      gate.release();
    }
    expect(errors.filter((e) => e.includes(".adopting-"))).toEqual([]);
    expect(spools()).toEqual([theirs]);
  }, 60_000);
});

describe("a crashed session's recovery claim (`.pg_recovery_<store>_<id>`)", () => {
  it("of another namespace is left while young though its pid is dead here, and taken over once an hour old; this namespace's of a killed process, and an older claim (pid and start only), are taken over at once", async () => {
    const schema = schemaFor("nsmarker");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const sessions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const logger = new AuditLogger({ projectPath, durability: "sync", fullContentLogging: false });
      for (let j = 0; j < 5; j++) logger.logToolUsage({ toolName: "t", operation: `op${j}` });
      await logger.finalizeSession();
      leaveCrashed(dir, logger.sessionId);
      sessions.push(logger.sessionId);
    }
    // (a first sink recovers them, which names their markers; the store is then emptied and the
    // markers made claims, as sinks that died before they were done leave them)
    const probe = await oneRun(projectPath, PG_URL, schema);
    expect(probe.stats.recoveredSessions).toBe(3);
    const marker = (sid: string): string => path.join(dir, fs.readdirSync(dir).find((f) => f.startsWith(".pg_recovery_") && f.endsWith(`_${sid}`))!);
    const lockOf = (sid: string): string => fs.readFileSync(path.join(dir, `.session_${sid}.lock`), "utf8");
    const dead = deadPid();
    const killed = await killedPid();
    const [foreign, ours, older] = sessions as [string, string, string];
    const foreignClaim = JSON.stringify({ lock: lockOf(foreign), pid: dead, hostname: os.hostname(), startedAt: new Date().toISOString(), procStart: "12345", pidNs: `pid:[${OTHER_NS_TAG}]` });
    fs.writeFileSync(marker(foreign), foreignClaim);
    fs.writeFileSync(marker(ours), JSON.stringify({ lock: lockOf(ours), pid: killed, hostname: os.hostname(), startedAt: new Date().toISOString(), pidNs: fs.readlinkSync("/proc/self/ns/pid") }));
    fs.writeFileSync(marker(older), JSON.stringify({ lock: lockOf(older), pid: dead, procStart: "12345" }));
    await sql(`DROP SCHEMA "${schema}" CASCADE`);
    await migratePostgres({ connectionString: PG_URL, schema });

    const b = await oneRun(projectPath, PG_URL, schema);
    expect(b.errors).toEqual([]);
    expect(b.stats.recoveredSessions).toBe(2);
    expect(await storedOf(schema, foreign)).toBe(0);
    expect(await storedOf(schema, ours)).toBe(5);
    expect(await storedOf(schema, older)).toBe(5);
    expect(fs.readFileSync(marker(foreign), "utf8")).toBe(foreignClaim);

    clockAhead(HOUR + 60_000);
    const c = await oneRun(projectPath, PG_URL, schema);
    expect(c.errors).toEqual([]);
    expect(c.stats.recoveredSessions).toBe(1);
    expect(await storedOf(schema, foreign)).toBe(5);
    expect(JSON.parse(fs.readFileSync(marker(foreign), "utf8"))).toEqual({ lock: lockOf(foreign), done: true });
  }, 60_000);

  it("a sink's claim names its whole holder: pid, host, when, and, on Linux, its kernel start and pid namespace", async () => {
    const schema = schemaFor("nsclaimbody");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const logger = new AuditLogger({ projectPath, durability: "sync", fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "op" });
    await logger.finalizeSession();
    leaveCrashed(dir, logger.sessionId);
    // (the recovery's first statement naming the session is held: the sink holds its claim meanwhile)
    const store = new PgProxy(await freePort());
    proxies.push(store);
    const gate = store.holdStatement(logger.sessionId);
    await store.start();
    const holder = new AuditLogger({ projectPath, sinks: [new PostgresSink({ connectionString: store.url, schema })], fullContentLogging: false });
    const errors: string[] = [];
    holder.on("error", (e) => errors.push(e.message));
    await gate.reached;
    const claimed = fs.readdirSync(dir).find((f) => f.startsWith(".pg_recovery_") && f.endsWith(`_${logger.sessionId}`));
    const body = JSON.parse(fs.readFileSync(path.join(dir, claimed!), "utf8")) as Record<string, unknown>;
    gate.release();
    expect(body).toMatchObject({ lock: expect.any(String), pid: process.pid, hostname: os.hostname(), startedAt: expect.any(String) });
    if (OWN_NS_TAG !== undefined) expect(body).toMatchObject({ procStart: OWN_PROC_START, pidNs: fs.readlinkSync("/proc/self/ns/pid") });
    await holder.finalizeSession();
    expect(errors).toEqual([]);
  }, 60_000);
});

// Found 2026-12-06: a live adopter never refreshed its claim, so once the claim was an hour old
// (a replay waiting out an outage, a long one) a sink of another container or host took it for
// left, and took it over while it ran. A holder now refreshes its claim's mtime at each batch and
// on a timer, and another host's or container's claim is judged by that mtime (docs/FORMAT.md,
// "Names"). A real second pid namespace (util-linux unshare, as root) and real processes: the
// adopter is pid 1 of its own namespace. "An hour later" is both processes' clocks (Date only) set
// ahead by as much, as the kernel's ctimes do not move.
const canUnshare = process.platform === "linux" && process.getuid?.() === 0 && spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"]).status === 0;
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe.skipIf(!canUnshare)("a spool that a live sink of another pid namespace replays (a real namespace)", () => {
  it("is refreshed at each batch: made older than an hour (its mtime set back) while its adopter lives, its adopter's next batch makes it fresh and no other sink takes it an hour on; once that adopter is killed, it is replayed an hour after its last refresh", async () => {
    const schema = schemaFor("nslive");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const store = new PgProxy(await freePort());
    proxies.push(store);
    const [ended] = (await endedWithSpools(projectPath, store.url, schema, 1)) as [string];
    let gate = store.holdStatement(ended);
    await store.start();
    const ahead = HOUR + 5 * 60_000;
    const opts = JSON.stringify({ url: store.url, schema, projectPath, aheadMs: ahead });
    const adopter = spawn("unshare", ["--pid", "--fork", "--kill-child", "--mount-proc", process.execPath, ...childArgs(path.join(REPO_ROOT, "test/fixtures/postgres/adopter-child.ts")), opts], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    adopter.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((resolve) => adopter.on("close", () => resolve()));
    try {
      await Promise.race([gate.reached, exited.then(() => Promise.reject(new Error(`the adopter ended: ${stderr}`)))]);
      const claimed = fs.readdirSync(dir).find((f) => f.includes(".adopting-"))!;
      const ns = new RegExp(String.raw`\.adopting-1n(\d+)h${OWN_HOST_TAG}-\d+$`).exec(claimed)?.[1];
      expect(ns, claimed).toBeDefined();
      expect(ns).not.toBe(OWN_NS_TAG);
      const file = path.join(dir, claimed);
      // (older than the limit by both clocks: its mtime two hours back)
      const back = new Date(Date.now() + ahead - 2 * HOUR);
      fs.utimesSync(file, back, back);
      // the adopter's next batch: released one statement at a time until it refreshed its claim
      // (two at most: the third record's stays held, the claim in use)
      const fresh = (): boolean => fs.statSync(file).mtimeMs > Date.now() + ahead - 10 * 60_000;
      for (let i = 0; i < 2 && !fresh(); i++) {
        const next = store.holdStatement(ended);
        gate.release();
        gate = next;
        await gate.reached;
      }
      const refreshed = fresh();

      clockAhead(ahead);
      // (the store's address names the spools: this sink's is the adopter's)
      const other = await oneRun(projectPath, store.url, schema);
      expect(other.errors).toEqual([]);
      expect(other.stats.adopted).toBe(0);
      expect(fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool") && f.includes(ended))).toEqual([claimed]);
      expect(await storedOf(schema, ended)).toBeLessThan(3);
      expect(refreshed).toBe(true);
    } finally {
      adopter.kill("SIGKILL");
      await exited;
      gate.release();
      vi.useRealTimers();
    }
    // the adopter killed: its claim is left, and taken once an hour past its last refresh
    clockAhead(ahead + HOUR + 60_000);
    const later = await oneRun(projectPath, store.url, schema);
    expect(later.errors).toEqual([]);
    expect(await storedOf(schema, ended)).toBe(3);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool"))).toEqual([]);
  }, 90_000);
});
