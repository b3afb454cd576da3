/**
 * Opening an {@link AuditViewer} for a command over a directory or a PostgreSQL store: key,
 * progress bar, and a usage error for a bad session.
 */
import { AuditViewer } from "../reader/viewer.js";
import type { ModelPrice } from "../reader/analytics.js";
import type { CliIO } from "./io.js";
import type { CliKey } from "./keys.js";
import { ProgressBar } from "./progress.js";
import { logBytes } from "./scan.js";
import { selectSessions } from "./args.js";
import { openStore, selectStoreSessions, type OpenStore, type StoreTarget } from "./store.js";

export interface OpenedViewer {
  readonly viewer: AuditViewer;
  /** erases the progress bar */
  done(): void;
}

/**
 * A viewer over `dir` whose reads drive one progress bar on stderr (sized by the JSONL files of
 * `sessions` times the number of `passes` the command makes over them, drawn only on a terminal
 * and above a few MB). The viewer reports progress per read; successive reads are added up.
 *
 * @example
 * const { viewer, done } = openViewer(dir, sessions, io, key);
 * try { await viewer.generateAnalyticsReport() } finally { done() }
 */
export function openViewer(
  dir: string,
  sessions: readonly string[],
  io: CliIO,
  key: CliKey | undefined,
  extra: { prices?: Readonly<Record<string, ModelPrice>>; sessionId?: string; passes?: number } = {},
): OpenedViewer {
  const bar = new ProgressBar("reading", logBytes(dir, sessions) * (extra.passes ?? 1), io.stderr);
  let base = 0;
  let last = 0;
  const viewer = new AuditViewer({
    auditPath: dir,
    // the key bytes go to the viewer as-is; the encoded key is never built or printed
    ...(key ? { encryptionKey: key.masters.length === 1 ? key.masters[0]! : key.masters } : {}),
    ...(extra.sessionId !== undefined ? { sessionId: extra.sessionId } : {}),
    ...(extra.prices ? { prices: extra.prices } : {}),
    ...(bar.active
      ? {
          onProgress: (p: { bytesRead: number }) => {
            if (p.bytesRead < last) base += last;
            last = p.bytesRead;
            bar.update(base + last);
          },
        }
      : {}),
  });
  return { viewer, done: () => bar.done() };
}

/**
 * A viewer over an open PostgreSQL store (its pool stays the caller's to close). No progress bar:
 * the store streams in pages and its size on disk says little about the bytes a query reads.
 *
 * @example
 * const { viewer, done } = openStoreViewer(store, key, { sessionId: "support_bot" });
 */
export function openStoreViewer(
  store: OpenStore,
  key: CliKey | undefined,
  extra: { prices?: Readonly<Record<string, ModelPrice>>; sessionId?: string; contentDir?: string } = {},
): OpenedViewer {
  const viewer = new AuditViewer({
    // the pool is ours to end; the URL only names the store in exports ("postgres:<schema>@host/db")
    postgres: { pool: store.pool, connectionString: store.url, schema: store.schema, ...(extra.contentDir !== undefined ? { contentDir: extra.contentDir } : {}) },
    ...(key ? { encryptionKey: key.masters.length === 1 ? key.masters[0]! : key.masters } : {}),
    ...(extra.sessionId !== undefined ? { sessionId: extra.sessionId } : {}),
    ...(extra.prices ? { prices: extra.prices } : {}),
  });
  return { viewer, done: () => undefined };
}

/** A viewer over a command's source, with what the command prints and checks around it. */
export interface OpenedSource extends OpenedViewer {
  /** the directory, or the store's description (no password), for output */
  readonly where: string;
  /** the sessions to work on: `--session`'s (checked to exist), else every one there */
  readonly sessions: readonly string[];
  /** the store when reading PostgreSQL */
  readonly store: OpenStore | undefined;
  /** erases the progress bar and disconnects from the store */
  close(): Promise<void>;
}

/**
 * Opens `<dir>` or `--postgres` for a command that reads through an {@link AuditViewer}.
 *
 * @example
 * const src = await openSource(storeTarget("report", positionals, values), session, io, undefined);
 * try { if (src.sessions.length > 0) await src.viewer.generateAnalyticsReport() } finally { await src.close() }
 */
export async function openSource(
  target: StoreTarget,
  session: string | undefined,
  io: CliIO,
  key: CliKey | undefined,
  extra: { prices?: Readonly<Record<string, ModelPrice>>; sessionId?: string; passes?: number; contentDir?: string } = {},
): Promise<OpenedSource> {
  if (target.kind === "dir") {
    const sessions = selectSessions(target.dir, session);
    const opened = openViewer(target.dir, sessions, io, key, extra);
    return { ...opened, where: target.dir, sessions, store: undefined, close: async () => opened.done() };
  }
  const store = await openStore(target);
  try {
    const sessions = await selectStoreSessions(store, session);
    const opened = openStoreViewer(store, key, extra);
    return { ...opened, where: store.description, sessions, store, close: () => store.close() };
  } catch (err) {
    await store.close();
    throw err;
  }
}
