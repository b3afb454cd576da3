/**
 * Observes an SDK stream without replacing it: the caller keeps the SDK's own object (same
 * class, same `controller`, `tee()`, `toReadableStream()`), and the observer sees every item the
 * app reads, then exactly one end: completed, aborted, abandoned (the app stopped reading) or an
 * error. Used by the OpenAI and Anthropic integrations (which tell a finished response from a
 * stream cut short by what the items said, and track unread streams themselves).
 */

/** How an observed stream ended. */
export type StreamEnd =
  | { readonly kind: "completed" }
  /** the request was aborted (its AbortSignal fired) before the stream finished */
  | { readonly kind: "aborted" }
  /** the app stopped reading early (`break`, `return()`) */
  | { readonly kind: "abandoned" }
  /** reading failed; `error` is the exact value the app's iteration rejected with */
  | { readonly kind: "error"; readonly error: unknown };

/** Callbacks of {@link tapStream}; exceptions they throw are swallowed, never seen by the app. */
export interface StreamObserver<T> {
  /** every item, in order, as the app receives it (once, even when the stream is tee()d) */
  onItem(item: T): void;
  /** called exactly once */
  onEnd(end: StreamEnd): void;
  /**
   * Called once when the tap is set up, with a handle whose `release()` makes the tap let go of
   * this observer: for an observer that can end without the tap (its stream collected unread), as
   * the tap's abort observer lives as long as the request's controller, which an app's own signal
   * can keep alive.
   */
  tapped?(handle: TapHandle): void;
}

/** See {@link StreamObserver.tapped}. */
export interface TapHandle {
  release(): void;
}

export interface TapOptions {
  /**
   * the request's signal: an abort ends the observation even when nobody reads any more. With
   * `controller`, it must be the controller's own signal (passed when the caller has read it).
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * The request's AbortController (a Stainless SDK stream's `controller`); its signal is then the
   * request's signal. Preferred over `signal`: the controller's `abort` method is observed in
   * place, which costs far less than an `abort` listener (~0.3 µs against ~7 µs per stream on
   * Node 20), and every abort path of the SDKs (the app's `controller.abort()`, a request
   * `signal`, the timeout, `break`) calls that method. Falls back to a listener when the method
   * cannot be observed (already replaced by someone, or a frozen controller).
   */
  readonly controller?: AbortController | undefined;
}

/** Marks the iterator factories this module installs (shared by copies of the package). */
const kTapped = Symbol.for("audit-logger.stream-tap.v2");

type IteratorFactory<T> = (() => AsyncIterator<T>) & { [kTapped]?: true };
interface StainlessStreamShape<T> {
  iterator?: IteratorFactory<T>;
  [Symbol.asyncIterator]?: IteratorFactory<T>;
}

/**
 * Taps `stream` in place and returns the same object. Stainless-generated SDK streams (OpenAI,
 * Anthropic) build every read path (`for await`, `tee()`, `toReadableStream()`) on one
 * `iterator` factory, so that factory is wrapped; any other async iterable gets an own
 * `Symbol.asyncIterator`. Tapping twice is a no-op: the factory installed is marked, not the
 * stream (a property defined on each stream costs ~0.5 µs on Node 20, a member set on a function
 * made here a few ns).
 *
 * @example
 * const stream = await client.chat.completions.create({ ...params, stream: true });
 * tapStream(stream, { onItem: (c) => chunks.push(c), onEnd: (end) => record(chunks, end) }, { signal: stream.controller.signal });
 * for await (const chunk of stream) render(chunk);   // the app's loop is unchanged
 */
export function tapStream<S extends object, T = unknown>(stream: S, observer: StreamObserver<T>, options: TapOptions = {}): S {
  const target = stream as S & StainlessStreamShape<T>;
  const useField = typeof target.iterator === "function";
  const original = (useField ? target.iterator : target[Symbol.asyncIterator]) as IteratorFactory<T> | undefined;
  if (typeof original !== "function" || original[kTapped]) return stream;
  const state = new TapState(observer, options);
  // bound, not a closure made per stream (see parseObserved in openai.ts); the receiver is
  // always the stream, the one every read path of the SDKs calls it on
  const factory: IteratorFactory<T> = (tappedIterator<T>).bind(stream, state, original);
  factory[kTapped] = true;
  try {
    if (useField) target.iterator = factory;
    else Object.defineProperty(target, Symbol.asyncIterator, { value: factory, configurable: true, writable: true });
  } catch {
    // a frozen or exotic object: leave it alone, untapped
    state.detach();
  }
  return stream;
}

/** The stream's iterator factory, tapped (bound per stream to it, its state and the original factory). */
function tappedIterator<T>(this: object, state: TapState<T>, original: IteratorFactory<T>): AsyncIterator<T> {
  return tapIterator(original.call(this), state);
}

class TapState<T> implements TapHandle {
  /**
   * The iterator being observed: the first one whose `next()` is called. A stream is read once
   * (the SDKs refuse a second read), so any other iterator's results pass unobserved: an app that
   * tries to read the stream again while reading it (and catches the SDK's refusal) must not end
   * the observation of the read under way, and an iterator made and never read must not take it
   * from the one that is.
   */
  owner = 0;
  /** (iterators are told apart by number: the state must not hold one, and through it the stream, alive) */
  iterators = 0;
  private ended = false;
  private readonly signal: AbortSignal | undefined;
  private readonly detachAbort: (() => void) | undefined;

  /** cleared at the end: the abort observer outlives the stream where the app's signal does (see `end`) */
  private observer: StreamObserver<T> | undefined;

  constructor(observer: StreamObserver<T>, options: TapOptions) {
    this.observer = observer;
    try {
      observer.tapped?.(this);
    } catch {
      // an observer's own failure: never the app's
    }
    const controller = options.controller;
    const signal = options.signal ?? controller?.signal;
    this.signal = signal;
    // (an already aborted signal gets an observer too, which does no harm: cheaper than asking)
    if (signal) {
      // Deferred: when the SDK's own iterator fails it aborts the signal in its `finally` just
      // before the failure reaches us; the real outcome (error/completed) must win over "aborted".
      const onAbort = () => {
        if (!this.ended) setImmediate(() => this.end({ kind: "aborted" }));
      };
      this.detachAbort = (controller ? observeAbort(controller, onAbort) : undefined) ?? listenForAbort(signal, onAbort);
    }
  }

  /**
   * Observes one `next()` result and returns that same promise. The observer handles a rejection,
   * so an app that calls `next()` and drops a rejected result no longer gets an unhandledRejection
   * for it (every SDK read path awaits its results).
   */
  observe(p: Promise<IteratorResult<T>>): Promise<IteratorResult<T>> {
    // reactions run in the order they were attached: this one before the app's `await`
    // (Promise.resolve of a native promise is that promise; a thenable gets wrapped)
    Promise.resolve(p).then(this.onResult, this.onError);
    return p;
  }

  private readonly onResult = (r: IteratorResult<T>): void => {
    if (typeof r !== "object" || r === null) return; // not an iterator result: the app's problem, not ours
    let done: boolean | undefined;
    let value: T;
    try {
      done = r.done;
      value = r.value;
    } catch {
      return; // a result whose getters throw: the app sees that when it reads it
    }
    if (done) this.end({ kind: "completed" });
    else this.item(value);
  };

  private readonly onError = (err: unknown): void => {
    this.end({ kind: "error", error: err });
  };

  item(value: T): void {
    if (this.ended) return;
    try {
      this.observer?.onItem(value);
    } catch {
      // observation must never break the app's stream
    }
  }

  end(end: StreamEnd): void {
    if (this.ended) return;
    this.ended = true;
    // The abort observer stays: removing it costs more than the no-op it becomes (it lives and
    // dies with the stream's own controller).
    const final: StreamEnd = end.kind === "completed" && this.signal !== undefined && signalAborted(this.signal) ? { kind: "aborted" } : end;
    // The SDK links an app's own `signal` to the request's controller with a listener that stays
    // until that signal aborts, so a long-lived signal (one per app, say) keeps the controller,
    // its observed `abort` and this state alive: they must not keep the observer (the call and
    // all it holds) too.
    const observer = this.observer;
    this.observer = undefined;
    try {
      observer?.onEnd(final);
    } catch {
      // idem
    }
  }

  detach(): void {
    this.detachAbort?.();
  }

  release(): void {
    this.observer = undefined;
  }
}

/** Node's own `aborted` getter of AbortSignal (undefined where AbortSignal is not Node's, or lacks it). */
const abortedGetter = Object.getOwnPropertyDescriptor(AbortSignal.prototype, "aborted")?.get as ((this: AbortSignal) => boolean) | undefined;

/**
 * `signal.aborted`, read by calling AbortSignal's getter itself. On Node 20 every AbortSignal is
 * an object in dictionary mode with a map of its own (Node makes it as an EventTarget, then sets
 * its prototype), so a read by name misses its inline cache every time: ~430 ns in a hot loop
 * against ~190 ns for the getter called directly, and ~1.8 µs per stream (a stream's end, 1.9 µs
 * of its own time against 0.1–0.3) in bench/profile-openai.ts, with the app's caches cold. A
 * signal that is not Node's (the getter refuses it) is read by name.
 */
export function signalAborted(signal: AbortSignal): boolean {
  if (abortedGetter !== undefined) {
    try {
      return abortedGetter.call(signal) === true;
    } catch {
      // not one of Node's AbortSignals: its own `aborted`, below
    }
  }
  return signal.aborted === true;
}

/** Observes `controller.abort()` calls in place; returns how to undo it, or undefined when it cannot. */
function observeAbort(controller: AbortController, onAbort: () => void): (() => void) | undefined {
  if (Object.hasOwn(controller, "abort")) return undefined; // already replaced by someone: use a listener
  const abort = controller.abort as (this: AbortController, ...args: unknown[]) => void;
  if (typeof abort !== "function") return undefined;
  try {
    Object.defineProperty(controller, "abort", {
      value: function abortObserved(this: AbortController, ...args: unknown[]): void {
        abort.apply(this, args);
        onAbort();
      },
      configurable: true,
      writable: true,
      enumerable: false,
    });
  } catch {
    return undefined; // a frozen controller
  }
  return () => {
    delete (controller as { abort?: unknown }).abort;
  };
}

function listenForAbort(signal: AbortSignal, onAbort: () => void): () => void {
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/**
 * The iterator the app reads. `next()` returns the inner iterator's own promise: the observer's
 * reaction is attached first, so it sees each result before the app's `await` resumes, and the
 * app's reads take no extra promise or microtask (a `.then` chain per item did, ~0.5 µs each).
 *
 * The inner iterator's methods are looked up once, with `Reflect.get`, as `for await` looks up
 * `next` once. The SDKs' iterators are async generators of a function made per stream, so each
 * has a prototype of its own: a property read of one by name misses its inline cache every time
 * (~0.5 µs each on Node 20, registering the new prototype on the way), a `Reflect.get` has no
 * cache to miss.
 */
class TappedIterator<T> {
  /** this iterator's number, for the state's `owner` */
  readonly n: number;

  constructor(
    protected readonly inner: AsyncIterator<T>,
    protected readonly state: TapState<T>,
    private readonly innerNext: AsyncIterator<T>["next"],
  ) {
    this.n = ++state.iterators;
  }

  // (`arguments.length`, not a rest parameter: no array made for each item)
  next(value?: unknown): Promise<IteratorResult<T>> {
    const p = arguments.length === 0 ? this.innerNext.call(this.inner) : this.innerNext.call(this.inner, value);
    const state = this.state;
    if (state.owner !== this.n) {
      if (state.owner !== 0) return p; // another iterator reads the stream (see `owner`)
      state.owner = this.n;
    }
    return state.observe(p);
  }

  /** An async iterator is async-iterable (it returns itself), as the SDKs' own are: `for await` over one read part-way. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * What the inner iterator says it is (an SDK's is an async generator): `Object.prototype.toString`
   * and `util.inspect` of the iterator the app got said "Object" (found by review, 2026-12-05). A
   * getter on the prototype: nothing is read per stream or per item unless someone asks.
   */
  get [Symbol.toStringTag](): string {
    try {
      return Object.prototype.toString.call(this.inner).slice(8, -1);
    } catch {
      return "Object"; // a revoked Proxy
    }
  }
}

/** For inner iterators with both `return` and `throw` (async generators, the SDKs' streams). */
class TappedGenerator<T> extends TappedIterator<T> {
  constructor(
    inner: AsyncIterator<T>,
    state: TapState<T>,
    innerNext: AsyncIterator<T>["next"],
    private readonly innerReturn: (value?: unknown) => Promise<IteratorResult<T>>,
    private readonly innerThrow: (err?: unknown) => Promise<IteratorResult<T>>,
  ) {
    super(inner, state, innerNext);
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    if (this.state.owner === this.n) this.state.end({ kind: "abandoned" });
    return this.innerReturn.call(this.inner, value);
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    if (this.state.owner === this.n) this.state.end({ kind: "error", error: err });
    return this.innerThrow.call(this.inner, err);
  }
}

type Method<T> = (this: AsyncIterator<T>, arg?: unknown) => Promise<IteratorResult<T>>;

function tapIterator<T>(inner: AsyncIterator<T>, state: TapState<T>): AsyncIterator<T> {
  const next = Reflect.get(inner, "next") as Method<T>;
  if (typeof next !== "function") return inner; // not an iterator: the app meets that itself, untapped
  const ret = Reflect.get(inner, "return") as unknown;
  const thr = Reflect.get(inner, "throw") as unknown;
  if (typeof ret === "function" && typeof thr === "function") return new TappedGenerator(inner, state, next, ret as Method<T>, thr as Method<T>);
  // Only offer return/throw when the inner iterator has them, so `for await` behaves the same.
  const tapped = new TappedIterator(inner, state, next) as TappedIterator<T> & AsyncIterator<T>;
  if (typeof ret === "function") {
    tapped.return = function (this: TappedIterator<T>, value?: unknown): Promise<IteratorResult<T>> {
      if (state.owner === tapped.n) state.end({ kind: "abandoned" });
      return (ret as Method<T>).call(inner, value);
    };
  }
  if (typeof thr === "function") {
    tapped.throw = function (this: TappedIterator<T>, err?: unknown): Promise<IteratorResult<T>> {
      if (state.owner === tapped.n) state.end({ kind: "error", error: err });
      return (thr as Method<T>).call(inner, err);
    };
  }
  return tapped;
}
