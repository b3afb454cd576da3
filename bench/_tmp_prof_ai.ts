import fs from "node:fs"; import os from "node:os"; import path from "node:path";
import { forkFakeProvider, importBuilt } from "./lib.js";
const provider = await forkFakeProvider("anthropic");
const { createAnthropic } = await import("@ai-sdk/anthropic");
const { streamText, wrapLanguageModel } = await import("ai");
const { auditLanguageModelMiddleware } = await importBuilt<typeof import("../integrations/ai-sdk.js")>("integrations/ai-sdk.js");
const { AuditLogger } = await importBuilt<typeof import("../src/logger.js")>("src/logger.js");
const { PresetConfigs } = await importBuilt<typeof import("../src/config/index.js")>("src/config/index.js");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prof-ai-"));
const logger = new AuditLogger(PresetConfigs.minimal("p", dir, { thread: process.env.THREAD === "1" }));
const model = wrapLanguageModel({ model: createAnthropic({ baseURL: `${provider.baseURL}/v1`, apiKey: "sk-ant-bench" })("claude-haiku-4-5"), middleware: auditLanguageModelMiddleware({ logger }) });
for (let i = 0; i < 4000; i++) { const r = streamText({ model, messages: [{ role: "user", content: "hi" }], maxRetries: 0 }); for await (const _ of r.textStream); }
await logger.finalizeSession(); provider.close(); fs.rmSync(dir, { recursive: true, force: true });
