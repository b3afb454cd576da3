import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditConfig, AuditConfigError, AuditLogger, cleanupSessions, KIND_FILE_STEM, PresetConfigs, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, readJsonl, TEST_KEY, tmpProject, walk } from "../helpers/index.js";
import { auditDirOf, readKind, snapshot, startFixture } from "../helpers/core.js";
import { childArgs } from "../helpers/child-args.js";

afterEach(() => {
  vi.useRealTimers();
  cleanupTmp();
});

const DAY = 86_400_000;

/** Writes a finalized session whose records carry timestamps `daysAgo` days in the past (the clock is set back, the logger is real). */
async function oldSession(projectPath: string, sessionId: string, daysAgo: number, opts: { rotate?: boolean; config?: (sessionId: string, projectPath: string) => AuditConfig } = {}): Promise<string[]> {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() - daysAgo * DAY);
  try {
    const logger = new AuditLogger(opts.config ? opts.config(sessionId, projectPath) : { sessionId, projectPath, ...(opts.rotate ? { rotation: { size: 1000 } } : {}) });
    const ids: string[] = [];
    for (let i = 0; i < (opts.rotate ? 20 : 2); i++) ids.push(logger.logChatInteraction({ prompt: `old prompt ${i}`, response: "old response" }));
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    return ids;
  } finally {
    vi.useRealTimers();
  }
}

/** Names (relative to audit_logs) of every file that belongs to the session (all of them, or only the documented ones). */
function filesOf(projectPath: string, sessionId: string, chatIds: readonly string[], which: "all" | "documented" = "documented"): string[] {
  const dir = auditDirOf(projectPath);
  const documented = new RegExp(`^(${Object.values(KIND_FILE_STEM).filter((s) => s !== "audit_events").join("|")})_${sessionId}(\\.\\d+)?\\.jsonl$|^session_${sessionId}\\.json$`);
  return walk(dir)
    .map((p) => path.relative(dir, p))
    .filter((n) => n.includes(`_${sessionId}.`) || chatIds.some((id) => n.includes(id)))
    .filter((n) => which === "all" || documented.test(n) || n.startsWith("full_interactions/"));
}

describe("retention", () => {
  it("autoCleanup removes, at start, every file of sessions whose last record is older than maxLogAgeDays", async () => {
    const projectPath = tmpProject();
    const oldIds = await oldSession(projectPath, "old_1", 40, { rotate: true });
    const recentIds = await oldSession(projectPath, "recent_1", 5);
    const oldFiles = filesOf(projectPath, "old_1", oldIds);
    expect(oldFiles.length).toBeGreaterThan(6 + 1 + oldIds.length * 3 - 1);
    expect(oldFiles.some((n) => /\.1\.jsonl$/.test(n))).toBe(true);
    const recentFiles = filesOf(projectPath, "recent_1", recentIds);

    const logger = new AuditLogger({ sessionId: "active_1", projectPath, autoCleanup: true, maxLogAgeDays: 30 });
    const dir = auditDirOf(projectPath);
    for (const f of oldFiles) expect(fs.existsSync(path.join(dir, f)), f).toBe(false);
    for (const f of recentFiles) expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    expect(readKind(projectPath, "chat_interaction", "recent_1")).toHaveLength(2);
    await logger.finalizeSession();
  });

  // Core bug (reported): retention.ts lists a session's files from RECORD_KINDS only, so the new
  // audit_events_<sid>.jsonl chain (and anything else of the session) is left behind, and the
  // "removed" session keeps being listed by listSessionIds(). Remove `.fails` once fixed.
  it("leaves no file of a removed session behind", async () => {
    const projectPath = tmpProject();
    const ids = await oldSession(projectPath, "gone_1", 40);
    // a key store and the shredding marker a shred that died left beside it
    fs.writeFileSync(path.join(auditDirOf(projectPath), "subject_keys_gone_1.jsonl"), "");
    fs.writeFileSync(path.join(auditDirOf(projectPath), "subject_keys_gone_1.jsonl.shredding"), "");
    const all = filesOf(projectPath, "gone_1", ids, "all");
    expect(all).toContain("subject_keys_gone_1.jsonl.shredding");
    const logger = new AuditLogger({ sessionId: "gone_active", projectPath, autoCleanup: true, maxLogAgeDays: 30 });
    await logger.finalizeSession();
    for (const f of all) expect(fs.existsSync(path.join(auditDirOf(projectPath), f)), f).toBe(false);
  });

  it("the development preset cleans up after 30 days", async () => {
    const projectPath = tmpProject();
    await oldSession(projectPath, "dev_old", 31);
    await oldSession(projectPath, "dev_young", 29);
    const logger = new AuditLogger(PresetConfigs.development("dev_active", projectPath));
    const dir = auditDirOf(projectPath);
    expect(fs.existsSync(path.join(dir, "session_dev_old.json"))).toBe(false);
    expect(fs.existsSync(path.join(dir, "session_dev_young.json"))).toBe(true);
    await logger.finalizeSession();
  });

  it("never removes the active session, however old its records", async () => {
    const projectPath = tmpProject();
    await oldSession(projectPath, "again", 400);
    const logger = new AuditLogger({ sessionId: "again", projectPath, autoCleanup: true, maxLogAgeDays: 30 });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    expect((await logger.cleanup()).removed).toEqual([]);
    await logger.finalizeSession();
    expect(readKind(projectPath, "chat_interaction", "again")).toHaveLength(2);
    expect(readKind(projectPath, "tool_usage", "again").map((r) => r.seq)).toEqual([1, 2]);
  });

  it("without autoCleanup nothing is removed at start", async () => {
    const projectPath = tmpProject();
    await oldSession(projectPath, "kept", 400);
    const logger = new AuditLogger({ sessionId: "no_auto", projectPath, maxLogAgeDays: 30 });
    expect(fs.existsSync(path.join(auditDirOf(projectPath), "session_kept.json"))).toBe(true);
    await logger.finalizeSession();
  });

  it("cleanup({ dryRun: true }) lists what would go and deletes nothing; cleanup() then removes exactly that", async () => {
    const projectPath = tmpProject();
    const ids = await oldSession(projectPath, "dry_old", 100);
    await oldSession(projectPath, "dry_young", 1);
    const logger = new AuditLogger({ sessionId: "dry_active", projectPath, maxLogAgeDays: 30 });
    const before = snapshot(projectPath);
    const dry = await logger.cleanup({ dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(dry.removed.map((r) => r.sessionId)).toEqual(["dry_old"]);
    expect(Date.parse(dry.removed[0]!.lastActivity)).toBeLessThan(Date.now() - 99 * DAY);
    expect(dry.removed[0]!.files).toEqual(expect.arrayContaining(filesOf(projectPath, "dry_old", ids)));
    expect(snapshot(projectPath)).toEqual(before);
    const real = await logger.cleanup();
    expect(real.dryRun).toBe(false);
    expect(real.removed).toEqual(dry.removed);
    for (const f of dry.removed[0]!.files) expect(fs.existsSync(path.join(auditDirOf(projectPath), f)), f).toBe(false);
    expect(fs.existsSync(path.join(auditDirOf(projectPath), "session_dry_young.json"))).toBe(true);
    await logger.finalizeSession();
  });

  it("measures age from the given `now`, and skips a session a live logger still holds", async () => {
    const projectPath = tmpProject();
    const done = new AuditLogger({ sessionId: "now_done", projectPath });
    done.logToolUsage({ toolName: "t", operation: "o" });
    await done.finalizeSession();
    const live = new AuditLogger({ sessionId: "now_live", projectPath });
    live.logToolUsage({ toolName: "t", operation: "o" });
    await live.flush();
    const logger = new AuditLogger({ sessionId: "now_active", projectPath, maxLogAgeDays: 30 });
    expect((await logger.cleanup({ dryRun: true })).removed).toEqual([]);
    const later = await logger.cleanup({ now: Date.now() + 31 * DAY });
    expect(later.removed.map((r) => r.sessionId)).toEqual(["now_done"]);
    expect(later.skippedLive).toEqual(["now_live"]);
    expect(readKind(projectPath, "tool_usage", "now_live")).toHaveLength(1);
    await live.finalizeSession();
    await logger.finalizeSession();
  });

  for (const extra of [0, 1]) {
    it(`a restart after retention pruned every segment continues the chain, seq and segment numbers (${extra ? "a record left in the active file" : "the active file empty"}) and verifies`, async () => {
      const projectPath = tmpProject();
      const opts = { sessionId: "pruned_all", projectPath, durability: "sync" as const, rotation: { size: 1024 } };
      let logger = new AuditLogger(opts);
      const big = "y".repeat(200);
      for (let i = 0; i < 20 + extra; i++) logger.logToolUsage({ toolName: "t", operation: `o${i}`, parameters: { x: big } });
      await new Promise((resolve) => setTimeout(resolve, 5)); // (the records' time before the real clock's: minRetentionDays 0)
      const r = await logger.cleanup({ maxLogAgeDays: 1, now: Date.now() + 5 * DAY });
      expect(r.prunedSegments.length).toBeGreaterThan(0);
      await logger.finalizeSession();
      const dir = auditDirOf(projectPath);
      const segmentsBefore = fs.readdirSync(dir).filter((f) => /^tool_usage_pruned_all\.\d+\.jsonl$/.test(f));
      expect(segmentsBefore).toEqual([]);
      expect((await verifyAuditLog(dir)).problems).toEqual([]);
      // restart, same session (the seq, chain and segment numbers restarted at 1 when no file held a record)
      logger = new AuditLogger(opts);
      for (let i = 0; i < 20; i++) logger.logToolUsage({ toolName: "t", operation: `p${i}`, parameters: { x: big } });
      await logger.finalizeSession();
      const recs = readKind(projectPath, "tool_usage", "pruned_all");
      expect(recs[0]!.seq).toBeGreaterThan(20);
      expect(recs.map((x) => x.seq)).toEqual(recs.map((_x, i) => (recs[0]!.seq as number) + i));
      expect(recs.at(-1)!.seq).toBe(40 + extra);
      const numbers = fs.readdirSync(dir).map((f) => /^tool_usage_pruned_all\.(\d+)\.jsonl$/.exec(f)?.[1]).filter((n) => n !== undefined).map(Number);
      expect(Math.min(...numbers)).toBeGreaterThan(10);
      const v = await verifyAuditLog(dir);
      expect(v.problems).toEqual([]);
      expect(v.ok).toBe(true);
    });
  }

  it("compliance: minRetentionDays (2555) prevents deletion whatever maxLogAgeDays is asked", async () => {
    const projectPath = tmpProject();
    await oldSession(projectPath, "comp_old", 400);
    const logger = new AuditLogger(PresetConfigs.compliance("comp_active", projectPath, { encryptionKey: TEST_KEY, signingKey: generateKeyPairSync("ed25519").privateKey }));
    expect((await logger.cleanup({ maxLogAgeDays: 1 })).removed).toEqual([]);
    expect(fs.existsSync(path.join(auditDirOf(projectPath), "session_comp_old.json"))).toBe(true);
    // the floor is measured on the real clock: a `now` moved past it removes nothing younger
    // (it removed a session 400 days old; found by review, 2026-12-04)
    const future = await logger.cleanup({ maxLogAgeDays: 1, dryRun: true, now: Date.now() + (2555 - 400 + 2) * DAY });
    expect(future.removed).toEqual([]);
    expect(future.keptByRetention.map((k) => k.sessionId)).toEqual(["comp_old"]);
    const young = new AuditLogger({ sessionId: "comp_young", projectPath });
    young.logToolUsage({ toolName: "t", operation: "o" });
    await young.finalizeSession();
    expect((await logger.cleanup({ maxLogAgeDays: 1, now: Date.now() + 2600 * DAY })).removed).toEqual([]);
    expect(fs.existsSync(path.join(auditDirOf(projectPath), "session_comp_young.json"))).toBe(true);
    // past the floor by the real clock, a session goes
    await oldSession(projectPath, "comp_ancient", 2557);
    expect((await logger.cleanup({ maxLogAgeDays: 1, dryRun: true })).removed.map((r) => r.sessionId)).toEqual(["comp_ancient"]);
    await logger.finalizeSession();
  });
});

describe("legal holds placed by several processes at once", () => {
  it("are all kept: each update of the holds file is made under a lock (two processes overwrote each other's, and cleanup then removed a held session)", async () => {
    const { spawn } = await import("node:child_process");
    const { readHolds } = await import("../../src/holds.js");
    const { REPO_ROOT } = await import("../helpers/core.js");
    const projectPath = tmpProject();
    const count = 200;
    // both let go together once both are ready (see the fixture)
    const go = path.join(projectPath, "go");
    const run = (sid: string) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, [...childArgs(path.join(REPO_ROOT, "test/fixtures/core/hold-child.mts")), projectPath, sid, String(count), go], { stdio: "ignore" });
        child.on("exit", resolve);
      });
    const exits = [run("hold_a"), run("hold_b")];
    const deadline = Date.now() + 50_000;
    while (!["hold_a", "hold_b"].every((sid) => fs.existsSync(`${go}.ready.${sid}`)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    fs.writeFileSync(go, "");
    expect(await Promise.all(exits)).toEqual([0, 0]);
    const holds = readHolds(auditDirOf(projectPath));
    expect(holds).toHaveLength(2 * count);
    expect(new Set(holds.map((h) => h.scope)).size).toBe(2 * count);
  }, 60_000);
});

describe("a legal hold placed while cleanup runs", () => {
  it("keeps its session: the holds are read again, under their lock, right before each removal (one placed after cleanup's first read was not seen)", async () => {
    const { addHold } = await import("../../src/holds.js");
    const { cleanupSessions } = await import("../../src/retention.js");
    const projectPath = tmpProject();
    await oldSession(projectPath, "a_old", 400);
    await oldSession(projectPath, "b_old", 400);
    const dir = auditDirOf(projectPath);
    // another process places a hold on b_old once cleanup is under way (cleanup asks each
    // session's retention before its checks: the hold goes in between the first read and b_old's removal)
    const r = cleanupSessions(dir, {
      maxLogAgeDays: 30,
      retentionFor: (sid) => {
        if (sid === "b_old") addHold(dir, "b_old", "litigation", "other_process");
        return 30;
      },
    });
    expect(r.removed.map((x) => x.sessionId)).toEqual(["a_old"]);
    expect(r.skippedHeld).toEqual(["b_old"]);
    expect(fs.existsSync(path.join(dir, "session_b_old.json"))).toBe(true);
  });
});

// Found by a new user's review, 2026-12-05: cleanup() took its options unchecked. NaN (Number() of
// an unset environment variable) removed every session, as did 0 or a negative age; a misspelt
// `dryrun` was ignored and the cleanup removed for real; `now: "tomorrow"` and the internal
// members its type offered (`record`, `retentionFor`, `minRetentionDays`, `activeSessionId`) were
// taken and silently ignored. Now each is an AuditConfigError naming the field, and nothing goes.
describe("cleanup() options are checked before anything is removed", () => {
  type Untyped = (options: unknown) => Promise<unknown>;
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ["NaN (an unset environment variable)", { maxLogAgeDays: Number(process.env.AUDIT_TEST_UNSET_RETENTION) }, ["cleanup.maxLogAgeDays"]],
    ["0 days", { maxLogAgeDays: 0 }, ["cleanup.maxLogAgeDays"]],
    ["a negative age", { maxLogAgeDays: -1 }, ["cleanup.maxLogAgeDays"]],
    ["a fraction of a day", { maxLogAgeDays: 1.5 }, ["cleanup.maxLogAgeDays"]],
    ["Infinity", { maxLogAgeDays: Infinity }, ["cleanup.maxLogAgeDays"]],
    ["a misspelt dryRun", { dryrun: true, now: Date.now() + 100 * DAY }, ["cleanup.dryrun"]],
    ["a dryRun that is not a boolean", { dryRun: "yes", now: Date.now() + 100 * DAY }, ["cleanup.dryRun"]],
    ["a `now` that is not a time", { now: "tomorrow" }, ["cleanup.now"]],
    ["a `now` that is NaN", { now: Number.NaN }, ["cleanup.now"]],
    [
      "the internal members (and every bad field at once)",
      { maxLogAgeDays: Number.NaN, record: () => undefined, retentionFor: () => 1, minRetentionDays: 0, activeSessionId: "x" },
      ["cleanup.maxLogAgeDays", "cleanup.record", "cleanup.retentionFor", "cleanup.minRetentionDays", "cleanup.activeSessionId"],
    ],
  ];
  for (const thread of [false, true]) {
    it(`rejects with AUDIT_ERR_CONFIG naming each field, and removes nothing (thread: ${thread})`, async () => {
      const projectPath = tmpProject();
      await oldSession(projectPath, "opts_old", 100);
      await oldSession(projectPath, "opts_young", 1);
      const logger = new AuditLogger({ sessionId: "opts_active", projectPath, maxLogAgeDays: 30, thread });
      const before = [...snapshot(projectPath).keys()].filter((f) => !f.includes("opts_active"));
      for (const [what, options, fields] of cases) {
        const err = await (logger.cleanup as Untyped).call(logger, options).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, what).toBeInstanceOf(AuditConfigError);
        expect((err as AuditConfigError).code, what).toBe("AUDIT_ERR_CONFIG");
        expect((err as AuditConfigError).issues.map((i) => i.field), what).toEqual(fields);
        expect([...snapshot(projectPath).keys()].filter((f) => !f.includes("opts_active")), what).toEqual(before);
      }
      // (the message says what to give)
      const nan = (await (logger.cleanup as Untyped).call(logger, { maxLogAgeDays: Number.NaN }).catch((e: unknown) => e)) as AuditConfigError;
      expect(nan.message).toMatch(/cleanup\.maxLogAgeDays: must be a whole number of days, at least 1 \(got NaN/);
      // valid options still work
      expect((await logger.cleanup({ maxLogAgeDays: 30, dryRun: true })).removed.map((r) => r.sessionId)).toEqual(["opts_old"]);
      await logger.finalizeSession();
    });
  }

  it("the public type offers only maxLogAgeDays, dryRun and now", async () => {
    const logger = new AuditLogger({ sessionId: "opts_types", projectPath: tmpProject() });
    // @ts-expect-error an internal member is no option of cleanup()
    await expect(logger.cleanup({ record: () => undefined })).rejects.toThrow(AuditConfigError);
    // @ts-expect-error a misspelt option is no option of cleanup()
    await expect(logger.cleanup({ dryrun: true })).rejects.toThrow(AuditConfigError);
    await logger.finalizeSession();
  });

  it("cleanupSessions() checks its options too", async () => {
    const projectPath = tmpProject();
    await oldSession(projectPath, "cs_old", 100);
    const dir = auditDirOf(projectPath);
    expect(() => cleanupSessions(dir, { maxLogAgeDays: Number.NaN })).toThrow(expect.objectContaining({ code: "AUDIT_ERR_CONFIG", issues: [expect.objectContaining({ field: "cleanupSessions.maxLogAgeDays" })] }));
    expect(() => cleanupSessions(dir, { maxLogAgeDays: 30, dryrun: true } as never)).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ field: "cleanupSessions.dryrun" })] }));
    expect(fs.existsSync(path.join(dir, "session_cs_old.json"))).toBe(true);
    expect(cleanupSessions(dir, { maxLogAgeDays: 30, dryRun: true }).removed.map((r) => r.sessionId)).toEqual(["cs_old"]);
  });

  it("cleanupSessions() checks its directory too: not a non-empty string is an AuditConfigError naming auditDir, with the options' issues (API.md audit, 2026-12-05: a number was a bare TypeError, and \"\" cleaned the working directory)", async () => {
    const projectPath = tmpProject();
    await oldSession(projectPath, "cs_cwd", 100);
    const cwd = process.cwd();
    process.chdir(auditDirOf(projectPath));
    try {
      for (const bad of ["", 5, null, undefined]) {
        expect(() => cleanupSessions(bad as never, { maxLogAgeDays: 30 }), String(bad)).toThrow(expect.objectContaining({ code: "AUDIT_ERR_CONFIG", issues: [expect.objectContaining({ field: "cleanupSessions.auditDir" })] }));
      }
      expect(() => cleanupSessions(5 as never, { maxLogAgeDays: 0 })).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ field: "cleanupSessions.auditDir" }), expect.objectContaining({ field: "cleanupSessions.maxLogAgeDays" })] }));
    } finally {
      process.chdir(cwd);
    }
    expect(fs.existsSync(path.join(auditDirOf(projectPath), "session_cs_cwd.json"))).toBe(true);
  });
});

// Found by a new user's review, 2026-12-05: a logger's cleanup (and autoCleanup, on in the
// development preset) applied only its own minRetentionDays, so a development logger (30 days)
// removed a compliance session (minRetentionDays 2555) of the same directory 400 days old;
// `audit-logger cleanup` kept it (each session's floor from its session file). Now both do.
describe("every session's own minRetentionDays, whoever cleans up", () => {
  const compliance = (sessionId: string, projectPath: string) => PresetConfigs.compliance(sessionId, projectPath, { encryptionKey: TEST_KEY, signingKey: generateKeyPairSync("ed25519").privateKey });

  it("a development logger's autoCleanup keeps a compliance session of the directory (and removes one without a floor)", async () => {
    const projectPath = tmpProject();
    const compIds = await oldSession(projectPath, "comp_400", 400, { config: compliance });
    const plainIds = await oldSession(projectPath, "plain_400", 400);
    const compFiles = filesOf(projectPath, "comp_400", compIds, "all");
    expect(compFiles.length).toBeGreaterThan(3);
    const dev = new AuditLogger(PresetConfigs.development("dev_sess", projectPath));
    const dir = auditDirOf(projectPath);
    for (const f of compFiles) expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    expect(filesOf(projectPath, "plain_400", plainIds)).toEqual([]);
    const dry = await dev.cleanup({ dryRun: true, maxLogAgeDays: 1, now: Date.now() + 100 * DAY });
    expect(dry.removed).toEqual([]);
    expect(dry.keptByRetention).toEqual([expect.objectContaining({ sessionId: "comp_400", retentionDays: 2555 })]);
    await dev.finalizeSession();
  });

  it("logger.cleanup() keeps a young compliance session whatever maxLogAgeDays and now say (the floor on the real clock), and records each removed session's own floor", async () => {
    const projectPath = tmpProject();
    await oldSession(projectPath, "comp_young", 2, { config: compliance });
    await oldSession(projectPath, "floor_10", 40, { config: (sessionId, p) => new AuditConfig({ sessionId, projectPath: p, minRetentionDays: 10 }) });
    const logger = new AuditLogger({ sessionId: "plain_active", projectPath, maxLogAgeDays: 30 });
    const r = await logger.cleanup({ maxLogAgeDays: 1, now: Date.now() + 3000 * DAY });
    expect(r.removed.map((x) => x.sessionId)).toEqual(["floor_10"]);
    expect(r.keptByRetention.map((k) => [k.sessionId, k.retentionDays])).toEqual([["comp_young", 2555]]);
    const dir = auditDirOf(projectPath);
    expect(fs.existsSync(path.join(dir, "session_comp_young.json"))).toBe(true);
    await logger.finalizeSession();
    const pruned = readJsonl<{ eventType: string; details: { sessionId?: string; policy?: unknown } }>(path.join(dir, "audit_events_plain_active.jsonl")).filter((e) => e.eventType === "retention_pruned");
    expect(pruned.map((e) => [e.details.sessionId, e.details.policy])).toEqual([["floor_10", { maxLogAgeDays: 1, minRetentionDays: 10 }]]);
    expect((await verifyAuditLog(dir)).problems).toEqual([]);
  });
});

describe("a segment a failed rotation still writes to (the documented name could not be opened again)", () => {
  it("is never pruned, however idle the app stays: every record logged before and after is on disk, and the log verifies", async () => {
    const projectPath = tmpProject();
    const sid = "unopened";
    // a real process that runs out of file descriptors (EMFILE) right after a rotation's rename
    const h = startFixture("rotation-unopened-child.mts", {}, [projectPath, sid]);
    const exit = await h.exited;
    expect(exit.code, exit.stderr).toBe(0);
    const out = h.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    const rotationError = out.find((o) => "rotationError" in o)!.rotationError as string;
    expect(rotationError).toMatch(/EMFILE.*Records go on to tool_usage_unopened\.2\.jsonl/);
    // the full segment before it goes; the one in use does not
    expect(out.find((o) => "pruned" in o)!.pruned).toEqual(["tool_usage_unopened.1.jsonl"]);
    const { ids, otherErrors } = out.find((o) => "ids" in o) as { ids: string[]; otherErrors: string[] };
    expect(otherErrors).toEqual([]);
    expect(out.at(-1)).toEqual({ done: true });
    // every record logged after segment 1 was pruned is on disk (they went to the removed file)
    const onDisk = readKind(projectPath, "tool_usage", sid).map((r) => r.id);
    expect(onDisk.length).toBeGreaterThan(20);
    expect(onDisk).toEqual(ids.slice(ids.length - onDisk.length));
    expect(ids.slice(-20).every((id) => onDisk.includes(id))).toBe(true);
    const report = await verifyAuditLog(auditDirOf(projectPath), { sessionId: sid });
    expect(report.problems).toEqual([]);
  });
});
