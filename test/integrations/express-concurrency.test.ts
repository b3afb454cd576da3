import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuditTool } from "../../decorators/index.js";
import { auditMiddleware } from "../../integrations/express.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { AuditLogger, auditContext, verifyAuditLog } from "../../src/index.js";
import { decorate } from "../decorators/apply.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { EXPRESS_FLAVORS, delay, serve, waitForRecords, type ExpressFactory } from "./express-helpers.js";

afterEach(cleanupTmp);

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});

const N = 200;

describe.each(EXPRESS_FLAVORS)("%s under load", (_name, express: ExpressFactory) => {
  it(`${N} concurrent requests from different users never mix users or traces in the records`, async () => {
    const logger = new AuditLogger({ sessionId: "load", projectPath: tmpProject() });
    const app = express();
    app.use(auditMiddleware({ logger, userId: (req) => req.header("x-user") }));
    app.use(express.json());
    app.post("/lookup/:item", async (req, res) => {
      await delay(Math.random() * 15);
      // what the handler itself knows, to compare with what the context put on the record
      logger.logToolUsage({
        toolName: "inventory",
        operation: "lookup",
        parameters: { item: req.params.item, user: req.header("x-user"), rid: req.header("x-request-id") },
      });
      await delay(Math.random() * 15);
      res.json({ user: auditContext.get()?.userId, trace: auditContext.get()?.traceId });
    });
    const server = await serve(app);
    try {
      const replies = await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const r = await fetch(`${server.url}/lookup/item-${i}`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-user": `user-${i}`, "x-request-id": `rid-${i}` },
            body: JSON.stringify({ i }),
          });
          return { i, body: (await r.json()) as { user: string; trace: string } };
        }),
      );
      for (const { i, body } of replies) expect(body).toEqual({ user: `user-${i}`, trace: `rid-${i}` });

      const metrics = await waitForRecords(logger, "performance_metric", N);
      const tools = await waitForRecords(logger, "tool_usage", N);
      expect(metrics).toHaveLength(N);
      expect(tools).toHaveLength(N);

      const metricByTrace = new Map(metrics.map((m) => [m.traceId as string, m]));
      expect(metricByTrace.size).toBe(N);
      for (const m of metrics) {
        const i = Number(String(m.traceId).slice(4));
        expect(m.userId).toBe(`user-${i}`);
        expect(m.context).toEqual({ method: "POST", route: "/lookup/:item", status: 200 });
      }
      for (const t of tools) {
        const p = t.parameters as { item: string; user: string; rid: string };
        expect(t.userId).toBe(p.user);
        expect(t.traceId).toBe(p.rid);
        expect(p.item).toBe(`item-${p.user.slice(5)}`);
        // the tool call's parent is its own request's record
        expect(t.parentId).toBe(metricByTrace.get(p.rid)!.id);
      }
      await logger.finalizeSession();
      const report = await verifyAuditLog(logger.auditDir);
      expect(report.problems).toEqual([]);
    } finally {
      await server.close();
      if (!logger.isClosed) await logger.finalizeSession();
    }
  });
});

describe.each(EXPRESS_FLAVORS)("%s under load, users known only after the middleware", (_name, express: ExpressFactory) => {
  it(`${N} concurrent streamed chats whose user an auth step sets later (auditContext.setUser), each reading a wrapped OpenAI stream and calling a decorated tool inside its loop: every record has its own request's user, trace and parent`, async () => {
    const logger = new AuditLogger({ sessionId: "load_auth", projectPath: tmpProject() });
    const openai = wrapOpenAI(new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 }));
    class Notes {
      async note(who: string): Promise<string> {
        await delay(Math.random() * 3);
        return who;
      }
    }
    decorate("standard", Notes, "note", AuditTool("note"));
    const notes = new Notes();
    const app = express();
    app.use(auditMiddleware({ logger, chatRoutes: ["/chat"] }));
    // authentication that takes a while and runs after the middleware (no userId option)
    app.use(async (req, _res, next) => {
      await delay(Math.random() * 10);
      auditContext.setUser(String(req.header("x-user")));
      next();
    });
    app.get("/chat", async (req, res) => {
      const who = String(req.header("x-user"));
      res.type("text/plain");
      const stream = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: who }], stream: true });
      let n = 0;
      for await (const chunk of stream) {
        res.write(chunk.choices[0]?.delta?.content ?? "");
        if (n++ === 2) await notes.note(who);
      }
      res.end();
    });
    const server = await serve(app);
    try {
      const replies = await Promise.all(Array.from({ length: N }, async (_, i) => (await fetch(`${server.url}/chat`, { headers: { "x-user": `user-${i}`, "x-request-id": `rid-${i}` } })).text()));
      for (const r of replies) expect(r).toBe("The capital of France is Paris.");
      const metrics = await waitForRecords(logger, "performance_metric", N);
      const chats = await waitForRecords(logger, "chat_interaction", 2 * N);
      const tools = await waitForRecords(logger, "tool_usage", N);
      expect([metrics.length, chats.length, tools.length]).toEqual([N, 2 * N, N]);
      const metricOf = new Map(metrics.map((m) => [m.traceId as string, m.id]));
      expect(metricOf.size).toBe(N);
      const wrong: unknown[] = [];
      for (const r of [...metrics, ...chats, ...tools]) {
        const i = String(r.traceId).slice("rid-".length);
        const kind = String(r.interactionType ?? r.toolName ?? r.metricName);
        if (r.userId !== `user-${i}`) wrong.push([kind, r.traceId, r.userId]);
        if (kind !== "http_request_duration" && r.parentId !== metricOf.get(r.traceId as string)) wrong.push([kind, r.traceId, "parent", r.parentId]);
      }
      // what each call was given is its own request's
      for (const t of tools) if ((t.parameters as string[])[0] !== t.userId) wrong.push(["note", t.userId, t.parameters]);
      for (const c of chats.filter((c) => c.interactionType === "chat.completions")) if (!JSON.stringify(c.promptPreview).includes(String(c.userId))) wrong.push(["prompt", c.userId, c.promptPreview]);
      expect(wrong).toEqual([]);
    } finally {
      await server.close();
      if (!logger.isClosed) await logger.finalizeSession();
    }
  });
});
