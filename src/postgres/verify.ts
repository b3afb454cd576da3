/**
 * Verifies the chains stored in PostgreSQL the way `verifyAuditLog` verifies files: every hash
 * is recomputed from the exact stored line, every `prevHash` link and `seq` checked, the envelope
 * columns and the jsonb copy compared with the line, and every checkpoint the sinks wrote
 * matched against the record at its seq. A chain may start after seq 1 only where the retention
 * function logged a cut.
 */
import type { Pool } from "pg";
import { z } from "zod";
import { GENESIS_HASH, hashBody, splitSealedLine } from "../pipeline/chain.js";
import { CHAIN_KINDS, type VerifyNote, type VerifyProblem, type VerifyReport } from "../types.js";
import { connectionOptionsShape, parseOptions, poolFor, schemaOf } from "./pg.js";
import type { PostgresConnectionOptions } from "./options.js";
import { names } from "./schema.js";
import { storeError } from "./store-error.js";
import { columnText, jsonbText } from "./rows.js";

/** Options of {@link verifyPostgres}. */
export interface PostgresVerifyOptions extends PostgresConnectionOptions {
  /** verify one session only (default: every session in the store) */
  readonly sessionId?: string | undefined;
}

const verifyOptionsSchema = z.strictObject({ ...connectionOptionsShape, sessionId: z.string().min(1).optional() });

const PAGE = 2000;

/** What `record->>'field'` gives for a JSON value: its text, or null. */

interface Row {
  seq: string;
  ts: Date;
  session_id: string;
  kind: string;
  prev_hash: string;
  hash: string;
  id: string;
  model: string | null;
  user_id: string | null;
  trace_id: string | null;
  line: string;
  /** null for a line that cannot be cast to jsonb as it is (see `record_text`) */
  jsonb_matches: boolean | null;
  /** the jsonb copy as text, for those lines only */
  record_text: string | null;
}

/**
 * Of rows whose line cannot be cast to jsonb as it is (it holds `\u0000` or a lone surrogate's
 * escape, or only such text, a prompt quoting them), the ones whose jsonb copy is not the one the
 * line gives (`jsonbText`, as the sink made it), compared as jsonb by PostgreSQL. Found by review,
 * 2026-12-05: these rows were not compared at all, so an UPDATE of such a row's jsonb (which the
 * viewer's filters and summaries read) went unnoticed.
 */
async function jsonbMismatches(pool: Pool, rows: ReadonlyArray<{ stored: string; line: string }>): Promise<Set<number>> {
  if (rows.length === 0) return new Set();
  const r = await pool.query<{ i: string }>(
    `SELECT u.i::text AS i FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(stored, expected, i) WHERE u.stored::jsonb IS DISTINCT FROM u.expected::jsonb`,
    [rows.map((x) => x.stored), rows.map((x) => jsonbText(x.line))],
  );
  return new Set(r.rows.map((x) => Number(x.i) - 1));
}

/**
 * Checks every chain in the store. Resolves to the same report shape as `verifyAuditLog`.
 *
 * @example
 * const report = await verifyPostgres({ connectionString: process.env.AUDIT_PG_URL });
 * if (!report.ok) console.error(report.problems);
 */
export async function verifyPostgres(options: PostgresVerifyOptions): Promise<VerifyReport> {
  const o = parseOptions(verifyOptionsSchema, options, "postgres") as PostgresVerifyOptions;
  const { pool, owned } = poolFor(o, { max: 1 }, "postgres");
  try {
    return await verifyWith(pool, schemaOf(o), o.sessionId);
  } catch (err) {
    throw storeError(err, pool, schemaOf(o), "verify");
  } finally {
    if (owned) await pool.end();
  }
}

export async function verifyWith(pool: Pool, schema: string, sessionId?: string): Promise<VerifyReport> {
  const n = names(schema);
  const problems: VerifyProblem[] = [];
  const notes: VerifyNote[] = [];
  let records = 0;
  const sessions = sessionId
    ? [sessionId]
    : // (found by review, 2026-12-04: listed from the sessions and records only, so a session whose
      // records' partitions and sessions row were gone verified OK; its checkpoints and retention
      // cuts name it too)
      (
        await pool.query<{ s: string }>(
          `SELECT session_id AS s FROM ${n.sessions} UNION SELECT DISTINCT session_id FROM ${n.records}
           UNION SELECT DISTINCT session_id FROM ${n.checkpoints} UNION SELECT DISTINCT session_id FROM ${n.retentionCuts} ORDER BY 1`,
        )
      ).rows.map((r) => r.s);
  for (const sid of sessions) {
    const cuts = new Map<string, { seq: number; hash: string }>();
    for (const c of (
      await pool.query<{ kind: string; seq: string; hash: string }>(
        `SELECT DISTINCT ON (kind) kind, through_seq::text AS seq, through_hash AS hash FROM ${n.retentionCuts} WHERE session_id = $1 ORDER BY kind, through_seq DESC`,
        [sid],
      )
    ).rows) {
      cuts.set(c.kind, { seq: Number(c.seq), hash: c.hash });
    }
    const checkpoints = (
      await pool.query<{ kind: string; seq: string; hash: string }>(`SELECT c.kind, c.seq::text AS seq, c.hash FROM ${n.checkpoints} c WHERE c.session_id = $1 ORDER BY c.kind, c.seq`, [sid])
    ).rows.map((c) => ({ kind: c.kind, seq: Number(c.seq), hash: c.hash }));
    for (const kind of CHAIN_KINDS) {
      const where = `postgres:${schema}.audit_records session=${sid} kind=${kind}`;
      const wanted = new Map<number, string>();
      for (const c of checkpoints) if (c.kind === kind) wanted.set(c.seq, c.hash);
      const seen = new Map<number, string>();
      const cut = cuts.get(kind);
      let prevHash: string | undefined;
      let expectSeq: number | undefined;
      let lastSeq = 0;
      let after: { seq: string; ts: Date } = { seq: "0", ts: new Date(0) };
      for (;;) {
        const page = await pool.query<Row>(
          `SELECT r.seq::text AS seq, r.ts, r.session_id, r.kind, r.prev_hash, r.hash, r.id, r.model, r.user_id, r.trace_id, r.line,
                  CASE WHEN r.line ~ '\\\\u(0000|[dD][89a-fA-F])' THEN NULL ELSE r.record = r.line::jsonb END AS jsonb_matches,
                  CASE WHEN r.line ~ '\\\\u(0000|[dD][89a-fA-F])' THEN r.record::text END AS record_text
             FROM ${n.records} r
            WHERE r.session_id = $1 AND r.kind = $2 AND (r.seq, r.ts) > ($3::bigint, $4::timestamptz)
            ORDER BY r.seq, r.ts LIMIT ${PAGE}`,
          [sid, kind, after.seq, after.ts],
        );
        const uncast = page.rows.filter((row) => row.record_text !== null);
        const mismatched = await jsonbMismatches(pool, uncast.map((row) => ({ stored: row.record_text!, line: row.line })));
        const jsonbEdited = new Set(uncast.filter((_, i) => mismatched.has(i)));
        for (const row of page.rows) {
          records++;
          const seq = Number(row.seq);
          const p = (k: string, detail: string) => problems.push({ file: where, seq, kind: k, detail, sessionId: sid });
          const sealed = splitSealedLine(row.line);
          let rec: Record<string, unknown> | undefined;
          try {
            rec = JSON.parse(row.line) as Record<string, unknown>;
          } catch {
            rec = undefined;
          }
          if (!sealed || !rec || typeof rec !== "object") {
            p("malformed_line", `The stored line of seq ${seq} is not a sealed audit record.`);
            continue;
          }
          if (hashBody(String(rec.prevHash), sealed.body) !== sealed.hash) {
            p("record_modified", `Record seq ${seq} does not match its hash: its line was changed after it was written.`);
          }
          if (
            row.hash !== sealed.hash ||
            row.prev_hash !== rec.prevHash ||
            rec.seq !== seq ||
            row.session_id !== rec.sessionId ||
            row.kind !== rec.type ||
            typeof rec.timestamp !== "string" ||
            row.ts.getTime() !== Date.parse(rec.timestamp) ||
            row.jsonb_matches === false ||
            jsonbEdited.has(row) ||
            row.id !== rec.id ||
            row.model !== columnText(rec.model) ||
            row.user_id !== columnText(rec.userId) ||
            row.trace_id !== columnText(rec.traceId)
          ) {
            p("column_mismatch", `The columns or the jsonb copy of seq ${seq} disagree with its stored line: the row was edited after insertion.`);
          }
          if (expectSeq === undefined) {
            // the first stored record of this chain
            if (seq === 1) {
              if (rec.prevHash !== GENESIS_HASH) p("chain_broken", `Record seq 1 does not start from the genesis hash.`);
            } else if (cut && cut.seq === seq - 1 && rec.prevHash === cut.hash) {
              notes.push({ file: where, seq, kind: "retention_cut", detail: `Records 1..${cut.seq} were removed by the retention function (logged in audit_retention_log); the chain continues from there.` });
            } else {
              p("records_missing", `The chain starts at seq ${seq}: records before it are missing and no retention cut accounts for them.`);
            }
          } else {
            if (rec.prevHash !== prevHash) p("chain_broken", `Record seq ${seq} does not link to the record before it: records were removed, inserted or reordered.`);
            if (seq !== expectSeq) {
              const k = seq < expectSeq ? (seq === expectSeq - 1 ? "seq_duplicate" : "seq_out_of_order") : "seq_gap";
              p(k, `Record has seq ${seq} where ${expectSeq} was expected${k === "seq_duplicate" ? " (two records share it: two writers used one sessionId, or the session was resumed after a crash that lost from the files records the store had kept; docs/POSTGRES.md)" : ""}.`);
            }
          }
          if (wanted.has(seq)) seen.set(seq, sealed.hash);
          prevHash = sealed.hash;
          expectSeq = seq + 1;
          lastSeq = Math.max(lastSeq, seq);
        }
        if (page.rows.length < PAGE) break;
        const last = page.rows[page.rows.length - 1]!;
        after = { seq: last.seq, ts: last.ts };
      }
      for (const [seq, hash] of wanted) {
        if (cut && seq <= cut.seq) continue;
        const got = seen.get(seq);
        if (got === undefined) {
          problems.push({
            file: where,
            seq,
            kind: seq > lastSeq ? "checkpoint_truncated" : "checkpoint_missing_record",
            detail: `A checkpoint says seq ${seq} was stored, but it is not in the store${seq > lastSeq ? ` (the chain ends at ${lastSeq}): records were deleted` : ""}.`,
            sessionId: sid,
          });
        } else if (got !== hash) {
          problems.push({ file: where, seq, kind: "checkpoint_mismatch", detail: `The record at seq ${seq} is not the one the checkpoint recorded: the chain was rewritten.`, sessionId: sid });
        }
      }
    }
  }
  notes.push({
    kind: "self_consistent_only",
    detail: "The store's chains are self-consistent and agree with the checkpoints the sinks wrote; someone with write access who rewrote a chain and its checkpoints together would not be caught. Compare with the instances' signed checkpoints for that.",
  });
  return { ok: problems.length === 0, sessions, recordsChecked: records, problems, notes };
}
