#!/usr/bin/env node
/**
 * The `audit-logger` command: verify, summary, report, export, tail and cleanup over an audit
 * directory, or over a PostgreSQL store with `--postgres <url>`. Exit codes: 0 success, 1 a
 * finding or failure, 2 bad usage.
 *
 * @example
 * // $ audit-logger verify ./audit_logs && audit-logger report ./audit_logs
 * // $ audit-logger verify --postgres postgres://audit@db:5432/audit
 */
import { EXIT_OK } from "./args.js";
import { createIO } from "./io.js";
import { runCli } from "./run.js";

async function main(): Promise<void> {
  const controller = new AbortController();
  const stop = (): void => {
    if (controller.signal.aborted) process.exit(130); // a second Ctrl-C: leave now
    controller.abort();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // a file-size limit (ulimit -f) reached: the write fails with EFBIG, which the command reports
  // (coded, naming the file, its part removed) instead of the signal killing it midway
  process.on("SIGXFSZ", () => undefined);
  // a closed pipe (`audit-logger tail dir | head`) ends the command quietly
  for (const s of [process.stdout, process.stderr]) {
    s.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(process.exitCode ?? EXIT_OK);
      throw err;
    });
  }
  const io = createIO(process.stdout, process.stderr, process.env, controller.signal);
  process.exitCode = await runCli(process.argv.slice(2), io);
  process.off("SIGINT", stop);
  process.off("SIGTERM", stop);
}

void main();
