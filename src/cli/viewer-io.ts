/** Opening an {@link AuditViewer} for a command: key, progress bar, and a usage error for a bad session. */
import { AuditViewer } from "../reader/viewer.js";
import type { ModelPrice } from "../reader/analytics.js";
import type { CliIO } from "./io.js";
import type { CliKey } from "./keys.js";
import { ProgressBar } from "./progress.js";
import { logBytes } from "./scan.js";

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
