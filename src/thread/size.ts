/**
 * What a queued record's data costs in memory until the worker has written it, estimated on the
 * app's thread: the lengths of its strings (chars; Latin-1 strings are cloned one byte a char)
 * and a few bytes a member. `thread: true` bounds the bytes in flight as well as the records
 * (see ThreadLink), so that a burst of large prompts cannot queue hundreds of MB for the worker.
 * The data is plain (the logger's JSON-safe copy, or an integration's own record data): no
 * getters run. Deeper than MAX_DEPTH levels counts a flat 64 bytes (no record nests that deep).
 */
const MAX_DEPTH = 12;

export function approxBytes(value: unknown, depth = 0): number {
  switch (typeof value) {
    case "string":
      return value.length + 8;
    case "object": {
      if (value === null) return 8;
      if (depth >= MAX_DEPTH) return 64;
      if (ArrayBuffer.isView(value)) return value.byteLength + 16;
      let n = 16;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) n += approxBytes(value[i], depth + 1);
        return n;
      }
      const o = value as Record<string, unknown>;
      // (for-in: no array of keys made; plain data inherits nothing enumerable, and an
      // inherited member would only make the estimate larger)
      for (const k in o) n += k.length + approxBytes(o[k], depth + 1);
      return n;
    }
    default:
      return 8;
  }
}
