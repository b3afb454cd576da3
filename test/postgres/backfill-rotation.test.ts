// A sink's backfill (what the session's files held at open and the store lacks) listed the
// kind's files once and read them by name, while its own logger went on writing: a rotation
// during the backfill's inserts turned the active file into a segment that was never read, and
// the name then held only newer records, so the records between the last listed segment and the
// files' tail at open never reached the store (found 2026-12-05).
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { PostgresSink, migratePostgres, verifyPostgres } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, freshSchema, PG_URL, sql } from "../fixtures/postgres/db.js";

const schemas: string[] = [];
afterEach(async () => {
  for (const s of schemas.splice(0)) await dropSchema(s);
  cleanupTmp();
});

describe("backfill while the logger rotates", () => {
  it("sends every record the files held at open, also those of a file rotated during the backfill", async () => {
    const schema = freshSchema("bfrot");
    schemas.push(schema);
    const projectPath = tmpProject();
    const rotation = { size: "2k" } as const;
    const first = new AuditLogger({ sessionId: "rot", projectPath, rotation, fullContentLogging: false });
    for (let i = 0; i < 100; i++) first.logToolUsage({ toolName: "t", operation: `before${i}` });
    await first.finalizeSession();

    // the store ready, and one insert per record: the backfill is under way while the app logs
    await migratePostgres({ connectionString: PG_URL, schema });
    const sink = new PostgresSink({ connectionString: PG_URL, schema, batchSize: 1 });
    const second = new AuditLogger({ sessionId: "rot", projectPath, rotation, fullContentLogging: false, sinks: [sink] });
    const errors: string[] = [];
    second.on("error", (e) => errors.push(e.message));
    // nothing logged (nothing rotated) until the backfill has begun; then enough to rotate while it runs
    for (let waited = 0; sink.stats().backfilled === 0; waited += 5) {
      if (waited > 20_000) throw new Error("the backfill did not begin");
      await new Promise((r) => setTimeout(r, 5));
    }
    for (let i = 0; i < 100; i++) {
      second.logToolUsage({ toolName: "t", operation: `after${i}` });
      await new Promise((r) => setTimeout(r, 1));
    }
    await second.finalizeSession();
    const rows = await sql<{ seq: string }>(`SELECT seq::text AS seq FROM "${schema}".audit_records WHERE session_id = 'rot' AND kind = 'tool_usage' ORDER BY seq`);
    const seqs = rows.map((r) => Number(r.seq));
    const missing = Array.from({ length: 200 }, (_, i) => i + 1).filter((s) => !seqs.includes(s));
    expect(missing).toEqual([]);
    expect(seqs).toHaveLength(200);
    expect(sink.stats().backfilled).toBe(100);
    expect(errors).toEqual([]);
    expect((await verifyPostgres({ connectionString: PG_URL, schema, sessionId: "rot" })).problems).toEqual([]);
  }, 60_000);
});
