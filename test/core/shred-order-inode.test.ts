import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { subjectTag } from "../../src/pipeline/keyring.js";
import { makeEncryptionKey } from "../../src/pipeline/keys.js";
import { readShreds, shredMark, shredSince } from "../../src/pipeline/shred-order.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";

afterAll(cleanupTmp);

const KEY = Buffer.alloc(32, 7).toString("base64");

/** A real audit_event chain file of session `sessionId` whose last record is the shred of subject "bob", made by a logger in its own project. */
async function shredChain(sessionId: string): Promise<Buffer> {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId, projectPath, durability: "sync", fullContentLogging: false, encryptSensitiveContent: true, encryptionKey: KEY });
  logger.logChatInteraction({ model: "m", prompt: "bob asks", response: "r", userId: "bob" });
  logger.shredSubject("bob", "erasure");
  await logger.finalizeSession();
  return fs.readFileSync(path.join(auditDirOf(projectPath), `audit_events_${sessionId}.jsonl`));
}

// A waiting data key's mark holds each other session's chain file by inode and size. A chain file
// removed after the mark (cleanup) frees its inode, and ext4 gives it to the next file made, such as
// the chain file of a shredder's new session: its subject_shredded record, within the size the
// removed file had, read as recorded before the mark, and the key of the shredded subject was
// stored (adversarial review, 2026-12-06).
describe("shred-order: a chain file removed after the mark whose inode a new one reuses", () => {
  it("a shred recorded in the new file counts as since the mark", async () => {
    const shredderLines = await shredChain("shredder");
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    fs.mkdirSync(dir, { recursive: true });
    // an older session's chain file, larger than the shredder's will be; cleanup removes it after
    // the mark, and the shredder's session then makes its chain file (once more when another
    // process took the freed inode first: a busy machine)
    const old = path.join(dir, "audit_events_old.jsonl");
    const made = path.join(dir, "audit_events_shredder.jsonl");
    let mark = shredMark(dir, "writer");
    let reused = false;
    for (let attempt = 0; attempt < 50 && !reused; attempt++) {
      fs.rmSync(made, { force: true });
      fs.writeFileSync(old, Buffer.concat([shredderLines, shredderLines, shredderLines]).toString("utf8").replaceAll("shredder", "old"));
      mark = shredMark(dir, "writer");
      const oldIno = fs.statSync(old).ino;
      fs.unlinkSync(old);
      fs.writeFileSync(made, shredderLines);
      reused = fs.statSync(made).ino === oldIno;
    }
    expect(reused, "the file system gave the new file the removed one's inode").toBe(true);
    expect(shredderLines.length).toBeLessThan(mark.sizes.values().next().value!);

    const tag = subjectTag(makeEncryptionKey(Buffer.from(KEY, "base64")), "user\0bob");
    const shreds = readShreds(dir, "writer");
    expect(shreds.filter((s) => s.tags.includes(tag))).toHaveLength(1);
    expect(shredSince(shreds, shredMark(dir, "writer"), tag), "recorded before a mark taken after it").toBeUndefined();
    expect(shredSince(shreds, mark, tag)).toMatchObject({ sessionId: "shredder" });
  }, 60_000);
});
