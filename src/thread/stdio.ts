/**
 * The first lines of a worker of this package: what it would print is dropped at the source. A
 * worker's output is either forwarded to the app's `process.stdout` (the default, which opens
 * that stream in the app: a pipe is then set non-blocking, and an app writing to it with
 * `fs.writeSync(1, …)` meets EAGAIN) or piped to streams on the worker object (`stdout: true`),
 * and reading those keeps the process alive for good, even after `worker.unref()` (Node 20: a
 * stream being read refs the worker's port until it ends; found by review, 2026-12-03). So the
 * output is piped and never read, and none is made: the workers print nothing of their own
 * (their failures come back as messages or `error` events), and what a loaded module might
 * print (a warning) is dropped here.
 */
export const SILENCE_STDIO = `for (const s of [process.stdout, process.stderr]) s.write = (_c, e, cb) => { const done = typeof e === "function" ? e : cb; if (typeof done === "function") process.nextTick(done); return true; };`;
