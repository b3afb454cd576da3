// A store that does not answer, or holds no audit store in the schema given, made verifyPostgres,
// migratePostgres, applyPostgresRetention and the viewer over PostgreSQL fail with the driver's
// own error (`connect ECONNREFUSED 127.0.0.1:…`, `relation "x.audit_sessions" does not exist`):
// no code of ours, no word of which store or what to check. Each is now an AuditIOError
// (AUDIT_ERR_IO) naming the store and schema, never the password, with the driver's error as cause.
import { describe, expect, it } from "vitest";
import { AuditIOError, AuditViewer } from "../../src/index.js";
import { applyPostgresRetention, migratePostgres, verifyPostgres } from "../../src/postgres/index.js";
import { thrownBy } from "../helpers/index.js";
import { PG_URL, freePort, freshSchema, sql } from "../fixtures/postgres/db.js";

const failure = (run: () => unknown): Promise<AuditIOError> => thrownBy(run, AuditIOError);

type Entry = readonly [string, (connectionString: string, schema?: string) => Promise<unknown>];
const READERS: Entry[] = [
  ["verifyPostgres", (cs, schema) => verifyPostgres({ connectionString: cs, schema })],
  ["applyPostgresRetention", (cs, schema) => applyPostgresRetention({ connectionString: cs, schema, before: "2020-01-01", reason: "test" })],
  [
    "AuditViewer over postgres",
    (cs, schema) => new AuditViewer({ postgres: { connectionString: cs, schema } }).getChatInteractions({ limit: 5 }),
  ],
];
const ALL: Entry[] = [...READERS, ["migratePostgres", (cs, schema) => migratePostgres({ connectionString: cs, schema })]];

describe("store errors", () => {
  it.each(ALL)("%s: an unreachable store is an AuditIOError naming host, port and database, without the password", async (_, run) => {
    const port = await freePort();
    const err = await failure(() => run(`postgres://audit:hunter2@127.0.0.1:${port}/test`, "audit_logger"));
    expect(err.code).toBe("AUDIT_ERR_IO");
    expect(err.message).toContain(`127.0.0.1:${port}/test (schema audit_logger)`);
    expect(err.message).toContain("ECONNREFUSED");
    expect(err.message).toContain("Check that the server is up");
    expect(err.message).not.toContain("hunter2");
    expect((err.cause as { code?: string }).code).toBe("ECONNREFUSED");
  });

  it.each(ALL)("%s: a database that does not exist is an AuditIOError saying so", async (_, run) => {
    const u = new URL(PG_URL);
    u.pathname = "/no_such_database_q4";
    const err = await failure(() => run(u.toString(), "audit_logger"));
    expect(err.message).toContain('database "no_such_database_q4" does not exist');
    expect((err.cause as { code?: string }).code).toBe("3D000");
  });

  it.each(READERS)("%s: a schema with no audit store is an AuditIOError naming the schema and what creates it", async (_, run) => {
    const schema = freshSchema("nostore");
    expect(await sql("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema])).toEqual([]);
    const err = await failure(() => run(PG_URL, schema));
    expect(err.code).toBe("AUDIT_ERR_IO");
    expect(err.message).toContain(`there is no audit store in schema "${schema}"`);
    expect(err.message).toContain("a PostgresSink or migratePostgres creates it");
    expect(["42P01", "3F000"]).toContain((err.cause as { code?: string }).code);
  });
});
