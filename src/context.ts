import { AsyncLocalStorage } from "node:async_hooks";
import { AuditConfigError, AuditValidationError } from "./errors.js";
import type { AuditLogger } from "./logger.js";
import type { AuditContextInput, AuditContextValue } from "./types.js";

// One AsyncLocalStorage per process, shared through a global symbol so that two copies of the
// package (ESM and CJS, or two versions) see the same context and the same default logger.
interface Shared {
  storage: AsyncLocalStorage<AuditContextValue>;
  defaultLogger: unknown;
  warnedNoLogger: boolean;
}
const kShared = Symbol.for("audit-logger.context.v1");
const g = globalThis as unknown as Record<symbol, Shared | undefined>;
const shared: Shared = (g[kShared] ??= { storage: new AsyncLocalStorage<AuditContextValue>(), defaultLogger: undefined, warnedNoLogger: false });

/**
 * The request's audit context, carried through `await`, timers and the listeners of event
 * emitters used inside it (a listener runs in the context of whoever emits: see
 * docs/INTEGRATIONS.md for emitters created elsewhere).
 *
 * @example
 * auditContext.run({ userId: "u1", traceId: req.id }, () => handle(req));
 */
export const auditContext = Object.freeze({
  /** Runs `fn` in a context that inherits the current one and overrides the given fields. */
  run<R>(value: AuditContextInput, fn: () => R): R {
    if (typeof fn !== "function") throw new AuditValidationError("auditContext.run", [{ field: "fn", message: `must be the function to run in the context (got ${typeOf(fn)})` }], { outcome: "nothing was run" });
    return shared.storage.run(derive(shared.storage.getStore(), checkedValue(value)), fn);
  },
  /** The active context, or undefined outside any. */
  get(): AuditContextValue | undefined {
    return contextForRecord();
  },
  /** Sets the user of the running context (e.g. after authentication). Returns false outside a context. */
  setUser(userId: string): boolean {
    const problem = idProblem(userId) ?? (userId === undefined ? "must be a string (got undefined)" : undefined);
    if (problem !== undefined) throw new AuditValidationError("auditContext.setUser", [{ field: "userId", message: problem }], { outcome: "the user was not changed" });
    const store = shared.storage.getStore();
    if (!store) return false;
    (store as { userId?: string }).userId = userId;
    if ((store as { [kLearnedUser]?: string })[kLearnedUser] !== undefined) (store as { [kLearnedUser]?: string })[kLearnedUser] = undefined;
    return true;
  },
});

/**
 * @internal A context member, inherited like every other: how to learn the user of a context
 * that has none. The Express middleware's, on each request's context: the user is known only once
 * authentication, often a middleware that runs after ours (or one of the route's own, which runs
 * after the route matched), has run, and the records made by the route's handler must carry it
 * (found by a new-user run, 2026-12-03: only the request's own records had it). It returns the
 * user, or undefined while there is none (or once its request has ended), and writes it into
 * `store` only when that is its request's own context (a user set there with
 * auditContext.setUser wins): a context made inside the request is given the user for the record
 * being made, never kept in it, so one made in a child context that outlives its request (an
 * emitter or a client made during it) never carries that request's user into another's records
 * (found by review, 2026-12-03: it did). Nor is it written into the request's context when a
 * context made inside it asked: a decorated method's context would see its caller's user change
 * under it, and then not hand its caller a user it set with auditContext.setUser.
 */
export const kUserLookup = Symbol.for("audit-logger.context.user-lookup.v1");
/**
 * @internal The user a kUserLookup wrote into its request's own context (not one the app set):
 * a decorated call made before it was written must not take that write for its caller's own
 * change of user (see decorators/wrap.ts, Call.finish). auditContext.setUser clears it.
 */
export const kLearnedUser = Symbol.for("audit-logger.context.learned-user.v1");
export type UserLookup = (store: AuditContextValue) => string | undefined;

/**
 * @internal The active context for a record (and for `auditContext.get()`): one without a user
 * that knows how to learn it (see kUserLookup) asks now, and a context made inside the request
 * comes back as a copy with the user. The kit's own hot paths (finding the logger, noting where
 * a call was made) read the context with {@link currentContext}; the user is asked when the
 * record is made.
 */
export function contextForRecord(): AuditContextValue | undefined {
  const store = shared.storage.getStore();
  return store !== undefined && store.userId === undefined ? withLearnedUser(store) : store;
}

/** `store`, or a copy of it with the user its kUserLookup learns (the caller checked it has none). */
function withLearnedUser(store: AuditContextValue): AuditContextValue {
  const lookup = (store as { [kUserLookup]?: UserLookup })[kUserLookup];
  if (lookup === undefined) return store;
  const uid = lookup(store);
  return uid === undefined || store.userId !== undefined ? store : { ...store, userId: uid };
}

/**
 * @internal The user a call made now in `store` is made by: its user, or the one its lookup (see
 * kUserLookup) learns now (an Express request whose `userId(req)` reads what its auth set).
 */
export function userOfCall(store: AuditContextValue | undefined): string | undefined {
  if (store === undefined) return undefined;
  if (store.userId !== undefined || (store as { [kUserLookup]?: UserLookup })[kUserLookup] === undefined) return store.userId;
  return withLearnedUser(store).userId;
}

/** @internal The active context as it is, nothing asked (see contextForRecord). */
export function currentContext(): AuditContextValue | undefined {
  return shared.storage.getStore();
}

const STRING_FIELDS = ["sessionId", "userId", "persona", "traceId", "parentId"] as const;

/** The longest id a context holds: a record's own `userId`, `traceId`, `parentId` and `persona` take no more. */
export const MAX_ID_CHARS = 256;

/**
 * What is wrong with a context's id (undefined: nothing, or left out). The limits of the records'
 * own fields: a context's ids go into every record made in it (a 5,000-character userId did, and a
 * PostgreSQL store's index refused such rows: its sink stalled on them).
 */
function idProblem(x: unknown): string | undefined {
  if (x === undefined) return undefined;
  if (typeof x !== "string") return `must be a string (got ${typeOf(x)})`;
  if (x.length === 0) return "must be a non-empty string (leave it out for none)";
  if (x.length > MAX_ID_CHARS) return `must be at most ${MAX_ID_CHARS} characters (got ${x.length})`;
  return undefined;
}

/** A value's kind for messages: "null", "an array", or its typeof. */
export function typeOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

/** The members `auditContext.run` takes. */
const CONTEXT_FIELDS: ReadonlySet<string> = new Set([...STRING_FIELDS, "metadata", "logger"]);

/** The names warned of (see warnWrittenAs): each once, up to 100. */
const warnedNames = new Set<string>();

/** Warns that `auditContext.run` was given `key`, the field `meant` written another way (once per name). */
function warnWrittenAs(key: string, meant: string): void {
  if (warnedNames.has(key) || warnedNames.size >= 100) return;
  warnedNames.add(key);
  process.emitWarning(
    `auditContext.run() was given ${JSON.stringify(key.slice(0, 64))}, which is not a context field but reads as ${meant} written another way: it is kept as the app's own member and recorded nowhere (the records made in this context have no ${meant} from it). The context's fields are ${[...CONTEXT_FIELDS].join(", ")}.`,
    { code: "AUDIT_WARN_CONTEXT_FIELD", type: "AuditLoggerWarning" },
  );
}

/** The context field `key` is, written with other case or separators (`userID`, `user_id`), if any. */
function fieldWrittenAs(key: string): string | undefined {
  const letters = key.toLowerCase().replace(/[^a-z]/g, "");
  for (const field of CONTEXT_FIELDS) if (letters === field.toLowerCase()) return field;
  return undefined;
}

/**
 * `auditContext.run`'s value, checked (records would carry what it holds, and the docs promise
 * strings: a number or object userId would also share one encryption subject for all): an
 * object whose id fields are strings and whose metadata is an object; members set to undefined
 * are left out, so they inherit (`{ userId: session.user }` with no user keeps the parent's).
 * Anything else is an AuditValidationError naming the field.
 */
function checkedValue(value: AuditContextInput): AuditContextValue {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AuditValidationError("auditContext.run", [{ field: "value", message: `must be an object such as { userId, traceId } (got ${typeOf(value)})` }], { outcome: "nothing was run" });
  }
  const v = value as Record<string, unknown>;
  const issues: Array<{ field: string; message: string }> = [];
  for (const key of STRING_FIELDS) {
    const problem = idProblem(v[key]);
    if (problem !== undefined) issues.push({ field: key, message: problem });
  }
  const m = v.metadata;
  if (m !== undefined && m !== null && (typeof m !== "object" || Array.isArray(m))) issues.push({ field: "metadata", message: `must be an object (got ${typeOf(m)})` });
  // A context field written another way (`userID`, `user_id`, `trace-id`, `ParentId`) was kept as
  // a member of the app's own (the context keeps those) and recorded nowhere: the records had no
  // user, with nothing said (found by the fetch new-user pass, 2026-12-05). It is still kept as the
  // app's (a context an app built with such a member ran before, and a throw here would fail its
  // requests after an upgrade), and a warning names it, once per name.
  const keys = Object.keys(v);
  for (const key of keys) {
    if (CONTEXT_FIELDS.has(key) || v[key] === undefined) continue;
    const meant = fieldWrittenAs(key);
    if (meant !== undefined) warnWrittenAs(key, meant);
  }
  // (one that is not a logger was ignored silently: records went to the default logger; found by
  // a new-user run, 2026-12-03)
  if (v.logger !== undefined && v.logger !== null && !isLoggerLike(v.logger)) issues.push({ field: "logger", message: `must be an AuditLogger (got ${typeOf(v.logger)}); leave it out to use the outer context's or the default logger` });
  if (issues.length > 0) throw new AuditValidationError("auditContext.run", issues, { outcome: "nothing was run" });
  // (any member set to undefined, the logger's too, is left out: it inherits; so is a null
  // metadata, "none here", which records must not carry as `"metadata": null`, and a null
  // logger: it replaced the outer context's, and the records made inside went to the default
  // logger, another tenant's trail, say (`run({ logger: opts.logger ?? null })`; found by the
  // fetch new-user pass, 2026-12-05))
  let i = 0;
  while (i < keys.length && v[keys[i]!] !== undefined) i++;
  if (i === keys.length && m !== null && v.logger !== null) return value as AuditContextValue;
  const out: Record<string | symbol, unknown> = {};
  for (const key of keys) if (v[key] !== undefined && !((key === "metadata" || key === "logger") && v[key] === null)) out[key] = v[key];
  const lookup = (value as { [kUserLookup]?: UserLookup })[kUserLookup];
  if (lookup !== undefined) out[kUserLookup] = lookup;
  return out as AuditContextValue;
}

/**
 * Whether `v` is an AuditLogger, structurally (another copy of the package's is one too): the
 * check of the logger lookup and of `setDefaultAuditLogger`.
 */
export function isLoggerLike(v: unknown): v is AuditLogger {
  return typeof v === "object" && v !== null && typeof (v as AuditLogger).logChatInteraction === "function" && typeof (v as AuditLogger).logError === "function";
}

/**
 * A new context object: the parent's fields, overridden by `value`'s, metadata merged. Always a
 * new object, also without a parent: `setUser` writes into the running context, and must not
 * write into (or fail on a frozen) object of the app's, which it may pass to `run` again.
 */
function derive(parent: AuditContextValue | undefined, value: AuditContextValue): AuditContextValue {
  if (!parent) return value.metadata ? { ...value, metadata: { ...value.metadata } } : { ...value };
  const metadata = value.metadata ? { ...parent.metadata, ...value.metadata } : parent.metadata;
  // A context with no user of its own takes its parent's as it is when asked, not as it was now:
  // a user the caller sets while a decorated call runs (authentication finishing concurrently)
  // reaches the records made inside the call (they lacked it: found by review, 2026-12-04). Not
  // over a lookup of the parent's own (the Express request's, see kUserLookup), which is
  // inherited and asks for itself.
  if (parent.userId === undefined && value.userId === undefined && (value as { [kUserLookup]?: UserLookup })[kUserLookup] === undefined) {
    const lookup = (parent as { [kUserLookup]?: UserLookup })[kUserLookup];
    if (lookup === undefined || lookup === parentUser) {
      // (the link first, then the spreads: an object literal that starts with a spread and adds
      // members after it costs V8 ~1-2 µs more here, measured with a decorated call in a context)
      // The link chain stays short: a job that reschedules itself in its own context (a polling
      // loop) made each run's context in the last one's, and the chain was never freed, every
      // lookup walking all of it (re-review, 2026-12-04). Past MAX_LINK_DEPTH a context links
      // the first context of the chain, the one a user is set in by whoever made it (a request's).
      const linked = lookup === parentUser ? (parent as LinkedContext) : undefined;
      const depth = linked ? (linked[kLinkDepth] ?? 0) + 1 : 1;
      const root = linked ? (linked[kLinkRoot] ?? parent) : parent;
      const out = { [kUserLookup]: parentUser, [kParentContext]: parent, [kLinkRoot]: root, [kLinkDepth]: depth, ...parent, ...value, metadata } as AuditContextValue & LinkedContext;
      // (a parent that has a link of its own spread it over this one)
      if (depth > MAX_LINK_DEPTH) {
        out[kParentContext] = root;
        out[kLinkDepth] = 1;
      } else {
        out[kParentContext] = parent;
        out[kLinkDepth] = depth;
      }
      out[kLinkRoot] = root;
      return out;
    }
  }
  // (`metadata` first and set after: an object literal that starts with a spread and adds a
  // member after it costs V8 ~1-3 µs more, measured with a decorated call in a context)
  const out: { metadata?: AuditContextValue["metadata"] } = { metadata: undefined, ...parent, ...value };
  out.metadata = metadata;
  return out as AuditContextValue;
}

/** @internal The context a context with no user of its own was made in (see derive, parentUser). */
const kParentContext = Symbol.for("audit-logger.context.parent.v1");
/** @internal The first context of a chain of linked ones (see derive). */
const kLinkRoot = Symbol.for("audit-logger.context.link-root.v1");
/** @internal How many links lead from a linked context to its chain's first one (see derive). */
const kLinkDepth = Symbol.for("audit-logger.context.link-depth.v1");
/** Links at most this long: nesting deeper than any app's calls, short enough to walk at each record. */
const MAX_LINK_DEPTH = 32;

interface LinkedContext {
  [kParentContext]?: AuditContextValue;
  [kLinkRoot]?: AuditContextValue;
  [kLinkDepth]?: number;
}

/**
 * The kUserLookup of a context made with no user in one that had none either: the user its
 * parent has now, or the one the parent's parent has, and so on (the nearest one set with
 * auditContext.setUser), or what the first lookup of another kind among them learns.
 */
function parentUser(store: AuditContextValue): string | undefined {
  let ctx: AuditContextValue | undefined = (store as { [kParentContext]?: AuditContextValue })[kParentContext];
  while (ctx !== undefined && ctx.userId === undefined && (ctx as { [kUserLookup]?: UserLookup })[kUserLookup] === parentUser) {
    ctx = (ctx as { [kParentContext]?: AuditContextValue })[kParentContext];
  }
  return userOfCall(ctx);
}

/**
 * @internal A copy of `context` as it is now, for a record made later: with the user its lookup
 * (see kUserLookup) learns now, and without the lookup, so that it does not ask again then.
 */
export function snapshotContext(context: AuditContextValue): AuditContextValue {
  if ((context as { [kUserLookup]?: UserLookup })[kUserLookup] === undefined) return { ...context };
  const learned = context.userId === undefined ? withLearnedUser(context) : context;
  return { ...learned, [kUserLookup]: undefined } as AuditContextValue;
}

/**
 * @internal `auditContext.run` for the kit's own instrumentation, whose `value` is an object it
 * made for this one call: without a current context it is used as it is (no copy).
 */
export function runWithOwnValue<R>(value: AuditContextValue, fn: () => R): R {
  return shared.storage.run(ownContext(value), fn);
}

/**
 * @internal The context {@link runWithOwnValue} runs in, for one who enters it itself with
 * {@link auditStorage} (the decorators: fewer stack frames per call).
 */
export function ownContext(value: AuditContextValue): AuditContextValue {
  const parent = shared.storage.getStore();
  return parent ? derive(parent, value) : value;
}

/** @internal The one AsyncLocalStorage (see Shared), for the kit's own instrumentation only. */
export const auditStorage: AsyncLocalStorage<AuditContextValue> = shared.storage;

/**
 * @internal Runs `fn` in exactly the context `store` (captured earlier with `auditContext.get()`),
 * or outside any context when it is undefined. For integrations that record later what a call
 * did: cheaper than an AsyncResource per call, and only this kit's context matters there.
 */
export function runInAuditContext<R>(store: AuditContextValue | undefined, fn: () => R): R {
  if (shared.storage.getStore() === store) return fn();
  // run(undefined), not exit(): on Node 20 exit() disables and re-enables the async hooks
  return shared.storage.run(store as AuditContextValue, fn);
}

/** The logger used when neither an option nor the context names one. */
export function setDefaultAuditLogger(logger: AuditLogger | undefined): void {
  if (logger !== undefined && logger !== null && !isLoggerLike(logger)) {
    throw new AuditConfigError([{ field: "logger", message: "setDefaultAuditLogger() takes an AuditLogger, or undefined to clear it" }]);
  }
  shared.defaultLogger = logger ?? undefined;
}

/** The default logger, or undefined when none was set. */
export function getDefaultAuditLogger(): AuditLogger | undefined {
  return shared.defaultLogger as AuditLogger | undefined;
}

/** @internal Process-wide flags shared by every copy of the package. */
export function sharedFlags(): { warnedNoLogger: boolean } {
  return shared;
}
