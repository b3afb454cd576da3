// In `fsync` mode flush() resolves once the records are on stable storage. A file's fdatasync
// does not carry its name: until the directory's entry reaches the disk (ext4 commits it up to
// ~5 s later), a machine that loses power finds no chain file made at the session's start, the
// rotated segment under its old name and no active file, no checkpoints file, or no key store
// (its records unreadable), though flush() said they were durable (found by the durability
// review, 2026-12-06). The directory is now fsync'ed once after each such new name or rename,
// before the commit that follows resolves. What reaches the disk cannot be seen without cutting
// the power, so the calls are: fs's creates, links and directory fsyncs watched, around a real
// logger writing real files.
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";
import { watchDirectory } from "../helpers/fs-watch.js";

afterEach(cleanupTmp);

/** A directory fsync comes after the last event matching `made` and before `done`. */
function expectSyncedBetween(seen: string[], made: RegExp, done: string): void {
  const last = seen.findLastIndex((s) => made.test(s));
  const end = seen.indexOf(done);
  expect(last, seen.join("\n")).toBeGreaterThanOrEqual(0);
  expect(end, seen.join("\n")).toBeGreaterThan(last);
  expect(seen.slice(last + 1, end), seen.join("\n")).toContain("fsync directory");
}

it("the chain files a new session creates have their names synced before the first flush() resolves", async () => {
  const projectPath = tmpProject();
  const dir = path.resolve(auditDirOf(projectPath));
  fs.mkdirSync(dir, { recursive: true });
  const seen: string[] = [];
  const restore = watchDirectory(dir, seen);
  let logger: AuditLogger;
  try {
    logger = new AuditLogger({ sessionId: "first", projectPath, durability: "fsync", fullContentLogging: false });
    logger.logChatInteraction({ model: "m", prompt: "p", response: "r" });
    await logger.flush();
    seen.push("flush resolved");
  } finally {
    restore();
  }
  expectSyncedBetween(seen, /^create .*first.*\.jsonl$/, "flush resolved");
  await logger.finalizeSession();
});

/** After a first flush(), `act` runs under watch, then flush(): what was seen, ending "flush resolved". */
async function watchedFlush(logger: AuditLogger, projectPath: string, act: () => void): Promise<string[]> {
  logger.logChatInteraction({ model: "m", prompt: "p", response: "r" });
  await logger.flush();
  const seen: string[] = [];
  const restore = watchDirectory(path.resolve(auditDirOf(projectPath)), seen);
  try {
    act();
    await logger.flush();
    seen.push("flush resolved");
  } finally {
    restore();
  }
  return seen;
}

it("a rotation's new segment name and new active file are synced before the flush() after it resolves", async () => {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId: "rot", projectPath, durability: "fsync", fullContentLogging: false, rotation: { size: "1k" } });
  const seen = await watchedFlush(logger, projectPath, () => {
    for (let i = 0; i < 20; i++) logger.logChatInteraction({ model: "m", prompt: `question ${i} `.repeat(10), response: "r" });
  });
  expect(seen.some((s) => s.startsWith("link ")), seen.join("\n")).toBe(true);
  expectSyncedBetween(seen, /^(link|create) /, "flush resolved");
  // once per rotation, not per record
  expect(seen.filter((s) => s === "fsync directory").length, seen.join("\n")).toBeLessThanOrEqual(seen.filter((s) => /^(link|create) /.test(s)).length);
  await logger.finalizeSession();
});

it("the checkpoints file's name is synced, once it is created, before the commit that wrote it resolves flush()", async () => {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId: "cpd", projectPath, durability: "fsync", fullContentLogging: false, signingKey: generateKeyPairSync("ed25519").privateKey, checkpointEvery: { records: 5 } });
  const seen = await watchedFlush(logger, projectPath, () => {
    for (let i = 0; i < 5; i++) logger.logChatInteraction({ model: "m", prompt: "p", response: "r" });
  });
  expectSyncedBetween(seen, /^create .*checkpoint/, "flush resolved");
  await logger.finalizeSession();
});

it("a key store's name is synced when its first key is stored, before the record made with it is logged", async () => {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId: "ks", projectPath, durability: "fsync", encryptSensitiveContent: true, encryptionKey: TEST_KEY, fullContentLogging: false });
  const dir = path.resolve(auditDirOf(projectPath));
  const seen: string[] = [];
  const restore = watchDirectory(dir, seen);
  try {
    logger.logChatInteraction({ model: "m", prompt: "carol's question", response: "a", userId: "carol" });
    seen.push("logged");
  } finally {
    restore();
  }
  expectSyncedBetween(seen, /^create .*keys/, "logged");
  await logger.finalizeSession();
});
