/**
 * @internal The message of a thrown object that is no Error: one rule for the decorators
 * (decorators/wrap.ts, errorMessageOf) and auditErrorHandler (integrations/express.ts).
 */
import { readMember } from "./instrument.js";
import { jsonHidingSecrets, textHidingSecrets } from "./secret-name.js";

/** The longest JSON form of a thrown object a message is made of (cut there, with "…"). */
export const MAX_OBJECT_MESSAGE = 1000;

/**
 * The message of a thrown object that is no Error, in this order:
 * - its `message`, when that is text (`throw { status: 404, message: "…" }`, an RPC payload);
 * - else the text its own `toString()` gives (a method of the app's, not a built-in's such as
 *   Object.prototype.toString);
 * - else, for an instance of the app's class, its class's name and its JSON
 *   (`QuotaFault {"reason":"quota"}`);
 * - else its JSON (`{"reason":"quota"}`), unless that is `{}`;
 * - else its string form.
 * The JSON hides members named as credentials (see jsonHidingSecrets) and is cut at
 * MAX_OBJECT_MESSAGE characters; a toString()'s text hides the credentials it names
 * (see textHidingSecrets): it is often made of the object's fields, the same ones its JSON hides
 * (until 2026-12-05 it was written as it was: `token=sk-…`, an `Authorization: Bearer …` line;
 * found by the leftovers pass). A `message` is written as it is, as an Error's is (the logger's
 * `redact` option covers both).
 * Found by review, 2026-12-05: since 8ed60fc a class instance with its own toString() was the JSON
 * of its fields, which lost its class's name and its text (before, its toString()); and
 * auditErrorHandler wrote an object's JSON where the decorators wrote its `message`. Every read
 * guarded; throws as String() does for a value with no string form (a null-prototype object with
 * nothing JSON can write, a revoked Proxy): the caller says what then.
 */
export function thrownObjectMessage(value: object): string {
  const message = readMember(value, "message");
  if (typeof message === "string" && message !== "") return message;
  const own = ownText(value);
  if (own !== undefined) return textHidingSecrets(own);
  const className = appClassName(value);
  let json: string | undefined;
  try {
    json = jsonHidingSecrets(value);
  } catch {
    // (a cycle, a BigInt, a throwing toJSON or getter: its class's name, else its string form)
  }
  if (typeof json === "string" && (json !== "{}" || className !== undefined)) return cut(className !== undefined ? `${className} ${json}` : json);
  if (className !== undefined) return className;
  return String(value);
}

function cut(text: string): string {
  return text.length > MAX_OBJECT_MESSAGE ? `${text.slice(0, MAX_OBJECT_MESSAGE)}…` : text;
}

/** Whether `fn` is the engine's own (a built-in's method or class), not the app's. */
function isNative(fn: unknown): boolean {
  try {
    return Function.prototype.toString.call(fn).endsWith("{ [native code] }");
  } catch {
    return true; // (a Proxy of a function: not asked further)
  }
}

/** What `value`'s own toString() (the app's, not a built-in's) gives, when it gives text. */
function ownText(value: object): string | undefined {
  const toString = readMember(value, "toString");
  if (typeof toString !== "function" || isNative(toString)) return undefined;
  try {
    const text: unknown = toString.call(value);
    return typeof text === "string" && text !== "" ? text : undefined;
  } catch {
    return undefined; // (a toString that throws: the value is told by its class and JSON)
  }
}

/** The name of the app's class `value` is an instance of; undefined for a plain object or a built-in's. */
function appClassName(value: object): string | undefined {
  let proto: object | null;
  try {
    proto = Object.getPrototypeOf(value) as object | null;
  } catch {
    return undefined;
  }
  if (proto === null || proto === Object.prototype) return undefined;
  const ctor = readMember(proto, "constructor");
  if (typeof ctor !== "function" || isNative(ctor)) return undefined;
  const name = readMember(ctor, "name");
  return typeof name === "string" && name !== "" ? name : undefined;
}
