/**
 * What the kit prints or hands over about a failure to record is redacted as the records are.
 * A capture function that throws (here `captureArgs`, whose error quotes the argument: an API key
 * and an e-mail address) costs the record what it captures, and is reported: the record itself
 * redacts the message, but the AUDIT_WARN_RECORD_FAILED warning printed on stderr when nobody
 * listens for `error` wrote it as thrown, the key in clear, beside a trail that redacts it
 * (found by the security pass, 2026-12-06), and so did the logger's own warning of a sink's
 * failure. Real child processes; their stderr bytes are read.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cleanupTmp, runFixtureChild, walk } from "../helpers/index.js";
import { seededChars } from "./canaries.js";

afterEach(() => cleanupTmp());

const SECRET = `sk-proj-${seededChars(41, 48)}`;

function run(listen: "listen" | "quiet", mode: "main" | "thread" | "sink") {
  process.env.REPORT_SECRET = SECRET;
  try {
    return runFixtureChild<{ events: string[]; auditDir: string }>("redact/report-child.mts", "report-text-", [listen, mode]);
  } finally {
    delete process.env.REPORT_SECRET;
  }
}

describe("a failure to record is reported without the secrets the records redact", () => {
  for (const mode of ["main", "thread"] as const) {
    it(`${mode}: the AUDIT_WARN_RECORD_FAILED warning on stderr is redacted (the key and the address were printed in clear)`, () => {
      const r = run("quiet", mode);
      expect(r.status, r.stderr).toBe(0);
      const warning = r.stderr.split("\n").find((l) => l.includes("AUDIT_WARN_RECORD_FAILED"));
      expect(warning, r.stderr).toMatch(/recorded a call without what its captureArgs option gives \(it threw\): cannot capture token \[REDACTED:openai\] for \[REDACTED:email\]/);
      expect(r.stderr).not.toContain(SECRET.slice(8));
      expect(r.stderr).not.toContain("bob.report@example.com");
    });
  }

  it("the AUDIT_ERR_IO warning of a sink's failure is redacted too (it printed the sink's message in clear)", () => {
    const r = run("quiet", "sink");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[AUDIT_ERR_IO\] AuditLoggerWarning: Sink Object refused a \w+ record: the store refused the token \[REDACTED:openai\]/);
    expect(r.stderr).not.toContain(SECRET.slice(8));
  });

  it("the trail holds neither, and the `error` event hands the app its own error as thrown", () => {
    const r = run("listen", "main");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain(SECRET.slice(8));
    // the app's own object, unchanged: what it logs of it is the app's to redact
    expect(r.out.events).toEqual([`cannot capture token ${SECRET} for bob.report@example.com`]);
    const files = walk(r.out.auditDir);
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const bytes = fs.readFileSync(f, "latin1");
      expect(bytes, f).not.toContain(SECRET.slice(8));
      expect(bytes, f).not.toContain("bob.report@example.com");
    }
    const tool = fs.readFileSync(path.join(r.out.auditDir, "tool_usage_report.jsonl"), "utf8");
    expect(tool).toContain("captureArgs threw: cannot capture token [REDACTED:openai] for [REDACTED:email]");
  });
});

describe("the line the exit hook prints on stderr when it cannot write everything", () => {
  // (the logger's warnings were redacted, the exit hook's last line was not: a failure quoting a
  // path that holds an address and a key printed both in clear; found 2026-12-06)
  for (const mode of ["main", "thread"] as const) {
    it(`${mode}: is redacted by the logger's redact options`, () => {
      process.env.EXIT_SECRET = SECRET;
      let r: ReturnType<typeof runFixtureChild<{ auditDir: string }>>;
      try {
        r = runFixtureChild<{ auditDir: string }>("redact/exit-child.mts", "exit-text-", [mode]);
      } finally {
        delete process.env.EXIT_SECRET;
      }
      expect(r.status, r.stderr).toBe(0);
      // (the path holds both: the child wrote there)
      expect(r.out.auditDir).toContain(SECRET);
      expect(r.out.auditDir).toContain("bob.exit@example.com");
      expect(r.stderr).toMatch(/^audit-logger: could not write everything as the process ended: session exiting: the full content of 1 interaction\(s\) not written: The content directory \S*\[REDACTED:email\]\/\[REDACTED:openai\]\/audit_logs\/full_interactions is a symbolic link or not a directory/m);
      expect(r.stderr).not.toContain(SECRET.slice(8));
      expect(r.stderr).not.toContain("bob.exit@example.com");
    });
  }
});

