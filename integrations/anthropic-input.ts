/**
 * The ChatInteraction input of one wrapped Anthropic call, made from plain data the wrapper took
 * when the call ended. With `thread: true` this module runs on the logger's worker thread too (it
 * imports it by URL, see InputBuilder), so it imports nothing at run time but pure functions.
 */
import { markFreshId } from "../src/record/id.js";
import { JsonText, jsonMembers } from "../src/record/json-text.js";
import type { ChatInteractionInput, InputBuilder } from "../src/types.js";

/** A tool call as recorded: a `tool_use`, `server_tool_use` or `mcp_tool_use` block of the reply. */
export interface AnthropicToolCall {
  id?: string;
  type: string;
  name?: string;
  /** an `mcp_tool_use`'s MCP server */
  server_name?: string;
  input: unknown;
}

/**
 * What one call leaves to record, as plain data (copied as it arrived: it shares nothing with the
 * app's objects). A flat tuple, as OpenAIRecordData: the structured clone to the worker writes
 * no member names for it.
 */
/** Which method made the call: `beta.` ones are `client.beta.messages`'s. */
export type AnthropicMethod =
  | "messages.create"
  | "messages.stream"
  | "messages.parse"
  | "messages.thread"
  | "messages.toolRunner"
  | "beta.messages.create"
  | "beta.messages.stream"
  | "beta.messages.parse"
  | "beta.messages.thread"
  | "beta.messages.toolRunner";

export type AnthropicRecordData = readonly [
  /** the interaction's id, taken at the call (calls made inside it have it as their parent) */
  id: string,
  /** record the prompt and response (`captureContent`) */
  capture: boolean,
  method: AnthropicMethod,
  stream: boolean,
  /** the model the app asked for */
  requestedModel: string | undefined,
  /** system + messages, copied as JSON data, when the body the SDK sent was not seen */
  prompt: unknown[] | undefined,
  durationSeconds: number,
  timeToFirstTokenSeconds: number | undefined,
  requestId: string | undefined,
  messageId: string | undefined,
  /** the model that answered */
  model: string | undefined,
  text: string | undefined,
  usage: Record<string, unknown> | undefined,
  stopReason: string | undefined,
  toolCalls: AnthropicToolCall[] | undefined,
  /** `Name: message` of the failure; undefined for a success */
  error: string | undefined,
  statusCode: number | undefined,
  /** the API's error type (`overloaded_error`, …) */
  errorType: string | undefined,
  /** for streams: how the stream ended (also "abandoned" for a result collected unread) */
  end: "completed" | "aborted" | "abandoned" | "truncated" | "error" | undefined,
  /** for streams: the events the app read */
  events: number | undefined,
  /** the JSON text the SDK sent (its first attempt's), when it was seen */
  sentBody: string | undefined,
  /**
   * the call was made outside any trace: it starts one, named by its id (set on the input itself,
   * so that a logger of another copy of the package, or an older one, records it so too)
   */
  ownTrace: boolean,
  /** what the call asked for besides its prompt (see request-settings.ts) */
  settings: Record<string, unknown> | undefined,
  /** the reply's `fallback` blocks: a model that declined and the one that answered instead */
  fallbacks: AnthropicFallback[] | undefined,
];

/**
 * A `fallback` block of a reply (the server-side `fallbacks` beta, or the SDK's
 * `betaRefusalFallbackMiddleware`): the model that declined (`from`), the one whose answer
 * follows (`to`), and why (`trigger`: `refusal`, and its `category` when the API gives one).
 */
export interface AnthropicFallback {
  from?: string;
  to?: string;
  trigger?: string;
  category?: string;
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);

/** The ChatInteraction input of one call. */
export function anthropicChatInput(d: AnthropicRecordData): ChatInteractionInput {
  // (read by index: destructuring a tuple runs the array iterator)
  const capture = d[1];
  const requestedModel = d[4];
  const model = d[10];
  const usage = d[12];
  const stopReason = d[13];
  const toolCalls = d[14];
  const error = d[15];
  // built by assignment: adding members to a spread copy is slow on V8
  const anthropic: Record<string, unknown> = { method: d[2], stream: d[3] };
  if (d[2].startsWith("beta.")) anthropic.beta = true;
  if (d[18] !== undefined) anthropic.end = d[18];
  if (d[19] !== undefined) anthropic.events = d[19];
  if (d[8] !== undefined) anthropic.requestId = d[8];
  if (d[9] !== undefined) anthropic.messageId = d[9];
  if (d[17] !== undefined) anthropic.errorType = d[17];
  if (d[22] !== undefined) anthropic.request = d[22];
  if (d[23] !== undefined) anthropic.fallbacks = d[23];
  if (model !== undefined && requestedModel !== undefined && model !== requestedModel) anthropic.requestedModel = requestedModel;
  const input: ChatInteractionInput = {
    id: d[0],
    interactionType: "messages",
    provider: "anthropic",
    model: (model ?? requestedModel ?? "unknown").slice(0, 256),
    prompt: capture ? (d[20] !== undefined ? promptSent(d[20]) : (d[5] ?? [])) : "",
    response: capture ? (d[11] ?? "") : "",
    durationSeconds: d[6],
    success: error === undefined,
    // traceId, parentId, userId, persona and the context's metadata come from the call's
    // context, in which the log call runs
    metadata: { anthropic },
  };
  if (!capture) input.promptCaptured = input.responseCaptured = false;
  if (d[21]) input.traceId = d[0];
  if (usage !== undefined) {
    const inTok = num(usage.input_tokens);
    const outTok = num(usage.output_tokens);
    if (inTok !== undefined) input.inputTokens = inTok;
    if (outTok !== undefined) input.outputTokens = outTok;
    input.usage = usage;
  }
  if (stopReason !== undefined) input.finishReason = stopReason.slice(0, 128);
  if (toolCalls !== undefined && toolCalls.length > 0) input.toolCalls = capture ? toolCalls : toolCalls.map(withoutInput);
  if (d[7] !== undefined) input.timeToFirstTokenSeconds = d[7];
  if (d[16] !== undefined) input.statusCode = d[16];
  if (error !== undefined) input.errorMessage = error;
  // (the id was made for this call: the logger need not look for content files of it)
  return markFreshId(input);
}

/**
 * The prompt a call sent, system first, as in the record of a copied prompt: the `messages` array
 * as the JSON text it was sent in, cut from the request body with the `system` member's text
 * spliced in front (see JsonText); else parsed from the request's JSON; else the text as sent.
 */
const MEMBERS = ["messages", "system"] as const;

function promptSent(sent: string): JsonText | unknown[] | string {
  // (one pass over the body for both)
  const [messages, system] = jsonMembers(sent, MEMBERS);
  if (messages !== undefined && messages.charCodeAt(0) === 0x5b /* [ */) {
    if (system === undefined) return new JsonText(messages);
    const rest = messages.slice(1).trimStart();
    return new JsonText(`[{"role":"system","content":${system}}${rest.charCodeAt(0) === 0x5d /* ] */ ? "" : ","}${rest}`);
  }
  try {
    const body = JSON.parse(sent) as { system?: unknown; messages?: unknown };
    const msgs = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
    return body.system !== undefined ? [{ role: "system", content: body.system }, ...msgs] : msgs;
  } catch {
    return sent; // not JSON after all: what was sent, as text
  }
}

/** Without content capture, a tool call keeps its id, type and name. */
function withoutInput(call: AnthropicToolCall): Omit<AnthropicToolCall, "input"> {
  const { input: _input, ...rest } = call;
  return rest;
}

/** {@link anthropicChatInput} as an InputBuilder: with `thread: true` the worker imports this module and runs it there. */
export const anthropicChatInputBuilder: InputBuilder<AnthropicRecordData> = Object.freeze({
  method: "logChatInteraction",
  module: import.meta.url,
  name: "anthropicChatInput",
  build: anthropicChatInput,
});
