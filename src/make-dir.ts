import fs from "node:fs";
import path from "node:path";
import { AuditPathError } from "./errors.js";

/**
 * Creates directory `dir` and its missing parents, one level at a time (mkdir without
 * `recursive`), each with `mode`; a directory already there is fine. Node's recursive mkdir never
 * returns on a path under /proc: mkdir there answers ENOENT for a parent that exists, and Node
 * tries again forever, in `mkdirSync` as in `fs.promises.mkdir` (found 2026-12-05: an export to
 * `/proc/self/x` hung for good, and the CLI with it). Here each missing level is made once, and a
 * path that cannot be made (under /proc or /sys, under a file, not writable) fails at once with
 * an {@link AuditPathError} naming `option` (how the caller names the path: "option --out",
 * "exportToJson.file"), the level and why.
 *
 * @example
 * makeDirSync("./audit_exports/2026-12", 0o700, "option --out");
 */
export function makeDirSync(dir: string, mode: number, option: string): void {
  const target = path.resolve(dir);
  const fail = (at: string, err: unknown): AuditPathError => {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return new AuditPathError(`${option}: the directory ${target} cannot be created (${code} at ${at}): nothing was written. Give a directory you can create and write, such as ./audit_exports.`);
  };
  const missing: string[] = [];
  for (let p = target; ; ) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p, { throwIfNoEntry: false });
    } catch (err) {
      throw fail(p, err);
    }
    if (st !== undefined) {
      if (!st.isDirectory()) throw fail(p, Object.assign(new Error("not a directory"), { code: "ENOTDIR" }));
      break;
    }
    missing.push(p);
    const parent = path.dirname(p);
    if (parent === p) break;
    p = parent;
  }
  for (const p of missing.reverse()) {
    try {
      fs.mkdirSync(p, { mode });
    } catch (err) {
      // (made meanwhile by another process, or another export of this one)
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) continue;
      throw fail(p, err);
    }
  }
}
