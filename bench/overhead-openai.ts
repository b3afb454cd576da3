/**
 * Overhead of wrapOpenAI: a bare OpenAI client against a wrapped one (recording to disk), both
 * calling the local fake OpenAI server (127.0.0.1, in a child process, as a real provider is
 * another machine), for a plain chat completion and a streamed one read to the end. Target: the
 * wrapped call within 3% of the bare one.
 *
 *   npx tsx bench/overhead-openai.ts                        # 20 rounds × blocks of 500 calls per client
 *   npx tsx bench/overhead-openai.ts --rounds 10 --calls 1000 --preset minimal
 *   npx tsx bench/overhead-openai.ts --preset minimal --in-memory  # no network: see below
 *   npx tsx bench/overhead-openai.ts --preset minimal --thread     # records made on a worker thread
 *
 * Two measurements. The first is the one the target is judged on.
 *
 * 1. **Blocks** (the whole cost): each client in turn makes a block of `--calls` calls, as an app
 *    using only that client would; rounds rotate the order, so drift in machine load hits every
 *    client alike. A block's time is everything the process spent on it: the calls, the records
 *    (the logger's batches, built every `flushIntervalMs` = 100 ms as its own timer would, and
 *    the rest at the block's end), and the garbage collections the block's allocations caused.
 *    Reported: the ratio of the wrapped client's total time to the bare one's over all rounds,
 *    and the median of the rounds' ratios (robust to a round that met a stall of the machine).
 * 2. **Per call** (as the app sees one call): one call of each client in turn, timed one by one,
 *    medians. Far steadier, but it leaves out what lands between calls or in the slow tail: the
 *    records (timed separately, below), and the garbage collections the recording causes, which
 *    land in any client's calls (the bare one's too, when calls alternate) and mostly in the tail
 *    a median ignores. So it understates the whole cost; blocks of one client do not.
 *
 * The logger uses `async` durability (the default) and the chosen preset's content settings, with
 * its own timer set out of the way: the bench runs its batches itself at the preset's cadence
 * (`flush()` once 100 ms have passed since the last one), so that their cost is charged to the
 * wrapped client, in its block, or in the per-call part as "records built later" per call. The
 * library is the built one (`dist/`, run `npm run build` first), as users run it.
 *
 * `--thread` gives the logger `thread: true`: the app's thread queues each record's data and
 * sends the batch to the worker that makes and writes the records. "Records built later" is then
 * that queueing and sending; the worker's own work runs on another core (on this 2-vCPU VM, the
 * one the fake provider runs on too), and shows in the blocks only as far as it slows the others.
 *
 * `--in-memory` gives the clients a `fetch` that answers from the same fixtures without sockets
 * (test/helpers/fake-openai.ts fakeOpenAIFetch): what is left is the SDK's and the wrapper's own
 * CPU work. The ratios are then against a much shorter bare call (~50–80 µs, ~150 µs streamed),
 * so they are larger; the target is judged over HTTP.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { fakeOpenAIFetch, startFakeOpenAI } from "../test/helpers/fake-openai.js";
import { forkFakeProvider, importBuilt, mainThreadCpuNs, median } from "./lib.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "20" },
    calls: { type: "string", default: "500" },
    warmup: { type: "string", default: "200" },
    "latency-calls": { type: "string", default: "2000" },
    preset: { type: "string", default: "development" },
    "same-process": { type: "boolean", default: false },
    "in-memory": { type: "boolean", default: false },
    thread: { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const calls = Number(values.calls);
const latencyCalls = Number(values["latency-calls"]);
const warmup = Number(values.warmup);
const presetName = values.preset as "development" | "production" | "minimal";
const thread = values.thread;

/** The fake provider: in a child process (default), or in this one with --same-process. */
async function startProvider(): Promise<{ baseURL: string; close: () => Promise<void> | void }> {
  return values["same-process"] ? startFakeOpenAI() : forkFakeProvider();
}

async function main(): Promise<void> {
  // the built package, as users run it (see importBuilt); `npm run build` first
  const { wrapOpenAI } = await importBuilt<typeof import("../integrations/openai.js")>("integrations/openai.js");
  const { AuditLogger, PresetConfigs } = await importBuilt<typeof import("../src/index.js")>("src/index.js");
  const fake = values["in-memory"] ? { baseURL: "", close: async () => {} } : await startProvider();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-openai-"));
  const key = Buffer.alloc(32, 9).toString("base64");
  const preset = PresetConfigs[presetName];
  const cadenceMs = preset("bench_openai", dir).flushIntervalMs; // the preset's own cadence, run by the bench (see above)
  const logger = new AuditLogger(
    preset("bench_openai", dir, { flushIntervalMs: 60_000, ...(presetName === "production" ? { encryptionKey: key } : {}), ...(thread ? { thread: true } : {}) }),
  );
  // --in-memory: the same answers through the client's `fetch` option, no sockets (see the header)
  const opts = values["in-memory"]
    ? { baseURL: "http://fake-openai.invalid/v1", apiKey: "sk-bench", maxRetries: 0, fetch: fakeOpenAIFetch() }
    : { baseURL: fake.baseURL, apiKey: "sk-bench", maxRetries: 0 };
  const bare = new OpenAI(opts);
  const wrapped = wrapOpenAI(new OpenAI(opts), { logger, includeUsageInStreams: false });
  // wrapped, but no logger anywhere: the wrapper's own mechanics, nothing recorded
  const unrecorded = wrapOpenAI(new OpenAI(opts));
  process.removeAllListeners("warning");
  const messages = [{ role: "user" as const, content: "What is the capital of France?" }];

  const variants = {
    "chat (non-stream)": async (c: OpenAI) => {
      const r = await c.chat.completions.create({ model: "gpt-4o-mini", messages });
      if (r.choices.length !== 1) throw new Error("unexpected response");
    },
    "chat (stream, read to end)": async (c: OpenAI) => {
      const s = await c.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
      let n = 0;
      for await (const _ of s) n++;
      if (n === 0) throw new Error("empty stream");
    },
  };

  // wall µs per call, this process's CPU µs per call (all its threads), and the app thread's own
  // CPU µs per call (the main thread alone: with --thread the worker's part is left out)
  const cpu: Record<string, number[]> = { b: [], w: [], u: [] };
  const appCpu: Record<string, number[]> = { b: [], w: [], u: [] };
  const timeRun = async (fn: (c: OpenAI) => Promise<void>, c: OpenAI, key: string) => {
    const a0 = mainThreadCpuNs();
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    if (key !== "w") for (let i = 0; i < calls; i++) await fn(c);
    else {
      // the logger's batches at its own cadence, within the block, not waited for (as its timer
      // does: with --thread the worker answers a flush() once it wrote the batch); the rest at
      // the block's end, so the block pays for all of its recording and none lands in another's
      let last = performance.now();
      const batches: Promise<void>[] = [];
      for (let i = 0; i < calls; i++) {
        await fn(c);
        if (performance.now() - last >= cadenceMs) {
          batches.push(logger.flush());
          last = performance.now();
        }
      }
      batches.push(logger.flush());
      await Promise.all(batches);
    }
    const wall = Number(process.hrtime.bigint() - t0) / 1e3 / calls;
    const used = process.cpuUsage(c0);
    cpu[key]!.push((used.user + used.system) / calls);
    const a1 = mainThreadCpuNs();
    if (a0 !== undefined && a1 !== undefined) appCpu[key]!.push((a1 - a0) / 1e3 / calls);
    return wall;
  };

  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}, ${rounds} rounds × ${calls} calls, preset ${presetName}, ` +
      `durability ${logger.config.durability}${thread ? " + thread" : ""}, provider ${values["in-memory"] ? "in memory (no sockets)" : values["same-process"] ? "in this process" : "in a child process"}`,
  );
  const results: Array<{
    variant: string;
    bareUs: number;
    wrappedUs: number;
    /** blocks: the wrapped client's total time over the bare one's (the target's measure) */
    ratio: number;
    medianRoundRatio: number;
    unrecordedUs: number;
    unrecordedRatio: number;
    cpuUs: { bare: number; wrapped: number; unrecorded: number };
    appCpuUs: { bare: number; wrapped: number; unrecorded: number } | undefined;
    latencyUs: { bare: number; wrapped: number; unrecorded: number; ratio: number; flushPerCallUs: number };
  }> = [];
  for (const [name, fn] of Object.entries(variants)) {
    for (let i = 0; i < warmup; i++) {
      await fn(bare);
      await fn(wrapped);
    }
    await fn(unrecorded);
    for (const k of Object.keys(cpu)) {
      cpu[k] = [];
      appCpu[k] = [];
    }
    const ratios: number[] = [];
    const unrecordedRatios: number[] = [];
    const bareTimes: number[] = [];
    const wrappedTimes: number[] = [];
    const unrecordedTimes: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // the order rotates every round so load drift hits every side alike
      const order = r % 3 === 0 ? ["b", "w", "u"] : r % 3 === 1 ? ["w", "u", "b"] : ["u", "b", "w"];
      const t: Record<string, number> = {};
      for (const k of order) t[k] = await timeRun(fn, k === "b" ? bare : k === "w" ? wrapped : unrecorded, k);
      bareTimes.push(t.b!);
      wrappedTimes.push(t.w!);
      unrecordedTimes.push(t.u!);
      ratios.push(t.w! / t.b!);
      unrecordedRatios.push(t.u! / t.b!);
    }
    const ratio = median(ratios);
    const uRatio = median(unrecordedRatios);
    // the wrapped client's total time over the bare one's, all rounds together
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const totalRatio = sum(wrappedTimes) / sum(bareTimes);
    const uTotalRatio = sum(unrecordedTimes) / sum(bareTimes);
    const cpuUs = { bare: median(cpu.b!), wrapped: median(cpu.w!), unrecorded: median(cpu.u!) };
    // the app thread's CPU, all rounds together (undefined where Linux's schedstat is missing)
    const appCpuUs =
      appCpu.b!.length === rounds && appCpu.w!.length === rounds && appCpu.u!.length === rounds
        ? { bare: sum(appCpu.b!) / rounds, wrapped: sum(appCpu.w!) / rounds, unrecorded: sum(appCpu.u!) / rounds }
        : undefined;
    // The call as the app sees it: one call of each client in turn (order rotating), timed one by
    // one, medians over all of them. Per-call alternation and medians make this far steadier than
    // the blocks above, but the records are built in batches outside the calls, so that work is
    // timed separately (flushPerCallUs: the flush() run every cadenceMs, per wrapped call).
    const lat: Record<string, number[]> = { b: [], w: [], u: [] };
    let flushUs = 0;
    let flushes = 0;
    let lastFlush = performance.now();
    for (let i = 0; i < latencyCalls; i++) {
      const order = i % 3 === 0 ? ["b", "w", "u"] : i % 3 === 1 ? ["w", "u", "b"] : ["u", "b", "w"];
      for (const k of order) {
        const t0 = process.hrtime.bigint();
        await fn(k === "b" ? bare : k === "w" ? wrapped : unrecorded);
        lat[k]!.push(Number(process.hrtime.bigint() - t0) / 1e3);
      }
      if (performance.now() - lastFlush >= cadenceMs || i === latencyCalls - 1) {
        // the app thread's part: what flush() does before it first waits (building the batch's
        // records and writing them, or with --thread queueing and sending them to the worker);
        // waiting for the thread pool or the worker is not work on the app's thread
        const f0 = process.hrtime.bigint();
        const flushed = logger.flush();
        flushUs += Number(process.hrtime.bigint() - f0) / 1e3;
        await flushed;
        flushes++;
        lastFlush = performance.now();
      }
    }
    const latencyUs = { bare: median(lat.b!), wrapped: median(lat.w!), unrecorded: median(lat.u!), ratio: median(lat.w!) / median(lat.b!), flushPerCallUs: flushUs / Math.max(latencyCalls, 1) };
    results.push({ variant: name, bareUs: sum(bareTimes) / rounds, wrappedUs: sum(wrappedTimes) / rounds, ratio: totalRatio, medianRoundRatio: ratio, unrecordedUs: sum(unrecordedTimes) / rounds, unrecordedRatio: uTotalRatio, cpuUs, appCpuUs, latencyUs });
    console.log(
      `${name.padEnd(28)} blocks (mean per call): bare ${(sum(bareTimes) / rounds).toFixed(1).padStart(8)} µs, wrapped+recorded ${(sum(wrappedTimes) / rounds).toFixed(1).padStart(8)} µs, ` +
        `ratio ${totalRatio.toFixed(4)} (${((totalRatio - 1) * 100).toFixed(2)}%) ${totalRatio <= 1.03 ? "within 3%" : "OVER 3%"}; median of the rounds' ratios ${ratio.toFixed(4)} (rounds ${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)}); ` +
        `wrapped, no logger ${(sum(unrecordedTimes) / rounds).toFixed(1)} µs, ratio ${uTotalRatio.toFixed(4)} (median ${uRatio.toFixed(4)})`,
    );
    console.log(
      `${"".padEnd(28)} client CPU per call: bare ${cpuUs.bare.toFixed(1)} µs, wrapped+recorded ${cpuUs.wrapped.toFixed(1)} µs (+${(cpuUs.wrapped - cpuUs.bare).toFixed(1)}), ` +
        `wrapped, no logger ${cpuUs.unrecorded.toFixed(1)} µs (+${(cpuUs.unrecorded - cpuUs.bare).toFixed(1)})`,
    );
    if (appCpuUs) {
      const r = appCpuUs.wrapped / appCpuUs.bare;
      console.log(
        `${"".padEnd(28)} app thread CPU per call (blocks, all rounds): bare ${appCpuUs.bare.toFixed(1)} µs, wrapped+recorded ${appCpuUs.wrapped.toFixed(1)} µs, ratio ${r.toFixed(4)} (${((r - 1) * 100).toFixed(2)}%), ` +
          `wrapped, no logger ${appCpuUs.unrecorded.toFixed(1)} µs, ratio ${(appCpuUs.unrecorded / appCpuUs.bare).toFixed(4)}`,
      );
    }
    console.log(
      `${"".padEnd(28)} per call (${latencyCalls} calls each, medians; leaves out GC and the tail, see the header): bare ${latencyUs.bare.toFixed(1)} µs, wrapped+recorded ${latencyUs.wrapped.toFixed(1)} µs ` +
        `ratio ${latencyUs.ratio.toFixed(4)} ${latencyUs.ratio <= 1.03 ? "within 3%" : "OVER 3%"}, wrapped, no logger ${latencyUs.unrecorded.toFixed(1)} µs; ` +
        `records built later: ${latencyUs.flushPerCallUs.toFixed(1)} µs per call (${flushes} batches of ~${Math.round(latencyCalls / flushes)}); latency + that: ratio ${((latencyUs.wrapped + latencyUs.flushPerCallUs) / latencyUs.bare).toFixed(4)}`,
    );
  }
  // What the recording itself costs: the same logger's logChatInteraction for a record like the wrapper's.
  const sample = { interactionType: "chat.completions", provider: "openai", model: "gpt-4o-mini-2024-07-18", prompt: messages, response: "The capital of France is Paris.", inputTokens: 19, outputTokens: 10, usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 }, durationSeconds: 0.001, finishReason: "stop", success: true };
  const logTimes: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    logger.logChatInteraction(sample);
    logTimes.push(Number(process.hrtime.bigint() - t0) / 1e3);
    await logger.flush(); // content files written, as between real calls
  }
  console.log(`direct logChatInteraction (same logger): median ${median(logTimes).toFixed(1)} µs (synchronous part; content files are then written off the app's thread)`);
  await logger.finalizeSession();
  const recorded = fs.readFileSync(path.join(logger.auditDir, `chat_interactions_${logger.sessionId}.jsonl`), "utf8").trim().split("\n").length;
  const expected = Object.keys(variants).length * (warmup + rounds * calls + latencyCalls) + calls;
  console.log(`records written: ${recorded} (expected ${expected})${recorded === expected ? "" : "  MISMATCH"}`);
  console.log(JSON.stringify({ bench: "overhead-openai", preset: presetName, thread, rounds, calls, results }));
  await fake.close();
  fs.rmSync(dir, { recursive: true, force: true });
  if (recorded !== expected) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
