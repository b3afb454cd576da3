/**
 * Where the kit's time goes in wrapped OpenAI calls, by function, with Node's own JavaScript
 * internals named: V8's CPU profiler (through `node:inspector`, started after the warm-up) over
 * calls whose client `fetch` answers from the fake provider's fixtures in memory (no sockets, so
 * the main thread is busy nearly all the time and a run takes seconds).
 *
 *   npm run build && npx tsx bench/profile-openai.ts --stream          # streamed calls, read to the end
 *   npx tsx bench/profile-openai.ts --mode thread --calls 40000
 *   npx tsx bench/profile-openai.ts --stream --function end            # what runs under the kit's `end`
 *
 * What it adds to bench/share-openai.ts (perf, the app thread's CPU clock, over HTTP): the
 * profile keeps Node's internal functions (`get aborted` of an AbortSignal, undici's
 * `Headers.get`) as frames of their own under the kit's, so a kit function whose own time is
 * large can be opened up (`--function`). That is how a stream's end was found to spend ~3.5 µs
 * reading `signal.aborted` (docs/BENCHMARKS.md, ninth session).
 *
 * What it cannot do: it samples wall-clock time, so time the thread spends waiting for a CPU
 * counts in whatever function it was in (with `--mode thread` the worker competes for the
 * machine's cores), and its figures move by ±10–15% between runs on a shared VM. Use it to see
 * where the kit's time goes, and bench/share-openai.ts for the share. Attribution is the share
 * bench's: a sample belongs to the first frame, from the sampled function outwards, of a file
 * (Node's `node:` internals and V8's builtins skipped); it is the kit's when that file is in
 * `dist/` or one of the kit's runtime dependencies. V8 inlines functions into their callers and
 * the profile names the caller then, so a small function's time can show under its caller.
 */
import fs from "node:fs";
import inspector from "node:inspector/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { fakeOpenAIFetch } from "../test/helpers/fake-openai.js";
import { importBuilt } from "./lib.js";

const { values } = parseArgs({
  options: {
    stream: { type: "boolean", default: false },
    mode: { type: "string", default: "recorded" },
    calls: { type: "string", default: "20000" },
    warmup: { type: "string", default: "3000" },
    interval: { type: "string", default: "50" },
    top: { type: "string", default: "25" },
    function: { type: "string" },
  },
});

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const KIT_DIRS = [path.join(ROOT, "dist") + path.sep, ...["sonic-boom", "zod", "csv-stringify"].map((d) => path.join(ROOT, "node_modules", d) + path.sep)];

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function fileOf(url: string): string {
  return url.startsWith("file://") ? fileURLToPath(url) : url;
}
function isKit(url: string): boolean {
  const f = fileOf(url);
  return KIT_DIRS.some((d) => f.startsWith(d));
}
function label(f: CallFrame): string {
  const file = fileOf(f.url);
  const short = file.startsWith(ROOT) ? path.relative(ROOT, file) : file.replace(/.*node_modules\//, "");
  return `${f.functionName || "(anonymous)"} ${short}:${f.lineNumber + 1}`;
}

async function main(): Promise<void> {
  const mode = String(values.mode);
  if (!["recorded", "thread", "unrecorded", "bare"].includes(mode)) throw new Error(`--mode: recorded, thread, unrecorded or bare (got ${mode})`);
  const calls = Number(values.calls);
  const { wrapOpenAI } = await importBuilt<typeof import("../integrations/openai.js")>("integrations/openai.js");
  const { AuditLogger, PresetConfigs } = await importBuilt<typeof import("../src/index.js")>("src/index.js");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-profile-"));
  // the share bench's logger: the `minimal` preset, its own flush timer
  const logger = mode === "recorded" || mode === "thread" ? new AuditLogger(PresetConfigs.minimal("bench_profile", dir, { thread: mode === "thread" })) : undefined;
  const opts = { baseURL: "http://fake-openai.invalid/v1", apiKey: "sk-bench", maxRetries: 0, fetch: fakeOpenAIFetch() };
  const client = mode === "bare" ? new OpenAI(opts) : wrapOpenAI(new OpenAI(opts), logger ? { logger } : {});
  process.removeAllListeners("warning"); // (unrecorded: the wrapper's one warning about no logger)
  const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
  const one = values.stream
    ? async () => {
        const s = await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
        for await (const _ of s);
      }
    : async () => {
        await client.chat.completions.create({ model: "gpt-4o-mini", messages });
      };
  // (a pause now and then lets the flush timer and the thread pool's callbacks run, as in an app)
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await one();
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
  };
  await run(Number(values.warmup));
  const session = new inspector.Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: Number(values.interval) });
  await session.post("Profiler.start");
  const t0 = performance.now();
  await run(calls);
  const wallUs = ((performance.now() - t0) * 1000) / calls;
  const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: Profile };
  session.disconnect();
  await logger?.finalizeSession();
  fs.rmSync(dir, { recursive: true, force: true });
  report(profile, calls, wallUs, mode);
}

function report(p: Profile, calls: number, wallUs: number, mode: string): void {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // µs per node: each sample's time delta is the time up to it
  const time = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) time.set(p.samples[i]!, (time.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const owner = (n: ProfileNode): ProfileNode | undefined => {
    let m: ProfileNode | undefined = n;
    while (m && (!m.callFrame.url || m.callFrame.url.startsWith("node:"))) m = byId.get(parent.get(m.id) ?? -1);
    return m;
  };
  const groups = new Map<string, number>();
  const kitFns = new Map<string, number>();
  for (const [id, us] of time) {
    const n = byId.get(id)!;
    const special = n.callFrame.functionName;
    let group: string;
    if (special === "(garbage collector)") group = "GC";
    else if (special === "(idle)") group = "idle";
    else if (special === "(program)" || special === "(root)") group = "V8/Node, no JavaScript frame";
    else {
      const o = owner(n);
      if (!o) group = "Node internals only";
      else if (isKit(o.callFrame.url)) {
        group = "kit";
        kitFns.set(label(o.callFrame), (kitFns.get(label(o.callFrame)) ?? 0) + us);
      } else if (fileOf(o.callFrame.url).includes(`node_modules${path.sep}openai${path.sep}`)) group = "openai SDK";
      else group = "other (app, fake fetch, tsx)";
    }
    groups.set(group, (groups.get(group) ?? 0) + us);
  }
  const per = (us: number) => (us / calls).toFixed(2).padStart(7);
  console.log(`node ${process.version}, ${os.availableParallelism()} CPUs, mode ${mode}, ${values.stream ? "streamed" : "chat"} calls, ${calls} profiled; ${wallUs.toFixed(1)} µs wall per call`);
  for (const [g, us] of [...groups].sort((a, b) => b[1] - a[1])) console.log(`${per(us)} µs/call  ${g}`);
  console.log("the kit's functions (with the Node internals they call):");
  for (const [f, us] of [...kitFns].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${per(us)} µs  ${f}`);
  if (values.function) printTree(p, byId, time, calls, String(values.function));
}

/** Every kit frame named `name`: its own time and what it calls, three levels down. */
function printTree(p: Profile, byId: Map<number, ProfileNode>, time: Map<number, number>, calls: number, name: string): void {
  const total = (n: ProfileNode): number => (time.get(n.id) ?? 0) + (n.children ?? []).reduce((a, c) => a + total(byId.get(c)!), 0);
  const paths = new Map<string, number>();
  let self = 0;
  const walk = (n: ProfileNode, depth: number, prefix: string) => {
    for (const c of n.children ?? []) {
      const m = byId.get(c)!;
      const key = `${prefix} > ${label(m.callFrame)}`;
      paths.set(key, (paths.get(key) ?? 0) + total(m));
      if (depth < 2) walk(m, depth + 1, key);
    }
  };
  for (const n of p.nodes) {
    if (n.callFrame.functionName !== name || !isKit(n.callFrame.url)) continue;
    self += time.get(n.id) ?? 0;
    walk(n, 0, name);
  }
  console.log(`\n${name}: own time ${(self / calls).toFixed(2)} µs/call; under it:`);
  for (const [k, us] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${(us / calls).toFixed(2).padStart(7)} µs  ${k}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
