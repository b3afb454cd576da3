/**
 * Last-chance flushing. Live loggers register here; on `exit` every one hands its buffers to the
 * OS synchronously (and fdatasyncs in `fsync` mode). On SIGINT/SIGTERM the same happens, then, if
 * no other listener handles the signal, the default action (termination) is restored and the
 * signal re-raised, so installing the logger does not change how the process exits.
 */
export interface ExitFlushable {
  flushSyncOnExit(): void;
}

const live = new Set<ExitFlushable>();
let installed = false;

function flushAll(): void {
  for (const l of live) {
    try {
      l.flushSyncOnExit();
    } catch {
      // the process is exiting: nothing left to report to
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  flushAll();
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

export function registerForExit(l: ExitFlushable): void {
  live.add(l);
  if (installed) return;
  installed = true;
  process.on("exit", flushAll);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

export function unregisterForExit(l: ExitFlushable): void {
  live.delete(l);
  if (live.size === 0 && installed) {
    installed = false;
    process.removeListener("exit", flushAll);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}
