/**
 * Reading the end of a file backwards in 64 KiB chunks, so a large chain file is never read
 * whole: the chain head for the logger's repair and the readers' peek (recover.ts), the last
 * lines for `audit-logger tail` (cli/tail-read.ts). One implementation for both (until
 * 2026-12-05 each had its own copy of this loop).
 */
import fs from "node:fs";
import { MAX_LINE_BYTES } from "../reader/lines.js";

const CHUNK = 64 * 1024;

export interface LastLines {
  /** the last complete (newline-terminated) lines before `limit`, oldest first, without their newlines */
  readonly lines: string[];
  /** the file offset of the last newline before `limit`, -1 when there is none */
  readonly lastNewline: number;
}

/**
 * The last `n` complete lines of an open file before byte `limit` (default: its size). Each
 * chunk is searched once, and a line that spans chunks is joined once (until 2026-12-05 the bytes
 * not yet split were joined with every chunk read and searched again, so a long line took time
 * quadratic in its length: adversarial review finding 5). Bytes after the last newline (a torn
 * final line) are not a line. A line longer than MAX_LINE_BYTES (V8's longest string) is never
 * held: it is counted, and `tooLong(its length)` stands in its place (until 2026-12-05 it was read
 * whole and failed with ERR_STRING_TOO_LONG: found by review).
 *
 * @example
 * const { lines, lastNewline } = lastLinesOfFd(fd, 1); // the last line, and where it ends
 * const end = lastLinesOfFd(fd, 0).lastNewline + 1; // where the complete lines end
 */
export function lastLinesOfFd(fd: number, n: number, limit?: number, tooLong: (bytes: number) => string = () => ""): LastLines {
  let pos = Math.min(fs.fstatSync(fd).size, limit ?? Number.MAX_SAFE_INTEGER);
  // the part of the line being read that lies after the current chunk: its pieces, the last in the
  // file first, and their length (once past MAX_LINE_BYTES, only counted)
  const after: Buffer[] = [];
  let afterBytes = 0;
  const line = (head: Buffer): string => {
    const bytes = afterBytes + head.length;
    afterBytes = 0;
    if (bytes > MAX_LINE_BYTES) {
      after.length = 0;
      return tooLong(bytes);
    }
    if (after.length === 0) return head.toString("utf8");
    const text = Buffer.concat([head, ...after.reverse()]).toString("utf8");
    after.length = 0;
    return text;
  };
  let lastNewline = -1;
  const out: string[] = [];
  while (pos > 0 && (out.length < n || lastNewline === -1)) {
    const start = Math.max(0, pos - CHUNK);
    const buf = Buffer.alloc(pos - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    pos = start;
    // bytes [0, end) of the chunk are not yet split
    let end = buf.length;
    if (lastNewline === -1) {
      end = buf.lastIndexOf(0x0a);
      if (end === -1) continue; // still inside a torn final line
      lastNewline = start + end;
    }
    let nl = end > 0 ? buf.lastIndexOf(0x0a, end - 1) : -1;
    while (nl !== -1 && out.length < n) {
      out.push(line(buf.subarray(nl + 1, end)));
      end = nl;
      nl = end > 0 ? buf.lastIndexOf(0x0a, end - 1) : -1;
    }
    afterBytes += end;
    if (afterBytes <= MAX_LINE_BYTES) after.push(buf.subarray(0, end));
    else after.length = 0;
  }
  // (the file's first line has no newline before it)
  if (out.length < n && pos === 0 && lastNewline !== -1) out.push(line(Buffer.alloc(0)));
  return { lines: out.reverse(), lastNewline };
}
