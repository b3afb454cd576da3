/**
 * `wrapAnthropic`: one ChatInteraction per `messages.create()` / `messages.stream()` /
 * `messages.parse()` call of an `@anthropic-ai/sdk` client (and of `client.beta.messages`, its
 * threads' and tool runner's turns included), without changing what the client returns or throws.
 *
 * How it stays invisible: `create` is replaced on the client's own `messages` object and returns
 * the SDK's original `APIPromise`, whose response promise and body parser are observed (fields the
 * SDK reads, set on the instance), so the wrapper sees the result when, and only when, the
 * application asks for it (the SDK parses lazily, and `asResponse()` users read the body
 * themselves; the class's `asResponse` is observed once). Streams stay the SDK's `Stream`; its
 * iterator is tapped (integrations/stream-tap.ts) to watch the events go by. `messages.stream()`
 * is left alone: its `MessageStream` reads the wrapped `create(..., { stream: true })`, which is
 * where it is recorded. The record is made later, in batches (or on the logger's worker thread
 * with `thread: true`), from data copied as it arrived, as in the OpenAI integration.
 *
 * The SDK is an optional peer dependency and is never imported here at run time.
 */
// (the module's object: the global `performance` is a getter, one more call per reading)
import { performance } from "node:perf_hooks";
import { currentContext, runWithOwnValue, userOfCall } from "../src/context.js";
import { AuditConfigError } from "../src/errors.js";
import { assertChangeable, checkedOptions, rememberWrap, reportUnwrapped, rewrapped } from "./options.js";
import { callCredentials, credentialHeaderValues } from "../src/secret-name.js";
import { awaitRecord, hideCredentials, readMember, recordFrom, reportRecordFailure, resolveAuditLogger, textOf } from "../src/instrument.js";
import type { AuditLogger } from "../src/logger.js";
import { newId } from "../src/record/id.js";
import { copyUsage, toJsonData } from "../src/record/serialize.js";
import type { AuditContextValue } from "../src/types.js";
import { anthropicChatInputBuilder, type AnthropicFallback, type AnthropicMethod, type AnthropicRecordData, type AnthropicToolCall } from "./anthropic-input.js";
import { trackResult, untrackResult, type DroppableCall, type Ticket } from "../src/dropped.js";
import { awaitGap, observeApiPromise, type ObservedCall, type ResponseProps } from "./api-promise.js";
import { anthropicRequestSettings } from "./request-settings.js";
import { argsForCall, calledByParse, observeSentBodies, wrapMethod, wrapParse, type PromptCopier } from "./sent-body.js";
import { signalAborted, tapStream, type StreamEnd, type StreamObserver, type TapHandle } from "./stream-tap.js";

/** Marks a wrapped `create` (and `withOptions`), shared by every copy of this package. */
const kWrapped = Symbol.for("audit-logger.anthropic.wrapped");

/** Options of {@link wrapAnthropic}. */
export interface WrapAnthropicOptions {
  /** the logger for this client's calls; else the active context's, else the default logger */
  readonly logger?: AuditLogger | undefined;
  /**
   * Hand the prompt, the response text and tool inputs to the logger (which previews, hashes,
   * encrypts or drops them per its own configuration). With `false` only model, counts, timings,
   * stop reason, tool names and errors are recorded. Default true.
   */
  readonly captureContent?: boolean | undefined;
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
 * Records every `messages.create()` (with and without `stream: true`), `messages.stream()` and
 * `messages.parse()` call of `client` as one ChatInteraction (`metadata.anthropic.method` names
 * the method): model, prompt (system + messages), response text,
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
  return wrapChecked(client, messages, checkedOptions("wrapAnthropic", options));
}

function wrapChecked<C extends AnthropicClientLike>(client: C, messages: Obj, options: WrapAnthropicOptions): C {
  if ((messages.create as unknown as Obj)[kWrapped]) {
    rewrapped("wrapAnthropic", client, options);
    return client;
  }
  const beta = readMember(readMember(client, "beta"), "messages");
  const betaMessages = isObj(beta) && beta !== messages && typeof beta.create === "function" && !(beta.create as unknown as Obj)[kWrapped] ? beta : undefined;
  // (a frozen client, or resource: an AuditConfigError before anything is changed)
  assertChangeable("wrapAnthropic", [
    ["the client", client, undefined],
    ["client.messages", messages, "create"],
    ["client.beta.messages", betaMessages, "create"],
  ]);
  rememberWrap(client, options);
  // the prompt is recorded from the body the SDK sent, cut out of its JSON (see sent-body.ts)
  const sent = observeSentBodies(client);
  // (read at each failure: an app may set a new key on the client; with the credential headers
  // of its defaultHeaders, which a gateway may echo: until 2026-12-06 only the key and token were hidden)
  const credentials = (): unknown[] => [readMember(client, "apiKey"), readMember(client, "authToken"), ...credentialHeaderValues(readMember(readMember(client, "_options"), "defaultHeaders"))];
  // The SDK's `create` looked up at each call, as the OpenAI wrapper does: a patch made to
  // Messages.prototype.create after wrapping (a tracing agent) runs for wrapped clients too, and
  // `create.length` stays the SDK's (found by review, 2026-12-04: the method was taken once, and
  // the wrapper's length was 0)
  if (wrapMethod(messages, "create", (original, self, args) => auditedCreate(original, self, args, options, sent, credentials, false))) {
    Object.defineProperty(messages.create, kWrapped, { value: true });
  }
  // (a parse, which calls create, is named as one: see wrapParse; until 2026-12-06 it was
  // recorded as `messages.create`)
  wrapParse(messages);
  // `client.beta.messages`, a Messages resource of its own (the way to send `betas` flags; its
  // `stream()` and `parse()` call its `create`): its calls went unrecorded, with
  // nothing said (found by review, 2026-12-04)
  if (betaMessages !== undefined) {
    if (wrapMethod(betaMessages, "create", (original, self, args) => auditedCreate(original, self, args, options, sent, credentials, true))) {
      Object.defineProperty(betaMessages.create, kWrapped, { value: true });
    }
    wrapParse(betaMessages);
  }
  wrapWithOptions(client as unknown as Obj, options);
  return client;
}

type HelperMethod = "messages.create" | "messages.stream" | "messages.parse" | "messages.thread" | "messages.toolRunner";

/** The SDK's own headers object (`buildHeaders()`): thread turns and the tool runner pass one. */
const SDK_HEADERS = Symbol.for("brand.privateNullableHeaders");

/**
 * The method the app called, as the SDK's helpers mark the `create()` calls they make, in the
 * request options' headers (a plain object, or the SDK's own headers object): the tool runner
 * (`x-stainless-helper` names `BetaToolRunner`), a message thread's turn (`message-thread`; its
 * `send()` and `stream()` alike, the request's `stream` telling them apart), `messages.stream()`
 * (`x-stainless-helper-method: stream`). Until 2026-12-06 thread and tool runner turns were named
 * `beta.messages.create`, and a thread's streamed turn too.
 */
function helperMethodOf(headers: unknown): HelperMethod {
  let method: unknown;
  let helper: unknown;
  try {
    if (!isObj(headers)) return "messages.create";
    const values = SDK_HEADERS in headers ? headers.values : undefined;
    if (values instanceof Headers) {
      method = values.get("x-stainless-helper-method");
      helper = values.get("x-stainless-helper");
    } else {
      method = headers["x-stainless-helper-method"];
      helper = headers["x-stainless-helper"];
    }
  } catch {
    return "messages.create"; // headers that throw when read: the SDK meets that itself
  }
  if (typeof helper === "string") {
    // (a comma-separated list: the helpers, tools and messages that made the request)
    const names = helper.split(",").map((name) => name.trim());
    if (names.includes("BetaToolRunner")) return "messages.toolRunner";
    if (names.includes("message-thread")) return "messages.thread";
  }
  return method === "stream" ? "messages.stream" : "messages.create";
}

/** `client.withOptions()` builds a new client with new resources: wrap those too. */
function wrapWithOptions(client: Obj, options: WrapAnthropicOptions): void {
  const withOptions = client.withOptions;
  if (typeof withOptions !== "function" || (withOptions as unknown as Obj)[kWrapped]) return;
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const next = Reflect.apply(withOptions, this, args);
    try {
      if (isObj(next) && isObj(next.messages)) wrapAnthropic(next as unknown as AnthropicClientLike, options);
    } catch (err) {
      // not a client after all, or one that cannot be changed (frozen by a subclass's
      // constructor, say): handed back untouched, and the failure reported
      reportUnwrapped("wrapAnthropic", options, err);
    }
    return next;
  };
  Object.defineProperty(wrapped, kWrapped, { value: true });
  Object.defineProperty(client, "withOptions", { value: wrapped, writable: true, configurable: true, enumerable: false });
}

/** `sent`: whether the client's serialised bodies reach their calls (see integrations/sent-body.ts). */
function auditedCreate(original: AnyFn, self: unknown, args: unknown[], options: WrapAnthropicOptions, sent: boolean, credentials: () => unknown[], beta: boolean): unknown {
  const logger = resolveAuditLogger(options.logger);
  if (!logger) return Reflect.apply(original, self, args);
  const capture = options.captureContent !== false;
  let call: ChatCall;
  try {
    // (and the credential headers of the call's own request options)
    call = new ChatCall(logger, args[0], args[1], capture, credentials, beta);
  } catch (err) {
    // params that cannot be read (a Proxy that throws, say): the call runs unrecorded, and the
    // logger says so (an `error` event, else one process warning)
    reportRecordFailure(logger, err);
    return Reflect.apply(original, self, args);
  }
  // the request options name the call, so that its body finds it (see sent-body.ts)
  const callArgs = capture ? argsForCall(args, call, sent) : args;
  let result: unknown;
  try {
    // calls made inside (a fetch wrapper, say) get this interaction as their parent
    // (outside any trace, in the trace the call starts: see AuditLogger.logChatInteraction)
    result = runWithOwnValue(call.callContext?.traceId === undefined ? { parentId: call.id, traceId: call.id } : { parentId: call.id }, () => Reflect.apply(original, self, callArgs));
  } catch (err) {
    call.fail(err);
    throw err;
  }
  observeApiPromise(result, call);
  return result;
}

// ------------------------------------------------------------------ one call, recorded once

/** How a call ended, as far as the wrapper saw it. */
interface Outcome {
  model?: string | undefined;
  text?: string | undefined;
  toolCalls?: AnthropicToolCall[] | undefined;
  /** the reply's `fallback` blocks (see fallbackOf) */
  fallbacks?: AnthropicFallback[] | undefined;
  usage?: Obj | undefined;
  stopReason?: string | undefined;
  statusCode?: number | undefined;
  requestId?: string | undefined;
  messageId?: string | undefined;
  error?: string | undefined;
  errorType?: string | undefined;
  /** for streams: how the stream ended */
  end?: AnthropicRecordData[18];
}


/** One `messages.create()` call: captured at the call, recorded once when it settles, fails or its stream ends. */
class ChatCall implements StreamObserver<unknown>, ObservedCall, PromptCopier, DroppableCall {
  readonly id = newId();
  parsing = false;
  parseStartedAt: number | undefined = undefined;
  /** when the response's headers arrived */
  private respondedAt: number | undefined = undefined;
  rawRequested = false;
  private recorded = false;
  private readonly start = performance.now();
  private readonly requestedModel: string | undefined;
  /** its sampling settings and the tools it offered (see request-settings.ts) */
  private readonly settings: Record<string, unknown> | undefined;
  /**
   * The prompt: the JSON text the SDK sent (its first attempt's body, see sent-body.ts); until
   * then the app's `system` and `messages` (copied when the call is recorded, if it never sent
   * them); or, when the body cannot reach this call, system + messages copied at the call.
   */
  private sentBody: string | undefined;
  private system: unknown;
  private messages: unknown;
  private prompt: unknown[] | undefined;
  private readonly method: AnthropicMethod;
  private readonly stream: boolean;
  /**
   * The caller's audit context at the call. The record is made in it, so it carries the call's
   * user, trace, parent, persona and metadata, also when a stream is read, or a promise awaited,
   * in another context.
   */
  readonly callContext: AuditContextValue | undefined = currentContext();
  /** the user the call was made by (see recordFrom) */
  private readonly userAtCall = userOfCall(this.callContext);
  /** the response's headers, once they arrived, until the call is recorded (for its request id) */
  private headers: { get(name: string): string | null } | undefined;
  private status: number | undefined;
  /** the stream being read, once there is one (this call is its tap's observer) */
  private acc: StreamAccumulator | undefined;
  private tap: TapHandle | undefined;
  private streamSignal: AbortSignal | undefined;
  /**
   * when the app last got something of the call (its response, an event): a call recorded when
   * its result is garbage-collected lasted until then, not until the collector ran
   */
  private lastAt: number | undefined = undefined;
  /** set by `abandon`: the end the record's duration is taken to */
  private endAt: number | undefined = undefined;
  /** the registration (see src/dropped.ts) that records this call if its result is collected unread */
  ticket: Ticket | undefined;

  constructor(
    private readonly logger: AuditLogger,
    params: unknown,
    /** the call's request options: their credential headers are hidden from the recorded error too (see callCredentials) */
    private readonly requestOptions: unknown,
    private readonly capture: boolean,
    /** the client's credentials, hidden from the recorded error (see hideCredentials) */
    private readonly credentials: () => unknown[],
    /** a call of `client.beta.messages` */
    beta: boolean,
  ) {
    const p = isObj(params) ? params : {};
    this.requestedModel = str(p.model);
    try {
      this.settings = anthropicRequestSettings(p);
    } catch {
      // params that throw when read (a Proxy, say): the SDK meets that itself
    }
    // The record is made when the call ends, a stream's at its end, and a chat app changes its
    // `messages` by then (pushes the reply, the next question), often while it reads the stream:
    // the prompt is what the SDK sent, or else a copy (see `copyPrompt`, `end`).
    if (capture) {
      this.messages = p.messages;
      this.system = p.system;
    }
    this.stream = p.stream === true;
    let method: HelperMethod = "messages.create";
    if (calledByParse()) method = "messages.parse";
    else if (isObj(requestOptions) && requestOptions.headers !== undefined) method = helperMethodOf(requestOptions.headers);
    this.method = beta ? `beta.${method}` : method;
  }

  /** The prompt, copied now: its body will not reach this call (see sent-body.ts). */
  copyPrompt(): void {
    try {
      this.prompt = promptCopy(this.system, this.messages);
    } catch {
      // messages that throw when read: the copy when the call is recorded reports it, never the app's call
    }
  }

  /**
   * The JSON text the SDK serialised this call's params to, at each attempt: the last one's is
   * kept, the request the outcome answers (an app may change its `messages` during a retry's
   * backoff, and the retry sends them as changed).
   */
  sentJson(body: string): void {
    if (!this.recorded) this.sentBody = body;
  }

  /** Records the call as abandoned when `result` is collected before the call was recorded. */
  track(result: object): void {
    if (!this.recorded) trackResult(this, result);
  }

  untrack(): void {
    untrackResult(this);
  }


  /** `result` was collected unread (see src/dropped.ts). Run by the FinalizationRegistry: never throws. */
  abandon(): void {
    this.untrack();
    this.tap?.release();
    this.tap = undefined;
    this.endAt = this.lastAt;
    try {
      const acc = this.acc;
      // aborted, then dropped before the tap's deferred "aborted" end ran: still an abort
      if (acc) this.streamEnded(this.streamSignal !== undefined && signalAborted(this.streamSignal) ? ABORTED : ABANDONED);
      else this.end({ end: "abandoned", error: "abandoned: the application dropped the result without reading it to the end" });
    } catch (err) {
      reportRecordFailure(this.logger, err);
    }
  }

  /**
   * Headers arrived: kept (not the Response, its body and connection) for the request id of a
   * stream's record, with the status. When the app asked for the raw Response, the call is
   * recorded from it now, before the app's reaction to `.asResponse()` runs (a JSON body from a
   * clone).
   */
  responded(props: ResponseProps): void {
    this.lastAt = this.respondedAt = performance.now();
    const response = props?.response;
    this.headers = response?.headers;
    this.status = response?.status;
    if (this.rawRequested && response) this.rawResponse(response);
  }

  /**
   * `.asResponse()` was called on the promise and returned `r`. When the SDK parses the body
   * too (`.withResponse()` calls both), the parse is what is recorded. Otherwise the app reads
   * the body itself: the call is recorded from the Response, a JSON body from a clone made
   * before the app's own reaction runs.
   */
  askedForRaw(_r: unknown, parsing: boolean): void {
    // (asked again: the first ask records the call, its body from the clone it is reading)
    if (parsing || this.parsing || this.recorded || this.rawRequested) return;
    this.rawRequested = true;
    // nothing holds the APIPromise while the app waits for the raw Response, and the call is
    // recorded from the Response (see `responded`, or by fail()): it is no longer a dropped result.
    // Nothing is attached to `r` itself: a handler there would mark the app's promise handled,
    // and an app that ignores a failed `.asResponse()` must get its unhandled rejection (found by
    // review, 2026-12-03). Asked for after the headers arrived, the call is recorded from them:
    // the body is the app's to read by then.
    this.untrack();
    if (this.status !== undefined) this.end(rawOutcome(this.status, this.headers));
  }

  private rawResponse(res: unknown): void {
    if (this.recorded || this.parsing) return;
    try {
      const response = res as Response;
      const base = rawOutcome(response.status, response.headers);
      const json = response.ok && !this.stream && (response.headers.get("content-type") ?? "").includes("json");
      if (!json) {
        this.end(base);
        return;
      }
      const read = response
        .clone()
        .json()
        .then(
          (body: unknown) => this.end({ ...messageOutcome(body), ...base }),
          () => this.end(base),
        );
      // a flush(), finalizeSession() or exit while the body is read: waited for, or (on exit)
      // recorded without the body (see awaitRecord)
      awaitRecord(this.logger, read, () => this.end(base));
    } catch (err) {
      this.end({ error: errorText(err) });
    }
  }

  /** The parsed body: a Message, or a Stream to follow. */
  settle(value: unknown): void {
    // (a stream followed already: a helper's promise that parses the same response settles too, see handedOver)
    if (this.recorded || this.acc !== undefined) return;
    try {
      if (this.stream && isObj(value) && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function") this.follow(value);
      // read now, before the app gets the message: the record is made later, and the app may change the object by then
      else this.end(messageOutcome(value));
    } catch (err) {
      this.end(errorOutcome(err));
    }
  }

  fail(err: unknown, props?: unknown): void {
    if (this.recorded) return;
    if (props !== undefined && this.resendObserved(err, props)) return;
    const acc = this.acc;
    this.end(acc ? { ...acc.outcome(), ...errorOutcome(err), end: "error" } : errorOutcome(err));
  }

  /**
   * The parse failed on `props`, the response props every promise of the request shares. Since
   * @anthropic-ai/sdk 1.17 the SDK then sends the request again when the body's read failed on
   * the transport (with `props.retry`, set while retries are left) and the app gets what the
   * retry brings: recorded was the first failure, a call the app saw succeed (or fail with the
   * retry's error) as failed with `Connection error.`. Whether the SDK sends it again is read, not
   * worked out from its conditions: `props.retry` is observed, and the SDK calls it in its
   * reaction to the failed parse; once the microtasks of this turn have run (at the next
   * setImmediate, or sooner when the app flushes or the process exits: see awaitRecord), the
   * failure is recorded if it did not. Not one microtask later: the SDK reacts one microtask
   * after this call only when it awaits the parse directly, and a promise derived with the
   * class's `_thenUnwrap` (its parser awaits this one's; the SDK's helpers derive theirs so) reacts two later, so its resent call
   * was recorded as the first attempt's `Connection error.` (found by review, 2026-12-05). True
   * when the failure waits for that. Earlier SDKs have no `retry`: recorded at once.
   */
  private resendObserved(err: unknown, props: unknown): boolean {
    const retry = readMember(props, "retry");
    if (typeof retry !== "function") return false;
    const target = props as Obj;
    let resent = false;
    const observed = (...args: unknown[]): unknown => {
      resent = true;
      const next: unknown = Reflect.apply(retry, target, args);
      // the new response (its headers: the request id, the status), or the error the app gets
      Promise.resolve(next).then(
        (p) => {
          if (!this.recorded) this.responded(p as ResponseProps);
        },
        (e: unknown) => this.fail(e),
      );
      return next;
    };
    try {
      target.retry = observed;
    } catch {
      return false; // props that refuse it: recorded at once, as before
    }
    let done = false;
    const record = (): void => {
      if (resent || done) return;
      done = true;
      try {
        if (target.retry === observed) target.retry = retry;
      } catch {
        // (props that refuse it now: ours calls the SDK's, and records nothing more)
      }
      this.fail(err);
    };
    // (only a failed parse with retries left gets here: no cost on a call's usual path)
    awaitRecord(this.logger, new Promise<void>((resolve) => setImmediate(resolve)).then(record), record);
    return true;
  }

  /** The promise could not be hooked: the call runs unrecorded, and the logger says why. */
  unobservable(err: unknown): void {
    reportRecordFailure(this.logger, err);
  }

  private follow(stream: Obj): void {
    // (times from the call, less the app's wait before it asked for the stream: see awaitGap)
    const acc = new StreamAccumulator(this.start + awaitGap(this, this.respondedAt));
    this.acc = acc;
    const controller = stream.controller as { signal?: unknown } | undefined;
    // (read once: each read of `signal` is a call into Node's internals)
    const controllerSignal = controller?.signal;
    const signal = controllerSignal instanceof AbortSignal ? controllerSignal : undefined;
    this.streamSignal = signal;
    // the stream object, not the iterator: the SDK's iterator is an async generator called on the
    // stream, which keeps its receiver alive while it is read (by the app, tee(), toReadableStream())
    this.track(stream);
    // the SDK's own AbortController is observed in place (cheaper than an abort listener)
    tapStream(stream, this, controller instanceof AbortController ? { controller, signal } : { signal });
  }

  /** The tap is set up (the tap's observer). */
  tapped(handle: TapHandle): void {
    this.tap = handle;
  }

  /** An event of the stream, as the app receives it (the tap's observer). */
  onItem(event: unknown): void {
    // (one reading for both: an abandoned stream's time to first token never past its duration)
    const now = (this.lastAt = performance.now());
    this.acc?.push(event, now);
  }

  /** The stream ended (the tap's observer). */
  onEnd(end: StreamEnd): void {
    // (the tap swallows an observer's throw, so it is reported here)
    try {
      this.streamEnded(end);
    } catch (err) {
      reportRecordFailure(this.logger, err);
    }
  }

  private streamEnded(end: StreamEnd): void {
    const acc = this.acc;
    if (!acc) return;
    const o = acc.outcome();
    const n = acc.events;
    // leaving after message_stop, or aborting then, is leaving a finished message
    if (acc.stopped && end.kind !== "error") {
      o.end = "completed";
      this.end(o);
      return;
    }
    switch (end.kind) {
      case "completed":
        // the SDK's iterator ended without message_stop: a server that hung up between events
        o.end = "truncated";
        o.error = `truncated: the stream ended before message_stop, after ${n} events`;
        break;
      case "aborted":
        o.end = "aborted";
        o.error = `aborted: the request was aborted after ${n} stream events`;
        break;
      case "abandoned":
        o.end = "abandoned";
        o.error = n === 0 ? "abandoned: the app dropped the stream without reading it" : `abandoned: the app stopped reading the stream after ${n} events`;
        break;
      case "error":
        Object.assign(o, errorOutcome(end.error));
        o.end = "error";
    }
    this.end(o);
  }

  /**
   * How long the call lasted: to its end (an abandoned one's: to the last thing the app got),
   * less the app's wait before it asked for the body or the stream (see awaitGap).
   */
  private seconds(): number {
    return ((this.endAt ?? performance.now()) - this.start - awaitGap(this, this.respondedAt)) / 1000;
  }


  /** Records the call once (the first outcome wins), later, in the call's context. */
  end(o: Outcome): void {
    if (this.recorded) return;
    this.recorded = true;
    this.untrack();
    // (nothing that leads back to the stream stays with a recorded call: see src/dropped.ts)
    this.streamSignal = undefined;
    // (recorded another way than by the tap's end, a failed parse say: the tap lets go of this call)
    const tap = this.tap;
    if (tap) {
      this.tap = undefined;
      tap.release();
    }
    const durationSeconds = this.seconds();
    const headers = this.headers;
    this.headers = undefined;
    if (o.error !== undefined) o.error = hideCredentials(o.error, callCredentials(this.credentials(), this.requestOptions));
    try {
      // (the SDK's parsed Message carries its request id; a stream's is read from the headers)
      const requestId = o.requestId ?? (headers ? requestIdOf(headers) : undefined);
      const acc = this.acc;
      const data: AnthropicRecordData = [
        this.id,
        this.capture,
        this.method,
        this.stream,
        this.requestedModel,
        // (the app's params now, copied, when the SDK never serialised them)
        this.capture && this.sentBody === undefined ? (this.prompt ?? promptCopy(this.system, this.messages)) : undefined,
        durationSeconds,
        acc?.ttft,
        requestId,
        o.messageId,
        o.model,
        o.text,
        o.usage,
        o.stopReason,
        o.toolCalls,
        o.error,
        o.statusCode,
        o.errorType,
        o.end,
        acc?.events,
        this.sentBody,
        this.callContext?.traceId === undefined,
        this.settings,
        o.fallbacks,
      ];
      this.sentBody = this.prompt = this.messages = this.system = undefined;
      // Made later (the app gets its result first), batched, or with `thread: true` on the worker
      // thread; flush(), finalizeSession() and the exit hooks make a pending record
      recordFrom(this.logger, anthropicChatInputBuilder, data, this.callContext, this.userAtCall);
    } catch (err) {
      reportRecordFailure(this.logger, err);
    }
  }
}


/** system + messages, copied as JSON data (what the SDK serialises). */
function promptCopy(system: unknown, messages: unknown): unknown[] {
  const msgs = Array.isArray(messages) ? (messages as unknown[]) : [];
  return toJsonData(system !== undefined ? [{ role: "system", content: system }, ...msgs] : msgs) as unknown[];
}
const ABORTED: StreamEnd = { kind: "aborted" };
const ABANDONED: StreamEnd = { kind: "abandoned" };

/** The response's `request-id`, or undefined (also when its headers cannot be read). */
/** What a raw Response says without its body: status, request id, and a non-2xx as the error. */
function rawOutcome(status: number, headers: { get(name: string): string | null } | undefined): Outcome {
  const base: Outcome = { statusCode: status, requestId: headers ? requestIdOf(headers) : undefined };
  if (status < 200 || status >= 300) base.error = `HTTP ${status}`;
  return base;
}

function requestIdOf(headers: { get(name: string): string | null }): string | undefined {
  try {
    return headers.get("request-id") || undefined;
  } catch {
    return undefined;
  }
}

// (these two never throw, and read each field on its own: the app's error must reach the app as
// it is, and what can be read of it is recorded; see readMember)
function errorText(err: unknown): string {
  const name = readMember(err, "name");
  const message = readMember(err, "message");
  return `${typeof name === "string" ? name : "Error"}: ${typeof message === "string" ? message : textOf(err)}`;
}

function errorOutcome(err: unknown): Outcome {
  const o: Outcome = { error: errorText(err) };
  const status = num(readMember(err, "status"));
  if (status !== undefined && status >= 100) o.statusCode = status;
  const inner = readMember(readMember(err, "error"), "error");
  const type = isObj(inner) ? str(readMember(inner, "type")) : str(readMember(err, "type"));
  if (type !== undefined) o.errorType = type;
  const requestId = str(readMember(err, "requestID"));
  if (requestId !== undefined) o.requestId = requestId;
  return o;
}

/**
 * The blocks of a reply that are tool calls: the app's tools (`tool_use`), the API's own
 * (`server_tool_use`: web search, code execution) and, through `client.beta.messages`, an MCP
 * server's (`mcp_tool_use`, the MCP connector; the SDK's BetaMessageStream assembles its input
 * alike). Until 2026-12-05 an `mcp_tool_use` was left out: a beta call whose model called an MCP
 * tool had no tool call on record (found by a "new user" pass over the beta types).
 */
const isToolUse = (type: unknown): type is string => type === "tool_use" || type === "server_tool_use" || type === "mcp_tool_use";

/** The tool call of a tool use block (see isToolUse), with its input as given (copied by the caller). */
function toolCallOf(block: { readonly id?: unknown; readonly name?: unknown; readonly server_name?: unknown }, type: string, input: unknown): AnthropicToolCall {
  // (members in the record's order: id, type, name, server_name, input)
  const call = {} as AnthropicToolCall;
  const id = str(block.id);
  if (id !== undefined) call.id = id;
  call.type = type;
  const name = str(block.name);
  if (name !== undefined) call.name = name;
  // (an MCP tool's name is only unique on its server)
  const server = str(block.server_name);
  if (server !== undefined) call.server_name = server;
  call.input = input;
  return call;
}

/**
 * A reply's `fallback` block, which stands between what a model that declined wrote and what the
 * model that answered instead writes: the server-side `fallbacks` of the beta Messages API, and
 * the SDK's own `betaRefusalFallbackMiddleware` (@anthropic-ai/sdk 1.17), which makes the refused
 * request and the fallback's in one `create()` and adds the block. One call, one record; until
 * 2026-12-06 nothing in it said a model had declined (the record named the model that answered,
 * and the one asked for as `requestedModel`, as for an alias). Model names and the trigger only:
 * never content.
 */
function fallbackOf(block: Obj): AnthropicFallback {
  const out: AnthropicFallback = {};
  const from = isObj(block.from) ? str(block.from.model) : undefined;
  const to = isObj(block.to) ? str(block.to.model) : undefined;
  const trigger = isObj(block.trigger) ? block.trigger : undefined;
  if (from !== undefined) out.from = from.slice(0, 256);
  if (to !== undefined) out.to = to.slice(0, 256);
  const type = trigger !== undefined ? str(trigger.type) : undefined;
  if (type !== undefined) out.trigger = type.slice(0, 128);
  const category = trigger !== undefined ? str(trigger.category) : undefined;
  if (category !== undefined) out.category = category.slice(0, 128);
  return out;
}

/**
 * Text (text blocks joined like the SDK's `finalText()`), tool calls and usage of a Message, read
 * as it arrives and copied where the app could change it (usage, tool inputs): the record is made
 * later.
 */
function messageOutcome(message: unknown): Outcome {
  if (!isObj(message)) return { error: "The API returned no message." };
  const texts: string[] = [];
  const toolCalls: AnthropicToolCall[] = [];
  let fallbacks: AnthropicFallback[] | undefined;
  const content = message.content;
  if (Array.isArray(content)) {
    for (const block of content) {
      if (!isObj(block)) continue;
      const type = block.type;
      if (type === "text" && typeof block.text === "string") texts.push(block.text);
      else if (isToolUse(type)) toolCalls.push(toolCallOf(block, type, toJsonData(block.input)));
      else if (type === "fallback") (fallbacks ??= []).push(fallbackOf(block));
    }
  }
  const o: Outcome = { text: texts.join(" "), toolCalls: toolCalls.length > 0 ? toolCalls : undefined, fallbacks };
  const model = str(message.model);
  if (model !== undefined) o.model = model;
  if (isObj(message.usage)) o.usage = copyUsage(message.usage) as Obj;
  const stop = str(message.stop_reason);
  if (stop !== undefined) o.stopReason = stop;
  const id = str(message.id);
  if (id !== undefined) o.messageId = id;
  const requestId = str(message._request_id);
  if (requestId !== undefined) o.requestId = requestId;
  return o;
}

// ------------------------------------------------------------------ streams

interface Block {
  type: string;
  text: string;
  id: string | undefined;
  name: string | undefined;
  server_name: string | undefined;
  json: string;
  input: unknown;
}

/** What the events of one streamed message add up to, copied as they arrive (the app is handed the same events). */
class StreamAccumulator {
  model: string | undefined;
  messageId: string | undefined;
  usage: Obj | undefined;
  stopReason: string | undefined;
  stopped = false;
  ttft: number | undefined;
  events = 0;
  private readonly blocks: Block[] = [];
  /** the `fallback` blocks, read whole from their content_block_start (see fallbackOf) */
  private fallbacks: AnthropicFallback[] | undefined;

  constructor(private readonly start: number) {}

  /** `now`: when the app got the event (a performance.now() reading) */
  push(event: unknown, now: number): void {
    if (!isObj(event)) return;
    this.events++;
    switch (event.type) {
      case "content_block_delta": {
        this.ttft ??= (now - this.start) / 1000;
        const block = this.blocks[num(event.index) ?? -1];
        const d = event.delta;
        if (!block || !isObj(d)) break;
        if (d.type === "text_delta" && typeof d.text === "string") block.text += d.text;
        else if (d.type === "input_json_delta" && typeof d.partial_json === "string") block.json += d.partial_json;
        break;
      }
      case "message_start": {
        const m = isObj(event.message) ? event.message : {};
        this.model = str(m.model);
        this.messageId = str(m.id);
        if (isObj(m.usage)) this.usage = copyUsage(m.usage) as Obj;
        break;
      }
      case "content_block_start": {
        const b = isObj(event.content_block) ? event.content_block : {};
        if (b.type === "fallback") (this.fallbacks ??= []).push(fallbackOf(b));
        const index = num(event.index) ?? this.blocks.length;
        this.blocks[index] = {
          type: String(b.type),
          text: typeof b.text === "string" ? b.text : "",
          id: str(b.id),
          name: str(b.name),
          server_name: str(b.server_name),
          json: "",
          input: b.input === undefined ? undefined : toJsonData(b.input),
        };
        break;
      }
      case "message_delta": {
        const d = isObj(event.delta) ? event.delta : {};
        const stop = str(d.stop_reason);
        if (stop !== undefined) this.stopReason = stop;
        // cumulative totals: overwrite what is present, as the SDK does
        const u = event.usage;
        if (isObj(u)) {
          const usage = (this.usage ??= {});
          for (const k in u) {
            const v = u[k];
            if (v !== null && v !== undefined) usage[k] = typeof v === "object" ? toJsonData(v) : v;
          }
        }
        break;
      }
      case "message_stop":
        this.stopped = true;
        break;
    }
  }

  outcome(): Outcome {
    const texts: string[] = [];
    const toolCalls: AnthropicToolCall[] = [];
    for (const b of this.blocks) {
      if (!b) continue;
      if (b.type === "text") texts.push(b.text);
      else if (isToolUse(b.type)) {
        let input: unknown = b.input;
        if (b.json !== "") {
          try {
            input = JSON.parse(b.json);
          } catch {
            input = b.json; // cut short: keep what arrived, as text
          }
        }
        toolCalls.push(toolCallOf(b, b.type, input));
      }
    }
    // the model that answered: after a fallback block, the one it hands over to (the SDK's
    // betaRefusalFallbackMiddleware splices the fallback's events onto the declined stream, whose
    // message_start, the only one the app gets, names the model that declined)
    const model = this.fallbacks?.at(-1)?.to ?? this.model;
    const o: Outcome = { text: texts.join(" "), toolCalls: toolCalls.length > 0 ? toolCalls : undefined, fallbacks: this.fallbacks, model, messageId: this.messageId, stopReason: this.stopReason };
    const usage = this.usage;
    if (usage !== undefined) {
      for (const _ in usage) {
        o.usage = usage;
        break;
      }
    }
    return o;
  }
}
