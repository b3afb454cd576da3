// A call's record names the user the call was made by: an `auditContext.setUser` while the call
// runs (a switch of account, a logout) does not change it, as it does not for a direct log call
// made at the call, or a decorated call. A context with no user at the call still takes the user
// it learns by the call's end (an Express request's lookup, a login during the call).
import type { AddressInfo } from "node:net";
import { createAnthropic } from "@ai-sdk/anthropic";
import Anthropic from "@anthropic-ai/sdk";
import { generateText, streamText, wrapLanguageModel } from "ai";
import express from "express";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { auditLanguageModelMiddleware } from "../../integrations/ai-sdk.js";
import { auditMiddleware } from "../../integrations/express.js";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import { withAuditFetch } from "../../integrations/fetch.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { auditContext } from "../../src/context.js";
import type { AuditLogger } from "../../src/logger.js";
import { fakeProviders } from "../helpers/fake-providers.js";
import { loggerFactory } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

const fakes = fakeProviders();
const newLogger = loggerFactory("user_at_call");
const messages = [{ role: "user" as const, content: "hi" }];

/**
 * The calls of every integration: each is started, then the user is switched while it runs (at
 * once, or for the AI SDK, whose model call starts a few awaits into generateText, once its
 * request reached the provider), then it is awaited to its end.
 */
function calls(logger: AuditLogger): Array<[string, () => Promise<unknown>, running?: () => Promise<void>]> {
  const oa = wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-test", maxRetries: 0 }), { logger });
  const an = wrapAnthropic(new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: "sk-ant-test", maxRetries: 0 }), { logger });
  const model = wrapLanguageModel({ model: createAnthropic({ baseURL: fakes.anthropic.aiSdkBaseURL, apiKey: "sk-ant-test" })("claude-haiku-4-5"), middleware: auditLanguageModelMiddleware({ logger }) });
  const fetched = withAuditFetch(fetch, { logger });
  const drain = async (s: AsyncIterable<unknown>) => {
    for await (const _ of s);
  };
  return [
    ["openai", () => oa.chat.completions.create({ model: "gpt-4o-mini", messages })],
    ["openai stream", async () => drain(await oa.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }))],
    ["anthropic", () => an.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages })],
    ["anthropic stream", async () => drain(await an.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages, stream: true }))],
    ["ai-sdk", () => generateText({ model, prompt: "hi" }), reached()],
    ["ai-sdk stream", () => drain(streamText({ model, prompt: "hi" }).textStream), reached()],
    ["fetch", () => fetched(`${fakes.openai.baseURL}/models`)],
  ];
}

/** Resolves once the fake Anthropic provider received one more request than it had. */
function reached(): () => Promise<void> {
  let n = 0;
  return () => {
    n = fakes.anthropic.requests.length + 1;
    return fakes.anthropic.waitForRequests(n);
  };
}

async function usersOf(logger: AuditLogger, n: number): Promise<unknown[]> {
  const chats = await recordsOf(logger, "chat_interaction", n - 1);
  const tools = await recordsOf(logger, "tool_usage", 1);
  return [...chats, ...tools].map((r) => r.userId);
}

/** Makes every call in a context of `userAtCall`, switching it to `switchTo` while the call runs: the users recorded. */
async function switchedWhileRunning(userAtCall: string | undefined, switchTo: string): Promise<unknown[]> {
  const logger = newLogger();
  const list = calls(logger);
  for (const [, start, running] of list) {
    await auditContext.run(userAtCall === undefined ? {} : { userId: userAtCall }, async () => {
      const ready = running?.();
      const pending = start();
      await ready;
      auditContext.setUser(switchTo);
      await pending;
    });
  }
  const users = await usersOf(logger, list.length);
  expect(users).toHaveLength(list.length);
  return users;
}

describe("the user a call's record names", () => {
  it("is the user at the call, whatever setUser did while it ran (it was the user at its end)", async () => {
    expect(await switchedWhileRunning("alice", "bob")).toEqual(Array(7).fill("alice"));
  });

  it("is the user learned by the call's end when the context had none at the call", async () => {
    expect(await switchedWhileRunning(undefined, "carol")).toEqual(Array(7).fill("carol"));
  });
});

describe("the user at the call, where it comes from", () => {
  it("a user a log input would refuse ('' or over 256 characters) cannot enter a context (records carried it); withAuditFetch records the call of a valid one", async () => {
    const logger = newLogger();
    const errors: Error[] = [];
    logger.on("error", (e) => errors.push(e));
    const fetched = withAuditFetch(fetch, { logger });
    let ran = 0;
    for (const userId of ["", "u".repeat(300)]) {
      expect(() => auditContext.run({ userId }, () => ran++)).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION" }));
      expect(() => auditContext.run({ userId: "alice" }, () => auditContext.setUser(userId))).toThrow(/userId: must be/);
    }
    expect(ran).toBe(0);
    await auditContext.run({ userId: "u".repeat(256) }, async () => {
      const pending = fetched(`${fakes.openai.baseURL}/models`);
      auditContext.setUser("bob");
      await pending;
    });
    const recs = await recordsOf(logger, "tool_usage", 1);
    expect(errors).toEqual([]);
    expect(recs.map((r) => String(r.userId ?? "").length)).toEqual([256]);
  });

  it("an Express request's user learned from userId(req) at the call is the record's, whatever setUser did while the call ran (it was the next user)", async () => {
    const logger = newLogger();
    const fetched = withAuditFetch(fetch, { logger });
    const oa = wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-test", maxRetries: 0 }), { logger });
    const app = express();
    app.use(auditMiddleware({ logger, userId: (req) => (req as { user?: string }).user }));
    // authentication after the audit middleware, as apps mount it
    app.use((req, _res, next) => {
      (req as { user?: string }).user = "alice";
      next();
    });
    app.get("/", async (_req, res) => {
      const calls = [fetched(`${fakes.openai.baseURL}/models`), oa.chat.completions.create({ model: "gpt-4o-mini", messages })];
      auditContext.setUser("bob");
      await Promise.all(calls);
      res.send("done");
    });
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(await res.text()).toBe("done");
    } finally {
      server.close();
    }
    const [tool] = await recordsOf(logger, "tool_usage", 1);
    const [chat] = await recordsOf(logger, "chat_interaction", 1);
    expect([tool!.userId, chat!.userId]).toEqual(["alice", "alice"]);
  });
});
