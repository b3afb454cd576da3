import fs from "node:fs";
import { AuditFormatError } from "../errors.js";
import { hashBody, splitSealedLine } from "../pipeline/chain.js";
import { openRegularSync } from "../regular-file.js";

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

/** Reads the last `\n`-terminated line of a file and whatever follows it, reading backwards in chunks. */
function readTail(fd: number, size: number): { lastLine: string | undefined; trailing: Buffer } {
  const CHUNK = 64 * 1024;
  let pos = size;
  let data = Buffer.alloc(0);
  for (;;) {
    const start = Math.max(0, pos - CHUNK);
    const buf = Buffer.alloc(pos - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    data = Buffer.concat([buf, data]);
    pos = start;
    const lastNl = data.lastIndexOf(0x0a);
    if (lastNl === -1) {
      if (pos === 0) return { lastLine: undefined, trailing: data };
      continue;
    }
    const prevNl = lastNl > 0 ? data.lastIndexOf(0x0a, lastNl - 1) : -1;
    if (prevNl === -1 && pos > 0) continue;
    return { lastLine: data.subarray(prevNl + 1, lastNl).toString("utf8"), trailing: data.subarray(lastNl + 1) };
  }
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
 * Finds the chain head of a file, first repairing a torn final line left by a crash: a whole,
 * correctly sealed record that only lacks its newline gets it back; anything else after the last
 * newline is cut off. Returns undefined for an empty file.
 */
export function recoverTail(file: string): { tail: TailRecord | undefined; repair: TailRepair | undefined } {
  const fd = fs.openSync(file, "r+");
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return { tail: undefined, repair: undefined };
    const { lastLine, trailing } = readTail(fd, size);
    let repair: TailRepair | undefined;
    let tail = lastLine !== undefined ? parseTail(lastLine, file) : undefined;
    if (trailing.length > 0) {
      const text = trailing.toString("utf8");
      const sealed = splitSealedLine(text);
      let completed = false;
      if (sealed) {
        try {
          const rec = JSON.parse(text) as { seq?: unknown; prevHash?: unknown; timestamp?: unknown };
          const expectPrev = tail?.hash;
          if (
            typeof rec.seq === "number" &&
            rec.prevHash === (expectPrev ?? rec.prevHash) &&
            (tail === undefined || rec.seq === tail.seq + 1) &&
            hashBody(String(rec.prevHash), sealed.body) === sealed.hash
          ) {
            fs.writeSync(fd, "\n", size);
            tail = { seq: rec.seq, hash: sealed.hash, prevHash: String(rec.prevHash), timestamp: String(rec.timestamp ?? "") };
            completed = true;
          }
        } catch {
          completed = false;
        }
      }
      if (!completed) fs.ftruncateSync(fd, size - trailing.length);
      fs.fsyncSync(fd);
      repair = { file, bytesRemoved: completed ? 0 : trailing.length, completed };
    }
    return { tail: tail ? { seq: tail.seq, hash: tail.hash, timestamp: tail.timestamp } : undefined, repair };
  } finally {
    fs.closeSync(fd);
  }
}

/** The chain head of a file without changing it (for readers and retention). */
export function peekTail(file: string): TailRecord | undefined {
  let fd: number | undefined;
  try {
    fd = openRegularSync(file);
    const size = fs.fstatSync(fd).size;
    if (size === 0) return undefined;
    const { lastLine } = readTail(fd, size);
    if (lastLine === undefined) return undefined;
    const t = parseTail(lastLine, file);
    return { seq: t.seq, hash: t.hash, timestamp: t.timestamp };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
