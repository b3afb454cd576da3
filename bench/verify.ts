/**
 * Verification rate of verifyAuditLog against bare SHA-256 over the same bytes, in one run.
 *
 *   npm run bench:verify                          # 200,000 records, 3 rounds
 *   npm run bench:verify -- --records 50000 --rounds 5
 *
 * Writes one session with the real AuditLogger (every kind, signed checkpoints every 1000
 * records, rotation at 16 MiB so the chains span segments; no full-content files). Then, round
 * by round and in alternating order, two passes over the same files, warm in the page cache:
 *  - bare: read each chain file in 1 MiB chunks, split at newlines, SHA-256 each line's bytes;
 *  - verify: `verifyAuditLog(dir, { publicKey })` (hash chain, seq, segments, Merkle roots,
 *    checkpoint signatures), which must report ok and every record.
 * The rate ratio is verify MB/s ÷ bare MB/s per round, median over rounds. Target: >= 0.5.
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { AuditLogger } from "../src/logger.js";
import { verifyAuditLog } from "../src/reader/verify.js";
import { listKindFiles } from "../src/sink/files.js";
import { CHAIN_KINDS } from "../src/types.js";
import { median } from "./lib.js";

const SESSION = "bench_verify";
const TARGET_RATIO = 0.5;
const CHUNK = 1 << 20;

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "200000" },
    rounds: { type: "string", default: "3" },
    keep: { type: "boolean", default: false },
  },
});
const records = Number(values.records);
const rounds = Number(values.rounds);
if (!Number.isInteger(records) || records < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error("usage: tsx bench/verify.ts [--records N] [--rounds R] [--keep]");
  process.exit(2);
}

/** Writes `n` records spread over the six kinds, with signed checkpoints. */
async function generate(projectPath: string, n: number, privateKey: ReturnType<typeof generateKeyPairSync>["privateKey"]): Promise<void> {
  const logger = new AuditLogger({
    sessionId: SESSION,
    projectPath,
    fullContentLogging: false,
    rotation: { size: "16m" },
    signingKey: privateKey,
    checkpointEvery: { records: 1000, seconds: 3600 },
  });
  for (let i = 0; i < n; i++) {
    switch (i % 6) {
      case 0:
        logger.logChatInteraction({ prompt: `What is the weather in city ${i}?`, response: `It is sunny, ${i % 30} degrees.`, model: "claude-3", tokensUsed: 40 + (i % 50), durationSeconds: 0.8 });
        break;
      case 1:
        logger.logToolUsage({ toolName: "weather_api", operation: "get_forecast", parameters: { city: `city-${i}`, days: 3 }, result: { ok: true, temp: i % 30 }, durationSeconds: 0.12 });
        break;
      case 2:
        logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: `step ${i}`, durationSeconds: 0.01 });
        break;
      case 3:
        logger.logFileOperation({ operation: "read", filePath: `/srv/data/file_${i}.json`, fileSize: 1000 + i });
        break;
      case 4:
        logger.logPerformanceMetric({ metricName: "latency_ms", value: i % 997, unit: "ms", context: { route: "/api/chat" } });
        break;
      default:
        logger.logError({ errorType: "TimeoutError", message: `upstream timed out after ${i % 60}s`, severity: "warning" });
    }
    if (i % 10_000 === 9_999) await logger.flush();
  }
  await logger.finalizeSession();
}

/** Every chain file and the checkpoints file: the bytes both passes read. */
function chainFiles(auditDir: string): string[] {
  const files = CHAIN_KINDS.flatMap((k) => listKindFiles(auditDir, k, SESSION).map((f) => f.path));
  return [...files, path.join(auditDir, `checkpoints_${SESSION}.jsonl`)];
}

/** The bare pass: SHA-256 over each line's bytes, nothing else. Returns the lines hashed. */
function bare(files: readonly string[]): number {
  let lines = 0;
  const buf = Buffer.allocUnsafe(CHUNK);
  for (const file of files) {
    const fd = fs.openSync(file, "r");
    try {
      let carry: Buffer | undefined;
      for (;;) {
        const n = fs.readSync(fd, buf, 0, CHUNK, null);
        if (n === 0) break;
        const data = carry ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
        let start = 0;
        for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
          createHash("sha256").update(data.subarray(start, nl)).digest();
          lines++;
          start = nl + 1;
        }
        carry = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return lines;
}


async function main(): Promise<void> {
  const projectPath = fs.mkdtempSync(path.join(os.tmpdir(), "bench-verify-"));
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  try {
    const t0 = performance.now();
    await generate(projectPath, records, privateKey);
    const auditDir = path.join(projectPath, "audit_logs");
    const files = chainFiles(auditDir);
    const bytes = files.reduce((n, f) => n + fs.statSync(f).size, 0);
    const mb = bytes / (1024 * 1024);
    console.log(`generated ${records.toLocaleString("en-US")} records, ${files.length} files, ${mb.toFixed(1)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const bareRates: number[] = [];
    const verifyRates: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const run = async (which: "bare" | "verify"): Promise<number> => {
        const s = performance.now();
        if (which === "bare") {
          const lines = bare(files);
          if (lines < records) throw new Error(`bare pass saw ${lines} lines, expected at least ${records}`);
        } else {
          const report = await verifyAuditLog(auditDir, { publicKey });
          if (!report.ok || report.recordsChecked < records) throw new Error(`verify failed: ok=${report.ok}, ${report.recordsChecked} records, ${JSON.stringify(report.problems.slice(0, 3))}`);
        }
        return mb / ((performance.now() - s) / 1000);
      };
      // alternate which goes first, so neither always gets the warmer cache
      const order: Array<"bare" | "verify"> = r % 2 === 0 ? ["bare", "verify"] : ["verify", "bare"];
      const rates: Record<string, number> = {};
      for (const which of order) rates[which] = await run(which);
      bareRates.push(rates.bare!);
      verifyRates.push(rates.verify!);
      ratios.push(rates.verify! / rates.bare!);
      console.log(`round ${r + 1}: bare SHA-256 ${rates.bare!.toFixed(1)} MB/s, verifyAuditLog ${rates.verify!.toFixed(1)} MB/s, ratio ${ratios.at(-1)!.toFixed(2)}`);
    }
    const ratio = median(ratios);
    console.log("");
    console.log(`bare SHA-256 over the same bytes: ${median(bareRates).toFixed(1)} MB/s (median of ${rounds})`);
    console.log(`verifyAuditLog with public key:  ${median(verifyRates).toFixed(1)} MB/s (median of ${rounds})`);
    console.log(`ratio ${ratio.toFixed(2)} (target >= ${TARGET_RATIO}): ${ratio >= TARGET_RATIO ? "PASS" : "FAIL"}`);
    process.exitCode = ratio >= TARGET_RATIO ? 0 : 1;
  } finally {
    if (values.keep) console.log(`kept ${projectPath}`);
    else fs.rmSync(projectPath, { recursive: true, force: true });
  }
}

await main();
