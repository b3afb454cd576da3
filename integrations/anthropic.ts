/**
 * `wrapAnthropic`: one ChatInteraction per `messages.create()` / `messages.stream()` call of an
 * `@anthropic-ai/sdk` client, without changing what the client returns or throws.
 *
 * How it stays invisible: `create` is replaced on the client's own `messages` object and returns
 * the SDK's original `APIPromise`; only that promise's methods (`then`, `catch`, `finally`,
 * `withResponse`, `asResponse`) are shadowed on the instance so the wrapper sees the result when —
 * and only when — the application asks for it (the SDK parses lazily, and `asResponse()` users
 * read the body themselves). Streams stay the SDK's `Stream`; its async iterator is shadowed to
 * watch the events go by. `messages.stream()` is left alone: its `MessageStream` reads the
 * wrapped `create(..., { stream: true })`, which is where it is recorded.
 *
 * The SDK is an optional peer dependency and is never imported here at run time.
 */
import { auditContext, runInAuditContext } from "../src/context.js";
import { AuditConfigError } from "../src/errors.js";
import { reportRecordFailure, resolveAuditLogger, safeRecord } from "../src/instrument.js";
import type { AuditLogger } from "../src/logger.js";
import { newId } from "../src/record/id.js";
import { toJsonData } from "../src/record/serialize.js";
import type { AuditContextValue, ChatInteractionInput } from "../src/types.js";

/** Marks a wrapped `create` (and `withOptions`), shared by every copy of this package. */
const kWrapped = Symbol.for("audit-logger.anthropic.wrapped");

/** Options of {@link wrapAnthropic}. */
export interface WrapAnthropicOptions {
  /** the logger for this client's calls; else the active context's, else the default logger */
  readonly logger?: AuditLogger;
  /**
   * Hand the prompt, the response text and tool inputs to the logger (which previews, hashes,
   * encrypts or drops them per its own configuration). With `false` only model, counts, timings,
   * stop reason, tool names and errors are recorded. Default true.
   */
  readonly captureContent?: boolean;
}

/** The part of an Anthropic client this wrapper touches (any `@anthropic-ai/sdk` client has it). */
export interface AnthropicClientLike {
  readonly messages: { create(...args: never[]): unknown };
}

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
type Obj = Record<PropertyKey, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null;
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/**
 * Records every `messages.create()` (with and without `stream: true`) and `messages.stream()`
 * call of `client` as one ChatInteraction: model, prompt (system + messages), response text,
 * tokens and raw usage, stop reason, tool calls, time to first token, duration, success or the
 * error with its HTTP status. Returns the same client object (wrapped in place); wrapping again
 * changes nothing. Clients made later with `client.withOptions()` are wrapped too.
 *
 * @example
 * import Anthropic from "@anthropic-ai/sdk";
 * import { wrapAnthropic } from "audit-logger/integrations/anthropic";
 * const anthropic = wrapAnthropic(new Anthropic(), { logger });
 * const msg = await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 256,
 *   messages: [{ role: "user", content: "Hi" }] });        // recorded when it settles
 */
export function wrapAnthropic<C extends AnthropicClientLike>(client: C, options: WrapAnthropicOptions = {}): C {
  const messages = (isObj(client) ? client.messages : undefined) as Obj | undefined;
  if (!isObj(messages) || typeof messages.create !== "function") {
    throw new AuditConfigError([{ field: "client", message: "wrapAnthropic() needs an @anthropic-ai/sdk client (an object with messages.create)" }]);
  }
  const original = messages.create as AnyFn;
  if ((original as unknown as Obj)[kWrapped]) return client;
  const create = function create(this: unknown, ...args: unknown[]): unknown {
    return auditedCreate(original, this, args, options);
  };
  Object.defineProperty(create, kWrapped, { value: true });
  Object.defineProperty(messages, "create", { value: create, writable: true, configurable: true, enumerable: false });
  wrapWithOptions(client as unknown as Obj, options);
  return client;
}

/** `client.withOptions()` builds a new client with new resources: wrap those too. */
function wrapWithOptions(client: Obj, options: WrapAnthropicOptions): void {
  const withOptions = client.withOptions;
  if (typeof withOptions !== "function" || (withOptions as unknown as Obj)[kWrapped]) return;
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const next = Reflect.apply(withOptions, this, args);
    try {
      if (isObj(next) && isObj(next.messages)) wrapAnthropic(next as unknown as AnthropicClientLike, options);
    } catch {
      // not a client after all: hand it back untouched
    }
    return next;
  };
  Object.defineProperty(wrapped, kWrapped, { value: true });
  Object.defineProperty(client, "withOptions", { value: wrapped, writable: true, configurable: true, enumerable: false });
}

function auditedCreate(original: AnyFn, self: unknown, args: unknown[], options: WrapAnthropicOptions): unknown {
  const logger = resolveAuditLogger(options.logger);
  if (!logger) return Reflect.apply(original, self, args);
  let call: ChatCall;
  try {
    call = new ChatCall(logger, args[0], args[1], options.captureContent !== false);
  } catch (err) {
    // params that cannot be read (a Proxy that throws, say): the call runs unrecorded, and the
    // logger says so (an `error` event, else one process warning)
    reportRecordFailure(logger, err);
    return Reflect.apply(original, self, args);
  }
  let result: unknown;
  try {
    // calls made inside (a fetch wrapper, say) get this interaction as their parent
    result = auditContext.run({ parentId: call.id }, () => Reflect.apply(original, self, args));
  } catch (err) {
    call.finish(errorOutcome(err));
    throw err;
  }
  try {
    observeApiPromise(result, call);
  } catch (err) {
    call.finish(errorOutcome(err));
  }
  return result;
}

// ------------------------------------------------------------------ one call, recorded once

interface ToolCall {
  id?: string;
  type: string;
  name?: string;
  input: unknown;
}

interface Outcome {
  model?: string;
  text?: string;
  toolCalls?: ToolCall[];
  usage?: Obj;
  stopReason?: string;
  ttft?: number;
  statusCode?: number;
  requestId?: string;
  messageId?: string;
  error?: string;
  errorType?: string;
  /** for streams: how the stream ended */
  end?: "completed" | "aborted" | "abandoned" | "truncated" | "error";
  events?: number;
}

// A stream or result nobody ever reads is still recorded, when it is garbage-collected.
const abandoned = new FinalizationRegistry<ChatCall>((call) =>
  call.finish({ end: "abandoned", error: "abandoned: the application dropped the result without reading it to the end" }),
);

class ChatCall {
  readonly id = newId();
  private readonly start = performance.now();
  private readonly model: string | undefined;
  private readonly prompt: unknown[];
  readonly method: "messages.create" | "messages.stream";
  readonly stream: boolean;
  private done = false;
  /**
   * The caller's audit context at the call. The record is made in it, and the logger takes the
   * record's user, trace, parent and persona from it (and merges its metadata): a stream is
   * often read, or a promise awaited, in another one.
   */
  private readonly callContext: AuditContextValue | undefined;

  constructor(
    private readonly logger: AuditLogger,
    params: unknown,
    requestOptions: unknown,
    private readonly capture: boolean,
  ) {
    const p = isObj(params) ? params : {};
    this.model = str(p.model);
    const msgs = Array.isArray(p.messages) ? (p.messages as unknown[]) : [];
    // Copied now, as JSON data (what the SDK serialises): the record is made when the call ends,
    // a stream's at its end, and a chat app changes its `messages` by then (pushes the reply,
    // the next question), often while it reads the stream.
    this.prompt = capture ? (toJsonData(p.system !== undefined ? [{ role: "system", content: p.system }, ...msgs] : msgs) as unknown[]) : [];
    this.stream = p.stream === true;
    const headers = isObj(requestOptions) && isObj(requestOptions.headers) ? requestOptions.headers : undefined;
    this.method = headers?.["x-stainless-helper-method"] === "stream" ? "messages.stream" : "messages.create";
    // the caller's context now, not whatever context the stream is read in later
    this.callContext = auditContext.get();
  }

  get elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }

  track(target: object): void {
    if (!this.done) abandoned.register(target, this, this);
  }

  untrack(): void {
    abandoned.unregister(this);
  }

  finish(o: Outcome): void {
    if (this.done) return;
    this.done = true;
    this.untrack();
    const logger = this.logger;
    safeRecord(logger, () => {
      const usage = o.usage;
      const anthropic: Record<string, unknown> = { method: this.method, stream: this.stream };
      if (o.end !== undefined) anthropic.end = o.end;
      if (o.events !== undefined) anthropic.events = o.events;
      if (o.requestId !== undefined) anthropic.requestId = o.requestId;
      if (o.messageId !== undefined) anthropic.messageId = o.messageId;
      if (o.errorType !== undefined) anthropic.errorType = o.errorType;
      if (o.model !== undefined && this.model !== undefined && o.model !== this.model) anthropic.requestedModel = this.model;
      const input: ChatInteractionInput = {
        id: this.id,
        interactionType: "messages",
        provider: "anthropic",
        model: (o.model ?? this.model ?? "unknown").slice(0, 256),
        prompt: this.capture ? this.prompt : "",
        response: this.capture ? (o.text ?? "") : "",
        durationSeconds: this.elapsed,
        success: o.error === undefined,
        metadata: { anthropic },
      };
      if (usage) {
        const inTok = num(usage.input_tokens);
        const outTok = num(usage.output_tokens);
        if (inTok !== undefined) input.inputTokens = inTok;
        if (outTok !== undefined) input.outputTokens = outTok;
        input.usage = usage;
      }
      if (o.stopReason !== undefined) input.finishReason = o.stopReason.slice(0, 128);
      if (o.toolCalls && o.toolCalls.length > 0) input.toolCalls = this.capture ? o.toolCalls : o.toolCalls.map(({ input: _, ...rest }) => rest);
      if (o.ttft !== undefined) input.timeToFirstTokenSeconds = o.ttft;
      if (o.statusCode !== undefined) input.statusCode = o.statusCode;
      if (o.error !== undefined) input.errorMessage = o.error;
      return runInAuditContext(this.callContext, () => logger.logChatInteraction(input));
    });
  }
}

function errorOutcome(err: unknown, partial?: Outcome): Outcome {
  const e = isObj(err) ? err : {};
  const status = num(e.status);
  const type = isObj(e.error) && isObj(e.error.error) ? str(e.error.error.type) : str(e.type);
  const name = typeof e.name === "string" ? e.name : "Error";
  const message = typeof e.message === "string" ? e.message : String(err);
  const requestId = str(e.requestID);
  return {
    ...partial,
    error: `${name}: ${message}`,
    ...(status !== undefined && status >= 100 ? { statusCode: status } : {}),
    ...(type !== undefined ? { errorType: type } : {}),
    ...(requestId !== undefined ? { requestId } : {}),
  };
}

/** Text (text blocks joined like the SDK's `finalText()`), tool calls and usage of a Message. */
function messageOutcome(message: unknown): Outcome {
  if (!isObj(message)) return { error: "The API returned no message." };
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of Array.isArray(message.content) ? message.content : []) {
    if (!isObj(block)) continue;
    if (block.type === "text" && typeof block.text === "string") texts.push(block.text);
    else if (block.type === "tool_use" || block.type === "server_tool_use") {
      toolCalls.push({ ...(str(block.id) ? { id: block.id as string } : {}), type: block.type, ...(str(block.name) ? { name: block.name as string } : {}), input: block.input });
    }
  }
  const o: Outcome = { text: texts.join(" "), toolCalls };
  const model = str(message.model);
  if (model !== undefined) o.model = model;
  if (isObj(message.usage)) o.usage = { ...message.usage };
  const stop = str(message.stop_reason);
  if (stop !== undefined) o.stopReason = stop;
  const id = str(message.id);
  if (id !== undefined) o.messageId = id;
  const requestId = str(message._request_id);
  if (requestId !== undefined) o.requestId = requestId;
  return o;
}

// ------------------------------------------------------------------ the APIPromise

const PROMISE_METHODS = ["then", "catch", "finally", "withResponse"] as const;

/**
 * Shadows the promise's methods on the instance: the result is observed the first time the
 * application asks for it, through the SDK's own (memoised) parse, so nothing is parsed or read
 * that the application would not have parsed or read itself.
 */
function observeApiPromise(result: unknown, call: ChatCall): void {
  if (!isObj(result) || typeof result.then !== "function") {
    call.finish({ error: "messages.create() returned no promise; nothing to observe." });
    return;
  }
  const p = result;
  // A request that fails is recorded when it fails, also when nobody awaits the promise (its
  // parse is observed only once the app asks for the result, below). The SDK reads its
  // `responsePromise` when it parses or hands out the Response; the one put in its place rejects
  // with the same error, so an app that never handles it still gets its unhandled rejection.
  const responsePromise = p.responsePromise;
  if (isObj(responsePromise) && typeof responsePromise.then === "function") {
    p.responsePromise = Promise.resolve(responsePromise).then(undefined, (err: unknown) => {
      call.finish(errorOutcome(err));
      throw err;
    });
  }
  const own = (name: string) => p[name] as AnyFn | undefined;
  const then = own("then")!;
  let parseObserved = false;
  const observeParse = (self: unknown) => {
    if (parseObserved) return;
    parseObserved = true;
    call.untrack();
    Reflect.apply(then, self, [(data: unknown) => onData(data, call), (err: unknown) => call.finish(errorOutcome(err))]);
  };
  for (const name of PROMISE_METHODS) {
    const fn = own(name);
    if (typeof fn !== "function") continue;
    Object.defineProperty(p, name, {
      value: function (this: unknown, ...args: unknown[]) {
        try {
          observeParse(this);
        } catch {
          // observing must never change the result
        }
        return Reflect.apply(fn, this, args);
      },
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  const asResponse = own("asResponse");
  if (typeof asResponse === "function") {
    Object.defineProperty(p, "asResponse", {
      value: function (this: unknown, ...args: unknown[]) {
        const r = Reflect.apply(asResponse, this, args);
        // `withResponse()` reads the response through here too; its parse is the one to observe
        if (!parseObserved) {
          try {
            observeRawResponse(r, call);
          } catch {
            // never the application's problem
          }
        }
        return r;
      },
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  call.track(p);
}

function onData(data: unknown, call: ChatCall): void {
  try {
    if (call.stream) tapStream(data, call);
    else call.finish(messageOutcome(data));
  } catch (err) {
    call.finish(errorOutcome(err));
  }
}

/** The application reads the raw `Response`: record status and, for JSON, the message from a clone. */
function observeRawResponse(r: unknown, call: ChatCall): void {
  if (!isObj(r) || typeof r.then !== "function") return;
  call.untrack();
  (r as unknown as Promise<Response>).then(
    (res) => {
      const requestId = res.headers.get("request-id") ?? undefined;
      const base: Outcome = { statusCode: res.status, ...(requestId ? { requestId } : {}) };
      const json = !call.stream && (res.headers.get("content-type") ?? "").includes("json");
      if (!json) {
        call.finish({ ...base, ...(res.ok ? {} : { error: `HTTP ${res.status}` }) });
        return;
      }
      res
        .clone()
        .json()
        .then(
          (body: unknown) => call.finish(res.ok ? { ...messageOutcome(body), ...base } : { ...base, error: `HTTP ${res.status}` }),
          () => call.finish(base),
        );
    },
    (err: unknown) => call.finish(errorOutcome(err)),
  );
}

// ------------------------------------------------------------------ streams

/** What the events of one streamed message add up to. */
class StreamAccumulator {
  model: string | undefined;
  messageId: string | undefined;
  usage: Obj = {};
  stopReason: string | undefined;
  stopped = false;
  ttft: number | undefined;
  events = 0;
  private readonly blocks: Array<{ type: string; text: string; id?: string; name?: string; json: string; input: unknown }> = [];

  push(event: unknown, call: ChatCall): void {
    if (!isObj(event)) return;
    this.events++;
    switch (event.type) {
      case "message_start": {
        const m = isObj(event.message) ? event.message : {};
        this.model = str(m.model);
        this.messageId = str(m.id);
        // (copies: the app is handed these events too, and the record is made at the stream's end)
        if (isObj(m.usage)) this.usage = toJsonData(m.usage) as Obj;
        break;
      }
      case "content_block_start": {
        const b = isObj(event.content_block) ? event.content_block : {};
        const index = num(event.index) ?? this.blocks.length;
        this.blocks[index] = {
          type: String(b.type),
          text: typeof b.text === "string" ? b.text : "",
          ...(str(b.id) ? { id: b.id as string } : {}),
          ...(str(b.name) ? { name: b.name as string } : {}),
          json: "",
          input: b.input === undefined ? undefined : toJsonData(b.input),
        };
        break;
      }
      case "content_block_delta": {
        this.ttft ??= call.elapsed;
        const block = this.blocks[num(event.index) ?? -1];
        const d = isObj(event.delta) ? event.delta : {};
        if (!block) break;
        if (d.type === "text_delta" && typeof d.text === "string") block.text += d.text;
        else if (d.type === "input_json_delta" && typeof d.partial_json === "string") block.json += d.partial_json;
        break;
      }
      case "message_delta": {
        const d = isObj(event.delta) ? event.delta : {};
        const stop = str(d.stop_reason);
        if (stop !== undefined) this.stopReason = stop;
        // cumulative totals: overwrite what is present, as the SDK does
        if (isObj(event.usage)) for (const [k, v] of Object.entries(event.usage)) if (v !== null && v !== undefined) this.usage[k] = typeof v === "object" ? toJsonData(v) : v;
        break;
      }
      case "message_stop":
        this.stopped = true;
        break;
    }
  }

  outcome(): Outcome {
    const texts: string[] = [];
    const toolCalls: ToolCall[] = [];
    for (const b of this.blocks) {
      if (!b) continue;
      if (b.type === "text") texts.push(b.text);
      else if (b.type === "tool_use" || b.type === "server_tool_use") {
        let input: unknown = b.input;
        if (b.json !== "") {
          try {
            input = JSON.parse(b.json);
          } catch {
            input = b.json; // cut short: keep what arrived, as text
          }
        }
        toolCalls.push({ ...(b.id ? { id: b.id } : {}), type: b.type, ...(b.name ? { name: b.name } : {}), input });
      }
    }
    const o: Outcome = { text: texts.join(" "), toolCalls, events: this.events };
    if (this.model !== undefined) o.model = this.model;
    if (this.messageId !== undefined) o.messageId = this.messageId;
    if (Object.keys(this.usage).length > 0) o.usage = this.usage;
    if (this.stopReason !== undefined) o.stopReason = this.stopReason;
    if (this.ttft !== undefined) o.ttft = this.ttft;
    return o;
  }
}

/**
 * Watches the SDK `Stream` through its own async iterator (which `for await`, `tee()` and
 * `toReadableStream()` all use). Only the first iterator is watched: a second one is the
 * application's mistake, and the SDK reports it.
 */
function tapStream(stream: unknown, call: ChatCall): void {
  if (!isObj(stream) || typeof stream[Symbol.asyncIterator] !== "function") {
    call.finish(messageOutcome(stream));
    return;
  }
  const iterate = stream[Symbol.asyncIterator] as AnyFn;
  const controller = isObj(stream.controller) ? stream.controller : undefined;
  const signal = controller && controller.signal instanceof AbortSignal ? controller.signal : undefined;
  const acc = new StreamAccumulator();
  let started = false;
  // An abort with no read pending (before the first read, or between reads) ends the stream
  // with nothing else to tell us until the app reads again, which it may never do. Deferred:
  // when reading fails, the SDK aborts the signal in its `finally` just before the failure
  // reaches the tap, and that outcome must win; one with a read pending is recorded by the tap
  // itself first (the SDK ends it quietly), and this then finds the call recorded.
  signal?.addEventListener("abort", () => {
    setImmediate(() => {
      if (acc.stopped) call.finish({ ...acc.outcome(), end: "completed" });
      else call.finish({ ...acc.outcome(), end: "aborted", error: started ? `aborted: the request was aborted after ${acc.events} stream events` : "aborted: the stream was aborted before it was read" });
    });
  }, { once: true });
  Object.defineProperty(stream, Symbol.asyncIterator, {
    value: function (this: unknown) {
      const it = Reflect.apply(iterate, this, []) as AsyncIterator<unknown>;
      if (started) return it;
      started = true;
      call.untrack();
      const tapped = tapIterator(it, acc, call, signal);
      call.track(tapped);
      return tapped;
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
  call.track(stream);
}

function tapIterator(it: AsyncIterator<unknown>, acc: StreamAccumulator, call: ChatCall, signal: AbortSignal | undefined): AsyncIterableIterator<unknown> {
  const fail = (err: unknown) => call.finish(errorOutcome(err, { ...acc.outcome(), end: "error" }));
  const ended = () => {
    if (acc.stopped) call.finish({ ...acc.outcome(), end: "completed" });
    // the SDK ends an aborted stream quietly, and so does a server that hangs up between events
    else if (signal?.aborted) call.finish({ ...acc.outcome(), end: "aborted", error: `aborted: the request was aborted after ${acc.events} stream events` });
    else call.finish({ ...acc.outcome(), end: "truncated", error: `truncated: the stream ended before message_stop, after ${acc.events} events` });
  };
  const tapped: AsyncIterableIterator<unknown> = {
    next(...args: [] | [unknown]) {
      return it.next(...args).then(
        (r) => {
          try {
            if (r.done) ended();
            else acc.push(r.value, call);
          } catch {
            // a malformed event is the SDK's to report
          }
          return r;
        },
        (err: unknown) => {
          fail(err);
          throw err;
        },
      );
    },
    [Symbol.asyncIterator]() {
      return tapped;
    },
  };
  // return/throw only where the SDK's iterator has them, so `for await` behaves the same
  if (typeof it.return === "function") {
    const ret = it.return.bind(it);
    tapped.return = (value?: unknown) => {
      // leaving after message_stop is leaving a finished message
      if (acc.stopped) call.finish({ ...acc.outcome(), end: "completed" });
      else call.finish({ ...acc.outcome(), end: "abandoned", error: `abandoned: the app stopped reading the stream after ${acc.events} events` });
      return ret(value);
    };
  }
  if (typeof it.throw === "function") {
    const thr = it.throw.bind(it);
    tapped.throw = (err?: unknown) => {
      fail(err);
      return thr(err);
    };
  }
  return tapped;
}
