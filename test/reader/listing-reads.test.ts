/**
 * A listing (FileRecordSource.listSessions(), which serve runs on each GET /api/sessions) reads
 * the directory once. Found 2026-12-05: it read it again for the sessions whose records are gone
 * (sessionRemains), and judged every session's files three times (listSessionIds: a stat of each
 * chain file each time), and chainedHolds filtered the whole listing for each session's chain
 * (quadratic: at 2,000 sessions, 16,000 files, about 2.4-3.9 s of chainedHolds, 0.6-0.8 s after,
 * on a shared machine; docs/BENCHMARKS.md). Real loggers, real files; the listing's holds checked
 * as they read.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it, vi } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { FileRecordSource } from "../../src/reader/records.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";

afterEach(() => {
  vi.restoreAllMocks();
  cleanupTmp();
});

it("lists from one read of the directory, with the chained holds of sessions whose records are gone", async () => {
  const projectPath = tmpProject("audit-listing-reads-");
  const dir = auditDirOf(projectPath);
  for (const sid of ["a", "b", "c"]) {
    const l = new AuditLogger({ sessionId: sid, projectPath, fullContentLogging: false });
    l.logToolUsage({ toolName: "t", operation: sid });
    await l.finalizeSession();
  }
  const officer = new AuditLogger({ sessionId: "officer", projectPath, fullContentLogging: false });
  const ghost = officer.placeLegalHold("ghost", "case 1");
  const released = officer.placeLegalHold("ghost2", "case 2");
  officer.releaseLegalHold(released, "case 2 closed");
  await officer.finalizeSession();
  fs.rmSync(`${dir}/legal_holds.json`);

  const source = new FileRecordSource(dir);
  const reads = vi.spyOn(fs, "readdirSync");
  const listing = await source.listSessions();
  const ofDir = reads.mock.calls.filter(([p]) => String(p) === dir);
  expect(ofDir).toHaveLength(1);
  expect(listing.map((s) => s.sessionId).sort()).toEqual(["a", "b", "c", "ghost", "officer"]);
  expect(listing.find((s) => s.sessionId === "ghost")?.remains?.holds.map((h) => h.holdId)).toEqual([ghost]);
  reads.mockRestore();
  // one session's entry alone (serve's stats): as the listing has it, for each session listed
  for (const s of listing.filter((l) => !l.recordsGone)) expect(await source.sessionListing(s.sessionId), s.sessionId).toEqual(s);
});

it("verifying one session lists the directory as often whatever the number of sessions, and still judges it by every session's holds", async () => {
  // Found 2026-12-06: the holds, shreddings and removals of every session's chain were gathered
  // by listing the directory again for each session (at 2,000 sessions, ~45 s for serve's first
  // integrity verdict of one session).
  const projectPath = tmpProject("audit-verify-reads-");
  const dir = auditDirOf(projectPath);
  const session = async (sid: string): Promise<void> => {
    const l = new AuditLogger({ sessionId: sid, projectPath, fullContentLogging: false });
    l.logToolUsage({ toolName: "t", operation: sid });
    await l.finalizeSession();
  };
  for (const sid of ["a", "b"]) await session(sid);
  // a hold on "gone" placed in another session's chain, then "gone" removed by hand: a hold in force covers it
  await session("gone");
  const officer = new AuditLogger({ sessionId: "officer", projectPath, fullContentLogging: false });
  officer.placeLegalHold("gone", "case 1");
  await officer.finalizeSession();
  for (const f of fs.readdirSync(dir)) if (f.includes("_gone.")) fs.rmSync(`${dir}/${f}`);

  const listings = async (): Promise<{ n: number; problems: string[] }> => {
    const reads = vi.spyOn(fs, "readdirSync");
    const report = await verifyAuditLog(dir, { sessionId: "a" });
    const n = reads.mock.calls.filter(([p]) => path.resolve(String(p)) === path.resolve(dir)).length;
    reads.mockRestore();
    return { n, problems: report.problems.map((p) => `${p.kind}:${p.sessionId ?? ""}`) };
  };
  const few = await listings();
  for (let i = 0; i < 6; i++) await session(`more${i}`);
  const many = await listings();
  expect(many.n).toBe(few.n);
  expect(few.problems).toEqual([]);
  expect(many.problems).toEqual([]);
  // (the holds of every chain are read, as before: the directory's verdict names the session a hold covers that is gone)
  expect((await verifyAuditLog(dir)).problems.map((p) => `${p.kind}:${p.sessionId ?? ""}`)).toEqual(["session_missing:gone"]);
});
