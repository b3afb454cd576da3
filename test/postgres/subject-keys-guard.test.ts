// Hardening of the store's crypto-shredding (schema version 8, found 2026-12-06):
// - a writer with INSERT on audit_subject_keys could insert rows shredded already (naming no
//   shred, or a shred that did not name that key) and key lines of any shape (a line whose
//   subject tag the shredding trigger does not find, a kid column another line's, garbage);
// - `verify --postgres` did not compare the subject_shredded records with the key rows: a record
//   whose keys were still readable, or a key row shredded by no record, went unreported;
// - a shred and a key line of its subject in transactions of REPEATABLE READ (a database or role
//   whose default_transaction_isolation is so): the per-tag advisory lock ordered them, but each
//   read with the snapshot it took before waiting, so the key row stayed readable.
// Real PostgreSQL, real files.
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { migratePostgres, verifyPostgres } from "../../src/postgres/index.js";
import { keyInsertSql, SCHEMA_VERSION } from "../../src/postgres/schema.js";
import { leastPrivilegeWriter, PG_URL, pgTestScope, sql, waitsForLock } from "../fixtures/postgres/db.js";
import { chat, instance, keyRows, kidOfUser, openPrompts, storeAtVersion } from "../fixtures/postgres/subject-keys.js";

const { schemaFor } = pgTestScope();
const roles: string[] = [];
afterEach(async () => {
  for (const r of roles.splice(0)) await sql(`DROP OWNED BY ${r}; DROP ROLE IF EXISTS ${r}`);
});

/** A key store line as the kit writes it (random-looking, well-formed: it is never unwrapped here). */
function keyLine(kid: string, tag: string, over: Record<string, unknown> = {}): string {
  return JSON.stringify({ kid, subject: tag, wrappedBy: "k0123456789abcdef", iv: "A".repeat(16), ct: "B".repeat(64), createdAt: "2026-12-06T00:00:00.000Z", ...over });
}

describe("key rows a writer may insert (schema version 8)", () => {
  it("a writer with INSERT on the table cannot insert a row shredded already, unless a stored subject_shredded record names its key id, nor a malformed key line; a kit key line is stored", async () => {
    const schema = schemaFor("kguard");
    const a = instance("guard_a", schema);
    chat(a.logger, "alice", "alice asks");
    chat(a.logger, "bob", "bob asks");
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    const [aliceKid] = a.logger.shredSubject("alice");
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    const { role, url } = await leastPrivilegeWriter(schema, "h7g_writer");
    roles.push(role);
    const before = await keyRows(schema);
    const [shred] = await sql<{ by: string }>(`SELECT session_id || ' audit_event #' || seq AS by FROM "${schema}".audit_records WHERE record->>'eventType' = 'subject_shredded'`);
    const t = `"${schema}".audit_subject_keys`;
    const asWriter = async (text: string, values: unknown[]) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(text, values);
      } finally {
        await c.end();
      }
    };
    const insert = (kid: string, sid: string | null, line: string | null, shreddedBy: string | null = null) =>
      asWriter(`INSERT INTO ${t} (kid, session_id, line, shredded_at, shredded_by) VALUES ($1, $2, $3, CASE WHEN $4::text IS NULL THEN NULL ELSE now() END, $4)`, [kid, sid, line, shreddedBy]);
    const tag = "c".repeat(32);
    const onlyShred = /only a stored subject_shredded record naming that key id/;
    // what only a shred makes: a row shredded already, naming no record, or a record that does not name the key id
    await expect(insert("d1111111111111111", "guard_a", null, "by hand")).rejects.toThrow(onlyShred);
    await expect(insert("d1111111111111111", null, null, shred!.by)).rejects.toThrow(onlyShred);
    // garbage: the shape of a kit key line is checked
    const malformed = /refused: the key line of d2222222222222222 is malformed/;
    const kid = "d2222222222222222";
    for (const [line, why] of [
      ["not json", /not a JSON object/],
      ["[1,2]", /not a JSON object/],
      [keyLine("d3333333333333333", tag), /not the key line of/],
      [keyLine(kid, "alice"), /subject/],
      [keyLine(kid, tag).replace(`"subject":"${tag}"`, `"subject": "${tag}"`), /subject/],
      [keyLine(kid, tag).replace(`"kid"`, `"subject":"${"e".repeat(32)}","kid"`), /subject/], // two subjects: the trigger reads the first, a reader the last
      [keyLine(kid, tag, { iv: "AAAA" }), /iv/],
      [keyLine(kid, tag, { ct: "AAAA" }), /ct/],
      [keyLine(kid, tag, { wrappedBy: 7 }), /wrappedBy/],
      [keyLine(kid, tag, { key: "c2VjcmV0" }), /field/],
    ] as const) {
      await expect(insert(kid, "guard_a", line), line).rejects.toThrow(malformed);
      await expect(insert(kid, "guard_a", line), line).rejects.toThrow(why);
    }
    await expect(insert(kid, null, keyLine(kid, tag))).rejects.toThrow(/session_id/);
    await expect(insert("x2", "guard_a", keyLine("x2", tag))).rejects.toThrow(/kid/);
    await expect(insert(kid, "guard_a", keyLine(kid, tag), "by hand")).rejects.toThrow(); // (the table's check: a line and shredded_at)
    expect(await keyRows(schema)).toEqual(before);
    // a key line as the kit writes it is stored; alice's key id stays shredded
    await insert(kid, "guard_a", keyLine(kid, tag));
    await asWriter(`INSERT INTO ${t} (kid, session_id, line) VALUES ($1, 'guard_a', $2) ON CONFLICT DO NOTHING`, [aliceKid, keyLine(aliceKid!, tag)]);
    const after = await keyRows(schema);
    expect(after).toEqual([...before, { kid, session_id: "guard_a", line: keyLine(kid, tag), shredded_by: null }].sort((x, y) => (x.kid < y.kid ? -1 : 1)));
    expect(after.find((r) => r.kid === aliceKid)!.line).toBeNull();
    expect(await openPrompts(schema)).toEqual(["bob asks"]);
  });

  // hand-made lines in the key store, as the kit never writes: an iv not 12 bytes; a NUL escape,
  // and nesting deeper than PostgreSQL's stack, which its jsonb cast fails on (22P05, 54001)
  it.each([
    ["its iv is not 12 bytes", keyLine("d4444444444444444", "f".repeat(32), { iv: "AAAA" }), /malformed.*iv/],
    ["a NUL escape PostgreSQL's jsonb does not take", keyLine("d4444444444444444", "f".repeat(32), { createdAt: "\u0000" }), /malformed.*not a JSON object/],
    ["nested deeper than PostgreSQL's stack", keyLine("d4444444444444444", "f".repeat(32)).replace(/}$/, `,"deep":${"[".repeat(30_000)}${"]".repeat(30_000)}}`), /malformed.*not a JSON object/],
  ])("a sink whose key store holds a line the store refuses (%s) says so once, names the key, and stores the other keys and every record", async (_why, line, why) => {
    const schema = schemaFor("kbadline");
    const a = instance("bad_a", schema);
    chat(a.logger, "alice", "alice asks");
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    fs.appendFileSync(path.join(a.logger.auditDir, "subject_keys_bad_a.jsonl"), line + "\n");
    chat(a.logger, "bob", "bob asks");
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([expect.stringMatching(new RegExp(`store refused the key line of d4444444444444444 .*${why.source}`))]);
    expect(a.sink.stats()).toMatchObject({ keys: 2, spilled: 0, outage: false });
    expect((await keyRows(schema)).map((r) => r.kid).sort()).toEqual([kidOfUser(a.logger.auditDir, "bad_a", "alice"), kidOfUser(a.logger.auditDir, "bad_a", "bob")].sort());
    expect(await openPrompts(schema)).toEqual(["alice asks", "bob asks"]);
  });

  it("a sink whose key insert, or a record insert, fails with a serialization failure (as a shred at the same time makes one under REPEATABLE READ) runs it again at once: stored, no outage reported", async () => {
    const schema = schemaFor("kserial");
    await migratePostgres({ connectionString: PG_URL, schema });
    // each table's first insert fails with 40001 (a sequence is not rolled back with it)
    for (const [tbl, name] of [["audit_subject_keys", "keys"], ["audit_records", "recs"]] as const) {
      await sql(`CREATE SEQUENCE "${schema}".once_${name};
        CREATE FUNCTION "${schema}".once_${name}() RETURNS trigger LANGUAGE plpgsql AS $f$
          BEGIN IF nextval('"${schema}".once_${name}') = 1 THEN RAISE EXCEPTION 'could not serialize (test)' USING ERRCODE = '40001'; END IF; RETURN NEW; END $f$;
        CREATE TRIGGER a_once BEFORE INSERT ON "${schema}".${tbl} FOR EACH ROW EXECUTE FUNCTION "${schema}".once_${name}();`);
    }
    const a = instance("serial_a", schema);
    chat(a.logger, "alice", "alice asks");
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    expect(a.sink.stats()).toMatchObject({ keys: 1, spilled: 0, outage: false });
    for (const name of ["keys", "recs"]) expect((await sql<{ v: string }>(`SELECT last_value::text AS v FROM "${schema}".once_${name}`))[0]!.v).not.toBe("1");
    expect(await openPrompts(schema)).toEqual(["alice asks"]);
  });

  it("a shred naming subject tags stored in a store before version 7 (its writer may not migrate) reached only its key ids; the upgrade to version 8 carries out its tags: the subject's other key rows are shredded, and verify is clean", async () => {
    const schema = schemaFor("kv6tags");
    await storeAtVersion(schema, 6);
    const a = instance("v6t_a", schema, PG_URL, { migrate: false });
    const b = instance("v6t_b", schema, PG_URL, { migrate: false });
    chat(a.logger, "alice", "alice on a");
    chat(b.logger, "alice", "alice on b");
    chat(b.logger, "bob", "bob on b");
    await b.logger.finalizeSession();
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    a.logger.shredSubject("alice");
    await a.logger.finalizeSession();
    expect([...a.errors, ...b.errors]).toEqual([]);
    // version 6 shredded the key id the record names (a's), not b's key of alice
    expect(await openPrompts(schema)).toEqual(["alice on b", "bob on b"]);

    await migratePostgres({ connectionString: PG_URL, schema });
    const [rec] = await sql<{ by: string }>(`SELECT session_id || ' audit_event #' || seq AS by FROM "${schema}".audit_records WHERE record->>'eventType' = 'subject_shredded'`);
    expect((await keyRows(schema)).find((r) => r.kid === kidOfUser(b.logger.auditDir, "v6t_b", "alice"))).toMatchObject({ line: null, shredded_by: rec!.by });
    expect(await openPrompts(schema)).toEqual(["bob on b"]);
    expect((await sql(`SELECT subject FROM "${schema}".audit_shredded_subjects`))).toHaveLength(1);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
    // a key line of alice stored after is stored shredded
    const c = instance("v8t_c", schema, PG_URL, { migrate: false });
    chat(c.logger, "alice", "alice on c");
    await c.logger.finalizeSession();
    expect(await openPrompts(schema)).toEqual(["bob on b"]);
  });

  it("a version-7 store with data is migrated to version 8: its key rows open as before, a shred still reaches them, and the guard holds after", async () => {
    const schema = schemaFor("kv7");
    await storeAtVersion(schema, 7);
    const a = instance("v7_a", schema, PG_URL, { migrate: false });
    chat(a.logger, "alice", "alice asks");
    chat(a.logger, "bob", "bob asks");
    chat(a.logger, "carol", "carol asks");
    a.logger.shredSubject("carol"); // shredded in version 7
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    const rows = await keyRows(schema);
    expect(rows.filter((r) => r.line === null)).toHaveLength(1);

    expect(await migratePostgres({ connectionString: PG_URL, schema })).toMatchObject({ version: SCHEMA_VERSION, created: false });
    expect(SCHEMA_VERSION).toBe(8);
    expect(await keyRows(schema)).toEqual(rows);
    expect(await openPrompts(schema)).toEqual(["alice asks", "bob asks"]);
    // another instance shreds alice after the upgrade; a new instance writes carol again (stored shredded) and dave
    const b = instance("v8_b", schema, PG_URL, { migrate: false });
    expect(b.logger.shredSubject("alice")).toEqual([]);
    await b.logger.finalizeSession();
    const c = instance("v8_c", schema, PG_URL, { migrate: false });
    chat(c.logger, "carol", "carol again");
    chat(c.logger, "dave", "dave asks");
    await c.logger.finalizeSession();
    expect([...b.errors, ...c.errors]).toEqual([]);
    expect(await openPrompts(schema)).toEqual(["bob asks", "dave asks"]);
    expect((await keyRows(schema)).find((r) => r.kid === kidOfUser(c.logger.auditDir, "v8_c", "carol"))).toMatchObject({ line: null, shredded_by: expect.stringMatching(/^v7_a audit_event #/) });
    await expect(sql(`INSERT INTO "${schema}".audit_subject_keys (kid, session_id, line) VALUES ('d5555555555555555', 'x', 'garbage')`)).rejects.toThrow(/malformed/);
    for (const sid of ["v7_a", "v8_b", "v8_c"]) expect((await verifyPostgres({ connectionString: PG_URL, schema, sessionId: sid })).problems).toEqual([]);
  });
});

describe("the store's trigger functions that run as their owner (schema version 8)", () => {
  it("no other role may attach them to a table of its own (PostgreSQL grants EXECUTE on a new function to PUBLIC): a reader with a temp table could otherwise write audit_subject_locks as the owner and learn which subjects are shredded; the writers' inserts still fire them", async () => {
    const schema = schemaFor("kdefiner");
    await migratePostgres({ connectionString: PG_URL, schema });
    const definers = await sql<{ name: string }>(
      `SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.prosecdef AND p.prorettype = 'trigger'::regtype ORDER BY 1`,
      [schema],
    );
    expect(definers.map((d) => d.name)).toEqual(["audit_shred_on_record", "audit_shredded_subjects_guard", "audit_subject_keys_insert"]);
    const role = `h7d_reader_${process.pid}_${Date.now().toString(36)}`;
    roles.push(role);
    await sql(`CREATE ROLE ${role} LOGIN; GRANT USAGE ON SCHEMA "${schema}" TO ${role}`);
    const c = new pg.Client({ connectionString: PG_URL.replace("postgres@", `${role}@`) });
    await c.connect();
    const refused: string[] = [];
    try {
      await c.query("CREATE TEMP TABLE k (kid text, line text, session_id text, shredded_at timestamptz, shredded_by text, kind text, record jsonb, seq bigint, subject text)");
      for (const { name } of definers) {
        try {
          await c.query(`CREATE TRIGGER t_${name} BEFORE INSERT ON k FOR EACH ROW EXECUTE FUNCTION "${schema}".${name}()`);
        } catch (err) {
          if ((err as { code?: string }).code === "42501") refused.push(name);
        }
      }
      // (what an attached audit_subject_keys_insert did: a lock row written as the owner)
      await c.query("INSERT INTO k (kid, session_id, line) VALUES ($1, 's', $2)", ["d0123456789abcdef", keyLine("d0123456789abcdef", "c".repeat(32))]).catch(() => undefined);
    } finally {
      await c.end();
    }
    expect(refused).toEqual(definers.map((d) => d.name));
    expect(await sql(`SELECT subject FROM "${schema}".audit_subject_locks`)).toEqual([]);
    // a writer's key line and a shred still run them
    const a = instance("definer_a", schema, PG_URL, { migrate: false });
    chat(a.logger, "alice", "alice asks");
    chat(a.logger, "bob", "bob asks");
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    a.logger.shredSubject("alice");
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    expect(await openPrompts(schema)).toEqual(["bob asks"]);
  });
});

describe("a shred and a key line of its subject in two transactions at once", () => {
  const tagOf = (c: string) => c.repeat(32);
  async function setup(prefix: string) {
    const schema = schemaFor(prefix);
    await migratePostgres({ connectionString: PG_URL, schema });
    const t = `"${schema}"`;
    let seq = 0;
    const insertKey = (c: pg.Client, kid: string, tag: string) => c.query(`INSERT INTO ${t}.audit_subject_keys (kid, session_id, line) VALUES ($1, 'race_b', $2) ON CONFLICT DO NOTHING`, [kid, keyLine(kid, tag)]);
    const insertShred = (c: pg.Client, tag: string) =>
      c.query(`INSERT INTO ${t}.audit_records (session_id, kind, seq, id, ts, prev_hash, hash, record, line) VALUES ('race_a', 'audit_event', $1, $2, now(), '', 'h', $3::jsonb, $3)`, [
        ++seq,
        `ev${seq}`,
        JSON.stringify({ eventType: "subject_shredded", details: { keyIds: [], subjectTags: [tag] } }),
      ]);
    const one = new pg.Client({ connectionString: PG_URL });
    const two = new pg.Client({ connectionString: PG_URL });
    await one.connect();
    await two.connect();
    const pidOf = async (c: pg.Client) => (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const pids = { one: await pidOf(one), two: await pidOf(two) };
    return { schema, insertKey, insertShred, one, two, pids, close: async () => Promise.all([one.end(), two.end()]) };
  }
  /** Runs `f`; a serialization failure (40001, what the sink retries) is run again, in a new transaction. */
  async function retried(c: pg.Client, f: () => Promise<unknown>, inTx: boolean): Promise<string | undefined> {
    try {
      await f();
      if (inTx) await c.query("COMMIT");
      return undefined;
    } catch (err) {
      if (inTx) await c.query("ROLLBACK");
      const code = (err as { code?: string }).code;
      if (code !== "40001") throw err;
      await f();
      return code;
    }
  }

  it("two sinks' key inserts naming the same subjects in another order do not deadlock: the sink's statement writes the subjects' lock rows in the order of their tags", async () => {
    const { schema, one, two, pids, close } = await setup("kracedl");
    const sql8 = keyInsertSql(schema);
    const send = (c: pg.Client, lines: Array<[kid: string, tag: string]>) => c.query(sql8, [lines.map(([k]) => k), lines.map(([k, t]) => keyLine(k, t)), "race_dl"]);
    let failed: string | undefined;
    try {
      // (the one that waits second detects a deadlock at once: it is the one that would fail)
      await one.query("SET deadlock_timeout = '10ms'");
      await one.query("BEGIN");
      await send(one, [["d00000000000000a1", tagOf("a")]]);
      // another sink's batch: its key store has b's line before a's
      const other = send(two, [["d00000000000000b2", tagOf("b")], ["d00000000000000a2", tagOf("a")]]);
      await waitsForLock(pids.two);
      try {
        await send(one, [["d00000000000000b1", tagOf("b")]]);
        await one.query("COMMIT");
      } catch (err) {
        failed = (err as { code?: string }).code;
        await one.query("ROLLBACK");
      }
      await other;
    } finally {
      await close();
    }
    expect(failed).toBeUndefined();
    expect((await keyRows(schema)).map((r) => r.kid)).toEqual(["d00000000000000a1", "d00000000000000a2", "d00000000000000b1", "d00000000000000b2"]);
  });

  it("READ COMMITTED (PostgreSQL's default): whichever commits first, the key row ends shredded; the one that comes second waits for the first", async () => {
    const { schema, insertKey, insertShred, one, two, pids, close } = await setup("kracerc");
    try {
      // the shred first: the key line waits for it, then is stored shredded
      await one.query("BEGIN");
      await insertShred(one, tagOf("a"));
      const late = insertKey(two, "d00000000000000a1", tagOf("a"));
      await waitsForLock(pids.two);
      await one.query("COMMIT");
      await late;
      // the key line first: the shred waits for it, then shreds it
      await two.query("BEGIN");
      await insertKey(two, "d00000000000000b1", tagOf("b"));
      const shred = insertShred(one, tagOf("b"));
      await waitsForLock(pids.one);
      await two.query("COMMIT");
      await shred;
      // the key line's transaction began (and read) before the shred committed: its insert reads anew
      await two.query("BEGIN");
      await two.query("SELECT count(*) FROM pg_class");
      await insertShred(one, tagOf("c"));
      await insertKey(two, "d00000000000000c1", tagOf("c"));
      await two.query("COMMIT");
    } finally {
      await close();
    }
    expect((await keyRows(schema)).map((r) => [r.kid, r.line, r.shredded_by])).toEqual([
      ["d00000000000000a1", null, "race_a audit_event #1"],
      ["d00000000000000b1", null, "race_a audit_event #2"],
      ["d00000000000000c1", null, "race_a audit_event #3"],
    ]);
  });

  it("REPEATABLE READ (a database or role whose default_transaction_isolation is so): the one whose snapshot missed the other fails with a serialization failure, and run again, the key row ends shredded", async () => {
    const { schema, insertKey, insertShred, one, two, pids, close } = await setup("kracerr");
    const codes: Array<string | undefined> = [];
    try {
      // the shred commits after the key line's transaction took its snapshot
      await two.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await two.query("SELECT count(*) FROM pg_class");
      await insertShred(one, tagOf("a"));
      codes.push(await retried(two, () => insertKey(two, "d00000000000000a1", tagOf("a")), true));
      // the key line commits after the shred's transaction took its snapshot
      await one.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await one.query("SELECT count(*) FROM pg_class");
      await insertKey(two, "d00000000000000b1", tagOf("b"));
      codes.push(await retried(one, () => insertShred(one, tagOf("b")), true));
      // the same, the second waiting for the first's commit
      await one.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await two.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await one.query("SELECT count(*) FROM pg_class");
      await two.query("SELECT count(*) FROM pg_class");
      await insertKey(two, "d00000000000000c1", tagOf("c"));
      const shred = retried(one, () => insertShred(one, tagOf("c")), true);
      await waitsForLock(pids.one);
      await two.query("COMMIT");
      codes.push(await shred);
      // a subject with a key row stored long before (its lock row there before both snapshots)
      await insertKey(one, "d00000000000000d1", tagOf("d"));
      await two.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await two.query("SELECT count(*) FROM pg_class");
      await insertShred(one, tagOf("d"));
      codes.push(await retried(two, () => insertKey(two, "d00000000000000d2", tagOf("d")), true));
    } finally {
      await close();
    }
    expect((await keyRows(schema)).map((r) => [r.kid, r.line, r.shredded_by])).toEqual([
      ["d00000000000000a1", null, "race_a audit_event #1"],
      ["d00000000000000b1", null, expect.stringMatching(/^race_a audit_event #[23]$/)],
      ["d00000000000000c1", null, expect.stringMatching(/^race_a audit_event #[45]$/)],
      ["d00000000000000d1", null, expect.stringMatching(/^race_a audit_event #[56]$/)],
      ["d00000000000000d2", null, expect.stringMatching(/^race_a audit_event #[56]$/)],
    ]);
    expect(codes).toEqual(["40001", "40001", "40001", "40001"]);
  });
});
