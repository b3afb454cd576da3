/**
 * Sizes of what a command is about to read, and a way to watch reading progress from outside a
 * function that has no progress callback (Linux: the process's read counter in /proc/self/io).
 */
import fs from "node:fs";
import path from "node:path";
import { CONTENT_DIR, listKindFiles, safeReaddir } from "../sink/files.js";
import { ALL_KINDS, type ChainKindName } from "./args.js";

/** Total bytes of the JSONL files (all segments) of the given sessions and kinds (default: every chain). */
export function logBytes(auditDir: string, sessions: readonly string[], kinds: readonly ChainKindName[] = ALL_KINDS): number {
  let total = 0;
  const names = safeReaddir(auditDir);
  for (const s of sessions) for (const k of kinds) for (const f of listKindFiles(auditDir, k, s, names)) total += sizeOf(f.path);
  return total;
}

/** Total bytes in `full_interactions/`. */
export function contentBytes(auditDir: string): number {
  const dir = path.join(auditDir, CONTENT_DIR);
  let total = 0;
  for (const name of safeReaddir(dir)) total += sizeOf(path.join(dir, name));
  return total;
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Bytes this process has read since the call, from `/proc/self/io` (`rchar`, every thread);
 * undefined where that file does not exist.
 *
 * @example
 * const readSoFar = bytesReadCounter();
 * setInterval(() => bar.update(readSoFar() ?? 0), 100);
 */
export function bytesReadCounter(): () => number | undefined {
  const read = (): number | undefined => {
    try {
      const m = /rchar:\s*(\d+)/.exec(fs.readFileSync("/proc/self/io", "utf8"));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  };
  const start = read();
  return () => {
    const now = read();
    return start === undefined || now === undefined ? undefined : now - start;
  };
}
