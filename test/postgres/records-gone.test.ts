// The store's listing of a session whose records its retention removed (found by the
// session-status pass, 2026-12-05). Over the files such a session was in no listing until
// reader/remains.ts listed it as "records gone"; over the store its row, which cannot be deleted,
// kept it listed, but as "finalized" with 0 records, like a session that logged nothing, and a
// legal hold placed on it since was not shown. Real PostgreSQL, real retention.
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { AuditExporter, AuditViewer, verifyExport } from "../../src/index.js";
import { AuditLogger, withRecordTime } from "../../src/logger.js";
import { applyPostgresRetention, PostgresSink } from "../../src/postgres/index.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { PG_URL, schemaRegistry } from "../fixtures/postgres/db.js";

const { schemaFor, dropAll } = schemaRegistry();
const CHROMIUM = process.env.AUDIT_LOGGER_CHROMIUM ?? "/usr/bin/chromium";
const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await dropAll();
  cleanupTmp();
});

const SEP = Date.parse("2026-09-10T00:00:00Z");

async function session(projectPath: string, schema: string, sessionId: string, at: number | undefined, act?: (l: AuditLogger) => void): Promise<void> {
  const logger = new AuditLogger({ sessionId, projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false, maxLogAgeDays: 2555 });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  for (let i = 0; i < 2; i++) {
    if (at === undefined) logger.logToolUsage({ toolName: "t", operation: "op" });
    else withRecordTime(at + i, () => logger.logToolUsage({ toolName: "t", operation: "op" }));
  }
  act?.(logger);
  await logger.finalizeSession();
  expect(errors).toEqual([]);
}

describe("the PostgreSQL store's listing of sessions whose records retention removed", () => {
  it("lists them as records gone, with the holds in force that name them; a session that logged nothing and one with records are not", async () => {
    const schema = schemaFor("gone");
    const projectPath = tmpProject();
    await session(projectPath, schema, "gone_held", SEP);
    await session(projectPath, schema, "gone_free", SEP);
    await session(projectPath, schema, "kept", undefined);
    const empty = new AuditLogger({ sessionId: "empty", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
    await empty.finalizeSession();
    const drops = await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-11-01T00:00:00Z", reason: "policy" });
    expect(drops.map((d) => d.partition)).toEqual(["audit_records_p2026_09"]);
    // a hold placed since, on a session whose records are gone, and one on a session the store never had
    await session(projectPath, schema, "maint", undefined, (l) => {
      l.placeLegalHold("gone_held", "litigation 2026-7");
      l.placeLegalHold("never_here", "regulator inquiry");
    });

    const viewer = new AuditViewer({ postgres: { connectionString: PG_URL, schema } });
    const list = await viewer.listSessions();
    const of = (sid: string) => list.find((s) => s.sessionId === sid);
    expect(of("gone_held")).toMatchObject({ status: "finalized", totalRecords: 0, recordsGone: true, remains: { files: [], holds: [{ reason: "litigation 2026-7", placedBySession: "maint" }] } });
    expect(of("gone_held")?.remains?.holds[0]?.holdId).toMatch(/.+/);
    expect(of("gone_held")?.remains?.holds[0]?.placedAt).toMatch(/^2026-/);
    expect(of("gone_free")).toMatchObject({ status: "finalized", totalRecords: 0, recordsGone: true, remains: { files: [], holds: [] } });
    expect(of("never_here")).toMatchObject({ status: "unknown", totalRecords: 0, recordsGone: true, remains: { files: [], holds: [{ reason: "regulator inquiry", placedBySession: "maint" }] } });
    for (const sid of ["kept", "empty", "maint"]) {
      expect(of(sid)?.recordsGone, sid).toBeUndefined();
      expect(of(sid)?.remains, sid).toBeUndefined();
    }
    expect(of("kept")?.totalRecords).toBe(2);
    expect(of("empty")?.totalRecords).toBe(0);
    // one session's entry alone (serve's stats), from its rows only: each as the listing has it
    const source = viewer.source as { sessionListing?: (sid: string) => Promise<unknown> };
    expect(source.sessionListing).toBeTypeOf("function");
    for (const s of list) expect(await source.sessionListing!(s.sessionId), s.sessionId).toEqual(s);
    expect(await source.sessionListing!("no_such_session")).toBeUndefined();

    // serve --postgres: the API lists them so, and the sessions page shows them as records gone (Chromium)
    const server = await startServer({ postgres: { connectionString: PG_URL, schema }, port: 0 });
    servers.push(server);
    const r = await fetch(`${server.baseUrl}api/sessions`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(r.status).toBe(200);
    const listed = ((await r.json()) as { sessions: Array<{ sessionId: string; recordsGone?: boolean }> }).sessions;
    expect(listed.filter((x) => x.recordsGone === true).map((x) => x.sessionId).sort()).toEqual(["gone_free", "gone_held", "never_here"]);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
    try {
      const page = await browser.newPage();
      await page.goto(server.url);
      const held = page.locator('[data-testid="session-row"][data-session="gone_held"]');
      await held.waitFor({ timeout: 20_000 });
      expect(await held.locator('[data-testid="status"]').innerText()).toBe("records gone");
      expect(await held.locator('[data-testid="remains"]').innerText()).toContain("a legal hold in force names it (litigation 2026-7)");
      // (nothing else to say: no dangling "; ." after the sentence)
      const free = page.locator('[data-testid="session-row"][data-session="gone_free"]');
      expect((await free.locator('[data-testid="remains"]').innerText()).trim()).toBe("Its records are gone (removed by retention, or by hand). Holds, shredding & removals");
    } finally {
      await browser.close();
    }
  }, 90_000);

  it("an export of the store lists the sessions an export of the files does: a session that logged nothing, not one whose records retention removed", async () => {
    // (its row kept such a session in the store's session ids, and every export of the store
    // listed it as a finalized session with 0 records, which the files' export, once the files'
    // retention removed the same session, does not; found by the session-status pass, 2026-12-05)
    const schema = schemaFor("goneexport");
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    await session(projectPath, schema, "gone", SEP);
    await session(projectPath, schema, "kept", undefined);
    const empty = new AuditLogger({ sessionId: "empty", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
    await empty.finalizeSession();
    // the same retention over both: the store's drops September, the files' removes "gone" (its records of September)
    expect((await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-11-01T00:00:00Z", reason: "policy" })).map((d) => d.partition)).toEqual(["audit_records_p2026_09"]);
    const maint = new AuditLogger({ sessionId: "maint", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false, maxLogAgeDays: 2555 });
    expect((await maint.cleanup({ maxLogAgeDays: 30 })).removed.map((r) => r.sessionId)).toEqual(["gone"]);
    await maint.finalizeSession();

    const files = new AuditViewer({ auditPath: dir });
    const store = new AuditViewer({ postgres: { connectionString: PG_URL, schema } });
    expect((await files.getSessionIds()).sort()).toEqual(["empty", "kept", "maint"]);
    expect((await store.getSessionIds()).sort()).toEqual(["empty", "kept", "maint"]);
    // (listed still, as records gone: see above)
    expect((await store.listSessions()).find((l) => l.sessionId === "gone")).toMatchObject({ recordsGone: true, totalRecords: 0 });
    // its summary: none, as over the files (which have no session file and no record of it left);
    // the store's row gave a "finalized" summary with 0 records (found by the session-status pass,
    // 2026-12-05). A session that logged nothing keeps its summary in both.
    expect(await files.getSessionSummary("gone")).toBeNull();
    expect(await store.getSessionSummary("gone")).toBeNull();
    for (const sid of ["empty", "kept"]) {
      const { skippedLines: _f, ...f } = (await files.getSessionSummary(sid))!;
      const { skippedLines: _s, ...s } = (await store.getSessionSummary(sid))!;
      expect(s, sid).toEqual(f);
    }
    expect((await store.getSessionSummary("empty"))?.totalRecords).toBe(0);
    // serve's session pages: none for it over either (404), one for the session that logged nothing
    for (const o of [{ auditPath: dir }, { postgres: { connectionString: PG_URL, schema } }]) {
      const server = await startServer({ ...o, port: 0 });
      servers.push(server);
      const get = (sid: string) => fetch(`${server.baseUrl}api/sessions/${sid}/stats`, { headers: { authorization: `Bearer ${server.token}` } });
      expect((await get("gone")).status, JSON.stringify(o)).toBe(404);
      const r = await get("empty");
      expect(r.status).toBe(200);
      expect(((await r.json()) as { totalRecords: number }).totalRecords).toBe(0);
    }
    const sessionsOf = (file: string) =>
      (JSON.parse(fs.readFileSync(file, "utf8")) as { sessions: Array<{ sessionId: string; status: string; totalRecords: number }> }).sessions
        .map((x) => ({ sessionId: x.sessionId, status: x.status, totalRecords: x.totalRecords }))
        .sort((a, b) => a.sessionId.localeCompare(b.sessionId));
    const out = tmpProject();
    await new AuditExporter(files).exportToJson(path.join(out, "files.json"));
    await new AuditExporter(store).exportToJson(path.join(out, "store.json"));
    const listed = [
      { sessionId: "empty", status: "finalized", totalRecords: 0 },
      { sessionId: "kept", status: "finalized", totalRecords: 2 },
      { sessionId: "maint", status: "finalized", totalRecords: 0 },
    ];
    expect(sessionsOf(path.join(out, "files.json"))).toEqual(listed);
    expect(sessionsOf(path.join(out, "store.json"))).toEqual(listed);
    // a directory export: its manifest lists the same sessions, and verifies
    const exported = path.join(out, "store-dir");
    await new AuditExporter(store).exportCompleteAuditToDirectory(exported);
    const manifest = JSON.parse(fs.readFileSync(path.join(exported, "export_manifest.json"), "utf8")) as { manifest: { sessions: Array<{ sessionId: string }> } };
    expect(manifest.manifest.sessions.map((x) => x.sessionId).sort()).toEqual(["empty", "kept", "maint"]);
    expect(sessionsOf(path.join(exported, "audit_complete.json"))).toEqual(listed);
    const report = await verifyExport(exported);
    expect(report.problems).toEqual([]);
  }, 60_000);
  it("a session whose audit_event records outlive its records of the six kinds is gone, as over the files; one that only ever wrote audit_event records is not", async () => {
    // (the store counted a session gone only when no record of it was left, audit_event ones
    // included: one that placed a hold after its September records, which retention then removed,
    // was listed as records gone, yet had a "finalized" summary with 0 records and was in every
    // export; over the files, a session of which only the audit_event chain is left has no
    // summary and no export lists it. And a session that never logged a record of the six kinds,
    // a maintenance session whose September holds retention removed, was listed as records gone,
    // though its row and its December hold are there, as its session file is over the files.
    // Found by the session-status pass, 2026-12-05.)
    const schema = schemaFor("gonechain");
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const sinks = () => [new PostgresSink({ connectionString: PG_URL, schema })];
    // "placer": records of September, then a hold it places on another session today
    await session(projectPath, schema, "placer", SEP, (l) => l.placeLegalHold("elsewhere", "litigation 2026-9"));
    await session(projectPath, schema, "kept", undefined);
    // "desk": never a record of the six kinds; a hold placed and released in September, another placed today
    const desk = new AuditLogger({ sessionId: "desk", projectPath, sinks: sinks(), fullContentLogging: false, maxLogAgeDays: 2555 });
    const first = withRecordTime(SEP, () => desk.placeLegalHold("kept", "audit 2026-3"));
    withRecordTime(SEP + 1, () => desk.releaseLegalHold(first, "audit 2026-3 closed"));
    desk.placeLegalHold("kept", "audit 2026-4");
    await desk.finalizeSession();
    expect((await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-11-01T00:00:00Z", reason: "policy" })).map((d) => d.partition)).toEqual(["audit_records_p2026_09"]);
    // the files in the same state: of "placer" only its audit_event chain is left (files' retention
    // removes a session whole; here its other files are removed by hand), "desk" whole
    for (const f of fs.readdirSync(dir)) if (f.includes("placer") && !f.startsWith("audit_events_")) fs.rmSync(path.join(dir, f));
    expect(fs.readdirSync(dir).filter((f) => f.includes("placer"))).toEqual(["audit_events_placer.jsonl"]);

    const files = new AuditViewer({ auditPath: dir });
    const store = new AuditViewer({ postgres: { connectionString: PG_URL, schema } });
    expect((await files.getSessionIds()).sort()).toEqual(["desk", "kept"]);
    expect((await store.getSessionIds()).sort()).toEqual(["desk", "kept"]);
    expect(await files.getSessionSummary("placer")).toBeNull();
    expect(await store.getSessionSummary("placer")).toBeNull();
    const { skippedLines: _f, ...deskFiles } = (await files.getSessionSummary("desk"))!;
    const { skippedLines: _s, ...deskStore } = (await store.getSessionSummary("desk"))!;
    expect(deskStore).toEqual(deskFiles);
    const fileList = await files.listSessions();
    const storeList = await store.listSessions();
    const of = (list: typeof fileList, sid: string) => list.find((l) => l.sessionId === sid);
    // "placer": records gone in both (the store has no files to name; its status: see docs/POSTGRES.md)
    expect(of(fileList, "placer")).toMatchObject({ status: "unknown", totalRecords: 0, recordsGone: true, remains: { files: ["audit_events_placer.jsonl"], holds: [] } });
    expect(of(storeList, "placer")).toMatchObject({ status: "finalized", totalRecords: 0, recordsGone: true, remains: { files: [], holds: [] } });
    // "desk": a whole session in both, the same
    expect(of(storeList, "desk")?.recordsGone).toBeUndefined();
    expect(of(storeList, "desk")).toEqual(of(fileList, "desk"));
    // exports list the same sessions
    const sessionsOf = (file: string) => (JSON.parse(fs.readFileSync(file, "utf8")) as { sessions: Array<{ sessionId: string }> }).sessions.map((x) => x.sessionId).sort();
    const out = tmpProject();
    await new AuditExporter(files).exportToJson(path.join(out, "files.json"));
    await new AuditExporter(store).exportToJson(path.join(out, "store.json"));
    expect(sessionsOf(path.join(out, "files.json"))).toEqual(["desk", "kept"]);
    expect(sessionsOf(path.join(out, "store.json"))).toEqual(["desk", "kept"]);
  }, 60_000);
});
