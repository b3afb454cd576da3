// audit_retention_cuts had no index by session (its primary key starts with retention_id), though
// every reader of it asks by session: the viewer's "records gone" test of each session listed,
// the sink's backfill and verify's cut per chain read the whole table (found by the PostgreSQL
// pass, 2026-12-06). Schema version 5 adds it, on a fresh store and on one made by version 4.
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { migratePostgres, PostgresSink } from "../../src/postgres/index.js";
import { migrationSql, SCHEMA_VERSION, upgradeSql } from "../../src/postgres/schema.js";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { PG_URL, schemaRegistry, sql } from "../fixtures/postgres/db.js";

const { schemaFor, dropAll } = schemaRegistry();
afterEach(async () => {
  await dropAll();
  cleanupTmp();
});

/** The definition of the index of audit_retention_cuts by session, or undefined. */
async function cutsIndex(schema: string): Promise<string | undefined> {
  const rows = await sql<{ def: string }>(`SELECT indexdef AS def FROM pg_indexes WHERE schemaname = $1 AND tablename = 'audit_retention_cuts' AND indexname = 'audit_retention_cuts_session'`, [schema]);
  return rows[0]?.def;
}

/** The plan PostgreSQL makes for the cut of one session's chains (as verify asks for it), sequential scans off. */
async function cutPlan(schema: string): Promise<string> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query("SET enable_seqscan = off");
    const r = await c.query<{ "QUERY PLAN": string }>(
      `EXPLAIN SELECT DISTINCT ON (kind) kind, through_seq, through_hash FROM "${schema}".audit_retention_cuts WHERE session_id = 's1' ORDER BY kind, through_seq DESC`,
    );
    return r.rows.map((x) => x["QUERY PLAN"]).join("\n");
  } finally {
    await c.end();
  }
}

/** A store as version 4 of the kit made it: version 1's DDL and the steps to 4, recorded. */
async function storeOfVersion4(schema: string): Promise<void> {
  const steps = upgradeSql(schema).filter(([v]) => v <= 4);
  expect(steps.map(([v]) => v)).toEqual([2, 3, 4]);
  await sql(`CREATE SCHEMA "${schema}"; ${migrationSql(schema)}`);
  for (const [v, ddl] of steps) await sql(`${ddl}; INSERT INTO "${schema}".audit_schema_version (version) VALUES (${v})`);
}

describe("audit_retention_cuts is indexed by session", () => {
  it("on a fresh store: the index is there, and a session's cuts are read through it", async () => {
    const schema = schemaFor("cutsidx");
    expect(await migratePostgres({ connectionString: PG_URL, schema })).toEqual({ schema, version: SCHEMA_VERSION, created: true });
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(5);
    expect(await cutsIndex(schema)).toMatch(/\(session_id, kind, through_seq\)$/);
    expect(await cutPlan(schema)).toContain("audit_retention_cuts_session");
  });

  it("on a store made by version 4: missing before, added by the migration (migratePostgres, or a sink's own)", async () => {
    for (const how of ["migratePostgres", "sink"] as const) {
      const schema = schemaFor("cutsup");
      await storeOfVersion4(schema);
      expect(await cutsIndex(schema)).toBeUndefined();
      expect(await cutPlan(schema)).not.toContain("audit_retention_cuts_session");
      if (how === "migratePostgres") {
        expect(await migratePostgres({ connectionString: PG_URL, schema })).toEqual({ schema, version: SCHEMA_VERSION, created: false });
      } else {
        const logger = new AuditLogger({ projectPath: tmpProject(), sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
        logger.logToolUsage({ toolName: "t", operation: "o" });
        await logger.finalizeSession();
      }
      expect(await cutsIndex(schema)).toMatch(/\(session_id, kind, through_seq\)$/);
      expect(await cutPlan(schema)).toContain("audit_retention_cuts_session");
      const versions = await sql<{ version: number }>(`SELECT version FROM "${schema}".audit_schema_version ORDER BY 1`);
      expect(versions.map((v) => v.version), how).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    }
  });
});
