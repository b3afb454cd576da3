/** `audit-logger tail <dir> [-f]`: the newest records, one line each; with -f, new ones as they come. */
import { openRecord } from "../reader/records.js";
import { listSessionIds, listKindFiles } from "../sink/files.js";
import { openKeyring } from "../pipeline/keyring.js";
import { StoreKeys } from "../postgres/keys.js";
import { ALL_KINDS, EXIT_FAIL, EXIT_OK, intOption, type ChainKindName, kindOption, noAuditLogsLine, parseCommand, resolveAuditDir, selectSessions, sessionOption, storeContentDir } from "./args.js";
import { formatRecord } from "./format.js";
import type { CliIO, Command } from "./io.js";
import { keyringFor, loadCliKey } from "./keys.js";
import { ChainFollower, lastLines } from "./tail-read.js";
import { StoreFollower } from "./tail-store.js";
import { openStore, selectStoreSessions, STORE_OPTIONS, storeHelp, storeTarget } from "./store.js";

const POLL_MS = 200;
const SESSION_SCAN_MS = 1000;
/** `-f --postgres`: the delay between attempts while the store's connection is lost */
const RETRY_MS = 1000;

const HELP = `Usage: audit-logger tail <dir> [-f] [-n <count>] [--session <id>] [--kind <kind>] [--json] [--key-file <file>]
       audit-logger tail --postgres <url> [--schema <name>] [-f] [options]

Prints the newest records, one line each, oldest first (all kinds merged by time, and records of
one millisecond by id, the order a process made them in): time, kind, session#seq, what happened,
then the record's user= and trace= when it has them.

  <dir>              the audit directory, or a project directory containing audit_logs/
  -f, --follow       keep running and print new records as they are written, across file
                     rotation and new sessions; stop with Ctrl-C
  -n, --lines <n>    how many existing records to print first (default 10; 0 for none)
  --session <id>     one session only (default: every session)
  --kind <kind>      one kind only: ${ALL_KINDS.join(", ")}
  --json             print each record's JSON line exactly as stored
  --key-file <file>  key to decrypt prompt previews (default: the AUDIT_LOGGER_KEY variable);
                     without a key, encrypted previews show as [encrypted]
  --content-dir <dir> with --postgres: the writing instance's audit directory, whose key
                     stores open its records' per-user keys (without it, the store's
                     key table does, for stores of schema version 6)
${storeHelp(19)}
  -h, --help         show this help

Over --postgres, -f asks the store every 200 ms for what each chain gained, so records an
instance replays from its spool after an outage are shown when they arrive.

Exit codes: 0 done (or stopped with Ctrl-C), 1 no audit logs found (without -f, which waits for
them), a failure (or the store is unreachable), 2 bad usage.`;

interface Parsed {
  readonly line: string;
  readonly rec: Record<string, unknown> | undefined;
  readonly ts: string;
  /** the record's id: a ULID, monotonic within a process, so it orders one millisecond's records as they were made */
  readonly id: string;
}

function parse(line: string): Parsed {
  try {
    const rec = JSON.parse(line) as unknown;
    if (typeof rec === "object" && rec !== null && !Array.isArray(rec)) {
      const r = rec as Record<string, unknown>;
      return { line, rec: r, ts: typeof r.timestamp === "string" ? r.timestamp : "", id: typeof r.id === "string" ? r.id : "" };
    }
  } catch {
    // shown as unreadable below
  }
  return { line, rec: undefined, ts: "", id: "" };
}

/**
 * Orders records by time, then id (byte order), as `tail --postgres` does: one millisecond's
 * records of a process in the order they were made, whatever their kinds. (Found by the
 * PostgreSQL new-user pass, 2026-12-05: ties kept the order of the kinds as read, so `-n 30`
 * over a burst printed the last chat records of that millisecond and not the tool records made
 * between them, and the store, ordered by seq across kinds, printed another 30.) The sort is
 * stable, so chain order holds for records with no id.
 */
function byTime(a: Parsed, b: Parsed): number {
  return a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * @example
 * // $ audit-logger tail ./audit_logs -f --kind error
 * // $ audit-logger tail --postgres postgres://audit@db:5432/audit -n 50
 */
/**
 * A directory or store with no audit logs: said, and with `-f` waited for (true: go on); without
 * it the command ends with exit 1 (false), as verify, summary, report and export do.
 */
function noLogsYet(io: CliIO, where: string, overStore: boolean, follow: boolean | undefined): boolean {
  io.err(follow ? `audit-logger tail: no audit logs in ${where} yet; waiting for sessions (Ctrl-C to stop)` : noAuditLogsLine("tail", where, overStore));
  return follow === true;
}

export const tailCommand: Command = {
  name: "tail",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommand("tail", argv, {
      follow: { type: "boolean", short: "f" },
      lines: { type: "string", short: "n" },
      session: { type: "string" },
      kind: { type: "string" },
      json: { type: "boolean" },
      "key-file": { type: "string" },
      "content-dir": { type: "string" },
      ...STORE_OPTIONS,
    });
    if (values.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const target = storeTarget("tail", positionals, values);
    const count = intOption("--lines", values.lines, 0) ?? 10;
    const session = sessionOption(values.session);
    const kind = kindOption(values.kind, ALL_KINDS);
    const kinds: readonly ChainKindName[] = kind ? [kind] : ALL_KINDS;
    // over the store the per-subject keys are in the writer's directory (--content-dir) and in
    // the store's key table (read below, with the records)
    const contentDir = storeContentDir(values["content-dir"], target.kind === "postgres");
    const keyDir = target.kind === "dir" ? target.dir : contentDir;
    const cliKey = loadCliKey(values["key-file"], io.env, keyDir);
    let key = cliKey ? (keyDir !== undefined ? keyringFor(cliKey, keyDir) : openKeyring(cliKey.key.masters ?? [cliKey.key], undefined)) : undefined;
    const print = (p: Parsed): void => {
      if (values.json) io.out(p.line);
      else if (p.rec) io.out(formatRecord(openRecord(p.rec, key), { color: io.color }));
      else io.out(io.color.yellow(`(unreadable line) ${JSON.stringify(p.line.slice(0, 120))}`));
    };

    if (target.kind === "postgres") {
      const store = await openStore(target);
      // the data keys of the store's key table too, read with the records (the directory wins)
      const storeKeys = cliKey ? new StoreKeys(store.pool, store.schema) : undefined;
      if (cliKey) key = openKeyring(cliKey.key.masters ?? [cliKey.key], keyDir, storeKeys);
      try {
        // (a --session the store does not hold is bad usage; a store with none says so, as over a
        // directory: it printed nothing with exit 0; found by review, 2026-12-06)
        if ((await selectStoreSessions(store, session)).length === 0 && !noLogsYet(io, store.description, true, values.follow)) return EXIT_FAIL;
        const follower = new StoreFollower(store, session, kinds);
        const history = await follower.start(count);
        await storeKeys?.read(history.map((l) => l.line));
        for (const l of history) print(parse(l.line));
        if (values.follow) await followStore(follower, io, print, storeKeys);
      } finally {
        await store.close();
      }
      return EXIT_OK;
    }
    const dir = target.dir;
    const sessions = selectSessions(dir, session);
    // (as verify, summary, report and export: it printed nothing with exit 0, and a wrong <dir>
    // looked like a trail with no records; found by the CLI pass, 2026-12-06)
    if (sessions.length === 0 && !noLogsYet(io, dir, false, values.follow)) return EXIT_FAIL;
    // followers first, and history only up to where they start: nothing written meanwhile is
    // lost or printed twice
    const followers = new Map<string, ChainFollower[]>();
    if (values.follow) for (const s of sessions) followers.set(s, kinds.map((k) => new ChainFollower(dir, s, k, "end")));

    if (count > 0) {
      const recent: Parsed[] = [];
      for (const s of sessions) {
        kinds.forEach((k, i) => {
          const follower = followers.get(s)?.[i];
          for (const l of follower ? follower.history(count) : lastLines(listKindFiles(dir, k, s), count)) recent.push(parse(l));
        });
      }
      recent.sort(byTime);
      for (const p of recent.slice(-count)) print(p);
    }
    if (!values.follow) return EXIT_OK;

    await follow(dir, session, kinds, followers, io, print);
    for (const list of followers.values()) for (const f of list) f.close();
    return EXIT_OK;
  },
};

/**
 * Whether `err` is the store's connection failing (the server restarting or failing over, an
 * administrator or a pooler ending the connection, the network), which the next query may not
 * meet: SQLSTATE class 08, 57P01-57P03, 53300, a socket error, or pg's own words for a lost
 * connection. Not a SQL error such as a schema dropped.
 */
function connectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && (code.startsWith("08") || ["57P01", "57P02", "57P03", "53300", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"].includes(code))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|connection error|Connection ended/i.test((err as Error)?.message ?? "");
}

/**
 * Follows the store until stopped. A lost connection does not end it (found by the PostgreSQL
 * new-user pass, 2026-12-05: `tail -f --postgres` exited at the first dropped connection, a
 * server restart or failover, printing the driver's error): it says so on stderr once, retries
 * every poll (each chain goes on from the last record printed, so nothing is lost or printed
 * twice), and says when the store answers again.
 */
async function followStore(follower: StoreFollower, io: CliIO, print: (p: Parsed) => void, keys: StoreKeys | undefined): Promise<void> {
  let lastScan = Date.now();
  let lost = false;
  while (!io.signal.aborted) {
    await sleep(lost ? RETRY_MS : POLL_MS, io.signal);
    if (io.signal.aborted) return;
    try {
      if (Date.now() - lastScan >= SESSION_SCAN_MS) {
        await follower.discover();
        lastScan = Date.now();
      }
      const fresh = await follower.poll();
      await keys?.read(fresh.map((l) => l.line));
      if (lost) {
        lost = false;
        io.err(io.errColor.yellow("audit-logger tail: the store answers again; following on from where it stopped"));
      }
      for (const l of fresh) print(parse(l.line));
    } catch (err) {
      if (!connectionLost(err)) throw err;
      if (!lost) {
        lost = true;
        io.err(io.errColor.yellow(`audit-logger tail: lost the connection to the store (${(err as Error).message}); retrying every ${RETRY_MS / 1000} s, Ctrl-C to stop`));
      }
    }
  }
}

async function follow(
  dir: string,
  session: string | undefined,
  kinds: readonly ChainKindName[],
  followers: Map<string, ChainFollower[]>,
  io: CliIO,
  print: (p: Parsed) => void,
): Promise<void> {
  let lastScan = Date.now();
  while (!io.signal.aborted) {
    await sleep(POLL_MS, io.signal);
    if (session === undefined && Date.now() - lastScan >= SESSION_SCAN_MS) {
      lastScan = Date.now();
      // a project directory that had neither sessions nor audit_logs/ when tail began: its
      // audit_logs/, once a logger makes it (until 2026-12-06 the directory itself was watched for
      // good, and the new trail's records never printed; new-user pass)
      if (followers.size === 0) {
        try {
          dir = resolveAuditDir(dir);
        } catch {
          // (removed meanwhile: the next scan looks again)
        }
      }
      for (const s of listSessionIds(dir)) {
        if (!followers.has(s)) followers.set(s, kinds.map((k) => new ChainFollower(dir, s, k, "start")));
      }
    }
    const fresh: Parsed[] = [];
    for (const list of followers.values()) for (const f of list) for (const l of f.poll()) fresh.push(parse(l));
    fresh.sort(byTime);
    for (const p of fresh) print(p);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
