import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/logger.js";
import { AuditViewer } from "../../src/reader/viewer.js";
import { verifyAuditLog } from "../../src/reader/verify.js";
import { cleanupTmp, readJsonl, TEST_KEY, tmpProject } from "../helpers/index.js";

afterEach(cleanupTmp);

const UNICODE = "héllo wörld — 日本語のテキスト 🧪👩‍👩‍👧 עברית e\u0301 \u0000 tab\tend\r\nline2 \ud834\udd1e";
const MB_PROMPT = "α".repeat(300_000) + "x".repeat(500_000) + "🙂".repeat(60_000); // > 1 MB of UTF-8
const MB_RESPONSE = "response line, with, commas\n".repeat(40_000);

async function build(encrypted: boolean) {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId: encrypted ? "enc" : "plain", projectPath, ...(encrypted ? { encryptSensitiveContent: true, encryptionKey: TEST_KEY } : {}) });
  const ids = {
    unicode: logger.logChatInteraction({ prompt: UNICODE, response: [...UNICODE].reverse().join(""), model: "m" }),
    big: logger.logChatInteraction({ prompt: MB_PROMPT, response: MB_RESPONSE, model: "m" }),
    messages: logger.logChatInteraction({ prompt: [{ role: "user", content: "structured ✓" }], response: { text: "ok" }, model: "m" }),
    empty: logger.logChatInteraction({ prompt: "only a prompt", model: "m" }),
  };
  await logger.finalizeSession();
  return { auditPath: path.join(projectPath, "audit_logs"), ids };
}

describe("getFullInteractionContent", () => {
  for (const encrypted of [false, true]) {
    it(`returns the exact texts, verified (${encrypted ? "encrypted" : "plain"})`, async () => {
      const { auditPath, ids } = await build(encrypted);
      expect(Buffer.byteLength(MB_PROMPT)).toBeGreaterThan(1_000_000);
      const v = new AuditViewer({ auditPath, ...(encrypted ? { encryptionKey: TEST_KEY } : {}) });
      const u = await v.getFullInteractionContent(ids.unicode);
      expect(u).toMatchObject({ prompt: UNICODE, response: [...UNICODE].reverse().join(""), encrypted, verified: true });
      expect(u!.checks).toEqual({ files: true, manifest: true, contentHashes: true, record: true });
      const big = await v.getFullInteractionContent(ids.big);
      expect(big!.prompt === MB_PROMPT && big!.response === MB_RESPONSE).toBe(true);
      expect(big!.verified).toBe(true);
      expect(big!.manifest).toMatchObject({ interactionId: ids.big, encrypted });
      const m = await v.getFullInteractionContent(ids.messages);
      expect(m!.promptFormat).toBe("json");
      expect(JSON.parse(m!.prompt!)).toEqual([{ role: "user", content: "structured ✓" }]);
      expect(JSON.parse(m!.response!)).toEqual({ text: "ok" });
      const e = await v.getFullInteractionContent(ids.empty);
      expect(e).toMatchObject({ prompt: "only a prompt", response: "", verified: true });
      expect(await v.getFullInteractionContent("01NOSUCHID")).toBeNull();
    });
  }

  it("without a key: encrypted, texts null, no ciphertext posing as text", async () => {
    const { auditPath, ids } = await build(true);
    const saved = process.env.AUDIT_LOGGER_KEY;
    delete process.env.AUDIT_LOGGER_KEY;
    try {
      const c = await new AuditViewer({ auditPath }).getFullInteractionContent(ids.unicode);
      expect(c).toMatchObject({ encrypted: true, prompt: null, response: null, verified: true });
      expect(c!.checks).toEqual({ files: true, manifest: true, contentHashes: null, record: true });
      const wrong = await new AuditViewer({ auditPath, encryptionKey: Buffer.alloc(32, 1) }).getFullInteractionContent(ids.unicode);
      expect(wrong).toMatchObject({ encrypted: true, prompt: null, response: null });
      expect(wrong!.problems.join(" ")).toMatch(/cannot be opened/);
    } finally {
      if (saved !== undefined) process.env.AUDIT_LOGGER_KEY = saved;
    }
  });

  it("a changed file, manifest or record digest makes verified false", async () => {
    const { auditPath, ids } = await build(false);
    const v = new AuditViewer({ auditPath });
    const rec = readJsonl(path.join(auditPath, "chat_interactions_plain.jsonl")).find((r) => r.id === ids.unicode)!;
    const refs = rec.fullContent as { prompt: { file: string }; response: { file: string }; manifest: string };
    // same length, different bytes
    const pf = path.join(auditPath, refs.prompt.file);
    const bytes = fs.readFileSync(pf);
    bytes[0] = bytes[0]! ^ 1;
    fs.writeFileSync(pf, bytes);
    const c = await v.getFullInteractionContent(ids.unicode);
    expect(c!.verified).toBe(false);
    expect(c!.checks.files).toBe(false);
    expect(c!.checks.contentHashes).toBe(false);
    expect(c!.problems.join("\n")).toMatch(/differs from the digest/);

    const mf = path.join(auditPath, refs.manifest);
    const manifest = JSON.parse(fs.readFileSync(mf, "utf8")) as Record<string, unknown>;
    const other = readJsonl(path.join(auditPath, "chat_interactions_plain.jsonl")).find((r) => r.id === ids.empty)!;
    const mf2 = path.join(auditPath, (other.fullContent as { manifest: string }).manifest);
    fs.writeFileSync(mf2, JSON.stringify({ ...(JSON.parse(fs.readFileSync(mf2, "utf8")) as object), recordHash: "0".repeat(64) }));
    const e = await v.getFullInteractionContent(ids.empty);
    expect(e!.checks).toEqual({ files: true, manifest: false, contentHashes: true, record: true });
    expect(e!.verified).toBe(false);
    expect(manifest.interactionId).toBe(ids.unicode);

    fs.rmSync(path.join(auditPath, (readJsonl(path.join(auditPath, "chat_interactions_plain.jsonl")).find((r) => r.id === ids.messages)!.fullContent as { response: { file: string } }).response.file));
    const gone = await v.getFullInteractionContent(ids.messages);
    expect(gone).toMatchObject({ response: null, verified: false });
    expect(gone!.problems.join(" ")).toMatch(/missing/);
  });
});

describe("content rewritten together with the digests in its record", () => {
  // (found by the viewer pass, 2026-12-05: the record's fullContent digests, promptHash/responseHash
  // and the manifest's digests are all plain SHA-256 of a log that is not encrypted, so whoever
  // rewrote the prompt file could rewrite them too; the manifest's recordHash was compared with the
  // record's own `hash` member, never with a hash computed over the record, and the chat page said
  // "✓ content verified" of a rewritten prompt while verify said record_modified)
  for (const encrypted of [false, true]) {
    it(`is not verified: the record does not match its own hash (checks.record false) (${encrypted ? "encrypted, with the key" : "plain"})`, async () => {
      const { auditPath, ids } = await build(encrypted);
      const sid = encrypted ? "enc" : "plain";
      const file = path.join(auditPath, `chat_interactions_${sid}.jsonl`);
      const v = new AuditViewer({ auditPath, ...(encrypted ? { encryptionKey: TEST_KEY } : {}) });
      const before = await v.getFullInteractionContent(ids.empty);
      expect(before!.verified).toBe(true);
      expect(before!.checks.record).toBe(true);
      if (encrypted) {
        // an encrypted record cannot be rewritten without the key; edit a member outside the ciphertexts
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/("id":"[^"]*","type":"chat_interaction"[^\n]*?"model":")m"/g, (all, head: string) => (all.includes(ids.empty) ? `${head}forged"` : all)));
      } else {
        const forged = "a forged prompt";
        const digest = createHash("sha256").update(forged).digest("hex");
        const lines = fs.readFileSync(file, "utf8").split("\n");
        const i = lines.findIndex((l) => l.includes(ids.empty));
        const rec = JSON.parse(lines[i]!) as Record<string, unknown>;
        const refs = rec.fullContent as { prompt: { file: string; bytes: number; sha256: string }; manifest: string };
        fs.writeFileSync(path.join(auditPath, refs.prompt.file), forged);
        refs.prompt.bytes = forged.length;
        refs.prompt.sha256 = digest;
        rec.promptHash = `sha256:${digest}`;
        rec.promptPreview = forged;
        rec.promptLength = forged.length;
        lines[i] = JSON.stringify(rec); // the old hash member kept: no chain rewritten
        fs.writeFileSync(file, lines.join("\n"));
        const mf = path.join(auditPath, refs.manifest);
        const manifest = JSON.parse(fs.readFileSync(mf, "utf8")) as { files: { prompt: { sha256: string; bytes: number } } };
        manifest.files.prompt.sha256 = digest;
        manifest.files.prompt.bytes = forged.length;
        fs.writeFileSync(mf, JSON.stringify(manifest));
      }
      const report = await verifyAuditLog(auditPath);
      expect(report.problems.map((p) => p.kind)).toContain("record_modified");
      const c = await v.getFullInteractionContent(ids.empty);
      if (!encrypted) expect(c!.prompt).toBe("a forged prompt");
      expect(c!.checks.record).toBe(false);
      expect(c!.verified).toBe(false);
      expect(c!.problems.join("\n")).toMatch(/record .* does not match its own hash/);
    });
  }
});

describe("content files are read only as regular files inside the audit directory", () => {
  it("a content file that is a symbolic link (to a file outside), a FIFO, or reached through a linked directory is not read: no text, a problem saying why; the other files still are", async () => {
    const { auditPath, ids } = await build(false);
    const outside = path.join(tmpProject(), "secret.txt");
    fs.writeFileSync(outside, "the reader's own secret file");
    const refsOf = (id: string) => readJsonl(path.join(auditPath, "chat_interactions_plain.jsonl")).find((r) => r.id === id)!.fullContent as { prompt: { file: string }; response: { file: string }; manifest: string };
    const linked = path.join(auditPath, refsOf(ids.unicode).prompt.file);
    fs.rmSync(linked);
    fs.symlinkSync(outside, linked);
    const fifo = path.join(auditPath, refsOf(ids.messages).response.file);
    fs.rmSync(fifo);
    execFileSync("mkfifo", [fifo]);
    const v = new AuditViewer({ auditPath });
    const u = await v.getFullInteractionContent(ids.unicode);
    expect(u!.prompt).toBeNull();
    expect(JSON.stringify(u)).not.toContain("secret file");
    expect(u!.response).toBe([...UNICODE].reverse().join(""));
    expect(u!.verified).toBe(false);
    expect(u!.problems.join("\n")).toMatch(/is a symbolic link/);
    // (a FIFO would block the reader for good, waiting for a writer)
    const m = await v.getFullInteractionContent(ids.messages);
    expect(m!.response).toBeNull();
    expect(m!.problems.join("\n")).toMatch(/not a regular file/);
    // the whole content directory replaced by a link to a copy of it elsewhere
    const elsewhere = path.join(tmpProject(), "content");
    fs.cpSync(path.join(auditPath, "full_interactions"), elsewhere, { recursive: true, filter: (src) => !src.endsWith(path.basename(fifo)) });
    fs.rmSync(path.join(auditPath, "full_interactions"), { recursive: true });
    fs.symlinkSync(elsewhere, path.join(auditPath, "full_interactions"));
    const e = await v.getFullInteractionContent(ids.empty);
    expect(e!.prompt).toBeNull();
    expect(e!.problems.join("\n")).toMatch(/outside the audit directory/);
  });
});

describe("getFullInteractionContent of a part not captured", () => {
  for (const encrypted of [false, true]) {
    it(`says so, with no text, and checks the part that was (it read back an empty prompt, verified) (${encrypted ? "encrypted" : "plain"})`, async () => {
      const projectPath = tmpProject();
      const logger = new AuditLogger({ sessionId: "uncaptured", projectPath, ...(encrypted ? { encryptSensitiveContent: true, encryptionKey: TEST_KEY } : {}) });
      const id = logger.logChatInteraction({ prompt: "ignored", promptCaptured: false, response: "the answer", model: "m", userId: "u1" });
      const none = logger.logChatInteraction({ prompt: "", promptCaptured: false, responseCaptured: false, model: "m" });
      await logger.finalizeSession();
      const v = new AuditViewer({ auditPath: path.join(projectPath, "audit_logs"), ...(encrypted ? { encryptionKey: TEST_KEY } : {}) });
      const c = await v.getFullInteractionContent(id);
      expect(c).toMatchObject({ prompt: null, promptCaptured: false, response: "the answer", responseCaptured: true, verified: true });
      expect(c!.checks).toEqual({ files: true, manifest: true, contentHashes: true, record: true });
      // neither part: no content at all
      expect(await v.getFullInteractionContent(none)).toBeNull();
      const [rec] = readJsonl(path.join(projectPath, "audit_logs", "chat_interactions_uncaptured.jsonl"));
      expect(JSON.stringify(rec)).not.toContain("ignored");
    });
  }
});

// Review leftover, 2026-12-05: a content file was read whole whatever its size. A planted sparse
// file of GiBs (KiB on disk) under a record's content name was read into memory, or, past 2 GiB,
// reported as "cannot be read" (verify: content_unreadable) instead of as not matching its record.
describe("a content file longer than its record says", () => {
  it("is not read: the viewer and verify say it does not match its record; a manifest past 64 KiB is not read either", async () => {
    const { auditPath, ids } = await build(false);
    const rec = readJsonl(path.join(auditPath, "chat_interactions_plain.jsonl")).find((r) => r.id === ids.unicode)!;
    const refs = rec.fullContent as { prompt: { file: string; bytes: number }; response: { file: string }; manifest: string };
    const rf = path.join(auditPath, refs.response.file);
    fs.truncateSync(rf, 3 * 1024 ** 3); // sparse: 3 GiB long, nothing on disk
    fs.truncateSync(path.join(auditPath, refs.manifest), 3 * 1024 ** 3);
    const c = await new AuditViewer({ auditPath }).getFullInteractionContent(ids.unicode);
    expect(c).toMatchObject({ response: null, verified: false, checks: { files: false, manifest: false } });
    expect(c!.prompt).toBe(UNICODE); // the other file still is read
    expect(c!.problems).toContain(`${refs.response.file} differs from the digest in its record (${3 * 1024 ** 3} bytes, the record says ${(rec.fullContent as { response: { bytes: number } }).response.bytes}): not read`);
    expect(c!.problems).toContain(`${refs.manifest} is ${3 * 1024 ** 3} bytes, more than a manifest holds: not read`);

    const report = await verifyAuditLog(auditPath);
    const mine = report.problems.filter((p) => p.file === refs.response.file || p.file === refs.manifest);
    expect(mine.map((p) => p.kind).sort()).toEqual(["content_mismatch", "content_missing"]);
    expect(mine.find((p) => p.kind === "content_mismatch")!.detail).toContain(`is ${3 * 1024 ** 3} bytes, its record says`);
  });
});
