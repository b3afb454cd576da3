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
 *   npx tsx bench/instructions.ts --http          # over HTTP: the fake provider in its own process, not counted
 *   npx tsx bench/instructions.ts --main-thread   # the app's main thread only (callgrind, threads apart)
 *   npx tsx bench/instructions.ts --stream        # streamed calls, read to the end
 *   npx tsx bench/instructions.ts --modes bare,thread --thread   # only these clients
 *   BENCH_DIST=.scratch/before npx tsx bench/instructions.ts      # another build (see importBuilt)
 *
 * `--main-thread` is what the app's own thread pays: with `--thread` it leaves the worker out
 * (and, for every client, V8's and libuv's helper threads). It uses callgrind, ~2x slower.
 *
 * valgrind's CPU does not offer the SHA extensions, so OpenSSL hashes with its AVX2 code there:
 * the chain hash counts ~25k instructions per record under valgrind (a ~860-byte line), several
 * times what it runs natively on a CPU with them (most x86 servers since 2017). The counts
 * overstate a recorded call by about that much.
 *
 * Without `--main-thread`, what is counted is every thread's instructions: with `--thread` that
 * includes the worker's. What it does not show is what those instructions cost in time: the same
 * code runs at a lower rate when the CPU caches are cold (between network events), which
 * bench/overhead-openai.ts measures. Garbage collection is counted where it runs, and V8 sizes
 * its heap from timings, so a count moves by ±20–40k per call between runs of the same build:
 * repeat a comparison before believing a difference smaller than that. Takes ~10 minutes on 2
 * vCPUs in memory (two valgrind runs at a time, ~30x slower than native), ~40 minutes with
 * `--http --main-thread --thread`.
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
    http: { type: "boolean", default: false },
    "main-thread": { type: "boolean", default: false },
    stream: { type: "boolean", default: false },
    small: { type: "string", default: "2000" },
    large: { type: "string", default: "11000" },
    /** the clients to count, comma-separated (bare, unrecorded, recorded, thread); `bare` is counted first when listed */
    modes: { type: "string" },
  },
});
const WARMUP = 2000;

/** One process: `calls` calls of one client (after the warm-up), the logger's batches every 40. */
async function child(mode: string, calls: number): Promise<void> {
  const { default: OpenAI } = await import("openai");
  const { fakeOpenAIFetch } = await import("../test/helpers/fake-openai.js");
  const { forkFakeProvider, importBuilt } = await import("./lib.js");
  const { wrapOpenAI } = await importBuilt<typeof import("../integrations/openai.js")>("integrations/openai.js");
  const { AuditLogger, PresetConfigs } = await importBuilt<typeof import("../src/index.js")>("src/index.js");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-instr-"));
  const logger = mode === "recorded" || mode === "thread" ? new AuditLogger(PresetConfigs.minimal("bench_instr", dir, { flushIntervalMs: 60_000, thread: mode === "thread" })) : undefined;
  // --http: the provider runs in a child process, natively (valgrind does not follow children)
  const provider = values.http ? await forkFakeProvider() : undefined;
  const opts = provider
    ? { baseURL: provider.baseURL, apiKey: "sk-bench", maxRetries: 0 }
    : { baseURL: "http://fake-openai.invalid/v1", apiKey: "sk-bench", maxRetries: 0, fetch: fakeOpenAIFetch() };
  process.removeAllListeners("warning"); // the unrecorded client's one "no logger" warning
  const client = mode === "bare" ? new OpenAI(opts) : wrapOpenAI(new OpenAI(opts), logger ? { logger } : {});
  const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
  for (let i = 0; i < WARMUP + calls; i++) {
    if (values.stream) {
      const s = await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
      for await (const _ of s);
    } else await client.chat.completions.create({ model: "gpt-4o-mini", messages });
    if (logger && i % 40 === 39) await logger.flush();
  }
  await logger?.finalizeSession();
  fs.rmSync(dir, { recursive: true, force: true });
  provider?.close();
}


/** Instructions of one valgrind run of `child(mode, calls)`: all threads, or the main thread's. */
function count(mode: string, calls: number): Promise<number> {
  const mainOnly = values["main-thread"];
  const out = mainOnly ? fs.mkdtempSync(path.join(os.tmpdir(), "bench-cg-")) : undefined;
  const args = mainOnly
    ? ["--tool=callgrind", "--separate-threads=yes", "--dump-instr=no", "--smc-check=all-non-file", `--callgrind-out-file=${out}/cg.%p`]
    : ["--tool=cachegrind", "--cache-sim=no", "--smc-check=all-non-file", "--cachegrind-out-file=/dev/null"];
  const flags = [values.http ? "--http" : "", values.stream ? "--stream" : ""].filter(Boolean);
  args.push(process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), "--child", mode, "--calls", String(calls), ...flags);
  return new Promise((resolve, reject) => {
    execFile("valgrind", args, { maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      let n: number | undefined;
      if (out) {
        // callgrind writes one file per thread; the main thread's ends in -01
        const file = fs.readdirSync(out).find((f) => f.endsWith("-01"));
        const m = file ? /^totals:\s+(\d+)/m.exec(fs.readFileSync(path.join(out, file), "utf8")) : null;
        n = m ? Number(m[1]) : undefined;
        fs.rmSync(out, { recursive: true, force: true });
      } else {
        const m = /I\s+refs:\s+([\d,]+)/.exec(stderr);
        n = m ? Number(m[1]!.replaceAll(",", "")) : undefined;
      }
      if (err || n === undefined) reject(new Error(`valgrind failed for ${mode} × ${calls}: ${err?.message ?? ""}\n${stderr.slice(-2000)}`));
      else resolve(n);
    });
  });
}

async function main(): Promise<void> {
  const small = Number(values.small);
  const large = Number(values.large);
  const modes = values.modes ? values.modes.split(",") : ["bare", "unrecorded", "recorded", ...(values.thread ? ["thread"] : [])];
  const perCall: Record<string, number> = {};
  for (const mode of modes) {
    const [a, b] = await Promise.all([count(mode, small), count(mode, large)]);
    perCall[mode] = (b - a) / (large - small);
    const base = perCall.bare;
    console.log(`${mode.padEnd(11)} ${Math.round(perCall[mode]! / 1000)}k instructions per call${mode === "bare" || base === undefined ? "" : ` (${((perCall[mode]! / base - 1) * 100).toFixed(1)}% over bare)`}`);
  }
  const setup = { http: values.http, mainThread: values["main-thread"], stream: values.stream };
  console.log(JSON.stringify({ bench: "instructions", ...setup, small, large, perCall }));
}

(values.child ? child(values.child, Number(values.calls)) : main()).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
