/**
 * A local stand-in for the OpenAI API: an HTTP server on 127.0.0.1 (random port) that answers
 * POST /v1/chat/completions and POST /v1/responses with the recorded bodies in
 * test/fixtures/openai, as JSON or as server-sent events, like the real service. Point the real
 * `openai` package at it with `new OpenAI({ baseURL: fake.baseURL, apiKey: "test" })`.
 *
 * Knobs, per request (queued with `enqueue`, else the default scenario): an HTTP error status,
 * a connection reset before any response, a drop in the middle of a stream, slow chunks, an
 * in-stream error event, and a fixture override. No network, no key.
 *
 * @example
 * const fake = await startFakeOpenAI();
 * const client = new OpenAI({ baseURL: fake.baseURL, apiKey: "test", maxRetries: 0 });
 * fake.enqueue({ status: 429 });
 * await client.chat.completions.create({ model: "gpt-4o-mini", messages }).catch((e) => e); // RateLimitError
 * await fake.close();
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

const FIXTURES = fileURLToPath(new URL("../fixtures/openai/", import.meta.url));

/** What the fake does with one request. */
export interface FakeScenario {
  /** answer with this HTTP error status and an OpenAI error body */
  readonly status?: number;
  /** message of the error body (status errors) or of the in-stream error event */
  readonly errorMessage?: string;
  /** destroy the connection before sending anything (a network error) */
  readonly resetConnection?: boolean;
  /** streams: destroy the connection after this many events */
  readonly dropAfterEvents?: number;
  /** streams: send an `error` event after this many events, then end */
  readonly errorAfterEvents?: number;
  /** streams: end the response cleanly after this many events (no finish, no [DONE]: a server that hung up) */
  readonly endAfterEvents?: number;
  /** streams: wait this long before each event */
  readonly eventDelayMs?: number;
  /** wait this long before the response headers */
  readonly headersDelayMs?: number;
  /** JSON answers: send the first half of the body with the headers, the rest this long after */
  readonly bodyDelayMs?: number;
  /** a file in test/fixtures/openai to answer with instead of the default for the route */
  readonly fixture?: string;
}

/** One request the fake received. */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface FakeOpenAI {
  /** `http://127.0.0.1:<port>/v1`, for the client's `baseURL` */
  readonly baseURL: string;
  readonly requests: FakeRequest[];
  /** the scenario for the next request (a FIFO queue; the default applies when it is empty) */
  enqueue(...scenarios: FakeScenario[]): void;
  /** the scenario used when the queue is empty (initially: a normal answer) */
  setDefault(scenario: FakeScenario): void;
  close(): Promise<void>;
}

const fixtureCache = new Map<string, string>();
function fixture(name: string): string {
  let text = fixtureCache.get(name);
  if (text === undefined) {
    text = fs.readFileSync(FIXTURES + name, "utf8");
    fixtureCache.set(name, text);
  }
  return text;
}

function defaultFixture(path: string, body: Record<string, unknown>): string {
  if (path.endsWith("/embeddings")) return "embeddings.json";
  if (path.endsWith("/responses/compact")) return "responses-compact.json";
  const stream = body.stream === true;
  const tools = Array.isArray(body.tools) && body.tools.length > 0;
  if (path.endsWith("/responses")) return stream ? (tools ? "responses-stream-tools.sse" : "responses-stream.sse") : tools ? "responses-tools.json" : "responses.json";
  return stream ? (tools ? "chat-stream-tools.sse" : "chat-stream.sse") : tools ? "chat-completion-tools.json" : "chat-completion.json";
}

/** Splits an SSE fixture into events; for chat streams without `include_usage`, drops the usage chunk like the API does. */
function sseEvents(text: string, body: Record<string, unknown>, isChat: boolean): string[] {
  const events = text.split("\n\n").filter((e) => e.trim() !== "").map((e) => e + "\n\n");
  const so = body.stream_options as { include_usage?: unknown } | undefined;
  if (!isChat || so?.include_usage === true) return events;
  const out: string[] = [];
  for (const e of events) {
    const data = e.startsWith("data: ") ? e.slice(6).trim() : "";
    if (data === "" || data === "[DONE]") {
      out.push(e);
      continue;
    }
    const chunk = JSON.parse(data) as { choices?: unknown[]; usage?: unknown };
    if (Array.isArray(chunk.choices) && chunk.choices.length === 0) continue;
    delete chunk.usage;
    out.push(`data: ${JSON.stringify(chunk)}\n\n`);
  }
  return out;
}

/**
 * The fake's default answers without a server: a `fetch` for the client's `fetch` option that
 * answers POST …/chat/completions and …/responses from the same fixtures, JSON or SSE (one body
 * chunk per event), with no sockets. For measuring a client's own work without the network's
 * noise (bench/overhead-openai.ts --in-memory).
 */
export function fakeOpenAIFetch(): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  let counter = 0;
  const encoder = new TextEncoder();
  return async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const path = new URL(url).pathname;
    const body = typeof init?.body === "string" ? (JSON.parse(init.body) as Record<string, unknown>) : {};
    const headers = { "x-request-id": `req_mem_${++counter}` };
    const name = defaultFixture(path, body);
    if (!name.endsWith(".sse")) return new Response(fixture(name), { status: 200, headers: { ...headers, "content-type": "application/json" } });
    const events = sseEvents(fixture(name), body, path.endsWith("/chat/completions")).map((e) => encoder.encode(e));
    let i = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i < events.length) controller.enqueue(events[i++]!);
        else controller.close();
      },
    });
    return new Response(stream, { status: 200, headers: { ...headers, "content-type": "text/event-stream" } });
  };
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "invalid_request_error",
  403: "permission_error",
  404: "invalid_request_error",
  429: "rate_limit_exceeded",
  500: "server_error",
  503: "server_error",
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the fake on 127.0.0.1 with a random port. */
export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const queue: FakeScenario[] = [];
  let fallback: FakeScenario = {};
  const requests: FakeRequest[] = [];
  let counter = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void answer(req, res, Buffer.concat(chunks).toString("utf8"));
    });
  });

  async function answer(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      // a non-JSON body is answered like any other request
    }
    requests.push({ method: req.method ?? "GET", path, headers: req.headers, body });
    const sc = queue.shift() ?? fallback;
    const requestId = `req_fake_${++counter}`;
    if (sc.resetConnection) {
      req.socket.destroy();
      return;
    }
    if (sc.headersDelayMs) await sleep(sc.headersDelayMs);
    const known = req.method === "POST" && (path === "/v1/chat/completions" || path === "/v1/responses" || path === "/v1/responses/compact" || path === "/v1/embeddings");
    const status = sc.status ?? (known ? 200 : 404);
    if (status >= 400) {
      const message = sc.errorMessage ?? (known ? `Fake error ${status}` : `Unknown route ${req.method} ${path}`);
      const payload = JSON.stringify({ error: { message, type: ERROR_TYPES[status] ?? "api_error", param: null, code: status === 429 ? "rate_limit_exceeded" : null } });
      res.writeHead(status, { "content-type": "application/json", "x-request-id": requestId, "retry-after-ms": "1" });
      res.end(payload);
      return;
    }
    const name = sc.fixture ?? defaultFixture(path, body);
    const text = fixture(name);
    if (!name.endsWith(".sse")) {
      res.writeHead(200, { "content-type": "application/json", "x-request-id": requestId });
      if (sc.bodyDelayMs) {
        const half = Math.floor(text.length / 2);
        res.write(text.slice(0, half));
        await sleep(sc.bodyDelayMs);
        if (res.destroyed || req.socket.destroyed) return;
        res.end(text.slice(half));
        return;
      }
      res.end(text);
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-request-id": requestId });
    res.flushHeaders();
    const events = sseEvents(text, body, path.endsWith("/chat/completions"));
    for (let i = 0; i < events.length; i++) {
      if (sc.dropAfterEvents !== undefined && i >= sc.dropAfterEvents) {
        // let the events already written reach the client first, as a real drop would
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      if (sc.errorAfterEvents !== undefined && i >= sc.errorAfterEvents) {
        const message = sc.errorMessage ?? "The server had an error while processing your request.";
        res.end(`data: ${JSON.stringify({ error: { message, type: "server_error", param: null, code: null } })}\n\n`);
        return;
      }
      if (sc.endAfterEvents !== undefined && i >= sc.endAfterEvents) break;
      if (sc.eventDelayMs) await sleep(sc.eventDelayMs);
      if (res.destroyed || req.socket.destroyed) return;
      res.write(events[i]);
    }
    res.end();
  }

  // Idle keep-alive sockets stay open for a minute (Node's default is 5 s): a test that idled
  // longer than that (a child process run) met a socket the server was closing as the client
  // reused it, ECONNRESET (a CI run, 2026-12-05). The client drops them first (at the hint - 1 s).
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...s) => void queue.push(...s),
    setDefault: (s) => {
      fallback = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
