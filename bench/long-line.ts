/**
 * Time to read one very long line, per line reader of the kit, and of `verifyAuditLog` over a log
 * with one planted in its checkpoints file (adversarial review finding 5, 2026-12-05: the readers
 * joined the partial line with every chunk and searched it again from its start, so a line of L
 * MiB cost ~L²/2 MiB of copying and scanning; a 128 MiB line took verify 64 s).
 *
 *   npx tsx bench/long-line.ts                                  # 16, 32, 64, 128 MiB, every reader
 *   npx tsx bench/long-line.ts --sizes 16,32 --readers verify,forEachLineBytes
 *
 * Each reader reads a file of a few short lines, then the long line (of `a`s, newline-terminated),
 * then a few short lines; it must return that line whole (its length is checked), and verify must
 * report it as the one problem (`checkpoint_malformed`). One timed run per reader and size, warm in
 * the page cache; time linear in the line's length doubles from one size to the next.
 */
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { AuditLogger } from "../src/logger.js";
import { verifyAuditLog } from "../src/reader/verify.js";
import { forEachLineBytes, readLines } from "../src/reader/lines.js";
import { readLinesSync } from "../src/reader/lines-sync.js";
import { peekTail } from "../src/sink/recover.js";
import { lastLinesOfFile } from "../src/cli/tail-read.js";
import { Spool } from "../src/postgres/spool.js";
import { LineIndex, stampOf } from "../src/serve/line-index.js";

const READERS = ["verify", "forEachLineBytes", "readLines", "readLinesSync", "peekTail", "lastLinesOfFile", "Spool.read", "LineIndex.update"] as const;
type Reader = (typeof READERS)[number];

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "16,32,64,128" },
    readers: { type: "string", default: READERS.join(",") },
  },
});
const sizes = values.sizes.split(",").map(Number);
const readers = values.readers.split(",") as Reader[];
if (sizes.some((s) => !Number.isInteger(s) || s < 1) || readers.some((r) => !READERS.includes(r))) {
  console.error(`usage: tsx bench/long-line.ts [--sizes 16,32,...] [--readers ${READERS.join(",")}]`);
  process.exit(2);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-long-line-"));
const MiB = 1 << 20;

/** A small signed log (one session, 40 records, checkpoints); its audit directory. */
async function smallLog(publicKeyOut: { pem?: string }): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  publicKeyOut.pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const logger = new AuditLogger({ sessionId: "s1", projectPath: path.join(tmp, "project"), durability: "sync", signingKey: privateKey, checkpointEvery: { records: 10, seconds: 3600 }, autoCleanup: false });
  for (let i = 0; i < 20; i++) {
    logger.logToolUsage({ toolName: "transfer", operation: "send", parameters: { i }, result: { ok: true } });
    logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: `step ${i}` });
  }
  await logger.finalizeSession();
  return logger.auditDir;
}

/** A sealed-looking short line (what the line readers see around the long one). */
const short = (i: number): string => `{"id":"r${i}","type":"tool_usage","sessionId":"s1","seq":${i + 1},"timestamp":"2026-12-05T00:00:00.000Z","prevHash":"${"0".repeat(64)}","hash":"${"a".repeat(64)}"}`;

/** Three short lines, the long line, then (unless `last`) two short lines. */
function writeFileWithLine(file: string, mib: number, last: boolean): void {
  const head = [0, 1, 2].map(short).join("\n") + "\n";
  const tail = last ? "\n" : "\n" + [3, 4].map(short).join("\n") + "\n";
  fs.writeFileSync(file, Buffer.concat([Buffer.from(head), Buffer.alloc(mib * MiB, 0x61), Buffer.from(tail)]));
}

/** The length of the longest line the reader returned (must be the planted one's). */
async function run(reader: Exclude<Reader, "verify">, file: string): Promise<number> {
  let longest = 0;
  switch (reader) {
    case "forEachLineBytes":
      await forEachLineBytes(file, (_d, start, end) => {
        longest = Math.max(longest, end - start);
      });
      return longest;
    case "readLines":
      for await (const l of readLines(file)) longest = Math.max(longest, l.text.length);
      return longest;
    case "readLinesSync":
      for (const l of readLinesSync(file)) longest = Math.max(longest, l.text.length);
      return longest;
    case "peekTail":
      // (backwards from the end, where the long line is: no record, so no head)
      if (peekTail(file) !== undefined) throw new Error("peekTail: a head");
      return -1;
    case "lastLinesOfFile":
      // the last 3 lines: two short ones and the long one
      for (const l of lastLinesOfFile(file, 3)) longest = Math.max(longest, l.length);
      return longest;
    case "Spool.read": {
      const s = new Spool(file);
      for (const l of s.read(10).lines) longest = Math.max(longest, l.length);
      return longest;
    }
    case "LineIndex.update": {
      const stamp = (await stampOf(file))!;
      const ix = new LineIndex(stamp);
      if (!(await ix.update(file, stamp))) throw new Error("LineIndex.update: false");
      // (the long line is no record: skipped; every other line indexed)
      if (ix.skipped !== 1 || ix.count !== 5) throw new Error(`LineIndex: ${ix.count} lines, ${ix.skipped} skipped`);
      return -1;
    }
  }
}

const key: { pem?: string } = {};
const dir = readers.includes("verify") ? await smallLog(key) : "";
const cpFile = dir && path.join(dir, "checkpoints_s1.jsonl");
const cpOrig = cpFile ? fs.readFileSync(cpFile) : Buffer.alloc(0);
const file = path.join(tmp, "long.jsonl");

console.log(`node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
console.log(`| reader | ${sizes.map((s) => `${s} MiB`).join(" | ")} |`);
console.log(`| --- | ${sizes.map(() => "---:").join(" | ")} |`);
for (const reader of readers) {
  const cells: string[] = [];
  for (const mib of sizes) {
    let ms: number;
    if (reader === "verify") {
      fs.writeFileSync(cpFile, Buffer.concat([cpOrig, Buffer.alloc(mib * MiB, 0x61), Buffer.from("\n")]));
      const t0 = performance.now();
      const r = await verifyAuditLog(dir, { publicKey: key.pem });
      ms = performance.now() - t0;
      const kinds = r.problems.map((p) => p.kind);
      if (r.ok || kinds.length !== 1 || kinds[0] !== "checkpoint_malformed") throw new Error(`verify: ${kinds.join(",")}`);
    } else {
      writeFileWithLine(file, mib, reader === "peekTail");
      const t0 = performance.now();
      const got = await run(reader, file);
      ms = performance.now() - t0;
      if (got !== -1 && got !== mib * MiB) throw new Error(`${reader}: longest line ${got}, want ${mib * MiB}`);
    }
    cells.push(ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
    process.stderr.write(`${reader} ${mib} MiB: ${cells.at(-1)}\n`);
  }
  console.log(`| ${reader} | ${cells.join(" | ")} |`);
}
fs.rmSync(tmp, { recursive: true, force: true });
