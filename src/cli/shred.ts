/** `audit-logger shred <dir> --user <id>`: crypto-shredding of one subject across the directory. */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { AuditLogger } from "../logger.js";
import { EXIT_FAIL, EXIT_OK, parseCommand, resolveAuditDir, singleDir, UsageError } from "./args.js";
import { PostgresSink } from "../postgres/sink.js";
import { DEFAULT_SCHEMA, schemaNameSchema } from "../postgres/schema.js";
import { postgresUrl } from "./store.js";
import { readRegularFileSync } from "../regular-file.js";
import { safeReaddir, SESSION_FILE_MAX_BYTES } from "../sink/files.js";
import type { Command } from "./io.js";
import { loadCliKey } from "./keys.js";

const MAINTENANCE_SESSION = "audit_maintenance";

/** A directory's maintenance session for the runs that write to a PostgreSQL store (see storeMaintenanceSession). */
const STORE_MAINTENANCE = /^session_(audit_maintenance_[0-9a-f]{16})\.json$/;

/**
 * The session a `--postgres` run writes its record in: `audit_maintenance_<16 hex>`, one per
 * audit directory (the one an earlier run made, found by its session file, else a new one), so
 * that the runs of several instances' directories, each shredding its own keys, write distinct
 * chains to the one store. Found by review, 2026-12-06: every directory's runs wrote session
 * `audit_maintenance` there, and `verify --postgres` reported chain_broken, seq_duplicate and
 * checkpoint_mismatch from the second directory's run on.
 */
function storeMaintenanceSession(dir: string): string {
  for (const name of safeReaddir(dir).sort()) {
    const m = STORE_MAINTENANCE.exec(name);
    if (m) return m[1]!;
  }
  return `${MAINTENANCE_SESSION}_${randomBytes(8).toString("hex")}`;
}

const HELP = `Usage: audit-logger shred <dir> --user <userId> [--reason <text>] [--key-file <file>] [--postgres <url> [--schema <name>]] [--json]

Crypto-shredding: destroys every data key of one subject (a userId) in every key store of the
audit directory, so that subject's encrypted prompts, responses, tool payloads and content files
can never be decrypted again, while every hash chain and signed checkpoint still verifies. The
destruction is recorded as a chained "subject_shredded" record (naming the key ids, never the
user) in the directory's "${MAINTENANCE_SESSION}" session. Needs the master key (it identifies
the subject's keys): --key-file, or AUDIT_LOGGER_KEY.

  <dir>               the audit directory, or a project directory containing audit_logs/
  --user <userId>     the subject to erase
  --reason <text>     why (recorded; default "erasure request")
  --key-file <file>   the master key or keyring (current first), else AUDIT_LOGGER_KEY
  --postgres <url>    also shred in the PostgreSQL store the directory's sinks write to: the
                      "subject_shredded" record is sent there, and storing it shreds the keys
                      it names in the store's key table; the record is then in the
                      directory's own "${MAINTENANCE_SESSION}_<16 hex>" session (one per
                      directory, so several instances' directories write distinct chains to
                      the store). Exit 1 when the store was not reached (the record waits in a
                      spool; run the command again to send it) or refused the record (a
                      trigger or constraint of its own: JSON "store": "refused")
  --schema <name>     with --postgres: the schema holding the store (default ${DEFAULT_SCHEMA})
  --json              print the destroyed key ids as JSON
  -h, --help          show this help

Exit codes: 0 done (also when the subject had no keys), 1 failure (with --postgres: also when
the store was not reached or refused the record), 2 bad usage.`;

export const shredCommand: Command = {
  name: "shred",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommand("shred", argv, {
      user: { type: "string" },
      reason: { type: "string" },
      "key-file": { type: "string" },
      postgres: { type: "string" },
      schema: { type: "string" },
      json: { type: "boolean" },
    });
    if (values.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const dir = resolveAuditDir(singleDir("shred", positionals));
    if (!values.user) throw new UsageError("option --user <userId> is required: the subject whose keys to destroy");
    if (path.basename(dir) !== "audit_logs") throw new UsageError(`${dir} is not named audit_logs: point <dir> at the audit directory or its project directory`);
    if (values.schema !== undefined && values.postgres === undefined) throw new UsageError("option --schema only applies with --postgres <url>", "shred");
    let schema = DEFAULT_SCHEMA;
    if (values.schema !== undefined) {
      const r = schemaNameSchema.safeParse(values.schema);
      if (!r.success) throw new UsageError(`option --schema ${r.error.issues[0]?.message ?? "is not a schema name"}, got "${values.schema}"`, "shred");
      schema = r.data;
    }
    // (the store's own sink: it also sends a spool an earlier run left, the record of a shred that did not reach the store)
    const sink = values.postgres !== undefined ? new PostgresSink({ connectionString: postgresUrl(values.postgres), schema, closeTimeoutMs: 5_000 }) : undefined;
    // (its refusal of a key that opens nothing says nothing was shredded, as the shred's own
    // check, shredAll, does for a keyring that misses a retired key: until 2026-12-06 it did not)
    const key = loadCliKey(values["key-file"], io.env, dir, "nothing was shredded");
    if (!key) throw new UsageError("no master key: pass --key-file <file> or set AUDIT_LOGGER_KEY (shredding needs the key to find the subject's data keys)");
    const logger = new AuditLogger({
      sessionId: sink ? storeMaintenanceSession(dir) : MAINTENANCE_SESSION,
      projectPath: path.dirname(dir),
      encryptSensitiveContent: true,
      encryptionKey: key.masters.map((m) => Buffer.from(m).toString("base64")),
      fullContentLogging: false,
      durability: "fsync",
      ...(sink ? { sinks: [sink] } : {}),
    });
    const storeErrors: string[] = [];
    logger.on("error", (e) => storeErrors.push(e.message));
    let destroyed: string[];
    try {
      destroyed = logger.shredSubject(values.user, values.reason ?? "erasure request");
    } finally {
      await logger.finalizeSession();
    }
    if (!sink && sentToStore(dir)) {
      io.err(`audit-logger shred: sessions of ${dir} were also sent to a PostgreSQL store (a PostgresSink): its copies of the keys are not shredded by this run. Run it again with --postgres <url> [--schema <name>] for that store.`);
    }
    const undelivered = sink?.undelivered();
    // (a record the store refused for good, a data exception, is neither queued nor spooled: the
    // store's keys are not shredded either; until 2026-12-06 this said "shredded", found by review)
    const refused = sink !== undefined && undelivered === undefined && sink.stats().refused > 0;
    if (values.json) io.out(JSON.stringify({ user: values.user, destroyedKeyIds: destroyed, ...(sink ? { store: undelivered !== undefined ? "not reached" : refused ? "refused" : "shredded" } : {}) }, null, 2));
    else io.out(destroyed.length ? `destroyed ${destroyed.length} data key(s): ${destroyed.join(", ")}` : `no data keys for that subject in ${dir}; recorded the request anyway`);
    if (sink && undelivered !== undefined) {
      // the store keeps the keys until it stores the shred's record: not a success there
      io.err(`audit-logger shred: the PostgreSQL store was not reached, so its copies of the keys are not shredded yet (${storeErrors[0] ?? undelivered}). The shred's record is ${undelivered} Run this command again (with --postgres) once the store answers.`);
      return EXIT_FAIL;
    }
    if (refused) {
      io.err(`audit-logger shred: the PostgreSQL store refused the shred's record, so its copies of the keys are not shredded (${storeErrors[0] ?? "see the store's log"}). The record is in the directory's files; once the store takes it (a trigger or a constraint of the store's own refused it), run this command again with --postgres.`);
      return EXIT_FAIL;
    }
    return EXIT_OK;
  },
};

/** Whether a session file of the directory lists a PostgresSink among its sinks. */
function sentToStore(dir: string): boolean {
  for (const name of safeReaddir(dir)) {
    if (!name.startsWith("session_") || !name.endsWith(".json")) continue;
    try {
      const info = JSON.parse(readRegularFileSync(path.join(dir, name), undefined, SESSION_FILE_MAX_BYTES).toString("utf8")) as { config?: { sinks?: unknown } };
      const sinks = info.config?.sinks;
      if (Array.isArray(sinks) && sinks.some((x) => typeof x === "string" && x.startsWith("PostgresSink"))) return true;
    } catch {
      // unreadable: not told
    }
  }
  return false;
}
