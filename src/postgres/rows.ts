/**
 * Lines as the store takes them. The exact line goes into a text column; the jsonb column gets
 * the same JSON, except that PostgreSQL's jsonb cannot hold U+0000 or a lone surrogate, which
 * JSON allows: for such a line the jsonb copy has U+FFFD in their place (the line keeps them).
 */
import { splitSealedLine } from "../pipeline/chain.js";
import { CHAIN_KINDS, type ChainKind } from "../types.js";

const JSONB_UNSAFE = /\\u(?:0000|[dD][89a-fA-F])/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function clean(v: unknown): unknown {
  if (typeof v === "string") return v.replaceAll("\u0000", "\uFFFD").replace(LONE_SURROGATE, "\uFFFD");
  if (Array.isArray(v)) return v.map(clean);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[clean(k) as string] = clean(x);
    return out;
  }
  return v;
}

/** null when the line can be cast to jsonb as it is, else a copy that can. */
export function jsonbCopy(line: string): string | null {
  if (!JSONB_UNSAFE.test(line)) return null;
  return JSON.stringify(clean(JSON.parse(line)));
}

/** JSON text that can be cast to jsonb: the same text, or the copy `jsonbCopy` makes. */
export function jsonbText(json: string): string {
  return jsonbCopy(json) ?? json;
}

/** What the sink needs to know about a line read back from the spool or the files. */
export interface LineInfo {
  readonly sessionId: string;
  readonly kind: ChainKind;
  readonly seq: number;
  readonly id: string;
  readonly prevHash: string;
  readonly hash: string;
  readonly timestamp: string;
}

/** The store's optional envelope columns, as `record->>'field'` would give them. */
export interface LineColumns {
  readonly model: string | null;
  readonly userId: string | null;
  readonly traceId: string | null;
}

/**
 * A record field as its text column holds it: a text column, like jsonb, cannot hold U+0000, and
 * a lone surrogate would reach the server as U+FFFD anyway; both become U+FFFD here, so the row
 * is stored (an insert refused for one such byte stalled every record behind it) and verify
 * compares the column with this same value. The line keeps the original.
 */
export function columnText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return clean(typeof v === "string" ? v : JSON.stringify(v)) as string;
}

/** model, userId and traceId of a sealed line. */
export function lineColumns(line: string): LineColumns {
  const rec = JSON.parse(line) as Record<string, unknown>;
  return { model: columnText(rec.model), userId: columnText(rec.userId), traceId: columnText(rec.traceId) };
}

/** The twelve column arrays of the batched insert (see `insertSql`). */
export function insertParams(recs: ReadonlyArray<{ sessionId: string; kind: string; seq: number; id: string; timestamp: string; prevHash: string; hash: string; line: string }>): unknown[] {
  const cols: unknown[][] = Array.from({ length: 12 }, () => new Array<unknown>(recs.length));
  recs.forEach((r, i) => {
    const c = lineColumns(r.line);
    cols[0]![i] = r.sessionId;
    cols[1]![i] = r.kind;
    cols[2]![i] = r.seq;
    cols[3]![i] = r.id;
    cols[4]![i] = r.timestamp;
    cols[5]![i] = r.prevHash;
    cols[6]![i] = r.hash;
    cols[7]![i] = c.model;
    cols[8]![i] = c.userId;
    cols[9]![i] = c.traceId;
    cols[10]![i] = jsonbCopy(r.line);
    cols[11]![i] = r.line;
  });
  return cols;
}

/** Parses a sealed line; undefined when it is not one (a torn or foreign line). */
export function lineInfo(line: string): LineInfo | undefined {
  const sealed = splitSealedLine(line);
  if (!sealed) return undefined;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { sessionId, type, seq, timestamp, id, prevHash } = rec;
  if (typeof id !== "string" || typeof prevHash !== "string") return undefined;
  if (typeof sessionId !== "string" || typeof seq !== "number" || !Number.isInteger(seq) || seq < 1) return undefined;
  if (typeof timestamp !== "string" || Number.isNaN(Date.parse(timestamp))) return undefined;
  if (!CHAIN_KINDS.includes(type as ChainKind)) return undefined;
  return { sessionId, kind: type as ChainKind, seq, id, prevHash, hash: sealed.hash, timestamp };
}

/** `YYYY-MM` of an ISO timestamp (the month partition a record goes to). */
export function monthOf(timestamp: string): string {
  return new Date(timestamp).toISOString().slice(0, 7);
}
