import { afterEach, describe, expect, it } from "vitest";
import { auditMiddleware } from "../../integrations/express.js";
import { AuditLogger, auditContext, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { EXPRESS_FLAVORS, delay, serve, waitForRecords, type ExpressFactory } from "./express-helpers.js";

afterEach(cleanupTmp);

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
