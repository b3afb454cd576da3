// The directory locks (legal holds file, key store rewrites) against a lock left by a crash whose
// pid now belongs to an unrelated live process (a container restart, pid wrap-around). Found by
// review 2026-12-04 (fifth session): such a lock was taken for live, so every placeLegalHold,
// releaseLegalHold and shredSubject waited 10 s and failed for as long as that process lived.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { takeDirLock } from "../../src/sink/dir-lock.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterEach(cleanupTmp);

describe("directory locks", () => {
  it("a lock naming a live process that did not write it (its start differs) is stale; one naming the live writer is waited for", () => {
    const dir = tmpProject("audit-dirlock-");
    const file = path.join(dir, "legal_holds.json.lock");
    const unrelated = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const start = fs.readFileSync(`/proc/${unrelated.pid}/stat`, "utf8");
      const realStart = start.slice(start.lastIndexOf(")") + 2).split(" ")[19]!;
      const body = (procStart: string) => JSON.stringify({ pid: unrelated.pid, threadId: 0, hostname: os.hostname(), startedAt: new Date().toISOString(), procStart });
      // left by a crashed process that had this pid before
      fs.writeFileSync(file, body(String(Number(realStart) - 1000)));
      // taken over at once: not waited for as a live holder's is (the 10 s the kit's callers
      // give, then refused); half of that is far above what load adds to a takeover
      const t = Date.now();
      const release = takeDirLock(file, "Another legal hold update", { waitMs: 10_000, staleMs: 15_000 });
      expect(Date.now() - t).toBeLessThan(5_000);
      expect(JSON.parse(fs.readFileSync(file, "utf8")).pid).toBe(process.pid);
      release();
      expect(fs.existsSync(file)).toBe(false);
      // the live writer's own lock is never taken over
      fs.writeFileSync(file, body(realStart));
      expect(() => takeDirLock(file, "Another legal hold update", { waitMs: 300, staleMs: 15_000 })).toThrow(/Another legal hold update holds/);
    } finally {
      unrelated.kill();
    }
  });
});

// Found by review 2026-12-05: a FIFO (or a directory, a link) under a directory lock's name is no
// lock the kit made, but every legal hold or shred waited the full 10 s, then failed saying
// another one held it.
describe("a directory lock's name taken by something else", () => {
  it("a FIFO, a directory or a link there fails at once with AUDIT_ERR_PATH naming it, and is left for the user to remove", () => {
    const dir = tmpProject("audit-dirlock-");
    const file = path.join(dir, ".shred.lock");
    const plants: Array<[string, () => void]> = [
      ["a FIFO", () => execFileSync("mkfifo", [file])],
      ["a directory", () => fs.mkdirSync(file)],
      ["a symbolic link", () => fs.symlinkSync(path.join(dir, "elsewhere"), file)],
    ];
    for (const [what, plant] of plants) {
      plant();
      const t = Date.now();
      let err: (Error & { code?: string }) | undefined;
      try {
        takeDirLock(file, "Another crypto-shredding", { waitMs: 10_000, staleMs: 15_000 })();
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.code, what).toBe("AUDIT_ERR_PATH");
      expect(err?.message).toContain(`.shred.lock is ${what}, not a regular file: not written`);
      expect(err?.message).toContain("remove it");
      expect(Date.now() - t, what).toBeLessThan(5_000); // not the 10 s wait for a holder
      expect(fs.lstatSync(file).isFile()).toBe(false); // left in place
      fs.rmSync(file, { recursive: true, force: true });
    }
  });
});
