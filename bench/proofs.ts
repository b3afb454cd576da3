/**
 * Inclusion proofs in a JSON export (`exportToJson(file, { proofs: true })`).
 *
 *   npx tsx bench/proofs.ts                         # 200,000 persona records, 1 in 100 alice's
 *   npx tsx bench/proofs.ts --records 50000 --every 10
 *
 * 1. MerkleLevels alone: build the tree of a chain of N leaves once, then the audit path of
 *    every leaf, against rebuilding the tree for one leaf (what a per-record proof would cost).
 * 2. One signed session written by the real AuditLogger (one chain of N persona records, a
 *    checkpoint every 1,000 records, finalized), exported for alice (`userId`) without and with
 *    proofs, in alternating order, 3 rounds each; then verifyExportProofs of the export. Each
 *    export must hold N / every records and every proof must verify.
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { AuditLogger } from "../src/logger.js";
import { auditContext } from "../src/context.js";
import { AuditExporter } from "../src/export/exporter.js";
import { MerkleLevels } from "../src/integrity/merkle.js";
import { verifyExportProofs } from "../src/integrity/verify-proofs.js";
import { median } from "./lib.js";

const { values } = parseArgs({ options: { records: { type: "string", default: "200000" }, every: { type: "string", default: "100" } } });
const n = Number(values.records);
const every = Number(values.every);

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

// 1. the tree alone
const leaves = Array.from({ length: n }, (_, i) => createHash("sha256").update(`r${i}`).digest("hex"));
let t = process.hrtime.bigint();
const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
const levels = new MerkleLevels(leaves);
const build = ms(t);
const held = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore;
t = process.hrtime.bigint();
let pathNodes = 0;
for (let i = 0; i < n; i++) pathNodes += levels.auditPath(i)!.length;
const allPaths = ms(t);
t = process.hrtime.bigint();
new MerkleLevels(leaves).auditPath(n >> 1);
const oneRebuild = ms(t);
console.log(`MerkleLevels of ${n} leaves: built in ${build.toFixed(0)} ms (~${(held / n).toFixed(0)} bytes a leaf held), ${n} audit paths in ${allPaths.toFixed(0)} ms (${((allPaths * 1000) / n).toFixed(1)} µs each, ${(pathNodes / n).toFixed(1)} nodes); a tree rebuilt per proof would be ${oneRebuild.toFixed(0)} ms a record`);

// 2. exports of one user, without and with proofs
const project = fs.mkdtempSync(path.join(os.tmpdir(), "audit-bench-proofs-"));
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const logger = new AuditLogger({ sessionId: "bench_proofs", projectPath: project, durability: "async", signingKey: privateKey, checkpointEvery: { records: 1000, seconds: 3600 } });
t = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  auditContext.run({ userId: i % every === 0 ? "alice" : `user${i % 997}` }, () => logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: `step ${i}` }));
}
await logger.finalizeSession();
console.log(`wrote ${n} records in ${ms(t).toFixed(0)} ms`);
const exporter = new AuditExporter({ auditPath: logger.auditDir });
const out = path.join(project, "alice.json");
const times: Record<"plain" | "proofs", number[]> = { plain: [], proofs: [] };
for (let round = 0; round < 3; round++) {
  for (const mode of (round % 2 === 0 ? ["plain", "proofs"] : ["proofs", "plain"]) as Array<"plain" | "proofs">) {
    t = process.hrtime.bigint();
    await exporter.exportToJson(out, { userId: "alice", ...(mode === "proofs" ? { proofs: true } : {}) });
    times[mode].push(ms(t));
  }
}
const size = fs.statSync(out).size;
t = process.hrtime.bigint();
const r = await verifyExportProofs(out, { publicKey });
const verify = ms(t);
const proven = r.records.filter((x) => x.status === "proven").length;
if (!r.ok || proven !== Math.ceil(n / every)) throw new Error(`expected ${Math.ceil(n / every)} proven records, got ${proven} (ok ${r.ok})`);
console.log(`export of alice (${proven} of ${n} records): without proofs ${median(times.plain).toFixed(0)} ms, with proofs ${median(times.proofs).toFixed(0)} ms (median of 3; ${(size / 1024).toFixed(0)} KiB); verify --export ${verify.toFixed(0)} ms, all proven`);
fs.rmSync(project, { recursive: true, force: true });
