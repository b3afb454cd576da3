/**
 * Analytics read rate of the viewer against a bare parse loop, on one generated session.
 *
 *   npm run bench:viewer                         # 1,000,000 records, 1 round
 *   npm run bench:viewer -- --records 50000 --rounds 3
 *
 * A child process writes the session with the real AuditLogger (async durability, every kind,
 * default rotation). Then, round by round, two more children read it: the bare loop (stream the
 * files, split lines, JSON.parse each, nothing else) and `generateAnalyticsReport()`. Each child
 * checks it saw all N records and reports its time and peak RSS (VmHWM from /proc/self/status,
 * else the highest sampled rss). The rate ratio is per round (analytics MB/s ÷ the same round's
 * bare MB/s), median over rounds. Targets: ratio >= 0.6, analytics peak RSS < 300 MB.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { AuditLogger } from "../src/logger.js";
import { readLines } from "../src/reader/lines.js";
import { AuditViewer } from "../src/reader/viewer.js";
import { listKindFiles } from "../src/sink/files.js";
import { RECORD_KINDS } from "../src/types.js";
import { median, vmHwmMb } from "./lib.js";

const SESSION = "bench_viewer";
const TARGET_RATIO = 0.6;
const TARGET_RSS_MB = 300;

interface ChildResult {
  readonly phase: "generate" | "bare" | "analytics";
  readonly records: number;
  readonly seconds: number;
  readonly bytes: number;
  readonly peakRssMb: number;
}

// ---------------------------------------------------------------- measuring


/** Samples rss while `fn` runs; the peak is VmHWM where the OS keeps it, else the sampled maximum. */
async function measure<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; peakRssMb: number }> {
  let sampled = process.memoryUsage.rss();
  const timer = setInterval(() => {
    sampled = Math.max(sampled, process.memoryUsage.rss());
  }, 20);
  const t0 = process.hrtime.bigint();
  try {
    const value = await fn();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    sampled = Math.max(sampled, process.memoryUsage.rss());
    return { value, seconds, peakRssMb: vmHwmMb() ?? sampled / (1024 * 1024) };
  } finally {
    clearInterval(timer);
  }
}

function sessionBytes(auditDir: string): number {
  let total = 0;
  for (const k of RECORD_KINDS) for (const f of listKindFiles(auditDir, k, SESSION)) total += fs.statSync(f.path).size;
  return total;
}

// ---------------------------------------------------------------- workload

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "claude-3-5-haiku", "my-local-model"];
const TOOLS = ["search", "calculator", "weather", "sql", "browser", "email"];
const PERSONAS = ["planner", "coder", "reviewer"];
const WORDS = "the model answered customer about refund policy order shipping account invoice delivery tracking".split(" ");

function words(rand: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += (i ? " " : "") + WORDS[Math.floor(rand() * WORDS.length)];
  return s;
}

/** Writes N records: 40% chat, 30% tool, 15% metric, 5% each persona, file operation, error. */
async function generate(projectPath: string, n: number): Promise<number> {
  const rand = mulberry32(42);
  const logger = new AuditLogger({ sessionId: SESSION, projectPath, durability: "async", fullContentLogging: false });
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.4) {
      const input = 50 + Math.floor(rand() * 2000);
      const output = 10 + Math.floor(rand() * 800);
      logger.logChatInteraction({
        interactionType: rand() < 0.7 ? "chat" : "completion",
        prompt: words(rand, 20),
        response: words(rand, 30),
        model: MODELS[Math.floor(rand() * MODELS.length)]!,
        inputTokens: input,
        outputTokens: output,
        durationSeconds: Math.round(rand() * 5000) / 1000,
        ...(rand() < 0.3 ? { persona: PERSONAS[Math.floor(rand() * PERSONAS.length)]! } : {}),
        ...(rand() < 0.02 ? { success: false, errorMessage: "rate limited" } : {}),
      });
    } else if (r < 0.7) {
      const fail = rand() < 0.05;
      logger.logToolUsage({
        toolName: TOOLS[Math.floor(rand() * TOOLS.length)]!,
        operation: "call",
        parameters: { q: words(rand, 5), n: i },
        result: { ok: !fail, items: Math.floor(rand() * 10) },
        durationSeconds: Math.round(rand() * 2000) / 1000,
        ...(fail ? { success: false, errorMessage: rand() < 0.5 ? "timeout" : "bad request" } : {}),
      });
    } else if (r < 0.85) {
      logger.logPerformanceMetric({ metricName: rand() < 0.5 ? "latency_ms" : "queue_depth", value: Math.round(rand() * 10000) / 10, unit: rand() < 0.5 ? "ms" : "items" });
    } else if (r < 0.9) {
      logger.logPersonaActivity({ personaName: PERSONAS[Math.floor(rand() * PERSONAS.length)]!, activityType: "step", durationSeconds: Math.round(rand() * 3000) / 1000 });
    } else if (r < 0.95) {
      logger.logFileOperation({ operation: rand() < 0.5 ? "read" : "modify", filePath: `/data/file_${i % 1000}.txt`, fileSize: Math.floor(rand() * 100_000) });
    } else {
      logger.logError({ errorType: rand() < 0.5 ? "TimeoutError" : "ValueError", message: words(rand, 6), severity: rand() < 0.8 ? "error" : "warning" });
    }
    if (i % 10_000 === 9_999) await new Promise((res) => setImmediate(res));
  }
  const summary = await logger.finalizeSession();
  return summary.totalRecords;
}

/** The baseline: stream each file, split lines, JSON.parse them; nothing else. */
async function bareParse(auditDir: string): Promise<number> {
  let records = 0;
  for (const k of RECORD_KINDS) {
    for (const f of listKindFiles(auditDir, k, SESSION)) {
      for await (const line of readLines(f.path)) {
        if (!line.terminated) continue;
        JSON.parse(line.text);
        records++;
      }
    }
  }
  return records;
}

async function analytics(auditDir: string): Promise<number> {
  const viewer = new AuditViewer({ auditPath: auditDir, sessionId: SESSION });
  const report = await viewer.generateAnalyticsReport();
  return report.totals.records;
}

// ---------------------------------------------------------------- child side

async function runChild(phase: ChildResult["phase"], projectPath: string, n: number): Promise<void> {
  const auditDir = path.join(projectPath, "audit_logs");
  const fn = phase === "generate" ? () => generate(projectPath, n) : phase === "bare" ? () => bareParse(auditDir) : () => analytics(auditDir);
  const m = await measure(fn);
  if (m.value !== n) throw new Error(`${phase}: expected ${n} records, saw ${m.value}`);
  const result: ChildResult = { phase, records: m.value, seconds: m.seconds, bytes: sessionBytes(auditDir), peakRssMb: m.peakRssMb };
  process.stdout.write(JSON.stringify(result) + "\n");
}

// ---------------------------------------------------------------- parent side

function child(phase: ChildResult["phase"], projectPath: string, n: number): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ["--import", "tsx", self, "--child", phase, "--dir", projectPath, "--records", String(n)], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`${phase} child failed with status ${r.status}`);
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line) as ChildResult;
}


const MB = 1024 * 1024;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: "string", default: "1000000" },
      rounds: { type: "string", default: "1" },
      keep: { type: "boolean", default: false },
      child: { type: "string" },
      dir: { type: "string" },
    },
    strict: true,
  });
  const n = Number(values.records);
  const rounds = Number(values.rounds);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--records must be a positive whole number, got ${values.records}`);
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive whole number, got ${values.rounds}`);
  if (values.child) {
    if (!values.dir) throw new Error("--child needs --dir");
    await runChild(values.child as ChildResult["phase"], values.dir, n);
    return;
  }

  const projectPath = fs.mkdtempSync(path.join(os.tmpdir(), "bench-viewer-"));
  try {
    console.log(`bench:viewer  ${n.toLocaleString("en-US")} records, ${rounds} round(s), node ${process.version}, ${os.cpus().length} CPUs`);
    const gen = child("generate", projectPath, n);
    console.log(`generated     ${(gen.bytes / MB).toFixed(1)} MB in ${gen.seconds.toFixed(1)} s (${Math.round(n / gen.seconds).toLocaleString("en-US")} records/s, peak RSS ${gen.peakRssMb.toFixed(0)} MB)`);
    const ratios: number[] = [];
    const bareRates: number[] = [];
    const anaRates: number[] = [];
    let anaPeak = 0;
    let barePeak = 0;
    for (let round = 1; round <= rounds; round++) {
      const bare = child("bare", projectPath, n);
      const ana = child("analytics", projectPath, n);
      const bareRate = bare.bytes / MB / bare.seconds;
      const anaRate = ana.bytes / MB / ana.seconds;
      bareRates.push(bareRate);
      anaRates.push(anaRate);
      ratios.push(anaRate / bareRate);
      barePeak = Math.max(barePeak, bare.peakRssMb);
      anaPeak = Math.max(anaPeak, ana.peakRssMb);
      console.log(
        `round ${round}       bare ${bareRate.toFixed(1)} MB/s (${bare.seconds.toFixed(2)} s, RSS ${bare.peakRssMb.toFixed(0)} MB)   ` +
          `analytics ${anaRate.toFixed(1)} MB/s (${ana.seconds.toFixed(2)} s, RSS ${ana.peakRssMb.toFixed(0)} MB)   ratio ${(anaRate / bareRate).toFixed(2)}`,
      );
    }
    const ratio = median(ratios);
    console.log("");
    console.log(`bare parse     ${median(bareRates).toFixed(1)} MB/s (median), peak RSS ${barePeak.toFixed(0)} MB`);
    console.log(`analytics      ${median(anaRates).toFixed(1)} MB/s (median), peak RSS ${anaPeak.toFixed(0)} MB`);
    console.log(`ratio          ${ratio.toFixed(2)} (target >= ${TARGET_RATIO})  ${ratio >= TARGET_RATIO ? "PASS" : "MISS"}`);
    console.log(`peak RSS       ${anaPeak.toFixed(0)} MB (target < ${TARGET_RSS_MB} MB)  ${anaPeak < TARGET_RSS_MB ? "PASS" : "MISS"}`);
  } finally {
    if (values.keep) console.log(`kept ${projectPath}`);
    else fs.rmSync(projectPath, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
