// The session's row as a PostgresSink closes (found by review, 2026-12-05). close() marked the row
// finalized with an UPDATE, and when nothing had been written flush() did not wait for the pump,
// whose first connect (the migration, then the upsert of the row as "active") was still under
// way or not yet started: the UPDATE found no row (or no table), the "active" upsert came after
// it, and the row said "active" for good. A sink whose store was away at open and back by close
// left no row at all.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer } from "../../src/index.js";
import { withRecordTime } from "../../src/logger.js";
import { applyPostgresRetention, migratePostgres, PostgresSink, type PostgresSinkOptions } from "../../src/postgres/index.js";
import { tmpProject } from "../helpers/index.js";
import { startFixture } from "../helpers/core.js";
import { freePort, PG_URL, PgProxy, pgTestScope, sql, until } from "../fixtures/postgres/db.js";

const { schemaFor, proxies } = pgTestScope();

/** The sessions table of `schema`: each row's id, status, whether it has a closed_at, and its info. */
function rowsOf(schema: string): Promise<Array<{ session_id: string; status: string; closed: boolean; info: unknown }>> {
  return sql(`SELECT session_id, status, closed_at IS NOT NULL AS closed, info FROM "${schema}".audit_sessions`);
}

/** A logger with one PostgresSink on `o`: `before` runs between its construction and finalizeSession(). */
async function session(o: PostgresSinkOptions, before: (logger: AuditLogger) => Promise<void> | void): Promise<{ sessionId: string; errors: string[]; dir: string }> {
  const projectPath = tmpProject("audit-pg-status-");
  const logger = new AuditLogger({ projectPath, sinks: [new PostgresSink(o)], fullContentLogging: false });
  const errors: string[] = [];
  logger.on("error", (e) => errors.push(e.message));
  await before(logger);
  await logger.finalizeSession();
  return { sessionId: logger.sessionId, errors, dir: path.join(projectPath, "audit_logs") };
}

const variants: Array<[string, boolean, (logger: AuditLogger) => Promise<void> | void]> = [
  ["nothing logged, finalized at once", false, () => undefined],
  ["nothing logged, finalized at once, schema migrated before", true, () => undefined],
  ["nothing logged, finalized a turn of the event loop later (the connect under way)", false, () => new Promise<void>((r) => setImmediate(r))],
  ["nothing logged, finalized 20 ms later (the migration under way)", false, () => new Promise<void>((r) => setTimeout(r, 20))],
  ["one record logged, finalized at once", false, (l) => void l.logToolUsage({ toolName: "t", operation: "one" })],
];

describe("PostgresSink: the session's row once the session is finalized", () => {
  for (const [name, premigrate, before] of variants) {
    it(`${name}: the row is finalized, with the final session file as info (5 times)`, async () => {
      for (let i = 0; i < 5; i++) {
        const schema = schemaFor("status");
        if (premigrate) await migratePostgres({ connectionString: PG_URL, schema });
        const { sessionId, errors, dir } = await session({ connectionString: PG_URL, schema }, before);
        expect(errors).toEqual([]);
        const final = JSON.parse(fs.readFileSync(path.join(dir, `session_${sessionId}.json`), "utf8")) as { status: string };
        expect(final.status).toBe("finalized");
        expect(await rowsOf(schema)).toEqual([{ session_id: sessionId, status: "finalized", closed: true, info: final }]);
      }
    }, 60_000);
  }

  it("a sink opened and closed on its own, writing nothing, with a regular session file: the row is finalized (5 times)", async () => {
    for (let i = 0; i < 5; i++) {
      const schema = schemaFor("statusopen");
      const auditDir = path.join(tmpProject("audit-pg-status-open-"), "audit_logs");
      fs.mkdirSync(auditDir);
      fs.writeFileSync(path.join(auditDir, "session_po.json"), JSON.stringify({ sessionId: "po", status: "finalized" }));
      const sink = new PostgresSink({ connectionString: PG_URL, schema });
      const errors: string[] = [];
      sink.open({ sessionId: "po", auditDir, onError: (e) => errors.push(e.message) });
      await sink.close();
      expect(errors).toEqual([]);
      expect(await rowsOf(schema)).toEqual([{ session_id: "po", status: "finalized", closed: true, info: { sessionId: "po", status: "finalized" } }]);
    }
  }, 60_000);

  it("the store away as a sink opens, back before it closes with nothing written: the row is there, finalized", async () => {
    // (a sink alone: through a logger, the sink's report of the outage is an errors record, which
    // the sink then has to send, and so connects)
    const schema = schemaFor("statusaway");
    const store = new PgProxy(await freePort());
    proxies.push(store);
    const auditDir = path.join(tmpProject("audit-pg-status-away-"), "audit_logs");
    fs.mkdirSync(auditDir);
    fs.writeFileSync(path.join(auditDir, "session_pa.json"), JSON.stringify({ sessionId: "pa", status: "finalized" }));
    // (the next attempt after the first connect fails would only come in a minute)
    const sink = new PostgresSink({ connectionString: store.url, schema, retryMinMs: 60_000, retryMaxMs: 60_000 });
    const errors: string[] = [];
    sink.open({ sessionId: "pa", auditDir, onError: (e) => errors.push(e.message) });
    await until(() => sink.stats().outage);
    await store.start();
    await sink.close();
    expect(errors).toEqual([expect.stringContaining(`PostgresSink cannot store records in ${schema}`)]);
    expect(await rowsOf(schema)).toEqual([{ session_id: "pa", status: "finalized", closed: true, info: { sessionId: "pa", status: "finalized" } }]);
  }, 60_000);
});

describe("the store's listing of sessions against the files' listing of the same directory", () => {
  it("says the same of each: status (an interrupted one too), start, last activity (the newest record of the six kinds, not of the audit_event chain), counts, order", async () => {
    // (the store's listing took a session's last activity from its audit_event chain too: a legal
    // hold placed last, or a maintenance session's holds and removals alone, moved the session in
    // the listing's order against the files'; found by the session-status pass, 2026-12-05)
    const schema = schemaFor("listing");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject("audit-pg-listing-");
    const dir = path.join(projectPath, "audit_logs");
    const sink = (): PostgresSink => new PostgresSink({ connectionString: PG_URL, schema });
    // a process that ends by process.exit(), without finalizeSession(): "interrupted"
    const ended = startFixture("../postgres/end-child.ts", {}, [JSON.stringify({ url: PG_URL, schema, projectPath, end: "exit", records: 2 })]);
    expect((await ended.exited).code).toBe(0);
    const a = new AuditLogger({ sessionId: "worked_then_held", projectPath, sinks: [sink()], fullContentLogging: false });
    a.logToolUsage({ toolName: "t", operation: "x" });
    await new Promise((r) => setTimeout(r, 30));
    a.placeLegalHold("worked_then_held", "litigation");
    await a.finalizeSession();
    await new Promise((r) => setTimeout(r, 30));
    const m = new AuditLogger({ sessionId: "holds_only", projectPath, sinks: [sink()], fullContentLogging: false });
    m.placeLegalHold("later_work", "regulator");
    // a hold naming a session that neither holds: listed by both as records gone, with the hold's
    // time as its chained record gives it (over the files it was the local hold register's, a few
    // ms before; found by the session-status pass, 2026-12-05)
    m.placeLegalHold("never_here", "subpoena");
    await m.finalizeSession();
    await new Promise((r) => setTimeout(r, 30));
    const later = new AuditLogger({ sessionId: "later_work", projectPath, sinks: [sink()], fullContentLogging: false });
    later.logToolUsage({ toolName: "t", operation: "y" });
    await later.finalizeSession();

    const files = await new AuditViewer({ auditPath: dir }).listSessions();
    const store = await new AuditViewer({ postgres: { connectionString: PG_URL, schema } }).listSessions();
    expect(files.find((l) => l.status === "interrupted")).toBeDefined();
    const neverHere = files.find((l) => l.sessionId === "never_here");
    expect(neverHere).toMatchObject({ status: "unknown", recordsGone: true, remains: { files: [], holds: [{ reason: "subpoena", placedBySession: "holds_only" }] } });
    // (the time of the chained record that placed it: the chain is the evidence)
    const placement = fs
      .readFileSync(path.join(dir, "audit_events_holds_only.jsonl"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { eventType: string; timestamp: string; details: { scope?: string } })
      .find((r) => r.eventType === "legal_hold_placed" && r.details.scope === "never_here");
    expect(neverHere?.remains?.holds[0]?.placedAt).toBe(placement?.timestamp);
    expect(store).toEqual(files);
  }, 60_000);

  it("after real retention runs over both, the holds of each session whose records are gone are the same: as the chained records that placed them give them", async () => {
    // (a hold whose placing session the files' cleanup removed is known there by the copy its
    // removal record carries; the store reads the placement record itself. The copy was cut to
    // the cleaning logger's maxValueChars: its hold id, time and reason differed from the
    // record's, so the files listed the hold under a cut id, with the register's hold beside it,
    // and the store the real one; found by the session-status pass, 2026-12-05)
    const schema = schemaFor("heldgone");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject("audit-pg-heldgone-");
    const dir = path.join(projectPath, "audit_logs");
    const sink = (): PostgresSink => new PostgresSink({ connectionString: PG_URL, schema });
    const SEP = Date.parse("2026-09-10T00:00:00Z");
    const OCT = Date.parse("2026-10-10T00:00:00Z");
    const reason = "subpoena 2026-118, all records of the never_here session, until the court says otherwise";
    // "old": records of September only; "judge": a hold of October on "never_here", which neither holds
    const old = new AuditLogger({ sessionId: "old", projectPath, sinks: [sink()], fullContentLogging: false });
    withRecordTime(SEP, () => old.logToolUsage({ toolName: "t", operation: "x" }));
    await old.finalizeSession();
    const judge = new AuditLogger({ sessionId: "judge", projectPath, sinks: [sink()], fullContentLogging: false });
    const holdId = withRecordTime(OCT, () => judge.placeLegalHold("never_here", reason));
    await judge.finalizeSession();
    // the files' retention: an officer's cleanup (a logger that keeps values short) removes "old" and "judge"
    const officer = new AuditLogger({ sessionId: "officer", projectPath, sinks: [sink()], fullContentLogging: false, maxValueChars: 20 });
    const errors: string[] = [];
    officer.on("error", (e) => errors.push(e.message));
    expect((await officer.cleanup({ maxLogAgeDays: 30 })).removed.map((r) => r.sessionId).sort()).toEqual(["judge", "old"]);
    await officer.finalizeSession();
    expect(errors).toEqual([]);
    // the store's retention: September goes (October holds the placement of a hold in force)
    expect((await applyPostgresRetention({ connectionString: PG_URL, schema, before: "2026-11-01T00:00:00Z" })).map((d) => d.partition)).toEqual(["audit_records_p2026_09"]);

    const files = await new AuditViewer({ auditPath: dir }).listSessions();
    const store = await new AuditViewer({ postgres: { connectionString: PG_URL, schema } }).listSessions();
    const expected = [{ holdId, reason, placedAt: new Date(OCT).toISOString(), placedBySession: "judge" }];
    const holdsOf = (list: typeof files, sid: string) => list.find((l) => l.sessionId === sid)?.remains?.holds;
    expect(holdsOf(files, "never_here")).toEqual(expected);
    expect(holdsOf(store, "never_here")).toEqual(expected);
    // every session both list as records gone: the same holds
    const gone = (list: typeof files) => new Map(list.filter((l) => l.recordsGone === true).map((l) => [l.sessionId, l.remains?.holds]));
    const inFiles = gone(files);
    for (const [sid, holds] of gone(store)) if (inFiles.has(sid)) expect(holds, sid).toEqual(inFiles.get(sid));
  }, 60_000);
});
