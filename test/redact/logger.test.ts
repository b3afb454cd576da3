import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer, PresetConfigs, auditContext, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject, walk } from "../helpers/index.js";
import { CANARIES } from "./canaries.js";

afterEach(cleanupTmp);

/** Every byte under audit_logs/, as one string per file, for grepping. */
function everyFile(auditDir: string): Array<{ file: string; text: string }> {
  return walk(auditDir).map((file) => ({ file, text: fs.readFileSync(file).toString("latin1") + "\n" + path.basename(file) }));
}

function logEverywhere(logger: AuditLogger, text: string, i: number): void {
  auditContext.run({ userId: `u${i % 3}`, metadata: { note: text } }, () => {
    logger.logChatInteraction({ prompt: `Please help: ${text}`, response: `Noted ${text}`, toolCalls: [{ name: "lookup", arguments: { q: text } }], metadata: { raw: text } });
    logger.logToolUsage({ toolName: "crm", operation: "find", parameters: { query: text, headers: { authorization: "opaque-value-123" } }, result: { echo: text }, errorMessage: `failed on ${text}` });
    logger.logPersonaActivity({ personaName: "agent", activityType: "note", description: text, details: { text } });
    logger.logFileOperation({ operation: "read", filePath: `/tmp/${text}.txt`, details: { text } });
    logger.logPerformanceMetric({ metricName: "m", value: 1, unit: "ms", context: { text } });
    logger.logError({ errorType: "E", message: `boom: ${text}`, stackTrace: `at x (${text})`, context: { text } });
  });
}

describe("redaction in the logger", () => {
  for (const encrypt of [false, true]) {
    it(`no canary of any built-in kind reaches the disk, in any field or file${encrypt ? " (encrypted)" : ""}`, async () => {
      const projectPath = tmpProject();
      const logger = new AuditLogger({
        sessionId: "redact",
        projectPath,
        redact: { paths: ["headers.authorization"] },
        ...(encrypt ? { encryptSensitiveContent: true, encryptionKey: TEST_KEY } : {}),
      });
      CANARIES.forEach((c, i) => logEverywhere(logger, c.text, i));
      await logger.finalizeSession();
      const files = everyFile(logger.auditDir);
      for (const c of CANARIES) {
        for (const { file, text } of files) expect(text.includes(c.secret), `${c.rule} canary in ${file}`).toBe(false);
      }
      for (const { text } of files) expect(text.includes("opaque-value-123")).toBe(false);
      // what was found is counted on each record, and the viewer gives back the placeholders
      const viewer = new AuditViewer({ auditPath: logger.auditDir, ...(encrypt ? { encryptionKey: TEST_KEY } : {}) });
      const chats = await viewer.getChatInteractions({ limit: Infinity });
      expect(chats).toHaveLength(CANARIES.length);
      for (const chat of chats) {
        const counts = (chat as { redactions?: Record<string, number> }).redactions;
        expect(counts && Object.values(counts).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
        expect(String(chat.promptPreview)).toContain("[REDACTED:");
      }
      const tools = await viewer.getToolUsages({ limit: 1 });
      expect(JSON.stringify(tools[0]!.parameters)).toContain("[REDACTED:path]");
      expect((await verifyAuditLog(logger.auditDir)).ok).toBe(true);
    });
  }

  it("plain objects with a toJSON are redacted as what they serialise to; values that cannot be read cost only themselves, and the counts match what was written", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "redact_tojson", projectPath, redact: { paths: ["parameters.body.apiKey"] } });
    const plainWithToJson = { toJSON: () => ({ mail: "bob@example.com", apiKey: "sk-abc-1234567890" }) };
    const nullProtoWithToJson = Object.assign(Object.create(null) as Record<string, unknown>, { toJSON: () => ({ mail: "carol@example.com" }) });
    const throwingToJson = { toJSON: () => { throw new Error("bad dave@example.com") } };
    const oddError = Object.assign(new Error(), { message: 42 });
    const oddProxy = new Proxy({}, { ownKeys: () => { throw oddError } });
    const symbolError = Object.assign(new Error(), { message: Symbol("odd") });
    const symbolProxy = new Proxy({}, { ownKeys: () => { throw symbolError } });
    const badList = new Proxy(["erin@example.com", "x"], { get: (t, k) => { if (k === "1") throw new Error("bad item"); return Reflect.get(t, k) as unknown } });
    const nullKey = Object.create(null) as object;
    const map = new Map<unknown, unknown>([["a", "frank@example.com"], [nullKey, "y"]]);
    logger.logToolUsage({ toolName: "t", operation: "o", parameters: { body: plainWithToJson, other: nullProtoWithToJson, throwing: throwingToJson, odd: { ok: 1, p: oddProxy }, sym: symbolProxy, list: badList, map } });
    logger.logToolUsage({ toolName: "t", operation: "top", parameters: oddProxy as unknown as Record<string, unknown> });
    await logger.finalizeSession();
    const text = fs.readFileSync(path.join(logger.auditDir, "tool_usage_redact_tojson.jsonl"), "utf8");
    for (const secret of ["bob@example.com", "sk-abc-1234567890", "carol@example.com", "dave@example.com", "erin@example.com", "frank@example.com"]) expect(text).not.toContain(secret);
    const [rec, top] = text.trim().split("\n").map((l) => JSON.parse(l) as { parameters: Record<string, unknown>; redactions?: Record<string, number> });
    expect(rec!.parameters).toEqual({
      body: { mail: "[REDACTED:email]", apiKey: "[REDACTED:path]" },
      other: { mail: "[REDACTED:email]" },
      throwing: "[Unserializable: bad [REDACTED:email]]",
      odd: { ok: 1, p: "[Unreadable: 42]" },
      sym: "[Unreadable: Symbol(odd)]",
      list: "[Unreadable: bad item]",
      map: { a: "[REDACTED:email]", "[object Object]": "y" },
    });
    // one count per placeholder written (the list's first item was redacted, then the list was dropped)
    expect(rec!.redactions).toEqual({ email: 4, path: 1 });
    expect(top!.parameters).toBe("[Unreadable: 42]");
    expect((await verifyAuditLog(logger.auditDir)).ok).toBe(true);
  });

  for (const thread of [false, true]) {
    it(`what the record writes as text is what is redacted: Map keys, symbols, function names, binary sizes, boxed strings${thread ? " (thread: true)" : ""}`, async () => {
      const projectPath = tmpProject();
      const logger = new AuditLogger({ sessionId: "redact_text_forms", projectPath, thread, redact: { paths: ["*.password"] } });
      const namedFn = Object.defineProperty(() => 1, "name", { value: "a6@example.com" });
      const fakeBuffer = Object.create(ArrayBuffer.prototype, { byteLength: { value: "a7@example.com" } }) as ArrayBuffer;
      const view = Object.defineProperty(new Uint8Array(4), "byteLength", { value: "a9@example.com" });
      const value = {
        arrayKey: new Map([[["a1@example.com"], "v"]]),
        cardKey: new Map([[4111111111111111, 1]]),
        symbolKey: new Map([[Symbol("a3@example.com"), "v"]]),
        toJsonKey: new Map([[{ toJSON: () => "password" }, "hunter2-D"]]),
        throwingKey: new Map([[{ toJSON: () => { throw new Error("a8@example.com") } }, "v"]]),
        sym: Symbol("a5@example.com"),
        fn: namedFn,
        fakeBuffer,
        view,
        boxed: new String("str1@example.com"),
        set: new Set(["s1@example.com", "s2@example.com"]),
        map: new Map([["k1@example.com", "v1"], ["k2@example.com", "v2"]]),
      };
      logger.logToolUsage({ toolName: "t", operation: "o", parameters: value });
      await logger.finalizeSession();
      const files = everyFile(logger.auditDir);
      for (const secret of ["a1@", "4111111111111111", "a3@", "hunter2-D", "a5@", "a6@", "a7@", "a8@", "a9@", "str1@", "s1@", "s2@", "k1@", "k2@"]) {
        for (const { file, text } of files) expect(text.includes(secret), `${secret} in ${file}`).toBe(false);
      }
      const line = fs.readFileSync(path.join(logger.auditDir, "tool_usage_redact_text_forms.jsonl"), "utf8").trim();
      const rec = JSON.parse(line) as { parameters: Record<string, unknown>; redactions: Record<string, number> };
      // a Set keeps both items, a Map both entries (their keys redacted apart)
      expect(rec.parameters.set).toEqual(["[REDACTED:email]", "[REDACTED:email]"]);
      expect(Object.values(rec.parameters.map as object).sort()).toEqual(["v1", "v2"]);
      expect(rec.parameters.boxed).toBe("[REDACTED:email]");
      // one count per placeholder written
      const written = line.match(/\[REDACTED:email\]/g)?.length ?? 0;
      expect(rec.redactions.email).toBe(written);
    });
  }

  it("path rules reach into strings holding JSON (tool-call arguments as the OpenAI API sends them); other strings keep their form", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "redact_json_strings", projectPath, redact: { paths: ["*.password"] } });
    logger.logChatInteraction({
      prompt: "log me in",
      response: "done",
      toolCalls: [
        { name: "login", arguments: '{"user":"k","password":"hunter2-K","note":"bob@example.com"}' },
        { name: "search", arguments: '{ "q": "weather",  "mail": "carol@example.com" }' },
        { name: "list", arguments: "[1, 2]" },
        {
          name: "connect",
          arguments: '{"authorization": "opaqueToken12345", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "id": 1234567890123456789, "ratio": 1.10,\n "password": {"old": "p1", "new": "p2"}}',
        },
        { name: "log", arguments: "[INFO] password reset for k" },
      ],
    });
    await logger.finalizeSession();
    for (const { file, text } of everyFile(logger.auditDir)) {
      for (const secret of ["hunter2-K", "bob@example.com", "carol@example.com", "opaqueToken12345", "wJalrXUtnFEMI", '"p1"', '"p2"']) expect(text.includes(secret), `${secret} in ${file}`).toBe(false);
    }
    const rec = JSON.parse(fs.readFileSync(path.join(logger.auditDir, "chat_interactions_redact_json_strings.jsonl"), "utf8").trim()) as {
      toolCalls: Array<{ arguments: string }>;
      redactions: Record<string, number>;
    };
    expect(JSON.parse(rec.toolCalls[0]!.arguments)).toEqual({ user: "k", password: "[REDACTED:path]", note: "[REDACTED:email]" });
    // no rule named a member: redacted as text, whitespace kept
    expect(rec.toolCalls[1]!.arguments).toBe('{ "q": "weather",  "mail": "[REDACTED:email]" }');
    expect(rec.toolCalls[2]!.arguments).toBe("[1, 2]");
    // a value a rule names is replaced in the text itself: the rest stays as it was (spacing,
    // number spellings, a big integer), and the text rules still see the keys before their secrets
    expect(rec.toolCalls[3]!.arguments).toBe(
      '{"authorization": "[REDACTED:bearer]", "aws_secret_access_key": "[REDACTED:aws_secret_key]", "id": 1234567890123456789, "ratio": 1.10,\n "password": "[REDACTED:path]"}',
    );
    expect(rec.toolCalls[4]!.arguments).toBe("[INFO] password reset for k");
    expect(rec.redactions).toEqual({ path: 2, email: 2, bearer: 1, aws_secret_key: 1 });
  });

  // Found by review 2026-12-04: a prompt or response given as a string was redacted as text
  // only, so a structured-output response (a JSON string) kept the members a path rule names and
  // an address written with a JSON escape, in its content file and preview, while the same JSON
  // as a tool call's arguments was redacted.
  for (const thread of [false, true]) {
    it(`a prompt or response string holding JSON is redacted as the data it holds, in its own text; other strings as before${thread ? " (thread: true)" : ""}`, async () => {
      const projectPath = tmpProject();
      const logger = new AuditLogger({ sessionId: "redact_json_content", projectPath, thread, redact: { paths: ["*.password", "*.ssn"] } });
      const structured = '{"name":"Bob","password":"hunter2-RESP","ssn":"078051120","note":"bob\\u0040x.io"}';
      const untouched = '{ "q":  "weather" ,\n "ratio": 1.10, "list": [1,2] }';
      const id = logger.logChatInteraction({ prompt: untouched, response: structured, toolCalls: [{ name: "signup", arguments: structured }] });
      const plain = logger.logChatInteraction({ prompt: "mail bob@example.com, password: hunter2-P", response: "[1, 2] then carol@example.com" });
      await logger.finalizeSession();
      for (const { file, text } of everyFile(logger.auditDir)) {
        for (const secret of ["hunter2-RESP", "078051120", "bob\\u0040x.io", "bob@example.com", "carol@example.com"]) expect(text.includes(secret), `${secret} in ${file}`).toBe(false);
      }
      const content = (i: string, part: "prompt" | "response"): string => fs.readFileSync(path.join(logger.auditDir, "full_interactions", `${part}_${i}.txt`), "utf8");
      const redacted = '{"name":"Bob","password":"[REDACTED:path]","ssn":"[REDACTED:path]","note":"[REDACTED:email]"}';
      expect(content(id, "response")).toBe(redacted);
      // nothing to redact: the very same bytes (spacing, number spellings)
      expect(content(id, "prompt")).toBe(untouched);
      // not one JSON document: text redaction, exactly as before
      expect(content(plain, "prompt")).toBe("mail [REDACTED:email], password: [REDACTED:credential]");
      expect(content(plain, "response")).toBe("[1, 2] then [REDACTED:email]");
      const [rec, plainRec] = fs
        .readFileSync(path.join(logger.auditDir, "chat_interactions_redact_json_content.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { responsePreview: string; promptPreview: string; toolCalls: Array<{ arguments: string }>; redactions: Record<string, number>; responseFormat?: string });
      expect(redacted.startsWith(rec!.responsePreview)).toBe(true);
      expect(rec!.promptPreview).toBe(untouched);
      expect(rec!.responseFormat).toBeUndefined();
      // the same as the tool call's arguments
      expect(rec!.toolCalls[0]!.arguments).toBe(redacted);
      expect(rec!.redactions).toEqual({ path: 4, email: 2 });
      expect(plainRec!.redactions).toEqual({ email: 2, credential: 1 });
    });
  }

  it("the production preset redacts by default; the full content file holds the redacted text and its hash matches", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger(PresetConfigs.production("prod", projectPath, { encryptionKey: TEST_KEY }));
    const id = logger.logChatInteraction({ prompt: "mail me at jane.doe@example.com please", response: "ok" });
    await logger.finalizeSession();
    const viewer = new AuditViewer({ auditPath: logger.auditDir, encryptionKey: TEST_KEY });
    const content = await viewer.getFullInteractionContent(id);
    expect(content?.prompt).toBe("mail me at [REDACTED:email] please");
    expect(content?.verified).toBe(true);
  });

  it("hmac replacement keeps equal values correlatable without storing them", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "hmac", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, redact: { replacement: "hmac" } });
    logger.logToolUsage({ toolName: "t", operation: "a", parameters: { who: "jane.doe@example.com" } });
    logger.logToolUsage({ toolName: "t", operation: "b", parameters: { who: "jane.doe@example.com" } });
    logger.logToolUsage({ toolName: "t", operation: "c", parameters: { who: "john@example.org" } });
    await logger.finalizeSession();
    const tools = await new AuditViewer({ auditPath: logger.auditDir, encryptionKey: TEST_KEY }).getToolUsages({ limit: 10 });
    const who = new Map(tools.map((t) => [t.operation, (t.parameters as { who: string }).who]));
    expect(who.get("a")).toMatch(/^\[REDACTED:email:[0-9a-f]{12}\]$/);
    expect(who.get("a")).toBe(who.get("b"));
    expect(who.get("c")).not.toBe(who.get("a"));
  });

  it("hmac replacement without any key is a configuration error naming redact.hmacKey", () => {
    expect(() => new AuditLogger({ sessionId: "x", projectPath: tmpProject(), redact: { replacement: "hmac" } })).toThrow(/redact\.hmacKey/);
  });

  it("without redact nothing is changed", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "plain", projectPath });
    logger.logToolUsage({ toolName: "t", operation: "o", parameters: { who: "jane.doe@example.com" } });
    await logger.finalizeSession();
    const [tool] = await new AuditViewer({ auditPath: logger.auditDir }).getToolUsages();
    expect(tool!.parameters).toEqual({ who: "jane.doe@example.com" });
    expect((tool as { redactions?: unknown }).redactions).toBeUndefined();
  });
});

// Found by review 2026-12-04 (fourth session): API.md has `redact` take "rules, or false", but only
// the options object was accepted; a list of rule names (or true) was refused as "Invalid input".
describe("redact shorthands", () => {
  it("a list of rule names is { rules }, true and \"all\" are every built-in detector; an unknown name is refused naming it", async () => {
    const secret = "reach me at jane.doe@example.com, key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD";
    const cases: Array<[unknown, { email: boolean; key: boolean }]> = [
      [["email"], { email: true, key: false }],
      [true, { email: true, key: true }],
      ["all", { email: true, key: true }],
    ];
    for (const [redact, want] of cases) {
      const projectPath = tmpProject();
      const logger = new AuditLogger({ sessionId: "shorthand", projectPath, redact } as never);
      logger.logChatInteraction({ prompt: secret, response: "ok" });
      await logger.finalizeSession();
      const text = everyFile(logger.auditDir).map((f) => f.text).join("\n");
      expect(text.includes("jane.doe@example.com"), `${JSON.stringify(redact)} email`).toBe(!want.email);
      expect(text.includes("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"), `${JSON.stringify(redact)} key`).toBe(!want.key);
      expect(logger.config.toJSON().redact).toMatchObject({ rules: Array.isArray(redact) ? redact : "all" });
    }
    expect(() => new AuditLogger({ sessionId: "bad", projectPath: tmpProject(), redact: ["emial"] } as never)).toThrow(expect.objectContaining({ code: "AUDIT_ERR_CONFIG", issues: [expect.objectContaining({ field: "redact.rules.0" })] }));
  });
});
