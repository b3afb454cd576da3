// Two calls of audit_ensure_partition for a month not made yet (two writers that may not migrate,
// at a month's start): the second waited for the first's lock, then looked again with
// to_regclass, which answered from what it had cached before the wait, and its CREATE TABLE
// failed with 42P07 ("already exists"; found 2026-12-06, by the PostgreSQL pass, as two such
// writers started together). Real PostgreSQL, two connections interleaved.
import pg from "pg";
import { describe, expect, it } from "vitest";
import { migratePostgres } from "../../src/postgres/index.js";
import { PG_URL, pgTestScope, sql, waitsForLock } from "../fixtures/postgres/db.js";

const { schemaFor } = pgTestScope();

describe("audit_ensure_partition called twice at once for a new month", () => {
  it("the second call, which waited for the first, returns the month the first made", async () => {
    const schema = schemaFor("partrace");
    await migratePostgres({ connectionString: PG_URL, schema });
    const one = new pg.Client({ connectionString: PG_URL });
    const two = new pg.Client({ connectionString: PG_URL });
    await one.connect();
    await two.connect();
    const call = (c: pg.Client) => c.query<{ p: string }>(`SELECT "${schema}".audit_ensure_partition('2031-03-05T00:00:00Z') AS p`);
    let second: unknown;
    try {
      const pid = (await two.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      await one.query("BEGIN");
      expect((await call(one)).rows[0]!.p).toBe("audit_records_p2031_03");
      const waiting = call(two).then(
        (r) => r.rows[0]!.p,
        (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
      );
      await waitsForLock(pid);
      await one.query("COMMIT");
      second = await waiting;
    } finally {
      await one.end();
      await two.end();
    }
    expect(second).toBe("audit_records_p2031_03");
    // one partition, with its TRUNCATE guard
    const parts = await sql<{ t: string }>(
      `SELECT t.tgname AS t FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'audit_records_p2031_03'`,
      [schema],
    );
    expect(parts.filter((p) => p.t === "audit_partition_no_truncate")).toHaveLength(1);
  });
});
