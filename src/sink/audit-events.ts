import { readLinesSync } from "../reader/lines-sync.js";
import { listKindFiles } from "./files.js";
import { envelopeMismatch } from "../pipeline/chain.js";

/** One audit_event record as read back: its fields unchecked, for the caller's own schema. */
export interface AuditEventRecord {
  readonly eventType: string;
  readonly details: unknown;
  readonly timestamp: unknown;
  readonly seq: unknown;
}

/**
 * The records of `sessionId`'s audit_event chain whose `eventType` is one of `types`, in chain
 * order: the one scan behind retention records (src/sink/prunes.ts), legal hold records (verify)
 * and crypto-shredding records (cleanup). Torn and unparsable lines are skipped: they are the
 * chain walk's to report. `names`: the directory's listing, when the caller has it.
 */
export function* auditEventsOf(auditDir: string, sessionId: string, types: readonly string[], names?: readonly string[]): Generator<AuditEventRecord> {
  const needles = types.map((t) => `"eventType":${JSON.stringify(t)}`);
  for (const f of listKindFiles(auditDir, "audit_event", sessionId, names)) {
    for (const l of readLinesSync(f.path)) {
      if (!l.terminated || !needles.some((n) => l.text.includes(n))) continue;
      let rec: { eventType?: unknown; details?: unknown; timestamp?: unknown; seq?: unknown } | null;
      try {
        rec = JSON.parse(l.text) as typeof rec;
      } catch {
        continue;
      }
      if (rec === null || typeof rec !== "object" || typeof rec.eventType !== "string" || !types.includes(rec.eventType)) continue;
      // (a line repeating an envelope member is the chain walk's to report: see envelopeMismatch)
      if (envelopeMismatch(l.text, rec as Record<string, unknown>) !== undefined) continue;
      yield { eventType: rec.eventType, details: rec.details, timestamp: rec.timestamp, seq: rec.seq };
    }
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
