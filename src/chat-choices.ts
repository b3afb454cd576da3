/**
 * The choices of an OpenAI-style chat completion (`choices[]`, several with `n` > 1), returned
 * whole or streamed as chunks, in the logger's vocabulary: shared by the OpenAI wrapper
 * (integrations/openai-record.ts) and `@AuditChat` (decorators/chat-extract.ts), so a call is
 * recorded the same way by either. Values come from the network or the app: every read is
 * defensive.
 */
import { copyUsage } from "./record/serialize.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined);

/** One choice's text, when an answer has several (the recorded response is a list of them). */
export interface ChoiceText {
  index: number;
  content: string;
}

/** What the choices of a call say (see ChatInteractionInput for the fields). */
export interface ChoicesOutcome {
  model?: string;
  /** the provider's id of the answer (a chat completion's `chatcmpl-…`) */
  responseId?: string;
  /** the text, or with several choices each choice's text (`[{ index, content }]`) */
  response?: string | ChoiceText[];
  inputTokens?: number;
  outputTokens?: number;
  usage?: unknown;
  /** the first choice's */
  finishReason?: string;
  /**
   * each choice's finish reason, by index, when the answer has more than one choice (`n` > 1):
   * `finishReason` is the first choice's, and another may have been cut short (`length`)
   */
  finishReasons?: string[];
  /** with several choices each call has `choice`, the index of the choice that made it */
  toolCalls?: unknown[];
}

/**
 * Token counts of an OpenAI `usage` object (chat: prompt/completion, responses: input/output),
 * added to `out`. (Adding members to an object made by spreading another is slow on V8, ~1 µs per
 * member, so outcomes are built by assignment.)
 */
export function addUsage<T extends Pick<ChoicesOutcome, "inputTokens" | "outputTokens" | "usage">>(out: T, usage: unknown): T {
  if (!isObj(usage)) return out;
  out.usage = usage;
  const input = int(usage.prompt_tokens) ?? int(usage.input_tokens);
  const output = int(usage.completion_tokens) ?? int(usage.output_tokens);
  if (input !== undefined) out.inputTokens = input;
  if (output !== undefined) out.outputTokens = output;
  return out;
}

/**
 * What a chat message says: its content, or its refusal, or (an audio answer, content null) its
 * audio's transcript; a legacy completion's choice has its `text` instead of a message.
 */
function choiceText(choice: Obj): string {
  const message = choice.message;
  if (!isObj(message)) return typeof choice.text === "string" ? choice.text : "";
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

/**
 * The response, finish reasons and tool calls of a completion's `choices` (objects only; a choice
 * without an `index` is told by its place). One choice: its text, its finish reason, its calls as
 * they are. Several (`n` > 1): each choice's text (`[{ index, content }]`), each one's finish
 * reason, and each call with `choice`, the index of the choice that made it (the app's objects
 * are not changed): one list, two answers' calls read as one answer calling twice.
 */
export function fromChoices(list: readonly unknown[], out: ChoicesOutcome = {}): ChoicesOutcome {
  const choices = list.filter(isObj);
  const several = choices.length > 1;
  const indexOf = (c: Obj, i: number): number => int(c.index) ?? i;
  const first = choices[0];
  out.response = several ? choices.map((c, i) => ({ index: indexOf(c, i), content: choiceText(c) })) : first !== undefined ? choiceText(first) : "";
  const finish = str(first?.finish_reason);
  if (finish) out.finishReason = finish;
  if (several) out.finishReasons = choices.map((c) => str(c.finish_reason) ?? "");
  const toolCalls: unknown[] = [];
  choices.forEach((c, i) => {
    const msg = isObj(c.message) ? c.message : {};
    if (Array.isArray(msg.tool_calls)) for (const tc of msg.tool_calls) toolCalls.push(several && isObj(tc) ? { ...tc, choice: indexOf(c, i) } : tc);
    if (isObj(msg.function_call)) toolCalls.push(several ? { type: "function_call", function: msg.function_call, choice: indexOf(c, i) } : { type: "function_call", function: msg.function_call });
  });
  if (toolCalls.length > 0) out.toolCalls = toolCalls;
  return out;
}

/** Whether `item` looks like a streamed chat completion chunk: `choices` of objects with a `delta`. */
export function isChatChunk(item: unknown): boolean {
  return isObj(item) && Array.isArray(item.choices) && item.choices.some((c) => isObj(c) && isObj(c.delta));
}

interface ToolCallDraft {
  /** the choice whose call it is (see fromChoices: recorded when there are several) */
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
  add(chunk: unknown): boolean {
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

  result(): ChoicesOutcome {
    const out = addUsage<ChoicesOutcome>({}, this.usage);
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

