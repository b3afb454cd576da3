// A session whose process was killed (SIGKILL) without finalizing it: its session file still says
// "active", as it was when the process died, and the readers of an audit directory (listSessions(),
// `audit-logger summary`, the viewer's JSON API) showed it as running for good. Its lock, left by
// a process of this host that is gone, tells the crash, as it tells verify, cleanup and the sinks:
// the readers report it "interrupted" (found 2026-12-05; the PostgreSQL store already did).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer } from "../../src/index.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, deadPid, killChildren, leaveLock, startFixture, type ChildHandle } from "../helpers/core.js";
import { runCli } from "../cli/helpers.js";

const children: ChildHandle[] = [];
const servers: RunningServer[] = [];

afterEach(async () => {
  await killChildren(children);
  for (const s of servers.splice(0)) await s.close();
  cleanupTmp();
});

/** Every entry of `dir` (recursively) with its bytes and mtime: what a reader must leave as it found. */
function state(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name);
    const st = fs.lstatSync(p);
    out.set(name, st.isFile() ? `${st.mtimeMs}:${fs.readFileSync(p, "base64")}` : `${st.mode}`);
  }
  return out;
}

async function listed(dir: string, sid: string): Promise<string | undefined> {
  const viewer = new AuditViewer({ auditPath: dir });
  return (await viewer.listSessions()).find((s) => s.sessionId === sid)?.status;
}

async function summaryStatus(dir: string, sid: string): Promise<string> {
  const r = await runCli(["summary", dir, "--session", sid, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as Array<{ status: string }>)[0]!.status;
}

/** The status the viewer's JSON API gives `sid`: in its session list and its stats. */
async function apiStatus(server: RunningServer, sid: string): Promise<{ listed: string | undefined; stats: string }> {
  const get = async (p: string) => {
    const r = await fetch(`http://${server.host}:${server.port}${p}`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(r.status, p).toBe(200);
    return (await r.json()) as Record<string, unknown>;
  };
  const { sessions } = (await get("/api/sessions")) as { sessions: Array<{ sessionId: string; status: string }> };
  const stats = (await get(`/api/sessions/${sid}/stats`)) as { status: string };
  return { listed: sessions.find((s) => s.sessionId === sid)?.status, stats: stats.status };
}

describe("a session whose process was SIGKILLed", () => {
  it("is active while its process runs and interrupted once it is killed: listSessions(), getSessionSummary(), summary (CLI), the viewer's API; the readers write nothing", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const sid = "killed_run";
    const h = startFixture("live-session-child.mts", {}, [projectPath, sid]);
    children.push(h);
    await h.waitForLine((l) => l.startsWith("ready "), "ready");

    // (the viewer's server runs across the kill, as it would beside the app)
    const server = await startServer({ auditPath: dir, port: 0 });
    servers.push(server);

    // running: active everywhere
    expect(await listed(dir, sid)).toBe("active");
    expect(await summaryStatus(dir, sid)).toBe("active");
    expect(await apiStatus(server, sid)).toEqual({ listed: "active", stats: "active" });

    h.child.kill("SIGKILL");
    expect((await h.exited).signal).toBe("SIGKILL");
    // what the kill left: the session file says active, the lock names the dead child
    expect((JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8")) as { status: string }).status).toBe("active");
    expect(fs.existsSync(path.join(dir, `.session_${sid}.lock`))).toBe(true);

    const before = state(dir);
    expect(await listed(dir, sid)).toBe("interrupted");
    expect((await new AuditViewer({ auditPath: dir }).getSessionSummary(sid))?.status).toBe("interrupted");
    expect(await summaryStatus(dir, sid)).toBe("interrupted");
    const text = await runCli(["summary", dir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`Session ${sid} (interrupted)`);
    expect(await apiStatus(server, sid)).toEqual({ listed: "interrupted", stats: "interrupted" });
    // read-only: not a byte, not a file, not an mtime changed (the dead lock is still there)
    expect(state(dir)).toEqual(before);

    // a logger resuming the session makes it active again; finalized once it is finalized
    const resumed = new AuditLogger({ sessionId: sid, projectPath, fullContentLogging: false });
    expect(await listed(dir, sid)).toBe("active");
    expect(await summaryStatus(dir, sid)).toBe("active");
    await resumed.finalizeSession();
    expect(await listed(dir, sid)).toBe("finalized");
  }, 60_000);
});

describe("a session file that says active: when the readers cannot tell the process dead, it stays active", () => {
  function activeSession(tag: string): { dir: string; sid: string } {
    const projectPath = tmpProject();
    const sid = `s_${tag}`;
    const logger = new AuditLogger({ sessionId: sid, projectPath, fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    // its process "dies": the lock is left as a SIGKILL leaves it (below), the session file says active
    (logger as unknown as { flushSyncOnExit(exiting?: boolean, release?: boolean): void }).flushSyncOnExit(false, true);
    const dir = auditDirOf(projectPath);
    expect((JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8")) as { status: string }).status).toBe("active");
    expect(fs.existsSync(path.join(dir, `.session_${sid}.lock`))).toBe(false);
    return { dir, sid };
  }

  it("its lock names a dead process of this host: interrupted", async () => {
    const { dir, sid } = activeSession("dead");
    leaveLock(dir, sid);
    expect(await listed(dir, sid)).toBe("interrupted");
  });

  it("its lock names a process of another host (whether it lives cannot be told from here): active", async () => {
    const { dir, sid } = activeSession("remote");
    fs.writeFileSync(path.join(dir, `.session_${sid}.lock`), JSON.stringify({ pid: deadPid(), hostname: `${os.hostname()}-elsewhere`, startedAt: new Date().toISOString() }));
    expect(await listed(dir, sid)).toBe("active");
    expect(await summaryStatus(dir, sid)).toBe("active");
  });

  it("its dead lock is being taken over (a live process resuming it holds the takeover marker): active; a marker its dead taker left: interrupted", async () => {
    const { dir, sid } = activeSession("takeover");
    const lock = leaveLock(dir, sid);
    const marker = path.join(dir, `${lock}.takeover`);
    fs.writeFileSync(marker, JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() }));
    expect(await listed(dir, sid)).toBe("active");
    fs.writeFileSync(marker, JSON.stringify({ pid: deadPid(), hostname: os.hostname(), startedAt: new Date().toISOString() }));
    expect(await listed(dir, sid)).toBe("interrupted");
  });

  it("no lock (its process ended without finalizeSession(), its exit hook removed the lock; or a copy without its lock files): active, as the PostgreSQL store has it", async () => {
    const { dir, sid } = activeSession("nolock");
    expect(await listed(dir, sid)).toBe("active");
  });
});

// A session whose process ended without finalizeSession(), its exit hook running (the event loop
// ran out, process.exit(), SIGTERM left to its default action): the hook removed the lock, so
// nothing told the readers that the process was gone, and the session was reported "active" for
// good (found 2026-12-05, the viewer pass). The exit hook, still holding the lock, now writes the
// session file's end state: "interrupted", with the time and how it ended.
describe("a session whose process ended without finalizeSession()", () => {
  for (const mode of ["end", "exit", "thread", "sigterm"] as const) {
    it(`is interrupted, not active, once its process is gone (${mode}): the session file says so, listSessions(), getSessionSummary(), summary and the viewer's API agree; a resume makes it active again`, async () => {
      const projectPath = tmpProject();
      const dir = auditDirOf(projectPath);
      const sid = `unfinalized_${mode}`;
      const h = startFixture("exit-unfinalized-child.mts", {}, [projectPath, sid, mode]);
      children.push(h);
      await h.waitForLine((l) => l.startsWith("logged "), "logged");
      if (mode === "sigterm") h.child.kill("SIGTERM");
      const end = await h.exited;
      if (mode === "sigterm") expect(end.signal).toBe("SIGTERM");
      else expect(end.code, end.stderr).toBe(0);
      // the exit hook released the lock: no dead lock tells the crash
      expect(fs.existsSync(path.join(dir, `.session_${sid}.lock`))).toBe(false);
      const file = JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8")) as Record<string, unknown>;
      expect(file).toMatchObject({ sessionId: sid, status: "interrupted", endReason: "process ended without finalizeSession()", pid: h.child.pid });
      expect(Date.parse(String(file.endTime))).toBeGreaterThanOrEqual(Date.parse(String(file.startTime)));
      // every record is there
      const listing = (await new AuditViewer({ auditPath: dir }).listSessions()).find((s) => s.sessionId === sid);
      expect(listing?.status).toBe("interrupted");
      expect(listing?.totalRecords).toBe(2);
      // (its end: when the process ended, as the session file says)
      expect(await new AuditViewer({ auditPath: dir }).getSessionSummary(sid)).toMatchObject({ status: "interrupted", endTime: file.endTime });
      expect(await summaryStatus(dir, sid)).toBe("interrupted");
      const server = await startServer({ auditPath: dir, port: 0 });
      servers.push(server);
      expect(await apiStatus(server, sid)).toEqual({ listed: "interrupted", stats: "interrupted" });
      const stats = (await (await fetch(`http://${server.host}:${server.port}/api/sessions/${sid}/stats`, { headers: { authorization: `Bearer ${server.token}` } })).json()) as { endTime: string };
      expect(stats.endTime).toBe(file.endTime);
      // the log verifies
      const v = await runCli(["verify", dir]);
      expect(v.code, v.stdout).toBe(0);

      // resumed: active while it runs (its start kept), finalized once finalized
      const resumed = new AuditLogger({ sessionId: sid, projectPath, fullContentLogging: false });
      expect(await listed(dir, sid)).toBe("active");
      expect((JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8")) as { startTime: string }).startTime).toBe(file.startTime);
      await resumed.finalizeSession();
      expect(await listed(dir, sid)).toBe("finalized");
    }, 60_000);
  }

  it("an end state that cannot be written (a directory at the session file's name) is said on stderr, and the lock is still released", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const sid = "unfinalized_dir";
    const h = startFixture("exit-unfinalized-child.mts", {}, [projectPath, sid, "dir"]);
    children.push(h);
    const end = await h.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toContain(`audit-logger: could not write everything as the process ended: session ${sid}: the session file's end state ("interrupted"; it still says "active") not written: `);
    expect(fs.existsSync(path.join(dir, `.session_${sid}.lock`))).toBe(false);
    expect(fs.statSync(path.join(dir, `session_${sid}.json`)).isDirectory()).toBe(true);
  }, 60_000);

  it("a session whose audit directory was removed while its process ran (a test suite's temporary directory) ends without a word on stderr: there is no session file left to mark, and none is made", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const sid = "dir_removed";
    const h = startFixture("exit-unfinalized-child.mts", {}, [projectPath, sid, "rmdir"]);
    children.push(h);
    const end = await h.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).not.toContain("audit-logger:");
    expect(fs.existsSync(dir)).toBe(false);
  }, 60_000);

  it("a session finalized before its process ends stays finalized (the exit hook leaves its session file alone)", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const logger = new AuditLogger({ sessionId: "done_first", projectPath, fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    const before = fs.readFileSync(path.join(dir, "session_done_first.json"), "utf8");
    (logger as unknown as { flushSyncOnExit(exiting?: boolean, release?: boolean): void }).flushSyncOnExit(true, true);
    expect(fs.readFileSync(path.join(dir, "session_done_first.json"), "utf8")).toBe(before);
    expect(await listed(dir, "done_first")).toBe("finalized");
  });

  it("a signal the app handles itself (the process goes on, and may still finalize) leaves the session active", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const logger = new AuditLogger({ sessionId: "goes_on", projectPath, fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    (logger as unknown as { flushSyncOnExit(exiting?: boolean, release?: boolean): void }).flushSyncOnExit(false, false);
    expect((JSON.parse(fs.readFileSync(path.join(dir, "session_goes_on.json"), "utf8")) as { status: string }).status).toBe("active");
    expect(await listed(dir, "goes_on")).toBe("active");
    await logger.finalizeSession();
    expect(await listed(dir, "goes_on")).toBe("finalized");
  });
});
