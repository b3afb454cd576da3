/**
 * Cost of walking one chain of many small segments (walkChain, behind verify, the viewer's
 * records, the evidence copy, the PostgreSQL backfill and `tail`), and of listing it.
 *
 *   npx tsx bench/walk.ts                              # 1000, 2000, 4000, 8000 segments
 *   npx tsx bench/walk.ts --sizes 1600 --live 20       # and a walk while a logger rotates, 20 s at most
 *
 * For each size, a child process runs the real AuditLogger with 2 KiB rotation (about 7 records a
 * segment, test/fixtures/core/rotation-churn-child.mts) until the tool_usage chain has that many
 * segments. Then, with the writer paused (SIGSTOP; median of 3, warm in the page cache):
 *  - list: `listKindFiles` of the chain (it opens each segment's first line);
 *  - walk: `walkChain` to its end, the files not read (its listings only);
 *  - verify: `verifyAuditLog` of the session (every file read and checked).
 * µs/segment that stays flat from one size to the next is linear; a walk that listed every
 * segment again per step would grow with the size. With `--live S`, the writer goes on (SIGCONT;
 * a segment every few ms) while the walk runs, each segment read as a reader reads it, and the walk is cut
 * after S seconds: "ended" or "cut".
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { walkChain } from "../src/reader/chain-files.js";
import { verifyAuditLog } from "../src/reader/verify.js";
import { listKindFiles } from "../src/sink/files.js";
import { median } from "./lib.js";

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../test/fixtures/core/rotation-churn-child.mts");
const SESSION = "churn";

const { values } = parseArgs({ options: { sizes: { type: "string", default: "1000,2000,4000,8000" }, live: { type: "string" } } });
const sizes = values.sizes.split(",").map(Number);
const live = values.live === undefined ? undefined : Number(values.live);
if (sizes.some((s) => !Number.isInteger(s) || s < 1) || (live !== undefined && !(live > 0))) {
  console.error("usage: tsx bench/walk.ts [--sizes 1000,2000,...] [--live SECONDS]");
  process.exit(2);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-walk-"));

/** A writer that has made `segments` segments and goes on (a segment every few ms) until killed; paused meanwhile. */
async function writer(project: string, segments: number): Promise<{ auditDir: string; pause: (on: boolean) => void; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, project, SESSION, String(segments)], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
      if (out.includes("ready\n")) resolve();
    });
    void exited.then(() => reject(new Error("the writer exited before it was ready")));
  });
  return {
    auditDir: path.join(project, "audit_logs"),
    pause: (on) => child.kill(on ? "SIGSTOP" : "SIGCONT"),
    stop: async () => {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

const ms = (t0: number) => performance.now() - t0;
const perSegment = (t: number, n: number) => ((t * 1000) / n).toFixed(1);

function timed(fn: () => void): number {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    fn();
    runs.push(ms(t0));
  }
  return median(runs);
}

console.log("segments | list ms (µs/seg) | walk ms (µs/seg) | verify ms (µs/seg)" + (live ? " | live walk" : ""));
for (const size of sizes) {
  const project = path.join(tmp, String(size));
  const w = await writer(project, size);
  w.pause(true);
  const n = listKindFiles(w.auditDir, "tool_usage", SESSION).filter((f) => f.segment !== undefined).length;
  const list = timed(() => listKindFiles(w.auditDir, "tool_usage", SESSION));
  const walk = timed(() => {
    for (const step of walkChain(w.auditDir, "tool_usage", SESSION)) if (step.kind === "active") fs.closeSync(step.fd);
  });
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = await verifyAuditLog(w.auditDir, { sessionId: SESSION });
    runs.push(ms(t0));
    if (!r.ok) console.error(`verify: ${JSON.stringify(r.problems.slice(0, 3))}`);
  }
  const verify = median(runs);
  let liveResult = "";
  if (live) {
    w.pause(false);
    const t0 = performance.now();
    let read = 0;
    let ended = true;
    for (const step of walkChain(w.auditDir, "tool_usage", SESSION)) {
      if (step.kind === "active") {
        fs.readFileSync(step.fd);
        fs.closeSync(step.fd);
      } else fs.readFileSync(step.file.path);
      read++;
      if (ms(t0) > live * 1000) {
        ended = false;
        break;
      }
    }
    liveResult = ` | ${ended ? "ended" : "cut"} after ${(ms(t0) / 1000).toFixed(1)} s, ${read} files read`;
  }
  await w.stop();
  console.log(`${n} | ${list.toFixed(0)} (${perSegment(list, n)}) | ${walk.toFixed(0)} (${perSegment(walk, n)}) | ${verify.toFixed(0)} (${perSegment(verify, n)})${liveResult}`);
  fs.rmSync(project, { recursive: true, force: true });
}
fs.rmSync(tmp, { recursive: true, force: true });
