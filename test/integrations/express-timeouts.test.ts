/**
 * Who ended a request that got no whole response (found by the Express/decorators leftovers pass,
 * 2026-12-05): Node's own timeouts (server.requestTimeout, server.setTimeout) and the app's own
 * destroy were recorded as a client that left (499); an upstream's ECONNRESET that destroyed the
 * response (a proxy's pipeline) was taken for the client's leaving, and its error went
 * unrecorded. Real Express 5 and 4 on a real server, real clients over TCP, real timeouts.
 */
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream";
import type { NextFunction, Request, Response } from "express";
import { describe, expect, it } from "vitest";
import { AuditErrors } from "../../decorators/index.js";
import { auditErrorHandler, auditMiddleware } from "../../integrations/express.js";
import type { AuditLogger } from "../../src/index.js";
import { decorate } from "../decorators/apply.js";
import { EXPRESS_FLAVORS, delay, exchange, expressHarness, recordsOf, waitForRecords, type ExpressFactory } from "./express-helpers.js";

const { newLogger, keep } = expressHarness();

/** Serves `app` on 127.0.0.1 with these server options (Node's timeouts), after `setup(server)`. */
async function serveWith(app: http.RequestListener, options: http.ServerOptions, setup?: (server: http.Server) => void): Promise<{ url: string; port: number }> {
  const server = http.createServer(options, app);
  setup?.(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  keep({
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return { url: `http://127.0.0.1:${port}`, port };
}

/** A raw TCP client: sends `head` (and `body`), then resolves with all the server sent once the server closed the connection. */
function rawClient(port: number, text: string, onConnected?: (socket: net.Socket) => void): Promise<{ received: string; error: string | undefined }> {
  return new Promise((resolve) => {
    let received = "";
    let error: string | undefined;
    const c = net.connect(port, "127.0.0.1", () => {
      c.write(text);
      onConnected?.(c);
    });
    c.on("data", (d) => (received += d.toString("latin1")));
    c.on("error", (e) => (error = (e as NodeJS.ErrnoException).code));
    c.on("close", () => resolve({ received, error }));
  });
}

/** Every record of the logger is on disk, and none comes late. */
async function settled(logger: AuditLogger): Promise<void> {
  await delay(80);
  await logger.flush();
}

/** An upstream that accepts, and resets the connection: at once, or after the headers and some body (`mid`). */
async function deadUpstream(mid: boolean): Promise<number> {
  const upstream = net.createServer((s) => {
    s.once("data", () => {
      if (!mid) return void s.resetAndDestroy();
      s.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\npartial answer");
      setTimeout(() => s.resetAndDestroy(), 30);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  keep({ url: "", close: () => new Promise<void>((resolve) => upstream.close(() => resolve())) });
  return (upstream.address() as AddressInfo).port;
}

describe.each(EXPRESS_FLAVORS)("%s", (_name, express: ExpressFactory) => {
  it("server.requestTimeout ending a request whose body never came is recorded as that timeout, with the 408 Node sent (it was a client that left, 499)", async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger, chatRoutes: ["/upload"] }));
    app.post("/upload", express.json(), (_req, res) => void res.json({ ok: true }));
    app.use(auditErrorHandler());
    const { port } = await serveWith(app, { requestTimeout: 300, connectionsCheckingInterval: 50 });
    // headers and part of the body, then nothing: the client is still there, waiting
    const { received } = await rawClient(port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"q":');
    expect(received.startsWith("HTTP/1.1 408 Request Timeout\r\n")).toBe(true);
    const [metric] = await waitForRecords(logger, "performance_metric", 1);
    await settled(logger);
    expect(metric!.context).toEqual({ method: "POST", route: "/upload", status: 408, aborted: true, closedBy: "server", timeout: "requestTimeout" });
    const errors = recordsOf(logger, "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      errorType: "http_request_timeout",
      severity: "warning",
      message: "The server's request timeout (server.requestTimeout, 300 ms) ended POST /upload before its request had arrived: Node answered 408.",
      context: { method: "POST", route: "/upload", status: 408, headersSent: false, closedBy: "server", timeout: "requestTimeout", timeoutMs: 300 },
    });
    expect(recordsOf(logger, "chat_interaction")[0]).toMatchObject({ success: false, statusCode: 408, errorMessage: "The server's request timeout (server.requestTimeout, 300 ms) ended the request before it had arrived: Node answered 408." });
  });

  it("the server's socket timeout (server.setTimeout) ending a request before any response is recorded as that timeout, 503 (Node sends nothing), not a client that left; once the response began, with its status", async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger }));
    app.get("/stuck", (_req, res) => {
      const timer = setTimeout(() => res.send("late"), 5000);
      res.on("close", () => clearTimeout(timer));
    });
    app.get("/stalls", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first part");
      const timer = setTimeout(() => res.end("late"), 5000);
      res.on("close", () => clearTimeout(timer));
    });
    const { port } = await serveWith(app, {}, (server) => server.setTimeout(300));
    const stuck = await rawClient(port, "GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n");
    // (Node closes the connection and sends nothing)
    expect(stuck.received).toBe("");
    const stalls = await rawClient(port, "GET /stalls HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(stalls.received).toContain("first part");
    await waitForRecords(logger, "performance_metric", 2);
    await settled(logger);
    expect(recordsOf(logger, "performance_metric").map((m) => m.context)).toEqual([
      { method: "GET", route: "/stuck", status: 503, aborted: true, closedBy: "server", timeout: "socketTimeout" },
      { method: "GET", route: "/stalls", status: 200, aborted: true, closedBy: "server", timeout: "socketTimeout" },
    ]);
    expect(recordsOf(logger, "error").map((e) => [e.errorType, e.severity, e.message, e.context])).toEqual([
      [
        "http_request_timeout",
        "error",
        "The socket's idle timeout (server.timeout, server.setTimeout or the request's setTimeout, 300 ms) closed the connection before any response to GET /stuck: Node sent none.",
        expect.objectContaining({ status: 503, headersSent: false, closedBy: "server", timeout: "socketTimeout", timeoutMs: 300 }),
      ],
      [
        "http_request_timeout",
        "error",
        "The socket's idle timeout (server.timeout, server.setTimeout or the request's setTimeout, 300 ms) closed the connection before the response to GET /stalls finished.",
        expect.objectContaining({ status: 200, headersSent: true, closedBy: "server", timeout: "socketTimeout", timeoutMs: 300 }),
      ],
    ]);
  });

  it("a timeout the app answers itself (res.setTimeout with a listener, as Express's timeout middleware does) is recorded as that answer: the middleware's socket listener changes nothing of what Node does", async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger }));
    app.get("/slow", (_req, res) => {
      res.setTimeout(200, () => void res.status(503).send("timed out"));
    });
    // (and the server's own timeout, longer, with no listener: Node would destroy the socket)
    const { url } = await serveWith(app, {}, (server) => server.setTimeout(2000));
    const answered = await exchange(`${url}/slow`);
    expect([answered.status, answered.body]).toEqual([503, "timed out"]);
    await waitForRecords(logger, "performance_metric", 1);
    await settled(logger);
    expect(recordsOf(logger, "performance_metric").map((m) => m.context)).toEqual([{ method: "GET", route: "/slow", status: 503 }]);
    expect(recordsOf(logger, "error").map((e) => [e.errorType, e.severity])).toEqual([["http_server_error", "error"]]);
  });

  it("the app's own destroy before any response is recorded as the server's close, 444 (no response), not a client that left; a client that leaves is still 499", async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger }));
    app.get("/drop", (req, res) => void setTimeout(() => res.destroy(), 20));
    app.get("/wait", (_req, res) => {
      const timer = setTimeout(() => res.send("late"), 5000);
      res.on("close", () => clearTimeout(timer));
    });
    const { port } = await serveWith(app, {});
    expect((await rawClient(port, "GET /drop HTTP/1.1\r\nHost: x\r\n\r\n")).received).toBe("");
    await waitForRecords(logger, "performance_metric", 1);
    await rawClient(port, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n", (c) => void setTimeout(() => c.destroy(), 50));
    await waitForRecords(logger, "performance_metric", 2);
    await settled(logger);
    expect(recordsOf(logger, "performance_metric").map((m) => m.context)).toEqual([
      { method: "GET", route: "/drop", status: 444, aborted: true, closedBy: "server" },
      { method: "GET", route: "/wait", status: 499, aborted: true },
    ]);
    expect(recordsOf(logger, "error").map((e) => [e.errorType, e.severity, e.message])).toEqual([
      ["http_request_aborted", "warning", "The server closed the connection before any response to GET /drop."],
      ["http_request_aborted", "warning", "The client closed the connection before the response to GET /wait finished."],
    ]);
  });

  it("an upstream's ECONNRESET while the client waits is the request's 5xx error, not an abort: fetch to a dead upstream, and a proxy's pipeline the upstream reset mid-body (it was taken for the client's leaving and went unrecorded), also by an @AuditErrors method", async () => {
    const logger = newLogger();
    const resetAtOnce = await deadUpstream(false);
    const resetMidBody = await deadUpstream(true);
    class Proxy {
      relay(res: Response): Promise<void> {
        return new Promise((resolve, reject) => {
          let answered = false;
          http
            .get(`http://127.0.0.1:${resetMidBody}/`, (up) => {
              answered = true;
              res.writeHead(200, { "content-type": "text/plain" });
              // (the pipeline destroys the response with the upstream's error, then calls back)
              pipeline(up, res, (err) => (err ? reject(err) : resolve()));
            })
            // (once answered, the upstream's failure is the pipeline's to tell)
            .on("error", (err) => void (answered ? undefined : reject(err)));
        });
      }
    }
    decorate("standard", Proxy, "relay", AuditErrors({ logger }));
    const proxy = new Proxy();
    const app = express();
    app.use(auditMiddleware({ logger }));
    app.get("/fetch", async (_req: Request, _res: Response, next: NextFunction) => {
      try {
        await fetch(`http://127.0.0.1:${resetAtOnce}/`);
      } catch (err) {
        next(err);
      }
    });
    app.get("/proxy", (_req: Request, res: Response, next: NextFunction) => void proxy.relay(res).catch(next));
    app.use(auditErrorHandler());
    const { url } = await serveWith(app, {});
    const fetched = await exchange(`${url}/fetch`);
    expect(fetched.status).toBe(500);
    // (the client gets the headers and part of the body, then the connection closes)
    await expect(exchange(`${url}/proxy`)).rejects.toThrow();
    await waitForRecords(logger, "performance_metric", 2);
    await settled(logger);
    const errors = recordsOf(logger, "error");
    const of = (route: string) => errors.filter((e) => (e.context as { route?: string; method?: string }).route === route || (route === "relay" && (e.context as { method?: string }).method === "Proxy.relay"));
    expect(of("/fetch").map((e) => [e.errorType, e.severity, e.message, (e.context as { status: number }).status])).toEqual([["TypeError", "error", "fetch failed", 500]]);
    expect(of("/fetch")[0]!.context).not.toHaveProperty("clientLeft");
    // the method's record, and the request's: the error (once, the method's) and the server's close
    expect(of("relay").map((e) => [e.errorType, e.severity, (e.context as { code?: string }).code])).toEqual([["Error", "error", "ECONNRESET"]]);
    expect(of("relay")[0]!.context).not.toHaveProperty("clientLeft");
    expect(of("/proxy").map((e) => [e.errorType, e.severity, e.message])).toEqual([
      ["http_request_aborted", "warning", "The server closed the connection after an error, once the response to GET /proxy had begun."],
    ]);
    expect(of("/proxy")[0]!.context).toMatchObject({ status: 200, headersSent: true, closedBy: "server" });
    expect(recordsOf(logger, "performance_metric").map((m) => m.context)).toEqual([
      { method: "GET", route: "/fetch", status: 500 },
      { method: "GET", route: "/proxy", status: 200, aborted: true, closedBy: "server" },
    ]);
  });

  it("ECONNRESET from the client's leaving (its reset mid-upload, read by the app's own loop) is the request's abort: no error record beside it", async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger }));
    let failedWith: string | undefined;
    app.post("/ingest", async (req: Request, res: Response, next: NextFunction) => {
      try {
        for await (const chunk of req) void chunk;
        res.send("ok");
      } catch (err) {
        failedWith = (err as NodeJS.ErrnoException).code;
        next(err);
      }
    });
    app.use(auditErrorHandler());
    const { port } = await serveWith(app, {});
    await rawClient(port, "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nsome", (c) => void setTimeout(() => c.resetAndDestroy(), 50));
    await waitForRecords(logger, "performance_metric", 1);
    await settled(logger);
    expect(failedWith).toBe("ECONNRESET");
    expect(recordsOf(logger, "performance_metric").map((m) => m.context)).toEqual([{ method: "POST", route: "/ingest", status: 499, aborted: true }]);
    expect(recordsOf(logger, "error").map((e) => [e.errorType, e.severity])).toEqual([["http_request_aborted", "warning"]]);
  });
});
