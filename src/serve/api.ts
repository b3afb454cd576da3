/**
 * The JSON API under /api/. Every parameter is validated with zod; a bad one is a 400 naming it,
 * an unknown session or record a 404. Read-only: nothing here writes to the audit directory or store.
 *
 *   GET /api/info                                   audit directory (or store), key present, session count
 *   GET /api/sessions                               every session (cheap listing)
 *   GET /api/sessions/:sid/stats                    start, duration, counts, tokens, cost, errors
 *   GET /api/sessions/:sid/timeline?kinds=&model=&persona=&user=&success=&trace=&since=&until=&limit=&before=&skip=
 *   GET /api/sessions/:sid/records/:id              one record, its full content, parent, children
 *   GET /api/sessions/:sid/analytics                analytics report and chart series
 *   GET /api/sessions/:sid/integrity                the verifier's report
 *   GET /api/sessions/:sid/export.json[?content=1]  the JSON export (content withheld unless content=1)
 *   GET /api/sessions/:sid/export/:kind.csv         the CSV export of one kind
 *   GET /api/export.json[?user=&since=&until=]      the JSON export of every session (of one user, a time range; also on the session's downloads)
 *   GET /api/events?since=&until=&type=&limit=      legal holds, crypto-shreddings and retention removals of every session
 *   GET /api/records?user=&since=&until=&kinds=&…  the timeline's filters over every session (a data-subject access request: user=)
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { SESSION_ID_PATTERN } from "../config/schema.js";
import { ID_PATTERN } from "../record/id.js";
import { KIND_FILE_STEM, RECORD_KINDS, type RecordType } from "../types.js";
import { AUDIT_EVENT_TYPES, type ServeData, type TimelineQuery } from "./data.js";
import { timeMillis } from "../reader/time-input.js";
import { sendDownload } from "./downloads.js";
import { HttpError, sendJson } from "./http.js";
import { MAX_TIMELINE_SKIP } from "./timeline.js";

const sessionId = z
  .string()
  .regex(SESSION_ID_PATTERN, "must be a session id")
  .refine((s) => s !== "." && s !== "..", "must be a session id");
const recordId = z.string().regex(ID_PATTERN, "must be a record id");
const kindName = z.enum(RECORD_KINDS);
const bool = z.enum(["true", "false"]).transform((v) => v === "true");
const text = z.string().min(1).max(512);
/** A time as the CLI's --since/--until take it: ISO 8601, a date or a date and time, UTC without an offset. */
const time = z
  .string()
  .max(64)
  .refine((v) => !Number.isNaN(timeMillis(v)), "must be an ISO 8601 date or time (UTC when it has no offset), e.g. 2025-03-01 or 2025-03-01T09:30:00Z");

/** The downloads: content or not, and the records of one user and/or a time range (JSON and CSV). */
const exportSchema = z.strictObject({ content: z.enum(["0", "1"]).optional(), user: text.optional(), since: time.optional(), until: time.optional() });

/** The download's record filter, from its checked parameters. */
function exportFilter(q: z.output<typeof exportSchema>): { userId?: string; since?: string; until?: string } {
  return { ...(q.user !== undefined ? { userId: q.user } : {}), ...(q.since !== undefined ? { since: q.since } : {}), ...(q.until !== undefined ? { until: q.until } : {}) };
}

const eventsSchema = z.strictObject({
  since: time.optional(),
  until: time.optional(),
  type: z
    .string()
    .transform((s) => [...new Set(s.split(",").filter(Boolean))])
    .pipe(z.array(z.enum(AUDIT_EVENT_TYPES)).min(1, "give at least one event type")),
  limit: z.coerce.number().int().min(1).max(5000).optional(),
}).partial({ type: true });

const timelineSchema = z.strictObject({
  kinds: z
    .string()
    // (each kind once: a repeated kind was queried, and its rows returned, once per mention)
    .transform((s) => [...new Set(s.split(",").filter(Boolean))])
    .pipe(z.array(kindName).min(1, "give at least one kind"))
    .optional(),
  model: text.optional(),
  persona: text.optional(),
  user: text.optional(),
  success: bool.optional(),
  trace: text.optional(),
  since: time.optional(),
  until: time.optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  before: z.iso.datetime({ offset: true }).optional(),
  // (the records to pass over are read and held: 100,000 of each kind took a server from 153 to
  // 847 MB, a few such requests at once out of memory; found by review, 2026-12-04)
  skip: z.coerce.number().int().min(0).max(MAX_TIMELINE_SKIP).optional(),
});

function params<T extends z.ZodType>(schema: T, url: URL): z.output<T> {
  const raw: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (k !== "token" && v !== "") raw[k] = v;
  const r = schema.safeParse(raw);
  if (!r.success) {
    // (the query parameter: "kinds", not "kinds.0", for a bad item of a list)
    const fields = [...new Set(r.error.issues.map((i) => (i.path[0] === undefined ? "query" : String(i.path[0]))))];
    throw new HttpError(400, r.error.issues.map((i) => `${i.path.join(".") || "query"}: ${i.message}`).join("; "), { code: "AUDIT_ERR_VALIDATION", fields });
  }
  return r.data;
}

function parse<T extends z.ZodType>(schema: T, value: string, what: string): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new HttpError(404, `no such ${what}`);
  return r.data;
}

function csvKind(file: string): RecordType {
  const m = /^(.+)\.csv$/.exec(file);
  const kind = m ? RECORD_KINDS.find((k) => k === m[1] || KIND_FILE_STEM[k] === m[1]) : undefined;
  if (!kind) throw new HttpError(404, `no CSV export "${file}"; kinds: ${RECORD_KINDS.join(", ")}`);
  return kind;
}

/** The timeline's query parameters, checked, as a TimelineQuery. */
function timelineQuery(url: URL): TimelineQuery {
  const q = params(timelineSchema, url);
  if (q.before === undefined && (q.skip ?? 0) > 0) throw new HttpError(400, "skip: only with before", { code: "AUDIT_ERR_VALIDATION", fields: ["skip"] });
  return {
    kinds: q.kinds ?? RECORD_KINDS,
    ...(q.model !== undefined ? { model: q.model } : {}),
    ...(q.persona !== undefined ? { persona: q.persona } : {}),
    ...(q.user !== undefined ? { userId: q.user } : {}),
    ...(q.success !== undefined ? { success: q.success } : {}),
    ...(q.trace !== undefined ? { traceId: q.trace } : {}),
    ...(q.since !== undefined ? { since: q.since } : {}),
    ...(q.until !== undefined ? { until: q.until } : {}),
    limit: q.limit ?? 50,
    ...(q.before !== undefined ? { cursor: { before: new Date(q.before).toISOString(), skip: q.skip ?? 0 } } : {}),
  };
}

/**
 * Answers one API request (`segments` are the decoded path parts after `/api/`).
 *
 * @example
 * await handleApi(req, res, url, ["sessions", "s1", "stats"], data);
 */
export async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, segments: readonly string[], data: ServeData): Promise<void> {
  const [head, sid, what, ...rest] = segments;
  if (head === "info" && segments.length === 1) {
    const sessions = await data.listSessions();
    sendJson(req, res, { auditPath: data.auditPath ?? null, source: data.store ? "postgres" : "directory", description: data.description, hasKey: data.hasKey, sessions: sessions.length });
    return;
  }
  if (head === "export.json" && segments.length === 1) {
    const q = params(exportSchema, url);
    await sendDownload(req, res, data, { format: "json", includeFullContent: q.content === "1", filter: exportFilter(q) });
    return;
  }
  if (head === "events" && segments.length === 1) {
    const q = params(eventsSchema, url);
    sendJson(req, res, await data.complianceEvents({ ...(q.since !== undefined ? { since: q.since } : {}), ...(q.until !== undefined ? { until: q.until } : {}), ...(q.type !== undefined ? { types: q.type } : {}), limit: q.limit ?? 500 }));
    return;
  }
  if (head === "records" && segments.length === 1) {
    sendJson(req, res, await data.search(timelineQuery(url)));
    return;
  }
  if (head !== "sessions") throw new HttpError(404, "no such API endpoint");
  if (sid === undefined) {
    sendJson(req, res, { sessions: await data.listSessions(), hasKey: data.hasKey });
    return;
  }
  const id = parse(sessionId, sid, "session");
  if (!(await data.hasSession(id))) throw new HttpError(404, `no session "${id}" in ${data.description}`);
  switch (what) {
    case "stats":
      if (rest.length) break;
      sendJson(req, res, await data.stats(id));
      return;
    case "timeline": {
      if (rest.length) break;
      sendJson(req, res, await data.timeline(id, timelineQuery(url)));
      return;
    }
    case "records": {
      if (rest.length !== 1) break;
      const rid = parse(recordId, rest[0]!, "record");
      const detail = await data.record(id, rid);
      if (!detail) throw new HttpError(404, `no record "${rid}" in session "${id}"`);
      sendJson(req, res, detail);
      return;
    }
    case "analytics":
      if (rest.length) break;
      sendJson(req, res, await data.analytics(id));
      return;
    case "integrity":
      if (rest.length) break;
      sendJson(req, res, await data.integrity(id));
      return;
    case "export.json": {
      if (rest.length) break;
      const q = params(exportSchema, url);
      await sendDownload(req, res, data, { format: "json", sessionId: id, includeFullContent: q.content === "1", filter: exportFilter(q) });
      return;
    }
    case "export": {
      if (rest.length !== 1) break;
      const q = params(exportSchema, url);
      await sendDownload(req, res, data, { format: "csv", kind: csvKind(rest[0]!), sessionId: id, includeFullContent: q.content === "1", filter: exportFilter(q) });
      return;
    }
  }
  throw new HttpError(404, "no such API endpoint");
}
