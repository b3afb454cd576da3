/**
 * The whole chain of issue #4's "a request → a chat → a tool call", end to end and under
 * concurrency: an Express chat route (auditMiddleware) calls an @AuditChat service method, which
 * calls a wrapped OpenAI client (the real SDK over HTTP to the local fake provider) and then an
 * @AuditTool method. Every record of a request names that request's user and trace, and the
 * parent links form the request's own tree.
 */
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuditChat, AuditTool } from "../../decorators/index.js";
import { auditMiddleware } from "../../integrations/express.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { decorate } from "../decorators/apply.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { EXPRESS_FLAVORS, delay, serve, waitForRecords, type ExpressFactory } from "./express-helpers.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
afterEach(cleanupTmp);

const N = 40;
type Rec = Record<string, unknown>;

describe.each(EXPRESS_FLAVORS)("%s: a request → an @AuditChat method → a wrapped OpenAI call and an @AuditTool method", (_name, express: ExpressFactory) => {
  it(`${N} concurrent requests: each request's records form its own tree, with its own user and trace`, async () => {
    const logger = new AuditLogger({ sessionId: "nested", projectPath: tmpProject() });
    const openai = wrapOpenAI(new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 }));
    class Assistant {
      async answer(question: string): Promise<string> {
        const completion = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: question }] });
        await delay(Math.random() * 10);
        await this.lookup(question);
        return completion.choices[0]!.message.content ?? "";
      }
      async lookup(q: string): Promise<number> {
        await delay(Math.random() * 10);
        return q.length;
      }
    }
    decorate("standard", Assistant, "answer", AuditChat());
    decorate("legacy", Assistant, "lookup", AuditTool("kb"));
    const assistant = new Assistant();

    const app = express();
    app.use(auditMiddleware({ logger, userId: (req) => req.header("x-user"), chatRoutes: ["/api/ask"] }));
    app.use(express.json());
    app.post("/api/ask", async (req, res) => {
      const body = req.body as { q: string };
      res.json({ answer: await assistant.answer(body.q) });
    });
    const server = await serve(app);
    try {
      const replies = await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const r = await fetch(`${server.url}/api/ask`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-user": `user-${i}`, "x-request-id": `rid-${i}` },
            body: JSON.stringify({ q: `question ${i}` }),
          });
          return (await r.json()) as { answer: string };
        }),
      );
      for (const r of replies) expect(r.answer).toBe("The capital of France is Paris.");

      const metrics = await waitForRecords(logger, "performance_metric", N);
      const chats = await waitForRecords(logger, "chat_interaction", 3 * N);
      const tools = await waitForRecords(logger, "tool_usage", N);
      expect(metrics).toHaveLength(N);
      expect(chats).toHaveLength(3 * N);
      expect(tools).toHaveLength(N);

      const byTrace = (recs: Rec[]) => {
        const m = new Map<string, Rec[]>();
        for (const r of recs) m.set(String(r.traceId), [...(m.get(String(r.traceId)) ?? []), r]);
        return m;
      };
      const metricsBy = byTrace(metrics);
      const chatsBy = byTrace(chats);
      const toolsBy = byTrace(tools);
      for (let i = 0; i < N; i++) {
        const trace = `rid-${i}`;
        const user = `user-${i}`;
        const [metric] = metricsBy.get(trace) ?? [];
        const own = chatsBy.get(trace) ?? [];
        const [tool] = toolsBy.get(trace) ?? [];
        expect(metric, trace).toBeDefined();
        expect(own, trace).toHaveLength(3);
        expect(tool, trace).toBeDefined();
        const http = own.find((c) => c.interactionType === "http_chat");
        const method = own.find((c) => c.interactionType === "chat");
        const sdk = own.find((c) => c.interactionType === "chat.completions");
        // the tree: request metric > (route's chat, @AuditChat > (OpenAI call, @AuditTool))
        expect(metric!.parentId).toBeUndefined();
        expect(http?.parentId).toBe(metric!.id);
        expect(method?.parentId).toBe(metric!.id);
        expect(sdk?.parentId).toBe(method!.id);
        expect(tool!.parentId).toBe(method!.id);
        // every record of the request names its user, and what each call was given is its own request's
        for (const r of [metric!, ...own, tool!]) expect(r.userId, `${trace} ${String(r.interactionType ?? r.toolName ?? r.metricName)}`).toBe(user);
        expect(JSON.stringify(sdk!.promptPreview ?? sdk!.prompt)).toContain(`question ${i}`);
        expect(tool!.parameters).toEqual([`question ${i}`]);
      }
      await logger.finalizeSession();
      expect((await verifyAuditLog(logger.auditDir)).problems).toEqual([]);
    } finally {
      await server.close();
      if (!logger.isClosed) await logger.finalizeSession();
    }
  });
});
