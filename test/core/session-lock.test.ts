// The session lock (one live writer per session) against real processes racing for it. Found by
// review 2026-12-04 (fourth session): a lock file another process had just created, still empty,
// was read as unreadable and deleted, and two processes that judged one lock stale each removed
// the other's new lock: with three processes racing for 2,000 sessions, hundreds were held by two
// at once (a session written by two processes, its chain broken). And a lock left by an earlier
// process with this process's pid (a container's app is pid 1 after every restart) was refused for
// good.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditSessionLockedError } from "../../src/index.js";
import { SessionLock } from "../../src/sink/lock.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { REPO_ROOT } from "../helpers/core.js";
import { childArgs } from "../helpers/child-args.js";

afterEach(cleanupTmp);

const SESSIONS = 300;

/**
 * Three lock-race-child processes racing for the sessions of `dir`: started together once all are
 * ready, released once all have printed the sessions they got (see the fixture).
 */
async function race(dir: string): Promise<number[][]> {
  const go = path.join(dir, "go");
  const children = ["a", "b", "c"].map((name) => {
    let out = "";
    const c = spawn(process.execPath, [...childArgs(path.join(REPO_ROOT, "test/fixtures/core/lock-race-child.ts")), dir, go, String(SESSIONS), name], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve, reject) => {
      c.on("error", reject);
      c.on("exit", (code) => resolve(code));
    });
    return { name, c, out: () => out, exited };
  });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    const deadline = Date.now() + 50_000;
    while (!children.every((ch) => fs.existsSync(`${go}.ready.${ch.name}`)) && Date.now() < deadline) await sleep(10);
    // the start, 100 ms on (written whole: a child never reads it half-written)
    fs.writeFileSync(`${go}.tmp`, String(Date.now() + 100));
    fs.renameSync(`${go}.tmp`, go);
    while (!children.every((ch) => ch.out().includes("\n")) && Date.now() < deadline) await sleep(10);
  } finally {
    fs.writeFileSync(`${go}.release`, "");
  }
  const codes = await Promise.all(children.map((ch) => ch.exited));
  expect(codes).toEqual([0, 0, 0]);
  return children.map((ch) => JSON.parse(ch.out().trim().split("\n").at(-1)!) as number[]);
}

/** A pid no process of this host has now. */
function deadPid(): number {
  for (let pid = 4_000_000; ; pid--) {
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") return pid;
    }
  }
}

describe("the session lock", () => {
  for (const stale of [false, true]) {
    it(`three processes racing for ${SESSIONS} ${stale ? "stale" : "free"} sessions: each session is held by exactly one`, async () => {
      const dir = tmpProject("audit-lock-race-");
      if (stale) {
        const dead = deadPid();
        for (let i = 0; i < SESSIONS; i++) fs.writeFileSync(path.join(dir, `.session_s${i}.lock`), JSON.stringify({ pid: dead, hostname: os.hostname(), startedAt: "2026-01-01T00:00:00.000Z" }));
      }
      const got = await race(dir);
      const holders = new Map<number, number>();
      for (const list of got) for (const i of list) holders.set(i, (holders.get(i) ?? 0) + 1);
      expect([...holders].filter(([, n]) => n > 1).map(([i]) => i)).toEqual([]);
      expect(holders.size).toBe(SESSIONS);
    }, 60_000);
  }

  // (review, 2026-12-04: with the start compared on the wall clock, a clock stepped back made this
  // process's own live lock look older than the process, and a second logger took it over)
  it("a clock stepped back does not make this process's own live lock stale", async () => {
    const { vi } = await import("vitest");
    const projectPath = tmpProject("audit-lock-clock-");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() - 3_600_000);
    try {
      const first = new AuditLogger({ sessionId: "s1", projectPath });
      expect(() => new AuditLogger({ sessionId: "s1", projectPath })).toThrow(AuditSessionLockedError);
      vi.useRealTimers();
      await first.finalizeSession();
    } finally {
      vi.useRealTimers();
    }
  });

  // (review, 2026-12-04: a lock this user may not read was taken for a damaged one, and taken over)
  it("another user's lock, which this user may not read, is never taken over, however old", () => {
    const dir = tmpProject("audit-lock-denied-");
    fs.chmodSync(dir, 0o777);
    const lock = path.join(dir, ".session_s1.lock");
    fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() }), { mode: 0o600 });
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, old, old);
    // as another user (nobody), the built module, as an app of that user would load it
    const script = `import(${JSON.stringify(path.join(REPO_ROOT, "dist/src/sink/lock.js"))}).then((m) => { try { new m.SessionLock(${JSON.stringify(dir)}, "s1"); console.log("took"); } catch (e) { console.log("refused " + e.code); } })`;
    const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script], { encoding: "utf8", timeout: 30_000 });
    expect(r.stdout.trim(), r.stderr).toBe("refused AUDIT_ERR_SESSION_LOCKED");
    expect(fs.statSync(lock).uid).toBe(process.getuid!());
  });

  it("a lock naming this process's pid that this process does not hold (an earlier process with the same pid) is stale; one it holds is refused", async () => {
    const projectPath = tmpProject("audit-lock-ownpid-");
    const dir = path.join(projectPath, "audit_logs");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, ".session_s1.lock"), JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: "2020-01-01T00:00:00.000Z" }));
    const logger = new AuditLogger({ sessionId: "s1", projectPath });
    logger.logToolUsage({ toolName: "t", operation: "resumed" });
    expect(() => new SessionLock(dir, "s1")).toThrow(AuditSessionLockedError);
    expect(() => new AuditLogger({ sessionId: "s1", projectPath })).toThrow(AuditSessionLockedError);
    await logger.finalizeSession();
    expect(fs.existsSync(path.join(dir, ".session_s1.lock"))).toBe(false);
    const again = new SessionLock(dir, "s1");
    again.release();
  });

  // (2026-12-04, fifth session: the marker was judged by its age alone, so a takeover stalled
  // past 5 s, a process stopped or swapped out in the middle of it, was raced by a second one)
  it("a takeover in progress is waited for while its process lives, however old its marker; a dead one's marker is cleared", () => {
    const dir = tmpProject("audit-lock-takeover-");
    const lock = path.join(dir, ".session_s1.lock");
    fs.writeFileSync(lock, JSON.stringify({ pid: deadPid(), hostname: os.hostname(), startedAt: "2026-01-01T00:00:00.000Z" }));
    const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const old = new Date(Date.now() - 60_000);
      fs.writeFileSync(`${lock}.takeover`, JSON.stringify({ pid: sleeper.pid, hostname: os.hostname(), startedAt: old.toISOString() }));
      fs.utimesSync(`${lock}.takeover`, old, old);
      expect(() => new SessionLock(dir, "s1")).toThrow(AuditSessionLockedError);
      expect(fs.existsSync(`${lock}.takeover`)).toBe(true);
      // the marker of a process that died in the middle is cleared at once, young as it is
      fs.writeFileSync(`${lock}.takeover`, JSON.stringify({ pid: deadPid(), hostname: os.hostname(), startedAt: new Date().toISOString() }));
      const taken = new SessionLock(dir, "s1");
      expect(JSON.parse(fs.readFileSync(lock, "utf8")).pid).toBe(process.pid);
      taken.release();
    } finally {
      sleeper.kill();
    }
  });

  // (review, 2026-12-04, fifth session: the lock's own write failed with a bare EACCES Error)
  it("an audit directory this user may not write: the constructor throws AuditIOError naming the directory and the fix", () => {
    const projectPath = tmpProject("audit-lock-readonly-");
    fs.chmodSync(projectPath, 0o755);
    fs.mkdirSync(path.join(projectPath, "audit_logs"), { mode: 0o555 });
    const script = `import(${JSON.stringify(path.join(REPO_ROOT, "dist/src/index.js"))}).then((m) => { try { new m.AuditLogger({ sessionId: "s1", projectPath: ${JSON.stringify(projectPath)}, fullContentLogging: false }); console.log("opened"); } catch (e) { console.log(e.name + " " + e.code + " " + e.message); } })`;
    const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script], { encoding: "utf8", timeout: 30_000 });
    expect(r.stdout.trim(), r.stderr).toMatch(/^AuditIOError AUDIT_ERR_IO .*audit_logs.*permission/i);
    expect(r.stdout).toMatch(/writable/);
  });

  // (re-review, 2026-12-04: once the readers left out files that are not regular, a resumed
  // session took a symbolic link as its active chain file for an interrupted rotation's leftover,
  // removed it and began the chain again at seq 1, and verify said OK)
  it("resuming a session whose active chain file is a symbolic link refuses with AuditPathError naming it, and removes nothing", async () => {
    const projectPath = tmpProject("audit-lock-link-");
    const first = new AuditLogger({ sessionId: "s1", projectPath, fullContentLogging: false });
    first.logError(new Error("e1"));
    await first.finalizeSession();
    const dir = path.join(projectPath, "audit_logs");
    const moved = path.join(projectPath, "elsewhere.jsonl");
    fs.renameSync(path.join(dir, "errors_s1.jsonl"), moved);
    fs.symlinkSync(moved, path.join(dir, "errors_s1.jsonl"));
    expect(() => new AuditLogger({ sessionId: "s1", projectPath, fullContentLogging: false })).toThrow(/errors_s1\.jsonl.*not a regular file/);
    expect(fs.lstatSync(path.join(dir, "errors_s1.jsonl")).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(moved, "utf8")).toContain('"seq":1');
    // and the session was not left locked by the refused start
    expect(fs.existsSync(path.join(dir, ".session_s1.lock"))).toBe(false);
  });
});
