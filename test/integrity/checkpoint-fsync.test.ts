/**
 * `fsync` mode, a signed checkpoint due by `checkpointEvery.records`: it fdatasync'ed every chain
 * file on the app's thread, in the log call that reached the count (found 2026-12-06: 2–6 ms a
 * checkpoint, up to 80 ms on a loaded disk; bench/checkpoint-stall.ts). Now it is signed over what
 * the next group commit hands to the OS and written once that commit's fdatasync (thread pool) has
 * returned: no log call syncs, and the checkpoint still covers only records synced before it.
 * Real logger, real files; Node's fs calls are counted, not replaced.
 */
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { AuditLogger } from "../../src/logger.js";
import { verifyAuditLog } from "../../src/reader/verify.js";
import type { Checkpoint } from "../../src/integrity/checkpoint.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

const realSync = fs.fdatasyncSync;
const realAsync = fs.fdatasync;
afterEach(() => {
  (fs as { fdatasyncSync: typeof fs.fdatasyncSync }).fdatasyncSync = realSync;
  (fs as { fdatasync: typeof fs.fdatasync }).fdatasync = realAsync;
  cleanupTmp();
});

it("fsync: a checkpoint due by records is written after the group commit's fdatasync of the records it covers, and no log call fdatasyncs", async () => {
  const projectPath = tmpProject("audit-cp-fsync-");
  const logger = new AuditLogger({ sessionId: "cpf", projectPath, durability: "fsync", fullContentLogging: false, signingKey: generateKeyPairSync("ed25519").privateKey, checkpointEvery: { records: 5 } });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  await logger.flush();
  const tools = path.join(logger.auditDir, "tool_usage_cpf.jsonl");
  // what happened, in order: each fdatasync that returned (thread pool), with the tool_usage lines
  // on disk then; each checkpoint, with its tool_usage head
  const events: Array<{ what: "synced"; lines: number } | { what: "checkpoint"; seq: number; reason: string }> = [];
  const linesOnDisk = (): number => (fs.existsSync(tools) ? fs.readFileSync(tools, "utf8").split("\n").length - 1 : 0);
  let syncsInLogCalls = 0;
  let inLogCall = false;
  (fs as { fdatasyncSync: typeof fs.fdatasyncSync }).fdatasyncSync = (fd: number) => {
    if (inLogCall) syncsInLogCalls++;
    realSync(fd);
  };
  (fs as { fdatasync: typeof fs.fdatasync }).fdatasync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) =>
    realAsync(fd, (err) => {
      if (!err) events.push({ what: "synced", lines: linesOnDisk() });
      cb(err);
    })) as typeof fs.fdatasync;
  logger.on("checkpoint", (c: Checkpoint) => events.push({ what: "checkpoint", seq: c.checkpoint.heads.tool_usage!.seq, reason: c.checkpoint.reason }));

  for (let i = 0; i < 12; i++) {
    inLogCall = true;
    logger.logToolUsage({ toolName: "t", operation: `op ${i}` });
    inLogCall = false;
  }
  // (the log calls above ran in one go: the checkpoint due at the 5th and the 10th waits for the commit)
  expect(syncsInLogCalls).toBe(0);
  expect(events.filter((e) => e.what === "checkpoint")).toEqual([]);
  await logger.flush();
  for (let i = 0; i < 5 && !events.some((e) => e.what === "checkpoint"); i++) await new Promise((r) => setImmediate(r));

  const checkpoints = events.flatMap((e, i) => (e.what === "checkpoint" ? [{ ...e, i }] : []));
  expect(checkpoints.map((c) => c.reason)).toEqual(["records"]);
  const cp = checkpoints[0]!;
  // it covers the records logged, and a sync that returned before it had them on disk
  expect(cp.seq).toBe(12);
  expect(events.slice(0, cp.i).some((e) => e.what === "synced" && e.lines >= cp.seq)).toBe(true);

  // and the next one is due 5 records after what it covered
  for (let i = 0; i < 4; i++) logger.logToolUsage({ toolName: "t", operation: `more ${i}` });
  await logger.flush();
  expect(events.filter((e) => e.what === "checkpoint").length).toBe(1);
  logger.logToolUsage({ toolName: "t", operation: "fifth" });
  await logger.flush();
  for (let i = 0; i < 5 && events.filter((e) => e.what === "checkpoint").length < 2; i++) await new Promise((r) => setImmediate(r));
  expect(events.filter((e) => e.what === "checkpoint").map((e) => (e.what === "checkpoint" ? e.seq : 0))).toEqual([12, 17]);
  expect(syncsInLogCalls).toBe(0);

  await logger.finalizeSession();
  expect(errors).toEqual([]);
  const report = await verifyAuditLog(logger.auditDir, { sessionId: "cpf" });
  expect(report.problems).toEqual([]);
});

it("fsync: a periodic checkpoint's own fdatasync runs on the thread pool; the event loop turns meanwhile, and flush() and the checkpoint event wait for it", async () => {
  const projectPath = tmpProject("audit-cp-fsync-held-");
  const logger = new AuditLogger({ sessionId: "cph", projectPath, durability: "fsync", fullContentLogging: false, signingKey: generateKeyPairSync("ed25519").privateKey, checkpointEvery: { records: 5 } });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  await logger.flush();
  const cpFile = path.join(logger.auditDir, "checkpoints_cph.jsonl");
  const isCheckpoints = (fd: number): boolean => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === cpFile;
    } catch {
      return false;
    }
  };
  // the checkpoints file's fdatasync: made on the app's thread (counted), or on the thread pool
  // (held until released below)
  let appThreadSyncs = 0;
  const held: Array<() => void> = [];
  (fs as { fdatasyncSync: typeof fs.fdatasyncSync }).fdatasyncSync = (fd: number) => {
    if (isCheckpoints(fd)) appThreadSyncs++;
    realSync(fd);
  };
  (fs as { fdatasync: typeof fs.fdatasync }).fdatasync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
    if (isCheckpoints(fd)) held.push(() => realAsync(fd, cb));
    else realAsync(fd, cb);
  }) as typeof fs.fdatasync;
  const events: number[] = [];
  logger.on("checkpoint", (c: Checkpoint) => events.push(c.checkpoint.n));

  for (let i = 0; i < 6; i++) logger.logToolUsage({ toolName: "t", operation: `op ${i}` });
  let flushed = false;
  const flushing = logger.flush().then(() => {
    flushed = true;
  });
  // (the commit's own fdatasync of the records first: waited for, 10 s at most)
  for (let i = 0; i < 1000 && held.length === 0 && !flushed; i++) await new Promise((r) => setTimeout(r, 10));
  expect(appThreadSyncs).toBe(0);
  expect(held.length).toBe(1);
  // its line is in the file already (a process killed now keeps it)
  expect(fs.readFileSync(cpFile, "utf8").trim().split("\n").length).toBe(1);
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
  // the event loop turns while the checkpoint's sync is held, and the app logs on meanwhile;
  // neither the event nor the flush() come before the sync returns
  logger.logToolUsage({ toolName: "t", operation: "meanwhile" });
  expect(events).toEqual([]);
  expect(flushed).toBe(false);

  held.shift()!();
  await flushing;
  expect(events).toEqual([1]);
  await logger.finalizeSession();
  expect(appThreadSyncs).toBe(1); // (finalize's checkpoint, on the app's thread as documented)
  expect(errors).toEqual([]);
  const report = await verifyAuditLog(logger.auditDir, { sessionId: "cph" });
  expect(report.problems).toEqual([]);
});
