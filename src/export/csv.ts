/**
 * CSV export of one kind through csv-stringify: one column per field (camelCase, as in the JSONL
 * files), nested values as JSON text, and string cells a spreadsheet would run as a formula
 * neutralised with a leading apostrophe.
 */
import { stringify } from "csv-stringify";
import type { RecordType } from "../types.js";
import { writeExport, type ExportTarget } from "./output.js";

const ENVELOPE_HEAD = ["id", "type", "sessionId", "timestamp", "seq", "prevHash", "traceId", "parentId", "userId"];
const ENVELOPE_TAIL = ["metadata", "encrypted", "encryptedWithoutKey", "decryptionError", "contentWithheld", "hash"];

/**
 * The columns every CSV of a kind has, in order; fields not listed here follow the kind's fields, sorted.
 *
 * @example
 * CSV_COLUMNS.tool_usage.includes("toolName") // true
 */
export const CSV_COLUMNS: Readonly<Record<RecordType, readonly string[]>> = Object.freeze({
  chat_interaction: [
    ...ENVELOPE_HEAD,
    "interactionType",
    "model",
    "provider",
    "persona",
    "promptPreview",
    "responsePreview",
    "promptFormat",
    "responseFormat",
    "promptLength",
    "responseLength",
    "promptCaptured",
    "responseCaptured",
    "promptHash",
    "responseHash",
    "tokensUsed",
    "inputTokens",
    "outputTokens",
    "usage",
    "durationSeconds",
    "timeToFirstTokenSeconds",
    "finishReason",
    "toolCalls",
    "success",
    "errorMessage",
    "statusCode",
    "fullContent",
    ...ENVELOPE_TAIL,
  ],
  persona_activity: [...ENVELOPE_HEAD, "personaName", "activityType", "description", "durationSeconds", "success", "details", ...ENVELOPE_TAIL],
  tool_usage: [
    ...ENVELOPE_HEAD,
    "toolName",
    "operation",
    "persona",
    "parameters",
    "result",
    "parametersLength",
    "resultLength",
    "success",
    "errorMessage",
    "durationSeconds",
    ...ENVELOPE_TAIL,
  ],
  file_operation: [...ENVELOPE_HEAD, "operation", "filePath", "fileSize", "fileHash", "persona", "success", "errorMessage", "details", ...ENVELOPE_TAIL],
  performance_metric: [...ENVELOPE_HEAD, "metricName", "value", "unit", "persona", "context", ...ENVELOPE_TAIL],
  error: [...ENVELOPE_HEAD, "errorType", "message", "stackTrace", "severity", "persona", "context", ...ENVELOPE_TAIL],
});

const FORMULA_START = /^[=+\-@\t\r']/;

/**
 * A string cell made safe for spreadsheets: one that starts with `=`, `+`, `-`, `@`, a tab or a
 * carriage return (or an apostrophe, so the rule can be undone) gets a leading `'`.
 * Undo it with {@link restoreCsvText}.
 *
 * @example
 * neutralizeCsvText("=HYPERLINK(...)") // "'=HYPERLINK(...)"
 */
export function neutralizeCsvText(s: string): string {
  return FORMULA_START.test(s) ? `'${s}` : s;
}

/**
 * The original text of a neutralised cell (drops one leading apostrophe).
 *
 * @example
 * restoreCsvText("'=SUM(A1)") // "=SUM(A1)"
 */
export function restoreCsvText(cell: string): string {
  return cell.startsWith("'") ? cell.slice(1) : cell;
}

/**
 * One cell: absent → empty; strings as text (neutralised); numbers and booleans as written by
 * JSON; objects, arrays and null as JSON text (neutralised too).
 */
export function csvCell(v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "string") return neutralizeCsvText(v);
  if (typeof v === "number" || typeof v === "boolean") return JSON.stringify(v);
  return neutralizeCsvText(JSON.stringify(v) ?? "");
}

/** The header: the kind's columns, then any other field the records have (sorted), before the tail. */
export function csvColumns(kind: RecordType, seen: ReadonlySet<string>): string[] {
  const known = CSV_COLUMNS[kind];
  const extra = [...seen].filter((k) => !known.includes(k)).sort();
  if (extra.length === 0) return [...known];
  const cut = known.length - ENVELOPE_TAIL.length;
  return [...known.slice(0, cut), ...extra, ...known.slice(cut)];
}

/**
 * Writes `records` (read twice: once for the columns, once for the rows) to `file` as CSV, through
 * a temporary file renamed into place (or into a stream). Header cells are neutralised as the
 * others are. Resolves to the number of rows.
 */
export async function writeCsv(
  file: ExportTarget,
  kind: RecordType,
  records: () => AsyncIterable<Record<string, unknown>>,
  option?: string,
): Promise<number> {
  const seen = new Set<string>();
  for await (const r of records()) for (const k of Object.keys(r)) seen.add(k);
  const columns = csvColumns(kind, seen);
  let rows = 0;
  async function* lines(): AsyncGenerator<string[]> {
    for await (const r of records()) {
      rows++;
      yield columns.map((c) => csvCell(r[c]));
    }
  }
  // (the header's cells are text cells too: a member a tampered line adds is a column named by it,
  // and a name such as =HYPERLINK(…) ran as a formula in the header; found by review, 2026-12-05)
  await writeExport(file, lines(), stringify({ header: true, columns: columns.map((key) => ({ key, header: neutralizeCsvText(key) })) }), option);
  return rows;
}
