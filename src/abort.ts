/**
 * @internal Aborts, as the kit's parts tell them apart: what error says an operation was aborted,
 * and whether the client of the request a context belongs to has left. The Express middleware
 * puts {@link kClientLeft} on each request's context; @AuditErrors (decorators/) and the Express
 * error handler read it, so that an AbortError the client's leaving caused is the request's abort
 * (recorded once, by the middleware: `http_request_aborted`) and not a second, `error`, record.
 */
import type { AuditContextValue } from "./types.js";
import { errorTypeOf } from "./error-type.js";
import { readMember } from "./instrument.js";

/**
 * An error that says an operation was aborted: `AbortError` (Node's, a DOMException's, fetch's),
 * the OpenAI and Anthropic SDKs' `APIUserAbortError`, Node's `ABORT_ERR`, or a stream or socket
 * cut short (`ERR_STREAM_PREMATURE_CLOSE`, `ERR_STREAM_DESTROYED`, `ECONNRESET`, `EPIPE`).
 * Members read guarded: any thrown value may be asked. The SDKs' APIUserAbortError is named
 * "Error" (only its class says what it is): it was taken for no abort, by auditErrorHandler too,
 * so an OpenAI call the client's leaving stopped was recorded as a failure (found by the
 * decorators pass, 2026-12-05, with the real `openai` client).
 */
export function isAbortError(err: unknown): boolean {
  const name = readMember(err, "name");
  const code = readMember(err, "code");
  return (
    name === "AbortError" ||
    name === "APIUserAbortError" ||
    (typeof err === "object" && err !== null && errorTypeOf(err) === "APIUserAbortError") ||
    code === "ABORT_ERR" ||
    code === "ERR_STREAM_PREMATURE_CLOSE" ||
    code === "ERR_STREAM_DESTROYED" ||
    code === "ECONNRESET" ||
    code === "EPIPE"
  );
}

/** How many `cause` links {@link abortInCause} follows: past it, an abort is taken for none. */
export const ABORT_CAUSE_DEPTH = 4;

/**
 * Where an abort error is in the `cause` chain of an error that is no abort itself (the app
 * wrapped one: `new Error("upstream failed", { cause: abortError })`), as the path to it
 * (`"cause"`, `"cause.cause"`), up to {@link ABORT_CAUSE_DEPTH} links; else undefined. Every
 * read guarded (a cause getter that throws is no cause), a cycle stops at the bound.
 *
 * Such an error after the client left is recorded (found by review, 2026-12-05: it was an
 * `error` record, a 500, beside the request's abort warning), but as a warning naming the
 * client's leaving, not skipped as a bare abort is: the wrapper is the app's own words, and
 * an app that wraps an abort may mean a failure of its own that nothing else records (a
 * rollback that failed as the abort stopped it). See docs/INTEGRATIONS.md.
 */
export function abortInCause(err: unknown): string | undefined {
  let current = err;
  let path = "";
  for (let depth = 0; depth < ABORT_CAUSE_DEPTH; depth++) {
    const cause = readMember(current, "cause");
    if (cause === undefined || cause === null || cause === current) return undefined;
    path = path === "" ? "cause" : `${path}.cause`;
    if (isAbortError(cause)) return path;
    current = cause;
  }
  return undefined;
}

/**
 * @internal A context member, inherited like every other (contexts made inside the request, a
 * decorated method's, have it): whether the client of the context's request has left (closed
 * its connection before the response finished), answered with the logger that records that
 * abort, else undefined (the client is there, the server closed the connection, or no request).
 * It holds no request once its request has ended (see integrations/express.ts, leftFor).
 */
export const kClientLeft = Symbol.for("audit-logger.context.client-left.v1");
export type ClientLeftLookup = () => object | undefined;

/**
 * The logger recording the abort of the request `context` belongs to, when its client has left;
 * undefined otherwise (no request, or its client still there). A lookup that throws is no answer.
 */
export function clientLeftOf(context: AuditContextValue | undefined): object | undefined {
  const lookup = context === undefined ? undefined : (context as { [kClientLeft]?: ClientLeftLookup })[kClientLeft];
  if (typeof lookup !== "function") return undefined;
  try {
    return lookup();
  } catch {
    return undefined;
  }
}
