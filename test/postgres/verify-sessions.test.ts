import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, withRecordTime } from "../../src/logger.js";
import { migratePostgres, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { migrationSql, SCHEMA_VERSION } from "../../src/postgres/schema.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { PG_URL, schemaRegistry, sql } from "../fixtures/postgres/db.js";

const { schemaFor, dropAll } = schemaRegistry();
afterEach(async () => {
  await dropAll();
  cleanupTmp();
});

/** Two sessions: `old` with every record in October 2026, `now` in the current month. */
async function twoSessions(schema: string): Promise<void> {
  const projectPath = tmpProject();
  for (const [sid, at] of [["old", Date.parse("2026-10-15T12:00:00Z")], ["now", Date.now()]] as const) {
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
    const logger = new AuditLogger({ sessionId: sid, projectPath, sinks: [sink], fullContentLogging: false });
    for (let i = 0; i < 5; i++) withRecordTime(at + i, () => logger.logToolUsage({ toolName: "t", operation: "op" }));
    await logger.finalizeSession();
  }
}

describe("verify --postgres sees every session the store knows of", () => {
  it("a session whose records' partition was dropped and whose sessions row is gone is reported, not skipped", async () => {
    const schema = schemaFor("vsess");
    await twoSessions(schema);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).ok).toBe(true);
    // the sessions row cannot be deleted any more; an owner who disables the guard still can
    await expect(sql(`DELETE FROM "${schema}".audit_sessions WHERE session_id = 'old'`)).rejects.toThrow(/append-only/);
    await expect(sql(`TRUNCATE "${schema}".audit_sessions`)).rejects.toThrow(/append-only/);
    await expect(sql(`UPDATE "${schema}".audit_sessions SET session_id = 'x' WHERE session_id = 'old'`)).rejects.toThrow(/append-only/);
    await sql(`UPDATE "${schema}".audit_sessions SET status = 'active' WHERE session_id = 'old'`); // status still changes
    await sql(`DROP TABLE "${schema}".audit_records_p2026_10`);
    await sql(`ALTER TABLE "${schema}".audit_sessions DISABLE TRIGGER USER; DELETE FROM "${schema}".audit_sessions WHERE session_id = 'old'; ALTER TABLE "${schema}".audit_sessions ENABLE TRIGGER USER`);
    const report = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(report.ok).toBe(false);
    expect(report.sessions).toEqual(["now", "old"]);
    expect(report.problems.map((p) => [p.kind, p.file.includes("session=old")])).toContainEqual(["checkpoint_truncated", true]);
  });

  it("a store of schema version 1 is upgraded in place to the guarded sessions table", async () => {
    const schema = schemaFor("vupg");
    await sql(`CREATE SCHEMA "${schema}"; ${migrationSql(schema)}`); // what version 1 created
    await sql(`INSERT INTO "${schema}".audit_sessions (session_id) VALUES ('s1')`);
    await expect(sql(`DELETE FROM "${schema}".audit_sessions`)).resolves.toEqual([]); // v1: unguarded
    await sql(`INSERT INTO "${schema}".audit_sessions (session_id) VALUES ('s1')`);
    const r = await migratePostgres({ connectionString: PG_URL, schema });
    expect(r).toEqual({ schema, version: SCHEMA_VERSION, created: false });
    await expect(sql(`DELETE FROM "${schema}".audit_sessions`)).rejects.toThrow(/append-only/);
    expect(await migratePostgres({ connectionString: PG_URL, schema })).toEqual({ schema, version: SCHEMA_VERSION, created: false });
    const versions = await sql<{ version: number }>(`SELECT version FROM "${schema}".audit_schema_version ORDER BY 1`);
    expect(versions.map((v) => v.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  });
});
