// A key store (`subject_keys_<sessionId>.jsonl`, a name built from the session id) that is a
// symbolic link or a FIFO when the logger stores a subject's data key in it (found by a security
// pass, 2026-12-05). The key line was appended with a plain `open(…, "a+")`: through a link, the
// wrapped data key went to the file the link named, outside the audit directory (a file of the
// app's user's, appended to), and the records encrypted under it were unreadable from the
// directory (the readers never open a key store that is a link). Now the store is opened as the
// kit's other appended files are (never through a link, never a FIFO): the record is refused
// with AUDIT_ERR_PATH naming the store, reported, and nothing is written outside.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, readJsonl, TEST_KEY, tmpProject } from "../helpers/index.js";
import { mkfifo } from "../helpers/core.js";

afterEach(cleanupTmp);

const OUTSIDE_TEXT = "a file of the app's user, outside the audit directory\n";

/** A project whose audit directory holds `subject_keys_<sid>.jsonl` as `what`; the project, the store's path, the link's target. */
function plantedStore(sid: string, what: "link" | "fifo"): { projectPath: string; dir: string; store: string; outside: string } {
  const projectPath = tmpProject("audit-keystore-");
  const outside = path.join(tmpProject("audit-keystore-outside-"), "notes.txt");
  fs.writeFileSync(outside, OUTSIDE_TEXT);
  const dir = path.join(projectPath, "audit_logs");
  fs.mkdirSync(dir);
  const store = path.join(dir, `subject_keys_${sid}.jsonl`);
  if (what === "link") fs.symlinkSync(outside, store);
  else mkfifo(store);
  return { projectPath, dir, store, outside };
}

/** Logs one encrypted chat for user u1 (a new data key); what the call threw and the error events. */
async function logOne(projectPath: string, sid: string, thread: boolean): Promise<{ thrown: unknown; events: Array<{ code?: string; message: string }> }> {
  const logger = new AuditLogger({ sessionId: sid, projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, thread });
  const events: Array<{ code?: string; message: string }> = [];
  logger.on("error", (e) => events.push({ code: (e as { code?: string }).code, message: e.message }));
  let thrown: unknown;
  try {
    logger.logChatInteraction({ prompt: "the prompt", response: "the answer", model: "m", provider: "p", userId: "u1" });
  } catch (err) {
    thrown = err;
  }
  await logger.finalizeSession();
  return { thrown, events };
}

describe.each([false, true])("a key store that is not a regular file (thread: %s)", (thread) => {
  it("a symbolic link to a file outside the audit directory: never written through (the target as it was), the record refused with AUDIT_ERR_PATH naming the store, and no record is encrypted under a key the directory lacks", async () => {
    const sid = thread ? "klt" : "kl";
    const { projectPath, dir, store, outside } = plantedStore(sid, "link");
    const { thrown, events } = await logOne(projectPath, sid, thread);
    expect(fs.readFileSync(outside, "utf8")).toBe(OUTSIDE_TEXT);
    expect(fs.lstatSync(store).isSymbolicLink()).toBe(true);
    const said = [...(thrown ? [thrown as { code?: string; message: string }] : []), ...events];
    expect(said).toContainEqual(expect.objectContaining({ code: "AUDIT_ERR_PATH", message: expect.stringContaining(`subject_keys_${sid}.jsonl is a symbolic link, not a regular file`) }));
    expect(readJsonl(path.join(dir, `chat_interactions_${sid}.jsonl`))).toEqual([]);
    const report = await verifyAuditLog(dir);
    expect(report.problems.filter((p) => p.kind === "key_missing")).toEqual([]);
  }, 30_000);

  it("a FIFO: never written to, the record refused with AUDIT_ERR_PATH naming it", async () => {
    const sid = thread ? "kft" : "kf";
    const { projectPath, dir, store } = plantedStore(sid, "fifo");
    const { thrown, events } = await logOne(projectPath, sid, thread);
    expect(fs.lstatSync(store).isFIFO()).toBe(true);
    const said = [...(thrown ? [thrown as { code?: string; message: string }] : []), ...events];
    expect(said).toContainEqual(expect.objectContaining({ code: "AUDIT_ERR_PATH", message: expect.stringContaining(`subject_keys_${sid}.jsonl is a FIFO, not a regular file`) }));
    expect(readJsonl(path.join(dir, `chat_interactions_${sid}.jsonl`))).toEqual([]);
  }, 30_000);
});
