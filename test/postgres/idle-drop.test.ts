import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { tmpProject } from "../helpers/index.js";
import { PG_URL, pgTestScope, sql } from "../fixtures/postgres/db.js";
import { childArgs } from "../helpers/child-args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const { schemaFor } = pgTestScope();

describe("a connection the server drops while it is idle in a pool verifyPostgres, migratePostgres or applyPostgresRetention made", () => {
  it("does not end the host process: the call goes on over a new connection, or fails with a coded error", async () => {
    const schema = schemaFor("idledrop");
    // a store of some thousands of records: verify's statements have idle time between them (the hashing of each page)
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
    const logger = new AuditLogger({ sessionId: "idle_drop", projectPath: tmpProject(), sinks: [sink], fullContentLogging: false });
    for (let i = 0; i < 3000; i++) logger.logToolUsage({ toolName: "t", operation: "op", parameters: { i } });
    await logger.finalizeSession();
    expect(sink.stats().stored).toBe(3000);

    // this child's connections only (other test files share the server)
    const app = `audit-logger-idledrop-${process.pid}`;
    const url = new URL(PG_URL);
    url.searchParams.set("application_name", app);
    const child = spawn(process.execPath, [...childArgs(path.join(here, "../fixtures/postgres/idle-drop.ts")), JSON.stringify({ url: url.toString(), schema, runs: 12 })], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    let exited = false;
    const code = new Promise<number | null>((resolve) => child.on("close", (c) => ((exited = true), resolve(c))));
    let dropped = 0;
    while (!exited) {
      const rows = await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'`, [app]);
      dropped += rows.length;
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(await code, err).toBe(0);
    expect(dropped).toBeGreaterThan(0);
    const lines = out.trim().split("\n");
    expect(lines.at(-1)).toBe("alive");
    // each call either verified the whole store or failed with the store's coded error
    for (const l of lines.slice(1, -1)) expect(l).toMatch(/^(ok verify true 3000|ok migrate retention|threw AUDIT_ERR_IO)$/);
  }, 120_000);
});
