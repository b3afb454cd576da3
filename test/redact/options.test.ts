import { describe, expect, it } from "vitest";
import { AuditConfigError, AuditLoggerError } from "../../src/errors.js";
import { Redactor, type RedactionCounts, type RedactOptions } from "../../src/pipeline/redact.js";

function issuesOf(options: unknown): Array<{ field: string; message: string }> {
  try {
    new Redactor(options as RedactOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(AuditConfigError);
    expect(err).toBeInstanceOf(AuditLoggerError);
    expect((err as AuditConfigError).code).toBe("AUDIT_ERR_CONFIG");
    return [...(err as AuditConfigError).issues];
  }
  throw new Error("expected an AuditConfigError");
}

describe("options validation", () => {
  it("names every bad field in one error", () => {
    const issues = issuesOf({
      rules: ["email", "emial"],
      patterns: [
        { name: "ok_name", pattern: "(unclosed" },
        { name: "9bad name", pattern: /x/ },
        { name: "email", pattern: /x/ },
        { name: "flagged", pattern: "x", flags: "q" },
        { name: "no_fn", pattern: "x", validate: "yes" },
      ],
      paths: ["parameters..apiKey", ""],
      replacement: "hmac",
      colour: "blue",
    });
    const fields = issues.map((i) => i.field).sort();
    expect(fields).toEqual(
      [
        "redact.rules.1",
        "redact.patterns.0.pattern",
        "redact.patterns.1.name",
        "redact.patterns.2.name",
        "redact.patterns.3.flags",
        "redact.patterns.4.validate",
        "redact.paths.0",
        "redact.paths.1",
        "redact.hmacKey",
        "redact.colour",
      ].sort(),
    );
    const err = (() => {
      try {
        new Redactor({ replacement: "hmac" });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toContain("redact.hmacKey");
  });

  it("rejects a short HMAC key, a non-binary key, an unknown replacement and duplicate pattern names", () => {
    expect(issuesOf({ replacement: "hmac", hmacKey: new Uint8Array(8) }).map((i) => i.field)).toEqual(["redact.hmacKey"]);
    expect(issuesOf({ replacement: "hmac", hmacKey: "secret-string-key" }).map((i) => i.field)).toEqual(["redact.hmacKey"]);
    expect(issuesOf({ replacement: "mask" }).map((i) => i.field)).toEqual(["redact.replacement"]);
    expect(issuesOf({ patterns: [{ name: "a", pattern: "x" }, { name: "A", pattern: "y" }] }).map((i) => i.field)).toEqual(["redact.patterns.1.name"]);
    expect(issuesOf({ patterns: [{ name: "path", pattern: "x" }] }).map((i) => i.field)).toEqual(["redact.patterns.0.name"]);
    expect(issuesOf({ rules: "some" }).map((i) => i.field)).toEqual(["redact.rules"]);
  });

  it("accepts an empty options object and a Buffer key", () => {
    expect(() => new Redactor({})).not.toThrow();
    expect(() => new Redactor({ replacement: "hmac", hmacKey: Buffer.alloc(16) })).not.toThrow();
  });

  it("copies the HMAC key: changing the caller's buffer later changes nothing", () => {
    const key = Buffer.alloc(32, 5);
    const r = new Redactor({ replacement: "hmac", hmacKey: key });
    const before = r.redactText("alice@example.com", {});
    key.fill(6);
    expect(r.redactText("alice@example.com", {})).toBe(before);
  });
});

describe("user patterns", () => {
  it("string and RegExp patterns, with flags, run after the built-ins", () => {
    const r = new Redactor({
      patterns: [
        { name: "employee_id", pattern: "\\bemp-\\d{5}\\b", flags: "i" },
        { name: "project", pattern: /\bPROJECT-(?:ALPHA|OMEGA)\b/ },
      ],
    });
    expect(r.ruleNames.slice(-2)).toEqual(["employee_id", "project"]);
    const counts: RedactionCounts = {};
    expect(r.redactText("EMP-12345 and emp-54321 on PROJECT-OMEGA, mail bob@example.com", counts)).toBe(
      "[REDACTED:employee_id] and [REDACTED:employee_id] on [REDACTED:project], mail [REDACTED:email]",
    );
    expect(counts).toEqual({ employee_id: 2, project: 1, email: 1 });
  });

  it("a RegExp's own flags are kept; flags override them; sticky and global flags are normalised", () => {
    const r1 = new Redactor({ rules: [], patterns: [{ name: "code", pattern: /code-[a-z]+/iy }] });
    expect(r1.redactText("x CODE-abc y code-def", {})).toBe("x [REDACTED:code] y [REDACTED:code]");
    const r2 = new Redactor({ rules: [], patterns: [{ name: "code", pattern: /code-[a-z]+/i, flags: "" }] });
    expect(r2.redactText("x CODE-abc y code-def", {})).toBe("x CODE-abc y [REDACTED:code]");
  });

  it("a (?<secret>) group limits the replacement to that group", () => {
    const r = new Redactor({ rules: [], patterns: [{ name: "session", pattern: "session=(?<secret>[0-9a-f]{16})" }] });
    const counts: RedactionCounts = {};
    expect(r.redactText("GET /?session=0123456789abcdef&x=1", counts)).toBe("GET /?session=[REDACTED:session]&x=1");
    expect(counts).toEqual({ session: 1 });
  });

  it("validate decides per match; a throwing validator redacts (fails closed)", () => {
    const r = new Redactor({
      rules: [],
      patterns: [
        { name: "even", pattern: "\\bN\\d+\\b", validate: (m) => Number(m.slice(1)) % 2 === 0 },
        {
          name: "odd_one",
          pattern: "\\bX\\d\\b",
          validate: () => {
            throw new Error("bug in validator");
          },
        },
      ],
    });
    const counts: RedactionCounts = {};
    expect(r.redactText("N1 N2 N3 N4 X7", counts)).toBe("N1 [REDACTED:even] N3 [REDACTED:even] [REDACTED:odd_one]");
    expect(counts).toEqual({ even: 2, odd_one: 1 });
  });

  it("a pattern that can match the empty string does not hang and replaces only real matches", () => {
    const r = new Redactor({ rules: [], patterns: [{ name: "zs", pattern: "z*" }] });
    const counts: RedactionCounts = {};
    expect(r.redactText("a zz b z", counts)).toBe("a [REDACTED:zs] b [REDACTED:zs]");
    expect(counts).toEqual({ zs: 2 });
  });

  it("two redactors built from one RegExp do not share match state", () => {
    const shared = /tok-\d+/g;
    const a = new Redactor({ rules: [], patterns: [{ name: "tok", pattern: shared }] });
    const b = new Redactor({ rules: [], patterns: [{ name: "tok", pattern: shared }] });
    expect(a.redactText("tok-1 tok-2", {})).toBe("[REDACTED:tok] [REDACTED:tok]");
    expect(b.redactText("tok-3", {})).toBe("[REDACTED:tok]");
    expect(shared.lastIndex).toBe(0);
  });
});
