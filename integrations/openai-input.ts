/**
 * The ChatInteraction input of one wrapped OpenAI call, made from plain data the wrapper took
 * when the call settled. With `thread: true` this module runs on the logger's worker thread too
 * (it imports it by URL, see InputBuilder): parsing the sent JSON and building the input then
 * happen there, and the app's thread only queues the data. So this module imports nothing at
 * run time but pure functions.
 */
import { markFreshId } from "../src/record/id.js";
import { JsonText, jsonArrayMember } from "../src/record/json-text.js";
import type { ChatInteractionInput, InputBuilder } from "../src/types.js";
import { isObj, promptOf, type ChatOutcome, type Obj } from "./openai-record.js";

/** How the call ended, as the wrapper saw it. */
export interface CallStatus {
  success: boolean;
  errorMessage?: string;
  statusCode?: number;
  /** a stream's end, and how many chunks the app read */
  stream?: { end: string; chunks: number };
  /** the app read only the raw Response (`.asResponse()`) */
  rawResponse?: true;
}

/**
 * What one call leaves to record, as plain data (a structured clone copies it as it is). A flat
 * tuple, not objects: copying it to the worker costs less (the structured clone writes every
 * member's name of every object, there is no name table), and it is made without allocating.
 */
export type OpenAIRecordData = readonly [
  api: "chat" | "responses",
  /** record the prompt and response (`captureContent`) */
  capture: boolean,
  /** the model the app asked for */
  requestedModel: string | undefined,
  /** the JSON text the SDK sent (its last attempt's: the request the outcome answers), when it was observed */
  sentBody: string | undefined,
  /** else the prompt, copied as JSON data when the call was made or when it settled */
  copiedPrompt: string | unknown[] | Obj | undefined,
  durationSeconds: number,
  timeToFirstTokenSeconds: number | undefined,
  requestId: string | undefined,
  // the outcome (ChatOutcome), member by member
  model: string | undefined,
  response: string | unknown[] | undefined,
  inputTokens: number | undefined,
  outputTokens: number | undefined,
  usage: unknown,
  finishReason: string | undefined,
  toolCalls: unknown[] | undefined,
  /** a failure the provider reported inside a 200 response */
  providerError: string | undefined,
  // the status (CallStatus), member by member
  success: boolean,
  errorMessage: string | undefined,
  statusCode: number | undefined,
  streamEnd: string | undefined,
  streamChunks: number | undefined,
  rawResponse: boolean,
  /** the record's id, made when the call was: calls made inside it (a fetch wrapper) name it as their parent */
  id: string,
  /**
   * the call was made outside any trace: it starts one, named by its id (set on the input itself,
   * so that a logger of another copy of the package, or an older one, records it so too)
   */
  ownTrace: boolean,
  /** what the call asked for besides its prompt (see request-settings.ts) */
  settings: Obj | undefined,
  /** the provider's id of its answer (ChatOutcome's `responseId`) */
  responseId: string | undefined,
  /** each choice's finish reason, when there were several (ChatOutcome's `finishReasons`) */
  finishReasons: string[] | undefined,
  /** the HTTP requests made for the call, its retries included (0: not observed) */
  attempts: number,
  /** a background response's answer, fetched by `responses.retrieve()` or `cancel()`: `metadata.openai.background` */
  background: Obj | undefined,
  /** the trace and parent it is recorded in (the request's), when it was fetched outside any trace */
  links: readonly [traceId: string, parentId: string] | undefined,
  /** the method the app called (`metadata.openai.method`), when not the API's `create` */
  method: string | undefined,
  /** a compacted conversation's output (ChatOutcome's `compaction`): `metadata.openai.compaction` */
  compaction: Obj | undefined,
];

/** The data of one call, from what the wrapper saw. */
export function openaiRecordData(
  api: "chat" | "responses",
  capture: boolean,
  requested: string | undefined,
  sent: string | undefined,
  copied: OpenAIRecordData[4],
  durationSeconds: number,
  ttft: number | undefined,
  requestId: string | undefined,
  o: ChatOutcome,
  s: CallStatus,
  id: string,
  ownTrace: boolean,
  settings: Obj | undefined,
  attempts: number,
  method: string | undefined,
  background?: Obj,
  links?: readonly [string, string],
): OpenAIRecordData {
  const stream = s.stream;
  return [
    api,
    capture,
    requested,
    sent,
    copied,
    durationSeconds,
    ttft,
    requestId,
    o.model,
    o.response,
    o.inputTokens,
    o.outputTokens,
    o.usage,
    o.finishReason,
    o.toolCalls,
    o.errorMessage,
    s.success,
    s.errorMessage,
    s.statusCode,
    stream?.end,
    stream?.chunks,
    s.rawResponse === true,
    id,
    ownTrace,
    settings,
    o.responseId,
    o.finishReasons,
    attempts,
    background,
    links,
    method,
    o.compaction,
  ];
}

/**
 * The prompt this call sent: a chat request's messages as the JSON text they were sent in (cut
 * from the request body, see JsonText); else parsed from the request's JSON; else as copied.
 */
function promptSent(api: "chat" | "responses", sent: string | undefined, copied: OpenAIRecordData[4]): ReturnType<typeof promptOf> | JsonText {
  if (sent !== undefined) {
    if (api === "chat") {
      const messages = jsonArrayMember(sent, "messages");
      if (messages !== undefined) return new JsonText(messages);
    }
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
  // (read by index: destructuring a tuple runs the array iterator)
  const api = data[0];
  const capture = data[1];
  const ttft = data[6];
  const requestId = data[7];
  const model = data[8];
  const response = data[9];
  const inputTokens = data[10];
  const outputTokens = data[11];
  const usage = data[12];
  const finishReason = data[13];
  const toolCalls = data[14];
  const providerError = data[15];
  const statusCode = data[18];
  const streamEnd = data[19];
  // a failure the provider reported inside a 200 (a failed Response) is still a failure
  const failedInside = providerError !== undefined && data[16];
  const success = failedInside ? false : data[16];
  const errorMessage = failedInside ? providerError : data[17];
  const input: ChatInteractionInput = {
    interactionType: api === "chat" ? "chat.completions" : "responses",
    provider: "openai",
    model: (model ?? data[2] ?? "unknown").slice(0, 256),
    prompt: capture ? promptSent(api, data[3], data[4]) : "",
    response: capture ? (response ?? "") : "",
    durationSeconds: data[5],
    success,
  };
  if (!capture) input.promptCaptured = input.responseCaptured = false;
  if (inputTokens !== undefined) input.inputTokens = inputTokens;
  if (outputTokens !== undefined) input.outputTokens = outputTokens;
  if (usage !== undefined) input.usage = usage;
  if (finishReason !== undefined) input.finishReason = finishReason.slice(0, 128);
  if (toolCalls !== undefined) input.toolCalls = capture ? toolCalls : toolCalls.map(toolName);
  if (ttft !== undefined) input.timeToFirstTokenSeconds = ttft;
  if (errorMessage !== undefined) input.errorMessage = errorMessage;
  if (statusCode !== undefined) input.statusCode = statusCode;
  // traceId, parentId, userId, persona and the context's metadata come from the call's
  // context, in which the log call runs
  const responseId = data[25];
  const finishReasons = data[26];
  const attempts = data[27];
  const background = data[28];
  // the model asked for, when the reply names another (an alias resolved to a dated snapshot:
  // gpt-4o-mini, answered by gpt-4o-mini-2024-07-18), as the Anthropic wrapper and the AI SDK
  // middleware keep it (until 2026-12-05 the OpenAI record kept only the reply's)
  const requested = model !== undefined && data[2] !== undefined && model !== data[2] ? data[2] : undefined;
  // built by assignment: adding members to a spread copy is slow on V8 (see addUsage)
  // (the method the app called, first, as `metadata.anthropic.method`: see methodOf in openai.ts)
  const openai: Obj = { method: data[30] ?? (api === "chat" ? "chat.completions.create" : "responses.create") };
  if (data[24]) openai.request = data[24];
  if (data[21]) openai.rawResponse = true;
  if (requestId) openai.requestId = requestId;
  // (a call the SDK retried: the record is its last attempt's outcome, see INTEGRATIONS.md)
  if (attempts > 1) openai.attempts = attempts;
  if (responseId) openai.responseId = responseId.slice(0, 256);
  if (finishReasons) openai.finishReasons = finishReasons.map((r) => r.slice(0, 128));
  if (background) openai.background = background;
  if (data[31]) openai.compaction = data[31];
  if (requested) openai.requestedModel = requested.slice(0, 256);
  if (streamEnd !== undefined) {
    openai.stream = true;
    openai.end = streamEnd;
    openai.chunks = data[20];
  }
  input.metadata = { openai };
  input.id = data[22];
  if (data[23]) input.traceId = data[22];
  const links = data[29];
  if (links) {
    input.traceId = links[0];
    input.parentId = links[1];
  }
  // (the id was made for this call: the logger need not look for content files of it)
  return markFreshId(input);
}

/** {@link openaiChatInput} as an InputBuilder: with `thread: true` the worker imports this module and runs it there. */
export const openaiChatInputBuilder: InputBuilder<OpenAIRecordData> = Object.freeze({
  method: "logChatInteraction",
  module: import.meta.url,
  name: "openaiChatInput",
  build: openaiChatInput,
});
