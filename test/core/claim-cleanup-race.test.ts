// An abandoned claim (an explicit id's empty manifest a killed process left) taken over by a new
// logger's call, and removed by a cleanup before the content write reached it (the cleanup judged
// it abandoned: older than every live writer's lock). The thread pool's write creates the file
// afresh then; the content-writer thread's opened the claim write-only, never created, and
// failed with ENOENT: the chat's content was lost (an error event; content_missing). Found by the
// durability pass, 2026-12-06, with cleanup's removal of abandoned claims. Since review,
// 2026-12-06, the taker's claim names it, alive, and the cleanup leaves it. Real files, a real
// cleanup, the content-writer thread and the thread pool.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { cleanupSessions } from "../../src/retention.js";
import { abandonedClaims, removeAbandonedClaim } from "../../src/sink/content.js";
import { stopContentThread } from "../../src/sink/content-thread.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";
import { auditDirOf, claimingChild, dateBack, killChildren, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

describe("a taken-over claim that a cleanup looks at before the content write", () => {
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
      // (the same tick: the content write is still to come) a live writer's claim now (review,
      // 2026-12-06: its removal, the id free meanwhile, let a third writer claim it too): kept
      expect(cleanupSessions(dir, { maxLogAgeDays: 1 }).abandonedClaims).toEqual([]);
      await l.finalizeSession();
      expect(errors).toEqual([]);
      expect(fs.readFileSync(path.join(dir, "full_interactions", "prompt_taken-1.txt"), "utf8")).toBe("asked again");
      const report = await verifyAuditLog(dir);
      expect(report.problems).toEqual([]);
    });
  }
});

// removeAbandonedClaim came after the judgement (abandonedClaims lists, then the removal runs under
// the directory's lock) and looked only at whether the file was still an empty one of the same
// inode: a writer that took the dead claim over in between (the same empty file) had its live
// claim removed, and a third writer then claimed the id afresh: two records of one id. Found by
// review, 2026-12-06. The removal now takes the claim over itself first (its owner file, created
// exclusively, the dead owner's removed only while still the one judged) and judges it again.
describe("a claim judged abandoned, taken over by a writer before the cleanup removes it", () => {
  for (const made of ["a SIGKILLed writer's claim", "an older version's claim (no owner file)"] as const) {
    it(`${made}: the removal leaves the taker's claim, a third writer is refused the id, one record`, async () => {
      const projectPath = tmpProject();
      const dir = auditDirOf(projectPath);
      const claim = path.join(dir, "full_interactions", "manifest_race-1.json");
      if (made === "a SIGKILLed writer's claim") {
        const h = await claimingChild(children, projectPath, "killed", "race-1");
        h.child.kill("SIGKILL");
        await h.exited;
      } else {
        fs.mkdirSync(path.dirname(claim), { recursive: true });
        fs.writeFileSync(claim, "");
      }
      dateBack(claim, 5 * 60_000);
      // the cleanup's judgement (no writer lives yet)
      const now = Date.now();
      expect(abandonedClaims(dir, now, undefined)).toEqual(["full_interactions/manifest_race-1.json"]);
      // between it and the removal, a writer takes the claim over (its content write still to come)
      const taker = new AuditLogger({ sessionId: "taker", projectPath, fullContentLogging: true });
      const third = new AuditLogger({ sessionId: "third", projectPath, fullContentLogging: true });
      const errors: string[] = [];
      for (const l of [taker, third]) l.on("error", (e) => errors.push(e.message));
      expect(taker.logChatInteraction({ id: "race-1", prompt: "taker's", response: "r" })).toBe("race-1");
      // the removal, as judged
      expect(removeAbandonedClaim(dir, "full_interactions/manifest_race-1.json", now, undefined)).toBe(false);
      expect(fs.existsSync(claim)).toBe(true);
      // the id is the taker's: a third writer is refused it
      expect(() => third.logChatInteraction({ id: "race-1", prompt: "third's", response: "r" })).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION" }));
      await taker.finalizeSession();
      await third.finalizeSession();
      expect(errors).toEqual([]);
      const ids = (sid: string): string[] => {
        const f = path.join(dir, `chat_interactions_${sid}.jsonl`);
        return fs.existsSync(f) ? readJsonl<{ id: string }>(f).map((r) => r.id) : [];
      };
      expect([...ids("taker"), ...ids("third")]).toEqual(["race-1"]);
      expect(fs.readFileSync(path.join(dir, "full_interactions", "prompt_race-1.txt"), "utf8")).toBe("taker's");
      expect(fs.readdirSync(path.dirname(claim)).filter((n) => n.endsWith(".tmp") || n.endsWith(".claim"))).toEqual([]);
      const report = await verifyAuditLog(dir);
      expect(report.problems).toEqual([]);
    }, 60_000);
  }
});
