import { describe, expect, it } from "vitest";
import { Redactor, type RedactionCounts } from "../../src/pipeline/redact.js";

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

const paths = ["parameters.apiKey", "headers.authorization", "*.password", "db.*.secret"];

describe("redactValue", () => {
  it("redacts strings at any depth in objects and arrays", () => {
    const r = new Redactor({});
    const counts: RedactionCounts = {};
    const input = {
      to: ["alice@example.com", "bob@example.com"],
      nested: { deeper: [{ note: "call +1 415 555 2671" }, 42, true, null] },
      plain: "nothing here",
    };
    expect(r.redactValue(input, counts)).toEqual({
      to: ["[REDACTED:email]", "[REDACTED:email]"],
      nested: { deeper: [{ note: "call [REDACTED:phone]" }, 42, true, null] },
      plain: "nothing here",
    });
    expect(counts).toEqual({ email: 2, phone: 1 });
  });

  it("replaces values under key paths whole: nested, in arrays, case-insensitive, any value type", () => {
    const r = new Redactor({ paths });
    const counts: RedactionCounts = {};
    const input = {
      apiKey: "k-live-123",
      query: "weather in Paris",
      request: { headers: { Authorization: "Custom abc", Accept: "application/json" } },
      users: [
        { name: "a", password: "hunter2" },
        { name: "b", Password: { hash: "x", salt: "y" } },
      ],
      db: { primary: { secret: 12345, host: "db1" }, replica: { secret: ["s1"], host: "db2" } },
      other: { apiKey: "not under parameters" },
    };
    expect(r.redactValue(input, counts, "parameters")).toEqual({
      apiKey: "[REDACTED:path]",
      query: "weather in Paris",
      request: { headers: { Authorization: "[REDACTED:path]", Accept: "application/json" } },
      users: [
        { name: "a", password: "[REDACTED:path]" },
        { name: "b", Password: "[REDACTED:path]" },
      ],
      db: { primary: { secret: "[REDACTED:path]", host: "db1" }, replica: { secret: "[REDACTED:path]", host: "db2" } },
      // (no path names it; the `credential` rule takes a secret-named member's value whole)
      other: { apiKey: "[REDACTED:credential]" },
    });
    expect(counts).toEqual({ path: 6, credential: 1 });
  });

  it("matches the path given for the value itself, and a top-level key with *.", () => {
    const r = new Redactor({ paths: ["parameters.apiKey", "*.password"] });
    const counts: RedactionCounts = {};
    expect(r.redactValue("sk-whatever", counts, "parameters.apiKey")).toBe("[REDACTED:path]");
    expect(r.redactValue({ password: "p" }, counts)).toEqual({ password: "[REDACTED:path]" });
    // not under "parameters": no path names it (the `credential` rule takes a secret-named member)
    expect(r.redactValue({ apiKey: "k" }, counts)).toEqual({ apiKey: "[REDACTED:credential]" });
    expect(counts).toEqual({ path: 2, credential: 1 });
  });

  it("hmac mode: whole-value tokens are equal for equal values, also for objects with keys in another order", () => {
    const r = new Redactor({ paths: ["password", "config"], replacement: "hmac", hmacKey: Buffer.alloc(32, 3) });
    const out = r.redactValue(
      [{ password: "hunter2" }, { password: "hunter2" }, { password: "other" }, { config: { a: 1, b: [2] } }, { config: { b: [2], a: 1 } }],
      {},
    ) as Array<Record<string, string>>;
    const tok = out.map((o) => Object.values(o)[0]!);
    for (const t of tok) expect(t).toMatch(/^\[REDACTED:path:[0-9a-f]{12}\]$/);
    expect(tok[0]).toBe(tok[1]);
    expect(tok[0]).not.toBe(tok[2]);
    expect(tok[3]).toBe(tok[4]);
  });

  it("never mutates its input and returns new objects", () => {
    const r = new Redactor({ paths });
    const input = deepFreeze({
      apiKey: "x",
      list: [{ password: "p", mail: "alice@example.com" }],
      headers: { authorization: "Bearer abcdef1234567890" },
      when: new Date(0),
    });
    const before = structuredClone(input);
    const out = r.redactValue(input, {}, "parameters") as typeof input;
    expect(input).toEqual(before);
    expect(out).not.toBe(input);
    expect(out.list).not.toBe(input.list);
    expect(out.list[0]).not.toBe(input.list[0]);
    expect(out.when).toEqual(input.when);
    expect(out.when).not.toBe(input.when);
  });

  it('leaves "[Circular]" for cycles, and redacts shared (non-cyclic) references at each place', () => {
    const r = new Redactor({});
    const shared = { mail: "alice@example.com" };
    const a: Record<string, unknown> = { name: "a", shared, again: shared };
    a.self = a;
    const list: unknown[] = ["bob@example.com"];
    list.push(list);
    a.list = list;
    const counts: RedactionCounts = {};
    expect(r.redactValue(a, counts)).toEqual({
      name: "a",
      shared: { mail: "[REDACTED:email]" },
      again: { mail: "[REDACTED:email]" },
      self: "[Circular]",
      list: ["[REDACTED:email]", "[Circular]"],
    });
    expect(counts).toEqual({ email: 3 });
  });

  it("redacts object keys, keeping colliding keys apart", () => {
    const r = new Redactor({});
    const counts: RedactionCounts = {};
    expect(r.redactValue({ "alice@example.com": 1, "bob@example.com": 2, ok: 3 }, counts)).toEqual({
      "[REDACTED:email]": 1,
      "[REDACTED:email]#2": 2,
      ok: 3,
    });
    expect(counts).toEqual({ email: 2 });
  });

  it("redacts card numbers stored as numbers or bigints; other numbers stay numbers", () => {
    const r = new Redactor({});
    const counts: RedactionCounts = {};
    expect(r.redactValue({ card: 4111111111111111, big: 5555555555554444n, ts: 1718000000123, n: 42, f: 3.5 }, counts)).toEqual({
      card: "[REDACTED:credit_card]",
      big: "[REDACTED:credit_card]",
      ts: 1718000000123,
      n: 42,
      f: 3.5,
    });
    expect(counts).toEqual({ credit_card: 2 });
  });

  it("copies Maps, Sets and Errors with their text redacted; keeps binary and primitives as they are", () => {
    const r = new Redactor({ paths: ["token"] });
    const bytes = new Uint8Array([1, 2, 3]);
    const err = Object.assign(new Error("failed for alice@example.com"), { code: "E_MAIL" });
    const out = r.redactValue(
      { m: new Map<string, unknown>([["bob@example.com", "x"], ["token", "t-1"]]), s: new Set(["123-45-6789"]), err, bytes, u: undefined, b: false },
      {},
    ) as { m: Map<string, unknown>; s: Set<string>; err: Record<string, unknown>; bytes: Uint8Array; u: undefined; b: boolean };
    expect([...out.m]).toEqual([["[REDACTED:email]", "x"], ["token", "[REDACTED:path]"]]);
    expect([...out.s]).toEqual(["[REDACTED:us_ssn]"]);
    expect(out.err.message).toBe("failed for [REDACTED:email]");
    expect(out.err.code).toBe("E_MAIL");
    expect(String(out.err.stack)).not.toContain("alice@example.com");
    expect(out.bytes).toBe(bytes);
    expect(out).toHaveProperty("u", undefined);
    expect(out.b).toBe(false);
  });

  it("uses toJSON of class instances and survives throwing getters", () => {
    const r = new Redactor({});
    class Contact {
      toJSON() {
        return { email: "carol@example.com" };
      }
    }
    const tricky = Object.defineProperty({ ok: "dave@example.com" }, "boom", {
      enumerable: true,
      get() {
        throw new Error("no access");
      },
    });
    expect(r.redactValue({ c: new Contact(), tricky }, {})).toEqual({
      c: { email: "[REDACTED:email]" },
      tricky: { ok: "[REDACTED:email]", boom: "[Unreadable: no access]" },
    });
  });

  it("a __proto__ key stays a plain own property", () => {
    const r = new Redactor({});
    const input = JSON.parse('{"__proto__": {"polluted": "alice@example.com"}}') as Record<string, unknown>;
    const out = r.redactValue(input, {}) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out, "__proto__")?.value).toEqual({ polluted: "[REDACTED:email]" });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  // Found by review 2026-12-04: only the members of objects and Maps were read with their key as
  // label or reached by key paths, so headers as arrays (Node's req.rawHeaders, [...headers],
  // Object.entries) kept Basic credentials and cookies.
  it("headers as a flat [name, value, ...] list or as [name, value] entries are read as members: labels and key paths reach their values", () => {
    const r = new Redactor({ paths: ["*.cookie", "*.password"] });
    const counts: RedactionCounts = {};
    const input = {
      rawHeaders: ["Host", "api.example.com", "Authorization", "Basic YWxpY2U6UkFXSEVBREVSUFc=", "Cookie", "sid=COOKIESECRET123"],
      http2: [":authority", "api.example.com", "authorization", "Basic b25lOlRXT1RIUkVF"],
      entries: [["authorization", "Basic ZW50cmllczpFTlRSWVBX"], ["cookie", "sid=ENTRYCOOKIE456"], ["accept", "*/*"]],
      fields: Object.entries({ user: "k", password: "hunter2-E" }),
    };
    expect(r.redactValue(input, counts, "context")).toEqual({
      rawHeaders: ["Host", "api.example.com", "Authorization", "Basic [REDACTED:bearer]", "Cookie", "[REDACTED:path]"],
      http2: [":authority", "api.example.com", "authorization", "Basic [REDACTED:bearer]"],
      entries: [["authorization", "Basic [REDACTED:bearer]"], ["cookie", "[REDACTED:path]"], ["accept", "*/*"]],
      fields: [["user", "k"], ["password", "[REDACTED:path]"]],
    });
    expect(counts).toEqual({ bearer: 3, path: 3 });
  });

  it("a member whose value is a list of strings (a multi-value header: Node's set-cookie, node-fetch's raw()) is read with its key as label, each item", () => {
    const r = new Redactor({});
    const counts: RedactionCounts = {};
    const input = {
      "set-cookie": ["sid=COOKIESECRET123; Path=/; HttpOnly", "theme=dark"],
      authorization: ["Basic YWxpY2U6UkFXSEVBREVSUFc="],
      "x-api-key": ["Zx9Qw8Er7Ty6Ui5Op4"],
      accept: ["text/html", "mail bob@example.com"],
      rawHeaders: ["Authorization", "Basic b25lOlRXT1RIUkVF"],
    };
    const out = r.redactValue(input, counts) as Record<string, string[]>;
    expect(out).toEqual({
      "set-cookie": ["[REDACTED:cookie]", "[REDACTED:cookie]"],
      authorization: ["Basic [REDACTED:bearer]"],
      "x-api-key": ["[REDACTED:credential]"],
      accept: ["text/html", "mail [REDACTED:email]"],
      // a flat header list stays one: its names label its values
      rawHeaders: ["Authorization", "Basic [REDACTED:bearer]"],
    });
    expect(counts).toEqual({ cookie: 2, bearer: 2, credential: 1, email: 1 });
  });

  it("ordinary string arrays are not read as headers, also where a word is a key a path names", () => {
    const r = new Redactor({ paths: ["*.a", "*.password", "*.token"] });
    const counts: RedactionCounts = {};
    const input = {
      words: ["a", "b", "c", "d"],
      fields: ["password", "email"],
      pair: ["token", "refresh"],
      odd: ["Authorization", "Basic YWxpY2U6UkFXSEVBREVSUFc=", "x"],
      mixed: [["a", "b"], "c"],
      sentence: ["my authorization is", "tokenish"],
    };
    expect(r.redactValue(input, counts)).toEqual(input);
    expect(counts).toEqual({});
  });

  it("a member whose name says it is a secret (password, secret, api_key, otp, pin, ...) has its string or number value redacted whatever it looks like; token counts and other names stay", () => {
    const r = new Redactor({});
    const counts: RedactionCounts = {};
    const input = {
      password: "sunshine",
      otp: 482913,
      pin: 1234,
      passcode: "4829",
      verification_code: 482913,
      client_secret: "abc",
      apiKey: "k",
      api_key: "dev",
      private_key: "notakey",
      accessToken: "abc",
      authorization: "letmein",
      JSESSIONID: "abc",
      db: { pwd: "hunter" },
      // kept: nothing to hide, or what the text rule keeps after such a label
      empty: { password: "", secret: null, otp: true, pin: false, token_secret: "  " },
      refs: { password: "${DB_PASSWORD}", secret: "process.env.SECRET", apiKey: "config.apiKey2", PWD: "/home/bob" },
      // kept: names of counts, sizes and things about a secret, and words that only look like one
      tokens: 512,
      max_tokens: 4096,
      token_count: 3,
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
      logprobs: { content: [{ token: "Hello", logprob: -0.1 }] },
      pinned: true,
      keyboard: "qwerty",
      cacheKey: "v2",
      sessionId: "conv_1",
      password_hash: "x",
      refresh_token_expires_in: 3600,
      cookies: 3,
      zip_code: 94105,
      code: "print(1)",
      led_pin: 13,
      pin_mode: "main",
      gpio: { pin: "A0" },
      key: "name",
    };
    expect(r.redactValue(input, counts)).toEqual({
      ...input,
      password: "[REDACTED:credential]",
      otp: "[REDACTED:credential]",
      pin: "[REDACTED:credential]",
      passcode: "[REDACTED:credential]",
      verification_code: "[REDACTED:credential]",
      client_secret: "[REDACTED:credential]",
      apiKey: "[REDACTED:credential]",
      api_key: "[REDACTED:credential]",
      private_key: "[REDACTED:credential]",
      accessToken: "[REDACTED:credential]",
      authorization: "[REDACTED:credential]",
      JSESSIONID: "[REDACTED:credential]",
      db: { pwd: "[REDACTED:credential]" },
    });
    expect(counts).toEqual({ credential: 13 });

    // in a Map, a JSON text (a tool call's arguments) and a list of entries too; a value the
    // text rules redact in part keeps what they keep (Authorization's scheme)
    const more: RedactionCounts = {};
    const args = JSON.stringify({ password: "sunshine", otp: 482913, max_tokens: 10, token: "Hi", n: 4 });
    expect(r.redactValue({ m: new Map([["password", "sunshine"]]), args, entries: [["pin", 1234]], headers: { Authorization: "Bearer abcdefgh1234" } }, more)).toEqual({
      m: new Map([["password", "[REDACTED:credential]"]]),
      args: JSON.stringify({ password: "[REDACTED:credential]", otp: "[REDACTED:credential]", max_tokens: 10, token: "Hi", n: 4 }),
      entries: [["pin", "[REDACTED:credential]"]],
      headers: { Authorization: "Bearer [REDACTED:bearer]" },
    });
    expect(more).toEqual({ credential: 4, bearer: 1 });

    // hmac tokens correlate equal values; without the `credential` rule the members stay
    const h = new Redactor({ replacement: "hmac", hmacKey: Buffer.alloc(32, 3) });
    const [a, b] = h.redactValue([{ password: "sunshine" }, { pwd: "sunshine" }], {}) as Array<Record<string, string>>;
    expect(a!.password).toMatch(/^\[REDACTED:credential:[0-9a-f]{12}\]$/);
    expect(b!.pwd).toBe(a!.password);
    const off = new Redactor({ rules: ["email"] });
    expect(off.redactValue({ password: "sunshine", otp: 482913 }, {})).toEqual({ password: "sunshine", otp: 482913 });
  });

  it("a member named for a model's token (eos_token, pad_token), a count (max_token: 100), an e-mail's signature or an auth mode keeps its value; a credential's shape still goes", () => {
    const r = new Redactor({});
    const counts: RedactionCounts = {};
    // (a tokenizer's config and a generation's settings, as a tool's result or a model's request
    // carry them; an e-mail tool's arguments; a client's settings)
    const input = {
      tokenizer: { bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", pad_token: "<pad>", sep_token: "[SEP]", mask_token: "[MASK]", eot_token: "<|eot_id|>", special_token: "<|im_end|>" },
      generation: { stop_token: "###", start_token: "BEGIN", end_token: "END", max_token: 100, output_token: 50, total_token: 3 },
      send_email: { to: "team", subject: "Weekly update", signature: "Best regards, Bob", email_signature: "Best, Bob" },
      client: { auth: "none", oauth: "enabled" },
      // (a page's cursor, as AWS's and Google's APIs return it: one of a credential's shape goes by the text rule)
      pages: { NextToken: "2", next_page_token: "CAoQAA", pageToken: "abc" },
    };
    expect(r.redactValue(input, counts)).toEqual(input);
    expect(JSON.parse(r.redactText(JSON.stringify(input), counts) as string)).toEqual(input);
    expect(counts).toEqual({});
    // (a credential's shape under those names still goes, by the text rules; other token names whole)
    const shaped: RedactionCounts = {};
    expect(r.redactValue({ signature: "k8Jd93LsQ0pXz7Vb2Nq4Rt6Yw1", access_token: "abc", auth_token: "x1" }, shaped)).toEqual({
      signature: "[REDACTED:credential]",
      access_token: "[REDACTED:credential]",
      auth_token: "[REDACTED:credential]",
    });
  });

  it("a member named `*_pass` reads as the text rule reads the label: after what it opens (db_pass) any value goes; a stage's or ticket's (first_pass) stays; another word's only in a credential's shape", () => {
    const r = new Redactor({});
    const counts: RedactionCounts = {};
    const input = {
      first_pass: 12345,
      skip_pass: true,
      FIRST_PASS: "12345",
      second_pass: "2",
      render_pass: "Secret123",
      boarding_pass: 12345678,
      multiPass: 3,
      GRAFANA_PASS: 123456,
      custom_pass: "hunter",
      db_pass: 12345,
      DB_PASS: "hunter",
      smtpPass: 123456,
      GRAFANA_PASS2: "Secret123",
      args: '{"first_pass":12345,"skip_pass":true,"db_pass":12345}',
    };
    expect(r.redactValue(input, counts)).toEqual({
      ...input,
      db_pass: "[REDACTED:credential]",
      DB_PASS: "[REDACTED:credential]",
      smtpPass: "[REDACTED:credential]",
      GRAFANA_PASS2: "[REDACTED:credential]",
      args: '{"first_pass":12345,"skip_pass":true,"db_pass":"[REDACTED:credential]"}',
    });
    expect(counts).toEqual({ credential: 5 });
  });

  it("a secret's member whose value the text rules redact only in part goes whole (the rest is the secret's too); an Authorization header keeps its scheme", () => {
    const r = new Redactor({});
    const counts: RedactionCounts = {};
    expect(
      r.redactValue({ password: "pw with bob@x.com", db: { client_secret: "tok bob@x.com end" }, headers: { Authorization: "Bearer abcdefgh1234", "Proxy-Authorization": "Basic YWxpY2U6UkFXSEVBREVSUFc=" }, note: "mail bob@x.com" }, counts),
    ).toEqual({
      password: "[REDACTED:credential]",
      db: { client_secret: "[REDACTED:credential]" },
      headers: { Authorization: "Bearer [REDACTED:bearer]", "Proxy-Authorization": expect.stringMatching(/^Basic \[REDACTED:[a-z_]+\]$/) },
      note: "mail [REDACTED:email]",
    });
    // (counted once each, under the rule that wrote what is left: not the email the partial pass saw)
    expect(counts.credential).toBe(2);
    expect(counts.email).toBe(1);
  });
});
