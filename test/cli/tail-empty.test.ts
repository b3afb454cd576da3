// `audit-logger tail` (and `serve`) of a directory that holds no audit logs says so, as verify,
// summary, report and export do. (Found by the CLI pass, 2026-12-06: it printed nothing and exited 0, so a wrong
// <dir>, a project directory without audit_logs/, looked like a trail with no records; with -f it
// waited without a word.)
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { collect, runCli, startCli, waitFor } from "./helpers.js";

afterAll(cleanupTmp);

describe("audit-logger tail of a directory without audit logs", () => {
  it("exits 1 saying so; with -f it says it waits, then prints the records of a session that appears", async () => {
    const empty = tmpProject("audit-tail-empty-");
    const r = await runCli(["tail", empty]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`audit-logger tail: no audit logs in ${empty}`);
    expect(r.stdout).toBe("");

    const projectPath = tmpProject("audit-tail-wait-");
    fs.mkdirSync(path.join(projectPath, "audit_logs"));
    const child = startCli(["tail", "-f", projectPath]);
    const c = collect(child);
    await waitFor(() => c.stderr().includes("waiting"), 20_000, "the waiting line");
    expect(c.stderr()).toContain(`no audit logs in ${path.join(projectPath, "audit_logs")} yet`);
    const logger = new AuditLogger({ sessionId: "later", projectPath });
    logger.logToolUsage({ toolName: "arrived", operation: "o" });
    await logger.finalizeSession();
    await waitFor(() => c.stdout().includes("arrived.o"), 20_000, "the new session's record");
    child.kill("SIGINT");
    expect((await c.done).code).toBe(0);
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
