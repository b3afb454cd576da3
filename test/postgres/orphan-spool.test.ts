import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { migratePostgres, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { OWN_PROC_START } from "../../src/sink/lock.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, freePort, freshSchema, PG_URL, sql } from "../fixtures/postgres/db.js";

const schemas: string[] = [];
afterEach(async () => {
  for (const s of schemas.splice(0)) await dropSchema(s);
  cleanupTmp();
});

const here = path.dirname(fileURLToPath(import.meta.url));
const spools = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool"));

describe("a spool left by a session that ended while the store was away", () => {
  it("is replayed by the next sink in that directory, though its sessionId is another (the default: new per process)", async () => {
    const schema = freshSchema("orph");
    schemas.push(schema);
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const deadUrl = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
    // the first process: the store unreachable while it ends
    const a = new AuditLogger({ projectPath, sinks: [new PostgresSink({ connectionString: deadUrl, schema, closeTimeoutMs: 300 })], fullContentLogging: false });
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
    const errors: string[] = [];
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
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
    const schema = freshSchema("orphlive");
    schemas.push(schema);
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const deadUrl = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
    const a = new AuditLogger({ projectPath, sinks: [new PostgresSink({ connectionString: deadUrl, schema, flushTimeoutMs: 100, closeTimeoutMs: 300 })], fullContentLogging: false });
    a.on("error", () => undefined);
    a.logToolUsage({ toolName: "t", operation: "op" });
    await a.flush();
    expect(spools(dir)).toHaveLength(1);
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
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
    const schema = freshSchema("orphpid");
    schemas.push(schema);
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const deadUrl = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
    // three ended sessions, each leaving a spool of three records
    const ended: string[] = [];
    for (let i = 0; i < 3; i++) {
      const a = new AuditLogger({ projectPath, sinks: [new PostgresSink({ connectionString: deadUrl, schema, closeTimeoutMs: 200 })], fullContentLogging: false });
      a.on("error", () => undefined);
      for (let j = 0; j < 3; j++) a.logToolUsage({ toolName: "t", operation: `op${j}` });
      await a.finalizeSession();
      ended.push(a.sessionId);
    }
    const spoolOf = (sid: string) => path.join(dir, `.pg_spool_${schema}_${sid}.jsonl`);
    const start = OWN_PROC_START ?? "1";
    const otherStart = String(Number(start) + 1);
    // 1: claimed by an earlier process that had this process's pid (a container's app is pid 1 after every restart)
    fs.renameSync(spoolOf(ended[0]!), `${spoolOf(ended[0]!)}.adopting-${process.pid}-${otherStart}`);
    // 2: claimed by a process whose pid another live process has now
    const pid1Start = fs.existsSync("/proc/1/stat") ? fs.readFileSync("/proc/1/stat", "utf8").split(") ")[1]!.split(" ")[19]! : "0";
    fs.renameSync(spoolOf(ended[1]!), `${spoolOf(ended[1]!)}.adopting-1-${Number(pid1Start) + 1}`);
    // 3: claimed by this very process (another sink of it is replaying it): not to be touched
    const live = `${spoolOf(ended[2]!)}.adopting-${process.pid}${OWN_PROC_START !== undefined ? `-${OWN_PROC_START}` : ""}`;
    fs.renameSync(spoolOf(ended[2]!), live);
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
    const b = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
    const errors: string[] = [];
    b.on("error", (e) => errors.push(e.message));
    b.logToolUsage({ toolName: "t", operation: "op" });
    await b.finalizeSession();
    expect(errors).toEqual([]);
    const rows = await sql<{ session_id: string; n: string }>(`SELECT session_id, count(*)::text AS n FROM "${schema}".audit_records WHERE kind = 'tool_usage' GROUP BY 1`);
    const stored = new Map(rows.map((r) => [r.session_id, Number(r.n)]));
    expect(stored.get(ended[0]!)).toBe(3);
    expect(stored.get(ended[1]!)).toBe(3);
    expect(stored.get(ended[2]!)).toBeUndefined();
    expect(spools(dir)).toEqual([path.basename(live)]);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  });

  it("claimed (as an older version names a claim, by pid only) by an earlier process with the adopter's own pid is taken over", async () => {
    const schema = freshSchema("orphown");
    schemas.push(schema);
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const deadUrl = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
    const a = new AuditLogger({ projectPath, sinks: [new PostgresSink({ connectionString: deadUrl, schema, closeTimeoutMs: 200 })], fullContentLogging: false });
    a.on("error", () => undefined);
    for (let j = 0; j < 3; j++) a.logToolUsage({ toolName: "t", operation: `op${j}` });
    await a.finalizeSession();
    const spool = path.join(dir, `.pg_spool_${schema}_${a.sessionId}.jsonl`);
    // the shell claims the spool under its pid, then becomes the adopter (exec keeps the pid): as
    // a container's app, pid 1 again after the crash of the one that claimed it
    const writer = path.join(here, "../fixtures/postgres/writer.ts");
    const args = JSON.stringify({ url: PG_URL, schema, projectPath, sessionId: "restarted", count: 1 });
    const r = spawnSync("/bin/sh", ["-c", 'mv "$1" "$1.adopting-$$" && sleep 1 && exec "$2" --import tsx "$3" "$4"', "sh", spool, process.execPath, writer, args], { encoding: "utf8", timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { stats: { adopted: number }; errors: string[] };
    expect(out.errors).toEqual([]);
    expect(out.stats.adopted).toBeGreaterThanOrEqual(3);
    const [row] = await sql<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".audit_records WHERE session_id = $1 AND kind = 'tool_usage'`, [a.sessionId]);
    expect(Number(row!.n)).toBe(3);
    expect(spools(dir)).toEqual([]);
  }, 30_000);
});
