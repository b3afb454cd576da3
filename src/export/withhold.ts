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

/** A copy of `rec` without its content fields (the same object when it has none). */
export function withholdContent<T extends object>(rec: T): T {
  const r = rec as Record<string, unknown>;
  const fields = CONTENT_FIELDS[r.type as RecordType];
  if (!fields) return rec;
  const withheld = fields.filter((f) => r[f] !== undefined);
  if (withheld.length === 0) return rec;
  const out: Record<string, unknown> = { ...r };
  for (const f of withheld) out[f] = WITHHELD_MARKER;
  out.contentWithheld = withheld;
  return out as T;
}
