/**
 * Express middleware (Express 4 and 5): every request runs in an audit context and leaves a
 * `http_request_duration` metric; configured chat routes also leave a ChatInteraction with the
 * request and response bodies; 5xx responses, thrown errors and aborted requests leave errors.
 *
 * The middleware only observes: it never changes the response, its status or headers, or the
 * error flow, and a failure to record becomes an `error` event on the logger (see safeRecord).
 */
import { AsyncResource } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { TextDecoder } from "node:util";
import zlib from "node:zlib";
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from "express";
import { z } from "zod";
import { abortInCause, isAbortError, kClientLeft, type ClientLeftLookup } from "../src/abort.js";
import { recordingOf } from "../src/errors-seen.js";
import { jsonHidingSecrets } from "../src/secret-name.js";
import { thrownObjectMessage } from "../src/thrown-message.js";
import { MAX_ID_CHARS, auditStorage, currentContext, isLoggerLike, kLearnedUser, kUserLookup, runInAuditContext, type UserLookup } from "../src/context.js";
import { AuditConfigError } from "../src/errors.js";
import { REDACTED_TEXT, errorTypeOf, httpStatusOf, isError, readMember, reportRecordFailure, resolveAuditLogger, safeRecord, textOf } from "../src/instrument.js";
import type { AuditLogger } from "../src/logger.js";
import { newId } from "../src/record/id.js";
import { toFieldIssues } from "../src/record/issues.js";
import type { AuditContextValue } from "../src/types.js";
import { hidePathTokens, isSecretParam } from "./fetch.js";
import { loggerAsOptions } from "./options.js";

/**
 * A path rule: a string matches that path and everything below it (`"/api/chat"` also matches
 * `"/api/chat/42"`), in a Router also as the path below its mount (`"/chat"`); a RegExp is tested
 * against the request's whole path (`/^\/api\/v\d+\//`), also in a Router.
 */
export type AuditPathRule = string | RegExp;

/** A request to leave unrecorded: a path rule, or a predicate on the request. */
export type AuditIgnoreRule = AuditPathRule | ((req: Request) => boolean);

/**
 * What the `userId`, `sessionId` and `traceId` options answer: an id, a number (a database's
 * numeric id, recorded as its text), or undefined (none: for the user, not known yet). Until
 * 2026-12-05 only a string was typed, though a number was recorded as its text.
 */
export type AuditIdAnswer = string | number | undefined;

/** Options of {@link auditMiddleware}. */
export interface AuditMiddlewareOptions {
  /** the logger; else the active context's, else the default logger (looked up per request) */
  logger?: AuditLogger | undefined;
  /**
   * the request's user, e.g. `(req) => req.user?.id`; asked when the request starts and again when
   * it ends (after authentication). A number (a database's numeric id) is recorded as its text:
   * return it as it is, as `String(req.user?.id)` makes an anonymous request's user "undefined"
   */
  userId?: ((req: Request) => AuditIdAnswer) | undefined;
  /** the application's own session (conversation, cookie session): kept in the context and as `metadata.appSessionId`; a function is asked again when a route matches and at the end while it has none */
  sessionId?: string | ((req: Request) => AuditIdAnswer) | undefined;
  /** the trace id; default: the `x-request-id` header when it is a safe id, else a fresh UUID */
  traceId?: ((req: Request) => AuditIdAnswer) | undefined;
  /** paths whose request and response bodies are recorded as a ChatInteraction (`interactionType: "http_chat"`) */
  chatRoutes?: readonly AuditPathRule[] | undefined;
  /** requests left entirely alone (no context, no records), e.g. `["/healthz", /^\/static\//]` */
  ignore?: readonly AuditIgnoreRule[] | undefined;
  /** at most this many bytes of each chat body are kept (default 1 MiB); larger bodies are cut and flagged */
  maxBodyBytes?: number | undefined;
}

/** Options of {@link auditErrorHandler}. */
export interface AuditErrorHandlerOptions {
  /** the logger; else the active context's, else the default logger */
  logger?: AuditLogger | undefined;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Header-supplied trace ids must look like ids: they end up in every record of the request. */
const SAFE_TRACE_ID = /^[A-Za-z0-9._:\/+=-]{1,128}$/;
/** (the ids a context takes: see auditContext.run) */
const MAX_USER_ID = MAX_ID_CHARS;

const isFn = (v: unknown): boolean => typeof v === "function";
const pathRule = z.union([z.string().min(1, "a path rule must be a non-empty string"), z.instanceof(RegExp)], {
  error: "each rule must be a path string or a RegExp",
});
const optionsSchema = z.strictObject({
  logger: z
    .custom<AuditLogger>((v) => typeof v === "object" && v !== null && isFn((v as AuditLogger).logPerformanceMetric), "must be an AuditLogger")
    .optional(),
  userId: z.custom<(req: Request) => AuditIdAnswer>(isFn, "must be a function (req) => string | undefined").optional(),
  sessionId: z
    .union([z.string().min(1).max(MAX_USER_ID), z.custom<(req: Request) => AuditIdAnswer>(isFn)], {
      error: "must be a string or a function (req) => string | undefined",
    })
    .optional(),
  traceId: z.custom<(req: Request) => AuditIdAnswer>(isFn, "must be a function (req) => string | undefined").optional(),
  chatRoutes: z.array(pathRule).optional(),
  ignore: z
    .array(z.union([pathRule, z.custom<(req: Request) => boolean>(isFn)], { error: "each rule must be a path string, a RegExp or a function (req) => boolean" }))
    .optional(),
  maxBodyBytes: z.number().int("must be a whole number of bytes").min(0, "must be 0 or more").max(2 ** 31 - 1).optional(),
});

type ParsedOptions = z.output<typeof optionsSchema>;

/** Per-request bookkeeping, shared with auditErrorHandler. */
interface RequestState {
  readonly logger: AuditLogger;
  readonly requestId: string;
  readonly start: number;
  readonly method: string;
  readonly path: string;
  routePattern: string | undefined;
  metadata: Record<string, unknown>;
  /** the errors auditErrorHandler recorded (one mounted in a router and in the app sees each twice) */
  recordedErrors: unknown[];
  /**
   * whether one of them implied a 5xx (a request whose recorded error implied a 4xx, and which an
   * app's own handler answered with a 500, had no error record for its 5xx; found by review,
   * 2026-12-04)
   */
  recordedServerError: boolean;
  /** the request's audit context, as entered (records made outside it are made in it) */
  context: AuditContextValue | undefined;
  done: boolean;
  /**
   * The status the response went out with, read when its headers were written (through
   * `res.writeHead`, which every way out calls first); undefined before. An app may still assign
   * `res.statusCode` afterwards: the client never sees that.
   */
  sentStatus: number | undefined;
  chat: ChatCapture | undefined;
  readonly userLookup: ((req: Request) => AuditIdAnswer) | undefined;
  /** the `userId` option threw during this request, and that was reported (see askUser) */
  lookupReported?: boolean;
  /**
   * an error reached auditErrorHandler once the response had begun: Express's final handler then
   * closes the connection, which is the server's doing, not the client's (see complete)
   */
  failedAfterHeaders?: boolean;
  /** the request was recorded as one the client left (see complete) */
  clientAborted?: boolean;
  /** who closed the connection of a request that got no whole response, as complete() found (see closeOf) */
  close?: Close;
  /** what the request context's kClientLeft asks (see leftFor) */
  leftHolder?: LeftHolder;
  /** the `sessionId` option, while it has not answered (see learnSession) */
  sessionLookup?: (req: Request) => AuditIdAnswer;
  /** the `sessionId` option threw during this request, and that was reported */
  sessionReported?: boolean;
  /** the context's lookup (see lookUpUser): asking now, and what it holds */
  asking?: boolean;
  userHolder?: UserHolder;
  /**
   * the user the lookup learned when a context made inside the request asked: kept here, not
   * written into the request's context (a decorated method's context would then see its caller's
   * user change under it, and not hand the user it set with auditContext.setUser to its caller)
   */
  learned?: string;
}

interface ChatCapture {
  readonly request: BodyCapture;
  readonly response: BodyCapture;
  firstWriteAt: number | undefined;
  streamed: boolean;
  /**
   * The Content-Encoding when the headers went out through us (null: none), read then: what the
   * body bytes are encoded with (see responseOf). Undefined until then.
   */
  encodingAtWrite: string | null | undefined;
  /** The Content-Type then, likewise (see watchHead). */
  typeAtWrite: string | null | undefined;
  /** added by a later mount, which reads the headers it goes out with itself (see addChat) */
  ownHead?: boolean;
}

/**
 * The requests being recorded, and those an `ignore` rule matched (auditErrorHandler records
 * nothing for them either): one pair per process, shared through a `Symbol.for` global as the
 * audit context is, so that two copies of the package (an app's and a library's router) agree.
 * Each had its own, and a request through both was recorded twice (found by review, 2026-12-04).
 * The version in the key changes whenever RequestState does.
 */
interface ExpressShared {
  readonly requests: WeakMap<object, RequestState>;
  readonly ignored: WeakSet<object>;
}
const kExpressShared = Symbol.for("audit-logger.express.requests.v1");
const { requests, ignored } = ((globalThis as unknown as Record<symbol, ExpressShared | undefined>)[kExpressShared] ??= { requests: new WeakMap(), ignored: new WeakSet() });

/**
 * Express middleware that audits every request: it runs the rest of the request inside
 * `auditContext.run({ logger, userId, traceId, metadata: { method, route } })`, so records made
 * by the handlers carry the request's trace and user, and when the response finishes it records
 * a PerformanceMetric `http_request_duration` (ms; context: method, route pattern, status). The
 * metric's id is the request's id: records made during the request carry it as `parentId`.
 * Chat routes also get a ChatInteraction (request body as prompt, response body, streamed
 * `res.write` chunks included); 5xx responses and requests the client abandoned get an error.
 * Register it first, before body parsers and routes (and after `compression()`, if used).
 *
 * @example
 * app.use(auditMiddleware({ logger, userId: (req) => req.header("x-user-id"), chatRoutes: ["/api/chat"], ignore: ["/healthz"] }));
 * app.use(express.json());
 * app.post("/api/chat", async (req, res) => res.json(await answer(req.body)));
 * app.use(auditErrorHandler());
 */
export function auditMiddleware(options?: AuditMiddlewareOptions): RequestHandler;
export function auditMiddleware(options?: AuditMiddlewareOptions | Request, res?: Response, next?: NextFunction): RequestHandler | undefined {
  // `app.use(auditMiddleware)`, the factory given for the middleware (it type-checks): Express
  // calls it with (req, res, next). Each request failed with an AuditConfigError naming the
  // request's members as bad options, a 500 for every request (found by the Express new-user pass).
  if (typeof next === "function" && res !== undefined && isRequestLike(options)) {
    uncalled("auditMiddleware").middleware(options, res, next);
    return undefined;
  }
  // (the logger given as the options: each of its members was listed as an unknown option; found
  // by a new-user run, 2026-12-06)
  if (isLoggerLike(options)) throw loggerAsOptions("auditMiddleware");
  const parsed = optionsSchema.safeParse(options === undefined ? {} : options);
  if (!parsed.success) throw new AuditConfigError(toFieldIssues(parsed.error, "auditMiddleware", optionsSchema));
  const opts = parsed.data;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  const mount: Mount = { handle: undefined };
  const middleware = function auditMiddleware(req: Request, res: Response, next: NextFunction): void {
    // mounted twice (app and router): the first one records the request, or ignored it; a later
    // mount's chat routes are added to it (a router's own were dropped: its chat went unrecorded)
    const recording = requests.get(req);
    if (recording !== undefined && opts.chatRoutes !== undefined && recording.chat === undefined) {
      safeRecord(recording.logger, () => addChat(recording, opts, maxBodyBytes, req, res, mount));
    }
    const logger = recording !== undefined || ignored.has(req) ? undefined : resolveAuditLogger(opts.logger);
    const ctx = logger ? safeRecord(logger, () => begin(opts, logger, maxBodyBytes, req, mount)) : undefined;
    if (logger === undefined || ctx === undefined) {
      next();
      return;
    }
    // (whether the client left, for an @AuditErrors method of the request that its leaving
    // stopped: see leftFor)
    const holder: LeftHolder = { state: ctx.state, req, res, left: undefined };
    ctx.state.leftHolder = holder;
    (ctx.value as { [kClientLeft]?: ClientLeftLookup })[kClientLeft] = leftFor(holder);
    // (the context the request came in: the connection's, in which Node emits req's and res's events)
    const outer = auditStorage.getStore();
    // (the value as it is, not derived from the server's context: see begin)
    runInAuditContext(ctx.value, () => {
      safeRecord(logger, () => attach(ctx.state, req, res, outer));
      next();
    });
  };
  mount.handle = middleware;
  return middleware;
}

/**
 * Express error handler (four parameters, so Express treats it as one) that records the error
 * with the request's method, route and expected status, then passes it on unchanged with
 * `next(err)`. Put it after your routes and before your own error handlers. A request whose
 * error it recorded gets no second error record for its 5xx status.
 *
 * @example
 * app.use(auditErrorHandler());
 * app.use((err, req, res, next) => res.status(500).json({ error: "internal" }));
 */
export function auditErrorHandler(options?: AuditErrorHandlerOptions): ErrorRequestHandler;
// (four parameters, as Express counts them: the factory given for the handler, see below, is then
// called with errors only, as the handler is)
export function auditErrorHandler(options?: unknown, req?: Request, res?: Response, next?: NextFunction): ErrorRequestHandler | undefined {
  // `app.use(auditErrorHandler)`: Express calls it with (err, req, res, next). It took no
  // parameters, so Express called it for every request as a middleware, with (req, res, next):
  // an AuditConfigError, a 500 for every request
  if (typeof next === "function" && res !== undefined && isRequestLike(req)) {
    uncalled("auditErrorHandler").errorHandler(options, req, res, next);
    return undefined;
  }
  if (isLoggerLike(options)) throw loggerAsOptions("auditErrorHandler");
  const handlerSchema = optionsSchema.pick({ logger: true }).strict();
  const parsed = handlerSchema.safeParse(options === undefined ? {} : options);
  if (!parsed.success) throw new AuditConfigError(toFieldIssues(parsed.error, "auditErrorHandler", handlerSchema));
  const own = parsed.data.logger;
  return function auditErrorHandler(err: unknown, req: Request, res: Response, next: NextFunction): void {
    const state = requests.get(req);
    // (an error reaches this handler again when it is mounted in a router and in the app)
    // A client that went away mid-upload makes body parsers fail with `request.aborted`: that is
    // the request's abort, which the middleware records itself (http_request_aborted).
    // (read guarded: the error must reach the next handler as it is, whatever it is)
    const abortedUpload = state !== undefined && readMember(err, "type") === "request.aborted";
    // Likewise the AbortError a handler's stream raised because the client left (an
    // AbortController on res "close", as an SDK's stream is stopped): recorded beside the abort
    // as a 500 error until 2026-12-05 (found by the Express leftovers pass)
    const abortedStream = state !== undefined && isAbortError(err) && clientLeft(state, req, res);
    const skip = ignored.has(req) || abortedUpload || abortedStream || (state !== undefined && state.recordedErrors.includes(err));
    const logger = skip ? undefined : resolveAuditLogger(own ?? state?.logger);
    if (logger) {
      // An abort the app wrapped (`new Error("upstream failed", { cause: abortError })`) after
      // the client left: recorded, as the app's words, but as a warning saying the client left,
      // not a 500 error beside the request's abort (found by review, 2026-12-05; see abortInCause)
      const abortAt = state !== undefined && !isAbortError(err) ? abortInCause(err) : undefined;
      const wrappedAbort = abortAt !== undefined && clientLeft(state!, req, res) ? abortAt : undefined;
      // in the request's own context: an error passed on from a callback (a pool's, a
      // library's) reaches here in whatever context that callback ran in
      if (state?.context) runInAuditContext(state.context, () => safeRecord(logger, () => recordThrown(logger, state, req, res, err, wrappedAbort)));
      else safeRecord(logger, () => recordThrown(logger, state, req, res, err, wrappedAbort));
    }
    next(err);
  };
}

/**
 * The client left before the response finished: recorded so already (see closeOf), or about
 * to be (the response unfinished and its connection closed by the client: an app that stops on
 * the request's "close" may pass its error on before ours is told).
 */
function clientLeft(state: RequestState, req: Request, res: Response): boolean {
  if (state.done) return state.clientAborted === true;
  if (state.failedAfterHeaders === true || readMember(res, "writableFinished") === true) return false;
  // (its connection gone, and by the client: see closedBy)
  return closedBy(req, res) === "client";
}

/** What a request context's kClientLeft holds: the request while it runs, then only its answer. */
interface LeftHolder {
  state: RequestState | undefined;
  req: Request | undefined;
  res: Response | undefined;
  /** once the request ended: the logger that recorded the client's leaving, if it left */
  left: AuditLogger | undefined;
}

/**
 * The request context's kClientLeft (src/abort.ts): the logger recording the request's abort when
 * its client left, as auditErrorHandler tells it (see clientLeft). An @AuditErrors method the
 * client's leaving stopped (its AbortSignal fired on res "close") then records no second, `error`,
 * record of that abort (found by the Express pass, 2026-12-05). Made here, not in the middleware,
 * whose closures hold its `req` (see lookupFor); it holds the request only until it ends.
 */
function leftFor(holder: LeftHolder): ClientLeftLookup {
  return () => {
    const { state, req, res } = holder;
    if (state === undefined || req === undefined || res === undefined) return holder.left;
    return clientLeft(state, req, res) ? state.logger : undefined;
  };
}

/** An http.IncomingMessage, as Express passes it (its method and headers). */
function isRequestLike(v: unknown): v is Request {
  return typeof v === "object" && v !== null && typeof readMember(v, "method") === "string" && typeof readMember(v, "headers") === "object";
}

/**
 * The middleware and error handler made with no options, for a factory Express calls itself
 * (`app.use(auditMiddleware)`): the request is served as `auditMiddleware()` would, and a warning
 * says (once per factory) to call it.
 */
let defaults: { middleware: RequestHandler; errorHandler: ErrorRequestHandler; warned: Set<string> } | undefined;
function uncalled(name: "auditMiddleware" | "auditErrorHandler"): { middleware: RequestHandler; errorHandler: ErrorRequestHandler } {
  defaults ??= { middleware: auditMiddleware(), errorHandler: auditErrorHandler(), warned: new Set() };
  if (!defaults.warned.has(name)) {
    defaults.warned.add(name);
    process.emitWarning(
      `app.use(${name}) was given the factory, not the ${name === "auditMiddleware" ? "middleware" : "error handler"} it makes: it runs as ${name}() with no options. Call it: app.use(${name}(${name === "auditMiddleware" ? "{ userId, chatRoutes }" : ""})) (docs/INTEGRATIONS.md, Express).`,
      { code: "AUDIT_WARN_UNCALLED_FACTORY", type: "AuditLoggerWarning" },
    );
  }
  return defaults;
}

// ---------------------------------------------------------------- request start

function begin(
  opts: ParsedOptions,
  logger: AuditLogger,
  maxBodyBytes: number,
  req: Request,
  mount: Mount,
): { value: AuditContextValue; state: RequestState } | undefined {
  const path = pathOf(req);
  const paths = rulePaths(req, path, mount);
  // a throwing predicate counts as "not ignored": the request is recorded, the failure reported
  // (a predicate's answer is read as a condition is: truthy ignores)
  if (opts.ignore?.some((rule) => (typeof rule === "function" ? Boolean(safeRecord(logger, () => rule(req))) : matchesRule(rule, paths)))) {
    ignored.add(req);
    return undefined;
  }
  // A request is a root: its trace, user, parent and app session are its own. The context it
  // starts in is the server's (the one `listen()` ran in, a decorated bootstrap()'s), shared by
  // every request; only what describes the server (its metadata, persona; the logger) is kept.
  // Inherited, every request had the startup's user and trace, and the startup call as parent
  // (found by review, 2026-12-04).
  const parent = currentContext();
  const method = typeof req.method === "string" ? req.method : "GET";
  const metadata: Record<string, unknown> = parent?.metadata ? { ...parent.metadata, method, route: shownRoute(path) } : { method, route: shownRoute(path) };
  const sessionOpt = opts.sessionId;
  const requestId = newId();
  const state: RequestState = {
    logger,
    requestId,
    start: performance.now(),
    method,
    path,
    routePattern: undefined,
    metadata,
    recordedErrors: [],
    recordedServerError: false,
    context: undefined,
    done: false,
    sentStatus: undefined,
    chat: isChat(method, opts.chatRoutes, paths) ? newChat(maxBodyBytes) : undefined,
    userLookup: opts.userId,
  };
  const appSessionId = typeof sessionOpt === "function" ? askSession(state, sessionOpt, req) : sessionOpt;
  if (appSessionId !== undefined) metadata.appSessionId = appSessionId;
  // none yet (a body parser or session middleware after this one makes it): asked again when a
  // route matches and when the request ends (see learnSession)
  else if (typeof sessionOpt === "function") state.sessionLookup = sessionOpt;
  const { userId: userOpt, traceId: traceOpt } = opts;
  const userId = userOpt ? askUser(state, userOpt, req) : undefined;
  const traceId = traceOpt ? safeRecord(logger, () => cleanId(traceOpt(req), 256)) : headerTraceId(req);
  const value: AuditContextValue = {
    ...(parent?.persona !== undefined ? { persona: parent.persona } : {}),
    logger,
    traceId: traceId ?? randomUUID(),
    parentId: requestId,
    metadata,
    ...(userId !== undefined ? { userId } : {}),
    ...(appSessionId !== undefined ? { sessionId: appSessionId } : {}),
  };
  // no user yet (authentication runs later): asked again when a record needs one (see lookUpUser)
  if (userOpt && userId === undefined) {
    const holder: UserHolder = { state, req };
    state.userHolder = holder;
    (value as { [kUserLookup]?: UserLookup })[kUserLookup] = lookupFor(holder);
  }
  requests.set(req, state);
  return { value, state };
}

/** Whether a request is a chat: a CORS preflight or a HEAD request to a chat route is none (no prompt, no answer). */
function isChat(method: string, chatRoutes: readonly AuditPathRule[] | undefined, paths: RulePaths): boolean {
  return method !== "OPTIONS" && method !== "HEAD" && chatRoutes !== undefined && chatRoutes.some((rule) => matchesRule(rule, paths));
}

function newChat(maxBodyBytes: number): ChatCapture {
  return { request: new BodyCapture(maxBodyBytes), response: new BodyCapture(maxBodyBytes), firstWriteAt: undefined, streamed: false, encodingAtWrite: undefined, typeAtWrite: undefined };
}

/**
 * A later mount (a router's, after the app's) of a request an earlier one records: its chat routes
 * make the request a chat, with its own `maxBodyBytes`, when the response has not begun. The
 * request's bytes are copied only when nothing has read any yet (else a parser before this mount
 * read them, and the parsed body is the prompt: what passes now would be the body's end alone).
 */
function addChat(state: RequestState, opts: ParsedOptions, maxBodyBytes: number, req: Request, res: Response, mount: Mount): void {
  if (state.done || res.headersSent || !isChat(state.method, opts.chatRoutes, rulePaths(req, state.path, mount))) return;
  const chat: ChatCapture = { ...newChat(maxBodyBytes), ownHead: true };
  state.chat = chat;
  captureBodies(chat, req, res, (req as { readableDidRead?: unknown }).readableDidRead !== true);
  // the bytes are copied at this mount: what they are encoded with is read here too (a
  // compression() between the two mounts sets its Content-Encoding below this one, for bytes that
  // pass this one before it encodes them; read at the first mount they were taken for gzip)
  watchHead(res, () => chat);
}

/**
 * Runs inside the request's context: hooks the route, the bodies and the end of the response, and
 * has `req`'s and `res`'s events call back in it (`outer`: the context the request came in).
 */
function attach(state: RequestState, req: Request, res: Response, outer: AuditContextValue | undefined): void {
  const store = currentContext();
  state.context = store;
  if (store !== undefined) {
    emitInRequest(req, store, outer);
    emitInRequest(res, store, outer);
  }
  // auditContext.run may have merged our metadata into a new object: follow the live one
  if (store?.metadata) state.metadata = store.metadata as Record<string, unknown>;
  trackRoute(state, req);
  // (a chat a later mount added reads its headers at its own mount: see addChat)
  watchHead(
    res,
    () => (state.chat?.ownHead === true ? undefined : state.chat),
    (status) => {
      if (state.sentStatus === undefined) state.sentStatus = status;
    },
  );
  if (state.chat) captureBodies(state.chat, req, res);
  watchTimeout(req);
  const finish = AsyncResource.bind(() => complete(state, req, res, false));
  const close = AsyncResource.bind(() => {
    if (!state.done) complete(state, req, res, true);
  });
  res.once("finish", finish);
  res.once("close", close);
}

type EmitFn = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

/**
 * Has the listeners of `emitter` (the request's `req` or `res`) run in the request's context
 * `store` when Node emits its events: Node's HTTP server made both before the middleware ran, and
 * emits their events (`data`, `end`, `finish`, `close`) from the connection's parser, in the
 * context the request came in (`outer`, usually none). A listener a handler added
 * (`req.on("end")` of a body read by hand, a `res.on("finish")` hook) ran there, and the records
 * it made had no user, no trace and no parent (found by the issue #4 acceptance audit,
 * 2026-12-06). An event emitted in any other context (the app's own `emit`, inside the request
 * or a context nested in it) is left in that context. Only this kit's context is switched: the
 * app's own AsyncLocalStorage stores are as Node has them.
 */
function emitInRequest(emitter: object, store: AuditContextValue, outer: AuditContextValue | undefined): void {
  const emit = (emitter as { emit?: unknown }).emit;
  if (typeof emit !== "function") return;
  try {
    // (own and not enumerable: what an app logs or copies of the request is unchanged; not bound:
    // called with another `this`, it emits on that object, and with none it throws, as Node's does)
    const inRequest = function (this: unknown, ...args: [string | symbol, ...unknown[]]): boolean {
      return emitInContext(this, emit as EmitFn, store, outer, args);
    };
    Object.defineProperty(emitter, "emit", { value: inRequest, configurable: true, writable: true, enumerable: false });
  } catch {
    // a frozen request: its listeners run as Node calls them
  }
}

/** `emit.apply(self, args)`, in `store` when called in `outer` or in no context (see emitInRequest). */
function emitInContext(self: unknown, emit: EmitFn, store: AuditContextValue, outer: AuditContextValue | undefined, args: [string | symbol, ...unknown[]]): boolean {
  const now = auditStorage.getStore();
  if (now === store || (now !== undefined && now !== outer)) return Reflect.apply(emit, self, args) as boolean;
  return auditStorage.run(store, () => Reflect.apply(emit, self, args) as boolean);
}

/**
 * Routers assign `req.route` when a route matches, while `req.baseUrl` still holds the mount path
 * of the router (it is restored once the request leaves the router, e.g. on an error), so the
 * full pattern is taken at that moment.
 */
function trackRoute(state: RequestState, req: Request): void {
  let route: unknown = (req as { route?: unknown }).route;
  Object.defineProperty(req, "route", {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: unknown) => {
      route = value;
      try {
        const p = (value as { path?: unknown } | undefined)?.path;
        if (p === undefined) return;
        const base = typeof req.baseUrl === "string" ? req.baseUrl : "";
        // each path of a route on several (`router.get(["/a", "/b"], …)`) under the mount path:
        // joined whole, the second was recorded without it ("/api/a|/b")
        const pattern = Array.isArray(p) ? p.map((one) => joinRoute(base, String(one))).join("|") : joinRoute(base, typeof p === "string" ? p : String(p));
        state.routePattern = pattern;
        state.metadata.route = shownRoute(pattern);
        learnSession(state, req);
      } catch {
        // a strange route object: keep the path
      }

    },
  });
}

function joinRoute(base: string, p: string): string {
  if (base === "") return p;
  if (p === "/" || p === "") return base;
  return base.endsWith("/") && p.startsWith("/") ? base + p.slice(1) : base + p;
}

/**
 * Copies body bytes as they pass, without reading the request stream or altering writes (the
 * request's only when `request`: see addChat).
 */
function captureBodies(chat: ChatCapture, req: Request, res: Response, request = true): void {
  if (request) {
    const buffered = (req as unknown as { readableBuffer?: Iterable<unknown> }).readableBuffer;
    if (buffered && typeof buffered[Symbol.iterator] === "function") for (const chunk of buffered) chat.request.add(chunk, undefined);
    const push = req.push;
    req.push = function push_(this: Request, chunk: unknown, encoding?: BufferEncoding): boolean {
      try {
        if (chunk !== null) chat.request.add(chunk, encoding);
      } catch {
        // never the app's problem
      }
      return push.call(this, chunk, encoding);
    };
  }
  // A middleware in front of us that replaced res.write (compression(), as the docs advise)
  // encodes below us: what we copy is what the app wrote, before any content-encoding (told by
  // `encodingAtWrite`, see responseOf).
  const write = res.write as (this: Response, ...args: unknown[]) => boolean;
  const end = res.end as (this: Response, ...args: unknown[]) => Response;
  res.write = function write_(this: Response, ...args: unknown[]): boolean {
    try {
      if (!this.writableEnded) {
        chat.streamed = true;
        chat.firstWriteAt ??= performance.now();
        chat.response.add(args[0], typeof args[1] === "string" ? args[1] : undefined);
      }
    } catch {
      // never the app's problem
    }
    return write.apply(this, args);
  } as Response["write"];
  res.end = function end_(this: Response, ...args: unknown[]): Response {
    try {
      if (!this.writableEnded && typeof args[0] !== "function") {
        chat.firstWriteAt ??= performance.now();
        chat.response.add(args[0], typeof args[1] === "string" ? args[1] : undefined);
      }
    } catch {
      // never the app's problem
    }
    return end.apply(this, args);
  } as Response["end"];
}

/**
 * Hooks `res.writeHead`, which every way out calls before any body byte (a first write() or end()
 * writes the headers with this.writeHead()): the status the client gets is read there, once the
 * headers are written (`onSent`). For a chat route (`chatOf`) also the Content-Encoding and Content-Type the response
 * goes out with, as they stand then (a compression() registered before us sets its encoding only
 * after: its header hook runs below ours; one registered after us, above: its own is then the
 * bytes' encoding too), headers given to writeHead() included: Node sends those without storing
 * them when no header was set before, so `getHeader` never sees them (see responseOf).
 */
function watchHead(res: Response, chatOf: () => ChatCapture | undefined, onSent?: (status: number) => void): void {
  const writeHead = res.writeHead as (this: Response, ...args: unknown[]) => Response;
  res.writeHead = function writeHead_(this: Response, ...args: unknown[]): Response {
    const chat = chatOf();
    // read before the call (a middleware below may change the stored headers), kept only once
    // the headers went out: a writeHead that throws (an invalid header) sent nothing
    let encoding: string | null | undefined;
    let type: string | null | undefined;
    try {
      if (chat && chat.encodingAtWrite === undefined && !this.headersSent) {
        encoding = headerIn(args, "content-encoding") ?? headerOf(this.getHeader("content-encoding")) ?? null;
        type = headerIn(args, "content-type") ?? headerOf(this.getHeader("content-type")) ?? null;
      }
    } catch {
      // never the app's problem
    }
    const out = writeHead.apply(this, args);
    try {
      if (this.headersSent) {
        onSent?.(this.statusCode);
        if (chat && encoding !== undefined && chat.encodingAtWrite === undefined) {
          chat.encodingAtWrite = encoding;
          chat.typeAtWrite = type;
        }
      }
    } catch {
      // never the app's problem
    }
    return out;
  } as Response["writeHead"];
}

// ---------------------------------------------------------------- request end

/** The status recorded for a request whose client left before any response was sent (nginx's 499). */
const CLIENT_CLOSED_REQUEST = 499;
/**
 * The status recorded for a request the server closed the connection of before any response
 * (the app's `res.destroy()`, a pipeline's failure) with no timeout of Node's: nginx's 444, "no
 * response", as 499 is nginx's.
 */
const SERVER_CLOSED_UNANSWERED = 444;

function complete(state: RequestState, req: Request, res: Response, aborted: boolean): void {
  if (state.done) return;
  state.done = true;
  const { logger } = state;
  const durationMs = performance.now() - state.start;
  learnUser(state, req, true);
  learnSession(state, req);
  state.sessionLookup = undefined;
  const route = shownRoute(state.routePattern ?? state.path);
  // (who closed the connection of a request that got no whole response: see closeOf)
  const close = aborted ? closeOf(state, req, res) : undefined;
  state.close = close;
  // A request that got no response: `res.statusCode` is then only the 200 Node starts with. Such
  // a request is recorded with what ended it (see unansweredStatus): 499 for a client that left.
  // Once the headers are out, the status they carried (an app may assign res.statusCode after).
  const status = close !== undefined && !res.headersSent ? unansweredStatus(close) : res.headersSent ? (state.sentStatus ?? res.statusCode) : res.statusCode;
  const closeContext = close === undefined || close.by === "client" ? {} : { closedBy: "server", ...(close.timeout !== undefined ? { timeout: close.timeout } : {}) };
  safeRecord(logger, () =>
    logger.logPerformanceMetric({
      id: state.requestId,
      metricName: "http_request_duration",
      value: durationMs,
      unit: "ms",
      context: { method: state.method, route, status, ...(aborted ? { aborted: true } : {}), ...closeContext },
    }),
  );
  if (state.chat) {
    const chat = state.chat;
    safeRecord(logger, () => recordChat(logger, state, chat, req, res, status, durationMs, aborted));
  }
  if (close !== undefined) {
    // (the connection Express's final handler closed after an error, once the response had begun,
    // was recorded as the client's leaving; found by the Express new-user pass, 2026-12-05; and a
    // server's timeout, or the app's destroy, before any response until late 2026-12-05)
    if (close.by === "client") state.clientAborted = true;
    const headersSent = res.headersSent;
    safeRecord(logger, () =>
      logger.logError({
        errorType: close.timeout !== undefined ? "http_request_timeout" : "http_request_aborted",
        // (a socket that idled past its timeout: the server did not answer in time)
        severity: close.timeout === "socketTimeout" ? "error" : "warning",
        message: abortMessage(close, headersSent, state.method, route),
        context: {
          method: state.method,
          route,
          status,
          headersSent,
          durationMs,
          ...closeContext,
          ...(close.timeoutMs !== undefined ? { timeoutMs: close.timeoutMs } : {}),
        },
      }),
    );
  } else if (status >= 500 && !state.recordedServerError) {
    safeRecord(logger, () =>
      logger.logError({
        errorType: "http_server_error",
        severity: "error",
        message: `${state.method} ${route} responded ${status}.`,
        context: { method: state.method, route, status, durationMs },
      }),
    );
  }
  // (what kClientLeft answers from now on, without the request: see leftFor)
  const holder = state.leftHolder;
  if (holder !== undefined) {
    holder.left = state.clientAborted === true ? logger : undefined;
    holder.state = holder.req = holder.res = undefined;
  }
}

function recordChat(logger: AuditLogger, state: RequestState, chat: ChatCapture, req: Request, res: Response, status: number, durationMs: number, aborted: boolean): void {
  const max = chat.request.max;
  // a request with no body (an EventSource GET) asks in its query string: that is its prompt
  const fromQuery = chat.request.total === 0 && !hasParsedBody(req) ? queryPrompt(req, max) : undefined;
  const prompt = fromQuery ?? promptOf(req, chat.request, max);
  // Node sends no body for these, whatever the handler wrote
  const bodiless = state.method === "HEAD" || status === 204 || status === 304;
  const response = bodiless ? { value: "", truncated: false } : responseOf(chat, res, max);
  const success = !aborted && status < 400;
  const model = isRecord(prompt.value) && typeof prompt.value.model === "string" ? cleanId(prompt.value.model, 256) : undefined;
  const metadata: Record<string, unknown> = { status, requestBodyBytes: chat.request.total, responseBodyBytes: bodiless ? 0 : chat.response.total };
  if (fromQuery !== undefined) metadata.promptFrom = "query";
  if (prompt.truncated) metadata.requestBodyTruncated = true;
  if (response.truncated) metadata.responseBodyTruncated = true;
  logger.logChatInteraction({
    interactionType: "http_chat",
    prompt: prompt.value,
    response: response.value,
    ...(model !== undefined ? { model } : {}),
    durationSeconds: durationMs / 1000,
    ...(chat.streamed && chat.firstWriteAt !== undefined ? { timeToFirstTokenSeconds: (chat.firstWriteAt - state.start) / 1000 } : {}),
    success,
    statusCode: status,
    ...(success
      ? {}
      : {
          errorMessage: !aborted || state.close === undefined ? `HTTP ${status}` : abortMessage(state.close, res.headersSent, state.method),
        }),
    metadata,
  });
}

/**
 * For the request's own records (the metric, the chat and error records), when the request's
 * context has no user yet: the user learned during the request (a context made inside it asked),
 * else `userId(req)` asked now (authentication often runs after the middleware). Written into the
 * request's context, so every later record of the request has it.
 */
function learnUser(state: RequestState, req: Request, ending = false): void {
  const lookup = state.userLookup;
  if (ending && state.userHolder) state.userHolder.state = state.userHolder.req = undefined;
  // (not from within itself: a `userId` that records reached lookUpUser, which asked it again)
  const store = currentContext();
  if (lookup && !state.asking && store !== undefined && store.userId === undefined) {
    // the user kept for the request (learned when a context made inside it asked), else asked now
    let uid = state.learned;
    if (uid === undefined) {
      state.asking = true;
      try {
        uid = askUser(state, lookup, req);
      } finally {
        state.asking = false;
      }
    }
    if (uid !== undefined) writeLearned(store, uid);
  }
}

/**
 * The lookup closure, made here and not in `begin()`: a closure shares its function's scope with
 * every other closure made there, and `begin()`'s hold `req`, so a context that outlived its
 * request (a promise or resource the app kept) kept the request and its captured bodies alive.
 */
function lookupFor(holder: UserHolder): UserLookup {
  return (store) => lookUpUser(holder, store);
}

/**
 * The request context's kUserLookup: asks `userId(req)` when a record is made in the request's
 * context, or one made inside it, while it has no user, so that what comes after
 * authentication (a middleware after ours, or the route's own, which runs after the route
 * matched) carries the user. Not from within itself (a `userId` that makes a record recursed);
 * not once the request has ended (a context that outlives it holds neither the request nor its
 * captured bodies). One that throws (`req.user.id` before authentication) is asked again later,
 * and reported once per request.
 */
function lookUpUser(holder: UserHolder, store: AuditContextValue): string | undefined {
  const state = holder.state;
  const req = holder.req;
  const lookup = state?.userLookup;
  if (state === undefined || req === undefined || lookup === undefined || state.asking) return undefined;
  // the request's own context knows the user already (learned, or set with auditContext.setUser,
  // which wins over userId(req)): a context made inside the request takes it from there
  const own = state.context;
  const known = own?.userId ?? state.learned;
  if (known !== undefined) {
    if (store === own) writeLearned(own, known);
    return known;
  }
  state.asking = true;
  try {
    const uid = askUser(state, lookup, req);
    // written into the request's own context when a record is made there; a context made inside
    // the request keeps it in the request's state (its next records take it from there)
    if (uid !== undefined) {
      if (store === own) writeLearned(own, uid);
      else state.learned = uid;
    }
    return uid;
  } finally {
    state.asking = false;
  }
}

/** Writes a user the lookup learned into the request's own context, marked as learned (see kLearnedUser). */
function writeLearned(own: AuditContextValue, uid: string): void {
  (own as { userId?: string }).userId = uid;
  (own as { [kLearnedUser]?: string })[kLearnedUser] = uid;
}

/** What a request context's kUserLookup holds: cleared when the request ends. */
interface UserHolder {
  state: RequestState | undefined;
  req: Request | undefined;
}

/** `userId(req)`, as an id; one that throws is reported once per request. */
function askUser(state: RequestState, lookup: (req: Request) => AuditIdAnswer, req: Request): string | undefined {
  return askId(state, "lookupReported", lookup, req);
}

/** `sessionId(req)`, as an id; one that throws is reported once per request. */
function askSession(state: RequestState, lookup: (req: Request) => AuditIdAnswer, req: Request): string | undefined {
  return askId(state, "sessionReported", lookup, req);
}

/** `lookup(req)` as an id; a throw is reported once per request (`reported` marks it). */
function askId(state: RequestState, reported: "lookupReported" | "sessionReported", lookup: (req: Request) => AuditIdAnswer, req: Request): string | undefined {
  try {
    return cleanId(lookup(req), MAX_USER_ID);
  } catch (err) {
    if (!state[reported]) {
      state[reported] = true;
      reportRecordFailure(state.logger, err);
    }
    return undefined;
  }
}

/**
 * The app's session, when `sessionId(req)` had none when the request started: what it reads (a
 * conversation id in the parsed body, a cookie session) is often made by a middleware after this
 * one, so it was recorded for no request (found by the Express new-user pass, 2026-12-05). Asked
 * again when a route matches (the app's body parsers and session middleware have run: the
 * handler's records have it) and when the request ends or its error is recorded (a route's own
 * parser runs after the match: the request's own records have it); written into the request's
 * context and its metadata once known, then never asked again.
 */
function learnSession(state: RequestState, req: Request): void {
  const lookup = state.sessionLookup;
  if (lookup === undefined) return;
  const id = askSession(state, lookup, req);
  if (id === undefined) return;
  state.sessionLookup = undefined;
  state.metadata.appSessionId = id;
  if (state.context !== undefined) (state.context as { sessionId?: string }).sessionId = id;
}

/**
 * For an error raised once the response had gone out (a handler that failed after `res.json()`,
 * or mid-stream): the status the client got, beside the one the error implies (`status`), which
 * Express then sends to no one (it closes the connection). The record said only `status: 500`,
 * for a client that had its 200 (found by the Express new-user pass, 2026-12-05).
 */
function sentOf(state: RequestState | undefined, res: Response): { headersSent: true; sentStatus: number } | Record<string, never> {
  const sent = readMember(res, "headersSent") === true;
  const status = state?.sentStatus ?? readMember(res, "statusCode");
  return sent && typeof status === "number" ? { headersSent: true, sentStatus: status } : {};
}

/**
 * Who closed the connection of a request that got no whole response: the client (it left), or the
 * server: Express after an error auditErrorHandler saw once the response had begun ("error"), a
 * timeout of Node's (`timeout`: "requestTimeout", `server.requestTimeout`, which answers 408
 * itself; "socketTimeout", the socket's idle timeout: `server.timeout`, `server.setTimeout`, a
 * `setTimeout` of the request's or response's, on which Node sends nothing), or anything else of
 * the server's: Express's final handler after an error no auditErrorHandler saw, the app's
 * `res.destroy()`, a pipeline destroying the response with its upstream's error (see closedBy).
 * Until late 2026-12-05 only the close after an error auditErrorHandler saw was told apart, then
 * the socket told a server's close once the response had begun; before it, a server's timeout
 * or destroy was a client that left (499; found by the leftovers pass).
 */
interface Close {
  readonly by: "client" | "server" | "error";
  readonly timeout?: "requestTimeout" | "socketTimeout";
  readonly timeoutMs?: number;
}

/** The status a request whose connection closed before any response went out is recorded with. */
function unansweredStatus(close: Close): number {
  if (close.by === "client") return CLIENT_CLOSED_REQUEST;
  // (what Node sent: it answers 408 itself)
  if (close.timeout === "requestTimeout") return 408;
  // (Node sends nothing: the service did not answer in time, as connect-timeout answers then)
  if (close.timeout === "socketTimeout") return 503;
  return SERVER_CLOSED_UNANSWERED;
}

function closeOf(state: RequestState, req: Request, res: Response): Close {
  if (res.headersSent && state.failedAfterHeaders === true) return { by: "error" };
  const by = closedBy(req, res);
  // (a socket not destroyed yet: taken for the client's leaving, as before)
  if (by !== "server") return { by: "client" };
  const socket = readMember(req, "socket");
  if (readMember(readMember(socket, "errored"), "code") === "ERR_HTTP_REQUEST_TIMEOUT") {
    return { by: "server", timeout: "requestTimeout", ...msOf(readMember(readMember(socket, "server"), "requestTimeout")) };
  }
  const at = typeof socket === "object" && socket !== null ? timedOutAt.get(socket) : undefined;
  if (at !== undefined && at >= state.start) return { by: "server", timeout: "socketTimeout", ...msOf(readMember(socket, "timeout")) };
  return { by: "server" };
}

function msOf(v: unknown): { timeoutMs?: number } {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? { timeoutMs: v } : {};
}

/**
 * Who closed a request's connection, told by its socket (undefined while it is open): a client
 * that leaves ends its side of the connection first, or resets it (the socket's error, then, is
 * the reset, or the parser's at an early end); a server that destroys the socket does neither,
 * or destroys it with an error of its own: Node's request timeout, or the error the response was
 * destroyed with (`res.destroy(err)`: a pipeline whose upstream reset, ECONNRESET while the client
 * was there; it was taken for the client's leaving, and that error for its abort, until late
 * 2026-12-05).
 */
function closedBy(req: Request, res: Response): "client" | "server" | undefined {
  const socket = readMember(req, "socket");
  if (readMember(socket, "destroyed") !== true) return undefined;
  const errored = readMember(socket, "errored");
  if (errored !== null && errored !== undefined) {
    return errored === readMember(res, "errored") || readMember(errored, "code") === "ERR_HTTP_REQUEST_TIMEOUT" ? "server" : "client";
  }
  return readMember(socket, "readableEnded") === true ? "client" : "server";
}

/**
 * When each socket of a recorded request last timed out (its idle timeout: Node then destroys it
 * unless the app listens), for closeOf. One listener per connection, added by its first request;
 * it changes nothing of what Node does (Node destroys the socket unless the request, the response
 * or the server has a "timeout" listener, not the socket).
 */
const watchedSockets = new WeakSet<object>();
const timedOutAt = new WeakMap<object, number>();

function watchTimeout(req: Request): void {
  const socket = readMember(req, "socket") as { on?: unknown } | undefined;
  if (typeof socket !== "object" || socket === null || typeof socket.on !== "function" || watchedSockets.has(socket)) return;
  watchedSockets.add(socket);
  (socket as { on(event: string, listener: () => void): unknown }).on("timeout", markTimedOut);
}

function markTimedOut(this: object): void {
  timedOutAt.set(this, performance.now());
}

/** The unanswered request's record message, and the chat's errorMessage (`route` undefined). */
function abortMessage(close: Close, headersSent: boolean, method: string, route?: string): string {
  const what = route === undefined ? "the response" : `the response to ${method} ${route}`;
  const ms = close.timeoutMs !== undefined ? `, ${close.timeoutMs} ms` : "";
  if (close.timeout === "requestTimeout") {
    const request = route === undefined ? "the request" : `${method} ${route}`;
    return headersSent
      ? `The server's request timeout (server.requestTimeout${ms}) closed the connection before the request had arrived, once ${what} had begun.`
      : `The server's request timeout (server.requestTimeout${ms}) ended ${request} before ${route === undefined ? "it" : "its request"} had arrived: Node answered 408.`;
  }
  if (close.timeout === "socketTimeout") {
    const timer = `The socket's idle timeout (server.timeout, server.setTimeout or the request's setTimeout${ms})`;
    return headersSent ? `${timer} closed the connection before ${what} finished.` : `${timer} closed the connection before any ${what.replace(/^the /, "")}: Node sent none.`;
  }
  if (close.by === "error") return `The server closed the connection after an error, once ${what} had begun.`;
  if (close.by === "server") return headersSent ? `The server closed the connection before ${what} finished.` : `The server closed the connection before any ${what.replace(/^the /, "")}.`;
  return `The client closed the connection before ${what} finished.`;
}

/** A 4xx or 5xx status, or undefined. */
function errorStatus(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= 400 && v < 600 ? v : undefined;
}

/** `wrappedAbort`: the path to the abort in `err`'s causes, when the client left (see abortInCause) */
function recordThrown(logger: AuditLogger, state: RequestState | undefined, req: Request, res: Response, err: unknown, wrappedAbort?: string): void {
  if (state !== undefined && readMember(res, "headersSent") === true) state.failedAfterHeaders = true;
  if (state?.context) learnUser(state, req);
  if (state) learnSession(state, req);
  // an error an @AuditErrors method of this request recorded already, to this logger (it rethrew
  // it to here): one record, the method's (it was recorded twice, and counted twice; found by a
  // new-user run). Of this request: in its trace and since it began (a client's retry may send
  // the same x-request-id, and a cached error object may fail both). (An older copy of the
  // package names no logger: taken as this one.)
  // the status Express's final handler will send for this error: the error's `status`, else its
  // `statusCode` (each when 4xx/5xx), else the response's own when 4xx/5xx, else 500
  // (every read guarded: an error that cannot be read is still recorded, see readMember)
  const status = httpStatusOf(err) ?? errorStatus(readMember(res, "statusCode")) ?? 500;
  const traceId = state?.context?.traceId;
  const by = traceId === undefined ? undefined : recordingOf(err, logger, traceId);
  if (state !== undefined && by !== undefined && by.traceId === traceId && by.startedAt >= state.start) {
    state.recordedErrors.push(err);
    if (status >= 500 && wrappedAbort === undefined) state.recordedServerError = true;
    return;
  }
  const e = isError(err) ? err : undefined;
  const code = readMember(err, "code");
  let message = e ? textOf(readMember(e, "message")) : describeValue(err);
  let stack = e ? readMember(e, "stack") : undefined;
  // A body parser's parse failure: V8's JSON.parse message quotes the text around the bad token
  // (`Unexpected token 's', ..."apiKey": sk-live-…"... is not valid JSON`), and the stack repeats
  // it. The body is recorded on chat routes only, so here neither is (found by review, 2026-12-04).
  if (readMember(err, "type") === "entity.parse.failed") {
    const safe = "The request body is not valid JSON (entity.parse.failed): its text is left out of the record.";
    const head = typeof stack === "string" && e ? `${textOf(readMember(e, "name"))}: ${message}` : undefined;
    stack = head !== undefined && typeof stack === "string" && stack.startsWith(head) ? `${textOf(readMember(e, "name"))}: ${safe}${stack.slice(head.length)}` : undefined;
    message = safe;
  }
  const method = state?.method ?? (typeof req.method === "string" ? req.method : "GET");
  const route = shownRoute(state?.routePattern ?? state?.path ?? pathOf(req));
  logger.logError({
    errorType: e ? errorTypeOf(e) : "NonErrorThrown",
    message,
    ...(typeof stack === "string" ? { stackTrace: stack } : {}),
    severity: status >= 500 && wrappedAbort === undefined ? "error" : "warning",
    context: {
      method,
      route,
      status,
      ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
      ...sentOf(state, res),
      ...(wrappedAbort !== undefined ? { clientLeft: true, abortAt: wrappedAbort } : {}),
    },
  });
  if (state) {
    state.recordedErrors.push(err);
    // (a warning: a request that ends unaborted with a 5xx after all still gets its http_server_error)
    if (status >= 500 && wrappedAbort === undefined) state.recordedServerError = true;
  }
}

// ---------------------------------------------------------------- bodies

/** Keeps the first `max` bytes of a body passing through, and counts all of them. */
class BodyCapture {
  readonly max: number;
  private chunks: Buffer[] = [];
  private kept = 0;
  total = 0;
  constructor(max: number) {
    this.max = max;
  }
  add(chunk: unknown, encoding: string | undefined): void {
    let buf: Buffer;
    let owned = false;
    const room = this.max - this.kept;
    if (typeof chunk === "string") {
      const enc = encoding !== undefined && Buffer.isEncoding(encoding) ? encoding : "utf8";
      if (room <= 0) {
        // past the cap: counted, not encoded
        this.total += Buffer.byteLength(chunk, enc);
        return;
      }
      buf = Buffer.from(chunk, enc);
      owned = true;
    } else if (chunk instanceof Uint8Array) buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else return;
    this.total += buf.length;
    if (room <= 0 || buf.length === 0) return;
    const whole = buf.length <= room;
    // copied unless it is all of a buffer made here: the app may reuse its own buffer after
    // write() returns, and a slice would keep all of a large one alive for the request
    this.chunks.push(owned && whole ? buf : Buffer.from(whole ? buf : buf.subarray(0, room)));
    this.kept += Math.min(buf.length, room);
  }
  get truncated(): boolean {
    return this.total > this.kept;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

type ChatContent = string | unknown[] | Record<string, unknown>;

/**
 * The request as received: a textual body (JSON, text, a form) from the bytes that passed through
 * the request stream, parsed when it is whole JSON, cut at `max` and flagged when longer (a
 * handler may have changed the parsed `req.body` by the time the response ends, say by pushing
 * the answer onto its `messages`); otherwise (no bytes passed us, or a binary type such as
 * multipart) the parsed body when a body parser ran, else those bytes.
 */
function promptOf(req: Request, raw: BodyCapture, max: number): { value: ChatContent; truncated: boolean } {
  const contentType = headerOf(req.headers["content-type"]);
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (raw.total > 0 && (type === "" || isTextual(type))) {
    const received = decodeBody(raw, contentType, headerOf(req.headers["content-encoding"]), max);
    // (a compressed body larger than `max` once inflated is not inflated here: the parsed body,
    // below, if a parser ran)
    if (received.undecoded) return parsedPrompt(req, raw, max) ?? received;
    // JSON sent as text/plain (a browser's fetch with a string body) that a parser read as JSON
    const parsedBody: unknown = (req as { body?: unknown }).body;
    if (typeof received.value === "string" && !received.truncated && (Array.isArray(parsedBody) || isRecord(parsedBody))) {
      try {
        const json: unknown = JSON.parse(received.value);
        if (Array.isArray(json) || isRecord(json)) return { value: json as ChatContent, truncated: false };
      } catch {
        // text after all
      }
    }
    return received;
  }
  return parsedPrompt(req, raw, max) ?? decodeBody(raw, headerOf(req.headers["content-type"]), headerOf(req.headers["content-encoding"]), max);
}

/** A parser made a body (an empty object, what Express 4's parsers leave for none, is none). */
function hasParsedBody(req: Request): boolean {
  const body: unknown = readMember(req, "body");
  return body !== undefined && body !== null && !(isRecord(body) && Object.keys(body).length === 0) && body !== "";
}

/**
 * The prompt of a chat request that has no body (a browser's EventSource can only GET, so such a
 * chat asks in its query string): its parameters as an object (a repeated one as a list), those
 * whose name says credential (`token`, `api_key`, `sig`: the fetch integration's rule) as
 * "[REDACTED]"; as text cut at `max` when longer. Undefined when there is no query. Until
 * 2026-12-05 such a chat's prompt was "" (found by the Express new-user pass).
 */
function queryPrompt(req: Request, max: number): { value: ChatContent; truncated: boolean } | undefined {
  const url = typeof req.originalUrl === "string" ? req.originalUrl : typeof req.url === "string" ? req.url : "";
  const q = url.indexOf("?");
  if (q === -1 || q === url.length - 1) return undefined;
  const params: Record<string, string | string[]> = {};
  let any = false;
  for (const [name, value] of new URLSearchParams(url.slice(q + 1))) {
    if (name === "" && value === "") continue;
    const shown = isSecretParam(name) ? REDACTED_TEXT : value;
    const had = Object.hasOwn(params, name) ? params[name] : undefined;
    // (defined as data: a parameter named __proto__ is a member like any other)
    Object.defineProperty(params, name, { value: had === undefined ? shown : Array.isArray(had) ? [...had, shown] : [had, shown], enumerable: true, writable: true, configurable: true });
    any = true;
  }
  if (!any) return undefined;
  const text = JSON.stringify(params);
  return Buffer.byteLength(text) > max ? capText(text, max) : { value: params, truncated: false };
}

/** The prompt from the body a parser made (`req.body`), or undefined when there is none to use. */
function parsedPrompt(req: Request, raw: BodyCapture, max: number): { value: ChatContent; truncated: boolean } | undefined {
  const body: unknown = (req as { body?: unknown }).body;
  const parsedUseful = body !== undefined && !(raw.total > 0 && isRecord(body) && Object.keys(body).length === 0);
  if (parsedUseful) {
    if (typeof body === "string") return capText(body, max);
    if (body instanceof Uint8Array) {
      const c = new BodyCapture(max);
      c.add(body, undefined);
      return decodeBody(c, headerOf(req.headers["content-type"]), undefined, max);
    }
    try {
      const text = JSON.stringify(body);
      if (text === undefined) return { value: String(body), truncated: false };
      if (Buffer.byteLength(text) > max) return capText(text, max);
      return { value: Array.isArray(body) || isRecord(body) ? (body as ChatContent) : text, truncated: false };
    } catch {
      // a cyclic or BigInt body: fall back to the raw bytes
    }
  }
  return undefined;
}

/**
 * The response as the client got it. Copied above a compression middleware (registered before
 * us), the bytes are the app's own, not encoded, unless the app encoded them itself (a proxy
 * passing an upstream body on, with its own Content-Encoding, which compression passes through).
 * Which one is told without guessing from the bytes: the Content-Encoding when the headers went
 * out through us.
 * compression() sets its own only once the bytes went past us, when it writes the headers; an
 * app sets its own before it writes. (And where a compression() registered after us encodes
 * above us, behind a middleware that wraps res.end, express-session say, it has set its
 * Content-Encoding by the time its encoded bytes reach us.) Until 2026-12-03 the bytes were
 * tried as the declared encoding, and brotli, with no header to tell it by, decoded some texts
 * ("Hello", UUIDs) into nothing or garbage (found by review).
 */
function responseOf(chat: ChatCapture, res: Response, max: number): { value: ChatContent; truncated: boolean } {
  const type = chat.typeAtWrite !== undefined ? (chat.typeAtWrite ?? undefined) : headerOf(res.getHeader("content-type"));
  const encoding = chat.encodingAtWrite !== undefined ? (chat.encodingAtWrite ?? undefined) : headerOf(res.getHeader("content-encoding"));
  return decodeBody(chat.response, type, encoding, max, true);
}

/**
 * A header (`name` in lower case) among headers given to `writeHead(status, [message,] headers)`:
 * an object, `[name, value]` pairs, or a flat `[name, value, …]` list (Node sends such headers
 * without storing them, so `getHeader` never sees them).
 */
function headerIn(args: readonly unknown[], name: string): string | undefined {
  const headers = args[args.length - 1];
  if (typeof headers !== "object" || headers === null) return undefined;
  if (Array.isArray(headers)) {
    // [[name, value], …] pairs
    if (Array.isArray(headers[0])) {
      for (const pair of headers as unknown[][]) if (typeof pair[0] === "string" && pair[0].toLowerCase() === name) return headerOf(pair[1]);
      return undefined;
    }
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (typeof headers[i] === "string" && (headers[i] as string).toLowerCase() === name) return headerOf(headers[i + 1]);
    }
    return undefined;
  }
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headerOf((headers as Record<string, unknown>)[key]);
  return undefined;
}

/**
 * Bytes → text (decompressed, in the declared charset), JSON parsed when complete; binary → a
 * short note. `roomy`: a body larger than `max` once inflated may be inflated up to 16 times
 * `max` to keep its beginning (for responses, which the server made; never for requests, whose
 * compression ratio a client controls).
 */
function decodeBody(cap: BodyCapture, contentType: string | undefined, contentEncoding: string | undefined, max: number, roomy = false): { value: ChatContent; truncated: boolean; undecoded?: true } {
  let bytes = cap.bytes();
  let truncated = cap.truncated;
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  const encoding = (contentEncoding ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && bytes.length > 0) {
    const inflated = inflate(bytes, encoding, max, roomy);
    if (inflated === undefined) return { value: `[${cap.total} bytes, content-encoding ${encoding}]`, truncated, undecoded: true };
    bytes = inflated.bytes;
    truncated ||= inflated.truncated;
  }
  if (bytes.length === 0) return { value: "", truncated };
  if (type !== "" && !isTextual(type)) return { value: `[${cap.total} bytes of ${type}]`, truncated };
  const text = decodeText(bytes, /charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? "")?.[1], truncated);
  if (!truncated && (type === "application/json" || type.endsWith("+json"))) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed) || isRecord(parsed)) return { value: parsed, truncated };
    } catch {
      // not JSON after all: keep the text
    }
  }
  return { value: text, truncated };
}

/** The most a captured body is inflated to before it is cut (see `inflate`). */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

function inflate(bytes: Buffer, encoding: string, max: number, roomy: boolean): { bytes: Buffer; truncated: boolean } | undefined {
  const limit = Math.max(max, 1);
  const attempt = (maxOutputLength: number): Buffer | undefined => {
    try {
      if (encoding === "gzip" || encoding === "x-gzip") return zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength });
      if (encoding === "deflate") return zlib.inflateSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength });
      if (encoding === "br") return zlib.brotliDecompressSync(bytes, { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH, maxOutputLength });
    } catch {
      return undefined;
    }
    return undefined;
  };
  // zlib refuses to inflate past maxOutputLength (no partial output), so a body larger than the
  // limit once inflated is inflated again with room for 16 times more (at least 1 MiB, at most
  // 64), then cut
  const out = attempt(limit + 1) ?? (roomy ? attempt(Math.min(Math.max(limit * 16, 1 << 20), MAX_INFLATED_BYTES)) : undefined);
  if (out) return out.length > limit ? { bytes: out.subarray(0, limit), truncated: true } : { bytes: out, truncated: false };
  // not inflatable here (corrupt, or larger still): a note instead of the text
  return undefined;
}

function isTextual(type: string): boolean {
  return (
    type.startsWith("text/") ||
    type.endsWith("json") ||
    type.endsWith("+xml") ||
    type === "application/xml" ||
    type === "application/x-www-form-urlencoded" ||
    type === "application/javascript" ||
    type === "application/x-ndjson"
  );
}

function decodeText(bytes: Buffer, charset: string | undefined, cut: boolean): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset ?? "utf-8");
  } catch {
    decoder = new TextDecoder("utf-8");
  }
  // `stream: true` holds back a character split by the byte cap instead of emitting U+FFFD
  return decoder.decode(bytes, { stream: cut });
}

function capText(text: string, max: number): { value: string; truncated: boolean } {
  if (Buffer.byteLength(text) <= max) return { value: text, truncated: false };
  return { value: decodeText(Buffer.from(text).subarray(0, max), undefined, true), truncated: true };
}

// ---------------------------------------------------------------- small helpers

/**
 * A path or route pattern as recorded: with the credentials withAuditFetch hides in a URL's path
 * (a Telegram bot's token, a Discord webhook's, a path parameter named as one: `;jsessionid=…`)
 * as "[REDACTED]". A bot's webhook route is often named by its token (`app.post(`/bot${TOKEN}`)`),
 * and an unmatched path is recorded as sent: both were written in clear until 2026-12-06. Routing
 * and the path rules use the path as it is.
 */
function shownRoute(route: string): string {
  return hidePathTokens(route, "");
}

/** The request path without the query string (which may hold secrets), as the client sent it. */
function pathOf(req: Request): string {
  const url = typeof req.originalUrl === "string" ? req.originalUrl : typeof req.url === "string" ? req.url : "/";
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  // an absolute-form target (`GET http://host/path HTTP/1.1`, as sent to proxies): Express
  // routes on what follows `scheme://authority`, as sent (its getProtohost: no `..` resolved,
  // nothing decoded), and so do `ignore`, `chatRoutes` and the recorded route
  if (path[0] !== "/") {
    const fqdn = path.indexOf("://");
    if (fqdn !== -1) {
      const slash = path.indexOf("/", fqdn + 3);
      return slash === -1 ? "/" : path.slice(slash);
    }
  }
  return path;
}

/**
 * The paths a rule is matched against: the request's path and, where the middleware is mounted in
 * a Router or a sub-app (`req.baseUrl`, the mount path as matched), the path below that mount, as
 * the Router's own routes are written (`"/chat"` in a Router mounted at `/api` matches
 * `/api/chat`: it matched nothing, and the Router's chat went unrecorded); and the case
 * sensitivity each character of the path is routed with (see sensitivityOf).
 */
interface RulePaths {
  readonly path: string;
  readonly below: string | undefined;
  /** how many characters of `path` are the mount path (0 outside a mount) */
  readonly mountLength: number;
  /** whether the router that matched the path's character `i` did so with regard to case */
  sensitiveAt(i: number): boolean;
}

/** A middleware made by auditMiddleware (what its Routers' stacks hold). */
interface Mount {
  handle: RequestHandler | undefined;
}

function rulePaths(req: Request, path: string, mount: Mount): RulePaths {
  const mounted = pathBelowMount(req, path);
  const mountLength = mounted?.mountLength ?? 0;
  // asked only when a rule and the path differ in case somewhere (most requests never ask): the
  // routers are then walked for this request, not cached (a middleware mounted in another Router
  // after the first request was matched as its first mount routes; found by the Express
  // leftovers pass, 2026-12-05)
  let at: ((i: number) => boolean) | undefined;
  return {
    path,
    below: mounted?.below,
    mountLength,
    sensitiveAt: (i) => (at ??= sensitivityOf(req, path, mountLength, mount))(i),
  };
}

/**
 * The case sensitivity of each character of the path, as Express routed it: each part of the
 * mount path (`req.baseUrl`) as the router that matched it (the app's, a Router's, a sub-app's:
 * each its own), and what lies below as the Router the middleware is in. Found by walking the
 * routers from the outermost app (`parent`) down to the middleware, matching each layer as
 * Express does (see walkTo). Until 2026-12-05 all of the mount path was taken as matched by one
 * router (the app's, or for a sub-app the app it is mounted in), and a case-sensitive app's
 * insensitive sub-app (or Router) that served `/sub/API/chat` was taken to have refused it.
 * When the walk finds no way (a middleware called by a function of the app's, an app that
 * rewrote `req.url`), the mount path as the app (a sub-app's parent) routes, the rest as the
 * Routers the middleware sits in (see findFrame).
 */
function sensitivityOf(req: Request, path: string, mountLength: number, mount: Mount): (i: number) => boolean {
  const app = readMember(req, "app");
  const apps: unknown[] = [app];
  for (let a = readMember(app, "parent"); a !== undefined && a !== null && apps.length < 16 && !apps.includes(a); a = readMember(a, "parent")) apps.unshift(a);
  const method = readMember(req, "method");
  const params = readMember(req, "params");
  const walked = mount.handle !== undefined ? walkTo(apps, path, mountLength, mount.handle, typeof method === "string" ? method : "GET", params) : undefined;
  if (walked !== undefined) {
    const { parts, frame } = walked;
    return (i) => {
      for (const part of parts) if (i < part.end) return part.sensitive;
      return frame;
    };
  }
  const root = appRouter(app);
  const rootSensitive = routerSensitive(app, root);
  // (a sub-app's mount path was matched by the app it is mounted in, Express's `parent`)
  const parent = readMember(app, "parent");
  const mountSensitive = parent !== undefined && parent !== null ? routerSensitive(parent, appRouter(parent)) : rootSensitive;
  const frame = (root !== undefined && mount.handle !== undefined ? findFrame(root, mount.handle) : null) ?? rootSensitive;
  return (i) => (i < mountLength ? mountSensitive : frame);
}

/** A part of the mount path, up to `end` (exclusive), and the case sensitivity it was matched with. */
interface MountPart {
  readonly end: number;
  readonly sensitive: boolean;
}

/** The most layers walkTo looks at for a request (a bound on a large or odd routing tree). */
const MAX_WALKED_LAYERS = 10_000;

/**
 * The way Express took to `handle`: from the outermost app's router (`apps[0]`), down through the
 * Routers whose layer matches what is left of `path` and the sub-apps mounted there (`apps[k+1]`,
 * in a `mounted_app` layer), to the layer holding `handle` (itself, or in a route whose path and
 * method match the request's, as Express dispatches), with the mount path it consumed exactly
 * `mountLength` characters long: the parts matched at each level and the sensitivity of the router
 * holding `handle`. The first such way in stack order, as Express goes; undefined when there is
 * none. Until 2026-12-05 a route holding `handle` was taken whatever its path and method, so a
 * middleware on a route of one Router (`strict.get("/status", mw, …)`) and mounted in another
 * after it on the same path (`loose.use(mw)`) was matched as the first routes, for every request
 * the second passed it (found by the leftovers pass).
 * A way the app leaves at run time (`next("router")`, `next("route")`, a middleware that calls on
 * only some requests) is told only where the router keeps what the layer that called the
 * middleware matched on the layer (Express 4: its `params`, which the Router makes the request's
 * `params`, `reqParams`, unless it merges them): the walk first looks for the way whose last
 * layer holds those very params. Express 5's Router keeps nothing on its layers: the first way
 * is taken, as Express goes when nothing leaves it.
 */
function walkTo(apps: readonly unknown[], path: string, mountLength: number, handle: RequestHandler, method: string, reqParams: unknown): { parts: MountPart[]; frame: boolean } | undefined {
  let budget = MAX_WALKED_LAYERS;
  const parts: MountPart[] = [];
  // (the params of the layer that called the middleware, while looking for it: see above)
  let pinned = typeof reqParams === "object" && reqParams !== null ? reqParams : undefined;
  const walk = (router: unknown, k: number, offset: number, depth: number): boolean | undefined => {
    const stack = readMember(router, "stack");
    if (depth > 64 || !Array.isArray(stack)) return undefined;
    const sensitive = readMember(router, "caseSensitive") === true;
    const rest = offset >= path.length ? "/" : path.slice(offset);
    for (const layer of stack) {
      if (--budget < 0) return undefined;
      const h = readMember(layer, "handle");
      const route = readMember(layer, "route");
      const innermost = k === apps.length - 1;
      let into: { router: unknown; k: number } | undefined;
      if (route !== undefined && route !== null) {
        // (a route consumes nothing of the path: the mount path is what led here)
        if (innermost && offset === mountLength && (pinned === undefined || readMember(layer, "params") === pinned) && routeRuns(route, handle, method) && layerMatch(layer, rest) !== undefined) return sensitive;
        continue;
      }
      const target = h === handle && innermost;
      if (target) into = undefined;
      else if (typeof h === "function" && Array.isArray(readMember(h, "stack"))) into = { router: h, k };
      else if (typeof h === "function" && h.name === "mounted_app" && k + 1 < apps.length) into = { router: appRouter(apps[k + 1]), k: k + 1 };
      else continue;
      const matched = layerMatch(layer, rest);
      if (matched === undefined) continue;
      // as Express trims it: the base URL takes what matched, less a trailing slash
      const taken = matched.endsWith("/") ? matched.length - 1 : matched.length;
      const end = offset + taken;
      if (end > mountLength) continue;
      if (target || into === undefined) {
        if (end !== mountLength || (pinned !== undefined && readMember(layer, "params") !== pinned)) continue;
        if (taken > 0) parts.push({ end, sensitive });
        return sensitive;
      }
      const depthParts = parts.length;
      if (taken > 0) parts.push({ end, sensitive });
      const found = walk(into.router, into.k, end, depth + 1);
      if (found !== undefined) return found;
      parts.length = depthParts;
    }
    return undefined;
  };
  try {
    let frame = walk(appRouter(apps[0]), 0, 0, 0);
    if (frame === undefined && pinned !== undefined) {
      pinned = undefined;
      budget = MAX_WALKED_LAYERS;
      parts.length = 0;
      frame = walk(appRouter(apps[0]), 0, 0, 0);
    }
    // (the innermost app must be the one whose routers hold the middleware: the walk went through
    // every sub-app on the way)
    return frame === undefined ? undefined : { parts, frame };
  } catch {
    return undefined;
  }
}

/**
 * Whether `route` (a Route, Express 4's or 5's) runs `handle` for a request of `method`: the route
 * handles the method (`_handlesMethod`, Express 4's `_handles_method`; HEAD as GET where it has
 * no HEAD), and a layer of its own holding `handle` is for that method, or for all.
 */
function routeRuns(route: unknown, handle: RequestHandler, method: string): boolean {
  const stack = readMember(route, "stack");
  if (!Array.isArray(stack)) return false;
  const handles = readMember(route, "_handlesMethod") ?? readMember(route, "_handles_method");
  if (typeof handles === "function" && (handles as (m: string) => unknown).call(route, method) !== true) return false;
  let m = method.toLowerCase();
  if (m === "head" && readMember(readMember(route, "methods"), "head") !== true) m = "get";
  return stack.some((l) => {
    if (readMember(l, "handle") !== handle) return false;
    const own = readMember(l, "method");
    return own === undefined || own === m;
  });
}

/**
 * What of `path` a Router layer matches, as Express matches it (undefined: no match), without
 * changing the layer: Express 5's router has pure `matchers` (its `match` stored the result on
 * the layer in older versions), Express 4's layer its `regexp` (its `match` stores the result).
 * A global or sticky RegExp path (whose `exec` moves its `lastIndex`) is not tried.
 */
function layerMatch(layer: unknown, path: string): string | undefined {
  let matched: string | undefined;
  const matchers = readMember(layer, "matchers");
  if (readMember(layer, "slash") === true) matched = "";
  else if (Array.isArray(matchers)) {
    const raw = readMember(layer, "rawPath");
    if ((Array.isArray(raw) ? raw : [raw]).some((p) => p instanceof RegExp && (p.global || p.sticky))) return undefined;
    for (const m of matchers) {
      const r: unknown = typeof m === "function" ? (m as (p: string) => unknown)(path) : undefined;
      const p = readMember(r, "path");
      if (typeof p === "string") {
        matched = p;
        break;
      }
    }
  } else {
    const re = readMember(layer, "regexp");
    if (!(re instanceof RegExp) || re.global || re.sticky) return undefined;
    const fast = re as RegExp & { fast_slash?: boolean; fast_star?: boolean };
    matched = fast.fast_slash === true ? "" : fast.fast_star === true ? path : re.exec(path)?.[0];
  }
  // Express checks the match is a prefix of the path ending at a path separator
  if (matched === undefined || !path.startsWith(matched)) return undefined;
  const c = path[matched.length];
  return c === undefined || c === "/" || c === "." || matched.endsWith("/") ? matched : undefined;
}

/** How an app's router (`router`, see appRouter) matches case; the app's setting when the router cannot be read. */
function routerSensitive(app: unknown, router: object | undefined): boolean {
  return router !== undefined ? readMember(router, "caseSensitive") === true : caseSensitiveSetting(app);
}

/**
 * The router of an app (Express 4: `_router`, 5: `router`), whose `caseSensitive` Express routes
 * by: the app's "case sensitive routing" as it was when the router was made (by the app's first
 * `use` or route), not as it is now.
 */
function appRouter(app: unknown): object | undefined {
  const r4 = readMember(app, "_router");
  // (Express 4's `router` getter throws; Express 5's makes the router if there is none, and a
  // request being served has one)
  const r = r4 ?? readMember(app, "router");
  return typeof r === "function" || (typeof r === "object" && r !== null) ? r : undefined;
}

/**
 * The case sensitivity of the Router whose stack has `handle` (directly, or in a route's), looked
 * for from the app's router down through the Routers mounted in it (not into sub-apps: a request
 * in one has it as `req.app`). Null when none has it, or Routers that route differently do.
 * (Only where walkTo finds no way; looked for per request: cached per app, a middleware mounted
 * in another Router after the first request kept its first Router's.)
 */
function findFrame(root: object, handle: RequestHandler): boolean | null {
  const found = new Set<boolean>();
  const seen = new Set<unknown>();
  const walk = (router: unknown, depth: number): void => {
    if (depth > 64 || seen.has(router)) return;
    seen.add(router);
    const stack = readMember(router, "stack");
    if (!Array.isArray(stack)) return;
    const sensitive = readMember(router, "caseSensitive") === true;
    for (const layer of stack) {
      const h = readMember(layer, "handle");
      if (h === handle) {
        found.add(sensitive);
        continue;
      }
      const routeStack = readMember(readMember(layer, "route"), "stack");
      if (Array.isArray(routeStack)) {
        if (routeStack.some((l) => readMember(l, "handle") === handle)) found.add(sensitive);
      } else if (typeof h === "function" && Array.isArray(readMember(h, "stack"))) walk(h, depth + 1);
    }
  };
  walk(root, 0);
  return found.size === 1 ? [...found][0]! : null;
}

function pathBelowMount(req: Request, path: string): { below: string; mountLength: number } | undefined {
  let base: unknown;
  try {
    base = req.baseUrl;
  } catch {
    return undefined;
  }
  if (typeof base !== "string" || base === "" || base === "/" || path.length < base.length) return undefined;
  // (the mount path is the request's own text, matched ignoring case unless the app says otherwise)
  if (path.slice(0, base.length).toLowerCase() !== base.toLowerCase()) return undefined;
  const rest = path.slice(base.length);
  if (rest !== "" && rest[0] !== "/") return undefined;
  return { below: rest === "" ? "/" : rest, mountLength: base.length };
}

/**
 * A string rule matches the request's path or the path below the mount; a RegExp is tested
 * against the request's path only, as it is. (Tested against both, a negative one matched one of
 * the two: `/^(?!\/api\/chat)/`, ignore all but the chat, in a Router at `/api` matched "/chat"
 * below the mount, and the chat itself was ignored.)
 */
function matchesRule(rule: AuditPathRule, paths: RulePaths): boolean {
  if (typeof rule !== "string") {
    rule.lastIndex = 0; // a /g or /y RegExp remembers where it stopped
    return rule.test(paths.path);
  }
  return matchesPath(rule, paths.path, 0, paths.sensitiveAt) || (paths.below !== undefined && matchesPath(rule, paths.below, paths.mountLength, paths.sensitiveAt));
}

/**
 * A string rule matches its path and what lies under it, with case as Express routes it: the
 * character at `path[i]` (the request's path at `offset + i`: `path` may be the part below the
 * mount) as the router that matched it (`sensitiveAt`, asked only where the two differ in case;
 * case-insensitive by default in Express).
 */
function matchesPath(rule: string, path: string, offset: number, sensitiveAt: (i: number) => boolean): boolean {
  const r = rule.length > 1 && rule.endsWith("/") ? rule.slice(0, -1) : rule;
  if (r === "/") return path.startsWith("/");
  if (path.length < r.length || (path.length > r.length && path[r.length] !== "/")) return false;
  for (let i = 0; i < r.length; i++) {
    if (path.charCodeAt(i) === r.charCodeAt(i)) continue;
    if (path[i]!.toLowerCase() !== r[i]!.toLowerCase()) return false;
    if (sensitiveAt(offset + i)) return false;
  }
  return true;
}

/** The app's "case sensitive routing" setting (off by default in Express), for an app whose router cannot be read. */
function caseSensitiveSetting(app: unknown): boolean {
  try {
    return (app as { enabled?: (name: string) => boolean } | undefined)?.enabled?.("case sensitive routing") === true;
  } catch {
    return false;
  }
}

function headerTraceId(req: Request): string | undefined {
  const h = req.headers["x-request-id"];
  const v = Array.isArray(h) ? h[0] : h;
  return typeof v === "string" && SAFE_TRACE_ID.test(v) ? v : undefined;
}

/** A usable id from app code: a non-empty string (numbers accepted) of at most `max` characters. */
function cleanId(v: unknown, max: number): string | undefined {
  const s = typeof v === "number" && Number.isFinite(v) ? String(v) : v;
  return typeof s === "string" && s.length > 0 && s.length <= max ? s : undefined;
}

function headerOf(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && typeof v[0] === "string") return v[0];
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function describeValue(v: unknown): string {
  try {
    // An object: the decorators' rule, its message, else its own toString(), else its class's
    // name and JSON (until 2026-12-05 its JSON, and a class instance lost its name and text; see
    // thrownObjectMessage). Members named as credentials hidden in the JSON, at any depth: a
    // thrown RPC payload that carried its request's authorization header wrote it in clear
    // (found by the decorators fresh-eyes pass, 2026-12-05). `code` is kept: the record's context has it.
    if (typeof v === "object" && v !== null) return thrownObjectMessage(v);
    return typeof v === "string" ? v : (jsonHidingSecrets(v) ?? textOf(v));
  } catch {
    return textOf(v);
  }
}

/** An Express Router (4 or 5): a function with `use`, `handle` and its `stack` of layers. */
export function isExpressRouter(value: unknown): value is ((...args: never[]) => unknown) & { use(...handlers: unknown[]): unknown } {
  const v = value as { use?: unknown; handle?: unknown; stack?: unknown } | null;
  return typeof value === "function" && typeof v?.use === "function" && typeof v.handle === "function" && Array.isArray(v.stack);
}

/**
 * True for an Express application (4 or 5): a request handler function with `use`, `get` and
 * `listen`. Used by `withAudit` to recognise what it was given.
 *
 * @example
 * if (isExpressApp(app)) app.use(auditMiddleware({ logger }));
 */
export function isExpressApp(value: unknown): value is ((req: Request, res: Response, next?: NextFunction) => void) & { use: (...handlers: unknown[]) => unknown } {
  const v = value as { use?: unknown; get?: unknown; listen?: unknown; set?: unknown } | null;
  return typeof value === "function" && typeof v?.use === "function" && typeof v.get === "function" && typeof v.listen === "function" && typeof v.set === "function";
}
