import { AsyncLocalStorage } from "node:async_hooks";
import type { AuditLogger } from "./logger.js";
import type { AuditContextValue } from "./types.js";

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
  run<R>(value: AuditContextValue, fn: () => R): R {
    return shared.storage.run(derive(shared.storage.getStore(), value), fn);
  },
  /** The active context, or undefined outside any. */
  get(): AuditContextValue | undefined {
    return shared.storage.getStore();
  },
  /** Sets the user of the running context (e.g. after authentication). Returns false outside a context. */
  setUser(userId: string): boolean {
    const store = shared.storage.getStore();
    if (!store) return false;
    (store as { userId?: string }).userId = userId;
    return true;
  },
});

/**
 * A new context object: the parent's fields, overridden by `value`'s, metadata merged. Always a
 * new object, also without a parent: `setUser` writes into the running context, and must not
 * write into (or fail on a frozen) object of the app's, which it may pass to `run` again.
 */
function derive(parent: AuditContextValue | undefined, value: AuditContextValue): AuditContextValue {
  if (!parent) return value.metadata ? { ...value, metadata: { ...value.metadata } } : { ...value };
  return { ...parent, ...value, metadata: value.metadata ? { ...parent.metadata, ...value.metadata } : parent.metadata };
}

/**
 * @internal `auditContext.run` for the kit's own instrumentation, whose `value` is an object it
 * made for this one call: without a current context it is used as it is (no copy).
 */
export function runWithOwnValue<R>(value: AuditContextValue, fn: () => R): R {
  const parent = shared.storage.getStore();
  return shared.storage.run(parent ? derive(parent, value) : value, fn);
}

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
  shared.defaultLogger = logger;
}

/** The default logger, or undefined when none was set. */
export function getDefaultAuditLogger(): AuditLogger | undefined {
  return shared.defaultLogger as AuditLogger | undefined;
}

/** @internal Process-wide flags shared by every copy of the package. */
export function sharedFlags(): { warnedNoLogger: boolean } {
  return shared;
}
