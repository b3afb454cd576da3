import { z } from "zod";
import type { ToolUsageInput } from "../src/types.js";
import { argsForRecord, failureMessageOf, capturedOrNoted, hasNotes, type CaptureNotes, withLinks, decoratorOptionsShape, auditMethodDecorator, parseDecoratorInput, type AuditDecoratorOptions, type AuditMethodDecorator, type FinishedCall, assertNamedFactory } from "./wrap.js";

/**
 * Options of {@link AuditTool}.
 *
 * @example
 * @AuditTool("weather_api", { operation: "forecast", captureResult: (r) => ({ days: (r as Forecast).days.length }) })
 */
export interface AuditToolOptions extends AuditDecoratorOptions {
  /** the recorded `operation`; the method name (or `name`) otherwise */
  operation?: string | undefined;
}

const schema = z.object({
  toolName: z.string({ error: "must be a string" }).min(1, "must be a non-empty string").max(256, "must be at most 256 characters"),
  options: z.strictObject({ ...decoratorOptionsShape, operation: z.string().min(1).max(256).optional() }, { error: "must be an options object" }).optional(),
});

/**
 * Records each call of the method as a ToolUsage: `toolName`, `operation` (the method name),
 * `parameters` (the argument list), `result`, `success` / `errorMessage` and `durationSeconds`.
 * Async methods are recorded when they settle, generators when they finish (the result is then
 * `{ yielded, returned }`). Errors are rethrown unchanged.
 *
 * @example
 * class WeatherService {
 *   @AuditTool("weather_api")
 *   async getForecast(location: string) { return fetchForecast(location) }
 * }
 */
export function AuditTool(toolName: string, options: AuditToolOptions = {}): AuditMethodDecorator {
  assertNamedFactory("@AuditTool", toolName);
  const input = parseDecoratorInput("@AuditTool", schema, { toolName, options });
  const name = input.toolName;
  const o = (input.options ?? {}) as AuditToolOptions;
  return auditMethodDecorator({
    decorator: "@AuditTool",
    options: o,
    readsArgs: o.captureArgs !== false,
    linkChildren: true,
    record(logger, call: FinishedCall) {
      // built field by field: conditional object spreads cost ~300 ns per call
      const { outcome } = call;
      const input = withLinks<ToolUsageInput>(
        { toolName: name, operation: o.operation ?? call.method, success: outcome.status === "ok", durationSeconds: call.durationSeconds },
        call,
      );
      // (a capture function that throws loses what it captures, not the record: noted in metadata)
      const notes: CaptureNotes = {};
      const parameters = capturedOrNoted(logger, notes, "captureArgs", o.captureArgs, typeof o.captureArgs === "function" ? call.args : argsForRecord(call.args));
      if (parameters) input.parameters = parameters.value;
      const unobserved = outcome.status === "ok" && o.captureResult !== false && typeof o.captureResult !== "function" ? call.unobserved : undefined;
      if (unobserved !== undefined) {
        // (work the caller runs later, a query builder or an Observable: its members are no
        // result, and a builder's hold its client's connection settings; said what it was)
        notes.resultNotRead = unobserved;
      } else if (outcome.status === "ok") {
        const result = capturedOrNoted(logger, notes, "captureResult", o.captureResult, call.yielded ? { yielded: call.yielded.count, returned: outcome.value } : outcome.value);
        if (result) input.result = result.value;
      } else {
        input.errorMessage = failureMessageOf(outcome);
      }
      if (hasNotes(notes)) input.metadata = { auditTool: notes };
      logger.logToolUsage(input);
    },
  });
}
