/**
 * Results of whole-session passes (analytics, verification, summaries) kept while the session's
 * files stay the same: the key includes every file's size and modification time, so a live
 * session is recomputed after it grows and a finished one is read once.
 */
import fs from "node:fs";
import path from "node:path";
import { CONTENT_DIR, listKindFiles, safeReaddir, sessionFileName } from "../sink/files.js";
import { CHAIN_KINDS } from "../types.js";

function stamp(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return "-";
  }
}

/**
 * A cheap fingerprint of one session's files (a few `stat` calls, no reading).
 *
 * @example
 * sessionSignature("./audit_logs", "s1") // "chat_interactions_s1.jsonl=512:1712…|…"
 */
export function sessionSignature(auditDir: string, sessionId: string, names: readonly string[] = safeReaddir(auditDir)): string {
  const parts: string[] = [];
  for (const kind of CHAIN_KINDS) {
    for (const f of listKindFiles(auditDir, kind, sessionId, names)) parts.push(`${f.name}=${stamp(f.path)}`);
  }
  parts.push(`session=${stamp(path.join(auditDir, sessionFileName(sessionId)))}`);
  parts.push(`content=${stamp(path.join(auditDir, CONTENT_DIR))}`);
  return parts.join("|");
}

/** A small least-recently-used map of promises: concurrent callers share one computation. */
export class Memo<V> {
  private readonly entries = new Map<string, Promise<V>>();
  constructor(private readonly capacity = 64) {}

  /** The value for `key`, computing it once; a failed computation is not kept. */
  get(key: string, compute: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const p = compute();
    this.entries.set(key, p);
    p.catch(() => {
      if (this.entries.get(key) === p) this.entries.delete(key);
    });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return p;
  }
}
