/**
 * auditLanguageModelMiddleware with the real `ai` package (ai 7, LanguageModelV4) and the real
 * `@ai-sdk/anthropic` provider, over HTTP to the local fake Messages API: generateText and
 * streamText return what they return without the middleware, and each model call leaves one
 * ChatInteraction. ai 6 (LanguageModelV3): ai-sdk-v6-compat.test.ts.
 */
import fs from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { createAnthropic } from "@ai-sdk/anthropic";
import { APICallError, RetryError, defaultSettingsMiddleware, generateObject, generateText, streamText, tool, wrapLanguageModel, type LanguageModelMiddleware } from "ai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { AuditChat } from "../../decorators/index.js";
import { auditLanguageModelMiddleware } from "../../integrations/ai-sdk.js";
import { AuditLogger, auditContext, setDefaultAuditLogger, verifyAuditLog } from "../../src/index.js";
import { decorate } from "../decorators/apply.js";
import { sseEvents, startFakeAnthropic, type FakeAnthropic } from "../helpers/fake-anthropic.js";
import { comparableChat, expectNothingCaptured } from "./_records.js";
import { readJsonl, loggerFactory } from "../helpers/index.js";

type Rec = Record<string, unknown>;
const MODEL = "claude-haiku-4-5";

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(async () => {
  await fake.close();
});
const newLogger = loggerFactory("ai_sdk", "audit-ai-sdk-");
afterEach(() => {
  setDefaultAuditLogger(undefined);
});

const bareModel = () => createAnthropic({ baseURL: fake.aiSdkBaseURL, apiKey: "test" })(MODEL);
const audited = (options: Parameters<typeof auditLanguageModelMiddleware>[0] = {}) =>
  wrapLanguageModel({ model: bareModel(), middleware: auditLanguageModelMiddleware(options) });

async function chats(logger: AuditLogger): Promise<Rec[]> {
  await logger.flush();
  const file = path.join(logger.auditDir, `chat_interactions_${logger.sessionId}.jsonl`);
  return fs.existsSync(file) ? readJsonl(file) : [];
}

async function settle(logger: AuditLogger, n: number): Promise<Rec[]> {
  for (let i = 0; i < 200 && (await chats(logger)).length < n; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  return chats(logger);
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

const weather = {
  get_weather: tool({ description: "Current weather", inputSchema: z.object({ location: z.string(), unit: z.string().optional() }) }),
};

describe("auditLanguageModelMiddleware: generateText", () => {
  it("is a v3 middleware", () => {
    expect(auditLanguageModelMiddleware().specificationVersion).toBe("v3");
  });

  it("returns what the bare model returns, sends the same request, and records one interaction", async () => {
    const logger = newLogger();
    const bare = await generateText({ model: bareModel(), system: "Answer in one sentence.", prompt: "Capital of France?" });
    const wrapped = await generateText({ model: audited({ logger }), system: "Answer in one sentence.", prompt: "Capital of France?" });
    expect(wrapped.text).toBe(bare.text);
    expect(wrapped.usage).toEqual(bare.usage);
    expect(wrapped.finishReason).toBe(bare.finishReason);
    const [a, b] = fake.requests.slice(-2);
    expect(b!.body).toEqual(a!.body);

    const recs = await chats(logger);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      interactionType: "ai-sdk.generate",
      provider: "anthropic.messages",
      model: "claude-haiku-4-5-20251001",
      promptFormat: "json",
      promptPreview: JSON.stringify([{ role: "system", content: "Answer in one sentence." }, { role: "user", content: [{ type: "text", text: "Capital of France?" }] }]),
      responsePreview: "Paris is the capital of France.",
      inputTokens: 21,
      outputTokens: 9,
      usage: { input_tokens: 21, output_tokens: 9, service_tier: "standard" },
      finishReason: "stop",
      success: true,
      metadata: { aiSdk: { call: "generate", rawFinishReason: "end_turn", requestedModel: MODEL, responseId: "msg_01XFDUDYJgAACzvnptvVoYEL" } },
    });
    expect((recs[0]!.metadata as { aiSdk: Rec }).aiSdk.requestId).toMatch(/^req_fake_/);
    expect((await verifyAuditLog(logger.auditDir)).ok).toBe(true);
  });

  it("records tool calls with their parsed input", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "json", fixture: "message-tool-use" });
    const r = await generateText({ model: audited({ logger }), prompt: "Weather in Paris?", tools: weather, toolChoice: { type: "tool", toolName: "get_weather" }, temperature: 0.3, maxOutputTokens: 200, stopSequences: ["SECRET-STOP"] });
    expect(r.toolCalls).toHaveLength(1);
    const [rec] = await chats(logger);
    expect(rec).toMatchObject({
      finishReason: "tool-calls",
      toolCalls: [{ toolCallId: "toolu_01A09q90qw90lq917835lq9", toolName: "get_weather", input: { location: "Paris, France", unit: "celsius" } }],
    });
    // what the call asked for, in the SDK's names: its settings and the tools it offered (no schemas or stop texts)
    expect((rec!.metadata as { aiSdk: { request: unknown } }).aiSdk.request).toEqual({ maxOutputTokens: 200, temperature: 0.3, tools: ["get_weather"], toolChoice: "tool:get_weather" });
    expect(JSON.stringify(rec)).not.toContain("SECRET-STOP");
  });

  it("ai 7's settings: the reasoning effort asked for is recorded; the tool choice \"auto\" ai 7 passes with every call only when tools are offered", async () => {
    const logger = newLogger();
    await generateText({ model: audited({ logger }), prompt: "x", reasoning: "low" });
    await generateText({ model: audited({ logger }), prompt: "x" });
    fake.enqueue({ kind: "json", fixture: "message-tool-use" });
    await generateText({ model: audited({ logger }), prompt: "Weather in Paris?", tools: weather });
    const recs = await settle(logger, 3);
    expect(recs.map((r) => ((r.metadata as Rec).aiSdk as Rec).request)).toEqual([{ reasoning: "low" }, undefined, { tools: ["get_weather"], toolChoice: "auto" }]);
  });

  it("a 400 is rethrown as the same APICallError and recorded once with its status", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "error", status: 400 });
    const bare = (await caught(generateText({ model: bareModel(), prompt: "x", maxRetries: 0 }))) as APICallError;
    fake.enqueue({ kind: "error", status: 400 });
    const err = (await caught(generateText({ model: audited({ logger }), prompt: "x", maxRetries: 0 }))) as APICallError;
    expect(APICallError.isInstance(err)).toBe(true);
    expect(err.constructor).toBe(bare.constructor);
    expect(err.statusCode).toBe(400);
    expect(err.message).toBe(bare.message);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, statusCode: 400, errorMessage: "AI_APICallError: max_tokens: Field required" });
  });

  it("generateText's own retries: the RetryError reaches the caller; each attempt is a record, linked to the first", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "error", status: 500 }, { kind: "error", status: 500 }, { kind: "error", status: 500 });
    const err = await caught(generateText({ model: audited({ logger }), prompt: "x", maxRetries: 2 }));
    expect(RetryError.isInstance(err)).toBe(true);
    const recs = await settle(logger, 3);
    expect(recs).toHaveLength(3);
    expect(recs.map((r) => r.statusCode)).toEqual([500, 500, 500]);
    const meta = recs.map((r) => (r.metadata as { aiSdk: Rec }).aiSdk);
    expect(meta[0]).not.toHaveProperty("attempt");
    expect(meta.slice(1)).toEqual([expect.objectContaining({ attempt: 2, retryOf: recs[0]!.id }), expect.objectContaining({ attempt: 3, retryOf: recs[0]!.id })]);
  });

  it("a dropped connection is rethrown and recorded once without a status", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "drop" });
    const err = await caught(generateText({ model: audited({ logger }), prompt: "x", maxRetries: 0 }));
    expect(APICallError.isInstance(err)).toBe(true);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false });
    expect(recs[0]).not.toHaveProperty("statusCode");
  });

  it("with captureContent: false only counts, names and timings are kept", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "json", fixture: "message-tool-use" });
    await generateText({ model: audited({ logger, captureContent: false }), prompt: "secret question", tools: weather });
    const [rec] = await chats(logger);
    expect(rec).toMatchObject({ promptLength: 0, responseLength: 0, inputTokens: 384, toolCalls: [{ toolCallId: "toolu_01A09q90qw90lq917835lq9", toolName: "get_weather" }] });
    expectNothingCaptured(logger, rec);
    expect(JSON.stringify(rec)).not.toContain("secret question");
    expect(JSON.stringify(rec)).not.toContain("Paris, France");
  });
});

describe("auditLanguageModelMiddleware: streamText", () => {
  it("streams the same text and records one interaction with time to first token", async () => {
    const logger = newLogger();
    const bare = streamText({ model: bareModel(), prompt: "Hi" });
    let bareText = "";
    for await (const d of bare.textStream) bareText += d;
    const r = streamText({ model: audited({ logger }), prompt: "Hi" });
    let text = "";
    for await (const d of r.textStream) text += d;
    expect(text).toBe(bareText);
    expect(await r.usage).toEqual(await bare.usage);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      interactionType: "ai-sdk.stream",
      responsePreview: "Hello, world! How can I help?",
      inputTokens: 25,
      outputTokens: 12,
      finishReason: "stop",
      success: true,
      metadata: { aiSdk: { call: "stream", end: "completed", rawFinishReason: "end_turn" } },
    });
    expect(recs[0]!.timeToFirstTokenSeconds).toBeGreaterThan(0);
  });

  // Found by review 2026-12-04 (fourth session): a stream the server ended cleanly before the
  // provider finished (no message_delta, no message_stop) was a success, where the OpenAI and
  // Anthropic wrappers record it as truncated. The AI SDK's providers then finish with reason
  // "other" and no raw reason.
  it("a stream the server ends cleanly before the provider finished is recorded as truncated, not as a success", async () => {
    const logger = newLogger();
    const events = sseEvents("stream-text").slice(0, 6); // message_start .. two text deltas
    fake.enqueue({ kind: "sse", events });
    const r = streamText({ model: audited({ logger }), prompt: "Hi" });
    let text = "";
    for await (const d of r.textStream) text += d;
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: text, metadata: { aiSdk: { call: "stream", end: "truncated" } } });
    expect(recs[0]!.errorMessage).toMatch(/^truncated: the stream ended before the provider finished the response, after \d+ parts$/);
    // the OpenAI provider finishes such a stream itself, with reason "other" and no raw reason
    const { createOpenAI } = await import("@ai-sdk/openai");
    const { startFakeOpenAI } = await import("../helpers/fake-openai.js");
    const openai = await startFakeOpenAI();
    try {
      openai.enqueue({ endAfterEvents: 3 }, {});
      const model = (m: string) => wrapLanguageModel({ model: createOpenAI({ baseURL: openai.baseURL, apiKey: "test" }).chat(m), middleware: auditLanguageModelMiddleware({ logger }) });
      for (const _ of [0, 1]) {
        const s = streamText({ model: model("gpt-4o-mini"), prompt: "Hi" });
        for await (const _d of s.textStream);
      }
      const all = await settle(logger, 3);
      expect(all.slice(1).map((r) => [r.success, (r.metadata as { aiSdk: { end: string } }).aiSdk.end])).toEqual([
        [false, "truncated"],
        [true, "completed"],
      ]);
    } finally {
      await openai.close();
    }
  });

  it("records streamed tool input assembled into a tool call", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", fixture: "stream-tool-use" });
    const r = streamText({ model: audited({ logger }), prompt: "Weather in SF?", tools: weather });
    const calls = await r.toolCalls;
    expect(calls[0]).toMatchObject({ toolName: "get_weather", input: { location: "San Francisco, CA", unit: "fahrenheit" } });
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      finishReason: "tool-calls",
      responsePreview: "Let me check the weather.",
      toolCalls: [{ toolCallId: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", toolName: "get_weather", input: { location: "San Francisco, CA", unit: "fahrenheit" } }],
    });
  });

  it("a stream cut in the middle of a tool call's input records the call with the input that arrived, and the stream's ids", async () => {
    const logger = newLogger();
    // message_start … the tool's content_block_start and three input deltas, then the connection drops
    fake.enqueue({ kind: "sse", fixture: "stream-tool-use", dropAfter: 10 });
    const r = streamText({ model: audited({ logger }), prompt: "Weather in SF?", tools: weather, onError: () => {} });
    const err = await caught(
      (async () => {
        for await (const _ of r.fullStream) void _;
      })(),
    );
    expect(err === undefined || APICallError.isInstance(err)).toBe(true);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      success: false,
      responsePreview: "Let me check the weather.",
      toolCalls: [{ toolCallId: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", toolName: "get_weather", input: '{"location": "San Fra' }],
      metadata: { aiSdk: { call: "stream", end: "error" } },
    });
    const aiSdk = (recs[0]!.metadata as { aiSdk: Rec }).aiSdk;
    expect(aiSdk.requestId).toMatch(/^req_fake_/);
    expect(aiSdk.responseId).toMatch(/^msg_/);
    expect(recs[0]!.finishReason).toBeUndefined();
  });

  it("an `event: error` mid-stream reaches onError as before and is recorded with the partial text", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", fixture: "stream-error" });
    const errors: unknown[] = [];
    const r = streamText({ model: audited({ logger }), prompt: "x", onError: ({ error }) => void errors.push(error) });
    let text = "";
    for await (const d of r.textStream) text += d;
    expect(text).toBe("Partial ans");
    expect(errors).toHaveLength(1);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "Partial ans", errorMessage: "overloaded_error: Overloaded", statusCode: 529, metadata: { aiSdk: { end: "error" } } });
  });

  it("a stream request refused with 429 is recorded once and reaches onError", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "error", status: 429 });
    const errors: unknown[] = [];
    const r = streamText({ model: audited({ logger }), prompt: "x", maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    for await (const _ of r.textStream) void _;
    expect(errors).toHaveLength(1);
    expect(APICallError.isInstance(errors[0])).toBe(true);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, statusCode: 429 });
  });

  it("a connection dropped mid-stream is recorded once as an error with what arrived", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", dropAfter: 5 });
    const r = streamText({ model: audited({ logger }), prompt: "x", onError: () => {} });
    let text = "";
    const err = await caught(
      (async () => {
        for await (const d of r.textStream) text += d;
      })(),
    );
    expect(APICallError.isInstance(err)).toBe(true); // the AI SDK rethrows the read failure from textStream
    expect(text).toBe("Hello, world");
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "Hello, world", metadata: { aiSdk: { end: "error" } } });
    expect(recs[0]!.errorMessage).toMatch(/^AI_APICallError: /);
    // the AI SDK's error carries the 200 the response began with; a failed call recorded with
    // `statusCode: 200` read as an HTTP success (it was, until 2026-12-06; the OpenAI and
    // Anthropic wrappers record a stream that failed after its 200 without a status)
    expect((err as APICallError).statusCode).toBe(200);
    expect(recs[0]).not.toHaveProperty("statusCode");
  });

  it("a 200 whose body is cut (generateText: the provider cannot parse it) is recorded as failed without a status, not as statusCode 200", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "json", cutAfter: 40 });
    const err = await caught(generateText({ model: audited({ logger }), prompt: "x", maxRetries: 0 }));
    expect(APICallError.isInstance(err)).toBe(true);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false });
    expect(recs[0]!.errorMessage).toMatch(/^AI_APICallError: /);
    expect(recs[0]).not.toHaveProperty("statusCode");
  });

  it("aborting with an AbortSignal mid-stream is recorded once as aborted", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", pauseAfter: 4 });
    const ac = new AbortController();
    const r = streamText({ model: audited({ logger }), prompt: "x", abortSignal: ac.signal, onError: () => {} });
    let first = "";
    for await (const d of r.textStream) {
      first = d;
      ac.abort();
    }
    expect(first).toBe("Hello");
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "Hello", metadata: { aiSdk: { end: "aborted" } } });
  });
});

describe("auditLanguageModelMiddleware: aborted before the response", () => {
  it("an abort before the response headers is recorded as aborted, generate and stream alike", async () => {
    const logger = newLogger();
    for (const call of ["generate", "stream"] as const) {
      fake.enqueue({ kind: "hang" });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      if (call === "generate") await caught(generateText({ model: audited({ logger }), prompt: "x", abortSignal: ac.signal, maxRetries: 0 }));
      else {
        const r = streamText({ model: audited({ logger }), prompt: "x", abortSignal: ac.signal, maxRetries: 0, onError: () => {} });
        await caught((async () => {
          for await (const _ of r.textStream);
          throw new Error("ended");
        })());
      }
    }
    const recs = await settle(logger, 2);
    expect(recs.map((r) => [((r.metadata as Rec).aiSdk as Rec).call, r.success, ((r.metadata as Rec).aiSdk as Rec).end])).toEqual([
      ["generate", false, "aborted"],
      ["stream", false, "aborted"],
    ]);
  });
});

describe("auditLanguageModelMiddleware: the model's own stream", () => {
  /** The middleware's wrapStream over a model whose stream gives `parts`, then ends as `end` says. */
  async function wrapParts(logger: AuditLogger, parts: Rec[], end: { error: unknown } | "close" = "close"): Promise<ReadableStream<Rec>> {
    let i = 0;
    const source = new ReadableStream<Rec>(
      {
        pull(c) {
          if (i < parts.length) c.enqueue(parts[i++]!);
          else if (end === "close") c.close();
          else c.error(end.error);
        },
      },
      { highWaterMark: 0 },
    );
    const mw = auditLanguageModelMiddleware({ logger });
    const res = await mw.wrapStream!({
      doStream: async () => ({ stream: source, response: { headers: { "request-id": "req_parts" } } }),
      doGenerate: async () => {
        throw new Error("not called");
      },
      params: { prompt: [{ role: "user", content: [{ type: "text", text: "x" }] }] },
      model: { modelId: "m-parts", provider: "p" },
    } as never);
    return (res as { stream: ReadableStream<Rec> }).stream;
  }

  async function readAll(stream: ReadableStream<Rec>): Promise<{ parts: Rec[]; error: unknown }> {
    const parts: Rec[] = [];
    const reader = stream.getReader();
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) return { parts, error: undefined };
        parts.push(r.value);
      }
    } catch (error) {
      return { parts, error };
    }
  }

  it("a reader that cancels after the provider's finish part: recorded as completed (a whole response)", async () => {
    const logger = newLogger();
    const finish = { type: "finish", usage: { inputTokens: { total: 10 }, outputTokens: { total: 5 } }, finishReason: { unified: "stop", raw: "end_turn" } };
    const stream = await wrapParts(logger, [{ type: "text-delta", id: "0", delta: "Hi" }, finish, { type: "raw", rawValue: {} }]);
    const reader = stream.getReader();
    expect((await reader.read()).value).toMatchObject({ type: "text-delta" });
    expect((await reader.read()).value).toMatchObject({ type: "finish" });
    await reader.cancel("done");
    const [rec] = await settle(logger, 1);
    expect(rec).toMatchObject({ success: true, finishReason: "stop", responsePreview: "Hi", metadata: { aiSdk: { end: "completed" } } });
  });

  it("a later `finish` part replaces what an earlier one said (usage and finish reason)", async () => {
    const logger = newLogger();
    const first = { type: "finish", usage: { inputTokens: { total: 10 }, outputTokens: { total: 5 }, raw: { in: 10, out: 5 } }, finishReason: { unified: "stop", raw: "end_turn" } };
    const stream = await wrapParts(logger, [{ type: "text-delta", id: "0", delta: "Hi" }, first, { type: "finish", finishReason: "length" }]);
    expect((await readAll(stream)).parts).toHaveLength(3);
    const [rec] = await settle(logger, 1);
    expect(rec).toMatchObject({ finishReason: "length", success: true });
    expect(rec).not.toHaveProperty("inputTokens");
    expect(rec).not.toHaveProperty("usage");
    expect((rec!.metadata as { aiSdk: Rec }).aiSdk).not.toHaveProperty("rawFinishReason");
  });

  it("an error part or a stream error whose value cannot be turned into text still ends the stream as without the middleware, and is recorded", async () => {
    const logger = newLogger();
    const odd = Object.create(null) as object; // String(odd) throws
    const parts = [{ type: "text-delta", id: "0", delta: "a" }, { type: "error", error: odd }];
    const a = await readAll(await wrapParts(logger, parts));
    expect(a.error).toBeUndefined();
    expect(a.parts).toEqual(parts);
    const b = await readAll(await wrapParts(logger, [{ type: "text-delta", id: "0", delta: "b" }], { error: odd }));
    expect(b.error).toBe(odd);
    const recs = await settle(logger, 2);
    expect(recs).toHaveLength(2);
    expect(recs.map((r) => [r.success, r.responsePreview, (r.metadata as { aiSdk: Rec }).aiSdk.end])).toEqual([
      [false, "a", "error"],
      [false, "b", "error"],
    ]);
    for (const r of recs) expect(r.errorMessage).toMatch(/^Error: /);
  });

  it("a stream error whose fields throw when read ends the stream with that same value, and is recorded", async () => {
    const logger = newLogger();
    const odd = Object.defineProperty(new Error("cut"), "statusCode", { get: (): never => {
      throw new Error("getter");
    } });
    const r = await readAll(await wrapParts(logger, [{ type: "text-delta", id: "0", delta: "c" }], { error: odd }));
    expect(r.error).toBe(odd);
    const recs = await settle(logger, 1);
    expect(recs).toMatchObject([{ success: false, responsePreview: "c", errorMessage: "Error: cut", metadata: { aiSdk: { end: "error" } } }]);
  });

  it("a reader that cancels the model stream: recorded once as cancelled, and the request is closed", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", pauseAfter: 4 });
    const index = fake.requests.length;
    const { stream } = await audited({ logger }).doStream({ prompt: [{ role: "user", content: [{ type: "text", text: "x" }] }] });
    const reader = stream.getReader();
    const types: string[] = [];
    for (;;) {
      const { value } = await reader.read();
      types.push(value!.type);
      if (value!.type === "text-delta") break;
    }
    // (@ai-sdk/anthropic 4 sends message_start's metadata as a `custom` part too: a part like the others)
    expect(types).toEqual(["stream-start", "response-metadata", "custom", "text-start", "text-delta"]);
    await reader.cancel("done reading");
    await fake.clientGone(index);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      success: false,
      responsePreview: "Hello",
      errorMessage: "cancelled: the reader stopped the stream after 5 parts",
      metadata: { aiSdk: { end: "cancelled", parts: 5 } },
    });
  });

  it("a reader that cancels after the provider's `error` part: recorded with the provider's error, not as cancelled", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", fixture: "stream-error" });
    const { stream } = await audited({ logger }).doStream({ prompt: [{ role: "user", content: [{ type: "text", text: "x" }] }] });
    const reader = stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      if (value!.type === "error") break;
    }
    await reader.cancel();
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "Partial ans", errorMessage: "overloaded_error: Overloaded", metadata: { aiSdk: { end: "error" } } });
  });
});

describe("auditLanguageModelMiddleware: streams from models that end them their own way", () => {
  type StreamOptions = Parameters<ReturnType<typeof bareModel>["doStream"]>[0];
  /** A v4 model (as a provider package implements one) whose stream is made by `parts`. */
  function modelStreaming(parts: (c: ReadableStreamDefaultController<Rec>, options: StreamOptions) => void | Promise<void>) {
    return {
      specificationVersion: "v4" as const,
      provider: "local",
      modelId: "m-local",
      supportedUrls: {},
      async doGenerate(): Promise<never> {
        throw new Error("not called");
      },
      async doStream(options: StreamOptions) {
        return { stream: new ReadableStream<Rec>({ start: (c) => parts(c, options) }) as never };
      },
    };
  }
  const finish = (reason: string) => ({ type: "finish", finishReason: { unified: reason, raw: reason }, usage: { inputTokens: { total: 1 }, outputTokens: { total: 5 } } });

  it("a stream the model closes when the call is aborted is recorded as aborted, not completed (the app gets its AbortError)", async () => {
    const logger = newLogger();
    const model = modelStreaming((c, { abortSignal }) => {
      c.enqueue({ type: "stream-start", warnings: [] });
      c.enqueue({ type: "text-start", id: "t" });
      let i = 0;
      const timer = setInterval(() => c.enqueue({ type: "text-delta", id: "t", delta: `w${i++} ` }), 5);
      abortSignal?.addEventListener("abort", () => {
        clearInterval(timer);
        c.close();
      });
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 40);
    const r = streamText({ model: wrapLanguageModel({ model, middleware: auditLanguageModelMiddleware({ logger }) }), prompt: "x", abortSignal: ac.signal, onError: () => {} });
    expect(await r.text.then(() => "resolved", (e: Error) => e.name)).toBe("AbortError");
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, metadata: { aiSdk: { end: "aborted" } } });
    expect(String(recs[0]!.errorMessage)).toMatch(/^aborted/);
  });

  it("a v4 stream is truncated when its provider finishes it \"interrupted\"; a v4 finish with reason \"other\" and no raw reason is a whole response when it has its tokens (only v3 meant by it a stream cut short, which has none: a v3 model behind another middleware's v4 wrapper)", async () => {
    const logger = newLogger();
    const counted = { inputTokens: { total: 1 }, outputTokens: { total: 1 } };
    const ending = (finishReason: Rec, usage: Rec) =>
      modelStreaming((c) => {
        c.enqueue({ type: "stream-start", warnings: [] });
        c.enqueue({ type: "text-start", id: "t" });
        c.enqueue({ type: "text-delta", id: "t", delta: "Hi" });
        c.enqueue({ type: "finish", finishReason, usage });
        c.close();
      });
    const cases: Array<[Rec, Rec]> = [
      [{ unified: "interrupted", raw: undefined }, counted],
      [{ unified: "other", raw: undefined }, counted],
      [{ unified: "other", raw: undefined }, { inputTokens: { total: undefined }, outputTokens: { total: undefined } }],
      [{ unified: "other", raw: "pause_turn" }, { inputTokens: { total: undefined }, outputTokens: { total: undefined } }],
    ];
    for (const [reason, usage] of cases) {
      await streamText({ model: wrapLanguageModel({ model: ending(reason, usage), middleware: auditLanguageModelMiddleware({ logger }) }), prompt: "x" }).consumeStream();
    }
    const recs = await settle(logger, 4);
    expect(recs.map((r) => [r.success, r.finishReason, (r.metadata as { aiSdk: Rec }).aiSdk.end])).toEqual([
      [false, "interrupted", "truncated"],
      [true, "other", "completed"],
      [false, "other", "truncated"],
      [true, "other", "completed"],
    ]);
  });

  it("a whole tool call as the first output (a provider that does not stream tool input) gives the time to first token", async () => {
    const logger = newLogger();
    const model = modelStreaming(async (c) => {
      c.enqueue({ type: "stream-start", warnings: [] });
      await new Promise((r) => setTimeout(r, 30));
      c.enqueue({ type: "tool-call", toolCallId: "c1", toolName: "get_weather", input: '{"location":"Oslo"}' });
      c.enqueue(finish("tool-calls"));
      c.close();
    });
    const r = streamText({ model: wrapLanguageModel({ model, middleware: auditLanguageModelMiddleware({ logger }) }), prompt: "x", tools: weather });
    await r.consumeStream();
    const [rec] = await settle(logger, 1);
    expect(rec).toMatchObject({ success: true, toolCalls: [{ toolCallId: "c1", toolName: "get_weather", input: { location: "Oslo" } }] });
    expect(rec!.timeToFirstTokenSeconds).toBeGreaterThanOrEqual(0.02);
    expect(rec!.timeToFirstTokenSeconds).toBeLessThanOrEqual(rec!.durationSeconds as number);
  });

  it("an @AuditChat method returning a streamText() result whose stream fails: the app's onError sees it and no promise the decorator read is left unhandled (reading its members made them, and a failure ended the process); recorded as a result not read", async () => {
    const logger = newLogger();
    const model = modelStreaming((c) => {
      c.enqueue({ type: "stream-start", warnings: [] });
      c.error(new Error("provider went away"));
    });
    class Bot {
      ask(q: string) {
        return streamText({ model, prompt: q, onError: () => {} });
      }
    }
    decorate("standard", Bot, "ask", AuditChat({ logger }));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const result = new Bot().ask("hi");
      let text = "";
      // (textStream rethrows the stream's failure, decorated or not)
      const caught = await (async () => {
        for await (const t of result.textStream) text += t;
      })().catch((e: Error) => e.message);
      expect([text, caught]).toEqual(["", "provider went away"]);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    const [rec] = await settle(logger, 1);
    expect(rec).toMatchObject({ promptPreview: "hi", responseCaptured: false, metadata: { auditChat: { method: "Bot.ask", responseNotRead: expect.stringMatching(/^an? \w*StreamTextResult/) } } });
    expect(rec).not.toHaveProperty("usage");
  });

  /**
   * doStream() results of a model streaming `parts`, each read for `reads[i]` parts and dropped,
   * then (after `waitMs`) collected: the chat records once they are all there.
   */
  /** `elapsed`: per read count, from before doStream() to the app's last read, in seconds. */
  async function droppedStreams(parts: Rec[], reads: number[], waitMs: number): Promise<{ logger: AuditLogger; recs: Rec[]; elapsed: Map<number, number> }> {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const logger = newLogger();
    const model = wrapLanguageModel({
      model: modelStreaming((c) => {
        for (const p of parts) c.enqueue(p);
      }),
      middleware: auditLanguageModelMiddleware({ logger }),
    });
    const options = { prompt: [{ role: "user" as const, content: [{ type: "text" as const, text: "x" }] }] };
    const elapsed = new Map<number, number>();
    for (const n of reads) {
      await (async () => {
        const t0 = performance.now();
        const reader = (await model.doStream(options)).stream.getReader();
        for (let i = 0; i < n; i++) await reader.read();
        elapsed.set(n, (performance.now() - t0) / 1000);
        reader.releaseLock();
      })();
    }
    await new Promise((r) => setTimeout(r, waitMs));
    let recs: Rec[] = [];
    for (let i = 0; i < 100 && recs.length < reads.length; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
      recs = await chats(logger);
    }
    return { logger, recs, elapsed };
  }
  const hi: Rec[] = [
    { type: "stream-start", warnings: [] },
    { type: "text-start", id: "t" },
    { type: "text-delta", id: "t", delta: "Hi" },
  ];

  it("a doStream() result the app drops, unread or half-read, is recorded once when it is collected, as abandoned (it was never recorded)", async () => {
    const { logger, recs } = await droppedStreams(hi, [0, 3], 0);
    const ends = recs.map((r) => [r.success, (r.metadata as { aiSdk: { end?: string } }).aiSdk.end, r.responsePreview ?? ""]);
    expect(ends.sort()).toEqual([
      [false, "abandoned", ""],
      [false, "abandoned", "Hi"],
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(await chats(logger)).toHaveLength(2);
  });

  it("a doStream() result dropped and collected late lasted until the app last got a part of it, not until the collector ran (a stream read past its finish part is completed)", async () => {
    const { recs, elapsed } = await droppedStreams([...hi, { type: "text-end", id: "t" }, finish("stop")], [0, 3, 5], 600);
    const ends = recs.map((r) => [(r.metadata as { aiSdk: { end?: string } }).aiSdk.end, r.responsePreview ?? ""]);
    expect(ends.sort()).toEqual([
      ["abandoned", ""],
      ["abandoned", "Hi"],
      ["completed", "Hi"],
    ]);
    // each no longer than measured around its call and its reads (the collector ran 600 ms after
    // the last of them; a fixed 0.3 s could fail under load, where a call itself takes longer)
    const reads = (r: Rec) => ((r.metadata as { aiSdk: { end?: string } }).aiSdk.end === "completed" ? 5 : r.responsePreview === "Hi" ? 3 : 0);
    for (const r of recs) expect(r.durationSeconds as number).toBeLessThanOrEqual(elapsed.get(reads(r))!);
    // the half-read one's last part was its first delta: one clock reading for both
    const halfRead = recs.find((r) => r.responsePreview === "Hi" && (r.metadata as { aiSdk: { end?: string } }).aiSdk.end === "abandoned")!;
    expect(halfRead.timeToFirstTokenSeconds).toBe(halfRead.durationSeconds);
  });
});

describe("auditLanguageModelMiddleware: logger and context", () => {
  it("records the caller's context and finds the context's logger", async () => {
    const logger = newLogger();
    const model = audited();
    await auditContext.run({ logger, userId: "u-7", traceId: "t-7", metadata: { tenant: "acme" } }, () => generateText({ model, prompt: "x" }));
    const [rec] = await chats(logger);
    expect(rec).toMatchObject({ userId: "u-7", traceId: "t-7", metadata: { tenant: "acme", aiSdk: { call: "generate" } } });
  });

  it("calls made inside the model call (the provider's fetch) get the interaction as their parent", async () => {
    const logger = newLogger();
    const auditedFetch: typeof fetch = async (input, init) => {
      logger.logToolUsage({ toolName: "http", operation: "POST" });
      return fetch(input, init);
    };
    const inner = createAnthropic({ baseURL: fake.aiSdkBaseURL, apiKey: "test", fetch: auditedFetch })(MODEL);
    const model = wrapLanguageModel({ model: inner, middleware: auditLanguageModelMiddleware({ logger }) });
    await generateText({ model, prompt: "x" });
    await logger.flush();
    const [toolRec] = readJsonl(path.join(logger.auditDir, "tool_usage_ai_sdk.jsonl"));
    const [chat] = await chats(logger);
    expect(toolRec).toMatchObject({ parentId: chat!.id });
  });

  it("a model wrapped twice with the middleware records each call once (generate and stream); a model that calls another model records both", async () => {
    const logger = newLogger();
    const twice = wrapLanguageModel({ model: audited({ logger }), middleware: auditLanguageModelMiddleware({ logger }) });
    const g = await generateText({ model: twice, prompt: "x" });
    expect(g.text).toBe((await generateText({ model: bareModel(), prompt: "x" })).text);
    const s = streamText({ model: twice, prompt: "y" });
    let text = "";
    for await (const d of s.textStream) text += d;
    expect(text).toBe("Hello, world! How can I help?");
    const recs = await settle(logger, 2);
    expect(recs).toHaveLength(2);
    expect(recs.map((r) => (r.metadata as Rec).aiSdk)).toEqual([
      expect.objectContaining({ call: "generate" }),
      expect.objectContaining({ call: "stream", end: "completed" }),
    ]);
    expect(recs.every((r) => !("attempt" in ((r.metadata as Rec).aiSdk as Rec)))).toBe(true);
    // a model whose doGenerate asks another audited model: two calls, two records
    const inner = audited({ logger });
    const router = wrapLanguageModel({
      model: bareModel(),
      middleware: [
        auditLanguageModelMiddleware({ logger }),
        { specificationVersion: "v3", wrapGenerate: async ({ doGenerate }) => (await generateText({ model: inner, prompt: "inner" }), doGenerate()) },
      ],
    });
    await generateText({ model: router, prompt: "outer" });
    expect(await settle(logger, 4)).toHaveLength(4);
  });

  it("a model wrapped twice whose inner copy has no logger (none in the context, no default) is recorded once by the outer copy's logger; with a logger each, once by the inner's (found by review, 2026-12-04: no record at all)", async () => {
    const logger = newLogger();
    const outer = wrapLanguageModel({ model: audited(), middleware: auditLanguageModelMiddleware({ logger }) });
    const g = await generateText({ model: outer, prompt: "x" });
    expect(g.text).toBe("Paris is the capital of France.");
    let text = "";
    for await (const d of streamText({ model: outer, prompt: "y" }).textStream) text += d;
    expect(text).toBe("Hello, world! How can I help?");
    // three copies, only the outermost with a logger
    const thrice = wrapLanguageModel({ model: wrapLanguageModel({ model: audited(), middleware: auditLanguageModelMiddleware() }), middleware: auditLanguageModelMiddleware({ logger }) });
    await generateText({ model: thrice, prompt: "z" });
    const recs = await settle(logger, 3);
    expect(recs).toHaveLength(3);
    expect(recs.map((r) => (r.metadata as Rec).aiSdk)).toEqual([
      expect.objectContaining({ call: "generate" }),
      expect.objectContaining({ call: "stream", end: "completed" }),
      expect.objectContaining({ call: "generate" }),
    ]);
    // the logger handed down is that call's: a model the inner call asks (no logger of its own) is not recorded to it
    const unaudited = audited();
    const asking = wrapLanguageModel({
      model: bareModel(),
      middleware: [
        auditLanguageModelMiddleware(),
        { specificationVersion: "v3", wrapGenerate: async ({ doGenerate }) => (await generateText({ model: unaudited, prompt: "inner" }), doGenerate()) },
      ],
    });
    await generateText({ model: wrapLanguageModel({ model: asking, middleware: auditLanguageModelMiddleware({ logger }) }), prompt: "outer" });
    expect(await settle(logger, 4)).toHaveLength(4);
    // a logger each: one record, the inner copy's
    const innerLogger = newLogger();
    const outerLogger = newLogger();
    await generateText({ model: wrapLanguageModel({ model: audited({ logger: innerLogger }), middleware: auditLanguageModelMiddleware({ logger: outerLogger }) }), prompt: "x" });
    expect(await settle(innerLogger, 1)).toHaveLength(1);
    expect(await chats(outerLogger)).toHaveLength(0);
  });

  it("a fallback model that passes its call options on to audited models: every call is recorded, the failed first one too (generate and stream)", async () => {
    const logger = newLogger();
    const mw = auditLanguageModelMiddleware({ logger });
    const provider = createAnthropic({ baseURL: fake.aiSdkBaseURL, apiKey: "test" });
    const primary = wrapLanguageModel({ model: provider("claude-primary"), middleware: mw });
    const backup = wrapLanguageModel({ model: provider("claude-backup"), middleware: mw });
    type Options = Parameters<typeof primary.doGenerate>[0];
    const fallback = {
      specificationVersion: "v4" as const,
      provider: "router",
      modelId: "router-1",
      supportedUrls: {},
      async doGenerate(o: Options) {
        try {
          return await primary.doGenerate(o);
        } catch {
          return await backup.doGenerate(o);
        }
      },
      async doStream(o: Options) {
        try {
          return await primary.doStream(o);
        } catch {
          return await backup.doStream(o);
        }
      },
    };
    const routed = wrapLanguageModel({ model: fallback, middleware: mw });
    const before = fake.requests.length;
    fake.enqueue({ kind: "error", status: 500 });
    await generateText({ model: routed, prompt: "x", maxRetries: 0 });
    fake.enqueue({ kind: "error", status: 500 });
    const s = streamText({ model: routed, prompt: "y", maxRetries: 0 });
    for await (const _ of s.textStream);
    expect(fake.requests.length - before).toBe(4);
    const recs = await settle(logger, 6);
    expect(recs.map((r) => [((r.metadata as Rec).aiSdk as Rec).requestedModel ?? r.model, r.provider, r.success, r.statusCode ?? null])).toEqual([
      ["claude-primary", "anthropic.messages", false, 500],
      ["claude-backup", "anthropic.messages", true, null],
      ["router-1", "router", true, null],
      ["claude-primary", "anthropic.messages", false, 500],
      ["claude-backup", "anthropic.messages", true, null],
      ["router-1", "router", true, null],
    ]);
    // the provider's calls are children of the router's
    expect(recs[0]!.parentId).toBe(recs[2]!.id);
    expect(recs[1]!.parentId).toBe(recs[2]!.id);
    // a fallback that names itself as the model it calls (the same provider and model id) is told apart too
    const mirror = wrapLanguageModel({ model: { ...fallback, provider: primary.provider, modelId: primary.modelId }, middleware: mw });
    fake.enqueue({ kind: "error", status: 529 });
    await generateText({ model: mirror, prompt: "z", maxRetries: 0 });
    const more = await settle(logger, 9);
    expect(more.slice(6).map((r) => [r.success, r.statusCode ?? null])).toEqual([
      [false, 529],
      [true, null],
      [true, null],
    ]);
  });

  it("a model whose supportedUrls is a promise (stored, as many providers' are) is recorded, once also when wrapped twice", async () => {
    const logger = newLogger();
    const m = bareModel();
    const custom = {
      specificationVersion: "v4" as const,
      provider: m.provider,
      modelId: m.modelId,
      supportedUrls: Promise.resolve({}),
      doGenerate: (o: Parameters<typeof m.doGenerate>[0]) => m.doGenerate(o),
      doStream: (o: Parameters<typeof m.doStream>[0]) => m.doStream(o),
    };
    const mw = auditLanguageModelMiddleware({ logger });
    await generateText({ model: wrapLanguageModel({ model: custom, middleware: mw }), prompt: "x" });
    await generateText({ model: wrapLanguageModel({ model: wrapLanguageModel({ model: custom, middleware: mw }), middleware: mw }), prompt: "x" });
    expect(await settle(logger, 2)).toHaveLength(2);
  });

  it("a model wrapped twice under a model id alias (wrapLanguageModel's modelId) still records each call once, by the inner wrapper", async () => {
    const logger = newLogger();
    const mw = auditLanguageModelMiddleware({ logger });
    const inner = wrapLanguageModel({ model: bareModel(), middleware: mw, modelId: "haiku-alias" });
    const twice = wrapLanguageModel({ model: inner, middleware: [mw, auditLanguageModelMiddleware({ logger })], providerId: "my-provider" });
    const outer = await auditContext.run({ traceId: "trace-alias", parentId: "req-1" }, () => generateText({ model: twice, prompt: "x" }));
    expect(outer.text).toBe("Paris is the capital of France.");
    const s = streamText({ model: twice, prompt: "y" });
    for await (const _ of s.textStream);
    // (both records waited for, then 100 ms more for a third, not a fixed 100 ms after the stream)
    await settle(logger, 2);
    await new Promise((r) => setTimeout(r, 50));
    const recs = await chats(logger);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ traceId: "trace-alias", parentId: "req-1" });
    // (the SDK's own view is unchanged: the supported URLs are the provider's)
    expect(await twice.supportedUrls).toEqual(await bareModel().supportedUrls);
  });

  it("call options with a part that cannot be read (a revoked Proxy in the prompt): the call is recorded with that part as unreadable", async () => {
    const logger = newLogger();
    const errors: Error[] = [];
    logger.on("error", (e) => errors.push(e));
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const mw = auditLanguageModelMiddleware({ logger });
    const answer = { content: [{ type: "text" as const, text: "hi" }], finishReason: "stop" as const, usage: {}, warnings: [] };
    const res = await mw.wrapGenerate!({
      doGenerate: async () => answer,
      doStream: async () => { throw new Error("unused"); },
      params: { prompt: [{ role: "user", content: [{ type: "text", text: "x", providerOptions: proxy }] }] },
      model: bareModel(),
    } as never);
    expect(res).toBe(answer);
    const [chat, ...more] = await chats(logger);
    expect(more).toHaveLength(0);
    expect(chat!.promptPreview).toMatch(/"providerOptions":"\[Unreadable: [^"]*revoked/);
    expect(chat).toMatchObject({ responsePreview: "hi", success: true });
    expect(errors).toEqual([]);
  });

  it("uses the default logger when there is no other", async () => {
    const logger = newLogger();
    setDefaultAuditLogger(logger);
    await generateText({ model: audited(), prompt: "x" });
    expect(await chats(logger)).toHaveLength(1);
  });

  it("with no logger anywhere the model still answers and nothing is recorded", async () => {
    const other = newLogger();
    const r = await generateText({ model: audited(), prompt: "x" });
    expect(r.text).toBe("Paris is the capital of France.");
    const s = streamText({ model: audited(), prompt: "x" });
    let text = "";
    for await (const d of s.textStream) text += d;
    expect(text).toBe("Hello, world! How can I help?");
    expect(await chats(other)).toHaveLength(0);
  });
});

describe("auditLanguageModelMiddleware: what the record says, whatever the app does around the call", () => {
  it("the prompt is the one sent: an app that changes a tool call's input or a tool's result while it reads the stream does not change it", async () => {
    const logger = newLogger({ contentPreviewChars: 4000 });
    const toolInput = { location: "Paris" };
    const toolOutput = { temp: 20 };
    const messages = [
      { role: "user" as const, content: "Weather?" },
      { role: "assistant" as const, content: [{ type: "tool-call" as const, toolCallId: "t1", toolName: "get_weather", input: toolInput }] },
      { role: "tool" as const, content: [{ type: "tool-result" as const, toolCallId: "t1", toolName: "get_weather", output: { type: "json" as const, value: toolOutput } }] },
    ];
    const first = fake.requests.length;
    const r = streamText({
      model: audited({ logger }),
      messages,
      // (on the model's own chunks: ai 7 calls onChunk with a `start` chunk before it calls the model)
      onChunk({ chunk }) {
        if (chunk.type !== "text-delta") return;
        toolInput.location = "changed while streaming";
        toolOutput.temp = -999;
      },
    });
    for await (const _ of r.fullStream);
    const [rec, ...rest] = await settle(logger, 1);
    expect(rest).toHaveLength(0);
    const sent = JSON.stringify(fake.requests[first]!.body.messages);
    expect(sent).toContain('"location":"Paris"');
    expect(sent).toContain('\\"temp\\":20'); // the tool result is sent as JSON text
    expect(rec!.promptPreview).toContain('"location":"Paris"');
    expect(rec!.promptPreview).toContain('"temp":20');
    expect(rec!.promptPreview).not.toContain("changed while streaming");
    expect(rec!.promptPreview).not.toContain("-999");
  });

  it("the record has the context of the call, not the one the stream is read in", async () => {
    const logger = newLogger();
    const model = audited({ logger });
    const params = { prompt: [{ role: "user" as const, content: [{ type: "text" as const, text: "Hi" }] }] };
    const { stream } = await auditContext.run({ traceId: "trace-A" }, () => model.doStream(params));
    await auditContext.run({ userId: "user-B", persona: "persona-B", metadata: { route: "/B" } }, async () => {
      const reader = stream.getReader();
      while (!(await reader.read()).done);
    });
    const [rec, ...rest] = await settle(logger, 1);
    expect(rest).toHaveLength(0);
    expect(rec).toMatchObject({ traceId: "trace-A" });
    expect(rec).not.toHaveProperty("userId");
    expect(rec).not.toHaveProperty("persona");
    expect(rec!.metadata).not.toHaveProperty("route");
  });

  it("two calls made at once with one options object are two calls, each recorded; a model wrapped twice still gives one record per call", async () => {
    const logger = newLogger();
    const params = { prompt: [{ role: "user" as const, content: [{ type: "text" as const, text: "Hi" }] }] };
    const first = fake.requests.length;
    await Promise.all([audited({ logger }).doGenerate(params), audited({ logger }).doGenerate(params)]);
    expect(fake.requests.length - first).toBe(2);
    const recs = await settle(logger, 2);
    expect(recs).toHaveLength(2);
    // neither is a retry of the other (a retry comes after a failed attempt)
    expect(recs.map((r) => (r.metadata as Rec).aiSdk)).toEqual([{ call: "generate" }, { call: "generate" }].map((x) => expect.objectContaining(x)));
    for (const r of recs) expect((r.metadata as Rec).aiSdk).not.toHaveProperty("retryOf");
    const twice = wrapLanguageModel({ model: audited({ logger }), middleware: auditLanguageModelMiddleware({ logger }) });
    await Promise.all([twice.doGenerate(params), twice.doGenerate(params)]);
    expect(fake.requests.length - first).toBe(4);
    expect(await settle(logger, 4)).toHaveLength(4);
  });

  it("a result the middleware cannot read is returned as it is and recorded as unreadable", async () => {
    const logger = newLogger();
    const model = wrapLanguageModel({
      model: { ...bareModel(), doGenerate: async () => null as never } as ReturnType<typeof bareModel>,
      middleware: auditLanguageModelMiddleware({ logger }),
    });
    expect(await model.doGenerate({ prompt: [{ role: "user", content: [{ type: "text", text: "Hi" }] }] })).toBeNull();
    const [rec, ...rest] = await settle(logger, 1);
    expect(rest).toHaveLength(0);
    expect(rec).toMatchObject({ success: false, interactionType: "ai-sdk.generate" });
    expect(rec!.errorMessage).toMatch(/^the model returned a result the audit middleware could not read \(TypeError: /);
  });
});

describe("auditLanguageModelMiddleware: its place among other middleware (docs/INTEGRATIONS.md, 2026-12-04)", () => {
  it("listed last (innermost) it records the prompt and settings sent; listed first it records the app's, before the other middleware changed them", async () => {
    const logger = newLogger();
    const rag = { specificationVersion: "v3" as const, transformParams: async ({ params }: { params: Parameters<NonNullable<LanguageModelMiddleware["transformParams"]>>[0]["params"] }) => ({ ...params, prompt: [{ role: "system" as const, content: "CONTEXT: retrieved doc" }, ...params.prompt] }) };
    const others = [defaultSettingsMiddleware({ settings: { temperature: 0.7 } }), rag];
    for (const middleware of [[...others, auditLanguageModelMiddleware({ logger })], [auditLanguageModelMiddleware({ logger }), ...others]]) {
      await generateText({ model: wrapLanguageModel({ model: bareModel(), middleware }), prompt: "hi" });
      const sent = fake.requests.at(-1)!.body as Rec;
      expect(sent).toMatchObject({ system: [{ type: "text", text: "CONTEXT: retrieved doc" }], temperature: 0.7 });
    }
    const [innermost, outermost] = await settle(logger, 2);
    expect(innermost!.promptPreview).toContain("CONTEXT: retrieved doc");
    expect(((innermost!.metadata as Rec).aiSdk as Rec).request).toMatchObject({ temperature: 0.7 });
    expect(outermost!.promptPreview).not.toContain("CONTEXT");
    expect(((outermost!.metadata as Rec).aiSdk as Rec).request).toBeUndefined();
  });
});

describe("auditLanguageModelMiddleware: records made later, from what arrived", () => {
  it("an app that changes the result it got (usage, a tool call's input, the raw body) right after the call does not change the record", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "json", fixture: "message-tool-use" });
    // (ai 7 keeps the raw body in the result only when asked to)
    const r = await generateText({ model: audited({ logger }), prompt: "Weather in Paris?", tools: weather, include: { responseBody: true } });
    const body = r.response.body as { usage: Record<string, unknown>; content: Array<Record<string, unknown>> };
    body.usage.input_tokens = 999_999;
    for (const block of body.content) if (block.type === "tool_use") (block.input as Record<string, unknown>).location = "changed by the app";
    (r.toolCalls[0]!.input as Record<string, unknown>).location = "changed by the app";
    (r.usage as { inputTokens?: number }).inputTokens = 999_999;
    const [rec, ...rest] = await settle(logger, 1);
    expect(rest).toHaveLength(0);
    expect(rec).toMatchObject({
      inputTokens: 384,
      toolCalls: [{ toolCallId: "toolu_01A09q90qw90lq917835lq9", toolName: "get_weather", input: { location: "Paris, France", unit: "celsius" } }],
    });
    expect((rec!.usage as Rec).input_tokens).toBe(384);
  });

  it("with a logger that records on a worker thread (thread: true) the records are the same as without it", async () => {
    const recordWith = async (thread: boolean) => {
      const logger = newLogger({ thread });
      const model = audited({ logger });
      // the first record has the worker load the integration's input builder; the next ones are made there
      await generateText({ model, prompt: "What is the capital of France?" });
      await logger.flush();
      fake.enqueue({ kind: "json", fixture: "message-tool-use" });
      await generateText({ model, prompt: "Weather in Paris?", tools: weather });
      const s = streamText({ model, prompt: "Hello?" });
      for await (const _ of s.textStream);
      fake.enqueue({ kind: "error", status: 400 });
      await caught(generateText({ model, prompt: "refused", maxRetries: 0 }));
      const recs = await settle(logger, 4);
      await logger.finalizeSession();
      expect((await verifyAuditLog(logger.auditDir)).ok).toBe(true);
      return recs.map((r) => comparableChat(r, "aiSdk", ["requestId", "responseId"]));
    };
    const plain = await recordWith(false);
    const threaded = await recordWith(true);
    expect(threaded).toHaveLength(4);
    expect(threaded).toEqual(plain);
    expect(threaded[1]).toMatchObject({ toolCalls: [{ toolName: "get_weather", input: { location: "Paris, France", unit: "celsius" } }] });
    expect(threaded[3]).toMatchObject({ success: false, statusCode: 400 });
  });
});

describe("@AuditChat and a generateObject() result", () => {
  it("the object generated is the response (the record said the result was not read, and had no response); an OpenAI-shaped result's object: \"chat.completion\" is not taken for one", async () => {
    const logger = newLogger();
    const model = bareModel();
    class Extractor {
      async city(prompt: string) {
        return generateObject({ model, prompt, schema: z.object({ city: z.string(), country: z.string() }) });
      }
      async toolOnly(_q: string) {
        return { object: "chat.completion", model: "gpt-4o", choices: [{ message: { role: "assistant", content: null, tool_calls: [] }, finish_reason: "tool_calls" }] };
      }
    }
    decorate("standard", Extractor, "city", AuditChat({ logger }));
    decorate("legacy", Extractor, "toolOnly", AuditChat({ logger }));
    fake.enqueue({ kind: "json", body: { id: "msg_obj", type: "message", role: "assistant", model: MODEL, content: [{ type: "text", text: '{"city":"Paris","country":"France"}' }], stop_reason: "end_turn", usage: { input_tokens: 12, output_tokens: 9 } } });
    const result = await new Extractor().city("Where is the Eiffel tower?");
    expect(result.object).toEqual({ city: "Paris", country: "France" });
    await new Extractor().toolOnly("q");
    const [rec, tool] = await chats(logger);
    expect(rec).toMatchObject({ model: MODEL, promptPreview: "Where is the Eiffel tower?", responsePreview: JSON.stringify({ city: "Paris", country: "France" }), responseFormat: "json", inputTokens: 12, outputTokens: 9, success: true });
    expect(rec).not.toHaveProperty("responseCaptured");
    expect(rec!.metadata).toEqual({ auditChat: { method: "Extractor.city" } });
    expect(tool!.responsePreview).not.toBe("chat.completion");
  });
});
