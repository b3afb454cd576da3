import { z } from "zod";
import { KeyObject } from "node:crypto";
import type { AuditSink } from "../types.js";
import type { Checkpoint } from "../integrity/checkpoint.js";
import type { RedactOptions } from "../pipeline/redact.js";

/** 1–128 characters of `[A-Za-z0-9._-]`, and not `.` or `..`: safe to put in a file name. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

export const sessionIdSchema = z
  .string()
  .regex(SESSION_ID_PATTERN, "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-' (no '/' or spaces)")
  .refine((s) => s !== "." && s !== "..", "must not be '.' or '..'")
  .refine((s) => !/\.\d+$/.test(s), "must not end in '.<digits>': that suffix names rotated segments (tool_usage_<id>.1.jsonl)")
  // (a legal hold's scope is a sessionId or "all": a session named "all" that released its own
  // hold released every directory-wide hold; found by review, 2026-12-04)
  .refine((s) => s !== "all" && s !== "session", "must not be 'all' or 'session': those name legal hold scopes (every session, this session)");

/**
 * A retention in days: the config's `maxLogAgeDays`, and `cleanup({ maxLogAgeDays })`, which took
 * anything (NaN, from `Number()` of an unset environment variable, removed every session; found by
 * review, 2026-12-05). `audit-logger cleanup --max-age-days` takes the same: a whole number, at least 1.
 */
export const maxLogAgeDaysSchema = z
  .number({ error: (iss) => `must be a whole number of days, at least 1 (got ${Number.isNaN(iss.input) ? "NaN: Number() of a missing or non-numeric value?" : typeof iss.input === "number" ? String(iss.input) : typeof iss.input})` })
  .int("must be a whole number of days")
  .positive("must be at least 1");

/** The first member of `v` that JSON cannot carry as it is (a BigInt, a function, a symbol, a cycle, a non-finite number), with its path. */
function notJson(v: unknown, at: Array<string | number>, seen: Set<object> = new Set()): { path: Array<string | number>; what: string } | undefined {
  if (v === null || typeof v === "string" || typeof v === "boolean") return undefined;
  if (typeof v === "number") return Number.isFinite(v) ? undefined : { path: at, what: `${v} is not a JSON number` };
  if (typeof v !== "object") return { path: at, what: `a ${typeof v} is not JSON` };
  if (seen.has(v)) return { path: at, what: "it refers back to itself (a cycle)" };
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const bad = notJson(v[i], [...at, i], seen);
        if (bad) return bad;
      }
      return undefined;
    }
    if (typeof (v as { toJSON?: unknown }).toJSON === "function") return undefined; // a Date
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return { path: at, what: `a ${(v as { constructor?: { name?: string } }).constructor?.name ?? "class"} instance is not a plain object` };
    for (const [k, x] of Object.entries(v)) {
      const bad = notJson(x, [...at, k], seen);
      if (bad) return bad;
    }
    return undefined;
  } finally {
    seen.delete(v);
  }
}

const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i;
/** a size string without its unit: "100" (see parseSize) */
const UNITLESS_SIZE = /^\d+(?:\.\d+)?$/;

/**
 * A rotation size in bytes: a number is a byte count (as `config.rotation.size` reads back, so a
 * config's own value can be given again); a string is pino-roll's `"64k"`, `"10m"`, `"1g"` or
 * `"100b"`. A string without its unit is refused: pino-roll reads `"100"` (and a bare number) as
 * megabytes, a number here is bytes, and either reading would be wrong for half the callers (it
 * was taken as bytes: pino-roll's `"100"` for 100 MB made a segment file per record).
 */
export function parseSize(value: number | string): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? Math.floor(value) : undefined;
  const m = UNITLESS_SIZE.test(value.trim()) ? null : SIZE_PATTERN.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? "").toLowerCase();
  const mult = unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1;
  const bytes = Math.floor(n * mult);
  return bytes > 0 ? bytes : undefined;
}

const rotationSchema = z.strictObject({
  size: z
    .union([z.number(), z.string()])
    .optional()
    .refine((v) => typeof v !== "string" || !UNITLESS_SIZE.test(v.trim()), {
      message: 'a size string needs its unit: "100m" for 100 MiB, "64k", "1g", or "100b" for bytes (pino-roll reads a bare "100" as megabytes; a number is bytes here)',
      abort: true,
    })
    .refine((v) => v === undefined || parseSize(v) !== undefined, "must be a positive byte count or a size like '64k', '10m', '1g'"),
  frequency: z
    .union([z.literal("hourly"), z.literal("daily"), z.number().int().min(1000, "a number of milliseconds, at least 1000")], {
      error: 'must be "hourly", "daily" or a number of milliseconds (at least 1000)',
    })
    .optional(),
});

const keyInput = z.union([z.string(), z.instanceof(Uint8Array)]);

/** The options `AuditConfig` accepts. Every field is optional; defaults are filled in. */
export const auditOptionsSchema = z.strictObject({
  sessionId: sessionIdSchema.optional(),
  projectPath: z.string().min(1, "must be a non-empty path").optional(),
  fullContentLogging: z.boolean().optional(),
  encryptSensitiveContent: z.boolean().optional(),
  encryptionKey: z
    .union([keyInput, z.array(keyInput).min(1, "give at least one key, the current one first")], {
      error: "must be a 32-byte key (a base64 or 64-hex-character string, or a Uint8Array), or a list of them with the current one first",
    })
    .optional(),
  maxLogAgeDays: maxLogAgeDaysSchema.optional(),
  storeContentHashes: z.boolean().optional(),
  // written into the session file as JSON: a BigInt or a cycle passed validation and threw a bare
  // TypeError from the constructor, and a function was dropped (found by review, 2026-12-04)
  customMetadata: z
    .record(z.string(), z.unknown())
    .superRefine((v, ctx) => {
      const bad = notJson(v, []);
      if (bad) ctx.addIssue({ code: "custom", path: bad.path, message: `must be JSON data (strings, numbers, booleans, null, arrays, plain objects): ${bad.what}` });
    })
    .optional(),
  durability: z.enum(["async", "sync", "fsync"]).optional(),
  thread: z.boolean().optional(),
  rotation: rotationSchema.optional(),
  contentPreviewChars: z.number().int().min(0).max(1_000_000).optional(),
  autoCleanup: z.boolean().optional(),
  storeToolPayloads: z.boolean().optional(),
  maxValueChars: z.number().int().min(16).max(100_000_000).optional(),
  flushIntervalMs: z.number().int().min(1).max(60_000).optional(),
  minRetentionDays: z.number().int().min(0).optional(),
  signingKey: z
    .union([z.string().min(1), z.custom<KeyObject>((v) => v instanceof KeyObject, "must be a PEM string or a crypto KeyObject")], {
      error: "must be an Ed25519 private key: a PEM string or a crypto KeyObject",
    })
    .optional(),
  requireSigning: z.boolean().optional(),
  checkpointEvery: z
    .strictObject({
      records: z.number().int().min(1).optional(),
      // (a timer's limit: past 2^31-1 ms Node fires it every millisecond, a checkpoint after
      // nearly every record; found by review, 2026-12-04)
      seconds: z.number().min(0.01).max(2_147_483, "must be at most 2147483 (about 24.8 days, the longest timer Node keeps)").optional(),
    })
    .optional(),
  // (API.md: "rules, or false": a list of rule names or "all", or true, stand for { rules } and
  // {}; only the options object was taken; found by review, 2026-12-04)
  redact: z
    .union([
      z.literal(false),
      z.literal(true),
      z.literal("all"),
      z.array(z.string()),
      z.custom<RedactOptions>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "must be false, true, a list of rule names, or redaction options { rules?, patterns?, paths?, replacement? }"),
    ], { error: 'must be false, true, "all", a list of rule names, or redaction options { rules?, patterns?, paths?, replacement? }' })
    .optional(),
  onCheckpoint: z.custom<(checkpoint: Checkpoint) => void>((v) => typeof v === "function", "must be a function").optional(),
  sinks: z
    .array(
      z.custom<AuditSink>(
        (v) => typeof v === "object" && v !== null && typeof (v as AuditSink).write === "function" && typeof (v as AuditSink).flush === "function" && typeof (v as AuditSink).close === "function",
        "each sink must have write(), flush() and close() (e.g. new PostgresSink(...))",
      ),
    )
    .optional(),
  sinkTimeoutMs: z.number().int().min(1).max(600_000).optional(),
});

export type AuditOptionsInput = z.input<typeof auditOptionsSchema>;
