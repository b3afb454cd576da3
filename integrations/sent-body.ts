/**
 * The request bodies a Stainless-generated client (openai, @anthropic-ai/sdk) serialises, handed
 * to the calls they belong to: the OpenAI and Anthropic integrations record the prompt from the
 * JSON the SDK sent, not from the app's params. Records are built later (in a batch, in `async`
 * mode), and by then a chat app has usually pushed the answer and the next question onto the
 * same `messages` array; copying the messages at the call instead, then serialising them again
 * for the record, cost more than cutting them out of the body the SDK serialised anyway.
 *
 * How a body finds its call: the wrapper passes the SDK request options that are the app's own
 * plus one member keyed by a symbol of this module, naming the call. The SDKs copy their options
 * with object spreads from `create()` to the client's `buildBody` step (spreads copy symbol-keyed
 * members; nothing in the SDKs lists options by `Object.keys`, which would not see them), so the
 * observed `buildBody` knows exactly which call a body is for. (Until 2026-12-03 bodies were
 * matched to calls by their params object, or for Anthropic by their `messages` array: two calls
 * made at once with one `messages` array, the app pushing onto it between them, could record
 * each other's body.)
 */

type AnyFn = (this: unknown, ...a: unknown[]) => unknown;

/** A call waiting for its serialised body. */
export interface BodyWaiter {
  /** `body` is the JSON text the SDK serialised the call's params to, at each attempt (a retry serialises them again). */
  sentJson(body: string): void;
}

/**
 * The member of the request options that names the call (module-local: each copy of the package
 * observes its own). Its value is a {@link CallTag}, never the call itself: the SDKs print their
 * request options in their debug logs (`util.inspect` shows symbol-keyed members), and the call
 * leads to the logger and its keys.
 */
const kCall = Symbol("audit-logger.sent-body.call");

/** Holds a call where nothing that prints the request options can see it (a private field). */
class CallTag {
  readonly #call: BodyWaiter;

  constructor(call: BodyWaiter) {
    this.#call = call;
  }

  sent(body: string): void {
    this.#call.sentJson(body);
  }
}

/** A call whose prompt is copied from its params instead, when its body cannot reach it. */
export interface PromptCopier extends BodyWaiter {
  copyPrompt(): void;
}

/**
 * The arguments of `create(params, options, ...)` to hand the SDK for `call`, its options
 * tagged (see {@link taggedOptions}), when `sent` (the client's bodies are observed) and they
 * can be; else `args` as they are, and the call copies its prompt now.
 */
export function argsForCall<A extends unknown[]>(args: A, call: PromptCopier, sent: boolean): A {
  const tagged = sent ? taggedOptions(args[1], call) : undefined;
  if (tagged !== undefined) return [args[0], tagged, ...args.slice(2)] as A;
  call.copyPrompt();
  return args;
}

/**
 * The request options to hand the SDK for `call`: a copy of the app's `options` with the call's
 * tag, or undefined when the app's own object must go to the SDK as it is (the call's prompt is
 * then copied from its params). Only plain options are copied (an object literal's: the
 * prototype is Object's or none, every own member enumerable), as their copy reads the same to
 * the SDK: an SDK reads some options by name (Anthropic's `timeout`, `headers`), and a copy by
 * spread would lose what an object only inherits (a class's getters, `Object.create(defaults)`)
 * or holds as non-enumerable members.
 */
function taggedOptions(options: unknown, call: BodyWaiter): object | undefined {
  if (options === undefined || options === null) return { [kCall]: new CallTag(call) };
  if (typeof options !== "object") return undefined; // not options: the SDK's to reject
  try {
    const proto = Object.getPrototypeOf(options) as unknown;
    if (proto !== Object.prototype && proto !== null) return undefined;
    for (const key of Reflect.ownKeys(options)) if (!Object.prototype.propertyIsEnumerable.call(options, key)) return undefined;
    return { ...options, [kCall]: new CallTag(call) };
  } catch {
    return undefined; // a Proxy or a getter that throws: the SDK meets that itself
  }
}

/**
 * Observes `client`'s `buildBody` (the Stainless client's step that serialises a request's
 * params): each body goes to the call its request options name. False when the client has no
 * such step to observe (not a Stainless client): the calls then copy their prompt at the call.
 */
export function observeSentBodies(client: object): boolean {
  return wrapMethod(client, "buildBody", (original, self, args) => {
    const built = original.apply(self, args);
    try {
      const tag = (args[0] as { options?: { [kCall]?: unknown } } | undefined)?.options?.[kCall];
      const body = (built as { body?: unknown } | null)?.body;
      if (tag instanceof CallTag && typeof body === "string") tag.sent(body);
    } catch {
      // an unexpected shape: the prompt is then read from the params
    }
    return built;
  });
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
 * True while a `parse()` wrapped by {@link wrapParse} runs. The SDKs' `parse()` helpers (openai 6
 * and 7, @anthropic-ai/sdk) call their `create()` at once, in the same turn, and then read its
 * result, so the first wrapped `create` made while this is set is the parse's (see
 * {@link calledByParse}). A parse that some patch makes call its `create` later is named as a
 * `create`.
 */
let inParse = false;

function parseMarkingItsCreate(original: AnyFn, self: unknown, args: unknown[]): unknown {
  inParse = true;
  try {
    return Reflect.apply(original, self, args);
  } finally {
    // (also when it threw before calling create: params it could not read)
    inParse = false;
  }
}

/** Wraps `obj.parse` (where it has one, see wrapMethod) so that the `create` it calls knows it is the parse's. */
export function wrapParse(obj: object): void {
  wrapMethod(obj, "parse", parseMarkingItsCreate);
}

/** For a wrapped `create`, at its call: whether a parse called it (the first call only: it takes the mark). */
export function calledByParse(): boolean {
  if (!inParse) return false;
  inParse = false;
  return true;
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
    case "buildBody":
      return (proto) => proto.buildBody;
    default:
      return (proto) => proto[name];
  }
}
