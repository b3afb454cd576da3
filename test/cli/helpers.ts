/**
 * Runs the real `audit-logger` command as a child process: the TypeScript entry through tsx by
 * default, or the built `dist/src/cli/main.js` when AUDIT_CLI_DIST=1 (after `npm run build`).
 * `npm test` (and so CI) builds first and sets AUDIT_CLI_DIST=1: the command users run, and
 * ~1 s less CPU per run than tsx loading the sources (test/cli/cli.test.ts: 271 s → 187 s on a
 * loaded 2-vCPU machine, 2026-12-05). `npx vitest run` on its own runs the sources, so an edit
 * needs no build.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DIST_MAIN = path.join(REPO_ROOT, "dist/src/cli/main.js");
const SRC_MAIN = path.join(REPO_ROOT, "src/cli/main.ts");

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment the CLI runs with: no colour settings or key from the test runner's own. */
function cliEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["NO_COLOR", "FORCE_COLOR", "AUDIT_LOGGER_KEY", "NODE_OPTIONS"]) delete env[k];
  return { ...env, ...extra };
}

/** The node arguments that run the CLI with `args` (the sources through tsx, or dist). */
export function argsFor(args: readonly string[], dist = process.env.AUDIT_CLI_DIST === "1"): string[] {
  return dist ? [DIST_MAIN, ...args] : ["--import", "tsx", SRC_MAIN, ...args];
}

export interface CliOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly dist?: boolean;
  readonly cwd?: string;
  /** the process's file-size limit in bytes (RLIMIT_FSIZE, set by util-linux `prlimit`): a file written past it is cut short there */
  readonly fileSizeLimit?: number;
}

/** Starts the CLI; collect its output with {@link collect}. */
export function startCli(args: readonly string[], o: CliOptions = {}): ChildProcessWithoutNullStreams {
  const dist = o.dist ?? process.env.AUDIT_CLI_DIST === "1";
  const options = { cwd: o.cwd ?? REPO_ROOT, env: cliEnv(o.env ?? {}) };
  if (o.fileSizeLimit !== undefined) return spawn("prlimit", [`--fsize=${o.fileSizeLimit}:unlimited`, "--", process.execPath, ...argsFor(args, dist)], options);
  return spawn(process.execPath, argsFor(args, dist), options);
}

export interface Collected {
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly done: Promise<CliResult>;
}

export function collect(child: ChildProcessWithoutNullStreams): Collected {
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  return { stdout: () => out, stderr: () => err, done };
}

/** Runs the CLI to completion. */
export function runCli(args: readonly string[], o: CliOptions = {}): Promise<CliResult> {
  return collect(startCli(args, o)).done;
}

/** Polls `check` until it returns true, or fails after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
