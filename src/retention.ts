import fs from "node:fs";
import path from "node:path";
import { SESSION_ID_PATTERN } from "./config/schema.js";
import { ID_PATTERN } from "./record/id.js";
import { CONTENT_DIR, listKindFiles, listSessionIds, lockFileName, safeJoin, sessionFileName } from "./sink/files.js";
import { peekTail } from "./sink/recover.js";
import { RECORD_KINDS } from "./types.js";

export interface CleanupOptions {
  readonly maxLogAgeDays: number;
  /** never removed, whatever its age */
  readonly activeSessionId?: string;
  readonly dryRun?: boolean;
  /** the time to measure age from (ms since epoch); defaults to now */
  readonly now?: number;
}

export interface CleanupEntry {
  readonly sessionId: string;
  /** ISO time of the session's newest record (or file, when it has none) */
  readonly lastActivity: string;
  /** files removed (or, in a dry run, that would be), relative to the audit directory */
  readonly files: readonly string[];
}

export interface CleanupResult {
  readonly dryRun: boolean;
  readonly removed: readonly CleanupEntry[];
  /** sessions skipped because a live process holds their lock */
  readonly skippedLive: readonly string[];
}

function lockIsLive(auditDir: string, sessionId: string): boolean {
  try {
    const body = JSON.parse(fs.readFileSync(path.join(auditDir, lockFileName(sessionId)), "utf8")) as { pid?: unknown };
    if (typeof body.pid !== "number") return false;
    process.kill(body.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The time of a session's newest record, else its newest file's mtime. */
export function lastActivity(auditDir: string, sessionId: string): number {
  let last = 0;
  let mtime = 0;
  for (const kind of RECORD_KINDS) {
    const files = listKindFiles(auditDir, kind, sessionId);
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

function sessionFiles(auditDir: string, sessionId: string): string[] {
  const out: string[] = [];
  for (const kind of RECORD_KINDS) for (const f of listKindFiles(auditDir, kind, sessionId)) out.push(f.name);
  // content files of this session's chats, found through its records
  for (const f of listKindFiles(auditDir, "chat_interaction", sessionId)) {
    for (const line of fs.readFileSync(f.path, "utf8").split("\n")) {
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

/** Removes whole sessions whose newest record is older than `maxLogAgeDays`; never the active or a live one. */
export function cleanupSessions(auditDir: string, o: CleanupOptions): CleanupResult {
  const now = o.now ?? Date.now();
  const cutoff = now - o.maxLogAgeDays * 86_400_000;
  const removed: CleanupEntry[] = [];
  const skippedLive: string[] = [];
  for (const sessionId of listSessionIds(auditDir)) {
    if (sessionId === o.activeSessionId || !SESSION_ID_PATTERN.test(sessionId)) continue;
    const last = lastActivity(auditDir, sessionId);
    if (last === 0 || last >= cutoff) continue;
    if (lockIsLive(auditDir, sessionId)) {
      skippedLive.push(sessionId);
      continue;
    }
    const files = sessionFiles(auditDir, sessionId);
    if (!o.dryRun) for (const f of files) fs.rmSync(safeJoin(auditDir, f), { force: true });
    removed.push({ sessionId, lastActivity: new Date(last).toISOString(), files });
  }
  return { dryRun: o.dryRun ?? false, removed, skippedLive };
}
