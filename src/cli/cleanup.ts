/** `audit-logger cleanup <dir>`: removes whole sessions older than their retention period. */
import fs from "node:fs";
import path from "node:path";
import { AuditLogger } from "../logger.js";
import { cleanupSessions, sessionRetention, type CleanupResult, type PruneEvent } from "../retention.js";
import { lockFileName } from "../sink/files.js";
import { sessionLockHeld } from "../sink/lock.js";
import { EXIT_FAIL, EXIT_OK, intOption, parseCommand, resolveAuditDir, singleDir, UsageError } from "./args.js";
import type { Command } from "./io.js";

const DEFAULT_MAX_AGE_DAYS = 90;
/** where the CLI's own maintenance records go (`audit-logger shred` records there too) */
const MAINTENANCE_SESSION = "audit_maintenance";

const HELP = `Usage: audit-logger cleanup <dir> [--dry-run] [--max-age-days <n>] [--json]

Removes every file of each session whose newest record is older than its retention period: its
JSONL files and rotated segments, its full-content files, its session file, and its dot files
(the lock a killed process left, PostgresSink recovery markers) and the temporary files a
killed process left of it (*.<pid>[.<random>].tmp, once that process is gone). Never removes a session that a
running logger is writing, one under a legal hold, or one whose PostgresSink spool still holds
records for the store (kept until a sink has sent them). Each removal is recorded
first, as a chained "retention_pruned" record (what went, when, under which policy) in the
directory's "audit_maintenance" session, with a checkpoint: the removal is on record.

It also removes what is left of sessions whose records are gone (a cleanup before 2026-12-05 left
it, or the files were deleted by hand) once the newest of it is older than --max-age-days
(default ${DEFAULT_MAX_AGE_DAYS}): their locks, PostgresSink recovery markers and spools that
hold no record ("leftovers" in --json; no retention record is left for them, as they hold no
record). Never a lock a live process holds, nor a spool that holds records (kept until a sink
has sent them), nor anything of a session under a legal hold. So do, under the same age, the
temporary files a killed process left of the directory's own (legal_holds.json.<pid>.<random>.tmp, and the
shred and legal holds locks set aside, <lock>.stale.<pid>.<thread>; "directoryLeftovers" in
--json), once that process is gone.

And it removes the empty manifest an explicit chat id's claim left when its process died before
writing the content (full_interactions/manifest_<id>.json, and its owner file
manifest_<id>.json.claim, or what a takeover set aside, manifest_<id>.json[.claim].<pid>.<random>.tmp;
"abandonedClaims" in --json): once it is over a minute old and the
process its owner file names is gone (a claim without owner file, of an older version, or of
another host's process: once older than every running logger of the directory). A claim a
running logger may still write into is never removed, whatever --max-age-days says; none
while a hold of the whole directory is in force.

  <dir>                 the audit directory, or a project directory containing audit_logs/
  --dry-run             list what would be removed, remove nothing
  --max-age-days <n>    retention in days (default: each session's own maxLogAgeDays as
                        recorded in its session file, else ${DEFAULT_MAX_AGE_DAYS}; a session whose
                        session file is missing or unreadable is kept without it)
  --json                print the result as JSON
  -h, --help            show this help

A session whose configuration sets minRetentionDays (the compliance preset: 2555) is kept at
least that long, whatever --max-age-days says.

The output (and --json) is what the removal did: each session removed, and each kept past its
retention with the reason (its configuration, a legal hold, a running process, or records not yet
sent to their store), also when that became so while the cleanup ran (a session another process
resumed or wrote to, or put under a hold, is kept and judged again by the next cleanup); a
session whose files another process removed meanwhile is named too ("vanished" in --json).

Exit codes: 0 done, 1 a file could not be removed, 2 bad usage.`;


/**
 * What the cleanup did, from its two passes: the dry one (`dry`, which decides whether anything is
 * to go, and which the removals are announced from) and the real one (`done`). The real pass's
 * word on each session it lists is the last (removed, or kept and why); a session only the dry
 * pass lists keeps the reason the dry pass gave, and one the dry pass would have removed (or its
 * leftovers) that the real pass does not list at all was written to in between (its newest record
 * is new now: kept, skippedLive, as cleanupSessions itself reports a session written to while it
 * ran) or, its files gone, was removed by another process (`vanished`). Until 2026-12-05 the skipped sessions were
 * the dry pass's only: a session resumed or put under a hold between the passes was reported
 * neither removed nor kept, and one that a process held during the dry pass only was reported
 * kept and removed at once.
 */
function whatWasDone(dir: string, dry: CleanupResult, done: CleanupResult): CleanupResult {
  const failed = done.failed;
  const listed = new Set([...done.removed.map((e) => e.sessionId), ...done.leftovers.map((e) => e.sessionId), ...done.keptByRetention.map((k) => k.sessionId), ...done.skippedLive, ...done.skippedHeld, ...done.skippedUnsent.map((u) => u.sessionId), ...done.vanished]);
  const later = (id: string): boolean => !listed.has(id);
  const skippedLive = [...done.skippedLive, ...dry.skippedLive.filter(later)];
  // (and those the real pass found gone: sessions the dry pass would have removed whose files
  // went by another's hand in between)
  const vanished: string[] = [...done.vanished];
  for (const e of [...dry.removed, ...dry.leftovers].filter((r) => later(r.sessionId))) {
    // (a session whose lock could not be taken is reported in `failed`)
    if (failed.some((f) => f.file === lockFileName(e.sessionId))) continue;
    if (e.files.some((f) => fs.existsSync(path.join(dir, f)))) skippedLive.push(e.sessionId);
    else vanished.push(e.sessionId);
  }
  return {
    ...done,
    removed: done.removed,
    leftovers: done.leftovers,
    directoryLeftovers: done.directoryLeftovers,
    abandonedClaims: done.abandonedClaims,
    keptByRetention: [...done.keptByRetention, ...dry.keptByRetention.filter((k) => later(k.sessionId))],
    skippedLive: skippedLive.sort(),
    skippedHeld: [...done.skippedHeld, ...dry.skippedHeld.filter(later)].sort(),
    skippedUnsent: [...done.skippedUnsent, ...dry.skippedUnsent.filter((u) => later(u.sessionId))],
    vanished,
  };
}

/** "1 explicit chat id", "2 explicit chat ids" */
const claimsOf = (n: number): string => `${n} explicit chat id${n === 1 ? "" : "s"}`;

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
    let result: CleanupResult = candidates;
    // (the removals are recorded by a logger of the directory, which writes <project>/audit_logs;
    // abandoned claims alone need none: they hold no record, and no record is left for them)
    const recorded = candidates.removed.length + candidates.leftovers.length + candidates.directoryLeftovers.length > 0;
    const toRemove = recorded || candidates.abandonedClaims.length > 0;
    if (!dryRun && recorded && path.basename(dir) !== "audit_logs") {
      throw new UsageError(`${dir} is not named audit_logs: point <dir> at the audit directory or its project directory (the removals are recorded in it; --dry-run works anywhere)`);
    }
    if (!dryRun && toRemove) {
      // each removal leaves a chained retention_pruned record (and a checkpoint) in the
      // directory's maintenance session before its files go, as logger.cleanup() does in the
      // logger's own session (it recorded nothing)
      const logger = recorded ? new AuditLogger({ sessionId: MAINTENANCE_SESSION, projectPath: path.dirname(dir), fullContentLogging: false, durability: "fsync", thread: false }) : undefined;
      try {
        const done = cleanupSessions(dir, {
          maxLogAgeDays: flagDays ?? DEFAULT_MAX_AGE_DAYS,
          retentionFor,
          now,
          activeSessionId: MAINTENANCE_SESSION,
          ...(logger ? { record: (event: PruneEvent) => logger.recordPruned(event) } : {}),
          // (skipped and listed in the result's `failed`: reported below, exit 1)
          onRemoveError: () => undefined,
        });
        result = whatWasDone(dir, candidates, done);
      } finally {
        await logger?.finalizeSession();
      }
    }
    const remove = result.removed;
    const leftovers = result.leftovers;
    const strays = result.directoryLeftovers;
    const claims = result.abandonedClaims;
    const kept = result.keptByRetention;
    const failed = result.failed;

    if (values.json) {
      // (a session of unknown retention: retentionDays null, retentionUnknown true)
      const keptOut = kept.map((k) => (unknown.has(k.sessionId) ? { ...k, retentionDays: null, retentionUnknown: true } : k));
      // (the API's CleanupResult, as logger.cleanup() and cleanupSessions() give it)
      io.out(JSON.stringify({ ...result, keptByRetention: keptOut }, null, 2));
    } else {
      const c = io.color;
      const verb = dryRun ? "would remove" : "removed";
      for (const e of remove) io.out(`${dryRun ? c.yellow(verb) : c.red(verb)} ${c.bold(e.sessionId)} (last activity ${e.lastActivity}, ${e.files.length} file${e.files.length === 1 ? "" : "s"})`);
      for (const e of leftovers) io.out(`${dryRun ? c.yellow(verb) : c.red(verb)} what was left of ${c.bold(e.sessionId)}, whose records are gone (last activity ${e.lastActivity}): ${e.files.join(", ")}`);
      if (strays.length > 0) io.out(`${dryRun ? c.yellow(verb) : c.red(verb)} what killed processes left of the directory's own files: ${strays.join(", ")}`);
      if (claims.length > 0) io.out(`${dryRun ? c.yellow(verb) : c.red(verb)} the empty manifest of ${claimsOf(claims.length)} whose claim a process that died left: ${claims.join(", ")}`);
      for (const k of kept) {
        io.out(
          unknown.has(k.sessionId)
            ? `${c.green("kept")} ${k.sessionId} (last activity ${k.lastActivity}): its session file is missing or unreadable, so its retention is unknown (give --max-age-days to decide)`
            : `${c.green("kept")} ${k.sessionId} (last activity ${k.lastActivity}): its configuration retains it for ${k.retentionDays} days`,
        );
      }
      for (const s of result.skippedHeld) io.out(`${c.green("kept")} ${s}: under a legal hold`);
      // (a session no process holds now was written to while the cleanup ran: see whatWasDone)
      for (const s of result.skippedLive) io.out(`${c.green("kept")} ${s}: ${sessionLockHeld(dir, s) ? "a running process is writing it" : "a process wrote to it while the cleanup ran; the next cleanup judges it again"}`);
      for (const u of result.skippedUnsent) io.out(`${c.green("kept")} ${u.sessionId}: its records may not have reached their PostgreSQL store yet (${u.files.join(", ")}); the next PostgresSink of that store to open in this directory sends them, and cleanup removes the session after that`);
      for (const s of result.vanished) io.out(`${s}: its files went while the cleanup ran, not by this cleanup (another process removed them)`);
      for (const f of failed) io.err(`audit-logger cleanup: could not remove ${f.file}: ${f.error}`);
      const files = [...remove, ...leftovers].reduce((n, e) => n + e.files.length, strays.length + claims.length);
      const retention = flagDays !== undefined ? `${flagDays} day${flagDays === 1 ? "" : "s"}` : "per session";
      const what = [
        ...(remove.length > 0 ? [`${remove.length} session${remove.length === 1 ? "" : "s"}`] : []),
        ...(leftovers.length > 0 ? [`what was left of ${leftovers.length} session${leftovers.length === 1 ? "" : "s"} whose records are gone`] : []),
        ...(strays.length > 0 ? ["what killed processes left of the directory's own files"] : []),
        ...(claims.length > 0 ? [`the abandoned claims of ${claimsOf(claims.length)}`] : []),
      ].join(" and ");
      io.out(
        what !== ""
          ? `${dryRun ? "Dry run: would remove" : "Removed"} ${what} (${files} file${files === 1 ? "" : "s"}) from ${dir}.`
          : toRemove && !dryRun
            ? `Removed nothing from ${dir} (retention ${retention}): each session past its retention was kept as said above.`
            : `Nothing to remove in ${dir} (retention ${retention}).`,
      );
    }
    return failed.length > 0 ? EXIT_FAIL : EXIT_OK;
  },
};
