/**
 * The full-content files' writers: the content-writer thread (`writeContent`; the thread pool
 * where that thread cannot run, `writeContentInThreadPool`) and the exit hook's
 * synchronous write (`writeContentSync`) of the same files when the process exits with the
 * first under way. crash.test.ts exercises the exit itself in a child process; this pins the
 * order that made it fail about once in six runs: the thread pool's `open` landing after the
 * exit hook's write, truncating a file the process then exits with empty.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import util from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, PresetConfigs, verifyAuditLog } from "../../src/index.js";
import { prepareContent, writeContent, writeContentInThreadPool, writeContentSync } from "../../src/sink/content.js";
import { stopContentThread } from "../../src/sink/content-thread.js";
import { auditDirOf, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";

const dirs: string[] = [];
const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "content-files-"));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, "full_interactions"));
  const content = prepareContent("01TESTCONTENT0000000000000", "the prompt ".repeat(100), "the response ".repeat(100), undefined);
  const manifest = { interactionId: "01TESTCONTENT0000000000000", sessionId: "s", recordHash: "a".repeat(64), encrypted: false, createdAt: "2026-12-02T00:00:00.000Z" };
  const files = [content.refs.prompt.file, content.refs.response.file, content.refs.manifest].map((f) => path.join(dir, f));
  return { dir, content, manifest, files };
}

describe("full-content files: the exit hook's write and the thread pool's", () => {
  it("a thread-pool write that starts after the exit hook wrote the files leaves them intact (refused as existing)", async () => {
    const { dir, content, manifest, files } = setup();
    writeContentSync(dir, content, manifest, 0o600, "async");
    const written = files.map((f) => fs.readFileSync(f));
    expect(written.every((b) => b.length > 0)).toBe(true);
    await expect(writeContent(dir, content, manifest, 0o600, "async")).rejects.toMatchObject({ code: "EEXIST" });
    expect(files.map((f) => fs.readFileSync(f))).toEqual(written);
  });

  it("the usual case: the thread pool writes the same bytes the exit hook would", async () => {
    const a = setup();
    const b = setup();
    await writeContent(a.dir, a.content, a.manifest, 0o600, "async");
    writeContentSync(b.dir, b.content, b.manifest, 0o600, "async");
    expect(a.files.map((f) => fs.readFileSync(f))).toEqual(b.files.map((f) => fs.readFileSync(f)));
  });

  it("a logger whose exit hook ran while the process lives on (the app handles SIGTERM itself) reports no failure for the writes it took over, and the log verifies", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "content-files-"));
    dirs.push(dir);
    const logger = new AuditLogger(PresetConfigs.development("took_over", dir));
    const errors: Error[] = [];
    logger.on("error", (e) => errors.push(e));
    // the thread pool busy first, so its content writes come after the hook's (the order to test)
    const busy = Array.from({ length: Math.max(8, Number(process.env.UV_THREADPOOL_SIZE ?? 4)) }, () => util.promisify(crypto.pbkdf2)("p", "s", 200_000, 32, "sha256"));
    for (let i = 0; i < 5; i++) logger.logChatInteraction({ model: "m", prompt: `question ${i} `.repeat(50), response: `answer ${i} `.repeat(50), success: true });
    logger.flushSyncOnExit(); // what the SIGINT/SIGTERM hook does before the app's own handler runs
    await Promise.all(busy);
    await logger.flush(); // waits for the thread-pool writes it raced with
    expect(errors.map((e) => e.message)).toEqual([]);
    const report = await verifyAuditLog(logger.auditDir);
    expect(report.problems).toEqual([]);
    expect(fs.readdirSync(path.join(logger.auditDir, "full_interactions")).filter((f) => f.startsWith("manifest_"))).toHaveLength(5);
    await logger.finalizeSession();
  });

  it("the thread-pool fallback (where the content-writer thread cannot run) writes the same bytes, and refuses files that exist", async () => {
    const a = setup();
    const b = setup();
    await writeContentInThreadPool(a.dir, a.content, a.manifest, 0o600, "fsync");
    writeContentSync(b.dir, b.content, b.manifest, 0o600, "async");
    expect(a.files.map((f) => fs.readFileSync(f))).toEqual(b.files.map((f) => fs.readFileSync(f)));
    await expect(writeContentInThreadPool(a.dir, a.content, a.manifest, 0o600, "async")).rejects.toMatchObject({ code: "EEXIST" });
    expect(a.files.map((f) => fs.readFileSync(f))).toEqual(b.files.map((f) => fs.readFileSync(f)));
  });

  it("the content-writer thread creates each file with the mode asked for, in fsync mode too, and a path outside the audit directory starts no write", async () => {
    const { dir, content, manifest, files } = setup();
    await writeContent(dir, content, manifest, 0o640, "fsync");
    for (const f of files) expect(fs.statSync(f).mode & 0o777).toBe(0o640 & ~process.umask());
    const bad = { ...content, refs: { ...content.refs, manifest: "../../escape.json" } };
    await expect(writeContent(dir, bad, manifest, 0o600, "async")).rejects.toThrow();
    expect(fs.existsSync(path.join(dir, "..", "..", "escape.json"))).toBe(false);
  });

  it("a process that wrote full content and has nothing left to do ends by itself, every content file on disk", async () => {
    const projectPath = fs.mkdtempSync(path.join(os.tmpdir(), "content-files-"));
    dirs.push(projectPath);
    const h = startFixture("child-logger.ts", { CORE_PROJECT: projectPath, CORE_SESSION: "content_end", CORE_MODE: "content-end", CORE_DURABILITY: "async", CORE_COUNT: "20" });
    children.push(h);
    const exit = await Promise.race([h.exited, new Promise<"still running">((r) => setTimeout(() => r("still running"), 20_000))]);
    expect(exit).not.toBe("still running");
    if (exit === "still running") return;
    expect(exit.code, exit.stderr).toBe(0);
    expect(h.lines).toContain("flushed");
    const ids = h.lines.filter((l) => l.startsWith("chat_interaction ")).map((l) => l.split(" ")[1]);
    expect(ids).toHaveLength(20);
    const names = fs.readdirSync(path.join(auditDirOf(projectPath), "full_interactions"));
    for (const id of ids) for (const kind of ["prompt", "response", "manifest"]) expect(names.some((n) => n.startsWith(`${kind}_${id}`))).toBe(true);
  }, 30_000);

  // (last in this file: the content writer stays stopped for the rest of the file's process)
  it("when the content-writer thread dies, no interaction's content is lost silently: each is on disk or reported, and later ones go through the thread pool", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "content-files-"));
    dirs.push(dir);
    const logger = new AuditLogger(PresetConfigs.development("writer_dies", dir));
    const errors: Error[] = [];
    logger.on("error", (e) => errors.push(e));
    const before = logger.logChatInteraction({ model: "m", prompt: "before", response: "answer", success: true });
    await logger.flush(); // the thread is running and wrote it
    const during = [0, 1, 2].map((i) => logger.logChatInteraction({ model: "m", prompt: `during ${i}`, response: "answer", success: true }));
    await stopContentThread(); // dies with these queued or under way
    await logger.flush();
    const after = [0, 1].map((i) => logger.logChatInteraction({ model: "m", prompt: `after ${i}`, response: "answer", success: true }));
    await logger.flush();
    const names = fs.readdirSync(path.join(logger.auditDir, "full_interactions"));
    const written = (id: string) => ["prompt", "response", "manifest"].every((k) => names.some((n) => n.startsWith(`${k}_${id}`)));
    expect(written(before)).toBe(true);
    for (const id of during) expect(written(id) || errors.some((e) => e.message.includes(id))).toBe(true);
    for (const id of after) expect(written(id)).toBe(true);
    const reported = during.filter((id) => !written(id));
    expect(errors.filter((e) => /content-writer thread/.test(e.message))).toHaveLength(reported.length);
    const report = await verifyAuditLog(logger.auditDir);
    // what was reported is missing content, and only that
    expect(report.problems.filter((p) => p.kind !== "content_missing" || !reported.some((id) => p.detail.includes(id)))).toEqual([]);
    for (const id of reported) expect(report.problems.some((p) => p.detail.includes(id))).toBe(true);
    await logger.finalizeSession();
  });
});
