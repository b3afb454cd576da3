import { describe, expect, it } from "vitest";
import { matchingJsonSpans } from "../../src/pipeline/json-paths.js";
import { Redactor } from "../../src/pipeline/redact.js";

const endsWithPassword = (p: readonly string[]) => p[p.length - 1] === "password";
const spansOf = (text: string) => matchingJsonSpans(text, [], endsWithPassword)?.map(({ start, end }) => text.slice(start, end));

describe("matchingJsonSpans: where in a JSON text the values are that a path names", () => {
  it("finds values at any depth, in arrays, under escaped keys, with escapes inside strings; an outer match hides what is inside it", () => {
    expect(spansOf('{"a":{"password":"x\\"y\\\\"},"list":[{"PASSWORD":12.50},{"pass\\u0077ord":null}]}')).toEqual(['"x\\"y\\\\"', "12.50", "null"]);
    expect(spansOf('{"password":{"password":"inner"}}')).toEqual(['{"password":"inner"}']);
    expect(spansOf('  [ {"password" :  true } ]  ')).toEqual(["true"]);
    expect(spansOf('{"note":"password"}')).toEqual([]);
  });

  it("is undefined for what is not one JSON document, or nests deeper than 64 levels", () => {
    for (const text of ["[INFO] password", '{"password":}', '{"password":"x"', '{"password":"x"} trailing', "[1,]", '{"a" "b"}', '{"password":tru}', '["line\nbreak"]']) {
      expect(matchingJsonSpans(text, [], endsWithPassword), text).toBeUndefined();
    }
    const deep = "[".repeat(70) + '{"password":"x"}' + "]".repeat(70);
    expect(matchingJsonSpans(deep, [], endsWithPassword)).toBeUndefined();
  });

  it("through the redactor: the token for a value in JSON text is the one it gets as a member of an object (hmac); the rest of the text is kept", () => {
    const r = new Redactor({ paths: ["*.password"], replacement: "hmac", hmacKey: Buffer.alloc(32, 7) });
    const asMember = r.redactValue({ args: { password: { a: 1, b: [2] } } }, {}) as { args: { password: string } };
    const counts = {};
    const inText = r.redactValue({ args: '{ "password" : {"b":[2],"a":1}, "n": 1e2 }' }, counts) as { args: string };
    expect(inText.args).toBe(`{ "password" : ${JSON.stringify(asMember.args.password)}, "n": 1e2 }`);
    expect(counts).toEqual({ path: 1 });
  });

  it("a key spelled with escapes is still found (the quick test for a rule's key in the text does not skip it)", () => {
    const r = new Redactor({ paths: ["*.password"] });
    const out = r.redactValue({ args: '{"pass\\u0077ord":"hunter2"}' }, {}) as { args: string };
    expect(out.args).toBe('{"pass\\u0077ord":"[REDACTED:path]"}');
  });
});
