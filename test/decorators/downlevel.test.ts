/**
 * Decorated methods compiled for older targets (tsc `target: ES2017`, Babel): an `async *` method
 * is then a plain function returning a helper's async generator object, which must be recorded
 * when its consumer is done with it, like a native one. Each case runs in both decorator modes.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";
import { compileFixtures, runNode, type Build, type DecoratorMode } from "./compile.js";

type Rec = Record<string, unknown>;

interface Outcome {
  seen: Record<string, unknown>;
  tools: Rec[];
  chats: Rec[];
  errors: Rec[];
}

const builds: Build[] = [];
const outcomes = new Map<DecoratorMode, Outcome>();

beforeAll(async () => {
  // one after the other: the machine is shared
  for (const mode of ["standard", "legacy"] as const) {
    const build = await compileFixtures(mode, [], { es2017: ["es2017.ts"] });
    builds.push(build);
    const projectPath = tmpProject(`audit-deco-es2017-${mode}-`);
    const { stdout } = await runNode(build.js("es2017"), [projectPath, mode]);
    const file = (stem: string) => path.join(projectPath, "audit_logs", `${stem}_es2017_${mode}.jsonl`);
    outcomes.set(mode, { seen: JSON.parse(stdout) as Record<string, unknown>, tools: readJsonl(file("tool_usage")), chats: readJsonl(file("chat_interactions")), errors: readJsonl(file("errors")) });
  }
}, 240_000);

afterAll(() => {
  for (const b of builds) b.cleanup();
  cleanupTmp();
});

describe.each(["standard", "legacy"] as const)("decorated methods compiled for ES2017 (%s)", (mode) => {
  const get = () => outcomes.get(mode)!;

  it("the caller sees what it would without the decorator", () => {
    const { seen } = get();
    // (the fixture really was lowered: the method is no AsyncGeneratorFunction)
    expect(seen.kind).toBe("[object Function]");
    expect(seen).toMatchObject({ pages: [1, 2], pagesError: "page 3 failed", pagesOk: [1, 2], unstartedReturn: { done: true, value: "early" }, riskyError: "risky failed", streamed: "Hello", counted: [1, 2, 3] });
    expect(seen.events).toEqual([]);
  });

  it("@AuditTool records a lowered async generator when it finishes: its failure mid-stream, its items, a close before it started", () => {
    const pages = get().tools.filter((r) => r.toolName === "pages");
    expect(pages).toMatchObject([
      { success: false, errorMessage: "page 3 failed" },
      { success: true, result: { yielded: 2, returned: "all pages" } },
      { success: false, errorMessage: expect.stringMatching(/^aborted/) },
    ]);
    // recorded at the end, not at the call (the body waits 30 ms before its first item)
    expect(pages[0]!.durationSeconds as number).toBeGreaterThanOrEqual(0.025);
  });

  it("@AuditErrors records a lowered async generator's error; @AuditChat its streamed response", () => {
    expect(get().errors).toMatchObject([{ message: "risky failed", context: { method: "Feed.risky" } }]);
    expect(get().chats).toMatchObject([{ model: "m-es2017", promptPreview: "hi", responsePreview: "Hello", success: true }]);
  });

  it("a plain method returning a generator object is recorded when it is consumed", () => {
    expect(get().tools.filter((r) => r.toolName === "counter")).toMatchObject([{ parameters: [3], success: true, result: { yielded: 3, returned: "counted" } }]);
  });

  it("an iterator-shaped object that is no generator (a pushable queue, a cursor class) is returned as it is and recorded at return", () => {
    const { seen, tools } = get();
    expect(seen).toMatchObject({ pushed: ["q1", "q2"], cursorIsCursor: true, cursor: [0, 1] });
    expect(tools.filter((r) => r.toolName === "pushable" || r.toolName === "cursor")).toMatchObject([
      { toolName: "pushable", success: true },
      { toolName: "cursor", success: true },
    ]);
  });

  it("a Readable, or an async iterable without next/return/throw, is returned as it is and recorded at return", () => {
    const { seen, tools } = get();
    expect(seen).toMatchObject({ readableIsReadable: true, readable: ["a", "b"], iterableKeys: 0, iterable: "x" });
    expect(tools.filter((r) => r.toolName === "readable" || r.toolName === "iterable")).toMatchObject([
      { toolName: "readable", success: true },
      { toolName: "iterable", success: true },
    ]);
  });
});
