import fs from "node:fs";
import path from "node:path";
import { encryptFile, sha256Hex } from "../pipeline/encrypt.js";
import type { EncryptionKey } from "../pipeline/keys.js";
import type { ContentFileRef, ContentFiles, Durability } from "../types.js";
import { COMPLETE_FLAGS, beginsWith, completable, contentDirRefusal, mayComplete, writeInThreadPool, writeOnContentThread } from "./content-thread.js";
import { CLAIM_OWNER_NAME, CLAIM_OWNER_SUFFIX, CONTENT_DIR, contentFileNames, safeJoin, safeReaddir } from "./files.js";
import { ID_PATTERN } from "../record/id.js";
import { claimOwnerGone, claimOwnerText, leftByGone, readText, removeIfStill } from "./lock.js";
import { NAME_PID, OWN_NAME_PID } from "./owner.js";

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
 * Claims an explicit interaction id for the chat being logged: makes this process the claim's
 * owner (its owner file, `manifest_<id>.json.claim`, created exclusively, naming host,
 * pid, kernel start and a nonce: see claimOwnerText), then creates the manifest empty and
 * exclusively (`wx`), at the call, before the record is made. True when claimed; false when the
 * id is taken (its manifest holds content, or another logger, in this process or another,
 * claimed it first and may be alive: a duplicate id); undefined when it could not be tried (the
 * content directory is refused, see contentDirRefusal, or the disk refused the file): the
 * content write then meets and reports the same. Found by the durability pass, 2026-12-06: the
 * id was checked with a stat and the files created later (`async`/`fsync` after the tick), so two
 * writers with one id both passed: both records were kept naming the same files, the second's
 * refused as existing (its record content_mismatch for good), and in `sync` mode a second prompt
 * the first began completed the first's file to its own bytes.
 *
 * A claim is taken over (see abandonedClaim) only when its owner is provably gone: a process of
 * this host that is not alive, or whose pid another process has now. Found by review,
 * 2026-12-06: a claim untouched for a minute was taken over, also a live writer's whose content
 * files the disk refused for that long (both then wrote the id). Another host's owner, which
 * cannot be asked, and a claim an older version made (an empty manifest with no owner file) are
 * judged by their age, as before.
 */
export function claimContentId(auditDir: string, id: string, mode: number): boolean | undefined {
  const file = safeJoin(auditDir, contentFileNames(id, false).manifest);
  if (contentDirRefusal(path.dirname(file))) return undefined;
  const owner = ownerFileOf(file);
  let took: OwnerTaken | undefined;
  try {
    took = takeOwner(owner, mode, (judged) => ownerAbandoned(owner, judged, Date.now()));
  } catch {
    return undefined;
  }
  if (took === undefined) return false;
  let fd: number;
  try {
    fd = fs.openSync(file, "wx", mode);
  } catch (err) {
    // an empty manifest under the name: the claim of the owner replaced above (gone), or an older
    // version's, without owner (by its age: see takenOverByAge); the content write fills the
    // empty file as it fills its own claim
    const st = (err as NodeJS.ErrnoException).code === "EEXIST" ? fs.lstatSync(file, { throwIfNoEntry: false }) : undefined;
    if (st !== undefined && emptyClaim(st) && (took.replaced || takenOverByAge(st))) return owned(owner, took.text);
    dropOwner(owner, took.text);
    return (err as NodeJS.ErrnoException).code === "EEXIST" ? false : undefined;
  }
  fs.closeSync(fd);
  return owned(owner, took.text);
}

/** How old an empty claim must be, when this process is older than it, to count as abandoned (see abandonedClaim). */
export const CLAIM_ABANDONED_MS = 60_000;

/** when this process began (ms since the epoch) */
const PROCESS_START_MS = performance.timeOrigin;

const ownerFileOf = (manifest: string): string => `${manifest}${CLAIM_OWNER_SUFFIX}`;
/** Where an owner file is set aside to be removed (see removeIfStill): a `.tmp` name, as a file written whole beside it. */
const asideOf = (owner: string): string => `${owner}.${OWN_NAME_PID}.${Math.random().toString(36).slice(2)}.tmp`;

/** The owner files of the claims this process made and still holds (the content not yet written), with their text. */
const ownClaims = new Map<string, string>();

interface OwnerTaken {
  /** the owner file's text, this process's */
  readonly text: string;
  /** another owner's file, judged abandoned, was removed first */
  readonly replaced: boolean;
}

/**
 * Makes this process the owner of a claim: creates its owner file `owner` exclusively (createOwner),
 * after removing one `abandoned` judges a gone owner's (only while it still is the file judged:
 * removeIfStill). Undefined when another owner holds it (or took it over meanwhile).
 */
function takeOwner(owner: string, mode: number, abandoned: (judged: string | undefined) => boolean): OwnerTaken | undefined {
  const text = claimOwnerText();
  let replaced = false;
  for (let tries = 0; tries < 3; tries++) {
    if (createOwner(owner, text, mode)) return { text, replaced };
    const judged = ownerText(owner);
    if (judged === undefined && fs.lstatSync(owner, { throwIfNoEntry: false }) === undefined) continue; // (given up meanwhile)
    if (!abandoned(judged)) return undefined;
    removeIfStill(owner, judged, asideOf(owner));
    replaced = true;
  }
  return undefined;
}

/**
 * Creates the owner file `owner` holding `text`, exclusively (`wx`, `mode` as the content files'); whether it did (false: there
 * is one). Written in place, not whole beside it then linked (createWhole: three more file
 * operations on the app's thread for every explicit-id chat; a claim's median measured 0.45–2.4 ms
 * so, 0.12–0.75 ms this way, on the 2-vCPU VM at load 13–18): one read while it is being
 * written, or left empty by a process killed at once, names no
 * process, and is judged by its age (see ownerAbandoned), so never taken over before
 * CLAIM_ABANDONED_MS.
 */
function createOwner(owner: string, text: string, mode: number): boolean {
  let fd: number;
  try {
    fd = fs.openSync(owner, "wx", mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return false;
  }
  try {
    fs.writeSync(fd, text);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(owner, { force: true });
    // The disk refuses the bytes (full, past a file-size limit: an outage of the content disk):
    // the owner is named by a symbolic link instead, its target the text (no file data, which
    // RLIMIT_FSIZE does not limit; created exclusively too). Left empty, the owner file named no
    // one, and a live writer's claim was judged by its age. Where no link can be made (Windows
    // without the privilege, a full disk), the claim is not made, as before.
    if (!OUTAGE_CODES.has((err as NodeJS.ErrnoException).code ?? "")) throw err;
    try {
      fs.symlinkSync(text, owner);
    } catch (linkErr) {
      if ((linkErr as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
    return true;
  }
  fs.closeSync(fd);
  return true;
}

/** The errors of a disk that refuses a file's bytes, not its creation (see createOwner). */
const OUTAGE_CODES = new Set(["ENOSPC", "EFBIG", "EDQUOT"]);

/**
 * The text of the owner file `owner` (see createOwner): a regular file's, or a symbolic link's
 * target (made when the disk refused the file's bytes); undefined when it is gone, unreadable, or
 * neither.
 */
function ownerText(owner: string): string | undefined {
  const st = fs.lstatSync(owner, { throwIfNoEntry: false });
  if (st?.isSymbolicLink()) {
    try {
      return fs.readlinkSync(owner);
    } catch {
      return undefined;
    }
  }
  return readText(owner);
}

/** Records the claim whose owner file `owner` holds `text` as this process's (see releaseOwnClaim); true. */
function owned(owner: string, text: string): true {
  ownClaims.set(owner, text);
  return true;
}

/** Removes the owner file `owner` while it still holds this process's `text`. */
function dropOwner(owner: string, text: string): void {
  ownClaims.delete(owner);
  removeIfStill(owner, text, asideOf(owner));
}

/** Gives up this process's ownership of the claim of `manifest` (its content written, or the claim released), if it has one. */
function releaseOwnClaim(manifest: string): void {
  const owner = ownerFileOf(manifest);
  const text = ownClaims.get(owner);
  if (text !== undefined) dropOwner(owner, text);
}

/**
 * Whether the owner file `owner`, read as `judged`, is a gone owner's: provably, when it names a
 * process of this host (claimOwnerGone); else (another host's, or unreadable) once it went
 * untouched for more than CLAIM_ABANDONED_MS.
 */
function ownerAbandoned(owner: string, judged: string | undefined, now: number): boolean {
  const gone = claimOwnerGone(judged);
  if (gone !== undefined) return gone;
  const st = fs.lstatSync(owner, { throwIfNoEntry: false });
  return st !== undefined && now - st.mtimeMs > CLAIM_ABANDONED_MS;
}

/** An empty claim without owner file (an older version's) taken over by its age: made before this process began or more than CLAIM_ABANDONED_MS ago. */
function takenOverByAge(st: fs.Stats): boolean {
  return st.mtimeMs < PROCESS_START_MS || Date.now() - st.mtimeMs > CLAIM_ABANDONED_MS;
}

/**
 * Whether `file`, an existing manifest, is a claim a gone process left: empty, a regular file of
 * one link, and its owner file names a gone owner (see ownerAbandoned), or, without owner file
 * (an older version's claim), it was made before this process began or more than
 * CLAIM_ABANDONED_MS ago. A process killed between the claim and the content write left the id
 * refused for good: the app's retry of the same interaction after a restart threw
 * AUDIT_ERR_VALIDATION (found by review, 2026-12-06). The logger refuses its own claims still in
 * flight itself.
 */
function abandonedClaim(file: string): boolean {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st === undefined || !emptyClaim(st)) return false;
  const owner = ownerFileOf(file);
  const judged = ownerText(owner);
  if (judged !== undefined || fs.lstatSync(owner, { throwIfNoEntry: false }) !== undefined) return ownerAbandoned(owner, judged, Date.now());
  return takenOverByAge(st);
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
 * How a cleanup, a process that is not the claim's and may have begun a moment ago, judges the
 * claim `file` (its manifest; lstat `st`, `ownerSt`: its owner file's, `judged` that file's text):
 * whether it is abandoned. A claim of the last CLAIM_ABANDONED_MS never is. With an owner file:
 * abandoned when it names a process of this host that is gone (claimOwnerGone), however many
 * writers live; one naming another host's process, or unreadable, as a claim without owner. A
 * claim without owner (an older version's) is abandoned once it is older than `liveSince`, when
 * the directory's earliest live writer took its session lock (undefined: none lives): a writer
 * claims ids only while it holds its lock, so a claim older than every live writer's lock is a
 * dead one's.
 */
function abandonedForCleanup(st: fs.Stats, ownerSt: fs.Stats | undefined, judged: string | undefined, now: number, liveSince: number | undefined): boolean {
  if (now - st.mtimeMs <= CLAIM_ABANDONED_MS) return false;
  const gone = ownerSt === undefined ? undefined : claimOwnerGone(judged);
  if (gone !== undefined) return gone;
  if (ownerSt !== undefined && now - ownerSt.mtimeMs <= CLAIM_ABANDONED_MS) return false;
  return liveSince === undefined || st.mtimeMs < liveSince - CLAIM_CLOCK_SLACK_MS;
}

/**
 * The claims in `auditDir`'s content directory that a cleanup removes (see abandonedForCleanup:
 * the takeover's rule, made safe for a process that is not the claim's): an empty manifest, a
 * regular file of one link, whose owner is gone; and an owner file left beside a manifest that
 * is no claim (its content written, or none made) by an owner that is gone; and what a takeover
 * or a removal of a claim set aside (CLAIM_ASIDE) and left, its process killed midway or the
 * file put back failing, once the process its name names is gone and it was renamed more than
 * CLAIM_ABANDONED_MS ago. A claim of a writer that lives is never among them, however old (its
 * content files refused by the disk for minutes). Names relative to the audit directory; none
 * through a content directory that is a link.
 */
export function abandonedClaims(auditDir: string, now: number, liveSince: number | undefined): string[] {
  const dir = path.join(auditDir, CONTENT_DIR);
  if (contentDirRefusal(dir)) return [];
  const out: string[] = [];
  const names = safeReaddir(dir);
  for (const name of names) {
    if (asideLeft(path.join(dir, name), now)) {
      out.push(`${CONTENT_DIR}/${name}`);
      continue;
    }
    const manifest = MANIFEST_NAME.exec(name);
    const id = (manifest ?? CLAIM_OWNER_NAME.exec(name))?.[1];
    if (id === undefined || !ID_PATTERN.test(id)) continue;
    const file = path.join(dir, `manifest_${id}.json`);
    const owner = ownerFileOf(file);
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    const claim = st !== undefined && emptyClaim(st);
    // (an owner file is named on its own only when its manifest is no claim)
    if (manifest ? !claim : claim) continue;
    const ownerSt = fs.lstatSync(owner, { throwIfNoEntry: false });
    if (!manifest && ownerSt === undefined) continue;
    if (!abandonedForCleanup(manifest ? st! : ownerSt!, ownerSt, ownerText(owner), now, liveSince)) continue;
    out.push(`${CONTENT_DIR}/${name}`);
  }
  return out.sort();
}

/**
 * Removes the abandoned claim `rel` (see abandonedClaims: a manifest, or an owner file left on
 * its own) while it still is one, judged again (`now`, `liveSince`: as abandonedClaims was) with
 * the claim held: this process first takes the id over as a logger would (takeOwner: the gone
 * owner's file removed only while it is still the one judged, then this process's created
 * exclusively), so no writer of this version claims the id meanwhile; then the empty manifest
 * is renamed aside, checked there (the same file, still empty, one link) and only then removed
 * (one written into meanwhile, by an older version's takeover, is put back, by a link: never
 * over a file made under the name since); then this process's owner file is removed. False when
 * nothing was removed. Found by review, 2026-12-06: the claim was judged, then looked at again
 * and removed if it was an empty file: a writer that took the claim over (or claimed the id
 * afresh) in between had its live claim removed, and a third then claimed the id too.
 */
export function removeAbandonedClaim(auditDir: string, rel: string, now: number, liveSince: number | undefined): boolean {
  const named = safeJoin(auditDir, rel);
  if (asideLeft(named, now)) {
    // (no process reaches it by this name: only the one that set it aside, gone)
    fs.rmSync(named, { force: true });
    return true;
  }
  const ownerOnly = named.endsWith(CLAIM_OWNER_SUFFIX);
  const file = ownerOnly ? named.slice(0, -CLAIM_OWNER_SUFFIX.length) : named;
  const owner = ownerFileOf(file);
  const judge = (ownerJudged: string | undefined): boolean => {
    const st = fs.lstatSync(ownerOnly ? owner : file, { throwIfNoEntry: false });
    return st !== undefined && abandonedForCleanup(st, fs.lstatSync(owner, { throwIfNoEntry: false }), ownerJudged, now, liveSince);
  };
  const took = takeOwner(owner, 0o600, judge);
  if (took === undefined) return false;
  try {
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (ownerOnly) return took.replaced && (st === undefined || !emptyClaim(st));
    if (st === undefined || !emptyClaim(st)) return false;
    // (without an owner file judged gone: an older version's claim, judged again by its age)
    if (!took.replaced && !abandonedForCleanup(st, undefined, undefined, now, liveSince)) return false;
    return removeEmptyClaim(file, st);
  } finally {
    dropOwner(owner, took.text);
  }
}

/**
 * What a takeover or a removal of an explicit id's claim sets aside to remove it (see asideOf,
 * removeEmptyClaim): `manifest_<id>.json.<pid>.<random>.tmp`, `manifest_<id>.json.claim.<pid>.<random>.tmp`; `$1`, the pid (NAME_PID).
 */
const CLAIM_ASIDE = new RegExp(String.raw`^manifest_[A-Za-z0-9_-]+\.json(?:\.claim)?\.(${NAME_PID})\.[0-9a-z]+\.tmp$`);

/** Whether `file` is a claim's file set aside (CLAIM_ASIDE) and left: by a process of this host that is gone (leftByGone), renamed (its ctime) more than CLAIM_ABANDONED_MS before `now`. */
function asideLeft(file: string, now: number): boolean {
  const pid = CLAIM_ASIDE.exec(path.basename(file))?.[1];
  if (pid === undefined) return false;
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  return st !== undefined && now - st.ctimeMs > CLAIM_ABANDONED_MS && leftByGone(file, pid);
}

/** Removes the empty claim `file` (lstat `before`) if, renamed aside, it is still that file and empty; else puts it back (see removeAbandonedClaim). */
function removeEmptyClaim(file: string, before: fs.Stats): boolean {
  const aside = `${file}.${OWN_NAME_PID}.${Math.random().toString(36).slice(2)}.tmp`;
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
 * manifest is there and is not a claim a gone process left, or its owner file is there (the
 * manifest on its way) and its owner may live.
 */
export function contentIdTaken(auditDir: string, id: string): boolean {
  const file = safeJoin(auditDir, contentFileNames(id, false).manifest);
  if (fs.existsSync(file)) return !abandonedClaim(file);
  const owner = ownerFileOf(file);
  return fs.lstatSync(owner, { throwIfNoEntry: false }) !== undefined && !ownerAbandoned(owner, ownerText(owner), Date.now());
}

/**
 * Gives a claim up (the chat's record was not made: see claimContentId): removes the manifest
 * while it is still the empty file the claim created, then this process's owner file.
 */
export function releaseContentClaim(auditDir: string, id: string): void {
  const file = safeJoin(auditDir, contentFileNames(id, false).manifest);
  try {
    const st = fs.lstatSync(file);
    if (st.isFile() && st.size === 0) fs.unlinkSync(file);
  } catch {
    // gone already, or not ours to remove: left (verify notes an orphan file)
  }
  releaseOwnClaim(file);
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
  // (the claim is the manifest's content now: its owner file goes, see claimContentId)
  if (c.claimed) releaseOwnClaim(files[2]![0]);
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
  const written = (threadPool ? undefined : writeOnContentThread(files, mode, sync, claimed)) ?? writeInThreadPool(files, mode, sync, false, claimed);
  // (the claim is the manifest's content now: its owner file goes; kept while the write fails, as
  // the claim of a writer that lives)
  return claimed === undefined ? written : written.then(() => releaseOwnClaim(claimed));
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
