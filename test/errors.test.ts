import fs from "node:fs";
import { describe, expect, it } from "vitest";
import * as lib from "../src/index.js";
import { ERROR_CODES } from "../src/errors.js";

describe("error codes", () => {
  it("every code is in the README's error table, and the table names no unknown code", () => {
    const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const table = readme.slice(readme.indexOf("## Errors"));
    for (const code of ERROR_CODES) expect(table, code).toContain(`| \`${code}\` |`);
    const listed = [...table.matchAll(/\| `(AUDIT_ERR_[A-Z_]+)` \|/g)].map((m) => m[1]);
    expect(new Set(listed)).toEqual(new Set(ERROR_CODES));
  });

  it("every exported error class has its documented code and is an AuditLoggerError", () => {
    const samples: lib.AuditLoggerError[] = [
      new lib.AuditConfigError([{ field: "x", message: "bad" }]),
      new lib.AuditValidationError("logX", [{ field: "y", message: "bad" }]),
      new lib.AuditSessionClosedError("s", "logX"),
      new lib.AuditKeyError("k"),
      new lib.AuditSessionLockedError("s", "/tmp/l", 1),
      new lib.AuditPathError("p"),
      new lib.AuditIOError("io"),
      new lib.AuditFormatError("f"),
    ];
    expect(samples.map((e) => e.code).sort()).toEqual([...ERROR_CODES].sort());
    for (const e of samples) {
      expect(e).toBeInstanceOf(lib.AuditLoggerError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(e.constructor.name);
    }
  });
});

describe("reason(err), the clause an error's message makes in the kit's own messages", () => {
  it("names the parts of an AggregateError that has no message of its own (a connection to a host name with two addresses), and drops a closing period", async () => {
    const { reason } = await import("../src/error-type.js");
    const both = new AggregateError([new Error("connect ECONNREFUSED ::1:5999"), new Error("connect ECONNREFUSED 127.0.0.1:5999")], "");
    expect(reason(both)).toBe("connect ECONNREFUSED ::1:5999; connect ECONNREFUSED 127.0.0.1:5999");
    expect(reason(new AggregateError([new Error("a")], "all failed."))).toBe("all failed");
    expect(reason(new Error("the disk is full."))).toBe("the disk is full");
    expect(reason("plain")).toBe("plain");
  });
});
