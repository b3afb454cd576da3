/**
 * An Express chat endpoint that streams answers from a wrapped OpenAI client, fully audited:
 *
 *   npx tsx examples/express-chat-server.ts            # logs go to a fresh temp directory
 *   npx tsx examples/express-chat-server.ts ./my_dir   # or to ./my_dir/audit_logs (which must not exist yet: it adds to no trail)
 *
 * No API key and no network: the fake OpenAI API the tests use (test/helpers/fake-openai.ts, the
 * recorded response bodies in test/fixtures/openai) runs on 127.0.0.1 inside this script.
 * The script serves the app, sends one chat request to itself, prints what was recorded, exits.
 *
 * What gets recorded for one request:
 *   - a PerformanceMetric `http_request_duration` (method, route pattern, status): the request's record
 *   - a ChatInteraction `http_chat` with the request body and the streamed SSE response
 *   - a ChatInteraction from the wrapped OpenAI client (model, messages, answer, tokens)
 * all with the same traceId (the `x-request-id` header) and userId, the last two pointing at
 * the request's record through `parentId`.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import express from "express";
import OpenAI from "openai";
import { auditErrorHandler, auditMiddleware } from "../integrations/express.js";
import { wrapOpenAI } from "../integrations/openai.js";
import { AuditLogger, verifyAuditLog } from "../src/index.js";
import { startFakeOpenAI } from "../test/helpers/fake-openai.js";

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function main(): Promise<void> {
  const projectPath = process.argv[2] ? path.resolve(process.argv[2]) : fs.mkdtempSync(path.join(os.tmpdir(), "audit-express-"));
  // an audit trail of somebody's (or an earlier run's): never added to by an example, whose printout
  // would list that trail's records as its own (as the demo and openai-wrap.ts refuse it)
  const trail = path.join(projectPath, "audit_logs");
  if (fs.existsSync(trail)) {
    console.error(`${trail} exists: the example writes a fresh audit trail and deletes none. Give it a directory without one, or none (it then uses a new temporary directory).`);
    process.exitCode = 1;
    return;
  }
  const logger = new AuditLogger({ sessionId: "express_chat_demo", projectPath });

  const provider = await startFakeOpenAI();
  const openai = wrapOpenAI(new OpenAI({ baseURL: provider.baseURL, apiKey: "not-needed-locally", maxRetries: 0 }), {
    includeUsageInStreams: true,
  });

  const app = express();
  // first, so every request (and everything the handlers record) runs in its audit context
  app.use(auditMiddleware({ logger, userId: (req) => req.header("x-user-id"), chatRoutes: ["/api/chat"], ignore: ["/healthz"] }));
  app.use(express.json());
  app.get("/healthz", (_req, res) => void res.send("ok"));
  app.post("/api/chat", async (req, res) => {
    const { message } = req.body as { message: string };
    const stream = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "You answer in one sentence." },
        { role: "user", content: message },
      ],
      stream: true,
    });
    res.setHeader("content-type", "text/event-stream");
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta.content;
      if (text) res.write(`data: ${JSON.stringify({ text })}\n\n`);
    }
    res.end("data: [DONE]\n\n");
  });
  app.use(auditErrorHandler());
  const server = http.createServer(app);
  const url = await listen(server);

  const reply = await fetch(`${url}/api/chat`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": "req-0001", "x-user-id": "alice" },
    body: JSON.stringify({ message: "What is the capital of France?" }),
  });
  console.log(`POST /api/chat -> ${reply.status}\n${await reply.text()}`);

  // close() waits for responses still finishing (their records are made then) and drops idle keep-alive sockets
  await new Promise((r) => server.close(r));
  await provider.close();
  await logger.finalizeSession();

  console.log(`\nRecorded in ${logger.auditDir}:`);
  const show = (stem: string, pick: (r: Record<string, unknown>) => unknown) => {
    const file = path.join(logger.auditDir, `${stem}_${logger.sessionId}.jsonl`);
    if (!fs.existsSync(file)) return;
    for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) {
      const r = JSON.parse(line) as Record<string, unknown>;
      console.log(`  ${String(r.type).padEnd(18)} id=${r.id} trace=${r.traceId} user=${r.userId} parent=${r.parentId ?? "-"}`);
      console.log(`    ${JSON.stringify(pick(r))}`);
    }
  };
  show("performance_metrics", (r) => ({ metricName: r.metricName, value: Math.round(Number(r.value) * 10) / 10, unit: r.unit, context: r.context }));
  show("chat_interactions", (r) => ({
    interactionType: r.interactionType,
    model: r.model,
    tokens: r.tokensUsed,
    statusCode: r.statusCode,
    promptPreview: r.promptPreview,
    responsePreview: typeof r.responsePreview === "string" && r.responsePreview.length > 80 ? r.responsePreview.slice(0, 80) + "…" : r.responsePreview,
  }));
  show("errors", (r) => ({ errorType: r.errorType, message: r.message }));

  const report = await verifyAuditLog(logger.auditDir);
  console.log(`\nverifyAuditLog: ok=${report.ok}, ${report.recordsChecked} records checked, ${report.problems.length} problems`);
  if (!report.ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
