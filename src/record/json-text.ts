/**
 * JSON text taken verbatim from a request's JSON, for a prompt: the OpenAI integration records
 * the messages the SDK sent as the text they were sent in, cut out of the request body, instead
 * of parsing the body, copying the messages and serialising them again (about a tenth of the
 * record's cost on the app's thread; bench/share-openai.ts). The logger stores `text` as the
 * prompt's JSON (format "json"); with redaction on it parses it first.
 *
 * The text is exactly what was sent: unlike a structured prompt passed to the logger, nothing in
 * it is cut (no 10,000-item or depth-32 limit), and a body serialised by `JSON.stringify` (the
 * SDK's) gives the same text as the messages serialised again.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/**
 * The text of the member `key` of the JSON object whose text is `json`, when that member's value
 * is an array (`"messages": [...]` in a chat request body); undefined when `json` is not an
 * object's text, has no such member, or the member is not an array. See {@link jsonMember}.
 */
export function jsonArrayMember(json: string, key: string): string | undefined {
  const value = jsonMember(json, key);
  return value !== undefined && value.charCodeAt(0) === 0x5b /* [ */ ? value : undefined;
}

/**
 * The text of the value of the member `key` of the JSON object whose text is `json` (a string
 * with its quotes, a number, an object, an array...); undefined when `json` is not an object's
 * text or has no such member. Only the top level is searched, and a well-formed text is assumed
 * (the SDK's own `JSON.stringify` output): strings are skipped with `indexOf` (native), so the
 * scan's cost grows with the number of strings and what lies between them, not with the length
 * of the text.
 */
export function jsonMember(json: string, key: string): string | undefined {
  return jsonMembers(json, [key])[0];
}

/**
 * {@link jsonMember} for several keys in one pass over the text (it stops once every key is
 * found): the values' texts, in the order of `keys`.
 */
export function jsonMembers(json: string, keys: readonly string[]): Array<string | undefined> {
  const found: Array<string | undefined> = new Array<string | undefined>(keys.length).fill(undefined);
  let missing = keys.length;
  let i = skipSpace(json, 0);
  if (json.charCodeAt(i) !== 0x7b /* { */) return found;
  i = skipSpace(json, i + 1);
  while (missing > 0 && i < json.length && json.charCodeAt(i) === 0x22 /* " */) {
    const keyEnd = stringEnd(json, i);
    if (keyEnd < 0) return found;
    const name = json.slice(i + 1, keyEnd - 1);
    i = skipSpace(json, keyEnd);
    if (json.charCodeAt(i) !== 0x3a /* : */) return found;
    const start = skipSpace(json, i + 1);
    const end = valueEnd(json, start);
    if (end < 0) return found;
    // (a key written with escapes is never the one asked for: the SDK writes plain keys)
    const k = keys.indexOf(name);
    if (k >= 0 && found[k] === undefined) {
      found[k] = json.slice(start, end);
      missing--;
    }
    i = skipSpace(json, end);
    if (json.charCodeAt(i) !== 0x2c /* , */) return found;
    i = skipSpace(json, i + 1);
  }
  return found;
}

function skipSpace(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** The index just past the string that starts (with its quote) at `i`, or -1 when it does not end. */
function stringEnd(s: string, i: number): number {
  let q = i;
  for (;;) {
    q = s.indexOf('"', q + 1);
    if (q < 0) return -1;
    // escaped when an odd number of backslashes precede it
    let b = q - 1;
    while (s.charCodeAt(b) === 0x5c /* \ */) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
  }
}

/** The index just past the value that starts at `i`, or -1 when it does not end. */
function valueEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 0x22) return stringEnd(s, i);
  if (c !== 0x5b && c !== 0x7b) {
    // a number, true, false or null: up to the next comma, closing brace or space
    let j = i;
    for (;;) {
      const d = s.charCodeAt(j);
      if (Number.isNaN(d) || d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) return j > i ? j : -1;
      j++;
    }
  }
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    const ch = s.charCodeAt(j);
    if (ch === 0x22) {
      const end = stringEnd(s, j);
      if (end < 0) return -1;
      j = end - 1;
    } else if (ch === 0x5b || ch === 0x7b) depth++;
    else if ((ch === 0x5d || ch === 0x7d) && --depth === 0) return j + 1;
  }
  return -1;
}
