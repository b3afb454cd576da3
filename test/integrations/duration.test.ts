// A call's duration is the call's, not the app's: a non-streamed call whose promise the app awaits
// only later (start the request, do other work, then await) lasted until its response was read,
// not until the app asked for it (it was recorded as lasting until the await; found by review,
// 2026-12-04). A call awaited at once still lasts until its body is parsed.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { fakeProviders } from "../helpers/fake-providers.js";
import { loggerFactory } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

const fakes = fakeProviders();
const newLogger = loggerFactory("duration");
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const messages = [{ role: "user" as const, content: "hi" }];

async function untilAnswered(requests: () => number, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (requests() < n && Date.now() < deadline) await sleep(2);
  await sleep(50); // the response is on its way back
}

describe("the duration of a non-streamed call awaited late", () => {
  it("is the call's own time (OpenAI chat and responses, Anthropic): the app's wait before its await is not in it", async () => {
    const logger = newLogger();
    const oa = wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-test", maxRetries: 0 }), { logger });
    const an = wrapAnthropic(new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: "sk-ant-test", maxRetries: 0 }), { logger });
    const late = 800;
    const calls: Array<[string, () => PromiseLike<unknown>, () => number]> = [
      ["openai chat", () => oa.chat.completions.create({ model: "gpt-4o-mini", messages }), () => fakes.openai.requests.length],
      ["openai responses", () => oa.responses.create({ model: "gpt-4o-mini", input: "hi" }), () => fakes.openai.requests.length],
      ["anthropic", () => an.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages }), () => fakes.anthropic.requests.length],
    ];
    // each call's time up to its answer (the server had it, and 50 ms), as the test saw it: the
    // call's own duration is that and the reading of the response, which the event loop, free
    // while the app waits, does at once; with the wait in it, it is `late` more (not a fixed
    // 0.6 s: on a loaded machine the request alone can take that)
    const answered: number[] = [];
    for (const [, start, requests] of calls) {
      const before = requests();
      const t0 = performance.now();
      const pending = start();
      await untilAnswered(requests, before + 1);
      answered.push(performance.now() - t0);
      await sleep(late);
      await pending;
      expect(performance.now() - t0).toBeGreaterThan(late);
    }
    const recs = await recordsOf(logger, "chat_interaction", calls.length);
    expect(recs).toHaveLength(calls.length);
    recs.forEach((rec, i) => {
      expect(rec.success).toBe(true);
      expect(rec.durationSeconds as number).toBeGreaterThan(0);
      expect(rec.durationSeconds as number, calls[i]![0]).toBeLessThan((answered[i]! + late / 2) / 1000);
    });
  });
});

describe("a stream whose promise the app awaits late", () => {
  it("has the app's wait before its await left out of its duration and its time to first token (OpenAI chat, Anthropic)", async () => {
    const logger = newLogger();
    const oa = wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-test", maxRetries: 0 }), { logger });
    const an = wrapAnthropic(new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: "sk-ant-test", maxRetries: 0 }), { logger });
    const late = 800;
    const drain = async (s: AsyncIterable<unknown>) => {
      for await (const _ of s);
    };
    const calls: Array<[() => PromiseLike<AsyncIterable<unknown>>, () => number]> = [
      [() => oa.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }), () => fakes.openai.requests.length],
      [() => an.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages, stream: true }), () => fakes.anthropic.requests.length],
    ];
    // the time the test saw up to each answer, and its draining after the await: the call's own
    // time is within those (and a reading of the response the free event loop does at once); with
    // the wait in it, it is `late` more (see above)
    const own: number[] = [];
    for (const [start, requests] of calls) {
      const before = requests();
      const t0 = performance.now();
      const pending = start();
      await untilAnswered(requests, before + 1);
      const answered = performance.now() - t0;
      await sleep(late);
      const t1 = performance.now();
      await drain(await pending);
      own.push(answered + (performance.now() - t1));
    }
    const recs = await recordsOf(logger, "chat_interaction", calls.length);
    expect(recs).toHaveLength(calls.length);
    recs.forEach((rec, i) => {
      expect(rec.success).toBe(true);
      expect(rec.timeToFirstTokenSeconds as number).toBeLessThan((own[i]! + late / 2) / 1000);
      expect(rec.durationSeconds as number).toBeLessThan((own[i]! + late / 2) / 1000);
      expect(rec.timeToFirstTokenSeconds as number).toBeLessThanOrEqual(rec.durationSeconds as number);
    });
  });
});
