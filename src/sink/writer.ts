import crypto from "node:crypto";
import fs from "node:fs";
import { AuditRotationError } from "../errors.js";
import { reason } from "../error-type.js";
import { fstatOrClose, notRegularFile, openRegularForAppendSync, openRegularForWriteSync } from "../regular-file.js";
import path from "node:path";
import { createRequire } from "node:module";
import type { SonicBoom as SonicBoomType } from "sonic-boom";
import { GENESIS_HASH } from "../pipeline/chain.js";
import type { ChainKind, Durability, RotationFrequency } from "../types.js";
import { kindFileName, listKindFiles } from "./files.js";
import { BackgroundFile } from "./background-file.js";
import { recoverTail, type TailRepair } from "./recover.js";
import { furthestPrunes, readPruneRecords } from "./prunes.js";

// sonic-boom is CommonJS whose named export ESM cannot see; load it the CommonJS way.
const SonicBoom = createRequire(import.meta.url)("sonic-boom") as typeof SonicBoomType;
/** SonicBoom in contentMode "buffer" (its own types only declare string writes) */
type Boom = Omit<SonicBoomType, "write"> & { readonly fd: number; write(data: Buffer): boolean };

/** `sync`/`fsync`: bytes buffered per kind before they are handed to the OS in one write(2). */
const HIGH_WATER_BYTES = 64 * 1024;
/** The batch buffer: room for the high-water mark plus one worst-case line of up to ~21k characters; `async` mode fills it whole. */
const BUFFER_BYTES = 128 * 1024;
/** `prevHash` (64 hex) is written in front of the body so body and prevHash are hashed in one pass. */
const PREV_HASH_BYTES = 64;
/** `,"hash":"<64 hex>"}` and the newline, replacing the body's closing brace. */
const SEAL_BYTES = ',"hash":"'.length + 64 + '"}\n'.length;
/**
 * `async` mode: bytes handed to the thread pool and not yet written, past which a full batch
 * buffer is written on the app's thread instead of a new one started (back-pressure, bounded memory).
 */
const MAX_BACKGROUND_BYTES = 4 * HIGH_WATER_BYTES;
/** SonicBoom's `maxWrite`: refused bytes are written again in groups of about this size (see boomOn). */
const REFUSED_WRITE_BYTES = 1024 * 1024;
/** How long a failed rotation waits before the next attempt. */
const ROTATION_RETRY_MS = 1000;

export interface WriterOptions {
  readonly auditDir: string;
  readonly kind: ChainKind;
  readonly sessionId: string;
  readonly durability: Durability;
  readonly rotationBytes: number | undefined;
  readonly rotationFrequency: RotationFrequency | undefined;
  readonly fileMode: number;
  /** called with each rename, so the owner can react (checkpoints, fsync of the directory) */
  readonly onRotate?: (segmentPath: string) => void;
  /**
   * called when a name in the directory was made or changed (the active file created, a
   * rotation's link and unlink, the active name opened anew): `fsync` mode syncs the directory
   * before the next commit is reported durable (see DirectorySync)
   */
  readonly onNewName?: () => void;
  /** `async` mode: a write the thread pool made failed (the bytes stay queued and are retried) */
  readonly onWriteError?: (err: Error) => void;
}

/**
 * One kind's JSONL file: chain head, buffer, rotation. This class batches lines itself (so memory
 * stays bounded whatever the rate). In `sync` and `fsync` modes each batch goes to pino's
 * destination, SonicBoom, in its synchronous mode, which writes it with write(2) and retries
 * EAGAIN; in `async` mode to a BackgroundFile, which writes it from the thread pool. Each record
 * is UTF-8 encoded once, straight into the batch buffer, and hashed there: the chain hash is over
 * exactly the bytes that reach the file. Rotation renames the active file to
 * `<kind>_<session>.<n>.jsonl` and opens the documented name again, by the kit itself (a new
 * SonicBoom over the descriptor, not SonicBoom's `reopen()`: see rotate), so the active name never
 * changes.
 */
export class KindWriter {
  readonly kind: ChainKind;
  readonly activePath: string;
  seq = 0;
  prevHash = GENESIS_HASH;
  /** seq of the last record written before this writer opened (0 for a new session) */
  readonly resumedAtSeq: number;
  readonly repair: TailRepair | undefined;
  /** set when the OS refused a write; cleared by the next successful one */
  lastError: Error | undefined;
  private readonly opts: WriterOptions;
  /** `sync` and `fsync` modes: pino's destination, in its synchronous mode */
  private boom: Boom | undefined;
  /** `async` mode: the file, written from the thread pool (see BackgroundFile) */
  private readonly bg: BackgroundFile | undefined;
  /** `async` mode: a batch buffer left for a new one while its bytes were being written, reused once they are */
  private spare: Buffer | undefined;
  /**
   * The batch: bytes [base, used) are sealed lines not yet handed to the OS. Bytes before `base`
   * were refused by the OS and are held (as a view of this buffer) by SonicBoom for its retry, so
   * later lines go after them, never over them, and an outage holds only the refused bytes.
   */
  private buf: Buffer = Buffer.allocUnsafeSlow(BUFFER_BYTES);
  private base = 0;
  private used = 0;
  /** an OS error met while sealing (the batch was full); thrown by the next settle() */
  private sealError: Error | undefined;
  /** bytes the OS refused, kept by SonicBoom and written before anything newer */
  private refusedBytes = 0;
  /** when the last rotation failed; cleared by a successful one */
  private rotateFailedAt: number | undefined;
  /** a rotation renamed the active file to this segment and could not open the documented name again: records go on to it */
  private unopened: string | undefined;
  private bytesInActive: number;
  private lastSegment: number;
  private rotateAt: number | undefined;
  /**
   * Sync state, as counts of the writes handed to the OS: `syncStarted` of them are covered by an
   * fdatasync started (in the thread pool, perhaps still running), `synced` by one that returned.
   * A file is clean for a group commit when every write has a sync started, and on stable storage
   * only when every write has one returned: the exit hook, a checkpoint, a rotation and the close
   * sync again while a group commit's fdatasync is still queued or running (found by review,
   * 2026-12-03: marking the file clean when the commit's fdatasync was queued made the exit hook
   * skip its sync, and a checkpoint was synced before the records it covers).
   */
  private writes = 0;
  private syncStarted = 0;
  private synced = 0;
  /**
   * What the lines must wait for before they reach the file (see hold): throws while they must.
   * Set, no line is handed to the OS (neither written nor queued for the thread pool); the lines
   * wait in `gated`, in order, and go first once it passes.
   */
  private gate: (() => void) | undefined;
  /** lines held back by the gate (copies), in order */
  private gated: Buffer[] = [];
  private gatedBytes = 0;

  /** something was written since the last fdatasync started */
  get dirty(): boolean {
    return this.writes !== this.syncStarted;
  }

  constructor(opts: WriterOptions) {
    this.opts = opts;
    this.kind = opts.kind;
    this.activePath = path.join(opts.auditDir, kindFileName(opts.kind, opts.sessionId));
    // (an active name that is a link, a FIFO or a directory was put there: listings leave it out,
    // and it was taken below for a rotation's leftover, removed, and the chain began again at seq
    // 1; re-review, 2026-12-04)
    const irregular = notRegularFile(this.activePath);
    if (irregular) throw irregular;
    let files = listKindFiles(opts.auditDir, opts.kind, opts.sessionId);
    // a rotation a crash interrupted after its link: finished now (see interruptedRotation)
    if (fs.existsSync(this.activePath) && !files.some((f) => f.segment === undefined)) {
      fs.unlinkSync(this.activePath);
      files = listKindFiles(opts.auditDir, opts.kind, opts.sessionId);
    }
    const segments = files.filter((f) => f.segment !== undefined);
    this.lastSegment = segments.length ? segments[segments.length - 1]!.segment! : 0;
    // Retention may have removed segments, the newest ones included: its chained record (in the
    // audit_event chain) says up to which segment, seq and hash. The chain and the segment
    // numbers go on from there (they began again at 1 when no file held a record, and a segment
    // name was used twice; found by review, 2026-12-04).
    const pruned = opts.kind === "audit_event" ? undefined : furthestPrunes(readPruneRecords(opts.auditDir, opts.sessionId))[opts.kind];
    if (pruned) this.lastSegment = Math.max(this.lastSegment, ...pruned.segments);
    // the chain head is the last record of the active file, else of the newest segment
    let repair: TailRepair | undefined;
    for (const f of [...files].reverse()) {
      const r = recoverTail(f.path);
      repair ??= r.repair;
      if (r.tail) {
        this.seq = r.tail.seq;
        this.prevHash = r.tail.hash;
        break;
      }
    }
    this.repair = repair;
    if (pruned && pruned.lastSeq > this.seq) {
      this.seq = pruned.lastSeq;
      this.prevHash = pruned.lastHash;
    }
    this.resumedAtSeq = this.seq;
    // the kit opens the file itself, never through a link nor into a FIFO put there since the check
    // above (SonicBoom opens a path with no such flags: a FIFO made it wait for good)
    const existed = fs.existsSync(this.activePath);
    const fd = this.openActive();
    if (!existed) opts.onNewName?.();
    const st = fstatOrClose(fd);
    this.bytesInActive = st.size;
    this.rotateAt = nextRotation(opts.rotationFrequency, Math.min(st.birthtimeMs || st.mtimeMs, Date.now()));
    if (opts.durability === "async") {
      this.bg = new BackgroundFile(fd, (err) => opts.onWriteError?.(err));
      return;
    }
    this.boom = this.boomOn(fd);
  }

  /**
   * Opens the documented (active) name, creating it: a regular file only, never through a link
   * ({@link NotRegularFileError} else). `async` mode writes at positions it keeps, the others append.
   */
  private openActive(): number {
    return this.opts.durability === "async" ? openRegularForWriteSync(this.activePath, this.opts.fileMode) : openRegularForAppendSync(this.activePath, this.opts.fileMode);
  }

  /** SonicBoom, synchronous, over the open file `fd`; its OS errors are kept for `settle()`. */
  private boomOn(fd: number): Boom {
    // (maxWrite: what SonicBoom holds after a refused write is written again in groups of at most
    // this many bytes, one recursive call each; at its default, 16 KiB, the ~64 MiB an outage may
    // hold were 4,096 of them, and the retry once the disk took data again overflowed the stack:
    // RangeError, for good; found by the operator pass, 2026-12-05)
    const boom = new SonicBoom({ fd, sync: true, contentMode: "buffer", maxWrite: REFUSED_WRITE_BYTES }) as unknown as Boom;
    boom.on("error", (err: Error) => {
      this.lastError = err;
    });
    return boom;
  }

  /**
   * From now on, no new line reaches the file until `gate()`
   * returns without throwing: it is called at each write-out (written, or queued for the thread
   * pool) and its failure thrown from there as a refused write is (the lines are kept, and
   * counted in heldBytes). The logger holds a kind's lines so while a new data key they are
   * encrypted under waits to be stored (see SubjectKeys.storePending).
   */
  hold(gate: () => void): void {
    // (the lines sealed before it do not wait: handed on first, to the thread pool's queue in
    // `async` mode, to the OS in the others; a refusal keeps them for the usual retry, and is
    // reported by the next write)
    if (this.bg) this.handOver(this.bg);
    else if (this.pendingBytes > 0) {
      try {
        this.writeOut();
      } catch {
        // kept by SonicBoom, written again at the next write-out
      }
    }
    this.gate = gate;
  }

  /** Lines wait for a gate (see hold). */
  get holding(): boolean {
    return this.gate !== undefined;
  }

  /**
   * The gate, if any, is passed (see hold); else the lines buffered are kept and its failure
   * thrown. `soon`: `async` mode's write-out by the thread pool (see writeOutSoon).
   */
  private passGate(soon = false): void {
    const gate = this.gate;
    if (gate === undefined) return;
    try {
      gate();
    } catch (err) {
      this.keepGated();
      this.retryBeforeGate(soon);
      throw err;
    }
    this.gate = undefined;
  }

  /**
   * The lines handed to the OS before the gate was set and refused then (SonicBoom's, the thread
   * pool's queue) are written again meanwhile: they do not wait for it. A failure is the gate's
   * to report (it is thrown after this).
   */
  private retryBeforeGate(soon: boolean): void {
    try {
      if (this.bg) {
        if (soon) this.bg.writeSoon();
        else if (this.bg.pendingBytes > 0) this.bg.writeNow();
      } else if (this.lastError) this.retry();
    } catch {
      // still refused: kept for the next attempt
    }
  }

  /** The batch's lines join those the gate holds (a copy: the batch buffer is reused). */
  private keepGated(): void {
    if (this.used === this.base) return;
    this.gated.push(Buffer.from(this.buf.subarray(this.base, this.used)));
    this.gatedBytes += this.used - this.base;
    // (the buffer starts over unless part of it is still held for a write: SonicBoom's refused bytes, the thread pool's queue)
    if (this.bg ? this.bg.idle && this.bg.pendingBytes === 0 : this.refusedBytes === 0) this.base = this.used = 0;
    else this.base = this.used;
  }

  /**
   * Seals one record onto the chain and into the batch: `body` is the record's JSON text without
   * its `hash` member. Writes `prevHash ‖ body` as UTF-8 into the batch buffer, hashes those bytes
   * (the chain hash, `SHA-256(prevHash ‖ body)`), then moves the body over the `prevHash` and
   * splices `,"hash":"…"}` and a newline in place of its closing brace. Returns the hash. Nothing
   * is written to the file yet: call `settle()` after (content files go first in `sync` mode).
   * Never throws: an OS error met on the way is kept for `settle()`.
   */
  seal(body: string, seq: number, now: number): string {
    if (this.rotateAt !== undefined && now >= this.rotateAt && this.bytesInActive + this.pendingBytes > 0 && !this.backgroundRefused) {
      try {
        this.rotate(now);
      } catch (err) {
        this.sealError ??= err as Error;
      }
    }
    // UTF-16 code units take at most 3 UTF-8 bytes each
    const worst = PREV_HASH_BYTES + body.length * 3 + SEAL_BYTES;
    if (this.used + worst > this.buf.length && !this.roomInBackground(worst)) {
      // (during an outage the lines join the refused ones, for the flush timer's retry: see backgroundRefused)
      if (this.backgroundRefused) this.handOver(this.bg!);
      else if (this.pendingBytes > 0) {
        try {
          this.writeOut();
        } catch (err) {
          this.sealError ??= err as Error;
        }
      }
      if (this.used + worst > this.buf.length) {
        // still no room (refused bytes held for a retry, or a record larger than the buffer)
        this.buf = Buffer.allocUnsafeSlow(Math.max(BUFFER_BYTES, worst));
        this.base = this.used = 0;
      }
    }
    const buf = this.buf;
    const start = this.used;
    buf.write(this.prevHash, start, PREV_HASH_BYTES, "latin1");
    const n = buf.write(body, start + PREV_HASH_BYTES, "utf8");
    const hash = crypto.hash("sha256", buf.subarray(start, start + PREV_HASH_BYTES + n), "hex");
    // drop the prevHash prefix and the body's closing brace, then append the seal
    buf.copyWithin(start, start + PREV_HASH_BYTES, start + PREV_HASH_BYTES + n - 1);
    // one write for the seal: each write is a call into C++ (a concatenation of short strings is
    // written without being flattened first)
    this.used = start + n - 1 + buf.write(`,"hash":"${hash}"}\n`, start + n - 1, "latin1");
    this.seq = seq;
    this.prevHash = hash;
    return hash;
  }

  /**
   * Hands the batch to the OS when due: at once in `sync` mode, else past the high-water mark;
   * rotates by size. Throws the OS error if a write failed (the bytes stay queued and are retried).
   */
  settle(now: number): void {
    const failed = this.sealError;
    this.sealError = undefined;
    // (`async` mode hands a batch to the thread pool when its buffer is full, see
    // roomInBackground, or at the flush timer: each hand-over wakes a thread of the pool, a
    // system call of its own)
    if (this.opts.durability === "sync" || (this.pendingBytes >= HIGH_WATER_BYTES && !this.bg)) this.writeOut();
    if (this.opts.rotationBytes !== undefined && this.bytesInActive + this.pendingBytes >= this.opts.rotationBytes && !this.backgroundRefused) {
      this.writeOut();
      if (this.bytesInActive >= this.opts.rotationBytes) this.rotate(now);
    }
    if (failed) throw failed;
  }

  get hasPending(): boolean {
    return this.used > this.base || this.gatedBytes > 0 || (this.bg !== undefined && this.bg.pendingBytes > 0);
  }

  private get pendingBytes(): number {
    return this.used - this.base;
  }

  /**
   * The segment records go on to because a rotation renamed the active file and could not open
   * the documented name again (see rotate), or undefined: a file in use, which retention must
   * not prune however old its records look.
   */
  get inUseSegment(): string | undefined {
    return this.unopened;
  }

  /**
   * Bytes of sealed lines held in memory because the OS refused them (and those queued behind
   * them), waiting for the disk; 0 while writes succeed.
   */
  get heldBytes(): number {
    const refused = this.bg ? this.bg.lastError !== undefined : this.lastError !== undefined;
    if (!refused && this.gate === undefined && this.gatedBytes === 0) return 0;
    return (refused ? (this.bg ? this.bg.pendingBytes : this.refusedBytes) : 0) + this.gatedBytes + this.pendingBytes;
  }

  /**
   * `async` mode: the OS refused this file's last write (an outage). The record path (seal,
   * settle) then writes nothing on the app's thread: neither a full batch buffer (handed over to
   * the queue behind the refused bytes) nor a rotation due by size or time. The retries are the
   * flush timer's, once per `flushIntervalMs` (or the log call's once per interval while the
   * event loop is blocked: see the logger's scheduleFlush), and flush()'s, at once; memory stays
   * bounded by the logger's MAX_REFUSED_RECORD_BYTES. Found by the durability operator pass,
   * 2026-12-05: with `rotation.size` set, every record past the size wrote the whole queue again
   * (one writev(2) of one buffer per record queued), each an `error` event: over a 30,000-record
   * outage ~28,700 attempts, the cost of a log call growing with the queue (~0.1 ms to ~1.6 ms);
   * without it, one attempt per 128 KiB batch, each of the whole queue.
   */
  private get backgroundRefused(): boolean {
    // (or its lines wait for a gate: see hold)
    return this.bg !== undefined && (this.bg.lastError !== undefined || this.gate !== undefined);
  }

  /** The OS refused bytes that are not written yet, or the last rotation failed. */
  get failing(): boolean {
    return this.lastError !== undefined || this.bg?.lastError !== undefined || this.rotateFailedAt !== undefined || this.gate !== undefined;
  }

  /**
   * `async` mode, when the batch buffer has no room for a line: room without writing on the app's
   * thread. The buffer starts over once the thread pool wrote everything; else, while it is
   * still writing less than MAX_BACKGROUND_BYTES, the next lines go to another buffer.
   */
  private roomInBackground(worst: number): boolean {
    const bg = this.bg;
    if (!bg || worst > BUFFER_BYTES - PREV_HASH_BYTES) return false;
    if (this.used === this.base && bg.idle) {
      this.startOver();
      return true;
    }
    if (bg.pendingBytes + this.pendingBytes >= MAX_BACKGROUND_BYTES) return false;
    // (the spare's bytes are written once nothing is queued: before this batch is handed over)
    const next = this.spare !== undefined && bg.idle ? this.spare : Buffer.allocUnsafeSlow(BUFFER_BYTES);
    this.writeOutSoon();
    this.spare = this.buf.length === BUFFER_BYTES ? this.buf : undefined;
    this.buf = next;
    this.base = this.used = 0;
    return true;
  }

  /**
   * `async` mode: hands the batch to the thread pool (see BackgroundFile); its bytes stay as they
   * are until written. Never throws: a failed write is reported through `onWriteError`.
   */
  writeOutSoon(): void {
    const bg = this.bg;
    if (!bg) {
      this.writeOut();
      return;
    }
    // (held by a gate that still fails: the lines are kept)
    try {
      this.passGate(true);
    } catch (err) {
      this.opts.onWriteError?.(err as Error);
      return;
    }
    // past the bound, written here (the bound holds whoever hands the batch over)
    if (bg.pendingBytes + this.pendingBytes >= MAX_BACKGROUND_BYTES) {
      try {
        this.writeOut();
      } catch (err) {
        this.opts.onWriteError?.(err as Error);
      }
      return;
    }
    this.handOver(bg);
    bg.writeSoon();
  }

  /** `async` mode, once nothing reads the batch buffer any more: it starts over (at its usual size, after a one-off large record). */
  private startOver(): void {
    if (this.buf.length > BUFFER_BYTES) this.buf = Buffer.allocUnsafeSlow(BUFFER_BYTES);
    this.base = this.used = 0;
  }

  /** `async` mode: the bytes [base, used) belong to the file's queue from now on. */
  private handOver(bg: BackgroundFile): void {
    if (this.gate !== undefined) {
      this.keepGated();
      return;
    }
    for (const g of this.gated) {
      bg.push(g);
      this.bytesInActive += g.length;
    }
    this.gated = [];
    this.gatedBytes = 0;
    if (this.used === this.base) return;
    bg.push(this.buf.subarray(this.base, this.used));
    this.bytesInActive += this.used - this.base;
    this.base = this.used;
  }

  /** After a failed rotation the next attempt waits a second. */
  private rotationHeld(now: number): boolean {
    return this.rotateFailedAt !== undefined && now - this.rotateFailedAt < ROTATION_RETRY_MS;
  }

  /** Hands the batch to the OS (write(2), no fsync). Throws the OS error if the write failed. */
  writeOut(): void {
    this.passGate();
    const bg = this.bg;
    if (bg) {
      this.handOver(bg);
      bg.writeNow();
      if (bg.idle) this.startOver();
      return;
    }
    const boom = this.boom!;
    let chunk: Buffer;
    if (this.gated.length > 0) {
      // (the lines a gate held, then the batch's, in one write; the batch buffer is free again)
      chunk = Buffer.concat([...this.gated, this.buf.subarray(this.base, this.used)]);
      this.gated = [];
      this.gatedBytes = 0;
      if (this.refusedBytes === 0) this.base = this.used = 0;
      else this.base = this.used;
    } else {
      if (this.used === this.base) {
        if (this.lastError) this.retry();
        return;
      }
      chunk = this.buf.subarray(this.base, this.used);
    }
    const bytes = chunk.length;
    this.lastError = undefined;
    boom.write(chunk);
    if (this.lastError) {
      // SonicBoom keeps the refused bytes (a view of this buffer) to retry them: keep them intact
      this.base = this.used;
      this.refusedBytes += bytes;
      throw this.lastError;
    }
    // back to the usual size after a one-off large record
    if (this.buf.length > BUFFER_BYTES) this.buf = Buffer.allocUnsafeSlow(BUFFER_BYTES);
    this.written(bytes);
  }

  /**
   * Everything handed over reached the OS (SonicBoom writes refused bytes first): the batch
   * buffer is free again; count the bytes, and sync them in `fsync` mode.
   */
  private written(bytes: number): void {
    this.base = this.used = 0;
    this.bytesInActive += bytes + this.refusedBytes;
    this.refusedBytes = 0;
    this.writes++;
  }

  private retry(): void {
    this.lastError = undefined;
    this.boom!.flush();
    if (this.lastError) throw this.lastError;
    this.written(0);
  }

  /** fdatasync of the active file, in the thread pool. */
  datasync(): Promise<void> {
    if (!this.dirty || !this.boom) return Promise.resolve();
    const covers = this.writes;
    this.syncStarted = covers;
    const fd = this.boom.fd;
    const generation = this.lastSegment;
    return new Promise((resolve, reject) =>
      fs.fdatasync(fd, (err) => {
        // a rotation, or the close, meanwhile synced and closed this fd itself (see rotate, close)
        if (err && !(err.code === "EBADF" && (this.lastSegment !== generation || this.synced >= covers))) {
          this.syncStarted = this.synced; // not known to be on stable storage: the next commit syncs again
          reject(err);
        } else {
          if (covers > this.synced) this.synced = covers;
          resolve();
        }
      }),
    );
  }

  /** fdatasync now, unless every write is known to be on stable storage (a sync under way is not). */
  datasyncSync(): void {
    if (this.writes === this.synced || !this.boom) return;
    const covers = this.writes;
    try {
      fs.fdatasyncSync(this.boom.fd);
    } catch (err) {
      this.syncStarted = this.synced;
      throw err;
    }
    this.syncStarted = this.synced = covers;
  }

  /**
   * Renames the active file to the next segment and reopens the documented name. A failure is an
   * {@link AuditRotationError}: the records go on to the file they were going to, and the next
   * attempt waits a second.
   */
  rotate(now = Date.now()): void {
    // the last attempt failed less than a second ago: records keep going to the active file
    if (this.rotationHeld(now)) return;
    this.writeOut();
    if (this.bytesInActive === 0) return;
    if (this.opts.durability === "fsync") this.datasyncSync();
    let segPath = this.unopened;
    if (segPath === undefined) {
      const segment = this.lastSegment + 1;
      segPath = path.join(this.opts.auditDir, kindFileName(this.kind, this.opts.sessionId, segment));
      try {
        // link + unlink, not rename: rename would silently replace an existing file of that name
        fs.linkSync(this.activePath, segPath);
        fs.unlinkSync(this.activePath);
      } catch (err) {
        this.rotateFailedAt = now;
        throw new AuditRotationError(`Rotating ${path.basename(this.activePath)} failed: ${reason(err)}. Records go on to it; the rotation is tried again in a second.`, { cause: err });
      }
      this.lastSegment = segment;
      this.opts.onNewName?.();
    }
    // The documented name is opened anew as the first time, by the kit (SonicBoom's reopen()
    // would follow a link, or wait for good on a FIFO, put there since the unlink). Until that
    // succeeds, records go on to the file just renamed, `unopened`, the chain's newest segment;
    // it is announced (onRotate) once it is complete.
    let fd: number;
    try {
      fd = this.openActive();
    } catch (err) {
      this.unopened = segPath;
      this.rotateFailedAt = now;
      throw new AuditRotationError(
        `Rotating ${path.basename(this.activePath)} failed: ${reason(err)}. Records go on to ${path.basename(segPath)}; the rotation is tried again in a second.`,
        { cause: err },
      );
    }
    this.opts.onNewName?.();
    this.unopened = undefined;
    this.rotateFailedAt = undefined;
    if (this.bg) this.bg.reopen(fd);
    else {
      // nothing is held for a retry (writeOut() above wrote it all, or threw): the old SonicBoom
      // has nothing left to write, and its file is closed here (a datasync() still under way on
      // it meets EBADF, which it expects after a rotation)
      const old = this.boom!;
      this.boom = this.boomOn(fd);
      old.removeAllListeners("error");
      fs.closeSync(old.fd);
    }
    this.bytesInActive = 0;
    this.rotateAt = nextRotation(this.opts.rotationFrequency, now);
    this.opts.onRotate?.(segPath);
  }

  /** Writes out, syncs in `fsync` mode, and closes the file. */
  close(): void {
    try {
      this.writeOut();
      if (this.opts.durability === "fsync") this.datasyncSync();
    } finally {
      if (this.bg) this.bg.close();
      else {
        const boom = this.boom!;
        boom.removeAllListeners("error");
        boom.on("error", () => {});
        boom.destroy();
      }
    }
  }
}

/** The next rotation time for a file opened at `openedAt`, or undefined without time rotation. */
export function nextRotation(frequency: RotationFrequency | undefined, openedAt: number): number | undefined {
  if (frequency === undefined) return undefined;
  if (typeof frequency === "number") return openedAt + frequency;
  const d = new Date(openedAt);
  if (frequency === "hourly") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}
