import Anthropic from "@anthropic-ai/sdk";
import express from "express";
import { createRequire } from "node:module";
import vm from "node:vm";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { createOpenAI } from "@ai-sdk/openai";
import { auditLanguageModelMiddleware, withAudit, withAuditFetch, wrapAnthropic, wrapOpenAI } from "../../integrations/index.js";
import { auditContext } from "../../src/context.js";
import { AuditChat, AuditErrors, AuditPerformance, AuditPersona, AuditTool } from "../../decorators/index.js";
import { auditErrorHandler, auditMiddleware } from "../../integrations/express.js";
import { decorate } from "../decorators/apply.js";
import { JsonText } from "../../src/record/json-text.js";
import { kCaptureFlags, kSameCopy } from "../../src/record/schemas.js";
import { AuditConfigError, AuditValidationError } from "../../src/errors.js";
import { startFakeAnthropic } from "../helpers/fake-anthropic.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { loggerFactory } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
const newLogger = loggerFactory("with_audit");

describe("withAudit dispatch", () => {
  it("an OpenAI client: wrapped in place, same type, recorded", async () => {
    const logger = newLogger();
    const raw = new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 });
    const client = withAudit(raw, { logger, includeUsageInStreams: true });
    expect(client).toBe(raw);
    expectTypeOf(client).toEqualTypeOf<OpenAI>();
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    expect(await recordsOf(logger, "chat_interaction")).toMatchObject([{ provider: "openai", success: true }]);
  });

  it("an Anthropic client: handed to wrapAnthropic (same object, same type), and its calls are recorded", async () => {
    const fakeAnthropic = await startFakeAnthropic();
    try {
      const raw = new Anthropic({ apiKey: "test", baseURL: fakeAnthropic.baseURL, maxRetries: 0 });
      const create = raw.messages.create;
      const logger = newLogger();
      const client = withAudit(raw, { logger });
      expect(client).toBe(raw);
      expectTypeOf(client).toEqualTypeOf<Anthropic>();
      expect(client.messages.create).not.toBe(create);
      const msg = await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "Hi" }] });
      expect(msg.type).toBe("message");
      expect(await recordsOf(logger, "chat_interaction")).toMatchObject([{ provider: "anthropic", interactionType: "messages", success: true, metadata: { anthropic: { method: "messages.create" } } }]);
    } finally {
      await fakeAnthropic.close();
    }
  });

  it("a client of either kind (OpenAI | Anthropic, from a provider switch) compiles and keeps its union type (no overload took the union)", async () => {
    const logger = newLogger();
    const fakeAnthropic = await startFakeAnthropic();
    try {
      for (const provider of ["openai", "anthropic"] as const) {
        const raw: OpenAI | Anthropic = provider === "openai" ? new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 }) : new Anthropic({ baseURL: fakeAnthropic.baseURL, apiKey: "sk-ant-test", maxRetries: 0 });
        const client = withAudit(raw, { logger, captureContent: false });
        expectTypeOf(client).toEqualTypeOf<OpenAI | Anthropic>();
        expect(client).toBe(raw);
        if (client instanceof OpenAI) await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
        else await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
      }
    } finally {
      await fakeAnthropic.close();
    }
    expect((await recordsOf(logger, "chat_interaction", 2)).map((r) => r.provider)).toEqual(["openai", "anthropic"]);
  });

  it("a fetch function: returns an audited function with fetch's type", async () => {
    const logger = newLogger();
    const audited = withAudit(fetch, { logger });
    expectTypeOf(audited).toEqualTypeOf<typeof fetch>();
    expect(audited).not.toBe(fetch);
    const res = await audited(`${fake.baseURL}/models`);
    expect(res.status).toBe(404);
    expect(await recordsOf(logger, "tool_usage")).toMatchObject([{ toolName: "fetch", result: { status: 404 } }]);
  });

  it("an Express app: installs auditMiddleware and returns the app", async () => {
    const logger = newLogger();
    const app = express();
    expect(withAudit(app, { logger })).toBe(app);
    app.get("/ping", (_req, res) => {
      res.json({ ok: true });
    });
    const server = app.listen(0, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`);
      expect(await res.json()).toEqual({ ok: true });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    const metrics = await recordsOf(logger, "performance_metric");
    expect(metrics.length).toBeGreaterThanOrEqual(1);
  });

  it("an Express Router: installs auditMiddleware on it (it is not taken for a fetch function)", async () => {
    const logger = newLogger();
    const app = express();
    const router = express.Router();
    // (typed: an overload takes a Router, which has no `listen`/`set`; the typecheck of the tests checks it)
    const audited = withAudit(router, { logger });
    expectTypeOf(audited).toEqualTypeOf<typeof router>();
    expect(audited).toBe(router);
    router.get("/r", (_req, res) => void res.send("r"));
    app.use("/api", router);
    const server = app.listen(0, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/r`);
      expect(await res.text()).toBe("r");
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    const metrics = await recordsOf(logger, "performance_metric");
    expect(metrics.map((m) => (m.context as { route: string }).route)).toEqual(["/api/r"]);
    expect(await recordsOf(logger, "tool_usage")).toEqual([]);
  });

  it("the express module, express.Router and a middleware are an AuditConfigError naming what to pass (they were taken for fetch functions: withAudit(express)() returned a promise, and recorded a request); fetch functions are still audited", async () => {
    const logger = newLogger();
    const express4 = createRequire(import.meta.url)("express4") as typeof express;
    const refused: Array<[string, unknown, RegExp]> = [
      ["express 5", express, /got the express module, not an app: pass the app it makes, const app = express\(\); withAudit\(app, options\)/],
      ["express 4", express4, /got the express module/],
      ["express.Router 5", express.Router, /got express\.Router, not a Router: pass the Router it makes, const router = express\.Router\(\); withAudit\(router, options\)/],
      ["express.Router 4", express4.Router, /got express\.Router/],
      ["express.json()", express.json(), /got a function of 3 parameters \(jsonParser\), an Express middleware/],
      ["express.static()", express.static("."), /got a function of 3 parameters \(serveStatic\)/],
      ["an app's middleware", (_req: unknown, _res: unknown, next: () => void) => next(), /an Express middleware .*withAudit\(app, options\)/],
      ["an error handler", (_err: unknown, _req: unknown, _res: unknown, next: () => void) => next(), /got a function of 4 parameters/],
    ];
    for (const [name, target, message] of refused) {
      let thrown: unknown;
      try {
        withAudit(target as never, { logger } as never);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, name).toBeInstanceOf(AuditConfigError);
      expect((thrown as AuditConfigError).issues.map((i) => i.field), name).toEqual(["target"]);
      expect((thrown as Error).message, name).toMatch(message);
      expect((thrown as Error).message, name).toMatch(/auditMiddleware\(options\)/);
    }
    // a fetch of one or two parameters is still a fetch
    const twoArgs = async (input: string, init?: RequestInit): Promise<Response> => fetch(input, init);
    const audited = withAudit(twoArgs, { logger });
    expect(audited).not.toBe(twoArgs);
    expect((await audited(`${fake.baseURL}/models`)).status).toBe(404);
    expect((await recordsOf(logger, "tool_usage")).map((r) => r.toolName)).toEqual(["fetch"]);
  });

  it("anything else is an AuditConfigError, a client class passed without `new` too", () => {
    expect(() => withAudit({} as never)).toThrow(AuditConfigError);
    expect(() => withAudit(42 as never)).toThrow(/withAudit\(\) accepts/);
    expect(() => withAudit(OpenAI as never)).toThrow(/got the class OpenAI, not an instance/);
    // an AI SDK model: the error names what to use instead
    const model = { specificationVersion: "v3", provider: "p", modelId: "m", supportedUrls: {}, doGenerate: async () => ({}), doStream: async () => ({}) };
    expect(() => withAudit(model as never)).toThrow(/got an AI SDK language model\. An AI SDK model is audited with the middleware: wrapLanguageModel\(\{ model, middleware: auditLanguageModelMiddleware/);
    expect(() => withAudit(new (class Pool {})() as never)).toThrow(/got an object of class Pool\. Pass one of those/);
  });

  it("a function that is no Express app given the Express middleware's options (a Node or Koa handler) is an AuditConfigError saying it was not recognised (the error called userId and chatRoutes misspelt options of withAuditFetch)", () => {
    const logger = newLogger();
    const nodeHandler = (_req: unknown, res: { end(): void }) => res.end();
    let thrown: unknown;
    try {
      withAudit(nodeHandler as never, { logger, userId: () => "u1", chatRoutes: ["/api/chat"] } as never);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AuditConfigError);
    expect((thrown as AuditConfigError).issues.map((i) => i.field)).toEqual(["target"]);
    expect((thrown as Error).message).toMatch(/got a function that is not an Express app or Router, which it takes for a fetch function, with userId, chatRoutes, options of the Express middleware: pass the Express app or Router itself/);
    expect((thrown as Error).message).not.toMatch(/check its spelling/);
  });

  it("a revoked Proxy, or one whose traps throw, is an AuditConfigError saying it could not be read (it was the bare TypeError of the first read)", () => {
    const { proxy, revoke } = Proxy.revocable(new OpenAI({ apiKey: "sk-test" }), {});
    revoke();
    const throwing = new Proxy(function fetchLike() {}, {
      get() {
        throw new RangeError("no reads here");
      },
    });
    for (const [target, why] of [[proxy, /proxy that has been revoked/], [throwing, /no reads here/]] as const) {
      const err = (() => {
        try {
          withAudit(target as never);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(AuditConfigError);
      expect((err as AuditConfigError).code).toBe("AUDIT_ERR_CONFIG");
      expect((err as Error).message).toMatch(/withAudit\(\) could not read what it was given \(reading it threw: /);
      expect((err as Error).message).toMatch(why);
    }
  });
});

describe("the integrations' options are checked when wrapping", () => {
  /** The fields an AuditConfigError names, or the error when it is not one. */
  const fieldsOf = (fn: () => unknown): string[] | unknown => {
    try {
      fn();
    } catch (err) {
      return err instanceof AuditConfigError ? err.issues.map((i) => i.field) : err;
    }
    return [];
  };

  it("a misspelt option, a logger that is not one, a flag that is not true/false: AuditConfigError naming each, and the client stays unwrapped (a misspelt captureContent was ignored, and the prompt recorded)", async () => {
    const logger = newLogger();
    const raw = new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 });
    const create = raw.chat.completions.create;
    expect(fieldsOf(() => wrapOpenAI(raw, { logger, captureContents: false } as never))).toEqual(["wrapOpenAI.captureContents"]);
    expect(fieldsOf(() => wrapOpenAI(raw, { logger: {} as never, includeUsageInStreams: "yes" as never }))).toEqual(["wrapOpenAI.logger", "wrapOpenAI.includeUsageInStreams"]);
    expect(raw.chat.completions.create).toBe(create);
    const anthropic = new Anthropic({ apiKey: "test", baseURL: fake.baseURL, maxRetries: 0 });
    expect(fieldsOf(() => wrapAnthropic(anthropic, { logger: 5 as never, captureContents: false } as never))).toEqual(["wrapAnthropic.logger", "wrapAnthropic.captureContents"]);
    expect(fieldsOf(() => auditLanguageModelMiddleware({ captureContents: false } as never))).toEqual(["auditLanguageModelMiddleware.captureContents"]);
    expect(fieldsOf(() => withAuditFetch(fetch, { redactHeaders: [5 as never] }))).toEqual(["withAuditFetch.redactHeaders.0"]);
    expect(fieldsOf(() => withAuditFetch("x" as never))).toEqual(["fetch"]);
    expect(fieldsOf(() => withAudit(raw, { captureContents: false } as never))).toEqual(["wrapOpenAI.captureContents"]);
    // with the options right, the same client is wrapped and records, without the prompt
    const client = wrapOpenAI(raw, { logger, captureContent: false });
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "my secret" }] });
    const [rec] = await recordsOf(logger, "chat_interaction");
    expect(rec).toMatchObject({ provider: "openai", promptCaptured: false });
    expect(JSON.stringify(rec)).not.toContain("my secret");
  });

  it("the logger itself given where the options go (wrapAnthropic(client, logger)): one issue saying to pass { logger }, not 78 'unknown option' lines naming the logger's internals, nor withAudit's Express message", async () => {
    const logger = newLogger();
    const raw = new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 });
    const anthropic = new Anthropic({ apiKey: "test", baseURL: fake.baseURL, maxRetries: 0 });
    const create = anthropic.messages.create;
    const errorOf = (fn: () => unknown): AuditConfigError => {
      try {
        fn();
      } catch (err) {
        if (err instanceof AuditConfigError) return err;
        throw err;
      }
      throw new Error("expected an AuditConfigError, but it returned");
    };
    const cases: Array<[string, () => unknown, string]> = [
      ["wrapAnthropic", () => wrapAnthropic(anthropic, logger as never), "wrapAnthropic(client, { logger })"],
      ["wrapOpenAI", () => wrapOpenAI(raw, logger as never), "wrapOpenAI(client, { logger })"],
      ["auditLanguageModelMiddleware", () => auditLanguageModelMiddleware(logger as never), "auditLanguageModelMiddleware({ logger })"],
      ["withAuditFetch", () => withAuditFetch(fetch, logger as never), "withAuditFetch(fetch, { logger })"],
      ["withAudit", () => withAudit(fetch, logger as never), "withAudit(target, { logger })"],
      ["withAudit", () => withAudit(anthropic, logger as never), "withAudit(target, { logger })"],
      // (and the Express middleware and the decorators, whose options check listed them too)
      ["auditMiddleware", () => auditMiddleware(logger as never), "auditMiddleware({ logger })"],
      ["auditErrorHandler", () => auditErrorHandler(logger as never), "auditErrorHandler({ logger })"],
      ["@AuditTool", () => AuditTool("weather", logger as never), "{ logger }"],
      ["@AuditChat", () => AuditChat(logger as never), "{ logger }"],
      ["@AuditPersona", () => AuditPersona("planner", "plan", logger as never), "{ logger }"],
      ["@AuditPerformance", () => AuditPerformance("latency", logger as never), "{ logger }"],
      ["@AuditErrors", () => AuditErrors(logger as never), "{ logger }"],
    ];
    for (const [fn, call, fix] of cases) {
      const err = errorOf(call);
      expect(err.code).toBe("AUDIT_ERR_CONFIG");
      expect(err.issues.map((i) => i.field)).toEqual([`${fn}.options`]);
      expect(err.issues[0]!.message).toContain(fix);
      expect(err.message).not.toMatch(/subjectKeys|Express/);
    }
    // the client stays unwrapped; with { logger } it is wrapped and records
    expect(anthropic.messages.create).toBe(create);
    const client = wrapOpenAI(raw, { logger });
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    expect(await recordsOf(logger, "chat_interaction")).toHaveLength(1);
  });

  it("what was accepted before the check still is: a null logger (none), one options object shared by every wrapper, a later change to options.logger, a RegExp of another realm", async () => {
    const logger = newLogger();
    const raw = new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 });
    const shared: Record<string, unknown> = { captureContent: false, redactHeaders: [vm.runInNewContext("/x-secret/")], logger: null };
    const client = wrapOpenAI(raw, shared);
    expect(fieldsOf(() => withAuditFetch(fetch, shared))).toEqual([]);
    expect(fieldsOf(() => auditLanguageModelMiddleware(shared))).toEqual([]);
    expect(fieldsOf(() => auditContext.run({ logger: null }, () => 1))).toEqual([]);
    // the options are read at each call, as they were: a logger set later records
    shared.logger = logger;
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    expect(await recordsOf(logger, "chat_interaction")).toMatchObject([{ provider: "openai", promptCaptured: false }]);
  });

  it("a logger of another copy of the package, an older one too (its schema refuses promptCaptured and this copy's JsonText): calls are recorded, not lost, in their own trace", async () => {
    const logger = newLogger();
    // (another copy's logger lacks this copy's marker, an older one the marker that it takes the flags)
    delete (logger as unknown as Record<symbol, unknown>)[kSameCopy];
    delete (logger as unknown as Record<symbol, unknown>)[kCaptureFlags];
    const refused: string[] = [];
    const log = logger.logChatInteraction.bind(logger);
    logger.logChatInteraction = (input) => {
      // (as the other copy's schema would: it knows neither)
      if ("promptCaptured" in input || input.prompt instanceof JsonText) refused.push("refused");
      return log(input);
    };
    const client = wrapOpenAI(new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 }), { logger, captureContent: false });
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "my secret" }] });
    const withContent = wrapOpenAI(new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 }), { logger });
    await withContent.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello there" }] });
    class Bot {
      ask(_q: string) {
        return "answer";
      }
    }
    decorate("standard", Bot, "ask", AuditChat({ logger, captureArgs: false }));
    new Bot().ask("private question");
    const recs = await recordsOf(logger, "chat_interaction", 3);
    expect(refused).toEqual([]);
    expect(recs).toHaveLength(3);
    const [uncaptured, captured] = recs.filter((r) => r.provider === "openai");
    expect(uncaptured).toMatchObject({ promptLength: 0 });
    expect(uncaptured).not.toHaveProperty("promptCaptured");
    expect(JSON.stringify(uncaptured)).not.toContain("my secret");
    expect(captured).toMatchObject({ promptFormat: "json", promptPreview: expect.stringContaining("hello there") });
    expect(JSON.stringify(recs.find((r) => r.provider === undefined))).not.toContain("private question");
    for (const r of [uncaptured!, captured!]) expect(r.traceId).toBe(r.id);
  });

  it("an AI SDK provider is not taken for a fetch function (its model lookups became requests returning promises)", () => {
    const provider = createOpenAI({ apiKey: "sk-test", baseURL: fake.baseURL });
    expect(() => withAudit(provider as never)).toThrow(/AI SDK provider.*wrapLanguageModel/);
    expect(fieldsOf(() => withAudit(provider as never))).toEqual(["target"]);
  });

  it("auditContext.run with a logger that is not one: AuditValidationError naming it (it was ignored, and records went to the default logger)", () => {
    expect(() => auditContext.run({ logger: "not a logger" }, () => 1)).toThrow(AuditValidationError);
    expect(() => auditContext.run({ logger: "not a logger" }, () => 1)).toThrow(/logger: must be an AuditLogger/);
    const logger = newLogger();
    expect(auditContext.run({ logger }, () => auditContext.get()?.logger)).toBe(logger);
    // (a function that is not one: a TypeError from deep inside, "Function.prototype.apply was called on 5")
    expect(() => auditContext.run({}, 5 as never)).toThrow(/fn: must be the function to run in the context \(got number\)/);
  });
});
