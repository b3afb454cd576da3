import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, filesAndStore, freshSchema, PG_URL, sql } from "../fixtures/postgres/db.js";

const schemas: string[] = [];
afterEach(async () => {
  for (const s of schemas.splice(0)) await dropSchema(s);
  cleanupTmp();
});

function schemaFor(tag: string): string {
  const s = freshSchema(tag);
  schemas.push(s);
  return s;
}

/** The messages of session `sid`'s `errors` records in `dir`. */
const errorMessages = (dir: string, sid: string): string[] =>
  fs.existsSync(path.join(dir, `errors_${sid}.jsonl`))
    ? fs.readFileSync(path.join(dir, `errors_${sid}.jsonl`), "utf8").trimEnd().split("\n").map((l) => String((JSON.parse(l) as { message: unknown }).message))
    : [];

describe("one PostgresSink given to two loggers", () => {
  it("at once: it serves the first only; the second is told so and keeps its records in its files; the first's session, chain and checkpoints are its own and verify OK", async () => {
    const schema = schemaFor("shared");
    const projectPath = tmpProject();
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    const a = new AuditLogger({ sessionId: "tenantA", projectPath, sinks: [sink], fullContentLogging: false });
    const b = new AuditLogger({ sessionId: "tenantB", projectPath, sinks: [sink], fullContentLogging: false });
    const errorsA: string[] = [];
    a.on("error", (e) => errorsA.push(e.message));
    b.on("error", () => undefined);
    try {
      for (let i = 0; i < 10; i++) a.logToolUsage({ toolName: "t", operation: `a${i}` });
      for (let i = 0; i < 5; i++) b.logToolUsage({ toolName: "t", operation: `b${i}` });
      await new Promise((r) => setTimeout(r, 200));
      await b.finalizeSession(); // (it closed the sink under A)
      for (let i = 0; i < 3; i++) a.logToolUsage({ toolName: "t", operation: `a-late${i}` });
      await a.finalizeSession();
    } finally {
      process.off("warning", onWarning);
    }
    const dir = a.auditDir;
    expect(errorMessages(dir, "tenantB").some((m) => /a PostgresSink belongs to one logger/.test(m))).toBe(true);
    expect(errorsA).toEqual([]); // (no fork of tenantA's chain: there is none)
    const { files, store } = await filesAndStore(dir, schema, "tenantA");
    expect(store).toEqual(files);
    expect(store).toHaveLength(13);
    expect((await filesAndStore(dir, schema, "tenantB")).store).toEqual([]);
    expect(await sql(`SELECT session_id, status FROM "${schema}".audit_sessions ORDER BY 1`)).toEqual([{ session_id: "tenantA", status: "finalized" }]);
    const report = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(report.problems).toEqual([]);
  });

  it("one after the other (a sink kept for the next job): the second logger is told the sink was closed; the store holds the first session only, and verifies", async () => {
    const schema = schemaFor("reused");
    const projectPath = tmpProject();
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
    let dir = "";
    for (const job of ["job1", "job2"]) {
      const logger = new AuditLogger({ sessionId: job, projectPath, sinks: [sink], fullContentLogging: false });
      const errors: string[] = [];
      logger.on("error", (e) => errors.push(e.message));
      for (let i = 0; i < 5; i++) logger.logToolUsage({ toolName: "t", operation: `${job}-${i}` });
      await logger.finalizeSession();
      dir = logger.auditDir;
      // (one report at open, not one per record "after close()")
      expect(errors.filter((m) => /after close\(\)/.test(m))).toEqual([]);
    }
    expect(errorMessages(dir, "job2").filter((m) => /was closed when the logger of session job1 ended: a PostgresSink belongs to one logger/.test(m))).toHaveLength(1);
    expect((await filesAndStore(dir, schema, "job1")).store).toHaveLength(5);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  });

  // Found by the integrity pass, 2026-12-05: the session file of a logger whose sink refused it
  // listed that sink in config.sinks, as if its records went there.
  it("the refused logger's session file lists the sink as refused, with the reason, not among its sinks: as it runs and once finalized", async () => {
    const schema = schemaFor("refusedlist");
    const projectPath = tmpProject();
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
    const a = new AuditLogger({ sessionId: "first", projectPath, sinks: [sink], fullContentLogging: false });
    const b = new AuditLogger({ sessionId: "second", projectPath, sinks: [sink], fullContentLogging: false });
    b.on("error", () => undefined);
    const configOf = (sid: string): { sinks: string[]; refusedSinks?: Array<{ sink: string; reason: string }> } =>
      (JSON.parse(fs.readFileSync(path.join(a.auditDir, `session_${sid}.json`), "utf8")) as { config: { sinks: string[]; refusedSinks?: Array<{ sink: string; reason: string }> } }).config;
    const expectRefused = (): void => {
      const c = configOf("second");
      expect(c.sinks).toEqual([]);
      expect(c.refusedSinks).toEqual([{ sink: sink.description, reason: expect.stringMatching(/already serves session first[^]*a PostgresSink belongs to one logger/) }]);
    };
    expect(sink.description).toMatch(/^PostgresSink:[0-9a-f]{10}$/);
    expectRefused();
    expect(configOf("first").sinks).toEqual([sink.description]);
    expect(configOf("first").refusedSinks).toBeUndefined();
    b.logToolUsage({ toolName: "t", operation: "b" });
    await b.finalizeSession();
    expectRefused();
    await a.finalizeSession();
    expect(configOf("first").sinks).toEqual([sink.description]);
    expect((await filesAndStore(a.auditDir, schema, "second")).store).toEqual([]);
  });
});
