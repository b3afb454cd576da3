// Every lock of the kit judges its holder by one rule (src/sink/owner.ts): host, pid, the kernel's
// start of the process, its pid namespace. Found by review, 2026-12-06 (the claim code had it, the
// others did not):
// - a session lock, its takeover marker, the directory locks and a session file's run naming a
//   process of this host name were judged by its pid here: two host-networked containers share a
//   host name, not a pid namespace, so another container's live writer whose pid is free here (or
//   is this process's pid, pid 1 in both) was judged dead, and its session taken over;
// - a directory lock held by another thread of this same process was taken over once 15 s
//   untouched, though that thread, stalled, is alive: two threads rewrote one file.
// Real child processes and a real worker thread; old lock files (no pidNs) are judged as before.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer } from "../../src/index.js";
import { takeDirLock } from "../../src/sink/dir-lock.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, CORE_FIXTURES, dateBack, deadPid, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";
import { childArgs } from "../helpers/child-args.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

const HOUR = 3_600_000;
/** A pid namespace that is not this process's (as another container's). */
const OTHER_NS = "pid:[1]";
const OWN_NS = ((): string | undefined => {
  try {
    return fs.readlinkSync("/proc/self/ns/pid");
  } catch {
    return undefined;
  }
})();
/** Field 22 of /proc/<pid>/stat: the process's start as the kernel counts it. */
function startOf(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
}
const linux = fs.existsSync("/proc/self/stat") && OWN_NS !== undefined;

const locked = expect.objectContaining({ code: "AUDIT_ERR_SESSION_LOCKED" });
const lockOf = (dir: string, sid: string): string => path.join(dir, `.session_${sid}.lock`);

/** Opens session `sid` in `projectPath`: "taken" (the logger finalized again) or "refused". */
async function open(projectPath: string, sid: string): Promise<"taken" | "refused"> {
  let l: AuditLogger;
  try {
    l = new AuditLogger({ sessionId: sid, projectPath, fullContentLogging: false });
  } catch (err) {
    expect(err).toEqual(locked);
    return "refused";
  }
  await l.finalizeSession();
  return "taken";
}

/** The status the files' reader gives session `sid`, whose session file says "active". */
async function listed(dir: string, sid: string): Promise<string | undefined> {
  return (await new AuditViewer({ auditPath: dir }).listSessions()).find((s) => s.sessionId === sid)?.status;
}

/** Leaves session `sid` in `projectPath` as a process killed while writing it leaves it (records, "active" session file), its lock replaced by `lock`. */
async function leftSession(projectPath: string, sid: string, lock: Record<string, unknown>): Promise<void> {
  const dir = auditDirOf(projectPath);
  const l = new AuditLogger({ sessionId: sid, projectPath, fullContentLogging: false });
  l.logToolUsage({ toolName: "t", operation: "o", success: true });
  await l.flush();
  const file = path.join(dir, `session_${sid}.json`);
  const active = fs.readFileSync(file);
  await l.finalizeSession();
  fs.writeFileSync(file, active);
  fs.writeFileSync(lockOf(dir, sid), JSON.stringify(lock));
}

describe.runIf(linux)("session locks: the holder's identity", () => {
  it("a live writer of this pid namespace is refused however old its lock; SIGKILLed, its lock is taken over at once", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const h = startFixture("live-session-child.mts", {}, [projectPath, "held"]);
    children.push(h);
    await h.waitForLine((l) => l.startsWith("ready "), "ready");
    const lock = JSON.parse(fs.readFileSync(lockOf(dir, "held"), "utf8")) as Record<string, unknown>;
    // (the lock names the writer fully: its kernel start and pid namespace)
    expect(lock).toMatchObject({ pid: h.child.pid, hostname: os.hostname(), procStart: startOf(h.child.pid!), pidNs: OWN_NS });
    dateBack(lockOf(dir, "held"), HOUR);
    expect(await open(projectPath, "held")).toBe("refused");
    expect(await listed(dir, "held")).toBe("active");
    h.child.kill("SIGKILL");
    await h.exited;
    expect(await listed(dir, "held")).toBe("interrupted");
    expect(await open(projectPath, "held")).toBe("taken");
  });

  it("a lock naming a live pid with another kernel start (the pid reused since) is its dead writer's: taken over; with the live process's own start, refused", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    // the test runner's parent: a live process that wrote no lock
    const pid = process.ppid;
    const base = { pid, hostname: os.hostname(), startedAt: new Date().toISOString(), pidNs: OWN_NS };
    await leftSession(projectPath, "reused", { ...base, procStart: String(Number(startOf(pid)) - 1) });
    expect(await listed(dir, "reused")).toBe("interrupted");
    expect(await open(projectPath, "reused")).toBe("taken");
    await leftSession(projectPath, "own-start", { ...base, procStart: startOf(pid) });
    expect(await listed(dir, "own-start")).toBe("active");
    expect(await open(projectPath, "own-start")).toBe("refused");
  });

  it("a lock naming another pid namespace is another host's: never judged by a pid of this one (a dead pid here, this very pid), refused, and its session active", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const startedAt = new Date().toISOString();
    // another container's writer, given this host's name: its pid is free here
    await leftSession(projectPath, "ns-dead", { pid: deadPid(), hostname: os.hostname(), startedAt, procStart: "1", pidNs: OTHER_NS });
    // pid 1 in both containers: its pid is this process's, its start another
    await leftSession(projectPath, "ns-mine", { pid: process.pid, hostname: os.hostname(), startedAt, procStart: "1", pidNs: OTHER_NS });
    for (const sid of ["ns-dead", "ns-mine"]) {
      dateBack(lockOf(dir, sid), HOUR);
      expect(await listed(dir, sid), sid).toBe("active");
      expect(await open(projectPath, sid), sid).toBe("refused");
      expect(JSON.parse(fs.readFileSync(lockOf(dir, sid), "utf8")).pidNs, sid).toBe(OTHER_NS);
    }
    // an old lock (no pidNs) is judged by its pid, as before
    await leftSession(projectPath, "old-format", { pid: deadPid(), hostname: os.hostname(), startedAt });
    expect(await listed(dir, "old-format")).toBe("interrupted");
    expect(await open(projectPath, "old-format")).toBe("taken");
  });

  it("a takeover marker naming another pid namespace is judged by its age (5 s), not by a pid of this one", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    await leftSession(projectPath, "marked", { pid: deadPid(), hostname: os.hostname(), startedAt: new Date().toISOString() });
    const marker = `${lockOf(dir, "marked")}.takeover`;
    // another container taking the dead lock over now: its session is being resumed
    fs.writeFileSync(marker, JSON.stringify({ pid: deadPid(), hostname: os.hostname(), startedAt: new Date().toISOString(), pidNs: OTHER_NS }));
    expect(await listed(dir, "marked")).toBe("active");
    // left by a takeover that will not finish
    dateBack(marker, 60_000);
    expect(await listed(dir, "marked")).toBe("interrupted");
    expect(await open(projectPath, "marked")).toBe("taken");
  });
});

describe.runIf(linux)("directory locks: the holder's identity", () => {
  const take = (file: string, waitMs: number): "taken" | "refused" => {
    try {
      takeDirLock(file, "Another legal hold update", { waitMs, staleMs: 15_000 })();
      return "taken";
    } catch (err) {
      expect(String(err)).toContain("Another legal hold update holds");
      return "refused";
    }
  };

  it("a live process of this pid namespace holds it however old; SIGKILLed, it is taken over at once", async () => {
    const file = path.join(tmpProject("audit-dirlock-"), "legal_holds.json.lock");
    const h = startFixture("dir-lock-holder-child.mts", {}, [file, "process"]);
    children.push(h);
    await h.waitForLine((l) => l === "held", "held");
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toMatchObject({ pid: h.child.pid, procStart: startOf(h.child.pid!), pidNs: OWN_NS });
    dateBack(file, HOUR);
    expect(take(file, 300)).toBe("refused");
    h.child.kill("SIGKILL");
    await h.exited;
    expect(take(file, 10_000)).toBe("taken");
    expect(fs.existsSync(file)).toBe(false);
  });

  it("a lock naming another pid namespace is judged by its age (15 s untouched), not by a pid of this one; an old lock (no pidNs) by its pid, as before", () => {
    const file = path.join(tmpProject("audit-dirlock-"), ".shred.lock");
    const body = { pid: deadPid(), threadId: 0, hostname: os.hostname(), startedAt: new Date().toISOString(), procStart: "1" };
    fs.writeFileSync(file, JSON.stringify({ ...body, pidNs: OTHER_NS }));
    expect(take(file, 300)).toBe("refused");
    fs.writeFileSync(file, JSON.stringify({ ...body, pid: process.pid, pidNs: OTHER_NS }));
    expect(take(file, 300)).toBe("refused");
    dateBack(file, 60_000);
    expect(take(file, 10_000)).toBe("taken");
    fs.writeFileSync(file, JSON.stringify(body));
    expect(take(file, 10_000)).toBe("taken");
  });

  it("a thread of the same process that holds it, stalled (blocked in Atomics.wait), is never taken over by age; once that thread has ended, at once", async () => {
    const file = path.join(tmpProject("audit-dirlock-"), "legal_holds.json.lock");
    const h = startFixture("dir-lock-holder-child.mts", {}, [file, "thread"]);
    children.push(h);
    const done = await h.exited;
    expect(done.code, done.stderr).toBe(0);
    expect(h.lines).toContain("stalled: refused");
    expect(h.lines).toContain("ended: taken");
    const lock = JSON.parse(h.lines.find((l) => l.startsWith("lock "))!.slice(5)) as Record<string, unknown>;
    // (the worker's lock: the child's pid, another thread)
    expect(lock).toMatchObject({ pid: h.child.pid, pidNs: OWN_NS });
    expect(lock.threadId).not.toBe(0);
  });
});

// A container restarted (Docker's restart policy, a Kubernetes container restart) keeps its host
// name, and its app is pid 1 again, in a new pid namespace: its crashed run's session lock names
// another pid namespace, whose liveness cannot be told from here, and is never taken over
// (docs/FORMAT.md "Lock holders"). Until the review of 2026-12-06 the error said "A lock left by a
// dead process is taken over automatically", and nothing said how to resume the session: now it
// names the case and the way out (remove the lock once that run is known ended), which works.
// Real pid namespaces (util-linux unshare, as root), real processes.
const canUnshare = linux && process.getuid?.() === 0 && spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"]).status === 0;
describe.skipIf(!canUnshare)("a container restarted in a new pid namespace, its crashed run's session lock left", () => {
  const inNewNs = (script: string, args: readonly string[]): string[] => ["--pid", "--fork", "--kill-child", "--mount-proc", process.execPath, ...childArgs(path.join(CORE_FIXTURES, script)), ...args];

  it("is refused with an error that names the case and how to free the session; removing the lock, as it says, resumes the session", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    // the container's first run: pid 1 of its own pid namespace, SIGKILLed holding the session
    const first = spawn("unshare", inNewNs("live-session-child.mts", [projectPath, "restarted"]), { cwd: path.resolve(CORE_FIXTURES, "../../.."), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    first.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<void>((resolve) => first.on("close", () => resolve()));
    const deadline = Date.now() + 30_000;
    while (!out.includes("ready ") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(out).toContain("ready 1");
    first.kill("SIGKILL");
    await exited;
    const lock = lockOf(dir, "restarted");
    const left = JSON.parse(fs.readFileSync(lock, "utf8")) as { pid: number; hostname: string; pidNs: string };
    expect(left).toMatchObject({ pid: 1, hostname: os.hostname() });
    expect(left.pidNs).not.toBe(OWN_NS);

    // the restarted container: pid 1 again, in another new pid namespace
    const again = (): Record<string, unknown> => {
      const r = spawnSync("unshare", inNewNs("open-session-child.mts", [projectPath, "restarted"]), { cwd: path.resolve(CORE_FIXTURES, "../../.."), encoding: "utf8", timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
    };
    const refused = again();
    expect(refused.code).toBe("AUDIT_ERR_SESSION_LOCKED");
    const message = String(refused.message);
    expect(message).not.toContain("A lock left by a dead process is taken over automatically");
    expect(message).toContain("another pid namespace");
    expect(message).toContain(`remove ${lock} and open the session again`);
    expect(fs.existsSync(lock)).toBe(true);

    // the way out the error names
    fs.rmSync(lock);
    const taken = again();
    expect(taken).toMatchObject({ taken: true, pid: 1 });
    const viewer = new AuditViewer({ auditPath: dir, sessionId: "restarted" });
    expect((await viewer.getToolUsages({ limit: 10 })).map((t) => t.operation).sort()).toEqual(["after restart", "lookup"]);
  }, 90_000);
});

// Found 2026-12-06: a process read its host name at each use. Renamed while it ran (`hostname`,
// a container's UTS namespace renamed), its own live session lock, read again, named another
// host: a second open of the session in that process was refused as another host's, the error
// saying to remove the lock (a live one), and its later locks and session files named the new
// name, another run's. The process's identity is now read once, as it starts, and kept. A real UTS
// namespace (util-linux unshare, as root), in which the child renames its host.
const canRenameHost = linux && process.getuid?.() === 0 && spawnSync("unshare", ["--uts", "true"]).status === 0;
describe.skipIf(!canRenameHost)("a host name changed while the process runs", () => {
  it("leaves the process's identity as it started: its own live lock is still its own, and its later locks and session files name the host as it was", () => {
    const projectPath = tmpProject();
    const renamed = `renamed-${process.pid}`;
    const r = spawnSync("unshare", ["--uts", process.execPath, ...childArgs(path.join(CORE_FIXTURES, "hostname-change-child.mts")), projectPath, renamed], { cwd: path.resolve(CORE_FIXTURES, "../../.."), encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { before: string; now: string; again: { code?: string; message?: string }; afterLock: Record<string, unknown>; afterRun: unknown };
    expect(out.before).toBe(os.hostname());
    expect(out.now).toBe(renamed);
    // its own session: refused as this very process's, not as another host's to be removed by hand
    expect(out.again.code).toBe("AUDIT_ERR_SESSION_LOCKED");
    expect(out.again.message).toContain("is already being written by process");
    expect(out.again.message).not.toContain("another host");
    expect(out.afterLock.hostname).toBe(out.before);
    expect(out.afterRun).toBe(out.before);
    // (this host, which the child's rename did not touch, still judges its locks as this host's)
    expect(os.hostname()).toBe(out.before);
  }, 90_000);
});
