/**
 * The local spool of the PostgreSQL sink: sealed lines, exactly as the chain wrote them, waiting
 * for the store. Appended in order, replayed in order from a read offset, removed once replayed.
 * A crash mid-append can leave a torn last line; it is cut when the spool is opened (the record
 * it held is still in the session's own JSONL file).
 */
import fs from "node:fs";
import { LineSplitter } from "../reader/lines.js";
import { notRegularFile, openRegularForAppendReadSync, openRegularForAppendSync, openRegularSync } from "../regular-file.js";

const READ_CHUNK = 1 << 20;

export interface SpoolBatch {
  readonly lines: string[];
  /** bytes the batch spans, newlines included: pass to `advance()` once stored */
  readonly bytes: number;
}

export class Spool {
  readonly path: string;
  private fd: number | undefined;
  private size = 0;
  private offset = 0;
  /** bytes of a torn final line cut when the spool was opened */
  readonly tornBytes: number;

  constructor(file: string) {
    this.path = file;
    let torn = 0;
    // (never through a link, never a FIFO: NotRegularFileError. Found by a security pass,
    // 2026-12-05: the size was taken through a link and the torn tail cut with a plain "r+", so a
    // link named like the spool made the sink truncate the file it named, outside the audit
    // directory, to its last newline)
    const refused = notRegularFile(file, true);
    if (refused) throw refused;
    try {
      const st = fs.statSync(file);
      this.size = st.size;
      torn = this.cutTornTail();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.tornBytes = torn;
  }

  /** bytes written but not yet replayed */
  get pendingBytes(): number {
    return this.size - this.offset;
  }

  get isEmpty(): boolean {
    return this.pendingBytes === 0;
  }

  /** Appends lines (without newlines) in one write. Throws the OS error; nothing is half-counted. */
  append(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const chunk = Buffer.from(lines.join("\n") + "\n", "utf8");
    // (never a FIFO or a link put under its name: see openRegularForAppendSync)
    if (this.fd === undefined) this.fd = openRegularForAppendSync(this.path, 0o600);
    let done = 0;
    while (done < chunk.length) done += fs.writeSync(this.fd, chunk, done, chunk.length - done);
    this.size += chunk.length;
  }

  /** Up to `maxLines` complete lines from the read offset, without consuming them. */
  read(maxLines: number): SpoolBatch {
    if (this.isEmpty) return { lines: [], bytes: 0 };
    const fd = openRegularSync(this.path);
    try {
      const lines: string[] = [];
      let pos = this.offset;
      // bytes of the lines taken, newlines included (each byte searched once, a long line joined
      // once: see LineSplitter)
      let bytes = 0;
      const buf = Buffer.alloc(Math.min(READ_CHUNK, this.size - pos));
      // (the sink's own spool: its lines are taken whatever their length, as it wrote them)
      const split = new LineSplitter(true, Number.POSITIVE_INFINITY);
      while (lines.length < maxLines && pos < this.size) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, this.size - pos), pos);
        if (n <= 0) break;
        pos += n;
        split.feed(buf.subarray(0, n));
        while (lines.length < maxLines && split.next()) {
          lines.push(split.data.toString("utf8", split.start, split.end));
          bytes += split.end - split.start + 1;
        }
      }
      // an unterminated remainder is not returned; it is completed by the append in progress
      return { lines, bytes };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Marks `bytes` (from the last `read`) as stored. */
  advance(bytes: number): void {
    this.offset = Math.min(this.size, this.offset + bytes);
  }

  /** Removes the file once everything in it is replayed; true when it is gone. */
  removeIfDone(): boolean {
    if (!this.isEmpty) return false;
    this.close();
    try {
      fs.unlinkSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.size = 0;
    this.offset = 0;
    return true;
  }

  close(): void {
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      fs.closeSync(fd);
    }
  }

  private cutTornTail(): number {
    if (this.size === 0) return 0;
    const fd = openRegularForAppendReadSync(this.path, 0o600);
    try {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, this.size - 1);
      if (last[0] === 0x0a) return 0;
      // Found by review, 2026-12-04: only the last 1 MiB was searched, and a torn line longer
      // than that was cut by exactly 1 MiB: the rest of it stayed, the next append was glued to
      // it and that record was lost. Now the search goes back chunk by chunk to the last
      // newline, or to the start of the file.
      let keep = 0;
      let end = this.size;
      const buf = Buffer.alloc(Math.min(this.size, READ_CHUNK));
      while (end > 0) {
        const len = Math.min(READ_CHUNK, end);
        const n = fs.readSync(fd, buf, 0, len, end - len);
        const nl = buf.subarray(0, n).lastIndexOf(0x0a);
        if (nl !== -1) {
          keep = end - len + nl + 1;
          break;
        }
        end -= len;
      }
      const cut = this.size - keep;
      fs.ftruncateSync(fd, keep);
      this.size = keep;
      return cut;
    } finally {
      fs.closeSync(fd);
    }
  }
}
