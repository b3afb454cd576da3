import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { tmpProject } from "../helpers/index.js";
import { fileLines as lines, filesAndStore, freePort, PG_URL, PgProxy, pgTestScope } from "../fixtures/postgres/db.js";
import { childArgs } from "../helpers/child-args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const { schemaFor, proxies } = pgTestScope();

/** Runs the child; `flushed` runs once it has flushed its first records, before it logs the burst. */
function runChild(args: object, flushed: () => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...childArgs(path.join(here, "../fixtures/postgres/exit-child.ts")), JSON.stringify(args)], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdin.on("error", () => undefined); // (a child that died early: its stdout and code tell)
    child.stdout.on("data", (d) => {
      const had = out.includes("flushed\n");
      out += d;
      if (!had && out.includes("flushed\n")) {
        flushed();
        child.stdin.end("go\n");
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code, signal) => resolve({ code, signal, out, err }));
  });
}

describe("records a PostgresSink holds in memory as the process ends", () => {
  const cases: Array<{ end: "exit" | NodeJS.Signals; outage: boolean }> = [
    { end: "exit", outage: false },
    { end: "SIGTERM", outage: false },
    { end: "SIGINT", outage: false },
    { end: "SIGHUP", outage: false },
    { end: "SIGTERM", outage: true },
  ];
  it.each(cases)("go to the spool at $end (store away: $outage), and the next process's sink stores them; verify sees every record", async ({ end, outage }) => {
    const schema = schemaFor("exitspill");
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    // the store through a proxy, down while the child runs when `outage`
    const store = new PgProxy(await freePort());
    proxies.push(store);
    if (!outage) await store.start();
    const url = store.url;
    // Once the child has flushed, the store stalls (the proxy holds what it is sent): the burst
    // is in the sink's memory, queued or in flight, as the process ends. The store's reply could
    // otherwise come first: under load the burst was stored before the exit hook ran, and no
    // spool was left to test.
    const r = await runChild({ url, schema, projectPath, sessionId: "ending", before: 3, after: 5, end }, () => (store.holding = true));
    store.holding = false;
    if (end === "exit") expect(r.code, r.err).toBe(0);
    else expect(r.signal, r.err + r.out).toBe(end);
    // the burst the child logged last is on disk in its spool
    const late = lines(path.join(dir, "tool_usage_ending.jsonl")).slice(-5);
    expect(late.map((l) => (JSON.parse(l) as { operation: string }).operation)).toEqual(["after0", "after1", "after2", "after3", "after4"]);
    const spool = fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool_") && f.endsWith("_ending.jsonl"));
    expect(spool).toHaveLength(1);
    const spooled = lines(path.join(dir, spool[0]!));
    for (const l of late) expect(spooled).toContain(l);
    // the next process (another session, the store up) adopts the spool
    if (outage) await store.start();
    const sink = new PostgresSink({ connectionString: url, schema });
    const next = new AuditLogger({ projectPath, sinks: [sink], fullContentLogging: false });
    const errors: string[] = [];
    next.on("error", (e) => errors.push(e.message));
    next.logToolUsage({ toolName: "t", operation: "next" });
    await next.finalizeSession();
    expect(errors).toEqual([]);
    const { files, store: stored } = await filesAndStore(dir, schema, "ending");
    expect(files.length).toBeGreaterThanOrEqual(8);
    expect(stored).toEqual(files);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool"))).toEqual([]);
    const report = await verifyPostgres({ connectionString: PG_URL, schema });
    expect(report.problems).toEqual([]);
  }, 30_000);
});
