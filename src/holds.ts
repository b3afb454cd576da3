import fs from "node:fs";
import path from "node:path";
import { newId } from "./record/id.js";
import { takeDirLock } from "./sink/dir-lock.js";

/** A legal hold: while it stands, cleanup removes nothing in its scope. */
export interface LegalHold {
  readonly id: string;
  /** "all" sessions of the directory, or one sessionId */
  readonly scope: string;
  readonly reason: string;
  readonly placedAt: string;
  readonly placedBySession: string;
}

export const HOLDS_FILE = "legal_holds.json";

export function readHolds(auditDir: string): LegalHold[] {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(auditDir, HOLDS_FILE), "utf8")) as { holds?: unknown };
    return Array.isArray(v.holds) ? (v.holds as LegalHold[]).filter((h) => typeof h?.scope === "string") : [];
  } catch {
    return [];
  }
}

function writeHolds(auditDir: string, holds: readonly LegalHold[]): void {
  const file = path.join(auditDir, HOLDS_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ holds }, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * Runs a read-modify-write of the holds file (or a removal that must not race a new hold: see
 * cleanupSessions) under its lock: every process of the directory
 * updates the one file, and two updating it at once each wrote back what it had read, losing the
 * other's hold (cleanup then removed a session under a hold; found by review, 2026-12-04).
 */
export function underLock<T>(auditDir: string, update: () => T): T {
  const release = takeDirLock(path.join(auditDir, `${HOLDS_FILE}.lock`), "Another legal hold update", { waitMs: 10_000, staleMs: 15_000 });
  try {
    return update();
  } finally {
    release();
  }
}

/**
 * `record` runs under the lock, after the file is written: the chained record of a hold's
 * placement or release is then ordered with cleanup's `retention_pruned` records (also written
 * under it), so the verifier can tell a removal made under a hold from one just before or after it
 * (recorded after the lock, a release could look later than a removal it allowed).
 */
export function addHold(auditDir: string, scope: string, reason: string, placedBySession: string, record?: (hold: LegalHold) => void): LegalHold {
  const hold: LegalHold = { id: newId(), scope, reason, placedAt: new Date().toISOString(), placedBySession };
  underLock(auditDir, () => {
    writeHolds(auditDir, [...readHolds(auditDir), hold]);
    record?.(hold);
  });
  return hold;
}

/** Removes every hold with this scope; returns those removed. `record` as for addHold. */
export function removeHolds(auditDir: string, scope: string, record?: (gone: readonly LegalHold[]) => void): LegalHold[] {
  return underLock(auditDir, () => {
    const all = readHolds(auditDir);
    const gone = all.filter((h) => h.scope === scope);
    writeHolds(auditDir, all.filter((h) => h.scope !== scope));
    record?.(gone);
    return gone;
  });
}

export function isHeld(holds: readonly LegalHold[], sessionId: string): boolean {
  return holds.some((h) => h.scope === "all" || h.scope === sessionId);
}
