/**
 * A lock file beside what it guards, for the rare read-modify-write operations on files shared by
 * every process of an audit directory (crypto-shredding's key store rewrites, the legal holds
 * file): made with O_EXCL, holding pid, thread and host. A holder that is gone (this host) is
 * taken over at once; one that cannot be checked (another host, another thread of this process,
 * an unreadable lock) once the lock went untouched for `staleMs`; a live local process never.
 */
import fs from "node:fs";
import os from "node:os";
import { threadId } from "node:worker_threads";
import { AuditIOError } from "../errors.js";
import { notRegularFile } from "../regular-file.js";
import { fresh, OWN_PROC_START, processLive, readText, removeIfStill, sleepSync } from "./lock.js";

/** What a takeover sets a stale lock aside as, past `<lock>.` (see removeIfStill): `stale.<pid>.<thread>`, the pid its group. */
export const DIR_LOCK_ASIDE = /^stale\.(\d+)\.\d+$/;

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

/** What a lock file of this thread holds: pid, thread, host, when, and the process's start where known. */
export function lockBody(): string {
  return JSON.stringify({ pid: process.pid, threadId, hostname: os.hostname(), startedAt: new Date().toISOString(), ...(OWN_PROC_START !== undefined ? { procStart: OWN_PROC_START } : {}) });
}

/**
 * One attempt at the lock `file` (see takeDirLock), written as `body` (see lockBody): its release,
 * or undefined while a live holder has it. A holder that is stale (see the module's comment) is
 * taken over. A FIFO, a directory or a link under the lock's name is an AuditPathError.
 */
export function tryDirLock(file: string, body: string, staleMs: number): (() => void) | undefined {
  for (;;) {
    try {
      fs.writeFileSync(file, body, { flag: "wx", mode: 0o600 });
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
      removeIfStill(file, judged, `${file}.stale.${process.pid}.${threadId}`);
      continue;
    }
    return undefined;
  }
}

/** The holder a lock file names (pid and host), or undefined when it cannot be read. */
export function dirLockHolder(file: string): { readonly pid: number; readonly hostname: string; readonly startedAt: string | undefined } | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  try {
    const b = JSON.parse(text) as { pid?: unknown; hostname?: unknown; startedAt?: unknown };
    if (typeof b.pid !== "number" || typeof b.hostname !== "string") return undefined;
    return { pid: b.pid, hostname: b.hostname, startedAt: typeof b.startedAt === "string" ? b.startedAt : undefined };
  } catch {
    return undefined;
  }
}

/** Whether a lock held by someone else was left behind (see the module's comment). */
function lockStale(file: string, text: string, staleMs: number): boolean {
  const old = !fresh(file, staleMs) && fs.existsSync(file);
  let holder: { pid?: unknown; threadId?: unknown; hostname?: unknown; procStart?: unknown };
  try {
    holder = JSON.parse(text) as typeof holder;
  } catch {
    // unreadable: being written now, or left torn by a crash (then stale once it is old)
    return !fresh(file, 5_000) && fs.existsSync(file);
  }
  if (typeof holder.pid !== "number" || holder.hostname !== os.hostname()) return old;
  if (holder.pid === process.pid) return (holder.threadId === threadId && !held.has(file)) || (holder.threadId !== threadId && old);
  // (a live process that is not the lock's writer, its pid reused since a crash, is no holder:
  // every hold and shred waited 10 s and failed for as long as it lived; review, 2026-12-04)
  return !processLive(holder.pid, typeof holder.procStart === "string" ? holder.procStart : undefined);
}
