/**
 * The local spool of the PostgreSQL sink: sealed lines, exactly as the chain wrote them, waiting
 * for the store. Appended in order, replayed in order from a read offset, removed once replayed.
 * A crash mid-append can leave a torn last line; it is cut when the spool is opened (the record
 * it held is still in the session's own JSONL file).
 */
import fs from "node:fs";

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
    if (this.fd === undefined) this.fd = fs.openSync(this.path, "a", 0o600);
    let done = 0;
    while (done < chunk.length) done += fs.writeSync(this.fd, chunk, done, chunk.length - done);
    this.size += chunk.length;
  }

  /** Up to `maxLines` complete lines from the read offset, without consuming them. */
  read(maxLines: number): SpoolBatch {
    if (this.isEmpty) return { lines: [], bytes: 0 };
    const fd = fs.openSync(this.path, "r");
    try {
      const lines: string[] = [];
      let pos = this.offset;
      let carry: Buffer | undefined;
      while (lines.length < maxLines && pos < this.size) {
        const want = Math.min(READ_CHUNK, this.size - pos);
        const buf = Buffer.alloc(want);
        const n = fs.readSync(fd, buf, 0, want, pos);
        if (n <= 0) break;
        pos += n;
        let data = carry ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
        let start = 0;
        let nl = data.indexOf(0x0a, start);
        while (nl !== -1 && lines.length < maxLines) {
          lines.push(data.toString("utf8", start, nl));
          start = nl + 1;
          nl = data.indexOf(0x0a, start);
        }
        if (lines.length >= maxLines) {
          pos -= data.length - start;
          carry = undefined;
          break;
        }
        carry = start < data.length ? data.subarray(start) : undefined;
        data = Buffer.alloc(0);
      }
      // an unterminated remainder is not returned; it is completed by the append in progress
      const bytes = pos - this.offset - (carry?.length ?? 0);
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
    const fd = fs.openSync(this.path, "r+");
    try {
      const tailLen = Math.min(this.size, 1 << 20);
      const buf = Buffer.alloc(tailLen);
      fs.readSync(fd, buf, 0, tailLen, this.size - tailLen);
      if (buf[tailLen - 1] === 0x0a) return 0;
      const lastNl = buf.lastIndexOf(0x0a);
      const keep = lastNl === -1 ? (tailLen === this.size ? 0 : this.size - tailLen) : this.size - tailLen + lastNl + 1;
      const cut = this.size - keep;
      fs.ftruncateSync(fd, keep);
      this.size = keep;
      return cut;
    } finally {
      fs.closeSync(fd);
    }
  }
}
