/**
 * The full-content files' two writers: the thread pool (`writeContent`) and the exit hook's
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
import { prepareContent, writeContent, writeContentSync } from "../../src/sink/content.js";

const dirs: string[] = [];
afterEach(() => {
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
});
