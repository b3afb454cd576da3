// Found 2026-12-05: retention removed a session but left what a PostgresSink keeps beside it: the
// crashed session's lock, the recovery marker a sink wrote once it had sent that session's records
// (`.pg_recovery_<store>_<id>`), and spools (`.pg_spool_<store>_<id>.jsonl`). The markers and locks
// piled up without bound, and every sink's open lists the directory and reads each left lock. A
// spool that still holds records the store has not got must not go: its session is kept, whole,
// until a sink has sent them. Real PostgreSQL, real sinks (see test/core/retention-leftovers.test.ts
// for the files alone).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { migratePostgres, PostgresSink, verifyPostgres } from "../../src/postgres/index.js";
import { tmpProject } from "../helpers/index.js";
import { filesAndStore, freePort, leaveCrashed, nextSession, PG_URL, PgProxy, pgTestScope } from "../fixtures/postgres/db.js";

const { schemaFor, proxies } = pgTestScope();

const DAY = 86_400_000;

async function storeAndDir(tag: string): Promise<{ schema: string; projectPath: string; dir: string }> {
  const schema = schemaFor(tag);
  await migratePostgres({ connectionString: PG_URL, schema });
  const projectPath = tmpProject();
  return { schema, projectPath, dir: path.join(projectPath, "audit_logs") };
}

/** The names in `dir` that name session `sid` (its records, session file, dot files). */
const namesOf = (dir: string, sid: string): string[] => fs.readdirSync(dir).filter((n) => n.includes(`_${sid}.`) || n.endsWith(`_${sid}`));

describe("retention and what a PostgresSink keeps beside a session", () => {
  it("a crashed session's lock and the marker of its recovery go with it; verify and the next sink find nothing amiss", async () => {
    const { schema, projectPath, dir } = await storeAndDir("retcrash");
    // a session that wrote to a PostgresSink (its session file lists it), killed: its lock left
    const crashed = new AuditLogger({ projectPath, durability: "sync", fullContentLogging: false });
    for (let i = 0; i < 3; i++) crashed.logToolUsage({ toolName: "t", operation: `op${i}` });
    await crashed.finalizeSession();
    const sid = crashed.sessionId;
    leaveCrashed(dir, sid);
    // the next process's sink sends its records and marks the crash recovered
    const next = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(next.errors).toEqual([]);
    expect(next.stats.recoveredSessions).toBe(1);
    const left = namesOf(dir, sid).filter((n) => n.startsWith("."));
    expect(left.sort()).toEqual([expect.stringMatching(/^\.pg_recovery_[0-9a-f]{10}_/), `.session_${sid}.lock`]);

    const cleaner = new AuditLogger({ sessionId: "cleaner", projectPath, maxLogAgeDays: 30, fullContentLogging: false });
    const now = Date.now() + 40 * DAY;
    const dry = await cleaner.cleanup({ dryRun: true, now });
    const entry = dry.removed.find((e) => e.sessionId === sid);
    expect(entry?.files).toEqual(expect.arrayContaining(left));
    for (const f of left) expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    const real = await cleaner.cleanup({ now });
    expect(real.removed).toEqual(dry.removed);
    expect(real.removed.map((e) => e.sessionId).sort()).toEqual([sid, next.sessionId].sort());
    expect(namesOf(dir, sid)).toEqual([]);
    await cleaner.finalizeSession();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith("."))).toEqual([]);
    const report = await verifyAuditLog(dir);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);

    // the next sink opens without error and has nothing to recover; the store still verifies
    const after = await nextSession(projectPath, { connectionString: PG_URL, schema });
    expect(after.errors).toEqual([]);
    expect(after.stats.recoveredSessions).toBe(0);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  }, 30_000);

  it("a session whose spool still holds records the store lacks is kept, whole, and said so; once a sink has sent them it goes, leaving nothing", async () => {
    const { schema, projectPath, dir } = await storeAndDir("retspool");
    const store = new PgProxy(await freePort());
    proxies.push(store);
    // the store unreachable as session A ends: its records wait in its spool
    const a = new AuditLogger({ projectPath, sinks: [new PostgresSink({ connectionString: store.url, schema, closeTimeoutMs: 300 })], fullContentLogging: false });
    a.on("error", () => undefined);
    for (let i = 0; i < 5; i++) a.logToolUsage({ toolName: "t", operation: "op" });
    await a.finalizeSession();
    const spools = fs.readdirSync(dir).filter((n) => n.startsWith(".pg_spool_"));
    expect(spools).toEqual([expect.stringMatching(new RegExp(`^\\.pg_spool_[0-9a-f]{10}_${a.sessionId}\\.jsonl$`))]);
    const spooled = fs.readFileSync(path.join(dir, spools[0]!), "utf8");

    const cleaner = new AuditLogger({ sessionId: "cleaner", projectPath, maxLogAgeDays: 30, fullContentLogging: false });
    const now = Date.now() + 40 * DAY;
    const before = namesOf(dir, a.sessionId).sort();
    for (const dryRun of [true, false]) {
      const r = await cleaner.cleanup({ dryRun, now });
      expect(r.removed).toEqual([]);
      expect(r.skippedUnsent).toEqual([{ sessionId: a.sessionId, lastActivity: expect.any(String), files: spools }]);
      expect(namesOf(dir, a.sessionId).sort()).toEqual(before);
      expect(fs.readFileSync(path.join(dir, spools[0]!), "utf8")).toBe(spooled);
    }

    // the store back: the next sink in the directory sends the spool and removes it
    await store.start();
    const next = await nextSession(projectPath, { connectionString: store.url, schema });
    expect(next.errors).toEqual([]);
    expect(next.stats.adopted).toBe(spooled.trimEnd().split("\n").length);
    const { files, store: stored } = await filesAndStore(dir, schema, a.sessionId);
    expect(stored).toEqual(files);
    const r = await cleaner.cleanup({ now });
    expect(r.skippedUnsent).toEqual([]);
    expect(r.removed.map((e) => e.sessionId).sort()).toEqual([a.sessionId, next.sessionId].sort());
    expect(namesOf(dir, a.sessionId)).toEqual([]);
    await cleaner.finalizeSession();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith("."))).toEqual([]);
    expect((await verifyAuditLog(dir)).problems).toEqual([]);
    expect((await verifyPostgres({ connectionString: PG_URL, schema })).problems).toEqual([]);
  }, 30_000);
});
