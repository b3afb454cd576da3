// Found by review 2026-12-04 (fourth session): the store's retention (applyPostgresRetention,
// audit_apply_retention) never looked at legal holds: with a hold on every session, a month of
// held records was dropped. Holds reach the store as the chained legal_hold_placed/released
// records; retention now stops at the first month that holds records of a session under a hold
// (every month under an "all" hold), or the record that placed a hold still in force.
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, withRecordTime } from "../../src/logger.js";
import { applyPostgresRetention, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { PG_URL, schemaRegistry, sql } from "../fixtures/postgres/db.js";

const { schemaFor, dropAll } = schemaRegistry();
afterEach(async () => {
  await dropAll();
  cleanupTmp();
});

const SEP = Date.parse("2026-09-10T00:00:00Z");
const OCT = Date.parse("2026-10-10T00:00:00Z");

/** A session of the store with `n` tool records at each of `times`. */
function sessionAt(projectPath: string, schema: string, sessionId: string, times: readonly number[]): AuditLogger {
  const logger = new AuditLogger({ sessionId, projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false, maxLogAgeDays: 2555 });
  for (const t of times) for (let i = 0; i < 2; i++) withRecordTime(t + i, () => logger.logToolUsage({ toolName: "t", operation: "op" }));
  return logger;
}

const rowsOf = async (schema: string, sessionId: string) => Number((await sql<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".audit_records WHERE session_id = $1`, [sessionId]))[0]!.n);

describe("PostgreSQL retention and legal holds", () => {
  it("stops at the first month holding a held session's records; with the hold released it goes on", async () => {
    const schema = schemaFor("rethold");
    const projectPath = tmpProject();
    const free = sessionAt(projectPath, schema, "free", [SEP, OCT]);
    const held = sessionAt(projectPath, schema, "held", [OCT]);
    free.placeLegalHold("held", "litigation 2026-1");
    await held.finalizeSession();
    await free.finalizeSession();
    const freeBefore = await rowsOf(schema, "free");
    expect(await rowsOf(schema, "held")).toBe(2);

    const drops = await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-11-01T00:00:00Z", reason: "policy" });
    expect(drops.map((d) => d.partition)).toEqual(["audit_records_p2026_09"]);
    expect([await rowsOf(schema, "free"), await rowsOf(schema, "held")]).toEqual([freeBefore - 2, 2]); // (September's two went)
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);

    // released: the October month goes too
    const maint = new AuditLogger({ sessionId: "maint", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
    maint.releaseLegalHold("held", "case closed");
    await maint.finalizeSession();
    expect((await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-11-01T00:00:00Z" })).map((d) => d.partition)).toEqual(["audit_records_p2026_10"]);
    expect(await rowsOf(schema, "held")).toBe(0);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  });

  it("an 'all' hold keeps every month, also one with no other session's records", async () => {
    const schema = schemaFor("retall");
    const projectPath = tmpProject();
    const logger = sessionAt(projectPath, schema, "s", [SEP, OCT]);
    logger.placeLegalHold("all", "regulator inquiry");
    await logger.finalizeSession();
    const before = await rowsOf(schema, "s");
    expect(await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-11-01T00:00:00Z" })).toEqual([]);
    expect(await rowsOf(schema, "s")).toBe(before);
  });
});

// Found by review 2026-12-04 (fourth session): a record's time is when its call began, so a chain's
// times need not follow its seqs across a month's end; the month dropped took seq 3 and left seq 2,
// and verify failed on the untouched store (records_missing, chain_broken, seq_gap).
describe("PostgreSQL retention and records whose times are not in seq order", () => {
  it("keeps a month whose chain goes on below its highest seq in a later month; drops both once both are old enough; verify stays clean", async () => {
    const schema = schemaFor("retorder");
    const logger = new AuditLogger({ sessionId: "s1", projectPath: tmpProject(), sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
    const oct = Date.parse("2026-10-31T23:59:59.000Z");
    const nov = Date.parse("2026-11-01T00:00:00.005Z");
    withRecordTime(oct, () => logger.logToolUsage({ toolName: "a", operation: "op" })); // seq 1 (October)
    withRecordTime(nov, () => logger.logToolUsage({ toolName: "direct", operation: "op" })); // seq 2 (November)
    withRecordTime(oct + 999, () => logger.logToolUsage({ toolName: "began before midnight", operation: "op" })); // seq 3 (October)
    withRecordTime(nov + 10, () => logger.logToolUsage({ toolName: "b", operation: "op" })); // seq 4 (November)
    await logger.finalizeSession();
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
    expect(await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-11-01T00:00:00Z" })).toEqual([]);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
    const both = await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-12-01T00:00:00Z" });
    expect(both.map((d) => d.partition)).toEqual(["audit_records_p2026_10", "audit_records_p2026_11"]);
    const after = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(after.problems).toEqual([]);
  });
});
