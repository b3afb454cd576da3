// `thread: true`: the records are made and written by a worker thread. What a user can observe
// must be what it is without the thread: the same records on disk, the same errors thrown at the
// same calls, the same summary, events, exit behaviour (test/core/crash.test.ts runs its exit
// tests in this mode too) and a log that verifies.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuditConfigError,
  AuditLogger,
  AuditSessionClosedError,
  AuditSessionLockedError,
  AuditValidationError,
  RECORD_KINDS,
  auditContext,
  verifyAuditLog,
  type AuditOptions,
} from "../../src/index.js";
import { recordFrom } from "../../src/instrument.js";
import { KindWriter } from "../../src/sink/writer.js";
import { testBuilder, type TestData } from "../fixtures/core/input-builder.js";
import { TEST_KEY, cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";

const open: AuditLogger[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) if (!l.isClosed) await l.finalizeSession();
  cleanupTmp();
});

function logger(options: AuditOptions): AuditLogger {
  const l = new AuditLogger(options);
  open.push(l);
  return l;
}

function records(l: AuditLogger): Record<string, Record<string, unknown>[]> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const kind of RECORD_KINDS) {
    const prefix = { chat_interaction: "chat_interactions", persona_activity: "persona_activities", tool_usage: "tool_usage", file_operation: "file_operations", performance_metric: "performance_metrics", error: "errors" }[kind];
    const file = path.join(l.auditDir, `${prefix}_${l.sessionId}.jsonl`);
    out[kind] = fs.existsSync(file) ? readJsonl(file) : [];
  }
  return out;
}

/** One of each kind, in a context, with the objects the app changes right after the calls. */
function logEveryKind(l: AuditLogger): string[] {
  const messages = [{ role: "user", content: "What is the capital of France?" }];
  const params = { q: "capital of France", limit: 3 };
  const ids = auditContext.run({ userId: "u_1", traceId: "trace_1", persona: "helper", metadata: { tenant: "acme", at: new Date(0) } }, () => [
    l.logChatInteraction({ prompt: messages, response: "Paris.", model: "gpt-4o-mini", inputTokens: 19, outputTokens: 3, usage: { prompt_tokens: 19, completion_tokens: 3 }, durationSeconds: 0.5, finishReason: "stop" }),
    l.logToolUsage({ toolName: "search", operation: "query", parameters: params, result: { hits: ["a", "b"] }, durationSeconds: 0.1 }),
    l.logPersonaActivity({ personaName: "planner", activityType: "plan", description: "step 1", details: { n: 1 } }),
    l.logFileOperation({ operation: "read", filePath: "/tmp/x.txt", fileSize: 12 }),
    l.logPerformanceMetric({ metricName: "latency", value: 12.5, unit: "ms" }),
    l.logError(Object.assign(new Error("boom"), { code: "E_BOOM" }), { step: "work" }),
  ]);
  messages.push({ role: "assistant", content: "Paris." });
  messages[0]!.content = "changed after the call";
  params.q = "changed";
  return ids;
}

/** The same calls logged with the thread and without it: the records of each, once on disk. */
async function bothWays(name: string, log: (l: AuditLogger) => void): Promise<{ threaded: ReturnType<typeof records>; plain: ReturnType<typeof records> }> {
  const threaded = logger({ sessionId: name, projectPath: tmpProject(), thread: true });
  const plain = logger({ sessionId: `${name}_ref`, projectPath: tmpProject() });
  log(threaded);
  log(plain);
  await threaded.flush();
  await plain.flush();
  return { threaded: records(threaded), plain: records(plain) };
}

/** A record without what differs between two sessions (ids, times, chain links, session). */
function comparable(r: Record<string, unknown>): Record<string, unknown> {
  // (the two errors' stacks differ in the line that logged them)
  const { id: _i, timestamp: _t, sessionId: _s, seq: _q, prevHash: _p, hash: _h, fullContent: _f, stackTrace, ...rest } = r;
  return stackTrace === undefined ? rest : { ...rest, stackTrace: String(stackTrace).split("\n")[0] };
}

describe("thread: true", () => {
  it("writes the same records as without the thread, as they were at the call, and the log verifies", async () => {
    const a = logger({ sessionId: "plain", projectPath: tmpProject() });
    const b = logger({ sessionId: "threaded", projectPath: tmpProject(), thread: true });
    const idsA = logEveryKind(a);
    const idsB = logEveryKind(b);
    const [sa, sb] = [await a.finalizeSession(), await b.finalizeSession()];
    const [ra, rb] = [records(a), records(b)];
    for (const kind of RECORD_KINDS) {
      expect(rb[kind]!.map(comparable), kind).toEqual(ra[kind]!.map(comparable));
      expect(rb[kind]).toHaveLength(1);
    }
    const logged = ["chat_interaction", "tool_usage", "persona_activity", "file_operation", "performance_metric", "error"];
    expect(logged.map((k) => rb[k]![0]!.id)).toEqual(idsB);
    expect(logged.map((k) => ra[k]![0]!.id)).toEqual(idsA);
    expect(rb.chat_interaction![0]).toMatchObject({ userId: "u_1", traceId: "trace_1", persona: "helper", promptPreview: JSON.stringify([{ role: "user", content: "What is the capital of France?" }]) });
    expect(rb.tool_usage![0]!.parameters).toEqual({ q: "capital of France", limit: 3 });
    expect({ ...sb, sessionId: "x", startTime: "", endTime: "", durationSeconds: 0, heads: {} }).toEqual({ ...sa, sessionId: "x", startTime: "", endTime: "", durationSeconds: 0, heads: {} });
    expect(sb.heads.chat_interaction).toEqual({ seq: 1, hash: rb.chat_interaction![0]!.hash });
    const sessionFile = JSON.parse(fs.readFileSync(path.join(b.auditDir, "session_threaded.json"), "utf8")) as { config: { thread?: boolean } };
    expect(sessionFile.config.thread).toBe(true);
    const report = await verifyAuditLog(b.auditDir);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it("bad input throws the coded error at the call, and everything else logged is kept", async () => {
    const l = logger({ sessionId: "bad_input", projectPath: tmpProject(), thread: true });
    l.logPerformanceMetric({ metricName: "before", value: 1, unit: "ms" });
    expect(() => l.logPerformanceMetric({ metricName: "bad", value: "fast" as unknown as number, unit: "ms" })).toThrow(AuditValidationError);
    expect(() => l.logToolUsage({ toolName: "" } as never)).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION", method: "logToolUsage" }));
    l.logPerformanceMetric({ metricName: "after", value: 2, unit: "ms" });
    await l.flush();
    expect(records(l).performance_metric!.map((r) => r.metricName)).toEqual(["before", "after"]);
    await l.finalizeSession();
    expect(() => l.logPerformanceMetric({ metricName: "late", value: 3, unit: "ms" })).toThrow(expect.objectContaining({ code: "AUDIT_ERR_SESSION_CLOSED" }));
  });

  it("records reach the disk within flushIntervalMs without flush(), with the time of the call", async () => {
    // (no bound in milliseconds that load can cross: the record is checked against a timer of the
    // same length set right after the call, and its time against the call's own start and end)
    const interval = 1_500;
    const l = logger({ sessionId: "timing", projectPath: tmpProject(), thread: true, flushIntervalMs: interval });
    const file = path.join(l.auditDir, "performance_metrics_timing.jsonl");
    const count = () => fs.readFileSync(file, "utf8").split("\n").filter(Boolean).length;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const before = Date.now();
    l.logPerformanceMetric({ metricName: "m", value: 1, unit: "ms" });
    const after = Date.now();
    // the logger's flush timer was set by the call: this one, of the same length, fires right
    // after it (timers never fire early), so the record is with the worker by then
    let handedAt: number | undefined;
    setTimeout(() => (handedAt = performance.now()), interval);
    // while this one has not fired, the logger's certainly has not either
    let early = true;
    setTimeout(() => (early = false), interval - 300);
    // queued, as async mode allows: on disk at no look before the interval (under load there may
    // be fewer looks in time, never a wrong one)
    let earlyLooks = 0;
    while (handedAt === undefined) {
      if (early) {
        expect(count()).toBe(0);
        earlyLooks++;
      }
      await sleep(10);
    }
    expect(earlyLooks, "looks before the interval").toBeGreaterThan(0);
    // then written by the worker as the batch arrives: well before a second interval (a worker
    // holding the batch for its own flush timer wrote it one interval after it was handed over)
    const deadline = handedAt + 30_000;
    while (count() === 0 && performance.now() < deadline) await sleep(10);
    expect(count()).toBe(1);
    expect(performance.now() - handedAt).toBeLessThan(interval - 500);
    // stamped with the time of the call, not of the write (an interval later)
    const ts = Date.parse(String(readJsonl(file)[0]!.timestamp));
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(after);
  });

  it("an input a structured clone refuses (a function in the context metadata) is written in its JSON-safe form", async () => {
    const { threaded, plain } = await bothWays("uncloneable", (x) =>
      auditContext.run({ metadata: { hook: function onDone() {}, big: 10n } }, () => x.logToolUsage({ toolName: "t", operation: "o", parameters: { cb: () => 1 } })),
    );
    expect(comparable(threaded.tool_usage![0]!)).toEqual(comparable(plain.tool_usage![0]!));
    expect(threaded.tool_usage![0]!.metadata).toEqual({ hook: "[Function: onDone]", big: "10" });
  });

  it("values that are not plain data are recorded as without the thread (toJSON, getters, Error fields)", async () => {
    class ObjectId {
      constructor(private readonly hex: string) {}
      toJSON(): string {
        return this.hex;
      }
    }
    class Upstream extends Error {
      readonly code = "E_UPSTREAM";
      constructor(message: string) {
        super(message);
        this.name = "Upstream";
      }
      get retryable(): boolean {
        return true;
      }
    }
    const failure = new Upstream("down");
    const { threaded, plain } = await bothWays("not_plain", (x) =>
      x.logToolUsage({ toolName: "db", operation: "find", parameters: { _id: new ObjectId("65f0aa"), at: new Date(0), tags: new Set(["a"]), n: 10n }, result: { error: failure } }),
    );
    const [a, b] = [threaded.tool_usage![0]!, plain.tool_usage![0]!];
    expect(comparable(a)).toEqual(comparable(b));
    expect(a.parameters).toEqual({ _id: "65f0aa", at: "1970-01-01T00:00:00.000Z", tags: ["a"], n: "10" });
    expect(a.result).toMatchObject({ error: { name: "Upstream", message: "down", code: "E_UPSTREAM" } });
  });

  it("limits and merges apply as without the thread: metadata merged with the context's (undefined overrides), depth counted per field, long arrays cut once", async () => {
    let deep: Record<string, unknown> = { leaf: "x" };
    for (let i = 0; i < 31; i++) deep = { d: deep };
    const { threaded: a, plain: b } = await bothWays("limits", (x) =>
      auditContext.run({ metadata: { tenant: "acme", region: "eu", map: new Map([["k", 1]]) } }, () => {
        x.logPersonaActivity({ personaName: "p", activityType: "a", metadata: { tenant: undefined, deep }, details: { items: Array.from({ length: 10_005 }, (_, i) => i) } });
        x.logChatInteraction({ prompt: [deep], response: "r", model: "m" });
      }),
    );
    expect(comparable(a.persona_activity![0]!)).toEqual(comparable(b.persona_activity![0]!));
    expect(comparable(a.chat_interaction![0]!)).toEqual(comparable(b.chat_interaction![0]!));
    const meta = a.persona_activity![0]!.metadata as Record<string, unknown>;
    expect(Object.keys(meta).sort()).toEqual(["deep", "map", "region"]);
    expect((a.persona_activity![0]!.details as { items: unknown[] }).items.at(-1)).toBe("[5 more items]");
  });

  it("getSummary() while finalizeSession() is under way answers with the final summary", async () => {
    const l = logger({ sessionId: "summary_during", projectPath: tmpProject(), thread: true });
    l.logPerformanceMetric({ metricName: "m", value: 1, unit: "ms" });
    const finalizing = l.finalizeSession();
    const during = await l.getSummary();
    const final = await finalizing;
    expect(during).toEqual(final);
    expect(final.counts.performance_metric).toBe(1);
    expect(await l.getSummary()).toEqual(final);
  });

  it("a record logged right after finalizeSession() (in the same turn) is written, as without the thread", async () => {
    for (const thread of [false, true]) {
      const l = logger({ sessionId: `late_${thread}`, projectPath: tmpProject(), thread });
      const finalizing = l.finalizeSession();
      l.logPerformanceMetric({ metricName: "shutdown", value: 1, unit: "ms" });
      const summary = await finalizing;
      expect(summary.counts.performance_metric, `thread: ${thread}`).toBe(1);
      expect(records(l).performance_metric!.map((r) => r.metricName), `thread: ${thread}`).toEqual(["shutdown"]);
    }
  });

  it("a second finalizeSession() while the first runs is refused (AuditSessionClosedError), and getSummary() then answers with the final summary", async () => {
    for (const thread of [false, true]) {
      const l = logger({ sessionId: `twice_${thread}`, projectPath: tmpProject(), thread });
      l.logToolUsage({ toolName: "t", operation: "o" });
      const first = l.finalizeSession();
      const second = l.finalizeSession();
      const summary = l.getSummary();
      await expect(second, `thread: ${thread}`).rejects.toBeInstanceOf(AuditSessionClosedError);
      const final = await first;
      // (with the thread, the final summary itself; without, the session's so far, as always)
      if (thread) expect(await summary).toEqual(final);
      else expect((await summary).counts).toEqual(final.counts);
      expect(final.counts.tool_usage).toBe(1);
    }
  });

  it("steady traffic of records under way (awaitRecord) holds flush() about a second and finalizeSession() about two at most; a flush() beside a finalize in fsync mode settles", async () => {
    for (const thread of [false, true]) {
      const l = logger({ sessionId: `busy_${thread}`, projectPath: tmpProject(), thread });
      let stop = false;
      let n = 0;
      // a call under way every 100 ms, each taking 500 ms (as an .asResponse() body being read)
      const startOne = () => {
        if (stop) return;
        const i = n++;
        let made = false;
        const make = () => {
          if (made) return;
          made = true;
          if (!l.isClosed) l.logToolUsage({ toolName: "call", operation: String(i) });
        };
        l.awaitRecord(new Promise<void>((r) => setTimeout(r, 500)).then(make), make);
        setTimeout(startOne, 100);
      };
      startOne();
      await new Promise((r) => setTimeout(r, 250));
      try {
        // (bounds five times the design's, so that load cannot cross them: what they guard against,
        // a wait for the records begun during the wait too, never ends while this traffic goes on)
        let t = performance.now();
        await l.flush();
        expect(performance.now() - t, `flush, thread: ${thread}`).toBeLessThan(5_000);
        t = performance.now();
        await l.finalizeSession();
        expect(performance.now() - t, `finalizeSession, thread: ${thread}`).toBeLessThan(10_000);
      } finally {
        stop = true;
      }
    }
    // fsync: a flush() started beside finalizeSession() while a record is under way (it waited for
    // a group commit the close made moot, and never settled)
    const f = logger({ sessionId: "fsync_beside", projectPath: tmpProject(), durability: "fsync" });
    f.logToolUsage({ toolName: "t", operation: "o" });
    const finalized = f.finalizeSession();
    f.awaitRecord(new Promise<void>((r) => setTimeout(r, 300)), () => {});
    const flushed = f.flush();
    await finalized;
    // (pending for good when it waits for a commit the close made moot; 20 s is for a hang, not load)
    const outcome = await Promise.race([flushed.then(() => "settled"), new Promise((r) => setTimeout(() => r("pending"), 20_000).unref())]);
    expect(outcome).toBe("settled");
  });

  it("fsync: finalizeSession() under steady flush() traffic (each request awaiting its durability) ends within the two-second bound", async () => {
    // a disk whose fdatasync takes ~5 ms longer (this VM's is near instant): each commit lasts long
    // enough for new flush() calls to queue the next one
    const datasync = KindWriter.prototype.datasync;
    KindWriter.prototype.datasync = function (this: KindWriter) {
      return datasync.call(this).then(() => new Promise<void>((r) => setTimeout(r, 5)));
    };
    const l = logger({ sessionId: "fsync_busy", projectPath: tmpProject(), durability: "fsync" });
    l.on("error", () => {});
    let n = 0;
    const traffic = setInterval(() => {
      if (l.isClosed) return;
      l.logToolUsage({ toolName: "request", operation: String(n++) });
      void l.flush().catch(() => {});
    }, 1);
    try {
      await new Promise((r) => setTimeout(r, 50));
      const started = performance.now();
      // (bounds five times the two seconds, so that load cannot cross them: a finalize that goes
      // on syncing while flush() calls keep coming never ends)
      const outcome = await Promise.race([l.finalizeSession().then(() => "finalized"), new Promise((r) => setTimeout(() => r("pending"), 20_000).unref())]);
      expect(outcome).toBe("finalized");
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      clearInterval(traffic);
      KindWriter.prototype.datasync = datasync;
    }
    // every record logged before the close is on disk
    expect(records(l).tool_usage).toHaveLength(n);
  });

  it("an integration's record deferred in the same turn as finalizeSession() (a call answered then) is written, not dropped", async () => {
    for (const thread of [false, true]) {
      const l = logger({ sessionId: `deferred_${thread}`, projectPath: tmpProject(), thread });
      const finalizing = l.finalizeSession();
      l.deferRecord(() => void l.logToolUsage({ toolName: "answered", operation: "during finalize" }));
      await finalizing;
      expect(records(l).tool_usage!.map((r) => r.toolName), `thread: ${thread}`).toEqual(["answered"]);
    }
  });

  it("an explicit chat id that already has content files is refused at the call, as without the thread", async () => {
    const l = logger({ sessionId: "dup_id", projectPath: tmpProject(), thread: true });
    l.logChatInteraction({ id: "dup_1", prompt: "p", response: "r", model: "m" });
    expect(() => l.logChatInteraction({ id: "dup_1", prompt: "p2", response: "r2", model: "m" })).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION", method: "logChatInteraction" }));
    await l.flush();
    expect(() => l.logChatInteraction({ id: "dup_1", prompt: "p3", response: "r3", model: "m" })).toThrow(AuditValidationError);
    expect(records(l).chat_interaction!.map((r) => r.id)).toEqual(["dup_1"]);
  });

  // (until 2026-12-05 such options were dropped before the worker and the call answered as if
  // they were not there; they are refused now, in the app's thread, as without the thread)
  it("cleanup() with options it does not take (callbacks) rejects with AUDIT_ERR_CONFIG naming them; valid ones answer", async () => {
    const l = logger({ sessionId: "cleanup_opts", projectPath: tmpProject(), thread: true });
    await expect(l.cleanup({ dryRun: true, maxLogAgeDays: 30, record: () => undefined } as Parameters<AuditLogger["cleanup"]>[0])).rejects.toMatchObject({ code: "AUDIT_ERR_CONFIG", issues: [expect.objectContaining({ field: "cleanup.record" })] });
    expect(await l.cleanup({ dryRun: true, maxLogAgeDays: 30 })).toMatchObject({ dryRun: true });
  });

  it("a worker that is gone: blocking calls and flush() fail at once with AUDIT_ERR_IO, records logged after are reported lost", async () => {
    const l = logger({ sessionId: "gone", projectPath: tmpProject(), thread: true });
    const errors: Error[] = [];
    l.on("error", (e) => errors.push(e));
    l.logPerformanceMetric({ metricName: "before", value: 1, unit: "ms" });
    await l.flush();
    // stopped from outside, as a crash would stop it (the link's worker is private)
    await (l as unknown as { remote: { worker: { terminate(): Promise<number> } } }).remote.worker.terminate();
    await new Promise((r) => setImmediate(r));
    const t0 = performance.now();
    expect(() => l.placeLegalHold("session", "x")).toThrow(expect.objectContaining({ code: "AUDIT_ERR_IO" }));
    await expect(l.flush()).rejects.toMatchObject({ code: "AUDIT_ERR_IO" });
    l.logPerformanceMetric({ metricName: "after", value: 2, unit: "ms" });
    await expect(l.flush()).rejects.toMatchObject({ code: "AUDIT_ERR_IO" });
    // (not the 30 s a blocking call waits for a live worker's answer; far above what load adds)
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(errors.map((e) => e.message).join("\n")).toMatch(/exited[\s\S]*1 audit record\(s\) were lost/);
    expect(records(l).performance_metric!.map((r) => r.metricName)).toEqual(["before"]);
    open.splice(open.indexOf(l), 1);
  });

  it("start-up failures are thrown by the constructor, with their class, code and fields", async () => {
    const projectPath = tmpProject();
    const first = logger({ sessionId: "locked", projectPath, thread: true });
    let err: unknown;
    try {
      new AuditLogger({ sessionId: "locked", projectPath, thread: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AuditSessionLockedError);
    // with the error's own fields, as without the thread
    expect(err).toMatchObject({ code: "AUDIT_ERR_SESSION_LOCKED", holderPid: process.pid, lockFile: path.join(first.auditDir, ".session_locked.lock") });
    expect((err as Error).message).toContain('Session "locked"');
    expect(() => new AuditLogger({ sessionId: "locked", projectPath })).toThrow(AuditSessionLockedError);
    await first.finalizeSession();
    // released by the worker: a logger without a thread may continue the session
    const again = logger({ sessionId: "locked", projectPath });
    again.logPerformanceMetric({ metricName: "m", value: 1, unit: "ms" });
    await again.finalizeSession();
  });

  it("configuration that cannot run in a worker is refused, naming the field", () => {
    const projectPath = tmpProject();
    const issues = (o: AuditOptions) => {
      try {
        new AuditLogger({ sessionId: "cfg", projectPath, thread: true, ...o });
      } catch (e) {
        expect(e).toBeInstanceOf(AuditConfigError);
        return (e as AuditConfigError).issues.map((i) => i.field);
      }
      return [];
    };
    expect(issues({ durability: "sync" })).toEqual(["thread"]);
    expect(issues({ durability: "fsync" })).toEqual(["thread"]);
    expect(issues({ redact: { patterns: [{ name: "x", pattern: /x/, validate: () => true }] } })).toEqual(["redact"]);
    // (refused in any mode since 2026-12-04: customMetadata is JSON data; the member is named)
    expect(issues({ customMetadata: { f: () => 1 } })).toEqual(["customMetadata.f"]);
    const sink = { write() {}, flush: async () => {}, close: async () => {} };
    expect(issues({ sinks: [sink] })).toEqual(["sinks"]);
  });

  it("blocking calls answer at once: legal holds, crypto-shredding, cleanup; after the records logged before them", async () => {
    const l = logger({ sessionId: "blocking", projectPath: tmpProject(), thread: true, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    auditContext.run({ userId: "alice" }, () => l.logChatInteraction({ prompt: "secret question", response: "secret answer", model: "m" }));
    const holdId = l.placeLegalHold("session", "litigation 1");
    expect(holdId).toMatch(/^[0-9A-Z]{26}$/);
    expect(l.releaseLegalHold("session", "settled")).toBe(1);
    const destroyed = l.shredSubject("alice", "erasure request 7");
    expect(destroyed.length).toBe(1);
    expect(() => l.shredSubject("")).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION" }));
    expect(() => l.placeLegalHold("../x", "why")).toThrow(AuditValidationError);
    const cleaned = await l.cleanup({ dryRun: true });
    expect(cleaned).toMatchObject({ dryRun: true });
    await l.finalizeSession();
    const events = readJsonl(path.join(l.auditDir, "audit_events_blocking.jsonl")).map((r) => r.eventType);
    expect(events).toEqual(["legal_hold_placed", "legal_hold_released", "subject_shredded"]);
    expect((await verifyAuditLog(l.auditDir)).ok).toBe(true);
  });

  it("rotate and checkpoint events, and onCheckpoint, reach the app's thread", async () => {
    const { privateKey } = crypto.generateKeyPairSync("ed25519");
    const checkpoints: unknown[] = [];
    const l = logger({
      sessionId: "events",
      projectPath: tmpProject(),
      thread: true,
      rotation: { size: 2048 },
      signingKey: privateKey,
      checkpointEvery: { records: 5 },
      onCheckpoint: (c) => checkpoints.push(c),
    });
    const rotated: string[] = [];
    const emitted: unknown[] = [];
    l.on("rotate", (p) => rotated.push(p));
    l.on("checkpoint", (c) => emitted.push(c));
    for (let i = 0; i < 40; i++) l.logPerformanceMetric({ metricName: `metric_${i}`, value: i, unit: "ms", context: { pad: "x".repeat(100) } });
    await l.flush();
    expect(rotated.length).toBeGreaterThan(0);
    for (const p of rotated) expect(fs.existsSync(p)).toBe(true);
    expect(emitted.length).toBeGreaterThan(0);
    expect(checkpoints).toEqual(emitted);
    await l.finalizeSession();
    expect((await verifyAuditLog(l.auditDir, { publicKey: crypto.createPublicKey(privateKey) })).ok).toBe(true);
  });
});

/**
 * Resolves once the worker has answered everything the app's thread asked of it before (it
 * handles messages one after another). A dry-run cleanup() runs no deferred recording step and
 * writes nothing, unlike flush().
 */
async function workerCaughtUp(l: AuditLogger): Promise<void> {
  await l.cleanup({ dryRun: true });
}

/**
 * A `thread: true` logger whose worker has loaded testBuilder (record 0 made, on the app's
 * thread, while it loaded), and the errors it emits from then on.
 */
async function builderLoaded(sessionId: string): Promise<{ l: AuditLogger; errors: Error[] }> {
  const l = logger({ sessionId, projectPath: tmpProject(), thread: true });
  const errors: Error[] = [];
  l.on("error", (e) => errors.push(e));
  recordFrom(l, testBuilder, [0, "p0", false], { userId: "u_0" });
  await l.flush();
  return { l, errors };
}

describe("an explicit chat id that has content files already", () => {
  it("is refused for a record with content, and taken for one with nothing captured (no files), with the thread as without (the thread refused both)", async () => {
    for (const thread of [false, true]) {
      const l = logger({ sessionId: `dup_${thread}`, projectPath: tmpProject(), thread });
      l.logChatInteraction({ id: "chat-1", prompt: "p", response: "r", model: "m" });
      await l.flush();
      expect(() => l.logChatInteraction({ id: "chat-1", prompt: "p2", response: "r2", model: "m" }), `thread: ${thread}`).toThrow(/already has content files/);
      expect(l.logChatInteraction({ id: "chat-1", prompt: "", promptCaptured: false, responseCaptured: false, model: "m" })).toBe("chat-1");
      await l.flush();
      expect(records(l).chat_interaction!.map((r) => [r.id, r.promptCaptured ?? true])).toEqual([
        ["chat-1", true],
        ["chat-1", false],
      ]);
    }
  });
});

describe("thread: true: flush() while finalizeSession() runs", () => {
  it("resolves once the worker has written everything logged before it (it resolved at once, with nothing on disk)", async () => {
    const l = logger({ sessionId: "flush_in_finalize", projectPath: tmpProject(), thread: true });
    for (let i = 0; i < 20_000; i++) l.logToolUsage({ toolName: "t", operation: `op${i}`, parameters: { i } });
    const finalized = l.finalizeSession();
    await new Promise((r) => setImmediate(r));
    expect(l.isClosed).toBe(true);
    await l.flush();
    expect(records(l).tool_usage).toHaveLength(20_000);
    await finalized;
  });
});

describe("thread: true and integrations' input builders (recordFrom)", () => {
  const ctx = { userId: "u_7", traceId: "trace_7", metadata: { tenant: "acme" } };
  const chats = (l: AuditLogger) => records(l).chat_interaction!;

  it("the worker makes the inputs once it has loaded the builder's module; none is lost meanwhile, and the records are those made without the thread", async () => {
    const logBoth = async (l: AuditLogger) => {
      recordFrom(l, testBuilder, [0, "p0", false], ctx); // the first asks the worker to load the module
      await l.flush();
      for (let n = 1; n <= 3; n++) recordFrom(l, testBuilder, [n, `p${n}`, false], ctx);
      await l.flush();
    };
    const threaded = logger({ sessionId: "builder_thread", projectPath: tmpProject(), thread: true });
    const plain = logger({ sessionId: "builder_plain", projectPath: tmpProject() });
    await logBoth(threaded);
    await logBoth(plain);
    const t = chats(threaded);
    expect(t.map((r) => (r.metadata as { n: number }).n)).toEqual([0, 1, 2, 3]);
    expect(t.map((r) => (r.metadata as { builtOnWorker: boolean }).builtOnWorker)).toEqual([false, true, true, true]);
    expect(chats(plain).map((r) => (r.metadata as { builtOnWorker: boolean }).builtOnWorker)).toEqual([false, false, false, false]);
    const same = (r: Record<string, unknown>) => comparable({ ...r, metadata: { ...(r.metadata as object), builtOnWorker: "either" } });
    expect(t.map(same)).toEqual(chats(plain).map(same));
    expect(t[1]).toMatchObject({ userId: "u_7", traceId: "trace_7", promptLength: 2, responseLength: 8, metadata: { tenant: "acme", n: 1 } });
    await threaded.finalizeSession();
    expect((await verifyAuditLog(threaded.auditDir)).ok).toBe(true);
  });

  it("a builder whose module the worker cannot load: the inputs are made on the app's thread, none lost", async () => {
    const l = logger({ sessionId: "builder_missing", projectPath: tmpProject(), thread: true });
    const errors: Error[] = [];
    l.on("error", (e) => errors.push(e));
    const missing = { ...testBuilder, module: new URL("./no-such-builder.js", import.meta.url).href };
    for (let n = 0; n < 3; n++) {
      recordFrom(l, missing, [n, `p${n}`, false], ctx);
      await l.flush();
    }
    expect(chats(l).map((r) => [(r.metadata as { n: number }).n, (r.metadata as { builtOnWorker: boolean }).builtOnWorker])).toEqual([
      [0, false],
      [1, false],
      [2, false],
    ]);
    expect(errors).toEqual([]);
  });

  it("a builder that throws on the worker: an error event on the app's thread and an errors record; the other records are written", async () => {
    const { l, errors } = await builderLoaded("builder_throws");
    recordFrom(l, testBuilder, [1, "p1", true], ctx);
    recordFrom(l, testBuilder, [2, "p2", false], ctx);
    await l.flush();
    expect(chats(l).map((r) => (r.metadata as { n: number }).n)).toEqual([0, 2]);
    expect(errors.map((e) => e.message)).toEqual(["builder refused record 1"]);
    expect(records(l).error!).toEqual([expect.objectContaining({ errorType: "audit_record_failed", message: "A logChatInteraction() record could not be written: builder refused record 1" })]);
  });
});

describe("thread: true: a builder's data on the worker", () => {
  it("prompts with quotes, newlines, escapes, emoji and lone surrogates, short and long, make the same records on the worker as on the app's thread", async () => {
    const prompts = [
      "short",
      'quote " and backslash \\ and newline \n and tab \t',
      "x".repeat(63),
      "y".repeat(64),
      `${JSON.stringify({ messages: [{ role: "user", content: 'He said "hi"\nand left' }] })}${"z".repeat(200)}`,
      `emoji 😀 and a lone surrogate \ud800 and \udc00 ${"é".repeat(100)}\n${"\u2028".repeat(70)}`,
      "",
    ];
    const made: Array<Record<string, unknown>[]> = [];
    for (const thread of [false, true]) {
      const l = logger({ sessionId: `builder_text_${thread}`, projectPath: tmpProject(), thread, contentPreviewChars: 100_000 });
      if (thread) {
        recordFrom(l, testBuilder, [0, "p0", false], undefined); // has the worker load the builder
        await l.flush();
      }
      prompts.forEach((p, i) => recordFrom(l, testBuilder, [i + 1, p, false], { userId: "u_t", metadata: { k: "v" } }));
      await l.finalizeSession();
      made.push(records(l).chat_interaction!.slice(thread ? 1 : 0));
    }
    const [app, worker] = made;
    expect(worker!.map((r) => (r.metadata as { builtOnWorker: boolean }).builtOnWorker)).toEqual(prompts.map(() => true));
    expect(worker!.map((r) => r.promptPreview)).toEqual(prompts);
    const comparable = (r: Record<string, unknown>) => ({ ...r, id: undefined, seq: undefined, timestamp: undefined, sessionId: undefined, prevHash: undefined, hash: undefined, fullContent: undefined, metadata: { ...(r.metadata as object), builtOnWorker: undefined } });
    expect(worker!.map(comparable)).toEqual(app!.map(comparable));
  });
});

describe("thread: true and input builders: order, the modules a worker imports, data it cannot take", () => {
  const ctx = { userId: "u_8" };
  const meta = (l: AuditLogger) => records(l).chat_interaction!.map((r) => r.metadata as { n: number; builtOnWorker: boolean });

  it("records made on the app's thread while the module loaded come before the later ones made on the worker, and finalizeSession() writes those still queued", async () => {
    const l = logger({ sessionId: "builder_order", projectPath: tmpProject(), thread: true, flushIntervalMs: 60_000 });
    recordFrom(l, testBuilder, [0, "p0", false], ctx); // asks the worker to load the module
    await workerCaughtUp(l); // it has loaded it; record 0 still waits as a deferred step
    recordFrom(l, testBuilder, [1, "p1", false], ctx);
    await l.flush();
    recordFrom(l, testBuilder, [2, "p2", false], ctx);
    recordFrom(l, testBuilder, [3, "p3", false], ctx);
    await l.finalizeSession();
    expect(meta(l).map((m) => [m.n, m.builtOnWorker])).toEqual([
      [0, false],
      [1, true],
      [2, true],
      [3, true],
    ]);
    expect((await verifyAuditLog(l.auditDir)).ok).toBe(true);
  });

  it("a builder module outside this package (an app's bundle, say) is never imported by the worker: its inputs are made on the app's thread", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "builder-outside-"));
    const marker = path.join(dir, "imported");
    const file = path.join(dir, "bundle.mjs");
    fs.writeFileSync(file, `import fs from "node:fs"; fs.writeFileSync(${JSON.stringify(marker)}, "x"); export const buildTestInput = () => ({ prompt: "p", response: "r" });\n`);
    try {
      const l = logger({ sessionId: "builder_outside", projectPath: tmpProject(), thread: true });
      const outside = { ...testBuilder, module: pathToFileURL(file).href };
      for (let n = 0; n < 2; n++) {
        recordFrom(l, outside, [n, `p${n}`, false], ctx);
        await l.flush();
      }
      await workerCaughtUp(l); // anything asked of the worker before is done
      expect(meta(l).map((m) => [m.n, m.builtOnWorker])).toEqual([
        [0, false],
        [1, false],
      ]);
      expect(fs.existsSync(marker)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("data that cannot be copied to the worker loses only its own record, reported; the rest of the batch is written", async () => {
    const { l, errors } = await builderLoaded("builder_uncloneable");
    recordFrom(l, testBuilder, [1, "p1", false], ctx);
    recordFrom(l, testBuilder, [2, "p2", false, () => "a function"] as unknown as TestData, ctx);
    recordFrom(l, testBuilder, [3, "p3", false], ctx);
    await l.flush();
    expect(meta(l).map((m) => m.n)).toEqual([0, 1, 3]);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^Sending 1 record\(s\) to the audit-logger worker failed: /)]);
  });
});
