/**
 * What `audit-logger report` and `summary` say about cost and tokens, through the real command
 * (found by a new-user review, 2026-12-05: cost understated with no word of it, unknown token
 * splits printed as zeros).
 */
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterAll(cleanupTmp);

const M = 1_000_000;

/** A finalized session logged by `log`; returns its project directory. */
async function session(log: (logger: AuditLogger) => void): Promise<string> {
  const projectPath = tmpProject("audit-cli-cost-");
  const logger = new AuditLogger({ sessionId: "cost", projectPath, fullContentLogging: false });
  log(logger);
  await logger.finalizeSession();
  return projectPath;
}

const line = (stdout: string, label: string) => stdout.split("\n").find((l) => l.startsWith(`  ${label.padEnd(10)} `));

/** The stdout of `audit-logger <command> <dir> ...`, which must exit 0. */
async function run(command: "report" | "summary", dir: string, ...more: string[]): Promise<string> {
  const r = await runCli([command, dir, ...more]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe("audit-logger report: prices", () => {
  it("names the models priced as a listed model they are a snapshot of, and prices a variant as itself", async () => {
    const dir = await session((l) => {
      for (const model of ["gpt-4o-2024-08-06", "o3-pro-2025-06-10", "gpt-4o"]) l.logChatInteraction({ prompt: "x", model, inputTokens: M, outputTokens: 0 });
    });
    const out = await run("report", dir);
    expect(line(out, "prices")).toBe("  prices     gpt-4o-2024-08-06 as gpt-4o, o3-pro-2025-06-10 as o3-pro");
    // 2.5 + 2.5 + 20 (o3-pro's list price; o3's $2 until 2026-12-05)
    expect(line(out, "cost")).toBe("  cost       $25.0000");
  });
});

describe("audit-logger report: prompt-cache tokens", () => {
  it("are in the cost and on the tokens line (200k cached tokens read added nothing)", async () => {
    const usage = { input_tokens: 10, cache_creation_input_tokens: 1_000, cache_read_input_tokens: 200_000, output_tokens: 10 };
    const dir = await session((l) => l.logChatInteraction({ prompt: "x", model: "claude-sonnet-4-5-20250929", inputTokens: 10, outputTokens: 10, usage }));
    const out = await run("report", dir);
    expect(line(out, "tokens")).toBe("  tokens     20 (input 10, output 10, cache read 200,000, cache write 1,000)");
    // (10·3 + 10·15 + 200,000·0.3 + 1,000·3.75) / 1e6
    expect(line(out, "cost")).toBe("  cost       $0.0639");
  });
});

describe("audit-logger report: calls the cost leaves out", () => {
  it("says beside the cost how many calls of priced models gave no token counts, and from which models; and which unpriced models' calls gave none", async () => {
    const dir = await session((l) => {
      l.logChatInteraction({ prompt: "x", model: "gpt-4o", inputTokens: M, outputTokens: 0 });
      for (let i = 0; i < 9; i++) l.logChatInteraction({ prompt: "x", model: "gpt-4o" });
      l.logChatInteraction({ prompt: "x", model: "my-local-model" });
    });
    const out = await run("report", dir);
    expect(line(out, "cost")).toBe("  cost       $2.5000 (9 calls not costed: no token counts from gpt-4o) (no price for my-local-model (1 call without token counts): not included; see --prices)");
    const json = JSON.parse(await run("report", dir, "--json")) as { totals: Record<string, unknown> };
    expect(json.totals).toMatchObject({ callsWithoutTokens: 10, uncostedCalls: 9 });
  });

  it("names each model with its count when there are several", async () => {
    const dir = await session((l) => {
      for (let i = 0; i < 2; i++) l.logChatInteraction({ prompt: "x", model: "gpt-4o" });
      l.logChatInteraction({ prompt: "x", model: "o3", tokensUsed: 45 });
      l.logChatInteraction({ prompt: "x", model: "o3" });
    });
    const out = await run("report", dir);
    expect(line(out, "cost")).toBe("  cost       $0.0000 (3 calls not costed: no token counts from gpt-4o 2, o3 1) (1 call's tokens not costed: no input/output split)");
  });
});

describe("audit-logger summary and report: the tokens line", () => {
  it("with only tokensUsed (the README's quick start) says the split was not given, not 'input 0, output 0'", async () => {
    const dir = await session((l) => l.logChatInteraction({ prompt: "Where is my order?", response: "It ships tomorrow.", model: "claude-3", tokensUsed: 45 }));
    expect(line(await run("summary", dir), "tokens")).toBe("  tokens     45 (input/output not given for 1 call)");
    const report = await run("report", dir);
    expect(line(report, "tokens")).toBe("  tokens     45 (input/output not given for 1 call)");
    // the models table too: "-" where the split is unknown
    expect(report.split("\n").find((l) => l.startsWith("  claude-3 "))!.trim().split(/\s{2,}/).slice(3, 6)).toEqual(["-", "-", "45"]);
    const json = JSON.parse(await run("summary", dir, "--json")) as Array<{ tokens: Record<string, number> }>;
    expect(json[0]!.tokens).toEqual({ total: 45, input: 0, output: 0, callsWithoutTokenSplit: 1, callsWithoutTokens: 0 });
  });

  it("with some calls split, some not, and some without counts, says each", async () => {
    const dir = await session((l) => {
      l.logChatInteraction({ prompt: "x", model: "gpt-4o", inputTokens: 1_000, outputTokens: 200 });
      l.logChatInteraction({ prompt: "x", model: "gpt-4o", tokensUsed: 45 });
      for (let i = 0; i < 2; i++) l.logChatInteraction({ prompt: "x", model: "gpt-4o" });
      l.logChatInteraction({ prompt: "x", model: "gpt-4o", success: false, errorMessage: "429" });
    });
    const expected = "  tokens     1,245 (input 1,000, output 200; input/output not given for 1 call; no token counts for 2 calls)";
    expect(line(await run("summary", dir), "tokens")).toBe(expected);
    expect(line(await run("report", dir), "tokens")).toBe(expected);
    // every call split: as before
    const split = await session((l) => l.logChatInteraction({ prompt: "x", model: "gpt-4o", inputTokens: 3, outputTokens: 4 }));
    expect(line(await run("summary", split), "tokens")).toBe("  tokens     7 (input 3, output 4)");
  });
});
