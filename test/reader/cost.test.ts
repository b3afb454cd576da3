/**
 * The analytics report's cost (found by a new-user review, 2026-12-05): what a price is matched by,
 * which calls are costed, and that a call the report cannot cost is counted, never silently left out.
 */
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { wrapOpenAI } from "../../integrations/openai.js";
import { AuditLogger } from "../../src/index.js";
import { DEFAULT_MODEL_PRICES, priceMatch } from "../../src/reader/analytics.js";
import { AuditViewer } from "../../src/reader/viewer.js";
import { fakeOpenAIFetch } from "../helpers/fake-openai.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterAll(cleanupTmp);

const M = 1_000_000;

async function reportOf(log: (logger: AuditLogger) => void, prices?: Parameters<AuditViewer["generateAnalyticsReport"]>[0]) {
  const logger = new AuditLogger({ sessionId: "cost", projectPath: tmpProject("audit-cost-"), fullContentLogging: false });
  log(logger);
  await logger.finalizeSession();
  return new AuditViewer({ auditPath: logger.auditDir }).generateAnalyticsReport(prices);
}

describe("prices by model name", () => {
  it("price o3-pro, o1-pro and gpt-4.5-preview at their list prices, not at o3's, o1's and gpt-4's (a tenth, a tenth and under half of them)", async () => {
    const models = ["o3-pro-2025-06-10", "o1-pro", "gpt-4.5-preview", "gpt-4o-mini-2024-07-18", "claude-opus-4-1-20250805"];
    const r = await reportOf((l) => {
      for (const model of models) l.logChatInteraction({ prompt: "x", model, inputTokens: M, outputTokens: M });
    });
    const cost = Object.fromEntries(models.map((m) => [m, [r.models[m]!.costUsd, r.models[m]!.pricedAs]]));
    expect(cost).toEqual({
      "o3-pro-2025-06-10": [100, "o3-pro"],
      "o1-pro": [750, "o1-pro"],
      "gpt-4.5-preview": [225, "gpt-4.5-preview"],
      "gpt-4o-mini-2024-07-18": [0.75, "gpt-4o-mini"],
      "claude-opus-4-1-20250805": [90, "claude-opus-4-1"],
    });
    expect(r.totals.unpricedModels).toEqual([]);
  });

  it("never price a variant as its base: a name is matched only when what follows it is a snapshot date or alias", () => {
    const p = (m: string) => priceMatch(m, DEFAULT_MODEL_PRICES)?.name;
    // snapshots and aliases of a listed model
    expect(p("gpt-4o-2024-08-06")).toBe("gpt-4o");
    expect(p("gpt-4-0613")).toBe("gpt-4");
    expect(p("o3-2025-04-16")).toBe("o3");
    expect(p("claude-sonnet-4-20250514")).toBe("claude-sonnet-4");
    expect(p("claude-sonnet-4@20250514")).toBe("claude-sonnet-4");
    expect(p("claude-sonnet-4-0")).toBe("claude-sonnet-4");
    expect(p("claude-3-5-sonnet-latest")).toBe("claude-3-5-sonnet");
    expect(p("gemini-1.5-pro-002")).toBe("gemini-1.5-pro");
    expect(p("gpt-5-pro-2025-10-06")).toBe("gpt-5-pro");
    // a snapshot with its own price is listed apart
    expect(p("gpt-4o-2024-05-13")).toBe("gpt-4o-2024-05-13");
    // variants of a listed model that are not listed themselves: no price rather than a wrong one
    for (const variant of ["gpt-4o-audio-preview", "gpt-4-1106-preview", "gpt-4o-mini-search-preview", "o3-deep-research", "o4-mini-deep-research", "gemini-2.0-flash-lite", "gemini-1.5-flash-8b", "gpt-5.2", "claude-opus-4-7", "gpt-4.1-2025-04-14-ft"]) {
      expect([variant, p(variant)]).toEqual([variant, undefined]);
    }
  });

  it("a name of one's own table follows the same rule; one ending in * matches every model that starts with the rest", async () => {
    const r = await reportOf(
      (l) => {
        for (const model of ["my-model", "my-model-2025-01-01", "my-model-large", "llama3.1:8b"]) l.logChatInteraction({ prompt: "x", model, inputTokens: M, outputTokens: 0 });
      },
      { prices: { "my-model": { inputPerMTok: 1, outputPerMTok: 1 }, "llama*": { inputPerMTok: 0.5, outputPerMTok: 0 } } },
    );
    expect(r.models["my-model"]!.costUsd).toBe(1);
    expect(r.models["my-model-2025-01-01"]!.pricedAs).toBe("my-model");
    expect(r.models["my-model-large"]!.costUsd).toBeNull();
    expect(r.models["llama3.1:8b"]).toMatchObject({ costUsd: 0.5, pricedAs: "llama*" });
    expect(r.totals.unpricedModels).toEqual(["my-model-large"]);
  });
});

describe("prompt-cache tokens", () => {
  // as the Anthropic wrapper records a call: Anthropic's usage, its input_tokens as inputTokens
  const anthropicCall = (usage: Record<string, unknown>) => ({
    prompt: "long cached context",
    model: "claude-sonnet-4-5-20250929",
    inputTokens: usage.input_tokens as number,
    outputTokens: usage.output_tokens as number,
    usage,
  });

  it("are priced as Anthropic bills them: reads at 0.1x the input price, 5-minute writes at 1.25x, 1-hour writes at 2x (200k cached tokens read added nothing)", async () => {
    const r = await reportOf((l) => {
      l.logChatInteraction(anthropicCall({ input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 200_000, output_tokens: 10 }));
      l.logChatInteraction(anthropicCall({ input_tokens: 10, cache_creation_input_tokens: 4_000, cache_read_input_tokens: 0, output_tokens: 10 }));
      l.logChatInteraction(
        anthropicCall({ input_tokens: 10, cache_creation_input_tokens: 3_000, cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 2_000 }, cache_read_input_tokens: 0, output_tokens: 10 }),
      );
    });
    const m = r.models["claude-sonnet-4-5-20250929"]!;
    // $3 / $15 per million: 30 input and 30 output tokens, 200k read at $0.30, 4k + 1k written at $3.75, 2k at $6
    const expected = (30 * 3 + 30 * 15 + 200_000 * 0.3 + 5_000 * 3.75 + 2_000 * 6) / 1e6;
    expect(m.costUsd).toBeCloseTo(expected, 12);
    expect(r.totals.costUsd).toBeCloseTo(expected, 12);
    expect([m.inputTokens, m.cacheReadTokens, m.cacheWriteTokens]).toEqual([30, 200_000, 7_000]);
    expect([r.totals.cacheReadTokens, r.totals.cacheWriteTokens]).toEqual([200_000, 7_000]);
  });

  it("counted in inputTokens (the AI SDK's inputTokens.total) are priced once, at their cache price", async () => {
    const raw = { input_tokens: 10, cache_creation_input_tokens: 1_000, cache_read_input_tokens: 200_000, output_tokens: 10 };
    const r = await reportOf((l) => l.logChatInteraction({ prompt: "x", model: "claude-sonnet-4-5", inputTokens: 201_010, outputTokens: 10, usage: raw }));
    expect(r.models["claude-sonnet-4-5"]!.costUsd).toBeCloseTo((10 * 3 + 10 * 15 + 200_000 * 0.3 + 1_000 * 3.75) / 1e6, 12);
  });

  it("OpenAI's cached prompt tokens stay inside prompt_tokens at the full input price", async () => {
    const usage = { prompt_tokens: 1_000, completion_tokens: 100, total_tokens: 1_100, prompt_tokens_details: { cached_tokens: 800 } };
    const r = await reportOf((l) => l.logChatInteraction({ prompt: "x", model: "gpt-4o", inputTokens: 1_000, outputTokens: 100, usage }));
    expect(r.models["gpt-4o"]!.costUsd).toBeCloseTo((1_000 * 2.5 + 100 * 10) / 1e6, 12);
    expect(r.models["gpt-4o"]!.cacheReadTokens).toBe(0);
  });
});

describe("calls without token counts", () => {
  it("are counted, per model and in the totals: an OpenAI stream wrapped without include_usage gives none", async () => {
    const logger = new AuditLogger({ sessionId: "streams", projectPath: tmpProject("audit-cost-"), fullContentLogging: false });
    const openai = wrapOpenAI(new OpenAI({ apiKey: "sk-test", baseURL: "http://fake.invalid/v1", fetch: fakeOpenAIFetch(), maxRetries: 0 }), { logger });
    const messages = [{ role: "user" as const, content: "hi" }];
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
    for (let i = 0; i < 3; i++) for await (const _ of await openai.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }));
    await logger.finalizeSession();
    const r = await new AuditViewer({ auditPath: logger.auditDir }).generateAnalyticsReport();
    const m = r.models["gpt-4o-mini-2024-07-18"]!;
    expect([m.calls, m.callsWithoutTokens, m.callsWithoutTokenSplit]).toEqual([4, 3, 0]);
    expect(m.costUsd).toBeGreaterThan(0);
    expect(r.totals).toMatchObject({ callsWithoutTokens: 3, callsWithoutTokenSplit: 0, uncostedCalls: 3 });
  });

  it("of unpriced models too; calls with only tokensUsed count apart; a failed call without tokens is not counted (a rejected request is not billed)", async () => {
    const r = await reportOf((l) => {
      l.logChatInteraction({ prompt: "x", model: "gpt-4o", inputTokens: M, outputTokens: 0 });
      l.logChatInteraction({ prompt: "x", model: "gpt-4o" });
      l.logChatInteraction({ prompt: "x", model: "gpt-4o", tokensUsed: 45 });
      l.logChatInteraction({ prompt: "x", model: "gpt-4o", success: false, errorMessage: "429 rate limited" });
      l.logChatInteraction({ prompt: "x", model: "my-local-model" });
      l.logChatInteraction({ prompt: "x", model: "my-local-model" });
    });
    expect(r.models["gpt-4o"]).toMatchObject({ calls: 4, callsWithoutTokens: 1, callsWithoutTokenSplit: 1, costUsd: 2.5 });
    expect(r.models["my-local-model"]).toMatchObject({ calls: 2, callsWithoutTokens: 2, costUsd: null });
    expect(r.totals).toMatchObject({ callsWithoutTokens: 3, callsWithoutTokenSplit: 1, uncostedCalls: 2, unpricedModels: ["my-local-model"] });
  });
});

describe("the session summary's tokens", () => {
  it("count the calls without a split and without counts, as finalizeSession() writes it and as the viewer reads it back", async () => {
    const logger = new AuditLogger({ sessionId: "tok", projectPath: tmpProject("audit-cost-"), fullContentLogging: false });
    logger.logChatInteraction({ prompt: "x", model: "claude-3", tokensUsed: 45 });
    logger.logChatInteraction({ prompt: "x", model: "gpt-4o" });
    logger.logChatInteraction({ prompt: "x", model: "gpt-4o", inputTokens: 3, outputTokens: 4 });
    const summary = await logger.finalizeSession();
    expect(summary.tokens).toEqual({ total: 52, input: 3, output: 4, callsWithoutTokenSplit: 1, callsWithoutTokens: 1 });
    expect((await new AuditViewer({ auditPath: logger.auditDir }).getSessionSummary("tok"))!.tokens).toEqual(summary.tokens);
  });
});
