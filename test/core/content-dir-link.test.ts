// The content directory (`<auditDir>/full_interactions`) a symbolic link to a directory outside
// the audit directory (found by a security pass, 2026-12-05). The content files' names are built
// from interaction ids and checked as text (safeJoin), and each file is created exclusively (no
// link under its own name is followed); but the directory they are created in was followed: the
// logger wrote every prompt and response (in clear without encryption) into the directory the link
// named, silently, and the readers, which never read through such a link, had no content for them.
// Now the logger refuses such a directory when it starts, and every write of content files checks
// it first (on the content-writer thread, in the thread pool's write and in the synchronous one).
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, cleanupSessions } from "../../src/index.js";
import { prepareContent, writeContentSync } from "../../src/sink/content.js";
import { writeInThreadPool } from "../../src/sink/content-thread.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";

afterEach(cleanupTmp);

/** A project and a directory outside it; `linked`: the audit directory's content directory is a link to that one. */
function project(linked: boolean): { projectPath: string; dir: string; contentDir: string; outside: string } {
  const projectPath = tmpProject("audit-contentdir-");
  const outside = tmpProject("audit-contentdir-outside-");
  const dir = path.join(projectPath, "audit_logs");
  fs.mkdirSync(dir);
  const contentDir = path.join(dir, "full_interactions");
  if (linked) fs.symlinkSync(outside, contentDir);
  return { projectPath, dir, contentDir, outside };
}

describe("a content directory that is a symbolic link", () => {
  it.each([false, true])("when the logger starts: refused with AUDIT_ERR_PATH naming it (thread: %s); nothing is written through it", (thread) => {
    const { projectPath, outside } = project(true);
    expect(() => new AuditLogger({ sessionId: "cs", projectPath, thread })).toThrow(
      expect.objectContaining({ code: "AUDIT_ERR_PATH", message: expect.stringContaining("full_interactions is a symbolic link") }),
    );
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it.each([
    ["async", false],
    ["sync", false],
    ["fsync", false],
    ["async", true],
  ] as const)("put there while the logger runs (durability %s, thread: %s): no content file is written through it, the failure is reported naming it", async (durability, thread) => {
    const { projectPath, dir, contentDir, outside } = project(false);
    const logger = new AuditLogger({ sessionId: "cr", projectPath, durability, thread });
    const errors: string[] = [];
    logger.on("error", (e) => errors.push(e.message));
    logger.logChatInteraction({ prompt: "before", response: "r", model: "m", provider: "p" });
    await logger.flush();
    fs.rmSync(contentDir, { recursive: true });
    fs.symlinkSync(outside, contentDir);
    try {
      logger.logChatInteraction({ prompt: "the secret prompt", response: "r", model: "m", provider: "p" });
    } catch (err) {
      errors.push((err as Error).message);
    }
    await logger.finalizeSession().catch((err: Error) => errors.push(err.message));
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(errors.join("\n")).toContain("full_interactions is a symbolic link");
    // (the record says what happened: an errors record)
    const recorded = readJsonl<{ message: string }>(path.join(dir, "errors_cr.jsonl")).map((r) => r.message);
    expect(recorded.join("\n")).toContain("full_interactions is a symbolic link");
  }, 30_000);

  it("the writes themselves refuse it: the synchronous write and the thread pool's", async () => {
    const { dir, outside } = project(true);
    const content = prepareContent("01TESTCONTENTDIRLINK0000000", "prompt", "response", undefined);
    const manifest = { interactionId: "01TESTCONTENTDIRLINK0000000", sessionId: "s", recordHash: "0".repeat(64), encrypted: false, createdAt: new Date().toISOString() };
    expect(() => writeContentSync(dir, content, manifest, 0o600, "async")).toThrow(expect.objectContaining({ code: "AUDIT_ERR_PATH", message: expect.stringContaining("full_interactions is a symbolic link") }));
    await expect(writeInThreadPool([[path.join(dir, content.refs.prompt.file), content.prompt]], 0o600, false)).rejects.toMatchObject({ code: "AUDIT_ERR_PATH" });
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it("cleanup removes no file through it: a session's content files are looked for in the audit directory only", async () => {
    const { projectPath, dir, contentDir, outside } = project(false);
    const logger = new AuditLogger({ sessionId: "old", projectPath });
    logger.logChatInteraction({ prompt: "p", response: "r", model: "m", provider: "p" });
    await logger.finalizeSession();
    // its content directory moved out and linked back in (as an old version's logger wrote through such a link)
    const names = fs.readdirSync(contentDir);
    expect(names).toHaveLength(3);
    for (const n of names) fs.renameSync(path.join(contentDir, n), path.join(outside, n));
    fs.rmdirSync(contentDir);
    fs.symlinkSync(outside, contentDir);
    const r = cleanupSessions(dir, { maxLogAgeDays: 30, now: Date.now() + 400 * 86_400_000 });
    expect(r.removed.map((x) => x.sessionId)).toEqual(["old"]);
    expect(fs.readdirSync(outside).sort()).toEqual([...names].sort());
  });
});
