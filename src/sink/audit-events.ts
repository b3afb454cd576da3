import { readLinesSync } from "../reader/lines-sync.js";
import fs from "node:fs";
import path from "node:path";
import { fileStamp, firstSessionId, isFileSessionId, listKindFiles, listSessionIds, safeReaddir } from "./files.js";
import { isRegularFileSync } from "../regular-file.js";
import { envelopeMismatch } from "../pipeline/chain.js";

/** One audit_event record as read back: its fields unchecked, for the caller's own schema. */
export interface AuditEventRecord {
  readonly eventType: string;
  readonly reason: unknown;
  readonly details: unknown;
  readonly timestamp: unknown;
  readonly seq: unknown;
}

/**
 * The records of `sessionId`'s audit_event chain whose `eventType` is one of `types`, in chain
 * order: the one scan behind retention records (src/sink/prunes.ts), legal hold records (verify)
 * and crypto-shredding records (cleanup). Torn and unparsable lines are skipped: they are the
 * chain walk's to report. `names`: the directory's listing, when the caller has it; `cache`: what
 * was read of unchanged files before (see {@link AuditEventsCache}).
 */
export function* auditEventsOf(auditDir: string, sessionId: string, types: readonly string[], names?: readonly string[], cache?: AuditEventsCache): Generator<AuditEventRecord> {
  for (const f of listKindFiles(auditDir, "audit_event", sessionId, names)) {
    if (!cache) {
      yield* fileEvents(f.path, types);
      continue;
    }
    let st: fs.BigIntStats | undefined;
    try {
      st = fs.statSync(f.path, { bigint: true });
    } catch {
      continue; // (removed under us: cleanup while reading)
    }
    const stamp = fileStamp(st);
    const key = `${types.join(",")}\0${f.path}`;
    const hit = cache.files.get(key);
    if (hit?.stamp === stamp) {
      cache.counts.reused++;
      cache.seen?.add(key);
      yield* hit.records;
      continue;
    }
    // (the stamp is taken before the read: a file that grows meanwhile is read again next time)
    const records = [...fileEvents(f.path, types)];
    cache.counts.read++;
    cache.files.set(key, { stamp, records });
    cache.seen?.add(key);
    yield* records;
  }
}

/**
 * What {@link auditEventsOf} read of each `audit_event` file while it is unchanged (size, mtime,
 * ctime and inode, to the nanosecond), by file and record types, for a caller that asks again and
 * again: listSessions() reads every chain's holds on each call (see reader/remains.ts). Found by
 * review, 2026-12-05: with 2,000 sessions that was about 2-3 s of every listing, and serve lists on
 * each GET /api/sessions and for each session's stats. `counts`: files read and files answered
 * from what was kept. {@link forgetUnseen} drops the files not met since {@link beginPass}.
 */
export class AuditEventsCache {
  readonly files = new Map<string, { readonly stamp: string; readonly records: readonly AuditEventRecord[] }>();
  readonly counts = { read: 0, reused: 0 };
  seen: Set<string> | undefined;
  beginPass(): void {
    this.seen = new Set();
  }
  forgetUnseen(): void {
    if (this.seen) for (const k of this.files.keys()) if (!this.seen.has(k)) this.files.delete(k);
    this.seen = undefined;
  }
}

function* fileEvents(file: string, types: readonly string[]): Generator<AuditEventRecord> {
  const needles = types.map((t) => `"eventType":${JSON.stringify(t)}`);
  for (const l of readLinesSync(file)) {
    if (!l.terminated || !needles.some((n) => l.text.includes(n))) continue;
    let rec: { eventType?: unknown; reason?: unknown; details?: unknown; timestamp?: unknown; seq?: unknown } | null;
    try {
      rec = JSON.parse(l.text) as typeof rec;
    } catch {
      continue;
    }
    if (rec === null || typeof rec !== "object" || typeof rec.eventType !== "string" || !types.includes(rec.eventType)) continue;
    // (a line repeating an envelope member is the chain walk's to report: see envelopeMismatch)
    if (envelopeMismatch(l.text, rec as Record<string, unknown>) !== undefined) continue;
    yield { eventType: rec.eventType, reason: rec.reason, details: rec.details, timestamp: rec.timestamp, seq: rec.seq };
  }
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/**
 * What a `subject_shredded` or `retention_pruned` record says is gone: the data keys destroyed
 * (a shredding's, or those a removed session's record carries) and the whole sessions removed
 * (a session's removal, and the sessions that session had removed, which its record carries).
 * The one reading of them for the verifier and for the removal record that carries them on.
 */
export function goneBy(rec: AuditEventRecord): { keyIds: string[]; sessionIds: string[] } {
  const d = (rec.details ?? {}) as { keyIds?: unknown; scope?: unknown; sessionId?: unknown; shreddedKeyIds?: unknown; removedSessions?: unknown };
  if (rec.eventType === "subject_shredded") return { keyIds: strings(d.keyIds), sessionIds: [] };
  if (rec.eventType !== "retention_pruned" || d.scope !== "session") return { keyIds: [], sessionIds: [] };
  return { keyIds: strings(d.shreddedKeyIds), sessionIds: [...(typeof d.sessionId === "string" ? [d.sessionId] : []), ...strings(d.removedSessions)] };
}

/** A legal hold's placement as a chain recorded it (a `legal_hold_placed` record, or one a removal record carries). */
export interface ChainedHoldPlacement {
  readonly holdId: string;
  readonly scope: string;
  readonly placedAt: string;
  readonly placedBySession: string;
  readonly reason: string;
}

/** A legal hold's release as a chain recorded it (a `legal_hold_released` record names the holds by id, or one a removal record carries). */
export interface ChainedHoldRelease {
  readonly holdId: string;
  readonly releasedAt: string;
  readonly releasedBySession: string;
  readonly reason: string;
}

/**
 * What a record of session `sessionId`'s audit_event chain says of legal holds: a
 * `legal_hold_placed` its hold, a `legal_hold_released` the holds it names by id, and a session's
 * `retention_pruned` the placements and releases the removed session's chain recorded (and carried
 * on from its own removals), which it carries (see carriedBy in retention.ts: until 2026-12-05 a
 * hold went with the chain of the session that placed it, and lived on in `legal_holds.json`
 * only). The one reading of them for cleanup, verify and the viewer. A release that names no ids
 * releases none: every version of the kit has named them (see chainedHolds).
 */
export function holdsBy(rec: AuditEventRecord, sessionId: string): { placed: ChainedHoldPlacement[]; released: ChainedHoldRelease[] } {
  const d = (rec.details ?? {}) as { holdId?: unknown; scope?: unknown; holdIds?: unknown; legalHolds?: unknown; releasedHolds?: unknown };
  const at = typeof rec.timestamp === "string" ? rec.timestamp : "";
  const reason = typeof rec.reason === "string" ? rec.reason : "";
  if (rec.eventType === "legal_hold_placed") {
    if (typeof d.holdId !== "string" || d.holdId === "" || typeof d.scope !== "string" || d.scope === "") return { placed: [], released: [] };
    return { placed: [{ holdId: d.holdId, scope: d.scope, placedAt: at, placedBySession: sessionId, reason }], released: [] };
  }
  if (rec.eventType === "legal_hold_released") {
    return { placed: [], released: strings(d.holdIds).map((holdId) => ({ holdId, releasedAt: at, releasedBySession: sessionId, reason })) };
  }
  if (rec.eventType !== "retention_pruned" || d.scope !== "session") return { placed: [], released: [] };
  const objects = (v: unknown): Array<Record<string, unknown>> => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null) : []);
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  const placed = objects(d.legalHolds)
    .filter((h) => str(h.holdId) !== "" && str(h.scope) !== "")
    .map((h) => ({ holdId: str(h.holdId), scope: str(h.scope), placedAt: str(h.placedAt), placedBySession: str(h.placedBySession), reason: str(h.reason) }));
  const released = objects(d.releasedHolds)
    .filter((h) => str(h.holdId) !== "")
    .map((h) => ({ holdId: str(h.holdId), releasedAt: str(h.releasedAt), releasedBySession: str(h.releasedBySession), reason: str(h.reason) }));
  return { placed, released };
}

const AUDIT_EVENTS_FILE = /^audit_events_(.+?)(?:\.\d+)?\.jsonl$/;

/**
 * The `audit_event` chain files of the listing `names`, by the session their name gives them
 * (`audit_events_<id>.jsonl`, and its segments `audit_events_<id>.<n>.jsonl`; a session id never
 * ends in `.<digits>`, see isFileSessionId): one pass over the listing, for a caller that reads
 * every session's chain, which hands each session's names to {@link auditEventsOf} (listKindFiles
 * judges them as ever: a segment whose first record names another session is left out). Found
 * 2026-12-05: chainedHolds filtered the whole listing for each session, quadratic in the
 * directory (16,000 files, 2,000 sessions: 32 million names looked at per listing).
 */
export function chainFilesBySession(names: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of names) {
    // (the name read as chainSessionIds reads it: AUDIT_EVENTS_FILE)
    const sid = AUDIT_EVENTS_FILE.exec(name)?.[1];
    if (sid === undefined) continue;
    const of = out.get(sid);
    if (of) of.push(name);
    else out.set(sid, [name]);
  }
  return out;
}

/**
 * Every session of the listing `names` that has an `audit_event` chain file or is listed
 * (listSessionIds): those whose records are gone but whose chain is left too (see
 * reader/remains.ts), by the file's name, or, when no listed session has that name, its first
 * record's `sessionId`. Found 2026-12-05: cleanup read the holds of listed sessions' chains only,
 * so a hold recorded in a chain whose session's records were gone was not honoured once
 * `legal_holds.json` was lost. `listed`: listSessionIds of `names`, when the caller has it.
 */
export function chainSessionIds(auditDir: string, names: readonly string[] = safeReaddir(auditDir), listed: readonly string[] = listSessionIds(auditDir, names)): string[] {
  const ids = new Set(listed);
  for (const name of names) {
    const m = AUDIT_EVENTS_FILE.exec(name);
    if (!m || ids.has(m[1]!)) continue;
    const file = path.join(auditDir, name);
    if (!isRegularFileSync(file)) continue;
    const sid = firstSessionId(file) ?? m[1]!;
    if (isFileSessionId(sid)) ids.add(sid);
  }
  return [...ids].sort();
}
