/**
 * @internal Which thrown values were recorded, and by whom: @AuditErrors records an error once
 * however many nested decorated methods it passes through, and the Express error handler does
 * not record again one a decorated method of the request recorded. Shared by every copy of the
 * package in the process, as the context is.
 */

/**
 * Who recorded an error object last: when that call started, and the trace it was made in. An
 * error passing through nested @AuditErrors methods (the inner one rethrows it, the outer one
 * sees it again) is recorded once, by the innermost; the same error object rejecting another,
 * independent call (a cached failed promise, a shared error constant) is recorded again.
 */
export interface Recording {
  readonly startedAt: number;
  readonly traceId: string | undefined;
  /** the logger the record went to (an error recorded to a library's logger is not in the app's) */
  readonly logger?: object;
}
/**
 * Which errors were recorded, shared by every copy of the package in the process (a library built
 * against its own copy, the app against another), as the context is: an error passing through
 * @AuditErrors methods of both was recorded by each (found by review, 2026-12-04).
 */
interface ErrorsSeen {
  /** per error, one recording per logger and trace (the app's and a library's trails each get the error once) */
  readonly recorded: WeakMap<object, Recording[]>;
  /**
   * The same for the last thrown value that is not an object (a string, a number, null): it cannot
   * key a WeakMap, and one slot serves the usual case, one value rethrown up a chain of calls. Such
   * values are not unique (two calls failing with "timeout" are two failures), so the slot lasts
   * only until the event loop turns: a rethrow travels up its chain of calls within the same turn
   * (synchronously, or through the promise reactions that run before the loop moves on), while an
   * independent failure with the same value comes from another event. (Two independent failures
   * with one value in the same turn, in one trace, nested in time, are taken for one.)
   */
  lastPrimitive: { readonly value: unknown; readonly by: Recording[] } | undefined;
  clearing: boolean;
}
/** the most recordings kept per error (see remember) */
const MAX_RECORDINGS = 64;
const kErrorsSeen = Symbol.for("audit-logger.errors-seen.v2");
const seen = ((globalThis as { [kErrorsSeen]?: ErrorsSeen })[kErrorsSeen] ??= { recorded: new WeakMap(), lastPrimitive: undefined, clearing: false });
const recorded = seen.recorded;

/**
 * Who last recorded `error` to `logger` in the trace `traceId` (a recording that names no logger
 * counts for any): the recording made in that trace, else one made outside any trace. Outside any
 * trace (`traceId` undefined): the latest recording to that logger, in any trace.
 */
export function recordingOf(error: unknown, logger: object, traceId: string | undefined): Recording | undefined {
  let list: Recording[] | undefined;
  if ((typeof error === "object" && error !== null) || typeof error === "function") list = recorded.get(error);
  else {
    const last = seen.lastPrimitive;
    list = last !== undefined && Object.is(last.value, error) ? last.by : undefined;
  }
  if (list === undefined) return undefined;
  let mine = list.filter((r) => r.logger === logger);
  if (mine.length === 0) mine = list.filter((r) => r.logger === undefined);
  if (traceId !== undefined) return mine.find((r) => r.traceId === traceId) ?? mine.find((r) => r.traceId === undefined);
  return mine.reduce<Recording | undefined>((a, r) => (a === undefined || r.startedAt >= a.startedAt ? r : a), undefined);
}

/**
 * Notes that `by` recorded `error`, replacing what was noted for the same logger and trace: one
 * recording per (logger, trace), so that calls of two traces failing with one error object at
 * once (a cached rejection) each find their own (a second trace's replaced the first's, whose
 * outer methods then recorded the error again; found by review, 2026-12-04).
 */
export function remember(error: unknown, by: Recording): void {
  // (the newest MAX_RECORDINGS: an error constant failing request after request must not grow a
  // list for its life; an older trace's recording dropped only risks that trace a second record)
  const withBy = (list: Recording[] | undefined): Recording[] => [...(list ?? []).filter((r) => r.logger !== by.logger || r.traceId !== by.traceId), by].slice(-MAX_RECORDINGS);
  if ((typeof error === "object" && error !== null) || typeof error === "function") recorded.set(error, withBy(recorded.get(error)));
  else {
    const last = seen.lastPrimitive;
    seen.lastPrimitive = { value: error, by: withBy(last !== undefined && Object.is(last.value, error) ? last.by : undefined) };
    if (!seen.clearing) {
      seen.clearing = true;
      setImmediate(() => {
        seen.lastPrimitive = undefined;
        seen.clearing = false;
      }).unref();
    }
  }
}
