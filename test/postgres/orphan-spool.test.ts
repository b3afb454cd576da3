import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { migratePostgres, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, freePort, freshSchema, PG_URL, sql } from "../fixtures/postgres/db.js";

const schemas: string[] = [];
afterEach(async () => {
  for (const s of schemas.splice(0)) await dropSchema(s);
  cleanupTmp();
});

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
});
