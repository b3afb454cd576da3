/**
 * exportToJson's `proofs` and verifyExportProofs, through the library: a log whose first segments
 * retention removed (the trees continue from the prune's frontier), an export with content
 * decrypted, and the options each refuses.
 */
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditConfigError, AuditExporter, AuditLogger, auditContext, verifyExportProofs, type ExportProofReport } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { buildLog } from "../fixtures/integrity/tamper.js";
import { duplicateMembers, jsonPathText, numberReadsExactly, oddMembers } from "../../src/integrity/json-members.js";

afterEach(cleanupTmp);

const DAY = 86_400_000;

function statuses(r: ExportProofReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of r.records) out[x.status] = (out[x.status] ?? 0) + 1;
  return out;
}

describe("exportToJson({ proofs: true }) and verifyExportProofs", () => {
  it("a log whose oldest segments were pruned by policy: every record left is proven (the chains' trees continue from the prunes' frontiers)", async () => {
    const log = await buildLog({ encrypt: true, finalize: false });
    const pruned = (await log.logger.cleanup({ now: Date.now() + 100 * DAY })).prunedSegments;
    expect(pruned.length).toBeGreaterThan(0);
    await log.logger.finalizeSession();
    const file = path.join(tmpProject("audit-proofs-lib-"), "all.json");
    await new AuditExporter({ auditPath: log.auditDir }).exportToJson(file, { proofs: true });
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { records: Record<string, Array<{ seq: number }>>; proofs: { checkpoints: Array<{ checkpoint: { n: number } }>; history?: Array<{ older: { checkpoint: { n: number } } }> } };
    // (the export starts after the pruned records: seq 1 is gone from at least one chain)
    expect(Object.values(doc.records).some((list) => list.length > 0 && list[0]!.seq > 1)).toBe(true);
    // the older checkpoints back from the newest, as far as the records left can prove them
    // consistent (an older tree needs nodes of the pruned records), each one after the other
    const ns = (doc.proofs.history ?? []).map((h) => h.older.checkpoint.n);
    const newest = doc.proofs.checkpoints[0]!.checkpoint.n;
    expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => newest - ns.length + i));
    const r = await verifyExportProofs(file, { publicKey: log.signer.publicKey });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(statuses(r)).toEqual({ proven: Object.values(doc.records).flat().length });
  });

  it("with content decrypted by the key: proven, and the decrypted members named as unchecked (their ciphertext is what was signed)", async () => {
    const log = await buildLog({ encrypt: true, tools: 4, personas: 4 });
    const file = path.join(tmpProject("audit-proofs-lib-"), "bob.json");
    await new AuditExporter({ auditPath: log.auditDir, encryptionKey: TEST_KEY }).exportToJson(file, { proofs: true, includeFullContent: true, userId: "bob" });
    const text = fs.readFileSync(file, "utf8");
    expect(text).toContain('"memo":"mmmm'); // (decrypted into the export)
    const r = await verifyExportProofs(file, { publicKey: log.signer.publicKey });
    expect(r.problems).toEqual([]);
    expect(statuses(r)).toEqual({ proven: 4 });
    expect(r.records.filter((x) => x.type === "tool_usage").map((x) => x.unchecked)).toEqual([
      ["parameters", "result"],
      ["parameters", "result"],
    ]);
  });

  it("two signed sessions in one directory: each record proven against its own session's checkpoint, both carried", async () => {
    const first = await buildLog({ sessionId: "first", personas: 6, tools: 4, encrypt: true });
    const second = new AuditLogger({ sessionId: "second", projectPath: first.projectPath, durability: "sync", signingKey: first.signer.privateKey, checkpointEvery: { records: 3, seconds: 3600 }, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    for (let i = 0; i < 4; i++) auditContext.run({ userId: "alice" }, () => second.logPersonaActivity({ personaName: "p", activityType: "plan", description: `second ${i}` }));
    await second.finalizeSession();
    const file = path.join(tmpProject("audit-proofs-lib-"), "alice.json");
    await new AuditExporter({ auditPath: first.auditDir }).exportToJson(file, { proofs: true, userId: "alice" });
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { proofs: { checkpoints: Array<{ checkpoint: { sessionId: string } }> } };
    expect(doc.proofs.checkpoints.map((c) => c.checkpoint.sessionId).sort()).toEqual(["first", "second"]);
    const r = await verifyExportProofs(file, { publicKey: first.signer.publicKey });
    expect(r.problems).toEqual([]);
    expect([...r.sessions].sort()).toEqual(["first", "second"]);
    expect(statuses(r)).toEqual({ proven: 3 + 2 + 4 });
  });

  it("without content, a session resumed with other settings: withheld if any run logged content in clear, before its newest checkpoint or after it; an encrypted one beside them proven", async () => {
    const signer = generateKeyPairSync("ed25519");
    const projectPath = tmpProject("audit-proofs-lib-");
    const run = async (sessionId: string, encrypt: boolean, sign: boolean, note: string) => {
      const logger = new AuditLogger({
        sessionId,
        projectPath,
        durability: "sync",
        checkpointEvery: { records: 2, seconds: 3600 },
        ...(sign ? { signingKey: signer.privateKey } : {}),
        ...(encrypt ? { encryptSensitiveContent: true, encryptionKey: TEST_KEY } : {}),
      });
      // (the first without content: a run's first record past the checkpoint withholds nothing)
      for (let i = 0; i < 3; i++) auditContext.run({ userId: "alice" }, () => logger.logToolUsage({ toolName: "t", operation: "op", ...(i > 0 ? { parameters: { pin: `${note}-${i}` } } : {}) }));
      await logger.finalizeSession();
      return logger.auditDir;
    };
    // clear first (unsigned), then encrypted and signed: the clear records are under the checkpoint
    await run("clear-then-enc", false, false, "c1");
    await run("clear-then-enc", true, true, "e1");
    // encrypted and signed, then in clear unsigned: the clear records are past the newest checkpoint
    await run("enc-then-clear", true, true, "e2");
    await run("enc-then-clear", false, false, "c2");
    const auditDir = await run("enc", true, true, "e3");
    const file = path.join(projectPath, "all.json");
    await new AuditExporter({ auditPath: auditDir }).exportToJson(file, { proofs: true });
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { proofs: { checkpoints: Array<{ checkpoint: { sessionId: string } }> }; records: Record<string, Array<{ sessionId: string; seq: number; proof: { status: string } }>> };
    expect(doc.proofs.checkpoints.map((c) => c.checkpoint.sessionId)).toEqual(["enc"]);
    const tools = doc.records.tool_usage!;
    expect(tools.filter((r) => r.sessionId !== "enc").map((r) => `${r.sessionId} ${r.seq} ${r.proof.status}`)).toEqual([
      ...[1, 2, 3, 4, 5, 6].map((seq) => `clear-then-enc ${seq} withheld`),
      ...[1, 2, 3, 4, 5, 6].map((seq) => `enc-then-clear ${seq} withheld`),
    ]);
    expect(tools.filter((r) => r.sessionId === "enc").map((r) => r.proof.status)).toEqual(["covered", "covered", "covered"]);
    const r = await verifyExportProofs(file, { publicKey: signer.publicKey });
    expect(r.problems).toEqual([]);
    expect(statuses(r)).toEqual({ proven: Object.values(doc.records).flat().filter((x) => x.sessionId === "enc").length, withheld: Object.values(doc.records).flat().filter((x) => x.sessionId !== "enc").length });
  });

  it("a session that signs nothing: every record uncovered, each named in a note (not a silent pass); with requireSigned, not_signed", async () => {
    const signed = await buildLog({ personas: 2, tools: 0 });
    const project = tmpProject("audit-proofs-lib-");
    const logger = new AuditLogger({ sessionId: "unsigned", projectPath: project, durability: "sync" });
    auditContext.run({ userId: "alice" }, () => logger.logPersonaActivity({ personaName: "p", activityType: "plan", description: "unsigned step" }));
    await logger.finalizeSession();
    const file = path.join(project, "alice.json");
    await new AuditExporter({ auditPath: logger.auditDir }).exportToJson(file, { proofs: true, userId: "alice" });
    const r = await verifyExportProofs(file, { publicKey: signed.signer.publicKey });
    expect(r.ok).toBe(true);
    expect(r.status).toBe("unproven");
    expect(r.unprovenSessions).toEqual(["unsigned"]);
    expect(r.records.map((x) => x.status)).toEqual(["uncovered"]);
    const notes = r.notes.filter((n) => n.kind === "record_uncovered");
    expect(notes).toHaveLength(1);
    expect(notes[0]!.detail).toContain("session unsigned has no signed checkpoint");
    const strict = await verifyExportProofs(file, { publicKey: signed.signer.publicKey, requireSigned: true });
    expect(strict.ok).toBe(false);
    expect(strict.problems.map((p) => p.kind)).toEqual(["not_signed"]);
    expect(strict.status).toBe("failed");
  });

  it("refuses bad options with AuditConfigError naming the field, before reading or writing anything", async () => {
    const dir = tmpProject("audit-proofs-lib-");
    fs.mkdirSync(path.join(dir, "audit_logs"));
    const exporter = new AuditExporter({ auditPath: path.join(dir, "audit_logs") });
    await expect(verifyExportProofs(path.join(dir, "x.json"), {} as never)).rejects.toThrow(/verifyExportProofs\.publicKey/);
    await expect(verifyExportProofs(path.join(dir, "x.json"), { publickey: "k" } as never)).rejects.toBeInstanceOf(AuditConfigError);
    await expect(exporter.exportToolUsagesToCsv(path.join(dir, "t.csv"), { proofs: true })).rejects.toThrow(/exportToolUsagesToCsv\.proofs/);
    await expect(exporter.exportToJson(path.join(dir, "t.json"), { proofs: "yes" } as never)).rejects.toThrow(/exportToJson\.proofs/);
    await expect(exporter.exportCompleteAuditToDirectory(path.join(dir, "out"), { proofs: true } as never)).rejects.toBeInstanceOf(AuditConfigError);
    const overStore = new AuditExporter({ postgres: { connectionString: "postgres://postgres@127.0.0.1:5432/test" } });
    await expect(overStore.exportToJson(path.join(dir, "pg.json"), { proofs: true })).rejects.toThrow(/exportToJson\.proofs: needs an audit directory/);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".json") || f.endsWith(".csv"))).toEqual([]);
  });
});

describe("duplicateMembers", () => {
  it("names each member given twice in an object, by its place: a name spelt with escapes is the same member; strings holding JSON and arrays' repeats are no members", () => {
    const text = JSON.stringify({ s: '{"x":1,"x":2}', list: [{ b: 1 }, { b: 2 }] }).replace('{"b":2}', '{"b":2,"\\u0062":3}').replace(/}$/, ',"s":"again"}');
    expect(JSON.parse(text)).toEqual({ s: "again", list: [{ b: 1 }, { b: 3 }] });
    expect(duplicateMembers(text).map(jsonPathText)).toEqual(["list[1].b", "s"]);
    expect(duplicateMembers(JSON.stringify({ a: { a: { a: 1 } }, b: [[{ a: 1, b: 2 }]] }))).toEqual([]);
  });
});

describe("oddMembers: numbers JSON.parse reads otherwise than written", () => {
  it("names each number whose exact decimal value is not the double JSON.parse reads (what the logger writes); other spellings of that double pass; digits inside strings are no numbers", () => {
    for (const l of ["9007199254740992", "0", "-0", "1e0", "1.50", "0.1", "1e+21", "1e21", "-1.5e-7", "5e-324", "1.7976931348623157e308"]) expect(numberReadsExactly(l), l).toBe(true);
    for (const l of ["9007199254740993", "-9007199254740993", "0.10000000000000000001", "123456789012345678901234567890", "1e400", "1e-400", "1.23456789012345678e2"]) expect(numberReadsExactly(l), l).toBe(false);
    const text = '{"a":9007199254740993,"s":"9007199254740993","b":[1e0,{"c":-12345678901234567890}],"a":2}';
    expect(oddMembers(text).inexact.map(jsonPathText)).toEqual(["a", "b[1].c"]);
    expect(oddMembers(text).twice.map(jsonPathText)).toEqual(["a"]);
  });
});
