/**
 * The files a PostgresSink keeps in the audit directory beside a session's own: its spool
 * (`.pg_spool_<store>_<sessionId>.jsonl`, and `….adopting-<pid>-<start>` while a sink of another
 * session replays it) and the marker of a crashed session's recovery
 * (`.pg_recovery_<store>_<sessionId>`, which also says a session's process ended without
 * finalizing it: see `endedMarker`). Named and judged here, for the sink and for retention
 * (which removes them with their session): no `pg` is needed to read them.
 */
import fs from "node:fs";
import path from "node:path";
import { isFileSessionId, kindFileName, lockFileName, sessionFileName } from "../sink/files.js";
import { CHAIN_KINDS } from "../types.js";
import { leftByGoneNamed, readText, sessionLockHeld } from "../sink/lock.js";
import { claimLive, foreignNameStale, NAME_PID, nameLeftByGone, OWN_NAME_PID, OWN_PROC_START, ownerOf, ownerState } from "../sink/owner.js";
import { lineInfo } from "./rows.js";
import { openRegularSync } from "../regular-file.js";

/** The spool of session `sessionId` for the store `storeKey`. */
export const spoolFileName = (storeKey: string, sessionId: string): string => `.pg_spool_${storeKey}_${sessionId}.jsonl`;

/** A spool as a version before 2026-12-05 named it (the default schema's, for any store). */
export const legacySpoolFileName = (sessionId: string): string => `.pg_spool_${sessionId}.jsonl`;

/** The recovery marker of session `sessionId` for the store `storeKey`. */
export const recoveryMarkerName = (storeKey: string, sessionId: string): string => `.pg_recovery_${storeKey}_${sessionId}`;

/**
 * What a recovery marker says: who claimed the crash its lock names (since 2026-12-06 its whole
 * holder, see owner.ts: pid, host, when, kernel start, pid namespace; before, its pid and kernel
 * start only), or that it is recovered; or
 * (`ended`, naming no lock) that the session's process ended without finalizing it, through its
 * exit hook, and its row in the store still has to say so (see `endedMarker`).
 */
export interface RecoveryMarker {
  readonly lock: string;
  readonly done?: true;
  readonly pid?: number;
  readonly procStart?: string;
  readonly hostname?: string;
  readonly pidNs?: string;
  readonly ended?: true;
}

/**
 * The recovery marker a PostgresSink writes, synchronously, as its process ends without
 * finalizeSession() (the event loop ran out, process.exit(), a signal): the exit hook cannot
 * update the store, and when nothing was left to send it left no spool for a later sink to
 * adopt, so the session's row said "active" for good (found by the session-status pass,
 * 2026-12-05). The next sink of that store in the directory, once the session's lock is free,
 * records the session's end state from its session file and removes the marker. It names no
 * lock (`""`): a crash recovery's claim of a lock left by a later crash takes it over, and an
 * older version's sink reads it as neither done nor claimed.
 */
export const endedMarker = (): string => JSON.stringify({ lock: "", ended: true });

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
 * A spool claimed for replay: `….adopting-<pid>[-<start>]`, the claiming process's pid (NAME_PID:
 * since 2026-12-06 with its pid namespace and host, `<pid>n<namespace>h<host>`) and, where known, its start as the
 * kernel counts it (see `claimLive`). `$1`: the pid, `$2`: the start.
 */
export const CLAIM_SUFFIX = new RegExp(String.raw`\.adopting-(${NAME_PID})(?:-(\d+))?$`);
export const claimSuffix = (): string => `.adopting-${OWN_NAME_PID}${OWN_PROC_START !== undefined ? `-${OWN_PROC_START}` : ""}`;

/**
 * Whether the claim `file` (with the pid, NAME_PID, and start its name gives) may belong to a live
 * adopter (see nameLeftByGone: by its pid on this host in this pid namespace, by its age on another
 * host or in another namespace, or for an older name naming no host: the adopter refreshes its
 * claim's mtime as it replays, see NameRefresher). Found by
 * review, 2026-12-05: a claim was judged by its pid alone, so one left by an adopter that crashed
 * was never taken over once its pid was alive again (a container's app is pid 1 after every
 * restart), and its records never reached the store. Until 2026-12-06 a claim of another container
 * (its own pid namespace, this host's name) was judged by its pid here: taken over while its
 * adopter replayed it when that pid was free here.
 */
export function claimHeld(file: string, pid: string, started: string | undefined): boolean {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st !== undefined && !nameLeftByGone(pid, started, st);
}

/**
 * Whether the recovery marker `file` holds, as `m`, a claim (see RecoveryMarker) whose sink may
 * be live: its holder judged by ownerState, a holder whose liveness cannot be told here (another
 * host, another pid namespace) until the marker is left untouched an hour (foreignNameStale: its
 * mtime, which the recovering sink refreshes, see NameRefresher).
 * A claim written before 2026-12-06 (its pid and start only) is judged by its pid, as then. Until
 * then every claim was: another container's recovery, its pid free here, was taken over midway.
 */
export function markerClaimHeld(file: string, m: RecoveryMarker): boolean {
  if (m.done === true || m.pid === undefined) return false;
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st === undefined) return false;
  const owner = ownerOf(m);
  if (owner === undefined) return claimLive(m.pid, m.procStart, st.ctimeMs);
  const state = ownerState(owner.startedAt === undefined ? { ...owner, startedAt: new Date(st.ctimeMs).toISOString() } : owner);
  return state === "unknown" ? !foreignNameStale(st, true) : state === "live";
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
    // (a regular file only: opening a FIFO named like a spool waited for good; review, 2026-12-05)
    fd = openRegularSync(file);
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

/** `<store>` in these names: 10 hex digits (see `storeKey`). */
const STORE_KEY = /^[0-9a-f]{10}$/;

/**
 * What PostgresSinks keep of session `sessionId` in `auditDir` (listed as `names`), judged for
 * its removal by retention. `files` may go with it: its recovery markers (each store's; a claim
 * whose sink is gone too), what a sink killed while it wrote or removed one left of it (see
 * MARKER_TEMP; found 2026-12-05: nothing removed them), and spools that hold no record (a crash
 * cut the append of their first line: that record is in the session's files). `unsent` must keep it: spools holding records of
 * the session (the store may lack them: a sink removes a spool once it has sent it), or that
 * cannot be read; a spool a live sink is replaying; and the marker of a live sink recovering the
 * session now. A spool whose first line names another session is not this one's (an older
 * version's `.pg_spool_<sessionId>.jsonl` can read as this session's name for some store), nor is
 * one with no record whose name can also be a live session's.
 */
export function sinkFilesOf(auditDir: string, sessionId: string, names: readonly string[]): { files: string[]; unsent: string[] } {
  const files: string[] = [];
  const unsent: string[] = [];
  for (const name of names) {
    const file = path.join(auditDir, name);
    if (storeOf(name, ".pg_recovery_", "", sessionId) !== undefined) {
      const m = parseMarker(readText(file));
      (m !== undefined && markerClaimHeld(file, m) ? unsent : files).push(name);
      continue;
    }
    const temp = markerTempOf(name, sessionId, names);
    if (temp !== undefined) {
      // (a live process's stays: it renames or removes it itself)
      files.push(...leftByGoneNamed(auditDir, [name], temp, MARKER_TEMP));
      continue;
    }
    const claim = CLAIM_SUFFIX.exec(name);
    const stem = claim ? name.slice(0, claim.index) : name;
    if (stem !== legacySpoolFileName(sessionId) && storeOf(stem, ".pg_spool_", ".jsonl", sessionId) === undefined) continue;
    const head = firstLineSession(file);
    if (typeof head === "string" && head !== sessionId) continue;
    if (head === null && spoolSessions(stem).some((s) => s !== sessionId && isFileSessionId(s) && sessionLockHeld(auditDir, s))) continue;
    (head !== null || (claim !== null && claimHeld(file, claim[1]!, claim[2])) ? unsent : files).push(name);
  }
  return { files, unsent };
}

/**
 * What is left of a recovery marker's workings by a process killed midway, after `<marker>.`: the
 * marker being written whole, as a claim (`<pid>.<random>.tmp`, see createWhole) or as done
 * (`<pid>.<random>.tmp`, `<pid>.tmp` before 2026-12-05, see markRecovered), or a marker set aside
 * to be removed (`stale.<pid>`, see removeIfStill). The group that matched is the pid (NAME_PID).
 */
const MARKER_TEMP = new RegExp(String.raw`^(?:(${NAME_PID})(?:\.[0-9a-z]+)?\.tmp|stale\.(${NAME_PID}))$`);

/**
 * `<marker>.`, when `name` is `<marker>.<rest>` for a recovery marker of session `sessionId` (any
 * store): see MARKER_TEMP. Not when the whole name is the marker of another session of `names`
 * (`<sessionId>.<rest>`, a session id may hold dots), which has a session file, a lock or an
 * active chain file there.
 */
function markerTempOf(name: string, sessionId: string, names: readonly string[]): string | undefined {
  const head = ".pg_recovery_".length + 10;
  const stem = `${name.slice(0, head)}_${sessionId}.`;
  if (!name.startsWith(".pg_recovery_") || !STORE_KEY.test(name.slice(".pg_recovery_".length, head)) || !name.startsWith(stem)) return undefined;
  const whole = name.slice(head + 1);
  // (or a chain file: a session whose session file was lost still owns its marker)
  if (isFileSessionId(whole) && (names.includes(sessionFileName(whole)) || names.includes(lockFileName(whole)) || CHAIN_KINDS.some((k) => names.includes(kindFileName(k, whole))))) return undefined;
  return stem;
}

/** The store key in `name` if it is `<prefix><store>_<sessionId><suffix>`. */
function storeOf(name: string, prefix: string, suffix: string, sessionId: string): string | undefined {
  const tail = `_${sessionId}${suffix}`;
  if (!name.startsWith(prefix) || !name.endsWith(tail)) return undefined;
  const key = name.slice(prefix.length, -tail.length);
  return STORE_KEY.test(key) ? key : undefined;
}

/** The sessions a spool's name can be of: `.pg_spool_<sessionId>.jsonl` (an older version's), or `.pg_spool_<store>_<sessionId>.jsonl`. */
export function spoolSessions(stem: string): string[] {
  const inner = stem.slice(".pg_spool_".length, -".jsonl".length);
  const keyed = /^[0-9a-f]{10}_(.+)$/.exec(inner);
  return keyed ? [inner, keyed[1]!] : [inner];
}
