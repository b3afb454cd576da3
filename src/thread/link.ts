/**
 * The app thread's end of `thread: true`: starts the worker (waiting until it holds the session,
 * so a start-up error is thrown by the AuditLogger constructor as usual), sends it record batches
 * and calls, and hands its events back. Blocking calls (the exit hook, `shredSubject`, legal
 * holds) wait with `Atomics.wait` and read the answer with `receiveMessageOnPort`, as pino's
 * thread-stream waits for its worker at exit.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import type { AuditOptionsInput } from "../config/schema.js";
import { AuditIOError } from "../errors.js";
import { reason } from "../error-type.js";
import { approxBytes } from "./size.js";
import { SILENCE_STDIO, dropOutput } from "./stdio.js";
import { SIGNAL_BYTES, SIGNAL_DEAD, SIGNAL_REPLY, SIGNAL_WRITTEN, rebuildError, sendError, type BatchItem, type CallMethod, type FromWorker, type Reply, type ToWorker, type WorkerInit } from "./protocol.js";

/** How long a blocking call waits for the worker before giving up (it never should). */
const SYNC_TIMEOUT_MS = 30_000;

/**
 * Records handed to the worker and not yet written out by it, past which a send waits for the
 * worker (back-pressure by blocking, as `async` mode without the thread writes on the app's
 * thread past its limit). Without it a burst faster than the worker could write grew its
 * message queue without bound: seconds of records whose calls had returned were lost to a
 * SIGKILL, and the heap grew (found by review, 2026-12-04).
 */
export const MAX_IN_FLIGHT = 2048;
/**
 * The same bound in bytes, estimated on the app's thread (src/thread/size.ts): 2,048 records of
 * 300 KB each were ~600 MB in flight, and a burst of 300 records of 1 MB each, all in flight, was
 * lost to a SIGKILL 300 ms after the last call returned (found by review, 2026-12-05).
 */
export const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;
/** The longest a send waits for the worker to catch up, then goes on (reported once). */
const BACKLOG_WAIT_MS = 5_000;

/** What the link hands to its logger. */
export interface LinkEvents {
  error(err: Error): void;
  rotate(path: string): void;
  checkpoint(checkpoint: unknown): void;
}

/**
 * Starts the worker through a small bootstrap that imports its module and, if that import fails
 * (a bundle that left `worker.js` out, say), answers the start-up wait with the error at once
 * instead of leaving it to time out. The module is the built `worker.js` next to this one; or,
 * when this module runs as TypeScript source (the tests, tsx), `worker.ts` through tsx's loader,
 * which a worker does not inherit on Node 20.
 */
function startWorker(init: WorkerInit, transfer: readonly MessagePort[]): Worker {
  const fromSource = import.meta.url.endsWith(".ts");
  const entry = new URL(fromSource ? "./worker.ts" : "./worker.js", import.meta.url).href;
  const load = fromSource ? `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); })` : `import(${JSON.stringify(entry)})`;
  // The exit handler comes first, so a worker that dies at any point (while loading too) wakes a
  // blocking call at once: both slots set, so a wait that starts after this returns at once.
  const code = `
${SILENCE_STDIO}
const { workerData } = process.getBuiltinModule("node:worker_threads");
const signal = new Int32Array(workerData.signal);
process.on("exit", () => {
  Atomics.store(signal, ${SIGNAL_DEAD}, 1);
  Atomics.store(signal, ${SIGNAL_REPLY}, 1);
  Atomics.notify(signal, ${SIGNAL_REPLY});
});
${load}.catch((err) => {
  workerData.syncPort.postMessage({ ok: false, error: { name: "AuditIOError", message: "The audit-logger worker thread could not load: " + (err && err.message), fields: { code: "AUDIT_ERR_IO" } } });
  Atomics.store(signal, ${SIGNAL_REPLY}, 1);
  Atomics.notify(signal, ${SIGNAL_REPLY});
});`;
  // The app's node flags apply, as to pino's transports (a resolver a `-r` flag installs, Yarn
  // PnP's say, is what finds this package's dependencies; source maps); so the code is written to
  // run as CommonJS and as a module (`--input-type=module`: it used `require`, and the
  // constructor then waited 30 s for a worker that had failed). Its output: see dropOutput.
  const worker = new Worker(code, { eval: true, workerData: init, transferList: [...transfer], stdout: true, stderr: true });
  dropOutput(worker);
  return worker;
}

export class ThreadLink {
  readonly startTime: string;
  private readonly worker: Worker;
  private readonly signal: Int32Array;
  private readonly syncPort: MessagePort;
  /** the worker's replies to `call` and its events, in order (see drainEvents) */
  private readonly fromWorker: MessagePort;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextCall = 1;
  /** batch records posted to the worker (wrapping at 2^32, as the worker's count does) */
  private sent = 0;
  /** the batches in flight, oldest first: the `sent` count at each one's end, and its estimated bytes */
  private readonly batchEnds: number[] = [];
  private readonly batchBytes: number[] = [];
  private bytesInFlight = 0;
  private slowReported = false;
  /** set when the worker is gone (or no longer answers): nothing more can be recorded */
  private dead: Error | undefined;

  constructor(
    options: AuditOptionsInput,
    private readonly events: LinkEvents,
  ) {
    const shared = new SharedArrayBuffer(SIGNAL_BYTES);
    this.signal = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.syncPort = port1;
    const channel = new MessageChannel();
    this.fromWorker = channel.port1;
    this.worker = startWorker({ options, signal: shared, syncPort: port2, events: channel.port2 }, [port2, channel.port2]);
    // attached before the wait, so an error the worker emits meanwhile has a listener
    this.fromWorker.on("message", (m: FromWorker) => this.onMessage(m));
    // (the worker's handle keeps the process alive while a call waits, see call; this port never)
    this.fromWorker.unref();
    this.worker.on("error", (err) => this.gone(new AuditIOError(`The audit-logger worker thread failed: ${reason(err)}. Records made from now on are lost.`, { cause: err })));
    this.worker.on("exit", (code) => this.gone(new AuditIOError(`The audit-logger worker thread exited (code ${code}). Records made from now on are lost.`)));
    const ready = this.waitSync("starting the worker");
    if (!ready.ok) {
      this.close();
      throw rebuildError(ready.error);
    }
    this.startTime = ready.value as string;
    // like pino's transports, the worker does not keep the process alive; a pending call does
    this.worker.unref();
  }

  /**
   * Hands a batch of validated records (plain data) to the worker; they reach the files in the
   * order sent. `bytes`: their estimated size (src/thread/size.ts).
   */
  send(items: readonly BatchItem[], bytes: number): void {
    if (items.length === 0) return;
    if (this.dead) {
      this.events.error(new AuditIOError(`${items.length} audit record(s) were lost: ${this.dead.message}`));
      return;
    }
    if (!this.post({ t: "batch", items })) {
      this.noteSent(items.length, bytes);
      this.waitForBacklog();
      return;
    }
    // Something in the batch cannot be copied to the worker: send the records one by one, so
    // that only those are lost (and reported), not the whole batch.
    let lost = 0;
    let cause: Error | undefined;
    for (const item of items) {
      const failed = this.post({ t: "batch", items: [item] });
      if (failed) {
        lost++;
        cause ??= failed;
      } else this.noteSent(1, approxBytes(item));
    }
    if (cause) this.events.error(new AuditIOError(`Sending ${lost} record(s) to the audit-logger worker failed: ${cause.message}`, { cause }));
    this.waitForBacklog();
  }

  /** Batch records handed to the worker and not yet written out by it. */
  get inFlight(): number {
    return (this.sent - Atomics.load(this.signal, SIGNAL_WRITTEN)) | 0;
  }

  private noteSent(count: number, bytes: number): void {
    this.sent = (this.sent + count) | 0;
    this.batchEnds.push(this.sent);
    this.batchBytes.push(bytes);
    this.bytesInFlight += bytes;
  }

  /** The estimated bytes of the batches the worker has not written out all of, `written` records being written. */
  private bytesAfter(written: number): number {
    let done = 0;
    // (counts wrap at 2^32, as `sent` does: a batch is written once `written` reached its end)
    while (done < this.batchEnds.length && ((written - this.batchEnds[done]!) | 0) >= 0) this.bytesInFlight -= this.batchBytes[done++]!;
    if (done > 0) {
      this.batchEnds.splice(0, done);
      this.batchBytes.splice(0, done);
    }
    return this.bytesInFlight;
  }

  /**
   * Past MAX_IN_FLIGHT records or MAX_IN_FLIGHT_BYTES in flight, waits (`Atomics.wait`) until the
   * worker has written out all but half of them, at most BACKLOG_WAIT_MS; a worker that slow is
   * reported once, and not waited for again until it has caught up.
   */
  private waitForBacklog(): void {
    const written0 = Atomics.load(this.signal, SIGNAL_WRITTEN);
    const caughtUp = (written: number) => ((this.sent - written) | 0) <= MAX_IN_FLIGHT / 2 && this.bytesAfter(written) <= MAX_IN_FLIGHT_BYTES / 2;
    if (this.slowReported) {
      // reported behind: the calls go on without waiting again until the worker has caught up
      // (each send past the limit waited up to BACKLOG_WAIT_MS more; found by review, 2026-12-04)
      if (caughtUp(written0)) this.slowReported = false;
      return;
    }
    if (((this.sent - written0) | 0) <= MAX_IN_FLIGHT && this.bytesAfter(written0) <= MAX_IN_FLIGHT_BYTES) return;
    const deadline = Date.now() + BACKLOG_WAIT_MS;
    for (;;) {
      const written = Atomics.load(this.signal, SIGNAL_WRITTEN);
      if (caughtUp(written) || this.dead || Atomics.load(this.signal, SIGNAL_DEAD) === 1) return;
      const left = deadline - Date.now();
      if (left <= 0) break;
      Atomics.wait(this.signal, SIGNAL_WRITTEN, written, Math.min(left, 100));
    }
    this.slowReported = true;
    const mb = (this.bytesAfter(Atomics.load(this.signal, SIGNAL_WRITTEN)) / 1048576).toFixed(1);
    this.events.error(new AuditIOError(`The audit-logger worker thread is ${this.inFlight} records behind (~${mb} MB) after ${BACKLOG_WAIT_MS / 1000} s: the log calls go on without waiting longer, and records in flight are lost if the process dies.`));
  }

  /** Calls a method of the worker's logger and resolves with its (awaited) result. */
  call(method: CallMethod, args: readonly unknown[] = []): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextCall++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // a pending call keeps the process alive until its answer (an `await logger.flush()` last)
      if (this.waiting.size === 1) this.worker.ref();
      const failed = this.post({ t: "call", id, method, args });
      if (failed) this.settle(id, { ok: false, error: sendError(new AuditIOError(`Calling ${method}() on the audit-logger worker failed: ${failed.message}`)) });
    });
  }

  /** Calls a synchronous method of the worker's logger and blocks until it answered. */
  callSync(method: CallMethod, args: readonly unknown[] = []): unknown {
    if (this.dead) throw this.dead;
    const failed = this.post({ t: "callSync", method, args });
    if (failed) throw new AuditIOError(`Calling ${method}() on the audit-logger worker failed: ${failed.message}`, { cause: failed });
    const reply = this.waitSync(`${method}()`);
    if (!reply.ok) throw rebuildError(reply.error);
    return reply.value;
  }

  /** Stops the worker (after finalizeSession, which released the session); calls still open fail. */
  close(): void {
    this.gone(new AuditIOError("the session is finalized"), false);
    void this.worker.terminate();
    this.fromWorker.close();
  }

  /**
   * Hands over, now, what the worker has sent and the event loop has not delivered yet: its
   * events (an `error` met writing the last batch, or the exit hook's own) in the order sent. For
   * the exit hook, after the worker answered its blocking call: nothing runs after the process's
   * `exit` listeners, so they were never delivered, and the app's `error` listener never heard
   * of what the worker could not write as the process ended (found 2026-12-06; stderr only).
   * Never throws: an app's listener that throws is not let into the exit hook (it took the place
   * of the failure the exit hook's stderr line names, and the events after it were not told;
   * found by review, 2026-12-06).
   */
  drainEvents(): void {
    for (let m = receiveMessageOnPort(this.fromWorker); m !== undefined; m = receiveMessageOnPort(this.fromWorker)) {
      try {
        this.onMessage(m.message as FromWorker);
      } catch {
        // (the app's listener threw: the next events are still told, and the exit hook goes on)
      }
    }
  }

  /** Posts `m`; returns the error when it could not be posted (something in it cannot be copied). */
  private post(m: ToWorker): Error | undefined {
    try {
      this.worker.postMessage(m);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /**
   * Blocks until the worker's sync reply, the worker's end, or the timeout. A worker that did
   * not answer in time is treated as gone: a late answer would otherwise be taken for the next.
   */
  private waitSync(what: string): Reply {
    const deadline = Date.now() + SYNC_TIMEOUT_MS;
    for (;;) {
      if (Atomics.load(this.signal, SIGNAL_REPLY) === 1) {
        Atomics.store(this.signal, SIGNAL_REPLY, 0);
        const msg = receiveMessageOnPort(this.syncPort);
        if (msg) return msg.message as Reply;
      }
      const left = deadline - Date.now();
      if (Atomics.load(this.signal, SIGNAL_DEAD) === 1 || left <= 0) break;
      Atomics.wait(this.signal, SIGNAL_REPLY, 0, left);
    }
    const err = new AuditIOError(
      Atomics.load(this.signal, SIGNAL_DEAD) === 1
        ? `The audit-logger worker thread ended before it answered ${what}.`
        : `The audit-logger worker thread did not answer ${what} within ${SYNC_TIMEOUT_MS / 1000} s.`,
    );
    this.gone(err, false);
    return { ok: false, error: sendError(err) };
  }

  private onMessage(m: FromWorker): void {
    switch (m.t) {
      case "reply":
        this.settle(m.id, m);
        return;
      case "error":
        this.events.error(rebuildError(m.error));
        return;
      case "rotate":
        this.events.rotate(m.path);
        return;
      case "checkpoint":
        this.events.checkpoint(m.checkpoint);
    }
  }

  private settle(id: number, reply: Reply): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
    if (reply.ok) w.resolve(reply.value);
    else w.reject(rebuildError(reply.error));
  }

  /** The worker is gone (or finished): open calls fail with `err`, which is reported when `report`. */
  private gone(err: Error, report = true): void {
    if (this.dead) return;
    this.dead = err;
    for (const w of this.waiting.values()) w.reject(err);
    if (this.waiting.size > 0) this.worker.unref();
    this.waiting.clear();
    if (report) this.events.error(err);
  }
}
