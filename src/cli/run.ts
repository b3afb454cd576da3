/** Dispatches a command line to its sub-command and turns errors into exit codes. */
import { createRequire } from "node:module";
import { commandFailed, EXIT_OK, EXIT_USAGE } from "./args.js";
import type { CliIO, Command } from "./io.js";

interface CommandEntry {
  readonly name: string;
  /** one line for the top-level help */
  readonly summary: string;
  /** loaded on use, so one command's dependencies never slow down or break another */
  load(): Promise<Command>;
}

/** Every sub-command, in the order the help lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: "verify", summary: "check the hash chains and content files for damage or tampering", load: async () => (await import("./verify.js")).verifyCommand },
  { name: "summary", summary: "summarise each session: counts, tokens, models, success rates", load: async () => (await import("./summary.js")).summaryCommand },
  { name: "report", summary: "analytics per model, tool, persona, metric and hour, as tables or JSON", load: async () => (await import("./report.js")).reportCommand },
  { name: "export", summary: "write the trail as JSON, CSV, or a complete directory with checksums", load: async () => (await import("./export.js")).exportCommand },
  { name: "tail", summary: "print the newest records, one line each; -f follows new ones live", load: async () => (await import("./tail.js")).tailCommand },
  { name: "cleanup", summary: "remove sessions older than their retention period", load: async () => (await import("./cleanup.js")).cleanupCommand },
  { name: "shred", summary: "crypto-shred one user's content: destroy their data keys, keep every chain verifiable", load: async () => (await import("./shred.js")).shredCommand },
  { name: "serve", summary: "open a local web viewer of the trail (read-only, token-protected)", load: async () => (await import("./serve.js")).serveCliCommand },
];

function version(): string {
  const require = createRequire(import.meta.url);
  for (const p of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = require(p) as { name?: string; version?: string };
      if (pkg.name === "audit-logger" && pkg.version) return pkg.version;
    } catch {
      // try the next layout (src/cli or dist/src/cli)
    }
  }
  return "unknown";
}

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "Usage: audit-logger <command> <dir> [options]",
    "       audit-logger <command> --postgres <url> [--schema <name>] [options]",
    "",
    "Looks at an audit-logger trail from the terminal. <dir> is the audit directory, or a project",
    "directory that contains audit_logs/. --postgres reads a PostgreSQL store (PostgresSink) instead:",
    "verify, summary, report, export and tail accept it.",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `audit-logger <command> --help` for a command's options.",
    "Keys for encrypted logs come from --key-file <file> or the AUDIT_LOGGER_KEY variable.",
    "Colour only on a terminal; set NO_COLOR to turn it off.",
    "",
    "Exit codes: 0 success, 1 a problem was found or the command failed, 2 bad usage.",
  ].join("\n");
}

/**
 * An unknown first argument (or `help <name>`): bad usage, said with its code and the fix, as a
 * sub-command's bad usage is (until 2026-12-06 these two lines alone had no code).
 */
function unknownAtTop(what: "command" | "option", name: string, io: CliIO): number {
  io.err(`audit-logger: unknown ${what} "${name}": give one of the commands ${COMMANDS.map((c) => c.name).join(", ")} [AUDIT_ERR_CONFIG]`);
  io.err(`Run "audit-logger --help" for usage.`);
  return EXIT_USAGE;
}

/**
 * Runs one command line (without `node` and the script) and resolves to its exit code.
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2), createIO(process.stdout, process.stderr, process.env, signal));
 */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(topHelp());
    return EXIT_USAGE;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    const sub = name === "help" && rest[0] !== undefined ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    if (name === "help" && rest[0] !== undefined && !sub) return unknownAtTop("command", rest[0], io);
    io.out(sub ? (await sub.load()).help : topHelp());
    return EXIT_OK;
  }
  if (name === "--version" || name === "-v") {
    io.out(version());
    return EXIT_OK;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) return unknownAtTop(name.startsWith("-") ? "option" : "command", name, io);
  try {
    const command = await entry.load();
    return await command.run(rest, io);
  } catch (err) {
    return commandFailed(name, err, io);
  }
}
