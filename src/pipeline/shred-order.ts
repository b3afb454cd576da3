import fs from "node:fs";
import path from "node:path";
import { envelopeMismatch } from "./chain.js";
import { openRegularSync } from "../regular-file.js";
import { chainFilesBySession } from "../sink/audit-events.js";
import { listKindFiles, safeReaddir } from "../sink/files.js";

/**
 * Which `subject_shredded` records of an audit directory were written after a moment, told by
 * where they stand in the chain files, never by a clock: a chain file is only ever appended to
 * (a rotation renames it, keeping its inode), so a record that was wholly in its file at the
 * moment ends within the size the file had then, and one written later ends past it or is in a
 * file that was not there. The moment is a {@link ShredMark}: the size of every other session's
 * `audit_event` chain file, by inode. Used for a new data key that waited in memory for the disk
 * (see SubjectKeys.storePending): until 2026-12-06 the shred's record time (the shredder's clock)
 * was compared with the key's creation time (the writer's clock), and a skew between the two
 * moved the cutoff (a shredder whose clock was behind left the key of a subject it shredded
 * readable; found by the shred review).
 */
export interface ShredMark {
  /** `dev:ino:birthtimeNs` of each `audit_event` chain file of the other sessions, to its size then */
  readonly sizes: ReadonlyMap<string, number>;
}

/** A `subject_shredded` record of the directory: its session, seq and time (as it says; never compared). */
export interface ShredOnDisk {
  readonly sessionId: string;
  readonly seq: number | undefined;
  readonly at: string;
}

/**
 * A chain file's identity: device, inode and birth time. The inode alone is not one: a file removed
 * after a mark (cleanup) frees it, and ext4 gives it to the next file made, such as a shredder's new
 * chain file, whose shred record then read as within the size the removed one had, before the
 * mark, and the waiting key of the subject it shredded was stored (adversarial review,
 * 2026-12-06). A rotation's rename keeps all three. (Where the file system keeps no birth time, 0:
 * the inode and device only.)
 */
const fileKey = (st: fs.BigIntStats): string => `${st.dev}:${st.ino}:${st.birthtimeNs}`;

/**
 * The directory's chain files of the other sessions than `own`, as they are now (a listing and a
 * stat of each: no file is read). Taken before any record is made under the key it is for.
 */
export function shredMark(auditDir: string, own: string): ShredMark {
  const sizes = new Map<string, number>();
  for (const [sessionId, names] of chainFilesBySession(safeReaddir(auditDir))) {
    if (sessionId === own) continue;
    for (const name of names) {
      const st = fs.lstatSync(path.join(auditDir, name), { throwIfNoEntry: false, bigint: true });
      if (st?.isFile()) sizes.set(fileKey(st), Number(st.size));
    }
  }
  return { sizes };
}

/** Whether a chain file changed between `mark` and `now` (one grew, or one is new): if none did, no shred was recorded in between. */
export function changedSince(now: ShredMark, mark: ShredMark): boolean {
  for (const [k, size] of now.sizes) if (mark.sizes.get(k) !== size) return true;
  return false;
}

/** Whether two marks list the same chain files at the same sizes. */
export function sameMark(a: ShredMark, b: ShredMark): boolean {
  return a.sizes.size === b.sizes.size && !changedSince(a, b);
}

/** A `subject_shredded` record as read for ordering: the shred it stands for, its subject tags, and where it ends. */
export interface PlacedShred {
  /** the shred it tells of: its own, or, for a record of a shred seen elsewhere (`shreddedBy`), that one */
  readonly by: ShredOnDisk;
  readonly tags: readonly string[];
  /** `dev:ino:birthtimeNs` of its file, and the offset just past its line */
  readonly file: string;
  readonly end: number;
}

/**
 * The directory's `subject_shredded` records naming subject tags (`subjectTags`, recorded since
 * 2026-12-06), whichever session's chain holds them (the CLI's `audit_maintenance`, another
 * logger's), but `own`'s: this logger's shredSubject() destroys its waiting keys itself
 * (SubjectKeys.forget). Read once for all the keys stored at one time; judged by {@link shredSince}.
 */
export function readShreds(auditDir: string, own: string): PlacedShred[] {
  const out: PlacedShred[] = [];
  // (each session's files judged among its own names: among the whole listing, every session's
  // look-up went through every name, 20 million at 2,000 sessions; see chainFilesBySession)
  for (const [sessionId, names] of chainFilesBySession(safeReaddir(auditDir))) {
    if (sessionId === own) continue;
    for (const f of listKindFiles(auditDir, "audit_event", sessionId, names)) {
      let fd: number;
      try {
        fd = openRegularSync(f.path);
      } catch {
        continue; // (removed under us: cleanup)
      }
      try {
        const st = fs.fstatSync(fd, { bigint: true });
        const buf = Buffer.allocUnsafe(Number(st.size));
        let got = 0;
        while (got < buf.length) {
          const n = fs.readSync(fd, buf, got, buf.length - got, got);
          if (n === 0) break;
          got += n;
        }
        placeShreds(buf.subarray(0, got), fileKey(st), sessionId, out);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  return out;
}

const NEEDLE = Buffer.from('"eventType":"subject_shredded"');

function placeShreds(data: Buffer, file: string, sessionId: string, out: PlacedShred[]): void {
  for (let start = 0; start < data.length; ) {
    const nl = data.indexOf(0x0a, start);
    if (nl < 0) return; // a torn last line: not a record (yet)
    const line = data.subarray(start, nl);
    const end = nl + 1;
    start = end;
    if (line.indexOf(NEEDLE) < 0) continue;
    const text = line.toString("utf8");
    let rec: { eventType?: unknown; details?: unknown; timestamp?: unknown; seq?: unknown } | null;
    try {
      rec = JSON.parse(text) as typeof rec;
    } catch {
      continue;
    }
    if (rec === null || typeof rec !== "object" || rec.eventType !== "subject_shredded") continue;
    // (a line repeating an envelope member is the chain walk's to report, and no record here)
    if (envelopeMismatch(text, rec as Record<string, unknown>) !== undefined) continue;
    const d = rec.details as { subjectTags?: unknown; shreddedBy?: { sessionId?: unknown; seq?: unknown; at?: unknown } } | null;
    if (!Array.isArray(d?.subjectTags)) continue;
    const tags = d.subjectTags.filter((t): t is string => typeof t === "string");
    const seq = typeof rec.seq === "number" ? rec.seq : undefined;
    const at = typeof rec.timestamp === "string" ? rec.timestamp : "";
    const told = d.shreddedBy;
    const by: ShredOnDisk =
      typeof told?.sessionId === "string"
        ? { sessionId: told.sessionId, seq: typeof told.seq === "number" ? told.seq : undefined, at: typeof told.at === "string" ? told.at : at }
        : { sessionId, seq, at };
    out.push({ by, tags, file, end });
  }
}

const shredId = (s: ShredOnDisk): string => `${s.sessionId}\0${s.seq ?? s.at}`;

/**
 * The shred of subject `tag` recorded since `mark` (of `shreds`, from {@link readShreds}), if
 * any: a record of that tag not wholly in its file at the mark, whose shred no record that was
 * tells of (a logger's record of another's shred, `shreddedBy`, written later, tells of a shred
 * recorded before). A record a rewrite or a copy moved to a new file counts as since: a key is
 * destroyed then that might have been kept, never kept when it must go.
 */
export function shredSince(shreds: readonly PlacedShred[], mark: ShredMark, tag: string): ShredOnDisk | undefined {
  const before = new Set<string>();
  const since: ShredOnDisk[] = [];
  for (const s of shreds) {
    if (!s.tags.includes(tag)) continue;
    const size = mark.sizes.get(s.file);
    if (size !== undefined && s.end <= size) before.add(shredId(s.by));
    else since.push(s.by);
  }
  return since.find((s) => !before.has(shredId(s)));
}
