/** Reading what a logger wrote, for the integration tests (shared by openai* and fetch* tests). */
import fs from "node:fs";
import path from "node:path";
import type { AuditLogger } from "../../src/logger.js";
import { KIND_FILE_STEM, type RecordType } from "../../src/types.js";
import { readJsonl } from "../helpers/index.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The records of one kind, once at least `atLeast` are on disk (polls: streams that end by abort
 * are recorded a tick later). Then waits `settleMs` more and reads again, so a duplicate record
 * written late would be seen by the caller's length assertion.
 */
export async function recordsOf(logger: AuditLogger, kind: RecordType, atLeast = 1, settleMs = 30): Promise<Record<string, unknown>[]> {
  const file = path.join(logger.auditDir, `${KIND_FILE_STEM[kind]}_${logger.sessionId}.jsonl`);
  const read = async () => {
    await logger.flush();
    return fs.existsSync(file) ? readJsonl(file) : [];
  };
  const deadline = Date.now() + 5000;
  let recs = await read();
  while (recs.length < atLeast && Date.now() < deadline) {
    await sleep(10);
    recs = await read();
  }
  if (settleMs > 0) {
    await sleep(settleMs);
    recs = await read();
  }
  return recs;
}

/**
 * Asserts that `rec`, a chat record made with `captureContent: false`, says its prompt and response
 * were not captured and keeps nothing of them: no preview, hash or content file (an empty text's
 * were kept: the record said the prompt was empty). Its session's content directory holds no file.
 */
export function expectNothingCaptured(logger: AuditLogger, rec: Record<string, unknown> | undefined): void {
  const problems: string[] = [];
  if (rec?.promptCaptured !== false || rec.responseCaptured !== false) problems.push(`promptCaptured/responseCaptured: ${String(rec?.promptCaptured)}/${String(rec?.responseCaptured)}`);
  for (const key of ["promptPreview", "responsePreview", "promptHash", "responseHash", "fullContent"]) if (rec !== undefined && key in rec) problems.push(`has ${key}`);
  const dir = path.join(logger.auditDir, "full_interactions");
  const files = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  if (files.length > 0) problems.push(`content files: ${files.join(", ")}`);
  if (problems.length > 0) throw new Error(`the record keeps content that was not captured: ${problems.join("; ")}`);
}

/**
 * A chat record as two runs of the same calls can agree on it (`thread: true` against in-thread):
 * without what differs from run to run (id, times, hashes, content file names), the id and the
 * time to first token as their types, and the integration's metadata section (`section`) with
 * the members named in `masked` (request and response ids) replaced by "x".
 */
export function comparableChat(rec: Record<string, unknown>, section: string, masked: readonly string[]): Record<string, unknown> {
  const { id, timestamp: _t, sessionId: _s, hash: _h, prevHash: _p, durationSeconds: _d, timeToFirstTokenSeconds: ttft, fullContent: _f, metadata, ...r } = rec;
  const own = { ...((metadata as Record<string, Record<string, unknown>>)[section] ?? {}) };
  for (const key of masked) own[key] = "x";
  // (a call outside any trace starts its own, named by its id)
  if (r.traceId !== undefined && r.traceId === id) r.traceId = "its own id";
  return { ...r, id: typeof id, ttft: typeof ttft, metadata: { [section]: own } };
}
