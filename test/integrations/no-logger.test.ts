/**
 * Every integration with no logger anywhere (no option, no context logger, no default): the
 * calls work as without the kit, nothing is written anywhere, and the process is told once (one
 * `AUDIT_WARN_NO_LOGGER` for all of them, as for the decorators). Its own file: the warning is
 * once per process (per vitest worker here).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { createAnthropic } from "@ai-sdk/anthropic";
import { generateText, wrapLanguageModel } from "ai";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import express from "express";
import { auditLanguageModelMiddleware } from "../../integrations/ai-sdk.js";
import { auditErrorHandler, auditMiddleware } from "../../integrations/express.js";
import { withAuditFetch } from "../../integrations/fetch.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { withAudit } from "../../integrations/with-audit.js";
import { AuditLogger, auditContext, setDefaultAuditLogger } from "../../src/index.js";
import { startFakeAnthropic, type FakeAnthropic } from "../helpers/fake-anthropic.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { readJsonl } from "../helpers/index.js";
import { serve, type Served } from "./express-helpers.js";

let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let server: Served;
beforeAll(async () => {
  openai = await startFakeOpenAI();
  anthropic = await startFakeAnthropic();
  // an Express app with the middleware and the error handler, no logger given
  const app = express();
  app.use(auditMiddleware({ chatRoutes: ["/api/chat"] }));
  app.use(express.json());
  app.post("/api/chat", (req, res) => void res.json({ answer: `Re: ${String((req.body as { q?: string }).q)}`, context: auditContext.get() ?? null }));
  app.get("/boom", () => {
    throw new Error("boom");
  });
  app.use(auditErrorHandler());
  server = await serve(app);
});
afterAll(async () => {
  await openai.close();
  await anthropic.close();
  await server.close();
});

const messages = [{ role: "user" as const, content: "What is the capital of France?" }];

describe("the integrations with no logger anywhere", () => {
  it("run every call as without the kit, write nothing, warn once for all of them, and record once a default logger is set", async () => {
    const cwd = process.cwd();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "audit-nologger-"));
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? "");
    process.on("warning", onWarning);
    // (the kit's default directory would be under the working directory: an empty one shows nothing was written)
    process.chdir(work);
    const oa = wrapOpenAI(new OpenAI({ baseURL: openai.baseURL, apiKey: "sk-test", maxRetries: 0 }));
    const an = withAudit(new Anthropic({ apiKey: "test", baseURL: anthropic.baseURL, maxRetries: 0 }));
    const model = wrapLanguageModel({ model: createAnthropic({ baseURL: anthropic.aiSdkBaseURL, apiKey: "test" })("claude-haiku-4-5"), middleware: auditLanguageModelMiddleware() });
    const fetched = withAuditFetch(fetch);
    const calls = async () => {
      const contexts: unknown[] = [];
      const chat = await oa.chat.completions.create({ model: "gpt-4o-mini", messages });
      let streamed = "";
      for await (const chunk of await oa.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true })) streamed += chunk.choices[0]?.delta?.content ?? "";
      const msg = await an.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages });
      const gen = await generateText({ model, prompt: "What is the capital of France?" });
      const res = await fetched(`${openai.baseURL}/models`);
      contexts.push(auditContext.get());
      const page = await fetch(`${server.url}/api/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ q: "hi" }) });
      const boom = await fetch(`${server.url}/boom`);
      const express = [page.status, await page.json(), boom.status];
      return { chat: chat.choices[0]!.message.content, streamed, msg: msg.content[0]!.type, gen: gen.text.length > 0, status: res.status, contexts, express };
    };
    try {
      const first = await calls();
      const second = await calls();
      expect(first).toEqual({ chat: "The capital of France is Paris.", streamed: expect.stringContaining("Paris") as string, msg: "text", gen: true, status: expect.any(Number) as number, contexts: [undefined], express: [200, { answer: "Re: hi", context: null }, 500] });
      expect(second).toEqual(first);
      await new Promise((r) => setTimeout(r, 20));
      expect(fs.readdirSync(work)).toEqual([]);
      expect(warnings.filter((c) => c === "AUDIT_WARN_NO_LOGGER")).toHaveLength(1);

      // the same wrapped clients look their logger up at each call: a default set now records
      const logger = new AuditLogger({ sessionId: "later", projectPath: work });
      setDefaultAuditLogger(logger);
      try {
        await calls();
        await logger.flush();
        const chats = readJsonl(path.join(work, "audit_logs", "chat_interactions_later.jsonl"));
        const models = chats.map((r) => String(r.model));
        expect(models.filter((m) => m.startsWith("gpt-4o-mini"))).toHaveLength(2);
        expect(models.filter((m) => m.startsWith("claude-haiku-4-5"))).toHaveLength(2);
        expect(readJsonl(path.join(work, "audit_logs", "tool_usage_later.jsonl"))).toHaveLength(1);
        // the Express app's two requests: a metric each, the chat route's exchange, the thrown error
        // (a request's records are made when its response finishes: waited for)
        const recorded = (kind: string) => {
          const file = path.join(work, "audit_logs", `${kind}_later.jsonl`);
          return fs.existsSync(file) ? readJsonl(file) : [];
        };
        const httpChats = () => recorded("chat_interactions").filter((c) => c.interactionType === "http_chat");
        for (let i = 0; i < 200 && (recorded("performance_metrics").length < 2 || httpChats().length < 1); i++) {
          await new Promise((r) => setTimeout(r, 10));
          await logger.flush();
        }
        expect(recorded("performance_metrics").map((m) => (m.context as { route?: string }).route).sort()).toEqual(["/api/chat", "/boom"]);
        expect(httpChats()).toMatchObject([{ promptPreview: '{"q":"hi"}', statusCode: 200 }]);
        expect(recorded("errors")).toMatchObject([{ message: "boom", context: { route: "/boom", status: 500 } }]);
      } finally {
        setDefaultAuditLogger(undefined);
        await logger.finalizeSession();
      }
      expect(warnings.filter((c) => c === "AUDIT_WARN_NO_LOGGER")).toHaveLength(1);
    } finally {
      process.chdir(cwd);
      process.off("warning", onWarning);
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
