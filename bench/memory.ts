/**
 * Memory through a long burst: logs N chat records (default 1,500,000) in `async` mode without
 * ever yielding to the event loop, and prints RSS, heap and the heap left after a full GC every
 * 250,000 records, then the peak RSS (VmHWM). A logger that buffered without bound would show the
 * heap growing with N; this one stays flat (back-pressure: each kind writes out at 64 KiB).
 *
 *   node --expose-gc --import tsx bench/memory.ts [--records N]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { AuditLogger } from "../src/index.js";
import { vmHwmMb } from "./lib.js";

const { values } = parseArgs({ options: { records: { type: "string", default: "1500000" } } });
const n = Number(values.records);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-memory-"));
const logger = new AuditLogger({ sessionId: "memory", projectPath: dir, fullContentLogging: false, rotation: { size: "1g" } });
const prompt = "the model answered customer about refund policy ".repeat(15);
const response = "shipping account invoice delivery tracking ".repeat(7);
const mb = (x: number) => (x / 1048576).toFixed(0).padStart(4);
const gc = (globalThis as { gc?: () => void }).gc;
const step = Math.max(1, Math.floor(n / 6));
console.log(`records   rss MB  heapUsed MB  after-GC heap MB${gc ? "" : "  (run with --expose-gc for the last column)"}`);
for (let i = 1; i <= n; i++) {
  logger.logChatInteraction({ interactionType: "api_request", prompt, response, model: "gpt-4o", inputTokens: 100, outputTokens: 50, durationSeconds: 1.2, metadata: { requestId: `req_${i}` } });
  if (i % step === 0) {
    const m = process.memoryUsage();
    gc?.();
    console.log(`${String(i).padStart(8)}  ${mb(m.rss)}     ${mb(m.heapUsed)}         ${gc ? mb(process.memoryUsage().heapUsed) : "   -"}`);
  }
}
await logger.finalizeSession();
const hwm = vmHwmMb();
console.log(`peak RSS ${hwm !== undefined ? hwm.toFixed(0) : "?"} MB (target <= 150 MB)`);
fs.rmSync(dir, { recursive: true, force: true });
