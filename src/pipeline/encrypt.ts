import { createCipheriv, createDecipheriv, createHash, createHmac, randomFillSync } from "node:crypto";
import { AuditKeyError } from "../errors.js";
import type { EncryptedValue } from "../types.js";
import { keyForId, type EncryptionKey } from "./keys.js";
import { sha256Text } from "./chain.js";

// 96-bit random IVs (NIST SP 800-38D §8.2.2), drawn from a pool refilled 4 KiB at a time so a
// value costs one slice, not one getrandom(2). Random IVs stay safe up to 2^32 values per key.
const IV_LEN = 12;
const TAG_LEN = 16;
const pool = Buffer.allocUnsafe(IV_LEN * 512);
let poolPos = pool.length;

function nextIv(): Buffer {
  if (poolPos + IV_LEN > pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const iv = Buffer.from(pool.subarray(poolPos, poolPos + IV_LEN));
  poolPos += IV_LEN;
  return iv;
}

/** Additional authenticated data binding a value to its record and field. */
export function valueAad(recordId: string, field: string): string {
  return `audit-logger/v1|${recordId}|${field}`;
}

export function encryptValue(key: EncryptionKey, plaintext: string, aad: string): EncryptedValue {
  const iv = nextIv();
  const cipher = createCipheriv("aes-256-gcm", key.key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return { $enc: "aes-256-gcm/v1", kid: key.id, iv: iv.toString("base64"), ct: ct.toString("base64") };
}

export function isEncryptedValue(v: unknown): v is EncryptedValue {
  return typeof v === "object" && v !== null && (v as { $enc?: unknown }).$enc === "aes-256-gcm/v1";
}

function noKey(kid: string, key: EncryptionKey, what: string): AuditKeyError {
  return new AuditKeyError(
    kid.startsWith("d")
      ? `${what} was encrypted with data key ${kid}, which is not in the key store: its subject was crypto-shredded, or the key store is missing.`
      : `${what} was encrypted with key ${kid}, but the key given is ${key.id}. Supply the key that wrote the log (a keyring may list several).`,
  );
}

export function decryptValue(key: EncryptionKey, value: EncryptedValue, aad: string): string {
  const k = keyForId(key, value.kid);
  if (!k) throw noKey(value.kid, key, "This value");
  key = k;
  const data = Buffer.from(value.ct, "base64");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.key, Buffer.from(value.iv, "base64"));
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(data.subarray(data.length - TAG_LEN));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_LEN)), decipher.final()]).toString("utf8");
  } catch (cause) {
    throw new AuditKeyError(`Decryption failed for ${aad}: the value was altered, moved to another record or field, or the key is wrong.`, { cause });
  }
}

// Encrypted content files: "ALE1" | kid length (1 byte) | kid | IV (12) | ciphertext | tag (16)
const FILE_MAGIC = Buffer.from("ALE1", "ascii");

export function encryptFile(key: EncryptionKey, plaintext: Buffer, aad: string): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv("aes-256-gcm", key.key, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const kid = Buffer.from(key.id, "ascii");
  return Buffer.concat([FILE_MAGIC, Buffer.from([kid.length]), kid, iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** The key id an encrypted content file names, or undefined when it is not one. */
export function encryptedFileKeyId(data: Buffer): string | undefined {
  if (data.length < 5 || !data.subarray(0, 4).equals(FILE_MAGIC)) return undefined;
  return data.subarray(5, 5 + data[4]!).toString("ascii");
}

export function decryptFile(key: EncryptionKey, data: Buffer, aad: string): Buffer {
  const kid = encryptedFileKeyId(data);
  if (kid === undefined) throw new AuditKeyError(`${aad} is not an audit-logger encrypted file.`);
  const k = keyForId(key, kid);
  if (!k) throw noKey(kid, key, aad);
  key = k;
  const off = 5 + data[4]!;
  const iv = data.subarray(off, off + IV_LEN);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.key, iv);
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(data.subarray(data.length - TAG_LEN));
    return Buffer.concat([decipher.update(data.subarray(off + IV_LEN, data.length - TAG_LEN)), decipher.final()]);
  } catch (cause) {
    throw new AuditKeyError(`Decryption of ${aad} failed: the file was altered or the key is wrong.`, { cause });
  }
}

/**
 * Content hash of a text: `sha256:<hex>`, or, under encryption, `hmac-sha256:<kid>:<hex>` with a
 * key derived from the encryption key (a plain hash of a short prompt would let anyone guess it).
 */
export function contentHash(text: string | Buffer, key: EncryptionKey | undefined): string {
  if (key) return `hmac-sha256:${key.id}:${createHmac("sha256", key.hashKey).update(text).digest("hex")}`;
  return `sha256:${typeof text === "string" ? sha256Text(text) : createHash("sha256").update(text).digest("hex")}`;
}

/**
 * Checks a text against a stored content hash; an `hmac-sha256:<kid>:` hash is checked with that
 * key (found through the keyring). Undefined when it cannot be checked (no key, or shredded).
 */
export function checkContentHash(text: string | Buffer, stored: string, key: EncryptionKey | undefined): boolean | undefined {
  if (stored.startsWith("sha256:")) return contentHash(text, undefined) === stored;
  const m = /^hmac-sha256:([^:]+):/.exec(stored);
  if (!m || !key) return undefined;
  let k: EncryptionKey | undefined;
  try {
    k = keyForId(key, m[1]!);
  } catch {
    k = undefined;
  }
  return k ? contentHash(text, k) === stored : undefined;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
