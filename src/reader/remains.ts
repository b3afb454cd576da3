/**
 * Sessions whose records are gone but of which something that matters to an officer is left:
 * a legal hold in force naming the session, or the session's own files that outlive its records
 * (its `audit_event` chain, where its holds, shreddings and removals are recorded; its key store,
 * whose shredded keys are the proof of an erasure; its checkpoints). Found by the viewer pass,
 * 2026-12-05: such a session was in no listing (the readers list sessions by their session file
 * and record files), so the viewer's sessions list did not show that a hold on it, or a shredding
 * it recorded, existed; and the holds page did not read its `audit_event` chain.
 */
import fs from "node:fs";
import path from "node:path";
import { readHolds } from "../holds.js";
import { chainedHolds } from "../retention.js";
import { firstSessionId, isFileSessionId, listSessionIds, safeReaddir } from "../sink/files.js";
import { isRegularFileSync } from "../regular-file.js";
import { KEY_STORE_PREFIX } from "../pipeline/keyring.js";
import type { AuditEventsCache } from "../sink/audit-events.js";

/** What is left of one session whose records are gone (see {@link sessionRemains}). */
export interface SessionRemains {
  readonly sessionId: string;
  /** its files left in the directory (names): `audit_events_<id>…jsonl`, `subject_keys_<id>.jsonl`, `checkpoints_<id>.jsonl` */
  readonly files: readonly string[];
  /** the legal holds in force that name it (placed by a chained record and not released, or in `legal_holds.json`), as the chained record gives them when there is one (`placedAt`: the record's time) */
  readonly holds: ReadonlyArray<{ readonly holdId: string; readonly reason: string; readonly placedAt: string; readonly placedBySession: string }>;
  /** the newest modification time of its files left, ISO 8601 (undefined when only a hold names it) */
  readonly lastModified: string | undefined;
}

const AUDIT_EVENTS = /^audit_events_(.+?)(?:\.\d+)?\.jsonl$/;
/** `checkpoints_<id>.jsonl` (see checkpointFileName) */
const CHECKPOINTS = /^checkpoints_(.+)\.jsonl$/;

/**
 * Every session of `auditDir` with no session file and no record file (not in
 * `listSessionIds`) that a legal hold in force names, or whose `audit_event` chain, key store or
 * checkpoints are still there; sorted by id. Reads only: the listing, the holds file (a holds
 * file that cannot be read counts as none here: the holds page says why) and the chains' holds
 * (not with `holds: false`: the sessions whose files are left only). `cache`: the chains' holds
 * kept while their files are unchanged (FileRecordSource's, which lists on every call);
 * `listed`: listSessionIds of `names`, when the caller has it (each reads every chain file's
 * name and stats it).
 */
export function sessionRemains(auditDir: string, o: { readonly holds?: boolean; readonly cache?: AuditEventsCache; readonly listed?: readonly string[] } = {}, names: readonly string[] = safeReaddir(auditDir)): SessionRemains[] {
  const ids = o.listed ?? listSessionIds(auditDir, names);
  const listed = new Set(ids);
  const out = new Map<string, { files: string[]; holds: Array<SessionRemains["holds"][number]>; mtime: number }>();
  const entry = (sid: string) => {
    let e = out.get(sid);
    if (!e) out.set(sid, (e = { files: [], holds: [], mtime: 0 }));
    return e;
  };
  for (const name of names) {
    let sid: string | undefined;
    const ev = AUDIT_EVENTS.exec(name);
    const file = path.join(auditDir, name);
    // (a chain file of a listed session, by its name, is not opened: the holds page asks this on
    // each request, and keeps the chains it read, see ServeData.auditEvents)
    if (ev) sid = listed.has(ev[1]!) ? ev[1] : (firstSessionId(file) ?? ev[1]);
    else if (name.startsWith(KEY_STORE_PREFIX) && name.endsWith(".jsonl")) sid = name.slice(KEY_STORE_PREFIX.length, -".jsonl".length);
    else sid = CHECKPOINTS.exec(name)?.[1];
    if (sid === undefined || listed.has(sid) || !isFileSessionId(sid) || !isRegularFileSync(file)) continue;
    const e = entry(sid);
    e.files.push(name);
    e.mtime = Math.max(e.mtime, fs.lstatSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
  }
  let fileHolds: ReturnType<typeof readHolds> = [];
  try {
    if (o.holds !== false) fileHolds = readHolds(auditDir);
  } catch {
    // (unreadable: the holds page says why; the chained holds still count)
  }
  const seen = new Set<string>();
  // (a hold both name is given as its chained record has it, the chain being the evidence, and
  // as the PostgreSQL store gives it: the register's placedAt is taken a few ms before the record's
  // time; until 2026-12-05 the register's came first, found by the session-status pass. A hold
  // the register holds alone, its record lost, is given as the register has it.)
  for (const h of o.holds === false ? [] : [...chainedHolds(auditDir, names, o.cache, ids), ...fileHolds]) {
    if (seen.has(h.id) || h.scope === "all" || listed.has(h.scope) || !isFileSessionId(h.scope)) continue;
    seen.add(h.id);
    entry(h.scope).holds.push({ holdId: h.id, reason: typeof h.reason === "string" ? h.reason : "", placedAt: String(h.placedAt), placedBySession: String(h.placedBySession) });
  }
  return [...out.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sessionId, e]) => ({ sessionId, files: e.files.sort(), holds: e.holds, lastModified: e.mtime > 0 ? new Date(e.mtime).toISOString() : undefined }));
}
