/**
 * The thread that writes full-content files (`full_interactions/`) in `async` and `fsync` modes:
 * one small worker per thread that logs, shared by its loggers, started at the first write. It
 * creates, writes and closes each file synchronously, one after another, and answers per batch.
 *
 * Why not libuv's thread pool (`fs.promises`, or fs's callbacks): each of a file's three steps
 * (open, write, close) is a separate pool request whose hand-over wakes an idle pool thread and
 * whose answer wakes the app's thread, ~15–20 µs of the app thread's CPU each on a VM; and four
 * pool threads creating files in one directory at once contend for it in the kernel (measured
 * up to ~1 ms of system CPU a file). Here the app's thread copies each interaction's bytes into
 * one message per tick (one wake-up per batch), and one thread creates the files in turn:
 * ~6–8 µs of the app thread's CPU per interaction against ~20–210 µs (docs/BENCHMARKS.md).
 *
 * Like pino's transports the worker does not keep the process alive, except while a write is
 * under way. If it cannot start, or dies, the writes it had not confirmed are written through
 * libuv's thread pool (their bytes are still here; a file it had created counts only if it holds
 * them), and so are all later ones.
 */
import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { runInAuditContext } from "../context.js";
import { AuditIOError, AuditPathError } from "../errors.js";
import { SILENCE_STDIO, dropOutput } from "../thread/stdio.js";

// The refusal of a content directory that is not a directory (a symbolic link, above all), in
// the worker's words and the app thread's alike.
const DIR_REFUSAL_PREFIX = "The content directory ";
const DIR_REFUSAL_SUFFIX = " is a symbolic link or not a directory: no content file is written through it (the kit writes only inside the audit directory; remove it).";

/**
 * Why content files may not be created in `dir` (undefined when it is a directory, not a link, or
 * is missing: the exclusive open then fails on its own). Found by a security pass, 2026-12-05:
 * each file was created exclusively, but in the directory as its path led, so a link at
 * `full_interactions` took every prompt and response (in clear without encryption) to the
 * directory it named, outside the audit directory. Checked before each write, on the thread
 * that writes; the names themselves are checked as text (safeJoin) and opened `wx`.
 */
export function contentDirRefusal(dir: string): AuditPathError | undefined {
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  return st === undefined || st.isDirectory() ? undefined : new AuditPathError(`${DIR_REFUSAL_PREFIX}${dir}${DIR_REFUSAL_SUFFIX}`);
}

/**
 * How the file a logger created empty to claim an explicit interaction id (see claimContentId in
 * content.ts) is opened to be written: write-only, never through a symlink; it is written only
 * while it is still an empty regular file of one link, else refused as EEXIST, as another
 * writer's file is. One that is gone (a cleanup removed it as abandoned after this logger took it
 * over: see abandonedClaims) is created afresh (`wx`), as the thread pool's write does; until
 * 2026-12-06 the write failed with ENOENT and the chat's content was lost.
 */
export const CLAIMED_FLAGS = fs.constants.O_WRONLY | (fs.constants.O_NOFOLLOW ?? 0);

/**
 * The worker's code (built-in modules only, through `process.getBuiltinModule`: it runs the same
 * as CommonJS or as a module, whichever the app's node flags make an eval'd worker, from the
 * sources and from a bundle). A message is a list of jobs `[id, mode, fdatasync, claimed, path, bytes, path, bytes…]`
 * (`claimed`: the path of the file the logger created empty to claim the id, see CLAIMED_FLAGS, or
 * ""); every file of a job is tried, and the answer lists `[id, null | { code, message }]` pairs.
 */
const WORKER_CODE = `
const fs = process.getBuiltinModule("node:fs");
const { parentPort } = process.getBuiltinModule("node:worker_threads");
function openClaimed(file, mode) {
  let fd;
  try {
    fd = fs.openSync(file, ${CLAIMED_FLAGS});
  } catch (err) {
    // (gone: a cleanup removed it as abandoned after it was taken over; created afresh, as the
    // thread pool's write does)
    if (err && err.code === "ENOENT") return fs.openSync(file, "wx", mode);
    throw err;
  }
  let st;
  try {
    st = fs.fstatSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  if (st.isFile() && st.size === 0 && st.nlink === 1) return fd;
  fs.closeSync(fd);
  throw Object.assign(new Error("EEXIST: file already exists, open '" + file + "'"), { code: "EEXIST" });
}
function writeFile(file, data, mode, sync, claimed) {
  const fd = claimed ? openClaimed(file, mode) : fs.openSync(file, "wx", mode);
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    if (sync) fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
const { dirname } = process.getBuiltinModule("node:path");
parentPort.on("message", (jobs) => {
  const answers = [];
  for (const job of jobs) {
    let failed = null;
    // (see contentDirRefusal: the same words)
    if (job.length > 4) {
      let st;
      try {
        st = fs.lstatSync(dirname(job[4]));
      } catch (err) {
        failed = { code: err && err.code, message: String(err && err.message) };
      }
      if (st && !st.isDirectory()) failed = { code: "AUDIT_ERR_PATH", message: ${JSON.stringify(DIR_REFUSAL_PREFIX)} + dirname(job[4]) + ${JSON.stringify(DIR_REFUSAL_SUFFIX)} };
      if (failed) {
        answers.push(job[0], failed);
        continue;
      }
    }
    for (let i = 4; i < job.length; i += 2) {
      try {
        writeFile(job[i], job[i + 1], job[1], job[2], job[i] === job[3]);
      } catch (err) {
        failed ??= { code: err && err.code, message: String(err && err.message) };
      }
    }
    answers.push(job[0], failed);
  }
  parentPort.postMessage(answers);
});
`;

type Job = unknown[];

/**
 * Bytes queued in one tick past which they are sent at once, not at the end of the tick:
 * synchronous work that logs for long (a loop, a blocked event loop) held every file in memory,
 * unwritten, until it yielded, and a crash then lost content whose record lines the overdue
 * flush had written (found by review, 2026-12-05: 39 lines, no content file).
 */
const POST_NOW_BYTES = 1 << 20;
/** A job sent or about to be sent, with what it takes to write it another way if the thread dies. */
interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly files: ReadonlyArray<readonly [string, Uint8Array]>;
  readonly mode: number;
  readonly fdatasync: boolean;
  readonly claimed: string | undefined;
}

class ContentThread {
  private readonly worker: Worker;
  /** set once the worker failed: nothing more is sent to it */
  broken: Error | undefined;
  private readonly waiting = new Map<number, Waiter>();
  private next = 1;
  private jobs: Job[] = [];
  private transfer: ArrayBuffer[] = [];
  private queuedBytes = 0;
  private posting = false;

  constructor() {
    // the app's node flags apply (see src/thread/link.ts); its output: see dropOutput
    this.worker = new Worker(`${SILENCE_STDIO}\n${WORKER_CODE}`, { eval: true, stdout: true, stderr: true });
    dropOutput(this.worker);
    this.worker.unref();
    this.worker.on("message", (answers: unknown[]) => this.answered(answers));
    this.worker.on("error", (err) => this.fail(new AuditIOError(`The audit-logger content-writer thread failed: ${err.message}`, { cause: err })));
    this.worker.on("exit", (code) => this.fail(new AuditIOError(`The audit-logger content-writer thread exited (code ${code})`)));
  }

  /** Queues one interaction's files; they are sent at the end of this tick, with the others queued in it (at once past POST_NOW_BYTES). */
  write(files: ReadonlyArray<readonly [string, Uint8Array]>, mode: number, fdatasync: boolean, claimed: string | undefined): Promise<void> {
    const id = this.next;
    const job: Job = [id, mode, fdatasync, claimed ?? ""];
    const transfer: ArrayBuffer[] = [];
    for (const [file, data] of files) {
      // a copy of its own (the caller keeps its bytes for the exit hook, and a small Buffer is a
      // view of a shared pool), handed over without a second copy; made before anything is
      // queued, so a copy that fails (no memory) leaves nothing behind
      const bytes = new Uint8Array(data.length);
      bytes.set(data);
      job.push(file, bytes);
      transfer.push(bytes.buffer);
    }
    this.next++;
    this.jobs.push(job);
    for (const t of transfer) {
      this.transfer.push(t);
      this.queuedBytes += t.byteLength;
    }
    // (registered before the post: an answer cannot come before this returns, but a post that
    // fails writes the job another way at once, and that settles it through `waiting`)
    const done = new Promise<void>((resolve, reject) => {
      // a write under way keeps the process alive until it is answered
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve, reject, files, mode, fdatasync, claimed });
    });
    if (this.queuedBytes >= POST_NOW_BYTES) this.post();
    else if (!this.posting) {
      this.posting = true;
      queueMicrotask(() => this.post());
    }
    return done;
  }

  /** Stops the worker (as if it died); see {@link stopContentThread}. */
  stop(): Promise<number> {
    return this.worker.terminate();
  }

  /** Sends what is queued now (also called by the logger when a flush is overdue: see postQueuedContent). */
  post(): void {
    this.posting = false;
    if (this.jobs.length === 0) return;
    const jobs = this.jobs;
    const transfer = this.transfer;
    this.jobs = [];
    this.transfer = [];
    this.queuedBytes = 0;
    if (this.broken) {
      for (const job of jobs) this.rewrite(job[0] as number);
      return;
    }
    try {
      this.worker.postMessage(jobs, transfer);
    } catch {
      // (not expected: plain data and buffers of its own) written another way
      for (const job of jobs) this.rewrite(job[0] as number);
    }
  }

  private answered(answers: unknown[]): void {
    for (let i = 0; i < answers.length; i += 2) {
      const failed = answers[i + 1] as { code?: unknown; message: string } | null;
      this.settle(answers[i] as number, failed ? Object.assign(new Error(failed.message), failed.code !== undefined ? { code: failed.code } : {}) : undefined);
    }
  }

  private settle(id: number, err: Error | undefined): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
    if (err) w.reject(err);
    else w.resolve();
  }

  private fail(err: Error): void {
    if (this.broken) return;
    this.broken = err;
    // (later writes use the thread pool: a thread that failed once is not started again)
    unavailable = true;
    // what it had not confirmed is written through the thread pool: the bytes are still here
    for (const id of [...this.waiting.keys()]) this.rewrite(id);
  }

  /**
   * Writes a job the thread will not answer through the thread pool instead. A file the thread
   * had created already counts as written if it holds the job's bytes; otherwise the job fails
   * (reported by the logger; the verifier then names the file).
   */
  private rewrite(id: number): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
    writeInThreadPool(w.files, w.mode, w.fdatasync, true, w.claimed).then(w.resolve, w.reject);
  }
}

let shared: ContentThread | undefined;
/** set when the worker could not be made at all: the thread pool is used from then on */
let unavailable = false;

/**
 * Writes each `[path, bytes]` as a new file (`wx`, `mode`; fdatasync'ed when asked) on the
 * content-writer thread; resolves once all are written, or rejects with the first failure (an
 * error with the system's `code`: EEXIST when a file already exists). `claimed`: the path of the
 * file the logger created empty to claim the id (see CLAIMED_FLAGS), written into, not created.
 * Undefined when the thread cannot be used (it could not start, or failed): the caller writes the
 * files itself.
 */
export function writeOnContentThread(files: ReadonlyArray<readonly [string, Uint8Array]>, mode: number, fdatasync: boolean, claimed?: string): Promise<void> | undefined {
  if (unavailable) return undefined;
  if (shared === undefined) {
    try {
      // outside any audit context: the thread and its port outlive the request that first writes content
      shared = runInAuditContext(undefined, () => new ContentThread());
    } catch {
      unavailable = true;
      return undefined;
    }
  }
  try {
    return shared.write(files, mode, fdatasync, claimed);
  } catch {
    return undefined; // its copy of the bytes failed (no memory): the caller writes them itself
  }
}

/**
 * Sends the content files queued in this tick to the content-writer thread now: the logger
 * calls it when a flush is overdue (the event loop blocked by synchronous work that logs), as it
 * writes its record lines then.
 */
export function postQueuedContent(): void {
  shared?.post();
}

/**
 * @internal For the tests: ends this thread's content writer as if it had died (what it had not
 * confirmed, and everything later, goes through the thread pool).
 */
export async function stopContentThread(): Promise<void> {
  await shared?.stop();
}

/**
 * Writes each `[path, bytes]` as a new file (`wx`, `mode`) through libuv's thread pool, with fs's
 * callbacks (cheaper on the app's thread than `fs.promises`' FileHandles), all at once;
 * fdatasync'ed when asked; rejects with the first failure. `existingOk`: a file that exists
 * already is a write the content-writer thread began before it died; it counts as written when
 * it holds these bytes, and is completed when it holds the beginning of them (both lay down the
 * same bytes, as the exit hook's write does); other bytes fail with EEXIST. `claimed`: the file
 * the logger created empty to claim the id (see CLAIMED_FLAGS), completed as such a file is.
 */
export function writeInThreadPool(files: ReadonlyArray<readonly [string, Uint8Array]>, mode: number, fdatasync: boolean, existingOk = false, claimed?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = files.length;
    if (left === 0) return resolve();
    let failed: Error | undefined;
    const done = (err: Error | null): void => {
      if (err && !failed) failed = err;
      if (--left === 0) {
        if (failed) reject(failed);
        else resolve();
      }
    };
    // (their directory first, off the app's thread as the writes are: see contentDirRefusal)
    const dir = path.dirname(files[0]![0]);
    fs.lstat(dir, (err, st) => {
      if (!err && !st.isDirectory()) return reject(new AuditPathError(`${DIR_REFUSAL_PREFIX}${dir}${DIR_REFUSAL_SUFFIX}`));
      for (const [file, data] of files) {
        fs.open(file, "wx", mode, (openErr, fd) => {
          if (!openErr) writeFrom(fd, data, 0, fdatasync, done);
          else if ((existingOk || file === claimed) && openErr.code === "EEXIST") completeExisting(file, data, fdatasync, openErr, done);
          else done(openErr);
        });
      }
    });
  });
}

/** Writes `data` from `offset` on at the same positions (fdatasync'ed when `sync`), closes `fd`, then calls `done` once. */
function writeFrom(fd: number, data: Uint8Array, offset: number, sync: boolean, done: (err: Error | null) => void): void {
  const close = (err: Error | null): void => fs.close(fd, (closeErr) => done(err ?? closeErr ?? null));
  const wrote = (err: Error | null, n: number): void => {
    if (err) return close(err);
    offset += n;
    if (offset < data.length) fs.write(fd, data, offset, data.length - offset, offset, wrote);
    else if (sync) fs.fdatasync(fd, close);
    else close(null);
  };
  wrote(null, 0);
}

/**
 * Whether an existing file's bytes `held` are `data` or its beginning: a write of the same bytes
 * made before (whole) or under way (cut short), which may be kept or completed at the same
 * positions; anything else is not this write's to touch.
 */
export function beginsWith(held: Uint8Array, data: Uint8Array): boolean {
  return held.length <= data.length && Buffer.compare(held, data.subarray(0, held.length)) === 0;
}

/**
 * How an existing content file is opened to be kept or completed: read-write, never through a
 * symlink (a link planted in the content directory would send the write out of the audit
 * directory: `safeJoin` checks only the path's text). Where the platform has no O_NOFOLLOW
 * (Windows), the path's own lstat is what tells a link (see `completable`).
 */
export const COMPLETE_FLAGS = fs.constants.O_RDWR | (fs.constants.O_NOFOLLOW ?? 0);

/**
 * Whether an existing file, opened with COMPLETE_FLAGS (`st`, its fstat) and its path's lstat
 * (`at`), may hold a beginning of `data`: a regular file, no longer than `data`, that the path
 * names itself (not through a symlink: same device and inode). Its bytes are compared next.
 */
export function completable(st: fs.Stats, at: fs.Stats, data: Uint8Array): boolean {
  return st.isFile() && st.size <= data.length && !at.isSymbolicLink() && at.dev === st.dev && at.ino === st.ino;
}

/**
 * Whether a file holding `held` bytes of `data` (compared) may be kept, or written to complete
 * it: kept always; written only when it has no other name (a hard link planted there would lead
 * the write to a file elsewhere; one a backup tool made to a finished file needs no write).
 */
export function mayComplete(st: fs.Stats, held: number, data: Uint8Array): boolean {
  return held === data.length || st.nlink === 1;
}

/** See {@link writeInThreadPool}'s `existingOk`. Every refusal is the original EEXIST. */
function completeExisting(file: string, data: Uint8Array, sync: boolean, exists: Error, done: (err: Error | null) => void): void {
  fs.open(file, COMPLETE_FLAGS, (openErr, fd) => {
    // a symlink (ELOOP), or gone: not this write's to touch
    if (openErr) return done(exists);
    const refuse = (): void => fs.close(fd, () => done(exists));
    fs.fstat(fd, (statErr, st) => {
      if (statErr) return refuse();
      fs.lstat(file, (lstatErr, at) => {
        if (lstatErr || !completable(st, at, data)) return refuse();
        const held = Buffer.alloc(st.size);
        const read = (n: number): void => {
          if (n < held.length) {
            fs.read(fd, held, n, held.length - n, n, (readErr, got) => (readErr || got === 0 ? refuse() : read(n + got)));
            return;
          }
          if (!beginsWith(held, data) || !mayComplete(st, held.length, data)) return refuse();
          if (held.length === data.length && !sync) return fs.close(fd, (closeErr) => done(closeErr ?? null));
          // the rest written (none when whole), and synced when asked: the thread may have died before its fdatasync
          writeFrom(fd, data, held.length, sync, done);
        };
        read(0);
      });
    });
  });
}
