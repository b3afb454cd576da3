/**
 * Helpers for the core test suite: paths of the documented files, raw reads of what is on disk,
 * and a runner for the child-process fixtures in test/fixtures/core/.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AuditExporter, AuditLogger } from "../../src/index.js";
import { openKeyring } from "../../src/pipeline/keyring.js";
import { makeEncryptionKey, type EncryptionKey } from "../../src/pipeline/keys.js";
import { KIND_FILE_STEM, RECORD_KINDS, type RecordType } from "../../src/types.js";
import { OWN_HOST_TAG, OWN_NS_TAG } from "../../src/sink/owner.js";
import { vi } from "vitest";
import { readJsonl, readLinesOf, TEST_KEY, tmpProject, walk } from "./index.js";
import { childArgs } from "./child-args.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CORE_FIXTURES = path.join(REPO_ROOT, "test/fixtures/core");

/** `<projectPath>/audit_logs` */
export function auditDirOf(projectPath: string): string {
  return path.join(projectPath, "audit_logs");
}

/** The documented file of one kind (or one of its rotated segments). */
export function kindPath(projectPath: string, kind: RecordType, sessionId: string, segment?: number): string {
  const stem = `${KIND_FILE_STEM[kind]}_${sessionId}`;
  return path.join(auditDirOf(projectPath), segment === undefined ? `${stem}.jsonl` : `${stem}.${segment}.jsonl`);
}

/** Every record of a kind in chain order (segments ascending, then the active file), parsed. */
export function readKind(projectPath: string, kind: RecordType, sessionId: string): Record<string, unknown>[] {
  return kindFilesInOrder(projectPath, kind, sessionId).flatMap((f) => readJsonl<Record<string, unknown>>(f));
}

/** The raw lines of a kind in chain order. */
export function readKindLines(projectPath: string, kind: RecordType, sessionId: string): string[] {
  return kindFilesInOrder(projectPath, kind, sessionId).flatMap((f) => readLinesOf(f));
}

/** Segment files `<stem>.<n>.jsonl` sorted by n, then the active file. */
export function kindFilesInOrder(projectPath: string, kind: RecordType, sessionId: string): string[] {
  const dir = auditDirOf(projectPath);
  const stem = `${KIND_FILE_STEM[kind]}_${sessionId}`;
  const segs = fs
    .readdirSync(dir)
    .map((n) => ({ n, m: new RegExp(`^${escapeRe(stem)}\\.(\\d+)\\.jsonl$`).exec(n) }))
    .filter((x) => x.m !== null)
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]))
    .map((x) => path.join(dir, x.n));
  const active = path.join(dir, `${stem}.jsonl`);
  return fs.existsSync(active) ? [...segs, active] : segs;
}

/** Segment numbers present for a kind. */
export function segmentNumbers(projectPath: string, kind: RecordType, sessionId: string): number[] {
  const stem = `${KIND_FILE_STEM[kind]}_${sessionId}`;
  return fs
    .readdirSync(auditDirOf(projectPath))
    .map((n) => new RegExp(`^${escapeRe(stem)}\\.(\\d+)\\.jsonl$`).exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The six documented file names of a session. */
export function documentedKindFiles(sessionId: string): string[] {
  return RECORD_KINDS.map((k) => `${KIND_FILE_STEM[k]}_${sessionId}.jsonl`);
}

/**
 * Every file under the audit directory with its bytes. A file gone between the listing and its
 * read (a lock the logger holds for a moment, `.shred.lock`; a temporary file renamed into place)
 * is left out: it holds nothing by then.
 */
export function allFiles(projectPath: string): { path: string; bytes: Buffer }[] {
  return walk(auditDirOf(projectPath)).flatMap((p) => {
    try {
      return [{ path: p, bytes: fs.readFileSync(p) }];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  });
}

/** Files under the audit directory whose bytes or path contain `needle` (UTF-8). */
export function filesContaining(projectPath: string, needle: string): string[] {
  const n = Buffer.from(needle, "utf8");
  return allFiles(projectPath)
    .filter((f) => f.bytes.includes(n) || f.path.includes(needle))
    .map((f) => path.relative(auditDirOf(projectPath), f.path));
}

/**
 * The test key as a reader resolves it: the master key plus the data keys it wraps in the key
 * stores of `auditDir` (envelope encryption), for decrypting what the logger wrote.
 */
export function testKey(auditDir?: string): EncryptionKey {
  return openKeyring([makeEncryptionKey(Buffer.from(TEST_KEY, "base64"))], auditDir);
}

/** A snapshot of every file's bytes, to assert that something wrote nothing. */
export function snapshot(projectPath: string): Map<string, string> {
  return new Map(allFiles(projectPath).map((f) => [path.relative(auditDirOf(projectPath), f.path), f.bytes.toString("base64")]));
}

/** True when a string contains a lone (unpaired) UTF-16 surrogate. */
export function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

export interface ChildHandle {
  readonly child: ChildProcess;
  /** complete stdout lines received so far */
  readonly lines: string[];
  /** resolves once a stdout line satisfies `pred` (rejects if the child exits first) */
  waitForLine(pred: (line: string, index: number) => boolean, what?: string): Promise<string>;
  /** resolves with the exit code and signal */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/**
 * Starts `node --import tsx test/fixtures/core/<script> ...args` with `env` added to the
 * environment. Only whole (newline-terminated) stdout lines are reported.
 */
export function startFixture(script: string, env: Record<string, string>, args: readonly string[] = []): ChildHandle {
  const child = spawn(process.execPath, [...childArgs(path.join(CORE_FIXTURES, script)), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let carry = "";
  let stderr = "";
  const waiters: Array<() => void> = [];
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    const parts = (carry + chunk).split("\n");
    carry = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on("close", (code, signal) => {
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal, stderr });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  const waitForLine = (pred: (line: string, index: number) => boolean, what = "a line"): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = lines.find(pred);
        if (hit !== undefined) return resolve(hit);
        if (done || child.exitCode !== null || child.signalCode !== null) {
          return reject(new Error(`child exited before printing ${what}; stdout=${JSON.stringify(lines.slice(-5))} stderr=${stderr}`));
        }
        waiters.push(check);
      };
      check();
    });
  return { child, lines, waitForLine, exited };
}

/** SIGKILLs every child still running (for afterEach), waits for each to go, and empties the list. */
export async function killChildren(children: ChildHandle[]): Promise<void> {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) {
      c.child.kill("SIGKILL");
      await c.exited;
    }
  }
}

/**
 * A real child (test/fixtures/core/claim-killed-child.mts, session `sessionId`) that claims the
 * explicit chat id `id` and holds its event loop: its content never written while it lives (kill
 * it, SIGKILL, for a writer that died after its claim). Added to `children`, once it has claimed.
 */
export async function claimingChild(children: ChildHandle[], projectPath: string, sessionId: string, id: string): Promise<ChildHandle> {
  const h = startFixture("claim-killed-child.mts", {}, [projectPath, sessionId, id]);
  children.push(h);
  await h.waitForLine((l) => l === "claimed", "claimed");
  return h;
}

/** Sets `file`'s access and modification times `ms` back from now. */
export function dateBack(file: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  fs.utimesSync(file, t, t);
}

/** The pid of a process of this host that has ended. */
export function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid!;
}

/** The pid of a child process of this host that was SIGKILLed (and reaped): a process that is gone, of this pid namespace. */
export async function killedPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await new Promise<void>((resolve) => child.once("spawn", () => resolve()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await exited;
  return child.pid!;
}

/** Moves this process's clock (Date only) `ms` ahead of the real one; timers keep running. `vi.useRealTimers()` puts it back. */
export function clockAhead(ms: number): void {
  const real = Date.now();
  vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
  vi.setSystemTime(real + ms);
}

/** A pid namespace that is not this process's, as the names the kit makes carry one (its inode number: see OWN_NAME_PID). */
export const OTHER_NS_TAG = OWN_NS_TAG === "4026531836" ? "4026532999" : "4026531836";
/** This process's pid namespace as those names carry it (`n<namespace>`; none off Linux). */
export const OWN_NS_SUFFIX = OWN_NS_TAG !== undefined ? `n${OWN_NS_TAG}` : "";

/** A host that is not this one, as the names the kit makes carry one (see OWN_HOST_TAG): a host sharing the directory over the network. */
export const OTHER_HOST_TAG = OWN_HOST_TAG === "0a1b2c3d" ? "d3c2b1a0" : "0a1b2c3d";

/** Session `sid`'s lock in `dir` as a process of this host leaves it when it is killed (`pid`: by default one that has ended); its name. */
export function leaveLock(dir: string, sid: string, pid = deadPid()): string {
  const name = `.session_${sid}.lock`;
  fs.writeFileSync(path.join(dir, name), JSON.stringify({ pid, hostname: os.hostname(), startedAt: new Date().toISOString() }));
  return name;
}

/** Makes a FIFO at `file` (opening one for reading waits for a writer: for good, deaf to SIGTERM). */
export function mkfifo(file: string): void {
  execFileSync("mkfifo", [file]);
}

/** How long a writer-fifo child may take (its node and tsx start included) before it counts as hung. */
const FIFO_CHILD_HANG_MS = 20_000;

/**
 * Runs test/fixtures/core/writer-fifo-child.mts in `mode` (see there): its last stdout line as
 * JSON, or "hung" when it had to be killed (SIGKILL: a process blocked opening a FIFO hears no
 * SIGTERM), so that a hang fails the test instead of hanging it.
 */
export function runFifoChild(mode: string, args: readonly string[]): Promise<Record<string, unknown> | "hung"> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [...childArgs(path.join(CORE_FIXTURES, "writer-fifo-child.mts")), mode, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      c.kill("SIGKILL");
    }, FIFO_CHILD_HANG_MS);
    c.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    c.on("error", reject);
    c.on("close", (code) => {
      clearTimeout(timer);
      if (hung) return resolve("hung");
      const last = out.trim().split("\n").at(-1);
      if (code !== 0 || !last) return reject(new Error(`child exited ${code}: ${err}`));
      resolve(JSON.parse(last) as Record<string, unknown>);
    });
  });
}

/**
 * Runs a core fixture (test/fixtures/core/`fixture`) in a child process under strace, every
 * thread traced (`-f`), the calls `trace` names written to `<projectPath>/strace.txt`; returns
 * the child's result and the trace's lines. A machine without strace fails the test, saying so
 * (.ci/run installs it).
 */
export function underStrace(fixture: string, trace: string, projectPath: string, args: readonly string[], straceFlags: readonly string[] = []): { result: SpawnSyncReturns<string>; lines: string[] } {
  const has = spawnSync("strace", ["-V"], { stdio: "ignore" }).status === 0;
  if (!has) throw new Error("strace is needed: apt-get install -y strace");
  const out = path.join(projectPath, "strace.txt");
  const result = spawnSync("strace", ["-f", ...straceFlags, "-qq", "-e", `trace=${trace}`, "-o", out, process.execPath, ...childArgs(path.join(CORE_FIXTURES, fixture)), projectPath, ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { result, lines: fs.existsSync(out) ? fs.readFileSync(out, "utf8").split("\n") : [] };
}

/** A log of one tool record in session `sessionId`, exported once to `<project>/export`. */
export async function exportedOnce(sessionId: string): Promise<{ exportDir: string; exporter: AuditExporter }> {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId, projectPath, fullContentLogging: false });
  logger.logToolUsage({ toolName: "t", operation: "o" });
  await logger.finalizeSession();
  const exportDir = path.join(projectPath, "export");
  const exporter = new AuditExporter({ auditPath: logger.auditDir });
  await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
  return { exportDir, exporter };
}

/** The maker `pid` of this host and pid namespace as this version's names carry it (NAME_PID: `<pid>n<namespace>h<host>`), judged by that pid. */
export const nameOf = (pid: number): string => `${pid}${OWN_NS_SUFFIX}h${OWN_HOST_TAG}`;
