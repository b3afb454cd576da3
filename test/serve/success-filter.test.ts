/**
 * The viewer's outcome filter (`success`) over persona activities: the reader's getters count an
 * activity recorded without `success` as successful, and the viewer's timeline and search must
 * answer the same, over the line index, over full reads and over the PostgreSQL store.
 */
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { ServeData } from "../../src/serve/data.js";
import { dropSchema, freshSchema, PG_URL } from "../fixtures/postgres/db.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

const schema = freshSchema("succ");
const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });

afterAll(async () => {
  await pool.end();
  await dropSchema(schema);
  cleanupTmp();
});

describe("the timeline's and search's success filter takes persona activities in", () => {
  it("success=true keeps an activity recorded without success or with success: true; success=false only the failed one; the same from the index, full reads and PostgreSQL", async () => {
    const projectPath = tmpProject("audit-serve-success-");
    const logger = new AuditLogger({ sessionId: "s1", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    const plain = logger.logPersonaActivity({ personaName: "triage", activityType: "route" });
    const ok = logger.logPersonaActivity({ personaName: "triage", activityType: "route", success: true });
    const failed = logger.logPersonaActivity({ personaName: "triage", activityType: "route", success: false });
    const tool = logger.logToolUsage({ toolName: "search", operation: "run", success: true });
    const toolFailed = logger.logToolUsage({ toolName: "search", operation: "run", success: false });
    logger.logPerformanceMetric({ metricName: "latency", value: 1, unit: "ms" });
    await logger.finalizeSession();
    const auditPath = path.join(projectPath, "audit_logs");
    const kinds = ["persona_activity", "tool_usage", "performance_metric"] as const;
    const sources: Array<[string, ServeData]> = [
      ["line index", new ServeData({ auditPath })],
      ["full reads", new ServeData({ auditPath, lineIndex: false })],
      ["postgres", new ServeData({ postgres: { pool, schema } })],
    ];
    for (const [name, data] of sources) {
      const good = await data.timeline("s1", { kinds, success: true, limit: 50 });
      expect(new Set(good.rows.map((r) => r.id)), name).toEqual(new Set([plain, ok, tool]));
      expect(good.excludedKinds, name).toEqual(["performance_metric"]);
      const bad = await data.timeline("s1", { kinds, success: false, limit: 50 });
      expect(new Set(bad.rows.map((r) => r.id)), name).toEqual(new Set([failed, toolFailed]));
      expect(bad.excludedKinds, name).toEqual(["performance_metric"]);
      const found = await data.search({ kinds: ["persona_activity"], success: false, limit: 50 });
      expect(found.rows.map((r) => r.id), name).toEqual([failed]);
      expect(found.excludedKinds, name).toEqual([]);
    }
  }, 30_000);
});
