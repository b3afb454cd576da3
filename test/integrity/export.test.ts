/**
 * Export integrity: exportCompleteAuditToDirectory copies the checkpoints and audit_event chains
 * and writes a signed export_manifest.json; verifyExport checks an export (with or without
 * content) and catches edited, removed, added and re-signed files.
 */
import { execFileSync } from "node:child_process";
import { createHash, sign, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditExporter, AuditLogger, EXPORT_MANIFEST, verifyAuditLog, verifyExport, type ExportManifest, type VerifyReport } from "../../src/index.js";
import { toSigningKey } from "../../src/integrity/signing.js";
import { computeRecordHash } from "../../src/pipeline/chain.js";
import { cleanupTmp, TEST_KEY, tmpProject, walk } from "../helpers/index.js";
import { childArgs } from "../helpers/child-args.js";
import { buildLog, newSigner, noteKinds, problemKinds, type BuiltLog } from "../fixtures/integrity/tamper.js";

afterEach(cleanupTmp);

const DAY = 86_400_000;

function expectOnly(r: VerifyReport, kinds: string[]): void {
  expect(problemKinds(r), JSON.stringify(r.problems, null, 1)).toEqual([...kinds].sort());
  expect(r.ok).toBe(kinds.length === 0);
}

async function exportOf(log: BuiltLog, o: { includeFullContent: boolean; key?: boolean; signingKey?: KeyObject | string }): Promise<string> {
  const dir = path.join(tmpProject("audit-export-int-"), "export");
  const exporter = new AuditExporter({ auditPath: log.auditDir, ...(o.key ? { encryptionKey: TEST_KEY } : {}) });
  await exporter.exportCompleteAuditToDirectory(dir, { includeFullContent: o.includeFullContent, signingKey: o.signingKey ?? log.signer.privateKey });
  return dir;
}

function readManifest(dir: string): ExportManifest {
  return JSON.parse(fs.readFileSync(path.join(dir, EXPORT_MANIFEST), "utf8")) as ExportManifest;
}

/** What an attacker does after changing a file: new digests in the manifest, re-signed with `key` (or the signature stripped). */
function redigest(dir: string, key: KeyObject | undefined, claimKeyOf?: KeyObject, patch: (m: ExportManifest["manifest"]) => ExportManifest["manifest"] = (x) => x): void {
  const m = readManifest(dir);
  const files = m.manifest.files.map((f) => {
    const data = fs.readFileSync(path.join(dir, f.path));
    return { ...f, bytes: data.length, sha256: createHash("sha256").update(data).digest("hex") };
  });
  const keyId = key ? toSigningKey(claimKeyOf ?? key, "k").keyId : null;
  const body = patch({ ...m.manifest, files, keyId });
  const text = JSON.stringify(body);
  const out = { manifest: body, hash: createHash("sha256").update(text).digest("hex"), signature: key ? sign(null, Buffer.from(text), key).toString("base64") : null };
  fs.writeFileSync(path.join(dir, EXPORT_MANIFEST), JSON.stringify(out, null, 2));
}

describe("a directory export carries its own proof", () => {
  it("with content: copies checkpoints and audit_event chains, lists every file in a signed manifest, and verifies", async () => {
    const log = await buildLog({ encrypt: true, finalize: false });
    log.logger.placeLegalHold("all", "audit 2025");
    await log.logger.finalizeSession();
    const dir = await exportOf(log, { includeFullContent: true, key: true });
    const files = walk(dir).map((f) => path.relative(dir, f).split(path.sep).join("/")).sort();
    expect(files).toContain(`integrity/checkpoints_${log.sessionId}.jsonl`);
    expect(files).toContain(`integrity/audit_events_${log.sessionId}.jsonl`);
    expect(fs.readFileSync(path.join(dir, `integrity/checkpoints_${log.sessionId}.jsonl`))).toEqual(fs.readFileSync(path.join(log.auditDir, `checkpoints_${log.sessionId}.jsonl`)));
    const m = readManifest(dir);
    expect(m.manifest.files.map((f) => f.path).sort()).toEqual(files.filter((f) => f !== EXPORT_MANIFEST));
    expect(m.manifest.includeFullContent).toBe(true);
    expect(m.manifest.keyId).toBe(toSigningKey(log.signer.privateKey, "k").keyId);
    expect(m.signature).toEqual(expect.any(String));
    const session = m.manifest.sessions[0]!;
    expect(session.sessionId).toBe(log.sessionId);
    expect(session.heads.persona_activity).toMatchObject({ seq: 24 });
    expect(session.heads.audit_event).toMatchObject({ seq: 1 });
    expect(session.checkpoints?.count).toBeGreaterThan(3);

    const r = await verifyExport(dir, { publicKey: log.signer.publicKey });
    expectOnly(r, []);
    expect(r.notes).toEqual([]);
    expect(r.recordsChecked).toBe(24 + 20 + 1);
    // a session it does not hold is a problem, not "OK 0 records"
    const other = await verifyExport(dir, { publicKey: log.signer.publicKey, sessionId: "no_such_session" });
    expect(other.ok).toBe(false);
    expect(other.problems).toEqual([expect.objectContaining({ kind: "session_missing", detail: expect.stringMatching(/no_such_session[\s\S]*lists/) })]);
  });

  it("without content (and without the encryption key): verifies, with a content_withheld note; no content, no ciphertext in it", async () => {
    const log = await buildLog({ encrypt: true });
    const dir = await exportOf(log, { includeFullContent: false });
    const r = await verifyExport(dir, { publicKey: log.signer.publicKey });
    expectOnly(r, []);
    expect(noteKinds(r)).toEqual(["content_withheld"]);
    const all = walk(dir).map((f) => fs.readFileSync(f, "utf8")).join("\n");
    expect(all).not.toContain("acct-");
    expect(all).not.toContain("$enc");
  });

  it("from a live logger, the manifest is signed with the logger's own key; its unsigned tail shows as a note", async () => {
    const log = await buildLog({ finalize: false, personas: 23 });
    const dir = path.join(tmpProject("audit-export-live-"), "export");
    const res = await new AuditExporter(log.logger).exportCompleteAuditToDirectory(dir, { includeFullContent: true });
    expect(res.manifest.manifest.keyId).toBe(log.logger.config.signingKeyId);
    expect(res.files.at(-1)).toBe(EXPORT_MANIFEST);
    const r = await verifyExport(dir, { publicKey: log.signer.publicKey });
    expectOnly(r, []);
    expect(noteKinds(r)).toEqual(["unsigned_tail"]);
    await log.logger.finalizeSession();
  });

  it("an export of a log whose old segments were pruned by policy still verifies against the checkpoints", async () => {
    // (encrypted: see the note above "tampering with an export"; tool records left unpruned would take the checkpoints out)
    const log = await buildLog({ encrypt: true, finalize: false });
    expect((await log.logger.cleanup({ now: Date.now() + 100 * DAY })).prunedSegments.length).toBeGreaterThan(0);
    await log.logger.finalizeSession();
    const dir = await exportOf(log, { includeFullContent: false });
    const r = await verifyExport(dir, { publicKey: log.signer.publicKey });
    expectOnly(r, []);
    expect(noteKinds(r)).toEqual(["content_withheld", "pruned_by_policy"]);
  });

  // Found by review 2026-12-04 (fourth session): a logger resuming the session rebuilt its Merkle
  // trees from the records left, so the roots it signed covered only those, and a clean export
  // failed verification (checkpoint_mismatch).
  it("an export of a session resumed after a prune verifies: the resumed logger's checkpoints continue the pruned trees", async () => {
    // (encrypted: see the note above "tampering with an export"; tool records left unpruned would take the checkpoints out)
    const log = await buildLog({ encrypt: true, finalize: false });
    expect((await log.logger.cleanup({ now: Date.now() + 100 * DAY })).prunedSegments.length).toBeGreaterThan(0);
    await log.logger.finalizeSession();
    const again = new AuditLogger({ sessionId: log.sessionId, projectPath: log.projectPath, durability: "sync", rotation: { size: "2k" }, signingKey: log.signer.privateKey, checkpointEvery: { records: 10, seconds: 3600 }, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    for (let i = 0; i < 12; i++) again.logPersonaActivity({ personaName: "planner", activityType: "plan", description: `resumed step ${i} ${"x".repeat(80)}` });
    await again.finalizeSession();
    expectOnly(await verifyAuditLog(log.auditDir, { publicKey: log.signer.publicKey }), []);
    const dir = await exportOf(log, { includeFullContent: false });
    const r = await verifyExport(dir, { publicKey: log.signer.publicKey });
    expectOnly(r, []);
    expect(noteKinds(r)).toEqual(["content_withheld", "pruned_by_policy"]);
  });

  it("an export of a log whose records were deleted and excused by a forged retention record does not verify with the public key", async () => {
    const { forgePrune } = await import("../fixtures/integrity/tamper.js");
    // (encrypted: see the note above "tampering with an export")
    const log = await buildLog({ encrypt: true });
    forgePrune(log, "persona_activity", [1, 2]);
    const dir = await exportOf(log, { includeFullContent: false });
    const r = await verifyExport(dir, { publicKey: log.signer.publicKey });
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.kind)).toContain("seq_gap");
  });

  it("an export whose manifest was removed is reported as such by verifyAuditLog (it was OK with 0 sessions)", async () => {
    const log = await buildLog();
    const dir = await exportOf(log, { includeFullContent: false });
    fs.rmSync(path.join(dir, EXPORT_MANIFEST));
    const r = await verifyAuditLog(dir, { publicKey: log.signer.publicKey });
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.kind)).toEqual(["export_manifest_missing"]);
  });

  it("an export made with no signing key verifies as self-consistent only, and is refused as unsigned when a key is expected", async () => {
    // (encrypted: see the note above "tampering with an export")
    const log = await buildLog({ encrypt: true });
    const dir = path.join(tmpProject("audit-export-nokey-"), "export");
    await new AuditExporter({ auditPath: log.auditDir }).exportCompleteAuditToDirectory(dir);
    expect(readManifest(dir).signature).toBeNull();
    const r = await verifyExport(dir);
    expectOnly(r, []);
    expect(noteKinds(r)).toEqual(["content_withheld", "self_consistent_only"]);
    expectOnly(await verifyExport(dir, { publicKey: log.signer.publicKey }), ["export_manifest_unsigned"]);
  });
});

// The tests below export without content and rely on the copied checkpoints: their logs are
// encrypted, since an export without content of a log that is not encrypted carries neither the
// chain hashes nor the checkpoints of its sessions (test/export/withheld-hash.test.ts).
describe("tampering with an export", () => {
  it("editing any exported byte is caught (export_file_modified on that file)", async () => {
    const log = await buildLog({ encrypt: true, finalize: false });
    log.logger.placeLegalHold("all", "audit 2025");
    await log.logger.finalizeSession();
    const dir = await exportOf(log, { includeFullContent: false });
    const files = readManifest(dir).manifest.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(["audit_complete.json", "checksums.json", "tool_usage.csv", `integrity/checkpoints_${log.sessionId}.jsonl`, `integrity/audit_events_${log.sessionId}.jsonl`]));
    expect(files).toHaveLength(11);
    for (const rel of files) {
      const p = path.join(dir, rel);
      const original = fs.readFileSync(p);
      // a byte flipped mid-file (an empty file gets one byte)
      const changed = original.length === 0 ? Buffer.from("\n") : Buffer.from(original);
      const at = Math.floor(changed.length / 2);
      if (original.length > 0) changed[at] = changed[at]! ^ 0x01;
      fs.writeFileSync(p, changed);
      const r = await verifyExport(dir, { publicKey: log.signer.publicKey });
      expect(r.ok, rel).toBe(false);
      expect(r.problems.filter((x) => x.kind === "export_file_modified").map((x) => x.file), rel).toEqual([rel]);
      // (a byte flipped keeps the size: said so, not "differs from the size … (1281 bytes, expected 1281)"; CLI pass, 2026-12-06)
      const modified = r.problems.find((x) => x.kind === "export_file_modified")!.detail;
      if (original.length > 0) expect(modified, rel).toContain(`has the size the manifest gives (${original.length} bytes) but not its SHA-256`);
      else expect(modified, rel).toContain("is 1 bytes where the manifest gives 0");
      if (rel.endsWith(".csv") || rel === "analytics_report.json" || rel === "checksums.json") expectOnly(r, ["export_file_modified"]);
      fs.writeFileSync(p, original);
    }
    expectOnly(await verifyExport(dir, { publicKey: log.signer.publicKey }), []);
  });

  it("removing a file is caught (export_file_missing); adding one too (export_file_unlisted)", async () => {
    const log = await buildLog();
    const dir = await exportOf(log, { includeFullContent: true });
    fs.rmSync(path.join(dir, "tool_usage.csv"));
    fs.writeFileSync(path.join(dir, "integrity", "extra.jsonl"), "{}\n");
    const r = await verifyExport(dir, { publicKey: log.signer.publicKey });
    expectOnly(r, ["export_file_missing", "export_file_unlisted"]);
    expect(r.problems.map((p) => p.file).sort()).toEqual(["integrity/extra.jsonl", "tool_usage.csv"]);
  });

  it("a session file dropped into an edited export does not turn verifyAuditLog into a check of logs: the export is still verified, and the mix is a problem (it passed as OK)", async () => {
    const log = await buildLog();
    const dir = await exportOf(log, { includeFullContent: false });
    const file = path.join(dir, "audit_complete.json");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/"seq":3,/, '"seq":3, "forged": true,'));
    fs.writeFileSync(path.join(dir, "session_x.json"), "{}");
    const r = await verifyAuditLog(dir, { publicKey: log.signer.publicKey });
    expect(r.ok).toBe(false);
    expect(problemKinds(r)).toEqual(expect.arrayContaining(["export_and_logs_mixed", "export_file_modified"]));
  });

  it("a FIFO or a symbolic link in an export is reported and nothing is read (a FIFO hung the verifier for good)", async () => {
    const { execFileSync } = await import("node:child_process");
    const log = await buildLog();
    const dir = await exportOf(log, { includeFullContent: false });
    fs.rmSync(path.join(dir, "analytics_report.json"));
    execFileSync("mkfifo", [path.join(dir, "analytics_report.json")]);
    const outside = path.join(tmpProject(), "elsewhere.csv");
    fs.copyFileSync(path.join(dir, "tool_usage.csv"), outside);
    fs.rmSync(path.join(dir, "tool_usage.csv"));
    fs.symlinkSync(outside, path.join(dir, "tool_usage.csv"));
    const r = await verifyExport(dir, { publicKey: log.signer.publicKey });
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => [p.kind, p.file]).sort()).toEqual([
      ["export_file_not_regular", "analytics_report.json"],
      ["export_file_not_regular", "tool_usage.csv"],
    ]);
  }, 20_000);

  it("removing the copied checkpoints is caught even when the manifest is re-digested: export_manifest_signature_invalid, checkpoint_missing", async () => {
    const log = await buildLog({ encrypt: true });
    const dir = await exportOf(log, { includeFullContent: false });
    fs.rmSync(path.join(dir, "integrity", `checkpoints_${log.sessionId}.jsonl`));
    const m = readManifest(dir);
    const body = { ...m.manifest, files: m.manifest.files.filter((f) => !f.path.includes("checkpoints_")) };
    fs.writeFileSync(path.join(dir, EXPORT_MANIFEST), JSON.stringify({ ...m, manifest: body, hash: createHash("sha256").update(JSON.stringify(body)).digest("hex") }));
    expectOnly(await verifyExport(dir, { publicKey: log.signer.publicKey }), ["checkpoint_missing", "export_manifest_signature_invalid"]);
  });

  it("re-signing the manifest with another key is caught (export_manifest_unknown_key; with the real key id: export_manifest_signature_invalid)", async () => {
    const log = await buildLog({ encrypt: true });
    const dir = await exportOf(log, { includeFullContent: false });
    const attacker = newSigner();
    redigest(dir, attacker.privateKey);
    expectOnly(await verifyExport(dir, { publicKey: log.signer.publicKey }), ["export_manifest_unknown_key"]);
    // whoever trusts the attacker's key instead still sees the checkpoints were signed by someone else
    expectOnly(await verifyExport(dir, { publicKey: attacker.publicKey }), ["checkpoint_unknown_key"]);
    redigest(dir, attacker.privateKey, log.signer.privateKey);
    expectOnly(await verifyExport(dir, { publicKey: log.signer.publicKey }), ["export_manifest_signature_invalid"]);
  });

  it("a record edited in audit_complete.json with the manifest re-digested: record_modified even with no key; with the key, the signature fails too", async () => {
    const log = await buildLog();
    const dir = await exportOf(log, { includeFullContent: false });
    const file = path.join(dir, "audit_complete.json");
    const text = fs.readFileSync(file, "utf8");
    expect(text).toContain('"description":"step number 7"');
    fs.writeFileSync(file, text.replace('"description":"step number 7"', '"description":"step number 8"'));
    redigest(dir, undefined);
    expectOnly(await verifyExport(dir), ["record_modified"]);
    expectOnly(await verifyExport(dir, { publicKey: log.signer.publicKey }), ["export_manifest_unsigned", "record_modified"]);
  });

  it("records rewritten consistently (hashes recomputed) and the manifest re-signed by the attacker: caught by the copied checkpoints", async () => {
    const log = await buildLog({ encrypt: true });
    const dir = await exportOf(log, { includeFullContent: false });
    const file = path.join(dir, "audit_complete.json");
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { records: Record<string, Array<Record<string, unknown>>> };
    let prev = "0".repeat(64);
    for (const rec of doc.records.persona_activities!) {
      if (rec.seq === 7) rec.description = "approved by mallory";
      rec.prevHash = prev;
      rec.hash = computeRecordHash(prev, rec);
      prev = rec.hash as string;
    }
    fs.writeFileSync(file, JSON.stringify(doc));
    const attacker = newSigner();
    redigest(dir, attacker.privateKey, undefined, (m) => ({
      ...m,
      sessions: m.sessions.map((s) => ({ ...s, heads: { ...s.heads, persona_activity: { seq: 24, hash: prev } } })),
    }));
    const r = await verifyExport(dir, { publicKey: log.signer.publicKey });
    expectOnly(r, ["checkpoint_mismatch", "export_manifest_unknown_key"]);
  });

  it("a missing or unreadable manifest is reported, not thrown", async () => {
    const log = await buildLog();
    const dir = await exportOf(log, { includeFullContent: false });
    fs.writeFileSync(path.join(dir, EXPORT_MANIFEST), '{"manifest":{}}');
    expectOnly(await verifyExport(dir), ["export_manifest_malformed"]);
    fs.rmSync(path.join(dir, EXPORT_MANIFEST));
    expectOnly(await verifyExport(dir), ["export_manifest_missing"]);
  });

  it("rejects a bad signingKey option with AuditConfigError naming the field", async () => {
    const log = await buildLog();
    const exporter = new AuditExporter({ auditPath: log.auditDir });
    await expect(exporter.exportCompleteAuditToDirectory(path.join(tmpProject(), "x"), { signingKey: 42 as unknown as string })).rejects.toMatchObject({ code: "AUDIT_ERR_CONFIG", message: expect.stringMatching(/signingKey/) });
  });
});

// The manifest's temporary file was named by the pid alone: two exports writing one directory's
// manifest at once from two threads of a process wrote the same file, one's rename took the
// other's bytes and the other failed (ENOENT). Found by the durability operator pass, 2026-12-05.
describe("two threads of one process writing one export directory's manifest at once", () => {
  it("every write succeeds, the manifest left is one of them whole (its hash holds), and no temporary file is left", () => {
    const dir = tmpProject("manifest-race-");
    const fixture = path.join(path.dirname(new URL(import.meta.url).pathname), "../fixtures/integrity/manifest-race-child.mts");
    const out = JSON.parse(execFileSync(process.execPath, [...childArgs(fixture), dir], { encoding: "utf8", timeout: 120_000 })) as { threw: string[]; files: string[]; manifest: string };
    expect(out.threw).toEqual([]);
    expect(out.files).toEqual(["a.txt", EXPORT_MANIFEST]);
    const m = JSON.parse(out.manifest) as ExportManifest;
    expect(createHash("sha256").update(JSON.stringify(m.manifest)).digest("hex")).toBe(m.hash);
    expect(m.manifest.source).toMatch(/^worker [12] round 299$/);
  }, 120_000);
});
