import fs from "node:fs";
import path from "node:path";
import { encryptFile, sha256Hex } from "../pipeline/encrypt.js";
import type { EncryptionKey } from "../pipeline/keys.js";
import type { ContentFileRef, ContentFiles, Durability } from "../types.js";
import { COMPLETE_FLAGS, beginsWith, completable, contentDirRefusal, mayComplete, writeInThreadPool, writeOnContentThread } from "./content-thread.js";
import { CONTENT_DIR, contentFileNames, safeJoin, safeReaddir } from "./files.js";
import { ID_PATTERN } from "../record/id.js";

/** Additional data binding an encrypted content file to its interaction and role. */
export function fileAad(interactionId: string, role: "prompt" | "response"): string {
  return `audit-logger/v1|${interactionId}|${role}-file`;
}

export interface PreparedContent {
  readonly refs: ContentFiles;
  readonly prompt: Buffer;
  readonly response: Buffer;
  /** its manifest was created empty at the call, to claim an explicit id (see claimContentId): written into, not created */
  readonly claimed?: boolean;
}

/**
 * Claims an explicit interaction id for the chat being logged: creates its manifest empty and
 * exclusively (`wx`), at the call, before the record is made. True when claimed; false when the
 * manifest exists (the id has content files already, or another logger, in this process or
 * another, claimed it first: a duplicate id); undefined when it could not be tried (the content
 * directory is refused, see contentDirRefusal, or the disk refused the file): the content write
 * then meets and reports the same. Found by the durability pass, 2026-12-06: the id was checked
 * with a stat and the files created later (`async`/`fsync` after the tick), so two writers with
 * one id both passed: both records were kept naming the same files, the second's refused as
 * existing (its record content_mismatch for good), and in `sync` mode a second prompt the first
 * began completed the first's file to its own bytes.
 */
export function claimContentId(auditDir: string, id: string, mode: number): boolean | undefined {
  const file = safeJoin(auditDir, contentFileNames(id, false).manifest);
  if (contentDirRefusal(path.dirname(file))) return undefined;
  let fd: number;
  try {
    fd = fs.openSync(file, "wx", mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") return undefined;
    // a claim a process that died left (see abandonedClaim) is taken over: the content write
    // fills the empty file as it fills its own claim
    return abandonedClaim(file);
  }
  fs.closeSync(fd);
  return true;
}

/** How old an empty claim must be, when this process is older than it, to count as abandoned (see abandonedClaim). */
export const CLAIM_ABANDONED_MS = 60_000;

/** when this process began (ms since the epoch) */
const PROCESS_START_MS = performance.timeOrigin;

/**
 * Whether `file`, an existing manifest, is a claim a dead process left: empty, a regular file of
 * one link, made before this process began or more than CLAIM_ABANDONED_MS ago (a live writer
 * fills its claim within milliseconds of the call, unless the disk refuses its content files
 * meanwhile). A process killed between the claim and the content write left the id refused for
 * good: the app's retry of the same interaction after a restart threw AUDIT_ERR_VALIDATION
 * (found by review, 2026-12-06). The logger refuses its own claims still in flight itself.
 */
function abandonedClaim(file: string): boolean {
  try {
    const st = fs.lstatSync(file);
    return emptyClaim(st) && (st.mtimeMs < PROCESS_START_MS || Date.now() - st.mtimeMs > CLAIM_ABANDONED_MS);
  } catch {
    return false;
  }
}

/** A claim not written into (see claimContentId): an empty regular file of one link. */
function emptyClaim(st: fs.Stats): boolean {
  return st.isFile() && st.size === 0 && st.nlink === 1;
}

/** A manifest's name in the content directory; `$1`, its interaction id. */
const MANIFEST_NAME = /^manifest_(.+)\.json$/;
/** Slack for the clocks' resolution when a claim is compared with a writer's start. */
const CLAIM_CLOCK_SLACK_MS = 1_000;

/**
 * The claims in `auditDir`'s content directory that a cleanup removes (see abandonedClaim: the
 * takeover's rule, made safe for a process that is not the claim's): an empty manifest, a regular
 * file of one link, last touched more than CLAIM_ABANDONED_MS before `now` and before
 * `liveSince`, when the directory's earliest live writer took its session lock (undefined: none
 * lives). A writer claims ids only while it holds its lock, so a claim older than every live
 * writer's lock is a dead one's; the takeover's "made before this process began" is no proof for
 * a cleanup, which may have begun a moment ago. A claim of a writer that lives is never among
 * them, however old (its content files refused by the disk for minutes): nor, so, is a dead
 * writer's that a live one that began before it outlives (the next cleanup after that one ends).
 * Names relative to the audit directory; none through a content directory that is a link.
 */
export function abandonedClaims(auditDir: string, now: number, liveSince: number | undefined): string[] {
  const dir = path.join(auditDir, CONTENT_DIR);
  if (contentDirRefusal(dir)) return [];
  const out: string[] = [];
  for (const name of safeReaddir(dir)) {
    const id = MANIFEST_NAME.exec(name)?.[1];
    if (id === undefined || !ID_PATTERN.test(id)) continue;
    const st = fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false });
    if (st === undefined || !emptyClaim(st) || now - st.mtimeMs <= CLAIM_ABANDONED_MS) continue;
    if (liveSince !== undefined && st.mtimeMs >= liveSince - CLAIM_CLOCK_SLACK_MS) continue;
    out.push(`${CONTENT_DIR}/${name}`);
  }
  return out.sort();
}

/**
 * Removes the abandoned claim `rel` (see abandonedClaims) while it still is the empty file judged:
 * renamed aside first (a new claim of the id, or the takeover's write through the thread pool,
 * then creates the file afresh), checked there (the same file, still empty, one link) and only
 * then removed; one written into meanwhile is put back (by a link: never over a file made under
 * the name since). False when it was not removed.
 */
export function removeAbandonedClaim(auditDir: string, rel: string): boolean {
  const file = safeJoin(auditDir, rel);
  const aside = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const before = fs.lstatSync(file, { throwIfNoEntry: false });
  if (before === undefined || !emptyClaim(before)) return false;
  try {
    fs.renameSync(file, aside);
  } catch {
    return false;
  }
  const st = fs.lstatSync(aside);
  if (st.ino === before.ino && st.dev === before.dev && emptyClaim(st)) {
    fs.unlinkSync(aside);
    return true;
  }
  try {
    fs.linkSync(aside, file);
  } catch {
    // a file made under the name meanwhile keeps it; this one stays aside (see cleanup's temp files)
    return false;
  }
  fs.unlinkSync(aside);
  return false;
}

/**
 * Whether interaction `id` has content files here, or a live claim (see claimContentId): its
 * manifest is there and is not a claim a dead process left.
 */
export function contentIdTaken(auditDir: string, id: string): boolean {
  const file = safeJoin(auditDir, contentFileNames(id, false).manifest);
  return fs.existsSync(file) && !abandonedClaim(file);
}

/**
 * Gives a claim up (the chat's record was not made: see claimContentId): removes the manifest
 * while it is still the empty file the claim created.
 */
export function releaseContentClaim(auditDir: string, id: string): void {
  const file = safeJoin(auditDir, contentFileNames(id, false).manifest);
  try {
    const st = fs.lstatSync(file);
    if (st.isFile() && st.size === 0) fs.unlinkSync(file);
  } catch {
    // gone already, or not ours to remove: left (verify notes an orphan file)
  }
}

/** Encrypts (when keyed) and digests a chat's full content; nothing touches the disk yet. */
export function prepareContent(id: string, promptText: string, responseText: string, key: EncryptionKey | undefined): PreparedContent {
  const names = contentFileNames(id, key !== undefined);
  const encode = (text: string, role: "prompt" | "response") => {
    const plain = Buffer.from(text, "utf8");
    return key ? encryptFile(key, plain, fileAad(id, role)) : plain;
  };
  const prompt = encode(promptText, "prompt");
  const response = encode(responseText, "response");
  const ref = (file: string, data: Buffer): ContentFileRef => ({ file, bytes: data.length, sha256: sha256Hex(data) });
  return { refs: { prompt: ref(names.prompt, prompt), response: ref(names.response, response), manifest: names.manifest }, prompt, response };
}

export interface ContentManifest {
  readonly interactionId: string;
  readonly sessionId: string;
  /** the chat record's chain hash */
  readonly recordHash: string;
  readonly encrypted: boolean;
  readonly keyId?: string;
  readonly files: { readonly prompt: ContentFileRef; readonly response: ContentFileRef };
  readonly createdAt: string;
}

function manifestBytes(c: PreparedContent, m: Omit<ContentManifest, "files">): Buffer {
  const body: ContentManifest = { ...m, files: { prompt: c.refs.prompt, response: c.refs.response } };
  return Buffer.from(JSON.stringify(body, null, 2) + "\n", "utf8");
}

/**
 * Writes the content files synchronously: in `sync` mode before the record line, elsewhere as
 * back-pressure, and from the exit hook for the writes still under way off the app's thread. A
 * file that exists already is never truncated (the exit hook's write used to be `w`: a file the
 * content thread had finished was cut to nothing, and lost if the hook's own write then failed;
 * found by review, 2026-12-03): one holding these bytes is kept (fdatasync'ed in `fsync` mode),
 * one holding their beginning (a write under way, or the empty manifest of a claim, see
 * claimContentId) is completed at the same positions, and one holding other bytes is refused
 * with EEXIST.
 */
export function writeContentSync(auditDir: string, c: PreparedContent, m: Omit<ContentManifest, "files">, mode: number, durability: Durability): void {
  const sync = durability === "fsync";
  const files = contentFiles(auditDir, c, m);
  // (never through a link at the content directory: see contentDirRefusal)
  const refused = contentDirRefusal(path.dirname(files[0]![0]));
  if (refused) throw refused;
  // every file is tried; the first failure is thrown after
  let failed: unknown;
  for (const [file, data] of files) {
    try {
      writeFileCompleting(file, data, mode, sync);
    } catch (err) {
      failed ??= err;
    }
  }
  if (failed !== undefined) throw failed;
}

/**
 * An existing content file opened to be kept or completed, and how many bytes of `data` it holds
 * already; undefined when it is not this write's to touch (see `completable`, `mayComplete`: a
 * link planted in the content directory must not lead this write out of the audit directory,
 * `safeJoin` only checks the path's text). Every descriptor it opens and does not return is closed.
 */
function openToComplete(file: string, data: Uint8Array): { fd: number; held: number } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, COMPLETE_FLAGS);
  } catch {
    return undefined; // a symlink (ELOOP), or gone
  }
  try {
    const st = fs.fstatSync(fd);
    if (completable(st, fs.lstatSync(file), data)) {
      const held = Buffer.alloc(st.size);
      let n = 0;
      while (n < held.length) {
        const got = fs.readSync(fd, held, n, held.length - n, n);
        if (got === 0) break; // shorter than it said: changing under us
        n += got;
      }
      if (n === held.length && beginsWith(held, data) && mayComplete(st, n, data)) return { fd, held: n };
    }
  } catch {
    // unreadable: not this write's either
  }
  fs.closeSync(fd);
  return undefined;
}

function writeFileCompleting(file: string, data: Uint8Array, mode: number, sync: boolean): void {
  let fd: number;
  let from = 0;
  try {
    fd = fs.openSync(file, "wx", mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const existing = openToComplete(file, data);
    if (!existing) throw err;
    ({ fd, held: from } = existing);
    if (from === data.length && !sync) {
      fs.closeSync(fd);
      return;
    }
  }
  try {
    while (from < data.length) from += fs.writeSync(fd, data, from, data.length - from, from);
    if (sync) fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes the content files off the app's thread (on the content-writer thread, see
 * content-thread.ts; where that cannot run, through libuv's thread pool); in `fsync` mode each
 * is fdatasync'ed. Files are created exclusively (`wx`): when the process exits with this write
 * under way, the exit hook writes the same files synchronously, and an `open` that came after it
 * must not truncate them (the process may end before this write's data follows). Refused as
 * existing, this write rejects with EEXIST. When it opened first, the hook's write and its own
 * lay down the same bytes.
 */
export function writeContent(
  auditDir: string,
  c: PreparedContent,
  m: Omit<ContentManifest, "files">,
  mode: number,
  durability: Durability,
  /** through libuv's thread pool, as where the content-writer thread cannot run (the tests) */
  threadPool = false,
): Promise<void> {
  let files: Array<readonly [string, Buffer]>;
  try {
    files = contentFiles(auditDir, c, m);
  } catch (err) {
    return Promise.reject(err);
  }
  const sync = durability === "fsync";
  // (a claimed manifest, created empty at the call, is written into: see claimContentId)
  const claimed = c.claimed ? files[2]![0] : undefined;
  return (threadPool ? undefined : writeOnContentThread(files, mode, sync, claimed)) ?? writeInThreadPool(files, mode, sync, false, claimed);
}

/** Each content file's path and bytes (paths and bytes first: a path that cannot be built starts no write). */
function contentFiles(auditDir: string, c: PreparedContent, m: Omit<ContentManifest, "files">): Array<readonly [string, Buffer]> {
  return [
    [safeJoin(auditDir, c.refs.prompt.file), c.prompt],
    [safeJoin(auditDir, c.refs.response.file), c.response],
    [safeJoin(auditDir, c.refs.manifest), manifestBytes(c, m)],
  ];
}

export function contentDirOf(auditDir: string): string {
  return path.join(auditDir, "full_interactions");
}
