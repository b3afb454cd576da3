// A session's audit_event chain (legal holds, crypto-shreddings, retention removals) in its
// summary: the viewer's summary gave its head as the genesis (seq 0) whatever the chain held, where
// the session file finalizeSession() writes gives the real one, and `audit-logger summary` showed
// the directory's audit_maintenance session, which holds the shreddings, as "records 0" and nothing
// more. (Found by the CLI pass, 2026-12-06.)
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterAll(cleanupTmp);

describe("a session's audit events in its summary", () => {
  it("the viewer's summary gives the audit_event chain's head as the session file does; summary prints how many there are", async () => {
    const projectPath = tmpProject("audit-summary-events-");
    const logger = new AuditLogger({ sessionId: "s1", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    logger.logChatInteraction({ prompt: "p", response: "r", userId: "alice" });
    const hold = logger.placeLegalHold("s1", "litigation");
    logger.releaseLegalHold(hold, "settled");
    logger.shredSubject("alice");
    await logger.finalizeSession();
    const file = JSON.parse(fs.readFileSync(path.join(logger.auditDir, "session_s1.json"), "utf8")) as { heads: { audit_event: { seq: number; hash: string } } };
    expect(file.heads.audit_event.seq).toBe(3);
    const summary = await new AuditViewer({ auditPath: logger.auditDir }).getSessionSummary("s1");
    expect(summary?.heads.audit_event).toEqual(file.heads.audit_event);

    const text = await runCli(["summary", projectPath]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ {2}events {5}3 audit_event records \(legal holds, crypto-shreddings, retention removals\): audit-logger tail --kind audit_event$/m);
    const json = await runCli(["summary", projectPath, "--json"]);
    expect((JSON.parse(json.stdout) as Array<{ heads: { audit_event: unknown } }>)[0]!.heads.audit_event).toEqual(file.heads.audit_event);
  }, 60_000);
});
