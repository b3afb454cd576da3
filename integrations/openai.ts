/**
 * `wrapOpenAI`: one ChatInteraction per OpenAI API call (chat.completions.create and
 * responses.create, streamed or not, and every SDK helper built on them: `.stream()`,
 * `.parse()`, `runTools()`; responses.compact; a background response's end, fetched by
 * responses.retrieve or cancel), without changing what the app gets back.
 *
 * How it stays invisible: the two `create` methods of the client's own resource objects are
 * wrapped in place; each call returns the SDK's original APIPromise (so `.withResponse()` and
 * `.asResponse()` keep working) after hooking two of its internal steps (the HTTP response and
 * the body parser; on openai 7 also its own `_thenUnwrap`, which the helpers derive their
 * promise with: see api-promise.ts) to observe, never replace, the outcome. Works with openai 6
 * and 7 (test/integrations/openai-v6-compat.test.ts runs both). Streams stay the SDK's own `Stream`
 * objects; their iterator is tapped (see stream-tap.ts). The `openai` package is an optional peer
 * dependency: only its types are imported here, the app's own copy runs.
 */
// (the module's object: the global `performance` is a getter, one more call per reading)
import { performance } from "node:perf_hooks";
import { currentContext, runWithOwnValue, userOfCall } from "../src/context.js";
import type { AuditContextValue } from "../src/types.js";
import { AuditConfigError } from "../src/errors.js";
import { assertChangeable, checkedOptions, rememberWrap, reportUnwrapped, rewrapped } from "./options.js";
import { callCredentials, credentialHeaderValues } from "../src/secret-name.js";
import { UNREADABLE_ERROR, awaitRecord, hideCredentials, readMember, recordFrom, reportRecordFailure, resolveAuditLogger, textOf } from "../src/instrument.js";
import { copyUsage, toJsonData } from "../src/record/serialize.js";
import type { AuditLogger } from "../src/logger.js";
import { newId } from "../src/record/id.js";
import { openaiChatInputBuilder, openaiRecordData, type CallStatus, type OpenAIRecordData } from "./openai-input.js";
import { ChatChunkAccumulator, ResponseEventAccumulator, fromChatCompletion, fromResponse, isObj, promptOf, type ChatOutcome, type Obj } from "./openai-record.js";
import { trackResult, untrackResult, type DroppableCall, type Ticket } from "../src/dropped.js";
import { awaitGap, observeApiPromise, type ObservedCall, type ResponseProps } from "./api-promise.js";
import { openaiRequestSettings } from "./request-settings.js";
import { argsForCall, calledByParse, observeSentBodies, wrapMethod, wrapParse, type PromptCopier } from "./sent-body.js";
import { signalAborted, tapStream, type StreamEnd, type StreamObserver, type TapHandle } from "./stream-tap.js";

/** Options of {@link wrapOpenAI}. */
export interface WrapOpenAIOptions {
  /** the logger to record to; otherwise the active `auditContext` logger, then the default logger */
  readonly logger?: AuditLogger | undefined;
  /**
   * Sets `stream_options.include_usage` on streamed chat completions (unless the call sets it),
   * so streamed calls get token counts. The stream then ends with one extra chunk that has
   * `usage` and an empty `choices` array, as OpenAI documents. Default false.
   */
  readonly includeUsageInStreams?: boolean | undefined;
  /**
   * Hand the prompt, the response text and tool-call arguments to the logger (which then
   * previews, hashes, encrypts or drops them per its own configuration). With `false` only
   * model, counts, timings, finish reason, tool names and errors are recorded. Default true.
   */
  readonly captureContent?: boolean | undefined;
}

type AnyMethod = (this: unknown, ...args: never[]) => unknown;
type Creator = { create: AnyMethod };

/**
 * The part of an OpenAI client this module touches; any `OpenAI` (or `AzureOpenAI`) instance
 * satisfies it. Kept structural so the declarations do not require the `openai` package.
 */
export interface OpenAIClientLike {
  chat: { completions: Creator };
  responses?: Creator;
}

type Api = "chat" | "responses";

const kWrapped = Symbol.for("audit-logger.openai.wrapped");

/**
 * Instruments an OpenAI client in place and returns it (same object, same type). Each API call
 * then makes exactly one ChatInteraction: model, prompt (the messages or input), response text,
 * input/output tokens (the raw `usage` too), finish reason, tool calls (streamed deltas
 * assembled), time to first token for streams, duration, and success or the error with its
 * HTTP status. Errors are recorded, then the SDK's original error is rethrown; a stream the app
 * abandons or aborts is still recorded once. Wrapping a client again does nothing.
 *
 * @example
 * import OpenAI from "openai";
 * import { wrapOpenAI } from "audit-logger/integrations/openai";
 *
 * const openai = wrapOpenAI(new OpenAI(), { logger, includeUsageInStreams: true });
 * const r = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] });
 */
export function wrapOpenAI<C extends OpenAIClientLike>(client: C, options: WrapOpenAIOptions = {}): C {
  if (!isOpenAIClient(client)) {
    throw new AuditConfigError([{ field: "client", message: "wrapOpenAI() needs an `openai` client (an object with chat.completions.create)" }]);
  }
  return wrapChecked(client, checkedOptions("wrapOpenAI", options));
}

function wrapChecked<C extends OpenAIClientLike>(client: C, options: WrapOpenAIOptions): C {
  const target = client as C & { [kWrapped]?: true };
  if (target[kWrapped]) {
    rewrapped("wrapOpenAI", target, options);
    return client;
  }
  const responses = target.responses && typeof target.responses.create === "function" ? target.responses : undefined;
  // `client.beta.responses` of openai 6 and 7 (POST /responses?beta=true): a Responses resource
  // of its own, which went unrecorded (found by review, 2026-12-04)
  const betaResponses = readMember(readMember(target, "beta"), "responses") as Creator | undefined;
  const beta = betaResponses !== undefined && betaResponses !== target.responses && typeof betaResponses?.create === "function" ? betaResponses : undefined;
  // (a frozen client, or resource: an AuditConfigError before anything is changed)
  assertChangeable("wrapOpenAI", [
    ["the client", target, undefined],
    ["client.chat.completions", target.chat.completions, "create"],
    ["client.responses", responses, "create"],
    ["client.beta.responses", beta, "create"],
  ]);
  Object.defineProperty(target, kWrapped, { value: true });
  rememberWrap(target, options);
  const sent = observeSentBodies(target);
  // (read at each failure: an app may set a new key on the client; with the credential headers
  // of its defaultHeaders, which a gateway may echo: until 2026-12-06 only the key was hidden)
  const credentials = (): unknown[] => [readMember(target, "apiKey"), ...credentialHeaderValues(readMember(readMember(target, "_options"), "defaultHeaders"))];
  instrumentCall(target.chat.completions, "create", "chat", CHAT_METHODS, options, sent, credentials);
  for (const [resource, names] of [[responses, RESPONSES_METHODS], [beta, BETA_RESPONSES_METHODS]] as const) {
    if (resource === undefined) continue;
    instrumentCall(resource, "create", "responses", names, options, sent, credentials);
    // `responses.compact()` (openai 6.x and 7): a model pass over the conversation, billed in
    // tokens; unrecorded until 2026-12-06 (its usage was lost to the trail)
    if (typeof (resource as Creator & { compact?: unknown }).compact === "function") instrumentCall(resource, "compact", "responses", names, options, sent, credentials);
    instrumentRetrieval(resource, "retrieve", names, options, credentials);
    instrumentRetrieval(resource, "cancel", names, options, credentials);
  }
  // A client derived with withOptions() keeps the instrumentation. (One that cannot be wrapped,
  // frozen by a subclass's constructor, say, is the app's all the same: the failure is reported.)
  wrapMethod(target, "withOptions", (original, self, args) => {
    const derived = original.apply(self, args);
    if (!isOpenAIClient(derived)) return derived;
    try {
      return wrapChecked(derived, options);
    } catch (err) {
      reportUnwrapped("wrapOpenAI", options, err);
      return derived;
    }
  });
  return client;
}

/** True for objects shaped like an OpenAI client (used by `withAudit`). */
export function isOpenAIClient(value: unknown): value is OpenAIClientLike {
  const chat = (value as { chat?: { completions?: { create?: unknown } } } | null)?.chat;
  return typeof value === "object" && value !== null && typeof chat?.completions?.create === "function";
}

/**
 * The names of a resource's methods as `metadata.openai.method` gives them: the method the app
 * called. `create` undefined: the API's own (`chat.completions.create`, `responses.create`), which
 * the record builder names, so that the usual call carries no name of its own.
 */
interface MethodNames {
  readonly create: string | undefined;
  readonly parse: string;
  readonly stream: string;
  readonly runTools?: string;
  readonly retrieve?: string;
  readonly cancel?: string;
  readonly compact?: string;
}
const CHAT_METHODS: MethodNames = { create: undefined, parse: "chat.completions.parse", stream: "chat.completions.stream", runTools: "chat.completions.runTools" };
const RESPONSES_METHODS: MethodNames = {
  create: undefined,
  parse: "responses.parse",
  stream: "responses.stream",
  retrieve: "responses.retrieve",
  cancel: "responses.cancel",
  compact: "responses.compact",
};
const BETA_RESPONSES_METHODS: MethodNames = {
  create: "beta.responses.create",
  parse: "beta.responses.parse",
  stream: "beta.responses.stream",
  retrieve: "beta.responses.retrieve",
  cancel: "beta.responses.cancel",
  compact: "beta.responses.compact",
};

/**
 * The method the app called, for a `create()` (or retrieval) with these request options: a parse
 * under way (see wrapParse: `responses.parse()` says so in nothing it hands `create()`), else the
 * helper the SDK names in the options (openai 7: `__metadata.helperMethod`; openai 6: the
 * `X-Stainless-Helper-Method` header), else `plain`.
 * Until 2026-12-06 no record said which: a `parse()` or a `runTools()` turn read as a `create()`.
 */
function methodOf(names: MethodNames, requestOptions: unknown, plain: string | undefined): string | undefined {
  if (calledByParse()) return names.parse;
  // (the usual call: no request options)
  if (!isObj(requestOptions)) return plain;
  let helper: unknown;
  try {
    const meta = requestOptions.__metadata;
    helper = isObj(meta) ? meta.helperMethod : undefined;
    if (helper === undefined) {
      const headers = requestOptions.headers;
      if (isObj(headers)) helper = headers["X-Stainless-Helper-Method"];
    }
  } catch {
    // options that throw when read: the SDK meets that itself
  }
  switch (helper) {
    case "stream":
      return names.stream;
    case "runTools":
      return names.runTools ?? plain;
    case "chat.completions.parse":
      return names.parse;
    default:
      return plain;
  }
}

/**
 * A resource's `create` (or `compact`, which takes params the same way and answers one JSON
 * body). `sent`: whether the client's serialised bodies reach their calls (see
 * integrations/sent-body.ts).
 */
function instrumentCall(resource: Creator, method: "create" | "compact", api: Api, names: MethodNames, options: WrapOpenAIOptions, sent: boolean, credentials: () => unknown[]): void {
  // (a parse() of its own, where the SDK has one: see wrapParse)
  if (method === "create") wrapParse(resource);
  wrapMethod(resource, method, (original, self, args) => {
    const logger = resolveAuditLogger(options.logger);
    if (!logger) return original.apply(self, args);
    let callArgs: never[];
    try {
      callArgs = withUsageOption(api, args as never[], options);
    } catch {
      // params that throw when read (a getter, a Proxy): the SDK meets that itself, as without us
      callArgs = args as never[];
    }
    const capture = options.captureContent !== false;
    // (and the credential headers of the call's own request options)
    const call = new CallRecord(logger, api, callArgs[0], capture, credentials, args[1], method === "compact" ? names.compact : methodOf(names, args[1], names.create));
    // the request options name the call, so that its body finds it (see sent-body.ts): the
    // prompt as sent, and each attempt of it (the SDK serialises the body again for a retry),
    // also without content capture
    callArgs = argsForCall(callArgs, call, sent);
    let result: unknown;
    try {
      // calls made inside (a fetch wrapper, say) get this interaction as their parent, as with
      // the Anthropic wrapper (found by a new-user run, 2026-12-03: they had none)
      // (outside any trace, in the trace the call starts: see AuditLogger.logChatInteraction)
      result = runWithOwnValue(call.callContext?.traceId === undefined ? { parentId: call.id, traceId: call.id } : { parentId: call.id }, () => original.apply(self, callArgs));
    } catch (err) {
      call.fail(err);
      throw err;
    }
    return observeApiPromise(result, call);
  });
}

/**
 * A background response's answer (`background: true`: the create call returns it `queued`) is
 * fetched later with `responses.retrieve(id)` (polled, or streamed with `{ stream: true }`) or
 * ends with `responses.cancel(id)`. Those calls are recorded only when they bring a background
 * response's end (completed, incomplete, failed, cancelled), once per response in this process:
 * a poll that finds it still queued or in progress, a failed poll, and a retrieval of a response
 * that did not run in the background (a stored one, read again) are no interaction with the
 * model, and make no record. The record is the answer's: the Response's text, tokens, tool calls
 * and status; with the request's prompt, model and settings, and in its trace (as its child) when
 * the fetch runs outside any trace, if this process made the request (see BACKGROUND_REQUESTS);
 * `metadata.openai.background` says which call fetched it and names the request's record. Until
 * 2026-12-05 the answer was never recorded (found by the OpenAI new-user pass).
 */
function instrumentRetrieval(resource: Creator, method: "retrieve" | "cancel", names: MethodNames, options: WrapOpenAIOptions, credentials: () => unknown[]): void {
  wrapMethod(resource, method, (original, self, args) => {
    const logger = resolveAuditLogger(options.logger);
    const id = args[0];
    if (!logger || typeof id !== "string") return original.apply(self, args);
    let stream = false;
    try {
      const query = args[1];
      stream = method === "retrieve" && isObj(query) && query.stream === true;
    } catch {
      // a query that throws when read: the SDK meets that itself
    }
    // (`responses.stream({ response_id })` retrieves with its helper's name in the options)
    const requestOptions = method === "retrieve" ? args[2] : args[1];
    const call = new CallRecord(logger, "responses", { stream }, options.captureContent !== false, credentials, requestOptions, methodOf(names, requestOptions, names[method]));
    call.retrieval = { method, responseId: id, request: BACKGROUND_REQUESTS.get(id) };
    let result: unknown;
    try {
      // (no context of its own: a poll that makes no record must not parent the calls inside it)
      result = original.apply(self, args);
    } catch (err) {
      call.fail(err);
      throw err;
    }
    return observeApiPromise(result, call);
  });
}

/** A background response's request, as its create call left it: what its answer's record takes. */
interface BackgroundRequest {
  readonly recordId: string;
  readonly traceId: string;
  readonly sent: string | undefined;
  readonly copied: OpenAIRecordData[4];
  readonly model: string | undefined;
  readonly settings: Obj | undefined;
  /** the request's context and user (see recordFrom), for an answer fetched outside any */
  readonly context: AuditContextValue | undefined;
  readonly user: string | undefined;
  readonly bytes: number;
}

/**
 * The background requests this process made whose answer has not been recorded yet, by response
 * id, oldest first: at most 1,000, holding at most 64 MiB of prompt text (the oldest are let go;
 * their answers are then recorded without the prompt).
 */
const BACKGROUND_REQUESTS = new Map<string, BackgroundRequest>();
let backgroundBytes = 0;
const MAX_BACKGROUND_REQUESTS = 1_000;
const MAX_BACKGROUND_BYTES = 64 * 1024 * 1024;

/** Background responses whose end was recorded in this process (at most 10,000, oldest let go): each is recorded once. */
const ANSWERED = new Set<string>();
const MAX_ANSWERED = 10_000;

function rememberRequest(responseId: string, request: BackgroundRequest): void {
  forgetRequest(responseId);
  BACKGROUND_REQUESTS.set(responseId, request);
  backgroundBytes += request.bytes;
  for (const [id] of BACKGROUND_REQUESTS) {
    if (BACKGROUND_REQUESTS.size <= MAX_BACKGROUND_REQUESTS && backgroundBytes <= MAX_BACKGROUND_BYTES) break;
    forgetRequest(id);
  }
}

function forgetRequest(responseId: string): void {
  const had = BACKGROUND_REQUESTS.get(responseId);
  if (had === undefined) return;
  BACKGROUND_REQUESTS.delete(responseId);
  backgroundBytes -= had.bytes;
}

/** A background response's end, recorded now unless it was already (see instrumentRetrieval). */
function firstEnd(responseId: string): boolean {
  if (ANSWERED.has(responseId)) return false;
  ANSWERED.add(responseId);
  if (ANSWERED.size > MAX_ANSWERED) ANSWERED.delete(ANSWERED.values().next().value!);
  return true;
}

/** The statuses a background response is still running in. */
const RUNNING: ReadonlySet<string | undefined> = new Set(["queued", "in_progress"]);

function withUsageOption(api: Api, args: never[], options: WrapOpenAIOptions): never[] {
  if (api !== "chat" || !options.includeUsageInStreams) return args;
  const body = args[0] as unknown;
  if (!isObj(body) || body.stream !== true) return args;
  const so = isObj(body.stream_options) ? body.stream_options : undefined;
  if (so && "include_usage" in so) return args;
  return [{ ...body, stream_options: { ...so, include_usage: true } } as never, ...args.slice(1)];
}

/** The response's `x-request-id`, or undefined (also when its headers cannot be read). */
function requestIdOf(headers: { get(name: string): string | null }): string | undefined {
  try {
    return headers.get("x-request-id") || undefined;
  } catch {
    return undefined;
  }
}

// (these two never throw: the app's error must reach the app as it is, see UNREADABLE_ERROR)
function errorStatus(err: unknown): number | undefined {
  const status = readMember(err, "status");
  return typeof status === "number" && Number.isInteger(status) && status >= 100 && status <= 999 ? status : undefined;
}

function errorMessage(err: unknown): string {
  try {
    if (err instanceof Error) {
      const name = err.constructor?.name && err.constructor.name !== "Error" ? err.constructor.name : err.name;
      const message: unknown = err.message;
      if (name && name !== "Error") return `${textOf(name)}: ${textOf(message)}`;
      // (an Error whose message was set to undefined: no message recorded, as before)
      return (message === undefined ? message : textOf(message)) as string;
    }
    return textOf(err);
  } catch {
    return UNREADABLE_ERROR;
  }
}


/** One API call: captured at call time, written once when it settles, fails or its stream ends. */
class CallRecord implements StreamObserver<unknown>, ObservedCall, PromptCopier, DroppableCall {
  parsing = false;
  parseStartedAt: number | undefined = undefined;
  /** when the response's headers arrived */
  private respondedAt: number | undefined = undefined;
  rawRequested = false;
  /** the record's id (see OpenAIRecordData's `id`) */
  readonly id = newId();
  private recorded = false;
  private readonly start = performance.now();
  /**
   * The call's audit context. The record is written inside it, so it carries the call's
   * traceId/userId/parentId/metadata even when the stream is read (or the promise awaited), or
   * the record built, in another context.
   */
  readonly callContext = currentContext();
  /** the user the call was made by (see recordFrom) */
  private readonly userAtCall = userOfCall(this.callContext);
  /**
   * The HTTP status, once headers arrived (-1 when the response had none). Only the status and
   * the headers are kept until the call is recorded, not the SDK's response props: a record
   * waiting in a batch must not hold the Response (body stream, connection state) alive into the
   * old generation. The request id is read from the headers when the call is recorded, unless
   * the SDK read it already (a parsed body's `_request_id`, an error's `requestID`): a read costs
   * ~0.5 µs.
   */
  private status: number | undefined;
  private headers: { get(name: string): string | null } | undefined;
  private requestId: string | undefined;
  private ttft: number | undefined;
  /**
   * The stream being read, once there is one (this call is its tap's observer: methods, not
   * closures made per stream): what it produced so far, how many items, the request's signal.
   */
  private acc: ChatChunkAccumulator | ResponseEventAccumulator | undefined;
  private items = 0;
  /**
   * when the app last got something of the call (its response, a chunk): a call recorded when
   * its result is garbage-collected lasted until then, not until the collector ran
   */
  private lastAt: number | undefined = undefined;
  /** set by `abandon`: the end the record's duration is taken to */
  private endAt: number | undefined = undefined;
  private streamSignal: AbortSignal | undefined;
  /** the registration (see src/dropped.ts) that records this call if its result is collected unread */
  ticket: Ticket | undefined;
  /** the prompt as sent (from the request's JSON), or copied at the call; see integrations/sent-body.ts */
  private prompt: ReturnType<typeof promptOf> | undefined;
  private sentBody: string | undefined;

  /** a `responses.retrieve()` or `cancel()` call (see instrumentRetrieval): recorded only when it brings a background response's end */
  retrieval: { readonly method: "retrieve" | "cancel"; readonly responseId: string; readonly request: BackgroundRequest | undefined } | undefined = undefined;

  /** what the call asked for, read when it was made (the app may reuse and change its params) */
  private readonly streamRequested: boolean;
  private readonly requestedModel: string | undefined;
  /** its sampling settings and the tools it offered (see request-settings.ts) */
  private readonly settings: Record<string, unknown> | undefined;

  constructor(
    private readonly logger: AuditLogger,
    private readonly api: Api,
    private readonly body: unknown,
    private readonly capture: boolean,
    /** the client's credentials, hidden from the recorded error (see hideCredentials) */
    private readonly credentials: () => unknown[],
    /** the call's request options: their credential headers are hidden from the recorded error too (see callCredentials) */
    private readonly requestOptions: unknown,
    /** the method the app called, when not the API's `create` (see methodOf) */
    private readonly method: string | undefined,
  ) {
    const params = isObj(body) ? body : undefined;
    let stream = false;
    let model: string | undefined;
    let settings: Record<string, unknown> | undefined;
    try {
      stream = params?.stream === true;
      const m = params?.model;
      model = typeof m === "string" && m.length > 0 ? m : undefined;
      settings = openaiRequestSettings(params);
    } catch {
      // params that throw when read (a Proxy, say): the SDK meets that itself
    }
    this.streamRequested = stream;
    this.requestedModel = model;
    this.settings = settings;
  }

  /** The prompt, copied now: its body will not reach this call (see sent-body.ts). */
  copyPrompt(): void {
    if (!this.capture) return;
    try {
      this.prompt = copyOf(promptOf(this.api, this.body));
    } catch {
      // params that throw when read (a Proxy, say): the copy at settle reports it, never the app's call
    }
  }

  /**
   * The JSON text the SDK serialised this call's params to, at each attempt: the last one's is
   * kept, the request the outcome answers (an app may change its `messages` during a retry's
   * backoff, and the retry sends them as changed).
   */
  sentJson(body: string): void {
    if (this.recorded) return;
    this.attempts++;
    if (this.capture) this.sentBody = body;
  }

  /**
   * How many HTTP requests the SDK made for this call (its `maxRetries` retries after a 408, 409,
   * 429, 5xx or a connection error): one per serialised body, 0 when the bodies are not observed.
   */
  private attempts = 0;

  /** Records the call as abandoned when `result` is collected before the call was recorded. */
  track(result: object): void {
    if (!this.recorded) trackResult(this, result);
  }

  untrack(): void {
    untrackResult(this);
  }


  /** `result` was collected unread (see src/dropped.ts). */
  abandon(): void {
    this.untrack();
    this.tap?.release();
    this.tap = undefined;
    this.endAt = this.lastAt;
    // (run by the FinalizationRegistry: a throw here would be an uncaught exception)
    try {
      // aborted, then dropped before the tap's deferred "aborted" end ran: still an abort
      if (this.acc) this.streamEnded({ kind: this.streamSignal !== undefined && signalAborted(this.streamSignal) ? "aborted" : "abandoned" }, this.acc.result(), this.items);
      else this.write({}, { success: false, errorMessage: "abandoned: the app dropped the result without awaiting or reading it" });
    } catch (err) {
      reportRecordFailure(this.logger, err);
    }
  }

  /** Headers arrived. When the app only reads the raw Response (`.asResponse()`), this is all we get. */
  responded(props: ResponseProps): void {
    this.lastAt = this.respondedAt = performance.now();
    this.headers = props.response?.headers;
    this.status = props.response?.status ?? -1;
    this.checkRaw();
  }

  /** `.asResponse()` was called on the promise (whether the SDK parses too is told by `parsing`, later: see checkRaw). */
  askedForRaw(): void {
    this.rawRequested = true;
    // Nothing holds the APIPromise while the app waits for the raw Response, and the call is
    // recorded from here on anyway (on headers, or by fail()): it is no longer a dropped result.
    this.untrack();
    this.checkRaw();
  }

  /**
   * The app asked for the raw Response and the response is here: unless the SDK starts parsing
   * the body in this same turn (`.withResponse()` does), record what is known without the body.
   */
  private checkRaw(): void {
    if (!this.rawRequested || this.status === undefined || this.parsing) return;
    const status = this.status >= 0 ? this.status : undefined;
    const record = () => {
      if (this.parsing) return;
      this.write({ response: "" }, {
        success: status === undefined || (status >= 200 && status < 300),
        ...(status !== undefined ? { statusCode: status } : {}),
        rawResponse: true,
      });
    };
    // at the end of this turn, or sooner when the app flushes, finalizes or exits (see awaitRecord)
    awaitRecord(this.logger, new Promise<void>((resolve) => setImmediate(resolve)).then(record), record);
  }

  /** The parsed body: a finished result, or a Stream to follow. */
  settle(value: unknown): void {
    if (this.streamRequested && isObj(value) && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function") {
      this.follow(value);
      return;
    }
    // (the SDK's own reading of the header, on the parsed body)
    const requestId = (value as { _request_id?: unknown } | null)?._request_id;
    if (typeof requestId === "string" && requestId.length > 0) this.requestId ??= requestId;
    // Read now, before the app (or an SDK helper such as `.parse()`) gets the value: the record is
    // built later, and the app may change the object it received by then.
    this.write(detached(this.api === "chat" ? fromChatCompletion(value) : fromResponse(value)), { success: true });
  }

  /** The promise could not be hooked: the call runs unrecorded, and the logger says why. */
  unobservable(err: unknown): void {
    reportRecordFailure(this.logger, err);
  }

  fail(err: unknown): void {
    // (no read here throws: the app gets its error as it is, whatever it is)
    const requestId = readMember(err, "requestID");
    if (typeof requestId === "string" && requestId.length > 0) this.requestId ??= requestId;
    const statusCode = errorStatus(err);
    this.write({}, { success: false, errorMessage: errorMessage(err), ...(statusCode !== undefined ? { statusCode } : {}) });
  }

  private follow(stream: Obj): void {
    this.acc = this.api === "chat" ? new ChatChunkAccumulator() : new ResponseEventAccumulator();
    const controller = stream.controller as { signal?: unknown } | undefined;
    // (read once: each read of `signal`, and of its `aborted`, is a call into Node's internals)
    const controllerSignal = controller?.signal;
    const signal = controllerSignal instanceof AbortSignal ? controllerSignal : undefined;
    this.streamSignal = signal;
    // The stream object, not the iterator: the SDK's iterator is an async generator called on the
    // stream, and a generator keeps its receiver alive, so an iterator still being read (by the
    // app, tee() or toReadableStream()) keeps the stream from being collected.
    this.track(stream);
    // the SDK's own AbortController is observed in place (cheaper than an abort listener)
    const abort = controller instanceof AbortController ? { controller, signal } : { signal };
    tapStream(stream, this, abort);
  }

  /** the tap of this call's stream (released when the call is recorded by another way than the tap's end) */
  private tap: TapHandle | undefined;

  /** The tap is set up (the tap's observer). */
  tapped(handle: TapHandle): void {
    this.tap = handle;
  }

  /** An item of the stream, as the app receives it (the tap's observer). */
  onItem(item: unknown): void {
    this.items++;
    this.lastAt = performance.now();
    if (this.acc?.add(item)) this.ttft = (this.lastAt - this.start - awaitGap(this, this.respondedAt)) / 1000;
  }

  /** The stream ended (the tap's observer). */
  onEnd(end: StreamEnd): void {
    // (the tap swallows an observer's throw, so it is reported here)
    try {
      if (this.acc) this.streamEnded(end, this.acc.result(), this.items);
    } catch (err) {
      reportRecordFailure(this.logger, err);
    }
  }

  private streamEnded(end: StreamEnd, outcome: ChatOutcome, items: number): void {
    // (the accumulators copied what the app was handed too, usage and a final Response's tool
    // calls, as it arrived: the outcome shares nothing with the SDK's objects)
    // leaving after the provider said the response is finished (a finish reason, the final
    // Response) is leaving a finished response, not abandoning it: also by an abort, which is how
    // the SDK's `.stream()` helpers implement `break` (as the Anthropic wrapper does after
    // message_stop; found by review, 2026-12-03)
    if ((end.kind === "abandoned" || end.kind === "aborted") && this.acc?.finished === true) end = COMPLETED;
    const stream = { end: end.kind, chunks: items };
    switch (end.kind) {
      case "completed":
        // the SDK's iterator ended, but the provider never said the response was finished (no
        // finish reason, no final Response event): a server that hung up between events, as the
        // Anthropic wrapper's `truncated` (found by review, 2026-12-04: recorded as a success)
        if (this.acc !== undefined && !this.acc.finished) {
          this.write(outcome, { success: false, errorMessage: `truncated: the stream ended before the provider finished the response, after ${items} chunks`, stream: { end: "truncated", chunks: items } });
          return;
        }
        this.write(outcome, { success: true, stream });
        return;
      case "aborted":
        this.write(outcome, { success: false, errorMessage: `aborted: the request was aborted after ${items} stream chunks`, stream });
        return;
      case "abandoned":
        this.write(outcome, {
          success: false,
          errorMessage: items === 0 ? "abandoned: the app dropped the stream without reading it" : `abandoned: the app stopped reading the stream after ${items} chunks`,
          stream,
        });
        return;
      case "error": {
        const statusCode = errorStatus(end.error);
        this.write(outcome, { success: false, errorMessage: errorMessage(end.error), ...(statusCode !== undefined ? { statusCode } : {}), stream });
      }
    }
  }

  /**
   * How long the call lasted: to its end (an abandoned one's: to the last thing the app got),
   * less the app's wait before it asked for the body or the stream (see awaitGap).
   */
  private seconds(): number {
    return ((this.endAt ?? performance.now()) - this.start - awaitGap(this, this.respondedAt)) / 1000;
  }


  private write(outcome: ChatOutcome, status: CallStatus): void {
    if (this.recorded) return;
    this.recorded = true;
    this.untrack();
    // (nothing that leads back to the stream stays with a recorded call: see src/dropped.ts)
    this.streamSignal = undefined;
    const retrieval = this.retrieval;
    if (retrieval !== undefined && !(status.success && outcome.background === true && !RUNNING.has(outcome.finishReason) && firstEnd(retrieval.responseId))) {
      // a poll, a failed one, or a stored response read again: no interaction with the model
      this.headers = undefined;
      return;
    }
    const durationSeconds = this.seconds();
    const headers = this.headers;
    this.headers = undefined;
    if (status.errorMessage !== undefined) status.errorMessage = hideCredentials(status.errorMessage, callCredentials(this.credentials(), this.requestOptions));
    // (reading the app's params can throw, a Proxy say: reported, never the app's problem)
    try {
      this.record(durationSeconds, headers, outcome, status);
    } catch (err) {
      reportRecordFailure(this.logger, err);
    }
  }

  private record(durationSeconds: number, headers: { get(name: string): string | null } | undefined, outcome: ChatOutcome, status: CallStatus): void {
    if (this.requestId === undefined && headers) this.requestId = requestIdOf(headers);
    const body = isObj(this.body) ? this.body : {};
    const requested = this.requestedModel;
    let sent: string | undefined;
    let copied: OpenAIRecordData[4];
    if (this.capture) {
      // the prompt as sent; else as copied at the call; else (the SDK never serialised it) the
      // params now, copied, as the record is made later
      sent = this.sentBody;
      if (sent === undefined) {
        try {
          copied = this.prompt ?? copyOf(promptOf(this.api, body));
        } catch {
          copied = ""; // params that throw when read (the call failed on them too): no prompt to record
        }
      }
    }
    this.sentBody = undefined;
    this.prompt = undefined;
    const ownTrace = this.callContext?.traceId === undefined;
    const retrieval = this.retrieval;
    if (retrieval !== undefined) {
      this.recordAnswer(retrieval, durationSeconds, outcome, status, ownTrace);
      return;
    }
    // a background response, queued: its answer, fetched later, is recorded with this request
    if (outcome.background === true && outcome.responseId !== undefined && RUNNING.has(outcome.finishReason)) {
      const bytes = (sent?.length ?? 0) + (typeof copied === "string" ? copied.length : 0);
      rememberRequest(outcome.responseId, { recordId: this.id, traceId: this.callContext?.traceId ?? this.id, sent, copied, model: requested, settings: this.settings, context: this.callContext, user: this.userAtCall, bytes });
    }
    const data = openaiRecordData(this.api, this.capture, requested, sent, copied, durationSeconds, this.ttft, this.requestId, outcome, status, this.id, ownTrace, this.settings, this.attempts, this.method);
    // Made later (the app gets its result first), batched, or with `thread: true` on the
    // worker thread; flush(), finalizeSession() and the exit hooks make a pending record, so
    // one right after the call still includes it. The record carries the call's context.
    recordFrom(this.logger, openaiChatInputBuilder, data, this.callContext, this.userAtCall);
  }

  /** A background response's end, fetched by `retrieval` (see instrumentRetrieval). */
  private recordAnswer(retrieval: NonNullable<CallRecord["retrieval"]>, durationSeconds: number, outcome: ChatOutcome, status: CallStatus, ownTrace: boolean): void {
    const request = retrieval.request;
    forgetRequest(retrieval.responseId);
    const background: Obj = { fetchedBy: retrieval.method };
    if (request !== undefined) background.requestRecordId = request.recordId;
    else background.request = "not made by this process: its prompt is not recorded here";
    // outside any trace, the answer is recorded in its request's, as its child
    const links = ownTrace && request !== undefined ? ([request.traceId, request.recordId] as const) : undefined;
    const sent = this.capture ? request?.sent : undefined;
    const copied = this.capture ? (request?.copied ?? (request?.sent === undefined ? "" : undefined)) : undefined;
    const data = openaiRecordData(
      "responses",
      this.capture,
      request?.model,
      sent,
      copied,
      durationSeconds,
      this.ttft,
      this.requestId,
      outcome,
      status,
      this.id,
      ownTrace && links === undefined,
      request?.settings,
      0,
      this.method,
      background,
      links,
    );
    // (fetched outside any trace: recorded as the request's, its user and context)
    if (links !== undefined) recordFrom(this.logger, openaiChatInputBuilder, data, request!.context, request!.user);
    else recordFrom(this.logger, openaiChatInputBuilder, data, this.callContext, this.userAtCall);
  }
}

const COMPLETED: StreamEnd = { kind: "completed" };

/** An outcome that no longer shares objects with the SDK's result (its usage and tool calls copied as JSON data). */
function detached(o: ChatOutcome): ChatOutcome {
  if (o.usage !== undefined) o.usage = copyUsage(o.usage);
  if (o.toolCalls !== undefined) o.toolCalls = toJsonData(o.toolCalls) as unknown[];
  if (typeof o.response === "object") o.response = toJsonData(o.response) as unknown[];
  return o;
}

/** A prompt copied at the call, in the JSON-safe form the record stores anyway. */
function copyOf(prompt: ReturnType<typeof promptOf>): ReturnType<typeof promptOf> {
  return typeof prompt === "string" ? prompt : (toJsonData(prompt) as ReturnType<typeof promptOf>);
}
