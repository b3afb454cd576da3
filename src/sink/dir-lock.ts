/**
 * A lock file beside what it guards, for the rare read-modify-write operations on files shared by
 * every process of an audit directory (crypto-shredding's key store rewrites, the legal holds
 * file): made with O_EXCL, holding its holder (see owner.ts: pid, host, kernel start, pid
 * namespace) and its thread. A holder that is gone (see ownerState) is taken over at once, and so
 * is a thread of this process that has ended (see threadGone); one that cannot be checked
 * (another host, another pid namespace, an unreadable lock) once the lock went untouched for
 * `staleMs`; a live process of this host never, this one included: a thread of this process that
 * holds the lock is alive however long it stalls (until 2026-12-06 another thread's lock was
 * taken over after `staleMs`, and two threads rewrote one file).
 */
import fs from "node:fs";
import { threadId } from "node:worker_threads";
import { AuditIOError } from "../errors.js";
import { notRegularFile } from "../regular-file.js";
import { fresh, readText, removeIfStill, sleepSync } from "./lock.js";
import { NAME_PID, OWN_NAME_PID, type Owner, OWN_THREAD, ownerOf, ownerState, ownOwner, threadGone } from "./owner.js";

/** What a takeover sets a stale lock aside as, past `<lock>.` (see removeIfStill): `stale.<pid>.<thread>`, the pid (NAME_PID) its group. */
export const DIR_LOCK_ASIDE = new RegExp(String.raw`^stale\.(${NAME_PID})\.\d+$`);

/** The locks this thread holds (a lock naming this pid and thread, not held, was left by a crash). */
const held = new Set<string>();


/**
 * Takes the lock `file`, waiting up to `waitMs` for a live holder (then AuditIOError naming
 * `who` holds it). Returns its release.
 */
export function takeDirLock(file: string, who: string, o: { readonly waitMs: number; readonly staleMs: number }): () => void {
  const body = lockBody();
  const deadline = Date.now() + o.waitMs;
  for (;;) {
    const release = tryDirLock(file, body, o.staleMs);
    if (release) return release;
    if (Date.now() > deadline) throw new AuditIOError(`${who} holds ${file}: run one at a time (remove the file if none is running).`);
    sleepSync(10);
  }
}

/** What a lock file of this thread holds: its process as a holder (see ownOwner) and this thread (see OWN_THREAD). */
export function lockBody(): string {
  return JSON.stringify({ ...ownOwner(), ...OWN_THREAD });
}

/**
 * One attempt at the lock `file` (see takeDirLock), written as `body` (see lockBody): its release,
 * or undefined while a live holder has it. A holder that is stale (see the module's comment) is
 * taken over. A FIFO, a directory or a link under the lock's name is an AuditPathError.
 */
export function tryDirLock(file: string, body: string, staleMs: number): (() => void) | undefined {
  for (;;) {
    try {
      createLockFile(file, body);
      held.add(file);
      return () => {
        held.delete(file);
        try {
          // (not opened unless a regular file: a FIFO put in its place hung the release for
          // good, SIGTERM too; found by review, 2026-12-05)
          if (readText(file) === body) fs.unlinkSync(file);
        } catch {
          // gone already
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const judged = readText(file);
    // A FIFO, a directory or a link under the lock's name was put there (the kit makes regular
    // files only): AUDIT_ERR_PATH at once, naming it. Each hold and shred waited 10 s, then
    // failed saying another one held it (found by review, 2026-12-05).
    const irregular = judged === undefined ? notRegularFile(file, true) : undefined;
    if (irregular) throw irregular;
    if (judged !== undefined && lockStale(file, judged, staleMs)) {
      // (another waiter may have taken it over and made its own meanwhile: see removeIfStill)
      removeIfStill(file, judged, `${file}.stale.${OWN_NAME_PID}.${threadId}`);
      continue;
    }
    return undefined;
  }
}

/** The holder a lock file names (see ownerOf), or undefined when it cannot be read. */
export function dirLockHolder(file: string): Owner | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  try {
    return ownerOf(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Whether a lock held by someone else was left behind (see the module's comment). */
function lockStale(file: string, text: string, staleMs: number): boolean {
  const old = !fresh(file, staleMs) && fs.existsSync(file);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // unreadable: being written now, or left torn by a crash (then stale once it is old)
    return !fresh(file, 5_000) && fs.existsSync(file);
  }
  const holder = ownerOf(body);
  const state = holder === undefined ? "unknown" : ownerState(holder);
  if (state === "unknown") return old;
  // (a live process that is not the lock's writer, its pid reused since a crash, is no holder:
  // every hold and shred waited 10 s and failed for as long as it lived; review, 2026-12-04)
  if (state === "gone") return true;
  if (holder!.pid !== process.pid) return false;
  // this process: this thread's own lock, not held, was left by its crashed operation; another
  // thread's is held until that thread has ended, never taken by age
  const b = body as Record<string, unknown>;
  return b.threadId === threadId ? !held.has(file) : threadGone(b);
}

/**
 * Creates the lock `file` holding `body` (O_EXCL): EEXIST when there is one. When the disk takes
 * the file but not its bytes (full, past a file-size limit), the empty file this made is removed
 * and the error thrown: until 2026-12-06 it was left, an unreadable lock every shred and hold (and
 * a writer storing a data key that waited for the disk) took for another's for 5 s, and then said
 * "Another crypto-shredding holds" instead of the disk's error (found by review).
 */
function createLockFile(file: string, body: string): void {
  const fd = fs.openSync(file, "wx", 0o600);
  try {
    fs.writeFileSync(fd, body);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw err;
  }
  fs.closeSync(fd);
}

/** Whether this thread holds the lock `file` now (taken by takeDirLock or tryDirLock, not yet released). */
export function holdsDirLock(file: string): boolean {
  return held.has(file);
}
