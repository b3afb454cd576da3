import crypto, { createHash } from "node:crypto";
import { AuditValidationError, type FieldIssue } from "../errors.js";

/** `prevHash` of the first record of each kind. */
export const GENESIS_HASH = "0".repeat(64);

const HASH_SUFFIX_LEN = ',"hash":"'.length + 64 + 2; // ,"hash":"<64 hex>"}

/**
 * Seals one record: `hash = SHA-256(prevHash ‖ body)` where `body` is the record's JSON text
 * without its `hash` member, then appends `hash` as the last member. The body is the exact text
 * written, so a verifier strips `,"hash":"…"` and hashes bytes: no canonicalisation.
 */
export function sealRecord(prevHash: string, body: string): { line: string; hash: string } {
  const hash = sha256Text(prevHash + body);
  return { line: sealedLine(body, hash), hash };
}

/** The line (without newline) for a record body and its hash: `hash` spliced in as the last member. */
export function sealedLine(body: string, hash: string): string {
  return `${body.slice(0, -1)},"hash":"${hash}"}`;
}

/**
 * The chain's hash function, from a parsed record: SHA-256 over `prevHash` followed by the
 * record's JSON text without its `hash` member, members in their written order.
 *
 * @example
 * const rec = JSON.parse(line); computeRecordHash(rec.prevHash, rec) === rec.hash
 */
export function computeRecordHash(prevHash: string, record: Readonly<Record<string, unknown>>): string {
  // (a third party's verifier calls it with what it parsed: a number was a bare TypeError, and a
  // record that was no object hashed as "{}"; found by the API.md audit, 2026-12-05)
  if (typeof prevHash !== "string" || typeof record !== "object" || record === null || Array.isArray(record)) {
    const issues: FieldIssue[] = [];
    if (typeof prevHash !== "string") issues.push({ field: "prevHash", message: `must be the record's prevHash string (got ${prevHash === null ? "null" : typeof prevHash})` });
    if (typeof record !== "object" || record === null || Array.isArray(record)) issues.push({ field: "record", message: `must be the parsed record, an object (got ${record === null ? "null" : Array.isArray(record) ? "an array" : typeof record})` });
    throw new AuditValidationError("computeRecordHash", issues, { outcome: "nothing was hashed" });
  }
  const { hash: _hash, ...rest } = record;
  return createHash("sha256").update(prevHash).update(JSON.stringify(rest)).digest("hex");
}

/** Splits a line into the body that was hashed and its `hash`; undefined when the line does not end with a hash member. */
export function splitSealedLine(line: string): { body: string; hash: string } | undefined {
  if (line.length < HASH_SUFFIX_LEN + 2 || !line.endsWith('"}')) return undefined;
  const start = line.length - HASH_SUFFIX_LEN;
  if (line.slice(start, start + 9) !== ',"hash":"') return undefined;
  const hash = line.slice(start + 9, line.length - 2);
  if (!/^[0-9a-f]{64}$/.test(hash)) return undefined;
  return { body: line.slice(0, start) + "}", hash };
}

export function hashBody(prevHash: string, body: string): string {
  return sha256Text(prevHash + body);
}

// crypto.hash (Node ≥ 20.12) is a one-shot digest without a Hash object: ~20% cheaper per record
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: "hex") => string }).hash;

/** Lowercase hex SHA-256 of a string's UTF-8 bytes. */
export function sha256Text(text: string): string {
  return oneShot ? oneShot("sha256", text, "hex") : createHash("sha256").update(text).digest("hex");
}

/**
 * The envelope every sealed line begins with, as the writer writes it (ASCII only): id, type,
 * sessionId, timestamp, seq, prevHash (groups 1..6).
 */
export const ENVELOPE = /^\{"id":"([A-Za-z0-9_-]{1,64})","type":"([a-z_]+)","sessionId":"([A-Za-z0-9._-]{1,128})","timestamp":"([^"\\]*)","seq":(\d{1,15}),"prevHash":"([0-9a-f]{64})"/;

/**
 * The envelope member of `rec` (the line `text` parsed) that differs from the line's leading
 * envelope, or undefined when they agree (or the line does not begin with one). Only a line that
 * repeats a member can differ: JSON.parse keeps the last of duplicate names, while the chain walk
 * reads the first. A record in a chain's unsigned tail that repeated `"seq":0` was read as seq 0,
 * covered by a signed checkpoint, by the readers of retention and legal-hold records, and its
 * forged prune hid deleted signed segments from verify with a public key (found by an
 * adversarial review, 2026-12-05). Every reader that trusts a parsed record's envelope checks it.
 */
export function envelopeMismatch(text: string, rec: Readonly<Record<string, unknown>>): string | undefined {
  const h = ENVELOPE.exec(text.length > 600 ? text.slice(0, 600) : text);
  if (!h) return undefined;
  const want: ReadonlyArray<readonly [string, unknown]> = [
    ["id", h[1]],
    ["type", h[2]],
    ["sessionId", h[3]],
    ["timestamp", h[4]],
    ["seq", Number(h[5])],
    ["prevHash", h[6]],
  ];
  for (const [member, value] of want) if (rec[member] !== value) return member;
  return undefined;
}
