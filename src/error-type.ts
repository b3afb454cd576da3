/**
 * The type an `errors` record gives an error, for every path that records one (logger.logError,
 * `@AuditErrors`, the Express error handler). A module of its own, with no imports: the logger
 * and the instrumentation helpers both use it.
 */

function read(o: unknown, key: string): unknown {
  if ((typeof o !== "object" && typeof o !== "function") || o === null) return undefined;
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return undefined; // a revoked Proxy, a throwing getter
  }
}

function text(v: unknown): string {
  try {
    return String(v);
  } catch {
    return "Error"; // a name with no text (a symbol is text; a null-prototype object is not)
  }
}

/**
 * An error's `name`, or its class's name when `name` is left as "Error" (or empty) by a subclass
 * (the OpenAI SDK's RateLimitError, say: recorded as "Error", while the chat record of the same
 * call said "RateLimitError"; found by a new-user run, 2026-12-03). Never throws.
 */
export function errorTypeOf(error: unknown): string {
  const name = read(error, "name");
  const ctor = read(read(error, "constructor"), "name");
  if ((name === "Error" || !name) && typeof ctor === "string" && ctor !== "" && ctor !== "Object") return ctor;
  return text(name || ctor || "Error");
}

/**
 * `err`'s message as a clause to go on with (". They stay buffered…"): without a closing period
 * of its own. The kit's messages end with one, the OS's do not; both went into such sentences,
 * and a NotRegularFileError read "remove it).. Every record is written".
 *
 * @example
 * `Writing the session file failed: ${reason(err)}. Every record is written.`
 */
export function reason(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  // (an AggregateError with no message of its own, as a connection to a host name with two
  // addresses fails: its parts' messages; a store's outage read "did not answer ()", review 2026-12-05)
  if (message === "" && err instanceof AggregateError) message = err.errors.map((e) => reason(e)).filter((m) => m !== "").join("; ");
  return message.endsWith(".") ? message.slice(0, -1) : message;
}
