/**
 * Fast paths in front of the zod schemas for the records written on every instrumented call: a
 * ChatInteraction (every LLM call) and a ToolUsage (every `@AuditTool` call). Each accepts only
 * input the schema certainly accepts and returns what the schema would (members whose value is
 * undefined are left out); for anything else it returns undefined and the caller runs the
 * schema, which stays the definition and reports the coded error. test/core/fast-input.test.ts
 * checks each against its schema over generated inputs.
 *
 * Why: zod dispatches per field through generic, megamorphic code. Records from wrapped clients
 * are built in batches after the app, the SDK and the HTTP client have run for a while, and there
 * (measured with the OpenAI SDK, 20-record batches) the schema took 22-40 µs for the first record
 * of a batch and ~1.9 µs for each next one; this takes ~2.4 µs and ~0.3 µs.
 */
import { types } from "node:util";
import type { z } from "zod";
import { ID_PATTERN } from "./id.js";
import { JsonText } from "./json-text.js";
import { chatInteractionInputSchema, toolUsageInputSchema } from "./schemas.js";

type ChatInput = z.output<typeof chatInteractionInputSchema>;
type ToolInput = z.output<typeof toolUsageInputSchema>;
type Obj = Record<string, unknown>;

/** Every key of the chat schema; a key outside this set sends the input to the schema. */
const CHAT_KEYS: ReadonlySet<string> = new Set(Object.keys(chatInteractionInputSchema.shape));
const TOOL_KEYS: ReadonlySet<string> = new Set(Object.keys(toolUsageInputSchema.shape));

const text = (v: unknown, max: number): v is string => typeof v === "string" && v.length >= 1 && v.length <= max;
const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const seconds = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** An array copied as the schema copies it: by index (a hole becomes undefined; no iterator runs). */
function copyArray(v: readonly unknown[]): unknown[] {
  const n = v.length;
  // (pushed: a `new Array(n)` filled in is a holey array, slower to serialise)
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(v[i]);
  return out;
}

/** A prompt or response the schema copies the same way: a string or JsonText as is, an array as a shallow copy. */
function content(v: unknown): string | JsonText | unknown[] | undefined {
  if (typeof v === "string" || v instanceof JsonText) return v;
  if (Array.isArray(v)) return copyArray(v);
  return undefined; // objects (records) go through the schema
}

/** A plain object, not a proxy (the schema also asks `key in input`, which a proxy may answer differently). */
function isPlainInput(input: unknown): input is Obj {
  return typeof input === "object" && input !== null && Object.getPrototypeOf(input) === Object.prototype && !types.isProxy(input);
}

/** The members every input has (id, traceId, parentId, userId, metadata), read into `out`; false when the schema has to decide. */
function readLinks(o: Obj, out: Obj): boolean {
  let v: unknown;
  if ((v = o.id) !== undefined) {
    if (typeof v !== "string" || !ID_PATTERN.test(v)) return false;
    out.id = v;
  }
  if ((v = o.traceId) !== undefined) {
    if (!text(v, 256)) return false;
    out.traceId = v;
  }
  if ((v = o.parentId) !== undefined) {
    if (!text(v, 256)) return false;
    out.parentId = v;
  }
  if ((v = o.userId) !== undefined) {
    if (!text(v, 256)) return false;
    out.userId = v;
  }
  if ((v = o.metadata) !== undefined) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
    out.metadata = v;
  }
  return true;
}

/** `success` and `errorMessage`, read into `out`; false when the schema has to decide. */
function readOutcome(o: Obj, out: Obj): boolean {
  let v: unknown;
  if ((v = o.success) !== undefined) {
    if (typeof v !== "boolean") return false;
    out.success = v;
  }
  if ((v = o.errorMessage) !== undefined) {
    if (typeof v !== "string") return false;
    out.errorMessage = v;
  }
  return true;
}

/** Every own key of `o` is one of `keys` (no inherited enumerable member: a polluted Object.prototype goes to the schema). */
function onlyKeys(o: Obj, keys: ReadonlySet<string>): boolean {
  for (const key in o) if (!Object.hasOwn(o, key) || !keys.has(key)) return false;
  return true;
}

/**
 * The parsed ChatInteraction input, or undefined when the schema has to decide. Like the schema,
 * it reads each member once and then looks for unknown keys. (When it gives up after reading a
 * member, the schema reads that member again: a getter with side effects then runs twice.)
 */
export function fastChatInput(input: unknown): ChatInput | undefined {
  if (!isPlainInput(input)) return undefined;
  const o = input as Obj;
  const out: Obj = {};
  // One block per field, spelled out: named property reads and writes stay monomorphic, which a
  // loop over a table of keys (keyed access) would not; that is the whole point of this path.
  if (!readLinks(o, out)) return undefined;
  let v: unknown;
  if ((v = o.interactionType) !== undefined) {
    if (!text(v, 128)) return undefined;
    out.interactionType = v;
  }
  const prompt = content(o.prompt);
  if (prompt === undefined) return undefined;
  out.prompt = prompt;
  if ((v = o.response) !== undefined) {
    const response = content(v);
    if (response === undefined) return undefined;
    out.response = response;
  }
  if ((v = o.promptCaptured) !== undefined) {
    if (typeof v !== "boolean") return undefined;
    out.promptCaptured = v;
  }
  if ((v = o.responseCaptured) !== undefined) {
    if (typeof v !== "boolean") return undefined;
    out.responseCaptured = v;
  }
  if ((v = o.model) !== undefined) {
    if (!text(v, 256)) return undefined;
    out.model = v;
  }
  if ((v = o.provider) !== undefined) {
    if (!text(v, 128)) return undefined;
    out.provider = v;
  }
  if ((v = o.tokensUsed) !== undefined) {
    if (!count(v)) return undefined;
    out.tokensUsed = v;
  }
  if ((v = o.inputTokens) !== undefined) {
    if (!count(v)) return undefined;
    out.inputTokens = v;
  }
  if ((v = o.outputTokens) !== undefined) {
    if (!count(v)) return undefined;
    out.outputTokens = v;
  }
  if ((v = o.usage) !== undefined) out.usage = v;
  if ((v = o.durationSeconds) !== undefined) {
    if (!seconds(v)) return undefined;
    out.durationSeconds = v;
  }
  if ((v = o.timeToFirstTokenSeconds) !== undefined) {
    if (!seconds(v)) return undefined;
    out.timeToFirstTokenSeconds = v;
  }
  if ((v = o.finishReason) !== undefined) {
    if (!text(v, 128)) return undefined;
    out.finishReason = v;
  }
  if ((v = o.toolCalls) !== undefined) {
    if (!Array.isArray(v)) return undefined;
    out.toolCalls = copyArray(v);
  }
  if ((v = o.persona) !== undefined) {
    if (!text(v, 256)) return undefined;
    out.persona = v;
  }
  if (!readOutcome(o, out)) return undefined;
  if ((v = o.statusCode) !== undefined) {
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > 999) return undefined;
    out.statusCode = v;
  }
  return onlyKeys(o, CHAT_KEYS) ? (out as ChatInput) : undefined;
}

/**
 * The parsed ToolUsage input, or undefined when the schema has to decide; as `fastChatInput`.
 * Every decorated `@AuditTool` call and most direct `logToolUsage` calls take it: the schema cost
 * ~2.5 µs of a ~14 µs call on a slow machine (2026-12-03), and more for inputs whose members
 * were added one by one (a decorator's), which the schema's generic code reads slower.
 */
export function fastToolInput(input: unknown): ToolInput | undefined {
  if (!isPlainInput(input)) return undefined;
  const o = input;
  const out: Obj = {};
  if (!readLinks(o, out)) return undefined;
  let v: unknown;
  if (!text((v = o.toolName), 256)) return undefined;
  out.toolName = v;
  if (!text((v = o.operation), 256)) return undefined;
  out.operation = v;
  if ((v = o.parameters) !== undefined) out.parameters = v;
  if ((v = o.result) !== undefined) out.result = v;
  if (!readOutcome(o, out)) return undefined;
  if ((v = o.durationSeconds) !== undefined) {
    if (!seconds(v)) return undefined;
    out.durationSeconds = v;
  }
  if ((v = o.persona) !== undefined) {
    if (!text(v, 256)) return undefined;
    out.persona = v;
  }
  return onlyKeys(o, TOOL_KEYS) ? (out as ToolInput) : undefined;
}
