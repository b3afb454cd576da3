// The chained evidence of a legal hold (its `legal_hold_placed` record) is in the audit_event
// chain of the session that placed it. Found 2026-12-05:
// 1. a cleanup that removed that session removed its chain, and the removal record carried its
//    shreddings and removals but not its holds: the hold lived on in legal_holds.json only (not
//    chained, not signed); with that file lost, the next cleanup removed the held session, and
//    verify said nothing of a held session deleted. The removal record now carries the holds
//    placed and released in the removed chain (`legalHolds`, `releasedHolds`).
// 2. cleanup read the holds of the chains of listed sessions only: a hold in the chain of a
//    session whose records are gone (reader/remains.ts) was not honoured with legal_holds.json lost.
// Real loggers, the real cleanup, real files, the CLI's verify and the viewer's API over HTTP.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer } from "../../src/index.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { chainedHolds } from "../../src/retention.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";
import { runCli } from "../cli/helpers.js";

const DAY = 86_400_000;
const servers: RunningServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  cleanupTmp();
});

const logger = (projectPath: string, sessionId: string) => new AuditLogger({ sessionId, projectPath, fullContentLogging: false });

function filesOf(dir: string, sid: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.includes(`_${sid}.`) || n.includes(`_${sid}_`) || n === `session_${sid}.json`);
}

async function cleanupAt(projectPath: string, sid: string, days: number) {
  const l = logger(projectPath, sid);
  try {
    return await l.cleanup({ maxLogAgeDays: 1, now: Date.now() + days * DAY });
  } finally {
    await l.finalizeSession();
  }
}

/** "target" (old), and "judge" (old) that placed hold "case 7" on it; both finalized. */
async function heldByJudge(): Promise<{ projectPath: string; dir: string; holdId: string }> {
  const projectPath = tmpProject("audit-held-chains-");
  const dir = auditDirOf(projectPath);
  const target = logger(projectPath, "target");
  target.logToolUsage({ toolName: "t", operation: "evidence" });
  await target.finalizeSession();
  const judge = logger(projectPath, "judge");
  const holdId = judge.placeLegalHold("target", "case 7");
  judge.logToolUsage({ toolName: "t", operation: "o" });
  await judge.finalizeSession();
  await new Promise((resolve) => setTimeout(resolve, 5));
  return { projectPath, dir, holdId };
}

async function verifyJson(dir: string): Promise<{ ok: boolean; problems: Array<{ kind: string; sessionId?: string; detail: string }> }> {
  const v = await runCli(["verify", dir, "--json"]);
  return JSON.parse(v.stdout) as { ok: boolean; problems: Array<{ kind: string; sessionId?: string; detail: string }> };
}

describe("a legal hold whose placing session is removed by retention", () => {
  it("is carried in the removal record: still honoured with legal_holds.json lost, still listed by the viewer's API, and verify still knows it", async () => {
    const { projectPath, dir, holdId } = await heldByJudge();
    // the real cleanup removes "judge" (not held), keeps "target" (held)
    const first = await cleanupAt(projectPath, "officer", 5);
    expect(first.removed.map((r) => r.sessionId)).toEqual(["judge"]);
    expect(first.skippedHeld).toEqual(["target"]);
    expect(filesOf(dir, "judge")).toEqual([]);
    // the removal record carries the hold
    const pruned = fs
      .readFileSync(path.join(dir, "audit_events_officer.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { eventType: string; details: { sessionId?: string; legalHolds?: unknown } })
      .find((r) => r.eventType === "retention_pruned" && r.details.sessionId === "judge");
    expect(pruned?.details.legalHolds).toEqual([{ holdId, scope: "target", placedAt: expect.any(String), placedBySession: "judge", reason: "case 7" }]);
    expect((await verifyJson(dir)).ok).toBe(true);

    // legal_holds.json lost: the hold is still honoured, from the chained record
    fs.rmSync(path.join(dir, "legal_holds.json"));
    const second = await cleanupAt(projectPath, "officer2", 5);
    // ("officer", as old at that time, goes too: its record of the hold is carried on)
    expect(second.removed.map((r) => r.sessionId)).toEqual(["officer"]);
    expect(second.skippedHeld).toEqual(["target"]);
    expect(filesOf(dir, "target")).toEqual(expect.arrayContaining(["session_target.json", "tool_usage_target.jsonl"]));
    const verdict = await verifyJson(dir);
    expect(verdict.problems).toEqual([]);
    expect(verdict.ok).toBe(true);

    // the viewer's API lists it, in force, placed by "judge"
    const server = await startServer({ auditPath: dir, port: 0 });
    servers.push(server);
    const r = await fetch(`${server.baseUrl}api/events`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { holds: Array<{ holdId: string; scope: string; reason: string | null; placedBySession: string | null; released: unknown; inHoldsFile: boolean | null }> };
    expect(body.holds).toEqual([expect.objectContaining({ holdId, scope: "target", reason: "case 7", placedBySession: "judge", released: null, inHoldsFile: false })]);

    // the held session's files deleted by hand: verify says so (the hold is in force on it)
    for (const f of filesOf(dir, "target")) fs.rmSync(path.join(dir, f));
    const after = await verifyJson(dir);
    expect(after.ok).toBe(false);
    expect(after.problems).toEqual([expect.objectContaining({ kind: "session_missing", sessionId: "target" })]);
    expect(after.problems[0]!.detail).toContain(holdId);
  }, 90_000);

  it("released after its placing session is gone: the release counts, and the held session is removed then", async () => {
    const { projectPath, dir, holdId } = await heldByJudge();
    await cleanupAt(projectPath, "officer", 5);
    const releaser = logger(projectPath, "releaser");
    releaser.releaseLegalHold(holdId, "case 7 closed");
    await releaser.finalizeSession();
    fs.rmSync(path.join(dir, "legal_holds.json"), { force: true });
    const after = await cleanupAt(projectPath, "officer2", 5);
    // ("officer" and "releaser" go too: the release, in "releaser"'s chain, is carried in its removal record)
    expect(after.removed.map((r) => r.sessionId).sort()).toEqual(["officer", "releaser", "target"]);
    expect(filesOf(dir, "target")).toEqual([]);
    expect((await verifyJson(dir)).ok).toBe(true);
  }, 90_000);

  it("carried on through a second removal: the record of the session that removed the placer goes too, and the hold still stands", async () => {
    const { projectPath, dir, holdId } = await heldByJudge();
    // "officer" removes "judge"; later "officer" itself is removed by "officer2"
    await cleanupAt(projectPath, "officer", 5);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await cleanupAt(projectPath, "officer2", 10);
    expect(second.removed.map((r) => r.sessionId)).toEqual(["officer"]);
    expect(filesOf(dir, "officer")).toEqual([]);
    fs.rmSync(path.join(dir, "legal_holds.json"));
    const third = await cleanupAt(projectPath, "officer3", 15);
    expect(third.skippedHeld).toContain("target");
    expect(filesOf(dir, "target").length).toBeGreaterThan(0);
    const sessions = await new AuditViewer({ auditPath: dir }).listSessions();
    expect(sessions.some((s) => s.sessionId === "target")).toBe(true);
    expect((await verifyJson(dir)).ok).toBe(true);
    void holdId;
  }, 90_000);
});

describe("a legal hold in the chain of a session whose records are gone", () => {
  it("is honoured by cleanup with legal_holds.json lost: the held session is kept", async () => {
    const { projectPath, dir, holdId } = await heldByJudge();
    // "judge"'s records and session file gone (by hand): its audit_event chain is left
    for (const f of filesOf(dir, "judge")) if (!f.startsWith("audit_events_") && !f.startsWith("checkpoints_")) fs.rmSync(path.join(dir, f));
    expect(filesOf(dir, "judge")).toEqual(["audit_events_judge.jsonl"]);
    fs.rmSync(path.join(dir, "legal_holds.json"));
    const r = await cleanupAt(projectPath, "officer", 5);
    expect(r.removed).toEqual([]);
    expect(r.skippedHeld).toEqual(["target"]);
    expect(filesOf(dir, "target")).toEqual(expect.arrayContaining(["session_target.json", "tool_usage_target.jsonl"]));
    expect(filesOf(dir, "judge")).toEqual(["audit_events_judge.jsonl"]);
    void holdId;
  }, 90_000);
});

// Found 2026-12-05 (seen, now checked): with legal_holds.json deleted, releaseLegalHold(holdId,
// reason) looked for the id in the file only, released nothing (returned 0, no record), and the
// hold the chains still place stayed in force for cleanup and in the sessions listing, with no
// way to release it. The holds in force are now the file's and the chains' (as cleanup honours
// them); a release of a chained hold records its id, so the chains no longer place it.
describe("a legal hold released by its id after legal_holds.json was deleted", () => {
  for (const thread of [false, true]) {
    it(`is released: gone from the sessions listing, and cleanup honours the release (thread: ${thread})`, async () => {
      const { projectPath, dir, holdId } = await heldByJudge();
      // a second hold, on a session that has no files: the listing shows it (recordsGone) while it stands
      const judge2 = logger(projectPath, "judge2");
      const ghostHold = judge2.placeLegalHold("ghost", "case 8");
      await judge2.finalizeSession();
      fs.rmSync(path.join(dir, "legal_holds.json"));
      const listed = async () => (await new AuditViewer({ auditPath: dir }).listSessions()).filter((s) => s.recordsGone).map((s) => ({ sessionId: s.sessionId, holds: s.remains?.holds.map((h) => h.holdId) }));
      expect(await listed()).toEqual([{ sessionId: "ghost", holds: [ghostHold] }]);

      const releaser = new AuditLogger({ sessionId: "releaser", projectPath, fullContentLogging: false, thread });
      // (one argument is a reason: a chained hold's id there is refused, as a filed one's)
      expect(() => releaser.releaseLegalHold(holdId)).toThrow(/reason/);
      expect(releaser.releaseLegalHold(holdId, "case 7 closed")).toBe(1);
      expect(releaser.releaseLegalHold(ghostHold, "case 8 closed")).toBe(1);
      // (released once: a second release finds it in force nowhere)
      expect(releaser.releaseLegalHold(holdId, "again")).toBe(0);
      await releaser.finalizeSession();
      const released = fs
        .readFileSync(path.join(dir, "audit_events_releaser.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { eventType: string; details: { scope?: string; holdIds?: string[] } })
        .filter((r) => r.eventType === "legal_hold_released")
        .map((r) => r.details);
      expect(released).toEqual([
        { scope: "target", holdIds: [holdId] },
        { scope: "ghost", holdIds: [ghostHold] },
        // (a release that finds nothing is recorded too, as ever: no id, the target as its scope)
        { scope: holdId, holdIds: [] },
      ]);
      // (the file the release wrote lists no hold)
      expect(JSON.parse(fs.readFileSync(path.join(dir, "legal_holds.json"), "utf8"))).toEqual({ holds: [] });

      expect(await listed()).toEqual([]);
      const after = await cleanupAt(projectPath, "officer", 5);
      expect(after.skippedHeld).toEqual([]);
      expect(after.removed.map((r) => r.sessionId)).toContain("target");
      expect(filesOf(dir, "target")).toEqual([]);
      expect((await verifyJson(dir)).ok).toBe(true);
    }, 90_000);
  }
});

describe("the copy of a hold a removal record carries, against the hold's own placement record", () => {
  it("is written whole by a cleanup whose logger keeps values short: the release naming the hold's id releases it, and the listing shows it as placed", async () => {
    // (the removal record's details were cut to the cleaning logger's maxValueChars: the copy's
    // hold id, time and reason were cut, so once the placing session was removed a release naming
    // the real id did not release the copy, and the held session was kept for good; the listing
    // showed the cut copy beside the register's hold; found by the session-status pass, 2026-12-05)
    const { projectPath, dir, holdId } = await heldByJudge();
    const placement = JSON.parse(fs.readFileSync(path.join(dir, "audit_events_judge.jsonl"), "utf8").split("\n")[0]!) as { timestamp: string };
    const officer = new AuditLogger({ sessionId: "officer", projectPath, fullContentLogging: false, maxValueChars: 20 });
    expect((await officer.cleanup({ maxLogAgeDays: 1, now: Date.now() + 5 * DAY })).removed.map((r) => r.sessionId)).toEqual(["judge"]);
    await officer.finalizeSession();
    const pruned = fs
      .readFileSync(path.join(dir, "audit_events_officer.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { eventType: string; details: { sessionId?: string; legalHolds?: unknown; files?: unknown } })
      .find((r) => r.eventType === "retention_pruned" && r.details.sessionId === "judge");
    expect(pruned?.details.legalHolds).toEqual([{ holdId, scope: "target", placedAt: placement.timestamp, placedBySession: "judge", reason: "case 7" }]);
    expect(pruned?.details.files).toEqual(expect.arrayContaining(["audit_events_judge.jsonl", "performance_metrics_judge.jsonl"]));
    expect(chainedHolds(dir)).toEqual([{ id: holdId, scope: "target", reason: "case 7", placedAt: placement.timestamp, placedBySession: "judge" }]);
    expect((await verifyJson(dir)).ok).toBe(true);
    // released by its id, legal_holds.json lost: the next cleanup removes "target"
    const releaser = logger(projectPath, "releaser");
    expect(releaser.releaseLegalHold(holdId, "case 7 closed")).toBe(1);
    await releaser.finalizeSession();
    fs.rmSync(path.join(dir, "legal_holds.json"));
    const after = await cleanupAt(projectPath, "officer2", 5);
    expect(after.skippedHeld).toEqual([]);
    expect(after.removed.map((r) => r.sessionId)).toContain("target");
    expect(filesOf(dir, "target")).toEqual([]);
  }, 90_000);

  it("a copy that differs from the placement record (cut, as one written before 2026-12-05): the record wins, whichever chain is read first", async () => {
    // ("archive" sorts before "judge": its chain, with the copy, is read first; the first one read
    // won until 2026-12-05, found by the session-status pass)
    const projectPath = tmpProject("audit-held-chains-");
    const dir = auditDirOf(projectPath);
    const reason = "subpoena 2026-118, every record of never_here";
    const judge = logger(projectPath, "judge");
    const holdId = judge.placeLegalHold("never_here", reason);
    await judge.finalizeSession();
    const chainFile = path.join(dir, "audit_events_judge.jsonl");
    const backup = fs.readFileSync(chainFile);
    const placedAt = (JSON.parse(backup.toString("utf8").split("\n")[0]!) as { timestamp: string }).timestamp;
    expect((await cleanupAt(projectPath, "archive", 5)).removed.map((r) => r.sessionId)).toEqual(["judge"]);
    // "judge"'s chain restored from a backup; "archive"'s copy as a logger with maxValueChars 30
    // wrote it before 2026-12-05 (its reason cut: the id and time fit)
    fs.writeFileSync(chainFile, backup);
    const archive = path.join(dir, "audit_events_archive.jsonl");
    const cut = `${reason.slice(0, 30)}…[truncated ${reason.length - 30} chars]`;
    const lines = fs.readFileSync(archive, "utf8").split("\n").filter(Boolean).map((l) => {
      const r = JSON.parse(l) as { eventType: string; details: { legalHolds?: Array<{ holdId: string; reason: string }> } };
      for (const h of r.details.legalHolds ?? []) if (h.holdId === holdId) h.reason = cut;
      return JSON.stringify(r);
    });
    expect(lines.some((l) => l.includes(cut))).toBe(true);
    fs.writeFileSync(archive, `${lines.join("\n")}\n`);
    const held = { reason, placedAt, placedBySession: "judge" };
    expect(chainedHolds(dir)).toEqual([{ id: holdId, scope: "never_here", ...held }]);
    const listed = (await new AuditViewer({ auditPath: dir }).listSessions()).find((l) => l.sessionId === "never_here");
    expect(listed?.remains?.holds).toEqual([{ holdId, ...held }]);
  }, 90_000);
});

// Found by review, 2026-12-05 (merge of 89cafe6 and 0026309): a release reads the chains only when
// the file's holds give nothing to release, so with legal_holds.json lost and a new hold placed on
// the same scope since (the file then listed that one alone), the scope form found one hold (the
// file's) and released it, though two were in force there (docs/TRUST.md: it refuses, naming each,
// and releases none); and the one-argument form took the id of a hold only the chains held for a
// reason, and released this session's filed hold. A missing file is now rebuilt from the chains.
describe("a release by scope after legal_holds.json lost one of the scope's holds", () => {
  for (const thread of [false, true]) {
    it(`refuses while the chained hold and the newer filed one are both in force, and each is released by its id (thread: ${thread})`, async () => {
      const { projectPath, dir, holdId } = await heldByJudge();
      fs.rmSync(path.join(dir, "legal_holds.json"));
      const judge2 = new AuditLogger({ sessionId: "judge2", projectPath, fullContentLogging: false, thread });
      const second = judge2.placeLegalHold("target", "case 8");
      // (the file, rebuilt from the chains as the hold is placed, lists both: it listed the newer alone)
      expect((JSON.parse(fs.readFileSync(path.join(dir, "legal_holds.json"), "utf8")) as { holds: Array<{ id: string }> }).holds.map((h) => h.id)).toEqual([holdId, second]);
      let refused: unknown;
      try {
        judge2.releaseLegalHold("target", "case 8 closed");
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(Error);
      expect(String((refused as Error).message)).toContain(holdId);
      expect(String((refused as Error).message)).toContain(second);
      // (one argument is a reason: the chained hold's id there is refused, and this session's hold stays)
      const own = judge2.placeLegalHold("own session");
      expect(() => judge2.releaseLegalHold(holdId)).toThrow(/reason/);
      expect(judge2.releaseLegalHold(own, "own released")).toBe(1);
      expect(judge2.releaseLegalHold(second, "case 8 closed")).toBe(1);
      // (now one hold is in force on the scope, the chained one: the scope form releases it)
      expect(judge2.releaseLegalHold("target", "case 7 closed")).toBe(1);
      await judge2.finalizeSession();
      expect(chainedHolds(dir).filter((h) => h.scope === "target")).toEqual([]);
      const after = await cleanupAt(projectPath, "officer", 5);
      expect(after.removed.map((r) => r.sessionId)).toContain("target");
    }, 90_000);
  }
});
