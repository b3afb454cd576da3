import { z } from "zod";
import { connectionOptionsShape, parseOptions, poolFor, schemaOf } from "./pg.js";
import type { PostgresConnectionOptions } from "./options.js";
import { names } from "./schema.js";
import { againIfEnded, storeError } from "./store-error.js";

/** Options of {@link applyPostgresRetention}. */
export interface PostgresRetentionOptions extends PostgresConnectionOptions {
  /** drop every month that ends at or before this time; at most now */
  readonly before: Date | string;
  /** written into `audit_retention_log` */
  readonly reason?: string | undefined;
}

/** One month removed by retention. */
export interface RetentionDrop {
  readonly partition: string;
  readonly rangeFrom: Date;
  readonly rangeTo: Date;
  readonly rowsDropped: number;
}

const retentionOptionsSchema = z.strictObject({
  ...connectionOptionsShape,
  before: z.union([z.date(), z.string()]).refine((v) => !Number.isNaN(new Date(v).getTime()), "must be a Date or an ISO 8601 time"),
  reason: z.string().min(1).max(1000).optional(),
});

/**
 * Removes whole months older than `before` through the store's retention function: each
 * dropped partition is logged in `audit_retention_log`, and where each chain was cut in
 * `audit_retention_cuts`, so `verifyPostgres` tells a retention cut from a deletion.
 *
 * @example
 * const cutoff = new Date(Date.now() - 365 * 86_400_000);
 * await applyPostgresRetention({ connectionString: process.env.AUDIT_PG_URL, before: cutoff, reason: "365-day policy" });
 */
export async function applyPostgresRetention(options: PostgresRetentionOptions): Promise<RetentionDrop[]> {
  const o = parseOptions(retentionOptionsSchema, options, "postgres") as PostgresRetentionOptions;
  const { pool, owned } = poolFor(o, { max: 1 }, "postgres");
  try {
    // (once more on a new connection when the server ended this one under it, saying so (57P01 …):
    // the ending rolled the call back. Not for a connection lost without a word, whose call may
    // have dropped months: run again, it would return none, and say nothing was dropped. Found by
    // the PostgreSQL fault pass, 2026-12-06: one pg_terminate_backend failed it.)
    const r = await againIfEnded(
      () =>
        pool.query<{ partition: string; range_from: Date; range_to: Date; rows_dropped: string }>(
          `SELECT partition, range_from, range_to, rows_dropped::text AS rows_dropped FROM ${names(schemaOf(o)).applyRetention}($1::timestamptz, $2)`,
          [new Date(o.before).toISOString(), o.reason ?? "retention"],
        ),
      false,
    );
    return r.rows.map((x) => ({ partition: x.partition, rangeFrom: x.range_from, rangeTo: x.range_to, rowsDropped: Number(x.rows_dropped) }));
  } catch (err) {
    throw storeError(err, pool, schemaOf(o), "apply retention to");
  } finally {
    if (owned) await pool.end();
  }
}
