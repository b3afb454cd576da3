/**
 * The export buttons: the library's own AuditExporter writes the JSON or CSV export to a private
 * temporary directory, the file is streamed to the browser as an attachment, then removed.
 */
import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { AuditExporter } from "../export/exporter.js";
import { AuditViewer } from "../reader/viewer.js";
import { KIND_FILE_STEM, type RecordType } from "../types.js";
import { sendHead } from "./http.js";
import type { ServeData } from "./data.js";

/** What to export: every session or one, as JSON or as the CSV of one kind. */
export type DownloadSpec =
  | { readonly format: "json"; readonly sessionId?: string; readonly includeFullContent: boolean }
  | { readonly format: "csv"; readonly kind: RecordType; readonly sessionId?: string; readonly includeFullContent: boolean };

/** The file name the browser saves, e.g. `audit_s1.json` or `tool_usage_s1.csv`. */
export function downloadName(spec: DownloadSpec): string {
  const who = spec.sessionId ?? "all";
  return spec.format === "json" ? `audit_${who}.json` : `${KIND_FILE_STEM[spec.kind]}_${who}.csv`;
}

/**
 * Writes the export and streams it to `res`.
 *
 * @example
 * await sendDownload(req, res, data, { format: "csv", kind: "tool_usage", sessionId: "s1", includeFullContent: false });
 */
export async function sendDownload(req: IncomingMessage, res: ServerResponse, data: ServeData, spec: DownloadSpec): Promise<void> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "audit-serve-"));
  try {
    const viewer = new AuditViewer({
      // (with the writer's key stores: the page opened a record the download left encrypted; review, 2026-12-04)
      ...(data.store ? { postgres: { pool: data.store.pool, schema: data.store.schema, ...(data.store.contentDir !== undefined ? { contentDir: data.store.contentDir } : {}) } } : { auditPath: data.auditPath! }),
      ...(spec.sessionId !== undefined ? { sessionId: spec.sessionId } : {}),
      ...(data.keyInput !== undefined ? { encryptionKey: data.keyInput } : {}),
    });
    const exporter = new AuditExporter(viewer);
    const name = downloadName(spec);
    const file = path.join(dir, name);
    const o = { includeFullContent: spec.includeFullContent };
    if (spec.format === "json") await exporter.exportToJson(file, o);
    else await csvOf(exporter, spec.kind, file, o);
    const size = (await fs.promises.stat(file)).size;
    sendHead(res, 200, {
      "Content-Type": spec.format === "json" ? "application/json; charset=utf-8" : "text/csv; charset=utf-8",
      "Content-Length": size,
      "Content-Disposition": `attachment; filename="${name}"`,
      "Cache-Control": "no-store",
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    await pipeline(fs.createReadStream(file), res);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

function csvOf(e: AuditExporter, kind: RecordType, file: string, o: { includeFullContent: boolean }): Promise<number> {
  switch (kind) {
    case "chat_interaction":
      return e.exportChatInteractionsToCsv(file, o);
    case "tool_usage":
      return e.exportToolUsagesToCsv(file, o);
    case "persona_activity":
      return e.exportPersonaActivitiesToCsv(file, o);
    case "file_operation":
      return e.exportFileOperationsToCsv(file, o);
    case "performance_metric":
      return e.exportPerformanceMetricsToCsv(file, o);
    case "error":
      return e.exportErrorsToCsv(file, o);
  }
}
