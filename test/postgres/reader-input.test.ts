import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogger, AuditValidationError, AuditViewer } from "../../src/index.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, freshSchema, PG_URL } from "../fixtures/postgres/db.js";

const schema = freshSchema("rdin");
let projectPath = "";
beforeAll(async () => {
  projectPath = tmpProject();
  const sink = new PostgresSink({ connectionString: PG_URL, schema });
  const logger = new AuditLogger({ sessionId: "r1", projectPath, sinks: [sink], fullContentLogging: false });
  for (let i = 0; i < 5; i++) logger.logToolUsage({ toolName: "t", operation: "op" });
  await logger.finalizeSession();
});
afterAll(async () => {
  await dropSchema(schema);
  cleanupTmp();
});

describe("query bounds at the edges of what JavaScript takes: the files and the store answer alike", () => {
  const cases: Array<[string, object, number]> = [
    ["until the last Date (year +275760)", { until: 8.64e15 }, 5],
    ["since the first Date (year -271821)", { since: -8.64e15 }, 5],
    ["since the last Date", { since: 8.64e15 }, 0],
    ["until the first Date", { until: new Date(-8.64e15) }, 0],
    ["since the end of year 9999", { since: "9999-12-31T23:59:59Z" }, 0],
    ["limit 1e20", { limit: 1e20 }, 5],
    ["limit 2^63", { limit: 2 ** 63 }, 5],
  ];
  for (const [name, filter, expected] of cases) {
    it(name, async () => {
      const files = new AuditViewer({ auditPath: path.join(projectPath, "audit_logs") });
      const store = new AuditViewer({ postgres: { connectionString: PG_URL, schema } });
      expect((await files.getToolUsages(filter as never)).length).toBe(expected);
      expect((await store.getToolUsages(filter as never)).length).toBe(expected);
    });
  }

  it("an offset past 2^53 is refused by both, naming the field", async () => {
    const store = new AuditViewer({ postgres: { connectionString: PG_URL, schema } });
    for (const v of [new AuditViewer({ auditPath: path.join(projectPath, "audit_logs") }), store]) {
      const err = await v.getToolUsages({ offset: 1e20 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditValidationError);
      expect((err as Error).message).toMatch(/offset/);
    }
  });
});
