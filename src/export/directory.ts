/**
 * The complete export: the JSON document, one CSV per kind, the analytics report,
 * `checksums.json` with the SHA-256 of each of those files, the sessions' signed checkpoints and
 * `audit_event` chains under `integrity/`, and `export_manifest.json` (signed when a signing key
 * is at hand) over all of them, which `verifyExport` checks.
 */
import fs from "node:fs";
import type { KeyObject } from "node:crypto";
import path from "node:path";
import { copyChainEvidence, EXPORT_INTEGRITY_DIR, EXPORT_MANIFEST, writeExportManifest, type ExportManifest } from "../integrity/export.js";
import type { SigningKey } from "../integrity/signing.js";
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
  /** the files written, relative to `directory` and `/`-separated, export_manifest.json last */
  readonly files: readonly string[];
  readonly checksums: ChecksumManifest;
  /** what export_manifest.json holds; `signature` is null when the export was not signed */
  readonly manifest: ExportManifest;
}

/** Where the export's integrity evidence comes from, and how the manifest is signed. */
export interface DirectoryIntegrity {
  /** the audit directory the records come from (undefined for a non-file source: nothing to copy) */
  readonly auditDir: string | undefined;
  readonly sessionIds: readonly string[];
  readonly includeFullContent: boolean;
  /** a path or connection description, written into the manifest */
  readonly source: string;
  /** Ed25519 private key for the manifest; unsigned without one */
  readonly signingKey: KeyObject | string | SigningKey | undefined;
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
export const DIRECTORY_MANIFEST = EXPORT_MANIFEST;

/**
 * The CSV file name of a kind in a directory export.
 *
 * @example
 * csvFileName("tool_usage") // "tool_usage.csv"
 */
export function csvFileName(kind: RecordType): string {
  return `${KIND_FILE_STEM[kind]}.csv`;
}

/**
 * Copies the checkpoints and audit_event chains first (so no checkpoint covers more than the
 * records read after it), writes every file through `steps`, then checksums.json, then the
 * manifest over everything.
 */
export async function writeDirectoryExport(
  dir: string,
  steps: {
    json: (file: string) => Promise<void>;
    csv: (kind: RecordType, file: string) => Promise<void>;
    report: () => Promise<unknown>;
  },
  integrity: DirectoryIntegrity,
): Promise<DirectoryExportResult> {
  const directory = path.resolve(dir);
  await fs.promises.mkdir(directory, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  // a previous export's integrity files would not match this one's manifest
  await fs.promises.rm(path.join(directory, EXPORT_INTEGRITY_DIR), { recursive: true, force: true });
  const evidence = integrity.auditDir ? copyChainEvidence(integrity.auditDir, directory, integrity.sessionIds) : [];
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
  const covered = [...files, DIRECTORY_CHECKSUMS, ...evidence];
  const manifest = writeExportManifest({
    exportDir: directory,
    files: covered,
    sessionIds: integrity.sessionIds,
    includeFullContent: integrity.includeFullContent,
    source: integrity.source,
    signingKey: integrity.signingKey,
  });
  return { directory, files: [...covered, DIRECTORY_MANIFEST], checksums, manifest };
}

async function* oneChunk(text: string): AsyncGenerator<string> {
  yield text;
}
