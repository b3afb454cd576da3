// A session whose process was SIGKILLed keeps its `active` row in the store until a sink of that
// store opens in its audit directory (the sink's crash recovery marks it `interrupted`); over its
// files, the readers say `interrupted` from the moment the process is gone (its lock names a dead
// process of this host). The store's readers said `active` until a sink came, possibly never
// (found by the PostgreSQL pass, 2026-12-06). They now judge the run the row names by the files'
// rule (runLeftByDead: this host, the process gone or its pid another process's now), and write
// nothing.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer } from "../../src/index.js";
import { migratePostgres, PostgresSink } from "../../src/postgres/index.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { OWN_PROC_START } from "../../src/sink/owner.js";
import { tmpProject } from "../helpers/index.js";
import { runCli } from "../cli/helpers.js";
import { deadPid, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";
import { PG_URL, pgTestScope, sql, until } from "../fixtures/postgres/db.js";

const { schemaFor } = pgTestScope();
const children: ChildHandle[] = [];
const servers: RunningServer[] = [];
afterEach(async () => {
  await killChildren(children);
  for (const s of servers.splice(0)) await s.close();
});

/** The row of `sid`: its status, whether it has a closed_at, and its info's pid. */
async function rowOf(schema: string, sid: string): Promise<{ status: string; closed: boolean; pid: string | null } | undefined> {
  return (await sql<{ status: string; closed: boolean; pid: string | null }>(`SELECT status, closed_at IS NOT NULL AS closed, info->>'pid' AS pid FROM "${schema}".audit_sessions WHERE session_id = $1`, [sid]))[0];
}

/** What each reader of the store says of `sid`: listSessions(), getSessionSummary(), summary --postgres --json, and serve --postgres's session list and stats. */
async function storeStatuses(schema: string, sid: string, server: RunningServer): Promise<Record<string, string | undefined>> {
  const viewer = new AuditViewer({ postgres: { connectionString: PG_URL, schema } });
  const cli = await runCli(["summary", "--postgres", PG_URL, "--schema", schema, "--session", sid, "--json"]);
  expect(cli.code, cli.stderr).toBe(0);
  const get = async (p: string) => {
    const r = await fetch(`http://${server.host}:${server.port}${p}`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(r.status, p).toBe(200);
    return (await r.json()) as Record<string, unknown>;
  };
  const { sessions } = (await get("/api/sessions")) as { sessions: Array<{ sessionId: string; status: string }> };
  return {
    listed: (await viewer.listSessions()).find((l) => l.sessionId === sid)?.status,
    summary: (await viewer.getSessionSummary(sid))?.status,
    cli: (JSON.parse(cli.stdout) as Array<{ status: string }>)[0]?.status,
    apiListed: sessions.find((s) => s.sessionId === sid)?.status,
    apiStats: ((await get(`/api/sessions/${sid}/stats`)) as { status: string }).status,
  };
}

/** A fresh schema, migrated, and a fresh project (its audit directory: `dir`). */
async function storeAndDir(tag: string): Promise<{ schema: string; projectPath: string; dir: string }> {
  const schema = schemaFor(tag);
  await migratePostgres({ connectionString: PG_URL, schema });
  const projectPath = tmpProject();
  return { schema, projectPath, dir: path.join(projectPath, "audit_logs") };
}

const all = (status: string) => ({ listed: status, summary: status, cli: status, apiListed: status, apiStats: status });

describe("the store's readers, of a session whose process was SIGKILLed, with no sink opened since", () => {
  it("say active while it runs, interrupted once it is killed (as its files' readers), and leave the row as it is; resumed: active, then finalized", async () => {
    const { schema, projectPath, dir } = await storeAndDir("killst");
    const h = startFixture("../postgres/kill-child.ts", {}, [JSON.stringify({ url: PG_URL, schema, projectPath, before: 5, after: 3 })]);
    children.push(h);
    const sid = (await h.waitForLine((l) => l.startsWith("stored "), "stored")).slice("stored ".length);
    fs.writeFileSync(path.join(projectPath, "go"), "");
    await h.waitForLine((l) => l.startsWith("logged "), "logged");
    // (every record in the store before the kill, so that the two listings can be compared whole)
    expect(await until(async () => (await sql(`SELECT 1 FROM "${schema}".audit_records WHERE session_id = $1`, [sid])).length === 9)).toBe(true);
    const server = await startServer({ postgres: { connectionString: PG_URL, schema }, port: 0 });
    servers.push(server);

    expect(await storeStatuses(schema, sid, server)).toEqual(all("active"));
    // the run the row names, as the session file does: the child's pid and host, and on Linux its
    // start as the kernel counts it (what tells its pid taken by another process later)
    const stat = fs.existsSync(`/proc/${h.child.pid}/stat`) ? fs.readFileSync(`/proc/${h.child.pid}/stat`, "utf8") : undefined;
    const started = stat === undefined ? undefined : stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    const [named] = await sql<{ info: Record<string, unknown> }>(`SELECT info FROM "${schema}".audit_sessions WHERE session_id = $1`, [sid]);
    expect(named?.info).toMatchObject({ pid: h.child.pid, hostname: os.hostname(), ...(started !== undefined ? { procStart: started } : {}) });
    expect(JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8"))).toMatchObject(named!.info);
    h.child.kill("SIGKILL");
    expect((await h.exited).signal).toBe("SIGKILL");

    expect(await storeStatuses(schema, sid, server)).toEqual(all("interrupted"));
    // the row as the kill left it: the readers judge, they do not write
    expect(await rowOf(schema, sid)).toEqual({ status: "active", closed: false, pid: String(h.child.pid) });
    // the files' readers say the same of the session, entry for entry
    const files = (await new AuditViewer({ auditPath: dir }).listSessions()).find((l) => l.sessionId === sid);
    const store = (await new AuditViewer({ postgres: { connectionString: PG_URL, schema } }).listSessions()).find((l) => l.sessionId === sid);
    expect(files?.status).toBe("interrupted");
    expect(store).toEqual(files);
    const filesSummary = await new AuditViewer({ auditPath: dir }).getSessionSummary(sid);
    expect(filesSummary?.totalRecords).toBe(9);
    expect(await new AuditViewer({ postgres: { connectionString: PG_URL, schema } }).getSessionSummary(sid)).toEqual(filesSummary);

    // resumed by a logger of this process: active while it runs, finalized after
    const sink = new PostgresSink({ connectionString: PG_URL, schema });
    const resumed = new AuditLogger({ projectPath, sessionId: sid, sinks: [sink], fullContentLogging: false });
    resumed.logToolUsage({ toolName: "t", operation: "resumed" });
    expect(await sink.whenStored(10_000)).toBe(true);
    expect(await storeStatuses(schema, sid, server)).toEqual(all("active"));
    await resumed.finalizeSession();
    expect(await storeStatuses(schema, sid, server)).toEqual(all("finalized"));
  }, 120_000);
});

describe("the store's readers, of a session whose process ended without finalizeSession() (process.exit), with no sink opened since", () => {
  it("say interrupted, as its files' readers (whose session file the exit hook marked); its end is its last record's (the hook's time is in the files only)", async () => {
    const { schema, projectPath, dir } = await storeAndDir("exitst");
    const h = startFixture("../postgres/end-child.ts", {}, [JSON.stringify({ url: PG_URL, schema, projectPath, end: "exit", records: 3 })]);
    children.push(h);
    const sid = (await h.waitForLine((l) => l.startsWith("stored "), "stored")).slice("stored ".length);
    expect((await h.exited).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8"))).toMatchObject({ status: "interrupted" });
    expect(await rowOf(schema, sid)).toEqual({ status: "active", closed: false, pid: String(h.child.pid) });
    const files = new AuditViewer({ auditPath: dir });
    const store = new AuditViewer({ postgres: { connectionString: PG_URL, schema } });
    const listed = (await store.listSessions()).find((l) => l.sessionId === sid);
    expect(listed?.status).toBe("interrupted");
    expect(listed).toEqual((await files.listSessions()).find((l) => l.sessionId === sid));
    const [a, b] = [await store.getSessionSummary(sid), await files.getSessionSummary(sid)];
    expect(a?.status).toBe("interrupted");
    expect({ ...a, endTime: undefined, durationSeconds: undefined }).toEqual({ ...b, endTime: undefined, durationSeconds: undefined });
    // (the store's end: its last record's; the files': the exit hook's, later)
    const last = (await store.getToolUsages({ limit: 1 }))[0]?.timestamp as string;
    expect(a?.endTime).toBe(last);
    expect(b!.endTime >= last).toBe(true);
  }, 60_000);
});

describe("an active row whose run the store's readers cannot tell dead stays active", () => {
  /** A store with one active row per entry of `runs` (its info: the run it names). */
  async function storeOf(runs: Record<string, Record<string, unknown>>): Promise<string> {
    const schema = schemaFor("killrun");
    await migratePostgres({ connectionString: PG_URL, schema });
    for (const [sid, info] of Object.entries(runs)) {
      await sql(`INSERT INTO "${schema}".audit_sessions (session_id, info, status) VALUES ($1, $2::jsonb, 'active')`, [sid, JSON.stringify({ sessionId: sid, status: "active", ...info })]);
    }
    return schema;
  }
  async function statuses(schema: string, contentDir?: string): Promise<Record<string, string>> {
    const viewer = new AuditViewer({ postgres: { connectionString: PG_URL, schema, ...(contentDir !== undefined ? { contentDir } : {}) } });
    const out: Record<string, string> = {};
    for (const l of await viewer.listSessions()) {
      out[l.sessionId] = l.status;
      // (the summary says what the listing says)
      expect((await viewer.getSessionSummary(l.sessionId))?.status, l.sessionId).toBe(l.status);
    }
    return out;
  }

  it("another host's run, a live process's, this process's own; no pid named; judged dead: a gone pid, a pid reused (another start), this pid's earlier incarnation", async () => {
    const here = os.hostname();
    const startTime = new Date().toISOString();
    const live = startFixture("../postgres/kill-child.ts", {}, [JSON.stringify({ url: "postgres://nobody@127.0.0.1:1/none", schema: "s", projectPath: tmpProject(), before: 0, after: 0 })]);
    children.push(live);
    await live.waitForLine((l) => l.startsWith("stored "), "stored");
    const schema = await storeOf({
      other_host: { pid: deadPid(), hostname: "another-host", startTime },
      live_child: { pid: live.child.pid, hostname: here, startTime },
      this_process: { pid: process.pid, hostname: here, startTime, ...(OWN_PROC_START !== undefined ? { procStart: OWN_PROC_START } : {}) },
      this_process_no_start: { pid: process.pid, hostname: here, startTime },
      no_pid: { hostname: here, startTime },
      no_host: { pid: deadPid(), startTime },
      gone: { pid: deadPid(), hostname: here, startTime },
      gone_resumed: { pid: deadPid(), hostname: here, startTime: "2026-01-01T00:00:00.000Z", resumedAt: startTime },
      // (the live child's pid, with a start that is not its own: a pid another process has taken since)
      pid_reused: { pid: live.child.pid, hostname: here, startTime, procStart: "1" },
      earlier_incarnation: { pid: process.pid, hostname: here, startTime: "2026-01-01T00:00:00.000Z" },
    });
    expect(await statuses(schema)).toEqual({
      other_host: "active",
      live_child: "active",
      this_process: "active",
      this_process_no_start: "active",
      no_pid: "active",
      no_host: "active",
      gone: "interrupted",
      gone_resumed: "interrupted",
      pid_reused: OWN_PROC_START !== undefined ? "interrupted" : "active",
      earlier_incarnation: "interrupted",
    });
    // the rows as they were
    expect((await sql<{ status: string }>(`SELECT DISTINCT status FROM "${schema}".audit_sessions`)).map((r) => r.status)).toEqual(["active"]);
  }, 60_000);

  // Found by review, 2026-12-06: a run of another pid namespace (a container given this host's
  // name, host networking) was judged by a pid of this one: its live run, whose pid is free here
  // (or is this process's: pid 1 in both containers), was reported interrupted.
  it("a run of another pid namespace is another host's: active, whatever its pid is here; one of this namespace, and one naming none (older), judged by its pid", async () => {
    const here = os.hostname();
    const startTime = new Date().toISOString();
    const ownNs = fs.readlinkSync("/proc/self/ns/pid");
    const schema = await storeOf({
      other_ns_gone_pid: { pid: deadPid(), hostname: here, startTime, procStart: "1", pidNs: "pid:[1]" },
      other_ns_this_pid: { pid: process.pid, hostname: here, startTime, procStart: "1", pidNs: "pid:[1]" },
      this_ns_gone: { pid: deadPid(), hostname: here, startTime, procStart: "1", pidNs: ownNs },
      no_ns_gone: { pid: deadPid(), hostname: here, startTime },
    });
    expect(await statuses(schema)).toEqual({ other_ns_gone_pid: "active", other_ns_this_pid: "active", this_ns_gone: "interrupted", no_ns_gone: "interrupted" });
  }, 30_000);

  it("with contentDir: a session whose lock a live process holds there (resumed, its sink not heard from) stays active", async () => {
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    const resumed = new AuditLogger({ projectPath, sessionId: "resumed_here", fullContentLogging: false });
    const schema = await storeOf({ resumed_here: { pid: deadPid(), hostname: os.hostname(), startTime: new Date().toISOString() } });
    expect(await statuses(schema)).toEqual({ resumed_here: "interrupted" });
    expect(await statuses(schema, dir)).toEqual({ resumed_here: "active" });
    await resumed.finalizeSession();
    // (its lock gone with it: nothing there tells the run the row names alive)
    expect(await statuses(schema, dir)).toEqual({ resumed_here: "interrupted" });
  }, 30_000);
});
