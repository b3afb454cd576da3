/**
 * The PostgreSQL schema of the central store, as SQL text. One partitioned table of records
 * (a partition per UTC month, created on demand), a table of chain checkpoints, and the
 * retention log. Records are append-only: a trigger refuses UPDATE, DELETE and TRUNCATE;
 * old months leave only through `audit_apply_retention()`, which drops whole partitions and
 * writes down where each chain was cut.
 */
import { z } from "zod";

/**
 * Version of the schema: {@link migrationSql} creates version 1, {@link upgradeSql} brings it to
 * this one step by step; `audit_schema_version` records which versions were applied.
 */
export const SCHEMA_VERSION = 8;

/** Schema names we accept: plain identifiers, so they can be quoted without surprises. */
export const schemaNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, "must be 1-63 characters of A-Z, a-z, 0-9 or '_', not starting with a digit");

export const DEFAULT_SCHEMA = "audit_logger";

/** `"name"`, with embedded quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `'text'`, with embedded quotes doubled (for names baked into function bodies). */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Fully qualified names of the objects of one schema. */
export function names(schema: string) {
  const s = quoteIdent(schema);
  return {
    schema: s,
    records: `${s}.audit_records`,
    checkpoints: `${s}.audit_checkpoints`,
    sessions: `${s}.audit_sessions`,
    retentionLog: `${s}.audit_retention_log`,
    retentionCuts: `${s}.audit_retention_cuts`,
    subjectKeys: `${s}.audit_subject_keys`,
    shreddedSubjects: `${s}.audit_shredded_subjects`,
    subjectLocks: `${s}.audit_subject_locks`,
    keyLineProblem: `${s}.audit_key_line_problem`,
    version: `${s}.audit_schema_version`,
    ensurePartition: `${s}.audit_ensure_partition`,
    applyRetention: `${s}.audit_apply_retention`,
  };
}

/** Advisory-lock key text for DDL on one schema (migration, partition creation, retention). */
export function ddlLockKey(schema: string): string {
  return `audit-logger:${schema}`;
}

/** The DDL of version 1, run inside one transaction under the schema's advisory lock (then {@link upgradeSql}). */
export function migrationSql(schema: string): string {
  const n = names(schema);
  const lockKey = quoteLiteral(ddlLockKey(schema));
  const schemaLit = quoteLiteral(schema);
  return `
CREATE TABLE ${n.records} (
  session_id  text        NOT NULL,
  kind        text        NOT NULL,
  seq         bigint      NOT NULL CHECK (seq > 0),
  id          text        NOT NULL,
  ts          timestamptz NOT NULL,
  prev_hash   text        NOT NULL,
  hash        text        NOT NULL,
  model       text,
  user_id     text,
  trace_id    text,
  record      jsonb       NOT NULL,
  line        text        NOT NULL,
  stored_at   timestamptz NOT NULL DEFAULT now(),
  -- PostgreSQL requires the partition key in every unique constraint of a partitioned table.
  -- ts is part of the hashed line, so a record sent twice always meets its first copy here.
  CONSTRAINT audit_records_key UNIQUE (session_id, kind, seq, ts)
) PARTITION BY RANGE (ts);
COMMENT ON TABLE ${n.records} IS 'audit-logger records: one row per sealed line; append-only; one partition per UTC month';
CREATE INDEX audit_records_kind_ts ON ${n.records} (kind, ts);
CREATE INDEX audit_records_ts ON ${n.records} (ts);
CREATE INDEX audit_records_model_ts ON ${n.records} (model, ts) WHERE model IS NOT NULL;
CREATE INDEX audit_records_user_ts ON ${n.records} (user_id, ts) WHERE user_id IS NOT NULL;

CREATE TABLE ${n.checkpoints} (
  session_id  text        NOT NULL,
  kind        text        NOT NULL,
  seq         bigint      NOT NULL,
  hash        text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  source      text        NOT NULL DEFAULT 'sink',
  signature   text,
  key_id      text,
  PRIMARY KEY (session_id, kind, seq)
);
COMMENT ON TABLE ${n.checkpoints} IS 'audit-logger chain heads known to be stored: verify checks each against the records';

CREATE TABLE ${n.sessions} (
  session_id  text        PRIMARY KEY,
  info        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  status      text        NOT NULL DEFAULT 'active',
  opened_at   timestamptz NOT NULL DEFAULT now(),
  closed_at   timestamptz
);

CREATE TABLE ${n.retentionLog} (
  retention_id bigserial   PRIMARY KEY,
  applied_at   timestamptz NOT NULL DEFAULT now(),
  applied_by   text        NOT NULL DEFAULT current_user,
  cutoff       timestamptz NOT NULL,
  partition    text        NOT NULL,
  range_from   timestamptz NOT NULL,
  range_to     timestamptz NOT NULL,
  rows_dropped bigint      NOT NULL,
  reason       text        NOT NULL
);

CREATE TABLE ${n.retentionCuts} (
  retention_id bigint NOT NULL REFERENCES ${n.retentionLog} (retention_id),
  session_id   text   NOT NULL,
  kind         text   NOT NULL,
  through_seq  bigint NOT NULL,
  through_hash text   NOT NULL,
  PRIMARY KEY (retention_id, session_id, kind)
);

CREATE FUNCTION ${n.schema}.audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit-logger: % on %.% is refused: the audit store is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = format('Old months are removed with %I.audit_apply_retention(before, reason), which drops whole partitions and logs it.', TG_TABLE_SCHEMA);
END
$fn$;

CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON ${n.records}
  FOR EACH ROW EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON ${n.records}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON ${n.checkpoints}
  FOR EACH ROW EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON ${n.checkpoints}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_retention_log_append_only BEFORE UPDATE OR DELETE ON ${n.retentionLog}
  FOR EACH ROW EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_retention_cuts_append_only BEFORE UPDATE OR DELETE ON ${n.retentionCuts}
  FOR EACH ROW EXECUTE FUNCTION ${n.schema}.audit_refuse_change();

-- The partition of the UTC month holding p_at; created (with its TRUNCATE guard) if missing.
${ensurePartitionSql(schema, "CREATE FUNCTION", "", (create) => `IF to_regclass(format('%I.%I', ${schemaLit}, part)) IS NULL THEN
${create}
  END IF;`)}

-- Drops every monthly partition that ends at or before p_before, after writing down, per chain,
-- the last seq and hash it held (so verify knows where a chain was legitimately cut).
CREATE FUNCTION ${n.applyRetention}(p_before timestamptz, p_reason text DEFAULT 'retention')
RETURNS TABLE (partition text, range_from timestamptz, range_to timestamptz, rows_dropped bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  p      record;
  m_from timestamptz;
  m_to   timestamptz;
  n      bigint;
  rid    bigint;
BEGIN
  IF p_before > now() THEN
    RAISE EXCEPTION 'audit-logger: retention cutoff % is in the future', p_before USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext(${lockKey}));
  FOR p IN
    SELECT c.relname::text AS relname
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = format('%I.audit_records', ${schemaLit})::regclass
     ORDER BY c.relname
  LOOP
    m_from := (to_date(right(p.relname, 7), 'YYYY_MM')::timestamp) AT TIME ZONE 'UTC';
    m_to := ((to_date(right(p.relname, 7), 'YYYY_MM') + interval '1 month')::timestamp) AT TIME ZONE 'UTC';
    CONTINUE WHEN m_to > p_before;
    EXECUTE format('SELECT count(*) FROM %I.%I', ${schemaLit}, p.relname) INTO n;
    INSERT INTO ${n.retentionLog} (cutoff, partition, range_from, range_to, rows_dropped, reason)
      VALUES (p_before, p.relname, m_from, m_to, n, p_reason) RETURNING retention_id INTO rid;
    EXECUTE format(
      'INSERT INTO %I.audit_retention_cuts (retention_id, session_id, kind, through_seq, through_hash)
       SELECT DISTINCT ON (session_id, kind) %s, session_id, kind, seq, hash FROM %I.%I ORDER BY session_id, kind, seq DESC',
      ${schemaLit}, rid, ${schemaLit}, p.relname);
    EXECUTE format('ALTER TABLE %I.audit_records DETACH PARTITION %I.%I', ${schemaLit}, ${schemaLit}, p.relname);
    EXECUTE format('DROP TABLE %I.%I', ${schemaLit}, p.relname);
    partition := p.relname; range_from := m_from; range_to := m_to; rows_dropped := n;
    RETURN NEXT;
  END LOOP;
END
$fn$;

CREATE TABLE ${n.version} (
  version    integer     PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ${n.version} (version) VALUES (1);
`;
}

/**
 * The steps from version 1 to {@link SCHEMA_VERSION}, in order: `[version, DDL]`. Each runs in
 * the migration's transaction, under its advisory lock, on a store at the version before it.
 */
export function upgradeSql(schema: string): ReadonlyArray<readonly [number, string]> {
  const n = names(schema);
  return [
    [
      2,
      // Found by review, 2026-12-04: audit_sessions had no guard, and verify listed sessions from
      // it and from the records only, so deleting a session's row and dropping the partitions of
      // its records hid the whole session from verify. Its rows now cannot be deleted, truncated or
      // renamed (status and info still change as the session closes), and verify also lists the
      // sessions of the checkpoints and retention cuts. The retention tables get the TRUNCATE
      // guard the documentation promised.
      `
CREATE TRIGGER audit_sessions_no_delete BEFORE DELETE ON ${n.sessions}
  FOR EACH ROW EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_sessions_keep_id BEFORE UPDATE OF session_id ON ${n.sessions}
  FOR EACH ROW WHEN (OLD.session_id IS DISTINCT FROM NEW.session_id) EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_sessions_no_truncate BEFORE TRUNCATE ON ${n.sessions}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_retention_log_no_truncate BEFORE TRUNCATE ON ${n.retentionLog}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_retention_cuts_no_truncate BEFORE TRUNCATE ON ${n.retentionCuts}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
`,
    ],
    [
      3,
      // Found by review, 2026-12-04: a writer role without the owner's rights (migrate: false, as
      // docs/POSTGRES.md advises) could not create a month's partition (only the owner of
      // audit_records can), so records of a month the migration had not made were refused and
      // spooled for good. The function now runs as its owner, the migrating role, with a fixed
      // search_path (every name in it is schema-qualified).
      `
ALTER FUNCTION ${n.ensurePartition}(timestamptz) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
`,
    ],
    [
      4,
      // (re-review, 2026-12-04: PostgreSQL grants EXECUTE on a new function to PUBLIC, so with
      // version 3 any role with USAGE on the schema created partitions as the owner, of any month,
      // including names retention misread as year 0000; the writers are granted it, see
      // docs/POSTGRES.md)
      `REVOKE EXECUTE ON FUNCTION ${n.ensurePartition}(timestamptz) FROM PUBLIC;
${retentionWithHoldsSql(schema)}`,
    ],
    [
      5,
      // (found by the PostgreSQL pass, 2026-12-06: audit_retention_cuts had only its primary key,
      // retention_id first, and every reader of it asks by session: the reader's "records gone"
      // test, for every session listed, the sink's backfill, and verify's cut per chain, each
      // read the whole table. Ordered as verify and the sink read it: by kind, the highest seq.)
      `CREATE INDEX IF NOT EXISTS audit_retention_cuts_session ON ${n.retentionCuts} (session_id, kind, through_seq);`,
    ],
    [6, subjectKeysSql(schema)],
    [7, shredBySubjectSql(schema)],
    [8, keyInsertGuardSql(schema) + ensurePartitionRaceSql(schema)],
  ];
}

/**
 * The part of the shredding trigger (versions 6 and 7) that shreds the key ids a
 * `subject_shredded` record names (`by`: the SQL of its `shredded_by`); a key id not stored yet
 * gets a row shredded already.
 */
function shredKeyIdsSql(subjectKeys: string, by: string): string {
  return `  IF jsonb_typeof(NEW.record->'details'->'keyIds') = 'array' THEN
    INSERT INTO ${subjectKeys} AS k (kid, shredded_at, shredded_by)
    SELECT DISTINCT e.kid, now(), ${by}
      FROM jsonb_array_elements_text(NEW.record->'details'->'keyIds') AS e(kid)
     WHERE e.kid IS NOT NULL
    ON CONFLICT (kid) DO UPDATE SET line = NULL, shredded_at = EXCLUDED.shredded_at, shredded_by = EXCLUDED.shredded_by
      WHERE k.line IS NOT NULL;
  END IF;
`;
}

/**
 * Version 6: the wrapped per-subject data keys of encrypted sessions (found 2026-12-06: they were
 * in each instance's `subject_keys_<sessionId>.jsonl` only, so one reader of the store could not
 * open the records of several instances). One row per data key: its key store line as written
 * (the data key wrapped by a master key, the subject as an HMAC tag; never an unwrapped key or a
 * master key), `session_id` the key store it came from. A row is never deleted; its one change is
 * its shredding: `line` set to NULL once, with `shredded_at` and `shredded_by`. That change is
 * made by the trigger on `audit_records` when a chained `subject_shredded` record is stored (as
 * the table's owner: writers need no UPDATE), for every key id the record names; a key id not
 * stored yet gets a row that is shredded already, so its key line, sent later, is not stored
 * (`ON CONFLICT DO NOTHING`). Any other UPDATE, a DELETE or a TRUNCATE is refused.
 */
function subjectKeysSql(schema: string): string {
  const n = names(schema);
  return `
CREATE TABLE ${n.subjectKeys} (
  kid         text        PRIMARY KEY,
  session_id  text,
  line        text,
  stored_at   timestamptz NOT NULL DEFAULT now(),
  shredded_at timestamptz,
  shredded_by text,
  CONSTRAINT audit_subject_keys_shredded CHECK ((line IS NULL) = (shredded_at IS NOT NULL) AND (shredded_at IS NULL) = (shredded_by IS NULL))
);
COMMENT ON TABLE ${n.subjectKeys} IS 'audit-logger wrapped per-subject data keys (key store lines); a row changes only as its key is shredded (line set to NULL)';

CREATE FUNCTION ${n.schema}.audit_subject_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.line IS NOT NULL AND NEW.line IS NULL AND NEW.shredded_at IS NOT NULL AND NEW.shredded_by IS NOT NULL
     AND NEW.kid = OLD.kid AND NEW.session_id IS NOT DISTINCT FROM OLD.session_id AND NEW.stored_at = OLD.stored_at THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit-logger: % on %.% is refused: a data key row changes only as its key is shredded (a subject_shredded record stored)', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Shred with AuditLogger.shredSubject() (or audit-logger shred) in a logger whose PostgresSink writes to this store.';
END
$fn$;
CREATE TRIGGER audit_subject_keys_guard BEFORE UPDATE OR DELETE ON ${n.subjectKeys}
  FOR EACH ROW EXECUTE FUNCTION ${n.schema}.audit_subject_keys_guard();
CREATE TRIGGER audit_subject_keys_no_truncate BEFORE TRUNCATE ON ${n.subjectKeys}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.schema}.audit_refuse_change();

-- A stored subject_shredded record shreds the keys it names, in the same statement as it is
-- stored: the store holds the record only with its keys shredded. As the owner (writers have no
-- UPDATE on the table); a trigger function cannot be called by itself.
CREATE FUNCTION ${n.schema}.audit_shred_on_record() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
${shredKeyIdsSql(n.subjectKeys, "NEW.session_id || ' audit_event #' || NEW.seq")}  RETURN NULL;
END
$fn$;
CREATE TRIGGER audit_records_shred AFTER INSERT ON ${n.records}
  FOR EACH ROW WHEN (NEW.kind = 'audit_event' AND NEW.record->>'eventType' = 'subject_shredded')
  EXECUTE FUNCTION ${n.schema}.audit_shred_on_record();
`;
}

/**
 * The key-insert trigger's part (versions 7 and 8) that stores the row shredded when its subject
 * `tag` has a tombstone in `shreddedSubjects` (plpgsql; `why` a text variable).
 */
function storeShreddedIfTombstoned(shreddedSubjects: string): string {
  return `    SELECT s.session_id || ' audit_event #' || s.seq INTO why FROM ${shreddedSubjects} s WHERE s.subject = tag;
    IF FOUND THEN
      NEW.line := NULL;
      NEW.shredded_at := now();
      NEW.shredded_by := why;
    END IF;`;
}

/** A key row's subject tag, from its key store line (NULL once shredded): SQL over `line`. */
export const SUBJECT_OF_LINE = subjectOf("line");
/** The subject tag of the key store line in column (or expression) `line`: SQL. */
function subjectOf(line: string): string {
  return `substring(${line} from '"subject":"([0-9a-f]{32})"')`;
}

/**
 * Version 7: a shred reaches every key row of its subject in the store, whichever instance wrote
 * it (found 2026-12-06: a shred named only the key ids its own directory held, so the same user's
 * keys sent by other instances, or by sessions whose files retention had removed, stayed readable
 * through the store). A `subject_shredded` record names the subject's HMAC tags (`subjectTags`,
 * one per master key of the shredding keyring; the rows' lines carry the same tag); storing it
 * shreds every key row whose line has one of them, and keeps each tag in
 * `audit_shredded_subjects` (append-only), so a key line of that subject stored afterwards, by
 * any instance, is stored shredded (a BEFORE INSERT trigger). A per-tag advisory lock, exclusive
 * for the shred, shared for a key insert, orders the two: a key row committed while the shred ran
 * is seen by its UPDATE, or the insert sees its tombstone. Records without `subjectTags` (written
 * before) shred the ids they name, as in version 6.
 */
function shredBySubjectSql(schema: string): string {
  const n = names(schema);
  const schemaLit = quoteLiteral(schema);
  return `
CREATE TABLE ${n.shreddedSubjects} (
  subject     text        PRIMARY KEY CHECK (subject ~ '^[0-9a-f]{32}$'),
  session_id  text        NOT NULL,
  seq         bigint      NOT NULL,
  shredded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ${n.shreddedSubjects} IS 'audit-logger subject tags (HMAC) shredded by a subject_shredded record: every key row of such a tag is shredded, also one stored later; append-only';
CREATE TRIGGER audit_shredded_subjects_append_only BEFORE UPDATE OR DELETE ON ${n.shreddedSubjects}
  FOR EACH ROW EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_shredded_subjects_no_truncate BEFORE TRUNCATE ON ${n.shreddedSubjects}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
-- A tombstone only for a stored subject_shredded record naming its tag (the record is in a chain,
-- a made-up one breaks it): a writer granted INSERT on every table cannot shred a subject's later
-- keys without a record.
CREATE FUNCTION ${n.schema}.audit_shredded_subjects_guard() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM ${n.records} r
              WHERE r.session_id = NEW.session_id AND r.kind = 'audit_event' AND r.seq = NEW.seq
                AND r.record->>'eventType' = 'subject_shredded' AND r.record->'details'->'subjectTags' ? NEW.subject) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit-logger: INSERT on %.% is refused: a subject is shredded only by storing its subject_shredded record', TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Shred with AuditLogger.shredSubject() (or audit-logger shred --postgres).';
END
$fn$;
CREATE TRIGGER audit_shredded_subjects_guard BEFORE INSERT ON ${n.shreddedSubjects}
  FOR EACH ROW EXECUTE FUNCTION ${n.schema}.audit_shredded_subjects_guard();
CREATE INDEX audit_subject_keys_subject ON ${n.subjectKeys} ((${SUBJECT_OF_LINE})) WHERE line IS NOT NULL;

-- A key line of a shredded subject is stored shredded (no key material kept), whoever sends it.
CREATE FUNCTION ${n.schema}.audit_subject_keys_tombstoned() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  tag text := substring(NEW.line from '"subject":"([0-9a-f]{32})"');
  why text;
BEGIN
  IF tag IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock_shared(hashtext(${schemaLit}), hashtext(tag));
${storeShreddedIfTombstoned(n.shreddedSubjects)}
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER audit_subject_keys_tombstoned BEFORE INSERT ON ${n.subjectKeys}
  FOR EACH ROW WHEN (NEW.line IS NOT NULL) EXECUTE FUNCTION ${n.schema}.audit_subject_keys_tombstoned();

${shredOnRecordSql(schema, `FOREACH t IN ARRAY tags LOOP
      PERFORM pg_advisory_xact_lock(hashtext(${schemaLit}), hashtext(t));
    END LOOP;`)}
`;
}

/**
 * The shredding trigger's function of versions 7 and 8: a `subject_shredded` record's tags get
 * their tombstones and shred their key rows, after `order` (SQL over `tags`, sorted) has ordered
 * the shred with the key lines of those tags stored at the same time; then its key ids.
 */
function shredOnRecordSql(schema: string, order: string): string {
  const n = names(schema);
  return `CREATE OR REPLACE FUNCTION ${n.schema}.audit_shred_on_record() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  who  text := NEW.session_id || ' audit_event #' || NEW.seq;
  tags text[] := '{}';
  t    text;
BEGIN
  IF jsonb_typeof(NEW.record->'details'->'subjectTags') = 'array' THEN
    SELECT coalesce(array_agg(DISTINCT e.tag ORDER BY e.tag), '{}') INTO tags
      FROM jsonb_array_elements_text(NEW.record->'details'->'subjectTags') AS e(tag)
     WHERE e.tag ~ '^[0-9a-f]{32}$';
    ${order}
    INSERT INTO ${n.shreddedSubjects} (subject, session_id, seq) SELECT u, NEW.session_id, NEW.seq FROM unnest(tags) AS u ON CONFLICT (subject) DO NOTHING;
    UPDATE ${n.subjectKeys} SET line = NULL, shredded_at = now(), shredded_by = who
     WHERE line IS NOT NULL AND ${SUBJECT_OF_LINE} = ANY (tags);
  END IF;
${shredKeyIdsSql(n.subjectKeys, "who")}  RETURN NULL;
END
$fn$;`;
}

/**
 * Version 8 (found 2026-12-06, by the PostgreSQL pass):
 * - A writer's `INSERT` on `audit_subject_keys` was not checked: it could insert a row shredded
 *   already (naming any shred, or none) and a key line of any shape, such as one whose subject
 *   the shredding trigger's pattern does not find (`"subject": "…"`, or two subjects), which a
 *   shred of that subject then left readable. A BEFORE INSERT trigger now refuses a row shredded
 *   already unless `shredded_by` names a stored `subject_shredded` record listing its key id (what
 *   the shredding trigger inserts), and a key line that is not the kit's: a JSON object of the
 *   fields `kid` (the row's), `subject` (one tag of 32 hex digits, the one the trigger finds),
 *   `wrappedBy` (a master key id), `iv` (12 bytes), `ct` (a 32-byte key and its 16-byte tag) and
 *   `createdAt`, with a `session_id`. Refused with SQLSTATE 22023 (the sink leaves such a line
 *   out, and says so), or 42501 for a shredded row. Rows stored before are not checked again.
 * - Under REPEATABLE READ or SERIALIZABLE (a database's or role's default_transaction_isolation),
 *   a shred and a key line of its subject stored at the same time each read with the snapshot
 *   taken before version 7's advisory lock was theirs: the key row could stay readable. Both now
 *   write the subject's row in `audit_subject_locks` (an upsert) instead: under READ COMMITTED
 *   the second waits for the first to commit, then reads anew (as with the lock); under the
 *   others, PostgreSQL fails the one whose snapshot misses the other's write with a
 *   serialization failure (40001), which the sink runs again.
 * - A `subject_shredded` record with subject tags stored in a store before version 7 shredded its
 *   key ids only, and version 7 did not re-run it: the subject's other key rows stayed readable.
 *   The upgrade carries out its tags (tombstones, and the rows of those tags shredded).
 * - The trigger functions that run as their owner (`SECURITY DEFINER`: the shredding trigger, the
 *   tombstone guard, the key-insert guard) kept PUBLIC's EXECUTE: a role with only USAGE on the
 *   schema could attach one to a temp table of its own and run it as the owner (found by review,
 *   2026-12-06: writing audit_subject_locks, learning which subjects are shredded, by whom).
 *   EXECUTE is revoked from PUBLIC; a trigger's firing does not check it.
 */
function keyInsertGuardSql(schema: string): string {
  const n = names(schema);
  return `
CREATE TABLE ${n.subjectLocks} (
  subject text   PRIMARY KEY CHECK (subject ~ '^[0-9a-f]{32}$'),
  touched bigint NOT NULL DEFAULT 1
);
COMMENT ON TABLE ${n.subjectLocks} IS 'audit-logger: one row per subject tag, written by each shred of it and each key line of it stored, so that the two are ordered at any isolation level';
CREATE TRIGGER audit_subject_locks_no_delete BEFORE DELETE ON ${n.subjectLocks}
  FOR EACH ROW EXECUTE FUNCTION ${n.schema}.audit_refuse_change();
CREATE TRIGGER audit_subject_locks_no_truncate BEFORE TRUNCATE ON ${n.subjectLocks}
  FOR EACH STATEMENT EXECUTE FUNCTION ${n.schema}.audit_refuse_change();

DROP TRIGGER audit_subject_keys_tombstoned ON ${n.subjectKeys};
DROP FUNCTION ${n.schema}.audit_subject_keys_tombstoned();

-- What is wrong with a key row's key line (NULL: it is one as the kit writes it). The insert
-- guard below refuses such a row, and verify --postgres reports rows stored before it.
CREATE FUNCTION ${n.keyLineProblem}(p_kid text, p_session_id text, p_line text) RETURNS text LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  j   jsonb;
  tag text;
  bad text;
BEGIN
  tag := substring(p_line from '"subject":"([0-9a-f]{32})"');
  BEGIN
    j := p_line::jsonb;
  EXCEPTION WHEN others THEN
    -- (not only invalid text: an escaped NUL character, 22P05, or nesting deeper than the server's stack,
    -- 54001, failed the insert with a code the sink does not leave out, and it stalled: found by
    -- review, 2026-12-06)
    j := NULL;
  END;
  IF coalesce(p_session_id, '') = '' THEN
    bad := 'session_id is missing: the session whose key store holds the line';
  ELSIF p_kid !~ '^d[0-9a-f]{16}$' THEN
    bad := 'kid is not a data key id, d and 16 hex digits';
  ELSIF j IS NULL OR jsonb_typeof(j) <> 'object' THEN
    bad := 'the line is not a JSON object';
  ELSIF EXISTS (SELECT 1 FROM jsonb_object_keys(j) AS f(k) WHERE f.k NOT IN ('kid', 'subject', 'wrappedBy', 'iv', 'ct', 'createdAt')) THEN
    bad := 'the line has a field a key line has not: only kid, subject, wrappedBy, iv, ct and createdAt';
  ELSIF j->'kid' IS DISTINCT FROM to_jsonb(p_kid) THEN
    bad := 'the line is not the key line of its kid';
  ELSIF tag IS NULL OR j->'subject' IS DISTINCT FROM to_jsonb(tag) OR (SELECT count(*) FROM regexp_matches(p_line, '"subject"', 'g')) <> 1 THEN
    bad := 'its subject is not one HMAC tag of 32 hex digits, written "subject":"<tag>"';
  ELSIF jsonb_typeof(j->'wrappedBy') IS DISTINCT FROM 'string' OR j->>'wrappedBy' !~ '^k[0-9a-f]{16}$' THEN
    bad := 'wrappedBy is not a master key id, k and 16 hex digits';
  ELSIF jsonb_typeof(j->'iv') IS DISTINCT FROM 'string' OR j->>'iv' !~ '^[A-Za-z0-9+/]{16}$' THEN
    bad := 'iv is not 12 bytes of base64';
  ELSIF jsonb_typeof(j->'ct') IS DISTINCT FROM 'string' OR j->>'ct' !~ '^[A-Za-z0-9+/]{64}$' THEN
    bad := 'ct is not a wrapped 256-bit key, 48 bytes of base64';
  ELSIF j ? 'createdAt' AND jsonb_typeof(j->'createdAt') <> 'string' THEN
    bad := 'createdAt is not a string';
  END IF;
  RETURN bad;
END
$fn$;

CREATE FUNCTION ${n.schema}.audit_subject_keys_insert() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  by_rec text[];
  tag    text;
  bad    text;
  why    text;
BEGIN
  IF NEW.line IS NULL THEN
    -- shredded already: only the shredding trigger makes such a row, for a key id its record names
    by_rec := regexp_match(coalesce(NEW.shredded_by, ''), '^(.*) audit_event #([0-9]{1,18})$');
    IF NEW.shredded_at IS NOT NULL AND by_rec IS NOT NULL AND EXISTS (
         SELECT 1 FROM ${n.records} r
          WHERE r.session_id = by_rec[1] AND r.kind = 'audit_event' AND r.seq = by_rec[2]::bigint
            AND r.record->>'eventType' = 'subject_shredded' AND jsonb_typeof(r.record->'details'->'keyIds') = 'array'
            AND NEW.kid IN (SELECT jsonb_array_elements_text(r.record->'details'->'keyIds'))) THEN
      RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit-logger: INSERT on %.% of a row shredded already (kid %) is refused: only a stored subject_shredded record naming that key id makes one', TG_TABLE_SCHEMA, TG_TABLE_NAME, NEW.kid
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Shred with AuditLogger.shredSubject() (or audit-logger shred --postgres).';
  END IF;
  tag := substring(NEW.line from '"subject":"([0-9a-f]{32})"');
  IF NEW.shredded_at IS NOT NULL OR NEW.shredded_by IS NOT NULL THEN
    bad := 'shredded_at and shredded_by are set by a shred only';
  ELSE
    bad := ${n.keyLineProblem}(NEW.kid, NEW.session_id, NEW.line);
  END IF;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'audit-logger: INSERT on %.% is refused: the key line of % is malformed (%)', TG_TABLE_SCHEMA, TG_TABLE_NAME, left(NEW.kid, 40), bad
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'audit_subject_keys holds key store lines (subject_keys_<sessionId>.jsonl) as the kit writes them.';
  END IF;
  -- the subject's lock row, written: a shred of it at the same time waits for this transaction,
  -- or this one for the shred's (READ COMMITTED), or one of the two fails (40001) (see version 8)
  INSERT INTO ${n.subjectLocks} AS g (subject) VALUES (tag) ON CONFLICT (subject) DO UPDATE SET touched = g.touched + 1;
${storeShreddedIfTombstoned(n.shreddedSubjects)}
  RETURN NEW;
END
$fn$;
CREATE TRIGGER audit_subject_keys_insert BEFORE INSERT ON ${n.subjectKeys}
  FOR EACH ROW EXECUTE FUNCTION ${n.schema}.audit_subject_keys_insert();

${shredOnRecordSql(schema, `INSERT INTO ${n.subjectLocks} AS g (subject) SELECT u FROM unnest(tags) AS u ORDER BY u ON CONFLICT (subject) DO UPDATE SET touched = g.touched + 1;`)}

-- The tags of subject_shredded records stored before version 7 (by a logger of 2026-12-06 or
-- later whose store was older: they shredded their key ids only) get their tombstones now, the
-- first record of a tag its owner; and every key row of a tombstoned subject is shredded.
INSERT INTO ${n.shreddedSubjects} (subject, session_id, seq)
SELECT DISTINCT ON (e.tag) e.tag, r.session_id, r.seq
  FROM ${n.records} r
 CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_typeof(r.record->'details'->'subjectTags') = 'array' THEN r.record->'details'->'subjectTags' ELSE '[]'::jsonb END) AS e(tag)
 WHERE r.kind = 'audit_event' AND r.record->>'eventType' = 'subject_shredded' AND e.tag ~ '^[0-9a-f]{32}$'
 ORDER BY e.tag, r.ts, r.session_id, r.seq
ON CONFLICT (subject) DO NOTHING;
UPDATE ${n.subjectKeys} SET line = NULL, shredded_at = now(), shredded_by = s.session_id || ' audit_event #' || s.seq
  FROM ${n.shreddedSubjects} s
 WHERE line IS NOT NULL AND ${SUBJECT_OF_LINE} = s.subject;

-- The trigger functions that run as their owner: PostgreSQL grants EXECUTE on a new function to
-- PUBLIC, and EXECUTE is all CREATE TRIGGER asks of a function, so any role with USAGE on the
-- schema (a reader) could attach one to a table of its own (a temp table) and run it as the
-- owner. A trigger's firing does not check EXECUTE: the writers' inserts still run them.
REVOKE EXECUTE ON FUNCTION ${n.schema}.audit_shred_on_record(), ${n.schema}.audit_shredded_subjects_guard(), ${n.schema}.audit_subject_keys_insert() FROM PUBLIC;
`;
}

/**
 * Version 8 too (found 2026-12-06, by the PostgreSQL pass): two calls of
 * `audit_ensure_partition` for a month not made yet (two writers that may not migrate, at a
 * month's start): the second waited for the first's lock, then looked again with `to_regclass`,
 * which answered from the negative cache entry of its first look, from before the wait, and its
 * `CREATE TABLE` failed (42P07, "already exists"): the sink reported an outage and spooled the
 * batch. The month made meanwhile is now taken as made. The function keeps its owner, grants,
 * `SECURITY DEFINER` and `search_path` (versions 3 and 4).
 */
function ensurePartitionRaceSql(schema: string): string {
  return ensurePartitionSql(schema, "CREATE OR REPLACE FUNCTION", "\nSECURITY DEFINER SET search_path = pg_catalog, pg_temp", (create) => `BEGIN
${create}
  EXCEPTION WHEN duplicate_table THEN
    NULL; -- made by another call while this one waited for the lock (with its trigger: one transaction)
  END;`);
}

/**
 * `audit_ensure_partition` (version 1, and version 8's): `create` wraps the statements that make
 * the month's partition and its TRUNCATE guard, run under the schema's DDL lock when the month
 * was not there at the call's first look.
 */
function ensurePartitionSql(schema: string, command: string, attributes: string, create: (statements: string) => string): string {
  const n = names(schema);
  const lockKey = quoteLiteral(ddlLockKey(schema));
  const schemaLit = quoteLiteral(schema);
  return `${command} ${n.ensurePartition}(p_at timestamptz) RETURNS text LANGUAGE plpgsql${attributes} AS $fn$
DECLARE
  m_from timestamptz := date_trunc('month', p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  m_to   timestamptz := (date_trunc('month', p_at AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
  part   text := 'audit_records_p' || to_char(p_at AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
  IF to_regclass(format('%I.%I', ${schemaLit}, part)) IS NOT NULL THEN
    RETURN part;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext(${lockKey}));
  ${create(`    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.audit_records FOR VALUES FROM (%L) TO (%L)', ${schemaLit}, part, ${schemaLit}, m_from, m_to);
    EXECUTE format('CREATE TRIGGER audit_partition_no_truncate BEFORE TRUNCATE ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION %I.audit_refuse_change()', ${schemaLit}, part, ${schemaLit});`)}
  RETURN part;
END
$fn$;`;
}

/**
 * Version 4's retention function. Found by review, 2026-12-04: retention never looked at legal
 * holds, and dropped months of a session under a hold. Holds reach the store as the chained
 * `legal_hold_placed`/`legal_hold_released` records (audit_event rows); one placed and not
 * released is in force. Months go oldest first, and retention stops at the first month that holds
 * records of a session under a hold (every month under an "all" hold), or the record that placed
 * a hold in force (dropped, the hold would be forgotten). It stops rather than skips: a month
 * dropped after a kept one would cut other sessions' chains in the middle.
 */
function retentionWithHoldsSql(schema: string): string {
  const n = names(schema);
  const lockKey = quoteLiteral(ddlLockKey(schema));
  const schemaLit = quoteLiteral(schema);
  return `
CREATE OR REPLACE FUNCTION ${n.applyRetention}(p_before timestamptz, p_reason text DEFAULT 'retention')
RETURNS TABLE (partition text, range_from timestamptz, range_to timestamptz, rows_dropped bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  p        record;
  m_from   timestamptz;
  m_to     timestamptz;
  n        bigint;
  rid      bigint;
  held     text[];
  in_force text[];
  blocked  boolean;
  parts    text[] := '{}';
  j        integer;
  k        integer;
  p_name   text;
BEGIN
  IF p_before > now() THEN
    RAISE EXCEPTION 'audit-logger: retention cutoff % is in the future', p_before USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext(${lockKey}));
  -- the holds in force: placed, and named by no release
  SELECT coalesce(array_agg(DISTINCT r.record->'details'->>'scope'), '{}'), coalesce(array_agg(DISTINCT r.record->'details'->>'holdId'), '{}')
    INTO held, in_force
    FROM ${n.records} r
   WHERE r.kind = 'audit_event' AND r.record->>'eventType' = 'legal_hold_placed'
     AND NOT EXISTS (
       SELECT 1 FROM ${n.records} x
        WHERE x.kind = 'audit_event' AND x.record->>'eventType' = 'legal_hold_released'
          AND jsonb_typeof(x.record->'details'->'holdIds') = 'array'
          AND x.record->'details'->'holdIds' ? (r.record->'details'->>'holdId'));
  -- the months that may go, oldest first: those that end by the cutoff, up to the first one a
  -- hold keeps
  FOR p IN
    SELECT c.relname::text AS relname
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = format('%I.audit_records', ${schemaLit})::regclass
     ORDER BY c.relname
  LOOP
    -- (only the kit's names: another table attached, or a year of five digits, is never taken for a month)
    CONTINUE WHEN p.relname !~ '^audit_records_p[0-9]{4}_(0[1-9]|1[0-2])$';
    m_to := ((to_date(right(p.relname, 7), 'YYYY_MM') + interval '1 month')::timestamp) AT TIME ZONE 'UTC';
    EXIT WHEN m_to > p_before;
    EXIT WHEN 'all' = ANY (held);
    EXECUTE format(
      'SELECT EXISTS (SELECT 1 FROM %I.%I WHERE session_id = ANY ($1)
                         OR (kind = ''audit_event'' AND record->>''eventType'' = ''legal_hold_placed'' AND record->''details''->>''holdId'' = ANY ($2)))',
      ${schemaLit}, p.relname) INTO blocked USING held, in_force;
    EXIT WHEN blocked;
    parts := parts || p.relname;
  END LOOP;
  -- A record's time is when its call began, so a chain's times are not always in seq order: a
  -- call that began before midnight and ended after is recorded after records of the new month.
  -- The months dropped must leave no record of a chain below the highest seq they take of it
  -- (the cut: verify continues the chain after it); fewer months go until they do (found by
  -- review, 2026-12-04: a record in the middle of a chain was dropped, and verify failed).
  j := coalesce(array_length(parts, 1), 0);
  WHILE j > 0 LOOP
    m_to := ((to_date(right(parts[j], 7), 'YYYY_MM') + interval '1 month')::timestamp) AT TIME ZONE 'UTC';
    EXECUTE format(
      'SELECT EXISTS (SELECT 1 FROM (SELECT session_id, kind, max(seq) AS s FROM %I.audit_records WHERE ts < $1 GROUP BY session_id, kind) c
                       WHERE EXISTS (SELECT 1 FROM %I.audit_records r WHERE r.session_id = c.session_id AND r.kind = c.kind AND r.seq < c.s AND r.ts >= $1))',
      ${schemaLit}, ${schemaLit}) INTO blocked USING m_to;
    EXIT WHEN NOT blocked;
    j := j - 1;
  END LOOP;
  FOR k IN 1 .. j LOOP
    p_name := parts[k];
    m_from := (to_date(right(p_name, 7), 'YYYY_MM')::timestamp) AT TIME ZONE 'UTC';
    m_to := ((to_date(right(p_name, 7), 'YYYY_MM') + interval '1 month')::timestamp) AT TIME ZONE 'UTC';
    EXECUTE format('SELECT count(*) FROM %I.%I', ${schemaLit}, p_name) INTO n;
    INSERT INTO ${n.retentionLog} (cutoff, partition, range_from, range_to, rows_dropped, reason)
      VALUES (p_before, p_name, m_from, m_to, n, p_reason) RETURNING retention_id INTO rid;
    EXECUTE format(
      'INSERT INTO %I.audit_retention_cuts (retention_id, session_id, kind, through_seq, through_hash)
       SELECT DISTINCT ON (session_id, kind) %s, session_id, kind, seq, hash FROM %I.%I ORDER BY session_id, kind, seq DESC',
      ${schemaLit}, rid, ${schemaLit}, p_name);
    EXECUTE format('ALTER TABLE %I.audit_records DETACH PARTITION %I.%I', ${schemaLit}, ${schemaLit}, p_name);
    EXECUTE format('DROP TABLE %I.%I', ${schemaLit}, p_name);
    partition := p_name; range_from := m_from; range_to := m_to; rows_dropped := n;
    RETURN NEXT;
  END LOOP;
END
$fn$;
`;
}

/**
 * The fork check (see {@link insertSql}): which of the probes `$<first>` (kinds), `$<first+1>`
 * (seqs), `$<first+2>` (hashes) of session `$<session>` the store holds another record at, as
 * `kind#seq, …` (the lowest five, in order), or null. Reads the rows committed before the
 * statement began.
 */
function forkProbeSql(records: string, session: number, first: number): string {
  return `(SELECT string_agg(f.k || '#' || f.q, ', ' ORDER BY f.k, f.q) FROM (
     SELECT DISTINCT p.k, p.q FROM unnest($${first}::text[], $${first + 1}::bigint[], $${first + 2}::text[]) AS p(k, q, h)
      WHERE EXISTS (SELECT 1 FROM ${records} r WHERE r.session_id = $${session} AND r.kind = p.k AND r.seq = p.q AND r.hash <> p.h)
      ORDER BY p.k, p.q LIMIT 5
   ) f)`;
}

/**
 * The sink's insert of key store lines: `$1` the key ids, `$2` their lines, `$3` the session.
 * In the order of their subject tags (then key ids), as the shredding trigger writes its tags'
 * rows of `audit_subject_locks` (schema version 8): each line's insert writes its subject's row,
 * held to the end of the statement, and two sinks whose key stores hold the same subjects in
 * another order deadlocked (40P01: one waited `deadlock_timeout`, a second, and ran again; found
 * by review, 2026-12-06).
 */
export function keyInsertSql(schema: string): string {
  return `INSERT INTO ${names(schema).subjectKeys} (kid, session_id, line) SELECT k, $3, l FROM unnest($1::text[], $2::text[]) AS u(k, l)
 ORDER BY ${subjectOf("l")}, k ON CONFLICT DO NOTHING`;
}

/**
 * The batched insert: one statement for a whole batch, one array parameter per column (the
 * envelope columns come from the sealed record, the jsonb from the line itself, or for the rare
 * line PostgreSQL's jsonb cannot hold, from a sanitised copy). Arrays keep the statement text
 * and its plan the same for any batch size. `$13`: the session, `$14`-`$16`: the fork check's
 * probes (see `forkProbeSql`).
 */
export function insertSql(schema: string): string {
  const n = names(schema);
  // (the fork check reads the rows as they were before this statement: a CTE's insert is not
  // visible to the rest of its statement, and neither is a concurrent writer's insert not yet
  // committed as it began. The sink probes the first and last seq of each kind in the batch, and
  // those of its previous batch again, now committed (see PostgresSink.store), not every row: a
  // probe without `ts` visits every monthly partition, and made a batch 2.6-3.6 times slower with
  // 36-96 of them; a fork shows at a batch's ends, in this batch or the next)
  return `WITH x AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
    AS x(s, k, q, i, t, p, h, m, u, tr, j, l)
), ins AS (
  INSERT INTO ${n.records} (session_id, kind, seq, id, ts, prev_hash, hash, model, user_id, trace_id, record, line)
  SELECT s, k, q, i, t::timestamptz, p, h, m, u, tr, coalesce(j, l)::jsonb, l FROM x
  ON CONFLICT (session_id, kind, seq, ts) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::int AS added,
  ${forkProbeSql(n.records, 13, 14)} AS forks`;
}

/**
 * A sink's checkpoints (`$1`: the session, `$2`-`$4`: kinds, seqs, hashes of the chain heads),
 * with the fork check of its last batch's probes (`$5`-`$7`, see `forkProbeSql`), now that the
 * batch is committed.
 */
export function checkpointSql(schema: string): string {
  const n = names(schema);
  return `WITH cp AS (
  INSERT INTO ${n.checkpoints} (session_id, kind, seq, hash)
  SELECT $1, u.k, u.q, u.h FROM unnest($2::text[], $3::bigint[], $4::text[]) AS u(k, q, h)
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM cp)::int AS added,
  ${forkProbeSql(n.records, 1, 5)} AS forks`;
}
