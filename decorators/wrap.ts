/**
 * The one method wrapper behind every audit decorator. It works as a TC39 standard decorator
 * (`(value, context)`) and as a legacy `experimentalDecorators` one (`(target, key, descriptor)`),
 * told apart by its arguments. The wrapper looks the logger up at call time; with none it only
 * forwards the call. Otherwise it gives the call a record id up front, runs the method inside an
 * audit context whose `parentId` is that id (so nested instrumented calls link to it), and
 * records once the call returns, throws, settles, or - for generators - finishes or is abandoned.
 */
import { Stream } from "node:stream";
import { types } from "node:util";
import { z } from "zod";
import { auditStorage, currentContext, isLoggerLike, kLearnedUser, ownContext, runInAuditContext, userOfCall } from "../src/context.js";
import { trackResult, untrackResult } from "../src/dropped.js";
import { AuditConfigError } from "../src/errors.js";
import { isError, isInstance, isNativePromise, keepAddedMembers, readMember, reportRecordFailure, resolveAuditLogger, safeRecord, textOf, UNREADABLE_ERROR, warnLoggerOptionThrew } from "../src/instrument.js";
import type { AuditLogger } from "../src/logger.js";
import { newId } from "../src/record/id.js";
import { thrownObjectMessage } from "../src/thrown-message.js";
import { toFieldIssues } from "../src/record/issues.js";
import { NO_ARGS, argsAsCalled, copyOf } from "./copy.js";
import { GeneratorRemains, contextRemains, keptForRemains } from "./remains.js";
import type { AuditContextValue, RecordLinkInput } from "../src/types.js";

/**
 * Options every audit decorator accepts.
 *
 * @example
 * @AuditTool("crm_lookup", { captureArgs: ([id]) => ({ id }), captureResult: false })
 * async findCustomer(id: string, token: string) {}
 */
export interface AuditDecoratorOptions {
  /**
   * The logger to record to, or a function of `this` returning one (e.g.
   * `(self) => (self as OrderService).audit`: options are written before the decorator knows its
   * class, so `self` is `unknown`).
   * Looked up at each call; without it the active context's logger, then the default logger.
   */
  logger?: AuditLogger | ((self: unknown) => AuditLogger | undefined) | undefined;
  /** `false` records no arguments; a function turns the argument list into what is recorded. */
  captureArgs?: (boolean | ((args: readonly unknown[]) => unknown)) | undefined;
  /** `false` records no return value; a function turns the return value into what is recorded. */
  captureResult?: (boolean | ((result: unknown) => unknown)) | undefined;
  /** the method name to record instead of the real one */
  name?: string | undefined;
}

/**
 * A decorator usable both ways: as a TC39 standard method decorator and as a legacy
 * (`experimentalDecorators`) one, as NestJS uses.
 *
 * @example
 * class Svc { @AuditTool("search") search(q: string) { return [] } }
 */
export interface AuditMethodDecorator {
  /** TC39 standard decorators (TypeScript 5+, no flag) */
  <This, Method extends (this: This, ...args: never[]) => unknown>(value: Method, context: ClassMethodDecoratorContext<This>): Method;
  /** legacy `experimentalDecorators` (NestJS, Angular, TypeORM) */
  <T>(target: object, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<T>): TypedPropertyDescriptor<T>;
}

/** How a call ended. */
export type CallOutcome =
  | { readonly status: "ok"; readonly value: unknown }
  | { readonly status: "error"; readonly error: unknown }
  /** a generator whose consumer stopped early (`break`, `return()`) */
  | { readonly status: "aborted" }
  /** a generator dropped unfinished without `return()` (recorded when garbage-collected) */
  | { readonly status: "abandoned" };

/** What a generator yielded before it finished. */
export interface YieldedItems {
  count: number;
  /** seconds from the call to the first yielded item */
  firstItemSeconds: number | undefined;
  /** the items themselves, when the decorator asked for them (capped at MAX_COLLECTED_ITEMS) */
  items: unknown[] | undefined;
  /** seconds from the call to each of `items` (@AuditChat's time to first token: the first that carries output) */
  times?: number[];
}

/** One finished call, as handed to a decorator's `record` step. */
export interface FinishedCall {
  /** the record id chosen before the call (undefined for decorators that do not link children) */
  readonly id: string | undefined;
  readonly traceId: string | undefined;
  readonly parentId: string | undefined;
  readonly userId: string | undefined;
  /**
   * the arguments as they were when the method was called (plain data copied then, see
   * `argsAsCalled`; empty unless the decorator reads them)
   */
  readonly args: readonly unknown[];
  /** the method's name (or the `name` option) */
  readonly method: string;
  /** `Class.method`, the class found from `this` at call time */
  readonly qualifiedName: string;
  /** when the call started (a `performance.now()` reading) */
  readonly startedAt: number;
  /** the audit context the call was made in */
  readonly outer: AuditContextValue | undefined;
  readonly durationSeconds: number;
  readonly outcome: CallOutcome;
  /** set for generator and async generator methods */
  readonly yielded: YieldedItems | undefined;
  /**
   * what the method returned (or its promise gave), when it is work the caller runs later and the
   * decorator never observes (a thenable that is no promise, an Observable, an async iterable
   * that is no generator: an SDK stream), described ("a QueryBuilder (thenable)"); its members are
   * no result to write
   */
  readonly unobserved: string | undefined;
  /**
   * The innermost call of a decorator stacked below this one on the same method that gives its
   * calls a record id (`@AuditTool` under `@AuditErrors`): the record of the same call, which an
   * error record links to (see StackShared)
   */
  readonly linkedBelow: { readonly id: string; readonly traceId: string | undefined } | undefined;
}

/** What each decorator plugs into the shared wrapper. */
export interface MethodAuditSpec {
  /** e.g. "@AuditTool", for error messages */
  readonly decorator: string;
  readonly options: AuditDecoratorOptions;
  /** give the call an id and run it in a context whose parentId is that id */
  readonly linkChildren: boolean;
  /** extra context fields for the method body (e.g. persona) */
  readonly contextPatch?: Omit<AuditContextValue, "parentId" | "traceId" | "logger">;
  /** keep generator items for `record` (chat responses streamed as chunks) */
  readonly collectItems?: boolean;
  /** `record` reads the arguments: they are copied when the call starts (see `argsAsCalled`) */
  readonly readsArgs?: boolean;
  /** `record` writes nothing for a call that did not fail: a generator dropped unfinished is not tracked for it */
  readonly errorsOnly?: boolean;
  /** writes the record; runs inside safeRecord, so it may throw */
  record(logger: AuditLogger, call: FinishedCall): void;
}

/** `errorMessage` of a generator call whose consumer stopped before it finished (`break`, `return()`). */
export const ABORTED_MESSAGE = "aborted: the consumer stopped iterating before the generator finished";

/** `errorMessage` of a generator call dropped unfinished, without `return()` (recorded when collected). */
export const ABANDONED_MESSAGE = "abandoned: the consumer dropped the generator unfinished, without return(); recorded when it was garbage-collected";

/** The `errorMessage` of a call that did not end in a value, or undefined for one that did. */
export function failureMessageOf(outcome: CallOutcome): string | undefined {
  switch (outcome.status) {
    case "ok":
      return undefined;
    case "error":
      return errorMessageOf(outcome.error);
    case "aborted":
      return ABORTED_MESSAGE;
    case "abandoned":
      return ABANDONED_MESSAGE;
  }
}

/** Items kept per generator call when `collectItems` is set. */
export const MAX_COLLECTED_ITEMS = 100_000;
/** no argument copy holds anything of the app's (see trackUntilCollected) */
const NO_KEPT: readonly number[] = Object.freeze([]);

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
/** "async": an `async` method, whose promise is new at every call (see settleLater) */
type FunctionKind = "function" | "async" | "generator" | "asyncGenerator";

function isGeneratorKind(kind: FunctionKind): kind is "generator" | "asyncGenerator" {
  return kind === "generator" || kind === "asyncGenerator";
}

const fnLike = z.custom<(...a: never[]) => unknown>((v) => typeof v === "function", "must be a function");

/** The zod schema of {@link AuditDecoratorOptions}; decorators extend it with their own fields. */
export const decoratorOptionsShape = {
  logger: z
    .custom<AuditDecoratorOptions["logger"]>(
      (v) => typeof v === "function" || (typeof v === "object" && v !== null && typeof (v as AuditLogger).logToolUsage === "function"),
      "must be an AuditLogger, or a function of `this` returning one",
    )
    .optional(),
  captureArgs: z.union([z.boolean(), fnLike], { error: "must be true, false or a function of the argument list" }).optional(),
  captureResult: z.union([z.boolean(), fnLike], { error: "must be true, false or a function of the return value" }).optional(),
  name: z.string().min(1, "must be a non-empty string").max(256, "must be at most 256 characters").optional(),
};

/**
 * Validates a decorator's arguments once, when the class is defined; a mistake throws
 * `AuditConfigError` naming every bad field (prefixed with the decorator, e.g. `@AuditTool.name`).
 */
export function parseDecoratorInput<S extends z.ZodType>(decorator: string, schema: S, input: unknown): z.output<S> {
  // (the logger given where the options go, `@AuditTool("x", logger)`: the options check listed
  // each of the logger's members as an unknown option, some 78 lines; found by a new-user run,
  // 2026-12-06)
  if (isLoggerLike((input as { options?: unknown } | null)?.options)) {
    throw new AuditConfigError([{ field: `${decorator}.options`, message: "got an AuditLogger where the options go: pass it as the logger option, { logger }" }]);
  }
  const r = schema.safeParse(input);
  if (!r.success) throw new AuditConfigError(toFieldIssues(r.error, decorator, schema));
  return r.data;
}

/** What a capture option makes of a value: undefined when capturing is off. Runs inside safeRecord. */
export function captured(option: boolean | ((v: never) => unknown) | undefined, value: unknown): { value: unknown } | undefined {
  if (option === false) return undefined;
  if (typeof option === "function") return { value: (option as (v: unknown) => unknown)(value) };
  return { value };
}

/** What a record notes of the capture options and extractors that threw (see noteCaptureFailure). */
export type CaptureNotes = Record<string, string>;

const NOTE_KEYS: Record<string, string> = { captureArgs: "argumentsError", captureResult: "resultError", prompt: "promptError", response: "responseError", usage: "usageError" };

/**
 * A capture option or extractor (`option`, named `label`) threw: the record is made without what
 * it captures, rather than lost, and says so in `notes` (`argumentsError: "captureArgs threw:
 * …"`, as @AuditErrors' `argumentsError`); the failure is reported as every failure to record
 * is (an `error` event on the logger, else a warning).
 */
export function noteCaptureFailure(logger: AuditLogger, notes: CaptureNotes, label: string, error: unknown): undefined {
  notes[NOTE_KEYS[label] ?? `${label}Error`] = `${label} threw: ${errorMessageOf(error)}`;
  // (the warning says the call was recorded: "could not record a call" sent operators looking
  // for a record that was there)
  reportRecordFailure(logger, error, `recorded a call without what its ${label} option gives (it threw)`);
  return undefined;
}

/** Whether `v` is a Node stream: a request (NestJS's `@Req()`, Express's `req`), a response, a socket, a file stream. */
export function isNodeStream(v: unknown): boolean {
  return typeof v === "object" && v !== null && isInstance(v, Stream);
}

/**
 * The argument list as a record writes it when no `captureArgs` function says otherwise: a Node
 * stream among them, a request above all, as "[Not kept: an IncomingMessage (a stream)]". Its
 * members are no argument: a NestJS `@Req()` was written with its socket, its server and its
 * headers, the Authorization and Cookie tokens included, some 12 KB a call (found by the
 * decorators new-user pass, 2026-12-05). A `captureArgs` function still gets the request.
 */
export function argsForRecord(args: readonly unknown[]): readonly unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!isNodeStream(a)) continue;
    out ??= args.slice();
    const c = (readMember(a, "constructor") as { name?: unknown } | undefined)?.name;
    const name = typeof c === "string" && c !== "" ? c : "object";
    out[i] = `[Not kept: ${/^[aeiou]/i.test(name) ? "an" : "a"} ${name} (a stream)]`;
  }
  return out ?? args;
}

/** {@link captured}, with a capture function that throws noted (see noteCaptureFailure): undefined then. */
export function capturedOrNoted(logger: AuditLogger, notes: CaptureNotes, label: "captureArgs" | "captureResult", option: boolean | ((v: never) => unknown) | undefined, value: unknown): { value: unknown } | undefined {
  if (typeof option !== "function") return captured(option, value);
  try {
    return { value: (option as (v: unknown) => unknown)(value) };
  } catch (error) {
    return noteCaptureFailure(logger, notes, label, error);
  }
}

/** Whether any failure was noted. */
export function hasNotes(notes: CaptureNotes): boolean {
  for (const _ in notes) return true;
  return false;
}

/** Puts the call's id, trace, parent and user on a log input (only those that are set). */
export function withLinks<T extends RecordLinkInput>(input: T, call: FinishedCall): T {
  if (call.id !== undefined) input.id = call.id;
  if (call.traceId !== undefined) input.traceId = call.traceId;
  if (call.parentId !== undefined) input.parentId = call.parentId;
  if (call.userId !== undefined) input.userId = call.userId;
  return input;
}

/** A message for anything thrown: an Error's message, else its string form. */
export function errorMessageOf(error: unknown): string {
  try {
    if (isError(error)) {
      let message: unknown;
      try {
        message = error.message;
      } catch {
        // (an Error whose `message` getter throws is still an error, not a "non-error value")
        return UNREADABLE_ERROR;
      }
      if (message) return textOf(message);
      const name: unknown = error.name;
      return name ? textOf(name) : "Error";
    }
    // (its message, else its own toString(), else its class and JSON: see thrownObjectMessage)
    if (typeof error === "object" && error !== null) return thrownObjectMessage(error);
    return String(error);
  } catch {
    // a null-prototype object, a revoked Proxy (on which even `instanceof` throws), a throwing getter
    return "non-error value thrown";
  }
}

/** Builds the decorator for `spec`: one function that handles both decorator modes. */
export function auditMethodDecorator(spec: MethodAuditSpec): AuditMethodDecorator {
  function decorate(...a: unknown[]): unknown {
    const [first, second, third] = a;
    if (a.length === 2 && typeof second === "object" && second !== null && "kind" in second) {
      const context = second as { kind: string; name: string | symbol | number };
      if (context.kind !== "method" || typeof first !== "function") {
        throw misuse(spec.decorator, notAMethod(spec.decorator, context.kind === "class" ? undefined : nameOf(context.name), context.kind));
      }
      return wrapMethod(first as AnyFunction, nameOf(context.name), spec);
    }
    // (a numeric key, `404() {}`, comes as a number from tsc's __decorate and from esbuild)
    if (a.length === 3 && (typeof second === "string" || typeof second === "symbol" || typeof second === "number")) {
      const descriptor = third as PropertyDescriptor | undefined;
      if (!descriptor || typeof descriptor.value !== "function") {
        // (a method a decorator applied before this one made an accessor, as legacy @autobind
        // decorators do, comes as a getter: said, with the way out)
        const accessor = descriptor !== undefined && (typeof descriptor.get === "function" || typeof descriptor.set === "function");
        throw misuse(
          spec.decorator,
          accessor
            ? `it decorates methods only; ${String(second)} is an accessor (a getter or setter, or a method a decorator below this one turned into a getter, as @autobind-style decorators do: write ${spec.decorator} below that one)`
            : // (tsc gives a field no descriptor, Babel one with an `initializer`)
              notAMethod(spec.decorator, String(second), "field"),
        );
      }
      descriptor.value = wrapMethod(descriptor.value as AnyFunction, nameOf(second), spec);
      return descriptor;
    }
    throw misuse(spec.decorator, "it must be applied to a class method, as @Decorator(...) above the method");
  }
  return decorate as AuditMethodDecorator;
}

/**
 * For decorator factories of one argument (`@AuditChat()`, `@AuditErrors()`): written without
 * the parentheses they are applied as decorators themselves, with the method's target, name and
 * descriptor (legacy) or the method and its context (standard). In legacy mode the class
 * prototype then passed as the options object, and the method was silently left undecorated
 * (found by review, 2026-12-03).
 */
export function assertCalledAsFactory(decorator: string, argumentCount: number): void {
  if (argumentCount > 1) throw misuse(decorator, `is a decorator factory: write ${decorator}() with parentheses (it was applied as a decorator itself)`);
}

/**
 * For decorator factories whose first argument is a name (`@AuditTool("search")`,
 * `@AuditPerformance(…)`, `@AuditPersona(…)`): written without their arguments and parentheses,
 * they get the method (standard) or the class prototype (legacy) as that name; said plainly (the
 * schema listed the decorator context's members as unknown options).
 */
export function assertNamedFactory(decorator: string, first: unknown): void {
  if (typeof first === "function" || (typeof first === "object" && first !== null)) {
    throw misuse(decorator, `is a decorator factory: write ${decorator}(…) with its arguments and parentheses (it was applied as a decorator itself)`);
  }
}

/**
 * What a decorator applied to no method says: which member it was, what it is, and the way out.
 * (It said "not a accessor", and in standard mode named no member; found by the decorators
 * fresh-eyes pass, 2026-12-05.)
 */
function notAMethod(decorator: string, member: string | undefined, kind: string): string {
  if (member === undefined) return `it decorates methods only, not a ${kind}: put ${decorator} above a method of the class`;
  const what = kind === "getter" || kind === "setter" ? `a ${kind}` : kind === "accessor" ? "an `accessor` field" : kind === "field" ? "a field" : `a ${kind}`;
  const fix =
    kind === "field" || kind === "accessor"
      ? `: a function kept in a field (\`${member} = () => …\`, for a bound callback) is no method; write it as a method (\`${member}() { … }\`), and bind it where it is passed`
      : kind === "getter" || kind === "setter"
        ? ": decorate the method the accessor calls"
        : "";
  return `it decorates methods only; ${member} is ${what}${fix}`;
}

function misuse(decorator: string, message: string): AuditConfigError {
  return new AuditConfigError([{ field: decorator, message }]);
}

function nameOf(key: string | symbol | number): string {
  return typeof key === "symbol" ? (key.description ?? "symbol") : String(key);
}

function kindOf(fn: AnyFunction): FunctionKind {
  const tag = Object.prototype.toString.call(fn);
  if (tag === "[object GeneratorFunction]") return "generator";
  if (tag === "[object AsyncGeneratorFunction]") return "asyncGenerator";
  if (tag === "[object AsyncFunction]") return "async";
  return "function";
}

/**
 * "asyncGenerator" or "generator" for what a plain method returned that is a generator object:
 * a native one, or one a compiler's helper made: tsc's `__asyncGenerator`/`__generator` (a plain
 * object, or one on `AsyncIterator`/`Iterator.prototype`, with only `next`, `throw` and `return`
 * of its own besides the iterator method), Babel's `AsyncGenerator` class, regenerator's
 * objects (tagged "Generator"). Only their shapes are looked at, nothing is called. Any other
 * iterator-shaped object (a pushable queue with `push()`, a cursor class whose methods return
 * `this`, an SDK stream, a Node Readable) is no generator: returned as it is and recorded at
 * return (re-review, 2026-12-04: one rule for every object with next/return/throw handed them
 * back wrapped, their other members and class lost).
 */
function generatorKindOf(out: unknown): "generator" | "asyncGenerator" | undefined {
  if (typeof out !== "object" || out === null) return undefined;
  if (types.isGeneratorObject(out)) return Object.prototype.toString.call(out) === "[object AsyncGenerator]" ? "asyncGenerator" : "generator";
  try {
    const o = out as Record<PropertyKey, unknown>;
    if (typeof o.next !== "function" || typeof o.return !== "function" || typeof o.throw !== "function") return undefined;
    const kind = typeof o[Symbol.asyncIterator] === "function" ? "asyncGenerator" : typeof o[Symbol.iterator] === "function" ? "generator" : undefined;
    if (kind === undefined) return undefined;
    const tag = Object.prototype.toString.call(out);
    if (tag === "[object Generator]" || tag === "[object AsyncGenerator]") return kind; // regenerator
    const proto: unknown = Object.getPrototypeOf(out);
    const ctorName = (proto as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    if (ctorName === "AsyncGenerator" || ctorName === "_AsyncGenerator") return kind; // Babel
    if (proto === Object.prototype || (proto !== null && HELPER_PROTOS.includes(proto))) {
      // tsc's helpers: nothing of their own beyond the three methods and the iterator method
      for (const key of Reflect.ownKeys(out)) {
        if (key !== "next" && key !== "throw" && key !== "return" && key !== Symbol.asyncIterator && key !== Symbol.iterator) return undefined;
      }
      return kind;
    }
  } catch {
    // a revoked Proxy, a throwing getter: no generator of ours to observe
  }
  return undefined;
}

/** `Iterator.prototype` and `AsyncIterator.prototype` where the runtime has them (tsc's helpers build on them then). */
const HELPER_PROTOS: readonly unknown[] = [(globalThis as { Iterator?: { prototype?: unknown } }).Iterator?.prototype, (globalThis as { AsyncIterator?: { prototype?: unknown } }).AsyncIterator?.prototype].filter(
  (p) => typeof p === "object" && p !== null,
);

/** The positions of the arguments that are objects (a copy of one may hold something of the app's). */
function objectPositions(args: readonly unknown[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if ((typeof a === "object" && a !== null) || typeof a === "function") out.push(i);
  }
  return out;
}

/**
 * What the wrappers of every copy of the package in the process share (through a `Symbol.for`
 * global, as the audit context is: src/context.ts), so that decorators of two copies stacked on
 * one method (a library's copy below, the app's above) link as those of one copy do:
 * - `wrappers`: the wrappers made: a method whose original is one has decorators stacked on it;
 * - `above`: the call of the wrapper stacked right above the one being entered, handed over as
 *   the upper wrapper calls the lower one (nothing runs between): so the lower call can tell the
 *   upper one its record id (see Call.below, linkedBelow). Taken (and cleared) first thing by
 *   every wrapper, so it never reaches a call made from a method's body. A call of another copy
 *   is read only for its `id`, `traceId` and `below` (see linkedBelow).
 * Each copy had its own until 2026-12-05, and the error record of one copy's @AuditErrors above
 * the other's @AuditTool was not the tool call's child (found by the leftovers pass). The version
 * in the key changes whenever what is shared, or Call's members read across copies, do.
 */
interface StackShared {
  readonly wrappers: WeakSet<object>;
  above: Call | undefined;
}
const kStackShared = Symbol.for("audit-logger.decorators.stacked.v1");
const stacking: StackShared = ((globalThis as unknown as Record<symbol, StackShared | undefined>)[kStackShared] ??= { wrappers: new WeakSet(), above: undefined });
const wrappers = stacking.wrappers;

function wrapMethod(original: AnyFunction, methodName: string, spec: MethodAuditSpec): AnyFunction {
  const kind = kindOf(original);
  const name = spec.options.name ?? methodName;
  const option = spec.options.logger;
  // another audit decorator below this one on the same method (see StackShared)
  const stacked = wrappers.has(original);
  // a method shorthand, so that like the original it cannot be called with `new`
  const { wrapper } = {
    wrapper(this: unknown, ...args: unknown[]): unknown {
      const above = stacking.above;
      stacking.above = undefined;
      const logger = resolveAuditLogger(typeof option === "function" ? loggerFrom(option, this) : option);
      // no logger: nothing is measured, no context is entered (a call above still learns of one below)
      if (logger === undefined) {
        if (stacked) stacking.above = above;
        return Reflect.apply(original, this, args);
      }
      const call = begin(spec, kind, logger, this, args, name);
      // (our own failure before the call, reported: the method runs unrecorded)
      if (call === undefined) {
        if (stacked) stacking.above = above;
        return Reflect.apply(original, this, args);
      }
      if (above !== undefined) above.below = call;
      if (stacked) stacking.above = call;
      // The method is called from here, in its context entered directly, so that each decorated
      // level adds two frames to an error's stack (this one and AsyncLocalStorage.run), not four
      // more (a closure, runWithOwnValue and invoke pushed the app's own frames past V8's
      // default limit of 10 three levels deep; found by review, 2026-12-04).
      let out: unknown;
      try {
        out = call.inner === undefined ? Reflect.apply(original, this, args) : auditStorage.run(call.inner, Reflect.apply, original, this, args);
      } catch (error) {
        call.finish({ status: "error", error });
        throw error;
      }
      return returned(call, kind, out, args);
    },
  };
  preserveIdentity(wrapper, original);
  wrappers.add(wrapper);
  return wrapper;
}

function loggerFrom(option: (self: unknown) => AuditLogger | undefined, self: unknown): AuditLogger | undefined {
  try {
    return option(self);
  } catch (err) {
    // a broken logger getter must not break the call; it is named in a warning
    warnLoggerOptionThrew(err);
    return undefined;
  }
}

/** Per-call state from the call to the record. */
class Call implements FinishedCall {
  id: string | undefined = undefined;
  traceId: string | undefined = undefined;
  parentId: string | undefined = undefined;
  durationSeconds = 0;
  outcome: CallOutcome = { status: "aborted" };
  yielded: YieldedItems | undefined = undefined;
  /** the context the method body runs in (re-entered for each generator step) */
  inner: AuditContextValue | undefined = undefined;
  /** the context the call was made in, and its user then */
  outer: AuditContextValue | undefined = undefined;
  private userAtCall: string | undefined = undefined;
  /** the user the call was made by: the caller's, or the one its lookup learned at the call (see userOfCall) */
  private callUser: string | undefined = undefined;
  private done = false;
  readonly startedAt = performance.now();
  /** a generator call's record data for the garbage collector (see decorators/remains.ts) */
  remains: GeneratorRemains | undefined = undefined;
  /**
   * (read only by the decorators that write a result: nothing of the value is read otherwise; a
   * generator's return value is not looked at)
   */
  get unobserved(): string | undefined {
    return this.outcome.status === "ok" && this.yielded === undefined ? unobservedWork(this.outcome.value) : undefined;
  }
  /** which of a generator call's argument copies hold something of the app's (see trackUntilCollected) */
  copies: { kept: number[] } | undefined = undefined;
  /** an async generator call's generator was started (its first `next()`) */
  started = false;
  /** the call of the decorator stacked right below this one on the same method (see StackShared) */
  below: Call | undefined = undefined;

  get linkedBelow(): { readonly id: string; readonly traceId: string | undefined } | undefined {
    let found: Call | undefined;
    for (let c = this.below; c !== undefined; c = c.below) if (c.id !== undefined) found = c;
    return found === undefined ? undefined : { id: found.id as string, traceId: found.traceId };
  }

  constructor(
    readonly spec: MethodAuditSpec,
    readonly logger: AuditLogger,
    readonly thisArg: unknown,
    readonly args: readonly unknown[],
    readonly method: string,
  ) {}

  /**
   * The user the record names: one the method set in its own context (auditContext.setUser),
   * else the user at the call. Not the caller's user at the end: in an Express request whose user
   * the middleware's lookup gives, a switch of user while the call ran named the next user (the
   * record was made in the caller's context), and a dropped generator named none (found by
   * review, 2026-12-04).
   */
  get userId(): string | undefined {
    const own = this.inner?.userId;
    return own !== undefined && own !== this.userAtCall ? own : (this.callUser ?? own);
  }

  get qualifiedName(): string {
    let owner: unknown;
    try {
      const t = this.thisArg;
      owner = typeof t === "function" ? t.name : typeof t === "object" && t !== null ? (t.constructor as { name?: unknown } | undefined)?.name : undefined;
    } catch {
      // (a Proxy `this` whose traps throw, a revoked one: the method's name alone)
    }
    return typeof owner === "string" && owner !== "" && owner !== "Object" ? `${owner}.${this.method}` : this.method;
  }

  get seconds(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  /**
   * Records the call as abandoned if `generator` (what the caller got) is collected unfinished,
   * from what is left of it (see decorators/remains.ts): the registration holds that, never the
   * call itself, which leads to `this`, the arguments and the contexts as they are. `kept`: the
   * arguments whose copies hold something of the app's (their snapshots are kept instead).
   */
  trackUntilCollected(generator: object, kept: readonly number[]): void {
    if (this.spec.errorsOnly === true) return;
    const outer = contextRemains(this.outer);
    const args = kept.length === 0 ? this.args : this.args.map((a, i) => keptForRemains(a, !kept.includes(i)));
    const remains = new GeneratorRemains(this.spec, this.logger, this.id, this.traceId, this.parentId, args, this.method, this.qualifiedName, this.startedAt, outer);
    remains.userId = this.userId;
    this.remains = remains;
    trackResult(remains, generator);
  }

  /** Stops tracking the call for the garbage collector: it finished. */
  private untrack(): void {
    if (this.remains !== undefined) {
      untrackResult(this.remains);
      this.remains = undefined;
    }
  }

  /** A generator step returned. */
  stepped(): void {
    const r = this.remains;
    if (r !== undefined) {
      r.lastStepAt = performance.now();
      r.userId = this.userId;
    }
  }

  /** The consumer asked the generator to return. */
  closing(): void {
    if (this.remains !== undefined) this.remains.closing = true;
  }

  /** Runs one step of the method body in its context. */
  step<R>(fn: () => R): R {
    return this.inner ? runInAuditContext(this.inner, fn) : fn();
  }

  item(value: unknown): void {
    const y = (this.yielded ??= { count: 0, firstItemSeconds: undefined, items: this.spec.collectItems ? [] : undefined });
    if (y.count++ === 0) y.firstItemSeconds = this.seconds;
    const remains = this.remains;
    remains?.counted(y.firstItemSeconds);
    // copied as it is yielded (plain data): the consumer may change an item before the record is
    // made at the generator's end
    if (y.items && y.items.length < MAX_COLLECTED_ITEMS) {
      // (an item that throws when read, a getter, a revoked Proxy, is left out of what the
      // record assembles, whose extractors would throw on it; `count` has it)
      const c = copyOf(value);
      if (!c.unreadable) {
        y.items.push(c.copy);
        const at = y.count === 1 ? (y.firstItemSeconds as number) : this.seconds;
        (y.times ??= []).push(at);
        if (remains !== undefined) {
          try {
            remains.addItem(keptForRemains(c.copy, c.fresh), at);
          } catch (error) {
            // our own failure, never the consumer's: the call is recorded when it finishes
            this.untrack();
            reportRecordFailure(this.logger, error);
          }
        }
      }
    }
  }

  /** Notes the context the call is made in (see `finish`). */
  calledIn(outer: AuditContextValue | undefined): void {
    this.outer = outer;
    this.userAtCall = outer?.userId;
    this.callUser = userOfCall(outer);
  }

  finish(outcome: CallOutcome): void {
    if (this.done) return;
    this.done = true;
    this.untrack();
    this.durationSeconds = this.seconds;
    this.outcome = outcome;
    // A user the method set (auditContext.setUser, after authentication, say) is set where the
    // call was made too, as without the decorator, whose context the method ran in: when it
    // returns, or settles.
    const user = this.inner?.userId;
    const outer = this.outer;
    if (outer !== undefined && user !== undefined && user !== this.userAtCall) {
      // Unless the caller changed its own user meanwhile; a user the request's lookup wrote there
      // during the call (see kLearnedUser) is no such change.
      const outerUser = outer.userId;
      if (outerUser === this.userAtCall || (this.userAtCall === undefined && outerUser === (outer as { [kLearnedUser]?: string })[kLearnedUser])) {
        try {
          (outer as { userId?: string }).userId = user;
        } catch {
          // a frozen context (another copy of the package's): left as it is
        }
      }
    }
    // made in the caller's context (a generator is finished in its consumer's): the logger
    // fills what a record lacks (persona, metadata) from the context it runs in
    if (currentContext() === this.outer) safeRecord(this.logger, () => this.spec.record(this.logger, this));
    else runInAuditContext(this.outer, () => safeRecord(this.logger, () => this.spec.record(this.logger, this)));
  }
}

/**
 * The call's record state, made before the method runs: its id, the context it was made in, and
 * the context the method runs in (`inner`, when it links children), or undefined when making
 * them failed (reported).
 */
function begin(spec: MethodAuditSpec, kind: FunctionKind, logger: AuditLogger, thisArg: unknown, args: unknown[], name: string): Call | undefined {
  try {
    // which of a generator call's argument copies hold something of the app's (see trackUntilCollected)
    const copies = isGeneratorKind(kind) && spec.readsArgs ? { kept: [] } : undefined;
    const call = new Call(spec, logger, thisArg, spec.readsArgs ? argsAsCalled(args, copies) : NO_ARGS, name);
    call.copies = copies;
    if (isGeneratorKind(kind)) call.yielded = { count: 0, firstItemSeconds: undefined, items: spec.collectItems ? [] : undefined };
    const caller = currentContext();
    call.calledIn(caller);
    if (spec.linkChildren) {
      const id = newId();
      // a call outside any trace starts one, named by its own record id
      const traceId = caller?.traceId ?? id;
      call.id = id;
      call.traceId = traceId;
      call.parentId = caller?.parentId;
      // Object.assign, not a spread: a spread plus members costs ~1 µs per call on V8
      call.inner = ownContext(spec.contextPatch ? Object.assign({}, spec.contextPatch, { parentId: id, traceId }) : { parentId: id, traceId });
    }
    return call;
  } catch (setupError) {
    safeRecord(logger, () => {
      throw setupError;
    });
    return undefined;
  }
}

/** What the caller gets of what the method returned: the value itself, or a generator or promise observed until it ends. */
function returned(call: Call, kind: FunctionKind, out: unknown, args: readonly unknown[]): unknown {
  const spec = call.spec;
  const logger = call.logger;
  let copies = call.copies;
  // A plain method may return a generator object: an `async *` method compiled below ES2018
  // (tsc, Babel) is a plain function returning a helper's async generator, a `*` one compiled by
  // regenerator likewise. Recorded as a generator method is, when its consumer is done with it
  // (recorded at return, it was a success whatever the stream did later; found by review).
  const lowered = kind === "function" ? generatorKindOf(out) : undefined;
  if (lowered !== undefined) {
    kind = lowered;
    call.yielded = { count: 0, firstItemSeconds: undefined, items: spec.collectItems ? [] : undefined };
    // (the argument copies were made without noting which hold something of the app's: every
    // object is taken to, see trackUntilCollected)
    if (spec.readsArgs) copies = { kept: objectPositions(args) };
  }
  if (isGeneratorKind(kind)) {
    let generator: Generator<unknown, unknown, unknown> | AsyncGenerator<unknown, unknown, unknown>;
    if (kind === "generator") {
      generator = auditGenerator(call, out as Generator<unknown, unknown, unknown>);
      generator.next();
    } else {
      generator = auditAsyncGenerator(call, out as AsyncGenerator<unknown, unknown, unknown>);
      unstarted.set(generator, { call, gen: out as AsyncGenerator<unknown, unknown, unknown> });
    }
    try {
      call.trackUntilCollected(generator, copies?.kept ?? NO_KEPT);
    } catch (trackError) {
      // our own failure: the generator is recorded when it finishes, not if it is dropped
      safeRecord(logger, () => {
        throw trackError;
      });
    }
    return generator;
  }
  // (guarded: a revoked Proxy the method returned goes back to the caller as it is). Not only
  // `instanceof Promise`: the global `Promise` may be another class (bluebird installed as
  // `global.Promise`), and a native promise may come from another realm (a vm context, Jest's
  // environment); both were recorded at return as a success `{}`, their rejection never.
  if (kind === "async" || (typeof out === "object" && out !== null && (isInstance(out, Promise) || types.isPromise(out)))) {
    return settleLater(call, out as Promise<unknown>, kind !== "async");
  }
  call.finish({ status: "ok", value: out });
  return out;
}

/**
 * "a QueryBuilder (thenable)", "an Observable", "a Stream (async iterable)" for what a method
 * returned that is work the caller runs later, which the decorator hands back without observing
 * it (see settleLater): a thenable that is no promise (a Knex query builder, whose members hold
 * its client and connection settings), an RxJS Observable, an async iterable that is no generator
 * (an SDK stream, a Node Readable); "a ServerResponse (a stream)" for any other Node stream (an
 * Express `res`, which `res.json()` returns), written no more than one among the arguments is
 * (see argsForRecord); "a Response (body unread)" for a fetch Response, whose body the caller
 * reads. Undefined for anything else. Reads `then`, `subscribe`,
 * `pipe` and the async iterator method, guarded (a revoked Proxy is none).
 */
function unobservedWork(out: unknown): string | undefined {
  if ((typeof out !== "object" && typeof out !== "function") || out === null) return undefined;
  try {
    const o = out as Record<PropertyKey, unknown>;
    // (a Node stream that is none of those, an Express `res` as `return res.json(…)` gives it: its
    // members were the result, its request's Authorization and Cookie headers with them, ~12 KB a
    // call, as a request among the arguments was; found by review, 2026-12-05)
    const what =
      typeof o.then === "function"
        ? "thenable"
        : typeof o.subscribe === "function" && typeof o.pipe === "function"
          ? ""
          : typeof o[Symbol.asyncIterator] === "function"
            ? "async iterable"
            : isNodeStream(out)
              ? "a stream"
              : // (a fetch Response: its body is the caller's to read, and it has no members of its
                // own to write; it was written as the result {})
                typeof Response === "function" && out instanceof Response
                ? "body unread"
                : undefined;
    if (what === undefined) return undefined;
    let name = typeof out === "function" ? "function" : "object";
    const c = (o.constructor as { name?: unknown } | undefined)?.name;
    if (typeof c === "string" && c !== "" && c !== "Object") name = c;
    return `${/^[aeiou]/i.test(name) ? "an" : "a"} ${name}${what === "" ? "" : ` (${what})`}`;
  } catch {
    return undefined;
  }
}

/**
 * A native promise is chained, so the caller gets a promise with the same value or error and an
 * unhandled rejection stays unhandled: a failure the app ignores still reaches its
 * `unhandledRejection` handlers (monitoring), for `async` methods and for plain ones returning a
 * promise alike (an `async` method compiled below ES2017 is a plain one). The same promise
 * returned again (a cached `this.ready ??= connect()`) gives the same chained one, so it stays
 * one object to its callers; each call is recorded. (Returning plain methods' promises
 * themselves, tried on 2026-12-04, kept their identity but silenced every ignored failure of
 * such methods: reverted. What chaining still changes: a promise whose failure the method
 * handles itself, returned to a caller that ignores it, is an unhandled rejection.) A Promise
 * subclass (an SDK's `APIPromise` with `.withResponse()`) is returned itself, observed through
 * its own `then` at once. (Observing one with a `then` of its own only from the first `then` the
 * app calls, tried on 2026-12-04 so that an `APIPromise` read with `.asResponse()` alone keeps
 * its body, lost the records of those read with `.catch()`, `.finally()` or `.withResponse()`,
 * which the SDK runs without `then`: reverted.) Other thenables (lazy query builders whose
 * `then` runs the query) are never touched: they are recorded on return.
 */
function settleLater(call: Call, p: Promise<unknown>, plain: boolean): Promise<unknown> {
  if (isNativePromise(p)) {
    // (an `async` method's promise is new at every call: only a plain method's is looked up)
    const earlier = plain ? chainedFor.get(p) : undefined;
    if (earlier !== undefined) {
      void p.then(
        (value) => call.finish({ status: "ok", value }),
        (error: unknown) => call.finish({ status: "error", error }),
      );
      return earlier;
    }
    try {
      const chained = p.then(
        (value) => {
          call.finish({ status: "ok", value });
          return value;
        },
        (error: unknown) => {
          call.finish({ status: "error", error });
          throw error;
        },
      );
      // (members the method added to its promise, ky-style `.json()`, stay on the one returned)
      keepAddedMembers(p, chained);
      if (plain) chainedFor.set(p, chained);
      return chained;
    } catch (error) {
      // (a Proxy of a promise whose `then` cannot be read: the caller gets it as it is)
      call.finish({ status: "error", error });
      return p;
    }
  }
  try {
    void p.then(
      (value) => call.finish({ status: "ok", value }),
      (error: unknown) => call.finish({ status: "error", error }),
    );
  } catch (error) {
    call.finish({ status: "error", error });
  }
  return p;
}

/** The chained promise given for a plain method's promise, to give again for the same one (see settleLater). */
const chainedFor = new WeakMap<Promise<unknown>, Promise<unknown>>();

// Generators are recorded when they finish: returned (ok), threw (error), or were closed early by
// their consumer (aborted), or when they are garbage-collected unfinished (abandoned: dropped
// half-read, or never started, without `return()`). The consumer's generator delegates to the
// original with `yield*`, so next/throw/return reach it exactly as without the decorator (a
// `return(v)` gets the original's own answer: what its `finally` returns, or yields), through an
// observer that runs each step of
// the original in the call's context (calls made from the generator body link to it whichever
// context the consumer iterates from) and notes its items and its end.
//
// A `return()` or `throw()` made before the consumer's first `next()` ends the generator without
// running the method's body (as without the decorator) and never reaches the observer: it is
// recorded then (aborted, or the error thrown in) another way. A sync generator is started
// before it is handed out, to a first `yield` of its own (PRIMED, taken by `invoke`, never seen
// by the consumer), where such a call reaches code of ours; the consumer's first `next(v)`
// resumes it there (its `v` is dropped, as a first `next`'s always is). An async generator
// cannot be started so without delaying the method's body past the consumer's first `next()`
// (its `yield` awaits), so its `return` and `throw` are taken over on its prototype instead.
function* auditGenerator(call: Call, gen: Generator<unknown, unknown, unknown>): Generator<unknown, unknown, unknown> {
  // (left true when the consumer's return() ends the generator at PRIMED)
  let closedBeforeStart = true;
  try {
    yield PRIMED;
    closedBeforeStart = false;
  } catch (error) {
    closedBeforeStart = false;
    throw endUnstarted(call, gen, "throw", error);
  } finally {
    if (closedBeforeStart) endUnstarted(call, gen, "return", undefined);
  }
  return yield* new ObservedGenerator(call, gen);
}

/** The first value of the consumer's sync generator, taken before it is handed out (see auditGenerator). */
const PRIMED = Symbol("audit-logger primed generator");

/**
 * A `return()`/`throw()` made before the first `next()`: passed on to the method's own
 * generator, not started either, as without the decorator (a plain generator ends without
 * running any of the method's code; another decorator's generator, stacked under this one,
 * records its call), then the call is recorded. Returns what the method's generator threw (the
 * error thrown in, for a plain one), which the sync consumer gets and its record has. An async
 * consumer's outcome comes from its own generator (the error thrown in), so its record has that
 * too, and the method's generator's result is handled.
 */
function endUnstarted(call: Call, gen: Generator<unknown, unknown, unknown> | AsyncGenerator<unknown, unknown, unknown>, how: "return" | "throw", value: unknown, async = false): unknown {
  let thrown = value;
  try {
    const r = how === "throw" ? gen.throw(value) : gen.return(value);
    if (types.isPromise(r)) (r as Promise<unknown>).then(undefined, ignore);
  } catch (error) {
    if (!async) thrown = error;
  }
  call.finish(how === "throw" ? { status: "error", error: thrown } : { status: "aborted" });
  return thrown;
}

function ignore(): void {}

async function* auditAsyncGenerator(call: Call, gen: AsyncGenerator<unknown, unknown, unknown>): AsyncGenerator<unknown, unknown, unknown> {
  return yield* new ObservedAsyncGenerator(call, gen);
}

/**
 * The consumer's async generators, to their calls and the method's own generators (see
 * recordUnstartedEnds; whether one has started is its call's `started`).
 */
const unstarted = new WeakMap<object, { readonly call: Call; readonly gen: AsyncGenerator<unknown, unknown, unknown> }>();

/**
 * `return` and `throw` of the consumer's async generators, on their own prototype (each
 * generator function has one): what the built-in ones do, then a call whose generator had not
 * started is recorded as aborted (`return`) or failed with what was thrown in (`throw`).
 */
function recordUnstartedEnds(proto: object): void {
  const base = Object.getPrototypeOf(proto) as { return: (v?: unknown) => unknown; throw: (e?: unknown) => unknown };
  const nativeReturn = base.return;
  const nativeThrow = base.throw;
  const methods = {
    return(this: object, v?: unknown): unknown {
      const u = unstarted.get(this);
      const r = Reflect.apply(nativeReturn, this, [v]);
      if (u !== undefined && !u.call.started) endUnstarted(u.call, u.gen, "return", undefined, true);
      return r;
    },
    throw(this: object, e?: unknown): unknown {
      const u = unstarted.get(this);
      const r = Reflect.apply(nativeThrow, this, [e]);
      if (u !== undefined && !u.call.started) endUnstarted(u.call, u.gen, "throw", e, true);
      return r;
    },
  };
  Object.defineProperty(proto, "return", { value: methods.return, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(proto, "throw", { value: methods.throw, writable: true, configurable: true, enumerable: false });
}
recordUnstartedEnds(auditAsyncGenerator.prototype as object);

/** The outcome of one step of the original; `closing`: the consumer asked it to return. */
function stepped(call: Call, r: IteratorResult<unknown, unknown>, closing: boolean): IteratorResult<unknown, unknown> {
  call.stepped();
  if (!r.done) {
    // (a value yielded while closing, from the original's `finally`, is passed on, not counted)
    if (!closing) call.item(r.value);
  } else call.finish(closing ? { status: "aborted" } : { status: "ok", value: r.value });
  return r;
}

function failed(call: Call, error: unknown): never {
  call.finish({ status: "error", error });
  throw error;
}

class ObservedGenerator implements Iterator<unknown, unknown, unknown> {
  private closing = false;
  constructor(
    private readonly call: Call,
    private readonly gen: Generator<unknown, unknown, unknown>,
  ) {}
  [Symbol.iterator](): this {
    return this;
  }
  next(v?: unknown): IteratorResult<unknown, unknown> {
    return this.run(() => this.gen.next(v));
  }
  throw(e?: unknown): IteratorResult<unknown, unknown> {
    return this.run(() => this.gen.throw(e));
  }
  return(v?: unknown): IteratorResult<unknown, unknown> {
    this.closing = true;
    this.call.closing();
    return this.run(() => this.gen.return(v));
  }
  private run(step: () => IteratorResult<unknown, unknown>): IteratorResult<unknown, unknown> {
    let r: IteratorResult<unknown, unknown>;
    try {
      r = this.call.step(step);
    } catch (error) {
      // (from `return`: the original's own cleanup failed, and the consumer gets that, as with yield*)
      failed(this.call, error);
    }
    return stepped(this.call, r, this.closing);
  }
}

class ObservedAsyncGenerator implements AsyncIterator<unknown, unknown, unknown> {
  private closing = false;
  constructor(
    private readonly call: Call,
    private readonly gen: AsyncGenerator<unknown, unknown, unknown>,
  ) {
    call.started = true;
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
  next(v?: unknown): Promise<IteratorResult<unknown, unknown>> {
    return this.run(() => this.gen.next(v));
  }
  throw(e?: unknown): Promise<IteratorResult<unknown, unknown>> {
    return this.run(() => this.gen.throw(e));
  }
  return(v?: unknown): Promise<IteratorResult<unknown, unknown>> {
    this.closing = true;
    this.call.closing();
    return this.run(() => this.gen.return(v));
  }
  private async run(step: () => Promise<IteratorResult<unknown, unknown>>): Promise<IteratorResult<unknown, unknown>> {
    let r: IteratorResult<unknown, unknown>;
    try {
      r = await this.call.step(step);
    } catch (error) {
      failed(this.call, error);
    }
    return stepped(this.call, r, this.closing);
  }
}

const SKIP_KEYS = new Set<PropertyKey>(["name", "length", "prototype", "arguments", "caller"]);

interface ReflectMetadataApi {
  getOwnMetadataKeys(target: object): unknown[];
  getOwnMetadata(key: unknown, target: object): unknown;
  getMetadataKeys(target: object): unknown[];
  getMetadata(key: unknown, target: object): unknown;
  defineMetadata(key: unknown, value: unknown, target: object): void;
}

/**
 * Keeps what others can observe of the method: its name and length, its kind (`fn.constructor`
 * is still AsyncFunction / GeneratorFunction), own properties libraries hang on it, and
 * reflect-metadata on the function itself (NestJS's @Get and friends put route metadata there).
 */
function preserveIdentity(wrapper: AnyFunction, original: AnyFunction): void {
  Object.defineProperty(wrapper, "name", { value: original.name, configurable: true });
  Object.defineProperty(wrapper, "length", { value: original.length, configurable: true });
  const proto = Object.getPrototypeOf(original) as object | null;
  if (proto !== Function.prototype) Object.setPrototypeOf(wrapper, proto);
  for (const key of Reflect.ownKeys(original)) {
    if (SKIP_KEYS.has(key) || Object.prototype.hasOwnProperty.call(wrapper, key)) continue;
    const d = Object.getOwnPropertyDescriptor(original, key);
    if (d) Object.defineProperty(wrapper, key, d);
  }
  const R = Reflect as unknown as Partial<ReflectMetadataApi>;
  if (typeof R.defineMetadata !== "function") return;
  if (typeof R.getOwnMetadataKeys === "function" && typeof R.getOwnMetadata === "function") {
    for (const key of R.getOwnMetadataKeys(original)) R.defineMetadata(key, R.getOwnMetadata(key, original), wrapper);
  } else if (typeof R.getMetadataKeys === "function" && typeof R.getMetadata === "function") {
    for (const key of R.getMetadataKeys(original)) R.defineMetadata(key, R.getMetadata(key, original), wrapper);
  }
}
