// `fsync` mode when a sync fails (EIO injected at the fs call, as in durability.test.ts: a real
// disk cannot be made to fail here). Found by the durability review, 2026-12-06:
// - the group commit said "fdatasync failed" when the directory's fsync had failed, and the
//   checkpoint's "fdatasync of the checkpoints file failed" for its directory's: the report now
//   names the sync (a file's fdatasync, a directory's fsync) and what it was of;
// - a checkpoint whose sync failed counted as made: announced by a `checkpoint` event (an app
//   anchoring them anchored one not known to be on disk), and the records it covered no longer
//   counted towards the next one, so a session that went quiet had no checkpoint on disk over
//   them. It now does not count: reported, not announced, and the next record signs again.
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog, type AuditOptions } from "../../src/index.js";
import type { Checkpoint } from "../../src/integrity/checkpoint.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, readKind } from "../helpers/core.js";

afterEach(cleanupTmp);

type Restore = () => void;

/**
 * Fails, with EIO, the first thread-pool sync (`fs.fdatasync` or `fs.fsync`) of an fd opened on
 * a path `target` accepts, once `armed()` says so; the rest run for real.
 */
function failFirstSync(target: (p: string) => boolean, armed: () => boolean): { restore: Restore; failed: () => string | undefined } {
  const orig = { openSync: fs.openSync, open: fs.open, fdatasync: fs.fdatasync, fsync: fs.fsync, closeSync: fs.closeSync, close: fs.close };
  const fds = new Map<number, string>();
  let failed: string | undefined;
  fs.openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
    const fd = (orig.openSync as (...a: unknown[]) => number)(p, ...rest);
    if (typeof p === "string" && target(path.resolve(p))) fds.set(fd, path.resolve(p));
    return fd;
  }) as typeof fs.openSync;
  fs.open = ((p: fs.PathLike, flags: fs.OpenMode, cb: (err: NodeJS.ErrnoException | null, fd: number) => void) =>
    orig.open(p, flags, (err, fd) => {
      if (!err && typeof p === "string" && target(path.resolve(p))) fds.set(fd, path.resolve(p));
      cb(err, fd);
    })) as typeof fs.open;
  const wrap =
    (real: typeof fs.fsync, call: string) =>
    (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => {
      const p = fds.get(fd);
      if (p !== undefined && failed === undefined && armed()) {
        failed = `${call} ${p}`;
        setImmediate(() => cb(Object.assign(new Error(`EIO: i/o error, ${call}`), { code: "EIO" })));
      } else real(fd, cb);
    };
  fs.closeSync = ((fd: number) => {
    fds.delete(fd);
    orig.closeSync(fd);
  }) as typeof fs.closeSync;
  fs.close = ((fd: number, cb?: (err: NodeJS.ErrnoException | null) => void) => {
    fds.delete(fd);
    orig.close(fd, cb);
  }) as typeof fs.close;
  fs.fdatasync = wrap(orig.fdatasync, "fdatasync") as typeof fs.fdatasync;
  fs.fsync = wrap(orig.fsync, "fsync") as typeof fs.fsync;
  return { restore: () => Object.assign(fs, orig), failed: () => failed };
}

it("a failed fsync of the audit directory in the group commit is reported as the directory's, not as an fdatasync", async () => {
  const projectPath = tmpProject();
  const dir = path.resolve(auditDirOf(projectPath));
  fs.mkdirSync(dir, { recursive: true });
  const errors: Array<{ code?: string; message: string }> = [];
  let armed = false;
  // (the commit after a rotation syncs the directory: the segment's name and the new active file)
  const trap = failFirstSync((p) => p === dir, () => armed);
  let logger: AuditLogger;
  let outcome: string;
  try {
    logger = new AuditLogger({ sessionId: "dirsync", projectPath, durability: "fsync", fullContentLogging: false, rotation: { size: "1k" } });
    logger.on("error", (e) => errors.push(e as { code?: string; message: string }));
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.flush();
    armed = true;
    for (let i = 0; i < 20; i++) logger.logToolUsage({ toolName: "t", operation: `operation ${i} `.repeat(10) });
    outcome = await logger.flush().then(
      () => "resolved",
      (e: Error & { code?: string }) => `rejected ${e.code} ${e.message}`,
    );
  } finally {
    trap.restore();
  }
  expect(trap.failed()).toBe(`fsync ${dir}`);
  expect(outcome).toMatch(/^rejected AUDIT_ERR_IO fsync of the audit directory failed: EIO/);
  expect(outcome).not.toMatch(/fdatasync/);
  expect(errors.map((e) => `${e.code} ${e.message}`)).toContainEqual(expect.stringMatching(/^AUDIT_ERR_IO fsync of the audit directory failed: EIO/));
  // synced again by the next commit
  await logger!.flush();
  await logger!.finalizeSession();
  const failures = readKind(projectPath, "error", "dirsync").filter((r) => r.errorType === "audit_write_failed");
  expect(failures.map((r) => r.message)).toEqual([expect.stringMatching(/^fsync of the audit directory failed: EIO/)]);
});

it("a failed fdatasync of a chain file in the group commit names the file", async () => {
  const projectPath = tmpProject();
  const dir = path.resolve(auditDirOf(projectPath));
  let armed = false;
  const trap = failFirstSync((p) => path.dirname(p) === dir && /^tool_usage_.*\.jsonl$/.test(path.basename(p)), () => armed);
  let outcome: string;
  let logger: AuditLogger;
  try {
    logger = new AuditLogger({ sessionId: "filesync", projectPath, durability: "fsync", fullContentLogging: false });
    logger.on("error", () => {});
    logger.logToolUsage({ toolName: "t", operation: "o" });
    armed = true;
    outcome = await logger.flush().then(
      () => "resolved",
      (e: Error & { code?: string }) => `rejected ${e.code} ${e.message}`,
    );
  } finally {
    trap.restore();
  }
  expect(outcome).toMatch(/^rejected AUDIT_ERR_IO fdatasync of tool_usage_filesync\.jsonl failed: EIO/);
  await logger!.finalizeSession();
});

for (const which of ["file", "directory"] as const) {
  it(`a checkpoint whose ${which === "file" ? "file's fdatasync" : "directory's fsync"} fails is reported as such, is not announced, and the next record signs one again`, async () => {
    const projectPath = tmpProject();
    const dir = path.resolve(auditDirOf(projectPath));
    fs.mkdirSync(dir, { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const errors: string[] = [];
    const announced: number[] = [];
    let armed = false;
    const cpFile = path.join(dir, "checkpoints_cpfail.jsonl");
    const trap = failFirstSync((p) => (which === "file" ? p === cpFile : p === dir), () => armed);
    let logger: AuditLogger;
    try {
      logger = new AuditLogger({ sessionId: "cpfail", projectPath, durability: "fsync", fullContentLogging: false, signingKey: privateKey, checkpointEvery: { records: 5, seconds: 3600 } });
      logger.on("error", (e) => errors.push(`${(e as { code?: string }).code} ${e.message}`));
      logger.on("checkpoint", (cp: Checkpoint) => announced.push(cp.checkpoint.n));
      logger.logToolUsage({ toolName: "t", operation: "first" });
      await logger.flush();
      // (the directory's fsync after the checkpoints file is created: the first commit's one
      // for the chain files is done)
      armed = true;
      for (let i = 0; i < 5; i++) logger.logToolUsage({ toolName: "t", operation: `o${i}` });
      await logger.flush();
    } finally {
      trap.restore();
    }
    expect(trap.failed()).toBe(which === "file" ? `fdatasync ${cpFile}` : `fsync ${dir}`);
    // not announced (an app anchoring checkpoints would anchor one not known to be on disk)
    expect(announced).toEqual([]);
    // one more record: the ones the failed checkpoint covered count again, so it is past the
    // count and the next commit signs checkpoint 2 (it counted 1 of 5 before)
    logger!.logToolUsage({ toolName: "t", operation: "after" });
    await logger!.flush();
    expect(announced).toEqual([2]);
    // reported, naming the sync that failed; an errors record too, as for other disk trouble
    const said = which === "file" ? /^AUDIT_ERR_IO fdatasync of checkpoints_cpfail\.jsonl failed: EIO.*Checkpoint 1 is in checkpoints_cpfail\.jsonl but not known to be on stable storage: it does not count/ : /^AUDIT_ERR_IO fsync of the audit directory failed: EIO.*Checkpoint 1 is in checkpoints_cpfail\.jsonl but not known to be on stable storage: it does not count/;
    expect(errors).toContainEqual(expect.stringMatching(said));
    const failures = readKind(projectPath, "error", "cpfail").filter((r) => r.errorType === "audit_write_failed");
    expect(failures.map((r) => `AUDIT_ERR_IO ${String(r.message)}`)).toContainEqual(expect.stringMatching(said));
    await logger!.finalizeSession();
    // both in the file, linked, and the log verifies
    const report = await verifyAuditLog(dir, { publicKey });
    expect(report.problems).toEqual([]);
  });
}

/** An `fsync` session of rotated tool_usage segments that a cleanup 100 days on would remove. */
async function prunableSession(sessionId: string, options: AuditOptions) {
  const projectPath = tmpProject();
  const dir = path.resolve(auditDirOf(projectPath));
  const logger = new AuditLogger({ sessionId, projectPath, durability: "fsync", fullContentLogging: false, rotation: { size: 2048 }, ...options });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  for (let i = 0; i < 150; i++) logger.logToolUsage({ toolName: "t", operation: `op ${i}`, parameters: { pad: "x".repeat(200) } });
  await logger.flush();
  const segments = (): string[] => fs.readdirSync(dir).filter((f) => f.startsWith(`tool_usage_${sessionId}.`) && /\.\d+\.jsonl$/.test(f)).sort();
  const before = segments();
  expect(before.length).toBeGreaterThan(3);
  return { logger, dir, errors, segments, before };
}

/**
 * Has fs.fdatasyncSync fail with EIO for every descriptor open on `file` (found through
 * /proc/self/fd) until `restore()`; `failed()` counts the failures.
 */
function failFdatasyncSyncOf(file: string): { failed(): number; restore: Restore } {
  const orig = fs.fdatasyncSync;
  // (the kernel names an fd's file by its real path)
  const real = path.join(fs.realpathSync(path.dirname(file)), path.basename(file));
  let failed = 0;
  fs.fdatasyncSync = ((fd: number) => {
    let target: string | undefined;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      target = undefined;
    }
    if (target === real) {
      failed++;
      throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
    }
    orig(fd);
  }) as typeof fs.fdatasyncSync;
  return { failed: () => failed, restore: () => void (fs.fdatasyncSync = orig) };
}

/** What a cleanup 100 days on does ("cleaned …" or "failed <message>"), `restore` run after it. */
async function cleanupLater(logger: AuditLogger, restore: Restore): Promise<string> {
  try {
    return await logger.cleanup({ now: Date.now() + 100 * 86_400_000 }).then(
      (r) => `cleaned ${JSON.stringify(r.prunedSegments)}`,
      (e: Error) => `failed ${e.message}`,
    );
  } finally {
    restore();
  }
}

it("a retention checkpoint whose fdatasync fails does not count: no segment is removed under it, and the next cleanup removes them", async () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const { logger, dir, errors, segments, before } = await prunableSession("prunecp", { signingKey: privateKey, checkpointEvery: { records: 1000 } });
  // (the retention checkpoint is written on the app's thread: its fdatasync fails)
  const trap = failFdatasyncSyncOf(path.join(dir, "checkpoints_prunecp.jsonl"));
  const outcome = await cleanupLater(logger, trap.restore);
  expect(trap.failed()).toBeGreaterThan(0);
  // nothing removed under a checkpoint not known to be on disk
  expect(outcome).toMatch(/^failed Retention removed nothing of session prunecp/);
  expect(segments()).toEqual(before);
  expect(errors).toContainEqual(expect.stringMatching(/^fdatasync of checkpoints_prunecp\.jsonl failed: EIO.*it does not count/));
  // the disk syncs again: the next cleanup removes them, under a checkpoint that counts
  const again = await logger.cleanup({ now: Date.now() + 100 * 86_400_000 });
  expect(again.prunedSegments.length).toBeGreaterThan(0);
  expect(segments().length).toBeLessThan(before.length);
  await logger.finalizeSession();
  expect((await verifyAuditLog(dir, { publicKey })).problems).toEqual([]);
});

it("without a signing key, a retention_pruned record whose fdatasync fails removes no segment: the removal waits until its record is on disk", async () => {
  const { logger, dir, errors, segments, before } = await prunableSession("prunens", {});
  // (the retention_pruned record is written and synced on the app's thread: the fdatasync of
  // the audit events file, open since the session began, fails)
  const trap = failFdatasyncSyncOf(path.join(dir, "audit_events_prunens.jsonl"));
  const outcome = await cleanupLater(logger, trap.restore);
  expect(trap.failed()).toBeGreaterThan(0);
  // nothing removed while the record of the removal is not known to be on disk
  expect(outcome).toMatch(/^failed Retention removed nothing of session prunens/);
  expect(segments()).toEqual(before);
  expect(errors).toContainEqual(expect.stringMatching(/^Writing audit_event records to .*audit_events_prunens\.jsonl failed: EIO: i\/o error, fdatasync/));
  // the disk syncs again: the next cleanup removes them
  const again = await logger.cleanup({ now: Date.now() + 100 * 86_400_000 });
  expect(again.prunedSegments.length).toBeGreaterThan(0);
  expect(segments().length).toBeLessThan(before.length);
  await logger.finalizeSession();
  expect((await verifyAuditLog(dir)).problems).toEqual([]);
});
