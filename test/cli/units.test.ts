import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { colorEnabled, createColors } from "../../src/cli/color.js";
import { ProgressBar } from "../../src/cli/progress.js";
import { lastLinesOfFile } from "../../src/cli/tail-read.js";
import { lastLinesOfFd } from "../../src/sink/last-lines.js";
import { table } from "../../src/cli/table.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterEach(cleanupTmp);

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, columns: 80, writes, write: (s: string) => (writes.push(s), true) };
}

describe("ProgressBar", () => {
  it("draws on a terminal for large reads and erases itself when done", () => {
    const s = fakeStream(true);
    const bar = new ProgressBar("verify", 8 * 1024 * 1024, s);
    expect(bar.active).toBe(true);
    bar.update(8 * 1024 * 1024);
    expect(s.writes.at(-1)).toMatch(/^\r\u001b\[2Kverify \[#+\] 100% 8\.0\/8\.0 MB$/);
    bar.done();
    expect(s.writes.at(-1)).toBe("\r\u001b[2K");
  });

  it("stays silent in a pipe, and for small reads", () => {
    const pipe = fakeStream(false);
    const big = new ProgressBar("x", 100 * 1024 * 1024, pipe);
    big.update(50 * 1024 * 1024);
    big.done();
    expect(pipe.writes).toEqual([]);
    const tty = fakeStream(true);
    const small = new ProgressBar("x", 1024, tty);
    small.update(1024);
    small.done();
    expect(tty.writes).toEqual([]);
  });
});

describe("colours", () => {
  it("only on a TTY, never with NO_COLOR, or on a dumb terminal", () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { TERM: "dumb" })).toBe(false);
    expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { FORCE_COLOR: "1", NO_COLOR: "1" })).toBe(false);
    // FORCE_COLOR=0 or false turns it off, also on a TTY, as Node reads it ("false" turned it on; review, 2026-12-04)
    for (const off of ["0", "false"]) {
      expect(colorEnabled({ isTTY: true }, { FORCE_COLOR: off })).toBe(false);
      expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: off })).toBe(false);
    }
    expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: "true" })).toBe(true);
    expect(createColors({ isTTY: false }, {}).red("x")).toBe("x");
    expect(createColors({ isTTY: true }, {}).red("x")).toBe("\u001b[31mx\u001b[39m");
  });
});

describe("lastLinesOfFile", () => {
  it("returns the last complete lines, skipping a torn final line, across chunk boundaries", () => {
    const file = path.join(tmpProject(), "f.jsonl");
    const lines = Array.from({ length: 500 }, (_, i) => `{"n":${i},"pad":"${"y".repeat(i % 300)}"}`);
    fs.writeFileSync(file, lines.join("\n") + "\n" + '{"torn":');
    expect(lastLinesOfFile(file, 3)).toEqual(lines.slice(-3));
    expect(lastLinesOfFile(file, 1000)).toEqual(lines);
    expect(lastLinesOfFile(file, 0)).toEqual([]);
    const limit = Buffer.byteLength(lines.slice(0, 10).join("\n") + "\n");
    expect(lastLinesOfFile(file, 2, limit)).toEqual(lines.slice(8, 10));
    const empty = path.join(tmpProject(), "e.jsonl");
    fs.writeFileSync(empty, "");
    expect(lastLinesOfFile(empty, 5)).toEqual([]);
  });
});

describe("lastLinesOfFd (tail's lines, the logger's repair and peekTail read the end of a file with it)", () => {
  const withFd = <T>(content: string | Buffer, f: (fd: number) => T): T => {
    const file = path.join(tmpProject(), "f.jsonl");
    fs.writeFileSync(file, content);
    const fd = fs.openSync(file, "r");
    try {
      return f(fd);
    } finally {
      fs.closeSync(fd);
    }
  };

  it("says where the complete lines end, also with n = 0 and when the last newline is chunks before the end", () => {
    const torn = "t".repeat(200 * 1024); // a torn final line of more than three 64 KiB chunks
    const head = 'a\n{"b":1}\n';
    expect(withFd(head + torn, (fd) => lastLinesOfFd(fd, 0))).toEqual({ lines: [], lastNewline: head.length - 1 });
    expect(withFd(head + torn, (fd) => lastLinesOfFd(fd, 1))).toEqual({ lines: ['{"b":1}'], lastNewline: head.length - 1 });
    expect(withFd(head + torn, (fd) => lastLinesOfFd(fd, 5))).toEqual({ lines: ["a", '{"b":1}'], lastNewline: head.length - 1 });
  });

  it("no newline at all: no line, lastNewline -1; an empty file likewise; empty lines are lines", () => {
    expect(withFd("no newline", (fd) => lastLinesOfFd(fd, 3))).toEqual({ lines: [], lastNewline: -1 });
    expect(withFd("", (fd) => lastLinesOfFd(fd, 3))).toEqual({ lines: [], lastNewline: -1 });
    expect(withFd("\n\nx\n", (fd) => lastLinesOfFd(fd, 5))).toEqual({ lines: ["", "", "x"], lastNewline: 3 });
  });

  it("a line spanning several chunks comes back whole, multi-byte characters across chunk edges intact", () => {
    const long = "é€".repeat(70 * 1024); // 5 bytes per pair: ~350 KiB, chunk edges fall inside characters
    const text = `first\n${long}\nlast\n`;
    expect(withFd(text, (fd) => lastLinesOfFd(fd, 3))).toEqual({ lines: ["first", long, "last"], lastNewline: Buffer.byteLength(text) - 1 });
    // before a limit: the lines ending at or before it
    const limit = Buffer.byteLength(`first\n${long}\n`);
    expect(withFd(text, (fd) => lastLinesOfFd(fd, 1, limit))).toEqual({ lines: [long], lastNewline: limit - 1 });
  });
});

describe("table", () => {
  it("aligns text left and numbers right under a rule", () => {
    expect(table([{ title: "name" }, { title: "n" }], [["a", 1000], ["bbbbbb", 2]]).split("\n")).toEqual([
      "  name        n",
      "  ------  -----",
      "  a       1,000",
      "  bbbbbb      2",
    ]);
  });
});

describe("tail's lines", () => {
  it("a metric's value is shown to six significant digits (a performance.now() duration read 97.48449299999993 ms)", async () => {
    const { AuditLogger } = await import("../../src/index.js");
    const { runCli } = await import("./helpers.js");
    const logger = new AuditLogger({ sessionId: "tail_units", projectPath: tmpProject() });
    logger.logPerformanceMetric({ metricName: "http_request_duration", value: 97.48449299999993, unit: "ms" });
    logger.logPerformanceMetric({ metricName: "ratio", value: 0.000123456789, unit: "ratio" });
    logger.logPerformanceMetric({ metricName: "count", value: 42, unit: "count" });
    await logger.finalizeSession();
    const r = await runCli(["tail", logger.auditDir, "--kind", "performance_metric"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.slice(l.indexOf(" = ") + 3))).toEqual(["97.4845 ms", "0.000123457 ratio", "42 count"]);
  });

  it("end with the record's user and trace, terminal-safe (an operator following a request had no way to tell records apart)", async () => {
    const { AuditLogger, auditContext } = await import("../../src/index.js");
    const { runCli } = await import("./helpers.js");
    const logger = new AuditLogger({ sessionId: "tail_users", projectPath: tmpProject() });
    auditContext.run({ userId: "u-42", traceId: "req-7f3a" }, () => logger.logToolUsage({ toolName: "crm", operation: "lookup" }));
    auditContext.run({ userId: "eve\u001b[2J" }, () => logger.logToolUsage({ toolName: "crm", operation: "lookup" }));
    logger.logToolUsage({ toolName: "crm", operation: "lookup" });
    await logger.finalizeSession();
    const r = await runCli(["tail", logger.auditDir, "--kind", "tool_usage"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/ crm\.lookup ok user=u-42 trace=req-7f3a$/);
    expect(lines[1]).toMatch(/ crm\.lookup ok user=eve\\u001b\[2J$/);
    expect(lines[2]).toMatch(/ crm\.lookup ok$/);
  });
});

describe("intOption", () => {
  it("says the bound a whole number past it breaks (\"-n 99999999999999999\" was told it must be \"a whole number of at least 0\": CLI pass, 2026-12-06)", async () => {
    const { intOption } = await import("../../src/cli/args.js");
    expect(() => intOption("--lines", "99999999999999999", 0)).toThrow(`option --lines must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got "99999999999999999"`);
    expect(() => intOption("--port", "99999", 0, 65535)).toThrow('option --port must be a whole number from 0 to 65535, got "99999"');
    expect(() => intOption("--lines", "ten", 0)).toThrow('option --lines must be a whole number of at least 0, got "ten"');
    expect(intOption("--lines", "12", 0)).toBe(12);
  });
});
