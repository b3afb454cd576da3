import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger, RECORD_KINDS, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, kindPath, readKind } from "../helpers/core.js";

afterEach(cleanupTmp);

/** Number of newline-terminated lines in a file, read synchronously. */
function linesNow(file: string): number {
  const b = fs.readFileSync(file);
  let n = 0;
  for (const byte of b) if (byte === 0x0a) n++;
  return n;
}

describe("sync durability", () => {
  it("each record (and a chat's content files) is in the file when its log call returns", async () => {
    const projectPath = tmpProject();
    const sid = "dur_sync";
    const logger = new AuditLogger({ sessionId: sid, projectPath, durability: "sync", flushIntervalMs: 60_000 });
    const dir = auditDirOf(projectPath);
    for (let i = 1; i <= 20; i++) {
      const id = logger.logChatInteraction({ prompt: `p${i}`, response: `r${i}` });
      // no await between the call and the read
      const text = fs.readFileSync(kindPath(projectPath, "chat_interaction", sid), "utf8");
      expect(text.endsWith("\n")).toBe(true);
      expect(linesNow(kindPath(projectPath, "chat_interaction", sid))).toBe(i);
      expect(text).toContain(`"id":"${id}"`);
      expect(fs.readFileSync(path.join(dir, "full_interactions", `prompt_${id}.txt`), "utf8")).toBe(`p${i}`);
      expect(fs.existsSync(path.join(dir, "full_interactions", `manifest_${id}.json`))).toBe(true);
      logger.logError({ errorType: "E", message: String(i) });
      expect(linesNow(kindPath(projectPath, "error", sid))).toBe(i);
    }
    await logger.finalizeSession();
  });
});

describe("fsync durability", () => {
  it("flush() resolves with everything logged before it on disk, content files included", async () => {
    const projectPath = tmpProject();
    const sid = "dur_fsync";
    const logger = new AuditLogger({ sessionId: sid, projectPath, durability: "fsync" });
    const ids = [];
    for (let i = 0; i < 50; i++) ids.push(logger.logChatInteraction({ prompt: `prompt ${i}`, response: `response ${i}` }));
    for (let i = 0; i < 50; i++) logger.logToolUsage({ toolName: "t", operation: "o", parameters: { i } });
    await logger.flush();
    expect(linesNow(kindPath(projectPath, "chat_interaction", sid))).toBe(50);
    expect(linesNow(kindPath(projectPath, "tool_usage", sid))).toBe(50);
    for (const id of ids) {
      const m = JSON.parse(fs.readFileSync(path.join(auditDirOf(projectPath), "full_interactions", `manifest_${id}.json`), "utf8")) as { interactionId: string };
      expect(m.interactionId).toBe(id);
    }
    const report = await verifyAuditLog(auditDirOf(projectPath), { sessionId: sid });
    expect(report.problems).toEqual([]);
    await logger.finalizeSession();
  });
});

describe("every mode", () => {
  for (const durability of ["async", "sync", "fsync"] as const) {
    it(`${durability}: many concurrent flush() calls all resolve, each after the records logged before it are written`, async () => {
      const projectPath = tmpProject();
      const sid = `dur_many_${durability}`;
      const logger = new AuditLogger({ sessionId: sid, projectPath, durability, flushIntervalMs: 60_000 });
      const file = kindPath(projectPath, "performance_metric", sid);
      const checks: Promise<void>[] = [];
      let logged = 0;
      for (let round = 0; round < 100; round++) {
        for (let k = 0; k < 5; k++) {
          logger.logPerformanceMetric({ metricName: "m", value: logged++, unit: "u" });
        }
        const expected = logged;
        checks.push(logger.flush().then(() => expect(linesNow(file)).toBeGreaterThanOrEqual(expected)));
        if (round % 10 === 0) await Promise.resolve();
      }
      await Promise.all(checks);
      expect(linesNow(file)).toBe(500);
      await logger.finalizeSession();
      expect(readKind(projectPath, "performance_metric", sid).map((r) => r.value)).toEqual(Array.from({ length: 500 }, (_x, i) => i));
    });
  }

  it("async: after flush() all lines are present in every kind's file", async () => {
    const projectPath = tmpProject();
    const sid = "dur_async";
    const logger = new AuditLogger({ sessionId: sid, projectPath, durability: "async", flushIntervalMs: 60_000 });
    for (let i = 0; i < 30; i++) {
      logger.logChatInteraction({ prompt: "p" });
      logger.logPersonaActivity({ personaName: "p", activityType: "a" });
      logger.logToolUsage({ toolName: "t", operation: "o" });
      logger.logFileOperation({ operation: "read", filePath: "/x" });
      logger.logPerformanceMetric({ metricName: "m", value: i, unit: "u" });
      logger.logError({ errorType: "E", message: "m" });
    }
    await logger.flush();
    for (const kind of RECORD_KINDS) expect(linesNow(kindPath(projectPath, kind, sid)), kind).toBe(30);
    await logger.finalizeSession();
  });

  it("async: the interval flush writes without an explicit flush()", async () => {
    const projectPath = tmpProject();
    const sid = "dur_interval";
    const logger = new AuditLogger({ sessionId: sid, projectPath, durability: "async", flushIntervalMs: 20 });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await vi.waitFor(() => expect(linesNow(kindPath(projectPath, "tool_usage", sid))).toBe(1), { timeout: 10_000, interval: 10 });
    await logger.finalizeSession();
  });

  it("async: a full batch buffer (128 KiB) is handed to the thread pool without waiting for the interval, and written", async () => {
    const projectPath = tmpProject();
    const sid = "dur_highwater";
    const logger = new AuditLogger({ sessionId: sid, projectPath, durability: "async", flushIntervalMs: 60_000 });
    const file = kindPath(projectPath, "tool_usage", sid);
    for (let i = 0; i < 200; i++) logger.logToolUsage({ toolName: "t", operation: "o", parameters: { pad: "x".repeat(1000) } });
    // ~230 KB logged: the buffer filled once and went to the thread pool, which writes it while
    // the interval (a minute) is far away; the rest waits in memory
    await vi.waitFor(() => expect(linesNow(file)).toBeGreaterThan(50), { timeout: 10_000, interval: 5 });
    expect(linesNow(file)).toBeLessThan(200);
    await logger.finalizeSession();
    expect(linesNow(file)).toBe(200);
  });

  it("async: batches past 256 KiB that the thread pool has not written yet are written on the app's thread (bounded memory)", async () => {
    const projectPath = tmpProject();
    const sid = "dur_backpressure";
    const logger = new AuditLogger({ sessionId: sid, projectPath, durability: "async", flushIntervalMs: 60_000 });
    const file = kindPath(projectPath, "tool_usage", sid);
    // ~1.2 MB in one synchronous loop: the thread pool gets one batch (~110 lines) and no second
    // before its answer, which cannot arrive before the loop ends: the rest on disk by then was
    // written by the loop itself
    for (let i = 0; i < 1000; i++) logger.logToolUsage({ toolName: "t", operation: "o", parameters: { pad: "x".repeat(1000) } });
    expect(linesNow(file)).toBeGreaterThan(500);
    await logger.finalizeSession();
    expect(linesNow(file)).toBe(1000);
    expect((await verifyAuditLog(auditDirOf(projectPath))).problems).toEqual([]);
  });

  it("finalizeSession() flushes everything in async mode", async () => {
    const projectPath = tmpProject();
    const sid = "dur_final";
    const logger = new AuditLogger({ sessionId: sid, projectPath, durability: "async", flushIntervalMs: 60_000 });
    for (let i = 0; i < 10; i++) logger.logChatInteraction({ prompt: `p${i}`, response: "r" });
    await logger.finalizeSession();
    expect(readKind(projectPath, "chat_interaction", sid)).toHaveLength(10);
    expect((await verifyAuditLog(auditDirOf(projectPath))).ok).toBe(true);
  });
});

describe("flush() under steady chat traffic with full content (found by the durability operator pass, 2026-12-05)", () => {
  for (const [durability, thread] of [["async", false], ["fsync", false], ["async", true]] as const) {
    it(`${durability}${thread ? ", thread: true" : ""}: resolves once the content files of the chats logged before it are written, while chats keep coming (it waited for every later chat's files too, and never resolved until the traffic stopped)`, async () => {
      const projectPath = tmpProject();
      const sid = `flush_busy_${durability}${thread ? "_thread" : ""}`;
      const logger = new AuditLogger({ sessionId: sid, projectPath, durability, fullContentLogging: true, ...(thread ? { thread: true } : {}) });
      const before = logger.logChatInteraction({ prompt: "before the flush", response: "r" });
      let resolvedWhileLogging = false;
      let logging = true;
      const flushed = logger.flush().then(() => {
        resolvedWhileLogging = logging;
      });
      let settled = false;
      void flushed.finally(() => (settled = true));
      // chats keep coming, faster than their files are written (fdatasync'ed in fsync mode), until
      // the flush settles. The 20 s are for a flush that does not resolve while they come (the
      // bug: it then resolves once they stop, and the check below fails), not for load: they were
      // 4 s, which a loaded machine's flush took (5.8 s with `thread: true` under load 25 on 2
      // cores, 2026-12-06), and a flush slower than that would have failed as the bug did
      let n = 0;
      const until = performance.now() + 20_000;
      while (!settled && performance.now() < until) {
        for (let k = 0; k < (durability === "fsync" ? 10 : 40); k++) logger.logChatInteraction({ prompt: `prompt ${n++}`, response: "r" });
        await new Promise((r) => setImmediate(r));
      }
      logging = false;
      await flushed;
      expect(resolvedWhileLogging).toBe(true);
      // the files of the chat logged before the call were on disk when it resolved
      expect(fs.existsSync(path.join(auditDirOf(projectPath), "full_interactions", `manifest_${before}.json`))).toBe(true);
      await logger.finalizeSession();
      expect(readKind(projectPath, "chat_interaction", sid)).toHaveLength(n + 1);
      const report = await verifyAuditLog(auditDirOf(projectPath), { sessionId: sid });
      expect(report.problems).toEqual([]);
      // The work is the chats logged until the flush settles, written and then verified: 2,000 to
      // 3,000 with `thread: true` (the app's thread gets up to 2,048 records ahead of the worker,
      // src/thread/link.ts MAX_IN_FLIGHT, and reads the flush's answer once it waits no more).
      // Under load 25 on 2 cores the worker wrote ~80 chats a second and the test took ~40 s (past
      // its 30 s then): the timeout is for that work, not a bound on it.
    }, 120_000);
  }
});

describe("fsync durability when fdatasync fails (EIO injected at the fs.fdatasync call; a real disk cannot be made to fail here)", () => {
  it("the commit's flush() rejects, a flush() that arrived meanwhile settles at once, and the failed file is synced again", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "eio", projectPath, durability: "fsync", autoCleanup: false });
    const events: string[] = [];
    logger.on("error", (e) => events.push((e as { code?: string }).code ?? "?"));
    const real = fs.fdatasync;
    const synced: number[] = [];
    // the first fdatasync fails when the test says so (not after a fixed time, which a loaded
    // machine could reach before the second flush() was made)
    let failFirst: (() => void) | undefined;
    const fake = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => {
      synced.push(fd);
      if (synced.length === 1) failFirst = () => cb(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
      else real(fd, cb);
    };
    fs.fdatasync = fake as typeof fs.fdatasync;
    try {
      logger.logToolUsage({ toolName: "t", operation: "o" });
      const first = logger.flush().then(() => "resolved", (e: Error & { code?: string }) => `rejected ${e.code}`);
      // the first commit is waiting on its fdatasync
      for (let i = 0; i < 3000 && failFirst === undefined; i++) await new Promise((r) => setTimeout(r, 5));
      expect(failFirst).toBeDefined();
      const toolFd = synced[0]!;
      let secondOutcome: string | undefined;
      const second = logger.flush().then(
        () => (secondOutcome = "resolved"),
        (e: Error & { code?: string }) => (secondOutcome = `rejected ${e.code}`),
      );
      failFirst!();
      expect(await first).toBe("rejected AUDIT_ERR_IO");
      // the commit for the flush() that arrived meanwhile starts in this same turn of the event
      // loop (a setImmediate), not after the backoff (a timer, which runs in a later turn): by
      // the next check phase it has synced the failed file again
      await new Promise((r) => setImmediate(r));
      expect(synced.filter((fd) => fd === toolFd).length).toBeGreaterThanOrEqual(2);
      // and it settles (pending for good was the bug; 20 s is for that, not load)
      await Promise.race([second, new Promise((r) => setTimeout(r, 20_000).unref())]);
      expect(secondOutcome).toBe("resolved");
    } finally {
      fs.fdatasync = real;
    }
    await logger.finalizeSession();
    expect(readKind(projectPath, "tool_usage", "eio")).toHaveLength(1);
    expect(events).toContain("AUDIT_ERR_IO");
    // reported once, in the errors file too
    const failures = readKind(projectPath, "error", "eio").filter((r) => r.errorType === "audit_write_failed");
    expect(failures).toHaveLength(1);
    expect(String(failures[0]!.message)).toMatch(/^fdatasync of tool_usage_eio\.jsonl failed: EIO/);
  });
});
