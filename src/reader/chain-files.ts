/**
 * The files of one chain in chain order, for a reader that runs while a logger writes and
 * rotates: the one walk behind `tail -f` (ChainFollower) and the viewer's and exporter's
 * record source.
 */
import fs from "node:fs";
import path from "node:path";
import { openRegularSync } from "../regular-file.js";
import { kindFileName, listKindFiles, type KindFile } from "../sink/files.js";
import type { ChainKind } from "../types.js";

/**
 * A listing of the directory a caller made before a walk (`names`: all of it, or the names that
 * start with the chain's `<stem>_<sessionId>`), and when (`at`, ms since the epoch, taken before
 * the listing): see walkChain.
 */
export interface ChainListing {
  readonly names: readonly string[];
  readonly at: number;
}

/** A step of {@link walkChain}: a rotated segment to read by name, or the active file, already open. */
export type ChainStep =
  | { readonly kind: "segment"; readonly file: KindFile; readonly segment: number }
  | {
      readonly kind: "active";
      readonly file: KindFile;
      /** the active file, open for reading; the caller closes it */
      readonly fd: number;
      readonly ino: number;
      /** the highest segment number yielded before it (or `after`): every segment older than this file */
      readonly lastSegment: number;
    };

/** The highest segment number among `files` (0 when none). */
export function lastSegmentOf(files: readonly KindFile[]): number {
  let n = 0;
  for (const f of files) if (f.segment !== undefined && f.segment > n) n = f.segment;
  return n;
}

/**
 * Every segment numbered above `after`, oldest first, then the active file, opened. Read each
 * segment whole before asking for the next step.
 *
 * The walk is bounded: it lists the directory at most three times and opens the active file
 * once, so it ends however fast the logger rotates. The segments listed at the start are yielded;
 * then the active file is opened, and the segments rotated while those were read are listed (all
 * of them are older than the file just opened, so a listing made after the open holds them) and
 * yielded, up to the file held open, which comes last. What the walk reads is a prefix of the
 * chain with no gap: every record written before it opened the active file, and what that file
 * holds when it is read (the descriptor follows it when a rotation renames it to a segment). What
 * the logger writes after that, in newer files, is left for the next walk (`tail -f` walks again
 * when the file it holds is rotated). Until 2026-12-05 a listing that found newer segments closed
 * the active file, yielded them and opened it again: against a logger rotating every few
 * milliseconds (2 KiB segments, 1,600 of them) each listing, which opened every segment's first
 * line, took longer than the next rotation, and the walk never ended (5,369 segments read in 20 s,
 * the active file never reached; `verify` of the session still ran after 30 s). Opened by name
 * once at the start, the active file skipped every segment rotated while the earlier ones were
 * read (found by review, 2026-12-05).
 *
 * No active step when the kind has no active file, or when the file opened is a segment by the
 * time it is listed (it comes as that segment): the active name was the newest segment's second
 * name (an interrupted rotation, sink/files.ts), or a rotation renamed it meanwhile.
 *
 * @example
 * for (const step of walkChain(dir, "tool_usage", "s1")) {
 *   if (step.kind === "segment") readWhole(step.file.path);
 *   else try { readFromFd(step.fd); } finally { fs.closeSync(step.fd); }
 * }
 */
export function* walkChain(dir: string, kind: ChainKind, sessionId: string, after = 0, listed?: ChainListing): Generator<ChainStep, void, undefined> {
  const activePath = path.join(dir, kindFileName(kind, sessionId));
  const activeFile: KindFile = { path: activePath, name: path.basename(activePath), segment: undefined };
  let seen = after;
  for (const f of segmentsOf(listKindFiles(dir, kind, sessionId, listed?.names, seen))) {
    yield { kind: "segment", file: f, segment: f.segment };
    seen = f.segment;
  }
  // Whether the chain may have rotated since the listing: always without the caller's (the walk
  // lists the directory again, below). With it, when the file at the active name was last
  // changed over a second before that listing and the segment after the newest listed is not
  // there (a rotation names the old active file so, see the writer's rotate()): that file was
  // the active file then, no rotation has moved it since, so no segment is missing from the
  // listing. Found 2026-12-06: serve's holds page walks every session's audit_event chain, and
  // listing the directory twice for each read 16,000 names 4,000 times a request at 2,000
  // sessions (~47 s).
  const rotatedSince = (fd: number | undefined): boolean =>
    listed === undefined || fs.existsSync(path.join(dir, kindFileName(kind, sessionId, seen + 1))) || (fd !== undefined && fs.fstatSync(fd).ctimeMs >= listed.at - 1000);
  let fd: number | undefined;
  try {
    fd = openRegularSync(activePath);
  } catch {
    fd = undefined;
  }
  if (fd === undefined) {
    // none, or renamed away and not yet made again: the segments rotated meanwhile end the walk
    if (rotatedSince(undefined)) for (const f of segmentsOf(listKindFiles(dir, kind, sessionId, undefined, seen))) yield { kind: "segment", file: f, segment: f.segment };
    return;
  }
  let handed = false;
  try {
    const ino = fs.fstatSync(fd).ino;
    // the active name on the segment read last: an interrupted rotation, that file was the segment
    if (seen > 0 && inodeOf(path.join(dir, kindFileName(kind, sessionId, seen))) === ino) return;
    const { older, itself } = rotatedSince(fd) ? rotatedBefore(dir, kind, sessionId, seen, ino) : { older: [], itself: undefined };
    for (const f of older) {
      yield { kind: "segment", file: f, segment: f.segment };
      seen = f.segment;
    }
    if (itself) {
      yield { kind: "segment", file: itself, segment: itself.segment };
      return;
    }
    handed = true;
    yield { kind: "active", file: activeFile, fd, ino, lastSegment: seen };
  } finally {
    if (!handed) fs.closeSync(fd);
  }
}

type Segment = KindFile & { readonly segment: number };

function segmentsOf(files: readonly KindFile[]): Segment[] {
  return files.filter((f): f is Segment => f.segment !== undefined);
}

/**
 * The segments above `seen` that are older than the file `ino` (opened as the active file), and
 * that file's own segment when a rotation made it one. Each listing opens the new segments only,
 * and their inodes are looked at up to the one that is the file. A file not among the segments
 * listed, and still the active file after the listing, comes after all of them (a newer segment
 * needs its rotation first); one renamed away meanwhile is looked for in one listing more.
 */
function rotatedBefore(dir: string, kind: ChainKind, sessionId: string, seen: number, ino: number): { older: Segment[]; itself: Segment | undefined } {
  const activePath = path.join(dir, kindFileName(kind, sessionId));
  for (let listing = 1; ; listing++) {
    const newer = segmentsOf(listKindFiles(dir, kind, sessionId, undefined, seen));
    const at = newer.findIndex((f) => inodeOf(f.path) === ino);
    if (at >= 0) return { older: newer.slice(0, at), itself: newer[at] };
    // (under neither name at the second listing: deleted; what was listed, then the file held open)
    if (listing === 2 || inodeOf(activePath) === ino) return { older: newer, itself: undefined };
  }
}

function inodeOf(file: string): number | undefined {
  try {
    return fs.statSync(file).ino;
  } catch {
    return undefined;
  }
}
