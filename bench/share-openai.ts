/**
 * The kit's share of the app thread's CPU time in wrapped OpenAI (or Anthropic) calls, measured inside one run.
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
 *   npx tsx bench/share-openai.ts --modes thread --keep-script .scratch  # keeps perf's samples (thread.perf.txt)
 *   npx tsx bench/share-openai.ts --provider anthropic [--stream]  # wrapAnthropic, messages.create
 *   npx tsx bench/share-openai.ts --history 20                 # 20 earlier messages sent with each call
 *   npx tsx bench/share-openai.ts --provider ai-sdk [--stream]  # generateText/streamText with auditLanguageModelMiddleware
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
 * calls in Node (a `postMessage`, a `headers.get`, a `write(2)`). A file of one of the kit's
 * dependencies (SonicBoom, which writes the batches, zod, csv-stringify) is passed over: the next
 * file frame out decides, so zod is the kit's where the kit validates and the AI SDK's where the
 * AI SDK does (since 2026-12-03), and a chain of dependency frames alone (a SonicBoom callback)
 * is the kit's (until 2026-12-02, seventh session, SonicBoom's frames counted as someone else's,
 * which left the batch writes out of the kit's share). When it is the SDK's or the app's, the
 * sample is theirs, also where the kit called it (the SDK's parser, which the wrapper only
 * observes).
 * Samples inside the garbage collector are charged in proportion to allocation, an approximation
 * (a scavenge costs by what survives it, and records that wait for the batch survive more than
 * the SDK's garbage does): the kit's share of the bytes allocated on the thread (V8's sampling
 * heap profiler, attributed the same way, objects collected since included, over a fifth as many
 * calls again after perf stopped: its stack captures would otherwise land in the allocators' CPU
 * samples) times the collector's samples.
 *
 * Sampling slows what it watches: at the default 1,000 samples a second (one per ms of the
 * thread's CPU) the watched calls cost the thread ~10% more, at 4,000 ~45% more; the kit's share
 * came out the same within its sampling error at 250, 1,000 and 4,000 (docs/BENCHMARKS.md). The
 * heap sampler, which takes a stack at every sample, is what did skew it, hence its own calls.
 *
 * Reported: the kit's share of the samples and `over bare` = kit / (all - kit), what the kit adds
 * to what the same calls cost without it; the kit's µs per call while watched; and, for scale,
 * the thread's CPU time per call over the same number of calls unwatched just before (schedstat).
 * What this does not see, or sees wrongly:
 * - work the kit makes others do, such as the promise hop the SDK's `await` takes through an
 *   observed promise, or the caches the kit's code evicts;
 * - inlining, both ways: perf sees one frame where V8 inlined one function into another, so SDK
 *   code inlined into the kit's wrappers counts as the kit's, and a kit wrapper inlined into the
 *   app's function as the app's;
 * - samples whose chain frame-pointer unwinding lost inside a C library (a `write` syscall, a
 *   `malloc` in Node's C++) have no file's frame and count as nobody's, whoever made them. So do
 *   the event loop's own work and the Node internals it runs for the SDK's fetch (reading the
 *   socket, parsing HTTP), about half of the thread's time. That share is printed.
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
import { forkFakeProvider, importBuilt, mainThreadCpuNs } from "./lib.js";

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    calls: { type: "string", default: "25000" },
    warmup: { type: "string", default: "3000" },
    frequency: { type: "string", default: "1000" },
    stream: { type: "boolean", default: false },
    modes: { type: "string", default: "unrecorded,recorded,thread" },
    /**
     * `openai` (chat completions) or `anthropic` (messages), each against its fake provider; or
     * `ai-sdk` (the AI SDK's generateText/streamText with auditLanguageModelMiddleware, over
     * @ai-sdk/anthropic against the fake Anthropic provider)
     */
    provider: { type: "string", default: "openai" },
    /** earlier turns sent with each call (user and assistant messages of ~300 characters each): a chat app's prompt */
    history: { type: "string", default: "0" },
    /** a directory to keep each mode's `perf script` output in (<mode>.perf.txt), to read its frames */
    "keep-script": { type: "string" },
  },
});

const KIT_PREFIX = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist") + path.sep).href;

/** `dep`: a file of one of the kit's dependencies, which others may call too (the AI SDK uses zod): its caller decides */
type Owner = "kit" | "other" | "none" | "dep";

/** Whose code a location is: the kit's (a file of dist/), another file's, or nobody's (`node:` internals, V8 builtins). */
/** The kit's runtime dependencies (package.json `dependencies`), which only the kit calls in this bench. */
const KIT_DEPENDENCIES = Object.keys((JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { dependencies: Record<string, string> }).dependencies);
/** A frame's file is a kit dependency's: a path or URL inside `node_modules/<name>/`. */
const KIT_DEPENDENCY_FILE = new RegExp(`[\\\\/]node_modules[\\\\/](?:${KIT_DEPENDENCIES.map((d) => d.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})[\\\\/]`);

/** A kit file's name to print: inside `dist/`, or from `node_modules/` on for a dependency. */
function kitFile(url: string): string {
  if (url.startsWith(KIT_PREFIX)) return url.slice(KIT_PREFIX.length);
  const i = url.lastIndexOf("node_modules");
  return i >= 0 ? url.slice(i) : url;
}

function ownerOfUrl(url: string): Owner {
  if (url === "" || url.startsWith("node:")) return "none";
  if (url.startsWith(KIT_PREFIX)) return "kit";
  return KIT_DEPENDENCY_FILE.test(url) ? "dep" : "other";
}

/**
 * A JavaScript frame as V8's jitdump names it: "JS:*name file:///x.js:12:3" (`~` interpreted,
 * `^` baseline, `+` Maglev, `*` TurboFan). A name may hold spaces ("get signal"); a location never.
 */
const JS_FRAME = /^(?:JS|LazyCompile|Function):[*~^+]?(.*) (\S*?)(?::\d+)?(?::\d+)?$/;
/**
 * V8's builtins of an async generator's own `next`/`return`/`throw`: the SDKs' streams are async
 * generators, and the stream tap calls their `next()` where the app's `for await` calls it
 * without the kit. Work inside these builtins (queueing the request, making its promise, resuming
 * the generator) is the stream's own, done for whoever reads it; until 2026-12-03 (eleventh
 * session) it counted as the kit's when the tap made the call, as the first file frame out of it
 * was the tap's: about half of the tap's samples (17 of 32 in one run). The kit has no async
 * generator of its own on these paths.
 */
const GENERATOR_STEP = /^Builtins?[_:]AsyncGeneratorPrototype(?:Next|Return|Throw)$/;
/**
 * Node's web-stream step that hands a part to a stream's reader: the AI SDK middleware's
 * pass-through (integrations/ai-sdk.ts) calls it for each part it passes on, where without the
 * kit the provider's own stream does. What runs inside it (the AI SDK's pipe taking the part, its
 * next TransformStream, the AI SDK's own transforms) is the delivery the bare call makes too, from
 * the provider's frame: it counts as the reader's, not the kit's, in the CPU samples and in the
 * allocations (since 2026-12-03, eleventh session: before, ~20 µs of the ~43 µs charged to the
 * pass-through per streamed call was this delivery). What the pass-through adds is still the
 * kit's: its read of the provider's stream, its own `pull` and reaction per part, its stream's
 * construction. (The controllers' methods of byte streams match too; the kit makes none.)
 */
function isStreamDelivery(name: string, url: string): boolean {
  return url === "node:internal/webstreams/readablestream" && /^(?:readableStreamDefaultController(?:Enqueue|Close|Error)|enqueue|close|error)$/.test(name);
}
/** Frames of V8's garbage collector (main-thread parts: scavenges, mark-compact, incremental marking steps). */
const GC_FRAME = /CollectGarbage|Scavenge|MarkCompact|IncrementalMarking|ConcurrentMarking/;

/** Samples of the main thread by bucket, and the kit's by function (its first own frame), from `perf script -F ip,sym` output. */
function attributePerf(script: string): { samples: Record<"all" | "gc" | "kit" | "other" | "nobody" | "named", number>; kitByFn: Map<string, number> } {
  // nobody: no frame of a file on the chain (the event loop's own work, or a chain that
  // frame-pointer unwinding lost inside a C library, a syscall the kit made among them)
  // named: samples with any JavaScript frame at all (Node's internals included): few means the
  // jitdump was not read
  const samples = { all: 0, gc: 0, kit: 0, other: 0, nobody: 0, named: 0 };
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
    let owner: Owner = "none";
    let named = false;
    // the first frame of a kit dependency, whose caller decides (the kit's unless someone else's
    // file called it: the AI SDK's own zod); a chain with only such frames is the kit's (a
    // SonicBoom callback from libuv)
    let depFn: string | undefined;
    for (const frame of frames) {
      if (GENERATOR_STEP.test(frame)) {
        owner = "other"; // the stream's own generator machinery (see GENERATOR_STEP)
        named = true;
        break;
      }
      const m = JS_FRAME.exec(frame);
      if (!m) continue; // the kernel, Node's C++, V8's builtins: whoever called them decides
      named = true;
      if (isStreamDelivery(m[1]!, m[2]!)) {
        owner = "other"; // a web stream's delivery to its reader (see isStreamDelivery)
        break;
      }
      const own = ownerOfUrl(m[2]!);
      if (own === "none") continue;
      const fn = `${m[1] || "(anonymous)"} ${kitFile(frame.slice(frame.lastIndexOf(" ") + 1))}`;
      if (own === "dep") {
        depFn ??= fn;
        continue;
      }
      owner = own;
      if (owner === "kit") kitByFn.set(depFn ?? fn, (kitByFn.get(depFn ?? fn) ?? 0) + 1);
      break;
    }
    if (owner === "none" && depFn !== undefined) {
      owner = "kit";
      kitByFn.set(depFn, (kitByFn.get(depFn) ?? 0) + 1);
    }
    samples[owner === "none" ? "nobody" : owner]++;
    if (named) samples.named++;
  }
  return { samples, kitByFn };
}

interface HeapNode {
  callFrame: { url: string; functionName: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/**
 * Bytes allocated on the thread, and the kit's part, from a sampling heap profile (attributed
 * like the CPU samples), with the kit's bytes by function (its innermost frame of a file).
 */
function attributeHeap(head: HeapNode): { total: number; kit: number; kitByFn: [string, number][] } {
  let total = 0;
  let kit = 0;
  const kitByFn = new Map<string, number>();
  const walk = (n: HeapNode, owner: Owner, fn: string): void => {
    const own = ownerOfUrl(n.callFrame.url);
    // (a dependency's frame is its caller's: see attributePerf; a web stream's delivery to its
    // reader is the reader's, see isStreamDelivery)
    const o = own === "none" ? (isStreamDelivery(n.callFrame.functionName, n.callFrame.url) ? "other" : owner) : own === "dep" ? (owner === "other" ? "other" : "kit") : own;
    // the profile's lines and columns count from 0, perf's (the jitdump's) from 1
    const f = own === "kit" || (own === "dep" && o === "kit") ? `${n.callFrame.functionName || "(anonymous)"} ${kitFile(n.callFrame.url)}:${n.callFrame.lineNumber + 1}:${n.callFrame.columnNumber + 1}` : fn;
    total += n.selfSize;
    if (o === "kit") {
      kit += n.selfSize;
      if (n.selfSize > 0) kitByFn.set(f, (kitByFn.get(f) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, o, f);
  };
  walk(head, "none", "");
  return { total, kit, kitByFn: [...kitByFn].sort((x, y) => y[1] - x[1]).slice(0, 8) };
}

/** Messages between the parent (which runs perf) and a child (one mode). */
type ToParent =
  | { t: "ready"; pid: number }
  | { t: "ran" }
  | { t: "result"; alloc: { total: number; kit: number; kitByFn: [string, number][] }; heapCalls: number; records: number; expected: number; plainCpuNs: number | undefined; threadCpuNs: number | undefined };
type ToChild = { t: "go" } | { t: "finish" };

/** The child's next message; rejects when the child ends first. */
function fromChild(c: import("node:child_process").ChildProcess, mode: string): Promise<ToParent> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${mode}: the child ended (exit code ${code}) before it answered`));
    c.once("exit", onExit);
    c.once("message", (m) => {
      c.off("exit", onExit);
      resolve(m as ToParent);
    });
  });
}

function fromParent(): Promise<ToChild> {
  return new Promise((resolve) => process.once("message", (m) => resolve(m as ToChild)));
}

/** Lets the logger's flush timer (100 ms) run: the records of the calls just made are built inside the phase that made them. */
const settleRecords = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

/** One call of the wrapped client, awaited (a stream read to the end). */
type OneCall = () => Promise<void>;

/** One mode in this process: warm up, then make `calls` calls while the parent's perf watches. */
async function child(mode: string): Promise<void> {
  const { AuditLogger, PresetConfigs } = await importBuilt<typeof import("../src/index.js")>("src/index.js");
  // in the working directory the parent made, and removes, whatever happens
  const dir = fs.mkdtempSync(path.join(process.cwd(), "audit-"));
  const logger = mode === "unrecorded" ? undefined : new AuditLogger(PresetConfigs.minimal("bench_share", dir, { thread: mode === "thread" }));
  const provider = await forkFakeProvider(values.provider === "openai" ? "openai" : "anthropic");
  try {
    process.removeAllListeners("warning"); // the unrecorded client's one "no logger" warning
    const one =
      values.provider === "anthropic" ? await anthropicCall(logger, provider.baseURL) : values.provider === "ai-sdk" ? await aiSdkCall(logger, provider.baseURL) : await openaiCall(logger, provider.baseURL);
    await measure(logger, one);
  } finally {
    provider.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The messages each call sends: `--history` earlier turns, then the question. */
function conversation(): Array<{ role: "user" | "assistant"; content: string }> {
  const turn = "Tell me more about the history of the city, its rivers, bridges and the people who built them. ".repeat(3);
  const earlier = Array.from({ length: Number(values.history) }, (_, i) => ({ role: i % 2 === 0 ? ("user" as const) : ("assistant" as const), content: `${i}: ${turn}` }));
  return [...earlier, { role: "user", content: "What is the capital of France?" }];
}

async function openaiCall(logger: import("../src/index.js").AuditLogger | undefined, baseURL: string): Promise<OneCall> {
  const { default: OpenAI } = await import("openai");
  const { wrapOpenAI } = await importBuilt<typeof import("../integrations/openai.js")>("integrations/openai.js");
  const client = wrapOpenAI(new OpenAI({ baseURL, apiKey: "sk-bench", maxRetries: 0 }), logger ? { logger } : {});
  const messages = conversation();
  return async () => {
    if (values.stream) {
      const s = await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
      for await (const _ of s);
    } else await client.chat.completions.create({ model: "gpt-4o-mini", messages });
  };
}

async function anthropicCall(logger: import("../src/index.js").AuditLogger | undefined, baseURL: string): Promise<OneCall> {
  const { default: Anthropic } = await import("@anthropic-ai/sdk");
  const { wrapAnthropic } = await importBuilt<typeof import("../integrations/anthropic.js")>("integrations/anthropic.js");
  const client = wrapAnthropic(new Anthropic({ baseURL, apiKey: "sk-ant-bench", maxRetries: 0 }), logger ? { logger } : {});
  const messages = conversation();
  return async () => {
    if (values.stream) {
      const s = await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 256, messages, stream: true });
      for await (const _ of s);
    } else await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 256, messages });
  };
}

async function aiSdkCall(logger: import("../src/index.js").AuditLogger | undefined, baseURL: string): Promise<OneCall> {
  const { createAnthropic } = await import("@ai-sdk/anthropic");
  const { generateText, streamText, wrapLanguageModel } = await import("ai");
  const { auditLanguageModelMiddleware } = await importBuilt<typeof import("../integrations/ai-sdk.js")>("integrations/ai-sdk.js");
  // (the fake's route for the AI SDK provider: `<baseURL>/v1` + `/messages`)
  const model = wrapLanguageModel({ model: createAnthropic({ baseURL: `${baseURL}/v1`, apiKey: "sk-ant-bench" })("claude-haiku-4-5"), middleware: auditLanguageModelMiddleware(logger ? { logger } : {}) });
  const messages = conversation();
  return async () => {
    if (values.stream) {
      const r = streamText({ model, messages, maxRetries: 0 });
      for await (const _ of r.textStream);
    } else await generateText({ model, messages, maxRetries: 0 });
  };
}

async function measure(logger: import("../src/index.js").AuditLogger | undefined, one: OneCall): Promise<void> {
  const calls = Number(values.calls);
  const warmup = Number(values.warmup);
  const heapCalls = Math.ceil(calls / 5);
  for (let i = 0; i < warmup; i++) await one();
  await logger?.flush();
  // the thread's CPU time per call with nobody watching, for scale (sampling slows it, see the header)
  const plain0 = mainThreadCpuNs();
  for (let i = 0; i < calls; i++) await one();
  await settleRecords();
  const plain1 = mainThreadCpuNs();
  await logger?.flush();

  const go = fromParent();
  process.send!({ t: "ready", pid: process.pid } satisfies ToParent);
  await go;
  const cpu0 = mainThreadCpuNs();
  for (let i = 0; i < calls; i++) await one();
  await settleRecords();
  const cpu1 = mainThreadCpuNs();
  const finish = fromParent();
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
  await settleRecords();
  const { profile } = (await session.post("HeapProfiler.stopSampling")) as unknown as { profile: { head: HeapNode } };
  session.disconnect();

  await logger?.finalizeSession();
  // the records the logger wrote: a run whose records went missing measured nothing worth reporting
  const records = logger ? fs.readFileSync(path.join(logger.auditDir, `chat_interactions_${logger.sessionId}.jsonl`), "utf8").trim().split("\n").length : 0;
  process.send!({ t: "result", alloc: attributeHeap(profile.head), heapCalls, records, expected: logger ? warmup + 2 * calls + heapCalls : 0, plainCpuNs: plain0 !== undefined && plain1 !== undefined ? plain1 - plain0 : undefined, threadCpuNs: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined } satisfies ToParent, () => process.disconnect());
}

/** Runs one mode in a child process with perf watching its main thread while it makes the calls. */
async function runMode(mode: string): Promise<Record<string, unknown>> {
  const calls = Number(values.calls);
  const periodNs = Math.round(1e9 / Number(values.frequency));
  const args = ["--child", mode, "--provider", String(values.provider), "--history", String(values.history), "--calls", String(values.calls), "--warmup", String(values.warmup), ...(values.stream ? ["--stream"] : [])];
  // JavaScript frames are named through a jitdump (jit-<pid>.dump, in the child's working
  // directory; `--perf-prof` also turns off code-space compaction, so code does not move);
  // interpreted functions get a frame of their own. perf's build-id cache goes there too (with
  // `perf inject --jit` it would otherwise fill ~/.debug with thousands of files per run).
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-share-perf-"));
  const buildIds = path.join(work, ".debug");
  const c = fork(fileURLToPath(import.meta.url), args, { cwd: work, execArgv: [...process.execArgv, "--perf-prof", "--interpreted-frames-native-stack"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let perf: ReturnType<typeof spawn> | undefined;
  try {
    const ready = await fromChild(c, mode);
    if (ready.t !== "ready") throw new Error(`${mode}: unexpected ${ready.t}`);
    const data = path.join(work, "perf.data");
    // -t: the main thread alone (its thread id is the process id); cpu-clock: while it runs;
    // -k mono: the clock the jitdump's records carry; -N: no build-id cache
    perf = spawn("perf", ["--buildid-dir", buildIds, "record", "-N", "-k", "mono", "-e", "cpu-clock", "-c", String(periodNs), "-g", "-t", String(ready.pid), "-o", data], { stdio: ["ignore", "ignore", "pipe"] });
    let perfErr = "";
    perf.stderr!.on("data", (d: Buffer) => (perfErr += d.toString()));
    const perfDone = new Promise<boolean>((resolve, reject) => {
      perf!.once("error", reject);
      // it ends on the SIGINT it is sent
      perf!.once("exit", (code, signal) => resolve(code === 0 || signal === "SIGINT"));
    });
    await new Promise((r) => setTimeout(r, 300)); // perf attached (checked below: perf's count against schedstat's)
    const ran = fromChild(c, mode);
    c.send({ t: "go" } satisfies ToChild);
    await ran;
    perf.kill("SIGINT");
    if (!(await perfDone)) throw new Error(`${mode}: perf record failed: ${perfErr.trim()}`);
    const result = fromChild(c, mode);
    c.send({ t: "finish" } satisfies ToChild);
    const r = await result;
    if (r.t !== "result") throw new Error(`${mode}: unexpected ${r.t}`);
    if (r.records !== r.expected) throw new Error(`${mode}: ${r.records} records written, ${r.expected} expected`);
    // the JIT's code as ELF files perf can read, then the samples with their symbols
    const perfTool = (args: string[]): string => {
      try {
        return execFileSync("perf", ["--buildid-dir", buildIds, ...args], { cwd: work, maxBuffer: 1024 * 1024 * 1024, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      } catch (err) {
        throw new Error(`${mode}: perf ${args[0]} failed: ${String((err as { stderr?: unknown }).stderr ?? err)}`);
      }
    };
    perfTool(["inject", "--jit", "-i", data, "-o", `${data}.jit`]);
    const script = perfTool(["script", "-i", `${data}.jit`, "-F", "ip,sym"]);
    if (values["keep-script"]) fs.writeFileSync(path.join(values["keep-script"], `${mode}${values.stream ? "-stream" : ""}.perf.txt`), script);
    const { samples, kitByFn } = attributePerf(script);
    const usPerSample = periodNs / 1000;
    const perCall = (n: number) => (n * usPerSample) / calls;
    // a run that measured nothing must not print a share: no samples, perf's count far from the
    // thread's own (perf attached late or lost samples), or JavaScript frames that did not resolve
    if (r.plainCpuNs === undefined || r.threadCpuNs === undefined) throw new Error("the thread's CPU time cannot be read here (Linux /proc/self/task/<pid>/schedstat)");
    const schedstatUs = r.threadCpuNs / 1000 / calls;
    if (samples.all < 100) throw new Error(`${mode}: only ${samples.all} samples; make more calls (--calls) or raise --frequency`);
    if (Math.abs(perCall(samples.all) / schedstatUs - 1) > 0.1) throw new Error(`${mode}: perf counted ${perCall(samples.all).toFixed(1)} µs per call, the thread ran ${schedstatUs.toFixed(1)}`);
    if (samples.named < 0.5 * (samples.all - samples.gc)) throw new Error(`${mode}: most samples have no named JavaScript frame (${samples.named} of ${samples.all} have one): the jitdump was not read`);
    const allocShare = r.alloc.total > 0 ? r.alloc.kit / r.alloc.total : 0;
    const kit = samples.kit + samples.gc * allocShare;
    const share = kit / samples.all;
    return {
      mode,
      samples,
      perCallUs: {
        /** the calls' CPU time on the thread, unwatched (for scale) */
        plain: r.plainCpuNs / 1000 / calls,
        /** while perf watched: perf's count, and schedstat's for the same calls */
        sampled: perCall(samples.all),
        sampledSchedstat: schedstatUs,
        gc: perCall(samples.gc),
        kitCode: perCall(samples.kit),
        kitGc: perCall(samples.gc * allocShare),
        kit: perCall(kit),
      },
      allocPerCall: { total: r.alloc.total / r.heapCalls, kit: r.alloc.kit / r.heapCalls },
      /** the kit's bytes allocated per call, by function */
      allocTop: r.alloc.kitByFn.map(([fn, bytes]) => [fn, Math.round(bytes / r.heapCalls)]),
      /** the kit's part of the watched thread's samples, and its sampling error (one standard deviation) */
      share,
      shareError: Math.sqrt((share * (1 - share)) / samples.all),
      /** what the kit adds to what the same calls cost without it */
      overBare: kit / (samples.all - kit),
      /** samples whose chain has no frame of a file (see attributePerf): a bound on what may be misattributed */
      nobodyShare: samples.nobody / samples.all,
      top: [...kitByFn]
        .sort((x, y) => y[1] - x[1])
        .slice(0, 12)
        .map(([fn, n]) => [fn, +perCall(n).toFixed(2)]),
    };
  } finally {
    if (perf && perf.exitCode === null) perf.kill("SIGKILL");
    if (c.exitCode === null) c.kill("SIGKILL");
    fs.rmSync(work, { recursive: true, force: true });
  }
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
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${values.provider}${values.history !== "0" ? ` (${values.history} earlier messages per call)` : ""}: ${values.calls} ${values.stream ? "streamed " : ""}calls per mode after ${values.warmup} to warm up; perf cpu-clock at ${values.frequency} Hz, main thread`);
  const results = [];
  for (const mode of modes) {
    const r = await runMode(mode);
    results.push(r);
    const p = r.perCallUs as Record<string, number>;
    const a = r.allocPerCall as Record<string, number>;
    console.log(
      `${mode.padEnd(10)} cpu ${p.plain!.toFixed(1)} µs/call unwatched, ${p.sampled!.toFixed(1)} watched (GC ${p.gc!.toFixed(1)}); kit ${p.kit!.toFixed(2)} µs/call ` +
        `(code ${p.kitCode!.toFixed(2)}, GC ${p.kitGc!.toFixed(2)}: ${((a.kit! / a.total!) * 100).toFixed(1)}% of ${(a.total! / 1024).toFixed(0)} KiB allocated); ` +
        `share ${((r.share as number) * 100).toFixed(2)} ± ${((r.shareError as number) * 100).toFixed(2)}%, over bare ${((r.overBare as number) * 100).toFixed(2)}% ` +
        `(${samples(r)} samples; ${((r.nobodyShare as number) * 100).toFixed(1)}% on no file's frame)`,
    );
    for (const [fn, t] of r.top as [string, number][]) console.log(`${"".padEnd(12)}${t.toFixed(2).padStart(6)} µs  ${fn}`);
    for (const [fn, b] of r.allocTop as [string, number][]) console.log(`${"".padEnd(12)}${String(b).padStart(6)} B   ${fn}`);
  }
  console.log(JSON.stringify({ bench: "share-openai", provider: values.provider, history: Number(values.history), stream: values.stream, calls: Number(values.calls), frequency: Number(values.frequency), results }));
}

(values.child ? child(values.child) : main()).catch((err: unknown) => {
  console.error(err);
  // a child's IPC channel would keep it alive
  if (values.child) process.exit(1);
  process.exitCode = 1;
});
