/** Small helpers the benchmark scripts share. */
import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The median (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Peak resident memory of this process in MB: VmHWM where Linux keeps it, else undefined. */
export function vmHwmMb(): number | undefined {
  try {
    const m = /VmHWM:\s*(\d+)\s*kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak RSS in MB: VmHWM, else the current RSS. */
export function peakRssMb(): number {
  return vmHwmMb() ?? process.memoryUsage().rss / 1024 / 1024;
}

/** a word to wait on: {@link mainThreadCpuNs} sleeps on it for a moment */
const nap = new Int32Array(new SharedArrayBuffer(4));

/**
 * The main thread's CPU time so far, in ns: Linux's schedstat for the thread whose id is the
 * process id (the first field is the time it ran; a worker thread's time is not in it).
 * Undefined where there is no such file.
 *
 * Linux brings a running thread's total up to date only at a scheduler tick (every 4 ms here,
 * HZ=250) or when the thread leaves the CPU, and reading the file does neither: read straight
 * away, a block of calls shorter than a few ticks measured 0, or a whole tick, or anything in
 * between (found 2026-12-03: 20-call blocks of ~2 ms). So the thread first sleeps for 20 µs
 * (`Atomics.wait` with a timeout: it leaves the CPU, and the total is updated); the reading is
 * then exact, and costs ~30 µs of CPU, the same in every block (it cancels in a difference).
 */
export function mainThreadCpuNs(): number | undefined {
  try {
    Atomics.wait(nap, 0, 0, 0.02);
    return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return undefined;
  }
}

const ROOT = new URL("..", import.meta.url);

/**
 * The fake OpenAI (or Anthropic) provider in a child process (bench/fake-provider.ts), with this process's node
 * options (the tsx loader): its URL, and how to stop it. Under valgrind the child runs natively
 * (valgrind does not follow children), so it is not counted.
 */
export async function forkFakeProvider(provider: "openai" | "anthropic" = "openai"): Promise<{ baseURL: string; close: () => void }> {
  const child = fork(fileURLToPath(new URL("fake-provider.ts", import.meta.url)), [provider], { execArgv: process.execArgv, stdio: "inherit" });
  const baseURL = await new Promise<string>((resolve, reject) => {
    child.once("message", (m) => resolve(String(m)));
    child.once("exit", (code) => reject(new Error(`fake provider exited with ${code}`)));
  });
  return {
    baseURL,
    close: () => {
      child.removeAllListeners("exit");
      child.kill();
    },
  };
}

/**
 * A module of the built package (`dist/`, the JavaScript users run), typed from its source:
 * `importBuilt<typeof import("../src/index.js")>("src/index.js")`. Running the TypeScript
 * through tsx instead adds its helpers (a `__name` call per closure created) to every call.
 * Fails with a clear message when `npm run build` has not run since the source changed.
 * `BENCH_DIST=<dir>` (a copy of `dist/` inside this checkout, say `.scratch/before`) runs that
 * build instead, without the age check: for counting two builds with the same script.
 */
export async function importBuilt<T>(rel: string): Promise<T> {
  const other = process.env.BENCH_DIST;
  const built = other ? pathToFileURL(path.resolve(other, rel)) : new URL(`dist/${rel}`, ROOT);
  const source = new URL(rel.replace(/\.js$/, ".ts"), ROOT);
  if (!fs.existsSync(built)) throw new Error(`${built.pathname} is missing: run \`npm run build\` first`);
  if (!other && fs.existsSync(source) && fs.statSync(source).mtimeMs > fs.statSync(built).mtimeMs) {
    throw new Error(`${built.pathname} is older than ${source.pathname}: run \`npm run build\` first`);
  }
  return (await import(built.href)) as T;
}

/**
 * Writes `n` finished sessions into `projectPath/audit_logs` with the real AuditLogger (one at a
 * time, `thread: false`): a record of each of the six kinds each (a chat, a tool call under it, a
 * metric, a persona step, a file operation, an error), so each session has its session file, six
 * chain files and a checkpoint file, as an app's short sessions leave them. Ids `s00000`, `s00001`, ….
 */
export async function writeSessions(projectPath: string, n: number, from = 0): Promise<void> {
  const { AuditLogger } = await import("../src/logger.js");
  for (let i = from; i < from + n; i++) {
    const logger = new AuditLogger({ sessionId: `s${String(i).padStart(5, "0")}`, projectPath, fullContentLogging: false, thread: false });
    const chat = logger.logChatInteraction({ interactionType: "chat", prompt: `question ${i}`, response: `answer ${i}`, model: "gpt-4o-mini", inputTokens: 20, outputTokens: 30, durationSeconds: 0.5, userId: `user_${i % 20}` });
    logger.logToolUsage({ toolName: "search", operation: "call", parameters: { q: i }, result: { ok: true }, durationSeconds: 0.1, parentId: chat });
    logger.logPerformanceMetric({ metricName: "latency_ms", value: i % 1000, unit: "ms" });
    logger.logPersonaActivity({ personaName: "planner", activityType: "step" });
    logger.logFileOperation({ operation: "read", filePath: `/data/f${i}.txt`, fileSize: 100 });
    logger.logError({ errorType: "TimeoutError", message: "slow", severity: "warning" });
    await logger.finalizeSession();
  }
}
