import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { maxLogAgeDaysSchema } from "./config/schema.js";
import { AuditConfigError, AuditSessionLockedError } from "./errors.js";
import { toFieldIssues } from "./record/issues.js";
import { ID_PATTERN } from "./record/id.js";
import { contentDirRefusal } from "./sink/content-thread.js";
import { CONTENT_DIR, isFileSessionId, listKindFiles, listSessionIds, lockFileName, safeJoin, safeReaddir, SESSION_FILE_MAX_BYTES, sessionFileName, withPrefix } from "./sink/files.js";
import { readRegularFileSync, REPLACE_TEMP } from "./regular-file.js";
import { peekTail } from "./sink/recover.js";
import { leftByGoneNamed, liveWritersSince, lockInternalSession, lockLeftovers, SessionLock, sessionLockHeld } from "./sink/lock.js";
import { abandonedClaims, removeAbandonedClaim } from "./sink/content.js";
import { CLAIM_SUFFIX, sinkFilesOf, spoolSessions } from "./postgres/files.js";
import { CHAIN_KINDS, KIND_FILE_STEM, RECORD_KINDS, type ChainKind } from "./types.js";
import { checkpointFileName } from "./integrity/checkpointer.js";
import { KEY_STORE_PREFIX, keyStoreFileName, SHRED_LOCK } from "./pipeline/keyring.js";
import { HOLDS_FILE, HOLDS_LOCK, isHeld, readHolds, underLock } from "./holds.js";
import { DIR_LOCK_ASIDE } from "./sink/dir-lock.js";
import { NAME_PID } from "./sink/owner.js";
import { MerkleAccumulator } from "./integrity/merkle.js";
import { auditEventsOf, chainFilesBySession, chainSessionIds, type AuditEventsCache, goneBy, holdsBy, type ChainedHoldPlacement, type ChainedHoldRelease } from "./sink/audit-events.js";
import type { LegalHold } from "./holds.js";
import { furthestPrunes, readPruneRecords, type PruneEvent, type PrunePolicy } from "./sink/prunes.js";
import { readLinesSync } from "./reader/lines-sync.js";
import { splitSealedLine } from "./pipeline/chain.js";

/**
 * What `logger.cleanup()` takes; everything else about a cleanup (the active session, the
 * `minRetentionDays` floor, the chained records) is the logger's own.
 *
 * @example
 * await logger.cleanup({ maxLogAgeDays: 30, dryRun: true });
 */
export interface LoggerCleanupOptions {
  /** retention in days for this call, a whole number of at least 1; default the logger's `maxLogAgeDays` */
  readonly maxLogAgeDays?: number | undefined;
  /** list what would go, remove nothing */
  readonly dryRun?: boolean | undefined;
  /** the time to measure age from (ms since epoch); defaults to now (`minRetentionDays` is measured on the real clock whatever it says) */
  readonly now?: number | undefined;
}

const NOW_MESSAGE = "must be a time in ms since the epoch, such as Date.now() + 7 * 86_400_000";
const callShape = {
  maxLogAgeDays: maxLogAgeDaysSchema.optional(),
  dryRun: z.boolean().optional(),
  now: z
    .number(NOW_MESSAGE)
    // (a JavaScript Date's range)
    .min(-8.64e15, NOW_MESSAGE)
    .max(8.64e15, NOW_MESSAGE)
    .optional(),
};
const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", "must be a function");
const loggerCleanupSchema = z.strictObject(callShape);
const cleanupSchema = z.strictObject({
  ...callShape,
  maxLogAgeDays: maxLogAgeDaysSchema,
  minRetentionDays: z.number().int().min(0).optional(),
  activeSessionId: z.string().optional(),
  retentionFor: fn.optional(),
  record: fn.optional(),
  onRemoveError: fn.optional(),
  inUse: z.array(z.string()).optional(),
});

/**
 * `logger.cleanup()`'s options, checked: anything else (a misspelt `dryrun` was ignored and the
 * cleanup removed for real; NaN, 0 or a negative age removed every session; found by review,
 * 2026-12-05) is an AuditConfigError naming each bad field, before anything is removed.
 */
export function checkLoggerCleanupOptions(options: unknown): LoggerCleanupOptions {
  return parseOrThrow(loggerCleanupSchema, options, "cleanup");
}

function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, method: string): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (!r.success) throw new AuditConfigError(toFieldIssues(r.error, method, schema));
  return r.data;
}

export interface CleanupOptions {
  readonly maxLogAgeDays: number;
  /** cleanup never removes anything whose newest record is younger than this */
  readonly minRetentionDays?: number | undefined;
  /** never removed, whatever its age */
  readonly activeSessionId?: string | undefined;
  readonly dryRun?: boolean | undefined;
  /** the time to measure age from (ms since epoch); defaults to now */
  readonly now?: number | undefined;
  /** a session's own retention in days (e.g. from its session file), used instead of maxLogAgeDays */
  readonly retentionFor?: ((sessionId: string) => number | undefined) | undefined;
  /**
   * Called for each removal before its files go, so the caller can leave a chained retention
   * record. Segment pruning (old rotated segments of the active session) only happens with it.
   */
  readonly record?: ((event: PruneEvent) => void) | undefined;
  /**
   * Files of the active session a writer has open besides its documented names (a segment a
   * failed rotation writes on to), as paths: never pruned, nor any newer segment of their kind.
   */
  readonly inUse?: readonly string[] | undefined;
  /** a file that could not be removed: reported here and skipped (without it, thrown) */
  readonly onRemoveError?: ((file: string, error: Error) => void) | undefined;
}

export type { PruneEvent, PrunePolicy } from "./sink/prunes.js";

export interface CleanupEntry {
  readonly sessionId: string;
  /** ISO time of the session's newest record (or file, when it has none) */
  readonly lastActivity: string;
  /**
   * files removed (or, in a dry run, that would be), relative to the audit directory: with a whole
   * session's, its dot files (the lock a killed process left, PostgresSink recovery markers and
   * spools that hold no record)
   */
  readonly files: readonly string[];
}

/**
 * What a cleanup did: one shape for `logger.cleanup()`, `cleanupSessions()` and
 * `audit-logger cleanup --json` (until 2026-12-06 the command printed `auditDir`, `vanished` and
 * `failed`, which the API's result lacked, and the API's `prunedSegments` was not printed).
 */
export interface CleanupResult {
  /** the audit directory cleaned */
  readonly auditDir: string;
  readonly dryRun: boolean;
  readonly removed: readonly CleanupEntry[];
  /**
   * dot files left of sessions that have no other file (their records gone: removed by a cleanup
   * of a version that left them, or by hand), removed (or, in a dry run, that would be) once
   * their newest is older than `maxLogAgeDays`: the lock a killed process left, and what a
   * process killed inside a lock takeover left of it (`<lock>.takeover`,
   * `<lock>.takeover.stale.<pid>`, `<lock>.<pid>.<random>.tmp`), PostgresSink recovery markers,
   * spools that hold no record, and the temporary files a process killed midway left (see
   * tempLeftovers and sinkFilesOf), once that process is gone. `lastActivity` is the newest one's mtime. No
   * retention record is left for them: they hold no record, and a removal record of their session
   * would excuse the deletion of its files (verify reports a session that trusted checkpoints or a
   * hold name as missing unless a retention record removed it). A session of which only a spool
   * holding records is left is kept (`skippedUnsent`), as is one a live process holds
   * (`skippedLive`) or a hold covers (`skippedHeld`).
   */
  readonly leftovers: readonly CleanupEntry[];
  /**
   * files of the directory's own (no session's) that a process killed midway left, removed (or,
   * in a dry run, that would be) once the process their name names is gone and they are older
   * than `maxLogAgeDays` (and the `minRetentionDays` floor): the legal holds file being written
   * whole (`legal_holds.json.<pid>.<random>.tmp`, `<pid>.tmp` before 2026-12-05), and the shred lock or the legal holds lock set aside by a
   * takeover (`.shred.lock.stale.<pid>.<thread>`, `legal_holds.json.lock.stale.<pid>.<thread>`).
   */
  readonly directoryLeftovers: readonly string[];
  /**
   * the empty manifests of explicit chat ids' claims that processes which died before writing
   * the content left (`full_interactions/manifest_<id>.json`, its owner file with it), and an
   * owner file such a process left on its own (`full_interactions/manifest_<id>.json.claim`, its
   * manifest written or never made), and a claim's file a takeover or a removal set aside and
   * left (`manifest_<id>.json[.claim].<pid>.<random>.tmp`, its process gone), removed (or, in a dry run, that would be): older than a
   * minute, and their owner a process of this host that is gone; a claim without owner file (an
   * older version's) or another host's, when older than every live writer's session lock. Never
   * the claim of a writer still alive (see abandonedClaims in src/sink/content.ts). They hold no
   * record, and no retention age applies; no retention record is left for them. None while a
   * hold of the whole directory (scope "all") is in force.
   */
  readonly abandonedClaims: readonly string[];
  /** old rotated segments of the active session that were removed */
  readonly prunedSegments: readonly CleanupEntry[];
  /** sessions skipped because a live process holds their lock, or wrote to them while the cleanup ran */
  readonly skippedLive: readonly string[];
  /** sessions older than maxLogAgeDays that their own retention (retentionFor, minRetentionDays) keeps */
  readonly keptByRetention: ReadonlyArray<{ readonly sessionId: string; readonly lastActivity: string; readonly retentionDays: number }>;
  /** sessions skipped because a legal hold covers them */
  readonly skippedHeld: readonly string[];
  /**
   * sessions past their retention kept, whole, because records of theirs may not have reached a
   * PostgreSQL store yet: `files`, the PostgresSink spools that hold them (or that cannot be read,
   * or that a live sink is sending now), and the markers of live sinks recovering them now. The
   * next sink of that store in the directory sends and removes a spool; a later cleanup removes
   * the session then.
   */
  readonly skippedUnsent: ReadonlyArray<{ readonly sessionId: string; readonly lastActivity: string; readonly files: readonly string[] }>;
  /**
   * sessions that were to go whose files another process removed before this cleanup's removal
   * (no record of their removal is left: not by this cleanup)
   */
  readonly vanished: readonly string[];
  /**
   * files that could not be removed, each with the error's message: reported so and skipped when
   * the caller gave `onRemoveError` (a logger's `cleanup()` and `audit-logger cleanup` do, which
   * exits 1 then); without it the first such error is thrown
   */
  readonly failed: ReadonlyArray<{ readonly file: string; readonly error: string }>;
}

/** A session's retention as its configuration set it. */
export interface SessionRetention {
  /** undefined when the session file does not say */
  readonly maxLogAgeDays: number | undefined;
  /** 0 when the session file does not say */
  readonly minRetentionDays: number;
}

/**
 * The retention a session was configured with, as its session file records it; undefined when
 * that file is missing or not JSON (its retention is unknown: `audit-logger cleanup` keeps such a
 * session unless --max-age-days decides; it was taken as 90 days with no floor, so a compliance
 * session whose file was lost could go years early; found by review, 2026-12-04).
 */
export function sessionRetention(auditDir: string, sessionId: string): SessionRetention | undefined {
  try {
    // (a regular file only, of a size the kit writes: a FIFO named like it hung `cleanup` for good,
    // SIGTERM too; found by review, 2026-12-05)
    const body = JSON.parse(readRegularFileSync(path.join(auditDir, sessionFileName(sessionId)), undefined, SESSION_FILE_MAX_BYTES).toString("utf8")) as { config?: { maxLogAgeDays?: unknown; minRetentionDays?: unknown } };
    const max = body.config?.maxLogAgeDays;
    const min = body.config?.minRetentionDays;
    return {
      maxLogAgeDays: typeof max === "number" && max > 0 ? max : undefined,
      minRetentionDays: typeof min === "number" && min > 0 ? min : 0,
    };
  } catch {
    return undefined;
  }
}

/** The time of a session's newest record, else its newest file's mtime. `names`: the directory's listing, when the caller has it. */
export function lastActivity(auditDir: string, sessionId: string, names?: readonly string[]): number {
  let last = 0;
  let mtime = 0;
  // (listed once here, not once per kind, when the caller gave no listing)
  const all = names ?? safeReaddir(auditDir);
  for (const kind of CHAIN_KINDS) {
    const files = listKindFiles(auditDir, kind, sessionId, all);
    for (const f of [...files].reverse()) {
      mtime = Math.max(mtime, fs.statSync(f.path).mtimeMs);
      const t = peekTail(f.path);
      if (t?.timestamp) {
        last = Math.max(last, Date.parse(t.timestamp));
        break;
      }
    }
  }
  if (last > 0) return last;
  try {
    mtime = Math.max(mtime, fs.statSync(path.join(auditDir, sessionFileName(sessionId))).mtimeMs);
  } catch {
    // no session file
  }
  return mtime;
}

/** The files of session `sessionId` other than its dot files, from the directory's listing `names`. */
function sessionFiles(auditDir: string, sessionId: string, names: readonly string[]): string[] {
  const out: string[] = [];
  for (const kind of CHAIN_KINDS) for (const f of listKindFiles(auditDir, kind, sessionId, names)) out.push(f.name);
  // (and a key store's shredding marker, left by a shred that died: see keyring.ts)
  for (const extra of [checkpointFileName(sessionId), keyStoreFileName(sessionId), `${keyStoreFileName(sessionId)}.shredding`]) if (fs.existsSync(path.join(auditDir, extra))) out.push(extra);
  // content files of this session's chats, found through its records; none through a content
  // directory that is a link (found by a security pass, 2026-12-05: cleanup removed the files
  // named like them in the directory the link named, outside the audit directory)
  const contentDirOk = contentDirRefusal(path.join(auditDir, CONTENT_DIR)) === undefined;
  for (const f of contentDirOk ? listKindFiles(auditDir, "chat_interaction", sessionId, names) : []) {
    // (line by line, a regular file only: read whole, a file past V8's longest string failed)
    for (const { text: line } of readLinesSync(f.path)) {
      const m = /^\{"id":"([^"]+)"/.exec(line);
      if (!m || !ID_PATTERN.test(m[1]!) || !line.includes('"fullContent":')) continue;
      for (const name of [`prompt_${m[1]}.txt`, `prompt_${m[1]}.txt.enc`, `response_${m[1]}.txt`, `response_${m[1]}.txt.enc`, `manifest_${m[1]}.json`]) {
        if (fs.existsSync(path.join(auditDir, CONTENT_DIR, name))) out.push(`${CONTENT_DIR}/${name}`);
      }
    }
  }
  const sf = sessionFileName(sessionId);
  if (fs.existsSync(path.join(auditDir, sf))) out.push(sf);
  return out;
}

/**
 * What a process killed between writing a file of session `sessionId` whole beside its place and
 * renaming it in left, from the listing `names`, when that process is gone (see leftByGoneNamed):
 * its session file's (`session_<id>.json.<pid>.<random>.tmp`, see replaceFileSync) and its
 * key store's rewritten by a shred (`subject_keys_<id>.jsonl.<pid>.<attempt>.tmp`, see
 * keyring.ts). Found 2026-12-05: they stayed for good, after their session too.
 */
function tempLeftovers(auditDir: string, sessionId: string, names: readonly string[]): string[] {
  return [...leftByGoneNamed(auditDir, names, `${sessionFileName(sessionId)}.`, REPLACE_TEMP), ...leftByGoneNamed(auditDir, names, `${keyStoreFileName(sessionId)}.`, KEY_STORE_TEMP)];
}

/** A key store's temporary file past `<key store>.` (see tempLeftovers): `<pid>.<attempt>.tmp`, `$1` the pid (NAME_PID). */
const KEY_STORE_TEMP = new RegExp(String.raw`^(${NAME_PID})\.\d+\.tmp$`);
/** A session's temporary file's name (see tempLeftovers): `$1` or `$2`, the session. */
const TEMP_FILE = new RegExp(String.raw`^(?:session_(.+)\.json\.${NAME_PID}(?:\.[0-9a-f]+)?|subject_keys_(.+)\.jsonl\.${NAME_PID}\.\d+)\.tmp$`);
/** Of a recovery marker's name past `.pg_recovery_<store>_`, the session whose marker's workings it is (see MARKER_TEMP in postgres/files.ts). */
const MARKER_TEMP_OF = new RegExp(String.raw`^(.+?)\.(?:${NAME_PID}(?:\.[0-9a-z]+)?\.tmp|stale\.${NAME_PID})$`);

/**
 * Removes whole sessions whose newest record is older than `maxLogAgeDays` (never the active one,
 * a live one, or one under a legal hold), what is left of sessions whose records are gone (see
 * CleanupResult.leftovers), and — when `record` is given — the active session's rotated segments
 * that old, oldest first. Only whole files go: records are never cut out.
 */
export function cleanupSessions(auditDir: string, options: CleanupOptions): CleanupResult {
  // (checked as logger.cleanup()'s are: this is public too; and the directory with them: a number
  // was a bare TypeError, and "" cleaned the working directory; found by the API.md audit, 2026-12-05)
  if (typeof auditDir !== "string" || auditDir === "") {
    const r = cleanupSchema.safeParse(options ?? {});
    const got = auditDir === "" ? "an empty string" : auditDir === null ? "null" : typeof auditDir;
    throw new AuditConfigError([{ field: "cleanupSessions.auditDir", message: `must be the audit directory's path, a non-empty string (got ${got})` }, ...(r.success ? [] : toFieldIssues(r.error, "cleanupSessions", cleanupSchema))]);
  }
  const parsed = parseOrThrow(cleanupSchema, options, "cleanupSessions") as CleanupOptions;
  // (each failure the caller is told of is in the result too)
  const failed: Array<{ file: string; error: string }> = [];
  const told = parsed.onRemoveError;
  const o: CleanupOptions = told
    ? {
        ...parsed,
        onRemoveError: (file, error) => {
          failed.push({ file, error: error.message });
          told(file, error);
        },
      }
    : parsed;
  const now = o.now ?? Date.now();
  const minDays = o.minRetentionDays ?? 0;
  const days = Math.max(o.maxLogAgeDays, minDays);
  // The minRetentionDays floor is measured on the real clock: `now` (a time to measure age from)
  // moved into the future went under it (found by review, 2026-12-04).
  const realNow = Date.now();
  const floor = realNow - minDays * 86_400_000;
  const cutoff = now - days * 86_400_000;
  const policy: PrunePolicy = { maxLogAgeDays: o.maxLogAgeDays, minRetentionDays: o.minRetentionDays ?? 0 };
  // One listing of the directory for the run: every session is judged from it, the holds the
  // audit_event chains place are read from it, and a dry run plans from it too (each session's
  // judgement listed it again for each kind of record, each removal once more, and each plan once
  // more: some 16 listings per session, 24 per removal; found 2026-12-05). Two things list it again, because what they act on must be what the
  // directory holds at that moment, not at the start of the run: a batch of removals, once it
  // holds the sessions' locks (see removalBatch), and a prune of the active session's segments, which
  // reads its own audit_event chain (see previousFrontier).
  const names = safeReaddir(auditDir);
  // (the chained holds once per run; under the holds lock below, the file is read again, where a hold
  // placed meanwhile is, with these: reading every chain per removal was quadratic in sessions)
  const chained = chainedHolds(auditDir, names);
  const holdsNow = (): LegalHold[] => [...readHolds(auditDir), ...chained];
  const holds = holdsNow();
  const removed: CleanupEntry[] = [];
  const leftovers: CleanupEntry[] = [];
  const prunedSegments: CleanupEntry[] = [];
  const skippedLive: string[] = [];
  const skippedHeld: string[] = [];
  const keptByRetention: Array<{ sessionId: string; lastActivity: string; retentionDays: number }> = [];
  const skippedUnsent: Array<{ sessionId: string; lastActivity: string; files: string[] }> = [];
  const vanished: string[] = [];
  const whole = listSessionIds(auditDir, names);
  // (then the sessions of which only dot files are left: see leftoverSessions)
  const owned = new Set([...whole, ...(o.activeSessionId !== undefined ? [o.activeSessionId] : [])]);
  const left = leftoverSessions(names, owned);
  const judged = [...whole, ...[...left.keys()].sort()];
  // (each session judged, planned and removed from the names of the listing that can be its own,
  // found by prefix: each went through the whole listing some twenty times, see SessionNames)
  const listing = new SessionNames(names);
  const removals = removalBatch(auditDir, o, (sessionId) => skippedLive.push(sessionId));
  try {
    for (const sessionId of judged) {
      // (of a session of which only dot files are left, those that are its: see leftoverOf)
      const leftNames = left.get(sessionId);
      const leftover = leftNames !== undefined;
      const namesOf = (all: SessionNames): readonly string[] => (!leftover ? all.of(sessionId) : all === listing ? leftNames : all.of(sessionId).filter((n) => leftoverOf(n, owned) === sessionId));
      if (sessionId === o.activeSessionId) {
        // (the removals judged before it first: their records come before its prunes', as they did)
        removals.flush();
        // (the holds read again under their lock, as for a whole session's removal below)
        if (o.record && !isHeld(holds, sessionId)) prunedSegments.push(...underLock(auditDir, () => (isHeld(holdsNow(), sessionId) ? [] : pruneSegments(auditDir, sessionId, Math.min(cutoff, floor), policy, o, names))));
        continue;
      }
      // (of leftovers, their newest mtime: they have no record)
      const last = leftover ? leftoverActivity(auditDir, sessionId, namesOf(listing)) : lastActivity(auditDir, sessionId, listing.of(sessionId));
      if (last === 0) continue;
      // Each session's own minRetentionDays floor (its session file's), whoever cleans up: a
      // logger's cleanup (autoCleanup: the development preset) applied only its own, so it removed a
      // compliance session (2555 days) after 30; `audit-logger cleanup` did not (found by review,
      // 2026-12-05). On the real clock, as the caller's floor. (Leftovers have no session file to
      // say another retention, nor one for retentionFor to read: the caller's.)
      const floorDays = leftover ? minDays : Math.max(minDays, sessionRetention(auditDir, sessionId)?.minRetentionDays ?? 0);
      const ownDays = leftover ? days : Math.max(o.retentionFor?.(sessionId) ?? o.maxLogAgeDays, floorDays);
      if (last >= now - ownDays * 86_400_000 || last >= realNow - floorDays * 86_400_000) {
        if (last < cutoff) keptByRetention.push({ sessionId, lastActivity: new Date(last).toISOString(), retentionDays: ownDays });
        continue;
      }
      if (isHeld(holds, sessionId)) {
        skippedHeld.push(sessionId);
        continue;
      }
      if (sessionLockHeld(auditDir, sessionId)) {
        skippedLive.push(sessionId);
        continue;
      }
      const lastIso = new Date(last).toISOString();
      // (a lock is left only by a process that died holding it; a removal below holds it itself)
      const lockLeft = fs.existsSync(path.join(auditDir, lockFileName(sessionId)));
      if (o.dryRun) {
        const plan = removalOf(auditDir, sessionId, lockLeft, namesOf(listing));
        if (plan.unsent.length > 0) skippedUnsent.push({ sessionId, lastActivity: lastIso, files: plan.unsent });
        else (leftover ? leftovers : removed).push({ sessionId, lastActivity: lastIso, files: plan.files });
        continue;
      }
      removals.add(sessionId, (present): boolean => {
        // Written to since its activity was read above (another process resumed it, wrote and
        // ended before this lock was taken): kept this time, as a live one is, and judged again at
        // the next cleanup. Its fresh records were removed with it (found by review, 2026-12-05).
        // (Leftovers: a session that has files again, which a logger started under its name wrote.)
        const activity = lastActivity(auditDir, sessionId, present.of(sessionId));
        // (no file of it left: another process removed it meanwhile)
        if (!leftover && activity === 0) {
          vanished.push(sessionId);
          return false;
        }
        if (activity !== (leftover ? 0 : last)) {
          skippedLive.push(sessionId);
          return false;
        }
        const plan = removalOf(auditDir, sessionId, lockLeft, namesOf(present));
        if (plan.unsent.length > 0) {
          skippedUnsent.push({ sessionId, lastActivity: lastIso, files: plan.unsent });
          return false;
        }
        // The holds are read again, under their lock, right before the removal: a hold another
        // process placed since the read above (under that lock) was not seen, and its session was
        // removed (found by review, 2026-12-04).
        const gone = underLock(auditDir, () => {
          if (isHeld(holdsNow(), sessionId)) return false;
          if (leftover) {
            // (no record: see CleanupResult.leftovers)
            for (const f of plan.files) if (f !== lockFileName(sessionId)) removeFile(auditDir, f, o);
            return true;
          }
          const { shreddedKeyIds, removedSessions, legalHolds, releasedHolds } = carriedBy(auditDir, sessionId, present.of(sessionId));
          // (the session's own retention, when the caller knows it: `audit-logger cleanup` does;
          // and always its own floor, which the verifier checks the removal against)
          const own: PrunePolicy = { maxLogAgeDays: o.retentionFor ? ownDays : policy.maxLogAgeDays, minRetentionDays: floorDays };
          o.record?.({ scope: "session", sessionId, lastActivity: lastIso, files: plan.files, policy: own, ...(shreddedKeyIds.length > 0 ? { shreddedKeyIds } : {}), ...(removedSessions.length > 0 ? { removedSessions } : {}), ...(legalHolds.length > 0 ? { legalHolds } : {}), ...(releasedHolds.length > 0 ? { releasedHolds } : {}) });
          // (the lock is this cleanup's now: its release removes it)
          for (const f of plan.files) if (f !== lockFileName(sessionId)) removeFile(auditDir, f, o);
          return true;
        });
        if (gone) (leftover ? leftovers : removed).push({ sessionId, lastActivity: lastIso, files: plan.files });
        else skippedHeld.push(sessionId);
        return gone;
      });
    }
  } catch (err) {
    // (what was judged before it is removed first, as it was when each removal came before the next judgement)
    removals.flush();
    throw err;
  }
  removals.flush();
  // (by their mtime too, as leftovers: a process of another host sharing the directory, which a
  // name made before names carried their host cannot tell, wrote them that long ago)
  const directoryLeftovers: string[] = [];
  for (const f of directoryTemps(auditDir, names)) {
    const mtime = fs.lstatSync(path.join(auditDir, f), { throwIfNoEntry: false })?.mtimeMs;
    if (mtime === undefined || mtime >= cutoff || mtime >= floor) continue;
    if (!o.dryRun) removeFile(auditDir, f, o);
    directoryLeftovers.push(f);
  }
  // (the claims a dead writer left: see CleanupResult.abandonedClaims; the holds read again under
  // their lock, as for a removal)
  const liveSince = liveWritersSince(auditDir, names);
  const abandoned = holds.some((h) => h.scope === "all") ? [] : abandonedClaims(auditDir, realNow, liveSince);
  const claimsGone = o.dryRun || abandoned.length === 0 ? abandoned : underLock(auditDir, () => (holdsNow().some((h) => h.scope === "all") ? [] : abandoned.filter((f) => removeClaim(auditDir, f, realNow, liveSince, o))));
  // (in the order the sessions were judged, as when each removal ended before the next session
  // was judged: a batch's removals end after the sessions judged after them)
  const rank = new Map(judged.map((id, i) => [id, i]));
  const byRank = (a: string, b: string): number => rank.get(a)! - rank.get(b)!;
  skippedLive.sort(byRank);
  skippedHeld.sort(byRank);
  skippedUnsent.sort((a, b) => byRank(a.sessionId, b.sessionId));
  vanished.sort(byRank);
  return { auditDir, dryRun: o.dryRun ?? false, removed, leftovers, directoryLeftovers, abandonedClaims: claimsGone, prunedSegments, skippedLive, skippedHeld, keptByRetention, skippedUnsent, vanished, failed };
}

/** How many sessions' removals wait for one listing of the directory (see removalBatch). */
const REMOVAL_BATCH = 64;

/**
 * A cleanup's removals, a batch at a time. Each session's lock is held while its files go: no
 * logger resumes the session, and no PostgresSink starts replaying its spool or recovering it,
 * meanwhile; the lock a killed process left goes with it (taken over, then released: removed), a
 * live one's never ("live": `live(sessionId)`). A session kept after all (`remove` says false)
 * gets the lock back as it was found (a PostgresSink of another store may still have that crash
 * to recover).
 *
 * What the sessions hold is listed once their locks are held: no logger writes them from there
 * on, but between the run's listing and the lock another process may have resumed one and written
 * files the run's listing lacks (a kind of record it had not written before, a rotated segment, a
 * spool), or a PostgresSink may have claimed its spool or its recovery; judged or planned from the
 * run's listing, such a session lost those records' files while the new ones stayed behind, or
 * was removed under a sink recovering it. Until 2026-12-06 each removal took its lock and listed
 * the directory alone: a cleanup removing most of 2,000 sessions listed 16,000 names 2,000 times.
 * Now the locks of up to REMOVAL_BATCH sessions are taken (in the order judged), the directory
 * listed once, and each session removed in turn, its lock released as its removal ends. A lock
 * that cannot be taken and is thrown (no `onRemoveError`) is thrown after the removals of the
 * sessions before it, as it was.
 */
function removalBatch(auditDir: string, o: CleanupOptions, live: (sessionId: string) => void): { add(sessionId: string, remove: (present: SessionNames) => boolean): void; flush(): void } {
  let batch: Array<{ sessionId: string; remove: (present: SessionNames) => boolean }> = [];
  const flush = (): void => {
    const b = batch;
    batch = [];
    const locked: Array<{ remove: (present: SessionNames) => boolean; lock: SessionLock }> = [];
    let failure: { error: unknown } | undefined;
    for (const { sessionId, remove } of b) {
      let lock: SessionLock | "live" | "failed";
      try {
        lock = takeLock(auditDir, sessionId, o);
      } catch (error) {
        failure = { error };
        break;
      }
      if (lock === "live") live(sessionId);
      if (lock instanceof SessionLock) locked.push({ remove, lock });
    }
    let settled = 0;
    try {
      const present = locked.length > 0 ? new SessionNames(safeReaddir(auditDir)) : undefined;
      for (const { remove, lock } of locked) {
        let gone = false;
        try {
          gone = remove(present!);
        } finally {
          settled++;
          if (gone) lock.release();
          else lock.giveBack();
        }
      }
    } finally {
      for (const { lock } of locked.slice(settled)) lock.giveBack();
    }
    if (failure) throw failure.error;
  };
  return {
    add(sessionId, remove) {
      batch.push({ sessionId, remove });
      if (batch.length >= REMOVAL_BATCH) flush();
    },
    flush,
  };
}

/**
 * Stems of the names of a session's files (`<stem>_<sessionId>…`): its chains' (and their
 * segments), its session file (and one being written whole), its checkpoints, its key store
 * (and its shredding marker, one being rewritten).
 */
const SESSION_STEMS = [...CHAIN_KINDS.map((k) => KIND_FILE_STEM[k]), "session", "checkpoints", KEY_STORE_PREFIX.slice(0, -1)];

/**
 * A listing of the audit directory, and of it the names one session's judgement, plan and removal
 * read (`of`), in the listing's order: those that start with `<stem>_<sessionId>` for a stem of
 * SESSION_STEMS (a session whose id begins with it, `<id>.x`, included: a recovery marker's
 * workings are told from such a session's marker by its files), and every dot file (locks,
 * PostgresSink spools and recovery markers, whose names put the store before the session). Each
 * of lastActivity, removalOf (sessionFiles, sinkFilesOf, tempLeftovers, lockLeftovers),
 * leftoverActivity and carriedBy looks at no other name for that session, so each finds what it
 * found in the whole listing. Found 2026-12-06: every session's judgement went through the whole
 * listing some ten times, each removal some twenty more (quadratic in the sessions).
 */
class SessionNames {
  private readonly sorted: string[];
  private readonly order: Map<string, number>;
  private readonly dots: string[];

  constructor(readonly names: readonly string[]) {
    this.sorted = [...names].sort();
    this.order = new Map(names.map((n, i) => [n, i]));
    this.dots = withPrefix(this.sorted, ".");
  }

  of(sessionId: string): string[] {
    const picked = new Set(this.dots);
    for (const stem of SESSION_STEMS) for (const n of withPrefix(this.sorted, `${stem}_${sessionId}`)) picked.add(n);
    return [...picked].sort((a, b) => this.order.get(a)! - this.order.get(b)!);
  }
}

/**
 * What a process killed midway left of the directory's own files, from the listing `names`, when
 * the process their name names is gone (see leftByGoneNamed): the legal holds file being written
 * whole beside its place (`legal_holds.json.<pid>.<random>.tmp`, see replaceFileSync), and a directory lock set
 * aside to be removed (see DIR_LOCK_ASIDE): the shred lock's, the legal holds lock's. Found
 * 2026-12-05: no cleanup knew these names, and they stayed for good.
 */
function directoryTemps(auditDir: string, names: readonly string[]): string[] {
  return [
    ...leftByGoneNamed(auditDir, names, `${HOLDS_FILE}.`, REPLACE_TEMP),
    ...leftByGoneNamed(auditDir, names, `${HOLDS_LOCK}.`, DIR_LOCK_ASIDE),
    ...leftByGoneNamed(auditDir, names, `${SHRED_LOCK}.`, DIR_LOCK_ASIDE),
  ];
}

/** A lock file's name: `.session_<sessionId>.lock` (see lockFileName). */
const LOCK_FILE = /^\.session_(.+)\.lock$/;
/** A recovery marker's name: `.pg_recovery_<store>_<sessionId>` (see recoveryMarkerName); one being written ends in `.tmp`. */
const MARKER_FILE = /^\.pg_recovery_[0-9a-f]{10}_(.+)$/;

/**
 * The session whose leftover file `name` is, if it is one: a temporary file of its session file
 * or key store (TEMP_FILE: tempLeftovers judges them), a lock or one of its internal
 * files (by name: lockLeftovers judges them), a PostgresSink recovery marker or its workings, or a spool (claimed or not) that no session of `owned` (those with files, and the active
 * one) can have by its name (see spoolSessions: `.pg_spool_<store>_<id>.jsonl` is also an older
 * version's spool of session `<store>_<id>`); a spool is taken as its name reads today,
 * `.pg_spool_<store>_<id>.jsonl` as session `<id>`'s. sinkFilesOf then judges each by its content.
 */
function leftoverOf(name: string, owned: ReadonlySet<string>): string | undefined {
  const stem = name.replace(CLAIM_SUFFIX, "");
  let id: string | undefined;
  if (!name.startsWith(".")) {
    const temp = TEMP_FILE.exec(name);
    id = temp?.[1] ?? temp?.[2];
  } else if (/^\.pg_spool_.+\.jsonl$/.test(stem)) {
    const ids = spoolSessions(stem);
    if (ids.some((s) => owned.has(s))) return undefined;
    id = ids.at(-1);
  } else {
    const marker = MARKER_FILE.exec(name)?.[1];
    // (a marker's workings a killed sink left: see MARKER_TEMP_OF; not when the whole name is the
    // marker of a session with files, a session id holding dots: until 2026-12-05 such a
    // session's marker was removed as what was left of another, `m` for `m.<pid>.tmp`)
    const workings = marker === undefined || owned.has(marker) ? undefined : MARKER_TEMP_OF.exec(marker)?.[1];
    id = LOCK_FILE.exec(name)?.[1] ?? lockInternalSession(name) ?? workings ?? (marker?.endsWith(".tmp") ? undefined : marker);
  }
  return id !== undefined && !owned.has(id) && isFileSessionId(id) ? id : undefined;
}

/**
 * The sessions the listing `names` holds dot files of (see leftoverOf) that have no other file
 * and are not active (`owned`), each with those files' names. Found 2026-12-05: a cleanup of a
 * version that did not remove them with their session (before 2026-12-05), or a session's files
 * deleted by hand, left them for good: no cleanup looked at a session with no records, and every
 * PostgresSink's open reads each lock left.
 */
function leftoverSessions(names: readonly string[], owned: ReadonlySet<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of names) {
    const id = leftoverOf(name, owned);
    if (id === undefined) continue;
    const of = out.get(id);
    if (of) of.push(name);
    else out.set(id, [name]);
  }
  return out;
}

/** The newest mtime of what is left of session `sessionId` (its lock, what PostgresSinks keep of it), from the listing `names`; 0 when nothing is. */
function leftoverActivity(auditDir: string, sessionId: string, names: readonly string[]): number {
  const sink = sinkFilesOf(auditDir, sessionId, names);
  let last = 0;
  for (const f of [...sink.files, ...sink.unsent, ...tempLeftovers(auditDir, sessionId, names), ...lockLeftovers(auditDir, sessionId, names), lockFileName(sessionId)]) {
    if (f === lockFileName(sessionId) && !names.includes(f)) continue;
    last = Math.max(last, fs.statSync(path.join(auditDir, f), { throwIfNoEntry: false })?.mtimeMs ?? 0);
  }
  return last;
}

/**
 * What a whole session's removal takes, from the directory's listing `names` (`files`: its own,
 * then its dot files: what PostgresSinks keep of it, see sinkFilesOf, what a killed process left
 * of its lock's workings, see lockLeftovers, and the lock a killed process left, when
 * `lockLeft`), or, when
 * records of it may not have reached a PostgreSQL store yet, what keeps it (`unsent`). Found
 * 2026-12-05: the dot files stayed behind, and piled up without bound (every PostgresSink's open
 * lists the directory and reads each lock left).
 */
function removalOf(auditDir: string, sessionId: string, lockLeft: boolean, names: readonly string[]): { files: string[]; unsent: string[] } {
  const sink = sinkFilesOf(auditDir, sessionId, names);
  if (sink.unsent.length > 0) return { files: [], unsent: sink.unsent };
  return { files: [...sessionFiles(auditDir, sessionId, names), ...tempLeftovers(auditDir, sessionId, names), ...sink.files, ...lockLeftovers(auditDir, sessionId, names), ...(lockLeft ? [lockFileName(sessionId)] : [])], unsent: [] };
}

/**
 * Takes session `sessionId`'s lock for its removal (a stale one is taken over, as a logger takes
 * it); "live" when a live process holds it; "failed" when it cannot be taken (reported through
 * `onRemoveError`, else thrown).
 */
function takeLock(auditDir: string, sessionId: string, o: CleanupOptions): SessionLock | "live" | "failed" {
  try {
    return new SessionLock(auditDir, sessionId);
  } catch (err) {
    if (err instanceof AuditSessionLockedError) return "live";
    if (!o.onRemoveError) throw err;
    o.onRemoveError(lockFileName(sessionId), err as Error);
    return "failed";
  }
}

/** Removes an abandoned claim (see removeAbandonedClaim: judged again, as at `now` with `liveSince`): false when it was not (no longer abandoned, or a failure reported through `onRemoveError`, else thrown). */
function removeClaim(auditDir: string, file: string, now: number, liveSince: number | undefined, o: CleanupOptions): boolean {
  try {
    return removeAbandonedClaim(auditDir, file, now, liveSince);
  } catch (err) {
    if (!o.onRemoveError) throw err;
    o.onRemoveError(file, err as Error);
    return false;
  }
}

function removeFile(auditDir: string, file: string, o: CleanupOptions): void {
  try {
    fs.rmSync(safeJoin(auditDir, file), { force: true });
  } catch (err) {
    if (!o.onRemoveError) throw err;
    o.onRemoveError(file, err as Error);
  }
}

/**
 * What a session's removal record carries from the session's own chain, which goes with it: the
 * data keys its shreddings destroyed, the sessions its cleanups removed (with what those
 * removals carried, so the chain of removals holds however many times it is pruned), and the
 * legal holds it placed and released (with those its removals carried). Found by a re-review,
 * 2026-12-05: a session removed by X's cleanup became session_missing once Y's cleanup removed X,
 * and the record of the first removal with it. Likewise, 2026-12-05: a hold a session placed on
 * another went with the placing session's chain when it was removed, and lived on in
 * `legal_holds.json` only (no chained, signed evidence: with the file lost, cleanup removed the
 * held session, and verify said nothing of it); a release went too, and the hold it released
 * came back. Every placement and release is carried, a released hold's too: verify judges each
 * removal by the time a hold was in force.
 */
function carriedBy(
  auditDir: string,
  sessionId: string,
  names: readonly string[],
): { shreddedKeyIds: string[]; removedSessions: string[]; legalHolds: ChainedHoldPlacement[]; releasedHolds: ChainedHoldRelease[] } {
  const keys = new Set<string>();
  const sessions = new Set<string>();
  const placed = new Map<string, ChainedHoldPlacement>();
  const released = new Map<string, ChainedHoldRelease>();
  for (const rec of auditEventsOf(auditDir, sessionId, ["subject_shredded", "retention_pruned", "legal_hold_placed", "legal_hold_released"], names)) {
    const gone = goneBy(rec);
    for (const id of gone.keyIds) keys.add(id);
    for (const id of gone.sessionIds) sessions.add(id);
    const held = holdsBy(rec, sessionId);
    for (const h of held.placed) if (!placed.has(h.holdId)) placed.set(h.holdId, h);
    // (the earliest release of a hold: the one that ended it)
    for (const r of held.released) if (!released.has(r.holdId) || r.releasedAt < released.get(r.holdId)!.releasedAt) released.set(r.holdId, r);
  }
  return { shreddedKeyIds: [...keys], removedSessions: [...sessions], legalHolds: [...placed.values()], releasedHolds: [...released.values()] };
}

/**
 * The active session's rotated segments whose newest record is older than the cutoff, oldest
 * first, never the active files; from the directory's listing `names` (a segment rotated out
 * since is judged at the next cleanup: segments go oldest first, so the ones listed come first).
 */
function pruneSegments(auditDir: string, sessionId: string, cutoff: number, policy: PrunePolicy, o: CleanupOptions, names: readonly string[]): CleanupEntry[] {
  const out: CleanupEntry[] = [];
  for (const kind of RECORD_KINDS) {
    const segments = listKindFiles(auditDir, kind, sessionId, names).filter((f) => f.segment !== undefined);
    const gone: typeof segments = [];
    let tail: ReturnType<typeof peekTail>;
    for (const seg of segments) {
      // (a segment a failed rotation writes on to is the kind's file in use: found by the
      // operator pass, 2026-12-05, an app idle past the retention period had it pruned, and
      // every record written after went to the removed file)
      if (o.inUse?.some((f) => path.resolve(f) === path.resolve(seg.path))) break;
      const t = peekTail(seg.path);
      if (!t || Date.parse(t.timestamp) >= cutoff) break;
      gone.push(seg);
      tail = t;
    }
    if (gone.length === 0 || !tail) continue;
    const files = gone.map((g) => g.name);
    if (!o.dryRun) {
      const merkle = previousFrontier(auditDir, sessionId, kind);
      for (const g of gone) {
        for (const l of readLinesSync(g.path)) {
          const sealed = l.terminated ? splitSealedLine(l.text) : undefined;
          if (sealed) merkle.push(sealed.hash);
        }
      }
      o.record?.({
        scope: "segments",
        sessionId,
        kind,
        segments: gone.map((g) => g.segment!),
        lastSeq: tail.seq,
        lastHash: tail.hash,
        newestRecordTime: tail.timestamp,
        merkleFrontier: merkle.frontier(),
        files,
        policy,
      });
      for (const g of gone) fs.rmSync(g.path, { force: true });
    }
    out.push({ sessionId, lastActivity: tail.timestamp, files });
  }
  return out;
}

/**
 * Where the Merkle accumulator of `kind` stood at the session's furthest prune of it. Reads the
 * session's audit_event chain as it is now (listing the directory): the records of this run's
 * removals and prunes go to that chain, and may have rotated it since the run's listing (a
 * segment missed there would hide the prune before, and the new record would carry a wrong
 * frontier).
 */
function previousFrontier(auditDir: string, sessionId: string, kind: ChainKind): MerkleAccumulator {
  const last = furthestPrunes(readPruneRecords(auditDir, sessionId))[kind];
  return last ? MerkleAccumulator.fromFrontier(last.merkleFrontier) : new MerkleAccumulator();
}

/**
 * The holds the audit_event chains of the directory place and do not release, which cleanup
 * honours beside those of `legal_holds.json` (an error when it cannot be read, see readHolds).
 * Until 2026-12-05 only the file counted: with it deleted (or left out of a copy or a restore)
 * cleanup removed held sessions, and a hold a session had placed on itself went with the
 * session's own chain, so verify said OK after (found by the viewer pass). Every chain found is
 * read (see chainSessionIds: those of sessions whose records are gone too), with the placements
 * and releases the removal records in them carry (see holdsBy). A release counts for the ids it
 * names (`details.holdIds`), as verify, the viewer and the PostgreSQL store count it: every
 * version of the kit has written them (since legal holds came, 2026-11-26), so a release naming
 * no ids is not the kit's (until 2026-12-05 cleanup took one for the holds of its scope, a
 * release verify did not believe). The listing is read once: each session's chain files are
 * found in an index of it (see chainFilesBySession). `listed`: listSessionIds of `names`, when
 * the caller has it (see chainSessionIds).
 */
export function chainedHolds(auditDir: string, names: readonly string[] = safeReaddir(auditDir), cache?: AuditEventsCache, listed?: readonly string[]): LegalHold[] {
  const placed = new Map<string, LegalHold & { byRecord: boolean }>();
  const released = new Set<string>();
  const chains = chainFilesBySession(names);
  for (const sessionId of chainSessionIds(auditDir, names, listed)) {
    const files = chains.get(sessionId);
    if (!files) continue;
    for (const rec of auditEventsOf(auditDir, sessionId, ["legal_hold_placed", "legal_hold_released", "retention_pruned"], files, cache)) {
      const held = holdsBy(rec, sessionId);
      // (a hold's own `legal_hold_placed` record wins over the copies removal records carry,
      // whichever chain is read first: the chain's placement is the evidence, and what the
      // PostgreSQL store reads; a copy is taken only for a hold whose record is gone. Until
      // 2026-12-05 the first one read won, and a copy that differed from the record, as one
      // written cut by a logger with a small maxValueChars did, gave the hold its values; found
      // by the session-status pass)
      const byRecord = rec.eventType === "legal_hold_placed";
      for (const h of held.placed) {
        const had = placed.get(h.holdId);
        if (had && (had.byRecord || !byRecord)) continue;
        placed.set(h.holdId, { id: h.holdId, scope: h.scope, reason: h.reason, placedAt: h.placedAt, placedBySession: h.placedBySession, byRecord });
      }
      for (const r of held.released) released.add(r.holdId);
    }
  }
  for (const id of released) placed.delete(id);
  return [...placed.values()].map(({ byRecord: _r, ...h }) => h);
}
