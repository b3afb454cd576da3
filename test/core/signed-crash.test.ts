/**
 * A signed session SIGKILLed while it logs, in every durability mode, then resumed: the chains,
 * the checkpoints and the content files verify, but for what the documented loss window allows
 * (`content_missing`: chats whose files had not been written when the process died). Covers the
 * periodic checkpoints of `fsync` mode, appended on the app's thread and fdatasync'ed on the
 * thread pool (2026-12-06): a process killed between the two keeps the checkpoint, and the
 * resumed session's next one follows it. Real child process, real SIGKILL.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog, type Durability } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

describe("a signed session SIGKILLed while it logs, then resumed", () => {
  for (const durability of ["sync", "async", "fsync"] as const satisfies readonly Durability[]) {
    it(`${durability}: verifies (only content_missing allowed), its checkpoints numbered without a gap and signed by its key`, async () => {
      const projectPath = tmpProject();
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      const h = startFixture("signed-crash-child.mts", { SIGNED_CRASH_KEY: privateKey.export({ type: "pkcs8", format: "pem" }).toString() }, [projectPath, durability]);
      children.push(h);
      await h.waitForLine((l) => l === "ready", "ready");
      await new Promise((r) => setTimeout(r, 150));
      h.child.kill("SIGKILL");
      await h.exited;

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
