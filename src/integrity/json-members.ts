/**
 * Members given twice in one JSON object. JSON.parse keeps the last value (at the first one's
 * place), other readers the first: an export whose record gives a member twice, the signed value
 * last, verifies while such a reader shows the other value. The verifier of an export with proofs
 * refuses them (src/integrity/verify-proofs.ts).
 */

/** A member's place in a document: member names and array indices from the top. */
export type JsonPath = ReadonlyArray<string | number>;

/**
 * The places of the members given a second time in an object of `text`, which must be valid JSON
 * (parse it first): at most `max` of them, in the order of the text. One pass over the text.
 *
 * @example
 * duplicateMembers('{"a":1,"b":{"c":1,"c":2}}'); // [["b", "c"]]
 */
export function duplicateMembers(text: string, max = 100): JsonPath[] {
  return oddMembers(text, max).twice;
}

/**
 * What a reader other than JSON.parse may show otherwise than the verifier checks, in `text`
 * (valid JSON: parse it first), in the order of the text, at most `max` of each: `twice`, the
 * members given a second time in an object (see {@link duplicateMembers}); `inexact`, the numbers
 * whose value as written is not the value JSON.parse reads (see {@link numberReadsExactly}: an
 * integer beyond 2^53, or more digits than a double holds, which JSON.parse rounds, and a reader
 * that keeps numbers exactly does not). One pass over the text.
 *
 * @example
 * oddMembers('{"a":9007199254740993,"b":1e0}').inexact; // [["a"]]
 */
export function oddMembers(text: string, max = 100): { twice: JsonPath[]; inexact: JsonPath[] } {
  const found: JsonPath[] = [];
  const inexact: JsonPath[] = [];
  // each open object (its member names so far) or array, and the member or index being read
  const frames: Array<{ names: Set<string> | undefined; at: string | number }> = [];
  let expectName = false;
  for (let i = 0; i < text.length && (found.length < max || inexact.length < max); i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39) /* 0-9 */) {
      // (a number, outside any string: strings are skipped whole below)
      let j = i + 1;
      while (j < text.length && /[0-9eE+\-.]/.test(text[j]!)) j++;
      if (inexact.length < max && !numberReadsExactly(text.slice(i, j))) inexact.push(frames.map((f) => f.at));
      i = j - 1;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) {
          escaped = true;
          j++;
        } else if (d === 0x22) break;
      }
      const top = frames.at(-1);
      if (expectName && top?.names) {
        // (a name spelt with escapes is the same member as its plain spelling)
        const name = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        top.at = name;
        if (top.names.has(name)) {
          if (found.length < max) found.push(frames.map((f) => f.at));
        }
        else top.names.add(name);
        expectName = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      frames.push({ names: new Set(), at: "" });
      expectName = true;
    } else if (c === 0x5b /* [ */) {
      frames.push({ names: undefined, at: 0 });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      frames.pop();
      expectName = false;
    } else if (c === 0x2c /* , */) {
      const top = frames.at(-1);
      if (top?.names) expectName = true;
      else if (top) top.at = (top.at as number) + 1;
    }
  }
  return { twice: found, inexact };
}

/**
 * Whether the JSON number `literal` is, read exactly (as a decimal), the number JSON.parse reads:
 * the same decimal value as the shortest text of that double, which is what `JSON.stringify`, so
 * the logger, writes. Other spellings of that value (`1e0`, `1.50`, `-0`) read alike everywhere
 * and pass; `9007199254740993` (JSON.parse: 9007199254740992), `0.1000000000000000000001` or
 * `1e400` (Infinity) do not: a reader keeping numbers exactly shows another value than the one
 * hashed.
 *
 * @example
 * numberReadsExactly("9007199254740992"); // true
 * numberReadsExactly("9007199254740993"); // false
 */
export function numberReadsExactly(literal: string): boolean {
  const value = Number(literal);
  if (!Number.isFinite(value)) return false;
  const a = decimalOf(literal);
  const b = decimalOf(JSON.stringify(value));
  return a !== undefined && b !== undefined && a.digits === b.digits && a.exponent === b.exponent && (a.digits === "" || a.negative === b.negative);
}

/** A JSON number as sign, significant digits (no leading or trailing zeros; "" for zero) and the power of ten of the last one; undefined if it is none. */
function decimalOf(literal: string): { negative: boolean; digits: string; exponent: number } | undefined {
  const m = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(literal);
  if (!m) return undefined;
  const frac = m[3] ?? "";
  let digits = (m[2]! + frac).replace(/^0+/, "");
  let exponent = Number(m[4] ?? "0") - frac.length;
  const kept = digits.replace(/0+$/, "");
  exponent += digits.length - kept.length;
  digits = kept;
  // (an exponent beyond 2^53 cannot be compared as a double: Number() made the value 0 or Infinity)
  if (!Number.isSafeInteger(exponent)) return undefined;
  return { negative: m[1] === "-", digits, exponent: digits === "" ? 0 : exponent };
}

/** A place as text: `records.persona_activities[1].description`. */
export function jsonPathText(p: JsonPath): string {
  return p.map((x, k) => (typeof x === "number" ? `[${x}]` : `${k === 0 ? "" : "."}${x}`)).join("");
}
