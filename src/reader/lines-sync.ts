import fs from "node:fs";
import type { RawLine } from "./lines.js";
import { openRegularSync } from "../regular-file.js";

/**
 * Synchronous twin of `readLines`, for start-up paths that must not await (1 MiB reads); a regular
 * file only, as there. Given a descriptor, reads it from the start and leaves it open.
 */
export function* readLinesSync(file: string | number, chunkSize = 1 << 20): Generator<RawLine> {
  const fd = typeof file === "number" ? file : openRegularSync(file);
  try {
    const buf = Buffer.alloc(chunkSize);
    let carry: Buffer | undefined;
    let lineNo = 0;
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      const data = carry ? Buffer.concat([carry, buf.subarray(0, n)]) : Buffer.from(buf.subarray(0, n));
      let start = 0;
      for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
        lineNo++;
        yield { text: data.toString("utf8", start, nl), line: lineNo, terminated: true };
        start = nl + 1;
      }
      carry = start < data.length ? data.subarray(start) : undefined;
    }
    if (carry && carry.length > 0) yield { text: carry.toString("utf8"), line: lineNo + 1, terminated: false };
  } finally {
    if (typeof file !== "number") fs.closeSync(fd);
  }
}
