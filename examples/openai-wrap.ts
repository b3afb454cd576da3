/**
 * The `openai` package, wrapped: every call leaves one ChatInteraction in the audit trail. Runs
 * against the local fake OpenAI server the tests use, so it needs no API key and no network.
 *
 *   npx tsx examples/openai-wrap.ts                 # writes ./openai_wrap_demo/audit_logs (removed first)
 *   npx tsx examples/openai-wrap.ts /some/dir       # a directory without an audit trail (none is ever deleted there)
 *
 * Against the real API: drop the fake server and use `new OpenAI()` (reads OPENAI_API_KEY).
 */
import fs from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import { wrapOpenAI } from "../integrations/openai.js";
import { AuditLogger, auditContext, verifyAuditLog } from "../src/index.js";
import { startFakeOpenAI, type FakeOpenAI } from "../test/helpers/fake-openai.js";

async function main(): Promise<void> {
  const given = process.argv[2];
  const projectPath = path.resolve(given ?? "openai_wrap_demo");
  const trail = path.join(projectPath, "audit_logs");
  if (given === undefined) fs.rmSync(trail, { recursive: true, force: true });
  else if (fs.existsSync(trail)) {
    // an audit trail of somebody's: never deleted, never added to by a demo
    console.error(`${trail} exists: the example writes a fresh audit trail and deletes none. Give it a directory without one, or none (it then uses ./openai_wrap_demo).`);
    process.exitCode = 1;
    return;
  }
  const logger = new AuditLogger({ sessionId: "openai_demo", projectPath });
  const fake = await startFakeOpenAI();
  try {
    await run(logger, fake);
  } finally {
    // (a failure above must not leave the fake server holding the process open)
    await fake.close();
  }
  await report(logger);
}

async function run(logger: AuditLogger, fake: FakeOpenAI): Promise<void> {
  // 1. Wrap the client once; it keeps its type and behaviour.
  const openai = wrapOpenAI(new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-demo", maxRetries: 0 }), {
    logger,
    includeUsageInStreams: true, // token counts for streamed chat completions
  });

  await auditContext.run({ userId: "user_42", traceId: "trace_openai_demo" }, async () => {
    // 2. A plain completion; .withResponse() still works.
    const { data, request_id } = await openai.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "What is the capital of France?" }] })
      .withResponse();
    console.log(`chat:      ${data.choices[0]?.message.content}  (request ${request_id})`);

    // 3. A stream: still the SDK's Stream; time to first token and usage are recorded.
    const stream = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "And again, streamed?" }],
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    console.log(`stream:    ${text}`);

    // 4. Tool calls streamed as deltas are assembled in the record.
    const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object" } } }];
    const runner = openai.chat.completions.stream({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Weather in Paris?" }], tools });
    const final = await runner.finalChatCompletion();
    console.log(`tools:     ${final.choices[0]?.message.tool_calls?.map((t) => (t.type === "function" ? t.function.name : t.type)).join(", ")}`);

    // 5. The Responses API.
    const response = await openai.responses.create({ model: "gpt-4.1", input: "Tell me a one-line story." });
    console.log(`responses: ${response.output_text}`);

    // 6. An error is recorded (with its HTTP status) and the SDK's own error still reaches you.
    fake.enqueue({ status: 429, errorMessage: "Rate limit reached for gpt-4o-mini" });
    try {
      await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Too fast" }] });
    } catch (err) {
      console.log(`error:     ${(err as Error).constructor.name} ${(err as { status?: number }).status}`);
    }
  });

  await logger.finalizeSession();
}

async function report(logger: AuditLogger): Promise<void> {
  console.log("\nRecorded chat interactions:");
  const file = path.join(logger.auditDir, `chat_interactions_${logger.sessionId}.jsonl`);
  for (const line of fs.readFileSync(file, "utf8").trim().split("\n")) {
    const r = JSON.parse(line) as Record<string, unknown>;
    const tokens = r.tokensUsed !== undefined ? `${String(r.inputTokens)}+${String(r.outputTokens)} tokens` : "no usage";
    const ttft = typeof r.timeToFirstTokenSeconds === "number" ? `, ttft ${(r.timeToFirstTokenSeconds * 1000).toFixed(1)} ms` : "";
    const outcome = r.success ? "ok" : `FAILED ${String(r.statusCode ?? "")} ${String(r.errorMessage)}`;
    console.log(`  #${String(r.seq)} ${String(r.interactionType)} ${String(r.model)} user=${String(r.userId)}: ${tokens}${ttft}, finish=${String(r.finishReason ?? "-")}, ${outcome}`);
  }
  const report = await verifyAuditLog(logger.auditDir);
  console.log(`\nverify: ${report.ok ? "ok" : "PROBLEMS"} (${report.recordsChecked} records)`);
  if (!report.ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
