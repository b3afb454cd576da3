import fs from "node:fs";
import path from "node:path";
import { AuditPathError } from "../errors.js";
import { SESSION_ID_PATTERN } from "../config/schema.js";
import { ID_PATTERN } from "../record/id.js";
import { KIND_FILE_STEM, RECORD_KINDS, type ChainKind } from "../types.js";
import { isInside } from "../path-inside.js";
import { isRegularFileSync, openRegularSync } from "../regular-file.js";

export const CONTENT_DIR = "full_interactions";

/** Joins `name` under `dir` and refuses any result outside `dir`. */
export function safeJoin(dir: string, name: string): string {
  const full = path.resolve(dir, name);
  // (the directory itself is no file in it)
  if (path.relative(dir, full) === "" || !isInside(dir, full)) {
    throw new AuditPathError(`Refusing path "${name}": it would leave the audit directory ${dir}.`);
  }
  return full;
}

/**
 * Whether `sessionId` can name the kit's files: 1-128 of `[A-Za-z0-9._-]`, not "." or "..", not
 * ending in ".<digits>" (that suffix names rotated segments). Looser than the configuration's
 * `sessionIdSchema` ("all" and "session" name files of sessions written before it refused them).
 */
export function isFileSessionId(sessionId: string): boolean {
  return SESSION_ID_PATTERN.test(sessionId) && sessionId !== "." && sessionId !== ".." && !/\.\d+$/.test(sessionId);
}

function checkSession(sessionId: string): void {
  if (!isFileSessionId(sessionId)) {
    throw new AuditPathError(`"${sessionId}" is not a valid sessionId (1-128 of [A-Za-z0-9._-], not "." or "..", not ending in ".<digits>").`);
  }
}

export function kindFileName(kind: ChainKind, sessionId: string, segment?: number): string {
  checkSession(sessionId);
  const stem = `${KIND_FILE_STEM[kind]}_${sessionId}`;
  return segment === undefined ? `${stem}.jsonl` : `${stem}.${segment}.jsonl`;
}

/**
 * The most a reader takes of a `session_<id>.json` (64 MiB): the kit writes a few KiB there (the
 * summary, the config, the custom metadata). A larger one was read whole at every session listing
 * (`serve`'s, `summary`'s): 2 GB and 24 s for a sparse file of a few KiB on disk (found by review,
 * 2026-12-05). A longer one is read as no session file (status "unknown").
 */
export const SESSION_FILE_MAX_BYTES = 64 * 1024 * 1024;

export function sessionFileName(sessionId: string): string {
  checkSession(sessionId);
  return `session_${sessionId}.json`;
}

export function lockFileName(sessionId: string): string {
  checkSession(sessionId);
  return `.session_${sessionId}.lock`;
}

/** Relative (to the audit directory) names of a chat's content files. */
export function contentFileNames(interactionId: string, encrypted: boolean) {
  if (!ID_PATTERN.test(interactionId)) throw new AuditPathError(`"${interactionId}" is not a valid interaction id.`);
  const ext = encrypted ? ".txt.enc" : ".txt";
  return {
    prompt: `${CONTENT_DIR}/prompt_${interactionId}${ext}`,
    response: `${CONTENT_DIR}/response_${interactionId}${ext}`,
    manifest: `${CONTENT_DIR}/manifest_${interactionId}.json`,
  };
}

/**
 * What an explicit id's claim is owned through, past its manifest's name (see claimContentId in
 * content.ts): `manifest_<id>.json.claim`, naming the claiming process. No content: the verifier
 * passes it by, as it does a `.tmp` file.
 */
export const CLAIM_OWNER_SUFFIX = ".claim";
/** A claim's owner file's name in the content directory (see CLAIM_OWNER_SUFFIX); `$1`, the id. */
export const CLAIM_OWNER_NAME = /^manifest_(.+)\.json\.claim$/;

export interface KindFile {
  readonly path: string;
  readonly name: string;
  /** segment number, or undefined for the active file */
  readonly segment: number | undefined;
}

/**
 * The files of one kind of one session in chain order: segments 1..n, then the active file.
 * A name like `tool_usage_a.1.jsonl` is segment 1 of session "a" or the active file of session
 * "a.1"; the first record's `sessionId` decides. A name that is not a regular file (a link, a
 * FIFO, a directory) is left out: no reader opens it (the verifier reports it: see
 * {@link irregularFiles}).
 *
 * `after`: segments numbered `after` or below are left out, and their files are not opened. A
 * reader that has them already lists again at the cost of the directory's names and of the new
 * segments only: each segment opened costs an open and a read of its first line (the owner check
 * above), and a walk that listed every segment again each time it met a rotation (walkChain
 * until 2026-12-05) could not keep up with a logger rotating every few milliseconds.
 */
export function listKindFiles(auditDir: string, kind: ChainKind, sessionId: string, names?: readonly string[], after = 0): KindFile[] {
  const stem = `${KIND_FILE_STEM[kind]}_${sessionId}`;
  const all = names ?? safeReaddir(auditDir);
  const segments: KindFile[] = [];
  let active: KindFile | undefined;
  // the newest segment name numbered `after` or below (left out unopened), for the check below
  let below: { name: string; segment: number } | undefined;
  for (const name of all) {
    if (!name.startsWith(stem) || !name.endsWith(".jsonl")) continue;
    const rest = name.slice(stem.length, -".jsonl".length);
    if (rest === "") {
      if (isRegularFileSync(path.join(auditDir, name))) active = { path: path.join(auditDir, name), name, segment: undefined };
      continue;
    }
    const m = /^\.(\d+)$/.exec(rest);
    if (!m) continue;
    const segment = Number(m[1]);
    if (segment <= after) {
      if (!below || segment > below.segment) below = { name, segment };
      continue;
    }
    const full = path.join(auditDir, name);
    if (!isRegularFileSync(full)) continue;
    const owner = firstSessionId(full);
    if (owner !== undefined && owner !== sessionId) continue;
    segments.push({ path: full, name, segment });
  }
  segments.sort((a, b) => (a.segment ?? 0) - (b.segment ?? 0));
  const newest = segments.at(-1)?.path ?? (below && isRegularFileSync(path.join(auditDir, below.name)) ? path.join(auditDir, below.name) : undefined);
  if (active && interruptedRotation(active.path, newest)) return segments;
  return active ? [...segments, active] : segments;
}

/**
 * Whether the active file is the newest segment itself: a rotation links the active file to the
 * segment's name, then unlinks the active name, and a crash between the two leaves both names on
 * one file. That file is the segment (the active name is left out, and the next writer removes
 * it); read twice, its records were a broken chain, and a writer appending to it wrote into the
 * segment too (found by review, 2026-12-04).
 */
export function interruptedRotation(activePath: string, newestSegment: string | undefined): boolean {
  if (newestSegment === undefined) return false;
  try {
    const a = fs.statSync(activePath);
    if (a.nlink < 2) return false;
    const b = fs.statSync(newestSegment);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** The names of `sorted` (in code-unit order, as `Array.prototype.sort` leaves strings) that start with `prefix`. */
export function withPrefix(sorted: readonly string[], prefix: string): string[] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < prefix) lo = mid + 1;
    else hi = mid;
  }
  const out: string[] = [];
  for (let i = lo; i < sorted.length && sorted[i]!.startsWith(prefix); i++) out.push(sorted[i]!);
  return out;
}

export function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/**
 * One buffer for every {@link firstSessionId} (synchronous, so never shared by two calls at once):
 * a zero-filled 64 KiB buffer per file was most of a listing's cost, which opens each segment
 * (bench/walk.ts).
 */
const FIRST_BYTES = Buffer.alloc(65536);

/** The `sessionId` of a file's first record, read from its first 64 KiB. */
export function firstSessionId(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openRegularSync(file);
    const n = fs.readSync(fd, FIRST_BYTES, 0, FIRST_BYTES.length, 0);
    // (the first line's bytes only are decoded: a newline byte is never inside a UTF-8 character)
    const nl = FIRST_BYTES.subarray(0, n).indexOf(0x0a);
    const m = /"sessionId":"([A-Za-z0-9._-]{1,128})"/.exec(FIRST_BYTES.toString("utf8", 0, nl >= 0 ? nl : n));
    return m?.[1];
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Every session that has (regular) files in the directory (listed as `names`, when the caller has
 * its listing). Only ids that can name files ({@link isFileSessionId}): a file whose name or first
 * record names another ("x.1", "..") is left out (see {@link invalidSessionFiles}).
 */
export function listSessionIds(auditDir: string, names?: readonly string[]): string[] {
  return scanSessions(auditDir, names).ids;
}

/**
 * Whether {@link listSessionIds} lists `sessionId`, from that session's own files where they say
 * so: its session file, or one of its record files (`<kind>_<id>.jsonl`) whose first record names
 * it or no session (each a regular file; as the listing judges them). Otherwise (no such file: an
 * unknown id, a session whose records are gone, one whose only record files are rotated segments,
 * or a file another session's name whose first record names it) the answer is the listing's own.
 * What `serve` asks on every request for a session: judging the whole directory each time took
 * ~70 ms a request at 605 sessions (found 2026-12-05); a session the listing lists by its own
 * files now costs a few `lstat` calls, whatever the directory holds.
 */
export function hasSessionId(auditDir: string, sessionId: string): boolean {
  if (!isFileSessionId(sessionId)) return false;
  if (isRegularFileSync(path.join(auditDir, sessionFileName(sessionId)))) return true;
  for (const kind of RECORD_KINDS) {
    const file = path.join(auditDir, kindFileName(kind, sessionId));
    if (!isRegularFileSync(file)) continue;
    const owner = firstSessionId(file);
    if (owner === undefined || owner === sessionId) return true;
  }
  return listSessionIds(auditDir).includes(sessionId);
}

/**
 * The files of the directory that name (by their own name, or by their first record's
 * `sessionId`) a session id no file of the kit can have ({@link isFileSessionId}): an empty
 * `session_x.1.json`, an `errors_x.1.jsonl` whose first record names session "x.1". The kit never
 * writes one; `listSessionIds` leaves them out, so no reader opens them (the verifier reports them:
 * `session_id_invalid`). Until 2026-12-05 they were listed, and verify, the viewer's queries over
 * all sessions, export, summary, report and cleanup threw `AuditPathError` on them (found by
 * review). Given a session, only the names of that session's files (`errors_<id>.1.jsonl`).
 */
export function invalidSessionFiles(auditDir: string, sessionId?: string): Array<{ name: string; sessionId: string }> {
  return scanSessions(auditDir).invalid.filter((f) => sessionId === undefined || isAuditFileName(f.name, sessionId));
}

function scanSessions(auditDir: string, listed?: readonly string[]): { ids: string[]; invalid: Array<{ name: string; sessionId: string }> } {
  // (each name judged a regular file only where it counts: a session file, and a record file
  // whose session is not listed yet; every name of the directory was lstat'ed first, ~60 ms of a
  // serve 404's CPU at 2,000 sessions of 8 files, whose record files are skipped as their session
  // files list them; found 2026-12-06. The same answers: a name that is no regular file is never
  // taken)
  const names = listed ?? safeReaddir(auditDir);
  const regular = (name: string): boolean => isRegularFileSync(path.join(auditDir, name));
  const ids = new Set<string>();
  const invalid: Array<{ name: string; sessionId: string }> = [];
  const take = (name: string, id: string): void => {
    if (isFileSessionId(id)) ids.add(id);
    else invalid.push({ name, sessionId: id });
  };
  for (const name of names) {
    const s = /^session_(.+)\.json$/.exec(name);
    if (s && SESSION_ID_PATTERN.test(s[1]!) && regular(name)) take(name, s[1]!);
  }
  for (const kind of RECORD_KINDS) {
    const prefix = `${KIND_FILE_STEM[kind]}_`;
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(".jsonl")) continue;
      const rest = name.slice(prefix.length, -".jsonl".length);
      if (ids.has(rest) || !regular(name)) continue;
      const owner = firstSessionId(path.join(auditDir, name));
      if (owner !== undefined) take(name, owner);
      else if (!/\.\d+$/.test(rest) && SESSION_ID_PATTERN.test(rest)) take(name, rest);
    }
  }
  return { ids: [...ids].sort(), invalid: invalid.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}

/** Name stems of the files the kit keeps per session (`<stem>_<sessionId>…`), other than the chains'. */
const SESSION_FILE_STEMS = ["session", "checkpoints", "subject_keys"] as const;

/** Whether `name` is named like a file the kit writes per session: a chain file (or segment), a session file, checkpoints, a key store. */
function isAuditFileName(name: string, sessionId?: string): boolean {
  const stems = [...Object.values(KIND_FILE_STEM), ...SESSION_FILE_STEMS];
  for (const stem of stems) {
    const ext = stem === "session" ? ".json" : ".jsonl";
    if (!name.startsWith(`${stem}_`) || !name.endsWith(ext)) continue;
    if (sessionId === undefined) return true;
    const rest = name.slice(stem.length + 1, -ext.length);
    if (rest === sessionId || (ext === ".jsonl" && stem !== "checkpoints" && stem !== "subject_keys" && rest.startsWith(sessionId) && /^\.\d+$/.test(rest.slice(sessionId.length)))) return true;
  }
  return false;
}

/** Whether `file` is there and is no regular file (a link included); false when it is gone. */
function isPresentIrregular(file: string): boolean {
  try {
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    return st !== undefined && !st.isFile();
  } catch {
    return true; // (there, but not even its type can be read)
  }
}

/**
 * The names of the directory (of one session, when given) named like a file the kit writes per
 * session that are not regular files: symbolic links, FIFOs, directories, devices. The readers
 * never open them (listings leave them out); the verifier reports them (`file_not_regular`).
 */
export function irregularFiles(auditDir: string, sessionId?: string): string[] {
  return safeReaddir(auditDir)
    // (one gone since the listing is not irregular: a live logger's rotation renames its active
    // file and opens a new one, and verify of a live session reported the active file as "not a
    // regular file" when it looked in between; rotation-churn.test.ts, seen under load 2026-12-05)
    .filter((name) => isAuditFileName(name, sessionId) && isPresentIrregular(path.join(auditDir, name)))
    .sort();
}

/**
 * What tells one state of a file from another for a cache of what was read of it: size, mtime,
 * ctime (a file rewritten in place with its mtime set back) and inode (a file replaced), to the
 * nanosecond. Taken before the read: a file that grows meanwhile is read again next time.
 */
export function fileStamp(st: fs.BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
}
