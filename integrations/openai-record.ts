/**
 * Turns OpenAI requests, responses and stream chunks into the fields of one ChatInteraction.
 * Pure functions and small accumulators: no I/O, no logger. Values come from the network, so
 * every read is defensive even where the SDK's types promise a shape.
 */
import { copyUsage, toJsonData } from "../src/record/serialize.js";
import type { ChatCompletion, ChatCompletionChunk } from "openai/resources/chat/completions";
import type { Response as OpenAIResponse, ResponseStreamEvent } from "openai/resources/responses/responses";

/** What a call produced, in the logger's vocabulary (see ChatInteractionInput). */
export interface ChatOutcome {
  model?: string;
  /**
   * the provider's id of what it answered (a chat completion's `chatcmpl-…`, a Response's
   * `resp_…`): what a later call's `previous_response_id` names
   */
  responseId?: string;
  response?: string | unknown[];
  inputTokens?: number;
  outputTokens?: number;
  usage?: unknown;
  finishReason?: string;
  /**
   * each choice's finish reason, by index, when the answer has more than one choice (`n` > 1):
   * `finishReason` is the first choice's, and another may have been cut short (`length`)
   */
  finishReasons?: string[];
  toolCalls?: unknown[];
  /** set when the provider reported a failure inside a 200 response (stream `error` event, `response.failed`) */
  errorMessage?: string;
  /** a Response run in the background (`background: true`): its answer is fetched later (see openai.ts, retrievals) */
  background?: true;
}


/** A JSON object as read from the network or the app's params (not an array). */
export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined);

/**
 * Token counts of either API's `usage` object (chat: prompt/completion, responses: input/output),
 * added to `out`. (Adding members to an object made by spreading another is slow on V8, ~1 µs per
 * member, so outcomes are built by assignment.)
 */
export function addUsage(out: ChatOutcome, usage: unknown): ChatOutcome {
  if (!isObj(usage)) return out;
  out.usage = usage;
  const input = int(usage.prompt_tokens) ?? int(usage.input_tokens);
  const output = int(usage.completion_tokens) ?? int(usage.output_tokens);
  if (input !== undefined) out.inputTokens = input;
  if (output !== undefined) out.outputTokens = output;
  return out;
}

/** The prompt as given: chat `messages`, or the Responses API's `input` (with `instructions`). */
export function promptOf(api: "chat" | "responses", body: unknown): string | unknown[] | Obj {
  if (!isObj(body)) return "";
  if (api === "chat") return Array.isArray(body.messages) ? body.messages : "";
  const input = body.input;
  const instructions = body.instructions;
  // a stored prompt (`prompt: { id, version, variables }`): its variables are the app's input
  // to it, often all of it (no `input` at all); they were not recorded (found 2026-12-05)
  const stored = body.prompt;
  if (isObj(stored)) return typeof instructions === "string" && instructions.length > 0 ? { prompt: stored, instructions, input: input ?? null } : { prompt: stored, input: input ?? null };
  if (typeof instructions === "string" && instructions.length > 0) return { instructions, input: input ?? null };
  if (typeof input === "string" || Array.isArray(input)) return input;
  return isObj(input) ? input : "";
}

/** What a chat message says: its content, or its refusal, or (an audio answer, content null) its audio's transcript. */
function messageText(message: unknown): string {
  if (!isObj(message)) return "";
  if (typeof message.content === "string") return message.content;
  if (typeof message.refusal === "string") return message.refusal;
  return isObj(message.audio) && typeof message.audio.transcript === "string" ? message.audio.transcript : "";
}

/** A streamed chat delta's text: content, refusal, or an audio answer's transcript (never its audio data). */
function deltaText(delta: Obj): string {
  let piece = (typeof delta.content === "string" ? delta.content : "") + (typeof delta.refusal === "string" ? delta.refusal : "");
  if (isObj(delta.audio) && typeof delta.audio.transcript === "string") piece += delta.audio.transcript;
  return piece;
}

/** A non-streamed chat completion. */
export function fromChatCompletion(completion: ChatCompletion | unknown): ChatOutcome {
  if (!isObj(completion)) return {};
  const out = addUsage({}, completion.usage);
  const model = str(completion.model);
  if (model) out.model = model;
  const id = str(completion.id);
  if (id) out.responseId = id;
  const choices = Array.isArray(completion.choices) ? completion.choices.filter(isObj) : [];
  const first = choices[0];
  out.response = choices.length > 1 ? choices.map((c) => ({ index: c.index, content: messageText(c.message) })) : messageText(first?.message);
  const finish = str(first?.finish_reason);
  if (finish) out.finishReason = finish;
  if (choices.length > 1) out.finishReasons = choices.map((c) => str(c.finish_reason) ?? "");
  // With several choices (`n` > 1), each call says which choice made it (`choice`: its index):
  // the choices' calls were one list, and the record could not tell two answers' calls apart
  // from one answer calling twice (left open by the OpenAI new-user pass, fixed 2026-12-05).
  const toolCalls: unknown[] = [];
  const several = choices.length > 1;
  for (const c of choices) {
    const msg = isObj(c.message) ? c.message : {};
    if (Array.isArray(msg.tool_calls)) for (const tc of msg.tool_calls) toolCalls.push(several && isObj(tc) ? { ...tc, choice: c.index } : tc);
    if (isObj(msg.function_call)) toolCalls.push(several ? { type: "function_call", function: msg.function_call, choice: c.index } : { type: "function_call", function: msg.function_call });
  }
  if (toolCalls.length > 0) out.toolCalls = toolCalls;
  return out;
}

interface ToolCallDraft {
  /** the choice whose call it is (see fromChatCompletion: recorded when there are several) */
  choice: number;
  index: number;
  id?: string;
  type?: string;
  function: { name: string; arguments: string };
}

/** Assembles a streamed chat completion from its chunks (content, refusals, tool-call deltas, usage). */
export class ChatChunkAccumulator {
  private model: string | undefined;
  private id: string | undefined;
  // text and finish reason per choice index; Maps only once a stream has more than one choice
  // (almost every stream has one: choice 0)
  private text0: string | undefined;
  private finish0: string | undefined;
  private text: Map<number, string> | undefined;
  private finish: Map<number, string> | undefined;
  private tools: Map<string, ToolCallDraft> | undefined;
  private usage: unknown;
  /** the choices that appeared: 0, and the others (a Set only once a stream has more than one) */
  private seen0 = false;
  private seenOther: Set<number> | undefined;
  /** true once a chunk carried content, a refusal or a tool call */
  sawContent = false;

  /** Adds one chunk; returns true when it is the first one that carried output. */
  add(chunk: ChatCompletionChunk | unknown): boolean {
    if (!isObj(chunk)) return false;
    const before = this.sawContent;
    this.model ??= str(chunk.model);
    this.id ??= str(chunk.id);
    // Copied as it arrives: the app is handed the same chunk, and the record is made at the
    // stream's end. (Some providers send usage with every chunk: the copy by spreads first, cheap
    // for plain JSON.)
    if (isObj(chunk.usage)) this.usage = copyUsage(chunk.usage);
    if (!Array.isArray(chunk.choices)) return false;
    for (const choice of chunk.choices) {
      if (!isObj(choice)) continue;
      const index = int(choice.index) ?? 0;
      if (index === 0) this.seen0 = true;
      else (this.seenOther ??= new Set()).add(index);
      const delta = isObj(choice.delta) ? choice.delta : {};
      const piece = deltaText(delta);
      if (piece.length > 0) {
        if (index === 0) this.text0 = (this.text0 ?? "") + piece;
        else (this.text ??= new Map()).set(index, (this.text.get(index) ?? "") + piece);
        this.sawContent = true;
      }
      if (Array.isArray(delta.tool_calls)) for (const tc of delta.tool_calls) this.addToolDelta(index, tc);
      if (isObj(delta.function_call)) this.addToolDelta(index, { index: 0, type: "function_call", function: delta.function_call });
      const fr = str(choice.finish_reason);
      if (fr) {
        if (index === 0) this.finish0 = fr;
        else (this.finish ??= new Map()).set(index, fr);
      }
    }
    return !before && this.sawContent;
  }

  private addToolDelta(choice: number, tc: unknown): void {
    if (!isObj(tc)) return;
    const key = `${choice}:${int(tc.index) ?? 0}`;
    const tools = (this.tools ??= new Map());
    let draft = tools.get(key);
    if (!draft) {
      draft = { choice, index: int(tc.index) ?? 0, function: { name: "", arguments: "" } };
      tools.set(key, draft);
    }
    const id = str(tc.id);
    if (id) draft.id = id;
    const type = str(tc.type);
    if (type) draft.type = type;
    const fn = isObj(tc.function) ? tc.function : {};
    // (set, not appended, as the SDK's own accumulator does: a compatible server may repeat it in every delta)
    if (typeof fn.name === "string" && fn.name !== "") draft.function.name = fn.name;
    if (typeof fn.arguments === "string") draft.function.arguments += fn.arguments;
    this.sawContent = true;
  }

  /** True when the provider said the stream finished: every choice that appeared has its finish_reason (n > 1: not only the first to end). */
  get finished(): boolean {
    if (!this.seen0 && this.seenOther === undefined) return false;
    if (this.seen0 && this.finish0 === undefined) return false;
    if (this.seenOther) for (const i of this.seenOther) if (!this.finish?.has(i)) return false;
    return true;
  }

  result(): ChatOutcome {
    const out = addUsage({}, this.usage);
    if (this.model) out.model = this.model;
    if (this.id) out.responseId = this.id;
    const text = this.text;
    const finish = this.finish;
    if (text === undefined && finish === undefined) {
      out.response = this.text0 ?? "";
      if (this.finish0) out.finishReason = this.finish0;
    } else {
      const textOf = (i: number): string | undefined => (i === 0 ? this.text0 : text?.get(i));
      const keys = new Set<number>([...(text?.keys() ?? []), ...(finish?.keys() ?? [])]);
      if (this.text0 !== undefined || this.finish0 !== undefined) keys.add(0);
      const indexes = [...keys].sort((a, b) => a - b);
      out.response = indexes.length > 1 ? indexes.map((i) => ({ index: i, content: textOf(i) ?? "" })) : (textOf(indexes[0] ?? 0) ?? "");
      const fr = this.finish0 ?? finish?.values().next().value;
      if (fr) out.finishReason = fr;
      if (indexes.length > 1) out.finishReasons = indexes.map((i) => (i === 0 ? this.finish0 : finish?.get(i)) ?? "");
    }
    if (this.tools !== undefined && this.tools.size > 0) {
      // (several choices: each call says which one made it, as a completion's do)
      const several = this.seenOther !== undefined && (this.seen0 || this.seenOther.size > 1);
      out.toolCalls = [...this.tools.values()].map(({ choice, index, id, type, function: fn }) => ({
        index,
        ...(id !== undefined ? { id } : {}),
        type: type ?? "function",
        function: fn,
        ...(several ? { choice } : {}),
      }));
    }
    return out;
  }
}

function responseText(output: unknown[]): string {
  let text = "";
  for (const item of output) {
    if (!isObj(item) || item.type !== "message" || !Array.isArray(item.content)) continue;
    for (const part of item.content) {
      if (!isObj(part)) continue;
      if (part.type === "output_text" && typeof part.text === "string") text += part.text;
      else if (part.type === "refusal" && typeof part.refusal === "string") text += part.refusal;
    }
  }
  return text;
}

/** A Responses API `Response` (non-streamed, or the final one of a stream). */
export function fromResponse(response: OpenAIResponse | unknown): ChatOutcome {
  if (!isObj(response)) return {};
  const out = addUsage({}, response.usage);
  const model = str(response.model);
  if (model) out.model = model;
  const id = str(response.id);
  if (id) out.responseId = id;
  const output = Array.isArray(response.output) ? response.output : [];
  // from the output items, as a stream's text is: the SDK's own `output_text` joins only the
  // output_text parts, so a refusal was recorded as "" (found by review, 2026-12-03)
  out.response = Array.isArray(response.output) ? responseText(output) : typeof response.output_text === "string" ? response.output_text : "";
  if (response.background === true) out.background = true;
  const status = str(response.status);
  if (status === "incomplete") {
    const details = isObj(response.incomplete_details) ? response.incomplete_details : {};
    out.finishReason = str(details.reason) ?? "incomplete";
  } else if (status) out.finishReason = status;
  const calls = output.filter(isToolItem);
  if (calls.length > 0) out.toolCalls = calls;
  if (status === "failed") {
    const err = isObj(response.error) ? response.error : {};
    out.errorMessage = str(err.message) ?? "response failed";
  }
  return out;
}

/**
 * Output items that are neither a call nor a call's output: what the model said or thought, the
 * tools it was given (an MCP server's listing, with every tool's schema, in the first turn that
 * uses the server; `additional_tools`), and a compaction's encrypted summary. Recorded as tool
 * calls until 2026-12-05: a turn with an MCP server counted a call the model never made.
 */
const NOT_TOOL_ITEMS: ReadonlySet<string> = new Set(["message", "reasoning", "mcp_list_tools", "additional_tools", "compaction"]);

/** An output item of a Response that is a tool call (a function, custom tool, web search … call) or a tool's output. */
function isToolItem(item: unknown): item is Obj {
  return isObj(item) && typeof item.type === "string" && !NOT_TOOL_ITEMS.has(item.type);
}

/** Follows a Responses API event stream; the final `response.*` event carries the whole Response. */
export class ResponseEventAccumulator {
  /** what the final Response says, read (and its objects copied) when it arrived */
  private final: ChatOutcome | undefined;
  /** a final `response.*` event arrived (with or without its Response) */
  private ended = false;
  private model: string | undefined;
  /** the Response's id, from its first event (a stream cut before the final one still has it) */
  private id: string | undefined;
  private text = "";
  private errorMessage: string | undefined;
  /**
   * Tool-call output items (function calls, custom tool calls, …) as they stream, by output
   * index: the final Response lists them whole, but a stream aborted, left or cut before it still
   * records the calls that arrived (their arguments as far as they came), as chat streams do.
   */
  private items: Map<number, Obj> | undefined;
  sawContent = false;

  /** Adds one event; returns true when it is the first one that carried output. */
  add(event: ResponseStreamEvent | unknown): boolean {
    if (!isObj(event)) return false;
    const before = this.sawContent;
    const type = event.type;
    if (type === "response.output_text.delta" || type === "response.refusal.delta") {
      if (typeof event.delta === "string") this.text += event.delta;
      this.sawContent = true;
    } else if (type === "response.function_call_arguments.delta" || type === "response.custom_tool_call_input.delta") {
      this.sawContent = true;
      const item = this.items?.get(event.output_index as number);
      if (item && typeof event.delta === "string") {
        const key = type === "response.custom_tool_call_input.delta" ? "input" : "arguments";
        item[key] = (typeof item[key] === "string" ? item[key] : "") + event.delta;
      }
    } else if (type === "response.output_item.added" || type === "response.output_item.done") {
      // (copied as it arrives: the app is handed the same item)
      const item = event.item;
      if (isToolItem(item) && typeof event.output_index === "number" && this.final === undefined) {
        (this.items ??= new Map()).set(event.output_index, toJsonData(item) as Obj);
      }
    } else if (type === "response.function_call_arguments.done" || type === "response.custom_tool_call_input.done") {
      const item = this.items?.get(event.output_index as number);
      const key = type === "response.custom_tool_call_input.done" ? "input" : "arguments";
      const whole = type === "response.custom_tool_call_input.done" ? event.input : event.arguments;
      if (item && typeof whole === "string") item[key] = whole;
    } else if (type === "response.created" || type === "response.in_progress") {
      if (isObj(event.response)) {
        this.model ??= str(event.response.model);
        this.id ??= str(event.response.id);
      }
    } else if (type === "response.completed" || type === "response.incomplete" || type === "response.failed") {
      this.ended = true;
      if (type === "response.failed" && !isObj(event.response)) this.errorMessage ??= "response failed";
      if (!isObj(event.response)) return !before && this.sawContent;
      const final = fromResponse(event.response);
      // (copied as they arrive: the app is handed the same Response)
      if (final.usage !== undefined) final.usage = copyUsage(final.usage);
      if (final.toolCalls !== undefined) final.toolCalls = toJsonData(final.toolCalls) as unknown[];
      this.final = final;
      this.items = undefined; // (the final Response lists them whole)
    } else if (type === "error") {
      this.errorMessage = str(event.message) ?? "stream error";
    }
    return !before && this.sawContent;
  }

  get finished(): boolean {
    return this.ended || this.final !== undefined || this.errorMessage !== undefined;
  }

  result(): ChatOutcome {
    const out: ChatOutcome = this.final !== undefined ? { ...this.final } : { response: this.text };
    if (this.final === undefined && this.items !== undefined && this.items.size > 0) {
      out.toolCalls = [...this.items.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    }
    if (out.model === undefined && this.model) out.model = this.model;
    if (out.responseId === undefined && this.id) out.responseId = this.id;
    if (this.errorMessage !== undefined) out.errorMessage = this.errorMessage;
    return out;
  }
}
