// `audit-logger cleanup` and a session's dot files (found 2026-12-05): the lock a killed process
// left goes with its session, and a session whose PostgresSink spool still holds records (lines
// of its own chain, as a sink spools them) is kept and said so.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { leaveLock } from "../helpers/core.js";
import { runCli } from "./helpers.js";

const DAY = 86_400_000;

afterEach(() => {
  vi.useRealTimers();
  cleanupTmp();
});

/** A finalized session whose records are dated `ageDays` ago (only Date is faked). */
async function oldSession(projectPath: string, sessionId: string, ageDays: number): Promise<void> {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() - ageDays * DAY);
  try {
    const logger = new AuditLogger({ sessionId, projectPath, fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "op" });
    await logger.finalizeSession();
  } finally {
    vi.useRealTimers();
  }
}

describe("audit-logger cleanup and a session's dot files", () => {
  it("removes the lock a killed process left with its session; keeps a session whose spool holds records, saying why", async () => {
    const projectPath = tmpProject("audit-cli-leftovers-");
    const dir = path.join(projectPath, "audit_logs");
    await oldSession(projectPath, "killed", 100);
    await oldSession(projectPath, "spooled", 100);
    const lock = leaveLock(dir, "killed");
    // "spooled" was killed too, its records still in its spool: its lock stays as found
    const spool = ".pg_spool_0123456789_spooled.jsonl";
    fs.copyFileSync(path.join(dir, "tool_usage_spooled.jsonl"), path.join(dir, spool));
    const spooledLock = fs.readFileSync(path.join(dir, leaveLock(dir, "spooled")), "utf8");
    const before = fs.readdirSync(dir).sort();

    const dry = await runCli(["cleanup", dir, "--dry-run", "--max-age-days", "30", "--json"]);
    expect(dry.stderr).toBe("");
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout) as { removed: Array<{ sessionId: string; files: string[] }>; skippedUnsent: Array<{ sessionId: string; files: string[] }> };
    expect(plan.removed.map((e) => e.sessionId)).toEqual(["killed"]);
    expect(plan.removed[0]!.files).toContain(lock);
    expect(plan.skippedUnsent).toEqual([expect.objectContaining({ sessionId: "spooled", files: [spool] })]);
    expect(fs.readdirSync(dir).sort()).toEqual(before);

    const text = await runCli(["cleanup", dir, "--dry-run", "--max-age-days", "30"]);
    expect(text.stdout).toMatch(/^kept spooled: its records may not have reached their PostgreSQL store yet \(\.pg_spool_0123456789_spooled\.jsonl\)/m);

    const real = await runCli(["cleanup", dir, "--max-age-days", "30", "--json"]);
    expect(real.code).toBe(0);
    const done = JSON.parse(real.stdout) as { removed: Array<{ sessionId: string; files: string[] }>; skippedUnsent: Array<{ sessionId: string }> };
    expect(done.removed).toEqual(plan.removed);
    expect(done.skippedUnsent.map((s) => s.sessionId)).toEqual(["spooled"]);
    const left = fs.readdirSync(dir);
    expect(left.filter((n) => n.includes("killed"))).toEqual([]);
    expect(left).toEqual(expect.arrayContaining([spool, "session_spooled.json", "tool_usage_spooled.jsonl"]));
    expect(fs.readFileSync(path.join(dir, ".session_spooled.lock"), "utf8")).toBe(spooledLock);
    expect((await verifyAuditLog(dir)).problems).toEqual([]);
  }, 30_000);
});
