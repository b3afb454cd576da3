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

/** A step of {@link walkChain}: a rotated segment to read by name, or the active file, already open. */
export type ChainStep =
  | { readonly kind: "segment"; readonly file: KindFile; readonly segment: number }
  | {
      readonly kind: "active";
      readonly file: KindFile;
      /** the active file, open for reading; the caller closes it */
      readonly fd: number;
      readonly ino: number;
      /** the highest segment number there was when it was opened (all of them yielded before) */
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
 * segment whole before asking for the next step. The active file is opened only after the
 * segments were yielded, then the files are listed again: a rotation meanwhile (the file that was
 * active when the walk began is a segment now, and the name opened is a newer file) leaves
 * segments above the last one yielded, which come first, and the active file is opened again,
 * until none is left. The descriptor held then is the file a rotation renames away, so a reader
 * of it misses nothing either. Opened by name once at the start, the active file skipped every
 * segment rotated while the earlier ones were read (found by review, 2026-12-05).
 * No active step when the kind has no active file, or when the active name is the newest
 * segment's second name (an interrupted rotation, sink/files.ts: that file was the segment).
 *
 * @example
 * for (const step of walkChain(dir, "tool_usage", "s1")) {
 *   if (step.kind === "segment") readWhole(step.file.path);
 *   else try { readFromFd(step.fd); } finally { fs.closeSync(step.fd); }
 * }
 */
export function* walkChain(dir: string, kind: ChainKind, sessionId: string, after = 0): Generator<ChainStep, void, undefined> {
  const activePath = path.join(dir, kindFileName(kind, sessionId));
  const activeFile: KindFile = { path: activePath, name: path.basename(activePath), segment: undefined };
  let seen = after;
  for (let files = listKindFiles(dir, kind, sessionId); ; ) {
    for (const f of files) {
      if (f.segment === undefined || f.segment <= seen) continue;
      yield { kind: "segment", file: f, segment: f.segment };
      seen = f.segment;
    }
    seen = Math.max(seen, lastSegmentOf(files));
    let fd: number | undefined;
    try {
      fd = openRegularSync(activePath);
    } catch {
      fd = undefined;
    }
    files = listKindFiles(dir, kind, sessionId);
    const newest = files.filter((f) => f.segment !== undefined).at(-1);
    if (lastSegmentOf(files) > seen) {
      if (fd !== undefined) fs.closeSync(fd);
      continue;
    }
    if (fd === undefined) return;
    const ino = fs.fstatSync(fd).ino;
    if (newest && inodeOf(newest.path) === ino) {
      fs.closeSync(fd);
      return;
    }
    yield { kind: "active", file: activeFile, fd, ino, lastSegment: seen };
    return;
  }
}

function inodeOf(file: string): number | undefined {
  try {
    return fs.statSync(file).ino;
  } catch {
    return undefined;
  }
}
