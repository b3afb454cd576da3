/**
 * How to reach the PostgreSQL store, in types of our own: the public types (the viewer's
 * `postgres` option, reached from the main entry) must not need `pg`'s types, an optional peer
 * (a consumer without `@types/pg` got "Cannot find module 'pg'" from our declarations, or, with
 * skipLibCheck, `any`; found by review, 2026-12-03). A `pg.Pool` is one of these.
 */

/**
 * A `pg.Pool` (the application's own, which it keeps and ends): its methods and its counts,
 * which a `pg.Client` lacks (one is refused, by the types and at run time: the store needs a
 * pool's clients).
 */
export interface PgPoolLike {
  query(...args: never[]): unknown;
  connect(...args: never[]): unknown;
  end(...args: never[]): unknown;
  readonly totalCount: number;
  readonly idleCount: number;
}

/** How to reach the store: a connection string, or a `pg.Pool` the application already has. */
export interface PostgresConnectionOptions {
  /** e.g. `postgres://audit@db.internal:5432/audit` (any `pg` connection string) */
  readonly connectionString?: string | undefined;
  /** an existing `pg.Pool`; it is not ended by us */
  readonly pool?: PgPoolLike | undefined;
  /** extra `pg` pool settings (ssl, password, …: a `pg.PoolConfig`), merged under `connectionString` */
  readonly poolConfig?: object | undefined;
  /** schema holding the store's tables (default `audit_logger`) */
  readonly schema?: string | undefined;
}
