// A connection string pg would misread was taken as given: a keyword string (host=… password=…)
// was read as host "base", a malformed URL failed as a TypeError at the first connect, and a
// sink took the permanent mistake for an outage and spooled every record for good (found by
// review, 2026-12-05). Every entry point now refuses it at once, naming the field, never
// repeating the string (it may hold a password).
import { describe, expect, it } from "vitest";
import { AuditConfigError, AuditViewer } from "../../src/index.js";
import { PostgresSink, applyPostgresRetention, migratePostgres, verifyPostgres } from "../../src/postgres/index.js";
import { thrownBy } from "../helpers/index.js";
import { PG_URL } from "../fixtures/postgres/db.js";

const BAD = [
  ["a keyword string", "host=127.0.0.1 port=5432 dbname=test password=hunter2"],
  ["another scheme", "mysql://audit:hunter2@127.0.0.1/test"],
  ["not a URL", "audit:hunter2@127.0.0.1:5432"],
] as const;

const refusal = (run: () => unknown): Promise<AuditConfigError> => thrownBy(run, AuditConfigError);

describe("connection strings", () => {
  const entries: Array<[string, (cs: string) => unknown]> = [
    ["new PostgresSink", (cs) => new PostgresSink({ connectionString: cs })],
    ["verifyPostgres", (cs) => verifyPostgres({ connectionString: cs })],
    ["migratePostgres", (cs) => migratePostgres({ connectionString: cs })],
    ["applyPostgresRetention", (cs) => applyPostgresRetention({ connectionString: cs, before: "2020-01-01", reason: "test" })],
    ["new AuditViewer({ postgres })", (cs) => new AuditViewer({ postgres: { connectionString: cs } })],
  ];
  for (const [entry, run] of entries) {
    it.each(BAD)(`${entry} refuses %s with AuditConfigError naming connectionString, without the password`, async (_, cs) => {
      const err = await refusal(() => run(cs));
      expect(err.code).toBe("AUDIT_ERR_CONFIG");
      expect(err.issues.map((i) => i.field).join()).toMatch(/connectionString$/);
      expect(`${err.message} ${JSON.stringify(err.issues)}`).not.toContain("hunter2");
    });
  }

  it("URLs pg reads are taken: host and port, a socket directory as ?host=, an empty host (PGHOST or pg's default, as libpq)", async () => {
    for (const cs of [PG_URL, "postgres://audit@/test?host=/var/run/postgresql", "postgres:///app", "postgres://audit:pw@/app", "postgresql://audit:p%40ss@db.internal:6432/audit?sslmode=require"]) {
      const sink = new PostgresSink({ connectionString: cs });
      await sink.close();
    }
  });
});
