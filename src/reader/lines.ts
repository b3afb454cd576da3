import fs from "node:fs";
import { openRegular } from "../regular-file.js";

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
 * chunk plus one line whatever the file size. The file must be a regular file, not a link
 * (src/regular-file.ts: NotRegularFileError otherwise). Given a descriptor instead of a name, it
 * reads that file from its start and leaves the descriptor open (the caller closes it).
 */
export async function* readLines(file: string | number, highWaterMark = 1 << 20): AsyncGenerator<RawLine> {
  const fh = typeof file === "number" ? undefined : await openRegular(file);
  const read = (buf: Buffer, pos: number): Promise<number> =>
    fh
      ? fh.read(buf, 0, buf.length, pos).then((r) => r.bytesRead)
      : new Promise((resolve, reject) => fs.read(file as number, buf, 0, buf.length, pos, (err, n) => (err ? reject(err) : resolve(n))));
  let carry: Buffer | undefined;
  let lineNo = 0;
  try {
    for (let pos = 0; ; ) {
      const chunk = Buffer.allocUnsafe(highWaterMark);
      const n = await read(chunk, pos);
      if (n === 0) break;
      pos += n;
      const buf = carry ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      let nl = buf.indexOf(0x0a, start);
      while (nl !== -1) {
        lineNo++;
        yield { text: buf.toString("utf8", start, nl), line: lineNo, terminated: true };
        start = nl + 1;
        nl = buf.indexOf(0x0a, start);
      }
      carry = start < buf.length ? buf.subarray(start) : undefined;
    }
  } finally {
    await fh?.close().catch(() => undefined);
  }
  if (carry && carry.length > 0) {
    lineNo++;
    yield { text: carry.toString("utf8"), line: lineNo, terminated: false };
  }
}

/**
 * Calls `onLine` for every line of a file, reading 1 MiB at a time without blocking the event
 * loop between chunks, but without a promise per line (the fast path of the verifier). A
 * descriptor is read from its start and left open, as by `readLines`.
 */
export async function forEachLine(file: string | number, onLine: (line: RawLine) => void, chunkSize = 1 << 20): Promise<void> {
  await forEachLineBytes(file, (data, start, end, line, terminated) => onLine({ text: data.toString("utf8", start, end), line, terminated }), chunkSize);
}

/**
 * Like `forEachLine`, without decoding: `onLine(data, start, end, lineNo, terminated)` sees the
 * line as the bytes `data[start, end)`, valid only during the call.
 */
export async function forEachLineBytes(
  file: string | number,
  onLine: (data: Buffer, start: number, end: number, line: number, terminated: boolean) => void,
  chunkSize = 1 << 20,
): Promise<void> {
  const fh = typeof file === "number" ? undefined : await openRegular(file);
  const read = (buf: Buffer, pos: number): Promise<number> =>
    fh
      ? fh.read(buf, 0, buf.length, pos).then((r) => r.bytesRead)
      : new Promise((resolve, reject) => fs.read(file as number, buf, 0, buf.length, pos, (err, n) => (err ? reject(err) : resolve(n))));
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    let carry: Buffer | undefined;
    let lineNo = 0;
    for (let pos = 0; ; ) {
      const bytesRead = await read(buf, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const data = carry ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let start = 0;
      for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
        onLine(data, start, nl, ++lineNo, true);
        start = nl + 1;
      }
      carry = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
    }
    if (carry && carry.length > 0) onLine(carry, 0, carry.length, lineNo + 1, false);
  } finally {
    await fh?.close();
  }
}
