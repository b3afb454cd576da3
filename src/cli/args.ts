/**
 * The command line's argument plumbing: strict `node:util` parsing, usage errors that name the
 * offending flag (exit code 2), and the `<dir>` argument.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { SESSION_ID_PATTERN } from "../config/schema.js";
import { listSessionIds } from "../sink/files.js";
import { KIND_FILE_STEM } from "../types.js";
import { timeMillis } from "../reader/time-input.js";
import { AuditLoggerError } from "../errors.js";
import { nearestName } from "../nearest-name.js";
import type { CliIO } from "./io.js";

/** Exit codes of every command: 0 success, 1 a finding or failure, 2 bad usage. */
export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/**
 * Bad usage: an unknown flag, a missing or bad value, a missing directory. The CLI prints the
 * message with its code (`AUDIT_ERR_KEY` for a key that cannot be used, else `AUDIT_ERR_CONFIG`,
 * the library's codes for the same mistakes) and exits with code 2; it never leaves the CLI
 * process. (Until 2026-12-06 it printed no code, where every other error of the CLI has one.)
 */
export class UsageError extends Error {
  readonly command: string | undefined;
  readonly code: "AUDIT_ERR_CONFIG" | "AUDIT_ERR_KEY";
  constructor(message: string, command?: string, code: "AUDIT_ERR_CONFIG" | "AUDIT_ERR_KEY" = "AUDIT_ERR_CONFIG") {
    super(message);
    this.name = "UsageError";
    this.command = command;
    this.code = code;
  }
}

/** What the CLI prints on stderr for a usage error of `command`. */
export function usageErrorLines(command: string, err: UsageError): string[] {
  return [`audit-logger ${command}: ${err.message} [${err.code}]`, `Run "audit-logger ${command} --help" for usage.`];
}

/**
 * Prints what a command threw and resolves to its exit code: a usage error with its help hint
 * (2), any other error with its code (1), the stack too with AUDIT_LOGGER_DEBUG set. One place
 * for `audit-logger <command>` and the programmatic `serveCommand` (which printed no code until
 * 2026-12-06).
 *
 * @example
 * try { return await command.run(rest, io); } catch (err) { return commandFailed("serve", err, io); }
 */
export function commandFailed(command: string, err: unknown, io: Pick<CliIO, "err" | "env">): number {
  if (err instanceof UsageError) {
    for (const line of usageErrorLines(command, err)) io.err(line);
    return EXIT_USAGE;
  }
  const e = err as NodeJS.ErrnoException;
  const code = err instanceof AuditLoggerError ? ` [${err.code}]` : e?.code ? ` [${e.code}]` : "";
  io.err(`audit-logger ${command}: ${e?.message ?? String(err)}${code}`);
  if (io.env.AUDIT_LOGGER_DEBUG && e?.stack) io.err(e.stack);
  return EXIT_FAIL;
}

export type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/** Flags every command accepts. */
export const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const satisfies OptionsConfig;

/** What {@link parseCommand} returns: typed flag values and the positionals. */
export type ParsedCommand<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: O & typeof HELP_OPTION; strict: true; allowPositionals: true }>>;

/**
 * Parses `argv` strictly; parse failures become a {@link UsageError} naming the flag.
 *
 * @example
 * const { values, positionals } = parseCommand("verify", argv, { json: { type: "boolean" } });
 */
export function parseCommand<O extends OptionsConfig>(command: string, argv: readonly string[], options: O): ParsedCommand<O> {
  try {
    return parseArgs({ args: [...argv], options: { ...options, ...HELP_OPTION }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(describeParseError(err as Error & { code?: string }, command, options), command);
  }
}

function describeParseError(err: Error & { code?: string }, command: string, options: OptionsConfig): string {
  const flag = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      // (its name only: what follows it may be a value joined to it by a slip, `--postgres:postgres://u:pw@h/db`,
      // `--key:sk-…`, and was printed whole, the password with it; adversarial review, 2026-12-06)
      const name = flag === undefined ? undefined : /^-{1,2}[A-Za-z0-9_-]*/.exec(flag)![0];
      const shown = name === undefined ? "(not shown)" : name === flag ? name : `${name}… (the rest not shown)`;
      return `unknown option ${shown} for "${command}"${unknownOptionFix(name, options)}`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return flag && /argument missing/.test(err.message)
        ? `option ${flag} needs a value`
        : flag && /argument is ambiguous/.test(err.message)
          ? // (the next argument starts with a dash: taken for another option; it was said "does not take a value")
            `option ${flag} needs a value (the next argument starts with "-"; to give a value that does, write it joined: ${flag.startsWith("--") ? `${flag}=-…` : `${flag}-…`})`
          : flag
          ? `option ${flag} does not take a value`
          : err.message;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument for "${command}": ${err.message}`;
    default:
      return err.message;
  }
}

/**
 * What to write instead of an unknown flag: the option it most likely misspells (`--publickey`,
 * `--dryrun`, `--max-age` for `--public-key`, `--dry-run`, `--max-age-days`), and the command's
 * options. (Until 2026-12-06 the message named the flag only, and a user had to find the right
 * spelling in the help: new-user pass.)
 *
 * @example
 * unknownOptionFix("--publickey", { session: { type: "string" }, "public-key": { type: "string" } })
 * // ": did you mean --public-key? Its options: --session, --public-key, --help (-h)"
 */
export function unknownOptionFix(flag: string | undefined, options: OptionsConfig): string {
  const all = [...Object.keys(options).filter((n) => n !== "help"), "help"];
  const short = (n: string) => (n === "help" ? "h" : options[n]?.short);
  const list = `Its options: ${all.map((n) => `--${n}${short(n) ? ` (-${short(n)})` : ""}`).join(", ")}`;
  const near = flag === undefined ? undefined : nearestName(flag.replace(/^-+/, "").split("=")[0]!, all);
  return near === undefined ? `. ${list}` : `: did you mean --${near}? ${list}`;
}

/**
 * A command-line word as a usage error echoes it: a URL's password (`postgres://u:pw@h/db`, also
 * behind a slip such as `—postgres=`) and a `password=`/`secret=`/`token=` value shown as `***`.
 * (A stray word was printed whole, `tail <dir> postgres://u:pw@h/db` the password with it;
 * adversarial review, 2026-12-06.)
 *
 * @example
 * shownArg("postgres://bob:pw@db/app"); // "postgres://bob:***@db/app"
 */
export function shownArg(raw: string): string {
  return raw.replace(/(:\/\/[^\s/?#@:]*:)[^\s]*@/g, "$1***@").replace(/((?:pass\w*|pwd|secret|token|api[_-]?key)=)[^\s&]*/gi, "$1***");
}

/** A `--since`/`--until` value: ISO 8601 (UTC when it has no offset), as an ISO UTC string; else a usage error naming the flag. */
export function timeOption(flag: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const t = timeMillis(raw);
  if (Number.isNaN(t)) throw new UsageError(`option ${flag} must be an ISO 8601 time such as 2025-05-01 or 2025-05-01T09:30:00Z (UTC when it has no offset), got "${raw}"`);
  return new Date(t).toISOString();
}

/**
 * `--since` and `--until` together, as ISO UTC strings; a `--since` at or after `--until` (which
 * is exclusive) holds no time, and is a usage error naming both: report and export gave an empty
 * result with exit 0, as if the trail held nothing then (found by the CLI pass, 2026-12-06).
 */
export function timeRangeOptions(sinceRaw: string | undefined, untilRaw: string | undefined): { since?: string; until?: string } {
  const since = timeOption("--since", sinceRaw);
  const until = timeOption("--until", untilRaw);
  if (since !== undefined && until !== undefined && since >= until) {
    throw new UsageError(`option --until (${until}) must be later than --since (${since}): records are kept from --since up to, not including, --until, so this range holds none`);
  }
  return { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}) };
}

/** A whole number option within bounds; `undefined` when the flag was not given. */
export function intOption(flag: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    // (the upper bound said when it is what was passed: "-n 99999999999999999" was told "of at least 0")
    const past = /^\d+$/.test(raw.trim()) && !(n < min);
    throw new UsageError(`option ${flag} must be a whole number${max === Number.MAX_SAFE_INTEGER && !past ? ` of at least ${min}` : ` from ${min} to ${max}`}, got "${raw}"`);
  }
  return n;
}

/** A `--session` value: a valid session id. */
export function sessionOption(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (!SESSION_ID_PATTERN.test(raw) || raw === "." || raw === "..") {
    throw new UsageError(`option --session must be a session id (1-128 of A-Z a-z 0-9 . _ -), got "${raw}"`);
  }
  return raw;
}

/** A chain's kind: the six record kinds, plus any the core adds (such as `audit_event`). */
export type ChainKindName = keyof typeof KIND_FILE_STEM;

/** Every chain kind the core knows, in its order. */
export const ALL_KINDS = Object.keys(KIND_FILE_STEM) as ChainKindName[];

/** A `--kind` value among `allowed`: a record type (`tool_usage`) or its file stem (`errors`). */
export function kindOption<K extends ChainKindName>(raw: string | undefined, allowed: readonly K[]): K | undefined {
  if (raw === undefined) return undefined;
  const hit = allowed.find((k) => k === raw || KIND_FILE_STEM[k] === raw);
  if (hit) return hit;
  throw new UsageError(`option --kind must be one of ${allowed.join(", ")}, got "${raw}"`);
}

/** One of a fixed set of values. */
export function choiceOption<T extends string>(flag: string, raw: string | undefined, choices: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  const hit = choices.find((c) => c === raw);
  if (!hit) throw new UsageError(`option ${flag} must be one of ${choices.join(", ")}, got "${raw}"`);
  return hit;
}

/** Exactly one positional `<dir>`; more or none is a usage error. */
export function singleDir(command: string, positionals: readonly string[]): string {
  if (positionals.length === 0) throw new UsageError(`"${command}" needs a <dir>: an audit directory, or a project directory that contains audit_logs/`, command);
  if (positionals.length > 1) throw new UsageError(`"${command}" takes one <dir>, got unexpected argument "${shownArg(positionals[1]!)}"`, command);
  return positionals[0]!;
}

/** What a `<dir>` must be, said when it is not. */
const DIR_FIX = "give the audit directory, or the project directory that contains audit_logs/";

/**
 * What a command says on stderr when its `<dir>` or store holds no audit logs (it then exits 1):
 * coded, and naming what to give instead. (Until 2026-12-06 it said "no audit logs in <where>."
 * with neither, where every other failure of the CLI has a code and its fix.)
 *
 * @example
 * io.err(noAuditLogsLine("summary", src.where, src.store !== undefined)); return EXIT_FAIL;
 */
export function noAuditLogsLine(command: string, where: string, overStore: boolean): string {
  const fix = overStore
    ? "no session has reached that store yet, or its sessions are in another schema (--schema)"
    : `${DIR_FIX} (a logger's auditDir, <projectPath>/audit_logs)`;
  return `audit-logger ${command}: no audit logs in ${where}: ${fix} [AUDIT_ERR_CONFIG]`;
}

/**
 * Resolves `<dir>`: the audit directory itself, or a project directory whose `audit_logs/` holds
 * the logs. A path that does not exist or is not a directory is a usage error.
 *
 * @example
 * resolveAuditDir("."); // "/srv/app/audit_logs" when run in /srv/app
 */
export function resolveAuditDir(raw: string): string {
  const dir = path.resolve(raw);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new UsageError(`<dir> "${raw}" does not exist: ${DIR_FIX}`);
  }
  if (!stat.isDirectory()) throw new UsageError(`<dir> "${raw}" is not a directory: ${DIR_FIX}`);
  if (listSessionIds(dir).length > 0) return dir;
  const nested = path.join(dir, "audit_logs");
  try {
    if (fs.statSync(nested).isDirectory()) return nested;
  } catch {
    // no audit_logs/ below: the directory itself (perhaps still empty) is the audit directory
  }
  return dir;
}

/** The sessions a command works on: the one named by `--session` (which must exist), else all. */
export function selectSessions(auditDir: string, session: string | undefined): string[] {
  const all = listSessionIds(auditDir);
  if (session === undefined) return all;
  if (!all.includes(session)) {
    const known = all.length === 0 ? "it holds no sessions" : `sessions there: ${all.slice(0, 10).join(", ")}${all.length > 10 ? ", …" : ""}`;
    throw new UsageError(`option --session: no session "${session}" in ${auditDir} (${known})`);
  }
  return [session];
}

/** `--content-dir`: an audit directory (or a project directory containing audit_logs/). */
export function contentDirOption(raw: string): string {
  let dir: string;
  try {
    dir = resolveAuditDir(raw);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`option --content-dir: ${err.message.replace(/^<dir> /, "")}`);
    throw err;
  }
  // an instance's audit directory, not any directory (its files are read by what records name)
  if (path.basename(dir) !== "audit_logs" && listSessionIds(dir).length === 0) {
    throw new UsageError(`option --content-dir: "${raw}" is not an audit directory (no audit_logs, no sessions): give the writing instance's audit_logs directory`);
  }
  return dir;
}

/** `--content-dir` as tail and serve take it: only with --postgres (a <dir> holds its own key stores). */
export function storeContentDir(raw: string | undefined, overStore: boolean): string | undefined {
  if (raw === undefined) return undefined;
  if (!overStore) throw new UsageError("option --content-dir only applies with --postgres: a <dir> holds its own key stores and content files");
  return contentDirOption(raw);
}
