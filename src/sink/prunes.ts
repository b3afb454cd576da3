import { z } from "zod";
import type { MerkleFrontier } from "../integrity/merkle.js";
import { CHAIN_KINDS, type ChainKind } from "../types.js";
import { auditEventsOf, type ChainedHoldPlacement, type ChainedHoldRelease } from "./audit-events.js";

/**
 * The `retention_pruned` records of a session's audit_event chain: what retention removed, read
 * back by the writer (to continue a chain whose segments are gone), by cleanup (to continue the
 * Merkle tree) and by the verifiers (to tell policy from tampering). One reader and one choice of
 * the prune that reached furthest, so the three cannot disagree.
 */

export interface PrunePolicy {
  readonly maxLogAgeDays: number;
  readonly minRetentionDays: number;
}

/** What a removal took away: enough for a verifier to tell policy from tampering. */
export type PruneEvent =
  | {
      readonly scope: "session";
      readonly sessionId: string;
      readonly lastActivity: string;
      readonly files: readonly string[];
      readonly policy: PrunePolicy;
      /**
       * the data keys the session's `subject_shredded` records said were destroyed: the verifier
       * still knows them once those records are gone (else `key_missing` for the shredded
       * subjects' records in other sessions)
       */
      readonly shreddedKeyIds?: readonly string[];
      /**
       * the sessions the removed session's own cleanups had removed (as its `retention_pruned`
       * records said, and what theirs carried): their removal records go with it, and the
       * verifier must still tell those removals from deletions
       */
      readonly removedSessions?: readonly string[];
      /**
       * the legal holds the removed session's chain placed (and those its removals carried):
       * their chained evidence, which goes with that chain; cleanup still honours them, verify
       * and the viewer still know them (see holdsBy)
       */
      readonly legalHolds?: readonly ChainedHoldPlacement[];
      /** the releases the removed session's chain recorded (and those its removals carried), by hold id */
      readonly releasedHolds?: readonly ChainedHoldRelease[];
    }
  | {
      readonly scope: "segments";
      readonly sessionId: string;
      readonly kind: ChainKind;
      readonly segments: readonly number[];
      /** seq and hash of the last record removed: the chain goes on from there */
      readonly lastSeq: number;
      readonly lastHash: string;
      readonly newestRecordTime: string;
      /** the chain's Merkle tree over every record up to lastSeq, so checkpoints stay verifiable */
      readonly merkleFrontier: MerkleFrontier;
      readonly files: readonly string[];
      readonly policy: PrunePolicy;
    };

export type SegmentPrune = Extract<PruneEvent, { scope: "segments" }>;
export type SessionPrune = Extract<PruneEvent, { scope: "session" }>;

const HEX64 = /^[0-9a-f]{64}$/;
const isoTime = z.string().refine((s) => Number.isFinite(Date.parse(s)), "an ISO time");
const policySchema = z.object({ maxLogAgeDays: z.number().nonnegative(), minRetentionDays: z.number().nonnegative() });
const frontierSchema = z
  .object({ size: z.number().int().nonnegative(), subtrees: z.array(z.string().regex(HEX64)) })
  // one perfect subtree per binary digit of size
  .refine((f) => f.subtrees.length === popcount(f.size), "one subtree per binary digit of size");
const segmentsSchema = z.object({
  scope: z.literal("segments"),
  sessionId: z.string(),
  kind: z.enum(CHAIN_KINDS),
  segments: z.array(z.number().int().positive()).min(1),
  lastSeq: z.number().int().positive(),
  lastHash: z.string().regex(HEX64),
  newestRecordTime: isoTime,
  merkleFrontier: frontierSchema,
  files: z.array(z.string()),
  policy: policySchema,
});
const sessionSchema = z.object({
  scope: z.literal("session"),
  sessionId: z.string(),
  lastActivity: isoTime,
  files: z.array(z.string()),
  policy: policySchema,
  shreddedKeyIds: z.array(z.string()).optional(),
  removedSessions: z.array(z.string()).optional(),
  legalHolds: z.array(z.object({ holdId: z.string(), scope: z.string(), placedAt: z.string(), placedBySession: z.string(), reason: z.string() })).optional(),
  releasedHolds: z.array(z.object({ holdId: z.string(), releasedAt: z.string(), releasedBySession: z.string(), reason: z.string() })).optional(),
});

export interface PruneRecords {
  readonly segments: Array<{ readonly event: SegmentPrune; readonly time: string; readonly seq: number }>;
  readonly sessions: Array<{ readonly event: SessionPrune; readonly time: string; readonly seq: number }>;
  /** records whose details are not a prune the kit writes: a verifier reports them, everyone else leaves them out */
  readonly malformed: Array<{ readonly seq: number | undefined; readonly detail: string }>;
}

/**
 * Every `retention_pruned` record of `sessionId`'s audit_event chain, in chain order, checked
 * against the shape the kit writes. `names`: the directory's listing, when the caller has it.
 */
export function readPruneRecords(auditDir: string, sessionId: string, names?: readonly string[]): PruneRecords {
  const out: PruneRecords = { segments: [], sessions: [], malformed: [] };
  for (const rec of auditEventsOf(auditDir, sessionId, ["retention_pruned"], names)) {
    const seq = typeof rec.seq === "number" ? rec.seq : undefined;
    const time = typeof rec.timestamp === "string" && Number.isFinite(Date.parse(rec.timestamp)) ? rec.timestamp : undefined;
    const scope = (rec.details as { scope?: unknown } | null | undefined)?.scope;
    const parsed = scope === "session" ? sessionSchema.safeParse(rec.details) : segmentsSchema.safeParse(rec.details);
    if (!parsed.success || time === undefined || seq === undefined) {
      const why = !parsed.success ? parsed.error.issues.map((i) => `${i.path.join(".") || "details"}: ${i.message}`).join("; ") : "no timestamp or seq";
      out.malformed.push({ seq, detail: why });
      continue;
    }
    if (parsed.data.scope === "session") out.sessions.push({ event: parsed.data, time, seq });
    else out.segments.push({ event: parsed.data, time, seq });
  }
  return out;
}

/** For each kind, the segment prune that reached furthest (highest lastSeq): where its chain goes on. */
export function furthestPrunes(records: PruneRecords): Partial<Record<ChainKind, SegmentPrune>> {
  const out: Partial<Record<ChainKind, SegmentPrune>> = {};
  for (const { event } of records.segments) {
    const prev = out[event.kind];
    if (!prev || event.lastSeq > prev.lastSeq) out[event.kind] = event;
  }
  return out;
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}
