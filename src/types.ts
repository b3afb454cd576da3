/**
 * Public types: the records as they are in the JSONL files, the inputs of the `log*` calls,
 * and the reports. Field names are the same everywhere: API, files, viewer and CSV headers.
 */
import type { JsonText } from "./record/json-text.js";
import type { JsonValue } from "./record/serialize.js";
export type { JsonValue } from "./record/serialize.js";

export type Durability = "async" | "sync" | "fsync";
export type RotationFrequency = "hourly" | "daily" | number;

export const RECORD_KINDS = [
  "chat_interaction",
  "persona_activity",
  "tool_usage",
  "file_operation",
  "performance_metric",
  "error",
] as const;
export type RecordType = (typeof RECORD_KINDS)[number];

/**
 * Every hash chain of a session: the six record kinds, plus `audit_event`, the logger's own
 * chained records (legal holds, crypto-shredding, retention) in `audit_events_<sessionId>.jsonl`.
 */
export const CHAIN_KINDS = [...RECORD_KINDS, "audit_event"] as const;
export type ChainKind = (typeof CHAIN_KINDS)[number];

/** File-name stem of each kind: `<stem>_<sessionId>.jsonl`. */
export const KIND_FILE_STEM: Readonly<Record<ChainKind, string>> = Object.freeze({
  chat_interaction: "chat_interactions",
  persona_activity: "persona_activities",
  tool_usage: "tool_usage",
  file_operation: "file_operations",
  performance_metric: "performance_metrics",
  error: "errors",
  audit_event: "audit_events",
});

/** An encrypted value: AES-256-GCM, the record id and field name bound as additional data. */
export interface EncryptedValue {
  /** format marker and version */
  readonly $enc: "aes-256-gcm/v1";
  /** id of the key that encrypted it */
  readonly kid: string;
  /** 96-bit IV, base64 */
  readonly iv: string;
  /** ciphertext followed by the 16-byte tag, base64 */
  readonly ct: string;
}

export type MaybeEncrypted<T> = T | EncryptedValue;

/** Fields every record line has, in this order; `hash` is always the last member. */
export interface RecordEnvelope {
  readonly id: string;
  readonly type: RecordType | "audit_event";
  readonly sessionId: string;
  /** ISO 8601 UTC */
  readonly timestamp: string;
  /** 1, 2, … per kind, across segments */
  readonly seq: number;
  /** `hash` of the previous record of this kind; 64 zeros for the first */
  readonly prevHash: string;
  readonly traceId?: string;
  readonly parentId?: string;
  readonly userId?: string;
  /** names of the fields of this record that hold an {@link EncryptedValue} */
  readonly encrypted?: readonly string[];
  readonly hash: string;
}

/** One full-content file, named relative to the audit directory; `sha256` is over the bytes on disk. */
export interface ContentFileRef {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** Where a chat's full prompt and response are; the record's hash covers these digests. */
export interface ContentFiles {
  readonly prompt: ContentFileRef;
  readonly response: ContentFileRef;
  readonly manifest: string;
}

export interface ChatInteractionRecord extends RecordEnvelope {
  readonly type: "chat_interaction";
  readonly interactionType: string;
  readonly model: string;
  readonly provider?: string;
  readonly persona?: string;
  readonly promptPreview?: MaybeEncrypted<string>;
  readonly responsePreview?: MaybeEncrypted<string>;
  /** "json" when the prompt/response were structured (messages) and stored as JSON text */
  readonly promptFormat?: "text" | "json";
  readonly responseFormat?: "text" | "json";
  /** length in UTF-16 code units (JavaScript string length); 0 when not captured */
  readonly promptLength: number;
  readonly responseLength: number;
  /** false when the prompt was deliberately not captured (no preview, hash or content of it) */
  readonly promptCaptured?: false;
  /** false when the response was deliberately not captured */
  readonly responseCaptured?: false;
  /** `sha256:<hex>`, or `hmac-sha256:<kid>:<hex>` when encrypted */
  readonly promptHash?: string;
  readonly responseHash?: string;
  readonly tokensUsed?: number;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  readonly usage?: JsonValue;
  readonly durationSeconds?: number;
  readonly timeToFirstTokenSeconds?: number;
  readonly finishReason?: string;
  readonly toolCalls?: MaybeEncrypted<JsonValue>;
  readonly success: boolean;
  readonly errorMessage?: string;
  readonly statusCode?: number;
  readonly fullContent?: ContentFiles;
  readonly metadata?: JsonValue;
}

export interface PersonaActivityRecord extends RecordEnvelope {
  readonly type: "persona_activity";
  readonly personaName: string;
  readonly activityType: string;
  readonly description?: string;
  readonly durationSeconds?: number;
  readonly success?: boolean;
  readonly details?: JsonValue;
  readonly metadata?: JsonValue;
}

export interface ToolUsageRecord extends RecordEnvelope {
  readonly type: "tool_usage";
  readonly toolName: string;
  readonly operation: string;
  readonly persona?: string;
  readonly parameters?: MaybeEncrypted<JsonValue>;
  readonly result?: MaybeEncrypted<JsonValue>;
  /** JSON text length of parameters/result, kept even when they are not stored */
  readonly parametersLength?: number;
  readonly resultLength?: number;
  readonly success: boolean;
  readonly errorMessage?: string;
  readonly durationSeconds?: number;
  readonly metadata?: JsonValue;
}

export type FileOperationKind = "create" | "read" | "modify" | "delete" | "move" | "copy";

export interface FileOperationRecord extends RecordEnvelope {
  readonly type: "file_operation";
  readonly operation: FileOperationKind;
  readonly filePath: string;
  readonly fileSize?: number;
  readonly fileHash?: string;
  readonly persona?: string;
  readonly success: boolean;
  readonly errorMessage?: string;
  readonly details?: JsonValue;
  readonly metadata?: JsonValue;
}

export interface PerformanceMetricRecord extends RecordEnvelope {
  readonly type: "performance_metric";
  readonly metricName: string;
  readonly value: number;
  readonly unit: string;
  readonly persona?: string;
  readonly context?: JsonValue;
  readonly metadata?: JsonValue;
}

export type ErrorSeverity = "debug" | "info" | "warning" | "error" | "critical";

export interface ErrorRecord extends RecordEnvelope {
  readonly type: "error";
  readonly errorType: string;
  readonly message: string;
  readonly stackTrace?: string;
  readonly severity: ErrorSeverity;
  readonly persona?: string;
  readonly context?: JsonValue;
  readonly metadata?: JsonValue;
}

export type AuditEventType = "legal_hold_placed" | "legal_hold_released" | "subject_shredded" | "retention_pruned";

/** A record of the logger's own: a legal hold, a crypto-shredding, a retention prune. */
export interface AuditEventRecord extends RecordEnvelope {
  readonly type: "audit_event";
  readonly eventType: AuditEventType;
  readonly reason?: string;
  readonly details?: JsonValue;
}

export type AuditRecord =
  | ChatInteractionRecord
  | PersonaActivityRecord
  | ToolUsageRecord
  | FileOperationRecord
  | PerformanceMetricRecord
  | ErrorRecord;

/** Fields any `log*` input may carry to place the record in a trace (normally filled from the context). */
export interface RecordLinkInput {
  /** a caller-chosen id (1-64 of [A-Za-z0-9_-]); a fresh time-sortable id otherwise */
  id?: string | undefined;
  traceId?: string | undefined;
  parentId?: string | undefined;
  userId?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface ChatInteractionInput extends RecordLinkInput {
  interactionType?: string | undefined;
  /**
   * text, or structured messages (stored as JSON text). (`JsonText` is internal: the
   * integrations' messages cut verbatim from the request's JSON, stored as they were sent.)
   */
  prompt: string | JsonText | readonly unknown[] | Record<string, unknown>;
  response?: string | readonly unknown[] | Record<string, unknown> | undefined;
  /**
   * false: the prompt was deliberately not captured (an integration's `captureContent: false`,
   * `@AuditChat({ captureArgs: false })`): `prompt` is ignored, and the record keeps no text,
   * preview, hash or content file of it, and says `promptCaptured: false`
   */
  promptCaptured?: boolean | undefined;
  /** the same for the response */
  responseCaptured?: boolean | undefined;
  model?: string | undefined;
  provider?: string | undefined;
  tokensUsed?: number | undefined;
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  usage?: unknown | undefined;
  durationSeconds?: number | undefined;
  timeToFirstTokenSeconds?: number | undefined;
  finishReason?: string | undefined;
  toolCalls?: readonly unknown[] | undefined;
  persona?: string | undefined;
  success?: boolean | undefined;
  errorMessage?: string | undefined;
  statusCode?: number | undefined;
}

export interface PersonaActivityInput extends RecordLinkInput {
  personaName: string;
  activityType: string;
  description?: string | undefined;
  durationSeconds?: number | undefined;
  success?: boolean | undefined;
  details?: unknown | undefined;
}

export interface ToolUsageInput extends RecordLinkInput {
  toolName: string;
  operation: string;
  parameters?: unknown | undefined;
  result?: unknown | undefined;
  success?: boolean | undefined;
  errorMessage?: string | undefined;
  durationSeconds?: number | undefined;
  persona?: string | undefined;
}

export interface FileOperationInput extends RecordLinkInput {
  operation: FileOperationKind;
  filePath: string;
  fileSize?: number | undefined;
  fileHash?: string | undefined;
  success?: boolean | undefined;
  errorMessage?: string | undefined;
  details?: unknown | undefined;
  persona?: string | undefined;
}

export interface PerformanceMetricInput extends RecordLinkInput {
  metricName: string;
  value: number;
  unit: string;
  context?: unknown | undefined;
  persona?: string | undefined;
}

export interface ErrorInput extends RecordLinkInput {
  errorType: string;
  message: string;
  stackTrace?: string | undefined;
  severity?: ErrorSeverity | undefined;
  context?: unknown | undefined;
  persona?: string | undefined;
}

/** The active audit context (see `auditContext`). */
export interface AuditContextValue {
  /** a logger for records made inside this context (structurally an AuditLogger) */
  readonly logger?: unknown;
  readonly sessionId?: string;
  readonly userId?: string;
  readonly persona?: string;
  readonly traceId?: string;
  /** id of the enclosing instrumented call: becomes `parentId` of records made inside it */
  readonly parentId?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/**
 * What `auditContext.run` takes: a context's fields, each inheriting the outer context's when
 * left out (or undefined); `metadata: null` inherits too (it means "none added here"). Each
 * member takes `undefined` in its type too, so `{ userId: session.user }` type-checks under
 * `exactOptionalPropertyTypes` (a `tsc --init` project's default), as it runs (until 2026-12-05
 * it was TS2379 there).
 */
export interface AuditContextInput {
  readonly logger?: unknown;
  readonly sessionId?: string | undefined;
  readonly userId?: string | undefined;
  readonly persona?: string | undefined;
  readonly traceId?: string | undefined;
  readonly parentId?: string | undefined;
  readonly metadata?: Readonly<Record<string, unknown>> | null | undefined;
}

/**
 * @internal For integrations: makes the input of a log call from plain data (strings, numbers,
 * booleans, arrays and plain objects: what a structured clone copies as it is). `module` is the
 * URL of a module that exports that same function as `name`: with `thread: true` the data goes
 * to the worker thread, which imports the module and makes the input there, so the app's thread
 * only queues the data. `build` is the function itself, for the app's thread.
 */
export interface InputBuilder<D> {
  readonly method: "logChatInteraction";
  readonly module: string;
  readonly name: string;
  readonly build: (data: D) => ChatInteractionInput;
}

export interface KindHead {
  readonly seq: number;
  readonly hash: string;
}

/** What `finalizeSession()` returns and writes to `session_<sessionId>.json`. */
export interface SessionSummary {
  readonly sessionId: string;
  readonly startTime: string;
  readonly endTime: string;
  readonly durationSeconds: number;
  readonly counts: Readonly<Record<RecordType, number>>;
  readonly totalRecords: number;
  /**
   * Token counts of the chat interactions. `input` and `output` count only the calls that gave
   * them: `callsWithoutTokenSplit` gave only `tokensUsed` (in `total`, in neither `input` nor
   * `output`), `callsWithoutTokens` (successful calls) gave no count at all.
   */
  readonly tokens: {
    readonly total: number;
    readonly input: number;
    readonly output: number;
    readonly callsWithoutTokenSplit: number;
    readonly callsWithoutTokens: number;
  };
  readonly models: Readonly<Record<string, number>>;
  readonly personas: Readonly<Record<string, number>>;
  readonly chatSuccessRate: number | null;
  readonly toolCalls: number;
  readonly toolSuccessRate: number | null;
  readonly errorsBySeverity: Readonly<Record<string, number>>;
  readonly heads: Readonly<Record<ChainKind, KindHead>>;
  readonly customMetadata: Readonly<Record<string, unknown>>;
}

export interface VerifyProblem {
  readonly file: string;
  readonly seq?: number;
  readonly kind: string;
  readonly detail: string;
  /**
   * the session the problem was found in (`verifyAuditLog`: its chains, content, checkpoints,
   * session file; a session missing; `verifyPostgres`: its chains and checkpoints); absent for
   * what belongs to the directory (a key store, a planted file, an export)
   */
  readonly sessionId?: string;
}

export interface VerifyNote {
  readonly file?: string;
  readonly seq?: number;
  readonly kind: string;
  readonly detail: string;
}

/** What `verifyAuditLog()` resolves to. */
export interface VerifyReport {
  readonly ok: boolean;
  readonly sessions: readonly string[];
  readonly recordsChecked: number;
  readonly problems: readonly VerifyProblem[];
  readonly notes: readonly VerifyNote[];
}

/**
 * One exported record as `verifyExportProofs` found it: `proven` (its hash recomputes from the
 * record as exported, its audit path leads to its chain's root in a checkpoint whose signature
 * verifies with a trusted key), `failed` (a problem names it), `uncovered` (no signed checkpoint
 * covers it yet: newer than its session's last one, or its session has none) or `withheld` (its
 * content was withheld in clear, and the exporter gave no proof that would confirm a guess of it).
 */
export interface ExportRecordProof {
  readonly type: string;
  readonly sessionId: string;
  readonly seq: number | undefined;
  readonly id: string | undefined;
  readonly status: "proven" | "failed" | "uncovered" | "withheld";
  /**
   * members the export shows otherwise than as written, which the proof therefore does not vouch
   * for as shown: decrypted or withheld content (checked is its ciphertext, as written), and
   * members the export added (`content`, `contentWithheld`)
   */
  readonly unchecked?: readonly string[];
}

/**
 * What `verifyExportProofs()` resolves to: a `VerifyReport`, each exported record's finding, and
 * the verdict in one word. `ok` is true when no problem was found, which records without a proof
 * (`uncovered`, `withheld`: their content is the exporter's word, noted only) are not unless
 * `requireSigned`: `status` tells them apart.
 */
export interface ExportProofReport extends VerifyReport {
  /**
   * `proven`: no problem, and every record is proven against a signed checkpoint. `unproven`: no
   * problem, but some records have no proof (`unprovenSessions` names their sessions): nothing
   * vouches for them but the exporter (a dropped or unsigned checkpoint looks so); the exit code is
   * 0 all the same, and `requireSigned` makes each one a problem. `failed`: a problem was found
   * (`ok` false).
   */
  readonly status: "proven" | "unproven" | "failed";
  /** the sessions with at least one record without a proof (`uncovered` or `withheld`), sorted */
  readonly unprovenSessions: readonly string[];
  readonly records: readonly ExportRecordProof[];
}

/** One sealed record as handed to extra sinks: the exact line written (without its newline) and its envelope. */
export interface SealedRecord {
  readonly kind: ChainKind;
  readonly sessionId: string;
  readonly id: string;
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
  readonly timestamp: string;
  readonly line: string;
}

/** What the logger gives a sink as it opens (see `AuditSink.open`). */
export interface AuditSinkOpenInfo {
  readonly sessionId: string;
  readonly auditDir: string;
  /** a failure to deliver records: an `error` event and an `errors` record (`audit_write_failed`, severity critical) */
  readonly onError: (err: Error) => void;
  /**
   * A failure the sink overcame with nothing lost (PostgresSink: the server ended its connection
   * under an insert, which it sent again on a new one and stored): an `error` event and an
   * `errors` record `audit_sink_recovered`, severity warning. The logger always gives it; a sink
   * opened by other code may get none (PostgresSink then uses `onError`).
   */
  readonly onRecovered?: (err: Error) => void;
}

/**
 * An extra destination for sealed records, such as `PostgresSink`. `write` must return at once and
 * never throw (buffer, then report failures through `onError`); `flush` resolves when everything
 * written so far is stored; `close` flushes and releases resources.
 */
export interface AuditSink {
  /**
   * How the session file's `config.sinks` names this sink (no secrets): PostgresSink gives
   * `PostgresSink:<store>`, a hash naming its store and schema. Default: the class name.
   */
  readonly description?: string;
  /**
   * Called once by the logger as it opens. A sink that cannot serve this logger (PostgresSink: it
   * serves another logger already) throws an `AuditConfigError`: the logger reports it and leaves
   * the sink out (no records, flushes or close from it). Any other error is reported, and the
   * sink is still used.
   */
  open?(info: AuditSinkOpenInfo): void;
  write(record: SealedRecord): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  /**
   * Called synchronously as the process ends (`exit`, `process.exit()`, SIGINT, SIGTERM, SIGHUP),
   * after the logger wrote its files: nothing asynchronous runs after it, so a sink that holds
   * records in memory puts them where a later process finds them (PostgresSink: its spool). Must
   * not throw and must not wait on the network.
   */
  flushSyncOnExit?(): void;
  /**
   * Asked once the sink is closed by `finalizeSession()`: what of this session it did not deliver,
   * as a sentence without secrets (PostgresSink: records left in its spool, the store having not
   * answered), or undefined when everything reached its destination. The session file then lists
   * it in `config.undeliveredSinks` (`[{ sink, detail }]`).
   */
  undelivered?(): string | undefined;
}
