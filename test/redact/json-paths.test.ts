import { describe, expect, it } from "vitest";
import { matchingJsonSpans } from "../../src/pipeline/json-paths.js";
import { Redactor } from "../../src/pipeline/redact.js";

const endsWithPassword = (p: readonly string[]) => p[p.length - 1] === "password";
const spansOf = (text: string) => matchingJsonSpans(text, [], endsWithPassword)?.filter((s) => s.kind === "named").map(({ start, end }) => text.slice(start, end));

describe("matchingJsonSpans: where in a JSON text the values are that a path names", () => {
  it("through the redactor: strings inside JSON text are redacted as what they decode to (an escape before a secret is not a letter), re-encoded so the text stays JSON; with or without path rules", () => {
    const note = "Hi,\nbob@example.com\nCard:\n4111 1111 1111 1111\nSSN:\t123-45-6789\nkey:\nAKIAIOSFODNN7EXAMPLE";
    for (const paths of [[], ["*.password"]]) {
      const r = new Redactor({ paths });
      const counts = {};
      const args = "  " + JSON.stringify({ password: "x", note, n: 4111111111111111, nested: JSON.stringify({ mail: "carol@example.com" }) });
      const out = r.redactValue({ args }, counts) as { args: string };
      const data = JSON.parse(out.args) as { password: string; note: string; n: unknown; nested: string };
      expect(data.note).toBe("Hi,\n[REDACTED:email]\nCard:\n[REDACTED:credit_card]\nSSN:\t[REDACTED:us_ssn]\nkey:\n[REDACTED:aws_access_key]");
      expect(data.n).toBe("[REDACTED:credit_card]");
      expect(JSON.parse(data.nested)).toEqual({ mail: "[REDACTED:email]" });
      // (without a path, the `credential` rule takes a password-named member's value whatever it is)
      expect(data.password).toBe(paths.length ? "[REDACTED:path]" : "[REDACTED:credential]");
      expect(out.args.startsWith("  {")).toBe(true);
    }
    // a value known by its key's label is found also when it holds something else too
    const labelled = new Redactor({}).redactValue(
      { args: JSON.stringify({ authorization: "Basic dXNlcjpwYXNzd29yZA== user bob@example.com", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ssn 219-09-9999" }) },
      {},
    ) as { args: string };
    // (a secret's member redacted only in part goes whole, since 2026-12-06: the rest is the
    // secret's too; an authorization member keeps its scheme and what follows)
    expect(JSON.parse(labelled.args)).toEqual({ authorization: "Basic [REDACTED:bearer] user [REDACTED:email]", SecretAccessKey: "[REDACTED:credential]" });
    // the same members in an object (tool parameters, metadata, headers): known by their key too
    // (only the JSON text's were; the object's were written in plaintext, found by review, 2026-12-04)
    const asObject = new Redactor({}).redactValue(
      { aws_secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", headers: { Authorization: "Basic dXNlcjpwYXNzd29yZDEyMw==" }, list: [{ SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ssn 219-09-9999" }], note: "plain text" },
      {},
    );
    expect(asObject).toEqual({
      aws_secret_access_key: "[REDACTED:aws_secret_key]",
      headers: { Authorization: "Basic [REDACTED:bearer]" },
      list: [{ SecretAccessKey: "[REDACTED:credential]" }],
      note: "plain text",
    });
    const inMap = new Redactor({}).redactValue(new Map([["authorization", "Basic dXNlcjpwYXNzd29yZDEyMw=="]]), {}) as Map<string, string>;
    expect(inMap.get("authorization")).toBe("Basic [REDACTED:bearer]");
    // a member whose opening brace is spelled as an escape is JSON all the same
    const r = new Redactor({ paths: ["*.password"] });
    const out = r.redactValue({ args: '{"a":"\\u007b\\"password\\":\\"hunter2\\"}"}' }, {}) as { args: string };
    expect(out.args).not.toContain("hunter2");
  });

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

  it("JSON encoded twice (a string member holding JSON) is scanned too; text that only looks like JSON (a bad escape) is text, and costs nothing else", () => {
    const r = new Redactor({ paths: ["*.password"] });
    const counts = {};
    const out = r.redactValue({ args: JSON.stringify({ inner: JSON.stringify({ password: "hunter2", n: 1 }), keep: "{not json" }) }, counts) as { args: string };
    expect(out.args).not.toContain("hunter2");
    expect(JSON.parse(JSON.parse(out.args).inner)).toEqual({ password: "[REDACTED:path]", n: 1 });
    expect(JSON.parse(out.args).keep).toBe("{not json");
    expect(counts).toEqual({ path: 1 });
    for (const bad of ['{"password":"\\x41"}', '{"password":"\\u12"}', '{"a\\q":1,"password":"secret"}']) {
      expect(matchingJsonSpans(bad, [], endsWithPassword), bad).toBeUndefined();
      expect(r.redactValue({ other: "keep", args: bad }, {}), bad).toEqual({ other: "keep", args: bad });
    }
  });

  it("a token put in JSON text is final: user patterns do not rewrite it or count it again", () => {
    const r = new Redactor({ paths: ["*.password"], replacement: "hmac", hmacKey: Buffer.alloc(32, 7), patterns: [{ name: "hex12", pattern: "\\b[0-9a-f]{12}\\b" }] });
    const counts = {};
    const out = r.redactValue({ args: '{"password":"hunter2","id":"0123456789ab"}' }, counts) as { args: string };
    expect(out.args).toMatch(/^\{"password":"\[REDACTED:path:[0-9a-f]{12}\]","id":"\[REDACTED:hex12:[0-9a-f]{12}\]"\}$/);
    expect(counts).toEqual({ path: 1, hex12: 1 });
  });
});
