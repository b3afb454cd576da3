/**
 * Copies of what a decorated method was called with, and of what a generator method yields, for
 * a record made when the call finishes: plain data is copied when the call starts (or the item
 * is yielded), anything else is kept as it is.
 */
import { types } from "node:util";
import { setMember } from "../src/record/serialize.js";

const isProxy = types.isProxy;

export const NO_ARGS: readonly unknown[] = Object.freeze([]);
const MAX_COPY_DEPTH = 32;
/**
 * Members and items copied per argument (and per yielded item) at most: past it, an
 * array or object is kept as it is, not walked (a call given a 200,000-item context, or a sparse
 * array of length 3e7, costs no copy of it; found by review, 2026-12-03).
 */
const COPY_BUDGET = 10_000;

/** The state of one copy: members left in its budget, and whether it kept anything of the original. */
interface CopyState {
  left: number;
  /** an object or function of the original is in the copy (not plain data, past the budget or the depth, a cycle, or unreadable) */
  kept: boolean;
  /** something in the original could not be read (a throwing getter, a revoked Proxy): kept as it is */
  unreadable?: true;
  /** copying a method's arguments before it runs: a getter is not run, "[Getter]" in the copy (see copyObject) */
  args?: true;
  /** the copies being made of the objects on the stack, at the same positions (see plainCopy) */
  copies: unknown[];
}

/**
 * The arguments as the method got them, for a record made when it finishes: a method that pushes
 * its answer onto the `history` it was given, or edits the request it was passed, must not change
 * what the record says it was called with. Plain data (arrays, plain objects, to 32 levels) is
 * copied now, up to COPY_BUDGET members and items; anything else (class instances such as a
 * request, Dates, Maps, functions), and what is past the budget, is kept as it is (a plain
 * object's getter is never run: "[Getter]" in the copy), so
 * `captureArgs` and `prompt` functions can still call its methods.
 *
 * `check`, when given, is told which copies are not all new (`kept`: the positions of those that
 * hold something of the app's, and so can lead back to what the app holds).
 */
export function argsAsCalled(args: readonly unknown[], check?: { kept: number[] }): readonly unknown[] {
  // (pushed, not `new Array(n)` filled in: that makes a holey array, which costs the record's
  // serialisation ~0.2-0.3 µs more per call, measured with a one-argument tool call)
  const out: unknown[] = [];
  // (a budget per argument: a large first one leaves the next, a `history` say, copied)
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    if (check === undefined) out.push(copyAsCalled(value));
    else {
      const c = copyOf(value, true);
      out.push(c.copy);
      if (!c.fresh) check.kept.push(i);
    }
  }
  return out;
}

/** One argument as plain data (see `argsAsCalled`); a primitive is itself, with no budget or stack made for it. */
function copyAsCalled(value: unknown): unknown {
  return typeof value !== "object" || value === null ? value : plainCopy(value, 0, [], { left: COPY_BUDGET, kept: false, args: true, copies: [] });
}

/** A copy as `copyOf` makes it. */
export interface CopyOf {
  readonly copy: unknown;
  /** the copy is all new: it holds nothing of the original, so it cannot lead back to anything the app holds */
  readonly fresh: boolean;
  /**
   * something in the original could not be read (a throwing getter, a revoked Proxy), and is
   * in the copy as it is (a yielded item like that is left out of what a record assembles: its
   * extractors would throw on it, and lose the record)
   */
  readonly unreadable: boolean;
}

/** A value as `copyAsCalled` copies it, and what that copy holds of the original. */
export function copyOf(value: unknown, asArgument = false): CopyOf {
  if (typeof value !== "object" || value === null) return { copy: value, fresh: typeof value !== "function", unreadable: false };
  const state: CopyState = asArgument ? { left: COPY_BUDGET, kept: false, args: true, copies: [] } : { left: COPY_BUDGET, kept: false, copies: [] };
  const copy = plainCopy(value, 0, [], state);
  return { copy, fresh: !state.kept, unreadable: state.unreadable === true };
}

function plainCopy(value: unknown, depth: number, stack: object[], state: CopyState): unknown {
  if (typeof value !== "object" || value === null) {
    if (typeof value === "function") state.kept = true;
    return value;
  }
  // A cycle (`node.parent.children[0] === node`) points at the copy being made of that object,
  // not at the original: the copy holds as called what the original holds, and is serialised as
  // the original is, "[Circular]" where it leads back (kept, the original was serialised once
  // more, as it was when the record was made; found by the decorator new-user pass, 2026-12-05).
  const at = stack.indexOf(value);
  if (at !== -1) return state.copies[at];
  if (depth >= MAX_COPY_DEPTH) {
    state.kept = true;
    return value;
  }
  try {
    return copyObject(value, depth, stack, state);
  } catch {
    // A member that cannot be read (a throwing getter, a revoked Proxy, a Proxy whose traps
    // throw): this object is kept as it is, and the record serialises it as it serialises any
    // such value ("[Unreadable: …]"), as a direct log call would.
    state.kept = true;
    state.unreadable = true;
    return value;
  }
}

function copyObject(value: object, depth: number, stack: object[], state: CopyState): unknown {
  // A Proxy is not walked: its traps are the app's code, not to be run before the app's own
  // reads (found by review, 2026-12-04). An argument is kept as it is (the record serialises it,
  // after the method, as a direct log call would); an item is also left out of what the record
  // reads (see the accessors below).
  if (isProxy(value)) {
    state.kept = true;
    if (state.args !== true) state.unreadable = true;
    return value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  const isArray = Array.isArray(value) && proto === Array.prototype;
  if (!isArray && proto !== Object.prototype && proto !== null) {
    state.kept = true;
    return value;
  }
  const keys = isArray ? undefined : Object.keys(value);
  const size = keys ? keys.length : (value as unknown[]).length;
  if (size > state.left) {
    state.kept = true;
    return value;
  }
  state.left -= size;
  const copy: unknown = !keys ? [] : proto === null ? Object.create(null) : {};
  stack.push(value);
  state.copies.push(copy);
  try {
    if (!keys) {
      const list = value as unknown[];
      for (let i = 0; i < list.length; i++) (copy as unknown[]).push(plainCopy(list[i], depth + 1, stack, state));
      return copy;
    }
    const members = copy as Record<string, unknown>;
    if (state.args !== true) {
      // (an item a generator yielded, a context's metadata: read as they are, unless a member is
      // an accessor: its getter is never run, the consumer who gets the item next must be the
      // first to run it (copied, the consumer of `{ get text() { … } }` read a second value;
      // found by review, 2026-12-04); so the item is not copied, and is left out of what the
      // record reads, as an item that cannot be read is)
      for (const key of keys) {
        const d = Reflect.getOwnPropertyDescriptor(value, key);
        if (d !== undefined && (d.get !== undefined || d.set !== undefined)) {
          state.kept = true;
          state.unreadable = true;
          return value;
        }
        setMember(members, key, plainCopy(d?.value, depth + 1, stack, state));
      }
      return members;
    }
    for (const key of keys) {
      // An accessor (`get ticket() { return ++issued }`: a counter, a one-shot token, a lazy
      // load) is never run: it is recorded as util.inspect shows it, "[Getter]". Run here, before
      // the method, it handed the method another value; kept and read by the record, it ran three
      // times more, after the method (found by review, 2026-12-04).
      const d = Reflect.getOwnPropertyDescriptor(value, key);
      if (d !== undefined && (d.get !== undefined || d.set !== undefined)) setMember(members, key, d.set === undefined ? "[Getter]" : d.get === undefined ? "[Setter]" : "[Getter/Setter]");
      else setMember(members, key, plainCopy(d?.value, depth + 1, stack, state));
    }
    return members;
  } finally {
    stack.pop();
    state.copies.pop();
  }
}
