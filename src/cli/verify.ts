import path from "node:path";
/** `audit-logger verify <dir>`: checks every hash chain and content file with the core verifier. */
import fs from "node:fs";
import { AuditKeyError } from "../errors.js";
import { verifyAuditLog } from "../reader/verify.js";
import type { ExportProofReport, VerifyReport } from "../types.js";
import { verifyExportProofs } from "../integrity/verify-proofs.js";
import { EXPORT_MANIFEST } from "../integrity/export.js";
import { verifyPostgres } from "../postgres/verify.js";
import { EXIT_FAIL, EXIT_OK, noAuditLogsLine, parseCommand, selectSessions, sessionOption, shownArg, UsageError } from "./args.js";
import type { CliIO, Command } from "./io.js";
import { clean } from "./format.js";
import { ProgressBar } from "./progress.js";
import { bytesReadCounter, contentBytes, logBytes } from "./scan.js";
import { openStore, selectStoreSessions, STORE_OPTIONS, storeHelp, storeTarget } from "./store.js";

const HELP = `Usage: audit-logger verify <dir> [--session <id>] [--public-key <file>] [--require-signed] [--json]
       audit-logger verify --postgres <url> [--schema <name>] [--session <id>] [--json]
       audit-logger verify --export <file> --public-key <file> [--require-signed] [--json]

Checks every record's hash, the links between records, sequence numbers, rotated segments, and
every chat's full-content files against the digests in its record.

  <dir>            the audit directory, or a project directory containing audit_logs/
  --session <id>   verify one session only (default: every session)
  --public-key <file>
                   trusted Ed25519 public key (PEM) of the logger's signingKey: signed
                   checkpoints are checked against it (may be given more than once)
  --require-signed with --public-key: a session without signed checkpoints is a problem
                   (not_signed), not a note
  --export <file>  a JSON export made with --proofs (audit-logger export --format json
                   --proofs), checked without the logs: each record hashes as exported, its
                   inclusion proof leads to its chain's root in a signed checkpoint, and the
                   checkpoint's signature verifies with --public-key (needed); a record no
                   signed checkpoint covers yet is named in a note and a last line NOT PROVEN
                   (--json: "status": "unproven"), exit 0; with --require-signed, a problem,
                   exit 1
  --json           print the verifier's report as JSON
${storeHelp(17)}
  -h, --help       show this help

Over --postgres, every stored line's hash, the links, the sequence numbers, the envelope columns
and the checkpoints the sinks stored are checked; a chain may start after seq 1 only where the
retention function logged a cut. Signed checkpoints and content files stay with each instance's
directory: verify those there.

Problems are evidence of damage or tampering; notes are findings that are not (a torn final line
after a crash, content files that belong to no record, ...).

Exit codes: 0 no problems, 1 problems found (or nothing to verify, or the store is unreachable),
2 bad usage.`;

function readPem(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`option --public-key: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * The report as lines. File names and details come from the directory (a planted file name, a
 * record's text quoted in a detail): control characters are shown as escapes, as `tail` and
 * `report` do (until 2026-12-05 they reached the terminal: a name holding ESC [2J cleared it).
 */
function printReport(r: VerifyReport, where: string, io: CliIO): void {
  const c = io.color;
  for (const p of r.problems) {
    io.out(`${c.red("PROBLEM")} ${c.bold(clean(p.kind))} ${clean(p.file)}${p.seq !== undefined ? ` seq ${p.seq}` : ""}: ${clean(p.detail)}`);
  }
  for (const n of r.notes) {
    io.out(`${c.yellow("note")} ${clean(n.kind)}${n.file !== undefined ? ` ${clean(n.file)}` : ""}${n.seq !== undefined ? ` seq ${n.seq}` : ""}: ${clean(n.detail)}`);
  }
  const what = `${r.recordsChecked} record${r.recordsChecked === 1 ? "" : "s"} in ${r.sessions.length} session${r.sessions.length === 1 ? "" : "s"} (${clean(where)})`;
  if (r.ok) io.out(`${c.green("OK")} ${what}: no problems, ${r.notes.length} note${r.notes.length === 1 ? "" : "s"}.`);
  else io.out(`${c.red("FAILED")} ${what}: ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}, ${r.notes.length} note${r.notes.length === 1 ? "" : "s"}.`);
}

function nothingToVerify(where: string, overStore: boolean, json: boolean, io: CliIO): number {
  if (json) io.out(JSON.stringify({ ok: false, sessions: [], recordsChecked: 0, problems: [], notes: [{ kind: "no_sessions", detail: `No audit logs in ${where}.` }] }, null, 2));
  else io.err(noAuditLogsLine("verify", where, overStore));
  return EXIT_FAIL;
}

/**
 * @example
 * // $ audit-logger verify ./audit_logs --json
 * // $ audit-logger verify --postgres postgres://audit@db:5432/audit
 */
export const verifyCommand: Command = {
  name: "verify",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommand("verify", argv, {
      session: { type: "string" },
      "public-key": { type: "string", multiple: true },
      "require-signed": { type: "boolean" },
      json: { type: "boolean" },
      export: { type: "string" },
      ...STORE_OPTIONS,
    });
    if (values.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    if (values.export !== undefined) return verifyExportFile(values, positionals, io);
    const target = storeTarget("verify", positionals, values);
    const session = sessionOption(values.session);
    const requireSigned = values["require-signed"] === true;
    if (requireSigned && values["public-key"] === undefined) throw new UsageError("option --require-signed needs --public-key: a checkpoint counts as signed only against a trusted key");
    if (target.kind === "postgres") {
      if (values["public-key"] !== undefined) throw new UsageError("option --public-key applies to a <dir>: signed checkpoints are kept in each instance's audit directory, not in the store");
      const store = await openStore(target);
      let report: VerifyReport;
      try {
        const sessions = await selectStoreSessions(store, session);
        if (sessions.length === 0) return nothingToVerify(store.description, true, values.json === true, io);
        report = await verifyPostgres({ pool: store.pool, schema: store.schema, ...(session !== undefined ? { sessionId: session } : {}) });
      } finally {
        await store.close();
      }
      if (values.json) io.out(JSON.stringify(report, null, 2));
      else printReport(report, store.description, io);
      return report.ok ? EXIT_OK : EXIT_FAIL;
    }
    const dir = target.dir;
    const publicKeys = (values["public-key"] ?? []).map(readPem);
    const isExport = fs.existsSync(path.join(dir, EXPORT_MANIFEST));
    const sessions = isExport ? [] : selectSessions(dir, session);
    if (!isExport && sessions.length === 0) return nothingToVerify(dir, false, values.json === true, io);
    // the core verifier has no progress callback: watch the process's read counter instead
    const bar = new ProgressBar("verify", logBytes(dir, sessions) + (session === undefined ? contentBytes(dir) : 0), io.stderr);
    const readSoFar = bytesReadCounter();
    const timer = bar.active ? setInterval(() => bar.update(readSoFar() ?? 0), 100) : undefined;
    let report: VerifyReport;
    try {
      report = await verifyAuditLog(dir, { ...(session !== undefined ? { sessionId: session } : {}), ...(publicKeys.length > 0 ? { publicKey: publicKeys } : {}), ...(requireSigned ? { requireSigned } : {}) });
    } catch (err) {
      if (err instanceof AuditKeyError && publicKeys.length > 0) throw new UsageError(`option --public-key: ${err.message}`, undefined, "AUDIT_ERR_KEY");
      throw err;
    } finally {
      if (timer) clearInterval(timer);
      bar.done();
    }
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else printReport(report, dir, io);
    return report.ok ? EXIT_OK : EXIT_FAIL;
  },
};

/**
 * `verify --export <file> --public-key <pem>`: a JSON export made with proofs, checked with the
 * export and the key alone (verifyExportProofs).
 */
async function verifyExportFile(
  values: { export?: string | undefined; "public-key"?: string[] | undefined; "require-signed"?: boolean | undefined; json?: boolean | undefined; session?: string | undefined; postgres?: string | undefined; schema?: string | undefined },
  positionals: readonly string[],
  io: CliIO,
): Promise<number> {
  const file = values.export ?? "";
  if (file === "") throw new UsageError("option --export must be the JSON export's file");
  if (positionals.length > 0) throw new UsageError(`give either a <dir> or --export <file>, not both (got <dir> "${shownArg(positionals[0]!)}" and --export)`);
  if (values.postgres !== undefined || values.schema !== undefined) throw new UsageError("option --export checks a file on its own: --postgres and --schema do not apply");
  if (values.session !== undefined) throw new UsageError("option --session does not apply to --export: every record of the export is checked");
  if (values["public-key"] === undefined) throw new UsageError("option --export needs --public-key: the proofs lead to checkpoints that count only when signed by a trusted key");
  const stat = (() => {
    try {
      return fs.statSync(file);
    } catch (err) {
      throw new UsageError(`option --export: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  })();
  if (!stat.isFile()) throw new UsageError(`option --export: "${file}" is not a regular file`);
  const publicKeys = values["public-key"].map(readPem);
  let report: ExportProofReport;
  try {
    report = await verifyExportProofs(file, { publicKey: publicKeys, ...(values["require-signed"] === true ? { requireSigned: true } : {}) });
  } catch (err) {
    if (err instanceof AuditKeyError) throw new UsageError(`option --public-key: ${err.message}`, undefined, "AUDIT_ERR_KEY");
    throw err;
  }
  if (values.json) io.out(JSON.stringify(report, null, 2));
  else {
    printReport(report, file, io);
    // (ok, and yet not every record proven: said apart from the notes, on the last line)
    if (report.status === "unproven") {
      const n = report.records.filter((r) => r.status === "uncovered" || r.status === "withheld").length;
      io.out(
        `${io.color.yellow("NOT PROVEN")} ${n} of ${report.records.length} record${report.records.length === 1 ? "" : "s"} (session${report.unprovenSessions.length === 1 ? "" : "s"} ${report.unprovenSessions.map(clean).join(", ")}) ${n === 1 ? "has" : "have"} no proof against a signed checkpoint: nothing but the exporter vouches for ${n === 1 ? "it" : "them"}. Use --require-signed to fail on this.`,
      );
    }
  }
  return report.ok ? EXIT_OK : EXIT_FAIL;
}
