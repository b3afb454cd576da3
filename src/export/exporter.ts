import { KeyObject } from "node:crypto";
import { inspect, type InspectOptions } from "node:util";
import { z } from "zod";
import { AuditConfig } from "../config/config.js";
import { AuditConfigError, type FieldIssue } from "../errors.js";
import { insideReal } from "../path-inside.js";
import { resolveSigningKey, type SigningKey } from "../integrity/signing.js";
import type { AuditLogger } from "../logger.js";
import { toFieldIssues } from "../record/issues.js";
import type { RecordSource } from "../reader/records.js";
import { AuditViewer, type AuditViewerOptions } from "../reader/viewer.js";
import type { RecordType } from "../types.js";
import { writeCsv } from "./csv.js";
import { compileQuery, timeInputSchema, type TimeInput } from "../reader/query.js";
import { isoTime } from "../reader/time-input.js";
import { writeDirectoryExport, type DirectoryExportResult } from "./directory.js";
import { jsonExportChunks, type ExportFilter } from "./json.js";
import { writeExport, type ExportTarget } from "./output.js";
import { ExportWithholder, withoutChainLink } from "./withhold.js";
import { ExportProver } from "../integrity/proofs.js";

/**
 * Options of an export. `includeFullContent` (default false) puts prompts, responses, previews,
 * tool calls, tool parameters and results (decrypted when a key is given) in the export; without
 * it they are replaced by a marker and the record lists them in `contentWithheld`; where that
 * content is not encrypted in the record, its chain hashes (`hash`, `prevHash`) are left out too,
 * there and in the rest of its chain, since each would confirm a guess of it.
 */
export interface ExportOptions {
  readonly includeFullContent?: boolean | undefined;
  /**
   * only the records of this user (`userId`), of every kind and session: a data-subject access
   * request. JSON and CSV exports only (a directory export is the whole trail)
   */
  readonly userId?: string | undefined;
  /** only records at or after this time (a Date, ISO 8601, UTC without an offset, or epoch ms) */
  readonly since?: TimeInput | undefined;
  /** only records before this time */
  readonly until?: TimeInput | undefined;
  /**
   * `exportToJson` of an audit directory only: each record gets a `proof` member, its RFC 6962
   * inclusion proof up to its session's newest signed checkpoint, which the document's
   * `proofs.checkpoints` holds, so that whoever holds the export and the public key can check it
   * without the logs (`verifyExportProofs`, `audit-logger verify --export`). See docs/TRUST.md.
   */
  readonly proofs?: boolean | undefined;
}

/**
 * Options of `exportCompleteAuditToDirectory`: those of every export, and `signingKey`, the
 * Ed25519 private key (PEM or KeyObject) that signs `export_manifest.json`. When none is given:
 * the live logger's own signing key, else the one named by the signing-key environment variables.
 */
export interface DirectoryExportOptions extends Pick<ExportOptions, "includeFullContent"> {
  readonly signingKey?: KeyObject | string | undefined;
}

const exportOptionsSchema = z.strictObject({
  includeFullContent: z.boolean().optional(),
  userId: z.string().min(1, "must be a non-empty userId").optional(),
  since: timeInputSchema.optional(),
  until: timeInputSchema.optional(),
  proofs: z.boolean().optional(),
});
const directoryOptionsSchema = z.strictObject({
  includeFullContent: z.boolean().optional(),
  signingKey: z.union([z.string().min(1), z.custom<KeyObject>((v) => v instanceof KeyObject, "must be a PEM string or a crypto KeyObject")]).optional(),
});

/** A source's `audit_event` lines per session, when it can give them as written (see `RecordSource.chainLines`). */
function chainLinesOf(source: RecordSource): ((sessionId: string) => AsyncIterable<string>) | undefined {
  const lines = source.chainLines?.bind(source);
  return lines ? (sessionId) => lines("audit_event", sessionId) : undefined;
}

/**
 * Refuses an export target inside the audit directory the records come from (also through a
 * symlink): an export there sits beside the logs with any content it holds in plaintext, and a
 * directory export's manifest there made `verify` check it as an export instead of the logs.
 * Over PostgreSQL, that is the `contentDir` whose content files and key stores it reads (until
 * 2026-12-05 such an export was written there, its decrypted content beside the logs).
 */
function refuseInsideAuditDir(auditDir: string | undefined, target: string, method: string, field: "file" | "dir"): void {
  if (auditDir === undefined) return;
  if (insideReal(auditDir, target)) {
    throw new AuditConfigError([{ field: `${method}.${field}`, message: `"${target}" is inside the audit directory ${auditDir}; write the export somewhere else` }]);
  }
  // (a directory export replaces files of its own in its directory: never in one holding the logs)
  if (field === "dir" && insideReal(target, auditDir)) {
    throw new AuditConfigError([{ field: `${method}.${field}`, message: `"${target}" contains the audit directory ${auditDir}; write the export to a directory of its own` }]);
  }
}

function parseOptions(o: ExportOptions | undefined, method: string, target?: readonly [field: string, value: unknown]): { includeFullContent: boolean; proofs: boolean; filter: ExportFilter | undefined } {
  const r = exportOptionsSchema.safeParse(o ?? {});
  const issues = [...(target !== undefined ? targetIssues(target[0], target[1], "file") : []), ...(r.success ? [] : toFieldIssues(r.error, method, exportOptionsSchema))];
  // (a CSV row has no room for a proof and its checkpoint: the JSON export carries them)
  if (r.success && r.data.proofs === true && method !== "exportToJson") issues.push({ field: `${method}.proofs`, message: "inclusion proofs are written by exportToJson only (a CSV has no room for them)" });
  if (!r.success || issues.length > 0) throw new AuditConfigError(issues);
  const { includeFullContent, proofs, ...f } = r.data;
  const filter: ExportFilter = {
    ...(f.userId !== undefined ? { userId: f.userId } : {}),
    ...(f.since !== undefined ? { since: isoTime(f.since) } : {}),
    ...(f.until !== undefined ? { until: isoTime(f.until) } : {}),
  };
  return { includeFullContent: includeFullContent ?? false, proofs: proofs ?? false, filter: Object.keys(filter).length > 0 ? filter : undefined };
}

/**
 * The issue of an export's target that is neither a non-empty path nor (a file's) writable
 * stream. Until 2026-12-05 a number was a bare TypeError from path.resolve, or an AUDIT_ERR_IO
 * "Writing the export to a stream failed" (found by the API.md audit).
 */
function targetIssues(field: string, value: unknown, kind: "file" | "dir"): FieldIssue[] {
  if (typeof value === "string" && value !== "") return [];
  // (a Node writable, or a web WritableStream: stream.pipeline writes to either)
  const stream = (typeof (value as { write?: unknown } | null)?.write === "function" && typeof (value as { on?: unknown }).on === "function") || typeof (value as { getWriter?: unknown } | null)?.getWriter === "function";
  if (kind === "file" && stream) return [];
  const got = value === "" ? "an empty string" : value === null ? "null" : typeof value;
  return [{ field, message: kind === "file" ? `must be a file's path or a writable stream (got ${got})` : `must be a directory's path, a non-empty string (got ${got})` }];
}

/**
 * How a caller that is not the API names an exporter's target in errors (the CLI: "option --out"),
 * set by {@link nameExportTarget}; else each method's own parameter (`exportToJson.file`, …).
 */
const targetNames = new WeakMap<AuditExporter, string>();

/**
 * Makes `exporter`'s errors about where it writes name the target as `name`: `audit-logger
 * export` said `exportCompleteAuditToDirectory.dir` of its `--out` (found by the CLI pass,
 * 2026-12-06). Not part of the package's API.
 *
 * @example
 * nameExportTarget(new AuditExporter(viewer), "option --out");
 */
export function nameExportTarget(exporter: AuditExporter, name: string): AuditExporter {
  targetNames.set(exporter, name);
  return exporter;
}

/** Where {@link countJsonRecords} has an exporter's JSON exports count the records they write. */
const jsonCounters = new WeakMap<AuditExporter, { records: number }>();

/**
 * Has `exporter`'s JSON exports count the records they write into the returned object (reset at
 * each export): `audit-logger export --format json` says how many, as the CSV methods' row
 * counts let it; `exportToJson` keeps its `Promise<void>` of the spec. Not part of the package's API.
 *
 * @example
 * const counted = countJsonRecords(exporter);
 * await exporter.exportToJson("out.json");
 * counted.records; // records written
 */
export function countJsonRecords(exporter: AuditExporter): { readonly records: number } {
  const counter = { records: 0 };
  jsonCounters.set(exporter, counter);
  return counter;
}

/**
 * Writes an audit trail out as JSON, CSV (one file per kind) or a complete directory with
 * checksums. Files appear only when complete (written to a temporary name, then renamed).
 * Content is left out unless `includeFullContent: true`.
 *
 * @example
 * const exporter = new AuditExporter({ auditPath: "./audit_logs" });
 * await exporter.exportToolUsagesToCsv("tools.csv");
 * await exporter.exportCompleteAuditToDirectory("audit_exports");
 */
export class AuditExporter {
  readonly viewer: AuditViewer;
  /** the live logger's signing key, for the directory export's manifest */
  private readonly signer: SigningKey | undefined;

  /** What `util.inspect` shows: its viewer, never a key (found by a re-review, 2026-12-05: util.inspect / console.log printed the master key bytes, the
   * hmac redaction key or a connection string's password held in its fields) */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `AuditExporter ${inspect({ viewer: this.viewer }, { ...options, customInspect: true })}`;
  }

  /** What `JSON.stringify` writes: its viewer's view, never a key (found by a security pass, 2026-12-05: only util.inspect had been fixed, and JSON.stringify, what pino or winston does with a logged object, wrote the key bytes or the connection string's password) */
  toJSON(): { viewer: ReturnType<AuditViewer["toJSON"]> } {
    return { viewer: this.viewer.toJSON() };
  }

  constructor(from: AuditLogger | AuditViewer | AuditViewerOptions) {
    this.viewer = from instanceof AuditViewer ? from : new AuditViewer(from);
    const config = (from as { config?: unknown }).config;
    this.signer = config instanceof AuditConfig ? AuditConfig.signerOf(config) : undefined;
  }

  /**
   * One JSON document: session summaries and every record of every kind. `file` is a path, or a
   * writable stream (`process.stdout`) that is written as the document is made and left open.
   * A path that exists and is not a regular file (a FIFO, a device, a symbolic link) is refused
   * with `AuditPathError`, untouched.
   */
  async exportToJson(file: ExportTarget, options?: ExportOptions): Promise<void> {
    await this.json(file, options, targetNames.get(this) ?? "exportToJson.file", new ExportWithholder());
  }

  private async json(file: ExportTarget, options: ExportOptions | undefined, option: string, withholder: ExportWithholder): Promise<void> {
    const o = parseOptions(options, "exportToJson", [option, file]);
    if (typeof file === "string") refuseInsideAuditDir(this.viewer.contentDir, file, "exportToJson", "file");
    // (signed checkpoints are kept in the audit directory: a PostgreSQL store has none)
    const auditDir = this.viewer.auditPath;
    if (o.proofs && auditDir === undefined) throw new AuditConfigError([{ field: "exportToJson.proofs", message: "needs an audit directory (auditPath): signed checkpoints are kept in each instance's audit directory, not in the PostgreSQL store" }]);
    const counter = jsonCounters.get(this);
    if (counter) counter.records = 0;
    const viewer = this.viewer;
    const proofs = o.proofs && auditDir !== undefined ? (sessionIds: readonly string[]) => ExportProver.plan(viewer, auditDir, sessionIds, o.includeFullContent) : undefined;
    await writeExport(file, jsonExportChunks(this.viewer, { includeFullContent: o.includeFullContent, exportedAt: new Date().toISOString(), withholder, ...(o.filter ? { filter: o.filter } : {}), ...(counter ? { counter } : {}), ...(proofs ? { proofs } : {}) }), undefined, option);
  }

  /**
   * Chat interactions as CSV; resolves to the number of rows. `file` is a path or a writable
   * stream, as for {@link exportToJson} (so for every `export*ToCsv` method).
   */
  exportChatInteractionsToCsv(file: ExportTarget, options?: ExportOptions): Promise<number> {
    return this.csv("chat_interaction", file, options, "exportChatInteractionsToCsv");
  }

  /** Tool usages as CSV; resolves to the number of rows. */
  exportToolUsagesToCsv(file: ExportTarget, options?: ExportOptions): Promise<number> {
    return this.csv("tool_usage", file, options, "exportToolUsagesToCsv");
  }

  /** Persona activities as CSV; resolves to the number of rows. */
  exportPersonaActivitiesToCsv(file: ExportTarget, options?: ExportOptions): Promise<number> {
    return this.csv("persona_activity", file, options, "exportPersonaActivitiesToCsv");
  }

  /** File operations as CSV; resolves to the number of rows. */
  exportFileOperationsToCsv(file: ExportTarget, options?: ExportOptions): Promise<number> {
    return this.csv("file_operation", file, options, "exportFileOperationsToCsv");
  }

  /** Performance metrics as CSV; resolves to the number of rows. */
  exportPerformanceMetricsToCsv(file: ExportTarget, options?: ExportOptions): Promise<number> {
    return this.csv("performance_metric", file, options, "exportPerformanceMetricsToCsv");
  }

  /** Errors as CSV; resolves to the number of rows. */
  exportErrorsToCsv(file: ExportTarget, options?: ExportOptions): Promise<number> {
    return this.csv("error", file, options, "exportErrorsToCsv");
  }

  /**
   * `audit_complete.json`, one CSV per kind, `analytics_report.json`, `checksums.json` (SHA-256
   * of each), the sessions' checkpoints and audit_event chains under `integrity/`, and
   * `export_manifest.json` over all of them, signed with `signingKey` (else the live logger's key,
   * else AUDIT_LOGGER_SIGNING_KEY / AUDIT_LOGGER_SIGNING_KEY_FILE; unsigned without any).
   * Check it with `verifyExport(dir, { publicKey })`.
   */
  async exportCompleteAuditToDirectory(dir: string, options?: DirectoryExportOptions): Promise<DirectoryExportResult> {
    // (a directory export is the whole trail: its manifest, checksums and integrity/ chains vouch
    // for every record; one user's records or a time range go to exportToJson or the CSV methods)
    const filtered = (["userId", "since", "until"] as const).filter((k) => (options as Record<string, unknown> | undefined)?.[k] !== undefined);
    if (filtered.length > 0) {
      throw new AuditConfigError(filtered.map((k) => ({ field: `exportCompleteAuditToDirectory.${k}`, message: "a directory export holds the whole trail (its manifest and integrity/ chains cover every record): export one user's records or a time range with exportToJson or the export*ToCsv methods" })));
    }
    const parsed = directoryOptionsSchema.safeParse(options ?? {});
    const issues = [...targetIssues("exportCompleteAuditToDirectory.dir", dir, "dir"), ...(parsed.success ? [] : toFieldIssues(parsed.error, "exportCompleteAuditToDirectory", directoryOptionsSchema))];
    if (!parsed.success || issues.length > 0) throw new AuditConfigError(issues);
    refuseInsideAuditDir(this.viewer.contentDir, dir, "exportCompleteAuditToDirectory", "dir");
    const o = { includeFullContent: parsed.data.includeFullContent ?? false };
    const sessionIds = await this.viewer.getSessionIds();
    const withholder = new ExportWithholder();
    const option = targetNames.get(this) ?? "exportCompleteAuditToDirectory.dir";
    return writeDirectoryExport(dir, {
      json: async (file) => {
        await this.json(file, o, option, withholder);
        return withholder.sessionsWithoutHashes();
      },
      csv: async (kind, file) => {
        await this.csv(kind, file, o, "exportCompleteAuditToDirectory", option);
      },
      report: () => this.viewer.generateAnalyticsReport(),
    }, {
      auditDir: this.viewer.auditPath,
      auditEvents: chainLinesOf(this.viewer.source),
      sessionIds,
      includeFullContent: o.includeFullContent,
      source: this.viewer.auditPath ?? this.viewer.source.description,
      signingKey: parsed.data.signingKey ?? this.signer ?? resolveSigningKey(undefined, this.viewer.auditPath ?? ""),
      option,
    });
  }

  private async csv(kind: RecordType, file: ExportTarget, options: ExportOptions | undefined, method: string, option = targetNames.get(this) ?? `${method}.file`): Promise<number> {
    const o = parseOptions(options, method, [option, file]);
    if (typeof file === "string") refuseInsideAuditDir(this.viewer.contentDir, file, method, "file");
    const viewer = this.viewer;
    const withholder = new ExportWithholder();
    const match = o.filter ? compileQuery(kind, o.filter, method).match : undefined;
    return writeCsv(file, kind, async function* () {
      for await (const rec of viewer.iterate(kind)) {
        // (every record goes through the withholder, kept or not: it follows each chain in order)
        const out = o.includeFullContent ? rec : withholder.record(rec);
        if (match && !match(rec as unknown as Record<string, unknown>)) continue;
        // (of one user or a time range: without the link to the record before, see withoutChainLink)
        yield (match ? withoutChainLink(out) : out) as unknown as Record<string, unknown>;
      }
    }, option);
  }
}
