/**
 * The export buttons: the library's own AuditExporter writes the JSON or CSV export straight into
 * the response, as it is made. Nothing goes to disk: until 2026-12-05 the export was written
 * whole to a temporary file under TMPDIR first, so a download with content (`content=1`) of an
 * encrypted log put its decrypted prompts and responses on disk, and left them there when the
 * server died mid-download (found by review, 2026-12-05).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { AuditExporter, type ExportOptions } from "../export/exporter.js";
import { AuditViewer } from "../reader/viewer.js";
import { KIND_FILE_STEM, type RecordType } from "../types.js";
import { sendHead } from "./http.js";
import type { ServeData } from "./data.js";

/** What to export: every session or one, as JSON or as the CSV of one kind. */
export type DownloadSpec =
  | { readonly format: "json"; readonly sessionId?: string; readonly includeFullContent: boolean; readonly filter?: DownloadFilter }
  | { readonly format: "csv"; readonly kind: RecordType; readonly sessionId?: string; readonly includeFullContent: boolean; readonly filter?: DownloadFilter };

/** Only one user's records and/or a time range (the exporter's `userId`, `since`, `until`). */
export interface DownloadFilter {
  readonly userId?: string;
  readonly since?: string;
  readonly until?: string;
}

/** The file name the browser saves, e.g. `audit_s1.json`, `tool_usage_s1.csv` or `audit_all_user_alice.json`. */
export function downloadName(spec: DownloadSpec): string {
  // (a userId is any text: only file-name-safe characters reach the header)
  const user = spec.filter?.userId !== undefined ? `_user_${spec.filter.userId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64)}` : "";
  const who = `${spec.sessionId ?? "all"}${user}`;
  return spec.format === "json" ? `audit_${who}.json` : `${KIND_FILE_STEM[spec.kind]}_${who}.csv`;
}

/**
 * The response as the exporter's target: the status line and headers go out with the first
 * bytes (an export that fails before any is an ordinary error response), then every piece is
 * written with backpressure. A browser that goes away ends the export (its stream is destroyed).
 */
class ResponseTarget extends Writable {
  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
  ) {
    super({ decodeStrings: false });
    res.once("close", () => {
      if (!res.writableFinished) this.destroy(new Error("the browser closed the download"));
    });
  }

  /** Sends the status line and headers, when not yet sent. */
  start(): void {
    if (!this.res.headersSent) sendHead(this.res, 200, this.headers);
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.start();
    if (this.res.write(chunk)) done();
    else this.res.once("drain", () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.start();
    this.res.end(() => done());
  }
}

/**
 * Makes the export and streams it to `res` (chunked; a failure after the first bytes cuts the
 * connection, so the browser never keeps a truncated file as a whole one).
 *
 * @example
 * await sendDownload(req, res, data, { format: "csv", kind: "tool_usage", sessionId: "s1", includeFullContent: false });
 */
export async function sendDownload(req: IncomingMessage, res: ServerResponse, data: ServeData, spec: DownloadSpec): Promise<void> {
  const name = downloadName(spec);
  const headers = {
    "Content-Type": spec.format === "json" ? "application/json; charset=utf-8" : "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="${name}"`,
    "Cache-Control": "no-store",
  };
  if (req.method === "HEAD") {
    sendHead(res, 200, headers);
    res.end();
    return;
  }
  const viewer = new AuditViewer({
    // (with the writer's key stores: the page opened a record the download left encrypted; review, 2026-12-04)
    ...(data.store ? { postgres: { pool: data.store.pool, schema: data.store.schema, ...(data.store.contentDir !== undefined ? { contentDir: data.store.contentDir } : {}) } } : { auditPath: data.auditPath! }),
    ...(spec.sessionId !== undefined ? { sessionId: spec.sessionId } : {}),
    ...(data.keyInput !== undefined ? { encryptionKey: data.keyInput } : {}),
  });
  const exporter = new AuditExporter(viewer);
  const target = new ResponseTarget(res, headers);
  const o = { includeFullContent: spec.includeFullContent, ...spec.filter };
  if (spec.format === "json") await exporter.exportToJson(target, o);
  else await csvOf(exporter, spec.kind, target, o);
  // (the exporter leaves a stream open: ending it sends what it still buffers, then ends the response)
  target.end();
  await finished(target);
}

function csvOf(e: AuditExporter, kind: RecordType, file: NodeJS.WritableStream, o: ExportOptions): Promise<number> {
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
