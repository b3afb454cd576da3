/**
 * A subject's first record while the disk refuses writes: its new data key must be stored (wrapped,
 * synced) in the session's key store before any record uses it. Until 2026-12-06 a key line the
 * disk cut short (a short write) was taken as stored, and the records under that key were written
 * once the disk took data again, unreadable for good (`key_missing`); and a key line refused whole
 * (EFBIG) was thrown into the app's log call (found by the durability pass). Now such a record is
 * not kept and reported, as a record past the refused-records bound is, and nothing is encrypted
 * under a key the directory does not hold. Since the same day's later pass such records are no
 * longer lost either: the key waits in memory with them and is stored first once the disk takes
 * data (key-store-held.test.ts has the bytes on disk during the outage). Real child process, its
 * file-size limit set from outside with util-linux `prlimit`.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { verifyAuditLog, type Durability, type EncryptedValue } from "../../src/index.js";
import { decryptValue, valueAad } from "../../src/pipeline/encrypt.js";
import { openKeyring } from "../../src/pipeline/keyring.js";
import { makeEncryptionKey } from "../../src/pipeline/keys.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, killChildren, readKind, startFixture, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

describe("a subject's new data key the disk refuses", () => {
  for (const durability of ["sync", "async"] as const satisfies readonly Durability[]) {
    it(`${durability}: the log calls return, those records are kept and written once the disk takes data, and every record on disk opens and verifies`, async () => {
      const projectPath = tmpProject();
      const key = randomBytes(32);
      const h = startFixture("key-store-full-child.mts", {}, [projectPath, durability, key.toString("base64")]);
      children.push(h);
      const [, pid, size] = (await h.waitForLine((l) => l.startsWith("ready "), "ready")).split(" ");
      // (a little past the key store: the first new key line is cut there, the next refused whole)
      execFileSync("prlimit", ["--pid", pid!, `--fsize=${Number(size) + 50}:unlimited`]);
      h.child.kill("SIGUSR1");
      await h.waitForLine((l) => l === "outage", "outage");
      execFileSync("prlimit", ["--pid", pid!, "--fsize=unlimited:unlimited"]);
      h.child.kill("SIGUSR1");
      await h.waitForLine((l) => l === "done", "done");
      const exit = await h.exited;
      expect(exit.code, exit.stderr).toBe(0);

      // no call threw; the two new users' records of the outage were kept (until 2026-12-06:
      // reported not kept, and lost), the refused key line reported
      expect(h.lines.filter((l) => l.startsWith("threw "))).toEqual([]);
      expect(h.lines.filter((l) => l.includes("Not kept"))).toEqual([]);
      expect(h.lines.some((l) => l.startsWith("error Storing the new data key of chat_interaction record"))).toBe(true);
      const recs = readKind(projectPath, "chat_interaction", "keyfull");
      expect(recs.map((r) => r.id)).toEqual(h.lines.filter((l) => l.startsWith("logged ")).map((l) => l.split(" ")[2]));
      // every record on disk opens with the master key, through the directory's key stores
      const ring = openKeyring([makeEncryptionKey(key)], auditDirOf(projectPath));
      for (const r of recs) expect(decryptValue(ring, r.promptPreview as EncryptedValue, valueAad(r.id as string, "promptPreview")), `${r.id}`).toMatch(/asks|question/);
      for (const p of ["newbie asks during the outage", "newbie2 asks during the outage", "newbie asks again"]) {
        expect(recs.filter((r) => decryptValue(ring, r.promptPreview as EncryptedValue, valueAad(r.id as string, "promptPreview")) === p), p).toHaveLength(1);
      }
      // nothing lost, nothing counted lost; and the directory verifies
      const errs = readKind(projectPath, "error", "keyfull");
      expect(errs.filter((e) => e.errorType === "audit_records_not_kept")).toEqual([]);
      const report = await verifyAuditLog(auditDirOf(projectPath));
      expect(report.problems).toEqual([]);
    }, 60_000);
  }
});
