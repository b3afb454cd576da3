// `audit-logger tail` (and `serve`) of a directory that holds no audit logs says so, as verify,
// summary, report and export do. (Found by the CLI pass, 2026-12-06: it printed nothing and exited 0, so a wrong
// <dir>, a project directory without audit_logs/, looked like a trail with no records; with -f it
// waited without a word.) So does tail --postgres of a store without sessions (found by review,
// 2026-12-06: the directory case was fixed, the store's printed nothing with exit 0, against
// tail's --help).
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger, type AuditOptions } from "../../src/index.js";
import { migratePostgres, PostgresSink } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, freshSchema, PG_URL } from "../fixtures/postgres/db.js";
import { collect, runCli, startCli, waitFor } from "./helpers.js";

const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await dropSchema(s);
  cleanupTmp();
});

/** `tail -f <target>` says it waits for sessions (`waitingIn`: how it ends the place it names, a RegExp source), then prints the record of one a logger with `options` writes. */
async function followsNewSession(target: readonly string[], waitingIn: string, options: AuditOptions): Promise<void> {
  const child = startCli(["tail", "-f", ...target]);
  const c = collect(child);
  try {
    await waitFor(() => c.stderr().includes("waiting"), 20_000, "the waiting line");
    expect(c.stderr()).toMatch(new RegExp(`no audit logs in .*${waitingIn} yet`));
    const logger = new AuditLogger({ sessionId: "later", ...options });
    logger.logToolUsage({ toolName: "arrived", operation: "o" });
    await logger.finalizeSession();
    await waitFor(() => c.stdout().includes("arrived.o"), 20_000, "the new session's record");
  } finally {
    // (also when a wait fails: a `tail -f` left running outlived the test run)
    child.kill("SIGINT");
  }
  expect((await c.done).code).toBe(0);
}

describe("audit-logger tail of a directory without audit logs", () => {
  it("exits 1 saying so; with -f it says it waits, then prints the records of a session that appears", async () => {
    const empty = tmpProject("audit-tail-empty-");
    const r = await runCli(["tail", empty]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`audit-logger tail: no audit logs in ${empty}`);
    expect(r.stdout).toBe("");

    const projectPath = tmpProject("audit-tail-wait-");
    fs.mkdirSync(path.join(projectPath, "audit_logs"));
    await followsNewSession([projectPath], `${path.sep}audit_logs`, { projectPath });
  }, 60_000);
});

describe("audit-logger tail -f of a new project directory", () => {
  it("follows the audit_logs/ a logger makes there once tail waits (it watched the project directory itself, printing nothing: new-user pass, 2026-12-06)", async () => {
    const projectPath = tmpProject("audit-tail-new-project-");
    await followsNewSession([projectPath], path.basename(projectPath), { projectPath });
  }, 60_000);
});

describe("audit-logger tail --postgres of a store without sessions", () => {
  it("exits 1 saying so; with -f it says it waits, then prints the records of a session that reaches the store", async () => {
    const schema = freshSchema("tailempty");
    schemas.push(schema);
    await migratePostgres({ connectionString: PG_URL, schema });
    const pg = ["--postgres", PG_URL, "--schema", schema];
    const r = await runCli(["tail", ...pg]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`audit-logger tail: no audit logs in .* schema ${schema}: no session has reached that store yet, or its sessions are in another schema \\(--schema\\) \\[AUDIT_ERR_CONFIG\\]\n$`));
    expect(r.stdout).toBe("");
    await followsNewSession(pg, `schema ${schema}`, { projectPath: tmpProject("audit-tail-store-"), sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
  }, 60_000);
});

describe("audit-logger serve of a directory without audit logs", () => {
  it("serves, and says on stderr that there are no audit logs there yet", async () => {
    const empty = tmpProject("audit-serve-empty-");
    const child = startCli(["serve", empty, "--no-open"]);
    const c = collect(child);
    await waitFor(() => c.stdout().includes("Press Ctrl-C"), 20_000, "the server");
    expect(c.stdout()).toContain("Open http://127.0.0.1:");
    await waitFor(() => c.stderr().includes("no audit logs"), 5_000, "the line saying so");
    expect(c.stderr()).toContain(`audit-logger serve: no audit logs in ${empty} yet`);
    child.kill("SIGINT");
    expect((await c.done).code).toBe(0);
  }, 60_000);
});

describe("audit-logger serve of a new project directory", () => {
  it("shows the session a logger then writes to the audit_logs/ it makes there (the directory itself was served for good, an empty list: new-user pass, 2026-12-06)", async () => {
    const projectPath = tmpProject("audit-serve-new-project-");
    const child = startCli(["serve", projectPath, "--no-open"]);
    const c = collect(child);
    try {
      await waitFor(() => c.stdout().includes("Press Ctrl-C"), 20_000, "the server");
      const url = new URL(/Open (http:\/\/\S+)/.exec(c.stdout())![1]!);
      const token = url.searchParams.get("token")!;
      const sessions = async (): Promise<string[]> => {
        const r = await fetch(new URL("/api/sessions", url), { headers: { authorization: `Bearer ${token}` } });
        expect(r.status).toBe(200);
        return ((await r.json()) as { sessions: Array<{ sessionId: string }> }).sessions.map((x) => x.sessionId);
      };
      expect(await sessions()).toEqual([]);
      const logger = new AuditLogger({ sessionId: "later", projectPath });
      logger.logToolUsage({ toolName: "arrived", operation: "o" });
      await logger.finalizeSession();
      expect(await sessions()).toEqual(["later"]);
      const timeline = await fetch(new URL("/api/sessions/later/timeline", url), { headers: { authorization: `Bearer ${token}` } });
      expect(JSON.stringify(await timeline.json())).toContain("arrived");
    } finally {
      child.kill("SIGINT");
      expect((await c.done).code).toBe(0);
    }
  }, 60_000);
});

describe("audit-logger serve --postgres of a store without sessions", () => {
  it("serves, and says on stderr that there are no audit logs there yet, as over a directory", async () => {
    // (until 2026-12-06 only the directory said so: an empty store served an empty viewer without a word)
    const schema = freshSchema("serveempty");
    schemas.push(schema);
    await migratePostgres({ connectionString: PG_URL, schema });
    const child = startCli(["serve", "--postgres", PG_URL, "--schema", schema, "--no-open"]);
    const c = collect(child);
    await waitFor(() => c.stdout().includes("Press Ctrl-C"), 20_000, "the server");
    child.kill("SIGINT");
    const r = await c.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^audit-logger serve: no audit logs in \\S+ schema ${schema} yet; the viewer shows sessions as they are written\\.\\n$`));
  }, 60_000);
});
