/**
 * Where the command line gets its decryption keys: `--key-file <path>`, else the
 * `AUDIT_LOGGER_KEY` environment variable. Either may hold one key or a keyring (several keys
 * separated by commas or newlines, current first), exactly as the library reads them. Keys are
 * never printed, not even in errors.
 */
import fs from "node:fs";
import { AuditKeyError } from "../errors.js";
import { openKeyring, wrappingMasterIds } from "../pipeline/keyring.js";
import { KEY_ENV, parseKey, resolveKey, type EncryptionKey } from "../pipeline/keys.js";
import { insideReal } from "../path-inside.js";
import { UsageError } from "./args.js";

/** The master keys as given (for a viewer), and where they came from. */
export interface CliKey {
  /** the master keys' bytes, current first */
  readonly masters: readonly Uint8Array[];
  /** the resolved key (a keyring when several were given) */
  readonly key: EncryptionKey;
  readonly source: string;
}

/**
 * A key file inside the audit directory the command reads (`auditDir`, when there is one) is
 * refused, unread, as the writer refuses a signing key file there: whoever gets a copy of the
 * logs (a backup, an export of the directory) would get the key that opens them.
 *
 * `refusedSo` ends the refusal of a key that opens nothing there with what the command did not
 * do (`shred`: "nothing was shredded", as the shred's own check says).
 *
 * @example
 * const key = loadCliKey(values["key-file"], process.env, dir); // undefined without a key
 */
export function loadCliKey(keyFile: string | undefined, env: NodeJS.ProcessEnv, auditDir?: string, refusedSo?: string): CliKey | undefined {
  let key: EncryptionKey | undefined;
  let source: string;
  try {
    if (keyFile !== undefined) {
      source = `--key-file ${keyFile}`;
      if (auditDir !== undefined && insideReal(auditDir, keyFile)) {
        throw new UsageError(
          `option --key-file: "${keyFile}" is inside the audit directory ${auditDir}, where anyone with a copy of the logs has the key too; move it outside the directory (and rotate the key if copies of the directory were made), then pass its new path`,
        );
      }
      let text: string;
      try {
        text = fs.readFileSync(keyFile, "utf8");
      } catch (err) {
        throw new UsageError(`option --key-file: cannot read "${keyFile}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      const parts = text.split(/[,\r\n]+/).map((p) => p.trim()).filter(Boolean);
      if (parts.length === 0) throw new UsageError(`option --key-file: "${keyFile}" holds no key`);
      // (each checked under the file's name: resolveKey's errors said "the encryptionKey option",
      // which a command line does not have; found by the CLI pass, 2026-12-06)
      parts.forEach((p, i) => parseKey(p, parts.length > 1 ? `${keyFile} (key ${i + 1})` : keyFile));
      key = resolveKey(parts.length === 1 ? parts[0] : parts, {});
    } else {
      source = `the ${KEY_ENV} environment variable`;
      key = resolveKey(undefined, env);
    }
  } catch (err) {
    if (err instanceof AuditKeyError) throw new UsageError(keyFile !== undefined ? `option --key-file: ${err.message}` : err.message, undefined, "AUDIT_ERR_KEY");
    throw err;
  }
  if (!key) return undefined;
  if (auditDir !== undefined) refuseForeignKey(key, auditDir, keyFile !== undefined ? "option --key-file" : source, refusedSo);
  const masters = (key.masters ?? [key]).map((m) => new Uint8Array(m.key));
  return { masters, key, source };
}

/**
 * A key (or keyring) none of whose master keys wraps a data key of `auditDir` opens nothing
 * there: refused, naming the master keys that do (by id: never a key). Until 2026-12-06 export
 * --include-content wrote its export with every value still encrypted, exit 0 and no word, and tail
 * and serve showed every value as "cannot decrypt" (found by the CLI pass). A directory with no
 * data key (nothing encrypted, or every subject shredded) has nothing to check.
 */
function refuseForeignKey(key: EncryptionKey, auditDir: string, source: string, refusedSo: string | undefined): void {
  const wrapping = wrappingMasterIds(auditDir);
  const given = (key.masters ?? [key]).map((m) => m.id);
  if (wrapping.size === 0 || given.some((id) => wrapping.has(id))) return;
  const plural = wrapping.size > 1;
  throw new UsageError(
    `${source}: the key given (${given.join(", ")}) is not the trail's: the data keys in ${auditDir} are wrapped by master key${plural ? "s" : ""} ${[...wrapping].join(", ")}, and it opens none of them${refusedSo !== undefined ? `, so ${refusedSo}` : ""}. Give the key the trail was written with (a keyring: the current key first, the retired ones after); keys are matched by these ids.`,
    undefined,
    "AUDIT_ERR_KEY",
  );
}

/** The key as a keyring that also opens the per-subject data keys stored in `auditDir`. */
export function keyringFor(key: CliKey, auditDir: string): EncryptionKey {
  return openKeyring(key.key.masters ?? [key.key], auditDir);
}
