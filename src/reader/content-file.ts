/**
 * Reading one full-content file of an audit directory: only a regular file, only inside the
 * directory once links are followed. Whoever can write the audit directory (the app's own user)
 * could otherwise make a more privileged reader (`export --include-content`, `serve` run by an
 * administrator) hand out any file it can read, through a symbolic link named like a content
 * file, or hang it on a FIFO (found by review, 2026-12-04). The open itself is src/regular-file.ts.
 */
import fs from "node:fs";
import path from "node:path";
import { AuditPathError } from "../errors.js";
import { isInside } from "../path-inside.js";
import { safeJoin } from "../sink/files.js";
import { readRegularFile, readRegularFileSync } from "../regular-file.js";

/** The most a manifest file holds (the kit writes a few hundred bytes): a longer one is not read. */
export const MANIFEST_MAX_BYTES = 64 * 1024;

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

/**
 * The bytes of `relPath` under `dir`, undefined when it does not exist; AuditPathError for a
 * link, a non-file, or a path leading out. With `maxBytes` (the size its record gives), a longer
 * file is not read: FileTooLargeError (a planted file of GiBs was read whole, or failed past
 * 2 GiB as "unreadable" rather than as not matching its record; review leftover, 2026-12-05).
 */
export async function readContentFile(dir: string, relPath: string, maxBytes?: number): Promise<Buffer | undefined> {
  const full = contentPath(dir, relPath);
  if (full === undefined) return undefined;
  try {
    return await readRegularFile(full, relPath, maxBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** {@link readContentFile}, synchronous (the verifier's). */
export function readContentFileSync(dir: string, relPath: string, maxBytes?: number): Buffer | undefined {
  const full = contentPath(dir, relPath);
  if (full === undefined) return undefined;
  try {
    return readRegularFileSync(full, relPath, maxBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
