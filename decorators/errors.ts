import { z } from "zod";
import type { ErrorSeverity } from "../src/types.js";
import { auditMethodDecorator, decoratorOptionsShape, errorMessageOf, parseDecoratorInput, type AuditDecoratorOptions, type AuditMethodDecorator } from "./wrap.js";

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

// One error object is recorded once, however many @AuditErrors methods it passes through.
const recorded = new WeakSet<object>();

/**
 * Records anything the method throws (or its promise rejects with, or its generator throws) as
 * an error record, then rethrows it unchanged. Calls that succeed record nothing. An error
 * passing through several `@AuditErrors` methods is recorded once, by the innermost.
 *
 * @example
 * class Payments {
 *   @AuditErrors({ severity: "critical" })
 *   async charge(order: Order) { return this.gateway.charge(order) }
 * }
 */
export function AuditErrors(options: AuditErrorsOptions = {}): AuditMethodDecorator {
  const o = (parseDecoratorInput("@AuditErrors", schema, { options }).options ?? {}) as AuditErrorsOptions;
  return auditMethodDecorator({
    decorator: "@AuditErrors",
    options: o,
    readsArgs: o.captureArgs !== undefined && o.captureArgs !== false,
    // no record exists for a call that succeeds, so nested records cannot point at one
    linkChildren: false,
    record(logger, call) {
      const { outcome } = call;
      if (outcome.status !== "error") return;
      const error = outcome.error;
      if (typeof error === "object" && error !== null) {
        if (recorded.has(error)) return;
        recorded.add(error);
      }
      const context: Record<string, unknown> = { method: call.qualifiedName };
      const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
      if (code !== undefined) context.code = code;
      if (o.captureArgs !== undefined && o.captureArgs !== false) {
        context.arguments = typeof o.captureArgs === "function" ? o.captureArgs(call.args) : call.args;
      }
      logger.logError({
        errorType: error instanceof Error ? error.name || error.constructor.name || "Error" : `thrown ${error === null ? "null" : typeof error}`,
        message: errorMessageOf(error),
        ...(error instanceof Error && typeof error.stack === "string" ? { stackTrace: error.stack } : {}),
        severity: o.severity ?? "error",
        context,
      });
    },
  });
}
