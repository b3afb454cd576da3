import { z } from "zod";
import { AuditConfigError } from "../errors.js";
import type { AuditLogger } from "../logger.js";
import { toFieldIssues } from "../record/issues.js";
import { AuditViewer, type AuditViewerOptions } from "../reader/viewer.js";
import type { RecordType } from "../types.js";
import { writeCsv } from "./csv.js";
import { writeDirectoryExport, type DirectoryExportResult } from "./directory.js";
import { jsonExportChunks } from "./json.js";
import { writeAtomic } from "./output.js";
import { withholdContent } from "./withhold.js";

/**
 * Options of an export. `includeFullContent` (default false) puts prompts, responses, previews,
 * tool calls, tool parameters and results (decrypted when a key is given) in the export; without
 * it they are replaced by a marker and the record lists them in `contentWithheld`.
 */
export interface ExportOptions {
  readonly includeFullContent?: boolean;
}

const exportOptionsSchema = z.strictObject({ includeFullContent: z.boolean().optional() });

function parseOptions(o: ExportOptions | undefined, method: string): Required<ExportOptions> {
  const r = exportOptionsSchema.safeParse(o ?? {});
  if (!r.success) throw new AuditConfigError(toFieldIssues(r.error, method));
  return { includeFullContent: r.data.includeFullContent ?? false };
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

  constructor(from: AuditLogger | AuditViewer | AuditViewerOptions) {
    this.viewer = from instanceof AuditViewer ? from : new AuditViewer(from);
  }

  /** One JSON document: session summaries and every record of every kind. */
  async exportToJson(file: string, options?: ExportOptions): Promise<void> {
    const o = parseOptions(options, "exportToJson");
    await writeAtomic(file, jsonExportChunks(this.viewer, { ...o, exportedAt: new Date().toISOString() }));
  }

  /** Chat interactions as CSV; resolves to the number of rows. */
  exportChatInteractionsToCsv(file: string, options?: ExportOptions): Promise<number> {
    return this.csv("chat_interaction", file, options, "exportChatInteractionsToCsv");
  }

  /** Tool usages as CSV; resolves to the number of rows. */
  exportToolUsagesToCsv(file: string, options?: ExportOptions): Promise<number> {
    return this.csv("tool_usage", file, options, "exportToolUsagesToCsv");
  }

  /** Persona activities as CSV; resolves to the number of rows. */
  exportPersonaActivitiesToCsv(file: string, options?: ExportOptions): Promise<number> {
    return this.csv("persona_activity", file, options, "exportPersonaActivitiesToCsv");
  }

  /** File operations as CSV; resolves to the number of rows. */
  exportFileOperationsToCsv(file: string, options?: ExportOptions): Promise<number> {
    return this.csv("file_operation", file, options, "exportFileOperationsToCsv");
  }

  /** Performance metrics as CSV; resolves to the number of rows. */
  exportPerformanceMetricsToCsv(file: string, options?: ExportOptions): Promise<number> {
    return this.csv("performance_metric", file, options, "exportPerformanceMetricsToCsv");
  }

  /** Errors as CSV; resolves to the number of rows. */
  exportErrorsToCsv(file: string, options?: ExportOptions): Promise<number> {
    return this.csv("error", file, options, "exportErrorsToCsv");
  }

  /**
   * `audit_complete.json`, one CSV per kind, `analytics_report.json` and `checksums.json` (SHA-256
   * of each) in `dir`.
   */
  async exportCompleteAuditToDirectory(dir: string, options?: ExportOptions): Promise<DirectoryExportResult> {
    const o = parseOptions(options, "exportCompleteAuditToDirectory");
    return writeDirectoryExport(dir, {
      json: (file) => this.exportToJson(file, o),
      csv: async (kind, file) => {
        await this.csv(kind, file, o, "exportCompleteAuditToDirectory");
      },
      report: () => this.viewer.generateAnalyticsReport(),
    });
  }

  private async csv(kind: RecordType, file: string, options: ExportOptions | undefined, method: string): Promise<number> {
    const o = parseOptions(options, method);
    const viewer = this.viewer;
    return writeCsv(file, kind, async function* () {
      for await (const rec of viewer.iterate(kind)) yield (o.includeFullContent ? rec : withholdContent(rec)) as unknown as Record<string, unknown>;
    });
  }
}
