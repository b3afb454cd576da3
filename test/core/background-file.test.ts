/**
 * BackgroundFile (src/sink/background-file.ts), which `async` mode writes its chain files
 * through: batches written from the thread pool at positions it keeps, a write still under way
 * finished synchronously by writing the same bytes at the same place. Real files, the real
 * thread pool; what is checked is the bytes on disk.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BackgroundFile } from "../../src/sink/background-file.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { rng } from "../reader/fixture.js";

afterEach(cleanupTmp);

/** The file opened as the writer opens `async` mode's active file: to write at positions, created if missing. */
const openW = (file: string): number => fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Waits until the file has no write of the thread pool's under way. */
async function settled(f: BackgroundFile): Promise<void> {
  for (let i = 0; i < 2000 && !f.idle; i++) await new Promise((r) => setTimeout(r, 1));
  expect(f.idle).toBe(true);
}

/** The process's open descriptors whose link in /proc names one of `names` (an unlinked name ends in " (deleted)"). */
function openFd(...names: string[]): Set<number> {
  const out = new Set<number>();
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    try {
      if (names.includes(fs.readlinkSync(`/proc/self/fd/${fd}`))) out.add(Number(fd));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

describe("BackgroundFile: what reaches the file", () => {
  it("over random pushes, thread-pool writes, synchronous writes and pauses, the file is every byte pushed, in order, once", async () => {
    const next = rng(5);
    for (let round = 0; round < 20; round++) {
      const file = path.join(tmpProject(), "f.jsonl");
      fs.writeFileSync(file, "head\n");
      const errors: Error[] = [];
      const f = new BackgroundFile(openW(file), (e) => errors.push(e));
      const expected: Buffer[] = [Buffer.from("head\n")];
      for (let step = 0; step < 60; step++) {
        const r = next();
        if (r < 0.5) {
          // each chunk a buffer of its own, never changed again (the writer's rule)
          const chunk = crypto.randomBytes(1 + Math.floor(next() * 20_000));
          expected.push(chunk);
          f.push(chunk);
        } else if (r < 0.75) f.writeSoon();
        else if (r < 0.85) f.writeNow();
        else if (r < 0.95) await tick();
        else await new Promise((res) => setTimeout(res, 2));
      }
      f.writeNow();
      expect(f.pendingBytes).toBe(0);
      await settled(f);
      f.close();
      expect(errors).toEqual([]);
      expect(fs.readFileSync(file).equals(Buffer.concat(expected))).toBe(true);
    }
  });

  it("writeNow() in the same tick as writeSoon() writes the bytes the thread pool has not; its late write changes nothing", async () => {
    const file = path.join(tmpProject(), "f.jsonl");
    const f = new BackgroundFile(openW(file), (e) => {
      throw e;
    });
    const a = Buffer.from("a".repeat(100_000) + "\n");
    const b = Buffer.from("b".repeat(50_000) + "\n");
    f.push(a);
    f.writeSoon();
    expect(f.idle).toBe(false);
    f.push(b);
    f.writeNow(); // the thread pool's write of `a` may or may not have run: either way
    expect(fs.readFileSync(file).equals(Buffer.concat([a, b]))).toBe(true);
    expect(f.idle).toBe(false); // its write is still under way: the buffers stay untouched
    await settled(f);
    expect(fs.readFileSync(file).equals(Buffer.concat([a, b]))).toBe(true);
    f.close();
  });

  it("a write the thread pool fails is reported, and its bytes stay queued for the next attempt (/dev/full)", async () => {
    const errors: (Error & { code?: string })[] = [];
    const f = new BackgroundFile(openW("/dev/full"), (e) => errors.push(e));
    f.push(Buffer.from("record\n"));
    f.writeSoon();
    for (let i = 0; i < 2000 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 1));
    expect(errors.map((e) => e.code)).toEqual(["ENOSPC"]);
    expect(f.lastError).toBe(errors[0]);
    expect(f.pendingBytes).toBe(7);
    // a synchronous attempt throws the OS error and keeps the bytes too
    expect(() => f.writeNow()).toThrow(/ENOSPC/);
    expect(f.pendingBytes).toBe(7);
    f.close();
  });

  it("reopen() while a write is under way: the old file keeps exactly its bytes, its descriptor is closed only when that write returned", async () => {
    const dir = tmpProject();
    const first = path.join(dir, "active.jsonl");
    const segment = path.join(dir, "active.1.jsonl");
    const f = new BackgroundFile(openW(first), (e) => {
      throw e;
    });
    const a = Buffer.from("x".repeat(200_000) + "\n");
    f.push(a);
    f.writeSoon();
    f.writeNow();
    // the writer's rotation: a link to the segment name, the active name freed, a new file
    fs.linkSync(first, segment);
    fs.unlinkSync(first);
    f.reopen(openW(first));
    // the old descriptor, opened by the name now unlinked, is still open for the write under way
    const old = `${first} (deleted)`;
    expect(openFd(old, segment).size).toBe(1);
    const b = Buffer.from("y\n");
    f.push(b);
    f.writeSoon();
    await settled(f);
    f.writeNow();
    expect(openFd(old, segment).size).toBe(0);
    expect(fs.readFileSync(segment).equals(a)).toBe(true);
    expect(fs.readFileSync(first).equals(b)).toBe(true);
    f.close();
    expect(openFd(first).size).toBe(0);
  });
});
