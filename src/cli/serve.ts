/**
 * `audit-logger serve <dir>` (or `--postgres <url> [--schema s]`): starts the local web viewer, prints its URL (with a fresh access
 * token), opens a browser unless --no-open, and runs until SIGINT or SIGTERM.
 */
import { spawn } from "node:child_process";
import { createPublicKey } from "node:crypto";
import fs from "node:fs";
import { startServer } from "../serve/server.js";
import { commandFailed, EXIT_OK, intOption, parseCommand, storeContentDir, UsageError } from "./args.js";
import { listSessionIds } from "../sink/files.js";
import { openStore, selectStoreSessions, STORE_OPTIONS, storeHelp, storeTarget, type OpenStore } from "./store.js";
import { createIO, type CliIO, type Command } from "./io.js";
import { loadCliKey } from "./keys.js";

const HELP = `Usage: audit-logger serve <dir> [--port <n>] [--host <addr>] [--key-file <file>] [--public-key <file>]… [--no-open]
       audit-logger serve --postgres <url> [--schema <name>] [--content-dir <dir>] [--port <n>] [--host <addr>] [--key-file <file>] [--no-open]

Starts a read-only web viewer of the audit trail: sessions, timelines, conversations, tools,
errors, analytics charts, the verifier's findings, and JSON/CSV export downloads.

  <dir>              the audit directory, or a project directory containing audit_logs/
  --port <n>         port to listen on (default: any free port)
  --host <addr>      address to bind (default 127.0.0.1, this machine only)
  --key-file <file>  key (or keyring) to show encrypted prompts and responses; default: the
                     AUDIT_LOGGER_KEY variable; without a key they are shown as encrypted
  --public-key <file> a trusted Ed25519 public key (PEM; repeat for several): the integrity
                     panel checks the checkpoints' signatures against it, as verify
                     --public-key does; without one its verdict is self-consistent only
  --no-open          do not open a browser
  --content-dir <dir> with --postgres: the writing instance's audit directory, whose key stores
                     open its encrypted records (the store's key table does too, from
                     schema version 6) and whose files hold full content
${storeHelp(19)}
  -h, --help         show this help

The printed URL carries a random access token; requests without it are refused (401). Binding to
another address than loopback exposes the trail to the network: only do so behind a firewall.
Stop with Ctrl-C.`;

/** Opens `url` in the desktop's browser; a failure (no desktop, no opener) is ignored. */
function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", url]] : ["xdg-open", [url]];
  try {
    const child = spawn(cmd, args, { stdio: "ignore", detached: true });
    child.on("error", () => undefined);
    child.unref();
  } catch {
    // nothing to open it with: the printed URL is enough
  }
}

async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommand("serve", argv, {
    port: { type: "string" },
    host: { type: "string" },
    "key-file": { type: "string" },
    "public-key": { type: "string", multiple: true },
    "content-dir": { type: "string" },
    "no-open": { type: "boolean" },
    ...STORE_OPTIONS,
  });
  if (values.help) {
    io.out(HELP);
    return EXIT_OK;
  }
  const target = storeTarget("serve", positionals, values);
  const port = intOption("--port", values.port, 0, 65535) ?? 0;
  const host = values.host ?? "127.0.0.1";
  if (host.trim() === "") throw new UsageError("option --host needs an address, e.g. 127.0.0.1");
  const contentDir = storeContentDir(values["content-dir"], target.kind === "postgres");
  const key = loadCliKey(values["key-file"], io.env, target.kind === "dir" ? target.dir : contentDir);
  if (values["public-key"] !== undefined && target.kind !== "dir") throw new UsageError("option --public-key applies to a <dir>: signed checkpoints are kept in each instance's audit directory, not in the store");
  const publicKeys = (values["public-key"] ?? []).map((file) => {
    // (a file read that is no key is a key error, AUDIT_ERR_KEY, as verify --public-key says it)
    let read = false;
    try {
      const pem = fs.readFileSync(file, "utf8");
      read = true;
      createPublicKey(pem);
      return pem;
    } catch (err) {
      throw new UsageError(`option --public-key: cannot read a public key from "${file}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, undefined, read ? "AUDIT_ERR_KEY" : "AUDIT_ERR_CONFIG");
    }
  });
  if (io.signal.aborted) return EXIT_OK;
  // the store is checked up front (unreachable, bad login, no store in the schema: one message, exit 1)
  const store: OpenStore | undefined = target.kind === "postgres" ? await openStore(target) : undefined;
  let server: Awaited<ReturnType<typeof startServer>>;
  // (said below, as tail -f says it: a wrong <dir> served an empty viewer without a word, CLI pass,
  // 2026-12-06; and a store without sessions, as tail --postgres says it, until 2026-12-06 nothing)
  let empty: boolean;
  try {
    empty = store ? (await selectStoreSessions(store, undefined)).length === 0 : target.kind === "dir" && listSessionIds(target.dir).length === 0;
    server = await startServer({
      ...(target.kind === "dir" ? { auditPath: target.dir } : { postgres: { pool: store!.pool, schema: store!.schema, ...(contentDir !== undefined ? { contentDir } : {}) } }),
      host,
      port,
      ...(key ? { encryptionKey: key.masters.length === 1 ? key.masters[0]! : key.masters } : {}),
      ...(publicKeys.length > 0 ? { publicKey: publicKeys } : {}),
    });
  } catch (err) {
    await store?.close();
    throw err;
  }
  const what = target.kind === "dir" ? target.dir : store!.description;
  io.out(`audit-logger serve: viewing ${what}${key ? ` (decrypting with the key from ${key.source})` : ""}`);
  io.out(`Open ${server.url}`);
  if (empty) io.err(`audit-logger serve: no audit logs in ${what} yet; the viewer shows sessions as they are written.`);
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "::1") io.err(`audit-logger serve: warning: listening on ${host}, not only this machine; anyone with the URL can read the trail.`);
  io.out("Press Ctrl-C to stop.");
  if (!values["no-open"]) openBrowser(server.url);
  await new Promise<void>((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await server.close();
  await store?.close();
  return EXIT_OK;
}

/**
 * The `serve` sub-command for the CLI's command table.
 *
 * @example
 * // in src/cli/run.ts COMMANDS:
 * // { name: "serve", summary: "...", load: async () => (await import("./serve.js")).serveCliCommand }
 */
export const serveCliCommand: Command = { name: "serve", help: HELP, run };

/**
 * Runs `audit-logger serve` with `argv` (the arguments after `serve`) on the process's own
 * streams, until SIGINT or SIGTERM; resolves to the exit code (0; 1 when it cannot start; 2 for bad usage).
 *
 * @example
 * process.exitCode = await serveCommand(["./audit_logs", "--port", "8080", "--no-open"]);
 */
export async function serveCommand(argv: string[]): Promise<number> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const io = createIO(process.stdout, process.stderr, process.env, controller.signal);
  try {
    return await run(argv, io);
  } catch (err) {
    return commandFailed("serve", err, io);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
