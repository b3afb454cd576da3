import fs from "node:fs";
import { AuditFormatError } from "../errors.js";
import { hashBody, splitSealedLine } from "../pipeline/chain.js";
import { MAX_LINE_BYTES } from "../reader/lines.js";
import { openRegularForAppendReadSync, openRegularSync } from "../regular-file.js";
import { lastLinesOfFd } from "./last-lines.js";

export interface TailRecord {
  readonly seq: number;
  readonly hash: string;
  readonly timestamp: string;
}

export interface TailRepair {
  readonly file: string;
  /** bytes cut from the end of the file */
  readonly bytesRemoved: number;
  /** true when the torn tail was a whole record missing only its newline, which was added back */
  readonly completed: boolean;
}

/**
 * The last `\n`-terminated line of a file of `size` bytes ("" when it is longer than
 * MAX_LINE_BYTES: no record), and what follows it: its bytes, unless there are more than
 * MAX_LINE_BYTES of them (undefined: never a record, and never held). A planted line of gigabytes
 * was held whole by every session listing (`serve`'s, `summary`'s: 5 GB of memory for a sparse
 * file of a few KiB on disk), and one after the last newline failed the logger's repair on resume
 * with ERR_STRING_TOO_LONG (found by review, 2026-12-05).
 */
function readTail(fd: number, size: number): { lastLine: string | undefined; trailing: Buffer | undefined; trailingBytes: number } {
  const { lines, lastNewline } = lastLinesOfFd(fd, 1, size);
  const trailingBytes = size - lastNewline - 1;
  if (trailingBytes > MAX_LINE_BYTES) return { lastLine: lines[0], trailing: undefined, trailingBytes };
  const trailing = Buffer.alloc(trailingBytes);
  let done = 0;
  while (done < trailingBytes) {
    const n = fs.readSync(fd, trailing, done, trailingBytes - done, lastNewline + 1 + done);
    if (n === 0) break;
    done += n;
  }
  return { lastLine: lines[0], trailing: trailing.subarray(0, done), trailingBytes };
}

function parseTail(line: string, file: string): TailRecord & { prevHash: string } {
  const sealed = splitSealedLine(line);
  let rec: { seq?: unknown; prevHash?: unknown; timestamp?: unknown } | undefined;
  try {
    rec = JSON.parse(line) as typeof rec;
  } catch {
    rec = undefined;
  }
  if (!sealed || !rec || typeof rec.seq !== "number" || typeof rec.prevHash !== "string") {
    throw new AuditFormatError(
      `The last record of ${file} is not a sealed audit record, so the chain cannot be continued. Run "audit-logger verify" on the directory, or start a new sessionId.`,
    );
  }
  return { seq: rec.seq, hash: sealed.hash, prevHash: rec.prevHash, timestamp: typeof rec.timestamp === "string" ? rec.timestamp : "" };
}

/**
 * Whether `text`, what follows a chain file's last newline, is a whole record that only lacks its
 * newline: a sealed line whose hash checks out and which follows `prev`, the file's last whole
 * record (its seq + 1, linked to its hash), when there is one. The logger's repair completes such
 * a line, and the readers return it as a record (they skip any other unterminated tail), so an
 * export made before the logger resumes has the same records as one made after (until 2026-12-05
 * the readers skipped it: review #4). The parsed record, or undefined.
 *
 * @example
 * const whole = wholeUnterminatedRecord(lastPiece, { seq: 41, hash: "…" });
 */
export function wholeUnterminatedRecord(
  text: string,
  prev: { readonly seq: number; readonly hash: string } | undefined,
): { seq: number; hash: string; prevHash: string; record: Record<string, unknown> } | undefined {
  const sealed = splitSealedLine(text);
  if (!sealed) return undefined;
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof rec !== "object" || rec === null || Array.isArray(rec)) return undefined;
  const r = rec as Record<string, unknown>;
  if (typeof r.seq !== "number" || typeof r.prevHash !== "string") return undefined;
  if (prev !== undefined && (r.prevHash !== prev.hash || r.seq !== prev.seq + 1)) return undefined;
  if (hashBody(r.prevHash, sealed.body) !== sealed.hash) return undefined;
  return { seq: r.seq, hash: sealed.hash, prevHash: r.prevHash, record: r };
}

/**
 * Finds the chain head of a file, first repairing a torn final line left by a crash: a whole,
 * correctly sealed record that only lacks its newline gets it back; anything else after the last
 * newline is cut off. Returns undefined for an empty file.
 */
export function recoverTail(file: string): { tail: TailRecord | undefined; repair: TailRepair | undefined } {
  const fd = fs.openSync(file, "r+");
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return { tail: undefined, repair: undefined };
    const { lastLine, trailing, trailingBytes } = readTail(fd, size);
    let repair: TailRepair | undefined;
    let tail = lastLine !== undefined ? parseTail(lastLine, file) : undefined;
    if (trailingBytes > 0) {
      // (more than MAX_LINE_BYTES after the last newline: no record the kit wrote, cut off unread)
      const whole = trailing !== undefined ? wholeUnterminatedRecord(trailing.toString("utf8"), tail) : undefined;
      const completed = whole !== undefined;
      if (whole) {
        fs.writeSync(fd, "\n", size);
        tail = { ...whole, timestamp: String(whole.record.timestamp ?? "") };
      }
      if (!completed) fs.ftruncateSync(fd, size - trailingBytes);
      fs.fsyncSync(fd);
      repair = { file, bytesRemoved: completed ? 0 : trailingBytes, completed };
    }
    return { tail: tail ? { seq: tail.seq, hash: tail.hash, timestamp: tail.timestamp } : undefined, repair };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Repairs a torn final line of a line file that is not a chain (the checkpoints file): what
 * follows the last newline is completed with one when `whole` says it is a whole line that only
 * lost its newline, else cut off; synced. Undefined when the file ends with a newline (or is
 * empty, or not there). Opened only as a regular file (a link or a FIFO there is left alone: its
 * readers never read it either).
 */
export function repairTornTail(file: string, whole: (text: string) => boolean): TailRepair | undefined {
  // (never created here: a file not there has no tail)
  if (fs.lstatSync(file, { throwIfNoEntry: false }) === undefined) return undefined;
  let fd: number;
  try {
    fd = openRegularForAppendReadSync(file, 0o600);
  } catch {
    return undefined;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return undefined;
    const { trailing, trailingBytes } = readTail(fd, size);
    if (trailingBytes === 0) return undefined;
    const completed = trailing !== undefined && whole(trailing.toString("utf8"));
    if (completed) fs.writeSync(fd, "\n");
    else fs.ftruncateSync(fd, size - trailingBytes);
    fs.fsyncSync(fd);
    return { file, bytesRemoved: completed ? 0 : trailingBytes, completed };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The chain head of a file without changing it (for readers and retention). With `wholeTail`
 * (the readers), a final record that only lacks its newline counts as the head, as the readers
 * return it, and the PostgreSQL sink's backfill, which sends it; retention, which reads whole
 * lines only, leaves it out.
 */
export function peekTail(file: string, o: { wholeTail?: boolean } = {}): TailRecord | undefined {
  let fd: number | undefined;
  try {
    fd = openRegularSync(file);
    const size = fs.fstatSync(fd).size;
    if (size === 0) return undefined;
    const { lastLine, trailing } = readTail(fd, size);
    const t = lastLine !== undefined ? parseTail(lastLine, file) : undefined;
    // (a whole record that only lacks its newline is the head, as the readers return it)
    const whole = o.wholeTail === true && trailing !== undefined && trailing.length > 0 ? wholeUnterminatedRecord(trailing.toString("utf8"), t) : undefined;
    if (whole) return { seq: whole.seq, hash: whole.hash, timestamp: String(whole.record.timestamp ?? "") };
    return t ? { seq: t.seq, hash: t.hash, timestamp: t.timestamp } : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
