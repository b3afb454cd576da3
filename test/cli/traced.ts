/**
 * The real `audit-logger` command under strace, for the tests of a directory export's moves into
 * place: its renames traced (the main thread's: no -f; the moves are renameSync), and tampered
 * with as `inject` says (strace's `-e inject=` for every rename-like call, e.g. `error=EIO:when=5+`
 * or `error=EIO:signal=SIGKILL:when=22`); and the files of a directory, to compare.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { argsFor, REPO_ROOT } from "./helpers.js";

const RENAMES = "rename,renameat,renameat2";

/** `audit-logger args…` under strace, its renames written to `trace`, each tampered with as `inject` says. */
export function tracedCli(args: readonly string[], trace: string, inject?: string, env: NodeJS.ProcessEnv = {}): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const tamper = inject === undefined ? [] : ["-e", `inject=${RENAMES}:${inject}`];
  const r = spawnSync("strace", ["-qq", "-o", trace, "-e", `trace=${RENAMES}`, ...tamper, process.execPath, ...argsFor(args)], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

/** The renames a trace written by {@link tracedCli} holds, one line each, in order. */
export function tracedRenames(trace: string): string[] {
  return fs.readFileSync(trace, "utf8").split("\n").filter((l) => /^rename/.test(l));
}

/** Every file under `dir`, relative, with its bytes (base64). */
export function filesUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, rel);
    if (fs.statSync(p).isFile()) out.set(rel, fs.readFileSync(p).toString("base64"));
  }
  return out;
}
