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
 * under way. If it cannot start or dies, the writes waiting on it fail (the logger reports each
 * interaction's content as not written) and later ones use the thread pool instead.
 */
import { Worker } from "node:worker_threads";
import { AuditIOError } from "../errors.js";

/**
 * The worker's code (CommonJS, no imports of this package: it runs the same from the sources and
 * from a bundle). A message is a list of jobs `[id, mode, fdatasync, path, bytes, path, bytes…]`;
 * every file of a job is tried, and the answer lists `[id, null | { code, message }]` pairs.
 */
const WORKER_CODE = `
const fs = require("node:fs");
const { parentPort } = require("node:worker_threads");
function writeFile(file, data, mode, sync) {
  const fd = fs.openSync(file, "wx", mode);
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    if (sync) fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
parentPort.on("message", (jobs) => {
  const answers = [];
  for (const job of jobs) {
    let failed = null;
    for (let i = 3; i < job.length; i += 2) {
      try {
        writeFile(job[i], job[i + 1], job[1], job[2]);
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
interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

class ContentThread {
  private readonly worker: Worker;
  /** set once the worker failed: nothing more is sent to it */
  broken: Error | undefined;
  private readonly waiting = new Map<number, Waiter>();
  private next = 1;
  private jobs: Job[] = [];
  private transfer: ArrayBuffer[] = [];
  private posting = false;

  constructor() {
    // (no `stdout: true`: piped output streams keep the process alive once the worker was ref()ed
    // again; the code above prints nothing, and its failures arrive as `error` events)
    this.worker = new Worker(WORKER_CODE, { eval: true });
    this.worker.unref();
    this.worker.on("message", (answers: unknown[]) => this.answered(answers));
    this.worker.on("error", (err) => this.fail(new AuditIOError(`The audit-logger content-writer thread failed: ${err.message}`, { cause: err })));
    this.worker.on("exit", (code) => this.fail(new AuditIOError(`The audit-logger content-writer thread exited (code ${code})`)));
  }

  /** Queues one interaction's files; they are sent at the end of this tick, with the others queued in it. */
  write(files: ReadonlyArray<readonly [string, Uint8Array]>, mode: number, fdatasync: boolean): Promise<void> {
    const id = this.next++;
    const job: Job = [id, mode, fdatasync];
    for (const [file, data] of files) {
      // a copy of its own (the caller keeps its bytes for the exit hook, and a small Buffer is a
      // view of a shared pool), handed over without a second copy
      const bytes = new Uint8Array(data.length);
      bytes.set(data);
      job.push(file, bytes);
      this.transfer.push(bytes.buffer);
    }
    this.jobs.push(job);
    if (!this.posting) {
      this.posting = true;
      queueMicrotask(() => this.post());
    }
    return new Promise<void>((resolve, reject) => {
      // a write under way keeps the process alive until it is answered
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve, reject });
    });
  }

  /** Stops the worker (as if it died); see {@link stopContentThread}. */
  stop(): Promise<number> {
    return this.worker.terminate();
  }

  private post(): void {
    this.posting = false;
    const jobs = this.jobs;
    const transfer = this.transfer;
    this.jobs = [];
    this.transfer = [];
    if (this.broken) {
      for (const job of jobs) this.settle(job[0] as number, this.broken);
      return;
    }
    try {
      this.worker.postMessage(jobs, transfer);
    } catch (err) {
      const e = new AuditIOError(`Handing content files to the audit-logger content-writer thread failed: ${(err as Error).message}`, { cause: err });
      for (const job of jobs) this.settle(job[0] as number, e);
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
    for (const id of [...this.waiting.keys()]) this.settle(id, err);
  }
}

let shared: ContentThread | undefined;
/** set when the worker could not be made at all: the thread pool is used from then on */
let unavailable = false;

/**
 * Writes each `[path, bytes]` as a new file (`wx`, `mode`; fdatasync'ed when asked) on the
 * content-writer thread; resolves once all are written, or rejects with the first failure (an
 * error with the system's `code`: EEXIST when a file already exists). Undefined when the thread
 * cannot be used (it could not start, or failed): the caller writes the files itself.
 */
export function writeOnContentThread(files: ReadonlyArray<readonly [string, Uint8Array]>, mode: number, fdatasync: boolean): Promise<void> | undefined {
  if (unavailable) return undefined;
  if (shared === undefined) {
    try {
      shared = new ContentThread();
    } catch {
      unavailable = true;
      return undefined;
    }
  }
  return shared.write(files, mode, fdatasync);
}

/**
 * @internal For the tests: ends this thread's content writer as if it had died (the writes
 * waiting on it fail and are reported; later ones go through the thread pool).
 */
export async function stopContentThread(): Promise<void> {
  await shared?.stop();
}
