// A session whose process ended without finalizeSession() and with nothing left to send (found by
// the session-status pass, 2026-12-05): its exit hook wrote the session file's end state
// ("interrupted") and removed its lock, but cannot reach the store synchronously, and left no
// spool: no sink adopted or recovered anything of it, and its row said "active" for good, while
// the files' readers said "interrupted". Real child processes, real PostgreSQL.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer } from "../../src/index.js";
import { migratePostgres, PostgresSink } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { killChildren, startFixture, type ChildHandle } from "../helpers/core.js";
import { freePort, nextSession, PG_URL, PgProxy, schemaRegistry, sql, until } from "../fixtures/postgres/db.js";

const { schemaFor, dropAll } = schemaRegistry();
const children: ChildHandle[] = [];
const proxies: PgProxy[] = [];

afterEach(async () => {
  await killChildren(children);
  for (const p of proxies.splice(0)) await p.stop();
  await dropAll();
  cleanupTmp();
});

interface Row {
  status: string;
  closed: boolean;
  info: { status?: string; pid?: number; resumedAt?: string } | null;
}

async function rowOf(schema: string, sid: string): Promise<Row | undefined> {
  return (await sql<Row & Record<string, unknown>>(`SELECT status, closed_at IS NOT NULL AS closed, info FROM "${schema}".audit_sessions WHERE session_id = $1`, [sid]))[0];
}

/** Starts end-child.ts; resolves with its handle and session id once its records are stored. */
async function child(args: { schema: string; projectPath: string; end: "loop" | "exit" | "live"; sessionId?: string; records?: number; removeDir?: boolean; backfill?: boolean }): Promise<{ h: ChildHandle; sid: string }> {
  const h = startFixture("../postgres/end-child.ts", {}, [JSON.stringify({ url: PG_URL, records: 3, ...args })]);
  children.push(h);
  const sid = (await h.waitForLine((l) => l.startsWith("stored "), "stored")).slice("stored ".length);
  return { h, sid };
}

const sessionFile = (dir: string, sid: string) => JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8")) as { status: string; pid: number };

describe("a session whose process ended without finalizeSession(), nothing left to send", () => {
  for (const end of ["loop", "exit"] as const) {
    it(`(${end === "loop" ? "the event loop ran out" : "process.exit()"}): its row is interrupted once the next sink opens in its directory; a session running in another process stays active`, async () => {
      const schema = schemaFor(`ended${end}`);
      await migratePostgres({ connectionString: PG_URL, schema });
      const projectPath = tmpProject();
      const dir = path.join(projectPath, "audit_logs");
      const ended = await child({ schema, projectPath, end });
      const r = await ended.h.exited;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe("");
      // what the exit hook left: the session file's end state, no lock, no spool
      expect(sessionFile(dir, ended.sid).status).toBe("interrupted");
      expect(fs.existsSync(path.join(dir, `.session_${ended.sid}.lock`))).toBe(false);
      expect(fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool"))).toEqual([]);
      // another process's session, running while the next sink opens
      const live = await child({ schema, projectPath, end: "live" });
      expect((await rowOf(schema, live.sid))?.status).toBe("active");

      const next = await nextSession(projectPath, { connectionString: PG_URL, schema });
      expect(next.errors).toEqual([]);
      const row = await rowOf(schema, ended.sid);
      expect(row?.status).toBe("interrupted");
      expect(row?.closed).toBe(true);
      expect(row?.info?.status).toBe("interrupted"); // (the session file's end state)
      expect((await rowOf(schema, live.sid))?.status).toBe("active");
      expect((await rowOf(schema, next.sessionId))?.status).toBe("finalized");
      // (no dot file of the ended session is left for a later sink to read: its marker went once applied)
      expect(fs.readdirSync(dir).filter((f) => f.startsWith(".") && f.includes(ended.sid))).toEqual([]);

      // the live one ends by SIGTERM (through its exit hook too): the sink after that marks it
      live.h.child.kill("SIGTERM");
      expect((await live.h.exited).signal).toBe("SIGTERM");
      expect((await rowOf(schema, live.sid))?.status).toBe("active");
      const third = await nextSession(projectPath, { connectionString: PG_URL, schema });
      expect(third.errors).toEqual([]);
      expect((await rowOf(schema, live.sid))?.status).toBe("interrupted");
      expect((await rowOf(schema, ended.sid))?.status).toBe("interrupted");
    }, 60_000);
  }

  it("resumed by a process that is still running: the next sink leaves the resumed run's row active", async () => {
    const schema = schemaFor("endedresumed");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const first = await child({ schema, projectPath, end: "exit", sessionId: "resumed" });
    expect((await first.h.exited).code).toBe(0);
    const again = await child({ schema, projectPath, end: "live", sessionId: "resumed" });
    expect(sessionFile(dir, "resumed").status).toBe("active");
    const next = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(next.errors).toEqual([]);
    const row = await rowOf(schema, "resumed");
    expect(row?.status).toBe("active");
    expect(row?.info?.pid).toBe(again.h.child.pid);
    // once that run ends through its exit hook, the next sink marks it
    again.h.child.kill("SIGTERM");
    await again.h.exited;
    const third = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(third.errors).toEqual([]);
    expect((await rowOf(schema, "resumed"))?.status).toBe("interrupted");
    expect((await rowOf(schema, "resumed"))?.info?.pid).toBe(again.h.child.pid);
  }, 60_000);

  it("whose audit directory was removed while it ran: the exit hook leaves no marker and says nothing", async () => {
    const schema = schemaFor("endedgone");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const gone = await child({ schema, projectPath, end: "exit", removeDir: true });
    const r = await gone.h.exited;
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(fs.existsSync(path.join(projectPath, "audit_logs"))).toBe(false);
  }, 30_000);

  it("a marker being written (its temporary name) is not taken for a session's marker, nor removed from under its writer", async () => {
    const schema = schemaFor("endedtemp");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    fs.mkdirSync(dir, { recursive: true });
    const probe = new PostgresSink({ connectionString: PG_URL, schema });
    const key = probe.description.slice("PostgresSink:".length);
    await probe.close();
    // (as replaceFileSync names it while a process ending writes the marker of session "e")
    const temp = path.join(dir, `.pg_recovery_${key}_e.4242.0a1b2c3d4e5f.tmp`);
    fs.writeFileSync(temp, JSON.stringify({ lock: "", ended: true }));
    const next = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(next.errors).toEqual([]);
    expect(fs.existsSync(temp)).toBe(true);
    expect(await sql(`SELECT session_id FROM "${schema}".audit_sessions WHERE session_id <> $1`, [next.sessionId])).toEqual([]);
  }, 30_000);

  it("a sink whose store went away as it closed, nothing left to send: the next sink of the store in the directory marks the row finalized", async () => {
    // (a sink alone: through a logger, the report of the failure is an errors record, which is
    // spooled, and the spool's adoption marks the row)
    const schema = schemaFor("endedclose");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    fs.mkdirSync(dir, { recursive: true });
    const store = new PgProxy(await freePort());
    proxies.push(store);
    await store.start();
    const sink = new PostgresSink({ connectionString: store.url, schema, closeTimeoutMs: 200, retryMinMs: 60_000, retryMaxMs: 60_000 });
    fs.writeFileSync(path.join(dir, "session_sc.json"), JSON.stringify({ sessionId: "sc", status: "active", config: { sinks: [sink.description] } }));
    const errors: string[] = [];
    sink.open({ sessionId: "sc", auditDir: dir, onError: (e) => errors.push(e.message) });
    await until(async () => (await rowOf(schema, "sc"))?.status === "active");
    await store.stop();
    fs.writeFileSync(path.join(dir, "session_sc.json"), JSON.stringify({ sessionId: "sc", status: "finalized", config: { sinks: [sink.description] } }));
    await sink.close();
    expect(errors).toEqual([expect.stringContaining("could not mark session sc finalized")]);
    expect((await rowOf(schema, "sc"))?.status).toBe("active");
    await store.start();
    const next = await nextSession(projectPath, { connectionString: store.url, schema });
    expect(next.errors).toEqual([]);
    const row = await rowOf(schema, "sc");
    expect(row?.status).toBe("finalized");
    expect(row?.info?.status).toBe("finalized");
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(".pg_recovery_"))).toEqual([]);
  }, 30_000);

  it("finalized while the store was away, then resumed by another process while the next sink records its end: that sink leaves the resumed run's row active", async () => {
    // (the row's update to "finalized" changed an "active" row of any run: the same-run check
    // held for "interrupted" only; found by the session-status pass, 2026-12-05)
    const schema = schemaFor("endedrace");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const store = new PgProxy(await freePort());
    proxies.push(store);
    await store.start();
    // run A of session "raced": its store goes away before it finalizes, so its row stays "active"
    const sinkA = new PostgresSink({ connectionString: store.url, schema, closeTimeoutMs: 200, retryMinMs: 60_000, retryMaxMs: 60_000 });
    const a = new AuditLogger({ sessionId: "raced", projectPath, sinks: [sinkA], fullContentLogging: false });
    a.on("error", () => undefined);
    a.logToolUsage({ toolName: "t", operation: "a" });
    expect(await sinkA.whenStored(10_000)).toBe(true);
    await store.stop();
    await a.finalizeSession();
    expect(sessionFile(dir, "raced").status).toBe("finalized");
    expect((await rowOf(schema, "raced"))?.status).toBe("active");
    const key = sinkA.description.slice("PostgresSink:".length);
    expect(fs.existsSync(path.join(dir, `.pg_recovery_${key}_raced`))).toBe(true);

    // the next sink of that store in the directory reads A's session file; its statement recording
    // the row is held on the way, and meanwhile another process resumes the session (another
    // instance, whose sink names the store otherwise, so it adopts nothing of A)
    await store.start();
    const gate = store.holdStatement("closed_at) VALUES");
    const next = new AuditLogger({ projectPath, sinks: [new PostgresSink({ connectionString: store.url, schema })], fullContentLogging: false });
    const errors: string[] = [];
    next.on("error", (e) => errors.push(e.message));
    await gate.reached;
    const again = await child({ schema, projectPath, end: "live", sessionId: "raced" });
    expect((await rowOf(schema, "raced"))?.info?.pid).toBe(again.h.child.pid);
    gate.release();
    next.logToolUsage({ toolName: "t", operation: "next" });
    await next.finalizeSession();
    expect(errors).toEqual([]);
    const row = await rowOf(schema, "raced");
    expect(row?.status).toBe("active");
    expect(row?.closed).toBe(false);
    expect(row?.info?.pid).toBe(again.h.child.pid);
    expect(sessionFile(dir, "raced").status).toBe("active");

    // that run ends through its exit hook: the next sink after it records its end, of that run
    again.h.child.kill("SIGTERM");
    await again.h.exited;
    const third = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(third.errors).toEqual([]);
    expect((await rowOf(schema, "raced"))?.status).toBe("interrupted");
    expect((await rowOf(schema, "raced"))?.info?.pid).toBe(again.h.child.pid);
  }, 60_000);

  it("with `backfill: false`: a sink still leaves the marker as its process ends, and still records the ended sessions' markers; a SIGKILLed session (no marker) it leaves active, for a sink with backfill to recover", async () => {
    const schema = schemaFor("endednobf");
    await migratePostgres({ connectionString: PG_URL, schema });
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const probe = new PostgresSink({ connectionString: PG_URL, schema });
    const key = probe.description.slice("PostgresSink:".length);
    await probe.close();
    // a process whose sink has backfill off ends by process.exit(): its marker is left all the same
    const ended = await child({ schema, projectPath, end: "exit", backfill: false });
    expect((await ended.h.exited).code).toBe(0);
    expect(fs.existsSync(path.join(dir, `.pg_recovery_${key}_${ended.sid}`))).toBe(true);
    // one SIGKILLed: no exit hook, no marker, its lock left
    const killed = startFixture("../postgres/kill-child.ts", {}, [JSON.stringify({ url: PG_URL, schema, projectPath, before: 2, after: 1 })]);
    children.push(killed);
    const killedSid = (await killed.waitForLine((l) => l.startsWith("stored "), "stored")).slice("stored ".length);
    fs.writeFileSync(path.join(projectPath, "go"), "");
    await killed.waitForLine((l) => l.startsWith("logged "), "logged");
    killed.child.kill("SIGKILL");
    await killed.exited;
    expect(fs.existsSync(path.join(dir, `.pg_recovery_${key}_${killedSid}`))).toBe(false);

    // the next sink, backfill off: the ended session's row is recorded from its marker (a read of its
    // session file, no record file), and the marker goes; the killed one is not recovered
    const off = await nextSession(projectPath, { connectionString: PG_URL, schema, backfill: false });
    expect(off.errors).toEqual([]);
    expect((await rowOf(schema, ended.sid))?.status).toBe("interrupted");
    expect(fs.existsSync(path.join(dir, `.pg_recovery_${key}_${ended.sid}`))).toBe(false);
    expect(off.stats.recoveredSessions).toBe(0);
    expect((await rowOf(schema, killedSid))?.status).toBe("active");
    expect(fs.existsSync(path.join(dir, `.session_${killedSid}.lock`))).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(".pg_recovery_"))).toEqual([]);
    // (the files' readers say interrupted: the lock a dead process left)
    expect((await new AuditViewer({ auditPath: dir }).listSessions()).find((l) => l.sessionId === killedSid)?.status).toBe("interrupted");
    // a sink with backfill (the default) recovers it
    const on = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(on.errors).toEqual([]);
    expect(on.stats.recoveredSessions).toBe(1);
    expect((await rowOf(schema, killedSid))?.status).toBe("interrupted");
  }, 60_000);
});
