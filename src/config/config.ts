import { randomBytes } from "node:crypto";
import path from "node:path";
import { AuditConfigError, AuditKeyError } from "../errors.js";
import { toFieldIssues } from "../record/issues.js";
import { KEY_ENV, resolveKey, type EncryptionKey } from "../pipeline/keys.js";
import { auditOptionsSchema, parseSize, type AuditOptionsInput } from "./schema.js";
import type { AuditSink, Durability, RotationFrequency } from "../types.js";

const kKey = Symbol.for("audit-logger.config.key");

function defaultSessionId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}_${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `session_${stamp}_${randomBytes(3).toString("hex")}`;
}

/**
 * Validated, frozen configuration. Construct once; every field is read-only.
 *
 * @example
 * const config = new AuditConfig({ sessionId: "support_bot", projectPath: "/srv/app", encryptSensitiveContent: true });
 * config.auditDir; // "/srv/app/audit_logs"
 */
export class AuditConfig {
  readonly sessionId: string;
  readonly projectPath: string;
  readonly auditDir: string;
  readonly fullContentLogging: boolean;
  readonly encryptSensitiveContent: boolean;
  readonly maxLogAgeDays: number;
  readonly storeContentHashes: boolean;
  readonly customMetadata: Readonly<Record<string, unknown>>;
  readonly durability: Durability;
  readonly rotation: Readonly<{ sizeBytes?: number; frequency?: RotationFrequency }>;
  readonly contentPreviewChars: number;
  readonly autoCleanup: boolean;
  readonly storeToolPayloads: boolean;
  readonly maxValueChars: number;
  readonly flushIntervalMs: number;
  /** cleanup never removes a session younger than this, whatever it is asked (compliance: 2555) */
  readonly minRetentionDays: number;
  /** extra destinations for every sealed record (e.g. PostgresSink) */
  readonly sinks: readonly AuditSink[];
  /** Key id of the encryption key in use (never the key itself). */
  readonly encryptionKeyId: string | undefined;
  declare private readonly [kKey]: EncryptionKey | undefined;

  constructor(options: AuditOptionsInput | AuditConfig = {}) {
    if (options instanceof AuditConfig) options = options.toOptions();
    const parsed = auditOptionsSchema.safeParse(options ?? {});
    if (!parsed.success) throw new AuditConfigError(toFieldIssues(parsed.error));
    const o = parsed.data;
    this.sessionId = o.sessionId ?? defaultSessionId();
    this.projectPath = path.resolve(o.projectPath ?? process.cwd());
    this.auditDir = path.join(this.projectPath, "audit_logs");
    this.fullContentLogging = o.fullContentLogging ?? true;
    this.encryptSensitiveContent = o.encryptSensitiveContent ?? false;
    this.maxLogAgeDays = o.maxLogAgeDays ?? 90;
    this.storeContentHashes = o.storeContentHashes ?? true;
    this.customMetadata = Object.freeze({ ...(o.customMetadata ?? {}) });
    this.durability = o.durability ?? "async";
    const sizeBytes = o.rotation?.size !== undefined ? parseSize(o.rotation.size) : 100 * 1024 * 1024;
    this.rotation = Object.freeze({
      ...(sizeBytes !== undefined ? { sizeBytes } : {}),
      ...(o.rotation?.frequency !== undefined ? { frequency: o.rotation.frequency } : {}),
    });
    this.contentPreviewChars = o.contentPreviewChars ?? 200;
    this.autoCleanup = o.autoCleanup ?? false;
    this.storeToolPayloads = o.storeToolPayloads ?? true;
    this.maxValueChars = o.maxValueChars ?? 65_536;
    this.flushIntervalMs = o.flushIntervalMs ?? 100;
    this.minRetentionDays = o.minRetentionDays ?? 0;
    this.sinks = Object.freeze([...(o.sinks ?? [])]);

    let key: EncryptionKey | undefined;
    if (this.encryptSensitiveContent) {
      key = resolveKey(o.encryptionKey);
      if (!key) {
        throw new AuditKeyError(
          `encryptSensitiveContent is on but no key was given. Pass encryptionKey (32 bytes, base64) or set ${KEY_ENV}; keep the key outside the audit directory. Generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`,
        );
      }
    } else if (o.encryptionKey !== undefined) {
      key = resolveKey(o.encryptionKey); // validate it, so a bad key is reported even when unused
    }
    this.encryptionKeyId = key?.id;
    Object.defineProperty(this, kKey, { value: key, enumerable: false });
    Object.freeze(this);
  }

  /** @internal The resolved key; not enumerable, not serialised. */
  static keyOf(config: AuditConfig): EncryptionKey | undefined {
    return config[kKey];
  }

  /** The options that rebuild this config (without the key). */
  toOptions(): AuditOptionsInput {
    return {
      sessionId: this.sessionId,
      projectPath: this.projectPath,
      fullContentLogging: this.fullContentLogging,
      encryptSensitiveContent: this.encryptSensitiveContent,
      ...(this[kKey] ? { encryptionKey: new Uint8Array(this[kKey].key) } : {}),
      maxLogAgeDays: this.maxLogAgeDays,
      storeContentHashes: this.storeContentHashes,
      customMetadata: { ...this.customMetadata },
      durability: this.durability,
      rotation: {
        ...(this.rotation.sizeBytes !== undefined ? { size: this.rotation.sizeBytes } : {}),
        ...(this.rotation.frequency !== undefined ? { frequency: this.rotation.frequency } : {}),
      },
      contentPreviewChars: this.contentPreviewChars,
      autoCleanup: this.autoCleanup,
      storeToolPayloads: this.storeToolPayloads,
      maxValueChars: this.maxValueChars,
      flushIntervalMs: this.flushIntervalMs,
      minRetentionDays: this.minRetentionDays,
      sinks: [...this.sinks],
    };
  }

  /** A JSON view without secrets (the key id only). */
  toJSON(): Record<string, unknown> {
    const { encryptionKey: _omit, sinks, ...rest } = this.toOptions();
    return { ...rest, sinks: (sinks ?? []).map((s) => s.constructor?.name ?? "sink"), auditDir: this.auditDir, encryptionKeyId: this.encryptionKeyId };
  }
}
