/**
 * `auditLanguageModelMiddleware`: one ChatInteraction per model call made through the AI SDK
 * (`generateText`, `streamText`, `generateObject`, … on a model wrapped with `wrapLanguageModel`).
 *
 * The middleware sees each call at the language-model level: the standardized prompt, the
 * content parts or stream parts the provider produced, usage and finish reason. For streams the
 * provider's stream is handed on through a pass-through that watches each part and records when
 * the stream finishes, fails, or is cancelled by its reader. The `ai` package is an optional peer
 * dependency: only its types are imported.
 */
import { createHash } from "node:crypto";
import { aiSdkRequestSettings } from "./request-settings.js";
import type { LanguageModelMiddleware } from "ai";
import { currentContext, runWithOwnValue, userOfCall } from "../src/context.js";
import { REDACTED_TEXT, hideCredentials, readMember, recordFrom, reportRecordFailure, resolveAuditLogger, textOf } from "../src/instrument.js";
import { Redactor } from "../src/pipeline/redact.js";
import { isCredentialHeader } from "./fetch.js";
import { KEY_SHAPE_RULES } from "../src/secret-name.js";
import type { AuditLogger } from "../src/logger.js";
import type { AuditContextValue } from "../src/types.js";
import { newId } from "../src/record/id.js";
import { copyUsage, toJsonData } from "../src/record/serialize.js";
import { isThenable } from "./api-promise.js";
import { checkedOptions } from "./options.js";
import { trackResult, untrackResult, type DroppableCall, type Ticket } from "../src/dropped.js";
import { aiSdkChatInputBuilder, type AiSdkRecordData, type AiSdkToolCall } from "./ai-sdk-input.js";

/** Options of {@link auditLanguageModelMiddleware}. */
export interface AuditLanguageModelMiddlewareOptions {
  /** the logger for these calls; else the active context's, else the default logger */
  readonly logger?: AuditLogger | undefined;
  /**
   * Hand the prompt, the response text and tool inputs to the logger (which previews, hashes,
   * encrypts or drops them per its own configuration). With `false` only model, counts, timings,
   * finish reason, tool names and errors are recorded. Default true.
   */
  readonly captureContent?: boolean | undefined;
}

type WrapGenerate = NonNullable<LanguageModelMiddleware["wrapGenerate"]>;
type WrapStream = NonNullable<LanguageModelMiddleware["wrapStream"]>;
type CallArgs = Parameters<WrapGenerate>[0];
type GenerateResult = Awaited<ReturnType<WrapGenerate>>;
type StreamResult = Awaited<ReturnType<WrapStream>>;
type Obj = Record<PropertyKey, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null;
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/**
 * How a model wrapped twice with this middleware records each call once. `wrapLanguageModel`
 * asks each middleware for the new model's `supportedUrls` (`overrideSupportedUrls`); this one
 * hands back a copy of the wrapped model's, kept in this set, and a wrapper made around the
 * result carries that same copy on (wrappers take the wrapped model's `supportedUrls`). So a
 * model whose `supportedUrls` is in the set is, or wraps, a model this middleware records: an
 * outer copy of the middleware calling it passes the call through, and the innermost records it,
 * in the caller's context. A model that calls audited models itself (a router, a fallback) has
 * `supportedUrls` of its own, so its call and each of theirs are recorded, whatever their ids.
 * Shared by copies of the package (the global symbol registry). (Until 2026-12-03 the inner
 * copy recognised the outer one's call options instead, which hid a fallback's failed first call
 * and, after a review's fix, recorded twice under a `modelId` alias.)
 */
const kAudited = Symbol.for("audit-logger.ai-sdk.audited-urls.v1");
const auditedUrls: WeakSet<object> = ((globalThis as { [kAudited]?: WeakSet<object> })[kAudited] ??= new WeakSet<object>());

/** The `supportedUrls` a model wrapped with this middleware gets: the wrapped model's, as a copy kept in `auditedUrls`. */
function markedUrls(model: unknown): PromiseLike<Record<string, RegExp[]>> | Record<string, RegExp[]> | undefined {
  const urls = readMember(model, "supportedUrls");
  if (typeof urls !== "object" || urls === null) return undefined; // (the SDK then keeps the model's own)
  if (auditedUrls.has(urls)) return urls as Record<string, RegExp[]>;
  // (a promise of its own: Promise.resolve() of a native promise is that same promise, which
  // would mark the wrapped model itself; found by review)
  const marked: PromiseLike<Record<string, RegExp[]>> | Record<string, RegExp[]> =
    isThenable(urls)
      ? new Promise<Record<string, RegExp[]>>((resolve, reject) => {
          (urls as PromiseLike<Record<string, RegExp[]>>).then(resolve, reject);
        })
      : { ...(urls as Record<string, RegExp[]>) };
  auditedUrls.add(marked);
  return marked;
}

/**
 * The logger an outer copy of the middleware hands down, in the context, to the copy it passes a
 * call on to, for when that copy has none of its own (no `logger` option, context or default
 * logger): the outer copy passes the call on, so without it a model wrapped twice, its inner copy
 * with no logger, left no record although the outer copy had one (found by review, 2026-12-04).
 * The copy that records the call takes it out of the context its model is called in. Shared by
 * copies of the package (the global symbol registry).
 */
const kOuterLogger = Symbol.for("audit-logger.ai-sdk.outer-logger.v1");
/**
 * Handed down with the logger: the context the app made the call in (null for none), which a
 * retry is told by (see FailedAttempt); the context the inner copy runs in is a new one per
 * attempt, so streamText's retries through a model wrapped twice were not linked (2026-12-05).
 */
const kCallerContext = Symbol.for("audit-logger.ai-sdk.caller-context.v1");
type HandedDown = { [kOuterLogger]?: AuditLogger | undefined; [kCallerContext]?: AuditContextValue | null | undefined };

/** The context the app made the call in: the one an outer copy passed it on from (see kCallerContext), else `ctx`. */
function callerContext(ctx: AuditContextValue | undefined): AuditContextValue | undefined {
  const from = ctx === undefined ? undefined : (ctx as HandedDown)[kCallerContext];
  return from === undefined ? ctx : (from ?? undefined);
}

/** The logger an outer copy handed down in `ctx` (see kOuterLogger). */
function handedDown(ctx: AuditContextValue | undefined): AuditLogger | undefined {
  return ctx === undefined ? undefined : (ctx as HandedDown)[kOuterLogger];
}

/** Runs `next` (passing the call on to a model that records it) with `logger` handed down (see kOuterLogger). */
function passOn<R>(logger: AuditLogger, next: () => R): R {
  const ctx = currentContext();
  if (handedDown(ctx) === logger) return next();
  return runWithOwnValue({ [kOuterLogger]: logger, [kCallerContext]: callerContext(ctx) ?? null } as AuditContextValue, next);
}

/** What the middleware knows of a model it calls (see modelTraits): bits. */
const RECORDS_ITSELF = 1;
/** its stream parts are LanguageModelV4's: a stream the provider did not finish ends with reason "interrupted" */
const V4_PARTS = 2;

/**
 * What the middleware needs to know of `model` (the one it is about to call): whether it records
 * its calls itself (see `auditedUrls`) and whether its parts are v4's (see specOf). Read once per
 * model (the SDK reads `supportedUrls` when it wraps a model, not per call: a getter there must
 * not run per request), one WeakMap look-up per call.
 */
const traits = new WeakMap<object, number>();
function modelTraits(model: unknown): number {
  if (!isObj(model)) return 0;
  let known = traits.get(model);
  if (known === undefined) {
    const urls = readMember(model, "supportedUrls");
    known = (typeof urls === "object" && urls !== null && auditedUrls.has(urls) ? RECORDS_ITSELF : 0) | (specOf(model) === "v4" ? V4_PARTS : 0);
    traits.set(model, known);
  }
  return known;
}

/**
 * The specification version of the parts `model` hands on: its own `specificationVersion` member
 * when it has one, else the one it reports. ai 7 hands middleware a v3 model (a provider package
 * of the last major, `@ai-sdk/openai` 3) as a Proxy that reports "v4" but passes the model's
 * stream parts on as they are, v3's, whose own member still says "v3" (a Proxy with no
 * `getOwnPropertyDescriptor` trap answers with its target's). ai 6 hands it the model as it is.
 */
function specOf(model: object): unknown {
  try {
    const own = Object.getOwnPropertyDescriptor(model, "specificationVersion");
    if (own !== undefined && "value" in own) return own.value;
  } catch {
    // (a revoked Proxy: what it reports, if it can)
  }
  return readMember(model, "specificationVersion");
}

/**
 * An AI SDK language-model middleware that records every model call as one ChatInteraction:
 * model and provider, prompt, response text, tokens (and the provider's raw usage), finish
 * reason, tool calls, time to first token for streams, duration, and success or the error with
 * its HTTP status. The provider's results and errors pass through unchanged.
 *
 * List it last among `wrapLanguageModel`'s middleware (innermost): it records what reaches it,
 * so listed before another middleware it records the app's prompt and settings, not what that
 * middleware sends on (defaults, retrieved context), and cannot read the provider's credentials
 * (documented in docs/INTEGRATIONS.md, found by review, 2026-12-04; a wrapped model cannot be
 * told from any other, so the place is not checked).
 *
 * @example
 * import { generateText, wrapLanguageModel } from "ai";
 * import { anthropic } from "@ai-sdk/anthropic";
 * import { auditLanguageModelMiddleware } from "audit-logger/integrations/ai-sdk";
 *
 * const model = wrapLanguageModel({ model: anthropic("claude-haiku-4-5"), middleware: auditLanguageModelMiddleware({ logger }) });
 * const { text } = await generateText({ model, prompt: "Hi" });   // one record
 */
export function auditLanguageModelMiddleware(given: AuditLanguageModelMiddlewareOptions = {}): LanguageModelMiddleware {
  const options = checkedOptions("auditLanguageModelMiddleware", given);
  const capture = options.captureContent !== false;
  return {
    // (ai 6 requires "v3"; ai 7 takes middleware of any version and hands it v4 shapes: see modelTraits)
    specificationVersion: "v3",
    // (marks the wrapped model as recording its own calls, see `auditedUrls`)
    overrideSupportedUrls: ({ model }) => markedUrls(model) as PromiseLike<Record<string, RegExp[]>> | Record<string, RegExp[]>,
    wrapGenerate: async function auditedGenerate({ doGenerate, params, model }: CallArgs): Promise<GenerateResult> {
      const logger = resolveAuditLogger(options.logger, handedDown(currentContext()));
      if (!logger) return doGenerate();
      if ((modelTraits(model) & RECORDS_ITSELF) !== 0) return passOn(logger, doGenerate);
      const call = startCall(logger, params, model, "generate", capture);
      if (!call) return doGenerate();
      let result: GenerateResult;
      try {
        result = await runWithOwnValue(call.innerContext(), doGenerate);
      } catch (err) {
        call.finish(failedOutcome(err, params));
        throw err;
      }
      let outcome: Outcome;
      try {
        outcome = generateOutcome(result);
      } catch (err) {
        // a result we could not read is still the caller's result; the record says so
        outcome = { error: `the model returned a result the audit middleware could not read (${errorMessage(err)})` };
      }
      call.finish(outcome);
      return result;
    },
    wrapStream: async function auditedStream({ doStream, params, model }: CallArgs): Promise<StreamResult> {
      const logger = resolveAuditLogger(options.logger, handedDown(currentContext()));
      if (!logger) return doStream();
      const known = modelTraits(model);
      if ((known & RECORDS_ITSELF) !== 0) return passOn(logger, doStream);
      const call = startCall(logger, params, model, "stream", capture);
      if (!call) return doStream();
      let result: StreamResult;
      try {
        result = await runWithOwnValue(call.innerContext(), doStream);
      } catch (err) {
        call.finish(failedOutcome(err, params));
        throw err;
      }
      try {
        const stream = watchStream(result.stream, call, abortSignalOf(params), requestIdOf(result.response), (known & V4_PARTS) !== 0);
        // (a stream nobody reads to its end nor cancels is recorded when it is collected)
        trackResult(call, stream);
        return { ...result, stream };
      } catch {
        call.finish({ error: "could not observe the stream", end: "error" });
        return result;
      }
    },
  };
}

// ------------------------------------------------------------------ one call, recorded once

interface Outcome {
  model?: string;
  text?: string;
  toolCalls?: Array<{ toolCallId?: string; toolName?: string; input?: unknown }>;
  usage?: unknown;
  inputTokens?: number;
  outputTokens?: number;
  finishReason?: string;
  rawFinishReason?: string;
  ttft?: number;
  statusCode?: number;
  requestId?: string;
  responseId?: string;
  error?: string;
  end?: "completed" | "truncated" | "aborted" | "cancelled" | "abandoned" | "error";
  parts?: number;
}

/**
 * Retries by generateText/streamText call the model again with the same prompt array once the
 * attempt before failed: linked. A call made while another with the same array is still under
 * way, or after one that succeeded, is not a retry (two calls the app makes at once with one
 * options object, say).
 */
interface Chain {
  readonly first: string;
  n: number;
  inFlight: boolean;
  failed: boolean;
  /** outside any trace: the trace its attempts are recorded in, and their parent (see linkOf) */
  readonly trace: string;
  readonly parent: string | undefined;
}
const attempts = new WeakMap<object, Chain[]>();

/**
 * A failed attempt a retry may follow although its prompt is another array: streamText builds the
 * prompt anew for each attempt (ai 7's `streamLanguageModelCall` converts the messages inside
 * the retried function; generateText converts them once per step), so its retries, of a refused
 * request (`maxRetries`) and of a stream that failed (`streamRetries`), were each recorded as a
 * first attempt, unlinked (found by a new-user run, 2026-12-05). Such a retry is told by what
 * else the SDK passes on unchanged: the same model, the audit context (the same object: the
 * retry runs in the call's async context), the abort signal (the same one, or none), and a prompt
 * equal as JSON, within RETRY_WINDOW_MS of the failure.
 */
interface FailedAttempt {
  readonly chain: Chain;
  /** the chain's attempt count when this one failed: a later attempt of it makes this entry stale */
  readonly n: number;
  readonly ctx: AuditContextValue | undefined;
  readonly signal: unknown;
  readonly prompt: string;
  readonly at: number;
}
/** The SDK waits at most a minute between attempts (it caps a `retry-after` it follows at 60 s). */
const RETRY_WINDOW_MS = 65_000;
/** per model, failed attempts whose retry may yet come (a few: older ones leave first) */
const failedByModel = new WeakMap<object, FailedAttempt[]>();
const MAX_FAILED_PER_MODEL = 16;

/**
 * The prompt's SHA-256 over its JSON text, to compare attempts by (a digest: a failed attempt is
 * kept up to RETRY_WINDOW_MS, and a prompt with images runs to megabytes); undefined when it
 * cannot be made.
 */
function promptKey(prompt: unknown): string | undefined {
  try {
    const json = JSON.stringify(prompt);
    return json === undefined ? undefined : createHash("sha256").update(json).digest("base64");
  } catch {
    return undefined;
  }
}

/** A failed attempt of `model` whose retry a call with these inputs is (see FailedAttempt), taken out of the list. */
function failedAttemptFor(model: unknown, ctx: AuditContextValue | undefined, signal: unknown, prompt: () => unknown): Chain | undefined {
  if (!isObj(model)) return undefined;
  const list = failedByModel.get(model);
  if (list === undefined) return undefined;
  const now = performance.now();
  // (stale entries leave: their chain went on, succeeded, or the window closed)
  for (let i = list.length - 1; i >= 0; i--) {
    const f = list[i]!;
    if (f.chain.n !== f.n || f.chain.inFlight || !f.chain.failed || now - f.at > RETRY_WINDOW_MS) list.splice(i, 1);
  }
  if (list.length === 0) {
    failedByModel.delete(model);
    return undefined;
  }
  let key: string | undefined;
  for (let i = list.length - 1; i >= 0; i--) {
    const f = list[i]!;
    if (f.ctx !== ctx || f.signal !== signal) continue;
    key ??= promptKey(prompt());
    if (key === undefined) return undefined;
    if (f.prompt !== key) continue;
    list.splice(i, 1);
    return f.chain;
  }
  return undefined;
}

/** Keeps a failed attempt for a retry that may come with another prompt array (see FailedAttempt). */
function rememberFailed(model: unknown, chain: Chain, ctx: AuditContextValue | undefined, signal: unknown, prompt: unknown): void {
  if (!isObj(model)) return;
  const key = promptKey(prompt);
  if (key === undefined) return;
  let list = failedByModel.get(model);
  if (list === undefined) failedByModel.set(model, (list = []));
  if (list.length >= MAX_FAILED_PER_MODEL) list.shift();
  list.push({ chain, n: chain.n, ctx, signal, prompt: key, at: performance.now() });
}

/**
 * The steps of one tool loop outside any trace. The AI SDK passes a middleware nothing that ties
 * the model calls of one `generateText` / `streamText` together, so outside an audit context
 * each step started a trace of its own (documented as a gap until 2026-12-06). A step after the
 * first carries, as its prompt's last message, the results of the tool calls the step before it
 * made, by their ids (`toolCallId`, the provider's: `toolu_…`, `call_…`): a call made outside any
 * trace whose prompt ends with results of calls a recorded call made (outside any trace, in this
 * process) is recorded in that call's trace, with it as the parent. Each recorded call's tool
 * call ids are kept, the last 1,000 for 15 minutes (a tool that waits for a person's approval
 * longer starts a trace of its own again). An id is kept for the logger and the caller's context
 * (the object: one `auditContext.run`, or none) that made it, and a step is linked only to a step
 * of the same: tool call ids are not secret nor always unique (a provider or a proxy that numbers
 * them, a client that sends a history back), and two users' loops at once, each in a context
 * with a user and no trace, were linked into each other's traces (found by review, 2026-12-06).
 */
interface StepLink {
  readonly trace: string;
  readonly record: string;
  readonly at: number;
}
const TOOL_CALLS = new Map<string, StepLink>();
const MAX_TOOL_CALLS = 1_000;
const TOOL_CALL_WINDOW_MS = 15 * 60_000;
/** A number per logger and per caller context, for the keys of TOOL_CALLS (weak: neither is kept). */
const linkScopes = new WeakMap<object, number>();
let lastScope = 0;
function scopeOf(o: object | undefined): number {
  if (o === undefined) return 0;
  let n = linkScopes.get(o);
  if (n === undefined) linkScopes.set(o, (n = ++lastScope));
  return n;
}
/** The prefix of the TOOL_CALLS keys of the calls `logger` records in the caller's context `ctx`. */
const stepScope = (logger: object, ctx: AuditContextValue | undefined): string => `${scopeOf(logger)}:${scopeOf(ctx)}:`;

/** The step whose tool calls `prompt` ends with the results of (see StepLink), if any. Never throws. */
function linkOf(prompt: unknown, scope: string): StepLink | undefined {
  if (TOOL_CALLS.size === 0 || !Array.isArray(prompt)) return undefined;
  try {
    const now = performance.now();
    for (let i = prompt.length - 1; i >= 0; i--) {
      const message: unknown = prompt[i];
      if (!isObj(message) || message.role !== "tool") return undefined;
      const content = message.content;
      if (!Array.isArray(content)) continue;
      for (const part of content as unknown[]) {
        if (!isObj(part) || part.type !== "tool-result" || typeof part.toolCallId !== "string") continue;
        const link = TOOL_CALLS.get(scope + part.toolCallId);
        if (link !== undefined && now - link.at <= TOOL_CALL_WINDOW_MS) return link;
      }
    }
  } catch {
    // (a prompt whose parts cannot be read: the call starts a trace of its own)
  }
  return undefined;
}

/** Keeps the ids of the tool calls a call made outside any trace (see StepLink). */
function rememberToolCalls(toolCalls: Outcome["toolCalls"], link: StepLink, scope: string): void {
  if (toolCalls === undefined) return;
  for (const call of toolCalls) {
    if (typeof call.toolCallId !== "string" || call.toolCallId === "") continue;
    const id = scope + call.toolCallId;
    // (the newest call that made an id is the one its results answer: refreshed, as the newest)
    TOOL_CALLS.delete(id);
    TOOL_CALLS.set(id, link);
    if (TOOL_CALLS.size > MAX_TOOL_CALLS) TOOL_CALLS.delete(TOOL_CALLS.keys().next().value!);
  }
}

/** The call, or undefined when its inputs cannot be read (a revoked Proxy in the prompt): it then runs unrecorded, and the logger says why. */
function startCall(logger: AuditLogger, params: unknown, model: unknown, kind: "generate" | "stream", capture: boolean): ModelCall | undefined {
  try {
    return new ModelCall(logger, params, model, kind, capture);
  } catch (err) {
    reportRecordFailure(logger, new Error(`a model call runs unrecorded: its call options could not be read (${errorMessage(err)})`, { cause: err }));
    return undefined;
  }
}

class ModelCall implements DroppableCall {
  readonly id = newId();
  /** the registration that records a stream collected unread (see src/dropped.ts) */
  ticket: Ticket | undefined = undefined;
  /** a stream's parts so far, for that record */
  acc: PartAccumulator | undefined = undefined;
  private readonly start = performance.now();
  /** set by `abandon`: when the app last got something of the stream, the end the record's duration is taken to */
  private endAt: number | undefined = undefined;
  private readonly ctx = currentContext();
  /** the user the call was made by (see recordFrom) */
  private readonly userAtCall = userOfCall(this.ctx);

  /** The context the model's call runs in: this call as the parent, in its trace (one it starts outside any: see AuditLogger.logChatInteraction). */
  innerContext(): AuditContextValue {
    // (a retry's trace is the one its first attempt started, a tool loop's step the one its first
    // step started: see ownTrace in ai-sdk-input.ts)
    const value = this.ctx?.traceId === undefined ? { parentId: this.id, traceId: this.chain.trace } : { parentId: this.id };
    // (a logger an outer copy handed down is this call's: the calls made inside it do not take it)
    if (handedDown(this.ctx) !== undefined) {
      (value as HandedDown)[kOuterLogger] = undefined;
      (value as HandedDown)[kCallerContext] = undefined;
    }
    return value;
  }
  private readonly prompt: unknown;
  /** the model, for its provider's credentials (read only when the call failed: see credentialsOf) */
  private readonly model: unknown;
  /** the call's own headers (`generateText({ headers })`), for the credentials among them (see credentialsOf) */
  private readonly headers: unknown;
  private readonly modelId: string | undefined;
  private readonly provider: string | undefined;
  /** its sampling settings and the tools it offered (see request-settings.ts) */
  private readonly settings: Record<string, unknown> | undefined;
  private readonly attempt: number;
  private readonly retryOf: string | undefined;
  private readonly chain: Chain;
  /** the chains of this call's prompt array (a finished chain that succeeded leaves it) */
  private readonly chains: Chain[] | undefined;
  /** the call options' abort signal, as given (see FailedAttempt) */
  private readonly signal: unknown;
  /** the prompt as the app's objects, for a failed call's FailedAttempt when it was not copied (captureContent: false) */
  private readonly rawPrompt: unknown;
  private done = false;

  constructor(
    private readonly logger: AuditLogger,
    params: unknown,
    model: unknown,
    private readonly kind: "generate" | "stream",
    private readonly capture: boolean,
  ) {
    const p = isObj(params) ? params : {};
    // Copied now, as JSON data (what the provider is sent): the record is made when the call
    // ends, a stream's at its end, and the prompt holds the app's own objects (a tool call's
    // input, a tool's result), which the app may change by then.
    this.prompt = capture && Array.isArray(p.prompt) ? toJsonData(p.prompt) : [];
    this.rawPrompt = p.prompt;
    try {
      this.settings = aiSdkRequestSettings(p);
    } catch {
      // options that throw when read: the model meets that itself
    }
    this.model = model;
    this.headers = readMember(p, "headers");
    const m = isObj(model) ? model : {};
    this.modelId = str(m.modelId);
    this.provider = str(m.provider);
    let chains: Chain[] | undefined;
    if (Array.isArray(p.prompt)) {
      chains = attempts.get(p.prompt);
      if (!chains) attempts.set(p.prompt, (chains = []));
    }
    this.chains = chains;
    this.signal = readMember(p, "abortSignal");
    // (a retry with another prompt array is looked for only while a failed attempt of this model waits for one)
    const prior =
      chains?.findLast((c) => !c.inFlight && c.failed) ??
      failedAttemptFor(model, callerContext(this.ctx), this.signal, () => (capture ? this.prompt : toJsonData(p.prompt)));
    if (prior) {
      prior.n++;
      prior.inFlight = true;
      this.chain = prior;
      this.attempt = prior.n;
      this.retryOf = prior.first;
    } else {
      // (outside any trace, a tool loop's later step joins the trace of the step before: see StepLink)
      const link = this.ctx?.traceId === undefined ? linkOf(p.prompt, stepScope(this.logger, callerContext(this.ctx))) : undefined;
      this.chain = { first: this.id, n: 1, inFlight: true, failed: false, trace: link?.trace ?? this.id, parent: link?.record };
      this.attempt = 1;
      chains?.push(this.chain);
    }
  }

  /**
   * Making this call's outcome failed: reported, and the call recorded without it (unless
   * `finish` ran already: a call is recorded once).
   */
  failedToRecord(err: unknown): void {
    reportRecordFailure(this.logger, err);
    this.finish({ error: `the audit middleware could not read the call's outcome: ${errorMessage(err)}`, end: "error" });
  }

  /** The call's stream was collected before it ended or was cancelled (run by the FinalizationRegistry: never throws). */
  abandon(): void {
    try {
      const acc = this.acc;
      // (it lasted until the app last got something of it, not until the collector ran)
      this.endAt = acc?.lastAt;
      if (acc?.finished === true && acc.error === undefined) return this.finish(completedOutcome(acc));
      if (acc?.error !== undefined) return this.finish(errorOutcome(acc.error, acc.outcome("error")));
      const o = acc ? acc.outcome("abandoned") : newOutcome();
      o.end = "abandoned";
      o.error = `abandoned: the app dropped the stream after ${acc?.parts ?? 0} parts`;
      this.finish(o);
    } catch (err) {
      reportRecordFailure(this.logger, err);
    }
  }

  get elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }

  /** seconds from the call to `at` (a performance.now() reading) */
  secondsTo(at: number): number {
    return (at - this.start) / 1000;
  }

  finish(o: Outcome): void {
    if (this.done) return;
    this.done = true;
    untrackResult(this);
    this.acc = undefined;
    this.chain.inFlight = false;
    this.chain.failed = o.error !== undefined;
    // (an abort is not retried by the SDK)
    if (this.chain.failed && o.end !== "aborted") {
      try {
        rememberFailed(this.model, this.chain, callerContext(this.ctx), this.signal, this.capture ? this.prompt : toJsonData(this.rawPrompt));
      } catch {
        // (a prompt that cannot be read now: its retry is recorded unlinked)
      }
    }
    if (!this.chain.failed && this.chains) {
      // a chain that succeeded has no retry to come: it leaves (an app reusing one options
      // object for many calls would otherwise grow the list)
      const i = this.chains.indexOf(this.chain);
      if (i >= 0) this.chains.splice(i, 1);
    }
    const logger = this.logger;
    try {
      // Copied now (the app is handed the same usage and tool inputs, and the record is made
      // later: batched, or on the worker with `thread: true`)
      const usage = o.usage === undefined ? undefined : copyUsage(o.usage);
      const toolCalls = o.toolCalls && o.toolCalls.length > 0 ? (toJsonData(o.toolCalls) as AiSdkToolCall[]) : undefined;
      const ownTrace = this.ctx?.traceId === undefined;
      if (ownTrace) rememberToolCalls(toolCalls, { trace: this.chain.trace, record: this.id, at: performance.now() }, stepScope(this.logger, callerContext(this.ctx)));
      const data: AiSdkRecordData = [
        this.id,
        this.kind,
        this.capture,
        this.prompt,
        this.modelId,
        this.provider,
        this.attempt,
        this.retryOf,
        this.endAt === undefined ? this.elapsed : this.secondsTo(this.endAt),
        o.model,
        o.text,
        usage,
        o.inputTokens,
        o.outputTokens,
        o.finishReason,
        o.rawFinishReason,
        toolCalls,
        o.ttft,
        o.statusCode,
        o.requestId,
        o.responseId,
        o.error === undefined ? undefined : hiddenCredentials(o.error, this.model, this.headers),
        o.end,
        o.parts,
        ownTrace ? [this.chain.trace, this.chain.parent] : undefined,
        this.settings,
      ];
      // in the call's context, from which the logger takes the record's user, trace, parent,
      // persona and metadata (a stream is read in the reader's)
      recordFrom(logger, aiSdkChatInputBuilder, data, this.ctx, this.userAtCall);
    } catch (err) {
      reportRecordFailure(logger, err);
    }
  }
}

// ------------------------------------------------------------------ reading results

// (never throws: each field read on its own, see readMember)
function errorMessage(err: unknown): string {
  if (!isObj(err)) return textOf(err);
  // stream `error` parts carry the provider's error object ({ type, message }) rather than an Error
  const name = readMember(err, "name");
  const type = readMember(err, "type");
  const message = readMember(err, "message");
  // (credentials it quotes are hidden when the call is recorded: see ModelCall.finish)
  return `${typeof name === "string" ? name : typeof type === "string" ? type : "Error"}: ${typeof message === "string" ? message : textOf(err)}`;
}

/**
 * `error` (the text to record of a failed call) with the credentials the call sent hidden: its
 * provider's (see credentialsOf) and those among the call's own headers
 * (`generateText({ headers: { Authorization } })`, which only the call options carry). When the
 * provider's headers cannot be read (the middleware is not innermost: the model it calls is the
 * AI SDK's wrapper for another middleware, which does not expose the provider's model; or they
 * are given asynchronously), values shaped as keys are hidden too (see hideKeyShapes). Found by
 * review, 2026-12-04: an outer middleware recorded "Incorrect API key provided: <key>" verbatim.
 */
function hiddenCredentials(error: string, model: unknown, callHeaders: unknown): string {
  const fromProvider = credentialsOf(model);
  const credentials = fromProvider ?? [];
  // (never throws: each value read guarded)
  collectCredentials(callHeaders, credentials);
  const text = hideCredentials(error, credentials);
  return fromProvider === undefined ? hideKeyShapes(text) : text;
}

/**
 * The credentials a provider's model sends (an AI SDK provider's `config.headers()`: its
 * `Authorization: Bearer <key>`, `x-api-key`), for {@link hideCredentials}: a provider's error may
 * quote the key ("Incorrect API key provided: <key>"), and the middleware records it (found by a
 * new-user run, 2026-12-04). Undefined when they cannot be read: no `config` (the model is another
 * middleware's wrapper), headers given asynchronously (not waited for), or ones that throw.
 */
function credentialsOf(model: unknown): string[] | undefined {
  try {
    const config = readMember(model, "config");
    const given = readMember(config, "headers");
    // (an async one, the AI Gateway's, may fetch a token: not called; a promise one returns anyway
    // is marked handled, as its rejection would be an unhandled one of ours; found by review)
    if (typeof given === "function" && Object.prototype.toString.call(given) === "[object AsyncFunction]") return undefined;
    const headers = typeof given === "function" ? (given as () => unknown).call(config) : given;
    if (isObj(headers) && typeof (headers as { then?: unknown }).then === "function") {
      (headers as { then: (f: undefined, r: () => void) => unknown }).then(undefined, () => {});
      return undefined;
    }
    if (!isObj(headers)) return undefined;
    const out: string[] = [];
    collectCredentials(headers, out);
    return out;
  } catch {
    // (a provider whose headers cannot be read: its refused-header errors are still hidden)
    return undefined;
  }
}

/** Adds to `out` the values of the credential headers among `headers` (a plain object or a Headers), a bearer token also without its scheme. Never throws. */
function collectCredentials(headers: unknown, out: string[]): void {
  try {
    if (!isObj(headers)) return;
    const entries: Iterable<[string, unknown]> = typeof Headers !== "undefined" && headers instanceof Headers ? headers : Object.entries(headers);
    for (const [name, value] of entries) {
      // (the names fetch's records hide: authorization, x-api-key, api-key, x-goog-api-key, tokens, …)
      if (typeof value !== "string" || !isCredentialHeader(name)) continue;
      out.push(value);
      const scheme = /^(?:bearer|token)\s+/i.exec(value);
      if (scheme) out.push(value.slice(scheme[0].length));
    }
  } catch {
    // (headers whose members throw: what was read is kept)
  }
}

/** The logger's redaction rules for keys and tokens (vendor key shapes, bearer tokens, JWTs, private keys). */
const KEY_RULES = KEY_SHAPE_RULES;
let keyShapes: Redactor | undefined;
/** What follows a key's label in an error ("API key provided: <key>", "invalid x-api-key: <key>", "access_token=<token>"). */
const LABELLED_KEY = /\b((?:api[-_ ]?key|access[-_ ]?token|auth[-_ ]?token|secret[-_ ]?key)(?: provided)?["']?\s*[:=]\s*["']?)[A-Za-z0-9_~+/=-][A-Za-z0-9._~+/=-]{6,}[A-Za-z0-9_~+/=-]/gi;

/**
 * `text` with values shaped as credentials hidden: for a failed call whose provider's credentials
 * could not be read (see hiddenCredentials; found by review, 2026-12-04).
 */
function hideKeyShapes(text: string): string {
  try {
    return (keyShapes ??= new Redactor({ rules: KEY_RULES })).redactText(text.replace(LABELLED_KEY, `$1${REDACTED_TEXT}`), {});
  } catch {
    return REDACTED_TEXT; // (never the text unhidden)
  }
}

/** `o` (a new outcome by default) with the error's message, HTTP status and request id put on it. */
function errorOutcome(err: unknown, o: Outcome = newOutcome()): Outcome {
  o.error = errorMessage(err);
  // (never throws, each field read on its own: the app's error must reach the app as it is, and
  // what can be read of it is recorded; see readMember)
  // an error status only: the AI SDK's APICallError for a 200 whose body or stream then failed
  // (a dropped connection mid-stream, a body cut short) carries that 200, and a failed call was
  // recorded with `statusCode: 200` (found by a new-user run, 2026-12-06); the OpenAI and
  // Anthropic wrappers record such a failure without a status, as this one now does
  const status = num(readMember(err, "statusCode"));
  if (status !== undefined && status >= 400 && status < 600) o.statusCode = status;
  const headers = readMember(err, "responseHeaders");
  const requestId = str(readMember(headers, "request-id")) ?? str(readMember(headers, "x-request-id"));
  if (requestId !== undefined) o.requestId = requestId;
  return o;
}

/** The call options' abort signal, if they have one (read guarded: options may be the app's odd objects). */
function abortSignalOf(params: unknown): AbortSignal | undefined {
  const signal = readMember(params, "abortSignal");
  return signal instanceof AbortSignal ? signal : undefined;
}

/**
 * The error of a stream stopped by its abort signal, with the signal's reason unless it is a plain
 * `abort()`'s: ai 7's timeouts (`timeout: { chunkMs, stepMs, totalMs }`) abort the call with a
 * TimeoutError, which was recorded as "aborted" like the app's own abort (found by a new-user run,
 * 2026-12-05). Never throws.
 */
function abortedMessage(signal: AbortSignal | undefined, parts: number): string {
  let why = "";
  try {
    const reason: unknown = signal?.reason;
    if (reason !== undefined && readMember(reason, "name") !== "AbortError") why = ` (${isObj(reason) ? errorMessage(reason) : textOf(reason)})`;
  } catch {
    // (a reason that cannot be read: the abort is recorded without it)
  }
  return `aborted${why}: the request was aborted after ${parts} stream parts`;
}

/** A call that failed before it had a result or a stream: "aborted" when its abort signal fired, as for an abort mid-stream. */
function failedOutcome(err: unknown, params: unknown): Outcome {
  const o = errorOutcome(err);
  if (abortSignalOf(params)?.aborted === true) o.end = "aborted";
  return o;
}

function requestIdOf(response: unknown): string | undefined {
  const headers = isObj(response) && isObj(response.headers) ? response.headers : undefined;
  return str(headers?.["request-id"]) ?? str(headers?.["x-request-id"]);
}

/** Tool input arrives as JSON text; stored parsed when it parses. */
function parsedInput(input: unknown): unknown {
  if (typeof input !== "string") return input;
  try {
    return JSON.parse(input) as unknown;
  } catch {
    return input;
  }
}

/**
 * Puts the usage and finish reason of a result or `finish` part on `o` (written member by member
 * into an outcome built whole, instead of conditional spreads: each of those made an object more).
 */
function putFinish(o: Outcome, usage: unknown, reason: unknown): void {
  // every member set, also to undefined: a stream's later `finish` part replaces an earlier one's
  const u = isObj(usage) ? usage : undefined;
  // v3 and v4 usage is { inputTokens: { total, … }, outputTokens: { total, … }, raw }; v2 had plain numbers
  o.usage = u === undefined ? undefined : u.raw !== undefined ? u.raw : u;
  o.inputTokens = u === undefined ? undefined : isObj(u.inputTokens) ? num(u.inputTokens.total) : num(u.inputTokens);
  o.outputTokens = u === undefined ? undefined : isObj(u.outputTokens) ? num(u.outputTokens.total) : num(u.outputTokens);
  const r = isObj(reason) ? reason : undefined;
  o.finishReason = typeof reason === "string" ? reason : r === undefined ? undefined : str(r.unified);
  o.rawFinishReason = r === undefined ? undefined : str(r.raw);
}

/** An outcome with every member, undefined where unknown (read as absent): one shape, built whole. */
function newOutcome(): Outcome {
  return {
    model: undefined,
    text: undefined,
    toolCalls: undefined,
    usage: undefined,
    inputTokens: undefined,
    outputTokens: undefined,
    finishReason: undefined,
    rawFinishReason: undefined,
    ttft: undefined,
    statusCode: undefined,
    requestId: undefined,
    responseId: undefined,
    error: undefined,
    end: undefined,
    parts: undefined,
  };
}

function generateOutcome(result: GenerateResult): Outcome {
  const r = result as unknown as Obj;
  let text = "";
  const toolCalls: NonNullable<Outcome["toolCalls"]> = [];
  for (const part of Array.isArray(r.content) ? r.content : []) {
    if (!isObj(part)) continue;
    if (part.type === "text" && typeof part.text === "string") text += part.text;
    else if (part.type === "tool-call") toolCalls.push({ toolCallId: part.toolCallId as string, toolName: part.toolName as string, input: parsedInput(part.input) });
  }
  const response = isObj(r.response) ? r.response : {};
  const o = newOutcome();
  o.text = text;
  o.toolCalls = toolCalls;
  putFinish(o, r.usage, r.finishReason);
  o.model = str(response.modelId);
  o.responseId = str(response.id);
  o.requestId = requestIdOf(response);
  return o;
}

/** The outcome of a stream that ended without an error: completed, or truncated when the provider never said it was done (see PartAccumulator.unfinished). */
function completedOutcome(acc: PartAccumulator): Outcome {
  // (no `finish` part at all: the Anthropic provider sends it only at message_stop)
  if (acc.finished && !acc.unfinished) return acc.outcome("completed");
  const o = acc.outcome("truncated");
  o.error = `truncated: the stream ended before the provider finished the response, after ${acc.parts} parts`;
  return o;
}

/** What the parts of one streamed model call add up to. */
class PartAccumulator {
  text = "";
  parts = 0;
  ttft: number | undefined = undefined;
  error: unknown = undefined;
  private readonly toolCalls: NonNullable<Outcome["toolCalls"]> = [];
  private partialTools: Map<string, { toolName?: string; json: string }> | undefined = undefined;
  /** usage and finish reason, from the `finish` part */
  private readonly finish: Outcome = newOutcome();
  private model: string | undefined = undefined;
  private responseId: string | undefined = undefined;
  /** the provider's `finish` part arrived: the response is whole, whatever the reader does next */
  finished = false;
  /**
   * that `finish` part says the provider never said it was done (a server that hung up cleanly
   * between events): recorded as truncated, as the OpenAI and Anthropic wrappers do (it was a
   * success; found by review, 2026-12-04). A v4 provider finishes such a stream with reason
   * "interrupted"; a v3 one with reason "other" and no raw reason (v3 has no "interrupted"), which
   * in v4 is a response the provider finished without naming why (on ai 7 every truncated stream
   * was a success until 2026-12-05: only v3's sign was looked for). The parts' version is the
   * model's, but a model that is another middleware's wrapper (this one listed before it) says
   * "v4" whatever parts it hands on, a v3 provider's too (ai 7 wraps any model as v4, and hands
   * the v3 parts through): so a v4 finish with reason "other", no raw reason and no token count
   * either is taken as v3's sign too. A v3 stream cut short has no usage (it comes last, after
   * the reason); a response a provider did finish has its tokens. (Until 2026-12-06 such a
   * stream, the middleware listed first on ai 7 with a v3 provider, was recorded as completed.)
   */
  unfinished = false;
  /** when the stream was handed out, then when its last part was */
  lastAt = performance.now();

  constructor(
    private readonly call: ModelCall,
    private readonly requestId: string | undefined,
    /** the parts are LanguageModelV4's (see specOf) */
    private readonly v4: boolean,
  ) {}

  push(part: unknown): void {
    this.lastAt = performance.now();
    if (!isObj(part)) return;
    this.parts++;
    switch (part.type) {
      case "text-delta":
        this.ttft ??= this.call.secondsTo(this.lastAt);
        if (typeof part.delta === "string") this.text += part.delta;
        break;
      case "reasoning-delta":
        this.ttft ??= this.call.secondsTo(this.lastAt);
        break;
      case "tool-input-start":
        this.ttft ??= this.call.secondsTo(this.lastAt);
        (this.partialTools ??= new Map()).set(String(part.id), str(part.toolName) ? { toolName: part.toolName as string, json: "" } : { json: "" });
        break;
      case "tool-input-delta": {
        const t = this.partialTools?.get(String(part.id));
        if (t && typeof part.delta === "string") t.json += part.delta;
        break;
      }
      case "tool-call":
        // (a provider that does not stream tool input sends the whole call as its first output)
        this.ttft ??= this.call.secondsTo(this.lastAt);
        this.partialTools?.delete(String(part.toolCallId));
        this.toolCalls.push({ toolCallId: part.toolCallId as string, toolName: part.toolName as string, input: parsedInput(part.input) });
        break;
      case "response-metadata":
        this.model = str(part.modelId) ?? this.model;
        this.responseId = str(part.id) ?? this.responseId;
        break;
      case "finish": {
        putFinish(this.finish, part.usage, part.finishReason);
        this.finished = true;
        const r = part.finishReason;
        this.unfinished = isObj(r) && (r.unified === "interrupted" || (r.unified === "other" && r.raw === undefined && (!this.v4 || (this.finish.inputTokens === undefined && this.finish.outputTokens === undefined))));
        break;
      }
      case "error":
        this.error ??= part.error;
        break;
    }
  }

  /** The stream's outcome so far, ending as `end` (a new object each time). */
  outcome(end: NonNullable<Outcome["end"]>): Outcome {
    // tool input that started streaming but never completed still says what was asked
    let toolCalls = this.toolCalls;
    if (this.partialTools !== undefined && this.partialTools.size > 0) {
      toolCalls = [...toolCalls];
      for (const [id, t] of this.partialTools) toolCalls.push(t.toolName ? { toolCallId: id, toolName: t.toolName, input: parsedInput(t.json) } : { toolCallId: id, input: parsedInput(t.json) });
    }
    const f = this.finish;
    const o = newOutcome();
    o.model = this.model;
    o.text = this.text;
    o.toolCalls = toolCalls;
    o.usage = f.usage;
    o.inputTokens = f.inputTokens;
    o.outputTokens = f.outputTokens;
    o.finishReason = f.finishReason;
    o.rawFinishReason = f.rawFinishReason;
    o.ttft = this.ttft;
    o.requestId = this.requestId;
    o.responseId = this.responseId;
    o.end = end;
    o.parts = this.parts;
    return o;
  }
}

/**
 * Hands `source` on part by part, watching each. A pulling pass-through rather than a
 * TransformStream: a transformer's `cancel` runs both when the reader cancels and when the
 * source fails, and the record must tell those apart (a TransformStream also costs about three
 * times as much per part). Backpressure is kept: a part is read from the provider only when the
 * AI SDK asks for one. `pull` chains the read with two functions made once per stream rather than
 * awaiting it in an `async` function per part (which made one promise more per part; measured,
 * the two differ by less than the noise: 0.2-2.1 µs per stream of 11 parts in one review's runs,
 * the other way round in one earlier run).
 */
function watchStream<T>(source: ReadableStream<T>, call: ModelCall, signal: AbortSignal | undefined, requestId: string | undefined, v4: boolean): ReadableStream<T> {
  const acc = new PartAccumulator(call, requestId, v4);
  call.acc = acc;
  const reader = source.getReader();
  let controller!: ReadableStreamDefaultController<T>;
  // (the stream's end is recorded before it is passed on; a failure to make the record is
  // reported, and the stream still ends as the provider's did)
  const onRead = (r: Awaited<ReturnType<typeof reader.read>>): void => {
    if (r.done) {
      try {
        let o: Outcome;
        if (acc.error !== undefined) o = errorOutcome(acc.error, acc.outcome("error"));
        else if (!acc.finished && signal?.aborted === true) {
          // a model whose stream closes, rather than fails, when the call is aborted: still an abort
          o = acc.outcome("aborted");
          o.error = abortedMessage(signal, acc.parts);
        } else o = completedOutcome(acc);
        call.finish(o);
      } catch (err) {
        call.failedToRecord(err);
      }
      controller.close();
      return;
    }
    try {
      acc.push(r.value);
    } catch {
      // a part we cannot read is still passed on
    }
    controller.enqueue(r.value);
  };
  const onFailure = (err: unknown): void => {
    try {
      call.finish(errorOutcome(err, acc.outcome(signal?.aborted === true ? "aborted" : "error")));
    } catch (failure) {
      call.failedToRecord(failure);
    }
    controller.error(err);
  };
  return new ReadableStream<T>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        return reader.read().then(onRead, onFailure);
      },
      cancel(reason) {
        try {
          // stopped after the provider's `finish` part: a whole response (as the OpenAI and
          // Anthropic wrappers record a stream left after its end)
          if (acc.finished && acc.error === undefined) call.finish(acc.outcome("completed"));
          // stopped after the provider's `error` part: the provider's failure, not the reader's
          // stop (it replaced the provider's error; found by review)
          else if (acc.error !== undefined) call.finish(errorOutcome(acc.error, acc.outcome("error")));
          else {
            const aborted = signal?.aborted === true;
            const o = acc.outcome(aborted ? "aborted" : "cancelled");
            o.error = aborted ? abortedMessage(signal, acc.parts) : `cancelled: the reader stopped the stream after ${acc.parts} parts`;
            call.finish(o);
          }
        } catch (err) {
          call.failedToRecord(err);
        }
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
