/**
 * The integrations' options, checked when a client or function is wrapped: a misspelt option
 * (`captureContents: false`) was silently ignored, and the prompt it meant to keep out was
 * recorded (found by a new-user run, 2026-12-03). A mistake throws `AuditConfigError` naming
 * every bad field, prefixed with the function (`wrapOpenAI.captureContents`), as the config,
 * the decorators and `auditMiddleware` do.
 */
import { z } from "zod";
import { isLoggerLike } from "../src/context.js";
import { AuditConfigError } from "../src/errors.js";
import type { AuditLogger } from "../src/logger.js";
import { toFieldIssues } from "../src/record/issues.js";

/** The `logger` option: an AuditLogger (structurally: another copy of the package's is one too). */
export const loggerOption = z.custom<AuditLogger>(isLoggerLike, "must be an AuditLogger (new AuditLogger(...)); leave it out to use the context's or the default logger").optional();

/** A true/false option. */
export const flagOption = z.boolean({ error: "must be true or false" }).optional();

/** `options` checked against `schema` (undefined is no options); the parsed copy, which later changes to the app's object do not reach. */
export function parseIntegrationOptions<S extends z.ZodType>(fn: string, schema: S, options: unknown): z.output<S> {
  const r = schema.safeParse(options ?? {});
  if (!r.success) throw new AuditConfigError(toFieldIssues(r.error, fn));
  return r.data;
}
