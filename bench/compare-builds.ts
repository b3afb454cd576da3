/**
 * Two or more builds of the package in one process, for telling small changes to the recording
 * path apart on a noisy machine (where separate runs of bench/overhead-openai.ts differ by more
 * than the change). Each build gets its own logger (`minimal` preset, `async`) and wrapped OpenAI
 * client answering in memory (test/helpers/fake-openai.ts fakeOpenAIFetch); batches of 40 calls
 * alternate between the builds (every build in every place of the order equally often), each call paired with a bare call,
 * and each batch ends with the logger's `flush()`, whose synchronous part (the app thread's work:
 * building and writing the batch's records, or with `:thread` queueing and sending them) is timed.
 *
 *   npm run build && cp -r dist /tmp/before     # then change the code
 *   npm run build && npx tsx bench/compare-builds.ts /tmp/before dist dist:thread
 *   STREAM=1 npx tsx bench/compare-builds.ts /tmp/before dist       # streamed calls
 *   HTTP=1 npx tsx bench/compare-builds.ts /tmp/before dist         # over HTTP, see below
 *
 * A build directory is a copy of `dist/` inside this checkout or beside it (it resolves `openai`
 * from this checkout's node_modules); `:thread` gives that build's logger `thread: true`.
 * Printed per build: the median call and its excess over the bare call, the excess of each call
 * over the bare call just before it (median, and mean of the middle 80%), the median and mean
 * flush part per call, and the mean of call plus flush part per call (everything the app's
 * thread spent, garbage collection included) against the bare call's mean.
 *
 * With `HTTP=1` the clients talk to the fake provider over HTTP instead (in a child process, as in
 * bench/overhead-openai.ts): slower and noisier, but the same code then runs between network
 * events, with colder CPU caches, which is where a change to the call path shows its real cost.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { fakeOpenAIFetch } from "../test/helpers/fake-openai.js";
import { forkFakeProvider, median } from "./lib.js";

const specs = process.argv.slice(2);
if (specs.length === 0) {
  console.error("usage: npx tsx bench/compare-builds.ts <built dir>[:thread] ...");
  process.exit(2);
}
const stream = process.env.STREAM === "1";
const batches = Number(process.env.BATCHES ?? (stream ? 300 : 400));
const WARMUP = 50;
const PER_BATCH = 40;
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
/** the mean of the middle 80% (a stall of either call of a pair says nothing about the wrapper) */
const trimmedMean = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const cut = Math.floor(s.length / 10);
  return mean(s.slice(cut, s.length - cut));
};
const http = process.env.HTTP === "1";
const provider = http ? await forkFakeProvider() : undefined;
const baseURL = provider ? provider.baseURL : "http://fake-openai.invalid/v1";
const fetch = http ? undefined : fakeOpenAIFetch();
const client = () => new OpenAI({ baseURL, apiKey: "sk-bench", maxRetries: 0, ...(fetch ? { fetch } : {}) });

type Built = typeof import("../src/index.js") & typeof import("../integrations/openai.js");
const sides = await Promise.all(
  specs.map(async (spec, i) => {
    const [dir, mode] = spec.split(":") as [string, string | undefined];
    const mod = { ...(await import(path.resolve(dir, "src/index.js"))), ...(await import(path.resolve(dir, "integrations/openai.js"))) } as Built;
    const projectPath = fs.mkdtempSync(path.join(os.tmpdir(), "bench-compare-"));
    const logger = new mod.AuditLogger(mod.PresetConfigs.minimal(`compare_${i}`, projectPath, { flushIntervalMs: 60_000, ...(mode === "thread" ? { thread: true } : {}) }));
    return { spec, logger, projectPath, client: mod.wrapOpenAI(client(), { logger }), call: [] as number[], diff: [] as number[], flush: [] as number[] };
  }),
);
const bare = client();
const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
const once = async (c: OpenAI) => {
  if (!stream) return void (await c.chat.completions.create({ model: "gpt-4o-mini", messages }));
  const s = await c.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
  for await (const _ of s);
};
const bareTimes: number[] = [];
for (let b = 0; b < batches + WARMUP; b++) {
  // every build takes every place in the order equally often, after each of the others
  const n = sides.length;
  const rotated = [...sides.slice(b % n), ...sides.slice(0, b % n)];
  for (const side of Math.floor(b / n) % 2 ? rotated.reverse() : rotated) {
    for (let i = 0; i < PER_BATCH; i++) {
      const t0 = process.hrtime.bigint();
      await once(bare);
      const t1 = process.hrtime.bigint();
      await once(side.client);
      const t2 = process.hrtime.bigint();
      if (b >= WARMUP) {
        bareTimes.push(Number(t1 - t0) / 1e3);
        side.call.push(Number(t2 - t1) / 1e3);
        side.diff.push(Number(t2 - t1 - (t1 - t0)) / 1e3);
      }
    }
    const f0 = process.hrtime.bigint();
    const flushed = side.logger.flush();
    if (b >= WARMUP) side.flush.push(Number(process.hrtime.bigint() - f0) / 1e3 / PER_BATCH);
    await flushed;
  }
}
console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${stream ? "streamed" : "chat"} calls ${http ? "over HTTP" : "in memory"}, ${batches} batches of ${PER_BATCH} per build; bare call median ${median(bareTimes).toFixed(2)} µs, mean ${mean(bareTimes).toFixed(2)} µs`);
for (const s of sides) {
  console.log(
    `${s.spec.padEnd(24)} call median ${median(s.call).toFixed(2)} µs (+${(median(s.call) - median(bareTimes)).toFixed(2)}; paired with its bare call: median +${median(s.diff).toFixed(2)}, trimmed mean +${trimmedMean(s.diff).toFixed(2)}), ` +
      `flush part per call median ${median(s.flush).toFixed(2)} / mean ${mean(s.flush).toFixed(2)} µs, ` +
      `call + flush part mean ${(mean(s.call) + mean(s.flush)).toFixed(2)} µs (bare ${mean(bareTimes).toFixed(2)})`,
  );
  await s.logger.finalizeSession();
  fs.rmSync(s.projectPath, { recursive: true, force: true });
}
provider?.close();
