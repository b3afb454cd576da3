/**
 * The kit's share of the app thread's CPU time in wrapped OpenAI calls, measured inside one run.
 * Linux `perf` samples the app's main thread on its CPU clock (only while it runs, with the
 * kernel's part of its syscalls, JavaScript functions named through Node's `--perf-prof` jitdump)
 * while a wrapped client calls the local fake provider (in its own process, as a real provider is
 * another machine), and every sample is attributed to the kit or not. A share inside one run does
 * not move with the machine's speed, which on this shared 2-vCPU VM changes by ±20% between
 * identical runs (docs/BENCHMARKS.md): a 3% difference between two runs cannot be seen, a 3% share
 * can.
 *
 *   npm run build && npx tsx bench/share-openai.ts             # chat completions, each mode in its own process
 *   npx tsx bench/share-openai.ts --stream                     # streamed calls, read to the end
 *   npx tsx bench/share-openai.ts --calls 40000 --modes thread --frequency 4000
 *
 * Needs `perf` (Debian: `apt-get install linux-perf`) and permission to use it (root, or
 * `kernel.perf_event_paranoid` <= 1); software events are enough, a VM without hardware counters
 * does.
 *
 * Modes: `unrecorded` (wrapped, no logger), `recorded` (logger in `async` mode, records made on
 * the app's thread at the flush timer) and `thread` (`thread: true`: a worker thread makes them).
 * The logger uses the `minimal` preset and its own flush timer (100 ms), as an app runs it.
 *
 * How a sample is attributed: from the sampled function outwards, the first JavaScript frame that
 * belongs to a file (not V8's builtins, Node's C++ or `node:` internals, or the kernel) decides.
 * When it is a file of this package (`dist/`), the sample is the kit's: its own code and what it
 * calls in Node (a `postMessage`, a `writeSync` and its syscall). When it is the SDK's or the
 * app's, the sample is theirs, also where the kit called it (the SDK's parser, which the wrapper
 * only observes). Samples inside the garbage collector are charged in proportion to allocation:
 * the kit's share of the bytes allocated on the thread (V8's sampling heap profiler, attributed
 * the same way, objects collected since included, over a fifth as many calls again after perf
 * stopped: its stack captures would otherwise land in the allocators' CPU samples) times the
 * collector's samples.
 *
 * Sampling slows what it watches: at the default 1,000 samples a second (one per ms of the
 * thread's CPU) the watched calls cost the thread ~10% more, at 4,000 ~45% more; the kit's share
 * came out the same within its sampling error at 250, 1,000 and 4,000 (docs/BENCHMARKS.md). The
 * heap sampler, which takes a stack at every sample, is what did skew it, hence its own calls.
 *
 * Reported: the kit's share of the samples and `over bare` = kit / (all - kit), what the kit adds
 * to what the same calls cost without it; the kit's µs per call while watched; and, for scale,
 * the thread's CPU time per call over the same number of calls unwatched just before (schedstat).
 * What this does not see: work the kit makes others do, such as the promise hop the SDK's `await`
 * takes through an observed promise, or the caches the kit's code evicts; and SDK code that V8
 * inlined into the kit's wrappers counts as the kit's (perf sees one frame for both).
 * bench/instructions.ts counts the whole difference between a bare and a wrapped client
 * (instructions on valgrind's CPU, where the kernel's part is not counted).
 */
import { execFileSync, fork, spawn } from "node:child_process";
import fs from "node:fs";
import inspector from "node:inspector/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    calls: { type: "string", default: "25000" },
    warmup: { type: "string", default: "3000" },
    frequency: { type: "string", default: "1000" },
    stream: { type: "boolean", default: false },
    modes: { type: "string", default: "unrecorded,recorded,thread" },
  },
});

const KIT_PREFIX = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist") + path.sep).href;

type Owner = "kit" | "other" | "none";

/** Whose code a location is: the kit's (a file of dist/), another file's, or nobody's (`node:` internals, V8 builtins). */
function ownerOfUrl(url: string): Owner {
  if (url === "" || url.startsWith("node:")) return "none";
  return url.startsWith(KIT_PREFIX) ? "kit" : "other";
}

/** A JavaScript frame as V8's jitdump names it: "JS:*name file:///x.js:12:3" (`~` interpreted or baseline, `*` optimised). */
const JS_FRAME = /^(?:JS|LazyCompile|Function):[*~^+]?(\S*) (.*?)(?::\d+)?(?::\d+)?$/;
/** Frames of V8's garbage collector (main-thread parts: scavenges, mark-compact, incremental marking steps). */
const GC_FRAME = /CollectGarbage|Scavenge|MarkCompact|IncrementalMarking|ConcurrentMarking|Heap::FinalizeIncrementalMarking/;

/** Samples of the main thread by bucket, and the kit's by function (its first own frame), from `perf script -F ip,sym` output. */
function attributePerf(script: string): { samples: Record<"all" | "gc" | "kit", number>; kitByFn: Map<string, number> } {
  const samples = { all: 0, gc: 0, kit: 0 };
  const kitByFn = new Map<string, number>();
  for (const block of script.split(/\n\s*\n/)) {
    // each sample: its callchain, one frame per line, the sampled function first
    const frames = block
      .split("\n")
      .map((l) => l.trim().replace(/^[0-9a-f]+\s+/, "")) // "<address> <symbol>"
      .filter((l) => l.length > 0);
    if (frames.length === 0) continue;
    samples.all++;
    if (frames.some((f) => GC_FRAME.test(f))) {
      samples.gc++;
      continue;
    }
    for (const frame of frames) {
      const m = JS_FRAME.exec(frame);
      if (!m) continue; // the kernel, Node's C++, V8's builtins: whoever called them decides
      const owner = ownerOfUrl(m[2]!);
      if (owner === "none") continue;
      if (owner === "kit") {
        samples.kit++;
        const fn = `${m[1] || "(anonymous)"} ${frame.slice(frame.indexOf(KIT_PREFIX) + KIT_PREFIX.length)}`;
        kitByFn.set(fn, (kitByFn.get(fn) ?? 0) + 1);
      }
      break;
    }
  }
  return { samples, kitByFn };
}

interface HeapNode {
  callFrame: { url: string };
  selfSize: number;
  children: HeapNode[];
}

/** Bytes allocated on the thread, and the kit's part, from a sampling heap profile (attributed like the CPU samples). */
function attributeHeap(head: HeapNode): { total: number; kit: number } {
  let total = 0;
  let kit = 0;
  const walk = (n: HeapNode, owner: Owner): void => {
    const own = ownerOfUrl(n.callFrame.url);
    const o = own === "none" ? owner : own;
    total += n.selfSize;
    if (o === "kit") kit += n.selfSize;
    for (const c of n.children) walk(c, o);
  };
  walk(head, "none");
  return { total, kit };
}

/** The main thread's CPU time so far in ns (Linux schedstat: the first field is the time it ran), to check perf's count against. */
function threadCpuNs(): number | undefined {
  try {
    return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return undefined;
  }
}

/** Messages between the parent (which runs perf) and a child (one mode). */
type ToParent = { t: "ready"; pid: number } | { t: "ran" } | { t: "result"; alloc: { total: number; kit: number }; records: number; expected: number; plainCpuNs: number | undefined; threadCpuNs: number | undefined };
type ToChild = { t: "go" } | { t: "finish" };

function nextMessage<T>(from: NodeJS.Process | import("node:child_process").ChildProcess): Promise<T> {
  return new Promise((resolve) => from.once("message", (m) => resolve(m as T)));
}

/** One mode in this process: warm up, then make `calls` calls while the parent's perf watches. */
async function child(mode: string): Promise<void> {
  const calls = Number(values.calls);
  const { default: OpenAI } = await import("openai");
  const { forkFakeProvider, importBuilt } = await import("./lib.js");
  const { wrapOpenAI } = await importBuilt<typeof import("../integrations/openai.js")>("integrations/openai.js");
  const { AuditLogger, PresetConfigs } = await importBuilt<typeof import("../src/index.js")>("src/index.js");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-share-"));
  const logger = mode === "unrecorded" ? undefined : new AuditLogger(PresetConfigs.minimal("bench_share", dir, { thread: mode === "thread" }));
  const provider = await forkFakeProvider();
  process.removeAllListeners("warning"); // the unrecorded client's one "no logger" warning
  const client = wrapOpenAI(new OpenAI({ baseURL: provider.baseURL, apiKey: "sk-bench", maxRetries: 0 }), logger ? { logger } : {});
  const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
  const one = async (): Promise<void> => {
    if (values.stream) {
      const s = await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
      for await (const _ of s);
    } else await client.chat.completions.create({ model: "gpt-4o-mini", messages });
  };
  const warmup = Number(values.warmup);
  const heapCalls = Math.ceil(calls / 5);
  for (let i = 0; i < warmup; i++) await one();
  await logger?.flush();
  // the thread's CPU time per call with nobody watching, for scale (sampling slows it, see the header)
  const plain0 = threadCpuNs();
  for (let i = 0; i < calls; i++) await one();
  const plain1 = threadCpuNs();
  await logger?.flush();

  const go = nextMessage<ToChild>(process);
  process.send!({ t: "ready", pid: process.pid } satisfies ToParent);
  await go;
  const cpu0 = threadCpuNs();
  for (let i = 0; i < calls; i++) await one();
  const cpu1 = threadCpuNs();
  const finish = nextMessage<ToChild>(process);
  process.send!({ t: "ran" } satisfies ToParent);
  await finish;
  await logger?.flush();

  // Who allocates, in calls of their own after perf stopped: the heap sampler takes a stack at
  // every sample, and that work would land in the CPU samples of whoever allocates (the SDK,
  // mostly), diluting the kit's share. Objects collected since are counted too: what matters is
  // what was allocated.
  const session = new inspector.Session();
  session.connect();
  await session.post("HeapProfiler.startSampling", { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  for (let i = 0; i < heapCalls; i++) await one();
  const { profile } = (await session.post("HeapProfiler.stopSampling")) as unknown as { profile: { head: HeapNode } };
  session.disconnect();

  await logger?.finalizeSession();
  // the records the logger wrote: a run whose records went missing measured nothing worth reporting
  const records = logger ? fs.readFileSync(path.join(logger.auditDir, `chat_interactions_${logger.sessionId}.jsonl`), "utf8").trim().split("\n").length : 0;
  fs.rmSync(dir, { recursive: true, force: true });
  provider.close();
  process.send!({ t: "result", alloc: attributeHeap(profile.head), records, expected: logger ? warmup + 2 * calls + heapCalls : 0, plainCpuNs: plain0 !== undefined && plain1 !== undefined ? plain1 - plain0 : undefined, threadCpuNs: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined } satisfies ToParent, () => process.disconnect());
}

/** Runs one mode in a child process with perf watching its main thread while it makes the calls. */
async function runMode(mode: string): Promise<Record<string, unknown>> {
  const calls = Number(values.calls);
  const args = ["--child", mode, "--calls", String(values.calls), "--warmup", String(values.warmup), ...(values.stream ? ["--stream"] : [])];
  // JavaScript frames named through a jitdump (jit-<pid>.dump, in the child's working directory,
  // with code moves and reuse recorded, which a /tmp/perf-<pid>.map is not); interpreted ones get
  // a frame of their own
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-share-perf-"));
  const c = fork(fileURLToPath(import.meta.url), args, { cwd: work, execArgv: [...process.execArgv, "--perf-prof", "--interpreted-frames-native-stack"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<number | null>((resolve) => c.once("exit", resolve));
  const ready = await Promise.race([nextMessage<ToParent>(c), exited.then(() => undefined)]);
  if (ready?.t !== "ready") throw new Error(`${mode}: the child ended before it was ready`);
  const data = path.join(work, "perf.data");
  // -t: the main thread alone (its thread id is the process id); cpu-clock: while it runs;
  // -k mono: the clock the jitdump's records carry
  const perf = spawn("perf", ["record", "-q", "-k", "mono", "-e", "cpu-clock", "-c", String(Math.round(1e9 / Number(values.frequency))), "-g", "-t", String(ready.pid), "-o", data], { stdio: ["ignore", "ignore", "inherit"] });
  const perfDone = new Promise<void>((resolve, reject) => {
    perf.once("error", reject);
    perf.once("exit", () => resolve());
  });
  await new Promise((r) => setTimeout(r, 300)); // perf attached
  const ran = nextMessage<ToParent>(c);
  c.send({ t: "go" } satisfies ToChild);
  await ran;
  perf.kill("SIGINT");
  await perfDone;
  const result = nextMessage<ToParent>(c);
  c.send({ t: "finish" } satisfies ToChild);
  const r = await result;
  await exited;
  if (r.t !== "result") throw new Error(`${mode}: no result`);
  if (r.records !== r.expected) throw new Error(`${mode}: ${r.records} records written, ${r.expected} expected`);
  // the JIT's code as ELF files perf can read, then the samples with their symbols
  execFileSync("perf", ["inject", "--jit", "-i", data, "-o", `${data}.jit`], { cwd: work, stdio: "ignore" });
  const script = execFileSync("perf", ["script", "-i", `${data}.jit`, "-F", "ip,sym"], { cwd: work, maxBuffer: 1024 * 1024 * 1024, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  fs.rmSync(work, { recursive: true, force: true });

  const { samples, kitByFn } = attributePerf(script);
  const usPerSample = 1e6 / Number(values.frequency);
  const allocShare = r.alloc.total > 0 ? r.alloc.kit / r.alloc.total : 0;
  const kit = samples.kit + samples.gc * allocShare;
  const perCall = (n: number) => (n * usPerSample) / calls;
  if (r.plainCpuNs === undefined) throw new Error("the thread's CPU time cannot be read here (Linux /proc/self/task/<pid>/schedstat)");
  const plainUs = r.plainCpuNs / 1000 / calls;
  return {
    mode,
    samples,
    perCallUs: {
      /** the calls' CPU time on the thread, unwatched (for scale) */
      plain: plainUs,
      /** while perf watched: perf's count, and schedstat's for the same calls */
      sampled: perCall(samples.all),
      sampledSchedstat: r.threadCpuNs === undefined ? undefined : r.threadCpuNs / 1000 / calls,
      gc: perCall(samples.gc),
      kitCode: perCall(samples.kit),
      kitGc: perCall(samples.gc * allocShare),
      kit: perCall(kit),
    },
    allocPerCall: { total: r.alloc.total / Math.ceil(calls / 5), kit: r.alloc.kit / Math.ceil(calls / 5) },
    /** the kit's part of the watched thread's samples */
    share: kit / samples.all,
    /** what the kit adds to what the same calls cost without it */
    overBare: kit / (samples.all - kit),
    top: [...kitByFn]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([fn, n]) => [fn, +perCall(n).toFixed(2)]),
  };
}

function samples(r: Record<string, unknown>): string {
  const n = r.samples as { all: number; kit: number };
  return `${n.kit} of ${n.all}`;
}

async function main(): Promise<void> {
  try {
    execFileSync("perf", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error("bench/share-openai.ts needs Linux perf (Debian: apt-get install linux-perf)");
  }
  const modes = String(values.modes).split(",");
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${values.calls} ${values.stream ? "streamed " : ""}calls per mode after ${values.warmup} to warm up; perf cpu-clock at ${values.frequency} Hz, main thread`);
  const results = [];
  for (const mode of modes) {
    const r = await runMode(mode);
    results.push(r);
    const p = r.perCallUs as Record<string, number>;
    const a = r.allocPerCall as Record<string, number>;
    console.log(
      `${mode.padEnd(10)} cpu ${p.plain!.toFixed(1)} µs/call unwatched, ${p.sampled!.toFixed(1)} watched (GC ${p.gc!.toFixed(1)}); kit ${p.kit!.toFixed(2)} µs/call ` +
        `(code ${p.kitCode!.toFixed(2)}, GC ${p.kitGc!.toFixed(2)}: ${((a.kit! / a.total!) * 100).toFixed(1)}% of ${(a.total! / 1024).toFixed(0)} KiB allocated); ` +
        `share ${((r.share as number) * 100).toFixed(2)}%, over bare ${((r.overBare as number) * 100).toFixed(2)}% (${samples(r)} samples)`,
    );
    for (const [fn, t] of r.top as [string, number][]) console.log(`${"".padEnd(12)}${t.toFixed(2).padStart(6)} µs  ${fn}`);
  }
  console.log(JSON.stringify({ bench: "share-openai", stream: values.stream, calls: Number(values.calls), frequency: Number(values.frequency), results }));
}

(values.child ? child(values.child) : main()).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
