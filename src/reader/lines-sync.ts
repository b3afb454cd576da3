import fs from "node:fs";
import { LineSplitter, type RawLine } from "./lines.js";
import { openRegularSync } from "../regular-file.js";

/**
 * Synchronous twin of `readLines`, for start-up paths that must not await (1 MiB reads); a regular
 * file only, as there. Given a descriptor, reads it from the start and leaves it open.
 */
export function* readLinesSync(file: string | number, chunkSize = 1 << 20): Generator<RawLine> {
  const fd = typeof file === "number" ? file : openRegularSync(file);
  try {
    const buf = Buffer.alloc(chunkSize);
    const lines = new LineSplitter(true);
    let lineNo = 0;
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      lines.feed(buf.subarray(0, n));
      while (lines.next()) {
        lineNo++;
        yield { text: lines.data.toString("utf8", lines.start, lines.end), line: lineNo, terminated: true };
      }
    }
    const rest = lines.rest();
    if (rest) yield { text: rest.toString("utf8"), line: lineNo + 1, terminated: false };
  } finally {
    if (typeof file !== "number") fs.closeSync(fd);
  }
}
