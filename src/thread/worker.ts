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
import { sessionOwner, withRecordTime, type AuditLogger } from "../logger.js";
import type { AuditContextValue } from "../types.js";
import { SIGNAL_REPLY, builderKey, sendError, type BatchItem, type CallMethod, type FromWorker, type Reply, type ToWorker, type WorkerInit } from "./protocol.js";

const port = parentPort;
if (!port) throw new Error("audit-logger: src/thread/worker.js runs only as a worker thread");
const init = workerData as WorkerInit;
const signal = new Int32Array(init.signal);
const post = (m: FromWorker): void => port.postMessage(m);

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

/** The integrations' input builders this worker loaded, by key (see `loadBuilder`). */
const builders = new Map<string, (data: unknown) => unknown>();

/** Imports an integration's builder module (the app's thread waits for this before it sends data for it). */
async function loadBuilder(module: unknown, name: unknown): Promise<void> {
  if (typeof module !== "string" || typeof name !== "string") throw new TypeError("loadBuilder(module, name) takes two strings");
  const fn = ((await import(module)) as Record<string, unknown>)[name];
  if (typeof fn !== "function") throw new TypeError(`${module} has no function ${name}`);
  builders.set(builderKey({ module, name }), fn as (data: unknown) => unknown);
}

function inputOf(item: BatchItem): Record<string, unknown> {
  if (item.b === undefined) return item.v as Record<string, unknown>;
  const build = builders.get(item.b);
  if (!build) throw new Error(`no input builder ${item.b} was loaded`);
  return build(item.v) as Record<string, unknown>;
}

function record(item: BatchItem): void {
  try {
    const input = inputOf(item);
    if (item.id !== undefined) input.id = item.id;
    withRecordTime(item.t, () => runInAuditContext(item.c as AuditContextValue | undefined, () => (logger[item.m] as (v: unknown) => string)(input)));
  } catch (err) {
    // validated on the app's thread already; what is left is reported like any failure to
    // record: an `error` event there and an `errors` record here
    post({ t: "error", error: sendError(err) });
    try {
      logger.logError({ errorType: "audit_record_failed", severity: "error", message: `A ${item.m}() record could not be written: ${(err as Error).message}` });
    } catch {
      // the session is closed: the event above is all there is
    }
  }
}

function callMethod(method: CallMethod, args: readonly unknown[]): unknown {
  if (method === "loadBuilder") return loadBuilder(args[0], args[1]);
  return (logger[method] as (...a: unknown[]) => unknown).apply(logger, [...args]);
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.t) {
    case "batch":
      if (logger.isClosed) {
        post({ t: "error", error: sendError(new Error(`${msg.items.length} audit record(s) arrived after finalizeSession() and were not written`)) });
        return;
      }
      for (const item of msg.items) record(item);
      logger.writeOutBuffered();
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
