/**
 * Where a command reads from: an audit directory (`<dir>`) or a PostgreSQL store
 * (`--postgres <url> [--schema <name>]`). Parses and checks the choice (bad usage exits 2), and
 * opens the store with one connection check up front, so an unreachable server, a failed login
 * or a schema without a store is one clear message (exit 1) rather than a stack of driver errors.
 */
import type { Pool } from "pg";
import { AuditIOError } from "../errors.js";
import { loadPg } from "../postgres/pg.js";
import { againIfEnded } from "../postgres/store-error.js";
import { DEFAULT_SCHEMA, names, schemaNameSchema } from "../postgres/schema.js";
import { resolveAuditDir, shownArg, singleDir, UsageError, type OptionsConfig } from "./args.js";

/** The flags of every command that can read a PostgreSQL store. */
export const STORE_OPTIONS = {
  postgres: { type: "string" },
  schema: { type: "string" },
} as const satisfies OptionsConfig;

/** Help lines for {@link STORE_OPTIONS}, indented like the rest of each command's help. */
export function storeHelp(width: number): string {
  const pad = (s: string) => `  ${s.padEnd(width)}`;
  return [
    `${pad("--postgres <url>")}read the PostgreSQL store at <url> (postgres://user@host:5432/db)`,
    `${" ".repeat(width + 2)}instead of a directory; the password is best left to PGPASSWORD`,
    `${" ".repeat(width + 2)}or ~/.pgpass, so that it does not show in the process list`,
    `${pad("--schema <name>")}with --postgres: the schema holding the store (default ${DEFAULT_SCHEMA})`,
  ].join("\n");
}

/** What a command reads. */
export type StoreTarget = { readonly kind: "dir"; readonly dir: string } | { readonly kind: "postgres"; readonly url: string; readonly schema: string };

/**
 * The command's source: `<dir>`, or `--postgres` (never both). A malformed URL or schema name is
 * a usage error; whether the server answers is checked by {@link openStore}.
 *
 * @example
 * const target = storeTarget("summary", positionals, values); // { kind: "postgres", url, schema } with --postgres
 */
export function storeTarget(command: string, positionals: readonly string[], values: { postgres?: string | undefined; schema?: string | undefined }): StoreTarget {
  if (values.postgres === undefined) {
    if (values.schema !== undefined) throw new UsageError("option --schema only applies with --postgres <url>", command);
    return { kind: "dir", dir: resolveAuditDir(singleDir(command, positionals)) };
  }
  if (positionals.length > 0) {
    throw new UsageError(`give either a <dir> or --postgres <url>, not both (got <dir> "${shownArg(positionals[0]!)}" and --postgres)`, command);
  }
  const url = postgresUrl(values.postgres);
  let schema = DEFAULT_SCHEMA;
  if (values.schema !== undefined) {
    const r = schemaNameSchema.safeParse(values.schema);
    if (!r.success) throw new UsageError(`option --schema ${r.error.issues[0]?.message ?? "is not a schema name"}, got "${values.schema}"`, command);
    schema = r.data;
  }
  return { kind: "postgres", url, schema };
}

/** A `postgres://` or `postgresql://` URL with a host; anything else is a usage error. */
export function postgresUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`option --postgres must be a URL such as postgres://user@host:5432/database, got "${redactUrl(raw)}"`);
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new UsageError(`option --postgres must be a postgres:// or postgresql:// URL, got a ${u.protocol}// URL`);
  }
  if (u.hostname === "" && !u.searchParams.has("host")) throw new UsageError("option --postgres: the URL names no host (postgres://user@host:5432/database)");
  return raw;
}

/** The URL without its password (for messages); unparseable text is not echoed at all. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = "***";
    // (pg also takes them as query parameters: `?password=` was printed in errors and in every
    // command's store description; found by review, 2026-12-04)
    for (const name of [...u.searchParams.keys()]) if (/pass/i.test(name)) u.searchParams.set(name, "***");
    return u.toString();
  } catch {
    // (a keyword connection string, `host=… password=…`, was echoed whole; review, 2026-12-04)
    return "(not shown: it may hold a password)";
  }
}

/** An open store: a pool the command ends with `close()` when done. */
export interface OpenStore {
  readonly pool: Pool;
  /** the connection URL as given (may hold a password: never print it, use `description`) */
  readonly url: string;
  readonly schema: string;
  /** `postgres://user@host:port/db schema audit_logger`, without the password, for output */
  readonly description: string;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connects and checks that `schema` holds an audit store. Failures are `AuditIOError`s naming the
 * server (never the password) and what to check; the command exits 1.
 *
 * @example
 * const store = await openStore(target);
 * try { await verifyPostgres({ pool: store.pool, schema: store.schema }) } finally { await store.close() }
 */
export async function openStore(target: { readonly url: string; readonly schema: string }): Promise<OpenStore> {
  const pg = loadPg("--postgres");
  const where = redactUrl(target.url);
  const pool = new pg.Pool({ connectionString: target.url, max: 2, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, allowExitOnIdle: true, application_name: "audit-logger-cli" });
  pool.on("error", () => undefined); // an idle connection dropped: the next query reconnects or fails there
  const close = () => pool.end().catch(() => undefined);
  let found: string | null;
  try {
    const r = await againIfEnded(() => pool.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [`${names(target.schema).schema}.audit_records`]));
    found = r.rows[0]?.t ?? null;
  } catch (err) {
    await close();
    const e = err as NodeJS.ErrnoException & { message: string };
    throw new AuditIOError(`cannot read the PostgreSQL store at ${where}: ${e.message || e.code || String(err)}. Check that the server is up and the URL, user and database are right.`, { cause: err });
  }
  if (found === null) {
    await close();
    throw new AuditIOError(`no audit store in schema "${target.schema}" at ${where}: nothing has been written there yet (PostgresSink creates it), or the store is in another schema (--schema).`);
  }
  return { pool, url: target.url, schema: target.schema, description: `${where} schema ${target.schema}`, close };
}

/** The session ids in the store: the one named by `--session` (which must exist), else all. */
export async function selectStoreSessions(store: OpenStore, session: string | undefined): Promise<string[]> {
  const n = names(store.schema);
  // (once more on a new connection when the server ended this one under it, as the viewer's reads: see againIfEnded)
  const all = (await againIfEnded(() => store.pool.query<{ s: string }>(`SELECT session_id AS s FROM ${n.sessions} UNION SELECT DISTINCT session_id FROM ${n.records} ORDER BY 1`))).rows.map((r) => r.s);
  if (session === undefined) return all;
  if (!all.includes(session)) {
    const known = all.length === 0 ? "it holds no sessions" : `sessions there: ${all.slice(0, 10).join(", ")}${all.length > 10 ? ", …" : ""}`;
    throw new UsageError(`option --session: no session "${session}" in ${store.description} (${known})`);
  }
  return [session];
}
