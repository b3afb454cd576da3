// Every public method of the installed `openai` (7) and `@anthropic-ai/sdk` clients that sends a
// model call, each called once on a wrapped client against the local fakes: the number of
// ChatInteractions it makes (one, none on purpose, one per request of a helper), and the method
// each record names. docs/INTEGRATIONS.md, "Each SDK method, and what it records", is the table
// this checks; a method the next SDK version adds, or one that starts recording twice (a helper
// that calls another wrapped method) or not at all, fails here.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import type { AuditLogger } from "../../src/logger.js";
import { startFakeAnthropic, type FakeAnthropic } from "../helpers/fake-anthropic.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { loggerFactory } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

let fakeOpenAI: FakeOpenAI;
let fakeAnthropic: FakeAnthropic;
beforeAll(async () => {
  [fakeOpenAI, fakeAnthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
});
afterAll(async () => {
  await Promise.all([fakeOpenAI.close(), fakeAnthropic.close()]);
});
afterEach(() => {
  fakeOpenAI.setDefault({});
});
const newLogger = loggerFactory("sdk_methods");

const openaiClient = (logger: AuditLogger): OpenAI => wrapOpenAI(new OpenAI({ baseURL: fakeOpenAI.baseURL, apiKey: "sk-test", maxRetries: 0 }), { logger });
const anthropicClient = (logger: AuditLogger): Anthropic => wrapAnthropic(new Anthropic({ baseURL: fakeAnthropic.baseURL, apiKey: "test", maxRetries: 0 }), { logger });

const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
const claude = { model: "claude-sonnet-4-5", max_tokens: 64, messages };

/** The methods the records name, in order, once `n` are on disk (and none more after a pause). */
async function methodsRecorded(logger: AuditLogger, section: "openai" | "anthropic", n: number): Promise<string[]> {
  const recs = await recordsOf(logger, "chat_interaction", n, n === 0 ? 100 : 50);
  return recs.map((r) => String((r.metadata as Record<string, { method?: unknown }>)[section]?.method));
}

/** A call the SDK fails (the fake knows no such route) or answers: either way the app's, and no record. */
async function settled(p: PromiseLike<unknown>): Promise<void> {
  await Promise.resolve(p).catch(() => undefined);
}

describe("openai: each model-call method records exactly once", () => {
  const cases: Array<[string, (c: OpenAI) => Promise<unknown>, string[]]> = [
    ["chat.completions.create", (c) => c.chat.completions.create({ model: "gpt-4o-mini", messages }), ["chat.completions.create"]],
    [
      "chat.completions.create, streamed",
      async (c) => {
        for await (const _ of await c.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true })) void _;
      },
      ["chat.completions.create"],
    ],
    ["chat.completions.parse", (c) => c.chat.completions.parse({ model: "gpt-4o-mini", messages }), ["chat.completions.parse"]],
    ["chat.completions.stream", (c) => c.chat.completions.stream({ model: "gpt-4o-mini", messages }).finalChatCompletion(), ["chat.completions.stream"]],
    ["responses.create", (c) => c.responses.create({ model: "gpt-4.1", input: "hi" }), ["responses.create"]],
    [
      "responses.create, streamed",
      async (c) => {
        for await (const _ of await c.responses.create({ model: "gpt-4.1", input: "hi", stream: true })) void _;
      },
      ["responses.create"],
    ],
    ["responses.parse", (c) => c.responses.parse({ model: "gpt-4.1", input: "hi" }), ["responses.parse"]],
    ["responses.stream", (c) => c.responses.stream({ model: "gpt-4.1", input: "hi" }).finalResponse(), ["responses.stream"]],
    ["responses.compact", (c) => c.responses.compact({ model: "gpt-5.2", input: "hi" }), ["responses.compact"]],
    ["beta.responses.create", (c) => c.beta.responses.create({ model: "gpt-4.1", input: "hi" }), ["beta.responses.create"]],
    [
      "beta.responses.create, streamed",
      async (c) => {
        for await (const _ of await c.beta.responses.create({ model: "gpt-4.1", input: "hi", stream: true })) void _;
      },
      ["beta.responses.create"],
    ],
    ["beta.responses.compact", (c) => c.beta.responses.compact({ model: "gpt-5.2", input: "hi" }), ["beta.responses.compact"]],
    // not recorded, on purpose (docs/INTEGRATIONS.md says why): no chat interaction, or no model answer
    ["responses.inputTokens.count", (c) => settled(c.responses.inputTokens.count({ model: "gpt-4.1", input: "hi" })), []],
    ["beta.responses.inputTokens.count", (c) => settled(c.beta.responses.inputTokens.count({ model: "gpt-4.1", input: "hi" })), []],
    ["completions.create (legacy)", (c) => settled(c.completions.create({ model: "gpt-3.5-turbo-instruct", prompt: "hi" })), []],
    ["embeddings.create", (c) => c.embeddings.create({ model: "text-embedding-3-small", input: "hi" }), []],
    ["moderations.create", (c) => settled(c.moderations.create({ input: "hi" })), []],
    ["decisions.create", (c) => settled(c.decisions.create({ model: "gpt-6-luna", input: "hi", questions: [] })), []],
    ["chat.completions.list", (c) => settled(c.chat.completions.list()), []],
  ];
  it.each(cases)("%s", async (_name, call, expected) => {
    const logger = newLogger();
    await call(openaiClient(logger));
    expect(await methodsRecorded(logger, "openai", expected.length)).toEqual(expected);
  });

  it("chat.completions.runTools, streamed or not: one record per request it makes, none for the app's functions", async () => {
    const logger = newLogger();
    const c = openaiClient(logger);
    const tools = [{ type: "function" as const, function: { name: "get_weather", description: "the weather", parameters: { type: "object" as const, properties: {} }, function: () => "sunny" } }];
    fakeOpenAI.enqueue({ fixture: "chat-completion-tools.json" }, { fixture: "chat-completion.json" }, { fixture: "chat-stream-tools.sse" }, { fixture: "chat-stream.sse" });
    await c.chat.completions.runTools({ model: "gpt-4o-mini", messages, tools }).finalContent();
    await c.chat.completions.runTools({ model: "gpt-4o-mini", messages, tools, stream: true }).finalContent();
    expect(await methodsRecorded(logger, "openai", 4)).toEqual(Array(4).fill("chat.completions.runTools"));
  });
});

describe("anthropic: each model-call method records exactly once", () => {
  const cases: Array<[string, (c: Anthropic) => Promise<unknown>, string[]]> = [
    ["messages.create", (c) => c.messages.create(claude), ["messages.create"]],
    [
      "messages.create, streamed",
      async (c) => {
        for await (const _ of await c.messages.create({ ...claude, stream: true })) void _;
      },
      ["messages.create"],
    ],
    ["messages.parse", (c) => c.messages.parse(claude), ["messages.parse"]],
    ["messages.stream", (c) => c.messages.stream(claude).finalMessage(), ["messages.stream"]],
    ["beta.messages.create", (c) => c.beta.messages.create(claude), ["beta.messages.create"]],
    ["beta.messages.parse", (c) => c.beta.messages.parse(claude), ["beta.messages.parse"]],
    ["beta.messages.stream", (c) => c.beta.messages.stream(claude).finalMessage(), ["beta.messages.stream"]],
    // not recorded, on purpose
    ["messages.countTokens", (c) => c.messages.countTokens({ model: claude.model, messages }), []],
    ["beta.messages.countTokens", (c) => c.beta.messages.countTokens({ model: claude.model, messages }), []],
    ["messages.batches.create", (c) => settled(c.messages.batches.create({ requests: [{ custom_id: "a", params: claude }] })), []],
    ["beta.messages.batches.create", (c) => settled(c.beta.messages.batches.create({ requests: [{ custom_id: "a", params: claude }] })), []],
  ];
  it.each(cases)("%s", async (_name, call, expected) => {
    const logger = newLogger();
    await call(anthropicClient(logger));
    expect(await methodsRecorded(logger, "anthropic", expected.length)).toEqual(expected);
  });
});
