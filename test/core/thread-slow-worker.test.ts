// thread: true with a worker that cannot keep up for a while (here: a cleanup waiting for the legal
// holds lock another thread holds): a log call waits for it at most once, is reported once, and
// the calls after that go on without waiting again until the worker has caught up (each send past
// the limit waited up to 5 s more; found by review, 2026-12-04).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { kindPath } from "../helpers/core.js";

afterEach(cleanupTmp);

it("after the one report that the worker is behind, log calls do not wait again while it stays behind", async () => {
  const projectPath = tmpProject();
  // an old session for the cleanup to remove: its removal waits for the holds lock
  const old = new AuditLogger({ sessionId: "old_one", projectPath });
  old.logToolUsage({ toolName: "t", operation: "o" });
  await old.finalizeSession();
  const logger = new AuditLogger({ sessionId: "busy", projectPath, thread: true });
  const errors: Error[] = [];
  logger.on("error", (e) => errors.push(e));
  const lock = path.join(projectPath, "audit_logs", "legal_holds.json.lock");
  // held by this process's main thread (a live holder the worker never takes over)
  fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, threadId: 0, hostname: os.hostname(), startedAt: new Date().toISOString() }));
  try {
    // (posted before any batch, and the worker handles its messages in order: every batch waits
    // behind the cleanup, which waits 10 s for the holds lock and then fails)
    const cleaning = logger.cleanup({ maxLogAgeDays: 1, now: Date.now() + 5 * 86_400_000 }).catch((e: unknown) => e);
    const file = kindPath(projectPath, "tool_usage", "busy");
    const written = () => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0);
    const t0 = Date.now();
    let reportedAt = 0;
    for (let i = 0; i < 8 * 1024; i++) {
      logger.logToolUsage({ toolName: "t", operation: "o", parameters: { i } });
      if (reportedAt === 0 && errors.some((e) => /records behind/.test(e.message))) reportedAt = Date.now();
    }
    // Read as the loop ends: the worker has written none of these records yet (it is still in the
    // cleanup, ~5 s into its 10 s). A call that waited again after the report would have waited
    // until the worker caught up (written all but 1024 of what was sent) or 5 s more (a second
    // report). No bound in milliseconds: the calls after the report take ~10 ms (load 8), and
    // the worker's 10 s leave them ~5 s.
    const writtenWhenDone = written();
    expect(reportedAt).toBeGreaterThan(0);
    expect(reportedAt - t0).toBeGreaterThanOrEqual(4000); // it did wait, once
    expect(writtenWhenDone).toBe(0); // and not again
    expect(errors.filter((e) => /records behind/.test(e.message))).toHaveLength(1);
    fs.rmSync(lock, { force: true });
    await cleaning;
  } finally {
    fs.rmSync(lock, { force: true });
  }
  await logger.finalizeSession();
}, 60_000);
