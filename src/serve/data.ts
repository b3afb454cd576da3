/**
 * What the viewer's JSON API answers, over the library's own reader: the AuditViewer for queries
 * and analytics, verifyAuditLog (or verifyPostgres for the PostgreSQL store) for integrity.
 * Whole-session passes are cached while the session is unchanged (file sizes and times, or the
 * store's record count and highest seq per kind); timeline pages hold at most
 * `skip + limit + 1` records per kind (`skip` at most MAX_TIMELINE_SKIP, `limit` at most 500).
 */
import type { Pool } from "pg";
import { verifyWith } from "../postgres/verify.js";
import { readsAgainIfEnded, type StoreReads } from "../postgres/store-error.js";
import { PostgresRecordSource } from "../postgres/reader.js";
import type { StoreKeys } from "../postgres/keys.js";
import { DEFAULT_SCHEMA, names } from "../postgres/schema.js";
import { openKeyring } from "../pipeline/keyring.js";
import { resolveKey, type EncryptionKey, type KeyInput } from "../pipeline/keys.js";
import { DEFAULT_MODEL_PRICES, type AnalyticsReport, type ModelPrice } from "../reader/analytics.js";
import type { FullInteractionContent } from "../reader/content.js";
import { compileQuery, newerFirst, type ChatInteractionFilter, type ErrorFilter, FileOperationFilter, PerformanceMetricFilter, PersonaActivityFilter, ToolUsageFilter } from "../reader/query.js";
import { FileRecordSource, openRecord, type RawRecord, type SessionListing } from "../reader/records.js";
import type { KeyObject } from "node:crypto";
import { verifyAuditLog } from "../reader/verify.js";
import { AuditViewer } from "../reader/viewer.js";
import { KIND_FILE_STEM, RECORD_KINDS, type RecordType, type VerifyReport } from "../types.js";
import { integritySignature, Memo, sessionSignature } from "./memo.js";
import { SessionIndexes, type IndexFilter } from "./session-index.js";
import { ChartAccumulator, type ChartData } from "./series.js";
import { buildTree, mergePage, type TimelineCursor, type TimelineRow } from "./timeline.js";
import { timeMillis } from "../reader/time-input.js";
import { readHolds } from "../holds.js";
import { sessionRemains } from "../reader/remains.js";
import type { ChainListing } from "../reader/chain-files.js";
import { listSessionIds, safeReaddir, withPrefix } from "../sink/files.js";
import { holdsBy } from "../sink/audit-events.js";

/** Filters of the timeline (and of the tools and errors tables, which are timelines of one kind). */
export interface TimelineQuery {
  readonly kinds: readonly RecordType[];
  readonly model?: string;
  readonly persona?: string;
  readonly userId?: string;
  readonly success?: boolean;
  readonly traceId?: string;
  /** records at or after this time (ISO 8601, UTC without an offset, as `--since` takes it) */
  readonly since?: string;
  /** records before this time (exclusive) */
  readonly until?: string;
  readonly limit: number;
  readonly cursor?: TimelineCursor;
}

export interface TimelinePage {
  readonly rows: TimelineRow[];
  /** pass back as `before` and `skip` for the next (older) page; null on the last page */
  readonly next: TimelineCursor | null;
  /** kinds left out because a filter does not apply to them (e.g. `model` to tool usages) */
  readonly excludedKinds: RecordType[];
}

/** The figures of the sessions list for one session. */
export interface SessionStats {
  readonly sessionId: string;
  readonly status: SessionListing["status"];
  readonly startTime: string | null;
  readonly endTime: string | null;
  readonly durationSeconds: number | null;
  readonly counts: Readonly<Record<RecordType, number>>;
  readonly totalRecords: number;
  readonly tokens: number;
  readonly costUsd: number;
  readonly unpricedModels: readonly string[];
  /** calls of priced models that `costUsd` leaves out: no token counts, or no input/output split */
  readonly uncostedCalls: number;
  readonly errors: number;
  readonly chatFailures: number;
  readonly toolFailures: number;
  readonly models: readonly string[];
  readonly personas: readonly string[];
}

/** One record with what the chat page needs around it. */
export interface RecordDetail {
  readonly record: RawRecord;
  /** full prompt and response (chats with full content only) */
  readonly content: FullInteractionContent | null;
  /** the record `parentId` names, if it is in this session */
  readonly parent: TimelineRow | null;
  /** records whose `parentId` is this record (at most {@link MAX_CHILDREN}), as a tree */
  readonly children: TimelineRow[];
  readonly moreChildren: boolean;
}

export const MAX_CHILDREN = 500;

/** The kinds of the logger's own records (`audit_event`): holds, crypto-shredding, retention. */
export const AUDIT_EVENT_TYPES = ["legal_hold_placed", "legal_hold_released", "subject_shredded", "retention_pruned"] as const;
export type AuditEventKind = (typeof AUDIT_EVENT_TYPES)[number];

/** One chained `audit_event` record of some session, as the compliance page lists it. */
export interface ComplianceEvent {
  /** the session whose audit_event chain holds the record (the one that acted: `audit_maintenance` for the CLI's cleanup and shred) */
  readonly sessionId: string;
  readonly id: string;
  readonly seq: number | null;
  readonly timestamp: string;
  readonly eventType: string;
  readonly reason: string | null;
  readonly details: unknown;
}

/** A legal hold, from its chained placement (and release), and from `legal_holds.json`. */
export interface HoldState {
  readonly holdId: string;
  /** "all" or a sessionId */
  readonly scope: string;
  readonly reason: string | null;
  readonly placedAt: string | null;
  readonly placedBySession: string | null;
  /** the release that names this hold, or null while it is in force */
  readonly released: { readonly at: string; readonly reason: string | null; readonly bySession: string } | null;
  /**
   * whether `legal_holds.json` lists it (a directory; null over the store, which has no such
   * file): a hold in force that the file does not list, or one the file lists that no chained
   * record placed, is worth a look (the file was edited, restored or lost)
   */
  readonly inHoldsFile: boolean | null;
}

/** What `GET /api/events` answers: the holds, shreddings and removals of the whole directory or store. */
export interface ComplianceEvents {
  /** newest first, within `since`/`until` and `types`; at most `limit` */
  readonly events: ComplianceEvent[];
  /** how many matched (more than `events.length` when `limit` cut the list) */
  readonly matched: number;
  /** how many of each event type are in the time range (whatever `types` says) */
  readonly countsByType: Readonly<Record<AuditEventKind, number>>;
  /** every hold ever placed, in force first, newest first (whatever `since`/`until` say: a hold placed before the range may cover it) */
  readonly holds: HoldState[];
  /** why `legal_holds.json` could not be read (cleanup then removes nothing), or null */
  readonly holdsFileError: string | null;
}

export interface ComplianceQuery {
  readonly since?: string;
  readonly until?: string;
  readonly types?: readonly AuditEventKind[];
  readonly limit: number;
}

/** The PostgreSQL store to serve: an open pool (not ended by ServeData) and its schema. */
export interface ServeStore {
  readonly pool: Pool;
  /** schema holding the store (default `audit_logger`) */
  readonly schema?: string;
  /** the writing instance's audit directory: its key stores and full-content files */
  readonly contentDir?: string;
}

export interface ServeDataOptions {
  /** the audit directory; give this or `postgres` */
  readonly auditPath?: string;
  /** the PostgreSQL store instead of a directory (queries run in SQL; no line index) */
  readonly postgres?: ServeStore;
  /** key or keyring to open encrypted fields and content; AUDIT_LOGGER_KEY when absent */
  readonly encryptionKey?: KeyInput | readonly KeyInput[];
  readonly prices?: Readonly<Record<string, ModelPrice>>;
  /**
   * Answer timeline pages and record lookups from an in-memory index of line offsets (built on
   * first use, extended as files grow) instead of reading whole sessions. Default true; false
   * reads through the AuditViewer's queries (same answers, slower on big sessions).
   */
  readonly lineIndex?: boolean;
  /** trusted public keys for the integrity verdict of a directory (see ServeOptions.publicKey) */
  readonly publicKey?: string | KeyObject | readonly (string | KeyObject)[];
}

interface Links {
  readonly found: RawRecord | undefined;
  readonly kids: RawRecord[];
  readonly more: boolean;
  readonly parent: RawRecord | undefined;
}

/** The filter without the fields `kind` does not have (model only for chats, success not for metrics and errors). */
function kindFilter(kind: RecordType, f: AnyFilter): AnyFilter {
  const { model, success, ...rest } = f;
  return {
    ...rest,
    ...(kind === "chat_interaction" && model !== undefined ? { model } : {}),
    ...(KINDS_WITH_SUCCESS.has(kind) && success !== undefined ? { success } : {}),
  };
}

type AnyFilter = ChatInteractionFilter & ToolUsageFilter & PersonaActivityFilter & FileOperationFilter & PerformanceMetricFilter & ErrorFilter;

/** `v` (a time the API checked) as an ISO UTC string. */
function isoOf(v: string): string {
  return new Date(timeMillis(v)).toISOString();
}

/** The earlier of two times (either may be absent), as an ISO UTC string. */
function earlier(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b === undefined ? undefined : isoOf(b);
  if (b === undefined) return isoOf(a);
  return timeMillis(a) <= timeMillis(b) ? isoOf(a) : isoOf(b);
}

/** The kinds the outcome filter applies to (a persona activity recorded without `success` counts as successful, as the reader's getters say). */
const KINDS_WITH_SUCCESS: ReadonlySet<RecordType> = new Set(["chat_interaction", "tool_usage", "persona_activity", "file_operation"]);

/**
 * The data behind every page of `audit-logger serve`.
 *
 * @example
 * const data = new ServeData({ auditPath: "./audit_logs" });
 * // or over the PostgreSQL store: new ServeData({ postgres: { pool, schema: "audit_logger" } })
 * const page = await data.timeline("s1", { kinds: ["chat_interaction"], limit: 50 });
 */
export class ServeData {
  /** the audit directory, or undefined when serving the PostgreSQL store */
  readonly auditPath: string | undefined;
  /** the store being served, when not a directory */
  readonly store: { readonly pool: Pool; readonly schema: string; readonly contentDir?: string } | undefined;
  /** what is being served, for messages: the directory, or `postgres schema <name>` */
  readonly description: string;
  readonly viewer: AuditViewer;
  readonly keyInput: KeyInput | readonly KeyInput[] | undefined;
  private readonly publicKey: string | KeyObject | (string | KeyObject)[] | undefined;
  private readonly key: EncryptionKey | undefined;
  /**
   * The store's pool for the queries this module makes itself, each run once more on a new
   * connection when the server ended its connection under it, as the viewer's (see againIfEnded);
   * found by the PostgreSQL fault pass, 2026-12-06: a record's page failed, 500, at one pg_terminate_backend.
   */
  private readonly reads: StoreReads | undefined;
  /** the store's key table, read for the records this module fetches itself (see storeLinks) */
  private readonly storeKeys: StoreKeys | undefined;
  private readonly prices: Readonly<Record<string, ModelPrice>> | undefined;
  private readonly analyticsMemo = new Memo<{ report: AnalyticsReport; charts: ChartData }>();
  private readonly verifyMemo = new Memo<VerifyReport>();
  private readonly indexes: SessionIndexes | undefined;

  constructor(o: ServeDataOptions) {
    const common = { ...(o.encryptionKey !== undefined ? { encryptionKey: o.encryptionKey } : {}), ...(o.prices ? { prices: o.prices } : {}) };
    if (o.postgres) {
      const schema = o.postgres.schema ?? DEFAULT_SCHEMA;
      const contentDir = o.postgres.contentDir;
      this.store = { pool: o.postgres.pool, schema, ...(contentDir !== undefined ? { contentDir } : {}) };
      this.reads = readsAgainIfEnded(o.postgres.pool);
      this.viewer = new AuditViewer({ postgres: { pool: o.postgres.pool, schema, ...(contentDir !== undefined ? { contentDir } : {}) }, ...common });
      this.auditPath = undefined;
      this.description = `postgres schema ${schema}`;
    } else {
      this.store = undefined;
      this.reads = undefined;
      this.viewer = new AuditViewer({ ...(o.auditPath !== undefined ? { auditPath: o.auditPath } : {}), ...common });
      this.auditPath = this.viewer.auditPath!;
      this.description = this.auditPath;
    }
    this.keyInput = o.encryptionKey;
    this.publicKey = o.publicKey === undefined ? undefined : Array.isArray(o.publicKey) ? [...(o.publicKey as readonly (string | KeyObject)[])] : (o.publicKey as string | KeyObject);
    this.prices = o.prices;
    // the same keyring the viewer builds, for records this module opens itself
    const k = resolveKey(o.encryptionKey);
    const source = this.viewer.source;
    this.storeKeys = k && source instanceof PostgresRecordSource ? source.storedKeys() : undefined;
    this.key = k ? openKeyring(k.masters ?? [k], this.auditPath ?? o.postgres?.contentDir, this.storeKeys) : undefined;
    this.indexes = o.lineIndex === false || this.auditPath === undefined ? undefined : new SessionIndexes(this.auditPath);
  }

  /**
   * A cheap fingerprint of one session: its files' sizes and times, or in the store the record
   * count and highest seq per kind and the session's status (one small aggregate query).
   */
  private async signature(sessionId: string, listed?: readonly string[]): Promise<string> {
    if (this.auditPath !== undefined) return sessionSignature(this.auditPath, sessionId, listed) + `#${sessionId}`;
    const n = names(this.store!.schema);
    const r = await this.reads!.query<{ kind: string; c: string; mx: string }>(
      `SELECT kind, count(*)::text AS c, max(seq)::text AS mx FROM ${n.records} WHERE session_id = $1 GROUP BY kind ORDER BY kind`,
      [sessionId],
    );
    const s = await this.reads!.query<{ status: string; closed: string | null }>(`SELECT status, closed_at::text AS closed FROM ${n.sessions} WHERE session_id = $1`, [sessionId]);
    return `${r.rows.map((x) => `${x.kind}=${x.c}:${x.mx}`).join("|")}|session=${s.rows[0]?.status ?? "-"}:${s.rows[0]?.closed ?? "-"}#${sessionId}`;
  }

  /**
   * The store's key for the integrity verdict: {@link signature} and a fingerprint of every row
   * the verifier reads (the session's records, checkpoints and retention cuts). Found by review,
   * 2026-12-04: the key was the record count, highest seq and status only, so a row edited in
   * place (its guard switched off) kept its cached "ok". Each row version is identified by its
   * table, place and inserting transaction (`tableoid`, `ctid`, `xmin`), which an UPDATE changes;
   * summing their hashes reads the rows' headers, not their lines.
   */
  private async storeIntegritySignature(sessionId: string): Promise<string> {
    const n = names(this.store!.schema);
    const fp = (table: string) =>
      `(SELECT count(*)::text || ':' || coalesce(sum(hashtextextended(tableoid::text || ctid::text || xmin::text, 0)), 0)::text FROM ${table} WHERE session_id = $1)`;
    const r = await this.reads!.query<{ r: string; c: string; x: string }>(
      `SELECT ${fp(n.records)} AS r, ${fp(n.checkpoints)} AS c, ${fp(n.retentionCuts)} AS x`,
      [sessionId],
    );
    const row = r.rows[0];
    return `${await this.signature(sessionId)}|rows=${row?.r}|checkpoints=${row?.c}|cuts=${row?.x}`;
  }

  get hasKey(): boolean {
    return this.key !== undefined;
  }

  /** Every session, newest activity first (cheap: no records are read). */
  listSessions(): Promise<SessionListing[]> {
    return this.viewer.listSessions();
  }

  /**
   * Whether the sessions list has `sessionId` (asked on every request for a session): from that
   * session's own files or rows where the source can tell (see RecordSource.hasSession); every
   * session's were judged on each request, ~70 ms a request at 605 sessions (found 2026-12-05).
   */
  async hasSession(sessionId: string): Promise<boolean> {
    const source = this.viewer.source;
    return source.hasSession ? source.hasSession(sessionId) : (await this.viewer.getSessionIds()).includes(sessionId);
  }

  /**
   * The legal holds, crypto-shreddings and retention removals recorded anywhere in the directory
   * (or store): every session's `audit_event` chain, newest first, and the holds they place and
   * release. Removed sessions are gone from the sessions list; their `retention_pruned` record,
   * in the chain of the session that removed them (`audit_maintenance` for `audit-logger
   * cleanup`), is what tells when, under which policy and which files. Holds are few, and so are
   * these records: at most `limit` events are kept, the rest only counted.
   */
  async complianceEvents(q: ComplianceQuery): Promise<ComplianceEvents> {
    const since = q.since !== undefined ? new Date(timeMillis(q.since)).toISOString() : undefined;
    const until = q.until !== undefined ? new Date(timeMillis(q.until)).toISOString() : undefined;
    const types = new Set<string>(q.types ?? AUDIT_EVENT_TYPES);
    const kept: ComplianceEvent[] = [];
    let matched = 0;
    const countsByType: Record<AuditEventKind, number> = { legal_hold_placed: 0, legal_hold_released: 0, subject_shredded: 0, retention_pruned: 0 };
    const placed = new Map<string, { scope: string; reason: string | null; at: string; bySession: string }>();
    const released = new Map<string, { at: string; reason: string | null; bySession: string }>();
    const newest = (a: ComplianceEvent, b: ComplianceEvent): number =>
      a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : a.sessionId !== b.sessionId ? a.sessionId.localeCompare(b.sessionId) : (b.seq ?? 0) - (a.seq ?? 0);
    const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
    const seen = new Set<string>();
    // Over a directory, one listing for the request: the sessions, those whose records are gone
    // but whose audit_event chain is left (see sessionRemains), and each chain's files. Found
    // 2026-12-06: the sessions were judged twice a request, and each chain's walk listed the
    // directory twice (~47 s a request at 2,000 sessions, 3.8 s at 600).
    const listed = this.auditPath !== undefined ? { at: Date.now(), names: safeReaddir(this.auditPath).sort() } : undefined;
    const ids = listed ? listSessionIds(this.auditPath!, listed.names) : await this.viewer.getSessionIds();
    const remains = listed ? sessionRemains(this.auditPath!, { holds: false, listed: ids }, listed.names).filter((r) => r.files.some((f) => f.startsWith("audit_events_"))).map((r) => r.sessionId) : [];
    for (const sessionId of [...ids, ...remains]) {
      const own = listed ? { at: listed.at, names: withPrefix(listed.names, `${KIND_FILE_STEM.audit_event}_${sessionId}`) } : undefined;
      for await (const r of this.auditEvents(sessionId, seen, own)) {
        const timestamp = str(r.timestamp) ?? "";
        const eventType = str(r.eventType) ?? "";
        const reason = str(r.reason);
        const d = (typeof r.details === "object" && r.details !== null ? r.details : {}) as { holdId?: unknown; scope?: unknown; holdIds?: unknown };
        if (eventType === "legal_hold_placed" && typeof d.holdId === "string") placed.set(d.holdId, { scope: str(d.scope) ?? "?", reason, at: timestamp, bySession: sessionId });
        if (eventType === "legal_hold_released" && Array.isArray(d.holdIds)) {
          for (const id of d.holdIds) if (typeof id === "string") released.set(id, { at: timestamp, reason, bySession: sessionId });
        }
        // (the holds a removed session's chain placed and released, which its removal record
        // carries: see carriedBy in retention.ts; the records themselves went with that chain)
        if (eventType === "retention_pruned") {
          const held = holdsBy({ eventType, reason: r.reason, details: r.details, timestamp: r.timestamp, seq: r.seq }, sessionId);
          for (const h of held.placed) if (!placed.has(h.holdId)) placed.set(h.holdId, { scope: h.scope, reason: h.reason, at: h.placedAt, bySession: h.placedBySession });
          for (const x of held.released) if (!released.has(x.holdId)) released.set(x.holdId, { at: x.releasedAt, reason: x.reason, bySession: x.releasedBySession });
        }
        if ((since !== undefined && timestamp < since) || (until !== undefined && timestamp >= until)) continue;
        if (eventType in countsByType) countsByType[eventType as AuditEventKind]++;
        if (!types.has(eventType)) continue;
        matched++;
        kept.push({ sessionId, id: str(r.id) ?? "", seq: typeof r.seq === "number" ? r.seq : null, timestamp, eventType, reason, details: r.details ?? null });
        if (kept.length > q.limit * 2) kept.sort(newest).splice(q.limit);
      }
    }
    kept.sort(newest).splice(q.limit);
    // (files gone since, or of sessions no longer listed: forgotten; see auditEvents)
    if (this.auditPath !== undefined) for (const f of this.eventFiles.keys()) if (!seen.has(f)) this.eventFiles.delete(f);
    let file: readonly { id: string; scope: string; reason: string; placedAt: string; placedBySession: string }[] | undefined;
    let holdsFileError: string | null = null;
    if (this.auditPath !== undefined) {
      try {
        file = readHolds(this.auditPath);
      } catch (err) {
        holdsFileError = (err as Error).message;
      }
    }
    const holds: HoldState[] = [];
    for (const [holdId, p] of placed) {
      holds.push({ holdId, scope: p.scope, reason: p.reason, placedAt: p.at, placedBySession: p.bySession, released: released.get(holdId) ?? null, inHoldsFile: file ? file.some((h) => h.id === holdId) : null });
    }
    for (const h of file ?? []) {
      if (placed.has(h.id)) continue;
      holds.push({ holdId: h.id, scope: h.scope, reason: str(h.reason), placedAt: str(h.placedAt), placedBySession: str(h.placedBySession), released: released.get(h.id) ?? null, inHoldsFile: true });
    }
    holds.sort((a, b) => Number(a.released !== null) - Number(b.released !== null) || String(b.placedAt ?? "").localeCompare(String(a.placedAt ?? "")));
    return { events: kept, matched, countsByType, holds, holdsFileError };
  }

  /**
   * The records of `sessionId`'s audit_event chain, for {@link complianceEvents}. Over a
   * directory, each file's records are kept while the file is unchanged (its size, mtime, ctime
   * and inode: see FileRecordSource.recordsByFile), and only a file that changed is read again.
   * Found by the viewer pass, 2026-12-05: every request of the holds page read every file of
   * every session's chain. The files met are added to `seen`.
   */
  private async *auditEvents(sessionId: string, seen: Set<string>, listed: ChainListing | undefined): AsyncGenerator<RawRecord> {
    const source = this.viewer.source;
    if (!(source instanceof FileRecordSource)) {
      yield* source.records("audit_event", sessionId);
      return;
    }
    let hit: { readonly stamp: string; readonly records: readonly RawRecord[] } | undefined;
    const reuse = (file: string, stamp: string): boolean => {
      const cached = this.eventFiles.get(file);
      hit = cached?.stamp === stamp ? cached : undefined;
      return hit !== undefined;
    };
    for await (const f of source.recordsByFile("audit_event", sessionId, reuse, listed)) {
      seen.add(f.file);
      if (f.records === undefined) {
        this.eventFileCounts.reused++;
        yield* hit!.records;
        continue;
      }
      this.eventFileCounts.read++;
      this.eventFiles.set(f.file, { stamp: f.stamp, records: f.records });
      yield* f.records;
    }
  }

  /** Each audit_event file's records while it is unchanged, by path (see auditEvents). */
  private readonly eventFiles = new Map<string, { readonly stamp: string; readonly records: readonly RawRecord[] }>();
  private readonly eventFileCounts = { read: 0, reused: 0 };

  /**
   * How many audit_event files {@link complianceEvents} read, and how many it answered from what
   * it kept of an unchanged file, since this ServeData was made (a directory; 0 over the store).
   */
  eventFileStats(): { read: number; reused: number } {
    return { ...this.eventFileCounts };
  }

  /** The analytics report and chart data of one session (one pass, cached). */
  async analytics(sessionId: string, names?: readonly string[]): Promise<{ report: AnalyticsReport; charts: ChartData }> {
    // (`names`: the caller's listing of the directory, see stats)
    return this.analyticsMemo.get(await this.signature(sessionId, names), async () => {
      const report = await this.viewer.generateAnalyticsReport({ sessionId });
      const acc = new ChartAccumulator({ ...DEFAULT_MODEL_PRICES, ...this.prices });
      for await (const r of this.viewer.source.records("chat_interaction", sessionId)) acc.add(r);
      return { report, charts: acc.result(report) };
    });
  }

  /** The verifier's report for one session (cached while the session is unchanged). */
  async integrity(sessionId: string): Promise<VerifyReport> {
    const dir = this.auditPath;
    const store = this.store;
    const key = dir !== undefined ? `${integritySignature(dir, sessionId)}#${sessionId}` : await this.storeIntegritySignature(sessionId);
    return this.verifyMemo.get(key, () => (dir !== undefined ? verifyAuditLog(dir, { sessionId, ...(this.publicKey !== undefined ? { publicKey: this.publicKey } : {}) }) : verifyWith(store!.pool, store!.schema, sessionId)));
  }

  /** Start, duration, counts, tokens, cost and errors of one session. */
  async stats(sessionId: string): Promise<SessionStats> {
    // (one session's entry only, where the source can: the whole listing read every session's
    // files on each stats request, ~0.9 s at 600 sessions; found 2026-12-05)
    const source = this.viewer.source;
    // (the directory read once for both, the session's entry and the analytics' cache key: each
    // read it, 2,000 sessions' names twice a request; found 2026-12-06)
    const names = this.auditPath !== undefined && source instanceof FileRecordSource ? safeReaddir(this.auditPath) : undefined;
    const listing = source instanceof FileRecordSource ? await source.sessionListing(sessionId, names) : source.sessionListing ? await source.sessionListing(sessionId) : (await this.listSessions()).find((s) => s.sessionId === sessionId);
    const { report } = await this.analytics(sessionId, names);
    const info = await this.viewer.source.sessionInfo(sessionId);
    const startTime = (typeof info?.startTime === "string" ? info.startTime : undefined) ?? report.period.start;
    // (the session file's end: finalizeSession()'s, or the exit hook's, see docs/FORMAT.md)
    const endTime = ((info?.status === "finalized" || info?.status === "interrupted") && typeof info.endTime === "string" ? info.endTime : undefined) ?? report.period.end ?? startTime;
    const dur = startTime && endTime ? (Date.parse(endTime) - Date.parse(startTime)) / 1000 : null;
    const sum = (o: Readonly<Record<string, { failures: number }>>): number => Object.values(o).reduce((n, x) => n + x.failures, 0);
    const counts = listing?.counts ?? {
      chat_interaction: report.totals.chatInteractions,
      persona_activity: report.totals.personaActivities,
      tool_usage: report.totals.toolUsages,
      file_operation: report.totals.fileOperations,
      performance_metric: report.totals.performanceMetrics,
      error: report.totals.errors,
    };
    return {
      sessionId,
      status: listing?.status ?? "unknown",
      startTime: startTime ?? null,
      endTime: endTime ?? null,
      durationSeconds: dur !== null && Number.isFinite(dur) ? Math.max(0, dur) : null,
      counts,
      totalRecords: RECORD_KINDS.reduce((n, k) => n + counts[k], 0),
      tokens: report.totals.tokens,
      costUsd: report.totals.costUsd,
      unpricedModels: report.totals.unpricedModels,
      uncostedCalls: report.totals.uncostedCalls,
      errors: report.totals.errors,
      chatFailures: sum(report.models),
      toolFailures: sum(report.tools),
      models: Object.keys(report.models),
      personas: Object.keys(report.personas),
    };
  }

  /** One page of the session's timeline, newest first, as a tree. */
  async timeline(sessionId: string, q: TimelineQuery): Promise<TimelinePage> {
    const { lists, excluded } = await this.kindLists(sessionId, q);
    const { page, next } = mergePage(lists, q.limit, q.cursor);
    return { rows: buildTree(page), next, excludedKinds: excluded };
  }

  /**
   * One page of the records of every session that match, newest first (rows flat: a record's
   * parent is shown in its own session). What answers "everything of user X": `userId` across
   * every session and kind. Holds at most `limit + 1 + skip` records at a time, whatever the
   * number of sessions (each session's newest matches are merged into the ones kept so far).
   */
  async search(q: TimelineQuery): Promise<TimelinePage & { readonly sessionsSearched: number }> {
    const keep = q.limit + 1 + (q.cursor?.skip ?? 0);
    let kept: RawRecord[] = [];
    let excluded: RecordType[] = [];
    const sessions = await this.viewer.getSessionIds();
    for (const sessionId of sessions) {
      const r = await this.kindLists(sessionId, q);
      excluded = r.excluded;
      kept = [...kept, ...r.lists.flat()].sort(newerFirst).slice(0, keep);
    }
    const { page, next } = mergePage([kept], q.limit, q.cursor);
    return { rows: page.map((r) => buildTree([r])[0]!), next, excludedKinds: excluded, sessionsSearched: sessions.length };
  }

  /** Each included kind's newest `limit + 1 + skip` matches in one session (newest first), and the kinds a filter leaves out. */
  private async kindLists(sessionId: string, q: TimelineQuery): Promise<{ lists: RawRecord[][]; excluded: RecordType[] }> {
    const fetchN = q.limit + 1 + (q.cursor?.skip ?? 0);
    const included: RecordType[] = [];
    const excluded: RecordType[] = [];
    for (const k of q.kinds) {
      if ((q.model !== undefined && k !== "chat_interaction") || (q.success !== undefined && !KINDS_WITH_SUCCESS.has(k))) excluded.push(k);
      else included.push(k);
    }
    const until = earlier(q.until, q.cursor?.before);
    const base: AnyFilter = {
      sessionId,
      limit: fetchN,
      ...(until !== undefined ? { until } : {}),
      ...(q.since !== undefined ? { since: isoOf(q.since) } : {}),
      ...(q.userId !== undefined ? { userId: q.userId } : {}),
      ...(q.traceId !== undefined ? { traceId: q.traceId } : {}),
      ...(q.persona !== undefined ? { persona: q.persona } : {}),
    };
    const f: AnyFilter = {
      ...base,
      ...(q.model !== undefined ? { model: q.model } : {}),
      ...(q.success !== undefined ? { success: q.success } : {}),
    };
    // (from the line index, every kind after one listing of the directory: see indexedQueries)
    if (this.indexes) return { lists: await this.indexedQueries(sessionId, included, f), excluded };
    const lists: RawRecord[][] = [];
    for (const kind of included) lists.push((await this.query(kind, f)) as RawRecord[]);
    return { lists, excluded };
  }

  /** A record of the session by id, its full content (chats), its parent and its children. */
  async record(sessionId: string, id: string): Promise<RecordDetail | null> {
    const { found, kids, more, parent } = this.indexes ? await this.indexedLinks(sessionId, id) : this.store ? await this.storeLinks(sessionId, id) : await this.scanLinks(sessionId, id);
    if (!found) return null;
    const content = found.type === "chat_interaction" && found.fullContent !== undefined ? ((await this.viewer.loadContent(found)) ?? null) : null;
    const open = (r: RawRecord): RawRecord => openRecord(r, this.key);
    // the children as a tree of their own: grandchildren on this list nest under their parent
    const children = buildTree(kids.map(open).sort((a, b) => String(b.timestamp).localeCompare(String(a.timestamp))));
    return { record: open(found), content, parent: parent ? buildTree([open(parent)])[0]! : null, children, moreChildren: more };
  }

  /** The record, up to MAX_CHILDREN of its children and its parent, by reading every record. */
  private async scanLinks(sessionId: string, id: string): Promise<Links> {
    let found: RawRecord | undefined;
    const kids: RawRecord[] = [];
    let more = false;
    for (const kind of RECORD_KINDS) {
      for await (const r of this.viewer.source.records(kind, sessionId)) {
        if (r.id === id && found === undefined) found = r;
        else if (r.parentId === id) {
          if (kids.length < MAX_CHILDREN) kids.push(r);
          else more = true;
        }
      }
    }
    const parentId = typeof found?.parentId === "string" ? found.parentId : undefined;
    let parent: RawRecord | undefined;
    if (parentId !== undefined) {
      outer: for (const kind of RECORD_KINDS) {
        for await (const r of this.viewer.source.records(kind, sessionId)) {
          if (r.id === parentId) {
            parent = r;
            break outer;
          }
        }
      }
    }
    return { found, kids, more, parent };
  }

  /** The same as {@link scanLinks}, found by the database (the stored lines of matching rows only). */
  private async storeLinks(sessionId: string, id: string): Promise<Links> {
    const pool = this.reads!;
    const n = names(this.store!.schema);
    // the chain order, so "the first record with this id" is the one the scan would find
    const order = `ORDER BY array_position($3::text[], kind), seq`;
    const kinds = [...RECORD_KINDS];
    const byId = async (rid: string): Promise<RawRecord | undefined> => {
      const r = await pool.query<{ line: string }>(`SELECT line FROM ${n.records} WHERE session_id = $1 AND id = $2 ${order} LIMIT 1`, [sessionId, rid, kinds]);
      return r.rows[0] ? (JSON.parse(r.rows[0].line) as RawRecord) : undefined;
    };
    const found = await byId(id);
    const k = await pool.query<{ line: string }>(
      `SELECT line FROM ${n.records} WHERE session_id = $1 AND record->>'parentId' = $2 ${order} LIMIT ${MAX_CHILDREN + 2}`,
      [sessionId, id, kinds],
    );
    // (the data keys these records name, from the store's key table: see StoreKeys)
    const keysOf = [...(found ? [JSON.stringify(found)] : []), ...k.rows.map((row) => row.line)];
    let skipped = false;
    const kids = k.rows
      .map((row) => JSON.parse(row.line) as RawRecord)
      .filter((r) => {
        if (!skipped && found !== undefined && r.id === id) return !(skipped = true);
        return true;
      });
    const parentId = typeof found?.parentId === "string" ? found.parentId : undefined;
    const parent = parentId !== undefined ? await byId(parentId) : undefined;
    await this.storeKeys?.read(parent ? [...keysOf, JSON.stringify(parent)] : keysOf);
    return { found, kids: kids.slice(0, MAX_CHILDREN), more: kids.length > MAX_CHILDREN, parent };
  }

  /** The same as {@link scanLinks}, reading only the lines the index points at. */
  private async indexedLinks(sessionId: string, id: string): Promise<Links> {
    // (the three lookups after one listing of the directory, not one each: see SessionIndex.linking)
    return this.indexes!.get(sessionId).linking(RECORD_KINDS, async (linked) => {
      const found = (await linked("id", id, 1))[0];
      // the record itself is not its own child (the scan counts the first record with this id as found)
      let skipped = false;
      const kids = (await linked("parentId", id, MAX_CHILDREN + 2)).filter((r) => {
        if (!skipped && found !== undefined && r.id === id) return !(skipped = true);
        return true;
      });
      const more = kids.length > MAX_CHILDREN;
      const parentId = typeof found?.parentId === "string" ? found.parentId : undefined;
      const parent = parentId !== undefined ? (await linked("id", parentId, 1))[0] : undefined;
      return { found, kids: kids.slice(0, MAX_CHILDREN), more, parent };
    });
  }

  /**
   * Each kind's newest matching records from the line index: what {@link query} returns, read
   * from far fewer lines; every kind after one refresh of the index (one listing of the directory:
   * a timeline page listed it once per kind; found 2026-12-06).
   */
  private async indexedQueries(sessionId: string, kinds: readonly RecordType[], f: AnyFilter): Promise<RawRecord[][]> {
    const lists = await this.indexes!.get(sessionId).newestEach(kinds.map((kind) => this.indexQuery(kind, f)));
    return lists.map((recs) => recs.map((r) => openRecord(r, this.key)));
  }

  /** What the line index is asked for a kind's newest records that match `f`. */
  private indexQuery(kind: RecordType, f: AnyFilter): { kind: RecordType; want: number; filter: IndexFilter } {
    const kf = kindFilter(kind, f);
    const { limit, ...rest } = kf;
    const compiled = compileQuery(kind, rest, "timeline");
    const until = kf.until !== undefined ? timeMillis(kf.until) : undefined;
    const since = kf.since !== undefined ? timeMillis(kf.since) : undefined;
    const equals: IndexFilter["equals"] = {
      ...(kf.userId !== undefined ? { userId: kf.userId } : {}),
      ...(kf.traceId !== undefined ? { traceId: kf.traceId } : {}),
      ...(kf.persona !== undefined ? { persona: kf.persona } : {}),
      ...(kf.model !== undefined ? { model: kf.model } : {}),
    };
    return {
      kind,
      want: limit ?? 100,
      filter: {
        equals,
        ...(kf.success !== undefined ? { success: kf.success } : {}),
        ...(until !== undefined ? { beforeMs: until } : {}),
        ...(since !== undefined ? { sinceMs: since } : {}),
        match: compiled.match,
      },
    };
  }

  private query(kind: RecordType, f: AnyFilter): Promise<unknown[]> {
    const v = this.viewer;
    switch (kind) {
      case "chat_interaction":
        return v.getChatInteractions(f);
      case "tool_usage": {
        const { model: _m, ...rest } = f;
        return v.getToolUsages(rest);
      }
      case "persona_activity": {
        const { model: _m, ...rest } = f;
        return v.getPersonaActivities(rest);
      }
      case "file_operation": {
        const { model: _m, ...rest } = f;
        return v.getFileOperations(rest);
      }
      case "performance_metric": {
        const { model: _m, success: _s, ...rest } = f;
        return v.getPerformanceMetrics(rest);
      }
      case "error": {
        const { model: _m, success: _s, ...rest } = f;
        return v.getErrors(rest);
      }
    }
  }
}
