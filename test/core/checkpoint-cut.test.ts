/**
 * A signed checkpoint's line cut short by the disk (a file-size limit, or a full disk: a short
 * write, then EFBIG or ENOSPC). The checkpoints file was appended with one write(2) whose count
 * nobody checked: the cut line stayed, the checkpoint counted as written, and the next checkpoint
 * was appended to the cut one, one malformed line, the chain of checkpoints broken for good
 * (found by the durability pass, 2026-12-06). Real child process, its limit set from outside with
 * util-linux `prlimit`, in every durability mode.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
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

describe("a checkpoint line the disk cuts short", () => {
  for (const durability of MODES) {
    it(`${durability}: is reported and taken back (the file ends with a whole line), the next checkpoint follows it whole, and the session verifies`, async () => {
      const projectPath = tmpProject();
      const h = startFixture("checkpoint-cut-child.mts", {}, [projectPath, durability]);
      children.push(h);
      const [, pid, size] = (await h.waitForLine((l) => l.startsWith("ready "), "ready")).split(" ");
      // (a little past the checkpoints file: its next line is cut there; the chain files are smaller)
      execFileSync("prlimit", ["--pid", pid!, `--fsize=${Number(size) + 100}:unlimited`]);
      h.child.kill("SIGUSR1");
      await h.waitForLine((l) => l === "cut", "cut");
      const file = path.join(auditDirOf(projectPath), "checkpoints_cut.jsonl");
      // the refusal was reported, and no part of a line is left in the file
      expect(h.lines.some((l) => l.startsWith("error ") && /checkpoint/i.test(l)), h.lines.join("\n")).toBe(true);
      expect(fs.readFileSync(file, "utf8").endsWith("\n")).toBe(true);
      execFileSync("prlimit", ["--pid", pid!, "--fsize=unlimited:unlimited"]);
      h.child.kill("SIGUSR1");
      await h.waitForLine((l) => l === "done", "done");
      const exit = await h.exited;
      expect(exit.code, exit.stderr).toBe(0);
      const report = await verifyAuditLog(auditDirOf(projectPath));
      expect(report.problems).toEqual([]);
      // every line of the checkpoints file is a checkpoint, numbered 1, 2, … without a gap
      const ns = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { checkpoint: { n: number } }).checkpoint.n);
      expect(ns).toEqual(ns.map((_, i) => i + 1));
    }, 60_000);
  }
});
