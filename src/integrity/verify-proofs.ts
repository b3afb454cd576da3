/**
 * The check of a JSON export made with proofs (src/integrity/proofs.ts), by whoever holds only
 * the export and the public key: each checkpoint's hash, root over its chains and signature, and
 * for each record, that it hashes as exported, that its audit path leads to its chain's root in
 * its session's checkpoint, and that nothing else vouches for what the export shows otherwise.
 */
import { createHash, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { AuditConfigError } from "../errors.js";
import { JSON_EXPORT_FORMAT } from "../export/json.js";
import { computeRecordHash } from "../pipeline/chain.js";
import { toFieldIssues } from "../record/issues.js";
import { CHAIN_KINDS, KIND_FILE_STEM, RECORD_KINDS, type ExportProofReport, type ExportRecordProof, type RecordType, type VerifyNote, type VerifyProblem } from "../types.js";
import { bodyText, checkSignature, isCheckpoint, rootOverHeads, type Checkpoint } from "./checkpoint.js";
import { readCanonicalDocument, WHOLE_PARSE_MAX_BYTES } from "./export.js";
import { jsonPathText, oddMembers, type JsonPath } from "./json-members.js";
import { rootFromAuditPath, rootsConsistent } from "./merkle.js";
import { addedByExport, PROOFS_FORMAT, rebuildWritten } from "./proofs.js";
import { isEncryptedValue } from "../pipeline/encrypt.js";
import { publicKeyId, toPublicKeys } from "./signing.js";
import { publicKeySchema } from "./verify-options.js";

/** What {@link oddMembers} finds in a record's text: members given twice, numbers JSON.parse reads otherwise than written. */
type Odd = { readonly twice: readonly JsonPath[]; readonly inexact: readonly JsonPath[] };
const NOTHING_ODD: Odd = { twice: [], inexact: [] };

/** Options of {@link verifyExportProofs}. */
export interface VerifyExportProofsOptions {
  /** trusted Ed25519 public key(s), PEM or KeyObject, of the logger's signingKey */
  readonly publicKey: KeyObject | string | ReadonlyArray<KeyObject | string>;
  /** a record no signed checkpoint covers (or whose proof was withheld) is a problem (`not_signed`), not a note */
  readonly requireSigned?: boolean;
}

const optionsSchema = z.strictObject({
  publicKey: z.union([publicKeySchema, z.array(publicKeySchema).min(1, "must name at least one key")]),
  requireSigned: z.boolean().optional(),
});

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 hex digits");
const coveredSchema = z.strictObject({
  status: z.literal("covered"),
  checkpoint: z.number().int().min(1),
  leafIndex: z.number().int().min(0),
  treeSize: z.number().int().min(1),
  path: z.array(hex64).max(64),
  // (the object as JSON.parse made it, not zod's record's copy, which drops a member named
  // __proto__: such a member went unchecked and unnamed, until 2026-12-06; found by review)
  written: z.custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "must be an object of members").optional(),
  added: z.array(z.string()).optional(),
});
const unprovenSchema = z.strictObject({ status: z.enum(["uncovered", "withheld"]), detail: z.string() });

/**
 * Checks a JSON export made with proofs (`exportToJson(file, { proofs: true })`, `audit-logger
 * export --format json --proofs`) with nothing but the export and the public key. Problems:
 * `record_modified` (a record does not hash to its `hash`, or its path leads elsewhere from
 * there), `proof_mismatch` (the path does not lead to the checkpoint's root), `proof_malformed`,
 * `proof_missing`, `checkpoint_missing` (a proof names a checkpoint the export lacks),
 * `checkpoint_malformed`, `checkpoint_modified`, `checkpoint_signature_invalid`,
 * `checkpoint_unknown_key`, `fork`, `wrong_kind`, `duplicate_record` (a second record with the
 * same session, kind and seq), `duplicate_member` (a member given twice in a record or the
 * document: JSON.parse keeps the last, other readers the first), `export_malformed` (no export with proofs),
 * `consistency_failed` (an older checkpoint of `proofs.history` is not the one the next names, or
 * the next one's trees do not extend its own: RFC 9162 consistency proofs);
 * with `requireSigned`, `not_signed` for each record without a proof. Notes: `record_uncovered`
 * and `proof_withheld` for each record without a proof, `content_unchecked` for members shown
 * otherwise than as written.
 *
 * @example
 * const r = await verifyExportProofs("alice.json", { publicKey: fs.readFileSync("signing.pub", "utf8") });
 * for (const rec of r.records) if (rec.status !== "proven") console.log(rec.type, rec.seq, rec.status);
 */
export async function verifyExportProofs(file: string, options: VerifyExportProofsOptions): Promise<ExportProofReport> {
  const parsed = optionsSchema.safeParse(options);
  const issues = [
    ...(typeof file !== "string" || file === "" ? [{ field: "verifyExportProofs.file", message: "must be the export file's path, a non-empty string" }] : []),
    ...(parsed.success ? [] : toFieldIssues(parsed.error, "verifyExportProofs", optionsSchema)),
  ];
  if (!parsed.success || issues.length > 0) throw new AuditConfigError(issues);
  const keys = toPublicKeys(parsed.data.publicKey as KeyObject | string | Array<KeyObject | string>);
  const keyIds = [...new Set(keys.map(publicKeyId))];
  /** how to give one more key, said where a checkpoint names a key that is not among those given */
  const passKey = "pass its public key too (another --public-key <file>; verifyExportProofs's publicKey as a list)";
  const requireSigned = parsed.data.requireSigned === true;
  const name = path.basename(file);
  const problems: VerifyProblem[] = [];
  const notes: VerifyNote[] = [];
  const records: ExportRecordProof[] = [];
  const p = (kind: string, detail: string, at?: { seq?: unknown; sessionId?: unknown }) =>
    problems.push({ file: name, ...(typeof at?.seq === "number" ? { seq: at.seq } : {}), ...(typeof at?.sessionId === "string" ? { sessionId: at.sessionId } : {}), kind, detail });

  // the header (format, checkpoints), then each record as it is read: line by line when in the
  // exporter's layout (bounded memory, whatever the export's size), else parsed whole
  /** a member given twice outside any record (in the header, or the document's records twice) */
  const duplicated = (at: JsonPath): void => {
    p("duplicate_member", `${name} gives ${jsonPathText(at)} twice: JSON.parse keeps the last, other readers show the first; the export was edited.`);
  };
  /** a number outside any record (in the header: a checkpoint's, or anywhere else) that JSON.parse reads otherwise than written */
  const inexactOutside = (at: JsonPath): void => {
    // (a checkpoint's, newest or older: proofs.history[i].older is signed as the newest is; until
    // 2026-12-06 only proofs.checkpoints was looked at, and an older one's n written 2.0000000000000001 verified)
    const inCheckpoint = at[0] === "proofs" && (at[1] === "checkpoints" || (at[1] === "history" && at[3] === "older"));
    // (anywhere else too: the exporter writes no such number, and the scan keeps only the first
    // hundred it finds, so a hundred in a member nothing signs hid a checkpoint's after them)
    if (!inCheckpoint) p("export_malformed", `${name} gives ${jsonPathText(at)} as a number that JSON.parse reads as another value (it rounds to a double), while a reader keeping numbers exactly shows the one written; the exporter writes no such number: the export was edited.`);
    else p("checkpoint_modified", `${name} gives ${jsonPathText(at)} as a number that JSON.parse, and so the check of its hash and signature, reads as another value (it rounds to a double), while a reader keeping numbers exactly shows the one written: the export was edited.`);
  };
  /** (read whole: what is odd inside each record, by kind stem and index; see oddMembers) */
  let wholeOdd: Map<string, Odd> | undefined;
  let check: ReturnType<typeof checker> | undefined;
  let malformed: string | undefined;
  const start = (header: unknown, text: string): void => {
    problems.length = 0;
    notes.length = 0;
    records.length = 0;
    const h = header as { format?: unknown; proofs?: { format?: unknown; checkpoints?: unknown; history?: unknown } } | undefined;
    if (h?.format !== JSON_EXPORT_FORMAT || h.proofs?.format !== PROOFS_FORMAT || !Array.isArray(h.proofs.checkpoints)) {
      malformed = `${name} is not a JSON export made with proofs (format ${JSON_EXPORT_FORMAT}, proofs.format ${PROOFS_FORMAT}): export it with --proofs (exportToJson's proofs: true).`;
      check = undefined;
      return;
    }
    malformed = undefined;
    check = checker(h.proofs.checkpoints as unknown[], h.proofs.history);
    // (in the exporter's layout the header is scanned here, each record's line as it is read)
    if (!wholeOdd) {
      const odd = oddMembers(text);
      for (const at of odd.twice) duplicated(at);
      for (const at of odd.inexact) inexactOutside(at);
    }
  };
  let canonical = false;
  try {
    // (a record line that is not what the exporter writes for what it parses to is scanned for members given twice)
    // (a line that is what JSON.stringify writes of what it parses to has neither)
    canonical = readCanonicalDocument(file, (kind, rec, i, text) => check?.record(kind, rec, i, JSON.stringify(rec) === text ? NOTHING_ODD : oddMembers(text)), start);
  } catch {
    canonical = false;
  }
  if (!canonical) {
    try {
      if (fs.statSync(file).size > WHOLE_PARSE_MAX_BYTES) throw new Error(`over ${WHOLE_PARSE_MAX_BYTES} bytes and not in the exporter's layout`);
      const text = fs.readFileSync(file, "utf8");
      const doc = JSON.parse(text) as { records?: Record<string, unknown> } | null;
      // (members given twice: those inside a record are that record's problem, the others the document's)
      const byRecord = new Map<string, { twice: JsonPath[]; inexact: JsonPath[] }>();
      wholeOdd = byRecord;
      const outside = { twice: [] as JsonPath[], inexact: [] as JsonPath[] };
      const odd = oddMembers(text);
      for (const what of ["twice", "inexact"] as const) {
        for (const at of odd[what]) {
          const inRecord = at.length > 3 && at[0] === "records" && typeof at[2] === "number";
          if (!inRecord) outside[what].push(at);
          else {
            const key = `${String(at[1])}\0${at[2]}`;
            const entry = byRecord.get(key) ?? { twice: [], inexact: [] };
            entry[what].push(at.slice(3));
            byRecord.set(key, entry);
          }
        }
      }
      start(doc, text);
      for (const at of outside.twice) duplicated(at);
      for (const at of outside.inexact) inexactOutside(at);
      // (a list under a name no kind has, or a kind's member that is no list, would pass unchecked)
      const recs = doc?.records;
      if (check && (typeof recs !== "object" || recs === null || Array.isArray(recs))) p("export_malformed", `${name} has no records object: no record was checked.`);
      else if (check) {
        for (const [stem, list] of Object.entries(recs!)) {
          if (!RECORD_KINDS.some((k) => KIND_FILE_STEM[k] === stem)) p("export_malformed", `${name}'s records hold "${stem}", which is no kind of record: what it lists is not checked.`);
          else if (!Array.isArray(list)) p("export_malformed", `${name}'s records.${stem} is not a list: its records are not checked.`);
        }
      }
      for (const kind of RECORD_KINDS) {
        const list = doc?.records?.[KIND_FILE_STEM[kind]];
        if (Array.isArray(list)) list.forEach((rec, i) => check?.record(kind, rec, i, wholeOdd?.get(`${KIND_FILE_STEM[kind]}\0${i}`) ?? NOTHING_ODD));
      }
    } catch (err) {
      malformed = `${name} cannot be read as a JSON export: ${(err as Error).message}`;
    }
  }
  if (malformed !== undefined || !check) {
    problems.length = 0;
    notes.length = 0;
    records.length = 0;
    p("export_malformed", malformed ?? `${name} is not a JSON export made with proofs.`);
    return { ok: false, status: "failed", unprovenSessions: [], sessions: [], recordsChecked: 0, problems, notes, records };
  }
  const sessions = check.finish();
  // (until 2026-12-06 only `ok`, true as well when records had no proof: a session whose
  // checkpoint was dropped from the export passed as `ok`, its records named in notes only)
  const unprovenSessions = [...new Set(records.filter((r) => r.status === "uncovered" || r.status === "withheld").map((r) => r.sessionId))].sort();
  const status = problems.length > 0 ? "failed" : unprovenSessions.length > 0 ? "unproven" : "proven";
  return { ok: problems.length === 0, status, unprovenSessions, sessions, recordsChecked: records.length, problems, notes, records };

  /** The checks of one export's checkpoints, then of each of its records, reported into problems, notes and records. */
  function checker(list: readonly unknown[], history: unknown) {
    /** a checkpoint's own checks: its hash, its root over its chains, its signature by a trusted key */
    const own = (c: Checkpoint, label: string): boolean => {
      const body = c.checkpoint;
      let good = true;
      if (createHash("sha256").update(bodyText(c)).digest("hex") !== c.hash || rootOverHeads(body.heads, CHAIN_KINDS) !== body.merkleRoot) {
        p("checkpoint_modified", `${label} does not match its own hash or Merkle root: it was edited.`, { sessionId: body.sessionId });
        good = false;
      }
      const sig = checkSignature(c, keys);
      if (sig === "invalid") p("checkpoint_signature_invalid", `The signature of ${label.slice(4)} does not verify with the trusted key ${body.keyId}.`, { sessionId: body.sessionId });
      else if (sig === "unknown_key") p("checkpoint_unknown_key", `${label} was signed by ${String(body.keyId)}, which is not among the keys given (${keyIds.join(", ")}): if it is a signing key of this log (one rotated out, or the one in use since), ${passKey}; else the checkpoint is not this log's.`, { sessionId: body.sessionId });
      return good && sig === "valid";
    };
    // the checkpoints: each one's hash, root over its chains and signature
    const checkpoints = new Map<string, { cp: Checkpoint; good: boolean }>();
    for (const [i, c] of list.entries()) {
      if (!isCheckpoint(c)) {
        p("checkpoint_malformed", `proofs.checkpoints[${i}] is not a checkpoint.`);
        continue;
      }
      const body = c.checkpoint;
      const label = `The checkpoint ${body.n} of session ${body.sessionId}`;
      const good = own(c, label);
      const key = `${String(body.sessionId)}\0${body.n}`;
      const other = checkpoints.get(key);
      if (other && other.cp.hash !== c.hash) {
        p("fork", `The export holds two checkpoints ${body.n} of session ${body.sessionId} with different bodies: the log was forked or rewritten.`, { sessionId: body.sessionId });
        other.good = false;
        continue;
      }
      checkpoints.set(key, { cp: c, good });
    }

    // (the checkpoints of each session, for the records that say they have no proof)
    const ofSession = new Map<string, Checkpoint[]>();
    for (const { cp } of checkpoints.values()) ofSession.set(cp.checkpoint.sessionId, [...(ofSession.get(cp.checkpoint.sessionId) ?? []), cp]);
    // an export carries each session's newest checkpoint only: two of one session, whatever their
    // n, are a log forked or rewritten, or two logs given one session id and one key, whose records
    // would then be shown as one log's; every record resting on either fails
    for (const [sessionId, list] of ofSession) {
      if (list.length < 2) continue;
      p("fork", `The export holds ${list.length} checkpoints of session ${sessionId} (${list.map((c) => c.checkpoint.n).join(", ")}): an export carries each session's newest only; they are a log forked or rewritten, or checkpoints of another log with that session id signed by the same key.`, { sessionId });
      for (const c of list) checkpoints.get(`${sessionId}\0${c.checkpoint.n}`)!.good = false;
    }

    checkHistory(history, ofSession, own);

    // each record
    const sessions = new Set<string>();
    let unchecked = 0;
    const unprovenCount = { uncovered: 0, withheld: 0 };
    const seen = new Set<string>();
    const record = (kind: RecordType, rec: unknown, i: number, found: Odd): void => {
      const { twice, inexact } = found;
      const where = `${KIND_FILE_STEM[kind]}[${i}]`;
      if (typeof rec !== "object" || rec === null || Array.isArray(rec)) {
        p("proof_malformed", `${where} is not a record.`);
        return;
      }
      const r = rec as Record<string, unknown>;
      const at = { seq: r.seq, sessionId: r.sessionId };
      const sessionId = String(r.sessionId);
      sessions.add(sessionId);
      const label = `The ${kind} record ${typeof r.id === "string" ? r.id : "(no id)"} (session ${sessionId}, seq ${String(r.seq)}, ${where})`;
      const result = (status: ExportRecordProof["status"], extra?: string[]) =>
        records.push({ type: kind, sessionId, seq: typeof r.seq === "number" ? r.seq : undefined, id: typeof r.id === "string" ? r.id : undefined, status, ...(extra && extra.length > 0 ? { unchecked: extra } : {}) });
      if (r.type !== kind) {
        p("wrong_kind", `${label} says it is of type ${String(r.type)}.`, at);
        result("failed");
        return;
      }
      if (twice.length > 0) {
        p("duplicate_member", `${label} gives ${twice.map(jsonPathText).join(", ")} twice: JSON.parse keeps the last (the value hashed here), other readers show the first; the record was edited.`, at);
        result("failed");
        return;
      }
      // (a number JSON.parse rounds: the hash is checked over the double it reads, while a reader that
      // keeps numbers exactly shows the digits written; until 2026-12-06 an export whose
      // 9007199254740992 was edited to 9007199254740993 verified, every record proven)
      if (inexact.length > 0) {
        p("record_modified", `${label} gives ${inexact.map(jsonPathText).join(", ")} as a number that JSON.parse, and so the hash check, reads as another value (it rounds to a double), while a reader keeping numbers exactly shows the one written; the logger writes no such number: the record was edited.`, at);
        result("failed");
        return;
      }
      // (every record of a chain has its session and seq: without them no checkpoint could be held against it)
      if (typeof r.sessionId !== "string" || typeof r.seq !== "number" || !Number.isSafeInteger(r.seq) || r.seq < 1) {
        p("proof_malformed", `${label} has no sessionId string or no seq (a positive integer): every record of a chain has both.`, at);
        result("failed");
        return;
      }
      const identity = `${sessionId}\0${kind}\0${r.seq}`;
      if (seen.has(identity)) {
        p("duplicate_record", `${label} is the second record of the export with that session, kind and seq: a record shown twice, or two records claiming one place in the chain.`, at);
        result("failed");
        return;
      }
      seen.add(identity);
      if (r.proof === undefined) {
        p("proof_missing", `${label} has no proof: the export was made without proofs, or the record was added to it.`, at);
        result("failed");
        return;
      }
      const unproven = unprovenSchema.safeParse(r.proof);
      if (unproven.success) {
        const { status, detail } = unproven.data;
        // (a record the export's own checkpoints cover has a proof to give: "uncovered" there is an
        // edited export hiding an edited record behind a note)
        const covering = (ofSession.get(sessionId) ?? []).find((c) => typeof r.seq === "number" && (c.checkpoint.heads[kind]?.seq ?? 0) >= r.seq);
        if (covering) {
          p("proof_missing", `${label} says it has no proof (${status}), but checkpoint ${covering.checkpoint.n} of its session, which the export holds, covers it: its proof was taken out.`, at);
          result("failed");
          return;
        }
        const kindOf = status === "uncovered" ? "record_uncovered" : "proof_withheld";
        if (requireSigned) p("not_signed", `${label} has no proof (${status}: ${detail}), and every record must be signed (requireSigned).`, at);
        else notes.push({ file: name, ...(typeof r.seq === "number" ? { seq: r.seq } : {}), kind: kindOf, detail: `${label} is not proven: ${detail}.` });
        unprovenCount[status]++;
        result(status);
        return;
      }
      const proof = coveredSchema.safeParse(r.proof);
      if (!proof.success) {
        p("proof_malformed", `${label}: its proof ${proof.error.issues.map((x) => `${x.path.join(".") || "(whole)"} ${x.message}`).join("; ")}.`, at);
        result("failed");
        return;
      }
      const pr = proof.data;
      const entry = checkpoints.get(`${sessionId}\0${pr.checkpoint}`);
      if (!entry) {
        p("checkpoint_missing", `${label}'s proof leads to checkpoint ${pr.checkpoint} of session ${sessionId}, which the export does not hold.`, at);
        result("failed");
        return;
      }
      const head = entry.cp.checkpoint.heads[kind];
      if (!head || typeof r.seq !== "number" || pr.leafIndex !== r.seq - 1 || pr.treeSize !== head.seq) {
        p("proof_malformed", `${label}'s proof is for leaf ${pr.leafIndex} of ${pr.treeSize}, but the record is seq ${String(r.seq)} and checkpoint ${pr.checkpoint} covers ${kind} up to seq ${head?.seq ?? 0}.`, at);
        result("failed");
        return;
      }
      // (what a proof may show otherwise than as written: ciphertext in `written`, prevHash where the
      // record has none, and the members an export adds; anything else is an edited export showing a
      // member other than the one signed)
      const odd = [
        ...Object.entries(pr.written ?? {}).filter(([k, v]) => (k === "prevHash" ? "prevHash" in r : !isEncryptedValue(v))).map(([k]) => `written.${k}`),
        ...(pr.added ?? []).filter((k) => !addedByExport(kind).includes(k)).map((k) => `added ${k}`),
      ];
      if (odd.length > 0) {
        p("proof_malformed", `${label}'s proof gives ${odd.join(", ")}: an export gives only ciphertext in written (and prevHash where the record has none), and adds to a ${kind} record only ${addedByExport(kind).join(", ")}; the record shows a member otherwise than as signed.`, at);
        result("failed");
        return;
      }
      const rebuilt = rebuildWritten(r, pr.written ?? {}, pr.added ?? []);
      if (typeof rebuilt.prevHash !== "string" || !/^[0-9a-f]{64}$/.test(rebuilt.prevHash)) {
        p("proof_malformed", `${label} has no prevHash, in the record or its proof: its hash cannot be recomputed.`, at);
        result("failed");
        return;
      }
      const hash = computeRecordHash(rebuilt.prevHash, rebuilt);
      const root = rootFromAuditPath(hash, pr.leafIndex, pr.treeSize, pr.path);
      let failed = false;
      if (typeof r.hash === "string" && r.hash !== hash) {
        p("record_modified", `${label} does not match its own hash: a member was changed after it was exported.`, at);
        failed = true;
      } else if (root !== head.root) {
        p("proof_mismatch", `${label}'s audit path does not lead to the ${kind} root of checkpoint ${pr.checkpoint}: the record or its path was altered${typeof r.hash === "string" ? " (the record matches its own hash: the path, or the hash with the record)" : ""}.`, at);
        failed = true;
      }
      if (!entry.good) failed = true; // (the checkpoint's own problem is reported above)
      const shown = [...Object.keys(pr.written ?? {}).filter((k) => k !== "prevHash"), ...(pr.added ?? [])];
      if (shown.length > 0) unchecked++;
      result(failed ? "failed" : "proven", shown);
    };
    const finish = (): string[] => {
      if (unchecked > 0) {
        notes.push({
          file: name,
          kind: "content_unchecked",
          detail: `${unchecked} ${unchecked === 1 ? "record shows" : "records show"} members otherwise than as written (content decrypted, or withheld, by the export; or added by it): what the proofs vouch for there is the ciphertext as written, not the text shown (each record's \`unchecked\` names them).`,
        });
      }
      const proven = records.filter((x) => x.status === "proven").length;
      notes.push({
        file: name,
        kind: "proofs_summary",
        detail: `${proven} of ${records.length} record${records.length === 1 ? "" : "s"} proven against signed checkpoints${unprovenCount.uncovered > 0 ? `; ${unprovenCount.uncovered} not covered by a signed checkpoint yet` : ""}${unprovenCount.withheld > 0 ? `; ${unprovenCount.withheld} without a proof (content withheld in clear)` : ""}.`,
      });
      return [...sessions];
    };
    return { record, finish };
  }

  /**
   * The older checkpoints (`proofs.history`), per session: each one's own checks; the checkpoints
   * of a session, the newest (in `proofs.checkpoints`) last, numbered one after the other, each
   * naming the one before it (`prevCheckpointHash`); and for each chain, the consistency proof
   * from an older checkpoint's tree to the next one's (RFC 9162): the log grew, nothing of it
   * changed. Problems: `consistency_failed`, and the checkpoint problems of an older checkpoint.
   */
  function checkHistory(history: unknown, ofSession: ReadonlyMap<string, Checkpoint[]>, own: (c: Checkpoint, label: string) => boolean): void {
    if (history === undefined) return;
    if (!Array.isArray(history)) {
      p("checkpoint_malformed", "proofs.history is not a list of older checkpoints: none was checked.");
      return;
    }
    const bySession = new Map<string, Array<{ older: Checkpoint; consistency: ReadonlyMap<string, string[]> }>>();
    for (const [i, e] of history.entries()) {
      const entry = historySchema.safeParse(e);
      const consistency = entry.success ? consistencyProofs(entry.data.consistency) : undefined;
      if (!entry.success || !consistency || !isCheckpoint(entry.data.older)) {
        p("checkpoint_malformed", `proofs.history[${i}] is not an older checkpoint with its consistency proofs (older, consistency: a list of 64-hex-digit nodes per chain kind).`);
        continue;
      }
      const older = entry.data.older as Checkpoint;
      const sessionId = older.checkpoint.sessionId;
      bySession.set(sessionId, [...(bySession.get(sessionId) ?? []), { older, consistency }]);
    }
    for (const [sessionId, entries] of bySession) {
      const newest = ofSession.get(sessionId) ?? [];
      const at = { sessionId };
      // (two newest of one session are a fork, reported as such: the history leads to neither)
      if (newest.length > 1) continue;
      if (newest.length === 0) {
        p("consistency_failed", `proofs.history holds older checkpoints of session ${sessionId}, but proofs.checkpoints holds no checkpoint of it: they lead to no newest checkpoint.`, at);
        continue;
      }
      entries.sort((a, b) => a.older.checkpoint.n - b.older.checkpoint.n);
      // Older checkpoints signed by a key not given (one rotated out) are not checked: the
      // history is checked from the first after the newest of them on, as if they were left out
      // (the history is optional: the records' proofs rest on the newest checkpoint), and a note
      // names them, their key ids and how to give them (decided 2026-12-06: until then each was
      // a checkpoint_unknown_key problem, and an export of a session whose key was rotated failed
      // unless every key it was ever signed with was given; found by review).
      const cut = entries.findLastIndex((e) => !keyIds.includes(String(e.older.checkpoint.keyId)));
      if (cut >= 0) {
        const left = entries.slice(0, cut + 1);
        const ids = [...new Set(left.map((e) => String(e.older.checkpoint.keyId)))];
        const ns = left.map((e) => e.older.checkpoint.n);
        const which = ns.length === 1 ? `checkpoint ${ns[0]}` : `checkpoints ${ns[0]} to ${ns.at(-1)}`;
        notes.push({
          file: name,
          kind: "history_key_not_given",
          detail: `The older ${which} of session ${sessionId} (proofs.history) ${ns.length === 1 ? "is" : "are"} signed by ${ids.join(", ")}, not among the keys given (${keyIds.join(", ")}): not checked, nor whether the later ones extend ${ns.length === 1 ? "it" : "them"}; the records' proofs do not rest on ${ns.length === 1 ? "it" : "them"}. To check ${ns.length === 1 ? "it" : "them"}, ${passKey}.`,
        });
      }
      const chain = [...entries.slice(cut + 1), { older: newest[0]!, consistency: new Map<string, string[]>() }];
      for (let i = 0; i + 1 < chain.length; i++) {
        const a = chain[i]!.older;
        const b = chain[i + 1]!.older;
        const label = `The older checkpoint ${a.checkpoint.n} of session ${sessionId}`;
        own(a, label);
        if (b.checkpoint.n !== a.checkpoint.n + 1) {
          p("consistency_failed", `${label} is followed in the export by checkpoint ${b.checkpoint.n}, not ${a.checkpoint.n + 1}: a checkpoint was left out of the history, or one given twice.`, at);
          continue;
        }
        if (b.checkpoint.prevCheckpointHash !== a.hash) {
          p("consistency_failed", `${label} is not the one checkpoint ${b.checkpoint.n} names before it (its prevCheckpointHash): it is forged, or another log's.`, at);
          continue;
        }
        const given = chain[i]!.consistency;
        const odd = [...given.keys()].filter((k) => !(CHAIN_KINDS as readonly string[]).includes(k));
        if (odd.length > 0) p("consistency_failed", `${label}'s consistency proofs name ${odd.join(", ")}, which is no chain kind.`, at);
        for (const kind of CHAIN_KINDS) {
          const m = a.checkpoint.heads[kind]?.seq ?? 0;
          const n = b.checkpoint.heads[kind]?.seq ?? 0;
          const proof = given.get(kind) ?? [];
          const consistent = m === 0 ? proof.length === 0 && n >= 0 : rootsConsistent(m, n, a.checkpoint.heads[kind]!.root, b.checkpoint.heads[kind]?.root ?? "", proof);
          if (!consistent) {
            p("consistency_failed", `${label}: its ${kind} chain (seq ${m}) is not extended by that of checkpoint ${b.checkpoint.n} (seq ${n}): the consistency proof fails, so records the older checkpoint signed were changed or removed, or one of the two is forged.`, at);
          }
        }
      }
    }
  }
}

const historySchema = z.strictObject({ older: z.unknown(), consistency: z.unknown() });
const consistencyProofSchema = z.array(hex64).max(128);

/**
 * A history entry's `consistency` (JSON.parse's object: a member named `__proto__` is an own
 * property of it) as a Map of every member, each a list of 64-hex-digit nodes; undefined when it
 * is no such object. A Map, not an object: zod's record, and any plain object, drop a member named
 * `__proto__` (it sets the prototype), and its proof went unchecked, unnamed (until 2026-12-06;
 * found by review). Now it is a member like any other: no chain kind, so consistency_failed.
 */
function consistencyProofs(v: unknown): Map<string, string[]> | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const out = new Map<string, string[]>();
  for (const k of Object.keys(v)) {
    const proof = consistencyProofSchema.safeParse((v as Record<string, unknown>)[k]);
    if (!proof.success) return undefined;
    out.set(k, proof.data);
  }
  return out;
}
