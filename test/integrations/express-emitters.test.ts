/**
 * The request's own emitters (`req`, `res`) are made by Node's HTTP server before the middleware
 * runs, and Node emits their events from the connection's parser, outside the request's context:
 * a listener the app added inside the request (a body read by hand, a `finish` hook) ran with no
 * context, so its records had no user, no trace and no parent (found by the issue #4 acceptance
 * audit, 2026-12-06).
 */
import { EventEmitter } from "node:events";
import http from "node:http";
import { describe, expect, it } from "vitest";
import { auditMiddleware } from "../../integrations/express.js";
import { auditContext } from "../../src/index.js";
import { EXPRESS_FLAVORS, delay, expressHarness, waitForRecords, type ExpressFactory } from "./express-helpers.js";

const { newLogger, start } = expressHarness();
const N = 12;
const user = () => auditContext.get()?.userId;

/** A POST whose body arrives in three parts, 20 ms apart (read from the socket, not buffered). */
function slowPost(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers: { ...headers, "content-type": "application/octet-stream" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    void (async () => {
      for (let i = 0; i < 3; i++) {
        req.write("x".repeat(1000));
        await delay(20);
      }
      req.end();
    })();
  });
}

describe.each(EXPRESS_FLAVORS)("%s: listeners a handler adds to req and res", (_name, express: ExpressFactory) => {
  it(`run in the request's context, whoever emits: ${N} concurrent uploads read by hand, each record with its own request's user, trace and parent (they had none)`, async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger, userId: (req) => req.header("x-user") }));
    app.post("/upload", (req, res) => {
      const seen = new Set<string | undefined>();
      const who = req.header("x-user");
      let bytes = 0;
      req.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        seen.add(user());
      });
      req.on("end", () => {
        seen.add(user());
        logger.logToolUsage({ toolName: "upload", operation: "end", parameters: { who, bytes } });
        res.on("finish", () => logger.logToolUsage({ toolName: "upload", operation: "finish", parameters: { who } }));
        // an event the app emits itself, in a context of its own, stays in that context
        let nested: string | undefined;
        req.once("probe", () => (nested = user()));
        auditContext.run({ userId: "nested" }, () => req.emit("probe"));
        seen.add(nested === "nested" ? who : `probe ran as ${nested}`);
        res.json([...seen]);
      });
    });
    const url = await start(app);
    const replies = await Promise.all(Array.from({ length: N }, (_, i) => slowPost(`${url}/upload`, { "x-user": `user-${i}`, "x-request-id": `rid-${i}` })));
    replies.forEach((body, i) => expect(JSON.parse(body), `request ${i}`).toEqual([`user-${i}`]));

    const metrics = await waitForRecords(logger, "performance_metric", N);
    const tools = await waitForRecords(logger, "tool_usage", 2 * N);
    const metricOf = new Map(metrics.map((m) => [m.traceId, m.id]));
    expect(metricOf.size).toBe(N);
    for (const t of tools) {
      const who = (t.parameters as { who: string }).who;
      const i = who.slice("user-".length);
      expect({ op: t.operation, userId: t.userId, traceId: t.traceId, parent: t.parentId }).toEqual({ op: t.operation, userId: who, traceId: `rid-${i}`, parent: metricOf.get(`rid-${i}`) });
    }
    expect(tools.filter((t) => t.operation === "end").map((t) => (t.parameters as { bytes: number }).bytes)).toEqual(Array(N).fill(3000));
  });

  it("req.emit and res.emit called with another `this` emit on that object, as Node's emit does (an app or library that borrows the method); with none, they throw as Node's do", async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger }));
    app.get("/borrow", (req, res) => {
      const other = new EventEmitter();
      const heard: string[] = [];
      other.on("x", (who: string) => heard.push(`other ${who}`));
      req.on("x", (who: string) => heard.push(`req ${who}`));
      res.on("x", (who: string) => heard.push(`res ${who}`));
      const borrowed = [req.emit, res.emit] as Array<(this: unknown, event: string, ...args: unknown[]) => boolean>;
      borrowed.forEach((emit, i) => emit.call(other, "x", i === 0 ? "req.emit" : "res.emit"));
      const thrown = borrowed.map((emit) => {
        try {
          emit.call(undefined, "x", "none");
          return "no error";
        } catch (err) {
          return (err as Error).constructor.name;
        }
      });
      res.json({ heard, thrown });
    });
    const url = await start(app);
    const body = (await (await fetch(`${url}/borrow`)).json()) as unknown;
    expect(body).toEqual({ heard: ["other req.emit", "other res.emit"], thrown: ["TypeError", "TypeError"] });
  });
});
