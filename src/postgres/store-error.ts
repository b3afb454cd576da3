/**
 * A failure of the store turned into the library's own error (`AuditIOError`, code `AUDIT_ERR_IO`)
 * that names the store (host, port, database and schema; never the user or password) and what to
 * check, with the driver's error as `cause`. Until 2026-12-05 `verifyPostgres`, `migratePostgres`,
 * `applyPostgresRetention` and the viewer over PostgreSQL passed the driver's own error (a bare
 * `connect ECONNREFUSED`, `relation "x.audit_sessions" does not exist`), with no code of ours and
 * no word of which store or what to do; only the CLI wrapped them.
 */
import { AuditIOError, AuditLoggerError } from "../errors.js";
import type { Pool, QueryResult, QueryResultRow } from "pg";
import type { PgPoolLike } from "./options.js";
import { storeAddress } from "./pg.js";

/** SQLSTATEs of a store that is not there: no schema, table or function of ours. */
const MISSING = new Set(["3F000", "42P01", "42883"]);

/**
 * Whether the error means the server could not be used at all: no SQLSTATE (a socket error, a
 * connect timeout, a connection ended), connection exceptions (class 08), authorization (28),
 * no such database (3D000), the server starting or shutting down (57P), too many connections (53300).
 */
function unreachable(code: string | undefined): boolean {
  return code === undefined || !/^[0-9A-Z]{5}$/.test(code) || /^(08|28|57P)/.test(code) || code === "3D000" || code === "53300";
}

/**
 * SQLSTATEs of a connection the server ended under a query: an administrator's or a tool's
 * `pg_terminate_backend`, a fast shutdown or a failover (57P01), a crash of another backend
 * (57P02), `idle_session_timeout` (57P05).
 */
const ENDED: Readonly<Record<string, string>> = {
  "57P01": "an administrator or a tool ended it (pg_terminate_backend, a pooler, a failover or a fast shutdown)",
  "57P02": "the server restarted after a crash of another of its processes",
  "57P05": "the server's idle_session_timeout ended it",
};

/**
 * Whether the connection of a query was ended under it (see `ENDED`), or lost without a SQLSTATE
 * (pg's "Connection terminated unexpectedly"): a read can run again, on a new
 * connection of the pool (pg's pool drops a connection whose query failed so).
 */
export function connectionEnded(err: unknown, lostToo = true): boolean {
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof e.code === "string") return e.code in ENDED;
  if (!lostToo) return false;
  // (not "Connection terminated due to connection timeout": a server that did not answer the connect)
  return typeof e.message === "string" && /^Connection terminated unexpectedly/.test(e.message);
}

/** Failures of a second attempt by `againIfEnded` (its message then says so). */
const triedTwice = new WeakSet<object>();

/**
 * Runs `run`, one query of the store on a connection of the pool, once more when the server ended
 * its connection under it (see `connectionEnded`): pg's pool drops such a connection, so the second
 * attempt has a new one. Only for a statement that is whole by itself (a read, or a write in its own
 * transaction, which the ending rolled back). `lostToo` false: only when the server said it ended
 * the connection (a SQLSTATE), not for one lost without a word, whose write may have committed
 * (a write whose result says what it did). `again`: told of the first failure before the second
 * attempt. The failure is thrown as it is; `storeError` says whether it came after a second
 * attempt (see `failedTwice`). The viewer's reads, the store's key reads (`StoreKeys`),
 * `verifyPostgres`, `migratePostgres` and `applyPostgresRetention` run their statements so, and
 * every statement of the sink (see PostgresSink's `againIfEndedHere`, which reports the first failure).
 *
 * @example
 * const r = await againIfEnded(() => pool.query("SELECT 1"));
 */
export async function againIfEnded<T>(run: () => Promise<T>, lostToo = true, again?: (err: unknown) => void): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!connectionEnded(err, lostToo)) throw err;
    again?.(err);
  }
  try {
    return await run();
  } catch (err) {
    if (typeof err === "object" && err !== null) triedTwice.add(err);
    throw err;
  }
}

/** Whether `err` failed the second attempt of `againIfEnded` (the first one's connection was ended under it too). */
export function failedTwice(err: unknown): boolean {
  return typeof err === "object" && err !== null && triedTwice.has(err);
}

/** The reads of the store a function makes (a pg.Pool's `query`, narrowed). */
export interface StoreReads {
  query<T extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<T>>;
}

/** `pool`'s queries, each run once more when the server ended its connection under it (see `againIfEnded`). */
export function readsAgainIfEnded(pool: Pool): StoreReads {
  return { query: <T extends QueryResultRow>(text: string, values?: unknown[]) => againIfEnded(() => pool.query<T>(text, values)) };
}

/**
 * `err` as an `AuditIOError` for `action` ("verify", "read", …) on the store `pool` reaches; an
 * error of the library's own is returned as it is.
 *
 * @example
 * try { await pool.query(sql) } catch (err) { throw storeError(err, pool, schema, "verify") }
 */
export function storeError(err: unknown, pool: PgPoolLike, schema: string, action: string): AuditLoggerError {
  if (err instanceof AuditLoggerError) return err;
  const retried = failedTwice(err);
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === "string" ? e.code : undefined;
  const message = typeof e.message === "string" && e.message !== "" ? e.message : (code ?? String(err));
  const where = `${storeAddress(pool)} (schema ${schema})`;
  if (code !== undefined && MISSING.has(code)) {
    return new AuditIOError(
      `cannot ${action} the PostgreSQL store at ${where}: there is no audit store in schema "${schema}" (${message}). Nothing has been written there yet (a PostgresSink or migratePostgres creates it), or the store is in another schema (option schema).`,
      { cause: err },
    );
  }
  // (a server that is up ended the connection: "check the host, port, user, password" misled;
  // found by the PostgreSQL fault-injection pass, 2026-12-06)
  if (connectionEnded(err)) {
    const why = code !== undefined && code in ENDED ? ENDED[code]! : "the connection was lost";
    return new AuditIOError(
      `cannot ${action} the PostgreSQL store at ${where}: the server ended the connection during the query (${code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}: ` : ""}${message})${retried ? ", and again on a new connection" : ""}: ${why}. The store is reachable and the credentials are right; try again, and if it keeps happening look in the server's log for what ends the connections (pg_stat_activity, a pooler's or a failover's log).`,
      { cause: err },
    );
  }
  if (unreachable(code)) {
    return new AuditIOError(`cannot ${action} the PostgreSQL store at ${where}: ${message}. Check that the server is up and that the connection's host, port, user, password and database are right.`, {
      cause: err,
    });
  }
  return new AuditIOError(`cannot ${action} the PostgreSQL store at ${where}: the server refused it: ${message} (SQLSTATE ${code}).`, { cause: err });
}
