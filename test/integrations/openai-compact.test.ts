// `responses.compact()` (and `beta.responses.compact()`), openai 6.49 and 7.60: a model pass that
// turns a conversation into one `compaction` item, billed in tokens. The wrapper passed it
// through unrecorded until 2026-12-06 (documented as a gap: its usage was lost to the trail).
// Now one ChatInteraction per call, as for the other model calls (`metadata.openai.method`
// "responses.compact"). The real `openai` clients against the local fake (test/fixtures/openai/
// responses-compact.json).
import OpenAI from "openai";
import OpenAI6 from "openai6";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { wrapOpenAI } from "../../integrations/openai.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { loggerFactory } from "../helpers/index.js";
import { comparableChat, expectNothingCaptured, recordsOf } from "./_records.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => {
  fake.setDefault({});
});
const newLogger = loggerFactory("openai_compact");
const input = [
  { role: "user" as const, content: "Tell me a three sentence bedtime story about a unicorn." },
  { role: "assistant" as const, content: "Lumina found a pool." },
];
const COMPACTION_ID = "cmp_68a1f0c2e6208190c1d2e3f4a5b6c7d8";

/** openai 6's client typed as openai 7's: `compact` has the same shape in both (see openai-v6-compat.test.ts) */
const majors = [
  { major: 7, make: (maxRetries = 0): OpenAI => new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test-compact-key", maxRetries }), BadRequestError: OpenAI.BadRequestError },
  { major: 6, make: (maxRetries = 0): OpenAI => new OpenAI6({ baseURL: fake.baseURL, apiKey: "sk-test-compact-key", maxRetries }) as unknown as OpenAI, BadRequestError: OpenAI6.BadRequestError },
] as const;

const openaiMeta = (rec: Record<string, unknown> | undefined) => (rec!.metadata as { openai: Record<string, unknown> }).openai;

describe.each(majors)("wrapOpenAI: responses.compact on openai $major", ({ make, BadRequestError }) => {
  it("one record per call: the input sent, the model asked for, the tokens, metadata.openai.method 'responses.compact' and the compaction item's id; the app gets the bare client's result (it was not recorded at all)", async () => {
    const logger = newLogger();
    const bare = await make().responses.compact({ model: "gpt-5.2", input });
    const openai = wrapOpenAI(make(), { logger });
    const res = await openai.responses.compact({ model: "gpt-5.2", input });
    expect(res).toEqual(bare);
    expect(res.object).toBe("response.compaction");
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      success: true,
      interactionType: "responses",
      provider: "openai",
      // (a compacted response names no model: the one asked for)
      model: "gpt-5.2",
      promptPreview: JSON.stringify(input),
      // no text: the output is the user's messages and an item only OpenAI can read
      responsePreview: "",
      inputTokens: 1204,
      outputTokens: 312,
      usage: { input_tokens: 1204, output_tokens: 312, total_tokens: 1516, output_tokens_details: { reasoning_tokens: 256 } },
    });
    expect(recs[0]).not.toHaveProperty("toolCalls");
    expect(openaiMeta(recs[0])).toMatchObject({
      method: "responses.compact",
      responseId: res.id,
      requestId: expect.stringMatching(/^req_fake_/) as unknown,
      compaction: { outputItems: 2, compactionItemId: COMPACTION_ID },
    });
    // the encrypted summary is no text and is not recorded, neither in the record nor as content
    expect(JSON.stringify(recs[0])).not.toContain("gAAAA");
    expect(fake.requests.at(-1)).toMatchObject({ method: "POST", path: "/v1/responses/compact", body: { model: "gpt-5.2", input } });
  });

  it("beta.responses.compact: one record, method 'beta.responses.compact'; its `betas` reach the server as the header, as without the wrapper", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(make(), { logger });
    const res = await openai.beta.responses.compact({ model: "gpt-5.2", input: "Summarise our chat.", betas: ["compaction-2026-01-01"] } as never);
    expect((res as { object?: unknown }).object).toBe("response.compaction");
    expect(fake.requests.at(-1)!.headers["openai-beta"]).toBe("compaction-2026-01-01");
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, promptPreview: "Summarise our chat.", inputTokens: 1204 });
    expect(openaiMeta(recs[0])).toMatchObject({ method: "beta.responses.compact", compaction: { compactionItemId: COMPACTION_ID } });
  });

  it("an HTTP error: the SDK's own error is rethrown as it is, and recorded once with its status (with .withResponse() too)", async () => {
    const logger = newLogger();
    fake.enqueue({ status: 400, errorMessage: "Invalid 'input': empty conversation (key sk-test-compact-key)" });
    const bareErr = (await make().responses.compact({ model: "gpt-5.2", input: [] }).catch((e: unknown) => e)) as Error;
    const openai = wrapOpenAI(make(), { logger });
    fake.enqueue({ status: 400, errorMessage: "Invalid 'input': empty conversation (key sk-test-compact-key)" });
    const err = (await openai.responses.compact({ model: "gpt-5.2", input: [] }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toBe(bareErr.message);
    expect((err as { status?: unknown }).status).toBe(400);
    fake.enqueue({ status: 400, errorMessage: "second" });
    const err2 = await openai.responses.compact({ model: "gpt-5.2", input: [] }).withResponse().catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(BadRequestError);
    const recs = await recordsOf(logger, "chat_interaction", 2);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ success: false, statusCode: 400, model: "gpt-5.2" });
    expect(recs[0]!.errorMessage).toContain("Invalid 'input': empty conversation");
    // (the client's key, quoted by the error, is hidden, as for every other call)
    expect(recs[0]!.errorMessage).not.toContain("sk-test-compact-key");
    expect(openaiMeta(recs[0]).method).toBe("responses.compact");
    expect(recs[1]).toMatchObject({ success: false, statusCode: 400, errorMessage: expect.stringContaining("second") as unknown });
  });

  it("retried by the SDK after a 500: one record, the last attempt's outcome, attempts: 2", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(make(1), { logger });
    fake.enqueue({ status: 500 });
    const res = await openai.responses.compact({ model: "gpt-5.2", input });
    expect(res.output.at(-1)).toMatchObject({ type: "compaction", id: COMPACTION_ID });
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, inputTokens: 1204 });
    expect(openaiMeta(recs[0])).toMatchObject({ method: "responses.compact", attempts: 2 });
  });

  it("with a logger that builds its records on a worker thread (thread: true) the record is the same", async () => {
    const recorded = [];
    for (const thread of [false, true]) {
      const logger = newLogger({ thread });
      await wrapOpenAI(make(), { logger }).responses.compact({ model: "gpt-5.2", input });
      const recs = await recordsOf(logger, "chat_interaction");
      expect(recs).toHaveLength(1);
      recorded.push(comparableChat(recs[0]!, "openai", ["requestId", "responseId"]));
    }
    expect(recorded[1]).toEqual(recorded[0]);
    expect(recorded[1]).toMatchObject({ metadata: { openai: { method: "responses.compact", compaction: { outputItems: 2, compactionItemId: COMPACTION_ID } } } });
  });

  it("captureContent: false: the tokens and the method, nothing of the conversation", async () => {
    const logger = newLogger();
    const openai = wrapOpenAI(make(), { logger, captureContent: false });
    await openai.responses.compact({ model: "gpt-5.2", input });
    const recs = await recordsOf(logger, "chat_interaction");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ success: true, inputTokens: 1204, outputTokens: 312 });
    expect(openaiMeta(recs[0]).method).toBe("responses.compact");
    expectNothingCaptured(logger, recs[0]);
  });
});
