/** `audit-logger cleanup <dir>`: removes whole sessions older than their retention period. */
import path from "node:path";
import { AuditLogger } from "../logger.js";
import { cleanupSessions, sessionRetention, type CleanupEntry } from "../retention.js";
import { EXIT_FAIL, EXIT_OK, intOption, parseCommand, resolveAuditDir, singleDir, UsageError } from "./args.js";
import type { Command } from "./io.js";

const DEFAULT_MAX_AGE_DAYS = 90;
/** where the CLI's own maintenance records go (`audit-logger shred` records there too) */
const MAINTENANCE_SESSION = "audit_maintenance";

const HELP = `Usage: audit-logger cleanup <dir> [--dry-run] [--max-age-days <n>] [--json]

Removes every file of each session whose newest record is older than its retention period: its
JSONL files and rotated segments, its full-content files, its session file, and its dot files
(the lock a killed process left, PostgresSink recovery markers). Never removes a session that a
running logger is writing, one under a legal hold, or one whose PostgresSink spool still holds
records for the store (kept until a sink has sent them). Each removal is recorded
first, as a chained "retention_pruned" record (what went, when, under which policy) in the
directory's "audit_maintenance" session, with a checkpoint: the removal is on record.

  <dir>                 the audit directory, or a project directory containing audit_logs/
  --dry-run             list what would be removed, remove nothing
  --max-age-days <n>    retention in days (default: each session's own maxLogAgeDays as
                        recorded in its session file, else ${DEFAULT_MAX_AGE_DAYS}; a session whose
                        session file is missing or unreadable is kept without it)
  --json                print the result as JSON
  -h, --help            show this help

A session whose configuration sets minRetentionDays (the compliance preset: 2555) is kept at
least that long, whatever --max-age-days says.

Exit codes: 0 done, 1 a file could not be removed, 2 bad usage.`;

interface Kept {
  readonly sessionId: string;
  readonly lastActivity: string;
  readonly retentionDays: number;
}

/**
 * @example
 * // $ audit-logger cleanup ./audit_logs --max-age-days 30 --dry-run
 */
export const cleanupCommand: Command = {
  name: "cleanup",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommand("cleanup", argv, {
      "dry-run": { type: "boolean" },
      "max-age-days": { type: "string" },
      json: { type: "boolean" },
    });
    if (values.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const dir = resolveAuditDir(singleDir("cleanup", positionals));
    const flagDays = intOption("--max-age-days", values["max-age-days"], 1);
    const dryRun = values["dry-run"] === true;
    const now = Date.now();

    // each session is kept as long as its own configuration says (its session file), never
    // below its minRetentionDays; --max-age-days overrides maxLogAgeDays for all
    const unknown = new Set<string>();
    const retentionFor = (id: string): number => {
      const r = sessionRetention(dir, id);
      if (r === undefined && flagDays === undefined) {
        unknown.add(id);
        return Number.POSITIVE_INFINITY;
      }
      // (cleanupSessions keeps it at least its own minRetentionDays, as for a logger's cleanup)
      return flagDays ?? r?.maxLogAgeDays ?? DEFAULT_MAX_AGE_DAYS;
    };
    // (the maintenance session, where removals are recorded, is never a candidate)
    const candidates = cleanupSessions(dir, { maxLogAgeDays: flagDays ?? DEFAULT_MAX_AGE_DAYS, retentionFor, dryRun: true, now, activeSessionId: MAINTENANCE_SESSION });
    const remove: CleanupEntry[] = [...candidates.removed];
    const kept: Kept[] = [...candidates.keptByRetention];
    const failed: Array<{ file: string; error: string }> = [];
    let unsent = candidates.skippedUnsent;
    // (the removals are recorded by a logger of the directory, which writes <project>/audit_logs)
    if (!dryRun && remove.length > 0 && path.basename(dir) !== "audit_logs") {
      throw new UsageError(`${dir} is not named audit_logs: point <dir> at the audit directory or its project directory (the removals are recorded in it; --dry-run works anywhere)`);
    }
    if (!dryRun && remove.length > 0) {
      // each removal leaves a chained retention_pruned record (and a checkpoint) in the
      // directory's maintenance session before its files go, as logger.cleanup() does in the
      // logger's own session (it recorded nothing)
      const logger = new AuditLogger({ sessionId: MAINTENANCE_SESSION, projectPath: path.dirname(dir), fullContentLogging: false, durability: "fsync", thread: false });
      try {
        const done = cleanupSessions(dir, {
          maxLogAgeDays: flagDays ?? DEFAULT_MAX_AGE_DAYS,
          retentionFor,
          now,
          activeSessionId: MAINTENANCE_SESSION,
          record: (event) => logger.recordPruned(event),
          onRemoveError: (file, err) => failed.push({ file, error: err.message }),
        });
        remove.splice(0, remove.length, ...done.removed);
        unsent = done.skippedUnsent;
      } finally {
        await logger.finalizeSession();
      }
    }

    if (values.json) {
      // (a session of unknown retention: retentionDays null, retentionUnknown true)
      const keptOut = kept.map((k) => (unknown.has(k.sessionId) ? { ...k, retentionDays: null, retentionUnknown: true } : k));
      io.out(JSON.stringify({ auditDir: dir, dryRun, removed: remove, keptByRetention: keptOut, skippedLive: candidates.skippedLive, skippedHeld: candidates.skippedHeld, skippedUnsent: unsent, failed }, null, 2));
    } else {
      const c = io.color;
      const verb = dryRun ? "would remove" : "removed";
      for (const e of remove) io.out(`${dryRun ? c.yellow(verb) : c.red(verb)} ${c.bold(e.sessionId)} (last activity ${e.lastActivity}, ${e.files.length} file${e.files.length === 1 ? "" : "s"})`);
      for (const k of kept) {
        io.out(
          unknown.has(k.sessionId)
            ? `${c.green("kept")} ${k.sessionId} (last activity ${k.lastActivity}): its session file is missing or unreadable, so its retention is unknown (give --max-age-days to decide)`
            : `${c.green("kept")} ${k.sessionId} (last activity ${k.lastActivity}): its configuration retains it for ${k.retentionDays} days`,
        );
      }
      for (const s of candidates.skippedHeld) io.out(`${c.green("kept")} ${s}: under a legal hold`);
      for (const s of candidates.skippedLive) io.out(`${c.green("kept")} ${s}: a running process is writing it`);
      for (const u of unsent) io.out(`${c.green("kept")} ${u.sessionId}: its records may not have reached their PostgreSQL store yet (${u.files.join(", ")}); the next PostgresSink of that store to open in this directory sends them, and cleanup removes the session after that`);
      for (const f of failed) io.err(`audit-logger cleanup: could not remove ${f.file}: ${f.error}`);
      const files = remove.reduce((n, e) => n + e.files.length, 0);
      io.out(
        remove.length === 0
          ? `Nothing to remove in ${dir} (retention ${flagDays !== undefined ? `${flagDays} day${flagDays === 1 ? "" : "s"}` : "per session"}).`
          : `${dryRun ? "Dry run: would remove" : "Removed"} ${remove.length} session${remove.length === 1 ? "" : "s"} (${files} file${files === 1 ? "" : "s"}) from ${dir}.`,
      );
    }
    return failed.length > 0 ? EXIT_FAIL : EXIT_OK;
  },
};
