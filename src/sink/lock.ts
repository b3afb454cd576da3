import fs from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { AuditSessionLockedError } from "../errors.js";
import { lockFileName } from "./files.js";
import { readRegularFileSync } from "../regular-file.js";
import { NAME_PID, nameLeftByGone, OWN_NAME_PID, type Owner, ownerIsThisProcess, ownerOf, ownerState, ownOwner } from "./owner.js";

/** What a session lock or takeover marker holds: its holder (see owner.ts). */
type LockBody = Owner;

/** A lock file whose content cannot be read this long after it was written is damaged, not being written. */
const UNREADABLE_STALE_MS = 5_000;
/**
 * A takeover marker that cannot be read (its writer died between creating and filling it) or
 * names another host's process is taken for stale once older than this. One naming a process of
 * this host is stale when that process is gone, however young, and live however old (a takeover
 * stalled past this, its process stopped or swapped out, was raced by a second one).
 */
const TAKEOVER_STALE_MS = 5_000;

/**
 * The owner of a claim that is a file of its own (an explicit chat id's, see claimContentId in
 * content.ts): this process's lock body (pid, host, when, its kernel start where known, which a
 * reused pid does not share), its pid namespace where known, and a random nonce, which makes each claim's text its own (a claim
 * is removed or replaced only while it still holds the text judged: see removeIfStill).
 */
export function claimOwnerText(): string {
  return JSON.stringify({ ...ownOwner(), nonce: randomBytes(8).toString("hex") });
}

/**
 * Whether the claim owner `text` names (see claimOwnerText) is provably gone: a process of this
 * host that is not alive, or whose pid another process has now (another kernel start), or this
 * process's pid before this process began. False while it may live; undefined when it cannot be
 * told: another host's process (or another pid namespace's), or a text that is no owner (the
 * caller falls back on the claim's age).
 */
export function claimOwnerGone(text: string | undefined): boolean | undefined {
  const owner = text === undefined ? undefined : parseLock(text);
  const state = owner === undefined ? "unknown" : ownerState(owner);
  return state === "unknown" ? undefined : state === "gone";
}

/** Waits `ms` on this thread (the kit's file locks are taken synchronously). */
export const sleepSync = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Whether the writer `holder` names may be alive: a live process of this host (see ownerState),
 * or one whose liveness cannot be told from here (another host's, another pid namespace's).
 */
function holderLive(holder: LockBody): boolean {
  return ownerState(holder) !== "gone";
}

/**
 * One live writer per session: `.session_<id>.lock` holds the writer's pid and host. A lock whose
 * process is gone (same host) is taken over; a live one, including in this process, is refused.
 *
 * The lock file appears whole (written beside it, then linked into place: a file another process
 * had just created, still empty, was read as "unreadable, stale" and deleted, and two processes
 * wrote one session, its chain broken; found by review, 2026-12-04). A stale lock is taken over
 * by one process at a time (a `.takeover` marker created exclusively): two that judged the same
 * lock stale each removed what the other had just made.
 */
export class SessionLock {
  readonly file: string;
  private held = false;
  /** the text of the stale lock this one took over, if it did (see giveBack) */
  private replaced: string | undefined;

  constructor(auditDir: string, sessionId: string) {
    this.file = path.join(auditDir, lockFileName(sessionId));
    const body = ownOwner();
    const deadline = Date.now() + 2_000;
    for (;;) {
      if (this.create(body)) return;
      const holder = readLock(this.file);
      if (holder && holderLive(holder)) {
        // (a holder that cannot be told dead is never taken over: the error says how to free it by hand)
        throw new AuditSessionLockedError(sessionId, this.file, holder.pid, ownerState(holder) === "unknown" ? holder.hostname : undefined);
      }
      // (another user's lock this one may not read: its holder cannot be told dead)
      if (!holder && readDenied(this.file)) throw new AuditSessionLockedError(sessionId, this.file, -1);
      if (!holder && fresh(this.file, UNREADABLE_STALE_MS)) {
        // (a damaged lock file is taken over once it is old; a fresh one is waited for)
        if (Date.now() > deadline) throw new AuditSessionLockedError(sessionId, this.file, -1);
        sleepSync(5);
        continue;
      }
      if (this.takeOver(holder)) return;
      if (Date.now() > deadline) throw new AuditSessionLockedError(sessionId, this.file, holder?.pid ?? -1);
      sleepSync(5);
    }
  }

  /** Creates the lock file whole, if there is none; whether it did. */
  private create(body: LockBody): boolean {
    if (!createWhole(this.file, JSON.stringify(body))) return false;
    this.held = true;
    return true;
  }

  /**
   * Replaces the stale lock `stale` (as read: undefined when unreadable) under the takeover
   * marker; whether this process holds the session now. False when another process is taking it
   * over, or the lock changed since it was read (the caller looks again).
   */
  private takeOver(stale: LockBody | undefined): boolean {
    const marker = `${this.file}.takeover`;
    try {
      fs.writeFileSync(marker, JSON.stringify(ownOwner()), { flag: "wx", mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // (undefined: gone meanwhile, not readable, or no regular file, never opened: see markerStale)
      const judged = readText(marker);
      if (markerStale(marker, judged)) removeIfStill(marker, judged, `${marker}.stale.${OWN_NAME_PID}`);
      return false;
    }
    try {
      // (under the marker: still the lock judged stale, not one made meanwhile)
      const text = readText(this.file);
      const now = text === undefined ? undefined : parseLock(text);
      const same = now === undefined ? stale === undefined : stale !== undefined && now.pid === stale.pid && now.hostname === stale.hostname && now.startedAt === stale.startedAt;
      if (!same && fs.existsSync(this.file)) return false;
      fs.rmSync(this.file, { force: true });
      if (!this.create(ownOwner())) return false;
      this.replaced = text;
      return true;
    } finally {
      fs.rmSync(marker, { force: true });
    }
  }

  /**
   * Ends this hold leaving the lock file as this lock found it: the stale lock it took over put
   * back, whole (its text is how a PostgresSink knows that session crashed, and which crash: see
   * docs/POSTGRES.md), or, if there was none, no lock. For retention, which takes a session's lock
   * to remove it and may then keep it.
   */
  giveBack(): void {
    if (!this.held || this.replaced === undefined) return this.release();
    this.held = false;
    // (this lock is held until the rename: no other process acts on the file meanwhile)
    const tmp = `${this.file}.${OWN_NAME_PID}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      fs.writeFileSync(tmp, this.replaced, { flag: "wx", mode: 0o600 });
      fs.renameSync(tmp, this.file);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /** Whether this process holds the lock now (taken, not yet released or given back). */
  get holding(): boolean {
    return this.held;
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    const holder = readLock(this.file);
    // (this process's, not another pid namespace's process with the same pid and host name)
    if (holder !== undefined && ownerIsThisProcess(holder)) {
      try {
        fs.unlinkSync(this.file);
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Whether the takeover marker `marker`, read as `judged`, was left by a takeover that will not
 * finish (see TAKEOVER_STALE_MS). `judged` undefined: gone (false), not readable (false: the
 * caller looks again), or a FIFO, a directory or a link under its name, which no process of the
 * kit makes: taken as an unreadable marker, stale once old (a FIFO there, opened, hung the
 * AuditLogger constructor for good, SIGTERM too; found by review, 2026-12-05).
 */
function markerStale(marker: string, judged: string | undefined): boolean {
  if (judged === undefined) {
    const st = fs.lstatSync(marker, { throwIfNoEntry: false });
    return st !== undefined && !st.isFile() && Date.now() - st.mtimeMs >= TAKEOVER_STALE_MS;
  }
  const taker = parseLock(judged);
  const state = taker === undefined ? "unknown" : ownerState(taker);
  return state === "unknown" ? !fresh(marker, TAKEOVER_STALE_MS) : state === "gone";
}

/**
 * A session lock's files besides the lock, each living a moment while its process runs: the
 * takeover marker (`<lock>.takeover`), what a takeover set aside to remove it
 * (`<lock>.takeover.stale.<pid>`, see removeIfStill), a lock being written whole
 * (`<lock>.<pid>.<random>.tmp`, see createWhole); `<pid>` is NAME_PID (the pid and, since
 * 2026-12-06, its pid namespace and host). `$1`: the session; `$2`, `$3`: the pid named.
 */
const LOCK_INTERNAL = new RegExp(String.raw`^\.session_(.+)\.lock\.(?:takeover(?:\.stale\.(${NAME_PID}))?|(${NAME_PID})\.[0-9a-z]+\.tmp)$`);

/** The session whose lock's internal file (see LOCK_INTERNAL) `name` would be, by its name only. */
export function lockInternalSession(name: string): string | undefined {
  return LOCK_INTERNAL.exec(name)?.[1];
}

/**
 * The internal files of session `sessionId`'s lock (see LOCK_INTERNAL) in the listing `names`
 * that a killed process left: the marker when a takeover would take it for stale (markerStale),
 * the others when the process their name names is gone (leftByGone, from their ctime). Found
 * 2026-12-05: a process killed inside a takeover left them for good, and retention, which knew
 * no such name, removed the session without them.
 */
export function lockLeftovers(auditDir: string, sessionId: string, names: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of names) {
    const m = LOCK_INTERNAL.exec(name);
    if (m?.[1] !== sessionId) continue;
    const file = path.join(auditDir, name);
    const pid = m[2] ?? m[3];
    if (pid === undefined) {
      if (markerStale(file, readText(file))) out.push(name);
      continue;
    }
    if (leftByGone(file, pid)) out.push(name);
  }
  return out;
}

/**
 * Whether `file`, named by a process after itself (`pid`: NAME_PID, its pid and, since
 * 2026-12-06, its pid namespace and host), was left by one that is gone (nameLeftByGone: by its
 * pid on this host in this pid namespace; by its age, an hour, on another host, in another
 * namespace, or for an older name naming no host); false when there is no such file.
 */
export function leftByGone(file: string, pid: string): boolean {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  return st !== undefined && nameLeftByGone(pid, undefined, st);
}

/**
 * The names in `names` that are `stem` followed by what `rest` matches, the pid of the process
 * that made them in one of its groups (NAME_PID), whose process is gone (see leftByGone): files a
 * process killed midway left, such as one written whole beside its place (`<name>.<pid>.tmp`)
 * before its rename.
 */
export function leftByGoneNamed(auditDir: string, names: readonly string[], stem: string, rest: RegExp): string[] {
  const out: string[] = [];
  for (const name of names) {
    if (!name.startsWith(stem)) continue;
    const pid = rest.exec(name.slice(stem.length))?.slice(1).find((g) => g !== undefined);
    if (pid !== undefined && leftByGone(path.join(auditDir, name), pid)) out.push(name);
  }
  return out;
}

/**
 * Creates `file` holding `text`, if there is no `file`; whether it did. The file appears whole
 * (written beside it, then linked into place): a reader never finds it empty or half written.
 */
export function createWhole(file: string, text: string): boolean {
  const tmp = `${file}.${OWN_NAME_PID}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, text, { flag: "wx", mode: 0o600 });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return false;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Whether `file` exists and was touched less than `staleMs` ago. */
export function fresh(file: string, staleMs: number): boolean {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st !== undefined && Date.now() - st.mtimeMs < staleMs;
}

/**
 * Whether a live writer may hold `sessionId`'s lock in `auditDir`: its lock file names a live
 * process of this host (not an earlier incarnation of this process's pid), or a process of
 * another host (whose liveness cannot be told from here), or cannot be read yet.
 */
export function sessionLockHeld(auditDir: string, sessionId: string): boolean {
  const file = path.join(auditDir, lockFileName(sessionId));
  if (!fs.existsSync(file)) return false;
  const holder = readLock(file);
  // (a lock file not readable is a damaged one, or one of an older version being written: held until it is old)
  return holder === undefined ? readDenied(file) || fresh(file, UNREADABLE_STALE_MS) : holderLive(holder);
}

/**
 * When the earliest live writer of `auditDir` took its session lock (ms since the epoch), from the
 * directory's listing `names`: of each lock a live writer may hold (see sessionLockHeld), the
 * earlier of the time its body names and its file's mtime; undefined when none is held. What a
 * writer makes while it holds its lock (an explicit id's claim: see abandonedClaims) is younger.
 */
export function liveWritersSince(auditDir: string, names: readonly string[]): number | undefined {
  let since: number | undefined;
  for (const name of names) {
    const id = /^\.session_(.+)\.lock$/.exec(name)?.[1];
    if (id === undefined) continue;
    let held: boolean;
    try {
      held = sessionLockHeld(auditDir, id);
    } catch {
      continue; // (a name no session can have: no lock of the kit's)
    }
    if (!held) continue;
    const file = path.join(auditDir, name);
    const mtime = fs.lstatSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
    const named = Date.parse(readLock(file)?.startedAt ?? "");
    const t = Number.isNaN(named) ? mtime : Math.min(named, mtime);
    since = since === undefined ? t : Math.min(since, t);
  }
  return since;
}

/**
 * Whether session `sessionId`'s lock in `auditDir` was left by a process that died holding it (a
 * SIGKILL, a crash, an out-of-memory kill): the lock file is there (finalizeSession() and the exit
 * hook remove it) and no live writer may hold it (`sessionLockHeld`: a lock naming another host's
 * process is held, its liveness cannot be told from here), and no live process is taking it over
 * (its `.takeover` marker, see markerStale: a session being resumed is not a dead one). Reads
 * only: how the files' readers tell an interrupted session (docs/FORMAT.md).
 */
export function sessionLockLeftByDead(auditDir: string, sessionId: string): boolean {
  const file = lockPathOf(auditDir, sessionId);
  if (file === undefined) return false;
  const before = readText(file);
  if (!fs.existsSync(file) || sessionLockHeld(auditDir, sessionId)) return false;
  if (takeoverLive(`${file}.takeover`)) return false;
  // (still the lock judged: a takeover that ended meanwhile left a live one)
  return fs.existsSync(file) && readText(file) === before;
}

/**
 * Whether the run a session file (or the PostgreSQL store's row of it) names was of a process of
 * this host that is gone: its `pid` and `hostname`, its `procStart` and `pidNs` where they were
 * known, and when it began (`resumedAt`, else `startTime`), judged as a lock's holder is
 * (ownerState in owner.ts: the pid is not alive, or is another process's now, or is this
 * process's but the run began before it). For a reader that has the session's information but
 * not its lock (the store's). False when it cannot be told: another host's run, another pid
 * namespace's (a container given this host's name: until 2026-12-06 its run was judged by a pid
 * of this namespace, and reported `interrupted` while it ran), or no pid or host named.
 */
export function runLeftByDead(info: Readonly<Record<string, unknown>>): boolean {
  const began = typeof info.resumedAt === "string" ? info.resumedAt : typeof info.startTime === "string" ? info.startTime : "";
  const run = ownerOf({ ...info, startedAt: began });
  return run !== undefined && ownerState(run) === "gone";
}

/**
 * Whether a live process may be writing session `sessionId` in `auditDir`: it holds the
 * session's lock (`sessionLockHeld`), or is taking a stale one over (its `.takeover` marker). A
 * session resumed there: never a dead one. Reads only.
 */
export function sessionLiveIn(auditDir: string, sessionId: string): boolean {
  const file = lockPathOf(auditDir, sessionId);
  return file !== undefined && (sessionLockHeld(auditDir, sessionId) || takeoverLive(`${file}.takeover`));
}

/** Session `sessionId`'s lock file in `auditDir`; undefined for an id no session can have (no lock either). */
function lockPathOf(auditDir: string, sessionId: string): string | undefined {
  try {
    return path.join(auditDir, lockFileName(sessionId));
  } catch {
    return undefined;
  }
}

/** Whether a takeover marker is there and not stale (see markerStale). */
function takeoverLive(marker: string): boolean {
  return fs.lstatSync(marker, { throwIfNoEntry: false }) !== undefined && !markerStale(marker, readText(marker));
}

/** Whether reading `file` is refused (EACCES, EPERM): another user's lock, not a damaged one. */
function readDenied(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "EACCES" || code === "EPERM";
  }
}

function readLock(file: string): LockBody | undefined {
  const text = readText(file);
  return text === undefined ? undefined : parseLock(text); // (unreadable: treated as stale)
}

/**
 * The text of `file` (a lock, a recovery marker: a few hundred bytes), or undefined when it cannot
 * be read, is gone, is no regular file or is over 1 MiB (a FIFO named like a lock hung `cleanup`
 * for good, SIGTERM too; found by review, 2026-12-05).
 */
export function readText(file: string): string | undefined {
  try {
    return readRegularFileSync(file, undefined, 1 << 20).toString("utf8");
  } catch {
    return undefined;
  }
}

function parseLock(text: string): LockBody | undefined {
  try {
    return ownerOf(JSON.parse(text));
  } catch {
    return undefined; // a damaged or half-written lock
  }
}

/**
 * Removes the lock (or marker) `file` judged stale with content `judged`, only if it still is
 * that one. It is looked at first, in place: one that is no longer the one judged (another
 * process took it over and made its own) is left alone, never moved. Else it is renamed to
 * `aside` and checked again there, the same file (inode) with the same content, and only then
 * removed. The kit's file locks take a stale lock over this way. `judged` undefined: it was no
 * regular file (see markerStale), and is removed if it still is none (an empty directory
 * included). Nothing is opened but as a regular file (a FIFO there hung this read for good).
 *
 * Found by the operator pass, 2026-12-05: the check came only after the rename, so a live lock
 * that was not the one judged was renamed aside and renamed back, and a lock another process
 * created under the free name in between was replaced by it: both held the lock. A file that
 * changes between the look and the rename (microseconds) is still put back, but by a link,
 * which never replaces a file made meanwhile: that one keeps the name, and the one set aside
 * stays under `aside` (removed by retention once this process is gone, see lockLeftovers).
 */
export function removeIfStill(file: string, judged: string | undefined, aside: string): void {
  try {
    const before = fs.lstatSync(file, { throwIfNoEntry: false });
    if (before === undefined || !isJudged(file, before, judged)) return;
    fs.renameSync(file, aside);
    const st = fs.lstatSync(aside);
    if (st.ino !== before.ino || st.dev !== before.dev || !isJudged(aside, st, judged)) {
      // not the one judged: put back, unless a file was made under the name meanwhile
      if (st.isDirectory()) {
        if (!fs.existsSync(file)) fs.renameSync(aside, file);
      } else {
        fs.linkSync(aside, file);
        fs.unlinkSync(aside);
      }
    } else if (st.isDirectory()) fs.rmdirSync(aside);
    else fs.rmSync(aside, { force: true });
  } catch {
    // gone meanwhile, or a file made under the name while the other was aside (it keeps it)
  }
}

/**
 * Whether `file` (lstat `st`) is what was judged stale: content `judged` (of a regular file, or
 * the target of a symbolic link, as a claim's owner is named when the disk refuses a file's
 * bytes: see createOwner in content.ts), or, undefined, no regular file.
 */
function isJudged(file: string, st: fs.Stats, judged: string | undefined): boolean {
  if (judged === undefined) return !st.isFile();
  if (st.isSymbolicLink()) {
    try {
      return fs.readlinkSync(file) === judged;
    } catch {
      return false;
    }
  }
  return st.isFile() && readText(file) === judged;
}
