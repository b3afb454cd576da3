/**
 * The kit's whole cost on wrapped client calls, as a plain difference of CPU time: the same
 * calls, bare and wrapped (recording: `minimal` preset, `async` mode), in alternating blocks in
 * one process, the provider answered in memory (a `fetch` that returns the test fixtures, JSON or
 * SSE: no sockets, so the client's own work is all there is). A cross-check of
 * bench/share-openai.ts, whose share rests on attributing profiler samples to the kit or not and
 * misses what the kit makes others do (the collector's work on what it keeps, an extra hop inside
 * the SDK's own frames, the caches it takes).
 *
 *   npm run build && npx tsx bench/diff.ts [--provider openai|anthropic|ai-sdk] [--stream] [--thread]
 *                                          [--unrecorded] [--preset minimal|development|production]
 *                                          [--rounds 150] [--block 20]
 *
 * `--unrecorded`: the wrapped client has no logger (nothing recorded): what wrapping alone costs.
 *
 * Each block ends, inside its timing, with `await logger.flush()` (on both sides): records are
 * made in the logger's batches, at its flush timer, which never fires inside a block of in-memory
 * calls (the event loop does not wait on anything there); without it they were built between
 * blocks, untimed (found by review, 2026-12-03). With `--thread` the flush waits for the worker.
 *
 * Reported, as medians over rounds: each side's CPU time per call on the main thread (Linux
 * schedstat; what the app's thread pays) and in the whole process (all threads: libuv's pool,
 * and the worker with `--thread`), and the medians of the per-round differences. Warm-up: 20
 * blocks each way; order ABBA.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fakeOpenAIFetch } from "../test/helpers/fake-openai.js";
import { importBuilt, mainThreadCpuNs, median } from "./lib.js";

const { values } = parseArgs({
  options: {
    provider: { type: "string", default: "ai-sdk" },
    stream: { type: "boolean", default: false },
    thread: { type: "boolean", default: false },
    unrecorded: { type: "boolean", default: false },
    preset: { type: "string", default: "minimal" },
    rounds: { type: "string", default: "150" },
    block: { type: "string", default: "20" },
  },
});
const ROUNDS = Number(values.rounds);
const BLOCK = Number(values.block);
const provider = String(values.provider);
if (!["openai", "anthropic", "ai-sdk"].includes(provider)) throw new Error(`--provider must be openai, anthropic or ai-sdk, not ${provider}`);

const { AuditLogger } = await importBuilt<typeof import("../src/logger.js")>("src/logger.js");
const { PresetConfigs } = await importBuilt<typeof import("../src/config/index.js")>("src/config/index.js");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "audit-bench-diff-"));
const presetName = String(values.preset);
if (!["minimal", "development", "production"].includes(presetName)) throw new Error(`--preset must be minimal, development or production, not ${presetName}`);
const logger = new AuditLogger(PresetConfigs[presetName as "minimal" | "development" | "production"]("bench_diff", dir, { thread: values.thread }));
/** the wrapped clients' option: the logger, or none (`--unrecorded`) */
const recordTo = values.unrecorded ? {} : { logger };

/** The Anthropic Messages API answered from the test fixtures (a text message, or its stream). */
function inMemoryAnthropicFetch(): typeof fetch {
  const fixtures = new URL("../test/fixtures/anthropic/", import.meta.url);
  const json = fs.readFileSync(new URL("message-text.json", fixtures), "utf8");
  const sse = fs.readFileSync(new URL("stream-text.sse", fixtures), "utf8");
  const encoder = new TextEncoder();
  const events = sse.split(/\n\n/).filter((e) => e.trim() !== "").map((e) => encoder.encode(`${e}\n\n`));
  let n = 0;
  return (async (_input: unknown, init?: RequestInit) => {
    const stream = typeof init?.body === "string" && (JSON.parse(init.body) as { stream?: boolean }).stream === true;
    const headers = { "request-id": `req_mem_${++n}`, "content-type": stream ? "text/event-stream" : "application/json" };
    if (!stream) return new Response(json, { status: 200, headers });
    let i = 0;
    // one body chunk per event, as the network delivers them
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i < events.length) c.enqueue(events[i++]!);
        else c.close();
      },
    });
    return new Response(body, { status: 200, headers });
  }) as typeof fetch;
}

type OneCall = () => Promise<void>;
const messages = [{ role: "user" as const, content: "What is the capital of France?" }];

async function clients(): Promise<{ bare: OneCall; wrapped: OneCall; what: string }> {
  if (provider === "openai") {
    const { default: OpenAI } = await import("openai");
    const { wrapOpenAI } = await importBuilt<typeof import("../integrations/openai.js")>("integrations/openai.js");
    const make = () => new OpenAI({ apiKey: "sk-bench", baseURL: "http://in-memory/v1", maxRetries: 0, fetch: fakeOpenAIFetch() as typeof fetch });
    const call = (c: InstanceType<typeof OpenAI>) => async () => {
      if (values.stream) for await (const _ of await c.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }));
      else await c.chat.completions.create({ model: "gpt-4o-mini", messages });
    };
    return { bare: call(make()), wrapped: call(wrapOpenAI(make(), recordTo)), what: "OpenAI chat.completions.create" };
  }
  if (provider === "anthropic") {
    const { default: Anthropic } = await import("@anthropic-ai/sdk");
    const { wrapAnthropic } = await importBuilt<typeof import("../integrations/anthropic.js")>("integrations/anthropic.js");
    const make = () => new Anthropic({ apiKey: "sk-ant-bench", baseURL: "http://in-memory", maxRetries: 0, fetch: inMemoryAnthropicFetch() });
    const call = (c: InstanceType<typeof Anthropic>) => async () => {
      if (values.stream) for await (const _ of await c.messages.create({ model: "claude-haiku-4-5", max_tokens: 256, messages, stream: true }));
      else await c.messages.create({ model: "claude-haiku-4-5", max_tokens: 256, messages });
    };
    return { bare: call(make()), wrapped: call(wrapAnthropic(make(), recordTo)), what: "Anthropic messages.create" };
  }
  const { createAnthropic } = await import("@ai-sdk/anthropic");
  const { generateText, streamText, wrapLanguageModel } = await import("ai");
  const { auditLanguageModelMiddleware } = await importBuilt<typeof import("../integrations/ai-sdk.js")>("integrations/ai-sdk.js");
  const model = () => createAnthropic({ apiKey: "sk-ant-bench", baseURL: "http://in-memory/v1", fetch: inMemoryAnthropicFetch() })("claude-haiku-4-5");
  const call = (m: ReturnType<typeof model> | ReturnType<typeof wrapLanguageModel>) => async () => {
    if (values.stream) for await (const _ of streamText({ model: m, messages, maxRetries: 0 }).textStream);
    else await generateText({ model: m, messages, maxRetries: 0 });
  };
  return { bare: call(model()), wrapped: call(wrapLanguageModel({ model: model(), middleware: auditLanguageModelMiddleware(recordTo) })), what: `AI SDK ${values.stream ? "streamText" : "generateText"} over @ai-sdk/anthropic` };
}

const { bare, wrapped, what } = await clients();
if (mainThreadCpuNs() === undefined) throw new Error("this bench reads the main thread's CPU time from /proc/self/task/<pid>/schedstat (Linux), which is not readable here");

/**
 * A distribution-free 95% confidence interval of the median (order statistics: the values of
 * rank n/2 ± 1.96·√n/2). It says how far this run's median could be from the one more rounds
 * would give; runs minutes apart can still differ by more, as the VM's speed moves.
 */
function medianInterval(xs: readonly number[]): [number, number] {
  const s = [...xs].sort((x, y) => x - y);
  const lo = Math.max(0, Math.floor(s.length / 2 - (1.96 * Math.sqrt(s.length)) / 2));
  // (symmetric ranks: the k-th smallest and the k-th largest)
  return [s[lo]!, s[s.length - 1 - lo]!];
}

/** CPU µs per call of one block: [main thread, whole process]. */
async function block(one: OneCall): Promise<[number, number]> {
  const m = mainThreadCpuNs() ?? 0;
  const t = process.cpuUsage();
  for (let i = 0; i < BLOCK; i++) await one();
  await logger.flush();
  const u = process.cpuUsage(t);
  return [((mainThreadCpuNs() ?? 0) - m) / 1000 / BLOCK, (u.user + u.system) / BLOCK];
}

try {
  for (let i = 0; i < 20; i++) {
    await block(bare);
    await block(wrapped);
  }
  const b: Array<[number, number]> = [];
  const w: Array<[number, number]> = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      b.push(await block(bare));
      w.push(await block(wrapped));
    } else {
      w.push(await block(wrapped));
      b.push(await block(bare));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  console.log(`node ${process.version}, ${os.cpus().length} CPUs: ${what}${values.stream ? ", streamed" : ""}, in memory, ${values.unrecorded ? "wrapped with no logger" : values.thread ? "thread: true" : "in-thread"}, preset ${presetName}; ${ROUNDS} rounds of ${BLOCK} calls each way`);
  for (const [k, label] of [
    [0, "main thread"],
    [1, "whole process"],
  ] as const) {
    const bareUs = median(b.map((x) => x[k]));
    const diffs = w.map((x, i) => x[k] - b[i]![k]);
    const diff = median(diffs);
    const [lo, hi] = medianInterval(diffs);
    console.log(
      `${label.padEnd(14)} bare ${bareUs.toFixed(1).padStart(8)} µs, wrapped ${median(w.map((x) => x[k])).toFixed(1).padStart(8)} µs, difference ${diff.toFixed(1).padStart(7)} µs (${((diff / bareUs) * 100).toFixed(1)}%; 95% interval of the median ${lo.toFixed(1)} to ${hi.toFixed(1)})`,
    );
  }
} finally {
  await logger.finalizeSession();
  fs.rmSync(dir, { recursive: true, force: true });
}
