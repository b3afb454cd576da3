/** Small response helpers of the viewer's HTTP server: JSON, plain errors, security headers. */
import type { IncomingMessage, ServerResponse } from "node:http";

/** An error that becomes an HTTP status with a short plain message (never a stack trace). */
export class HttpError extends Error {
  readonly status: number;
  /** more members of the JSON error body (e.g. `{ code, fields }` of a bad parameter) */
  readonly body: Readonly<Record<string, unknown>>;
  constructor(status: number, message: string, body: Readonly<Record<string, unknown>> = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.body = body;
  }
}

/** Headers every response carries: no framing, no sniffing, no referrer, only our own scripts. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  // uPlot sizes its elements through the style attribute, hence 'unsafe-inline' for styles only
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
});

function head(res: ServerResponse, status: number, headers: Record<string, string | number>): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers });
}

/** Sends `body` as JSON (no caching: the log may change under us). */
export function sendJson(req: IncomingMessage, res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  head(res, status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store" });
  res.end(req.method === "HEAD" ? undefined : text);
}

/** Sends a short plain-text response (errors, 401, 404). */
export function sendText(req: IncomingMessage, res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  const body = text.endsWith("\n") ? text : `${text}\n`;
  head(res, status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store", ...extra });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** Writes the status line and headers of a successful response. */
export function sendHead(res: ServerResponse, status: number, headers: Record<string, string | number>): void {
  head(res, status, headers);
}
