/**
 * The complete export: the JSON document, one CSV per kind, the analytics report, and
 * `checksums.json` with the SHA-256 of each of those files.
 */
import fs from "node:fs";
import path from "node:path";
import { KIND_FILE_STEM, RECORD_KINDS, type RecordType } from "../types.js";
import { sha256File, writeAtomic } from "./output.js";

/** What `checksums.json` holds. */
export interface ChecksumManifest {
  readonly algorithm: "sha256";
  readonly createdAt: string;
  /** file name (relative to the export directory, `/`-separated) → hex digest */
  readonly files: Readonly<Record<string, string>>;
}

/** What `exportCompleteAuditToDirectory()` resolves to. */
export interface DirectoryExportResult {
  readonly directory: string;
  /** the files written, relative to `directory`, checksums.json last */
  readonly files: readonly string[];
  readonly checksums: ChecksumManifest;
}

/**
 * Names of the files in a directory export.
 *
 * @example
 * const sums = JSON.parse(fs.readFileSync(path.join(dir, DIRECTORY_CHECKSUMS), "utf8"));
 */
export const DIRECTORY_JSON = "audit_complete.json";
export const DIRECTORY_REPORT = "analytics_report.json";
export const DIRECTORY_CHECKSUMS = "checksums.json";

/**
 * The CSV file name of a kind in a directory export.
 *
 * @example
 * csvFileName("tool_usage") // "tool_usage.csv"
 */
export function csvFileName(kind: RecordType): string {
  return `${KIND_FILE_STEM[kind]}.csv`;
}

/** Writes every file through `steps`, then checksums.json over them. */
export async function writeDirectoryExport(
  dir: string,
  steps: {
    json: (file: string) => Promise<void>;
    csv: (kind: RecordType, file: string) => Promise<void>;
    report: () => Promise<unknown>;
  },
): Promise<DirectoryExportResult> {
  const directory = path.resolve(dir);
  await fs.promises.mkdir(directory, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  await steps.json(path.join(directory, DIRECTORY_JSON));
  files.push(DIRECTORY_JSON);
  for (const kind of RECORD_KINDS) {
    await steps.csv(kind, path.join(directory, csvFileName(kind)));
    files.push(csvFileName(kind));
  }
  const report = await steps.report();
  await writeAtomic(path.join(directory, DIRECTORY_REPORT), oneChunk(JSON.stringify(report, null, 2) + "\n"));
  files.push(DIRECTORY_REPORT);
  const digests: Record<string, string> = {};
  for (const f of files) digests[f] = await sha256File(path.join(directory, f));
  const checksums: ChecksumManifest = { algorithm: "sha256", createdAt: new Date().toISOString(), files: digests };
  await writeAtomic(path.join(directory, DIRECTORY_CHECKSUMS), oneChunk(JSON.stringify(checksums, null, 2) + "\n"));
  return { directory, files: [...files, DIRECTORY_CHECKSUMS], checksums };
}

async function* oneChunk(text: string): AsyncGenerator<string> {
  yield text;
}
