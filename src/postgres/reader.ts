/**
 * The viewer's record source over the PostgreSQL store: the same `RecordSource` the file viewer
 * reads through, plus `query()` (filters, order and paging done in SQL) and `summarize()`
 * (the session analytics computed with GROUP BY in the database, not by reading every record).
 * Records come back parsed from the exact stored line, so they are byte-for-byte the records
 * of the files.
 */
import { inspect, type InspectOptions } from "node:util";
import path from "node:path";
import type { Pool, QueryResult, QueryResultRow } from "pg";
import { z } from "zod";
import { GENESIS_HASH } from "../pipeline/chain.js";
import { compileQuery, type FilterOf, type TimeInput } from "../reader/query.js";
import { sessionStatusOf, type RawRecord, type RecordSource, type SessionListing, type SessionStatus } from "../reader/records.js";
import { runLeftByDead, sessionLiveIn } from "../sink/lock.js";
import { CONTENT_DIR } from "../sink/files.js";
import { CHAIN_KINDS, RECORD_KINDS, type ChainKind, type KindHead, type RecordType, type SessionSummary } from "../types.js";
import { connectionOptionsShape, parseOptions, poolFor, schemaOf } from "./pg.js";
import type { PostgresConnectionOptions } from "./options.js";
import { names } from "./schema.js";
import { columnText } from "./rows.js";
import { againIfEnded, storeError } from "./store-error.js";
import { readContentFile } from "../reader/content-file.js";
import { isoTime } from "../reader/time-input.js";
import { StoreKeys } from "./keys.js";

/** A content file's reference, as the writer makes it (`full_interactions/prompt_<id>.txt`, …). */
const CONTENT_REF = new RegExp(`^${CONTENT_DIR}/(?!\\.{1,2}$)[A-Za-z0-9._-]+$`);

/** Options of {@link PostgresRecordSource}. */
export interface PostgresSourceOptions extends PostgresConnectionOptions {
  /** an audit directory holding the `full_interactions/` files, when they are reachable from here */
  readonly contentDir?: string | undefined;
}

const sourceOptionsSchema = z.strictObject({ ...connectionOptionsShape, contentDir: z.string().min(1).optional() });

/** The analytics of a set of sessions, as `SessionSummary` has them, computed in SQL. */
export interface StoreSummary
  extends Pick<
    SessionSummary,
    "counts" | "totalRecords" | "tokens" | "models" | "personas" | "chatSuccessRate" | "toolCalls" | "toolSuccessRate" | "errorsBySeverity" | "heads"
  > {
  readonly sessions: readonly string[];
  readonly firstTimestamp: string | undefined;
  readonly lastTimestamp: string | undefined;
}

/** Filter key → record field compared for equality, per kind (as the file viewer compares them). */
const EQUALITY: Readonly<Record<RecordType, Readonly<Record<string, string>>>> = {
  chat_interaction: { model: "model", interactionType: "interactionType", provider: "provider", persona: "persona", success: "success" },
  tool_usage: { toolName: "toolName", operation: "operation", persona: "persona", success: "success" },
  persona_activity: { personaName: "personaName", persona: "personaName", activityType: "activityType", success: "success" },
  file_operation: { operation: "operation", filePath: "filePath", persona: "persona", success: "success" },
  performance_metric: { metricName: "metricName", unit: "unit", persona: "persona" },
  error: { errorType: "errorType", severity: "severity", persona: "persona" },
};

const PAGE = 2000;

function zeroCounts(): Record<RecordType, number> {
  return { chat_interaction: 0, persona_activity: 0, tool_usage: 0, file_operation: 0, performance_metric: 0, error: 0 };
}


/**
 * Reads a PostgreSQL store for the viewer, the exporter and the CLI.
 *
 * @example
 * const source = new PostgresRecordSource({ connectionString: process.env.AUDIT_PG_URL });
 * const failures = await source.query("tool_usage", { success: false, limit: 20 });
 * const stats = await source.summarize(["support_bot"]);
 * await source.close();
 */
export class PostgresRecordSource implements RecordSource {
  readonly description: string;
  readonly schema: string;
  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly n: ReturnType<typeof names>;
  private readonly contentDir: string | undefined;
  /** the store's wrapped data keys, once `storedKeys()` was asked for (a reader with a master key) */
  private keys: StoreKeys | undefined;

  /** What `util.inspect` shows: the store, without the password (found by a re-review, 2026-12-05: util.inspect / console.log printed the master key bytes, the
   * hmac redaction key or a connection string's password held in its fields) */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `PostgresRecordSource ${inspect(this.toJSON(), { ...options, customInspect: true })}`;
  }

  /** What `JSON.stringify` writes: the store, without the password (found by a security pass, 2026-12-05: only util.inspect had been fixed, and JSON.stringify, what pino or winston does with a logged object, wrote the key bytes or the connection string's password) */
  toJSON(): { store: string } {
    return { store: this.description };
  }

  constructor(options: PostgresSourceOptions) {
    const o = parseOptions(sourceOptionsSchema, options, "postgres") as PostgresSourceOptions;
    this.schema = schemaOf(o);
    this.n = names(this.schema);
    const { pool, owned } = poolFor(o, { max: 2, allowExitOnIdle: true, application_name: "audit-logger-viewer" }, "postgres");
    this.pool = pool;
    this.ownsPool = owned;
    // (an idle connection dropped: the next query reconnects; poolFor listens on the pools it makes)
    this.contentDir = o.contentDir !== undefined ? path.resolve(o.contentDir) : undefined;
    this.description = `postgres:${this.schema}${o.connectionString ? `@${redact(o.connectionString)}` : ""}`;
  }

  /**
   * A query of the store; a failure is an `AuditIOError` naming the store and what to check
   * (store-error.ts). A read whose connection the server ended under it (pg_terminate_backend, a
   * failover, idle_session_timeout: see `connectionEnded`) runs once more, on a new connection;
   * found by the PostgreSQL fault-injection pass, 2026-12-06: it failed at once, and said to check
   * that the server was up and the host, port, user and password right.
   */
  private async sql<T extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<T>> {
    try {
      return await againIfEnded(() => this.pool.query<T>(text, values));
    } catch (err) {
      throw storeError(err, this.pool, this.schema, "read");
    }
  }

  /**
   * The condition (SQL) that session `id` (an SQL expression) is gone: retention cut its chains
   * and none of its records of the six kinds is left, and either some of those were cut or none of
   * its records is left at all. Its `audit_event` records may outlive the others (a hold it placed
   * after them, in a month retention keeps): over the files, a session of which only its
   * `audit_event` chain is left has no summary, is in no export, and is listed as records gone,
   * and so is it here. A session that never wrote a record of the six kinds (a maintenance
   * session) is gone only when nothing of it is left: with its newer `audit_event` records there,
   * the files would keep it whole. Until 2026-12-05 its `audit_event` records kept a session
   * whose other records retention removed in sessionIds() and sessionInfo() (a "finalized"
   * summary with 0 records, in every export), though listSessions() said records gone; and a
   * maintenance session with a newer hold left was listed as records gone (found by the
   * session-status pass).
   */
  private goneSql(id: string): string {
    const six = `kind <> 'audit_event'`;
    return `(EXISTS (SELECT 1 FROM ${this.n.retentionCuts} c WHERE c.session_id = ${id})
         AND NOT EXISTS (SELECT 1 FROM ${this.n.records} r WHERE r.session_id = ${id} AND r.${six})
         AND (EXISTS (SELECT 1 FROM ${this.n.retentionCuts} c WHERE c.session_id = ${id} AND c.${six})
              OR NOT EXISTS (SELECT 1 FROM ${this.n.records} r WHERE r.session_id = ${id})))`;
  }

  /**
   * The sessions the store holds: each with a row or a record, as the files list each with a
   * session file or a record file, a session that logged nothing included (the files keep its
   * session file, and their exports list it with 0 records). Not one that is gone (see goneSql),
   * retention having cut its chains: its row cannot be deleted, but retention over the files
   * removes such a session whole, and their exports do not list it (until 2026-12-05 every export
   * of the store listed it, a "finalized" session with 0 records; found by the session-status
   * pass). `listSessions()` lists it as records gone.
   */
  async sessionIds(): Promise<string[]> {
    const r = await this.sql<{ s: string }>(
      `SELECT ids.s FROM (SELECT session_id AS s FROM ${this.n.sessions} UNION SELECT DISTINCT session_id FROM ${this.n.records}) ids
        WHERE NOT ${this.goneSql("ids.s")} ORDER BY 1`,
    );
    return r.rows.map((x) => x.s);
  }

  /**
   * Whether {@link sessionIds} lists `sessionId`, from that session's rows only (serve asks on
   * every request for a session: the whole list was the distinct sessions of every record).
   */
  async hasSession(sessionId: string): Promise<boolean> {
    const r = await this.sql<{ listed: boolean }>(
      `SELECT (EXISTS (SELECT 1 FROM ${this.n.sessions} WHERE session_id = $1) OR EXISTS (SELECT 1 FROM ${this.n.records} WHERE session_id = $1))
          AND NOT ${this.goneSql("$1")} AS listed`,
      [sessionId],
    );
    return r.rows[0]?.listed === true;
  }

  async listSessions(): Promise<SessionListing[]> {
    return this.listings(undefined);
  }

  /**
   * Session `sessionId`'s entry of {@link listSessions}, or undefined when it lists none, from
   * that session's rows only (serve's stats of one session ran the whole listing; found
   * 2026-12-05). The holds in force are read only for a session whose records are gone.
   */
  async sessionListing(sessionId: string): Promise<SessionListing | undefined> {
    return (await this.listings(sessionId))[0];
  }

  /** The listing, of every session or of `only`. */
  private async listings(only: string | undefined): Promise<SessionListing[]> {
    const where = only === undefined ? "" : "WHERE session_id = $1";
    const values = only === undefined ? undefined : [only];
    const heads = await this.sql<{ session_id: string; kind: string; mx: string; last: Date }>(
      `SELECT session_id, kind, max(seq)::text AS mx, max(ts) AS last FROM ${this.n.records} ${where} GROUP BY session_id, kind`,
      values,
    );
    // (of an active row, the run it names: see sessionStatus)
    const info = await this.sql<{ session_id: string; status: string; start: string | null; run: Record<string, unknown> | null }>(
      `SELECT session_id, status, info->>'startTime' AS start,
              CASE WHEN status = 'active' THEN jsonb_build_object('pid', info->'pid', 'hostname', info->'hostname', 'procStart', info->'procStart', 'pidNs', info->'pidNs', 'startTime', info->'startTime', 'resumedAt', info->'resumedAt') END AS run
         FROM ${this.n.sessions} ${where}`,
      values,
    );
    // (sessions whose records retention removed, and the holds in force: see `recordsGone` below)
    const cuts = (await this.sql<{ s: string; kind: string }>(`SELECT DISTINCT session_id AS s, kind FROM ${this.n.retentionCuts} ${where}`, values)).rows;
    const cut = new Set(cuts.map((r) => r.s));
    // (those of which retention cut records of the six kinds: see goneSql)
    const cutSix = new Set(cuts.filter((r) => r.kind !== "audit_event").map((r) => r.s));
    // (of one session, read only when retention cut it or the store holds nothing of it: the
    // holds naming such a session are listed with it)
    const holds = only === undefined || cut.has(only) || (heads.rows.length === 0 && info.rows.length === 0) ? await this.holdsInForce() : [];
    const by = new Map<string, { counts: Record<RecordType, number>; last: string | undefined }>();
    for (const h of heads.rows) {
      const e = by.get(h.session_id) ?? { counts: zeroCounts(), last: undefined };
      by.set(h.session_id, e);
      // (the last activity is the newest record of the six kinds, as over the files: not of the
      // audit_event chain, whose hold placed last, or a maintenance session's holds and removals
      // alone, moved a session in the listing against the files'; found by the session-status
      // pass, 2026-12-05)
      if (!(RECORD_KINDS as readonly string[]).includes(h.kind)) continue;
      e.counts[h.kind as RecordType] = Number(h.mx);
      const t = h.last.toISOString();
      if (e.last === undefined || t > e.last) e.last = t;
    }
    const out: SessionListing[] = [];
    const ids = new Set([...by.keys(), ...info.rows.map((r) => r.session_id), ...cut]);
    for (const sessionId of ids) {
      const e = by.get(sessionId) ?? { counts: zeroCounts(), last: undefined };
      const i = info.rows.find((r) => r.session_id === sessionId);
      const totalRecords = RECORD_KINDS.reduce((s, k) => s + e.counts[k], 0);
      // A session that is gone (see goneSql: none of its records of the six kinds left, retention
      // having cut its chains): listed as over the files (`recordsGone`, with the holds in force
      // naming it), not as a session that logged nothing. Found by the session-status pass, 2026-12-05: its row (which cannot be deleted)
      // kept it listed, as "finalized" with 0 records, and a hold placed on it since was not shown.
      // (as goneSql: `by` has a session with a record of any kind, audit_event ones too)
      const gone = totalRecords === 0 && cut.has(sessionId) && (cutSix.has(sessionId) || !by.has(sessionId));
      out.push({
        sessionId,
        status: i === undefined ? "unknown" : this.sessionStatus(sessionId, { ...i.run, status: i.status }),
        startTime: i?.start ?? undefined,
        lastActivity: e.last,
        counts: e.counts,
        totalRecords,
        ...(gone ? { recordsGone: true as const, remains: { files: [], holds: holds.filter((h) => h.scope === sessionId).map(({ scope: _, ...h }) => h) } } : {}),
      });
    }
    // (a hold in force naming a session the store holds nothing of, as over the files)
    for (const h of holds) {
      if (h.scope === "all" || ids.has(h.scope) || out.some((o) => o.sessionId === h.scope) || (only !== undefined && h.scope !== only)) continue;
      out.push({
        sessionId: h.scope,
        status: "unknown",
        startTime: undefined,
        lastActivity: undefined,
        counts: zeroCounts(),
        totalRecords: 0,
        recordsGone: true,
        remains: { files: [], holds: holds.filter((x) => x.scope === h.scope).map(({ scope: _, ...x }) => x) },
      });
    }
    const key = (l: SessionListing) => l.lastActivity ?? l.startTime ?? "";
    return out.sort((a, b) => (key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : a.sessionId.localeCompare(b.sessionId)));
  }

  /**
   * The legal holds in force in the store: placed by a chained `legal_hold_placed` record that no
   * `legal_hold_released` names, as the store's retention reads them (schema.ts), oldest first.
   */
  private async holdsInForce(): Promise<Array<{ scope: string; holdId: string; reason: string; placedAt: string; placedBySession: string }>> {
    const r = await this.sql<{ scope: string | null; hold_id: string; reason: string | null; placed_at: string | null; by: string }>(
      `SELECT r.record->'details'->>'scope' AS scope, r.record->'details'->>'holdId' AS hold_id, r.record->>'reason' AS reason, r.record->>'timestamp' AS placed_at, r.session_id AS by
         FROM ${this.n.records} r
        WHERE r.kind = 'audit_event' AND r.record->>'eventType' = 'legal_hold_placed' AND r.record->'details'->>'holdId' IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM ${this.n.records} x
             WHERE x.kind = 'audit_event' AND x.record->>'eventType' = 'legal_hold_released'
               AND jsonb_typeof(x.record->'details'->'holdIds') = 'array'
               AND x.record->'details'->'holdIds' ? (r.record->'details'->>'holdId'))
        ORDER BY r.ts, r.session_id, r.seq`,
    );
    const seen = new Set<string>();
    const out: Array<{ scope: string; holdId: string; reason: string; placedAt: string; placedBySession: string }> = [];
    for (const h of r.rows) {
      if (h.scope === null || seen.has(h.hold_id)) continue;
      seen.add(h.hold_id);
      out.push({ scope: h.scope, holdId: h.hold_id, reason: h.reason ?? "", placedAt: h.placed_at ?? "", placedBySession: h.by });
    }
    return out;
  }

  /**
   * The store's wrapped data keys, for a keyring (`openKeyring`): from now on, every page of
   * records this source reads also reads the key rows its records name, so a reader given only
   * the master key opens the encrypted records of every instance writing to the store.
   * @internal (the viewer, `serve` and the CLI build their keyrings with it)
   */
  storedKeys(): StoreKeys {
    return (this.keys ??= new StoreKeys(this.pool, this.schema));
  }

  /** Reads the key rows the records of `lines` name, when a keyring reads them (see `storedKeys`). */
  private async readKeys(lines: readonly string[]): Promise<void> {
    await this.keys?.read(lines);
  }

  /** One chain in order (oldest first), parsed from the stored lines. */
  async *records(kind: ChainKind, sessionId: string): AsyncGenerator<RawRecord> {
    for await (const line of this.chainLines(kind, sessionId)) yield JSON.parse(line) as RawRecord;
  }

  /** One chain's lines exactly as stored (the bytes its hashes cover), in order, oldest first. */
  async *chainLines(kind: ChainKind, sessionId: string): AsyncGenerator<string> {
    let after = { seq: "0", ts: new Date(0) };
    for (;;) {
      const page = await this.sql<{ seq: string; ts: Date; line: string }>(
        `SELECT r.seq::text AS seq, r.ts, r.line FROM ${this.n.records} r
          WHERE r.session_id = $1 AND r.kind = $2 AND (r.seq, r.ts) > ($3::bigint, $4::timestamptz) ORDER BY r.seq, r.ts LIMIT ${PAGE}`,
        [sessionId, kind, after.seq, after.ts],
      );
      await this.readKeys(page.rows.map((row) => row.line));
      for (const row of page.rows) yield row.line;
      if (page.rows.length < PAGE) return;
      const last = page.rows[page.rows.length - 1]!;
      after = { seq: last.seq, ts: last.ts };
    }
  }

  /**
   * The session's row (its session file's info, with the row's status), as the files' session
   * file; none for a session that is gone (see goneSql):
   * retention over the files removes its session file, and `getSessionSummary()` of it resolves
   * to null there. (Until 2026-12-05 its undeletable row gave a "finalized" summary with 0
   * records; found by the session-status pass.)
   */
  async sessionInfo(sessionId: string): Promise<Record<string, unknown> | undefined> {
    const r = await this.sql<{ info: Record<string, unknown>; status: string }>(
      `SELECT info, status FROM ${this.n.sessions} s
        WHERE s.session_id = $1 AND NOT ${this.goneSql("s.session_id")}`,
      [sessionId],
    );
    const row = r.rows[0];
    return row ? { ...row.info, status: row.status } : undefined;
  }

  /**
   * The session's status given its row `info` (as {@link sessionInfo} gives it): the row's, but
   * "interrupted" for an `active` row whose run was of a process of this host that is gone, by
   * the rule the files' readers judge a session's lock by (`runLeftByDead`, from the run the row
   * names: pid, host, the process's start and pid namespace where known, the run's start). A session killed
   * (SIGKILL, a crash, an out-of-memory kill) keeps its `active` row until a sink of the store
   * opens in its directory; over its files it is `interrupted` from the moment its process is
   * gone, and so is it here (until 2026-12-06 the store's readers said `active` until then; found
   * by the PostgreSQL pass). Reads only: the row is not changed (docs/POSTGRES.md). Never for a
   * run of another host, nor one whose process lives, nor, when `contentDir` is given, a session
   * whose lock a live process holds or takes over there (resumed, its sink not yet heard from).
   */
  sessionStatus(sessionId: string, info: Record<string, unknown> | undefined): SessionStatus {
    const status = sessionStatusOf(info);
    if (status !== "active" || !runLeftByDead(info!)) return status;
    return this.contentDir !== undefined && sessionLiveIn(this.contentDir, sessionId) ? "active" : "interrupted";
  }

  /** Full-content files are kept by each instance, not in the store: read from `contentDir` when given. */
  async readContent(relPath: string, maxBytes?: number): Promise<Buffer | undefined> {
    if (!this.contentDir) return undefined;
    // only content files: a record of the store (which whoever writes the store can change) names
    // the file, and must not reach anything else in that directory (found by review, 2026-12-04)
    // (a flat name under full_interactions/, as the writer makes them: nothing to normalise)
    if (!CONTENT_REF.test(relPath)) return undefined;
    return readContentFile(this.contentDir, relPath, maxBytes);
  }

  async sizeOf(sessionIds: readonly string[]): Promise<number> {
    const r = await this.sql<{ b: string | null }>(`SELECT sum(octet_length(line) + 1)::text AS b FROM ${this.n.records} WHERE session_id = ANY($1::text[])`, [sessionIds]);
    return Number(r.rows[0]?.b ?? 0);
  }

  /**
   * The records of one kind matching `filter`, newest first, filtered, ordered and paged in SQL.
   * Same filters and validation as the file viewer; `sessionIds` restricts to the viewer's sessions.
   */
  async query<K extends RecordType>(kind: K, filter?: FilterOf[K], sessionIds?: readonly string[], method = "query"): Promise<RawRecord[]> {
    const compiled = compileQuery(kind, filter, method); // validation, defaults
    const f = (filter ?? {}) as Record<string, unknown>;
    const values: unknown[] = [kind];
    const where = ["kind = $1"];
    // text columns and the jsonb copy hold U+FFFD for U+0000 and lone surrogates (see rows.ts); a
    // filter is compared in that same form (a raw U+0000 was an error from PostgreSQL)
    const param = (v: unknown) => {
      values.push(typeof v === "string" ? columnText(v) : v);
      return `$${values.length}`;
    };
    // A filter holding U+FFFD in that form (from U+0000, a lone surrogate, or U+FFFD itself) also
    // matches values that differ only there (`bob\u0000` and `bob\uFFFD`): such a query is
    // compared exactly on the records' lines too, and paged here (found by review, 2026-12-04)
    const exact: Array<[string, string]> = [];
    const textParam = (field: string, v: unknown) => {
      if (typeof v === "string" && columnText(v)!.includes("\uFFFD")) exact.push([field, v]);
      return param(v);
    };
    for (const [key, field] of Object.entries(EQUALITY[kind])) {
      const want = f[key];
      if (want === undefined) continue;
      if (field === "success") where.push(`coalesce((record->>'success')::boolean, true) = ${param(want)}::boolean`);
      else if (field === "model") where.push(`model = ${textParam(field, want)}`);
      else where.push(`record->>${param(field)} = ${textParam(field, want)}`);
    }
    if (f.userId !== undefined) where.push(`user_id = ${textParam("userId", f.userId)}`);
    if (f.traceId !== undefined) where.push(`trace_id = ${textParam("traceId", f.traceId)}`);
    if (f.since !== undefined) where.push(`ts >= ${param(isoTime(f.since as TimeInput))}::timestamptz`);
    if (f.until !== undefined) where.push(`ts < ${param(isoTime(f.until as TimeInput))}::timestamptz`);
    if (compiled.sessionId !== undefined) where.push(`session_id = ${param(compiled.sessionId)}`);
    if (sessionIds !== undefined) where.push(`session_id = ANY(${param([...sessionIds])}::text[])`);
    const limit = Number.isFinite(compiled.limit) && exact.length === 0 ? ` LIMIT ${param(compiled.limit)}` : "";
    const offset = compiled.offset > 0 && exact.length === 0 ? ` OFFSET ${param(compiled.offset)}` : "";
    const r = await this.sql<{ line: string }>(
      `SELECT line FROM ${this.n.records} WHERE ${where.join(" AND ")} ORDER BY ts DESC, session_id COLLATE "C" DESC, seq DESC, id COLLATE "C" DESC${limit}${offset}`,
      values,
    );
    await this.readKeys(r.rows.map((x) => x.line));
    const recs = r.rows.map((x) => JSON.parse(x.line) as RawRecord);
    if (exact.length === 0) return recs;
    const matching = recs.filter((rec) => exact.every(([field, v]) => (rec as Record<string, unknown>)[field] === v));
    return matching.slice(compiled.offset, Number.isFinite(compiled.limit) ? compiled.offset + compiled.limit : undefined);
  }

  /**
   * Counts, tokens, models, personas, success rates, errors by severity and chain heads of the
   * given sessions (all when omitted), aggregated by PostgreSQL. Counting rules are those of the
   * logger's session summary: a missing `success` counts as success, a missing model as "unknown".
   */
  async summarize(sessionIds?: readonly string[]): Promise<StoreSummary> {
    const scope = sessionIds ? "session_id = ANY($1::text[])" : "true";
    const args = sessionIds ? [[...sessionIds]] : [];
    const q = <T extends Record<string, unknown>>(sql: string) => this.sql<T>(sql, args).then((r) => r.rows);
    const [perKind, chats, models, personas, severities, heads, sessions] = await Promise.all([
      q<{ kind: string; c: string; ok: string; first: Date; last: Date }>(
        `SELECT kind, count(*)::text AS c, count(*) FILTER (WHERE coalesce((record->>'success')::boolean, true))::text AS ok, min(ts) AS first, max(ts) AS last
           FROM ${this.n.records} WHERE ${scope} GROUP BY kind`,
      ),
      // (the calls without a split or without counts by the session summary's rules: SessionStats.chat)
      q<{ t: string | null; i: string | null; o: string | null; ns: string; nt: string }>(
        `SELECT sum(coalesce((record->>'tokensUsed')::numeric, 0))::text AS t, sum(coalesce((record->>'inputTokens')::numeric, 0))::text AS i,
                sum(coalesce((record->>'outputTokens')::numeric, 0))::text AS o,
                count(*) FILTER (WHERE NOT split AND coalesce((record->>'tokensUsed')::numeric, 0) > 0)::text AS ns,
                count(*) FILTER (WHERE NOT split AND record->>'tokensUsed' IS NULL AND coalesce((record->>'success')::boolean, true))::text AS nt
           FROM ${this.n.records}, LATERAL (SELECT record->>'inputTokens' IS NOT NULL OR record->>'outputTokens' IS NOT NULL AS split) s
          WHERE ${scope} AND kind = 'chat_interaction'`,
      ),
      q<{ k: string; c: string }>(`SELECT coalesce(model, 'unknown') AS k, count(*)::text AS c FROM ${this.n.records} WHERE ${scope} AND kind = 'chat_interaction' GROUP BY 1`),
      q<{ k: string; c: string }>(
        `SELECT CASE WHEN kind = 'persona_activity' THEN record->>'personaName' ELSE record->>'persona' END AS k, count(*)::text AS c
           FROM ${this.n.records}
          WHERE ${scope} AND (kind = 'persona_activity' OR (kind = 'chat_interaction' AND jsonb_typeof(record->'persona') = 'string'))
          GROUP BY 1`,
      ),
      q<{ k: string; c: string }>(`SELECT coalesce(record->>'severity', 'error') AS k, count(*)::text AS c FROM ${this.n.records} WHERE ${scope} AND kind = 'error' GROUP BY 1`),
      q<{ kind: string; seq: string; hash: string }>(
        `SELECT DISTINCT ON (r.kind) r.kind, r.seq::text AS seq, r.hash FROM ${this.n.records} r WHERE ${scope} ORDER BY r.kind, r.seq DESC`,
      ),
      sessionIds ? Promise.resolve(sessionIds.map((s) => ({ s }))) : q<{ s: string }>(`SELECT DISTINCT session_id AS s FROM ${this.n.records} ORDER BY 1`),
    ]);
    const counts = zeroCounts();
    let chatOk = 0;
    let toolOk = 0;
    let first: string | undefined;
    let last: string | undefined;
    for (const r of perKind) {
      if ((RECORD_KINDS as readonly string[]).includes(r.kind)) counts[r.kind as RecordType] = Number(r.c);
      if (r.kind === "chat_interaction") chatOk = Number(r.ok);
      if (r.kind === "tool_usage") toolOk = Number(r.ok);
      const a = r.first.toISOString();
      const b = r.last.toISOString();
      if (first === undefined || a < first) first = a;
      if (last === undefined || b > last) last = b;
    }
    const toMap = (rows: Array<{ k: string; c: string }>) => Object.fromEntries(rows.map((r) => [r.k, Number(r.c)]));
    const headMap = {} as Record<ChainKind, KindHead>;
    for (const k of CHAIN_KINDS) headMap[k] = { seq: 0, hash: GENESIS_HASH };
    for (const h of heads) if ((CHAIN_KINDS as readonly string[]).includes(h.kind)) headMap[h.kind as ChainKind] = { seq: Number(h.seq), hash: h.hash };
    const t = chats[0];
    return {
      sessions: sessions.map((s) => s.s),
      counts,
      totalRecords: RECORD_KINDS.reduce((s, k) => s + counts[k], 0),
      tokens: { total: Number(t?.t ?? 0), input: Number(t?.i ?? 0), output: Number(t?.o ?? 0), callsWithoutTokenSplit: Number(t?.ns ?? 0), callsWithoutTokens: Number(t?.nt ?? 0) },
      models: toMap(models),
      personas: toMap(personas),
      chatSuccessRate: counts.chat_interaction ? chatOk / counts.chat_interaction : null,
      toolCalls: counts.tool_usage,
      toolSuccessRate: counts.tool_usage ? toolOk / counts.tool_usage : null,
      errorsBySeverity: toMap(severities),
      heads: headMap,
      firstTimestamp: first,
      lastTimestamp: last,
    };
  }

  /** Disconnects (only a pool this source created). */
  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}

function redact(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    u.password = "";
    u.username = u.username ? u.username : "";
    return `${u.host}${u.pathname}`;
  } catch {
    return "(connection string)";
  }
}
