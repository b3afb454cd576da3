/**
 * Export integrity: what an export directory carries so that someone who holds only the export
 * and the public key can check it, and the check itself.
 *
 * The exporter copies each session's signed checkpoints and its `audit_event` chain (verbatim)
 * under `integrity/`, then writes `export_manifest.json`: every exported file's size and SHA-256,
 * each session's chain heads, whether content was withheld, signed with Ed25519 when a signing
 * key is at hand. `verifyExport` checks the manifest's signature, every file against it, the
 * exported records' hash chains (links, seq, and each record's hash wherever the export left the
 * record as written) and the checkpoints' signatures and Merkle roots against those records.
 * An export without content of a log that is not encrypted has no chain hashes from the first
 * record whose withheld content is plaintext on, and no checkpoints for its session (src/export/
 * withhold.ts: they would confirm a guess of that content); of those records only seq, kind and
 * session are checked.
 */
import { createHash, sign, verify, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { computeRecordHash, GENESIS_HASH, hashBody, splitSealedLine } from "../pipeline/chain.js";
import { isEncryptedValue } from "../pipeline/encrypt.js";
import { walkChain } from "../reader/chain-files.js";
import { readLinesSync } from "../reader/lines-sync.js";
import { appendWholeSync, openRegularSync, readRegularFileSync, replaceFileSync, tempNameBeside } from "../regular-file.js";
import { exportWriteFailed } from "../export/output.js";
import { furthestPrunes, readPruneRecords, type SegmentPrune } from "../sink/prunes.js";
import { listKindFiles, safeJoin } from "../sink/files.js";
import { CHAIN_KINDS, KIND_FILE_STEM, RECORD_KINDS, type ChainKind, type KindHead, type VerifyNote, type VerifyProblem, type VerifyReport } from "../types.js";
import type { Checkpoint } from "./checkpoint.js";
import { checkpointFileName, readCheckpoints } from "./checkpointer.js";
import { NAME_PID, nameProcess } from "../sink/owner.js";
import { MerkleAccumulator } from "./merkle.js";
import { checkVerifyOptions } from "./verify-options.js";
import { publicKeyId, toPublicKeys, toSigningKey, type SigningKey } from "./signing.js";
import { signedAuditEventSeq, verifyCheckpoints, type KindState } from "./verify-checkpoints.js";
import { makeDirSync } from "../make-dir.js";

/**
 * The signed manifest of a directory export, and the folder (inside the export) that holds the
 * copied checkpoints and `audit_event` chains.
 *
 * @example
 * if (fs.existsSync(path.join(dir, EXPORT_MANIFEST))) report = await verifyExport(dir, { publicKey });
 */
export const EXPORT_MANIFEST = "export_manifest.json";

/**
 * How a directory export gets its manifest signed, said where one is found unsigned (by the
 * verifier's `export_manifest_unsigned`, and by `audit-logger export` of signed logs). Until
 * 2026-12-06 neither said where the key goes (new-user pass).
 */
export const UNSIGNED_MANIFEST_FIX =
  "To sign it, export again with the logger's Ed25519 private key: exportCompleteAuditToDirectory's signingKey option (a live logger's exporter uses its own), or, for audit-logger export, AUDIT_LOGGER_SIGNING_KEY_FILE (a PEM file outside the audit directory) or AUDIT_LOGGER_SIGNING_KEY (the PEM).";
export const EXPORT_INTEGRITY_DIR = "integrity";
export const EXPORT_MANIFEST_FORMAT = "audit-logger-export-manifest/v1";

/** The export's record document (written by the JSON exporter). */
const RECORDS_FILE = "audit_complete.json";

/** Members the reader or the exporter add to a record; the record as written has none of them. */
const ADDED_MEMBERS = ["encryptedWithoutKey", "decryptionError", "contentWithheld", "content"] as const;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const headSchema = z.strictObject({ seq: z.number().int().min(0), hash: hex64 });
const fileEntrySchema = z.strictObject({ path: z.string().min(1), bytes: z.number().int().min(0), sha256: hex64 });
const sessionEntrySchema = z.strictObject({
  sessionId: z.string().min(1),
  heads: z.record(z.string(), headSchema),
  checkpoints: z.strictObject({ file: z.string(), count: z.number().int().min(0), lastN: z.number().int().min(0), lastHash: hex64 }).nullable(),
});
const bodySchema = z.strictObject({
  format: z.literal(EXPORT_MANIFEST_FORMAT),
  createdAt: z.string(),
  source: z.string(),
  includeFullContent: z.boolean(),
  sessions: z.array(sessionEntrySchema),
  files: z.array(fileEntrySchema),
  keyId: z.string().nullable(),
});
const manifestFileSchema = z.strictObject({ manifest: bodySchema, hash: hex64, signature: z.string().nullable() });

/** One exported file as the manifest lists it (`path` relative to the export, `/`-separated). */
export type ExportFileEntry = z.infer<typeof fileEntrySchema>;
/** One exported session: its chain heads as exported, and its newest exported checkpoint. */
export type ExportSessionEntry = z.infer<typeof sessionEntrySchema>;
/** The signed body of `export_manifest.json`. */
export type ExportManifestBody = z.infer<typeof bodySchema>;
/** `export_manifest.json`: the body, SHA-256 of its JSON text, and an Ed25519 signature over that text (base64), or null. */
export type ExportManifest = z.infer<typeof manifestFileSchema>;

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** A file's size and SHA-256, read in 1 MiB pieces (`open`: how it is opened). */
function digestOf(file: string, open: (file: string) => number = (f) => fs.openSync(f, "r")): { bytes: number; sha256: string } {
  const h = createHash("sha256");
  const fd = open(file);
  try {
    const buf = Buffer.alloc(1 << 20);
    let bytes = 0;
    for (let n = fs.readSync(fd, buf, 0, buf.length, null); n > 0; n = fs.readSync(fd, buf, 0, buf.length, null)) {
      h.update(buf.subarray(0, n));
      bytes += n;
    }
    return { bytes, sha256: h.digest("hex") };
  } finally {
    fs.closeSync(fd);
  }
}

function posix(rel: string): string {
  return rel.split(path.sep).join("/");
}

/**
 * Writes `to` whole: `write` fills the new file `<to>.<pid>.<random>.tmp` beside it (created
 * exclusively, as every export temporary file is, see writeAtomic), which is then renamed to `to`;
 * when `write` says it wrote nothing, or fails, the temporary file is removed. A process killed
 * midway leaves that temporary file, never a part-written `to` (until 2026-12-05 the files of
 * integrity/ were written in place: a killed export left a part-written one; found by the
 * durability pass). Whether `to` was written. A failure (of `write` too: it writes with
 * appendWholeSync, so that a write the disk cuts short fails, see copyCompleteLines) is an
 * AuditIOError naming `to` (see exportWriteFailed).
 */
export function writeWholeSync(to: string, write: (fd: number) => boolean): boolean {
  const tmp = tempNameBeside(to);
  let fd: number;
  try {
    fd = fs.openSync(tmp, "wx", 0o600);
  } catch (err) {
    throw exportWriteFailed(to, err);
  }
  let wrote = false;
  try {
    wrote = write(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw exportWriteFailed(to, err);
  }
  try {
    fs.closeSync(fd);
    if (wrote) fs.renameSync(tmp, to);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw exportWriteFailed(to, err);
  }
  if (!wrote) fs.rmSync(tmp, { force: true });
  return wrote;
}

/** Copies a JSONL file's complete lines, whole (see writeWholeSync; a line still being written is left out); false when it holds none. */
function copyCompleteLines(from: string | number, to: string): boolean {
  return writeWholeSync(to, (fd) => {
    let any = false;
    for (const l of readLinesSync(from)) {
      // (a line too long to read, see MAX_LINE_BYTES, is no record: not copied)
      if (!l.terminated || l.oversized !== undefined) continue;
      // (whole or not at all: one write(2) whose count nobody checked left the last line cut
      // short by a full disk or a file-size limit, and the file was renamed into place, listed and
      // digested by the manifest, the export "written"; found by the durability pass, 2026-12-06)
      appendWholeSync(fd, Buffer.from(l.text + "\n", "utf8"));
      any = true;
    }
    return any;
  });
}

/**
 * Copies each session's checkpoints file and `audit_event` chain (segments too) from the audit
 * directory into `<exportDir>/integrity/`, each file written whole (see writeWholeSync); `before`
 * is told each one's name (relative to `exportDir`) before it is begun; `option` is how the caller
 * names `exportDir` in an {@link AuditPathError} when `integrity/` cannot be made ("option --out",
 * "exportCompleteAuditToDirectory.dir"). Call it before the records are exported: a checkpoint
 * never covers more than the records read after it. Returns the files written, relative to `exportDir`;
 * `integrity/` is left only when there is a file in it (none for sessions without chain or checkpoints).
 * The chain is walked as the readers walk it ({@link walkChain}): listed once, a rotation by a
 * logger still writing the session turned the active file into a segment that was never
 * copied, and the newer active file was copied under the old one's name, a gap that verifyExport
 * then reported as a break (found 2026-12-05).
 *
 * @example
 * const copied = copyChainEvidence("./audit_logs", "./audit_exports", ["support_bot"]);
 */
export function copyChainEvidence(auditDir: string, exportDir: string, sessionIds: readonly string[], before?: (rel: string) => void, option = "copyChainEvidence.exportDir"): string[] {
  const target = path.join(exportDir, EXPORT_INTEGRITY_DIR);
  const out: string[] = [];
  const copy = (from: string | number, name: string) => {
    before?.(`${EXPORT_INTEGRITY_DIR}/${name}`);
    // an empty file (a session without audit events) holds nothing to check; the folder is made
    // for the file and taken away again when nothing is written in it (until 2026-12-05 it was
    // left, and an export with no chain to copy held an empty integrity/, where one of the
    // PostgreSQL store held none; found by the session-status pass)
    // (made when it is not a directory too: an `integrity` file there was a bare ENOTDIR at the
    // copy's open; and named as the caller names exportDir, the directory export's option: until
    // 2026-12-05 the error named copyChainEvidence's own parameter, which a user of the directory
    // export or the CLI never gave; found by review)
    const made = !fs.existsSync(target);
    makeDirSync(target, 0o700, option);
    if (copyCompleteLines(from, path.join(target, name))) out.push(`${EXPORT_INTEGRITY_DIR}/${name}`);
    else if (made) fs.rmdirSync(target);
  };
  for (const sessionId of sessionIds) {
    const checkpoints = path.join(auditDir, checkpointFileName(sessionId));
    if (fs.existsSync(checkpoints)) copy(checkpoints, path.basename(checkpoints));
    for (const step of walkChain(auditDir, "audit_event", sessionId)) {
      if (step.kind === "segment") copy(step.file.path, step.file.name);
      else {
        try {
          copy(step.fd, step.file.name);
        } finally {
          fs.closeSync(step.fd);
        }
      }
    }
  }
  return out;
}

/** Every exported record of every chain kind, per session, in chain order. */
interface ExportedChains {
  readonly bySession: Map<string, Map<ChainKind, ExportedRecord[]>>;
  readonly malformed: string[];
}

interface ExportedRecord {
  readonly seq: number | undefined;
  readonly prevHash: unknown;
  readonly hash: unknown;
  readonly sessionId: unknown;
  readonly type: unknown;
  /** the hash recomputed from the record as exported, or undefined when the export changed it (content withheld or decrypted) */
  readonly recomputed: string | undefined;
  readonly withheld: boolean;
  /** the exporter left `hash` and `prevHash` out (listed in `contentWithheld`): content withheld that is not encrypted */
  readonly hashWithheld: boolean;
  readonly encryptedWithoutKey: boolean;
  readonly where: string;
}

/** Whether the export left the record as written: no content withheld and no field decrypted. */
function faithful(rec: Record<string, unknown>): boolean {
  if (rec.contentWithheld !== undefined) return false;
  const encrypted = Array.isArray(rec.encrypted) ? rec.encrypted : [];
  return encrypted.every((f) => typeof f === "string" && isEncryptedValue(rec[f]));
}

function toExported(rec: Record<string, unknown>, where: string): ExportedRecord {
  let recomputed: string | undefined;
  if (faithful(rec)) {
    const asWritten: Record<string, unknown> = { ...rec };
    for (const m of ADDED_MEMBERS) delete asWritten[m];
    recomputed = computeRecordHash(String(rec.prevHash), asWritten);
  }
  return {
    seq: typeof rec.seq === "number" ? rec.seq : undefined,
    prevHash: rec.prevHash,
    hash: rec.hash,
    sessionId: rec.sessionId,
    type: rec.type,
    recomputed,
    withheld: rec.contentWithheld !== undefined,
    hashWithheld: Array.isArray(rec.contentWithheld) && rec.contentWithheld.includes("hash") && rec.hash === undefined,
    encryptedWithoutKey: rec.encryptedWithoutKey === true,
    where,
  };
}

function push(chains: ExportedChains, sessionId: string, kind: ChainKind, r: ExportedRecord): void {
  let s = chains.bySession.get(sessionId);
  if (!s) chains.bySession.set(sessionId, (s = new Map()));
  let list = s.get(kind);
  if (!list) s.set(kind, (list = []));
  list.push(r);
}

/** Past this size a document not in the exporter's own layout is not parsed whole (V8's strings end at ~512 MiB). */
export const WHOLE_PARSE_MAX_BYTES = 256 * 1024 * 1024;

/**
 * The records of an export document in the exporter's own layout (see jsonExportChunks: the
 * header, then one line per kind's opening, one per record, one per closing), read line by line,
 * so a document of any size is read in bounded memory: parsed whole, one past V8's string limit
 * (~512 MiB) could not be read, its manifest was signed with every head at seq 0, and it never
 * verified (found by review, 2026-12-04). False when the text is not in that layout. `visit` is
 * given each record's line too (without its comma), `onHeader` the header's text (ended with an
 * empty `records` member, as it was parsed).
 */
export function readCanonicalDocument(
  file: string,
  visit: (kind: (typeof RECORD_KINDS)[number], rec: unknown, i: number, text: string) => void,
  onHeader?: (header: unknown, text: string) => void,
): boolean {
  let lines: Generator<{ text: string; terminated: boolean }>;
  try {
    lines = readLinesSync(file);
  } catch {
    return false;
  }
  const next = (): string | undefined => {
    const r = lines.next();
    return r.done ? undefined : r.value.text;
  };
  try {
    const header: string[] = [];
    for (let l = next(); l !== '"records":{'; l = next()) {
      if (l === undefined || header.length > 1_000_000) return false;
      header.push(l);
    }
    try {
      const text = `${header.join("\n")}\n"records":{}}`;
      onHeader?.(JSON.parse(text), text);
    } catch {
      return false;
    }
    for (const [ki, kind] of RECORD_KINDS.entries()) {
      const last = ki === RECORD_KINDS.length - 1;
      const open = `${JSON.stringify(KIND_FILE_STEM[kind])}:[`;
      const l = next();
      if (l === `${open}]${last ? "" : ","}`) continue;
      if (l !== open) return false;
      for (let i = 0; ; i++) {
        const r = next();
        if (r === undefined) return false;
        if (r === (last ? "]" : "],")) break;
        const text = r.endsWith(",") ? r.slice(0, -1) : r;
        let rec: unknown;
        try {
          rec = JSON.parse(text);
        } catch {
          return false;
        }
        visit(kind, rec, i, text);
      }
    }
    if (next() !== "}" || next() !== "}") return false;
    for (let l = next(); l !== undefined; l = next()) if (l.trim() !== "") return false;
    return true;
  } finally {
    lines.return(undefined);
  }
}

/** The records of `audit_complete.json` (six kinds) and of the copied `audit_event` chains. */
function readExportedChains(exportDir: string, sessionIds: readonly string[]): ExportedChains {
  let chains: ExportedChains = { bySession: new Map(), malformed: [] };
  const file = path.join(exportDir, RECORDS_FILE);
  const visit = (into: ExportedChains, kind: (typeof RECORD_KINDS)[number], rec: unknown, i: number): void => {
    if (typeof rec !== "object" || rec === null || Array.isArray(rec)) {
      into.malformed.push(`${RECORDS_FILE}: ${KIND_FILE_STEM[kind]}[${i}] is not a record.`);
      return;
    }
    const r = rec as Record<string, unknown>;
    push(into, String(r.sessionId), kind, toExported(r, `${KIND_FILE_STEM[kind]}[${i}]`));
  };
  let canonical = false;
  let size = 0;
  try {
    size = fs.statSync(file).size;
    canonical = readCanonicalDocument(file, (kind, rec, i) => visit(chains, kind, rec, i));
  } catch {
    canonical = false;
  }
  let doc: { records?: Record<string, unknown> } | undefined;
  if (!canonical) {
    // (another layout: what the canonical pass took is dropped, and the whole text parsed)
    chains = { bySession: new Map(), malformed: [] };
    try {
      if (size > WHOLE_PARSE_MAX_BYTES) throw new Error("too large");
      doc = JSON.parse(fs.readFileSync(file, "utf8")) as { records?: Record<string, unknown> };
    } catch {
      doc = undefined;
    }
  }
  if (canonical) {
    // (read above)
  } else if (doc === undefined || typeof doc.records !== "object" || doc.records === null) {
    chains.malformed.push(`${RECORDS_FILE} is missing or is not a JSON export document.`);
  } else {
    for (const kind of RECORD_KINDS) {
      const list = doc.records[KIND_FILE_STEM[kind]];
      if (!Array.isArray(list)) {
        chains.malformed.push(`${RECORDS_FILE} has no "${KIND_FILE_STEM[kind]}" list.`);
        continue;
      }
      list.forEach((rec: unknown, i) => visit(chains, kind, rec, i));
    }
  }
  const integrity = path.join(exportDir, EXPORT_INTEGRITY_DIR);
  for (const sessionId of sessionIds) {
    for (const f of listKindFiles(integrity, "audit_event", sessionId)) {
      for (const l of readLinesSync(f.path)) {
        const sealed = splitSealedLine(l.text);
        let rec: Record<string, unknown> | undefined;
        try {
          rec = JSON.parse(l.text) as Record<string, unknown>;
        } catch {
          rec = undefined;
        }
        if (!l.terminated || !sealed || !rec || typeof rec !== "object") {
          chains.malformed.push(`Line ${l.line} of ${EXPORT_INTEGRITY_DIR}/${f.name} is not a sealed audit record.`);
          continue;
        }
        push(chains, sessionId, "audit_event", {
          seq: typeof rec.seq === "number" ? rec.seq : undefined,
          prevHash: rec.prevHash,
          hash: sealed.hash,
          sessionId: rec.sessionId,
          type: rec.type,
          recomputed: hashBody(String(rec.prevHash), sealed.body),
          withheld: false,
          hashWithheld: false,
          encryptedWithoutKey: false,
          where: `${EXPORT_INTEGRITY_DIR}/${f.name}:${l.line}`,
        });
      }
    }
  }
  return chains;
}

/**
 * The last exported record's seq and hash per chain kind (seq 0 and the genesis hash when none);
 * for a chain whose hashes the export left out from some record on, the last record before it.
 */
function headsOf(records: ReadonlyMap<ChainKind, readonly ExportedRecord[]> | undefined): Record<ChainKind, KindHead> {
  const heads = {} as Record<ChainKind, KindHead>;
  for (const kind of CHAIN_KINDS) {
    const list = records?.get(kind) ?? [];
    const cut = list.findIndex((r) => r.hashWithheld);
    const last = (cut === -1 ? list : list.slice(0, cut)).at(-1);
    heads[kind] = last && last.seq !== undefined && typeof last.hash === "string" ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: GENESIS_HASH };
  }
  return heads;
}

/** What `writeExportManifest` needs from the exporter. */
export interface ExportManifestInput {
  /** the export directory */
  readonly exportDir: string;
  /** every file written into it, relative and `/`-separated */
  readonly files: readonly string[];
  readonly sessionIds: readonly string[];
  readonly includeFullContent: boolean;
  /** where the records came from (a path or a connection description) */
  readonly source: string;
  /** Ed25519 private key (PEM or KeyObject) or an already resolved signing key; unsigned without one */
  readonly signingKey?: KeyObject | string | SigningKey | undefined;
}

function isSigningKey(k: unknown): k is SigningKey {
  return typeof k === "object" && k !== null && typeof (k as SigningKey).keyId === "string" && typeof (k as SigningKey).privateKey === "object";
}

/**
 * Writes `export_manifest.json` over the files of an export: their sizes and SHA-256, each
 * session's chain heads as exported and its newest checkpoint, whether content was withheld;
 * signed with Ed25519 when a signing key is given. Returns the manifest.
 *
 * @example
 * const manifest = writeExportManifest({ exportDir, files, sessionIds, includeFullContent: false, source: auditDir, signingKey });
 */
export function writeExportManifest(input: ExportManifestInput): ExportManifest {
  const signer = input.signingKey === undefined ? undefined : isSigningKey(input.signingKey) ? input.signingKey : toSigningKey(input.signingKey, "the signingKey export option");
  // (streamed: a file read whole could not be past 2 GiB, and held the whole export in memory)
  const files = [...input.files].sort().map((rel) => ({ path: rel, ...digestOf(safeJoin(input.exportDir, rel)) }));
  const chains = readExportedChains(input.exportDir, input.sessionIds);
  const integrity = path.join(input.exportDir, EXPORT_INTEGRITY_DIR);
  const sessions = input.sessionIds.map((sessionId): ExportSessionEntry => {
    const cps = readCheckpoints(integrity, sessionId).filter((c) => c.checkpoint);
    const last = cps.at(-1)?.checkpoint;
    return {
      sessionId,
      heads: headsOf(chains.bySession.get(sessionId)),
      checkpoints: last ? { file: `${EXPORT_INTEGRITY_DIR}/${checkpointFileName(sessionId)}`, count: cps.length, lastN: last.checkpoint.n, lastHash: last.hash } : null,
    };
  });
  const manifest: ExportManifestBody = {
    format: EXPORT_MANIFEST_FORMAT,
    createdAt: new Date().toISOString(),
    source: input.source,
    includeFullContent: input.includeFullContent,
    sessions,
    files,
    keyId: signer?.keyId ?? null,
  };
  const text = JSON.stringify(manifest);
  const out: ExportManifest = {
    manifest,
    hash: sha256(text),
    signature: signer ? sign(null, Buffer.from(text, "utf8"), signer.privateKey).toString("base64") : null,
  };
  // (written whole under `<file>.<pid>.<random>.tmp`, then renamed, never through a FIFO or a link
  // put there: see replaceFileSync. Named by the pid alone until 2026-12-05, found by the
  // durability operator pass: two exports writing one directory's manifest at once from two
  // threads of a process wrote the same temporary file, one's rename took the other's bytes, and
  // the other failed with ENOENT)
  replaceFileSync(path.join(input.exportDir, EXPORT_MANIFEST), JSON.stringify(out, null, 2) + "\n", 0o600);
  return out;
}

/**
 * The files the export manifest in `exportDir` lists (relative, `/`-separated), or undefined when
 * there is none, or it is not a regular file holding a manifest of this kit: what an earlier
 * export there wrote, and so what a new export there may replace.
 *
 * @example
 * const earlier = manifestListedFiles("./audit_exports"); // Set { "audit_complete.json", "integrity/checkpoints_s1.jsonl", … }
 */
export function manifestListedFiles(exportDir: string): Set<string> | undefined {
  const m = readManifestFile(exportDir);
  return m ? new Set(m.manifest.files.map((f) => f.path)) : undefined;
}

/** The export manifest in `exportDir`, or undefined when there is none, or it is not a regular file holding a manifest of this kit. */
function readManifestFile(exportDir: string): ExportManifest | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readRegularFileSync(path.join(exportDir, EXPORT_MANIFEST)).toString("utf8"));
  } catch {
    return undefined;
  }
  const parsed = manifestFileSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Whether `exportDir` holds a whole directory export: its manifest is one of this kit's and
 * matches its own hash, and every file it lists is there, a regular file (opened as such: a FIFO
 * put there is not waited on), with the size and SHA-256 it gives. Not a verification (no
 * signature, no chain is checked): whether moving an export into place was done.
 *
 * @example
 * manifestWhole("./audit_exports"); // false while an export's files are half moved in
 */
export function manifestWhole(exportDir: string): boolean {
  const m = readManifestFile(exportDir);
  if (!m || sha256(JSON.stringify(m.manifest)) !== m.hash) return false;
  return m.manifest.files.every((entry) => {
    try {
      const got = digestOf(safeJoin(exportDir, entry.path), (f) => openRegularSync(f));
      return got.bytes === entry.bytes && got.sha256 === entry.sha256;
    } catch {
      return false;
    }
  });
}

/** Options of `verifyExport`: those of `verifyAuditLog`. */
export interface VerifyExportOptions {
  /** check this session only */
  readonly sessionId?: string | undefined;
  /** trusted Ed25519 public key(s), PEM or KeyObject: the manifest's and the checkpoints' signatures are checked against them */
  readonly publicKey?: KeyObject | string | ReadonlyArray<KeyObject | string> | undefined;
  /** checkpoints kept outside (a witness, WORM storage): the exported records must agree with them */
  readonly trustedCheckpoints?: readonly Checkpoint[] | undefined;
  /** every exported session must carry signed checkpoints, else `not_signed` (needs `publicKey`) */
  readonly requireSigned?: boolean | undefined;
}

/** Every file under `dir`, relative and `/`-separated. */
/** Entries of the export that are neither a directory nor a regular file (links not followed). */
function oddEntries(dir: string, base = dir): string[] {
  const out: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out; // no directory: the manifest's read says so
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...oddEntries(p, base));
    else if (!e.isFile()) out.push(posix(path.relative(base, p)));
  }
  return out;
}

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p, base));
    else out.push(posix(path.relative(base, p)));
  }
  return out;
}

/**
 * `integrity.<pid>.<random>.pending`: the list a directory export keeps of the integrity/ files it
 * is writing (written by versions before 2026-12-06, which wrote integrity/ in place; a directory export now writes into a staging folder, see STAGING_NAME), `PENDING_STEM` then `PENDING_NAME`, as
 * those versions made it; the next export finds it and verify names it.
 */
export const PENDING_STEM = `${EXPORT_INTEGRITY_DIR}.`;
export const PENDING_NAME = /^(\d+)\.[0-9a-f]+\.pending$/;

/**
 * `export.<pid>.<random>.staging/`: the folder inside the export directory where a directory
 * export writes every file before it swaps them into place (see writeDirectoryExport in
 * src/export/directory.ts), `STAGING_STEM` then `STAGING_NAME`. An export killed midway leaves
 * it; the next export there removes it once that process is gone, and verify names it.
 */
export const STAGING_STEM = "export.";
export const STAGING_NAME = new RegExp(String.raw`^(${NAME_PID})\.[0-9a-f]+\.staging$`);
/**
 * The empty file a directory export makes first in its staging folder (see STAGING_NAME): the
 * next export removes a left staging folder only when it holds this mark, so a folder of the
 * user's that merely has such a name is never taken for one.
 */
export const STAGING_MARK = ".audit-logger-staging";

/**
/**
 * `export.lock`: the lock file a directory export holds in the export directory while it moves its
 * files into place (see writeDirectoryExport in src/export/directory.ts), so that two exports into
 * one directory never mix their files. An export killed while holding it leaves it; the next
 * export there takes it over once that process is gone, and verify names it.
 */
export const EXPORT_LOCK = "export.lock";

/**
 * The pid of the staging folder (see STAGING_NAME) `rel` lies in, or undefined when it lies in
 * none: a folder so named that holds an export's mark (STAGING_MARK, among `present`); any other
 * is the user's, which no export removes.
 */
function stagingPid(rel: string, present: ReadonlySet<string>): string | undefined {
  const top = rel.split("/")[0]!;
  if (!rel.includes("/") || !top.startsWith(STAGING_STEM) || !present.has(`${top}/${STAGING_MARK}`)) return undefined;
  return STAGING_NAME.exec(top.slice(STAGING_STEM.length))?.[1];
}

/** The folder of a staging folder where a directory export's swap moves the earlier export's files (see src/export/directory.ts, swapIn). */
export const STAGING_REPLACED = "replaced";

/**
 * Whether a staging folder whose own entries are `names` holds nothing but its mark and
 * `replaced/`: every file of its export was moved out of it. One rule for the export that
 * supersedes such a folder (src/export/directory.ts) and for verify's word on its files.
 */
export function onlyReplacedLeft(names: Iterable<string>): boolean {
  for (const n of names) if (n !== STAGING_MARK && n !== STAGING_REPLACED) return false;
  return true;
}

/** The entries of the staging folder `top` that the export-relative file paths `present` show. */
function entriesOf(top: string, present: ReadonlySet<string>): string[] {
  return [...present].filter((rel) => rel.startsWith(`${top}/`)).map((rel) => rel.slice(top.length + 1).split("/")[0]!);
}

/** The pid in a pending list's name, or undefined when `rel` is none. */
function pendingListPid(rel: string): string | undefined {
  return rel.startsWith(PENDING_STEM) ? PENDING_NAME.exec(rel.slice(PENDING_STEM.length))?.[1] : undefined;
}

/**
 * @internal The files a directory export's pending list (see PENDING_NAME) names:
 * its complete lines (a line being written when the export was killed names nothing), each a file
 * directly in `integrity/`. How the next export there (earlierEvidence) and verify read it alike.
 */
export function pendingListNames(file: string): string[] {
  const out: string[] = [];
  for (const l of readLinesSync(file)) {
    if (!l.terminated || l.oversized !== undefined) continue;
    if (l.text.startsWith(`${EXPORT_INTEGRITY_DIR}/`) && !l.text.slice(EXPORT_INTEGRITY_DIR.length + 1).includes("/")) out.push(l.text);
  }
  return out;
}

/** A pending list that names a file: the list (relative) and the pid in its name. */
interface PendingEntry {
  readonly list: string;
  readonly pid: string;
}

/**
 * The `integrity/` files the pending lists among `present` (top-level, regular: see oddEntries)
 * name, each with the first list naming it: complete lines only (a line being written when the
 * export was killed names nothing), of a file directly in `integrity/`, as the next export there
 * reads them (see earlierEvidence). Any list, whether its process is gone or not: verify may run
 * on another host.
 */
function pendingNames(dir: string, present: readonly string[]): Map<string, PendingEntry> {
  const out = new Map<string, PendingEntry>();
  for (const rel of present) {
    const pid = pendingListPid(rel);
    if (pid === undefined) continue;
    try {
      for (const name of pendingListNames(path.join(dir, rel))) if (!out.has(name)) out.set(name, { list: rel, pid });
    } catch {
      // (unreadable: it names nothing, and is reported as unlisted as any file is)
    }
  }
  return out;
}

/**
 * Why a file of a directory export is not in its manifest, as far as its name tells: one named as
 * the temporary file an export writes a file of its own as before renaming it into place
 * (`<file>.<pid>.<random>.tmp`, see writeAtomic and replaceFileSync) was left by an export killed
 * midway, or is one still being written; so was a file a killed export's pending list names (see
 * pendingNames); anything else was added after the export. Either way it
 * is not part of the export, and stays a problem: the directory is not what the manifest says.
 */
function unlistedWhy(rel: string, listed: ReadonlySet<string>, pending: ReadonlyMap<string, PendingEntry>, present: ReadonlySet<string>, whole: boolean): string {
  const staged = stagingPid(rel, present);
  if (staged !== undefined && rel.split("/")[1] === STAGING_REPLACED) {
    const where = `it lies in ${rel.split("/").slice(0, 2).join("/")}/, where a directory export (${nameProcess(staged)}) moved the earlier export's files as it moved its own into place`;
    // (moved in whole, killed before it said so: see supersedeDone in export/directory.ts)
    if (whole && onlyReplacedLeft(entriesOf(rel.split("/")[0]!, present))) {
      return `${where}, and left them when it was killed after its last move (or it is about to remove them): the directory holds the later export whole (every file as its manifest lists it). It was not checked: the next export to this directory supersedes the earlier export, and removes ${rel.split("/")[0]}/.`;
    }
    return `${where}, and left them when that failed and could not be undone (or it was killed meanwhile): the only copy of that file of the earlier export, and the directory holds files of both. It was not checked: move it back in place of the file of the same name (or elsewhere, to keep it), remove ${rel.split("/")[0]}/, and export again (until then an export to this directory stops, and never removes it).`;
  }
  if (staged !== undefined) {
    return `it lies in ${rel.split("/")[0]}/, the folder where a directory export writes its files before it swaps them into place, left by an export (${nameProcess(staged)}) killed midway, or one still writing. It is not part of the export and was not checked: export to this directory again (an export removes that folder once that process is gone: one of this host and pid namespace at once, one of another once untouched for an hour).`;
  }
  if (rel === EXPORT_LOCK) {
    return `it is the lock a directory export holds while it moves its files into place: an export is moving its files in now, or one was killed while it did (the directory may then hold files of two exports). It is not part of the export: export to this directory again (an export takes the lock over once that process of this host is gone, and removes it).`;
  }
  const listPid = pendingListPid(rel);
  if (listPid !== undefined) {
    return `its name is that of the list a directory export keeps of the ${EXPORT_INTEGRITY_DIR}/ files it is writing, left by an export (process ${listPid}) killed midway, or one still writing. It is not part of the export and was not checked: export to this directory again (an export removes it, and the files it names, once that process of this host is gone); removed by hand, the files it names stop the next export there.`;
  }
  // (a file a killed export's list names: until 2026-12-05 the list was named for what it is, and
  // those files, which the next export there removes with it, were "added after the export";
  // found by review)
  const named = pending.get(rel);
  if (named) {
    return `it is named in ${named.list}, the list a directory export keeps of the ${EXPORT_INTEGRITY_DIR}/ files it is writing: a file an export (process ${named.pid}) killed midway was writing, or one still writing. It is not part of the export and was not checked: export to this directory again (an export removes it, with the list, once that process of this host is gone).`;
  }
  // (the name before the pid taken as short as it can be: greedy, an older version's
  // `<pid>.<ms>`, all digits, was read as the pid `<ms>` of a file named `<name>.<pid>`, and said
  // "added after the export"; found by review, 2026-12-05. In integrity/ too: its files are
  // written whole, see writeWholeSync; until the review of 2026-12-05 only top-level names were
  // read so, and such a file was "added after the export"; and the temporary file of one a killed
  // export's list names as well.)
  const m = new RegExp(String.raw`^((?:integrity\/)?[^/]+?)\.(${NAME_PID})(?:\.[0-9a-f]+)?\.tmp$`).exec(rel);
  if (m && (m[1] === EXPORT_MANIFEST || listed.has(m[1]!) || pending.has(m[1]!))) {
    return `its name is that of the temporary file an export writes ${m[1]} as before renaming it into place, left by an export (${nameProcess(m[2]!)}) killed midway, or one still writing. It is not part of the export and was not checked: remove it, or export to this directory again (an export removes those left by a process that is gone: one of this host and pid namespace at once, one of another once untouched for an hour).`;
  }
  return "it was added after the export.";
}

/**
 * Checks a directory export: the manifest's signature (with `publicKey`), every exported file
 * against the manifest's size and SHA-256 (none missing, none added), each session's exported
 * hash chains (links, seq, and each record's hash where the export left it as written), and the
 * copied checkpoints (signatures, links, Merkle roots) against the exported records. Resolves
 * to the same report as `verifyAuditLog`; an export made without content says so in a
 * `content_withheld` note.
 *
 * @example
 * const report = await verifyExport("./audit_exports", { publicKey: fs.readFileSync("signing.pub.pem", "utf8") });
 * if (!report.ok) console.error(report.problems);
 */
export async function verifyExport(exportDir: string, options: VerifyExportOptions = {}): Promise<VerifyReport> {
  checkVerifyOptions(options, "verifyExport", ["exportDir", exportDir]);
  const dir = path.resolve(exportDir);
  const problems: VerifyProblem[] = [];
  const notes: VerifyNote[] = [];
  const fail = (kind: string, detail: string): VerifyReport => ({ ok: false, sessions: [], recordsChecked: 0, problems: [...problems, { file: EXPORT_MANIFEST, kind, detail }], notes });
  // Only regular files are read: a FIFO put in an export hung the verifier for good, and a
  // symbolic link had it read (and hash) whatever the link named (found by review, 2026-12-04).
  const odd = oddEntries(dir);
  if (odd.length > 0) {
    for (const rel of odd) problems.push({ file: rel, kind: "export_file_not_regular", detail: `${rel} is not a regular file (a symbolic link, a FIFO, a device): an export holds only files it wrote; nothing was read.` });
    return { ok: false, sessions: [], recordsChecked: 0, problems, notes };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.promises.readFile(path.join(dir, EXPORT_MANIFEST), "utf8"));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    return fail(missing ? "export_manifest_missing" : "export_manifest_malformed", missing ? `${dir} has no ${EXPORT_MANIFEST}: it is not a directory export, or its manifest was removed.` : `${EXPORT_MANIFEST} is not JSON.`);
  }
  const parsed = manifestFileSchema.safeParse(raw);
  if (!parsed.success) return fail("export_manifest_malformed", `${EXPORT_MANIFEST} is not an export manifest: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}.`);
  const { manifest, hash, signature } = parsed.data;
  const text = JSON.stringify(manifest);
  const p = (file: string, kind: string, detail: string, seq?: number) => problems.push({ file, ...(seq !== undefined ? { seq } : {}), kind, detail });

  // 1. the manifest itself
  if (sha256(text) !== hash) p(EXPORT_MANIFEST, "export_manifest_modified", `${EXPORT_MANIFEST} does not match its own hash: it was edited.`);
  const trustedKeys = toPublicKeys(options.publicKey);
  if (trustedKeys.length > 0) {
    if (signature === null || manifest.keyId === null) {
      p(EXPORT_MANIFEST, "export_manifest_unsigned", `${EXPORT_MANIFEST} carries no signature, but a trusted key was given: the export was made without a signing key, or its signature was stripped. ${UNSIGNED_MANIFEST_FIX}`);
    } else {
      const key = trustedKeys.find((k) => publicKeyId(k) === manifest.keyId);
      if (!key) p(EXPORT_MANIFEST, "export_manifest_unknown_key", `${EXPORT_MANIFEST} was signed by ${manifest.keyId}, which is not a trusted key.`);
      else {
        let valid = false;
        try {
          valid = verify(null, Buffer.from(text, "utf8"), key, Buffer.from(signature, "base64"));
        } catch {
          valid = false;
        }
        if (!valid) p(EXPORT_MANIFEST, "export_manifest_signature_invalid", `The signature of ${EXPORT_MANIFEST} does not verify with the trusted key ${manifest.keyId}: the manifest was changed after it was signed.`);
      }
    }
  }

  // 2. every file against the manifest, and nothing added
  const listed = new Set<string>();
  for (const entry of manifest.files) {
    listed.add(entry.path);
    let got: { bytes: number; sha256: string };
    try {
      // (in pieces: read whole, a file past 2 GiB could not be checked)
      got = digestOf(safeJoin(dir, entry.path));
    } catch (err) {
      if ((err as { code?: string }).code === "AUDIT_ERR_PATH") p(EXPORT_MANIFEST, "export_manifest_malformed", `The manifest lists "${entry.path}", which lies outside the export.`);
      else p(entry.path, "export_file_missing", `${entry.path} is listed in the manifest but missing from the export.`);
      continue;
    }
    if (got.bytes !== entry.bytes || got.sha256 !== entry.sha256) {
      const how = got.bytes === entry.bytes ? `has the size the manifest gives (${entry.bytes} bytes) but not its SHA-256` : `is ${got.bytes} bytes where the manifest gives ${entry.bytes}`;
      p(entry.path, "export_file_modified", `${entry.path} ${how}: it was changed after the export.`);
    }
  }
  const present = listFiles(dir);
  const pending = pendingNames(dir, present);
  const presentSet = new Set(present);
  // (the files in place are the manifest's, every one as it lists it)
  const whole = problems.every((x) => !["export_manifest_modified", "export_manifest_malformed", "export_file_missing", "export_file_modified"].includes(x.kind));
  for (const rel of present) {
    if (rel !== EXPORT_MANIFEST && !listed.has(rel)) p(rel, "export_file_unlisted", `${rel} is in the export directory but not in its manifest: ${unlistedWhy(rel, listed, pending, presentSet, whole)}`);
  }

  // 3. the exported chains and the checkpoints over them
  const sessions = manifest.sessions.filter((s) => options.sessionId === undefined || s.sessionId === options.sessionId);
  if (options.sessionId !== undefined && sessions.length === 0) p(EXPORT_MANIFEST, "session_missing", `The export holds no session ${options.sessionId}: its manifest lists ${manifest.sessions.map((s) => s.sessionId).join(", ") || "none"}.`);
  const chains = readExportedChains(dir, sessions.map((s) => s.sessionId));
  for (const m of chains.malformed) p(RECORDS_FILE, "malformed_line", m);
  for (const sessionId of chains.bySession.keys()) {
    if (!manifest.sessions.some((s) => s.sessionId === sessionId)) p(RECORDS_FILE, "wrong_session", `${RECORDS_FILE} holds records of session ${sessionId}, which the manifest does not list.`);
  }
  let recordsChecked = 0;
  let anyCheckpoints = false;
  let withheld = 0;
  let unhashed = 0;
  let stillEncrypted = 0;
  const integrity = path.join(dir, EXPORT_INTEGRITY_DIR);
  for (const s of sessions) {
    const byKind = chains.bySession.get(s.sessionId);
    const pruned = new Map<ChainKind, { lastSeq: number; lastHash: string; frontier: MerkleAccumulator }>();
    const prunes = readPruneRecords(integrity, s.sessionId);
    for (const m of prunes.malformed) {
      p(`${EXPORT_INTEGRITY_DIR}/audit_events_${s.sessionId}.jsonl`, "malformed_line", `A retention_pruned record${m.seq !== undefined ? ` (seq ${m.seq})` : ""} is not one the kit writes (${m.detail}): what it removed cannot be told from tampering.`, m.seq);
    }
    for (const { event, time } of prunes.segments) {
      notes.push({ file: `${EXPORT_INTEGRITY_DIR}/audit_events_${s.sessionId}.jsonl`, kind: "pruned_by_policy", detail: `Segments ${event.segments.join(", ")} of ${event.kind} (records up to seq ${event.lastSeq}) were removed by retention at ${time}, before the export.` });
    }
    const cps = readCheckpoints(integrity, s.sessionId);
    const trusted = (options.trustedCheckpoints ?? []).filter((c) => c.checkpoint.sessionId === s.sessionId);
    // (a chain starts after a prune only when its record is signed, if that can be told: see signedAuditEventSeq)
    const signedThrough = signedAuditEventSeq(cps, trusted, trustedKeys);
    const honoured = signedThrough === undefined ? prunes : { ...prunes, segments: prunes.segments.filter((r) => r.seq <= signedThrough) };
    for (const [kind, event] of Object.entries(furthestPrunes(honoured)) as Array<[ChainKind, SegmentPrune]>) {
      pruned.set(kind, { lastSeq: event.lastSeq, lastHash: event.lastHash, frontier: MerkleAccumulator.fromFrontier(event.merkleFrontier) });
    }
    if (cps.length > 0 || trusted.length > 0) anyCheckpoints = true;
    else if (options.requireSigned === true) {
      p(`${EXPORT_INTEGRITY_DIR}/${checkpointFileName(s.sessionId)}`, "not_signed", `Session ${s.sessionId} has no signed checkpoints in the export, and every session must be signed (requireSigned): its logger had no signingKey, the exporter left them out (content withheld), or they were removed.`);
    }
    const wanted = new Set<string>();
    for (const c of [...cps.map((x) => x.checkpoint), ...trusted]) {
      for (const kind of CHAIN_KINDS) {
        const h = c?.checkpoint.heads[kind];
        if (h && h.seq > 0) wanted.add(`${kind}:${h.seq}`);
      }
    }
    const states = {} as Record<ChainKind, KindState>;
    for (const kind of CHAIN_KINDS) {
      const list = byKind?.get(kind) ?? [];
      recordsChecked += list.length;
      const start = pruned.get(kind);
      const merkle = start?.frontier ?? new MerkleAccumulator();
      const at = new Map<number, { hash: string; root: string }>();
      if (start) at.set(start.lastSeq, { hash: start.lastHash, root: merkle.root() });
      let prevHash = start?.lastHash ?? GENESIS_HASH;
      let expectSeq = (start?.lastSeq ?? 0) + 1;
      let lastSeq = start?.lastSeq ?? 0;
      const file = kind === "audit_event" ? `${EXPORT_INTEGRITY_DIR}/audit_events_${s.sessionId}.jsonl` : RECORDS_FILE;
      let unhashedFrom: number | undefined;
      // (a record's place: its seq, kind and session; checked with or without its hashes)
      const checkPlace = (r: (typeof list)[number], seq: number | undefined): void => {
        if (seq === undefined) p(file, "seq_invalid", `${r.where} has no seq.`);
        else if (seq !== expectSeq) {
          const k = seq < expectSeq ? (seq === expectSeq - 1 ? "seq_duplicate" : "seq_out_of_order") : "seq_gap";
          p(file, k, `${r.where} has seq ${seq} where ${expectSeq} was expected.`, seq);
        }
        if (r.type !== kind) p(file, "wrong_kind", `${r.where} is a ${String(r.type)}, not a ${kind}.`, seq);
        if (r.sessionId !== s.sessionId) p(file, "wrong_session", `${r.where} names session ${String(r.sessionId)}, not ${s.sessionId}.`, seq);
      };
      for (const r of list) {
        const seq = r.seq;
        if (r.withheld) withheld++;
        if (r.encryptedWithoutKey && !r.withheld) stillEncrypted++;
        if (r.hashWithheld) {
          // (content withheld in plaintext: the exporter left the chain hashes out from here on,
          // as they would confirm a guess of it; only seq, kind and session can be checked)
          unhashed++;
          unhashedFrom ??= seq ?? expectSeq;
          checkPlace(r, seq);
          expectSeq = (seq ?? expectSeq) + 1;
          if (seq !== undefined) lastSeq = seq;
          continue;
        }
        if (typeof r.hash !== "string" || !/^[0-9a-f]{64}$/.test(r.hash)) {
          p(file, "malformed_line", `${r.where} has no valid hash.`, seq);
          continue;
        }
        if (unhashedFrom !== undefined) {
          p(file, "malformed_line", `${r.where} (seq ${seq}) carries a hash after records of its chain whose hashes were withheld: the exporter leaves them out to the end of the chain.`, seq);
          continue;
        }
        if (r.recomputed !== undefined && r.recomputed !== r.hash) p(file, "record_modified", `${r.where} (seq ${seq}) does not match its hash: it was changed after it was written.`, seq);
        if (r.prevHash !== prevHash) p(file, "chain_broken", `${r.where} (seq ${seq}) does not link to the record before it: records were removed, inserted or reordered.`, seq);
        checkPlace(r, seq);
        prevHash = r.hash;
        expectSeq = (seq ?? expectSeq) + 1;
        if (seq !== undefined) {
          lastSeq = seq;
          merkle.push(r.hash);
          if (wanted.has(`${kind}:${seq}`)) at.set(seq, { hash: r.hash, root: merkle.root() });
        }
      }
      states[kind] = { lastSeq, at, prunedThrough: start?.lastSeq ?? 0, ...(unhashedFrom !== undefined ? { unhashedFrom } : {}) };
      const head = s.heads[kind] ?? { seq: 0, hash: GENESIS_HASH };
      const got = headsOf(byKind)[kind];
      if (head.seq !== got.seq || head.hash !== got.hash) {
        p(file, "export_heads_mismatch", `The manifest says the exported ${kind} chain of ${s.sessionId} ends at seq ${head.seq}, but the export ends at seq ${got.seq}${head.seq === got.seq ? " with another hash" : ""}.`, got.seq);
      }
    }
    const cpProblems: VerifyProblem[] = [];
    verifyCheckpoints({ sessionId: s.sessionId, checkpoints: cps, trusted, trustedKeys, states, problems: cpProblems, notes });
    for (const cp of cpProblems) problems.push({ ...cp, file: `${EXPORT_INTEGRITY_DIR}/${cp.file}` });
    const lastCp = cps.filter((c) => c.checkpoint).at(-1)?.checkpoint;
    if (s.checkpoints && (!lastCp || lastCp.hash !== s.checkpoints.lastHash || cps.length !== s.checkpoints.count)) {
      p(s.checkpoints.file, "checkpoint_missing", `The manifest names ${s.checkpoints.count} checkpoints of ${s.sessionId} ending with checkpoint ${s.checkpoints.lastN}, but the export holds ${cps.length}${lastCp ? ` ending with checkpoint ${lastCp.checkpoint.n}` : ""}.`);
    }
  }

  if (!manifest.includeFullContent || withheld > 0) {
    notes.push({
      kind: "content_withheld",
      detail:
        `The export was made without content: prompts, responses, tool calls, parameters and results were left out${withheld > 0 ? ` of ${withheld} records` : ""}; their records are checked by their links and the checkpoints, not by their own hashes.` +
        (unhashed > 0
          ? ` ${unhashed} records have no hash and prevHash either: the content withheld from them, or from an earlier record of their chain, is not encrypted in the log, and those hashes would confirm a guess of it (the exporter also left out their sessions' checkpoints, for the same reason). Only their seq is checked here, and the files against the manifest; to check their chain, verify the original logs.`
          : ""),
    });
  }
  if (stillEncrypted > 0) {
    notes.push({ kind: "content_encrypted", detail: `${stillEncrypted} exported records still hold encrypted fields: the export was made without the key that opens them (or their subject was crypto-shredded).` });
  }
  if (!anyCheckpoints) notes.push({ kind: "no_checkpoints", detail: `The export holds no signed checkpoints (the logger had no signingKey${unhashed > 0 ? ", or the exporter left them out: see content_withheld" : ""}).` });
  if (trustedKeys.length === 0) {
    notes.push({
      kind: "self_consistent_only",
      detail: "No trusted public key was given: the files match the manifest and the chains are self-consistent, but someone who rewrote the export and its manifest would not be caught. Pass publicKey (the CLI's --public-key) to check the signatures.",
    });
  }
  return { ok: problems.length === 0, sessions: sessions.map((s) => s.sessionId), recordsChecked, problems, notes };
}
