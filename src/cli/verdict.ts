/**
 * Whether the logs a command read verify, for `summary` and `report`: they read records as they
 * are, and counted those of a tampered or damaged log as if they were sound (found by the
 * integrity pass, 2026-12-05). They verify the directory as `export` does (as `audit-logger
 * verify` does without a public key), or the PostgreSQL store as `verify --postgres` does, print
 * what they read all the same, say plainly which sessions and files fail, and exit 1.
 */
import { verifyAuditLog } from "../reader/verify.js";
import { verifyPostgres } from "../postgres/verify.js";
import { redactUrl, type OpenStore, type StoreTarget } from "./store.js";
import type { VerifyProblem } from "../types.js";
import { clean } from "./format.js";
import type { CliIO } from "./io.js";

/** At most this many problems are listed in a command's JSON (a rewritten chain gives one per record). */
const LISTED = 100;

/** What `summary --json` (per session) and `report --json` carry as `verification`. */
export interface Verification {
  /** no problem: the numbers come from logs that verify (self-consistent: no public key is checked) */
  readonly ok: boolean;
  readonly problemCount: number;
  /** the sessions with problems of their own */
  readonly failedSessions: readonly string[];
  /** the files problems were found in */
  readonly files: readonly string[];
  /** the first 100 problems, without their detail (`audit-logger verify` gives it) */
  readonly problems: ReadonlyArray<Pick<VerifyProblem, "kind" | "file" | "seq" | "sessionId">>;
}

export interface LogsVerdict {
  readonly all: Verification;
  /** the verdict for one session: its own problems and the directory's (a key store, a planted file) */
  of(sessionId: string): Verification;
}

function verification(problems: readonly VerifyProblem[]): Verification {
  return {
    ok: problems.length === 0,
    problemCount: problems.length,
    failedSessions: [...new Set(problems.flatMap((p) => (p.sessionId !== undefined ? [p.sessionId] : [])))].sort(),
    files: [...new Set(problems.map((p) => p.file))].sort(),
    problems: problems.slice(0, LISTED).map((p) => ({ kind: p.kind, file: p.file, ...(p.seq !== undefined ? { seq: p.seq } : {}), ...(p.sessionId !== undefined ? { sessionId: p.sessionId } : {}) })),
  };
}

function verdict(problems: readonly VerifyProblem[]): LogsVerdict {
  const directory = problems.filter((p) => p.sessionId === undefined);
  return { all: verification(problems), of: (sid) => verification([...problems.filter((p) => p.sessionId === sid), ...directory]) };
}

/** Verifies `dir` (one session, or all of them), as `audit-logger verify <dir>` does. */
export async function verifyLogs(dir: string, session: string | undefined): Promise<LogsVerdict> {
  return verdict((await verifyAuditLog(dir, session !== undefined ? { sessionId: session } : {})).problems);
}

/**
 * Verifies the PostgreSQL store `store` (one session, or all of them), as `audit-logger verify
 * --postgres` does. Until 2026-12-05 `summary` and `report --postgres` did not: a row edited in
 * the store was counted as sound, with exit 0 and no word.
 */
export async function verifyStore(store: OpenStore, session: string | undefined): Promise<LogsVerdict> {
  return verdict((await verifyPostgres({ pool: store.pool, schema: store.schema, ...(session !== undefined ? { sessionId: session } : {}) })).problems);
}

/** The `audit-logger verify` command line that checks what a command read (for its message). */
export function verifyCommandFor(target: StoreTarget): string {
  return target.kind === "dir" ? `audit-logger verify ${clean(target.dir)}` : `audit-logger verify --postgres ${clean(redactUrl(target.url))} --schema ${clean(target.schema)}`;
}

/**
 * The one line on stderr a command prints when the logs it read do not verify (`dir`: the
 * directory or the store's description; `verifyCommand`: see verifyCommandFor, by default
 * `audit-logger verify <dir>`).
 */
export function reportFailedVerification(command: string, dir: string, v: Verification, io: CliIO, verifyCommand = `audit-logger verify ${clean(dir)}`): void {
  const sessions = v.failedSessions.length > 0 ? ` in session${v.failedSessions.length === 1 ? "" : "s"} ${v.failedSessions.slice(0, 5).map(clean).join(", ")}${v.failedSessions.length > 5 ? ", …" : ""}` : "";
  const files = v.files.slice(0, 5).map(clean).join(", ") + (v.files.length > 5 ? ", …" : "");
  io.err(
    io.errColor.red(
      `audit-logger ${command}: the logs do not verify (${v.problemCount} problem${v.problemCount === 1 ? "" : "s"}${sessions}; ${files}): the numbers count their records as they are now, not as they were written. Run ${verifyCommand}`,
    ),
  );
}
