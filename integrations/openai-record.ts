/**
 * Turns OpenAI requests, responses and stream chunks into the fields of one ChatInteraction.
 * Pure functions and small accumulators: no I/O, no logger. Values come from the network, so
 * every read is defensive even where the SDK's types promise a shape.
 */
import { addUsage, fromChoices, type ChoicesOutcome } from "../src/chat-choices.js";
import { copyUsage, toJsonData } from "../src/record/serialize.js";
import type { ChatCompletion } from "openai/resources/chat/completions";
import type { Response as OpenAIResponse, ResponseStreamEvent } from "openai/resources/responses/responses";

/**
 * What a call produced, in the logger's vocabulary (see ChatInteractionInput): what its choices
 * say (src/chat-choices.ts; `responseId` is also a Response's `resp_…`, what a later call's
 * `previous_response_id` names; `response` a Response's output items too), and more.
 */
export interface ChatOutcome extends Omit<ChoicesOutcome, "response"> {
  response?: string | unknown[];
  /** set when the provider reported a failure inside a 200 response (stream `error` event, `response.failed`) */
  errorMessage?: string;
  /** a Response run in the background (`background: true`): its answer is fetched later (see openai.ts, retrievals) */
  background?: true;
  /**
   * a compacted conversation (`responses.compact()`, `object: "response.compaction"`): how many
   * output items it has and the id of its compaction item, which the next request's input names
   */
  compaction?: { outputItems: number; compactionItemId?: string };
}

export { ChatChunkAccumulator } from "../src/chat-choices.js";

/** A JSON object as read from the network or the app's params (not an array). */
export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

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

/** A non-streamed chat completion. */
export function fromChatCompletion(completion: ChatCompletion | unknown): ChatOutcome {
  if (!isObj(completion)) return {};
  const out = addUsage<ChoicesOutcome>({}, completion.usage);
  const model = str(completion.model);
  if (model) out.model = model;
  const id = str(completion.id);
  if (id) out.responseId = id;
  // (the choices' text, finish reasons and tool calls as @AuditChat reads them: see src/chat-choices.ts)
  return fromChoices(Array.isArray(completion.choices) ? completion.choices : [], out);
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
  const out = addUsage<ChatOutcome>({}, response.usage);
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
  if (response.object === "response.compaction") out.compaction = compactionOf(output);
  return out;
}

/**
 * What a compacted response says of itself: its output is the conversation's user messages, then
 * one `compaction` item whose `encrypted_content` only OpenAI can read (not recorded: it is no
 * text, and it can be long). Its id is what the next request's `input` names.
 */
function compactionOf(output: unknown[]): NonNullable<ChatOutcome["compaction"]> {
  const item = output.find((i): i is Obj => isObj(i) && i.type === "compaction");
  const id = item !== undefined ? str(item.id) : undefined;
  return id !== undefined ? { outputItems: output.length, compactionItemId: id.slice(0, 256) } : { outputItems: output.length };
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
