import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditValidationError } from "../../src/index.js";
import { fastChatInput, fastToolInput } from "../../src/record/fast-input.js";
import { chatInteractionInputSchema, toolUsageInputSchema } from "../../src/record/schemas.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { readKind } from "../helpers/core.js";
import { rng } from "../reader/fixture.js";

afterEach(cleanupTmp);

type Obj = Record<string, unknown>;

const holey = [1, , 3]; // eslint-disable-line no-sparse-arrays
// every value class the schema distinguishes, valid and invalid for some field
const VALUES: unknown[] = [
  undefined,
  null,
  "",
  "x",
  "a".repeat(64),
  "a".repeat(65),
  "a".repeat(128),
  "a".repeat(129),
  "a".repeat(256),
  "a".repeat(257),
  "bad id!",
  "01M8T343ZWB0KDBCF2Z1T8GKAM",
  0,
  -0,
  1,
  -1,
  1.5,
  999,
  1000,
  2 ** 53 - 1,
  2 ** 53,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  false,
  [],
  [{ role: "user", content: "hi" }],
  holey,
  {},
  { a: 1 },
  Object.create(null) as Obj,
  new Map([["a", 1]]),
  new Date(0),
  10n,
  Symbol("s"),
  () => 1,
];
const KEYS = Object.keys(chatInteractionInputSchema.shape);

function dropUndefined(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

type Outcome = "fast" | "schema-only" | "rejected";

/** Fast path and schema agree: whatever the fast path accepts, the schema accepts with the same value. */
function agree(input: unknown): Outcome {
  return agreeWith(fastChatInput, chatInteractionInputSchema, input);
}

function agreeWith(fastPath: (input: unknown) => unknown, schema: { safeParse(input: unknown): { success: boolean; data?: unknown; error?: unknown } }, input: unknown): Outcome {
  const fast = fastPath(input);
  const z = schema.safeParse(input);
  if (fast === undefined) return z.success ? "schema-only" : "rejected";
  expect(z.success, `fast path accepted what the schema refuses: ${String(z.error)}`).toBe(true);
  expect(fast).toStrictEqual(dropUndefined(z.data as Obj));
  return "fast";
}

describe("fastChatInput (the zod schema's fast path)", () => {
  it("accepts exactly what the schema accepts, with the same value, over 30,000 generated inputs", () => {
    const next = rng(20261202);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const seen = { fast: 0, "schema-only": 0, rejected: 0 };
    for (let i = 0; i < 30_000; i++) {
      const input: Obj = {};
      // mostly valid-looking records, so both paths get exercised
      input.prompt = next() < 0.85 ? pick(["Hi", [{ role: "user", content: "Hi" }]]) : pick(VALUES);
      const n = Math.floor(next() * 6);
      for (let j = 0; j < n; j++) input[pick(KEYS)] = pick(VALUES);
      if (next() < 0.03) input[pick(["foo", "__proto__x", "Model"])] = 1;
      seen[agree(input)]++;
    }
    // both outcomes happen: the test is not vacuous
    expect(seen.fast).toBeGreaterThan(3000);
    expect(seen.rejected).toBeGreaterThan(3000);
  });

  it("takes every value class for every field, one at a time", () => {
    for (const key of KEYS) for (const value of VALUES) agree({ prompt: "p", [key]: value });
  });

  it("takes the inputs the integrations build", () => {
    const messages = [{ role: "user", content: "What is the capital of France?" }];
    const openai = {
      interactionType: "chat.completions",
      provider: "openai",
      model: "gpt-4o-mini-2024-07-18",
      prompt: messages,
      response: "Paris.",
      durationSeconds: 0.2,
      success: true,
      inputTokens: 19,
      outputTokens: 10,
      usage: { prompt_tokens: 19, completion_tokens: 10 },
      finishReason: "stop",
      toolCalls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }],
      timeToFirstTokenSeconds: 0.05,
      metadata: { openai: { requestId: "req_1", stream: true } },
    };
    expect(agree(openai)).toBe("fast");
    expect(agree({ ...openai, success: false, errorMessage: "RateLimitError: slow down", statusCode: 429 })).toBe("fast");
    // arrays are copied like the schema copies them (a later change by the app does not reach the record)
    const v = fastChatInput(openai)!;
    expect(v.prompt).not.toBe(messages);
    expect(v.prompt).toEqual(messages);
  });

  it("leaves unusual inputs to the schema: other prototypes, inherited members, getters that throw", () => {
    class Input {
      prompt = "p";
    }
    expect(fastChatInput(new Input())).toBeUndefined();
    expect(agree(new Input())).toBe("schema-only");
    const inherits = Object.assign(Object.create({ model: "inherited" }) as Obj, { prompt: "p" });
    expect(fastChatInput(inherits)).toBeUndefined();
    expect(agree(inherits)).toBe("schema-only");
    const nullProto = Object.assign(Object.create(null) as Obj, { prompt: "p" });
    expect(agree(nullProto)).toBe("schema-only");
    expect(fastChatInput({ prompt: { instructions: "be brief", input: "hi" } })).toBeUndefined();
    // a proxy answers `in` (which the schema asks) apart from `get`
    expect(agree(new Proxy({}, { get: (_t, k) => (k === "prompt" ? "hi" : undefined) }))).toBe("rejected");
    expect(agree(new Proxy({ prompt: "hi" }, {}))).toBe("schema-only");
    // a getter that adds a key while it is read: the schema looks for unknown keys afterwards
    expect(agree({ get prompt() { (this as Obj).extra = 1; return "hi"; } })).toBe("rejected");
    // arrays are copied by index, as the schema does, whatever their iterator says
    const own = ["real"];
    (own as unknown as Obj)[Symbol.iterator as unknown as string] = function* () {
      yield "other";
    };
    expect(agree({ prompt: own })).toBe("fast");
    expect(fastChatInput({ prompt: own })!.prompt).toEqual(["real"]);
    class Msgs extends Array<unknown> {
      override *[Symbol.iterator](): ArrayIterator<unknown> {
        yield "subclass";
      }
    }
    expect(agree({ prompt: Msgs.from(["real"]), toolCalls: Msgs.from([1]) })).toBe("fast");
    const throwing = { prompt: "p" } as Obj;
    Object.defineProperty(throwing, "model", { enumerable: true, get: () => { throw new Error("getter"); } });
    expect(() => fastChatInput(throwing)).toThrow("getter");
    expect(() => chatInteractionInputSchema.safeParse(throwing)).toThrow("getter");
  });

  it("a logger still reports the schema's coded error for bad input and writes the same record either way", async () => {
    const projectPath = tmpProject("fast-input");
    const logger = new AuditLogger({ sessionId: "fast", projectPath });
    expect(() => logger.logChatInteraction({ prompt: "p", model: "" })).toThrow(AuditValidationError);
    // the same record through the fast path (a plain object) and through the schema (a class instance)
    class Input {
      constructor(
        public prompt: unknown,
        public model: string,
        public inputTokens: number,
      ) {}
    }
    logger.logChatInteraction({ prompt: [{ role: "user", content: "hi" }], model: "m", inputTokens: 3 });
    logger.logChatInteraction(new Input([{ role: "user", content: "hi" }], "m", 3) as never);
    await logger.finalizeSession();
    const [a, b] = readKind(projectPath, "chat_interaction", "fast");
    const strip = (r: Obj): Obj => {
      // what differs by position or by id (content file names carry the id)
      const { id: _i, seq: _s, timestamp: _t, prevHash: _p, hash: _h, fullContent: _f, ...rest } = r;
      return rest;
    };
    expect(strip(a!)).toEqual(strip(b!));
    const sha = (r: Obj) => ((r.fullContent as Obj).prompt as Obj).sha256;
    expect(sha(a!)).toBe(sha(b!));
    expect(a!.promptLength).toBe(JSON.stringify([{ role: "user", content: "hi" }]).length);
  });
});

describe("fastToolInput (the ToolUsage schema's fast path)", () => {
  const TOOL_KEYS = Object.keys(toolUsageInputSchema.shape);
  const agreeTool = (input: unknown): Outcome => agreeWith(fastToolInput, toolUsageInputSchema, input);

  it("accepts exactly what the schema accepts, with the same value, over 30,000 generated inputs", () => {
    const next = rng(20261203);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const seen = { fast: 0, "schema-only": 0, rejected: 0 };
    for (let i = 0; i < 30_000; i++) {
      const input: Obj = {};
      input.toolName = next() < 0.85 ? "search" : pick(VALUES);
      input.operation = next() < 0.85 ? "query" : pick(VALUES);
      const n = Math.floor(next() * 6);
      for (let j = 0; j < n; j++) input[pick(TOOL_KEYS)] = pick(VALUES);
      if (next() < 0.03) input[pick(["foo", "__proto__x", "ToolName"])] = 1;
      seen[agreeTool(input)]++;
    }
    expect(seen.fast).toBeGreaterThan(3000);
    expect(seen.rejected).toBeGreaterThan(3000);
  });

  it("takes every value class for every field, one at a time", () => {
    for (const key of TOOL_KEYS) for (const value of VALUES) agreeTool({ toolName: "t", operation: "o", [key]: value });
  });

  it("takes what @AuditTool builds (members added one by one) and keeps parameters and result as they are", () => {
    const input: Obj = { toolName: "search", operation: "Svc.search", success: true, durationSeconds: 0.001 };
    input.id = "01M8T343ZWB0KDBCF2Z1T8GKAM";
    input.traceId = "01M8T343ZWB0KDBCF2Z1T8GKAM";
    const parameters = ["q", { limit: 3 }];
    input.parameters = parameters;
    input.result = [{ title: "a" }];
    expect(agreeTool(input)).toBe("fast");
    // (z.unknown() passes a value through, so does the fast path: the logger copies it later)
    expect(fastToolInput(input)!.parameters).toBe(parameters);
  });

  it("leaves unusual inputs to the schema", () => {
    class Input {
      toolName = "t";
      operation = "o";
    }
    expect(fastToolInput(new Input())).toBeUndefined();
    expect(agreeTool(new Input())).toBe("schema-only");
    const inherits = Object.assign(Object.create({ persona: "inherited" }) as Obj, { toolName: "t", operation: "o" });
    expect(agreeTool(inherits)).toBe("schema-only");
    expect(agreeTool(new Proxy({ toolName: "t", operation: "o" }, {}))).toBe("schema-only");
    expect(agreeTool({ get toolName() { (this as Obj).extra = 1; return "t"; }, operation: "o" })).toBe("rejected");
  });

  it("a logger reports the schema's coded error for bad input and writes the same record either way", async () => {
    const projectPath = tmpProject("fast-tool-input");
    const logger = new AuditLogger({ sessionId: "fast", projectPath });
    expect(() => logger.logToolUsage({ toolName: "", operation: "o" })).toThrow(AuditValidationError);
    expect(() => logger.logToolUsage({ toolName: "t", operation: "o", durationSeconds: -1 })).toThrow(/durationSeconds/);
    class Input {
      constructor(
        public toolName: string,
        public operation: string,
        public parameters: unknown,
        public durationSeconds: number,
      ) {}
    }
    logger.logToolUsage({ toolName: "t", operation: "o", parameters: { q: 1 }, durationSeconds: 0.5 });
    logger.logToolUsage(new Input("t", "o", { q: 1 }, 0.5) as never);
    await logger.finalizeSession();
    const [a, b] = readKind(projectPath, "tool_usage", "fast");
    const strip = (r: Obj): Obj => {
      const { id: _i, seq: _s, timestamp: _t, prevHash: _p, hash: _h, ...rest } = r;
      return rest;
    };
    expect(strip(a!)).toEqual(strip(b!));
    expect(a!.parameters).toEqual({ q: 1 });
  });
});
