/**
 * What a cleanup that removes many sessions costs (`logger.cleanup()`, the function behind
 * `audit-logger cleanup`), as the directory grows.
 *
 *   npx tsx bench/cleanup.ts                                  # 600 and 2000 sessions
 *   npx tsx bench/cleanup.ts --sessions 2000 --template /tmp/cleanup-2000   # made once, copied by each run
 *
 * The sessions are real ones (writeSessions in bench/lib.ts: a record of each kind, eight files a
 * session), made once per size (in `--template`, when given) and copied for each run. A logger of
 * the directory places a legal hold on every 50th session, then cleans up with `now` ten days on
 * and a retention of one day: every other session goes, each removal recorded first (a chained
 * `retention_pruned` record and a checkpoint). Timed: a dry run, then the cleanup; the
 * directory's entries before and after, and the removal records in the cleaning session's chain.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { AuditLogger } from "../src/logger.js";
import { writeSessions } from "./lib.js";

const DAY = 86_400_000;
const { values } = parseArgs({ options: { sessions: { type: "string", default: "600,2000" }, template: { type: "string" } } });
const sizes = values.sessions.split(",").map(Number);
if (sizes.some((n) => !Number.isSafeInteger(n) || n < 1) || (values.template !== undefined && sizes.length > 1)) {
  console.error("usage: tsx bench/cleanup.ts [--sessions 600,2000] [--template DIR (one size)]");
  process.exit(2);
}

async function run(n: number): Promise<void> {
  const template = values.template !== undefined ? path.resolve(values.template) : fs.mkdtempSync(path.join(os.tmpdir(), "bench-cleanup-template-"));
  try {
    if (!fs.existsSync(path.join(template, "audit_logs", `session_s${String(n - 1).padStart(5, "0")}.json`))) {
      const t0 = performance.now();
      await writeSessions(template, n);
      console.log(`made ${n} sessions in ${((performance.now() - t0) / 1000).toFixed(1)} s (${template})`);
    }
    const projectPath = fs.mkdtempSync(path.join(os.tmpdir(), "bench-cleanup-"));
    try {
      fs.cpSync(path.join(template, "audit_logs"), path.join(projectPath, "audit_logs"), { recursive: true });
      const dir = path.join(projectPath, "audit_logs");
      const before = fs.readdirSync(dir).length;
      const logger = new AuditLogger({ sessionId: "bench_cleaner", projectPath, fullContentLogging: false, thread: false });
      for (let i = 0; i < n; i += 50) logger.placeLegalHold(`s${String(i).padStart(5, "0")}`, "bench hold");
      const now = Date.now() + 10 * DAY;
      // (wall time, and this process's CPU time: on a shared machine the second is the steadier)
      const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
      let t0 = performance.now();
      let c0 = process.cpuUsage();
      const dry = await logger.cleanup({ maxLogAgeDays: 1, now, dryRun: true });
      const dryMs = performance.now() - t0;
      const dryCpu = cpuMs(process.cpuUsage(c0));
      t0 = performance.now();
      c0 = process.cpuUsage();
      const done = await logger.cleanup({ maxLogAgeDays: 1, now });
      const ms = performance.now() - t0;
      const cpu = cpuMs(process.cpuUsage(c0));
      await logger.finalizeSession();
      const records = fs.readFileSync(path.join(dir, "audit_events_bench_cleaner.jsonl"), "utf8").split("\n").filter((l) => l.includes('"retention_pruned"')).length;
      if (dry.removed.length !== done.removed.length) throw new Error(`the dry run listed ${dry.removed.length}, the cleanup removed ${done.removed.length}`);
      console.log(
        `${n} sessions (${before.toLocaleString("en-US")} entries): dry run ${(dryMs / 1000).toFixed(2)} s (CPU ${(dryCpu / 1000).toFixed(2)} s), cleanup ${(ms / 1000).toFixed(2)} s (CPU ${(cpu / 1000).toFixed(2)} s; ${(ms / Math.max(1, done.removed.length)).toFixed(1)} ms a removal); ` +
          `removed ${done.removed.length}, held ${done.skippedHeld.length}, ${records} removal records, ${fs.readdirSync(dir).length} entries left`,
      );
    } finally {
      fs.rmSync(projectPath, { recursive: true, force: true });
    }
  } finally {
    if (values.template === undefined) fs.rmSync(template, { recursive: true, force: true });
  }
}

for (const n of sizes) await run(n);
