/**
 * wrapAnthropic as apps use the SDK in late 2026 (extended thinking, several tools in one message,
 * stop reasons, cache_control system blocks, images): what lands on disk, with the real SDK
 * against the local fake Messages API.
 */
import fs from "node:fs";
import path from "node:path";
import Anthropic, { betaRefusalFallbackMiddleware } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import type { AuditLogger } from "../../src/index.js";
import { startFakeAnthropic, type FakeAnthropic } from "../helpers/fake-anthropic.js";
import { recordsOf } from "./_records.js";
import { loggerFactory } from "../helpers/index.js";

type Rec = Record<string, unknown>;
let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(async () => {
  await fake.close();
});
const newLogger = loggerFactory("anthropic-newuser", "audit-anthropic-newuser-");
const client = (logger: AuditLogger): Anthropic => wrapAnthropic(new Anthropic({ apiKey: "test", baseURL: fake.baseURL, maxRetries: 0 }), { logger });
const sse = (type: string, data: Rec): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}`;
const start = (usage: Rec = { input_tokens: 50, cache_creation_input_tokens: 0, cache_read_input_tokens: 2000, output_tokens: 1 }) =>
  sse("message_start", { message: { id: "msg_think", type: "message", role: "assistant", model: "claude-sonnet-4-5-20250929", content: [], stop_reason: null, stop_sequence: null, usage } });

const THINKING_STREAM = [
  start(),
  sse("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }),
  sse("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "SECRET-THOUGHT let me think" } }),
  sse("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: "SIG-abc123" } }),
  sse("content_block_stop", { index: 0 }),
  sse("content_block_start", { index: 1, content_block: { type: "redacted_thinking", data: "REDACTED-BLOB" } }),
  sse("content_block_stop", { index: 1 }),
  sse("content_block_start", { index: 2, content_block: { type: "text", text: "" } }),
  sse("content_block_delta", { index: 2, delta: { type: "text_delta", text: "Paris." } }),
  sse("content_block_stop", { index: 2 }),
  sse("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 42 } }),
  sse("message_stop", {}),
];

const TOOLS_STREAM = [
  start({ input_tokens: 400, output_tokens: 1 }),
  sse("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
  sse("content_block_delta", { index: 0, delta: { type: "text_delta", text: "Checking both." } }),
  sse("content_block_stop", { index: 0 }),
  sse("content_block_start", { index: 1, content_block: { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} } }),
  sse("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: "" } }),
  sse("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: '{"city": "Par' } }),
  sse("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: 'is"}' } }),
  sse("content_block_stop", { index: 1 }),
  sse("content_block_start", { index: 2, content_block: { type: "tool_use", id: "toolu_2", name: "get_time", input: {} } }),
  sse("content_block_delta", { index: 2, delta: { type: "input_json_delta", partial_json: '{"tz":"CET"}' } }),
  sse("content_block_stop", { index: 2 }),
  sse("content_block_start", { index: 3, content_block: { type: "tool_use", id: "toolu_3", name: "no_args", input: {} } }),
  sse("content_block_stop", { index: 3 }),
  sse("message_delta", { delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 80 } }),
  sse("message_stop", {}),
];

describe("wrapAnthropic, as apps use the SDK in late 2026", () => {
  it("extended thinking: the response is the text blocks only; no thinking text, signature or redacted data is recorded", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", events: THINKING_STREAM });
    const system = [{ type: "text" as const, text: "Be brief.", cache_control: { type: "ephemeral" as const } }];
    const ms = client(logger).messages.stream({ model: "claude-sonnet-4-5", max_tokens: 2048, thinking: { type: "enabled", budget_tokens: 1024 }, system, messages: [{ role: "user", content: "Capital?" }] });
    const m = await ms.finalMessage();
    expect(m.content.map((b) => b.type)).toEqual(["thinking", "redacted_thinking", "text"]);
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      responsePreview: "Paris.",
      // the system blocks as sent, cache_control included
      promptPreview: JSON.stringify([{ role: "system", content: system }, { role: "user", content: "Capital?" }]),
      finishReason: "end_turn",
      inputTokens: 50,
      outputTokens: 42,
      usage: { input_tokens: 50, cache_creation_input_tokens: 0, cache_read_input_tokens: 2000, output_tokens: 42 },
      metadata: { anthropic: { method: "messages.stream", end: "completed", request: { thinking: "enabled", thinking_budget_tokens: 1024 } } },
    });
    const onDisk = fs.readdirSync(logger.auditDir, { recursive: true }).map((f) => String(f));
    const all = onDisk.map((f) => path.join(logger.auditDir, f)).filter((f) => fs.statSync(f).isFile()).map((f) => fs.readFileSync(f, "utf8")).join("\n");
    expect(all).not.toMatch(/SECRET-THOUGHT|SIG-abc123|REDACTED-BLOB/);
  });

  it("several tool_use blocks in one streamed message, one with no input: each is a tool call with its assembled input", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", events: TOOLS_STREAM });
    const m = await client(logger).messages.stream({ model: "claude-sonnet-4-5", max_tokens: 2048, messages: [{ role: "user", content: "Weather?" }] }).finalMessage();
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({
      responsePreview: "Checking both.",
      finishReason: "tool_use",
      toolCalls: m.content.filter((b) => b.type === "tool_use").map(({ id, type, name, input }) => ({ id, type, name, input })),
    });
    expect((rec!.toolCalls as unknown[]).length).toBe(3);
  });

  it("an MCP connector's mcp_tool_use blocks (client.beta.messages) are tool calls, streamed or not, with their server's name", async () => {
    const logger = newLogger();
    const c = client(logger);
    const mcpBlock = { type: "mcp_tool_use", id: "mcptoolu_1", name: "search_issues", server_name: "github", input: { q: "bug" } };
    fake.enqueue({
      kind: "json",
      body: { id: "msg_mcp", type: "message", role: "assistant", model: "claude-sonnet-4-5-20250929", content: [{ type: "text", text: "Searching." }, mcpBlock, { type: "mcp_tool_result", tool_use_id: "mcptoolu_1", is_error: false, content: [{ type: "text", text: "3 issues" }] }], stop_reason: "end_turn", stop_sequence: null, usage: { input_tokens: 10, output_tokens: 20 } },
    });
    const params = { model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user" as const, content: "Open bugs?" }], mcp_servers: [{ type: "url" as const, url: "https://mcp.example/sse", name: "github" }], betas: ["mcp-client-2025-04-04"] };
    await c.beta.messages.create(params);
    fake.enqueue({
      kind: "sse",
      events: [
        start({ input_tokens: 10, output_tokens: 1 }),
        sse("content_block_start", { index: 0, content_block: { ...mcpBlock, input: {} } }),
        sse("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: '{"q":' } }),
        sse("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: '"bug"}' } }),
        sse("content_block_stop", { index: 0 }),
        sse("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 20 } }),
        sse("message_stop", {}),
      ],
    });
    const streamed = await c.beta.messages.stream(params).finalMessage();
    expect(streamed.content[0]).toEqual(mcpBlock);
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs).toHaveLength(2);
    for (const rec of recs) {
      expect(rec).toMatchObject({ success: true, toolCalls: [{ id: "mcptoolu_1", type: "mcp_tool_use", name: "search_issues", server_name: "github", input: { q: "bug" } }] });
    }
    expect(recs.map((r) => (r.metadata as { anthropic: { method: string } }).anthropic.method)).toEqual(["beta.messages.create", "beta.messages.stream"]);
    // the servers offered, by name only (never their URL or token)
    for (const rec of recs) expect((rec.metadata as { anthropic: { request: Rec } }).anthropic.request).toMatchObject({ mcp_servers: ["github"] });
    expect(JSON.stringify(recs)).not.toContain("mcp.example");
  });

  it("max_tokens mid tool input: success with finishReason max_tokens and the input as the JSON text that arrived; an image's base64 and sent-back thinking are in the prompt whole", async () => {
    const logger = newLogger();
    const c = client(logger);
    fake.enqueue({
      kind: "sse",
      events: [
        start({ input_tokens: 7, output_tokens: 1 }),
        sse("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_9", name: "write_file", input: {} } }),
        sse("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: '{"path":"a.txt","text":"hel' } }),
        sse("content_block_stop", { index: 0 }),
        sse("message_delta", { delta: { stop_reason: "max_tokens", stop_sequence: null }, usage: { output_tokens: 10 } }),
        sse("message_stop", {}),
      ],
    });
    const image = "iVBORw0KGgo" + "A".repeat(300_000);
    const thought = { type: "thinking" as const, thinking: "SENT-BACK-THOUGHT", signature: "SIG-sent" };
    const m = await c.messages
      .stream({
        model: "claude-sonnet-4-5",
        max_tokens: 10,
        messages: [
          { role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: image } }, { type: "text", text: "Save it" }] },
          { role: "assistant", content: [thought, { type: "tool_use", id: "toolu_8", name: "look", input: {} }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_8", content: "ok" }] },
        ],
      })
      .finalMessage();
    expect(m.stop_reason).toBe("max_tokens");
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({ success: true, finishReason: "max_tokens", toolCalls: [{ id: "toolu_9", name: "write_file", input: '{"path":"a.txt","text":"hel' }] });
    const prompt = fs.readFileSync(path.join(logger.auditDir, (rec!.fullContent as { prompt: { file: string } }).prompt.file), "utf8");
    expect(prompt).toContain(image);
    expect(prompt).toContain("SENT-BACK-THOUGHT");
  });

  it("a message thread's turns (client.beta.messages.thread().send()) record which thread they create or continue", async () => {
    const logger = newLogger();
    const thread = client(logger).beta.messages.thread({ model: "claude-haiku-4-5", max_tokens: 10, system: "Be brief." });
    const first = await thread.send({ role: "user", content: "first question" });
    await thread.send({ role: "user", content: "second question" });
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs).toHaveLength(2);
    // the second turn sends only its new message: the record says which reply it continues
    expect(recs[1]!.promptPreview).toBe(JSON.stringify([{ role: "user", content: "second question" }]));
    expect(recs.map((r) => (r.metadata as { anthropic: { request: Rec } }).anthropic.request)).toEqual([
      { max_tokens: 10, thread: "create" },
      { max_tokens: 10, thread: "continue", previous_message_id: first.id },
    ]);
    expect((recs[0]!.metadata as { anthropic: Rec }).anthropic.messageId).toBe(first.id);
    expect(recs.map((r) => (r.metadata as { anthropic: Rec }).anthropic.method)).toEqual(["beta.messages.thread", "beta.messages.thread"]);
  });

  // Found by the new-user pass, 2026-12-05: the thread takes the wrapped create()'s response with
  // the SDK's `_responseProps()` and parses the stream through an APIPromise of its own, which the
  // wrapper did not see: a streamed turn made no record when it ended, and one recorded as
  // abandoned (success false, no text) once the promise was collected.
  it("a message thread's streamed turn (thread.stream()) is recorded when it ends, with its text, once; send() turns around it too", async () => {
    const logger = newLogger();
    const thread = client(logger).beta.messages.thread({ model: "claude-haiku-4-5", max_tokens: 10 });
    const first = await thread.send({ role: "user", content: "first question" });
    const stream = thread.stream({ role: "user", content: "second question" });
    const streamed = await stream.finalMessage();
    expect(streamed.content).toEqual([{ type: "text", text: "Hello, world! How can I help?" }]);
    await thread.send({ role: "user", content: "third question" });
    const recs = await recordsOf(logger, "chat_interaction", 3, 200);
    expect(recs.map((r) => [r.promptPreview, r.success, r.responsePreview])).toEqual([
      [JSON.stringify([{ role: "user", content: "first question" }]), true, "Paris is the capital of France."],
      [JSON.stringify([{ role: "user", content: "second question" }]), true, "Hello, world! How can I help?"],
      [JSON.stringify([{ role: "user", content: "third question" }]), true, "Paris is the capital of France."],
    ]);
    expect(recs[1]).toMatchObject({ finishReason: "end_turn", metadata: { anthropic: { request: { thread: "continue", previous_message_id: first.id } } } });
    expect(typeof recs[1]!.timeToFirstTokenSeconds).toBe("number");
    // (2026-12-06: each turn was named `beta.messages.create`, the method the thread calls)
    expect(recs.map((r) => [(r.metadata as { anthropic: Rec }).anthropic.method, (r.metadata as { anthropic: Rec }).anthropic.stream])).toEqual([
      ["beta.messages.thread", false],
      ["beta.messages.thread", true],
      ["beta.messages.thread", false],
    ]);
  });

  it("toolRunner({ stream: true }) over a thread: one record per turn, each with its reply", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", fixture: "stream-tool-use" });
    const runner = client(logger).beta.messages.toolRunner({
      model: "claude-haiku-4-5",
      max_tokens: 100,
      stream: true,
      messages: [{ role: "user", content: "Weather?" }],
      tools: [{ name: "get_weather", description: "w", input_schema: { type: "object", properties: {} }, run: () => "sunny" }],
    });
    for await (const turn of runner) await turn.finalMessage();
    const recs = await recordsOf(logger, "chat_interaction", 2, 200);
    expect(recs.map((r) => [r.success, r.finishReason])).toEqual([
      [true, "tool_use"],
      [true, "end_turn"],
    ]);
    expect(recs[0]!.toolCalls).toMatchObject([{ type: "tool_use", name: "get_weather" }]);
    expect(recs[1]!.responsePreview).toBe("Hello, world! How can I help?");
    // (2026-12-06: each turn was named `beta.messages.create`)
    expect(recs.map((r) => [(r.metadata as { anthropic: Rec }).anthropic.method, (r.metadata as { anthropic: Rec }).anthropic.stream])).toEqual([
      ["beta.messages.toolRunner", true],
      ["beta.messages.toolRunner", true],
    ]);
  });

  it("toolRunner({ thread: false }) sends the whole history each turn, and its turns are named toolRunner too", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "json", fixture: "message-tool-use" });
    const runner = client(logger).beta.messages.toolRunner({
      model: "claude-haiku-4-5",
      max_tokens: 100,
      thread: false,
      messages: [{ role: "user", content: "Weather?" }],
      tools: [{ name: "get_weather", description: "w", input_schema: { type: "object", properties: {} }, run: () => "sunny" }],
    });
    await runner.runUntilDone();
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs.map((r) => [(r.metadata as { anthropic: Rec }).anthropic.method, r.finishReason, ((r.metadata as { anthropic: { request: Rec } }).anthropic.request ?? {}).thread])).toEqual([
      ["beta.messages.toolRunner", "tool_use", undefined],
      ["beta.messages.toolRunner", "end_turn", undefined],
    ]);
  });

  it("messages.countTokens (also between a create() and its send) passes through unrecorded, and the create's record keeps its own prompt", async () => {
    const logger = newLogger();
    const c = client(logger);
    const other = { model: "claude-haiku-4-5", messages: [{ role: "user" as const, content: "count me, not the create" }] };
    const bare = await new Anthropic({ apiKey: "test", baseURL: fake.baseURL, maxRetries: 0 }).messages.countTokens(other);
    const pending = c.messages.create({ model: "claude-haiku-4-5", max_tokens: 10, messages: [{ role: "user", content: "the create's own" }] });
    const [counted, beta] = await Promise.all([c.messages.countTokens(other), c.beta.messages.countTokens(other)]);
    await pending;
    expect(counted).toEqual(bare);
    expect(beta).toEqual(bare);
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]!.promptPreview).toBe(JSON.stringify([{ role: "user", content: "the create's own" }]));
  });

  it("beta.messages.toolRunner() (on a thread, as the SDK runs it by default): one record per turn, the second continuing the first", async () => {
    const logger = newLogger();
    const c = client(logger);
    fake.enqueue({ kind: "json", fixture: "message-tool-use" });
    const runner = c.beta.messages.toolRunner({
      model: "claude-haiku-4-5",
      max_tokens: 100,
      messages: [{ role: "user", content: "Weather?" }],
      tools: [{ name: "get_weather", description: "w", input_schema: { type: "object", properties: {} }, run: () => "sunny" }],
    });
    const final = await runner.runUntilDone();
    expect(final.content).toEqual([{ type: "text", text: "Paris is the capital of France." }]);
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs).toHaveLength(2);
    const [first, second] = recs as [Rec, Rec];
    expect(first).toMatchObject({ success: true, finishReason: "tool_use", toolCalls: [{ type: "tool_use", name: "get_weather" }] });
    const firstId = (first.metadata as { anthropic: Rec }).anthropic.messageId;
    expect(second).toMatchObject({
      success: true,
      responsePreview: "Paris is the capital of France.",
      metadata: { anthropic: { method: "beta.messages.toolRunner", request: { thread: "continue", previous_message_id: firstId } } },
    });
    expect(JSON.parse(String(second.promptPreview))).toEqual([{ role: "user", content: [{ type: "tool_result", tool_use_id: (first.toolCalls as Rec[])[0]!.id, content: "sunny" }] }]);
  });
});

describe("wrapAnthropic: a model that declines and another that answers instead (fallback blocks)", () => {
  const refusal = {
    id: "msg_refused",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5-20250929",
    content: [],
    stop_reason: "refusal",
    stop_sequence: null,
    stop_details: { type: "refusal", category: "cyber", explanation: null },
    usage: { input_tokens: 30, output_tokens: 0 },
  };

  it("the SDK's betaRefusalFallbackMiddleware (one create(), two requests): one record, of the answer, saying which model declined and which answered (nothing said so)", async () => {
    const logger = newLogger();
    const c = wrapAnthropic(new Anthropic({ apiKey: "test", baseURL: fake.baseURL, maxRetries: 0, middleware: [betaRefusalFallbackMiddleware([{ model: "claude-opus-4-8" }])] }), { logger });
    const before = fake.requests.length;
    fake.enqueue({ kind: "json", body: refusal }, { kind: "json" });
    const message = await c.beta.messages.create({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "Explain this exploit." }] });
    // (the app gets what the SDK makes of the two: the fallback block, then the answer)
    expect(message.content.map((b) => b.type)).toEqual(["fallback", "text"]);
    expect(fake.requests.slice(before).map((r) => r.body.model)).toEqual(["claude-sonnet-4-5", "claude-opus-4-8"]);
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, responsePreview: "Paris is the capital of France.", finishReason: "end_turn" });
    expect((recs[0]!.metadata as { anthropic: Rec }).anthropic).toMatchObject({
      method: "beta.messages.create",
      requestedModel: "claude-sonnet-4-5",
      fallbacks: [{ from: "claude-sonnet-4-5", to: "claude-opus-4-8", trigger: "refusal", category: "cyber" }],
    });
  });

  it("streamed through betaRefusalFallbackMiddleware (the fallback's events spliced onto the declined stream): one record, named by the model that answered, with the fallback", async () => {
    const logger = newLogger();
    const c = wrapAnthropic(new Anthropic({ apiKey: "test", baseURL: fake.baseURL, maxRetries: 0, middleware: [betaRefusalFallbackMiddleware([{ model: "claude-opus-4-8" }])] }), { logger });
    fake.enqueue(
      {
        kind: "sse",
        events: [
          sse("message_start", { message: { ...refusal, stop_reason: null, stop_details: null, usage: { input_tokens: 30, output_tokens: 1 } } }),
          sse("message_delta", { delta: { stop_reason: "refusal", stop_sequence: null, stop_details: { type: "refusal", category: "cyber", explanation: null, fallback_credit_token: "fct_test_1" } }, usage: { output_tokens: 1 } }),
          sse("message_stop", {}),
        ],
      },
      { kind: "sse" },
    );
    const final = await c.beta.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "Explain this exploit." }] }).finalMessage();
    expect(final.content.map((b) => b.type)).toEqual(["fallback", "text"]);
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, model: "claude-opus-4-8", finishReason: "end_turn" });
    expect((recs[0]!.metadata as { anthropic: Rec }).anthropic).toMatchObject({
      method: "beta.messages.stream",
      fallbacks: [{ from: "claude-sonnet-4-5-20250929", to: "claude-opus-4-8", trigger: "refusal", category: "cyber" }],
    });
  });

  it("a streamed reply with a fallback block (the server-side fallbacks beta): recorded once with it; a reply without one has none", async () => {
    const logger = newLogger();
    const c = client(logger);
    fake.enqueue(
      {
        kind: "sse",
        events: [
          sse("message_start", { message: { ...refusal, model: "claude-opus-4-8", stop_reason: null, stop_details: null, usage: { input_tokens: 30, output_tokens: 1 } } }),
          sse("content_block_start", { index: 0, content_block: { type: "fallback", from: { model: "claude-sonnet-4-5" }, to: { model: "claude-opus-4-8" }, trigger: { type: "refusal", category: null } } }),
          sse("content_block_stop", { index: 0 }),
          sse("content_block_start", { index: 1, content_block: { type: "text", text: "" } }),
          sse("content_block_delta", { index: 1, delta: { type: "text_delta", text: "Here is a safe answer." } }),
          sse("content_block_stop", { index: 1 }),
          sse("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 7 } }),
          sse("message_stop", {}),
        ],
      },
      { kind: "sse" },
    );
    const params = { model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user" as const, content: "Hi" }] };
    await c.beta.messages.stream(params).finalMessage();
    await c.messages.stream(params).finalMessage();
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ success: true, responsePreview: "Here is a safe answer.", model: "claude-opus-4-8" });
    expect((recs[0]!.metadata as { anthropic: Rec }).anthropic.fallbacks).toEqual([{ from: "claude-sonnet-4-5", to: "claude-opus-4-8", trigger: "refusal" }]);
    expect((recs[1]!.metadata as { anthropic: Rec }).anthropic).not.toHaveProperty("fallbacks");
  });
});
