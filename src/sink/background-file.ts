import fs from "node:fs";

/**
 * A chain file that `async` mode writes from the thread pool, as pino's own destination does in
 * its asynchronous mode, so that the app's thread does not pay for the `write(2)` of each batch
 * (~2 µs per record on this VM: the kernel copies the batch into page-cache pages it allocates).
 *
 * Unlike SonicBoom's asynchronous mode, every write goes to a position this class keeps (the
 * file is opened without `O_APPEND`), and a write the thread pool has not finished can be
 * finished synchronously by writing the same bytes at the same position again: the result is the
 * same file whichever of the two writes runs first, or both. That is what lets `writeNow()`
 * (flush(), rotation, a full buffer, the exit hooks) write everything queued at once, in order,
 * without waiting for the thread pool, which an exiting process cannot do. Two rules make it
 * safe: the bytes of a write that was handed to the thread pool are never changed until its
 * callback ran (`idle` tells the owner when its buffer is free again), and its file descriptor
 * is never closed before that either (a closed number can be reused by the next open, and the
 * late write would land in that other file).
 */
export class BackgroundFile {
  private fd: number;
  /** bytes known to be in the file: everything before this position is written */
  private size: number;
  /** bytes to write after `size`, in order (views of the owner's buffers) */
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  /** the thread pool's write under way (its buffers held until it answers), or undefined */
  private outstanding: { fd: number; bufs: Buffer[]; bytes: number; superseded: boolean } | undefined;
  /** descriptors of files replaced by `reopen()`, closed once their outstanding write returned */
  private retired: number | undefined;
  /** the OS error of the last failed write; cleared by a successful one */
  lastError: Error | undefined;
  private readonly onError: (err: Error) => void;

  /** `fd`: the file, open for writing without `O_APPEND` ({@link openRegularForWriteSync}); this class closes it. */
  constructor(fd: number, onError: (err: Error) => void) {
    this.fd = fd;
    this.size = fs.fstatSync(fd).size;
    this.onError = onError;
  }

  /** Bytes queued or being written, not yet known to be in the file. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** Nothing queued and no write of the thread pool's under way: the owner may reuse its buffers. */
  get idle(): boolean {
    return this.queuedBytes === 0 && this.outstanding === undefined;
  }

  /** Queues `chunk` after everything queued before; its bytes must not change until `idle`. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
  }

  /** Hands everything queued to the thread pool, unless a write is under way (its callback starts the next). */
  writeSoon(): void {
    if (this.outstanding !== undefined || this.queuedBytes === 0) return;
    const bufs = this.queue.slice();
    const write = { fd: this.fd, bufs, bytes: this.queuedBytes, superseded: false };
    this.outstanding = write;
    fs.writev(write.fd, bufs, this.size, (err, n) => this.returned(write, err, n));
  }

  /**
   * Writes everything queued now, in order, an outstanding write's bytes included (again, at the
   * same place). Throws the OS error; what was not written stays queued, and is retried by the
   * next write.
   */
  writeNow(): void {
    if (this.outstanding) this.outstanding.superseded = true;
    while (this.queuedBytes > 0) {
      let n: number;
      try {
        n = fs.writevSync(this.fd, this.queue, this.size);
        if (n === 0) throw Object.assign(new Error(`write(2) wrote nothing of ${this.queuedBytes} bytes`), { code: "EIO" });
      } catch (err) {
        this.lastError = err as Error;
        throw err;
      }
      this.wrote(n);
    }
    this.lastError = undefined;
  }

  /** Writes go to the new file `fd` (opened as the constructor's) from now on; call after `writeNow()`. */
  reopen(fd: number): void {
    const old = this.fd;
    this.fd = fd;
    this.size = fs.fstatSync(fd).size;
    if (this.outstanding?.fd === old) this.retired = old;
    else fs.closeSync(old);
  }

  /** Closes the file; one whose thread-pool write is still under way is closed when it returns. */
  close(): void {
    if (this.outstanding?.fd === this.fd) this.retired = this.fd;
    else fs.closeSync(this.fd);
  }

  /** `n` bytes from the head of the queue reached the file. */
  private wrote(n: number): void {
    this.size += n;
    this.queuedBytes -= n;
    while (n > 0) {
      const head = this.queue[0]!;
      if (head.length <= n) {
        n -= head.length;
        this.queue.shift();
      } else {
        this.queue[0] = head.subarray(n);
        n = 0;
      }
    }
  }

  private returned(write: NonNullable<BackgroundFile["outstanding"]>, err: Error | null, n: number): void {
    this.outstanding = undefined;
    if (this.retired === write.fd) {
      this.retired = undefined;
      try {
        fs.closeSync(write.fd);
      } catch {
        // closed already: nothing to do
      }
    }
    // writeNow() wrote these bytes itself meanwhile (and reopen() may have moved on): this write
    // only repeated them, in the same place
    if (write.superseded) {
      if (this.queuedBytes > 0 && !this.lastError) this.writeSoon();
      return;
    }
    if (err || n === 0) {
      // nothing written: the bytes stay queued, for the next write or flush()
      this.lastError = err ?? Object.assign(new Error(`write(2) wrote nothing of ${write.bytes} bytes`), { code: "EIO" });
      this.onError(this.lastError);
      return;
    }
    this.wrote(n);
    // a short write (a file-size limit, the disk filling up) leaves the rest queued: the next
    // attempt, at once, writes it or tells the error
    if (n === write.bytes) this.lastError = undefined;
    if (this.queuedBytes > 0) this.writeSoon();
  }
}
