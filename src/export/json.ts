/**
 * The JSON export: one document with the session summaries and every record of every kind, in
 * chain order (session by session, oldest first), written as a stream so memory stays bounded.
 */
import type { RawRecord } from "../reader/records.js";
import type { AuditViewer } from "../reader/viewer.js";
import { KIND_FILE_STEM, RECORD_KINDS } from "../types.js";
import { ExportWithholder, filteredSummary, withholdHeadHashes, withoutChainLink } from "./withhold.js";
import { compileQuery } from "../reader/query.js";
import { PROOFS_FORMAT, type ExportProver } from "../integrity/proofs.js";

/**
 * Which records an export holds (JSON and CSV): one user's, and/or a time range (ISO UTC;
 * `since` inclusive, `until` exclusive). Absent: every record.
 */
export interface ExportFilter {
  readonly userId?: string;
  readonly since?: string;
  readonly until?: string;
}

/**
 * Marks the document's layout, for readers of old exports.
 *
 * @example
 * if (JSON.parse(text).format !== JSON_EXPORT_FORMAT) throw new Error("unknown export format");
 */
export const JSON_EXPORT_FORMAT = "audit-logger-export/v1";

const BATCH_CHARS = 64 * 1024;

/**
 * The JSON document's text in pieces. With `includeFullContent`, each chat record that has full
 * content gets a `content` member `{ prompt, response, encrypted, verified, checks, problems }`;
 * without it, content fields are withheld, and the chain hashes that would give away content
 * that is not encrypted (see `ExportWithholder`; pass one to learn afterwards which sessions lost
 * them), with the head hashes of the chat and tool chains in the session summaries.
 */
export async function* jsonExportChunks(
  viewer: AuditViewer,
  o: { includeFullContent: boolean; exportedAt: string; withholder?: ExportWithholder; filter?: ExportFilter; counter?: { records: number }; proofs?: (sessionIds: readonly string[]) => Promise<ExportProver> },
): AsyncGenerator<string> {
  const withholder = o.withholder ?? new ExportWithholder();
  const filter = o.filter;
  // (with a filter, only the sessions that hold a matching record: a user's access request
  // names no session of other users)
  const sessions = filter ? await sessionsMatching(viewer, filter) : await viewer.getSessionIds();
  let buf = `{\n"format":${JSON.stringify(JSON_EXPORT_FORMAT)},\n"exportedAt":${JSON.stringify(o.exportedAt)},\n"source":${JSON.stringify(viewer.auditPath ?? viewer.source.description)},\n"includeFullContent":${o.includeFullContent},${filter ? `\n"filter":${JSON.stringify(filter)},` : ""}`;
  // (with proofs: the checkpoints they lead to, in the header, one line each, before the records)
  const prover = o.proofs ? await o.proofs(sessions) : undefined;
  // (and each session's older checkpoints, with the consistency proofs that the newest extends them)
  if (prover) {
    const history = prover.history();
    buf += `\n"proofs":{"format":${JSON.stringify(PROOFS_FORMAT)},"checkpoints":[${prover.checkpoints().map((c) => `\n${JSON.stringify(c)}`).join(",")}\n]${history.length > 0 ? `,"history":[${history.map((h) => `\n${JSON.stringify(h)}`).join(",")}\n]` : ""}},`;
  }
  buf += `\n"sessions":[`;
  let first = true;
  for (const id of sessions) {
    const s = await viewer.getSessionSummary(id);
    if (!s) continue;
    // (of one user or a time range: the session's id and times, not every user's figures in it)
    buf += `${first ? "\n" : ",\n"}${JSON.stringify(filter ? filteredSummary(s) : o.includeFullContent ? s : withholdHeadHashes(s))}`;
    first = false;
  }
  buf += `\n],\n"records":{`;
  for (const [ki, kind] of RECORD_KINDS.entries()) {
    buf += `${ki === 0 ? "\n" : ",\n"}${JSON.stringify(KIND_FILE_STEM[kind])}:[`;
    let firstRec = true;
    const match = filter ? compileQuery(kind, filter, "export").match : undefined;
    for await (const viewed of viewer.iterate(kind)) {
      const rec = viewed as unknown as RawRecord;
      let out: RawRecord = rec;
      // (every record goes through the withholder, kept or not: it follows each chain in order)
      if (!o.includeFullContent) out = withholder.record(rec);
      if (match && !match(rec)) continue;
      if (o.includeFullContent && kind === "chat_interaction" && rec.fullContent !== undefined) {
        const c = await viewer.loadContent(rec);
        if (c) {
          const { manifest: _m, interactionId: _i, sessionId: _s, ...content } = c;
          out = { ...rec, content };
        }
      }
      // (the link to the record before, another user's as a rule, is not in an export of one user)
      if (filter) out = withoutChainLink(out);
      if (prover) out = { ...out, proof: await prover.proofFor(rec, out) };
      buf += `${firstRec ? "\n" : ",\n"}${JSON.stringify(out)}`;
      firstRec = false;
      if (o.counter) o.counter.records++;
      if (buf.length >= BATCH_CHARS) {
        yield buf;
        buf = "";
      }
    }
    buf += firstRec ? "]" : "\n]";
  }
  buf += "\n}\n}\n";
  yield buf;
}

/** The sessions holding at least one record `filter` matches (each read up to its first match). */
async function sessionsMatching(viewer: AuditViewer, filter: ExportFilter): Promise<string[]> {
  const out: string[] = [];
  for (const sessionId of await viewer.getSessionIds()) {
    find: for (const kind of RECORD_KINDS) {
      for await (const _ of viewer.iterate(kind, { ...filter, sessionId })) {
        out.push(sessionId);
        break find;
      }
    }
  }
  return out;
}
