// An abandoned claim (an explicit id's empty manifest a killed process left) taken over by a new
// logger's call, and removed by a cleanup before the content write reached it (the cleanup judged
// it abandoned: older than every live writer's lock). The thread pool's write creates the file
// afresh then; the content-writer thread's opened the claim write-only, never created, and
// failed with ENOENT: the chat's content was lost (an error event; content_missing). Found by the
// durability pass, 2026-12-06, with cleanup's removal of abandoned claims. Real files, a real
// cleanup, the content-writer thread and the thread pool.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { cleanupSessions } from "../../src/retention.js";
import { stopContentThread } from "../../src/sink/content-thread.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";

afterEach(cleanupTmp);

describe("a taken-over claim that a cleanup removes before the content write", () => {
  for (const via of ["content-writer thread", "thread pool"] as const) {
    it(`${via}: the content is written, and the directory verifies`, async () => {
      const projectPath = tmpProject();
      if (via === "thread pool") await stopContentThread();
      const dir = auditDirOf(projectPath);
      const claim = path.join(dir, "full_interactions", "manifest_taken-1.json");
      fs.mkdirSync(path.dirname(claim), { recursive: true });
      fs.writeFileSync(claim, "");
      const old = new Date(Date.now() - 5 * 60_000);
      fs.utimesSync(claim, old, old);
      const l = new AuditLogger({ sessionId: "taker", projectPath, fullContentLogging: true });
      const errors: string[] = [];
      l.on("error", (e) => errors.push(e.message));
      expect(l.logChatInteraction({ id: "taken-1", prompt: "asked again", response: "answered" })).toBe("taken-1");
      // (the same tick: the content write is still to come)
      expect(cleanupSessions(dir, { maxLogAgeDays: 1 }).abandonedClaims).toEqual(["full_interactions/manifest_taken-1.json"]);
      await l.finalizeSession();
      expect(errors).toEqual([]);
      expect(fs.readFileSync(path.join(dir, "full_interactions", "prompt_taken-1.txt"), "utf8")).toBe("asked again");
      const report = await verifyAuditLog(dir);
      expect(report.problems).toEqual([]);
    });
  }
});
