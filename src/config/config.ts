import { hkdfSync, randomBytes } from "node:crypto";
import path from "node:path";
import { inspect, types, type InspectOptions } from "node:util";
import { AuditConfigError, AuditKeyError, type FieldIssue } from "../errors.js";
import { toFieldIssues } from "../record/issues.js";
import { checkRedactOptions, type RedactOptions } from "../pipeline/redact.js";
import { KEY_ENV, resolveKey, type EncryptionKey } from "../pipeline/keys.js";
import { auditOptionsSchema, parseSize, type AuditOptionsInput } from "./schema.js";
import type { AuditSink, Durability, RotationFrequency } from "../types.js";
import type { Checkpoint } from "../integrity/checkpoint.js";
import { resolveSigningKey, SIGNING_KEY_ENV, SIGNING_KEY_FILE_ENV, type SigningKey } from "../integrity/signing.js";

const kKey = Symbol.for("audit-logger.config.key");
const kSigner = Symbol.for("audit-logger.config.signer");

function defaultSessionId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}_${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `session_${stamp}_${randomBytes(3).toString("hex")}`;
}

/** What the options argument was, for the message: "null", "a string", "an array", ... */
function describeArgument(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/**
 * What built-in object `o` is, when it is one that holds no options as properties (a Map's
 * entries, a Date, a Promise's value...), or undefined: a plain object, and an instance of the
 * app's own class (its properties, own or getters of its class, are the options: see
 * plainOptions). Found 2026-12-05: `new AuditLogger(new Map([["projectPath", p]]))` was read as
 * `{}` (no own property is an option), and logged under the working directory without a word.
 */
function builtinObject(o: object): string | undefined {
  if (types.isMap(o) || types.isWeakMap(o)) return "a Map";
  if (types.isSet(o) || types.isWeakSet(o)) return "a Set";
  if (types.isDate(o)) return "a Date";
  if (types.isRegExp(o)) return "a RegExp";
  if (types.isPromise(o)) return "a Promise";
  if (types.isNativeError(o) || o instanceof Error) return "an Error";
  if (types.isBoxedPrimitive(o)) return `a ${Object.prototype.toString.call(o).slice(8, -1)} object`;
  if (types.isAnyArrayBuffer(o) || ArrayBuffer.isView(o)) return "binary data (an ArrayBuffer, a Buffer or a typed array)";
  if (o instanceof URL) return "a URL";
  // (any other instance of a class of the platform's own, such as an Intl formatter; not a plain
  // object of another realm, a vm context's or a test runner's sandbox's, whose prototype is that
  // realm's Object.prototype: the end of every chain, with no prototype of its own)
  for (let p = Object.getPrototypeOf(o) as object | null; p !== null && p !== Object.prototype && Object.getPrototypeOf(p) !== null; p = Object.getPrototypeOf(p) as object | null) {
    const ctor = Object.getOwnPropertyDescriptor(p, "constructor")?.value as unknown;
    if (typeof ctor === "function" && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(ctor))) return `a ${ctor.name || "built-in"} object`;
  }
  return undefined;
}

/**
 * The options an instance of the app's own class holds, as a plain object: its own enumerable
 * properties (a misspelt one is still an unknown option), and each documented option its class
 * has as a getter. Read by the options' names only by the schema, a getter's option was lost
 * where the options are rewritten (the `redact: true` shorthand spread them: found 2026-12-05,
 * the logs went to the working directory). A plain object is returned as it is.
 */
export function plainOptions(options: AuditOptionsInput): AuditOptionsInput {
  const proto = Object.getPrototypeOf(options) as object | null;
  if (proto === null || proto === Object.prototype) return options;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(options)) out[k] = (options as Record<string, unknown>)[k];
  for (const k of Object.keys(auditOptionsSchema.shape)) if (!(k in out) && k in options) out[k] = (options as Record<string, unknown>)[k];
  return out as AuditOptionsInput;
}

/**
 * Refuses options that are not an options object: `null` was read as `{}` (by `options ?? {}`),
 * so `new AuditLogger(null)` (an options variable never set) wrote its logs under the working
 * directory without a word (found by review, 2026-12-05); a string or a number said only
 * "(input): expected object". No options at all (`undefined`) is the documented default, as `{}`.
 * @internal
 */
export function checkOptionsArgument(options: unknown, argument: string, field = "options"): void {
  if (options === undefined || options instanceof AuditConfig) return;
  // (a preset's overrides: the session and the directory are its other arguments)
  const example = field === "overrides" ? "{ maxLogAgeDays: 7 }" : '{ projectPath: "/srv/app" }';
  if (options !== null && typeof options === "object" && !Array.isArray(options)) {
    const builtin = builtinObject(options);
    if (builtin === undefined) return;
    const fix = builtin === "a Map" ? "pass Object.fromEntries(map)" : builtin === "a Promise" ? "await it first, and pass the options object it gives" : `pass a plain object such as ${example}`;
    const lost = field === "overrides" ? "its settings ignored" : "its settings ignored, the logs under the working directory";
    throw new AuditConfigError([
      {
        field,
        message: `${argument} must be a plain options object (or an instance of a class of yours, read by its properties); got ${builtin}, whose contents are not options (it was read as {}: ${lost}): ${fix}`,
      },
    ]);
  }
  const usage = field === "overrides" ? `${example}, or left out` : `${example} (logs go to <projectPath>/audit_logs), or left out for the defaults (logs under the working directory)`;
  throw new AuditConfigError([{ field, message: `${argument} must be an options object such as ${usage}; got ${describeArgument(options)}` }]);
}

/** What keeps a configuration from running with `thread: true`: its parts must be copyable to a worker. */
/** `redact` as the options object: `true` is `{}` (every built-in detector), a list of rule names or `"all"` is `{ rules }`. */
function withRedactShorthand(options: AuditOptionsInput): AuditOptionsInput {
  if (options === null || typeof options !== "object" || !("redact" in options)) return options;
  const r = (options as { redact?: unknown }).redact;
  if (r === true) return { ...options, redact: {} };
  if (r === "all" || Array.isArray(r)) return { ...options, redact: { rules: r as RedactOptions["rules"] } };
  return options;
}

function threadIssues(durability: Durability, sinks: readonly AuditSink[], redact: Readonly<RedactOptions> | false, customMetadata: Readonly<Record<string, unknown>>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (durability !== "async") issues.push({ field: "thread", message: `needs durability "async" (got "${durability}"): \`sync\` and \`fsync\` write each record before the call returns, on the app's thread` });
  if (sinks.length > 0) issues.push({ field: "sinks", message: "cannot be used with thread: true yet (a sink runs on the app's thread); use thread: false with sinks" });
  for (const [field, value] of [["redact", redact], ["customMetadata", customMetadata]] as const) {
    try {
      structuredClone(value);
    } catch {
      issues.push({ field, message: "must be plain data (no functions, e.g. a pattern's `validate`) with thread: true, which copies it to the worker thread" });
    }
  }
  return issues;
}

/**
 * Validated, frozen configuration. Construct once; every field is read-only.
 *
 * @example
 * const config = new AuditConfig({ sessionId: "support_bot", projectPath: "/srv/app", encryptSensitiveContent: true });
 * config.auditDir; // "/srv/app/audit_logs"
 */
let keyUnusedWarned = false;

/** Warns once per process that an `encryptionKey` was given with `encryptSensitiveContent` off. */
function warnKeyUnused(): void {
  if (keyUnusedWarned) return;
  keyUnusedWarned = true;
  process.emitWarning(
    "audit-logger: encryptionKey was given but encryptSensitiveContent is false, so prompts, responses and tool data are written in plaintext. Set encryptSensitiveContent: true (as PresetConfigs.production does) to encrypt them, or leave the key out.",
    { code: "AUDIT_WARN_KEY_UNUSED", type: "AuditLoggerWarning" },
  );
}

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
  /**
   * `async` mode only: records are made and written by a worker thread that owns the session's
   * files; the app's thread validates each input and queues it (see docs/DURABILITY.md).
   */
  readonly thread: boolean;
  /** `size` (and `sizeBytes`, the same) in bytes: `"64k"` reads back as 65536 */
  readonly rotation: Readonly<{ size?: number; sizeBytes?: number; frequency?: RotationFrequency }>;
  readonly contentPreviewChars: number;
  readonly autoCleanup: boolean;
  readonly storeToolPayloads: boolean;
  readonly maxValueChars: number;
  readonly flushIntervalMs: number;
  /** how long flush() and finalizeSession() wait for each sink's flush() or close() before going on without it */
  readonly sinkTimeoutMs: number;
  /** cleanup never removes a session younger than this, whatever it is asked (compliance: 2555) */
  readonly minRetentionDays: number;
  /** signed checkpoints: every `records` records or `seconds` seconds (and at rotation and finalize) */
  readonly checkpointEvery: Readonly<{ records: number; seconds: number }>;
  /** called with every checkpoint written, e.g. to store it elsewhere (a witness, WORM storage) */
  readonly onCheckpoint: ((checkpoint: Checkpoint) => void) | undefined;
  /** key id of the Ed25519 signing key, when checkpoints are signed */
  readonly signingKeyId: string | undefined;
  /** construction fails without a signing key (the compliance preset) */
  readonly requireSigning: boolean;
  /** redaction applied before anything is written (and before encryption), or false */
  readonly redact: Readonly<RedactOptions> | false;
  /** extra destinations for every sealed record (e.g. PostgresSink) */
  readonly sinks: readonly AuditSink[];
  /** Key id of the encryption key in use (never the key itself). */
  readonly encryptionKeyId: string | undefined;
  declare private readonly [kKey]: EncryptionKey | undefined;

  constructor(options: AuditOptionsInput | AuditConfig = {}) {
    checkOptionsArgument(options, "new AuditConfig(options)");
    if (options instanceof AuditConfig) options = options.toOptions();
    else if (options !== undefined) options = plainOptions(options);
    options = withRedactShorthand(options);
    const parsed = auditOptionsSchema.safeParse(options ?? {});
    const givenRedact = options && typeof options === "object" && "redact" in options ? (options.redact as RedactOptions | false | undefined) : undefined;
    // an hmac redaction key may be left out: it is then derived from the encryption key (below)
    // (only options objects: anything else is the schema's to report, once)
    const redactIssues =
      typeof givenRedact === "object" && givenRedact !== null && !Array.isArray(givenRedact)
      ? checkRedactOptions(givenRedact.replacement === "hmac" && givenRedact.hmacKey === undefined ? { ...givenRedact, hmacKey: new Uint8Array(16) } : givenRedact)
      : [];
    if (!parsed.success || redactIssues.length > 0) {
      throw new AuditConfigError([...(parsed.success ? [] : toFieldIssues(parsed.error, "", auditOptionsSchema).filter((i) => !i.field.startsWith("redact."))), ...redactIssues]);
    }
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
    this.thread = o.thread ?? false;
    const sizeBytes = o.rotation?.size !== undefined ? parseSize(o.rotation.size) : 100 * 1024 * 1024;
    this.rotation = Object.freeze({
      // (also under the option's name: config.rotation.size was undefined; API.md audit, 2026-12-05)
      ...(sizeBytes !== undefined ? { size: sizeBytes, sizeBytes } : {}),
      ...(o.rotation?.frequency !== undefined ? { frequency: o.rotation.frequency } : {}),
    });
    this.contentPreviewChars = o.contentPreviewChars ?? 200;
    this.autoCleanup = o.autoCleanup ?? false;
    this.storeToolPayloads = o.storeToolPayloads ?? true;
    this.maxValueChars = o.maxValueChars ?? 65_536;
    this.flushIntervalMs = o.flushIntervalMs ?? 100;
    this.sinkTimeoutMs = o.sinkTimeoutMs ?? 30_000;
    this.minRetentionDays = o.minRetentionDays ?? 0;
    this.sinks = Object.freeze([...(o.sinks ?? [])]);
    // (shorthands were expanded by withRedactShorthand)
    this.redact = o.redact ? Object.freeze({ ...(o.redact as RedactOptions) }) : false;
    this.checkpointEvery = Object.freeze({ records: o.checkpointEvery?.records ?? 1000, seconds: o.checkpointEvery?.seconds ?? 60 });
    this.onCheckpoint = o.onCheckpoint;
    if (this.thread) {
      const issues = threadIssues(this.durability, this.sinks, this.redact, this.customMetadata);
      if (issues.length > 0) throw new AuditConfigError(issues);
    }

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
    const givenOptions = this.redact;
    // A key given and left unused wrote a plaintext trail without a word (found by a new-user run,
    // 2026-12-05). Not an error: the key may be there to derive an hmac redaction key, and
    // encryption stays opt-in as documented; a warning once per process.
    if (!this.encryptSensitiveContent && o.encryptionKey !== undefined && !(givenOptions && givenOptions.replacement === "hmac" && givenOptions.hmacKey === undefined)) warnKeyUnused();
    if (givenOptions && givenOptions.replacement === "hmac" && givenOptions.hmacKey === undefined) {
      if (!key) {
        throw new AuditConfigError([{ field: "redact.hmacKey", message: 'is required when replacement is "hmac" and there is no encryption key to derive it from' }]);
      }
      const hmacKey = new Uint8Array(hkdfSync("sha256", key.key, Buffer.alloc(0), "audit-logger/redaction-hmac/v1", 32));
      (this as { redact: Readonly<RedactOptions> | false }).redact = Object.freeze({ ...givenOptions, hmacKey });
    }
    const signer = resolveSigningKey(o.signingKey, this.auditDir);
    if (!signer && o.requireSigning) {
      throw new AuditKeyError(
        `This configuration requires signed checkpoints but no signing key was given. Pass signingKey (an Ed25519 private key, PEM or KeyObject), or set ${SIGNING_KEY_ENV} (PEM) or ${SIGNING_KEY_FILE_ENV} (a path outside the audit directory). Generate one with: openssl genpkey -algorithm ed25519 -out signing.pem`,
      );
    }
    this.signingKeyId = signer?.keyId;
    this.requireSigning = o.requireSigning ?? false;
    Object.defineProperty(this, kSigner, { value: signer, enumerable: false });
    Object.defineProperty(this, kKey, { value: key, enumerable: false });
    Object.freeze(this);
  }

  /** @internal The signing key; not enumerable, not serialised. */
  static signerOf(config: AuditConfig): SigningKey | undefined {
    return (config as unknown as Record<symbol, SigningKey | undefined>)[kSigner];
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
      ...(this[kKey] ? { encryptionKey: (this[kKey].masters ?? [this[kKey]]).map((m) => new Uint8Array(m.key)) } : {}),
      maxLogAgeDays: this.maxLogAgeDays,
      storeContentHashes: this.storeContentHashes,
      customMetadata: { ...this.customMetadata },
      durability: this.durability,
      ...(this.thread ? { thread: true } : {}),
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
      sinkTimeoutMs: this.sinkTimeoutMs,
      redact: this.redact === false ? false : { ...this.redact },
      ...(AuditConfig.signerOf(this) ? { signingKey: AuditConfig.signerOf(this)!.privateKey } : {}),
      ...(this.requireSigning ? { requireSigning: true } : {}),
      checkpointEvery: { ...this.checkpointEvery },
      ...(this.onCheckpoint ? { onCheckpoint: this.onCheckpoint } : {}),
    };
  }

  /**
   * What `console.log(config)` and `util.inspect` show: the JSON view, without secrets. Shown as
   * it is, the redaction options printed an `hmac` replacement's key (`hmacKey: <Buffer …>`),
   * with which the redacted values can be recovered by guessing (found by a new-user run, 2026-12-05).
   */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `AuditConfig ${inspect(this.toJSON(), { ...options, customInspect: true })}`;
  }

  /**
   * A JSON view without secrets: every option (keys by their id only, `onCheckpoint` by its
   * function's name or null). Until 2026-12-06 `thread` (when off) and `requireSigning` were left
   * out (found by a new-user run).
   */
  toJSON(): Record<string, unknown> {
    const { encryptionKey: _omit, signingKey: _omitSigner, onCheckpoint: _omitCb, sinks, redact: _omitRedact, ...rest } = this.toOptions();
    const redact = this.redact;
    return {
      ...rest,
      thread: this.thread,
      requireSigning: this.requireSigning,
      onCheckpoint: this.onCheckpoint ? this.onCheckpoint.name || "function" : null,
      redact: redact ? { rules: redact.rules ?? "all", replacement: redact.replacement ?? "placeholder", patterns: (redact.patterns ?? []).map((p) => p.name), paths: redact.paths ?? [] } : false, signingKeyId: this.signingKeyId, sinks: (sinks ?? []).map((s) => (typeof s.description === "string" ? s.description : (s.constructor?.name ?? "sink"))), auditDir: this.auditDir, encryptionKeyId: this.encryptionKeyId };
  }
}
