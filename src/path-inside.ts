/**
 * Whether a path lies inside a directory: the check that keeps keys and exports out of the audit
 * directory. Lexical, and also through symlinks (`insideReal`): an export written through a link
 * to the audit directory lands in it all the same.
 */
import fs from "node:fs";
import path from "node:path";

/** `file` is `dir` or below it, lexically (both resolved against the working directory). */
export function isInside(dir: string, file: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(file));
  // (".." or "../…" leads out; "..x.json" is a name inside: it was taken as outside, found by review)
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** `p` with the symlinks of its longest existing ancestor resolved (the rest of it appended as it is). */
function throughLinks(p: string): string {
  let head = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...rest);
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return path.resolve(p);
      rest.unshift(path.basename(head));
      head = parent;
    }
  }
}

/** `file` is inside `dir`, lexically or once the symlinks of either are followed. */
export function insideReal(dir: string, file: string): boolean {
  return isInside(dir, file) || isInside(throughLinks(dir), throughLinks(file));
}

/** Whether `p` is a directory (following links, as the path is given). */
export function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
