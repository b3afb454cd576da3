/**
 * PostgresSink: every sealed record of a session, also in a shared PostgreSQL store.
 *
 * `write()` only appends to an in-memory queue; one pump sends the queue in batches (one
 * multi-row INSERT … ON CONFLICT DO NOTHING per batch, so a batch sent twice stores nothing
 * twice). When the store is unreachable, slow (the queue passes `maxQueue`) or refuses a batch,
 * the queue goes to the spool file and everything after it follows it there, so order is kept;
 * when the store answers again the spool is replayed from the start of what it has not stored,
 * then removed. Failures never reach the logger's callers: they go to `onError`.
 */
import { inspect, type InspectOptions } from "node:util";
import fs from "node:fs";
import path from "node:path";
import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from "pg";
import { z } from "zod";
import { runInAuditContext } from "../context.js";
import { AuditConfigError, AuditIOError, AuditPathError } from "../errors.js";
import { reason } from "../error-type.js";
import { readLines } from "../reader/lines.js";
import { isFileSessionId, listKindFiles, lockFileName, safeReaddir, SESSION_FILE_MAX_BYTES, sessionFileName, type KindFile } from "../sink/files.js";
import { FileTooLargeError, NotRegularFileError, openRegularSync, readRegularFileSync, replaceFileSync } from "../regular-file.js";
import { keyStoreFileName, keyStoreLines } from "../pipeline/keyring.js";
import { walkChain } from "../reader/chain-files.js";
import { createWhole, readText, removeIfStill, sessionLockHeld } from "../sink/lock.js";
import { NameRefresher, OWN_NAME_PID, ownOwner } from "../sink/owner.js";
import { peekTail, wholeUnterminatedRecord } from "../sink/recover.js";
import { CHAIN_KINDS, type AuditSink, type AuditSinkOpenInfo, type ChainKind, type SealedRecord } from "../types.js";
import { migrateOn, type RunStatement } from "./migrate.js";
import { againIfEnded, connectionEnded, failedTwice } from "./store-error.js";
import { connectGuarded, connectionOptionsShape, loadPg, parseOptions, poolFor, schemaOf, storeKey } from "./pg.js";
import type { PostgresConnectionOptions } from "./options.js";
import { insertParams, jsonbText, lineInfo, monthOf } from "./rows.js";
import { checkpointSql, DEFAULT_SCHEMA, insertSql, keyInsertSql, names } from "./schema.js";
import { Spool } from "./spool.js";
import { CLAIM_SUFFIX, claimHeld, claimSuffix, markerClaimHeld, endedMarker, firstLineSession, legacySpoolFileName, parseMarker, recoveryMarkerName, spoolFileName } from "./files.js";

/** Options of {@link PostgresSink}. Every number has a default; only the connection is required. */
export interface PostgresSinkOptions extends PostgresConnectionOptions {
  /** where records wait while the store is away (default `<auditDir>/.pg_spool_<store>_<sessionId>.jsonl`, `<store>` naming the store and schema: see docs/POSTGRES.md) */
  readonly spoolPath?: string | undefined;
  /** records per INSERT at most (default 500; fewer for a while after PostgreSQL cancels one, see docs/POSTGRES.md) */
  readonly batchSize?: number | undefined;
  /** records held in memory before the rest goes to the spool (default 10 000) */
  readonly maxQueue?: number | undefined;
  /** how long `flush()` waits for the store before spooling what is left (default 5 s) */
  readonly flushTimeoutMs?: number | undefined;
  /** how long `close()` takes at most, in all: its flush, emptying the spool, the session's row (default 10 s; a statement still running then is canceled, see docs/POSTGRES.md) */
  readonly closeTimeoutMs?: number | undefined;
  readonly connectTimeoutMs?: number | undefined;
  /** a statement taking longer is canceled on the server, its batch spooled (default 30 s) */
  readonly queryTimeoutMs?: number | undefined;
  /** first and last delay between reconnection attempts (defaults 200 ms, 10 s) */
  readonly retryMinMs?: number | undefined;
  readonly retryMaxMs?: number | undefined;
  /** create the schema on first connect (default true; set false when the writer role may not) */
  readonly migrate?: boolean | undefined;
  /**
   * on open, send the records of this session that are in its files but not in the store, and
   * those of the directory's sessions whose process died holding their lock (a SIGKILL, an
   * out-of-memory kill, a crash): see docs/POSTGRES.md (default true). Off, the sink still adopts
   * the directory's spools (unless `spoolPath` is given), leaves its ended marker as its process
   * ends without finalizeSession(), and records the rows of the ended sessions whose markers it finds
   */
  readonly backfill?: boolean | undefined;
}

/** Counters of a sink, for health checks and tests. */
export interface PostgresSinkStats {
  /** rows the store accepted */
  readonly stored: number;
  /** records the store already had (replays after a lost acknowledgement) */
  readonly duplicates: number;
  /** records waiting in memory */
  readonly queued: number;
  /** spool bytes not yet replayed */
  readonly spooledBytes: number;
  /** records ever written to the spool */
  readonly spilled: number;
  /** records sent from the session's files on open */
  readonly backfilled: number;
  /** records sent from spools that sinks of other, ended sessions left in the audit directory */
  readonly adopted: number;
  /** records sent from the files of other sessions whose process died holding their lock (see `backfill`) */
  readonly recovered: number;
  /** such sessions this sink recovered (sent what their files held and the store lacked, and marked done) */
  readonly recoveredSessions: number;
  /** records the store refused for good (each reported; they stay in the files): see docs/POSTGRES.md */
  readonly refused: number;
  /** data keys (wrapped key store lines of encrypted sessions) the store accepted: see docs/POSTGRES.md */
  readonly keys: number;
  /** true while the store is unreachable or refusing */
  readonly outage: boolean;
  readonly lastError: string | undefined;
}

const int = (min: number) => z.number().int("must be a whole number").min(min, `must be at least ${min}`);

const sinkOptionsSchema = z.strictObject({
  ...connectionOptionsShape,
  spoolPath: z.string().min(1).optional(),
  batchSize: int(1).max(50_000).optional(),
  maxQueue: int(1).optional(),
  flushTimeoutMs: int(0).optional(),
  closeTimeoutMs: int(0).optional(),
  connectTimeoutMs: int(1).optional(),
  queryTimeoutMs: int(1).optional(),
  retryMinMs: int(1).optional(),
  retryMaxMs: int(1).optional(),
  migrate: z.boolean().optional(),
  backfill: z.boolean().optional(),
});

type Settings = Required<Omit<PostgresSinkOptions, "connectionString" | "pool" | "poolConfig" | "schema" | "spoolPath">>;

interface Head {
  seq: number;
  hash: string;
}

/** A record the fork check looks for another record at (see `forkProbeSql`). */
interface Probe {
  readonly kind: ChainKind;
  readonly seq: number;
  readonly hash: string;
}

/** The first and last record of each kind in `recs`: where the fork check probes a batch. */
function batchEnds(recs: readonly SealedRecord[]): Probe[] {
  const first = new Map<ChainKind, SealedRecord>();
  const last = new Map<ChainKind, SealedRecord>();
  for (const r of recs) {
    const f = first.get(r.kind);
    if (f === undefined || r.seq < f.seq) first.set(r.kind, r);
    const l = last.get(r.kind);
    if (l === undefined || r.seq > l.seq) last.set(r.kind, r);
  }
  const ends: Probe[] = [];
  for (const [kind, r] of first) {
    ends.push({ kind, seq: r.seq, hash: r.hash });
    const l = last.get(kind)!;
    if (l.seq !== r.seq) ends.push({ kind, seq: l.seq, hash: l.hash });
  }
  return ends;
}

/** The fork check's three array parameters for `probes`. */
function probeParams(probes: readonly Probe[]): [string[], number[], string[]] {
  return [probes.map((p) => p.kind), probes.map((p) => p.seq), probes.map((p) => p.hash)];
}

/** The next batch of a claimed spool (see Spool.read); undefined when its claim is gone (renamed by another sink, see `adoptOrphans`). */
function claimedRead(spool: Spool, maxLines: number): ReturnType<Spool["read"]> | undefined {
  try {
    return spool.read(maxLines);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** A spool that the sink of another session left in the audit directory (see `adoptOrphans`). */
interface Orphan {
  readonly sessionId: string;
  path: string;
  /** open once claimed (renamed to `….adopting-<our pid>`) */
  spool?: Spool;
}

/** A session whose process died holding its lock, to be recovered from its files (see `findCrashed`). */
interface Crashed {
  readonly sessionId: string;
  /** its lock file's text as found: which crash it was left by */
  readonly lock: string;
  /** the text of this sink's claim (see `claimCrashed`), once made */
  claim?: string;
}

/** A session whose process ended without finalizing it, through its exit hook (see `findEnded`). */
interface Ended {
  readonly sessionId: string;
  /** its marker's text as found */
  readonly marker: string;
}

/** A session's lock file, `.session_<sessionId>.lock` (see `lockFileName`). */
const LOCK_FILE = /^\.session_(.+)\.lock$/;

/** Whether `err` came from reading the audit directory's files rather than from the store. */
function localFileError(err: unknown): boolean {
  return err instanceof AuditPathError || typeof (err as { path?: unknown } | undefined)?.path === "string";
}

/**
 * The last seq of each kind in `sid`'s files, undefined when they hold none (`names`: the
 * directory's listing, if read already). A final record that only lacks its newline counts, as
 * the readers return it (a crash can leave one; a logger that resumes the session completes it).
 */
function fileTails(dir: string, sid: string, names?: readonly string[]): Partial<Record<ChainKind, number>> | undefined {
  const tails: Partial<Record<ChainKind, number>> = {};
  for (const kind of CHAIN_KINDS) {
    for (const f of listKindFiles(dir, kind, sid, names).reverse()) {
      const t = peekTail(f.path, { wholeTail: true });
      if (t) {
        tails[kind] = t.seq;
        break;
      }
    }
  }
  return Object.keys(tails).length > 0 ? tails : undefined;
}

/** A chain file to read: by name, or the active file already open (`fd`, which the reader closes). */
interface ChainFile {
  readonly file: KindFile;
  readonly fd?: number;
}

/** A chain being written meanwhile, walked as the readers walk it (see `walkChain`). */
function* ownChain(dir: string, kind: ChainKind, sid: string): Generator<ChainFile, void, undefined> {
  for (const s of walkChain(dir, kind, sid)) yield s.kind === "active" ? { file: s.file, fd: s.fd } : { file: s.file };
}

/** The files of a chain no one writes, as listed. */
function* listedChain(files: readonly KindFile[]): Generator<ChainFile, void, undefined> {
  for (const file of files) yield { file };
}

/** Raises each kind's head in `heads` to the records of `recs` past it. */
function raiseHeads(heads: Map<ChainKind, Head>, recs: readonly SealedRecord[]): void {
  for (const r of recs) {
    const h = heads.get(r.kind);
    if (!h || r.seq > h.seq) heads.set(r.kind, { seq: r.seq, hash: r.hash });
  }
}

/** How long a statement canceled on the server (see `query`) is waited for, and the cancel itself may take. */
const CANCEL_GRACE_MS = 1_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true if `p` settles within `ms`, false otherwise (the timer keeps the process alive). */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), Math.max(0, ms));
    void p.then(
      () => {
        clearTimeout(t);
        resolve(true);
      },
      () => {
        clearTimeout(t);
        resolve(true);
      },
    );
  });
}

function pgCode(err: unknown): string {
  const c = (err as { code?: unknown })?.code;
  return typeof c === "string" ? c : "";
}

/** What `againIfEndedHere` reports of the second attempt of a write other than records', and of a read. */
const RAN_AGAIN = { done: "it was written again on a new connection: nothing is lost" } as const;
const READ_AGAIN = { done: "it was read again on a new connection: nothing is lost" } as const;

/** What a failure's report adds when it failed a second attempt (see `againIfEndedHere`): that the statement was tried twice. */
function twiceNote(err: unknown): string {
  return failedTwice(err) ? "; the statement was already tried twice: the server ended its connection under it, and it failed again at once on a new connection" : "";
}

/**
 * Runs one statement of its own transaction again, at once, when PostgreSQL failed it with a
 * serialization failure (40001) or a deadlock (40P01), up to three times in all: under
 * REPEATABLE READ or SERIALIZABLE a key line and a shred of its subject stored at the same time
 * fail so (schema version 8, `audit_subject_locks`), and succeed when run again. Anything else,
 * or a third failure, is thrown (the batch is spooled and retried later, as for an outage).
 */
async function againIfSerialization<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const code = pgCode(err);
      if ((code !== "40001" && code !== "40P01") || attempt >= 3) throw err;
    }
  }
}

/**
 * Whether PostgreSQL refused a row for what it holds, which no retry changes: a data exception
 * (SQLSTATE class 22: a value out of range, an invalid text) or a row over a limit (54000: an
 * index entry larger than a btree page allows).
 */
function refusesRow(err: unknown): boolean {
  const code = pgCode(err);
  return code.startsWith("22") || code === "54000";
}

/**
 * Sends every record of the session to a PostgreSQL store shared by many instances, with a
 * local spool for outages. Pass it in `sinks`; the JSONL files stay the local source of truth.
 *
 * @example
 * import { PostgresSink } from "audit-logger/postgres";
 * const logger = new AuditLogger({
 *   sessionId: `api_${process.pid}`,
 *   sinks: [new PostgresSink({ connectionString: process.env.AUDIT_PG_URL })],
 * });
 */
export class PostgresSink implements AuditSink {
  readonly schema: string;
  /** names the store and schema in the spool's name (see `storeKey`) */
  private readonly storeKey: string;
  /** `PostgresSink:<store>`, as a session's file lists its sinks (no user or password) */
  readonly description: string;
  private readonly settings: Settings;
  private readonly spoolOption: string | undefined;
  private pool: Pool | undefined;
  private ownsPool = false;
  private sql: { insert: string; checkpoint: string; keys: string; n: ReturnType<typeof names> };

  private sessionId: string | undefined;
  private auditDir: string | undefined;
  private onError: (err: Error) => void = (err) => process.emitWarning(err.message, { code: "AUDIT_ERR_IO", type: "AuditLoggerWarning" });
  private onRecovered: ((err: Error) => void) | undefined;
  private spool: Spool | undefined;
  private sessionInfo: Record<string, unknown> = {};
  /** a fork of this session's chain in the store was reported (see reportFork) */
  private forkReported = false;
  /**
   * The ends of this session's last batch stored (see `batchEnds`), to be probed again by the
   * next statement: its insert saw only what was committed as it began, not the batch of another
   * writer of this session inserting at the same time (see `store`).
   */
  private unconfirmed: Probe[] = [];
  private fileTails: Partial<Record<ChainKind, number>> | undefined;
  private orphans: Orphan[] = [];
  private crashed: Crashed[] = [];
  /** the spools this sink claimed and the recoveries it claimed, kept fresh for sinks of other hosts or containers (see NameRefresher) */
  private readonly held = new NameRefresher();
  private ended: Ended[] = [];
  /** sessions whose row this sink recorded as an adopted spool's or a crashed session's (see `closeAdopted`) */
  private readonly closedHere = new Set<string>();
  /** this session's row says finalized (see `close`): its exit hook leaves no marker (`flushSyncOnExit`) */
  private finalMarked = false;

  private queue: SealedRecord[] = [];
  private inflight: SealedRecord[] | undefined;
  private inflightSpilled = false;
  /** true while the spool holds records not yet stored: new records then go behind them */
  private spooling = false;
  private ready = false;
  private pumping: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  /**
   * Rows per statement now: `batchSize`, halved each time PostgreSQL cancels a statement
   * (57014: a role's or database's `statement_timeout`), grown back by an eighth after each
   * statement that lands. Found by the fault-injection pass, 2026-12-06: with a
   * `statement_timeout` shorter than one full batch's insert takes, the same full batch was
   * spooled and sent again at every retry, timed out every time, and nothing more was stored.
   */
  private batchLimit: number;
  private inOutage = false;
  private closed = false;
  /** open() was called: a sink serves one logger (see open) */
  private opened = false;
  private stopped = false;
  private readonly knownMonths = new Set<string>();
  private readonly heads = new Map<ChainKind, Head>();
  private readonly checkpointed = new Map<ChainKind, number>();
  private counters = { stored: 0, duplicates: 0, spilled: 0, backfilled: 0, adopted: 0, recovered: 0, recoveredSessions: 0, refused: 0, keys: 0 };
  /** how far each session's key store was sent (see `sendKeys`): the file (dev, ino) and the bytes read */
  private readonly keysSent = new Map<string, { dev: number; ino: number; offset: number }>();
  /** why key lines are not sent (the store lacks their table, or the writer may not insert there), once reported */
  private keysRefused: string | undefined;
  /** sessions whose key store could not be read (reported once each) */
  private readonly keyFileFailed = new Set<string>();
  /** key ids whose key line the store refused (reported once each) */
  private readonly keyLinesRefused = new Set<string>();
  private lastError: string | undefined;

  /** What `util.inspect` shows: the store (never its connection string) and the counts (found by a re-review, 2026-12-05: util.inspect / console.log printed the master key bytes, the
   * hmac redaction key or a connection string's password held in its fields) */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `PostgresSink ${inspect(this.toJSON(), { ...options, customInspect: true })}`;
  }

  /** What `JSON.stringify` writes: what `util.inspect` shows, never the connection string (found by a security pass, 2026-12-05: only util.inspect had been fixed, and JSON.stringify, what pino or winston does with a logged object, wrote the key bytes or the connection string's password) */
  toJSON(): { store: string; schema: string; sessionId: string | undefined; stats: PostgresSinkStats } {
    return { store: this.description, schema: this.schema, sessionId: this.sessionId, stats: this.stats() };
  }

  constructor(options: PostgresSinkOptions) {
    const o = parseOptions(sinkOptionsSchema, options, "PostgresSink") as PostgresSinkOptions;
    this.schema = schemaOf(o);
    this.spoolOption = o.spoolPath;
    this.settings = {
      batchSize: o.batchSize ?? 500,
      maxQueue: o.maxQueue ?? 10_000,
      flushTimeoutMs: o.flushTimeoutMs ?? 5_000,
      closeTimeoutMs: o.closeTimeoutMs ?? 10_000,
      connectTimeoutMs: o.connectTimeoutMs ?? 5_000,
      queryTimeoutMs: o.queryTimeoutMs ?? 30_000,
      retryMinMs: o.retryMinMs ?? 200,
      retryMaxMs: o.retryMaxMs ?? 10_000,
      migrate: o.migrate ?? true,
      backfill: o.backfill ?? true,
    };
    this.retryDelay = this.settings.retryMinMs;
    this.batchLimit = this.settings.batchSize;
    this.sql = { insert: insertSql(this.schema), checkpoint: checkpointSql(this.schema), keys: keyInsertSql(this.schema), n: names(this.schema) };
    // fail at construction, not at the first record, when `pg` is missing
    const { pool, owned } = poolFor(
      o,
      {
        max: 1,
        connectionTimeoutMillis: this.settings.connectTimeoutMs,
        query_timeout: this.settings.queryTimeoutMs,
        idleTimeoutMillis: 10_000,
        allowExitOnIdle: true,
        application_name: "audit-logger",
      },
      "PostgresSink",
    );
    this.pool = pool;
    this.ownsPool = owned;
    this.storeKey = storeKey(pool, this.schema);
    this.description = `PostgresSink:${this.storeKey}`;
    // An idle connection dropped by the server (a restart, a pooler's idle timeout) must not crash
    // the host, and is no failure to store: the next query opens another, and a failure there is
    // reported. Kept as `lastError` (stats()), not reported (it became a critical
    // audit_write_failed record in the audit trail, for a write that had not failed).
    if (owned)
      pool.on("error", (err) => {
        this.lastError = err instanceof Error ? err.message : String(err);
      });
  }

  /** Called by the logger: where the spool goes, whom to tell about failures. */
  open(info: AuditSinkOpenInfo): void {
    // One sink, one logger. Found by the PostgreSQL new-user pass, 2026-12-05: a PostgresSink
    // shared by two loggers took the second one's session as its own, so the first one's session
    // row was never made, its chain heads were checkpointed under the second session (verify
    // --postgres then failed it: "checkpoint_truncated … records were deleted"), a fork was
    // reported that was none, and once either logger ended, the sink was closed under the other,
    // whose records never reached the store. The logger leaves a sink out that refuses it so.
    if (this.opened || this.closed) {
      throw new AuditConfigError([
        {
          field: "sinks",
          message: `this PostgresSink ${this.closed ? "was closed when the logger of" : "already serves"} session ${this.sessionId ?? "(none)"}${this.closed ? " ended" : ""}: a PostgresSink belongs to one logger. Give each AuditLogger its own new PostgresSink(...) (they may share one pg.Pool, given as \`pool\`). Session ${info.sessionId}'s records are in its files only; this sink does not send them.`,
        },
      ]);
    }
    this.opened = true;
    this.sessionId = info.sessionId;
    this.auditDir = info.auditDir;
    this.onError = info.onError;
    this.onRecovered = info.onRecovered;
    this.initSpool();
    // (one listing of the directory serves the spools, the tails and the crashed sessions)
    let names: string[] = [];
    try {
      names = fs.readdirSync(info.auditDir);
    } catch {
      // nothing to find
    }
    if (this.spoolOption === undefined) this.orphans = this.findOrphans(info.auditDir, names);
    this.ended = this.findEnded(info.auditDir, names);
    const own = this.readSessionInfo(info.sessionId);
    if (own) this.sessionInfo = own; // (none: the row gets an empty info)
    if (this.settings.backfill) {
      // what the files held before this logger wrote anything: the part the store may lack
      this.fileTails = fileTails(info.auditDir, info.sessionId, names);
      try {
        this.crashed = this.findCrashed(info.auditDir, names);
      } catch (err) {
        this.note(new AuditIOError(`PostgresSink could not look for sessions in ${info.auditDir} whose process died: ${(err as Error).message}`, { cause: err }));
      }
    }
    this.schedulePump();
  }

  /** Queues one record; returns at once and never throws. */
  write(record: SealedRecord): void {
    if (this.closed) {
      this.note(new AuditIOError(`PostgresSink got a ${record.kind} record (seq ${record.seq}) after close(); it is only in the files.`));
      return;
    }
    if (this.sessionId === undefined) {
      this.sessionId = record.sessionId;
      this.initSpool();
    }
    this.queue.push(record);
    if (this.queue.length >= this.settings.maxQueue) this.spill();
    this.schedulePump();
  }

  /**
   * Resolves when every record written so far is in the store, or (store down or slower than
   * `flushTimeoutMs`) in the spool file. Never rejects.
   */
  async flush(): Promise<void> {
    await this.flushUntil(Date.now() + this.settings.flushTimeoutMs);
  }

  /** `flush()` with its own deadline (close() gives its own). */
  private async flushUntil(deadline: number): Promise<void> {
    if (this.sessionId === undefined) return;
    while (this.hasPending() && this.retryTimer === undefined && !this.stopped) {
      this.schedulePump();
      const p = this.pumping;
      if (!p) break;
      if (!(await within(p, deadline - Date.now()))) break;
    }
    if (this.queue.length > 0 || (this.inflight && !this.inflightSpilled)) this.spill();
    // (outside any audit context, as the pump: a connection the pool opens for it outlives the caller's request)
    if (!this.hasPending()) await runInAuditContext(undefined, () => this.writeCheckpoints());
  }

  /**
   * Resolves `true` once everything written so far is in the store (the spool replayed too),
   * `false` if that has not happened within `timeoutMs`.
   *
   * @example
   * if (!(await sink.whenStored(60_000))) console.warn(sink.stats());
   */
  async whenStored(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.hasPending()) return true;
      if (Date.now() >= deadline || this.stopped) return false;
      if (this.retryTimer === undefined) this.schedulePump();
      await sleep(Math.min(25, Math.max(1, deadline - Date.now())));
    }
  }

  /**
   * Flushes, tries to empty the spool, records the session as closed, disconnects: all within
   * `closeTimeoutMs` (a statement still running then is canceled on the server, see `query`;
   * what is not stored by then stays in the spool and the session's files, for a later sink).
   * Found by the PostgreSQL fault-injection pass, 2026-12-06: close() took up to
   * `flushTimeoutMs` + `closeTimeoutMs` + `queryTimeoutMs` (29.7 s with a lock held on
   * audit_records), its statements waiting on the lock.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const deadline = Date.now() + this.settings.closeTimeoutMs;
    const expire = setTimeout(() => {
      this.closeExpired = true;
      void this.active?.abort();
    }, this.settings.closeTimeoutMs);
    try {
      await this.closeUntil(deadline);
    } finally {
      clearTimeout(expire);
    }
  }

  private async closeUntil(deadline: number): Promise<void> {
    await this.flushUntil(Math.min(deadline, Date.now() + this.settings.flushTimeoutMs));
    if (this.hasPending()) {
      // a reconnection attempt now, not after the back-off
      if (this.retryTimer) {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
      }
      await this.whenStored(Math.max(0, deadline - Date.now()));
    }
    if (!this.hasPending()) {
      // The pump is stopped and waited for before the session is marked finalized: with nothing
      // written, flush() did not wait for it, and its connect (the migration, then the session's
      // "active" row) ran after the UPDATE to finalized, which found no row (or no table): the
      // row stayed "active" for good (found by review, 2026-12-05). A store that was away until
      // now is connected to here (see `markSession`).
      this.stopped = true;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      await this.settle(deadline);
      await runInAuditContext(undefined, async () => {
        await this.writeCheckpoints();
        this.finalMarked = await this.markSession("finalized");
      });
      // (a marker an earlier run of this session left as it ended: this run says more, see findEnded)
      if (this.finalMarked) this.removeOwnEnded();
    }
    // The row could not be marked finalized (the store went away as the session closed): the
    // next sink of this store in the directory does it, from the session file, as for a process
    // that ended without finalizeSession() (see flushSyncOnExit). With nothing spooled, no sink
    // was told, and the row said "active" for good (found by the session-status pass, 2026-12-05).
    if (!this.finalMarked) this.leaveEndedMarker();
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.settle(deadline);
    if (this.queue.length > 0) this.spill();
    if (this.spool && !this.spool.isEmpty) {
      this.note(
        new AuditIOError(
          `PostgresSink: ${this.spool.pendingBytes} bytes of records for session ${this.sessionId} are still in ${this.spool.path}: the store did not take them before close() ended (unreachable, or its statements did not finish within closeTimeoutMs and were canceled). They are sent when a PostgresSink opens this session again, or, once this session has ended, when one of this schema opens another session in this directory.`,
        ),
      );
    }
    this.spool?.close();
    this.releaseOrphans();
    this.releaseCrashed();
    this.held.stop();
    if (this.ownsPool && this.pool) {
      const pool = this.pool;
      this.pool = undefined;
      // (its connections are idle or destroyed by now, see `settle`; a connect still in progress,
      // the migration's, is not waited for past the deadline)
      await within(
        pool.end().catch((err: unknown) => this.note(err)),
        Math.max(0, deadline - Date.now()),
      );
    }
  }

  /**
   * Waits for the pump until `deadline`; then its statement is canceled (see `query`) and its
   * failure (the batch spooled) waited for, `CANCEL_GRACE_MS` at most twice (the cancel, then
   * the connection's end).
   */
  private async settle(deadline: number): Promise<void> {
    const p = this.pumping;
    if (!p || (await within(p, deadline - Date.now()))) return;
    this.closeExpired = true;
    await this.active?.abort();
    await within(p, CANCEL_GRACE_MS);
  }

  /**
   * Called by the logger as the process ends (exit, SIGINT, SIGTERM, SIGHUP): the queue and the
   * batch in flight (landed or not: a replay stores nothing twice) go to the spool now, with its
   * synchronous append. Found by review, 2026-12-05: they stayed in memory and were lost, 5 of 8
   * records when an app logged and called process.exit(); now the next sink of this session, or
   * of this schema in this directory once the session's lock is free, sends them from the spool.
   * After a SIGKILL they are in the files only; the next sink in this directory sends them from
   * there (see `recoverCrashed`).
   *
   * Unless close() marked the session's row finalized, it also leaves the marker saying the
   * process ended (`endedMarker`), for the next sink of this store in the directory to record
   * the session's end state from its session file (see `findEnded`): the store cannot be reached
   * from here, and with nothing left to send no spool told a later sink of the session (its row
   * said "active" for good; found by the session-status pass, 2026-12-05).
   */
  flushSyncOnExit(): void {
    if (this.queue.length > 0 || (this.inflight && !this.inflightSpilled)) this.spill();
    this.leaveEndedMarker();
  }

  /** The marker saying this session ended, its row maybe not yet recorded so (see `findEnded`). */
  private leaveEndedMarker(): void {
    if (this.finalMarked || this.sessionId === undefined || this.auditDir === undefined) return;
    try {
      // (never a FIFO or a link put under the temporary name: see replaceFileSync)
      replaceFileSync(this.markerPath(this.sessionId), endedMarker(), 0o600);
    } catch (err) {
      // (the audit directory itself removed while the process ran, as a test suite removes its
      // temporary one: nothing is left to mark, as the logger's exit hook judges it)
      if ((err as NodeJS.ErrnoException).code === "ENOENT" && !fs.existsSync(this.auditDir)) return;
      this.note(new AuditIOError(`PostgresSink could not leave the marker that session ${this.sessionId} ended (${reason(err)}): its row in the store keeps saying "active"; the session file says how it ended.`, { cause: err }));
    }
  }

  /** The spool file of this sink (known once the logger opened it). */
  get spoolPath(): string | undefined {
    return this.spool?.path;
  }

  /**
   * What of this session the sink holds undelivered once closed: records in its spool or queue (the
   * store did not answer by `closeTimeoutMs`), which a later sink of this store in this directory
   * sends. The logger lists it in the finalized session file (`config.undeliveredSinks`).
   */
  undelivered(): string | undefined {
    const { queued, spooledBytes } = this.stats();
    if (queued === 0 && spooledBytes === 0) return undefined;
    const held = [spooledBytes > 0 ? `${spooledBytes} bytes of records in its spool ${path.basename(this.spool?.path ?? "")}` : "", queued > 0 ? `${queued} records in memory (in the session's files only)` : ""].filter((x) => x !== "").join(" and ");
    return `not in the store when the session ended: ${held}; the store did not answer${this.outageCause !== undefined ? ` (${this.outageCause.split("\n")[0]!.slice(0, 200)})` : ""}. A later PostgresSink of this store that opens in this directory sends them.`;
  }

  /** The store's last failure (its message and SQLSTATE; no connection string), for `undelivered()`. */
  private outageCause: string | undefined;

  /** A snapshot of the sink's counters. */
  stats(): PostgresSinkStats {
    return {
      ...this.counters,
      queued: this.queue.length + (this.inflight && !this.inflightSpilled ? this.inflight.length : 0),
      spooledBytes: this.spool?.pendingBytes ?? 0,
      outage: this.inOutage,
      lastError: this.lastError,
    };
  }

  // ---------------------------------------------------------------- internals

  private initSpool(): void {
    if (this.spool) return;
    const sessionId = this.sessionId!;
    const dir = this.auditDir ?? process.cwd();
    const stem = spoolFileName(this.storeKey, sessionId);
    try {
      this.spool = new Spool(this.spoolOption ?? path.join(dir, stem));
      if (this.spool.tornBytes > 0) {
        this.note(new AuditIOError(`PostgresSink: cut a torn final line (${this.spool.tornBytes} bytes) from ${this.spool.path}, left by a crash; its record is still in the session's files and is sent from there.`));
      }
      if (!this.spool.isEmpty) this.spooling = true;
    } catch (err) {
      this.note(err);
    }
  }

  private hasPending(): boolean {
    return this.queue.length > 0 || this.inflight !== undefined || this.spooling || this.fileTails !== undefined || this.orphans.length > 0 || this.crashed.length > 0 || this.ended.length > 0;
  }

  /** A failure the sink overcame, nothing lost (see `againIfEndedHere`): to the logger's `onRecovered` (its `onError` when it gives none). */
  private recovered(err: Error): void {
    this.lastError = err.message;
    try {
      (this.onRecovered ?? this.onError)(err);
    } catch {
      // the reporter failed; nothing more to do without throwing into the host
    }
  }

  private note(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.lastError = e.message;
    try {
      this.onError(e);
    } catch {
      // the reporter failed; nothing more to do without throwing into the host
    }
  }

  /** Moves the queue (and a batch in flight, which may or may not have landed) to the spool. */
  private spill(): void {
    if (!this.spool) return;
    const lines: string[] = [];
    if (this.inflight && !this.inflightSpilled) for (const r of this.inflight) lines.push(r.line);
    for (const r of this.queue) lines.push(r.line);
    if (lines.length === 0) return;
    try {
      this.spool.append(lines);
    } catch (err) {
      this.note(new AuditIOError(`PostgresSink could not write its spool ${this.spool.path}: ${reason(err)}. ${lines.length} records stay in memory.`, { cause: err }));
      return;
    }
    this.counters.spilled += lines.length;
    if (this.inflight) this.inflightSpilled = true;
    this.queue = [];
    this.spooling = true;
  }

  private schedulePump(): void {
    if (this.pumping || this.retryTimer || this.stopped || this.sessionId === undefined) return;
    // start on the next turn of the event loop, so a synchronous burst of records is one batch
    // outside any audit context: the pool's connections, made by the pump, outlive the request
    // whose record started it (they kept its context, and gave it to what they reported)
    this.pumping = runInAuditContext(undefined, () =>
      new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => this.pump())
        .then(() => {
          this.pumping = undefined;
          if (this.hasPending() && !this.retryTimer && !this.stopped && !this.inOutage) this.schedulePump();
        }),
    );
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        if (!this.ready) await this.connect();
        if (this.fileTails) {
          await this.sendFromFiles(this.sessionId!, this.fileTails);
          this.fileTails = undefined;
        }
        if (this.orphans.length > 0) await this.adoptOrphans();
        if (this.crashed.length > 0) await this.recoverCrashed();
        if (this.ended.length > 0) await this.closeEnded();
        if (this.spooling && this.spool) {
          if (this.queue.length > 0) this.spill();
          const batch = this.spool.read(this.batchLimit);
          if (batch.lines.length === 0) {
            if (!this.spool.isEmpty) this.skipUnterminated(this.spool);
            if (this.spool.removeIfDone()) this.spooling = false;
            continue;
          }
          await this.storeLines(batch.lines);
          this.spool.advance(batch.bytes);
          continue;
        }
        if (this.queue.length === 0) break;
        const batch = this.queue.splice(0, this.batchLimit);
        this.inflight = batch;
        this.inflightSpilled = false;
        await this.store(batch);
        this.inflight = undefined; // on failure `fail()` moves it to the spool
      }
      if (this.inOutage) {
        this.inOutage = false;
        this.retryDelay = this.settings.retryMinMs;
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * The spool holds only a piece of a line. Its appends are whole and synchronous, so this is no
   * append in progress but bytes another writer left in the file; their records are in their
   * session's files. Found by review, 2026-12-05: the pump waited for the piece to be completed,
   * ran again on the next turn of the event loop, and so on (100% CPU) while two sinks appended
   * to one spool; now the piece is skipped and reported.
   */
  private skipUnterminated(spool: Spool): void {
    const bytes = spool.pendingBytes;
    spool.advance(bytes);
    this.note(new AuditIOError(`PostgresSink skipped ${bytes} bytes at the end of its spool ${spool.path} that are not a whole line (written by another writer of that file); their records are still in the session's files.`));
  }

  /** The store refused or is away: everything pending goes to the spool, retry later. */
  private fail(err: unknown): void {
    if (this.inflight && !this.inflightSpilled) this.spill();
    if (this.inflight && !this.inflightSpilled) this.queue.unshift(...this.inflight); // spool failed too
    this.inflight = undefined;
    this.inflightSpilled = false;
    if (this.queue.length > 0) this.spill();
    const code = pgCode(err);
    if (code.startsWith("42") || code === "3F000") this.ready = false; // schema gone or changed: migrate again
    if (code === "57014") this.batchLimit = Math.max(1, this.batchLimit >> 1); // canceled (statement_timeout): smaller statements (see batchLimit)
    this.outageCause = `${reason(err)}${code ? `, SQLSTATE ${code}` : ""}${twiceNote(err)}`;
    // (a statement close() canceled is reported even in an outage: what was running then, a
    // migration waiting on a lock for example, did not land; found by the PostgreSQL fault pass, 2026-12-06)
    const canceledByClose = this.canceledByClose;
    this.canceledByClose = false;
    if (!this.inOutage || canceledByClose) {
      this.inOutage = true;
      this.note(
        new AuditIOError(
          `PostgresSink cannot store records in ${this.schema} (${reason(err)}${code ? `, SQLSTATE ${code}` : ""}${twiceNote(err)}). ${this.spool !== undefined ? `They are kept in the spool ${this.spool.path} and sent when the store answers` : "The spool could not be opened: they are in the session's files only (a sink that opens this session again sends them), and those held in memory are sent if the store answers before the logger ends"}; the logger goes on.`,
          { cause: err },
        ),
      );
    } else {
      this.lastError = reason(err);
    }
    if (this.stopped) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.settings.retryMaxMs, this.retryDelay * 2);
    this.retryTimer = runInAuditContext(undefined, () =>
      setTimeout(() => {
        this.retryTimer = undefined;
        this.schedulePump();
      }, delay),
    );
    this.retryTimer.unref();
  }

  private requirePool(): Pool {
    if (!this.pool) throw new AuditIOError("PostgresSink is closed.");
    return this.pool;
  }

  /** The statement in progress (see `query`): `abort()` cancels it on the server. */
  private active: { abort: () => Promise<void> } | undefined;
  /** close()'s time is up: no statement starts any more, the one in progress is canceled */
  private closeExpired = false;
  /** close() canceled a statement of the pump: its failure is reported even in an outage (see `fail`) */
  private canceledByClose = false;

  /**
   * One statement of the sink, on a connection of its own from the pool (see `onConnection`).
   * Found by the PostgreSQL fault-injection pass, 2026-12-06: pg's client-side `query_timeout`
   * only stopped waiting, the statement went on on the server (waiting for a lock), committed once
   * the lock went, and the batch sent again counted as duplicates: `stats().stored` fell short of
   * what the sink stored; and close() waited for such a statement up to `queryTimeoutMs` past
   * `closeTimeoutMs`.
   */
  private query<T extends QueryResultRow>(text: string, values: unknown[]): Promise<QueryResult<T>> {
    return this.onConnection((run) => run<T>(text, values));
  }

  /**
   * Runs `use` on a connection of its own from the pool; each statement it runs through `run` is
   * canceled on the server after `queryTimeoutMs`, or when close()'s time is up
   * (`pg_cancel_backend` of its connection, from a connection of its own), and its answer waited
   * for `CANCEL_GRACE_MS` more: the cancel's error, or its result if it landed first (then it
   * counts, as any result); no answer by then, its connection is destroyed. Once close()'s time is
   * up no statement starts. A connection whose statement was canceled, or that was in use when
   * close()'s time was up, is destroyed, not given back to the pool (a cancel that came late
   * would hit its next statement; a transaction left open is rolled back by the server). The
   * migration runs here too (see `connect`): found by the PostgreSQL fault pass, 2026-12-06, it
   * ran on a connection of its own, which close() did not cancel: a migration waiting on a lock
   * went on on the server after close() returned, and applied once the lock went.
   */
  private async onConnection<R>(use: (run: RunStatement) => Promise<R>): Promise<R> {
    if (this.closeExpired) throw new Error(`PostgresSink: closeTimeoutMs (${this.settings.closeTimeoutMs} ms) is over`);
    const pool = this.requirePool();
    const { client, unguard: stopListening } = await connectGuarded(pool, (err) => {
      this.lastError = err.message;
    });
    let released = false;
    const release = (err?: Error): void => {
      if (released) return;
      released = true;
      stopListening();
      client.release(err);
    };
    let canceled = false;
    let broken = false;
    const run = async <T extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<T>> => {
      if (this.closeExpired) throw new Error(`PostgresSink: closeTimeoutMs (${this.settings.closeTimeoutMs} ms) is over`);
      if (released) throw new Error("PostgresSink: the connection was destroyed (its statement did not answer a cancel)");
      // (pg's own read timeout, the pool's, only later: a backstop should the cancel itself hang)
      const running = client.query<T>({ text, values, query_timeout: this.settings.queryTimeoutMs + 2 * CANCEL_GRACE_MS } as QueryConfig);
      let why: string | undefined;
      let aborting: Promise<void> | undefined;
      const abort = (because: string): Promise<void> => {
        if (aborting) return aborting;
        why = because;
        canceled = true;
        aborting = (async () => {
          await this.cancelBackend(client);
          // (its answer: the cancel's error, or its result if it landed first)
          if (!(await within(running, CANCEL_GRACE_MS))) release(new Error(`PostgresSink destroyed a connection whose statement did not answer its cancel (${because})`));
        })();
        return aborting;
      };
      const entry = {
        abort: () => {
          this.canceledByClose = true;
          return abort(`closeTimeoutMs (${this.settings.closeTimeoutMs} ms) of close() is over`);
        },
      };
      this.active = entry;
      const timer = setTimeout(() => void abort(`it ran longer than queryTimeoutMs (${this.settings.queryTimeoutMs} ms)`), this.settings.queryTimeoutMs);
      if (this.closeExpired) void entry.abort();
      try {
        return await running;
      } catch (err) {
        if (why !== undefined) throw new Error(`the statement was canceled: ${why} (${reason(err)})`, { cause: err });
        // (given back to the pool, a connection the server ended went to the next statement,
        // which failed as well: see againIfEnded)
        if (connectionEnded(err)) broken = true;
        throw err;
      } finally {
        clearTimeout(timer);
        if (this.active === entry) this.active = undefined;
      }
    };
    try {
      return await use(run);
    } finally {
      release(canceled || broken || this.closeExpired ? new Error(broken ? "ended by the server" : "canceled") : undefined);
    }
  }

  /** Cancels the statement running on `client`'s connection, from a connection of its own (never throws; bounded by `CANCEL_GRACE_MS`). */
  private async cancelBackend(client: PoolClient): Promise<void> {
    const pid = (client as unknown as { processID?: unknown }).processID;
    const options = (this.pool as unknown as { options?: Record<string, unknown> } | undefined)?.options;
    if (typeof pid !== "number" || !options) return;
    const pg = loadPg("PostgresSink");
    const other = new pg.Client({ ...options, connectionTimeoutMillis: Math.min(this.settings.connectTimeoutMs, CANCEL_GRACE_MS), query_timeout: CANCEL_GRACE_MS, application_name: "audit-logger-cancel" });
    other.on("error", () => undefined);
    try {
      await other.connect();
      await other.query("SELECT pg_cancel_backend($1)", [pid]);
    } catch (err) {
      this.lastError = `could not cancel a statement of the store: ${reason(err)}`;
    } finally {
      void other.end().catch(() => undefined);
    }
  }

  private async connect(): Promise<void> {
    // a connection dropped during the migration fails it (reported by fail()); the event itself
    // is kept as lastError, as the pool's idle errors are (see onConnection). Its statements are
    // canceled as the sink's others are: after queryTimeoutMs, or when close()'s time is up. One
    // transaction, which the server's ending rolled back, idempotent (it creates what is missing):
    // run again at once on a new connection when the server ended its connection (see
    // `againIfEndedHere`; until 2026-12-06 an outage: back-off, spool, audit_write_failed).
    if (this.settings.migrate) await this.againIfEndedHere("the migration of the store's schema", () => this.onConnection((run) => migrateOn(run, this.schema)), RAN_AGAIN);
    await this.markSession("active");
    this.knownMonths.clear();
    this.ready = true;
  }

  /** Resolves true once the row says `status` (false: the failure was reported). */
  private async markSession(status: "active" | "finalized"): Promise<boolean> {
    if (!this.pool || this.sessionId === undefined) return false;
    const n = this.sql.n;
    try {
      if (status === "active") {
        // (idempotent: once more at once when the server ended its connection, see `againIfEndedHere`)
        await this.againIfEndedHere(`the write of session ${this.sessionId}'s row ("active")`, () =>
          this.query(
            `INSERT INTO ${n.sessions} (session_id, info, status) VALUES ($1, $2::jsonb, 'active')
             ON CONFLICT (session_id) DO UPDATE SET info = EXCLUDED.info, status = 'active', closed_at = NULL`,
            [this.sessionId, jsonbText(JSON.stringify(this.sessionInfo))],
          ),
          RAN_AGAIN,
        );
      } else {
        // (a sink that never reached the store, or whose pump was stopped before its first
        // connect, records the session first: an UPDATE alone left no row)
        if (!this.ready) await this.connect();
        // (no final session file: keep what the store has)
        const final = this.auditDir ? this.readSessionInfo(this.sessionId) : undefined;
        const info = final === undefined ? null : jsonbText(JSON.stringify(final));
        // (once more on a new connection when the server ended this one under it, as the records
        // are sent again: found by the PostgreSQL fault pass, 2026-12-06, one pg_terminate_backend
        // as close() ran left the row "active" and reported a failure; the UPDATE is idempotent.
        // Reported since 2026-12-06, as the others are: it was silent. Also on a connection lost
        // without the server's word, as before: nothing retries it later)
        await this.againIfEndedHere(`the write of session ${this.sessionId}'s row ("finalized")`, () => this.query(`UPDATE ${n.sessions} SET status = 'finalized', closed_at = now(), info = coalesce($2::jsonb, info) WHERE session_id = $1`, [this.sessionId, info]), { ...RAN_AGAIN, lostToo: true });
      }
      return true;
    } catch (err) {
      if (status === "active") throw err;
      this.note(new AuditIOError(`PostgresSink could not mark session ${this.sessionId} ${status}: ${(err as Error).message}${twiceNote(err)}`, { cause: err }));
      return false;
    }
  }

  private async ensureMonths(months: Iterable<string>): Promise<void> {
    for (const m of months) {
      if (this.knownMonths.has(m)) continue;
      await this.query(`SELECT ${this.sql.n.ensurePartition}($1::timestamptz)`, [`${m}-01T00:00:00Z`]);
      this.knownMonths.add(m);
    }
  }

  /**
   * One multi-row insert; returns how many rows were new, and the records (`kind#seq`, up to five)
   * whose seq the store already held with another hash, if any.
   */
  private async insert(recs: readonly SealedRecord[], months: ReadonlySet<string>, sid: string, probes: readonly Probe[]): Promise<{ added: number; forks: string | null }> {
    await this.ensureMonths(months);
    const values = [...insertParams(recs), sid, ...probeParams(probes)];
    const run = async () => {
      const row = (await againIfSerialization(() => this.query<{ added: number; forks: string | null }>(this.sql.insert, values))).rows[0];
      return { added: row?.added ?? 0, forks: row?.forks ?? null };
    };
    try {
      return await run();
    } catch (err) {
      // 23514: no partition for a row (retention dropped a month we thought existed)
      if (pgCode(err) !== "23514") throw err;
      this.knownMonths.clear();
      await this.ensureMonths(months);
      return await run();
    }
  }

  /**
   * Sends the key lines of session `sid`'s key store (`subject_keys_<sid>.jsonl`, in the audit
   * directory) that this sink has not sent yet, before that session's records: a record is
   * written after the key it is encrypted under, so the store holds a record's key once it holds
   * the record. Read from where the last call stopped; from the start again when a shred replaced
   * the file. A key the store holds shredded stays so (`ON CONFLICT DO NOTHING`; see
   * `audit_subject_keys` in schema.ts). A failure fails the batch (it is spooled and retried),
   * except a store without the table (schema before version 6) or a writer without INSERT on it:
   * reported once, and the records go on being stored without their keys (docs/POSTGRES.md).
   */
  private async sendKeys(sid: string): Promise<void> {
    if (this.auditDir === undefined || this.keysRefused !== undefined) return;
    const file = path.join(this.auditDir, keyStoreFileName(sid));
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st?.isFile()) return;
    const was = this.keysSent.get(sid);
    const same = was !== undefined && was.dev === st.dev && was.ino === st.ino && st.size >= was.offset;
    if (same && was.offset === st.size) return;
    const from = same ? was.offset : 0;
    let text: string;
    let dev: number;
    let ino: number;
    let fd: number;
    try {
      fd = openRegularSync(file); // (never through a link or a FIFO put under its name: NotRegularFileError)
    } catch (err) {
      // (a file failure, not the store's: reported once, and tried again with the next batch of the session)
      if (this.keyFileFailed.has(sid)) return;
      this.keyFileFailed.add(sid);
      this.note(new AuditIOError(`PostgresSink could not read the key store ${file} (${reason(err)}): the data keys of session ${sid} are not sent to the store with its records; readers of the store need contentDir to open them.`, { cause: err }));
      return;
    }
    try {
      const now = fs.fstatSync(fd);
      dev = now.dev;
      ino = now.ino;
      const start = now.dev === st.dev && now.ino === st.ino ? from : 0;
      const buf = Buffer.alloc(Math.max(0, now.size - start));
      let at = 0;
      while (at < buf.length) {
        const n = fs.readSync(fd, buf, at, buf.length - at, start + at);
        if (n === 0) break;
        at += n;
      }
      const whole = buf.subarray(0, at).lastIndexOf(0x0a) + 1;
      text = buf.subarray(0, whole).toString("utf8");
      this.keysSent.set(sid, { dev, ino, offset: start });
      if (text.length === 0) return;
      const keys = keyStoreLines(text);
      if (keys.length > 0) {
        try {
          await this.againIfEndedHere(`the insert of ${keys.length} key line${keys.length === 1 ? "" : "s"} of session ${sid}`, () => this.insertKeys(keys, sid));
        } catch (err) {
          const code = pgCode(err);
          if (code !== "42P01" && code !== "42501") throw err;
          this.keysRefused = `${reason(err)}, SQLSTATE ${code}`;
          this.note(
            new AuditIOError(
              `PostgresSink cannot store the data keys of encrypted sessions in ${this.schema} (${this.keysRefused}): ${code === "42P01" ? "the store's schema is older than version 6; run migratePostgres() as its owner" : "grant this role INSERT on audit_subject_keys"}. Records are stored; their data keys stay in the session's key store file only, so readers of the store need that audit directory (contentDir) to decrypt them.`,
              { cause: err },
            ),
          );
          return;
        }
      }
      this.keysSent.set(sid, { dev, ino, offset: start + whole });
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Inserts key lines of session `sid`. A line the store refuses (schema version 8 checks each is
   * a key line as the kit writes it: SQLSTATE 22023) would fail its batch at every retry, and the
   * sink would store nothing more: the lines are then sent one by one, and each refused one is
   * reported (once) and left out (its records stay readable with the audit directory).
   */
  private async insertKeys(keys: ReadonlyArray<{ kid: string; line: string }>, sid: string): Promise<void> {
    try {
      const r = await againIfSerialization(() =>
        this.query(this.sql.keys, [
          keys.map((k) => k.kid),
          keys.map((k) => k.line),
          sid,
        ]),
      );
      this.counters.keys += r.rowCount ?? 0;
    } catch (err) {
      if (pgCode(err) !== "22023") throw err;
      if (keys.length > 1) {
        for (const k of keys) await this.insertKeys([k], sid);
        return;
      }
      const kid = keys[0]!.kid;
      if (this.keyLinesRefused.has(kid)) return;
      this.keyLinesRefused.add(kid);
      this.note(
        new AuditIOError(
          `PostgresSink: the store refused the key line of ${kid} in session ${sid}'s key store (${reason(err)}): it is left out of the store, so readers of the store open the records under that key only with the audit directory (contentDir). The kit writes no such line: look at who wrote it. The other key lines and the records are stored.`,
          { cause: err },
        ),
      );
    }
  }

  /**
   * Runs `run` (a batch's insert, or key lines': `ON CONFLICT DO NOTHING`, so sent twice they store
   * nothing twice) once more, at once, on a new connection when the server said it ended the
   * connection under it (57P01, 57P02, 57P05: see `againIfEnded`), and reports that through the
   * logger as a failure overcome (`onRecovered`: an `error` event, an `errors` record of severity
   * warning) once the second attempt stored it. Found 2026-12-06: a `pg_terminate_backend` of the
   * sink's backend during an insert, or between batches (the pool handed the next batch the
   * ended connection before it read the server's goodbye), spooled the batch and everything after
   * it as an outage, retried after the back-off, and reported it as records not stored. Only on
   * the server's word (a SQLSTATE), not a connection lost without one (its insert may have
   * committed, the server may be gone): that stays an outage, and the spool's replay stores
   * nothing twice either. An ending that came after the commit (the server ends a backend waiting
   * for synchronous replication once its transaction committed locally) stores nothing on the
   * second attempt: the rows count as `duplicates`. A second failure is thrown (the outage: the
   * batch is spooled, and its message says it was tried twice: see `twiceNote`), and the batch
   * is sent before the records after it, so the chain's order is kept.
   *
   * Every other statement of the sink goes this way too (2026-12-06: they were an outage, or,
   * for the checkpoints and the "finalized" row, retried without a word): each is whole by
   * itself, a read or a write in its own transaction that the ending rolled back, and idempotent
   * or saying by its result what it did: the migration (one transaction, creating what is
   * missing), the session's "active" row (an upsert), the reads of `sendFromFiles`, the rows and
   * checkpoints of other sessions (`closeAdopted`: an upsert only of a row still "active", and
   * ON CONFLICT DO NOTHING), this session's checkpoints (ON CONFLICT DO NOTHING, the count and the
   * fork check in the result) and its "finalized" row (an UPDATE to the same values). `o.done`:
   * what the report says of the second attempt; `o.lostToo`: also on a connection lost without
   * the server's word (the checkpoints and the "finalized" row, as before: idempotent, and no
   * back-off retries them; elsewhere that stays an outage: the server is likely gone, and a
   * second attempt at once only delays the spool by a connect timeout). What is not repeated at once: a second ending, a statement
   * canceled (queryTimeoutMs, a `statement_timeout`, close()'s deadline: a server too slow or a
   * lock held, which a new attempt at once would meet again), any other error (docs/POSTGRES.md).
   */
  private async againIfEndedHere<T>(what: string, run: () => Promise<T>, o: { done?: string; lostToo?: boolean } = {}): Promise<T> {
    let ended: unknown;
    const r = await againIfEnded(run, o.lostToo ?? false, (err) => (ended = err));
    if (ended !== undefined) {
      const code = pgCode(ended);
      this.recovered(
        new AuditIOError(
          `PostgresSink: ${code ? "the server ended its connection" : "its connection was lost"} during ${what} (${code ? `SQLSTATE ${code}: ` : ""}${reason(ended)}); ${o.done ?? "it was sent again on a new connection and stored: no record is lost or stored twice"}. If this keeps happening, look in the server's log for what ends the connections (pg_terminate_backend, a pooler, a failover).`,
          { cause: ended },
        ),
      );
    }
    return r;
  }

  /** Stores records from the queue (envelope known); `sid`: the session they are of (another one's for an adopted spool). */
  private async store(recs: readonly SealedRecord[], sid = this.sessionId): Promise<void> {
    if (recs.length > this.batchLimit) {
      // (in statements of `batchLimit` rows: every path, the queue, the spool and the files, stores here)
      // (the size taken once: a statement that lands grows batchLimit)
      const size = this.batchLimit;
      for (let i = 0; i < recs.length; i += size) await this.store(recs.slice(i, i + size), sid);
      return;
    }
    await this.sendKeys(sid!);
    const months = new Set<string>();
    for (const r of recs) months.add(monthOf(r.timestamp));
    const own = sid === this.sessionId;
    // The fork check (this session's records only, until a fork is reported): this batch's ends,
    // against what the store held as the statement began, and the previous batch's again, now
    // that it is committed. Of two writers of this session whose batches were inserted at the
    // same time, neither insert saw the other's rows: each checked only its own batch, and a
    // fork at the first seqs went unreported (or, past their last batch, unreported at all)
    // when they started together (found 2026-12-05, under load). The later of the two commits
    // comes before the other writer's next statement, which now sees it.
    const ends = own && !this.forkReported ? batchEnds(recs) : [];
    const probes = this.unconfirmed.length > 0 && ends.length > 0 ? [...this.unconfirmed, ...ends] : ends;
    let result: { added: number; forks: string | null };
    try {
      result = await this.againIfEndedHere(`a batch insert of ${recs.length} record${recs.length === 1 ? "" : "s"}${own ? "" : ` of session ${sid}`}`, () => this.insert(recs, months, sid!, probes));
    } catch (err) {
      // A value the store cannot take fails the whole batch (one statement), and would fail it
      // at every retry: the sink stalled on it for good, storing nothing more. The batch is
      // halved until the records it refuses are alone; each is reported and left out.
      if (!refusesRow(err)) throw err;
      if (recs.length === 1) return this.refuse(recs[0]!, err);
      const half = recs.length >> 1;
      await this.store(recs.slice(0, half), sid);
      await this.store(recs.slice(half), sid);
      return;
    }
    if (own) this.unconfirmed = ends;
    if (this.batchLimit < this.settings.batchSize) this.batchLimit = Math.min(this.settings.batchSize, this.batchLimit + Math.ceil(this.batchLimit / 8));
    this.counted(result.added, recs.length, own ? recs : []);
    if (result.forks !== null && own) this.reportFork(result.forks);
  }

  /** A record the store refuses for good: reported, counted, left out (the files keep it). */
  private refuse(rec: SealedRecord, err: unknown): void {
    this.counters.refused++;
    this.note(
      new AuditIOError(
        `PostgresSink: the store refused ${rec.kind} record seq ${rec.seq} of session ${rec.sessionId} (${(err as Error).message}, SQLSTATE ${pgCode(err)}): it is left out of the store, and still in the session's files; verify --postgres reports it missing. The records after it are stored.`,
        { cause: err },
      ),
    );
  }

  /**
   * The store held other records at these seqs: the session's chain forks in the store. Checked
   * by every insert, and by the statement after it (see `store`) (the unique key holds `ts`, which
   * PostgreSQL requires of a partitioned table, so a second writer's records at the same seqs are
   * no conflict: a check on conflicts only never saw them). Reported once per sink.
   */
  private reportFork(at: string): void {
    if (this.forkReported) return;
    this.forkReported = true;
    this.note(
      new AuditIOError(
        `PostgresSink: the store already holds different records at ${at} of session ${this.sessionId}: its chain forks there. Either another instance writes the same sessionId (give every instance its own), or this session was resumed after a crash that lost from the files records the store had kept (the durability mode's loss window; docs/POSTGRES.md). verify --postgres reports the fork.`,
      ),
    );
  }

  /** Stores lines read back from the spool or the files; lines that are not sealed records (of `sid`) are reported and skipped. */
  private async storeLines(lines: readonly string[], sid = this.sessionId): Promise<SealedRecord[]> {
    const recs: SealedRecord[] = [];
    for (const line of lines) {
      const info = lineInfo(line);
      if (!info || info.sessionId !== sid) {
        this.note(new AuditIOError(`PostgresSink skipped a spooled line that is not a sealed record of session ${sid}: ${line.slice(0, 80)}`));
        continue;
      }
      recs.push({ ...info, line });
    }
    if (recs.length > 0) await this.store(recs, sid);
    return recs;
  }

  /**
   * The spools of this schema that sinks of other sessions left in `dir`. Found by review,
   * 2026-12-04: a spool was replayed only by a sink of its own session, and the default sessionId
   * is new in every process, so what a process spooled when the store was away as it ended (or
   * crashed) stayed in `.pg_spool_<its session>.jsonl` for good. A spool counts as left when the
   * session's lock is not held by a live process (see `sessionLockHeld`) and no live process is
   * replaying it (`….adopting-<pid>-<start>`, see `claimHeld`); its session is read from its first line, which must match
   * the file's name for this store and schema (`storeKey`).
   */
  private findOrphans(dir: string, entries: readonly string[]): Orphan[] {
    const prefix = `.pg_spool_${this.storeKey}_`;
    // (a spool named by session only, `.pg_spool_<sessionId>.jsonl`, is one of the default
    // schema that a version before 2026-12-05 left: which store it was for is not known)
    const legacy = this.schema === DEFAULT_SCHEMA;
    const found: Orphan[] = [];
    for (const name of entries) {
      const claim = CLAIM_SUFFIX.exec(name);
      const stem = claim ? name.slice(0, claim.index) : name;
      if (!/^\.pg_spool_.+\.jsonl$/.test(stem) || !(name.startsWith(prefix) || legacy)) continue;
      const file = path.join(dir, name);
      if (file === this.spool?.path || (claim && claimHeld(file, claim[1]!, claim[2]))) continue;
      const sid = firstLineSession(file);
      // (an id no session can have: lockFileName refused it, and the AuditPathError failed this
      // sink's open(); found by review, 2026-12-05)
      if (typeof sid !== "string" || sid === this.sessionId || !isFileSessionId(sid)) continue;
      // the spool of this store and schema for that session, by its name, and nothing else
      if (stem !== spoolFileName(this.storeKey, sid) && !(legacy && stem === legacySpoolFileName(sid))) continue;
      if (sessionLockHeld(dir, sid)) continue;
      found.push({ sessionId: sid, path: file });
    }
    return found;
  }

  /**
   * Sends the records of the spools other sessions' sinks left (see `findOrphans`), then records
   * their sessions (status from their session files) and chain heads (checkpoints), and removes
   * the spools. A spool is claimed first by renaming it to `….adopting-<pid>-<start>`, so that one process
   * replays it; what a failed store leaves is resumed by the next pump, or after this process
   * ends, by another sink.
   */
  private async adoptOrphans(): Promise<void> {
    while (this.orphans.length > 0) {
      const o = this.orphans[0]!;
      if (!o.spool) {
        if (sessionLockHeld(this.auditDir!, o.sessionId)) {
          this.orphans.shift(); // its session came back: its own sink replays it
          continue;
        }
        const claimed = `${o.path.replace(CLAIM_SUFFIX, "")}${claimSuffix()}`;
        try {
          fs.renameSync(o.path, claimed);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
          this.orphans.shift(); // another process claimed it first
          continue;
        }
        o.path = claimed;
        // (the claim keeps the spool's mtime, maybe days old: fresh now, and while it is replayed)
        this.held.hold(claimed);
        o.spool = new Spool(claimed);
      }
      const spool = o.spool;
      const heads = new Map<ChainKind, Head>();
      let taken = false;
      for (;;) {
        this.held.touch(o.path);
        const batch = claimedRead(spool, this.settings.batchSize);
        if (batch === undefined) {
          taken = true;
          break;
        }
        if (batch.lines.length === 0) break;
        raiseHeads(heads, await this.storeLines(batch.lines, o.sessionId));
        this.counters.adopted += batch.lines.length;
        spool.advance(batch.bytes);
      }
      if (taken) {
        // (its claim was taken over (renamed) by another sink, which replays it and records its
        // session: see claimHeld, an hour old in another pid namespace. Until 2026-12-06 the read
        // of the old name failed every pump of this sink, ENOENT, reported as the store's
        // failure, and this sink's own records went to its spool until it closed; found by review)
        spool.close();
        this.held.drop(o.path);
        this.orphans.shift();
        continue;
      }
      await this.closeAdopted(o.sessionId, heads);
      spool.advance(spool.pendingBytes); // an unterminated remainder: the Spool cut a torn one at open
      spool.removeIfDone();
      this.held.drop(o.path);
      this.orphans.shift();
    }
  }

  /**
   * Sessions of `dir` (listed as `names`) whose process died holding their lock, that this store
   * has not recovered since: a session's lock file is left only then (finalizeSession() and the
   * exit hook, at an exit or a signal, remove it), and is judged as for spools: no live process of
   * this host holds it (`sessionLockHeld`). A marker (see `claimCrashed`) that names the same lock
   * as done says the crash was recovered. Only a session that wrote to this store is taken: its
   * session file lists this sink (`description`: `PostgresSink:<store>`), or a PostgresSink of a
   * version that did not name its store; a session with no sink, or with a sink of another store,
   * is not sent here (its records were meant to stay in the files or to go elsewhere). Costs the
   * listing the sink reads anyway, and three small reads per such session: a session that ended
   * cleanly costs nothing.
   */
  private findCrashed(dir: string, names: readonly string[]): Crashed[] {
    const found: Crashed[] = [];
    for (const name of names) {
      const sid = LOCK_FILE.exec(name)?.[1];
      // (an id no session can have, ".session_x.1.lock": lockFileName refused it, and the
      // AuditPathError ended the search for every session; found by review, 2026-12-05)
      if (sid === undefined || sid === this.sessionId || !isFileSessionId(sid)) continue;
      const lock = readText(path.join(dir, name));
      if (lock === undefined || sessionLockHeld(dir, sid)) continue;
      const marker = parseMarker(readText(this.markerPath(sid)));
      if (marker?.done && marker.lock === lock) continue;
      if (!this.wroteHere(dir, sid)) continue;
      found.push({ sessionId: sid, lock });
    }
    return found;
  }

  /**
   * Session `sid`'s session file, when it holds a JSON object. One that is not a regular file (a
   * FIFO, a directory, a link) is never opened, nor one longer than a session file can be: the
   * sink reports it and goes on without (a FIFO named like one blocked the sink, and the app's
   * event loop with it, for good; found by review, 2026-12-05). None, or one that is no JSON
   * object (half written by a crash), is no news: undefined, silently.
   */
  private readSessionInfo(sid: string): Record<string, unknown> | undefined {
    let v: unknown;
    try {
      v = JSON.parse(readRegularFileSync(path.join(this.auditDir!, sessionFileName(sid)), undefined, SESSION_FILE_MAX_BYTES).toString("utf8"));
    } catch (err) {
      if (err instanceof NotRegularFileError || err instanceof FileTooLargeError) {
        this.note(new AuditIOError(`PostgresSink did not read the session file of session ${sid}: ${err.message} The session's row in the store gets no information from it.`, { cause: err }));
      }
      return undefined;
    }
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  }

  /** Whether session `sid`'s session file lists a sink of this store (see `findCrashed`). */
  private wroteHere(dir: string, sid: string): boolean {
    let sinks: unknown;
    try {
      sinks = (JSON.parse(readText(path.join(dir, sessionFileName(sid))) ?? "null") as { config?: { sinks?: unknown } } | null)?.config?.sinks;
    } catch {
      return false;
    }
    return Array.isArray(sinks) && (sinks.includes(this.description) || sinks.includes("PostgresSink"));
  }

  /** The recovery marker of session `sid` for this store and schema (`storeKey`). */
  private markerPath(sid: string): string {
    return path.join(this.auditDir!, recoveryMarkerName(this.storeKey, sid));
  }

  /**
   * Sends what the files of sessions whose process died holding their lock hold and the store
   * lacks (see `findCrashed`): the records that were in their sinks' memory when a SIGKILL, an
   * out-of-memory kill or a crash ended them, which no exit hook spilled to a spool. Then records
   * each session (status from its session file) and the heads sent (checkpoints), as for an
   * adopted spool, and marks the crash recovered. Found by review, 2026-12-05: only a logger of
   * that same sessionId sent them (`backfill`), and the default sessionId is new in every process.
   */
  private async recoverCrashed(): Promise<void> {
    const dir = this.auditDir!;
    // (one listing for them all: a dead session's files change only if a logger resumes it, and
    // then that logger's sink sends them)
    let names: string[] | undefined;
    while (this.crashed.length > 0) {
      const c = this.crashed[0]!;
      try {
        if (c.claim === undefined && !this.claimCrashed(c)) {
          this.crashed.shift();
          continue;
        }
        this.held.touch(this.markerPath(c.sessionId));
        names ??= safeReaddir(dir);
        await this.closeAdopted(c.sessionId, await this.sendFromFiles(c.sessionId, fileTails(dir, c.sessionId, names) ?? {}, names));
      } catch (err) {
        // (the store's failure is an outage: the pump tries again; a file that cannot be read or
        // written must not stall the sink for good)
        if (!localFileError(err)) throw err;
        this.note(
          new AuditIOError(
            `PostgresSink could not recover session ${c.sessionId}, whose process died holding its lock (${(err as Error).message}): the records of its last moments may be missing from the store. The next sink to open in this directory tries again.`,
            { cause: err },
          ),
        );
        this.releaseCrashed(c);
        this.crashed.shift();
        continue;
      }
      this.markRecovered(c);
      this.counters.recoveredSessions++;
      this.crashed.shift();
    }
  }

  /**
   * Claims crashed session `c` for this sink: creates its marker (`markerPath`), whole, naming the
   * lock found and this process (its holder, see owner.ts: pid, host, kernel start, pid namespace),
   * so that one sink of this store recovers it. A claim is left alone while its process lives
   * (`markerClaimHeld`: one of another host or pid namespace, for an hour), and so is
   * a marker of that same lock that says done; a claim whose process is gone, and a marker of an
   * earlier crash of the session (another lock), are taken over. False when the session is not
   * (any more) this sink's to recover: its lock changed (a logger resumed it, and its own sink
   * sends its records), or another sink has it.
   */
  private claimCrashed(c: Crashed): boolean {
    const dir = this.auditDir!;
    if (readText(path.join(dir, lockFileName(c.sessionId))) !== c.lock || sessionLockHeld(dir, c.sessionId)) return false;
    const file = this.markerPath(c.sessionId);
    const claim = JSON.stringify({ lock: c.lock, ...ownOwner() });
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createWhole(file, claim)) {
        c.claim = claim;
        this.held.hold(file);
        return true;
      }
      const judged = readText(file);
      if (judged === undefined) continue; // removed meanwhile
      const m = parseMarker(judged);
      if (m?.lock === c.lock && (m.done || markerClaimHeld(file, m))) return false;
      removeIfStill(file, judged, `${file}.stale.${OWN_NAME_PID}`);
    }
    return false;
  }

  /** The crash of `c` is recovered: its marker says so (a failure to write it only means the next sink does it again). */
  private markRecovered(c: Crashed): void {
    const file = this.markerPath(c.sessionId);
    this.held.drop(file);
    try {
      // (never a FIFO or a link put under the temporary name: see replaceFileSync)
      replaceFileSync(file, JSON.stringify({ lock: c.lock, done: true }), 0o600);
    } catch (err) {
      this.note(new AuditIOError(`PostgresSink recovered session ${c.sessionId} but could not mark it so (${(err as Error).message}): the next sink sends its records again, which stores nothing twice.`, { cause: err }));
    }
  }

  /** Claims of crashed sessions not recovered (at close: all; or `only`) are removed, for the next sink to take. */
  private releaseCrashed(only?: Crashed): void {
    for (const c of only ? [only] : this.crashed.splice(0)) {
      if (c.claim === undefined) continue;
      const file = this.markerPath(c.sessionId);
      this.held.drop(file);
      removeIfStill(file, c.claim, `${file}.stale.${OWN_NAME_PID}`);
      c.claim = undefined;
    }
  }

  /**
   * The session row and checkpoints of an adopted spool's session, or of a crashed session
   * recovered from its files: both are sessions whose process is gone (no live process of this
   * host holds their lock). Its status is its session file's when that says `finalized`, else
   * `interrupted`: its process ended without finalizing it (killed, crashed, or exited without
   * `finalizeSession()`), as its lock, left behind or gone, tells. Until 2026-12-05 it was the
   * session file's `active`, and the viewer showed the session as running for good (found by the
   * integrity pass). An `active` row only changes when it is the same run of the session as the
   * file read here (its `pid`, `resumedAt` and `hostname`, and its `procStart` and `pidNs` when both
   * record one: until 2026-12-06 not the `pidNs`, and two containers given one host name, pid 1 in
   * each, passed as one run when their starts matched; before that day's earlier fix not the
   * `procStart` either, and a later run of this host whose process got the crashed run's pid
   * passed as that run; until 2026-12-05 not the hostname, and
   * two first runs of one sessionId on two hosts with the same pid, pid 1 in containers, passed as
   * one: the recovery of one host's crash ended the other host's live run, found by the
   * session-status pass): a logger that resumed the session meanwhile marked
   * its row `active` again, and keeps it so, whichever end state the file read gives (until
   * 2026-12-05 a `finalized` one changed the row of any run: a run that resumed the session
   * after this sink read the previous run's final session file was shown `finalized` while it
   * ran, and its later crash never made it `interrupted`; found by the session-status pass).
   * A final session file (`finalized`) names no run: it changes an `active` row whose run began
   * (its `resumedAt`, else its `startTime`) before the file's `endTime`, the run that finalized or
   * an earlier one; a run that resumed the session after that end keeps its row. Until
   * 2026-12-06 such a file matched no row that named its run, and a session whose sink closed
   * with records still spooled stayed `active` for good after a later sink sent them (found by
   * the PostgreSQL fault pass).
   */
  private async closeAdopted(sid: string, heads: ReadonlyMap<ChainKind, Head>, read?: Record<string, unknown>): Promise<void> {
    const n = this.sql.n;
    this.closedHere.add(sid);
    // (resumed since this sink took the session up, its lock held by a live process again: the
    // row is that run's, and so is the session file, "active", which is no crashed one's; until
    // 2026-12-05 it was read as such and the live run's row marked "interrupted", found by the
    // session-status pass)
    const resumed = sessionLockHeld(this.auditDir!, sid);
    const info = resumed ? undefined : (read ?? this.readSessionInfo(sid) ?? {}); // (no session file: an empty info)
    const status = info?.status === "finalized" ? "finalized" : "interrupted";
    // (each statement once more at once when the server ended its connection, see
    // `againIfEndedHere`: the upsert changes only a row still "active", so one that committed
    // before the ending is left as it made it; the checkpoints are ON CONFLICT DO NOTHING)
    if (info !== undefined) {
      const upsert = `INSERT INTO ${n.sessions} (session_id, info, status, closed_at) VALUES ($1, $2::jsonb, $3, now())
         ON CONFLICT (session_id) DO UPDATE SET info = EXCLUDED.info, status = EXCLUDED.status, closed_at = EXCLUDED.closed_at
         WHERE ${n.sessions}.status = 'active'
           AND ((
             (${n.sessions}.info->>'pid') IS NOT DISTINCT FROM (EXCLUDED.info->>'pid') AND (${n.sessions}.info->>'resumedAt') IS NOT DISTINCT FROM (EXCLUDED.info->>'resumedAt')
             AND (${n.sessions}.info->>'hostname') IS NOT DISTINCT FROM (EXCLUDED.info->>'hostname')
             AND ((${n.sessions}.info->>'procStart') IS NULL OR (EXCLUDED.info->>'procStart') IS NULL OR (${n.sessions}.info->>'procStart') = (EXCLUDED.info->>'procStart'))
             AND ((${n.sessions}.info->>'pidNs') IS NULL OR (EXCLUDED.info->>'pidNs') IS NULL OR (${n.sessions}.info->>'pidNs') = (EXCLUDED.info->>'pidNs'))
           ) OR (
             -- a final session file names no run (no pid): the row is the finalized run's, or an
             -- earlier one's, when that run began (resumed, or started) before the file's end
             $3 = 'finalized' AND (EXCLUDED.info->>'pid') IS NULL AND (EXCLUDED.info->>'endTime') IS NOT NULL
             AND coalesce(${n.sessions}.info->>'resumedAt', ${n.sessions}.info->>'startTime') <= (EXCLUDED.info->>'endTime')
           ))`;
      const values = [sid, jsonbText(JSON.stringify(info)), status];
      await this.againIfEndedHere(`the write of session ${sid}'s row ("${status}")`, () => this.query(upsert, values), RAN_AGAIN);
    }
    if (heads.size === 0) return;
    const rows = [...heads];
    const insert = `INSERT INTO ${n.checkpoints} (session_id, kind, seq, hash)
       SELECT $1, u.k, u.q, u.h FROM unnest($2::text[], $3::bigint[], $4::text[]) AS u(k, q, h)
       ON CONFLICT DO NOTHING`;
    const values = [sid, rows.map(([k]) => k), rows.map(([, h]) => h.seq), rows.map(([, h]) => h.hash)];
    await this.againIfEndedHere(`the write of session ${sid}'s checkpoints`, () => this.query(insert, values), RAN_AGAIN);
  }

  /**
   * Sessions of `dir` (listed as `names`) whose process ended without finalizing them, through
   * its exit hook, whose row this store may still show "active": their PostgresSink left the
   * marker `endedMarker` (see `flushSyncOnExit`), and no live process holds their lock (the
   * session was not resumed since, nor is its process still ending). Costs the listing the sink
   * reads anyway, and one small read per such marker: the marker goes once its row is recorded.
   */
  private findEnded(dir: string, names: readonly string[]): Ended[] {
    const prefix = `.pg_recovery_${this.storeKey}_`;
    const found: Ended[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const sid = name.slice(prefix.length);
      // (the exit hook wrote the session file: a name without one is no ended session's marker,
      // but the workings of a marker being written, `<marker>.<pid>.<random>.tmp`, which must not
      // be removed from under their writer)
      if (sid === this.sessionId || !isFileSessionId(sid) || !names.includes(sessionFileName(sid))) continue;
      const marker = readText(path.join(dir, name));
      if (parseMarker(marker)?.ended !== true || sessionLockHeld(dir, sid)) continue;
      found.push({ sessionId: sid, marker: marker! });
    }
    return found;
  }

  /**
   * Records the end of the sessions `findEnded` found: each row gets its session file's end
   * state (`interrupted`, which the exit hook wrote, or `finalized`) as `closeAdopted` gives it to
   * an adopted spool's session, then the marker goes. Only when the session file says it ended,
   * and no live process holds the lock: a session resumed meanwhile says "active" there (its
   * run's own sink keeps its row), and one whose exit hook could not write its end state says
   * "active" to the files' readers too. A lock a crash left since is the crash recovery's
   * (`recoverCrashed`, before this, took the marker over as its claim: the text differs).
   */
  private async closeEnded(): Promise<void> {
    const dir = this.auditDir!;
    while (this.ended.length > 0) {
      const e = this.ended[0]!;
      const file = this.markerPath(e.sessionId);
      if (readText(file) === e.marker && !sessionLockHeld(dir, e.sessionId)) {
        // (its spool's adoption, or its crash's recovery, recorded the row already: its session
        // file is not read twice)
        const info = this.closedHere.has(e.sessionId) ? undefined : this.readSessionInfo(e.sessionId);
        if (info?.status === "interrupted" || info?.status === "finalized") await this.closeAdopted(e.sessionId, new Map(), info);
        removeIfStill(file, e.marker, `${file}.stale.${OWN_NAME_PID}`);
      }
      this.ended.shift();
    }
  }

  /** This session's own end marker, left by an earlier run of it (see `findEnded`). */
  private removeOwnEnded(): void {
    const file = this.markerPath(this.sessionId!);
    const text = readText(file);
    if (parseMarker(text)?.ended === true) removeIfStill(file, text, `${file}.stale.${OWN_NAME_PID}`);
  }

  /** At close: spools claimed but not replayed get their name back, for the next sink to adopt. */
  private releaseOrphans(): void {
    for (const o of this.orphans.splice(0)) {
      if (!o.spool) continue;
      o.spool.close();
      this.held.drop(o.path);
      const original = o.path.replace(CLAIM_SUFFIX, "");
      try {
        if (!fs.existsSync(original)) fs.renameSync(o.path, original);
      } catch (err) {
        // (gone: another sink took the claim over, and replays it; see adoptOrphans)
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.note(err);
      }
    }
  }

  private counted(added: number, sent: number, recs: readonly SealedRecord[]): void {
    this.counters.stored += added;
    this.counters.duplicates += sent - added;
    raiseHeads(this.heads, recs);
  }

  /**
   * Sends the records of session `sid` that its files held (each kind's up to `tails`, its last
   * seq there) and the store lacks: this session's at open (after a crash, or a sink added later),
   * or another's whose process died holding its lock (see `recoverCrashed`; `names`: the
   * directory's listing). Returns the heads of the records sent.
   */
  private async sendFromFiles(sid: string, tails: Partial<Record<ChainKind, number>>, names?: readonly string[]): Promise<Map<ChainKind, Head>> {
    await this.sendKeys(sid); // (its key lines too, those the records already stored need included)
    const own = sid === this.sessionId;
    const n = this.sql.n;
    // (reads: once more at once when the server ended the connection, see `againIfEndedHere`)
    const have = await this.againIfEndedHere(
      `the read of which records of session ${sid} the store holds`,
      () => this.query<{ kind: ChainKind; mn: string; mx: string; c: string }>(`SELECT kind, min(seq)::text AS mn, max(seq)::text AS mx, count(*)::text AS c FROM ${n.records} WHERE session_id = $1 GROUP BY kind`, [sid]),
      READ_AGAIN,
    );
    const cuts = await this.againIfEndedHere(
      `the read of session ${sid}'s retention cuts`,
      () => this.query<{ kind: ChainKind; through: string }>(`SELECT kind, max(through_seq)::text AS through FROM ${n.retentionCuts} WHERE session_id = $1 GROUP BY kind`, [sid]),
      READ_AGAIN,
    );
    const sent = new Map<ChainKind, Head>();
    const send = async (batch: readonly string[]): Promise<void> => {
      raiseHeads(sent, await this.storeLines(batch, sid));
      if (own) this.counters.backfilled += batch.length;
      else this.counters.recovered += batch.length;
    };
    for (const kind of CHAIN_KINDS) {
      const tail = tails[kind];
      const h = have.rows.find((x) => x.kind === kind);
      if (own && h && Number(h.mx) > (tail ?? 0)) {
        // the store is ahead of the files: they lost records it kept (a crash in a durability
        // mode with a loss window); this logger continues the files' chain, which forks the store's
        this.note(
          new AuditIOError(
            `PostgresSink: the store holds ${kind} records of session ${this.sessionId} up to seq ${h.mx}, the files only up to ${tail ?? 0}: the files lost records in a crash that the store kept. This logger continues the chain from the files, so from seq ${(tail ?? 0) + 1} the store holds two records per seq and verify --postgres reports the fork; the store's records ${(tail ?? 0) + 1}..${h.mx} are the ones the files lost. Use a new sessionId after such a crash to keep the store's chains linear.`,
          ),
        );
        this.forkReported = true;
      }
      if (tail === undefined) continue;
      const cut = Number(cuts.rows.find((x) => x.kind === kind)?.through ?? 0);
      let from = 0;
      if (h) from = Number(h.mx) - Number(h.mn) + 1 === Number(h.c) ? Number(h.mx) : Number(h.mn) - 1;
      from = Math.max(from, cut);
      if (from >= tail) continue;
      let batch: string[] = [];
      let prev: Head | undefined;
      // This session's chain is walked as the readers walk it (walkChain): listed once, a rotation
      // by this logger during the backfill's inserts left the file active at open as a segment
      // never read, and the name read then held only newer records (found 2026-12-05). A dead
      // session's files do not change: the directory's listing serves.
      const steps = own ? ownChain(this.auditDir!, kind, sid) : listedChain(listKindFiles(this.auditDir!, kind, sid, names));
      try {
        outer: for (const step of steps) {
          try {
            for await (const raw of readLines(step.fd ?? step.file.path)) {
              // (a final record that only lacks its newline is one, as in `fileTails`)
              const info = raw.terminated || wholeUnterminatedRecord(raw.text, prev) ? lineInfo(raw.text) : undefined;
              if (!info) continue;
              prev = info;
              if (info.seq <= from) continue;
              if (info.seq > tail) break outer;
              batch.push(raw.text);
              if (batch.length >= this.settings.batchSize) {
                await send(batch);
                batch = [];
              }
            }
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err; // a segment removed by retention meanwhile
          } finally {
            if (step.fd !== undefined) fs.closeSync(step.fd);
          }
        }
      } finally {
        steps.return(undefined);
      }
      if (batch.length > 0) await send(batch);
    }
    return sent;
  }

  /** Records each chain head stored since the last checkpoint; verify checks them against the records. */
  private async writeCheckpoints(): Promise<void> {
    if (!this.pool || !this.ready || this.sessionId === undefined) return;
    const rows = [...this.heads].filter(([k, h]) => (this.checkpointed.get(k) ?? 0) < h.seq);
    // (the last batch's fork check, now that it is committed: see `store`)
    const probes = this.forkReported ? [] : this.unconfirmed;
    if (rows.length === 0 && probes.length === 0) return;
    try {
      // (once more on a new connection when the server ended this one under it, as the UPDATE of
      // the session's row: it is idempotent, and one pg_terminate_backend as close() ran left the
      // session's last checkpoints unwritten and reported a failure; found 2026-12-06. Reported
      // since, as the others are (see `againIfEndedHere`): it was silent)
      const params = [this.sessionId, rows.map(([k]) => k), rows.map(([, h]) => h.seq), rows.map(([, h]) => h.hash), ...probeParams(probes)];
      const r = await this.againIfEndedHere(`the write of session ${this.sessionId}'s checkpoints`, () => this.query<{ forks: string | null }>(this.sql.checkpoint, params), { ...RAN_AGAIN, lostToo: true });
      for (const [k, h] of rows) this.checkpointed.set(k, h.seq);
      if (this.unconfirmed === probes) this.unconfirmed = [];
      const forks = r.rows[0]?.forks;
      if (forks) this.reportFork(forks);
    } catch (err) {
      this.note(new AuditIOError(`PostgresSink could not write checkpoints: ${(err as Error).message}${twiceNote(err)}`, { cause: err }));
    }
  }
}
