/**
 * Where the viewer's records come from. The file source below streams the JSONL files of the
 * audit directory; a second source (PostgreSQL) only has to implement {@link RecordSource}.
 * Also here: turning a stored record into what a user gets back (encrypted fields opened when
 * a key is at hand, marked when not).
 */
import { NotRegularFileError, readRegularFile } from "../regular-file.js";
import fs from "node:fs";
import path from "node:path";
import { decryptValue, isEncryptedValue, valueAad } from "../pipeline/encrypt.js";
import type { EncryptionKey } from "../pipeline/keys.js";
import { peekTail, wholeUnterminatedRecord } from "../sink/recover.js";
import { sessionLockLeftByDead } from "../sink/lock.js";
import { fileStamp, hasSessionId, isFileSessionId, listKindFiles, withPrefix, listSessionIds, safeReaddir, SESSION_FILE_MAX_BYTES, sessionFileName } from "../sink/files.js";
import { KIND_FILE_STEM, RECORD_KINDS, type ChainKind, type RecordType } from "../types.js";
import { readLines, type RawLine } from "./lines.js";
import { walkChain, type ChainListing } from "./chain-files.js";
import { readContentFile } from "./content-file.js";
import { sessionRemains } from "./remains.js";
import { AuditEventsCache } from "../sink/audit-events.js";

/** A record as parsed from its line, before any decryption. */
export type RawRecord = Record<string, unknown>;

/** Progress of a read, in bytes (approximate for multi-byte text: counted in UTF-16 units). */
export interface ReadProgress {
  readonly bytesRead: number;
  readonly totalBytes: number;
}

/** A session's status as the readers report it (see {@link SessionListing.status}). */
export type SessionStatus = "finalized" | "active" | "interrupted" | "unknown";

/** The status a session file (or a store's row) gives: its `status` member, "unknown" without one. */
export function sessionStatusOf(info: Record<string, unknown> | undefined): SessionStatus {
  if (info === undefined) return "unknown";
  return info.status === "finalized" ? "finalized" : info.status === "interrupted" ? "interrupted" : "active";
}

/**
 * The status of session `sessionId` of the audit directory `auditDir`, whose session file is
 * `info`: its session file's (sessionStatusOf), but "interrupted" when that says "active" and the
 * session's lock was left by a process that died holding it (see `sessionLockLeftByDead`): the
 * session file still says what it said when the process was killed. Reads only.
 */
export function fileSessionStatus(auditDir: string, sessionId: string, info: Record<string, unknown> | undefined): SessionStatus {
  const status = sessionStatusOf(info);
  return status === "active" && sessionLockLeftByDead(auditDir, sessionId) ? "interrupted" : status;
}

/** One session as `listSessions()` reports it, without reading its records. */
export interface SessionListing {
  readonly sessionId: string;
  /**
   * "finalized" after `finalizeSession()`; "active" while open; "interrupted" when its process
   * ended without finalizing it: in the files, its exit hook wrote so into the session file, or
   * its lock was left by a dead process of this host (docs/FORMAT.md), in the PostgreSQL store, a sink found so or the run its row names was of a dead process of this host, by the same rule (docs/POSTGRES.md); "unknown"
   * without a session file. A session whose lock names another host's process stays "active"
   * (whether that process lives cannot be told from here).
   */
  readonly status: SessionStatus;
  readonly startTime: string | undefined;
  /** timestamp of the newest record of any of the six kinds (`counts`; not of the `audit_event` chain), over the files and the PostgreSQL store alike */
  readonly lastActivity: string | undefined;
  /** records per kind: the last record's `seq` (seq counts 1, 2, … per kind) */
  readonly counts: Readonly<Record<RecordType, number>>;
  readonly totalRecords: number;
  /**
   * Set (true) for a session whose records are gone (no session file, no record file: removed by
   * retention, or by hand) but that a legal hold in force names, or whose `audit_event` chain,
   * key store or checkpoints are left: listed so that the hold or the shredding is seen (over the
   * files; docs/VIEWER.md). Its `status` is "unknown", its counts 0; `remains` says what is left.
   * Over the PostgreSQL store: a session none of whose records is left there, retention having
   * cut its chains (its `status` is its row's, which is never deleted; `remains.files` is empty),
   * or that a hold in force names and the store has nothing of (`unknown`; docs/POSTGRES.md).
   */
  readonly recordsGone?: true;
  /** what is left of a session whose records are gone (see {@link recordsGone}) */
  readonly remains?: {
    /** its files left (names in the audit directory) */
    readonly files: readonly string[];
    /** the legal holds in force that name it */
    readonly holds: ReadonlyArray<{ readonly holdId: string; readonly reason: string; readonly placedAt: string; readonly placedBySession: string }>;
  };
}

/**
 * The reading side of a store. Records of one kind of one session come in chain order (oldest
 * first); a torn final line or a line that is not a record is skipped and counted through
 * `onSkip`.
 */
export interface RecordSource {
  /** for messages: a path or a connection description */
  readonly description: string;
  /** every session id the store holds */
  sessionIds(): Promise<string[]>;
  listSessions(): Promise<SessionListing[]>;
  /**
   * one listed session's entry of {@link listSessions}, reading only what that session's entry
   * needs (a caller that wants one session, such as serve's stats); a source without it is asked
   * for the whole listing
   */
  sessionListing?(sessionId: string): Promise<SessionListing | undefined>;
  /**
   * whether {@link sessionIds} lists `sessionId`, reading only what that session's answer needs
   * (serve asks on every request for a session); a source without it is asked for every id
   */
  hasSession?(sessionId: string): Promise<boolean>;
  /** one chain's records, oldest first: a record kind, or `audit_event` (the logger's own: holds, shredding, retention) */
  records(kind: ChainKind, sessionId: string): AsyncIterable<RawRecord>;
  /** the session file's JSON (`session_<id>.json`), or undefined */
  sessionInfo(sessionId: string): Promise<Record<string, unknown> | undefined>;
  /**
   * the session's status given its session file `info` (see {@link SessionListing.status});
   * without it, the session file's own (`sessionStatusOf`)
   */
  sessionStatus?(sessionId: string, info: Record<string, unknown> | undefined): SessionStatus;
  /**
   * a full-content file by its name relative to the audit directory; undefined when missing; one
   * longer than `maxBytes` is not read (FileTooLargeError)
   */
  readContent(relPath: string, maxBytes?: number): Promise<Buffer | undefined>;
  /** bytes the given sessions' records take, for progress reports (0 when unknown) */
  sizeOf(sessionIds: readonly string[]): Promise<number>;
  /**
   * one chain's lines exactly as written, oldest first: how a directory export of a source that
   * is no audit directory (the PostgreSQL store) gets a session's `audit_event` chain for its
   * `integrity/` folder (a file source's are copied from its directory)
   */
  chainLines?(kind: ChainKind, sessionId: string): AsyncIterable<string>;
}

function zeroCounts(): Record<RecordType, number> {
  return { chat_interaction: 0, persona_activity: 0, tool_usage: 0, file_operation: 0, performance_metric: 0, error: 0 };
}

/** Reads the JSONL files of one audit directory, streaming line by line. */
export class FileRecordSource implements RecordSource {
  readonly auditDir: string;
  readonly description: string;
  private readonly onSkip: ((file: string, line: number) => void) | undefined;
  private readonly onBytes: ((n: number) => void) | undefined;

  constructor(auditDir: string, hooks: { onSkip?: (file: string, line: number) => void; onBytes?: (n: number) => void } = {}) {
    this.auditDir = path.resolve(auditDir);
    this.description = this.auditDir;
    this.onSkip = hooks.onSkip;
    this.onBytes = hooks.onBytes;
  }

  async sessionIds(): Promise<string[]> {
    return listSessionIds(this.auditDir);
  }

  /** Whether {@link sessionIds} lists `sessionId`, from its own files where they tell (see hasSessionId). */
  async hasSession(sessionId: string): Promise<boolean> {
    return hasSessionId(this.auditDir, sessionId);
  }

  /** The session file's status, "interrupted" for an "active" one whose process died (see fileSessionStatus). */
  sessionStatus(sessionId: string, info: Record<string, unknown> | undefined): SessionStatus {
    return fileSessionStatus(this.auditDir, sessionId, info);
  }

  /** what listSessions() read of each audit_event file, kept while the file is unchanged (see sessionRemains) */
  private readonly chainCache = new AuditEventsCache();

  /**
   * How many audit_event files listSessions() read for the holds they record, and how many it
   * answered from what it kept of an unchanged file, since this source was made.
   */
  chainFileStats(): { read: number; reused: number } {
    return { ...this.chainCache.counts };
  }

  async listSessions(): Promise<SessionListing[]> {
    const out: SessionListing[] = [];
    // The directory read once, sorted, each session's files of each kind found in it by prefix:
    // each kind of each session read the whole directory again, ~120 s a listing at 2,000
    // sessions (~7 s at 500), and serve lists on each GET /api/sessions (found by the reader
    // pass, 2026-12-05). A listing is the directory as it was when it began: a chain rotated
    // meanwhile may be counted from its segment before.
    const names = safeReaddir(this.auditDir).sort();
    const listed = listSessionIds(this.auditDir, names);
    for (const sessionId of listed) out.push(await this.listingOf(sessionId, names));
    // (sessions whose records are gone, but a hold names them or their chain of holds and
    // shreddings, key store or checkpoints are left: see sessionRemains)
    // (each chain file's holds are kept while it is unchanged: read once, not on every listing)
    this.chainCache.beginPass();
    // (from the same listing of the directory, and its sessions: until 2026-12-05 the directory
    // was read, and its sessions judged, three times a listing, and each chain filtered out of
    // the whole listing per session, see chainedHolds)
    const remains = sessionRemains(this.auditDir, { cache: this.chainCache, listed }, names);
    this.chainCache.forgetUnseen();
    for (const r of remains) {
      out.push({ sessionId: r.sessionId, status: "unknown", startTime: undefined, lastActivity: undefined, counts: zeroCounts(), totalRecords: 0, recordsGone: true, remains: { files: r.files, holds: r.holds } });
    }
    // newest first, by last record (sessions without records last, by start time)
    return out.sort((a, b) => cmpDesc(a.lastActivity ?? a.startTime ?? "", b.lastActivity ?? b.startTime ?? "") || a.sessionId.localeCompare(b.sessionId));
  }

  /**
   * Session `sessionId`'s entry of {@link listSessions}, for a session {@link sessionIds} lists
   * (the caller checks: for another, an entry with no records; undefined for an id no file of the
   * kit can have), reading only its own files: serve's stats of one session ran the whole
   * listing, every session's files (found 2026-12-05: ~0.9 s a request at 600 sessions). One read
   * of the directory, for the names of the session's files.
   */
  async sessionListing(sessionId: string, names?: readonly string[]): Promise<SessionListing | undefined> {
    // (`names`: the caller's listing of the directory, so that one request reads it once; see ServeData.stats)
    if (!isFileSessionId(sessionId)) return undefined;
    return this.listingOf(sessionId, [...(names ?? safeReaddir(this.auditDir))].sort());
  }

  /** One session's entry of the listing, from the directory's sorted listing `names`. */
  private async listingOf(sessionId: string, names: readonly string[]): Promise<SessionListing> {
    const info = await this.sessionInfo(sessionId);
    const counts = zeroCounts();
    let last: string | undefined;
    for (const kind of RECORD_KINDS) {
      for (const [i, f] of listKindFiles(this.auditDir, kind, sessionId, withPrefix(names, `${KIND_FILE_STEM[kind]}_${sessionId}`)).reverse().entries()) {
        const t = peekTail(f.path, { wholeTail: i === 0 });
        if (!t) continue;
        counts[kind] = t.seq;
        if (t.timestamp && (last === undefined || t.timestamp > last)) last = t.timestamp;
        break;
      }
    }
    const status = this.sessionStatus(sessionId, info);
    return {
      sessionId,
      status,
      startTime: typeof info?.startTime === "string" ? info.startTime : undefined,
      lastActivity: last,
      counts,
      totalRecords: RECORD_KINDS.reduce((n, k) => n + counts[k], 0),
    };
  }

  /**
   * One kind's records in chain order: the segments, then the active file, through
   * {@link walkChain}, so segments rotated while the earlier ones are read are read too, once
   * each (the active file was opened by the name listed at the start: a rotation meanwhile made
   * the reader skip the old active file and every segment after it; found by review, 2026-12-05).
   */
  async *records(kind: ChainKind, sessionId: string): AsyncGenerator<RawRecord> {
    const steps = walkChain(this.auditDir, kind, sessionId);
    try {
      for (const step of steps) {
        const fd = step.kind === "active" ? step.fd : undefined;
        try {
          yield* this.parsed(readLines(fd ?? step.file.path), step.file.name, step.kind === "active");
        } finally {
          if (fd !== undefined) fs.closeSync(fd);
        }
      }
    } finally {
      steps.return(undefined);
    }
  }

  /**
   * One chain's records file by file, in the order {@link records} reads them, for a caller that
   * keeps what it made of each file while the file is unchanged: `reuse(file, stamp)` is asked
   * first, with the file's path and stamp (size, mtime, ctime and inode, to the nanosecond), and a
   * file it says yes to is not read (`records` undefined). The stamp is taken before the read: a
   * file that grows meanwhile has another stamp next time, and is read again. For small chains
   * (the audit_event chain, which `serve`'s holds page reads on each request): each file's
   * records are held whole.
   */
  async *recordsByFile(kind: ChainKind, sessionId: string, reuse: (file: string, stamp: string) => boolean, listed?: ChainListing): AsyncGenerator<{ file: string; stamp: string; records: RawRecord[] | undefined }> {
    // (`listed`: the caller's listing of the directory, for a caller that walks many chains; see walkChain)
    const steps = walkChain(this.auditDir, kind, sessionId, 0, listed);
    try {
      for (const step of steps) {
        const fd = step.kind === "active" ? step.fd : undefined;
        try {
          let st: fs.BigIntStats;
          try {
            st = fd !== undefined ? fs.fstatSync(fd, { bigint: true }) : fs.statSync(step.file.path, { bigint: true });
          } catch {
            continue; // (a segment removed under us: cleanup while reading)
          }
          const stamp = fileStamp(st);
          if (reuse(step.file.path, stamp)) {
            yield { file: step.file.path, stamp, records: undefined };
            continue;
          }
          const records: RawRecord[] = [];
          for await (const r of this.parsed(readLines(fd ?? step.file.path), step.file.name, step.kind === "active")) records.push(r);
          yield { file: step.file.path, stamp, records };
        } finally {
          if (fd !== undefined) fs.closeSync(fd);
        }
      }
    } finally {
      steps.return(undefined);
    }
  }

  /**
   * The records of one file's lines; lines that are not records are counted through onSkip. In
   * the active file (`last`), a final line that is a whole sealed record only lacking its newline
   * is a record, as the logger's repair completes it (see wholeUnterminatedRecord).
   */
  private async *parsed(lines: AsyncGenerator<RawLine>, name: string, last: boolean): AsyncGenerator<RawRecord> {
    // the file's last record, for a final line without its newline
    let prev: { seq: number; hash: string } | undefined;
    try {
      for await (const raw of lines) {
        if (raw.oversized !== undefined) {
          // (too long to be read as one string: passed over, never held; see MAX_LINE_BYTES)
          this.onBytes?.(raw.oversized + 1);
          this.onSkip?.(name, raw.line);
          continue;
        }
        this.onBytes?.(raw.text.length + 1);
        if (!raw.terminated && raw.text.length > 0 && last) {
          const whole = wholeUnterminatedRecord(raw.text, prev);
          if (whole) yield whole.record;
          else this.onSkip?.(name, raw.line);
          continue;
        }
        if (!raw.terminated || raw.text.length === 0) {
          if (raw.text.length > 0) this.onSkip?.(name, raw.line);
          continue;
        }
        let rec: unknown;
        try {
          rec = JSON.parse(raw.text);
        } catch {
          this.onSkip?.(name, raw.line);
          continue;
        }
        if (typeof rec !== "object" || rec === null || Array.isArray(rec)) {
          this.onSkip?.(name, raw.line);
          continue;
        }
        const r = rec as RawRecord;
        prev = typeof r.seq === "number" && typeof r.hash === "string" ? { seq: r.seq, hash: r.hash } : undefined;
        yield r;
      }
    } catch (err) {
      // a segment removed under us (cleanup while reading): the rest is gone; one replaced by a
      // link or a FIFO since it was listed is not read
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" && !(err instanceof NotRegularFileError)) throw err;
    }
  }

  async sessionInfo(sessionId: string): Promise<Record<string, unknown> | undefined> {
    try {
      const v = JSON.parse((await readRegularFile(path.join(this.auditDir, sessionFileName(sessionId)), undefined, SESSION_FILE_MAX_BYTES)).toString("utf8")) as unknown;
      return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  readContent(relPath: string, maxBytes?: number): Promise<Buffer | undefined> {
    return readContentFile(this.auditDir, relPath, maxBytes);
  }

  async sizeOf(sessionIds: readonly string[]): Promise<number> {
    let total = 0;
    for (const s of sessionIds) {
      for (const kind of RECORD_KINDS) {
        for (const f of listKindFiles(this.auditDir, kind, s)) {
          try {
            total += fs.statSync(f.path).size;
          } catch {
            // gone meanwhile
          }
        }
      }
    }
    return total;
  }
}

function cmpDesc(a: string, b: string): number {
  return a < b ? 1 : a > b ? -1 : 0;
}

/** Fields that hold JSON (not text) once decrypted. */
const JSON_FIELDS: ReadonlySet<string> = new Set(["toolCalls", "parameters", "result"]);

/** What the reader adds to a record it returns. */
export interface OpenedMarks {
  /** set when some field is still an `{ $enc }` value: no key was given, or it could not open it */
  readonly encryptedWithoutKey?: true;
  /** why a given key could not open a field (wrong key, altered or shredded value) */
  readonly decryptionError?: string;
}

/**
 * A stored record as a user gets it: the fields listed in `encrypted` decrypted with `key`; a
 * field that stays encrypted keeps its `{ $enc }` value and the record gets `encryptedWithoutKey`.
 * Never throws for a bad value: the error goes into `decryptionError`.
 */
/**
 * The record as its line holds it, behind a copy {@link openRecord} decrypted (not enumerable:
 * JSON and `Object.entries` never see it), so that its hash can still be checked.
 */
export const RAW_RECORD: unique symbol = Symbol("audit-logger.rawRecord");

/** The record as written (its ciphertexts), for a record {@link openRecord} may have decrypted. */
export function rawRecordOf(rec: RawRecord): RawRecord {
  return ((rec as Record<PropertyKey, unknown>)[RAW_RECORD] as RawRecord | undefined) ?? rec;
}

export function openRecord(rec: RawRecord, key: EncryptionKey | undefined): RawRecord {
  const names = Array.isArray(rec.encrypted) ? (rec.encrypted as unknown[]).filter((n): n is string => typeof n === "string") : [];
  // a value in the $enc shape in a field not listed still counts as encrypted
  for (const [k, v] of Object.entries(rec)) if (isEncryptedValue(v) && !names.includes(k)) names.push(k);
  if (names.length === 0) return rec;
  const out: RawRecord = { ...rec };
  let still = false;
  const errors: string[] = [];
  for (const field of names) {
    const v = out[field];
    if (!isEncryptedValue(v)) continue;
    if (!key) {
      still = true;
      continue;
    }
    try {
      const text = decryptValue(key, v, valueAad(String(rec.id), field));
      out[field] = JSON_FIELDS.has(field) ? (JSON.parse(text) as unknown) : text;
    } catch (err) {
      still = true;
      errors.push(`${field}: ${(err as Error).message}`);
    }
  }
  if (still) out.encryptedWithoutKey = true;
  if (errors.length > 0) out.decryptionError = errors.join("; ");
  Object.defineProperty(out, RAW_RECORD, { value: rawRecordOf(rec), enumerable: false });
  return out;
}

