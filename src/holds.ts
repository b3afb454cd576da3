import { readRegularFileSync, replaceFileSync } from "./regular-file.js";
import fs from "node:fs";
import path from "node:path";
import { AuditFormatError, AuditIOError, AuditValidationError } from "./errors.js";
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
/** The lock of the legal holds file (see underLock). */
export const HOLDS_LOCK = `${HOLDS_FILE}.lock`;

/**
 * The holds in force. No file is no holds; a file that cannot be read, or is not the list the
 * kit writes, is an error (AUDIT_ERR_IO, AUDIT_ERR_FORMAT): taken as "no holds", cleanup removed
 * held sessions, and placing a hold overwrote the file, losing the others (found by review,
 * 2026-12-04). Cleanup then removes nothing; placing or releasing a hold throws.
 */
export function readHolds(auditDir: string): LegalHold[] {
  const file = path.join(auditDir, HOLDS_FILE);
  let text: string;
  try {
    text = readRegularFileSync(file).toString("utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new AuditIOError(`The legal holds file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): nothing is removed and no hold is changed until it can.`, { cause: err });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new AuditFormatError(`The legal holds file ${file} is not valid JSON: nothing is removed and no hold is changed until it is repaired (restore it from a backup, or rebuild it from the legal_hold_placed/legal_hold_released records).`);
  }
  const holds = (v as { holds?: unknown } | null)?.holds;
  const valid = Array.isArray(holds) && holds.every((h) => typeof h === "object" && h !== null && typeof (h as { scope?: unknown }).scope === "string" && typeof (h as { id?: unknown }).id === "string");
  if (!valid) {
    throw new AuditFormatError(`The legal holds file ${file} is not the list of holds the kit writes ({ "holds": [{ "id", "scope", … }] }): nothing is removed and no hold is changed until it is repaired.`);
  }
  return holds as LegalHold[];
}

/** Whether there is no `legal_holds.json` (a file that cannot be read is readHolds' to report). */
function holdsFileMissing(auditDir: string): boolean {
  return fs.lstatSync(path.join(auditDir, HOLDS_FILE), { throwIfNoEntry: false }) === undefined;
}

function writeHolds(auditDir: string, holds: readonly LegalHold[]): void {
  const file = path.join(auditDir, HOLDS_FILE);
  // (never a FIFO or a link put under the temporary name: see replaceFileSync)
  replaceFileSync(file, JSON.stringify({ holds }, null, 2) + "\n", 0o600);
}

/**
 * Runs a read-modify-write of the holds file (or a removal that must not race a new hold: see
 * cleanupSessions) under its lock: every process of the directory
 * updates the one file, and two updating it at once each wrote back what it had read, losing the
 * other's hold (cleanup then removed a session under a hold; found by review, 2026-12-04).
 */
export function underLock<T>(auditDir: string, update: () => T): T {
  const release = takeDirLock(path.join(auditDir, HOLDS_LOCK), "Another legal hold update", { waitMs: 10_000, staleMs: 15_000 });
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
export function addHold(auditDir: string, scope: string, reason: string, placedBySession: string, record?: (hold: LegalHold) => void, chained?: () => readonly LegalHold[]): LegalHold {
  const hold: LegalHold = { id: newId(), scope, reason, placedAt: new Date().toISOString(), placedBySession };
  underLock(auditDir, () => {
    // (no file: it is rebuilt from the chains' holds in force, `chained`, as removeHolds does.
    // Until 2026-12-05 a hold placed after `legal_holds.json` was lost made a file of that hold
    // alone, and a release by scope, which reads the chains only when the file gives nothing to
    // release, released the file's one hold of a scope that had two in force; found by review)
    const filed = chained !== undefined && holdsFileMissing(auditDir) ? [...chained()] : readHolds(auditDir);
    writeHolds(auditDir, [...filed, hold]);
    record?.(hold);
  });
  return hold;
}

/**
 * Removes the holds `pick` chooses among those in force (chosen under the lock, so from what is
 * in force then; a `pick` that throws changes nothing); returns them. `record` as for addHold.
 * In force: the file's holds, and, when `pick` finds nothing among those or there is no file,
 * the ones `chained` returns (the holds the audit_event chains place and do not release, which
 * cleanup honours too: see chainedHolds), read under the lock; the file is then rewritten with
 * all of those but the ones released, so that it lists every hold in force again, as addHold
 * rebuilds a missing one (a file listing one hold of a scope and not the other, as a hold placed
 * after the file's loss made it, let a release by scope release the file's one where two were in
 * force; found by review, 2026-12-05). A file replaced by an older copy is believed for the holds
 * it lists: a release by scope then chooses among those (docs/TRUST.md). Found
 * 2026-12-05: with `legal_holds.json` deleted, a release by the hold's id looked in the file only,
 * released nothing and recorded nothing, and the chained hold stayed in force for cleanup and the
 * sessions listing with no way to release it.
 */
export function removeHolds(auditDir: string, pick: (inForce: readonly LegalHold[]) => readonly LegalHold[], record?: (gone: readonly LegalHold[]) => void, chained?: () => readonly LegalHold[]): LegalHold[] {
  return underLock(auditDir, () => {
    let filed = chained !== undefined && holdsFileMissing(auditDir) ? [...chained()] : readHolds(auditDir);
    let gone = pick(filed);
    // (the chains are read only when the file's holds give nothing to release: reading every
    // session's audit_event chain on each release made a long-running app's releases cost as much
    // as its whole chain, 4,000 releases with 2 KiB rotation ran past a minute; found by a merge
    // test, 2026-12-05. A file that lost some holds of a scope and kept others releases those kept:
    // addHold and this rebuild a missing file whole, so only an older copy put in its place lists some.)
    if (gone.length === 0 && chained !== undefined) {
      const ids = new Set(filed.map((h) => h.id));
      filed = [...filed, ...chained().filter((h) => !ids.has(h.id))];
      gone = pick(filed);
    }
    writeHolds(auditDir, filed.filter((h) => !gone.includes(h)));
    record?.(gone);
    return [...gone];
  });
}

/**
 * The holds a release names: the hold whose id is `target` (the id placeLegalHold returned; hold
 * ids are ULIDs, never a scope in practice, and an id in force wins), else the hold of the scope
 * `target`, which must be its only one. Several holds in force on that scope are refused, naming
 * each by id and reason, and nothing is released: releasing a scope released every hold on it,
 * so closing one case silently lifted another's hold on the same session, and the release by the
 * id placeLegalHold returned released nothing (found by review, 2026-12-05).
 */
export function holdsToRelease(inForce: readonly LegalHold[], target: string): LegalHold[] {
  const byId = inForce.filter((h) => h.id === target);
  if (byId.length > 0) return byId;
  const ofScope = inForce.filter((h) => h.scope === target);
  if (ofScope.length > 1) {
    const list = ofScope.map((h) => `${h.id} (${JSON.stringify(h.reason)})`).join(", ");
    throw new AuditValidationError("releaseLegalHold", [
      { field: "scope", message: `${ofScope.length} holds are in force on ${JSON.stringify(target)}: ${list}; release the one you mean by its id, releaseLegalHold(holdId, reason), each in turn to release them all` },
    ]);
  }
  return ofScope;
}

export function isHeld(holds: readonly LegalHold[], sessionId: string): boolean {
  return holds.some((h) => h.scope === "all" || h.scope === sessionId);
}
