/**
 * Shared plumbing for decorators and integrations: finding the logger at call time and
 * recording without ever throwing into the host application.
 */
// (the module's object: the global `performance` is a getter, one more call per reading)
import { performance } from "node:perf_hooks";
import { types } from "node:util";
export { errorTypeOf } from "./error-type.js";
import { currentContext, getDefaultAuditLogger, isLoggerLike, runInAuditContext, sharedFlags, snapshotContext } from "./context.js";
import { JsonText } from "./record/json-text.js";
import { kCaptureFlags, kSameCopy } from "./record/schemas.js";
import { AuditLogger, redactedForReport, withRecordTime } from "./logger.js";
import type { AuditContextValue, InputBuilder } from "./types.js";

function isLogger(v: unknown): v is AuditLogger {
  return v instanceof AuditLogger || isLoggerLike(v);
}

/**
 * The logger for an instrumented call, looked up at call time: the instrumentation's own
 * `logger` option, then the active context's, then the default logger, then `fallback`. With none, undefined and
 * one process warning (code AUDIT_WARN_NO_LOGGER) for the whole process.
 */
export function resolveAuditLogger(option?: AuditLogger | undefined, fallback?: AuditLogger | undefined): AuditLogger | undefined {
  // A logger the call names (its option, or its context's) is used also once finalized: the
  // record then fails and that is reported (the logger's `error` event, else a warning), rather
  // than the record landing in another logger's trail (another tenant's, say) without a word
  // (found by review, 2026-12-03).
  if (option !== undefined && option !== null) {
    if (isLogger(option)) return option;
    warnBadLogger(option);
  }
  const fromCtx = currentContext()?.logger;
  if (isLogger(fromCtx)) return fromCtx;
  const def = getDefaultAuditLogger();
  if (def && !def.isClosed) return def;
  // (`fallback`: the logger an outer copy of an instrumentation handed down to an inner one that
  // has none, see integrations/ai-sdk.ts kOuterLogger; found by review, 2026-12-04)
  if (fallback !== undefined && isLogger(fallback)) return fallback;
  const flags = sharedFlags();
  if (!flags.warnedNoLogger) {
    flags.warnedNoLogger = true;
    process.emitWarning(
      "An audited call ran with no AuditLogger: pass { logger }, run inside auditContext.run({ logger }), or call setDefaultAuditLogger(). Calls run unrecorded.",
      { code: "AUDIT_WARN_NO_LOGGER", type: "AuditLoggerWarning" },
    );
  }
  return undefined;
}

let warnedBadLogger = false;

/**
 * The one process warning (`AUDIT_WARN_BAD_LOGGER`) for a `logger` option that gives no logger:
 * `what` says what it gave. The call then looks up the context's or the default logger.
 */
function warnBadLoggerOnce(what: string): void {
  if (warnedBadLogger) return;
  warnedBadLogger = true;
  process.emitWarning(`An audited call's logger option ${what}: it is looked up in the context or the default logger instead.`, {
    code: "AUDIT_WARN_BAD_LOGGER",
    type: "AuditLoggerWarning",
  });
}

/** A `logger` option (or a logger function's result) that is not a logger. */
function warnBadLogger(value: unknown): void {
  const name = typeof value === "object" ? (value as object).constructor?.name : undefined;
  const what = typeof value !== "object" ? `a ${typeof value}` : Object.getPrototypeOf(value) === Object.prototype ? "a plain object" : name ? `a ${name}` : "an object";
  warnBadLoggerOnce(`gave ${what}, not an AuditLogger`);
}

/** @internal A `(self) => logger` option that threw (never the caller's exception, never silent). */
export function warnLoggerOptionThrew(err: unknown): void {
  warnBadLoggerOnce(`function threw (${messageOf(isError(err) ? err : new Error(textOf(err)))})`);
}

/**
 * Runs a recording step; if it throws (bad input from the app, a closed logger, a bug of ours),
 * the failure becomes an `error` event on the logger (or a process warning when nobody listens),
 * never the caller's exception. Returns the step's result, or undefined when it failed.
 */
export function safeRecord<T>(logger: AuditLogger, step: () => T): T | undefined {
  try {
    return step();
  } catch (err) {
    reportRecordFailure(logger, err);
    return undefined;
  }
}

/**
 * What {@link safeRecord} does with a failed step, for callers that run the step themselves (a
 * method called in place costs less than a closure made for each call: a new closure's first call
 * goes through V8's lazy-compile builtin). `what`: the warning's account of it, when the record
 * was made without a part of it rather than lost.
 */
export function reportRecordFailure(logger: AuditLogger, err: unknown, what = "could not record a call"): void {
  // (a value the app threw may be a revoked Proxy, on which even `instanceof` throws)
  const e = isError(err) ? err : new Error(textOf(err));
  try {
    if (typeof logger.listenerCount === "function" && logger.listenerCount("error") > 0) logger.emit("error", e);
    // (the event hands the app its own error; the warning is printed, redacted as records are)
    else process.emitWarning(redactedForReport(logger, `audit-logger ${what}: ${messageOf(e)}`), { code: "AUDIT_WARN_RECORD_FAILED", type: "AuditLoggerWarning" });
  } catch {
    // an error listener threw: still never the caller's problem
  }
}

/**
 * `o[key]`, or undefined when `o` is not an object or reading it throws (a revoked Proxy, a
 * throwing getter): for the fields the kit reads of values the app throws.
 */
export function readMember(o: unknown, key: string): unknown {
  if ((typeof o !== "object" && typeof o !== "function") || o === null) return undefined;
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** `v instanceof C`, false where asking throws (a revoked Proxy: even `instanceof` throws on one). */
export function isInstance<T>(v: unknown, C: abstract new (...args: never[]) => T): v is T {
  try {
    return v instanceof C;
  } catch {
    return false;
  }
}

/** This realm's own Promise.prototype, whatever the global `Promise` is later made (bluebird as `global.Promise`). */
const NATIVE_PROMISE_PROTOTYPE = Object.getPrototypeOf((async () => {})()) as object;

/**
 * A promise of the built-in class itself, not a subclass (an SDK's `APIPromise`) nor another
 * library's: its prototype is this realm's Promise.prototype, or another realm's (a vm
 * context's, Jest's environment's), whose `then` is as safe to call. Not `p.constructor ===
 * Promise`: with the global `Promise` replaced, no native promise passed that (found by review,
 * 2026-12-04). False where asking throws (a revoked Proxy).
 */
export function isNativePromise(p: Promise<unknown>): boolean {
  try {
    const proto = Object.getPrototypeOf(p) as object | null;
    if (proto === NATIVE_PROMISE_PROTOTYPE) return true;
    // another realm's Promise.prototype: a native promise, whose prototype's own prototype is
    // that realm's Object.prototype (a subclass's prototype has a Promise.prototype there)
    if (proto === null || !types.isPromise(p)) return false;
    const parent = Object.getPrototypeOf(proto) as object | null;
    return parent !== null && Object.getPrototypeOf(parent) === null;
  } catch {
    return false;
  }
}

/** The promise protocol's own members: the chained promise keeps its own. */
const PROMISE_MEMBERS = new Set<PropertyKey>(["then", "catch", "finally", "constructor"]);

/**
 * Gives `chained` (a promise chained on `original` to observe it) the members the code that made
 * `original` added to it, so the caller still finds them: ky's `fetch(url).json()`, say, whose
 * promise is a native one with methods set on it. Only when `original` has an enumerable own
 * member (a for-in: ~7 ns, no allocation, while Promise.prototype has no enumerable member);
 * then every own member, symbols and non-enumerable ones too, as it is (methods that close over `original`, or call `this.then`,
 * work on either), except `then`, `catch`, `finally` and `constructor`.
 *
 * Such members reach the original promise, not the chained one: a caller that handles a failure
 * through them (`try { await api(url).json() } catch {}`) never handles the chained promise,
 * whose rejection would then crash the process as unhandled (found by review, 2026-12-03). So
 * once members are copied, the chained promise's rejection is marked handled: an app that
 * ignores the call's failure altogether then gets no `unhandledRejection` for it.
 * Never throws (a member that cannot be copied is left out).
 */
export function keepAddedMembers(original: object, chained: Promise<unknown>): void {
  let added = false;
  try {
    // (own members only: an enumerable one an app put on Promise.prototype is every promise's,
    // and must not mark every chained promise handled; found by review)
    for (const key in original) {
      if (Object.hasOwn(original, key)) {
        added = true;
        break;
      }
    }
  } catch {
    return; // a revoked Proxy: nothing to copy, and nothing of ours to throw
  }
  if (!added) return;
  try {
    for (const key of Reflect.ownKeys(original)) {
      if (PROMISE_MEMBERS.has(key)) continue;
      try {
        const d = Reflect.getOwnPropertyDescriptor(original, key);
        if (d) Reflect.defineProperty(chained, key, d);
      } catch {
        // (one that cannot be read or defined: left out)
      }
    }
  } catch {
    // a Proxy whose ownKeys trap throws: nothing more to copy
  }
  chained.catch(ignoreRejection);
}

function ignoreRejection(): void {}

/** `v instanceof Error`, false where asking throws (see {@link isInstance}). */
export function isError(v: unknown): v is Error {
  // (an Error of another realm, a vm context's, is no instance of this one's: types.isNativeError
  // knows it by its internal slot, and answers false for a Proxy without calling a trap)
  return isInstance(v, Error) || types.isNativeError(v);
}

/** The text recorded for an error none of whose fields can be read (a revoked Proxy, throwing getters). */
export const UNREADABLE_ERROR = "(an error whose fields could not be read)";

/** An Error's message, or {@link UNREADABLE_ERROR} when reading it throws. */
function messageOf(e: Error): string {
  try {
    return textOf(e.message);
  } catch {
    return UNREADABLE_ERROR;
  }
}

/**
 * `String(v)` that never throws: a value with no way to text (a null-prototype object, a
 * `toString` that throws) gives its `Object.prototype.toString` tag, `[object Object]`. For the
 * messages the kit makes of values the app throws: `String()` would throw a TypeError of its own
 * there, into the app's call.
 */
export function textOf(v: unknown): string {
  try {
    return String(v);
  } catch {
    try {
      return Object.prototype.toString.call(v);
    } catch {
      return UNREADABLE_ERROR; // (a revoked Proxy: the values textOf is given are things thrown)
    }
  }
}

/** Seconds since `start` (a `performance.now()` reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

/** What a secret is replaced by in recorded text (header values, credentials). */
export const REDACTED_TEXT = "[REDACTED]";

/** undici's message for a header value fetch refuses quotes the value: a credential with a stray NUL or newline, say */
const REFUSED_HEADER_VALUE = /(Headers\.(?:append|set): )"[\s\S]*"( is an invalid header value)/g;

/**
 * What a template string makes of a missing value (`${process.env.KEY}`, `Bearer ${token}` with
 * none): no credential, and hiding "undefined" would cut the word out of every error message
 * ("Cannot read properties of [REDACTED]"; found by review, 2026-12-06).
 */
const NO_SECRET = /^\s*(?:undefined|null|NaN|\[object Object\])\s*$/;

/**
 * An error's text with the credentials a client holds (`credentials`: its API key, its auth
 * token, its credential headers' values: see credentialHeaderValues; values of `minLength` characters or more, 8 by default, longest first: a shorter secret
 * inside a longer one would leave the rest of it) and any header value fetch quoted when refusing
 * it replaced by "[REDACTED]". An SDK builds its request headers from its key: a key
 * read with a trailing NUL or a newline in it (from a file) made fetch throw a TypeError quoting
 * "Bearer <the key>", which the record kept (found by review, 2026-12-04).
 */
export function hideCredentials(text: string, credentials: readonly unknown[], minLength = 8): string {
  let out = text.replace(REFUSED_HEADER_VALUE, `$1"${REDACTED_TEXT}"$2`);
  const secrets = credentials.filter((c): c is string => typeof c === "string" && c.length >= Math.max(minLength, 1) && !NO_SECRET.test(c)).sort((x, y) => y.length - x.length);
  for (const secret of secrets) out = out.split(secret).join(REDACTED_TEXT);
  return out;
}

/**
 * Like `safeRecord`, but the step runs after the current callbacks (the caller gets its result
 * first); `flush()`, `finalizeSession()` and the exit hooks run it if it is still pending.
 */
export function deferRecord(logger: AuditLogger, step: () => unknown): void {
  const run = () => void safeRecord(logger, step);
  if (typeof logger.deferRecord === "function") logger.deferRecord(run);
  else run();
}

/**
 * Has `logger` wait for a record that `settled` makes (see AuditLogger.awaitRecord: flush() and
 * finalizeSession() wait for it, the exit hooks call `now()`). A logger of another copy of the
 * package without it: `settled` makes the record alone.
 */
export function awaitRecord(logger: AuditLogger, settled: Promise<unknown>, now: () => void): void {
  if (typeof logger.awaitRecord === "function") logger.awaitRecord(settled, now);
}

/**
 * Records a log call whose input `builder` makes from `data`, in `context` (the call's audit
 * context), deferred like {@link deferRecord}. With `thread: true` the data goes to the worker
 * thread, which makes the input (and the record) there; otherwise, or until the worker has loaded
 * the builder's module, the input is made here when the deferred step runs. Failures are
 * reported as by {@link safeRecord}.
 */
export function recordFrom<D>(logger: AuditLogger, builder: InputBuilder<D>, data: D, context: AuditContextValue | undefined, userAtCall?: string): void {
  // The context as it is now (the call's end): the record is made later, and the app may set
  // another user on the same context object by then (auditContext.setUser after the call); its
  // user asked now, when the context can still learn it (see kUserLookup). But the user the call
  // was made by, when it had one: a setUser while the call ran (a switch, a logout) gave the
  // record the next user (found by review, 2026-12-04), where a direct log call, or a decorated
  // one, keeps the user at the call.
  const snapshot = context === undefined ? undefined : snapshotContext(context);
  if (snapshot !== undefined && userAtCall !== undefined) (snapshot as { userId?: string }).userId = userAtCall;
  const sameCopy = (logger as { [kSameCopy]?: true })[kSameCopy] === true;
  try {
    // (a logger of another copy of the package may not have queueForWorker, and its worker would
    // make inputs of this copy's builders, which it may refuse: see forLogger)
    if (sameCopy && typeof logger.queueForWorker === "function" && logger.queueForWorker(builder, data, snapshot)) return;
  } catch {
    // not queued: the input is made here, below, and a failure to record it is reported there
  }
  // and the time, which the record carries (as with `thread: true`), not the batch's
  const build: Build = [logger, builder as InputBuilder<unknown>, data, snapshot, Date.now()];
  // (a logger of another copy of the package may not have deferCall)
  if (typeof logger.deferCall === "function") logger.deferCall(runBuild, build);
  else deferRecord(logger, () => buildAndLog(build));
}

/** One deferred record of {@link recordFrom}: a tuple, so that deferring it makes no closure per call. */
type Build = readonly [logger: AuditLogger, builder: InputBuilder<unknown>, data: unknown, context: AuditContextValue | undefined, time: number];

/** Makes the input and logs it, in the call's context, at the call's time. */
function buildAndLog(b: Build): unknown {
  const logger = b[0];
  return runInAuditContext(b[3], () => withRecordTime(b[4], () => logger[b[1].method](forLogger(logger, b[1].build(b[2])))));
}

/**
 * @internal The input as a logger of another copy of the package takes it: a prompt cut from the
 * request's JSON (a JsonText, a class of this copy's) as the messages it holds, and, for an older
 * copy (see kCaptureFlags), without the flags it refuses. A logger of this copy takes it as it is.
 * (Found by review, 2026-12-03: such records were refused, and lost.)
 */
export function forLogger<I extends object>(logger: AuditLogger, input: I): I {
  if ((logger as { [kSameCopy]?: true })[kSameCopy] === true) return input;
  let out = input as I & { prompt?: unknown; promptCaptured?: boolean; responseCaptured?: boolean };
  if (out.prompt instanceof JsonText) {
    let prompt: unknown;
    try {
      prompt = JSON.parse(out.prompt.text);
    } catch {
      prompt = out.prompt.text; // (not JSON after all: kept as the text it is)
    }
    out = { ...out, prompt };
  }
  if ((logger as { [kCaptureFlags]?: true })[kCaptureFlags] !== true && ("promptCaptured" in out || "responseCaptured" in out)) {
    const { promptCaptured: _p, responseCaptured: _r, ...rest } = out;
    // (the marker that the id is fresh is a symbol member: kept by the spread)
    out = rest as typeof out;
  }
  return out;
}

/** {@link buildAndLog}, its failures reported as by {@link safeRecord} (what `deferRecord` adds to a step). */
function runBuild(b: Build): void {
  safeRecord(b[0], () => buildAndLog(b));
}

/**
 * The HTTP status an error carries: its `status`, else its `statusCode`, when an integer from
 * 400 to 599 (a NestJS `HttpException`, an SDK's `APIError`, http-errors' errors): how
 * `auditErrorHandler` and the decorators read a thrown error's status. Never throws.
 */
export function httpStatusOf(error: unknown): number | undefined {
  for (const key of ["status", "statusCode"]) {
    const v = readMember(error, key);
    if (typeof v === "number" && Number.isInteger(v) && v >= 400 && v < 600) return v;
  }
  return undefined;
}
