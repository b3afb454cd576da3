// Found by a new user's review, 2026-12-05: releaseLegalHold(scope, reason) released EVERY hold
// on the scope, and releasing by the id placeLegalHold returned released nothing. Two cases held
// one session ("litigation A", "regulator inquiry B"): closing A silently lifted B, and cleanup
// then removed the session.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger, AuditValidationError, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";

afterEach(() => {
  vi.useRealTimers();
  cleanupTmp();
});

const DAY = 86_400_000;
const LATER = () => Date.now() + 200 * DAY;

async function finishedSession(projectPath: string, sessionId: string): Promise<void> {
  const l = new AuditLogger({ sessionId, projectPath });
  l.logChatInteraction({ prompt: "evidence" });
  await l.finalizeSession();
}

function holdsFile(l: AuditLogger): { id: string; scope: string; reason: string }[] {
  return (JSON.parse(fs.readFileSync(path.join(l.auditDir, "legal_holds.json"), "utf8")) as { holds: { id: string; scope: string; reason: string }[] }).holds;
}

function releases(l: AuditLogger): Array<{ reason: string; details: { scope: string; holdIds: string[] } }> {
  return readJsonl<{ eventType: string; reason: string; details: { scope: string; holdIds: string[] } }>(path.join(l.auditDir, `audit_events_${l.sessionId}.jsonl`)).filter((r) => r.eventType === "legal_hold_released");
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("releasing one legal hold of several on a session", () => {
  for (const thread of [false, true]) {
    it(`releaseLegalHold(holdId, reason) releases that hold only, and records its id; cleanup keeps the session while the other stands (thread: ${thread})`, async () => {
      const projectPath = tmpProject();
      await finishedSession(projectPath, "customer_chat_0412");
      const ops = new AuditLogger({ sessionId: "ops", projectPath, thread });
      const a = ops.placeLegalHold("customer_chat_0412", "litigation A (Smith v. Co)");
      const b = ops.placeLegalHold("customer_chat_0412", "regulator inquiry B");
      expect(ops.releaseLegalHold(a, "litigation A settled")).toBe(1);
      expect(holdsFile(ops).map((h) => [h.id, h.reason])).toEqual([[b, "regulator inquiry B"]]);
      const removedWhileB = await ops.cleanup({ now: LATER() });
      expect(removedWhileB.removed).toEqual([]);
      expect(removedWhileB.skippedHeld).toEqual(["customer_chat_0412"]);
      expect(fs.existsSync(path.join(ops.auditDir, "session_customer_chat_0412.json"))).toBe(true);
      // (an id no longer in force releases nothing)
      expect(ops.releaseLegalHold(a, "again")).toBe(0);
      expect(holdsFile(ops).map((h) => h.id)).toEqual([b]);
      expect(ops.releaseLegalHold(b, "inquiry B closed")).toBe(1);
      expect(holdsFile(ops)).toEqual([]);
      expect((await ops.cleanup({ now: LATER() })).removed.map((r) => r.sessionId)).toEqual(["customer_chat_0412"]);
      await ops.finalizeSession();
      expect(releases(ops).map((r) => [r.reason, r.details])).toEqual([
        ["litigation A settled", { scope: "customer_chat_0412", holdIds: [a] }],
        ["again", { scope: a, holdIds: [] }],
        ["inquiry B closed", { scope: "customer_chat_0412", holdIds: [b] }],
      ]);
      expect((await verifyAuditLog(ops.auditDir)).problems).toEqual([]);
    });

    it(`releaseLegalHold(scope, reason) with several holds on the scope releases none and names each (thread: ${thread})`, async () => {
      const projectPath = tmpProject();
      await finishedSession(projectPath, "customer_chat_0412");
      const ops = new AuditLogger({ sessionId: "ops", projectPath, thread });
      const a = ops.placeLegalHold("customer_chat_0412", "litigation A");
      const b = ops.placeLegalHold("customer_chat_0412", "regulator inquiry B");
      const file = path.join(ops.auditDir, "legal_holds.json");
      const before = fs.readFileSync(file, "utf8");
      const err = thrown(() => ops.releaseLegalHold("customer_chat_0412", "litigation A settled"));
      expect(err).toBeInstanceOf(AuditValidationError);
      expect(err).toMatchObject({ code: "AUDIT_ERR_VALIDATION", method: "releaseLegalHold", issues: [expect.objectContaining({ field: "scope" })] });
      expect((err as Error).message).toContain(a);
      expect((err as Error).message).toContain(b);
      expect((err as Error).message).toContain("regulator inquiry B");
      expect(fs.readFileSync(file, "utf8")).toBe(before);
      expect((await ops.cleanup({ now: LATER() })).skippedHeld).toEqual(["customer_chat_0412"]);
      expect(fs.existsSync(path.join(ops.auditDir, "session_customer_chat_0412.json"))).toBe(true);
      // one hold on the scope: the scope form releases it, as it did
      expect(ops.releaseLegalHold(a, "A settled")).toBe(1);
      expect(ops.releaseLegalHold("customer_chat_0412", "B closed")).toBe(1);
      expect(holdsFile(ops)).toEqual([]);
      await ops.finalizeSession();
      expect(releases(ops).map((r) => r.details.holdIds)).toEqual([[a], [b]]);
    });

    it(`this session's holds (API.md's form): releaseLegalHold(reason) with two in force releases none; releaseLegalHold(holdId) alone asks for a reason (thread: ${thread})`, async () => {
      const logger = new AuditLogger({ sessionId: "s1", projectPath: tmpProject(), thread });
      const a = logger.placeLegalHold("litigation A");
      const b = logger.placeLegalHold("regulator inquiry B");
      expect(thrown(() => logger.releaseLegalHold("litigation A"))).toMatchObject({ code: "AUDIT_ERR_VALIDATION", issues: [expect.objectContaining({ field: "scope" })] });
      // (one argument is a reason: a hold's id there released this session's holds instead)
      expect(thrown(() => logger.releaseLegalHold(b))).toMatchObject({ code: "AUDIT_ERR_VALIDATION", issues: [expect.objectContaining({ field: "reason" })] });
      expect(holdsFile(logger).map((h) => h.id)).toEqual([a, b]);
      expect(logger.releaseLegalHold(a, "litigation A settled")).toBe(1);
      expect(holdsFile(logger).map((h) => h.reason)).toEqual(["regulator inquiry B"]);
      await logger.finalizeSession();
      expect(releases(logger).map((r) => r.details)).toEqual([{ scope: "s1", holdIds: [a] }]);
    });
  }
});
