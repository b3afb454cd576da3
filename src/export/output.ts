/** Writing export files: streamed, with backpressure, through a temporary file renamed into place. */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AuditIOError, AuditLoggerError } from "../errors.js";

const FILE_MODE = 0o600;

/**
 * Streams `chunks` (through `transform`, when given) into `file`. Nothing appears under `file`'s
 * name until everything is written; on failure the temporary file is removed.
 */
export async function writeAtomic(file: string, chunks: AsyncIterable<unknown>, transform?: Transform): Promise<void> {
  const target = path.resolve(file);
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  try {
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    const out = fs.createWriteStream(tmp, { mode: FILE_MODE });
    if (transform) await pipeline(chunks, transform, out);
    else await pipeline(chunks, out);
    await fs.promises.rename(tmp, target);
  } catch (cause) {
    await fs.promises.rm(tmp, { force: true });
    if (cause instanceof AuditLoggerError) throw cause;
    throw new AuditIOError(`Writing the export ${target} failed: ${(cause as Error).message}`, { cause });
  }
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}
