import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, withRecordTime } from "../../src/logger.js";
import { migratePostgres, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, freshSchema, leastPrivilegeWriter, PG_URL, sql } from "../fixtures/postgres/db.js";

const schemas: string[] = [];
const roles: string[] = [];
afterEach(async () => {
  for (const s of schemas.splice(0)) await dropSchema(s);
  for (const r of roles.splice(0)) await sql(`DROP ROLE IF EXISTS ${r}`);
  cleanupTmp();
});

describe("a least-privilege writer (migrate: false) with the grants docs/POSTGRES.md lists", () => {
  it("stores records of a month the migration did not create, marks its session active and finalized", async () => {
    const schema = freshSchema("wrole");
    schemas.push(schema);
    await migratePostgres({ connectionString: PG_URL, schema }); // as the owner
    // the grants of docs/POSTGRES.md, "Schema"
    const { role, url } = await leastPrivilegeWriter(schema, "h7t_writer");
    roles.push(role);
    const at = new Date();
    const later = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 5, 15); // no partition yet
    const sink = new PostgresSink({ connectionString: url, schema, migrate: false, closeTimeoutMs: 2000, retryMinMs: 50 });
    const logger = new AuditLogger({ sessionId: "writer", projectPath: tmpProject(), sinks: [sink], fullContentLogging: false });
    const errors: string[] = [];
    logger.on("error", (e) => errors.push(e.message));
    for (let i = 0; i < 3; i++) withRecordTime(later + i, () => logger.logToolUsage({ toolName: "t", operation: "op" }));
    logger.logToolUsage({ toolName: "t", operation: "now" });
    await logger.finalizeSession();
    expect(errors).toEqual([]);
    expect(sink.stats()).toMatchObject({ stored: 4, spilled: 0 });
    const [s] = await sql<{ status: string }>(`SELECT status FROM "${schema}".audit_sessions WHERE session_id = 'writer'`);
    expect(s?.status).toBe("finalized");
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
    // a role with only USAGE cannot create partitions as the owner (PUBLIC had EXECUTE; re-review, 2026-12-04)
    const other = `h7t_nobody_${process.pid}_${randomBytes(3).toString("hex")}`;
    roles.push(other);
    await sql(`CREATE ROLE ${other} LOGIN`);
    await sql(`GRANT USAGE ON SCHEMA "${schema}" TO ${other}`);
    await expect(sql(`SET ROLE ${other}; SELECT "${schema}".audit_ensure_partition('9999-03-01T00:00:00Z')`)).rejects.toThrow(/permission denied/);
    // the writer still cannot change or remove what is stored
    await expect(sql(`SET ROLE ${role}; UPDATE "${schema}".audit_records SET line = 'x'`)).rejects.toThrow(/permission denied/);
  });
});
