/**
 * Every error the library throws is an {@link AuditLoggerError} with a stable `code`.
 * The README's error table lists each code; a test checks the two agree.
 *
 * @example
 * try { new AuditConfig({ sessionId: "../x" }) }
 * catch (e) { if (e instanceof AuditConfigError) console.error(e.code, e.issues) }
 */
export class AuditLoggerError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One field that failed validation: where, and what was wrong with it. */
export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

function listIssues(issues: readonly FieldIssue[]): string {
  return issues.map((i) => `  - ${i.field}: ${i.message}`).join("\n");
}

/** Invalid configuration: thrown at construction, naming every bad field. */
/** The fields the decorators, the integrations and setDefaultAuditLogger() name in their AuditConfigErrors. */
const INSTRUMENTATION_FIELD = /^(@Audit|wrapOpenAI|wrapAnthropic|withAudit|auditLanguageModelMiddleware|auditMiddleware|auditErrorHandler|client$|fetch$|target$|logger$)/;

export class AuditConfigError extends AuditLoggerError {
  readonly issues: readonly FieldIssue[];
  constructor(issues: readonly FieldIssue[]) {
    // (a decorator's or an integration's options: their docs, not the logger's configuration table)
    const instrumentation = issues.length > 0 && issues.every((i) => INSTRUMENTATION_FIELD.test(i.field));
    super(
      "AUDIT_ERR_CONFIG",
      `Invalid audit-logger ${instrumentation ? "instrumentation options" : "configuration"} (${issues.length} field${issues.length === 1 ? "" : "s"}):\n${listIssues(issues)}\nFix the fields above; see ${instrumentation ? "docs/INTEGRATIONS.md" : "the README's configuration reference"}.`,
    );
    this.issues = issues;
  }
}

/**
 * Invalid input to a `log*` call: nothing was written. Another method says what did not happen
 * instead (`outcome`: a viewer's query "nothing was read"; found by a new-user run, 2026-12-05,
 * as a bad filter said "nothing was written").
 */
export class AuditValidationError extends AuditLoggerError {
  readonly issues: readonly FieldIssue[];
  readonly method: string;
  constructor(method: string, issues: readonly FieldIssue[], options: { readonly outcome?: string } = {}) {
    super(
      "AUDIT_ERR_VALIDATION",
      `${method}() was called with invalid input; ${options.outcome ?? "nothing was written"}:\n${listIssues(issues)}`,
    );
    this.issues = issues;
    this.method = method;
  }
}

/** A `log*` call after `finalizeSession()`. */
export class AuditSessionClosedError extends AuditLoggerError {
  constructor(sessionId: string, method: string) {
    super(
      "AUDIT_ERR_SESSION_CLOSED",
      `${method}() called after finalizeSession() for session "${sessionId}". Create a new AuditLogger (the same sessionId continues the chain) to log more.`,
    );
  }
}

/** A missing or malformed encryption key, or content that cannot be decrypted with it. */
export class AuditKeyError extends AuditLoggerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("AUDIT_ERR_KEY", message, options);
  }
}

/** Another live process (or logger) already writes this session. */
export class AuditSessionLockedError extends AuditLoggerError {
  readonly lockFile: string;
  readonly holderPid: number;
  /**
   * `holderElsewhere`: the host name of a holder whose liveness cannot be told from here (another
   * host's process, or another pid namespace's: a container given this host's name, this
   * container's own run before a restart), which is never taken over automatically: the message
   * says how to free the session by hand.
   */
  constructor(sessionId: string, lockFile: string, holderPid: number, holderElsewhere?: string) {
    super(
      "AUDIT_ERR_SESSION_LOCKED",
      holderElsewhere === undefined
        ? `Session "${sessionId}" is already being written by process ${holderPid} (lock ${lockFile}). Use another sessionId, or finalize the other logger first. A lock left by a dead process is taken over automatically.`
        : `Session "${sessionId}" is held by process ${holderPid} of host "${holderElsewhere}" in another pid namespace or on another host (lock ${lockFile}): whether it still runs cannot be told from here, so its lock is never taken over automatically. If that process has ended (a crashed host, or this container's run before it restarted: a restarted container is in a new pid namespace), remove ${lockFile} and open the session again; else use another sessionId.`,
    );
    this.lockFile = lockFile;
    this.holderPid = holderPid;
  }
}

/** A path built from an id or option would leave the audit directory. */
export class AuditPathError extends AuditLoggerError {
  constructor(message: string) {
    super("AUDIT_ERR_PATH", message);
  }
}

/** The audit files could not be written or read (disk full, permissions, ...). */
export class AuditIOError extends AuditLoggerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("AUDIT_ERR_IO", message, options);
  }
}

/**
 * A chain file's rotation failed: its records were written, and go on to the file they were
 * going to (a segment's name when the failure was reopening the active name); the rotation is
 * tried again a second later.
 */
export class AuditRotationError extends AuditIOError {}

/** An existing log file is not in the documented format and cannot be continued. */
export class AuditFormatError extends AuditLoggerError {
  constructor(message: string) {
    super("AUDIT_ERR_FORMAT", message);
  }
}

/** Every code the library uses, for documentation and tests. */
export const ERROR_CODES = [
  "AUDIT_ERR_CONFIG",
  "AUDIT_ERR_VALIDATION",
  "AUDIT_ERR_SESSION_CLOSED",
  "AUDIT_ERR_KEY",
  "AUDIT_ERR_SESSION_LOCKED",
  "AUDIT_ERR_PATH",
  "AUDIT_ERR_IO",
  "AUDIT_ERR_FORMAT",
] as const;
export type AuditErrorCode = (typeof ERROR_CODES)[number];
