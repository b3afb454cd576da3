/** `audit-logger export <dir>`: JSON, CSV per kind, or a complete directory with checksums. */
import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { AuditExporter, countJsonRecords, nameExportTarget, type ExportOptions } from "../export/exporter.js";
import type { AuditViewer } from "../reader/viewer.js";
import { csvFileName, precheckDirectoryTarget } from "../export/directory.js";
import { refuseNonRegularTarget, type ExportTarget } from "../export/output.js";
import { listKindFiles, listSessionIds, safeReaddir } from "../sink/files.js";
import { RECORD_KINDS, type RecordType } from "../types.js";
import { names } from "../postgres/schema.js";
import { insideReal } from "../path-inside.js";
import { choiceOption, EXIT_FAIL, EXIT_OK, kindOption, contentDirOption, noAuditLogsLine, parseCommand, sessionOption, timeRangeOptions, UsageError } from "./args.js";
import { drained, type CliIO, type Command } from "./io.js";
import { loadCliKey } from "./keys.js";
import { STORE_OPTIONS, storeHelp, storeTarget, type OpenStore } from "./store.js";
import { openSource } from "./viewer-io.js";
import { verifyAuditLog } from "../reader/verify.js";
import { EXPORT_MANIFEST, UNSIGNED_MANIFEST_FIX } from "../integrity/export.js";
import { verifyPostgres } from "../postgres/verify.js";
import { againIfEnded } from "../postgres/store-error.js";
import { verifyCommandFor } from "./verdict.js";
import { makeDirSync } from "../make-dir.js";

const FORMATS = ["json", "csv", "dir"] as const;

const HELP = `Usage: audit-logger export <dir> --format json|csv|dir --out <path>
                           [--include-content] [--key-file <file>] [--session <id>] [--kind <kind>]
                           [--user <userId>] [--since <time>] [--until <time>] [--proofs]
       audit-logger export --postgres <url> [--schema <name>] --format json|csv|dir --out <path> [options]

Writes the trail out. Each file appears only when complete (written under a temporary name, then
renamed); an existing regular file of the same name is replaced.

  <dir>               the audit directory, or a project directory containing audit_logs/
  --format json       one JSON document: session summaries and every record; --out is a file
  --format csv        one CSV per kind (chat_interactions.csv, tool_usage.csv, ...) in the
                      directory --out; with --kind, only that kind, to the file --out
  --format dir        the complete export in the directory --out: audit_complete.json, one CSV
                      per kind, analytics_report.json, checksums.json (SHA-256 of each file),
                      the sessions' checkpoints and audit_event chains under integrity/, and
                      export_manifest.json over all of them (signed with the key of
                      AUDIT_LOGGER_SIGNING_KEY_FILE or AUDIT_LOGGER_SIGNING_KEY, the logger's
                      signingKey: without one it is unsigned, and verify --public-key of the
                      export reports export_manifest_unsigned);
                      the directory must not contain the audit directory, and an integrity/
                      folder in it must be an earlier export's (its files are replaced)
  --out <path>        where to write (must be outside the audit directory); a file that
                      exists must be a regular file (a FIFO, a device such as /dev/stdout or a
                      symbolic link is refused, untouched); with --format json, or csv with
                      --kind, "-" writes to standard output
  --include-content   include prompts, responses, previews, tool calls, parameters and results;
                      without it they are replaced by "[content withheld from export]"
  --key-file <file>   key to decrypt encrypted content (default: the AUDIT_LOGGER_KEY variable);
                      without a key, encrypted content stays encrypted and is marked so
  --session <id>      one session only (default: every session)
  --kind <kind>       with --format csv: one kind only (${RECORD_KINDS.join(", ")})
  --user <userId>     with --format json or csv: only that user's records, of every kind and
                      session (a data-subject access request); the JSON lists only the sessions
                      holding one (id and times), and says "filter"; records keep their own
                      hash, not prevHash (another user's record): see docs/TRUST.md
  --since <time>      with --format json or csv: only records at or after this time (ISO 8601,
                      e.g. 2025-05-01 or 2025-05-01T09:30:00Z; UTC when it has no offset)
  --until <time>      likewise, only records before this time
  --proofs            with --format json of a <dir>: each record gets its inclusion proof
                      (RFC 6962 audit path) up to its session's newest signed checkpoint, which
                      the export carries, so that it can be checked without the logs:
                      audit-logger verify --export <file> --public-key <file> (see docs/TRUST.md)
${storeHelp(20)}
  --content-dir <dir> with --postgres and --include-content: an instance's audit directory,
                      to read the prompt and response files its chats point to
  -h, --help          show this help

Over --postgres, full-content files (prompt and response files) are not in the store: each
instance keeps them in its own audit directory (see --content-dir); without them, an export with
--include-content has the previews and marks each chat's full content as missing.

The logs are verified after they are exported (as audit-logger verify does, without a public
key): when they do not verify, the export is written all the same, the problems are printed on
stderr, and the exit code is 1 (an export made without content leaves out the chain hashes that
would show an edit, so the export's own verify cannot).

With --user, --since or --until, an export that matches no record is still written (it holds
none), says so on stderr, and exits 0.

Exit codes: 0 written, 1 no audit logs found, the export failed (or the store is unreachable),
or the logs exported do not verify, 2 bad usage.`;

/** True when some session holds encrypted values: encryption is per session, so its first records tell. */
function anyEncrypted(dir: string, sessions: readonly string[]): boolean {
  const names = safeReaddir(dir);
  return sessions.some((s) =>
    (["chat_interaction", "tool_usage"] as const).some((k) => {
      const first = listKindFiles(dir, k, s, names)[0];
      return first !== undefined && headOf(first.path).includes('"$enc":"aes-256-gcm/v1"');
    }),
  );
}

/** The same check over the store: the first chat and tool record of each session. */
async function anyEncryptedInStore(store: OpenStore, sessions: readonly string[]): Promise<boolean> {
  const n = names(store.schema);
  for (const s of sessions) {
    // (once more on a new connection when the server ended this one under it: see againIfEnded)
    const r = await againIfEnded(() =>
      store.pool.query<{ line: string }>(
        `SELECT line FROM (SELECT DISTINCT ON (kind) kind, line FROM ${n.records} WHERE session_id = $1 AND kind IN ('chat_interaction', 'tool_usage') ORDER BY kind, seq) f`,
        [s],
      ),
    );
    if (r.rows.some((row) => row.line.includes('"$enc":"aes-256-gcm/v1"'))) return true;
  }
  return false;
}


function headOf(file: string): string {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    const buf = Buffer.alloc(64 * 1024);
    return buf.toString("utf8", 0, fs.readSync(fd, buf, 0, buf.length, 0));
  } catch {
    return "";
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

const CSV_METHOD: Record<RecordType, (e: AuditExporter, file: ExportTarget, o: ExportOptions) => Promise<number>> = {
  chat_interaction: (e, f, o) => e.exportChatInteractionsToCsv(f, o),
  tool_usage: (e, f, o) => e.exportToolUsagesToCsv(f, o),
  persona_activity: (e, f, o) => e.exportPersonaActivitiesToCsv(f, o),
  file_operation: (e, f, o) => e.exportFileOperationsToCsv(f, o),
  performance_metric: (e, f, o) => e.exportPerformanceMetricsToCsv(f, o),
  error: (e, f, o) => e.exportErrorsToCsv(f, o),
};

/**
 * @example
 * // $ audit-logger export ./audit_logs --format dir --out ./audit_exports
 * // $ audit-logger export --postgres postgres://audit@db:5432/audit --format csv --out ./csv
 */
export const exportCommand: Command = {
  name: "export",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommand("export", argv, {
      format: { type: "string" },
      out: { type: "string" },
      "include-content": { type: "boolean" },
      "key-file": { type: "string" },
      session: { type: "string" },
      kind: { type: "string" },
      user: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      "content-dir": { type: "string" },
      proofs: { type: "boolean" },
      ...STORE_OPTIONS,
    });
    if (values.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const target = storeTarget("export", positionals, values);
    const format = choiceOption("--format", values.format, FORMATS);
    if (format === undefined) throw new UsageError(`option --format is required: one of ${FORMATS.join(", ")}`);
    if (values.out === undefined || values.out === "") throw new UsageError("option --out is required: the file (json) or directory (csv, dir) to write");
    const kind = kindOption(values.kind, RECORD_KINDS);
    if (kind !== undefined && format !== "csv") throw new UsageError("option --kind only applies to --format csv");
    const toStdout = values.out === "-";
    if (toStdout && format !== "json" && kind === undefined) throw new UsageError("option --out - (standard output) only applies to --format json and to --format csv with --kind");
    const out = toStdout ? "-" : path.resolve(values.out);
    if (values["content-dir"] !== undefined && target.kind === "dir") throw new UsageError("option --content-dir only applies with --postgres: a <dir> holds its own content files");
    const contentDir = values["content-dir"] !== undefined ? contentDirOption(values["content-dir"]) : undefined;
    // the audit directory read: <dir>, or over --postgres the --content-dir whose content files the
    // export opens (an export there was written beside the logs until 2026-12-05)
    const auditDir = target.kind === "dir" ? target.dir : contentDir;
    if (!toStdout && auditDir !== undefined && insideReal(auditDir, out)) {
      // a <dir> that holds no audit logs (a project directory whose logs are elsewhere) is said to be
      // that, as with an --out elsewhere: until 2026-12-06 "--out ... is inside the audit directory <dir>"
      if (target.kind === "dir" && listSessionIds(auditDir).length === 0) {
        io.err(noAuditLogsLine("export", auditDir, false));
        return EXIT_FAIL;
      }
      throw new UsageError(`option --out: "${values.out}" is inside the audit directory ${auditDir}; write the export somewhere else`);
    }
    if (format === "dir" && auditDir !== undefined && insideReal(out, auditDir)) {
      throw new UsageError(`option --out: "${values.out}" contains the audit directory ${auditDir}; write the export to a directory of its own`);
    }
    // (before reading the trail: a target the export may not replace)
    if (format === "dir") precheckDirectoryTarget(out, "option --out");
    else if (!toStdout && (format === "json" || kind !== undefined)) {
      const refused = refuseNonRegularTarget(out, "option --out");
      if (refused) throw refused;
    } else if (!toStdout) {
      // (every kind's file, before any is written: a FIFO at errors.csv was refused, "nothing was
      // written", after the five other files were; found by the CLI pass, 2026-12-06)
      for (const k of RECORD_KINDS) {
        const refused = refuseNonRegularTarget(path.join(out, csvFileName(k)), "option --out", "");
        if (refused) throw refused;
      }
    }
    const session = sessionOption(values.session);
    if (values.user === "") throw new UsageError("option --user must be a userId");
    const filter = {
      ...(values.user !== undefined ? { userId: values.user } : {}),
      ...timeRangeOptions(values.since, values.until),
    };
    const filterFlags = (["user", "since", "until"] as const).filter((k) => values[k] !== undefined);
    if (format === "dir" && filterFlags.length > 0) {
      throw new UsageError(`option --${filterFlags[0]} only applies to --format json and csv: a directory export is the whole trail (its manifest and integrity/ chains cover every record)`);
    }
    const proofs = values.proofs === true;
    if (proofs && format !== "json") throw new UsageError("option --proofs only applies to --format json (a directory export carries its checkpoints and chains under integrity/)");
    if (proofs && target.kind === "postgres") throw new UsageError("option --proofs applies to a <dir>: signed checkpoints are kept in each instance's audit directory, not in the store");
    const includeFullContent = values["include-content"] === true;
    const key = loadCliKey(values["key-file"], io.env, auditDir);

    const passes = format === "dir" ? 5 : 2; // reads of the whole trail each format makes
    const src = await openSource(target, session, io, key, { passes, ...(session !== undefined ? { sessionId: session } : {}), ...(contentDir !== undefined ? { contentDir } : {}) });
    try {
      const sessions = src.sessions;
      if (sessions.length === 0) {
        io.err(noAuditLogsLine("export", src.where, src.store !== undefined));
        return EXIT_FAIL;
      }
      const encrypted = includeFullContent && !key && (src.store ? await anyEncryptedInStore(src.store, sessions) : target.kind === "dir" && anyEncrypted(target.dir, sessions));
      if (encrypted) {
        io.err(io.errColor.yellow("audit-logger export: no key given (--key-file or AUDIT_LOGGER_KEY): encrypted content is exported still encrypted and marked so."));
      }
      const { records: written, unsignedManifest } = await write(src.viewer, format, kind, out, { includeFullContent, ...filter, ...(proofs ? { proofs } : {}) }, io);
      // (a data-subject request for a userId that is not in the logs wrote an empty export and said
      // nothing, exit 0, until 2026-12-06: it says so on stderr, and still exits 0, as grep's "no
      // match" is not a failure of the export; the file is written, an answer of "none")
      if (written === 0 && filterFlags.length > 0) {
        const by = filterFlags.map((f) => `--${f} ${values[f]}`).join(" ");
        io.err(io.errColor.yellow(`audit-logger export: no record matched ${by}${kind !== undefined ? ` (of kind ${kind})` : ""}${session !== undefined ? ` in session ${session}` : ""}: the export holds none.`));
      }
      // (an export without content leaves out the chain hashes of a log that is not encrypted, so the
      // export's own verify cannot see an edit made before it: the logs are checked here, and an
      // export of logs that do not verify says so and fails; found by the viewer pass, 2026-12-05)
      // (the store as `verify --postgres` checks it: until 2026-12-05 an export of a store whose
      // rows were edited said nothing and exited 0; found by the DSAR pass)
      let failed = false;
      const check =
        target.kind === "dir"
          ? await verifyAuditLog(target.dir, session !== undefined ? { sessionId: session } : {})
          : src.store !== undefined
            ? await verifyPostgres({ pool: src.store.pool, schema: src.store.schema, ...(session !== undefined ? { sessionId: session } : {}) })
            : undefined;
      // (a directory export of signed logs made with no signing key at hand has an unsigned
      // manifest, which `verify --public-key` of the export reports as export_manifest_unsigned:
      // say so, and where the key goes; until 2026-12-06 nothing did: new-user pass)
      if (unsignedManifest && target.kind === "dir" && check !== undefined && !check.notes.some((n) => n.kind === "no_checkpoints")) {
        io.err(io.errColor.yellow(`audit-logger export: ${EXPORT_MANIFEST} is not signed, though the logs' checkpoints are: no signing key was given. ${UNSIGNED_MANIFEST_FIX}`));
      }
      if (check !== undefined) {
        // (an export of one user or a time range is evidence with the logs it came from: say that
        // they verified, and how its records are found in them; see docs/TRUST.md)
        if (check.ok && filterFlags.length > 0 && !toStdout) {
          const unsigned = check.notes.some((n) => n.kind === "self_consistent_only");
          io.out(
            `the logs verify (${check.recordsChecked} record${check.recordsChecked === 1 ? "" : "s"} in ${check.sessions.length} session${check.sessions.length === 1 ? "" : "s"}${unsigned ? "; no public key: self-consistent only, run audit-logger verify --public-key for the signed checkpoints" : ""}): each exported record's sessionId, type, seq and hash (where kept) name its line in them; ${proofs ? `each carries its inclusion proof (prevHash in it) up to a signed checkpoint, or says why not: check it without the logs with audit-logger verify --export ${out} --public-key <file>` : "prevHash, the link to another record, is left out"}`,
          );
        }
        if (!check.ok) {
          failed = true;
          const shown = check.problems.slice(0, 5).map((p) => `  ${p.kind} ${p.file}${p.seq !== undefined ? ` seq ${p.seq}` : ""}`);
          const more = check.problems.length > shown.length ? [`  … and ${check.problems.length - shown.length} more`] : [];
          io.err(
            io.errColor.red(
              `audit-logger export: the logs do not verify (${check.problems.length} problem${check.problems.length === 1 ? "" : "s"}); the export holds their records as they are now, and an export without content cannot show it (its chain hashes are left out): run ${verifyCommandFor(target)}\n${[...shown, ...more].join("\n")}`,
            ),
          );
        }
      }
      const skipped = src.viewer.unreadableLines;
      if (skipped > 0) {
        io.err(io.errColor.yellow(`audit-logger export: ${skipped} line${skipped === 1 ? "" : "s"} of the logs ${skipped === 1 ? "is" : "are"} not a whole record (a torn final line, or damage) and ${skipped === 1 ? "is" : "are"} not in the export: run audit-logger verify.`));
      }
      if (failed) return EXIT_FAIL;
    } finally {
      await src.close();
    }
    return EXIT_OK;
  },
};

/** The command's standard output as a stream for the exporter (with backpressure); never ended. */
function stdoutStream(io: CliIO): Writable {
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, done) {
      if (io.stdout.write(typeof chunk === "string" ? chunk : chunk.toString("utf8"))) done();
      else drained(io.stdout).then(() => done(), done);
    },
  });
}

/**
 * Writes the export and says what it wrote; resolves to the number of records (json, csv; undefined
 * for dir) and, for dir, whether its manifest went unsigned (no signing key at hand).
 */
async function write(viewer: AuditViewer, format: (typeof FORMATS)[number], kind: RecordType | undefined, out: string, o: ExportOptions, io: CliIO): Promise<{ records: number | undefined; unsignedManifest: boolean }> {
  const exporter = nameExportTarget(new AuditExporter(viewer), "option --out");
  // (--out -: the data alone on stdout, no "wrote" lines)
  const target: ExportTarget = out === "-" ? stdoutStream(io) : out;
  // (the directory, or the file's, made here to name --out if it cannot be: see makeDirSync)
  const whole = format === "dir" || (format === "csv" && kind === undefined);
  if (out !== "-") makeDirSync(whole ? out : path.dirname(path.resolve(out)), 0o700, "option --out");
  if (format === "json") {
    const counted = countJsonRecords(exporter);
    await exporter.exportToJson(target, o);
    if (out !== "-") report(io, [`${out} (${plural(counted.records, "record")})`]);
    return { records: counted.records, unsignedManifest: false };
  } else if (format === "dir") {
    const r = await exporter.exportCompleteAuditToDirectory(out, { includeFullContent: o.includeFullContent });
    report(io, r.files.map((f) => path.join(r.directory, f)));
    return { records: undefined, unsignedManifest: r.manifest.signature === null };
  } else if (kind !== undefined) {
    const rows = await CSV_METHOD[kind](exporter, target, o);
    if (out !== "-") report(io, [`${out} (${plural(rows, "row")})`]);
    return { records: rows, unsignedManifest: false };
  }
  const written: string[] = [];
  let total = 0;
  for (const k of RECORD_KINDS) {
    const file = path.join(out, csvFileName(k));
    const rows = await CSV_METHOD[k](exporter, file, o);
    total += rows;
    written.push(`${file} (${plural(rows, "row")})`);
  }
  report(io, written);
  return { records: total, unsignedManifest: false };
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function report(io: CliIO, files: readonly string[]): void {
  for (const f of files) io.out(`wrote ${f}`);
}
