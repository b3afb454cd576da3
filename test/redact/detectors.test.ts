import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { BUILTIN_RULE_NAMES, Redactor, type RedactionCounts } from "../../src/pipeline/redact.js";
import { CANARIES, seededChars } from "./canaries.js";

const HMAC_KEY = Buffer.alloc(32, 9);
const placeholder = new Redactor({});
const hmac = new Redactor({ replacement: "hmac", hmacKey: HMAC_KEY });

function run(r: Redactor, text: string): { out: string; counts: RedactionCounts } {
  const counts: RedactionCounts = {};
  return { out: r.redactText(text, counts), counts };
}

/** Each text redacted by the placeholder redactor to `want`, with one hit per placeholder of `rule`. */
function expectRedacted(rows: ReadonlyArray<readonly [string, string]>, rule: string): void {
  for (const [text, want] of rows) {
    const r = run(placeholder, text);
    expect(r.out, text).toBe(want);
    expect(r.counts, text).toEqual({ [rule]: want.split(`[REDACTED:${rule}]`).length - 1 });
  }
}

/** Each text left unchanged by the placeholder redactor. */
function expectKept(texts: readonly string[]): void {
  for (const text of texts) expect(run(placeholder, text).out, text).toBe(text);
}

describe("built-in detectors", () => {
  it("has a canary for every built-in rule", () => {
    expect(new Set(CANARIES.map((c) => c.rule))).toEqual(new Set(BUILTIN_RULE_NAMES));
  });

  for (const c of CANARIES) {
    it(`${c.rule}: ${JSON.stringify(c.text.slice(0, 60))}`, () => {
      const p = run(placeholder, c.text);
      expect(p.out).not.toContain(c.secret);
      expect(p.out).toContain(`[REDACTED:${c.rule}]`);
      expect(p.counts).toEqual({ [c.rule]: 1 });

      const h = run(hmac, c.text);
      expect(h.out).not.toContain(c.secret);
      expect(h.out).toMatch(new RegExp(`\\[REDACTED:${c.rule}:[0-9a-f]{12}\\]`));
      expect(h.counts).toEqual({ [c.rule]: 1 });
      // the text around the secret survives: only the match itself is replaced
      expect(p.out.replace(`[REDACTED:${c.rule}]`, "")).toBe(h.out.replace(/\[REDACTED:[a-z_]+:[0-9a-f]{12}\]/, ""));
    });
  }

  it("redacts every canary in one text and counts each rule", () => {
    const text = CANARIES.map((c) => c.text).join("\n-- next message --\n");
    const { out, counts } = run(placeholder, text);
    for (const c of CANARIES) expect(out, c.rule).not.toContain(c.secret);
    const expected: RedactionCounts = {};
    for (const c of CANARIES) expected[c.rule] = (expected[c.rule] ?? 0) + 1;
    expect(counts).toEqual(expected);
  });

  it("adds to the counts it is given", () => {
    const counts: RedactionCounts = { email: 2, custom: 1 };
    placeholder.redactText("a@example.com and b@example.com, 123-45-6789", counts);
    expect(counts).toEqual({ email: 4, custom: 1, us_ssn: 1 });
  });

  it("leaves text without secrets as the same string", () => {
    const text = "Summarise the meeting notes from Tuesday; the budget is $12,400 and the deadline 2024-06-30.";
    const { out, counts } = run(placeholder, text);
    expect(out).toBe(text);
    expect(counts).toEqual({});
    expect(run(placeholder, "").out).toBe("");
  });
});

describe("hmac tokens", () => {
  const token = (text: string, r = hmac): string => {
    const m = /\[REDACTED:[a-z_]+:([0-9a-f]{12})\]/.exec(run(r, text).out);
    if (!m) throw new Error(`no token in ${text}`);
    return m[1]!;
  };

  it("are equal for equal values, across calls and within one text", () => {
    expect(token("from alice@example.com")).toBe(token("to alice@example.com!"));
    const { out } = run(hmac, "alice@example.com wrote to alice@example.com");
    const tokens = [...out.matchAll(/\[REDACTED:email:([0-9a-f]{12})\]/g)].map((m) => m[1]);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(tokens[1]);
  });

  it("differ for different values", () => {
    const values = ["alice@example.com", "bob@example.com", "4111 1111 1111 1111", "5555-5555-5555-4444", "123-45-6789", "219-09-9999"];
    const tokens = values.map((v) => token(v));
    expect(new Set(tokens).size).toBe(values.length);
  });

  it("differ under a different key", () => {
    const other = new Redactor({ replacement: "hmac", hmacKey: randomBytes(32) });
    expect(token("alice@example.com", other)).not.toBe(token("alice@example.com"));
  });

  it("are the HMAC-SHA-256 of the value, so holders of the key can correlate offline", async () => {
    const { createHmac } = await import("node:crypto");
    const expected = createHmac("sha256", HMAC_KEY).update("sk_live_" + seededChars(40, 24)).digest("hex").slice(0, 12);
    expect(token(`key sk_live_${seededChars(40, 24)}`)).toBe(expected);
  });

  it("correlate formatting variants of one number (separators, case of e-mail)", () => {
    expect(token("+1 415-555-2671")).toBe(token("+14155552671"));
    expect(token("4111 1111 1111 1111")).toBe(token("4111-1111-1111-1111"));
    expect(token("DE89 3704 0044 0532 0130 00")).toBe(token("DE89370400440532013000"));
    expect(token("Alice@Example.COM")).toBe(token("alice@example.com"));
  });
});

describe("rule order and overlap", () => {
  it("a JWT after Bearer is reported once, as a JWT", () => {
    const canary = CANARIES.find((c) => c.rule === "jwt")!;
    const token = canary.text.split(" ")[1]!;
    const { out, counts } = run(placeholder, `Authorization: Bearer ${token}`);
    expect(out).toBe("Authorization: Bearer [REDACTED:jwt]");
    expect(counts).toEqual({ jwt: 1 });
  });

  it("a vendor key after Bearer is reported as that vendor's key", () => {
    const key = `sk-ant-api03-${seededChars(50, 93)}AA`;
    const { out, counts } = run(placeholder, `Bearer ${key}`);
    expect(out).toBe("Bearer [REDACTED:anthropic]");
    expect(counts).toEqual({ anthropic: 1 });
  });

  it("an e-mail inside a private key block is part of the block", () => {
    const text = "-----BEGIN PRIVATE KEY-----\nowner=bob@example.com\nMIIB\n-----END PRIVATE KEY-----";
    expect(run(placeholder, text)).toEqual({ out: "[REDACTED:private_key]", counts: { private_key: 1 } });
  });

  it("never redacts its own output again (idempotent, both modes)", () => {
    const text = CANARIES.map((c) => c.text).join(" | ");
    for (const r of [placeholder, hmac]) {
      const once = run(r, text).out;
      const twice = run(r, once);
      expect(twice.out).toBe(once);
      expect(twice.counts).toEqual({});
    }
  });

  it("a user pattern that matches placeholder text does not touch placeholders", () => {
    const r = new Redactor({ patterns: [{ name: "word_redacted", pattern: /REDACTED[^\]\s]*/ }] });
    const { out, counts } = run(r, "mail bob@example.com; the word REDACTED appears too");
    expect(out).toBe("mail [REDACTED:email]; the word [REDACTED:word_redacted] appears too");
    expect(counts).toEqual({ email: 1, word_redacted: 1 });
  });

  it("cuts a card number before a trailing expiry group and an IBAN before a trailing word", () => {
    expect(run(placeholder, "4111 1111 1111 1111 12 25").out).toBe("[REDACTED:credit_card] 12 25");
    expect(run(placeholder, "DE89 3704 0044 0532 0130 00 AND").out).toBe("[REDACTED:iban] AND");
  });
});

// Found by review 2026-12-04: a private key flattened to one line and cut kept its body after the
// first space; a domain or local part with non-ASCII letters was not (or only partly) an
// address; a Slack webhook URL without its scheme was not redacted.
describe("detector gaps", () => {
  it("a private key block without END whose lines are joined by spaces is redacted through its last base64 run", () => {
    expect(run(placeholder, "-----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0BAQEFAASC secretpart").out).toBe("[REDACTED:private_key]");
    expect(run(placeholder, "-----BEGIN RSA PRIVATE KEY-----\tMIIEvQIBADANBgkq  hkiG9w0BAQEF\tsecretpart, cut").out).toBe("[REDACTED:private_key], cut");
    // spaces after the last run stay
    expect(run(placeholder, "key: -----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkq  (truncated)").out).toBe("key: [REDACTED:private_key]  (truncated)");
  });

  it("e-mail addresses with non-ASCII letters in the local part or the domain are redacted whole", () => {
    for (const [text, want] of [
      ["mail bob@exämple.com", "mail [REDACTED:email]"],
      ["mail jürgen.müller@example.com", "mail [REDACTED:email]"],
      ["an NFD one: ju\u0308rgen@exa\u0308mple.de.", "an NFD one: [REDACTED:email]."],
      ["Ελένη@παράδειγμα.ελ and 李@例子.中国", "[REDACTED:email] and [REDACTED:email]"],
      ["astral 𝒜lice@example.com", "astral [REDACTED:email]"],
    ] as const) {
      const r = run(placeholder, text);
      expect(r.out, text).toBe(want);
    }
    // the same address in two spellings correlates by case only, as before
    expect(run(hmac, "JÜRGEN@EXAMPLE.COM").out).toBe(run(hmac, "jürgen@example.com").out);
  });

  it("a Slack webhook URL is redacted with or without its scheme, not inside a longer host name", () => {
    expect(run(placeholder, "post to hooks.slack.com/services/T000/B000/XXXXSECRETXXXX now").out).toBe("post to [REDACTED:slack] now");
    expect(run(placeholder, "post to //hooks.slack.com/services/T000/B000/XXXXSECRETXXXX").out).toBe("post to //[REDACTED:slack]");
    expect(run(placeholder, "https://hooks.slack.com/workflows/T000/A000/123/abc").out).toBe("[REDACTED:slack]");
    expect(run(placeholder, "see nothooks.slack.com/services/T000/B000/X and hooks.slack.com/services/").counts).toEqual({});
  });

  it("an Authorization credential is redacted under any scheme, not only Bearer, Basic and Token", () => {
    const secret = "Zx9Qw8Er7Ty6Ui5Op4";
    for (const [text, want] of [
      // the scheme goes with the credential (the rule replaces one span from the label on)
      [`Authorization: ApiKey ${secret}`, "Authorization: [REDACTED:bearer]"], // Elasticsearch
      [`authorization: SSWS ${secret}`, "authorization: [REDACTED:bearer]"], // Okta
      [`Authorization: Bot ${secret} (from the gateway)`, "Authorization: [REDACTED:bearer] (from the gateway)"], // Discord
      [`Authorization: Key ${secret}`, "Authorization: [REDACTED:bearer]"],
      [`"authorization": "OAuth ${secret}"`, `"authorization": "[REDACTED:bearer]"`],
      [`Proxy-Authorization: Negotiate ${secret}==`, "Proxy-Authorization: [REDACTED:bearer]"],
      // auth-param schemes: the parameters go whole (a Digest response, an AWS signature)
      [`Authorization: Digest username="bob", realm="api", response="${secret}"`, "Authorization: [REDACTED:bearer]"],
      [`Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=${secret}\nnext line`, "Authorization: [REDACTED:bearer]\nnext line"],
      // Bearer, Basic and Token stay, and a token followed by words is the token alone, as before
      [`Authorization: Bearer ${secret} whenever`, "Authorization: Bearer [REDACTED:bearer] whenever"],
      [`Authorization: ${secret} whenever`, "Authorization: [REDACTED:bearer] whenever"],
    ] as const) {
      const r = run(placeholder, text);
      expect(r.out, text).toBe(want);
      expect(r.counts, text).toEqual({ bearer: 1 });
    }
    // as an object's member too (its key read as the label)
    const counts: RedactionCounts = {};
    expect(JSON.stringify(placeholder.redactValue({ headers: { Authorization: `ApiKey ${secret}` } }, counts))).not.toContain(secret);
    // words after the label that are no credential stay
    for (const text of ["Authorization: denied for this resource", "Authorization: failed reason=timeout, retry=later", "Bearer tokens expire"]) {
      expect(run(placeholder, text).out, text).toBe(text);
    }
  });

  it("a value labelled as a credential (an API-key header, a URL's query parameter, a password) is redacted whatever its shape", () => {
    const secret = "Zx9Qw8Er7Ty6Ui5Op4";
    for (const [text, want] of [
      [`x-api-key: ${secret}`, "x-api-key: [REDACTED:credential]"], // Anthropic's header
      [`api-key: ${secret}`, "api-key: [REDACTED:credential]"], // Azure OpenAI's
      [`X-Goog-Api-Key: ${secret}`, "X-Goog-Api-Key: [REDACTED:credential]"],
      [`GET https://api.example.com/v1/data?api_key=${secret}&q=1 failed`, "GET https://api.example.com/v1/data?api_key=[REDACTED:credential]&q=1 failed"],
      [`https://x.blob.core.windows.net/c/b?sv=2022-11-02&sig=${secret}%3D`, "https://x.blob.core.windows.net/c/b?sv=2022-11-02&sig=[REDACTED:credential]"],
      [`/callback#access_token=${secret}&token_type=bearer`, "/callback#access_token=[REDACTED:credential]&token_type=bearer"],
      [`password=hunter22 user=bob`, "password=[REDACTED:credential] user=bob"],
      [`{"client_secret": "${secret}"}`, `{"client_secret": "[REDACTED:credential]"}`],
      // in a URL's parameters, also the names that elsewhere are identifiers as often
      [`/v1/maps?key=${secret}&session=${secret}X`, "/v1/maps?key=[REDACTED:credential]&session=[REDACTED:credential]"],
      [`signing_key: ${secret}`, "signing_key: [REDACTED:credential]"],
    ] as const) {
      const r = run(placeholder, text);
      expect(r.out, text).toBe(want);
      expect(r.counts, text).toEqual({ credential: want.split("[REDACTED:credential]").length - 1 });
    }
    // as members of a value: the key is the label
    const counts: RedactionCounts = {};
    const out = JSON.stringify(placeholder.redactValue({ headers: { "x-api-key": secret, "Api-Key": secret }, url: `https://h/p?access_token=${secret}`, password: "hunter22" }, counts));
    expect(out).not.toContain(secret);
    expect(out).not.toContain("hunter22");
    // a label that names no credential, or a value that is no credential (a word, a number, a date), stays
    for (const text of ["max_tokens=4096 temperature=0.2", "token: expired", "password: required", "session: 2024-01-01", "sort key: name", "TokenError: invalid", "?page=2&limit=50&q=hello", "sessionId: conv_8f3a2b", "cacheKey=user42abc", "pin: top3items", "keyId=d01ABCDEF"]) {
      expect(run(placeholder, text).out, text).toBe(text);
    }
  });

  it("a command-line flag naming a credential (--password=, -api-key=) is redacted like any label", () => {
    for (const [text, want] of [
      ["mysql -u root --password=Secret123 db", "mysql -u root --password=[REDACTED:credential] db"],
      ["cli --api-key=abcd1234efgh --verbose", "cli --api-key=[REDACTED:credential] --verbose"],
      ["tool -token=Abc123def456", "tool -token=[REDACTED:credential]"],
      ["java -Dapp.password=Secret123 -jar x.jar", "java -Dapp.password=[REDACTED:credential] -jar x.jar"],
    ] as const) {
      const r = run(placeholder, text);
      expect(r.out, text).toBe(want);
      expect(r.counts, text).toEqual({ credential: 1 });
    }
  });

  it("a value that names where a credential is read from (an environment variable) is no credential: code samples stay readable", () => {
    for (const text of [
      "const apiKey = process.env.OPENAI_API_KEY;",
      "apiKey: process.env.ANTHROPIC_API_KEY,",
      "const token = import.meta.env.VITE_TOKEN2",
      "password = os.environ['DB_PASSWORD']",
      "api_key=os.getenv('OPENAI_API_KEY')",
      "password=$DB_PASS1 ./run.sh",
      'password: "${DB_PASSWORD_V2}"',
    ]) {
      expect(run(placeholder, text).out, text).toBe(text);
    }
    // a value that only starts like one is still read: a password that begins with "$"
    expect(run(placeholder, "password=$ecret123abc").out).toBe("password=[REDACTED:credential]");
  });

  it("words and code after an Authorization label are no credential; a credential of the same place and length still goes", () => {
    expectKept([
      "Authorization: required for all endpoints",
      "Authorization: Required (see the docs)",
      "authorization: mandatory",
      "Authorization: req.headers.authorization",
      "Authorization: request.headers.get(name)",
      "Authorization: getAuthHeader(user)",
    ]);
    expectRedacted([
      ["Authorization: r3quir3d for all endpoints", "Authorization: [REDACTED:bearer] for all endpoints"],
      ["Authorization: qwhfjwkeurhgsldkzq", "Authorization: [REDACTED:bearer]"], // 16+ letters: random, not a word
      ["Authorization: dXNlcjpwdw==", "Authorization: [REDACTED:bearer]"], // Basic's base64, no digit
      ["Authorization: Bearer ya29.a0AfH6SMBx9Zq", "Authorization: Bearer [REDACTED:bearer]"], // a dotted token, not a member path
    ], "bearer");
  });

  it("a label in odd mixed case (aUtHoRiZaTiOn:, PaSsWoRd=, CoOkIe:) is read like any other", () => {
    const secret = "a9f8e7d6c5b4a3f2e1d0";
    expectRedacted([
      [`aUtHoRiZaTiOn: ${secret}`, "aUtHoRiZaTiOn: [REDACTED:bearer]"],
      [`AuThOrIzAtIoN: bEaReR ${secret}`, "AuThOrIzAtIoN: bEaReR [REDACTED:bearer]"],
    ], "bearer");
    expectRedacted([
      ["PaSsWoRd=Secret123", "PaSsWoRd=[REDACTED:credential]"],
      [`x-ApI-kEy: ${secret}`, "x-ApI-kEy: [REDACTED:credential]"],
    ], "credential");
    expectRedacted([["CoOkIe: session=abc123def456", "CoOkIe: [REDACTED:cookie]"]], "cookie");
    // words in such a case that name no credential stay, and camelCase reads as before
    expectKept(["aUtHoRiZaTiOn: required", "PaSsWoRd: forgotten", "mAx_ToKeNs=4096", "sessionID: conv_8f3a2b"]);
  });

  it("code after a credential's label (a member path, a call) stays; a credential with dots or parentheses of another shape goes", () => {
    expectKept([
      "const password = passwordInput.value;",
      "password: passwordInput.value,",
      "password = bcrypt.hash(pw1)",
      "const token = getToken(user1)",
      "apiKey: config.apiKey2,",
      "token: session?.accessToken2",
      "api_key=settings.OPENAI_KEY1",
      "client_secret = creds['client_secret']",
    ]);
    expectRedacted([
      ["password: Summer2024.Fall", "password: [REDACTED:credential]"], // a part with 4 digits: no identifier
      ["api_key=ak.9f8e7d6c5b4a3f2e", "api_key=[REDACTED:credential]"],
      ["token: ya29.a0AfH6SMBx9Zq", "token: [REDACTED:credential]"],
      ["password = Pa55word", "password = [REDACTED:credential]"],
      ["password: Secret1.abc", "password: [REDACTED:credential]"], // digits before the last part: no member path
      ["password: Winter22.Snow7", "password: [REDACTED:credential]"],
    ], "credential");
    // as members of a value too: the key is the label
    const counts: RedactionCounts = {};
    const value = { password: "Secret1.abc", snippet: "password: passwordInput.value", config: { apiKey: "config.apiKey2" } };
    expect(placeholder.redactValue(value, counts)).toEqual({ ...value, password: "[REDACTED:credential]" });
    expect(counts).toEqual({ credential: 1 });
  });

  it("a label naming something about a credential (its count, length, type, id, file) is no credential's label", () => {
    expectKept(["token_count: 12345abc", "tokenCount=12345abc", "password_length: 12chars", "api_key_id: key01abc", "token_type: Bearer2x", "--password-file /run/s3cret1", "secretName: prod-db-2a"]);
    expectRedacted([
      ["token: 12345abc", "token: [REDACTED:credential]"],
      ["count_token: 12345abc", "count_token: [REDACTED:credential]"],
      ["password_hash: 12345abc", "password_hash: [REDACTED:credential]"],
    ], "credential");
  });

  it("a command-line flag's value after a space, and a URL-encoded label, are read", () => {
    expectRedacted([
      ["mysql -u root --password Secret123 db", "mysql -u root --password [REDACTED:credential] db"],
      ['cli --api-key "abcd1234efgh" --verbose', 'cli --api-key "[REDACTED:credential]" --verbose'],
      ["tool -token Abc123def456", "tool -token [REDACTED:credential]"],
      ["GET /v1/x?api%5Fkey=Ab3dEf6hIj9kLm2nOp&q=1", "GET /v1/x?api%5Fkey=[REDACTED:credential]&q=1"],
      ["GET /v1/x?q=1&access%5ftoken=Ab3dEf6hIj9kLm2nOp", "GET /v1/x?q=1&access%5ftoken=[REDACTED:credential]"],
      ["GET /v1/x?client%2Dsecret=Zx9Qw8Er7Ty6Ui5Op4", "GET /v1/x?client%2Dsecret=[REDACTED:credential]"],
    ], "credential");
    // prose naming a credential before a word, a flag with no credential after it, an encoded label naming none
    // (`the password is Secret123` was here until 2026-12-06: a password after "password is" now goes, see below)
    expectKept(["the token is Abc123def456", "token Abc123def456 was rotated", "--password --verbose", "--token $API_TOKEN", "GET /x?page%5Fsize=50abc", "use --password-file /run/s3cret1"]);
  });

  // Found by review 2026-12-06 (recall): these were written in clear with `redact` on.
  it("Bearer in odd case (bEaReR) without an Authorization label is read like Bearer", () => {
    const secret = "a9f8e7d6c5b4a3f2e1d0";
    expectRedacted([
      [`bEaReR ${secret}`, "bEaReR [REDACTED:bearer]"],
      [`curl -H 'X-Auth: BeArEr ${secret}' https://api`, "curl -H 'X-Auth: BeArEr [REDACTED:bearer]' https://api"],
    ], "bearer");
    expectKept(["bEaReR tokens expire", "the BeArEr of this letter", "bEaReR abcdefghij"]);
  });

  it("a one-time code of digits after a label that says so (OTP, verification code, 2FA code, PIN) is redacted; other numbers after 'code' stay", () => {
    expectRedacted([
      ["OTP: 482913", "OTP: [REDACTED:credential]"],
      ["verification code 482913", "verification code [REDACTED:credential]"],
      ["2FA code: 123456", "2FA code: [REDACTED:credential]"],
      ["Your verification code is 482913.", "Your verification code is [REDACTED:credential]."],
      ["Your OTP is: 4829", "Your OTP is: [REDACTED:credential]"],
      ["Your login code is 482-913", "Your login code is [REDACTED:credential]"],
      ["/verify?otp=482913&user=bob", "/verify?otp=[REDACTED:credential]&user=bob"],
      ['{"mfa_code": "482913"}', '{"mfa_code": "[REDACTED:credential]"}'],
      ["verificationCode=482913", "verificationCode=[REDACTED:credential]"],
      ["2fa_code=482913", "2fa_code=[REDACTED:credential]"],
      ["one-time password: 48291375", "one-time password: [REDACTED:credential]"],
      ["backup code 12345678, then", "backup code [REDACTED:credential], then"],
      ["Security code: A7K9Q2", "Security code: [REDACTED:credential]"],
      ["PIN: 4829", "PIN: [REDACTED:credential]"],
      // all digits after a password's own label, too
      ["password: 12345678", "password: [REDACTED:credential]"],
      ["PGPASSWORD=123456 psql", "PGPASSWORD=[REDACTED:credential] psql"],
      // digits that only start a value are no code: the value goes by the rule before, whole
      ['botToken: "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"', 'botToken: "[REDACTED:credential]"'],
    ], "credential");
    expectKept([
      "code 404",
      "error code 123456",
      "HTTP status code 200",
      "exit code 137 (killed)",
      "zip code 94105",
      "postal code: 94105",
      "order number 123456",
      "version 2.0.1",
      "the code is 123456",
      "QR code 123456",
      "verification code sent to your phone",
      "verification code 2.0.1",
      "otp_length: 6, otp_ttl: 3000",
      "pin: 13",
      "led_pin: 13",
      "pass: 1234, fail: 0",
      "password_expiry_days: 9000",
      "code: 482913",
    ]);
  });

  it("an environment-style password assignment (DB_PASS=, PGPASSWORD=, MYSQL_PWD=, *_PASS=, *_PWD=) is redacted whatever its value's shape", () => {
    expectRedacted([
      ["DB_PASS=hunter", "DB_PASS=[REDACTED:credential]"],
      ["export PGPASSWORD=letmein", "export PGPASSWORD=[REDACTED:credential]"],
      ["MYSQL_PWD=letmein mysql -u root", "MYSQL_PWD=[REDACTED:credential] mysql -u root"],
      ["docker run -e SMTP_PASS=sunshine app", "docker run -e SMTP_PASS=[REDACTED:credential] app"],
      ['DB_PASSWORD="correcthorse"', 'DB_PASSWORD="[REDACTED:credential]"'],
      ["REDIS_PASS=abc123", "REDIS_PASS=[REDACTED:credential]"],
      ["db_pass: Secret123", "db_pass: [REDACTED:credential]"],
      ["smtpPass = 'Secret123'", "smtpPass = '[REDACTED:credential]'"],
      // a Compose file's environment map
      ["environment:\n  POSTGRES_PASSWORD: example\n  POSTGRES_USER: app", "environment:\n  POSTGRES_PASSWORD: [REDACTED:credential]\n  POSTGRES_USER: app"],
      ["MYSQL_ROOT_PASSWORD: sunshine", "MYSQL_ROOT_PASSWORD: [REDACTED:credential]"],
    ], "credential");
    expectKept([
      // a file holding the password (Docker's and Postgres' *_FILE convention) is a path, not the password
      "DB_PASSWORD_FILE=/run/secrets/db",
      // the shell's working directory
      "PWD=/home/bob/project",
      "PWD=/srv/app2", // (until 2026-12-06 redacted: a digit made it a credential's shape)
      "DB_PASS=$DB_PASSWORD",
      "DB_PASSWORD=${DB_PASSWORD}",
      "DB_PASSWORD=",
      "BYPASS_CACHE=true",
      "FIRST_PASS=true",
      "DB_PASSWORD=$(cat /run/secrets/db)",
      // a map of messages, not of an environment
      "RESET_PASSWORD: Reset password",
      "LOGIN_PASSWORD: Password",
      'FORGOT_PASSWORD: "Forgot password?"',
      "PASSWORD: password",
      "DB_PASSWORD: true",
      "POSTGRES_PASSWORD_FILE: /run/secrets/pg",
      // lower case, with spaces: code, not an environment line
      "db_password = password",
      "password=password_input",
    ]);
  });

  it("a name ending in `pass` names a password after what it opens (DB_PASS), never after a stage's or ticket's word (first_pass), elsewhere only for a credential's shape", () => {
    expectRedacted([
      ["DB_PASS=12345", "DB_PASS=[REDACTED:credential]"],
      ["SMTP_PASS=123456", "SMTP_PASS=[REDACTED:credential]"],
      ["MYSQL_PASS=hunter", "MYSQL_PASS=[REDACTED:credential]"],
      ["redis_pass: 12345678", "redis_pass: [REDACTED:credential]"],
      ["adminPass = 'Pa$$word!'", "adminPass = '[REDACTED:credential]'"],
      ["?db_pass=12345&x=1", "?db_pass=[REDACTED:credential]&x=1"],
      ["?pass=1234", "?pass=[REDACTED:credential]"],
      // another word before it: a value of a credential's shape only
      ["GRAFANA_PASS=Secret123", "GRAFANA_PASS=[REDACTED:credential]"],
      ["custom_pass: abc123def", "custom_pass: [REDACTED:credential]"],
      // another word of the name names a credential: decided by it, as before
      ["auth_pass: 12345678", "auth_pass: [REDACTED:credential]"],
    ], "credential");
    expectKept([
      "first_pass: 12345",
      "SKIP_PASS=12345",
      "FIRST_PASS=12345",
      "second_pass: 2",
      "multi_pass=3",
      "render_pass: Secret123",
      "skip_pass: aB3xYz9Q",
      "boarding_pass: 12345678",
      "firstPass = 12345",
      "TEST_PASS=12345",
      "?first_pass=12345&x=1",
      "bypass: 12345",
      "test_passes: 120",
      "pass_count: 5",
      // another word before it: digits (a count) and plain words stay
      "GRAFANA_PASS=123456",
      "GRAFANA_PASS=hunter",
      "custom_pass: 20",
    ]);
  });

  it("a list of one-time codes after one label in the plural goes code by code, whatever separates them (spaces, commas, line breaks)", () => {
    expectRedacted([
      ["recovery codes: 1234-5678 9876-5432", "recovery codes: [REDACTED:credential] [REDACTED:credential]"],
      ["recovery codes: 1234-5678, 9876-5432, 1111-2222", "recovery codes: [REDACTED:credential], [REDACTED:credential], [REDACTED:credential]"],
      ["backup codes 12345678; 87654321", "backup codes [REDACTED:credential]; [REDACTED:credential]"],
      ["recovery codes: 1234-5678\n9876-5432\n1111-2222", "recovery codes: [REDACTED:credential]\n[REDACTED:credential]\n[REDACTED:credential]"],
      // the label on its own line, a code a line
      ["Your backup codes:\r\n12345678\r\n87654321\r\nKeep them safe.", "Your backup codes:\r\n[REDACTED:credential]\r\n[REDACTED:credential]\r\nKeep them safe."],
      ["verification code:\n482913", "verification code:\n[REDACTED:credential]"],
      // letters and digits (GitHub's), each of the first's shape
      ["GitHub recovery codes: 1a2b3-c4d5e f6g7h-8i9j0, 0k1l2-m3n4o", "GitHub recovery codes: [REDACTED:credential] [REDACTED:credential], [REDACTED:credential]"],
      // the list ends at a word of another shape
      ["recovery codes: 1234-5678 9876-5432 are shown once.", "recovery codes: [REDACTED:credential] [REDACTED:credential] are shown once."],
      ["recovery codes: 1234-5678 98765-432", "recovery codes: [REDACTED:credential] 98765-432"],
      ["recovery codes: 12345678 then 87654321", "recovery codes: [REDACTED:credential] then 87654321"],
      // a label in the singular names one code
      ["verification code: 482913 482914", "verification code: [REDACTED:credential] 482914"],
      ["backup code 12345678, then", "backup code [REDACTED:credential], then"],
    ], "credential");
    expectKept([
      // a value on the next line is read only after a one-time code's label
      "password:\nhunter2",
      "error codes:\n404\n500",
      "status codes: 200 404 500",
      "zip codes: 94105 94107",
    ]);
  });

  it("a URL's password is redacted, its scheme, user and host staying; ports, e-mail addresses, scp paths and templates stay", () => {
    expectRedacted([
      ["postgres://user:sunshine@db/app", "postgres://user:[REDACTED:credential]@db/app"],
      ["mysql://root:hunter2@10.0.0.5:3306/x", "mysql://root:[REDACTED:credential]@10.0.0.5:3306/x"],
      // (the e-mail rule took `s3cret@example.com`, the host with it, until 2026-12-06)
      ["https://alice:s3cret@example.com/", "https://alice:[REDACTED:credential]@example.com/"],
      ["redis://:pass@host", "redis://:[REDACTED:credential]@host"],
      ["DATABASE_URL=postgresql://app:Tr0ub4dor@pg.internal:5432/prod?sslmode=require", "DATABASE_URL=postgresql://app:[REDACTED:credential]@pg.internal:5432/prod?sslmode=require"],
      ['connect("amqp://guest:p@ss@rabbit/vhost")', 'connect("amqp://guest:[REDACTED:credential]@rabbit/vhost")'], // the last "@" ends it
      ["see http://a:b@c and http://d:e@f", "see http://a:[REDACTED:credential]@c and http://d:[REDACTED:credential]@f"],
    ], "credential");
    expectKept([
      "http://host:8080/",
      "http://host:8080",
      "https://user@host:8080/x",
      "http://[::1]:8080/",
      "time 12:30@noon",
      "C:\\path\\to:file@x",
      "file:///C:/x@y",
      "postgres://<user>:<password>@<host>/db",
      "postgres://{user}:{password}@{host}/db",
      "postgres://user:${DB_PASSWORD}@db/app",
      "postgres://user:$DB_PASSWORD@db/app",
      "postgres://%s:%s@%s/%s",
      "postgres://user:****@db/app",
      "postgres://user:[REDACTED:credential]@db/app",
    ]);
    // e-mail addresses and an scp-style git remote are the e-mail rule's, as before; not a password
    expect(run(placeholder, "mail user@host.example, ssh git@github.com:org/repo.git").out).toBe("mail [REDACTED:email], ssh [REDACTED:email]:org/repo.git");
    expect(run(placeholder, "user@host").counts).toEqual({});
  });

  it("an environment line naming a token, a secret or an API key (JWT_SECRET=, API_TOKEN=, *_API_KEY=) is redacted whatever its value's shape; counts, limits and keys of data stay", () => {
    expectRedacted([
      ["JWT_SECRET=mysecret", "JWT_SECRET=[REDACTED:credential]"],
      ["API_TOKEN=abcdefgh", "API_TOKEN=[REDACTED:credential]"],
      ["export GITHUB_TOKEN=devtoken", "export GITHUB_TOKEN=[REDACTED:credential]"],
      ["docker run -e SESSION_SECRET=keyboardcat app", "docker run -e SESSION_SECRET=[REDACTED:credential] app"],
      ["SECRET_KEY=django-insecure", "SECRET_KEY=[REDACTED:credential]"],
      ["API_KEY=abcd", "API_KEY=[REDACTED:credential]"],
      ["STRIPE_SECRET_KEY='changeme'", "STRIPE_SECRET_KEY='[REDACTED:credential]'"],
      ["PRIVATE_KEY=notarealkey", "PRIVATE_KEY=[REDACTED:credential]"],
      ["AWS_SECRET_ACCESS_KEY=example", "AWS_SECRET_ACCESS_KEY=[REDACTED:credential]"],
      ["OPENAI_API_KEY=placeholder", "OPENAI_API_KEY=[REDACTED:credential]"],
      ["JWT_SECRET=12345678", "JWT_SECRET=[REDACTED:credential]"],
      ["TOKEN=letmein\nPORT=3000", "TOKEN=[REDACTED:credential]\nPORT=3000"],
      // (an expansion's default may be the secret itself: it goes, up to the brace)
      ["JWT_SECRET=${JWT_SECRET:-dev}", "JWT_SECRET=[REDACTED:credential]}"],
    ], "credential");
    expectKept([
      "MAX_TOKENS=4096",
      "TOKEN_LIMIT=100",
      "KEY_PREFIX=user:",
      "SORT_KEY=name",
      "PRIMARY_KEY=id",
      "CACHE_KEY=v2",
      "PARTITION_KEY=tenant",
      "NUM_TOKENS=12345678",
      "JWT_SECRET=true",
      "API_TOKEN=false",
      "JWT_SECRET=$(cat /run/secrets/jwt)",
      "JWT_SECRET=${JWT_SECRET}",
      "JWT_SECRET=$JWT_SECRET",
      "JWT_SECRET_FILE=/run/secrets/jwt",
      "API_TOKEN=",
      "API_KEY=abc",
      "TOKEN_ENDPOINT=https://auth.example.com/token",
      // lower case, or with spaces: code, not an environment line (the value's shape decides)
      "jwt_secret=mysecret",
      "JWT_SECRET = mysecret",
      // a map of messages
      "INVALID_TOKEN: invalid",
    ]);
  });

  it("digits after 'password is' or 'PIN is' are redacted; a word after them is prose and stays", () => {
    expectRedacted([
      ["the password is 12345678", "the password is [REDACTED:credential]"],
      ["The new password is 20240101.", "The new password is [REDACTED:credential]."],
      ["my PIN is 4829", "my PIN is [REDACTED:credential]"],
      ["the wifi password is: 987654", "the wifi password is: [REDACTED:credential]"],
    ], "credential");
    expectKept([
      "the password is required",
      "the password is too short",
      "the password is 8 characters long",
      "the password is 12345", // fewer than 6 digits: a count as often
      "the pin is 13",
      "the hairpin is 1234 mm",
      "the token is 12345678",
      "the pass is 123456", // a mountain pass's height, a bus pass's number
    ]);
  });

  it("a one-time code before its label (\"482913 is your verification code\", \"Use 482913 to sign in\") is redacted; other numbers before such words stay", () => {
    expectRedacted([
      ["482913 is your verification code", "[REDACTED:credential] is your verification code"],
      ["Use 482913 to sign in", "Use [REDACTED:credential] to sign in"],
      ["G-482913 is your Google verification code.", "G-[REDACTED:credential] is your Google verification code."],
      ["Hi. 4829 is your Uber code", "Hi. [REDACTED:credential] is your Uber code"],
      ["Please enter 123-456 to verify your phone.", "Please enter [REDACTED:credential] to verify your phone."],
      ['"736104 is your one-time password"', '"[REDACTED:credential] is your one-time password"'],
    ], "credential");
    expectKept([
      "404 is the status code",
      "use 8080 to connect",
      "in 2024 to sign in",
      "version 2024 is your best code",
      "it cost 1234 to verify",
      "Use port 8080 to log in",
      "v1.2345 is your code",
    ]);
  });

  it("a password of letters and symbols, and a connection string's password of any shape, are redacted; code and prose after a password label stay", () => {
    expectRedacted([
      ['password = "Pa$$word!"', 'password = "[REDACTED:credential]"'],
      ["password: 'aB$dEf!'", "password: '[REDACTED:credential]'"],
      ['password:"!@#$%^&*"', 'password:"[REDACTED:credential]"'],
      ['password: "x9$Kq!z"', 'password: "[REDACTED:credential]"'],
      ['{"password": "Tr0ub4dor&3"}', '{"password": "[REDACTED:credential]"}'],
      // (a quote of the other kind inside is part of the value: until the review of 2026-12-06
      // the value was cut there, and its end, `'9`, kept)
      ['password: "aB3$xYz\'9"', 'password: "[REDACTED:credential]"'],
      ["password: 'it\"s-a-Secret1!'", "password: '[REDACTED:credential]'"],
      ['{"db_password":"Zx9#q\'w!r"}', '{"db_password":"[REDACTED:credential]"}'],
      ["pwd=abc123;", "pwd=[REDACTED:credential];"],
      ["Server=db;User Id=sa;Password=myPassword;", "Server=db;User Id=sa;Password=[REDACTED:credential];"],
      ["Pwd=sunshine;Server=db", "Pwd=[REDACTED:credential];Server=db"],
    ], "credential");
    expectKept([
      'password: "Password"',
      'password: "Enter your password"',
      'password: "Required!"',
      'password: "********"',
      "password: string;",
      "password?: string | null",
      "if (password) { login(); }",
      "the password field is required",
      "const password = !isValid",
      "password: req.body.password!",
      '"password": "$password"',
      "WHERE password = @password",
      "password: ${{ secrets.DB_PASSWORD }}",
      "password: '%env(DB_PASSWORD)%'",
      "password: <your-password>",
      "password: {{ vault_pw }}",
      "Password=;Server=db",
      "password: user?.password ?? fallback",
      "password: z.string().min(8)",
    ]);
  });

  it("a lone word after an Authorization label, ending its line or quote, is a credential unless it reads as a status word", () => {
    expectRedacted([
      ["Authorization: abcdefghij", "Authorization: [REDACTED:bearer]"],
      ["curl -H 'Authorization: letmeinnow' https://api", "curl -H 'Authorization: [REDACTED:bearer]' https://api"],
      ['{"Authorization": "supersecret"}', '{"Authorization": "[REDACTED:bearer]"}'],
      ["GET / HTTP/1.1\r\nAuthorization: qwertyuiop\r\nHost: x", "GET / HTTP/1.1\r\nAuthorization: [REDACTED:bearer]\r\nHost: x"],
    ], "bearer");
    expectKept([
      "Authorization: required",
      "Authorization: optional",
      "Authorization: forbidden",
      "Authorization: unauthorized",
      "Authorization: successful",
      "Authorization: anonymous",
      '{"Authorization": "required"}',
      "Authorization: Everywhere",
      "Authorization: abcdefghij whenever you like",
      "Authorization: required for all endpoints",
    ]);
  });

  it("a lone lower-case word alone on its line after an Authorization label stays when it reads as English (each pair of its letters one English words have); a random one goes", () => {
    expectRedacted([
      ["Authorization: xkqvhzmwpt", "Authorization: [REDACTED:bearer]"],
      ["Authorization: zqjxkvbwfm\nHost: x", "Authorization: [REDACTED:bearer]\nHost: x"],
      ["Authorization: hfqpwbvzkc\r\n", "Authorization: [REDACTED:bearer]\r\n"],
      // in a quote the word is the header's value as sent: only a status word stays
      ["curl -H 'Authorization: sometimes' https://api", "curl -H 'Authorization: [REDACTED:bearer]' https://api"],
      ['{"Authorization": "elsewhere"}', '{"Authorization": "[REDACTED:bearer]"}'],
    ], "bearer");
    expectKept([
      "Authorization: sometimes",
      "Authorization: none",
      "Authorization: disabled",
      "Authorization: pending",
      "Authorization: granted",
      "Authorization: denied",
      "Authorization: missing",
      "Authorization: whenever",
      "Authorization: elsewhere",
      "Authorization: sometimes\nHost: x",
      "Authorization: sometimes\r\nHost: x",
    ]);
  });

  // Third recall pass (2026-12-06): each of these was written in clear with `redact` on.
  it("a one-time code split by a space after a label in the singular goes whole, as one value; other numbers split so stay", () => {
    expectRedacted([
      ["verification code: 482 913", "verification code: [REDACTED:credential]"],
      ["your code is 123 456", "your code is [REDACTED:credential]"],
      ["Your verification code is 482 913.", "Your verification code is [REDACTED:credential]."],
      ["OTP: 1234 5678, valid for 10 minutes", "OTP: [REDACTED:credential], valid for 10 minutes"],
      ["passcode 48291 37465", "passcode [REDACTED:credential]"],
      ["2FA code:\n482 913", "2FA code:\n[REDACTED:credential]"],
      // `your code` (a sender's name between them too) takes digits ending the message's clause
      ["Your code is 482913. Do not share it.", "Your code is [REDACTED:credential]. Do not share it."],
      ["Your Uber code: 4829", "Your Uber code: [REDACTED:credential]"],
      ["your code is 123456 and expires in 10 minutes", "your code is [REDACTED:credential] and expires in 10 minutes"],
      // before its label too
      ["482 913 is your verification code", "[REDACTED:credential] is your verification code"],
      ["Use 1234 5678 to sign in.", "Use [REDACTED:credential] to sign in."],
    ], "credential");
    expectKept([
      "error code: 500 200",
      "zip code 941 051",
      "the code is 123 456",
      "code: 123 456",
      "your code is 1500 lines long",
      "your code is 123 456 789",
      "verification code: 482 9134", // groups of different lengths: no code's shape
      "verification code: 482 913 271",
      "verification code: 482 913abc",
      "at 10 482 913 is your code",
      "since 2024 1234 is your code",
    ]);
  });

  it("a list of codes after the plural labels passcodes and otps, and after `codes are`, goes code by code", () => {
    expectRedacted([
      ["passcodes: 1234 5678", "passcodes: [REDACTED:credential] [REDACTED:credential]"],
      ["otps: 482913, 112358", "otps: [REDACTED:credential], [REDACTED:credential]"],
      ["Your TOTPs: 482913 112358", "Your TOTPs: [REDACTED:credential] [REDACTED:credential]"],
      ["recovery codes are: 1234-5678 9876-5432", "recovery codes are: [REDACTED:credential] [REDACTED:credential]"],
      ["Your backup codes are 12345678 87654321.", "Your backup codes are [REDACTED:credential] [REDACTED:credential]."],
    ], "credential");
    expectKept(["passcodes: 6 digits", "otps: 3", "error codes are 500 502", "status codes are: 200 404", "recovery codes are shown once"]);
    // a member of such a name: its string value is a secret, a number is a count
    expect(placeholder.redactValue({ passcodes: "1234 5678", otps: 3 }, {}, "parameters")).toEqual({ passcodes: "[REDACTED:credential]", otps: 3 });
  });

  it("a URL's password holding / ? or # goes up to the first @ a host follows, not past it; never after a port", () => {
    expectRedacted([
      ["postgres://user:p/ss#w?rd@db/app", "postgres://user:[REDACTED:credential]@db/app"],
      ["postgres://user:p/ss#w?rd@db/app then bob@db", "postgres://user:[REDACTED:credential]@db/app then bob@db"],
      ["mongodb+srv://app:pa/ss@cluster0.example.net/?retryWrites=true", "mongodb+srv://app:[REDACTED:credential]@cluster0.example.net/?retryWrites=true"],
      ["https://u:a//b@h:5432/x", "https://u:[REDACTED:credential]@h:5432/x"],
      // an "@" in the password whose next part is no host (another "@" follows it) is the password's
      ["redis://u:p/s@s@cache:6379", "redis://u:[REDACTED:credential]@cache:6379"],
      // (the path's and query's "@" after the host stay: the first host ends it)
      ["amqp://u:p?x@rabbit/v?to=@ops", "amqp://u:[REDACTED:credential]@rabbit/v?to=@ops"],
      ['"ftp://u:p#1@files"', '"ftp://u:[REDACTED:credential]@files"'],
    ], "credential");
    expectKept([
      "http://host:8080/path?mention=@alice",
      "http://localhost:3000/@vite/client",
      "http://HOST:PORT/users/@me",
      "http://host:port/a@b",
      "http://localhost:$PORT/u/@me",
      "https://example.com:443/#/profile@home",
      "http://127.0.0.1:5173?at=@x",
      "http://host:/x@y",
      "postgres://user:p/ss",
      "postgres://user:<pass/word>@db/app",
      // an image's tag before its digest (a workflow's `uses:`) is no password
      "uses: docker://alpine:3.18@sha256:0123abcd",
      "docker://node:20-alpine@sha512:0123abcd",
    ]);
  });

  it("a password after 'password is' goes, but for a word of prose, code, a template or a count; placeholders in URLs and environment lines go too", () => {
    expectRedacted([
      ["the password is hunter2", "the password is [REDACTED:credential]"],
      ["my password is hunter", "my password is [REDACTED:credential]"],
      ["the password is Secret123", "the password is [REDACTED:credential]"],
      ["The Password is 'Guest42'", "The Password is '[REDACTED:credential]'"],
      ["the wifi password is: letmein.", "the wifi password is: [REDACTED:credential]."],
      ["the passphrase is correct-horse-battery-staple", "the passphrase is [REDACTED:credential]"],
      // (markdown's opening mark goes with it: the value starts there)
      ["the admin password is `s3cr3t!`", "the admin password is [REDACTED:credential]`"],
      ["my password is hunter2!", "my password is [REDACTED:credential]"],
      // ("is:" after another label reads as ":", as before)
      ["Your OTP is: A7K9Q2", "Your OTP is: [REDACTED:credential]"],
      ["the password is password", "the password is [REDACTED:credential]"],
      // (placeholders: kept redacted, as the value may be the real one; see docs/TRUST.md)
      ["postgres://user:password@localhost", "postgres://user:[REDACTED:credential]@localhost"],
      ["API_KEY=your_api_key_here", "API_KEY=[REDACTED:credential]"],
    ], "credential");
    expectKept([
      "the password is required",
      "the password is too short",
      "the password is wrong",
      "The password is incorrect.",
      "Your password is about to expire",
      "the password is stored in the vault",
      "the password is being reset",
      "the password is case-sensitive",
      "Your password is URL-encoded if it has symbols",
      "the password is secret",
      "assert password is not None",
      "if user.password is None:",
      "asserts password is string",
      "the password is `required`",
      "the password is 8-characters",
      "the password is <hidden>",
      "the password is $DB_PASSWORD",
      "the password is user.password",
      "the password is ****",
      "the pwd is /home/bob",
      "the pass is closed",
      "the token is Abc123def456",
    ]);
  });

  it("1 MB of adversarial text for the rules of this pass completes, and redacts what it should", () => {
    const mb = 1_000_000;
    const cases: Array<readonly [string, RedactionCounts]> = [
      ["bEaReR ".repeat(mb / 7), {}],
      ["b".repeat(mb), {}],
      ["verification code ".repeat(mb / 18), {}],
      ["code is ".repeat(mb / 8), {}],
      // (the first value, "1234-otp", is one; every later label starts with a digit, "1234-otp", and is none)
      ["otp: 1234-".repeat(mb / 10), { credential: 1 }],
      // (a value is read to 1 KiB at most: its first 1 KiB goes)
      ['password: "' + "a$".repeat(mb / 2), { credential: 1 }],
      ['password: "'.repeat(mb / 11), {}],
      ["DB_PASS=".repeat(mb / 8), { credential: 1 }],
      [";Password=".repeat(mb / 10), {}],
      ["Authorization: abcdefgh\n".repeat(mb / 24), { bearer: Math.floor(mb / 24) }],
      ["2FA code: 123456 ".repeat(mb / 17), { credential: Math.floor(mb / 17) }],
      // (the rules of the second pass, 2026-12-06: a URL's password, environment secrets, "is", a code before its label)
      ["://a:".repeat(mb / 5), {}],
      ["://" + "a:".repeat(mb / 2), {}],
      ["x://u:" + "p@".repeat(mb / 2), { credential: 1 }],
      ["://u:p@h ".repeat(mb / 9), { credential: Math.floor(mb / 9) }],
      ["JWT_SECRET=".repeat(mb / 11), { credential: 1 }],
      ["API_TOKEN=x\n".repeat(mb / 12), {}],
      // (each "password" after "password is" is one, 2026-12-06: all but the first)
      ["password is ".repeat(mb / 12), { credential: Math.floor(mb / 12) - 1 }],
      ["the password is 12345678 ".repeat(mb / 25), { credential: Math.floor(mb / 25) }],
      ["482913 is your ".repeat(mb / 15), {}],
      ["1 is your a a a a ".repeat(mb / 18), {}],
      ["Use 482913 to sign in. ".repeat(mb / 23), { credential: Math.floor(mb / 23) }],
      ["1".repeat(mb) + " is your code", {}],
      // (lists of codes after a label in the plural, review 2026-12-06: 64 codes at most after the first)
      ["recovery codes: " + "1234 ".repeat(mb / 5), { credential: 65 }],
      ["recovery codes: 1234 " + "5".repeat(mb), { credential: 1 }],
      ["recovery codes: 1234 ".repeat(mb / 21), { credential: Math.floor(mb / 21) }],
      ["backup codes:\n".repeat(mb / 14), {}],
      ["password:\n".repeat(mb / 10), {}],
    ];
    for (const [text, want] of cases) {
      const r = run(placeholder, text);
      expect(r.counts, text.slice(0, 30)).toEqual(want);
    }
  });

  it("1 MB of adversarial text for the third recall pass's shapes (split codes, plural labels and 'are', a URL's password with '/', words after 'password is') completes", () => {
    const mb = 1_000_000;
    const cases: Array<readonly [string, RedactionCounts]> = [
      ["verification code: 482 ".repeat(mb / 23), {}],
      ["verification code: 482 913 ".repeat(mb / 27), { credential: Math.floor(mb / 27) }],
      ["your code is 1 ".repeat(mb / 15), {}],
      ["Your code: 123 456 ".repeat(mb / 19), { credential: Math.floor(mb / 19) }],
      ["passcodes: " + "1234 ".repeat(mb / 5), { credential: 65 }],
      ["otps are ".repeat(mb / 9), {}],
      ["codes are: ".repeat(mb / 11), {}],
      ["://a:b/".repeat(mb / 7), {}],
      ["x://u:p/" + "@".repeat(mb), {}],
      ["x://u:p/" + "a@".repeat(mb / 2), {}],
      ["x://u:p/" + "s".repeat(mb) + "@h", {}],
      ["://u:p/s@h ".repeat(mb / 11), { credential: Math.floor(mb / 11) }],
      ["password is hunter2 ".repeat(mb / 20), { credential: Math.floor(mb / 20) }],
      ["password is required ".repeat(mb / 21), {}],
      ["password is " + "a-".repeat(mb / 2), { credential: 1 }],
      ["://a:b?".repeat(mb / 7), {}],
      ["://a:b/@".repeat(mb / 8), { credential: Math.floor(mb / 8) }],
      ["Your Uber Eats code is ".repeat(mb / 23), {}],
      ["your ".repeat(mb / 5) + "code is 1234", { credential: 1 }],
      ["482 913 ".repeat(mb / 8) + "is your code", {}],
      ["\n482 913 is your ".repeat(mb / 17), {}],
    ];
    for (const [text, want] of cases) {
      const r = run(placeholder, text);
      expect(r.counts, text.slice(0, 30)).toEqual(want);
    }
  });

  it("stay linear on 100 KB of adversarial text for these shapes", () => {
    const texts = [
      "-----BEGIN PRIVATE KEY-----" + " a".repeat(50_000),
      "-----BEGIN PRIVATE KEY----- " + " \t".repeat(50_000) + "!",
      "-----BEGIN PRIVATE KEY----- a".repeat(4_000),
      "ü".repeat(100_000) + "@",
      "ü@" + "ö.".repeat(50_000) + "1",
      "ü@ö".repeat(30_000),
      "ä-".repeat(50_000) + "@" + "ä-".repeat(50_000),
      "hooks.slack.com/services/".repeat(4_000) + "x",
      "Authorization: " + "a=b, ".repeat(20_000) + "!",
      "Authorization: Digest " + 'a="'.repeat(30_000),
      "api_key=".repeat(12_000) + "x",
      "token:" + "a".repeat(100_000),
      "x-api-key: " + "k:".repeat(50_000),
      // (the space-separated flag, encoded labels, odd case and code shapes of 2026-12-06)
      "--password ".repeat(10_000) + "x",
      "-" + "password ".repeat(11_000),
      "?api%5Fkey=" + "%5F".repeat(33_000),
      "%5F".repeat(33_000) + "token=Abc123def456",
      "token: " + "a.".repeat(50_000) + "(",
      "password=" + "aB1.".repeat(25_000),
      "aUtHoRiZaTiOn: " + "ab ".repeat(33_000),
      "Authorization: " + "a.b(".repeat(25_000),
      "token_count: " + "x".repeat(100_000),
      "--token" + " \t".repeat(50_000) + "Abc123def456",
      "Z".repeat(100_000),
      "aUtHoRiZ".repeat(12_000),
      "K".repeat(100_000),
      "x-ApI-kEy=a ".repeat(8_000),
      "PaSsWoRd=Secret123 ".repeat(5_000),
    ];
    // A quadratic pattern takes minutes on each of these, a linear one milliseconds: the test's
    // own timeout (below) is what fails a pattern that backtracks, not a clock read here
    // (performance is measured in bench/redact.ts, never asserted in a test).
    for (const text of texts) {
      const { out } = run(placeholder, text);
      expect(typeof out, text.slice(0, 40)).toBe("string");
      expect(out.length, text.slice(0, 40)).toBeGreaterThan(0);
    }
  }, 60_000);
});

describe("rules option", () => {
  it("runs only the named built-ins", () => {
    const r = new Redactor({ rules: ["email", "us_ssn"] });
    expect(r.ruleNames).toEqual(["email", "us_ssn"]);
    const { out, counts } = run(r, "bob@example.com 123-45-6789 +1 415 555 2671 AKIAIOSFODNN7EXAMPLE");
    expect(out).toBe("[REDACTED:email] [REDACTED:us_ssn] +1 415 555 2671 AKIAIOSFODNN7EXAMPLE");
    expect(counts).toEqual({ email: 1, us_ssn: 1 });
  });

  it("an empty list runs no built-in (user patterns only)", () => {
    const r = new Redactor({ rules: [], patterns: [{ name: "emp", pattern: "EMP-\\d{5}" }] });
    expect(run(r, "bob@example.com EMP-12345").out).toBe("bob@example.com [REDACTED:emp]");
  });

  it('"all" (the default) runs every built-in in priority order', () => {
    expect(new Redactor({ rules: "all" }).ruleNames).toEqual(BUILTIN_RULE_NAMES);
    expect(new Redactor({}).ruleNames).toEqual(BUILTIN_RULE_NAMES);
  });
});

describe("hostile input", () => {
  // Every built-in pattern must stay linear: prompts are attacker-controlled text. These inputs
  // used to be (or would be, with naive patterns) quadratic; the assertions check the results.
  it("many private-key headers without END are each redacted, not rescanned to the end", () => {
    const counts: RedactionCounts = {};
    const out = placeholder.redactText("-----BEGIN PRIVATE KEY-----\n".repeat(5000), counts);
    expect(counts).toEqual({ private_key: 5000 });
    expect(out).toBe("[REDACTED:private_key]".repeat(5000));
  });

  it("long runs of digits, separators, @ signs and key prefixes redact nothing", () => {
    for (const text of ["4 ".repeat(50_000), "a@".repeat(50_000), "a".repeat(100) + "@" + "b.".repeat(50_000) + "1", "sk-".repeat(50_000), "AB12 ".repeat(20_000), "123-45-".repeat(20_000)]) {
      const counts: RedactionCounts = {};
      expect(placeholder.redactText(text, counts)).toBe(text);
      expect(counts).toEqual({});
    }
  });

  it("an e-mail behind a run of more than 64 local-part characters is still redacted (the run's last 64 with it); one followed by a hyphen or a digit too", () => {
    expect(run(placeholder, `${"x".repeat(64)}@example.com`).counts).toEqual({ email: 1 });
    const long = run(placeholder, `${"-".repeat(65)}bob@example.com`);
    expect(long.counts).toEqual({ email: 1 });
    expect(long.out).not.toContain("bob");
    expect(long.out).toBe(`----[REDACTED:email]`);
    for (const text of ["Contact bob@example.com-Alice", "report-bob@example.com-2024", "bob@example.com2"]) {
      const r = run(placeholder, text);
      expect(r.counts, text).toEqual({ email: 1 });
      expect(r.out, text).not.toContain("bob@example");
    }
  });

  it("deeply nested values are cut at depth 64 instead of overflowing the stack", () => {
    let deep: Record<string, unknown> = { mail: "alice@example.com" };
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    let out = placeholder.redactValue(deep, {}) as Record<string, unknown>;
    let depth = 0;
    while (typeof out === "object" && out !== null && "d" in out) {
      out = out.d as Record<string, unknown>;
      depth++;
    }
    expect(out).toBe("[MaxDepth]");
    expect(depth).toBe(64);
  });
});
