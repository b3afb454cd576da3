/**
 * What a batch write costs the thread that makes it: writing a batch with `fs.writeSync` (what
 * `sync`/`fsync` modes do, and `async` mode did before 2026-12-02) against handing it to libuv's
 * thread pool with `fs.writev` (what `async` mode does now, src/sink/background-file.ts), as
 * wall time of the call on this thread. Batches of a chat bench's flush interval (110 KB), with a
 * pause before each, as the logger's timer leaves the pool's thread asleep.
 *
 *   npx tsx bench/write-handover.ts [--batches 300] [--bytes 110000]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { batches: { type: "string", default: "300" }, bytes: { type: "string", default: "110000" } } });
const batches = Number(values.batches);
const chunk = Buffer.alloc(Number(values.bytes), 0x61);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-handover-"));

async function run(name: string, write: (fd: number, position: number) => Promise<void> | void): Promise<void> {
  const file = path.join(dir, `${name}.jsonl`);
  const fd = fs.openSync(file, "w");
  const us: number[] = [];
  for (let i = 0; i < batches; i++) {
    await new Promise((r) => setTimeout(r, 3));
    const t = process.hrtime.bigint();
    const done = write(fd, i * chunk.length);
    us.push(Number(process.hrtime.bigint() - t) / 1000);
    await done;
  }
  fs.closeSync(fd);
  fs.unlinkSync(file);
  us.sort((a, b) => a - b);
  const at = (q: number): string => us[Math.min(us.length - 1, Math.floor(us.length * q))]!.toFixed(1);
  console.log(`${name.padEnd(22)} median ${at(0.5)} µs  p90 ${at(0.9)} µs  (${batches} batches of ${chunk.length} bytes)`);
}

console.log(`node ${process.version}, ${os.cpus().length} CPUs`);
try {
  for (let round = 0; round < 2; round++) {
    await run("writeSync", (fd) => {
      fs.writeSync(fd, chunk);
    });
    await run("writev to the pool", (fd, position) => new Promise<void>((resolve, reject) => fs.writev(fd, [chunk], position, (err) => (err ? reject(err) : resolve()))));
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
