/**
 * Inclusion proofs in a JSON export (`exportToJson(file, { proofs: true })`, `audit-logger export
 * --format json --proofs`): for each exported record, its RFC 6962 audit path up to its chain's
 * root in the session's newest signed checkpoint, whose line (body, hash, signature) the export
 * carries. Whoever holds only the export and the public key can then check, record by record,
 * that the record hashes as exported (see {@link rebuildWritten}), that its path leads to the
 * checkpoint's root, and that the checkpoint is signed (src/integrity/verify-proofs.ts). Decided
 * 2026-12-06, see docs/TRUST.md ("Exports of one user or a time range").
 *
 * Each chain's tree is built once (MerkleLevels), from one read of the chain up to the
 * checkpoint's head: not per record. A session's older checkpoints go in the header too
 * (`proofs.history`), each with the consistency proofs that the next one's trees extend its own
 * (see CheckpointHistoryEntry); the tree of a chain that grew between checkpoints is built for
 * those and kept until the export has written that chain's records, as is, without content, the
 * tree of each chat and tool chain (built in the read that decides whether the session's content
 * is withheld in clear, see ExportProver.plan); the others' when the export reaches their first
 * record.
 */
import { computeRecordHash } from "../pipeline/chain.js";
import { isEncryptedValue } from "../pipeline/encrypt.js";
import { rawRecordOf, type RawRecord } from "../reader/records.js";
import type { AuditViewer } from "../reader/viewer.js";
import { CONTENT_FIELDS, ExportWithholder } from "../export/withhold.js";
import { furthestPrunes, readPruneRecords } from "../sink/prunes.js";
import { CHAIN_KINDS, type ChainKind } from "../types.js";
import type { Checkpoint } from "./checkpoint.js";
import { readCheckpoints } from "./checkpointer.js";
import { consistencyProof, MerkleLevels } from "./merkle.js";

/**
 * The `proofs.format` of a JSON export made with proofs.
 *
 * @example
 * if (doc.proofs?.format !== PROOFS_FORMAT) throw new Error("no proofs in this export");
 */
export const PROOFS_FORMAT = "audit-logger-proofs/v1";

/**
 * A record's `proof` member in a JSON export made with proofs. `covered`: its audit path to the
 * root of its chain in checkpoint `checkpoint` of its session (the export's `proofs.checkpoints`
 * holds it), with what the line as written has that the exported record shows otherwise
 * (`written`, `added`: see {@link rebuildWritten}). `uncovered`: no signed checkpoint covers it
 * yet (or the logs do not hold its chain up to one). `withheld`: its session's content was
 * withheld in clear, and a proof would confirm a guess of it.
 */
export type RecordProof =
  | {
      readonly status: "covered";
      /** the checkpoint's `n` in its session */
      readonly checkpoint: number;
      /** seq - 1 */
      readonly leafIndex: number;
      /** the checkpoint's head seq of the record's chain */
      readonly treeSize: number;
      /** RFC 6962 audit path, hex, nearest sibling first */
      readonly path: readonly string[];
      /** members of the line as written whose exported value differs or is absent (ciphertext, prevHash) */
      readonly written?: Readonly<Record<string, unknown>>;
      /** members the export added to the record (decrypted-content flags, `content`, `contentWithheld`) */
      readonly added?: readonly string[];
    }
  | { readonly status: "uncovered" | "withheld"; readonly detail: string };

/**
 * The record as its line was written, from the record as exported and its proof: the exported
 * members in their order, without `proof` and the members the proof lists in `added`, with the
 * values the proof gives in `written` in place of the exported ones; `prevHash`, which an export
 * of one user or a time range leaves out of the record, goes back after `seq`, where every line's
 * envelope has it. `computeRecordHash(rebuilt.prevHash, rebuilt)` is then the record's hash.
 *
 * @example
 * const rebuilt = rebuildWritten(rec, rec.proof.written ?? {}, rec.proof.added ?? []);
 * computeRecordHash(rebuilt.prevHash, rebuilt); // the leaf of rec.proof.path
 */
export function rebuildWritten(exported: Readonly<Record<string, unknown>>, written: Readonly<Record<string, unknown>>, added: readonly string[]): Record<string, unknown> {
  // (no prototype: a record member named "__proto__" stays a member, as JSON.parse made it)
  const out = Object.create(null) as Record<string, unknown>;
  const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
  for (const [k, v] of Object.entries(exported)) {
    if (k === "proof" || added.includes(k)) continue;
    out[k] = has(written, k) ? written[k] : v;
    if (k === "seq" && has(written, "prevHash") && !has(exported, "prevHash")) out.prevHash = written.prevHash;
  }
  return out;
}

/**
 * The members an export adds to a record (the withheld list, a chat's full content, the viewer's
 * marks of encrypted values it could not open): the only ones a proof may list in `added`. Any
 * other would let an edited export show a member the log never held.
 */
export const ADDED_BY_EXPORT: readonly string[] = Object.freeze(["contentWithheld", "content", "encryptedWithoutKey", "decryptionError"]);

/**
 * The members an export adds to a record of `kind`: `content` to a chat's only, `contentWithheld`
 * to a kind with content fields only (CONTENT_FIELDS). Any other would let an edited export show
 * a chat's content, or a withheld list, on a record that never had one.
 *
 * @example
 * addedByExport("persona_activity"); // ["encryptedWithoutKey", "decryptionError"]
 */
export function addedByExport(kind: string): readonly string[] {
  return ADDED_BY_EXPORT.filter((k) => (k === "content" ? kind === "chat_interaction" : k === "contentWithheld" ? Object.prototype.hasOwnProperty.call(CONTENT_FIELDS, kind) : true));
}

/**
 * One of a session's older checkpoints in an export with proofs (`proofs.history`): the
 * checkpoint line as written, and for each chain that grew between it and the next checkpoint,
 * the RFC 9162 consistency proof from the older tree (its head's `seq` leaves) to the next one's:
 * the next checkpoint's trees extend it, no record of it changed or removed.
 */
export interface CheckpointHistoryEntry {
  readonly older: Checkpoint;
  readonly consistency: Readonly<Record<string, readonly string[]>>;
}

/** What an export with proofs gives of one session. */
interface SessionPlan {
  /** the newest checkpoint of the session (none: not signing, or not yet) */
  readonly checkpoint: Checkpoint | undefined;
  /** its checkpoints before the newest, oldest first, each with its consistency proofs (see CheckpointHistoryEntry) */
  readonly history: readonly CheckpointHistoryEntry[];
  /** why no record of it gets a proof */
  readonly withheld: string | undefined;
  /** seq of the last record retention removed from each chain, and the tree up to it */
  readonly prunes: ReturnType<typeof furthestPrunes>;
}

/**
 * Proofs for the records of one JSON export. Made by {@link ExportProver.plan} before the
 * document is written (its checkpoints go in the header); then {@link proofFor} each record in
 * the order the export writes them (chain by chain).
 */
export class ExportProver {
  private constructor(
    private readonly viewer: AuditViewer,
    private readonly plans: ReadonlyMap<string, SessionPlan>,
    /**
     * the trees built for the history (see checkpointHistories), each until the export has
     * written its chain's records, and the tree of the chain the export is at
     */
    private readonly trees: Map<string, ChainTree>,
  ) {}

  /**
   * Reads each session's newest checkpoint from `auditDir`. Without content, a session some of
   * whose chain hashes the export withholds (content withheld in clear, see ExportWithholder)
   * gets no checkpoint and no proofs: its checkpoint's head hashes and roots, and an audit path
   * through a withheld record, would confirm a guess of that content as the hashes would.
   *
   * That is decided from every record of the session's chat and tool chains, whatever run of the
   * session wrote it (a resumed session may have logged in clear before or after encrypting), in
   * the one read that builds those chains' trees (see chainLevels): the trees are kept for the
   * history and the records' proofs. Until 2026-12-06 the decision took a read of its own, whole
   * where the content is encrypted (found by review).
   */
  static async plan(viewer: AuditViewer, auditDir: string, sessionIds: readonly string[], includeFullContent: boolean): Promise<ExportProver> {
    const planned: Array<Omit<SessionPlan, "history"> & { readonly sessionId: string; readonly all: readonly Checkpoint[] }> = [];
    const trees = new Map<string, ChainTree>();
    for (const sessionId of sessionIds) {
      const all = readCheckpoints(auditDir, sessionId).flatMap((c) => (c.checkpoint ? [c.checkpoint] : []));
      const checkpoint = all.at(-1);
      const prunes = furthestPrunes(readPruneRecords(auditDir, sessionId));
      let withheld: string | undefined;
      // (a session with no checkpoint has nothing to prove against: its records are uncovered, unread)
      if (!includeFullContent && checkpoint) {
        const built: ChainTree[] = [];
        for (const kind of ["chat_interaction", "tool_usage"] as const) {
          const size = checkpoint.checkpoint.heads[kind]?.seq ?? 0;
          const { levels, why, inClear } = await chainLevels(viewer, sessionId, kind, size, prunes, new ExportWithholder());
          if (inClear) {
            withheld = `session ${sessionId}'s content is withheld from this export and is not encrypted in the log: its chain hashes, checkpoint and audit paths would confirm a guess of it. Export with content (--include-content) for proofs, or verify the original logs`;
            break;
          }
          if (size > 0) built.push({ key: chainKey(sessionId, kind, size), levels, why });
        }
        if (!withheld) for (const t of built) trees.set(t.key, t);
      }
      planned.push({ sessionId, all: withheld ? [] : all, checkpoint: withheld ? undefined : checkpoint, withheld, prunes });
    }
    const histories = await checkpointHistories(viewer, planned, trees);
    const plans = new Map<string, SessionPlan>(planned.map((p) => [p.sessionId, { checkpoint: p.checkpoint, history: histories.get(p.sessionId) ?? [], withheld: p.withheld, prunes: p.prunes }]));
    return new ExportProver(viewer, plans, trees);
  }

  /** Each session's older checkpoints with their consistency proofs (for the export's header): see CheckpointHistoryEntry. */
  history(): CheckpointHistoryEntry[] {
    return [...this.plans.values()].flatMap((p) => (p.checkpoint ? p.history : []));
  }

  /** The checkpoints the proofs lead to, one per session that has one (for the export's header). */
  checkpoints(): Checkpoint[] {
    return [...this.plans.values()].flatMap((p) => (p.checkpoint ? [p.checkpoint] : []));
  }

  /** The proof of `viewed` (as the viewer gave it), exported as `out`. */
  async proofFor(viewed: RawRecord, out: RawRecord): Promise<RecordProof> {
    const raw = rawRecordOf(viewed);
    const sessionId = String(raw.sessionId);
    const kind = raw.type as ChainKind;
    const seq = raw.seq;
    const plan = this.plans.get(sessionId);
    if (!plan) return { status: "uncovered", detail: `session ${sessionId} began after the export did: its checkpoints are not in it` };
    if (plan.withheld) return { status: "withheld", detail: plan.withheld };
    const cp = plan.checkpoint;
    if (!cp) return { status: "uncovered", detail: `session ${sessionId} has no signed checkpoint (its logger had no signingKey, or none was written yet)` };
    const head = cp.checkpoint.heads[kind];
    if (typeof seq !== "number" || typeof raw.hash !== "string" || !head || seq > head.seq) {
      return { status: "uncovered", detail: `newer than session ${sessionId}'s last checkpoint (${cp.checkpoint.n}, which covers ${kind} up to seq ${head?.seq ?? 0}): not signed yet` };
    }
    const chain = await this.levelsOf(sessionId, kind, head.seq, plan.prunes);
    const path = chain.levels?.auditPath(seq - 1);
    if (!path) return { status: "uncovered", detail: chain.why || `its ${kind} record was removed by retention from the tree the checkpoint covers` };
    const diff = writtenDiff(raw, out);
    if (!diff) return { status: "withheld", detail: "the export shows this record's content otherwise than as written, and the line as written would give it away" };
    const rebuilt = rebuildWritten(out, diff.written, diff.added);
    if (computeRecordHash(String(rebuilt.prevHash), rebuilt) !== raw.hash) {
      return { status: "uncovered", detail: "the record as exported cannot be rebuilt as its line was written (run audit-logger verify on the logs)" };
    }
    return {
      status: "covered",
      checkpoint: cp.checkpoint.n,
      leafIndex: seq - 1,
      treeSize: head.seq,
      path,
      ...(Object.keys(diff.written).length > 0 ? { written: diff.written } : {}),
      ...(diff.added.length > 0 ? { added: diff.added } : {}),
    };
  }

  /**
   * One chain's tree up to `size` leaves, read once for all of its exported records and the
   * history's consistency proofs: the export writes each chain's records together, so the tree of
   * the chain before is let go when it reaches another.
   */
  private async levelsOf(sessionId: string, kind: ChainKind, size: number, prunes: SessionPlan["prunes"]): Promise<{ levels: MerkleLevels | undefined; why: string }> {
    const key = chainKey(sessionId, kind, size);
    if (this.current !== key) {
      if (this.current !== undefined) this.trees.delete(this.current);
      this.current = key;
    }
    const held = this.trees.get(key);
    if (held) return held;
    const { levels, why } = await chainLevels(this.viewer, sessionId, kind, size, prunes);
    const tree = { key, levels, why };
    this.trees.set(key, tree);
    return tree;
  }

  /** the chain the export is at (its tree is in `trees`) */
  private current: string | undefined;
}

/**
 * A chain's tree up to `size` leaves, from one read of the chain (continued from the frontier of
 * the records retention removed), or why it cannot be built. With `withholder` (a new one, for
 * this chain alone), every record of the chain goes through it as the export's would, to the
 * chain's end, past `size`: `inClear` when one's content would be withheld in clear (the read
 * stops there, and no tree is made: see ExportProver.plan).
 */
async function chainLevels(
  viewer: AuditViewer,
  sessionId: string,
  kind: ChainKind,
  size: number,
  prunes: SessionPlan["prunes"],
  withholder?: ExportWithholder,
): Promise<{ levels: MerkleLevels | undefined; why: string; inClear: boolean }> {
  const pruned = prunes[kind];
  const hashes: string[] = [];
  let expect = (pruned?.lastSeq ?? 0) + 1;
  let why = "";
  let building = true;
  for await (const rec of viewer.source.records(kind, sessionId)) {
    if (withholder) {
      withholder.record(rec);
      if (withholder.withheldAny) return { levels: undefined, why: "", inClear: true };
    }
    if (!building || typeof rec.seq !== "number" || rec.seq < expect) continue;
    if (rec.seq <= size && rec.seq === expect && typeof rec.hash === "string") {
      hashes.push(rec.hash);
      expect++;
      continue;
    }
    if (rec.seq <= size) why = `the logs' ${kind} chain of session ${sessionId} lacks seq ${expect} (run audit-logger verify on the logs)`;
    // (the tree is done; the withholder, if any, still sees the rest of the chain)
    building = false;
    if (!withholder) break;
  }
  if (!why && hashes.length + (pruned?.lastSeq ?? 0) < size) why = `the logs' ${kind} chain of session ${sessionId} ends before seq ${size}, which its checkpoint covers (run audit-logger verify on the logs)`;
  const levels = why || size === 0 ? undefined : new MerkleLevels(hashes, pruned?.merkleFrontier);
  return { levels, why, inClear: false };
}

/** One chain's tree (see chainLevels), named by session, kind and size (see chainKey). */
interface ChainTree {
  readonly key: string;
  readonly levels: MerkleLevels | undefined;
  readonly why: string;
}

function chainKey(sessionId: string, kind: ChainKind, size: number): string {
  return `${sessionId}\0${kind}\0${size}`;
}

/**
 * Each session's checkpoints before the newest (`all`, oldest first, the newest last), each with
 * the consistency proofs from its trees to the next checkpoint's, newest back to oldest, as far as
 * they can be made: a checkpoint older than the records retention removed (a node its proof needs
 * is gone), and those before it, are left out. A chain that grew is read once, up to the newest
 * checkpoint's head (decided 2026-12-06: a checkpoint's trees are only its roots, so the proofs
 * come from the records), and its tree built once for all of its proofs.
 *
 * A tree already in `trees` (by chainKey: a chat or tool chain's, built by ExportProver.plan) is
 * not built again. The trees made are added to `trees` for the export's inclusion proofs, which need
 * the same trees: each is held until the export has written its chain's records (about 66 bytes
 * a record: 200,000 records of chains that grew, 13 MB), so no chain is read twice to make
 * proofs. An audit_event tree, no kind of the export's records, is let go at once. Until
 * 2026-12-06 every grown chain was read and built here, then read and built again for the
 * inclusion proofs (bench/proofs.ts: 200,000 records, export --proofs 4.3 s → 8.9 s; found by
 * review); then the last tree built was kept, and every grown chain after the first the export
 * reaches was still read twice for proofs (three times with the export's own read; found by
 * review, 2026-12-06).
 */
async function checkpointHistories(
  viewer: AuditViewer,
  sessions: ReadonlyArray<{ readonly sessionId: string; readonly all: readonly Checkpoint[]; readonly prunes: SessionPlan["prunes"] }>,
  trees: Map<string, ChainTree>,
): Promise<Map<string, CheckpointHistoryEntry[]>> {
  // which proofs are asked for: each pair of a checkpoint and the next, newest back to the first
  // where a chain's head went back (its history ends there, see checkpointHistory)
  const wanted = new Map<string, Map<ChainKind, number[]>>();
  for (const { sessionId, all } of sessions) {
    const byKind = new Map<ChainKind, number[]>();
    pairs: for (let i = all.length - 2; i >= 0; i--) {
      for (const kind of CHAIN_KINDS) {
        const m = all[i]!.checkpoint.heads[kind]?.seq ?? 0;
        const n = all[i + 1]!.checkpoint.heads[kind]?.seq ?? 0;
        if (m === 0 || m === n) continue;
        if (m > n) break pairs;
      }
      for (const kind of CHAIN_KINDS) {
        const m = all[i]!.checkpoint.heads[kind]?.seq ?? 0;
        const n = all[i + 1]!.checkpoint.heads[kind]?.seq ?? 0;
        if (m !== 0 && m !== n) byKind.set(kind, [...(byKind.get(kind) ?? []), i]);
      }
    }
    wanted.set(sessionId, byKind);
  }
  const proofs = new Map<string, Array<string[] | undefined>>();
  for (const kind of CHAIN_KINDS) {
    for (const { sessionId, all, prunes } of sessions) {
      const at = wanted.get(sessionId)?.get(kind);
      if (!at) continue;
      const size = all.at(-1)!.checkpoint.heads[kind]?.seq ?? 0;
      const key = chainKey(sessionId, kind, size);
      const tree = trees.get(key) ?? { key, ...(await chainLevels(viewer, sessionId, kind, size, prunes)) };
      const levels = tree.levels;
      const made: Array<string[] | undefined> = [];
      for (const i of at) made[i] = levels && consistencyProof(levels, all[i]!.checkpoint.heads[kind]!.seq, all[i + 1]!.checkpoint.heads[kind]!.seq);
      proofs.set(tree.key, made);
      if (kind !== "audit_event") trees.set(key, { key, levels, why: tree.why });
    }
  }
  const histories = new Map<string, CheckpointHistoryEntry[]>();
  for (const { sessionId, all } of sessions) {
    if (all.length >= 2) histories.set(sessionId, checkpointHistory(sessionId, all, proofs));
  }
  return histories;
}

/**
 * A session's checkpoint history (see checkpointHistories) from the consistency proofs made of
 * each chain (`proofs`, by chainKey at the newest checkpoint's head, indexed by the older
 * checkpoint's place in `all`; undefined: a node the proof needs is gone).
 */
function checkpointHistory(sessionId: string, all: readonly Checkpoint[], proofs: ReadonlyMap<string, ReadonlyArray<string[] | undefined>>): CheckpointHistoryEntry[] {
  const newest = all.at(-1)!.checkpoint;
  const entries: CheckpointHistoryEntry[] = [];
  for (let i = all.length - 2; i >= 0; i--) {
    const older = all[i]!;
    const next = all[i + 1]!.checkpoint;
    const consistency: Record<string, string[]> = {};
    for (const kind of CHAIN_KINDS) {
      const m = older.checkpoint.heads[kind]?.seq ?? 0;
      const n = next.heads[kind]?.seq ?? 0;
      if (m === 0 || m === n) continue;
      if (m > n) return entries.reverse();
      const proof = proofs.get(chainKey(sessionId, kind, newest.heads[kind]?.seq ?? 0))?.[i];
      if (!proof) return entries.reverse();
      consistency[kind] = proof;
    }
    entries.push({ older, consistency });
  }
  return entries.reverse();
}

/**
 * What the line as written has that `out` (the record as exported) shows otherwise: members
 * changed or left out (`written`: ciphertext of decrypted or withheld content, `prevHash`), and
 * members the export added. Undefined when the difference would give away what the export
 * withholds (anything but ciphertext and `prevHash`): no proof then.
 */
function writtenDiff(raw: RawRecord, out: RawRecord): { written: Record<string, unknown>; added: string[] } | undefined {
  const written: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k === "hash") continue;
    const present = Object.prototype.hasOwnProperty.call(out, k);
    if (present && out[k] === v) continue;
    if (k === "prevHash" ? present : !isEncryptedValue(v) || !present) return undefined;
    written[k] = v;
  }
  const added = Object.keys(out).filter((k) => !Object.prototype.hasOwnProperty.call(raw, k));
  if (added.some((k) => !addedByExport(String(raw.type)).includes(k))) return undefined;
  return { written, added };
}
