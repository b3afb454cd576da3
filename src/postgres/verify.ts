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
import { names, SUBJECT_OF_LINE } from "./schema.js";
import { readsAgainIfEnded, storeError, type StoreReads } from "./store-error.js";
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
async function jsonbMismatches(pool: StoreReads, rows: ReadonlyArray<{ stored: string; line: string }>): Promise<Set<number>> {
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

/**
 * `verifyPostgres` on `from`. Each of its reads runs once more on a new connection when the server
 * ended its connection under it (57P01 …, see `againIfEnded`), as the viewer's do: found by the
 * PostgreSQL fault pass, 2026-12-06, one pg_terminate_backend failed a whole verify (of a large
 * store, minutes of work).
 */
export async function verifyWith(from: Pool, schema: string, sessionId?: string): Promise<VerifyReport> {
  const pool = readsAgainIfEnded(from);
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
  await checkShreds(pool, schema, sessionId, problems, notes);
  notes.push({
    kind: "self_consistent_only",
    detail: "The store's chains are self-consistent and agree with the checkpoints the sinks wrote; someone with write access who rewrote a chain and its checkpoints together would not be caught. Compare with the instances' signed checkpoints for that.",
  });
  return { ok: problems.length === 0, sessions, recordsChecked: records, problems, notes };
}

/** The strings of a jsonb value that is an array (a record's `keyIds` or `subjectTags`), else none. */
const stringsOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/**
 * Compares the stored `subject_shredded` records with the key rows (`audit_subject_keys`, schema
 * version 6; found 2026-12-06, by the PostgreSQL pass: verify looked at the chains only, so a
 * shred the store did not carry out, or a key destroyed without one, went unreported):
 * - `key_not_shredded`: a record names a key id, or a subject tag, whose key row is readable, or a
 *   tag without its tombstone in `audit_shredded_subjects` (a key line of that subject stored
 *   later would be readable): the shredding trigger was off, or the row was put back;
 * - `key_shredded_without_record`: a shredded key row whose `shredded_by` names no stored
 *   `subject_shredded` record that names its key id or a subject (a shred by hand); a record
 *   retention removed (its seq at or below a retention cut of its session) is not one;
 * - `key_row_malformed`: a readable key row whose line is not one as the kit writes it (stored
 *   before version 8's insert guard; `audit_key_line_problem` says what is wrong);
 * - the note `shred_by_key_ids_only`: a record without subject tags (a logger before 2026-12-06)
 *   reached only the key ids it names, and verify cannot tell which other rows were that subject's.
 * With `sessionId`: that session's records, and the key rows of that session or shredded by it.
 * A store without the table is skipped; a role that may not read it gets a note.
 */
async function checkShreds(pool: StoreReads, schema: string, sessionId: string | undefined, problems: VerifyProblem[], notes: VerifyNote[]): Promise<void> {
  const n = names(schema);
  const reg = await pool.query<{ keys: string | null; tombs: string | null; shape: string | null }>(
    "SELECT to_regclass($1)::text AS keys, to_regclass($2)::text AS tombs, to_regprocedure($3)::text AS shape",
    [n.subjectKeys, n.shreddedSubjects, `${n.keyLineProblem}(text,text,text)`],
  );
  if (!reg.rows[0]?.keys) return;
  const hasTombs = reg.rows[0].tombs !== null;
  const at = (sid: string) => `postgres:${schema}.audit_records session=${sid} kind=audit_event`;
  const shreds = (
    await pool.query<{ session_id: string; seq: string; kids: unknown; tags: unknown }>(
      `SELECT session_id, seq::text AS seq, record->'details'->'keyIds' AS kids, record->'details'->'subjectTags' AS tags FROM ${n.records}
        WHERE kind = 'audit_event' AND record->>'eventType' = 'subject_shredded' AND ($1::text IS NULL OR session_id = $1) ORDER BY session_id, seq`,
      [sessionId ?? null],
    )
  ).rows.map((r) => ({ sid: r.session_id, seq: Number(r.seq), kids: stringsOf(r.kids), tags: stringsOf(r.tags).filter((t) => /^[0-9a-f]{32}$/.test(t)) }));
  let readable: Array<{ kid: string; tag: string | null }>;
  let tombs = new Set<string>();
  let malformed: Array<{ kid: string; session_id: string | null; bad: string }> = [];
  let unrecorded: Array<{ kid: string; session_id: string | null; shredded_by: string | null; by_sid: string | null; by_seq: string | null; cut: string | null }>;
  try {
    readable = (
      await pool.query<{ kid: string; tag: string | null }>(`SELECT kid, ${SUBJECT_OF_LINE} AS tag FROM ${n.subjectKeys} WHERE line IS NOT NULL AND (kid = ANY ($1::text[]) OR ${SUBJECT_OF_LINE} = ANY ($2::text[]))`, [
        shreds.flatMap((s) => s.kids),
        shreds.flatMap((s) => s.tags),
      ])
    ).rows;
    // (rows stored before version 8's insert guard, which refuses such a line; a line whose tag
    // the shredding trigger cannot find is never shredded by a shred of its subject)
    if (reg.rows[0].shape !== null) {
      malformed = (
        await pool.query<(typeof malformed)[number]>(
          `SELECT kid, session_id, b.bad FROM ${n.subjectKeys} CROSS JOIN LATERAL (SELECT ${n.keyLineProblem}(kid, session_id, line) AS bad) b
            WHERE line IS NOT NULL AND b.bad IS NOT NULL AND ($1::text IS NULL OR session_id = $1) ORDER BY kid`,
          [sessionId ?? null],
        )
      ).rows;
    }
    if (hasTombs) tombs = new Set((await pool.query<{ subject: string }>(`SELECT subject FROM ${n.shreddedSubjects} WHERE subject = ANY ($1::text[])`, [shreds.flatMap((s) => s.tags)])).rows.map((r) => r.subject));
    unrecorded = (
      await pool.query<(typeof unrecorded)[number]>(
        `SELECT k.kid, k.session_id, k.shredded_by, x.m[1] AS by_sid, x.m[2] AS by_seq,
                (SELECT max(c.through_seq)::text FROM ${n.retentionCuts} c WHERE c.session_id = x.m[1] AND c.kind = 'audit_event') AS cut
           FROM ${n.subjectKeys} k CROSS JOIN LATERAL (SELECT regexp_match(coalesce(k.shredded_by, ''), '^(.*) audit_event #([0-9]{1,18})$') AS m) x
          WHERE k.line IS NULL AND ($1::text IS NULL OR k.session_id = $1 OR x.m[1] = $1)
            AND NOT EXISTS (SELECT 1 FROM ${n.records} r
                             WHERE r.session_id = x.m[1] AND r.kind = 'audit_event' AND r.seq = x.m[2]::bigint AND r.record->>'eventType' = 'subject_shredded'
                               AND ((jsonb_typeof(r.record->'details'->'keyIds') = 'array' AND r.record->'details'->'keyIds' ? k.kid)
                                    OR jsonb_array_length(CASE WHEN jsonb_typeof(r.record->'details'->'subjectTags') = 'array' THEN r.record->'details'->'subjectTags' ELSE '[]' END) > 0))
          ORDER BY k.kid`,
        [sessionId ?? null],
      )
    ).rows;
  } catch (err) {
    if ((err as { code?: unknown }).code !== "42501") throw err;
    notes.push({ file: `postgres:${schema}.audit_subject_keys`, kind: "keys_not_checked", detail: `The shreds were not compared with the key rows: this role may not read them (${(err as Error).message}). GRANT SELECT ON ${n.subjectKeys} and ${n.shreddedSubjects} to it.` });
    return;
  }
  for (const s of shreds) {
    const open = readable.filter((k) => s.kids.includes(k.kid) || (k.tag !== null && s.tags.includes(k.tag))).map((k) => k.kid);
    if (open.length > 0) {
      problems.push({ file: at(s.sid), seq: s.seq, kind: "key_not_shredded", sessionId: s.sid, detail: `The subject_shredded record seq ${s.seq} shreds key rows that are readable in ${n.subjectKeys}: ${open.join(", ")}. The store did not carry out the shred (its trigger was off, or the rows were put back): the subject's records open through the store.` });
    }
    const missing = hasTombs ? s.tags.filter((t) => !tombs.has(t)) : [];
    if (missing.length > 0) {
      problems.push({ file: at(s.sid), seq: s.seq, kind: "key_not_shredded", sessionId: s.sid, detail: `The subject_shredded record seq ${s.seq} names subject tag ${missing.join(", ")}, which has no row in ${n.shreddedSubjects}: a key line of that subject stored later is kept readable.` });
    }
    if (s.tags.length === 0) {
      notes.push({ file: at(s.sid), seq: s.seq, kind: "shred_by_key_ids_only", detail: `The subject_shredded record seq ${s.seq} of session ${s.sid} names key ids only (a logger before 2026-12-06): the store shredded those (${s.kids.length}), not the subject's other key rows, which verify cannot tell (a row names its subject by a tag the record lacks). Shred the user again with a current logger (audit-logger shred --postgres) to reach them.` });
    }
  }
  for (const k of malformed) {
    problems.push({
      file: `postgres:${schema}.audit_subject_keys kid=${k.kid}`,
      kind: "key_row_malformed",
      ...(k.session_id !== null ? { sessionId: k.session_id } : {}),
      detail: `Key row ${k.kid} does not hold a key line as the kit writes it (${k.bad}): it was inserted before schema version 8 refused such rows, not by a sink. A shred of its subject may not reach it, and a reader cannot open records with it.`,
    });
  }
  for (const k of unrecorded) {
    const sid = k.session_id ?? k.by_sid ?? undefined;
    const file = `postgres:${schema}.audit_subject_keys kid=${k.kid}`;
    if (k.by_seq !== null && k.cut !== null && Number(k.by_seq) <= Number(k.cut)) {
      notes.push({ file, kind: "key_shred_record_removed", detail: `Key ${k.kid} was shredded by ${k.shredded_by}, a record retention has removed since (logged in audit_retention_log).` });
      continue;
    }
    problems.push({ file, kind: "key_shredded_without_record", ...(sid !== undefined ? { sessionId: sid } : {}), detail: `Key row ${k.kid} is shredded (by "${k.shredded_by ?? ""}"), but no stored subject_shredded record names it: a key was destroyed outside a shred, and the records under it are unreadable with no trace in the chain.` });
  }
}
