/**
 * Reading the end of a chain for `tail`: the last N complete lines (backwards, so a large log is
 * not read whole), and a follower that sees new lines as they are appended, across rotation.
 */
import fs from "node:fs";
import path from "node:path";
import { kindFileName, listKindFiles, type KindFile } from "../sink/files.js";
import { openRegularSync } from "../regular-file.js";
import { lastLinesOfFd } from "../sink/last-lines.js";
import { lastSegmentOf, walkChain } from "../reader/chain-files.js";
import { MAX_LINE_BYTES } from "../reader/lines.js";
import type { ChainKindName } from "./args.js";

const CHUNK = 64 * 1024;

/**
 * What stands for a line longer than MAX_LINE_BYTES, which is passed over, never held (it was
 * read whole: a planted 600 MiB line made `tail` fail with ERR_STRING_TOO_LONG after 20 s and
 * 1.3 GB; found by review, 2026-12-05). Not JSON: `tail` shows it as an unreadable line.
 */
export function tooLongLine(bytes: number): string {
  return `[a line of ${bytes} bytes: too long to read]`;
}

/** The last `n` complete (newline-terminated) lines of one file before byte `limit`, oldest first. */
export function lastLinesOfFile(file: string, n: number, limit?: number): string[] {
  if (n <= 0) return [];
  let fd: number;
  try {
    fd = openRegularSync(file);
  } catch {
    return [];
  }
  try {
    return lastLinesOfFd(fd, n, limit, tooLongLine).lines;
  } finally {
    fs.closeSync(fd);
  }
}

/** The last `n` records' lines of a chain (segments, then the active file), oldest first. */
export function lastLines(files: readonly KindFile[], n: number): string[] {
  const out: string[][] = [];
  let have = 0;
  for (let i = files.length - 1; i >= 0 && have < n; i--) {
    const f = files[i]!;
    const lines = lastLinesOfFile(f.path, n - have);
    out.unshift(lines);
    have += lines.length;
  }
  return out.flat();
}

/**
 * What a poll knows of the unfinished line at the follower's offset: no newline in the bytes
 * before `to`, as long as the line still starts with `head` (a logger resuming cuts a torn tail
 * back and writes complete lines over it: then the bytes are searched again).
 */
interface Unfinished {
  readonly to: number;
  readonly head: Buffer;
}

const HEAD_BYTES = 4096;

function headAt(fd: number, offset: number): Buffer {
  const buf = Buffer.alloc(HEAD_BYTES);
  return buf.subarray(0, fs.readSync(fd, buf, 0, HEAD_BYTES, offset));
}

/**
 * Reads from `offset` to the last newline; returns the complete lines, the new offset and, when
 * an unfinished line longer than one read is left, how far it was searched (so the next poll
 * searches only what was appended since: a torn or planted tail of GiBs was searched whole at
 * every poll; found by review, 2026-12-05).
 */
function readComplete(fd: number, offset: number, known?: Unfinished): { lines: string[]; offset: number; unfinished?: Unfinished } {
  const lines: string[] = [];
  const size = fs.fstatSync(fd).size;
  // the line at `offset` after the bytes searched before: its newline, or -1
  const lineEnd = (from: number): number => findNewline(fd, from, size);
  const takeLine = (end: number): void => {
    if (end - offset > MAX_LINE_BYTES) {
      lines.push(tooLongLine(end - offset));
    } else {
      const whole = Buffer.alloc(end - offset);
      fs.readSync(fd, whole, 0, whole.length, offset);
      lines.push(whole.toString("utf8"));
    }
    offset = end + 1;
  };
  if (known !== undefined && known.to <= size && headAt(fd, offset).equals(known.head)) {
    const end = lineEnd(known.to);
    if (end === -1) return { lines, offset, unfinished: { to: size, head: known.head } };
    takeLine(end);
  }
  while (offset < size) {
    const buf = Buffer.alloc(Math.min(size - offset, 4 * CHUNK));
    const n = fs.readSync(fd, buf, 0, buf.length, offset);
    if (n <= 0) break;
    const nl = buf.lastIndexOf(0x0a, n - 1);
    if (nl === -1) {
      if (n < buf.length || offset + n >= size) break; // an unfinished line: wait for its newline
      // a single line longer than the buffer: read on until its end
      const end = lineEnd(offset + n);
      if (end === -1) return { lines, offset, unfinished: { to: size, head: Buffer.from(buf.subarray(0, HEAD_BYTES)) } };
      takeLine(end);
      continue;
    }
    const text = buf.toString("utf8", 0, nl);
    for (const l of text.split("\n")) lines.push(l);
    offset += nl + 1;
  }
  return { lines, offset };
}

function findNewline(fd: number, from: number, size: number): number {
  const buf = Buffer.alloc(CHUNK);
  for (let pos = from; pos < size; pos += CHUNK) {
    const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
    const i = buf.subarray(0, n).indexOf(0x0a);
    if (i !== -1) return pos + i;
  }
  return -1;
}

function inodeOf(file: string): number | undefined {
  try {
    return fs.statSync(file).ino;
  } catch {
    return undefined;
  }
}

/**
 * Follows one kind of one session. The active file is held open, so when the logger rotates it
 * (renames it to a segment and opens a new active file) the rest of the old file is still read,
 * then any segments rotated in between, then the new active file from its start.
 *
 * @example
 * const f = new ChainFollower(dir, "app", "tool_usage", "end");
 * setInterval(() => f.poll().forEach((line) => console.log(line)), 200);
 */
export class ChainFollower {
  private fd: number | undefined;
  private ino: number | undefined;
  private offset = 0;
  /** the unfinished line at `offset`, as far as it was searched (see readComplete) */
  private unfinished: Unfinished | undefined;
  /** highest segment number already read (or already there when following from the end) */
  private seenSegment = 0;
  /** following from the end: the segments there were then, and the active file's inode and offset then (what {@link history} reads) */
  private atStart: { segments: KindFile[]; ino: number | undefined; offset: number } | undefined;
  private readonly activePath: string;
  private readonly dir: string;
  private readonly sessionId: string;
  private readonly kind: ChainKindName;

  /** `start`: everything already in the files counts as new (for a session that appeared later). */
  constructor(dir: string, sessionId: string, kind: ChainKindName, from: "end" | "start") {
    this.dir = dir;
    this.sessionId = sessionId;
    this.kind = kind;
    this.activePath = path.join(dir, kindFileName(kind, sessionId));
    if (from === "end") {
      const files = listKindFiles(dir, kind, sessionId);
      this.seenSegment = lastSegmentOf(files);
      this.openAtEnd();
      this.atStart = { segments: files.filter((f) => f.segment !== undefined), ino: this.ino, offset: this.offset };
    }
  }

  /**
   * Following from the end: the last `n` lines written before it started, from the files there
   * were then (the active file through the descriptor held since, whatever it is named now).
   * Listing the files again after the start read segments rotated since in full, and the new
   * active file up to the old one's offset: lines the follower then printed too (`tail -f -n`
   * printed them twice; found by review, 2026-12-04). Call it before the first poll.
   */
  history(n: number): string[] {
    if (!this.atStart || n <= 0) return [];
    const out: string[][] = [];
    let have = 0;
    const { segments, ino, offset } = this.atStart;
    // (an interrupted rotation leaves the active name on the newest segment: read it once)
    if (this.fd !== undefined && this.ino === ino && !segments.some((f) => inodeOf(f.path) === ino)) {
      const lines = lastLinesOfFd(this.fd, n, offset, tooLongLine).lines;
      out.unshift(lines);
      have += lines.length;
    }
    for (let i = segments.length - 1; i >= 0 && have < n; i--) {
      const lines = lastLinesOfFile(segments[i]!.path, n - have);
      out.unshift(lines);
      have += lines.length;
    }
    return out.flat();
  }

  /** Complete lines appended since the last poll, in chain order. */
  poll(): string[] {
    const out: string[] = [];
    if (this.fd === undefined) out.push(...this.catchUp(this.seenSegment));
    out.push(...this.drain());
    const now = inodeOf(this.activePath);
    if (this.fd !== undefined && now !== undefined && now !== this.ino) {
      // rotated: the file held open is a segment now; segments after it were rotated meanwhile
      out.push(...this.drain()); // bytes written between the first drain and the rename
      // (the file held open was active when opened, so its segment is newer than any read: only
      // those are listed, a listing of every segment per rotation made following a long log quadratic)
      const files = listKindFiles(this.dir, this.kind, this.sessionId, undefined, this.seenSegment);
      const mine = files.find((f) => f.segment !== undefined && inodeOf(f.path) === this.ino);
      this.close();
      out.push(...this.catchUp(mine?.segment ?? this.seenSegment));
      out.push(...this.drain());
    }
    return out;
  }

  /**
   * Reads every segment numbered above `after`, then opens the active file from its start
   * ({@link walkChain}: a rotation before the active file is open leaves no segment unread).
   */
  private catchUp(after: number): string[] {
    const out: string[] = [];
    this.seenSegment = Math.max(this.seenSegment, after);
    for (const step of walkChain(this.dir, this.kind, this.sessionId, after)) {
      if (step.kind === "segment") {
        out.push(...readWhole(step.file.path));
        this.seenSegment = Math.max(this.seenSegment, step.segment);
      } else {
        this.fd = step.fd;
        this.ino = step.ino;
        this.offset = 0;
        this.unfinished = undefined;
        this.seenSegment = Math.max(this.seenSegment, step.lastSegment);
      }
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.ino = undefined;
    this.unfinished = undefined;
  }

  /** Opens the active file at the end of its complete lines (following from the end). */
  private openAtEnd(): void {
    try {
      this.fd = openRegularSync(this.activePath);
    } catch {
      this.fd = undefined;
      return;
    }
    this.ino = fs.fstatSync(this.fd).ino;
    this.offset = lastLinesOfFd(this.fd, 0).lastNewline + 1;
  }

  private drain(): string[] {
    if (this.fd === undefined) return [];
    const size = fs.fstatSync(this.fd).size;
    if (size < this.offset) {
      this.offset = lastLinesOfFd(this.fd, 0).lastNewline + 1; // cut back (a torn line repaired)
      this.unfinished = undefined;
    }
    const r = readComplete(this.fd, this.offset, this.unfinished);
    this.offset = r.offset;
    this.unfinished = r.unfinished;
    return r.lines;
  }
}

function readWhole(file: string): string[] {
  let fd: number;
  try {
    fd = openRegularSync(file);
  } catch {
    return [];
  }
  try {
    return readComplete(fd, 0).lines;
  } finally {
    fs.closeSync(fd);
  }
}
