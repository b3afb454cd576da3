import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { migratePostgres, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { tmpProject } from "../helpers/index.js";
import { leastPrivilegeWriter, PG_URL, pgTestScope, sql } from "../fixtures/postgres/db.js";

const { schemaFor } = pgTestScope();
const roles: string[] = [];
afterEach(async () => {
  // (its grants first: this hook may run before pgTestScope's drops the schema)
  for (const r of roles.splice(0)) await sql(`DROP OWNED BY ${r}; DROP ROLE ${r}`);
});

describe("a writer role whose statement_timeout is shorter than one full batch's insert takes", () => {
  it("stores every record once, in smaller batches, instead of failing the same full batch for good", async () => {
    const schema = schemaFor("stmo");
    await migratePostgres({ connectionString: PG_URL, schema });
    // a store slow to take rows (as one with big records, many indexes or a busy disk): 4 ms a
    // row, so that a full batch of 500 (2 s) is always over the role's statement_timeout and a
    // batch of a few dozen rows is well within it
    await sql(`CREATE FUNCTION "${schema}".slow_row() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_sleep(0.004); RETURN NULL; END$$`);
    await sql(`CREATE TRIGGER slow_row AFTER INSERT ON "${schema}".audit_records FOR EACH ROW EXECUTE FUNCTION "${schema}".slow_row()`);
    // a throwaway role (never postgres), with the writer's grants and the DBA's statement_timeout
    const { role, url } = await leastPrivilegeWriter(schema, "h7t_stmo");
    roles.push(role);
    await sql(`ALTER ROLE ${role} SET statement_timeout = '1s'`);

    const sink = new PostgresSink({ connectionString: url, schema, migrate: false, retryMinMs: 50, retryMaxMs: 200 });
    const logger = new AuditLogger({ sessionId: "stmo", projectPath: tmpProject(), sinks: [sink], fullContentLogging: false });
    const errors: string[] = [];
    logger.on("error", (e) => errors.push(e.message));
    for (let i = 0; i < 600; i++) logger.logToolUsage({ toolName: "t", operation: "op", parameters: { i } });
    // (before 2026-12-06 the batch of 500 was spooled and sent whole again at every retry: it timed
    // out every time, and nothing of the session was ever stored)
    expect(await sink.whenStored(30_000)).toBe(true);
    const summary = await logger.finalizeSession();
    const [r] = await sql<{ c: string; d: string }>(`SELECT count(*)::text AS c, count(DISTINCT (kind, seq))::text AS d FROM "${schema}".audit_records WHERE session_id = 'stmo'`);
    expect({ c: Number(r!.c), d: Number(r!.d) }).toEqual({ c: summary.totalRecords, d: summary.totalRecords });
    // the timeouts were reported (once, as an outage), naming PostgreSQL's reason
    expect(errors.some((e) => /cannot store records .*statement timeout, SQLSTATE 57014/.test(e))).toBe(true);
    const report = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(report.problems).toEqual([]);
    const [s] = await sql<{ status: string }>(`SELECT status FROM "${schema}".audit_sessions WHERE session_id = 'stmo'`);
    expect(s?.status).toBe("finalized");
  }, 120_000);
});

describe("a role whose statement_timeout or idle_in_transaction_session_timeout is shorter than the migration takes", () => {
  it("still creates the store: the migration's transaction runs without them", async () => {
    for (const setting of ["statement_timeout = '20ms'", "idle_in_transaction_session_timeout = '1ms'"]) {
      const schema = schemaFor("migto");
      const role = `h7t_migto_${roles.length}`;
      await sql(`DROP ROLE IF EXISTS ${role}`);
      await sql(`CREATE ROLE ${role} LOGIN`);
      roles.push(role);
      await sql(`GRANT CREATE ON DATABASE test TO ${role}`);
      await sql(`ALTER ROLE ${role} SET ${setting}`);
      const url = PG_URL.replace("postgres@", `${role}@`);
      // (before 2026-12-06: 57014 canceling statement due to statement timeout, or 25P03 for the idle one)
      const result = await migratePostgres({ connectionString: url, schema });
      expect(result, setting).toMatchObject({ schema, created: true });
      const [v] = await sql<{ v: number }>(`SELECT max(version) AS v FROM "${schema}".audit_schema_version`);
      expect(v!.v, setting).toBe(result.version);
      // the role's settings hold outside the migration's transaction
      const [t] = await sql<{ s: string }>(`SELECT array_to_string(setconfig, ',') AS s FROM pg_db_role_setting WHERE setrole = '${role}'::regrole`);
      expect(t!.s).toContain(setting.split(" = ")[0]);
    }
  }, 120_000);
});
