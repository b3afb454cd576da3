/**
 * The integrations' options, checked when a client or function is wrapped: a misspelt option
 * (`captureContents: false`) was silently ignored, and the prompt it meant to keep out was
 * recorded (found by a new-user run, 2026-12-03). A mistake throws `AuditConfigError` naming
 * every bad field, prefixed with the function (`wrapOpenAI.captureContents`), as the config,
 * the decorators and `auditMiddleware` do.
 */
import { z } from "zod";
import { isLoggerLike } from "../src/context.js";
import { AuditConfigError } from "../src/errors.js";
import { reportRecordFailure, resolveAuditLogger } from "../src/instrument.js";
import type { AuditLogger } from "../src/logger.js";
import { toFieldIssues } from "../src/record/issues.js";

/**
 * The `logger` option: an AuditLogger (structurally: another copy of the package's is one too);
 * null, as undefined, is none (accepted before the check, by JavaScript callers).
 */
const loggerOption = z
  .custom<AuditLogger | null>((v) => v === null || isLoggerLike(v), "must be an AuditLogger (new AuditLogger(...)); leave it out to use the context's or the default logger")
  .optional();

/** A true/false option. */
const flagOption = z.boolean({ error: "must be true or false" }).optional();

/**
 * Every integration's schema: the options of all of them, each checked, so that one options
 * object can be shared (`withAudit(openai, opts)`, `withAudit(fetch, opts)`); an integration
 * ignores those it has no use for. A name none of them knows is refused.
 */
const integrationOptionsSchema = z.strictObject(
  {
    logger: loggerOption,
    captureContent: flagOption,
    includeUsageInStreams: flagOption,
    redactHeaders: z.array(z.union([z.string(), z.custom<RegExp>(isRegExp)], { error: "each must be a header name or a RegExp" }), { error: "must be a list of header names or RegExps" }).optional(),
  },
  { error: "must be an options object" },
);

/** A RegExp, also one of another realm (a `vm` context's). */
function isRegExp(v: unknown): v is RegExp {
  return Object.prototype.toString.call(v) === "[object RegExp]";
}

/**
 * `options` of the integration `fn`, checked (undefined is no options), and returned as they
 * are: the integrations read them at each call, as before the check, so that an app may still
 * set `options.logger` later.
 */
export function checkedOptions<T extends object>(fn: string, options: T | undefined): T {
  if (isLoggerLike(options)) throw loggerAsOptions(fn);
  const r = integrationOptionsSchema.safeParse(options ?? {});
  if (!r.success) throw new AuditConfigError(toFieldIssues(r.error, fn, integrationOptionsSchema));
  return options ?? ({} as T);
}

/** How each function is called with the logger in its options, for {@link loggerAsOptions}. */
const CALLED_AS: Readonly<Record<string, string>> = {
  wrapOpenAI: "wrapOpenAI(client, { logger })",
  wrapAnthropic: "wrapAnthropic(client, { logger })",
  auditLanguageModelMiddleware: "auditLanguageModelMiddleware({ logger })",
  withAuditFetch: "withAuditFetch(fetch, { logger })",
  withAudit: "withAudit(target, { logger })",
  auditMiddleware: "auditMiddleware({ logger })",
  auditErrorHandler: "auditErrorHandler({ logger })",
};

/**
 * The error for an AuditLogger given where the options go (`wrapAnthropic(client, logger)`): it
 * was checked as an options object, and the error listed each of the logger's 78 members as an
 * "unknown option" (`wrapAnthropic.subjectKeys`, …), and withAudit() of a fetch said it was no
 * Express app, for the logger's `sessionId` (found by a new-user run, 2026-12-06).
 */
export function loggerAsOptions(fn: string): AuditConfigError {
  return new AuditConfigError([
    { field: `${fn}.options`, message: `got an AuditLogger where the options go: pass it as the logger option, ${CALLED_AS[fn] ?? `${fn}(…, { logger })`}` },
  ]);
}

/** The options each client was first wrapped with (see rewrapped). */
const firstWraps = new WeakMap<object, IntegrationOptions>();
let rewrapWarned = false;

interface IntegrationOptions {
  readonly logger?: AuditLogger | null;
  readonly captureContent?: boolean;
  readonly includeUsageInStreams?: boolean;
}

/** Remembers the options `client` was wrapped with, for {@link rewrapped}. */
export function rememberWrap(client: object, options: IntegrationOptions): void {
  firstWraps.set(client, options);
}

/**
 * A client wrapped again keeps its first wrap (each call is recorded once, as the first wrap
 * says); options that differ from the first wrap's are named in one process warning
 * (`AUDIT_WARN_REWRAPPED`): they were ignored with nothing said, and the records went to the
 * first wrap's logger (found by review, 2026-12-04).
 */
export function rewrapped(fn: string, client: object, options: IntegrationOptions): void {
  const first = firstWraps.get(client);
  if (first === undefined || first === options || rewrapWarned) return;
  const differ: string[] = [];
  if ((first.logger ?? undefined) !== (options.logger ?? undefined)) differ.push("logger");
  if ((first.captureContent ?? true) !== (options.captureContent ?? true)) differ.push("captureContent");
  if ((first.includeUsageInStreams ?? false) !== (options.includeUsageInStreams ?? false)) differ.push("includeUsageInStreams");
  if (differ.length === 0) return;
  rewrapWarned = true;
  process.emitWarning(`${fn}() was given a client already wrapped with other options (${differ.join(", ")}): the first wrap's options stay, each call is recorded once as they say. Wrap each client once, or wrap a client made with client.withOptions().`, {
    code: "AUDIT_WARN_REWRAPPED",
    type: "AuditLoggerWarning",
  });
}

/**
 * What a wrapper is about to change on a client: `[label, object, method]`, where `method` is the
 * member it puts its own in place of (an own property defined on the object), or undefined for an
 * object that only gets new members of its own (the client: its marker, `buildBody`, `withOptions`).
 */
export type ChangedPart = readonly [label: string, target: unknown, method: string | undefined];

/**
 * Throws an AuditConfigError naming each part of a client the wrapper `fn` cannot change (frozen,
 * sealed, not extensible), before anything is changed, so that the client is left as it was.
 * Wrapping a frozen client threw the TypeError of the first property it failed to define, after
 * it had changed what it could (a frozen Anthropic client was left with `messages.create`
 * recorded); a frozen resource was passed over, its calls unrecorded with nothing said (found by
 * review, 2026-12-05).
 */
export function assertChangeable(fn: string, parts: readonly ChangedPart[]): void {
  const issues: Array<{ field: string; message: string }> = [];
  for (const [label, target, method] of parts) {
    if ((typeof target !== "object" && typeof target !== "function") || target === null) continue;
    let changeable: boolean;
    try {
      const own = method === undefined ? undefined : Object.getOwnPropertyDescriptor(target, method);
      changeable = own !== undefined ? own.configurable === true : Object.isExtensible(target);
    } catch {
      changeable = false; // a Proxy whose traps throw
    }
    if (!changeable) {
      issues.push({
        field: `${fn}.client`,
        message: `${label} cannot be changed (it is frozen, sealed or not extensible), so its calls cannot be recorded: wrap the client before freezing it. It was left unwrapped.`,
      });
    }
  }
  if (issues.length > 0) throw new AuditConfigError(issues);
}

/**
 * A client derived from a wrapped one (`withOptions()`) that could not be wrapped (frozen by a
 * subclass's constructor, say): the app gets it as it is, unrecorded, and this says so, on the
 * logger's `error` event, or as a warning when no logger is found now (its calls would have been
 * recorded by one found later). One helper for the OpenAI and Anthropic wrappers.
 */
export function reportUnwrapped(fn: string, options: { readonly logger?: AuditLogger | null }, err: unknown): void {
  const logger = resolveAuditLogger(options.logger ?? undefined);
  if (logger) reportRecordFailure(logger, err);
  else process.emitWarning(`${fn}: a client derived with withOptions() could not be wrapped, its calls are not recorded: ${err instanceof Error ? err.message : String(err)}`, { code: "AUDIT_WARN_RECORD_FAILED", type: "AuditLoggerWarning" });
}
