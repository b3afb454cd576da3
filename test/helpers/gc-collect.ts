/**
 * For child processes run with `node --expose-gc`: collects garbage (and flushes `logger`) until
 * the session's chat file (or the `stem` kind's) holds `expected` records or ~4 s have passed, then finalizes the session
 * and returns the records. Used by the "dropped results are recorded when collected" fixtures.
 */
import fs from "node:fs";
import path from "node:path";
import type { AuditLogger } from "../../src/index.js";

export async function collectUntilRecorded(logger: AuditLogger, expected: number, stem = "chat_interactions"): Promise<unknown[]> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc");
  const file = path.join(logger.auditDir, `${stem}_${logger.sessionId}.jsonl`);
  const lines = () => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : []);
  for (let i = 0; i < 200 && lines().length < expected; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
    await logger.flush();
  }
  // anything late (a second record for the same call would show up here)
  await new Promise((r) => setTimeout(r, 100));
  gc();
  await logger.finalizeSession();
  return lines().map((l) => JSON.parse(l) as unknown);
}
