import { constants } from "node:buffer";
import fs from "node:fs";
import { openRegular } from "../regular-file.js";

/**
 * The longest line the readers read: V8's longest string (0x1fffffe8 units, about 512 MiB), as a
 * line is read as one string. A longer line is not read: its bytes are passed over, never held,
 * and it is counted as a line that is not a record (`verify`: `malformed_line`, or
 * `torn_final_line` at the end of the newest file). The kit writes one only for a record holding
 * hundreds of millions of characters (far beyond `maxValueChars`). Until 2026-12-05 a line was
 * held whole whatever its length: a planted sparse file of a few KiB on disk, one 600 MiB line,
 * made `summary`, `report`, `tail`, `export` and the viewer's pages fail with
 * `ERR_STRING_TOO_LONG` after 20 s and 1.3 GB, and one of 5 GiB took 5 GB and 100 s before
 * failing (found by review, 2026-12-05).
 */
export const MAX_LINE_BYTES = constants.MAX_STRING_LENGTH;

export interface RawLine {
  /** the line's text, without its newline ("" for an oversized line) */
  readonly text: string;
  /** 1-based line number in its file */
  readonly line: number;
  /** false only for a final line with no newline after it (a torn write) */
  readonly terminated: boolean;
  /** set (to its length in bytes) for a line longer than MAX_LINE_BYTES, which was not read */
  readonly oversized?: number;
}

function rawLine(text: string, line: number, terminated: boolean, oversized: number | undefined): RawLine {
  return oversized === undefined ? { text, line, terminated } : { text, line, terminated, oversized };
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
  const chunk = Buffer.allocUnsafe(highWaterMark);
  const lines = new LineSplitter(true);
  let lineNo = 0;
  try {
    for (let pos = 0; ; ) {
      const n = await read(chunk, pos);
      if (n === 0) break;
      pos += n;
      lines.feed(chunk.subarray(0, n));
      while (lines.next()) {
        lineNo++;
        yield rawLine(lines.data.toString("utf8", lines.start, lines.end), lineNo, true, lines.oversizedLength);
      }
    }
  } finally {
    await fh?.close().catch(() => undefined);
  }
  const rest = lines.rest();
  if (rest) {
    lineNo++;
    yield rawLine(rest.toString("utf8"), lineNo, false, lines.oversizedLength);
  }
}

/**
 * Calls `onLine` for every line of a file, reading 1 MiB at a time without blocking the event
 * loop between chunks, but without a promise per line (the fast path of the verifier). A
 * descriptor is read from its start and left open, as by `readLines`.
 */
export async function forEachLine(file: string | number, onLine: (line: RawLine) => void, chunkSize = 1 << 20): Promise<void> {
  await forEachLineBytes(file, (data, start, end, line, terminated, oversized) => onLine(rawLine(data.toString("utf8", start, end), line, terminated, oversized)), chunkSize);
}

/**
 * Like `forEachLine`, without decoding: `onLine(data, start, end, lineNo, terminated, oversized)`
 * sees the line as the bytes `data[start, end)`, valid only during the call; for a line longer
 * than MAX_LINE_BYTES, `oversized` is its length and the bytes are none.
 */
export async function forEachLineBytes(
  file: string | number,
  onLine: (data: Buffer, start: number, end: number, line: number, terminated: boolean, oversized: number | undefined) => void,
  chunkSize = 1 << 20,
): Promise<void> {
  const fh = typeof file === "number" ? undefined : await openRegular(file);
  const read = (buf: Buffer, pos: number): Promise<number> =>
    fh
      ? fh.read(buf, 0, buf.length, pos).then((r) => r.bytesRead)
      : new Promise((resolve, reject) => fs.read(file as number, buf, 0, buf.length, pos, (err, n) => (err ? reject(err) : resolve(n))));
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    const lines = new LineSplitter(true);
    let lineNo = 0;
    for (let pos = 0; ; ) {
      const bytesRead = await read(buf, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      lines.feed(buf.subarray(0, bytesRead));
      while (lines.next()) onLine(lines.data, lines.start, lines.end, ++lineNo, true, lines.oversizedLength);
    }
    const rest = lines.rest();
    if (rest) onLine(rest, 0, rest.length, lineNo + 1, false, lines.oversizedLength);
  } finally {
    await fh?.close();
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Splits the chunks of a file, fed in order, into lines at the byte 0x0A, looking at each byte
 * once: the part of a line read so far is kept as the list of its pieces, and joined once, when
 * its newline comes (the line is then held twice for a moment, the pieces and the joined line, as
 * it was before). Until 2026-12-05 the readers joined the partial line with every new chunk and
 * searched it again from its start, so reading a line of L MiB cost ~L²/2 MiB of copying and
 * scanning: a 128 MiB line planted in a checkpoints file made `verify` take 64 s (adversarial
 * review finding 5).
 *
 * @example
 * const lines = new LineSplitter(true);
 * lines.feed(buf.subarray(0, n));
 * while (lines.next()) use(lines.data, lines.start, lines.end);
 * // at the end of the file: lines.rest(), the final line without a newline, if any
 *
 * A line longer than `maxLine` bytes (default MAX_LINE_BYTES) is not held: its bytes are dropped
 * as they come, and it is given as an empty line whose `oversizedLength` is its length.
 */
export class LineSplitter {
  /** after `next()` returned true: the line is the bytes [start, end) of `data`, valid until the next `feed` */
  data: Buffer = EMPTY;
  start = 0;
  end = 0;
  /** after `next()` returned true (or `rest()` returned the final line): the length in bytes of a line too long to hold, else undefined */
  oversizedLength: number | undefined = undefined;
  private chunk: Buffer = EMPTY;
  private pos = 0;
  private readonly pieces: Buffer[] = [];
  private held = 0;
  /** bytes of the current line dropped (> 0: it is longer than maxLine) */
  private dropped = 0;

  /** `copy`: the caller reuses its chunk buffer, so a partial line is copied out of it */
  constructor(
    private readonly copy: boolean,
    private readonly maxLine: number = MAX_LINE_BYTES,
  ) {}

  /** Drops the part of the current line held so far, and `more` bytes of it: it is too long. */
  private drop(more: number): void {
    this.dropped += this.held + more;
    this.pieces.length = 0;
    this.held = 0;
  }

  /** Gives the next chunk (after `next()` returned false for the one before). */
  feed(chunk: Buffer): void {
    this.chunk = chunk;
    this.pos = 0;
  }

  /** Finds the next line that ends in this chunk; false when there is none (the rest is kept). */
  next(): boolean {
    const nl = this.chunk.indexOf(0x0a, this.pos);
    if (nl === -1) {
      if (this.pos < this.chunk.length) {
        const piece = this.chunk.subarray(this.pos);
        if (this.dropped > 0 || this.held + piece.length > this.maxLine) this.drop(piece.length);
        else {
          this.pieces.push(this.copy ? Buffer.from(piece) : piece);
          this.held += piece.length;
        }
      }
      this.chunk = EMPTY;
      this.pos = 0;
      return false;
    }
    this.oversizedLength = undefined;
    if (this.dropped > 0 || this.held + nl - this.pos > this.maxLine) {
      this.drop(nl - this.pos);
      this.oversizedLength = this.dropped;
      this.dropped = 0;
      this.data = EMPTY;
      this.start = 0;
      this.end = 0;
    } else if (this.pieces.length > 0) {
      this.pieces.push(this.chunk.subarray(this.pos, nl));
      this.data = Buffer.concat(this.pieces, this.held + nl - this.pos);
      this.pieces.length = 0;
      this.held = 0;
      this.start = 0;
      this.end = this.data.length;
    } else {
      this.data = this.chunk;
      this.start = this.pos;
      this.end = nl;
    }
    this.pos = nl + 1;
    return true;
  }

  /** Bytes of a line begun but not yet ended. */
  get pending(): number {
    return this.held + this.dropped;
  }

  /**
   * The bytes after the last newline (a final line without one), or undefined; then forgets them.
   * Empty, with `oversizedLength` set, when that line is longer than `maxLine`.
   */
  rest(): Buffer | undefined {
    this.oversizedLength = undefined;
    if (this.dropped > 0) {
      this.oversizedLength = this.dropped;
      this.dropped = 0;
      return EMPTY;
    }
    if (this.held === 0) return undefined;
    const b = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.held);
    this.pieces.length = 0;
    this.held = 0;
    return b;
  }
}
