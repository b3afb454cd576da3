/**
 * wrapOpenAI against both majors of the `openai` package it supports (peerDependency ">=6"): the
 * core call paths, each run once with openai 7 (the default import, what an install gets today)
 * and once with openai 6 (installed under the alias `openai6`), over HTTP to the same local fake
 * provider. The other openai*.test.ts files go deep on openai 7 only; this one is what fails when
 * a change works on one major and not the other. openai 7 made its helpers' promises in a way of
 * its own (`_thenUnwrap` closures per promise: see integrations/api-promise.ts), and
 * `chat.completions.parse()`, `responses.parse()` and `responses.stream()` went unrecorded.
 */
import OpenAI from "openai";
import { VERSION as VERSION7 } from "openai/version";
import OpenAI6 from "openai6";
import { VERSION as VERSION6 } from "openai6/version";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { wrapOpenAI } from "../../integrations/openai.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { loggerFactory } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
const newLogger = loggerFactory("openai_compat");
const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object" } } }];

/**
 * The two majors. openai 6's client is typed here as openai 7's: every call below has the same
 * shape in both, and what runs is the real openai 6 (its classes, its APIPromise, its Stream).
 * The wrapped client's own type is checked per major in the last test.
 */
const majors = [
  { major: 7, version: VERSION7, make: (): OpenAI => new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 }), BadRequestError: OpenAI.BadRequestError },
  { major: 6, version: VERSION6, make: (): OpenAI => new OpenAI6({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 }) as unknown as OpenAI, BadRequestError: OpenAI6.BadRequestError },
] as const;

describe.each(majors)("wrapOpenAI on openai $major", ({ major, version, make, BadRequestError }) => {
  it("runs the major it says it does", () => {
    expect(version.split(".")[0]).toBe(String(major));
    // (the two majors' clients are distinct classes: openai 6 is not openai 7 under another name)
    expect(make() instanceof OpenAI6).toBe(major === 6);
  });

  it("a chat completion: the bare client's result, one record with text, tokens and request id", async () => {
    const logger = newLogger();
    const bare = await make().chat.completions.create({ model: "gpt-4o-mini", messages });
    const res = await wrapOpenAI(make(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages });
    expect({ ...res, id: bare.id }).toEqual(bare);
    expect(res._request_id).toMatch(/^req_fake_/);
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      success: true,
      interactionType: "chat.completions",
      responsePreview: "The capital of France is Paris.",
      inputTokens: 19,
      outputTokens: 10,
      finishReason: "stop",
      metadata: { openai: { requestId: res._request_id } },
    });
  });

  it("a stream with includeUsageInStreams: the chunks as before, one record with the text and the usage", async () => {
    const logger = newLogger();
    const stream = await wrapOpenAI(make(), { logger, includeUsageInStreams: true }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    let text = "";
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.delta?.content ?? "";
    }
    expect(text).toBe("The capital of France is Paris.");
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, responsePreview: text, inputTokens: 19, outputTokens: 10, metadata: { openai: { stream: true, end: "completed", chunks } } });
  });

  it("streamed tool-call deltas are assembled", async () => {
    const logger = newLogger();
    const stream = await wrapOpenAI(make(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, tools, stream: true });
    for await (const _ of stream);
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({ success: true, finishReason: "tool_calls" });
    expect((rec!.toolCalls as Array<{ function: { name: string; arguments: string } }>).map((t) => [t.function.name, t.function.arguments])).toEqual([
      ["get_weather", '{"city":"Paris"}'],
      ["get_time", '{"tz":"Europe/Paris"}'],
    ]);
  });

  it(".withResponse() and .asResponse() keep working; each call is recorded once", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(make(), { logger });
    const { data, response, request_id } = await openai.chat.completions.create({ model: "gpt-4o-mini", messages }).withResponse();
    expect(response.status).toBe(200);
    expect(request_id).toMatch(/^req_fake_/);
    expect(data.choices[0]!.message.content).toBe("The capital of France is Paris.");
    const raw = await openai.chat.completions.create({ model: "gpt-4o-mini", messages }).asResponse();
    expect(((await raw.json()) as { object: string }).object).toBe("chat.completion");
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ success: true, responsePreview: "The capital of France is Paris." });
    expect(recs[1]).toMatchObject({ success: true, statusCode: 200, metadata: { openai: { rawResponse: true } } });
  });

  it("chat.completions.parse() and responses.parse() are recorded once each, also when read with .asResponse() or .withResponse()", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(make(), { logger });
    const parsed = await openai.chat.completions.parse({ model: "gpt-4o-mini", messages });
    expect(parsed.choices[0]!.message.content).toBe("The capital of France is Paris.");
    const r = await openai.responses.parse({ model: "gpt-4.1", input: "Tell me a story." });
    expect(r.output_text.length).toBeGreaterThan(0);
    const raw = await openai.chat.completions.parse({ model: "gpt-4o-mini", messages }).asResponse();
    expect(((await raw.json()) as { object: string }).object).toBe("chat.completion");
    const { data } = await openai.chat.completions.parse({ model: "gpt-4o-mini", messages }).withResponse();
    expect(data.choices[0]!.message.parsed).toBeNull();
    const recs = await recordsOf(logger, "chat_interaction", 4);
    expect(recs).toHaveLength(4);
    expect(recs[0]).toMatchObject({ success: true, interactionType: "chat.completions", responsePreview: "The capital of France is Paris.", outputTokens: 10 });
    expect(recs[1]).toMatchObject({ success: true, interactionType: "responses", responsePreview: r.output_text });
    expect(recs[2]).toMatchObject({ success: true, statusCode: 200, metadata: { openai: { rawResponse: true } } });
    expect(recs[3]).toMatchObject({ success: true, responsePreview: "The capital of France is Paris." });
  });

  it("the .stream() helpers (chat and Responses) are recorded once each", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(make(), { logger });
    const chat = await openai.chat.completions.stream({ model: "gpt-4o-mini", messages }).finalChatCompletion();
    expect(chat.choices[0]!.message.content).toBe("The capital of France is Paris.");
    const final = await openai.responses.stream({ model: "gpt-4.1", input: "Tell me a story." }).finalResponse();
    expect(final.output_text).toMatch(/Lumina/);
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ success: true, interactionType: "chat.completions", responsePreview: "The capital of France is Paris.", metadata: { openai: { stream: true, end: "completed" } } });
    expect(recs[1]).toMatchObject({ success: true, interactionType: "responses", outputTokens: 87, metadata: { openai: { stream: true, end: "completed" } } });
  });

  it("runTools(), streamed or not: one record per request it makes", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(make(), { logger });
    const fn = (name: string, answer: string) => ({ type: "function" as const, function: { name, description: name, parameters: { type: "object" as const, properties: {} }, function: () => answer } });
    fake.enqueue({ fixture: "chat-completion-tools.json" }, { fixture: "chat-completion.json" }, { fixture: "chat-stream-tools.sse" }, { fixture: "chat-stream.sse" });
    expect(await openai.chat.completions.runTools({ model: "gpt-4o-mini", messages, tools: [fn("get_weather", "sunny")] }).finalContent()).toBe("The capital of France is Paris.");
    expect(await openai.chat.completions.runTools({ model: "gpt-4o-mini", messages, tools: [fn("get_weather", "sunny"), fn("get_time", "noon")], stream: true }).finalContent()).toBe("The capital of France is Paris.");
    const recs = await recordsOf(logger, "chat_interaction", 4);
    expect(recs.map((r) => [r.success, r.finishReason, (r.metadata as { openai: { stream?: boolean } }).openai.stream ?? false])).toEqual([
      [true, "tool_calls", false],
      [true, "stop", false],
      [true, "tool_calls", true],
      [true, "stop", true],
    ]);
  });

  // (2026-12-06: the records of the helpers said only the API, `chat.completions` or `responses`:
  // nothing told a parse() or a runTools() turn from the app's own create())
  it("each record names the method the app called (metadata.openai.method), helpers included", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(make(), { logger });
    const fn = { type: "function" as const, function: { name: "get_weather", description: "w", parameters: { type: "object" as const, properties: {} }, function: () => "sunny" } };
    // (the wrapper's own parse, which marks its create: the SDK's name and length, no new enumerable member)
    for (const [mine, bare] of [[openai.responses, make().responses], [openai.chat.completions, make().chat.completions]] as const) {
      expect(mine.parse.name).toBe("parse");
      expect(mine.parse.length).toBe(bare.parse.length);
      expect(Object.keys(mine)).toEqual(Object.keys(bare));
    }
    const method = async (n: number): Promise<unknown[]> => (await recordsOf(logger, "chat_interaction", n)).map((r) => (r.metadata as { openai: { method?: unknown } }).openai.method);
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    await openai.chat.completions.parse({ model: "gpt-4o-mini", messages });
    await openai.chat.completions.stream({ model: "gpt-4o-mini", messages }).finalChatCompletion();
    fake.enqueue({ fixture: "chat-completion-tools.json" }, { fixture: "chat-completion.json" }, { fixture: "chat-stream-tools.sse" }, { fixture: "chat-stream.sse" });
    await openai.chat.completions.runTools({ model: "gpt-4o-mini", messages, tools: [fn] }).finalContent();
    await openai.chat.completions.runTools({ model: "gpt-4o-mini", messages, tools: [fn], stream: true }).finalContent();
    await openai.responses.create({ model: "gpt-4.1", input: "Tell me a story." });
    const s = await openai.responses.create({ model: "gpt-4.1", input: "Tell me a story.", stream: true });
    for await (const _ of s) void _;
    await openai.responses.parse({ model: "gpt-4.1", input: "Tell me a story." });
    await openai.responses.stream({ model: "gpt-4.1", input: "Tell me a story." }).finalResponse();
    await openai.beta.responses.create({ model: "gpt-4.1", input: "Tell me a story." });
    expect(await method(12)).toEqual([
      "chat.completions.create",
      "chat.completions.parse",
      "chat.completions.stream",
      "chat.completions.runTools",
      "chat.completions.runTools",
      "chat.completions.runTools",
      "chat.completions.runTools",
      "responses.create",
      "responses.create",
      "responses.parse",
      "responses.stream",
      "beta.responses.create",
    ]);
  });

  it("a 4xx: the SDK's own error reaches the app, recorded once with its status", async () => {
    const logger = newLogger();
    fake.enqueue({ status: 400, errorMessage: "bad model" });
    const err = await wrapOpenAI(make(), { logger }).chat.completions.create({ model: "nope", messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, statusCode: 400, errorMessage: expect.stringContaining("bad model") });
  });

  it("wrapping twice records once, and the client keeps its type", async () => {
    const logger = newLogger();
    const raw = make();
    const twice = wrapOpenAI(wrapOpenAI(raw, { logger }), { logger });
    expect(twice).toBe(raw);
    await twice.chat.completions.create({ model: "gpt-4o-mini", messages });
    await twice.responses.create({ model: "gpt-4.1", input: "hi" });
    expect(await recordsOf(logger, "chat_interaction", 2)).toHaveLength(2);
    expectTypeOf(wrapOpenAI(new OpenAI6({ apiKey: "x" }))).toEqualTypeOf<OpenAI6>();
    expectTypeOf(wrapOpenAI(new OpenAI({ apiKey: "x" }))).toEqualTypeOf<OpenAI>();
  });
});
