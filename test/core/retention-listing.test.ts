// How often a cleanup lists the audit directory. Found 2026-12-05: cleanupSessions listed it again
// for each kind of record of each session it judged (its last activity), and for each session it
// removed several times more (its files, its dot files, its last activity once locked): some 16
// listings per session and 24 per removal, each as long as the directory, so a cleanup of a large
// directory cost its size times its sessions. Now one listing per run, and one more per session
// removed, made once its lock is held: what a removal acts on must be what the directory holds
// then (the second test shows why).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
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
  it("a dry run lists it once, however many sessions it judges; a real one once more per session it removes; both remove the same", async () => {
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
    expect(listings()).toBe(1 + 12);
    vi.restoreAllMocks();
    expect(fs.readdirSync(dir).filter((n) => n.includes("old"))).toEqual([]);
    await logger.finalizeSession();
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
