/**
 * `tail` over the PostgreSQL store: the last N stored lines, and a follower that asks for what
 * each chain gained since (by `seq`, which each chain's single writer inserts in order, also when
 * it replays its spool after an outage), fetched chain by chain so a page cut loses nothing. History and the follower's starting point come from one
 * snapshot, so a record stored meanwhile is printed once: by the follower.
 */
import type { Pool, PoolClient } from "pg";
import { connectGuarded } from "../postgres/pg.js";
import { againIfEnded, connectionEnded } from "../postgres/store-error.js";
import { names } from "../postgres/schema.js";
import type { ChainKindName } from "./args.js";
import type { OpenStore } from "./store.js";

const PAGE = 5000;

/** One stored record's exact line and where it sorts. */
export interface StoredLine {
  readonly line: string;
  readonly ts: string;
  /** the record's id (a ULID): one millisecond's records in the order they were made */
  readonly id: string;
}

interface HeadRow {
  session_id: string;
  kind: string;
  seq: string;
}

/**
 * Follows every chain of the chosen sessions (all sessions, including ones that appear later,
 * when `session` is undefined) and kinds.
 *
 * @example
 * const f = new StoreFollower(store, undefined, ["tool_usage"]);
 * const history = await f.start(10);
 * for (;;) { for (const l of await f.poll()) console.log(l.line); await sleep(200) }
 */
export class StoreFollower {
  /** `session\u0000kind` → highest seq seen */
  private readonly heads = new Map<string, number>();
  private readonly sessions = new Set<string>();
  private readonly n: ReturnType<typeof names>;

  constructor(
    private readonly store: OpenStore,
    private readonly session: string | undefined,
    private readonly kinds: readonly ChainKindName[],
  ) {
    this.n = names(store.schema);
  }

  /**
   * Takes the chains' heads and the last `count` lines before them, oldest first, in one snapshot.
   * A snapshot whose connection the server ended under it (pg_terminate_backend, 57P01 …; see
   * againIfEnded) is taken again, whole, on a new connection: a read-only transaction, which the
   * ending rolled back (until 2026-12-06 `tail --postgres` without `-f` failed at one such ending,
   * where `-f`'s polls and the viewer's reads run again).
   */
  start(count: number): Promise<StoredLine[]> {
    return againIfEnded(() => this.snapshot(count));
  }

  private async snapshot(count: number): Promise<StoredLine[]> {
    // (an attempt the server ended may have read some heads: the snapshot's own are kept)
    this.heads.clear();
    this.sessions.clear();
    // (found by review, 2026-12-04: no 'error' listener while checked out, so a connection the
    // server dropped during the snapshot crashed the CLI with an uncaught 'error' event instead
    // of the query's failure being reported; the failing query reports it)
    const { client, unguard } = await connectGuarded(this.store.pool, () => undefined);
    let ended = false;
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const where = this.session !== undefined ? "WHERE session_id = $1 AND kind = ANY($2::text[])" : "WHERE kind = ANY($1::text[])";
      const params = this.session !== undefined ? [this.session, this.kinds] : [this.kinds];
      const heads = await client.query<HeadRow>(`SELECT session_id, kind, max(seq)::text AS seq FROM ${this.n.records} ${where} GROUP BY session_id, kind`, params);
      for (const h of heads.rows) {
        this.sessions.add(h.session_id);
        this.heads.set(`${h.session_id}\u0000${h.kind}`, Number(h.seq));
      }
      if (this.session !== undefined) this.sessions.add(this.session);
      else for (const s of await this.listSessions(client)) this.sessions.add(s);
      let history: StoredLine[] = [];
      if (count > 0) {
        // (time, then id in byte order, as tail over files orders them)
        const rows = await client.query<{ line: string; ts: Date; id: string }>(
          `SELECT line, ts, id FROM ${this.n.records} ${where} ORDER BY ts DESC, id COLLATE "C" DESC, seq DESC LIMIT ${Math.min(count, Number.MAX_SAFE_INTEGER)}`,
          params,
        );
        history = rows.rows.reverse().map((r) => ({ line: r.line, ts: r.ts.toISOString(), id: r.id }));
      }
      await client.query("COMMIT");
      return history;
    } catch (err) {
      ended = connectionEnded(err);
      if (!ended) await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      unguard();
      // (a connection the server ended is not given back to the pool: the next attempt would get it)
      client.release(ended);
    }
  }

  /** Sessions that appeared since the last call (only when following every session). */
  async discover(): Promise<void> {
    if (this.session !== undefined) return;
    for (const s of await this.listSessions(this.store.pool)) this.sessions.add(s);
  }

  /** Lines stored since the last poll, ordered by time. */
  async poll(): Promise<StoredLine[]> {
    const out: StoredLine[] = [];
    for (;;) {
      const s: string[] = [];
      const k: string[] = [];
      const q: number[] = [];
      for (const sid of this.sessions) {
        for (const kind of this.kinds) {
          s.push(sid);
          k.push(kind);
          q.push(this.heads.get(`${sid}\u0000${kind}`) ?? 0);
        }
      }
      if (s.length === 0) return sortByTime(out);
      let r;
      try {
        r = await this.store.pool.query<{ session_id: string; kind: string; seq: string; line: string; ts: Date; id: string }>(
          `SELECT r.session_id, r.kind, r.seq::text AS seq, r.line, r.ts, r.id
             FROM unnest($1::text[], $2::text[], $3::bigint[]) AS c(s, k, q)
             JOIN ${this.n.records} r ON r.session_id = c.s AND r.kind = c.k AND r.seq > c.q
            ORDER BY r.session_id, r.kind, r.seq LIMIT ${PAGE}`,
          [s, k, q],
        );
      } catch (err) {
        // (the pages read before it failed are kept: the chains' heads moved past them)
        if (out.length > 0) return sortByTime(out);
        throw err;
      }
      for (const row of r.rows) {
        const key = `${row.session_id}\u0000${row.kind}`;
        const seq = Number(row.seq);
        if (seq > (this.heads.get(key) ?? 0)) this.heads.set(key, seq);
        out.push({ line: row.line, ts: row.ts.toISOString(), id: row.id });
      }
      if (r.rows.length < PAGE) return sortByTime(out);
    }
  }

  private async listSessions(db: Pool | PoolClient): Promise<string[]> {
    const r = await db.query<{ s: string }>(`SELECT session_id AS s FROM ${this.n.sessions}`);
    return r.rows.map((x) => x.s);
  }
}

/** Oldest first, then by id (byte order: see StoredLine.id); stable, so chain order holds for equal ids. */
function sortByTime(lines: StoredLine[]): StoredLine[] {
  return lines.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
