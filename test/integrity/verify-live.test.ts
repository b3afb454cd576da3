// Found by a re-review, 2026-12-05: verify read a session's file after walking its chains, and
// its checkpoints before; a session that finalized while verify read it paired the new
// "finalized" status with the checkpoints from before its last one, and an untampered log was
// reported as checkpoint_missing. The session file is now read first (finalizing writes the last
// checkpoint, then the status), and the rule needs it to say finalized still at the end.
import { generateKeyPairSync } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterEach(cleanupTmp);

describe("verifying a signed session while it finalizes", () => {
  it("reports no problem, whenever the finalize lands during the verify", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    for (const delay of [5, 30, 80]) {
      const logger = new AuditLogger({ sessionId: `live_${delay}`, projectPath: tmpProject("verify-live-"), signingKey: privateKey, checkpointEvery: { records: 5000, seconds: 3600 }, durability: "sync" });
      for (let i = 0; i < 20_003; i++) logger.logPersonaActivity({ personaName: "p", activityType: "x", description: `d${i}` });
      await logger.flush();
      let finalizedDuring = false;
      let verified = false;
      const report = verifyAuditLog(logger.auditDir, { publicKey }).finally(() => (verified = true));
      const finalized = new Promise<void>((resolve, reject) =>
        setTimeout(() => {
          logger.finalizeSession().then(() => {
            finalizedDuring = !verified;
            resolve();
          }, reject);
        }, delay),
      );
      const [r] = await Promise.all([report, finalized]);
      expect(r.problems, `finalize after ${delay} ms`).toEqual([]);
      expect(r.ok).toBe(true);
      if (delay === 5) expect(finalizedDuring).toBe(true); // (the verify was still reading when the session finalized)
    }
  }, 60_000);
});
