/**
 * Redaction: the step before encryption that keeps secrets and personal data off the disk.
 *
 * Text is scanned by the built-in detectors (./redact-detectors.ts) and user patterns, in order;
 * each rule claims the spans it matches and a later rule never touches a claimed span, so nothing
 * is redacted twice and the output (placeholders) is never rescanned. Structured values are
 * copied deeply: strings are redacted as text, and values under configured key paths are replaced
 * whole. Inputs are never mutated.
 */
import { createHmac } from "node:crypto";
import { inspect, type InspectOptions } from "node:util";
import { z } from "zod";
import { AuditConfigError, type FieldIssue } from "../errors.js";
import { toFieldIssues } from "../record/issues.js";
import { unreadableReason } from "../record/serialize.js";
import { matchingJsonSpans } from "./json-paths.js";
import { BUILTIN_DETECTORS, BUILTIN_RULE_NAMES, TextProbe, isSecretMember, type BuiltinRuleName, type Detector } from "./redact-detectors.js";

export { BUILTIN_RULE_NAMES, type BuiltinRuleName } from "./redact-detectors.js";

/**
 * A named pattern, as accepted in {@link RedactOptions.patterns}. `validate` (optional) gets each
 * match, or only its `(?<secret>...)` group when the pattern has one (then only that group is
 * replaced), and returns false to leave it alone; a validator that throws counts as a match.
 *
 * @example
 * const rule: RedactRule = { name: "ticket", pattern: /\bTCK-\d{6}\b/, validate: (m) => m !== "TCK-000000" };
 * new Redactor({ patterns: [rule] });
 */
export interface RedactRule {
  name: string;
  pattern: RegExp;
  validate?: (match: string) => boolean;
}

/**
 * What to redact and how.
 *
 * @example
 * new Redactor({
 *   rules: "all",                                             // or ["email", "openai", ...]
 *   patterns: [{ name: "employee_id", pattern: "\\bEMP-\\d{5}\\b" }],
 *   paths: ["parameters.apiKey", "headers.authorization", "*.password"],
 *   replacement: "hmac", hmacKey,                              // "[REDACTED:email:3f9a0c1b2d4e]"
 * });
 */
export interface RedactOptions {
  /** built-in detectors to run (default "all"); see {@link BUILTIN_RULE_NAMES} */
  rules?: readonly BuiltinRuleName[] | readonly string[] | "all" | undefined;
  /** user patterns, run after the built-ins; `name` appears in placeholders and counts */
  patterns?: (ReadonlyArray<{ name: string; pattern: RegExp | string; flags?: string; validate?: (match: string) => boolean }>) | undefined;
  /**
   * Key paths whose values are replaced whole, matched case-insensitively against the end of the
   * path ("headers.authorization" also matches "request.headers.authorization"); `*` is any one
   * key, a leading `*.` adds nothing ("*.password" = "password": that key at any depth); array
   * indices are not part of a path.
   */
  paths?: readonly string[] | undefined;
  /** "placeholder" (default): `[REDACTED:<rule>]`; "hmac": `[REDACTED:<rule>:<12 hex>]` */
  replacement?: "placeholder" | "hmac" | undefined;
  /** key for "hmac" tokens, at least 16 bytes (required for "hmac") */
  hmacKey?: Uint8Array | undefined;
}

/**
 * How often each rule fired, by rule name ("path" for key-path redaction). The redactor adds to
 * it, so one object can collect the counts of every field of a record.
 *
 * @example
 * const counts: RedactionCounts = {};
 * redactor.redactText("mail bob@example.com", counts); // counts = { email: 1 }
 */
export interface RedactionCounts {
  [ruleName: string]: number;
}

/**
 * The rule name under which key-path redactions are counted and shown.
 *
 * @example
 * redactor.redactValue({ apiKey: "k" }, counts, "parameters"); // "[REDACTED:path]", counts[PATH_RULE] === 1
 */
export const PATH_RULE = "path";

const RULE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const PATH_PATTERN = /^[^.\s]+(?:\.[^.\s]+)*$/;
const MAX_DEPTH = 64;

const FLAGS = /^[gimsuyvd]*$/;

/** The rule under which a secret-named member's value is counted and shown (Redactor.secretMember). */
const SECRET_MEMBER_RULE = "credential";

// Shapes only; the checks that need several fields, or that zod would skip once a shape fails,
// are in checkRedactOptions so one error lists every bad field.
const shapeSchema = z.strictObject({
  rules: z.unknown().optional(),
  patterns: z
    .array(
      z.strictObject({
        name: z.string().regex(RULE_NAME, "must start with a letter and use only letters, digits, '_', '.' or '-' (at most 64)"),
        pattern: z.union([z.instanceof(RegExp), z.string().min(1)], { message: "must be a RegExp or a non-empty regular expression string" }),
        flags: z.string().regex(FLAGS, "only the flags g, i, m, s, u, v, y, d are valid").optional(),
        validate: z.custom<(match: string) => boolean>((v) => typeof v === "function", "must be a function (match) => boolean").optional(),
      }),
    )
    .optional(),
  paths: z.array(z.string().regex(PATH_PATTERN, 'must be dot-separated keys, e.g. "parameters.apiKey" or "*.password"')).optional(),
  replacement: z.enum(["placeholder", "hmac"]).optional(),
  hmacKey: z.instanceof(Uint8Array, { message: "must be a Uint8Array (or Buffer) of at least 16 bytes" }).refine((k) => k.length >= 16, "must be at least 16 bytes").optional(),
});

/**
 * Every problem with a set of redaction options, as `{ field, message }` with `field` under
 * `prefix` ("redact.patterns.0.pattern"); empty when the options are valid. `new Redactor()`
 * throws these as one AuditConfigError; a configuration loader can merge them with its own.
 *
 * @example
 * checkRedactOptions({ replacement: "hmac" }) // [{ field: "redact.hmacKey", message: "is required when ..." }]
 */
export function checkRedactOptions(options: unknown, prefix = "redact"): FieldIssue[] {
  const field = (...parts: Array<string | number>): string => [prefix, ...parts].filter((p) => p !== "").join(".");
  const parsed = shapeSchema.safeParse(options);
  const issues = parsed.success ? [] : toFieldIssues(parsed.error, prefix, shapeSchema);
  if (typeof options !== "object" || options === null) return issues;
  const o = options as Record<string, unknown>;

  if (Array.isArray(o.rules)) {
    o.rules.forEach((r: unknown, i) => {
      if (typeof r !== "string" || !(BUILTIN_RULE_NAMES as readonly string[]).includes(r)) {
        issues.push({ field: field("rules", i), message: `${JSON.stringify(r)} is not a built-in rule; use one of ${BUILTIN_RULE_NAMES.join(", ")}` });
      }
    });
  } else if (o.rules !== undefined && o.rules !== "all") {
    issues.push({ field: field("rules"), message: 'must be "all" or a list of built-in rule names' });
  }

  if (o.replacement === "hmac" && o.hmacKey === undefined) {
    issues.push({ field: field("hmacKey"), message: 'is required when replacement is "hmac" (at least 16 bytes, e.g. derived from the encryption key)' });
  }

  if (Array.isArray(o.patterns)) {
    const seen = new Set<string>();
    o.patterns.forEach((p: unknown, i) => {
      if (typeof p !== "object" || p === null) return;
      const { name, pattern, flags } = p as Record<string, unknown>;
      if (typeof name === "string" && RULE_NAME.test(name)) {
        const lower = name.toLowerCase();
        if ((BUILTIN_RULE_NAMES as readonly string[]).includes(lower) || lower === PATH_RULE) {
          issues.push({ field: field("patterns", i, "name"), message: `"${name}" is a built-in rule name; choose another` });
        } else if (seen.has(lower)) {
          issues.push({ field: field("patterns", i, "name"), message: `"${name}" is already used by another pattern` });
        }
        seen.add(lower);
      }
      const patternOk = pattern instanceof RegExp || (typeof pattern === "string" && pattern.length > 0);
      const flagsOk = flags === undefined || (typeof flags === "string" && FLAGS.test(flags));
      if (patternOk && flagsOk) {
        const problem = compileProblem(pattern, flags);
        if (problem) issues.push({ field: field("patterns", i, problem.field), message: problem.message });
      }
    });
  }
  return issues;
}

function runFlags(flags: string, secretGroup: boolean): string {
  let f = flags.replace(/[gyd]/g, "") + "g";
  if (secretGroup) f += "d";
  return f;
}

function compileProblem(pattern: RegExp | string, flags: string | undefined): { field: "pattern" | "flags"; message: string } | undefined {
  const source = typeof pattern === "string" ? pattern : pattern.source;
  try {
    new RegExp(source, runFlags(flags ?? (typeof pattern === "string" ? "" : pattern.flags), false));
    return undefined;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    try {
      new RegExp(source);
    } catch {
      return { field: "pattern", message: `is not a valid regular expression (${message})` };
    }
    return { field: "flags", message: `are not valid for this pattern (${message})` };
  }
}

function userDetector(p: { name: string; pattern: RegExp | string; flags?: string | undefined; validate?: ((match: string) => boolean) | undefined }): Detector {
  const source = typeof p.pattern === "string" ? p.pattern : p.pattern.source;
  const secretGroup = source.includes("(?<secret>");
  const pattern = new RegExp(source, runFlags(p.flags ?? (typeof p.pattern === "string" ? "" : p.pattern.flags), secretGroup));
  const validate = p.validate;
  return {
    name: p.name,
    pattern,
    secretGroup,
    minLength: 1,
    ...(validate
      ? {
          accept: (candidate: string): number => {
            try {
              return validate(candidate) ? candidate.length : 0;
            } catch {
              return candidate.length; // a broken validator fails closed: the match is redacted
            }
          },
        }
      : {}),
  };
}

interface Span {
  start: number;
  end: number;
  detector: Detector;
}

/** The index of the first span ending after `start` in a list sorted by start (spans never overlap). */
function firstEndingAfter(spans: readonly Span[], start: number): number {
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (spans[mid]!.end <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Compiled key paths, indexed by their last key (lowercase; "*" for a wildcard last key). */
class PathMatcher {
  private readonly byLast = new Map<string, string[][]>();
  readonly empty: boolean;

  constructor(paths: readonly string[]) {
    for (const p of paths) {
      const segs = p.toLowerCase().split(".");
      while (segs.length > 1 && (segs[0] === "*" || segs[0] === "**")) segs.shift();
      if (segs[0] === "**") segs[0] = "*";
      const last = segs[segs.length - 1]!;
      const list = this.byLast.get(last) ?? [];
      list.push(segs);
      this.byLast.set(last, list);
    }
    this.empty = this.byLast.size === 0;
  }

  /** Whether the path (lowercase keys, root first) ends with one of the patterns. */
  matches(path: readonly string[]): boolean {
    if (this.empty || path.length === 0) return false;
    const last = path[path.length - 1]!;
    return this.anyEndsWith(this.byLast.get(last), path) || this.anyEndsWith(this.byLast.get("*"), path);
  }

  private anyEndsWith(patterns: readonly string[][] | undefined, path: readonly string[]): boolean {
    if (!patterns) return false;
    outer: for (const p of patterns) {
      if (p.length > path.length) continue;
      for (let i = 1; i <= p.length; i++) {
        const seg = p[p.length - i]!;
        if (seg !== "*" && seg !== path[path.length - i]) continue outer;
      }
      return true;
    }
    return false;
  }
}

/** A value the rules replaced whole: one placeholder (`[REDACTED:rule]`, `[REDACTED:rule:hmac]`). */
const WHOLE_PLACEHOLDER = /^\[REDACTED:[a-z_]+(?::[0-9a-f]{12})?\]$/;
/** An Authorization header's name (`Authorization`, `Proxy-Authorization`): its scheme is kept before the redacted credential. */
const AUTHORIZATION_NAME = /authori[sz]ation$/i;

/** Puts `counts` back to what they were (`before`, a copy taken earlier). */
function restoreCounts(counts: RedactionCounts, before: Readonly<RedactionCounts>): void {
  for (const rule of Object.keys(counts)) {
    if (before[rule] === undefined) delete counts[rule];
    else counts[rule] = before[rule]!;
  }
}

/** Whether a string starts (after JSON whitespace) like a JSON object or array. */
function looksLikeJson(text: string): boolean {
  let i = 0;
  while (i < text.length && isJsonSpace(text.charCodeAt(i))) i++;
  const c = text.charCodeAt(i);
  return c === 123 || c === 91;
}

/** JSON whitespace. */
function isJsonSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** Strings longer than this are not read as JSON (see walkString). */
const MAX_JSON_STRING = 1_048_576;

/** A header name as sent (HTTP token characters; an HTTP/2 pseudo-header starts with ":"). */
const HEADER_NAME = /^:?[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/** Header names common enough that a flat list holding one is taken for headers even without a "-" in any name. */
const COMMON_HEADERS = new Set(["authorization", "cookie", "host", "accept", "connection", "origin", "referer", "date", "server", "location", "vary", "etag", "range", "upgrade", "via", "pragma", "expect", "forwarded", "priority", "te", "trailer", "dnt", "age", "allow", "link"]);

/**
 * Whether an array is headers as a flat list, `[name, value, name, value]` (Node's
 * `req.rawHeaders`): an even number of strings, every other one (from the first) a header name,
 * one of them with a "-", a pseudo-header or a common header name, so a list of plain words
 * (`["a", "b", "c", "d"]`, `["password", "email"]`) is not one.
 */
function isFlatHeaderList(items: readonly unknown[]): boolean {
  if (items.length % 2 !== 0) return false;
  let headerLike = false;
  for (let i = 0; i < items.length; i += 2) {
    const name = items[i];
    if (typeof name !== "string" || typeof items[i + 1] !== "string" || !HEADER_NAME.test(name)) return false;
    headerLike ||= name.includes("-") || name.charCodeAt(0) === 58 || COMMON_HEADERS.has(name.toLowerCase());
  }
  return headerLike;
}

/**
 * Whether an array is a list of entries, `[[key, value], ...]` (`[...headers]`,
 * `Object.entries(o)`, `[...map]`): every item a two-item array whose first is a string.
 */
function isEntryList(items: readonly unknown[]): boolean {
  for (const item of items) {
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== "string") return false;
  }
  return true;
}

/** A Map key as text for path rules (a key with no string form, a null-prototype object, is "[object Object]" as the serialiser writes it). */
function keyText(k: unknown): string {
  try {
    return String(k);
  } catch {
    return "[object Object]";
  }
}

function setKey(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** A stable text of any value for the HMAC of a whole redacted value (keys sorted, cycles cut). */
function canonical(value: unknown, stack: object[] = []): string {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null) return String(value);
  if (stack.includes(value)) return "[Circular]";
  stack.push(value);
  try {
    if (Array.isArray(value)) return `[${value.map((v) => JSON.stringify(canonical(v, stack))).join(",")}]`;
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(canonical((value as Record<string, unknown>)[k], stack))}`).join(",")}}`;
  } catch {
    return "[Unreadable]";
  } finally {
    stack.pop();
  }
}

/**
 * Replaces secrets and personal data in text and structured values. Construct once (options are
 * validated and patterns compiled here), then call per record; not safe to re-enter from a
 * user `validate` callback.
 *
 * @example
 * const redactor = new Redactor({ paths: ["parameters.apiKey"] });
 * const counts: RedactionCounts = {};
 * redactor.redactText("call +1 415-555-2671 or mail bob@example.com", counts);
 * //   "call [REDACTED:phone] or mail [REDACTED:email]"   counts { phone: 1, email: 1 }
 * redactor.redactValue({ apiKey: "k-123", q: "bob@example.com" }, counts, "parameters");
 * //   { apiKey: "[REDACTED:path]", q: "[REDACTED:email]" }
 */
export class Redactor {
  private readonly detectors: readonly Detector[];
  private readonly paths: PathMatcher;
  private readonly hmacKey: Buffer | undefined;
  private readonly replacement: "placeholder" | "hmac";
  /** shorter texts cannot hold anything a rule matches ("a@b.co" is the shortest built-in hit) */
  private readonly minLength: number;
  /** whether the `credential` rule runs, which also takes a secret-named member's value whole (secretMember) */
  private readonly secretMembers: boolean;
  /** names of the rules this redactor runs, in order (built-ins first, then user patterns) */
  readonly ruleNames: readonly string[];

  constructor(options: RedactOptions = {}) {
    const issues = checkRedactOptions(options);
    if (issues.length > 0) throw new AuditConfigError(issues);
    const o = options;
    const wanted = o.rules === undefined || o.rules === "all" ? undefined : new Set<string>(o.rules);
    const builtins = BUILTIN_DETECTORS.filter((d) => wanted === undefined || wanted.has(d.name)).map(
      // own copies of the (stateful, global) regexes, so two redactors never share lastIndex
      (d): Detector => ({ ...d, pattern: new RegExp(d.pattern.source, d.pattern.flags) }),
    );
    this.detectors = Object.freeze([...builtins, ...(o.patterns ?? []).map(userDetector)]);
    // (a rule may run as several detectors: `credential`'s URL password and code before its label)
    this.ruleNames = Object.freeze([...new Set(this.detectors.map((d) => d.name))]);
    this.secretMembers = builtins.some((d) => d.name === SECRET_MEMBER_RULE);
    this.minLength = o.patterns?.length ? 1 : 6;
    this.paths = new PathMatcher(o.paths ?? []);
    this.hmacKey = o.replacement === "hmac" && o.hmacKey ? Buffer.from(o.hmacKey) : undefined;
    this.replacement = o.replacement === "hmac" ? "hmac" : "placeholder";
  }

  /**
   * What `util.inspect` and `JSON.stringify` show: its rules and replacement, never the hmac key
   * (found by a security pass, 2026-12-05: both printed the key's bytes, held in a field)
   */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `Redactor ${inspect(this.toJSON(), { ...options, customInspect: true })}`;
  }

  /** See `[inspect.custom]`. */
  toJSON(): { rules: readonly string[]; replacement: "placeholder" | "hmac" } {
    return { rules: this.ruleNames, replacement: this.replacement };
  }

  /**
   * The text with every detected value replaced; adds one to `counts[rule]` per replacement.
   *
   * @example
   * redactor.redactText("card 4111 1111 1111 1111", counts) // "card [REDACTED:credit_card]"
   */
  redactText(text: string, counts: RedactionCounts): string {
    if (text.length < this.minLength) return text;
    let probe: TextProbe | undefined;
    let spans: Span[] | undefined;
    for (const d of this.detectors) {
      if (text.length < d.minLength || (d.hint && !d.hint(text, (probe ??= new TextProbe(text))))) continue;
      const re = d.pattern;
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(text)) !== null) {
        const whole = m[0];
        if (whole.length === 0) {
          re.lastIndex++;
          continue;
        }
        let start = m.index;
        let candidate = whole;
        if (d.extendLeft) {
          start = d.extendLeft(text, m.index);
          if (start < 0) continue;
          candidate = text.slice(start, m.index + whole.length);
        } else if (d.secretStart) {
          // (where the detector tells the group's start itself: a pattern without the `d` flag,
          // which costs a scan several times over)
          const secret = m.groups?.["secret"];
          if (!secret) continue;
          start = d.secretStart(m);
          candidate = secret;
        } else if (d.secretGroup) {
          const at = m.indices?.groups?.["secret"];
          if (!at) continue;
          start = at[0];
          candidate = text.slice(at[0], at[1]);
          if (candidate.length === 0) continue;
        }
        const length = d.accept ? d.accept(candidate, whole, text, m.index) : candidate.length;
        if (length <= 0) continue;
        const end = start + length;
        spans ??= [];
        const i = firstEndingAfter(spans, start);
        if (i < spans.length && spans[i]!.start < end) continue; // claimed by an earlier rule
        spans.splice(i, 0, { start, end, detector: d });
        // (the rest of a list under the same label, each its own placeholder, up to one claimed)
        for (const [from, to] of d.following?.(text, start, end) ?? []) {
          const j = firstEndingAfter(spans, from);
          if (j < spans.length && spans[j]!.start < to) break;
          spans.splice(j, 0, { start: from, end: to, detector: d });
        }
      }
    }
    if (spans === undefined) return text;
    let out = "";
    let pos = 0;
    for (const s of spans) {
      const value = text.slice(s.start, s.end);
      out += text.slice(pos, s.start) + this.token(s.detector.name, s.detector.normalize ? s.detector.normalize(value) : value);
      counts[s.detector.name] = (counts[s.detector.name] ?? 0) + 1;
      pos = s.end;
    }
    return out + text.slice(pos);
  }

  /**
   * A redacted deep copy of `value`: strings (and object keys) redacted as text, values under the
   * configured key paths replaced whole, cycles as "[Circular]". `path` is where `value` sits in
   * the record ("parameters", "headers"), so key paths can name it.
   *
   * @example
   * redactor.redactValue({ headers: { Authorization: "Basic dXNlcjpwYXNz" } }, counts, "parameters")
   * // with paths ["headers.authorization"]: { headers: { Authorization: "[REDACTED:path]" } }
   */
  redactValue(value: unknown, counts: RedactionCounts, path?: string): unknown {
    const keys = path ? path.toLowerCase().split(".").filter((k) => k.length > 0) : [];
    return this.walk(value, counts, keys, [], 0);
  }

  /** (`entry`: `value` is an item of a list of entries, see walkObjectValue) */
  private walk(value: unknown, counts: RedactionCounts, path: string[], stack: object[], depth: number, entry = false): unknown {
    if (this.paths.matches(path)) {
      counts[PATH_RULE] = (counts[PATH_RULE] ?? 0) + 1;
      return this.token(PATH_RULE, canonical(value));
    }
    switch (typeof value) {
      case "string":
        return this.walkString(value, counts, path);
      case "number":
        // a card number stored as a number; shorter integers cannot be one
        return Number.isInteger(value) && Math.abs(value) >= 1e12 ? this.redactDigits(value, counts) : value;
      case "bigint":
        return this.redactDigits(value, counts);
      case "object":
        break;
      default:
        return value; // boolean, undefined, function, symbol: nothing to redact
    }
    if (value === null) return null;
    if (stack.includes(value)) return "[Circular]";
    if (depth >= MAX_DEPTH) return "[MaxDepth]";
    // (what the part walked before a failure counted is taken back with it: the counts are of
    // the placeholders written)
    const before = { ...counts };
    try {
      return this.walkObjectValue(value, counts, path, stack, depth, entry);
    } catch (err) {
      // an object whose very shape cannot be read (a revoked Proxy, a Proxy whose traps throw),
      // as the serialiser records it
      restoreCounts(counts, before);
      return `[Unreadable: ${this.redactText(unreadableReason(err), counts)}]`;
    }
  }

  /**
   * A string that holds a JSON object or array (a tool call's `arguments`, as the OpenAI API
   * sends them) is redacted as the data it holds, in its own text: the values a path rule names
   * (the string's path, then the keys inside) become the token as a JSON string; keys and string
   * values are redacted as text after decoding (escapes read, so a "\n" before an address is a
   * line break, not a letter), each re-encoded only when it changed (a string value holding JSON
   * in turn is redacted the same way); numbers as numbers are. Everything else in the text stays
   * as it is. Text that is not one JSON document (or is over 1 MiB, or nests deeper than 64
   * levels) is redacted as text.
   */
  private walkString(value: string, counts: RedactionCounts, path: readonly string[], depth = 0): string {
    if (looksLikeJson(value) && value.length <= MAX_JSON_STRING && depth < MAX_DEPTH) {
      const spans = matchingJsonSpans(value, path, (p) => this.paths.matches(p));
      if (spans !== undefined) {
        let out = "";
        let at = 0;
        for (const { start, end, kind, path: spanPath, text: spanText } of spans) {
          const raw = value.slice(start, end);
          let replacement: string | undefined;
          if (kind === "named") {
            counts[PATH_RULE] = (counts[PATH_RULE] ?? 0) + 1;
            replacement = JSON.stringify(this.token(PATH_RULE, canonical(JSON.parse(raw))));
          } else if (kind === "number") {
            const whole = spanText === undefined ? undefined : this.secretMember(spanText, Number(raw), counts, raw);
            if (whole !== undefined) replacement = JSON.stringify(whole);
            else if (/^-?\d{13,}$/.test(raw)) {
              const redacted = this.redactDigits(BigInt(raw), counts);
              if (typeof redacted === "string") replacement = JSON.stringify(redacted);
            }
          } else if (kind === "key") {
            const text = spanText!;
            const redacted = this.redactText(text, counts);
            if (redacted !== text) replacement = JSON.stringify(redacted);
          } else {
            const text = JSON.parse(raw) as string;
            // a value under a key (its `text`) is read with its key as label first (every text
            // rule runs on it then, also those that need no label), unless it holds JSON itself
            const member = spanText !== undefined && !looksLikeJson(text) ? this.memberText(spanText, text, counts) : undefined;
            const redacted = member ?? this.walkString(text, counts, spanPath ?? path, depth + 1);
            if (redacted !== text) replacement = JSON.stringify(redacted);
          }
          if (replacement === undefined) continue;
          out += value.slice(at, start) + replacement;
          at = end;
        }
        return at === 0 ? value : out + value.slice(at);
      }
    }
    return this.redactText(value, counts);
  }

  /**
   * A JSON member's string value redacted with its key before it, as the text `key: value`
   * reads (`"SecretAccessKey": "…"`, `"authorization": "Basic …"`: rules that know a secret by its
   * label); the value alone, or unchanged when that finds nothing in the value.
   */
  private redactLabelled(label: string, text: string, counts: RedactionCounts): string {
    const prefix = `${label}: `;
    const before = { ...counts };
    const redacted = this.redactText(prefix + text, counts);
    if (redacted !== prefix + text && redacted.startsWith(prefix)) return redacted.slice(prefix.length);
    // nothing found, or the label itself changed (its own redaction is the key's)
    restoreCounts(counts, before);
    return text;
  }

  /**
   * (Headers as arrays are read as members, each value with its name as key, as an object's are:
   * a flat `[name, value, ...]` list, see isFlatHeaderList, and the `[key, value]` items of a
   * list of entries (`entry`); until 2026-12-04 only objects and Maps were, so `req.rawHeaders`
   * and `[...headers]` kept Basic credentials, and key paths could not reach their cookies.)
   */
  private walkObjectValue(value: object, counts: RedactionCounts, path: string[], stack: object[], depth: number, entry = false): unknown {
    if (value instanceof Date) return new Date(value.getTime());
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value; // bytes are never written as text
    stack.push(value);
    try {
      if (Array.isArray(value)) {
        const n = value.length;
        const out: unknown[] = new Array(n);
        if (n > 0 && (entry ? n === 2 && typeof value[0] === "string" : Array.isArray(value[0]) || (typeof value[0] === "string" && n % 2 === 0))) {
          // (read once: a getter or Proxy is asked for each item once, as below)
          const items: unknown[] = new Array(n);
          for (let i = 0; i < n; i++) items[i] = value[i];
          const members = entry || isFlatHeaderList(items);
          const entries = !members && isEntryList(items);
          for (let i = 0; i < n; i++) {
            if (members && i % 2 === 1) {
              const key = items[i - 1] as string;
              path.push(key.toLowerCase());
              try {
                out[i] = this.walkMember(key, items[i], counts, path, stack, depth);
              } finally {
                path.pop();
              }
            } else {
              out[i] = this.walk(items[i], counts, path, stack, depth + 1, entries);
            }
          }
          return out;
        }
        for (let i = 0; i < n; i++) out[i] = this.walk(value[i], counts, path, stack, depth + 1);
        return out;
      }
      if (value instanceof Set) {
        const out = new Set<unknown>();
        for (const v of value) out.add(this.walk(v, counts, path, stack, depth + 1));
        return out;
      }
      if (value instanceof Map) {
        const out = new Map<unknown, unknown>();
        for (const [k, v] of value) {
          const key = typeof k === "string" ? k : keyText(k);
          out.set(typeof k === "string" ? this.redactText(k, counts) : k, this.walkMember(key, v, counts, [...path, key.toLowerCase()], stack, depth));
        }
        return out;
      }
      let source: object = value;
      if (value instanceof Error) {
        const e = value as Error & { code?: unknown; cause?: unknown };
        source = { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}), ...(e.code !== undefined ? { code: e.code } : {}), ...(e.cause !== undefined ? { cause: e.cause } : {}) };
      } else if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
        // (any object's, as the serialiser and JSON.stringify use it: a copy of a plain object
        // with its `toJSON` would be serialised by that function later, unredacted)
        let json: unknown;
        try {
          json = (value as { toJSON: () => unknown }).toJSON();
        } catch (err) {
          return `[Unserializable: ${this.redactText(unreadableReason(err), counts)}]`;
        }
        if (json !== value) return this.walk(json, counts, path, stack, depth + 1);
      }
      return this.walkObject(source, counts, path, stack, depth);
    } finally {
      stack.pop();
    }
  }

  private walkObject(source: object, counts: RedactionCounts, path: string[], stack: object[], depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(source)) {
      let v: unknown;
      try {
        v = (source as Record<string, unknown>)[key];
      } catch (err) {
        v = `[Unreadable: ${unreadableReason(err)}]`;
      }
      const base = this.redactText(key, counts);
      // two keys redacted to the same placeholder must not overwrite each other
      let outKey = base;
      for (let n = 2; Object.hasOwn(out, outKey); n++) outKey = `${base}#${n}`;
      path.push(key.toLowerCase());
      try {
        setKey(out, outKey, this.walkMember(key, v, counts, path, stack, depth));
      } finally {
        path.pop();
      }
    }
    return out;
  }

  /**
   * A member's value (`path` ends with its key): a string is read with its key as label first,
   * as a JSON text's members are (`{ aws_secret_access_key: "…" }`, `{ Authorization: "Basic …" }`:
   * rules that know a secret by its label; an object's were written in plaintext, found by review,
   * 2026-12-04), unless a path rule names it or it holds JSON itself.
   */
  private walkMember(key: string, v: unknown, counts: RedactionCounts, path: string[], stack: object[], depth: number): unknown {
    if (typeof v === "string" && !looksLikeJson(v) && !this.paths.matches(path)) {
      return this.memberText(key, v, counts) ?? this.walk(v, counts, path, stack, depth + 1);
    } else if ((typeof v === "number" || typeof v === "bigint") && !this.paths.matches(path)) {
      const whole = this.secretMember(key, v, counts);
      if (whole !== undefined) return whole;
    } else if (Array.isArray(v) && !this.paths.matches(path) && !stack.includes(v) && depth + 1 < MAX_DEPTH) {
      const items = this.labelledItems(key, v, counts, path, stack, depth);
      if (items !== undefined) return items;
    }
    return this.walk(v, counts, path, stack, depth + 1);
  }

  /**
   * A member's list of strings that is no flat header list (a multi-value header: Node's
   * `set-cookie`, node-fetch's `headers.raw()`), each item read with the member's key as label
   * first, as a single string is (until 2026-12-06 the items were read as text alone, so the
   * session cookies of a `set-cookie` list and the keys of an `x-api-key` list were written in
   * clear); undefined for any other list, walked as before.
   */
  private labelledItems(key: string, v: readonly unknown[], counts: RedactionCounts, path: string[], stack: object[], depth: number): unknown[] | undefined {
    const n = v.length;
    // (read once: a getter or Proxy is asked for each item once, as walkObjectValue does)
    const items: unknown[] = new Array(n);
    try {
      for (let i = 0; i < n; i++) {
        items[i] = v[i];
        if (typeof items[i] !== "string" || looksLikeJson(items[i] as string)) return undefined;
      }
    } catch {
      return undefined; // an item that cannot be read: walked as before, which says so
    }
    if (n === 0 || isFlatHeaderList(items)) return undefined;
    stack.push(v);
    try {
      return items.map((item) => {
        const labelled = this.redactLabelled(key, item as string, counts);
        return labelled !== item ? labelled : this.walk(item, counts, path, stack, depth + 2);
      });
    } finally {
      stack.pop();
    }
  }

  /**
   * A member's string value (of an object, or a JSON text's) read with its key as label first,
   * then as a secret's member (see secretMember); undefined when neither changed it (the caller
   * walks it as text). A secret's member whose value the text rules redacted only in part goes
   * whole: the rest is the secret's too (`{ password: "pw with bob@x.com" }` kept "pw with ";
   * found 2026-12-06). An Authorization header keeps its scheme, as the `bearer` rule writes it.
   */
  private memberText(key: string, v: string, counts: RedactionCounts): string | undefined {
    // (a member that is no secret's, the usual case, is read with `counts` at once: no scratch
    // counts made per string member, nor the name asked again; isSecretMember caches by name)
    if (!this.secretMembers || !isSecretMember(key, v)) {
      const labelled = this.redactLabelled(key, v, counts);
      return labelled !== v ? labelled : undefined;
    }
    const scratch: RedactionCounts = {};
    const labelled = this.redactLabelled(key, v, scratch);
    if (labelled === v || (!WHOLE_PLACEHOLDER.test(labelled) && !AUTHORIZATION_NAME.test(key))) return this.secretMember(key, v, counts);
    for (const rule of Object.keys(scratch)) counts[rule] = (counts[rule] ?? 0) + scratch[rule]!;
    return labelled;
  }

  /**
   * The placeholder for a member's string or number whose name says it is a secret, whatever the
   * value (`{ password: "sunshine" }`, `{ otp: 482913 }`, `{ pin: 1234 }`: see isSecretMember;
   * until 2026-12-06 such a value went only when it had a credential's shape), counted under
   * `credential`; undefined when the `credential` rule is off or isSecretMember says no. Null and
   * booleans never come here. (`written`: a JSON text's number as written, for the hmac: its
   * digits past a double's are kept)
   */
  private secretMember(key: string, v: string | number | bigint, counts: RedactionCounts, written?: string): string | undefined {
    if (!this.secretMembers || !isSecretMember(key, v)) return undefined;
    counts[SECRET_MEMBER_RULE] = (counts[SECRET_MEMBER_RULE] ?? 0) + 1;
    return this.token(SECRET_MEMBER_RULE, written ?? String(v));
  }

  private redactDigits(value: number | bigint, counts: RedactionCounts): unknown {
    const text = String(value);
    const redacted = this.redactText(text, counts);
    return redacted === text ? value : redacted;
  }

  private token(rule: string, value: string): string {
    if (this.hmacKey === undefined) return `[REDACTED:${rule}]`;
    const mac = createHmac("sha256", this.hmacKey).update(value, "utf8").digest("hex").slice(0, 12);
    return `[REDACTED:${rule}:${mac}]`;
  }
}
