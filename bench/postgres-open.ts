/**
 * What opening a PostgresSink costs in an audit directory that holds many sessions: the sink's
 * `open()` (synchronous: it lists the directory for spools and crashed sessions) and the time from
 * the logger's construction to its first record being in the store (`whenStored()`: connecting,
 * backfill, spool adoption, crashed-session recovery, then the record).
 *
 *   npx tsx bench/postgres-open.ts                                   # 2000 finished sessions, 7 rounds
 *   npx tsx bench/postgres-open.ts --sessions 2000 --crashed 20 --rounds 7 --url postgres://…/db
 *   npx tsx bench/postgres-open.ts --template /tmp/open-2000      # made once, copied by later runs
 *
 * Every session is a real one (a logger, three records, finalizeSession()). `--crashed K` adds K
 * sessions whose process died holding their lock (the lock names a process that has ended, their
 * session files say "active"): the first sink to open recovers them (its time is printed apart),
 * the rounds after it measure what such sessions cost once recovered. Each round opens a new
 * logger (a new session) with a new sink, logs one record, waits for the store, and finalizes.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { AuditLogger } from "../src/index.js";
import { migratePostgres, PostgresSink } from "../src/postgres/index.js";
import { median } from "./lib.js";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "2000" },
    crashed: { type: "string", default: "0" },
    rounds: { type: "string", default: "7" },
    template: { type: "string" },
    url: { type: "string", default: process.env.AUDIT_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test" },
  },
});
const N = Number(values.sessions);
const K = Number(values.crashed);
const ROUNDS = Number(values.rounds);
const URL_ = values.url!;

const projectPath = fs.mkdtempSync(path.join(os.tmpdir(), "bench-pg-open-"));
const dir = path.join(projectPath, "audit_logs");
const schema = `bench_open_${process.pid}`;

/** A session of three records, ended cleanly. */
async function finishedSession(): Promise<string> {
  const logger = new AuditLogger({ projectPath, fullContentLogging: false });
  for (let i = 0; i < 3; i++) logger.logToolUsage({ toolName: "t", operation: `op${i}` });
  await logger.finalizeSession();
  return logger.sessionId;
}

/** A lock naming a process of this host that has ended, as a SIGKILL leaves it. */
function crash(sid: string, deadPid: number): void {
  fs.writeFileSync(path.join(dir, `.session_${sid}.lock`), JSON.stringify({ pid: deadPid, hostname: os.hostname(), startedAt: new Date().toISOString() }));
  const file = path.join(dir, `session_${sid}.json`);
  fs.writeFileSync(file, JSON.stringify({ ...(JSON.parse(fs.readFileSync(file, "utf8")) as object), status: "active" }));
}

async function openOnce(): Promise<{ openMs: number; readyMs: number; stats: Record<string, unknown> }> {
  const sink = new PostgresSink({ connectionString: URL_, schema });
  let openMs = 0;
  const open = sink.open.bind(sink);
  sink.open = (info) => {
    const t = performance.now();
    open(info);
    openMs = performance.now() - t;
  };
  const t0 = performance.now();
  const logger = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
  logger.on("error", (e) => console.error("error event:", e.message));
  logger.logToolUsage({ toolName: "t", operation: "probe" });
  if (!(await sink.whenStored(60_000))) throw new Error("the record did not reach the store");
  const readyMs = performance.now() - t0;
  const stats = sink.stats() as unknown as Record<string, unknown>;
  await logger.finalizeSession();
  return { openMs, readyMs, stats };
}

async function main(): Promise<void> {
  await migratePostgres({ connectionString: URL_, schema });
  const t = performance.now();
  const template = values.template;
  const listed = template !== undefined && fs.existsSync(path.join(template, "sessions.json")) ? (JSON.parse(fs.readFileSync(path.join(template, "sessions.json"), "utf8")) as string[]) : undefined;
  const sids: string[] = [];
  // (the finished sessions can come from a template directory; the crashed ones are made each run)
  if (listed && listed.length === N) {
    fs.cpSync(path.join(template!, "audit_logs"), dir, { recursive: true });
    sids.push(...listed);
  } else {
    for (let i = 0; i < N; i++) sids.push(await finishedSession());
    if (template !== undefined) {
      fs.rmSync(template, { recursive: true, force: true });
      fs.cpSync(dir, path.join(template, "audit_logs"), { recursive: true });
      fs.writeFileSync(path.join(template, "sessions.json"), JSON.stringify(sids));
    }
  }
  for (let i = 0; i < K; i++) sids.push(await finishedSession());
  const deadPid = spawnSync(process.execPath, ["-e", ""]).pid!;
  for (const sid of sids.slice(N)) crash(sid, deadPid);
  const entries = fs.readdirSync(dir).length;
  console.log(`bench:postgres-open  ${N} finished + ${K} crashed sessions (${entries} directory entries, made in ${((performance.now() - t) / 1000).toFixed(1)} s), ${ROUNDS} rounds, node ${process.version}, ${os.cpus().length} CPUs`);
  if (K > 0) {
    const first = await openOnce();
    console.log(`first open (recovers the crashed ones): open() ${first.openMs.toFixed(2)} ms, first record stored after ${first.readyMs.toFixed(1)} ms, stats ${JSON.stringify({ recovered: first.stats.recovered, recoveredSessions: first.stats.recoveredSessions })}`);
  }
  const opens: number[] = [];
  const readies: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const { openMs, readyMs, stats } = await openOnce();
    if (Number(stats.recoveredSessions ?? 0) !== 0) throw new Error(`round ${r} recovered sessions again: ${JSON.stringify(stats)}`);
    opens.push(openMs);
    readies.push(readyMs);
  }
  console.log(`open()                     median ${median(opens).toFixed(2)} ms  (rounds: ${opens.map((x) => x.toFixed(2)).join(", ")})`);
  console.log(`construct → record stored  median ${median(readies).toFixed(1)} ms  (rounds: ${readies.map((x) => x.toFixed(1)).join(", ")})`);
}

try {
  await main();
} finally {
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
  fs.rmSync(projectPath, { recursive: true, force: true });
}
