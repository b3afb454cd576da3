/**
 * The ChatInteraction input of one wrapped OpenAI call, made from plain data the wrapper took
 * when the call settled. With `thread: true` this module runs on the logger's worker thread too
 * (it imports it by URL, see InputBuilder): parsing the sent JSON and building the input then
 * happen there, and the app's thread only queues the data. So this module imports nothing at
 * run time but pure functions.
 */
import type { ChatInteractionInput, InputBuilder } from "../src/types.js";
import { isObj, promptOf, type ChatOutcome, type Obj } from "./openai-record.js";

/** How the call ended, as the wrapper saw it. */
export interface CallStatus {
  success: boolean;
  errorMessage?: string;
  statusCode?: number;
  /** a stream's end: `{ stream: true, end, chunks }` */
  stream?: Obj;
  /** extra `metadata.openai` members */
  metadata?: { openai?: Obj };
}

/**
 * What one call leaves to record, as plain data (a structured clone copies it as it is). A tuple,
 * not an object: copying it to the worker costs about a third as much.
 */
export type OpenAIRecordData = readonly [
  api: "chat" | "responses",
  /** record the prompt and response (`captureContent`) */
  capture: boolean,
  /** the model the app asked for */
  requestedModel: string | undefined,
  /** the JSON text the SDK sent (its first attempt's), when it was observed */
  sentBody: string | undefined,
  /** else the prompt, copied as JSON data when the call was made or when it settled */
  copiedPrompt: string | unknown[] | Obj | undefined,
  durationSeconds: number,
  timeToFirstTokenSeconds: number | undefined,
  requestId: string | undefined,
  outcome: ChatOutcome,
  status: CallStatus,
];

/** The prompt this call sent: parsed from the request's JSON, else as copied. */
function promptSent(api: "chat" | "responses", sent: string | undefined, copied: OpenAIRecordData[4]): ReturnType<typeof promptOf> {
  if (sent !== undefined) {
    let body: unknown;
    try {
      body = JSON.parse(sent) as unknown;
    } catch {
      return sent; // not JSON after all: what was sent, as text
    }
    return promptOf(api, body);
  }
  return copied ?? "";
}

/** Without content capture, a tool call keeps only its type and name. */
function toolName(call: unknown): unknown {
  if (!isObj(call)) return call;
  const fn = isObj(call.function) ? call.function : undefined;
  const name = fn?.name ?? call.name;
  return { type: call.type ?? "function", ...(typeof name === "string" ? { name } : {}) };
}

/** The ChatInteraction input of one call. */
export function openaiChatInput(data: OpenAIRecordData): ChatInteractionInput {
  const [api, capture, requested, sent, copied, durationSeconds, ttft, requestId, o, status] = data;
  // a failure the provider reported inside a 200 (a failed Response) is still a failure
  const s = o.errorMessage !== undefined && status.success ? { ...status, success: false, errorMessage: o.errorMessage } : status;
  const input: ChatInteractionInput = {
    interactionType: api === "chat" ? "chat.completions" : "responses",
    provider: "openai",
    model: (o.model ?? requested ?? "unknown").slice(0, 256),
    prompt: capture ? promptSent(api, sent, copied) : "",
    response: capture ? (o.response ?? "") : "",
    durationSeconds,
    success: s.success,
  };
  if (o.inputTokens !== undefined) input.inputTokens = o.inputTokens;
  if (o.outputTokens !== undefined) input.outputTokens = o.outputTokens;
  if (o.usage !== undefined) input.usage = o.usage;
  if (o.finishReason !== undefined) input.finishReason = o.finishReason.slice(0, 128);
  if (o.toolCalls !== undefined) input.toolCalls = capture ? o.toolCalls : o.toolCalls.map(toolName);
  if (ttft !== undefined) input.timeToFirstTokenSeconds = ttft;
  if (s.errorMessage !== undefined) input.errorMessage = s.errorMessage;
  if (s.statusCode !== undefined) input.statusCode = s.statusCode;
  // traceId, parentId, userId, persona and the context's metadata come from the call's
  // context, in which the log call runs
  // built by assignment: adding members to a spread copy is slow on V8 (see addUsage)
  const openai: Obj = Object.assign({}, s.metadata?.openai);
  if (requestId) openai.requestId = requestId;
  if (s.stream) Object.assign(openai, s.stream);
  if (Object.keys(openai).length > 0) input.metadata = { openai };
  return input;
}

/** {@link openaiChatInput} as an InputBuilder: with `thread: true` the worker imports this module and runs it there. */
export const openaiChatInputBuilder: InputBuilder<OpenAIRecordData> = Object.freeze({
  method: "logChatInteraction",
  module: import.meta.url,
  name: "openaiChatInput",
  build: openaiChatInput,
});
