/**
 * Reading one full-content file of an audit directory: only a regular file, only inside the
 * directory once links are followed. Whoever can write the audit directory (the app's own user)
 * could otherwise make a more privileged reader (`export --include-content`, `serve` run by an
 * administrator) hand out any file it can read, through a symbolic link named like a content
 * file, or hang it on a FIFO (found by review, 2026-12-04).
 */
import fs from "node:fs";
import path from "node:path";
import { AuditPathError } from "../errors.js";
import { isInside } from "../path-inside.js";
import { safeJoin } from "../sink/files.js";

// (O_NOFOLLOW: the last component must not be a link; O_NONBLOCK: opening a FIFO must not wait
// for a writer. Neither exists on Windows, where the checks below still hold.)
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

/** The full path of `relPath` under `dir`, its directory checked to stay inside `dir` once links are followed; undefined when that directory does not exist. */
function contentPath(dir: string, relPath: string): string | undefined {
  const full = safeJoin(dir, relPath);
  let realParent: string;
  try {
    realParent = fs.realpathSync(path.dirname(full));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (!isInside(fs.realpathSync(dir), realParent)) throw new AuditPathError(`${relPath} leads outside the audit directory ${dir} (a linked directory): not read.`);
  return full;
}

/** What an open's failure means: undefined for a file that is not there, else the error to throw. */
function openFailure(err: unknown, relPath: string): Error | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return undefined;
  if (code === "ELOOP") return new AuditPathError(`${relPath} is a symbolic link: content files are never read through links.`);
  return err as Error;
}

const notRegular = (relPath: string): AuditPathError => new AuditPathError(`${relPath} is not a regular file: not read.`);

/** The bytes of `relPath` under `dir`, undefined when it does not exist; AuditPathError for a link, a non-file, or a path leading out. */
export async function readContentFile(dir: string, relPath: string): Promise<Buffer | undefined> {
  const full = contentPath(dir, relPath);
  if (full === undefined) return undefined;
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(full, OPEN_FLAGS);
  } catch (err) {
    const failure = openFailure(err, relPath);
    if (failure === undefined) return undefined;
    throw failure;
  }
  try {
    if (!(await handle.stat()).isFile()) throw notRegular(relPath);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** {@link readContentFile}, synchronous (the verifier's). */
export function readContentFileSync(dir: string, relPath: string): Buffer | undefined {
  const full = contentPath(dir, relPath);
  if (full === undefined) return undefined;
  let fd: number;
  try {
    fd = fs.openSync(full, OPEN_FLAGS);
  } catch (err) {
    const failure = openFailure(err, relPath);
    if (failure === undefined) return undefined;
    throw failure;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw notRegular(relPath);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
