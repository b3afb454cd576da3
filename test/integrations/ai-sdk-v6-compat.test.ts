/**
 * auditLanguageModelMiddleware with the last major of the AI SDK: `ai` 6 (LanguageModelV3, here
 * under the alias `ai6`) and `@ai-sdk/openai` 3 (`ai-sdk-openai3`), over HTTP to the local fake
 * OpenAI API. The other ai-sdk tests run with ai 7 (LanguageModelV4); the middleware is one object
 * for both (`peerDependencies`: "ai": ">=6"), so the core of what it records is checked here on
 * ai 6 too: generateText, streamText with usage, tool calls, an HTTP error, an abort and a
 * reader's cancel, a stream the server ends early. And the mixed install, ai 7 with a provider
 * package of the last major (a v3 model, which ai 7 hands middleware as a v4 one).
 */
import fs from "node:fs";
import path from "node:path";
import { createOpenAI as createOpenAI3 } from "ai-sdk-openai3";
import { defaultSettingsMiddleware as defaultSettingsMiddleware7, streamText as streamText7, wrapLanguageModel as wrapLanguageModel7 } from "ai";
import { APICallError, generateText, jsonSchema, streamText, tool, wrapLanguageModel, type LanguageModelMiddleware as Middleware6 } from "ai6";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLanguageModelMiddleware, type AuditLanguageModelMiddlewareOptions } from "../../integrations/ai-sdk.js";
import type { AuditLogger } from "../../src/index.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { loggerFactory, readJsonl } from "../helpers/index.js";

type Rec = Record<string, unknown>;

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
const newLogger = loggerFactory("ai_sdk_v6", "audit-ai-sdk-v6-");

/**
 * The middleware as an ai 6 user has it: its declared type is `ai`'s LanguageModelMiddleware,
 * which in their install is ai 6's (here `ai` is ai 7).
 */
const audit6 = (options: AuditLanguageModelMiddlewareOptions): Middleware6 => auditLanguageModelMiddleware(options) as unknown as Middleware6;
const provider = () => createOpenAI3({ baseURL: fake.baseURL, apiKey: "test" });
const chat6 = (logger: AuditLogger) => wrapLanguageModel({ model: provider().chat("gpt-4o-mini"), middleware: audit6({ logger }) });

async function settle(logger: AuditLogger, n: number): Promise<Rec[]> {
  const file = path.join(logger.auditDir, `chat_interactions_${logger.sessionId}.jsonl`);
  let recs: Rec[] = [];
  for (let i = 0; i < 200; i++) {
    await logger.flush();
    recs = fs.existsSync(file) ? readJsonl(file) : [];
    if (recs.length >= n) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return recs;
}

const aiSdk = (r: Rec | undefined): Rec => (r?.metadata as { aiSdk: Rec }).aiSdk;
const weather = { get_weather: tool({ description: "Current weather", inputSchema: jsonSchema<{ city: string }>({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }) }) };

describe("auditLanguageModelMiddleware on ai 6 with @ai-sdk/openai 3 (LanguageModelV3)", () => {
  it("is accepted as ai 6's middleware, and the models ai 6 hands it are v3's", async () => {
    expect(auditLanguageModelMiddleware().specificationVersion).toBe("v3");
    expect(provider().chat("gpt-4o-mini").specificationVersion).toBe("v3");
  });

  it("generateText: one record with the response, tokens, finish reason and request id; no settings for a call that asked for none", async () => {
    const logger = newLogger();
    const r = await generateText({ model: chat6(logger), system: "Be brief.", prompt: "Capital of France?" });
    expect(r.text).toBe("The capital of France is Paris.");
    const [rec, ...rest] = await settle(logger, 1);
    expect(rest).toHaveLength(0);
    expect(rec).toMatchObject({
      interactionType: "ai-sdk.generate",
      provider: "openai.chat",
      model: "gpt-4o-mini-2024-07-18",
      promptPreview: JSON.stringify([{ role: "system", content: "Be brief." }, { role: "user", content: [{ type: "text", text: "Capital of France?" }] }]),
      responsePreview: "The capital of France is Paris.",
      inputTokens: 19,
      outputTokens: 10,
      finishReason: "stop",
      success: true,
      metadata: { aiSdk: { call: "generate", rawFinishReason: "stop", requestedModel: "gpt-4o-mini", responseId: "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG" } },
    });
    expect((rec!.usage as Rec).prompt_tokens).toBe(19);
    expect(aiSdk(rec).requestId).toMatch(/^req_fake_/);
    // (ai 6 passes no tool choice without tools, ai 7 its default "auto": neither is recorded)
    expect(aiSdk(rec)).not.toHaveProperty("request");
  });

  it("streamText with usage: completed, with the tokens of the stream's last chunk and the time to first token", async () => {
    const logger = newLogger();
    const s = streamText({ model: chat6(logger), prompt: "Capital of France?" });
    let text = "";
    for await (const d of s.textStream) text += d;
    expect(text).toBe("The capital of France is Paris.");
    const [rec] = await settle(logger, 1);
    expect(rec).toMatchObject({
      interactionType: "ai-sdk.stream",
      responsePreview: text,
      inputTokens: 19,
      outputTokens: 10,
      finishReason: "stop",
      success: true,
      metadata: { aiSdk: { call: "stream", end: "completed", rawFinishReason: "stop" } },
    });
    expect(rec!.timeToFirstTokenSeconds).toBeGreaterThan(0);
  });

  it("tool calls, generated and streamed, with their parsed input and the tools offered", async () => {
    const logger = newLogger();
    const g = await generateText({ model: chat6(logger), prompt: "Weather in Paris?", tools: weather });
    expect(g.toolCalls).toHaveLength(1);
    const s = streamText({ model: chat6(logger), prompt: "Weather and time in Paris?", tools: weather });
    await s.consumeStream();
    const [generated, streamed] = await settle(logger, 2);
    expect(generated).toMatchObject({ finishReason: "tool-calls", toolCalls: [{ toolCallId: "call_Q2dMZ8uGkVBHQnAbB7YcKx4t", toolName: "get_weather", input: { city: "Paris" } }] });
    expect(aiSdk(generated).request).toEqual({ tools: ["get_weather"], toolChoice: "auto" });
    expect(streamed).toMatchObject({
      finishReason: "tool-calls",
      success: true,
      toolCalls: [
        { toolCallId: "call_Q2dMZ8uGkVBHQnAbB7YcKx4t", toolName: "get_weather", input: { city: "Paris" } },
        { toolCallId: "call_7hXbN1pLw2Vq9ZyTc4RkM0sA", toolName: "get_time", input: { tz: "Europe/Paris" } },
      ],
    });
  });

  it("an HTTP error: ai 6's APICallError reaches the app, recorded once with its status", async () => {
    const logger = newLogger();
    fake.enqueue({ status: 429, errorMessage: "Rate limit reached" });
    const err = await generateText({ model: chat6(logger), prompt: "x", maxRetries: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(APICallError.isInstance(err)).toBe(true);
    const [rec, ...rest] = await settle(logger, 1);
    expect(rest).toHaveLength(0);
    expect(rec).toMatchObject({ success: false, statusCode: 429, errorMessage: "AI_APICallError: Rate limit reached" });
    expect(aiSdk(rec).requestId).toMatch(/^req_fake_/);
  });

  it("an abort mid-stream is recorded as aborted; a reader that cancels the model stream as cancelled", async () => {
    const logger = newLogger();
    fake.enqueue({ eventDelayMs: 30 });
    const ac = new AbortController();
    const s = streamText({ model: chat6(logger), prompt: "x", abortSignal: ac.signal, onError: () => {} });
    // (ai 6 ends textStream quietly on an abort; ai 7 rethrows the AbortError)
    await (async () => {
      for await (const _ of s.textStream) ac.abort();
    })().catch(() => {});
    fake.enqueue({ eventDelayMs: 30 });
    const { stream } = await chat6(logger).doStream({ prompt: [{ role: "user", content: [{ type: "text", text: "x" }] }] });
    const reader = stream.getReader();
    while ((await reader.read()).value?.type !== "text-delta");
    await reader.cancel();
    const recs = await settle(logger, 2);
    expect(recs.map((r) => [r.success, aiSdk(r).end])).toEqual([
      [false, "aborted"],
      [false, "cancelled"],
    ]);
    expect(String(recs[0]!.errorMessage)).toMatch(/abort/i);
    expect(String(recs[1]!.errorMessage)).toMatch(/^cancelled: the reader stopped the stream after \d+ parts$/);
  });

  it("a stream the server ends before the provider finished is truncated (v3 finishes it with reason \"other\" and no raw reason)", async () => {
    const logger = newLogger();
    fake.enqueue({ endAfterEvents: 3 });
    const s = streamText({ model: chat6(logger), prompt: "Hi" });
    await s.consumeStream();
    const [rec] = await settle(logger, 1);
    expect(rec).toMatchObject({ success: false, finishReason: "other", metadata: { aiSdk: { end: "truncated" } } });
    expect(rec!.errorMessage).toMatch(/^truncated: the stream ended before the provider finished the response/);
  });
});

describe("auditLanguageModelMiddleware on ai 7 with @ai-sdk/openai 3 (a v3 model that ai 7 hands middleware as v4)", () => {
  it("a stream the server ends early is truncated, and a whole one completed: its parts are still v3's", async () => {
    const logger = newLogger();
    const model = wrapLanguageModel7({ model: provider().chat("gpt-4o-mini"), middleware: auditLanguageModelMiddleware({ logger }) });
    fake.enqueue({ endAfterEvents: 3 }, {});
    for (const _ of [0, 1]) await streamText7({ model, prompt: "Hi" }).consumeStream();
    const recs = await settle(logger, 2);
    expect(recs.map((r) => [r.success, aiSdk(r).end, r.finishReason])).toEqual([
      [false, "truncated", "other"],
      [true, "completed", "stop"],
    ]);
  });

  // ("ai 7 + v3 middleware order", docs/INTEGRATIONS.md) listed before another middleware, it
  // calls that middleware's wrapper, which says "v4" whatever the parts it hands on: a v3 stream
  // cut short, finished with reason "other" and no raw reason, was recorded as completed
  it("listed before another middleware (not innermost): a stream the server ends early is still truncated, a whole one completed", async () => {
    const logger = newLogger();
    const model = wrapLanguageModel7({
      model: provider().chat("gpt-4o-mini"),
      middleware: [auditLanguageModelMiddleware({ logger }), defaultSettingsMiddleware7({ settings: { temperature: 0.5 } })],
    });
    fake.enqueue({ endAfterEvents: 3 }, {});
    const texts: string[] = [];
    for (const _ of [0, 1]) texts.push(await streamText7({ model, prompt: "Hi" }).text);
    // (the app's results are the SDK's as before: the text that arrived)
    expect(texts[1]).toBe("The capital of France is Paris.");
    const recs = await settle(logger, 2);
    expect(recs.map((r) => [r.success, aiSdk(r).end, r.finishReason])).toEqual([
      [false, "truncated", "other"],
      [true, "completed", "stop"],
    ]);
    expect(recs[0]!.errorMessage).toMatch(/^truncated: the stream ended before the provider finished the response/);
  });
});
