// A shred destroys a subject's data keys by writing a copy of the key store without them and
// renaming it into place. The copy was fsync'ed, the rename was not: until the directory's entry
// reaches the disk (ext4 commits it up to ~5 s later), a machine that loses power finds the old
// store, keys and all, while the subject_shredded record, synced in `fsync` mode, says they are
// gone (found by the durability review, 2026-12-06). The directory is now fsync'ed after the
// rename, before shredSubject returns. What reaches the disk cannot be seen without cutting the
// power, so the calls are: fs's rename and fsync watched, around a real shred of a real store.
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";

afterEach(cleanupTmp);

it("shredSubject fsyncs the key store's directory after renaming the rewritten store into place", async () => {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId: "sd", projectPath, durability: "fsync", encryptSensitiveContent: true, encryptionKey: TEST_KEY, fullContentLogging: false });
  logger.logChatInteraction({ model: "m", prompt: "carol's question", response: "a", userId: "carol" });
  logger.logChatInteraction({ model: "m", prompt: "dave's question", response: "b", userId: "dave" });
  await logger.flush();
  const dir = path.resolve(auditDirOf(projectPath));
  const seen: string[] = [];
  const dirFds = new Set<number>();
  const { renameSync, openSync, fsyncSync, closeSync } = fs;
  fs.renameSync = ((from: fs.PathLike, to: fs.PathLike) => {
    renameSync(from, to);
    if (path.dirname(path.resolve(String(to))) === dir) seen.push(`rename ${path.basename(String(to))}`);
  }) as typeof fs.renameSync;
  fs.openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
    const fd = (openSync as (...a: unknown[]) => number)(p, ...rest);
    if (typeof p === "string" && path.resolve(p) === dir) dirFds.add(fd);
    return fd;
  }) as typeof fs.openSync;
  fs.fsyncSync = ((fd: number) => {
    fsyncSync(fd);
    if (dirFds.has(fd)) seen.push("fsync directory");
  }) as typeof fs.fsyncSync;
  fs.closeSync = ((fd: number) => {
    dirFds.delete(fd);
    closeSync(fd);
  }) as typeof fs.closeSync;
  try {
    logger.shredSubject("carol", "erasure request");
  } finally {
    Object.assign(fs, { renameSync, openSync, fsyncSync, closeSync });
  }
  await logger.finalizeSession();
  const renamed = seen.findIndex((s) => /^rename .*keys/.test(s));
  expect(renamed, seen.join("\n")).toBeGreaterThanOrEqual(0);
  expect(seen.slice(renamed + 1), seen.join("\n")).toContain("fsync directory");
});
