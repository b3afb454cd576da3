/**
 * `withAudit`: one entry point that recognises what it is given and applies the matching
 * integration: an OpenAI client, an Anthropic client, an Express app, or a fetch function.
 */
import { AuditConfigError } from "../src/errors.js";
import { isLoggerLike } from "../src/context.js";
import { loggerAsOptions } from "./options.js";
import { wrapAnthropic, type AnthropicClientLike, type WrapAnthropicOptions } from "./anthropic.js";
import { auditMiddleware, isExpressApp, isExpressRouter, type AuditMiddlewareOptions } from "./express.js";
import { withAuditFetch, type AuditFetchOptions } from "./fetch.js";
import { isOpenAIClient, wrapOpenAI, type OpenAIClientLike, type WrapOpenAIOptions } from "./openai.js";

/** What `withAudit` recognises as an Express application (Express 4 or 5). */
export type ExpressAppLike = ((...args: never[]) => unknown) & {
  use(...handlers: never[]): unknown;
  get(...args: never[]): unknown;
  listen(...args: never[]): unknown;
  set(...args: never[]): unknown;
};

/** What `withAudit` recognises as an Express Router (`express.Router()`): a handler with `use`, `route` and its layer `stack`. */
export type ExpressRouterLike = ((...args: never[]) => unknown) & {
  use(...handlers: never[]): unknown;
  route(...args: never[]): unknown;
  stack: readonly unknown[];
};

type FetchLike = (input: never, init?: never) => Promise<unknown>;

function isAnthropicClient(value: unknown): value is AnthropicClientLike {
  const messages = (value as { messages?: { create?: unknown } } | null)?.messages;
  return typeof value === "object" && value !== null && typeof messages?.create === "function";
}

/** An AI SDK language model (`specificationVersion`, `doGenerate`): audited with the middleware, not withAudit. */
function isLanguageModel(value: unknown): boolean {
  const v = value as { doGenerate?: unknown; specificationVersion?: unknown } | null;
  return typeof value === "object" && value !== null && typeof v?.doGenerate === "function" && typeof v.specificationVersion === "string";
}

/** An AI SDK provider (`createOpenAI()`, `anthropic`): a function that makes models, with `languageModel()`. */
function isAiSdkProvider(fn: object): boolean {
  try {
    return typeof (fn as { languageModel?: unknown }).languageModel === "function";
  } catch {
    return false;
  }
}

/**
 * Which integration `target` is for, read without letting a read's error out: a Proxy whose `get`
 * trap throws, or a revoked one, was a bare TypeError ("Cannot perform 'get' on a proxy that has
 * been revoked") out of withAudit, not the AuditConfigError naming what to pass (found by the
 * fetch new-user pass, 2026-12-05).
 */
function kindOf(target: unknown): "openai" | "anthropic" | "express" | "other" {
  try {
    if (isOpenAIClient(target)) return "openai";
    if (isAnthropicClient(target)) return "anthropic";
    if (isExpressApp(target) || isExpressRouter(target)) return "express";
    return "other";
  } catch (err) {
    let why: string;
    try {
      why = err instanceof Error ? err.message : String(err);
    } catch {
      why = "an error that could not be read";
    }
    throw new AuditConfigError([
      { field: "target", message: `withAudit() could not read what it was given (reading it threw: ${why}): pass the client, app, Router or fetch function itself, not a revoked Proxy or one whose traps throw` },
    ]);
  }
}

function describeTarget(target: unknown): string {
  if (target === null) return "null";
  if (Array.isArray(target)) return "an array";
  if (typeof target !== "object") return typeof target;
  let model = false;
  try {
    model = isLanguageModel(target);
  } catch {
    // (a Proxy whose traps throw)
  }
  if (model) return "an AI SDK language model";
  let name: unknown;
  try {
    name = (target as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    // (a Proxy whose traps throw: just "an object")
  }
  return typeof name === "string" && name !== "" && name !== "Object" ? `an object of class ${name}` : "an object";
}

/** The options of the Express middleware (auditMiddleware) that no other integration takes. */
const EXPRESS_ONLY_OPTIONS = ["userId", "sessionId", "traceId", "chatRoutes", "ignore", "maxBodyBytes"] as const;

/** The Express-only options `options` names (never throws: options that cannot be read are the option check's to refuse). */
function expressOnlyOptions(options: object | undefined): string[] {
  if (typeof options !== "object" || options === null) return [];
  try {
    return EXPRESS_ONLY_OPTIONS.filter((k) => Object.hasOwn(options, k));
  } catch {
    return [];
  }
}

/** A class (its source starts with `class`): a client's constructor passed without `new`. */
function isClass(fn: object): boolean {
  try {
    return /^class[\s{]/.test(Function.prototype.toString.call(fn));
  } catch {
    return false;
  }
}

/** Whether `fn` has a member `key` that is a function (never throws). */
function hasFunction(fn: object, key: string): boolean {
  try {
    return typeof (fn as Record<string, unknown>)[key] === "function";
  } catch {
    return false;
  }
}

/**
 * What Express function that is not an app or a Router `fn` is, if it is one: the module itself
 * (`express`, a function with `Router`, `json` and `static`), the Router factory (`express.Router`:
 * `use`, `route` and `handle` of its own, Express 4, or on its prototype, Express 5), or a
 * middleware (`express.json()`, `express.static()`, an app's own: 3 parameters, `(req, res,
 * next)`, or 4, an error handler's). A fetch function takes `(input, init?)`. Each was taken for
 * a fetch: its calls returned promises and were recorded as requests (found by review, 2026-12-05).
 */
function expressKind(fn: object): "module" | "router-factory" | "middleware" | undefined {
  if (hasFunction(fn, "Router") && hasFunction(fn, "json") && hasFunction(fn, "static")) return "module";
  const proto = readPrototype(fn);
  if ((hasFunction(fn, "use") && hasFunction(fn, "route") && hasFunction(fn, "handle")) || (proto !== undefined && hasFunction(proto, "use") && hasFunction(proto, "route") && hasFunction(proto, "handle"))) return "router-factory";
  let arity: unknown;
  try {
    arity = (fn as { length?: unknown }).length;
  } catch {
    // (a Proxy whose traps throw: not told by its parameters)
  }
  return arity === 3 || arity === 4 ? "middleware" : undefined;
}

/**
 * Warns (once per app or Router) when routes, Routers or sub-apps are already on the stack that
 * `withAudit` appends its middleware to: the requests they answer never reach it, and were
 * recorded not at all, silently (found by the Express new-user pass, 2026-12-05). Middleware
 * before it (`compression()`, as the docs advise; a body parser) is no reason to warn.
 */
function warnOfRoutesBefore(target: object): void {
  let answering = 0;
  try {
    for (const layer of stackOf(target)) {
      const l = layer as { route?: unknown; handle?: unknown; name?: unknown } | null;
      if (l === null || typeof l !== "object") continue;
      const handle = l.handle as { name?: unknown } | undefined;
      if (l.route !== undefined || isExpressRouter(handle) || (typeof handle === "function" && handle.name === "mounted_app")) answering += 1;
    }
  } catch {
    return; // (an app we cannot look into: no warning)
  }
  if (answering === 0 || warned.has(target)) return;
  warned.add(target);
  process.emitWarning(
    `withAudit() was given an Express ${isExpressApp(target) ? "app" : "Router"} that already has ${answering} route${answering === 1 ? "" : "s"}, Router${answering === 1 ? "" : "s"} or sub-app${answering === 1 ? "" : "s"}: it adds auditMiddleware after them, and the requests they answer are not recorded. Call withAudit() before defining routes (after compression(), if used), or app.use(auditMiddleware(options)) there (docs/INTEGRATIONS.md, Express).`,
    { code: "AUDIT_WARN_MIDDLEWARE_AFTER_ROUTES", type: "AuditLoggerWarning" },
  );
}

const warned = new WeakSet<object>();

/** The layers of an app's router (Express 4: `_router`, made on first use; 5: `router`) or of a Router. */
function stackOf(target: object): readonly unknown[] {
  const t = target as { stack?: unknown; _router?: { stack?: unknown } };
  if (Array.isArray(t.stack)) return t.stack;
  if (t._router !== undefined) return Array.isArray(t._router.stack) ? t._router.stack : [];
  let router: { stack?: unknown } | undefined;
  try {
    // (Express 5's, made on first read, as use() would; Express 4's getter throws: no router yet)
    router = (target as { router?: { stack?: unknown } }).router;
  } catch {
    return [];
  }
  return Array.isArray(router?.stack) ? router.stack : [];
}

/** `fn.prototype` when it is an object (never throws). */
function readPrototype(fn: object): object | undefined {
  try {
    const proto = (fn as { prototype?: unknown }).prototype;
    // (Express 5's Router.prototype is a function itself)
    return (typeof proto === "object" || typeof proto === "function") && proto !== null ? proto : undefined;
  } catch {
    return undefined;
  }
}

/** The AuditConfigError message for an Express function that is not an app or a Router. */
function expressMessage(kind: "module" | "router-factory" | "middleware", fn: object): string {
  const fix = "(withAudit installs auditMiddleware(options) on it; or call app.use(auditMiddleware(options)) yourself: docs/INTEGRATIONS.md, Express)";
  if (kind === "module") return `withAudit() got the express module, not an app: pass the app it makes, const app = express(); withAudit(app, options) ${fix}`;
  if (kind === "router-factory") return `withAudit() got express.Router, not a Router: pass the Router it makes, const router = express.Router(); withAudit(router, options) ${fix}`;
  let name = "";
  try {
    name = String((fn as { name?: unknown }).name ?? "");
  } catch {
    // (a Proxy whose traps throw)
  }
  return `withAudit() got a function of ${(fn as { length: number }).length} parameters${name ? ` (${name})` : ""}, an Express middleware ((req, res, next) or (err, req, res, next)), not a fetch function (input, init?): pass the Express app or Router it is used in, withAudit(app, options) ${fix}`;
}

/**
 * Instruments `target` according to what it is, and returns it (the same object for clients
 * and apps; an audited function with the same signature for fetch):
 * - an OpenAI client → {@link wrapOpenAI} (the client, wrapped in place)
 * - an Anthropic client → `wrapAnthropic` (the client, wrapped in place)
 * - an Express app or Router → `app.use(auditMiddleware(options))` (the app; call it before
 *   defining routes, and add `app.use(auditErrorHandler())` after them yourself)
 * - any other function → {@link withAuditFetch} (a new function; use its return value: each call
 *   is recorded as a request, and a result that is not a promise comes back as it is), except a
 *   class (a client's constructor passed without `new`), an AI SDK provider, and the Express
 *   functions that are not an app or a Router (the `express` module, `express.Router`, a
 *   middleware of 3 or 4 parameters such as `express.json()`), which throw
 *
 * Throws `AuditConfigError` for anything else.
 *
 * @example
 * import { withAudit } from "audit-logger/integrations";
 * const openai = withAudit(new OpenAI(), { logger });
 * const auditedFetch = withAudit(fetch, { logger });
 * withAudit(app, { userId: (req) => req.user?.id, chatRoutes: ["/api/chat"] });
 */
export function withAudit<C extends OpenAIClientLike>(client: C, options?: WrapOpenAIOptions): C;
export function withAudit<C extends AnthropicClientLike>(client: C, options?: WrapAnthropicOptions): C;
// (a client of either kind, `OpenAI | Anthropic` from a provider switch: an overload takes no
// union of its parameters, and the call did not compile; found by the fetch new-user pass)
export function withAudit<C extends OpenAIClientLike | AnthropicClientLike>(client: C, options?: WrapOpenAIOptions & WrapAnthropicOptions): C;
export function withAudit<A extends ExpressAppLike>(app: A, options?: AuditMiddlewareOptions): A;
export function withAudit<R extends ExpressRouterLike>(router: R, options?: AuditMiddlewareOptions): R;
export function withAudit<F extends FetchLike>(fetchFn: F, options?: AuditFetchOptions): F;
export function withAudit(target: unknown, options?: object): unknown {
  // (before the dispatch: given to auditMiddleware or taken for Express options, the logger's
  // members made an error that did not say what was wrong)
  if (isLoggerLike(options)) throw loggerAsOptions("withAudit");
  const kind = kindOf(target);
  if (kind === "openai") return wrapOpenAI(target as OpenAIClientLike, options as WrapOpenAIOptions | undefined);
  if (kind === "anthropic") return wrapAnthropic(target as AnthropicClientLike, options as WrapAnthropicOptions | undefined);
  // an Express app, or a Router (which has no `listen`/`set`: it was taken for a fetch function
  // before, its requests recorded as "GET [object Object]"; found by review)
  if (kind === "express") {
    // (kindOf told it by isExpressApp / isExpressRouter)
    const app = target as { use(...handlers: unknown[]): unknown };
    const middleware = auditMiddleware(options as AuditMiddlewareOptions | undefined);
    warnOfRoutesBefore(app);
    app.use(middleware);
    return target;
  }
  if (typeof target === "function") {
    if (isClass(target)) {
      throw new AuditConfigError([
        { field: "target", message: `withAudit() got the class ${target.name || "(anonymous)"}, not an instance: pass the client it makes (new ${target.name || "Client"}(...))` },
      ]);
    }
    // an AI SDK provider (`openai` of @ai-sdk/openai) is a function too: taken for a fetch, its
    // model lookups became requests ("GET gpt-4o-mini") that returned promises instead of models
    // (found by a new-user run, 2026-12-03)
    if (isAiSdkProvider(target)) {
      throw new AuditConfigError([
        {
          field: "target",
          message: `withAudit() got an AI SDK provider (a function with languageModel()), not a fetch function. Its models are audited with the middleware: wrapLanguageModel({ model: provider("model-id"), middleware: auditLanguageModelMiddleware({ logger }) }) (docs/INTEGRATIONS.md, the AI SDK)`,
        },
      ]);
    }
    const express = expressKind(target);
    if (express !== undefined) throw new AuditConfigError([{ field: "target", message: expressMessage(express, target) }]);
    // Options only the Express middleware takes, with a function that is no Express app: the
    // app was not recognised (a Koa or Node handler, `app.callback()`, an app wrapped by another
    // framework), and the error called them misspelt ("withAuditFetch.userId: unknown option;
    // check its spelling"; found by the fetch new-user pass, 2026-12-05)
    const expressOnly = expressOnlyOptions(options);
    if (expressOnly.length > 0) {
      throw new AuditConfigError([
        {
          field: "target",
          message: `withAudit() got a function that is not an Express app or Router, which it takes for a fetch function, with ${expressOnly.join(", ")}, ${expressOnly.length === 1 ? "an option" : "options"} of the Express middleware: pass the Express app or Router itself (express(), express.Router()), or call app.use(auditMiddleware(options)) on it (docs/INTEGRATIONS.md, Express)`,
        },
      ]);
    }
    return withAuditFetch(target as FetchLike, options as AuditFetchOptions | undefined);
  }
  let model = false;
  try {
    model = isLanguageModel(target);
  } catch {
    // (a Proxy whose traps throw: kindOf said so already)
  }
  throw new AuditConfigError([
    {
      field: "target",
      message: `withAudit() accepts an OpenAI or Anthropic client, an Express app or Router, or a fetch function; got ${describeTarget(target)}. ${
        model ? "An AI SDK model is audited with the middleware: wrapLanguageModel({ model, middleware: auditLanguageModelMiddleware({ logger }) }) (docs/INTEGRATIONS.md, the AI SDK)" : "Pass one of those, or record other calls with the decorators or the log* methods (docs/INTEGRATIONS.md)"
      }`,
    },
  ]);
}
