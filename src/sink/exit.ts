/**
 * Last-chance flushing. Live loggers register here; on `exit` every one hands its buffers to the
 * OS synchronously (and fdatasyncs in `fsync` mode). On SIGINT/SIGTERM the same happens, then, if
 * no other listener handles the signal, the default action (termination) is restored and the
 * signal re-raised, so installing the logger does not change how the process exits.
 */
export interface ExitFlushable {
  /** `exiting`: false on a signal another listener handles (the process may go on, to a graceful shutdown) */
  flushSyncOnExit(exiting?: boolean): void;
}

const live = new Set<ExitFlushable>();
let installed = false;

function flushAll(exiting = true): void {
  for (const l of live) {
    try {
      l.flushSyncOnExit(exiting);
    } catch {
      // the process is exiting: nothing left to report to
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  // (another listener handles the signal: the app's graceful shutdown, which may still flush or
  // finalize, and wait for what is under way)
  const ours = process.listenerCount(signal) === 1;
  flushAll(ours);
  if (ours) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function onExit(): void {
  flushAll(true);
}

export function registerForExit(l: ExitFlushable): void {
  live.add(l);
  if (installed) return;
  installed = true;
  process.on("exit", onExit);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

export function unregisterForExit(l: ExitFlushable): void {
  live.delete(l);
  if (live.size === 0 && installed) {
    installed = false;
    process.removeListener("exit", onExit);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}
