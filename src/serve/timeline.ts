/**
 * The session timeline: records of several kinds merged newest first, paged with a keyset
 * cursor (so page 10,000 costs what page 1 does), and laid out as a tree by `parentId` (an HTTP
 * request → the chat it made → the tools the chat called).
 */
import { newerFirst } from "../reader/query.js";
import type { RawRecord } from "../reader/records.js";
import type { RecordType } from "../types.js";

/** One line of the timeline, with the opened record. */
export interface TimelineRow {
  readonly id: string;
  readonly type: RecordType;
  readonly timestamp: string;
  /** 0 for a root; 1 for a child of a record on the same page, and so on */
  readonly depth: number;
  readonly parentId?: string;
  /** false when the parent is on another page (or not a record of this session) */
  readonly parentOnPage: boolean;
  /** children on this page */
  readonly childCount: number;
  /** short title, e.g. "api_request · gpt-4o" or "search.query" */
  readonly label: string;
  /** one line of detail: a preview, a message, a path */
  readonly detail: string;
  readonly success?: boolean;
  readonly durationSeconds?: number;
  readonly tokens?: number;
  /** some field is still encrypted (no key, or the key could not open it) */
  readonly encrypted: boolean;
  readonly record: RawRecord;
}

/**
 * The most records a cursor may skip: those of its millisecond already shown. A page reads
 * `limit + 1 + skip` records per kind, so this bounds a request's memory; more records than this
 * in one millisecond of one session (far beyond what one logger writes) are passed over.
 */
export const MAX_TIMELINE_SKIP = 1000;

/** A keyset cursor: records strictly older than `before` (ISO time), after skipping `skip` of them. */
export interface TimelineCursor {
  readonly before: string;
  readonly skip: number;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

function short(v: unknown, max = 160): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "object" && v !== null && "$enc" in v) return "[encrypted]";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The title and detail line of a record. */
export function describeRecord(r: RawRecord): { label: string; detail: string } {
  switch (r.type) {
    case "chat_interaction":
      return { label: `${str(r.interactionType) ?? "chat"} · ${str(r.model) ?? "unknown model"}`, detail: r.success === false ? `✗ ${short(r.errorMessage)}` : short(r.promptPreview) };
    case "tool_usage":
      return { label: `${str(r.toolName) ?? "tool"}.${str(r.operation) ?? "?"}`, detail: r.success === false ? `✗ ${short(r.errorMessage)}` : short(r.parameters) };
    case "persona_activity":
      return { label: `${str(r.personaName) ?? "persona"}: ${str(r.activityType) ?? "?"}`, detail: short(r.description) };
    case "file_operation":
      return { label: `${str(r.operation) ?? "file"} ${str(r.filePath) ?? ""}`.trim(), detail: r.success === false ? `✗ ${short(r.errorMessage)}` : r.fileSize !== undefined ? `${String(r.fileSize)} bytes` : "" };
    case "performance_metric": {
      const c = (typeof r.context === "object" && r.context !== null ? r.context : {}) as Record<string, unknown>;
      const http = r.metricName === "http_request_duration" && typeof c.method === "string";
      return {
        label: http ? `${c.method as string} ${str(c.route) ?? ""} → ${String(c.status ?? "?")}` : `${str(r.metricName) ?? "metric"}`,
        detail: `${String(r.value)} ${str(r.unit) ?? ""}`.trim(),
      };
    }
    case "error":
      return { label: `${str(r.errorType) ?? "error"} (${str(r.severity) ?? "error"})`, detail: short(r.message) };
    default:
      return { label: String(r.type), detail: "" };
  }
}

function durationOf(r: RawRecord): number | undefined {
  if (r.type === "performance_metric" && r.unit === "ms" && r.metricName === "http_request_duration") {
    const v = num(r.value);
    return v === undefined ? undefined : v / 1000;
  }
  return num(r.durationSeconds);
}

/** Oldest first, for children under one parent. */
function olderFirst(a: RawRecord, b: RawRecord): number {
  return -newerFirst(a, b);
}

/**
 * Lays a page of records (newest first) out as a tree: a record whose `parentId` is on the page
 * goes under its parent (children oldest first); the others stay roots in page order.
 *
 * @example
 * buildTree([requestMetric, chat, tool]).map((r) => r.depth) // [0, 1, 2]
 */
export function buildTree(page: readonly RawRecord[]): TimelineRow[] {
  const byId = new Map<string, RawRecord>();
  for (const r of page) if (typeof r.id === "string") byId.set(r.id, r);
  const children = new Map<string, RawRecord[]>();
  const roots: RawRecord[] = [];
  for (const r of page) {
    const p = str(r.parentId);
    if (p !== undefined && p !== r.id && byId.has(p)) {
      let list = children.get(p);
      if (!list) children.set(p, (list = []));
      list.push(r);
    } else roots.push(r);
  }
  for (const list of children.values()) list.sort(olderFirst);
  const out: TimelineRow[] = [];
  const seen = new Set<RawRecord>();
  const visit = (r: RawRecord, depth: number): void => {
    if (seen.has(r)) return;
    seen.add(r);
    const kids = children.get(String(r.id)) ?? [];
    const { label, detail } = describeRecord(r);
    const success = typeof r.success === "boolean" ? r.success : undefined;
    const duration = durationOf(r);
    const tokens = num(r.tokensUsed);
    const parentId = str(r.parentId);
    out.push({
      id: String(r.id),
      type: r.type as RecordType,
      timestamp: String(r.timestamp ?? ""),
      depth,
      ...(parentId !== undefined ? { parentId } : {}),
      parentOnPage: depth > 0,
      childCount: kids.length,
      label,
      detail,
      ...(success !== undefined ? { success } : {}),
      ...(duration !== undefined ? { durationSeconds: duration } : {}),
      ...(tokens !== undefined ? { tokens } : {}),
      encrypted: r.encryptedWithoutKey === true,
      record: r,
    });
    for (const k of kids) visit(k, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  // records caught in a parent cycle (damaged data) still appear, as roots
  for (const r of page) if (!seen.has(r)) visit(r, 0);
  return out;
}

/**
 * Merges per-kind result lists (each newest first, each holding at least `skip + limit + 1`
 * records when more exist), drops the `skip` newest, and returns one page plus the next cursor.
 */
export function mergePage(lists: readonly (readonly RawRecord[])[], limit: number, cursor: TimelineCursor | undefined): { page: RawRecord[]; next: TimelineCursor | null } {
  const skip = cursor?.skip ?? 0;
  const merged = lists.flat().sort(newerFirst).slice(skip);
  const page = merged.slice(0, limit);
  if (merged.length <= limit || page.length === 0) return { page, next: null };
  const lastMs = Date.parse(String(page[page.length - 1]!.timestamp));
  if (Number.isNaN(lastMs)) return { page, next: null };
  const before = new Date(lastMs + 1).toISOString();
  // records of the last millisecond already shown are skipped next time (they share `before`)
  let same = 0;
  for (const r of page) if (Date.parse(String(r.timestamp)) === lastMs) same++;
  const nextSkip = cursor !== undefined && cursor.before === before ? skip + page.length : same;
  // (past the cap: on to the next older millisecond, leaving out the rest of this one)
  if (nextSkip > MAX_TIMELINE_SKIP) return { page, next: { before: new Date(lastMs).toISOString(), skip: 0 } };
  return { page, next: { before, skip: nextSkip } };
}
