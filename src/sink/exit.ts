import fs from "node:fs";

/**
 * Last-chance flushing. Live loggers register here; on `exit` every one hands its buffers to the
 * OS synchronously (and fdatasyncs in `fsync` mode). On SIGINT/SIGTERM/SIGHUP the same happens, then, if
 * no other listener handles the signal, the default action (termination) is restored and the
 * signal re-raised, so installing the logger does not change how the process exits.
 */
export interface ExitFlushable {
  /**
   * `exiting`: false on a signal another listener handles (the process may go on, to a graceful
   * shutdown); `release`: the session lock is released (default: when exiting)
   */
  flushSyncOnExit(exiting?: boolean, release?: boolean): void;
  /** The `exit` event: nothing runs after its listeners, so what is logged from now on is written at once. */
  markExited?(): void;
  /**
   * `text` (the line printed on stderr when `flushSyncOnExit` throws) as it may be printed: the
   * logger redacts it with its `redact` options, as its warnings (the logger registers it here,
   * so this module imports nothing of the logger's). Absent: printed as it is.
   */
  redactReport?(text: string): string;
}

/**
 * The live loggers and the installed handlers, one set per process, shared by every copy of the
 * package (`Symbol.for`): each copy installed its own SIGTERM handler, so each saw another
 * listener, took it for the app's graceful shutdown, and none re-raised the signal: the process no
 * longer ended on SIGTERM (found by review, 2026-12-04).
 */
interface ExitShared {
  readonly live: Set<ExitFlushable>;
  installed: boolean;
  readonly onSignal: (signal: NodeJS.Signals) => void;
  readonly onExit: () => void;
}

const kExit = Symbol.for("audit-logger.exit.v1");
const shared: ExitShared = ((globalThis as unknown as Record<symbol, ExitShared | undefined>)[kExit] ??= makeShared());

function makeShared(): ExitShared {
  const live = new Set<ExitFlushable>();
  const flushAll = (exiting: boolean, release = exiting): void => {
    for (const l of live) {
      try {
        l.flushSyncOnExit(exiting, release);
      } catch (err) {
        // the process is exiting: a last word on stderr, where nothing else can report it
        // (records the disk still refused were dropped without one; found by review, 2026-12-04)
        try {
          // (redacted as the logger's warnings are: a message quoting a path, a sink's error,
          // printed what the trail redacts in clear until 2026-12-06; security pass)
          const text = `audit-logger: could not write everything as the process ended: ${(err as Error)?.message ?? String(err)}`;
          fs.writeSync(2, `${l.redactReport ? l.redactReport(text) : text}\n`);
        } catch {
          // no stderr either
        }
      }
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    // The signal is ours to end the process with when no other listener handles it: none but
    // signal-exit's, which leaves it to us as we leave it to them. Decided on the listeners there
    // now, ours installed first (see install): an app's `process.once` handler is removed before
    // it is called, and, counted after it, looked absent: the re-raise killed the app in the
    // middle of its graceful shutdown. And with signal-exit (execa, write-file-atomic, ora ...)
    // each took the other's listener for the app's and neither re-raised: SIGTERM no longer ended
    // the process (both found by review, 2026-12-04).
    const others = process.listenerCount(signal) - 1;
    // pid 1 (a container's app without an init) ignores a signal left to its default action and
    // lives on, as it would without the logger: its records are flushed, its session stays
    // locked to it (a released lock let a second process open the session while this one wrote
    // on: the chain forked), and the signal is not raised again (with signal-exit loaded, its
    // listener caught the re-raised signal, ours was added back, and round it went at 100% CPU;
    // review, 2026-12-04)
    if (process.pid === 1) {
      flushAll(false);
      return;
    }
    if (others === 0) {
      // the process ends now
      flushAll(true);
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
      return;
    }
    // signal-exit's listeners only: they leave the signal to us as we leave it to them, so it is
    // raised again for them, after their onExit callbacks; one of those may keep the process (it
    // returns true, as foreground-child's does), so the session stays locked until the `exit`
    // event (it was released, and a second process opened the session while this one wrote on;
    // review, 2026-12-04). Any other listener: the app handles the signal (a graceful shutdown).
    if (others === signalExitListeners()) {
      flushAll(true, false);
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    } else flushAll(false);
  };
  const onExit = (): void => {
    flushAll(true);
    // (only the exit event: after a signal's re-raise a process may live on, pid 1 in a container
    // ignoring it, and must not write every record on its thread from then on; review, 2026-12-04)
    for (const l of live) l.markExited?.();
  };
  return { live, installed: false, onSignal, onExit };
}

/**
 * The signal listeners signal-exit installed, per signal: one per loaded copy, counted by its
 * shared emitter (version 4: `Symbol.for("signal-exit emitter")`; version 3:
 * `process.__signal_exit_emitter__`), as signal-exit counts them itself.
 */
function signalExitListeners(): number {
  const count = (e: unknown): number => (typeof e === "object" && e !== null && typeof (e as { count?: unknown }).count === "number" ? (e as { count: number }).count : 0);
  return count((globalThis as Record<symbol, unknown>)[Symbol.for("signal-exit emitter")]) + count((process as unknown as { __signal_exit_emitter__?: unknown }).__signal_exit_emitter__);
}

export function registerForExit(l: ExitFlushable): void {
  shared.live.add(l);
  if (shared.installed) return;
  shared.installed = true;
  process.on("exit", shared.onExit);
  // (first: see onSignal)
  process.prependListener("SIGINT", shared.onSignal);
  process.prependListener("SIGTERM", shared.onSignal);
  // (a closed terminal: its buffers were lost as on SIGKILL; found by review, 2026-12-04)
  process.prependListener("SIGHUP", shared.onSignal);
}

export function unregisterForExit(l: ExitFlushable): void {
  shared.live.delete(l);
  if (shared.live.size === 0 && shared.installed) {
    shared.installed = false;
    process.removeListener("exit", shared.onExit);
    process.removeListener("SIGINT", shared.onSignal);
    process.removeListener("SIGTERM", shared.onSignal);
    process.removeListener("SIGHUP", shared.onSignal);
  }
}
