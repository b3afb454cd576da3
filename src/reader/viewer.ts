import fs from "node:fs";
import { inspect, type InspectOptions } from "node:util";
import path from "node:path";
import { z } from "zod";
import { AuditConfig } from "../config/config.js";
import { AuditConfigError, AuditIOError, AuditValidationError } from "../errors.js";
import type { AuditLogger } from "../logger.js";
import { resolveKey, type EncryptionKey } from "../pipeline/keys.js";
import { openKeyring } from "../pipeline/keyring.js";
import { PostgresRecordSource, type PostgresSourceOptions } from "../postgres/reader.js";

/**
 * The key as a keyring that also opens the directory's wrapped per-subject data keys, and, over
 * PostgreSQL, those of the store's key table (the directory wins).
 */
function withKeyStore(key: EncryptionKey | undefined, auditDir: string | undefined, source?: RecordSource): EncryptionKey | undefined {
  if (!key) return undefined;
  const stored = source instanceof PostgresRecordSource ? source.storedKeys() : undefined;
  return openKeyring(key.masters ?? [key], auditDir ? path.resolve(auditDir) : undefined, stored);
}
import { toFieldIssues } from "../record/issues.js";
import { listSessionIds } from "../sink/files.js";
import { isDirectory } from "../path-inside.js";
import { SessionStats } from "../record/stats.js";
import {
  RECORD_KINDS,
  type ChatInteractionRecord,
  type ErrorRecord,
  type FileOperationRecord,
  type PerformanceMetricRecord,
  type PersonaActivityRecord,
  type RecordType,
  type SessionSummary,
  type ToolUsageRecord,
} from "../types.js";
import { AnalyticsAccumulator, DEFAULT_MODEL_PRICES, type AnalyticsReport, type ModelPrice } from "./analytics.js";
import { loadFullContent, type FullInteractionContent } from "./content.js";
import {
  compileQuery,
  NewestBuffer,
  timeInputSchema,
  type ChatInteractionFilter,
  type ErrorFilter,
  type FileOperationFilter,
  type FilterOf,
  type PerformanceMetricFilter,
  type PersonaActivityFilter,
  type TimeInput,
  type ToolUsageFilter,
} from "./query.js";
import { FileRecordSource, openRecord, sessionStatusOf, type OpenedMarks, type RawRecord, type ReadProgress, type RecordSource, type SessionListing } from "./records.js";
import { isoTime } from "./time-input.js";

/** A record as the viewer returns it: encrypted fields opened when a key was given, else marked. */
export type Viewed<T> = T & OpenedMarks;

/** The record type of each kind. */
export interface RecordOf {
  chat_interaction: ChatInteractionRecord;
  tool_usage: ToolUsageRecord;
  persona_activity: PersonaActivityRecord;
  file_operation: FileOperationRecord;
  performance_metric: PerformanceMetricRecord;
  error: ErrorRecord;
}

/** Options of a viewer over files (or over another record source). */
export interface AuditViewerOptions {
  /** the `audit_logs` directory */
  readonly auditPath?: string | undefined;
  /** look at this session only (default: every session in the directory) */
  readonly sessionId?: string | undefined;
  /**
   * base64 (or hex) 32-byte key, or its bytes, or a keyring (current first); the AUDIT_LOGGER_KEY
   * environment variable when absent or undefined (`encryptionKey: process.env.AUDIT_LOGGER_KEY`
   * type-checks under `exactOptionalPropertyTypes`)
   */
  readonly encryptionKey?: string | Uint8Array | ReadonlyArray<string | Uint8Array> | undefined;
  /** model prices that override or extend the built-in table, for cost figures */
  readonly prices?: Readonly<Record<string, ModelPrice>> | undefined;
  /** called as records are read (at most every MiB, and at the end of each read) */
  readonly onProgress?: ((progress: ReadProgress) => void) | undefined;
  /** @internal another store (e.g. PostgreSQL) in place of the directory */
  readonly source?: RecordSource | undefined;
  /** read a PostgreSQL store (see PostgresSink) instead of files: `{ connectionString, schema? }` */
  readonly postgres?: PostgresSourceOptions | undefined;
}

/** The session summary as read back from the files. */
export interface ViewerSessionSummary extends SessionSummary {
  /** "finalized" once `finalizeSession()` ran, "interrupted" once its process ended without it (see {@link SessionListing.status}), "active" otherwise ("unknown" without a session file) */
  readonly status: SessionListing["status"];
  /** lines that were not records (a torn final line, damage) */
  readonly skippedLines: number;
}

/** Options of one analytics run. */
export interface AnalyticsOptions {
  /** prices for this report, over the viewer's and the built-in ones */
  readonly prices?: Readonly<Record<string, ModelPrice>> | undefined;
  readonly sessionId?: string | undefined;
  readonly since?: TimeInput | undefined;
  readonly until?: TimeInput | undefined;
}

const priceSchema = z.strictObject({ inputPerMTok: z.number().min(0), outputPerMTok: z.number().min(0) });
const optionsSchema = z.strictObject({
  auditPath: z.string().min(1, "must be the path of an audit_logs directory").optional(),
  sessionId: z.string().min(1).optional(),
  encryptionKey: z.union([z.string(), z.instanceof(Uint8Array), z.array(z.union([z.string(), z.instanceof(Uint8Array)])).min(1)]).optional(),
  prices: z.record(z.string(), priceSchema).optional(),
  onProgress: z.custom<(p: ReadProgress) => void>((v) => typeof v === "function", "must be a function").optional(),
  source: z.custom<RecordSource>((v) => typeof v === "object" && v !== null && typeof (v as RecordSource).records === "function", "must be a RecordSource").optional(),
  postgres: z.custom<PostgresSourceOptions>((v) => typeof v === "object" && v !== null, "must be { connectionString, schema? } (or { pool })").optional(),
});
const analyticsSchema = z.strictObject({
  prices: z.record(z.string(), priceSchema).optional(),
  sessionId: z.string().optional(),
  since: timeInputSchema.optional(),
  until: timeInputSchema.optional(),
});

const PROGRESS_STEP = 1 << 20;

function isLogger(v: unknown): v is AuditLogger {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof (v as AuditLogger).flush === "function" &&
    typeof (v as AuditLogger).auditDir === "string" &&
    (v as AuditLogger).config instanceof AuditConfig
  );
}

/** Throws an AuditValidationError naming `field` of `method` unless `value` is a non-empty string. */
function idArgument(method: string, field: string, value: unknown): void {
  if (typeof value === "string" && value !== "") return;
  const got = value === "" ? "an empty string" : value === null ? "null" : typeof value;
  throw new AuditValidationError(method, [{ field, message: `must be a non-empty string (got ${got})` }], { outcome: "nothing was read" });
}

/**
 * Reads an audit trail back: queries (newest first), full content, session summaries and the
 * analytics report. Streams the files: a query holds at most `offset + limit` records, analytics
 * only counters and numeric samples. Encrypted fields are opened when a key is given; without
 * one they stay `{ $enc }` values and the record carries `encryptedWithoutKey: true`.
 *
 * @example
 * const viewer = new AuditViewer({ auditPath: "./audit_logs", encryptionKey: process.env.AUDIT_LOGGER_KEY });
 * const failures = await viewer.getToolUsages({ success: false, limit: 20 });
 * const report = await viewer.generateAnalyticsReport();
 */
export class AuditViewer {
  /** the audit directory (undefined for a non-file source) */
  readonly auditPath: string | undefined;
  /** the session this viewer is limited to, if any */
  readonly sessionId: string | undefined;
  /**
   * @internal the audit directory whose content files and key stores it reads: `auditPath`, or
   * over PostgreSQL `postgres.contentDir` (the exporter writes nothing inside it)
   */
  readonly contentDir: string | undefined;
  /** @internal */
  readonly source: RecordSource;
  private readonly key: EncryptionKey | undefined;
  private readonly logger: AuditLogger | undefined;
  private readonly prices: Readonly<Record<string, ModelPrice>>;
  private readonly onProgress: ((p: ReadProgress) => void) | undefined;
  private skipped = 0;
  /** the lines skipped so far, each once however often it was read ("<file>:<line>") */
  private readonly skippedAt = new Set<string>();
  private progress = { read: 0, total: 0, reported: 0 };

  /** What `util.inspect` shows: where it reads and which session, never its key (found by a re-review, 2026-12-05: util.inspect / console.log printed the master key bytes, the
   * hmac redaction key or a connection string's password held in its fields) */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `AuditViewer ${inspect(this.toJSON(), { ...options, customInspect: true })}`;
  }

  /** What `JSON.stringify` writes: what `util.inspect` shows, never its key (found by a security pass, 2026-12-05: only util.inspect had been fixed, and JSON.stringify, what pino or winston does with a logged object, wrote the key bytes or the connection string's password) */
  toJSON(): { source: string; sessionId: string | undefined } {
    return { source: this.source.description, sessionId: this.sessionId };
  }

  constructor(from: AuditLogger | AuditViewerOptions) {
    const hooks = {
      onSkip: (file: string, line: number) => {
        this.skipped++;
        this.skippedAt.add(`${file}:${line}`);
      },
      onBytes: (n: number) => this.tick(n),
    };
    if (isLogger(from)) {
      this.logger = from;
      this.auditPath = from.auditDir;
      this.contentDir = path.resolve(from.auditDir);
      this.sessionId = from.sessionId;
      this.key = withKeyStore(AuditConfig.keyOf(from.config), from.auditDir);
      this.prices = DEFAULT_MODEL_PRICES;
      this.onProgress = undefined;
      this.source = new FileRecordSource(from.auditDir, hooks);
      return;
    }
    const parsed = optionsSchema.safeParse(from ?? {});
    if (!parsed.success) throw new AuditConfigError(toFieldIssues(parsed.error, "", optionsSchema));
    const o = parsed.data;
    this.logger = undefined;
    this.sessionId = o.sessionId;
    const key = resolveKey(o.encryptionKey);
    this.prices = Object.freeze({ ...DEFAULT_MODEL_PRICES, ...o.prices });
    this.onProgress = o.onProgress;
    if (o.source || o.postgres) {
      this.source = o.source ?? new PostgresRecordSource(o.postgres!);
      this.key = withKeyStore(key, o.auditPath ?? o.postgres?.contentDir, this.source);
      this.auditPath = undefined;
      this.contentDir = typeof o.postgres?.contentDir === "string" ? path.resolve(o.postgres.contentDir) : undefined;
      return;
    }
    this.key = withKeyStore(key, o.auditPath);
    if (o.auditPath === undefined) throw new AuditConfigError([{ field: "auditPath", message: "give the audit_logs directory (or a live AuditLogger)" }]);
    this.auditPath = path.resolve(o.auditPath);
    this.contentDir = this.auditPath;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(this.auditPath);
    } catch {
      st = undefined;
    }
    if (!st?.isDirectory()) {
      throw new AuditIOError(`${this.auditPath} is not a directory. Point auditPath at the audit_logs directory (<projectPath>/audit_logs).`);
    }
    // A project directory (no sessions of its own, an audit_logs/ below) read as empty: every
    // list [], the summary null, and an exporter refused an export beside audit_logs/ as "inside
    // the audit directory" (found by the API.md audit, 2026-12-05). verifyAuditLog reports it too
    // (no_audit_logs); the CLI's <dir> follows it into audit_logs/. (The sessions judged only when
    // there is an audit_logs/ below: serve makes a viewer for each download, and every session of
    // the directory was judged for it; found 2026-12-06.)
    const nested = path.join(this.auditPath, "audit_logs");
    if (isDirectory(nested) && listSessionIds(this.auditPath).length === 0) {
      throw new AuditConfigError([{ field: "auditPath", message: `${this.auditPath} holds no audit logs; it is a project directory, and its logs are in ${nested}: give that (a logger's auditDir, <projectPath>/audit_logs)` }]);
    }
    this.source = new FileRecordSource(this.auditPath, hooks);
  }

  /**
   * How many lines of the files this viewer's reads so far skipped (each counted once, however
   * many reads met it): lines that are not records, a torn final line. An export says so.
   *
   * @example
   * await exporter.exportToJson("all.json");
   * if (viewer.unreadableLines > 0) console.warn(`${viewer.unreadableLines} line(s) skipped: run audit-logger verify`);
   */
  get unreadableLines(): number {
    return this.skippedAt.size;
  }

  /** True when a key is available to open encrypted fields and content. */
  get hasKey(): boolean {
    return this.key !== undefined;
  }

  /** The ids of the sessions this viewer reads: its own session, else every session in the store. */
  async getSessionIds(): Promise<string[]> {
    await this.syncLogger();
    return this.sessionsFor(undefined);
  }

  /** @internal Full content of a stored chat record (for the exporter), or undefined without any. */
  loadContent(rec: RawRecord): Promise<FullInteractionContent | undefined> {
    return loadFullContent(this.source, rec, this.key);
  }

  /** Every session in the store (not only this viewer's), newest activity first. */
  async listSessions(): Promise<SessionListing[]> {
    await this.syncLogger();
    return this.source.listSessions();
  }

  /** Chat interactions, newest first. */
  getChatInteractions(filter?: ChatInteractionFilter): Promise<Viewed<ChatInteractionRecord>[]> {
    return this.query("chat_interaction", filter, "getChatInteractions");
  }

  /** Tool usages, newest first. */
  getToolUsages(filter?: ToolUsageFilter): Promise<Viewed<ToolUsageRecord>[]> {
    return this.query("tool_usage", filter, "getToolUsages");
  }

  /** Persona activities, newest first. */
  getPersonaActivities(filter?: PersonaActivityFilter): Promise<Viewed<PersonaActivityRecord>[]> {
    return this.query("persona_activity", filter, "getPersonaActivities");
  }

  /** File operations, newest first. */
  getFileOperations(filter?: FileOperationFilter): Promise<Viewed<FileOperationRecord>[]> {
    return this.query("file_operation", filter, "getFileOperations");
  }

  /** Performance metrics, newest first. */
  getPerformanceMetrics(filter?: PerformanceMetricFilter): Promise<Viewed<PerformanceMetricRecord>[]> {
    return this.query("performance_metric", filter, "getPerformanceMetrics");
  }

  /** Errors, newest first. */
  getErrors(filter?: ErrorFilter): Promise<Viewed<ErrorRecord>[]> {
    return this.query("error", filter, "getErrors");
  }

  /**
   * Every record of `kind` that matches `filter`, streamed in chain order (oldest first, session
   * by session); `limit` and `offset` do not apply. For exports and follow-up processing.
   *
   * @example
   * for await (const t of viewer.iterate("tool_usage", { success: false })) console.log(t.toolName);
   */
  async *iterate<K extends RecordType>(kind: K, filter?: FilterOf[K]): AsyncGenerator<Viewed<RecordOf[K]>> {
    const q = compileQuery(kind, filter, "iterate");
    await this.syncLogger();
    for (const sessionId of await this.sessionsFor(q.sessionId)) {
      for await (const rec of this.source.records(kind, sessionId)) {
        if (q.match(rec)) yield openRecord(rec, this.key) as unknown as Viewed<RecordOf[K]>;
      }
    }
  }

  /**
   * The exact prompt and response of a chat interaction, with `verified` telling whether the
   * files match the record's digests, the manifest and the record's content hashes. Encrypted
   * content without a (working) key comes back as `{ encrypted: true, prompt: null, response: null }`.
   * Resolves to null when no chat with that id has full content.
   *
   * @example
   * const c = await viewer.getFullInteractionContent(id);
   * if (c?.verified) console.log(c.prompt);
   */
  async getFullInteractionContent(interactionId: string): Promise<FullInteractionContent | null> {
    // (a number read every chat of every session and resolved null; API.md audit, 2026-12-05)
    idArgument("getFullInteractionContent", "interactionId", interactionId);
    await this.syncLogger();
    for (const sessionId of await this.sessionsFor(undefined)) {
      for await (const rec of this.source.records("chat_interaction", sessionId)) {
        if (rec.id !== interactionId) continue;
        return (await loadFullContent(this.source, rec, this.key)) ?? null;
      }
    }
    return null;
  }

  /**
   * The summary of one session, computed from its records (so it is right for live, finalized and
   * crashed sessions alike). Default: the viewer's session, else the most recently active one.
   * Resolves to null when the session has no records and no session file (an unknown session, or
   * one whose records retention removed: over PostgreSQL too, whose row of it is left).
   */
  async getSessionSummary(sessionId?: string): Promise<ViewerSessionSummary | null> {
    if (sessionId !== undefined) idArgument("getSessionSummary", "sessionId", sessionId);
    await this.syncLogger();
    let id = sessionId ?? this.sessionId;
    if (id === undefined) {
      id = (await this.source.listSessions())[0]?.sessionId;
      if (id === undefined) return null;
    }
    const info = await this.source.sessionInfo(id);
    const stats = new SessionStats();
    let first: string | undefined;
    let last: string | undefined;
    const skippedBefore = this.skipped;
    await this.startProgress([id]);
    for (const kind of RECORD_KINDS) {
      for await (const rec of this.source.records(kind, id)) {
        stats.addRecord(rec);
        if (typeof rec.seq === "number" && typeof rec.hash === "string") stats.head(kind, rec.seq, rec.hash);
        const ts = typeof rec.timestamp === "string" ? rec.timestamp : undefined;
        if (ts !== undefined) {
          if (first === undefined || ts < first) first = ts;
          if (last === undefined || ts > last) last = ts;
        }
      }
    }
    // (the audit_event chain's head too, as the session file gives it: it was left at the genesis,
    // seq 0, whatever holds, shreddings and removals the chain held; found by the CLI pass, 2026-12-06)
    for await (const rec of this.source.records("audit_event", id)) {
      if (typeof rec.seq === "number" && typeof rec.hash === "string") stats.head("audit_event", rec.seq, rec.hash);
    }
    this.endProgress();
    const total = RECORD_KINDS.reduce((n, k) => n + stats.counts[k], 0);
    if (!info && total === 0) return null;
    // (the end the session file gives: finalizeSession()'s, or the exit hook's of a process that
    // ended without it, see docs/FORMAT.md; else its last record's)
    const ended = info?.status === "finalized" || info?.status === "interrupted";
    const startTime = typeof info?.startTime === "string" ? info.startTime : (first ?? new Date().toISOString());
    const endTime = ended && typeof info?.endTime === "string" ? info.endTime : (last ?? startTime);
    const customMetadata = typeof info?.customMetadata === "object" && info.customMetadata !== null ? (info.customMetadata as Record<string, unknown>) : {};
    const summary = stats.summary({ sessionId: id, startTime, endTime, customMetadata, prior: undefined });
    return { ...summary, status: this.source.sessionStatus?.(id, info) ?? sessionStatusOf(info), skippedLines: this.skipped - skippedBefore };
  }

  /**
   * Per model (calls, tokens, cost, latency mean/p50/p95/p99/max), per interaction type, per tool,
   * per persona, file operations, metrics, errors and an hourly time series, over the viewer's
   * sessions. Percentiles are exact (nearest-rank over every sample).
   *
   * @example
   * const r = await viewer.generateAnalyticsReport({ prices: { "my-model": { inputPerMTok: 1, outputPerMTok: 2 } } });
   * console.log(r.totals.costUsd, r.models["gpt-4o"]?.latencySeconds.p95);
   */
  async generateAnalyticsReport(options: AnalyticsOptions = {}): Promise<AnalyticsReport> {
    const parsed = analyticsSchema.safeParse(options);
    if (!parsed.success) throw new AuditConfigError(toFieldIssues(parsed.error, "", analyticsSchema));
    const o = parsed.data;
    await this.syncLogger();
    const sessions = await this.sessionsFor(o.sessionId);
    const since = o.since !== undefined ? isoTime(o.since) : undefined;
    const until = o.until !== undefined ? isoTime(o.until) : undefined;
    const acc = new AnalyticsAccumulator();
    const skippedBefore = this.skipped;
    await this.startProgress(sessions);
    for (const sessionId of sessions) {
      for (const kind of RECORD_KINDS) {
        for await (const rec of this.source.records(kind, sessionId)) {
          if (since !== undefined || until !== undefined) {
            const t = typeof rec.timestamp === "string" ? rec.timestamp : "";
            if ((since !== undefined && t < since) || (until !== undefined && t >= until)) continue;
          }
          acc.add(rec);
        }
      }
    }
    this.endProgress();
    return acc.report({ sessions, prices: { ...this.prices, ...o.prices }, skippedLines: this.skipped - skippedBefore });
  }

  // ---------------------------------------------------------------- internals

  private async query<K extends RecordType>(kind: K, filter: FilterOf[K] | undefined, method: string): Promise<Viewed<RecordOf[K]>[]> {
    const q = compileQuery(kind, filter, method);
    await this.syncLogger();
    const sessions = await this.sessionsFor(q.sessionId);
    // a store that filters, orders and pages itself (PostgreSQL) answers in one query
    const sql = this.source as RecordSource & { query?: (kind: K, filter: FilterOf[K] | undefined, sessionIds: readonly string[], method: string) => Promise<RawRecord[]> };
    if (typeof sql.query === "function") {
      const rows = await sql.query(kind, filter, sessions, method);
      return rows.map((r: RawRecord) => openRecord(r, this.key) as unknown as Viewed<RecordOf[K]>);
    }
    const buffer = new NewestBuffer(q.offset + q.limit);
    if (q.limit > 0) {
      await this.startProgress(sessions);
      for (const sessionId of sessions) {
        for await (const rec of this.source.records(kind, sessionId)) if (q.match(rec)) buffer.offer(rec);
      }
      this.endProgress();
    }
    return buffer
      .drain()
      .slice(q.offset)
      .map((r: RawRecord) => openRecord(r, this.key) as unknown as Viewed<RecordOf[K]>);
  }

  /** The viewer's sessions, narrowed to `only` when given. */
  private async sessionsFor(only: string | undefined): Promise<string[]> {
    if (this.sessionId !== undefined) return only === undefined || only === this.sessionId ? [this.sessionId] : [];
    if (only !== undefined) return [only];
    return this.source.sessionIds();
  }

  /** A live logger: everything logged so far goes to the files first. */
  private async syncLogger(): Promise<void> {
    if (this.logger && !this.logger.isClosed) await this.logger.flush();
  }

  private async startProgress(sessions: readonly string[]): Promise<void> {
    if (!this.onProgress) return;
    this.progress = { read: 0, total: await this.source.sizeOf(sessions), reported: 0 };
  }

  private tick(n: number): void {
    if (!this.onProgress) return;
    const p = this.progress;
    p.read += n;
    if (p.read - p.reported >= PROGRESS_STEP) {
      p.reported = p.read;
      this.onProgress({ bytesRead: p.read, totalBytes: Math.max(p.total, p.read) });
    }
  }

  private endProgress(): void {
    if (!this.onProgress) return;
    const p = this.progress;
    this.onProgress({ bytesRead: p.read, totalBytes: Math.max(p.total, p.read) });
  }
}
