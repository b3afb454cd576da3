import { EventEmitter } from "node:events";

import fs from "node:fs";
import path from "node:path";
import { inspect, types, type InspectOptions } from "node:util";
import type { z } from "zod";
import { AuditConfig, checkOptionsArgument } from "./config/config.js";
import type { AuditOptionsInput } from "./config/schema.js";
import { auditContext, runInAuditContext, typeOf } from "./context.js";
import { errorTypeOf, reason } from "./error-type.js";
import { AuditConfigError, AuditIOError, AuditKeyError, AuditRotationError, AuditSessionClosedError, AuditSessionLockedError, AuditValidationError } from "./errors.js";
import { makeDirSync } from "./make-dir.js";
import { sealedLine } from "./pipeline/chain.js";
import { contentHash, encryptValue, valueAad } from "./pipeline/encrypt.js";
import type { EncryptionKey } from "./pipeline/keys.js";
import { kFreshId, newId } from "./record/id.js";
import { toFieldIssues } from "./record/issues.js";
import {
  chatInteractionInputSchema,
  errorInputSchema,
  fileOperationInputSchema,
  performanceMetricInputSchema,
  personaActivityInputSchema,
  toolUsageInputSchema,
  kCaptureFlags,
  kSameCopy,
} from "./record/schemas.js";
import { fastChatInput, fastToolInput } from "./record/fast-input.js";
import { isPlainJson, mergeMembers, toJsonData, toJsonSafe, truncateString, type JsonValue } from "./record/serialize.js";
import { JsonText } from "./record/json-text.js";
import { isoTime } from "./record/time.js";
import { SessionStats } from "./record/stats.js";
import { chainedHolds, checkLoggerCleanupOptions, cleanupSessions, type CleanupResult, type LoggerCleanupOptions, type PruneEvent } from "./retention.js";
import { claimContentId, contentIdTaken, prepareContent, releaseContentClaim, writeContent, writeContentSync, type ContentManifest, type PreparedContent } from "./sink/content.js";
import { contentDirRefusal, postQueuedContent } from "./sink/content-thread.js";

type ContentManifestBase = Omit<ContentManifest, "files">;
import { registerForExit, unregisterForExit, type ExitFlushable } from "./sink/exit.js";
import { CONTENT_DIR, SESSION_FILE_MAX_BYTES, sessionFileName } from "./sink/files.js";
import { DirectorySync, readRegularFileSync, replaceFileSync } from "./regular-file.js";
import { SessionLock } from "./sink/lock.js";
import { OWN_HOSTNAME, OWN_PID_NS, OWN_PROC_START } from "./sink/owner.js";
import { addHold, holdsToRelease, removeHolds, type LegalHold } from "./holds.js";
import { SESSION_ID_PATTERN } from "./config/schema.js";
import { KindWriter } from "./sink/writer.js";
import { keyStoreFileName, SubjectKeys, shredSubjectKeys, userSubjectTags } from "./pipeline/keyring.js";
import { Redactor, type RedactOptions, type RedactionCounts } from "./pipeline/redact.js";
import { Checkpointer, type CheckpointHeads } from "./integrity/checkpointer.js";
import { ThreadLink } from "./thread/link.js";
import type { BatchItem, InputItem, LogMethod } from "./thread/protocol.js";
import { approxBytes } from "./thread/size.js";
import type { Checkpoint } from "./integrity/checkpoint.js";
import {
  type AuditSink,
  CHAIN_KINDS,
  type ChainKind,
  type SealedRecord,
  type AuditEventType,
  type AuditContextValue,
  type ChatInteractionInput,
  type ErrorInput,
  type FileOperationInput,
  type InputBuilder,
  type PerformanceMetricInput,
  type PersonaActivityInput,
  type SessionSummary,
  type ToolUsageInput,
} from "./types.js";

const FILE_MODE = 0o600;
const MAX_PENDING_CONTENT = 256;
/**
 * At most this much content the disk refused is kept to be written again (see `contentRefused`);
 * past it, a newly refused file is dropped and reported (verify names it content_missing): a
 * long outage must not grow the app's memory without bound.
 */
const MAX_REFUSED_CONTENT_BYTES = 64 * 1024 * 1024;

/**
 * What the flush timer writes of the refused content files (see `contentRefused`) in one turn of
 * the event loop, on the app's thread: files, in order, until this many milliseconds or bytes
 * are spent (one file at least, whatever its size); the rest follow in the next turns
 * (setImmediate), the app's I/O and timers running in between. Found by the durability pass,
 * 2026-12-05: the timer wrote the whole backlog in one go, up to MAX_REFUSED_CONTENT_BYTES, and
 * the app's event loop stood still meanwhile: 860 ms for 5,000 files of 8 KB, 370 ms for 28 of
 * 2 MiB (2-vCPU VM; docs/BENCHMARKS.md).
 */
const REFUSED_CONTENT_SLICE = { ms: 8, bytes: 4 * 1024 * 1024 } as const;

/**
 * At most this much of the record lines the disk refused (every kind's, with the lines queued
 * behind them) is kept in memory to be written again; past it, a new record is not kept: its log
 * call returns its id as usual, an `error` event says "Not kept", and once the disk takes data
 * again one `errors` record (`audit_records_not_kept`) counts them. Found by the durability
 * operator pass, 2026-12-05: a file-size limit never lifted (RLIMIT_FSIZE, a full disk) kept
 * every record made since in memory, ~30 MB per 50,000 records, without bound.
 */
const MAX_REFUSED_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * Failures of a content file's write that the disk's state causes and may end (full, file too
 * large, quota, read-only, permissions, I/O error, out of descriptors): the file is kept and
 * written again. Others (a name taken by another file, a planted link) would fail the same way
 * for good: reported and not tried again.
 */
const DISK_REFUSALS = new Set(["ENOSPC", "EDQUOT", "EFBIG", "EIO", "EROFS", "EACCES", "EPERM", "EMFILE", "ENFILE", "EAGAIN", "EBUSY", "EINTR", "ENOMEM"]);
/** What a report says of a refused content file not kept (see MAX_REFUSED_CONTENT_BYTES). */
function refusedFull(id: string): string {
  return `Not kept: ${MAX_REFUSED_CONTENT_BYTES / 1024 / 1024} MiB of content the disk refused before waits for it already; interaction ${id}'s full content is lost (verify names it content_missing), its record is kept.`;
}

/** keyOrNotKept's answer for a record not kept: its subject's new data key refused past MAX_REFUSED_RECORD_BYTES. */
const KEY_NOT_STORED = Symbol("key not stored");

function diskRefused(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && DISK_REFUSALS.has(code);
}
/**
 * The same bound in bytes: past this much content on its way to the content-writer thread, the
 * files are written on the app's thread (256 interactions of 1 MB were 256 MB in memory).
 */
const MAX_PENDING_CONTENT_BYTES = 16 * 1024 * 1024;
/**
 * `fsync` mode: a failed group commit is retried after a pause that doubles from 50 ms up to this.
 * It was 5 s until 2026-12-05 (found by the durability pass): an app that went quiet during a long
 * outage kept the refused records and content files in memory for up to 5 s after the disk took
 * data again, and a SIGKILL then lost them; `async` and `sync` modes retry once per
 * flushIntervalMs (100 ms). A failed attempt costs a few refused system calls and one `error`
 * event: at most one a second.
 */
const FSYNC_RETRY_MAX_MS = 1000;
/** `fsync` mode: records waiting this long for a group commit are handed to the OS by the next log call (see commitSoon) */
const FSYNC_WRITE_DUE_MS = 10;
const DIR_MODE = 0o700;

type Fields = Record<string, unknown>;

/** Events an AuditLogger emits. `error` is emitted only when someone listens (else a process warning). */
export interface AuditLoggerEvents {
  error: [error: Error];
  /** a segment was closed (emitted within the log call that rotated, once its record is written) */
  rotate: [segmentPath: string];
  checkpoint: [checkpoint: Checkpoint];
}

function validate<S extends z.ZodType>(schema: S, input: unknown, method: string): z.output<S> {
  const r = schema.safeParse(input);
  // (a log call's input has fields, not options)
  if (!r.success) throw new AuditValidationError(method, toFieldIssues(r.error, "", schema, "field"));
  return r.data;
}

/** Cuts at most `n` UTF-16 units without splitting a surrogate pair. */
function preview(text: string, n: number): string {
  if (text.length <= n) return text;
  let end = n;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return text.slice(0, end);
}

function putSensitive(key: EncryptionKey | undefined, f: Fields, encrypted: string[], id: string, field: string, text: string): void {
  if (key) {
    f[field] = encryptValue(key, text, valueAad(id, field));
    encrypted.push(field);
  } else {
    f[field] = text;
  }
}

function asText(v: unknown): { text: string; format: "text" | "json" } {
  if (typeof v === "string") return { text: v, format: "text" };
  if (v instanceof JsonText) return { text: v.text, format: "json" };
  if (v === undefined) return { text: "", format: "text" };
  return { text: JSON.stringify(toJsonSafe(v, Number.POSITIVE_INFINITY)), format: "json" };
}

/**
 * The parts of an audit context a record takes, for the worker thread: not the logger; the
 * metadata (copied as JSON data) only `withMetadata`, for data a builder makes the input of on
 * the worker, whose log call merges it then. A validated input has it merged in by `forWorker`.
 */
function contextData(ctx: AuditContextValue, withMetadata = false): InputItem["c"] {
  const c: { -readonly [K in keyof NonNullable<InputItem["c"]>]: NonNullable<InputItem["c"]>[K] } = {};
  if (withMetadata && ctx.metadata !== undefined) c.metadata = toJsonData(ctx.metadata) as Record<string, unknown>;
  if (ctx.traceId !== undefined) c.traceId = ctx.traceId;
  if (ctx.parentId !== undefined) c.parentId = ctx.parentId;
  if (ctx.userId !== undefined) c.userId = ctx.userId;
  if (ctx.persona !== undefined) c.persona = ctx.persona;
  if (ctx.sessionId !== undefined) c.sessionId = ctx.sessionId;
  return c;
}

/**
 * A validated input as the worker thread gets it. The metadata is the context's merged with the
 * call's, as `append()` merges them, in the JSON data form (`toJsonData`: nothing cut, so the
 * worker's logger cuts what it would have cut of the original). With `copy` (a call the app
 * made: it may change its objects afterwards) every other field that is an object is copied the
 * same way, each on its own (so depth limits count from the field, as in `append()`); without it
 * (a deferred step's input: the integration's own data, sent in this same tick) they are not.
 * (A structured clone would not do: it drops prototypes, so `toJSON`, getters and an Error's own
 * fields would be lost, and it refuses functions.)
 */
function forWorker(v: Record<string, unknown>, ctxMetadata: Readonly<Record<string, unknown>> | undefined, copy: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) {
    if (key === "metadata") continue;
    const x = v[key];
    // (JsonText would reach the worker as a plain object: its data goes instead)
    out[key] = x instanceof JsonText ? JSON.parse(x.text) : copy && typeof x === "object" && x !== null ? toJsonData(x) : x;
  }
  const own = v.metadata as Record<string, unknown> | undefined;
  const meta = ctxMetadata && own ? mergeMembers(ctxMetadata, own) : (own ?? ctxMetadata);
  if (meta !== undefined) out.metadata = toJsonData(meta);
  return out;
}

/**
 * The time of the record being made, when it is not now: the worker thread's logger makes each
 * record at the time of its call on the app's thread. Set only around one log call.
 */
let recordTimeOverride: number | undefined;

/**
 * `thread: true`: records queued on the app's thread past which the queue goes to the worker at
 * once, not at the next `flushIntervalMs` (a burst is sent in batches of this size; the worker's
 * backlog is bounded in turn, see ThreadLink's MAX_IN_FLIGHT).
 */
const THREAD_QUEUE_MAX = 1024;
/**
 * `thread: true`: the estimated bytes (see src/thread/size.ts) of the records queued on the app's
 * thread past which the queue goes to the worker at once, as THREAD_QUEUE_MAX does for records.
 */
const THREAD_QUEUE_BYTES = 1 << 20;

/** @internal Runs `fn` (one log call) so that its record carries the time `at`. */
export function withRecordTime<R>(at: number, fn: () => R): R {
  recordTimeOverride = at;
  try {
    return fn();
  } finally {
    recordTimeOverride = undefined;
  }
}

/** Per logger, the Redactor of the text its warnings print (null: the logger does not redact). */
const reportRedactors = new WeakMap<object, Redactor | null>();

/**
 * @internal `text` (a failure's message, for a process warning on stderr) redacted as the
 * logger's records are: with its `redact` options, on the app's thread also with `thread: true`.
 * A warning is printed where nobody listens for `error`: it wrote a message quoting what the app
 * was given (a capture function's error quoting an API key) in clear, beside a trail that redacts
 * it (found by the security pass, 2026-12-06). Text that cannot be redacted is not printed.
 */
export function redactedForReport(logger: AuditLogger, text: string): string {
  let redactor = reportRedactors.get(logger);
  try {
    if (redactor === undefined) {
      // (a logger of another copy of the package has the same config)
      const redact = (logger.config as { redact?: unknown } | undefined)?.redact;
      redactor = typeof redact === "object" && redact !== null ? new Redactor(redact as RedactOptions) : null;
      reportRedactors.set(logger, redactor);
    }
    return redactor === null ? text : redactor.redactText(text, {});
  } catch {
    return "(its message is not shown: it could not be redacted)";
  }
}

/** An explicit chat id that already has content files in this audit directory (or another writer claimed it: see claimContentId). */
function duplicateIdError(id: string): AuditValidationError {
  return new AuditValidationError("logChatInteraction", [{ field: "id", message: `interaction ${id} already has content files here (or another logger is writing them); ids must be unique (omit id to get a fresh one)` }]);
}

/** Set while the worker thread of `thread: true` constructs its logger, which owns the session itself. */
let constructingInWorker = false;

/** @internal (src/thread/worker.ts) The logger that owns a `thread: true` session, in its worker. */
export function sessionOwner(options: AuditOptionsInput): AuditLogger {
  constructingInWorker = true;
  try {
    return new AuditLogger(options);
  } finally {
    constructingInWorker = false;
  }
}

/** This module's URL, and the directory of the package it belongs to (`dist/` when built). */
const OWN_URL = import.meta.url;
const PACKAGE_ROOT = new URL("../", import.meta.url).href;

/**
 * A module the worker thread of `thread: true` may import to make inputs there: a file of this
 * package, other than this module. In a bundle every module has the bundle's URL (this one's
 * too), and a bundle of the app with the integrations but not this package lies outside it.
 */
function ownModule(url: string): boolean {
  return url.startsWith("file:") && url.startsWith(PACKAGE_ROOT) && url !== OWN_URL;
}

/**
 * Makes the logger's public `readonly` fields read-only at runtime too: non-writable,
 * non-configurable own properties, their values kept. An assignment from JavaScript (or through
 * `as any`) throws a TypeError in strict code and is ignored in sloppy code; until 2026-12-06 it
 * took, and records named another session while going to the first one's files. (A plain data
 * property still, read per record as fast as before: no getter on the record path.)
 */
function fixFields(logger: AuditLogger, ...keys: ReadonlyArray<"config" | "sessionId" | "auditDir" | "startTime">): void {
  for (const key of keys) Object.defineProperty(logger, key, { writable: false, configurable: false });
}

/** How many explicit ids of chat records queued for the worker are remembered (see `queue`). */
const QUEUED_IDS_KEPT = 10_000;

/** How the session file names a sink (`config.sinks`): its `description`, else its class name. */
function sinkName(sink: AuditSink): string {
  return typeof sink.description === "string" ? sink.description : (sink.constructor?.name ?? "sink");
}

/** What the exit hook names when the session file's end state could not be written (see noteEndOnExit). */
const END_STATE_NOT_WRITTEN = `the session file's end state ("interrupted"; it still says "active")`;

/**
 * Records the six kinds of audit events of one session into hash-chained JSONL files.
 *
 * @example
 * const logger = new AuditLogger({ sessionId: "support_bot", projectPath: process.cwd() });
 * logger.logChatInteraction({ prompt: "Hi", response: "Hello!", model: "claude-3", tokensUsed: 12 });
 * await logger.finalizeSession();
 */
export class AuditLogger extends EventEmitter<AuditLoggerEvents> implements ExitFlushable, AsyncDisposable {
  readonly config: AuditConfig;
  readonly sessionId: string;
  /** @internal this logger takes `promptCaptured`/`responseCaptured` (see kCaptureFlags) */
  readonly [kCaptureFlags] = true;
  /** @internal a logger of this copy of the package (see forLogger in src/instrument.ts) */
  readonly [kSameCopy] = true;
  readonly auditDir: string;
  readonly startTime: string;
  private readonly master: EncryptionKey | undefined;
  private subjectKeys: SubjectKeys | undefined;
  private readonly redactor: Redactor | undefined;
  private readonly writers!: Record<ChainKind, KindWriter>;
  private readonly checkpointer: Checkpointer | undefined;
  /** `fsync` mode: the audit directory's new names (chain files, rotations, the checkpoints file), synced before a commit is reported durable */
  private readonly names!: DirectorySync;
  /**
   * `fsync` mode: the content directory's (`full_interactions/`) new names, the content files and
   * manifests written since, synced by the group commit beside the chain files (see contentWritten)
   */
  private readonly contentNames!: DirectorySync;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private rotationCheckpointDue = false;
  private readonly lock!: SessionLock;
  private readonly stats = new SessionStats();
  private readonly pendingContent = new Set<Promise<void>>();
  /**
   * Sealed records held from the sinks (see releaseToSinks): `fsync` mode, those whose lines are
   * not yet written to their files; `sync`/`async`, those of a kind whose lines wait for a new
   * data key (see appendNow)
   */
  private sinkHeld: SealedRecord[] = [];
  /** `sync`/`async` modes: the kinds `sinkHeld` holds records of (see releaseToSinks) */
  private readonly sinkHeldKinds = new Set<ChainKind>();
  /**
   * The sinks this logger writes to: `config.sinks`, less those whose `open()` refused this
   * logger with an AuditConfigError (a PostgresSink that serves another logger already; see
   * docs/POSTGRES.md). Such a sink gets none of this logger's records, flushes or close.
   */
  private sinks: readonly AuditSink[] = [];
  /**
   * The sinks whose `open()` refused this logger, as the session file names them, and why: they
   * are listed there as `config.refusedSinks`, not in `config.sinks` (which named them as if the
   * records went there until 2026-12-05; found by the integrity pass)
   */
  private refusedSinks: Array<{ readonly sink: string; readonly reason: string }> = [];
  /** the bytes of the content files in `pendingContent` */
  private pendingContentBytes = 0;
  /** content being written off the app's thread (src/sink/content-thread.ts), so the exit hook can write it synchronously */
  private readonly contentInFlight = new Map<string, { content: PreparedContent; manifest: ContentManifestBase }>();
  /**
   * content files the disk refused (full, file too large), kept (also in `contentInFlight`, for
   * the exit hook) and written again, in order, before the record lines at every write-out, as
   * refused record lines are (found by the durability operator pass, 2026-12-05: they were
   * dropped, and their records verified as content_mismatch for good)
   */
  private readonly contentRefused = new Map<string, { content: PreparedContent; manifest: ContentManifestBase }>();
  private closed = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /**
   * The exit hook has flushed as the process ends: a record made after it (in an `exit` listener
   * of the app's registered after the logger) is written at once, as nothing runs later to write
   * it (it was buffered and lost without a word; found by review, 2026-12-04).
   */
  private exitFlushed = false;
  private inExitFlush = false;
  /** when the flush the timer stands for is due (see scheduleFlush) */
  private flushDueAt = 0;
  private commitScheduled = false;
  /** `fsync` mode: when the oldest record not yet handed to the OS was made (see commitSoon) */
  private unwrittenSince: number | undefined;
  private commitRunning = false;
  private commitWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private warnedNoListener = false;
  /** deferred recording steps, each as two items: the function and its argument */
  private deferred: unknown[] = [];
  /** records that wait on something under way (see awaitRecord): what makes each now, and until when flush() waits for it */
  private readonly awaited = new Map<Promise<void>, { readonly now: () => void; readonly deadline: number }>();
  private reporting = false;
  /** appends under way, one within another (a record made by one: see report) */
  private appending = 0;
  /** failures met during an append, to be recorded once it has ended (see report) */
  private reportsAfterAppend: Array<{ readonly err: Error; readonly writeFailure: boolean; readonly recovered: boolean }> = [];
  /** a chain file write failed and not every buffer has been written since (see report) */
  private writeFailing = false;
  /** records not kept during an outage (see MAX_REFUSED_RECORD_BYTES), to be counted in an `errors` record once it ends */
  private notKept: { count: Map<ChainKind, number>; firstId: string; lastId: string; firstAt: string } | undefined;
  /** an `error` listener is running (see announce) */
  private emittingError = false;
  /** an `error` listener threw on a later turn, told once as a process warning (see announce) */
  private warnedListenerThrew = false;
  /** the OS's answer to the last attempt to write the refused record lines (see refusedRecordsFull) */
  private refusedRecordsError: unknown;
  /** past MAX_REFUSED_RECORD_BYTES, when a log call may write the refused record lines again (see refusedRecordsFull) */
  private refusedRetryAt = 0;
  private commitBackoffMs = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  /** segments closed while the current record was being written, announced after it */
  private rotatedSegments: string[] = [];
  /** `thread: true`: the worker thread that owns the session, and the records queued for it */
  private readonly remote: ThreadLink | undefined;
  private queued: BatchItem[] = [];
  /** the estimated bytes of `queued` (see src/thread/size.ts) */
  private queuedBytes = 0;
  /** the summary finalizeSession() wrote (`thread: true`: the worker returned) */
  private finalSummary: SessionSummary | undefined;
  /** `thread: true`: the worker's answer to finalizeSession(), while it is awaited */
  private finalized: Promise<SessionSummary> | undefined;
  /** true while deferred recording steps run: what they queue is sent in this same tick */
  private draining = false;
  /** `thread: true`: finalizeSession() is waiting for the worker (the exit hook still waits for it) */
  private finalizing = false;
  /** finalizeSession() under way (or done): a second call is refused at once, and disposal waits for this one */
  private finalizeRun: Promise<SessionSummary> | undefined;
  /** finalizeSession() ended the session: the session file is written (the worker answered), the lock released */
  private ended = false;
  /** `thread: true`: explicit ids of chat records with content files queued lately (see `queue`) */
  private readonly queuedContentIds = new Set<string>();
  /** `thread: true`: the number each integration's input builder is loaded under on the worker; false while loading, or when it cannot be */
  private readonly builderIds = new Map<InputBuilder<never>, number | false>();

  /**
   * What `console.log(logger)` and `util.inspect` show: the session, its directory, whether it is
   * closed, and the configuration's JSON view, never a key (found by a re-review, 2026-12-05: util.inspect / console.log printed the master key bytes, the
   * hmac redaction key or a connection string's password held in its fields)
   */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `AuditLogger ${inspect(this.toJSON(), { ...options, customInspect: true })}`;
  }

  /** What `JSON.stringify` writes: what `util.inspect` shows, never a key (found by a security pass, 2026-12-05: only util.inspect had been fixed, and JSON.stringify, what pino or winston does with a logged object, wrote the key bytes or the connection string's password) */
  toJSON(): { sessionId: string; auditDir: string; closed: boolean; config: Record<string, unknown> } {
    return { sessionId: this.sessionId, auditDir: this.auditDir, closed: this.closed, config: this.config.toJSON() };
  }

  constructor(options: AuditConfig | AuditOptionsInput = {}) {
    super();
    checkOptionsArgument(options, "new AuditLogger(options)");
    this.config = options instanceof AuditConfig ? options : new AuditConfig(options);
    this.sinks = this.config.sinks;
    this.sessionId = this.config.sessionId;
    this.auditDir = this.config.auditDir;
    this.names = new DirectorySync(this.auditDir);
    this.contentNames = new DirectorySync(path.join(this.auditDir, CONTENT_DIR), this.auditDir);
    fixFields(this, "config", "sessionId", "auditDir");
    if (this.config.thread && !constructingInWorker) {
      // the worker opens the session (and throws what opening it throws, here)
      const { onCheckpoint: _callback, sinks: _none, ...options } = this.config.toOptions();
      // (outside any audit context, as every timer and thread of the kit: see scheduleFlush)
      this.remote = runInAuditContext(
        undefined,
        () =>
          new ThreadLink(options, {
            error: (err) => this.announce(err),
            rotate: (segment) => this.emitSafely("rotate", segment),
            checkpoint: (checkpoint) => this.checkpointWritten(checkpoint as Checkpoint),
          }),
      );
      this.startTime = this.remote.startTime;
      fixFields(this, "startTime");
      registerForExit(this);
      return;
    }
    const master = this.config.encryptSensitiveContent ? AuditConfig.keyOf(this.config) : undefined;
    try {
      // (one level at a time: Node's recursive mkdir never returns under /proc, and the app's
      // constructor hung for good; see makeDirSync)
      makeDirSync(this.auditDir, DIR_MODE, "projectPath");
      if (this.config.fullContentLogging) makeDirSync(path.join(this.auditDir, CONTENT_DIR), DIR_MODE, "projectPath");
    } catch (cause) {
      throw new AuditIOError(`Cannot create the audit directory ${this.auditDir}: ${reason(cause)}. Check projectPath and its permissions.`, { cause });
    }
    // (a link there took every content file out of the audit directory: see contentDirRefusal)
    if (this.config.fullContentLogging) {
      const refused = contentDirRefusal(path.join(this.auditDir, CONTENT_DIR));
      if (refused) throw refused;
    }
    this.master = master;
    this.redactor = this.config.redact ? new Redactor(this.config.redact) : undefined;
    try {
      this.lock = new SessionLock(this.auditDir, this.sessionId);
    } catch (cause) {
      if (cause instanceof AuditSessionLockedError) throw cause;
      // (a bare EACCES Error before; review, 2026-12-04)
      throw new AuditIOError(`Cannot write the session lock in the audit directory ${this.auditDir}: ${reason(cause)}. Make the directory writable by this process's user, or choose another projectPath.`, { cause });
    }
    try {
      const writers = {} as Record<ChainKind, KindWriter>;
      for (const kind of CHAIN_KINDS) {
        writers[kind] = new KindWriter({
          auditDir: this.auditDir,
          kind,
          sessionId: this.sessionId,
          durability: this.config.durability,
          rotationBytes: this.config.rotation.sizeBytes,
          rotationFrequency: this.config.rotation.frequency,
          fileMode: FILE_MODE,
          onNewName: () => this.names.mark(),
          onRotate: (p) => {
            this.rotationCheckpointDue = true;
            // announced once the record being written is complete (end of append): a listener
            // that logs to the same kind must not run while that record is half sealed
            this.rotatedSegments.push(p);
          },
          onWriteError: (err) =>
            this.report(new AuditIOError(`Writing ${kind} records failed: ${reason(err)}. They stay buffered and are retried by themselves, at the next write and by flush().`, { cause: err }), true),
        });
      }
      this.writers = writers;
      this.subjectKeys = master ? new SubjectKeys(master, this.auditDir, this.sessionId) : undefined;
      const signer = AuditConfig.signerOf(this.config);
      this.checkpointer = signer ? new Checkpointer(this.auditDir, this.sessionId, signer, this.config.durability, this.names) : undefined;
      this.startTime = this.writeSessionFile();
      fixFields(this, "startTime");
    } catch (err) {
      this.lock.release();
      throw err;
    }
    registerForExit(this);
    if (this.config.autoCleanup) {
      try {
        this.runCleanup({});
      } catch (err) {
        this.report(new AuditIOError(`Automatic cleanup failed: ${(err as Error).message}`, { cause: err }));
      }
    }
    if (this.checkpointer) {
      this.checkpointTimer = runInAuditContext(undefined, () =>
        setInterval(() => {
          if (this.checkpointer!.recordsSinceLast > 0) this.writeCheckpoint("interval");
        }, this.config.checkpointEvery.seconds * 1000),
      );
      this.checkpointTimer.unref();
    }
    for (const sink of this.config.sinks) {
      try {
        sink.open?.({ sessionId: this.sessionId, auditDir: this.auditDir, onError: (e) => this.report(e), onRecovered: (e) => this.report(e, false, true) });
      } catch (err) {
        // (a sink that cannot serve this logger: it gets nothing from it, so that this logger's
        // records, flush() and finalizeSession() do not reach the session it serves; found by
        // the PostgreSQL new-user pass, 2026-12-05: one PostgresSink shared by two loggers)
        if (err instanceof AuditConfigError) {
          this.sinks = this.sinks.filter((s) => s !== sink);
          this.refusedSinks.push({ sink: sinkName(sink), reason: (err as Error).message });
        }
        this.report(new AuditIOError(`Opening sink ${sink.constructor?.name ?? "sink"} failed: ${(err as Error).message}`, { cause: err }));
      }
    }
    if (this.refusedSinks.length > 0) {
      // (the session file was written before the sinks opened, naming them all: written again
      // with what the logger really writes to)
      try {
        this.writeJsonAtomic(sessionFileName(this.sessionId), { ...this.openedInfo, config: this.sessionConfig() });
      } catch (err) {
        this.report(new AuditIOError(`Writing the session file ${sessionFileName(this.sessionId)} again, without the sinks that refused this logger, failed: ${reason(err)}. It still lists them; finalizeSession() writes it right.`, { cause: err }));
      }
    }
    const cpRepair = this.checkpointer?.repair;
    if (cpRepair) {
      const name = path.basename(cpRepair.file);
      this.logError({
        errorType: "audit_log_repaired",
        severity: "warning",
        message: cpRepair.completed ? `Completed the final checkpoint of ${name}, which lacked its newline after a crash.` : `Cut a torn final line (${cpRepair.bytesRemoved} bytes) from ${name} left by a crash; the checkpoints continue from the last whole one.`,
        context: { file: name, bytesRemoved: cpRepair.bytesRemoved },
      });
    }
    for (const kind of CHAIN_KINDS) {
      const repair = this.writers[kind].repair;
      if (repair) {
        this.logError({
          errorType: "audit_log_repaired",
          severity: "warning",
          message: repair.completed
            ? `Completed the final record of ${path.basename(repair.file)}, which lacked its newline after a crash.`
            : `Cut a torn final line (${repair.bytesRemoved} bytes) from ${path.basename(repair.file)} left by a crash; the chain continues from seq ${this.writers[kind].seq}.`,
          context: { file: path.basename(repair.file), kind, bytesRemoved: repair.bytesRemoved, continuedFromSeq: this.writers[kind].seq },
        });
      }
    }
  }

  /** Records an LLM call; returns the interaction id. */
  logChatInteraction(input: ChatInteractionInput): string {
    this.assertOpen("logChatInteraction");
    const v = fastChatInput(input) ?? validate(chatInteractionInputSchema, input, "logChatInteraction");
    // (an id the kit made for this call is fresh: no content files to look for, see kFreshId)
    const freshId = (input as { [kFreshId]?: true })[kFreshId] === true;
    if (this.remote) return this.queue("logChatInteraction", v, freshId);
    const ctx = auditContext.get();
    const rc: RedactionCounts = {};
    const id = v.id ?? newId();
    const cfg = this.config;
    // (a part not captured keeps nothing of it: an empty text's length, preview, hash and
    // content file said the prompt was empty; found by a new-user run, 2026-12-03)
    const promptKept = v.promptCaptured !== false;
    const responseKept = v.responseCaptured !== false;
    const prompt = promptKept ? this.contentText(v.prompt, rc) : NOT_CAPTURED;
    const response = responseKept ? this.contentText(v.response, rc) : NOT_CAPTURED;
    const persona = v.persona ?? ctx?.persona;
    const key = this.keyOrNotKept("chat_interaction", id, v.userId ?? ctx?.userId);
    if (key === KEY_NOT_STORED) return id;
    const f: Fields = { interactionType: v.interactionType ?? "chat", model: v.model ?? "unknown" };
    if (v.provider !== undefined) f.provider = v.provider;
    if (persona !== undefined) f.persona = persona;
    const encrypted: string[] = [];
    if (cfg.contentPreviewChars > 0) {
      if (promptKept) putSensitive(key, f, encrypted, id, "promptPreview", preview(prompt.text, cfg.contentPreviewChars));
      if (responseKept) putSensitive(key, f, encrypted, id, "responsePreview", preview(response.text, cfg.contentPreviewChars));
    }
    if (prompt.format === "json") f.promptFormat = "json";
    if (response.format === "json") f.responseFormat = "json";
    f.promptLength = prompt.text.length;
    f.responseLength = response.text.length;
    if (!promptKept) f.promptCaptured = false;
    if (!responseKept) f.responseCaptured = false;
    let content: PreparedContent | undefined;
    // (none when neither part was captured; one part not captured has an empty file, and the
    // record says so)
    if (cfg.fullContentLogging && (promptKept || responseKept)) {
      // (an explicit id is claimed on disk as the record is made, below)
      if (v.id !== undefined && this.contentInFlight.has(id)) throw duplicateIdError(id);
      content = prepareContent(id, prompt.text, response.text, key);
    }
    if (cfg.storeContentHashes) {
      // unencrypted, the content files hold the texts' UTF-8 bytes: their digests are these hashes
      if (promptKept) f.promptHash = content && !key ? `sha256:${content.refs.prompt.sha256}` : contentHash(prompt.text, key);
      if (responseKept) f.responseHash = content && !key ? `sha256:${content.refs.response.sha256}` : contentHash(response.text, key);
    }
    const tokensUsed = v.tokensUsed ?? (v.inputTokens !== undefined || v.outputTokens !== undefined ? (v.inputTokens ?? 0) + (v.outputTokens ?? 0) : undefined);
    if (tokensUsed !== undefined) f.tokensUsed = tokensUsed;
    if (v.inputTokens !== undefined) f.inputTokens = v.inputTokens;
    if (v.outputTokens !== undefined) f.outputTokens = v.outputTokens;
    if (v.usage !== undefined) f.usage = this.json(v.usage, rc, "usage");
    if (v.durationSeconds !== undefined) f.durationSeconds = v.durationSeconds;
    if (v.timeToFirstTokenSeconds !== undefined) f.timeToFirstTokenSeconds = v.timeToFirstTokenSeconds;
    if (v.finishReason !== undefined) f.finishReason = v.finishReason;
    if (v.toolCalls !== undefined && cfg.storeToolPayloads) {
      const safe = this.json(v.toolCalls, rc, "toolCalls");
      if (key) putSensitive(key, f, encrypted, id, "toolCalls", JSON.stringify(safe));
      else f.toolCalls = safe;
    }
    f.success = v.success ?? v.errorMessage === undefined;
    if (v.errorMessage !== undefined) f.errorMessage = this.text(v.errorMessage, rc);
    if (v.statusCode !== undefined) f.statusCode = v.statusCode;
    if (content) f.fullContent = content.refs;
    // An explicit id is claimed by creating its manifest, empty, exclusively (see
    // claimContentId): another logger (or process) with the same id meets it and is refused
    // here, before its record is made. (A kit-made id is fresh: nothing to claim.)
    if (content && v.id !== undefined && !freshId) {
      // (this logger's own claim, its content still on its way or refused: a duplicate, however
      // old; see claimContentId for another process's)
      if (this.contentInFlight.has(id) || this.contentRefused.has(id)) throw duplicateIdError(id);
      const claim = claimContentId(this.auditDir, id, FILE_MODE);
      if (claim === false) throw duplicateIdError(id);
      if (claim) content = { ...content, claimed: true };
    }
    let kept = false;
    try {
      kept = this.append("chat_interaction", id, v, ctx, f, encrypted, content, key, rc);
    } finally {
      // (no record, or its content never handed on: the claim is given up, the id free again)
      if (!kept && content?.claimed && !this.contentInFlight.has(id)) releaseContentClaim(this.auditDir, id);
    }
    if (kept) this.stats.chat(f.model as string, persona, tokensUsed, v.inputTokens, v.outputTokens, f.success as boolean);
    return id;
  }

  /** Records what a persona (agent role) did; returns the record id. */
  logPersonaActivity(input: PersonaActivityInput): string {
    this.assertOpen("logPersonaActivity");
    const v = validate(personaActivityInputSchema, input, "logPersonaActivity");
    if (this.remote) return this.queue("logPersonaActivity", v);
    const ctx = auditContext.get();
    const rc: RedactionCounts = {};
    const id = v.id ?? newId();
    const f: Fields = { personaName: v.personaName, activityType: v.activityType };
    if (v.description !== undefined) f.description = this.text(v.description, rc);
    if (v.durationSeconds !== undefined) f.durationSeconds = v.durationSeconds;
    if (v.success !== undefined) f.success = v.success;
    if (v.details !== undefined) f.details = this.json(v.details, rc, "details");
    if (this.append("persona_activity", id, v, ctx, f, [], undefined, undefined, rc)) this.stats.persona(v.personaName);
    return id;
  }

  /** Records a tool call; parameters and result are encrypted when encryption is on. */
  logToolUsage(input: ToolUsageInput): string {
    this.assertOpen("logToolUsage");
    const v = fastToolInput(input) ?? validate(toolUsageInputSchema, input, "logToolUsage");
    if (this.remote) return this.queue("logToolUsage", v);
    const ctx = auditContext.get();
    const rc: RedactionCounts = {};
    const id = v.id ?? newId();
    // (`operation` is free text to the kit: withAuditFetch's "METHOD host/path" carries the URL's
    // path, whose secrets and e-mail addresses were written as they were, while the same URL in
    // `parameters` was redacted and encrypted; review, 2026-12-04)
    const f: Fields = { toolName: v.toolName, operation: this.redactor ? this.redactor.redactText(v.operation, rc) : v.operation };
    const persona = v.persona ?? ctx?.persona;
    if (persona !== undefined) f.persona = persona;
    const key = this.keyOrNotKept("tool_usage", id, v.userId ?? ctx?.userId);
    if (key === KEY_NOT_STORED) return id;
    const encrypted: string[] = [];
    for (const field of ["parameters", "result"] as const) {
      const value = v[field];
      if (value === undefined) continue;
      const safe = this.json(value, rc, field);
      const text = JSON.stringify(safe);
      if (this.config.storeToolPayloads) {
        if (key) putSensitive(key, f, encrypted, id, field, text);
        else f[field] = safe;
      }
      f[`${field}Length`] = text.length;
    }
    const success = v.success ?? v.errorMessage === undefined;
    f.success = success;
    if (v.errorMessage !== undefined) f.errorMessage = this.text(v.errorMessage, rc);
    if (v.durationSeconds !== undefined) f.durationSeconds = v.durationSeconds;
    if (this.append("tool_usage", id, v, ctx, f, encrypted, undefined, undefined, rc)) this.stats.tool(success);
    return id;
  }

  /** Records a file operation (the file's path, size and hash, not its content). */
  logFileOperation(input: FileOperationInput): string {
    this.assertOpen("logFileOperation");
    const v = validate(fileOperationInputSchema, input, "logFileOperation");
    if (this.remote) return this.queue("logFileOperation", v);
    const ctx = auditContext.get();
    const rc: RedactionCounts = {};
    const id = v.id ?? newId();
    const f: Fields = { operation: v.operation, filePath: this.redactor ? this.redactor.redactText(v.filePath, rc) : v.filePath };
    if (v.fileSize !== undefined) f.fileSize = v.fileSize;
    if (v.fileHash !== undefined) f.fileHash = v.fileHash;
    const persona = v.persona ?? ctx?.persona;
    if (persona !== undefined) f.persona = persona;
    f.success = v.success ?? v.errorMessage === undefined;
    if (v.errorMessage !== undefined) f.errorMessage = this.text(v.errorMessage, rc);
    if (v.details !== undefined) f.details = this.json(v.details, rc, "details");
    if (this.append("file_operation", id, v, ctx, f, [], undefined, undefined, rc)) this.stats.count("file_operation");
    return id;
  }

  /** Records one measurement. */
  logPerformanceMetric(input: PerformanceMetricInput): string {
    this.assertOpen("logPerformanceMetric");
    const v = validate(performanceMetricInputSchema, input, "logPerformanceMetric");
    if (this.remote) return this.queue("logPerformanceMetric", v);
    const ctx = auditContext.get();
    const rc: RedactionCounts = {};
    const id = v.id ?? newId();
    const f: Fields = { metricName: v.metricName, value: v.value, unit: v.unit };
    const persona = v.persona ?? ctx?.persona;
    if (persona !== undefined) f.persona = persona;
    if (v.context !== undefined) f.context = this.json(v.context, rc, "context");
    if (this.append("performance_metric", id, v, ctx, f, [], undefined, undefined, rc)) this.stats.count("performance_metric");
    return id;
  }

  /**
   * Records an error: an `Error` (its name, message, stack and `code`), or a plain description.
   *
   * @example
   * try { await work() } catch (e) { logger.logError(e, { step: "work" }); throw e }
   */
  logError(error: Error | ErrorInput, context?: Record<string, unknown>): string {
    this.assertOpen("logError");
    // (the second argument is merged into the record's context: a string was spread into
    // {"0":"s","1":"t",…}, a number or null recorded as {} and an array by its indexes; found by
    // the API.md audit, 2026-12-05)
    if (context !== undefined && (typeof context !== "object" || context === null || Array.isArray(context))) {
      throw new AuditValidationError("logError", [{ field: "context", message: `must be an object, such as { step: "lookup" } (got ${context === null ? "null" : Array.isArray(context) ? "an array" : typeof context}): it is merged into the record's context` }]);
    }
    let input: ErrorInput;
    // (an Error of another realm too: a vm context's, a test environment's)
    if (error instanceof Error || types.isNativeError(error)) {
      const code = (error as { code?: unknown }).code;
      input = {
        errorType: errorTypeOf(error),
        message: String(error.message),
        severity: "error",
        ...(typeof error.stack === "string" ? { stackTrace: error.stack } : {}),
        ...(context !== undefined || code !== undefined ? { context: { ...(code !== undefined ? { code } : {}), ...context } } : {}),
      };
    } else {
      input = context !== undefined ? { ...error, context: { ...(error.context as object | undefined), ...context } } : error;
    }
    const v = validate(errorInputSchema, input, "logError");
    if (this.remote) return this.queue("logError", v);
    const ctx = auditContext.get();
    const rc: RedactionCounts = {};
    const id = v.id ?? newId();
    const severity = v.severity ?? "error";
    const f: Fields = { errorType: v.errorType, message: this.text(v.message, rc) };
    if (v.stackTrace !== undefined) f.stackTrace = this.text(v.stackTrace, rc);
    f.severity = severity;
    const persona = v.persona ?? ctx?.persona;
    if (persona !== undefined) f.persona = persona;
    if (v.context !== undefined) f.context = this.json(v.context, rc, "context");
    if (this.append("error", id, v, ctx, f, [], undefined, undefined, rc)) this.stats.error(severity);
    return id;
  }

  /**
   * Resolves when everything logged so far is in the files: handed to the OS in `async` and
   * `sync` mode, on stable storage (fdatasync) in `fsync` mode. Rejects with `AuditIOError` if
   * the OS refused the data; the data stays buffered and is retried by the next flush.
   */
  async flush(): Promise<void> {
    if (this.awaited.size > 0) await this.settleAwaited();
    this.runDeferred();
    if (this.remote) {
      if (this.ended) return;
      // (finalizeSession() under way: the worker writes everything logged before it, and this
      // resolves once it has, or rejects as it does; found by review, 2026-12-03: it resolved at
      // once, before anything was on disk)
      if (this.finalizing) {
        await this.finalized;
        return;
      }
      this.sendQueued();
      await this.remote.call("flush");
      return;
    }
    // the content files of the chats logged before this call (their writes settle in order and
    // never reject: a failure is reported); not those of later chats: waiting until none was in
    // flight kept flush() from resolving as long as chats came faster than their files were
    // written (found by the durability operator pass, 2026-12-05: an fsync app's flush() waited
    // 6.9 s, until its traffic stopped)
    if (this.pendingContent.size > 0) await Promise.all([...this.pendingContent]);
    if (this.closed) return;
    if (this.sinks.length > 0) {
      // (`fsync`: the records held for the sinks go once written; the commit below syncs them)
      if (this.sinkHeld.length > 0) this.writeOutAll(false);
      await this.settleSinks("flush");
    }
    if (this.config.durability === "fsync") {
      await new Promise<void>((resolve, reject) => {
        this.commitWaiters.push({ resolve, reject });
        this.scheduleCommit(true);
      });
      return;
    }
    this.writeOutAll(true);
  }

  /**
   * Flushes, writes `session_<id>.json` with the summary, closes the files and releases the
   * session. A call that fails (the disk refused the last writes, or the session file) rejects
   * with `AuditIOError`, keeps what is not written yet, and can be made again.
   */
  async finalizeSession(): Promise<SessionSummary> {
    // (a second call while the first runs, which may wait for records under way, is refused as
    // one after it is: it used to run the session's end twice; found by review, 2026-12-03)
    if (this.ended || this.finalizeRun) throw new AuditSessionClosedError(this.sessionId, "finalizeSession");
    const run = this.finalizeOnce();
    this.finalizeRun = run;
    // a finalize that failed (the disk refused the last writes) can be tried again, as before
    // (README: the data stays buffered and is retried)
    run.then(undefined, () => {
      if (!this.ended && this.finalizeRun === run) this.finalizeRun = undefined;
    });
    return run;
  }

  private async finalizeOnce(): Promise<SessionSummary> {
    // (records under way, those begun meanwhile too, are waited for until then at most)
    const awaitUntil = performance.now() + 2 * AWAIT_RECORD_MAX_MS;
    if (this.remote) return this.finalizeRemote(this.remote, awaitUntil);
    // (new data keys still waiting are stored now or lost: another process's shred is waited for)
    this.subjectKeys?.endingLockWait();
    if (!this.closed) {
      if (this.awaited.size > 0) await this.settleAwaited(awaitUntil);
      await this.flush();
      // A record logged while that ran (another request during a graceful shutdown) may have
      // its content files on the way, an integration's call answered meanwhile its record under
      // way or deferred: all are made and written before the session closes, while the exit
      // hook still covers them (found by review, 2026-12-03: deferred steps queued then were
      // dropped). No await between the last check and `closed`, so nothing can slip in after it.
      for (;;) {
        if (this.pendingContent.size > 0) await Promise.all([...this.pendingContent]);
        else if (this.awaited.size > 0) await this.settleAwaited(awaitUntil);
        else if (this.deferred.length > 0) this.runDeferred();
        // (fsync: a group commit under way, or awaited by a flush(), ends before the files close:
        // its fdatasync may still be running, and its waiters are told when it has; found by
        // review, 2026-12-03: a flush() resolved before its records were synced)
        // (until the same bound: flush() calls that keep coming keep a commit going; the sync
        // below covers what is left)
        else if (this.config.durability === "fsync" && performance.now() < awaitUntil && (this.commitRunning || this.commitWaiters.length > 0)) await this.flush();
        else break;
      }
      if (this.checkpointer) this.writeCheckpoint("finalize");
      // Everything written (and synced in fsync mode) while the session is still open: a failure
      // (the disk refused the last writes) rejects this call with the session open, its records
      // still buffered, and the call can be tried again (found by review, 2026-12-03: it closed
      // first, lost the records it could not write, and refused a retry).
      this.writeOutAll(true);
      // (a key found shredded by another process as that stored it: its record, written too)
      if (this.recordShredsElsewhere()) this.writeOutAll(true);
      // (a group commit's fdatasync still under way is not taken for done: see KindWriter's sync
      // state)
      if (this.config.durability === "fsync") this.datasyncAllSync();
      this.closed = true;
      if (this.flushTimer) clearTimeout(this.flushTimer);
      if (this.commitTimer) clearTimeout(this.commitTimer);
      if (this.checkpointTimer) clearInterval(this.checkpointTimer);
      // (a flush() that waited for a group commit this made moot: everything is written out and,
      // in fsync mode, synced; found by review, 2026-12-03: it never settled)
      for (const w of this.commitWaiters.splice(0)) w.resolve();
      // (closing writes nothing more: a failure to close an fd loses no record)
      for (const kind of CHAIN_KINDS) {
        try {
          this.writers[kind].close();
        } catch (err) {
          this.report(new AuditIOError(`Closing the ${kind} file failed: ${reason(err)}. Its records were written and synced before.`, { cause: err }));
        }
      }
    }
    // The files are closed; the session file is what is left. One that cannot be written
    // rejects this call and leaves the session ended but for it: a retry writes it (found by
    // review, 2026-12-03: the session stayed "active" for good, a retry was refused as closed,
    // and the raw error reached no 'error' listener). Until it is written, the exit hook still
    // releases the lock.
    let summary: SessionSummary;
    try {
      summary = await this.buildSummary();
      this.writeJsonAtomic(sessionFileName(this.sessionId), { ...summary, status: "finalized", config: this.sessionConfig() });
    } catch (err) {
      const failure = new AuditIOError(
        `Writing the session file ${sessionFileName(this.sessionId)} failed: ${reason(err)}. Every record is written; call finalizeSession() again once the disk takes writes.`,
        { cause: err },
      );
      this.report(failure);
      throw failure;
    }
    this.ended = true;
    this.finalSummary = summary;
    try {
      // sinks close after the session file exists, so a store can keep the final summary too
      this.releaseToSinks();
      await this.settleSinks("close");
      this.noteUndelivered(summary);
    } finally {
      // (the exit hook, still registered, released it if the process ended meanwhile; found by
      // review, 2026-12-03: an exit while a sink closed left the lock behind)
      unregisterForExit(this);
      this.lock.release();
    }
    return summary;
  }

  /**
   * `thread: true`: the session stops taking records, and the worker ends it. When the worker's
   * finalizeSession() fails, the worker stays, with what it could not write (an exit still writes
   * it through the worker), and a second call tries again (found by review, 2026-12-03: the worker
   * was stopped with its records and the session's lock, and a retry was refused).
   */
  private async finalizeRemote(remote: ThreadLink, awaitUntil: number): Promise<SessionSummary> {
    // (set at once, before any wait: a getSummary() or flush() called while this runs answers
    // with the final summary, or once the worker has written everything)
    const done = (async () => {
      // records under way first; and (even with none) after the calling code's own turn, as
      // without the thread, whose flush() awaits first: a record logged right after
      // finalizeSession() is written, not refused (found by review, 2026-12-03)
      await this.settleAwaited(awaitUntil);
      this.runDeferred();
      this.sendQueued();
      this.closed = true;
      if (this.flushTimer) clearTimeout(this.flushTimer);
      // until the worker answered, flush() and an exit wait for it (it finishes the session first)
      this.finalizing = true;
      try {
        return (await remote.call("finalizeSession")) as SessionSummary;
      } finally {
        this.finalizing = false;
      }
    })();
    this.finalized = done;
    let summary: SessionSummary;
    try {
      summary = await done;
    } catch (err) {
      // (getSummary() asks the worker again)
      if (this.finalized === done) this.finalized = undefined;
      throw err;
    }
    this.finalSummary = summary;
    this.ended = true;
    unregisterForExit(this);
    remote.close();
    return summary;
  }

  /**
   * @internal For integrations: in `async` mode, runs a recording step within flushIntervalMs,
   * batched with others (the application gets its result first, and records are built together,
   * off the calls' hot path). `flush()`, `finalizeSession()` and the exit hooks run pending steps
   * first, so the loss window stays the async mode's. Other modes record at once.
   */
  deferRecord(step: () => void): void {
    this.deferCall(step, undefined);
  }

  /**
   * @internal {@link deferRecord} of `step(arg)`: a module function and its argument, so that
   * deferring a record makes no closure per call (src/instrument.ts `recordFrom`).
   */
  deferCall<A>(step: (arg: A) => void, arg: A): void {
    // only `async` defers: there a record may wait flushIntervalMs in memory anyway, and building
    // records in batches keeps them off the calls' hot path; `sync`/`fsync` record at once
    if (this.closed || this.config.durability !== "async") {
      step(arg);
      return;
    }
    this.deferred.push(step as (arg: unknown) => void, arg);
    // the same tick that writes the buffers out builds these first (see scheduleFlush)
    this.scheduleFlush();
  }

  /**
   * @internal For integrations whose record waits on something under way (the end of this turn,
   * a response body being read): `settled` settles once the record is made. flush() and
   * finalizeSession() wait for it first; the exit hooks, which cannot wait, call `now()` to make
   * the record from what is known then (the integration makes a call's record once, whichever
   * comes first). Without this the record of an `.asResponse()` call was missed by a flush()
   * right after it, lost at finalizeSession(), and lost on exit (found by review, 2026-12-03).
   */
  awaitRecord(settled: Promise<unknown>, now: () => void): void {
    const entry: Promise<void> = settled.then(ignoreSettled, ignoreSettled).then(() => {
      this.awaited.delete(entry);
    });
    this.awaited.set(entry, { now, deadline: performance.now() + AWAIT_RECORD_MAX_MS });
  }

  /**
   * Waits for the records under way (see awaitRecord), each AWAIT_RECORD_MAX_MS from its start at
   * most: one whose wait has not ended by then (a response body that stalls: the server went
   * quiet) is made now from what is known, as on exit, so that flush() and finalizeSession()
   * never hang on it. flush() waits for those under way when it is called, each until its own
   * deadline (one begun during the wait is neither waited for nor cut short: it was not logged
   * yet). finalizeSession() (`untilMs` given) waits for those begun during the wait too, until
   * `untilMs`, then makes every one left now: steady traffic during a graceful shutdown must not
   * hold it forever (found by review, 2026-12-03).
   */
  private async settleAwaited(untilMs?: number): Promise<void> {
    const snapshot = untilMs === undefined ? new Set(this.awaited.keys()) : undefined;
    for (;;) {
      const now = performance.now();
      let next = untilMs ?? Number.POSITIVE_INFINITY;
      const pending: Promise<void>[] = [];
      for (const [p, entry] of [...this.awaited]) {
        if (snapshot !== undefined && !snapshot.has(p)) continue;
        if (entry.deadline <= now || (untilMs !== undefined && untilMs <= now)) {
          this.awaited.delete(p);
          this.makeNow(entry.now);
          continue;
        }
        pending.push(p);
        next = Math.min(next, entry.deadline);
      }
      if (pending.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, next - now);
      });
      try {
        await Promise.race([Promise.all(pending), timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  private makeNow(now: () => void): void {
    try {
      now();
    } catch (err) {
      this.report(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The exit hooks' part of awaitRecord: each waiting record made now. */
  private makeAwaitedNow(): void {
    const entries = [...this.awaited.values()];
    this.awaited.clear();
    for (const entry of entries) this.makeNow(entry.now);
  }

  private runDeferred(): void {
    if (this.deferred.length === 0) return;
    this.draining = true;
    try {
      this.runDeferredSteps();
    } finally {
      this.draining = false;
    }
  }

  private runDeferredSteps(): void {
    while (this.deferred.length > 0) {
      const steps = this.deferred;
      this.deferred = [];
      for (let i = 0; i < steps.length; i += 2) {
        try {
          (steps[i] as (arg: unknown) => void)(steps[i + 1]);
        } catch (err) {
          this.report(err instanceof Error ? err : new Error(String(err)));
        }
      }
    }
  }

  /** Summary of the session so far, without closing it. */
  async getSummary(): Promise<SessionSummary> {
    if (this.remote) {
      // during finalizeSession() (its answer is the summary) and after it
      if (this.finalized) return this.finalSummary ?? (await this.finalized);
      this.runDeferred();
      this.sendQueued();
      return (await this.remote.call("getSummary")) as SessionSummary;
    }
    // (after finalizeSession(), the summary it wrote, as with the thread)
    return this.finalSummary ?? this.buildSummary();
  }

  /**
   * Removes sessions (never this one) whose last record is older than `maxLogAgeDays`.
   * With `{ dryRun: true }` only lists what would go. Resolves to what `audit-logger cleanup
   * --json` prints (CleanupResult): a file that could not be removed is in `failed` (and an
   * `error` event), the others still go. Options other than `maxLogAgeDays`,
   * `dryRun` and `now`, or bad values, reject with an AuditConfigError naming each field, and
   * nothing is removed.
   *
   * @example
   * const { removed } = await logger.cleanup({ maxLogAgeDays: 30, dryRun: true });
   */
  async cleanup(options: LoggerCleanupOptions = {}): Promise<CleanupResult> {
    this.assertOpen("cleanup");
    // (checked here, in the app's thread: the worker was sent only the names it knew, so a
    // misspelt one was dropped before it could be refused)
    const o = checkLoggerCleanupOptions(options);
    if (this.remote) {
      this.sendQueued();
      return (await this.remote.call("cleanup", [o])) as CleanupResult;
    }
    return this.runCleanup(o);
  }

  private runCleanup(options: LoggerCleanupOptions): CleanupResult {
    // (cleanup reads the chained legal hold records too: this logger's own placements and releases
    // are handed to the OS first, so that a hold it just released no longer keeps a session)
    this.flushSyncOnExitless();
    return cleanupSessions(this.auditDir, {
      maxLogAgeDays: options.maxLogAgeDays ?? this.config.maxLogAgeDays,
      minRetentionDays: this.config.minRetentionDays,
      activeSessionId: this.sessionId,
      ...(options.dryRun !== undefined ? { dryRun: options.dryRun } : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
      record: (event) => this.recordPruned(event),
      inUse: CHAIN_KINDS.flatMap((k) => this.writers[k].inUseSegment ?? []),
      // (a file that cannot be removed is skipped, listed in the result's `failed` and reported, as
      // `audit-logger cleanup` does; until 2026-12-06 the first one was thrown, and the sessions
      // after it were not looked at)
      onRemoveError: (file, err) => this.report(new AuditIOError(`Cleanup could not remove ${file}: ${err.message}`, { cause: err })),
    });
  }

  /**
   * @internal (cleanup, and `audit-logger cleanup` in its maintenance session) Leaves the chained
   * `retention_pruned` record of a removal, and a checkpoint, before its files go.
   */
  recordPruned(event: PruneEvent): void {
    this.assertOpen("cleanup");
    if (this.remote) throw new AuditConfigError([{ field: "thread", message: "recordPruned() runs on the thread that owns the files: use a logger with thread: false" }]);
    const signed = this.checkpointer?.written;
    this.logAuditEvent("retention_pruned", `retention: older than ${event.policy.maxLogAgeDays} days`, event);
    // (without a checkpointer: whether the record is in the file and, in `fsync` mode, synced)
    let recordWritten = true;
    if (this.checkpointer) this.writeCheckpoint("retention");
    else {
      // (no checkpoint to write it out: handed to the OS here, synced in `fsync` mode, as one would)
      try {
        this.writeOutAll(true);
        if (this.config.durability === "fsync") {
          this.writers.audit_event.datasyncSync();
          this.names.syncSync();
        }
      } catch (err) {
        // (a failed sync counts as a record not written, as a checkpoint whose sync failed does:
        // until 2026-12-06 the files went under a retention_pruned record not known to be on
        // disk, which a power cut could leave as a gap nothing explains)
        recordWritten = false;
        if (!(err instanceof AuditIOError)) this.report(new AuditIOError(`Writing the retention_pruned record failed: ${reason(err)}`, { cause: err }));
      }
    }
    // the record of the removal, and the checkpoint over it, in the file before anything goes:
    // files removed while the disk refused it (kept in memory, retried) were, after a crash,
    // gone with nothing saying why, which verify cannot tell from tampering (found by the
    // durability review, 2026-12-06). Nothing is removed; a later cleanup tries again.
    if (!recordWritten || this.writers.audit_event.hasPending || (this.checkpointer !== undefined && this.checkpointer.written === signed)) {
      throw new AuditIOError(
        `Retention removed nothing of session ${event.sessionId}: the retention_pruned record of its removal${this.checkpointer ? ", or the checkpoint over it," : ""} could not be written (the error reported before this one says why), and files go only once it is in the file. Run cleanup again once the disk takes data.`,
      );
    }
  }

  /**
   * Crypto-shredding: destroys every data key of `userId` in every key store of the audit
   * directory, so that subject's encrypted prompts, responses, tool payloads and content files
   * can never be decrypted again, while every chain and checkpoint still verifies. Appends a
   * chained `subject_shredded` record (naming key ids, never the user id). Needs encryption on.
   * Returns the destroyed key ids.
   *
   * @example
   * logger.shredSubject("user_42", "GDPR erasure request #881");
   */
  shredSubject(userId: string, reason = "erasure request"): string[] {
    this.assertOpen("shredSubject");
    if (this.remote) return this.callWorker("shredSubject", [userId, reason]) as string[];
    if (typeof userId !== "string" || userId === "") throw new AuditValidationError("shredSubject", [{ field: "userId", message: "must be a non-empty string" }]);
    if (!this.master || !this.subjectKeys) {
      throw new AuditKeyError("shredSubject() needs encryptSensitiveContent: without encryption there are no keys to destroy; remove the records' content instead.");
    }
    this.flushSyncOnExitless();
    const masters = this.master.masters ?? [this.master];
    const keys = this.subjectKeys;
    const destroyed = shredSubjectKeys(masters, this.auditDir, userId, (gone) => {
      // (and its new key still waiting for the disk, if any: never stored now, its records and
      // content files written under it unreadable, as the shredding means; named in the record, so
      // verify takes it as destroyed)
      gone.push(...keys.forget(userId));
      // (the subject's HMAC tags too, never the user id: a PostgreSQL store shreds every key row of
      // the subject by them, whichever instance sent it, and those it is sent later; see
      // audit_shredded_subjects in src/postgres/schema.ts)
      this.logAuditEvent("subject_shredded", reason, { keyIds: gone, subjectTags: userSubjectTags(masters, userId) });
      // (handed to the OS before the shred lock goes: another writer whose key for this subject
      // waited for the disk stores it under that lock and looks for this record; in async mode it
      // waited for the flush interval, and that key was kept; found by review, 2026-12-06)
      this.flushSyncOnExitless();
    });
    if (this.checkpointer) this.writeCheckpoint("shred");
    return destroyed;
  }

  /** Hands buffered records to the OS (no fsync); used before an operation that must follow them. */
  private flushSyncOnExitless(): void {
    this.writeOutAll(false);
  }

  /**
   * Places a legal hold: nothing in its scope is removed by cleanup until it is released.
   * `placeLegalHold(reason)` holds this session; `placeLegalHold(scope, reason)` takes `"all"`,
   * `"session"` (this one) or a sessionId. Leaves a chained `audit_event` record; returns the hold's
   * id, which `releaseLegalHold(holdId, reason)` takes to release this hold only.
   *
   * @example
   * logger.placeLegalHold("all", "litigation 2024-117");
   */
  placeLegalHold(scopeOrReason: string, reason?: string): string {
    this.assertOpen("placeLegalHold");
    const { scope, why } = this.holdArgs("placeLegalHold", scopeOrReason, reason);
    if (this.remote) return this.callWorker("placeLegalHold", reason === undefined ? [scopeOrReason] : [scopeOrReason, reason]) as string;
    // (signed at once, as a prune is: verify with a public key believes a hold's release only
    // where a signed checkpoint covers it; unsigned, a session that ran on or ended without
    // finalizing made another session's later cleanup look made under the hold; found by review,
    // 2026-12-04)
    const hold = addHold(
      this.auditDir,
      scope,
      why,
      this.sessionId,
      (h) => {
        this.logAuditEvent("legal_hold_placed", why, { holdId: h.id, scope });
        this.writeCheckpoint("legal_hold");
      },
      // (legal_holds.json lost: rebuilt from the chains' holds in force, see addHold)
      () => this.chainedHoldsNow(),
    );
    return hold.id;
  }

  /**
   * Releases one legal hold and leaves a chained `audit_event` record naming the hold ids
   * released. `releaseLegalHold(holdId, reason)` releases the hold with the id `placeLegalHold`
   * returned, and only it. `releaseLegalHold(scope, reason)` (`"all"`, `"session"` or a sessionId;
   * `releaseLegalHold(reason)` for this session) releases the scope's hold when it has one; when
   * several are in force on it, it throws an AuditValidationError naming each (id and reason) and
   * releases nothing. Returns how many were released (0: none in force there).
   *
   * @example
   * const holdId = logger.placeLegalHold("customer_chat_0412", "litigation A");
   * logger.releaseLegalHold(holdId, "litigation A settled");
   */
  releaseLegalHold(holdIdOrScopeOrReason: string, reason?: string): number {
    this.assertOpen("releaseLegalHold");
    const { scope, why } = this.holdArgs("releaseLegalHold", holdIdOrScopeOrReason, reason);
    if (this.remote) return this.callWorker("releaseLegalHold", reason === undefined ? [holdIdOrScopeOrReason] : [holdIdOrScopeOrReason, reason]) as number;
    const gone = removeHolds(
      this.auditDir,
      (inForce) => {
        // (one argument is a reason: a hold's id there would release this session's hold instead)
        if (reason === undefined && inForce.some((h) => h.id === holdIdOrScopeOrReason)) {
          throw new AuditValidationError("releaseLegalHold", [{ field: "reason", message: `${JSON.stringify(holdIdOrScopeOrReason)} is the id of a hold in force: say why, releaseLegalHold(holdId, reason)` }]);
        }
        return holdsToRelease(inForce, scope);
      },
      (g) => {
        this.logAuditEvent("legal_hold_released", why, { scope: g[0]?.scope ?? scope, holdIds: g.map((h) => h.id) });
        this.writeCheckpoint("legal_hold"); // (see placeLegalHold)
      },
      // (a hold the chains place is in force though the file lost it: see removeHolds; this
      // logger's own hold records handed to the OS first)
      () => this.chainedHoldsNow(),
    );
    return gone.length;
  }

  /** The holds the audit_event chains place and do not release (see chainedHolds), this logger's own hold records handed to the OS first. */
  private chainedHoldsNow(): LegalHold[] {
    this.flushSyncOnExitless();
    return chainedHolds(this.auditDir);
  }

  /**
   * The scope and reason of a hold call, checked (in the app's thread, also with `thread: true`).
   * Anything but strings is an AuditValidationError naming the field (`why.trim()` threw a bare
   * TypeError on a missing or non-string reason; found by review, 2026-12-04).
   */
  private holdArgs(method: "placeLegalHold" | "releaseLegalHold", a: unknown, b: unknown): { scope: string; why: string } {
    const issues: Array<{ field: string; message: string }> = [];
    const usage = method === "releaseLegalHold" ? `releaseLegalHold(holdId, reason), or releaseLegalHold(reason) or releaseLegalHold(scope, reason), the scope "all", "session" or a sessionId` : `${method}(reason) or ${method}(scope, reason), the scope "all", "session" or a sessionId`;
    if (b === undefined) {
      if (typeof a !== "string") issues.push({ field: "reason", message: `must be a string (got ${typeOf(a)}): ${usage}` });
    } else {
      if (typeof a !== "string") issues.push({ field: "scope", message: `must be a string (got ${typeOf(a)}): ${usage}` });
      if (typeof b !== "string") issues.push({ field: "reason", message: `must be a string (got ${typeOf(b)}): ${usage}` });
    }
    // (issues is not empty exactly then)
    if (typeof a !== "string" || (b !== undefined && typeof b !== "string")) throw new AuditValidationError(method, issues);
    const scope = b === undefined || a === "session" ? this.sessionId : a;
    const why = b ?? a;
    if (scope !== "all" && !SESSION_ID_PATTERN.test(scope)) {
      throw new AuditValidationError(method, [{ field: "scope", message: `must be "all", "session" or a sessionId${method === "releaseLegalHold" ? ", or the id of a hold" : ""}` }]);
    }
    if (!why.trim()) throw new AuditValidationError(method, [{ field: "reason", message: "must say why (a non-empty string)" }]);
    return { scope, why };
  }

  /**
   * Appends one of the logger's own records to the `audit_event` chain. Its `details` are the
   * kit's own evidence (hold ids, scopes, times, key ids, session ids, file names, and the holds a
   * removal carries, each reason cut already where first recorded), written whole: `maxValueChars`
   * and the 10,000-item limit are for the app's values. Until 2026-12-05 they were cut as those:
   * a cleanup by a logger with a small `maxValueChars` wrote a removal record whose carried hold
   * had its id, time and reason cut, so the files listed that hold under another id beside the
   * register's, and differed from the PostgreSQL store's (which reads the placement record), and
   * a release naming the real id never released the carried copy (found by the session-status
   * pass). The `reason` is the caller's, cut as before.
   */
  private logAuditEvent(eventType: AuditEventType, reason: string, details: unknown): string {
    const id = newId();
    const f: Fields = { eventType, reason: truncateString(reason, this.config.maxValueChars) };
    if (details !== undefined) f.details = toJsonData(details);
    this.append("audit_event", id, {}, auditContext.get(), f, [], undefined);
    return id;
  }

  /** True once `finalizeSession()` has closed the session (it takes no more records). */
  get isClosed(): boolean {
    return this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.finalizeRun) await this.finalizeRun;
    else if (!this.ended) await this.finalizeSession();
  }

  /**
   * @internal exit hook: hand everything to the OS now (and fdatasync in `fsync` mode).
   * `exiting`: the process ends now (false on a signal the app handles itself, a graceful
   * shutdown that may still call finalizeSession(): the records under way are then left to it).
   */
  /** @internal The exit hook's line on stderr (see src/sink/exit.ts), redacted as this logger's warnings are. */
  redactReport(text: string): string {
    return redactedForReport(this, text);
  }

  /** @internal The process's `exit` event (see src/sink/exit.ts): records made from now on are written at once. */
  markExited(): void {
    this.exitFlushed = true;
  }

  flushSyncOnExit(exiting = true, release = exiting): void {
    if (this.inExitFlush) return;
    this.inExitFlush = true;
    try {
      this.flushSyncOnExitNow(exiting, release);
    } finally {
      this.inExitFlush = false;
    }
  }

  private flushSyncOnExitNow(exiting: boolean, release: boolean): void {
    // (new data keys still waiting are stored now or lost: another process's shred is waited for)
    if (exiting) this.subjectKeys?.endingLockWait();
    if (this.remote) {
      // (closed and not ended: the worker is finishing the session, or failed to: it writes what
      // it holds, and releases the lock)
      if (this.ended) return;
      if (exiting) this.makeAwaitedNow();
      this.runDeferred();
      this.sendQueued();
      // the worker answers after everything sent before (a finalizeSession() under way included)
      try {
        this.remote.callSync("flushSyncOnExit", [exiting, release]);
      } finally {
        // (its events, the `error`s of what it could not write included, reach the app's
        // listeners now, before the stderr line of a failure: see ThreadLink.drainEvents)
        this.remote.drainEvents();
      }
      return;
    }
    if (this.closed) {
      // (finalizeSession() wrote and closed the files and is writing the session file, or
      // closing the sinks, or failed to write it: the lock is still held)
      this.releaseToSinks();
      if (exiting) this.flushSinksOnExit();
      let failed: unknown;
      if (exiting && release) failed = this.noteEndOnExit();
      if (release) this.lock.release();
      if (failed !== undefined) throw new AuditIOError(`session ${this.sessionId}: ${END_STATE_NOT_WRITTEN} not written: ${reason(failed)}`, { cause: failed });
      return;
    }
    if (exiting) this.makeAwaitedNow();
    this.runDeferred();
    // content files first (their record lines may be on disk already); those the disk refuses are
    // kept while the process goes on (a signal the app handles), and named on stderr (by the exit
    // hook) when it ends: they were dropped without a word (found by the durability operator
    // pass, 2026-12-05)
    let contentFailed = 0;
    let first: unknown;
    // (the new data keys still waiting first: a content file under one is written only after it)
    let keysRefused: unknown;
    try {
      this.storePendingKeys();
    } catch (err) {
      keysRefused = err;
      if (exiting) this.announceKeysLost(err);
    }
    // (the record of a key found shredded meanwhile, written below with the rest)
    this.recordShredsElsewhere();
    for (const [id, c] of [...this.contentInFlight]) {
      try {
        if (keysRefused !== undefined && c.manifest.keyId !== undefined && this.subjectKeys?.isPending(c.manifest.keyId)) throw keysRefused;
        this.writeContentNow(c.content, c.manifest);
        this.contentInFlight.delete(id);
        this.dropRefused(id);
      } catch (err) {
        contentFailed++;
        first ??= err;
        if (exiting || (err !== keysRefused && !diskRefused(err)) || !this.keepRefusedContent(id, c.content, c.manifest)) {
          this.contentInFlight.delete(id);
          this.dropRefused(id);
        }
      }
    }
    // (`fsync`: their names too, before the record lines that name them; see contentWritten)
    let contentNamesFailed: unknown;
    if (this.config.durability === "fsync") {
      try {
        this.contentNames.syncSync();
      } catch (err) {
        contentNamesFailed = err;
        first ??= new AuditIOError(`${this.contentNames.what} failed: ${reason(err)}`, { cause: err });
      }
    }
    // every kind, whichever fails (the first failure is rethrown once all were tried)
    const kindsFailed: string[] = [];
    for (const kind of CHAIN_KINDS) {
      const w = this.writers[kind];
      try {
        w.writeOut();
        if (this.config.durability === "fsync") {
          w.datasyncSync();
          this.names.syncSync();
        }
      } catch (err) {
        first ??= err;
        kindsFailed.push(kind);
      }
    }
    // The process ends without finalizeSession(): a final signed checkpoint over what was just
    // written, while the lock is still held (see checkpointOnExit).
    let checkpointFailed: unknown;
    if (exiting && release && kindsFailed.length === 0) {
      checkpointFailed = this.checkpointOnExit();
      first ??= checkpointFailed;
    }
    // (`fsync`: the records held from the sinks, now written; see releaseToSinks)
    this.releaseToSinks();
    // after the files (they are the source of truth), and before the lock goes: a sink's spool
    // is adopted only once the lock is free
    if (exiting) this.flushSinksOnExit();
    // (the session file's end state, while the lock is still held: see noteEndOnExit)
    let endFailed: unknown;
    if (exiting && release) {
      endFailed = this.noteEndOnExit();
      first ??= endFailed;
    }
    // (only when the process ends: on a signal the app handles, it goes on writing this session,
    // which another process must not open meanwhile; found by review, 2026-12-03)
    if (release) this.lock.release();
    if (first !== undefined) {
      // (and the records an outage did not keep, see MAX_REFUSED_RECORD_BYTES: their errors record cannot be written now)
      const lost = this.notKept === undefined ? 0 : [...this.notKept.count.values()].reduce((a, b) => a + b, 0);
      const what = [...(kindsFailed.length > 0 ? [`${kindsFailed.join(", ")} records`] : []), ...(contentFailed > 0 ? [`the full content of ${contentFailed} interaction(s)`] : []), ...(contentNamesFailed !== undefined ? ["the sync of the content files' names"] : []), ...(lost > 0 ? [`${lost} record(s) not kept during the outage`] : []), ...(checkpointFailed !== undefined ? ["the final signed checkpoint"] : []), ...(endFailed !== undefined ? [END_STATE_NOT_WRITTEN] : [])].join(" and ");
      throw new AuditIOError(`session ${this.sessionId}: ${what} not written: ${reason(first)}`, { cause: first });
    }
  }

  /**
   * The exit hook could not store the new data keys still waiting (see storePendingKeys): an
   * `error` event names what goes with them, the records of the kinds held under them and the
   * content files, as the process ends (its stderr line says what was not written as a whole).
   * Found by the shred review, 2026-12-06: stderr alone told of it, saying they would be stored
   * at the next write-out. A listener that throws is not let into the exit hook.
   */
  private announceKeysLost(err: unknown): void {
    const kinds = CHAIN_KINDS.filter((k) => this.writers[k].holding);
    const keys = this.subjectKeys;
    const content = [...this.contentInFlight.values()].filter((c) => c.manifest.keyId !== undefined && keys?.isPending(c.manifest.keyId)).length;
    const what = [...(kinds.length > 0 ? [`the ${kinds.join(", ")} records held under them`] : []), ...(content > 0 ? [`the full content of ${content} interaction(s)`] : [])].join(" and ");
    try {
      this.announce(new AuditIOError(`session ${this.sessionId}: the new data keys waiting for the disk were not stored as the process ended, and ${what || "nothing held under them"} ${what ? "are" : "is"} not written: ${reason(err)}`, { cause: err }));
    } catch {
      // (the listener threw: the stderr line still tells)
    }
  }

  /**
   * The process ends without finalizeSession() (the event loop ran out, process.exit(), a signal
   * left to its default action), with a signing key and records since the last checkpoint: a
   * final checkpoint over every chain's head, signed and written now, synchronously, once the
   * records are written out (the caller's check: not when a kind failed, a checkpoint never claims
   * more than the files hold) and while this process still holds the lock. Found 2026-12-05: only
   * finalizeSession() and the periodic checkpoints signed, so `verify --public-key` reported the
   * records after the last periodic checkpoint as an `unsigned_tail` of every session that ended
   * this way. A SIGKILL runs nothing: its tail stays unsigned. Returns what failed, for the caller
   * to report after the lock is released.
   */
  private checkpointOnExit(): unknown {
    const cp = this.checkpointer;
    if (!cp || cp.recordsSinceLast === 0 || !this.lock.holding) return undefined;
    // (the records were written out, and synced in `fsync` mode, by the caller)
    try {
      this.checkpointWritten(cp.write("exit"));
      return undefined;
    } catch (err) {
      return this.goneWithDirectory(err) ? undefined : err;
    }
  }

  /**
   * The exit hook's write failed because the audit directory itself is gone, removed while the
   * process ran (as a test suite removes its temporary directory): there is nothing left to mark
   * or sign, and nothing to tell. Every such process said on stderr that the end state, or the
   * final checkpoint, was not written (ENOENT). Found by review, 2026-12-05.
   */
  private goneWithDirectory(err: unknown): boolean {
    return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT" && !fs.existsSync(this.auditDir);
  }

  /** Whether the exit hook wrote the session file's end state (see noteEndOnExit). */
  private endNoted = false;

  /**
   * The process ends without finalizeSession() (the event loop ran out, process.exit(), a signal
   * left to its default action): the session file, which says "active", is replaced with its end
   * state, `status: "interrupted"`, `endTime` and `endReason`, while this process still holds the
   * lock (no other process can be resuming the session). Found by the viewer pass, 2026-12-05: the
   * hook then removed the lock, so nothing told the readers the process was gone, and listSessions(),
   * summary and serve showed the session "active" for good (a SIGKILL leaves its lock, which tells
   * them: docs/FORMAT.md). Not once the session file says finalized (`ended`), nor twice (a record
   * made by another exit listener runs the hook again). Returns what failed, for the caller to
   * report after the lock is released; a reader then still sees "active".
   */
  private noteEndOnExit(): unknown {
    // (and only while this process holds the lock: once released, another may have resumed it)
    if (this.ended || this.endNoted || !this.lock.holding) return undefined;
    this.endNoted = true;
    try {
      this.writeJsonAtomic(sessionFileName(this.sessionId), {
        ...this.openedInfo,
        status: "interrupted",
        endTime: new Date().toISOString(),
        endReason: "process ended without finalizeSession()",
        config: this.sessionConfig(),
      });
      return undefined;
    } catch (err) {
      return this.goneWithDirectory(err) ? undefined : err;
    }
  }

  /**
   * The process ends: each sink puts what it holds in memory where a later process finds it
   * (`AuditSink.flushSyncOnExit`). Found by review, 2026-12-05: the exit hook wrote the files
   * only, and the records a PostgresSink had queued or in flight (every record of the last turn
   * of the event loop, or of an outage since its last retry) never reached the store or its
   * spool, while verify of the store still said OK. A sink that fails is not the files' failure:
   * it is left out, and the others still run.
   */
  private flushSinksOnExit(): void {
    for (const sink of this.sinks) {
      try {
        sink.flushSyncOnExit?.();
      } catch {
        // exiting: the sink's records are in the files
      }
    }
  }

  // ---------------------------------------------------------------- internals

  private assertOpen(method: string): void {
    if (this.closed) throw new AuditSessionClosedError(this.sessionId, method);
  }

  /** A user string, redacted (when configured) and then capped at maxValueChars. */
  private text(s: string, rc: RedactionCounts): string {
    return truncateString(this.redactor ? this.redactor.redactText(s, rc) : s, this.config.maxValueChars);
  }

  /**
   * A user value as JSON data: redacted first (so a secret is never cut in half), then made safe.
   * What is redacted is the value as the record writes it (`toJsonData`: Map keys, symbols,
   * function names and `toJSON` results as text), as on the worker thread, so nothing reaches
   * the record in a form the redactor did not see.
   */
  private json(v: unknown, rc: RedactionCounts, path: string): JsonValue {
    if (this.redactor) return toJsonSafe(this.redactor.redactValue(toJsonData(v), rc, path), this.config.maxValueChars);
    // the record is serialised before this call returns: a value that serialises as its safe
    // copy would is used as it is (a chat call's usage: ~1 µs and ~1 KB less per record)
    return isPlainJson(v, this.config.maxValueChars) ? (v as JsonValue) : toJsonSafe(v, this.config.maxValueChars);
  }

  /**
   * A prompt or response as stored text (structured ones as JSON), redacted; never truncated. A
   * string holding JSON (a structured-output response) is redacted as the data it holds, in its
   * own text, as a tool call's arguments are; any other string as text (it was always redacted as
   * text, so path rules and JSON escapes were missed; found by review, 2026-12-04).
   */
  private contentText(v: unknown, rc: RedactionCounts): { text: string; format: "text" | "json" } {
    if (!this.redactor) return asText(v);
    if (typeof v === "string") return { text: this.redactor.redactValue(v, rc) as string, format: "text" };
    // JSON text is redacted as the data it holds (rules can name its members)
    return asText(v === undefined ? v : this.redactor.redactValue(v instanceof JsonText ? JSON.parse(v.text) : toJsonData(v), rc));
  }

  /**
   * The key for record `id` of `kind`'s sensitive fields: its subject's data key, or undefined
   * without encryption. A subject's new data key is stored (wrapped, synced) in the session's key
   * store before any record uses it; while the disk refuses that (EFBIG, ENOSPC…) the key is kept
   * pending in memory (its store line only, wrapped) and the record made and held like every
   * other record of an outage: the kind's lines wait (see KindWriter.hold), and the pending key
   * lines are stored first, before any of them reaches the file (see storePendingKeys), as are
   * content files under such a key (see storeContent). Past MAX_REFUSED_RECORD_BYTES (pending key
   * lines counted) the record is not kept (KEY_NOT_STORED), as any record past the bound.
   * Until 2026-12-06 such a record was not kept and lost however short the outage (found by the
   * durability pass: plain records survived a short outage, a new subject's encrypted ones did
   * not); before that, the refusal was thrown into the app's log call, and a key line the disk cut
   * short was taken as stored (key_missing). Any other failure (a key store that is a link or a
   * FIFO: AuditPathError) is thrown, as documented.
   */
  private keyOrNotKept(kind: ChainKind, id: string, userId: string | undefined): EncryptionKey | undefined | typeof KEY_NOT_STORED {
    const keys = this.subjectKeys;
    if (keys === undefined) return undefined;
    this.keyRefused = undefined;
    this.keyPastBound = false;
    let key: EncryptionKey;
    try {
      key = keys.keyFor(userId, this.keepRefusedKey);
    } catch (err) {
      if (!this.keyPastBound) throw err;
      this.recordNotKept(kind, id);
      return KEY_NOT_STORED;
    }
    const refused = this.keyRefused;
    this.keyRefused = undefined;
    if (keys.hasPending && keys.isPending(key.id)) {
      // (the kind's lines wait for the key lines, this record's included)
      const w = this.writers[kind];
      if (!w.holding) w.hold(this.storePendingKeys);
      if (refused !== undefined) {
        this.report(new AuditIOError(`Storing the new data key of ${kind} record ${id}'s subject in the key store ${keyStoreFileName(this.sessionId)} failed: ${reason(refused)}. The key waits in memory (wrapped), and the records encrypted under it with it; it is stored before them, by itself, at the next write and by flush().`, { cause: refused }), true);
      }
    }
    return key;
  }

  /** what keepRefusedKey met during the keyOrNotKept call under way: the disk's refusal of a new key line, and whether the bound was past then */
  private keyRefused: unknown;
  private keyPastBound = false;

  /**
   * keyOrNotKept's `keepRefused` for SubjectKeys.keyFor, made once: a new key the disk refused is
   * kept pending unless the bound for held records is past (its findings in keyRefused and
   * keyPastBound). Until 2026-12-06 a closure was made for every encrypted record, though keyFor
   * calls it only for a subject's new key.
   */
  private readonly keepRefusedKey = (err: unknown): boolean => {
    if (!diskRefused(err)) return false;
    this.keyRefused = err;
    this.keyPastBound = this.writeFailing && this.refusedRecordsFull();
    return !this.keyPastBound;
  };

  /**
   * The gate of a kind whose lines wait for new data keys (see keyOrNotKept, KindWriter.hold):
   * stores every pending key line, or throws why the disk still refuses one (an AuditIOError
   * naming the key store, the OS's error its cause).
   */
  private readonly storePendingKeys = (): void => {
    const keys = this.subjectKeys;
    if (keys === undefined || !keys.hasPending) return;
    try {
      keys.storePending();
    } catch (err) {
      throw new AuditIOError(`the new data keys of records waiting in memory could not be stored in the key store ${keyStoreFileName(this.sessionId)} (${reason(err)}), and records under them are not written before they are`, { cause: err });
    } finally {
      // (a key found shredded by another process: its record is made once this write-out has
      // ended, never within it, where a gate of a writer is being passed)
      if (keys.hasShreddedElsewhere && !this.shredsElsewhereDue) {
        this.shredsElsewhereDue = true;
        queueMicrotask(() => this.recordShredsElsewhere());
      }
    }
  };

  /** a microtask will record the keys found shredded by another process (see recordShredsElsewhere) */
  private shredsElsewhereDue = false;

  /**
   * The `subject_shredded` record of each new data key that waited for the disk and was found
   * shredded by another process as it was stored (see SubjectKeys.storePending): it names the key
   * id, so `verify` takes the records under it as shredded, and the subject's tag, and says whose
   * shred it was. Made after the write-out that found it (a microtask), or by the exit hook and
   * finalizeSession() first. Whether one was made.
   */
  private recordShredsElsewhere(): boolean {
    this.shredsElsewhereDue = false;
    if (this.closed || this.appending > 0 || this.subjectKeys === undefined) return false;
    const gone = this.subjectKeys.takeShreddedElsewhere();
    for (const g of gone) {
      this.logAuditEvent("subject_shredded", `shredded by another process (session ${g.by.sessionId}${g.by.seq !== undefined ? `, seq ${g.by.seq}` : ""}) while the subject's new data key waited for the disk`, {
        keyIds: [g.kid],
        subjectTags: [g.tag],
        shreddedBy: g.by,
      });
    }
    return gone.length > 0;
  }

  /**
   * Builds the envelope around `fields`, seals it into the chain and hands it to the sink. The
   * `errors` records of failures met on the way (see report) are made once it has ended.
   */
  private append(
    kind: ChainKind,
    id: string,
    input: { traceId?: string | undefined; parentId?: string | undefined; userId?: string | undefined; metadata?: Record<string, unknown> | undefined },
    ctx: ReturnType<typeof auditContext.get>,
    fields: Fields,
    encrypted: readonly string[],
    content: PreparedContent | undefined,
    key?: EncryptionKey,
    rc?: RedactionCounts,
  ): boolean {
    this.appending++;
    try {
      return this.appendNow(kind, id, input, ctx, fields, encrypted, content, key, rc);
    } finally {
      if (--this.appending === 0 && this.reportsAfterAppend.length > 0) this.recordReports();
    }
  }

  private appendNow(
    kind: ChainKind,
    id: string,
    input: { traceId?: string | undefined; parentId?: string | undefined; userId?: string | undefined; metadata?: Record<string, unknown> | undefined },
    ctx: ReturnType<typeof auditContext.get>,
    fields: Fields,
    encrypted: readonly string[],
    content: PreparedContent | undefined,
    key: EncryptionKey | undefined,
    rc: RedactionCounts | undefined,
  ): boolean {
    const w = this.writers[kind];
    // (an audit_event record is kept past the bound: it is the chained record of a change already
    // made to the directory, a legal hold placed or released in legal_holds.json, data keys
    // destroyed, files about to be removed, and was lost while the change stood, its call
    // returning as usual; such records are few, made by an operator's call, not by traffic; found
    // by the durability operator pass, 2026-12-05)
    if (this.writeFailing && kind !== "audit_event" && this.refusedRecordsFull()) {
      this.recordNotKept(kind, id);
      return false;
    }
    const now = recordTimeOverride ?? Date.now();
    const timestamp = isoTime(now);
    const seq = w.seq + 1;
    const rec: Fields = { id, type: kind, sessionId: this.sessionId, timestamp, seq, prevHash: w.prevHash };
    const traceId = input.traceId ?? ctx?.traceId;
    const parentId = input.parentId ?? ctx?.parentId;
    const userId = input.userId ?? ctx?.userId;
    if (traceId !== undefined) rec.traceId = traceId;
    if (parentId !== undefined && parentId !== id) rec.parentId = parentId;
    if (userId !== undefined) rec.userId = userId;
    Object.assign(rec, fields);
    let meta = ctx?.metadata && input.metadata ? mergeMembers(ctx.metadata, input.metadata) : (input.metadata ?? ctx?.metadata);
    // the context's sessionId is the application's session (a conversation), not the logger's:
    // recorded as metadata.appSessionId, as the Express middleware does (it was carried and
    // recorded nowhere; found by review, 2026-12-04). Metadata that names one wins.
    if (ctx?.sessionId !== undefined && (meta === undefined || !Object.hasOwn(meta, "appSessionId"))) meta = { ...meta, appSessionId: ctx.sessionId };
    const counts = rc ?? {};
    if (meta !== undefined) rec.metadata = this.json(meta, counts, "metadata");
    for (const _rule in counts) {
      rec.redactions = counts;
      break;
    }
    if (encrypted.length > 0) rec.encrypted = encrypted;
    const body = JSON.stringify(rec);
    const hash = w.seal(body, seq, now);
    if (content) this.storeContent(content, id, hash, timestamp, key);
    try {
      w.settle(now);
    } catch (err) {
      // the line is kept in the writer's buffer and retried (or, a rotation that failed, written
      // on to the file it was going to); tell someone now
      if (err instanceof AuditRotationError) this.report(err, true);
      else this.report(new AuditIOError(`Writing ${kind} records to ${w.activePath} failed: ${reason(err)}. They stay buffered and are retried by themselves, at the next write and by flush().`, { cause: err }), true);
    }
    if (this.writeFailing) this.endWriteFailureStreak();
    this.stats.head(kind, seq, hash);
    if (this.checkpointer) {
      this.checkpointer.push(kind, seq, hash);
      if (this.rotationCheckpointDue) this.writeCheckpoint("rotation");
      else if (this.checkpointer.recordsSinceLast >= this.config.checkpointEvery.records) this.writeCheckpoint("records");
    }
    if (this.sinks.length > 0) {
      const sealed: SealedRecord = { kind, sessionId: this.sessionId, id, seq, prevHash: rec.prevHash as string, hash, timestamp, line: sealedLine(body, hash) };
      // `fsync`: the sinks get a record once its line is written to its file (see releaseToSinks)
      if (this.config.durability === "fsync") this.sinkHeld.push(sealed);
      // (`sync`/`async`: a record whose lines wait for a new data key, see keyOrNotKept, reaches
      // the sinks once that key line is stored, as a PostgresSink sends the key store's lines
      // before the records; those of its kind after it follow it, in order)
      else if (w.holding || this.sinkHeldKinds.has(kind)) {
        this.sinkHeld.push(sealed);
        this.sinkHeldKinds.add(kind);
        if (!w.holding) this.releaseToSinks();
      } else this.toSinks(sealed);
    }
    if (this.exitFlushed) this.flushLateRecord();
    // (the clock, not a record's own earlier time: see withRecordTime)
    else if (this.config.durability === "async") this.scheduleFlush(recordTimeOverride === undefined ? now : undefined);
    else if (this.config.durability === "fsync") this.commitSoon(recordTimeOverride === undefined ? now : undefined);
    if (this.rotatedSegments.length > 0) this.announceRotations();
    if (this.notKept !== undefined && !this.writeFailing) this.reportNotKept();    return true;
  }

  /**
   * MAX_REFUSED_RECORD_BYTES of refused record lines are held, and writing them again (the disk
   * may take data by now: in `sync` mode nothing else would try before a flush()) fails too.
   * Past the bound that write is tried at most once per flushIntervalMs, not by every log call:
   * each call wrote every kind's refused lines again (one failed write(2) per failing kind, ~35
   * µs a call in `sync` mode, ~85 µs in `async`, where a writev(2) of the whole queue; found by
   * the durability operator pass, 2026-12-05). Any other write that frees room (flush(), the
   * flush timer) lets the next record be kept at once; records made within one interval after
   * the disk takes data again may still be not kept, and are counted as the others.
   */
  private refusedRecordsFull(): boolean {
    // (the new data key lines waiting to be stored counted too: see keyOrNotKept)
    const held = (): number => CHAIN_KINDS.reduce((n, k) => n + this.writers[k].heldBytes, 0) + (this.subjectKeys?.pendingBytes ?? 0);
    if (held() < MAX_REFUSED_RECORD_BYTES) return false;
    const now = performance.now();
    if (now < this.refusedRetryAt) return true;
    let refusal: unknown;
    for (const k of CHAIN_KINDS) {
      try {
        this.writers[k].writeOut();
      } catch (err) {
        refusal = err;
      }
    }
    if (held() < MAX_REFUSED_RECORD_BYTES) {
      this.endWriteFailureStreak();
      return false;
    }
    this.refusedRecordsError = refusal;
    this.refusedRetryAt = now + this.config.flushIntervalMs;
    return true;
  }

  /** A record not kept (see MAX_REFUSED_RECORD_BYTES): counted, and reported now. */
  private recordNotKept(kind: ChainKind, id: string): void {
    this.countNotKept(kind, id);
    const why = this.refusedRecordsError;
    this.announce(new AuditIOError(`Not kept: ${MAX_REFUSED_RECORD_BYTES / 1024 / 1024} MiB of records the disk refused (${reason(why)}) wait for it already; ${kind} record ${id} is lost (counted in an errors record once the disk takes data again).`, { cause: why }));
  }

  /** Counts a record not kept (see reportNotKept). */
  private countNotKept(kind: ChainKind, id: string): void {
    const n = (this.notKept ??= { count: new Map(), firstId: id, lastId: id, firstAt: new Date().toISOString() });
    n.count.set(kind, (n.count.get(kind) ?? 0) + 1);
    n.lastId = id;
  }

  /** The outage that dropped records has ended: one `errors` record counts them. */
  private reportNotKept(): void {
    const n = this.notKept!;
    this.notKept = undefined;
    const total = [...n.count.values()].reduce((a, b) => a + b, 0);
    const kinds = [...n.count].map(([k, c]) => `${k} ${c}`).join(", ");
    const message = `${total} record(s) made while the disk refused writes were not kept (past ${MAX_REFUSED_RECORD_BYTES / 1024 / 1024} MiB held in memory) and are lost: ${kinds}; ids ${n.firstId} to ${n.lastId}, from ${n.firstAt}`;
    try {
      runInAuditContext(undefined, () => this.logError({ errorType: "audit_records_not_kept", severity: "critical", message, context: { notKept: Object.fromEntries(n.count), firstId: n.firstId, lastId: n.lastId, since: n.firstAt } }));
    } catch (err) {
      this.announce(new AuditIOError(`${message}; recording this failed: ${reason(err)}`, { cause: err }));
    }
  }

  private toSinks(sealed: SealedRecord): void {
    for (const sink of this.sinks) {
      try {
        sink.write(sealed);
      } catch (err) {
        this.report(new AuditIOError(`Sink ${sink.constructor?.name ?? "sink"} refused a ${sealed.kind} record: ${(err as Error).message}`, { cause: err }));
      }
    }
  }

  /**
   * `fsync` mode: hands the sinks the held records whose lines are written to their files (in
   * order; a kind whose bytes the OS refused keeps its records, and the ones after them, for the
   * next write). A sink that got a record before its file did was ahead of the files after a
   * crash, and a session resumed from the files forked the store's chain: verify reported
   * `chain_broken`/`seq_duplicate` for records nobody had touched (found by review, 2026-12-05).
   */
  private releaseToSinks(): void {
    if (this.sinkHeld.length === 0) return;
    const held = this.sinkHeld;
    this.sinkHeld = [];
    let blocked: Set<ChainKind> | undefined;
    const fsync = this.config.durability === "fsync";
    for (const s of held) {
      const w = this.writers[s.kind];
      // (a write the OS refused leaves its bytes with the writer's retry, not counted as pending:
      // a failing writer holds its records too; found by review, 2026-12-05. `sync`/`async`: only
      // a kind whose lines wait for a new data key is held, see appendNow)
      if (blocked?.has(s.kind) || (fsync ? w.hasPending || w.lastError !== undefined : w.holding)) {
        (blocked ??= new Set()).add(s.kind);
        this.sinkHeld.push(s);
      } else this.toSinks(s);
    }
    if (!fsync) {
      this.sinkHeldKinds.clear();
      for (const k of blocked ?? []) this.sinkHeldKinds.add(k);
    }
  }

  /** A record made after the exit hook flushed (see exitFlushed): written now, failures reported. */
  private flushLateRecord(): void {
    try {
      this.flushSyncOnExit(true);
    } catch (err) {
      this.report(err instanceof AuditIOError ? err : new AuditIOError(`Writing a record made as the process ended failed: ${(err as Error).message}`, { cause: err }));
    }
  }

  private announceRotations(): void {
    const segments = this.rotatedSegments;
    this.rotatedSegments = [];
    for (const segment of segments) this.emitSafely("rotate", segment);
  }

  private storeContent(content: PreparedContent, id: string, recordHash: string, timestamp: string, key: EncryptionKey | undefined): void {
    const manifest = {
      interactionId: id,
      sessionId: this.sessionId,
      recordHash,
      encrypted: key !== undefined,
      ...(key ? { keyId: key.id } : {}),
      createdAt: timestamp,
    };
    // (encrypted under a new data key still waiting to be stored: kept as refused content is, and
    // written after that key line, never before; see keyOrNotKept)
    if (key !== undefined && this.subjectKeys?.isPending(key.id)) {
      if (!this.keepRefusedContent(id, content, manifest)) this.report(new AuditIOError(refusedFull(id)), true);
      return;
    }
    // `sync` writes content before the record line; in the other modes writes go to the
    // content-writer thread, and past MAX_PENDING_CONTENT in flight they are written
    // synchronously (back-pressure)
    if (this.config.durability === "sync" || this.pendingContent.size >= MAX_PENDING_CONTENT || this.pendingContentBytes >= MAX_PENDING_CONTENT_BYTES) {
      // (behind content refused before: written in order, and a disk still refusing is not met
      // again; as back-pressure a slice of them, this content queued behind the rest, see
      // writeRefusedSlice: all of them, each fdatasync'ed in `fsync` mode, held the event loop
      // for seconds; `sync` mode writes them all, its record line follows at once)
      const done = this.contentRefused.size === 0 ? true : this.writeRefusedContent(this.config.durability === "sync" ? undefined : REFUSED_CONTENT_SLICE);
      if (done === false) {
        const kept = this.keepRefusedContent(id, content, manifest);
        this.report(new AuditIOError(`Writing the full content of ${this.contentRefused.size} interaction(s) failed again: ${reason(this.contentRefusedError)}. ${kept ? "It stays in memory and is retried." : refusedFull(id)}`, { cause: this.contentRefusedError }), true);
        return;
      }
      // (queued behind the rest, which the next slices write in order; past
      // MAX_REFUSED_CONTENT_BYTES, written now)
      if (done === "more" && this.keepRefusedContent(id, content, manifest)) {
        this.nextRefusedSlice();
        return;
      }
      try {
        this.writeContentNow(content, manifest);
      } catch (err) {
        if (!diskRefused(err)) {
          this.report(new AuditIOError(`Writing the full content of interaction ${id} failed: ${(err as Error).message}`, { cause: err }));
          return;
        }
        const kept = this.keepRefusedContent(id, content, manifest);
        this.report(new AuditIOError(`Writing the full content of interaction ${id} failed: ${reason(err)}. ${kept ? "It stays in memory and is retried." : refusedFull(id)}`, { cause: err }), true);
      }
      return;
    }
    this.contentInFlight.set(id, { content, manifest });
    const bytes = content.prompt.length + content.response.length;
    this.pendingContentBytes += bytes;
    const p = writeContent(this.auditDir, content, manifest, FILE_MODE, this.config.durability).then(
      () => {
        this.contentWritten();
        this.pendingContent.delete(p);
        this.pendingContentBytes -= bytes;
        this.contentInFlight.delete(id);
      },
      (err: unknown) => {
        // (what it created, if anything, is synced too)
        this.contentWritten();
        this.pendingContent.delete(p);
        this.pendingContentBytes -= bytes;
        // the exit hook wrote these files itself (and took them out of contentInFlight): this
        // write, refused as they exist (see writeContent), lost nothing
        const tookOver = !this.contentInFlight.has(id) && (err as { code?: unknown } | null)?.code === "EEXIST";
        if (tookOver) return;
        // kept and written again (completing what the failed write left), unless the session has
        // ended: the exit hook or finalizeSession() took what was in flight
        if (this.closed || !this.contentInFlight.has(id) || !diskRefused(err)) {
          this.contentInFlight.delete(id);
          this.report(new AuditIOError(`Writing the full content of interaction ${id} failed: ${(err as Error).message}`, { cause: err }));
          return;
        }
        const kept = this.keepRefusedContent(id, content, manifest);
        if (!kept) this.contentInFlight.delete(id);
        this.report(new AuditIOError(`Writing the full content of interaction ${id} failed: ${reason(err)}. ${kept ? "It stays in memory and is retried." : refusedFull(id)}`, { cause: err }), true);
      },
    );
    this.pendingContent.add(p);
  }

  /**
   * `now`: the time of the record just buffered or queued (the clock's). A flush overdue by a
   * whole interval (the timer could not run: the event loop is blocked by synchronous work that
   * logs now and then) hands what is buffered over at once, so records wait at most about twice
   * flushIntervalMs also then: they waited until the app yielded, and a crash lost all of them
   * (found by review, 2026-12-04).
   */
  private scheduleFlush(now?: number): void {
    if (this.flushTimer !== undefined) {
      // (a whole interval past due: the timer's usual lateness is not a blocked loop, and a write
      // here supersedes the thread pool's; review, 2026-12-04)
      if (now !== undefined && now >= this.flushDueAt + this.config.flushIntervalMs) {
        this.flushDueAt = now + this.config.flushIntervalMs;
        // (written here, on the app's thread: a write handed to the thread pool is followed by
        // the next only from its callback, which a blocked event loop does not run)
        if (this.remote) this.sendQueued();
        else {
          // (the refused content files a slice at a time, as a `fsync` log call writes them (see
          // commitSoon): this call's slice written whether or not one is due in the next turn,
          // which a blocked loop does not run; the record lines wait for the last slice, written
          // by a later overdue call. Until 2026-12-06 this call wrote the whole backlog, up to
          // 64 MiB, in one go on the app's thread)
          this.writeOutAll(false, REFUSED_CONTENT_SLICE, true);
          // (slices left: the next log call FSYNC_WRITE_DUE_MS from now writes the next, as in
          // `fsync` mode, not one a whole interval later: the lines wait for the last)
          if (this.contentRefused.size > 0) this.flushDueAt = now + FSYNC_WRITE_DUE_MS - this.config.flushIntervalMs;
          // the content files of the records just written, queued for the content thread at the
          // end of a tick that has not come: sent now, so it writes them while this work goes on
          postQueuedContent();
        }
      }
      return;
    }
    this.flushDueAt = (now ?? Date.now()) + this.config.flushIntervalMs;
    // The kit's timers, threads and the I/O they start are made outside any audit context: one
    // made during a request kept that request's context (its trace and user, and what the
    // context holds) for as long as it lived, and gave it to whatever it reported.
    this.flushTimer = runInAuditContext(undefined, () =>
      setTimeout(() => {
        // deferred records first, so they are written in this same tick: they wait at most one
        // flushIntervalMs in memory, like every other record (their appends find the timer still
        // set and schedule nothing more)
        this.runDeferred();
        this.flushTimer = undefined;
        // (`async` mode flushes by timer: its batches go to the thread pool, see BackgroundFile;
        // with `thread: true` the queue goes to the worker. In `sync` mode the timer runs only to
        // write refused bytes again: see retryRefusedLater)
        if (this.remote) this.sendQueued();
        else if (this.config.durability === "async") this.writeOutByTimer();
        else this.writeOutAll(false, REFUSED_CONTENT_SLICE);
        // (with `thread: true` the worker's logger holds them, and retries them itself)
        if (!this.remote && this.holdsRefused()) this.retryRefusedLater();
      }, this.config.flushIntervalMs),
    );
    this.flushTimer.unref();
  }

  /**
   * `async` mode, the flush timer: every kind's batch to the thread pool, and the content files
   * the disk refused written again (synchronously, as flush() does: they were otherwise retried
   * only by flush(), a log call past the content bound, or the exit hook), a slice per turn of the
   * event loop (see REFUSED_CONTENT_SLICE). An outage whose refused bytes the last attempt wrote
   * ends here, not only at the next log call.
   */
  private writeOutByTimer(): void {
    if (this.writeFailing) {
      this.endWriteFailureStreak();
      if (this.notKept !== undefined && !this.writeFailing) this.reportNotKept();
    }
    const done = this.writeRefusedSlice();
    // (the record lines after their content files, as every write-out writes them: while slices
    // of refused content are left, the lines wait for the last one, which writes them out; see
    // linesAfterContent. When the content was refused again, the chat lines wait for the retry
    // too: handed to the thread pool now, they were written once the disk took data, before
    // their content, which only the next retry wrote; found 2026-12-06 as a test that failed
    // one run in five, the timer's tick falling just before the disk came back)
    if (this.refusedSlice === undefined) for (const kind of CHAIN_KINDS) if (done !== false || kind !== "chat_interaction") this.writers[kind].writeOutSoon();
    // (the records held from the sinks while their kind waited for a new data key: see appendNow)
    this.releaseToSinks();
  }

  /** the next turn's slice of the refused content files (see writeRefusedSlice), when one is due */
  private refusedSlice: NodeJS.Immediate | undefined;

  /** a periodic checkpoint that waits for the last slice of the refused content files (see writeCheckpoint) */
  private checkpointAfterSlices: string | undefined;

  /** `fsync` mode: a periodic checkpoint that waits for the next group commit's fdatasync (see writeCheckpoint, runCommit) */
  private checkpointAfterCommit: string | undefined;

  /**
   * Writes a slice of the refused content files (see REFUSED_CONTENT_SLICE) and, when more are
   * left, the next slice in the next turn of the event loop (unref'd, as the flush timer is: at
   * the process's end the exit hook writes what is left); a failure is reported, and the flush
   * timer (`fsync` mode: the group commit) tries again. Returns what the slice did (see
   * writeRefusedContent; true when nothing was refused, "more" when a slice is due already).
   */
  private writeRefusedSlice(): boolean | "more" {
    // (a slice is due in this turn already: the timer's would double this turn's work)
    if (this.contentRefused.size === 0) return true;
    if (this.refusedSlice !== undefined) return "more";
    const done = this.writeRefusedContent(REFUSED_CONTENT_SLICE);
    if (done === false) {
      this.report(new AuditIOError(`Writing the full content of ${this.contentRefused.size} interaction(s) failed again: ${reason(this.contentRefusedError)}. It stays in memory and is retried.`, { cause: this.contentRefusedError }), true);
      // (`fsync` mode retries by its group commit, after the backoff: see retryRefusedLater)
      if (this.config.durability === "fsync") this.scheduleCommit();
    } else if (done === "more") this.nextRefusedSlice();
    else if (this.writeFailing) {
      this.endWriteFailureStreak();
      if (this.notKept !== undefined && !this.writeFailing) this.reportNotKept();
    }
    return done;
  }

  /**
   * The record lines that waited for the refused content files' slices (see writeOutAll), handed
   * to the OS once the last slice is written, as the mode writes them: `async` by the thread pool,
   * `sync` at once, `fsync` by a group commit. Until the review of 2026-12-06 the timer wrote the
   * lines at once and the content over the next turns: a crash meanwhile left records whose
   * content files were not there (`content_mismatch` for good), where the README says every
   * write-out writes the content first.
   */
  private linesAfterContent(): void {
    if (this.config.durability === "async") for (const kind of CHAIN_KINDS) this.writers[kind].writeOutSoon();
    else if (this.config.durability === "fsync") this.scheduleCommit();
    else this.writeOutAll(false);
  }

  private nextRefusedSlice(): void {
    if (this.refusedSlice !== undefined) return;
    this.refusedSlice = runInAuditContext(undefined, () =>
      setImmediate(() => {
        this.refusedSlice = undefined;
        // (the session ended, or the exit hook took what was left: theirs to write)
        if (this.closed || this.exitFlushed || this.remote) return;
        this.writeRefusedSlice();
        if (this.refusedSlice === undefined && this.contentRefused.size === 0) {
          this.linesAfterContent();
          if (this.checkpointAfterSlices !== undefined) this.writeCheckpoint(this.checkpointAfterSlices);
        }
      }),
    );
    this.refusedSlice.unref();
  }

  /** Record lines or content files the disk refused are held in memory, waiting for it. */
  private holdsRefused(): boolean {
    return this.contentRefused.size > 0 || CHAIN_KINDS.some((k) => this.writers[k].heldBytes > 0);
  }

  /**
   * The disk refused a write: the flush timer writes what it refused again, once per
   * flushIntervalMs for as long as it holds any (unref'd: it never keeps the process alive).
   * Until then the next attempt was the next log call's, flush()'s or the exit hook's: an app
   * that went quiet kept the refused records in memory after the disk took data again, and a
   * SIGKILL then lost them, past the documented loss window (found by the durability pass,
   * 2026-12-05). `fsync` mode has its own retry, the group commit's backoff.
   */
  private retryRefusedLater(): void {
    if (this.remote || this.closed || this.exitFlushed || this.config.durability === "fsync") return;
    this.scheduleFlush();
  }

  /**
   * Hands every kind's buffer to the OS; reports failures, and with `rethrow` also throws them.
   * With `slice` (the flush timer's, the group commit's, an `fsync` log call's), the refused
   * content files are written a slice per turn of the event loop (see writeRefusedSlice), not
   * all at once; the record lines wait for the last slice.
   */
  private writeOutAll(rethrow: boolean, slice?: typeof REFUSED_CONTENT_SLICE, sliceNow = false): void {
    if (this.remote) {
      this.sendQueued();
      return;
    }
    this.unwrittenSince = undefined;
    let first: Error | undefined;
    // (with a slice due in this turn already, the timer leaves the content files to it; with
    // `sliceNow` this call writes one anyway, see commitSoon)
    const done = this.contentRefused.size === 0 ? true : slice && this.refusedSlice !== undefined && !sliceNow ? "more" : this.writeRefusedContent(slice);
    if (done === false) {
      first = new AuditIOError(`Writing the full content of ${this.contentRefused.size} interaction(s) failed again: ${reason(this.contentRefusedError)}. It stays in memory and is retried.`, { cause: this.contentRefusedError });
      this.report(first, true);
    } else if (done === "more") {
      // the record lines after their content files: they wait for the last slice, which writes
      // them out (see linesAfterContent)
      this.nextRefusedSlice();
      return;
    }
    for (const kind of CHAIN_KINDS) {
      try {
        this.writers[kind].writeOut();
      } catch (err) {
        const e = new AuditIOError(`Writing ${kind} records failed: ${reason(err)}. They stay buffered and are retried.`, { cause: err });
        first ??= e;
        this.report(e, true);
      }
    }
    if (this.writeFailing && !first) this.endWriteFailureStreak();
    this.releaseToSinks();
    if (this.notKept !== undefined && !this.writeFailing) this.reportNotKept();
    if (first && rethrow) throw first;
  }

  /** Ends a write-failure streak once no chain file holds refused bytes any more, nor any content file. */
  private endWriteFailureStreak(): void {
    if (this.contentRefused.size === 0 && !CHAIN_KINDS.some((k) => this.writers[k].failing)) this.writeFailing = false;
  }

  /** the last failure of a refused content file's retry */
  private contentRefusedError: unknown;

  /** the bytes of the content in `contentRefused` */
  private contentRefusedBytes = 0;

  /**
   * Keeps a content file the disk refused, to be written again (see `contentRefused`), unless
   * MAX_REFUSED_CONTENT_BYTES are kept already: whether it is kept.
   */
  private keepRefusedContent(id: string, content: PreparedContent, manifest: ContentManifestBase): boolean {
    if (!this.contentRefused.has(id)) {
      const bytes = content.prompt.length + content.response.length;
      if (this.contentRefused.size > 0 && this.contentRefusedBytes + bytes > MAX_REFUSED_CONTENT_BYTES) return false;
      this.contentRefusedBytes += bytes;
    }
    this.contentRefused.set(id, { content, manifest });
    this.contentInFlight.set(id, { content, manifest });
    return true;
  }

  /** A content file kept in `contentRefused` is written, or given up. */
  private dropRefused(id: string): void {
    const had = this.contentRefused.get(id);
    if (had === undefined) return;
    this.contentRefused.delete(id);
    this.contentRefusedBytes -= had.content.prompt.length + had.content.response.length;
  }

  /**
   * A chat's content files written now, on this thread (see writeContentSync), and their names
   * synced in `fsync` mode (see contentWritten), also after a write that failed part-way.
   */
  private writeContentNow(content: PreparedContent, manifest: ContentManifestBase): void {
    try {
      writeContentSync(this.auditDir, content, manifest, FILE_MODE, this.config.durability);
    } finally {
      this.contentWritten();
    }
  }

  /**
   * `fsync` mode: a content write ended (on the content-writer thread, the thread pool or here),
   * so new names may be in `full_interactions/`: the next group commit fsyncs that directory, on
   * the thread pool beside the chain files' fdatasync, once for every name made since (scheduled
   * here, so it is not left to the next log call). flush() waits for the content files of the
   * chats logged before it and then for a commit: it resolves once their names are on disk too.
   * Until 2026-12-06 nothing synced that directory: a power cut after flush() resolved could
   * leave records whose content files had no name (content_missing; found by the durability
   * review).
   */
  private contentWritten(): void {
    if (this.config.durability !== "fsync") return;
    this.contentNames.mark();
    if (!this.closed && !this.remote) this.scheduleCommit();
  }

  /**
   * Writes the content files the disk refused, in order, synchronously (completing what a failed
   * write left); stops at the first that fails again (false), or, with `slice`, once a file written
   * has spent its time or bytes ("more": some are left). Whether all are written now, those under
   * a new data key whose key line the disk still refuses aside: they wait for it (with their
   * records, which their kind's gate holds; see keyOrNotKept), and true says the others are
   * written. Until 2026-12-06 such a file held every content file behind it, and so in `sync`
   * mode every later chat's, whatever its subject's key, while the key line waited.
   */
  private writeRefusedContent(slice?: typeof REFUSED_CONTENT_SLICE): boolean | "more" {
    // (some may be encrypted under a new data key still waiting: the key lines go first)
    let keysRefused = false;
    try {
      this.storePendingKeys();
    } catch (err) {
      this.contentRefusedError = err;
      keysRefused = true;
    }
    const start = slice ? performance.now() : 0;
    let bytes = 0;
    for (const [id, c] of this.contentRefused) {
      if (keysRefused && c.manifest.keyId !== undefined && this.subjectKeys?.isPending(c.manifest.keyId)) continue;
      if (slice && bytes > 0 && (bytes >= slice.bytes || performance.now() - start >= slice.ms)) return "more";
      bytes += c.content.prompt.length + c.content.response.length + 1;
      try {
        this.writeContentNow(c.content, c.manifest);
      } catch (err) {
        if (diskRefused(err)) {
          this.contentRefusedError = err;
          return false;
        }
        // (not the disk's state: a file that exists with other bytes, say; not tried again)
        this.report(new AuditIOError(`Writing the full content of interaction ${id} failed: ${(err as Error).message}`, { cause: err }));
      }
      this.dropRefused(id);
      this.contentInFlight.delete(id);
    }
    return true;
  }

  /**
   * `fsync` mode, after a record: schedules the group commit; and when records have waited
   * FSYNC_WRITE_DUE_MS for one (the event loop is blocked: synchronous work that logs, and the
   * commit runs only when the loop turns), hands them to the OS here, on the app's thread, so a
   * crash loses what the docs say, records of the last few milliseconds (all of them were lost;
   * found by review, 2026-12-04). The commit still fdatasyncs them when it runs.
   */
  private commitSoon(now: number | undefined): void {
    if (now !== undefined) {
      if (this.unwrittenSince === undefined) this.unwrittenSince = now;
      // (the refused content files a slice at a time, this call's slice written whether or not
      // one is due in the next turn: a blocked loop runs none of those, and the lines wait for
      // the last; see writeOutAll. Found by the durability pass, 2026-12-06: with the commit
      // waiting out its backoff, the first log call 10 ms after the disk took data again wrote
      // the whole backlog, each file fdatasync'ed: 1,000 files of 8 KB held the event loop
      // 0.6–2.4 s)
      else if (now - this.unwrittenSince >= FSYNC_WRITE_DUE_MS) this.writeOutAll(false, REFUSED_CONTENT_SLICE, true);
    }
    this.scheduleCommit();
  }

  /** Schedules a group commit: at once, or after the backoff while commits fail (an explicit flush() does not wait for it). */
  private scheduleCommit(explicit = false): void {
    if (this.commitRunning) return;
    if (this.commitScheduled) {
      if (!explicit || this.commitTimer === undefined) return;
      clearTimeout(this.commitTimer);
      this.commitTimer = undefined;
    }
    this.commitScheduled = true;
    if (!explicit && this.commitBackoffMs > 0) {
      this.commitTimer = runInAuditContext(undefined, () => setTimeout(() => void this.runCommit(), this.commitBackoffMs));
      this.commitTimer.unref();
    } else runInAuditContext(undefined, () => setImmediate(() => void this.runCommit()));
  }

  /** Group commit: one write(2) + fdatasync per kind for everything logged since the last one. */
  private async runCommit(): Promise<void> {
    this.commitScheduled = false;
    this.commitTimer = undefined;
    if (this.closed) return;
    this.commitRunning = true;
    const waiters = this.commitWaiters;
    this.commitWaiters = [];
    let failure: Error | undefined;
    let covered: CheckpointHeads | undefined;
    try {
      // (a commit no flush() waits for writes the refused content files a slice per turn, as the
      // flush timer does: with each fdatasync'ed, 800 files of 8 KB held the event loop ~3.6 s,
      // 2026-12-05; a flush() asked for everything)
      this.writeOutAll(true, waiters.length > 0 ? undefined : REFUSED_CONTENT_SLICE);
      // (a periodic checkpoint due: every chain's head as this write-out left them, when it handed
      // every record line to the OS (no slice of refused content left, no line waiting), signed
      // below once the sync has returned; see writeCheckpoint)
      covered = this.checkpointAfterCommit !== undefined && this.checkpointer && this.refusedSlice === undefined && this.contentRefused.size === 0 && !CHAIN_KINDS.some((k) => this.writers[k].hasPending) ? this.checkpointer.snapshot() : undefined;
      // (every kind's sync ends before the commit does, also when one fails: a file whose sync
      // was still running when another's failed counted as synced for the next commit; found by
      // review, 2026-12-03)
      // (and the directory, once after a new name or a rename in it: a file's fdatasync does not
      // carry its name; see DirectorySync)
      // (and the content directory's, once for the content files written since: see contentWritten)
      const dirs = this.config.durability === "fsync" ? [this.names, this.contentNames] : [];
      const synced = await Promise.allSettled([...CHAIN_KINDS.map((k) => this.writers[k].datasync()), ...dirs.map((d) => d.sync())]);
      // (the report names each sync that failed, a chain file's fdatasync or the directory's
      // fsync: it said "fdatasync failed" for the directory's too; found by the durability
      // review, 2026-12-06)
      const failed = synced.flatMap((r, i) => (r.status === "rejected" ? [{ what: i < CHAIN_KINDS.length ? `fdatasync of ${path.basename(this.writers[CHAIN_KINDS[i]!].activePath)}` : dirs[i - CHAIN_KINDS.length]!.what, err: r.reason as unknown }] : []));
      if (failed.length > 0) {
        failure = new AuditIOError(`${failed.map((f) => `${f.what} failed: ${reason(f.err)}`).join("; ")}. The records stay unconfirmed and are synced again by the next commit.`, { cause: failed[0]!.err });
        this.report(failure, true);
      }
    } catch (err) {
      if (err instanceof AuditIOError) failure = err; // writeOutAll reported it
      else {
        failure = new AuditIOError(`The group commit failed: ${reason(err)}. The records stay unconfirmed and are synced again by the next commit.`, { cause: err });
        this.report(failure, true);
      }
    }
    // the periodic checkpoint, over records now on stable storage (unless one written meanwhile,
    // finalize's say, covers more, or the session ended): appended here, its fdatasync on the
    // thread pool, as the records' was; the commit (and the flush() calls waiting for it, and
    // finalizeSession()) ends once that has returned. Found by the durability pass, 2026-12-06:
    // the checkpoints file was fdatasync'ed on the app's thread (0.4–2 ms a checkpoint, up to
    // 33 ms; bench/checkpoint-stall.ts)
    const why = this.checkpointAfterCommit;
    if (!failure && covered && why !== undefined && this.checkpointer && this.checkpointer.appended === covered.n && !this.closed) {
      this.checkpointAfterCommit = undefined;
      let written: ReturnType<Checkpointer["writeSyncingLater"]> | undefined;
      let synced = false;
      try {
        written = this.checkpointer.writeSyncingLater(why, covered);
        await written.synced;
        synced = true;
      } catch (err) {
        // (a failed sync names which, the file's or the directory's, and the checkpoint does not
        // count: see Checkpointer.unconfirmed)
        this.report(err instanceof AuditIOError ? err : new AuditIOError(`Writing checkpoint failed: ${(err as Error).message}`, { cause: err }));
      }
      // (announced once it counts: until 2026-12-06 one whose sync failed was announced too, and
      // an app anchoring `checkpoint` events anchored a checkpoint not known to be on disk)
      if (written && synced) this.checkpointWritten(written.checkpoint);
    }
    this.commitRunning = false;
    // a failed commit is retried after a pause that doubles up to FSYNC_RETRY_MAX_MS, not in a tight loop
    this.commitBackoffMs = failure ? Math.min(Math.max(this.commitBackoffMs * 2, 50), FSYNC_RETRY_MAX_MS) : 0;
    for (const w of waiters) failure ? w.reject(failure) : w.resolve();
    // a flush() that arrived while this commit ran is retried at once, not after the backoff
    if (this.commitWaiters.length > 0) this.scheduleCommit(true);
    // refused bytes are retried too (after the backoff), so they reach the disk once it takes data again
    else if ((this.contentRefused.size > 0 && this.refusedSlice === undefined) || (this.config.durability === "fsync" && this.contentNames.pending) || (this.checkpointAfterCommit !== undefined && !this.closed && this.refusedSlice === undefined) || CHAIN_KINDS.some((k) => this.writers[k].hasPending || this.writers[k].dirty || this.writers[k].lastError !== undefined)) this.scheduleCommit();
  }

  /** `fsync` mode, on the calling thread: every chain file's fdatasync, then the directory's if a name was made in it since (see DirectorySync). */
  private datasyncAllSync(): void {
    // (a failure names the sync that failed, as the group commit's does)
    // (the content files' names first: the records name them)
    try {
      this.contentNames.syncSync();
    } catch (err) {
      throw new AuditIOError(`${this.contentNames.what} failed: ${reason(err)}. The content files made in it stay unconfirmed and are synced again by the next commit.`, { cause: err });
    }
    for (const kind of CHAIN_KINDS) {
      try {
        this.writers[kind].datasyncSync();
      } catch (err) {
        throw new AuditIOError(`fdatasync of ${path.basename(this.writers[kind].activePath)} failed: ${reason(err)}. The records stay unconfirmed and are synced again by the next commit.`, { cause: err });
      }
    }
    try {
      this.names.syncSync();
    } catch (err) {
      throw new AuditIOError(`${this.names.what} failed: ${reason(err)}. The names made in it stay unconfirmed and are synced again by the next commit.`, { cause: err });
    }
  }

  /**
   * Signs a checkpoint over every chain's head. The records it covers are handed to the OS first
   * (and fdatasync'ed in `fsync` mode), so a checkpoint never claims more than the files hold.
   */
  private writeCheckpoint(why: string): void {
    const cp = this.checkpointer;
    if (!cp) return;
    // A periodic one (by records or time) meets refused content a slice at a time, as the log
    // calls do (see REFUSED_CONTENT_SLICE): while slices are left it waits for the last, whose
    // turn writes it (see nextRefusedSlice), as the record lines it covers wait. Found by the
    // durability pass, 2026-12-06: it wrote the whole backlog at once, every file fdatasync'ed
    // in `fsync` mode: 2,000 files of 8 KB held the event loop 8.8 s. The others (rotation,
    // finalize, an operator's call) are asked for now and write everything, as flush() does.
    if ((why === "records" || why === "interval") && this.contentRefused.size > 0 && !this.remote) {
      const done = this.refusedSlice !== undefined ? "more" : this.writeRefusedContent(REFUSED_CONTENT_SLICE);
      if (done === "more") {
        this.checkpointAfterSlices = why;
        this.nextRefusedSlice();
        return;
      }
      // (refused again: no checkpoint, as before, and not a second attempt at everything, which
      // wrote the whole backlog at once when the disk took data again in between; the next
      // record past the count, or the next interval, tries again)
      if (done === false) {
        this.report(new AuditIOError(`Writing the full content of ${this.contentRefused.size} interaction(s) failed again: ${reason(this.contentRefusedError)}. It stays in memory and is retried; the signed checkpoint waits for it.`, { cause: this.contentRefusedError }), true);
        return;
      }
    }
    this.checkpointAfterSlices = undefined;
    // `fsync` mode, a periodic one: signed over what the next group commit hands to the OS, and
    // written once that commit's fdatasync (on the thread pool) has returned (see runCommit): it
    // fdatasync'ed every chain file here, on the app's thread, in the log call that reached the
    // count (2–6 ms a checkpoint, up to 80 ms on a loaded disk; bench/checkpoint-stall.ts,
    // 2026-12-06). Still a checkpoint covers only records on stable storage when it is written.
    if ((why === "records" || why === "interval") && this.config.durability === "fsync" && !this.remote) {
      this.checkpointAfterCommit = why;
      this.scheduleCommit();
      return;
    }
    this.checkpointAfterCommit = undefined;
    this.rotationCheckpointDue = false;
    try {
      this.writeOutAll(true);
      if (this.config.durability === "fsync") this.datasyncAllSync();
      this.checkpointWritten(cp.write(why));
    } catch (err) {
      this.report(err instanceof AuditIOError ? err : new AuditIOError(`Writing checkpoint failed: ${(err as Error).message}`, { cause: err }));
    }
  }

  /** Runs flush() or close() on every extra sink; a failing sink is reported, never the caller's error, and never blocks the files. */
  private async settleSinks(op: "flush" | "close"): Promise<void> {
    // (each waited for `sinkTimeoutMs` at most: a sink whose promise never settles (a store that
    // stopped answering) must not hold flush() or finalizeSession() forever; found by review,
    // 2026-12-03)
    const ms = this.config.sinkTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<typeof TIMED_OUT>((resolve) => {
      // (kept referenced: an app's `await finalizeSession()` must return to the app, whose code
      // after it runs, not end the process under it, unsettled)
      timer = setTimeout(resolve, ms, TIMED_OUT);
    });
    const results = await Promise.allSettled(this.sinks.map((s) => Promise.race([Promise.resolve().then(() => s[op]()), late])));
    clearTimeout(timer);
    results.forEach((r, i) => {
      const name = this.sinks[i]?.constructor?.name ?? "sink";
      if (r.status === "rejected") {
        this.report(new AuditIOError(`${name}.${op}() failed: ${(r.reason as Error)?.message ?? String(r.reason)}. The local files are unaffected.`, { cause: r.reason }));
      } else if (r.value === TIMED_OUT) {
        this.report(new AuditIOError(`${name}.${op}() did not settle within sinkTimeoutMs (${ms} ms): ${op === "flush" ? "flush()" : "finalizeSession()"} went on without it. The local files are unaffected; raise sinkTimeoutMs if the sink needs longer.`));
      }
    });
  }

  /**
   * An `error` event if anyone listens, else (once) a process warning. One that arises while an
   * `error` listener runs (a record the listener logs, refused too during an outage) is emitted
   * on the next turn of the event loop, as in `thread` mode: emitted at once, a listener that
   * records what it is told recursed until the stack overflowed, a RangeError thrown into the
   * app's log call (found by review, 2026-12-05; every record an outage refused or did not keep
   * is an `error` event). A listener that throws then is a process warning (there is no caller).
   */
  private announce(err: Error): void {
    if (this.listenerCount("error") > 0) {
      if (this.emittingError) {
        setImmediate(() => {
          try {
            this.announce(err);
          } catch (thrown) {
            // (a listener that throws here throws into no caller of the app's: told once, never a crash)
            if (this.warnedListenerThrew) return;
            this.warnedListenerThrew = true;
            process.emitWarning(redactedForReport(this, `An "error" listener of the audit logger threw: ${reason(thrown)}; the error it was told of: ${err.message}`), { code: "AUDIT_ERR_IO", type: "AuditLoggerWarning" });
          }
        });
        return;
      }
      this.emittingError = true;
      try {
        this.emit("error", err);
      } finally {
        this.emittingError = false;
      }
    } else if (!this.warnedNoListener) {
      this.warnedNoListener = true;
      process.emitWarning(redactedForReport(this, err.message), { code: (err as AuditIOError).code ?? "AUDIT_ERR_IO", type: "AuditLoggerWarning" });
    }
  }

  /** The `checkpoint` event and the `onCheckpoint` callback for a checkpoint just written. */
  private checkpointWritten(checkpoint: Checkpoint): void {
    this.emitSafely("checkpoint", checkpoint);
    if (this.config.onCheckpoint) {
      try {
        this.config.onCheckpoint(checkpoint);
      } catch (err) {
        this.report(new AuditIOError(`The onCheckpoint callback threw: ${(err as Error).message}`, { cause: err }));
      }
    }
  }

  /** Emits `event`; a listener that throws is reported, never thrown into the log call. */
  private emitSafely<E extends "rotate" | "checkpoint">(event: E, ...args: AuditLoggerEvents[E]): void {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      this.report(new AuditIOError(`A "${event}" listener threw: ${(err as Error).message}`, { cause: err }));
    }
  }

  /**
   * `thread: true`: queues a validated input for the worker; returns the record's id. A call made
   * by the app is copied now (it may change its objects after the call); one made by a deferred
   * recording step is sent in this same tick, which copies it.
   */
  private queue(m: LogMethod, v: { readonly id?: string | undefined }, freshId = false): string {
    // (only when content files will be written: a record with neither part captured has none, as without the thread)
    if (m === "logChatInteraction" && v.id !== undefined && !freshId && this.config.fullContentLogging && !nothingCaptured(v)) this.checkContentId(v.id);
    const id = v.id ?? newId();
    const ctx = auditContext.get();
    const c = ctx ? contextData(ctx) : undefined;
    // a deferred step's input is the integration's own plain data, sent in this same tick
    // (a record made later for an integration's call carries the call's time: see withRecordTime)
    const t = recordTimeOverride ?? Date.now();
    const data = forWorker(v as Record<string, unknown>, ctx?.metadata, !this.draining);
    // (a chat's id made here, or by an integration for its call, is fresh on the worker too: see InputItem.f)
    const item: InputItem = m === "logChatInteraction" && (v.id === undefined || freshId) ? { m, v: data, id, c, t, f: 1 } : { m, v: data, id, c, t };
    const full = this.enqueue(item);
    if (this.exitFlushed) this.flushLateRecord();
    else if (full) this.sendQueued();
    else this.scheduleFlush(recordTimeOverride === undefined ? t : undefined);
    return id;
  }

  /**
   * @internal For integrations (src/instrument.ts `recordFrom`): with `thread: true`, queues
   * `data` for the worker thread, which makes the input with `builder` there (see
   * {@link InputBuilder}); `context` is the call's audit context. Returns false (nothing queued)
   * without the thread, once closed, or while the worker has not loaded the builder's module (or
   * could not): the caller then makes the input on this thread.
   */
  queueForWorker<D>(builder: InputBuilder<D>, data: D, context: AuditContextValue | undefined): boolean {
    if (!this.remote || this.closed) return false;
    const n = this.builderIds.get(builder);
    if (typeof n !== "number") {
      if (n === undefined) this.loadBuilder(builder);
      return false;
    }
    // the context's metadata is merged into the built input by the worker's log call, as without the thread
    if (this.enqueue([n, data, context ? contextData(context, true) : undefined, Date.now()])) this.sendQueued();
    else this.scheduleFlush();
    return true;
  }

  /**
   * Has the worker import a builder's module; its data is queued for the worker once it has.
   * Only a module file of this package (see `ownModule`): a bundle gives every module the
   * bundle's URL, and the worker must never import the app's own code.
   */
  private loadBuilder(builder: InputBuilder<never>): void {
    this.builderIds.set(builder, false);
    if (!ownModule(builder.module)) return; // its inputs are made on this thread, as without the thread
    const n = this.builderIds.size;
    this.remote!.call("loadBuilder", [builder.module, builder.name, n, builder.method]).then(
      () => {
        // Calls recorded while the module loaded wait as deferred steps; they go first, so the
        // records stay in the order of the calls.
        this.runDeferred();
        this.builderIds.set(builder, n);
      },
      () => {
        // (a bundle that left the module out, say): inputs are made on this thread, as before
      },
    );
  }

  /**
   * `thread: true`: an explicit chat id must not have content files already, as without the
   * thread (checked there against the files and the writes in flight): here against the files
   * and the ids queued lately; the worker checks again and reports what slips through.
   */
  private checkContentId(id: string): void {
    if (this.queuedContentIds.has(id) || contentIdTaken(this.auditDir, id)) throw duplicateIdError(id);
    this.queuedContentIds.add(id);
    if (this.queuedContentIds.size > QUEUED_IDS_KEPT) this.queuedContentIds.delete(this.queuedContentIds.values().next().value as string);
  }

  /** Queues `item` for the worker; true when the queue is full (records or bytes) and goes now. */
  private enqueue(item: BatchItem): boolean {
    this.queued.push(item);
    this.queuedBytes += approxBytes(item);
    return this.queued.length >= THREAD_QUEUE_MAX || this.queuedBytes >= THREAD_QUEUE_BYTES;
  }

  /** Hands the queued records to the worker (in the order they were logged). */
  private sendQueued(): void {
    if (!this.remote || this.queued.length === 0) return;
    const items = this.queued;
    const bytes = this.queuedBytes;
    this.queued = [];
    this.queuedBytes = 0;
    this.remote.send(items, bytes);
  }

  /** A blocking call to the worker's logger, after everything queued so far. */
  private callWorker(method: "shredSubject" | "placeLegalHold" | "releaseLegalHold", args: unknown[]): unknown {
    this.runDeferred();
    this.sendQueued();
    return this.remote!.callSync(method, args);
  }

  /** @internal (the worker thread's logger) Hands every buffered record to the OS now. */
  writeOutBuffered(): void {
    this.writeOutAll(false);
  }

  /**
   * A failure to record: an `error` event (if anyone listens, else a warning) and an `errors`
   * record. A failing chain file (full disk, file too large) is one outage: every failed write
   * emits its event, but only the first of a streak becomes an `errors` record, so an outage
   * cannot flood the errors file; the streak ends when every buffer has been written again.
   * `recovered`: a failure a sink overcame with nothing lost (see `AuditSinkOpenInfo.onRecovered`),
   * recorded as `audit_sink_recovered`, severity warning, not as a failure to record.
   */
  private report(err: Error, writeFailure = false, recovered = false): void {
    this.announce(err);
    if (writeFailure) this.retryRefusedLater();
    if (writeFailure && this.writeFailing) return;
    if (this.reporting || this.closed) return;
    // Met while a record is being appended (its line refused, its content file, a sink, a
    // checkpoint): the errors record is made once that append has ended (see append). Made at
    // once, it was appended within the other: with that record an `errors` one too, the report
    // (seq n+1) reached the checkpoints' Merkle tree, the session's heads and the sinks before
    // the record (seq n) that met the failure; a signed checkpoint then said the errors chain
    // ended at n and verify reported checkpoint_missing on an untouched log, and the sinks got n+1
    // before n (found by the durability operator pass, 2026-12-05).
    if (this.appending > 0) {
      this.reportsAfterAppend.push({ err, writeFailure, recovered });
      return;
    }
    this.recordReport(err, writeFailure, recovered);
  }

  /** The reports met during the append that just ended, recorded in turn (see report). */
  private recordReports(): void {
    const reports = this.reportsAfterAppend;
    this.reportsAfterAppend = [];
    // (each checked again: the first of an outage's starts the streak, which the others then join)
    for (const r of reports) if (!(r.writeFailure && this.writeFailing) && !this.reporting && !this.closed) this.recordReport(r.err, r.writeFailure, r.recovered);
  }

  /** The `errors` record of a failure to record (see report). */
  private recordReport(err: Error, writeFailure: boolean, recovered: boolean): void {
    this.reporting = true;
    try {
      // the kit's own failure, not the current request's: recorded outside its context
      const as = recovered ? ({ errorType: "audit_sink_recovered", severity: "warning" } as const) : ({ errorType: "audit_write_failed", severity: "critical" } as const);
      runInAuditContext(undefined, () => this.logError({ ...as, message: err.message }));
      // the streak starts once its record exists; a failure met while another report was
      // being written starts none, so the next one is recorded
      if (writeFailure) this.writeFailing = true;
    } catch {
      // the errors file is failing too; the event above is the report
    } finally {
      this.reporting = false;
    }
  }

  private writeSessionFile(): string {
    const file = path.join(this.auditDir, sessionFileName(this.sessionId));
    let startTime = new Date().toISOString();
    let resumedFrom: Record<string, unknown> | undefined;
    try {
      const prev = JSON.parse(readRegularFileSync(file, undefined, SESSION_FILE_MAX_BYTES).toString("utf8")) as { startTime?: unknown };
      if (typeof prev.startTime === "string") startTime = prev.startTime;
      resumedFrom = prev as Record<string, unknown>;
    } catch {
      // a new session, or an unreadable previous session file (damaged; a FIFO or a link put in
      // its place, never opened: a FIFO hung this constructor for good, SIGTERM too; found by
      // review, 2026-12-05): replaced below, its records kept (they are in the chain files)
    }
    this.openedInfo = {
      sessionId: this.sessionId,
      status: "active",
      startTime,
      ...(resumedFrom ? { resumedAt: new Date().toISOString() } : {}),
      pid: process.pid,
      hostname: OWN_HOSTNAME,
      // (the process's start as the kernel counts it and its pid namespace, where known, as its
      // lock has them: a reader of the PostgreSQL store, which has this but not the lock, tells a
      // reused pid by the one, and another container's run given this host's name by the other)
      ...(OWN_PROC_START !== undefined ? { procStart: OWN_PROC_START } : {}),
      ...(OWN_PID_NS !== undefined ? { pidNs: OWN_PID_NS } : {}),
      customMetadata: this.config.customMetadata,
    };
    this.writeJsonAtomic(sessionFileName(this.sessionId), { ...this.openedInfo, config: this.sessionConfig() });
    return startTime;
  }

  /**
   * Sinks that closed holding records of this session (PostgresSink: a store down through the end)
   * are listed in the finalized session file, `config.undeliveredSinks`, with what they hold: the
   * session file named the sink as if every record had reached it (found by the integrity pass,
   * 2026-12-05). Written again, after the sinks closed, only then.
   */
  private noteUndelivered(summary: SessionSummary): void {
    const undelivered: Array<{ sink: string; detail: string }> = [];
    for (const sink of this.sinks) {
      try {
        const detail = sink.undelivered?.();
        if (typeof detail === "string") undelivered.push({ sink: sinkName(sink), detail });
      } catch (err) {
        undelivered.push({ sink: sinkName(sink), detail: `could not tell what it delivered: ${reason(err)}` });
      }
    }
    if (undelivered.length === 0) return;
    this.undeliveredSinks = undelivered;
    try {
      this.writeJsonAtomic(sessionFileName(this.sessionId), { ...summary, status: "finalized", config: this.sessionConfig() });
    } catch (err) {
      this.report(new AuditIOError(`Writing the session file ${sessionFileName(this.sessionId)} again, naming the sinks that did not deliver every record, failed: ${reason(err)}.`, { cause: err }));
    }
  }

  /** Sinks that closed holding records of this session (see noteUndelivered). */
  private undeliveredSinks: Array<{ readonly sink: string; readonly detail: string }> = [];

  /** What the session file holds besides `config` while the session is open. */
  private openedInfo: Record<string, unknown> = {};

  /**
   * The session file's `config`: the configuration without keys, its `sinks` those the logger
   * writes to, `refusedSinks` (when any) those whose `open()` refused it, with the reason, and
   * `undeliveredSinks` (when any, once finalized) those that closed holding records of it.
   */
  private sessionConfig(): Record<string, unknown> {
    const config = this.config.toJSON() as Record<string, unknown>;
    return {
      ...config,
      ...(this.refusedSinks.length > 0 ? { sinks: this.sinks.map(sinkName), refusedSinks: this.refusedSinks } : {}),
      ...(this.undeliveredSinks.length > 0 ? { undeliveredSinks: this.undeliveredSinks } : {}),
    };
  }

  private writeJsonAtomic(name: string, value: unknown): void {
    const file = path.join(this.auditDir, name);
    // (a FIFO or a link at either name is never opened; a directory at the session file's, which
    // no rename replaces, is AUDIT_ERR_PATH naming it: it was an uncoded EISDIR; see replaceFileSync)
    replaceFileSync(file, JSON.stringify(value, null, 2) + "\n", FILE_MODE, this.config.durability === "fsync");
    // (and its name, renamed in: on the calling thread, as its fsync; the session's open, its
    // finalize, rare. Any chain file made before it is covered by this sync too)
    if (this.config.durability === "fsync") {
      this.names.mark();
      this.names.syncSync();
    }
  }

  private async buildSummary(): Promise<SessionSummary> {
    const resumed: Partial<Record<ChainKind, number>> = {};
    for (const kind of CHAIN_KINDS) if (this.writers[kind].resumedAtSeq > 0) resumed[kind] = this.writers[kind].resumedAtSeq;
    const prior = Object.keys(resumed).length > 0 ? await SessionStats.fromFiles(this.auditDir, this.sessionId, resumed) : undefined;
    const end = new Date();
    return this.stats.summary({
      sessionId: this.sessionId,
      startTime: this.startTime,
      endTime: end.toISOString(),
      customMetadata: this.config.customMetadata,
      prior,
    });
  }
}

export type { JsonValue };

function ignoreSettled(): void {}

/** A chat's prompt or response that was deliberately not captured (see ChatInteractionInput.promptCaptured). */
const NOT_CAPTURED: { readonly text: string; readonly format: "text" | "json" } = Object.freeze({ text: "", format: "text" });

/** A chat input whose prompt and response were both deliberately not captured: it has no content files. */
function nothingCaptured(v: object): boolean {
  const c = v as { readonly promptCaptured?: boolean; readonly responseCaptured?: boolean };
  return c.promptCaptured === false && c.responseCaptured === false;
}

/** What settleSinks() got from a sink that did not settle in time. */
const TIMED_OUT = Symbol("timed out");

/** How long flush() and finalizeSession() wait for a record under way (see AuditLogger.awaitRecord). */
const AWAIT_RECORD_MAX_MS = 1000;
