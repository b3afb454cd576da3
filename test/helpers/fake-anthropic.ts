/**
 * A local stand-in for the Anthropic Messages API on 127.0.0.1:<random port>. It answers
 * `POST …/messages` (the SDK's `/v1/messages` and the AI SDK provider's `<baseURL>/messages`) with
 * recorded fixtures from test/fixtures/anthropic: JSON for plain calls, Server-Sent Events for
 * `stream: true`; `POST …/messages/count_tokens` with `{ input_tokens }`. Tests queue replies to get errors (4xx/5xx, an `event: error` mid-stream), a
 * dropped connection, a stream that stops and waits, or a request that never gets an answer.
 *
 * @example
 * const fake = await startFakeAnthropic();
 * const client = new Anthropic({ apiKey: "test", baseURL: fake.baseURL, maxRetries: 0 });
 * fake.enqueue({ kind: "error", status: 500 });
 * await fake.close();
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "anthropic");

/** One reply of the fake server. Fixture names are file names in test/fixtures/anthropic without the extension. */
export type FakeAnthropicReply =
  /**
   * a Message as JSON (default fixture `message-text`). `cutAfter` sends the headers and that
   * many bytes of the body, then destroys the socket (a connection dropped while the body is read)
   */
  | { kind: "json"; fixture?: string; body?: unknown; status?: number; cutAfter?: number }
  /**
   * an SSE stream (default fixture `stream-text`). `delayMs` waits between events; `dropAfter`
   * destroys the socket after that many events; `pauseAfter` sends that many events and then
   * keeps the connection open, silent, until the client goes away.
   */
  | { kind: "sse"; fixture?: string; events?: readonly string[]; delayMs?: number; dropAfter?: number; pauseAfter?: number }
  /** an API error: the status and an error body (default fixture by status) */
  | { kind: "error"; status: number; fixture?: string; body?: unknown }
  /** the connection is destroyed before any response byte */
  | { kind: "drop" }
  /** no response at all until the client gives up */
  | { kind: "hang" };

/** A request the fake server received. */
export interface FakeAnthropicRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface FakeAnthropic {
  /** for `new Anthropic({ baseURL })` (the SDK appends `/v1/messages`) */
  readonly baseURL: string;
  /** for `createAnthropic({ baseURL })` from `@ai-sdk/anthropic` (it appends `/messages`) */
  readonly aiSdkBaseURL: string;
  /** every request received, in order */
  readonly requests: FakeAnthropicRequest[];
  /** replies for the next requests, in order; after them the default reply is used */
  enqueue(...replies: FakeAnthropicReply[]): void;
  /** resolves when `n` requests have been received */
  waitForRequests(n: number): Promise<void>;
  /** resolves when the client closed the connection of request number `index` (0-based) */
  clientGone(index: number): Promise<void>;
  close(): Promise<void>;
}

/** The text of a fixture file. */
export function fixtureText(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), "utf8");
}

/** A JSON fixture, parsed. */
export function fixtureJson<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(fixtureText(`${name}.json`)) as T;
}

/** The events of an SSE fixture, each a raw `event: …\ndata: …` block. */
export function sseEvents(name: string): string[] {
  return fixtureText(`${name}.sse`)
    .split(/\n\n+/)
    .map((b) => b.trim())
    .filter((b) => b !== "");
}

const ERROR_FIXTURE_BY_STATUS: Readonly<Record<number, string>> = { 400: "error-invalid-request", 529: "error-overloaded" };

function defaultReply(body: Record<string, unknown>): FakeAnthropicReply {
  return body.stream === true ? { kind: "sse" } : { kind: "json" };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the fake server on 127.0.0.1 with a random port. */
export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const queue: FakeAnthropicReply[] = [];
  const requests: FakeAnthropicRequest[] = [];
  const gone: Array<{ promise: Promise<void>; resolve: () => void }> = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const sockets = new Set<Socket>();
  let counter = 0;

  const goneSlot = (i: number) => {
    while (gone.length <= i) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      gone.push({ promise, resolve });
    }
    return gone[i]!;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        let body: Record<string, unknown> = {};
        try {
          body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>) : {};
        } catch {
          body = {};
        }
        const index = requests.length;
        requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
        res.on("close", () => goneSlot(index).resolve());
        for (const w of waiters.splice(0)) {
          if (requests.length >= w.n) w.resolve();
          else waiters.push(w);
        }
        const route = (req.url ?? "").split("?")[0]!;
        if (req.method === "POST" && route.endsWith("/messages/count_tokens")) {
          // (the API's reply shape: a count derived from the body, so a test can tell two calls apart)
          res.writeHead(200, { "content-type": "application/json", "request-id": `req_fake_${++counter}` });
          res.end(JSON.stringify({ input_tokens: JSON.stringify(body.messages ?? []).length }));
          return;
        }
        if (req.method !== "POST" || !route.endsWith("/messages")) {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(JSON.stringify({ type: "error", error: { type: "not_found_error", message: `No route ${req.method} ${req.url}` } }));
          return;
        }
        const reply = queue.shift() ?? defaultReply(body);
        const requestId = `req_fake_${++counter}`;
        await respond(req, res, reply, requestId);
      })();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  // Idle keep-alive sockets stay open for a minute (Node's default is 5 s): a test that idled
  // longer than that (a child process run) met a socket the server was closing as the client
  // reused it, ECONNRESET (a CI run, 2026-12-05). The client drops them first (at the hint - 1 s).
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    baseURL: origin,
    aiSdkBaseURL: `${origin}/v1`,
    requests,
    enqueue: (...replies) => void queue.push(...replies),
    waitForRequests: (n) => (requests.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    clientGone: (i) => goneSlot(i).promise,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function respond(req: http.IncomingMessage, res: http.ServerResponse, reply: FakeAnthropicReply, requestId: string): Promise<void> {
  const base = { "request-id": requestId, "anthropic-organization-id": "org_fake" };
  switch (reply.kind) {
    case "json": {
      const body = JSON.stringify(reply.body ?? fixtureJson(reply.fixture ?? "message-text"));
      if (reply.cutAfter === undefined) {
        res.writeHead(reply.status ?? 200, { ...base, "content-type": "application/json" });
        res.end(body);
        return;
      }
      res.writeHead(reply.status ?? 200, { ...base, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
      // wait until the bytes are handed to the socket, so the drop cannot discard them
      await new Promise<void>((resolve) => res.write(Buffer.from(body).subarray(0, reply.cutAfter), () => resolve()));
      req.socket.destroy();
      return;
    }
    case "error": {
      const body = reply.body ?? fixtureJson(reply.fixture ?? ERROR_FIXTURE_BY_STATUS[reply.status] ?? "error-api");
      // retry quickly when the client retries at all
      res.writeHead(reply.status, { ...base, "content-type": "application/json", "retry-after-ms": "1" });
      res.end(JSON.stringify(body));
      return;
    }
    case "drop":
      req.socket.destroy();
      return;
    case "hang":
      return;
    case "sse": {
      const events = reply.events ?? sseEvents(reply.fixture ?? "stream-text");
      res.writeHead(200, { ...base, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
      let closed = false;
      res.on("close", () => (closed = true));
      for (let i = 0; i < events.length; i++) {
        if (closed) return;
        if (reply.dropAfter !== undefined && i === reply.dropAfter) {
          req.socket.destroy();
          return;
        }
        if (reply.pauseAfter !== undefined && i === reply.pauseAfter) return; // silent until the client leaves
        // wait until the bytes are handed to the socket, so a later drop cannot discard them
        await new Promise<void>((resolve) => res.write(`${events[i]}\n\n`, () => resolve()));
        if (reply.delayMs) await sleep(reply.delayMs);
      }
      res.end();
      return;
    }
  }
}
