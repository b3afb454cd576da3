/**
 * The AI SDK middleware's whole cost on a streamed call, as a plain difference of CPU time: the
 * same `streamText` over @ai-sdk/anthropic, bare and with `auditLanguageModelMiddleware`
 * recording (`minimal` preset, `async` mode, records made in the logger's batches), in
 * alternating blocks in one process, the provider answered in memory (a `fetch` that returns the
 * test fixture's SSE: no sockets, so the client's own work is all there is). A cross-check of
 * bench/share-openai.ts, whose share rests on attributing profiler samples to the kit or not.
 *
 *   npm run build && npx tsx bench/ai-sdk-stream-diff.ts [--rounds 150] [--block 20]
 *
 * Each block ends, inside its timing, with `await logger.flush()` (on both sides): the records
 * are made in the logger's batches, at its flush timer, which never fires inside a block of
 * in-memory calls (the event loop does not wait on anything there); without it the records were
 * built between blocks, untimed (found by review, 2026-12-03).
 *
 * Reported: the median over rounds of each side's process CPU time per streamed call (all
 * threads: the thread pool's part of the writes counts where it runs inside a block), and the
 * median of the per-round differences.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { importBuilt, median } from "./lib.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "150" }, block: { type: "string", default: "20" } } });
const ROUNDS = Number(values.rounds);
const BLOCK = Number(values.block);

const sse = fs.readFileSync(new URL("../test/fixtures/anthropic/stream-text.sse", import.meta.url), "utf8");
let requests = 0;
const inMemoryFetch = async (): Promise<Response> =>
  new Response(sse, { status: 200, headers: { "content-type": "text/event-stream", "request-id": `req_mem_${++requests}` } });

const { createAnthropic } = await import("@ai-sdk/anthropic");
const { streamText, wrapLanguageModel } = await import("ai");
const { auditLanguageModelMiddleware } = await importBuilt<typeof import("../integrations/ai-sdk.js")>("integrations/ai-sdk.js");
const { AuditLogger } = await importBuilt<typeof import("../src/logger.js")>("src/logger.js");
const { PresetConfigs } = await importBuilt<typeof import("../src/config/index.js")>("src/config/index.js");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "audit-bench-ai-sdk-diff-"));
const logger = new AuditLogger(PresetConfigs.minimal("bench_ai_sdk_diff", dir));
const provider = createAnthropic({ apiKey: "sk-ant-bench", fetch: inMemoryFetch as typeof fetch });
const bare = provider("claude-haiku-4-5");
const wrapped = wrapLanguageModel({ model: provider("claude-haiku-4-5"), middleware: auditLanguageModelMiddleware({ logger }) });
const messages = [{ role: "user" as const, content: "What is the capital of France?" }];

async function block(model: typeof bare): Promise<number> {
  const t = process.cpuUsage();
  for (let i = 0; i < BLOCK; i++) {
    const r = streamText({ model, messages, maxRetries: 0 });
    for await (const _ of r.textStream);
  }
  await logger.flush();
  const u = process.cpuUsage(t);
  return (u.user + u.system) / BLOCK;
}

try {
  for (let i = 0; i < 20; i++) {
    await block(bare);
    await block(wrapped);
  }
  const b: number[] = [];
  const w: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // ABBA: neither side always runs first
    if (r % 2 === 0) {
      b.push(await block(bare));
      w.push(await block(wrapped));
    } else {
      w.push(await block(wrapped));
      b.push(await block(bare));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const diff = median(w.map((v, i) => v - b[i]!));
  const bareUs = median(b);
  console.log(`node ${process.version}, ${os.cpus().length} CPUs: streamText over @ai-sdk/anthropic, in memory, ${ROUNDS} rounds of ${BLOCK} calls each way`);
  console.log(`bare                      ${bareUs.toFixed(1).padStart(8)} µs CPU per streamed call`);
  console.log(`with the middleware       ${median(w).toFixed(1).padStart(8)} µs`);
  console.log(`difference (median)       ${diff.toFixed(1).padStart(8)} µs  (${((diff / bareUs) * 100).toFixed(1)}% of the bare call in memory)`);
} finally {
  await logger.finalizeSession();
  fs.rmSync(dir, { recursive: true, force: true });
}
