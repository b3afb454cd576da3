// Found by the integrity pass, 2026-12-05: a session whose store was down from its start to its
// end had a session file naming its PostgresSink in config.sinks as if its records went there,
// with nothing saying they were in a spool instead.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, filesAndStore, freePort, freshSchema, nextSession, PgProxy } from "../fixtures/postgres/db.js";

const schemas: string[] = [];
const proxies: PgProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.stop();
  for (const s of schemas.splice(0)) await dropSchema(s);
  cleanupTmp();
});

interface SessionConfig {
  sinks: string[];
  refusedSinks?: unknown;
  undeliveredSinks?: Array<{ sink: string; detail: string }>;
}

const configOf = (dir: string, sid: string): SessionConfig => (JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8")) as { config: SessionConfig }).config;

describe("a PostgresSink whose store is down from the session's start to its end", () => {
  it("stays in config.sinks (its records go there through its spool), and the finalized session file lists it in config.undeliveredSinks with what it holds and why; a store that answers leaves no such entry", async () => {
    const schema = freshSchema("downsf");
    schemas.push(schema);
    const store = new PgProxy(await freePort());
    proxies.push(store);
    const projectPath = tmpProject();
    const sink = new PostgresSink({ connectionString: store.url, schema, closeTimeoutMs: 300 });
    const logger = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false, durability: "sync" });
    const errors: string[] = [];
    logger.on("error", (e) => errors.push(e.message));
    for (let i = 0; i < 4; i++) logger.logToolUsage({ toolName: "t", operation: `op${i}` });
    await logger.finalizeSession();
    const dir = logger.auditDir;
    expect(errors.some((m) => /PostgresSink cannot store records/.test(m))).toBe(true);
    const c = configOf(dir, logger.sessionId);
    expect(c.sinks).toEqual([sink.description]);
    expect(c.refusedSinks).toBeUndefined();
    const spool = fs.readdirSync(dir).find((n) => n.startsWith(".pg_spool_"))!;
    expect(spool).toBeDefined();
    expect(c.undeliveredSinks).toEqual([
      { sink: sink.description, detail: expect.stringMatching(new RegExp(`^not in the store when the session ended: \\d+ bytes of records in its spool ${spool.replace(/\./g, "\\.")}; the store did not answer \\(.*ECONNREFUSED.*\\)\\. A later PostgresSink`)) },
    ]);
    expect(JSON.stringify(c)).not.toContain("postgres://");

    // the store back: the next session's sink sends the spool; its own file has no such entry
    await store.start();
    const next = await nextSession(projectPath, { connectionString: store.url, schema });
    expect(next.errors).toEqual([]);
    expect(next.stats.adopted).toBeGreaterThan(0);
    const { files, store: stored } = await filesAndStore(dir, schema, logger.sessionId);
    expect(stored).toEqual(files);
    expect(configOf(dir, next.sessionId).undeliveredSinks).toBeUndefined();
    expect(configOf(dir, next.sessionId).sinks).toHaveLength(1);
  }, 60_000);
});
