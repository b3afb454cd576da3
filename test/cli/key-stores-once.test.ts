// At a command's start the key stores were read twice: once to check the key given against them
// (loadCliKey: refuseForeignKey, wrappingMasterIds), and again by the keyring opened next
// (keyringFor), for every session's store (found by the durability pass, 2026-12-06). The
// keyring now starts from the check's reading while the directory is unchanged since. Nothing
// but the count of reads tells one reading from two when nothing changes, so the opens of the
// stores are counted (Node's fs.openSync wrapped, not replaced); and what must not change is
// checked through what a reader gets: a store replaced between the check and the keyring (a
// shred) is read again, and a shredded subject's record does not open.
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { AuditKeyError, AuditLogger, type EncryptedValue } from "../../src/index.js";
import { keyringFor, loadCliKey } from "../../src/cli/keys.js";
import { decryptValue, valueAad } from "../../src/pipeline/encrypt.js";
import { cleanupTmp, TEST_KEY, tmpProject, withoutEnv } from "../helpers/index.js";
import { auditDirOf, readKind } from "../helpers/core.js";

withoutEnv("AUDIT_LOGGER_KEY");
const realOpen = fs.openSync;
afterEach(() => {
  (fs as { openSync: typeof fs.openSync }).openSync = realOpen;
  cleanupTmp();
});

/** Three sessions, each with its own key store: carol's and dave's chats in the first. */
async function threeStores(projectPath: string): Promise<{ dir: string; keyFile: string; open: (ring: ReturnType<typeof keyringFor>, user: "carol" | "dave") => string }> {
  const ids: Record<string, string> = {};
  for (const s of ["k1", "k2", "k3"]) {
    const l = new AuditLogger({ sessionId: s, projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, fullContentLogging: false });
    for (const user of ["carol", "dave"] as const) ids[`${s}/${user}`] = l.logChatInteraction({ model: "m", prompt: `${user}'s question in ${s}`, response: "r", userId: user });
    await l.finalizeSession();
  }
  const dir = auditDirOf(projectPath);
  const keyFile = path.join(projectPath, "master.key");
  fs.writeFileSync(keyFile, TEST_KEY);
  const recs = readKind(projectPath, "chat_interaction", "k1");
  const open = (ring: ReturnType<typeof keyringFor>, user: "carol" | "dave"): string => {
    const id = ids[`k1/${user}`]!;
    return decryptValue(ring, recs.find((r) => r.id === id)!.promptPreview as EncryptedValue, valueAad(id, "promptPreview"));
  };
  return { dir, keyFile, open };
}

/** Counts the opens of the directory's key stores from now on. */
function countStoreOpens(): { readonly n: number } {
  const count = { n: 0 };
  (fs as { openSync: typeof fs.openSync }).openSync = ((file: fs.PathLike | number, ...rest: unknown[]) => {
    if (typeof file === "string" && path.basename(file).startsWith("subject_keys_")) count.n++;
    return (realOpen as (...a: unknown[]) => number)(file, ...rest);
  }) as typeof fs.openSync;
  return count;
}

it("the key check and the keyring opened after it read each key store once", async () => {
  const projectPath = tmpProject();
  const { dir, keyFile, open } = await threeStores(projectPath);
  const stores = fs.readdirSync(dir).filter((n) => n.startsWith("subject_keys_") && n.endsWith(".jsonl"));
  expect(stores).toHaveLength(3);
  const opens = countStoreOpens();
  const key = loadCliKey(keyFile, {}, dir)!;
  const ring = keyringFor(key, dir);
  expect(open(ring, "carol")).toBe("carol's question in k1");
  expect(open(ring, "dave")).toBe("dave's question in k1");
  expect(opens.n).toBe(stores.length);
});

it("a store replaced between the key check and the keyring (a shred) is read again: the shredded subject's record does not open", async () => {
  const projectPath = tmpProject();
  const { dir, keyFile, open } = await threeStores(projectPath);
  const key = loadCliKey(keyFile, {}, dir)!;
  const shredder = new AuditLogger({ sessionId: "shredder", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, fullContentLogging: false });
  shredder.shredSubject("carol", "erasure request");
  await shredder.finalizeSession();
  const ring = keyringFor(key, dir);
  expect(() => open(ring, "carol")).toThrow(AuditKeyError);
  expect(open(ring, "dave")).toBe("dave's question in k1");
});
