/**
 * Reads a chat's full prompt and response back from `full_interactions/` and checks them three
 * ways: the file bytes against the digests in the (hash-chained) record, the manifest against
 * the record, and the opened text against the record's `promptHash` / `responseHash`.
 */
import { checkContentHash, decryptFile, encryptedFileKeyId, sha256Hex } from "../pipeline/encrypt.js";
import type { EncryptionKey } from "../pipeline/keys.js";
import { FileTooLargeError } from "../regular-file.js";
import { manifestMatchesRecord, MANIFEST_MAX_BYTES } from "./content-file.js";
import { fileAad } from "../sink/content.js";
import type { ContentFileRef, ContentFiles } from "../types.js";
import { computeRecordHash } from "../pipeline/chain.js";
import { rawRecordOf, type RawRecord, type RecordSource } from "./records.js";

/** What each check found: true passed, false failed, null could not be run (see `problems`). */
export interface ContentChecks {
  /** both files exist and their bytes match the size and SHA-256 in the record's `fullContent` */
  readonly files: boolean;
  /** the manifest names this record's hash and the same file digests */
  readonly manifest: boolean;
  /** the opened text matches `promptHash`/`responseHash`; null without a key for encrypted content or without stored hashes */
  readonly contentHashes: boolean | null;
  /**
   * the record itself matches its own `hash` (the line was not changed after it was written), so
   * that the digests the other checks compare with are the ones the chain sealed. Until
   * 2026-12-05 this was not checked: content rewritten together with the record's plain SHA-256
   * digests and the manifest passed as verified while `verify` said `record_modified`
   */
  readonly record: boolean;
}

/**
 * A chat's full content. `prompt`/`response` are the exact texts (JSON text when the call passed
 * structured messages, see `promptFormat`), or null when they are encrypted and no key could open
 * them (`encrypted: true`) or the file is missing.
 */
export interface FullInteractionContent {
  readonly interactionId: string;
  readonly sessionId: string;
  readonly prompt: string | null;
  readonly response: string | null;
  /**
   * false when the record says that part was deliberately not captured (`promptCaptured: false`):
   * its text is then null, not the empty file kept in its place
   */
  readonly promptCaptured: boolean;
  readonly responseCaptured: boolean;
  readonly promptFormat: "text" | "json";
  readonly responseFormat: "text" | "json";
  /** the manifest file's JSON, or null when it is missing or unreadable */
  readonly manifest: Record<string, unknown> | null;
  /** true when the content files are encrypted on disk */
  readonly encrypted: boolean;
  /** true when every check that could run passed (`checks.contentHashes` null counts as not failed) */
  readonly verified: boolean;
  readonly checks: ContentChecks;
  /** what failed, in words */
  readonly problems: readonly string[];
}

function isRef(v: unknown): v is ContentFileRef {
  const r = v as ContentFileRef | undefined;
  return typeof r === "object" && r !== null && typeof r.file === "string" && typeof r.sha256 === "string" && typeof r.bytes === "number";
}

/**
 * Loads and checks the content of `rec` (a stored chat record with `fullContent`).
 * Returns undefined when the record has no full content.
 */
/**
 * `source.readContent(file)`, or null when it could not be read (a link, a FIFO, no permission):
 * the reason is added to `problems`. A file longer than `maxBytes` (what its record says) is not
 * read, and is said not to match its record.
 */
async function readOrProblem(source: RecordSource, file: string, problems: string[], maxBytes: number, manifest = false): Promise<Buffer | undefined | null> {
  try {
    return await source.readContent(file, maxBytes);
  } catch (err) {
    if (err instanceof FileTooLargeError) {
      problems.push(manifest ? `${file} is ${err.size} bytes, more than a manifest holds: not read` : `${file} differs from the digest in its record (${err.size} bytes, the record says ${maxBytes}): not read`);
    }
    else problems.push(`${file} cannot be read: ${(err as Error).message}`);
    return null;
  }
}

export async function loadFullContent(source: RecordSource, rec: RawRecord, key: EncryptionKey | undefined): Promise<FullInteractionContent | undefined> {
  const refs = rec.fullContent as Partial<ContentFiles> | undefined;
  if (typeof refs !== "object" || refs === null) return undefined;
  const id = String(rec.id);
  const problems: string[] = [];
  let filesOk = true;
  let encrypted = false;
  const texts: Record<"prompt" | "response", string | null> = { prompt: null, response: null };
  const hashOk: Array<boolean | null> = [];
  // (a part not captured has an empty file, checked against its digest like any, and no text)
  const captured = { prompt: rec.promptCaptured !== false, response: rec.responseCaptured !== false };

  for (const role of ["prompt", "response"] as const) {
    const ref = refs[role];
    if (!isRef(ref)) {
      filesOk = false;
      problems.push(`the record has no ${role} file reference`);
      continue;
    }
    const data = await readOrProblem(source, ref.file, problems, ref.bytes);
    if (data === null) {
      filesOk = false;
      continue;
    }
    if (!data) {
      filesOk = false;
      problems.push(`${ref.file} is missing`);
      continue;
    }
    if (data.length !== ref.bytes || sha256Hex(data) !== ref.sha256) {
      filesOk = false;
      problems.push(`${ref.file} differs from the digest in its record`);
    }
    const fileEncrypted = ref.file.endsWith(".enc") || encryptedFileKeyId(data) !== undefined;
    encrypted ||= fileEncrypted;
    let text: string | null = null;
    if (!fileEncrypted) {
      try {
        text = data.toString("utf8");
      } catch {
        // (past V8's longest string: a planted file made the export with content fail whole; review, 2026-12-05)
        problems.push(`${ref.file} is too long to show as text (${data.length} bytes)`);
      }
    }
    else if (key) {
      try {
        text = decryptFile(key, data, fileAad(id, role)).toString("utf8");
      } catch (err) {
        problems.push(`${ref.file} cannot be opened: ${(err as Error).message}`);
      }
    }
    if (!captured[role]) continue;
    texts[role] = text;
    const want = rec[`${role}Hash`];
    if (typeof want !== "string") hashOk.push(null);
    else if (text === null) hashOk.push(null);
    else {
      // an hmac-sha256:<kid>: hash is checked with that key (a data key, through the keyring)
      const ok = checkContentHash(text, want, key);
      if (ok === undefined) hashOk.push(null);
      else {
        if (!ok) problems.push(`the ${role} text does not match the record's ${role}Hash`);
        hashOk.push(ok);
      }
    }
  }

  let manifest: Record<string, unknown> | null = null;
  let manifestOk = false;
  if (typeof refs.manifest === "string") {
    const data = await readOrProblem(source, refs.manifest, problems, MANIFEST_MAX_BYTES, true);
    if (data === null) {
      // (the problem is said)
    } else if (data) {
      try {
        manifest = JSON.parse(data.toString("utf8")) as Record<string, unknown>;
      } catch {
        problems.push(`${refs.manifest} is not JSON`);
      }
    } else problems.push(`${refs.manifest} is missing`);
  } else problems.push("the record names no manifest");
  if (manifest) {
    manifestOk = manifest.interactionId === id && manifestMatchesRecord(manifest, rec, rec.hash, refs);
    if (!manifestOk) problems.push(`${refs.manifest} does not match its record`);
  }

  // (the digests above are only as good as the record holding them: its own hash, over its line as
  // written, its ciphertexts included)
  const raw = rawRecordOf(rec);
  const recordOk = typeof raw.prevHash === "string" && typeof raw.hash === "string" && computeRecordHash(raw.prevHash, raw) === raw.hash;
  if (!recordOk) problems.push(`the record ${id} does not match its own hash: it was changed after it was written (run audit-logger verify)`);

  const wanted = (captured.prompt ? 1 : 0) + (captured.response ? 1 : 0);
  const contentHashes = hashOk.includes(false) ? false : wanted > 0 && hashOk.length === wanted && hashOk.every((h) => h === true) ? true : null;
  return {
    interactionId: id,
    sessionId: String(rec.sessionId),
    prompt: texts.prompt,
    response: texts.response,
    promptCaptured: captured.prompt,
    responseCaptured: captured.response,
    promptFormat: rec.promptFormat === "json" ? "json" : "text",
    responseFormat: rec.responseFormat === "json" ? "json" : "text",
    manifest,
    encrypted,
    verified: filesOk && manifestOk && contentHashes !== false && recordOk,
    checks: { files: filesOk, manifest: manifestOk, contentHashes, record: recordOk },
    problems,
  };
}
