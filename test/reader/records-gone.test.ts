/**
 * A session whose records are gone (removed by retention, or by hand) but that a legal hold in
 * force names, or whose chain of holds and shreddings and key store are left, was in no listing:
 * the readers list sessions by their session file and record files, so an officer looking at the
 * viewer could not see that the hold or the shredding existed (found by the viewer pass,
 * 2026-12-05). Such a session is now listed, flagged `recordsGone`, with what is left. Real
 * loggers, the real cleanup, real files, the real server over HTTP and headless Chromium.
 */
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer } from "../../src/index.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { FileRecordSource } from "../../src/reader/records.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";

const CHROMIUM = process.env.AUDIT_LOGGER_CHROMIUM ?? "/usr/bin/chromium";
const DAY = 86_400_000;
const servers: RunningServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  cleanupTmp();
});

interface Listed {
  sessionId: string;
  status: string;
  totalRecords: number;
  recordsGone?: boolean;
  remains?: { files: string[]; holds: Array<{ holdId: string; reason: string; placedBySession: string }> };
}

/** "old" and "eraser" (which shredded carol) removed by the real cleanup, then "old" held ("subpoena 12", placed by "officer"); "officer": whole. */
async function directory(): Promise<{ dir: string; holdId: string }> {
  const projectPath = tmpProject("audit-records-gone-");
  const dir = auditDirOf(projectPath);
  const old = new AuditLogger({ sessionId: "old", projectPath, fullContentLogging: false });
  old.logToolUsage({ toolName: "t", operation: "o" });
  await old.finalizeSession();
  const eraser = new AuditLogger({ sessionId: "eraser", projectPath, fullContentLogging: false, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
  eraser.logChatInteraction({ model: "m", prompt: "carol's question", response: "answer", userId: "carol" });
  eraser.shredSubject("carol", "GDPR erasure #9");
  await eraser.finalizeSession();
  await new Promise((resolve) => setTimeout(resolve, 5)); // (the records' time before the real clock's)

  const officer = new AuditLogger({ sessionId: "officer", projectPath, fullContentLogging: false });
  const removed = await officer.cleanup({ maxLogAgeDays: 1, now: Date.now() + 5 * DAY });
  expect(removed.removed.map((r) => r.sessionId).sort()).toEqual(["eraser", "old"]);
  // the real cleanup removed every file of both (the shredding is carried in its removal record)
  expect(fs.readdirSync(dir).filter((n) => n.includes("old") || n.includes("eraser"))).toEqual([]);
  const holdId = officer.placeLegalHold("old", "subpoena 12");
  officer.logToolUsage({ toolName: "t", operation: "o" });
  await officer.finalizeSession();
  return { dir, holdId };
}

/** As `directory`, but "eraser"'s records and session file removed by hand before the cleanup: its audit_event chain and key store stay. */
async function directoryByHand(): Promise<{ dir: string; holdId: string }> {
  const projectPath = tmpProject("audit-records-gone-");
  const dir = auditDirOf(projectPath);
  const eraser = new AuditLogger({ sessionId: "eraser", projectPath, fullContentLogging: false, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
  eraser.logChatInteraction({ model: "m", prompt: "carol's question", response: "answer", userId: "carol" });
  eraser.shredSubject("carol", "GDPR erasure #9");
  await eraser.finalizeSession();
  for (const name of fs.readdirSync(dir)) {
    if (/^(chat_interactions|persona_activities|tool_usage|file_operations|performance_metrics|errors)_eraser(\.\d+)?\.jsonl$/.test(name) || name === "session_eraser.json") fs.rmSync(path.join(dir, name));
  }
  const old = new AuditLogger({ sessionId: "old", projectPath, fullContentLogging: false });
  old.logToolUsage({ toolName: "t", operation: "o" });
  await old.finalizeSession();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const officer = new AuditLogger({ sessionId: "officer", projectPath, fullContentLogging: false });
  const removed = await officer.cleanup({ maxLogAgeDays: 1, now: Date.now() + 5 * DAY });
  expect(removed.removed.map((r) => r.sessionId)).toEqual(["old"]);
  const holdId = officer.placeLegalHold("old", "subpoena 12");
  officer.logToolUsage({ toolName: "t", operation: "o" });
  await officer.finalizeSession();
  return { dir, holdId };
}

function expectListing(sessions: readonly Listed[], holdId: string): void {
  const by = new Map(sessions.map((s) => [s.sessionId, s]));
  expect([...by.keys()].sort()).toEqual(["eraser", "officer", "old"]);
  expect(by.get("officer")).toMatchObject({ status: "finalized", totalRecords: 1 });
  expect(by.get("officer")!.recordsGone).toBeUndefined();
  expect(by.get("old")).toMatchObject({ status: "unknown", totalRecords: 0, recordsGone: true, remains: { files: [], holds: [{ holdId, reason: "subpoena 12", placedBySession: "officer" }] } });
  expect(by.get("eraser")).toMatchObject({ status: "unknown", totalRecords: 0, recordsGone: true, remains: { holds: [] } });
  expect(by.get("eraser")!.remains!.files).toEqual(expect.arrayContaining(["audit_events_eraser.jsonl", "subject_keys_eraser.jsonl"]));
  // whole sessions first (newest activity first), then those whose records are gone
  expect(sessions[0]!.sessionId).toBe("officer");
}

describe("a session whose records are gone but whose hold or shredding is left", () => {
  it("is listed by listSessions(), flagged recordsGone, with the hold that names it and the files left", async () => {
    const { dir, holdId } = await directoryByHand();
    expectListing((await new AuditViewer({ auditPath: dir }).listSessions()) as Listed[], holdId);
  }, 60_000);

  it("the whole session removed by the real cleanup and then held: listed with its hold", async () => {
    const { dir, holdId } = await directory();
    const sessions = (await new AuditViewer({ auditPath: dir }).listSessions()) as Listed[];
    expect(sessions.find((s) => s.sessionId === "old")).toMatchObject({ recordsGone: true, remains: { files: [], holds: [{ holdId, reason: "subpoena 12" }] } });
    expect(sessions.some((s) => s.sessionId === "eraser")).toBe(false); // (nothing of it left, nothing names it)
  }, 60_000);

  it("the viewer's API lists it, and its holds page shows the shredding its chain records; the sessions page shows the row (Chromium)", async () => {
    const { dir, holdId } = await directoryByHand();
    const server = await startServer({ auditPath: dir, port: 0 });
    servers.push(server);
    const get = async (p: string) => {
      const r = await fetch(`${server.baseUrl}${p}`, { headers: { authorization: `Bearer ${server.token}` } });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const list = await get("api/sessions");
    expect(list.status).toBe(200);
    expectListing(list.body.sessions as Listed[], holdId);
    const events = (await get("api/events")).body as { events: Array<{ sessionId: string; eventType: string; reason: string | null }> };
    expect(events.events.filter((e) => e.sessionId === "eraser").map((e) => [e.eventType, e.reason])).toEqual([["subject_shredded", "GDPR erasure #9"]]);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
    try {
      const page = await browser.newPage();
      await page.goto(server.url);
      const old = page.locator('[data-testid="session-row"][data-session="old"]');
      await old.waitFor({ timeout: 20_000 });
      expect(await old.locator('[data-testid="status"]').innerText()).toBe("records gone");
      expect(await old.locator('[data-testid="remains"]').innerText()).toContain("a legal hold in force names it (subpoena 12)");
      const eraser = page.locator('[data-testid="session-row"][data-session="eraser"]');
      expect(await eraser.locator('[data-testid="remains"]').innerText()).toContain("audit_events_eraser.jsonl");
      // the whole session's row still fills in its figures and verdict
      await expect.poll(() => page.locator('[data-testid="session-row"][data-session="officer"] [data-testid="integrity"]').innerText(), { timeout: 20_000 }).toMatch(/✓/);
      await old.locator('a[href="#/events"]').click();
      await page.locator("text=subpoena 12").first().waitFor({ timeout: 20_000 });
    } finally {
      await browser.close();
    }
  }, 90_000);

  // Found by review, 2026-12-05: listSessions() read legal_holds.json and every session's
  // audit_event chain on every call (serve lists on each GET /api/sessions and for each session's
  // stats); each chain file's holds are now kept while the file is unchanged.
  it("a second listing reads no unchanged audit_event file again; a changed one is read again and its hold seen", async () => {
    const { dir } = await directory();
    const source = new FileRecordSource(dir);
    const chainFiles = fs.readdirSync(dir).filter((n) => n.startsWith("audit_events_")).length;
    const first = await source.listSessions();
    expect(source.chainFileStats()).toEqual({ read: chainFiles, reused: 0 });
    const second = await source.listSessions();
    expect(second).toEqual(first);
    expect(source.chainFileStats()).toEqual({ read: chainFiles, reused: chainFiles });
    // a hold on "eraser" (whose every file the cleanup removed) placed by a new session: its one new file read
    const projectPath = path.dirname(dir);
    const clerk = new AuditLogger({ sessionId: "clerk", projectPath, fullContentLogging: false });
    const holdId = clerk.placeLegalHold("eraser", "audit 7");
    await clerk.finalizeSession();
    const third = await source.listSessions();
    expect(source.chainFileStats()).toEqual({ read: chainFiles + 1, reused: 2 * chainFiles });
    expect(third.find((s) => s.sessionId === "eraser")?.remains?.holds.map((h) => h.holdId)).toEqual([holdId]);
    // that file changed (the hold released): read again, and the hold is gone from the listing
    const clerk2 = new AuditLogger({ sessionId: "clerk", projectPath, fullContentLogging: false });
    clerk2.releaseLegalHold(holdId, "closed");
    await clerk2.finalizeSession();
    const fourth = await source.listSessions();
    expect(source.chainFileStats()).toEqual({ read: chainFiles + 2, reused: 3 * chainFiles });
    expect(fourth.find((s) => s.sessionId === "eraser")).toBeUndefined();
  });
});
