import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditLog } from "../../src/reader/verify.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";
import { compileFixtures, runNode, type Build, type DecoratorMode } from "./compile.js";

type Rec = Record<string, unknown>;

const KINDS = ["tool_usage", "chat_interactions", "persona_activities", "performance_metrics", "errors"] as const;

interface Outcome {
  seen: Record<string, unknown>;
  records: Record<(typeof KINDS)[number], Rec[]>;
  auditDir: string;
}

const builds: Build[] = [];
const outcomes = new Map<DecoratorMode, Outcome>();

async function buildAndRun(mode: DecoratorMode): Promise<Outcome> {
  const build = await compileFixtures(mode, mode === "standard" ? ["run.ts", "private-std.ts"] : ["run.ts"]);
  builds.push(build);
  const projectPath = tmpProject(`audit-deco-${mode}-`);
  const { stdout, stderr } = await runNode(build.js("run"), [projectPath, mode]);
  const auditDir = path.join(projectPath, "audit_logs");
  const records = {} as Outcome["records"];
  for (const kind of KINDS) records[kind] = readJsonl(path.join(auditDir, `${kind}_deco_${mode}.jsonl`));
  // the one unrecorded call (before any logger existed) warned once
  expect(stderr.match(/AUDIT_WARN_NO_LOGGER/g) ?? []).toHaveLength(1);
  return { seen: JSON.parse(stdout) as Record<string, unknown>, records, auditDir };
}

beforeAll(async () => {
  // one after the other: the machine is shared
  outcomes.set("standard", await buildAndRun("standard"));
  outcomes.set("legacy", await buildAndRun("legacy"));
}, 180_000);

afterAll(() => {
  for (const b of builds) b.cleanup();
  cleanupTmp();
});

/** Records with volatile members removed and parent ids replaced by the parent's description. */
function normalize(o: Outcome): Rec[] {
  const all = KINDS.flatMap((k) => o.records[k]);
  const byId = new Map(all.map((r) => [r.id as string, r]));
  const describe = (r: Rec | undefined) => (r ? `${r.type as string}:${(r.toolName ?? r.personaName ?? r.model ?? r.metricName ?? r.errorType) as string}` : "missing");
  return all.map((r) => {
    const { id, timestamp, hash, prevHash, sessionId, traceId, parentId, durationSeconds, timeToFirstTokenSeconds, stackTrace, value, fullContent, ...rest } = r;
    void timestamp, hash, prevHash, sessionId, durationSeconds, timeToFirstTokenSeconds, stackTrace, value, fullContent;
    return {
      ...rest,
      parent: parentId === undefined ? null : describe(byId.get(parentId as string)),
      trace: traceId === undefined ? null : traceId === id ? "own id" : byId.has(traceId as string) ? describe(byId.get(traceId as string)) : traceId,
    };
  });
}

describe.each(["standard", "legacy"] as const)("decorators compiled by tsc (%s)", (mode) => {
  const get = () => outcomes.get(mode)!;

  it("keeps the caller's view of every method unchanged", () => {
    const { seen } = get();
    expect(seen.unrecorded).toBe(42);
    expect(seen.syncStaysSync).toBe(true);
    expect(seen.names).toEqual(["add", 2, "getForecast", 2, "version", 1]);
    expect(seen.kinds).toEqual(["AsyncFunction", "GeneratorFunction", "AsyncGeneratorFunction"]);
    expect(seen.thisKept).toBe(true);
    expect(seen.syncError).toBe(true);
    expect(seen.plan).toBe("plan trip -> 21C");
    expect(seen.rank).toEqual([1, 2, 3]);
    expect(seen.asyncError).toBe("same error");
    expect(seen.generatorTag).toBe("[object Generator]");
    expect(seen.counted).toEqual([1, 2, 3]);
    expect(seen.early).toEqual([1, 2]);
    expect(seen.streamed).toBe("Re: weather?. Sunny");
    expect(seen.streamBroken).toBe("Re: rain?. ");
    expect(seen.streamError).toBe("stream broke after 1");
    expect(seen.metadata).toEqual(["/below", "/above", "below", "above"]);
    expect(seen.staticCall).toBe("v1.0");
    if (mode === "legacy") expect(seen.paramtypes).toEqual(["String", "Number"]);
    if (mode === "standard") expect(seen.private).toEqual(["vault:1234", "sealed"]);
  });

  it("records tool calls: sync, async, failing, generators, static", () => {
    const tools = get().records.tool_usage;
    const of = (name: string) => tools.filter((r) => r.toolName === name);
    expect(of("math")).toMatchObject([{ operation: "add", parameters: [1, 2], result: 3, success: true }]);
    expect(of("broken_tool")).toMatchObject([{ operation: "broken", parameters: ["xml"], success: false, errorMessage: "cannot handle xml" }]);
    expect(of("broken_tool")[0]).not.toHaveProperty("result");
    expect(of("weather_api")).toMatchObject([
      { operation: "getForecast", parameters: ["Oslo", 3], result: { location: "Oslo", days: 3, temp: "21C" }, success: true },
      { operation: "getForecast", parameters: ["Paris", 2], success: true, userId: "alice", persona: "planner", metadata: { tenant: "acme" } },
    ]);
    expect(of("counter")).toMatchObject([
      { parameters: [3], result: { yielded: 3, returned: "done" }, success: true },
      { parameters: [5], success: false, errorMessage: expect.stringMatching(/^aborted/) },
    ]);
    expect(of("failing_stream")).toMatchObject([{ success: false, errorMessage: "stream broke" }]);
    expect(of("versions")).toMatchObject([{ operation: "version", parameters: ["v"], result: "v1.0" }]);
    expect(get().seen.generic).toEqual([20, 7, "7", "k"]);
    expect(of("generic")).toMatchObject([{ operation: "pick", parameters: [[10, 20], 1], result: 20 }]);
    expect(of("overloaded").map((r) => r.result)).toEqual([7, "7"]);
    expect(of("generic_async")).toMatchObject([{ operation: "echo", result: "k" }]);
    if (mode === "standard") {
      expect(of("vault")).toMatchObject([
        { operation: "#open", result: "vault:1234" },
        { operation: "#seal", result: "sealed" },
      ]);
    }
    for (const r of tools) expect(typeof r.durationSeconds).toBe("number");
  });

  it("links nested calls: tool inside chat inside persona, one trace from the context", () => {
    const { records } = get();
    const persona = records.persona_activities.find((r) => r.personaName === "planner")!;
    const chat = records.chat_interactions.find((r) => r.model === "claude-3")!;
    const tool = records.tool_usage.find((r) => r.toolName === "weather_api" && r.userId === "alice")!;
    expect(persona).toMatchObject({ activityType: "plan", success: true, traceId: "trace-plan", userId: "alice", details: { method: "WeatherService.plan" } });
    expect(persona).not.toHaveProperty("parentId");
    expect(chat).toMatchObject({ parentId: persona.id, traceId: "trace-plan", persona: "planner", promptPreview: "plan trip", responsePreview: "plan trip -> 21C" });
    expect(chat).toMatchObject({ inputTokens: 10, outputTokens: 5, tokensUsed: 15, metadata: { tenant: "acme", auditChat: { method: "WeatherService.ask" } } });
    expect(tool.parentId).toBe(chat.id);
    expect(tool.traceId).toBe("trace-plan");
    // a call outside any trace starts one, named by its own record id
    const math = records.tool_usage.find((r) => r.toolName === "math")!;
    expect(math.traceId).toBe(math.id);
    expect(math).not.toHaveProperty("parentId");
  });

  it("records a streamed chat, a metric and a rethrown error", () => {
    const { records } = get();
    const streams = records.chat_interactions.filter((r) => r.model === "stream-model");
    expect(streams).toHaveLength(2);
    const stream = streams.find((r) => r.promptPreview === "weather?")!;
    expect(stream).toMatchObject({ promptPreview: "weather?", responsePreview: "Re: weather?. Sunny", success: true });
    // left with `break` after its first item: aborted, with the text it yielded
    expect(streams.find((r) => r.promptPreview === "rain?")).toMatchObject({ success: false, errorMessage: expect.stringMatching(/^aborted/) as string, responsePreview: "Re: rain?. " });
    expect(typeof stream.timeToFirstTokenSeconds).toBe("number");
    expect(records.performance_metrics).toMatchObject([{ metricName: "rank_ms", unit: "ms", context: { method: "WeatherService.rank", outcome: "ok" } }]);
    expect(records.performance_metrics[0]!.value as number).toBeGreaterThanOrEqual(0);
    expect(records.errors).toMatchObject([{ errorType: "RangeError", message: "out of range", severity: "error", context: { method: "WeatherService.risky", code: "E_RANGE" } }]);
    expect(records.errors[0]!.stackTrace as string).toContain("RangeError: out of range");
  });

  it("writes a chain the verifier accepts", async () => {
    const report = await verifyAuditLog(get().auditDir);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });
});

describe("both decorator modes", () => {
  it("record the same things", () => {
    const std = normalize(outcomes.get("standard")!).filter((r) => r.toolName !== "vault");
    const legacy = normalize(outcomes.get("legacy")!);
    expect(legacy).toEqual(std);
    expect(std.length).toBeGreaterThanOrEqual(15);
  });

  it("emit real decorator code, not a no-op", () => {
    const std = fs.readFileSync(builds[0]!.js("service"), "utf8");
    const legacy = fs.readFileSync(builds[1]!.js("service"), "utf8");
    expect(std).toContain("__esDecorate");
    expect(legacy).toContain("__decorate");
    expect(legacy).toContain('__metadata("design:paramtypes"');
  });
});
