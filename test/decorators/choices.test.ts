/**
 * @AuditChat on a method that returns (or streams) an answer with several choices (`n` > 1):
 * recorded as the OpenAI wrapper records it (docs/INTEGRATIONS.md, OpenAI): every choice's text,
 * each choice's finish reason, each tool call with the index of the choice that made it.
 */
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuditChat } from "../../decorators/index.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { cleanupTmp } from "../helpers/index.js";
import { decorate } from "./apply.js";
import { newLogger, records } from "./helpers.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
afterEach(cleanupTmp);

const messages = [{ role: "user" as const, content: "Capital of France?" }];
const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object", properties: {} } } }];
const client = () => new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 });

describe("@AuditChat and several choices (n > 1)", () => {
  it("a chat completion of the real SDK with n: 2, returned or streamed (yield*): every choice's text, each one's finish reason, as the wrapper records them (only the first choice was recorded)", async () => {
    const logger = newLogger();
    const openai = client();
    class Assistant {
      async ask(question: string) {
        return openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: question }], n: 2 });
      }
      async *stream(question: string) {
        yield* await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: question }], n: 2, stream: true, stream_options: { include_usage: true } });
      }
    }
    decorate("standard", Assistant, "ask", AuditChat({ logger, provider: "openai" }));
    decorate("legacy", Assistant, "stream", AuditChat({ logger, provider: "openai" }));
    fake.enqueue({ fixture: "chat-completion-n2.json" }, { fixture: "chat-stream-n2-length.sse" });
    const a = new Assistant();
    const res = await a.ask("Capital of France?");
    expect(res.choices.map((c) => c.finish_reason)).toEqual(["stop", "length"]);
    const texts: Record<number, string> = {};
    for await (const chunk of a.stream("Capital of France?")) for (const c of chunk.choices) texts[c.index] = (texts[c.index] ?? "") + (c.delta.content ?? "");
    expect(texts).toEqual({ 0: "Paris.", 1: "The capital is Paris indeed" });
    const [rec1, rec2] = await records(logger, "chat");
    expect(rec1).toMatchObject({
      responsePreview: JSON.stringify([{ index: 0, content: "The capital of France is Paris." }, { index: 1, content: "The capital of France" }]),
      finishReason: "stop",
      inputTokens: 19,
      outputTokens: 15,
      metadata: { auditChat: { method: "Assistant.ask", finishReasons: ["stop", "length"] } },
    });
    expect(rec2).toMatchObject({
      responsePreview: JSON.stringify([{ index: 0, content: "Paris." }, { index: 1, content: "The capital is Paris indeed" }]),
      finishReason: "stop",
      outputTokens: 9,
      metadata: { auditChat: { method: "Assistant.stream", finishReasons: ["stop", "length"] } },
    });
    // the same calls through the wrapped client: the same response and finish reasons
    const wrapped = wrapOpenAI(client(), { logger });
    fake.enqueue({ fixture: "chat-completion-n2.json" }, { fixture: "chat-stream-n2-length.sse" });
    await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages, n: 2 });
    for await (const _ of await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages, n: 2, stream: true })) void _;
    const [, , w1, w2] = await records(logger, "chat");
    expect([w1!.responsePreview, w2!.responsePreview]).toEqual([rec1!.responsePreview, rec2!.responsePreview]);
    expect([(w1!.metadata as { openai: { finishReasons: unknown } }).openai.finishReasons, (w2!.metadata as { openai: { finishReasons: unknown } }).openai.finishReasons]).toEqual([
      ["stop", "length"],
      ["stop", "length"],
    ]);
  });

  it("tool calls of the real SDK with n: 2, returned or streamed: every choice's calls, each saying which choice made it, as the wrapper's (only the first choice's were recorded); a one-choice stream's calls too (none was recorded)", async () => {
    const logger = newLogger();
    const openai = client();
    class Agent {
      async plan() {
        return openai.chat.completions.create({ model: "gpt-4o-mini", messages, n: 2, tools });
      }
      async *planStreamed(n?: number) {
        yield* await openai.chat.completions.create({ model: "gpt-4o-mini", messages, n, tools, stream: true });
      }
    }
    decorate("standard", Agent, "plan", AuditChat({ logger }));
    decorate("standard", Agent, "planStreamed", AuditChat({ logger }));
    fake.enqueue({ fixture: "chat-completion-n2-tools.json" }, { fixture: "chat-stream-n2-tools.sse" }, { fixture: "chat-stream-tools.sse" });
    const res = await new Agent().plan();
    for await (const _ of new Agent().planStreamed(2)) void _;
    // one choice, streamed: its calls as the wrapper assembles them, without `choice`
    for await (const _ of new Agent().planStreamed()) void _;
    // (the app's objects are not changed)
    expect(res.choices[1]!.message.tool_calls![0]).not.toHaveProperty("choice");
    const wrapped = wrapOpenAI(client(), { logger });
    fake.enqueue({ fixture: "chat-completion-n2-tools.json" }, { fixture: "chat-stream-n2-tools.sse" }, { fixture: "chat-stream-tools.sse" });
    await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages, n: 2, tools });
    for await (const _ of await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages, n: 2, tools, stream: true })) void _;
    for await (const _ of await wrapped.chat.completions.create({ model: "gpt-4o-mini", messages, tools, stream: true })) void _;
    const [rec1, rec2, rec3, w1, w2, w3] = await records(logger, "chat");
    expect(rec1!.toolCalls).toEqual([
      { id: "call_Q2dMZ8uGkVBHQnAbB7YcKx4t", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' }, choice: 0 },
      { id: "call_second_choice_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Lyon"}' }, choice: 1 },
    ]);
    expect(rec2!.toolCalls).toEqual([
      { index: 0, id: "call_a0", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' }, choice: 0 },
      { index: 0, id: "call_b0", type: "function", function: { name: "get_time", arguments: '{"tz":"CET"}' }, choice: 1 },
    ]);
    expect(rec1).toMatchObject({ finishReason: "tool_calls", metadata: { auditChat: { finishReasons: ["tool_calls", "tool_calls"] } } });
    expect(rec2).toMatchObject({ finishReason: "tool_calls", metadata: { auditChat: { finishReasons: ["tool_calls", "tool_calls"] } } });
    expect([rec1!.toolCalls, rec2!.toolCalls]).toEqual([w1!.toolCalls, w2!.toolCalls]);
    expect(rec3!.toolCalls).toEqual(w3!.toolCalls);
    expect((rec3!.toolCalls as Array<Record<string, unknown>>).length).toBeGreaterThan(0);
    expect((rec3!.toolCalls as Array<Record<string, unknown>>)[0]).not.toHaveProperty("choice");
    expect(rec3!.metadata).toEqual({ auditChat: { method: "Agent.planStreamed" } });
  });

  it("plain objects: several choices (chat, legacy completions' text) are all recorded; one choice is recorded as before (text, calls without `choice`, no finishReasons)", async () => {
    const logger = newLogger();
    class Llm {
      several() {
        return {
          model: "m",
          choices: [
            { index: 0, message: { role: "assistant", content: "Oui.", tool_calls: [{ id: "a", type: "function", function: { name: "f", arguments: "{}" } }] }, finish_reason: "stop" },
            { index: 1, message: { role: "assistant", content: null, refusal: "Non." }, finish_reason: "content_filter" },
          ],
        };
      }
      legacy() {
        return { model: "gpt-3.5-turbo-instruct", choices: [{ text: "one", index: 0, finish_reason: "stop" }, { text: "two", index: 1, finish_reason: "length" }] };
      }
      one() {
        return { model: "m", choices: [{ index: 0, message: { role: "assistant", content: "Seul.", tool_calls: [{ id: "b", type: "function", function: { name: "g", arguments: "{}" } }] }, finish_reason: "tool_calls" }] };
      }
      async *chunks() {
        // (no `index` members: choices are told by their place)
        yield { model: "m", choices: [{ delta: { content: "Bon" } }] };
        yield { choices: [{ delta: { content: "jour" }, finish_reason: "stop" }] };
      }
    }
    for (const m of ["several", "legacy", "one", "chunks"] as const) decorate("standard", Llm, m, AuditChat({ logger }));
    const llm = new Llm();
    llm.several();
    llm.legacy();
    llm.one();
    for await (const _ of llm.chunks()) void _;
    const [several, legacy, one, chunks] = await records(logger, "chat");
    expect(several).toMatchObject({
      responsePreview: JSON.stringify([{ index: 0, content: "Oui." }, { index: 1, content: "Non." }]),
      finishReason: "stop",
      toolCalls: [{ id: "a", type: "function", function: { name: "f", arguments: "{}" }, choice: 0 }],
      metadata: { auditChat: { finishReasons: ["stop", "content_filter"] } },
    });
    expect(legacy).toMatchObject({ responsePreview: JSON.stringify([{ index: 0, content: "one" }, { index: 1, content: "two" }]), metadata: { auditChat: { finishReasons: ["stop", "length"] } } });
    expect(one).toMatchObject({ responsePreview: "Seul.", finishReason: "tool_calls", toolCalls: [{ id: "b", type: "function", function: { name: "g", arguments: "{}" } }] });
    expect((one!.toolCalls as Array<Record<string, unknown>>)[0]).not.toHaveProperty("choice");
    expect(one!.metadata).toEqual({ auditChat: { method: "Llm.one" } });
    expect(chunks).toMatchObject({ responsePreview: "Bonjour", finishReason: "stop", metadata: { auditChat: { method: "Llm.chunks" } } });
    expect(chunks!.metadata).toEqual({ auditChat: { method: "Llm.chunks" } });
  });
});
