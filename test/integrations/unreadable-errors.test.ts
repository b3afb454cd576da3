// Values an app (or its dependencies) throws that cannot be read: a revoked Proxy (on which even
// `instanceof` throws), an object whose getters throw, a null-prototype object (no text form).
// The instrumentation must hand the app exactly what it would get without it, and still record
// the call (its error text then says it could not be read), or report why it could not.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { AuditErrors, AuditTool } from "../../decorators/index.js";
import { auditLanguageModelMiddleware } from "../../integrations/ai-sdk.js";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import { withAuditFetch } from "../../integrations/fetch.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { UNREADABLE_ERROR } from "../../src/instrument.js";
import type { AuditLogger } from "../../src/logger.js";
import { fakeOpenAIFetch } from "../helpers/fake-openai.js";
import { cleanupTmp, loggerFactory } from "../helpers/index.js";
import { decorate } from "../decorators/apply.js";
import { recordsOf } from "./_records.js";

const open: AuditLogger[] = [];
const make = loggerFactory("unreadable_errors");
function newLogger(): { logger: AuditLogger; events: Error[] } {
  const logger = make();
  open.push(logger);
  const events: Error[] = [];
  logger.on("error", (e) => events.push(e));
  return { logger, events };
}
afterEach(async () => {
  for (const l of open.splice(0)) if (!l.isClosed) await l.finalizeSession();
  cleanupTmp();
});

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** What a call does, as the app sees it: its value, or the very value it threw / rejected with. */
async function outcome(run: () => unknown): Promise<{ how: string; value: unknown }> {
  let p: unknown;
  try {
    p = run();
  } catch (value) {
    return { how: "threw", value };
  }
  try {
    return { how: "resolved", value: await p };
  } catch (value) {
    return { how: "rejected", value };
  }
}

/** (by identity only: a matcher that looks into a revoked Proxy throws) */
function expectOutcome(o: { how: string; value: unknown }, how: string, value: unknown): void {
  expect(o.how).toBe(how);
  expect(o.value === value).toBe(true);
}

describe("a thrown value the kit cannot read reaches the app as it is, and the call is still recorded", () => {
  it("OpenAI: params whose messages getter throws a revoked Proxy", async () => {
    const { logger } = newLogger();
    const thrown = revokedProxy();
    const params = () => ({ model: "gpt-4o-mini", get messages(): never {
      throw thrown;
    } });
    const client = (wrapped: boolean) => {
      const c = new OpenAI({ apiKey: "sk-test", baseURL: "http://in-memory/v1", maxRetries: 0, fetch: fakeOpenAIFetch() as typeof fetch });
      return wrapped ? wrapOpenAI(c, { logger }) : c;
    };
    const bare = await outcome(() => client(false).chat.completions.create(params() as never));
    const wrapped = await outcome(() => client(true).chat.completions.create(params() as never));
    expectOutcome(bare, "rejected", thrown);
    expectOutcome(wrapped, "rejected", thrown);
    expect(await recordsOf(logger, "chat_interaction")).toMatchObject([{ success: false, errorMessage: UNREADABLE_ERROR }]);
  });

  it("Anthropic: params whose messages getter throws a revoked Proxy (the call is then unrecorded, and says so), and a fetch that rejects with an Error whose message getter throws", async () => {
    const { logger, events } = newLogger();
    const proxy = revokedProxy();
    const odd = Object.defineProperty(new Error("x"), "message", { get: (): never => {
      throw new Error("getter");
    } });
    const client = (wrapped: boolean, fetchFn: typeof fetch) => {
      const c = new Anthropic({ apiKey: "sk-ant-test", baseURL: "http://in-memory", maxRetries: 0, fetch: fetchFn });
      return wrapped ? wrapAnthropic(c, { logger }) : c;
    };
    const failing = (async () => {
      throw odd;
    }) as typeof fetch;
    const params = () => ({ model: "claude-haiku-4-5", max_tokens: 16, get messages(): never {
      throw proxy;
    } });
    // (the SDK reads the params as it is called: the bare client throws the proxy at once)
    expectOutcome(await outcome(() => client(false, failing).messages.create(params() as never)), "threw", proxy);
    expectOutcome(await outcome(() => client(true, failing).messages.create(params() as never)), "threw", proxy);
    expect(events.map((e) => e.message)).toEqual([UNREADABLE_ERROR]);
    const ask = { model: "claude-haiku-4-5", max_tokens: 16, messages: [{ role: "user" as const, content: "hi" }] };
    const bare = await outcome(() => client(false, failing).messages.create(ask));
    const wrapped = await outcome(() => client(true, failing).messages.create(ask));
    expect(wrapped.how).toBe(bare.how);
    expect((wrapped.value as object).constructor).toBe((bare.value as object).constructor);
    expect(await recordsOf(logger, "chat_interaction")).toMatchObject([{ success: false }]);
  });

  it("AI SDK middleware: a provider error whose statusCode getter throws, generated and streamed", async () => {
    const { logger, events } = newLogger();
    const thrown = Object.defineProperty(new Error("provider down"), "statusCode", { get: (): never => {
      throw new Error("getter");
    } });
    const mw = auditLanguageModelMiddleware({ logger });
    const args = {
      doGenerate: async (): Promise<never> => {
        throw thrown;
      },
      doStream: async (): Promise<never> => {
        throw thrown;
      },
      params: { prompt: [{ role: "user", content: [{ type: "text", text: "x" }] }] },
      model: { modelId: "m", provider: "p" },
    };
    expectOutcome(await outcome(() => mw.wrapGenerate!(args as never)), "rejected", thrown);
    expectOutcome(await outcome(() => mw.wrapStream!(args as never)), "rejected", thrown);
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs.map((r) => [r.success, r.errorMessage])).toEqual([
      [false, "Error: provider down"],
      [false, "Error: provider down"],
    ]);
    expect(events).toEqual([]);
  });

  it("withAuditFetch: a fetch that rejects with a revoked Proxy, and one that throws an Error whose message getter throws", async () => {
    const { logger } = newLogger();
    const proxy = revokedProxy();
    const rejecting = withAuditFetch((async () => {
      throw proxy;
    }) as unknown as typeof fetch, { logger });
    const odd = Object.defineProperty(new Error("x"), "message", { get: (): never => {
      throw new Error("getter");
    } });
    const throwing = withAuditFetch((() => {
      throw odd;
    }) as unknown as typeof fetch, { logger });
    expectOutcome(await outcome(() => rejecting("http://example.invalid/a")), "rejected", proxy);
    expectOutcome(await outcome(() => throwing("http://example.invalid/b")), "threw", odd);
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect(recs.map((r) => [r.success, r.errorMessage])).toEqual([
      [false, UNREADABLE_ERROR],
      [false, UNREADABLE_ERROR],
    ]);
  });

  it("@AuditErrors records errors it cannot read (a revoked Proxy, throwing name/stack/code getters) and rethrows them as they are", async () => {
    const { logger, events } = newLogger();
    const proxy = revokedProxy();
    // (stack first: replacing it makes V8 format the old one, which reads `name`)
    const getters = Object.defineProperties(new Error("odd"), {
      stack: { get: (): never => { throw new Error("stack getter"); } },
      name: { get: (): never => { throw new Error("name getter"); } },
      code: { get: (): never => { throw new Error("code getter"); } },
    });
    class Svc {
      proxied(): never {
        throw proxy;
      }
      odd(): never {
        throw getters;
      }
    }
    decorate("standard", Svc, "proxied", AuditErrors({ logger }));
    decorate("standard", Svc, "odd", AuditErrors({ logger }));
    const s = new Svc();
    expectOutcome(await outcome(() => s.proxied()), "threw", proxy);
    expectOutcome(await outcome(() => s.odd()), "threw", getters);
    const recs = await recordsOf(logger, "error", 2);
    expect(recs.map((r) => [r.errorType, r.message])).toEqual([
      ["thrown object", "non-error value thrown"],
      ["Error", "odd"],
    ]);
    expect(events).toEqual([]);
  });

  it("a decorated method returning a Proxy of a promise whose `then` cannot be read: the caller gets it as it is", () => {
    const { logger } = newLogger();
    const inner = Promise.resolve(1);
    const wrapped = new Proxy(inner, { get: (t, k) => (k === "then" ? ((): never => { throw new Error("no then"); })() : Reflect.get(t, k)) });
    class Svc {
      gives(): Promise<number> {
        return wrapped;
      }
    }
    decorate("standard", Svc, "gives", AuditTool("t", { logger }));
    let got: unknown;
    expect(() => {
      got = new Svc().gives();
    }).not.toThrow();
    expect(got === wrapped).toBe(true);
  });

  it("decorators: a method that returns or throws a revoked Proxy, and a capture function that throws one", async () => {
    const { logger, events } = newLogger();
    const proxy = revokedProxy();
    class Svc {
      gives(): unknown {
        return proxy;
      }
      fails(): never {
        throw proxy;
      }
      run(x: number): number {
        return x + 1;
      }
    }
    decorate("standard", Svc, "gives", AuditTool("t", { logger, captureResult: false }));
    decorate("standard", Svc, "fails", AuditTool("t", { logger }));
    decorate("standard", Svc, "run", AuditTool("t", { logger, captureArgs: (): never => {
      throw proxy;
    } }));
    const s = new Svc();
    expect(s.gives() === proxy).toBe(true); // (not awaited: `await` reads a revoked Proxy's `then`)
    expectOutcome(await outcome(() => s.fails()), "threw", proxy);
    expect(s.run(1)).toBe(2);
    const recs = await recordsOf(logger, "tool_usage", 3);
    expect(recs.map((r) => [r.operation, r.success, r.errorMessage])).toEqual([
      ["gives", true, undefined],
      ["fails", false, "non-error value thrown"],
      ["run", true, undefined],
    ]);
    // (a capture function's failure costs the record what it captures, noted: never the record)
    expect(recs[2]).toMatchObject({ result: 2, metadata: { auditTool: { argumentsError: expect.stringMatching(/^captureArgs threw: /) } } });
    expect(recs[2]).not.toHaveProperty("parameters");
    expect(events.map((e) => e.message)).toEqual([UNREADABLE_ERROR]);
  });
});
