export { AuditExporter, type ExportOptions, type DirectoryExportOptions } from "./exporter.js";
export { neutralizeCsvText, restoreCsvText, CSV_COLUMNS } from "./csv.js";
export { WITHHELD_MARKER, CONTENT_FIELDS } from "./withhold.js";
export { JSON_EXPORT_FORMAT } from "./json.js";
export { csvFileName, DIRECTORY_CHECKSUMS, DIRECTORY_JSON, DIRECTORY_MANIFEST, DIRECTORY_REPORT, type ChecksumManifest, type DirectoryExportResult, type DirectoryIntegrity } from "./directory.js";
