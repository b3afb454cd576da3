// A client's credentials never reach a record, also when the SDK's own error quotes them: a key
// read from a file with a trailing NUL or newline makes fetch refuse the header built from it,
// with a TypeError quoting the header's value ("Bearer <the key>").
import fs from "node:fs";
import path from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI, { AzureOpenAI } from "openai";
import { describe, expect, it } from "vitest";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { defaultSettingsMiddleware, generateText, wrapLanguageModel } from "ai";
import { auditLanguageModelMiddleware } from "../../integrations/ai-sdk.js";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import { withAuditFetch } from "../../integrations/fetch.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { fakeProviders } from "../helpers/fake-providers.js";
import { loggerFactory } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

const fakes = fakeProviders();
const newLogger = loggerFactory("credentials");

/** Every byte the logger wrote, as text. */
function trail(dir: string): string {
  let out = "";
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out += fs.readFileSync(path.join(e.parentPath, e.name), "latin1");
  }
  return out;
}

const messages = [{ role: "user" as const, content: "hi" }];

describe("credentials an SDK's error quotes", () => {
  it("are hidden from the record (OpenAI, Azure OpenAI, Anthropic key and auth token, a default header, the AI SDK's provider, a fetch's header), and the app gets the SDK's error as it is", async () => {
    const logger = newLogger();
    const keys = ["sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX\u0000", "0123456789abcdef0123456789abcdef\u0000", "sk-ant-api03-QRSTUVWXYZ012345\u0000", "ant-oauth-token-987654321\u0000"];
    const header = "hunter2-header-value\u0000";
    const clients: Array<() => Promise<unknown>> = [
      () => wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: keys[0], maxRetries: 0 }), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages }),
      () =>
        wrapOpenAI(new AzureOpenAI({ baseURL: fakes.openai.baseURL, apiKey: keys[1], apiVersion: "2024-10-21", maxRetries: 0 }), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }),
      () => wrapAnthropic(new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: keys[2], maxRetries: 0 }), { logger }).messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages }),
      () => wrapAnthropic(new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: null, authToken: keys[3], maxRetries: 0 }), { logger }).messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages, stream: true }),
      () =>
        wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-fine-key-0000", maxRetries: 0, defaultHeaders: { "x-team-secret": header } }), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages }),
    ];
    for (const call of clients) {
      const err = await call().catch((e: unknown) => e);
      // (the SDK's own error: it quotes the value, which is what the record must not keep)
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message + String((err as Error).cause)).toMatch(/invalid header value/);
    }
    // the AI SDK's provider, and a fetch given an authorization header fetch refuses
    const aiKey = "sk-ant-api03-AISDK0123456789\u0000";
    const model = wrapLanguageModel({ model: createAnthropic({ baseURL: fakes.anthropic.aiSdkBaseURL, apiKey: aiKey })("claude-haiku-4-5"), middleware: auditLanguageModelMiddleware({ logger }) });
    expect(await generateText({ model, prompt: "hi", maxRetries: 0 }).catch((e: unknown) => e)).toBeInstanceOf(Error);
    const bearer = "Bearer fetch-token-0123456789\u0000";
    expect(await withAuditFetch(fetch, { logger })(fakes.openai.baseURL + "/models", { headers: { authorization: bearer } }).catch((e: unknown) => e)).toBeInstanceOf(TypeError);
    keys.push(aiKey, bearer);
    const tools = await recordsOf(logger, "tool_usage", 1);
    expect(tools).toHaveLength(1);
    expect(tools[0]!.errorMessage).toMatch(/"\[REDACTED\]" is an invalid header value/);
    const recs = await recordsOf(logger, "chat_interaction", clients.length + 1);
    expect(recs).toHaveLength(clients.length + 1);
    for (const r of recs) {
      expect(r.success).toBe(false);
      expect(r.errorMessage).toMatch(/"\[REDACTED\]" is an invalid header value/);
    }
    await logger.finalizeSession();
    const written = trail(logger.auditDir);
    for (const secret of [...keys, header]) expect(written).not.toContain(secret.slice(0, -1));
  });
});

describe("credentials a provider's error message quotes", () => {
  it("are hidden from the record: the client's key (OpenAI, Anthropic) and the AI SDK provider's (OpenAI's Bearer, Anthropic's x-api-key)", async () => {
    const logger = newLogger();
    const keys = { openai: "sk-proj-echoed-0123456789", anthropic: "gw-anthropic-echoed-987654", aiOpenai: "sk-ai-openai-echoed-55555", aiAnthropic: "gw-ai-anthropic-echoed-777" };
    fakes.openai.enqueue({ status: 401, errorMessage: `Incorrect API key provided: ${keys.openai}.` }, { status: 401, errorMessage: `Incorrect API key provided: ${keys.aiOpenai}.` });
    const anthropicError = (key: string) => ({ kind: "error" as const, status: 401, body: { type: "error", error: { type: "authentication_error", message: `invalid x-api-key: ${key}` } } });
    fakes.anthropic.enqueue(anthropicError(keys.anthropic), anthropicError(keys.aiAnthropic));
    const failed = (p: Promise<unknown>) => p.then(() => expect.unreachable(), (e: unknown) => e);
    await failed(wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: keys.openai, maxRetries: 0 }), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages }));
    await failed(wrapAnthropic(new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: keys.anthropic, maxRetries: 0 }), { logger }).messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages }));
    const viaAiSdk = (model: Parameters<typeof wrapLanguageModel>[0]["model"]) => failed(generateText({ model: wrapLanguageModel({ model, middleware: auditLanguageModelMiddleware({ logger }) }), prompt: "hi", maxRetries: 0 }));
    await viaAiSdk(createOpenAI({ baseURL: fakes.openai.baseURL, apiKey: keys.aiOpenai }).chat("gpt-4o-mini"));
    await viaAiSdk(createAnthropic({ baseURL: fakes.anthropic.aiSdkBaseURL, apiKey: keys.aiAnthropic })("claude-haiku-4-5"));
    const recs = await recordsOf(logger, "chat_interaction", 4);
    expect(recs).toHaveLength(4);
    for (const r of recs) expect(r.errorMessage).toMatch(/\[REDACTED\]/);
    await logger.finalizeSession();
    const written = trail(logger.auditDir);
    for (const key of Object.values(keys)) expect(written).not.toContain(key);
  });
});

describe("credentials the AI SDK middleware cannot read from the provider (found by review, 2026-12-04)", () => {
  it("a key sent in the call's own headers, or by a provider below another middleware (the audit middleware listed first, or around a wrapped model), is hidden from the recorded error; the app gets the error as it is", async () => {
    const logger = newLogger();
    const keys = {
      callBearer: "sk-user-own-key-0123456789",
      callXApiKey: "user-anthropic-key-24680",
      outerEchoed: "sk-ai-openai-echoed-55555",
      outerAnthropic: "gw-outer-anthropic-echoed-13579",
      outerWrapped: "sk-wrapped-echoed-0246813579",
      outerUnlabelled: "sk-proj-AbCdEf0123456789GhIjKlMnOpQr",
    };
    const openaiModel = (apiKey: string) => createOpenAI({ baseURL: fakes.openai.baseURL, apiKey }).chat("gpt-4o-mini");
    const anthropicModel = (apiKey: string) => createAnthropic({ baseURL: fakes.anthropic.aiSdkBaseURL, apiKey })("claude-haiku-4-5");
    const audit = () => auditLanguageModelMiddleware({ logger });
    const other = defaultSettingsMiddleware({ settings: { temperature: 0.1 } });
    const anthropicError = (message: string) => ({ kind: "error" as const, status: 401, body: { type: "error", error: { type: "authentication_error", message } } });
    fakes.openai.enqueue(
      { status: 401, errorMessage: `Incorrect API key provided: ${keys.callBearer}.` },
      { status: 401, errorMessage: `Incorrect API key provided: ${keys.outerEchoed}.` },
      { status: 401, errorMessage: `Incorrect API key provided: ${keys.outerWrapped}.` },
      { status: 403, errorMessage: `The key ${keys.outerUnlabelled} has been disabled` },
    );
    fakes.anthropic.enqueue(anthropicError(`invalid x-api-key: ${keys.callXApiKey}`), anthropicError(`invalid x-api-key: ${keys.outerAnthropic}`));
    const calls: Array<[string, () => Promise<unknown>]> = [
      // innermost, the key in the call's own headers (the provider's is another)
      [keys.callBearer, () => generateText({ model: wrapLanguageModel({ model: openaiModel("placeholder-key-xx"), middleware: audit() }), prompt: "hi", maxRetries: 0, headers: { Authorization: `Bearer ${keys.callBearer}` } })],
      [keys.callXApiKey, () => generateText({ model: wrapLanguageModel({ model: anthropicModel("placeholder-key-yy"), middleware: audit() }), prompt: "hi", maxRetries: 0, headers: { "X-Api-Key": keys.callXApiKey } })],
      // listed before another middleware: the model it calls is that middleware's wrapper
      [keys.outerEchoed, () => generateText({ model: wrapLanguageModel({ model: openaiModel(keys.outerEchoed), middleware: [audit(), other] }), prompt: "hi", maxRetries: 0 })],
      [keys.outerAnthropic, () => generateText({ model: wrapLanguageModel({ model: anthropicModel(keys.outerAnthropic), middleware: [audit(), other] }), prompt: "hi", maxRetries: 0 })],
      // around a model another middleware wrapped
      [keys.outerWrapped, () => generateText({ model: wrapLanguageModel({ model: wrapLanguageModel({ model: openaiModel(keys.outerWrapped), middleware: other }), middleware: audit() }), prompt: "hi", maxRetries: 0 })],
      // a key the error quotes without a label: hidden by its shape
      [keys.outerUnlabelled, () => generateText({ model: wrapLanguageModel({ model: openaiModel("placeholder-key-zz"), middleware: [audit(), other] }), prompt: "hi", maxRetries: 0 })],
    ];
    for (const [key, call] of calls) {
      const err = await call().then(() => expect.unreachable(), (e: unknown) => e);
      expect((err as Error).message).toContain(key); // the app's error is as the provider sent it
    }
    const recs = await recordsOf(logger, "chat_interaction", calls.length);
    expect(recs).toHaveLength(calls.length);
    for (const r of recs) expect(r.errorMessage).toMatch(/\[REDACTED/);
    expect(recs[0]!.errorMessage).toBe("AI_APICallError: Incorrect API key provided: [REDACTED].");
    await logger.finalizeSession();
    const written = trail(logger.auditDir);
    for (const key of Object.values(keys)) expect(written).not.toContain(key);
  });
});

describe("a provider whose headers are given asynchronously (the AI Gateway's)", () => {
  it("is not asked for them when a call fails (an async headers function may fetch a token), and a promise of headers that rejects raises no unhandled rejection (it crashed the process)", async () => {
    const logger = newLogger();
    let asked = 0;
    const failing = (headers: () => unknown) => ({
      specificationVersion: "v3" as const,
      provider: "gateway",
      modelId: "m",
      supportedUrls: {},
      config: { headers },
      async doGenerate(): Promise<never> {
        throw new Error("authentication failed");
      },
      async doStream(): Promise<never> {
        throw new Error("not called");
      },
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      for (const headers of [
        async () => {
          asked++;
          throw new Error("no OIDC token");
        },
        () => {
          asked++;
          return Promise.reject(new Error("no OIDC token"));
        },
      ]) {
        const model = wrapLanguageModel({ model: failing(headers) as never, middleware: auditLanguageModelMiddleware({ logger }) });
        expect(await generateText({ model, prompt: "hi", maxRetries: 0 }).catch((e: unknown) => (e as Error).message)).toBe("authentication failed");
      }
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(asked).toBe(1);
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs.map((r) => r.errorMessage)).toEqual(["Error: authentication failed", "Error: authentication failed"]);
  });
});

describe("credentials the app gives a wrapped OpenAI or Anthropic client other than its key (found by the security pass, 2026-12-06)", () => {
  it("a credential header of the client's defaultHeaders or of the call's own request options, echoed by a provider or gateway, is hidden from the record; the app gets the error as it is", async () => {
    const logger = newLogger();
    const keys = {
      openaiDefault: "gw-portkey-Key-0123456789",
      openaiCall: "sk-user-call-key-24680",
      anthropicDefault: "helicone-AUTH-97531abc",
      anthropicCall: "per-call-XAPI-key-86420",
    };
    fakes.openai.enqueue(
      { status: 401, errorMessage: `gateway refused x-portkey-api-key ${keys.openaiDefault}` },
      { status: 401, errorMessage: `Incorrect API key provided: ${keys.openaiCall}.` },
    );
    const anthropicError = (message: string) => ({ kind: "error" as const, status: 401, body: { type: "error", error: { type: "authentication_error", message } } });
    fakes.anthropic.enqueue(anthropicError(`gateway refused ${keys.anthropicDefault}`), anthropicError(`invalid key ${keys.anthropicCall}`));
    const calls: Array<[string, () => Promise<unknown>]> = [
      [keys.openaiDefault, () => wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-fine-key-0000", maxRetries: 0, defaultHeaders: { "x-portkey-api-key": keys.openaiDefault } }), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages })],
      [keys.openaiCall, () => wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-fine-key-0000", maxRetries: 0 }), { logger }).chat.completions.create({ model: "gpt-4o-mini", messages }, { headers: { Authorization: `Bearer ${keys.openaiCall}` } })],
      [keys.anthropicDefault, () => wrapAnthropic(new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: "sk-ant-fine-0000", maxRetries: 0, defaultHeaders: { "Helicone-Auth": `Bearer ${keys.anthropicDefault}` } }), { logger }).messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages })],
      [keys.anthropicCall, () => wrapAnthropic(new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: "sk-ant-fine-0000", maxRetries: 0 }), { logger }).messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages }, { headers: { "X-Api-Key": keys.anthropicCall } })],
    ];
    for (const [key, call] of calls) {
      const err = await call().then(() => expect.unreachable(), (e: unknown) => e);
      expect((err as Error).message).toContain(key); // the app's error is as the provider sent it
    }
    const recs = await recordsOf(logger, "chat_interaction", calls.length);
    expect(recs).toHaveLength(calls.length);
    for (const r of recs) expect(r.errorMessage).toMatch(/\[REDACTED\]/);
    await logger.finalizeSession();
    const written = trail(logger.auditDir);
    for (const key of Object.values(keys)) expect(written).not.toContain(key);
  });

  it("a credential header an app bug left empty (`Bearer ${undefined}`) hides nothing: the word is not cut out of the recorded error", async () => {
    const logger = newLogger();
    const missing: string | undefined = undefined;
    fakes.openai.enqueue({ status: 400, errorMessage: "Cannot read properties of undefined (reading 'content')" });
    const client = wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-fine-key-0000", maxRetries: 0, defaultHeaders: { "x-portkey-api-key": `${missing}` } }), { logger });
    await client.chat.completions.create({ model: "gpt-4o-mini", messages }, { headers: { Authorization: `Bearer ${missing}` } }).catch(() => undefined);
    const recs = await recordsOf(logger, "chat_interaction", 1);
    expect(recs[0]!.errorMessage).toContain("Cannot read properties of undefined (reading 'content')");
    await logger.finalizeSession();
  });
});
