/**
 * Opening a file of the audit directory for reading: only a regular file, never through a
 * symbolic link. Whoever can write the directory (the app's own user) could otherwise hang every
 * reader for good with a FIFO named like a chain file (opening it waits for a writer; the viewer
 * stopped answering, even SIGTERM), make a reader fail with a directory named like one, or show
 * another file's content through a link (found by review, 2026-12-04). The one open behind every
 * read of chain, session, checkpoint, key store and content files.
 */
import crypto from "node:crypto";
import { NAME_PID, OWN_NAME_PID } from "./sink/owner.js";
import fs from "node:fs";
import path from "node:path";
import { AuditFormatError, AuditPathError } from "./errors.js";

// (O_NOFOLLOW: the last component must not be a link; O_NONBLOCK: opening a FIFO must not wait
// for a writer, and has no effect on a regular file. Neither exists on Windows, where the
// fstat check below still holds.)
const READ_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

/**
 * Thrown for a file that is a symbolic link or not a regular file (a FIFO, a directory, a
 * device); `written`: one a writer refused to write, not a reader to read.
 */
export class NotRegularFileError extends AuditPathError {
  constructor(
    readonly file: string,
    what: string,
    label = path.basename(file),
    written = false,
  ) {
    super(
      written
        ? `${label} is ${what}, not a regular file: not written (the kit writes only regular files of the audit directory, never through a link; remove it).`
        : `${label} is ${what}, not a regular file: not read (only regular files of the audit directory are read, never through a link).`,
    );
  }
}

function failure(err: unknown, file: string, label: string | undefined, written = false): unknown {
  // ELOOP: the last component is a link (O_NOFOLLOW); EISDIR, ENXIO: a directory, a socket (or,
  // opened for writing, a FIFO no one reads)
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ELOOP") return new NotRegularFileError(file, "a symbolic link", label, written);
  if (code === "EISDIR") return new NotRegularFileError(file, "a directory", label, written);
  if (code === "ENXIO") return new NotRegularFileError(file, nonRegularKind(file) ?? "a socket or device", label, written);
  return err;
}

/** What a non-regular file is, for messages. */
function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isDirectory()) return "a directory";
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isCharacterDevice()) return "a character device";
  return "a socket or device";
}

/**
 * What `file` is when it exists and is not a regular file ("a FIFO", "a symbolic link", "a
 * character device", …; a link is not followed), undefined for a regular or missing one.
 *
 * @example
 * nonRegularKind("/dev/null") // "a character device"
 */
export function nonRegularKind(file: string): string | undefined {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  return st === undefined || st.isFile() ? undefined : kindOf(st);
}

/**
 * Opens `file` read-only; {@link NotRegularFileError} for a link or a non-regular file (other
 * errors, ENOENT among them, as `fs.openSync` throws them). `label` names the file in the
 * message (default: its base name).
 *
 * @example
 * const fd = openRegularSync(path.join(dir, "errors_s1.jsonl"));
 */
export function openRegularSync(file: string, label?: string): number {
  return openChecked(file, READ_FLAGS, undefined, label, false);
}

// (O_NONBLOCK: opening a FIFO for writing must not wait for a reader; it fails, ENXIO, when there
// is none. No effect on a regular file's writes.)
const WRITE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);
const APPEND_FLAGS = WRITE_FLAGS | fs.constants.O_APPEND;
const REPLACE_FLAGS = WRITE_FLAGS | fs.constants.O_TRUNC;
// (O_RDWR in place of O_WRONLY: a FIFO opened so never waits, and is refused by its fstat)
const APPEND_READ_FLAGS = (APPEND_FLAGS & ~fs.constants.O_WRONLY) | fs.constants.O_RDWR;

/**
 * Opens `file` to append to it, creating it with `mode` if it is missing: for a writer's own
 * file of the audit directory (a checkpoints file, a spool). {@link NotRegularFileError} for a
 * link or a non-regular file, never opened through nor waited on (a FIFO named like one hung the
 * writer for good, SIGTERM too; found by review, 2026-12-05).
 *
 * @example
 * const fd = openRegularForAppendSync(path.join(dir, "checkpoints_s1.jsonl"), 0o600);
 */
export function openRegularForAppendSync(file: string, mode: number): number {
  return openChecked(file, APPEND_FLAGS, mode, undefined, true);
}

/**
 * {@link openRegularForAppendSync}, also open for reading (to look at what the file ends with):
 * for a key store, whose line goes after a torn one on a line of its own. Found by a security
 * pass, 2026-12-05: the store was opened with a plain `"a+"`, so a link named like it made the
 * logger append the wrapped data key to the file the link named, outside the audit directory.
 *
 * @example
 * const fd = openRegularForAppendReadSync(path.join(dir, "subject_keys_s1.jsonl"), 0o600);
 */
export function openRegularForAppendReadSync(file: string, mode: number): number {
  return openChecked(file, APPEND_READ_FLAGS, mode, undefined, true);
}

/**
 * Opens `file` to write at positions of the writer's choosing (no `O_APPEND`, never truncated),
 * creating it with `mode` if it is missing: for `async` mode's active chain file. {@link
 * NotRegularFileError} as for {@link openRegularForAppendSync}.
 *
 * @example
 * const fd = openRegularForWriteSync(path.join(dir, "tool_usage_s1.jsonl"), 0o600);
 */
export function openRegularForWriteSync(file: string, mode: number): number {
  return openChecked(file, WRITE_FLAGS, mode, undefined, true);
}

/**
 * Writes `data` as the whole of `file` (created with `mode`, or emptied first), in place: for a
 * marker whose presence and time matter. {@link NotRegularFileError} as for
 * {@link openRegularForAppendSync}.
 *
 * @example
 * writeRegularFileSync(`${store}.shredding`, "", 0o600);
 */
export function writeRegularFileSync(file: string, data: string, mode: number): void {
  const fd = openChecked(file, REPLACE_FLAGS, mode, undefined, true);
  try {
    fs.writeFileSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Creates `file` anew and opens it for writing: for a file written whole beside its place and then
 * renamed in (`<name>.<pid>.tmp`). Whatever is under that name first (left by a crash, or put
 * there) is removed, never opened; the file is then created exclusively (O_EXCL: never through a
 * link, never into a FIFO). Such names are predictable (a container's app is pid 1): a FIFO put
 * there hung the writer for good, a link made it overwrite the file the link named (found by
 * review, 2026-12-05).
 *
 * @example
 * const fd = openNewSync(`${file}.${process.pid}.tmp`, 0o600);
 */
export function openNewSync(file: string, mode: number): number {
  // (a directory there is not removed: AUDIT_ERR_PATH naming it, not an uncoded ERR_FS_EISDIR)
  if (fs.lstatSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new NotRegularFileError(file, "a directory", undefined, true);
  fs.rmSync(file, { force: true });
  return fs.openSync(file, "wx", mode);
}

/**
 * fsyncs directory `dir`, so that a rename or a new name in it reaches the disk (a file's own
 * fsync does not carry its name: ext4 commits the directory up to ~5 s later). A file system that
 * cannot sync a directory (EINVAL, as some network ones answer) is let be.
 *
 * @example
 * fs.renameSync(tmp, store); syncDirectorySync(path.dirname(store));
 */
export function syncDirectorySync(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * How a report names the fsync of directory `dir`: "fsync of the audit directory" for `auditDir`
 * itself, else "fsync of the directory <path relative to auditDir>/".
 */
export function syncedDirectoryName(auditDir: string, dir: string): string {
  const rel = path.relative(auditDir, dir);
  return rel === "" ? "fsync of the audit directory" : `fsync of the directory ${rel.split(path.sep).join("/")}/`;
}

/**
 * `fsync` mode: the audit directory's names, synced once after each new name or rename in it
 * (a chain file or the checkpoints file created, a rotation), before the commit that follows is
 * reported durable: a file's fdatasync does not carry its name (see {@link syncDirectorySync}).
 * Counts, as a chain file's sync state: a name made while a sync is under way is synced again.
 *
 * @example
 * const names = new DirectorySync(auditDir); names.mark(); await names.sync();
 */
export class DirectorySync {
  private marks = 0;
  private started = 0;
  private synced = 0;
  /** what a report of its failure names: "fsync of the audit directory", "fsync of the directory full_interactions/" */
  readonly what: string;
  /** `auditDir`: the directory the report names `dir` relative to (by default `dir` itself, "the audit directory") */
  constructor(
    readonly dir: string,
    auditDir: string = dir,
  ) {
    this.what = syncedDirectoryName(auditDir, dir);
  }

  /** the latest sync() started, until it settles */
  private running: Promise<void> | undefined;

  /** a name was made or renamed in the directory */
  mark(): void {
    this.marks++;
  }

  /** a name was made since the last sync that returned (or is under way) */
  get pending(): boolean {
    return this.marks !== this.synced;
  }

  /**
   * fsync of the directory in the thread pool, if a name was made since the last one started;
   * else the one under way, if any, which covers them (a second caller, say a content write's,
   * while a commit's runs: resolved at once, it was told of a sync not yet made).
   */
  sync(): Promise<void> {
    if (this.marks === this.started) return this.synced >= this.started ? Promise.resolve() : (this.running ?? Promise.resolve());
    const covers = (this.started = this.marks);
    const running: Promise<void> = new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException): void => {
        this.started = this.synced; // not known to be on disk: the next commit syncs again
        reject(err);
      };
      fs.open(this.dir, "r", (err, fd) => {
        // (no directory, no name in it to sync: see syncSync)
        if (err?.code === "ENOENT") {
          this.synced = Math.max(this.synced, covers);
          return resolve();
        }
        if (err) return failed(err);
        fs.fsync(fd, (syncErr) =>
          fs.close(fd, (closeErr) => {
            const e = syncErr && syncErr.code !== "EINVAL" ? syncErr : closeErr;
            if (e) return failed(e);
            this.synced = Math.max(this.synced, covers);
            resolve();
          }),
        );
      });
    }).finally(() => {
      if (this.running === running) this.running = undefined;
    });
    this.running = running;
    return running;
  }

  /** fsync of the directory now, unless every name is known to be on disk (a sync under way is not). */
  syncSync(): void {
    if (this.marks === this.synced) return;
    const covers = this.marks;
    try {
      syncDirectorySync(this.dir);
    } catch (err) {
      // (no directory, no name in it to sync: the content directory removed under the logger,
      // whose writes then fail and are reported themselves; a commit that kept failing on it
      // would refuse every flush())
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.synced = Math.max(this.synced, covers);
    this.started = Math.max(this.started, covers);
  }
}

/**
 * Writes `data` as a new `file` (see {@link openNewSync}), synced to disk first if `sync`. A
 * write that fails (a full disk) leaves no part-written file: it is removed, and the error thrown.
 *
 * @example
 * writeNewFileSync(`${file}.${process.pid}.tmp`, text, 0o600);
 */
export function writeNewFileSync(file: string, data: string, mode: number, sync = false): void {
  const fd = openNewSync(file, mode);
  try {
    fs.writeFileSync(fd, data);
    if (sync) fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw err;
  }
  fs.closeSync(fd);
}

/**
 * What {@link replaceFileSync} writes `file` as first, past `<file>.`: `<pid>.<random>.tmp`
 * (`<pid>.tmp` before 2026-12-05; `$1` the pid, NAME_PID: with its pid namespace and host since 2026-12-06). A process killed between the write and the
 * rename leaves it (retention removes it once that process is gone).
 */
export const REPLACE_TEMP = new RegExp(String.raw`^(${NAME_PID})(?:\.[0-9a-f]+)?\.tmp$`);

/**
 * Replaces `file` whole: `data` is written as the new file `<file>.<pid>.<random>.tmp` beside it
 * ({@link writeNewFileSync}), then renamed over it, so a reader finds the old file or the new one,
 * never part of one; the temporary file is not left behind when either step fails. (Named by the
 * pid alone until 2026-12-05, found by the operator pass: a process of another host sharing the
 * directory with the same pid, two containers' apps both pid 1, removed the other's file being
 * written, whose rename then failed; and one put under that predictable name refused the
 * writer for good.) A directory at
 * `file` (which no rename replaces) is a {@link NotRegularFileError}, before anything is written;
 * a FIFO or a link there is replaced, never opened.
 *
 * @example
 * replaceFileSync(path.join(dir, "legal_holds.json"), text, 0o600);
 */
/**
 * The temporary file a file is written whole as before it is renamed into place:
 * `<file>.<pid>.<random>.tmp` (what REPLACE_TEMP reads after `<file>.`, and what the cleanups of
 * a gone process's leftovers look for). One name for every writer of whole files: replaceFileSync,
 * the exports' writeAtomic, and the directory export's integrity/ files.
 */
export function tempNameBeside(file: string): string {
  return `${file}.${OWN_NAME_PID}.${crypto.randomBytes(6).toString("hex")}.tmp`;
}

export function replaceFileSync(file: string, data: string, mode: number, sync = false): void {
  if (fs.lstatSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new NotRegularFileError(file, "a directory", undefined, true);
  const tmp = tempNameBeside(file);
  writeNewFileSync(tmp, data, mode, sync);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** `fstat` of the open file `fd`; one that fails closes `fd` before its error is thrown. */
export function fstatOrClose(fd: number): fs.Stats {
  try {
    return fs.fstatSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** `file` opened with `flags` (creating it with `mode`), if it is a regular file; else {@link NotRegularFileError}. */
function openChecked(file: string, flags: number, mode: number | undefined, label: string | undefined, written: boolean): number {
  let fd: number;
  try {
    fd = fs.openSync(file, flags, mode);
  } catch (err) {
    throw failure(err, file, label, written);
  }
  const st = fstatOrClose(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new NotRegularFileError(file, kindOf(st), label, written);
  }
  return fd;
}

/** {@link openRegularSync}, as a FileHandle. */
export async function openRegular(file: string, label?: string): Promise<fs.promises.FileHandle> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, READ_FLAGS);
  } catch (err) {
    throw failure(err, file, label);
  }
  let st: fs.Stats;
  try {
    st = await fh.stat();
  } catch (err) {
    await fh.close();
    throw err;
  }
  if (!st.isFile()) {
    await fh.close();
    throw new NotRegularFileError(file, kindOf(st), label);
  }
  return fh;
}

/** Thrown for a file longer than a reader takes of it (see `maxBytes`). */
export class FileTooLargeError extends AuditFormatError {
  constructor(
    readonly file: string,
    readonly size: number,
    maxBytes: number,
    label = path.basename(file),
  ) {
    super(`${label} is ${size} bytes long, more than the ${maxBytes} the kit ever writes there: not read.`);
  }
}

/**
 * The whole of a regular `file` (see {@link openRegularSync}); with `maxBytes`, a longer file is
 * a {@link FileTooLargeError}, not read.
 */
export function readRegularFileSync(file: string, label?: string, maxBytes?: number): Buffer {
  const fd = openRegularSync(file, label);
  try {
    if (maxBytes !== undefined) {
      const size = fs.fstatSync(fd).size;
      if (size > maxBytes) throw new FileTooLargeError(file, size, maxBytes, label);
    }
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** {@link readRegularFileSync}, asynchronous. */
export async function readRegularFile(file: string, label?: string, maxBytes?: number): Promise<Buffer> {
  const fh = await openRegular(file, label);
  try {
    if (maxBytes !== undefined) {
      const size = (await fh.stat()).size;
      if (size > maxBytes) throw new FileTooLargeError(file, size, maxBytes, label);
    }
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/**
 * {@link NotRegularFileError} for a `file` that exists and is not a regular file (a link
 * included, not followed), undefined for a regular or missing one: for a writer that must not
 * open it (`written`: the message says it was not written, and to remove it).
 */
export function notRegularFile(file: string, written = false): NotRegularFileError | undefined {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  return st === undefined || st.isFile() ? undefined : new NotRegularFileError(file, kindOf(st), undefined, written);
}

/**
 * Whether `file` is a regular file, not a link (an `lstat`): for listings that leave out what
 * the readers would refuse. False when it is missing.
 */
export function isRegularFileSync(file: string): boolean {
  try {
    return fs.lstatSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Appends `data` whole to `fd` (opened for appending), or leaves the file as it was and throws:
 * a write(2) the disk cuts short (a file-size limit, a full disk: a short count, then EFBIG or
 * ENOSPC) is continued, and when the rest is refused the part written is cut off again (ftruncate
 * to the size before), so the file never ends in part of a line. Found by the durability pass,
 * 2026-12-06: one write whose count nobody checked left a cut checkpoint line, counted as
 * written, and the next checkpoint was appended to it (checkpoint_malformed, checkpoint_missing
 * for good); and a cut key store line, whose data key was used all the same (its records
 * key_missing, unreadable for good).
 */
export function appendWholeSync(fd: number, data: Buffer): void {
  const before = fs.fstatSync(fd).size;
  let off = 0;
  try {
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
  } catch (err) {
    if (off > 0) {
      try {
        fs.ftruncateSync(fd, before);
      } catch (cause) {
        throw new Error(`${(err as Error).message}; the part written (${off} of ${data.length} bytes) could not be cut off again: ${(cause as Error).message}`, { cause: err });
      }
    }
    throw err;
  }
}
