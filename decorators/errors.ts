import { z } from "zod";
import type { ErrorSeverity } from "../src/types.js";
import { errorTypeOf, isError, readMember } from "../src/instrument.js";
import { newId } from "../src/record/id.js";
import { assertCalledAsFactory, auditMethodDecorator, decoratorOptionsShape, errorMessageOf, parseDecoratorInput, type AuditDecoratorOptions, type AuditMethodDecorator, type FinishedCall } from "./wrap.js";

/**
 * Options of {@link AuditErrors}. With `captureArgs: true` (or a function) the arguments go into
 * the error record's `context.arguments`.
 *
 * @example
 * @AuditErrors({ severity: "critical" })
 */
export interface AuditErrorsOptions extends Omit<AuditDecoratorOptions, "captureResult"> {
  /** default "error" */
  severity?: ErrorSeverity;
}

const schema = z.object({
  options: z
    .strictObject(
      {
        logger: decoratorOptionsShape.logger,
        name: decoratorOptionsShape.name,
        captureArgs: decoratorOptionsShape.captureArgs,
        severity: z.enum(["debug", "info", "warning", "error", "critical"], { error: "must be one of debug, info, warning, error, critical" }).optional(),
      },
      { error: "must be an options object" },
    )
    .optional(),
});

/**
 * Who recorded an error object last: when that call started, and the trace it was made in. An
 * error passing through nested @AuditErrors methods (the inner one rethrows it, the outer one
 * sees it again) is recorded once, by the innermost; the same error object rejecting another,
 * independent call (a cached failed promise, a shared error constant) is recorded again.
 */
interface Recording {
  readonly startedAt: number;
  readonly traceId: string | undefined;
}
/**
 * Which errors were recorded, shared by every copy of the package in the process (a library built
 * against its own copy, the app against another), as the context is: an error passing through
 * @AuditErrors methods of both was recorded by each (found by review, 2026-12-04).
 */
interface ErrorsSeen {
  readonly recorded: WeakMap<object, Recording>;
  /**
   * The same for the last thrown value that is not an object (a string, a number, null): it cannot
   * key a WeakMap, and one slot serves the usual case, one value rethrown up a chain of calls. Such
   * values are not unique (two calls failing with "timeout" are two failures), so the slot lasts
   * only until the event loop turns: a rethrow travels up its chain of calls within the same turn
   * (synchronously, or through the promise reactions that run before the loop moves on), while an
   * independent failure with the same value comes from another event. (Two independent failures
   * with one value in the same turn, in one trace, nested in time, are taken for one.)
   */
  lastPrimitive: { readonly value: unknown; readonly by: Recording } | undefined;
  clearing: boolean;
}
const kErrorsSeen = Symbol.for("audit-logger.errors-seen.v1");
const seen = ((globalThis as { [kErrorsSeen]?: ErrorsSeen })[kErrorsSeen] ??= { recorded: new WeakMap(), lastPrimitive: undefined, clearing: false });
const recorded = seen.recorded;

function recordingOf(error: unknown): Recording | undefined {
  if ((typeof error === "object" && error !== null) || typeof error === "function") return recorded.get(error);
  const last = seen.lastPrimitive;
  return last !== undefined && Object.is(last.value, error) ? last.by : undefined;
}

function remember(error: unknown, by: Recording): void {
  if ((typeof error === "object" && error !== null) || typeof error === "function") recorded.set(error, by);
  else {
    seen.lastPrimitive = { value: error, by };
    if (!seen.clearing) {
      seen.clearing = true;
      setImmediate(() => {
        seen.lastPrimitive = undefined;
        seen.clearing = false;
      }).unref();
    }
  }
}

/**
 * Whether `last` (who recorded `error` before) is a call made inside `call`: it started during
 * `call` (which is finishing now), in the same trace (or either outside any). Two calls of one
 * trace running at once, both rejected by one error object, look nested when the one that
 * started later finishes first: the earlier one is then not recorded.
 */
function recordedInside(last: Recording | undefined, call: FinishedCall): boolean {
  if (last === undefined || last.startedAt < call.startedAt) return false;
  const traceId = call.outer?.traceId;
  return last.traceId === traceId || last.traceId === undefined || traceId === undefined;
}

/**
 * Records anything the method throws (or its promise rejects with, or its generator throws) as
 * an error record, then rethrows it unchanged. Calls that succeed record nothing. An error
 * passing through several nested `@AuditErrors` methods is recorded once, by the innermost; one
 * error object that fails several independent calls (a cached rejection) is recorded by each.
 *
 * @example
 * class Payments {
 *   @AuditErrors({ severity: "critical" })
 *   async charge(order: Order) { return this.gateway.charge(order) }
 * }
 */
export function AuditErrors(options: AuditErrorsOptions = {}): AuditMethodDecorator {
  assertCalledAsFactory("@AuditErrors", arguments.length);
  const o = (parseDecoratorInput("@AuditErrors", schema, { options }).options ?? {}) as AuditErrorsOptions;
  return auditMethodDecorator({
    decorator: "@AuditErrors",
    options: o,
    readsArgs: o.captureArgs !== undefined && o.captureArgs !== false,
    // no record exists for a call that succeeds, so nested records cannot point at one
    linkChildren: false,
    // (nor for a generator dropped unfinished: it is not tracked for the garbage collector)
    errorsOnly: true,
    record(logger, call) {
      const { outcome } = call;
      if (outcome.status !== "error") return;
      const error = outcome.error;
      if (recordedInside(recordingOf(error), call)) return;
      const context: Record<string, unknown> = { method: call.qualifiedName };
      // (every read guarded: an error that cannot be read is still recorded, see readMember)
      const isErr = isError(error);
      const code = isErr ? readMember(error, "code") : undefined;
      const stack = isErr ? readMember(error, "stack") : undefined;
      if (code !== undefined) context.code = code;
      if (o.captureArgs !== undefined && o.captureArgs !== false) {
        // a `captureArgs` that throws costs the record its arguments, never the error itself
        try {
          context.arguments = typeof o.captureArgs === "function" ? o.captureArgs(call.args) : call.args;
        } catch (failure) {
          context.argumentsError = `captureArgs threw: ${errorMessageOf(failure)}`;
        }
      }
      // (noted once recorded: an outer method sees the error unrecorded when this record failed)
      const by = { startedAt: call.startedAt, traceId: call.outer?.traceId };
      // a call outside any trace starts one, named by its own record id (as the other decorators'
      // calls do; inside a trace the logger takes the context's)
      const own = call.outer?.traceId === undefined ? newId() : undefined;
      logger.logError({
        ...(own !== undefined ? { id: own, traceId: own } : {}),
        errorType: isErr ? errorTypeOf(error) : `thrown ${error === null ? "null" : typeof error}`,
        message: errorMessageOf(error),
        ...(typeof stack === "string" ? { stackTrace: stack } : {}),
        severity: o.severity ?? "error",
        context,
      });
      remember(error, by);
    },
  });
}
