/**
 * The analytics report's cost (found by a new-user review, 2026-12-05): what a price is matched by,
 * which calls are costed, and that a call the report cannot cost is counted, never silently left out.
 */
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { DEFAULT_MODEL_PRICES, priceMatch } from "../../src/reader/analytics.js";
import { AuditViewer } from "../../src/reader/viewer.js";
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
