import crypto, { createHash } from "node:crypto";

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
