/**
 * Content withholding for exports made without `includeFullContent`: the fields that carry
 * prompt, response, tool-call, parameter or result text (encrypted or not) are replaced by a
 * marker, and the record lists them in `contentWithheld`. Lengths (`promptLength`,
 * `parametersLength`, …) stay.
 */
import type { RecordType } from "../types.js";

/**
 * What replaces a withheld value.
 *
 * @example
 * if (record.promptPreview === WITHHELD_MARKER) console.log("exported without content");
 */
export const WITHHELD_MARKER = "[content withheld from export]";

/**
 * The fields that carry content, per kind.
 *
 * @example
 * CONTENT_FIELDS.tool_usage // ["parameters", "result"]
 */
export const CONTENT_FIELDS: Readonly<Partial<Record<RecordType, readonly string[]>>> = Object.freeze({
  chat_interaction: ["promptPreview", "responsePreview", "toolCalls"],
  tool_usage: ["parameters", "result"],
});

/** Content hash fields, withheld when they are plain SHA-256 (an HMAC one, of encrypted logs, stays). */
const HASH_FIELDS = ["promptHash", "responseHash"] as const;

/**
 * A copy of `rec` without its content fields (the same object when it has none). A chat record
 * of a log that is not encrypted also loses its plain `sha256:` content hashes and the digests
 * of its content files (which an export without content does not hold): with them anyone could
 * confirm a guessed prompt (found by review, 2026-12-04).
 */
export function withholdContent<T extends object>(rec: T): T {
  const r = rec as Record<string, unknown>;
  const fields = CONTENT_FIELDS[r.type as RecordType];
  if (!fields) return rec;
  const withheld = fields.filter((f) => r[f] !== undefined);
  if (r.type === "chat_interaction") {
    for (const f of HASH_FIELDS) if (typeof r[f] === "string" && (r[f] as string).startsWith("sha256:")) withheld.push(f);
    // (an encrypted log's content files are ciphertext: their digests tell nothing)
    const encrypted = (Array.isArray(r.encrypted) && r.encrypted.length > 0) || HASH_FIELDS.some((f) => typeof r[f] === "string" && (r[f] as string).startsWith("hmac-"));
    if (!encrypted && digestsOf(r.fullContent)) withheld.push("fullContent");
  }
  if (withheld.length === 0) return rec;
  const out: Record<string, unknown> = { ...r };
  for (const f of withheld) out[f] = f === "fullContent" ? withoutDigests(r.fullContent as Record<string, unknown>) : WITHHELD_MARKER;
  out.contentWithheld = withheld;
  return out as T;
}

/** Whether a `fullContent` member names content files with their digests. */
function digestsOf(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  return Object.values(v).some((e) => typeof e === "object" && e !== null && "sha256" in e);
}

/** `fullContent` with each file's digest replaced by the marker (names and sizes stay). */
function withoutDigests(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, e] of Object.entries(v)) out[k] = typeof e === "object" && e !== null && "sha256" in e ? { ...e, sha256: WITHHELD_MARKER } : e;
  return out;
}
