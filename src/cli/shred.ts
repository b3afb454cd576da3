/** `audit-logger shred <dir> --user <id>`: crypto-shredding of one subject across the directory. */
import path from "node:path";
import { AuditLogger } from "../logger.js";
import { EXIT_OK, parseCommand, resolveAuditDir, singleDir, UsageError } from "./args.js";
import type { Command } from "./io.js";
import { loadCliKey } from "./keys.js";

const MAINTENANCE_SESSION = "audit_maintenance";

const HELP = `Usage: audit-logger shred <dir> --user <userId> [--reason <text>] [--key-file <file>] [--json]

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
  --json              print the destroyed key ids as JSON
  -h, --help          show this help

Exit codes: 0 done (also when the subject had no keys), 1 failure, 2 bad usage.`;

export const shredCommand: Command = {
  name: "shred",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommand("shred", argv, {
      user: { type: "string" },
      reason: { type: "string" },
      "key-file": { type: "string" },
      json: { type: "boolean" },
    });
    if (values.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const dir = resolveAuditDir(singleDir("shred", positionals));
    if (!values.user) throw new UsageError("option --user <userId> is required: the subject whose keys to destroy");
    if (path.basename(dir) !== "audit_logs") throw new UsageError(`${dir} is not named audit_logs: point <dir> at the audit directory or its project directory`);
    const key = loadCliKey(values["key-file"], io.env, dir);
    if (!key) throw new UsageError("no master key: pass --key-file <file> or set AUDIT_LOGGER_KEY (shredding needs the key to find the subject's data keys)");
    const logger = new AuditLogger({
      sessionId: MAINTENANCE_SESSION,
      projectPath: path.dirname(dir),
      encryptSensitiveContent: true,
      encryptionKey: key.masters.map((m) => Buffer.from(m).toString("base64")),
      fullContentLogging: false,
      durability: "fsync",
    });
    let destroyed: string[];
    try {
      destroyed = logger.shredSubject(values.user, values.reason ?? "erasure request");
    } finally {
      await logger.finalizeSession();
    }
    if (values.json) io.out(JSON.stringify({ user: values.user, destroyedKeyIds: destroyed }, null, 2));
    else io.out(destroyed.length ? `destroyed ${destroyed.length} data key(s): ${destroyed.join(", ")}` : `no data keys for that subject in ${dir}; recorded the request anyway`);
    return EXIT_OK;
  },
};
