/**
 * The tokens of a JSON text that redaction looks at, with their places: for redacting a string
 * that holds JSON (a tool call's `arguments`, as the OpenAI API sends them) as the data it holds
 * without parsing and re-serialising it. What is between the tokens (punctuation, whitespace) and
 * every token left alone stay exactly as they are (number spellings, key order, duplicate keys).
 */

/**
 * One token's place in the text, `[start, end)`: a value whose key path a rule names (`named`,
 * nothing inside it is a token of its own), a key (`key`, with its decoded `text`), a string
 * value (`string`, with its path: it may hold JSON itself; and the decoded `text` of its key,
 * when it is an object member) or a number (`number`; with its key's `text` too).
 */
export interface JsonSpan {
  readonly start: number;
  readonly end: number;
  readonly kind: "named" | "key" | "string" | "number";
  readonly path?: readonly string[];
  readonly text?: string;
}

/** Nesting deeper than this is not scanned (the caller then treats the string as plain text). */
const MAX_JSON_DEPTH = 64;

/** Thrown inside the scanner for text that is not JSON (not an Error: no stack is taken). */
const NOT_JSON = Symbol("not JSON");

const HEX4 = /^[0-9A-Fa-f]{4}$/;

/** A JSON number, `true`, `false` or `null`, whole. */
const LITERAL = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)$/;

/**
 * The tokens of `text` (a whole JSON document), in text order: the values whose key path
 * (`prefix` then the keys down to the value, lowercase, array indices left out) `matches`, and
 * the keys, string values and numbers outside them. Undefined when `text` is not JSON, or nests
 * deeper than 64 levels.
 */
export function matchingJsonSpans(text: string, prefix: readonly string[], matches: (path: readonly string[]) => boolean): JsonSpan[] | undefined {
  const scanner = new Scanner(text, matches);
  try {
    let i = scanner.ws(0);
    i = scanner.value(i, [...prefix], 0);
    if (scanner.ws(i) !== text.length) return undefined;
  } catch (err) {
    if (err === NOT_JSON) return undefined;
    throw err;
  }
  return scanner.spans;
}

class Scanner {
  readonly spans: JsonSpan[] = [];
  /** > 0 while scanning a value that is a span */
  private inside = 0;
  constructor(
    private readonly text: string,
    private readonly matches: (path: readonly string[]) => boolean,
  ) {}

  ws(i: number): number {
    const t = this.text;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else return i;
    }
  }

  /** Scans the value at `i` (no leading whitespace) whose key path is `path`; returns its end. */
  value(i: number, path: string[], depth: number): number {
    if (depth > MAX_JSON_DEPTH) throw NOT_JSON;
    const c = this.text.charCodeAt(i);
    let end: number;
    if (c === 123 /* { */) end = this.object(i, path, depth);
    else if (c === 91 /* [ */) end = this.array(i, path, depth);
    else if (c === 34 /* " */) end = this.string(i);
    else end = this.literal(i);
    return end;
  }

  /** A member's value: a span when its path matches (nothing inside it is a span of its own). */
  private member(i: number, path: string[], depth: number, key?: string): number {
    if (this.inside === 0 && this.matches(path)) {
      this.inside++;
      const end = this.value(i, path, depth + 1);
      this.inside--;
      this.spans.push({ start: i, end, kind: "named" });
      return end;
    }
    const end = this.value(i, path, depth + 1);
    if (this.inside === 0) {
      const c = this.text.charCodeAt(i);
      if (c === 34) this.spans.push(key === undefined ? { start: i, end, kind: "string", path: [...path] } : { start: i, end, kind: "string", path: [...path], text: key });
      else if (c === 45 || (c >= 48 && c <= 57)) this.spans.push(key === undefined ? { start: i, end, kind: "number" } : { start: i, end, kind: "number", text: key });
    }
    return end;
  }

  private object(i: number, path: string[], depth: number): number {
    const t = this.text;
    i = this.ws(i + 1);
    if (t.charCodeAt(i) === 125 /* } */) return i + 1;
    for (;;) {
      if (t.charCodeAt(i) !== 34) throw NOT_JSON;
      const keyEnd = this.string(i);
      // (a key with no escape in it is its own text)
      const key = this.escaped ? (JSON.parse(t.slice(i, keyEnd)) as string) : t.slice(i + 1, keyEnd - 1);
      if (this.inside === 0) this.spans.push({ start: i, end: keyEnd, kind: "key", text: key });
      i = this.ws(keyEnd);
      if (t.charCodeAt(i) !== 58 /* : */) throw NOT_JSON;
      i = this.ws(i + 1);
      path.push(key.toLowerCase());
      i = this.member(i, path, depth, key);
      path.pop();
      i = this.ws(i);
      const c = t.charCodeAt(i);
      if (c === 125) return i + 1;
      if (c !== 44 /* , */) throw NOT_JSON;
      i = this.ws(i + 1);
    }
  }

  private array(i: number, path: string[], depth: number): number {
    const t = this.text;
    i = this.ws(i + 1);
    if (t.charCodeAt(i) === 93 /* ] */) return i + 1;
    for (;;) {
      // (array indices are not part of a path: an item has its array's path)
      i = this.member(i, path, depth);
      i = this.ws(i);
      const c = t.charCodeAt(i);
      if (c === 93) return i + 1;
      if (c !== 44) throw NOT_JSON;
      i = this.ws(i + 1);
    }
  }

  /** whether the last string token scanned had an escape in it */
  private escaped = false;

  /** The end of the string token at `i` (its closing quote + 1). */
  private string(i: number): number {
    const t = this.text;
    this.escaped = false;
    for (let j = i + 1; j < t.length; j++) {
      const c = t.charCodeAt(j);
      if (c === 92 /* \ */) {
        this.escaped = true;
        const e = t.charCodeAt(j + 1);
        // one of \" \\ \/ \b \f \n \r \t, or \u and four hex digits (else JSON.parse would throw)
        if (e === 117 /* u */) {
          if (!HEX4.test(t.slice(j + 2, j + 6))) throw NOT_JSON;
          j += 5;
        } else if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) j++;
        else throw NOT_JSON;
      } else if (c === 34) return j + 1;
      else if (c < 32) throw NOT_JSON;
    }
    throw NOT_JSON;
  }

  /** The end of a number, `true`, `false` or `null` at `i` (checked by JSON.parse). */
  private literal(i: number): number {
    const t = this.text;
    let j = i;
    for (; j < t.length; j++) {
      const c = t.charCodeAt(j);
      if (c === 44 || c === 125 || c === 93 || c === 32 || c === 9 || c === 10 || c === 13) break;
    }
    if (!LITERAL.test(t.slice(i, j))) throw NOT_JSON;
    return j;
  }
}
