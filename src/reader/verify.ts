import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ENVELOPE, envelopeMismatch, GENESIS_HASH, splitSealedLine } from "../pipeline/chain.js";
import { encryptedFileKeyId, sha256Hex } from "../pipeline/encrypt.js";
import { KEY_STORE_PREFIX, readKeyStore } from "../pipeline/keyring.js";
import { CLAIM_OWNER_NAME, firstSessionId, invalidSessionFiles, irregularFiles, isFileSessionId, listSessionIds, safeReaddir, SESSION_FILE_MAX_BYTES, type KindFile } from "../sink/files.js";
import { readRegularFileSync } from "../regular-file.js";
import { CHAIN_KINDS, type ChainKind, type ContentFiles, type VerifyNote, type VerifyProblem, type VerifyReport } from "../types.js";
import { signedAuditEventSeq, verifyCheckpoints, type KindState } from "../integrity/verify-checkpoints.js";
import type { Checkpoint } from "../integrity/checkpoint.js";
import { toPublicKeys } from "../integrity/signing.js";
import { checkpointFileName, readCheckpoints } from "../integrity/checkpointer.js";
import type { KeyObject } from "node:crypto";
import { forEachLine, forEachLineBytes, MAX_LINE_BYTES } from "./lines.js";
import { walkChain } from "./chain-files.js";
import { checkVerifyOptions } from "../integrity/verify-options.js";
import { MerkleAccumulator } from "../integrity/merkle.js";
import { EXPORT_INTEGRITY_DIR, EXPORT_MANIFEST, verifyExport } from "../integrity/export.js";
import { manifestMatchesRecord, MANIFEST_MAX_BYTES, readContentFileSync } from "./content-file.js";
import { FileTooLargeError } from "../regular-file.js";
import { auditEventsOf, chainFilesBySession, goneBy, holdsBy } from "../sink/audit-events.js";
import { furthestPrunes, readPruneRecords, type SegmentPrune } from "../sink/prunes.js";
import { wholeUnterminatedRecord } from "../sink/recover.js";
import type { MerkleFrontier } from "../integrity/merkle.js";
import { RECORD_KINDS } from "../types.js";

export interface VerifyOptions {
  /** verify one session only (default: every session in the directory) */
  readonly sessionId?: string | undefined;
  /** trusted Ed25519 public key(s), PEM or KeyObject: checkpoint signatures are checked against them */
  readonly publicKey?: KeyObject | string | ReadonlyArray<KeyObject | string> | undefined;
  /** checkpoints kept outside the audit directory (a witness, WORM storage): the log must agree with them */
  readonly trustedCheckpoints?: readonly Checkpoint[] | undefined;
  /**
   * every session must be signed: one without any signed checkpoint is a `not_signed` problem,
   * not a `no_checkpoints` note (needs `publicKey`; the CLI's `--require-signed`)
   */
  readonly requireSigned?: boolean | undefined;
}

interface Findings {
  problems: VerifyProblem[];
  notes: VerifyNote[];
  records: number;
  contentRefs: Set<string>;
  /** data keys (`d…`) the records and content files are encrypted under: where each is first used */
  keyRefs: Map<string, { file: string; seq?: number }>;
  /** data keys a `subject_shredded` record says were destroyed */
  shredded: Set<string>;
}

/**
 * Checks every chain (hash, `prevHash` link, `seq`), every segment's presence, and every chat's
 * content files against the digests its record carries. `problems` are evidence of damage or
 * tampering; `notes` are findings that are not (a torn final line after a crash, …).
 *
 * @example
 * const report = await verifyAuditLog("./audit_logs");
 * if (!report.ok) console.error(report.problems);
 */
export async function verifyAuditLog(auditPath: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  checkVerifyOptions(options, "verifyAuditLog", ["auditPath", auditPath]);
  const dir = path.resolve(auditPath);
  const f: Findings = { problems: [], notes: [], records: 0, contentRefs: new Set(), keyRefs: new Map(), shredded: new Set() };
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    return { ok: false, sessions: [], recordsChecked: 0, problems: [{ file: dir, kind: "missing_directory", detail: `${dir} is not a directory.` }], notes: [] };
  }
  const present = listSessionIds(dir);
  // A directory export whose manifest was removed is not an empty audit directory: verified as
  // one, it was "OK, 0 records" (found by review, 2026-12-04). It is checked as an export, which
  // reports the missing manifest.
  if (present.length === 0 && !fs.existsSync(path.join(dir, EXPORT_MANIFEST)) && (fs.existsSync(path.join(dir, "audit_complete.json")) || fs.existsSync(path.join(dir, EXPORT_INTEGRITY_DIR)))) {
    return verifyExport(dir, options);
  }
  if (fs.existsSync(path.join(dir, EXPORT_MANIFEST))) {
    // a directory export carries its own signed manifest, and no session files
    if (present.length === 0) return verifyExport(dir, options);
    // Both: one of them was put there (the kit never writes an export into an audit directory).
    // Each is verified, and the mix is a problem: checked as the logs only, a dropped manifest
    // passed a tampered audit directory; as the export only, a dropped session file passed a
    // tampered export (found by reviews, 2026-12-04).
    const asExport = await verifyExport(dir, options);
    f.problems.push({
      file: EXPORT_MANIFEST,
      kind: "export_and_logs_mixed",
      detail: `${dir} holds a directory export's manifest and session files (${present.slice(0, 3).join(", ")}${present.length > 3 ? ", …" : ""}): one of them was added to the other. Both were verified; see the other problems.`,
    });
    f.problems.push(...asExport.problems);
    f.notes.push(...asExport.notes);
  }
  // (listings leave them out, so no reader opens them: a FIFO hung the verifier and the viewer,
  // a directory made them fail, a link showed a file from outside; found by review, 2026-12-04)
  for (const name of irregularFiles(dir, options.sessionId)) {
    f.problems.push({ file: name, kind: "file_not_regular", detail: `${name} is named like a file of the audit trail but is not a regular file (a symbolic link, a FIFO, a directory or a device): it was not read. The kit never writes one; it was put there.` });
  }
  // (left out of the listings, so no reader opens them: one such file made verify and every
  // reader that lists sessions throw AuditPathError; found by review, 2026-12-05)
  for (const { name, sessionId } of invalidSessionFiles(dir, options.sessionId)) {
    f.problems.push({ file: name, kind: "session_id_invalid", detail: `${name} is named like a file of the audit trail but names session "${sessionId}", which no session of the kit can have (it ends in ".<digits>", or is "." or ".."): it was not read. The kit never writes one; it was put there.` });
  }
  // Nothing to verify is not "OK": a directory emptied of its logs, or a project directory given
  // for its audit_logs/, verified as ok with 0 records, while the CLI failed the same directory
  // (found by a new-user run, 2026-12-05)
  if (present.length === 0 && options.sessionId === undefined && f.problems.length === 0) {
    const nested = path.join(dir, "audit_logs");
    const hint = fs.existsSync(nested) && fs.statSync(nested).isDirectory() ? ` It has an audit_logs/ directory: verify ${nested}.` : " Give the audit directory (the project's audit_logs/); if it is that, its logs were removed.";
    f.problems.push({ file: dir, kind: "no_audit_logs", detail: `${dir} holds no audit logs (no session_<id>.json file): nothing was verified.${hint}` });
    return { ok: false, sessions: [], recordsChecked: 0, problems: f.problems, notes: f.notes };
  }
  if (options.sessionId !== undefined && !present.includes(options.sessionId)) {
    f.problems.push({ file: dir, kind: "session_missing", sessionId: options.sessionId, detail: `${dir} holds no files of session ${options.sessionId}: it never wrote here, or its files were removed.` });
    return { ok: false, sessions: [], recordsChecked: 0, problems: f.problems, notes: f.notes };
  }
  const sessions = options.sessionId ? [options.sessionId] : present;
  const trustedKeys = toPublicKeys(options.publicKey);
  const { holds, shredded, removed } = collectDirectoryEvents(dir, trustedKeys, options.trustedCheckpoints ?? []);
  for (const kid of shredded) f.shredded.add(kid);
  if (options.sessionId === undefined) {
    missingSessions(present, (options.trustedCheckpoints ?? []) as readonly Checkpoint[], holds, removed, f);
  }
  let anyCheckpoints = false;
  for (const sessionId of sessions) {
    // The session file first, then the checkpoints, then the chains: finalizing writes them in
    // the other order (the last checkpoint, then "finalized"), so a session that says finalized
    // here has its last checkpoint in what is read next, also while it finalizes during the
    // verify (read last, a finalize meanwhile paired "finalized" with the checkpoints before it,
    // and checkpoint_missing was reported on an untampered log; found by a re-review, 2026-12-05).
    const firstProblem = f.problems.length;
    const file = readSessionInfo(dir, sessionId);
    // (another session's file put in its place says nothing of this one: see checkSessionFile)
    const info = file?.sessionId === sessionId ? file : undefined;
    const cps = readCheckpoints(dir, sessionId);
    const trusted = (options.trustedCheckpoints ?? []).filter((c) => c.checkpoint.sessionId === sessionId);
    const pruned = checkPrunes(dir, sessionId, holds, f, signedAuditEventSeq(cps, trusted, trustedKeys));
    if (cps.length === 0) {
      // finalizing always writes a checkpoint: a finalized, signed session without any lost them
      // (said without a public key too, as `truncated` is from the same session file: until
      // 2026-12-05 only with one, and serve's integrity panel, which never has one, said
      // "verified" of a signed session whose checkpoints file was deleted; found by the viewer pass)
      if (info?.status === "finalized" && typeof info.config?.signingKeyId === "string") {
        f.problems.push({
          file: checkpointFileName(sessionId),
          kind: "checkpoint_missing",
          detail: `Session ${sessionId} was finalized with signing key ${info.config.signingKeyId} but has no checkpoints: the checkpoints file was deleted or emptied.`,
        });
      }
    }
    if (cps.length > 0 || trusted.length > 0) anyCheckpoints = true;
    else if (options.requireSigned === true) {
      f.problems.push({ file: checkpointFileName(sessionId), kind: "not_signed", detail: `Session ${sessionId} has no signed checkpoints, and every session must be signed (requireSigned): its logger had no signingKey, it ended before its first checkpoint, or its checkpoints file was deleted.` });
    } else if (trustedKeys.length > 0) {
      // (said per session: said for the directory only when no session had any, a signed session
      // rewritten whole, its checkpoints file deleted, verified with no note at all beside another
      // signed session; found by an adversarial review, 2026-12-05)
      f.notes.push({
        file: checkpointFileName(sessionId),
        kind: "no_checkpoints",
        detail: `Session ${sessionId} has no signed checkpoints (its logger had no signingKey, it ended before its first checkpoint, or its checkpoints file was deleted): its chains are self-consistent only, and a rewrite of the whole session would not be caught.`,
      });
    }
    const wanted = {} as Record<ChainKind, Set<number>>;
    for (const kind of CHAIN_KINDS) wanted[kind] = new Set();
    for (const c of [...cps.map((x) => x.checkpoint), ...trusted]) {
      if (!c) continue;
      for (const kind of CHAIN_KINDS) {
        const h = c.checkpoint.heads[kind];
        if (h && typeof h.seq === "number" && h.seq > 0) wanted[kind].add(h.seq);
      }
    }
    const states = {} as Record<ChainKind, KindState>;
    const sessionProblems = f.problems.length;
    // the audit_event chain first: it says what retention removed from the others
    for (const kind of ["audit_event", ...RECORD_KINDS] as const) states[kind] = await verifyKind({ dir, sessionId, kind, f, wanted: wanted[kind], pruned: pruned[kind] });
    const notesBefore = f.notes.length;
    verifyCheckpoints({ sessionId, checkpoints: cps, trusted, trustedKeys, states, problems: f.problems, notes: f.notes });
    checkFinalHeads(info, sessionId, states, f, sessionProblems);
    checkSessionFile(dir, sessionId, file, states, cps.length, removed, f);
    // finalizing signs a checkpoint over every record: a finalized, signed session with records
    // past its last checkpoint lost checkpoints (its file cut after an earlier one, the records
    // after it rewritten: until 2026-12-05 only an unsigned_tail note said so)
    const tail = f.notes.slice(notesBefore).find((n) => n.kind === "unsigned_tail");
    // (and still finalized now: a session resumed while verify read it wrote records after its
    // last checkpoint legitimately)
    if (tail && readSessionInfo(dir, sessionId)?.status === "finalized") {
      if (info?.status === "finalized" && typeof info.config?.signingKeyId === "string") {
        f.problems.push({
          file: checkpointFileName(sessionId),
          kind: "checkpoint_missing",
          detail: `Session ${sessionId} was finalized with signing key ${info.config.signingKeyId}, which signs a checkpoint over every record, but records follow its last checkpoint (${tail.detail}): checkpoints were deleted (and the records after the last one may have been rewritten), or records were added after it was finalized.`,
        });
      }
    }
    // (which session each problem is of: summary and report say which sessions' numbers come
    // from logs that do not verify)
    for (let i = firstProblem; i < f.problems.length; i++) f.problems[i] = { ...f.problems[i]!, sessionId };
  }
  if (options.sessionId !== undefined) {
    // the session's own data keys, against every store and every shredding the directory records
    // (a shredding is recorded in the maintenance session): checked for the whole directory only,
    // a deleted key store verified per session (the viewer's verdict) was "verified" (found by
    // review, 2026-12-04)
    checkKeyStores(dir, f);
  } else {
    checkKeyStores(dir, f);
    const orphanManifests: string[] = [];
    for (const name of safeReaddir(path.join(dir, "full_interactions"))) {
      const rel = `full_interactions/${name}`;
      // (nor a claim's owner file: no content, see CLAIM_OWNER_SUFFIX)
      if (!f.contentRefs.has(rel) && !name.endsWith(".tmp") && !CLAIM_OWNER_NAME.test(name)) {
        f.notes.push({ file: rel, kind: "orphan_content", detail: `${rel} belongs to no record (a crash between writing content and its record, or a removed record).` });
        if (/^manifest_[A-Za-z0-9_-]{1,64}\.json$/.test(name)) orphanManifests.push(rel);
      }
    }
    sessionTraces(dir, present, removed, orphanManifests, f);
  }
  // (with a trusted key, each session without any was named above)
  if (!anyCheckpoints && trustedKeys.length === 0) {
    f.notes.push({ kind: "no_checkpoints", detail: "No signed checkpoints were found (the logger had no signingKey, or its checkpoints files were deleted)." });
  }
  if (!anyCheckpoints || trustedKeys.length === 0) {
    f.notes.push({
      kind: "self_consistent_only",
      detail: "No trusted public key was given (or there are no signed checkpoints): the chains are self-consistent, but someone who rewrote a whole chain after an edit would not be caught. Pass publicKey (the CLI's --public-key) to check the checkpoints' signatures.",
    });
  }
  return { ok: f.problems.length === 0, sessions, recordsChecked: f.records, problems: f.problems, notes: f.notes };
}

/**
 * Every data key the records and content files use is in a key store of the directory, or a
 * `subject_shredded` record says it was destroyed: a key store line deleted outside
 * crypto-shredding makes its subject's content unreadable for good, and verified as intact
 * (found by a new-user run, 2026-12-04). With one session, its keys are checked against every
 * store and every shredding of the directory (a shredding is recorded in the maintenance
 * session). Needs no key.
 */
function checkKeyStores(dir: string, f: Findings): void {
  if (f.keyRefs.size === 0) return;
  const stored = new Set<string>();
  // (read as the keyring reads them: a line it cannot parse holds no key; found by review)
  const tombstoned = new Set<string>();
  for (const name of safeReaddir(dir)) {
    if (!name.startsWith(KEY_STORE_PREFIX) || !name.endsWith(".jsonl")) continue;
    const { keys, tombstones } = readKeyStore(path.join(dir, name));
    for (const w of keys) stored.add(w.kid);
    for (const t of tombstones) tombstoned.add(t.kid);
  }
  for (const [kid, at] of f.keyRefs) {
    if (stored.has(kid) || f.shredded.has(kid)) continue;
    if (tombstoned.has(kid)) {
      // its shred's record is no longer in the directory (its session was removed by a cleanup
      // that records no removal): the store's tombstone says it was shredded. A claim, not a
      // proof (the key stores are not chained): a note, so that it is seen.
      f.notes.push({ file: at.file, kind: "key_shredded", detail: `Data key ${kid} was destroyed by crypto-shredding, says its key store's tombstone; no chained record in the directory names that shredding any more (its session was removed). The key stores are not chained: check the shredding against your erasure requests.` });
      continue;
    }
    f.problems.push({
      file: at.file,
      ...(at.seq !== undefined ? { seq: at.seq } : {}),
      kind: "key_missing",
      detail: `Data key ${kid}, which ${at.file}${at.seq !== undefined ? ` (seq ${at.seq})` : ""} is encrypted under, is in no key store of the directory, and no subject_shredded record says it was destroyed: a key store was edited outside crypto-shredding, and that subject's encrypted content can no longer be read.`,
    });
  }
}

/** How an encrypted member value begins, up to its key id (see src/pipeline/encrypt.ts). */
const ENCRYPTED_KID = Buffer.from('{"$enc":"aes-256-gcm/v1","kid":"');

/** Notes the data keys (`d…`) the line `data[start, end)` has encrypted values under. */
function noteKeyRefs(data: Buffer, start: number, end: number, file: string, seq: number | undefined, f: Findings): void {
  // (the line only: searched from the line's start to the end of the chunk, a line without a key
  // scanned the rest of its 1 MiB chunk, every line: verify ran at 4 MB/s, not 100; found 2026-12-05)
  const line = data.subarray(start, end);
  let at = line.indexOf(ENCRYPTED_KID);
  while (at !== -1) {
    const from = at + ENCRYPTED_KID.length;
    const close = line.indexOf(0x22, from);
    if (close === -1) return;
    const kid = line.toString("latin1", from, close);
    if (kid.startsWith("d") && !f.keyRefs.has(kid)) f.keyRefs.set(kid, seq !== undefined ? { file, seq } : { file });
    at = line.indexOf(ENCRYPTED_KID, close);
  }
}

const HEADER_BYTES = 512;
const FULL_CONTENT = Buffer.from('"fullContent":');
const REPAIRED = Buffer.from('"errorType":"audit_log_repaired"');
const HASH_MEMBER = Buffer.from(',"hash":"');
const CLOSE = Buffer.from("}");

function includesBytes(data: Buffer, needle: Buffer, start: number, end: number): boolean {
  // search the line only, not the rest of the chunk
  return data.subarray(start, end).indexOf(needle) !== -1;
}

/** The line `data[start, end)` ends in `,"hash":"<64 hex>"}`: its hash and where the hashed body stops. */
function sealedBytes(data: Buffer, start: number, end: number): { hash: string; bodyEnd: number } | undefined {
  const len = end - start;
  if (len < 77 || data[end - 1] !== 0x7d || data[end - 2] !== 0x22) return undefined;
  const at = end - 75;
  if (data.compare(HASH_MEMBER, 0, HASH_MEMBER.length, at, at + HASH_MEMBER.length) !== 0) return undefined;
  // not checked for hex here: a hash that is not hex cannot match the recomputed one
  return { hash: data.toString("latin1", at + 9, end - 2), bodyEnd: at };
}

/** SHA-256(prevHash ‖ body ‖ "}") over the line's own bytes, the body being `data[start, bodyEnd)`. */
function hashBodyBytes(prevHash: string, data: Buffer, start: number, bodyEnd: number): string {
  return createHash("sha256").update(prevHash, "latin1").update(data.subarray(start, bodyEnd)).update(CLOSE).digest("hex");
}

/** One chain to check: its session and kind, the findings, the seqs checkpoints name, where retention cut it. */
interface ChainCheck {
  readonly dir: string;
  readonly sessionId: string;
  readonly kind: ChainKind;
  readonly f: Findings;
  readonly wanted: ReadonlySet<number>;
  readonly pruned: PrunedStart | undefined;
}

async function verifyKind(c: ChainCheck): Promise<KindState> {
  const { dir, sessionId, kind, f, pruned } = c;
  // Checkpoint heads are compared by hash: with the chain intact, the hash at seq N commits to
  // every record before it, so the signed Merkle root needs no recomputation here.
  const at = new Map<number, { hash: string }>();
  if (pruned) at.set(pruned.lastSeq, { hash: pruned.lastHash });
  const problemsBefore = f.problems.length;
  const firstSegment = (pruned?.lastSegment ?? 0) + 1;
  // The chain's files as the readers walk them (walkChain). Listed once, a rotation by a logger
  // still writing the session while verify read it (verify of a live session) left the active
  // name holding newer records: chain_broken and seq_gap were reported with nothing tampered, in
  // 10 of 10 runs (found 2026-12-05). The active file's descriptor is held to the end, for the
  // second pass below.
  const files: Array<{ file: KindFile; source: string | number; last: boolean }> = [];
  const steps = walkChain(dir, kind, sessionId);
  try {
    let expected = firstSegment;
    for (let step = steps.next(); !step.done; ) {
      const cur = step.value;
      if (cur.kind === "active") {
        files.push({ file: cur.file, source: cur.fd, last: true });
        break;
      }
      const s = cur.file;
      const want = expected;
      expected = s.segment! + 1;
      if (s.segment! > want && files.length === 0) {
        f.problems.push({
          file: s.name,
          kind: "pruned_without_record",
          detail: `Segments ${want}..${s.segment! - 1} of ${kind} are gone and no retention record explains it: records were deleted outside the retention policy.`,
        });
      } else if (s.segment !== want) {
        f.problems.push({ file: s.name, kind: "segment_missing", detail: `Segment ${want}${s.segment! - 1 > want ? `..${s.segment! - 1}` : ""} of ${kind} is missing before ${s.name}: rotated records were deleted or renamed.` });
      }
      step = steps.next(); // (a segment is the last file when no active file follows it)
      files.push({ file: s, source: s.path, last: step.done === true });
    }
  } finally {
    steps.return(undefined);
  }
  try {
    return await verifyFiles(c, files, at, problemsBefore);
  } finally {
    for (const x of files) if (typeof x.source === "number") fs.closeSync(x.source);
  }
}

/** Checks the files of one chain, in order (see verifyKind), and the checkpoints taken from it. */
async function verifyFiles(c: ChainCheck, files: ReadonlyArray<{ file: KindFile; source: string | number; last: boolean }>, at: Map<number, { hash: string }>, problemsBefore: number): Promise<KindState> {
  const { dir, sessionId, kind, f, wanted, pruned } = c;
  let lastSeq = pruned?.lastSeq ?? 0;
  let prevHash = pruned?.lastHash ?? GENESIS_HASH;
  let expectSeq = (pruned?.lastSeq ?? 0) + 1;
  for (const { file, source, last: lastFile } of files) {
    let problemSeq: number | undefined;
    const problemAt = (k: string, detail: string) => f.problems.push({ file: file.name, ...(problemSeq !== undefined ? { seq: problemSeq } : {}), kind: k, detail });
    // this file's last record, for a final line without its newline
    let fileLast: { seq: number; hash: string } | undefined;
    await forEachLineBytes(source, (data, start, end, lineNo, terminated, oversized) => {
      if (oversized !== undefined) {
        // (passed over, never held: see MAX_LINE_BYTES)
        if (!terminated && lastFile) {
          f.notes.push({ file: file.name, kind: "torn_final_line", detail: `${file.name} ends in an incomplete line (${oversized} bytes), as a crash mid-write leaves; the next logger on this session cuts it off.` });
        } else {
          f.problems.push({
            file: file.name,
            kind: "malformed_line",
            detail: `Line ${lineNo} of ${file.name} is ${oversized} bytes long, longer than any line the readers read (${MAX_LINE_BYTES} bytes): it is not a sealed audit record, and was not read.`,
          });
        }
        return;
      }
      const whole = !terminated && lastFile ? wholeUnterminatedRecord(data.toString("utf8", start, end), fileLast) : undefined;
      if (whole) {
        // checked below as the record it is: the readers return it, the next logger adds the newline
        f.notes.push({
          file: file.name,
          seq: whole.seq,
          kind: "final_newline_missing",
          detail: `${file.name} ends in a whole sealed record (seq ${whole.seq}) without its newline, as a crash between the record and its newline leaves; readers and exports include it, and the next logger on this session adds the newline.`,
        });
      } else if (!terminated) {
        if (lastFile) {
          f.notes.push({ file: file.name, kind: "torn_final_line", detail: `${file.name} ends in an incomplete line (${end - start} bytes), as a crash mid-write leaves; the next logger on this session cuts it off.` });
        } else {
          f.problems.push({ file: file.name, kind: "malformed_line", detail: `${file.name} ends without a newline but is not the newest file of ${kind}.` });
        }
        return;
      }
      const raw = { line: lineNo };
      // Bytes, not text: the envelope's leading members and the hash member are ASCII, so they are
      // read from the raw bytes; the body is hashed as bytes; the whole line is decoded and parsed
      // only where its content matters (content files, the logger's own events, repairs) or the
      // fast reading fails.
      const sealed = sealedBytes(data, start, end);
      const h = sealed ? ENVELOPE.exec(data.toString("latin1", start, Math.min(end, start + HEADER_BYTES))) : null;
      let rec: Record<string, unknown> | undefined;
      const needsBody =
        !h ||
        kind === "audit_event" ||
        (kind === "chat_interaction" && includesBytes(data, FULL_CONTENT, start, end)) ||
        (kind === "error" && includesBytes(data, REPAIRED, start, end));
      if (needsBody) {
        try {
          rec = JSON.parse(data.toString("utf8", start, end)) as Record<string, unknown>;
        } catch {
          rec = undefined;
        }
        if (!rec || typeof rec !== "object" || !sealed) {
          f.problems.push({ file: file.name, kind: "malformed_line", detail: `Line ${raw.line} of ${file.name} is not a sealed audit record.` });
          return;
        }
        const repeated = h ? envelopeMismatch(data.toString("latin1", start, Math.min(end, start + HEADER_BYTES)), rec) : undefined;
        if (repeated !== undefined) {
          f.problems.push({
            file: file.name,
            seq: Number(h![5]),
            kind: "malformed_line",
            detail: `Line ${raw.line} of ${file.name} repeats its ${repeated} member with another value: read as JSON it says something else than its envelope (seq ${h![5]}). The kit never writes one; it was made to mislead a reader.`,
          });
        }
      }
      const seq = h ? Number(h[5]) : typeof rec?.seq === "number" ? rec.seq : undefined;
      const recPrev = h ? h[6]! : String(rec?.prevHash);
      const recSession = h ? h[3] : rec?.sessionId;
      const recType = h ? h[2] : rec?.type;
      f.records++;
      const loc = `${file.name}:${raw.line}`;
      const p = problemAt;
      problemSeq = seq;
      if (hashBodyBytes(recPrev, data, start, sealed!.bodyEnd) !== sealed!.hash) {
        p("record_modified", `Record ${loc} (seq ${seq}) does not match its hash: it was changed after it was written.`);
      }
      if (recPrev !== prevHash) {
        p("chain_broken", `Record ${loc} (seq ${seq}) does not link to the record before it: records were removed, inserted or reordered.`);
      }
      if (seq === undefined) p("seq_invalid", `Record ${loc} has no seq.`);
      else if (seq !== expectSeq) {
        const k = seq < expectSeq ? (seq === expectSeq - 1 ? "seq_duplicate" : "seq_out_of_order") : "seq_gap";
        p(k, `Record ${loc} has seq ${seq} where ${expectSeq} was expected.`);
      }
      if (recSession !== sessionId) p("wrong_session", `Record ${loc} names session ${String(recSession)}, not ${sessionId}.`);
      if (recType !== kind) p("wrong_kind", `Record ${loc} is a ${String(recType)} in the ${kind} file.`);
      noteKeyRefs(data, start, end, file.name, seq, f);
      if (rec) {
        if (kind === "chat_interaction" && rec.fullContent) checkContent(dir, file, rec, sealed!.hash, f);
        if (kind === "audit_event" && rec.eventType === "subject_shredded") {
          // (what it destroyed counts as shredded when collectDirectoryEvents took it)
          const ids = (rec.details as { keyIds?: unknown } | undefined)?.keyIds;
          f.notes.push({
            file: file.name,
            ...(seq !== undefined ? { seq } : {}),
            kind: "key_shredded",
            // (a shred that found none said "were destroyed (crypto-shredding: )"; CLI pass, 2026-12-06)
            detail:
              Array.isArray(ids) && ids.length === 0
                ? `A crypto-shredding was recorded at ${String(rec.timestamp)}, but no data key of its subject was found, so none was destroyed (a subject with no encrypted record, or one already shredded).`
                : `A subject's data keys were destroyed (crypto-shredding${Array.isArray(ids) ? `: ${ids.join(", ")}` : ""}) at ${String(rec.timestamp)}; its encrypted content stays unreadable, its records still verify.`,
          });
        }
        if (kind === "error" && rec.errorType === "audit_log_repaired") {
          f.notes.push({ file: file.name, ...(seq !== undefined ? { seq } : {}), kind: "repaired_after_crash", detail: String(rec.message) });
        }
      }
      prevHash = sealed!.hash;
      fileLast = seq !== undefined ? { seq, hash: sealed!.hash } : undefined;
      expectSeq = (seq ?? expectSeq) + 1;
      if (seq !== undefined) {
        lastSeq = seq;
        if (wanted.has(seq)) at.set(seq, { hash: sealed!.hash });
      }
    });
  }
  // A damaged chain gets a second pass that recomputes the Merkle roots, so the checkpoints are
  // compared on their roots too (an edit before a checkpoint's head then shows as a mismatch).
  if (f.problems.length > problemsBefore && wanted.size > 0) {
    const merkle = pruned ? MerkleAccumulator.fromFrontier(pruned.frontier) : new MerkleAccumulator();
    const roots = new Map<number, { hash: string; root: string }>();
    if (pruned) roots.set(pruned.lastSeq, { hash: pruned.lastHash, root: merkle.root() });
    for (const { source } of files) {
      await forEachLine(source, (raw) => {
        const sealed = raw.terminated ? splitSealedLine(raw.text) : undefined;
        const m = sealed ? /"seq":(\d{1,15}),/.exec(raw.text) : null;
        if (!sealed || !m) return;
        merkle.push(sealed.hash);
        const seq = Number(m[1]);
        if (wanted.has(seq)) roots.set(seq, { hash: sealed.hash, root: merkle.root() });
      });
    }
    return { lastSeq, lastHash: prevHash, at: roots, prunedThrough: pruned?.lastSeq ?? 0 };
  }
  return { lastSeq, lastHash: prevHash, at, prunedThrough: pruned?.lastSeq ?? 0 };
}

function checkContent(dir: string, file: KindFile, rec: Record<string, unknown>, recordHash: string, f: Findings): void {
  const refs = rec.fullContent as ContentFiles;
  const seq = rec.seq as number;
  const p = (k: string, at: string, detail: string) => f.problems.push({ file: at, seq, kind: k, detail });
  for (const role of ["prompt", "response"] as const) {
    const ref = refs[role];
    if (!ref || typeof ref.file !== "string") {
      p("content_mismatch", file.name, `Record seq ${seq} has no ${role} file reference.`);
      continue;
    }
    f.contentRefs.add(ref.file);
    let data: Buffer | undefined;
    try {
      // (no more than its record says: a planted file of GiBs is a mismatch, not read)
      data = readContentFileSync(dir, ref.file, typeof ref.bytes === "number" ? ref.bytes : undefined);
    } catch (err) {
      if (err instanceof FileTooLargeError) {
        p("content_mismatch", ref.file, `The ${role} file of interaction ${String(rec.id)} (seq ${seq}) is ${err.size} bytes, its record says ${ref.bytes}: not read.`);
        continue;
      }
      // (a link, a FIFO, a linked directory: never read, as the readers never read them)
      p("content_unreadable", ref.file, `The ${role} file of interaction ${String(rec.id)} (seq ${seq}) cannot be read: ${(err as Error).message}`);
      continue;
    }
    if (data === undefined) {
      p("content_missing", ref.file, `The ${role} file of interaction ${String(rec.id)} (seq ${seq}) is missing.`);
      continue;
    }
    // (an empty file its record says holds bytes: created, and the process killed before its
    // write, or the machine lost power before the file's data reached the disk: the loss window
    // README.md describes, as a file never created; found by the durability operator pass,
    // 2026-12-05, after SIGKILLs: it was content_mismatch, which reads as tampering)
    // (likewise one shorter than its record says: a write cut short, by a crash or by a disk that
    // refused the rest, as EFBIG and ENOSPC do, and the process ended before it was written again)
    if (typeof ref.bytes === "number" && data.length < ref.bytes) {
      const state = data.length === 0 ? "empty: created but never written (a crash between the two), or emptied" : `cut short (${data.length} of ${ref.bytes} bytes): its write did not end, or it was cut`;
      p("content_missing", ref.file, `The ${role} file of interaction ${String(rec.id)} (seq ${seq}) is ${state}.`);
      continue;
    }
    const kid = encryptedFileKeyId(data);
    if (kid !== undefined && kid.startsWith("d") && !f.keyRefs.has(kid)) f.keyRefs.set(kid, { file: ref.file, seq });
    if (data.length !== ref.bytes || sha256Hex(data) !== ref.sha256) {
      p("content_mismatch", ref.file, `The ${role} file of interaction ${String(rec.id)} (seq ${seq}) differs from the digest in its record.`);
    }
  }
  if (typeof refs.manifest === "string") {
    f.contentRefs.add(refs.manifest);
    try {
      const m = JSON.parse(String(readContentFileSync(dir, refs.manifest, MANIFEST_MAX_BYTES))) as unknown;
      if (!manifestMatchesRecord(m, rec, recordHash, refs)) {
        p("manifest_mismatch", refs.manifest, `The manifest of interaction ${String(rec.id)} (seq ${seq}) does not match its record.`);
      }
    } catch {
      p("content_missing", refs.manifest, `The manifest of interaction ${String(rec.id)} (seq ${seq}) is missing or unreadable.`);
    }
  }
}

interface PrunedStart {
  readonly lastSeq: number;
  readonly lastHash: string;
  readonly lastSegment: number;
  readonly frontier: MerkleFrontier;
}

interface HoldSpan {
  readonly id: string;
  readonly scope: string;
  readonly placedAt: number;
  releasedAt: number | undefined;
}

/**
 * Every legal hold placed (and released) in any session's audit_event chain. A release is
 * believed only where its session's chain is signed, when that can be told (see
 * signedAuditEventSeq): an appended one needs no key (found by review, 2026-12-04). Placements
 * all count (one more hold can only make more prunes suspect). Releases are matched once every
 * placement is known (a release read before its placement's session was lost). And every data
 * key a shredding destroyed (`subject_shredded`, and a removed session's shreddings its
 * `retention_pruned` record carries), believed as releases are: the key stores are checked
 * against them (see checkKeyStores), in one scan with the holds.
 */
function collectDirectoryEvents(dir: string, trustedKeys: readonly KeyObject[], trustedCheckpoints: readonly Checkpoint[]): { holds: HoldSpan[]; shredded: Set<string>; removed: Set<string> } {
  const spans = new Map<string, HoldSpan>();
  const releases: Array<{ ids: readonly string[]; at: number }> = [];
  const shredded = new Set<string>();
  const removed = new Set<string>();
  // (the directory listed once, each session's chain files found in it by name, see
  // chainFilesBySession: each session's chain listed it again, so one session's verdict read
  // 16,000 names 2,000 times at 2,000 sessions, ~45 s for serve's first integrity request; found
  // 2026-12-06)
  const names = safeReaddir(dir);
  const chains = chainFilesBySession(names);
  for (const sessionId of listSessionIds(dir, names)) {
    const signed = signedAuditEventSeq(readCheckpoints(dir, sessionId), trustedCheckpoints.filter((c) => c.checkpoint.sessionId === sessionId), trustedKeys);
    // (with a trusted key, only what a signed checkpoint covers: a record anyone can seal onto
    // the chain with no key must not excuse a removal)
    const covered = (seq: unknown): boolean => signed === undefined || (typeof seq === "number" && seq <= signed);
    for (const rec of auditEventsOf(dir, sessionId, ["legal_hold_placed", "legal_hold_released", "subject_shredded", "retention_pruned"], chains.get(sessionId) ?? [])) {
      const d = (rec.details ?? {}) as { holdId?: unknown; scope?: unknown; holdIds?: unknown };
      if (rec.eventType === "subject_shredded" || rec.eventType === "retention_pruned") {
        // a shredding, or a removed session's shreddings carried by its retention record (a
        // forged one excused a key deleted from its store, 2026-12-04, fifth session), and the
        // sessions removed, with those the removed one had removed (their records went with it)
        if (covered(rec.seq)) {
          const gone = goneBy(rec);
          for (const id of gone.keyIds) shredded.add(id);
          for (const id of gone.sessionIds) removed.add(id);
        }
        // and the holds the removed session's chain placed and released, which its removal
        // record carries (see carriedBy in retention.ts), believed as that chain's own were:
        // placements all count, releases where the record is covered
        const held = holdsBy(rec, sessionId);
        for (const h of held.placed) if (!spans.has(h.holdId)) spans.set(h.holdId, { id: h.holdId, scope: h.scope, placedAt: Date.parse(h.placedAt), releasedAt: undefined });
        if (covered(rec.seq)) for (const r of held.released) releases.push({ ids: [r.holdId], at: Date.parse(r.releasedAt) });
        continue;
      }
      const t = Date.parse(String(rec.timestamp));
      if (rec.eventType === "legal_hold_placed" && typeof d.holdId === "string" && d.holdId && typeof d.scope === "string" && d.scope) {
        spans.set(d.holdId, { id: d.holdId, scope: d.scope, placedAt: t, releasedAt: undefined });
      } else if (rec.eventType === "legal_hold_released" && Array.isArray(d.holdIds) && covered(rec.seq)) {
        releases.push({ ids: d.holdIds.filter((id): id is string => typeof id === "string"), at: t });
      }
    }
  }
  for (const r of releases) {
    for (const id of r.ids) {
      const span = spans.get(id);
      if (span && (span.releasedAt === undefined || r.at < span.releasedAt)) span.releasedAt = r.at;
    }
  }
  return { holds: [...spans.values()], shredded, removed };
}

/**
 * Sessions the directory no longer holds that something trusted says it should: trusted
 * checkpoints of the session, or a legal hold in force on it (placed in any session's chain),
 * with no retention record of its removal (`removed`). Found by an adversarial review,
 * 2026-12-05: verify looked only at the sessions still there, so deleting a whole session's files
 * was OK even with the witness's checkpoints of it given, or under a hold.
 */
function missingSessions(present: readonly string[], trusted: readonly Checkpoint[], holds: readonly HoldSpan[], removed: ReadonlySet<string>, f: Findings): void {
  const here = new Set(present);
  const gone = (sid: string) => !here.has(sid) && !removed.has(sid);
  const witnessed = new Set(trusted.map((c) => c.checkpoint.sessionId).filter(gone));
  for (const sid of witnessed) {
    f.problems.push({ file: `session_${sid}.json`, kind: "session_missing", sessionId: sid, detail: `Trusted checkpoints name session ${sid}, but the directory holds no file of it and no retention record removed it: its files were deleted.` });
  }
  for (const h of holds) {
    if (h.releasedAt !== undefined || h.scope === "all" || !gone(h.scope) || witnessed.has(h.scope)) continue;
    f.problems.push({
      file: `session_${h.scope}.json`,
      kind: "session_missing",
      sessionId: h.scope,
      detail: `Legal hold ${h.id} is in force on session ${h.scope}, but the directory holds no file of it and no retention record removed it: its files were deleted (or the hold names a session that never wrote here; release it then).`,
    });
  }
}

/**
 * Where each kind's chain starts after retention, and whether each prune respected holds and the
 * retention period: segment prunes of this session, and whole sessions this session's cleanup
 * removed (their `retention_pruned` records are in the chain of the session that ran it).
 */
function checkPrunes(dir: string, sessionId: string, holds: readonly HoldSpan[], f: Findings, signedThrough: number | undefined): Partial<Record<ChainKind, PrunedStart>> {
  const file = `audit_events_${sessionId}.jsonl`;
  const records = readPruneRecords(dir, sessionId);
  for (const m of records.malformed) {
    f.problems.push({ file, ...(m.seq !== undefined ? { seq: m.seq } : {}), kind: "malformed_line", detail: `A retention_pruned record${m.seq !== undefined ? ` (seq ${m.seq})` : ""} is not one the kit writes (${m.detail}): what it removed cannot be told from tampering.` });
  }
  // Holds are placed and released, and removals recorded, under the holds lock, so their records'
  // times are in lock order; within one millisecond the kit's own order is the legitimate one
  // (a removal at a hold's placing time came before it, at its release time after it).
  const heldAt = (scope: string, t: number): HoldSpan | undefined => holds.find((h) => (h.scope === "all" || h.scope === scope) && h.placedAt < t && (h.releasedAt === undefined || h.releasedAt > t));
  for (const { event, time, seq } of records.segments) {
    const t = Date.parse(time);
    const held = heldAt(sessionId, t);
    if (held) {
      f.problems.push({ file, seq, kind: "pruned_under_hold", detail: `Segments ${event.segments.join(", ")} of ${event.kind} were pruned at ${time} while legal hold ${held.id} (${held.scope}) was in force.` });
    }
    const minMs = event.policy.minRetentionDays * 86_400_000;
    if (minMs > 0 && t - Date.parse(event.newestRecordTime) < minMs) {
      f.problems.push({ file, seq, kind: "pruned_too_early", detail: `Segments ${event.segments.join(", ")} of ${event.kind} were pruned at ${time}, before the ${event.policy.minRetentionDays}-day retention period of their newest record (${event.newestRecordTime}) ran out.` });
    }
    f.notes.push({ file, kind: "pruned_by_policy", detail: `Segments ${event.segments.join(", ")} of ${event.kind} (records up to seq ${event.lastSeq}) were removed by retention at ${time}.` });
  }
  for (const { event, time, seq } of records.sessions) {
    const t = Date.parse(time);
    const held = heldAt(event.sessionId, t);
    if (held) {
      f.problems.push({ file, seq, kind: "pruned_under_hold", detail: `Session ${event.sessionId} was removed at ${time} while legal hold ${held.id} (${held.scope}) was in force.` });
    }
    const minMs = event.policy.minRetentionDays * 86_400_000;
    if (minMs > 0 && t - Date.parse(event.lastActivity) < minMs) {
      f.problems.push({ file, seq, kind: "pruned_too_early", detail: `Session ${event.sessionId} was removed at ${time}, before the ${event.policy.minRetentionDays}-day retention period of its newest record (${event.lastActivity}) ran out.` });
    }
    f.notes.push({ file, kind: "pruned_by_policy", detail: `Session ${event.sessionId} (${event.files.length} files) was removed by retention at ${time}.` });
  }
  // (a chain starts after a prune only when its record is signed, if that can be told: see
  // signedAuditEventSeq; one that is not leaves the removed segments pruned_without_record)
  const honoured = signedThrough === undefined ? records : { ...records, segments: records.segments.filter((r) => r.seq <= signedThrough) };
  const out: Partial<Record<ChainKind, PrunedStart>> = {};
  for (const [kind, event] of Object.entries(furthestPrunes(honoured)) as Array<[ChainKind, SegmentPrune]>) {
    out[kind] = { lastSeq: event.lastSeq, lastHash: event.lastHash, lastSegment: Math.max(...event.segments), frontier: event.merkleFrontier };
  }
  return out;
}

/**
 * A finalized session: its session file's `heads` say where each chain ended (what signed
 * checkpoints prove; without them, or when none covers the end, this is all there is). Chains that end earlier lost records from the end (a deleted last segment, a cut last
 * line), which nothing else shows without checkpoints (found by review, 2026-12-04). The session
 * file is outside the chains, so this catches a cut, not someone who edits that file too.
 */
function checkFinalHeads(info: SessionInfo | undefined, sessionId: string, states: Readonly<Record<ChainKind, KindState>>, f: Findings, from: number): void {
  if (info?.status !== "finalized" || typeof info.heads !== "object" || info.heads === null) return;
  for (const kind of CHAIN_KINDS) {
    const head = (info.heads as Record<string, { seq?: unknown; hash?: unknown } | undefined>)[kind];
    const seq = head?.seq;
    // the same end, another record there: the chain was rewritten up to its end (found by an
    // adversarial review, 2026-12-05: only the seq was compared)
    if (typeof seq === "number" && seq === states[kind].lastSeq && typeof head?.hash === "string" && states[kind].lastHash !== undefined && head.hash !== states[kind].lastHash) {
      f.problems.push({
        file: `session_${sessionId}.json`,
        seq,
        kind: "record_modified",
        detail: `The ${kind} chain ends at seq ${seq}, as the finalized session file says, but not with the record it names (hash ${head.hash.slice(0, 12)}…): the chain was rewritten.`,
      });
      continue;
    }
    if (typeof seq !== "number" || seq <= states[kind].lastSeq) continue;
    // (a checkpoint that covers it said so already)
    if (f.problems.slice(from).some((p) => p.kind === "truncated" && p.detail.startsWith(`The ${kind} chain ends`))) continue;
    f.problems.push({
      file: `session_${sessionId}.json`,
      seq,
      kind: "truncated",
      detail: `The ${kind} chain ends at seq ${states[kind].lastSeq}, but the finalized session file says it ended at seq ${seq}: records were removed from the end.`,
    });
  }
}

/**
 * A session whose records (or checkpoints) are here has its `session_<id>.json`: the logger
 * writes it as it opens, before its first record, and replaces it whole (rename), so a session
 * with records and no session file (`session_file_missing`), or one that is not the JSON object
 * the kit writes (`session_file_damaged`), lost it to a deletion or an edit. Found by the integrity pass, 2026-12-05: deleting the session file of
 * a session (signed or not) verified OK, and with it went what verify reads there (`finalized`,
 * the heads a cut is told by, the signing key that makes deleted checkpoints a problem). A
 * session a retention record removed is not asked for it (a cleanup interrupted between its
 * files). A session file that is no regular file is `file_not_regular` already. A session with
 * no record and no checkpoint is left alone: a logger's constructor opens its chain files just
 * before it writes its session file, and verify may look in between.
 */
function checkSessionFile(dir: string, sessionId: string, info: SessionInfo | undefined, states: Readonly<Record<ChainKind, KindState>>, checkpoints: number, removed: ReadonlySet<string>, f: Findings): void {
  if (removed.has(sessionId)) return;
  const name = `session_${sessionId}.json`;
  const st = fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false });
  if (st !== undefined && !st.isFile()) return;
  const records = CHAIN_KINDS.reduce((n, kind) => n + states[kind].lastSeq, 0);
  if (records === 0 && checkpoints === 0) return;
  const evidence = records > 0 ? `${records} record${records === 1 ? "" : "s"} in its chain files${checkpoints > 0 ? ` and ${checkpoints} checkpoint${checkpoints === 1 ? "" : "s"}` : ""}` : `${checkpoints} checkpoint${checkpoints === 1 ? "" : "s"}`;
  if (st === undefined) {
    f.problems.push({
      file: name,
      kind: "session_file_missing",
      detail: `Session ${sessionId} has ${evidence}, but its session file ${name} is gone and no retention record removed the session: it was deleted (with it, whether the session was finalized, where its chains ended and whether it was signed can no longer be checked).`,
    });
  } else if (info === null || typeof info !== "object" || Array.isArray(info) || info.sessionId !== sessionId) {
    // (its own kind: an officer tells a damaged file from a deleted one without reading the
    // detail; both were session_file_missing until the viewer pass, 2026-12-05)
    f.problems.push({
      file: name,
      kind: "session_file_damaged",
      detail: `Session ${sessionId} has ${evidence}, but its session file ${name} is not the session file the kit writes (${info === undefined ? "not JSON, or over 64 MiB" : "it names another session or none"}): it was damaged or replaced.`,
    });
  }
}

/**
 * Sessions no longer listed (no chain file of a record kind, no session file) whose other files
 * remain: their checkpoints, their `audit_event` chain, or content manifests (of no record) naming them. The kit
 * removes those with the session, after a retention record (`removed`): left behind, they tell
 * that the session's other files were deleted.
 */
function sessionTraces(dir: string, present: readonly string[], removed: ReadonlySet<string>, orphanManifests: readonly string[], f: Findings): void {
  // (a session already said missing, from trusted checkpoints or a hold, is not said twice)
  const here = new Set([...present, ...f.problems.filter((p) => p.kind === "session_missing" && p.sessionId !== undefined).map((p) => p.sessionId!)]);
  const traces = new Map<string, string[]>();
  const add = (sid: string, what: string): void => {
    if (here.has(sid) || removed.has(sid) || !isFileSessionId(sid)) return;
    traces.set(sid, [...(traces.get(sid) ?? []), what]);
  };
  for (const name of safeReaddir(dir)) {
    const cp = /^checkpoints_(.+)\.jsonl$/.exec(name);
    if (cp && fileHasBytes(path.join(dir, name))) add(cp[1]!, name);
    const ev = /^audit_events_(.+?)(?:\.\d+)?\.jsonl$/.exec(name);
    if (ev && fileHasBytes(path.join(dir, name))) add(firstSessionId(path.join(dir, name)) ?? ev[1]!, name);
  }
  // (manifests that no record names only: the others belong to a session that is here)
  for (const rel of orphanManifests) {
    try {
      const m = JSON.parse(String(readContentFileSync(dir, rel, MANIFEST_MAX_BYTES))) as { sessionId?: unknown };
      if (typeof m.sessionId === "string") add(m.sessionId, rel);
    } catch {
      // (unreadable: not evidence of anything; its record, if any, reports it)
    }
  }
  for (const [sid, files] of traces) {
    f.problems.push({
      file: `session_${sid}.json`,
      kind: "session_missing",
      sessionId: sid,
      detail: `Session ${sid} has no session file and no records here, but ${files.slice(0, 3).join(", ")}${files.length > 3 ? ` and ${files.length - 3} more` : ""} remain${files.length === 1 ? "s" : ""} and no retention record removed it: its files were deleted.`,
    });
  }
}

function fileHasBytes(file: string): boolean {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  return st !== undefined && st.isFile() && st.size > 0;
}

/** What verify reads of a session file (outside the chains: anyone who writes the directory can change it). */
interface SessionInfo {
  readonly sessionId?: unknown;
  readonly status?: unknown;
  readonly config?: { readonly signingKeyId?: unknown };
  readonly heads?: unknown;
}

function readSessionInfo(dir: string, sessionId: string): SessionInfo | undefined {
  try {
    return JSON.parse(readRegularFileSync(path.join(dir, `session_${sessionId}.json`), undefined, SESSION_FILE_MAX_BYTES).toString("utf8")) as SessionInfo;
  } catch {
    return undefined;
  }
}
