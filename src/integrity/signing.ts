import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import fs from "node:fs";
import { AuditKeyError } from "../errors.js";
import { insideReal } from "../path-inside.js";

export const SIGNING_KEY_ENV = "AUDIT_LOGGER_SIGNING_KEY";
export const SIGNING_KEY_FILE_ENV = "AUDIT_LOGGER_SIGNING_KEY_FILE";

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** `ed25519:` + the first 16 hex digits of SHA-256 over the public key's SPKI DER */
  readonly keyId: string;
}

export function publicKeyId(publicKey: KeyObject): string {
  return "ed25519:" + createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16);
}

/** An Ed25519 private key from a KeyObject or PEM; never echoes the key in errors. */
export function toSigningKey(input: KeyObject | string, source: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = typeof input === "string" ? createPrivateKey(input) : input;
  } catch (cause) {
    throw new AuditKeyError(`The signing key from ${source} is not a PEM private key. Generate one with: openssl genpkey -algorithm ed25519 -out signing.pem`, { cause });
  }
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ed25519") {
    throw new AuditKeyError(`The signing key from ${source} must be an Ed25519 private key (got ${privateKey.asymmetricKeyType ?? "?"} ${privateKey.type}).`);
  }
  const publicKey = createPublicKey(privateKey);
  return Object.freeze({ privateKey, publicKey, keyId: publicKeyId(publicKey) });
}

/**
 * The signing key from the `signingKey` option, else `AUDIT_LOGGER_SIGNING_KEY` (PEM), else the
 * file named by `AUDIT_LOGGER_SIGNING_KEY_FILE`. A key file inside the audit directory is refused.
 */
export function resolveSigningKey(option: KeyObject | string | undefined, auditDir: string, env: NodeJS.ProcessEnv = process.env): SigningKey | undefined {
  if (option !== undefined) return toSigningKey(option, "the signingKey option");
  const pem = env[SIGNING_KEY_ENV];
  if (pem) return toSigningKey(pem, `the ${SIGNING_KEY_ENV} environment variable`);
  const file = env[SIGNING_KEY_FILE_ENV];
  if (file) {
    if (insideReal(auditDir, file)) throw new AuditKeyError(`${SIGNING_KEY_FILE_ENV} points inside the audit directory ${auditDir}; keep signing keys outside it.`);
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (cause) {
      throw new AuditKeyError(`Cannot read the signing key file named by ${SIGNING_KEY_FILE_ENV}: ${(cause as Error).message}`, { cause });
    }
    return toSigningKey(text, `the file named by ${SIGNING_KEY_FILE_ENV}`);
  }
  return undefined;
}

/** Public keys given to the verifier: KeyObjects or PEM (public or private; private keys are reduced to public). */
export function toPublicKeys(input: KeyObject | string | ReadonlyArray<KeyObject | string> | undefined): KeyObject[] {
  if (input === undefined) return [];
  const list = Array.isArray(input) ? input : [input];
  return list.map((k: KeyObject | string) => {
    try {
      const ko = typeof k === "string" ? (k.includes("PRIVATE KEY") ? createPublicKey(createPrivateKey(k)) : createPublicKey(k)) : k.type === "private" ? createPublicKey(k) : k;
      if (ko.asymmetricKeyType !== "ed25519") throw new Error(`not an Ed25519 key (${ko.asymmetricKeyType})`);
      return ko;
    } catch (cause) {
      // (OpenSSL's own text, "error:1E08010C:DECODER routines::unsupported", says nothing to a
      // user: said in words, with what to give instead; found by the new-user pass, 2026-12-06)
      const why = (cause as Error).message;
      throw new AuditKeyError(
        `A public key given to the verifier is not an Ed25519 public key in PEM or KeyObject form: ${/^error:[0-9A-F]{8}:/.test(why) ? "the text is not a PEM key OpenSSL can read" : why}. Give the public half of the logger's Ed25519 signing key (a PEM "-----BEGIN PUBLIC KEY-----" block, e.g. from \`openssl pkey -in signing.pem -pubout\`)`,
        { cause },
      );
    }
  });
}
