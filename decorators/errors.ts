import { z } from "zod";
import type { ErrorSeverity } from "../src/types.js";
import { abortInCause, clientLeftOf, isAbortError } from "../src/abort.js";
import { errorTypeOf, httpStatusOf, isError, readMember } from "../src/instrument.js";
import { newId } from "../src/record/id.js";
import { recordingOf, remember, type Recording } from "../src/errors-seen.js";
import { argsForRecord, assertCalledAsFactory, auditMethodDecorator, decoratorOptionsShape, errorMessageOf, parseDecoratorInput, type AuditDecoratorOptions, type AuditMethodDecorator, type FinishedCall } from "./wrap.js";

/**
 * Options of {@link AuditErrors}. With `captureArgs: true` (or a function) the arguments go into
 * the error record's `context.arguments`.
 *
 * @example
 * @AuditErrors({ severity: "critical" })
 */
export interface AuditErrorsOptions extends Omit<AuditDecoratorOptions, "captureResult"> {
  /**
   * default "error", and "warning" for an error carrying a 4xx status (a NestJS
   * `NotFoundException`: the client's mistake, as `auditErrorHandler` records it)
   */
  severity?: ErrorSeverity | undefined;
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
 * passing through several nested `@AuditErrors` methods is recorded once per logger, by the innermost; one
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
      // (to this logger: an error a library's method recorded to its own logger goes to this one's
      // trail too, once)
      if (recordedInside(recordingOf(error, logger, call.outer?.traceId), call)) return;
      // An abort the client's leaving caused (the request's AbortSignal fired when its client
      // disconnected, and the method stopped with the AbortError, an SDK's APIUserAbortError) is
      // the request's abort, which the Express middleware records (http_request_aborted, a
      // warning): it was recorded again here, as an `error` (found by the Express pass,
      // 2026-12-05). Not recorded to that logger, as auditErrorHandler does not; to another (a
      // library's trail, which has no record of the abort) as what it is, a warning.
      const leftTo = isAbortError(error) ? clientLeftOf(call.outer) : undefined;
      if (leftTo !== undefined && leftTo === logger) return;
      // An abort the method wrapped (`new Error("upstream failed", { cause: abortError })`) after
      // the client left: recorded, to every logger, as the app's words, but as a warning saying
      // the client left and where the abort is (it was an `error`; found by review, 2026-12-05).
      // Not skipped as a bare abort is: a wrapper may be a failure of the app's own (see abortInCause).
      const abortAt = leftTo === undefined && !isAbortError(error) ? abortInCause(error) : undefined;
      const wrappedAbort = abortAt !== undefined && clientLeftOf(call.outer) !== undefined ? abortAt : undefined;
      const context: Record<string, unknown> = { method: call.qualifiedName };
      if (leftTo !== undefined || wrappedAbort !== undefined) context.clientLeft = true;
      if (wrappedAbort !== undefined) context.abortAt = wrappedAbort;
      // (every read guarded: an error that cannot be read is still recorded, see readMember)
      const isErr = isError(error);
      // (a thrown object that is no Error, an RPC error payload, has its `code` kept too when it
      // is a string or number, as auditErrorHandler keeps it)
      const rawCode = readMember(error, "code");
      const code = isErr || typeof rawCode === "string" || typeof rawCode === "number" ? rawCode : undefined;
      const stack = isErr ? readMember(error, "stack") : undefined;
      if (code !== undefined) context.code = code;
      // (the status a NestJS HttpException or an SDK's APIError carries, as auditErrorHandler records it)
      const status = httpStatusOf(error);
      if (status !== undefined) context.status = status;
      if (o.captureArgs !== undefined && o.captureArgs !== false) {
        // a `captureArgs` that throws costs the record its arguments, never the error itself
        try {
          context.arguments = typeof o.captureArgs === "function" ? o.captureArgs(call.args) : argsForRecord(call.args);
        } catch (failure) {
          context.argumentsError = `captureArgs threw: ${errorMessageOf(failure)}`;
        }
      }
      // (noted once recorded: an outer method sees the error unrecorded when this record failed)
      const by = { startedAt: call.startedAt, traceId: call.outer?.traceId, logger };
      // a call outside any trace starts one, named by its own record id (as the other decorators'
      // calls do; inside a trace the logger takes the context's)
      // Stacked above a decorator that records the call (`@AuditTool` written below this one), the
      // record is that call's child, as it is when this one is written below it: it was the
      // caller's, beside the failed call, by the order the decorators were written in (found by
      // the decorators fresh-eyes pass, 2026-12-05)
      const below = call.linkedBelow;
      const own = below === undefined && call.outer?.traceId === undefined ? newId() : undefined;
      logger.logError({
        ...(own !== undefined ? { id: own, traceId: own } : {}),
        ...(below !== undefined ? { parentId: below.id, ...(below.traceId !== undefined ? { traceId: below.traceId } : {}) } : {}),
        errorType: isErr ? errorTypeOf(error) : `thrown ${error === null ? "null" : typeof error}`,
        message: errorMessageOf(error),
        ...(typeof stack === "string" ? { stackTrace: stack } : {}),
        severity: o.severity ?? ((status !== undefined && status < 500) || leftTo !== undefined || wrappedAbort !== undefined ? "warning" : "error"),
        context,
      });
      remember(error, by);
    },
  });
}
