import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, auditContext, GENESIS_HASH, PresetConfigs, RECORD_KINDS, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, filesContaining, hasLoneSurrogate, readKind, readKindLines } from "../helpers/core.js";

afterEach(cleanupTmp);

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ENVELOPE_HEAD = ["id", "type", "sessionId", "timestamp", "seq", "prevHash"];
const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

function logOneOfEach(logger: AuditLogger) {
  return {
    chat_interaction: logger.logChatInteraction({
      interactionType: "api_request",
      prompt: "What is the weather?",
      response: "Sunny.",
      model: "claude-3",
      provider: "anthropic",
      tokensUsed: 45,
      inputTokens: 30,
      outputTokens: 15,
      durationSeconds: 1.2,
      finishReason: "stop",
      persona: "assistant",
      statusCode: 200,
      metadata: { route: "/chat" },
    }),
    persona_activity: logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: "made a plan", durationSeconds: 0.5, success: true, details: { steps: 3 } }),
    tool_usage: logger.logToolUsage({ toolName: "weather_api", operation: "get_forecast", parameters: { city: "Paris" }, result: { c: 21 }, durationSeconds: 0.1, persona: "assistant" }),
    file_operation: logger.logFileOperation({ operation: "modify", filePath: "/srv/data.txt", fileSize: 123, fileHash: "sha256:abc", details: { lines: 4 } }),
    performance_metric: logger.logPerformanceMetric({ metricName: "latency", value: 12.5, unit: "ms", context: { endpoint: "/chat" } }),
    error: logger.logError({ errorType: "RateLimit", message: "slow down", stackTrace: "at x", severity: "warning", context: { retry: 2 } }),
  };
}

describe("records of each kind", () => {
  it("parse and carry the documented fields, envelope first and hash last", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_all", projectPath });
    const ids = logOneOfEach(logger);
    await logger.finalizeSession();
    for (const kind of RECORD_KINDS) {
      const lines = readKindLines(projectPath, kind, "rec_all");
      expect(lines, kind).toHaveLength(1);
      const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
      const keys = Object.keys(rec);
      expect(keys.slice(0, 6), kind).toEqual(ENVELOPE_HEAD);
      expect(keys.at(-1), kind).toBe("hash");
      expect(rec.id).toBe(ids[kind]);
      expect(rec.type).toBe(kind);
      expect(rec.sessionId).toBe("rec_all");
      expect(rec.timestamp).toMatch(ISO_UTC);
      expect(Math.abs(Date.parse(rec.timestamp as string) - Date.now())).toBeLessThan(60_000);
      expect(rec.seq).toBe(1);
      expect(rec.prevHash).toBe(GENESIS_HASH);
      expect(rec.hash).toMatch(/^[0-9a-f]{64}$/);
      // the line is the compact JSON of the object: one line, no spaces added
      expect(lines[0]).toBe(JSON.stringify(rec));
    }
    const [chat] = readKind(projectPath, "chat_interaction", "rec_all");
    expect(chat).toMatchObject({
      interactionType: "api_request",
      model: "claude-3",
      provider: "anthropic",
      persona: "assistant",
      promptPreview: "What is the weather?",
      responsePreview: "Sunny.",
      promptLength: 20,
      responseLength: 6,
      tokensUsed: 45,
      inputTokens: 30,
      outputTokens: 15,
      durationSeconds: 1.2,
      finishReason: "stop",
      success: true,
      statusCode: 200,
      metadata: { route: "/chat" },
    });
    expect(readKind(projectPath, "persona_activity", "rec_all")[0]).toMatchObject({ personaName: "planner", activityType: "plan", description: "made a plan", durationSeconds: 0.5, success: true, details: { steps: 3 } });
    expect(readKind(projectPath, "tool_usage", "rec_all")[0]).toMatchObject({
      toolName: "weather_api",
      operation: "get_forecast",
      parameters: { city: "Paris" },
      result: { c: 21 },
      parametersLength: JSON.stringify({ city: "Paris" }).length,
      resultLength: JSON.stringify({ c: 21 }).length,
      success: true,
      durationSeconds: 0.1,
      persona: "assistant",
    });
    expect(readKind(projectPath, "file_operation", "rec_all")[0]).toMatchObject({ operation: "modify", filePath: "/srv/data.txt", fileSize: 123, fileHash: "sha256:abc", success: true, details: { lines: 4 } });
    expect(readKind(projectPath, "performance_metric", "rec_all")[0]).toMatchObject({ metricName: "latency", value: 12.5, unit: "ms", context: { endpoint: "/chat" } });
    expect(readKind(projectPath, "error", "rec_all")[0]).toMatchObject({ errorType: "RateLimit", message: "slow down", stackTrace: "at x", severity: "warning", context: { retry: 2 } });
  });

  it("logError(Error) keeps the name, message, stack and code; errorMessage implies success false", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_err", projectPath });
    class QuotaError extends Error {
      code = "E_QUOTA";
    }
    const e = new QuotaError("quota exceeded");
    e.name = "QuotaError";
    logger.logError(e, { step: "ask" });
    logger.logError(new TypeError("bad"));
    logger.logToolUsage({ toolName: "t", operation: "o", errorMessage: "timeout" });
    logger.logChatInteraction({ prompt: "p", errorMessage: "HTTP 500", statusCode: 500 });
    await logger.finalizeSession();
    const [a, b] = readKind(projectPath, "error", "rec_err");
    expect(a).toMatchObject({ errorType: "QuotaError", message: "quota exceeded", severity: "error", context: { code: "E_QUOTA", step: "ask" } });
    expect(a!.stackTrace).toContain("quota exceeded");
    expect(a!.stackTrace).toContain("records.test.ts");
    expect(b).toMatchObject({ errorType: "TypeError", message: "bad", severity: "error" });
    expect(readKind(projectPath, "tool_usage", "rec_err")[0]).toMatchObject({ success: false, errorMessage: "timeout" });
    expect(readKind(projectPath, "chat_interaction", "rec_err")[0]).toMatchObject({ success: false, errorMessage: "HTTP 500", statusCode: 500, responseLength: 0 });
  });

  it("logError takes an Error of another realm (it threw into the app), names a subclass that leaves name as \"Error\" by its class, and leaves out a stack that is not text", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_err2", projectPath });
    const OtherRealm = vm.runInNewContext("class RateLimitError extends Error {}; RateLimitError") as new (m: string) => Error;
    class APIError extends Error {}
    class RateLimitError extends APIError {}
    const odd = new Error("odd stack");
    (odd as { stack: unknown }).stack = { frames: 3 };
    logger.logError(new OtherRealm("slow down"));
    logger.logError(new RateLimitError("429"));
    logger.logError(odd);
    await logger.finalizeSession();
    const [a, b, c] = readKind(projectPath, "error", "rec_err2");
    expect(a).toMatchObject({ errorType: "RateLimitError", message: "slow down" });
    expect(String(a!.stackTrace)).toContain("slow down");
    expect(b).toMatchObject({ errorType: "RateLimitError", message: "429" });
    expect(c).toMatchObject({ errorType: "Error", message: "odd stack" });
    expect(c).not.toHaveProperty("stackTrace");
  });

  it("logFileOperation takes exactly API.md's six operations (create, read, modify, delete, move, copy) and records each as given", async () => {
    // (only create, read, modify and move were exercised anywhere; found by the API.md audit, 2026-12-05)
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "fileops", projectPath });
    const ops = ["create", "read", "modify", "delete", "move", "copy"] as const;
    for (const operation of ops) logger.logFileOperation({ operation, filePath: `f_${operation}` });
    for (const operation of ["rename", "write", "CREATE", ""]) expect(() => logger.logFileOperation({ operation: operation as never, filePath: "x" }), operation).toThrow(/operation: must be one of create, read, modify, delete, move, copy/);
    await logger.finalizeSession();
    expect(readKind(projectPath, "file_operation", "fileops").map((r) => [r.operation, r.filePath, r.seq])).toEqual(ops.map((o, i) => [o, `f_${o}`, i + 1]));
  });

  it("tokensUsed not given is the sum of inputTokens and outputTokens when either is given, left out with neither; given counts are kept as given (README, Quick start)", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "tokens", projectPath });
    logger.logChatInteraction({ prompt: "a", inputTokens: 10, outputTokens: 5 });
    logger.logChatInteraction({ prompt: "b", outputTokens: 7 });
    logger.logChatInteraction({ prompt: "c" });
    logger.logChatInteraction({ prompt: "d", tokensUsed: 3, inputTokens: 10, outputTokens: 5 });
    await logger.finalizeSession();
    expect(readKind(projectPath, "chat_interaction", "tokens").map((r) => [r.tokensUsed, r.inputTokens, r.outputTokens])).toEqual([
      [15, 10, 5],
      [7, undefined, 7],
      [undefined, undefined, undefined],
      [3, 10, 5],
    ]);
  });

  it("context fields (traceId, parentId, userId) follow prevHash, in that order, and metadata merges", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_ctx", projectPath });
    auditContext.run({ traceId: "trace-1", userId: "user-9", parentId: "parent-3", persona: "helper", metadata: { tenant: "acme", a: 1 } }, () => {
      logger.logToolUsage({ toolName: "t", operation: "o", metadata: { a: 2 } });
    });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    const [inside, outside] = readKind(projectPath, "tool_usage", "rec_ctx");
    expect(Object.keys(inside!).slice(0, 9)).toEqual([...ENVELOPE_HEAD, "traceId", "parentId", "userId"]);
    expect(inside).toMatchObject({ traceId: "trace-1", parentId: "parent-3", userId: "user-9", persona: "helper", metadata: { tenant: "acme", a: 2 } });
    expect(outside).not.toHaveProperty("traceId");
    expect(outside).not.toHaveProperty("userId");
    expect(outside).not.toHaveProperty("parentId");
    expect(outside).not.toHaveProperty("metadata");
  });

  it("ids are unique and sort in creation order, across kinds; seq counts 1,2,3 per kind", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_ids", projectPath, fullContentLogging: false });
    const returned: string[] = [];
    for (let i = 0; i < 600; i++) {
      if (i % 3 === 0) returned.push(logger.logPerformanceMetric({ metricName: "m", value: i, unit: "n" }));
      else if (i % 3 === 1) returned.push(logger.logToolUsage({ toolName: "t", operation: "o" }));
      else returned.push(logger.logChatInteraction({ prompt: String(i) }));
    }
    await logger.finalizeSession();
    expect(new Set(returned).size).toBe(600);
    expect([...returned].sort()).toEqual(returned);
    for (const id of returned) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    for (const kind of ["performance_metric", "tool_usage", "chat_interaction"] as const) {
      const recs = readKind(projectPath, kind, "rec_ids");
      expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      for (let i = 1; i < recs.length; i++) expect(recs[i]!.prevHash).toBe(recs[i - 1]!.hash);
    }
    const onDisk = RECORD_KINDS.flatMap((k) => readKind(projectPath, k, "rec_ids")).map((r) => r.id as string);
    expect(new Set(onDisk)).toEqual(new Set(returned));
  });

  it("a caller-chosen id is used as given", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_cid", projectPath });
    expect(logger.logChatInteraction({ id: "req_42-a", prompt: "x" })).toBe("req_42-a");
    await logger.finalizeSession();
    expect(readKind(projectPath, "chat_interaction", "rec_cid")[0]!.id).toBe("req_42-a");
    expect(fs.existsSync(path.join(auditDirOf(projectPath), "full_interactions", "prompt_req_42-a.txt"))).toBe(true);
  });

  // Core bug (reported): a caller-chosen id used twice makes the second chat overwrite the first
  // one's content files, so an untampered log fails verification (content_mismatch). The second
  // call should be refused (AuditValidationError on "id"), or must not touch the first's files.
  it("a reused caller-chosen id never corrupts the earlier record's content", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_dup", projectPath });
    logger.logChatInteraction({ id: "dup", prompt: "first" });
    try {
      logger.logChatInteraction({ id: "dup", prompt: "second" });
    } catch (err) {
      expect((err as { code?: string }).code).toBe("AUDIT_ERR_VALIDATION");
    }
    await logger.finalizeSession();
    expect(fs.readFileSync(path.join(auditDirOf(projectPath), "full_interactions", "prompt_dup.txt"), "utf8")).toBe("first");
    expect((await verifyAuditLog(auditDirOf(projectPath))).problems).toEqual([]);
  });

  it("an id reused from an earlier session is refused, also when the app marks its input like the kit's fresh ids", async () => {
    // the kit's integrations mark ids they made for the call (no content files can exist for
    // them); that mark is a symbol of the package's own, which no app can name
    const projectPath = tmpProject();
    const first = new AuditLogger({ sessionId: "rec_dup_a", projectPath });
    first.logChatInteraction({ id: "dup-across", prompt: "first" });
    await first.finalizeSession();
    const second = new AuditLogger({ sessionId: "rec_dup_b", projectPath });
    const lookAlike = { id: "dup-across", prompt: "second", [Symbol.for("audit-logger.fresh-id")]: true, [Symbol("audit-logger.fresh-id")]: true };
    expect(() => second.logChatInteraction(lookAlike)).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION" }));
    await second.finalizeSession();
    expect(fs.readFileSync(path.join(auditDirOf(projectPath), "full_interactions", "prompt_dup-across.txt"), "utf8")).toBe("first");
    expect((await verifyAuditLog(auditDirOf(projectPath))).problems).toEqual([]);
  });
});

describe("previews, lengths and content hashes", () => {
  it("previews are contentPreviewChars long and never split a surrogate pair", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_prev", projectPath, contentPreviewChars: 10 });
    const emojiAtCut = "abcdefghi😀tail"; // the emoji's high surrogate is unit 10
    const emojiBeforeCut = "abcdefgh😀tail"; // the emoji ends exactly at unit 10
    const short = "short";
    const cjk = "日本語のテキストです。長い文章";
    for (const p of [emojiAtCut, emojiBeforeCut, short, cjk]) logger.logChatInteraction({ prompt: p, response: Array.from(p).reverse().join("") });
    await logger.finalizeSession();
    const recs = readKind(projectPath, "chat_interaction", "rec_prev");
    const previews = recs.map((r) => r.promptPreview as string);
    expect(previews).toEqual(["abcdefghi", "abcdefgh😀", "short", "日本語のテキストです"]);
    for (const r of recs) {
      expect(hasLoneSurrogate(r.promptPreview as string)).toBe(false);
      expect(hasLoneSurrogate(r.responsePreview as string)).toBe(false);
      expect((r.responsePreview as string).length).toBeLessThanOrEqual(10);
    }
    expect(recs.map((r) => r.promptLength)).toEqual([emojiAtCut.length, emojiBeforeCut.length, 5, cjk.length]);
  });

  it("the default preview is 200 characters; lengths are UTF-16 lengths of the whole text", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_prev200", projectPath });
    const prompt = "x".repeat(1000) + "end";
    const response = "é".repeat(300);
    logger.logChatInteraction({ prompt, response });
    await logger.finalizeSession();
    const [r] = readKind(projectPath, "chat_interaction", "rec_prev200");
    expect(r!.promptPreview).toBe("x".repeat(200));
    expect(r!.responsePreview).toBe("é".repeat(200));
    expect(r!.promptLength).toBe(1003);
    expect(r!.responseLength).toBe(300);
  });

  it("contentPreviewChars: 0 stores no preview", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_prev0", projectPath, contentPreviewChars: 0 });
    logger.logChatInteraction({ prompt: "hello", response: "world" });
    await logger.finalizeSession();
    const [r] = readKind(projectPath, "chat_interaction", "rec_prev0");
    expect(r).not.toHaveProperty("promptPreview");
    expect(r).not.toHaveProperty("responsePreview");
    expect(r!.promptLength).toBe(5);
  });

  it('promptHash / responseHash are "sha256:" + SHA-256 of the UTF-8 text when unencrypted', async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_hash", projectPath });
    const prompt = "Grüße 👋 日本\nline two";
    logger.logChatInteraction({ prompt, response: "ok" });
    logger.logChatInteraction({ prompt: "no response" });
    // a lone surrogate: UTF-8 has no form for it (U+FFFD is stored, and hashed)
    const lone = "half \uD83D of an emoji";
    logger.logChatInteraction({ prompt: lone, response: "r" });
    await logger.finalizeSession();
    const [a, b, c] = readKind(projectPath, "chat_interaction", "rec_hash");
    expect(a!.promptHash).toBe(`sha256:${sha256(Buffer.from(prompt, "utf8"))}`);
    expect(a!.responseHash).toBe(`sha256:${sha256("ok")}`);
    expect(b!.responseHash).toBe(`sha256:${sha256("")}`);
    expect(c!.promptHash).toBe(`sha256:${sha256(Buffer.from("half \uFFFD of an emoji", "utf8"))}`);
    // the same digests as the content files' own (the bytes on disk)
    const dir = auditDirOf(projectPath);
    for (const r of [a!, b!, c!]) {
      const refs = r.fullContent as { prompt: { file: string; sha256: string }; response: { file: string; sha256: string } };
      expect(r.promptHash).toBe(`sha256:${sha256(fs.readFileSync(path.join(dir, refs.prompt.file)))}`);
      expect(r.responseHash).toBe(`sha256:${sha256(fs.readFileSync(path.join(dir, refs.response.file)))}`);
    }
  });

  it("storeContentHashes: false omits the content hashes", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_nohash", projectPath, storeContentHashes: false });
    logger.logChatInteraction({ prompt: "p", response: "r" });
    await logger.finalizeSession();
    const [r] = readKind(projectPath, "chat_interaction", "rec_nohash");
    expect(r).not.toHaveProperty("promptHash");
    expect(r).not.toHaveProperty("responseHash");
    expect(r!.promptLength).toBe(1);
  });

  it("full content files hold the exact text; the manifest carries bytes, sha256 and the record hash", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_full", projectPath, contentPreviewChars: 5 });
    const prompt = "Line 1\r\nLine 2 — ünïcödé 日本語 👩‍👩‍👧‍👦 e\u0301\n\ttab\u2028sep\0nul";
    const response = "R".repeat(10_000) + "\n";
    const id = logger.logChatInteraction({ prompt, response, model: "m" });
    await logger.finalizeSession();
    const dir = auditDirOf(projectPath);
    const [rec] = readKind(projectPath, "chat_interaction", "rec_full");
    const fc = rec!.fullContent as { prompt: { file: string; bytes: number; sha256: string }; response: { file: string; bytes: number; sha256: string }; manifest: string };
    expect(fc.prompt.file).toBe(`full_interactions/prompt_${id}.txt`);
    expect(fc.response.file).toBe(`full_interactions/response_${id}.txt`);
    expect(fc.manifest).toBe(`full_interactions/manifest_${id}.json`);
    const p = fs.readFileSync(path.join(dir, fc.prompt.file));
    const r = fs.readFileSync(path.join(dir, fc.response.file));
    expect(p.equals(Buffer.from(prompt, "utf8"))).toBe(true);
    expect(r.toString("utf8")).toBe(response);
    expect(fc.prompt).toMatchObject({ bytes: p.length, sha256: sha256(p) });
    expect(fc.response).toMatchObject({ bytes: r.length, sha256: sha256(r) });
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, fc.manifest), "utf8")) as Record<string, unknown>;
    expect(manifest).toMatchObject({ interactionId: id, sessionId: "rec_full", recordHash: rec!.hash, encrypted: false, files: { prompt: fc.prompt, response: fc.response } });
    expect(rec!.promptPreview).toBe(prompt.slice(0, 5));
  });

  it("structured prompts (messages arrays) become promptFormat json, stored as JSON text", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_json", projectPath });
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", content: "hi 😀" },
    ];
    const response = { role: "assistant", content: [{ type: "text", text: "hello" }] };
    const id = logger.logChatInteraction({ prompt: messages, response });
    logger.logChatInteraction({ prompt: "plain" });
    await logger.finalizeSession();
    const [rec, plain] = readKind(projectPath, "chat_interaction", "rec_json");
    const promptText = JSON.stringify(messages);
    expect(rec).toMatchObject({ promptFormat: "json", responseFormat: "json", promptLength: promptText.length, responseLength: JSON.stringify(response).length });
    expect(rec!.promptHash).toBe(`sha256:${sha256(promptText)}`);
    const file = fs.readFileSync(path.join(auditDirOf(projectPath), `full_interactions/prompt_${id}.txt`), "utf8");
    expect(JSON.parse(file)).toEqual(messages);
    expect(plain).not.toHaveProperty("promptFormat");
  });

  it("toolCalls are stored on the chat record", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "rec_tc", projectPath });
    const toolCalls = [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }];
    logger.logChatInteraction({ prompt: "p", response: "", toolCalls, finishReason: "tool_calls" });
    await logger.finalizeSession();
    expect(readKind(projectPath, "chat_interaction", "rec_tc")[0]).toMatchObject({ toolCalls, finishReason: "tool_calls" });
  });
});

describe("minimal preset", () => {
  it("writes no content at all, yet counts and lengths", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger(PresetConfigs.minimal("rec_min", projectPath));
    const canary = "CANARY_MINIMAL_5521";
    logger.logChatInteraction({ prompt: `${canary} prompt`, response: `${canary} response`, model: "claude-3", tokensUsed: 7, toolCalls: [{ name: canary }] });
    logger.logToolUsage({ toolName: "search", operation: "query", parameters: { q: canary }, result: { hits: [canary] } });
    const summary = await logger.finalizeSession();
    expect(filesContaining(projectPath, canary)).toEqual([]);
    const [chat] = readKind(projectPath, "chat_interaction", "rec_min");
    for (const k of ["promptPreview", "responsePreview", "promptHash", "responseHash", "fullContent", "toolCalls"]) expect(chat).not.toHaveProperty(k);
    expect(chat).toMatchObject({ promptLength: canary.length + 7, responseLength: canary.length + 9, model: "claude-3", tokensUsed: 7 });
    const [tool] = readKind(projectPath, "tool_usage", "rec_min");
    expect(tool).not.toHaveProperty("parameters");
    expect(tool).not.toHaveProperty("result");
    expect(tool).toMatchObject({ parametersLength: JSON.stringify({ q: canary }).length, resultLength: JSON.stringify({ hits: [canary] }).length, success: true });
    expect(fs.existsSync(path.join(auditDirOf(projectPath), "full_interactions"))).toBe(false);
    expect(summary.counts.chat_interaction).toBe(1);
    expect(summary.tokens.total).toBe(7);
  });
});
