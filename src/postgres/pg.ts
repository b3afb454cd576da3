/**
 * `pg` is an optional peer dependency: it is loaded only when a PostgreSQL feature is used, the
 * application's own copy, and its absence is reported as a configuration error saying what to
 * install.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import os from "node:os";
import type * as PgModule from "pg";
import type { Pool, PoolClient, PoolConfig } from "pg";
import { z } from "zod";
import { AuditConfigError } from "../errors.js";
import { toFieldIssues } from "../record/issues.js";
import type { PgPoolLike, PostgresConnectionOptions } from "./options.js";
import { DEFAULT_SCHEMA, schemaNameSchema } from "./schema.js";

let cached: typeof PgModule | undefined;

/** The `pg` module, loaded the CommonJS way (it is CommonJS). */
export function loadPg(field = "sinks"): typeof PgModule {
  if (cached) return cached;
  try {
    cached = createRequire(import.meta.url)("pg") as typeof PgModule;
    return cached;
  } catch (cause) {
    const e = new AuditConfigError([{ field, message: "the PostgreSQL store needs the 'pg' package: run `npm install pg`" }]);
    e.cause = cause;
    throw e;
  }
}

export type { PgPoolLike, PostgresConnectionOptions } from "./options.js";

/**
 * What is wrong with a connection string, or undefined: it must be a `postgres://` (or
 * `postgresql://`, `socket:`) URL (an empty host is pg's default or PGHOST, as in libpq). pg reads
 * anything else some other way without a word: a keyword string (`host=db password=… dbname=x`)
 * as host "base" and that whole text as the database name, a malformed URL as a TypeError at
 * the first connect; a sink then took the permanent mistake for an outage and spooled every
 * record for good (found by review, 2026-12-05). The message never repeats the string (it may
 * hold a password).
 */
export function connectionStringProblem(raw: string): string | undefined {
  // the host part empty (`postgres:///app`, `postgres://user@/db?host=/run/postgresql`): pg takes
  // the host from `?host=`, PGHOST or its default, as libpq does; the WHATWG URL parser refuses
  // credentials without a host
  if (/^postgres(?:ql)?:\/\/(?:[^@/?#]*@)?\//i.test(raw)) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return raw.includes("=") && !raw.includes("://")
      ? "must be a URL such as postgres://user:password@host:5432/database (a keyword string, host=… dbname=…, is not read as one)"
      : "must be a URL such as postgres://user:password@host:5432/database (characters such as @ : / # in the password percent-encoded)";
  }
  if (u.protocol === "socket:") return undefined;
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") return `must be a postgres:// or postgresql:// URL, not ${u.protocol}//`;
  return undefined;
}

export const connectionOptionsShape = {
  connectionString: z
    .string()
    .min(1, "must be a non-empty connection string")
    .superRefine((raw, ctx) => {
      const problem = connectionStringProblem(raw);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
  // (a pg.Client has connect and query too, but no pool counts: refused here, not by a TypeError
  // from deep inside a migration)
  pool: z
    .custom<PgPoolLike>(
      (v) => typeof v === "object" && v !== null && typeof (v as Pool).connect === "function" && typeof (v as Pool).query === "function" && typeof (v as Pool).totalCount === "number",
      "must be a pg.Pool (a pg.Client is not one: pass new pg.Pool(...), or connectionString)",
    )
    .optional(),
  poolConfig: z.record(z.string(), z.unknown()).optional(),
  schema: schemaNameSchema.optional(),
};

/** Validates connection options with `schema`, throwing `AuditConfigError` naming each bad field. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, prefix: string): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (!r.success) throw new AuditConfigError(toFieldIssues(r.error, prefix, schema));
  const v = r.data as { connectionString?: string; pool?: PgPoolLike; poolConfig?: Record<string, unknown> };
  if (v.connectionString === undefined && v.pool === undefined && v.poolConfig === undefined) {
    throw new AuditConfigError([{ field: `${prefix}.connectionString`, message: "give connectionString (or pool / poolConfig)" }]);
  }
  return r.data;
}

/** A pool for the options (ours, to end later), or the caller's pool. */
export function poolFor(o: PostgresConnectionOptions, extra: PoolConfig, field: string): { pool: Pool; owned: boolean } {
  // (the option's type is our own, so that the public types need no `pg`; it is a pg.Pool)
  if (o.pool) return { pool: o.pool as unknown as Pool, owned: false };
  const pg = loadPg(field);
  const pool = new pg.Pool({
    ...extra,
    ...(o.poolConfig ?? {}),
    ...(o.connectionString !== undefined ? { connectionString: o.connectionString } : {}),
  });
  // An idle connection of the pool that the server drops (pg_terminate_backend, a restart, a
  // pooler's or idle_in_transaction timeout) is an 'error' event of the pool: with no listener it
  // ended the host process. Found by the fault-injection pass, 2026-12-06: verifyPostgres(), whose
  // connection is idle in the pool while it hashes each page, died so at the first drop
  // (migratePostgres() and applyPostgresRetention() between their statement and the pool's end).
  // It is no failure: the next statement opens another connection, and a failure there is thrown
  // (as an AuditIOError). The sink and the reader add listeners of their own.
  pool.on("error", () => undefined);
  return { pool, owned: true };
}

export function schemaOf(o: PostgresConnectionOptions): string {
  return o.schema ?? DEFAULT_SCHEMA;
}

/**
 * A connection checked out of `pool`, listened to for its 'error' event while checked out; with
 * the function that stops listening (call it before `release()`). Found by review, 2026-12-04: the
 * pool listens on idle clients only, so a checked-out client whose connection the server dropped
 * (pg_terminate_backend, a restart, a failover) emitted 'error' with no listener and the host
 * process died of it. The query in progress is rejected as well, so the caller learns of the
 * failure there; `onError` only sees the event. The listener is added in pg-pool's callback, as
 * the pool hands the client over, not after an `await`: found by the PostgreSQL fault pass,
 * 2026-12-06, a connection ended just as it was made (its ReadyForQuery and the server's 57P01
 * in one read of the socket) emitted 'error' between the two, and ended the host.
 */
export function connectGuarded(pool: Pool, onError: (err: Error) => void): Promise<{ client: PoolClient; unguard: () => void }> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client) => {
      if (err || !client) {
        reject(err ?? new Error("the pool gave no connection"));
        return;
      }
      const listener = (e: Error): void => {
        try {
          onError(e);
        } catch {
          // a failing reporter must not turn into an uncaught exception either
        }
      };
      client.on("error", listener);
      resolve({
        client,
        unguard: () => {
          client.removeListener("error", listener);
        },
      });
    });
  });
}

/** pg's own connection-string parser (`pg-connection-string`, a dependency of `pg`): a DSN read as pg reads it. */
function parseDsn(dsn: string): Record<string, unknown> | undefined {
  try {
    const fromPg = createRequire(createRequire(import.meta.url).resolve("pg"));
    return (fromPg("pg-connection-string") as { parse(s: string): Record<string, unknown> }).parse(dsn);
  } catch {
    return undefined;
  }
}

/**
 * A short name (10 hex digits) of the store a pool reaches, and the schema: a hash of host, port
 * and database as pg resolves them (the connection string over the pool's settings, then the PG*
 * environment and pg's defaults), never of the user or password. It names the sink's spool, so
 * that a spool is replayed into its own store only. Found by review, 2026-12-05: two sinks to two
 * stores with one schema name (or schema "x" and session "y" beside the default schema and
 * session "x_y") shared one spool file, and each adopted the other's.
 */
export function storeKey(pool: PgPoolLike, schema: string): string {
  const t = storeTarget(pool);
  const target = [t.host, t.port, t.database, t.dsn, schema].map((v) => (v === null ? null : String(v)));
  return createHash("sha256").update(JSON.stringify(target)).digest("hex").slice(0, 10);
}

/** The host, port and database a pool reaches, as pg resolves them (never the user or password). */
function storeTarget(pool: PgPoolLike): { host: unknown; port: unknown; database: unknown; dsn: unknown } {
  const o: Record<string, unknown> = { ...((pool as unknown as { options?: Record<string, unknown> }).options ?? {}) };
  if (typeof o.connectionString === "string") {
    for (const [k, v] of Object.entries(parseDsn(o.connectionString) ?? { dsn: o.connectionString })) if (v !== undefined && v !== null && v !== "") o[k] = v;
  }
  const user = o.user ?? process.env.PGUSER ?? safeUserName();
  return { host: o.host ?? process.env.PGHOST ?? "localhost", port: o.port ?? process.env.PGPORT ?? 5432, database: o.database ?? process.env.PGDATABASE ?? user, dsn: o.dsn ?? null };
}

/**
 * `host:port/database` for messages: the store a pool reaches, without the user or password (a
 * string pg could not parse is not repeated).
 */
export function storeAddress(pool: PgPoolLike): string {
  const t = storeTarget(pool);
  return t.dsn !== null ? "(the connection string given)" : `${String(t.host)}:${String(t.port)}/${String(t.database)}`;
}

function safeUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return "";
  }
}

