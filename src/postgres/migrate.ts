import type { Pool, QueryResult, QueryResultRow } from "pg";
import { ddlLockKey, migrationSql, names, quoteIdent, upgradeSql } from "./schema.js";
import { connectGuarded, parseOptions, poolFor, schemaOf } from "./pg.js";
import type { PostgresConnectionOptions } from "./options.js";
import { z } from "zod";
import { connectionOptionsShape } from "./pg.js";
import { againIfEnded, connectionEnded, storeError } from "./store-error.js";

/** What a migration did. */
export interface MigrationResult {
  readonly schema: string;
  /** the schema version now in place */
  readonly version: number;
  /** true when this call created the tables (false: they were already there) */
  readonly created: boolean;
}

/** Runs one statement of a migration on its connection (see `migrateOn`). */
export type RunStatement = <T extends QueryResultRow>(text: string, values?: unknown[]) => Promise<QueryResult<T>>;

/**
 * Creates the store's schema if it is not there, under an advisory lock so that many instances
 * starting together migrate once; also makes sure this month's and next month's partitions exist.
 * Idempotent. `onDropped` hears of the connection dropped while checked out (the statement in
 * progress fails too, and that failure is thrown).
 */
export async function migrateWith(pool: Pool, schema: string, onDropped: (err: Error) => void = () => undefined): Promise<MigrationResult> {
  // (found by review, 2026-12-04: no 'error' listener while checked out; a connection dropped
  // while waiting on the advisory lock killed the host with an uncaught 'error' event)
  const { client, unguard } = await connectGuarded(pool, onDropped);
  let ended: Error | undefined;
  try {
    return await migrateOn(<T extends QueryResultRow>(text: string, values?: unknown[]) => client.query<T>(text, values), schema);
  } catch (err) {
    // (a connection the server ended is not given back to the pool: the next connect got it, and failed)
    if (connectionEnded(err)) ended = err as Error;
    throw err;
  } finally {
    unguard();
    client.release(ended);
  }
}

/**
 * The migration (see `migrateWith`), its statements run by `run`, all on one connection: the sink
 * runs them as its own statements, canceled on the server after `queryTimeoutMs` or when close()'s
 * time is up (see PostgresSink's `onConnection`).
 */
export async function migrateOn(run: RunStatement, schema: string): Promise<MigrationResult> {
  let created = false;
  try {
    // The DDL runs whole, however long it takes here (300-700 ms for a new store on a small
    // machine): a role's or database's statement_timeout or idle_in_transaction_session_timeout
    // shorter than that failed every migration, and a sink with `migrate: true` never stored a
    // record (found by the PostgreSQL fault pass, 2026-12-06). SET LOCAL: for this transaction
    // only, sent with BEGIN so that no idle moment comes between. (The sink's queryTimeoutMs
    // still bounds each statement.)
    await run("BEGIN; SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0");
    await run("SELECT pg_advisory_xact_lock(hashtext($1))", [ddlLockKey(schema)]);
    const n = names(schema);
    const have = await run<{ reg: string | null }>("SELECT to_regclass($1)::text AS reg", [`${quoteIdent(schema)}.audit_schema_version`]);
    let version = 0;
    if (have.rows[0]?.reg) {
      const v = await run<{ v: number | null }>(`SELECT max(version) AS v FROM ${n.version}`);
      version = v.rows[0]?.v ?? 0;
    }
    if (version === 0) {
      await run(`CREATE SCHEMA IF NOT EXISTS ${n.schema}`);
      await run(migrationSql(schema));
      created = true;
      version = 1;
    }
    // (a store of an older version is upgraded step by step: found by review, 2026-12-04, when
    // the first change to the schema came; the whole DDL used to run again, and failed)
    for (const [to, ddl] of upgradeSql(schema)) {
      if (to <= version) continue;
      await run(ddl);
      await run(`INSERT INTO ${n.version} (version) VALUES ($1)`, [to]);
      version = to;
    }
    await run(`SELECT ${n.ensurePartition}(now()), ${n.ensurePartition}(now() + interval '1 month')`);
    await run("COMMIT");
    return { schema, version, created };
  } catch (err) {
    await run("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

const migrateOptionsSchema = z.strictObject({ ...connectionOptionsShape });

/**
 * Creates (or checks) the central store's schema. The sink does this itself on first connect;
 * call it ahead of time when the writers' role may not create tables.
 *
 * @example
 * await migratePostgres({ connectionString: process.env.AUDIT_PG_URL, schema: "audit_logger" });
 */
export async function migratePostgres(options: PostgresConnectionOptions): Promise<MigrationResult> {
  const o = parseOptions(migrateOptionsSchema, options, "postgres") as PostgresConnectionOptions;
  const { pool, owned } = poolFor(o, { max: 1 }, "postgres");
  try {
    // (once more on a new connection when the server said it ended this one under it (57P01 …),
    // as the sink's migration is tried again: the ending rolled it back. Not for a connection lost
    // without a word: its COMMIT may have landed, and a second run would say created: false.
    // Found by the PostgreSQL fault pass, 2026-12-06.)
    return await againIfEnded(() => migrateWith(pool, schemaOf(o)), false);
  } catch (err) {
    throw storeError(err, pool, schemaOf(o), "migrate");
  } finally {
    if (owned) await pool.end();
  }
}
