/**
 * CPU instructions per wrapped OpenAI call, counted by valgrind (cachegrind): a deterministic
 * measure of the work the wrapper and the recording add, where timings on a shared VM move by
 * more than the differences looked for. Each client makes chat completions in memory (the same
 * fixtures as the tests, `fakeOpenAIFetch`, no sockets), alone in its process, with the logger's
 * batches built every 40 calls; the count for N calls is taken at two N, and the difference
 * divided by the extra calls is the count per call (start-up and warm-up cancel out).
 *
 *   apt-get install valgrind && npm run build
 *   npx tsx bench/instructions.ts                 # bare, wrapped with no logger, wrapped and recorded
 *   npx tsx bench/instructions.ts --thread        # also: recorded by a worker thread (thread: true)
 *
 * What is counted is every thread's instructions: with `--thread` that includes the worker's.
 * What it does not show is what those instructions cost in time: the same code runs at a lower
 * rate when the CPU caches are cold (between network events), which bench/overhead-openai.ts
 * measures. Garbage collection is counted where it runs, so counts move by ~2% between runs.
 * Takes ~10 minutes on 2 vCPUs (two valgrind runs at a time, ~30x slower than native).
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    calls: { type: "string", default: "0" },
    thread: { type: "boolean", default: false },
    small: { type: "string", default: "2000" },
    large: { type: "string", default: "11000" },
  },
});
const WARMUP = 2000;

/** One process: `calls` calls of one client (after the warm-up), the logger's batches every 40. */
async function child(mode: string, calls: number): Promise<void> {
  const { default: OpenAI } = await import("openai");
  const { fakeOpenAIFetch } = await import("../test/helpers/fake-openai.js");
  const { importBuilt } = await import("./lib.js");
  const { wrapOpenAI } = await importBuilt<typeof import("../integrations/openai.js")>("integrations/openai.js");
  const { AuditLogger, PresetConfigs } = await importBuilt<typeof import("../src/index.js")>("src/index.js");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-instr-"));
  const logger = mode === "recorded" || mode === "thread" ? new AuditLogger(PresetConfigs.minimal("bench_instr", dir, { flushIntervalMs: 60_000, thread: mode === "thread" })) : undefined;
  const opts = { baseURL: "http://fake-openai.invalid/v1", apiKey: "sk-bench", maxRetries: 0, fetch: fakeOpenAIFetch() };
  process.removeAllListeners("warning"); // the unrecorded client's one "no logger" warning
  const client = mode === "bare" ? new OpenAI(opts) : wrapOpenAI(new OpenAI(opts), logger ? { logger } : {});
  const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
  for (let i = 0; i < WARMUP + calls; i++) {
    await client.chat.completions.create({ model: "gpt-4o-mini", messages });
    if (logger && i % 40 === 39) await logger.flush();
  }
  await logger?.finalizeSession();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Instructions of one valgrind run of `child(mode, calls)`. */
function count(mode: string, calls: number): Promise<number> {
  const args = ["--tool=cachegrind", "--cache-sim=no", "--smc-check=all-non-file", "--cachegrind-out-file=/dev/null"];
  args.push(process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), "--child", mode, "--calls", String(calls));
  return new Promise((resolve, reject) => {
    execFile("valgrind", args, { maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      const m = /I\s+refs:\s+([\d,]+)/.exec(stderr);
      if (err || !m) reject(new Error(`valgrind failed for ${mode} × ${calls}: ${err?.message ?? ""}\n${stderr.slice(-2000)}`));
      else resolve(Number(m[1]!.replaceAll(",", "")));
    });
  });
}

async function main(): Promise<void> {
  const small = Number(values.small);
  const large = Number(values.large);
  const modes = ["bare", "unrecorded", "recorded", ...(values.thread ? ["thread"] : [])];
  const perCall: Record<string, number> = {};
  for (const mode of modes) {
    const [a, b] = await Promise.all([count(mode, small), count(mode, large)]);
    perCall[mode] = (b - a) / (large - small);
    const base = perCall.bare!;
    console.log(`${mode.padEnd(11)} ${Math.round(perCall[mode]! / 1000)}k instructions per call${mode === "bare" ? "" : ` (${((perCall[mode]! / base - 1) * 100).toFixed(1)}% over bare)`}`);
  }
  console.log(JSON.stringify({ bench: "instructions", small, large, perCall }));
}

(values.child ? child(values.child, Number(values.calls)) : main()).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
