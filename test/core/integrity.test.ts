import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { listKindFiles } from "../../src/sink/files.js";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditValidationError, auditContext, computeRecordHash, GENESIS_HASH, RECORD_KINDS, verifyAuditLog, type VerifyReport } from "../../src/index.js";
import { cleanupTmp, readLinesOf, TEST_KEY, tmpProject } from "../helpers/index.js";
import { auditDirOf, kindFilesInOrder, kindPath, readKind, segmentNumbers } from "../helpers/core.js";

afterEach(cleanupTmp);

const HASH_MEMBER = /,"hash":"([0-9a-f]{64})"\}$/;

/** A log with every kind, unicode, context fields, metadata, encrypted values and rotated tool segments. */
async function richLog(projectPath: string, sessionId: string, extra: { encrypt?: boolean; rotate?: boolean } = {}): Promise<void> {
  const logger = new AuditLogger({
    sessionId,
    projectPath,
    ...(extra.rotate === false ? {} : { rotation: { size: "2k" } }),
    ...(extra.encrypt ? { encryptSensitiveContent: true, encryptionKey: TEST_KEY } : {}),
  });
  auditContext.run({ traceId: "t-1", userId: "ü-1", metadata: { "2": "int-like key", b: 1, a: "z" } }, () => {
    for (let i = 0; i < 30; i++) {
      logger.logChatInteraction({ prompt: `héllo 日本 😀 ${i}\n"quoted"\\`, response: `\u2028 ${i}`, model: "m", tokensUsed: i, metadata: { n: 1e21, neg: -0, small: 5e-7, s: "\u0000\u001f" } });
      logger.logToolUsage({ toolName: "calc", operation: "add", parameters: { a: i, pad: "x".repeat(40) }, result: i * 2 });
    }
    logger.logPersonaActivity({ personaName: "p", activityType: "a", details: { big: 2n ** 70n } });
    logger.logFileOperation({ operation: "move", filePath: "C:\\tmp\\ä.txt" });
    logger.logPerformanceMetric({ metricName: "m", value: -1.5e-10, unit: "s" });
    logger.logError(new RangeError("out of range"));
  });
  await logger.finalizeSession();
}

function kinds(report: VerifyReport): string[] {
  return report.problems.map((p) => p.kind);
}

describe("hash chain", () => {
  for (const encrypt of [false, true]) {
    it(`computeRecordHash reproduces every line's hash${encrypt ? " (encrypted log)" : ""}, and so does hashing the raw bytes`, async () => {
      const projectPath = tmpProject();
      const sid = encrypt ? "hash_enc" : "hash_plain";
      await richLog(projectPath, sid, { encrypt });
      expect(segmentNumbers(projectPath, "tool_usage", sid).length).toBeGreaterThan(0);
      let checked = 0;
      for (const kind of RECORD_KINDS) {
        let prev = GENESIS_HASH;
        for (const file of kindFilesInOrder(projectPath, kind, sid)) {
          for (const line of readLinesOf(file)) {
            const rec = JSON.parse(line) as Record<string, unknown>;
            expect(rec.prevHash).toBe(prev);
            expect(computeRecordHash(prev, rec)).toBe(rec.hash);
            // the format document's algorithm, from bytes alone: strip the last member, hash prevHash + the rest
            const m = HASH_MEMBER.exec(line)!;
            const body = Buffer.concat([Buffer.from(line.slice(0, m.index), "utf8"), Buffer.from("}")]);
            expect(createHash("sha256").update(prev, "ascii").update(body).digest("hex")).toBe(m[1]);
            prev = rec.hash as string;
            checked++;
          }
        }
      }
      expect(checked).toBe(64);
      const report = await verifyAuditLog(auditDirOf(projectPath));
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.recordsChecked).toBe(64);
      expect(report.sessions).toEqual([sid]);
    });
  }

  it("computeRecordHash given no prevHash string or no record object is an AuditValidationError naming each (API.md audit, 2026-12-05: a bare TypeError, or a hash of '{}' for a number)", () => {
    for (const [prev, rec, fields] of [
      [1, { a: 1 }, ["prevHash"]],
      ["x", null, ["record"]],
      ["x", 5, ["record"]],
      ["x", "{\"a\":1}", ["record"]],
      ["x", [1], ["record"]],
      [undefined, undefined, ["prevHash", "record"]],
    ] as const) {
      let err: unknown;
      try {
        computeRecordHash(prev as never, rec as never);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify([prev, rec])).toBeInstanceOf(AuditValidationError);
      expect((err as AuditValidationError).issues.map((i) => i.field)).toEqual(fields);
    }
  });

  it("computeRecordHash detects any change to a parsed record", async () => {
    const projectPath = tmpProject();
    await richLog(projectPath, "hash_change");
    const [rec] = readKind(projectPath, "tool_usage", "hash_change");
    expect(computeRecordHash(rec!.prevHash as string, { ...rec!, result: 1 })).not.toBe(rec!.hash);
    expect(computeRecordHash("f".repeat(64), rec!)).not.toBe(rec!.hash);
  });
});

describe("verifyAuditLog finds tampering", () => {
  async function tamperedReport(edit: (projectPath: string, sid: string) => void, rotate = false): Promise<VerifyReport> {
    const projectPath = tmpProject();
    await richLog(projectPath, "tamper", { rotate });
    const clean = await verifyAuditLog(auditDirOf(projectPath));
    expect(clean.ok).toBe(true);
    edit(projectPath, "tamper");
    const report = await verifyAuditLog(auditDirOf(projectPath));
    expect(report.ok).toBe(false);
    return report;
  }

  function editLines(file: string, fn: (lines: string[]) => string[]): void {
    fs.writeFileSync(file, fn(readLinesOf(file)).map((l) => l + "\n").join(""));
  }

  it("one changed byte in a value: record_modified at that seq", async () => {
    const report = await tamperedReport((p, sid) => {
      const file = kindPath(p, "chat_interaction", sid);
      const text = fs.readFileSync(file, "utf8");
      const at = text.indexOf('"tokensUsed":7,');
      fs.writeFileSync(file, text.slice(0, at) + '"tokensUsed":8,' + text.slice(at + 15));
    });
    expect(report.problems).toEqual([expect.objectContaining({ kind: "record_modified", seq: 8, file: "chat_interactions_tamper.jsonl" })]);
  });

  it("an edited record re-hashed by the editor breaks the link to the next record", async () => {
    const report = await tamperedReport((p, sid) => {
      editLines(kindPath(p, "chat_interaction", sid), (lines) => {
        const rec = JSON.parse(lines[4]!) as Record<string, unknown>;
        rec.tokensUsed = 999;
        const { hash: _h, ...rest } = rec;
        lines[4] = JSON.stringify({ ...rest, hash: computeRecordHash(rec.prevHash as string, rest) });
        return lines;
      });
    });
    // the manifest of that chat names the record's original hash, so it no longer matches either
    expect(report.problems).toEqual([expect.objectContaining({ kind: "manifest_mismatch", seq: 5 }), expect.objectContaining({ kind: "chain_broken", seq: 6 })]);
  });

  it("a deleted line: chain_broken and seq_gap at the next record", async () => {
    const report = await tamperedReport((p, sid) => editLines(kindPath(p, "chat_interaction", sid), (lines) => lines.filter((_l, i) => i !== 10)));
    expect(report.problems).toEqual([expect.objectContaining({ kind: "chain_broken", seq: 12 }), expect.objectContaining({ kind: "seq_gap", seq: 12 })]);
  });

  it("swapped lines and a duplicated line are reported", async () => {
    const swapped = await tamperedReport((p, sid) =>
      editLines(kindPath(p, "chat_interaction", sid), (lines) => {
        [lines[2], lines[3]] = [lines[3]!, lines[2]!];
        return lines;
      }),
    );
    expect(kinds(swapped)).toContain("chain_broken");
    expect(kinds(swapped)).toContain("seq_out_of_order");
    const dup = await tamperedReport((p, sid) => editLines(kindPath(p, "chat_interaction", sid), (lines) => [...lines.slice(0, 3), lines[2]!, ...lines.slice(3)]));
    expect(kinds(dup)).toContain("seq_duplicate");
  });

  for (const which of ["first", "middle"] as const) {
    it(`a deleted ${which} segment: segment_missing (or pruned_without_record) and a broken chain`, async () => {
      let deleted = 0;
      const report = await tamperedReport((p, sid) => {
        const segs = segmentNumbers(p, "tool_usage", sid);
        expect(segs.length).toBeGreaterThanOrEqual(4);
        deleted = which === "first" ? 1 : 3;
        fs.rmSync(kindPath(p, "tool_usage", sid, deleted));
      }, true);
      const gap = report.problems.filter((x) => x.kind === "segment_missing" || x.kind === "pruned_without_record");
      expect(gap.length).toBeGreaterThanOrEqual(1);
      expect(gap[0]!.file).toBe(`tool_usage_tamper.${deleted + 1}.jsonl`);
      expect(gap[0]!.detail).toContain(String(deleted));
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: "chain_broken", file: `tool_usage_tamper.${deleted + 1}.jsonl` }));
    });

    it(`a deleted ${which} segment is the only segment reported missing`, async () => {
      const report = await tamperedReport((p, sid) => fs.rmSync(kindPath(p, "tool_usage", sid, which === "first" ? 1 : 3)), true);
      expect(report.problems.filter((x) => x.kind === "segment_missing" || x.kind === "pruned_without_record")).toHaveLength(1);
    });
  }

  it("a garbage line in the middle: malformed_line", async () => {
    const report = await tamperedReport((p, sid) => editLines(kindPath(p, "chat_interaction", sid), (lines) => [...lines.slice(0, 5), "{not json", ...lines.slice(5)]));
    expect(kinds(report)).toContain("malformed_line");
  });

  it("a record copied into another session's file: wrong_session", async () => {
    const projectPath = tmpProject();
    await richLog(projectPath, "sess_a", { rotate: false });
    const other = new AuditLogger({ sessionId: "sess_b", projectPath });
    await other.finalizeSession();
    fs.writeFileSync(kindPath(projectPath, "error", "sess_b"), fs.readFileSync(kindPath(projectPath, "error", "sess_a")));
    const report = await verifyAuditLog(auditDirOf(projectPath));
    expect(report.problems).toEqual([expect.objectContaining({ kind: "wrong_session", file: "errors_sess_b.jsonl" })]);
  });

  it("content files: altered, deleted, and a manifest that disagrees", async () => {
    const projectPath = tmpProject();
    await richLog(projectPath, "content", { rotate: false });
    const chats = readKind(projectPath, "chat_interaction", "content");
    const dir = auditDirOf(projectPath);
    const ref = (i: number, role: "prompt" | "response") => path.join(dir, (chats[i]!.fullContent as Record<string, { file: string }>)[role]!.file);
    fs.appendFileSync(ref(0, "prompt"), "!");
    fs.rmSync(ref(1, "response"));
    const manifest = path.join(dir, (chats[2]!.fullContent as { manifest: string }).manifest);
    const m = JSON.parse(fs.readFileSync(manifest, "utf8")) as Record<string, unknown>;
    fs.writeFileSync(manifest, JSON.stringify({ ...m, recordHash: "0".repeat(64) }));
    const report = await verifyAuditLog(dir);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: "content_mismatch", seq: 1 }),
        expect.objectContaining({ kind: "content_missing", seq: 2 }),
        expect.objectContaining({ kind: "manifest_mismatch", seq: 3 }),
      ]),
    );
    expect(report.problems).toHaveLength(3);
  });

  it("a manifest edited in any member it repeats of its record (id, session, time, file names and sizes, encryption, a renamed member): manifest_mismatch (found by the CLI pass, 2026-12-06: only recordHash and the two digests were compared, and an edit of any other member verified OK)", async () => {
    for (const encrypt of [false, true]) {
      const projectPath = tmpProject();
      await richLog(projectPath, "content", { rotate: false, encrypt });
      const chats = readKind(projectPath, "chat_interaction", "content");
      const dir = auditDirOf(projectPath);
      const edits: Array<(m: Record<string, unknown>) => Record<string, unknown>> = [
        (m) => ({ ...m, interactionId: chats[0]!.id }),
        (m) => ({ ...m, sessionId: "other" }),
        (m) => ({ ...m, createdAt: "2020-01-01T00:00:00.000Z" }),
        (m) => ({ ...m, encrypted: !m.encrypted }),
        (m) => ({ ...m, files: { ...(m.files as object), prompt: { ...(m.files as { prompt: object }).prompt, bytes: 1 } } }),
        (m) => ({ ...m, files: { ...(m.files as object), response: { ...(m.files as { response: object }).response, file: "full_interactions/elsewhere.txt" } } }),
        (m) => {
          const { interactionId, ...rest } = m;
          return { ...rest, XnteractionId: interactionId };
        },
        (m) => ({ ...m, note: "added" }),
      ];
      edits.forEach((edit, i) => {
        const manifest = path.join(dir, (chats[i + 1]!.fullContent as { manifest: string }).manifest);
        fs.writeFileSync(manifest, JSON.stringify(edit(JSON.parse(fs.readFileSync(manifest, "utf8")) as Record<string, unknown>), null, 2) + "\n");
      });
      const report = await verifyAuditLog(dir);
      expect(report.problems, `encrypted: ${encrypt}`).toEqual(edits.map((_e, i) => expect.objectContaining({ kind: "manifest_mismatch", seq: i + 2 })));
    }
  });

  it("a content file left empty (created, then the process killed before its write, as a SIGKILL did in the durability operator pass) or cut short: content_missing, the loss window, as a file never created (it was content_mismatch, which reads as tampering)", async () => {
    const projectPath = tmpProject();
    await richLog(projectPath, "emptied", { rotate: false });
    const chats = readKind(projectPath, "chat_interaction", "emptied");
    const dir = auditDirOf(projectPath);
    const ref = (i: number, role: "prompt" | "response") => path.join(dir, (chats[i]!.fullContent as Record<string, { file: string }>)[role]!.file);
    fs.truncateSync(ref(0, "prompt"), 0);
    fs.truncateSync(ref(1, "response"), 0);
    // and one cut short (a write the disk refused part of: EFBIG, ENOSPC)
    fs.truncateSync(ref(2, "prompt"), Math.floor(fs.statSync(ref(2, "prompt")).size / 2));
    const report = await verifyAuditLog(dir);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: "content_missing", seq: 1, detail: expect.stringMatching(/prompt file .* is empty/) }),
      expect.objectContaining({ kind: "content_missing", seq: 2, detail: expect.stringMatching(/response file .* is empty/) }),
      expect.objectContaining({ kind: "content_missing", seq: 3, detail: expect.stringMatching(/prompt file .* is cut short/) }),
    ]);
  });

  it("content files that are a symbolic link (to a faithful copy elsewhere) or a FIFO: content_unreadable, never read (a FIFO hung the verifier)", async () => {
    const projectPath = tmpProject();
    await richLog(projectPath, "links", { rotate: false });
    const chats = readKind(projectPath, "chat_interaction", "links");
    const dir = auditDirOf(projectPath);
    const ref = (i: number, role: "prompt" | "response") => path.join(dir, (chats[i]!.fullContent as Record<string, { file: string }>)[role]!.file);
    const copy = path.join(tmpProject(), "copy.txt");
    fs.copyFileSync(ref(0, "prompt"), copy);
    fs.rmSync(ref(0, "prompt"));
    fs.symlinkSync(copy, ref(0, "prompt"));
    fs.rmSync(ref(1, "response"));
    execFileSync("mkfifo", [ref(1, "response")]);
    const report = await verifyAuditLog(dir);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: "content_unreadable", seq: 1, detail: expect.stringMatching(/symbolic link/) }),
      expect.objectContaining({ kind: "content_unreadable", seq: 2, detail: expect.stringMatching(/not a regular file/) }),
    ]);
  });

  it("an unsigned finalized session cut at its end (the last segment deleted, the last line removed) → truncated, from its session file's heads (it verified)", async () => {
    const projectPath = tmpProject();
    const sid = "cut_end";
    const logger = new AuditLogger({ sessionId: sid, projectPath, durability: "sync", rotation: { size: "1k" } });
    for (let i = 0; i < 30; i++) logger.logToolUsage({ toolName: "t", operation: `o${i}`, parameters: { pad: "p".repeat(100) } });
    await logger.finalizeSession();
    const dir = auditDirOf(projectPath);
    expect((await verifyAuditLog(dir)).ok).toBe(true);
    // the newest file that holds records (the active file may be empty after a rotation)
    const files = listKindFiles(dir, "tool_usage", sid).map((k) => k.path);
    const newest = files.filter((p) => fs.statSync(p).size > 0).at(-1)!;
    const lines = fs.readFileSync(newest, "utf8").split("\n").filter(Boolean);
    if (lines.length === 1) fs.rmSync(newest);
    else fs.writeFileSync(newest, lines.slice(0, -1).map((l) => l + "\n").join(""));
    const r = await verifyAuditLog(dir);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.objectContaining({ kind: "truncated", seq: 30, detail: expect.stringMatching(/tool_usage chain ends at seq 29, but the finalized session file says it ended at seq 30/) })]);
  });

  it("a missing directory is a problem, not an exception", async () => {
    const report = await verifyAuditLog(path.join(tmpProject(), "nope"));
    expect(report.ok).toBe(false);
    expect(kinds(report)).toEqual(["missing_directory"]);
  });
});
