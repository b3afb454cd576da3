/**
 * The worker thread of an AuditLogger in `thread: true` mode: it owns the session (lock, chains,
 * files, keys, checkpoints) through an ordinary AuditLogger, and makes the records the app's
 * thread validated and queued. Each batch is written out (handed to the OS) as soon as it is
 * made, so a record waits at most the app thread's `flushIntervalMs` in memory, as in `async`
 * mode without a thread. Messages are handled one after another, each finished (an async call
 * awaited) before the next starts, so a blocking call from the app's thread (the exit hook)
 * answers after everything sent before it, a finalizeSession() under way included.
 */
import { parentPort, workerData } from "node:worker_threads";
import { runInAuditContext } from "../context.js";
import { markFreshId } from "../record/id.js";
import { sessionOwner, withRecordTime, type AuditLogger } from "../logger.js";
import type { AuditContextValue } from "../types.js";
import { SIGNAL_REPLY, SIGNAL_WRITTEN, sendError, type BatchItem, type BuiltItem, type CallMethod, type InputItem, type LogMethod, type FromWorker, type Reply, type ToWorker, type WorkerInit } from "./protocol.js";

const port = parentPort;
if (!port) throw new Error("audit-logger: src/thread/worker.js runs only as a worker thread");
const init = workerData as WorkerInit;
const signal = new Int32Array(init.signal);
// (replies and events on a port of their own, which the app's thread can drain as the process
// ends: see ThreadLink.drainEvents)
const post = (m: FromWorker): void => init.events.postMessage(m);

function replySync(reply: Reply): void {
  init.syncPort.postMessage(reply);
  Atomics.store(signal, SIGNAL_REPLY, 1);
  Atomics.notify(signal, SIGNAL_REPLY);
}

// (the bootstrap in link.ts marks the worker dead on exit, so a blocking call never outwaits it)
let logger: AuditLogger;
try {
  // the same options (its session file says `thread: true`), owning the session itself
  logger = sessionOwner(init.options);
} catch (err) {
  replySync({ ok: false, error: sendError(err) });
  process.exit(0);
}
replySync({ ok: true, value: logger.startTime });
// everything the logger reports goes to the app's thread, which emits it (or warns) there
logger.on("error", (err) => post({ t: "error", error: sendError(err) }));
logger.on("rotate", (p) => post({ t: "rotate", path: p }));
logger.on("checkpoint", (c) => post({ t: "checkpoint", checkpoint: c }));

/** The integrations' input builders this worker loaded, by the number the app's thread gave each (see `loadBuilder`). */
const builders = new Map<number, { readonly build: (data: unknown) => unknown; readonly method: LogMethod }>();

const isLogMethod = (m: unknown): m is LogMethod =>
  m === "logChatInteraction" || m === "logPersonaActivity" || m === "logToolUsage" || m === "logFileOperation" || m === "logPerformanceMetric" || m === "logError";

/** Imports an integration's builder module (the app's thread waits for this before it sends data for it). */
async function loadBuilder(module: unknown, name: unknown, id: unknown, method: unknown): Promise<void> {
  if (typeof module !== "string" || typeof name !== "string" || typeof id !== "number" || !isLogMethod(method)) {
    throw new TypeError("loadBuilder(module, name, number, method) takes two strings, a number and a log method");
  }
  const fn = ((await import(module)) as Record<string, unknown>)[name];
  if (typeof fn !== "function") throw new TypeError(`${module} has no function ${name}`);
  builders.set(id, { build: fn as (data: unknown) => unknown, method });
}

function record(item: BatchItem): void {
  let method: LogMethod | undefined;
  try {
    let input: Record<string, unknown>;
    let context: InputItem["c"];
    let time: number;
    if (isBuilt(item)) {
      const builder = builders.get(item[0]);
      if (!builder) throw new Error(`no input builder number ${item[0]} was loaded`);
      method = builder.method;
      input = builder.build(item[1]) as Record<string, unknown>;
      context = item[2];
      time = item[3];
    } else {
      method = item.m;
      input = item.v as Record<string, unknown>;
      input.id = item.id;
      // (an id the kit made: nothing to claim on disk, see InputItem.f)
      if (item.f === 1) markFreshId(input);
      context = item.c;
      time = item.t;
    }
    const m: LogMethod = method;
    withRecordTime(time, () => runInAuditContext(context as AuditContextValue | undefined, () => (logger[m] as (v: unknown) => string)(input)));
  } catch (err) {
    // validated on the app's thread already; what is left is reported like any failure to
    // record: an `error` event there and an `errors` record here
    post({ t: "error", error: sendError(err) });
    try {
      logger.logError({ errorType: "audit_record_failed", severity: "error", message: `${method ? `A ${method}()` : "An input builder's"} record could not be written: ${(err as Error).message}` });
    } catch {
      // the session is closed: the event above is all there is
    }
  }
}

const isBuilt = (item: BatchItem): item is BuiltItem => Array.isArray(item);

function callMethod(method: CallMethod, args: readonly unknown[]): unknown {
  if (method === "loadBuilder") return loadBuilder(args[0], args[1], args[2], args[3]);
  return (logger[method] as (...a: unknown[]) => unknown).apply(logger, [...args]);
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.t) {
    case "batch":
      if (logger.isClosed) {
        post({ t: "error", error: sendError(new Error(`${msg.items.length} audit record(s) arrived after finalizeSession() and were not written`)) });
        Atomics.add(signal, SIGNAL_WRITTEN, msg.items.length);
        Atomics.notify(signal, SIGNAL_WRITTEN);
        return;
      }
      try {
        for (const item of msg.items) record(item);
        logger.writeOutBuffered();
      } finally {
        // the app's thread waits on this when too many records are in flight (see ThreadLink.send)
        Atomics.add(signal, SIGNAL_WRITTEN, msg.items.length);
        Atomics.notify(signal, SIGNAL_WRITTEN);
      }
      return;
    case "call": {
      let reply: FromWorker;
      try {
        reply = { t: "reply", id: msg.id, ok: true, value: await callMethod(msg.method, msg.args) };
      } catch (err) {
        reply = { t: "reply", id: msg.id, ok: false, error: sendError(err) };
      }
      post(reply);
      return;
    }
    case "callSync": {
      let reply: Reply;
      try {
        reply = { ok: true, value: callMethod(msg.method, msg.args) };
      } catch (err) {
        reply = { ok: false, error: sendError(err) };
      }
      replySync(reply);
    }
  }
}

let turn: Promise<void> = Promise.resolve();
port.on("message", (msg: ToWorker) => {
  turn = turn
    .then(() => handle(msg))
    .catch((err: unknown) => post({ t: "error", error: sendError(err) }));
});
