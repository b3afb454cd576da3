import { createHash, type KeyObject } from "node:crypto";
import { CHAIN_KINDS, type ChainKind, type VerifyNote, type VerifyProblem } from "../types.js";
import { bodyText, checkSignature, rootOverHeads, type Checkpoint } from "./checkpoint.js";
import { checkpointFileName } from "./checkpointer.js";
import { publicKeyId } from "./signing.js";

/** What the chain walk learned about one kind: its last seq, and hash and Merkle root at the seqs checkpoints name. */
export interface KindState {
  readonly lastSeq: number;
  /** the hash of the record at lastSeq (verifyAuditLog's chain walk; the genesis hash when the chain is empty) */
  readonly lastHash?: string;
  /** seq of the last record removed by retention (0 when none): checkpoints before it cannot be re-derived */
  readonly prunedThrough: number;
  readonly at: ReadonlyMap<number, { hash: string; root?: string }>;
  /** first seq whose hash an export left out (content withheld, not encrypted): checkpoints from it on cannot be re-derived */
  readonly unhashedFrom?: number;
}

interface Input {
  readonly sessionId: string;
  readonly checkpoints: ReadonlyArray<{ line: number; checkpoint: Checkpoint | undefined; text: string }>;
  readonly trusted: readonly Checkpoint[];
  readonly trustedKeys: readonly KeyObject[];
  readonly states: Readonly<Record<ChainKind, KindState>>;
  readonly problems: VerifyProblem[];
  readonly notes: VerifyNote[];
}

/**
 * How far a session's audit_event chain is signed: the highest audit_event seq that a checkpoint
 * whose signature verifies with a trusted key covers (0 when none does). Undefined when nothing
 * can be told signed: no trusted key given, or the session has no checkpoints (it was not signing).
 * The verifiers honour the retention and hold-release records of a signing session only up to
 * there: such a record needs no key to be chained, so whoever could write the directory deleted
 * signed records and appended one "explaining" it (found by review, 2026-12-04). A real prune is
 * checkpointed at once.
 */
export function signedAuditEventSeq(checkpoints: ReadonlyArray<{ checkpoint: Checkpoint | undefined }>, trusted: readonly Checkpoint[], trustedKeys: readonly KeyObject[]): number | undefined {
  const all = [...checkpoints.flatMap((c) => (c.checkpoint ? [c.checkpoint] : [])), ...trusted];
  if (trustedKeys.length === 0 || all.length === 0) return undefined;
  let seq = 0;
  for (const cp of all) {
    const head = cp.checkpoint.heads.audit_event?.seq;
    if (typeof head === "number" && head > seq && checkSignature(cp, trustedKeys) === "valid") seq = head;
  }
  return seq;
}

const size = (cp: Checkpoint) => CHAIN_KINDS.reduce((n, k) => n + (cp.checkpoint.heads[k]?.seq ?? 0), 0);

/**
 * Checks a session's checkpoints against its chains: each checkpoint's own hash and link to the
 * one before, its signature (with trusted keys), that the log still holds every record it
 * covers with the same hash and Merkle root (else truncation or rewriting), and forks (two
 * checkpoints of the same size with different roots). Records after the last checkpoint are an
 * unsigned tail: a note, not a problem.
 */
export function verifyCheckpoints(o: Input): void {
  const file = checkpointFileName(o.sessionId);
  const p = (kind: string, detail: string, seq?: number) => o.problems.push({ file, ...(seq !== undefined ? { seq } : {}), kind, detail });
  let prev: Checkpoint | undefined;
  const valid: Checkpoint[] = [];
  const keyIds = [...new Set(o.trustedKeys.map(publicKeyId))];
  // The newest checkpoint (the file's last) must verify with a key given: every record it covers
  // is held against its Merkle roots, and every checkpoint before it against its
  // prevCheckpointHash links. An older one signed by a key not given (a session whose signing key
  // was rotated) is no problem: its signature is not checked, a note names it (decided
  // 2026-12-06, as verify --export does with proofs.history: until then a session whose key was
  // rotated failed unless every key it was ever signed with was given; found by review).
  const newest = o.checkpoints.findLast((c) => c.checkpoint !== undefined)?.checkpoint;
  const notGiven: Checkpoint[] = [];
  for (const entry of o.checkpoints) {
    const cp = entry.checkpoint;
    if (!cp) {
      p("checkpoint_malformed", `Line ${entry.line} of ${file} is not a checkpoint.`);
      continue;
    }
    const body = cp.checkpoint;
    const n = body.n;
    if (createHash("sha256").update(bodyText(cp)).digest("hex") !== cp.hash || rootOverHeads(body.heads, CHAIN_KINDS) !== body.merkleRoot) {
      p("checkpoint_modified", `Checkpoint ${n} (line ${entry.line}) does not match its own hash or root: it was edited.`);
    }
    if (body.sessionId !== o.sessionId) p("checkpoint_wrong_session", `Checkpoint ${n} names session ${body.sessionId}.`);
    const expectN = prev ? prev.checkpoint.n + 1 : 1;
    if (n !== expectN || body.prevCheckpointHash !== (prev ? prev.hash : null)) {
      const kind = n > expectN ? "checkpoint_missing" : n < expectN ? "checkpoint_out_of_order" : "checkpoint_chain_broken";
      p(kind, `Checkpoint ${n} (line ${entry.line}) does not follow checkpoint ${prev?.checkpoint.n ?? "(none)"}: checkpoints were deleted, replaced or reordered.`);
    }
    if (o.trustedKeys.length > 0) {
      const sig = checkSignature(cp, o.trustedKeys);
      if (sig === "invalid") p("checkpoint_signature_invalid", `The signature of checkpoint ${n} does not verify with the trusted key ${body.keyId}.`);
      else if (sig === "unknown_key" && cp !== newest) notGiven.push(cp);
      else if (sig === "unknown_key") {
        p(
          "checkpoint_unknown_key",
          `Checkpoint ${n}, the newest of session ${o.sessionId}, was signed by ${String(body.keyId)}, which is not among the keys given (${keyIds.join(", ")}): the records rest on it, so its key is needed. If ${String(body.keyId)} is this log's signing key (the one in use since a rotation), ${PASS_KEY}; else the checkpoint is not this log's.`,
        );
      }
    }
    checkAgainstLog(cp, o, `checkpoint ${n}`, p);
    prev = cp;
    valid.push(cp);
  }
  if (notGiven.length > 0) o.notes.push(historyKeyNote(o.sessionId, file, notGiven, keyIds));
  for (const t of o.trusted) {
    const label = `trusted checkpoint ${t.checkpoint.n}`;
    if (o.trustedKeys.length > 0) {
      const sig = checkSignature(t, o.trustedKeys);
      if (sig !== "valid") p(sig === "invalid" ? "checkpoint_signature_invalid" : "checkpoint_unknown_key", `The ${label} given from outside does not verify with a trusted key.`);
    }
    checkAgainstLog(t, o, label, p);
    if (!valid.some((c) => c.hash === t.hash)) {
      p("checkpoint_missing", `The ${label} (hash ${t.hash.slice(0, 12)}…) is not in ${file}: checkpoints were deleted or replaced.`);
    }
  }
  // forks: two checkpoints over the same number of records with different roots
  const bySize = new Map<number, Checkpoint>();
  for (const cp of [...valid, ...o.trusted]) {
    const other = bySize.get(size(cp));
    if (other && other.checkpoint.merkleRoot !== cp.checkpoint.merkleRoot) {
      p("fork", `Two checkpoints cover ${size(cp)} records with different Merkle roots (${other.checkpoint.merkleRoot.slice(0, 12)}… and ${cp.checkpoint.merkleRoot.slice(0, 12)}…): the log was forked or rewritten.`);
    }
    bySize.set(size(cp), cp);
  }
  const last = [...valid, ...o.trusted].sort((a, b) => size(a) - size(b)).at(-1);
  if (last) {
    const tail = CHAIN_KINDS.filter((k) => o.states[k].lastSeq > (last.checkpoint.heads[k]?.seq ?? 0));
    if (tail.length > 0) {
      o.notes.push({
        file,
        kind: "unsigned_tail",
        detail: `Records after the last checkpoint (${last.checkpoint.n}) are not yet signed: ${tail.map((k) => `${k} ${(last.checkpoint.heads[k]?.seq ?? 0) + 1}..${o.states[k].lastSeq}`).join(", ")}.`,
      });
    }
  }
}

/** How to give one more key, said where a checkpoint names a key that is not among those given. */
const PASS_KEY = "pass its public key too (another --public-key <file>; the publicKey option as a list)";

/**
 * The note `history_key_not_given`: older checkpoints of a session signed by keys not given,
 * their signatures not checked (never counted as signed: see signedAuditEventSeq), each still held
 * against the log and linked to the newest.
 */
function historyKeyNote(sessionId: string, file: string, cps: readonly Checkpoint[], keyIds: readonly string[]): VerifyNote {
  const ns = cps.map((c) => c.checkpoint.n);
  const ids = [...new Set(cps.map((c) => String(c.checkpoint.keyId)))];
  const contiguous = ns.every((x, i) => i === 0 || x === ns[i - 1]! + 1);
  const which = ns.length === 1 ? `checkpoint ${ns[0]}` : contiguous ? `checkpoints ${ns[0]} to ${ns.at(-1)}` : `checkpoints ${ns.join(", ")}`;
  const one = ns.length === 1;
  const pass = ids.length === 1 ? "pass its public key (another --public-key <file>; the publicKey option as a list)" : "pass their public keys (another --public-key <file> each; the publicKey option as a list)";
  return {
    file,
    kind: "history_key_not_given",
    detail: `The older ${which} of session ${sessionId} ${one ? "is" : "are"} signed by ${ids.join(", ")}, not among the keys given (${keyIds.join(", ")}): ${one ? "its signature was" : "their signatures were"} not checked, and nothing counts as signed on ${one ? "its" : "their"} word. ${one ? "It is" : "They are"} still checked against the log (what ${one ? "it covers hashes as it says" : "they cover hashes as they say"}) and bound by hash to the newest checkpoint through the prevCheckpointHash links; the records rest on the newest, whose key is the one needed. To check ${one ? "it" : "them"} too, ${pass}.`,
  };
}

function checkAgainstLog(cp: Checkpoint, o: Input, label: string, p: (kind: string, detail: string, seq?: number) => void): void {
  for (const kind of CHAIN_KINDS) {
    const head = cp.checkpoint.heads[kind];
    if (!head || head.seq === 0) continue;
    const state = o.states[kind];
    if (state.lastSeq < head.seq) {
      p("truncated", `The ${kind} chain ends at seq ${state.lastSeq}, but ${label} covers it up to seq ${head.seq}: records were removed from the end.`, head.seq);
      continue;
    }
    const got = state.at.get(head.seq);
    if (!got && head.seq < state.prunedThrough) continue;
    if (!got && state.unhashedFrom !== undefined && head.seq >= state.unhashedFrom) continue;
    if (!got || got.hash !== head.hash || (got.root !== undefined && got.root !== head.root)) {
      p("checkpoint_mismatch", `The ${kind} records up to seq ${head.seq} differ from what ${label} signed: records were rewritten after they were checkpointed.`, head.seq);
    }
  }
}
