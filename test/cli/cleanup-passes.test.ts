// `audit-logger cleanup` judges the directory twice: a dry pass (is anything to go?), then the real
// pass that removes, under each session's lock. Found 2026-12-05: it printed (and reported in
// --json) the skipped sessions of the dry pass only, and the removals of the real one, so a session
// resumed or put under a legal hold between the two passes was reported neither removed nor kept,
// and one a process held during the dry pass only was reported kept and removed at once. Here real
// child processes resume sessions, hold them and place holds between the two passes (a hook runs
// just before the real pass: the command runs in this process for that, with its real files).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { verifyAuditLog } from "../../src/index.js";
import { createIO } from "../../src/cli/io.js";
import { runCli } from "../../src/cli/run.js";
import { sleepSync } from "../../src/sink/lock.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { oldSession } from "../helpers/sessions.js";
import { CORE_FIXTURES, leaveLock } from "../helpers/core.js";
import { childArgs } from "../helpers/child-args.js";

const hook = vi.hoisted(() => ({ beforeRealPass: undefined as (() => void) | undefined }));
vi.mock("../../src/retention.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/retention.js")>();
  return {
    ...actual,
    cleanupSessions: (dir: string, o: Parameters<typeof actual.cleanupSessions>[1]) => {
      if (!o.dryRun) {
        const h = hook.beforeRealPass;
        hook.beforeRealPass = undefined;
        h?.();
      }
      return actual.cleanupSessions(dir, o);
    },
  };
});

const DAY = 86_400_000;
const children: ChildProcess[] = [];

afterEach(() => {
  hook.beforeRealPass = undefined;
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  vi.useRealTimers();
  cleanupTmp();
});

/** Waits (synchronously: the hook runs inside the command) until `check` holds. */
function waitSync(check: () => boolean, what: string): void {
  const end = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    sleepSync(20);
  }
}

/** A child process that resumes `sessionId` and holds it (its lock) until killed, once it holds it. */
function holdOpen(projectPath: string, sessionId: string): ChildProcess {
  const ready = path.join(projectPath, `ready_${sessionId}`);
  const child = spawn(process.execPath, [...childArgs(path.join(CORE_FIXTURES, "hold-open-child.mts")), projectPath, sessionId, ready], { stdio: "ignore" });
  children.push(child);
  waitSync(() => fs.existsSync(ready), `${sessionId} resumed by a child process`);
  return child;
}

const runChild = (fixture: string, ...args: string[]): void => void execFileSync(process.execPath, [...childArgs(path.join(CORE_FIXTURES, fixture)), ...args], { stdio: "ignore" });

/** Runs `audit-logger <args>` in this process; its exit code and output. */
async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = createIO({ write: (s) => ((stdout += s), true) }, { write: (s) => ((stderr += s), true) }, { NO_COLOR: "1" }, new AbortController().signal);
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/** The names in `dir` that name session `sid` (its records, session file, dot files). */
const namesOf = (dir: string, sid: string): string[] => fs.readdirSync(dir).filter((n) => n.includes(`_${sid}.`) || n.endsWith(`_${sid}`));

/**
 * Six sessions 100 days old; between the passes: "resumed" is resumed, written to and ended by
 * another process; "opened" is resumed by one that holds it on; "held" is put under a legal hold;
 * "vanished" is removed by another hand; "ended" was held by a process during the dry pass only
 * (ended before the real one); "plain" is left alone.
 */
async function scenario(): Promise<{ projectPath: string; dir: string }> {
  const projectPath = tmpProject("audit-cli-cleanup-passes-");
  const dir = path.join(projectPath, "audit_logs");
  for (const sid of ["resumed", "opened", "held", "vanished", "ended", "plain"]) await oldSession(projectPath, sid, 100);
  const ended = holdOpen(projectPath, "ended");
  hook.beforeRealPass = () => {
    runChild("resume-session-child.mts", projectPath, "resumed");
    holdOpen(projectPath, "opened");
    runChild("place-hold-child.mts", projectPath, "keeper", "held");
    for (const n of namesOf(dir, "vanished")) fs.rmSync(path.join(dir, n));
    // (SIGTERM: its exit hook ends the session and removes the lock; the process itself is reaped
    // only once this one's event loop runs again)
    ended.kill("SIGTERM");
    waitSync(() => !fs.existsSync(path.join(dir, ".session_ended.lock")), "the holder of session ended to let it go");
  };
  return { projectPath, dir };
}

describe("audit-logger cleanup reports what its real pass did", () => {
  it("--json: sessions resumed, held or removed by another between the passes are reported as such; removed is what went", async () => {
    const { dir } = await scenario();
    const r = await cli(["cleanup", dir, "--max-age-days", "30", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(hook.beforeRealPass).toBeUndefined();
    const out = JSON.parse(r.stdout) as {
      removed: Array<{ sessionId: string; files: string[] }>;
      skippedLive: string[];
      skippedHeld: string[];
      keptByRetention: unknown[];
      skippedUnsent: unknown[];
      vanished: string[];
      failed: unknown[];
    };
    expect(out.removed.map((e) => e.sessionId)).toEqual(["ended", "plain"]);
    expect(out.skippedLive).toEqual(["opened", "resumed"]);
    expect(out.skippedHeld).toEqual(["held"]);
    expect(out.vanished).toEqual(["vanished"]);
    expect([out.keptByRetention, out.skippedUnsent, out.failed]).toEqual([[], [], []]);

    // on disk: what was reported kept is all there; what was reported removed is gone
    for (const sid of ["resumed", "opened", "held"]) expect(namesOf(dir, sid), sid).toEqual(expect.arrayContaining([`session_${sid}.json`, `tool_usage_${sid}.jsonl`]));
    for (const sid of ["ended", "plain", "vanished"]) expect(namesOf(dir, sid), sid).toEqual([]);
    // the maintenance session recorded the two removals, and nothing else
    const events = fs.readFileSync(path.join(dir, "audit_events_audit_maintenance.jsonl"), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { eventType: string; details: { sessionId: string; files: string[] } });
    expect(events.map((e) => [e.eventType, e.details.sessionId])).toEqual([
      ["retention_pruned", "ended"],
      ["retention_pruned", "plain"],
    ]);
    expect(events.map((e) => e.details.files)).toEqual(out.removed.map((e) => e.files));
    // (the session "vanished" went without a record: not by this cleanup)
    expect((await verifyAuditLog(dir)).problems.filter((p) => !p.file.includes("vanished"))).toEqual([]);
  }, 60_000);

  it("text: each session kept says why, the one removed by another says so, and the count is of what went", async () => {
    const { dir } = await scenario();
    const r = await cli(["cleanup", dir, "--max-age-days", "30"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.filter((l) => l.startsWith("removed ")).map((l) => l.split(" ")[1])).toEqual(["ended", "plain"]);
    expect(lines).toEqual(
      expect.arrayContaining([
        "kept held: under a legal hold",
        "kept opened: a running process is writing it",
        "kept resumed: a process wrote to it while the cleanup ran; the next cleanup judges it again",
        "vanished: its files went while the cleanup ran, not by this cleanup (another process removed them)",
      ]),
    );
    expect(lines.filter((l) => l.includes("ended") && l.startsWith("kept"))).toEqual([]);
    expect(lines.at(-1)).toMatch(/^Removed 2 sessions \(\d+ files\) from /);
  }, 60_000);

  it("what is left of a session whose records are gone is kept, its lock untouched, when a process starts that session between the passes", async () => {
    const projectPath = tmpProject("audit-cli-cleanup-passes-");
    const dir = path.join(projectPath, "audit_logs");
    await oldSession(projectPath, "other", 1);
    const lock = path.join(dir, leaveLock(dir, "reborn"));
    const old = (Date.now() - 100 * DAY) / 1000;
    fs.utimesSync(lock, old, old);
    let holder: ChildProcess | undefined;
    hook.beforeRealPass = () => {
      holder = holdOpen(projectPath, "reborn");
    };
    const r = await cli(["cleanup", dir, "--max-age-days", "30", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { removed: unknown[]; leftovers: unknown[]; skippedLive: string[] };
    expect(out.removed).toEqual([]);
    expect(out.leftovers).toEqual([]);
    expect(out.skippedLive).toEqual(["reborn"]);
    expect((JSON.parse(fs.readFileSync(lock, "utf8")) as { pid: number }).pid).toBe(holder!.pid);
    expect(fs.existsSync(path.join(dir, "session_reborn.json"))).toBe(true);
  }, 60_000);
});
