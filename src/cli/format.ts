/** One record as one terminal line, for `tail`. Text from the log is stripped of control characters. */
import { isEncryptedValue } from "../pipeline/encrypt.js";
import type { Colors } from "./color.js";

const PREVIEW_CHARS = 60;

/**
 * Makes untrusted text safe for a terminal: control characters (ESC, CR, newlines, ...) become
 * visible escapes, so a logged prompt cannot move the cursor or recolour the screen.
 */
export function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => {
    if (ch === "\n") return "\\n";
    if (ch === "\r") return "\\r";
    if (ch === "\t") return "\\t";
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

function str(v: unknown): string {
  return typeof v === "string" ? clean(v) : typeof v === "number" || typeof v === "boolean" ? String(v) : "";
}

function shorten(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** Quoted, shortened and terminal-safe. */
function quote(s: string, n = PREVIEW_CHARS): string {
  return clean(JSON.stringify(shorten(s, n)));
}

function seconds(v: unknown): string {
  return typeof v === "number" && Number.isFinite(v) ? ` ${v.toFixed(v < 10 ? 2 : 1)}s` : "";
}

/** A preview field of an opened record: its text, else a marker saying it is (still) encrypted. */
function previewOf(rec: Record<string, unknown>, field: string, c: Colors): string | undefined {
  const v = rec[field];
  if (v === undefined) return undefined;
  if (isEncryptedValue(v)) {
    return typeof rec.decryptionError === "string" ? c.yellow(`[encrypted with key ${clean(v.kid)}: cannot decrypt]`) : c.dim("[encrypted]");
  }
  return typeof v === "string" ? quote(v) : undefined;
}

function status(rec: Record<string, unknown>, c: Colors): string {
  if (rec.success === false) {
    const msg = typeof rec.errorMessage === "string" ? `: ${shorten(clean(rec.errorMessage), 80)}` : "";
    return c.red(`FAILED${msg}`);
  }
  return rec.success === true ? c.green("ok") : "";
}

const SEVERITY_COLOR: Record<string, keyof Omit<Colors, "enabled">> = { critical: "red", error: "red", warning: "yellow", info: "blue", debug: "dim" };

function detail(rec: Record<string, unknown>, c: Colors): string {
  const parts: string[] = [];
  switch (rec.type) {
    case "chat_interaction": {
      parts.push(c.bold(str(rec.model)), str(rec.interactionType), status(rec, c));
      if (typeof rec.tokensUsed === "number") parts.push(`${rec.tokensUsed} tok`);
      const d = seconds(rec.durationSeconds).trim();
      if (d) parts.push(d);
      const prompt = previewOf(rec, "promptPreview", c);
      if (prompt !== undefined) parts.push(`prompt ${prompt}`);
      break;
    }
    case "persona_activity":
      parts.push(c.bold(str(rec.personaName)), str(rec.activityType));
      if (typeof rec.description === "string") parts.push(quote(rec.description));
      if (seconds(rec.durationSeconds)) parts.push(seconds(rec.durationSeconds).trim());
      break;
    case "tool_usage":
      parts.push(c.bold(`${str(rec.toolName)}.${str(rec.operation)}`), status(rec, c));
      if (seconds(rec.durationSeconds)) parts.push(seconds(rec.durationSeconds).trim());
      break;
    case "file_operation":
      parts.push(c.bold(str(rec.operation)), str(rec.filePath));
      if (typeof rec.fileSize === "number") parts.push(`${rec.fileSize} bytes`);
      parts.push(status(rec, c));
      break;
    case "performance_metric":
      // (six significant digits: a duration measured with performance.now() read 97.48449299999993 ms)
      parts.push(`${c.bold(str(rec.metricName))} = ${typeof rec.value === "number" ? String(Number(rec.value.toPrecision(6))) : str(rec.value)} ${str(rec.unit)}`);
      break;
    case "error": {
      const sev = str(rec.severity);
      parts.push(c[SEVERITY_COLOR[sev] ?? "red"](sev), `${c.bold(str(rec.errorType))}: ${shorten(clean(String(rec.message ?? "").split("\n")[0] ?? ""), 120)}`);
      break;
    }
    case "audit_event":
      parts.push(c.magenta(str(rec.eventType)));
      if (typeof rec.reason === "string") parts.push(quote(rec.reason));
      break;
    default:
      parts.push(c.yellow("(unknown record type)"));
  }
  // who and which request: what an operator following a live trail greps for
  if (typeof rec.userId === "string") parts.push(c.dim(`user=${shorten(clean(rec.userId), 64)}`));
  if (typeof rec.traceId === "string") parts.push(c.dim(`trace=${shorten(clean(rec.traceId), 64)}`));
  return parts.filter((p) => p !== "").join(" ");
}

/**
 * One line for a record (opened with the viewer's `openRecord`, so encrypted fields are decrypted
 * where a key allowed it): time, type, session#seq, then what happened, then its user and trace.
 *
 * @example
 * formatRecord(openRecord(JSON.parse(line), key), { color: createColors(process.stdout) });
 * // 2025-05-01T10:00:00.000Z tool_usage      app#3 weather_api.get_forecast ok 0.12s user=u-42 trace=req-7f3a
 */
export function formatRecord(rec: Record<string, unknown>, o: { color: Colors }): string {
  const c = o.color;
  const type = str(rec.type);
  return `${c.dim(str(rec.timestamp))} ${c.cyan(type.padEnd(18))} ${str(rec.sessionId)}#${str(rec.seq)} ${detail(rec, c)}`;
}
