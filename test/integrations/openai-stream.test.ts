import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from "openai";
import { ChatCompletionStream } from "openai/lib/ChatCompletionStream";
import { ResponseStream } from "openai/lib/responses/ResponseStream";
import { Stream } from "openai/streaming";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wrapOpenAI } from "../../integrations/openai.js";
import { ResponseEventAccumulator } from "../../integrations/openai-record.js";
import { auditContext } from "../../src/context.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { loggerFactory, runFixtureChild, tmpProject } from "../helpers/index.js";
import { recordsOf } from "./_records.js";
import { childArgs } from "../helpers/child-args.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
const newLogger = loggerFactory("openai_stream");
const client = () => new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 });
const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object" } } }];
const text = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("wrapOpenAI: streamed chat completions", () => {
  it("the stream stays the SDK's Stream, yields the same chunks, and one record has the assembled text", async () => {
    const logger = newLogger();
    const bareChunks = await collect(await client().chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }));
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    expect(stream).toBeInstanceOf(Stream);
    expect(stream.controller).toBeInstanceOf(AbortController);
    const chunks = await collect(stream);
    expect(chunks).toEqual(bareChunks);
    expect(text(chunks)).toBe("The capital of France is Paris.");
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      model: "gpt-4o-mini-2024-07-18",
      responsePreview: "The capital of France is Paris.",
      finishReason: "stop",
      success: true,
      // the response's x-request-id, as for a call that is not streamed
      metadata: { openai: { requestId: expect.stringMatching(/^req_fake_/), stream: true, end: "completed", chunks: chunks.length } },
    });
    // without include_usage the API sends no usage, so none is recorded
    expect(recs[0]).not.toHaveProperty("inputTokens");
    expect(recs[0]!.timeToFirstTokenSeconds).toBeGreaterThan(0);
    expect(recs[0]!.timeToFirstTokenSeconds as number).toBeLessThanOrEqual(recs[0]!.durationSeconds as number);
    expect(fake.requests.at(-1)!.body).not.toHaveProperty("stream_options");
  });

  it("includeUsageInStreams requests usage and records the tokens; an explicit include_usage is left alone", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger, includeUsageInStreams: true });
    const chunks = await collect(await openai.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }));
    expect(fake.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 19, completion_tokens: 10 });
    await collect(await openai.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true, stream_options: { include_usage: false } }));
    expect(fake.requests.at(-1)!.body.stream_options).toEqual({ include_usage: false });
    const [withUsage, without] = await recordsOf(logger, "chat_interaction", 2);
    expect(withUsage).toMatchObject({ inputTokens: 19, outputTokens: 10, tokensUsed: 29, usage: chunks.at(-1)!.usage });
    expect(without).not.toHaveProperty("inputTokens");
  });

  it("assembles streamed tool-call deltas; a tool's name repeated in every delta (a compatible server) is its name, as the SDK's own helper takes it (it was appended: get_weatherget_weather…)", async () => {
    const logger = newLogger();
    const wrapped = wrapOpenAI(client(), { logger });
    await collect(await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages, tools, stream: true }));
    fake.enqueue({ fixture: "chat-stream-tools-names-repeated.sse" });
    const final = await wrapped.chat.completions.stream({ model: "gpt-4o-mini", messages, tools }).finalChatCompletion();
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs).toHaveLength(2); // one per call: the default fixture's stream, then the repeated names
    const expected = [
      { index: 0, id: "call_Q2dMZ8uGkVBHQnAbB7YcKx4t", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
      { index: 1, id: "call_7hXbN1pLw2Vq9ZyTc4RkM0sA", type: "function", function: { name: "get_time", arguments: '{"tz":"Europe/Paris"}' } },
    ];
    for (const rec of recs) {
      expect(rec.finishReason).toBe("tool_calls");
      expect(rec.toolCalls).toEqual(expected);
    }
    expect(final.choices[0]!.message.tool_calls!.map((t) => (t as { function: { name: string } }).function.name)).toEqual(["get_weather", "get_time"]);
  });

  it("a stream abandoned with break is recorded once, as abandoned, with what was read", async () => {
    const logger = newLogger();
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    const seen: ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      seen.push(chunk);
      if (seen.length === 3) break;
    }
    expect(stream.controller.signal.aborted).toBe(true); // the SDK's own behaviour on break
    const recs = await recordsOf(logger, "chat_interaction", 1, 60);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "The capital", metadata: { openai: { end: "abandoned", chunks: 3 } } });
    expect(recs[0]!.errorMessage).toMatch(/^abandoned/);
  });

  it("a stream aborted through its controller is recorded once, as aborted", async () => {
    const logger = newLogger();
    fake.enqueue({ eventDelayMs: 30 });
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    const seen: ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      seen.push(chunk);
      if (seen.length === 2) stream.controller.abort();
    }
    const recs = await recordsOf(logger, "chat_interaction", 1, 60);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, metadata: { openai: { end: "aborted" } } });
  });

  it("an abort with nobody reading any more is still recorded once", async () => {
    const logger = newLogger();
    fake.enqueue({ eventDelayMs: 30 });
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    const [left] = stream.tee();
    const it = left[Symbol.asyncIterator]();
    await it.next();
    stream.controller.abort();
    const recs = await recordsOf(logger, "chat_interaction", 1, 60);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, metadata: { openai: { end: "aborted" } } });
  });

  it("tee(): both halves get every chunk and the call is recorded once", async () => {
    const logger = newLogger();
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    const [a, b] = stream.tee();
    expect(a).toBeInstanceOf(Stream);
    const [ca, cb] = await Promise.all([collect(a), collect(b)]);
    expect(text(ca)).toBe("The capital of France is Paris.");
    expect(cb).toEqual(ca);
    const recs = await recordsOf(logger, "chat_interaction", 1, 60);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, responsePreview: "The capital of France is Paris." });
  });

  it("toReadableStream() still works and is observed", async () => {
    const logger = newLogger();
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    const back = Stream.fromReadableStream<ChatCompletionChunk>(stream.toReadableStream(), new AbortController());
    expect(text(await collect(back))).toBe("The capital of France is Paris.");
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, responsePreview: "The capital of France is Paris." });
  });

  it("a connection dropped mid-stream: the same error class as without the wrapper, recorded once with the partial text", async () => {
    const logger = newLogger();
    fake.enqueue({ dropAfterEvents: 4 }, { dropAfterEvents: 4 });
    const bareErr = await collect(await client().chat.completions.create({ model: "gpt-4o-mini", messages, stream: true })).catch((e: unknown) => e);
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    const err = await collect(stream).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).constructor).toBe((bareErr as Error).constructor);
    expect((err as Error).message).toBe((bareErr as Error).message);
    const recs = await recordsOf(logger, "chat_interaction", 1, 60);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "The capital of", metadata: { openai: { end: "error", chunks: 4 } } });
  });

  it("an error event inside the stream rethrows the SDK's APIError and is recorded once", async () => {
    const logger = newLogger();
    fake.enqueue({ errorAfterEvents: 2, errorMessage: "overloaded" });
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    const err = await collect(stream).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    const recs = await recordsOf(logger, "chat_interaction", 1, 60);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, errorMessage: expect.stringContaining("overloaded") });
  });

  it("a status error on a streamed call is rethrown and recorded once", async () => {
    const logger = newLogger();
    fake.enqueue({ status: 503 });
    const err = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(503);
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, statusCode: 503 });
    expect(recs[0]).not.toHaveProperty("timeToFirstTokenSeconds");
  });

  it("a stream read in another context is recorded with the context of the call", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const stream = await auditContext.run({ userId: "caller", traceId: "t-call" }, () => openai.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }));
    await auditContext.run({ userId: "reader", traceId: "t-read" }, () => collect(stream));
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({ userId: "caller", traceId: "t-call" });
  });

  it("nothing of the reading context leaks into the record of a call made outside any context", async () => {
    const logger = newLogger();
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    await auditContext.run({ userId: "someone-else", traceId: "t-other", metadata: { tenant: "other" } }, () => collect(stream));
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).not.toHaveProperty("userId");
    // (the trace it starts, named by its own id: not the reading context's)
    expect(rec!.traceId).toBe(rec!.id);
    expect(rec!.metadata).toEqual({ openai: expect.objectContaining({ stream: true }) });
  });
});

describe("wrapOpenAI: .stream() helpers and Responses streams", () => {
  it("chat.completions.stream(): recorded once with tool calls; its events still fire", async () => {
    const logger = newLogger();
    const runner = wrapOpenAI(client(), { logger, includeUsageInStreams: true }).chat.completions.stream({ model: "gpt-4o-mini", messages, tools });
    // the SDK's own helper object, as without the wrapper
    expect(runner).toBeInstanceOf(ChatCompletionStream);
    const deltas: string[] = [];
    runner.on("tool_calls.function.arguments.delta", (e) => deltas.push(e.arguments_delta));
    const final = await runner.finalChatCompletion();
    expect(deltas.join("")).toBe('{"city":"Paris"}{"tz":"Europe/Paris"}');
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, inputTokens: 82, finishReason: "tool_calls" });
    expect((recs[0]!.toolCalls as Array<{ function: { arguments: string } }>).map((t) => t.function.arguments)).toEqual(
      final.choices[0]!.message.tool_calls!.map((t) => (t.type === "function" ? t.function.arguments : "")),
    );
  });

  it("chat.completions.stream() aborted: APIUserAbortError as before, recorded once as aborted", async () => {
    const logger = newLogger();
    fake.enqueue({ eventDelayMs: 30 });
    const runner = wrapOpenAI(client(), { logger }).chat.completions.stream({ model: "gpt-4o-mini", messages });
    runner.on("content", () => runner.abort());
    const err = await runner.finalChatCompletion().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIUserAbortError);
    const recs = await recordsOf(logger, "chat_interaction", 1, 80);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, metadata: { openai: { end: "aborted" } } });
  });

  it("chat.completions.stream() left with break after the finish reason (the helper aborts) is recorded as completed, like a raw stream", async () => {
    const logger = newLogger();
    fake.enqueue({ eventDelayMs: 30 });
    const runner = wrapOpenAI(client(), { logger }).chat.completions.stream({ model: "gpt-4o-mini", messages });
    let text = "";
    for await (const chunk of runner) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.choices[0]?.finish_reason) break;
    }
    expect(text.length).toBeGreaterThan(0);
    const recs = await recordsOf(logger, "chat_interaction", 1, 80);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, finishReason: "stop", metadata: { openai: { end: "completed" } } });
  });

  it("with two choices, an abort after the first one finished and before the second did is recorded as aborted", async () => {
    const logger = newLogger();
    fake.enqueue({ fixture: "chat-stream-n2.sse", eventDelayMs: 20 });
    const ac = new AbortController();
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, n: 2, stream: true }, { signal: ac.signal });
    await (async () => {
      for await (const c of stream) if (c.choices[0]?.index === 0 && c.choices[0]?.finish_reason) ac.abort();
    })().catch(() => undefined);
    const recs = await recordsOf(logger, "chat_interaction", 1, 80);
    expect(recs[0]).toMatchObject({ success: false, metadata: { openai: { end: "aborted" } } });
  });

  it("responses.create({ stream: true }): one record from the final response event", async () => {
    const logger = newLogger();
    const stream = await wrapOpenAI(client(), { logger }).responses.create({ model: "gpt-4.1", input: "Tell me a story.", stream: true });
    expect(stream).toBeInstanceOf(Stream);
    const events = await collect(stream);
    expect(events.at(-1)!.type).toBe("response.completed");
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      interactionType: "responses",
      model: "gpt-4.1-2025-04-14",
      responsePreview: "In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool.",
      inputTokens: 36,
      outputTokens: 87,
      finishReason: "completed",
      success: true,
    });
    expect(recs[0]!.timeToFirstTokenSeconds).toBeGreaterThan(0);
  });

  it("responses.stream() helper: recorded once; abandoned Responses streams keep the text read so far", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const helper = openai.responses.stream({ model: "gpt-4.1", input: "Tell me a story." });
    expect(helper).toBeInstanceOf(ResponseStream);
    const final = await helper.finalResponse();
    expect(final.output_text).toMatch(/Lumina/);
    const stream = await openai.responses.create({ model: "gpt-4.1", input: "Tell me a story.", stream: true });
    let n = 0;
    for await (const ev of stream) if (ev.type === "response.output_text.delta" && ++n === 3) break;
    const recs = await recordsOf(logger, "chat_interaction", 2, 60);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ success: true, outputTokens: 87 });
    expect(recs[1]).toMatchObject({ success: false, responsePreview: "In a peaceful", metadata: { openai: { end: "abandoned" } } });
  });

  it("Responses streams with a function call: taken from the final Response, or assembled from the events when the stream is cut before it", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const responsesTools = [{ type: "function" as const, name: "get_weather", parameters: { type: "object" }, strict: false }];
    const call = { type: "function_call", call_id: "call_unLAR8MvFNptuiZK6K6HCy5k", name: "get_weather", arguments: '{"location":"Paris, France"}' };
    const whole = await openai.responses.create({ model: "gpt-4.1", input: "Weather?", tools: responsesTools, stream: true });
    for await (const _ of whole);
    // cut after output_item.done (7 events), and after the first argument delta (4)
    for (const dropAfterEvents of [7, 4]) {
      fake.enqueue({ dropAfterEvents });
      const cut = await openai.responses.create({ model: "gpt-4.1", input: "Weather?", tools: responsesTools, stream: true });
      await (async () => {
        for await (const _ of cut);
      })().catch(() => undefined);
    }
    const recs = await recordsOf(logger, "chat_interaction", 3, 60);
    expect(recs[0]).toMatchObject({ success: true, toolCalls: [call] });
    expect(recs[1]).toMatchObject({ success: false, toolCalls: [call] });
    expect(recs[2]).toMatchObject({ success: false, toolCalls: [{ ...call, arguments: '{"location":' }] });
  });

  it("a stream's record has the provider's id of its answer: the chunks' chat completion id, the Response's id from its first event (also when cut before the final one; it was not recorded)", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    const chunks = await collect(await openai.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }));
    const events = await collect(await openai.responses.create({ model: "gpt-4.1", input: "Tell me a story.", stream: true }));
    fake.enqueue({ dropAfterEvents: 6 });
    await expect(collect(await openai.responses.create({ model: "gpt-4.1", input: "Tell me a story.", stream: true }))).rejects.toThrow();
    const recs = await recordsOf(logger, "chat_interaction", 3);
    const ids = recs.map((r) => (r.metadata as { openai: { responseId?: string } }).openai.responseId);
    const final = events.at(-1) as { response: { id: string } };
    expect(ids).toEqual([chunks[0]!.id, final.response.id, final.response.id]);
    expect(recs[2]).toMatchObject({ success: false, metadata: { openai: { end: "error" } } });
  });

  it("what a Responses record says: message text (not reasoning), built-in tool calls as items, finishReason from status; an incomplete Response is a success cut short, a failed one a failure", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(client(), { logger });
    fake.enqueue({ fixture: "responses-web-search.json" }, { fixture: "responses-stream-incomplete.sse" }, { fixture: "responses-stream-failed.sse" });
    const r = await openai.responses.create({ model: "gpt-5", input: "What is the capital of France?", tools: [{ type: "web_search" }] });
    expect(r.output_text).toBe("Paris is the capital of France.");
    const incomplete = await collect(await openai.responses.create({ model: "gpt-4.1", input: "Tell me a story.", max_output_tokens: 87, stream: true }));
    const failed = await collect(await openai.responses.create({ model: "gpt-4.1", input: "Tell me a story.", stream: true }));
    expect([incomplete.at(-1)!.type, failed.at(-1)!.type]).toEqual(["response.incomplete", "response.failed"]);
    const [ws, inc, fail] = await recordsOf(logger, "chat_interaction", 3);
    expect(ws).toMatchObject({ responsePreview: "Paris is the capital of France.", finishReason: "completed", success: true });
    expect(ws!.toolCalls).toEqual([{ type: "web_search_call", id: expect.stringMatching(/^ws_/), status: "completed", action: { type: "search", query: "capital of France" } }]);
    expect(inc).toMatchObject({ finishReason: "max_output_tokens", success: true, outputTokens: 87, metadata: { openai: { end: "completed" } } });
    expect(inc!.responsePreview).toMatch(/^In a peaceful grove/);
    expect(fail).toMatchObject({ finishReason: "failed", success: false, errorMessage: "The model failed to generate a response.", metadata: { openai: { end: "completed" } } });
  });

  it("a turn with a remote MCP server: its mcp_list_tools listing is not a tool call, its mcp_call is (the listing was recorded as a call)", async () => {
    const logger = newLogger();
    fake.enqueue({ fixture: "responses-mcp.json" });
    const r = await wrapOpenAI(client(), { logger }).responses.create({ model: "gpt-4.1", input: "Roll 2d4+1", tools: [{ type: "mcp", server_label: "dmcp", server_url: "https://dmcp-server.deno.dev/sse", require_approval: "never" }] });
    expect(r.output.map((o) => o.type)).toEqual(["mcp_list_tools", "mcp_call", "message"]);
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({ responsePreview: "You rolled a 4.", success: true, metadata: { openai: { request: { tools: ["mcp:dmcp"] } } } });
    expect(rec!.toolCalls).toEqual([expect.objectContaining({ type: "mcp_call", name: "roll", arguments: '{"diceRollExpression":"2d4 + 1"}', output: "4" })]);
  });

  it("a stream the server ends cleanly before it finished (no finish reason, no final Response) is recorded as truncated, not as a success", async () => {
    const logger = newLogger();
    fake.enqueue({ endAfterEvents: 3 }, { endAfterEvents: 4 }, { endAfterEvents: 3 });
    const c = wrapOpenAI(client(), { logger });
    let text = "";
    for await (const chunk of await c.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }], stream: true })) text += chunk.choices[0]?.delta?.content ?? "";
    let events = 0;
    for await (const _ of await c.responses.create({ model: "gpt-4.1", input: "x", stream: true })) events++;
    // the SDK's helper itself fails on it: the record says why too
    const helper = await c.chat.completions.stream({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] }).finalChatCompletion().catch((e: unknown) => e);
    expect(helper).toBeInstanceOf(Error);
    const recs = await recordsOf(logger, "chat_interaction", 3);
    expect(recs).toHaveLength(3);
    for (const r of recs) {
      expect(r).toMatchObject({ success: false, metadata: { openai: { stream: true, end: "truncated" } } });
      expect(r.errorMessage).toMatch(/^truncated: the stream ended before the provider finished the response, after \d+ chunks$/);
    }
    expect(recs[0]!.responsePreview).toBe(text);
    expect(events).toBe(4);
  });

  it("a network drop before any chunk on a streamed call rethrows APIConnectionError, recorded once", async () => {
    const logger = newLogger();
    fake.enqueue({ resetConnection: true });
    const err = await wrapOpenAI(client(), { logger }).responses.create({ model: "gpt-4.1", input: "x", stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(await recordsOf(logger, "chat_interaction")).toHaveLength(1);
  });

  it("results dropped unread are recorded once when collected; results still awaited while the GC runs, and a dropped tee() original, are not", () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
    const r = spawnSync(process.execPath, ["--expose-gc", ...childArgs(path.join(root, "test/fixtures/openai/abandon-child.mts")), tmpProject("audit-openai-gc-")], {
      cwd: root,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    type Rec = Record<string, unknown>;
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { texts: string[]; records: Rec[]; elapsed: Record<string, number> };
    const byPrompt = new Map(out.records.map((x) => [JSON.parse(String(x.promptPreview ?? "[]"))[0]?.content as string, x]));
    expect(out.records).toHaveLength(12);
    expect(byPrompt.get("unread stream")).toMatchObject({
      success: false,
      errorMessage: "abandoned: the app dropped the stream without reading it",
      metadata: { openai: { stream: true, end: "abandoned", chunks: 0 } },
    });
    // what was read before the stream was dropped is kept
    expect(byPrompt.get("half read")).toMatchObject({
      success: false,
      errorMessage: "abandoned: the app stopped reading the stream after 2 chunks",
      responsePreview: "The",
      metadata: { openai: { stream: true, end: "abandoned", chunks: 2 } },
    });
    expect(byPrompt.get("never awaited")).toMatchObject({ success: false, errorMessage: "abandoned: the app dropped the result without awaiting or reading it" });
    // the dropped original of a tee() is not an abandoned call: its branches were read to the end
    expect(out.texts).toEqual(["The capital of France is Paris.", "The capital of France is Paris."]);
    expect(byPrompt.get("aborted then dropped")).toMatchObject({ success: false, metadata: { openai: { stream: true, end: "aborted" } } });
    // awaited all along while the GC ran: recorded from their responses, not as dropped
    expect(byPrompt.get("slow asResponse")).toMatchObject({ success: true, statusCode: 200, metadata: { openai: { rawResponse: true } } });
    expect(byPrompt.get("slow withResponse")).toMatchObject({ success: true, responsePreview: "The capital of France is Paris." });
    expect(byPrompt.get("slow await")).toMatchObject({ success: true, responsePreview: "The capital of France is Paris." });
    // an SDK helper's promise (openai 7 makes it from create()'s, which the app never holds) is
    // recorded from its body when awaited, and as dropped when dropped
    expect(byPrompt.get("slow parse")).toMatchObject({ success: true, responsePreview: "The capital of France is Paris." });
    expect(byPrompt.get("parse never awaited")).toMatchObject({ success: false, errorMessage: "abandoned: the app dropped the result without awaiting or reading it" });
    expect(byPrompt.get("teed")).toMatchObject({ success: true, responsePreview: "The capital of France is Paris.", metadata: { openai: { end: "completed" } } });
    // a dropped stream's call lasted until the app last got something of it, not until the
    // collector ran 600 ms later (the duration was the collector's time): no longer than the child
    // measured around the call and its reads (a fixed 0.3 s failed under load)
    expect(byPrompt.get("unread, collected late")).toMatchObject({ metadata: { openai: { end: "abandoned", chunks: 0 } } });
    expect(byPrompt.get("half read, collected late")).toMatchObject({ responsePreview: "The", metadata: { openai: { end: "abandoned", chunks: 2 } } });
    for (const late of ["unread, collected late", "half read, collected late"]) {
      expect(out.elapsed[late]).toBeGreaterThan(0);
      expect(byPrompt.get(late)!.durationSeconds as number).toBeLessThanOrEqual(out.elapsed[late]!);
    }
  });
});

describe("wrapOpenAI: what a stream's record says, whatever the app does with its objects", () => {
  it("a usage chunk, or a final Response, changed by the app while it reads does not change the record", async () => {
    const logger = newLogger();
    const wrapped = wrapOpenAI(client(), { logger, includeUsageInStreams: true });
    const chat = await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    let sentUsage: Record<string, unknown> | undefined;
    for await (const c of chat) {
      if (!c.usage) continue;
      sentUsage = JSON.parse(JSON.stringify(c.usage)) as Record<string, unknown>;
      c.usage.prompt_tokens = 0;
      c.usage.completion_tokens = 0;
    }
    const responses = await wrapped.responses.create({ model: "gpt-4.1", input: "Tell me a story.", stream: true });
    let sentFinal: { usage: Record<string, unknown>; text: string } | undefined;
    for await (const e of responses) {
      if (e.type !== "response.completed") continue;
      const said = e.response.output.flatMap((item) => (item.type === "message" ? item.content.map((part) => (part.type === "output_text" ? part.text : "")) : []));
      sentFinal = { usage: JSON.parse(JSON.stringify(e.response.usage)) as Record<string, unknown>, text: said.join("") };
      (e.response.usage as { input_tokens: number }).input_tokens = 0;
      e.response.output = [];
      e.response.output_text = "changed by the app";
    }
    const [chatRec, respRec] = await recordsOf(logger, "chat_interaction", 2);
    expect(sentUsage).toBeDefined();
    expect(chatRec).toMatchObject({ usage: sentUsage, inputTokens: sentUsage!.prompt_tokens, outputTokens: sentUsage!.completion_tokens });
    expect(respRec).toMatchObject({ usage: sentFinal!.usage, inputTokens: sentFinal!.usage.input_tokens, responseLength: sentFinal!.text.length });
    expect(sentFinal!.text.length).toBeGreaterThan(0);
    expect(respRec!.responsePreview).not.toContain("changed by the app");
  });

  it("what the call asked for (a stream, the model) is read when it is made, not when its params were changed for the next one", async () => {
    const logger = newLogger();
    const wrapped = wrapOpenAI(client(), { logger });
    fake.enqueue({ headersDelayMs: 150 });
    const params: { model: string; messages: typeof messages; stream: boolean } = { model: "gpt-4o-mini", messages, stream: true };
    const pending = wrapped.chat.completions.create(params) as unknown as Promise<AsyncIterable<ChatCompletionChunk>>;
    await new Promise((r) => setTimeout(r, 60));
    params.stream = false; // the app prepares its next, non-streamed call with the same object
    params.model = "gpt-4o";
    const chunks = await collect(await pending);
    expect(text(chunks).length).toBeGreaterThan(0);
    const [rec, ...rest] = await recordsOf(logger, "chat_interaction");
    expect(rest).toHaveLength(0);
    expect(rec).toMatchObject({ success: true, responseLength: text(chunks).length, metadata: { openai: { stream: true, end: "completed" } } });
    expect(JSON.stringify(rec)).not.toContain("gpt-4o\"");
  });

  it("leaving a stream after the provider said it is finished is a completed stream", async () => {
    const logger = newLogger();
    const stream = await wrapOpenAI(client(), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    for await (const c of stream) if (c.choices[0]?.finish_reason) break;
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({ success: true, metadata: { openai: { end: "completed" } } });
  });

  it("streams made with an app-wide signal leave nothing of theirs alive once recorded (real child process, --expose-gc)", () => {
    const r = runFixtureChild<Record<string, { records: number; alive: number }>>("openai/signal-child.mts", "audit-openai-signal-");
    expect(r.status, r.stderr).toBe(0);
    // read to the end, read half-way and dropped, dropped unread (the last two recorded when collected)
    expect(r.out).toEqual({ full: { records: 5, alive: 0 }, half: { records: 5, alive: 0 }, unread: { records: 5, alive: 0 } });
  });
});

describe("ResponseEventAccumulator", () => {
  it("a final event without its Response still ends the stream (and a failed one fails it)", () => {
    const done = new ResponseEventAccumulator();
    done.add({ type: "response.output_text.delta", delta: "Hi" });
    done.add({ type: "response.completed" });
    expect(done.finished).toBe(true);
    expect(done.result()).toMatchObject({ response: "Hi" });
    const failed = new ResponseEventAccumulator();
    failed.add({ type: "response.failed" });
    expect(failed.finished).toBe(true);
    expect(failed.result()).toMatchObject({ errorMessage: "response failed" });
  });
});
