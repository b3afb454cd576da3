/** What a command gets to talk to the world: its output streams, environment and colours. */
import { createColors, type Colors } from "./color.js";

export interface CliStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(s: string): boolean;
}

export interface CliIO {
  readonly stdout: CliStream;
  readonly stderr: CliStream;
  readonly env: NodeJS.ProcessEnv;
  /** colours for stdout (off unless stdout is a terminal) */
  readonly color: Colors;
  /** colours for stderr (off unless stderr is a terminal) */
  readonly errColor: Colors;
  /** writes one line to stdout */
  out(line: string): void;
  /** writes one line to stderr */
  err(line: string): void;
  /** fires on SIGINT/SIGTERM, for commands that run until stopped */
  readonly signal: AbortSignal;
}

/** One `audit-logger` sub-command. `run` resolves to the exit code. */
export interface Command {
  readonly name: string;
  /** the full `--help` text */
  readonly help: string;
  run(argv: readonly string[], io: CliIO): Promise<number>;
}

/**
 * @example
 * const io = createIO(process.stdout, process.stderr, process.env, controller.signal);
 */
export function createIO(stdout: CliStream, stderr: CliStream, env: NodeJS.ProcessEnv, signal: AbortSignal): CliIO {
  return {
    stdout,
    stderr,
    env,
    color: createColors(stdout, env),
    errColor: createColors(stderr, env),
    out: (line) => void stdout.write(line + "\n"),
    err: (line) => void stderr.write(line + "\n"),
    signal,
  };
}

/** Waits until `stream` has drained, when its buffer is over the high-water mark. */
export function drained(stream: CliStream & { once?: (ev: "drain", cb: () => void) => unknown; writableNeedDrain?: boolean }): Promise<void> {
  if (!stream.writableNeedDrain || !stream.once) return Promise.resolve();
  return new Promise((resolve) => stream.once!("drain", resolve));
}
