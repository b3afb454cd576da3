import { z } from "zod";
import { ID_PATTERN } from "./id.js";
import { JsonText } from "./json-text.js";

const text = (max = 1024) => z.string().min(1, "must be a non-empty string").max(max, `must be at most ${max} characters`);
const count = z.number().int("must be a whole number").min(0, "must be 0 or more");
// zod 4's z.number() already refuses NaN and ±Infinity; a .refine here would only slow every call
const seconds = z.number({ error: "must be a finite number" }).min(0, "must be 0 or more");
// (a JsonText, the integrations' prompt cut from a request's JSON, is kept as it is)
const content = z.union([z.string(), z.instanceof(JsonText), z.array(z.unknown()), z.record(z.string(), z.unknown())], {
  error: "must be a string, or structured messages (an array or object)",
});
// not z.record: that reads (and copies) every member, and a throwing getter would escape
const bag = z.custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), { error: "must be a plain object" });

const links = {
  id: z.string().regex(ID_PATTERN, "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'").optional(),
  traceId: text(256).optional(),
  parentId: text(256).optional(),
  userId: text(256).optional(),
  metadata: bag.optional(),
};

/**
 * @internal Marks a logger whose chat input takes `promptCaptured`/`responseCaptured` (added
 * 2026-12-03): an integration of this copy of the package recording to a logger of an older
 * copy, whose strict schema refuses them, leaves them out (found by review, 2026-12-03: such
 * calls were not recorded at all).
 */
export const kCaptureFlags = Symbol.for("audit-logger.logger.capture-flags.v1");

/** @internal Marks a logger of this very copy of the package (a symbol of its own per copy), which takes its inputs as they are. */
export const kSameCopy = Symbol("audit-logger.same-copy");

export const chatInteractionInputSchema = z.strictObject({
  ...links,
  interactionType: text(128).optional(),
  prompt: content,
  response: content.optional(),
  promptCaptured: z.boolean().optional(),
  responseCaptured: z.boolean().optional(),
  model: text(256).optional(),
  provider: text(128).optional(),
  tokensUsed: count.optional(),
  inputTokens: count.optional(),
  outputTokens: count.optional(),
  usage: z.unknown().optional(),
  durationSeconds: seconds.optional(),
  timeToFirstTokenSeconds: seconds.optional(),
  finishReason: text(128).optional(),
  toolCalls: z.array(z.unknown()).optional(),
  persona: text(256).optional(),
  success: z.boolean().optional(),
  errorMessage: z.string().optional(),
  statusCode: z.number().int().min(0).max(999).optional(),
});

export const personaActivityInputSchema = z.strictObject({
  ...links,
  personaName: text(256),
  activityType: text(256),
  description: z.string().optional(),
  durationSeconds: seconds.optional(),
  success: z.boolean().optional(),
  details: z.unknown().optional(),
});

export const toolUsageInputSchema = z.strictObject({
  ...links,
  toolName: text(256),
  operation: text(256),
  parameters: z.unknown().optional(),
  result: z.unknown().optional(),
  success: z.boolean().optional(),
  errorMessage: z.string().optional(),
  durationSeconds: seconds.optional(),
  persona: text(256).optional(),
});

export const fileOperationInputSchema = z.strictObject({
  ...links,
  operation: z.enum(["create", "read", "modify", "delete", "move", "copy"], {
    error: "must be one of create, read, modify, delete, move, copy",
  }),
  filePath: text(4096),
  fileSize: count.optional(),
  fileHash: z.string().max(256).optional(),
  success: z.boolean().optional(),
  errorMessage: z.string().optional(),
  details: z.unknown().optional(),
  persona: text(256).optional(),
});

export const performanceMetricInputSchema = z.strictObject({
  ...links,
  metricName: text(256),
  value: z.number({ error: "must be a finite number" }),
  unit: text(64),
  context: z.unknown().optional(),
  persona: text(256).optional(),
});

export const errorInputSchema = z.strictObject({
  ...links,
  errorType: text(256),
  message: z.string(),
  stackTrace: z.string().optional(),
  severity: z.enum(["debug", "info", "warning", "error", "critical"], {
    error: "must be one of debug, info, warning, error, critical",
  }).optional(),
  context: z.unknown().optional(),
  persona: text(256).optional(),
});
