/**
 * Overhead of instrumentation, all in one run: `npm run bench:overhead` (add `--json` for JSON,
 * `--decorators-only` to skip the wrapped-client part in bench/overhead-openai.ts).
 *
 * Decorators (sync and async methods): a bare call; the same method decorated with no logger
 * anywhere (unrecorded); decorated and recorded (async durability, to disk); and the bare call
 * followed by the equivalent direct `logToolUsage` call. Targets: an unrecorded decorated call
 * adds <= 300 ns; a recorded one adds <= 1 µs beyond the direct log call's own cost. Beside
 * them, the floor: a minimal hand-written wrapper doing only what recording with parent links
 * needs (a child context, the promise chained, the same record), so the decorator's own share of
 * its overhead can be told from what context and settlement cost any wrapper.
 *
 * AsyncLocalStorage: on Node 20, once any store has been entered, async hooks stay on and every
 * promise in the process pays for them. Measured as an `await` loop in a process that never used
 * a store, and in one that did.
 *
 * Yardsticks: the issue's own ("a naive async wrapper (hrtime + push) adds ~450 ns, a Proxy
 * get-trap ~56 ns", measured where it was written), measured here the same way and printed
 * beside those figures, so the absolute targets can be read against the machine.
 *
 * Method: every comparison is A/B in small alternating batches (A B B A …) in one process,
 * timed in process CPU time, and the reported delta is the median of the paired batch
 * differences, so load from other processes (the machine may be shared) hits both sides alike. Each group runs in its own child
 * process, so one group's AsyncLocalStorage use cannot slow another's awaits.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AuditLogger as Logger } from "../src/logger.js";
import { importBuilt, median } from "./lib.js";

// the built package (`npm run build` first), as users run it: see importBuilt
const { AuditTool } = await importBuilt<typeof import("../decorators/index.js")>("decorators/index.js");
const { AuditLogger } = await importBuilt<typeof import("../src/logger.js")>("src/logger.js");
const { newId } = await importBuilt<typeof import("../src/record/id.js")>("src/record/id.js");
const { auditContext, runWithOwnValue } = await importBuilt<typeof import("../src/context.js")>("src/context.js");

const SELF = fileURLToPath(import.meta.url);
/** the issue's yardsticks, as measured where it was written (see the `reference` group) */
const ISSUE_NAIVE_WRAPPER_NS = 450;
const ISSUE_PROXY_TRAP_NS = 56;
const PAIRS = 120;

// ------------------------------------------------------------------ subjects

function newBenchLogger(): { logger: Logger; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "audit-bench-overhead-"));
  return { logger: new AuditLogger({ sessionId: "overhead", projectPath: dir, durability: "async" }), dir };
}

let benchLogger: Logger | undefined;

class Subject {
  bare(x: number): number {
    return x + 1;
  }
  async bareAsync(x: number): Promise<number> {
    return x + 1;
  }
  // no logger option, no context, no default logger: unrecorded
  @AuditTool("bench")
  decorated(x: number): number {
    return x + 1;
  }
  @AuditTool("bench")
  async decoratedAsync(x: number): Promise<number> {
    return x + 1;
  }
  // recorded: the logger is looked up per call, like any other
  @AuditTool("bench", { logger: () => benchLogger })
  recorded(x: number): number {
    return x + 1;
  }
  @AuditTool("bench", { logger: () => benchLogger })
  async recordedAsync(x: number): Promise<number> {
    return x + 1;
  }
}
const s = new Subject();

/**
 * The direct equivalent of what @AuditTool records: the same record, including the trace the
 * decorated call starts (`traceId` = its own id), so both write the same bytes.
 */
function logDirect(logger: Logger, x: number, v: number, start: number): void {
  const id = newId();
  logger.logToolUsage({ id, traceId: id, toolName: "bench", operation: "recordedAsync", parameters: [x], result: v, success: true, durationSeconds: (performance.now() - start) / 1000 });
}

/**
 * The floor: the least a recorder that links nested calls must do around an async method, by hand,
 * with the kit's own context: an id, the method run in a child context naming it as parent, the
 * promise chained, the same record as `logDirect` made when it settles. No options, no argument
 * copy, no guards. What the decorator adds beyond this is its own overhead; what this adds
 * beyond the direct call is the price of context and settlement, which any such wrapper pays.
 */
function floorWrap(fn: (x: number) => Promise<number>): (x: number) => Promise<number> {
  return (x) => {
    const start = performance.now();
    const id = newId();
    const traceId = auditContext.get()?.traceId ?? id;
    const p = runWithOwnValue({ parentId: id, traceId }, () => fn(x));
    return p.then((v) => {
      benchLogger!.logToolUsage({ id, traceId, toolName: "bench", operation: "recordedAsync", parameters: [x], result: v, success: true, durationSeconds: (performance.now() - start) / 1000 });
      return v;
    });
  };
}
const floored = floorWrap((x) => s.bareAsync(x));

/** The plainest direct call: no trace fields, so a slightly shorter record. */
function logPlain(logger: Logger, x: number, v: number, start: number): void {
  logger.logToolUsage({ toolName: "bench", operation: "recordedAsync", parameters: [x], result: v, success: true, durationSeconds: (performance.now() - start) / 1000 });
}

// ------------------------------------------------------------------ measuring

type Batch = (n: number) => number | Promise<number>;

interface Paired {
  /** median ns/op of each side over its batches */
  readonly a: number;
  readonly b: number;
  /** median of the paired per-batch differences b - a, ns/op */
  readonly delta: number;
}

/**
 * CPU time (user + system) of the process per call: time other processes take on a shared machine
 * does not count. After each batch, untimed, `between` runs and the event loop turns once, as it
 * does between an app's requests (see `recorded`).
 */
async function time(fn: Batch, n: number, between?: () => Promise<void>): Promise<number> {
  const t = process.cpuUsage();
  const r = fn(n);
  const sink = typeof r === "number" ? r : await r;
  const u = process.cpuUsage(t);
  const ns = ((u.user + u.system) * 1000) / n;
  if (sink === -1) console.log(sink); // keeps the loop's result alive
  await between?.();
  await new Promise((resolve) => setImmediate(resolve));
  return ns;
}

/** A and B in alternating batches of `n` calls (ABBA order), after a warm-up pair. */
async function paired(a: Batch, b: Batch, n: number, between?: () => Promise<void>, pairs = PAIRS): Promise<Paired> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = -1; i < pairs; i++) {
    let ta: number;
    let tb: number;
    if (i % 2 === 0) {
      ta = await time(a, n, between);
      tb = await time(b, n, between);
    } else {
      tb = await time(b, n, between);
      ta = await time(a, n, between);
    }
    if (i >= 0) {
      as.push(ta);
      bs.push(tb);
    }
  }
  return { a: median(as), b: median(bs), delta: median(bs.map((v, i) => v - as[i]!)) };
}

async function single(fn: Batch, n: number, rounds = 15): Promise<number> {
  const out: number[] = [];
  for (let i = -1; i < rounds; i++) {
    const ns = await time(fn, n);
    if (i >= 0) out.push(ns);
  }
  return median(out);
}

// ------------------------------------------------------------------ groups (one child process each)

type GroupResult = Record<string, number>;

const groups: Record<string, () => Promise<GroupResult>> = {
  async unrecorded() {
    const sync = await paired(
      (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += s.bare(i);
        return sum;
      },
      (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += s.decorated(i);
        return sum;
      },
      20_000,
    );
    const asyncP = await paired(
      async (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += await s.bareAsync(i);
        return sum;
      },
      async (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += await s.decoratedAsync(i);
        return sum;
      },
      5_000,
    );
    return {
      "sync: bare call": sync.a,
      "sync: decorated, no logger": sync.b,
      "sync: unrecorded extra": sync.delta,
      "async: bare call": asyncP.a,
      "async: decorated, no logger": asyncP.b,
      "async: unrecorded extra": asyncP.delta,
    };
  },
  async recorded() {
    const { logger, dir } = newBenchLogger();
    benchLogger = logger;
    const directSync = (log: typeof logDirect) => (n: number) => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        const v = s.bare(i);
        log(logger, i, v, start);
        sum += v;
      }
      return sum;
    };
    const directAsync = (log: typeof logDirect) => async (n: number) => {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        const v = await s.bareAsync(i);
        log(logger, i, v, start);
        sum += v;
      }
      return sum;
    };
    const recordedSync = (n: number) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += s.recorded(i);
      return sum;
    };
    const recordedAsync = async (n: number) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += await s.recordedAsync(i);
      return sum;
    };
    const floorAsync = async (n: number) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += await floored(i);
      return sum;
    };
    // Each batch's records are written out after it, untimed: both sides write the same bytes,
    // and what is compared is the work each call does. Left to the logger, an `async`-mode batch
    // is written by the thread pool while the next batch runs, and its CPU time (process-wide)
    // lands in one batch of a pair and not the other; and without the event loop turning
    // between batches, the finished background writes are never taken back, so back-pressure
    // writes every full buffer on the app's thread (~100 µs, again in one batch of two). Either
    // moved the median paired difference by up to ~1 µs from one run to the next (2026-12-03).
    const between = () => logger.flush();
    try {
      const sync = await paired(directSync(logDirect), recordedSync, 200, between);
      const syncPlain = await paired(directSync(logPlain), recordedSync, 200, between);
      const asyncP = await paired(directAsync(logDirect), recordedAsync, 200, between);
      const floor = await paired(directAsync(logDirect), floorAsync, 200, between);
      // the same inside a request's context with a user (an Express handler's calls, an
      // auditContext.run): the decorated call derives its context from the caller's
      const inContext =
        <T>(batch: (n: number) => T) =>
        (n: number): T =>
          auditContext.run({ userId: "bench-user", traceId: "bench-trace" }, () => batch(n));
      const asyncCtx = await paired(inContext(directAsync(logDirect)), inContext(recordedAsync), 200, between);
      return {
        "async, in a context: bare call + direct logToolUsage": asyncCtx.a,
        "async, in a context: decorated, recorded": asyncCtx.b,
        "async, in a context: recorded extra": asyncCtx.delta,
        "async: minimal context-linking wrapper, recorded": floor.b,
        "async: floor extra": floor.delta,
        "sync: bare call + direct logToolUsage (same record)": sync.a,
        "sync: bare call + direct logToolUsage (no trace fields)": syncPlain.a,
        "sync: decorated, recorded": sync.b,
        "sync: recorded extra": sync.delta,
        "sync: recorded extra vs plain": syncPlain.delta,
        "async: bare call + direct logToolUsage (same record)": asyncP.a,
        "async: decorated, recorded": asyncP.b,
        "async: recorded extra": asyncP.delta,
      };
    } finally {
      await logger.finalizeSession();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  /**
   * The issue's own yardsticks, measured on the machine it was written on: "a naive async wrapper
   * (hrtime + push) adds ~450 ns, a Proxy get-trap ~56 ns". Measured here the same way, they tell
   * how fast this machine runs such code, so the absolute targets can be read against it.
   */
  async reference() {
    const log: Array<{ start: bigint; ns: bigint }> = [];
    const naive = (fn: (x: number) => Promise<number>) =>
      async function (this: unknown, x: number): Promise<number> {
        const start = process.hrtime.bigint();
        try {
          return await fn.call(this, x);
        } finally {
          log.push({ start, ns: process.hrtime.bigint() - start });
        }
      };
    const wrapped = naive((x) => s.bareAsync(x));
    // (each side its own loop: one loop made for both would share V8's type feedback, and the
    // plain side's sites would see the other's too)
    const asyncP = await paired(
      async (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += await s.bareAsync(i);
        return sum;
      },
      async (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += await wrapped(i);
        return sum;
      },
      5_000,
      async () => {
        log.length = 0;
      },
    );
    const target = { x: 1 };
    const proxy = new Proxy(target, { get: (t, k, r) => Reflect.get(t, k, r) as unknown });
    const get = await paired(
      (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += target.x;
        return sum;
      },
      (n) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += proxy.x;
        return sum;
      },
      200_000,
    );
    return { "reference: naive async wrapper extra": asyncP.delta, "reference: Proxy get-trap extra": get.delta };
  },
  async "als-off"() {
    return { "await loop, no AsyncLocalStorage store ever used": await single(awaitLoop, 100_000) };
  },
  async "als-on"() {
    // any store entered once, as the first recorded decorated call or a request context does
    const { auditContext } = await importBuilt<typeof import("../src/context.js")>("src/context.js");
    auditContext.run({ traceId: "bench" }, () => undefined);
    return { "await loop, after a store was used": await single(awaitLoop, 100_000) };
  },
};

async function tiny(i: number): Promise<number> {
  return i;
}

async function awaitLoop(n: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await tiny(i);
  return sum;
}

// ------------------------------------------------------------------ report

function runGroup(name: string): GroupResult {
  const out = execFileSync(process.execPath, [...process.execArgv, SELF, "--group", name], { encoding: "utf8", maxBuffer: 1 << 20, stdio: ["ignore", "pipe", "ignore"] });
  return JSON.parse(out.trim().split("\n").at(-1)!) as GroupResult;
}

/**
 * The wrapped-client part (bench/overhead-openai.ts, owned by the integrations) runs after the
 * decorator groups so that `npm run bench:overhead` reports everything in one run.
 */
function runClientBench(): string | undefined {
  const file = path.join(path.dirname(SELF), "overhead-openai.ts");
  if (!fs.existsSync(file) || process.argv.includes("--decorators-only")) return undefined;
  try {
    return execFileSync(process.execPath, [...process.execArgv, file], { encoding: "utf8", maxBuffer: 1 << 22, stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch (err) {
    return `bench/overhead-openai.ts failed: ${(err as Error).message}`;
  }
}

function main(): void {
  const json = process.argv.includes("--json");
  const results: GroupResult = {};
  for (const name of Object.keys(groups)) Object.assign(results, runGroup(name));
  const get = (k: string) => results[k]!;
  const checks = [
    { label: "sync: unrecorded decorated call, extra", ns: get("sync: unrecorded extra"), target: 300 },
    { label: "async: unrecorded decorated call, extra", ns: get("async: unrecorded extra"), target: 300 },
    { label: "sync: recorded decorated call, beyond the direct log call", ns: get("sync: recorded extra"), target: 1000 },
    { label: "async: recorded decorated call, beyond the direct log call", ns: get("async: recorded extra"), target: 1000 },
  ].map((c) => ({ ...c, met: c.ns <= c.target }));
  const info = [
    { label: "sync: recorded decorated call, beyond a direct call without trace fields", ns: get("sync: recorded extra vs plain") },
    { label: "async: the floor (a minimal context-linking wrapper), beyond the direct log call", ns: get("async: floor extra") },
    { label: "async, in a context with a user: recorded decorated call, beyond the direct log call", ns: get("async, in a context: recorded extra") },
  ];
  const alsPerAwait = get("await loop, after a store was used") - get("await loop, no AsyncLocalStorage store ever used");
  // The issue's yardsticks, for reading the absolute targets against this machine. They time JIT
  // code; a machine can match them and still run the recording path's native steps (JSON,
  // hashing, clocks, ISO dates) several times slower, so they are shown, never used to scale.
  const naiveNs = get("reference: naive async wrapper extra");
  const proxyNs = get("reference: Proxy get-trap extra");
  const clients = runClientBench();
  if (json) {
    console.log(JSON.stringify({ node: process.version, cpus: os.cpus().length, loadavg: os.loadavg(), nsPerOp: results, checks, info, asyncLocalStoragePerAwaitNs: alsPerAwait, yardsticksNs: { naiveAsyncWrapper: naiveNs, proxyGetTrap: proxyNs }, clientBench: clients ?? null }, null, 2));
    return;
  }
  console.log(`audit-logger overhead (Node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)})`);
  console.log(`medians of ${PAIRS} alternating batch pairs; "extra" = median paired difference\n`);
  for (const [k, v] of Object.entries(results)) if (!k.includes(" extra")) console.log(`${k.padEnd(56)} ${v.toFixed(1).padStart(10)} ns/op`);
  console.log("");
  console.log(`${"reference: naive async wrapper (hrtime + push), extra".padEnd(60)} ${naiveNs.toFixed(1).padStart(8)} ns  (the issue's machine: ~${ISSUE_NAIVE_WRAPPER_NS})`);
  console.log(`${"reference: Proxy get-trap, extra per read".padEnd(60)} ${proxyNs.toFixed(1).padStart(8)} ns  (the issue's machine: ~${ISSUE_PROXY_TRAP_NS})`);
  console.log("");
  for (const c of checks) console.log(`${c.label.padEnd(60)} ${c.ns.toFixed(1).padStart(8)} ns  (target <= ${c.target}: ${c.met ? "met" : "MISSED"})`);
  for (const c of info) console.log(`${c.label.padEnd(60)} ${c.ns.toFixed(1).padStart(8)} ns`);
  console.log(`${"AsyncLocalStorage in use: extra per await, app-wide".padEnd(60)} ${alsPerAwait.toFixed(1).padStart(8)} ns`);
  if (clients !== undefined) console.log(`\nWrapped client (bench/overhead-openai.ts):\n${clients}`);
}

const groupArg = process.argv.indexOf("--group");
if (groupArg > 0) {
  const group = groups[process.argv[groupArg + 1]!];
  if (!group) throw new Error(`unknown group ${process.argv[groupArg + 1]}`);
  void group().then((res) => console.log(JSON.stringify(res)));
} else {
  main();
}
