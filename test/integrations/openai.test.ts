import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import OpenAI, { APIConnectionError, APIError, RateLimitError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import Anthropic from "@anthropic-ai/sdk";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import { withAuditFetch } from "../../integrations/fetch.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { auditContext, setDefaultAuditLogger } from "../../src/context.js";
import { AuditLogger } from "../../src/logger.js";
import { verifyAuditLog } from "../../src/reader/verify.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { TEST_KEY, cleanupTmp, tmpProject } from "../helpers/index.js";
import { comparableChat, expectNothingCaptured, recordsOf } from "./_records.js";
import { childArgs } from "../helpers/child-args.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const mod = (rel: string) => JSON.stringify(pathToFileURL(path.join(REPO, rel)).href);

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
const loggers: AuditLogger[] = [];
afterEach(async () => {
  fake.setDefault({});
  for (const l of loggers.splice(0)) if (!l.isClosed) await l.finalizeSession();
  cleanupTmp();
});

function newLogger(): AuditLogger {
  const logger = new AuditLogger({ sessionId: "openai_test", projectPath: tmpProject() });
  loggers.push(logger);
  return logger;
}
const client = (maxRetries = 0) => new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries });
const messages = [
  { role: "system" as const, content: "Answer briefly." },
  { role: "user" as const, content: "What is the capital of France?" },
];

describe("wrapOpenAI: non-streamed calls", () => {
  it("returns the same client, typed as before, and the same result as a bare client", async () => {
    const logger = newLogger();
    const bare = client();
    const raw = client();
    const wrapped = wrapOpenAI(raw, { logger });
    expect(wrapped).toBe(raw);
    expectTypeOf(wrapped).toEqualTypeOf<OpenAI>();
    expect(wrapped.chat.completions.create.name).toBe("create");
    expect(wrapped.chat.completions.create.length).toBe(bare.chat.completions.create.length);
    expect(Object.keys(wrapped.chat.completions)).toEqual(Object.keys(bare.chat.completions));
    const a = await bare.chat.completions.create({ model: "gpt-4o-mini", messages });
    const b = await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages });
    expect({ ...b, id: a.id }).toEqual(a);
    expect(b._request_id).toMatch(/^req_fake_/);
  });

  it("records one ChatInteraction with model, structured prompt, response, tokens, usage and finish reason", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const res = await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    const [rec, ...rest] = await recordsOf(logger, "chat_interaction");
    expect(rest).toEqual([]);
    expect(rec).toMatchObject({
      type: "chat_interaction",
      interactionType: "chat.completions",
      provider: "openai",
      model: "gpt-4o-mini-2024-07-18",
      promptFormat: "json",
      promptPreview: JSON.stringify(messages),
      responsePreview: "The capital of France is Paris.",
      inputTokens: 19,
      outputTokens: 10,
      tokensUsed: 29,
      usage: res.usage,
      finishReason: "stop",
      success: true,
      metadata: { openai: { requestId: res._request_id } },
    });
    expect(rec!.durationSeconds).toBeGreaterThan(0);
    expect(rec).not.toHaveProperty("timeToFirstTokenSeconds");
    expect((await verifyAuditLog(logger.auditDir)).ok).toBe(true);
  });

  it("records tool calls of a non-streamed completion", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const tools = [{ type: "function" as const, function: { name: "get_weather", description: "SECRET-TOOL-DOC", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const res = await openai.chat.completions.create({ model: "gpt-4o-mini", messages, tools, tool_choice: { type: "function", function: { name: "get_weather" } }, temperature: 0.2, max_completion_tokens: 300, seed: 7, response_format: { type: "json_object" }, stop: ["SECRET-STOP"] });
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec!.toolCalls).toEqual(res.choices[0]!.message.tool_calls);
    expect(rec!.finishReason).toBe("tool_calls");
    expect(rec!.responsePreview).toBe("");
    // what the call asked for: its settings and the tools it offered, by name (no descriptions, schemas or stop texts)
    expect((rec!.metadata as { openai: { request: unknown } }).openai.request).toEqual({
      temperature: 0.2,
      max_completion_tokens: 300,
      seed: 7,
      response_format: "json_object",
      tools: ["get_weather"],
      tool_choice: "tool:get_weather",
    });
    expect(JSON.stringify(rec)).not.toMatch(/SECRET-TOOL-DOC|SECRET-STOP/);
  });

  it("records only the settings the call sends: inherited ones (params made with Object.create) are not sent, and not recorded", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const params = Object.assign(Object.create({ temperature: 0.9, tools: [{ type: "function", function: { name: "inherited" } }] }) as object, { model: "gpt-4o-mini", messages, max_tokens: 20 });
    await openai.chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(fake.requests.at(-1)!.body).not.toHaveProperty("temperature");
    expect((rec!.metadata as { openai: { request: unknown } }).openai.request).toEqual({ max_tokens: 20 });
  });

  it("records client.beta.responses.create, streamed or not, as responses.create (its calls went unrecorded, and nothing said so)", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const beta = (openai as unknown as { beta: { responses: OpenAI["responses"] } }).beta.responses;
    const r = await beta.create({ model: "gpt-4.1", input: "beta, plain" });
    // (the beta resource adds no output_text: the text is in the output items)
    const text = (r.output[0] as { content: Array<{ text: string }> }).content[0]!.text;
    expect(text).toMatch(/^In a peaceful grove/);
    const s = await beta.create({ model: "gpt-4.1", input: "beta, streamed", stream: true });
    for await (const _ of s);
    expect(fake.requests.slice(-2).map((q) => q.path)).toEqual(["/v1/responses", "/v1/responses"]);
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs.map((x) => [x.interactionType, x.promptPreview, x.success])).toEqual([
      ["responses", "beta, plain", true],
      ["responses", "beta, streamed", true],
    ]);
    expect(recs[0]!.responsePreview).toBe(text);
  });

  it("records responses.create: input, output_text, usage, status and function calls", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const r1 = await openai.responses.create({ model: "gpt-4.1", instructions: "Be nice.", input: "Tell me a story." });
    expect(r1.output_text).toMatch(/^In a peaceful grove/);
    await openai.responses.create({ model: "gpt-4.1", input: [{ role: "user", content: "Weather in Paris?" }], tools: [{ type: "function", name: "get_weather", parameters: {}, strict: false }] });
    const [rec1, rec2] = await recordsOf(logger, "chat_interaction", 2);
    expect(rec1).toMatchObject({
      interactionType: "responses",
      model: "gpt-4.1-2025-04-14",
      promptPreview: JSON.stringify({ instructions: "Be nice.", input: "Tell me a story." }),
      responsePreview: r1.output_text,
      inputTokens: 36,
      outputTokens: 87,
      finishReason: "completed",
      success: true,
    });
    expect(rec2!.toolCalls).toEqual([expect.objectContaining({ type: "function_call", name: "get_weather", arguments: '{"location":"Paris, France"}' })]);
    expect((rec1!.metadata as { openai: { request?: unknown } }).openai.request).toBeUndefined();
    expect((rec2!.metadata as { openai: { request: unknown } }).openai.request).toEqual({ tools: ["get_weather"] });
    await openai.responses.create({ model: "o4-mini", input: "Hi", reasoning: { effort: "low" }, max_output_tokens: 50, tools: [{ type: "web_search_preview" }], tool_choice: "auto", text: { format: { type: "text" } } });
    const rec3 = (await recordsOf(logger, "chat_interaction", 3))[2]!;
    expect((rec3.metadata as { openai: { request: unknown } }).openai.request).toEqual({ max_output_tokens: 50, reasoning_effort: "low", response_format: "text", tools: ["web_search_preview"], tool_choice: "auto" });
    // a chat completions custom tool by its name (it was recorded as "custom")
    await openai.chat.completions.create({ model: "gpt-5", messages, tools: [{ type: "custom", custom: { name: "lookup" } }], tool_choice: { type: "custom", custom: { name: "lookup" } } });
    const rec4 = (await recordsOf(logger, "chat_interaction", 4))[3]!;
    expect((rec4.metadata as { openai: { request: unknown } }).openai.request).toEqual({ tools: ["lookup"], tool_choice: "tool:lookup" });
  });

  it("records a Responses API refusal as the response text, as streams and chat do (the SDK's output_text is empty)", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    fake.enqueue({ fixture: "responses-refusal.json" });
    const r = await openai.responses.create({ model: "gpt-4.1", input: "Help me with something bad." });
    expect(r.output_text).toBe("");
    const [rec] = await recordsOf(logger, "chat_interaction", 1);
    expect(rec).toMatchObject({ responsePreview: "I'm sorry, I can't help with that.", success: true, outputTokens: 12 });
  });

  it("a Responses conversation continued with previous_response_id, a conversation or a stored prompt: the record names them and the earlier record has the Response's id, so the prompt (only the new input) can be linked to the rest (neither was recorded)", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const r1 = await openai.responses.create({ model: "gpt-4.1", input: "What is the capital of France?" });
    const r2 = await openai.responses.create({ model: "gpt-4.1", input: "And of Spain?", previous_response_id: r1.id });
    await openai.responses.create({ model: "gpt-4.1", input: "And of Italy?", conversation: { id: "conv_689667905b048191b4740501625afd940c7533ace33a2dab" } });
    await openai.responses.create({ model: "gpt-4.1", conversation: "conv_abc", prompt: { id: "pmpt_abc123", version: "2", variables: { city: "Rome" } } });
    const c = await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(fake.requests.at(-4)!.body.previous_response_id).toBe(r1.id);
    const [rec1, rec2, rec3, rec4, rec5] = await recordsOf(logger, "chat_interaction", 5);
    const meta = (r: Record<string, unknown> | undefined) => (r!.metadata as { openai: { responseId?: string; request?: Record<string, unknown> } }).openai;
    expect(meta(rec1).responseId).toBe(r1.id);
    expect(r1.id).toMatch(/^resp_/);
    // the prompt recorded is the input sent, the new turn only; the id says what came before it
    expect(rec2).toMatchObject({ promptPreview: "And of Spain?", success: true });
    expect(meta(rec2)).toMatchObject({ responseId: r2.id, request: { previous_response_id: r1.id } });
    expect(meta(rec3).request).toEqual({ conversation: "conv_689667905b048191b4740501625afd940c7533ace33a2dab" });
    // a stored prompt by its id and version; its variables are content, not metadata
    expect(meta(rec4).request).toEqual({ conversation: "conv_abc", prompt_id: "pmpt_abc123", prompt_version: "2" });
    expect(JSON.stringify(rec4!.metadata)).not.toContain("Rome");
    // ... and are the prompt recorded, as content (the call had no input; its prompt was "")
    expect(rec4!.promptPreview).toBe(JSON.stringify({ prompt: { id: "pmpt_abc123", version: "2", variables: { city: "Rome" } }, input: null }));
    expect(meta(rec5).responseId).toBe(c.id);
  });

  it("n: 2, streamed or not: each choice's finish reason is recorded, so a choice cut short (length) after one that stopped is seen (only the first choice's was)", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    fake.enqueue({ fixture: "chat-completion-n2.json" }, { fixture: "chat-stream-n2-length.sse" });
    const res = await openai.chat.completions.create({ model: "gpt-4o-mini", messages, n: 2 });
    expect(res.choices.map((c) => c.finish_reason)).toEqual(["stop", "length"]);
    const chunks = [];
    for await (const c of await openai.chat.completions.create({ model: "gpt-4o-mini", messages, n: 2, stream: true })) chunks.push(c);
    const [rec1, rec2] = await recordsOf(logger, "chat_interaction", 2);
    expect(rec1).toMatchObject({
      responsePreview: JSON.stringify([{ index: 0, content: "The capital of France is Paris." }, { index: 1, content: "The capital of France" }]),
      finishReason: "stop",
      metadata: { openai: { finishReasons: ["stop", "length"], request: { n: 2 } } },
    });
    expect(rec2).toMatchObject({ success: true, finishReason: "stop", metadata: { openai: { finishReasons: ["stop", "length"], end: "completed" } } });
    // one choice: no list, as before
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    const rec3 = (await recordsOf(logger, "chat_interaction", 3))[2]!;
    expect(rec3.finishReason).toBe("stop");
    expect((rec3.metadata as { openai: Record<string, unknown> }).openai).not.toHaveProperty("finishReasons");
  });

  it("the model asked for is kept as metadata.openai.requestedModel when the reply names another (an alias answered by a dated snapshot), as the Anthropic and AI SDK records keep it; not when they are the same", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const res = await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(res.model).toBe("gpt-4o-mini-2024-07-18");
    await openai.chat.completions.create({ model: "gpt-4o-mini-2024-07-18", messages });
    const r = await openai.responses.create({ model: "gpt-4.1", input: "hi" });
    const [rec1, rec2, rec3] = await recordsOf(logger, "chat_interaction", 3);
    expect(rec1).toMatchObject({ model: "gpt-4o-mini-2024-07-18", metadata: { openai: { requestedModel: "gpt-4o-mini" } } });
    expect((rec2!.metadata as { openai: Record<string, unknown> }).openai).not.toHaveProperty("requestedModel");
    expect(rec3).toMatchObject({ model: r.model, metadata: { openai: { requestedModel: "gpt-4.1" } } });
  });

  it("n: 2 with tool calls, streamed or not: each call says which choice made it (choice: its index); they were one list, two answers' calls read as one answer calling twice", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object", properties: {} } } }];
    fake.enqueue({ fixture: "chat-completion-n2-tools.json" }, { fixture: "chat-stream-n2-tools.sse" });
    const res = await openai.chat.completions.create({ model: "gpt-4o-mini", messages, n: 2, tools });
    expect(res.choices.map((c) => c.message.tool_calls?.[0]?.id)).toEqual(["call_Q2dMZ8uGkVBHQnAbB7YcKx4t", "call_second_choice_1"]);
    // (the app's objects are not changed: no `choice` member added to them)
    expect(res.choices[1]!.message.tool_calls![0]).not.toHaveProperty("choice");
    for await (const _ of await openai.chat.completions.create({ model: "gpt-4o-mini", messages, n: 2, tools, stream: true })) void _;
    const [rec1, rec2] = await recordsOf(logger, "chat_interaction", 2);
    expect(rec1!.toolCalls).toEqual([
      { id: "call_Q2dMZ8uGkVBHQnAbB7YcKx4t", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' }, choice: 0 },
      { id: "call_second_choice_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Lyon"}' }, choice: 1 },
    ]);
    expect(rec2!.toolCalls).toEqual([
      { index: 0, id: "call_a0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' }, choice: 0 },
      { index: 0, id: "call_b0", type: "function", function: { name: "get_time", arguments: '{"tz":"CET"}' }, choice: 1 },
    ]);
    // one choice: the calls as they were, no `choice`
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages, tools });
    const rec3 = (await recordsOf(logger, "chat_interaction", 3))[2]!;
    expect((rec3.toolCalls as Array<Record<string, unknown>>)[0]).not.toHaveProperty("choice");
  });

  it("an audio answer (modalities text + audio), streamed or not: the response is its transcript, never the audio data (it was recorded as \"\")", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger, includeUsageInStreams: true });
    const params = { model: "gpt-4o-audio-preview", modalities: ["text" as const, "audio" as const], audio: { voice: "alloy" as const, format: "wav" as const }, messages };
    fake.enqueue({ fixture: "chat-completion-audio.json" }, { fixture: "chat-stream-audio.sse" });
    const res = await openai.chat.completions.create(params);
    expect([res.choices[0]!.message.content, res.choices[0]!.message.audio?.transcript]).toEqual([null, "The capital of France is Paris."]);
    let streamed = "";
    for await (const c of await openai.chat.completions.create({ ...params, stream: true })) streamed += (c.choices[0]?.delta as { audio?: { transcript?: string } } | undefined)?.audio?.transcript ?? "";
    expect(streamed).toBe("The capital of France is Paris.");
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ responsePreview: "The capital of France is Paris.", finishReason: "stop", success: true });
    expect(recs[1]).toMatchObject({ responsePreview: "The capital of France is Paris.", finishReason: "stop", success: true, outputTokens: 40, metadata: { openai: { end: "completed" } } });
    expect(recs[1]!.timeToFirstTokenSeconds).toBeGreaterThan(0);
    expect(JSON.stringify(recs)).not.toContain("UklGR");
  });

  it("chat.completions.parse() goes through create() and is recorded once", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const parsed = await openai.chat.completions.parse({ model: "gpt-4o-mini", messages });
    expect(parsed.choices[0]!.message.content).toBe("The capital of France is Paris.");
    expect(await recordsOf(logger, "chat_interaction")).toHaveLength(1);
  });

  it("keeps .withResponse() and .asResponse() (the original APIPromise)", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const { data, response, request_id } = await openai.chat.completions.create({ model: "gpt-4o-mini", messages }).withResponse();
    expect(response.status).toBe(200);
    expect(request_id).toMatch(/^req_fake_/);
    expect(data.choices[0]!.message.content).toBe("The capital of France is Paris.");

    // asResponse(): the app reads the body itself, so nothing must have consumed it
    const raw = await openai.chat.completions.create({ model: "gpt-4o-mini", messages }).asResponse();
    const body = (await raw.json()) as { model: string };
    expect(body.model).toBe("gpt-4o-mini-2024-07-18");
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ success: true, responsePreview: "The capital of France is Paris." });
    expect(recs[1]).toMatchObject({ success: true, statusCode: 200, model: "gpt-4o-mini", metadata: { openai: { rawResponse: true } } });
    // the promise's own members are the bare client's (asResponse is observed on its class)
    const bare = client().chat.completions.create({ model: "gpt-4o-mini", messages });
    const wrappedPromise = openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(Object.keys(wrappedPromise).sort()).toEqual(Object.keys(bare).sort());
    expect(Object.getOwnPropertyNames(wrappedPromise).sort()).toEqual(Object.getOwnPropertyNames(bare).sort());
    expect(wrappedPromise.asResponse.name).toBe("asResponse");
    // a client that is not wrapped still gets its raw Response, and nothing is recorded for it
    const bareRaw = await bare.asResponse();
    expect(((await bareRaw.json()) as { model: string }).model).toBe("gpt-4o-mini-2024-07-18");
    await wrappedPromise;
    expect(await recordsOf(logger, "chat_interaction", 3)).toHaveLength(3);
  });

  it(".asResponse() on a promise of the SDK's parse() helper is recorded as a raw response when it arrives", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const raw = await openai.chat.completions.parse({ model: "gpt-4o-mini", messages }).asResponse();
    expect(raw.status).toBe(200);
    expect(((await raw.json()) as { object: string }).object).toBe("chat.completion");
    const [rec, ...rest] = await recordsOf(logger, "chat_interaction");
    expect(rest).toHaveLength(0);
    expect(rec).toMatchObject({ success: true, statusCode: 200, metadata: { openai: { rawResponse: true } } });
  });

  it("includes the promise's own methods on the returned object", () => {
    const openai = wrapOpenAI(client(), { logger: newLogger() });
    const p = openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(p.constructor.name).toBe("APIPromise");
    expect(typeof p.withResponse).toBe("function");
    return p;
  });
});

describe("wrapOpenAI: when records reach the disk (async mode)", () => {
  it("a call's record is on disk within one flushIntervalMs plus a margin, with no flush() (not built after one interval and written after a second)", async () => {
    const projectPath = tmpProject();
    // (no bound in milliseconds that load can cross: the record is checked against timers of the
    // logger's interval set right before the call, which fire before the logger's own)
    const interval = 2_000;
    const logger = new AuditLogger({ sessionId: "openai_timing", projectPath, flushIntervalMs: interval });
    loggers.push(logger);
    const file = path.join(logger.auditDir, "chat_interactions_openai_timing.jsonl");
    const onDisk = () => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    let firstIntervalAt: number | undefined;
    setTimeout(() => (firstIntervalAt = performance.now()), interval);
    let early = true;
    setTimeout(() => (early = false), interval - 300);
    const calledAt = performance.now();
    await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages });
    const callTook = performance.now() - calledAt;
    // still batched in memory, as async mode allows: not on disk at any look while the logger's
    // first interval certainly has not ended (under load there may be fewer such looks, never a
    // wrong one)
    let earlyLooks = 0;
    while (firstIntervalAt === undefined) {
      if (early) {
        expect(onDisk()).toBe(0);
        earlyLooks++;
      }
      await sleep(10);
    }
    // built and written when the first interval ends: well before a second one would end (a
    // record built after one interval and written after the next is an interval later)
    const deadline = firstIntervalAt + 30_000;
    while (onDisk() === 0 && performance.now() < deadline) await sleep(10);
    expect(onDisk()).toBe(1);
    expect(performance.now() - firstIntervalAt).toBeLessThan(interval - 300);
    // (one look at least, made as the call returned, unless the call itself took most of the interval)
    if (callTook < interval - 350) expect(earlyLooks, "looks before the interval").toBeGreaterThan(0);
  });
});

describe("wrapOpenAI: errors", () => {
  for (const status of [400, 401, 404, 429, 500, 503]) {
    it(`HTTP ${status}: the SDK's own error class is rethrown, recorded once with the status`, async () => {
      const logger = newLogger();
      fake.enqueue({ status, errorMessage: `boom ${status}` }, { status, errorMessage: `boom ${status}` });
      const bareErr = await client().chat.completions.create({ model: "gpt-4o-mini", messages }).catch((e: unknown) => e);
      const err = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(APIError);
      expect((err as Error).constructor).toBe((bareErr as Error).constructor);
      expect((err as Error).message).toBe((bareErr as Error).message);
      expect((err as APIError).status).toBe(status);
      const recs = await recordsOf(logger, "chat_interaction");
      expect(recs).toHaveLength(1);
      expect(recs[0]).toMatchObject({ success: false, statusCode: status, model: "gpt-4o-mini" });
      expect(recs[0]!.errorMessage).toContain(`boom ${status}`);
      expect(recs[0]!.errorMessage).toContain((err as Error).constructor.name);
      expect(recs[0]!.metadata).toEqual({ openai: { method: "chat.completions.create", requestId: expect.stringMatching(/^req_fake_/) } });
    });
  }

  it("a retried call (429 then 200) is one successful record", async () => {
    const logger = newLogger();
    fake.enqueue({ status: 429 });
    const res = await wrapOpenAI(client(2), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(res.choices[0]!.finish_reason).toBe("stop");
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true });
  });

  it("retries (maxRetries) after a 500: one record per call, .withResponse() too, the outcome of its last attempt, with how many requests it took (the retries were not seen in the record)", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(2), { logger });
    fake.enqueue({ status: 500 }, { status: 500 });
    const { data, response } = await openai.chat.completions.create({ model: "gpt-4o-mini", messages }).withResponse();
    expect([response.status, data.choices[0]!.finish_reason]).toEqual([200, "stop"]);
    fake.enqueue({ status: 500 }, { status: 503 }, { status: 503 });
    const err = await openai.responses.create({ model: "gpt-4.1", input: "Hi" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    const recs = await recordsOf(logger, "chat_interaction", 3);
    expect(recs).toHaveLength(3);
    expect(recs[0]).toMatchObject({ success: true, responsePreview: "The capital of France is Paris.", metadata: { openai: { attempts: 3, requestId: response.headers.get("x-request-id") } } });
    expect(recs[1]).toMatchObject({ success: false, statusCode: 503, metadata: { openai: { attempts: 3 } } });
    // a call answered at its first request says nothing of attempts
    expect((recs[2]!.metadata as { openai: Record<string, unknown> }).openai).not.toHaveProperty("attempts");
    // counted without content capture too (the body is not kept)
    const quiet = newLogger();
    fake.enqueue({ status: 429 });
    await wrapOpenAI(client(1), { logger: quiet, captureContent: false }).chat.completions.create({ model: "gpt-4o-mini", messages });
    const [q] = await recordsOf(quiet, "chat_interaction");
    expect(q).toMatchObject({ success: true, metadata: { openai: { attempts: 2 } } });
    expectNothingCaptured(quiet, q);
  });

  it("a network error rethrows the SDK's APIConnectionError and is recorded once", async () => {
    const logger = newLogger();
    fake.enqueue({ resetConnection: true }, { resetConnection: true });
    const bareErr = await client().chat.completions.create({ model: "gpt-4o-mini", messages }).catch((e: unknown) => e);
    const err = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages }).catch((e: unknown) => e);
    expect(bareErr).toBeInstanceOf(APIConnectionError);
    expect(err).toBeInstanceOf(APIConnectionError);
    expect((err as Error).message).toBe((bareErr as Error).message);
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, errorMessage: expect.stringContaining("APIConnectionError") });
    expect(recs[0]).not.toHaveProperty("statusCode");
  });

  it("an error the app never awaits still surfaces as an unhandled rejection, as without the wrapper", async () => {
    const logger = newLogger();
    const seen: unknown[] = [];
    const onUnhandled = (reason: unknown) => seen.push(reason);
    process.on("unhandledRejection", onUnhandled);
    let bareSeen: unknown[] = [];
    try {
      // (each rejection waited for, up to 10 s, then 100 ms more for a second one: a fixed 100 ms
      // after the call could end before a loaded machine's round trip to the fake did)
      const rejected = async () => {
        for (let i = 0; i < 1000 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 100));
      };
      fake.enqueue({ status: 429 });
      void client().chat.completions.create({ model: "gpt-4o-mini", messages });
      await rejected();
      bareSeen = seen.splice(0);
      // create() without awaiting: the SDK does not read the response, only our hook does
      fake.enqueue({ status: 429 });
      void wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages });
      await recordsOf(logger, "chat_interaction");
      await rejected();
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(bareSeen).toHaveLength(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(RateLimitError);
  });
});

describe("wrapOpenAI: wrapping, loggers and context", () => {
  it("wrapping twice records once", async () => {
    const logger = newLogger();
    const raw = client();
    const once = wrapOpenAI(raw, { logger });
    const twice = wrapOpenAI(wrapOpenAI(once, { logger }), { logger });
    expect(twice).toBe(raw);
    await twice.chat.completions.create({ model: "gpt-4o-mini", messages });
    await twice.responses.create({ model: "gpt-4.1", input: "hi" });
    expect(await recordsOf(logger, "chat_interaction", 2)).toHaveLength(2);
  });

  // (review, 2026-12-04, fifth session: a second wrap's options were ignored with nothing said,
  // its records went to the first wrap's logger)
  it("wrapping again with other options keeps the first wrap (one record, the first logger's) and says so in one process warning, naming the options; the same options say nothing", async () => {
    const first = newLogger();
    const other = newLogger();
    const warnings: Array<{ code?: string; message: string }> = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push({ code: w.code, message: w.message });
    process.on("warning", onWarning);
    try {
      const raw = client();
      const opts = { logger: first };
      wrapOpenAI(raw, opts);
      wrapOpenAI(raw, opts);
      wrapOpenAI(raw, { logger: first });
      const anthropicLike = wrapAnthropic(new Anthropic({ apiKey: "test", baseURL: "http://127.0.0.1:9" }), { logger: first });
      wrapAnthropic(anthropicLike, { logger: first, captureContent: true });
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.code === "AUDIT_WARN_REWRAPPED")).toEqual([]);
      wrapOpenAI(raw, { logger: other, captureContent: false });
      wrapOpenAI(raw, { logger: other });
      wrapAnthropic(anthropicLike, { logger: other });
      await new Promise((r) => setImmediate(r));
      const rewraps = warnings.filter((w) => w.code === "AUDIT_WARN_REWRAPPED");
      expect(rewraps).toHaveLength(1);
      expect(rewraps[0]!.message).toMatch(/wrapOpenAI\(\).*already wrapped.*logger, captureContent/);
      await raw.chat.completions.create({ model: "gpt-4o-mini", messages });
      expect(await recordsOf(first, "chat_interaction")).toHaveLength(1);
      expect(await recordsOf(other, "chat_interaction")).toHaveLength(0);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("a client derived with withOptions() stays instrumented", async () => {
    const logger = newLogger();
    const derived = wrapOpenAI(client(), { logger }).withOptions({ timeout: 5000 });
    expect(derived).toBeInstanceOf(OpenAI);
    await derived.chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(await recordsOf(logger, "chat_interaction")).toHaveLength(1);
  });

  it("with no logger anywhere the call works and nothing is recorded", async () => {
    const idle = newLogger();
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? "");
    process.on("warning", onWarning);
    try {
      const res = await wrapOpenAI(client()).chat.completions.create({ model: "gpt-4o-mini", messages });
      expect(res.choices[0]!.message.content).toBe("The capital of France is Paris.");
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off("warning", onWarning);
    }
    expect(await recordsOf(idle, "chat_interaction", 0, 0)).toEqual([]);
    expect(warnings.filter((c) => c === "AUDIT_WARN_NO_LOGGER").length).toBeLessThanOrEqual(1);
  });

  it("finds its logger at call time: option, then context, then default", async () => {
    const fromOption = newLogger();
    const fromContext = new AuditLogger({ sessionId: "ctx", projectPath: tmpProject() });
    const fromDefault = new AuditLogger({ sessionId: "def", projectPath: tmpProject() });
    loggers.push(fromContext, fromDefault);
    setDefaultAuditLogger(fromDefault);
    try {
      const plain = wrapOpenAI(client());
      await plain.chat.completions.create({ model: "gpt-4o-mini", messages });
      await auditContext.run({ logger: fromContext }, () => plain.chat.completions.create({ model: "gpt-4o-mini", messages }));
      await auditContext.run({ logger: fromContext }, () => wrapOpenAI(client(), { logger: fromOption }).chat.completions.create({ model: "gpt-4o-mini", messages }));
    } finally {
      setDefaultAuditLogger(undefined);
    }
    expect(await recordsOf(fromDefault, "chat_interaction")).toHaveLength(1);
    expect(await recordsOf(fromContext, "chat_interaction")).toHaveLength(1);
    expect(await recordsOf(fromOption, "chat_interaction")).toHaveLength(1);
  });

  it("records carry the context's userId, traceId, parentId, persona and metadata", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    await auditContext.run({ userId: "user-42", traceId: "trace-abc", parentId: "req-1", persona: "support", metadata: { tenant: "acme" } }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    });
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({
      userId: "user-42",
      traceId: "trace-abc",
      parentId: "req-1",
      persona: "support",
      metadata: { tenant: "acme", openai: { requestId: expect.any(String) } },
    });
  });

  it("calls made inside the SDK call (its fetch) get the interaction as their parent, streamed or not, also with thread: true (they had none)", async () => {
    for (const thread of [false, true]) {
      const logger = new AuditLogger({ sessionId: "openai_nest", projectPath: tmpProject(), thread });
      loggers.push(logger);
      const auditedFetch: typeof fetch = async (input, init) => {
        logger.logToolUsage({ toolName: "http", operation: "POST" });
        return fetch(input, init);
      };
      const openai = wrapOpenAI(new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0, fetch: auditedFetch }), { logger });
      await auditContext.run({ traceId: "trace-nest", parentId: "req-1" }, async () => {
        await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
        for await (const _ of await openai.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true })) {
          // read to the end
        }
      });
      // outside any trace: the call starts one, named by its id, which its fetch carries too
      await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
      const chats = await recordsOf(logger, "chat_interaction", 3);
      const tools = await recordsOf(logger, "tool_usage", 3);
      expect(chats).toHaveLength(3);
      expect(tools.map((t) => t.parentId), `thread: ${thread}`).toEqual(chats.map((c) => c.id));
      for (const r of [...chats.slice(0, 2), ...tools.slice(0, 2)]) expect(r.traceId).toBe("trace-nest");
      for (const c of chats.slice(0, 2)) expect(c.parentId).toBe("req-1");
      expect([chats[2]!.traceId, tools[2]!.traceId]).toEqual([chats[2]!.id, chats[2]!.id]);
      expect(chats[2]).not.toHaveProperty("parentId");
      expect((await verifyAuditLog(logger.auditDir)).ok).toBe(true);
    }
  });

  it("the client's other resources (embeddings) pass through unrecorded; with withAuditFetch as the client's fetch each request is one ToolUsage (as INTEGRATIONS.md says)", async () => {
    const logger = newLogger();
    const plain = wrapOpenAI(client(), { logger });
    const e1 = await plain.embeddings.create({ model: "text-embedding-3-small", input: "hello" });
    expect(e1.data[0]!.embedding).toHaveLength(4);
    const viaFetch = wrapOpenAI(new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0, fetch: withAuditFetch(fetch, { logger }) }), { logger });
    const e2 = await viaFetch.embeddings.create({ model: "text-embedding-3-small", input: "hello" });
    expect(e2).toEqual(e1);
    await viaFetch.chat.completions.create({ model: "gpt-4o-mini", messages });
    const chats = await recordsOf(logger, "chat_interaction", 1);
    const tools = await recordsOf(logger, "tool_usage", 2);
    // one chat: the completion's; two requests on record: the second client's embeddings and completion
    expect(chats).toHaveLength(1);
    expect(tools.map((t) => [t.toolName, t.operation])).toEqual([
      ["fetch", expect.stringMatching(/^POST 127\.0\.0\.1:\d+\/v1\/embeddings$/)],
      ["fetch", expect.stringMatching(/^POST 127\.0\.0\.1:\d+\/v1\/chat\/completions$/)],
    ]);
    expect(tools[1]!.parentId).toBe(chats[0]!.id);
    expect(JSON.stringify(tools)).not.toContain("sk-test");
  });

  it("records built together in one batch each keep their own call's context, or none", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    // the first call schedules the batch inside user A's context; the others join it
    await auditContext.run({ userId: "user-a", traceId: "trace-a", metadata: { tenant: "a" } }, () => openai.chat.completions.create({ model: "gpt-4o-mini", messages }));
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    await auditContext.run({ userId: "user-b" }, () => openai.chat.completions.create({ model: "gpt-4o-mini", messages }));
    await auditContext.run({ userId: "user-c" }, () => logger.flush()); // built here, in yet another context
    const recs = await recordsOf(logger, "chat_interaction", 3);
    // (a call outside any trace starts its own, named by its record's id)
    expect(recs.map((r) => [r.userId, r.traceId === r.id ? "its own" : r.traceId, (r.metadata as { tenant?: string }).tenant])).toEqual([
      ["user-a", "trace-a", "a"],
      [undefined, "its own", undefined],
      ["user-b", "its own", undefined],
    ]);
  });

  it("a user set on the request's context after the call (the record is made later) is not the call's", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    await auditContext.run({ userId: "before" }, async () => {
      await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
      auditContext.setUser("after");
    });
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({ userId: "before" });
  });

  it("params that throw when read fail as with the bare client (a rejected promise, not a throw), and the failure is recorded", async () => {
    const logger = newLogger();
    const unreadable = () => {
      const p = { model: "gpt-4o-mini", stream: true as const };
      Object.defineProperty(p, "messages", { enumerable: true, get: () => { throw new RangeError("messages not readable"); } });
      return p as typeof p & { messages: typeof messages };
    };
    const outcome = async (make: () => Promise<unknown>) => {
      let p: Promise<unknown>;
      try {
        p = make();
      } catch (e) {
        return `threw ${(e as Error).message}`;
      }
      return p.then(() => "resolved", (e: unknown) => `rejected ${(e as Error).message}`);
    };
    const bare = await outcome(() => client().chat.completions.create(unreadable()));
    const wrapped = await outcome(() => wrapOpenAI(client(), { logger, includeUsageInStreams: true }).chat.completions.create(unreadable()));
    expect(wrapped).toBe(bare);
    expect(wrapped).toBe("rejected messages not readable");
    const [rec, ...rest] = await recordsOf(logger, "chat_interaction");
    expect(rest).toHaveLength(0);
    expect(rec).toMatchObject({ success: false });
    expect(rec!.errorMessage).toContain("messages not readable");
  });

  it("captureContent: false keeps counts, timings and tool names but no content", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger, captureContent: false });
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages, tools: [{ type: "function", function: { name: "get_weather" } }] });
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({ promptLength: 0, responseLength: 0, inputTokens: 82, outputTokens: 17, toolCalls: [{ type: "function", name: "get_weather" }] });
    expectNothingCaptured(logger, rec);
    expect(JSON.stringify(rec)).not.toContain("Paris");
    expect(JSON.stringify(rec)).not.toContain("capital of France");
  });

  it("with an encrypting logger, prompt, response and tool calls are not stored in the clear", async () => {
    const logger = new AuditLogger({ sessionId: "openai_enc", projectPath: tmpProject(), encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    loggers.push(logger);
    await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, tools: [{ type: "function", function: { name: "get_weather" } }] });
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec!.encrypted).toEqual(expect.arrayContaining(["promptPreview", "responsePreview", "toolCalls"]));
    expect(JSON.stringify(rec)).not.toContain("capital of France");
    expect(JSON.stringify(rec)).not.toContain("Paris");
    expect(rec).toMatchObject({ inputTokens: 82, finishReason: "tool_calls", success: true });
  });

  it("a closed logger does not break the call: the failure is an error event", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger: newLogger() });
    const errors: Error[] = [];
    const closing = loggers[loggers.length - 1]!;
    closing.on("error", (e) => errors.push(e));
    const p = openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    await closing.finalizeSession();
    const res = await p;
    expect(res.choices[0]!.message.content).toBe("The capital of France is Paris.");
    await new Promise((r) => setTimeout(r, 20));
    expect(errors.map((e) => e.name)).toEqual(["AuditSessionClosedError"]);
    expect(await recordsOf(logger, "chat_interaction", 0, 0)).toEqual([]);
  });

  it("a closed logger does not break a streamed call; with no error listener the failure is a process warning", async () => {
    const closing = newLogger();
    const openai = wrapOpenAI(client(), { logger: closing });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const stream = await openai.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
      await closing.finalizeSession();
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      expect(text).toBe("The capital of France is Paris.");
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off("warning", onWarning);
    }
    const failed = warnings.filter((w) => (w as { code?: string }).code === "AUDIT_WARN_RECORD_FAILED");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.message).toMatch(/^audit-logger could not record a call: /);
    expect(failed[0]!.name).toBe("AuditLoggerWarning");
  });

  it("flush() and finalizeSession() right after a call include its record", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    await logger.flush();
    const file = path.join(logger.auditDir, `chat_interactions_${logger.sessionId}.jsonl`);
    expect(fs.readFileSync(file, "utf8").trim().split("\n")).toHaveLength(1);
    for await (const _ of await openai.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true })) {
      // read to the end
    }
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages }).catch(() => undefined);
    fake.enqueue({ status: 500 });
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages }).catch(() => undefined);
    const summary = await logger.finalizeSession();
    expect(summary.counts.chat_interaction).toBe(4);
    expect(fs.readFileSync(file, "utf8").trim().split("\n")).toHaveLength(4);
  });

  it("a call that ends right before process.exit() is still on disk (real child process)", async () => {
    const dir = tmpProject();
    const script = path.join(dir, "exit.mts");
    fs.writeFileSync(
      script,
      `import OpenAI from ${mod("node_modules/openai/index.mjs")};
import { AuditLogger } from ${mod("src/logger.ts")};
import { wrapOpenAI } from ${mod("integrations/openai.ts")};
const [baseURL, projectPath] = process.argv.slice(2);
const logger = new AuditLogger({ sessionId: "exit_child", projectPath });
const openai = wrapOpenAI(new OpenAI({ baseURL, apiKey: "sk-test", maxRetries: 0 }), { logger });
const r = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
console.log(r.choices[0].message.content);
process.exit(0);
`,
    );
    const { stdout } = await promisify(execFile)(process.execPath, [...childArgs(script, { tsx: true }), fake.baseURL, dir], { cwd: REPO });
    expect(stdout.trim()).toBe("The capital of France is Paris.");
    const file = path.join(dir, "audit_logs", "chat_interactions_exit_child.jsonl");
    const lines = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ success: true, responsePreview: "The capital of France is Paris." });
  });
});

describe("wrapOpenAI: the prompt recorded is the one sent", () => {
  it("a chat app that pushes the answer and the next question onto `messages` right after the call does not change the recorded prompt (records are built later, in a batch)", async () => {
    const logger = newLogger();
    const wrapped = wrapOpenAI(client(), { logger });
    const history: Array<{ role: "system" | "user" | "assistant"; content: string }> = messages.map((m) => ({ ...m }));
    const first = fake.requests.length;
    const r = await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages: history });
    history.push({ role: "assistant", content: r.choices[0]!.message.content ?? "" });
    history.push({ role: "user", content: "And of Spain?" });
    history[0]!.content = "changed after the call";
    const s = await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages: history, stream: true });
    for await (const _ of s) history.push({ role: "user", content: "pushed while streaming" });
    history.length = 0;
    const recs = await recordsOf(logger, "chat_interaction", 2);
    const sent = fake.requests.slice(first).map((q) => JSON.stringify(q.body.messages));
    expect(sent).toHaveLength(2);
    expect(JSON.parse(sent[0]!)).toEqual(messages);
    // the length and the preview are of the prompt text: the messages as sent
    expect(recs.map((r) => r.promptLength)).toEqual(sent.map((t) => t.length));
    expect(recs[0]!.promptPreview).toBe(sent[0]);
    expect(sent[1]!.startsWith(String(recs[1]!.promptPreview).slice(0, 150))).toBe(true);
    expect(recs[1]!.promptPreview).toContain("changed after the call");
  });
});

describe("wrapOpenAI: the response recorded is the one received", () => {
  it("an app that changes the completion it got (content, usage, tool calls) does not change the record", async () => {
    const logger = newLogger();
    const wrapped = wrapOpenAI(client(), { logger });
    fake.enqueue({ fixture: "chat-completion-tools.json" });
    const r = await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages });
    const original = JSON.parse(JSON.stringify(r)) as typeof r;
    r.choices[0]!.message.content = "changed by the app";
    r.usage!.total_tokens = 0;
    const call = r.choices[0]!.message.tool_calls![0]! as { function: { arguments: string } };
    call.function.arguments = "{}";
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec!.usage).toEqual(original.usage);
    expect(rec!.toolCalls).toEqual(original.choices[0]!.message.tool_calls);
    expect(rec!.responseLength).toBe((original.choices[0]!.message.content ?? "").length);
  });
});

describe("wrapOpenAI: calls sharing one params object", () => {
  it("two calls made at once with the same params each record the prompt that was sent", async () => {
    const logger = newLogger();
    const wrapped = wrapOpenAI(client(), { logger });
    const params = { model: "gpt-4o-mini", messages: [{ role: "user" as "user" | "assistant", content: "question 1" }] };
    await Promise.all([wrapped.chat.completions.create(params), wrapped.chat.completions.create(params)]);
    params.messages.push({ role: "assistant", content: "ok" }, { role: "user", content: "question 2 (never sent with these calls)" });
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs.map((r) => r.promptPreview)).toEqual([JSON.stringify([{ role: "user", content: "question 1" }]), JSON.stringify([{ role: "user", content: "question 1" }])]);
  });
});

describe("wrapOpenAI: a call that fails before its body is serialised", () => {
  it("is recorded once with its error, and the wrapper keeps nothing of it, its params included (real child process, --expose-gc)", async () => {
    const r = await promisify(execFile)(process.execPath, ["--expose-gc", ...childArgs(path.join(REPO, "test/fixtures/openai/params-child.mts")), tmpProject("audit-openai-params-")], {
      cwd: REPO,
      encoding: "utf8",
      timeout: 30_000,
    });
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { records: Record<string, unknown>[]; errors: string[]; collected: boolean[] };
    // the app gets the original error, each call has one record
    expect(out.errors).toEqual(["refused before serialising", "refused before serialising"]);
    expect(out.records).toHaveLength(3);
    expect(out.records.filter((x) => x.success === false).map((x) => x.errorMessage)).toEqual(["refused before serialising", "refused before serialising"]);
    expect(out.records.filter((x) => x.success === true)).toHaveLength(1);
    // its prompt is read from the params (the SDK never serialised them)
    expect(out.records[0]).toMatchObject({ promptPreview: JSON.stringify([{ role: "user", content: "fails early" }]) });
    // nothing of the wrapper's holds the params of a recorded call
    expect(out.collected).toEqual([true, true, true]);
  });
});

describe("wrapOpenAI: a retry does not hand its body to another call", () => {
  it("a call that shares the params object and builds its request while the first call retries records its own prompt", async () => {
    const logger = newLogger();
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // the second call's credentials take 200 ms
    let slowNext = false;
    const apiKey = async () => {
      const wait = slowNext ? 200 : 5;
      slowNext = false;
      await sleep(wait);
      return "sk-test";
    };
    fake.enqueue({ status: 500, errorMessage: "try again" });
    const wrapped = wrapOpenAI(new OpenAI({ baseURL: fake.baseURL, apiKey, maxRetries: 1 }), { logger });
    const params = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "v1" }] };
    const first = fake.requests.length;
    const a = wrapped.chat.completions.create(params);
    while (fake.requests.length === first) await sleep(2);
    slowNext = true;
    const b = wrapped.chat.completions.create(params);
    // the first call's retry (the fake asks for it after 1 ms) is serialised while the second call
    // waits for its key; then the params change, and the second call serialises them
    await sleep(120);
    params.messages[0]!.content = "v2";
    await Promise.all([a, b]);
    const sent = fake.requests.slice(first).map((q) => (q.body.messages as Array<{ content: string }>)[0]!.content);
    const recs = await recordsOf(logger, "chat_interaction", 2);
    // each record's prompt is what its own call sent last
    const byOrder = recs.map((r) => JSON.parse(String(r.promptPreview)) as Array<{ content: string }>);
    expect(sent[0]).toBe("v1");
    expect(byOrder.map((p) => p[0]!.content).sort()).toEqual([sent[1]!, sent[2]!].sort());
  });
});

describe("wrapOpenAI: a client without the SDK's request building (not a Stainless client)", () => {
  it("the prompt is copied when the call is made, so later changes to `messages` are not recorded", async () => {
    const logger = newLogger();
    const completion = JSON.parse(fs.readFileSync(path.join(REPO, "test/fixtures/openai/chat-completion.json"), "utf8")) as Record<string, unknown>;
    const plain = { chat: { completions: { create: async (_body: unknown) => completion } } };
    const wrapped = wrapOpenAI(plain, { logger });
    const history = messages.map((m) => ({ ...m }));
    await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages: history });
    history.push({ role: "user", content: "And of Spain?" });
    history[0]!.content = "changed after the call";
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec!.promptPreview).toBe(JSON.stringify(messages));
  });

  it("a result JSON cannot express (a BigInt, a cycle in its usage) is recorded as JSON data, the app's object untouched", async () => {
    const logger = newLogger();
    const usage: Record<string, unknown> = { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29, billed: 12345678901234567890n };
    usage.self = usage;
    const completion = { ...(JSON.parse(fs.readFileSync(path.join(REPO, "test/fixtures/openai/chat-completion.json"), "utf8")) as Record<string, unknown>), usage };
    const plain = { chat: { completions: { create: async (_body: unknown) => completion } } };
    const got = await wrapOpenAI(plain, { logger }).chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(got).toBe(completion);
    expect(got.usage).toBe(usage);
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({ inputTokens: 19, outputTokens: 10, usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29, billed: "12345678901234567890", self: "[Circular]" } });
  });
});

describe("wrapOpenAI with a logger that records on a worker thread (thread: true)", () => {
  it("records the same interactions as without the thread", async () => {
    const recordWith = async (thread: boolean) => {
      const logger = new AuditLogger({ sessionId: thread ? "openai_thread" : "openai_plain", projectPath: tmpProject(), thread });
      loggers.push(logger);
      const wrapped = wrapOpenAI(client(), { logger, includeUsageInStreams: true });
      // the first record has the worker load the integration's input builder (until it has, the
      // inputs are made on the app's thread); the next ones are made on the worker
      await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages });
      await logger.flush();
      const history = messages.map((m) => ({ ...m }));
      await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages: history });
      history.push({ role: "user", content: "pushed after the call" });
      const s = await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages: history, stream: true });
      for await (const _ of s);
      fake.enqueue({ status: 500, errorMessage: "boom" });
      await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages }).catch(() => undefined);
      await logger.flush();
      const recs = await recordsOf(logger, "chat_interaction", 4);
      await logger.finalizeSession();
      expect((await verifyAuditLog(logger.auditDir)).ok).toBe(true);
      return recs.map((r) => comparableChat(r, "openai", ["requestId"]));
    };
    const plain = await recordWith(false);
    const threaded = await recordWith(true);
    expect(threaded).toHaveLength(4);
    expect(threaded).toEqual(plain);
    expect((threaded[1] as Record<string, unknown>).promptPreview).toBe(JSON.stringify(messages));
    expect(threaded[3]).toMatchObject({ success: false, statusCode: 500 });
  });
});

describe("a decorated method returning the SDK's promise", () => {
  it("is recorded when it settles however the caller reads it: await, .withResponse(), .catch() of a failure (which the SDK runs without then())", async () => {
    const { AuditTool } = await import("../../decorators/index.js");
    const logger = newLogger();
    const sdk = client();
    const ask = AuditTool("llm", { logger, captureResult: (r) => (r as { choices: unknown[] }).choices.length })(
      function ask(this: unknown, q: string) {
        return sdk.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: q }] });
      },
      { kind: "method", name: "ask" } as ClassMethodDecoratorContext,
    );
    expect((await ask("awaited")).choices).toHaveLength(1);
    const { data, response } = await ask("with response").withResponse();
    expect([data.choices.length, response.status]).toEqual([1, 200]);
    fake.enqueue({ status: 429, errorMessage: "slow down" });
    expect(await ask("caught").catch((e: unknown) => (e as Error).constructor.name)).toBe("RateLimitError");
    const recs = await recordsOf(logger, "tool_usage", 3);
    expect(recs.map((r) => [(r.parameters as string[])[0], r.success, r.result ?? r.errorMessage])).toEqual([
      ["awaited", true, 1],
      ["with response", true, 1],
      ["caught", false, expect.stringContaining("slow down")],
    ]);
  });
});
