/**
 * From the Express new-user pass (2026-12-05): what an app built the way the Express docs show
 * for routers and modular apps gets recorded. Each test builds a real app (Express 5 and 4), talks
 * to it over HTTP and reads the records back from disk.
 */
import net from "node:net";
import compression from "compression";
import type { Request } from "express";
import { describe, expect, it } from "vitest";
import { auditErrorHandler, auditMiddleware } from "../../integrations/express.js";
import { withAudit } from "../../integrations/index.js";
import { AuditConfigError, AuditLogger, setDefaultAuditLogger } from "../../src/index.js";
import { EXPRESS_FLAVORS, contentOf, delay, exchange, recordsOf, expressHarness, waitForRecords, type ExpressFactory } from "./express-helpers.js";

// (each test's loggers finalized and servers closed after it)
const { newLogger, start } = expressHarness();

/** Every record of the logger is on disk, and none comes late. */
async function settled(logger: AuditLogger): Promise<void> {
  await delay(50);
  await logger.flush();
}

const JSON_HEADERS = { "content-type": "application/json" };

describe.each(EXPRESS_FLAVORS)("%s", (_name, express: ExpressFactory) => {
  it("a Router's own path rules (withAudit(router, { chatRoutes, ignore })) match the paths below its mount, as its routes are written (its chat route was never recorded, its ignored route was)", async () => {
    const logger = newLogger();
    const app = express();
    const api = express.Router();
    withAudit(api, { logger, chatRoutes: ["/chat"], ignore: ["/healthz"] });
    api.use(express.json());
    api.post("/chat", (req, res) => void res.json({ answer: `you said ${(req.body as { q: string }).q}` }));
    api.get("/healthz", (_req, res) => void res.send("ok"));
    api.get("/other", (_req, res) => void res.send("other"));
    app.use("/api", api);
    const url = await start(app);

    expect((await exchange(`${url}/api/chat`, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ q: "hi" }) })).body).toBe('{"answer":"you said hi"}');
    expect((await exchange(`${url}/api/healthz`)).body).toBe("ok");
    expect((await exchange(`${url}/api/other`)).body).toBe("other");
    // (a path below another mount is not the router's: "/chat" at the top is not its chat)
    expect((await exchange(`${url}/chat`, { method: "POST", headers: JSON_HEADERS, body: "{}" })).status).toBe(404);

    await waitForRecords(logger, "chat_interaction", 1);
    await settled(logger);
    const routes = recordsOf(logger, "performance_metric").map((m) => (m.context as { route: string }).route);
    expect(routes).toEqual(["/api/chat", "/api/other"]);
    const chats = recordsOf(logger, "chat_interaction");
    expect(chats).toHaveLength(1);
    expect(chats[0]).toMatchObject({ interactionType: "http_chat", statusCode: 200, metadata: { route: "/api/chat", status: 200 } });
    expect(JSON.parse(contentOf(logger, (chats[0]!.fullContent as { prompt: unknown }).prompt))).toEqual({ q: "hi" });
    expect(JSON.parse(contentOf(logger, (chats[0]!.fullContent as { response: unknown }).response))).toEqual({ answer: "you said hi" });
  });

  it("a Router's mount after the app's adds its chat routes to the request the app's records (they were dropped: the chat went unrecorded), with the app's user and trace", async () => {
    const logger = newLogger();
    const app = express();
    withAudit(app, { logger, userId: (req) => req.header("x-user") });
    // one router parses its own bodies (after its mount); the other's were parsed by the app
    const chat = express.Router();
    chat.use(auditMiddleware({ logger, chatRoutes: ["/chat"] }));
    chat.use(express.json());
    chat.post("/chat", async (req, res) => {
      res.setHeader("content-type", "text/event-stream");
      res.write("data: one\n\n");
      await delay(5);
      res.end(`data: ${(req.body as { q: string }).q}\n\n`);
    });
    const parsed = express.Router();
    parsed.use(auditMiddleware({ logger, chatRoutes: ["/ask"], maxBodyBytes: 8 }));
    parsed.post("/ask", (_req, res) => void res.type("text").send("a long answer"));
    app.use("/v1", chat);
    app.use("/v2", express.json(), parsed);
    app.use(auditErrorHandler());
    const url = await start(app);

    const one = await exchange(`${url}/v1/chat`, { method: "POST", headers: { ...JSON_HEADERS, "x-user": "alice", "x-request-id": "req-1" }, body: JSON.stringify({ q: "streamed" }) });
    expect(one.body).toBe("data: one\n\ndata: streamed\n\n");
    const two = await exchange(`${url}/v2/ask`, { method: "POST", headers: { ...JSON_HEADERS, "x-user": "bob" }, body: JSON.stringify({ q: "parsed" }) });
    expect(two.body).toBe("a long answer");

    await waitForRecords(logger, "chat_interaction", 2);
    await settled(logger);
    const metrics = recordsOf(logger, "performance_metric");
    expect(metrics).toHaveLength(2);
    const chats = recordsOf(logger, "chat_interaction");
    expect(chats).toHaveLength(2);
    const [c1, c2] = chats;
    expect(c1).toMatchObject({ userId: "alice", traceId: "req-1", parentId: metrics[0]!.id, statusCode: 200, responsePreview: "data: one\n\ndata: streamed\n\n", metadata: { route: "/v1/chat" } });
    expect(c1!.metadata).toMatchObject({ requestBodyBytes: 16 });
    expect(JSON.parse(contentOf(logger, (c1!.fullContent as { prompt: unknown }).prompt))).toEqual({ q: "streamed" });
    // the app's parser read the body before the router's mount: the prompt is the parsed body
    // (never the end of the bytes that passed after), cut at the router's maxBodyBytes
    expect(c2).toMatchObject({ userId: "bob", parentId: metrics[1]!.id, traceId: metrics[1]!.traceId, responsePreview: "a long a", metadata: { route: "/v2/ask", requestBodyBytes: 0, responseBodyTruncated: true } });
    expect(c2!.promptPreview).toBe('{"q":"pa');
  });

  it("a Router's chat added behind compression() (between the app's mount and the Router's) is recorded as the text the app wrote (the copied bytes were read as gzip: a size note)", async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger }));
    app.use(compression({ threshold: 0 }));
    const api = express.Router();
    api.use(auditMiddleware({ logger, chatRoutes: ["/chat"] }));
    api.get("/chat", (_req, res) => void res.json({ answer: "hello hello hello" }));
    app.use("/api", api);
    const url = await start(app);
    const got = await exchange(`${url}/api/chat`, { headers: { "accept-encoding": "gzip" } });
    expect(got.headers["content-encoding"]).toBe("gzip");
    expect(got.body).toBe('{"answer":"hello hello hello"}');
    const [chat] = await waitForRecords(logger, "chat_interaction", 1);
    expect(chat).toMatchObject({ responsePreview: '{"answer":"hello hello hello"}', metadata: { route: "/api/chat" } });
  });

  it("a numeric user id (a database's) is returned as it is, typed: recorded as its text, and an anonymous request has no user (String(req.user?.id), which the string-only type led to, recorded \"undefined\")", async () => {
    interface User {
      id: number;
    }
    const userOf = (req: Request): User | undefined => (req as Request & { user?: User }).user;
    const logger = newLogger();
    const app = express();
    // (no cast: the options take a number; before, this was TS2322)
    const conversation = (req: Request): number | undefined => (req.header("x-conversation") === undefined ? undefined : Number(req.header("x-conversation")));
    app.use(auditMiddleware({ logger, userId: (req) => userOf(req)?.id, sessionId: conversation }));
    app.use((req, _res, next) => {
      const token = req.header("authorization");
      if (token === "Bearer 42") (req as Request & { user?: User }).user = { id: 42 };
      next();
    });
    app.get("/me", (_req, res) => void res.send("me"));
    const url = await start(app);
    expect((await exchange(`${url}/me`, { headers: { authorization: "Bearer 42", "x-conversation": "9" } })).body).toBe("me");
    expect((await exchange(`${url}/me`)).body).toBe("me");
    await waitForRecords(logger, "performance_metric", 2);
    await settled(logger);
    const [known, anonymous] = recordsOf(logger, "performance_metric");
    expect(known).toMatchObject({ userId: "42", metadata: { appSessionId: "9" } });
    expect(anonymous!.userId).toBeUndefined();
    expect(anonymous!.metadata).not.toHaveProperty("appSessionId");
  });

  it("withAudit(app) given an app that already has routes warns that the requests they answer are not recorded (they went unrecorded silently); middleware before it, as the docs advise, is no reason", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if ((w as { code?: string }).code === "AUDIT_WARN_MIDDLEWARE_AFTER_ROUTES") warnings.push(w);
    };
    process.on("warning", onWarning);
    try {
      const logger = newLogger();
      // the docs' order: compression and body parsers may come first
      const fine = express();
      fine.use(compression());
      fine.use(express.json());
      withAudit(fine, { logger });
      withAudit(express(), { logger });
      withAudit(express.Router(), { logger });
      await delay(5);
      expect(warnings).toEqual([]);

      const late = express();
      late.get("/health", (_req, res) => void res.send("ok"));
      const api = express.Router();
      api.get("/users/:id", (_req, res) => void res.send("user"));
      late.use("/api", api);
      const sub = express();
      sub.get("/x", (_req, res) => void res.send("x"));
      late.use("/v1", sub);
      withAudit(late, { logger });
      withAudit(late, { logger }); // (once per app)
      const router = express.Router();
      router.post("/chat", (_req, res) => void res.send("hi"));
      withAudit(router, { logger });
      await delay(5);
      expect(warnings.map((w) => w.message)).toEqual([
        expect.stringMatching(/^withAudit\(\) was given an Express app that already has 3 routes, Routers or sub-apps: .* not recorded\. Call withAudit\(\) before defining routes/),
        expect.stringMatching(/^withAudit\(\) was given an Express Router that already has 1 route, Router or sub-app: /),
      ]);
      expect(warnings[0]!.name).toBe("AuditLoggerWarning");

      // what it warns of: the app still answers, its routes unrecorded, the rest recorded
      const url = await start(late);
      expect((await exchange(`${url}/health`)).body).toBe("ok");
      expect((await exchange(`${url}/nowhere`)).status).toBe(404);
      await waitForRecords(logger, "performance_metric", 1);
      await settled(logger);
      expect(recordsOf(logger, "performance_metric").map((m) => (m.context as { route: string }).route)).toEqual(["/nowhere"]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("a route on several paths in a Router is recorded with the mount path before each (the second was recorded without it: /api/a/:id|/b/:id)", async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger }));
    const api = express.Router();
    api.get(["/a/:id", "/b/:id"], (_req, res) => void res.send("either"));
    app.use("/api", api);
    app.get(["/c", "/d"], (_req, res) => void res.send("top"));
    const url = await start(app);
    expect((await exchange(`${url}/api/b/7`)).body).toBe("either");
    expect((await exchange(`${url}/d`)).body).toBe("top");
    await waitForRecords(logger, "performance_metric", 2);
    await settled(logger);
    expect(recordsOf(logger, "performance_metric").map((m) => (m.context as { route: string }).route)).toEqual(["/api/a/:id|/api/b/:id", "/c|/d"]);
  });

  it("sessionId(req) that reads what a later middleware makes (the parsed body's conversation, a cookie session) is asked again when a route matches and at the end (it was asked only at the start: no request had an app session)", async () => {
    type WithSession = Request & { session?: { id: string } };
    const logger = newLogger();
    const failures: Error[] = [];
    logger.on("error", (e) => failures.push(e));
    const app = express();
    app.use(
      auditMiddleware({
        logger,
        chatRoutes: ["/chat", "/late"],
        // (throws before the body parser ran: reported once per request, asked again)
        sessionId: (req) => (req.body as { conversationId?: string }).conversationId ?? (req as WithSession).session?.id,
      }),
    );
    app.use("/chat", express.json());
    app.use((req, _res, next) => {
      if (req.header("cookie") === "sid=s1") (req as WithSession).session = { id: "cookie-session-1" };
      next();
    });
    app.post("/chat", (_req, res) => {
      logger.logToolUsage({ toolName: "kb", operation: "search" });
      res.json({ ok: true });
    });
    // a route's own parser runs after the route matched: the request's own records have the session
    app.post("/late", express.json(), (_req, res) => void res.json({ ok: true }));
    const url = await start(app);

    const post = (path: string, body: unknown, headers: Record<string, string> = {}) => exchange(`${url}${path}`, { method: "POST", headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) });
    expect((await post("/chat", { conversationId: "conv-9", message: "hi" })).status).toBe(200);
    expect((await post("/chat", { message: "hi" }, { cookie: "sid=s1" })).status).toBe(200);
    expect((await post("/late", { conversationId: "conv-10" })).status).toBe(200);
    expect((await post("/chat", { message: "anonymous" })).status).toBe(200);

    await waitForRecords(logger, "chat_interaction", 4);
    await settled(logger);
    const sessionOf = (r: Record<string, unknown>) => (r.metadata as { appSessionId?: string }).appSessionId;
    expect(recordsOf(logger, "performance_metric").map(sessionOf)).toEqual(["conv-9", "cookie-session-1", "conv-10", undefined]);
    expect(recordsOf(logger, "chat_interaction").map(sessionOf)).toEqual(["conv-9", "cookie-session-1", "conv-10", undefined]);
    // the handler's records, made after the route matched
    expect(recordsOf(logger, "tool_usage").map(sessionOf)).toEqual(["conv-9", "cookie-session-1", undefined]);
    // each request's lookup threw when it started (req.body undefined), reported once per request
    expect(failures.map((e) => e.constructor.name)).toEqual(["TypeError", "TypeError", "TypeError", "TypeError"]);
  });
  it("an error raised after the response went out is recorded with the status the client got (sentStatus, headersSent) beside the one it implies (it said only status 500, for a client that had its 200)", async () => {
    const logger = newLogger();
    const app = express();
    // (each response closes its connection: Express destroys the socket of a response an error
    // cut off, and a request the client sent on it again, kept alive, failed: "fetch failed")
    app.use((_req, res, next) => {
      res.setHeader("connection", "close");
      next();
    });
    app.use(auditMiddleware({ logger }));
    app.get("/after", (_req, res, next) => {
      res.status(201).json({ ok: true });
      setTimeout(() => next(new Error("failed after answering")), 5);
    });
    app.get("/mid", (_req, res, next) => {
      res.setHeader("content-type", "text/event-stream");
      res.write("data: partial\n\n");
      next(Object.assign(new Error("failed mid-stream"), { status: 502 }));
    });
    app.get("/before", () => {
      throw new Error("failed before answering");
    });
    app.use(auditErrorHandler());
    const url = await start(app);
    expect(await exchange(`${url}/after`)).toMatchObject({ status: 201, body: '{"ok":true}' });
    await exchange(`${url}/mid`).catch(() => undefined); // (Express cuts the stream off)
    expect((await exchange(`${url}/before`)).status).toBe(500);
    await waitForRecords(logger, "error", 3);
    await delay(30);
    await settled(logger);
    const thrown = recordsOf(logger, "error").filter((e) => e.errorType === "Error");
    expect(thrown.map((e) => [e.message, e.context]).sort((a, b) => String(a[0]).localeCompare(String(b[0])))).toEqual([
      ["failed after answering", { method: "GET", route: "/after", status: 500, headersSent: true, sentStatus: 201 }],
      ["failed before answering", { method: "GET", route: "/before", status: 500 }],
      ["failed mid-stream", { method: "GET", route: "/mid", status: 502, headersSent: true, sentStatus: 200 }],
    ]);
  });
  it("a chat asked in the query string (EventSource can only GET) has its parameters as the prompt, credentials hidden (the prompt was \"\")", async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger, chatRoutes: ["/api/chat"] }));
    app.use(express.json());
    app.get("/api/chat/stream", (req, res) => {
      res.setHeader("content-type", "text/event-stream");
      res.end(`data: you asked ${String(req.query.message)}\n\n`);
    });
    app.post("/api/chat", (_req, res) => void res.json({ ok: true }));
    const url = await start(app);
    const got = await exchange(`${url}/api/chat/stream?message=hello%20there&access_token=sk-live-abc123&tag=a&tag=b`);
    expect(got.body).toBe("data: you asked hello there\n\n");
    // a body, when there is one, is the prompt (the query stays out of it)
    await exchange(`${url}/api/chat?access_token=sk-live-abc123`, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ q: "body" }) });
    await waitForRecords(logger, "chat_interaction", 2);
    await settled(logger);
    const [asked, posted] = recordsOf(logger, "chat_interaction");
    expect(asked).toMatchObject({ promptFormat: "json", metadata: { route: "/api/chat/stream", promptFrom: "query", requestBodyBytes: 0 } });
    expect(JSON.parse(contentOf(logger, (asked!.fullContent as { prompt: unknown }).prompt))).toEqual({ message: "hello there", access_token: "[REDACTED]", tag: ["a", "b"] });
    expect(JSON.parse(contentOf(logger, (posted!.fullContent as { prompt: unknown }).prompt))).toEqual({ q: "body" });
    expect(posted!.metadata).not.toHaveProperty("promptFrom");
    // the credential is nowhere: records or content files
    for (const kind of ["chat_interaction", "performance_metric"] as const) expect(JSON.stringify(recordsOf(logger, kind))).not.toContain("sk-live-abc123");
    for (const rec of [asked, posted]) expect(contentOf(logger, (rec!.fullContent as { prompt: unknown }).prompt)).not.toContain("sk-live-abc123");
  });
  it("a stream Express cuts off after an error (next(err) once the response began) is recorded as closed by the server, not as a client that left (it was)", async () => {
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger, chatRoutes: ["/chat"] }));
    app.get("/chat/fails", (_req, res, next) => {
      res.setHeader("content-type", "text/event-stream");
      res.write("data: partial\n\n");
      setTimeout(() => next(new Error("upstream failed mid-stream")), 5);
    });
    app.get("/chat/slow", (_req, res) => {
      res.setHeader("content-type", "text/event-stream");
      res.write("data: partial\n\n");
      // (the client leaves; this never ends)
    });
    app.use(auditErrorHandler());
    const url = await start(app);
    await exchange(`${url}/chat/fails`).catch(() => undefined);
    const left = new AbortController();
    const reply = await fetch(`${url}/chat/slow`, { signal: left.signal });
    await reply.body!.getReader().read();
    left.abort();
    await waitForRecords(logger, "chat_interaction", 2);
    await settled(logger);
    const aborts = recordsOf(logger, "error").filter((e) => e.errorType === "http_request_aborted");
    const byRoute = (route: string) => aborts.find((e) => (e.context as { route: string }).route === route);
    expect(byRoute("/chat/fails")).toMatchObject({
      message: "The server closed the connection after an error, once the response to GET /chat/fails had begun.",
      context: { status: 200, headersSent: true, closedBy: "server" },
    });
    expect(byRoute("/chat/slow")).toMatchObject({ message: "The client closed the connection before the response to GET /chat/slow finished." });
    expect(byRoute("/chat/slow")!.context).not.toHaveProperty("closedBy");
    const chats = recordsOf(logger, "chat_interaction");
    const chatOf = (route: string) => chats.find((c) => (c.metadata as { route: string }).route === route);
    expect(chatOf("/chat/fails")).toMatchObject({ success: false, errorMessage: "The server closed the connection after an error, once the response had begun.", responsePreview: "data: partial\n\n" });
    expect(chatOf("/chat/slow")).toMatchObject({ success: false, errorMessage: "The client closed the connection before the response finished." });
  });
  it("without auditErrorHandler, a stream Express cuts off after next(err), or the app destroys, is still recorded as closed by the server (the client's socket never ended it), not as a client that left", async () => {
    // found by the Express leftovers pass, 2026-12-05: only an error auditErrorHandler saw told
    // the two apart; a client that leaves ends its side of the connection first (or resets it),
    // a server that closes it does not
    const logger = newLogger();
    const app = express();
    app.use(auditMiddleware({ logger, chatRoutes: ["/chat"] }));
    app.get("/chat/fails", (_req, res, next) => {
      res.setHeader("content-type", "text/event-stream");
      res.write("data: partial\n\n");
      setTimeout(() => next(new Error("upstream failed mid-stream")), 5);
    });
    app.get("/chat/cut", (_req, res) => {
      res.setHeader("content-type", "text/event-stream");
      res.write("data: partial\n\n");
      setTimeout(() => res.destroy(), 5);
    });
    app.get("/chat/slow", (_req, res) => {
      res.setHeader("content-type", "text/event-stream");
      res.write("data: partial\n\n");
    });
    const url = await start(app);
    await exchange(`${url}/chat/fails`).catch(() => undefined);
    await exchange(`${url}/chat/cut`).catch(() => undefined);
    const left = new AbortController();
    const reply = await fetch(`${url}/chat/slow`, { signal: left.signal });
    await reply.body!.getReader().read();
    left.abort();
    // and one that resets the connection (RST) instead of closing it
    const port = Number(new URL(url).port);
    await new Promise<void>((resolve) => {
      const sock = net.connect(port, "127.0.0.1", () => sock.write("GET /chat/slow?reset=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
      sock.once("data", () => (sock.resetAndDestroy(), resolve()));
      sock.on("error", () => undefined);
    });
    await waitForRecords(logger, "chat_interaction", 4);
    await settled(logger);
    const errors = recordsOf(logger, "error");
    const byRoute = (route: string) => errors.filter((e) => (e.context as { route: string }).route === route);
    for (const route of ["/chat/fails", "/chat/cut"]) {
      expect(byRoute(route)).toEqual([
        expect.objectContaining({
          errorType: "http_request_aborted",
          message: `The server closed the connection before the response to GET ${route} finished.`,
          context: expect.objectContaining({ status: 200, headersSent: true, closedBy: "server" }),
        }),
      ]);
    }
    expect(byRoute("/chat/slow")).toEqual([
      expect.objectContaining({ message: "The client closed the connection before the response to GET /chat/slow finished." }),
      expect.objectContaining({ message: "The client closed the connection before the response to GET /chat/slow finished." }),
    ]);
    for (const e of byRoute("/chat/slow")) expect(e.context).not.toHaveProperty("closedBy");
    const chats = recordsOf(logger, "chat_interaction");
    const chatOf = (route: string) => chats.find((c) => (c.metadata as { route: string }).route === route);
    expect(chatOf("/chat/fails")).toMatchObject({ success: false, errorMessage: "The server closed the connection before the response finished." });
    expect(chatOf("/chat/slow")).toMatchObject({ success: false, errorMessage: "The client closed the connection before the response finished." });
  });
});

describe("express: the factories given for the middleware (app.use(auditMiddleware), which type-checks)", () => {
  it("serve each request as auditMiddleware() and auditErrorHandler() would, and warn once each (every request was a 500 with an AuditConfigError naming the request's members)", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => {
      if ((w as { code?: string }).code === "AUDIT_WARN_UNCALLED_FACTORY") warnings.push(w.message);
    };
    process.on("warning", onWarning);
    const logger = newLogger();
    setDefaultAuditLogger(logger);
    try {
      for (const [, express] of EXPRESS_FLAVORS) {
        const build = (audited: boolean) => {
          const app = express();
          app.set("env", "production");
          if (audited) app.use(auditMiddleware);
          app.get("/ok", (_req, res) => void res.send("ok"));
          app.get("/boom", () => {
            throw Object.assign(new Error("boom"), { status: 503 });
          });
          if (audited) app.use(auditErrorHandler);
          return app;
        };
        const url = await start(build(true));
        const bare = await start(build(false));
        for (const path of ["/ok", "/boom"]) expect(await exchange(`${url}${path}`)).toEqual(await exchange(`${bare}${path}`));
      }
      await waitForRecords(logger, "performance_metric", 4);
      await settled(logger);
      expect(recordsOf(logger, "performance_metric").map((m) => m.context)).toEqual([
        { method: "GET", route: "/ok", status: 200 },
        { method: "GET", route: "/boom", status: 503 },
        { method: "GET", route: "/ok", status: 200 },
        { method: "GET", route: "/boom", status: 503 },
      ]);
      // the error handler recorded each error (no second http_server_error record)
      expect(recordsOf(logger, "error").map((e) => [e.errorType, e.message, (e.context as { status: number }).status])).toEqual([
        ["Error", "boom", 503],
        ["Error", "boom", 503],
      ]);
      await delay(5);
      expect(warnings).toEqual([
        expect.stringMatching(/^app\.use\(auditMiddleware\) was given the factory, not the middleware it makes: .*Call it: app\.use\(auditMiddleware\(/),
        expect.stringMatching(/^app\.use\(auditErrorHandler\) was given the factory, not the error handler it makes: .*Call it: app\.use\(auditErrorHandler\(\)\)/),
      ]);
      // called as factories they are what they were
      expect(() => auditMiddleware({ logger, maxBodyBytes: -1 })).toThrow(AuditConfigError);
      expect(auditErrorHandler()).toHaveLength(4);
    } finally {
      setDefaultAuditLogger(undefined);
      process.off("warning", onWarning);
    }
  });
});
