/**
 * The request bodies a Stainless-generated client (openai, @anthropic-ai/sdk) serialises, handed
 * to the calls they belong to: the OpenAI and Anthropic integrations record the prompt from the
 * JSON the SDK sent, not from the app's params. Records are built later (in a batch, in `async`
 * mode), and by then a chat app has usually pushed the answer and the next question onto the
 * same `messages` array; copying the messages at the call instead, then serialising them again
 * for the record, cost more than cutting them out of the body the SDK serialised anyway.
 */

type AnyFn = (this: unknown, ...a: unknown[]) => unknown;

/** A call waiting for its serialised body. */
export interface BodyWaiter {
  /**
   * `body` is the JSON text the SDK serialised `params` to (its first attempt's). Returns false
   * when these params are not this call's after all (another call waiting under the same key):
   * it then keeps waiting.
   */
  sentJson(body: string, params: object): boolean;
}

/**
 * The calls of one client waiting for their bodies, by a key taken from their params (the params
 * object itself for OpenAI, whose SDK serialises it as it is; the `messages` array for
 * Anthropic, whose SDK serialises a copy of the params with the same `messages`).
 *
 * A Map, not a WeakMap: a call's entry goes when its body is serialised or, failing that, when
 * the call is recorded (`stopWaiting`), and the call holds its params until then anyway. A
 * WeakMap set and delete per call cost ~1 µs on Node 20 (runtime calls, ephemeron-table
 * rehashes; bench/share-openai.ts), a Map's a fraction of that.
 */
export class SentBodies<W extends BodyWaiter> {
  private readonly calls = new Map<object, W[]>();

  wait(key: object, call: W): void {
    const waiting = this.calls.get(key);
    if (waiting) waiting.push(call);
    else this.calls.set(key, [call]);
  }

  /** Recorded without its body serialised (it failed before, say): its entry goes. */
  stopWaiting(key: object, call: W): void {
    const waiting = this.calls.get(key);
    if (!waiting) return;
    const i = waiting.indexOf(call);
    if (i >= 0) waiting.splice(i, 1);
    if (waiting.length === 0) this.calls.delete(key);
  }

  /** The SDK serialised `params` (found under `key`) to `body`: every call waiting for it gets it. */
  serialised(key: object, params: object, body: string): void {
    const waiting = this.calls.get(key);
    if (!waiting) return;
    let kept: W[] | undefined;
    // (calls sharing one params object at the same time serialise the same object within microseconds)
    for (const call of waiting) if (!call.sentJson(body, params)) (kept ??= []).push(call);
    if (kept) this.calls.set(key, kept);
    else this.calls.delete(key);
  }

  /** How many keys have calls waiting (for tests: nothing may stay behind). */
  get size(): number {
    return this.calls.size;
  }
}

/**
 * Observes `client`'s `buildBody` (the Stainless client's step that serialises a request's
 * params): each body goes to the calls waiting under `keyOf(params)`. Undefined when the client
 * has no such step to observe (not a Stainless client): the calls then copy their prompt at the
 * call.
 */
export function observeSentBodies<W extends BodyWaiter>(client: object, keyOf: (params: object) => unknown): SentBodies<W> | undefined {
  const sent = new SentBodies<W>();
  // A retry serialises the same params again: it must not hand its body to another call that
  // shares the params object and has not serialised yet. buildRequest (which calls buildBody
  // before its first await) says which attempt this is.
  let retrying = false;
  wrapMethod(client, "buildRequest", (original, self, args) => {
    const retryCount = (args[1] as { retryCount?: unknown } | undefined)?.retryCount;
    retrying = typeof retryCount === "number" && retryCount > 0;
    try {
      return original.apply(self, args);
    } finally {
      retrying = false;
    }
  });
  const observed = wrapMethod(client, "buildBody", (original, self, args) => {
    const built = original.apply(self, args);
    if (retrying) return built;
    try {
      const params = (args[0] as { options?: { body?: unknown } } | undefined)?.options?.body;
      const body = (built as { body?: unknown } | null)?.body;
      if (typeof params === "object" && params !== null && typeof body === "string") {
        const key = keyOf(params);
        if (typeof key === "object" && key !== null) sent.serialised(key, params, body);
      }
    } catch {
      // an unexpected shape: the prompt is then read from the params
    }
    return built;
  });
  return observed ? sent : undefined;
}

/**
 * Puts an own, non-enumerable `name` on `obj` (same name and length) that runs `around` with the
 * original method: an own one (someone else's wrapper) is kept; otherwise the prototype's is
 * looked up at each call, so instrumentations that patch the class later still run. False when
 * there is no such method or it cannot be replaced.
 */
export function wrapMethod(obj: object, name: string, around: (original: AnyFn, self: unknown, args: unknown[]) => unknown): boolean {
  const own = Object.hasOwn(obj, name) ? (obj as Record<string, unknown>)[name] : undefined;
  const proto = Object.getPrototypeOf(obj) as Record<string, unknown> | null;
  const first = own ?? proto?.[name];
  if (typeof first !== "function") return false;
  const read = own === undefined && proto !== null ? methodReader(name) : undefined;
  const wrapped = {
    [name](this: unknown, ...args: unknown[]): unknown {
      const original = (own ?? (read ? read(proto!) : undefined)) as AnyFn | undefined;
      if (typeof original !== "function") throw new TypeError(`audit-logger: the client has no ${name}() to call`);
      return around(original, this, args);
    },
  }[name]!;
  try {
    Object.defineProperty(wrapped, "length", { value: (first as AnyFn).length });
    Object.defineProperty(obj, name, { value: wrapped, configurable: true, writable: true, enumerable: false });
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads `proto[name]` from a load site of its own for each method wrapped on every call: the
 * wrappers share one function's code, where a keyed load of a different name per wrapper is
 * megamorphic (a stub-cache probe, ~0.2 µs each on the app's cold caches; bench/share-openai.ts).
 */
function methodReader(name: string): (proto: Record<string, unknown>) => unknown {
  switch (name) {
    case "create":
      return (proto) => proto.create;
    case "buildRequest":
      return (proto) => proto.buildRequest;
    case "buildBody":
      return (proto) => proto.buildBody;
    default:
      return (proto) => proto[name];
  }
}
