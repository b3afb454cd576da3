/**
 * wrapAnthropic when things go wrong: provider 4xx/5xx, dropped connections, `event: error`
 * mid-stream, streams broken off, aborted or never read. The application sees exactly what the
 * bare SDK gives it; the audit trail gets exactly one ChatInteraction per call.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Anthropic, { APIConnectionError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import { AuditLogger } from "../../src/index.js";
import { sseEvents, startFakeAnthropic, type FakeAnthropic } from "../helpers/fake-anthropic.js";
import { readJsonl, tmpProject, loggerFactory } from "../helpers/index.js";
import { childArgs } from "../helpers/child-args.js";

type Rec = Record<string, unknown>;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(async () => {
  await fake.close();
});
const newLogger = loggerFactory("anthropic_err", "audit-anthropic-err-");

function client(logger?: AuditLogger, maxRetries = 0): Anthropic {
  const c = new Anthropic({ apiKey: "test", baseURL: fake.baseURL, maxRetries });
  return logger ? wrapAnthropic(c, { logger }) : c;
}

async function chats(logger: AuditLogger): Promise<Rec[]> {
  await logger.flush();
  const file = path.join(logger.auditDir, `chat_interactions_${logger.sessionId}.jsonl`);
  return fs.existsSync(file) ? readJsonl(file) : [];
}

/** Waits for `n` records, then a little longer so that a second (wrong) record would show up too. */
async function settle(logger: AuditLogger, n: number): Promise<Rec[]> {
  for (let i = 0; i < 200 && (await chats(logger)).length < n; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  return chats(logger);
}

async function caught(p: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

const ask = { model: "claude-haiku-4-5", max_tokens: 256, messages: [{ role: "user" as const, content: "Hello" }] };

describe("provider errors", () => {
  it.each([
    [400, "BadRequestError", "invalid_request_error"],
    [429, "RateLimitError", "api_error"],
    [500, "InternalServerError", "api_error"],
    [529, "OverloadedError", "overloaded_error"],
  ])("HTTP %i: the same error reaches the caller, recorded once with its status", async (status, name, type) => {
    const logger = newLogger();
    fake.enqueue({ kind: "error", status });
    const bare = (await caught(client().messages.create(ask))) as APIError;
    fake.enqueue({ kind: "error", status });
    const err = (await caught(client(logger).messages.create(ask))) as APIError;
    expect(err.constructor).toBe(bare.constructor);
    expect(err.constructor.name).toBe(name);
    expect(err.status).toBe(status);
    // (since @anthropic-ai/sdk 1.17 the message names the request id, one per request: the two
    // calls' messages differ in that alone)
    expect(err.requestID).toMatch(/^req_fake_/);
    expect(err.message).toBe(bare.message.split(bare.requestID!).join(err.requestID!));
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, statusCode: status, model: "claude-haiku-4-5", responseLength: 0, metadata: { anthropic: { errorType: type, requestId: err.requestID } } });
    // the record says what the app's error says
    expect(recs[0]!.errorMessage).toBe(`${name}: ${err.message}`);
  });

  it("SDK retries stay inside one call: three 500s are one record", async () => {
    const logger = newLogger();
    const before = fake.requests.length;
    fake.enqueue({ kind: "error", status: 500 }, { kind: "error", status: 500 }, { kind: "error", status: 500 });
    const err = await caught(client(logger, 2).messages.create(ask));
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect(fake.requests.length - before).toBe(3);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, statusCode: 500 });
  });

  it("a retry that succeeds is one successful record", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "error", status: 529 });
    const msg = await client(logger, 2).messages.create(ask);
    expect(msg.content[0]).toMatchObject({ text: "Paris is the capital of France." });
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, finishReason: "end_turn" });
  });

  // @anthropic-ai/sdk 1.17 sends the request again when the connection drops while a reply's body
  // is read (from the parse, after the first response's headers: `props.retry`); earlier 1.x fail
  // the call with the runtime's error. Either way the one record is what the app got.
  it.each([
    ["a retry that succeeds", [{ kind: "json", cutAfter: 40 }], 2],
    ["a retry refused with 500", [{ kind: "json", cutAfter: 40 }, { kind: "error", status: 500 }], 2],
    ["a retry cut off too", [{ kind: "json", cutAfter: 40 }, { kind: "json", cutAfter: 10 }], 2],
  ] as const)("a connection dropped while the body is read, then %s: one record, of what the app got", async (_, replies, sent) => {
    const logger = newLogger();
    const before = fake.requests.length;
    fake.enqueue(...replies);
    const got = await client(logger, 1)
      .messages.create(ask)
      .then(
        (message) => ({ message, error: undefined }),
        (error: unknown) => ({ message: undefined, error: error as Error & { status?: number } }),
      );
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    const retried = fake.requests.length - before === sent;
    if (got.message) {
      expect(retried).toBe(true);
      expect(recs[0]).toMatchObject({ success: true, finishReason: "end_turn", responsePreview: "Paris is the capital of France.", metadata: { anthropic: { requestId: got.message._request_id } } });
      expect(recs[0]).not.toHaveProperty("errorMessage");
    } else {
      expect(recs[0]).toMatchObject({ success: false, errorMessage: `${got.error.name}: ${got.error.message}` });
      if (got.error.status === undefined) expect(recs[0]).not.toHaveProperty("statusCode");
      else expect(recs[0]).toMatchObject({ statusCode: got.error.status });
      // the request id of the last response the call got (the fake numbers its replies in order)
      expect(recs[0]).toMatchObject({ metadata: { anthropic: { requestId: `req_fake_${fake.requests.length}` } } });
    }
    // (on 1.17 and later: the request was sent again, and the app got the retry's outcome)
    if (retried && replies.length === 1) expect(got.message).toBeDefined();
    // (an SDK that did not send it again leaves the retry's reply queued: not the next test's)
    for (let n = fake.requests.length - before; n < replies.length; n++) await client().messages.create(ask).catch(() => undefined);
  });

  // The SDK's helpers derive their promise from create()'s with the APIPromise's `_thenUnwrap`
  // (BetaMessageStream does, for its streams): the derived promise's parser
  // awaits the observed one's, so the SDK's retry decision comes a microtask later than for an
  // awaited create(). Recorded one microtask after the failure, the resent call was the first
  // attempt's "Connection error." though the app got the message (found by review, 2026-12-05).
  it("a body cut off and sent again, read through a promise derived with the SDK's _thenUnwrap: one successful record", async () => {
    const logger = newLogger();
    const before = fake.requests.length;
    fake.enqueue({ kind: "json", cutAfter: 40 });
    const derived = (client(logger, 1).messages.create(ask) as unknown as { _thenUnwrap(f: (m: Anthropic.Message) => Anthropic.Message): Promise<Anthropic.Message & { _request_id?: string | null }> })._thenUnwrap((m) => m);
    const message = await derived;
    expect(message.content[0]).toMatchObject({ text: "Paris is the capital of France." });
    const recs = await settle(logger, 1);
    // (an SDK before 1.17 fails the call instead: nothing to check there)
    if (fake.requests.length - before < 2) return;
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, finishReason: "end_turn", metadata: { anthropic: { requestId: message._request_id } } });
    expect(recs[0]).not.toHaveProperty("errorMessage");
  });

  it("a dropped connection: APIConnectionError reaches the caller, recorded once without a status", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "drop" });
    const err = await caught(client(logger).messages.create(ask));
    expect(err).toBeInstanceOf(APIConnectionError);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false });
    expect(recs[0]).not.toHaveProperty("statusCode");
    expect(recs[0]!.errorMessage).toMatch(/^APIConnectionError: /);
  });

  it("a stream request refused with 400 is recorded once and rethrown", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "error", status: 400 });
    const err = await caught(client(logger).messages.create({ ...ask, stream: true }));
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, statusCode: 400, metadata: { anthropic: { stream: true } } });
  });

  it("messages.stream() with a 500: finalMessage() rejects as before, one record", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "error", status: 500 });
    const err = await caught(client(logger).messages.stream(ask).finalMessage());
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, statusCode: 500, metadata: { anthropic: { method: "messages.stream" } } });
  });
});

describe("streams that fail or stop early", () => {
  it("an `event: error` mid-stream is rethrown from the iterator and recorded with the partial reply", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", fixture: "stream-error" });
    const stream = await client(logger).messages.create({ ...ask, stream: true });
    const seen: string[] = [];
    const err = await caught(async () => {
      for await (const e of stream) seen.push(e.type);
    });
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).type).toBe("overloaded_error");
    expect(seen).toEqual(["message_start", "content_block_start", "content_block_delta"]);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "Partial ans", metadata: { anthropic: { errorType: "overloaded_error", end: "error", events: 3 } } });
  });

  it("a connection dropped mid-stream is rethrown and recorded once with what arrived", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", dropAfter: 5 });
    const stream = await client(logger).messages.create({ ...ask, stream: true });
    const err = await caught(async () => {
      for await (const _ of stream) void _;
    });
    expect(err).toBeInstanceOf(Error);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "Hello, world", metadata: { anthropic: { end: "error" } } });
  });

  it("`break` out of the loop: recorded once as aborted, and the request is closed", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", pauseAfter: 4 });
    const index = fake.requests.length;
    const stream = await client(logger).messages.create({ ...ask, stream: true });
    for await (const e of stream) if (e.type === "content_block_delta") break;
    await fake.clientGone(index);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "Hello", metadata: { anthropic: { end: "abandoned", stream: true, events: 3 } } });
    expect(recs[0]).not.toHaveProperty("finishReason");
    expect(recs[0]!.errorMessage).toBe("abandoned: the app stopped reading the stream after 3 events"); // the SDK drops `ping`
    expect(recs[0]!.timeToFirstTokenSeconds).toBeGreaterThan(0);
  });

  it("stream.controller.abort() before reading: recorded once as aborted", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", pauseAfter: 2 });
    const stream = await client(logger).messages.create({ ...ask, stream: true });
    stream.controller.abort();
    const after: unknown[] = [];
    for await (const e of stream) after.push(e); // the SDK ends an aborted stream quietly
    expect(after).toEqual([]);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, metadata: { anthropic: { end: "aborted" } } });
  });

  it("stream.controller.abort() between reads, the stream still held: recorded at once as aborted, with what arrived", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", pauseAfter: 4 });
    const stream = await client(logger).messages.create({ ...ask, stream: true });
    const it = stream[Symbol.asyncIterator]();
    const first = [(await it.next()).value, (await it.next()).value] as Array<{ type: string }>;
    expect(first.map((e) => e.type)).toEqual(["message_start", "content_block_start"]);
    stream.controller.abort();
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, errorMessage: "aborted: the request was aborted after 2 stream events", metadata: { anthropic: { end: "aborted", events: 2 } } });
    // reading on (the SDK hands out what it had buffered, then ends quietly): still one record
    for (let i = 0; i < 20 && !(await it.next()).done; i++);
    expect(await settle(logger, 1)).toHaveLength(1);
  });

  it("MessageStream.abort() mid-way: the caller gets APIUserAbortError as before, one aborted record", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", pauseAfter: 5 });
    const ms = client(logger).messages.stream(ask);
    ms.on("text", () => ms.abort());
    const err = await caught(ms.finalMessage());
    expect(err).toBeInstanceOf(APIUserAbortError);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, metadata: { anthropic: { method: "messages.stream", end: "aborted" } } });
  });

  it("an AbortSignal that fires while waiting for the response: rethrown, one record", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "hang" });
    const ac = new AbortController();
    const p = client(logger).messages.create(ask, { signal: ac.signal });
    await fake.waitForRequests(fake.requests.length);
    setTimeout(() => ac.abort(), 20);
    const err = await caught(p);
    expect(err).toBeInstanceOf(APIUserAbortError);
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false });
    expect(recs[0]!.errorMessage).toMatch(/^APIUserAbortError/);
  });

  it("a stream that ends without message_stop is recorded as cut short", async () => {
    const logger = newLogger();
    fake.enqueue({ kind: "sse", events: sseEvents("stream-text").slice(0, 5) });
    const stream = await client(logger).messages.create({ ...ask, stream: true });
    for await (const _ of stream) void _;
    const recs = await settle(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: false, responsePreview: "Hello, world", metadata: { anthropic: { end: "truncated" } } });
    expect(recs[0]!.errorMessage).toContain("before message_stop");
  });

  it("a logger closed before the stream ends: the application is unaffected, the failure is an error event", async () => {
    const logger = newLogger();
    const events: Error[] = [];
    logger.on("error", (e) => events.push(e));
    const stream = await client(logger).messages.create({ ...ask, stream: true });
    await logger.finalizeSession();
    let n = 0;
    for await (const _ of stream) n++;
    expect(n).toBe(8);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ code: "AUDIT_ERR_SESSION_CLOSED" });
  });

  it("a request that fails while nobody awaits its promise is recorded with its error at once; the app's unhandled rejection is the bare client's", () => {
    const r = spawnSync(process.execPath, [...childArgs(path.join(ROOT, "test/fixtures/anthropic/unawaited-failure-child.mts")), tmpProject("audit-anthropic-unawaited-")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { rejections: string[]; records: Rec[] };
    // also for a dropped `.asResponse()` (its promise was marked handled by the wrapper; found by review)
    expect(out.rejections).toEqual(["InternalServerError 500", "InternalServerError 500", "InternalServerError 500", "InternalServerError 500"]);
    expect(out.records).toHaveLength(2);
    expect(out.records[0]).toMatchObject({ success: false, statusCode: 500, promptPreview: JSON.stringify([{ role: "user", content: "wrapped" }]) });
    expect(out.records[0]!.errorMessage).toMatch(/^InternalServerError: 500/);
    expect(out.records[1]).toMatchObject({ success: false, statusCode: 500, promptPreview: JSON.stringify([{ role: "user", content: "wrapped raw" }]) });
  });

  it("params the wrapper cannot read: the call is the bare client's (same error), unrecorded, and the logger says so", async () => {
    const logger = newLogger();
    const events: Error[] = [];
    logger.on("error", (e) => events.push(e));
    const unreadable = () =>
      new Proxy(ask, {
        get(target, key) {
          if (key === "messages") throw new RangeError("messages are unreadable");
          return (target as Record<PropertyKey, unknown>)[key];
        },
      });
    const bareError = await caught(async () => client().messages.create(unreadable()));
    const wrappedError = await caught(async () => client(logger).messages.create(unreadable()));
    expect(bareError).toBeInstanceOf(RangeError);
    expect(wrappedError).toBeInstanceOf(RangeError);
    expect((wrappedError as Error).message).toBe("messages are unreadable");
    expect(events.map((e) => e.message)).toEqual(["messages are unreadable"]);
    expect(await chats(logger)).toEqual([]);
  });

  it("a stream or promise the application never reads is recorded once when it is collected", () => {
    const projectPath = tmpProject("audit-anthropic-gc-");
    const r = spawnSync(process.execPath, ["--expose-gc", ...childArgs(path.join(ROOT, "test/fixtures/anthropic/abandon-child.mts")), projectPath], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const recs = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Rec[];
    const elapsed = JSON.parse(r.stdout.split("\n").find((l) => l.startsWith("ELAPSED "))!.slice("ELAPSED ".length)) as Record<string, number>;
    expect(recs).toHaveLength(4);
    const byPrompt = new Map(recs.map((x) => [(JSON.parse(String(x.promptPreview)) as Array<{ content: string }>)[0]!.content, x]));
    // lasted until the app last got something of them, not until the collector ran 600 ms later:
    // no longer than the child measured around the call and its reads (a fixed 0.3 s failed under
    // load, where the call itself took longer)
    for (const late of ["unread, collected late", "half read, collected late"]) {
      expect(byPrompt.get(late)).toMatchObject({ success: false, metadata: { anthropic: { end: "abandoned" } } });
      expect(elapsed[late]).toBeGreaterThan(0);
      expect(byPrompt.get(late)!.durationSeconds as number).toBeLessThanOrEqual(elapsed[late]!);
    }
    expect(byPrompt.get("half read, collected late")!.errorMessage).toBe("abandoned: the app stopped reading the stream after 3 events");
    // its last event was its first delta: time to first token and duration are the same reading
    // (a later clock reading made the time to first token exceed the duration; found by review)
    const halfRead = byPrompt.get("half read, collected late")!;
    expect(halfRead.timeToFirstTokenSeconds).toBe(halfRead.durationSeconds);
    const byStream = new Map(recs.filter((x) => !String(x.promptPreview).includes("late")).map((x) => [((x.metadata as Rec).anthropic as Rec).stream, x]));
    expect(byStream.get(true)).toMatchObject({ success: false, metadata: { anthropic: { end: "abandoned" } } });
    expect(byStream.get(false)).toMatchObject({ success: false, metadata: { anthropic: { end: "abandoned" } }, promptPreview: JSON.stringify([{ role: "user", content: "never read" }]) });
  });
});
