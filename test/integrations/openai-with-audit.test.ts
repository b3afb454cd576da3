import Anthropic from "@anthropic-ai/sdk";
import express from "express";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { withAudit } from "../../integrations/index.js";
import { AuditConfigError } from "../../src/errors.js";
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

  it("anything else is an AuditConfigError, a client class passed without `new` too", () => {
    expect(() => withAudit({} as never)).toThrow(AuditConfigError);
    expect(() => withAudit(42 as never)).toThrow(/withAudit\(\) accepts/);
    expect(() => withAudit(OpenAI as never)).toThrow(/got the class OpenAI, not an instance/);
    // an AI SDK model: the error names what to use instead
    const model = { specificationVersion: "v3", provider: "p", modelId: "m", supportedUrls: {}, doGenerate: async () => ({}), doStream: async () => ({}) };
    expect(() => withAudit(model as never)).toThrow(/got an AI SDK language model\. An AI SDK model is audited with the middleware: wrapLanguageModel\(\{ model, middleware: auditLanguageModelMiddleware/);
    expect(() => withAudit(new (class Pool {})() as never)).toThrow(/got an object of class Pool\. Pass one of those/);
  });
});
