import fs from "node:fs";

export interface RawLine {
  /** the line's text, without its newline */
  readonly text: string;
  /** 1-based line number in its file */
  readonly line: number;
  /** false only for a final line with no newline after it (a torn write) */
  readonly terminated: boolean;
}

/**
 * Streams a file's lines, splitting on the byte 0x0A before decoding, so memory stays at one
 * chunk plus one line whatever the file size.
 */
export async function* readLines(file: string, highWaterMark = 1 << 20): AsyncGenerator<RawLine> {
  const stream = fs.createReadStream(file, { highWaterMark });
  let carry: Buffer | undefined;
  let lineNo = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let buf = carry ? Buffer.concat([carry, chunk]) : chunk;
      let start = 0;
      let nl = buf.indexOf(0x0a, start);
      while (nl !== -1) {
        lineNo++;
        yield { text: buf.toString("utf8", start, nl), line: lineNo, terminated: true };
        start = nl + 1;
        nl = buf.indexOf(0x0a, start);
      }
      carry = start < buf.length ? buf.subarray(start) : undefined;
      buf = Buffer.alloc(0);
    }
  } finally {
    stream.destroy();
  }
  if (carry && carry.length > 0) {
    lineNo++;
    yield { text: carry.toString("utf8"), line: lineNo, terminated: false };
  }
}
