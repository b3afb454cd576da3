/**
 * An in-memory index of one JSONL file of the trail: for every record line its byte offset and
 * length, its timestamp, and 32-bit hashes of the fields the viewer filters and links by (id,
 * parentId, traceId, userId, model, persona). A page then reads only the lines it shows.
 *
 * Files are append-only, so an index is extended from where it stopped when its file grows; a
 * rotated segment is the same file (same inode) under a new name, so it keeps its index. Any
 * other change (smaller, same size but a new mtime, other bytes where the index stopped) throws
 * the index away. Nothing is ever written: the index lives in this process only.
 */
import fs from "node:fs";
import { openRegular } from "../regular-file.js";
import { LineSplitter } from "../reader/lines.js";

/** 32-bit FNV-1a of a string value; 0 means "absent or not a string". */
export function fieldHash(v: unknown): number {
  if (typeof v !== "string") return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < v.length; i++) {
    h ^= v.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}

/** The hashed fields, in column order. */
export const HASHED_FIELDS = ["id", "parentId", "traceId", "userId", "model", "persona"] as const;
export type HashedField = (typeof HASHED_FIELDS)[number];

/** `success` as stored: 1 true, 0 false, -1 absent (or not a boolean). */
export type SuccessFlag = 1 | 0 | -1;

const CHUNK = 4 << 20;
/** bytes before the end of the indexed part kept to recognise the file when it grows */
const TAIL_CHECK = 64;

/** Growable typed columns. */
class Columns {
  count = 0;
  offset = new Float64Array(1024);
  length = new Uint32Array(1024);
  ts = new Float64Array(1024);
  success = new Int8Array(1024);
  readonly hashes: Uint32Array[] = HASHED_FIELDS.map(() => new Uint32Array(1024));

  push(offset: number, length: number, ts: number, success: SuccessFlag, hashes: readonly number[]): void {
    if (this.count === this.offset.length) this.grow(this.count * 2);
    const i = this.count++;
    this.offset[i] = offset;
    this.length[i] = length;
    this.ts[i] = ts;
    this.success[i] = success;
    for (let h = 0; h < hashes.length; h++) this.hashes[h]![i] = hashes[h]!;
  }

  private grow(cap: number): void {
    const g = <T extends Float64Array | Uint32Array | Int8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.offset = g(this.offset, (n) => new Float64Array(n));
    this.length = g(this.length, (n) => new Uint32Array(n));
    this.ts = g(this.ts, (n) => new Float64Array(n));
    this.success = g(this.success, (n) => new Int8Array(n));
    for (let h = 0; h < this.hashes.length; h++) this.hashes[h] = g(this.hashes[h]!, (n) => new Uint32Array(n));
  }
}

/** The identity of a file and what the index saw of it. */
export interface FileStamp {
  /** `dev:ino`: stays the same across a rename (rotation) */
  readonly key: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** Reads `stat` of a file as a {@link FileStamp}; undefined when it is gone. */
export async function stampOf(file: string): Promise<FileStamp | undefined> {
  try {
    const st = await fs.promises.stat(file, { bigint: true });
    return { key: `${st.dev}:${st.ino}`, size: Number(st.size), mtimeMs: Number(st.mtimeMs) };
  } catch {
    return undefined;
  }
}

/**
 * The index of one file.
 *
 * @example
 * const ix = new LineIndex(stamp);
 * await ix.update("/audit_logs/tool_usage_s1.jsonl", stamp);
 * ix.count // record lines indexed
 */
let serials = 0;

export class LineIndex {
  readonly key: string;
  /** unique per index object: a rebuilt index of the same file is a different view */
  readonly serial = ++serials;
  private readonly cols = new Columns();
  /** bytes indexed: everything up to the last complete line */
  private indexed = 0;
  /** the file as last seen */
  private seen: FileStamp;
  private tail: Buffer = Buffer.alloc(0);
  /** timestamps never go down along the file */
  monotone = true;
  /** lines that were not records (skipped, as the reader skips them) */
  skipped = 0;

  constructor(stamp: FileStamp) {
    this.key = stamp.key;
    this.seen = { ...stamp, size: -1 };
  }

  get count(): number {
    return this.cols.count;
  }
  get size(): number {
    return this.seen.size;
  }
  offset(i: number): number {
    return this.cols.offset[i]!;
  }
  length(i: number): number {
    return this.cols.length[i]!;
  }
  ts(i: number): number {
    return this.cols.ts[i]!;
  }
  success(i: number): SuccessFlag {
    return this.cols.success[i]! as SuccessFlag;
  }
  hashes(field: HashedField): Uint32Array {
    return this.cols.hashes[HASHED_FIELDS.indexOf(field)]!;
  }
  firstTs(): number {
    return this.count ? this.cols.ts[0]! : Number.NaN;
  }
  lastTs(): number {
    return this.count ? this.cols.ts[this.count - 1]! : Number.NaN;
  }

  /**
   * Brings the index up to date with the file (`stamp` is its current stat). Resolves false when
   * the file changed in a way other than appending: the index is then stale and must be replaced.
   */
  async update(file: string, stamp: FileStamp): Promise<boolean> {
    if (stamp.key !== this.key) return false;
    const prev = this.seen;
    if (stamp.size === prev.size && stamp.mtimeMs === prev.mtimeMs) return true;
    if (stamp.size < prev.size) return false;
    if (stamp.size === prev.size && prev.size >= 0) return false; // rewritten in place
    const fh = await openRegular(file);
    try {
      if (this.tail.length > 0) {
        const check = Buffer.alloc(this.tail.length);
        const { bytesRead } = await fh.read(check, 0, check.length, this.indexed - this.tail.length);
        if (bytesRead !== check.length || !check.equals(this.tail)) return false;
      }
      await this.scan(fh, stamp.size);
      this.seen = stamp;
      return true;
    } finally {
      await fh.close();
    }
  }

  /** Indexes the complete lines from `indexed` up to `size`. */
  private async scan(fh: fs.promises.FileHandle, size: number): Promise<void> {
    let pos = this.indexed;
    const buf = Buffer.allocUnsafe(CHUNK);
    // (each byte searched once, a long line joined once: see LineSplitter)
    const lines = new LineSplitter(true);
    while (pos < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      lines.feed(buf.subarray(0, bytesRead));
      while (lines.next()) {
        if (lines.oversizedLength !== undefined) {
          // (too long to be a record the readers read: passed over, never held; see MAX_LINE_BYTES)
          this.skipped++;
          this.indexed += lines.oversizedLength + 1;
          continue;
        }
        const length = lines.end - lines.start;
        if (length > 0) this.add(lines.data.toString("utf8", lines.start, lines.end), this.indexed, length);
        this.indexed += length + 1;
      }
    }
    // the last complete line's final bytes: the file must still hold them when it grows
    const n = Math.min(TAIL_CHECK, this.indexed);
    this.tail = Buffer.alloc(n);
    if (n > 0) await fh.read(this.tail, 0, n, this.indexed - n);
  }

  private add(text: string, offset: number, length: number): void {
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch {
      this.skipped++;
      return;
    }
    if (typeof rec !== "object" || rec === null || Array.isArray(rec)) {
      this.skipped++;
      return;
    }
    const r = rec as Record<string, unknown>;
    const parsed = typeof r.timestamp === "string" ? Date.parse(r.timestamp) : Number.NaN;
    // no (or no valid) timestamp sorts oldest, as "" does in the reader's order
    const ts = Number.isNaN(parsed) ? Number.NEGATIVE_INFINITY : parsed;
    if (this.count > 0 && ts < this.lastTs()) this.monotone = false;
    const success: SuccessFlag = r.success === true ? 1 : r.success === false ? 0 : -1;
    const persona = r.type === "persona_activity" ? r.personaName : r.persona;
    this.cols.push(offset, length, ts, success, [fieldHash(r.id), fieldHash(r.parentId), fieldHash(r.traceId), fieldHash(r.userId), fieldHash(r.model), fieldHash(persona)]);
  }
}
