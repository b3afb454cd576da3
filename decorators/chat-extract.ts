/**
 * Reads prompt, response, model and token usage out of a chat method's arguments and result, for
 * the shapes LLM code passes around: plain strings, message lists, `{ messages }` requests, and
 * OpenAI / Anthropic / AI SDK style results and stream chunks. Anything unknown is kept as JSON.
 * An OpenAI-style answer's choices (several with `n` > 1) are read as the OpenAI wrapper reads
 * them (src/chat-choices.ts).
 */
import { ChatChunkAccumulator, fromChoices, isChatChunk } from "../src/chat-choices.js";

/** What a chat record's prompt or response may be: text, or structured messages. */
export type ChatContent = string | readonly unknown[] | Record<string, unknown>;

/** Token counts found in a result. */
export interface ChatUsage {
  inputTokens?: number;
  outputTokens?: number;
  tokensUsed?: number;
  /** the provider's usage object as it was */
  usage?: unknown;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function count(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined;
}

function first(list: unknown): unknown {
  return Array.isArray(list) ? list[0] : undefined;
}

/** The prompt of a call: the first string argument, a messages list, or a request's `messages` / `prompt` / `input`. */
export function promptFromArgs(args: readonly unknown[]): ChatContent {
  for (const a of args) if (typeof a === "string") return a;
  for (const a of args) if (Array.isArray(a)) return a;
  for (const a of args) {
    if (!isObj(a)) continue;
    if (Array.isArray(a.messages)) return typeof a.system === "string" || Array.isArray(a.system) ? { system: a.system, messages: a.messages } : a.messages;
    const p = str(a.prompt) ?? str(a.input) ?? str(a.question) ?? str(a.text) ?? str(a.content);
    if (p !== undefined) return p;
    if (Array.isArray(a.input)) return a.input;
  }
  return args.length === 0 ? "" : [...args];
}

/** Text of Anthropic-style content blocks (`[{ type: "text", text }]`), or undefined when there is none. */
function blocksText(content: unknown): string | undefined {
  if (!Array.isArray(content)) return undefined;
  const texts = content.filter((b): b is Obj => isObj(b) && typeof b.text === "string").map((b) => b.text as string);
  return texts.length > 0 ? texts.join("") : undefined;
}

/**
 * A chat completion message's text when its `content` is null: its `refusal`, or an audio
 * answer's transcript (never the audio's data). Such a message was recorded whole, the audio's
 * base64 included (found 2026-12-05, after the OpenAI wrapper's own gap there).
 */
function messageAlt(message: Obj): string | undefined {
  return str(message.refusal) ?? (isObj(message.audio) ? str(message.audio.transcript) : undefined);
}

/** Whether a result has several choices (a chat completion asked with `n` > 1). */
function severalChoices(result: Obj): result is Obj & { choices: unknown[] } {
  return Array.isArray(result.choices) && result.choices.filter(isObj).length > 1;
}

/**
 * The response text of a result: a string, `text`, `output_text`, `content`,
 * `choices[0].message.content` (or its refusal, or its audio's transcript); with several choices
 * each one's text, `[{ index, content }]`, as the OpenAI wrapper records them (until 2026-12-05
 * the first choice's only).
 */
export function responseFromResult(result: unknown): ChatContent {
  if (typeof result === "string") return result;
  if (result === undefined || result === null) return "";
  if (!isObj(result)) return Array.isArray(result) ? result : String(result);
  if (severalChoices(result)) return fromChoices(result.choices).response ?? "";
  const choice = first(result.choices);
  const message = isObj(choice) ? choice.message : result.message;
  const text =
    str(result.text) ??
    str(result.output_text) ??
    str(result.content) ??
    blocksText(result.content) ??
    (isObj(message) ? (str(message.content) ?? blocksText(message.content) ?? messageAlt(message)) : undefined) ??
    (isObj(choice) ? str(choice.text) : undefined) ??
    str(result.response) ??
    str(result.answer);
  if (text !== undefined) return text;
  // An AI SDK generateObject() result (told by its `response.modelId`, as modelFrom does): the
  // object generated is the answer (it was recorded as not read, `responseNotRead: "a
  // DefaultGenerateObjectResult"`). Not any `object` member: OpenAI's results say
  // `object: "chat.completion"`.
  if (result.object !== undefined && result.object !== null && isObj(result.response) && typeof result.response.modelId === "string") {
    const answer = result.object;
    return typeof answer === "string" || Array.isArray(answer) || isObj(answer) ? (answer as ChatContent) : String(answer as number | boolean);
  }
  return result;
}

/**
 * Token usage of a result (`usage` in OpenAI, Anthropic or AI SDK naming), if any. An AI SDK
 * result's `totalUsage` (all its steps) wins over its `usage` (the last step's).
 */
export function usageFromResult(result: unknown): ChatUsage {
  if (!isObj(result)) return {};
  const u = isObj(result.totalUsage) ? result.totalUsage : isObj(result.usage) ? result.usage : undefined;
  if (!u) return {};
  const out: ChatUsage = { usage: u };
  const input = count(u.prompt_tokens) ?? count(u.input_tokens) ?? count(u.inputTokens) ?? count(u.promptTokens);
  const output = count(u.completion_tokens) ?? count(u.output_tokens) ?? count(u.outputTokens) ?? count(u.completionTokens);
  const total = count(u.total_tokens) ?? count(u.totalTokens);
  if (input !== undefined) out.inputTokens = input;
  if (output !== undefined) out.outputTokens = output;
  if (total !== undefined) out.tokensUsed = total;
  return out;
}

/** The model named by a result (`model`, an AI SDK result's `response.modelId`), else by a request argument (`{ model }`). */
export function modelFrom(args: readonly unknown[], result: unknown): string | undefined {
  if (isObj(result) && typeof result.model === "string" && result.model !== "") return result.model;
  const modelId = isObj(result) && isObj(result.response) ? str(result.response.modelId) : undefined;
  if (modelId !== undefined && modelId !== "") return modelId;
  for (const a of args) if (isObj(a) && typeof a.model === "string" && a.model !== "") return a.model;
  return undefined;
}

/** Why generation stopped, in the provider's words. */
export function finishReasonOf(result: unknown): string | undefined {
  if (!isObj(result)) return undefined;
  const choice = first(result.choices);
  const r = (isObj(choice) ? str(choice.finish_reason) : undefined) ?? str(result.stop_reason) ?? str(result.finishReason) ?? str(result.finish_reason);
  return r !== undefined && r !== "" ? r : undefined;
}

/**
 * Each choice's finish reason, by index, when a result has several choices (`n` > 1), also as
 * {@link fromChunks} assembled them from a stream (`finishReasons`): another choice than the first
 * may have been cut short (`length`).
 */
export function finishReasonsOf(result: unknown): string[] | undefined {
  if (!isObj(result)) return undefined;
  if (severalChoices(result)) return fromChoices(result.choices).finishReasons;
  const listed = result.finishReasons;
  return Array.isArray(listed) && listed.every((r) => typeof r === "string") ? listed : undefined;
}

/**
 * Tool calls the model asked for: OpenAI `tool_calls` (and a legacy `function_call`) of every
 * choice, each with `choice`, its choice's index, when there are several (until 2026-12-05 the
 * first choice's only), AI SDK `toolCalls`, Anthropic `tool_use` blocks.
 */
export function toolCallsOf(result: unknown): unknown[] | undefined {
  if (!isObj(result)) return undefined;
  const calls = Array.isArray(result.choices) ? fromChoices(result.choices).toolCalls : undefined;
  if (calls !== undefined) return calls;
  if (Array.isArray(result.toolCalls) && result.toolCalls.length > 0) return result.toolCalls;
  if (Array.isArray(result.content)) {
    const uses = result.content.filter((b) => isObj(b) && b.type === "tool_use");
    if (uses.length > 0) return uses;
  }
  return undefined;
}

/**
 * AI SDK stream parts (v4 to v6) whose text is not the response: reasoning, tool input. Their
 * `text` or `delta` (reasoning text, a tool call's JSON) is not what the app shows (found by
 * review, 2026-12-03: it was recorded as the response). The parts named by a plain word
 * (`start`, `finish`, `error`, `source`, …) carry no text field, and need no rule.
 */
const AI_SDK_NON_TEXT_PARTS = new Set([
  "reasoning", "reasoning-start", "reasoning-delta", "reasoning-end", "reasoning-signature", "redacted-reasoning", "reasoning-part-finish",
  "tool-input-start", "tool-input-delta", "tool-input-end", "tool-call-streaming-start", "tool-call-delta",
]);

/** OpenAI's streamed events (Responses API, Realtime) whose `delta` is response text. */
const OPENAI_TEXT_DELTAS = new Set(["response.output_text.delta", "response.refusal.delta", "response.text.delta", "response.audio_transcript.delta"]);

/**
 * The text piece of one streamed chunk: a string, `text`, `delta` / `delta.text`, or
 * `choices[0].delta.content`; of OpenAI's `response.*` events only the text deltas (the `.done`
 * events repeat the text; other deltas are tool-call JSON, reasoning or audio); none of an AI SDK
 * reasoning or tool-input part. Undefined for a chunk with no text (a stream of none is recorded
 * as its items).
 */
function chunkText(item: unknown): string | undefined {
  if (typeof item === "string") return item;
  if (!isObj(item)) return undefined;
  const type = item.type;
  if (typeof type === "string") {
    if (type.startsWith("response.")) return OPENAI_TEXT_DELTAS.has(type) ? str(item.delta) : undefined;
    if (AI_SDK_NON_TEXT_PARTS.has(type)) return undefined;
  }
  const choice = first(item.choices);
  // (a refusal streams as `delta.refusal`, content null)
  // (an audio answer streams its transcript as `delta.audio.transcript`, content null)
  if (isObj(choice) && isObj(choice.delta)) {
    const d = choice.delta;
    return (str(d.content) ?? "") + (str(d.refusal) ?? "") + (isObj(d.audio) ? (str(d.audio.transcript) ?? "") : "");
  }
  if (isObj(item.delta)) return str(item.delta.text) ?? "";
  return str(item.text) ?? str(item.delta) ?? str(item.textDelta) ?? str(item.content);
}

/**
 * The index of the first streamed chunk that carries output (text, or a tool call), for the time
 * to first token: not a role-only first chunk, an AI SDK `start` part or an Anthropic
 * `message_start`. Undefined when none does.
 */
export function firstOutputIndex(items: readonly unknown[]): number | undefined {
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const t = chunkText(item);
    if (t !== undefined && t !== "") return i;
    if (!isObj(item)) continue;
    const type = item.type;
    if (type === "tool-call" || type === "tool-input-start" || type === "tool-call-streaming-start" || type === "response.function_call_arguments.delta") return i;
    if (type === "content_block_start" && isObj(item.content_block) && item.content_block.type === "tool_use") return i;
    const choice = first(item.choices);
    if (isObj(choice) && isObj(choice.delta) && Array.isArray(choice.delta.tool_calls) && choice.delta.tool_calls.length > 0) return i;
  }
  return undefined;
}

/**
 * The response of a generator that streamed it: the chunks' text joined, or the items as JSON
 * when they carry no text. Usage, model and finish reason come from the chunks that have them.
 */
export function fromChunks(items: readonly unknown[]): { response: ChatContent; last: Obj } {
  let text = "";
  let anyText = false;
  const last: Obj = {};
  const toolCalls: unknown[] = [];
  let toolUses: Map<number, Obj> | undefined;
  let totalUsage = false;
  // OpenAI chat chunks, also read as the wrapper reads them: each choice's text and tool calls
  let chat: ChatChunkAccumulator | undefined;
  for (const item of items) {
    if (isChatChunk(item)) (chat ??= new ChatChunkAccumulator()).add(item);
    const t = chunkText(item);
    if (t !== undefined) {
      text += t;
      anyText = true;
    }
    if (!isObj(item)) continue;
    // Anthropic's raw stream events: the model and input tokens come in `message_start`, the stop
    // reason and output tokens in `message_delta` (its usage adds to the start's)
    if (item.type === "message_start" && isObj(item.message)) {
      const m = item.message;
      if (typeof m.model === "string") last.model = m.model;
      if (isObj(m.usage)) last.usage = { ...m.usage };
      continue;
    }
    // Anthropic's tool_use blocks: started by content_block_start, their input streamed as
    // input_json_delta pieces (kept as the text received when it does not parse: a cut stream)
    if (item.type === "content_block_start" && isObj(item.content_block) && item.content_block.type === "tool_use") {
      const block = item.content_block;
      const use: Obj = { type: "tool_use", id: block.id, name: block.name, input: isObj(block.input) && Object.keys(block.input).length > 0 ? block.input : "" };
      toolCalls.push(use);
      // (by index within its message: a later message, an agent loop's, reuses the indexes)
      if (typeof item.index === "number") (toolUses ??= new Map()).set(item.index, use);
      continue;
    }
    if (item.type === "content_block_delta" && isObj(item.delta) && item.delta.type === "input_json_delta") {
      const use = typeof item.index === "number" ? toolUses?.get(item.index) : undefined;
      if (use !== undefined && typeof item.delta.partial_json === "string") use.input = (typeof use.input === "string" ? use.input : "") + item.delta.partial_json;
      continue;
    }
    if (item.type === "message_delta") {
      const reason = isObj(item.delta) ? str(item.delta.stop_reason) : undefined;
      if (reason) last.finishReason = reason;
      if (isObj(item.usage)) {
        // (the SDK's own MessageStream takes only the delta's non-null counts: `input_tokens` and
        // the cache counts may be null there)
        const usage: Obj = { ...(isObj(last.usage) ? last.usage : {}) };
        for (const [k, v] of Object.entries(item.usage)) if (v !== null && v !== undefined) usage[k] = v;
        last.usage = usage;
      }
      continue;
    }
    // OpenAI Responses API events carry the Response: its model, usage, status and tool calls
    if (typeof item.type === "string" && item.type.startsWith("response.") && isObj(item.response)) {
      const r = item.response;
      if (typeof r.model === "string") last.model = r.model;
      if (isObj(r.usage)) last.usage = r.usage;
      const status = str(r.status);
      if (status !== undefined && status !== "in_progress" && status !== "queued") last.finishReason = status;
      const calls = Array.isArray(r.output) ? r.output.filter((o) => isObj(o) && o.type === "function_call") : [];
      if (calls.length > 0) last.toolCalls = calls;
      continue;
    }
    // AI SDK stream parts: tool calls, the step's model, and the whole call's usage at `finish`
    // (`totalUsage`, all steps) over a step's (`finish-step`'s `usage`)
    if (item.type === "tool-call") {
      toolCalls.push(item);
      continue;
    }
    if (isObj(item.totalUsage)) {
      last.usage = item.totalUsage;
      totalUsage = true;
    } else if (isObj(item.usage) && !totalUsage) last.usage = item.usage;
    if (typeof item.model === "string") last.model = item.model;
    else if (isObj(item.response) && typeof item.response.modelId === "string") last.model = item.response.modelId;
    const reason = finishReasonOf(item);
    if (reason !== undefined) last.finishReason = reason;
  }
  for (const use of toolCalls as Obj[]) {
    if (use.type !== "tool_use" || typeof use.input !== "string") continue;
    if (use.input === "") use.input = {};
    else {
      try {
        use.input = JSON.parse(use.input) as unknown;
      } catch {
        // (an input cut short: kept as the text received)
      }
    }
  }
  if (toolCalls.length > 0 && last.toolCalls === undefined) last.toolCalls = toolCalls;
  if (chat !== undefined) {
    const c = chat.result();
    // (a streamed chat completion's tool calls were not recorded at all until 2026-12-05)
    if (c.toolCalls !== undefined && last.toolCalls === undefined) last.toolCalls = c.toolCalls;
    // several choices (`n` > 1): each one's text and finish reason, not the first's and the
    // others' pieces joined into it
    if (Array.isArray(c.response)) {
      if (c.finishReason !== undefined) last.finishReason = c.finishReason;
      else delete last.finishReason;
      if (c.finishReasons !== undefined) last.finishReasons = c.finishReasons;
      return { response: c.response, last };
    }
  }
  return { response: anyText ? text : [...items], last };
}
