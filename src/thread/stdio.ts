import type { Worker } from "node:worker_threads";

/**
 * What this package's worker threads print goes nowhere. A worker's output is either forwarded to
 * the app's `process.stdout` (the default, which opens that stream in the app: a pipe is then set
 * non-blocking, and the app's own `fs.writeSync(1, …)` meets EAGAIN) or piped to streams on the
 * worker object (`stdout: true`), and once anything arrives there Node reads it and the worker's
 * port stays ref'd: the process never ends by itself, `unref()` or not (Node 20; found by review,
 * 2026-12-03). So the workers are made with `stdout: true, stderr: true`, {@link dropOutput}
 * destroys those streams at once (what arrives is discarded), and {@link SILENCE_STDIO} makes the
 * worker's own streams write nothing, for what runs after it (a preloaded module the app's node
 * flags name runs before it, and is covered by the first).
 */
export function dropOutput(worker: Worker): void {
  worker.stdout.destroy();
  worker.stderr.destroy();
}

/**
 * The first line of a worker's code: its stdout and stderr accept every write (`write`, `end`,
 * `console`, warnings) and pass nothing on.
 */
export const SILENCE_STDIO = `for (const s of [process.stdout, process.stderr]) { s._write = (_c, _e, cb) => cb(null); s._writev = (_c, cb) => cb(null); s._final = (cb) => cb(null); s.on("error", () => {}); }`;
