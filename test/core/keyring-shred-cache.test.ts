// A keyring keeps the key stores it read. Until 2026-12-06 it checked them again (the directory
// changed: a shred renames a store into place) only for data keys it had unwrapped before; a data
// key it first met after a shred was taken from the stores as read before it, and unwrapped: a
// viewer (`serve`, `tail -f`) opened before the shred read a shredded user's records it had not
// read yet (found by the durability pass while making the CLI read the stores once). Real logger,
// real key stores, a real shred.
import { afterEach, expect, it } from "vitest";
import { AuditKeyError, AuditLogger, type EncryptedValue } from "../../src/index.js";
import { decryptValue, valueAad } from "../../src/pipeline/encrypt.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { auditDirOf, readKind, testKey } from "../helpers/core.js";

afterEach(cleanupTmp);

it("a keyring opened before a subject's shred does not open that subject's records afterwards, the first it meets of them included", async () => {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId: "ks", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, fullContentLogging: false });
  const carolId = logger.logChatInteraction({ model: "m", prompt: "carol's question", response: "a", userId: "carol" });
  const daveId = logger.logChatInteraction({ model: "m", prompt: "dave's question", response: "b", userId: "dave" });
  await logger.flush();
  const dir = auditDirOf(projectPath);
  const recs = readKind(projectPath, "chat_interaction", "ks") as Array<Record<string, unknown>>;
  const field = (id: string): EncryptedValue => recs.find((r) => r.id === id)!.promptPreview as EncryptedValue;
  const ring = testKey(dir);
  // the keyring reads the stores (dave's record opened), before the shred
  expect(decryptValue(ring, field(daveId), valueAad(daveId, "promptPreview"))).toContain("dave's question");

  logger.shredSubject("carol", "erasure request");
  await logger.finalizeSession();

  // carol's data key, first met now: destroyed, as a keyring opened now finds it
  expect(() => decryptValue(testKey(dir), field(carolId), valueAad(carolId, "promptPreview"))).toThrow(AuditKeyError);
  expect(() => decryptValue(ring, field(carolId), valueAad(carolId, "promptPreview"))).toThrow(AuditKeyError);
  // dave's still opens
  expect(decryptValue(ring, field(daveId), valueAad(daveId, "promptPreview"))).toContain("dave's question");
});
