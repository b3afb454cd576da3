/**
 * The files a PostgresSink keeps in the audit directory beside a session's own: its spool
 * (`.pg_spool_<store>_<sessionId>.jsonl`, and `….adopting-<pid>-<start>` while a sink of another
 * session replays it) and the marker of a crashed session's recovery
 * (`.pg_recovery_<store>_<sessionId>`). Named and judged here, for the sink and for retention
 * (which removes them with their session): no `pg` is needed to read them.
 */
import fs from "node:fs";
import { claimLive, OWN_PROC_START } from "../sink/lock.js";
import { lineInfo } from "./rows.js";

/** The spool of session `sessionId` for the store `storeKey`. */
export const spoolFileName = (storeKey: string, sessionId: string): string => `.pg_spool_${storeKey}_${sessionId}.jsonl`;

/** A spool as a version before 2026-12-05 named it (the default schema's, for any store). */
export const legacySpoolFileName = (sessionId: string): string => `.pg_spool_${sessionId}.jsonl`;

/** The recovery marker of session `sessionId` for the store `storeKey`. */
export const recoveryMarkerName = (storeKey: string, sessionId: string): string => `.pg_recovery_${storeKey}_${sessionId}`;

/** What a recovery marker says: who claimed the crash its lock names, or that it is recovered. */
export interface RecoveryMarker {
  readonly lock: string;
  readonly done?: true;
  readonly pid?: number;
  readonly procStart?: string;
}

export function parseMarker(text: string | undefined): RecoveryMarker | undefined {
  if (text === undefined) return undefined;
  try {
    const m = JSON.parse(text) as Partial<RecoveryMarker>;
    if (typeof m.lock === "string") return m as RecoveryMarker;
  } catch {
    // damaged
  }
  return undefined;
}

/**
 * A spool claimed for replay: `….adopting-<pid>[-<start>]`, the claiming process's pid and, where
 * known, its start as the kernel counts it (see `claimLive`).
 */
export const CLAIM_SUFFIX = /\.adopting-(\d+)(?:-(\d+))?$/;
export const claimSuffix = (): string => `.adopting-${process.pid}${OWN_PROC_START !== undefined ? `-${OWN_PROC_START}` : ""}`;

/**
 * Whether the claim `file` (with the pid and start its name gives) may belong to a live adopter.
 * Found by review, 2026-12-05: a claim was judged by its pid alone, so one left by an adopter that
 * crashed was never taken over once its pid was alive again (a container's app is pid 1 after
 * every restart), and its records never reached the store.
 */
export function claimHeld(file: string, pid: number, started: string | undefined): boolean {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st !== undefined && claimLive(pid, started, st.ctimeMs);
}

/**
 * The session of a spool's first complete line, if it is a sealed record; `null` when the spool
 * holds no complete line (nothing in it to send: a crash cut the append of its first one);
 * undefined when that cannot be told (unreadable, a first line that is no sealed record, or one
 * over 64 MiB).
 */
export function firstLineSession(file: string): string | null | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(1 << 16);
    for (let pos = 0; pos < 64 << 20; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) return null;
      const nl = buf.subarray(0, n).indexOf(0x0a);
      chunks.push(Buffer.from(buf.subarray(0, nl === -1 ? n : nl)));
      if (nl !== -1) return lineInfo(Buffer.concat(chunks).toString("utf8"))?.sessionId;
      pos += n;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
