/**
 * Query filters of the viewer: validated once with zod, compiled into one predicate over stored
 * records, and a bounded newest-first buffer that keeps only `offset + limit` records.
 */
import { z } from "zod";
import { AuditValidationError } from "../errors.js";
import { toFieldIssues } from "../record/issues.js";
import type { ErrorSeverity, FileOperationKind, RecordType } from "../types.js";
import type { RawRecord } from "./records.js";
import { isoTime, timeMillis } from "./time-input.js";

/**
 * Records returned when a query gives no `limit`. Pass `limit: Infinity` for all of them (memory
 * then grows with the result; `viewer.iterate()` streams instead).
 *
 * @example
 * await viewer.getErrors({ limit: Infinity, severity: "critical" });
 */
export const DEFAULT_LIMIT = 100;

/** A point in time: a `Date`, an ISO 8601 string or milliseconds since the epoch. */
export type TimeInput = Date | string | number;

/** Filters every query takes. `since` is inclusive, `until` exclusive. */
export interface BaseFilter {
  /** at most this many records (default 100; `Infinity` for all) */
  readonly limit?: number | undefined;
  /** skip this many of the newest matching records first */
  readonly offset?: number | undefined;
  readonly since?: TimeInput | undefined;
  readonly until?: TimeInput | undefined;
  /** one session only (within the viewer's sessions) */
  readonly sessionId?: string | undefined;
  readonly userId?: string | undefined;
  readonly traceId?: string | undefined;
}

export interface ChatInteractionFilter extends BaseFilter {
  readonly model?: string | undefined;
  readonly interactionType?: string | undefined;
  readonly provider?: string | undefined;
  readonly persona?: string | undefined;
  readonly success?: boolean | undefined;
}

export interface ToolUsageFilter extends BaseFilter {
  readonly toolName?: string | undefined;
  readonly operation?: string | undefined;
  readonly persona?: string | undefined;
  readonly success?: boolean | undefined;
}

export interface PersonaActivityFilter extends BaseFilter {
  /** the persona's name (`persona` is accepted as a synonym) */
  readonly personaName?: string | undefined;
  readonly persona?: string | undefined;
  readonly activityType?: string | undefined;
  /** an activity recorded without `success` counts as successful */
  readonly success?: boolean | undefined;
}

export interface FileOperationFilter extends BaseFilter {
  readonly operation?: FileOperationKind | undefined;
  readonly filePath?: string | undefined;
  readonly persona?: string | undefined;
  readonly success?: boolean | undefined;
}

export interface PerformanceMetricFilter extends BaseFilter {
  readonly metricName?: string | undefined;
  readonly unit?: string | undefined;
  readonly persona?: string | undefined;
}

export interface ErrorFilter extends BaseFilter {
  readonly errorType?: string | undefined;
  readonly severity?: ErrorSeverity | undefined;
  readonly persona?: string | undefined;
}

/** The filter type of each kind. */
export interface FilterOf {
  chat_interaction: ChatInteractionFilter;
  tool_usage: ToolUsageFilter;
  persona_activity: PersonaActivityFilter;
  file_operation: FileOperationFilter;
  performance_metric: PerformanceMetricFilter;
  error: ErrorFilter;
}

/** A query time (see time-input.ts). */
export const timeInputSchema = z.union([z.date(), z.string(), z.number()]).refine((v) => !Number.isNaN(timeMillis(v)), "must be a Date, an ISO 8601 string (UTC when it has no offset) or epoch milliseconds");
const str = z.string();
const base = {
  limit: z
    .custom<number>((n) => n === Number.POSITIVE_INFINITY || (typeof n === "number" && Number.isInteger(n) && n >= 0), "must be a whole number, 0 or more, or Infinity")
    .optional(),
  offset: z.number().int("must be a whole number").min(0, "must be 0 or more").optional(),
  since: timeInputSchema.optional(),
  until: timeInputSchema.optional(),
  sessionId: str.optional(),
  userId: str.optional(),
  traceId: str.optional(),
};

const SCHEMAS = {
  chat_interaction: z.strictObject({ ...base, model: str.optional(), interactionType: str.optional(), provider: str.optional(), persona: str.optional(), success: z.boolean().optional() }),
  tool_usage: z.strictObject({ ...base, toolName: str.optional(), operation: str.optional(), persona: str.optional(), success: z.boolean().optional() }),
  persona_activity: z.strictObject({ ...base, personaName: str.optional(), persona: str.optional(), activityType: str.optional(), success: z.boolean().optional() }),
  file_operation: z.strictObject({
    ...base,
    operation: z.enum(["create", "read", "modify", "delete", "move", "copy"]).optional(),
    filePath: str.optional(),
    persona: str.optional(),
    success: z.boolean().optional(),
  }),
  performance_metric: z.strictObject({ ...base, metricName: str.optional(), unit: str.optional(), persona: str.optional() }),
  error: z.strictObject({ ...base, errorType: str.optional(), severity: z.enum(["debug", "info", "warning", "error", "critical"]).optional(), persona: str.optional() }),
} satisfies Record<RecordType, z.ZodType>;

/** Fields compared for equality, per kind (filter key → record field). */
const EQUALITY: Readonly<Record<RecordType, Readonly<Record<string, string>>>> = {
  chat_interaction: { model: "model", interactionType: "interactionType", provider: "provider", persona: "persona", success: "success" },
  tool_usage: { toolName: "toolName", operation: "operation", persona: "persona", success: "success" },
  persona_activity: { personaName: "personaName", persona: "personaName", activityType: "activityType", success: "success" },
  file_operation: { operation: "operation", filePath: "filePath", persona: "persona", success: "success" },
  performance_metric: { metricName: "metricName", unit: "unit", persona: "persona" },
  error: { errorType: "errorType", severity: "severity", persona: "persona" },
};

/** A validated query: the predicate, the session restriction and the page. */
export interface CompiledQuery {
  readonly match: (rec: RawRecord) => boolean;
  readonly sessionId: string | undefined;
  readonly limit: number;
  readonly offset: number;
}


/**
 * Validates a filter for `kind` and compiles it. Throws `AuditValidationError` naming every bad field.
 *
 * @example
 * const q = compileQuery("tool_usage", { toolName: "search", success: false, limit: 5 }, "getToolUsages");
 */
export function compileQuery<K extends RecordType>(kind: K, filter: FilterOf[K] | undefined, method: string): CompiledQuery {
  // (viewer.iterate("tool_usages") was a bare TypeError; found by the API.md audit, 2026-12-05)
  if (typeof kind !== "string" || !Object.hasOwn(SCHEMAS, kind)) {
    throw new AuditValidationError(method, [{ field: "kind", message: `must be one of ${Object.keys(SCHEMAS).join(", ")} (got ${typeof kind === "string" ? JSON.stringify(kind) : typeof kind})` }], { outcome: "nothing was read" });
  }
  const parsed = SCHEMAS[kind].safeParse(filter ?? {});
  if (!parsed.success) throw new AuditValidationError(method, toFieldIssues(parsed.error, "", SCHEMAS[kind]), { outcome: "nothing was read" });
  const f = parsed.data as Record<string, unknown> & BaseFilter;
  const checks: Array<[string, unknown]> = [];
  for (const [key, field] of Object.entries(EQUALITY[kind])) {
    if (f[key] !== undefined) checks.push([field, f[key]]);
  }
  if (f.userId !== undefined) checks.push(["userId", f.userId]);
  if (f.traceId !== undefined) checks.push(["traceId", f.traceId]);
  const since = f.since !== undefined ? isoTime(f.since) : undefined;
  const until = f.until !== undefined ? isoTime(f.until) : undefined;
  // persona activities without a `success` field count as successful; other kinds always write it
  const match = (rec: RawRecord): boolean => {
    if (rec.type !== kind) return false;
    for (const [field, want] of checks) {
      const have = field === "success" && rec.success === undefined ? true : rec[field];
      if (have !== want) return false;
    }
    if (since !== undefined || until !== undefined) {
      const t = typeof rec.timestamp === "string" ? rec.timestamp : "";
      if (since !== undefined && t < since) return false;
      if (until !== undefined && t >= until) return false;
    }
    return true;
  };
  // a limit past 2^53 is no limit (found by review, 2026-12-04: 1e20 reached PostgreSQL as a
  // bigint out of range, a raw DatabaseError)
  const limit = f.limit === undefined ? DEFAULT_LIMIT : f.limit > Number.MAX_SAFE_INTEGER ? Number.POSITIVE_INFINITY : f.limit;
  return { match, sessionId: f.sessionId, limit, offset: f.offset ?? 0 };
}

/**
 * Newest first: later timestamp, then larger session id, then higher seq, then larger id; the
 * order the PostgreSQL reader's `ORDER BY ts DESC, session_id COLLATE "C" DESC, seq DESC, id COLLATE "C" DESC` gives (byte order, as here), so
 * a query's pages are the same over files and over the store. (Until 2026-12-05 seq counted only
 * within one session, and records of two sessions in one millisecond came back in another order
 * from the store.)
 */
export function newerFirst(a: RawRecord, b: RawRecord): number {
  const ta = String(a.timestamp ?? "");
  const tb = String(b.timestamp ?? "");
  if (ta !== tb) return ta < tb ? 1 : -1;
  const sa = String(a.sessionId ?? "");
  const sb = String(b.sessionId ?? "");
  if (sa !== sb) return sa < sb ? 1 : -1;
  if (typeof a.seq === "number" && typeof b.seq === "number" && a.seq !== b.seq) return b.seq - a.seq;
  const ia = String(a.id ?? "");
  const ib = String(b.id ?? "");
  return ia < ib ? 1 : ia > ib ? -1 : 0;
}

/**
 * Keeps the `capacity` newest records it is offered (a binary heap with the oldest kept record
 * at the top), so a query holds at most `offset + limit` records whatever the log size.
 */
export class NewestBuffer {
  private readonly heap: RawRecord[] = [];
  constructor(private readonly capacity: number) {}

  offer(rec: RawRecord): void {
    if (this.capacity <= 0) return;
    const h = this.heap;
    if (h.length < this.capacity) {
      h.push(rec);
      this.up(h.length - 1);
      return;
    }
    // replace the oldest kept record if this one is newer
    if (newerFirst(rec, h[0]!) < 0) {
      h[0] = rec;
      this.down(0);
    }
  }

  /** The kept records, newest first. */
  drain(): RawRecord[] {
    return this.heap.slice().sort(newerFirst);
  }

  // heap order: the parent is older than (sorts after) its children
  private older(i: number, j: number): boolean {
    return newerFirst(this.heap[i]!, this.heap[j]!) > 0;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.older(i, p)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.older(l, m)) m = l;
      if (r < h.length && this.older(r, m)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
