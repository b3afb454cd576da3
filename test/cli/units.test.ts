import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { colorEnabled, createColors } from "../../src/cli/color.js";
import { ProgressBar } from "../../src/cli/progress.js";
import { lastLinesOfFile } from "../../src/cli/tail-read.js";
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
