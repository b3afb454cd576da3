/**
 * Results of whole-session passes (analytics, verification, summaries) kept while the session's
 * files stay the same: the key includes every file's size and modification time, so a live
 * session is recomputed after it grows and a finished one is read once.
 */
import fs from "node:fs";
import path from "node:path";
import { HOLDS_FILE } from "../holds.js";
import { checkpointFileName } from "../integrity/checkpointer.js";
import { EXPORT_INTEGRITY_DIR, EXPORT_MANIFEST } from "../integrity/export.js";
import { KEY_STORE_PREFIX } from "../pipeline/keyring.js";
import { CONTENT_DIR, listKindFiles, safeReaddir, sessionFileName } from "../sink/files.js";
import { CHAIN_KINDS } from "../types.js";

// (ctime too: a file rewritten in place with its size and mtime set back still moves it)
function stamp(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
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

/**
 * {@link sessionSignature} and everything else the verifier reads for the session: its
 * checkpoints, its key store, the legal holds (the file, and every session's audit_event chain,
 * where they are recorded), and every content file (their contents: a file
 * rewritten in place does not change the directory's time). The web viewer's integrity verdict
 * was kept while these changed, and said "verified" where `verify` found tampering (found by
 * review, 2026-12-04). One `stat` per content file of the directory: less than verifying,
 * which reads and hashes the session's.
 */
export function integritySignature(auditDir: string, sessionId: string): string {
  const names = safeReaddir(auditDir);
  const parts = [sessionSignature(auditDir, sessionId, names)];
  for (const name of [checkpointFileName(sessionId), HOLDS_FILE]) parts.push(`${name}=${stamp(path.join(auditDir, name))}`);
  // every session's audit_event chain (the verifier reads the legal holds and shreddings recorded
  // there) and every key store (the session's data keys may be in any of them)
  for (const name of names) {
    if (name.endsWith(".jsonl") && (name.startsWith("audit_events_") || name.startsWith(KEY_STORE_PREFIX))) parts.push(`${name}=${stamp(path.join(auditDir, name))}`);
  }
  const contentDir = path.join(auditDir, CONTENT_DIR);
  for (const name of safeReaddir(contentDir)) parts.push(`${name}=${stamp(path.join(contentDir, name))}`);
  // The directory itself (a name added or removed: a dropped export manifest, a FIFO named like
  // a chain file, which the listings leave out) and what the verifier reads of a directory export
  // (a manifest dropped in turns the check into the mixed one; until 2026-12-04 the cached "OK" stayed).
  parts.push(`.=${stamp(auditDir)}`);
  for (const name of [EXPORT_MANIFEST, "audit_complete.json"]) parts.push(`${name}=${stamp(path.join(auditDir, name))}`);
  const integrityDir = path.join(auditDir, EXPORT_INTEGRITY_DIR);
  parts.push(`${EXPORT_INTEGRITY_DIR}=${stamp(integrityDir)}`);
  for (const name of safeReaddir(integrityDir)) parts.push(`${EXPORT_INTEGRITY_DIR}/${name}=${stamp(path.join(integrityDir, name))}`);
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
