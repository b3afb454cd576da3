import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer, auditContext, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterEach(cleanupTmp);

async function writeTwoUsers(projectPath: string): Promise<string> {
  const logger = new AuditLogger({ sessionId: "support", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
  auditContext.run({ userId: "alice" }, () => logger.logChatInteraction({ prompt: "alice's secret question", response: "answer for alice" }));
  auditContext.run({ userId: "bob" }, () => logger.logChatInteraction({ prompt: "bob's question", response: "answer for bob" }));
  await logger.finalizeSession();
  return logger.auditDir;
}

describe("audit-logger shred", () => {
  it("destroys one user's keys: their content is unreadable, the other user's is not, every chain verifies", async () => {
    const projectPath = tmpProject();
    const auditDir = await writeTwoUsers(projectPath);
    const keyFile = path.join(projectPath, "master.key");
    fs.writeFileSync(keyFile, TEST_KEY);
    const res = await runCli(["shred", projectPath, "--user", "alice", "--reason", "GDPR request 7", "--key-file", keyFile, "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { user: string; destroyedKeyIds: string[] };
    expect(out.destroyedKeyIds).toHaveLength(1);
    const viewer = new AuditViewer({ auditPath: auditDir, encryptionKey: TEST_KEY });
    const chats = await viewer.getChatInteractions({ limit: 10 });
    const alice = chats.find((c) => c.userId === "alice")!;
    const bob = chats.find((c) => c.userId === "bob")!;
    expect((alice as { encryptedWithoutKey?: boolean }).encryptedWithoutKey).toBe(true);
    expect((await viewer.getFullInteractionContent(alice.id))?.prompt).toBeNull();
    expect((await viewer.getFullInteractionContent(bob.id))?.prompt).toBe("bob's question");
    const report = await verifyAuditLog(auditDir);
    expect(report.problems).toEqual([]);
    expect(report.notes.map((n) => n.kind)).toContain("key_shredded");
    // the request is on record, in the maintenance session's chained audit events
    const events = fs.readFileSync(path.join(auditDir, "audit_events_audit_maintenance.jsonl"), "utf8");
    expect(events).toContain('"eventType":"subject_shredded"');
    expect(events).toContain("GDPR request 7");
    expect(events).not.toContain("alice");
  });

  it("needs --user and a key (exit 2)", async () => {
    const projectPath = tmpProject();
    await writeTwoUsers(projectPath);
    expect((await runCli(["shred", projectPath, "--key-file", "/nonexistent"])).code).toBe(2);
    const noKey = await runCli(["shred", projectPath, "--user", "alice"], { env: { ...process.env, AUDIT_LOGGER_KEY: "" } });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/key/);
  });
});
