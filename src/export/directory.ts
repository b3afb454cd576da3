/**
 * The complete export: the JSON document, one CSV per kind, the analytics report,
 * `checksums.json` with the SHA-256 of each of those files, the sessions' signed checkpoints and
 * `audit_event` chains under `integrity/`, and `export_manifest.json` (signed when a signing key
 * is at hand) over all of them, which `verifyExport` checks.
 */
import fs from "node:fs";
import { randomBytes, type KeyObject } from "node:crypto";
import path from "node:path";
import { AuditIOError, AuditPathError } from "../errors.js";
import { copyChainEvidence, EXPORT_INTEGRITY_DIR, EXPORT_LOCK, EXPORT_MANIFEST, manifestListedFiles, manifestWhole, onlyReplacedLeft, pendingListNames, PENDING_NAME, PENDING_STEM, STAGING_MARK, STAGING_NAME, STAGING_REPLACED, STAGING_STEM, writeExportManifest, type ExportManifest } from "../integrity/export.js";
import { checkpointFileName } from "../integrity/checkpointer.js";
import type { SigningKey } from "../integrity/signing.js";
import { appendWholeSync, REPLACE_TEMP, tempNameBeside } from "../regular-file.js";
import { kindFileName } from "../sink/files.js";
import { leftByGoneNamed } from "../sink/lock.js";
import { NameRefresher, OWN_NAME_PID } from "../sink/owner.js";
import { dirLockHolder, lockBody, tryDirLock } from "../sink/dir-lock.js";
import { KIND_FILE_STEM, RECORD_KINDS, type RecordType } from "../types.js";
import { exportWriteFailed, refuseNonRegularTarget, removeStaleTemps, sha256File, writeAtomic } from "./output.js";
import { makeDirSync } from "../make-dir.js";

/** What `checksums.json` holds. */
export interface ChecksumManifest {
  readonly algorithm: "sha256";
  readonly createdAt: string;
  /** file name (relative to the export directory, `/`-separated) → hex digest */
  readonly files: Readonly<Record<string, string>>;
}

/** What `exportCompleteAuditToDirectory()` resolves to. */
export interface DirectoryExportResult {
  readonly directory: string;
  /** the files written, relative to `directory` and `/`-separated, export_manifest.json last */
  readonly files: readonly string[];
  readonly checksums: ChecksumManifest;
  /** what export_manifest.json holds; `signature` is null when the export was not signed */
  readonly manifest: ExportManifest;
}

/** Where the export's integrity evidence comes from, and how the manifest is signed. */
export interface DirectoryIntegrity {
  /** the audit directory the records come from (undefined for a non-file source: nothing to copy) */
  readonly auditDir: string | undefined;
  /**
   * for a source that is no audit directory (the PostgreSQL store): a session's `audit_event`
   * lines as stored, written to `integrity/` as a directory's chain is copied there
   */
  readonly auditEvents?: ((sessionId: string) => AsyncIterable<string>) | undefined;
  readonly sessionIds: readonly string[];
  readonly includeFullContent: boolean;
  /** a path or connection description, written into the manifest */
  readonly source: string;
  /** Ed25519 private key for the manifest; unsigned without one */
  readonly signingKey: KeyObject | string | SigningKey | undefined;
  /** how the caller names the export directory in errors ("option --out", "exportCompleteAuditToDirectory.dir") */
  readonly option: string;
}

/**
 * Checks a directory export's target before anything is written or removed: every name the
 * export writes at its top level must be a regular file or new (see `refuseNonRegularTarget`),
 * and `integrity/` must be an earlier export's (see {@link earlierEvidence}), whose files it
 * returns, to be replaced. Throws {@link AuditPathError} naming `option`.
 *
 * @example
 * checkDirectoryTarget("./audit_exports", "option --out");
 */
export function checkDirectoryTarget(dir: string, option: string): string[] {
  const directory = path.resolve(dir);
  for (const name of [DIRECTORY_JSON, ...RECORD_KINDS.map(csvFileName), DIRECTORY_REPORT, DIRECTORY_CHECKSUMS, DIRECTORY_MANIFEST]) {
    const refused = refuseNonRegularTarget(path.join(directory, name), option, "");
    if (refused) throw refused;
  }
  return earlierEvidence(directory, option);
}

/**
 * {@link checkDirectoryTarget} before an export does its work, so that a target it would refuse
 * is refused before anything is written: except while another export holds the directory's
 * `export.lock`, moving its files in, which leaves a mix of two exports until it is done (what is
 * there is looked at again under the lock before anything is moved). Until 2026-12-06 the second
 * of two exports started at once failed now and then with "integrity holds what no earlier export
 * of audit-logger wrote there" (test/cli/export-dir-concurrent.test.ts).
 *
 * @example
 * precheckDirectoryTarget("./audit_exports", "option --out");
 */
export function precheckDirectoryTarget(dir: string, option: string): void {
  try {
    checkDirectoryTarget(dir, option);
  } catch (err) {
    if (!(err instanceof AuditPathError) || !fs.existsSync(path.join(path.resolve(dir), EXPORT_LOCK))) throw err;
  }
}

/**
 * The files an earlier export left in `<dir>/integrity/`, which a new export there replaces: only
 * those the earlier export's manifest (`export_manifest.json`, a manifest of this kit) lists, each
 * a regular file, and what an export killed midway left (a list `integrity.<pid>.<random>.pending`, see PENDING_NAME, as versions before 2026-12-06 wrote): the files its
 * list names, their temporary files (`<file>.<pid>.<random>.tmp`), and the list itself, last, as
 * long as the process that wrote it (of this host) is gone. Anything else there (a folder of the
 * user's, a file no manifest names, a link, an `integrity` that is not a directory) is an
 * {@link AuditPathError} naming `option`, and nothing is removed. Until 2026-12-05 the export
 * removed `<dir>/integrity` recursively, whatever it held (found by review: a user's folder, and
 * an audit directory named `integrity`, every record of it, with exit code 0); and a killed export
 * left files no manifest listed there, which every later export refused (found by the durability
 * pass).
 *
 * @example
 * earlierEvidence("./audit_exports", "option --out"); // [] for a new directory
 */
export function earlierEvidence(dir: string, option: string): string[] {
  const directory = path.resolve(dir);
  const where = path.join(directory, EXPORT_INTEGRITY_DIR);
  const killed = killedExportLists(directory);
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(where, { throwIfNoEntry: false });
  } catch (err) {
    // (a parent is a file: nothing is there, and making the directory fails, coded: see makeDirSync)
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") return killed.lists;
    throw err;
  }
  if (st === undefined) return killed.lists;
  const fix = `Export to a new or empty directory, or move ${where} away.`;
  if (!st.isDirectory()) {
    throw new AuditPathError(`${option}: ${where} is ${st.isSymbolicLink() ? "a symbolic link" : "not a directory"}, and a directory export writes its integrity/ folder there: not replaced. ${fix}`);
  }
  const entries = fs.readdirSync(where, { withFileTypes: true });
  if (entries.length === 0) return killed.lists;
  const listed = manifestListedFiles(dir);
  const known = new Set([...(listed ?? []), ...killed.names]);
  const foreign = entries.filter((e) => !e.isFile() || !(known.has(`${EXPORT_INTEGRITY_DIR}/${e.name}`) || tempOfKnown(where, e.name, known))).map((e) => e.name);
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? `, and ${foreign.length - 3} more` : "");
    // (a list whose maker is not known gone: its name names no host, so it is kept an hour untouched; docs/FORMAT.md, "Names")
    const running = killed.running.length > 0 ? `; an export (process ${killed.running.join(", ")}) may be writing this directory` : "";
    throw new AuditPathError(
      `${option}: ${where} holds what no earlier export of audit-logger wrote there (${shown}${listed ? "" : `; ${path.join(directory, EXPORT_MANIFEST)} is missing or not an export manifest`}${running}), and a directory export writes its integrity/ folder there: nothing was removed. ${fix}`,
    );
  }
  return [...entries.map((e) => path.join(where, e.name)), ...killed.lists];
}

/** Whether `name` is the temporary file (`<file>.<pid>.<random>.tmp`) of a `known` integrity file, left by a process of this host that is gone. */
function tempOfKnown(where: string, name: string, known: ReadonlySet<string>): boolean {
  if (!name.endsWith(".tmp")) return false;
  for (let i = name.indexOf("."); i > 0; i = name.indexOf(".", i + 1)) {
    const stem = name.slice(0, i + 1);
    if (known.has(`${EXPORT_INTEGRITY_DIR}/${name.slice(0, i)}`) && leftByGoneNamed(where, [name], stem, REPLACE_TEMP).length > 0) return true;
  }
  return false;
}

/** `integrity.<pid>.<random>.pending` in an export directory: see PENDING_NAME (versions before 2026-12-06). */

/**
 * The lists (see PENDING_NAME) that exports killed midway left in `directory` (regular files
 * named by a process of this host that is gone: `lists`, full paths), the integrity files they
 * name (`names`, relative and `/`-separated: complete lines only, a line being written when the
 * process was killed is no name), and the pids of the processes still running whose lists are
 * there (`running`: an export under way).
 */
function killedExportLists(directory: string): { lists: string[]; names: Set<string>; running: number[] } {
  let all: string[];
  try {
    all = fs.readdirSync(directory).filter((n) => n.startsWith(PENDING_STEM) && PENDING_NAME.test(n.slice(PENDING_STEM.length)));
  } catch {
    return { lists: [], names: new Set(), running: [] };
  }
  const gone = new Set(leftByGoneNamed(directory, all, PENDING_STEM, PENDING_NAME));
  const lists: string[] = [];
  const names = new Set<string>();
  const running: number[] = [];
  for (const n of all) {
    const file = path.join(directory, n);
    if (!fs.lstatSync(file, { throwIfNoEntry: false })?.isFile()) continue;
    if (!gone.has(n)) {
      running.push(Number(PENDING_NAME.exec(n.slice(PENDING_STEM.length))![1]));
      continue;
    }
    lists.push(file);
    // (read as verify reads it: see pendingListNames)
    for (const l of pendingListNames(file)) names.add(l);
  }
  return { lists, names, running };
}

/**
 * Names of the files in a directory export.
 *
 * @example
 * const sums = JSON.parse(fs.readFileSync(path.join(dir, DIRECTORY_CHECKSUMS), "utf8"));
 */
export const DIRECTORY_JSON = "audit_complete.json";
export const DIRECTORY_REPORT = "analytics_report.json";
export const DIRECTORY_CHECKSUMS = "checksums.json";
export const DIRECTORY_MANIFEST = EXPORT_MANIFEST;

/**
 * The CSV file name of a kind in a directory export.
 *
 * @example
 * csvFileName("tool_usage") // "tool_usage.csv"
 */
export function csvFileName(kind: RecordType): string {
  return `${KIND_FILE_STEM[kind]}.csv`;
}

/**
 * Copies the checkpoints and audit_event chains first (so no checkpoint covers more than the
 * records read after it), writes every file through `steps`, then checksums.json, then the
 * manifest over everything. `steps.json` resolves to the sessions whose chain hashes it withheld
 * (content withheld that is not encrypted): their checkpoints are taken out again, since a
 * checkpoint's head hashes and Merkle roots are computed from those records and would confirm a
 * guess of the content as the records' own hashes would (found by review, 2026-12-05).
 *
 * Whole or not at all: every file is written into a staging folder inside `dir`
 * (`export.<pid>.<random>.staging/`, see STAGING_NAME), and only once the manifest is written
 * there are they renamed into place (see {@link swapIn}), the earlier export's files moved into
 * the staging folder as they are replaced, which then goes. An export that fails (a full disk, a
 * file-size limit, a file that cannot be written) removes the staging folder and leaves `dir` as
 * it was, the earlier export whole; its error names the file by its place in `dir`. The swap
 * holds `<dir>/export.lock` (see takeExportLock): two exports into one directory move their
 * files in one after the other, never interleaved. Until
 * 2026-12-06 the files were written in place one after the other, and the earlier export's
 * integrity/ files removed first: a re-export that failed midway left a directory that was neither
 * export, its top-level files partly replaced and its integrity/ emptied (found by review).
 */
export async function writeDirectoryExport(
  dir: string,
  steps: {
    json: (file: string) => Promise<ReadonlySet<string>>;
    csv: (kind: RecordType, file: string) => Promise<void>;
    report: () => Promise<unknown>;
  },
  integrity: DirectoryIntegrity,
): Promise<DirectoryExportResult> {
  const directory = path.resolve(dir);
  // (one level at a time: Node's recursive mkdir never returns under /proc, see makeDirSync)
  makeDirSync(directory, 0o700, integrity.option);
  const files: string[] = [];
  // an earlier export's integrity files would not match this one's manifest: they are replaced
  // (and what an export killed midway left there, its list of them, goes)
  refuseOverLeftReplaced(directory, integrity.option, undefined);
  precheckDirectoryTarget(directory, integrity.option);
  removeStaleStaging(directory);
  const staging = makeStaging(directory, integrity.option);
  // (kept fresh while this export runs: an export of another host or container sharing the
  // directory removes one an hour untouched, see removeStaleStaging; until 2026-12-06 an export an
  // hour long lost its staging folder so)
  const held = new NameRefresher();
  held.hold(staging);
  let result: DirectoryExportResult;
  try {
    // (a store's audit_event chain, legal holds and their releases among them, was left out of a
    // directory export of the PostgreSQL store: its manifest said the chain ended at seq 0, and
    // verify of the export said OK; found by the PostgreSQL new-user pass, 2026-12-05)
    let evidence = integrity.auditDir
      ? copyChainEvidence(integrity.auditDir, staging, integrity.sessionIds, undefined, integrity.option)
      : integrity.auditEvents
        ? await writeChainEvidence(staging, integrity.sessionIds, integrity.auditEvents, integrity.option)
        : [];
    const unhashed = await steps.json(path.join(staging, DIRECTORY_JSON));
    files.push(DIRECTORY_JSON);
    const withdrawn = new Set([...unhashed].map((s) => `${EXPORT_INTEGRITY_DIR}/${checkpointFileName(s)}`));
    for (const rel of withdrawn) await fs.promises.rm(path.join(staging, rel), { force: true });
    evidence = evidence.filter((rel) => !withdrawn.has(rel));
    // No evidence left: no integrity/ folder (as the writers make none when they have nothing to
    // write there), the earlier export's taken away, or the one this export emptied again by taking
    // its checkpoints out. (A folder of the user's, empty, that held nothing before, is left.)
    if (evidence.length === 0) await fs.promises.rmdir(path.join(staging, EXPORT_INTEGRITY_DIR)).catch(() => undefined);
    for (const kind of RECORD_KINDS) {
      await steps.csv(kind, path.join(staging, csvFileName(kind)));
      files.push(csvFileName(kind));
    }
    const report = await steps.report();
    await writeAtomic(path.join(staging, DIRECTORY_REPORT), oneChunk(JSON.stringify(report, null, 2) + "\n"), undefined, integrity.option);
    files.push(DIRECTORY_REPORT);
    const digests: Record<string, string> = {};
    for (const f of files) digests[f] = await sha256File(path.join(staging, f));
    const checksums: ChecksumManifest = { algorithm: "sha256", createdAt: new Date().toISOString(), files: digests };
    await writeAtomic(path.join(staging, DIRECTORY_CHECKSUMS), oneChunk(JSON.stringify(checksums, null, 2) + "\n"), undefined, integrity.option);
    const covered = [...files, DIRECTORY_CHECKSUMS, ...evidence];
    const manifest = writeExportManifest({
      exportDir: staging,
      files: covered,
      sessionIds: integrity.sessionIds,
      includeFullContent: integrity.includeFullContent,
      source: integrity.source,
      signingKey: integrity.signingKey,
    });
    // One export at a time moves its files in (see takeExportLock), and what is there is looked at
    // again under the lock: another export may have moved its own in since this one began.
    const release = await takeExportLock(directory, integrity.option);
    try {
      const present = checkDirectoryTarget(directory, integrity.option);
      // (under the lock no other export is moving its files in: any earlier files left is one that failed or was killed)
      refuseOverLeftReplaced(directory, integrity.option, staging);
      // (the earlier integrity/ is replaced when this export has one, or when it held an earlier
      // export's files; the manifest last: until it is in place, the directory verifies as neither)
      const replaceIntegrity = evidence.length > 0 || present.some((f) => path.dirname(f) === path.join(directory, EXPORT_INTEGRITY_DIR));
      swapIn(directory, staging, [...(replaceIntegrity ? [EXPORT_INTEGRITY_DIR] : []), ...files, DIRECTORY_CHECKSUMS, DIRECTORY_MANIFEST]);
      // what killed exports left beside the files now in place (their temporary files, their lists)
      for (const f of [...files, DIRECTORY_CHECKSUMS, DIRECTORY_MANIFEST]) removeStaleTemps(path.join(directory, f));
      for (const f of present) if (path.dirname(f) === directory) fs.rmSync(f, { force: true });
    } finally {
      release();
    }
    result = { directory, files: [...covered, DIRECTORY_MANIFEST], checksums, manifest };
  } catch (err) {
    // (a swap that could not be undone: the earlier files left in the staging folder stay there, named)
    if (keepsStaging.has(err as object)) throw err;
    await fs.promises.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw namedInPlace(err, staging, directory);
  } finally {
    held.stop();
  }
  // (the earlier export's files it replaced)
  await fs.promises.rm(staging, { recursive: true, force: true }).catch(() => undefined);
  return result;
}

/** How long a directory export waits for another one to finish moving its files into the same directory (a few renames: milliseconds as a rule). */
const EXPORT_LOCK_WAIT_MS = 10_000;
/** A lock of another host (or of another pid namespace) untouched this long is taken over (see takeDirLock). */
const EXPORT_LOCK_STALE_MS = 30_000;

/**
 * Takes `<directory>/export.lock` (see EXPORT_LOCK and takeDirLock: a holder that is gone is taken
 * over at once), waiting up to EXPORT_LOCK_WAIT_MS for a live one without blocking the event loop.
 * Then an AuditIOError naming `option`, the holder's pid, and the fix. Until 2026-12-06 two exports
 * into one directory at once (each with its own staging folder) renamed their files in one after
 * the other's, interleaved: the directory held some files of each, and verified as neither (found
 * by review).
 */
async function takeExportLock(directory: string, option: string): Promise<() => void> {
  const file = path.join(directory, EXPORT_LOCK);
  const body = lockBody();
  const deadline = Date.now() + EXPORT_LOCK_WAIT_MS;
  for (;;) {
    const release = tryDirLock(file, body, EXPORT_LOCK_STALE_MS);
    if (release) return release;
    if (Date.now() > deadline) {
      const h = dirLockHolder(file);
      const who = h ? `process ${h.pid} of host ${h.hostname}${h.startedAt ? `, since ${h.startedAt}` : ""}` : "a process that cannot be told from the lock";
      throw new AuditIOError(
        `${option}: another directory export (${who}) holds ${file} while it moves its files into ${directory}, and still did after ${EXPORT_LOCK_WAIT_MS / 1000} s: nothing of this export was moved in. Run one export into a directory at a time, or export to another directory; if ${h ? `process ${h.pid} is no audit-logger export` : "no export is running"}, remove ${file}.`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The errors of a swap that could not be undone: the staging folder holds earlier files, and stays. */
const keepsStaging = new WeakSet<object>();

/**
 * Creates this export's staging folder in `directory` (see STAGING_NAME). A directory that takes
 * no new folder is an {@link AuditPathError} naming `option`.
 */
function makeStaging(directory: string, option: string): string {
  const staging = path.join(directory, `${STAGING_STEM}${OWN_NAME_PID}.${randomBytes(6).toString("hex")}.staging`);
  try {
    fs.mkdirSync(staging, { mode: 0o700 });
    try {
      fs.writeFileSync(path.join(staging, STAGING_MARK), "", { flag: "wx", mode: 0o600 });
    } catch (err) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw err;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new AuditPathError(`${option}: ${staging} cannot be created (${code}), and a directory export writes its files there before it moves them into place: nothing was written. Give a directory you can write, such as ./audit_exports.`);
  }
  return staging;
}

/**
 * Removes the staging folders (see STAGING_NAME) that exports killed midway left in `directory`:
 * folders (not links) named by a process of this host that is gone, holding an export's mark
 * (STAGING_MARK; any other such folder is the user's, and left). One of a process still
 * running (an export under way) is left alone. Best effort: one that stays is named by verify.
 */
function removeStaleStaging(directory: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(directory);
  } catch {
    return;
  }
  for (const name of leftByGoneNamed(directory, names, STAGING_STEM, STAGING_NAME)) {
    const p = path.join(directory, name);
    if (!fs.lstatSync(p, { throwIfNoEntry: false })?.isDirectory()) continue;
    // (only a folder an export made, its mark in it: until 2026-12-06 a folder of the user's with
    // such a name, of a pid not running, was removed with all it held; found by review)
    try {
      if (!fs.lstatSync(path.join(p, STAGING_MARK), { throwIfNoEntry: false })?.isFile()) continue;
      // (nor one holding an earlier export's files that a failed or killed move into place left:
      // their only copy, see refuseOverLeftReplaced; until 2026-12-06 it went too, found by review)
      if (holdsReplaced(p)) continue;
      fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // (left: verify names it)
    }
  }
}

/** The folder of a staging folder where the swap moves the earlier export's files (see swapIn). */
const REPLACED = STAGING_REPLACED;
/** What `replaced/` is renamed to once the swap is done, under the lock: the earlier export, superseded, which then goes. */
const SUPERSEDED = "superseded";

/** Whether the staging folder `staging` holds a `replaced/` with anything in it (see swapIn). */
function holdsReplaced(staging: string): boolean {
  try {
    return fs.lstatSync(path.join(staging, REPLACED), { throwIfNoEntry: false })?.isDirectory() === true && fs.readdirSync(path.join(staging, REPLACED)).length > 0;
  } catch {
    // (one that cannot be read is kept, and named: better than removing the only copy)
    return true;
  }
}

/**
 * Refuses a directory export into `directory` while a staging folder there (an export's, holding
 * its mark, other than `own`) holds a `replaced/` with files in it: the earlier export's files,
 * which a move into place that failed and could not be undone, or an export killed during its
 * renames, left there. They are the only copy of them, and `directory` is then a mix of two
 * exports: only the user can tell which to keep, so the export stops (AuditPathError naming
 * `option`, which folder holds which export's files, and what to do) before it writes anything,
 * and never removes that folder. `own` undefined (before this export has a staging folder and the
 * lock): only the folders of processes of this host that are gone, as another export may be
 * moving its files in now. Decided 2026-12-06: until then the next export removed that folder, and
 * the only copy with it (found by review).
 *
 * But one whose export was moved in whole, killed only before it renamed its `replaced/` to
 * `superseded/` (see swapIn), is superseded by this export under the lock, as it would have been
 * itself, and removed (see supersedeDone; before the lock it is left for then). Since 2026-12-06:
 * until then that moment's kill stopped every later export there too.
 */
function refuseOverLeftReplaced(directory: string, option: string, own: string | undefined): void {
  let names: string[];
  try {
    names = fs.readdirSync(directory);
  } catch {
    return;
  }
  const gone = new Set(leftByGoneNamed(directory, names, STAGING_STEM, STAGING_NAME));
  const candidates = own === undefined ? [...gone] : names.filter((n) => n.startsWith(STAGING_STEM) && STAGING_NAME.test(n.slice(STAGING_STEM.length)));
  for (const name of candidates) {
    const p = path.join(directory, name);
    if (p === own || !fs.lstatSync(p, { throwIfNoEntry: false })?.isDirectory()) continue;
    if (!fs.lstatSync(path.join(p, STAGING_MARK), { throwIfNoEntry: false })?.isFile() || !holdsReplaced(p)) continue;
    // (before the lock, a whole one is left for then: nothing is moved without it)
    if (gone.has(name) && onlyReplacedLeftIn(p) && (own === undefined ? manifestWhole(directory) : supersedeDone(directory, p))) continue;
    // (one gone meanwhile was superseded by another export, under the lock)
    if (!fs.existsSync(p)) continue;
    throw new AuditPathError(leftReplacedMessage(directory, option, p));
  }
}

/** Whether the staging folder `p` holds nothing but its mark and `replaced/`: every file of its export was moved out of it (see swapIn, onlyReplacedLeft). */
function onlyReplacedLeftIn(p: string): boolean {
  try {
    return onlyReplacedLeft(fs.readdirSync(p));
  } catch {
    return false;
  }
}

/**
 * The staging folder `p` (of a process that is gone), whose export was moved out of it whole (see
 * onlyReplacedLeft): when `directory` holds a whole export (manifestWhole: the manifest, moved
 * in last, and every file it lists, as it lists them), what `replaced/` holds is the export that
 * one superseded, as swapIn would have said had it not been killed first: renamed `superseded/`,
 * then the folder goes. Whether it was; else nothing is touched.
 */
function supersedeDone(directory: string, p: string): boolean {
  if (!manifestWhole(directory)) return false;
  try {
    fs.renameSync(path.join(p, REPLACED), path.join(p, SUPERSEDED));
  } catch {
    return false;
  }
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch {
    // (left: nothing in it is needed any more, and the next export removes it, see removeStaleStaging)
  }
  return true;
}

/** At most this many names are listed in leftReplacedMessage per folder. */
const NAMES_SHOWN = 5;

/** The names of the entries of `dir` but `except` (NAMES_SHOWN of them, and how many more). */
function namesIn(dir: string, except: readonly string[] = []): { shown: string; count: number } {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => !except.includes(n)).sort();
  } catch {
    names = [];
  }
  return { shown: names.slice(0, NAMES_SHOWN).join(", ") + (names.length > NAMES_SHOWN ? `, and ${names.length - NAMES_SHOWN} more` : ""), count: names.length };
}

/**
 * What refuseOverLeftReplaced says of the staging folder `p`: which folder holds which export's
 * files, and what to do. Until 2026-12-06 it said `directory` held some files of each export,
 * also when it held the later export whole.
 */
function leftReplacedMessage(directory: string, option: string, p: string): string {
  const replaced = path.join(p, REPLACED);
  const earlier = namesIn(replaced);
  const later = namesIn(p, [STAGING_MARK, REPLACED, SUPERSEDED]);
  const whole = manifestWhole(directory);
  const laterSaid =
    later.count > 0
      ? `${p} still holds the files of the later export it had not moved in (${later.shown}), and ${directory} holds the rest of each export, mixed`
      : whole
        ? `${directory} holds the later export, whole (every file of it was moved in, and they match its manifest)`
        : `every file of the later export was moved out of ${p}, but ${directory} does not hold a whole export (its manifest is missing, or a file it lists is missing or differs): it holds files of each export, mixed`;
  return `${option}: a directory export into ${directory} stopped while it moved its files into place (it failed and could not undo that, or it was killed): ${replaced} holds the earlier export's files it had moved out (${earlier.shown}), their only copy; ${laterSaid}. Nothing was written. To keep the earlier export, move each of them back into ${directory} in place of the file of the same name (or elsewhere); then remove ${p}, and export again.`;
}

/**
 * Moves each of `names` (top-level entries of a complete export in `staging`) into `directory`,
 * in order, the entry of that name already there moved first into `<staging>/replaced/`. Renames
 * only, on one file system: no byte is written, so a full disk cannot stop it midway. If a rename
 * fails all the same, those done are undone, in reverse, and the error (AUDIT_ERR_IO) says so:
 * `directory` is then as it was. Once all are moved, `replaced/` is renamed `superseded/`
 * (see refuseOverLeftReplaced: a `replaced/` with files in it is one a swap left).
 */
function swapIn(directory: string, staging: string, names: readonly string[]): void {
  const replaced = path.join(staging, REPLACED);
  const done: Array<readonly [from: string, to: string]> = [];
  const move = (from: string, to: string): void => {
    fs.renameSync(from, to);
    done.push([from, to]);
  };
  try {
    fs.mkdirSync(replaced, { mode: 0o700 });
    for (const name of names) {
      const here = path.join(directory, name);
      if (fs.lstatSync(here, { throwIfNoEntry: false }) !== undefined) move(here, path.join(replaced, name));
      const next = path.join(staging, name);
      if (fs.lstatSync(next, { throwIfNoEntry: false }) !== undefined) move(next, here);
    }
  } catch (err) {
    undoSwap(err);
  }
  // (the earlier export, superseded: no longer what a failed swap left, and removed with the staging folder)
  try {
    fs.renameSync(replaced, path.join(staging, SUPERSEDED));
  } catch {
    // (left as it is, removed with the staging folder; killed before that, the next export there
    // finds this export whole in place and supersedes it then: see supersedeDone)
  }

  function undoSwap(err: unknown): never {
    let undone = true;
    for (const [from, to] of done.reverse()) {
      try {
        fs.renameSync(to, from);
      } catch {
        undone = false;
      }
    }
    const failed = new AuditIOError(
      `Moving the directory export into ${directory} failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): ${undone ? "the earlier files are back in place, as they were" : `the earlier files that could not be moved back are in ${replaced} (left there: move them back by hand; until then an export to ${directory} stops)`}.`,
      { cause: err },
    );
    if (!undone) keepsStaging.add(failed);
    throw failed;
  }
}

/**
 * `err` with the staging folder's path in its message replaced by the export directory's: a file
 * is named where the user would find it (the staging folder is gone once the export has failed).
 */
function namedInPlace(err: unknown, staging: string, directory: string): unknown {
  if (err instanceof Error && err.message.includes(staging)) {
    const message = err.message.split(staging).join(directory);
    Object.defineProperty(err, "message", { value: message, configurable: true, writable: true });
    if (typeof err.stack === "string") Object.defineProperty(err, "stack", { value: err.stack.split(staging).join(directory), configurable: true, writable: true });
  }
  return err;
}

/**
 * Writes each session's `audit_event` chain, as `lines` gives it, to `<dir>/integrity/` under the
 * name a directory's chain file has (sessions with none get no file). Returns the files written,
 * relative to `dir`.
 */
async function writeChainEvidence(dir: string, sessionIds: readonly string[], lines: (sessionId: string) => AsyncIterable<string>, option: string): Promise<string[]> {
  const out: string[] = [];
  for (const sessionId of sessionIds) {
    const name = kindFileName("audit_event", sessionId);
    const file = path.join(dir, EXPORT_INTEGRITY_DIR, name);
    // (written whole, as copyChainEvidence writes a directory's: see writeWholeSync; each line
    // whole or the export fails, naming the file, see appendWholeSync: until 2026-12-06 a last
    // line the disk cut short was renamed into place as written)
    const tmp = tempNameBeside(file);
    let fd: number | undefined;
    const writing = <T>(op: () => T): T => {
      try {
        return op();
      } catch (err) {
        throw exportWriteFailed(file, err);
      }
    };
    try {
      for await (const line of lines(sessionId)) {
        if (fd === undefined) {
          makeDirSync(path.join(dir, EXPORT_INTEGRITY_DIR), 0o700, option);
          fd = writing(() => fs.openSync(tmp, "wx", 0o600));
        }
        const to = fd;
        writing(() => appendWholeSync(to, Buffer.from(line + "\n", "utf8")));
      }
      if (fd !== undefined) {
        const to = fd;
        fd = undefined;
        writing(() => {
          fs.closeSync(to);
          fs.renameSync(tmp, file);
        });
        out.push(`${EXPORT_INTEGRITY_DIR}/${name}`);
      }
    } catch (err) {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }
  return out;
}

async function* oneChunk(text: string): AsyncGenerator<string> {
  yield text;
}
