import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditIOError, AuditLogger, RECORD_KINDS, type AuditSink, type SealedRecord } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { REPO_ROOT, auditDirOf, readKindLines } from "../helpers/core.js";
import { childArgs } from "../helpers/child-args.js";

afterEach(cleanupTmp);

/** A real AuditSink that keeps what it is given, and fails where told to. */
class MemorySink implements AuditSink {
  readonly records: SealedRecord[] = [];
  opened: { sessionId: string; auditDir: string } | undefined;
  flushes = 0;
  closed = false;
  constructor(private readonly fail: { write?: number; flush?: boolean | "stall"; close?: boolean | "stall" } = {}) {}
  open(info: { sessionId: string; auditDir: string }): void {
    this.opened = { sessionId: info.sessionId, auditDir: info.auditDir };
  }
  write(record: SealedRecord): void {
    this.records.push(record);
    if (this.fail.write === this.records.length) throw new Error("sink write failed");
  }
  async flush(): Promise<void> {
    this.flushes++;
    if (this.fail.flush === "stall") return new Promise<void>(() => {});
    if (this.fail.flush) throw new Error("sink flush failed");
  }
  async close(): Promise<void> {
    this.closed = true;
    if (this.fail.close === "stall") return new Promise<void>(() => {});
    if (this.fail.close) throw new Error("sink close failed");
  }
}

describe("extra sinks", () => {
  it("receive every sealed record with the exact line written to the file", async () => {
    const projectPath = tmpProject();
    const sink = new MemorySink();
    const logger = new AuditLogger({ sessionId: "sink_lines", projectPath, sinks: [sink] });
    expect(sink.opened).toEqual({ sessionId: "sink_lines", auditDir: auditDirOf(projectPath) });
    logger.logChatInteraction({ prompt: "p 日本", response: "r" });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    logger.logError(new Error("x"));
    await logger.flush();
    expect(sink.flushes).toBeGreaterThan(0);
    await logger.finalizeSession();
    expect(sink.closed).toBe(true);
    for (const kind of RECORD_KINDS) {
      const lines = readKindLines(projectPath, kind, "sink_lines");
      const sent = sink.records.filter((r) => r.kind === kind);
      expect(sent.map((r) => r.line), kind).toEqual(lines);
      for (const r of sent) {
        const rec = JSON.parse(r.line) as Record<string, unknown>;
        expect(r).toMatchObject({ sessionId: "sink_lines", id: rec.id, seq: rec.seq, prevHash: rec.prevHash, hash: rec.hash, timestamp: rec.timestamp });
      }
    }
  });

  it("a sink whose write throws never reaches the caller: the id is returned, the file has the record, an error event tells", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "sink_throw", projectPath, sinks: [new MemorySink({ write: 1 })] });
    const errors: Error[] = [];
    logger.on("error", (e) => errors.push(e));
    const id = logger.logToolUsage({ toolName: "t", operation: "o" });
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    await logger.finalizeSession();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(AuditIOError);
    expect(errors[0]!.message).toContain("sink write failed");
    expect(readKindLines(projectPath, "tool_usage", "sink_throw").map((l) => (JSON.parse(l) as { id: string }).id)).toEqual([id]);
  });

  // Core bug (reported): logger.flush() awaits the sinks' flush() with Promise.all, so a failing
  // extra sink (a PostgreSQL outage) rejects flush() with the sink's raw Error, and makes
  // finalizeSession() reject before it closes the local files: the session stays "active" and its
  // lock is never released. Remove `.fails` once sink failures are reported (error event,
  // AuditIOError) without stopping the local log from being finalized.
  it("a failing sink flush does not stop the local session from being finalized", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "sink_flush", projectPath, sinks: [new MemorySink({ flush: true })] });
    const errors: Error[] = [];
    logger.on("error", (e) => errors.push(e));
    logger.logToolUsage({ toolName: "t", operation: "o" });
    try {
      await logger.finalizeSession();
    } catch (err) {
      expect(err).toBeInstanceOf(AuditIOError);
    }
    const dir = auditDirOf(projectPath);
    expect((JSON.parse(fs.readFileSync(path.join(dir, "session_sink_flush.json"), "utf8")) as { status: string }).status).toBe("finalized");
    expect(fs.existsSync(path.join(dir, ".session_sink_flush.lock"))).toBe(false);
    expect(errors.some((e) => e instanceof AuditIOError)).toBe(true);
  });

  it("a sink whose flush() and close() never settle holds flush() and finalizeSession() for sinkTimeoutMs only, and is reported (they hung for good)", async () => {
    const projectPath = tmpProject();
    const sink = new MemorySink({ flush: "stall", close: "stall" });
    const logger = new AuditLogger({ sessionId: "sink_stall", projectPath, sinks: [sink], sinkTimeoutMs: 200 });
    const errors: Error[] = [];
    logger.on("error", (e) => errors.push(e));
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.flush();
    const dir = auditDirOf(projectPath);
    expect(readKindLines(projectPath, "tool_usage", "sink_stall")).toHaveLength(1);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^MemorySink\.flush\(\) did not settle within sinkTimeoutMs \(200 ms\): flush\(\) went on without it/)]);
    await logger.finalizeSession();
    expect(sink.closed).toBe(true);
    expect((JSON.parse(fs.readFileSync(path.join(dir, "session_sink_stall.json"), "utf8")) as { status: string }).status).toBe("finalized");
    expect(fs.existsSync(path.join(dir, ".session_sink_stall.lock"))).toBe(false);
    expect(errors.at(-1)?.message).toMatch(/^MemorySink\.close\(\) did not settle within sinkTimeoutMs \(200 ms\): finalizeSession\(\) went on without it/);
  });

  it("process.exit() while finalizeSession() waits for a sink's close(): the session's lock is released (it was left behind)", async () => {
    const projectPath = tmpProject();
    const child = spawnSync(process.execPath, [...childArgs(path.join(REPO_ROOT, "test/fixtures/core/exit-in-sink-close-child.mts")), projectPath, "exit"], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(child.stdout.trim()).toBe("exiting");
    const dir = auditDirOf(projectPath);
    expect((JSON.parse(fs.readFileSync(path.join(dir, "session_exit_sink.json"), "utf8")) as { status: string }).status).toBe("finalized");
    expect(fs.existsSync(path.join(dir, ".session_exit_sink.lock"))).toBe(false);
  });

  it("an app's `await finalizeSession()` with such a sink returns to the app after sinkTimeoutMs (the process is not ended under it, unsettled), the session finalized and unlocked", async () => {
    const projectPath = tmpProject();
    const child = spawnSync(process.execPath, [...childArgs(path.join(REPO_ROOT, "test/fixtures/core/exit-in-sink-close-child.mts")), projectPath, "last"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 10_000 });
    expect(child.status).toBe(0);
    expect(child.stdout.trim()).toBe("the app goes on");
    const dir = auditDirOf(projectPath);
    expect((JSON.parse(fs.readFileSync(path.join(dir, "session_exit_sink.json"), "utf8")) as { status: string }).status).toBe("finalized");
    expect(fs.existsSync(path.join(dir, ".session_exit_sink.lock"))).toBe(false);
  }, 20_000);
});

describe("extra sinks in fsync mode", () => {
  // A sink got each record as it was sealed, before the group commit wrote its line: after a
  // crash the store held records the files did not, and a session resumed from the files forked
  // the store's chain (verify: chain_broken, seq_duplicate; found by review, 2026-12-05).
  it("get a record only once its line is in its file", async () => {
    const projectPath = tmpProject();
    let auditDir = "";
    const notInFile: string[] = [];
    const got: string[] = [];
    const sink: AuditSink = {
      open: (info) => {
        auditDir = info.auditDir;
      },
      write: (r) => {
        got.push(r.id);
        const file = path.join(auditDir, `${r.kind === "tool_usage" ? "tool_usage" : r.kind === "chat_interaction" ? "chat_interactions" : r.kind}_${r.sessionId}.jsonl`);
        const held = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        if (!held.includes(r.line)) notInFile.push(r.id);
      },
      flush: async () => {},
      close: async () => {},
    };
    const logger = new AuditLogger({ sessionId: "fs", projectPath, durability: "fsync", sinks: [sink] });
    // several in one tick (one group commit), then more across ticks
    for (let i = 0; i < 5; i++) logger.logToolUsage({ toolName: "t", operation: `a${i}` });
    logger.logChatInteraction({ prompt: "p", response: "r" });
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 3; i++) {
      logger.logToolUsage({ toolName: "t", operation: `b${i}` });
      await new Promise((r) => setImmediate(r));
    }
    await logger.flush();
    expect(got).toHaveLength(9);
    logger.logToolUsage({ toolName: "t", operation: "last" });
    await logger.finalizeSession();
    expect(got).toHaveLength(10);
    expect(notInFile).toEqual([]);
  });

  it("get the records written by the exit hook (process.exit before any commit ran)", () => {
    const projectPath = tmpProject();
    const script = `
      import fs from "node:fs";
      import { AuditLogger } from ${JSON.stringify(path.join(REPO_ROOT, "src/index.ts"))};
      const out = process.argv[1];
      const sink = { write: (r) => fs.appendFileSync(out, r.id + "\\n"), flush: async () => {}, close: async () => {} };
      const logger = new AuditLogger({ sessionId: "fx", projectPath: ${JSON.stringify(projectPath)}, durability: "fsync", sinks: [sink] });
      for (let i = 0; i < 4; i++) logger.logToolUsage({ toolName: "t", operation: "x" + i });
      process.exit(0);
    `;
    const out = path.join(projectPath, "sink-got.txt");
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, out], { encoding: "utf8", cwd: REPO_ROOT });
    expect(r.status, r.stderr).toBe(0);
    const lines = readKindLines(projectPath, "tool_usage", "fx");
    expect(lines).toHaveLength(4);
    expect(fs.readFileSync(out, "utf8").trim().split("\n")).toEqual(lines.map((l) => (JSON.parse(l) as { id: string }).id));
  });
});
