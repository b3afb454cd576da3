/**
 * Messages between an AuditLogger in `thread: true` mode (the app's thread) and the worker thread
 * that owns its files. One channel carries everything the app's thread sends (record batches,
 * calls), so the worker sees them in order; replies to blocking calls come back on a second port
 * that only `receiveMessageOnPort` reads, after an `Atomics.notify`; the worker's replies to
 * other calls and its events come back, in order, on a third (WorkerInit.events).
 */
import type { MessagePort } from "node:worker_threads";
import type { AuditOptionsInput } from "../config/schema.js";
import {
  AuditConfigError,
  AuditFormatError,
  AuditIOError,
  AuditKeyError,
  AuditLoggerError,
  AuditPathError,
  AuditSessionClosedError,
  AuditSessionLockedError,
  AuditValidationError,
} from "../errors.js";
import { toJsonSafe } from "../record/serialize.js";
import type { AuditContextValue, InputBuilder } from "../types.js";

/** The record-making methods a batch item can name. */
export type LogMethod = "logChatInteraction" | "logPersonaActivity" | "logToolUsage" | "logFileOperation" | "logPerformanceMetric" | "logError";

/**
 * One log call: method, input, the id it returned, its context and its time. Either a validated
 * input (`v`, its context's metadata merged into it), or a {@link BuiltItem}.
 */
export interface InputItem {
  readonly m: LogMethod;
  /** the validated input, without `id` (set from `id`) */
  readonly v: unknown;
  /** the id the log call returned */
  readonly id: string;
  /** the audit context at the call (without the logger), or undefined outside any */
  readonly c: Omit<AuditContextValue, "logger"> | undefined;
  /** Date.now() at the call: the record's timestamp */
  readonly t: number;
  /**
   * 1: a chat's `id` was made by the kit for this call (the app gave none, or an integration made
   * it: see kFreshId), so the worker's logger claims nothing for it on disk. Until 2026-12-06 the
   * worker took every chat's id for one the app gave, and claimed it (an empty manifest, and an
   * owner file, created and removed per chat).
   */
  readonly f?: 1;
}

/**
 * The plain data an integration's {@link InputBuilder} makes the input of on the worker, as a
 * tuple: the number the builder was loaded under (see `loadBuilder`; it names the log method
 * too), the data, the call's audit context (its metadata is merged as the log call merges it)
 * and Date.now() at the call. A tuple with a number, not an object with the builder's name: one
 * goes to the worker per wrapped LLM call, and the structured clone writes every member name and
 * string again for each (bench/share-openai.ts).
 */
export type BuiltItem = readonly [builder: number, data: unknown, context: Omit<AuditContextValue, "logger"> | undefined, time: number];

export type BatchItem = InputItem | BuiltItem;

/**
 * Methods the app's thread calls on the worker's logger and waits for; and `loadBuilder(module,
 * name, number, method)`, which has the worker import an integration's {@link InputBuilder}
 * module and know the builder by that number (a {@link BuiltItem}'s first member).
 */
export type CallMethod = "flush" | "finalizeSession" | "getSummary" | "cleanup" | "shredSubject" | "placeLegalHold" | "releaseLegalHold" | "flushSyncOnExit" | "loadBuilder";

export type ToWorker =
  | { readonly t: "batch"; readonly items: readonly BatchItem[] }
  /** answered with a {@link FromWorker} "reply" on the worker's parentPort */
  | { readonly t: "call"; readonly id: number; readonly method: CallMethod; readonly args: readonly unknown[] }
  /** answered on the sync port, then `Atomics.notify` */
  | { readonly t: "callSync"; readonly method: CallMethod; readonly args: readonly unknown[] };

/** An error sent across: enough to rebuild the library's coded error on the other side. */
export interface SentError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** the error's own data members (code, issues, method, lockFile, holderPid, errno, …), as JSON data */
  readonly fields?: Record<string, unknown>;
  readonly cause?: SentError;
}

export type Reply = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: SentError };

export type FromWorker =
  | ({ readonly t: "reply"; readonly id: number } & Reply)
  | { readonly t: "error"; readonly error: SentError }
  | { readonly t: "rotate"; readonly path: string }
  | { readonly t: "checkpoint"; readonly checkpoint: unknown };

/**
 * Slots of the shared Int32Array: a sync reply is on the port; the worker is gone; how many
 * batch records the worker has made and handed to the OS (wrapping at 2^32, compared by
 * difference), which the app's thread waits on when too many are in flight (see ThreadLink).
 */
export const SIGNAL_REPLY = 0;
export const SIGNAL_DEAD = 1;
export const SIGNAL_WRITTEN = 2;
/** bytes of the shared signal buffer (three Int32 slots) */
export const SIGNAL_BYTES = 12;

/** What the worker is started with. */
export interface WorkerInit {
  readonly options: AuditOptionsInput;
  /** three Int32 slots: SIGNAL_REPLY and SIGNAL_DEAD, each set to 1 and notified on SIGNAL_REPLY; SIGNAL_WRITTEN, a count notified on itself */
  readonly signal: SharedArrayBuffer;
  readonly syncPort: MessagePort;
  /**
   * where the worker posts everything else it sends ({@link FromWorker}: replies and events), in
   * order: a port of its own, not the worker's parentPort, so the app's thread can read what is
   * left on it synchronously (`receiveMessageOnPort`) as the process ends (see ThreadLink.drainEvents)
   */
  readonly events: MessagePort;
}

const CLASSES: Record<string, new (...args: never[]) => Error> = {
  AuditLoggerError,
  AuditConfigError,
  AuditValidationError,
  AuditSessionClosedError,
  AuditKeyError,
  AuditSessionLockedError,
  AuditPathError,
  AuditIOError,
  AuditFormatError,
};

/** An error as data, to send to the other thread. */
export function sendError(err: unknown, depth = 0): SentError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    if (key === "cause") continue;
    const value = (err as unknown as Record<string, unknown>)[key];
    if (typeof value !== "function") fields[key] = toJsonSafe(value, Number.POSITIVE_INFINITY);
  }
  const cause = (err as { cause?: unknown }).cause;
  return {
    name: err.name,
    message: err.message,
    ...(err.stack !== undefined ? { stack: err.stack } : {}),
    ...(Object.keys(fields).length > 0 ? { fields } : {}),
    ...(cause !== undefined && depth < 4 ? { cause: sendError(cause, depth + 1) } : {}),
  };
}

/**
 * The error again, as an instance of the library's class of that name (so `instanceof` and `code`
 * work for the caller), keeping the message and the other thread's stack.
 */
export function rebuildError(sent: SentError): Error {
  const cls = CLASSES[sent.name];
  const err: Error & { code?: string; issues?: unknown } = cls ? (Object.create(cls.prototype) as Error) : new Error(sent.message);
  Object.defineProperty(err, "message", { value: sent.message, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(err, "name", { value: sent.name, writable: true, configurable: true, enumerable: false });
  if (sent.stack !== undefined) Object.defineProperty(err, "stack", { value: sent.stack, writable: true, configurable: true, enumerable: false });
  if (sent.fields) Object.assign(err, sent.fields);
  if (sent.cause) Object.defineProperty(err, "cause", { value: rebuildError(sent.cause), writable: true, configurable: true, enumerable: false });
  return err;
}
