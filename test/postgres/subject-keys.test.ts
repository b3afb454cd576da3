// The wrapped per-subject data keys of encrypted sessions were in each instance's audit directory
// only (subject_keys_<sessionId>.jsonl): one reader of the shared store could not open the
// records of several instances, and a crypto-shredding never reached the store. Schema version 6
// keeps them in audit_subject_keys (found 2026-12-06): sinks send each session's key lines before
// its records, a stored subject_shredded record shreds the keys it names, and the store's readers
// open records with the master key and that table. Real PostgreSQL, real files.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditExporter, AuditLogger, AuditViewer, verifyAuditLog } from "../../src/index.js";
import { migratePostgres, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { SCHEMA_VERSION } from "../../src/postgres/schema.js";
import { startServer } from "../../src/serve/server.js";
import { TEST_KEY, tmpProject } from "../helpers/index.js";
import { freePort, leastPrivilegeWriter, PG_URL, PgProxy, pgTestScope, sql } from "../fixtures/postgres/db.js";
import { chat, instance, keyFileLines, kidOf, kidOfUser, keyRows, storeAtVersion } from "../fixtures/postgres/subject-keys.js";
import { runCli } from "../cli/helpers.js";

const { schemaFor, proxies } = pgTestScope();
const roles: string[] = [];
afterEach(async () => {
  for (const r of roles.splice(0)) await sql(`DROP OWNED BY ${r}; DROP ROLE IF EXISTS ${r}`);
});

/** The prompts a reader with only the master key gets from the store, by prompt, and the errors of those it cannot open. */
async function readStore(schema: string): Promise<{ open: string[]; closed: string[] }> {
  const viewer = new AuditViewer({ postgres: { connectionString: PG_URL, schema }, encryptionKey: TEST_KEY });
  const chats = await viewer.getChatInteractions();
  const open = chats.filter((c) => typeof c.promptPreview === "string").map((c) => c.promptPreview as string).sort();
  const closed = chats.filter((c) => (c as { encryptedWithoutKey?: boolean }).encryptedWithoutKey).map((c) => String((c as { decryptionError?: string }).decryptionError));
  return { open, closed };
}

describe("data keys in the store (audit_subject_keys)", () => {
  it("two instances with encryption write one store; one reader with only the master key opens both instances' records (viewer, export, tail, serve)", async () => {
    const schema = schemaFor("keystwo");
    const a = instance("inst_a", schema);
    const b = instance("inst_b", schema);
    chat(a.logger, "alice", "alice on a");
    chat(a.logger, "bob", "bob on a");
    chat(b.logger, "alice", "alice on b");
    b.logger.logChatInteraction({ prompt: "no user on b", response: "r" }); // the session's own key
    await a.logger.finalizeSession();
    await b.logger.finalizeSession();
    expect([...a.errors, ...b.errors]).toEqual([]);

    // the store holds each key store line as written (wrapped: never a key in clear), and nothing else
    const rows = await keyRows(schema);
    const expected = [
      ...keyFileLines(a.logger.auditDir, "inst_a").map((line) => ({ kid: kidOf(line), session_id: "inst_a", line, shredded_by: null })),
      ...keyFileLines(b.logger.auditDir, "inst_b").map((line) => ({ kid: kidOf(line), session_id: "inst_b", line, shredded_by: null })),
    ].sort((x, y) => (x.kid < y.kid ? -1 : 1));
    expect(expected).toHaveLength(4); // alice and bob on a, alice and the session on b
    expect(rows).toEqual(expected);
    expect(a.sink.stats().keys + b.sink.stats().keys).toBe(4);
    for (const r of rows) expect(Object.keys(JSON.parse(r.line!) as object).sort()).toEqual(["createdAt", "ct", "iv", "kid", "subject", "wrappedBy"]);

    // the viewer: no contentDir, both instances' records open
    expect(await readStore(schema)).toEqual({ open: ["alice on a", "alice on b", "bob on a", "no user on b"], closed: [] });

    // the exporter over the store
    const out = path.join(tmpProject(), "all.json");
    await new AuditExporter({ postgres: { connectionString: PG_URL, schema }, encryptionKey: TEST_KEY }).exportToJson(out, { includeFullContent: true });
    const exported = JSON.parse(fs.readFileSync(out, "utf8")) as { records: { chat_interactions: Array<{ promptPreview: unknown }> } };
    expect(exported.records.chat_interactions.map((c) => c.promptPreview).sort()).toEqual(["alice on a", "alice on b", "bob on a", "no user on b"]);

    // the CLI: tail and export --postgres, with the master key only
    const keyFile = path.join(tmpProject(), "master.key");
    fs.writeFileSync(keyFile, TEST_KEY);
    const tail = await runCli(["tail", "--postgres", PG_URL, "--schema", schema, "--kind", "chat_interaction", "--key-file", keyFile]);
    expect(tail.code, tail.stderr).toBe(0);
    for (const p of ["alice on a", "alice on b", "bob on a", "no user on b"]) expect(tail.stdout).toContain(p);
    expect(tail.stdout).not.toContain("cannot decrypt");
    const csv = path.join(tmpProject(), "out");
    const exp = await runCli(["export", "--postgres", PG_URL, "--schema", schema, "--format", "json", "--out", path.join(csv, "x.json"), "--include-content", "--key-file", keyFile]);
    expect(exp.code, exp.stderr).toBe(0);
    const cliDoc = fs.readFileSync(path.join(csv, "x.json"), "utf8");
    for (const p of ["alice on a", "alice on b", "bob on a", "no user on b"]) expect(cliDoc).toContain(JSON.stringify(p));

    // serve over the store
    const server = await startServer({ postgres: { connectionString: PG_URL, schema }, encryptionKey: TEST_KEY });
    try {
      const viewer = new AuditViewer({ postgres: { connectionString: PG_URL, schema }, encryptionKey: TEST_KEY });
      const id = (await viewer.getChatInteractions({ sessionId: "inst_b" })).find((c) => c.promptPreview === "alice on b")!.id;
      const r = await fetch(new URL(`/api/sessions/inst_b/records/${id}`, server.baseUrl), { headers: { authorization: `Bearer ${server.token}` } });
      const d = (await r.json()) as { record: { promptPreview: unknown; encryptedWithoutKey?: boolean } };
      expect(d.record.encryptedWithoutKey).toBeUndefined();
      expect(d.record.promptPreview).toBe("alice on b");
    } finally {
      await server.close();
    }

    // contentDir still works, and agrees
    const withDir = new AuditViewer({ postgres: { connectionString: PG_URL, schema, contentDir: a.logger.auditDir }, encryptionKey: TEST_KEY });
    expect((await withDir.getChatInteractions()).map((c) => c.promptPreview).sort()).toEqual(["alice on a", "alice on b", "bob on a", "no user on b"]);
  });

  it("a shred reaches the store with its subject_shredded record: the subject's key rows lose their key, its records are unreadable through the store (also to a viewer opened before), others stay readable", async () => {
    const schema = schemaFor("keysshred");
    const a = instance("shred_a", schema);
    chat(a.logger, "alice", "alice before");
    chat(a.logger, "bob", "bob before");
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    const early = new AuditViewer({ postgres: { connectionString: PG_URL, schema }, encryptionKey: TEST_KEY });
    expect((await early.getChatInteractions()).map((c) => c.promptPreview).sort()).toEqual(["alice before", "bob before"]);
    const destroyed = a.logger.shredSubject("alice", "erasure #1");
    expect(destroyed).toHaveLength(1);
    chat(a.logger, "alice", "alice after"); // a new key for her later records
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);

    const rows = await keyRows(schema);
    const gone = rows.find((r) => r.kid === destroyed[0])!;
    expect(gone).toMatchObject({ session_id: "shred_a", line: null });
    expect(gone.shredded_by).toMatch(/^shred_a audit_event #\d+$/);
    // alice's new key (kept in the directory, which opens her later record) is stored shredded: since
    // schema version 7 the store shreds every key of her subject tag, also those sent after the shred
    const newKid = kidOfUser(a.logger.auditDir, "shred_a", "alice", "last");
    expect(newKid).not.toBe(destroyed[0]);
    expect(rows.find((r) => r.kid === newKid)).toMatchObject({ line: null, shredded_by: gone.shredded_by });
    expect(rows.filter((r) => r.line !== null)).toHaveLength(1); // bob's
    // through the store: alice's records are unreadable, said shredded, bob's open
    const { open, closed } = await readStore(schema);
    expect(open).toEqual(["bob before"]);
    expect(closed).toHaveLength(2);
    for (const c of closed) expect(c).toMatch(/crypto-shredded/);
    // a viewer opened before the shred (its keyring had unwrapped alice's key) sees it too
    const later = await early.getChatInteractions();
    expect(later.filter((c) => typeof c.promptPreview === "string").map((c) => c.promptPreview).sort()).toEqual(["bob before"]);
    // the directory still opens her later record
    const withDir = new AuditViewer({ postgres: { connectionString: PG_URL, schema, contentDir: a.logger.auditDir }, encryptionKey: TEST_KEY });
    expect((await withDir.getChatInteractions()).filter((c) => typeof c.promptPreview === "string").map((c) => c.promptPreview).sort()).toEqual(["alice after", "bob before"]);
  });

  it("a shred made while the store is unreachable: the outage is reported, the store keeps the key until the shred's record lands; then the key row is shredded, and the key is never stored again", async () => {
    const schema = schemaFor("keysdown");
    await migratePostgres({ connectionString: PG_URL, schema });
    const port = await freePort();
    const proxy = new PgProxy(port);
    proxies.push(proxy);
    await proxy.start();
    const projectPath = tmpProject();
    const a = instance("down_a", schema, proxy.url, {}, projectPath);
    chat(a.logger, "alice", "alice's secret");
    chat(a.logger, "bob", "bob's note");
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    const aliceKid = kidOfUser(a.logger.auditDir, "down_a", "alice");
    expect((await keyRows(schema)).every((r) => r.line !== null)).toBe(true);

    await proxy.stop();
    const destroyed = a.logger.shredSubject("alice");
    expect(destroyed).toContain(aliceKid);
    await a.logger.finalizeSession();
    // the sink said the store was not reached (an error event, so an errors record), and the shred's record is spooled
    expect(a.errors.some((e) => /PostgresSink cannot store records/.test(e))).toBe(true);
    const spool = fs.readdirSync(a.logger.auditDir).find((n) => n.startsWith(".pg_spool_"));
    expect(spool).toBeDefined();
    expect(fs.readFileSync(path.join(a.logger.auditDir, spool!), "utf8")).toContain("subject_shredded");
    // the store was not told: its key rows are as they were, so alice still opens there
    expect((await keyRows(schema)).find((r) => r.kid === aliceKid)!.line).not.toBeNull();
    expect((await readStore(schema)).open).toEqual(["alice's secret", "bob's note"]);

    // the store answers again; the next sink in this directory sends the spool, with the shred's record
    await proxy.start();
    const next = instance("down_next", schema, proxy.url, {}, projectPath);
    chat(next.logger, "carol", "carol's line");
    await next.logger.finalizeSession();
    expect(next.errors).toEqual([]);
    expect(next.sink.stats().adopted).toBeGreaterThan(0);
    const row = (await keyRows(schema)).find((r) => r.kid === aliceKid)!;
    expect(row.line).toBeNull();
    expect(row.shredded_by).toMatch(/^down_a audit_event #\d+$/);
    const { open, closed } = await readStore(schema);
    expect(open).toEqual(["bob's note", "carol's line"]);
    expect(closed).toEqual([expect.stringMatching(/crypto-shredded/)]);

    // the key line sent again (as a sink that read it before the shred would) stores nothing
    const original = keyFileLines(a.logger.auditDir, "down_a"); // alice's line is gone from the file
    expect(original.some((l) => kidOf(l) === aliceKid)).toBe(false);
    const fake = JSON.stringify({ kid: aliceKid, subject: "a".repeat(32), wrappedBy: "k0123456789abcdef", iv: "A".repeat(16), ct: "A".repeat(64), createdAt: new Date().toISOString() });
    await sql(`INSERT INTO "${schema}".audit_subject_keys (kid, session_id, line) VALUES ($1, 'down_a', $2) ON CONFLICT DO NOTHING`, [aliceKid, fake]);
    expect((await keyRows(schema)).find((r) => r.kid === aliceKid)!.line).toBeNull();
  });

  it("a key row is changed by no UPDATE but its shredding, and is never deleted or truncated", async () => {
    const schema = schemaFor("keysguard");
    const a = instance("guard_a", schema);
    chat(a.logger, "alice", "p");
    await a.logger.finalizeSession();
    const [row] = await keyRows(schema);
    expect(row!.line).not.toBeNull();
    const t = `"${schema}".audit_subject_keys`;
    const refused = /a data key row changes only as its key is shredded|is refused/;
    await expect(sql(`UPDATE ${t} SET line = $1 WHERE kid = $2`, [row!.line!.replace(/"ct":"[^"]+"/, '"ct":"AAAA"'), row!.kid])).rejects.toThrow(refused);
    await expect(sql(`UPDATE ${t} SET session_id = 'other' WHERE kid = $1`, [row!.kid])).rejects.toThrow(refused);
    await expect(sql(`DELETE FROM ${t} WHERE kid = $1`, [row!.kid])).rejects.toThrow(refused);
    await expect(sql(`TRUNCATE ${t}`)).rejects.toThrow(/append-only|refused/);
    expect(await keyRows(schema)).toEqual([row]);
    // its one change: the shredding (by the owner; writers make it by storing a subject_shredded record)
    await sql(`UPDATE ${t} SET line = NULL, shredded_at = now(), shredded_by = 'by hand' WHERE kid = $1`, [row!.kid]);
    await expect(sql(`UPDATE ${t} SET line = $1, shredded_at = NULL, shredded_by = NULL WHERE kid = $2`, [row!.line, row!.kid])).rejects.toThrow(refused);
    expect((await keyRows(schema))[0]!.line).toBeNull();
  });

  it("a store of schema version 5 a writer may not migrate: the sink says once that the keys are not stored, records are; a reader without contentDir says what is missing, with it opens", async () => {
    const schema = schemaFor("keysold");
    await storeAtVersion(schema, 5);
    const a = instance("old_a", schema, PG_URL, { migrate: false });
    chat(a.logger, "alice", "alice asks");
    chat(a.logger, "bob", "bob asks");
    await a.logger.finalizeSession();
    expect(a.errors.filter((e) => /data keys of encrypted sessions/.test(e))).toEqual([expect.stringMatching(/older than version 6; run migratePostgres\(\)/)]);
    expect(a.sink.stats().stored).toBeGreaterThanOrEqual(2);
    const { open, closed } = await readStore(schema);
    expect(open).toEqual([]);
    expect(closed).toHaveLength(2);
    for (const c of closed) {
      expect(c).toMatch(/not in the store's key table \(audit_subject_keys\)/);
      expect(c).not.toMatch(/shredded/);
    }
    const withDir = new AuditViewer({ postgres: { connectionString: PG_URL, schema, contentDir: a.logger.auditDir }, encryptionKey: TEST_KEY });
    expect((await withDir.getChatInteractions()).map((c) => c.promptPreview).sort()).toEqual(["alice asks", "bob asks"]);
    // once migrated, the next sink of that session sends its key lines (from the start of its key store)
    await migratePostgres({ connectionString: PG_URL, schema });
    const again = instance("old_a", schema, PG_URL, { migrate: false }, a.projectPath);
    await again.logger.finalizeSession();
    expect(again.errors).toEqual([]);
    expect((await readStore(schema)).open).toEqual(["alice asks", "bob asks"]);
    expect(await keyRows(schema)).toHaveLength(2);
  });

  it("a reader role granted SELECT before version 6 made the key table (no SELECT on it): records open with contentDir, as before the upgrade, and without it say what is missing (a read failed as a whole: permission denied)", async () => {
    const schema = schemaFor("keysreader");
    await migratePostgres({ connectionString: PG_URL, schema });
    const a = instance("reader_a", schema);
    chat(a.logger, "alice", "alice asks");
    chat(a.logger, "bob", "bob asks");
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    expect(await keyRows(schema)).toHaveLength(2);
    const role = `h7k_reader_${process.pid}`;
    roles.push(role);
    await sql(`DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role} LOGIN; GRANT USAGE ON SCHEMA "${schema}" TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA "${schema}" TO ${role}; REVOKE SELECT ON "${schema}".audit_subject_keys FROM ${role}`);
    const url = PG_URL.replace("postgres@", `${role}@`);
    const withDir = new AuditViewer({ postgres: { connectionString: url, schema, contentDir: a.logger.auditDir }, encryptionKey: TEST_KEY });
    expect((await withDir.getChatInteractions()).map((c) => c.promptPreview).sort()).toEqual(["alice asks", "bob asks"]);
    const noDir = new AuditViewer({ postgres: { connectionString: url, schema }, encryptionKey: TEST_KEY });
    const chats = await noDir.getChatInteractions();
    expect(chats).toHaveLength(2);
    for (const c of chats) {
      expect(String((c as { decryptionError?: string }).decryptionError)).toMatch(/may not read the store's key table .*GRANT SELECT ON .*audit_subject_keys/);
      expect(String((c as { decryptionError?: string }).decryptionError)).not.toMatch(/shredded/);
    }
  });

  it("a least-privilege writer (the grants of docs/POSTGRES.md) stores key lines and shreds through its subject_shredded record, but cannot change a key row itself; without INSERT on the table it is told once, and its records are stored", async () => {
    const schema = schemaFor("keysrole");
    await migratePostgres({ connectionString: PG_URL, schema });
    const { role, url } = await leastPrivilegeWriter(schema, "h7k_writer");
    roles.push(role);
    const a = instance("role_a", schema, url, { migrate: false });
    chat(a.logger, "alice", "alice asks");
    chat(a.logger, "bob", "bob asks");
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    const [destroyed] = a.logger.shredSubject("alice");
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    const rows = await keyRows(schema);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.kid === destroyed)).toMatchObject({ line: null, shredded_by: expect.stringMatching(/^role_a audit_event #/) });
    expect((await readStore(schema)).open).toEqual(["bob asks"]);
    const bob = rows.find((r) => r.kid !== destroyed)!;
    await expect(sql(`SET ROLE ${role}; UPDATE "${schema}".audit_subject_keys SET line = NULL, shredded_at = now(), shredded_by = 'x' WHERE kid = '${bob.kid}'`)).rejects.toThrow(/permission denied/);
    await expect(sql(`SET ROLE ${role}; DELETE FROM "${schema}".audit_subject_keys`)).rejects.toThrow(/permission denied/);

    // a writer granted before version 6 made the table (GRANT … ON ALL TABLES covers the tables then there)
    await sql(`REVOKE INSERT ON "${schema}".audit_subject_keys FROM ${role}`);
    const b = instance("role_b", schema, url, { migrate: false });
    chat(b.logger, "carol", "carol asks");
    chat(b.logger, "dave", "dave asks");
    await b.logger.finalizeSession();
    expect(b.errors).toEqual([expect.stringMatching(/cannot store the data keys of encrypted sessions .*grant this role INSERT on audit_subject_keys/)]);
    expect(b.sink.stats()).toMatchObject({ keys: 0, spilled: 0, outage: false });
    expect((await sql<{ c: string }>(`SELECT count(*)::text AS c FROM "${schema}".audit_records WHERE session_id = 'role_b' AND kind = 'chat_interaction'`))[0]!.c).toBe("2");
  });

  it("audit-logger shred --postgres shreds in the store too; with the store down it exits 1 saying so, and run again once it answers, shreds there; without --postgres it warns that the store keeps its copies", async () => {
    const schema = schemaFor("keyscli");
    await migratePostgres({ connectionString: PG_URL, schema });
    const port = await freePort();
    const proxy = new PgProxy(port);
    proxies.push(proxy);
    await proxy.start();
    const a = instance("cli_a", schema, proxy.url);
    chat(a.logger, "alice", "alice asks");
    chat(a.logger, "bob", "bob asks");
    chat(a.logger, "erin", "erin asks");
    await a.logger.finalizeSession();
    const aliceKid = kidOfUser(a.logger.auditDir, "cli_a", "alice");
    const erinKid = kidOfUser(a.logger.auditDir, "cli_a", "erin");
    const keyFile = path.join(tmpProject(), "master.key");
    fs.writeFileSync(keyFile, TEST_KEY);
    const lineOf = async (kid: string) => (await keyRows(schema)).find((r) => r.kid === kid)!.line;

    // without --postgres: the directory only, and a warning
    const local = await runCli(["shred", a.logger.auditDir, "--user", "erin", "--key-file", keyFile]);
    expect(local.code, local.stderr).toBe(0);
    expect(local.stderr).toContain("were also sent to a PostgreSQL store");
    expect(await lineOf(erinKid)).not.toBeNull();

    // the store down: exit 1, said so, the store's key untouched
    await proxy.stop();
    const down = await runCli(["shred", a.logger.auditDir, "--user", "alice", "--key-file", keyFile, "--postgres", proxy.url, "--schema", schema, "--json"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("the PostgreSQL store was not reached, so its copies of the keys are not shredded yet");
    expect(JSON.parse(down.stdout)).toMatchObject({ destroyedKeyIds: [aliceKid], store: "not reached" });
    expect(await lineOf(aliceKid)).not.toBeNull();

    // run again once it answers: the first run's record reaches the store, and shreds there
    await proxy.start();
    const again = await runCli(["shred", a.logger.auditDir, "--user", "alice", "--key-file", keyFile, "--postgres", proxy.url, "--schema", schema, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ destroyedKeyIds: [], store: "shredded" });
    expect(await lineOf(aliceKid)).toBeNull();
    expect((await keyRows(schema)).find((r) => r.kid === aliceKid)!.shredded_by).toMatch(/^audit_maintenance_[0-9a-f]{16} audit_event #\d+$/);
    // and erin, shredded in the directory before without --postgres: as the warning said, run
    // again with it (the directory has no key of hers left; the record's subject tags shred in the store)
    expect(await lineOf(erinKid)).not.toBeNull();
    const erin = await runCli(["shred", a.logger.auditDir, "--user", "erin", "--key-file", keyFile, "--postgres", proxy.url, "--schema", schema, "--json"]);
    expect(erin.code, erin.stderr).toBe(0);
    expect(JSON.parse(erin.stdout)).toMatchObject({ destroyedKeyIds: [], store: "shredded" });
    expect(await lineOf(erinKid)).toBeNull();
    expect((await readStore(schema)).open).toEqual(["bob asks"]);
  });

  it("audit-logger shred --postgres run in two instances' directories (as a shred must be, one per directory): the store's chains verify clean, each run's record shreds there", async () => {
    const schema = schemaFor("keyscli2");
    await migratePostgres({ connectionString: PG_URL, schema });
    const dirs: string[] = [];
    for (const sid of ["cli2_a", "cli2_b"]) {
      const x = instance(sid, schema);
      chat(x.logger, "alice", `alice asks ${sid}`);
      chat(x.logger, "bob", `bob asks ${sid}`);
      await x.logger.finalizeSession();
      dirs.push(x.logger.auditDir);
    }
    const keyFile = path.join(tmpProject(), "master.key");
    fs.writeFileSync(keyFile, TEST_KEY);
    for (const d of [...dirs, dirs[0]!]) {
      const r = await runCli(["shred", d, "--user", "alice", "--key-file", keyFile, "--postgres", PG_URL, "--schema", schema, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ store: "shredded" });
    }
    // (both runs wrote session audit_maintenance to the store: seq 1 twice, chain_broken, seq_duplicate, checkpoint_mismatch)
    const v = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(v.problems).toEqual([]);
    expect((await readStore(schema)).open).toEqual(["bob asks cli2_a", "bob asks cli2_b"]);
  });

  it("audit-logger shred --postgres whose record the store refuses for good exits 1 saying the store's keys are not shredded (it said shredded: a refused record is neither queued nor spooled)", async () => {
    const schema = schemaFor("keysrefused");
    await migratePostgres({ connectionString: PG_URL, schema });
    const a = instance("cli_ref", schema);
    chat(a.logger, "alice", "alice asks");
    await a.logger.finalizeSession();
    const aliceKid = kidOfUser(a.logger.auditDir, "cli_ref", "alice");
    // the store refuses the maintenance session's audit_event rows as a data exception (class 22),
    // which the sink takes as a refusal for good: counted, reported, left out, not retried
    await sql(`CREATE FUNCTION "${schema}".refuse_events() RETURNS trigger LANGUAGE plpgsql AS $f$
      BEGIN IF NEW.kind = 'audit_event' THEN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '22023'; END IF; RETURN NEW; END $f$;
      CREATE TRIGGER refuse_events BEFORE INSERT ON "${schema}".audit_records FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_events();`);
    const keyFile = path.join(tmpProject(), "master.key");
    fs.writeFileSync(keyFile, TEST_KEY);
    const r = await runCli(["shred", a.logger.auditDir, "--user", "alice", "--key-file", keyFile, "--postgres", PG_URL, "--schema", schema, "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ destroyedKeyIds: [aliceKid], store: "refused" });
    expect(r.stderr).toContain("the PostgreSQL store refused the shred's record, so its copies of the keys are not shredded");
    expect((await keyRows(schema)).find((k) => k.kid === aliceKid)!.line).not.toBeNull();
  });
});

// A shred named only the key ids its own directory held (found 2026-12-06): the same user's keys
// sent by another instance (another audit directory) or by a session whose files cleanup had
// removed stayed readable through the store. Schema version 7: the subject_shredded record names
// the subject's HMAC tags, and storing it shreds every key row of those tags, also those stored
// afterwards.
describe("a shred reaches every key row of its subject in the store (schema version 7)", () => {
  it("two instances, both with records of alice: A's shred makes her records of both unreadable through the store, also B's later ones (cached key, new session) and those of a session whose files were removed; bob stays readable; B's own files still open B's", async () => {
    const schema = schemaFor("keysall");
    // a session of A's directory whose files are gone (cleanup) while the store keeps its records and key row
    const projectA = tmpProject();
    const old = instance("all_old", schema, PG_URL, {}, projectA);
    chat(old.logger, "alice", "alice, removed session");
    await old.logger.finalizeSession();
    const dirA = old.logger.auditDir;
    for (const f of fs.readdirSync(dirA).filter((f) => f.includes("all_old"))) fs.rmSync(path.join(dirA, f), { recursive: true });
    const manifests = path.join(dirA, "full_interactions");
    for (const f of fs.readdirSync(manifests).filter((f) => fs.readFileSync(path.join(manifests, f), "utf8").includes("all_old"))) fs.rmSync(path.join(manifests, f));

    const a = instance("all_a", schema, PG_URL, {}, projectA);
    const b = instance("all_b", schema);
    expect(b.projectPath).not.toBe(projectA);
    chat(a.logger, "alice", "alice on a");
    chat(a.logger, "bob", "bob on a");
    chat(b.logger, "alice", "alice on b");
    chat(b.logger, "bob", "bob on b");
    await a.logger.flush();
    await b.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    expect(await b.sink.whenStored(10_000)).toBe(true);
    expect((await readStore(schema)).open).toEqual(["alice on a", "alice on b", "alice, removed session", "bob on a", "bob on b"]);

    const destroyed = a.logger.shredSubject("alice", "erasure #2");
    expect(destroyed).toEqual([kidOfUser(a.logger.auditDir, "all_a", "alice")]); // the directory holds only A's key
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);

    // after the shred: B writes under the key it caches, a new session of B gets a new key, and A gives her a new key too
    chat(b.logger, "alice", "alice on b after");
    const b2 = instance("all_b2", schema, PG_URL, {}, b.projectPath);
    chat(b2.logger, "alice", "alice on b2");
    chat(b2.logger, "bob", "bob on b2");
    chat(a.logger, "alice", "alice on a after");
    for (const i of [a, b, b2]) await i.logger.finalizeSession();
    expect([...old.errors, ...a.errors, ...b.errors, ...b2.errors]).toEqual([]);

    // through the store: every record of alice is said shredded, bob's open
    const { open, closed } = await readStore(schema);
    expect(open).toEqual(["bob on a", "bob on b", "bob on b2"]);
    expect(closed).toHaveLength(6);
    for (const c of closed) expect(c).toMatch(/crypto-shredded/);
    // the key rows: alice's five (old, a, b, b2, a's new one) shredded by A's record, B2's inserted after it; bob's three whole
    const shredRecord = (await sql<{ seq: string; details: { keyIds: string[]; subjectTags: string[] } }>(
      `SELECT seq::text, record->'details' AS details FROM "${schema}".audit_records WHERE kind = 'audit_event' AND record->>'eventType' = 'subject_shredded'`,
    ))[0]!;
    expect(shredRecord.details.keyIds).toEqual(destroyed);
    expect(shredRecord.details.subjectTags).toHaveLength(1);
    expect(shredRecord.details.subjectTags[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(shredRecord.details)).not.toContain("alice");
    const rows = await keyRows(schema);
    expect(rows).toHaveLength(8);
    const aliceKids = [
      ["all_a", kidOfUser(a.logger.auditDir, "all_a", "alice", "last")],
      ["all_b", kidOfUser(b.logger.auditDir, "all_b", "alice")],
      ["all_b2", kidOfUser(b2.logger.auditDir, "all_b2", "alice")],
    ];
    expect(aliceKids[0]![1]).not.toBe(destroyed[0]); // A's new key
    for (const [sid, kid] of aliceKids) expect(rows.find((r) => r.kid === kid)).toMatchObject({ session_id: sid, line: null, shredded_by: `all_a audit_event #${shredRecord.seq}` });
    expect(rows.find((r) => r.kid === destroyed[0])).toMatchObject({ line: null });
    expect(rows.find((r) => r.session_id === "all_old")).toMatchObject({ line: null, shredded_by: `all_a audit_event #${shredRecord.seq}` });
    expect(rows.filter((r) => r.line !== null).map((r) => r.session_id).sort()).toEqual(["all_a", "all_b", "all_b2"]); // bob's
    expect((await sql<{ subject: string }>(`SELECT subject FROM "${schema}".audit_shredded_subjects`)).map((r) => r.subject)).toEqual(shredRecord.details.subjectTags);

    // the file side is as before: B's directory was not shredded, and opens B's records of alice
    const withB = new AuditViewer({ postgres: { connectionString: PG_URL, schema, contentDir: b.logger.auditDir }, encryptionKey: TEST_KEY });
    expect((await withB.getChatInteractions({ sessionId: "all_b" })).map((c) => c.promptPreview).sort()).toEqual(["alice on b", "alice on b after", "bob on b"]);
    // and the trails verify, in the store and in the directories
    for (const sid of ["all_old", "all_a", "all_b", "all_b2"]) expect((await verifyPostgres({ connectionString: PG_URL, schema, sessionId: sid })).problems).toEqual([]);
    for (const dir of [a.logger.auditDir, b.logger.auditDir]) expect((await verifyAuditLog(dir)).problems).toEqual([]);
  });

  it("a shred with a keyring covers each master key's tag: an instance still on the retired key is reached", async () => {
    const schema = schemaFor("keysring");
    const b = instance("ring_b", schema); // under TEST_KEY
    chat(b.logger, "alice", "alice under the old key");
    chat(b.logger, "bob", "bob under the old key");
    await b.logger.finalizeSession();
    const newer = Buffer.alloc(32, 9).toString("base64");
    const sink = new PostgresSink({ connectionString: PG_URL, schema, retryMinMs: 20, retryMaxMs: 100 });
    const a = new AuditLogger({ sessionId: "ring_a", projectPath: tmpProject(), encryptSensitiveContent: true, encryptionKey: [newer, TEST_KEY], sinks: [sink] });
    const errors: string[] = [];
    a.on("error", (e) => errors.push(e.message));
    chat(a, "carol", "carol under the new key");
    a.shredSubject("alice");
    await a.finalizeSession();
    expect(errors).toEqual([]);
    const tags = (await sql<{ t: string[] }>(`SELECT record->'details'->'subjectTags' AS t FROM "${schema}".audit_records WHERE record->>'eventType' = 'subject_shredded'`))[0]!.t;
    expect(tags).toHaveLength(2);
    const viewer = new AuditViewer({ postgres: { connectionString: PG_URL, schema }, encryptionKey: [newer, TEST_KEY] });
    const chats = await viewer.getChatInteractions();
    expect(chats.filter((c) => typeof c.promptPreview === "string").map((c) => c.promptPreview).sort()).toEqual(["bob under the old key", "carol under the new key"]);
    expect((await keyRows(schema)).find((r) => r.kid === kidOfUser(b.logger.auditDir, "ring_b", "alice"))!.line).toBeNull();
  });

  // (a shred and a key line of its subject stored at the same time: subject-keys-guard.test.ts)

  it("the subject tombstones cannot be made or removed but by a stored subject_shredded record", async () => {
    const schema = schemaFor("keystomb");
    const a = instance("tomb_a", schema);
    chat(a.logger, "alice", "alice asks");
    a.logger.shredSubject("alice");
    await a.logger.finalizeSession();
    const t = `"${schema}".audit_shredded_subjects`;
    const [row] = await sql<{ subject: string }>(`SELECT subject FROM ${t}`);
    await expect(sql(`DELETE FROM ${t}`)).rejects.toThrow(/append-only/);
    await expect(sql(`UPDATE ${t} SET subject = $1`, ["0".repeat(32)])).rejects.toThrow(/append-only/);
    await expect(sql(`TRUNCATE ${t}`)).rejects.toThrow(/append-only/);
    // a tombstone of another subject, without a record naming it (even pointing at the shred's record)
    const [rec] = await sql<{ seq: string }>(`SELECT seq::text FROM "${schema}".audit_records WHERE record->>'eventType' = 'subject_shredded'`);
    await expect(sql(`INSERT INTO ${t} (subject, session_id, seq) VALUES ($1, 'tomb_a', $2)`, ["f".repeat(32), rec!.seq])).rejects.toThrow(/shredded only by storing its subject_shredded record/);
    expect(await sql<{ subject: string }>(`SELECT subject FROM ${t}`)).toEqual([row]);
  });

  it("a store at version 6 made by the previous DDL is migrated to version 7: key rows stored before are shredded by subject, a subject_shredded record of version 6 (key ids only) still shreds its ids and verifies", async () => {
    const schema = schemaFor("keysv6");
    await storeAtVersion(schema, 6);
    const a = instance("v6_a", schema, PG_URL, { migrate: false });
    chat(a.logger, "alice", "alice asks");
    chat(a.logger, "bob", "bob asks");
    chat(a.logger, "carol", "carol asks");
    await a.logger.flush();
    expect(await a.sink.whenStored(10_000)).toBe(true);
    // a shred recorded as version 6's logger did: key ids only
    const carolKid = kidOfUser(a.logger.auditDir, "v6_a", "carol");
    (a.logger as unknown as { logAuditEvent(t: string, r: string, d: object): void }).logAuditEvent("subject_shredded", "old format", { keyIds: [carolKid] });
    await a.logger.finalizeSession();
    expect(a.errors).toEqual([]);
    expect((await keyRows(schema)).find((r) => r.kid === carolKid)!.line).toBeNull();

    expect(await migratePostgres({ connectionString: PG_URL, schema })).toMatchObject({ version: SCHEMA_VERSION, created: false });
    expect((await sql<{ v: number }>(`SELECT max(version) AS v FROM "${schema}".audit_schema_version`))[0]!.v).toBe(SCHEMA_VERSION);
    // another instance, which never saw alice, shreds her: the row stored before the migration is reached
    const c = instance("v6_c", schema, PG_URL, { migrate: false });
    expect(c.logger.shredSubject("alice")).toEqual([]);
    await c.logger.finalizeSession();
    expect(c.errors).toEqual([]);
    expect((await keyRows(schema)).find((r) => r.kid === kidOfUser(a.logger.auditDir, "v6_a", "alice"))!.line).toBeNull();
    expect((await readStore(schema)).open).toEqual(["bob asks"]);
    for (const sid of ["v6_a", "v6_c"]) expect((await verifyPostgres({ connectionString: PG_URL, schema, sessionId: sid })).problems).toEqual([]);
  });
});
