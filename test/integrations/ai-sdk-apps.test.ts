/**
 * auditLanguageModelMiddleware as apps use the AI SDK (ai 7): tool loops over several steps,
 * streamText read each way, aborts, structured output, retries, reasoning. Real `ai` and
 * `@ai-sdk/anthropic`, over HTTP to the local fake Messages API; the records are read from disk.
 */
import { createAnthropic } from "@ai-sdk/anthropic";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { Output, generateObject, generateText, isStepCount, streamObject, streamText, tool, wrapLanguageModel } from "ai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { auditLanguageModelMiddleware } from "../../integrations/ai-sdk.js";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { AuditViewer, auditContext, type AuditLogger } from "../../src/index.js";
import { fakeProviders } from "../helpers/fake-providers.js";
import { loggerFactory } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

type Rec = Record<string, unknown>;
const MODEL = "claude-haiku-4-5";

const fakes = fakeProviders();
const newLogger = loggerFactory("ai_sdk_apps", "audit-ai-sdk-apps-");
const audited = (logger: AuditLogger, captureContent = true) =>
  wrapLanguageModel({ model: createAnthropic({ baseURL: fakes.anthropic.aiSdkBaseURL, apiKey: "test" })(MODEL), middleware: auditLanguageModelMiddleware({ logger, captureContent }) });

const settle = (logger: AuditLogger, n: number): Promise<Rec[]> => recordsOf(logger, "chat_interaction", n, 50);
const aiSdk = (r: Rec) => (r.metadata as { aiSdk: Rec }).aiSdk;

const weather = {
  get_weather: tool({
    description: "Current weather",
    inputSchema: z.object({ location: z.string(), unit: z.string().optional() }),
    execute: async ({ location }) => ({ location, temperatureC: 18 }),
  }),
};
/** The recorded prompt (full content), parsed. */
const promptOf = async (logger: AuditLogger, r: Rec) => JSON.parse((await new AuditViewer(logger).getFullInteractionContent(r.id as string))!.prompt as string) as Array<{ role: string; content: Array<Rec> }>;

describe("auditLanguageModelMiddleware: a tool loop over several steps", () => {
  it("generateText with stopWhen: one record per step, each with that step's prompt (the tool's result in the second), in the surrounding context", async () => {
    const logger = newLogger();
    fakes.anthropic.enqueue({ kind: "json", fixture: "message-tool-use" }, { kind: "json" });
    const r = await auditContext.run({ traceId: "trace-app", parentId: "req-1" }, () =>
      generateText({ model: audited(logger), prompt: "Weather in Paris?", tools: weather, stopWhen: isStepCount(3) }),
    );
    expect(r.steps).toHaveLength(2);
    const recs = await settle(logger, 2);
    expect(recs).toHaveLength(2);
    expect(recs.map((x) => [x.traceId, x.parentId, x.finishReason, x.responsePreview, x.inputTokens, x.outputTokens])).toEqual([
      ["trace-app", "req-1", "tool-calls", "I'll check the weather in Paris.", 384, 58],
      ["trace-app", "req-1", "stop", "Paris is the capital of France.", 21, 9],
    ]);
    expect(recs[0]!.toolCalls).toEqual([{ toolCallId: "toolu_01A09q90qw90lq917835lq9", toolName: "get_weather", input: { location: "Paris, France", unit: "celsius" } }]);
    const second = await promptOf(logger, recs[1]!);
    expect(second.map((m) => m.role)).toEqual(["user", "assistant", "tool"]);
    expect(second[2]!.content[0]).toMatchObject({ type: "tool-result", toolCallId: "toolu_01A09q90qw90lq917835lq9", output: { type: "json", value: { location: "Paris, France", temperatureC: 18 } } });
  });

  it.each(["generate", "stream"] as const)("outside any audit context (%s): the steps of one tool loop are one trace, each step the child of the step whose tool calls it answers (each was a trace of its own); the next loop starts its own", async (kind) => {
    const logger = newLogger();
    const seen: Array<[string | undefined, string | undefined]> = [];
    const fetchSeeingContext: typeof fetch = (input, init) => {
      seen.push([auditContext.get()?.traceId, auditContext.get()?.parentId]);
      return fetch(input, init);
    };
    const model = wrapLanguageModel({ model: createAnthropic({ baseURL: fakes.anthropic.aiSdkBaseURL, apiKey: "test", fetch: fetchSeeingContext })(MODEL), middleware: auditLanguageModelMiddleware({ logger }) });
    const loop = async (prompt: string) => {
      if (kind === "generate") return (await generateText({ model, prompt, tools: weather, stopWhen: isStepCount(4) })).steps.length;
      const r = streamText({ model, prompt, tools: weather, stopWhen: isStepCount(4) });
      await r.consumeStream();
      return (await r.steps).length;
    };
    const toolUse = kind === "generate" ? ({ kind: "json", fixture: "message-tool-use" } as const) : ({ kind: "sse", fixture: "stream-tool-use" } as const);
    const text = kind === "generate" ? ({ kind: "json" } as const) : ({ kind: "sse" } as const);
    // three steps (two rounds of tools), then another loop of two
    fakes.anthropic.enqueue(toolUse, toolUse, text, toolUse, text);
    expect(await loop("Weather in Paris, twice?")).toBe(3);
    expect(await loop("Weather in Rome?")).toBe(2);
    const recs = await settle(logger, 5);
    expect(recs).toHaveLength(5);
    const [a1, a2, a3, b1, b2] = recs.map((r) => r.id as string) as [string, string, string, string, string];
    expect(recs.map((r) => [r.traceId, r.parentId, r.finishReason])).toEqual([
      [a1, undefined, "tool-calls"],
      [a1, a1, "tool-calls"],
      [a1, a2, "stop"],
      [b1, undefined, "tool-calls"],
      [b1, b1, "stop"],
    ]);
    // calls made inside each step (the provider's fetch) are in its trace, as its children
    expect(seen).toEqual([
      [a1, a1],
      [a1, a2],
      [a1, a3],
      [b1, b1],
      [b1, b2],
    ]);
  });

  it.each(["generate", "stream"] as const)("outside any trace (%s), a step is linked only to a step of the same caller's context and logger: two users' loops at once whose provider gives the same tool call id (or whose prompt ends with another's tool call id) each stay in their own trace", async (kind) => {
    const logger = newLogger();
    const other = newLogger();
    // both loops' first steps are recorded before either second step starts
    let arrived = 0;
    let open!: () => void;
    const both = new Promise<void>((r) => (open = r));
    const tools = {
      get_weather: tool({
        description: "Current weather",
        inputSchema: z.object({ location: z.string(), unit: z.string().optional() }),
        execute: async ({ location }) => {
          if (++arrived === 2) open();
          await both;
          return { location, temperatureC: 18 };
        },
      }),
    };
    const toolUse = kind === "generate" ? ({ kind: "json", fixture: "message-tool-use" } as const) : ({ kind: "sse", fixture: "stream-tool-use" } as const);
    const text = kind === "generate" ? ({ kind: "json" } as const) : ({ kind: "sse" } as const);
    fakes.anthropic.enqueue(toolUse, toolUse, text, text);
    const loop = (userId: string) =>
      auditContext.run({ userId }, async () => {
        const settings = { model: audited(logger), prompt: `Weather for ${userId}?`, tools, stopWhen: isStepCount(3) };
        if (kind === "generate") return (await generateText(settings)).steps.length;
        const r = streamText(settings);
        await r.consumeStream();
        return (await r.steps).length;
      });
    expect(await Promise.all([loop("alice"), loop("bob")])).toEqual([2, 2]);
    const recs = await settle(logger, 4);
    expect(recs).toHaveLength(4);
    const byId = new Map(recs.map((r) => [r.id as string, r]));
    for (const user of ["alice", "bob"]) {
      const mine = recs.filter((r) => r.userId === user);
      const [first, second] = [mine.find((r) => r.finishReason === "tool-calls")!, mine.find((r) => r.finishReason === "stop")!];
      expect([first.traceId, first.parentId], user).toEqual([first.id, undefined]);
      expect([second.traceId, second.parentId], user).toEqual([first.id, first.id]);
    }
    for (const r of recs) expect(byId.get(r.traceId as string)?.userId, `trace of ${r.userId as string}'s record`).toBe(r.userId);
    // another logger's step that answers the same tool call id, outside any context, starts its own trace
    fakes.anthropic.enqueue({ kind: "json" });
    const prompt = [
      { role: "user" as const, content: "Weather?" },
      { role: "assistant" as const, content: [{ type: "tool-call" as const, toolCallId: "toolu_01A09q90qw90lq917835lq9", toolName: "get_weather", input: { location: "Paris" } }] },
      { role: "tool" as const, content: [{ type: "tool-result" as const, toolCallId: "toolu_01A09q90qw90lq917835lq9", toolName: "get_weather", output: { type: "json" as const, value: { temperatureC: 18 } } }] },
    ];
    await generateText({ model: audited(other), prompt });
    const [lone] = await settle(other, 1);
    expect([lone!.traceId, lone!.parentId]).toEqual([lone!.id, undefined]);
  });

  it.each(["textStream", "fullStream"] as const)("streamText with stopWhen read via %s: one record per step, each complete, with its own time to first token", async (via) => {
    const logger = newLogger();
    fakes.anthropic.enqueue({ kind: "sse", fixture: "stream-tool-use" }, { kind: "sse" });
    const r = streamText({ model: audited(logger), prompt: "Weather in SF?", tools: weather, stopWhen: isStepCount(3) });
    for await (const _ of r[via]) void _;
    const recs = await settle(logger, 2);
    expect(recs.map((x) => [x.success, x.finishReason, x.responsePreview, aiSdk(x).end])).toEqual([
      [true, "tool-calls", "Let me check the weather.", "completed"],
      [true, "stop", "Hello, world! How can I help?", "completed"],
    ]);
    expect(recs.every((x) => typeof x.timeToFirstTokenSeconds === "number")).toBe(true);
    expect((await promptOf(logger, recs[1]!)).at(-1)).toMatchObject({ role: "tool", content: [{ type: "tool-result", toolCallId: "toolu_01T1x1fJ34qAmk2tNTrN7Up6" }] });
  });
});

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}`;
/** A Messages API stream: a thinking block, then the text "Paris." */
const thinkingStream = [
  sse("message_start", { type: "message_start", message: { id: "msg_think", type: "message", role: "assistant", model: "claude-haiku-4-5-20251001", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } }),
  sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }),
  sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "SECRET-THOUGHT about France." } }),
  sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "sig" } }),
  sse("content_block_stop", { type: "content_block_stop", index: 0 }),
  sse("content_block_start", { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } }),
  sse("content_block_delta", { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "Paris." } }),
  sse("content_block_stop", { type: "content_block_stop", index: 1 }),
  sse("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 40 } }),
  sse("message_stop", { type: "message_stop" }),
];

describe("auditLanguageModelMiddleware: what the response is", () => {
  it("structured output (Output.object): the JSON text the model returned", async () => {
    const logger = newLogger();
    const body = { id: "msg_obj", type: "message", role: "assistant", model: "claude-haiku-4-5-20251001", content: [{ type: "text", text: '{"city":"Paris"}' }], stop_reason: "end_turn", stop_sequence: null, usage: { input_tokens: 5, output_tokens: 6 } };
    fakes.anthropic.enqueue({ kind: "json", body });
    const r = await generateText({ model: audited(logger), prompt: "x", output: Output.object({ schema: z.object({ city: z.string() }) }) });
    expect(r.output).toEqual({ city: "Paris" });
    const [rec] = await settle(logger, 1);
    expect(rec).toMatchObject({ success: true, responsePreview: '{"city":"Paris"}', outputTokens: 6, metadata: { aiSdk: { request: { responseFormat: "json" } } } });
  });

  it("generateObject and streamObject (ai 7 still has them): one record each, the JSON text the model returned; the app gets the object", async () => {
    const logger = newLogger();
    const message = { id: "msg_obj2", type: "message", role: "assistant", model: "claude-haiku-4-5-20251001", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 7, output_tokens: 1 } };
    const body = { ...message, content: [{ type: "text", text: '{"city":"Paris"}' }], stop_reason: "end_turn", usage: { input_tokens: 7, output_tokens: 6 } };
    fakes.anthropic.enqueue({ kind: "json", body }, {
      kind: "sse",
      events: [
        sse("message_start", { type: "message_start", message }),
        sse("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
        sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: '{"city":' } }),
        sse("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: '"Rome"}' } }),
        sse("content_block_stop", { type: "content_block_stop", index: 0 }),
        sse("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 6 } }),
        sse("message_stop", { type: "message_stop" }),
      ],
    });
    const schema = z.object({ city: z.string() });
    const g = await generateObject({ model: audited(logger), prompt: "Capital of France?", schema });
    expect(g.object).toEqual({ city: "Paris" });
    const st = streamObject({ model: audited(logger), prompt: "Capital of Italy?", schema });
    for await (const _ of st.partialObjectStream) void _;
    expect(await st.object).toEqual({ city: "Rome" });
    const recs = await settle(logger, 2);
    expect(recs).toHaveLength(2);
    expect(recs.map((x) => [x.interactionType, x.success, x.responsePreview, x.outputTokens, aiSdk(x).end])).toEqual([
      ["ai-sdk.generate", true, '{"city":"Paris"}', 6, undefined],
      ["ai-sdk.stream", true, '{"city":"Rome"}', 6, "completed"],
    ]);
    expect(recs.map((x) => (aiSdk(x).request as Rec | undefined)?.responseFormat)).toEqual(["json", "json"]);
  });

  it("reasoning (Anthropic thinking asked through providerOptions) is left out of the record; its delta gives the time to first token", async () => {
    const logger = newLogger();
    fakes.anthropic.enqueue({ kind: "sse", events: thinkingStream });
    const r = streamText({ model: audited(logger), prompt: "x", providerOptions: { anthropic: { thinking: { type: "enabled", budgetTokens: 1024 } } } });
    expect(await r.text).toBe("Paris.");
    expect(await r.reasoningText).toBe("SECRET-THOUGHT about France.");
    const [rec] = await settle(logger, 1);
    expect(rec).toMatchObject({ success: true, responsePreview: "Paris.", outputTokens: 40, metadata: { aiSdk: { end: "completed" } } });
    expect(typeof rec!.timeToFirstTokenSeconds).toBe("number");
    expect(JSON.stringify(rec)).not.toContain("SECRET-THOUGHT");
    expect(JSON.stringify(await new AuditViewer(logger).getFullInteractionContent(rec!.id as string))).not.toContain("SECRET-THOUGHT");
  });
});

describe("auditLanguageModelMiddleware: the SDK's retries", () => {
  it.each([true, false])("streamText's retries of a refused request (maxRetries) are linked to the first attempt, as generateText's are (streamText builds the prompt anew for each attempt; captureContent: %s)", async (capture) => {
    const logger = newLogger();
    fakes.anthropic.enqueue({ kind: "error", status: 429 }, { kind: "error", status: 429 });
    const r = streamText({ model: audited(logger, capture), prompt: "x", maxRetries: 2 });
    expect(await r.text).toBe("Hello, world! How can I help?");
    const recs = await settle(logger, 3);
    expect(recs.map((x) => [x.success, x.statusCode])).toEqual([[false, 429], [false, 429], [true, undefined]]);
    expect(aiSdk(recs[0]!)).not.toHaveProperty("attempt");
    expect(recs.slice(1).map(aiSdk)).toEqual([expect.objectContaining({ attempt: 2, retryOf: recs[0]!.id }), expect.objectContaining({ attempt: 3, retryOf: recs[0]!.id })]);
  });

  it.each(["generate", "stream"] as const)("outside any trace a call's retries are in the trace its first attempt started (%s), as are the calls made inside them", async (kind) => {
    const logger = newLogger();
    fakes.anthropic.enqueue({ kind: "error", status: 500 }, { kind: "error", status: 429 });
    const seen: Array<string | undefined> = [];
    const fetchSeeingTrace: typeof fetch = (input, init) => {
      seen.push(auditContext.get()?.traceId);
      return fetch(input, init);
    };
    const model = wrapLanguageModel({ model: createAnthropic({ baseURL: fakes.anthropic.aiSdkBaseURL, apiKey: "test", fetch: fetchSeeingTrace })(MODEL), middleware: auditLanguageModelMiddleware({ logger }) });
    if (kind === "generate") await generateText({ model, prompt: "x", maxRetries: 2 });
    else await streamText({ model, prompt: "x", maxRetries: 2 }).text;
    const recs = await settle(logger, 3);
    expect(recs.map((x) => [x.success, aiSdk(x).attempt])).toEqual([[false, undefined], [false, 2], [true, 3]]);
    expect(recs.map((x) => x.traceId)).toEqual([recs[0]!.id, recs[0]!.id, recs[0]!.id]);
    expect(seen).toEqual([recs[0]!.id, recs[0]!.id, recs[0]!.id]);
  });

  it("a model wrapped twice with the middleware: streamText's retries are linked too (the outer copy passes each attempt on in a context of its own)", async () => {
    const logger = newLogger();
    const twice = wrapLanguageModel({ model: audited(logger), middleware: auditLanguageModelMiddleware({ logger }) });
    for (const ctx of [undefined, { traceId: "trace-2x" }]) {
      fakes.anthropic.enqueue({ kind: "error", status: 429 });
      const run = () => streamText({ model: twice, prompt: "x", maxRetries: 1 }).text;
      expect(await (ctx ? auditContext.run(ctx, run) : run())).toBe("Hello, world! How can I help?");
    }
    const recs = await settle(logger, 4);
    expect(recs.map((x) => [x.success, aiSdk(x).attempt, aiSdk(x).retryOf])).toEqual([
      [false, undefined, undefined],
      [true, 2, recs[0]!.id],
      [false, undefined, undefined],
      [true, 2, recs[2]!.id],
    ]);
    expect(recs.map((x) => x.traceId)).toEqual([recs[0]!.id, recs[0]!.id, "trace-2x", "trace-2x"]);
  });

  it("inside an audit context the retries are linked too, and carry its trace", async () => {
    const logger = newLogger();
    fakes.anthropic.enqueue({ kind: "error", status: 429 });
    const text = await auditContext.run({ traceId: "trace-r", parentId: "req-r" }, () => streamText({ model: audited(logger), prompt: "x", maxRetries: 1 }).text);
    expect(text).toBe("Hello, world! How can I help?");
    const recs = await settle(logger, 2);
    expect(recs.map((x) => [x.success, x.traceId, x.parentId])).toEqual([[false, "trace-r", "req-r"], [true, "trace-r", "req-r"]]);
    expect(aiSdk(recs[1]!)).toMatchObject({ attempt: 2, retryOf: recs[0]!.id });
  });

  it("ai 7's stream retries (streamRetries) after an error part: the failed stream and the retry are one record each, linked", async () => {
    const logger = newLogger();
    fakes.anthropic.enqueue({ kind: "sse", fixture: "stream-error" }, { kind: "sse" });
    const r = streamText({ model: audited(logger), prompt: "x", streamRetries: 1, onError: () => {} });
    expect(await r.text).toBe("Hello, world! How can I help?");
    const recs = await settle(logger, 2);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "Partial ans", metadata: { aiSdk: { end: "error" } } });
    expect(recs[0]!.errorMessage).toContain("Overloaded");
    expect(recs[1]).toMatchObject({ success: true, responsePreview: "Hello, world! How can I help?", metadata: { aiSdk: { attempt: 2, retryOf: recs[0]!.id } } });
  });

  it("a new call with the same prompt is not taken for a retry: from another context, or with another abort signal", async () => {
    const logger = newLogger();
    const model = audited(logger);
    fakes.anthropic.enqueue({ kind: "error", status: 429 });
    await auditContext.run({ traceId: "req-a" }, async () => void (await streamText({ model, prompt: "same", maxRetries: 0, onError: () => {} }).consumeStream()));
    await auditContext.run({ traceId: "req-b" }, async () => void (await streamText({ model, prompt: "same", maxRetries: 0 }).text));
    fakes.anthropic.enqueue({ kind: "error", status: 429 });
    await streamText({ model, prompt: "again", maxRetries: 0, abortSignal: new AbortController().signal, onError: () => {} }).consumeStream();
    await streamText({ model, prompt: "again", maxRetries: 0, abortSignal: new AbortController().signal }).text;
    const recs = await settle(logger, 4);
    expect(recs.map((x) => x.success)).toEqual([false, true, false, true]);
    expect(recs.map((x) => aiSdk(x).attempt)).toEqual([undefined, undefined, undefined, undefined]);
  });
});


describe("auditLanguageModelMiddleware: why a stream was aborted", () => {
  it("ai 7's chunk timeout (timeout: { chunkMs }) is recorded as aborted with the timeout as the reason, not as the app's abort", async () => {
    const logger = newLogger();
    fakes.anthropic.enqueue({ kind: "sse", pauseAfter: 4 });
    const errors: unknown[] = [];
    const r = streamText({ model: audited(logger), prompt: "x", timeout: { chunkMs: 200 }, onError: ({ error }) => void errors.push(error) });
    let text = "";
    for await (const d of r.textStream) text += d;
    expect(text).toBe("Hello");
    const [rec, ...more] = await settle(logger, 1);
    expect(more).toHaveLength(0);
    expect(rec).toMatchObject({ success: false, responsePreview: "Hello", metadata: { aiSdk: { end: "aborted" } } });
    expect(rec!.errorMessage).toBe("aborted (TimeoutError: Chunk timeout of 200ms exceeded): the request was aborted after 5 stream parts");
  });

  it("an abort with a reason of the app's records that reason; a plain abort() records no reason", async () => {
    const logger = newLogger();
    for (const reason of ["the user left", undefined]) {
      fakes.anthropic.enqueue({ kind: "sse", pauseAfter: 4 });
      const ac = new AbortController();
      const r = streamText({ model: audited(logger), prompt: "x", abortSignal: ac.signal, onError: () => {} });
      for await (const _ of r.textStream) ac.abort(reason);
    }
    const recs = await settle(logger, 2);
    expect(recs.map((x) => [x.errorMessage, aiSdk(x).end])).toEqual([
      ["aborted (the user left): the request was aborted after 5 stream parts", "aborted"],
      ["aborted: the request was aborted after 5 stream parts", "aborted"],
    ]);
  });
});

describe("one tool-use reply through wrapAnthropic, the middleware and wrapOpenAI: the records side by side (docs/INTEGRATIONS.md, 'The three integrations' records side by side')", () => {
  it("interactionType, provider, toolCalls and the metadata section are each integration's own, as documented", async () => {
    const logger = newLogger();
    const anthropic = wrapAnthropic(new Anthropic({ apiKey: "test", baseURL: fakes.anthropic.baseURL, maxRetries: 0 }), { logger });
    const openai = wrapOpenAI(new OpenAI({ apiKey: "test", baseURL: fakes.openai.baseURL, maxRetries: 0 }), { logger });
    fakes.anthropic.enqueue({ kind: "json", fixture: "message-tool-use" }, { kind: "json", fixture: "message-tool-use" });
    await anthropic.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: "user", content: "Weather in Paris?" }] });
    await generateText({ model: audited(logger), prompt: "Weather in Paris?", tools: { get_weather: tool({ inputSchema: z.object({ location: z.string(), unit: z.string() }) }) } });
    fakes.openai.enqueue({ fixture: "chat-completion-tools.json" });
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Weather in Paris?" }] });
    const recs = await settle(logger, 3);
    expect(recs.map((r) => [r.interactionType, r.provider, Object.keys(r.metadata as Rec)])).toEqual([
      ["messages", "anthropic", ["anthropic"]],
      ["ai-sdk.generate", "anthropic.messages", ["aiSdk"]],
      ["chat.completions", "openai", ["openai"]],
    ]);
    const input = { location: "Paris, France", unit: "celsius" };
    expect(recs.map((r) => r.toolCalls)).toEqual([
      [{ id: "toolu_01A09q90qw90lq917835lq9", type: "tool_use", name: "get_weather", input }],
      [{ toolCallId: "toolu_01A09q90qw90lq917835lq9", toolName: "get_weather", input }],
      [{ id: "call_Q2dMZ8uGkVBHQnAbB7YcKx4t", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
    ]);
    expect(recs.map((r) => r.finishReason)).toEqual(["tool_use", "tool-calls", "tool_calls"]);
    // the model that answered; the one asked for in metadata; the viewer's filters match exactly
    const answering = recs[0]!.model as string;
    expect(recs.map((r) => [r.model, (Object.values(r.metadata as Rec)[0] as Rec).requestedModel])).toEqual([
      [answering, MODEL],
      [answering, MODEL],
      [expect.stringMatching(/^gpt-4o-mini-\d/), "gpt-4o-mini"],
    ]);
    const viewer = new AuditViewer(logger);
    expect(await viewer.getChatInteractions({ model: MODEL })).toEqual([]);
    expect(await viewer.getChatInteractions({ provider: "anthropic" })).toHaveLength(1);
    expect(await viewer.getChatInteractions({ model: answering })).toHaveLength(2);
  });
});

describe("auditLanguageModelMiddleware: an image in the prompt (docs/INTEGRATIONS.md, AI SDK, 'Files and images')", () => {
  it("given as bytes it is recorded as its size only; given as base64 text (or a data: URL) it is recorded whole; given as a URL, the URL", async () => {
    const logger = newLogger();
    const bytes = new Uint8Array(300).map((_, i) => i % 256);
    const b64 = Buffer.from(bytes).toString("base64");
    for (const image of [bytes, b64, `data:image/png;base64,${b64}`, new URL("https://example.com/cat.png")]) {
      await generateText({ model: audited(logger), messages: [{ role: "user", content: [{ type: "image", image, mediaType: "image/png" }] }] });
    }
    const recs = await settle(logger, 4);
    const data = await Promise.all(recs.map(async (r) => (await promptOf(logger, r))[0]!.content[0]!.data));
    expect(data).toEqual([
      { type: "data", data: "[Binary 300 bytes]" },
      { type: "data", data: b64 },
      { type: "data", data: b64 },
      { type: "url", url: "https://example.com/cat.png" },
    ]);
    // the provider was sent the image itself each time
    expect(fakes.anthropic.requests.slice(-4, -1).every((q) => JSON.stringify(q.body).includes(b64))).toBe(true);
  });
});
