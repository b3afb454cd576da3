/**
 * The store's wrapped data keys (`audit_subject_keys`, schema version 6), for a reader's keyring:
 * read for the records a reader has just read, so that a reader given only the master key opens
 * the encrypted records of every instance writing to the store.
 */
import type { Pool } from "pg";
import type { PgPoolLike } from "./options.js";
import type { StoredKeyLines } from "../pipeline/keyring.js";
import { names } from "./schema.js";
import { againIfEnded, storeError } from "./store-error.js";

/** A data key's id as a record names it: an encrypted value's `kid`, or a keyed content hash's. */
const KID_REF = /"kid":"(d[0-9a-f]{16})"|hmac-sha256:(d[0-9a-f]{16}):/g;

/**
 * The key rows of the records read so far: a key store line, or null for a key shredded in the
 * store. `read()` reads them again for every page of records, so a shred is seen by the next read.
 *
 * @example
 * const keys = new StoreKeys(pool, "audit_logger");
 * await keys.read(rows.map((r) => r.line));
 * const ring = openKeyring([master], undefined, keys);
 */
export class StoreKeys implements StoredKeyLines {
  private readonly lines = new Map<string, string | null>();
  /** the store has no key table (schema before version 6), or this reader may not read it: not asked again */
  private noTable = false;
  /** why the table cannot be read, when the store has it but this role may not SELECT there */
  private refused: string | undefined;
  private readonly table: string;

  // (the pool as the kit's own PgPoolLike, not pg's Pool: this class is in the main entry's
  // types, through PostgresRecordSource, which must not need pg's types; see test/package.test.ts)
  constructor(
    private readonly pool: PgPoolLike,
    private readonly schema: string,
  ) {
    this.table = names(schema).subjectKeys;
  }

  line(kid: string): string | null | undefined {
    return this.lines.get(kid);
  }

  unreadable(): string | undefined {
    return this.refused;
  }

  /** Reads the key rows that the records `recordLines` name. */
  async read(recordLines: readonly string[]): Promise<void> {
    if (this.noTable) return;
    const kids = new Set<string>();
    for (const l of recordLines) for (const m of l.matchAll(KID_REF)) kids.add((m[1] ?? m[2])!);
    if (kids.size === 0) return;
    let rows: Array<{ kid: string; line: string | null }>;
    try {
      // (once more on a new connection when the server ended this one under it, as the viewer's
      // reads: a single pg_terminate_backend failed the whole read; found by the PostgreSQL fault pass, 2026-12-06)
      rows = (await againIfEnded(() => (this.pool as unknown as Pool).query<{ kid: string; line: string | null }>(`SELECT kid, line FROM ${this.table} WHERE kid = ANY($1::text[])`, [[...kids]]))).rows;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== "42P01" && code !== "42501") throw storeError(err, this.pool, this.schema, "read");
      // (the keys are in the writers' directories only: contentDir. A reader role granted SELECT
      // before version 6 made the table has none on it: every read with a master key failed as a
      // whole, also with contentDir, which opened them before the upgrade; found by review, 2026-12-06)
      this.noTable = true;
      if (code === "42501") this.refused = `${(err as Error).message}: GRANT SELECT ON ${this.table} to this reader's role`;
      return;
    }
    for (const k of kids) this.lines.delete(k);
    for (const r of rows) this.lines.set(r.kid, r.line);
  }
}
