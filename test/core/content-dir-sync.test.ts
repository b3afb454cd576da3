// In `fsync` mode flush() resolves once the records are on stable storage, the content files of
// the chats logged before it included. A file's fdatasync does not carry its name: until
// `full_interactions/`'s entries reach the disk, a machine that loses power finds records whose
// content files have no name (content_missing), though flush() said they were durable. Nothing
// synced that directory until 2026-12-06 (found by the durability review); it is now fsync'ed by
// the group commit, once for every content file made since, before flush() resolves.
//
// The content-writer thread creates the files in a worker: its calls are seen with strace (in
// a child process, every thread traced), in the order the kernel ran them. Where that thread
// cannot run (the thread pool writes the files), and on the app's thread, the fs calls are
// watched in this process (test/helpers/fs-watch.ts), as for the audit directory.
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { stopContentThread } from "../../src/sink/content-thread.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, underStrace } from "../helpers/core.js";
import { watchDirectory } from "../helpers/fs-watch.js";

afterEach(cleanupTmp);

it("fsync mode, the content-writer thread: full_interactions/ is fsync'ed after the content files are created and before flush() resolves, once per batch", () => {
  const projectPath = tmpProject();
  const chats = 20;
  const { result: r, lines } = underStrace("content-dir-sync-child.mts", "openat,fsync,write", projectPath, [String(chats)], ["-y"]);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toBe("logging\nflushed\n");
  const contentDir = path.join(fs.realpathSync(auditDirOf(projectPath)), "full_interactions");
  const logging = lines.findIndex((l) => /\bwrite\(1(<[^>]*>)?, "logging\\n"/.test(l));
  const flushed = lines.findIndex((l) => /\bwrite\(1(<[^>]*>)?, "flushed\\n"/.test(l));
  expect(logging, "no 'logging' write in the trace").toBeGreaterThan(0);
  expect(flushed).toBeGreaterThan(logging);
  const window = lines.slice(logging, flushed);
  const created = window.map((l, i) => (l.includes(`"${contentDir}/`) && l.includes("O_CREAT") ? i : -1)).filter((i) => i >= 0);
  const dirSyncs = window.map((l, i) => (new RegExp(`\\bfsync\\(\\d+<${contentDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}>`).test(l) ? i : -1)).filter((i) => i >= 0);
  // every chat's three files were created (on the content-writer thread) in the window
  expect(created.length).toBe(3 * chats);
  // the directory synced after the last of them, before flush() resolved
  expect(dirSyncs.some((i) => i > Math.max(...created)), window.filter((l) => /fsync|O_CREAT/.test(l)).join("\n")).toBe(true);
  // once per batch of new names, not per file (60 names here)
  expect(dirSyncs.length).toBeLessThan(chats);
}, 90_000);

it("fsync mode, the thread pool (the content-writer thread gone): full_interactions/ is fsync'ed after the content files are created and before flush() resolves", async () => {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId: "pool_names", projectPath, durability: "fsync" });
  // (the thread started by a first chat, then gone: every later write goes through the pool)
  logger.logChatInteraction({ model: "m", prompt: "first", response: "first" });
  await logger.flush();
  await stopContentThread();
  const dir = path.resolve(auditDirOf(projectPath), "full_interactions");
  const seen: string[] = [];
  const restore = watchDirectory(dir, seen);
  try {
    for (let i = 0; i < 10; i++) logger.logChatInteraction({ model: "m", prompt: `question ${i}`, response: `answer ${i}` });
    await logger.flush();
    seen.push("flush resolved");
  } finally {
    restore();
  }
  const last = seen.findLastIndex((s) => s.startsWith("create "));
  expect(seen.filter((s) => s.startsWith("create ")).length, seen.join("\n")).toBe(30);
  expect(seen.slice(last + 1, seen.indexOf("flush resolved")), seen.join("\n")).toContain("fsync directory");
  expect(seen.filter((s) => s === "fsync directory").length, seen.join("\n")).toBeLessThan(10);
  await logger.finalizeSession();
});

it("fsync mode, content written on the app's thread (the exit hook's write of what was in flight): full_interactions/ is fsync'ed before the record lines are synced", () => {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId: "exit_names", projectPath, durability: "fsync" });
  const dir = path.resolve(auditDirOf(projectPath), "full_interactions");
  const seen: string[] = [];
  const restore = watchDirectory(dir, seen);
  try {
    logger.logChatInteraction({ model: "m", prompt: "question", response: "answer" });
    // (as the process's exit: the content files in flight written here, synchronously)
    logger.flushSyncOnExit();
    seen.push("exit flush done");
  } finally {
    restore();
  }
  const last = seen.findLastIndex((s) => s.startsWith("create "));
  expect(last, seen.join("\n")).toBeGreaterThanOrEqual(0);
  expect(seen.slice(last + 1, seen.indexOf("exit flush done")), seen.join("\n")).toContain("fsync directory");
});
