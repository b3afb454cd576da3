/** Writing export files: streamed, with backpressure, through a temporary file renamed into place. */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AuditIOError, AuditLoggerError, AuditPathError } from "../errors.js";
import { nonRegularKind, REPLACE_TEMP, tempNameBeside } from "../regular-file.js";
import { leftByGoneNamed } from "../sink/lock.js";
import { makeDirSync } from "../make-dir.js";

const FILE_MODE = 0o600;
/** the mode of the folders an export creates for its files */
const DIR_MODE = 0o700;

/**
 * An {@link AuditPathError} for an export target that exists and is not a regular file, or
 * undefined. The export is written beside it and renamed over it, which would replace a FIFO, a
 * device (`/dev/stdout`) or a symbolic link with a regular file, and a link's target would not be
 * written (until 2026-12-05 that is what happened: review #2). `option` names the target for the
 * caller ("option --out", "exportToJson.file"); `instead` is the alternative the message offers.
 */
export function refuseNonRegularTarget(file: string, option: string, instead = option.startsWith("option --") ? ", or - for standard output" : ", or a writable stream"): AuditPathError | undefined {
  let what: string | undefined;
  try {
    what = nonRegularKind(path.resolve(file));
  } catch {
    // (it cannot be looked at: a parent is a file, or not readable; making its directory says
    // so, coded, see makeDirSync: this threw the bare ENOTDIR, found 2026-12-05)
    return undefined;
  }
  if (what === undefined) return undefined;
  const link = what === "a symbolic link" ? " (links are not followed: give the path of the file it points to)" : "";
  return new AuditPathError(
    `${option}: ${path.resolve(file)} is ${what}, not a regular file${link}; an export is written to a temporary file renamed into place, which would replace it: nothing was written. Give the path of a regular file or a new one${instead}.`,
  );
}

/**
 * Streams `chunks` (through `transform`, when given) into `file`. Nothing appears under `file`'s
 * name until everything is written; on failure the temporary file is removed. A `file` that
 * exists and is not a regular file (a FIFO, a device, a symbolic link) is refused, untouched.
 */
export async function writeAtomic(file: string, chunks: AsyncIterable<unknown>, transform?: Transform, option = "export"): Promise<void> {
  const target = path.resolve(file);
  const refused = refuseNonRegularTarget(target, option);
  if (refused) throw refused;
  // (`<file>.<pid>.<random>.tmp`, created exclusively, never through a FIFO or a link put under
  // it: named by the pid and Date.now() until 2026-12-05, two exports of one process to one path
  // started in the same millisecond wrote one temporary file at once, and the second rename
  // failed with ENOENT; found by the durability operator pass)
  const tmp = tempNameBeside(target);
  // (removed on failure only once this call created it: a name taken is someone else's)
  let created = false;
  try {
    // (one level at a time: Node's recursive mkdir never returns under /proc, see makeDirSync;
    // the folders it creates are 0700, as a directory export's, and a folder already there keeps
    // its mode: until 2026-12-06 they were 0777 less the umask, 0755, listable by every user)
    makeDirSync(path.dirname(target), DIR_MODE, option);
    removeStaleTemps(target);
    // (opened before the stream is made, not told by its "open" event: a source that failed at
    // its first record rejected the pipeline before that event, and the temporary file stayed
    // beside the target for as long as the process lived; found by review, 2026-12-05)
    const handle = await openTemp(tmp, target, option);
    created = true;
    const out = handle.createWriteStream();
    if (transform) await pipeline(chunks, transform, out);
    else await pipeline(chunks, out);
    await fs.promises.rename(tmp, target);
  } catch (cause) {
    if (created) await fs.promises.rm(tmp, { force: true });
    throw exportWriteFailed(target, cause);
  }
}

/**
 * The error an export file's writer throws when `file` could not be written (a full disk, a
 * file-size limit, …): an {@link AuditIOError} naming it, or `cause` itself when it is already
 * coded. Every writer of an export file removes what it wrote of it first: nothing is left under
 * its name, nor beside it.
 *
 * @example
 * try { appendWholeSync(fd, data); } catch (err) { throw exportWriteFailed(file, err); }
 */
export function exportWriteFailed(file: string, cause: unknown): AuditLoggerError {
  if (cause instanceof AuditLoggerError) return cause;
  return new AuditIOError(`Writing the export ${file} failed: ${(cause as Error).message}`, { cause });
}

/** Errors opening a file that say the path cannot be written there, not that the disk failed. */
const PATH_CODES = new Set(["EACCES", "EPERM", "EROFS", "ENOENT", "ENOTDIR", "EISDIR", "ELOOP", "ENAMETOOLONG"]);

/**
 * Opens the temporary file beside `target`. A directory that exists but takes no new file (not
 * writable, read-only, under /proc or /sys) is an {@link AuditPathError} naming `option` and the
 * fix, as a directory that cannot be created is (see makeDirSync): it was an AuditIOError,
 * "Writing the export /proc/x.json failed: ENOENT … open '/proc/x.json.<pid>.<random>.tmp'",
 * naming neither (found by the CLI pass, 2026-12-06).
 */
async function openTemp(tmp: string, target: string, option: string): Promise<fs.promises.FileHandle> {
  try {
    return await fs.promises.open(tmp, "wx", FILE_MODE);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined || !PATH_CODES.has(code)) throw err;
    throw new AuditPathError(
      `${option}: ${target} cannot be written: no file can be created in ${path.dirname(target)} (${code}): nothing was written. Give a path in a directory you can write, such as ./audit_exports/${path.basename(target)}.`,
    );
  }
}

/**
 * Removes what an export to `file` killed midway left beside it: its temporary files
 * (`<file>.<pid>.<random>.tmp`, and `<file>.<pid>.<ms>.tmp` or `<file>.<pid>.tmp` as versions
 * before 2026-12-05 named them), regular files only, each named by a process of this host that
 * is gone (see leftByGone: the directory's own recovery judges its temporary files so). A
 * temporary file of a process still running (another export to the same path, under way) is left
 * alone. They stayed for good: in a directory export, `verify` then failed it with
 * `export_file_unlisted` after every later export there too (found by the durability pass,
 * 2026-12-05). Returns the names removed. Best effort: one that cannot be removed stays, and
 * `verify` of a directory export names it.
 */
export function removeStaleTemps(file: string): string[] {
  const dir = path.dirname(file);
  const stem = `${path.basename(file)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // (no directory yet: nothing left in it)
  }
  const removed: string[] = [];
  // (the names and pids as the audit directory's recovery reads its own temporaries)
  for (const name of leftByGoneNamed(dir, names, stem, REPLACE_TEMP)) {
    const p = path.join(dir, name);
    if (!fs.lstatSync(p, { throwIfNoEntry: false })?.isFile()) continue;
    try {
      fs.unlinkSync(p);
      removed.push(name);
    } catch {
      // (removed meanwhile, or not ours to remove: the export goes on, and verify names what stays)
    }
  }
  return removed;
}

/**
 * Where an export goes: a file path (written through a temporary file renamed into place), or a
 * writable stream (`process.stdout`), written as the export is made and left open.
 */
export type ExportTarget = string | NodeJS.WritableStream;

/** {@link writeAtomic} for a path; for a stream, the chunks piped into it, with backpressure. */
export async function writeExport(target: ExportTarget, chunks: AsyncIterable<unknown>, transform?: Transform, option?: string): Promise<void> {
  if (typeof target === "string") return writeAtomic(target, chunks, transform, option);
  try {
    if (transform) await pipeline(chunks, transform, target, { end: false });
    else await pipeline(chunks, target, { end: false });
  } catch (cause) {
    throw new AuditIOError(`Writing the export to a stream failed: ${(cause as Error).message}`, { cause });
  }
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}
