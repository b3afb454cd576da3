// verify --postgres compared no subject_shredded record with the key rows (found 2026-12-06, by
// the PostgreSQL pass): a shred the store did not carry out (its keys readable) or a key row
// shredded by no record went unreported; and a shred of a logger before 2026-12-06 (key ids only)
// reaches only those ids, which verify now says. Real PostgreSQL, real files.
import { describe, expect, it } from "vitest";
import { withRecordTime } from "../../src/logger.js";
import { applyPostgresRetention, migratePostgres, verifyPostgres } from "../../src/postgres/index.js";
import { PG_URL, pgTestScope, sql } from "../fixtures/postgres/db.js";
import { chat, instance, keyRows, kidOfUser, openPrompts, storeAtVersion } from "../fixtures/postgres/subject-keys.js";

const { schemaFor } = pgTestScope();

describe("verify --postgres compares the shreds with the key rows", () => {
  it("reports a subject_shredded record whose keys are readable (key_not_shredded) and a key row shredded by no record (key_shredded_without_record); a shred as the kit makes it verifies clean", async () => {
    const schema = schemaFor("kverify");
    const a = instance("ver_a", schema);
    for (const u of ["alice", "bob", "carol"]) chat(a.logger, u, `${u} asks`);
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    a.logger.shredSubject("carol"); // as the kit does it
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
    // the owner stores alice's shred with the shredding trigger off: her key row stays readable
    await sql(`ALTER TABLE "${schema}".audit_records DISABLE TRIGGER audit_records_shred`);
    const [aliceKid] = a.logger.shredSubject("alice");
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    await sql(`ALTER TABLE "${schema}".audit_records ENABLE TRIGGER audit_records_shred`);
    // and shreds bob's row by hand
    const bobKid = kidOfUser(a.logger.auditDir, "ver_a", "bob");
    await sql(`UPDATE "${schema}".audit_subject_keys SET line = NULL, shredded_at = now(), shredded_by = 'by hand' WHERE kid = $1`, [bobKid]);
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    const [rec] = await sql<{ seq: string }>(`SELECT seq::text FROM "${schema}".audit_records WHERE record->>'eventType' = 'subject_shredded' AND record->'details'->'keyIds' ? $1`, [aliceKid]);

    for (const sessionId of [undefined, "ver_a"]) {
      const v = await verifyPostgres({ connectionString: PG_URL, schema, sessionId });
      expect(v.ok).toBe(false);
      expect(v.problems.map((p) => [p.kind, p.sessionId, p.seq]).sort()).toEqual([
        ["key_not_shredded", "ver_a", Number(rec!.seq)],
        ["key_not_shredded", "ver_a", Number(rec!.seq)],
        ["key_shredded_without_record", "ver_a", undefined],
      ]);
      const notShredded = v.problems.filter((p) => p.kind === "key_not_shredded").map((p) => p.detail);
      expect(notShredded.some((d) => d.includes(aliceKid!) && /readable/.test(d))).toBe(true); // by its key id
      expect(notShredded.some((d) => /subject tag [0-9a-f]{32}/.test(d) && /audit_shredded_subjects/.test(d))).toBe(true); // its tag has no tombstone
      expect(v.problems.find((p) => p.kind === "key_shredded_without_record")!.detail).toContain(bobKid);
    }
    // another session's verify does not report them
    expect((await verifyPostgres({ connectionString: PG_URL, schema, sessionId: "other" })).problems).toEqual([]);
  });

  it("a shred recorded with key ids only (a logger before 2026-12-06, stored in version 6) verifies clean after the upgrade, with a note that it reached only those ids", async () => {
    const schema = schemaFor("kold");
    await storeAtVersion(schema, 6);
    const a = instance("old_a", schema, PG_URL, { migrate: false });
    chat(a.logger, "alice", "alice asks");
    chat(a.logger, "bob", "bob asks");
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    const aliceKid = kidOfUser(a.logger.auditDir, "old_a", "alice");
    (a.logger as unknown as { logAuditEvent(t: string, r: string, d: object): void }).logAuditEvent("subject_shredded", "old format", { keyIds: [aliceKid] });
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    await migratePostgres({ connectionString: PG_URL, schema });
    expect((await keyRows(schema)).find((r) => r.kid === aliceKid)).toMatchObject({ line: null, shredded_by: expect.stringMatching(/^old_a audit_event #\d+$/) });
    const v = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(v.problems).toEqual([]);
    const note = v.notes.find((n) => n.kind === "shred_by_key_ids_only");
    expect(note?.detail).toMatch(/key ids only/);
    expect(note?.seq).toBeGreaterThan(0);
    expect(await openPrompts(schema)).toEqual(["bob asks"]);
  });

  it("a reader role that may not read the key table verifies the chains, with a note that the shreds were not compared (not a failure as a whole)", async () => {
    const schema = schemaFor("knoread");
    const a = instance("noread_a", schema);
    chat(a.logger, "alice", "alice asks");
    a.logger.shredSubject("alice");
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    const role = `h7v_reader_${process.pid}`;
    await sql(`DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role} LOGIN; GRANT USAGE ON SCHEMA "${schema}" TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA "${schema}" TO ${role}; REVOKE SELECT ON "${schema}".audit_subject_keys FROM ${role}`);
    try {
      const v = await verifyPostgres({ connectionString: PG_URL.replace("postgres@", `${role}@`), schema });
      expect(v.problems).toEqual([]);
      expect(v.notes.find((n) => n.kind === "keys_not_checked")?.detail).toMatch(/GRANT SELECT ON .*audit_subject_keys/);
    } finally {
      await sql(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it("reports a readable key row stored before version 8 whose line is not a kit key line (key_row_malformed): one whose subject a shred's pattern does not find, and garbage", async () => {
    const schema = schemaFor("kmalformed");
    await storeAtVersion(schema, 7);
    const a = instance("mal_a", schema, PG_URL, { migrate: false });
    chat(a.logger, "alice", "alice asks");
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    const [good] = await keyRows(schema);
    // as version 7 let a writer insert them
    const spaced = good!.line!.replace(/"subject":"/, '"subject": "').replace(good!.kid, "d0000000000000001");
    await sql(`INSERT INTO "${schema}".audit_subject_keys (kid, session_id, line) VALUES ('d0000000000000001', 'mal_a', $1), ('d0000000000000002', 'mal_b', 'garbage')`, [spaced]);
    await migratePostgres({ connectionString: PG_URL, schema });
    const v = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(v.problems.map((p) => [p.kind, p.sessionId, p.file])).toEqual([
      ["key_row_malformed", "mal_a", `postgres:${schema}.audit_subject_keys kid=d0000000000000001`],
      ["key_row_malformed", "mal_b", `postgres:${schema}.audit_subject_keys kid=d0000000000000002`],
    ]);
    expect(v.problems[0]!.detail).toMatch(/subject is not one HMAC tag/);
    expect(v.problems[1]!.detail).toMatch(/not a JSON object/);
    expect((await verifyPostgres({ connectionString: PG_URL, schema, sessionId: "mal_a" })).problems.map((p) => p.kind)).toEqual(["key_row_malformed"]);
  });

  it("notes a key row whose shredding record retention has removed since (key_shred_record_removed), the report OK; a row shredded by a record still stored is not noted", async () => {
    const schema = schemaFor("kretained");
    const a = instance("ret_a", schema);
    // alice's chat and her shred in September; carol's chat and shred now
    const sep = Date.parse("2026-09-10T00:00:00Z");
    withRecordTime(sep, () => chat(a.logger, "alice", "alice asks"));
    withRecordTime(sep + 1, () => chat(a.logger, "bob", "bob asks"));
    const [aliceKid] = withRecordTime(sep + 2, () => a.logger.shredSubject("alice"));
    chat(a.logger, "carol", "carol asks");
    const [carolKid] = a.logger.shredSubject("carol");
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    const shredBy = async (kid: string) => (await keyRows(schema)).find((r) => r.kid === kid)!;
    const aliceRow = await shredBy(aliceKid!);
    expect(aliceRow).toMatchObject({ line: null, shredded_by: expect.stringMatching(/^ret_a audit_event #\d+$/) });
    const aliceSeq = Number(/#(\d+)$/.exec(aliceRow.shredded_by!)![1]);
    const shredRecords = async () => (await sql<{ seq: string }>(`SELECT seq::text FROM "${schema}".audit_records WHERE session_id = 'ret_a' AND record->>'eventType' = 'subject_shredded' ORDER BY seq`)).map((r) => Number(r.seq));
    expect(await shredRecords()).toContain(aliceSeq);
    const removedNotes = (v: Awaited<ReturnType<typeof verifyPostgres>>) => v.notes.filter((n) => n.kind === "key_shred_record_removed");
    const before = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(before.problems).toEqual([]);
    expect(removedNotes(before)).toEqual([]);

    // retention drops September: alice's shred record goes, her key row stays shredded by it
    const drops = await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-10-01T00:00:00Z", reason: "policy" });
    expect(drops.map((d) => d.partition)).toEqual(["audit_records_p2026_09"]);
    expect(await shredRecords()).not.toContain(aliceSeq);
    expect(await shredBy(aliceKid!)).toEqual(aliceRow);
    expect((await shredBy(carolKid!)).line).toBe(null);

    for (const sessionId of [undefined, "ret_a"]) {
      const v = await verifyPostgres({ connectionString: PG_URL, schema, sessionId });
      expect(v.problems).toEqual([]);
      expect(v.ok).toBe(true);
      const notes = removedNotes(v);
      expect(notes.map((n) => n.file)).toEqual([`postgres:${schema}.audit_subject_keys kid=${aliceKid}`]);
      expect(notes[0]!.detail).toContain(`shredded by ret_a audit_event #${aliceSeq}`);
      expect(notes[0]!.detail).toMatch(/retention has removed/);
    }
    expect(removedNotes(await verifyPostgres({ connectionString: PG_URL, schema, sessionId: "other" }))).toEqual([]);
  });
});
