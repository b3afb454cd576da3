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
import { rebuildError, sendError, type BatchItem, type CallMethod, type FromWorker, type Reply, type ToWorker, type WorkerInit } from "./protocol.js";

/** How long a blocking call waits for the worker before giving up (it never should). */
const SYNC_TIMEOUT_MS = 30_000;

/** What the link hands to its logger. */
export interface LinkEvents {
  error(err: Error): void;
  rotate(path: string): void;
  checkpoint(checkpoint: unknown): void;
}

/**
 * The worker: the built `worker.js` next to this module; or, when this module runs as TypeScript
 * source (the tests, tsx), `worker.ts` loaded through tsx's loader, which a worker does not
 * inherit on Node 20 (and `--import tsx` in its execArgv does not apply to its entry module).
 */
function startWorker(options: ConstructorParameters<typeof Worker>[1]): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./worker.js", import.meta.url), options);
  const tsx = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { ...options, eval: true });
}

export class ThreadLink {
  readonly startTime: string;
  private readonly worker: Worker;
  private readonly signal: Int32Array;
  private readonly syncPort: MessagePort;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextCall = 1;
  /** set when the worker is gone: nothing more can be recorded */
  private dead: Error | undefined;

  constructor(
    options: AuditOptionsInput,
    private readonly events: LinkEvents,
  ) {
    const shared = new SharedArrayBuffer(4);
    this.signal = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.syncPort = port1;
    const init: WorkerInit = { options, signal: shared, syncPort: port2 };
    this.worker = startWorker({ workerData: init, transferList: [port2] });
    const ready = this.waitSync("starting the worker");
    if (!ready.ok) {
      void this.worker.terminate();
      throw rebuildError(ready.error);
    }
    this.startTime = ready.value as string;
    this.worker.on("message", (m: FromWorker) => this.onMessage(m));
    this.worker.on("error", (err) => this.gone(new AuditIOError(`The audit-logger worker thread failed: ${err.message}. Records made from now on are lost.`, { cause: err })));
    this.worker.on("exit", (code) => {
      if (!this.dead) this.gone(new AuditIOError(`The audit-logger worker thread exited (code ${code}). Records made from now on are lost.`));
    });
    // like pino's transports, the worker does not keep the process alive; a pending call does
    this.worker.unref();
  }

  /**
   * Hands a batch of validated records to the worker; they reach the files in the order sent.
   * When the batch cannot be copied as it is, each item goes through `copyable` first.
   */
  send(items: readonly BatchItem[], copyable: (item: BatchItem) => BatchItem): void {
    if (items.length === 0) return;
    if (this.dead) {
      this.events.error(new AuditIOError(`${items.length} audit record(s) were lost: ${this.dead.message}`));
      return;
    }
    try {
      this.worker.postMessage({ t: "batch", items } satisfies ToWorker);
    } catch {
      // something in a record a structured clone refuses (a function in a prompt, say)
      this.post({ t: "batch", items: items.map(copyable) });
    }
  }

  /** Calls a method of the worker's logger and resolves with its (awaited) result. */
  call(method: CallMethod, args: readonly unknown[] = []): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextCall++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // a pending call keeps the process alive until its answer (an `await logger.flush()` last)
      if (this.waiting.size === 1) this.worker.ref();
      this.post({ t: "call", id, method, args });
    });
  }

  /** Calls a synchronous method of the worker's logger and blocks until it answered. */
  callSync(method: CallMethod, args: readonly unknown[] = []): unknown {
    if (this.dead) throw this.dead;
    if (!this.post({ t: "callSync", method, args })) throw new AuditIOError(`Calling ${method}() on the audit-logger worker failed: its arguments cannot be copied to the worker thread.`);
    const reply = this.waitSync(`${method}()`);
    if (!reply.ok) throw rebuildError(reply.error);
    return reply.value;
  }

  /** Stops the worker (after finalizeSession, which released the session). */
  close(): void {
    this.dead ??= new AuditIOError("the session is finalized");
    void this.worker.terminate();
  }

  private post(m: ToWorker): boolean {
    try {
      this.worker.postMessage(m);
      return true;
    } catch (err) {
      this.events.error(new AuditIOError(`Sending ${m.t === "batch" ? "records" : "a call"} to the audit-logger worker failed: ${(err as Error).message}`, { cause: err }));
      return false;
    }
  }

  private waitSync(what: string): Reply {
    const r = Atomics.wait(this.signal, 0, 0, SYNC_TIMEOUT_MS);
    Atomics.store(this.signal, 0, 0);
    const msg = receiveMessageOnPort(this.syncPort);
    if (r === "timed-out" || !msg) {
      return { ok: false, error: sendError(new AuditIOError(`The audit-logger worker thread did not answer ${what} within ${SYNC_TIMEOUT_MS / 1000} s.`)) };
    }
    return msg.message as Reply;
  }

  private onMessage(m: FromWorker): void {
    switch (m.t) {
      case "reply": {
        const w = this.waiting.get(m.id);
        if (!w) return;
        this.waiting.delete(m.id);
        if (this.waiting.size === 0) this.worker.unref();
        if (m.ok) w.resolve(m.value);
        else w.reject(rebuildError(m.error));
        return;
      }
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

  private gone(err: Error): void {
    this.dead = err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.events.error(err);
  }
}
