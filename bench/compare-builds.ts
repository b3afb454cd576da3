/**
 * Two or more builds of the package in one process, for telling small changes to the recording
 * path apart on a noisy machine (where separate runs of bench/overhead-openai.ts differ by more
 * than the change). Each build gets its own logger (`minimal` preset, `async`) and wrapped OpenAI
 * client answering in memory (test/helpers/fake-openai.ts fakeOpenAIFetch); batches of 40 calls
 * alternate between the builds (order reversed every batch), each call paired with a bare call,
 * and each batch ends with the logger's `flush()`, whose synchronous part (the app thread's work:
 * building and writing the batch's records, or with `:thread` queueing and sending them) is timed.
 *
 *   npm run build && cp -r dist /tmp/before     # then change the code
 *   npm run build && npx tsx bench/compare-builds.ts /tmp/before dist dist:thread
 *   STREAM=1 npx tsx bench/compare-builds.ts /tmp/before dist       # streamed calls
 *
 * A build directory is a copy of `dist/` inside this checkout or beside it (it resolves `openai`
 * from this checkout's node_modules); `:thread` gives that build's logger `thread: true`.
 * Printed per build: the median call and its excess over the bare call, the median and mean
 * flush part per call, and the mean of call plus flush part per call (everything the app's
 * thread spent, garbage collection included) against the bare call's mean.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { fakeOpenAIFetch } from "../test/helpers/fake-openai.js";
import { median } from "./lib.js";

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
const fetch = fakeOpenAIFetch();
const client = () => new OpenAI({ baseURL: "http://fake-openai.invalid/v1", apiKey: "sk-bench", maxRetries: 0, fetch });

type Built = typeof import("../src/index.js") & typeof import("../integrations/openai.js");
const sides = await Promise.all(
  specs.map(async (spec, i) => {
    const [dir, mode] = spec.split(":") as [string, string | undefined];
    const mod = { ...(await import(path.resolve(dir, "src/index.js"))), ...(await import(path.resolve(dir, "integrations/openai.js"))) } as Built;
    const projectPath = fs.mkdtempSync(path.join(os.tmpdir(), "bench-compare-"));
    const logger = new mod.AuditLogger(mod.PresetConfigs.minimal(`compare_${i}`, projectPath, { flushIntervalMs: 60_000, ...(mode === "thread" ? { thread: true } : {}) }));
    return { spec, logger, projectPath, client: mod.wrapOpenAI(client(), { logger }), call: [] as number[], flush: [] as number[] };
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
  for (const side of b % 2 ? [...sides].reverse() : sides) {
    for (let i = 0; i < PER_BATCH; i++) {
      const t0 = process.hrtime.bigint();
      await once(bare);
      const t1 = process.hrtime.bigint();
      await once(side.client);
      const t2 = process.hrtime.bigint();
      if (b >= WARMUP) {
        bareTimes.push(Number(t1 - t0) / 1e3);
        side.call.push(Number(t2 - t1) / 1e3);
      }
    }
    const f0 = process.hrtime.bigint();
    const flushed = side.logger.flush();
    if (b >= WARMUP) side.flush.push(Number(process.hrtime.bigint() - f0) / 1e3 / PER_BATCH);
    await flushed;
  }
}
console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${stream ? "streamed" : "chat"} calls, ${batches} batches of ${PER_BATCH} per build; bare call median ${median(bareTimes).toFixed(2)} µs, mean ${mean(bareTimes).toFixed(2)} µs`);
for (const s of sides) {
  console.log(
    `${s.spec.padEnd(24)} call median ${median(s.call).toFixed(2)} µs (+${(median(s.call) - median(bareTimes)).toFixed(2)}), ` +
      `flush part per call median ${median(s.flush).toFixed(2)} / mean ${mean(s.flush).toFixed(2)} µs, ` +
      `call + flush part mean ${(mean(s.call) + mean(s.flush)).toFixed(2)} µs (bare ${mean(bareTimes).toFixed(2)})`,
  );
  await s.logger.finalizeSession();
  fs.rmSync(s.projectPath, { recursive: true, force: true });
}
