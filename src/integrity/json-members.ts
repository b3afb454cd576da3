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
  const found: JsonPath[] = [];
  // each open object (its member names so far) or array, and the member or index being read
  const frames: Array<{ names: Set<string> | undefined; at: string | number }> = [];
  let expectName = false;
  for (let i = 0; i < text.length && found.length < max; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
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
        if (top.names.has(name)) found.push(frames.map((f) => f.at));
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
  return found;
}

/** A place as text: `records.persona_activities[1].description`. */
export function jsonPathText(p: JsonPath): string {
  return p.map((x, k) => (typeof x === "number" ? `[${x}]` : `${k === 0 ? "" : "."}${x}`)).join("");
}
