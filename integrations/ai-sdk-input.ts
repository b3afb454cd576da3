/**
 * The ChatInteraction input of one AI SDK model call (auditLanguageModelMiddleware), made from
 * plain data the middleware took when the call ended. With `thread: true` this module runs on the
 * logger's worker thread too (it imports it by URL, see InputBuilder), so it imports nothing at
 * run time but pure functions.
 */
import { markFreshId } from "../src/record/id.js";
import type { ChatInteractionInput, InputBuilder } from "../src/types.js";

/** A tool call as recorded. */
export interface AiSdkToolCall {
  toolCallId?: string;
  toolName?: string;
  input?: unknown;
}

/** What one call leaves to record, copied as it arrived (a flat tuple: see OpenAIRecordData). */
export type AiSdkRecordData = readonly [
  /** the interaction's id, taken at the call */
  id: string,
  kind: "generate" | "stream",
  /** record the prompt and response (`captureContent`) */
  capture: boolean,
  /** the prompt, copied as JSON data at the call */
  prompt: unknown,
  modelId: string | undefined,
  provider: string | undefined,
  /** the attempt's number, and the first attempt's id, for a retry */
  attempt: number,
  retryOf: string | undefined,
  durationSeconds: number,
  /** the model that answered */
  model: string | undefined,
  text: string | undefined,
  usage: unknown,
  inputTokens: number | undefined,
  outputTokens: number | undefined,
  finishReason: string | undefined,
  rawFinishReason: string | undefined,
  toolCalls: AiSdkToolCall[] | undefined,
  timeToFirstTokenSeconds: number | undefined,
  statusCode: number | undefined,
  requestId: string | undefined,
  responseId: string | undefined,
  /** `Name: message` of the failure; undefined for a success */
  error: string | undefined,
  /** for streams: how the stream ended, and how many parts the app read */
  end: "completed" | "truncated" | "aborted" | "cancelled" | "abandoned" | "error" | undefined,
  parts: number | undefined,
  /**
   * the call was made outside any trace: the trace it is recorded in and its parent. It starts
   * one, named by its id; a retry joins the one its first attempt started (until 2026-12-05 each
   * attempt was a trace of its own), a tool loop's later step the one of the step whose tool
   * calls it answers, as that step's child (until 2026-12-06 a trace of its own: see StepLink in
   * ai-sdk.ts). Set on the input itself, so that a logger of another copy of the package, or an
   * older one, records it so too. Undefined inside a trace (the context's apply).
   */
  links: readonly [traceId: string, parentId: string | undefined] | undefined,
  /** what the call asked for besides its prompt (see request-settings.ts) */
  settings: Record<string, unknown> | undefined,
];

/** The ChatInteraction input of one call. */
export function aiSdkChatInput(d: AiSdkRecordData): ChatInteractionInput {
  // (read by index: destructuring a tuple runs the array iterator)
  const kind = d[1];
  const capture = d[2];
  const modelId = d[4];
  const model = d[9];
  const error = d[21];
  // built by assignment: adding members to a spread copy is slow on V8
  const aiSdk: Record<string, unknown> = { call: kind };
  if (d[6] > 1) {
    aiSdk.attempt = d[6];
    aiSdk.retryOf = d[7];
  }
  if (d[25] !== undefined) aiSdk.request = d[25];
  if (d[22] !== undefined) aiSdk.end = d[22];
  if (d[23] !== undefined) aiSdk.parts = d[23];
  if (d[15] !== undefined) aiSdk.rawFinishReason = d[15];
  if (d[19] !== undefined) aiSdk.requestId = d[19];
  if (d[20] !== undefined) aiSdk.responseId = d[20];
  if (model !== undefined && modelId !== undefined && model !== modelId) aiSdk.requestedModel = modelId;
  const input: ChatInteractionInput = {
    id: d[0],
    interactionType: `ai-sdk.${kind}`,
    model: (model ?? modelId ?? "unknown").slice(0, 256),
    prompt: capture ? (d[3] as unknown[]) : "",
    response: capture ? (d[10] ?? "") : "",
    durationSeconds: d[8],
    success: error === undefined,
    // traceId, parentId, userId, persona and the context's metadata come from the call's
    // context, in which the log call runs
    metadata: { aiSdk },
  };
  if (!capture) input.promptCaptured = input.responseCaptured = false;
  const links = d[24];
  if (links !== undefined) {
    input.traceId = links[0];
    if (links[1] !== undefined) input.parentId = links[1];
  }
  const provider = d[5];
  if (provider !== undefined) input.provider = provider.slice(0, 128);
  if (d[12] !== undefined) input.inputTokens = d[12];
  if (d[13] !== undefined) input.outputTokens = d[13];
  if (d[11] !== undefined) input.usage = d[11];
  if (d[14] !== undefined) input.finishReason = d[14].slice(0, 128);
  const toolCalls = d[16];
  if (toolCalls && toolCalls.length > 0) input.toolCalls = capture ? toolCalls : toolCalls.map(withoutInput);
  if (d[17] !== undefined) input.timeToFirstTokenSeconds = d[17];
  if (d[18] !== undefined) input.statusCode = d[18];
  if (error !== undefined) input.errorMessage = error;
  // (the id was made for this call: the logger need not look for content files of it)
  return markFreshId(input);
}

/** Without content capture, a tool call keeps its id and name. */
function withoutInput(call: AiSdkToolCall): Omit<AiSdkToolCall, "input"> {
  const { input: _input, ...rest } = call;
  return rest;
}

/** {@link aiSdkChatInput} as an InputBuilder: with `thread: true` the worker imports this module and runs it there. */
export const aiSdkChatInputBuilder: InputBuilder<AiSdkRecordData> = Object.freeze({
  method: "logChatInteraction",
  module: import.meta.url,
  name: "aiSdkChatInput",
  build: aiSdkChatInput,
});
