/**
 * The tamper suite: a real signed log (rotation, checkpoints, encryption on some tests), changed
 * the way an attacker with write access to the audit directory would change it, must be reported
 * by verifyAuditLog (with the trusted public key) with the right kinds of problem — and benign
 * findings (a torn final line, an unsigned tail, a shredded key, a pruned segment) only as notes.
 */
import { createPrivateKey } from "node:crypto";
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { AuditExporter, AuditLogger, AuditViewer, auditContext, verifyAuditLog, verifyExport, type VerifyReport } from "../../src/index.js";
import type { Checkpoint } from "../../src/integrity/checkpoint.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import {
  activeFile,
  buildLog,
  chainFiles,
  checkpointsFile,
  editLines,
  forgePrune,
  forgeShred,
  hashOf,
  newSigner,
  noteKinds,
  problemKinds,
  readLines,
  rebuildCheckpoints,
  rechain,
  reseal,
  segmentFile,
  writeLines,
  type BuiltLog,
} from "../fixtures/integrity/tamper.js";

afterEach(cleanupTmp);

const verify = (log: BuiltLog, extra: { trustedCheckpoints?: readonly Checkpoint[] } = {}) => verifyAuditLog(log.auditDir, { publicKey: log.signer.publicKey, ...extra });

/** All persona lines in chain order, with the file each sits in. */
function personaLines(log: BuiltLog): Array<{ file: string; index: number; line: string }> {
  return chainFiles(log.auditDir, "persona_activity", log.sessionId).flatMap((file) => readLines(file).map((line, index) => ({ file, index, line })));
}

/** The persona record with this seq: its file and index in it. */
function persona(log: BuiltLog, seq: number): { file: string; index: number; line: string } {
  const hit = personaLines(log).find((x) => (JSON.parse(x.line) as { seq: number }).seq === seq);
  if (!hit) throw new Error(`no persona seq ${seq}`);
  return hit;
}

function expectOnly(r: VerifyReport, kinds: string[]): void {
  expect(problemKinds(r), JSON.stringify(r.problems, null, 1)).toEqual([...kinds].sort());
  expect(r.ok).toBe(kinds.length === 0);
}

describe("an untouched log", () => {
  it("verifies with the trusted key: no problems, no notes", async () => {
    const log = await buildLog();
    const r = await verify(log);
    expect(r.problems).toEqual([]);
    expect(r.notes).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.recordsChecked).toBe(44);
    // every kind of test below starts from a log with rotated segments and several checkpoints
    expect(chainFiles(log.auditDir, "persona_activity", log.sessionId).length).toBeGreaterThan(2);
    expect(readLines(checkpointsFile(log)).length).toBeGreaterThan(3);
  });
});

describe("edited records", () => {
  it("one byte flipped → record_modified (only)", async () => {
    const log = await buildLog();
    const { file, index, line } = persona(log, 7);
    const at = line.indexOf("step number") + 2;
    const bytes = Buffer.from(line, "utf8");
    bytes[at] = bytes[at]! ^ 0x01;
    editLines(file, (ls) => ls.map((l, i) => (i === index ? bytes.toString("utf8") : l)));
    const r = await verify(log);
    expectOnly(r, ["record_modified"]);
    expect(r.problems[0]).toMatchObject({ seq: 7, file: file.split("/").pop() });
  });

  it("an export manifest dropped into the audit directory does not turn verification into an export's: the chains are still walked (it passed as \"OK 0 records\")", async () => {
    const log = await buildLog();
    const { file, index } = persona(log, 6);
    editLines(file, (ls) => ls.map((l, i) => (i === index ? l.replace('"approvedBy":"carol"', '"approvedBy":"mallory"') : l)));
    fs.writeFileSync(`${log.auditDir}/export_manifest.json`, JSON.stringify({ manifest: { format: "audit-logger-export-manifest/v1", sessions: [], files: [] }, hash: "0", signature: null }));
    fs.writeFileSync(`${log.auditDir}/audit_complete.json`, "{}");
    for (const r of [await verify(log), await verifyAuditLog(log.auditDir)]) {
      expect(problemKinds(r)).toContain("record_modified");
      expect(r.ok).toBe(false);
      expect(r.sessions).toEqual([log.sessionId]);
      expect(problemKinds(r)).toContain("export_and_logs_mixed");
    }
  });

  it("a session named to verify that has no files is a problem, not an empty success", async () => {
    const log = await buildLog();
    const r = await verifyAuditLog(log.auditDir, { sessionId: "no_such_session" });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.objectContaining({ kind: "session_missing", detail: expect.stringMatching(/no_such_session/) })]);
  });

  it("a metadata field edited and that record's hash recomputed → chain_broken at the next record, checkpoint_mismatch", async () => {
    const log = await buildLog();
    const { file, index, line } = persona(log, 6);
    const rec = JSON.parse(line) as { prevHash: string };
    const forged = reseal(line, rec.prevHash, (r) => {
      (r.metadata as Record<string, unknown>).approvedBy = "mallory";
    });
    editLines(file, (ls) => ls.map((l, i) => (i === index ? forged.line : l)));
    const r = await verify(log);
    expectOnly(r, ["chain_broken", "checkpoint_mismatch"]);
    expect(r.problems.find((p) => p.kind === "chain_broken")?.seq).toBe(7);
  });

  it("the whole chain recomputed after an edit → only the signed checkpoints catch it (checkpoint_mismatch); without a key it passes as self-consistent only", async () => {
    const log = await buildLog();
    const { file, index } = persona(log, 6);
    editLines(file, (ls) => ls.map((l, i) => (i === index ? l.replace('"approvedBy":"carol"', '"approvedBy":"mallory"') : l)));
    rechain(log.auditDir, "persona_activity", log.sessionId);
    // (and the finalized session file names another last record: record_modified, since 2026-12-05)
    expectOnly(await verify(log), ["checkpoint_mismatch", "record_modified"]);
    // without the trusted key the verifier says it could not tell
    const unkeyed = await verifyAuditLog(log.auditDir);
    expect(noteKinds(unkeyed)).toContain("self_consistent_only");
  });

  it("chain recomputed and every checkpoint rebuilt and re-signed with the attacker's key → checkpoint_unknown_key", async () => {
    const log = await buildLog();
    const { file, index } = persona(log, 6);
    editLines(file, (ls) => ls.map((l, i) => (i === index ? l.replace('"approvedBy":"carol"', '"approvedBy":"mallory"') : l)));
    rechain(log.auditDir, "persona_activity", log.sessionId);
    rebuildCheckpoints(log, newSigner().privateKey);
    // (record_modified: the finalized session file names another last record, since 2026-12-05)
    expectOnly(await verify(log), ["checkpoint_unknown_key", "record_modified"]);
    // the same forgery claiming the real key id → checkpoint_signature_invalid
    rebuildCheckpoints(log, newSigner().privateKey, { keyIdOf: log.signer.privateKey });
    expectOnly(await verify(log), ["checkpoint_signature_invalid", "record_modified"]);
    // and, to show the checks can pass: a rebuild with the real key is accepted (the key is the
    // trust anchor), once the session file, outside the chains, names the new last record too
    rebuildCheckpoints(log, log.signer.privateKey);
    const sessionFile = `${log.auditDir}/session_${log.sessionId}.json`;
    const info = JSON.parse(fs.readFileSync(sessionFile, "utf8")) as { heads: Record<string, { seq: number; hash: string }> };
    info.heads.persona_activity!.hash = JSON.parse(readLines(chainFiles(log.auditDir, "persona_activity", log.sessionId).at(-1)!).at(-1)!).hash as string;
    fs.writeFileSync(sessionFile, JSON.stringify(info));
    expectOnly(await verify(log), []);
  });
});

describe("deleted, reordered, duplicated and inserted records", () => {
  for (const [where, seq] of [
    ["the first", 1],
    ["a middle", 9],
  ] as const) {
    it(`${where} record deleted → seq_gap, chain_broken, checkpoint_mismatch`, async () => {
      const log = await buildLog();
      const { file, index } = persona(log, seq);
      editLines(file, (ls) => ls.filter((_, i) => i !== index));
      const r = await verify(log);
      expectOnly(r, ["chain_broken", "checkpoint_mismatch", "seq_gap"]);
      expect(r.problems.find((p) => p.kind === "seq_gap")?.seq).toBe(seq + 1);
    });
  }

  it("the last record deleted when a checkpoint covers it → truncated", async () => {
    const log = await buildLog();
    editLines(activeFile(log, "persona_activity"), (ls) => ls.slice(0, -1));
    const r = await verify(log);
    expectOnly(r, ["truncated"]);
    expect(r.problems[0]!.seq).toBe(24);
  });

  it("the last record deleted after the last checkpoint → still ok; only the unsigned_tail note changes", async () => {
    // 23 + 20 records, a checkpoint every 10: the last few are not yet signed
    const log = await buildLog({ finalize: false, personas: 23, checkpointEveryRecords: 10 });
    const before = await verify(log);
    expect(before.ok).toBe(true);
    const tailBefore = before.notes.filter((n) => n.kind === "unsigned_tail");
    expect(tailBefore).toHaveLength(1);
    const last = readLines(activeFile(log, "persona_activity")).at(-1)!;
    const lastSeq = (JSON.parse(last) as { seq: number }).seq;
    expect(tailBefore[0]!.detail).toContain(`..${lastSeq}`);
    editLines(activeFile(log, "persona_activity"), (ls) => ls.slice(0, -1));
    const after = await verify(log);
    expect(after.ok).toBe(true);
    expect(after.problems).toEqual([]);
    expect(after.notes.filter((n) => n.kind !== "unsigned_tail")).toEqual(before.notes.filter((n) => n.kind !== "unsigned_tail"));
    const tailAfter = after.notes.filter((n) => n.kind === "unsigned_tail");
    expect(tailAfter).toHaveLength(1);
    expect(tailAfter[0]!.detail).not.toBe(tailBefore[0]!.detail);
    expect(tailAfter[0]!.detail).toContain(`..${lastSeq - 1}`);
    await log.logger.finalizeSession();
  });

  it("two records swapped → seq_gap, seq_out_of_order, chain_broken, checkpoint_mismatch", async () => {
    const log = await buildLog();
    const a = persona(log, 6);
    const b = persona(log, 7);
    expect(a.file).toBe(b.file);
    editLines(a.file, (ls) => ls.map((l, i) => (i === a.index ? b.line : i === b.index ? a.line : l)));
    expectOnly(await verify(log), ["chain_broken", "checkpoint_mismatch", "seq_gap", "seq_out_of_order"]);
  });

  it("a record duplicated → seq_duplicate, chain_broken, checkpoint_mismatch", async () => {
    const log = await buildLog();
    const { file, index } = persona(log, 6);
    editLines(file, (ls) => [...ls.slice(0, index + 1), ls[index]!, ...ls.slice(index + 1)]);
    const r = await verify(log);
    expectOnly(r, ["chain_broken", "checkpoint_mismatch", "seq_duplicate"]);
    expect(r.problems.find((p) => p.kind === "seq_duplicate")?.seq).toBe(6);
  });

  it("a forged record inserted (correctly sealed onto the record before it) → seq_duplicate, chain_broken, checkpoint_mismatch", async () => {
    const log = await buildLog();
    const { file, index, line } = persona(log, 6);
    const forged = reseal(line, hashOf(line), (r) => {
      r.id = "forged0000000000000000";
      r.seq = 7;
      r.description = "approved the transfer";
    });
    editLines(file, (ls) => [...ls.slice(0, index + 1), forged.line, ...ls.slice(index + 1)]);
    const r = await verify(log);
    expectOnly(r, ["chain_broken", "checkpoint_mismatch", "seq_duplicate"]);
  });
});

describe("segments", () => {
  it("a middle segment deleted → segment_missing (and the chain and checkpoints break there)", async () => {
    const log = await buildLog();
    fs.rmSync(segmentFile(log, "persona_activity", 2));
    expectOnly(await verify(log), ["chain_broken", "checkpoint_mismatch", "segment_missing", "seq_gap"]);
  });

  it("a middle segment renamed out of the way → segment_missing", async () => {
    const log = await buildLog();
    const seg = segmentFile(log, "tool_usage", 3);
    fs.renameSync(seg, seg.replace(/\.3\.jsonl$/, ".3.jsonl.old"));
    expectOnly(await verify(log), ["chain_broken", "checkpoint_mismatch", "segment_missing", "seq_gap"]);
  });

  it("two segments swapped by renaming → chain_broken, seq_gap, seq_out_of_order, checkpoint_mismatch", async () => {
    const log = await buildLog();
    const s2 = segmentFile(log, "tool_usage", 2);
    const s3 = segmentFile(log, "tool_usage", 3);
    fs.renameSync(s2, s2 + ".tmp");
    fs.renameSync(s3, s2);
    fs.renameSync(s2 + ".tmp", s3);
    expectOnly(await verify(log), ["chain_broken", "checkpoint_mismatch", "seq_gap", "seq_out_of_order"]);
  });

  it("the oldest segment deleted with no retention record → pruned_without_record", async () => {
    const log = await buildLog();
    fs.rmSync(segmentFile(log, "tool_usage", 1));
    expectOnly(await verify(log), ["chain_broken", "checkpoint_mismatch", "pruned_without_record", "seq_gap"]);
  });

  it("a truncation behind a checkpoint (the newest file cut short, mid-line) → truncated, and the cut line shows as torn", async () => {
    const log = await buildLog();
    const file = activeFile(log, "persona_activity");
    const lines = readLines(file);
    expect(lines.length).toBeGreaterThan(1);
    fs.truncateSync(file, fs.statSync(file).size - lines.at(-1)!.length);
    const r = await verify(log);
    expectOnly(r, ["truncated"]);
    expect(r.problems[0]).toMatchObject({ seq: 24 });
    expect(noteKinds(r)).toEqual(["torn_final_line"]);
  });

  it("a truncation across files (the newest file emptied, the last segment deleted) → truncated", async () => {
    const log = await buildLog();
    const segs = chainFiles(log.auditDir, "tool_usage", log.sessionId);
    fs.truncateSync(activeFile(log, "tool_usage"), 0);
    fs.rmSync(segs.at(-2)!);
    expectOnly(await verify(log), ["truncated"]);
  });
});

describe("checkpoints", () => {
  it("a checkpoint deleted from the middle → checkpoint_missing", async () => {
    const log = await buildLog();
    editLines(checkpointsFile(log), (ls) => ls.filter((_, i) => i !== 3));
    expectOnly(await verify(log), ["checkpoint_missing"]);
  });

  // VERIFIER GAP (reported to the lead): deleting the whole checkpoints file of a session that was
  // written with a signing key (session_<id>.json names config.signingKeyId) leaves ok=true with
  // only the no_checkpoints / self_consistent_only notes, even when the trusted key is given.
  // Remove `.fails` once src/reader/verify.ts reports it as checkpoint_missing.
  it("the whole checkpoints file deleted, for a session written with a signing key → checkpoint_missing", async () => {
    const log = await buildLog();
    const info = JSON.parse(fs.readFileSync(`${log.auditDir}/session_${log.sessionId}.json`, "utf8")) as { config: { signingKeyId?: string } };
    expect(info.config.signingKeyId).toMatch(/^ed25519:/);
    fs.rmSync(checkpointsFile(log));
    expectOnly(await verify(log), ["checkpoint_missing"]);
  });

  // Found by the viewer pass, 2026-12-05: without a public key (which `serve`'s integrity panel never
  // has) the check above was skipped, and the panel said "✓ verified" of a signed session whose
  // checkpoints file was deleted, with a note saying its logger had no signing key. The session
  // file that names the key needs no key to read, as for `truncated`.
  it("the whole checkpoints file deleted, verified without a public key → checkpoint_missing all the same", async () => {
    const log = await buildLog();
    fs.rmSync(checkpointsFile(log));
    const r = await verifyAuditLog(log.auditDir);
    expect(problemKinds(r)).toEqual(["checkpoint_missing"]);
    expect(r.problems[0]!.detail).toMatch(/was finalized with signing key ed25519:[0-9a-f]{16} but has no checkpoints/);
    expect(r.notes.map((n) => n.detail).join("\n")).not.toMatch(/the logger had no signingKey\)/);
    const one = await verifyAuditLog(log.auditDir, { sessionId: log.sessionId });
    expect(problemKinds(one)).toEqual(["checkpoint_missing"]);
  });

  // Found by an adversarial review, 2026-12-05: (1) a finalized session whose checkpoints file was
  // cut after an early checkpoint, and every record after it rewritten with the same count, left
  // only an unsigned_tail note; (2) a session rewritten whole, its checkpoints deleted and its
  // session file set back to "active", beside another signed session, verified with no note at all
  // (the no_checkpoints note was said for the directory only when no session had any).
  it("a finalized session's checkpoints cut after an early one and the records after it rewritten → checkpoint_missing, record_modified", async () => {
    const log = await buildLog();
    const first = JSON.parse(readLines(checkpointsFile(log))[0]!) as Checkpoint;
    const keep = first.checkpoint.heads.tool_usage!.seq;
    writeLines(checkpointsFile(log), readLines(checkpointsFile(log)).slice(0, 1));
    let prev = "";
    for (const f of chainFiles(log.auditDir, "tool_usage", log.sessionId)) {
      editLines(f, (ls) =>
        ls.map((l) => {
          const rec = JSON.parse(l) as { seq: number; hash: string };
          if (rec.seq <= keep) {
            prev = rec.hash;
            return l;
          }
          const s = reseal(l, prev, (r) => ((r.parameters as Record<string, unknown>).to = "acct-attacker"));
          prev = s.hash;
          return s.line;
        }),
      );
    }
    const r = await verify(log);
    expect(problemKinds(r)).toEqual(["checkpoint_missing", "record_modified"]);
    expect(r.problems.find((p) => p.kind === "checkpoint_missing")!.detail).toMatch(/was finalized with signing key .* records follow its last checkpoint/);
  });

  it("a session without checkpoints beside a signed one, verified with the public key: a no_checkpoints note names it", async () => {
    const log = await buildLog();
    const unsigned = new AuditLogger({ sessionId: "unsigned_one", projectPath: log.projectPath, durability: "sync" });
    unsigned.logToolUsage({ toolName: "t", operation: "o" });
    await unsigned.finalizeSession();
    const r = await verify(log);
    expect(r.ok).toBe(true);
    expect(r.notes.filter((n) => n.kind === "no_checkpoints").map((n) => n.file)).toEqual(["checkpoints_unsigned_one.jsonl"]);
    expect(r.notes.find((n) => n.kind === "no_checkpoints")!.detail).toMatch(/Session unsigned_one has no signed checkpoints/);
  });

  it("requireSigned: a session without signed checkpoints is a not_signed problem, in the logs and in a directory export; it needs a public key", async () => {
    const log = await buildLog();
    const unsigned = new AuditLogger({ sessionId: "unsigned_two", projectPath: log.projectPath, durability: "sync" });
    unsigned.logToolUsage({ toolName: "t", operation: "o" });
    await unsigned.finalizeSession();
    const strict = await verifyAuditLog(log.auditDir, { publicKey: log.signer.publicKey, requireSigned: true });
    expectOnly(strict, ["not_signed"]);
    expect(strict.problems[0]!.detail).toMatch(/^Session unsigned_two has no signed checkpoints/);
    expectOnly(await verifyAuditLog(log.auditDir, { publicKey: log.signer.publicKey, sessionId: log.sessionId, requireSigned: true }), []);
    await expect(verifyAuditLog(log.auditDir, { requireSigned: true })).rejects.toMatchObject({ code: "AUDIT_ERR_CONFIG", issues: [{ field: "verifyAuditLog.requireSigned" }] });
    const out = `${tmpProject("require-signed-export-")}/export`;
    await new AuditExporter({ auditPath: log.auditDir }).exportCompleteAuditToDirectory(out, { includeFullContent: true, signingKey: log.signer.privateKey });
    expectOnly(await verifyExport(out, { publicKey: log.signer.publicKey }), []);
    expectOnly(await verifyExport(out, { publicKey: log.signer.publicKey, requireSigned: true }), ["not_signed"]);
  });

  it("every checkpoint re-signed with another key → checkpoint_unknown_key (the newest: the older ones a history_key_not_given note, since 2026-12-06)", async () => {
    const log = await buildLog();
    rebuildCheckpoints(log, newSigner().privateKey);
    const r = await verify(log);
    expectOnly(r, ["checkpoint_unknown_key"]);
    const n = readLines(checkpointsFile(log)).length;
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.detail).toMatch(new RegExp(`^Checkpoint ${n}, the newest of session ${log.sessionId}, was signed by `));
    expect(r.notes.filter((x) => x.kind === "history_key_not_given").map((x) => x.detail)).toEqual([expect.stringContaining(`The older checkpoints 1 to ${n - 1} of session ${log.sessionId}`)]);
  });

  it("the newest checkpoint replaced by an older one → checkpoint_out_of_order", async () => {
    const log = await buildLog();
    editLines(checkpointsFile(log), (ls) => [...ls.slice(0, -1), ls[2]!]);
    // (checkpoint_missing too: a finalized session's last checkpoint covers every record, since 2026-12-05)
    expectOnly(await verify(log), ["checkpoint_missing", "checkpoint_out_of_order"]);
  });

  it("a checkpoint's body edited (a head moved back) → checkpoint_modified", async () => {
    const log = await buildLog();
    editLines(checkpointsFile(log), (ls) =>
      ls.map((l, i) => {
        if (i !== 4) return l;
        const cp = JSON.parse(l) as Checkpoint;
        const heads = { ...cp.checkpoint.heads, persona_activity: { ...cp.checkpoint.heads.persona_activity!, seq: 1 } };
        return JSON.stringify({ ...cp, checkpoint: { ...cp.checkpoint, heads } });
      }),
    );
    // its own hash no longer matches, its signature fails, and the head it names disagrees with the log
    expectOnly(await verify(log), ["checkpoint_mismatch", "checkpoint_modified", "checkpoint_signature_invalid"]);
  });

  it("the newest checkpoint deleted from the file: checkpoint_missing, from the file alone for a finalized session, and with the witness's trusted checkpoints", async () => {
    const log = await buildLog();
    expect(log.witnessed.length).toBe(readLines(checkpointsFile(log)).length);
    editLines(checkpointsFile(log), (ls) => ls.slice(0, -1));
    // (from the file alone it went unnoticed until 2026-12-05, beside an unsigned_tail note)
    const alone = await verify(log);
    expectOnly(alone, ["checkpoint_missing"]);
    expect(noteKinds(alone)).toEqual(["unsigned_tail"]);
    expectOnly(await verify(log, { trustedCheckpoints: log.witnessed }), ["checkpoint_missing"]);
  });

  it("two different checkpoints of the same size (the log rolled back and rewritten under the real key) → fork", async () => {
    const signer = newSigner();
    const log = await buildLog({ signer, personas: 6, tools: 0, checkpointEveryRecords: 3 });
    const witness = [...log.witnessed];
    const bigger = witness.at(-1)!;
    // roll back to the first 3 records (and the checkpoints over them), then log 3 different ones
    const first3 = personaLines(log).slice(0, 3).map((x) => x.line);
    for (const f of chainFiles(log.auditDir, "persona_activity", log.sessionId)) fs.rmSync(f);
    writeLines(activeFile(log, "persona_activity"), first3);
    editLines(checkpointsFile(log), (ls) => ls.filter((l) => (JSON.parse(l) as Checkpoint).checkpoint.heads.persona_activity!.seq <= 3));
    expect(readLines(checkpointsFile(log)).length).toBeGreaterThan(0);
    const again = new AuditLogger({ sessionId: log.sessionId, projectPath: log.projectPath, signingKey: signer.privateKey, checkpointEvery: { records: 3, seconds: 3600 } });
    for (let i = 0; i < 3; i++) again.logPersonaActivity({ personaName: "planner", activityType: "plan", description: `rewritten ${i}` });
    await again.finalizeSession();
    // the file alone is consistent
    expectOnly(await verify(log), []);
    const r = await verify(log, { trustedCheckpoints: [bigger] });
    expect(problemKinds(r)).toContain("fork");
    expectOnly(r, ["checkpoint_mismatch", "checkpoint_missing", "fork"]);
  });
});

describe("encrypted values", () => {
  it("a ciphertext bit flipped → the viewer cannot decrypt it, and the verifier reports record_modified", async () => {
    const log = await buildLog({ encrypt: true });
    const file = activeFile(log, "tool_usage");
    const lines = readLines(file);
    const target = JSON.parse(lines[0]!) as { id: string; parameters: { ct: string } };
    const ct = Buffer.from(target.parameters.ct, "base64");
    ct[3] = ct[3]! ^ 0x10;
    const flipped = lines[0]!.replace(target.parameters.ct, ct.toString("base64"));
    expect(flipped).not.toBe(lines[0]);
    writeLines(file, [flipped, ...lines.slice(1)]);
    expectOnly(await verify(log), ["record_modified"]);
    const viewer = new AuditViewer({ auditPath: log.auditDir, encryptionKey: TEST_KEY });
    const tools = await viewer.getToolUsages({ limit: 100 });
    const seen = tools.find((t) => t.id === target.id)!;
    expect(seen.decryptionError).toMatch(/parameters/);
    expect(seen.encryptedWithoutKey).toBe(true);
    // the others still open
    expect(tools.filter((t) => t.decryptionError !== undefined)).toHaveLength(1);
  });

  for (const move of ["to another record", "to another field"] as const) {
    it(`a ciphertext moved ${move} → the viewer cannot decrypt it (AAD), the verifier reports record_modified`, async () => {
      const log = await buildLog({ encrypt: true });
      const file = activeFile(log, "tool_usage");
      const lines = readLines(file);
      expect(lines.length).toBeGreaterThan(1);
      const a = JSON.parse(lines[0]!) as { id: string; parameters: unknown; result: unknown };
      const b = JSON.parse(lines.at(-1)!) as { id: string; parameters: unknown };
      let victim: string;
      let idx: number;
      if (move === "to another record") {
        // b's parameters replaced by a's, as stored
        idx = lines.length - 1;
        victim = b.id;
        lines[idx] = lines[idx]!.replace(JSON.stringify(b.parameters), JSON.stringify(a.parameters));
      } else {
        idx = 0;
        victim = a.id;
        lines[0] = lines[0]!.replace(JSON.stringify(a.result), JSON.stringify(a.parameters));
      }
      writeLines(file, lines);
      const r = await verify(log);
      expectOnly(r, ["record_modified"]);
      const viewer = new AuditViewer({ auditPath: log.auditDir, encryptionKey: TEST_KEY });
      const seen = (await viewer.getToolUsages({ limit: 100 })).find((t) => t.id === victim)!;
      expect(seen.decryptionError).toMatch(move === "to another record" ? /parameters/ : /result/);
      expect(seen.decryptionError).toMatch(/altered, moved to another record or field/);
    });
  }
});

describe("benign findings stay notes", () => {
  it("a torn final line (a crash mid-write) → note torn_final_line, ok", async () => {
    const log = await buildLog();
    fs.appendFileSync(activeFile(log, "persona_activity"), '{"id":"x","type":"persona_activity","sessionId":"tamper","timest');
    const r = await verify(log);
    expectOnly(r, []);
    expect(noteKinds(r)).toEqual(["torn_final_line"]);
  });
});

describe("retention and legal hold", () => {
  const DAY = 86_400_000;

  it("a prune by policy leaves a retention record: ok, with a pruned_by_policy note", async () => {
    const log = await buildLog({ finalize: false });
    const res = await log.logger.cleanup({ now: Date.now() + 100 * DAY });
    expect(res.prunedSegments.length).toBeGreaterThan(0);
    await log.logger.finalizeSession();
    const r = await verify(log);
    expectOnly(r, []);
    expect(noteKinds(r)).toEqual(["pruned_by_policy"]);
  });

  /**
   * Runs `cleanup` with the audit_event chain of `sessionId` (its files) renamed away (a live logger of it
   * writes on through its open file), then puts it back: cleanup honours the holds that chain
   * places (since 2026-12-05), so an attacker who deleted the holds file must hide it too.
   */
  async function withChainAway<T>(auditDir: string, sessionId: string, cleanup: () => Promise<T>): Promise<T> {
    const files = fs.readdirSync(auditDir).filter((n) => n.startsWith(`audit_events_${sessionId}.`) && n.endsWith(".jsonl"));
    for (const n of files) fs.renameSync(`${auditDir}/${n}`, `${auditDir}/${n}.away`);
    try {
      return await cleanup();
    } finally {
      for (const n of files) fs.renameSync(`${auditDir}/${n}.away`, `${auditDir}/${n}`);
    }
  }

  it("a prune under legal hold (the holds file edited away, then cleanup) → pruned_under_hold", async () => {
    const log = await buildLog({ finalize: false });
    log.logger.placeLegalHold("all", "litigation 2024-117");
    // cleanup honours the hold...
    expect((await log.logger.cleanup({ now: Date.now() + 100 * DAY })).prunedSegments).toEqual([]);
    // ...so the attacker removes the holds file first (and hides the chain that holds the hold
    // while cleanup runs); the chained hold record stays
    fs.rmSync(`${log.auditDir}/legal_holds.json`);
    const res = await withChainAway(log.auditDir, log.sessionId, () => log.logger.cleanup({ now: Date.now() + 100 * DAY }));
    expect(res.prunedSegments.length).toBeGreaterThan(0);
    await log.logger.finalizeSession();
    expectOnly(await verify(log), ["pruned_under_hold"]);
  });

  // Found by review 2026-12-04 (fourth session): a retention_pruned record only needed to be
  // hash-chained (no key), so whoever could write the directory deleted signed records and appended
  // a record "explaining" it, with minRetentionDays 0: verify with the public key said OK. A real
  // prune is checkpointed at once; one no signed checkpoint covers is not taken as a chain start.
  it("segments deleted and excused by a forged retention record (no signed checkpoint covers it) → pruned_without_record", async () => {
    const log = await buildLog();
    expectOnly(await verify(log), []);
    forgePrune(log, "persona_activity", [1, 2]);
    const r = await verify(log);
    expect(problemKinds(r)).toContain("pruned_without_record");
    expect(r.ok).toBe(false);
    // without the public key nothing can be told signed, but the session file says the session was
    // finalized with a signing key, which signs every record: the forged record after its last
    // checkpoint is said (since 2026-12-05; before, without the key, this verified OK)
    const unkeyed = await verifyAuditLog(log.auditDir);
    expect(problemKinds(unkeyed)).toEqual(["checkpoint_missing"]);
  });

  // Found by an adversarial review, 2026-12-05: the same forged record with a second "seq":0 at
  // its end was read as seq 0 (JSON.parse keeps the last of duplicate names), covered by a signed
  // checkpoint, by the readers of retention records, while the chain walk read its real seq from
  // its envelope: verify with the public key and the witness's checkpoints said OK.
  it("a forged retention record repeating its seq (\"seq\":0 at its end) is not taken as signed → malformed_line, pruned_without_record", async () => {
    const log = await buildLog();
    expectOnly(await verify(log), []);
    forgePrune(log, "tool_usage", [1, 2, 3], { repeatMember: '"seq":0' });
    const r = await verifyAuditLog(log.auditDir, { publicKey: log.signer.publicKey, trustedCheckpoints: log.witnessed });
    expect(r.ok).toBe(false);
    expect(problemKinds(r)).toEqual(expect.arrayContaining(["malformed_line", "pruned_without_record"]));
    expect(r.problems.find((p) => p.kind === "malformed_line")?.detail).toMatch(/repeats its seq member with another value/);
  });

  // Found by an adversarial review, 2026-12-05: verify looked only at the sessions still in the
  // directory, so deleting every file of a session was OK, even with the witness's checkpoints of
  // it given, or while another session's chained legal hold covered it.
  it("a whole session deleted: session_missing when trusted checkpoints name it, or a hold in force covers it; not when retention removed it", async () => {
    const log = await buildLog({ sessionId: "keep" });
    const victim = await buildLog({ sessionId: "victim", signer: log.signer });
    const both = [...log.witnessed, ...victim.witnessed];
    // (the two logs are in two projects: move the victim's files beside the other's)
    for (const name of fs.readdirSync(victim.auditDir)) fs.renameSync(`${victim.auditDir}/${name}`, `${log.auditDir}/${name}`);
    expectOnly(await verify(log, { trustedCheckpoints: both }), []);
    const victimFiles = fs.readdirSync(log.auditDir).filter((n) => n.includes("_victim"));
    expect(victimFiles.length).toBeGreaterThan(4);
    const saved = new Map(victimFiles.map((n) => [n, fs.readFileSync(`${log.auditDir}/${n}`)]));
    for (const n of victimFiles) fs.rmSync(`${log.auditDir}/${n}`);
    const r = await verify(log, { trustedCheckpoints: both });
    expectOnly(r, ["session_missing"]);
    expect(r.problems[0]!.detail).toMatch(/Trusted checkpoints name session victim/);
    expectOnly(await verify(log), []); // (nothing here says it existed: the documented limit)

    // a hold in force on it, placed in another session's chain
    for (const [n, bytes] of saved) fs.writeFileSync(`${log.auditDir}/${n}`, bytes);
    const holder = new AuditLogger({ sessionId: "holder", projectPath: log.projectPath, durability: "sync", signingKey: log.signer.privateKey });
    holder.placeLegalHold("victim", "litigation");
    await holder.finalizeSession();
    expectOnly(await verify(log), []);
    for (const n of victimFiles) fs.rmSync(`${log.auditDir}/${n}`);
    const held = await verify(log);
    expectOnly(held, ["session_missing"]);
    expect(held.problems[0]!.detail).toMatch(/Legal hold .* is in force on session victim/);
  });

  it("a whole session removed by retention, with the witness's checkpoints of it: no problem", async () => {
    const log = await buildLog({ sessionId: "old_victim" });
    const cleaner = new AuditLogger({ sessionId: "cleaner", projectPath: log.projectPath, durability: "sync", signingKey: log.signer.privateKey });
    const r = await cleaner.cleanup({ now: Date.now() + 100 * DAY });
    expect(r.removed.map((x) => x.sessionId)).toEqual(["old_victim"]);
    await cleaner.finalizeSession();
    expectOnly(await verifyAuditLog(log.auditDir, { publicKey: log.signer.publicKey, trustedCheckpoints: log.witnessed }), []);
  });

  // Found by a re-review, 2026-12-05: a session removed by X's cleanup became session_missing
  // once Y's cleanup removed X, and X's record of the first removal with it.
  it("a session removed by a session that is removed in turn: still no problem (the second removal record carries the first)", async () => {
    const log = await buildLog({ sessionId: "first_gone" });
    const x = new AuditLogger({ sessionId: "remover_x", projectPath: log.projectPath, durability: "sync", signingKey: log.signer.privateKey });
    expect((await x.cleanup({ now: Date.now() + 100 * DAY })).removed.map((r) => r.sessionId)).toEqual(["first_gone"]);
    await x.finalizeSession();
    const y = new AuditLogger({ sessionId: "remover_y", projectPath: log.projectPath, durability: "sync", signingKey: log.signer.privateKey });
    expect((await y.cleanup({ now: Date.now() + 100 * DAY })).removed.map((r) => r.sessionId)).toEqual(["remover_x"]);
    await y.finalizeSession();
    expectOnly(await verifyAuditLog(log.auditDir, { publicKey: log.signer.publicKey, trustedCheckpoints: log.witnessed }), []);
    const record = readLines(`${log.auditDir}/audit_events_remover_y.jsonl`).map((l) => JSON.parse(l) as { eventType: string; details: { sessionId?: string; removedSessions?: string[] } });
    expect(record.filter((r) => r.eventType === "retention_pruned").map((r) => [r.details.sessionId, r.details.removedSessions])).toEqual([["remover_x", ["first_gone"]]]);
  });

  it("a genuine prune (checkpointed at once) still verifies with the public key; so does one made after a hold was placed and released", async () => {
    const log = await buildLog({ finalize: false });
    log.logger.placeLegalHold("all", "review");
    log.logger.releaseLegalHold("all", "done");
    expect((await log.logger.cleanup({ now: Date.now() + 100 * DAY })).prunedSegments.length).toBeGreaterThan(0);
    await log.logger.finalizeSession();
    expectOnly(await verify(log), []);
  });

  // Found by re-review 2026-12-04 (fourth session): only a prune was checkpointed at once, so a
  // release in a session that then ran on (or ended without finalizing) was not yet signed, and a
  // later cleanup by another session was reported as made under the hold.
  it("a hold placed and released in one live session, then another session's cleanup: verifies with the public key (the release is signed at once)", async () => {
    const log = await buildLog({ finalize: false });
    const old = new AuditLogger({ sessionId: "old_one", projectPath: log.projectPath, durability: "sync" });
    old.logToolUsage({ toolName: "t", operation: "o" });
    await old.finalizeSession();
    log.logger.placeLegalHold("all", "review");
    log.logger.releaseLegalHold("all", "done");
    const maint = new AuditLogger({ sessionId: "maint", projectPath: log.projectPath, durability: "sync", signingKey: log.signer.privateKey });
    expect((await maint.cleanup({ now: Date.now() + 100 * DAY })).removed.map((e) => e.sessionId)).toEqual(["old_one"]);
    await maint.finalizeSession();
    // (the session that released the hold is still running: nothing of it finalized)
    expectOnly(await verify(log), []);
    await log.logger.finalizeSession();
  });

  it("a hold release appended after the last signed checkpoint does not excuse a prune made under the hold", async () => {
    const { sealRecord } = await import("../../src/pipeline/chain.js");
    const log = await buildLog({ finalize: false });
    const holder = new AuditLogger({ sessionId: "holder", projectPath: log.projectPath, durability: "sync", signingKey: log.signer.privateKey });
    const holdId = holder.placeLegalHold("all", "litigation");
    fs.rmSync(`${log.auditDir}/legal_holds.json`);
    expect((await withChainAway(log.auditDir, "holder", () => log.logger.cleanup({ now: Date.now() + 100 * DAY }))).prunedSegments.length).toBeGreaterThan(0);
    await log.logger.finalizeSession();
    await holder.finalizeSession(); // (live during the cleanup: not removed itself)
    expect(problemKinds(await verify(log))).toEqual(["pruned_under_hold"]);
    // the attacker appends a release dated before the prune to the holder's chain (unsigned)
    const events = `${log.auditDir}/audit_events_holder.jsonl`;
    const prev = JSON.parse(readLines(events).at(-1)!) as { seq: number; hash: string; timestamp: string };
    const rec = { id: "01M917W5AH8NB5ST1JNRFN3AJY", type: "audit_event", sessionId: "holder", timestamp: prev.timestamp, seq: prev.seq + 1, prevHash: prev.hash, eventType: "legal_hold_released", reason: "done", details: { scope: "all", holdIds: [holdId] } };
    fs.appendFileSync(events, sealRecord(prev.hash, JSON.stringify(rec)).line + "\n");
    expect(problemKinds(await verify(log))).toContain("pruned_under_hold");
  });

  // Found 2026-12-04 (fourth session): only segment prunes were checked against the holds; a whole
  // session removed under a hold verified as OK.
  it("a whole session removed under its legal hold (the holds file edited away, then cleanup) → pruned_under_hold", async () => {
    const log = await buildLog({ finalize: false });
    const other = new AuditLogger({ sessionId: "held_one", projectPath: log.projectPath, durability: "sync" });
    other.logToolUsage({ toolName: "t", operation: "o" });
    await other.finalizeSession();
    log.logger.placeLegalHold("held_one", "litigation 2024-117");
    expect((await log.logger.cleanup({ now: Date.now() + 100 * DAY })).removed.map((e) => e.sessionId)).toEqual([]);
    fs.rmSync(`${log.auditDir}/legal_holds.json`);
    expect((await withChainAway(log.auditDir, log.sessionId, () => log.logger.cleanup({ now: Date.now() + 100 * DAY }))).removed.map((e) => e.sessionId)).toEqual(["held_one"]);
    await log.logger.finalizeSession();
    const r = await verify(log);
    expectOnly(r, ["pruned_under_hold"]);
    expect(r.problems[0]!.detail).toMatch(/^Session held_one was removed at .* while legal hold .* \(held_one\) was in force\.$/);
    expect(noteKinds(r)).toContain("pruned_by_policy");
    expect(r.notes.map((n) => n.detail)).toContainEqual(expect.stringMatching(/^Session held_one \(\d+ files\) was removed by retention at /));
  });

  it("a removal of a session, then of segments, recorded while a hold was released in between is not flagged; the same removals without a release are", async () => {
    const log = await buildLog({ finalize: false });
    for (const id of ["gone_a", "gone_b"]) {
      const other = new AuditLogger({ sessionId: id, projectPath: log.projectPath, durability: "sync" });
      other.logToolUsage({ toolName: "t", operation: "o" });
      await other.finalizeSession();
    }
    log.logger.placeLegalHold("gone_a", "review");
    log.logger.releaseLegalHold("gone_a", "review done");
    expect((await log.logger.cleanup({ now: Date.now() + 100 * DAY })).removed.map((e) => e.sessionId).sort()).toEqual(["gone_a", "gone_b"]);
    await log.logger.finalizeSession();
    expectOnly(await verify(log), []);
  });

  it("a removal recorded before its retention period ran out (a segment prune, a whole session) → pruned_too_early", async () => {
    const log = await buildLog({ finalize: false });
    expect((await log.logger.cleanup({ now: Date.now() + 100 * DAY })).prunedSegments.length).toBeGreaterThan(0);
    // what a cleanup that ignored minRetentionDays would have written (the kit's own floor is on the real clock)
    const prune = readLines(activeFile(log, "audit_event"))
      .map((l) => JSON.parse(l) as { eventType: string; details: { scope: string } & Record<string, unknown> })
      .find((r) => r.eventType === "retention_pruned")!.details;
    log.logger.recordPruned({ ...prune, policy: { maxLogAgeDays: 1, minRetentionDays: 3650 } } as never);
    log.logger.recordPruned({ scope: "session", sessionId: "young_one", lastActivity: new Date().toISOString(), files: ["session_young_one.json"], policy: { maxLogAgeDays: 1, minRetentionDays: 3650 } });
    await log.logger.finalizeSession();
    const r = await verify(log);
    expectOnly(r, ["pruned_too_early"]);
    expect(r.problems.map((p) => p.detail)).toEqual([
      expect.stringMatching(/^Segments [\d, ]+ of \w+ were pruned at .*, before the 3650-day retention period/),
      expect.stringMatching(/^Session young_one was removed at .*, before the 3650-day retention period/),
    ]);
  });

  // Found 2026-12-04 (fourth session): verify threw a TypeError (`event.segments.join`) on a
  // retention_pruned record without the fields the kit writes, instead of reporting it.
  it("a retention_pruned record that is not one the kit writes → malformed_line, in the logs and in an export (verify threw)", async () => {
    const log = await buildLog({ finalize: false });
    log.logger.recordPruned({ scope: "segments", kind: "tool_usage", policy: { maxLogAgeDays: 1, minRetentionDays: 0 } } as never);
    await log.logger.finalizeSession();
    const r = await verify(log);
    expectOnly(r, ["malformed_line"]);
    expect(r.problems[0]).toMatchObject({ file: "audit_events_tamper.jsonl", seq: 1, detail: expect.stringMatching(/retention_pruned record \(seq 1\) is not one the kit writes \(.*segments/) });
    // a restarted logger of the session leaves it out (its chain goes on from its own files)
    const again = new AuditLogger({ sessionId: log.sessionId, projectPath: log.projectPath, durability: "sync", signingKey: log.signer.privateKey });
    again.logToolUsage({ toolName: "after", operation: "o" });
    await again.finalizeSession();
    expectOnly(await verify(log), ["malformed_line"]);
    const dir = `${log.projectPath}/export`;
    await new AuditExporter({ auditPath: log.auditDir }).exportCompleteAuditToDirectory(dir);
    const e = await verifyExport(dir);
    expectOnly(e, ["malformed_line"]);
  });
});

describe("crypto-shredding", () => {
  it("a shredded subject's content is unreadable afterwards; every chain still verifies, with a key_shredded note", async () => {
    const log = await buildLog({ encrypt: true, finalize: false });
    const chatId = log.logger.logChatInteraction({ prompt: "alice's secret prompt", response: "the answer", model: "m", userId: "alice" });
    const bobChat = log.logger.logChatInteraction({ prompt: "bob's prompt", response: "ok", model: "m", userId: "bob" });
    await log.logger.flush();
    const destroyed = log.logger.shredSubject("alice");
    expect(destroyed.length).toBeGreaterThan(0);
    await log.logger.finalizeSession();

    const viewer = new AuditViewer({ auditPath: log.auditDir, encryptionKey: TEST_KEY });
    const tools = await viewer.getToolUsages({ limit: 100 });
    for (const t of tools) {
      if (t.userId === "alice") {
        expect(t.encryptedWithoutKey).toBe(true);
        expect(t.decryptionError).toMatch(/crypto-shredded/);
      } else {
        expect(t.decryptionError).toBeUndefined();
        expect(t.parameters).toMatchObject({ to: expect.stringMatching(/^acct-/) });
      }
    }
    const chats = await viewer.getChatInteractions({ limit: 10 });
    const alice = chats.find((c) => c.id === chatId)!;
    expect(alice.encryptedWithoutKey).toBe(true);
    expect(JSON.stringify(alice)).not.toContain("secret");
    const content = await viewer.getFullInteractionContent(chatId);
    expect(content).toMatchObject({ prompt: null, response: null, encrypted: true });
    // the files are still there and still match their records: only the key is gone
    expect(content?.checks.files).toBe(true);
    expect((await viewer.getFullInteractionContent(bobChat))?.prompt).toBe("bob's prompt");

    const r = await verify(log);
    expectOnly(r, []);
    expect(noteKinds(r)).toEqual(["key_shredded"]);
  });

  it("a shred that found no data key of its subject: the note says none was destroyed (it said \"A subject's data keys were destroyed (crypto-shredding: )\": found by the CLI pass, 2026-12-06)", async () => {
    const log = await buildLog({ encrypt: true, finalize: false });
    expect(log.logger.shredSubject("nobody-here")).toEqual([]);
    await log.logger.finalizeSession();
    const r = await verify(log);
    expectOnly(r, []);
    const details = r.notes.filter((n) => n.kind === "key_shredded").map((n) => n.detail);
    expect(details).toEqual([expect.stringContaining("no data key of its subject was found, so none was destroyed")]);
    expect(details[0]).not.toContain("crypto-shredding: )");
  });
});

describe("the key stores", () => {
  it("a data key deleted from its key store outside crypto-shredding is reported as key_missing (verify said OK while that subject's content became unreadable)", async () => {
    const log = await buildLog({ encrypt: true, finalize: false });
    log.logger.logChatInteraction({ prompt: "alice's prompt", response: "the answer", model: "m", userId: "alice" });
    log.logger.logChatInteraction({ prompt: "bob's prompt", response: "ok", model: "m", userId: "bob" });
    await log.logger.finalizeSession();
    expectOnly(await verify(log), []);
    const stores = fs.readdirSync(log.auditDir).filter((n) => n.startsWith("subject_keys_"));
    expect(stores.length).toBeGreaterThan(0);
    const file = `${log.auditDir}/${stores[0]}`;
    const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
    expect(lines.length).toBeGreaterThan(1);
    // the first key's line goes (an attacker hiding one user's content, or a careless edit)
    const kid = (JSON.parse(lines[0]!) as { kid: string }).kid;
    fs.writeFileSync(file, lines.slice(1).map((l) => `${l}\n`).join(""));
    const r = await verify(log);
    expectOnly(r, ["key_missing"]);
    expect(r.problems.every((x) => x.detail.includes(kid))).toBe(true);
  });

  // (2026-12-04, fifth session: a subject_shredded record anyone can append, sealed onto the chain
  // with no key, excused the deleted key; with a public key only a shredding a signed checkpoint
  // covers counts, as for retention records)
  it("a data key deleted and excused by a forged subject_shredded record (no signed checkpoint covers it) is still key_missing; without a public key it is taken as said", async () => {
    const log = await buildLog({ encrypt: true, finalize: false });
    log.logger.logChatInteraction({ prompt: "alice's prompt", response: "the answer", model: "m", userId: "alice" });
    log.logger.logChatInteraction({ prompt: "bob's prompt", response: "ok", model: "m", userId: "bob" });
    await log.logger.finalizeSession();
    const stores = fs.readdirSync(log.auditDir).filter((n) => n.startsWith("subject_keys_"));
    const file = `${log.auditDir}/${stores[0]}`;
    const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
    const kid = (JSON.parse(lines[0]!) as { kid: string }).kid;
    fs.writeFileSync(file, lines.slice(1).map((l) => `${l}\n`).join(""));
    forgeShred(log, [kid]);
    const r = await verify(log);
    // (checkpoint_missing too: a record appended to a finalized session, since 2026-12-05)
    expectOnly(r, ["checkpoint_missing", "key_missing"]);
    expect(r.problems.filter((x) => x.kind === "key_missing").every((x) => x.detail.includes(kid))).toBe(true);
    // (self-consistent only: no key to tell a forged record from a real one)
    const unsigned = await verifyAuditLog(log.auditDir);
    expect(unsigned.problems.map((p) => p.kind)).not.toContain("key_missing");
  });
});

describe("the key stores, shredding and crashes", () => {
  it("a shred whose subject_shredded record retention removed with its session still verifies: the chained retention record names the shredded keys (it was key_missing); with the CLI's cleanup, which records no removal, the key store's tombstone says it, in a note", async () => {
    const projectPath = tmpProject("audit-tombstone-");
    const app = new AuditLogger({ sessionId: "app", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, durability: "sync" });
    auditContext.run({ userId: "alice" }, () => app.logToolUsage({ toolName: "t", operation: "o", parameters: { secret: "alice data" } }));
    auditContext.run({ userId: "bob" }, () => app.logToolUsage({ toolName: "t", operation: "o", parameters: { secret: "bob data" } }));
    await app.flush();
    // an erasure request, as `audit-logger shred` makes it: in the audit_maintenance session
    const maint = new AuditLogger({ sessionId: "audit_maintenance", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, fullContentLogging: false, durability: "fsync" });
    expect(maint.shredSubject("alice", "GDPR")).toHaveLength(1);
    await maint.finalizeSession();
    // 100 days later the app's retention removes the maintenance session, shred record and all
    const removed = await app.cleanup({ maxLogAgeDays: 90, now: Date.now() + 100 * 86_400_000 });
    expect(removed.removed.map((e) => e.sessionId)).toEqual(["audit_maintenance"]);
    await app.finalizeSession();
    const r = await verifyAuditLog(app.auditDir);
    expectOnly(r, []);
    // (the chained retention record names the key: no tombstone note needed)
    expect(r.notes.filter((n) => n.detail.includes("tombstone"))).toEqual([]);
    // the same with `audit-logger cleanup`, which removes the session and records nothing
    const projectPath2 = tmpProject("audit-tombstone-cli-");
    const app2 = new AuditLogger({ sessionId: "app", projectPath: projectPath2, encryptSensitiveContent: true, encryptionKey: TEST_KEY, durability: "sync" });
    auditContext.run({ userId: "alice" }, () => app2.logToolUsage({ toolName: "t", operation: "o", parameters: { secret: "alice data" } }));
    await app2.finalizeSession();
    const maint2 = new AuditLogger({ sessionId: "audit_maintenance", projectPath: projectPath2, encryptSensitiveContent: true, encryptionKey: TEST_KEY, fullContentLogging: false, durability: "fsync" });
    const [shredded] = maint2.shredSubject("alice", "GDPR");
    await maint2.finalizeSession();
    const { cleanupSessions } = await import("../../src/retention.js");
    expect(cleanupSessions(app2.auditDir, { maxLogAgeDays: 90, now: Date.now() + 100 * 86_400_000, retentionFor: (id) => (id === "app" ? 3650 : 90) }).removed.map((e) => e.sessionId)).toEqual(["audit_maintenance"]);
    const r2 = await verifyAuditLog(app2.auditDir);
    expectOnly(r2, []);
    expect(r2.notes.filter((n) => n.kind === "key_shredded").map((n) => n.detail)).toEqual([expect.stringContaining(`${shredded} was destroyed by crypto-shredding, says its key store's tombstone`)]);
  });

  it("a key written after a crash tore the key store's last line is on a line of its own, readable (it was appended to the torn line: that subject's records could not be decrypted, and verify said OK)", async () => {
    const projectPath = tmpProject("audit-torn-store-");
    const make = () => new AuditLogger({ sessionId: "s", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, durability: "sync" });
    let logger = make();
    auditContext.run({ userId: "alice" }, () => logger.logToolUsage({ toolName: "t", operation: "o", parameters: { p: "alice" } }));
    await logger.finalizeSession();
    fs.appendFileSync(`${logger.auditDir}/subject_keys_s.jsonl`, '{"ki'); // the crash, mid-write of a key line
    logger = make();
    auditContext.run({ userId: "carol" }, () => logger.logToolUsage({ toolName: "t", operation: "o", parameters: { p: "carol's data" } }));
    await logger.finalizeSession();
    expectOnly(await verifyAuditLog(logger.auditDir), []);
    const tools = await new AuditViewer({ auditPath: logger.auditDir, encryptionKey: TEST_KEY }).getToolUsages({ limit: 10 });
    expect(tools.map((t) => [t.userId, t.parameters, t.decryptionError]).sort()).toEqual([
      ["alice", { p: "alice" }, undefined],
      ["carol", { p: "carol's data" }, undefined],
    ]);
  });

  it("verify reads a key store as the keyring does: a key on a line that does not parse is key_missing", async () => {
    const log = await buildLog({ encrypt: true, finalize: false });
    log.logger.logChatInteraction({ prompt: "alice's prompt", response: "the answer", model: "m", userId: "alice" });
    await log.logger.finalizeSession();
    const store = fs.readdirSync(log.auditDir).find((n) => n.startsWith("subject_keys_"))!;
    const file = `${log.auditDir}/${store}`;
    // a torn line glued to the front of the first key's line: the keyring cannot read that key
    const text = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, `{"ki${text}`);
    expectOnly(await verify(log), ["key_missing"]);
  });
});

describe("the verifier needs the right public key", () => {
  it("verifying with a different trusted key reports the newest checkpoint as checkpoint_unknown_key", async () => {
    const log = await buildLog();
    const other = newSigner();
    const r = await verifyAuditLog(log.auditDir, { publicKey: other.publicKey });
    expectOnly(r, ["checkpoint_unknown_key"]);
    expect(noteKinds(r)).toContain("history_key_not_given");
    // a PEM private key is reduced to its public key
    const pem = log.signer.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expectOnly(await verifyAuditLog(log.auditDir, { publicKey: createPrivateKey(pem) }), []);
  });
});
