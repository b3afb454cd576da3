/**
 * Reading one full-content file of an audit directory: only a regular file, only inside the
 * directory once links are followed. Whoever can write the audit directory (the app's own user)
 * could otherwise make a more privileged reader (`export --include-content`, `serve` run by an
 * administrator) hand out any file it can read, through a symbolic link named like a content
 * file, or hang it on a FIFO (found by review, 2026-12-04). The open itself is src/regular-file.ts.
 */
import fs from "node:fs";
import path from "node:path";
import { AuditPathError } from "../errors.js";
import { isInside } from "../path-inside.js";
import { safeJoin } from "../sink/files.js";
import { readRegularFile, readRegularFileSync } from "../regular-file.js";
import type { ContentFileRef, ContentFiles } from "../types.js";

/** The most a manifest file holds (the kit writes a few hundred bytes): a longer one is not read. */
export const MANIFEST_MAX_BYTES = 64 * 1024;

/** The full path of `relPath` under `dir`, its directory checked to stay inside `dir` once links are followed; undefined when that directory does not exist. */
function contentPath(dir: string, relPath: string): string | undefined {
  const full = safeJoin(dir, relPath);
  let realParent: string;
  try {
    realParent = fs.realpathSync(path.dirname(full));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (!isInside(fs.realpathSync(dir), realParent)) throw new AuditPathError(`${relPath} leads outside the audit directory ${dir} (a linked directory): not read.`);
  return full;
}

/**
 * The bytes of `relPath` under `dir`, undefined when it does not exist; AuditPathError for a
 * link, a non-file, or a path leading out. With `maxBytes` (the size its record gives), a longer
 * file is not read: FileTooLargeError (a planted file of GiBs was read whole, or failed past
 * 2 GiB as "unreadable" rather than as not matching its record; review leftover, 2026-12-05).
 */
export async function readContentFile(dir: string, relPath: string, maxBytes?: number): Promise<Buffer | undefined> {
  const full = contentPath(dir, relPath);
  if (full === undefined) return undefined;
  try {
    return await readRegularFile(full, relPath, maxBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** {@link readContentFile}, synchronous (the verifier's). */
export function readContentFileSync(dir: string, relPath: string, maxBytes?: number): Buffer | undefined {
  const full = contentPath(dir, relPath);
  if (full === undefined) return undefined;
  try {
    return readRegularFileSync(full, relPath, maxBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** The members the logger writes in a chat's manifest (src/sink/content.ts ContentManifest). */
const MANIFEST_MEMBERS = new Set(["interactionId", "sessionId", "recordHash", "encrypted", "keyId", "files", "createdAt"]);

function sameRef(got: unknown, want: ContentFileRef | undefined): boolean {
  if (typeof got !== "object" || got === null || want === undefined) return false;
  const g = got as Record<string, unknown>;
  return Object.keys(g).length === 3 && g.file === want.file && g.bytes === want.bytes && g.sha256 === want.sha256;
}

/**
 * Whether a chat's parsed manifest is the one the logger writes for its record: the record's id,
 * session, chain hash (`recordHash`) and time (`createdAt`), the same file references (name,
 * size, digest), `encrypted` as its files are (`.enc`) with a `keyId` only then, and no other
 * member. The manifest is outside the chain and repeats only what the record holds, so any other
 * value is an edit. (Until 2026-12-06 only `recordHash` and the two digests were compared: an edit
 * of any other member, a renamed one included, verified OK; found by the CLI pass.)
 */
export function manifestMatchesRecord(manifest: unknown, rec: Readonly<Record<string, unknown>>, recordHash: unknown, refs: Partial<ContentFiles>): boolean {
  if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) return false;
  const m = manifest as Record<string, unknown>;
  if (Object.keys(m).some((k) => !MANIFEST_MEMBERS.has(k))) return false;
  const encrypted = typeof refs.prompt?.file === "string" && refs.prompt.file.endsWith(".enc");
  const files = m.files as Record<string, unknown> | null | undefined;
  return (
    m.interactionId === rec.id &&
    m.sessionId === rec.sessionId &&
    m.recordHash === recordHash &&
    m.createdAt === rec.timestamp &&
    m.encrypted === encrypted &&
    (encrypted ? typeof m.keyId === "string" : !Object.hasOwn(m, "keyId")) &&
    typeof files === "object" &&
    files !== null &&
    Object.keys(files).length === 2 &&
    sameRef(files.prompt, refs.prompt) &&
    sameRef(files.response, refs.response)
  );
}
