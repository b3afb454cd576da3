/**
 * wrapAnthropic with the real @anthropic-ai/sdk against a local fake Messages API:
 * what the application gets back is unchanged, and each call leaves exactly one ChatInteraction.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Anthropic from "@anthropic-ai/sdk";
import { APIPromise } from "@anthropic-ai/sdk/core/api-promise";
import { MessageStream } from "@anthropic-ai/sdk/lib/MessageStream";
import { Stream } from "@anthropic-ai/sdk/core/streaming";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import { decryptValue, valueAad } from "../../src/pipeline/encrypt.js";
import { AuditLogger, auditContext, verifyAuditLog, type EncryptedValue } from "../../src/index.js";
import { fixtureJson, startFakeAnthropic, type FakeAnthropic } from "../helpers/fake-anthropic.js";
import { comparableChat, expectNothingCaptured } from "./_records.js";
import { readJsonl, TEST_KEY, testKeyring, loggerFactory, tmpProject } from "../helpers/index.js";
import { childArgs } from "../helpers/child-args.js";

const MODEL = "claude-haiku-4-5";
const REPLY_MODEL = "claude-haiku-4-5-20251001";
type Rec = Record<string, unknown>;

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(async () => {
  await fake.close();
});
const newLogger = loggerFactory("anthropic", "audit-anthropic-");

function client(logger?: AuditLogger, opts: { maxRetries?: number } = {}): Anthropic {
  const c = new Anthropic({ apiKey: "test", baseURL: fake.baseURL, maxRetries: opts.maxRetries ?? 0 });
  return logger ? wrapAnthropic(c, { logger }) : c;
}

/** The chat records on disk once everything logged so far is written. */
async function chats(logger: AuditLogger): Promise<Rec[]> {
  await logger.flush();
  const file = path.join(logger.auditDir, `chat_interactions_${logger.sessionId}.jsonl`);
  return fs.existsSync(file) ? readJsonl(file) : [];
}

/** Waits until `n` chat records are on disk (records made in later ticks), then a little more to catch extras. */
async function settle(logger: AuditLogger, n: number): Promise<Rec[]> {
  for (let i = 0; i < 200; i++) {
    const recs = await chats(logger);
    if (recs.length >= n) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 50));
  return chats(logger);
}

const ask = (content = "What is the capital of France?") => ({
  model: MODEL,
  max_tokens: 256,
  system: "Answer in one sentence.",
  messages: [{ role: "user" as const, content }],
});

describe("wrapAnthropic: messages.create without streaming", () => {
  it("returns what the bare client returns and records one interaction with everything", async () => {
    const logger = newLogger();
    const bare = await client().messages.create(ask());
    const before = fake.requests.length;
    const promise = client(logger).messages.create(ask());
    expect(promise).toBeInstanceOf(APIPromise);
    const wrapped = await promise;
    expect(wrapped).toEqual(bare);
    expect(fake.requests[before]!.body).toEqual({ ...ask() });

    const [rec, ...rest] = await chats(logger);
    expect(rest).toHaveLength(0);
    expect(rec).toMatchObject({
      type: "chat_interaction",
      interactionType: "messages",
      provider: "anthropic",
      model: REPLY_MODEL,
      promptFormat: "json",
      promptPreview: JSON.stringify([{ role: "system", content: "Answer in one sentence." }, { role: "user", content: "What is the capital of France?" }]),
      responsePreview: "Paris is the capital of France.",
      inputTokens: 21,
      outputTokens: 9,
      tokensUsed: 30,
      usage: { input_tokens: 21, output_tokens: 9, cache_read_input_tokens: 0, service_tier: "standard" },
      finishReason: "end_turn",
      success: true,
      metadata: { anthropic: { method: "messages.create", stream: false, requestedModel: MODEL, messageId: "msg_01XFDUDYJgAACzvnptvVoYEL" } },
    });
    expect(((rec!.metadata as Rec).anthropic as Rec).requestId).toMatch(/^req_fake_/);
    expect(rec!.durationSeconds).toBeGreaterThan(0);
    expect(rec).not.toHaveProperty("timeToFirstTokenSeconds");
    expect(rec).not.toHaveProperty("errorMessage");
    const full = fs.readFileSync(path.join(logger.auditDir, (rec!.fullContent as { response: { file: string } }).response.file), "utf8");
    expect(full).toBe("Paris is the capital of France.");
    expect((await verifyAuditLog(logger.auditDir)).ok).toBe(true);
  });

  it("records tool_use blocks as tool calls", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "json", fixture: "message-tool-use" });
    const msg = await client(logger).messages.create({
      ...ask("Weather in Paris?"),
      tools: [{ name: "get_weather", description: "SECRET-TOOL-DOC", input_schema: { type: "object" } }],
      tool_choice: { type: "tool" as const, name: "get_weather" },
      stop_sequences: ["SECRET-STOP"],
      // (sent as given: this SDK version's types no longer list them)
      ...({ temperature: 0.5, top_k: 40 } as object),
    });
    expect(msg.stop_reason).toBe("tool_use");
    const [rec] = await chats(logger);
    // what the call asked for: its settings and the tools it offered, by name (no descriptions, schemas or stop texts)
    expect((rec!.metadata as { anthropic: { request: unknown } }).anthropic.request).toEqual({
      max_tokens: ask("x").max_tokens,
      temperature: 0.5,
      top_k: 40,
      tools: ["get_weather"],
      tool_choice: "tool:get_weather",
    });
    expect(JSON.stringify(rec)).not.toMatch(/SECRET-TOOL-DOC|SECRET-STOP/);
    expect(rec).toMatchObject({
      finishReason: "tool_use",
      responsePreview: "I'll check the weather in Paris.",
      toolCalls: [{ id: "toolu_01A09q90qw90lq917835lq9", type: "tool_use", name: "get_weather", input: { location: "Paris, France", unit: "celsius" } }],
      inputTokens: 384,
      outputTokens: 58,
    });
  });

  it("keeps .withResponse() and records once", async () => {
    const logger = newLogger();
    const { data, response, request_id } = await client(logger).messages.create(ask()).withResponse();
    expect(response.status).toBe(200);
    expect(request_id).toMatch(/^req_fake_/);
    expect(data.content[0]).toEqual({ type: "text", text: "Paris is the capital of France." });
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, responsePreview: "Paris is the capital of France.", metadata: { anthropic: { requestId: request_id } } });
  });

  it("keeps .asResponse(): the application reads the body, the record reads a copy", async () => {
    const logger = newLogger();
    const response = await client(logger).messages.create(ask()).asResponse();
    const body = (await response.json()) as { content: Array<{ text: string }> };
    expect(body.content[0]!.text).toBe("Paris is the capital of France.");
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, statusCode: 200, responsePreview: "Paris is the capital of France.", outputTokens: 9 });
  });

  it(".asResponse() asked for twice: one record, with the body read from the first one's copy", async () => {
    const logger = newLogger();
    const p = client(logger).messages.create(ask());
    const first = await p.asResponse();
    const second = await p.asResponse();
    expect(second).toBe(first);
    expect(((await first.json()) as { content: Array<{ text: string }> }).content[0]!.text).toBe("Paris is the capital of France.");
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, statusCode: 200, responsePreview: "Paris is the capital of France.", outputTokens: 9 });
  });

  it("an .asResponse() asked for after the response arrived is recorded from its status (the body is the application's)", async () => {
    const logger = newLogger();
    const p = client(logger).messages.create(ask());
    await new Promise((r) => setTimeout(r, 200));
    const response = await p.asResponse();
    expect(((await response.json()) as { content: Array<{ text: string }> }).content[0]!.text).toBe("Paris is the capital of France.");
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, statusCode: 200 });
  });

  it("keeps .asResponse() on a stream: the application reads the SSE body, the record keeps the status", async () => {
    const logger = newLogger();
    const response = await client(logger).messages.create({ ...ask(), stream: true }).asResponse();
    const body = await response.text();
    expect(body).toContain("event: message_stop");
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, statusCode: 200, responseLength: 0, metadata: { anthropic: { stream: true } } });
  });

  it("records the caller's context: user, trace and parent", async () => {
    const logger = newLogger();
    await auditContext.run({ userId: "u-42", traceId: "trace-1", parentId: "req-parent", metadata: { route: "/chat" } }, () => client(logger).messages.create(ask()));
    const [rec] = await chats(logger);
    expect(rec).toMatchObject({ userId: "u-42", traceId: "trace-1", parentId: "req-parent", metadata: { route: "/chat", anthropic: { method: "messages.create" } } });
  });

  it("the record has the context of the call, not the one the stream is read or the promise awaited in", async () => {
    const logger = newLogger();
    const c = client(logger);
    const stream = await auditContext.run({ traceId: "trace-A" }, () => c.messages.create({ ...ask(), stream: true }));
    await auditContext.run({ userId: "user-B", persona: "persona-B", parentId: "parent-B", metadata: { route: "/B" } }, async () => {
      for await (const _ of stream);
    });
    // made outside any context, awaited inside one
    const pending = c.messages.create(ask());
    await auditContext.run({ traceId: "trace-C", userId: "user-C" }, () => pending);
    const recs = await settle(logger, 2);
    const [streamed, awaited] = [recs.find((r) => (r.metadata as Rec).anthropic && ((r.metadata as Rec).anthropic as Rec).stream === true)!, recs.find((r) => ((r.metadata as Rec).anthropic as Rec).stream === false)!];
    expect(streamed).toMatchObject({ traceId: "trace-A" });
    for (const key of ["userId", "persona", "parentId"]) expect(streamed).not.toHaveProperty(key);
    expect(streamed.metadata).not.toHaveProperty("route");
    expect(awaited).not.toHaveProperty("userId");
    // (the trace it starts, named by its own id: not the awaiting context's)
    expect(awaited.traceId).toBe(awaited.id);
  });

  it("calls made inside the SDK call (its fetch) get the interaction as their parent", async () => {
    const logger = newLogger();
    const auditedFetch: typeof fetch = async (input, init) => {
      logger.logToolUsage({ toolName: "http", operation: "POST" });
      return fetch(input, init);
    };
    const c = wrapAnthropic(new Anthropic({ apiKey: "test", baseURL: fake.baseURL, maxRetries: 0, fetch: auditedFetch }), { logger });
    await auditContext.run({ traceId: "trace-nest" }, () => c.messages.create(ask()));
    await logger.flush();
    const [tool] = readJsonl(path.join(logger.auditDir, "tool_usage_anthropic.jsonl"));
    const [chat] = await chats(logger);
    expect(tool).toMatchObject({ parentId: chat!.id, traceId: "trace-nest" });
    expect(chat).toMatchObject({ traceId: "trace-nest" });
    expect(chat).not.toHaveProperty("parentId");
  });

  it("with captureContent: false only counts, names and timings are kept", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "json", fixture: "message-tool-use" });
    const c = wrapAnthropic(client(), { logger, captureContent: false });
    await c.messages.create(ask("secret question"));
    const [rec] = await chats(logger);
    expect(rec).toMatchObject({ promptLength: 0, responseLength: 0, inputTokens: 384, toolCalls: [{ id: "toolu_01A09q90qw90lq917835lq9", type: "tool_use", name: "get_weather" }] });
    expectNothingCaptured(logger, rec);
    expect(JSON.stringify(rec)).not.toContain("secret question");
    expect(JSON.stringify(rec)).not.toContain("Paris, France");
  });

  it("encrypts previews and tool calls when the logger encrypts", async () => {
    const logger = newLogger({ encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    fake.enqueue({ kind: "json", fixture: "message-tool-use" });
    await client(logger).messages.create(ask("Weather?"));
    const [rec] = await chats(logger);
    expect(rec!.encrypted).toEqual(expect.arrayContaining(["promptPreview", "responsePreview", "toolCalls"]));
    const key = testKeyring(logger.auditDir);
    const tools = JSON.parse(decryptValue(key, rec!.toolCalls as EncryptedValue, valueAad(rec!.id as string, "toolCalls"))) as unknown;
    expect(tools).toEqual([{ id: "toolu_01A09q90qw90lq917835lq9", type: "tool_use", name: "get_weather", input: { location: "Paris, France", unit: "celsius" } }]);
  });
});

describe("wrapAnthropic: streaming", () => {
  it("create({ stream: true }) keeps the SDK Stream, yields the same events and records the assembled reply", async () => {
    const logger = newLogger();
    const bareEvents: unknown[] = [];
    for await (const e of await client().messages.create({ ...ask(), stream: true })) bareEvents.push(e);

    const stream = await client(logger).messages.create({ ...ask(), stream: true });
    expect(stream).toBeInstanceOf(Stream);
    const events: unknown[] = [];
    for await (const e of stream) events.push(e);
    expect(events).toEqual(bareEvents);

    const [rec, ...rest] = await chats(logger);
    expect(rest).toHaveLength(0);
    expect(rec).toMatchObject({
      model: REPLY_MODEL,
      responsePreview: "Hello, world! How can I help?",
      inputTokens: 25,
      outputTokens: 12,
      finishReason: "end_turn",
      success: true,
      metadata: { anthropic: { method: "messages.create", stream: true, end: "completed", events: 8, messageId: "msg_01S7Y1Bq3nxkTbVyrPRh3kV9" } },
    });
    expect(rec!.timeToFirstTokenSeconds).toBeGreaterThan(0);
    expect(rec!.timeToFirstTokenSeconds as number).toBeLessThanOrEqual(rec!.durationSeconds as number);
  });

  it("assembles streamed tool input (input_json_delta) into tool calls", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", fixture: "stream-tool-use" });
    const stream = await client(logger).messages.create({ ...ask("Weather in SF?"), stream: true });
    for await (const _ of stream) void _;
    const [rec] = await chats(logger);
    expect(rec).toMatchObject({
      finishReason: "tool_use",
      responsePreview: "Let me check the weather.",
      toolCalls: [{ id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", type: "tool_use", name: "get_weather", input: { location: "San Francisco, CA", unit: "fahrenheit" } }],
      inputTokens: 472,
      outputTokens: 89,
    });
  });

  it("messages.stream() stays a MessageStream, its helpers work, and it records once", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", fixture: "stream-tool-use" });
    const ms = client(logger).messages.stream(ask("Weather in SF?"));
    expect(ms).toBeInstanceOf(MessageStream);
    const texts: string[] = [];
    ms.on("text", (delta) => texts.push(delta));
    const final = await ms.finalMessage();
    expect(texts.join("")).toBe("Let me check the weather.");
    expect(final.content[1]).toMatchObject({ type: "tool_use", input: { location: "San Francisco, CA", unit: "fahrenheit" } });
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      metadata: { anthropic: { method: "messages.stream", stream: true, end: "completed" } },
      responsePreview: "Let me check the weather.",
      toolCalls: [{ name: "get_weather", input: { location: "San Francisco, CA", unit: "fahrenheit" } }],
      success: true,
    });
  });

  it("tee() splits the stream and the call is still recorded once", async () => {
    const logger = newLogger();
    const stream = await client(logger).messages.create({ ...ask(), stream: true });
    const [a, b] = stream.tee();
    const left: unknown[] = [];
    const right: unknown[] = [];
    await Promise.all([(async () => { for await (const e of a) left.push(e); })(), (async () => { for await (const e of b) right.push(e); })()]);
    expect(left).toEqual(right);
    expect(left.length).toBeGreaterThan(5);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, responsePreview: "Hello, world! How can I help?" });
  });

  it("withResponse() on a stream gives the Stream and the Response", async () => {
    const logger = newLogger();
    const { data, response } = await client(logger).messages.create({ ...ask(), stream: true }).withResponse();
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(data).toBeInstanceOf(Stream);
    let n = 0;
    for await (const _ of data) n++;
    expect(n).toBe(8);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, finishReason: "end_turn" });
  });
});

// (2026-12-06: messages.parse(), the SDK's structured outputs helper, calls the wrapped create()
// and was recorded as `messages.create`, so the record did not say which method the app called)
describe("wrapAnthropic: messages.parse()", () => {
  const schema = { type: "json_schema" as const, schema: { type: "object", properties: { answer: { type: "number" } }, required: ["answer"], additionalProperties: false } };
  const jsonReply = () => ({ kind: "json" as const, body: { ...fixtureJson("message-text"), content: [{ type: "text", text: '{"answer":4}' }] } });
  const parseParams = () => ({ ...ask("What is 2+2?"), output_config: { format: schema } });

  it("gives the SDK's parsed message unchanged and is recorded once as messages.parse, with the JSON text it parsed", async () => {
    const logger = newLogger();
    fake.enqueue(jsonReply(), jsonReply());
    const bare = await client().messages.parse(parseParams());
    const before = fake.requests.length;
    const c = client(logger);
    // (the wrapper's own parse, which marks its create: the SDK's name and length, no new enumerable member)
    expect(c.messages.parse.name).toBe("parse");
    expect(c.messages.parse.length).toBe(client().messages.parse.length);
    expect(Object.keys(c.messages)).toEqual(Object.keys(client().messages));
    const parsed = await c.messages.parse(parseParams());
    expect(fake.requests.length - before).toBe(1);
    expect(parsed.parsed_output).toEqual({ answer: 4 });
    expect({ ...parsed, _request_id: bare._request_id }).toEqual(bare);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      success: true,
      interactionType: "messages",
      model: REPLY_MODEL,
      responsePreview: '{"answer":4}',
      inputTokens: 21,
      outputTokens: 9,
      finishReason: "end_turn",
      metadata: { anthropic: { method: "messages.parse", stream: false, requestedModel: MODEL } },
    });
    expect(String(recs[0]!.promptPreview)).toContain("What is 2+2?");
  });

  // (2026-12-06: the output format was not in metadata.anthropic.request, where OpenAI's records
  // say their response_format's type; a structured-output call read as a plain one)
  it("records the output format's type, never its schema, in metadata.anthropic.request: parse() and create() with output_config.format, the beta's deprecated output_format; a call without one has none", async () => {
    const logger = newLogger();
    const c = client(logger);
    fake.enqueue(jsonReply(), jsonReply(), jsonReply());
    await c.messages.parse(parseParams());
    await c.messages.create({ ...ask("What is 2+2?"), output_config: { format: schema } });
    await c.beta.messages.parse({ ...ask("What is 2+2?"), output_format: schema });
    await c.messages.create(ask("plain"));
    const recs = await settle(logger, 4);
    expect(recs.map((r) => [(r.metadata as { anthropic: Rec }).anthropic.method, (r.metadata as { anthropic: Rec }).anthropic.request])).toEqual([
      ["messages.parse", { max_tokens: 256, output_format: "json_schema" }],
      ["messages.create", { max_tokens: 256, output_format: "json_schema" }],
      ["beta.messages.parse", { max_tokens: 256, output_format: "json_schema" }],
      ["messages.create", { max_tokens: 256 }],
    ]);
    expect(JSON.stringify(recs)).not.toContain("additionalProperties");
  });

  // (2026-12-06: the effort asked for, output_config.effort, and the beta's task budget were not
  // in metadata.anthropic.request, where OpenAI's records say their reasoning_effort)
  it("records output_config's effort and the beta's task budget (type tokens: total, remaining) in metadata.anthropic.request, and sends them unchanged", async () => {
    const logger = newLogger();
    const c = client(logger);
    fake.enqueue(jsonReply(), jsonReply(), jsonReply());
    const before = fake.requests.length;
    await c.messages.create({ ...ask("think hard"), output_config: { effort: "high" } });
    const budget = { type: "tokens" as const, total: 50_000, remaining: 20_000 };
    await c.beta.messages.create({ ...ask("within budget"), output_config: { effort: "low", task_budget: budget, format: schema } });
    await c.messages.create({ ...ask("no effort"), output_config: { effort: null } });
    const recs = await settle(logger, 3);
    expect(recs.map((r) => (r.metadata as { anthropic: Rec }).anthropic.request)).toEqual([
      { max_tokens: 256, effort: "high" },
      { max_tokens: 256, output_format: "json_schema", effort: "low", task_budget_total: 50_000, task_budget_remaining: 20_000 },
      { max_tokens: 256 },
    ]);
    const sent = fake.requests.slice(before).map((r) => (r.body as { output_config?: unknown }).output_config);
    expect(sent[0]).toEqual({ effort: "high" });
    expect(sent[1]).toMatchObject({ effort: "low", task_budget: budget });
  });

  it("a failed parse() is recorded once as messages.parse; the create() calls around it stay messages.create", async () => {
    const logger = newLogger();
    const c = client(logger);
    fake.enqueue({ kind: "error", status: 529 });
    const err = await c.messages.parse(parseParams()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    // params the SDK's parse() cannot read: its own TypeError, as without the wrapper, before any create()
    expect(() => c.beta.messages.parse(undefined as never)).toThrow(TypeError);
    await c.messages.create(ask("after"));
    await c.beta.messages.create(ask("beta after"));
    const recs = await settle(logger, 3);
    expect(recs).toHaveLength(3);
    expect(recs.map((r) => [(r.metadata as { anthropic: Rec }).anthropic.method, r.success, r.statusCode])).toEqual([
      ["messages.parse", false, 529],
      ["messages.create", true, undefined],
      ["beta.messages.create", true, undefined],
    ]);
  });
});

describe("wrapAnthropic: wrapping", () => {
  it("wrapping twice returns the same client and records once", async () => {
    const logger = newLogger();
    const c = client();
    const once = wrapAnthropic(c, { logger });
    const twice = wrapAnthropic(once, { logger });
    expect(twice).toBe(c);
    await twice.messages.create(ask());
    for await (const _ of await twice.messages.create({ ...ask(), stream: true })) void _;
    expect(await settle(logger, 2)).toHaveLength(2);
  });

  it("the SDK's create is looked up at each call: a patch made to Messages.prototype.create after wrapping runs for wrapped clients too, and create keeps its length", async () => {
    const logger = newLogger();
    const bare = client();
    const wrapped = wrapAnthropic(client(), { logger });
    expect(wrapped.messages.create.length).toBe(bare.messages.create.length);
    const proto = Object.getPrototypeOf(bare.messages) as { create: (...a: unknown[]) => unknown };
    const sdkCreate = proto.create;
    let patched = 0;
    proto.create = function (this: unknown, ...a: unknown[]) {
      patched++;
      return Reflect.apply(sdkCreate, this, a);
    };
    try {
      await bare.messages.create(ask());
      await wrapped.messages.create(ask());
    } finally {
      proto.create = sdkCreate;
    }
    expect(patched).toBe(2);
    expect(await chats(logger)).toHaveLength(1);
  });

  it("clients made with withOptions() are wrapped too", async () => {
    const logger = newLogger();
    const derived = client(logger).withOptions({ timeout: 5000 });
    await derived.messages.create(ask());
    expect(await chats(logger)).toHaveLength(1);
  });

  it("refuses something that is not a client", () => {
    expect(() => wrapAnthropic({} as unknown as Anthropic)).toThrow(expect.objectContaining({ code: "AUDIT_ERR_CONFIG" }));
  });

  it("with no logger anywhere the call runs unrecorded, with at most one warning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const other = newLogger();
      const c = wrapAnthropic(client());
      const msg = await c.messages.create(ask());
      expect(msg.content[0]).toEqual({ type: "text", text: "Paris is the capital of France." });
      for await (const _ of await c.messages.create({ ...ask(), stream: true })) void _;
      await new Promise((r) => setImmediate(r));
      expect(await chats(other)).toHaveLength(0);
      expect(warnings.filter((w) => (w as { code?: string }).code === "AUDIT_WARN_NO_LOGGER").length).toBeLessThanOrEqual(1);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("uses the context's logger when none is given", async () => {
    const logger = newLogger();
    const c = wrapAnthropic(client());
    await auditContext.run({ logger }, () => c.messages.create(ask()));
    expect(await chats(logger)).toHaveLength(1);
  });
});

describe("wrapAnthropic: the response recorded is the one received", () => {
  it("an app that changes the events it reads (usage, a tool's input) does not change the stream's record", async () => {
    const logger = newLogger();
    const events = [
      `event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: REPLY_MODEL, content: [], stop_reason: null, usage: { input_tokens: 25, output_tokens: 1, cache_creation: { ephemeral_5m_input_tokens: 3 } } } })}`,
      `event: content_block_start\ndata: ${JSON.stringify({ type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "toolu_1", name: "get_weather", input: { location: "Paris" } } })}`,
      `event: content_block_stop\ndata: ${JSON.stringify({ type: "content_block_stop", index: 0 })}`,
      `event: message_delta\ndata: ${JSON.stringify({ type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 9, server_tool_use: { web_search_requests: 1 } } })}`,
      `event: message_stop\ndata: ${JSON.stringify({ type: "message_stop" })}`,
    ];
    fake.enqueue({ kind: "sse", events });
    const stream = await client(logger).messages.create({ ...ask(), stream: true });
    for await (const e of stream as AsyncIterable<Rec>) {
      if (e.type === "message_start") ((((e.message as Rec).usage as Rec).cache_creation as Rec).ephemeral_5m_input_tokens = 999);
      if (e.type === "content_block_start") (((e.content_block as Rec).input as Rec).location = "changed by the app");
      if (e.type === "message_delta") (((e.usage as Rec).server_tool_use as Rec).web_search_requests = 999);
    }
    const [rec, ...rest] = await settle(logger, 1);
    expect(rest).toHaveLength(0);
    expect(rec!.usage).toEqual({ input_tokens: 25, output_tokens: 9, cache_creation: { ephemeral_5m_input_tokens: 3 }, server_tool_use: { web_search_requests: 1 } });
    expect(rec!.toolCalls).toEqual([{ id: "toolu_1", type: "tool_use", name: "get_weather", input: { location: "Paris" } }]);
  });
});

describe("wrapAnthropic: the prompt recorded is the one sent", () => {
  it("an app that changes `messages` while it reads the stream, or right after a call, does not change the recorded prompt", async () => {
    const logger = newLogger();
    const wrapped = client(logger);
    const history: Array<{ role: "user" | "assistant"; content: string }> = [{ role: "user", content: "What is the capital of France?" }];
    const first = fake.requests.length;
    const stream = await wrapped.messages.create({ model: MODEL, max_tokens: 256, messages: history, stream: true });
    for await (const _ of stream) {
      history.push({ role: "user", content: "pushed while streaming" });
      history[0]!.content = "changed while streaming";
    }
    const r = await wrapped.messages.create({ model: MODEL, max_tokens: 256, system: "Answer in one sentence.", messages: history });
    expect(r.content.length).toBeGreaterThan(0);
    history.push({ role: "assistant", content: "pushed after the call" });
    history[0]!.content = "changed after the call";
    const recs = await settle(logger, 2);
    const sent = fake.requests.slice(first).map((q) => {
      const body = q.body as { system?: string; messages: unknown[] };
      return JSON.stringify(body.system !== undefined ? [{ role: "system", content: body.system }, ...body.messages] : body.messages);
    });
    expect(sent).toHaveLength(2);
    expect(JSON.parse(sent[0]!)).toEqual([{ role: "user", content: "What is the capital of France?" }]);
    // the length is of the prompt text (the messages as sent), the preview its first characters
    expect(recs.map((x) => x.promptLength)).toEqual(sent.map((t) => t.length));
    expect(recs[0]!.promptPreview).toBe(sent[0]);
    expect(sent[1]!.startsWith(recs[1]!.promptPreview as string)).toBe(true);
    expect(recs[1]!.promptPreview).toContain("changed while streaming");
  });
});

/**
 * `rec` with its own request id in its error message as "x" (since @anthropic-ai/sdk 1.17 an
 * APIError's message names it: one per request, as the masked `requestId`). The id in the
 * message must be the record's own.
 */
function withoutRequestIdInError(rec: Rec): Rec {
  const message = rec.errorMessage;
  if (typeof message !== "string" || !message.includes("request_id: ")) return rec;
  const id = ((rec.metadata as Record<string, Rec>).anthropic ?? {}).requestId;
  expect(message).toContain(`request_id: ${String(id)}`);
  return { ...rec, errorMessage: message.split(String(id)).join("x") };
}

describe("wrapAnthropic: records made later, from what arrived", () => {
  it("an app that changes the Message it got (a tool's input, nested usage) right after the call does not change the record", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "json", fixture: "message-tool-use" });
    const msg = (await client(logger).messages.create({ ...ask("Weather in Paris?"), tools: [{ name: "get_weather", input_schema: { type: "object" } }] })) as unknown as Rec;
    const block = (msg.content as Rec[]).find((b) => b.type === "tool_use")!;
    (block.input as Rec).location = "changed by the app";
    (msg.usage as Rec).input_tokens = 999_999;
    ((msg.content as Rec[])[0] as Rec).text = "changed text";
    const [rec, ...rest] = await settle(logger, 1);
    expect(rest).toHaveLength(0);
    expect(rec!.toolCalls).toEqual([{ id: "toolu_01A09q90qw90lq917835lq9", type: "tool_use", name: "get_weather", input: { location: "Paris, France", unit: "celsius" } }]);
    expect(rec).toMatchObject({ inputTokens: 384, responsePreview: "I'll check the weather in Paris." });
    expect((rec!.usage as Rec).input_tokens).toBe(384);
  });

  it("a streamed call's record carries the request id from the response headers", async () => {
    const logger = newLogger();
    const { data, request_id } = await client(logger).messages.create({ ...ask(), stream: true }).withResponse();
    for await (const _ of data);
    const [rec] = await settle(logger, 1);
    expect(request_id).toMatch(/^req_fake_/);
    expect(rec).toMatchObject({ metadata: { anthropic: { stream: true, end: "completed", requestId: request_id } } });
  });

  it("with a logger that records on a worker thread (thread: true) the records are the same as without it", async () => {
    const recordWith = async (thread: boolean) => {
      const logger = newLogger({ thread });
      const c = client(logger);
      // the first record has the worker load the integration's input builder (until it has, the
      // inputs are made on the app's thread); the next ones are made on the worker
      await c.messages.create(ask());
      await logger.flush();
      const history = [{ role: "user" as const, content: "What is the capital of France?" }];
      await c.messages.create({ model: MODEL, max_tokens: 256, messages: history });
      history.push({ role: "user", content: "pushed after the call" });
      fake.enqueue({ kind: "sse", fixture: "stream-tool-use" });
      for await (const _ of await c.messages.create({ ...ask("Weather in SF?"), stream: true }));
      fake.enqueue({ kind: "error", status: 529 });
      await c.messages.create(ask()).catch(() => undefined);
      const recs = await settle(logger, 4);
      await logger.finalizeSession();
      expect((await verifyAuditLog(logger.auditDir)).ok).toBe(true);
      return recs.map((r) => comparableChat(withoutRequestIdInError(r), "anthropic", ["requestId"]));
    };
    const plain = await recordWith(false);
    const threaded = await recordWith(true);
    expect(threaded).toHaveLength(4);
    expect(threaded).toEqual(plain);
    expect((threaded[1] as Rec).promptPreview).toBe(JSON.stringify([{ role: "user", content: "What is the capital of France?" }]));
    expect(threaded[2]).toMatchObject({ finishReason: "tool_use", toolCalls: [{ name: "get_weather", input: { location: "San Francisco, CA", unit: "fahrenheit" } }] });
    expect(threaded[3]).toMatchObject({ success: false, statusCode: 529, metadata: { anthropic: { errorType: "overloaded_error" } } });
  });
});

describe("wrapAnthropic: the prompt as the SDK sent it", () => {
  it("two calls made at once with one `messages` array and different system prompts each record their own", async () => {
    const logger = newLogger();
    const c = client(logger);
    const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
    await Promise.all([
      c.messages.create({ model: MODEL, max_tokens: 256, system: "Answer in French.", messages }),
      c.messages.create({ model: MODEL, max_tokens: 256, system: [{ type: "text", text: "Answer in German." }], messages }),
      c.messages.create({ model: MODEL, max_tokens: 256, messages }),
    ]);
    const recs = await settle(logger, 3);
    expect(recs.map((r) => r.promptPreview).sort()).toEqual(
      [
        JSON.stringify([{ role: "system", content: "Answer in French." }, ...messages]),
        JSON.stringify([{ role: "system", content: [{ type: "text", text: "Answer in German." }] }, ...messages]),
        JSON.stringify(messages),
      ].sort(),
    );
  });

  it("a call that fails before its body is sent is recorded once with the prompt from its params, and the wrapper keeps nothing of it (real child process, --expose-gc)", () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const r = spawnSync(process.execPath, ["--expose-gc", ...childArgs(path.join(root, "test/fixtures/anthropic/params-child.mts")), tmpProject("audit-anthropic-params-")], {
      cwd: root,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { records: Rec[]; errors: string[]; collected: boolean[] };
    expect(out.errors).toEqual(["refused before serialising", "refused before serialising"]);
    expect(out.records).toHaveLength(3);
    const failed = out.records.filter((x) => x.success === false);
    expect(failed.map((x) => x.errorMessage)).toEqual(["Error: refused before serialising", "Error: refused before serialising"]);
    for (const x of failed) expect(x.promptPreview).toBe(JSON.stringify([{ role: "system", content: "Be brief." }, { role: "user", content: "fails early" }]));
    expect(out.records.find((x) => x.success === true)!.promptPreview).toBe(JSON.stringify([{ role: "system", content: "Be brief." }, { role: "user", content: "served" }]));
    // nothing of the wrapper's holds the messages of a recorded call
    expect(out.collected).toEqual([true, true, true]);
  });
});

// (review, 2026-12-04, fifth session: only client.messages was wrapped, so every call through
// client.beta.messages, the way to send `betas` flags, went unrecorded, with nothing said)
describe("wrapAnthropic: client.beta.messages", () => {
  it("records beta.messages.create (streamed or not), beta.messages.stream() and parse(), once each, with the prompt as sent", async () => {
    const logger = newLogger();
    const c = client(logger);
    const before = fake.requests.length;
    const plain = await c.beta.messages.create({ ...ask("beta plain"), betas: ["interleaved-thinking-2025-05-14"] });
    const bare = await client().beta.messages.create({ ...ask("beta plain"), betas: ["interleaved-thinking-2025-05-14"] });
    expect(plain).toEqual(bare);
    const s = await c.beta.messages.create({ ...ask("beta streamed"), stream: true });
    expect(s).toBeInstanceOf(Stream);
    for await (const _ of s) void _;
    const final = await c.beta.messages.stream(ask("beta helper")).finalMessage();
    await c.beta.messages.parse(ask("beta parse") as never);
    expect(fake.requests.length - before).toBe(5);
    const recs = await settle(logger, 4);
    expect(recs).toHaveLength(4);
    const meta = recs.map((r) => (r.metadata as { anthropic: Rec }).anthropic);
    expect(meta.map((m) => [m.method, m.stream, m.beta])).toEqual([
      ["beta.messages.create", false, true],
      ["beta.messages.create", true, true],
      ["beta.messages.stream", true, true],
      ["beta.messages.parse", false, true],
    ]);
    expect(recs.map((r) => r.promptPreview)).toEqual([expect.stringContaining("beta plain"), expect.stringContaining("beta streamed"), expect.stringContaining("beta helper"), expect.stringContaining("beta parse")]);
    expect(recs.every((r) => r.success === true && typeof r.responsePreview === "string" && r.responsePreview.length > 0)).toBe(true);
    expect(recs[2]!.responsePreview).toBe((final.content[0] as { text: string }).text);
    // the plain client's calls are still recorded as they were
    await c.messages.create(ask("plain again"));
    const after = await settle(logger, 5);
    expect((after[4]!.metadata as { anthropic: Rec }).anthropic).toMatchObject({ method: "messages.create" });
    expect((after[4]!.metadata as { anthropic: Rec }).anthropic.beta).toBeUndefined();
  });
});
