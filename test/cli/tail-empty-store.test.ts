// `audit-logger tail --postgres` of a store that holds no session says so and exits 1, as over a
// directory, and as summary, report and export --postgres do; with -f it says it waits, then
// prints the records of a session that reaches the store. (Found by review, 2026-12-06: the
// directory case was fixed, the store's printed nothing with exit 0, against tail's --help.)
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { migratePostgres, PostgresSink } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, freshSchema, PG_URL } from "../fixtures/postgres/db.js";
import { collect, runCli, startCli, waitFor } from "./helpers.js";

const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await dropSchema(s);
  cleanupTmp();
});

describe("audit-logger tail --postgres of a store without sessions", () => {
  it("exits 1 saying so; with -f it says it waits, then prints the records of a session that arrives", async () => {
    const schema = freshSchema("tailempty");
    schemas.push(schema);
    await migratePostgres({ connectionString: PG_URL, schema });
    const pg = ["--postgres", PG_URL, "--schema", schema];
    const r = await runCli(["tail", ...pg]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`audit-logger tail: no audit logs in `);
    expect(r.stderr).toContain(`schema ${schema}`);
    expect(r.stdout).toBe("");

    const child = startCli(["tail", "-f", ...pg]);
    const c = collect(child);
    await waitFor(() => c.stderr().includes("waiting"), 20_000, "the waiting line");
    expect(c.stderr()).toContain("no audit logs in ");
    const logger = new AuditLogger({ sessionId: "later", projectPath: tmpProject("audit-tail-store-"), sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    logger.logToolUsage({ toolName: "arrived", operation: "o" });
    await logger.finalizeSession();
    await waitFor(() => c.stdout().includes("arrived.o"), 20_000, "the new session's record");
    child.kill("SIGINT");
    expect((await c.done).code).toBe(0);
  }, 60_000);
});
