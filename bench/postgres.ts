/**
 * Records/s into PostgreSQL through PostgresSink, against a bare multi-row INSERT of the same
 * rows into the same table (same schema, indexes and triggers), in the same run.
 *
 *   npm run bench:postgres                                  # 3 rounds × 50k records
 *   npm run bench:postgres -- --records 200000 --rounds 5 --url postgres://…/db
 *
 * The records are sealed once by a real AuditLogger (mixed kinds). Each round writes them into
 * two fresh schemas, one per mode, modes alternating; the sink's time runs from the first
 * write() until whenStored() resolves. Every round checks that both tables hold every record.
 * The ratio is the median of the per-round ratios; the target is >= 0.70.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { AuditLogger } from "../src/index.js";
import { migratePostgres, PostgresSink } from "../src/postgres/index.js";
import type { AuditSink, SealedRecord } from "../src/types.js";
import { median } from "./lib.js";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "50000" },
    rounds: { type: "string", default: "3" },
    batch: { type: "string", default: "500" },
    url: { type: "string", default: process.env.AUDIT_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test" },
  },
});
const N = Number(values.records);
const ROUNDS = Number(values.rounds);
const BATCH = Number(values.batch);
const URL_ = values.url!;

class Capture implements AuditSink {
  readonly records: SealedRecord[] = [];
  write(r: SealedRecord): void {
    this.records.push(r);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

async function sealRecords(dir: string): Promise<SealedRecord[]> {
  const capture = new Capture();
  const logger = new AuditLogger({ sessionId: "bench", projectPath: dir, sinks: [capture], fullContentLogging: false });
  for (let i = 0; capture.records.length < N; i++) {
    const k = i % 4;
    if (k === 0) logger.logChatInteraction({ prompt: `question number ${i} about the refund policy`, response: `answer ${i}`, model: i % 3 ? "gpt-4o" : "claude-3", tokensUsed: 40 + (i % 50), userId: `u${i % 100}` });
    else if (k === 1) logger.logToolUsage({ toolName: "search", operation: "query", parameters: { q: `term ${i}` }, result: { hits: i % 10 } });
    else if (k === 2) logger.logPerformanceMetric({ metricName: "latency_ms", value: i % 1000, unit: "ms" });
    else logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: `step ${i}` });
  }
  await logger.finalizeSession();
  return capture.records.slice(0, N);
}

async function countIn(pool: pg.Pool, schema: string): Promise<number> {
  return Number((await pool.query<{ c: string }>(`SELECT count(*)::text AS c FROM "${schema}".audit_records`)).rows[0]!.c);
}

async function viaSink(records: readonly SealedRecord[], schema: string, dir: string): Promise<number> {
  await migratePostgres({ connectionString: URL_, schema });
  const sink = new PostgresSink({ connectionString: URL_, schema, batchSize: BATCH, maxQueue: N + 1, backfill: false });
  const errors: Error[] = [];
  sink.open({ sessionId: "bench", auditDir: dir, onError: (e) => errors.push(e) });
  const t0 = process.hrtime.bigint();
  for (const r of records) sink.write(r);
  const ok = await sink.whenStored(600_000);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await sink.close();
  if (!ok || errors.length > 0) throw new Error(`sink did not store everything: ${errors.map((e) => e.message).join("; ")}`);
  return secs;
}

async function bare(pool: pg.Pool, records: readonly SealedRecord[], schema: string): Promise<number> {
  await migratePostgres({ connectionString: URL_, schema });
  const cols = "(session_id, kind, seq, id, ts, prev_hash, hash, model, user_id, trace_id, record, line)";
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < records.length; i += BATCH) {
    const chunk = records.slice(i, i + BATCH);
    const params: unknown[] = [];
    const rows: string[] = [];
    for (const r of chunk) {
      const rec = JSON.parse(r.line) as Record<string, unknown>;
      const b = params.length;
      rows.push(`(${Array.from({ length: 12 }, (_, j) => `$${b + j + 1}`).join(",")})`);
      params.push(r.sessionId, r.kind, r.seq, r.id, r.timestamp, r.prevHash, r.hash, rec.model ?? null, rec.userId ?? null, rec.traceId ?? null, r.line, r.line);
    }
    await pool.query(`INSERT INTO "${schema}".audit_records ${cols} VALUES ${rows.join(",")}`, params);
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}


async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-pg-"));
  const pool = new pg.Pool({ connectionString: URL_, max: 1 });
  const schemas: string[] = [];
  try {
    const records = await sealRecords(dir);
    console.log(`${records.length} sealed records, ${(records.reduce((n, r) => n + r.line.length, 0) / records.length).toFixed(0)} chars per line, batches of ${BATCH}`);
    const ratios: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const sSink = `bench_sink_${process.pid}_${round}`;
      const sBare = `bench_bare_${process.pid}_${round}`;
      schemas.push(sSink, sBare);
      // alternate which mode goes first, so neither always meets a warmer server
      const order = round % 2 ? (["sink", "bare"] as const) : (["bare", "sink"] as const);
      const t: Record<string, number> = {};
      for (const m of order) t[m] = m === "sink" ? await viaSink(records, sSink, dir) : await bare(pool, records, sBare);
      for (const s of [sSink, sBare]) {
        const c = await countIn(pool, s);
        if (c !== records.length) throw new Error(`${s} holds ${c} rows, expected ${records.length}`);
      }
      const rs = records.length / t.sink!;
      const rb = records.length / t.bare!;
      ratios.push(rs / rb);
      console.log(`round ${round}: sink ${rs.toFixed(0)} rec/s, bare insert ${rb.toFixed(0)} rec/s, ratio ${(rs / rb).toFixed(2)}`);
      for (const s of [sSink, sBare]) await pool.query(`DROP SCHEMA "${s}" CASCADE`);
    }
    const m = median(ratios);
    console.log(`median ratio sink/bare: ${m.toFixed(2)} (target >= 0.70): ${m >= 0.7 ? "PASS" : "FAIL"}`);
    if (m < 0.7) process.exitCode = 1;
  } finally {
    for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => undefined);
    await pool.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
