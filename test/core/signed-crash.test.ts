/**
 * A signed session SIGKILLed while it logs, in every durability mode, then resumed: the chains,
 * the checkpoints and the content files verify, but for what the documented loss window allows
 * (`content_missing`: chats whose files had not been written when the process died). Covers the
 * periodic checkpoints of `fsync` mode, appended on the app's thread and fdatasync'ed on the
 * thread pool (2026-12-06): a process killed between the two keeps the checkpoint, and the
 * resumed session's next one follows it. Real child process, real SIGKILL.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog, type Durability } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, killChildren, readKind, startFixture, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

/** The signed child, SIGKILLed a moment after its third checkpoint: its key pair. */
async function killedSigned(projectPath: string, durability: Durability): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  const keys = generateKeyPairSync("ed25519");
  const h = startFixture("signed-crash-child.mts", { SIGNED_CRASH_KEY: keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString() }, [projectPath, durability]);
  children.push(h);
  await h.waitForLine((l) => l === "ready", "ready");
  await new Promise((r) => setTimeout(r, 150));
  h.child.kill("SIGKILL");
  await h.exited;
  return keys;
}

describe("a signed session SIGKILLed while it logs, then resumed", () => {
  for (const durability of ["sync", "async", "fsync"] as const satisfies readonly Durability[]) {
    it(`${durability}: verifies (only content_missing allowed), its checkpoints numbered without a gap and signed by its key`, async () => {
      const projectPath = tmpProject();
      const { privateKey, publicKey } = await killedSigned(projectPath, durability);

      const resumed = new AuditLogger({ sessionId: "signed_crash", projectPath, durability, fullContentLogging: true, signingKey: privateKey, checkpointEvery: { records: 50 } });
      const errors: string[] = [];
      resumed.on("error", (e) => errors.push(e.message));
      for (let i = 0; i < 120; i++) resumed.logToolUsage({ toolName: "t", operation: `after ${i}` });
      await resumed.flush();
      await resumed.finalizeSession();
      expect(errors).toEqual([]);
      const report = await verifyAuditLog(auditDirOf(projectPath), { publicKey });
      expect(report.problems.filter((p) => p.kind !== "content_missing")).toEqual([]);
    }, 60_000);
  }
});

// The checkpoints file ending in part of a line, as a crash mid-append leaves it (a machine that
// lost power, a process killed between a cut write and its repair; and every line an earlier
// version left cut by a full disk): the resumed session appended its next checkpoint to it, one
// malformed line, and the checkpoints' chain was broken for good (checkpoint_malformed,
// checkpoint_missing; found by the durability pass, 2026-12-06). The torn tail is cut off, or
// completed when it is a whole checkpoint that lost only its newline, and an errors record says so.
describe("a signed session whose checkpoints file a crash left torn, resumed", () => {
  for (const [name, tear] of [
    ["part of a checkpoint line", (text: string) => text + text.trimEnd().split("\n").at(-1)!.slice(0, 100)],
    ["a whole checkpoint without its newline", (text: string) => text.slice(0, -1)],
  ] as const) {
    it(`${name}: repaired at the resume, reported (audit_log_repaired), and the session verifies`, async () => {
      const projectPath = tmpProject();
      const { privateKey, publicKey } = await killedSigned(projectPath, "sync");
      const file = path.join(auditDirOf(projectPath), "checkpoints_signed_crash.jsonl");
      const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n").length;
      fs.writeFileSync(file, tear(fs.readFileSync(file, "utf8")));

      const resumed = new AuditLogger({ sessionId: "signed_crash", projectPath, durability: "sync", fullContentLogging: true, signingKey: privateKey, checkpointEvery: { records: 50 } });
      const errors: string[] = [];
      resumed.on("error", (e) => errors.push(e.message));
      for (let i = 0; i < 60; i++) resumed.logToolUsage({ toolName: "t", operation: `after ${i}` });
      await resumed.finalizeSession();
      expect(errors).toEqual([]);
      const repaired = readKind(projectPath, "error", "signed_crash").filter((e) => e.errorType === "audit_log_repaired");
      expect(repaired.map((e) => (e.context as { file?: string }).file)).toContain("checkpoints_signed_crash.jsonl");
      const report = await verifyAuditLog(auditDirOf(projectPath), { publicKey });
      expect(report.problems.filter((p) => p.kind !== "content_missing")).toEqual([]);
      // the checkpoints before the tear stand, numbered on without a gap
      const ns = fs.readFileSync(file, "utf8").trimEnd().split("\n").map((l) => (JSON.parse(l) as { checkpoint: { n: number } }).checkpoint.n);
      expect(ns).toEqual(ns.map((_, i) => i + 1));
      expect(ns.length).toBeGreaterThan(lines);
    }, 60_000);
  }
});
