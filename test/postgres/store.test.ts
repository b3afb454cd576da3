import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { compileQuery, NewestBuffer } from "../../src/reader/query.js";
import { FileRecordSource } from "../../src/reader/records.js";
import { applyPostgresRetention, migratePostgres, PostgresRecordSource, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { RECORD_KINDS, type RecordType } from "../../src/types.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { PG_URL, schemaRegistry, sql } from "../fixtures/postgres/db.js";

const { schemaFor, dropAll } = schemaRegistry();
afterEach(async () => {
  await dropAll();
  cleanupTmp();
});

/** A session with a varied mix of records, in the files and in the store. */
async function populate(schema: string, sessionId = "mix") {
  const projectPath = tmpProject();
  const sink = new PostgresSink({ connectionString: PG_URL, schema });
  const logger = new AuditLogger({ sessionId, projectPath, sinks: [sink] });
  for (let i = 0; i < 60; i++) {
    logger.logChatInteraction({
      prompt: `question ${i}`,
      response: `answer ${i}`,
      model: ["claude-3", "gpt-4o", "llama"][i % 3],
      interactionType: i % 4 ? "api_request" : "stream",
      // (some calls give only tokensUsed, some no count at all: the summary counts them)
      ...(i % 10 === 3 ? { tokensUsed: 10 + i } : i % 10 === 7 ? {} : { tokensUsed: 10 + i, inputTokens: 4 + i, outputTokens: 6 }),
      persona: i % 2 ? "support" : undefined,
      userId: i % 5 ? "u1" : "u2",
      ...(i % 9 === 0 ? { success: false, errorMessage: "rate limited" } : {}),
    });
    logger.logToolUsage({ toolName: i % 2 ? "search" : "calc", operation: "run", parameters: { i }, success: i % 7 !== 0 });
    if (i % 3 === 0) logger.logPersonaActivity({ personaName: i % 2 ? "planner" : "critic", activityType: "review" });
    if (i % 4 === 0) logger.logFileOperation({ operation: "read", filePath: `/data/${i}.txt`, success: i % 8 !== 0 });
    if (i % 5 === 0) logger.logPerformanceMetric({ metricName: "latency", value: i, unit: "ms" });
    if (i % 6 === 0) logger.logError({ errorType: "Timeout", message: `slow ${i}`, severity: i % 12 ? "warning" : "critical" });
  }
  const summary = await logger.finalizeSession();
  return { summary, auditDir: path.join(projectPath, "audit_logs"), sessionId };
}

describe("PostgreSQL store", () => {
  it("refuses UPDATE, DELETE and TRUNCATE; retention drops whole months and leaves its record", async () => {
    const schema = schemaFor("append");
    await populate(schema, "s1");
    const q = `"${schema}".audit_records`;
    await expect(sql(`UPDATE ${q} SET line = 'x' WHERE seq = 1`)).rejects.toThrow(/append-only/);
    await expect(sql(`DELETE FROM ${q} WHERE seq = 1`)).rejects.toThrow(/append-only/);
    await expect(sql(`TRUNCATE ${q}`)).rejects.toThrow(/append-only/);
    const [part] = await sql<{ p: string }>(`SELECT c.relname AS p FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '${q}'::regclass ORDER BY 1 LIMIT 1`);
    await expect(sql(`DELETE FROM "${schema}".${part!.p}`)).rejects.toThrow(/append-only/); // the partitions too
    await expect(sql(`TRUNCATE "${schema}".${part!.p}`)).rejects.toThrow(/append-only/);
    await expect(sql(`DELETE FROM "${schema}".audit_checkpoints`)).rejects.toThrow(/append-only/);
    expect(Number((await sql<{ c: string }>(`SELECT count(*)::text AS c FROM ${q}`))[0]!.c)).toBeGreaterThan(0);

    // a chain that began in an old month: written with the envelope of that month, then cut by retention
    const old = new Date(Date.UTC(2020, 0, 15));
    const projectPath = tmpProject();
    const oldSink = new PostgresSink({ connectionString: PG_URL, schema });
    const logger = new AuditLogger({ sessionId: "s2", projectPath, sinks: [oldSink] });
    const realNow = Date.now;
    Date.now = () => old.getTime();
    try {
      for (let i = 0; i < 5; i++) logger.logPerformanceMetric({ metricName: "m", value: i, unit: "ms" });
    } finally {
      Date.now = realNow;
    }
    for (let i = 0; i < 3; i++) logger.logPerformanceMetric({ metricName: "m", value: 10 + i, unit: "ms" });
    await logger.finalizeSession();
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).ok).toBe(true);

    await expect(applyPostgresRetention({ connectionString: PG_URL, schema, before: new Date(Date.now() + 86_400_000) })).rejects.toThrow(/future/);
    const dropped = await applyPostgresRetention({ connectionString: PG_URL, schema, before: new Date(Date.UTC(2021, 0, 1)), reason: "test policy" });
    expect(dropped).toEqual([{ partition: "audit_records_p2020_01", rangeFrom: new Date(Date.UTC(2020, 0, 1)), rangeTo: new Date(Date.UTC(2020, 1, 1)), rowsDropped: 5 }]);
    const log = await sql<{ partition: string; rows_dropped: string; reason: string }>(`SELECT partition, rows_dropped::text, reason FROM "${schema}".audit_retention_log`);
    expect(log).toEqual([{ partition: "audit_records_p2020_01", rows_dropped: "5", reason: "test policy" }]);
    const report = await verifyPostgres({ connectionString: PG_URL, schema, sessionId: "s2" });
    expect(report.problems).toEqual([]);
    expect(report.notes.map((n) => n.kind)).toContain("retention_cut");
    expect(report.recordsChecked).toBe(3);
  });

  it("verify finds an edited line, an edited column and deleted records (written with the guard switched off)", async () => {
    const schema = schemaFor("tamper");
    await populate(schema, "t1");
    const q = `"${schema}".audit_records`;
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).ok).toBe(true);
    await sql(`ALTER TABLE ${q} DISABLE TRIGGER USER`);
    await sql(`UPDATE ${q} SET line = replace(line, 'question 3"', 'question 4"') WHERE kind = 'chat_interaction' AND seq = 4`);
    await sql(`UPDATE ${q} SET model = 'other' WHERE kind = 'chat_interaction' AND seq = 7`);
    await sql(`DELETE FROM ${q} WHERE kind = 'tool_usage' AND seq > 55`);
    const report = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(report.ok).toBe(false);
    const found = report.problems.map((p) => `${p.kind}@${p.seq}`);
    expect(found).toContain("record_modified@4");
    expect(found).not.toContain("chain_broken@5"); // seq 5 links to the hash seq 4 claims; the edit is caught at 4
    expect(found).toContain("column_mismatch@7");
    expect(found).toContain("checkpoint_truncated@60"); // the sink's checkpoint said 60 tool records were stored
  });

  it("verify finds an edited jsonb copy of a line that cannot be cast to jsonb as it is (U+0000, a lone surrogate, or their escapes quoted as text)", async () => {
    const schema = schemaFor("jsonbnul");
    const logger = new AuditLogger({ sessionId: "nul", projectPath: tmpProject(), sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    logger.logToolUsage({ toolName: "delete_account", operation: "run", parameters: { note: "a\u0000b" }, success: false });
    logger.logToolUsage({ toolName: "drop", operation: "run", parameters: { note: "lone \uD800" }, success: false });
    logger.logToolUsage({ toolName: "quote", operation: "run", parameters: { note: "the escape \\u0000, as text" }, success: false });
    logger.logToolUsage({ toolName: "search", operation: "run", success: true });
    await logger.finalizeSession();
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
    const q = `"${schema}".audit_records`;
    await sql(`ALTER TABLE ${q} DISABLE TRIGGER USER`);
    await sql(`UPDATE ${q} SET record = jsonb_set(record, '{success}', 'true') WHERE kind = 'tool_usage' AND seq IN (1, 2, 3)`);
    const report = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(report.problems.map((p) => `${p.kind}@${p.seq}`)).toEqual(["column_mismatch@1", "column_mismatch@2", "column_mismatch@3"]);
  });

  it("queries and analytics from PostgreSQL equal those from the files of the same records", async () => {
    const schema = schemaFor("equal");
    const { summary, auditDir, sessionId } = await populate(schema);
    await populate(schema, "other"); // a second session in the store: the viewer's scope must exclude it
    const pgSource = new PostgresRecordSource({ connectionString: PG_URL, schema });
    const files = new FileRecordSource(auditDir);
    try {
      const stats = await pgSource.summarize([sessionId]);
      expect(stats.counts).toEqual(summary.counts);
      expect(stats.totalRecords).toBe(summary.totalRecords);
      expect(stats.tokens).toEqual(summary.tokens);
      // i = 3, 13, …, 53 without a split; 7, 17, …, 57 without counts, 27 failed (not counted)
      expect([summary.tokens.callsWithoutTokenSplit, summary.tokens.callsWithoutTokens]).toEqual([6, 5]);
      expect(stats.models).toEqual(summary.models);
      expect(stats.personas).toEqual(summary.personas);
      expect(stats.chatSuccessRate).toBe(summary.chatSuccessRate);
      expect(stats.toolCalls).toBe(summary.toolCalls);
      expect(stats.toolSuccessRate).toBe(summary.toolSuccessRate);
      expect(stats.errorsBySeverity).toEqual(summary.errorsBySeverity);
      for (const k of RECORD_KINDS) expect(stats.heads[k]).toEqual(summary.heads[k]);
      expect((await pgSource.summarize()).totalRecords).toBe(2 * summary.totalRecords);

      // the file viewer's own query code over the files, against SQL over the store
      const fromFiles = async <K extends RecordType>(kind: K, filter: Parameters<typeof compileQuery<K>>[1]) => {
        const c = compileQuery(kind, filter, "test");
        const buf = new NewestBuffer(c.offset + Math.min(c.limit, 1e9));
        for await (const r of files.records(kind, sessionId)) if (c.match(r)) buf.offer(r);
        return buf.drain().slice(c.offset, c.offset + c.limit);
      };
      const cases: Array<[RecordType, Record<string, unknown>]> = [
        ["chat_interaction", {}],
        ["chat_interaction", { limit: 7, model: "gpt-4o" }],
        ["chat_interaction", { success: false, limit: Infinity }],
        ["chat_interaction", { persona: "support", interactionType: "api_request", limit: 50 }],
        ["chat_interaction", { userId: "u2", offset: 2, limit: 3 }],
        ["tool_usage", { toolName: "search", success: true, limit: 1000 }],
        ["persona_activity", { persona: "planner" }],
        ["file_operation", { operation: "read", success: false }],
        ["performance_metric", { metricName: "latency", limit: 4 }],
        ["error", { severity: "critical" }],
      ];
      for (const [kind, filter] of cases) {
        const want = await fromFiles(kind, filter as never);
        const got = await pgSource.query(kind, filter as never, [sessionId]);
        expect(got, `${kind} ${JSON.stringify(filter)}`).toEqual(want);
        expect(want.length, `${kind} ${JSON.stringify(filter)}`).toBeGreaterThan(0);
      }
      const all: Record<string, unknown>[] = [];
      for await (const r of files.records("chat_interaction", sessionId)) all.push(r);
      const mid = String(all[30]!.timestamp);
      expect(await pgSource.query("chat_interaction", { since: mid, limit: Infinity }, [sessionId])).toEqual(await fromFiles("chat_interaction", { since: mid, limit: Infinity }));
      await expect(pgSource.query("chat_interaction", { modle: "x" } as never)).rejects.toThrow(/modle/);
    } finally {
      await pgSource.close();
    }
  });

  it("migrates once when many instances start together, and rejects bad options naming the field", async () => {
    const schema = schemaFor("migrate");
    const results = await Promise.all([1, 2, 3, 4].map(() => migratePostgres({ connectionString: PG_URL, schema })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(() => new PostgresSink({ connectionString: PG_URL, schema: "bad-name; drop" })).toThrow(/PostgresSink\.schema/);
    expect(() => new PostgresSink({ connectionString: PG_URL, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new PostgresSink({} as never)).toThrow(/connectionString/);
  });

  it("takes the application's pg.Pool and a pg.PoolConfig as they are typed; a pg.Client is refused, by the types and at the call", async () => {
    const pg = (await import("pg")).default;
    // (the options are the kit's own types, so that its main entry needs no @types/pg: these
    // must still accept pg's own, also through variables of pg's types)
    const config: import("pg").PoolConfig = { max: 2, connectionTimeoutMillis: 5000 };
    const pool: import("pg").Pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const client: import("pg").Client = new pg.Client({ connectionString: PG_URL });
    try {
      const schema = schemaFor("typed");
      await migratePostgres({ pool, schema });
      const sink = new PostgresSink({ connectionString: PG_URL, poolConfig: config, schema });
      await sink.close();
      // @ts-expect-error a pg.Client is no pool (its clients are needed: migrations released one)
      const refused = () => migratePostgres({ pool: client, schema });
      await expect(refused()).rejects.toThrow(/pool: must be a pg\.Pool \(a pg\.Client is not one/);
    } finally {
      await pool.end();
    }
  });
});
