import fs from "node:fs";
import { LineSplitter, type RawLine } from "./lines.js";
import { openRegularSync } from "../regular-file.js";

/**
 * Synchronous twin of `readLines`, for start-up paths that must not await (1 MiB reads); a regular
 * file only, and a line longer than MAX_LINE_BYTES not read (`oversized`), as there. Given a descriptor, reads it from the start and leaves it open.
 */
export function* readLinesSync(file: string | number, chunkSize = 1 << 20): Generator<RawLine> {
  const fd = typeof file === "number" ? file : openRegularSync(file);
  try {
    // (sized to the file, up to chunkSize, and not zero-filled: only the bytes read are used. A
    // zero-filled 1 MiB buffer per file was most of the cost of reading every session's small
    // audit_event chain, 2.5 s of 3 s at 2,000 sessions; found 2026-12-05, see chainedHolds)
    const buf = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(fs.fstatSync(fd).size + 1, 64 * 1024)));
    const lines = new LineSplitter(true);
    let lineNo = 0;
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      lines.feed(buf.subarray(0, n));
      while (lines.next()) {
        lineNo++;
        const oversized = lines.oversizedLength;
        const text = lines.data.toString("utf8", lines.start, lines.end);
        yield oversized === undefined ? { text, line: lineNo, terminated: true } : { text, line: lineNo, terminated: true, oversized };
      }
    }
    const rest = lines.rest();
    if (rest) {
      const oversized = lines.oversizedLength;
      yield oversized === undefined ? { text: rest.toString("utf8"), line: lineNo + 1, terminated: false } : { text: "", line: lineNo + 1, terminated: false, oversized };
    }
  } finally {
    if (typeof file !== "number") fs.closeSync(fd);
  }
}
