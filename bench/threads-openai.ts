/**
 * The CPU time a wrapped OpenAI call costs in every thread of the app's process, not only the
 * app's own: the main thread, the logger's worker thread (`thread: true`), and Node's helper
 * threads (V8's platform workers, which run the garbage collectors' parallel and concurrent
 * work for the main thread and the worker alike, and libuv's pool). On a machine with spare cores
 * that work runs beside the app; on a small one (this 2-vCPU VM) it competes with it, which is
 * why a wrapped call's latency there grows by more than the kit's share of the main thread
 * (bench/share-openai.ts) alone: docs/BENCHMARKS.md.
 *
 *   npm run build && npx tsx bench/threads-openai.ts            # over HTTP, the fake provider in a child process (not counted)
 *   npx tsx bench/threads-openai.ts --in-memory                 # the SDK's fetch answered without sockets
 *   npx tsx bench/threads-openai.ts --modes bare,thread --calls 20000 --repeat 3
 *
 * Each client runs in a process of its own (`bare`: no wrapper; `als-bare`: no wrapper, in a
 * process where an AsyncLocalStorage is in use, as in any app that uses the kit's context, its
 * Express middleware or another library's store; `unrecorded`: wrapped, no logger; `recorded`:
 * `async` mode, records made on the app's thread; `thread`: `thread: true`), the
 * `minimal` preset with its own flush timer (100 ms), as an app runs it: `--warmup` calls, then
 * `--calls` calls timed, one after the other, the logger flushed at the end. CPU time per thread
 * from Linux's /proc/self/task/<tid>/schedstat (time on a CPU, not waiting for one), divided by
 * the calls. The logger's worker is the thread that appeared when the logger was made (Node 20
 * names no thread); the helper threads are all the others. Also the main thread's garbage
 * collection pauses (V8's `gc` performance entries, part of its CPU time).
 *
 * On Node 20 an AsyncLocalStorage, once any store is used, adds a hook to every promise the
 * process makes (Node 22+ propagates the store another way): a wrapped call pays that in the SDK's
 * own promises too, and `als-bare` measures it apart from the kit's own work ("over als-bare").
 *
 * What it does not tell: what the CPU time costs in latency, which depends on the cores free
 * (bench/overhead-openai.ts measures latency; bench/share-openai.ts the kit's share of the main
 * thread). Timings on a shared VM move by ±20% between runs: compare modes inside one run
 * (`--repeat` alternates them).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { fakeOpenAIFetch } from "../test/helpers/fake-openai.js";
import { forkFakeProvider, importBuilt, median } from "./lib.js";

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    "base-url": { type: "string" },
    calls: { type: "string", default: "10000" },
    warmup: { type: "string", default: "2000" },
    modes: { type: "string", default: "bare,als-bare,unrecorded,recorded,thread" },
    repeat: { type: "string", default: "2" },
    "in-memory": { type: "boolean", default: false },
  },
});

const MODES = ["bare", "als-bare", "unrecorded", "recorded", "thread"] as const;
type Mode = (typeof MODES)[number];

/** CPU nanoseconds each thread of this process has run so far, by tid. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of fs.readdirSync("/proc/self/task")) {
    try {
      out.set(tid, Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]));
    } catch {
      // (a thread that ended between the listing and the read)
    }
  }
  return out;
}

interface ChildResult {
  readonly mode: Mode;
  /** µs of CPU per call */
  readonly main: number;
  readonly worker: number;
  readonly helpers: number;
  readonly wallUs: number;
  /** the main thread's garbage collection pauses (V8's "gc" performance entries), µs per call */
  readonly gcUs: number;
}

async function child(mode: Mode, baseURL: string | undefined): Promise<void> {
  const { wrapOpenAI } = await importBuilt<typeof import("../integrations/openai.js")>("integrations/openai.js");
  const { AuditLogger, PresetConfigs } = await importBuilt<typeof import("../src/index.js")>("src/index.js");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-threads-"));
  // (libuv's pool started before the logger, so that its threads are not taken for the worker)
  await fs.promises.readFile(fileURLToPath(import.meta.url));
  const before = new Set(threadCpu().keys());
  const logger = mode === "recorded" || mode === "thread" ? new AuditLogger(PresetConfigs.minimal("bench_threads", dir, { thread: mode === "thread" })) : undefined;
  const opts = baseURL === undefined ? { baseURL: "http://fake-openai.invalid/v1", apiKey: "sk-bench", maxRetries: 0, fetch: fakeOpenAIFetch() } : { baseURL, apiKey: "sk-bench", maxRetries: 0 };
  const bare = new OpenAI(opts);
  // (a store used once turns Node 20's promise hook on for the whole process, as an app's first request in a context does)
  if (mode === "als-bare") new AsyncLocalStorage().run({}, () => {});
  const client = mode === "bare" || mode === "als-bare" ? bare : wrapOpenAI(bare, logger ? { logger } : {});
  const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
  const warmup = Number(values.warmup);
  const calls = Number(values.calls);
  for (let i = 0; i < warmup; i++) await client.chat.completions.create({ model: "gpt-4o-mini", messages });
  await logger?.flush();
  const fresh = [...threadCpu().keys()].filter((t) => !before.has(t));
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  gc.observe({ entryTypes: ["gc"] });
  const a = threadCpu();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await client.chat.completions.create({ model: "gpt-4o-mini", messages });
  await logger?.flush();
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000 / calls;
  const b = threadCpu();
  // (the entries of the last collections are delivered in a later turn)
  await new Promise((r) => setImmediate(r));
  gc.disconnect();
  const gcUs = (gcMs * 1000) / calls;
  let main = 0;
  let worker = 0;
  let helpers = 0;
  for (const [tid, ns] of b) {
    const us = (ns - (a.get(tid) ?? 0)) / 1000 / calls;
    if (tid === String(process.pid)) main += us;
    else if (mode === "thread" && fresh.includes(tid)) worker += us;
    else helpers += us;
  }
  await logger?.finalizeSession();
  fs.rmSync(dir, { recursive: true, force: true });
  const result: ChildResult = { mode, main, worker, helpers, wallUs, gcUs };
  process.send!(result);
}

function runChild(mode: Mode, baseURL: string | undefined): Promise<ChildResult> {
  const args = ["--child", mode, "--calls", String(values.calls), "--warmup", String(values.warmup), ...(baseURL ? ["--base-url", baseURL] : [])];
  const c = fork(fileURLToPath(import.meta.url), args, { execArgv: process.execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    let got: ChildResult | undefined;
    c.on("message", (m) => (got = m as ChildResult));
    c.on("exit", (code) => (got ? resolve(got) : reject(new Error(`${mode} child exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const modes = String(values.modes).split(",") as Mode[];
  for (const m of modes) if (!MODES.includes(m)) throw new Error(`unknown mode ${m}: one of ${MODES.join(", ")}`);
  const provider = values["in-memory"] ? undefined : await forkFakeProvider();
  const results = new Map<Mode, ChildResult[]>();
  try {
    for (let r = 0; r < Number(values.repeat); r++) {
      // (the order rotates, so that drift in the machine's load hits every mode alike)
      const order = modes.map((_, i) => modes[(i + r) % modes.length]!);
      for (const mode of order) {
        const res = await runChild(mode, provider?.baseURL);
        results.set(mode, [...(results.get(mode) ?? []), res]);
      }
    }
  } finally {
    provider?.close();
  }
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}, ${values["in-memory"] ? "in memory" : "over HTTP (provider not counted)"}, ${values.calls} calls per process, ${values.repeat} processes per mode; CPU µs per call (medians over the processes)`);
  const med = (mode: Mode, k: keyof Omit<ChildResult, "mode">) => median((results.get(mode) ?? []).map((x) => x[k]));
  const bareTotal = results.has("bare") ? med("bare", "main") + med("bare", "helpers") : undefined;
  const out: Record<string, Record<string, number>> = {};
  for (const mode of modes) {
    const main = med(mode, "main");
    const worker = med(mode, "worker");
    const helpers = med(mode, "helpers");
    const total = main + worker + helpers;
    out[mode] = { main, worker, helpers, total, wallUs: med(mode, "wallUs"), gcUs: med(mode, "gcUs") };
    const overOf = (base: Mode) => ` (+${(total - med(base, "main") - med(base, "helpers")).toFixed(1)} over ${base}: main ${(main - med(base, "main")).toFixed(1)}, worker ${worker.toFixed(1)}, helpers ${(helpers - med(base, "helpers")).toFixed(1)})`;
    const over = (bareTotal !== undefined && mode !== "bare" ? overOf("bare") : "") + (results.has("als-bare") && mode !== "bare" && mode !== "als-bare" ? overOf("als-bare") : "");
    console.log(`${mode.padEnd(11)} main ${main.toFixed(1).padStart(7)}  worker ${worker.toFixed(1).padStart(6)}  helpers ${helpers.toFixed(1).padStart(6)}  total ${total.toFixed(1).padStart(7)}  wall ${med(mode, "wallUs").toFixed(1)}  main's GC pauses ${med(mode, "gcUs").toFixed(1)} µs/call${over}`);
  }
  console.log(JSON.stringify({ bench: "threads-openai", inMemory: values["in-memory"], calls: Number(values.calls), repeat: Number(values.repeat), perCallUs: out }));
}

(values.child ? child(values.child as Mode, values["base-url"]) : main()).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
