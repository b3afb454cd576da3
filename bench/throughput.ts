/**
 * Write throughput of the audit logger against bare pino and a bare write+fdatasync loop.
 *
 *   npm run bench:throughput                       # 5 rounds × 100k records per mode
 *   npm run bench:throughput -- --records 1000000 --rounds 1 --modes async   # the RSS check
 *
 * Every mode runs in its own child process, modes interleaved round by round, on the same seeded
 * mix of records. Each child checks that it wrote exactly N records (and, for ours, that every
 * chain verifies) and reports records/s and peak RSS (VmHWM). Ratios are paired: each round's
 * rate divided by the same round's baseline, then the median over rounds.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { median, peakRssMb } from "./lib.js";

type Pattern = "burst" | "yield";
interface ChildResult {
  mode: string;
  pattern: Pattern;
  records: number;
  seconds: number;
  rate: number;
  peakRssMb: number;
  checked: string;
}

const MODES = [
  "pino-sync",
  "pino-roll",
  "bare-fdatasync",
  "async",
  "async-enc",
  "sync",
  "sync-enc",
  "fsync",
  "fsync-enc",
] as const;
type Mode = (typeof MODES)[number];
const BATCH = 256; // records between flush() calls in the fsync modes and the bare group-commit loop

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

const WORDS = "the model answered customer about refund policy order shipping account invoice delivery tracking number support agent please thanks".split(" ");
const CJK = "日本語の文章と中文句子和한국어문장😀🎉🚀";

function text(rand: () => number, chars: number, exotic = false): string {
  let s = "";
  while (s.length < chars) {
    s += exotic && rand() < 0.3 ? CJK.slice(0, 4 + Math.floor(rand() * 10)) : WORDS[Math.floor(rand() * WORDS.length)]!;
    s += " ";
  }
  return s.slice(0, chars);
}

type Rec =
  | { kind: "chat"; input: { interactionType: string; prompt: string; response: string; model: string; inputTokens: number; outputTokens: number; durationSeconds: number; metadata: Record<string, unknown> } }
  | { kind: "tool"; input: { toolName: string; operation: string; parameters: Record<string, unknown>; result: Record<string, unknown>; durationSeconds: number } }
  | { kind: "error"; input: { errorType: string; message: string; stackTrace: string; severity: "error" } }
  | { kind: "metric"; input: { metricName: string; value: number; unit: string } };

/**
 * A seeded mix: ~70% ~1.2 KB chats, ~10% ~8 KB chats with CJK and emoji, 12% tool calls, 5% errors
 * with stacks, 3% metrics. A pool of 2,000 distinct records is cycled, so a 1,000,000-record run
 * does not measure the benchmark's own memory.
 */
const POOL = 2_000;
export function workload(n: number, seed = 42): Rec[] {
  const pool = makePool(Math.min(n, POOL), seed);
  return pool;
}

function makePool(n: number, seed: number): Rec[] {
  const rand = mulberry32(seed);
  const out: Rec[] = [];
  const stack = new Error("upstream timeout").stack!.split("\n").slice(0, 8).join("\n");
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.7 || (r >= 0.7 && r < 0.8)) {
      const big = r >= 0.7;
      out.push({
        kind: "chat",
        input: {
          interactionType: "api_request",
          prompt: text(rand, big ? 5500 : 700, big),
          response: text(rand, big ? 2500 : 300, big),
          model: rand() < 0.5 ? "claude-3" : "gpt-4o",
          inputTokens: Math.floor(rand() * 2000),
          outputTokens: Math.floor(rand() * 800),
          durationSeconds: rand() * 3,
          metadata: { requestId: `req_${i}`, region: "eu-west-1" },
        },
      });
    } else if (r < 0.92) {
      out.push({
        kind: "tool",
        input: {
          toolName: "weather_api",
          operation: "get_forecast",
          parameters: { location: text(rand, 20), days: 3, units: "metric" },
          result: { forecast: text(rand, 200) },
          durationSeconds: rand(),
        },
      });
    } else if (r < 0.97) {
      out.push({ kind: "error", input: { errorType: "TimeoutError", message: `upstream timed out after ${i % 30} s`, stackTrace: stack, severity: "error" } });
    } else {
      out.push({ kind: "metric", input: { metricName: "latency_ms", value: rand() * 900, unit: "ms" } });
    }
  }
  return out;
}

// ---------------------------------------------------------------- child


function countLines(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(dir)) {
    const p = path.join(dir, f);
    if (!f.endsWith(".jsonl") && !f.endsWith(".log")) continue;
    const fd = fs.openSync(p, "r");
    const b = Buffer.alloc(1 << 20);
    for (let got; (got = fs.readSync(fd, b, 0, b.length, null)) > 0; ) {
      for (let i = b.indexOf(10); i !== -1 && i < got; i = b.indexOf(10, i + 1)) n++;
    }
    fs.closeSync(fd);
  }
  return n;
}

async function child(mode: Mode, pattern: Pattern, n: number): Promise<ChildResult> {
  const recs = workload(n);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${mode}-`));
  const key = Buffer.alloc(32, 9).toString("base64");
  const yieldEvery = pattern === "yield" ? 64 : 0;
  const pause = () => new Promise<void>((r) => setImmediate(r));
  let seconds = 0;
  let rss = 0;
  let checked = "";
  try {
    if (mode === "pino-sync" || mode === "pino-roll") {
      const { pino } = await import("pino");
      let dest: import("pino").DestinationStream;
      let rollStream: (NodeJS.WritableStream & { flushSync?: () => void; end: () => void }) | undefined;
      if (mode === "pino-sync") dest = pino.destination({ dest: path.join(dir, "pino.log"), sync: true });
      else {
        const roll = (await import("pino-roll")).default;
        rollStream = await roll({ file: path.join(dir, "pino"), size: "100m", mkdir: true });
        dest = rollStream;
      }
      const log = pino({ base: null }, dest);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        log.info(recs[i % recs.length]!.input);
        if (yieldEvery && i % yieldEvery === yieldEvery - 1) await pause();
      }
      if (rollStream) await new Promise<void>((r) => (rollStream!.once("finish", () => r()), rollStream!.end()));
      else (dest as { flushSync?: () => void }).flushSync?.();
      seconds = (performance.now() - t0) / 1000;
      rss = peakRssMb();
      const lines = countLines(dir);
      if (lines !== n) throw new Error(`${mode} wrote ${lines} lines, expected ${n}`);
      checked = `${lines} lines`;
    } else if (mode === "bare-fdatasync") {
      const fd = fs.openSync(path.join(dir, "bare.jsonl"), "a");
      const t0 = performance.now();
      // each line UTF-8 encoded on its own and the batch written with one writev(2): joining
      // thousands of JSON strings into one string first is several times slower on V8
      let buf: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        buf.push(Buffer.from(JSON.stringify(recs[i % recs.length]!.input) + "\n"));
        if (buf.length === BATCH || i === n - 1) {
          fs.writevSync(fd, buf);
          buf = [];
          await new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
        }
      }
      seconds = (performance.now() - t0) / 1000;
      rss = peakRssMb();
      fs.closeSync(fd);
      const lines = countLines(dir);
      if (lines !== n) throw new Error(`bare wrote ${lines} lines, expected ${n}`);
      checked = `${lines} lines`;
    } else {
      const { AuditLogger, verifyAuditLog } = await import("../src/index.js");
      const durability = mode.startsWith("fsync") ? "fsync" : mode.startsWith("sync") ? "sync" : "async";
      const logger = new AuditLogger({
        sessionId: "bench",
        projectPath: dir,
        durability,
        fullContentLogging: false,
        storeContentHashes: true,
        encryptSensitiveContent: mode.endsWith("-enc"),
        ...(mode.endsWith("-enc") ? { encryptionKey: key } : {}),
        rotation: { size: "1g" },
      });
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const r = recs[i % recs.length]!;
        if (r.kind === "chat") logger.logChatInteraction(r.input);
        else if (r.kind === "tool") logger.logToolUsage(r.input);
        else if (r.kind === "error") logger.logError(r.input);
        else logger.logPerformanceMetric(r.input);
        if (durability === "fsync" && i % BATCH === BATCH - 1) await logger.flush();
        else if (yieldEvery && i % yieldEvery === yieldEvery - 1) await pause();
      }
      await logger.flush();
      seconds = (performance.now() - t0) / 1000;
      rss = peakRssMb();
      await logger.finalizeSession();
      const report = await verifyAuditLog(path.join(dir, "audit_logs"));
      if (!report.ok || report.recordsChecked !== n) {
        throw new Error(`${mode}: verify ok=${report.ok} records=${report.recordsChecked}, expected ${n}: ${JSON.stringify(report.problems.slice(0, 3))}`);
      }
      checked = `${report.recordsChecked} records, chains verify`;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { mode, pattern, records: n, seconds, rate: n / seconds, peakRssMb: rss, checked };
}

// ---------------------------------------------------------------- parent


function runChild(mode: Mode, pattern: Pattern, n: number): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ["--import", "tsx", self, "--child", mode, "--pattern", pattern, "--records", String(n)], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`child ${mode}/${pattern} failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as ChildResult;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      pattern: { type: "string", default: "burst" },
      records: { type: "string", default: "100000" },
      rounds: { type: "string", default: "5" },
      modes: { type: "string", default: MODES.join(",") },
      patterns: { type: "string", default: "burst,yield" },
      out: { type: "string" },
    },
  });
  const n = Number(values.records);
  if (values.child) {
    const res = await child(values.child as Mode, values.pattern as Pattern, n);
    process.stdout.write(JSON.stringify(res) + "\n");
    return;
  }
  const modes = values.modes!.split(",") as Mode[];
  const patterns = values.patterns!.split(",") as Pattern[];
  const rounds = Number(values.rounds);
  const results: ChildResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const pattern of patterns) {
      // rotate the order each round so no mode always runs first (warm disk, page cache)
      const order = modes.map((_, i) => modes[(i + round) % modes.length]!);
      for (const mode of order) {
        const r = runChild(mode, pattern, n);
        results.push(r);
        process.stderr.write(`round ${round} ${pattern.padEnd(5)} ${mode.padEnd(15)} ${Math.round(r.rate).toString().padStart(8)} rec/s  rss ${r.peakRssMb.toFixed(0)} MB  (${r.checked})\n`);
      }
    }
  }
  const rows: string[] = [];
  rows.push(`records per run: ${n}, rounds: ${rounds}, node ${process.version}, ${os.cpus().length} cores`);
  rows.push("");
  rows.push("| pattern | mode | median rec/s | vs pino-sync (paired median) | vs bare-fdatasync | peak RSS MB |");
  rows.push("| --- | --- | ---: | ---: | ---: | ---: |");
  for (const pattern of patterns) {
    for (const mode of modes) {
      const mine = results.filter((r) => r.mode === mode && r.pattern === pattern);
      if (!mine.length) continue;
      const paired = (base: Mode) => {
        const ratios: number[] = [];
        for (let i = 0; i < mine.length; i++) {
          const b = results.filter((r) => r.mode === base && r.pattern === pattern)[i];
          if (b) ratios.push(mine[i]!.rate / b.rate);
        }
        return ratios.length ? `${median(ratios).toFixed(2)}x` : "-";
      };
      rows.push(
        `| ${pattern} | ${mode} | ${Math.round(median(mine.map((r) => r.rate)))} | ${paired("pino-sync")} | ${paired("bare-fdatasync")} | ${Math.max(...mine.map((r) => r.peakRssMb)).toFixed(0)} |`,
      );
    }
  }
  const table = rows.join("\n");
  console.log(table);
  if (values.out) fs.writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), n, rounds, results }, null, 2));
}

await main();
