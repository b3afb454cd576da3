/**
 * The event loop's longest stall while an app logs in `fsync` mode with signed checkpoints (every
 * 1,000 records, the default). Until 2026-12-06 each periodic checkpoint fdatasync'ed the chain
 * files, then the checkpoints file, on the app's thread (src/logger.ts writeCheckpoint, runCommit);
 * both syncs are the thread pool's now.
 *
 *   npx tsx bench/checkpoint-stall.ts [--records 20000] [--signed false] [--durability async]
 *
 * Logs `records` small tool_usage records, yielding (setImmediate) every 10, and prints the
 * event loop's delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution: max, p99, mean), the
 * longest single log call, how many checkpoints were written and how many of them in a log call
 * (with that call's time), every fdatasyncSync made on the app's thread before finalize (count,
 * total, median, max), and the total time.
 */
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { AuditLogger } from "../src/logger.js";

// every fdatasync made on the app's thread (the thread pool's fs.fdatasync is not counted): its time
const appThreadSyncs: number[] = [];
const fdatasyncSync = fs.fdatasyncSync;
fs.fdatasyncSync = (fd: number): void => {
  const t = performance.now();
  try {
    fdatasyncSync(fd);
  } finally {
    appThreadSyncs.push(performance.now() - t);
  }
};

const { values } = parseArgs({ options: { records: { type: "string", default: "20000" }, signed: { type: "string", default: "true" }, durability: { type: "string", default: "fsync" } } });
const n = Number(values.records);
const signed = values.signed !== "false";
const durability = values.durability === "async" ? "async" : "fsync";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "audit-cp-stall-"));
const logger = new AuditLogger({
  sessionId: "stall",
  projectPath: dir,
  durability,
  fullContentLogging: false,
  ...(signed ? { signingKey: generateKeyPairSync("ed25519").privateKey } : {}),
});
const errors: string[] = [];
logger.on("error", (e) => errors.push(e.message));
const checkpointCalls: number[] = [];
let inCheckpoint = false;
let written = 0;
logger.on("checkpoint", () => {
  inCheckpoint = true;
  written++;
});
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
let longest = 0;
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  inCheckpoint = false;
  const t = performance.now();
  logger.logToolUsage({ toolName: "bench", operation: "tick", parameters: { i } });
  const took = performance.now() - t;
  longest = Math.max(longest, took);
  if (inCheckpoint) checkpointCalls.push(took);
  inCheckpoint = false;
  if (i % 10 === 9) await new Promise((r) => setImmediate(r));
}
await logger.flush();
const total = performance.now() - t0;
h.disable();
const periodic = written;
const syncs = [...appThreadSyncs].sort((a, b) => a - b);
await logger.finalizeSession();
const ms = (ns: number): string => (ns / 1e6).toFixed(1);
const sorted = [...checkpointCalls].sort((a, b) => a - b);
console.log(`records ${n}, signed ${signed}, ${durability}; total ${total.toFixed(0)} ms`);
console.log(`event-loop delay: max ${ms(h.max)} ms, p99 ${ms(h.percentile(99))} ms, mean ${ms(h.mean)} ms`);
console.log(`longest log call ${longest.toFixed(1)} ms; ${periodic} checkpoints before finalize, ${checkpointCalls.length} of them written in a log call: median ${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms`);
console.log(`fdatasync on the app's thread before finalize: ${syncs.length}, total ${syncs.reduce((a, b) => a + b, 0).toFixed(1)} ms, median ${(syncs[Math.floor(syncs.length / 2)] ?? 0).toFixed(1)} ms, max ${(syncs.at(-1) ?? 0).toFixed(1)} ms`);
if (errors.length) console.log(`errors: ${errors.length}, first: ${errors[0]}`);
fs.rmSync(dir, { recursive: true, force: true });
