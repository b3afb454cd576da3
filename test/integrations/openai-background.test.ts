// A Responses call with `background: true` returns at once, `queued`; the answer is fetched later
// with responses.retrieve() (polled, or streamed) or ends with responses.cancel(). The wrapper
// recorded the queued call, and never the answer: the audit trail had the question and not what
// the model said (documented as a gap until 2026-12-05). The real `openai` client against a
// server in this file that speaks the Responses API's background endpoints (JSON and SSE).
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI, { NotFoundError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { wrapOpenAI } from "../../integrations/openai.js";
import { auditContext } from "../../src/context.js";
import { AuditLogger } from "../../src/logger.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/openai/", import.meta.url));
const base = JSON.parse(fs.readFileSync(path.join(FIXTURES, "responses.json"), "utf8")) as Record<string, unknown>;
const ANSWER = "In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool.";

/** What the server holds of each response: the statuses its next retrievals answer, in turn (the last one stays). */
const plans = new Map<string, { statuses: string[]; background: boolean }>();
let served = 0;
let server: http.Server;
let baseURL: string;

function responseWith(id: string, status: string, background: boolean): Record<string, unknown> {
  const done = status === "completed";
  return { ...base, id, status, background, output: done ? base.output : [], usage: done ? base.usage : null };
}

function sse(res: http.ServerResponse, events: Array<Record<string, unknown>>): void {
  res.writeHead(200, { "content-type": "text/event-stream", "x-request-id": `req_bg_${++served}` });
  events.forEach((e, i) => res.write(`event: ${String(e.type)}\ndata: ${JSON.stringify({ ...e, sequence_number: i })}\n\n`));
  res.end();
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json", "x-request-id": `req_bg_${++served}` });
        res.end(JSON.stringify(body));
      };
      if (req.method === "POST" && url.pathname === "/v1/responses") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { background?: boolean };
        const id = `resp_bg_${++served}`;
        plans.set(id, { statuses: body.background === true ? ["in_progress", "completed"] : ["completed"], background: body.background === true });
        json(200, responseWith(id, body.background === true ? "queued" : "completed", body.background === true));
        return;
      }
      const m = /^\/v1\/responses\/([^/]+)(\/cancel)?$/.exec(url.pathname);
      const plan = m ? plans.get(m[1]!) : undefined;
      if (!m || !plan) {
        json(404, { error: { message: `No response found with id '${m?.[1]}'.`, type: "invalid_request_error", param: null, code: null } });
        return;
      }
      const id = m[1]!;
      if (m[2]) {
        plan.statuses = ["cancelled"];
        json(200, responseWith(id, "cancelled", plan.background));
        return;
      }
      const status = plan.statuses.length > 1 ? plan.statuses.shift()! : plan.statuses[0]!;
      if (url.searchParams.get("stream") !== "true") {
        json(200, responseWith(id, status, plan.background));
        return;
      }
      // a streamed retrieval: the events from the start (or `starting_after`), ending with the whole Response
      const item = { id: "msg_bg", type: "message", status: "in_progress", content: [], role: "assistant" };
      sse(res, [
        { type: "response.created", response: responseWith(id, "queued", plan.background) },
        { type: "response.in_progress", response: responseWith(id, "in_progress", plan.background) },
        { type: "response.output_item.added", output_index: 0, item },
        { type: "response.content_part.added", item_id: "msg_bg", output_index: 0, content_index: 0, part: { type: "output_text", text: "", annotations: [] } },
        { type: "response.output_text.delta", item_id: "msg_bg", output_index: 0, content_index: 0, delta: ANSWER.slice(0, 20) },
        { type: "response.output_text.delta", item_id: "msg_bg", output_index: 0, content_index: 0, delta: ANSWER.slice(20) },
        { type: "response.output_text.done", item_id: "msg_bg", output_index: 0, content_index: 0, text: ANSWER },
        { type: "response.content_part.done", item_id: "msg_bg", output_index: 0, content_index: 0, part: { type: "output_text", text: ANSWER, annotations: [] } },
        { type: "response.output_item.done", output_index: 0, item: { ...item, status: "completed", content: [{ type: "output_text", text: ANSWER, annotations: [] }] } },
        { type: "response.completed", response: responseWith(id, "completed", plan.background) },
      ]);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const loggers: AuditLogger[] = [];
afterEach(async () => {
  for (const l of loggers.splice(0)) if (!l.isClosed) await l.finalizeSession();
  cleanupTmp();
});

function setup(thread = false): { logger: AuditLogger; openai: OpenAI; bare: OpenAI } {
  const logger = new AuditLogger({ sessionId: "openai_bg", projectPath: tmpProject(), thread });
  loggers.push(logger);
  return { logger, openai: wrapOpenAI(new OpenAI({ baseURL, apiKey: "sk-test", maxRetries: 0 }), { logger }), bare: new OpenAI({ baseURL, apiKey: "sk-test", maxRetries: 0 }) };
}

type Rec = Record<string, unknown> & { metadata?: { openai?: Record<string, unknown> } };
const chats = async (logger: AuditLogger, atLeast: number): Promise<Rec[]> => (await recordsOf(logger, "chat_interaction", atLeast, 100)) as Rec[];

describe("wrapOpenAI: a background response's answer", () => {
  it.each([false, true])("polled with retrieve() outside any trace: one record when it completes, with the request's prompt, user and trace, as its child; the polls before and after make none (thread: %s)", async (thread) => {
    const { logger, openai, bare } = setup(thread);
    const queued = await auditContext.run({ userId: "alice", traceId: "trace-ask" }, () =>
      openai.responses.create({ model: "gpt-4.1", input: "Tell me a one-sentence story about a unicorn.", background: true }),
    );
    expect(queued.status).toBe("queued");
    const first = await openai.responses.retrieve(queued.id);
    expect(first.status).toBe("in_progress");
    const done = await openai.responses.retrieve(queued.id);
    expect(done.status).toBe("completed");
    expect(done.output_text).toBe(ANSWER);
    // (the app gets the SDK's own result: the same as a bare client's read of the same response)
    expect(await bare.responses.retrieve(queued.id)).toEqual(done);
    await openai.responses.retrieve(queued.id);
    const recs = await chats(logger, 2);
    expect(recs).toHaveLength(2);
    const [ask, answer] = recs as [Rec, Rec];
    expect(ask).toMatchObject({ traceId: "trace-ask", userId: "alice", success: true, finishReason: "queued", responsePreview: "" });
    expect(answer).toMatchObject({
      interactionType: "responses",
      model: "gpt-4.1-2025-04-14",
      traceId: "trace-ask",
      parentId: ask.id,
      userId: "alice",
      success: true,
      finishReason: "completed",
      inputTokens: 36,
      outputTokens: 87,
      promptPreview: "Tell me a one-sentence story about a unicorn.",
      responsePreview: ANSWER,
    });
    expect(answer.metadata?.openai).toMatchObject({ responseId: queued.id, background: { fetchedBy: "retrieve", requestRecordId: ask.id } });
  });

  it("streamed with retrieve(id, { stream: true }) inside a poller's trace: recorded there, once, with the text, linked to its request by metadata", async () => {
    const { logger, openai } = setup();
    const queued = await openai.responses.create({ model: "gpt-4.1", input: "Another story, please.", background: true });
    let text = "";
    await auditContext.run({ userId: "poller", traceId: "trace-poll" }, async () => {
      const stream = await openai.responses.retrieve(queued.id, { stream: true });
      for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
    });
    expect(text).toBe(ANSWER);
    const recs = await chats(logger, 2);
    expect(recs).toHaveLength(2);
    const [ask, answer] = recs as [Rec, Rec];
    expect(answer).toMatchObject({ traceId: "trace-poll", userId: "poller", success: true, finishReason: "completed", promptPreview: "Another story, please.", responsePreview: ANSWER });
    expect(answer.parentId).toBeUndefined();
    expect(answer.metadata?.openai).toMatchObject({ method: "responses.retrieve", responseId: queued.id, stream: true, end: "completed", background: { fetchedBy: "retrieve", requestRecordId: ask.id } });
  });

  it("followed with the SDK's responses.stream({ response_id }) helper (it retrieves the stream): recorded once, with the text", async () => {
    const { logger, openai } = setup();
    const queued = await openai.responses.create({ model: "gpt-4.1", input: "A story, streamed by the helper.", background: true });
    const final = await openai.responses.stream({ response_id: queued.id }).finalResponse();
    expect(final.output_text).toBe(ANSWER);
    const recs = await chats(logger, 2);
    expect(recs).toHaveLength(2);
    expect(recs[1]).toMatchObject({ finishReason: "completed", promptPreview: "A story, streamed by the helper.", responsePreview: ANSWER, parentId: recs[0]!.id });
    expect(recs[1]!.metadata?.openai).toMatchObject({ method: "responses.stream", stream: true, background: { fetchedBy: "retrieve", requestRecordId: recs[0]!.id } });
  });

  it("ended with cancel(): recorded once as cancelled; a retrieve() after it makes no second record", async () => {
    const { logger, openai } = setup();
    const queued = await openai.responses.create({ model: "gpt-4.1", input: "A long story.", background: true });
    const cancelled = await openai.responses.cancel(queued.id);
    expect(cancelled.status).toBe("cancelled");
    expect((await openai.responses.retrieve(queued.id)).status).toBe("cancelled");
    const recs = await chats(logger, 2);
    expect(recs).toHaveLength(2);
    expect(recs[1]).toMatchObject({ finishReason: "cancelled", promptPreview: "A long story.", responsePreview: "" });
    expect(recs[1]!.metadata?.openai).toMatchObject({ method: "responses.cancel", background: { fetchedBy: "cancel", requestRecordId: recs[0]!.id } });
  });

  it("on client.beta.responses (its own resource, ?beta=true): polled with retrieve(), streamed with retrieve(id, { stream: true }) or ended with cancel(), each answer recorded once, named by the beta method", async () => {
    const { logger, openai } = setup();
    const polled = await openai.beta.responses.create({ model: "gpt-4.1", input: "Polled on the beta resource.", background: true });
    expect((await openai.beta.responses.retrieve(polled.id)).status).toBe("in_progress");
    expect((await openai.beta.responses.retrieve(polled.id)).status).toBe("completed");
    await openai.beta.responses.retrieve(polled.id);
    const streamed = await openai.beta.responses.create({ model: "gpt-4.1", input: "Streamed on the beta resource.", background: true });
    for await (const _ of await openai.beta.responses.retrieve(streamed.id, { stream: true })) void _;
    const cancelled = await openai.beta.responses.create({ model: "gpt-4.1", input: "Cancelled on the beta resource.", background: true });
    expect((await openai.beta.responses.cancel(cancelled.id)).status).toBe("cancelled");
    const recs = await chats(logger, 6);
    expect(recs).toHaveLength(6);
    expect(recs.map((r) => [r.metadata?.openai?.method, r.finishReason, r.promptPreview])).toEqual([
      ["beta.responses.create", "queued", "Polled on the beta resource."],
      ["beta.responses.retrieve", "completed", "Polled on the beta resource."],
      ["beta.responses.create", "queued", "Streamed on the beta resource."],
      ["beta.responses.retrieve", "completed", "Streamed on the beta resource."],
      ["beta.responses.create", "queued", "Cancelled on the beta resource."],
      ["beta.responses.cancel", "cancelled", "Cancelled on the beta resource."],
    ]);
    expect(recs[3]).toMatchObject({ responsePreview: ANSWER, parentId: recs[2]!.id });
  });

  it("no record for a stored response read again (not run in the background), nor for a failed retrieval (the app gets the SDK's error)", async () => {
    const { logger, openai } = setup();
    const stored = await openai.responses.create({ model: "gpt-4.1", input: "Stored, not in the background." });
    expect(stored.status).toBe("completed");
    expect((await openai.responses.retrieve(stored.id)).output_text).toBe(ANSWER);
    await expect(openai.responses.retrieve("resp_missing")).rejects.toBeInstanceOf(NotFoundError);
    const recs = await chats(logger, 1);
    expect(recs.map((r) => r.finishReason)).toEqual(["completed"]);
  });

  it("one this process did not request (another instance queued it): recorded with no prompt, saying so", async () => {
    const { logger, openai, bare } = setup();
    const queued = await bare.responses.create({ model: "gpt-4.1", input: "Asked by another instance.", background: true });
    await openai.responses.retrieve(queued.id);
    await openai.responses.retrieve(queued.id);
    const recs = await chats(logger, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ finishReason: "completed", promptPreview: "", responsePreview: ANSWER, model: "gpt-4.1-2025-04-14" });
    expect(recs[0]!.traceId).toBe(recs[0]!.id);
    expect(recs[0]!.metadata?.openai).toMatchObject({ background: { fetchedBy: "retrieve", request: "not made by this process: its prompt is not recorded here" } });
  });
});
