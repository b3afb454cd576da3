import { types } from "node:util";
import { z } from "zod";
import { forLogger, httpStatusOf } from "../src/instrument.js";
import type { AuditLogger } from "../src/logger.js";
import type { ChatInteractionInput } from "../src/types.js";
import { finishReasonOf, finishReasonsOf, firstOutputIndex, fromChunks, modelFrom, promptFromArgs, responseFromResult, toolCallsOf, usageFromResult, type ChatContent, type ChatUsage } from "./chat-extract.js";
import { assertCalledAsFactory, failureMessageOf, isNodeStream, withLinks, auditMethodDecorator, capturedOrNoted, hasNotes, noteCaptureFailure, type CaptureNotes, decoratorOptionsShape, parseDecoratorInput, type AuditDecoratorOptions, type AuditMethodDecorator, type FinishedCall } from "./wrap.js";

/**
 * Options of {@link AuditChat}. The extractors replace the built-in guesses; `captureArgs` /
 * `captureResult` run first (so a redacting function is applied before the prompt is read).
 *
 * @example
 * @AuditChat({ model: "claude-3", prompt: ([q]) => String(q), response: (r) => (r as Answer).text })
 */
export interface AuditChatOptions extends AuditDecoratorOptions {
  /** the model; else read from the result's or the request argument's `model` ("unknown" if neither) */
  model?: string | undefined;
  provider?: string | undefined;
  /** the recorded `interactionType`; default "chat" */
  interactionType?: string | undefined;
  persona?: string | undefined;
  /** the prompt from the (captured) arguments; default: first string, a messages list, or `{ messages | prompt | input }` */
  prompt?: ((args: readonly unknown[]) => ChatContent) | undefined;
  /**
   * the response from the (captured) return value; default: a string, or `text`, `content`,
   * `choices[0].message.content` (several choices: each one's, `[{ index, content }]`),
   * `output_text`. For generator methods it gets the list of yielded items.
   */
  response?: ((result: unknown) => ChatContent) | undefined;
  /** token usage from the return value; default: its `usage` in OpenAI, Anthropic or AI SDK naming */
  usage?: ((result: unknown) => ChatUsage | undefined) | undefined;
}

const fn = z.custom<(...a: never[]) => unknown>((v) => typeof v === "function", "must be a function");
const schema = z.object({
  options: z
    .strictObject(
      {
        ...decoratorOptionsShape,
        model: z.string().min(1).max(256).optional(),
        provider: z.string().min(1).max(128).optional(),
        interactionType: z.string().min(1).max(128).optional(),
        persona: z.string().min(1).max(256).optional(),
        prompt: fn.optional(),
        response: fn.optional(),
        usage: fn.optional(),
      },
      { error: "must be an options object" },
    )
    .optional(),
});

/**
 * Records each call of the method as a ChatInteraction: prompt, response, model and token usage
 * read from the arguments and the result (or given by the options), `durationSeconds`, and
 * `success` / `errorMessage`. A generator method that streams the answer is recorded when it
 * finishes, with the chunks' text as the response and `timeToFirstTokenSeconds`.
 *
 * @example
 * class Assistant {
 *   @AuditChat({ model: "claude-3" })
 *   async ask(prompt: string) { return client.complete(prompt) }
 * }
 */
export function AuditChat(options: AuditChatOptions = {}): AuditMethodDecorator {
  assertCalledAsFactory("@AuditChat", arguments.length);
  const o = (parseDecoratorInput("@AuditChat", schema, { options }).options ?? {}) as AuditChatOptions;
  return auditMethodDecorator({
    decorator: "@AuditChat",
    options: o,
    // (with `captureArgs: false` the arguments are not read, for the prompt or the model)
    readsArgs: o.captureArgs !== false,
    linkChildren: true,
    collectItems: true,
    ...(o.persona !== undefined ? { contextPatch: { persona: o.persona } } : {}),
    record(logger, call) {
      logger.logChatInteraction(forLogger(logger, chatInput(o, call, logger)));
    },
  });
}

/**
 * The record's input. A capture option or extractor that throws loses what it gives (the prompt
 * or the response then not captured, the usage read as without the option), not the record: the
 * failure is noted in `metadata.auditChat` and reported (see noteCaptureFailure).
 */
function chatInput(o: AuditChatOptions, call: FinishedCall, logger: AuditLogger): ChatInteractionInput {
  const { outcome, yielded } = call;
  const notes: CaptureNotes = {};
  const args = capturedOrNoted(logger, notes, "captureArgs", o.captureArgs, call.args);
  let prompt: ChatInteractionInput["prompt"] | undefined = "";
  if (args !== undefined) {
    try {
      // (a request among the arguments, NestJS's @Req(), is no prompt: its members were written
      // as one, its headers' tokens included; a `prompt` function still gets it)
      prompt = o.prompt ? o.prompt(asList(args.value)) : promptFromArgs(asList(args.value).filter((a) => !isNodeStream(a)));
    } catch (error) {
      if (!o.prompt) throw error;
      prompt = noteCaptureFailure(logger, notes, "prompt", error);
    }
  }
  const extract = <T>(label: "response" | "usage", fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (error) {
      return noteCaptureFailure(logger, notes, label, error);
    }
  };
  // what the method produced: its return value, or for a generator the items it yielded
  let raw: unknown = outcome.status === "ok" ? outcome.value : undefined;
  let meta: Record<string, unknown> = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  let response: ChatContent | undefined;
  // what `captureResult` kept of the result (a function's answer), when it is a function
  let kept: { value: unknown } | undefined;
  if (yielded?.items) {
    const chunks = fromChunks(yielded.items);
    meta = raw !== null && typeof raw === "object" ? { ...chunks.last, ...(raw as Record<string, unknown>) } : chunks.last;
    raw = yielded.items;
    const res = (kept = capturedOrNoted(logger, notes, "captureResult", o.captureResult, raw));
    response = res === undefined ? undefined : o.response ? extract("response", () => o.response!(res.value)) : res.value === raw ? chunks.response : responseFromResult(res.value);
  } else if (outcome.status === "ok") {
    // (an object that is no data, a class instance, is read through a view of the members the
    // extractors read, its promises left out and marked handled)
    if (!isData(raw)) meta = viewOf(raw as object);
    const res = (kept = capturedOrNoted(logger, notes, "captureResult", o.captureResult, raw));
    if (res !== undefined && !isData(res.value)) kept = { value: res.value === raw ? meta : viewOf(res.value as object) };
    response = res === undefined ? undefined : o.response ? extract("response", () => o.response!(res.value)) : responseFromResult(kept!.value);
    if (res !== undefined && !o.response && kept!.value !== res.value && response === kept!.value) response = res.value as ChatContent;
  }
  // A result that is no data (an SDK stream the method returned, an AI SDK streamText result):
  // not read here, so its response is not captured, and the record says what it was (it was
  // refused, and the call not recorded at all). A generator method that yields the stream's
  // chunks (`yield* stream`), or a wrapped client, records the response.
  let notRead: string | undefined;
  if (response !== undefined && !o.response && !isData(response)) {
    notRead = describeObject(response);
    response = undefined;
  } else if (typeof response === "string" && !o.response && typeof kept?.value === "function") {
    // (a function returned: its source text is no answer, and may hold what the app keeps secret)
    notRead = "a function";
    response = undefined;
  }
  const usage = (o.usage ? extract("usage", () => o.usage!(yielded ? meta : raw)) : undefined) ?? usageFromResult(meta);
  const model = o.model ?? modelFrom(call.args, meta);
  const finishReason = finishReasonOf(meta) ?? (typeof meta.finishReason === "string" ? meta.finishReason : undefined);
  // (several choices: each one's, as the OpenAI wrapper keeps them in `metadata.openai.finishReasons`)
  const finishReasons = finishReasonsOf(meta)?.map((r) => r.slice(0, 128));
  // Tool calls carry arguments, content like the response: with `captureResult: false` none, with
  // a function only those in what it kept (a function that redacts the result must not see its
  // tool-call arguments recorded from the raw result), else the result's own.
  const toolCalls = o.captureResult === false ? undefined : typeof o.captureResult === "function" ? toolCallsOf(kept?.value) : toolCallsOf(meta);
  const ttft = firstTokenSeconds(yielded);
  const input: ChatInteractionInput = {
    interactionType: o.interactionType ?? "chat",
    prompt: prompt ?? "",
    ...(response !== undefined ? { response } : {}),
    ...(model !== undefined ? { model } : {}),
    ...(o.provider !== undefined ? { provider: o.provider } : {}),
    ...(o.persona !== undefined ? { persona: o.persona } : {}),
    ...usage,
    durationSeconds: call.durationSeconds,
    ...(ttft !== undefined ? { timeToFirstTokenSeconds: ttft } : {}),
    ...(finishReason !== undefined ? { finishReason } : {}),
    ...(toolCalls !== undefined ? { toolCalls } : {}),
    success: outcome.status === "ok",
    // (under a name of its own: a request's context metadata has a `method`, GET or POST, which a
    // plain `method` here replaced in the record)
    metadata: { auditChat: notRead === undefined ? { method: call.qualifiedName } : { method: call.qualifiedName, responseNotRead: notRead } },
  };
  if (finishReasons !== undefined) (input.metadata as { auditChat: Record<string, unknown> }).auditChat.finishReasons = finishReasons;
  if (hasNotes(notes)) Object.assign((input.metadata as { auditChat: Record<string, unknown> }).auditChat, notes);
  // (`captureArgs: false` / `captureResult: false`: not captured, which the record says, rather
  // than an empty prompt or response with its hash)
  if (args === undefined || prompt === undefined) input.promptCaptured = false;
  if ((o.captureResult === false && (outcome.status === "ok" || yielded?.items)) || notRead !== undefined || notes.resultError !== undefined || notes.responseError !== undefined) input.responseCaptured = false;
  const failure = failureMessageOf(outcome);
  if (failure !== undefined) input.errorMessage = failure;
  // (an SDK's APIError carries the HTTP status, 429 or 500, as the wrapped clients record it)
  const statusCode = outcome.status === "error" ? httpStatusOf(outcome.error) : undefined;
  if (statusCode !== undefined) input.statusCode = statusCode;
  return withLinks(input, call);
}

/**
 * Seconds from the call to the first yielded item that carries output (text, a tool call), not to
 * the first item (a role-only chunk, an AI SDK `start` part: found by a new-user run, 2026-12-03,
 * 0.01 s against the provider's 0.4); the first item's when none is told apart.
 */
function firstTokenSeconds(yielded: FinishedCall["yielded"]): number | undefined {
  if (yielded === undefined) return undefined;
  const { items, times } = yielded;
  if (items !== undefined && times !== undefined) {
    const i = firstOutputIndex(items);
    if (i !== undefined && times[i] !== undefined) return times[i];
  }
  return yielded.firstItemSeconds;
}

/**
 * Plain data a record can hold: a string, an array, or an object the record's schema takes as
 * one (zod's isPlainObject: no constructor, or one whose prototype has its own isPrototypeOf:
 * Object's, of this realm or another's).
 */
function isData(v: unknown): boolean {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return true;
  try {
    const ctor = (v as { constructor?: unknown }).constructor;
    if (typeof ctor !== "function") return true;
    const proto = (ctor as { prototype?: unknown }).prototype;
    return typeof proto === "object" && proto !== null && Object.prototype.hasOwnProperty.call(proto, "isPrototypeOf");
  } catch {
    return false;
  }
}

/** The members of a result the extractors read (chat-extract.ts). */
const READ_MEMBERS = ["choices", "message", "text", "output_text", "content", "response", "answer", "object", "totalUsage", "usage", "model", "stop_reason", "finishReason", "finish_reason", "toolCalls"];

/**
 * The members the extractors read of an object that is no data (an SDK's result class, an AI
 * SDK streamText result), read once each: a getter that throws is left out, and so is a promise
 * (a streamText result's `text`, `usage`, …), marked handled (the AI SDK makes them when read:
 * one left unhandled ended the process when the stream failed).
 */
function viewOf(v: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of READ_MEMBERS) {
    let x: unknown;
    try {
      x = (v as Record<string, unknown>)[key];
    } catch {
      continue;
    }
    if (types.isPromise(x)) {
      try {
        Promise.prototype.then.call(x, undefined, () => {});
      } catch {
        // (a subclass whose constructor takes no executor, OpenAI's APIPromise: `then` cannot
        // make its species; left as it is)
      }
      continue;
    }
    if (x !== undefined) out[key] = x;
  }
  return out;
}

/** What a result that is no data was, for the record: "a Stream (async iterable)". */
function describeObject(v: unknown): string {
  let name = "object";
  try {
    const c = (v as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof c === "string" && c !== "") name = c;
  } catch {
    // (a Proxy whose traps throw)
  }
  let iterable = false;
  try {
    iterable = typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
  } catch {
    // idem
  }
  return `${/^[aeiou]/i.test(name) ? "an" : "a"} ${name}${iterable ? " (async iterable)" : ""}`;
}

function asList(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [v];
}
