/**
 * Retention prunes a session's old segments only after the chained `retention_pruned` record of
 * their removal (and its checkpoint) is in the file: removed while the disk refused that record
 * (it stays in memory, retried), a crash before the disk took it again left a chain whose first
 * segments are gone with nothing saying why, which verify cannot tell from tampering. Real child
 * process, its file-size limit set from outside with util-linux `prlimit`, then SIGKILLed.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { verifyAuditLog, type Durability } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

const MODES: readonly Durability[] = ["sync", "async", "fsync"];

describe("segments pruned while the disk refuses the record of their removal", () => {
  for (const durability of MODES) {
    it(`${durability}: no segment is removed before its retention_pruned record is in the file; after a crash the session verifies`, async () => {
      const projectPath = tmpProject();
      const { h, dir, before } = await cleanupRefused(projectPath, durability);
      h.child.kill("SIGKILL");
      await h.exited;
      const report = await verifyAuditLog(dir);
      expect(report.problems, `${h.lines.join("\n")}\n${fs.readdirSync(dir).join(" ")}`).toEqual([]);
      expect(segments(dir)).toEqual(before);
    }, 60_000);
  }

  it("sync: once the disk takes data again, the record is written, and the next cleanup removes the segments; the session verifies", async () => {
    const projectPath = tmpProject();
    const { h, pid, dir } = await cleanupRefused(projectPath, "sync", "recover");
    execFileSync("prlimit", ["--pid", pid, "--fsize=unlimited:unlimited"]);
    h.child.kill("SIGUSR1");
    const again = await h.waitForLine((l) => l.startsWith("cleaned-again "), "cleaned-again");
    const exit = await h.exited;
    expect(exit.code, exit.stderr).toBe(0);
    expect((JSON.parse(again.slice("cleaned-again ".length)) as unknown[]).length).toBe(1);
    expect(segments(dir)).toEqual([]);
    const report = await verifyAuditLog(dir);
    expect(report.problems, h.lines.join("\n")).toEqual([]);
  }, 60_000);
});

const segments = (dir: string) => fs.readdirSync(dir).filter((f) => /^tool_usage_prune\.\d+\.jsonl$/.test(f)).sort();

/** The child, its rotated segments, then a cleanup while no file may grow: it fails, naming why, and removes nothing. */
async function cleanupRefused(projectPath: string, durability: Durability, then?: string): Promise<{ h: ChildHandle; pid: string; dir: string; before: string[] }> {
  const h = startFixture("prune-refused-child.mts", {}, [projectPath, durability, ...(then ? [then] : [])]);
  children.push(h);
  const [, pid] = (await h.waitForLine((l) => l.startsWith("ready "), "ready")).split(" ");
  const dir = auditDirOf(projectPath);
  const before = segments(dir);
  expect(before.length).toBeGreaterThan(1);
  // (past the session summary's size; the audit_event file is empty, the checkpoints file larger)
  execFileSync("prlimit", ["--pid", pid!, "--fsize=1000:unlimited"]);
  h.child.kill("SIGUSR1");
  const line = await h.waitForLine((l) => l.startsWith("cleaned ") || l.startsWith("cleanup-failed "), "cleaned");
  expect(line, h.lines.join("\n")).toMatch(/^cleanup-failed Retention removed nothing of session prune/);
  expect(segments(dir)).toEqual(before);
  return { h, pid: pid!, dir, before };
}
