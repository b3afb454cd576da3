import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AuditSessionLockedError } from "../errors.js";
import { lockFileName } from "./files.js";

interface LockBody {
  pid: number;
  hostname: string;
  startedAt: string;
}

/** Whether process `pid` of this host is alive (EPERM: alive, another user's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * One live writer per session: `.session_<id>.lock` holds the writer's pid and host. A lock whose
 * process is gone (same host) is taken over; a live one, including in this process, is refused.
 */
export class SessionLock {
  readonly file: string;
  private held = false;

  constructor(auditDir: string, sessionId: string) {
    this.file = path.join(auditDir, lockFileName(sessionId));
    const body: LockBody = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(this.file, JSON.stringify(body), { flag: "wx", mode: 0o600 });
        this.held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = readLock(this.file);
      if (holder && (holder.hostname !== os.hostname() || alive(holder.pid))) {
        throw new AuditSessionLockedError(sessionId, this.file, holder.pid);
      }
      // stale (dead process) or unreadable: take it over
      try {
        fs.unlinkSync(this.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
    throw new AuditSessionLockedError(sessionId, this.file, -1);
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    const holder = readLock(this.file);
    if (holder?.pid === process.pid) {
      try {
        fs.unlinkSync(this.file);
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Whether a live writer may hold `sessionId`'s lock in `auditDir`: its lock file names a live
 * process of this host, or a process of another host (whose liveness cannot be told from here),
 * or cannot be read yet.
 */
export function sessionLockHeld(auditDir: string, sessionId: string): boolean {
  const file = path.join(auditDir, lockFileName(sessionId));
  if (!fs.existsSync(file)) return false;
  const holder = readLock(file);
  // (a lock file not readable yet is one being written: held)
  return holder === undefined || holder.hostname !== os.hostname() || alive(holder.pid);
}

function readLock(file: string): LockBody | undefined {
  try {
    const b = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<LockBody>;
    if (typeof b.pid === "number" && typeof b.hostname === "string") return b as LockBody;
  } catch {
    // unreadable lock: treated as stale
  }
  return undefined;
}
