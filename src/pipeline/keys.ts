import { createHash, hkdfSync } from "node:crypto";
import { AuditKeyError } from "../errors.js";

export const KEY_ENV = "AUDIT_LOGGER_KEY";

/** A resolved 32-byte AES key and the id written beside every value it encrypts. */
export interface EncryptionKey {
  readonly id: string;
  readonly key: Buffer;
  /** HMAC key for content hashes, derived so the AES key itself is never used for two jobs. */
  readonly hashKey: Buffer;
  /** finds another key by id: an older master key of the keyring, or a (wrapped) data key */
  readonly resolve?: (kid: string) => EncryptionKey | undefined;
  /** the keyring's master keys, current first */
  readonly masters?: readonly EncryptionKey[];
}

/** The key for `kid`: this key, or one its keyring can open; undefined when none can. */
export function keyForId(key: EncryptionKey, kid: string): EncryptionKey | undefined {
  return kid === key.id ? key : key.resolve?.(kid);
}

/** Parses base64 (or 64 hex chars) into 32 bytes; never echoes the key in the error. */
export function parseKey(input: string | Uint8Array, source: string): Buffer {
  let bytes: Buffer;
  if (typeof input === "string") {
    const s = input.trim();
    bytes = /^[0-9a-fA-F]{64}$/.test(s) ? Buffer.from(s, "hex") : Buffer.from(s, "base64");
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(s) && !/^[0-9a-fA-F]{64}$/.test(s)) bytes = Buffer.alloc(0);
  } else {
    bytes = Buffer.from(input);
  }
  if (bytes.length !== 32) {
    throw new AuditKeyError(
      `The encryption key from ${source} is not 32 bytes (got ${bytes.length}). Provide 32 random bytes as base64, e.g. generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`,
    );
  }
  return bytes;
}

export function keyIdOf(key: Buffer): string {
  return "k" + createHash("sha256").update("audit-logger/key-id/v1\0").update(key).digest("hex").slice(0, 16);
}

export function makeEncryptionKey(key: Buffer): EncryptionKey {
  const hashKey = Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), "audit-logger/content-hash/v1", 32));
  return Object.freeze({ id: keyIdOf(key), key, hashKey });
}

export type KeyInput = string | Uint8Array;

/**
 * The master keys from the option (one key, or a keyring: current first, older ones after), else
 * from the environment (separated by commas or newlines); undefined when neither is set.
 */
export function resolveMasterKeys(option: KeyInput | readonly KeyInput[] | undefined, env: NodeJS.ProcessEnv = process.env): EncryptionKey[] | undefined {
  if (option !== undefined) {
    const list = Array.isArray(option) ? (option as readonly KeyInput[]) : [option as KeyInput];
    if (list.length === 0) throw new AuditKeyError("encryptionKey is an empty list; give at least one key (the current one first).");
    return list.map((k, i) => makeEncryptionKey(parseKey(k, list.length > 1 ? `encryptionKey[${i}]` : "the encryptionKey option")));
  }
  const fromEnv = env[KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    // (newlines too, as a key file: the docs said so, and a newline-separated keyring was one bad key; review, 2026-12-04)
    const parts = fromEnv.split(/[,\r\n]+/).map((p) => p.trim()).filter(Boolean);
    return parts.map((k, i) => makeEncryptionKey(parseKey(k, parts.length > 1 ? `the ${KEY_ENV} environment variable (key ${i + 1})` : `the ${KEY_ENV} environment variable`)));
  }
  return undefined;
}

/** Resolves the key (or keyring) from the option, else the environment; undefined when neither is set. */
export function resolveKey(option: KeyInput | readonly KeyInput[] | undefined, env: NodeJS.ProcessEnv = process.env): EncryptionKey | undefined {
  const masters = resolveMasterKeys(option, env);
  if (!masters) return undefined;
  const byId = new Map(masters.map((m) => [m.id, m]));
  return Object.freeze({ ...masters[0]!, masters: Object.freeze(masters), resolve: (kid: string) => byId.get(kid) });
}
