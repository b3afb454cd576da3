// How often a cleanup lists the audit directory. Found 2026-12-05: cleanupSessions listed it again
// for each kind of record of each session it judged (its last activity), and for each session it
// removed several times more (its files, its dot files, its last activity once locked): some 16
// listings per session and 24 per removal, each as long as the directory, so a cleanup of a large
// directory cost its size times its sessions. Then one listing per run, and one more per session
// removed, made once its lock is held: what a removal acts on must be what the directory holds
// then (the second test shows why). Found 2026-12-06: that one per removal was still quadratic (a
// cleanup removing most of 2,000 sessions listed 16,000 names 2,000 times); now one per batch of
// up to 64 removals, made once the batch's locks are held, with the same results and records (the
// third test).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { FileRecordSource } from "../../src/reader/records.js";
import { cleanupSessions } from "../../src/retention.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { endedSession } from "../helpers/sessions.js";
import { auditDirOf, leaveLock, snapshot } from "../helpers/core.js";

const DAY = 86_400_000;
/** a time to measure age from at which every session written now is past 30 days */
const LATER = (): number => Date.now() + 40 * DAY;

const children: ChildProcess[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const c of children.splice(0)) c.kill("SIGKILL");
  cleanupTmp();
});

/** Counts the listings of `dir` from now on. */
function countListings(dir: string): () => number {
  const real = fs.readdirSync.bind(fs);
  let n = 0;
  vi.spyOn(fs, "readdirSync").mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
    if (path.resolve(String(p)) === dir) n++;
    return (real as (...a: unknown[]) => unknown)(p, ...rest);
  }) as typeof fs.readdirSync);
  return () => {
    const seen = n;
    n = 0;
    return seen;
  };
}

describe("cleanup lists the audit directory once per run", () => {
  it("a dry run lists it once, however many sessions it judges; a real one once more for its removals; both remove the same", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    for (let i = 0; i < 12; i++) await endedSession(projectPath, `old${i}`);
    const logger = new AuditLogger({ sessionId: "cleaner", projectPath, maxLogAgeDays: 30, fullContentLogging: false });
    const listings = countListings(dir);

    const fresh = await logger.cleanup({ dryRun: true });
    expect(fresh.removed).toEqual([]);
    expect(listings()).toBe(1);
    const before = snapshot(projectPath);
    listings(); // (the snapshot's own)
    const dry = await logger.cleanup({ dryRun: true, now: LATER() });
    expect(dry.removed).toHaveLength(12);
    expect(listings()).toBe(1);
    expect(snapshot(projectPath)).toEqual(before);
    listings();

    const real = await logger.cleanup({ now: LATER() });
    expect(real.removed).toEqual(dry.removed);
    expect(listings()).toBe(1 + 1);
    vi.restoreAllMocks();
    expect(fs.readdirSync(dir).filter((n) => n.includes("old"))).toEqual([]);
    await logger.finalizeSession();
    expect((await verifyAuditLog(dir)).problems).toEqual([]);
  });

  it("a cleanup removing more sessions than a batch lists once per batch, and removes, keeps and records as the dry run and the holds say, in the order judged", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const ids = Array.from({ length: 70 }, (_, i) => `old${String(i).padStart(2, "0")}`);
    for (const sid of ids) await endedSession(projectPath, sid);
    // what is left of a session whose records are gone (the lock its killed process left), and a live one
    leaveLock(dir, "gone1");
    const alive = new AuditLogger({ sessionId: "alive", projectPath, fullContentLogging: false, thread: false });
    alive.logToolUsage({ toolName: "t", operation: "op" });
    const logger = new AuditLogger({ sessionId: "cleaner", projectPath, maxLogAgeDays: 30, fullContentLogging: false, thread: false });
    logger.placeLegalHold("old05", "case 1");
    logger.placeLegalHold("old66", "case 2");
    const now = LATER();
    const dry = await logger.cleanup({ dryRun: true, now });
    const listings = countListings(dir);
    const real = await logger.cleanup({ now });
    // (68 removals and a leftover: two batches)
    expect(listings()).toBe(1 + 2);
    vi.restoreAllMocks();

    const gone = ids.filter((s) => s !== "old05" && s !== "old66");
    expect(real.removed.map((r) => r.sessionId)).toEqual(gone);
    expect(real.removed).toEqual(dry.removed);
    expect(real.leftovers).toEqual(dry.leftovers);
    expect(real.leftovers.map((r) => r.sessionId)).toEqual(["gone1"]);
    expect(real.skippedHeld).toEqual(["old05", "old66"]);
    expect(real.skippedLive).toEqual(["alive"]);
    expect(fs.readdirSync(dir).filter((n) => /old|gone1/.test(n)).sort()).toEqual(expect.arrayContaining(["session_old05.json", "session_old66.json"]));
    expect(fs.readdirSync(dir).filter((n) => gone.some((s) => n.includes(`_${s}.`)) || n.includes("gone1"))).toEqual([]);
    await alive.finalizeSession();
    await logger.finalizeSession();
    // each removal recorded, in the order removed, naming its files
    const pruned: Array<{ sessionId: string; files: string[] }> = [];
    for await (const r of new FileRecordSource(dir).records("audit_event", "cleaner")) if (r.eventType === "retention_pruned") pruned.push(r.details as { sessionId: string; files: string[] });
    expect(pruned.map((d) => d.sessionId)).toEqual(gone);
    expect(pruned.map((d) => d.files)).toEqual(real.removed.map((r) => r.files));
    expect((await verifyAuditLog(dir)).problems).toEqual([]);
  });

  it("a removal acts on what the directory holds once it has the session's lock: a PostgresSink that claimed the session's recovery after the run's listing keeps it", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    await endedSession(projectPath, "crashed");
    const lock = leaveLock(dir, "crashed");
    const lockText = fs.readFileSync(path.join(dir, lock), "utf8");
    // (a live process of this host: the claim's sink, as claimCrashed names it)
    const sink = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    children.push(sink);
    const marker = ".pg_recovery_0123456789_crashed";
    let claimed = false;
    const r = cleanupSessions(dir, {
      maxLogAgeDays: 30,
      now: LATER(),
      // (runs once the run has listed the directory and judged the session, before its lock is
      // taken: a sink opening in another process claims the crash to recover it then)
      retentionFor: (sid) => {
        if (sid === "crashed" && !claimed) {
          fs.writeFileSync(path.join(dir, marker), JSON.stringify({ lock: lockText, pid: sink.pid }));
          claimed = true;
        }
        return 30;
      },
    });
    expect(claimed).toBe(true);
    expect(r.removed).toEqual([]);
    expect(r.skippedUnsent).toEqual([expect.objectContaining({ sessionId: "crashed", files: [marker] })]);
    // every file there, the lock as the crash left it (the sink knows the crash by its text)
    expect(fs.readdirSync(dir).filter((n) => n.includes("crashed")).sort()).toEqual(
      expect.arrayContaining([lock, marker, "session_crashed.json", "tool_usage_crashed.jsonl", "chat_interactions_crashed.jsonl"]),
    );
    expect(fs.readFileSync(path.join(dir, lock), "utf8")).toBe(lockText);
  });
});
