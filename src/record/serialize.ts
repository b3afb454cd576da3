/**
 * Turns any value into plain JSON data, never throwing. The rules (also in docs/FORMAT.md):
 * cycles become "[Circular]"; BigInt a decimal string; functions "[Function: name]"; symbols
 * "[Symbol(desc)]"; Dates ISO strings; Buffers and typed arrays "[Binary N bytes]" (bytes are not
 * stored); Errors { name, message, code?, stack? }; Maps objects; Sets arrays; NaN and ±Infinity
 * strings; strings over `maxChars` are cut with a "…[truncated N chars]" marker; nesting deeper
 * than 32 becomes "[MaxDepth]"; arrays keep their first 10,000 items; objects with `toJSON` use it.
 */
import { types } from "node:util";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

const isProxy = types.isProxy;

const MAX_DEPTH = 32;
const MAX_ITEMS = 10_000;

export function truncateString(s: string, maxChars: number): string {
  if (s.length <= maxChars) return s;
  return `${s.slice(0, maxChars)}…[truncated ${s.length - maxChars} chars]`;
}

export function toJsonSafe(value: unknown, maxChars: number): JsonValue {
  return convert(value, maxChars, MAX_ITEMS, 0, []);
}

/**
 * `toJsonSafe` without cutting anything (strings, arrays, objects): the same value as JSON data,
 * to hand to code that applies `toJsonSafe` itself later (the worker thread of `thread: true`),
 * which then cuts exactly what it would have cut of the original.
 */
export function toJsonData(value: unknown): JsonValue {
  return convert(value, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 0, []);
}

/** Objects and members a {@link toJsonSnapshot} walks at most. */
interface Budget {
  left: number;
}
const OVER_BUDGET = Symbol("over budget");

/**
 * `toJsonData(value)` made now, for a record made later from what is left of a call (see
 * decorators/remains.ts), or the text "[Not kept: more than N values]" when it would walk more
 * than `maxValues` objects, members and items (a client object, a request: their graphs are
 * large, and this runs while the app waits). It runs none of the app's code, as it is taken
 * before the app's own method reads the value (a counting getter handed the method its second
 * value; found by review, 2026-12-04): a getter is "[Getter]" (as the decorator's copy of a
 * plain argument writes it), an object with a `toJSON` "[Not kept: toJSON not run]" (its
 * members may be what that hides), a Proxy "[Not kept: a Proxy]" (its traps are the app's).
 */
export function toJsonSnapshot(value: unknown, maxValues: number): JsonValue {
  try {
    return convert(value, Number.POSITIVE_INFINITY, maxValues, 0, [], { left: maxValues });
  } catch (err) {
    // (never throws: what it is for runs while the app's call or generator step is under way)
    return err === OVER_BUDGET ? `[Not kept: more than ${maxValues} values]` : `[Unreadable: ${unreadableReason(err)}]`;
  }
}

/**
 * Whether `toJsonSafe(value, maxChars)` would serialise exactly as `value` itself does, so that
 * a value about to be serialised at once can be used as it is, without the copy: plain objects
 * (prototype `Object.prototype` or null, no `toJSON`) and plain arrays of finite numbers,
 * strings of at most `maxChars`, booleans and nulls, within the depth and item limits (a cycle
 * exceeds the depth). Objects may have undefined members (both skip them); nothing else may be
 * undefined. Reads every member once (a getter runs; one that throws makes this false).
 */
export function isPlainJson(value: unknown, maxChars: number): boolean {
  try {
    return plainJson(value, maxChars, 0);
  } catch {
    return false;
  }
}

function plainJson(value: unknown, maxChars: number, depth: number): boolean {
  switch (typeof value) {
    case "string":
      return value.length <= maxChars;
    case "number":
      return Number.isFinite(value);
    case "boolean":
      return true;
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_DEPTH) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Array.prototype) {
    const list = value as readonly unknown[];
    if (list.length > MAX_ITEMS || typeof (list as { toJSON?: unknown }).toJSON === "function") return false;
    for (let i = 0; i < list.length; i++) if (!plainJson(list[i], maxChars, depth + 1)) return false;
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  const obj = value as Record<string, unknown>;
  if (typeof obj.toJSON === "function") return false;
  let n = 0;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) return false; // an enumerable inherited member: JSON skips it, a copy too, but rare enough to leave to convert
    if (++n > MAX_ITEMS) return false;
    const v = obj[key];
    if (v !== undefined && !plainJson(v, maxChars, depth + 1)) return false;
  }
  return true;
}

function convert(value: unknown, maxChars: number, maxItems: number, depth: number, stack: object[], budget?: Budget): JsonValue {
  switch (typeof value) {
    case "string":
      return value.length > maxChars ? truncateString(value, maxChars) : value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
      return null;
    case "function":
      return functionText(value as { name?: unknown });
    case "symbol":
      return value.toString();
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) return "[MaxDepth]";
  try {
    return convertObject(value as object, maxChars, maxItems, depth, stack, budget);
  } catch (err) {
    if (err === OVER_BUDGET) throw err;
    // an object whose very shape cannot be read: a revoked Proxy, a Proxy whose traps throw
    return `[Unreadable: ${unreadableReason(err)}]`;
  }
}

/**
 * "[Function: name]", its name read guarded: a revoked Proxy of a function throws on any read
 * (which made the serialiser, promised never to throw, throw into the log call; found by review,
 * 2026-12-03).
 */
function functionText(fn: { name?: unknown }): string {
  let name: unknown;
  try {
    name = fn.name;
  } catch (err) {
    return `[Unreadable: ${unreadableReason(err)}]`;
  }
  return `[Function: ${typeof name === "string" && name !== "" ? name : "anonymous"}]`;
}

/** "[Binary N bytes]": the size only, as a number (an own `byteLength` that is not one is not written). */
function binaryText(obj: { byteLength: unknown }): string {
  const n = obj.byteLength;
  return `[Binary ${typeof n === "number" && Number.isFinite(n) ? n : "?"} bytes]`;
}

/** The message of what a read threw, as a string, for "[Unreadable: …]" (itself never throwing). */
export function unreadableReason(err: unknown): string {
  try {
    return String(err instanceof Error ? err.message : err);
  } catch {
    return "unknown";
  }
}

/** A snapshot's object (see toJsonSnapshot): its own enumerable data members, no getter, no toJSON run. */
function snapshotMembers(obj: object, maxChars: number, maxItems: number, depth: number, stack: object[], budget: Budget): JsonValue {
  const toJson = accessorFree(obj, "toJSON");
  if (typeof toJson === "function" || toJson === ACCESSOR) return "[Not kept: toJSON not run]";
  const out: { [key: string]: JsonValue } = {};
  const keys = Object.keys(obj);
  if (keys.length > budget.left) throw OVER_BUDGET;
  let n = 0;
  for (const key of keys) {
    if (n++ >= maxItems) {
      out["…"] = `[${keys.length - maxItems} more keys]`;
      break;
    }
    if (--budget.left < 0) throw OVER_BUDGET;
    const d = Object.getOwnPropertyDescriptor(obj, key);
    if (d === undefined) continue;
    if (d.get !== undefined || d.set !== undefined) {
      setMember(out, key, d.set === undefined ? "[Getter]" : d.get === undefined ? "[Setter]" : "[Getter/Setter]");
      continue;
    }
    if (d.value === undefined) continue;
    setMember(out, key, convert(d.value, maxChars, maxItems, depth + 1, stack, budget));
  }
  return out;
}

const ACCESSOR = Symbol("accessor");

/** `obj[key]` found along its prototype chain without running a getter (ACCESSOR when one holds it). */
function accessorFree(obj: object, key: string): unknown {
  for (let o: object | null = obj; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (d !== undefined) return d.get !== undefined || d.set !== undefined ? ACCESSOR : d.value;
  }
  return undefined;
}

function convertObject(obj: object, maxChars: number, maxItems: number, depth: number, stack: object[], budget: Budget | undefined): JsonValue {
  if (budget !== undefined && --budget.left < 0) throw OVER_BUDGET;
  // (a snapshot runs none of the app's code: see toJsonSnapshot; `instanceof` runs a Proxy's trap)
  if (budget !== undefined && isProxy(obj)) return "[Not kept: a Proxy]";
  if (stack.includes(obj)) return "[Circular]";
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? "Invalid Date" : obj.toISOString();
  // a boxed string, number or boolean is its value, as JSON.stringify writes it (not one member per character)
  // (the value in its slot, not what an own `valueOf` says)
  if (obj instanceof String) return convert(String.prototype.valueOf.call(obj), maxChars, maxItems, depth, stack, budget);
  if (obj instanceof Number) return convert(Number.prototype.valueOf.call(obj), maxChars, maxItems, depth, stack, budget);
  if (obj instanceof Boolean) return Boolean.prototype.valueOf.call(obj);
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && obj instanceof SharedArrayBuffer)) {
    return binaryText(obj);
  }
  stack.push(obj);
  try {
    if (obj instanceof Error) {
      const e = obj as Error & { code?: unknown; cause?: unknown };
      const out: { [key: string]: JsonValue } = { name: e.name, message: truncateString(String(e.message), maxChars) };
      if (e.code !== undefined) out.code = convert(e.code, maxChars, maxItems, depth + 1, stack, budget);
      if (e.stack) out.stack = truncateString(e.stack, maxChars);
      if (e.cause !== undefined) out.cause = convert(e.cause, maxChars, maxItems, depth + 1, stack, budget);
      return out;
    }
    if (Array.isArray(obj)) return convertList(obj, maxChars, maxItems, depth, stack, budget);
    // (a snapshot's budget checked before a large Set or Map is spread or walked)
    if (obj instanceof Set) {
      if (budget !== undefined && obj.size > budget.left) throw OVER_BUDGET;
      return convertList([...obj], maxChars, maxItems, depth, stack, budget);
    }
    if (obj instanceof Map) {
      if (budget !== undefined && obj.size > budget.left) throw OVER_BUDGET;
      const out: { [key: string]: JsonValue } = {};
      let n = 0;
      for (const [k, v] of obj) {
        // (said as an object's are: a Map was cut without a word)
        if (n++ >= maxItems) {
          out["…"] = `[${obj.size - maxItems} more keys]`;
          break;
        }
        if (budget !== undefined && --budget.left < 0) throw OVER_BUDGET;
        setMember(out, typeof k === "string" ? k : String(convert(k, maxChars, maxItems, depth + 1, stack, budget)), convert(v, maxChars, maxItems, depth + 1, stack, budget));
      }
      return out;
    }
    // a fetch Headers object has no members of its own: it was written as {}, its headers lost
    // (review, 2026-12-04); its entries (names lower-case, repeated ones joined, as it keeps them)
    if (typeof Headers === "function" && obj instanceof Headers) {
      const out: { [key: string]: JsonValue } = {};
      let n = 0;
      for (const [k, v] of obj) {
        if (budget !== undefined && n < maxItems && --budget.left < 0) throw OVER_BUDGET;
        if (n++ < maxItems) setMember(out, k, truncateString(v, maxChars));
      }
      // (said as an object's or a Map's are: a Headers was cut without a word until 2026-12-06;
      // it has no size, so the rest are counted, not converted)
      if (n > maxItems) out["…"] = `[${n - maxItems} more keys]`;
      return out;
    }
    const withToJson = obj as { toJSON?: unknown };
    if (budget !== undefined) return snapshotMembers(obj, maxChars, maxItems, depth, stack, budget);
    if (typeof withToJson.toJSON === "function") {
      let replaced: unknown;
      try {
        replaced = (withToJson.toJSON as () => unknown).call(obj);
      } catch (err) {
        return `[Unserializable: ${unreadableReason(err)}]`;
      }
      if (replaced !== obj) return convert(replaced, maxChars, maxItems, depth + 1, stack, budget);
    }
    // (a snapshot's members: snapshotMembers, above)
    const out: { [key: string]: JsonValue } = {};
    const keys = Object.keys(obj);
    let n = 0;
    for (const key of keys) {
      if (n++ >= maxItems) {
        out["…"] = `[${keys.length - maxItems} more keys]`;
        break;
      }
      let v: unknown;
      try {
        v = (obj as Record<string, unknown>)[key];
      } catch (err) {
        setMember(out, key, `[Unreadable: ${unreadableReason(err)}]`);
        continue;
      }
      if (v === undefined) continue;
      setMember(out, key, convert(v, maxChars, maxItems, depth + 1, stack, budget));
    }
    return out;
  } finally {
    stack.pop();
  }
}

/** `out[key] = value`, except that an own "__proto__" member stays a member instead of setting the prototype. */
export function setMember<V>(out: { [key: string]: V }, key: string, value: V): void {
  if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

function convertList(list: readonly unknown[], maxChars: number, maxItems: number, depth: number, stack: object[], budget: Budget | undefined): JsonValue[] {
  const n = Math.min(list.length, maxItems);
  if (budget !== undefined && (budget.left -= n) < 0) throw OVER_BUDGET;
  // (pushed: a `new Array(n)` filled in is a holey array, slower to serialise)
  const out: JsonValue[] = [];
  for (let i = 0; i < n; i++) out.push(convert(list[i], maxChars, maxItems, depth + 1, stack, budget));
  if (list.length > maxItems) out.push(`[${list.length - maxItems} more items]`);
  return out;
}

/**
 * `{ ...a, ...b }` for plain records: later sources win, an own "__proto__" member stays a member
 * (as with a spread; `Object.assign` would set the prototype instead), and without V8's slow
 * path for adding members to a spread copy (~1 µs per member on Node 20).
 */
export function mergeMembers(...sources: ReadonlyArray<Readonly<Record<string, unknown>> | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const src of sources) {
    if (src === undefined) continue;
    for (const key of Object.keys(src)) setMember(out, key, src[key]);
  }
  return out;
}

/**
 * A copy of a provider's `usage` (or any small value the app is handed too), as JSON data: plain
 * parsed JSON (plain objects of numbers, strings, booleans and nulls, three levels at most) is
 * copied with object spreads, which V8 copies whole for objects of one shape (about a third of
 * `toJsonData`'s member-by-member copy, the largest step the kit takes on the app's thread for a
 * chat call); anything else (a getter that throws included) by `toJsonData`'s rules.
 */
export function copyUsage(v: unknown): JsonValue {
  return spreadCopy(v, 0) ?? toJsonData(v);
}

/** {@link copyUsage}'s fast path: undefined for anything that is not plain parsed JSON. */
function spreadCopy(v: unknown, depth: number): { [key: string]: JsonValue } | undefined {
  if (typeof v !== "object" || v === null || Object.getPrototypeOf(v) !== Object.prototype || depth > 2) return undefined;
  let out: Record<string, unknown>;
  try {
    out = { ...(v as Record<string, unknown>) };
  } catch {
    return undefined;
  }
  for (const key in out) {
    const x = out[key];
    switch (typeof x) {
      case "number":
        if (!Number.isFinite(x)) return undefined;
        continue;
      case "string":
      case "boolean":
        continue;
      case "object": {
        if (x === null) continue;
        if (key === "__proto__") return undefined; // (an assignment would set the copy's prototype)
        const inner = spreadCopy(x, depth + 1);
        if (inner === undefined) return undefined;
        out[key] = inner;
        continue;
      }
      default:
        return undefined; // undefined, a function (toJSON), a BigInt, a symbol
    }
  }
  return out as { [key: string]: JsonValue };
}
