/**
 * The line indexes of a session's files, one view per kind (segments ascending, then the active
 * file: the chain order), kept fresh with a few `stat` calls per request. Answers the two
 * questions the viewer's pages ask of a big session without reading it whole: "the newest N
 * records of this kind that match, older than T" and "the records whose id or parentId is X".
 */
import { openRegular } from "../regular-file.js";
import type { RawRecord } from "../reader/records.js";
import { listKindFiles, safeReaddir } from "../sink/files.js";
import type { RecordType } from "../types.js";
import { fieldHash, LineIndex, stampOf, type HashedField } from "./line-index.js";

/** A position in a kind's view: the file's index and the line in it. */
interface Slot {
  readonly file: IndexedFile;
  readonly line: number;
}

interface IndexedFile {
  readonly path: string;
  readonly index: LineIndex;
}

/** A filter the index can pre-check; the caller's exact predicate decides. */
export interface IndexFilter {
  /** field → wanted string value (compared by hash, then exactly by `match`) */
  readonly equals?: Partial<Record<HashedField, string>>;
  readonly success?: boolean;
  /** only records older than this (epoch ms, exclusive) */
  readonly beforeMs?: number;
  /** only records at or after this (epoch ms, inclusive): the newest-first scan stops there */
  readonly sinceMs?: number;
  /** the exact predicate over the parsed record */
  readonly match: (rec: RawRecord) => boolean;
}

/** One kind of one session: its files' indexes in chain order. */
class KindView {
  files: IndexedFile[] = [];
  /** first global line number of each file */
  private starts: number[] = [];
  total = 0;
  /** global line numbers newest first, when timestamps are not in file order */
  private order: Uint32Array | undefined;
  private monotone = true;
  signature = "";

  set(files: IndexedFile[], signature: string): void {
    this.files = files;
    this.signature = signature;
    this.starts = [];
    let n = 0;
    let monotone = true;
    let last = Number.NEGATIVE_INFINITY;
    for (const f of files) {
      this.starts.push(n);
      n += f.index.count;
      if (f.index.count === 0) continue;
      if (!f.index.monotone || f.index.firstTs() < last) monotone = false;
      last = f.index.lastTs();
    }
    this.total = n;
    this.monotone = monotone;
    this.order = undefined;
  }

  slot(g: number): Slot {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= g) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.files[lo]!, line: g - this.starts[lo]! };
  }

  private tsOf(g: number): number {
    const s = this.slot(g);
    return s.file.index.ts(s.line);
  }

  /** The global line number at newest-first position `k`. */
  atNewest(k: number): number {
    if (this.monotone) return this.total - 1 - k;
    return this.sorted()[k]!;
  }

  /** The first newest-first position whose timestamp is before `beforeMs`. */
  firstBefore(beforeMs: number | undefined): number {
    if (beforeMs === undefined) return 0;
    // positions newest first have non-increasing timestamps: find the first one < beforeMs
    let lo = 0;
    let hi = this.total;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.tsOf(this.atNewest(mid)) < beforeMs) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private sorted(): Uint32Array {
    if (this.order) return this.order;
    const ts = new Float64Array(this.total);
    let g = 0;
    for (const f of this.files) for (let i = 0; i < f.index.count; i++) ts[g++] = f.index.ts(i);
    const order = new Uint32Array(this.total);
    for (let i = 0; i < order.length; i++) order[i] = i;
    // newest first; among equal timestamps the later line (higher seq) first
    order.sort((a, b) => (ts[b]! - ts[a]! || b - a));
    this.order = order;
    return order;
  }
}

/** Reads the given lines (grouped into few reads) and parses them, in the order given. */
async function readSlots(slots: readonly Slot[]): Promise<Array<RawRecord | undefined>> {
  const out: Array<RawRecord | undefined> = new Array(slots.length);
  const byFile = new Map<IndexedFile, number[]>();
  slots.forEach((s, i) => {
    let l = byFile.get(s.file);
    if (!l) byFile.set(s.file, (l = []));
    l.push(i);
  });
  for (const [file, idx] of byFile) {
    idx.sort((a, b) => slots[a]!.line - slots[b]!.line);
    const fh = await openRegular(file.path);
    try {
      let k = 0;
      while (k < idx.length) {
        // one read for neighbouring lines (gaps up to 64 KiB, up to 4 MiB at once)
        const first = slots[idx[k]!]!.line;
        const from = file.index.offset(first);
        let end = k;
        let to = from + file.index.length(first);
        while (end + 1 < idx.length) {
          const ln = slots[idx[end + 1]!]!.line;
          const o = file.index.offset(ln);
          const e = o + file.index.length(ln);
          if (o - to > 65536 || e - from > 4 << 20) break;
          to = Math.max(to, e);
          end++;
        }
        const buf = Buffer.allocUnsafe(to - from);
        const { bytesRead } = await fh.read(buf, 0, buf.length, from);
        for (let j = k; j <= end; j++) {
          const ln = slots[idx[j]!]!.line;
          const o = file.index.offset(ln) - from;
          const e = o + file.index.length(ln);
          if (e > bytesRead) continue;
          try {
            const rec = JSON.parse(buf.toString("utf8", o, e)) as RawRecord;
            // the bytes must still be the record the index saw
            if (fieldHash(rec.id) === file.index.hashes("id")[ln]) out[idx[j]!] = rec;
          } catch {
            // left undefined: the file changed under the index
          }
        }
        k = end + 1;
      }
    } finally {
      await fh.close();
    }
  }
  return out;
}

/** Thrown inside a query when a file changed under its index; the query is run again. */
class StaleIndex extends Error {
  constructor(readonly fileKey: string) {
    super(`the file ${fileKey} changed under its index`);
  }
}

/**
 * The indexes of one session's files.
 *
 * @example
 * const ix = new SessionIndex("./audit_logs", "s1");
 * const newest = await ix.newest("tool_usage", 51, { match: () => true });
 */
export class SessionIndex {
  private readonly views = new Map<RecordType, KindView>();
  /** every file's index by `dev:ino`, so a rotated (renamed) file keeps its index */
  private readonly byKey = new Map<string, LineIndex>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly auditDir: string,
    readonly sessionId: string,
  ) {}

  /** Brings the views of `kinds` up to date (one refresh at a time). */
  refresh(kinds: readonly RecordType[]): Promise<void> {
    const run = this.queue.then(() => this.doRefresh(kinds));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async doRefresh(kinds: readonly RecordType[]): Promise<void> {
    const names = safeReaddir(this.auditDir);
    for (const kind of kinds) {
      const files = listKindFiles(this.auditDir, kind, this.sessionId, names);
      const next: IndexedFile[] = [];
      const sig: string[] = [];
      for (const f of files) {
        const stamp = await stampOf(f.path);
        if (!stamp) continue;
        let ix = this.byKey.get(stamp.key);
        if (!ix || !(await ix.update(f.path, stamp).catch(() => false))) {
          ix = new LineIndex(stamp);
          if (!(await ix.update(f.path, stamp).catch(() => false))) continue;
          this.byKey.set(stamp.key, ix);
        }
        next.push({ path: f.path, index: ix });
        sig.push(`${f.name}=${ix.serial}:${ix.size}`);
      }
      let view = this.views.get(kind);
      if (!view) this.views.set(kind, (view = new KindView()));
      const signature = sig.join("|");
      if (view.signature !== signature) view.set(next, signature);
    }
    // forget the indexes of files no longer in any view (deleted by retention, or replaced)
    const live = new Set<LineIndex>();
    for (const v of this.views.values()) for (const f of v.files) live.add(f.index);
    for (const [k, ix] of this.byKey) if (!live.has(ix)) this.byKey.delete(k);
  }

  /** Records indexed per kind (after the last refresh). */
  count(kind: RecordType): number {
    return this.views.get(kind)?.total ?? 0;
  }

  /**
   * The newest `want` records of `kind` that pass `filter` (newest first: later timestamp, then
   * later in the file). Reads only candidate lines; stops once it has `want`.
   */
  async newest(kind: RecordType, want: number, filter: IndexFilter): Promise<RawRecord[]> {
    return (await this.newestEach([{ kind, want, filter }]))[0]!;
  }

  /**
   * {@link newest} of each query, after one refresh of their kinds: one listing of the directory
   * for a timeline page, not one per kind (each a read of every name in it: found 2026-12-06, six
   * a page), and every kind as the files were at one moment.
   */
  async newestEach(queries: ReadonlyArray<{ readonly kind: RecordType; readonly want: number; readonly filter: IndexFilter }>): Promise<RawRecord[][]> {
    return this.retrying(
      queries.map((q) => q.kind),
      async () => {
        const out: RawRecord[][] = [];
        for (const q of queries) out.push(await this.newestOnce(q.kind, q.want, q.filter));
        return out;
      },
    );
  }

  private async newestOnce(kind: RecordType, want: number, filter: IndexFilter): Promise<RawRecord[]> {
    const view = this.views.get(kind);
    if (!view || want <= 0) return [];
    const checks: Array<[Uint32Array[], number]> = [];
    for (const [field, value] of Object.entries(filter.equals ?? {}) as Array<[HashedField, string | undefined]>) {
      if (value !== undefined) checks.push([view.files.map((f) => f.index.hashes(field)), fieldHash(value)]);
    }
    const fileNo = new Map(view.files.map((f, i) => [f, i]));
    const found: RawRecord[] = [];
    let k = view.firstBefore(filter.beforeMs);
    // (positions newest first: those from firstBefore(sinceMs) on are older than `since`)
    const end = filter.sinceMs === undefined ? view.total : view.firstBefore(filter.sinceMs);
    while (k < end && found.length < want) {
      const batch: Slot[] = [];
      // a few more than missing, so a rare hash collision or a failed exact check costs no extra round
      const missing = want - found.length;
      const room = checks.length === 0 && filter.success === undefined ? missing : Math.min(Math.max(missing * 2, 16), 4096);
      for (; k < end && batch.length < room; k++) {
        const s = view.slot(view.atNewest(k));
        const ix = s.file.index;
        if (filter.success !== undefined) {
          const f = ix.success(s.line);
          if (filter.success ? f === 0 : f !== 0) continue;
        }
        const n = fileNo.get(s.file)!;
        let ok = true;
        for (const [cols, h] of checks) {
          if (cols[n]![s.line] !== h) {
            ok = false;
            break;
          }
        }
        if (ok) batch.push(s);
      }
      const recs = await readSlots(batch);
      recs.forEach((r, i) => {
        if (r === undefined) throw new StaleIndex(batch[i]!.file.index.key);
        if (filter.match(r) && found.length < want) found.push(r);
      });
    }
    return found;
  }

  /**
   * The first `limit` records of `kinds` (in that order, each in chain order) whose `field`
   * (`id` or `parentId`) is `value`. Reads only the lines whose hash matches.
   */
  async linked(kinds: readonly RecordType[], field: "id" | "parentId", value: string, limit: number): Promise<RawRecord[]> {
    return this.linking(kinds, (linked) => linked(field, value, limit));
  }

  /**
   * Runs `q`, whose {@link linked} lookups of `kinds` share one refresh (a record, its children and
   * its parent: one listing of the directory, not three); all of it once more if the files changed
   * under it.
   */
  async linking<T>(kinds: readonly RecordType[], q: (linked: (field: "id" | "parentId", value: string, limit: number) => Promise<RawRecord[]>) => Promise<T>): Promise<T> {
    return this.retrying(kinds, () => q((field, value, limit) => this.linkedOnce(kinds, field, value, limit)));
  }

  private async linkedOnce(kinds: readonly RecordType[], field: "id" | "parentId", value: string, limit: number): Promise<RawRecord[]> {
    const h = fieldHash(value);
    const out: RawRecord[] = [];
    for (const kind of kinds) {
      const view = this.views.get(kind);
      if (!view) continue;
      for (const f of view.files) {
        const col = f.index.hashes(field);
        let batch: Slot[] = [];
        const flush = async (): Promise<void> => {
          const recs = await readSlots(batch);
          recs.forEach((r, i) => {
            if (r === undefined) throw new StaleIndex(batch[i]!.file.index.key);
            if (out.length < limit && r[field] === value) out.push(r);
          });
          batch = [];
        };
        for (let i = 0; i < f.index.count && out.length < limit; i++) {
          if (col[i] === h) batch.push({ file: f, line: i });
          if (batch.length >= 256) await flush();
        }
        if (batch.length) await flush();
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  /** Runs a query after a refresh; once more (after another refresh) if the files changed under it. */
  private async retrying<T>(kinds: readonly RecordType[], q: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.refresh(kinds);
      try {
        return await q();
      } catch (err) {
        const changed = err instanceof StaleIndex || (err as NodeJS.ErrnoException).code === "ENOENT";
        if (!changed || attempt >= 2) throw err;
        if (err instanceof StaleIndex) this.byKey.delete(err.fileKey);
        this.views.clear();
      }
    }
  }
}

/**
 * The session indexes of one audit directory, the most recently used few kept.
 *
 * @example
 * const indexes = new SessionIndexes("./audit_logs");
 * const ix = indexes.get("s1");
 */
export class SessionIndexes {
  private readonly entries = new Map<string, SessionIndex>();
  constructor(
    readonly auditDir: string,
    private readonly capacity = 4,
  ) {}

  get(sessionId: string): SessionIndex {
    let ix = this.entries.get(sessionId);
    if (ix) this.entries.delete(sessionId);
    else ix = new SessionIndex(this.auditDir, sessionId);
    this.entries.set(sessionId, ix);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return ix;
  }
}
