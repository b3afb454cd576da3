// An @AuditErrors method an Express request runs, stopped because the client left: the request's
// AbortSignal fired (an AbortController on res "close", as apps stop an SDK call or a stream), and
// the method rejected with the AbortError / APIUserAbortError that caused. Found by the Express
// pass, 2026-12-05: the method recorded it at severity `error`, beside the middleware's own
// `http_request_aborted` warning, two records for one abort. Real express, the real `openai`
// client against the local fake, a real HTTP client that disconnects mid-request; both decorator
// modes.
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import express, { type NextFunction, type Request, type Response } from "express";
import OpenAI, { APIUserAbortError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditErrors, AuditTool } from "../../decorators/index.js";
import { auditErrorHandler, auditMiddleware } from "../../integrations/express.js";
import type { AuditLogger } from "../../src/logger.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { delay, expressHarness, recordsOf, waitForRecords } from "../integrations/express-helpers.js";
import { decorate, type Mode } from "./apply.js";

const { newLogger, start } = expressHarness();

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});

/** The request's signal: aborted when the client leaves before the response finished. */
function signalOf(res: Response): AbortSignal {
  const ac = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}

interface Served {
  url: string;
  /** what each request's service call ended with, by path, once it ended */
  ended: Map<string, Promise<unknown>>;
}

async function app(mode: Mode, logger: AuditLogger, serviceLogger: AuditLogger = logger): Promise<Served> {
  const openai = new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 });
  class Assistant {
    async ask(question: string, signal: AbortSignal): Promise<string> {
      const r = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: question }] }, { signal });
      return r.choices[0]?.message.content ?? "";
    }
    async wait(signal: AbortSignal): Promise<void> {
      await sleep(5_000, undefined, { signal });
    }
    /** the app's own wrap of the abort (found by review, 2026-12-05: recorded as an `error`) */
    async wrapped(signal: AbortSignal): Promise<void> {
      try {
        await sleep(5_000, undefined, { signal });
      } catch (err) {
        throw new Error("upstream failed", { cause: err });
      }
    }
    /** causes that go round (a → b → a), none an abort: read up to the bound, and an error */
    async cyclic(signal: AbortSignal): Promise<void> {
      await new Promise((r) => signal.addEventListener("abort", r));
      const a = new Error("upstream failed");
      const b = new Error("retry failed", { cause: a });
      Object.defineProperty(a, "cause", { value: b });
      throw a;
    }
    async broke(signal: AbortSignal): Promise<void> {
      await new Promise((r) => signal.addEventListener("abort", r));
      throw new TypeError("cannot read the upstream's last chunk");
    }
  }
  decorate(mode, Assistant, "ask", AuditErrors({ logger: serviceLogger }));
  decorate(mode, Assistant, "wait", AuditErrors({ logger: serviceLogger }));
  decorate(mode, Assistant, "broke", AuditErrors({ logger: serviceLogger }));
  decorate(mode, Assistant, "wrapped", AuditErrors({ logger: serviceLogger }));
  decorate(mode, Assistant, "cyclic", AuditErrors({ logger: serviceLogger }));
  // stacked: the tool's record says the call failed; the error record is still one
  decorate(mode, Assistant, "wait", AuditTool("waiter", { logger: serviceLogger }));
  const assistant = new Assistant();
  const ended = new Map<string, Promise<unknown>>();
  const a = express();
  a.use(auditMiddleware({ logger }));
  const route = (path: string, call: (signal: AbortSignal) => Promise<unknown>) =>
    a.get(path, (_req: Request, res: Response, next: NextFunction) => {
      const p = call(signalOf(res)).then(
        (v) => res.send(String(v)),
        (err: unknown) => {
          next(err);
          return err;
        },
      );
      ended.set(path, p);
    });
  route("/ask", (signal) => assistant.ask("hi", signal));
  route("/wait", (signal) => assistant.wait(signal));
  route("/broke", (signal) => assistant.broke(signal));
  route("/wrapped", (signal) => assistant.wrapped(signal));
  route("/cyclic", (signal) => assistant.cyclic(signal));
  route("/gave-up-wrapped", () => assistant.wrapped(AbortSignal.abort()));
  // the app gave up on its upstream itself, the client still there: an error
  route("/gave-up", () => assistant.wait(AbortSignal.abort()));
  a.use(auditErrorHandler());
  a.use((_err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (!res.headersSent) res.status(500).send("failed");
  });
  return { url: await start(a), ended };
}

/** A GET whose client disconnects once the handler has started the service call, `afterMs` later. */
async function leave(served: Served, path: string, afterMs = 50): Promise<void> {
  const req = http.get(`${served.url}${path}`, () => undefined);
  req.on("error", () => undefined);
  for (let i = 0; i < 500 && !served.ended.has(path); i++) await delay(10);
  await delay(afterMs);
  req.destroy();
}

describe.each(["standard", "legacy"] as const)("@AuditErrors and a client that left (%s)", (mode) => {
  it("an AbortError / APIUserAbortError the client's leaving caused is the request's abort, recorded once (the middleware's warning), not again as the method's error", async () => {
    const logger = newLogger();
    const served = await app(mode, logger);
    fake.enqueue({ headersDelayMs: 3_000 });
    for (const p of ["/ask", "/wait"]) {
      await leave(served, p);
    }
    expect(await served.ended.get("/ask")).toBeInstanceOf(APIUserAbortError);
    expect(await served.ended.get("/wait")).toMatchObject({ name: "AbortError" });
    await waitForRecords(logger, "performance_metric", 2);
    await delay(50);
    await logger.flush();
    const metrics = recordsOf(logger, "performance_metric");
    const errors = recordsOf(logger, "error");
    expect(errors.map((e) => [metrics.find((m) => m.traceId === e.traceId)?.context, e.errorType, e.severity])).toEqual([
      [{ method: "GET", route: "/ask", status: 499, aborted: true }, "http_request_aborted", "warning"],
      [{ method: "GET", route: "/wait", status: 499, aborted: true }, "http_request_aborted", "warning"],
    ]);
    // the stacked @AuditTool still records the call it made, failed with the abort
    expect(recordsOf(logger, "tool_usage")).toMatchObject([{ toolName: "waiter", success: false, errorMessage: expect.stringMatching(/abort/i) }]);
  });

  it("an error that is no abort, raised after the client left, and an AbortError while the client is still there (the app gave up) are still recorded as errors by the method", async () => {
    const logger = newLogger();
    const served = await app(mode, logger);
    await leave(served, "/broke");
    expect(await served.ended.get("/broke")).toBeInstanceOf(TypeError);
    const gaveUp = await fetch(`${served.url}/gave-up`);
    expect(gaveUp.status).toBe(500);
    await waitForRecords(logger, "performance_metric", 2);
    await delay(50);
    await logger.flush();
    const errors = recordsOf(logger, "error").map((e) => [e.errorType, e.severity, (e.context as { method?: string }).method]).sort();
    expect(errors).toEqual([
      ["AbortError", "error", "Assistant.wait"],
      ["TypeError", "error", "Assistant.broke"],
      ["http_request_aborted", "warning", "GET"],
    ]);
  });

  it("an abort the method wrapped (new Error(..., { cause })) after the client left is recorded once, as a warning saying the client left and where the abort is, not an error (auditErrorHandler does not record it again); the same wrap with the client there, and causes that go round with no abort, are errors", async () => {
    const logger = newLogger();
    const own = newLogger();
    const served = await app(mode, logger);
    await leave(served, "/wrapped");
    await leave(served, "/cyclic");
    expect(await served.ended.get("/wrapped")).toMatchObject({ message: "upstream failed", cause: { name: "AbortError" } });
    expect(await served.ended.get("/cyclic")).toMatchObject({ message: "upstream failed" });
    const gaveUp = await fetch(`${served.url}/gave-up-wrapped`);
    expect(gaveUp.status).toBe(500);
    await waitForRecords(logger, "performance_metric", 3);
    await delay(50);
    await logger.flush();
    const routes = new Map(recordsOf(logger, "performance_metric").map((m) => [m.traceId, (m.context as { route: string }).route]));
    const errors = recordsOf(logger, "error")
      .map((e) => [routes.get(e.traceId), e.errorType, e.severity, e.errorType === "http_request_aborted" ? "(abort)" : e.message, e.errorType === "http_request_aborted" ? undefined : e.context])
      .sort((x, y) => `${String(x[0])} ${String(x[1])}`.localeCompare(`${String(y[0])} ${String(y[1])}`));
    expect(errors).toEqual([
      ["/cyclic", "Error", "error", "upstream failed", { method: "Assistant.cyclic" }],
      ["/cyclic", "http_request_aborted", "warning", "(abort)", undefined],
      ["/gave-up-wrapped", "Error", "error", "upstream failed", { method: "Assistant.wrapped" }],
      ["/wrapped", "Error", "warning", "upstream failed", { method: "Assistant.wrapped", clientLeft: true, abortAt: "cause" }],
      ["/wrapped", "http_request_aborted", "warning", "(abort)", undefined],
    ]);
    // to a logger of its own: the same warning
    const mine = await app(mode, logger, own);
    await leave(mine, "/wrapped");
    expect(await mine.ended.get("/wrapped")).toMatchObject({ message: "upstream failed" });
    await waitForRecords(own, "error", 1);
    await own.flush();
    expect(recordsOf(own, "error")).toMatchObject([{ errorType: "Error", severity: "warning", message: "upstream failed", context: { method: "Assistant.wrapped", clientLeft: true, abortAt: "cause" } }]);
  });

  it("to a logger of its own (a library's trail, which has no record of the request's abort) the method records the abort, as a warning saying the client left", async () => {
    const logger = newLogger();
    const own = newLogger();
    const served = await app(mode, logger, own);
    await leave(served, "/wait");
    expect(await served.ended.get("/wait")).toMatchObject({ name: "AbortError" });
    await waitForRecords(logger, "performance_metric", 1);
    await delay(50);
    await own.flush();
    await logger.flush();
    expect(recordsOf(logger, "error").map((e) => e.errorType)).toEqual(["http_request_aborted"]);
    expect(recordsOf(own, "error")).toMatchObject([{ errorType: "AbortError", severity: "warning", context: { method: "Assistant.wait", clientLeft: true } }]);
  });
});
