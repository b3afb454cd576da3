/**
 * Observing the `APIPromise` of a Stainless-generated SDK (openai v4–v7, @anthropic-ai/sdk), for
 * the OpenAI and Anthropic integrations: the call sees the HTTP outcome, the parsed body and a
 * request for the raw Response, when and only when the application asks for them, and the
 * application gets the SDK's own promise back, unchanged.
 */

// (the module's object: the global `performance` is a getter, one more call per reading)
import { performance } from "node:perf_hooks";

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (typeof v === "object" || typeof v === "function") && v !== null && typeof (v as { then?: unknown }).then === "function";
}

/**
 * The time between a response's headers and the app's first ask for its body (`await`, `then`,
 * `withResponse()`), when it asked later: the app's own wait, left out of the call's duration
 * and a stream's time to first token (it was counted; found by review, 2026-12-04).
 */
export function awaitGap(call: { readonly parseStartedAt: number | undefined }, respondedAt: number | undefined): number {
  const parsed = call.parseStartedAt;
  return parsed !== undefined && respondedAt !== undefined && parsed > respondedAt ? parsed - respondedAt : 0;
}

/** The internals of the SDK's APIPromise this module hooks. */
export interface ApiPromiseInternals {
  responsePromise?: unknown;
  parseResponse?: unknown;
  asResponse?: unknown;
  /** set by the SDK's parse(), which `then`/`await`/`withResponse()` call */
  parsedPromise?: unknown;
  /** how the SDK's helpers (`.parse()`, `responses.stream()`) make a promise of their own from this one */
  _thenUnwrap?: unknown;
  /** @anthropic-ai/sdk 1.17: the response props, for a helper that parses them with a promise of its own (message threads) */
  _responseProps?: unknown;
  /** the SDK's (private) parse, which `then`, `await` and `withResponse()` go through */
  parse?: unknown;
}

/** What the SDK's response promise resolves to: the parts the integrations read. */
export interface ResponseProps {
  response?: { status?: number; headers?: { get(name: string): string | null } };
}

/** One wrapped call, as {@link observeApiPromise} tells it what happens to its promise. */
export interface ObservedCall {
  /** set once the SDK parses the body */
  parsing: boolean;
  /**
   * when the SDK started parsing the body (the app's first `await`, `then` or `withResponse()`):
   * a call awaited late lasted until its response and the parse, not the app's wait between
   */
  parseStartedAt: number | undefined;
  /** whether the app asked for the raw Response (set by the call itself, in `askedForRaw`) */
  readonly rawRequested: boolean;
  /** the response's headers arrived */
  responded(props: ResponseProps): void;
  /** the parsed body (a Stream for a streamed call), or what the SDK returned that was no promise */
  settle(value: unknown): void;
  /**
   * the request or the parse failed (with the error the app gets); `props`: the response props
   * the parse failed on (the Anthropic SDK may send the request again from there, see anthropic.ts)
   */
  fail(err: unknown, props?: unknown): void;
  /** records the call as abandoned if `result` is collected before it is recorded */
  track(result: object): void;
  /**
   * `.asResponse()` was called and returned `r`; `parsing` tells whether the SDK parses the
   * body too (`.withResponse()` calls both, after `parse()`).
   */
  askedForRaw(r: unknown, parsing: boolean): void;
  /** the promise could not be hooked: the call runs unrecorded, and this says why */
  unobservable(err: unknown): void;
}

/**
 * Observes the SDK's APIPromise and returns that same object. The HTTP outcome is seen by
 * chaining onto its response promise (a failed request is recorded when it fails, also when
 * nobody awaits the promise, and rejects with the same error object as before); the parsed body
 * (a completion, a Message, or a Stream) by wrapping its parser, which every path (`await`,
 * `.withResponse()`, the SDK's own `_thenUnwrap`) goes through. Nothing is parsed that the app
 * would not parse itself. Fields the SDK reads, set on the instance: an own method defined on
 * every promise cost ~0.5–1.2 µs each on Node 20 (bench/share-openai.ts).
 */
export function observeApiPromise(result: unknown, call: ObservedCall): unknown {
  if (!isThenable(result)) {
    call.settle(result);
    return result;
  }
  const p = result as ApiPromiseInternals & PromiseLike<unknown>;
  if (!isThenable(p.responsePromise) || typeof p.parseResponse !== "function") {
    // Not a Stainless APIPromise (an older or patched SDK): observe the promise itself.
    p.then(
      (v) => call.settle(v),
      (e: unknown) => call.fail(e),
    );
    return result;
  }
  try {
    const responsePromise = p.responsePromise;
    const parse = p.parseResponse as AnyFn;
    // Each member set to what it holds first: a promise that refuses (frozen, say) refuses
    // before anything is chained onto its response, so the call stays wholly unobserved. Chained
    // first, the chain ran all the same when the response came, and the promise, tracked from
    // there, was recorded as abandoned when collected (found by a CI run, 2026-12-03).
    p.responsePromise = responsePromise;
    p.parseResponse = parse;
    p.responsePromise = Promise.resolve(responsePromise).then(
      (props) => {
        call.responded(props as ResponseProps);
        // An APIPromise nobody has asked for its body yet (never awaited, or awaited later) is
        // watched from here on, and recorded as abandoned if it is collected unread. One awaited
        // at once (the usual case) has its `parsedPromise` by now, so it costs no registration;
        // until now the pending request held it alive anyway. (A promise an SDK helper made from
        // this one holds it: the class's `_thenUnwrap` parses with this promise's member, and
        // openai 7's own `_thenUnwrap` with closures made in the scope that holds this promise.)
        if (p.parsedPromise === undefined && !call.rawRequested) call.track(p);
        return props;
      },
      (err: unknown) => {
        call.fail(err);
        throw err;
      },
    );
    // The class's observed `asResponse()` finds the call through the response promise: the
    // SDKs' helpers (`.parse()`, `_thenUnwrap`) hand out a new APIPromise made from this one's
    // `responsePromise` with a parser of their own, and they share it.
    (p.responsePromise as Tagged)[kCall] = call;
    hookMembers(p, call, parse);
  } catch (err) {
    // the promise did not let us hook it: the call still works, unrecorded
    call.unobservable(err);
  }
  return result;
}

type AnyFn = (this: unknown, ...a: unknown[]) => unknown;

/** The observed response promise, with its call. */
type Tagged = Promise<unknown> & { [kCall]?: ObservedCall };

/**
 * The SDK's `_thenUnwrap` when it is its APIPromise class's method (openai ≤ 6, Anthropic),
 * once met: that one derives from the members hooked here, so it needs nothing more. Compared
 * first, so those promises cost one load and a compare, not a lookup of their own members.
 */
let classThenUnwrap: unknown;

/**
 * Hooks the members of `p` an SDK calls to parse its body, get its raw Response or derive a
 * helper's promise from it; `p.responsePromise` is the call's observed response promise by now.
 * A module function bound per call for each, not closures (see the binding note below).
 */
function hookMembers(p: ApiPromiseInternals & object, call: ObservedCall, parse: AnyFn): void {
  // A module function bound per call, not a closure made here: with the closures made per call
  // here and in stream-tap.ts, a wrapped chat call counted 686k CPU instructions on Node 20,
  // bound functions 648k (docs/BENCHMARKS.md). Bound to the APIPromise, the receiver the SDK
  // calls it with.
  p.parseResponse = parseObserved.bind(p, call, parse);
  if (!observeAsResponse(p) && typeof p.asResponse === "function") {
    const asResponse = p.asResponse as AnyFn;
    Object.defineProperty(p, "asResponse", { value: asResponseObserved.bind(p, call, asResponse), configurable: true, writable: true });
  }
  // (a helper that takes the raw response to parse it with a promise of its own: see observeHandOver)
  const props = p._responseProps;
  if (props !== undefined && props !== handOverObserver) observeHandOver(p);
  // openai 7's client gives each of its APIPromises an own `_thenUnwrap` (and `withResponse`):
  // closures over the request and the parser the promise was made with, not over its members.
  // The promise a helper derives with it (`chat.completions.parse()`, `responses.parse()`,
  // `responses.stream()`) read neither hook, and its calls went unrecorded (openai 7.0).
  const unwrap = p._thenUnwrap;
  if (unwrap !== classThenUnwrap && typeof unwrap === "function") {
    if (Object.hasOwn(p, "_thenUnwrap")) p._thenUnwrap = thenUnwrapObserved.bind(p, call, unwrap as AnyFn);
    else classThenUnwrap = unwrap;
  }
}

/**
 * An own `_thenUnwrap` of the SDK's (openai 7), observed (bound per call like
 * {@link parseObserved}): the promise it returns, the SDK's own, gets this call's observed
 * response promise (what the class's `_thenUnwrap` hands on too: the same props, the same error)
 * and its parser and its own members hooked, so its body (the helper's result: a parsed
 * completion, the Responses stream) settles the call. Its parser calls the SDK's parser of this
 * promise directly, not this promise's hooked member: the call is settled once, by whichever of
 * the promises the app awaits.
 */
function thenUnwrapObserved(this: unknown, call: ObservedCall, unwrap: AnyFn, ...a: unknown[]): unknown {
  const derived = unwrap.apply(this, a);
  const observed = (this as ApiPromiseInternals | null | undefined)?.responsePromise as Tagged | undefined;
  if (observed?.[kCall] !== call || !isThenable(derived)) return derived;
  const q = derived as ApiPromiseInternals & PromiseLike<unknown>;
  const parse = q.parseResponse;
  if (typeof parse !== "function") return derived;
  try {
    q.responsePromise = observed;
    hookMembers(q, call, parse as AnyFn);
  } catch (err) {
    call.unobservable(err);
  }
  return derived;
}

/**
 * The APIPromise's body parser, observed (bound per call to the promise, its call and the SDK's
 * parser). `this` is the APIPromise: the SDK's async parse keeps it (its receiver) alive until
 * the body is parsed, which is what keeps an awaited promise from looking dropped.
 */
function parseObserved(this: unknown, call: ObservedCall, parse: (this: unknown, ...a: unknown[]) => unknown, ...a: unknown[]): unknown {
  call.parsing = true;
  call.parseStartedAt ??= performance.now();
  let parsed: unknown;
  try {
    parsed = parse.apply(this, a);
  } catch (err) {
    call.fail(err);
    throw err;
  }
  Promise.resolve(parsed).then(
    (v) => call.settle(v),
    (e: unknown) => call.fail(e, a[1]),
  );
  return parsed;
}

/**
 * The call an observed APIPromise's response promise belongs to. Shared by every copy of this
 * package (`Symbol.for`), as is the class's observer: whichever copy installed it tells the calls
 * of all copies that speak its protocol (`PROTOCOL`: the call under this key, told through its
 * `askedForRaw(r, parsing)`). With module-local symbols, two copies in one app (ESM and CJS, two
 * versions) did not know each other's observer and wrapped the class's `asResponse` again at
 * every turn, without end.
 */
const PROTOCOL = "v1";
const kCall = Symbol.for(`audit-logger.api-promise.call.${PROTOCOL}`);
/**
 * On an installed observer: the protocols it serves, its own and those of the observers it wraps.
 * A copy wraps the class's method only when its protocol is not among them, so each protocol
 * wraps it at most once, whatever the order the copies meet it in.
 */
const kObserver = Symbol.for("audit-logger.api-promise.asResponse-protocols");

/** The observed `asResponse` methods last installed or met: one per SDK in use, usually (OpenAI's APIPromise class, Anthropic's). */
let lastObserver: unknown;
let otherObserver: unknown;

/**
 * Has `asResponse()` of the APIPromise's class tell the call that the app asked for the raw
 * Response: the class's method (on its prototype) is replaced once, by one that finds the call
 * through the promise's observed response promise (`responsePromise[kCall]`) and then runs the
 * original; promises of unwrapped clients have no such tag and run the original alone. Defining an
 * own `asResponse` on every promise instead cost ~1.2 µs per call on Node 20. False when the
 * promise has an own `asResponse` (someone's per-instance wrapper, which shadows the class's) or
 * the prototype cannot take one: the caller then wraps this promise's own.
 */
function observeAsResponse(p: ApiPromiseInternals & object): boolean {
  // (the usual case, once the class's method is observed: one cached load and a compare)
  const own = p.asResponse;
  if (own !== undefined && (own === lastObserver || own === otherObserver)) return true;
  const proto = Object.getPrototypeOf(p) as ApiPromiseInternals | null;
  const current = proto?.asResponse;
  // (an own asResponse shadows the class's; read, not Object.hasOwn: a cached load, not a lookup)
  if (typeof current !== "function" || own !== current) return false;
  const installed = observeOnProto(proto as Record<string, unknown>, "asResponse", kObserver, (orig) =>
    ({
      asResponse(this: unknown, ...a: unknown[]): unknown {
        const self = this as ApiPromiseInternals | null | undefined;
        const call = (self?.responsePromise as { [kCall]?: ObservedCall } | undefined)?.[kCall];
        const r = orig.apply(this, a);
        if (call) call.askedForRaw(r, self?.parsedPromise !== undefined);
        return r;
      },
    }).asResponse as AnyFn,
  );
  if (installed === undefined) return false; // a frozen prototype
  met(installed);
  return true;
}

function met(observer: unknown): void {
  if (observer === lastObserver) return;
  otherObserver = lastObserver;
  lastObserver = observer;
}

/** The APIPromise's own `asResponse()`, observed per promise (bound per call like {@link parseObserved}) when its class's cannot be. */
function asResponseObserved(this: unknown, call: ObservedCall, asResponse: (this: unknown, ...a: unknown[]) => unknown, ...a: unknown[]): unknown {
  const r = asResponse.apply(this, a);
  call.askedForRaw(r, (this as ApiPromiseInternals | null | undefined)?.parsedPromise !== undefined);
  return r;
}

/**
 * Calls whose response a helper took with `_responseProps()`, by the response props it got: the
 * helper parses them with an APIPromise of its own (@anthropic-ai/sdk 1.17's message threads do,
 * for a streamed turn and `toolRunner({ stream: true })`), whose body settles the call (see
 * parseHandedOver). Until 2026-12-05 such a turn made no record when it ended, and was recorded
 * as abandoned, with no text, once its promise was collected (found by a new-user pass). Shared
 * by every copy of this package, as the observers are.
 */
const kHandedOver = Symbol.for(`audit-logger.api-promise.handed-over.${PROTOCOL}`);
const shared = globalThis as { [kHandedOver]?: { readonly calls: WeakMap<object, ObservedCall> } };
const handedOver = (shared[kHandedOver] ??= { calls: new WeakMap() }).calls;

/** On an installed `_responseProps` or `parse` observer: the protocols it serves (see kObserver). */
const kHandOverObserver = Symbol.for("audit-logger.api-promise.hand-over-protocols");

/** The `_responseProps` observer last installed or met (the usual case: one load and a compare per call). */
let handOverObserver: unknown;

/**
 * Replaces the class's method `name` on `proto` with `make(current)`, once per protocol: `marker`
 * on an installed observer lists the protocols it serves, its own and those of the observers it
 * wraps (see kObserver). The installed (or met) observer, or undefined when there is no such
 * method or the prototype cannot take one (then the call goes unobserved there).
 */
function observeOnProto(proto: Record<string, unknown>, name: string, marker: symbol, make: (current: AnyFn) => AnyFn): unknown {
  const current = proto[name] as (AnyFn & { [marker]?: readonly string[] }) | undefined;
  if (typeof current !== "function") return undefined;
  const served = Array.isArray(current[marker]) ? current[marker] : [];
  if (served.includes(PROTOCOL)) return current;
  const wrapped = make(current);
  try {
    Object.defineProperty(wrapped, "length", { value: current.length });
    Object.defineProperty(wrapped, marker, { value: Object.freeze([...served, PROTOCOL]) });
    Object.defineProperty(proto, name, { value: wrapped, configurable: true, writable: true, enumerable: false });
    return wrapped;
  } catch {
    return undefined; // a frozen prototype
  }
}

/**
 * Observes `_responseProps()` and `parse()` of the class of `p` (its prototype's, once; an own
 * member shadowing them is left alone): a call whose response props a helper takes is handed
 * over to the promise that parses those props (see handedOver). `parse` is observed from the
 * first hand-over on (observeParse): an app whose helpers never take a response pays nothing for it.
 */
function observeHandOver(p: ApiPromiseInternals & object): void {
  const proto = Object.getPrototypeOf(p) as Record<string, unknown> | null;
  if (proto === null || p._responseProps !== proto._responseProps) return;
  const installed = observeOnProto(
    proto,
    "_responseProps",
    kHandOverObserver,
    (current) =>
      ({
        _responseProps(this: unknown, ...a: unknown[]): unknown {
          const r = current.apply(this, a);
          const call = ((this as ApiPromiseInternals | null | undefined)?.responsePromise as Tagged | undefined)?.[kCall];
          // (the class's parse is observed from the first hand-over on; if it cannot be, nothing is handed over)
          if (call !== undefined && isThenable(r) && observeParse(this)) {
            r.then(
              (props) => {
                if ((typeof props === "object" || typeof props === "function") && props !== null) handedOver.set(props, call);
              },
              () => undefined, // (the helper gets the rejection itself; the call's own chain records it)
            );
          }
          return r;
        },
      })._responseProps as AnyFn,
  );
  if (installed !== undefined) handOverObserver = installed;
}

/** Whether the `parse()` of the class of `self` is observed (see parseHandedOver), installing the observer once. */
function observeParse(self: unknown): boolean {
  const proto = (typeof self === "object" && self !== null ? Object.getPrototypeOf(self) : null) as Record<string, unknown> | null;
  if (proto === null || (self as ApiPromiseInternals).parse !== proto.parse) return false;
  return observeOnProto(proto, "parse", kHandOverObserver, (orig) => ({ parse(this: unknown, ...a: unknown[]): unknown { return parseHandedOver(this, orig.apply(this, a)); } }).parse as AnyFn) !== undefined;
}

/**
 * After the SDK's `parse()` of a promise that is not a call's own (`r`, its parsed body): when
 * its response props are a call's that a helper took (see handedOver), that body settles the
 * call, or its failure fails it, once.
 */
function parseHandedOver(self: unknown, r: unknown): unknown {
  const rp = (self as ApiPromiseInternals | null | undefined)?.responsePromise;
  if (!isThenable(rp) || (rp as Tagged)[kCall] !== undefined || !isThenable(r)) return r;
  let props: unknown;
  // (the response promise settles before the parse that chains on it: `props` is known by then)
  rp.then(
    (v) => (props = v),
    () => undefined,
  );
  const take = (): ObservedCall | undefined => {
    if ((typeof props !== "object" && typeof props !== "function") || props === null) return undefined;
    const call = handedOver.get(props);
    if (call !== undefined) handedOver.delete(props);
    return call;
  };
  r.then(
    (v) => take()?.settle(v),
    (e: unknown) => take()?.fail(e),
  );
  return r;
}
