import { z } from "zod";
import type { PerformanceMetricInput } from "../src/types.js";
import { withLinks, auditMethodDecorator, decoratorOptionsShape, parseDecoratorInput, type AuditDecoratorOptions, type AuditMethodDecorator, assertNamedFactory } from "./wrap.js";

/**
 * Options of {@link AuditPerformance}.
 *
 * @example
 * @AuditPerformance("rank_seconds", { unit: "s" })
 */
export interface AuditPerformanceOptions extends Omit<AuditDecoratorOptions, "captureArgs" | "captureResult"> {
  /** "ms" (default) or "s" */
  unit?: "ms" | "s" | undefined;
}

const schema = z.object({
  metricName: z.string({ error: "must be a string" }).min(1, "must be a non-empty string").max(256, "must be at most 256 characters"),
  options: z
    .strictObject(
      {
        logger: decoratorOptionsShape.logger,
        name: decoratorOptionsShape.name,
        unit: z.enum(["ms", "s"], { error: 'must be "ms" or "s"' }).optional(),
      },
      { error: "must be an options object" },
    )
    .optional(),
});

/**
 * Records the duration of each call of the method as a PerformanceMetric named `metricName`
 * (milliseconds by default), with `context: { method, outcome }`. Async methods are measured to
 * when they settle, generators to when they finish.
 *
 * @example
 * class Search {
 *   @AuditPerformance("rank_ms")
 *   rank(hits: Hit[]) { return hits.sort(byScore) }
 * }
 */
export function AuditPerformance(metricName: string, options: AuditPerformanceOptions = {}): AuditMethodDecorator {
  assertNamedFactory("@AuditPerformance", metricName);
  const input = parseDecoratorInput("@AuditPerformance", schema, { metricName, options });
  const name = input.metricName;
  const o = (input.options ?? {}) as AuditPerformanceOptions;
  const unit = o.unit ?? "ms";
  return auditMethodDecorator({
    decorator: "@AuditPerformance",
    options: o,
    linkChildren: true,
    record(logger, call) {
      const context: Record<string, unknown> = { method: call.qualifiedName, outcome: call.outcome.status };
      if (call.yielded) context.yielded = call.yielded.count;
      logger.logPerformanceMetric(
        withLinks<PerformanceMetricInput>({ metricName: name, value: unit === "ms" ? call.durationSeconds * 1000 : call.durationSeconds, unit, context }, call),
      );
    },
  });
}
