import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { appendWholeSync, openRegularForAppendReadSync, openRegularSync, readRegularFileSync, syncDirectorySync, writeNewFileSync, writeRegularFileSync } from "../regular-file.js";
import fs from "node:fs";
import path from "node:path";
import { AuditIOError, AuditKeyError } from "../errors.js";
import { reason } from "../error-type.js";
import { safeReaddir } from "../sink/files.js";
import { holdsDirLock, takeDirLock } from "../sink/dir-lock.js";
import { fresh, sleepSync } from "../sink/lock.js";
import { OWN_NAME_PID } from "../sink/owner.js";
import { makeEncryptionKey, type EncryptionKey } from "./keys.js";
import { changedSince, readShreds, sameMark, shredMark, shredSince, type PlacedShred, type ShredMark, type ShredOnDisk } from "./shred-order.js";

/**
 * Envelope encryption. Every subject (a `userId`, or the session when a record has none) gets a
 * random 256-bit data key; records and content files are encrypted under it, and the data key is
 * stored wrapped (AES-256-GCM) by the master key in `subject_keys_<sessionId>.jsonl`. Destroying
 * a subject's wrapped data keys (crypto-shredding) leaves its ciphertexts, hashes and chains in
 * place but unreadable. The master keys themselves are a keyring: the first encrypts, all decrypt.
 */
export const KEY_STORE_PREFIX = "subject_keys_";

export function keyStoreFileName(sessionId: string): string {
  return `${KEY_STORE_PREFIX}${sessionId}.jsonl`;
}

interface WrappedKey {
  /** data key id: "d" + 16 hex */
  kid: string;
  /** HMAC-SHA-256 of the subject under the master key's hash key (never the userId itself) */
  subject: string;
  /** master key that wraps it */
  wrappedBy: string;
  iv: string;
  ct: string;
  createdAt: string;
}

function wrapAad(kid: string): Buffer {
  return Buffer.from(`audit-logger/v1|data-key|${kid}`, "utf8");
}

/** The stored form of a subject's name: an HMAC, so the key store reveals no user ids. */
export function subjectTag(master: EncryptionKey, subject: string): string {
  return createHmac("sha256", master.hashKey).update("subject\0").update(subject).digest("hex").slice(0, 32);
}

function wrap(master: EncryptionKey, kid: string, dataKey: Buffer): { iv: string; ct: string } {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", master.key, iv);
  c.setAAD(wrapAad(kid));
  const ct = Buffer.concat([c.update(dataKey), c.final(), c.getAuthTag()]);
  return { iv: iv.toString("base64"), ct: ct.toString("base64") };
}

function unwrap(master: EncryptionKey, w: WrappedKey): Buffer {
  const data = Buffer.from(w.ct, "base64");
  const d = createDecipheriv("aes-256-gcm", master.key, Buffer.from(w.iv, "base64"));
  d.setAAD(wrapAad(w.kid));
  d.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]);
}

function readStore(file: string): WrappedKey[] {
  return readKeyStore(file).keys;
}

/** A key store file's wrapped keys and its tombstones (see {@link KeyTombstone}), in one reading. */
export function readKeyStore(file: string): { keys: WrappedKey[]; tombstones: KeyTombstone[] } {
  let text: string;
  try {
    text = readRegularFileSync(file).toString("utf8");
  } catch {
    return { keys: [], tombstones: [] }; // no store (yet); a link or a FIFO is never read
  }
  const { keys, tombstones } = parseKeyStore(text);
  return { keys: withoutTombstoned(keys, tombstones), tombstones };
}

/**
 * The keys no tombstone of the store names: a tombstone beats a key line of the same id,
 * wherever it stands (a writer racing a shred may append its key again after the shred
 * destroyed it; found by review, 2026-12-04).
 */
function withoutTombstoned(keys: WrappedKey[], tombstones: readonly KeyTombstone[]): WrappedKey[] {
  if (tombstones.length === 0) return keys;
  const dead = new Set(tombstones.map((t) => t.kid));
  return keys.filter((k) => !dead.has(k.kid));
}

/**
 * Every key line and tombstone of key store text, as written (key lines a tombstone names
 * included: see withoutTombstoned); its unterminated last line, if any, skipped.
 */
function parseKeyStore(text: string): { keys: WrappedKey[]; tombstones: KeyTombstone[] } {
  const keys: WrappedKey[] = [];
  const tombstones: KeyTombstone[] = [];
  const lines = text.split("\n");
  lines.pop(); // after the last newline: empty, or a torn line
  for (const l of lines) {
    let w: Partial<WrappedKey> & { shreddedAt?: unknown };
    try {
      w = JSON.parse(l) as typeof w;
    } catch {
      continue; // a torn line from a crash: that key was never used (records are written after their key)
    }
    if (typeof w !== "object" || w === null || typeof w.kid !== "string") continue;
    if (typeof w.ct === "string") keys.push(w as WrappedKey);
    else if (typeof w.shreddedAt === "string") tombstones.push({ kid: w.kid, shreddedAt: w.shreddedAt });
  }
  return { keys, tombstones };
}

/**
 * The key lines of key store text, each with its id, exactly as written (the PostgreSQL sink
 * stores them so: see `audit_subject_keys`); tombstones, torn and foreign lines skipped.
 */
export function keyStoreLines(text: string): Array<{ kid: string; line: string }> {
  const out: Array<{ kid: string; line: string }> = [];
  const lines = text.split("\n");
  lines.pop(); // after the last newline: empty, or a torn line
  for (const line of lines) {
    const { keys } = parseKeyStore(line + "\n");
    const w = keys[0];
    if (w && typeof w.iv === "string" && typeof w.wrappedBy === "string") out.push({ kid: w.kid, line });
  }
  return out;
}

/** Whether two stats name the same file (a store's path may have been renamed over meanwhile). */
function sameFile(a: fs.Stats | undefined, b: fs.Stats): boolean {
  return a !== undefined && a.ino === b.ino && a.dev === b.dev;
}

/**
 * Wrapped data keys kept outside an audit directory: the PostgreSQL store's `audit_subject_keys`
 * (see PostgresRecordSource.storedKeys). `line(kid)`: the key's key store line, null when the key
 * was shredded there, undefined when it is not known there.
 */
export interface StoredKeyLines {
  line(kid: string): string | null | undefined;
  /** why the store's key table cannot be read by this reader (its role may not SELECT there), if so */
  unreadable?(): string | undefined;
}

/** A wrapped key from a stored key store line, checked to be the key `kid`'s. */
function storedKey(kid: string, line: string): WrappedKey {
  let w: Partial<WrappedKey> | undefined;
  try {
    w = JSON.parse(line) as Partial<WrappedKey>;
  } catch {
    w = undefined;
  }
  if (typeof w !== "object" || w === null || w.kid !== kid || typeof w.iv !== "string" || typeof w.ct !== "string" || typeof w.wrappedBy !== "string") {
    throw new AuditKeyError(`Data key ${kid} could not be unwrapped: its stored form was altered (the store's audit_subject_keys row is not a key line of that id).`);
  }
  return w as WrappedKey;
}

/**
 * A keyring over master keys (first = current) that can open data keys from the key stores of
 * an audit directory, and from `stored` (the PostgreSQL store's key table) for a key the
 * directory does not hold (the directory wins: a key it holds a tombstone of is shredded). It is
 * an `EncryptionKey` (the current master) whose `resolve` finds any other key id: an older master
 * key, or a data key (unwrapped on first use, then cached while its store still holds it).
 */
export function openKeyring(masters: readonly EncryptionKey[], auditDir: string | undefined, stored?: StoredKeyLines): EncryptionKey {
  const current = masters[0];
  if (!current) throw new AuditKeyError("A keyring needs at least one key.");
  const byId = new Map<string, EncryptionKey>(masters.map((m) => [m.id, m]));
  /** the data keys unwrapped so far (in byId too) */
  const dataKeys = new Set<string>();
  let stores: Map<string, WrappedKey> | undefined;
  /** the directory's tombstones (read with `stores`): such a key is shredded, whatever `stored` says */
  let tombstoned = new Set<string>();
  /** the data keys unwrapped from `stored` (checked there again at every use: a shred there) */
  const fromStore = new Set<string>();
  // The directory's change time when the stores were read: a shred replaces a store by a rename
  // (and leaves a marker beside it meanwhile), which changes it. A keyring kept every data key it
  // had unwrapped, and the stores it had read, for its lifetime, so a viewer (`serve`) opened
  // before a shred went on reading the subject (found by review, 2026-12-04).
  let dirStamp: string | undefined;
  const stampOf = (): string => dirStampOf(auditDir!);
  const load = () => {
    if (!auditDir) {
      stores = new Map();
      tombstoned = new Set();
      return stores;
    }
    const read = takeHandOff(auditDir) ?? readKeyStores(auditDir);
    stores = read.keys;
    tombstoned = read.tombstoned;
    dirStamp = read.stamp;
    return stores;
  };
  const resolve = (kid: string): EncryptionKey | undefined => {
    const known = byId.get(kid);
    if (known && fromStore.has(kid)) {
      // (unwrapped from the store: kept while the store holds it, and the directory has no tombstone of it)
      if (typeof stored?.line(kid) === "string" && !(auditDir && stampOf() !== dirStamp && (load(), tombstoned.has(kid) || stores!.has(kid)))) return known;
      fromStore.delete(kid);
      dataKeys.delete(kid);
      byId.delete(kid);
      return resolve(kid);
    }
    if (known && !(auditDir && dataKeys.has(kid) && stampOf() !== dirStamp)) return known;
    if (known) {
      // the stores may have changed: keep only the data keys they still hold
      const now = load();
      for (const id of dataKeys) {
        if (now.has(id)) continue;
        dataKeys.delete(id);
        byId.delete(id);
      }
      if (byId.has(kid)) return byId.get(kid);
      return undefined;
    }
    // (the stores as read, while the directory is as it was then: a shred since (a store renamed
    // into place) destroyed keys they still hold. Until 2026-12-06 a data key first met after a
    // shred was unwrapped from the stores read before it, and a viewer opened before the shred
    // read the subject's records it had not read yet; found by the durability pass)
    let w: WrappedKey | undefined;
    if (auditDir) {
      const reread = stores === undefined || stampOf() !== dirStamp;
      w = (reread ? load() : stores!).get(kid);
      if (!w && !reread) w = load().get(kid); // written since we last looked (appended: the directory unchanged)
    }
    let inStore = false;
    if (!w && kid.startsWith("d") && !tombstoned.has(kid)) {
      const line = stored?.line(kid);
      if (line === null) return undefined; // shredded in the store
      if (line !== undefined) {
        w = storedKey(kid, line);
        inStore = true;
      } else if (!auditDir) {
        // a reader with no directory (over PostgreSQL, without contentDir), and the store's key
        // table does not hold it: said so, not taken for a shredding
        const why = stored?.unreadable?.();
        if (why !== undefined) {
          throw new AuditKeyError(`Data key ${kid} (a per-user key): this reader may not read the store's key table (${why}), and has no audit directory to look in. Grant it, or give postgres.contentDir (the CLI's --content-dir, for tail, serve and export) pointing at the audit directory that wrote the record (its key store, subject_keys_<sessionId>.jsonl).`);
        }
        throw new AuditKeyError(
          `Data key ${kid} (a per-user key) is not in the store's key table (audit_subject_keys), and this reader has no audit directory to look in: the writer's sink has not sent it yet, or the store's schema is older than version 6 or its writer may not insert there (its sink reported so), or the session was stored before 2026-12-06. Give postgres.contentDir (the CLI's --content-dir, for tail, serve and export) pointing at the audit directory that wrote the record (its key store, subject_keys_<sessionId>.jsonl).`,
        );
      }
    }
    if (!w) return undefined;
    const master = byId.get(w.wrappedBy);
    if (!master) throw new AuditKeyError(`Data key ${kid} is wrapped by master key ${w.wrappedBy}, which is not in the keyring. Add that key (keys are tried by id).`);
    let dk: EncryptionKey;
    try {
      dk = { ...makeEncryptionKey(unwrap(master, w)), id: kid };
    } catch (cause) {
      throw new AuditKeyError(`Data key ${kid} could not be unwrapped: its stored form was altered.`, { cause });
    }
    byId.set(kid, dk);
    dataKeys.add(kid);
    if (inStore) fromStore.add(kid);
    return dk;
  };
  return Object.freeze({ ...current, resolve, masters: Object.freeze([...masters]) });
}

/**
 * The writer's side: one data key per subject, created on first use and written (wrapped, and
 * synced) to the session's key store before any record uses it. A new key the disk refuses to
 * store (full, file too large) may be kept pending instead (see keyFor's `keepRefused`): its
 * store line (wrapped, never the key in clear) waits in memory, and whoever writes the records
 * under it stores it first (storePending).
 */
export class SubjectKeys {
  /** by subject tag (from the store) */
  private readonly bySubject = new Map<string, EncryptionKey>();
  /** by raw subject, so the hot path skips the HMAC */
  private readonly cache = new Map<string | undefined, EncryptionKey>();
  /**
   * new keys the disk refused, by key id, in the order made: their store lines, subject tags, and
   * the directory's chain files as they were before any record was made under them (see storePending)
   */
  private readonly pending = new Map<string, { readonly line: string; readonly tag: string; readonly mark: ShredMark }>();
  private pendingLineBytes = 0;
  /** the directory's shred records as storePendingLocked last read them, and the chain files they were read from */
  private shredsRead: { readonly at: ShredMark; readonly shreds: readonly PlacedShred[] } | undefined;
  /** keys found shredded by another process while pending, destroyed, not told yet (see takeShreddedElsewhere) */
  private shreddedElsewhere: ShreddedElsewhere[] = [];
  private readonly file: string;

  constructor(
    private readonly master: EncryptionKey,
    private readonly auditDir: string,
    private readonly sessionId: string,
  ) {
    this.file = path.join(auditDir, keyStoreFileName(sessionId));
    // continue a resumed session with its subjects' existing keys
    const ring = openKeyring(master.masters ?? [master], auditDir);
    for (const w of readStore(this.file)) {
      const k = ring.resolve?.(w.kid);
      if (k) this.bySubject.set(w.subject, k);
    }
  }

  /**
   * The data key for a subject (a userId, or undefined for the session's own key). A new key is
   * stored first; when that throws and `keepRefused(err)` says so, the key is returned all the
   * same and its line kept pending (see isPending, storePending); else the failure is thrown.
   */
  keyFor(subject: string | undefined, keepRefused?: (err: unknown) => boolean): EncryptionKey {
    const cached = this.cache.get(subject);
    if (cached) return cached;
    const tag = subjectTag(this.master, subject === undefined ? "\0session" : `user\0${subject}`);
    let k = this.bySubject.get(tag);
    if (k) {
      this.cache.set(subject, k);
      return k;
    }
    let kid: string;
    let dataKey: Buffer;
    // (a new key when a shred of this subject, in another process, destroyed this one as it was
    // being stored)
    do {
      kid = "d" + randomBytes(8).toString("hex");
      dataKey = randomBytes(32);
      const w: WrappedKey = { kid, subject: tag, wrappedBy: this.master.id, ...wrap(this.master, kid, dataKey), createdAt: new Date().toISOString() };
      const line = JSON.stringify(w) + "\n";
      try {
        if (appendKeyLine(this.file, line, kid)) break;
      } catch (err) {
        if (!keepRefused?.(err)) throw err;
        // (the directory's chain files now, before any record is made under the key: a shred
        // recorded later is one the key waited through; see storePending)
        this.pending.set(kid, { line, tag, mark: shredMark(this.auditDir, this.sessionId) });
        this.pendingLineBytes += line.length;
        break;
      }
    } while (true);
    k = { ...makeEncryptionKey(dataKey), id: kid };
    this.bySubject.set(tag, k);
    this.cache.set(subject, k);
    return k;
  }

  /** Whether key `kid` is one whose store line (or tombstone, see storePending) waits for the disk (see keyFor). */
  isPending(kid: string): boolean {
    return this.pending.has(kid);
  }

  /** Whether any new key's store line waits for the disk. */
  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** The bytes of the store lines that wait for the disk. */
  get pendingBytes(): number {
    return this.pendingLineBytes;
  }

  /** Until when (performance.now()) storePending waits for another process's shred lock: never while the app runs (a refusal at once, see storePending), as the logger ends until the bound endingLockWait set. */
  private endingUntil: number | undefined;

  /**
   * The logger is ending (finalizeSession(), the exit hook): from now on storePending waits for
   * another process's shred lock, since what it does not store now is lost with the process;
   * ENDING_LOCK_WAIT_MS in all, however often it is called meanwhile (once, and once for each kind
   * whose records wait for the keys). Found by review, 2026-12-06: a refusal at once there lost
   * the records held under a key that waited for the disk while another process shredded. Then
   * it waited 10 s at each call: 20 s as a process with one kind held ended, the rest of its
   * records (every kind's, its session's end) written only after, where a container's stop (10 s
   * from SIGTERM to SIGKILL, Docker's default) could cut them off (found by the shred review, 2026-12-06).
   */
  endingLockWait(): void {
    this.endingUntil = performance.now() + ENDING_LOCK_WAIT_MS;
  }

  /**
   * Stores the pending key lines, in order (each appended whole and synced, as keyFor does);
   * throws the failure of the first the disk refuses still, the rest left pending. A key a shred
   * in another process destroyed meanwhile (its tombstone in the store) is no longer pending, and
   * its subject's next record gets a new one; so is one whose subject another process shredded
   * while it waited, of which a tombstone is stored instead of its line (see storePendingLocked,
   * takeShreddedElsewhere).
   */
  storePending(): void {
    if (!this.hasPending) return;
    // (under the directory's shred lock: a shred elsewhere either ran before, its record on disk
    // by the time the lock is let go (see shredSubjectKeys), or runs after and destroys the line
    // stored now. Until 2026-12-06 a line stored between a shred's rewrite of this store and its
    // record reaching the disk (an async logger's flush interval) was kept, and the records held
    // under it were readable though the subject had been shredded; found by review.) A lock another
    // holds is a refusal at once while the app runs (as the logger ends, see endingLockWait): the
    // lines stay pending, tried again at the next write-out. (It
    // waited up to a second until 2026-12-06: on the app's thread, at each write-out of an outage
    // while another process shredded, which on a large directory rewrites stores for seconds.)
    // (this thread holds it already when this logger's own shred writes its record out)
    const lock = path.join(this.auditDir, SHRED_LOCK);
    // (as the logger ends, `endingLockWaitMs`: see endingLockWait)
    let release: (() => void) | undefined;
    const ending = this.endingUntil;
    try {
      release = holdsDirLock(lock) ? undefined : takeDirLock(lock, "Another crypto-shredding", { waitMs: ending === undefined ? 0 : Math.max(0, Math.round(ending - performance.now())), staleMs: 15_000 });
    } catch (err) {
      // The disk refusing the lock file itself (its creation or its body: full, file too large,
      // quota, read-only): the keys wait for the disk, as they did for their own lines. Until
      // 2026-12-06 every failure here read "another crypto-shredding holds …", sending the
      // operator after a shred that did not exist. (A FIFO or a link under the lock's name is
      // takeDirLock's AuditPathError, which names it.)
      const code = errnoCode(err);
      if (code !== undefined) {
        const what = `the shred lock ${lock} could not be written (${reason(err)})`;
        if (ending !== undefined) throw new AuditIOError(`${this.pending.size} new data key line(s) not stored as the logger ended: ${what}.`, { cause: err });
        throw new AuditIOError(`${this.pending.size} new data key line(s) wait for the disk: ${what}; they are stored, and the records under them written, once the disk takes data (tried again at the next write-out).`, { cause: err });
      }
      if (!(err instanceof AuditIOError)) throw err;
      // (what the refusal means here: takeDirLock's own words tell one to remove a lock file)
      if (ending !== undefined) {
        throw new AuditIOError(`${this.pending.size} new data key line(s) not stored: another crypto-shredding held ${lock} past the ${ENDING_LOCK_WAIT_MS / 1000} s a logger waits for it as it ends.`, { cause: err });
      }
      throw new AuditIOError(`${this.pending.size} new data key line(s) wait: another crypto-shredding holds ${lock}; they are stored, and the records under them written, once it has ended (tried again at the next write-out).`, { cause: err });
    }
    try {
      this.storePendingLocked();
    } finally {
      release?.();
    }
  }

  private storePendingLocked(): void {
    // A shred run by another process (`audit-logger shred`, another logger's shredSubject())
    // while a key waited could not see it: it destroyed the subject's stored keys only, and the
    // key stored afterwards opened the records held under it (found 2026-12-06). Its chained
    // `subject_shredded` record names the subject's tag: one recorded since the key's mark (taken
    // before any record was made under it; told by where the record stands in its chain file,
    // not by its time: see shred-order.ts) means the subject was shredded while the key waited.
    // Such a key's material never reaches the store: a tombstone of its id is stored instead,
    // before any record under it is written (the records are held until then), and the key is
    // forgotten (the subject's next record gets a new one). Until the shred review of 2026-12-06
    // the key line was stored first and destroyed again after: a crash between the two left a
    // key of the shredded subject readable in the store, with no tombstone.
    // (the chain files listed once an attempt, and read only when one changed since a key's mark,
    // and not again while none changed since they were: an outage retries at each write-out)
    let now: ShredMark | undefined;
    const shreds = (): readonly PlacedShred[] => {
      const read = this.shredsRead;
      if (read !== undefined && sameMark(read.at, now!)) return read.shreds;
      this.shredsRead = { at: now!, shreds: readShreds(this.auditDir, this.sessionId) };
      return this.shredsRead.shreds;
    };
    for (const [kid, p] of this.pending) {
      now ??= shredMark(this.auditDir, this.sessionId);
      const by = changedSince(now, p.mark) ? shredSince(shreds(), p.mark, p.tag) : undefined;
      if (by !== undefined) {
        // (a tombstone only: no key material; whole and synced, or thrown and the key left pending)
        appendKeyLine(this.file, JSON.stringify({ kid, shreddedAt: new Date().toISOString() }) + "\n");
        this.pending.delete(kid);
        this.pendingLineBytes -= p.line.length;
        this.forgetTag(p.tag);
        this.shreddedElsewhere.push({ kid, tag: p.tag, by });
        continue;
      }
      const stored = appendKeyLine(this.file, p.line, kid);
      this.pending.delete(kid);
      this.pendingLineBytes -= p.line.length;
      if (!stored) this.forgetTag(p.tag);
    }
  }

  /** Whether takeShreddedElsewhere has keys to tell. */
  get hasShreddedElsewhere(): boolean {
    return this.shreddedElsewhere.length > 0;
  }

  /** The keys found shredded by another process as they were stored (see storePending), once each: for the logger's `subject_shredded` record naming them. */
  takeShreddedElsewhere(): ShreddedElsewhere[] {
    const out = this.shreddedElsewhere;
    if (out.length > 0) this.shreddedElsewhere = [];
    return out;
  }

  /**
   * Forgets a subject's key in memory (after shredding), so its next record gets a new one.
   * Its key line still pending is never stored: the ids of such keys are returned, destroyed.
   */
  forget(subject: string): string[] {
    return this.forgetTag(subjectTag(this.master, `user\0${subject}`), subject);
  }

  private forgetTag(tag: string, subject?: string): string[] {
    const k = this.bySubject.get(tag);
    this.bySubject.delete(tag);
    if (subject !== undefined) this.cache.delete(subject);
    else if (k) for (const [s, c] of this.cache) if (c === k) this.cache.delete(s);
    const dropped: string[] = [];
    for (const [kid, p] of this.pending) {
      if (p.tag !== tag) continue;
      this.pending.delete(kid);
      this.pendingLineBytes -= p.line.length;
      dropped.push(kid);
    }
    return dropped;
  }
}

/** The OS's error code (ENOSPC, EFBIG…) of a failed system call, or undefined for any other failure (see SubjectKeys.storePending). */
function errnoCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; syscall?: unknown } | null;
  return typeof e?.code === "string" && typeof e.syscall === "string" ? e.code : undefined;
}

/** A key that waited for the disk and was found shredded by another process (see SubjectKeys.storePending). */
export interface ShreddedElsewhere {
  readonly kid: string;
  /** its subject's tag (under the current master key) */
  readonly tag: string;
  /** the shred's chained record */
  readonly by: ShredOnDisk;
}

export type { ShredOnDisk };

/**
 * Appends a line to a key store, synced. A shredding (of this process or another) replaces the
 * file by a rewritten copy: a line appended to the file it replaced, once its rewrite had been
 * read, would be lost with it (and the records made with that key unreadable; found by review,
 * 2026-12-04). So the line is appended again when the path no longer names the file written
 * to; a shredding that renamed its copy before this check reads what was appended to the old
 * file after it (see shredSubjectKeys). Either may copy it: a key stored twice is the same key.
 * False when the shred destroyed the key `kid` (its tombstone is in the new file): not stored.
 */
function appendKeyLine(file: string, line: string, kid?: string): boolean {
  for (let attempt = 0; ; attempt++) {
    // (read too, for its last byte; never through a link, never a FIFO: NotRegularFileError, and
    // no record is made with a key the directory would not hold)
    const existed = fs.existsSync(file);
    const fd = openRegularForAppendReadSync(file, 0o600);
    let same: boolean;
    try {
      // after a torn line (a crash mid-write), on a line of its own: appended to the torn one it
      // was unreadable, and the subject's records with it (found by review, 2026-12-04)
      // (whole, or not at all: a line the disk cut short is cut off again and the failure thrown,
      // so no record is made with a key the store holds part of; see appendWholeSync)
      appendWholeSync(fd, Buffer.from((endsTorn(fd) ? "\n" : "") + line, "utf8"));
      fs.fdatasyncSync(fd);
      // a store this call created: its name too (the line's fdatasync does not carry it), before
      // a record is made with the key (found by the durability review, 2026-12-06)
      if (!existed) syncDirectorySync(path.dirname(file));
      same = sameFile(fs.statSync(file, { throwIfNoEntry: false }), fs.fstatSync(fd));
    } finally {
      fs.closeSync(fd);
    }
    // (a shred working on this store now, not replaced yet: it may destroy this line in its
    // rewrite or its late pass; waited for too)
    const shredding = kid !== undefined && fs.existsSync(markerOf(file));
    if ((same && !shredding) || attempt >= 100) return true;
    // the store was replaced by a shred: one that destroyed this key left a tombstone for it (at
    // its rewrite, or after: it reads what was appended meanwhile once it renamed, so it is
    // waited for); the key material must not come back
    if (kid !== undefined) {
      waitForShred(file);
      if (readKeyStore(file).tombstones.some((t) => t.kid === kid)) return false;
      if (same) return true; // the shred left the line as it was (or carried it over)
    }
  }
}

/** Whether the file open at `fd` ends without a newline (a torn last line). */
function endsTorn(fd: number): boolean {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  fs.readSync(fd, last, 0, 1, size - 1);
  return last[0] !== 0x0a;
}

/**
 * A key store line left where a shredded key was: its id and when, no key material. The verifier
 * takes it as the key's destruction when no chained record names it (the `subject_shredded`
 * record left with its session, removed by `audit-logger cleanup`, which records no removal). It
 * is a claim, not a proof: the key stores are not chained, and whoever can write the directory
 * can write one (docs/TRUST.md). The keyring skips it (no `ct`).
 */
export interface KeyTombstone {
  readonly kid: string;
  readonly shreddedAt: string;
}

/**
 * Destroys every data key of a subject in every key store of the directory (rewritten without
 * them, a tombstone in each one's place, then synced). Returns the key ids destroyed.
 */
export function shredSubjectKeys(masters: readonly EncryptionKey[], auditDir: string, subject: string, whileHeld?: (destroyed: string[]) => void): string[] {
  // one shred at a time per directory: two rewriting one store at once each rename their copy
  // over the other's, bringing back what the other destroyed (found by review, 2026-12-04)
  // (waits under the worker thread's 30 s call limit; the shred touches the lock at every store)
  const release = takeDirLock(path.join(auditDir, SHRED_LOCK), "Another crypto-shredding", { waitMs: SHRED_LOCK_WAIT_MS, staleMs: 15_000 });
  try {
    const destroyed = shredAll(masters, auditDir, subject);
    // (`whileHeld`: the caller's subject_shredded record, written out before the lock goes; a
    // writer storing a key that waited for the disk looks for it under the lock, see storePending)
    whileHeld?.(destroyed);
    return destroyed;
  } finally {
    release();
  }
}

/** The lock file that serializes shreds of one directory. */
export const SHRED_LOCK = ".shred.lock";
/** How long a shred waits for another's shred lock (under the worker thread's 30 s call limit). */
const SHRED_LOCK_WAIT_MS = 10_000;
/**
 * How long a logger ending waits, in all, for another's shred lock to store its waiting keys (see
 * SubjectKeys.endingLockWait): a shred holds it for milliseconds to a few seconds (its stores'
 * rewrites), and the rest of what the exit hook writes comes after, well within a container's
 * 10 s between SIGTERM and SIGKILL.
 */
const ENDING_LOCK_WAIT_MS = 3_000;


/** A store's shredding marker untouched this long was left by a shred that died. */
const SHRED_MARKER_STALE_MS = 5_000;

/** The marker a shred keeps beside a key store while it rewrites it (see waitForShred). */
const markerOf = (store: string): string => `${store}.shredding`;


/**
 * Waits until no shred rewrites this key store (its marker gone, or stale: its shred died),
 * at most SHRED_MARKER_STALE_MS: the rewrite of one store takes milliseconds, so a writer is
 * held only that long, not for the whole directory's shred.
 */
function waitForShred(store: string): void {
  const marker = markerOf(store);
  const deadline = Date.now() + SHRED_MARKER_STALE_MS;
  while (fresh(marker, SHRED_MARKER_STALE_MS) && Date.now() < deadline) sleepSync(2);
}

/** The ids of the master keys that wrap the data keys (not shredded) of the directory's key stores. */
export function wrappingMasterIds(auditDir: string): Set<string> {
  const read = readKeyStores(auditDir);
  handOff = read;
  return masterIdsOf(read);
}

function masterIdsOf(read: KeyStoresRead): Set<string> {
  return new Set([...read.keys.values()].map((w) => w.wrappedBy));
}

/**
 * A directory's key stores as read at one moment: each store's key lines (those its own
 * tombstones name left out), every tombstone, and the directory's stamp (see dirStampOf), taken
 * before reading: a change while it reads is seen next time.
 */
interface KeyStoresRead {
  readonly dir: string;
  readonly stamp: string;
  readonly keys: Map<string, WrappedKey>;
  readonly tombstoned: Set<string>;
}

/** The directory's identity and change times: a store renamed into place (a shred), or created, changes it; a line appended in place does not. */
function dirStampOf(dir: string): string {
  try {
    const st = fs.statSync(dir);
    return `${st.ino}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return "-";
  }
}

function readKeyStores(auditDir: string): KeyStoresRead {
  const read: KeyStoresRead = { dir: path.resolve(auditDir), stamp: dirStampOf(auditDir), keys: new Map(), tombstoned: new Set() };
  for (const name of safeReaddir(auditDir)) {
    if (!name.startsWith(KEY_STORE_PREFIX) || !name.endsWith(".jsonl")) continue;
    const { keys, tombstones } = readKeyStore(path.join(auditDir, name));
    for (const w of keys) read.keys.set(w.kid, w);
    for (const t of tombstones) read.tombstoned.add(t.kid);
  }
  return read;
}

/**
 * The last reading wrappingMasterIds made, for the next keyring of that directory to start from
 * (once) instead of reading every store again: a command line checks the key given against the
 * stores (see refuseForeignKey in src/cli/keys.ts) and then opens them with a keyring, and read
 * them twice (found by the durability pass, 2026-12-06). Taken only while the directory's stamp is
 * the one it was read under (no store replaced or created since); a key line appended in place
 * since is not in it, and is found as any key written after a keyring's reading is (a key id it
 * lacks reads the stores again).
 */
let handOff: KeyStoresRead | undefined;

function takeHandOff(auditDir: string): KeyStoresRead | undefined {
  const read = handOff;
  if (read === undefined || read.dir !== path.resolve(auditDir)) return undefined;
  handOff = undefined;
  return read.stamp === dirStampOf(auditDir) ? read : undefined;
}

/**
 * A user's subject tags under each master key of a keyring (a key store line's tag is keyed by the
 * master that wrapped it): what a shred destroys in the directory, and what its `subject_shredded`
 * record names for the PostgreSQL store (`subjectTags`).
 */
export function userSubjectTags(masters: readonly EncryptionKey[], userId: string): string[] {
  return [...new Set(masters.map((m) => subjectTag(m, `user\0${userId}`)))];
}

function shredAll(masters: readonly EncryptionKey[], auditDir: string, subject: string): string[] {
  const tags = new Set(userSubjectTags(masters, subject));
  // Entries wrapped by a master not given cannot be told apart: after a key rotation, a shred
  // with the current key only destroyed nothing of the older entries and was recorded as done
  // (found by review, 2026-12-04). Refused before anything is destroyed.
  const given = new Set(masters.map((m) => m.id));
  // (read here, not handed to a keyring: the shred replaces the stores next)
  const unknown = new Set([...masterIdsOf(readKeyStores(auditDir))].filter((id) => !given.has(id)));
  if (unknown.size > 0) {
    throw new AuditKeyError(
      `Data keys in ${auditDir} are wrapped by master key${unknown.size > 1 ? "s" : ""} ${[...unknown].join(", ")}, which ${unknown.size > 1 ? "are" : "is"} not in the keyring given: whose they are cannot be told, so nothing was shredded. Give every master key the directory used (the current one first, the retired ones after) and shred again.`,
    );
  }
  const destroyed: string[] = [];
  for (const name of safeReaddir(auditDir)) {
    if (!name.startsWith(KEY_STORE_PREFIX) || !name.endsWith(".jsonl")) continue;
    const file = path.join(auditDir, name);
    // (again when another shred replaced the file while this one rewrote it: renaming over its
    // copy would bring back what it destroyed)
    touch(path.join(auditDir, SHRED_LOCK));
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = shredStore(file, tags, attempt);
      if (r === "again") continue;
      destroyed.push(...r);
      break;
    }
  }
  return destroyed;
}

/** Marks a lock or marker as alive (a shred lock is stale after 15 s untouched; see also SHRED_MARKER_STALE_MS). */
function touch(file: string): void {
  const now = new Date();
  try {
    fs.utimesSync(file, now, now);
  } catch {
    // gone: the release, or a takeover, tells
  }
}

/** Shreds one key store (see shredSubjectKeys); "again" when another process replaced it meanwhile. */
function shredStore(file: string, tags: ReadonlySet<string>, attempt: number): string[] | "again" {
  // a writer that finds this store replaced waits for its marker to go (see appendKeyLine)
  const marker = markerOf(file);
  // (never a FIFO or a link put under its name: see writeRegularFileSync; refused, the shred fails)
  writeRegularFileSync(marker, "", 0o600);
  try {
    return shredStoreMarked(file, tags, attempt);
  } finally {
    fs.rmSync(marker, { force: true });
  }
}

function shredStoreMarked(file: string, tags: ReadonlySet<string>, attempt: number): string[] | "again" {
  const destroyed: string[] = [];
  // read through a descriptor kept open: what a live writer appends to this file while it is
  // rewritten is read from it after the rename (see appendKeyLine)
  let old: number;
  try {
    old = openRegularSync(file);
  } catch {
    return destroyed; // gone meanwhile; a link or a FIFO holds no key (never read: see readKeyStore)
  }
  try {
    const first = readRange(old, 0, fs.fstatSync(old).size);
    // (up to its last whole line: a line being appended is read whole below)
    let read = Buffer.byteLength(first.slice(0, first.lastIndexOf("\n") + 1));
    const { keys: raw, tombstones } = parseKeyStore(first);
    const dead = new Set(tombstones.map((t) => t.kid));
    // (a key line a tombstone names is material to remove too: a writer that raced a shred)
    const keep = raw.filter((w) => !tags.has(w.subject) && !dead.has(w.kid));
    if (keep.length === raw.length) return destroyed;
    const now = new Date().toISOString();
    for (const w of raw) {
      if (!tags.has(w.subject) || dead.has(w.kid)) continue;
      dead.add(w.kid);
      destroyed.push(w.kid);
      tombstones.push({ kid: w.kid, shreddedAt: now });
    }
    const tmp = `${file}.${OWN_NAME_PID}.${attempt}.tmp`;
    // (never a FIFO or a link put under that name, see openNewSync; a copy a full disk cut short
    // is removed: it holds other subjects' wrapped keys, which a later shred of theirs would not
    // find there, and the shred fails with the store unchanged)
    writeNewFileSync(tmp, [...keep, ...tombstones].map((w) => JSON.stringify(w) + "\n").join(""), 0o600, true);
    if (!sameFile(fs.statSync(file, { throwIfNoEntry: false }), fs.fstatSync(old))) {
      fs.rmSync(tmp, { force: true });
      return "again";
    }
    touch(markerOf(file)); // (alive: a long rewrite must not look like a dead shred's)
    touch(path.join(path.dirname(file), SHRED_LOCK));
    fs.renameSync(tmp, file);
    // (the rename on disk before the shred is recorded: a machine that lost power before ext4
    // committed it found the old store, destroyed keys and all; durability review, 2026-12-06)
    syncDirectorySync(path.dirname(file));
    // lines appended to the replaced file after it was read: the other subjects' keys are
    // carried over, this subject's destroyed like the rest. A line being written still (torn)
    // is waited for while the file grows; one that stays torn is a crash's debris.
    let lastSize = -1;
    for (let round = 0; round < 50; round++) {
      const size = fs.fstatSync(old).size;
      if (size === read || size === lastSize) break;
      lastSize = size;
      const text = readRange(old, read, size);
      const whole = text.lastIndexOf("\n") + 1;
      read += Buffer.byteLength(text.slice(0, whole));
      const late = parseKeyStore(text.slice(0, whole));
      const carried: Array<WrappedKey | KeyTombstone> = [...late.tombstones];
      for (const w of late.keys) {
        if (!tags.has(w.subject)) carried.push(w);
        else if (!dead.has(w.kid)) {
          dead.add(w.kid);
          destroyed.push(w.kid);
          carried.push({ kid: w.kid, shreddedAt: now });
        }
      }
      if (carried.length > 0) appendKeyLine(file, carried.map((w) => JSON.stringify(w) + "\n").join(""));
      if (whole < text.length) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  } finally {
    fs.closeSync(old);
  }
  return destroyed;
}

function readRange(fd: number, from: number, to: number): string {
  const buf = Buffer.alloc(to - from);
  let at = 0;
  while (at < buf.length) {
    const n = fs.readSync(fd, buf, at, buf.length - at, from + at);
    if (n === 0) break;
    at += n;
  }
  return buf.subarray(0, at).toString("utf8");
}
