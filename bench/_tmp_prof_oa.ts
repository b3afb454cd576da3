import { createRequire } from "node:module"; const require = createRequire(import.meta.url);
import fs from "node:fs"; import os from "node:os"; import path from "node:path";
import { forkFakeProvider, importBuilt } from "./lib.js";
const provider = await forkFakeProvider("openai");
const { default: OpenAI } = await import("openai");
const { wrapOpenAI } = await importBuilt<typeof import("../integrations/openai.js")>("integrations/openai.js");
const { AuditLogger } = await importBuilt<typeof import("../src/logger.js")>("src/logger.js");
const { PresetConfigs } = await importBuilt<typeof import("../src/config/index.js")>("src/config/index.js");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prof-an-"));
const logger = process.env.BARE === "1" ? undefined : new AuditLogger(PresetConfigs.minimal("p", dir, { thread: process.env.THREAD === "1" }));
const client = wrapOpenAI(new OpenAI({ baseURL: provider.baseURL, apiKey: "sk-bench", maxRetries: 0 }), logger ? { logger } : {});
const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
const N = Number(process.env.N ?? 6000);
const stats = { sends: 0, items: 0, ns: 0n, clone: 0n, json: 0n, again: 0n };
if (logger && process.env.TIME_SEND) {
  const remote = (logger as unknown as { remote: { send(items: unknown[]): void } }).remote;
  const orig = remote.send.bind(remote);
  const w = (remote as any).worker;
  remote.send = (items) => { const t0 = process.hrtime.bigint(); w.postMessage({ t: "x", items }); const t = process.hrtime.bigint(); w.postMessage({ t: "x", items }); const t1 = process.hrtime.bigint(); const copy = JSON.parse(JSON.stringify(items)); const t2 = process.hrtime.bigint(); w.postMessage({ t: "x", items: copy }); const t3 = process.hrtime.bigint(); orig(items); stats.ns += t - t0; stats.clone += t1 - t; stats.json += t3 - t2; stats.sends++; stats.items += items.length; };
}
for (let i = 0; i < N; i++) { const s = await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }); for await (const _ of s); }
if (process.env.TIME_SEND) console.log(stats.sends, 'sends', stats.items, 'items', Number(stats.ns) / stats.items / 1000, 'µs/item cold post; warm post', Number(stats.clone) / stats.items / 1000, 'post of a JSON.parse copy', Number(stats.json) / stats.items / 1000);
await logger?.finalizeSession(); provider.close(); fs.rmSync(dir, { recursive: true, force: true });
// (appended) nothing
