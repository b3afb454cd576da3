import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditConfig, AuditKeyError, AuditLogger, PresetConfigs, verifyAuditLog, type AuditOptions, type EncryptedValue } from "../../src/index.js";
import { decryptFile, decryptValue, valueAad } from "../../src/pipeline/encrypt.js";
import { openKeyring } from "../../src/pipeline/keyring.js";
import { keyIdOf, makeEncryptionKey } from "../../src/pipeline/keys.js";
import { fileAad } from "../../src/sink/content.js";
import { cleanupTmp, TEST_KEY, tmpProject, walk, withoutEnv } from "../helpers/index.js";
import { auditDirOf, filesContaining, readKind, testKey } from "../helpers/core.js";

const KEY_ENV = "AUDIT_LOGGER_KEY";
withoutEnv(KEY_ENV);
afterEach(cleanupTmp);

type Rec = Record<string, unknown>;
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

function encLogger(projectPath: string, sessionId: string, extra: AuditOptions = {}) {
  return new AuditLogger({ sessionId, projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, ...extra });
}

function open(projectPath: string, rec: Rec, field: string): string {
  return decryptValue(testKey(auditDirOf(projectPath)), rec[field] as EncryptedValue, valueAad(rec.id as string, field));
}

function openFile(projectPath: string, rec: Rec, role: "prompt" | "response"): string {
  const ref = (rec.fullContent as Record<string, { file: string }>)[role]!;
  return decryptFile(testKey(auditDirOf(projectPath)), fs.readFileSync(path.join(auditDirOf(projectPath), ref.file)), fileAad(rec.id as string, role)).toString("utf8");
}

describe("encrypted mode", () => {
  it("leaves no plaintext canary anywhere under audit_logs/ (bytes and file names)", async () => {
    const projectPath = tmpProject();
    const logger = encLogger(projectPath, "enc_canary");
    const c = {
      prompt: "CANARY_PROMPT_8d1f",
      response: "CANARY_RESPONSE_41aa",
      params: "CANARY_PARAMS_77c2",
      result: "CANARY_RESULT_90be",
      toolCall: "CANARY_TOOLCALL_3e5d",
      messages: "CANARY_MESSAGES_c0de",
    };
    logger.logChatInteraction({ prompt: c.prompt, response: c.response, model: "claude-3", toolCalls: [{ function: { name: "f", arguments: c.toolCall } }] });
    logger.logChatInteraction({ prompt: [{ role: "user", content: c.messages }], response: { text: c.response } });
    logger.logChatInteraction({ prompt: `long ${"x".repeat(5000)} ${c.prompt}`, response: `${c.response} ${"y".repeat(5000)}` });
    logger.logToolUsage({ toolName: "search", operation: "query", parameters: { q: c.params }, result: { hits: [c.result] } });
    logger.logToolUsage({ toolName: "search", operation: "query", parameters: c.params, result: c.result });
    await logger.finalizeSession();
    for (const canary of Object.values(c)) {
      expect(filesContaining(projectPath, canary), canary).toEqual([]);
      // a plain SHA-256 of a sensitive value would be a guessing oracle
      expect(filesContaining(projectPath, sha256(canary)), `sha256 of ${canary}`).toEqual([]);
    }
    // neither is the key itself, in any encoding
    const raw = Buffer.from(TEST_KEY, "base64");
    for (const enc of [TEST_KEY, raw.toString("hex"), raw.toString("base64url")]) expect(filesContaining(projectPath, enc)).toEqual([]);
    const names = walk(auditDirOf(projectPath)).map((p) => path.relative(auditDirOf(projectPath), p));
    expect(names.filter((n) => n.endsWith(".txt"))).toEqual([]);
    expect(names.filter((n) => n.endsWith(".txt.enc"))).toHaveLength(6);
    expect((await verifyAuditLog(auditDirOf(projectPath))).ok).toBe(true);
  });

  it("marks encrypted fields and wraps them as {$enc, kid, iv, ct}; hashes become hmac-sha256", async () => {
    const projectPath = tmpProject();
    const logger = encLogger(projectPath, "enc_shape");
    logger.logChatInteraction({ prompt: "p", response: "r", toolCalls: [{ a: 1 }] });
    logger.logToolUsage({ toolName: "t", operation: "o", parameters: { a: 1 }, result: 2 });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    const [chat] = readKind(projectPath, "chat_interaction", "enc_shape");
    // envelope encryption: values name the data key that encrypted them (wrapped by the master key)
    const kid = (chat!.promptPreview as EncryptedValue).kid;
    expect(kid).toMatch(/^[a-z0-9]{8,}$/);
    expect(chat!.encrypted).toEqual(["promptPreview", "responsePreview", "toolCalls"]);
    for (const f of ["promptPreview", "responsePreview", "toolCalls"]) {
      expect(chat![f]).toEqual({ $enc: "aes-256-gcm/v1", kid, iv: expect.stringMatching(/^[A-Za-z0-9+/]{16}$/), ct: expect.any(String) });
      expect(Buffer.from((chat![f] as EncryptedValue).iv, "base64")).toHaveLength(12);
    }
    expect(chat!.promptHash).toMatch(new RegExp(`^hmac-sha256:${kid}:[0-9a-f]{64}$`));
    expect(chat!.promptHash).not.toContain(sha256("p"));
    expect(chat!.responseHash).toMatch(new RegExp(`^hmac-sha256:${kid}:[0-9a-f]{64}$`));
    expect(chat!.promptHash).not.toBe(chat!.responseHash);
    const [tool, bare] = readKind(projectPath, "tool_usage", "enc_shape");
    expect(tool!.encrypted).toEqual(["parameters", "result"]);
    expect(tool).toMatchObject({ parametersLength: 7, resultLength: 1 });
    expect(bare).not.toHaveProperty("encrypted");
    const manifest = JSON.parse(fs.readFileSync(path.join(auditDirOf(projectPath), `full_interactions/manifest_${chat!.id as string}.json`), "utf8")) as Rec;
    expect(manifest).toMatchObject({ encrypted: true, keyId: kid });
  });

  it("the same text under the same key gives the same HMAC (searchable) but a different ciphertext", async () => {
    const projectPath = tmpProject();
    const logger = encLogger(projectPath, "enc_iv");
    for (let i = 0; i < 300; i++) logger.logChatInteraction({ prompt: "same prompt", response: "same response" });
    await logger.finalizeSession();
    const recs = readKind(projectPath, "chat_interaction", "enc_iv");
    expect(new Set(recs.map((r) => r.promptHash)).size).toBe(1);
    const ivs = recs.flatMap((r) => [(r.promptPreview as EncryptedValue).iv, (r.responsePreview as EncryptedValue).iv]);
    expect(new Set(ivs).size).toBe(ivs.length);
    expect(new Set(recs.map((r) => (r.promptPreview as EncryptedValue).ct)).size).toBe(300);
  });

  it("decrypting gives the exact original text: unicode, newlines, JSON payloads", async () => {
    const projectPath = tmpProject();
    const logger = encLogger(projectPath, "enc_round", { contentPreviewChars: 1_000_000 });
    const texts = [
      "日本語のテキスト 中文 한국어",
      "family 👩‍👩‍👧‍👦 flags 🇫🇷 skin 👍🏽",
      "combining e\u0301 a\u0308 ñ vs n\u0303",
      "line1\nline2\r\nline3\rline4\u2028\u2029end\n",
      "quotes \" \\ backslash \t tab \0 nul",
      "",
    ];
    const ids = texts.map((t, i) => logger.logChatInteraction({ prompt: t, response: texts[texts.length - 1 - i]! }));
    const params = { q: "naïve 日本 😀", nested: [1, { deep: "\n" }] };
    logger.logToolUsage({ toolName: "t", operation: "o", parameters: params, result: "résultat" });
    const toolCalls = [{ id: "c1", function: { name: "f", arguments: '{"x":"🙂"}' } }];
    logger.logChatInteraction({ prompt: "tc", toolCalls });
    await logger.finalizeSession();
    const recs = readKind(projectPath, "chat_interaction", "enc_round");
    texts.forEach((t, i) => {
      const r = recs[i]!;
      expect(r.id).toBe(ids[i]);
      expect(open(projectPath, r, "promptPreview")).toBe(t);
      expect(open(projectPath, r, "responsePreview")).toBe(texts[texts.length - 1 - i]);
      expect(openFile(projectPath, r, "prompt")).toBe(t);
      expect(openFile(projectPath, r, "response")).toBe(texts[texts.length - 1 - i]);
      expect(r.promptLength).toBe(t.length);
    });
    expect(JSON.parse(open(projectPath, recs[texts.length]!, "toolCalls"))).toEqual(toolCalls);
    const [tool] = readKind(projectPath, "tool_usage", "enc_round");
    expect(JSON.parse(open(projectPath, tool!, "parameters"))).toEqual(params);
    expect(JSON.parse(open(projectPath, tool!, "result"))).toBe("résultat");
  });

  it("round-trips a 5 MB prompt through the encrypted content file", async () => {
    const projectPath = tmpProject();
    const logger = encLogger(projectPath, "enc_5mb");
    const unit = "Lorem ipsum 日本語 😀 e\u0301\n";
    const prompt = unit.repeat(Math.ceil((5 * 1024 * 1024) / Buffer.byteLength(unit)));
    expect(Buffer.byteLength(prompt)).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    logger.logChatInteraction({ prompt, response: "ok" });
    await logger.finalizeSession();
    const [rec] = readKind(projectPath, "chat_interaction", "enc_5mb");
    expect(openFile(projectPath, rec!, "prompt") === prompt).toBe(true);
    expect(open(projectPath, rec!, "promptPreview")).toBe(prompt.slice(0, 200));
    expect(rec!.promptLength).toBe(prompt.length);
    expect(filesContaining(projectPath, "Lorem ipsum")).toEqual([]);
    expect((await verifyAuditLog(auditDirOf(projectPath))).ok).toBe(true);
  });

  it("a ciphertext moved to another record or field fails to decrypt (AAD binds id and field)", async () => {
    const projectPath = tmpProject();
    const logger = encLogger(projectPath, "enc_aad");
    logger.logChatInteraction({ prompt: "first prompt", response: "first response" });
    logger.logChatInteraction({ prompt: "second prompt", response: "second response" });
    await logger.finalizeSession();
    const [a, b] = readKind(projectPath, "chat_interaction", "enc_aad");
    const key = testKey(auditDirOf(projectPath));
    const v = a!.promptPreview as EncryptedValue;
    expect(decryptValue(key, v, valueAad(a!.id as string, "promptPreview"))).toBe("first prompt");
    expect(() => decryptValue(key, v, valueAad(b!.id as string, "promptPreview"))).toThrow(AuditKeyError);
    expect(() => decryptValue(key, v, valueAad(a!.id as string, "responsePreview"))).toThrow(AuditKeyError);
    // a flipped bit in the ciphertext is caught by the tag
    const ct = Buffer.from(v.ct, "base64");
    ct[0]! ^= 1;
    expect(() => decryptValue(key, { ...v, ct: ct.toString("base64") }, valueAad(a!.id as string, "promptPreview"))).toThrow(/altered|moved|wrong/);
    // content files: bound to their interaction and role
    const dir = auditDirOf(projectPath);
    const fileA = fs.readFileSync(path.join(dir, (a!.fullContent as Record<string, { file: string }>).prompt!.file));
    expect(decryptFile(key, fileA, fileAad(a!.id as string, "prompt")).toString()).toBe("first prompt");
    expect(() => decryptFile(key, fileA, fileAad(b!.id as string, "prompt"))).toThrow(AuditKeyError);
    expect(() => decryptFile(key, fileA, fileAad(a!.id as string, "response"))).toThrow(AuditKeyError);
    // another key cannot open it, and says which key is needed
    const other = makeEncryptionKey(randomBytes(32));
    expect(() => decryptValue(other, v, valueAad(a!.id as string, "promptPreview"))).toThrow(AuditKeyError);
    expect(() => decryptFile(other, fileA, fileAad(a!.id as string, "prompt"))).toThrow(AuditKeyError);
    // nor can another master key open the data keys in the key store
    const otherRing = openKeyring([other], dir);
    expect(() => decryptValue(otherRing, v, valueAad(a!.id as string, "promptPreview"))).toThrow(AuditKeyError);
  });
});

describe("encryption keys", () => {
  it("a preset that needs a key fails at construction without one, with AUDIT_ERR_KEY saying how to give one", () => {
    const projectPath = tmpProject();
    for (const make of [() => PresetConfigs.production("k1", projectPath), () => PresetConfigs.compliance({ sessionId: "k1", projectPath }), () => new AuditLogger({ projectPath, encryptSensitiveContent: true })]) {
      let err: unknown;
      try {
        make();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AuditKeyError);
      expect((err as AuditKeyError).code).toBe("AUDIT_ERR_KEY");
      expect((err as Error).message).toContain("encryptionKey");
      expect((err as Error).message).toContain(KEY_ENV);
    }
    expect(fs.existsSync(auditDirOf(projectPath))).toBe(false);
  });

  it("AUDIT_LOGGER_KEY from the environment is used", async () => {
    const projectPath = tmpProject();
    process.env[KEY_ENV] = TEST_KEY;
    const config = PresetConfigs.production("env_key", projectPath);
    expect(config.encryptionKeyId).toBe(keyIdOf(Buffer.from(TEST_KEY, "base64")));
    const logger = new AuditLogger(config);
    logger.logChatInteraction({ prompt: "from env", response: "ok" });
    await logger.finalizeSession();
    const [rec] = readKind(projectPath, "chat_interaction", "env_key");
    expect(open(projectPath, rec!, "promptPreview")).toBe("from env");
  });

  it("the encryptionKey option wins over the environment; a 64-hex-digit key works too", () => {
    const projectPath = tmpProject();
    process.env[KEY_ENV] = randomBytes(32).toString("base64");
    const hex = Buffer.from(TEST_KEY, "base64").toString("hex");
    const config = new AuditConfig({ projectPath, encryptSensitiveContent: true, encryptionKey: hex });
    expect(config.encryptionKeyId).toBe(keyIdOf(Buffer.from(TEST_KEY, "base64")));
    const bytes = new AuditConfig({ projectPath, encryptSensitiveContent: true, encryptionKey: new Uint8Array(Buffer.from(TEST_KEY, "base64")) });
    expect(bytes.encryptionKeyId).toBe(config.encryptionKeyId);
  });

  it("a wrong-length or malformed key is refused, and the message never contains the key", () => {
    const projectPath = tmpProject();
    const bad = [randomBytes(16).toString("base64"), randomBytes(33).toString("base64"), "not a key at all, 32 bytes long!", randomBytes(31).toString("hex")];
    for (const key of bad) {
      for (const viaEnv of [false, true]) {
        if (viaEnv) process.env[KEY_ENV] = key;
        else delete process.env[KEY_ENV];
        let err: unknown;
        try {
          new AuditConfig({ projectPath, encryptSensitiveContent: true, ...(viaEnv ? {} : { encryptionKey: key }) });
        } catch (e) {
          err = e;
        }
        expect(err, `${viaEnv ? "env" : "option"} ${key.length}`).toBeInstanceOf(AuditKeyError);
        expect((err as AuditKeyError).code).toBe("AUDIT_ERR_KEY");
        expect((err as Error).message).not.toContain(key);
        expect((err as Error).message).not.toContain(key.slice(0, 12));
        expect((err as Error).message).toMatch(viaEnv ? /AUDIT_LOGGER_KEY/ : /encryptionKey/);
      }
    }
    // even when encryption is off, a bad key is reported rather than silently ignored
    expect(() => new AuditConfig({ projectPath, encryptionKey: "short" })).toThrow(AuditKeyError);
  });
});
