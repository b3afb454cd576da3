/**
 * The line readers on lines that span many chunks: what they return, and how much work a long
 * line costs them. Until 2026-12-05 each one joined the partial line with every new chunk and
 * searched it again from its start (backwards, for the tail readers), so a line of L bytes in
 * chunks of C cost ~L²/2C bytes copied and searched: a 128 MiB line planted in a checkpoints file
 * made `verify` take 64 s (adversarial review finding 5; times in docs/BENCHMARKS.md, measured
 * with bench/long-line.ts). The work is counted, not timed: the bytes the readers pass to
 * `Buffer.concat` and the bytes `indexOf`/`lastIndexOf` search, through spies on those two.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { forEachLine, forEachLineBytes, readLines, type RawLine } from "../../src/reader/lines.js";
import { readLinesSync } from "../../src/reader/lines-sync.js";
import { peekTail } from "../../src/sink/recover.js";
import { lastLinesOfFile } from "../../src/cli/tail-read.js";
import { Spool } from "../../src/postgres/spool.js";
import { LineIndex, stampOf } from "../../src/serve/line-index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { work } from "../helpers/work.js";

afterAll(cleanupTmp);
afterEach(() => vi.restoreAllMocks());

const KiB = 1024;
const MiB = 1024 * KiB;

/** What a reader must return for `bytes`: every line, split at 0x0A, each decoded alone. */
function expected(bytes: Buffer): Array<{ text: string; line: number; terminated: boolean }> {
  const out: Array<{ text: string; line: number; terminated: boolean }> = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      out.push({ text: bytes.toString("utf8", start, i), line: out.length + 1, terminated: true });
      start = i + 1;
    }
  }
  if (start < bytes.length) out.push({ text: bytes.toString("utf8", start), line: out.length + 1, terminated: false });
  return out;
}

let files = 0;
function fileOf(bytes: Buffer): string {
  const dir = tmpProject("audit-long-lines-");
  const f = path.join(dir, `lines_${++files}.jsonl`);
  fs.writeFileSync(f, bytes);
  return f;
}

/** Files whose lines end, begin and break multi-byte characters at every offset of small chunks. */
function tricky(): Buffer[] {
  const multi = "é€😀"; // 2, 3 and 4 bytes in UTF-8
  const long = (n: number) => Array.from({ length: n }, (_, i) => multi[i % 3]).join("");
  return [
    "",
    "\n",
    "\n\n\n",
    "a",
    "a\n",
    "abc\ndef",
    "abc\r\ndef\r\n",
    "\r\n\r",
    `${long(40)}\n${long(41)}\n\n${long(3)}`,
    `${long(97)}\r\n${"x".repeat(64)}\n${"y".repeat(63)}\n${"z".repeat(65)}\n😀`,
    `{"a":"${long(300)}"}\n{"b":1}\n`,
  ].map((s) => Buffer.from(s, "utf8"));
}

async function viaForEachLineBytes(f: string, chunk?: number): Promise<RawLine[]> {
  const out: RawLine[] = [];
  await forEachLineBytes(f, (d, s, e, line, terminated) => out.push({ text: d.toString("utf8", s, e), line, terminated }), chunk);
  return out;
}
async function viaForEachLine(f: string, chunk?: number): Promise<RawLine[]> {
  const out: RawLine[] = [];
  await forEachLine(f, (l) => out.push(l), chunk);
  return out;
}
async function viaReadLines(f: string | number, chunk?: number): Promise<RawLine[]> {
  const out: RawLine[] = [];
  for await (const l of readLines(f, chunk)) out.push(l);
  return out;
}
const viaReadLinesSync = (f: string | number, chunk?: number): RawLine[] => [...readLinesSync(f, chunk)];

describe("the forward line readers split correctly at any chunk size", () => {
  it("lines ending at, and starting at, chunk boundaries; \\r kept; multi-byte characters split across chunks; a final line without newline", async () => {
    for (const bytes of tricky()) {
      const f = fileOf(bytes);
      const want = expected(bytes);
      for (const chunk of [1, 2, 3, 4, 5, 7, 8, 16, 63, 64, 65, 1 << 20]) {
        const label = `${JSON.stringify(bytes.toString("utf8").slice(0, 30))} in chunks of ${chunk}`;
        expect(await viaForEachLineBytes(f, chunk), label).toEqual(want);
        expect(await viaForEachLine(f, chunk), label).toEqual(want);
        expect(await viaReadLines(f, chunk), label).toEqual(want);
        expect(viaReadLinesSync(f, chunk), label).toEqual(want);
      }
      // and given a descriptor: read from its start, left open
      const fd = fs.openSync(f, "r");
      try {
        expect(await viaReadLines(fd, 3)).toEqual(want);
        expect(viaReadLinesSync(fd, 3)).toEqual(want);
        expect(fs.fstatSync(fd).size).toBe(bytes.length);
      } finally {
        fs.closeSync(fd);
      }
    }
  });

  it("a 32 MiB line between short ones, in the default 1 MiB chunks, with a 4-byte character across every chunk boundary", async () => {
    // (the 😀 at every 1 MiB boundary of the file: 2 bytes before it, 2 after)
    const head = Buffer.from('{"a":1}\n{"b":2}\n');
    const body = Buffer.alloc(32 * MiB, 0x61);
    const emoji = Buffer.from("😀");
    for (let b = MiB; b < head.length + body.length; b += MiB) emoji.copy(body, b - head.length - 2);
    const bytes = Buffer.concat([head, body, Buffer.from('\n{"c":3}\n{"d":')]);
    const f = fileOf(bytes);
    const want = expected(bytes);
    expect(want.map((l) => l.text.length)).toEqual([7, 7, body.toString("utf8").length, 7, 5]);
    for (const got of [await viaForEachLineBytes(f), await viaReadLines(f), viaReadLinesSync(f)]) {
      expect(got.length).toBe(5);
      expect(got.map((l) => [l.line, l.terminated])).toEqual(want.map((l) => [l.line, l.terminated]));
      // (compared as text, but not through toEqual's diff of 32 MiB strings)
      expect(got.every((l, i) => l.text === want[i]!.text)).toBe(true);
    }
  });
});


/** A file of two short lines, one of `len` bytes, and (unless `last`) two short lines more. */
function withLongLine(len: number, last = false): { file: string; size: number } {
  const short = '{"id":"r","seq":1}\n';
  const bytes = Buffer.concat([Buffer.from(short + short), Buffer.alloc(len, 0x61), Buffer.from(last ? "\n" : "\n" + short + short)]);
  return { file: fileOf(bytes), size: bytes.length };
}

describe("a long line costs work linear in its length", () => {
  // A line of L bytes is joined once (L bytes through Buffer.concat) and each byte is searched
  // for a newline about once. Before: ~L²/2C of each (C the chunk size), given per case.
  it("forEachLineBytes, forEachLine, readLines, readLinesSync (a 256 KiB line in 1 KiB chunks: 32 MiB joined and searched before)", async () => {
    const len = 256 * KiB;
    const { file, size } = withLongLine(len);
    const runs: Array<[string, () => Promise<RawLine[]> | RawLine[]]> = [
      ["forEachLineBytes", () => viaForEachLineBytes(file, KiB)],
      ["forEachLine", () => viaForEachLine(file, KiB)],
      ["readLines", () => viaReadLines(file, KiB)],
      ["readLinesSync", () => viaReadLinesSync(file, KiB)],
    ];
    for (const [name, run] of runs) {
      let lines: RawLine[] = [];
      const w = await work(async () => (lines = await run()));
      expect(lines.map((l) => l.text.length), name).toEqual([18, 18, len, 18, 18]);
      expect(w.joined, name).toBeLessThanOrEqual(len);
      expect(w.searched, name).toBeLessThanOrEqual(size);
    }
  });

  it("peekTail and tail's lastLinesOfFile, backwards in 64 KiB chunks (a 4 MiB line: 134 MiB joined and searched before)", async () => {
    const len = 4 * MiB;
    const last = withLongLine(len, true);
    let head: unknown = "unset";
    const p = await work(() => (head = peekTail(last.file)));
    // (the long line is no record: no head, and nothing thrown)
    expect(head).toBeUndefined();
    expect(p.joined).toBeLessThanOrEqual(last.size);
    expect(p.searched).toBeLessThanOrEqual(last.size);

    const mid = withLongLine(len);
    let lines: string[] = [];
    const t = await work(() => (lines = lastLinesOfFile(mid.file, 4)));
    expect(lines.map((l) => l.length)).toEqual([18, len, 18, 18]);
    expect(t.joined).toBeLessThanOrEqual(len);
    expect(t.searched).toBeLessThanOrEqual(mid.size);
    // every line, from the start of the file
    expect(lastLinesOfFile(mid.file, 10).map((l) => l.length)).toEqual([18, 18, len, 18, 18]);
  });

  it("the PostgreSQL spool's read (1 MiB chunks) and serve's line index (4 MiB chunks) (an 8 and a 24 MiB line: 43 and 104 MiB joined before)", async () => {
    const s = withLongLine(8 * MiB);
    let batch: { lines: string[]; bytes: number } = { lines: [], bytes: 0 };
    const w = await work(() => (batch = new Spool(s.file).read(100)));
    expect(batch.lines.map((l) => l.length)).toEqual([18, 18, 8 * MiB, 18, 18]);
    expect(batch.bytes).toBe(s.size);
    expect(w.joined).toBeLessThanOrEqual(8 * MiB);
    expect(w.searched).toBeLessThanOrEqual(s.size);
    // a batch that ends before the long line, and one that ends with it
    expect(new Spool(s.file).read(2)).toEqual({ lines: batch.lines.slice(0, 2), bytes: 38 });
    expect(new Spool(s.file).read(3).bytes).toBe(38 + 8 * MiB + 1);

    const ix = withLongLine(24 * MiB);
    const stamp = (await stampOf(ix.file))!;
    const index = new LineIndex(stamp);
    const v = await work(() => index.update(ix.file, stamp));
    // (the long line is no record: skipped; the others indexed at their offsets)
    expect([index.count, index.skipped]).toEqual([4, 1]);
    expect([0, 1, 2, 3].map((i) => [index.offset(i), index.length(i)])).toEqual([
      [0, 18],
      [19, 18],
      [38 + 24 * MiB + 1, 18],
      [38 + 24 * MiB + 1 + 19, 18],
    ]);
    expect(v.joined).toBeLessThanOrEqual(24 * MiB);
    expect(v.searched).toBeLessThanOrEqual(ix.size);
  });
});
