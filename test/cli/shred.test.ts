import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditViewer, auditContext, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { openKeyring, shredSubjectKeys, SubjectKeys } from "../../src/pipeline/keyring.js";
import { makeEncryptionKey } from "../../src/pipeline/keys.js";
import { runCli } from "./helpers.js";
import { childArgs } from "../helpers/child-args.js";
import { deadPid } from "../helpers/core.js";

afterEach(cleanupTmp);

const testMaster = () => makeEncryptionKey(Buffer.from(TEST_KEY, "base64"));

/** The test master key, and an empty audit directory for key stores written straight by the keyring. */
function emptyAuditDir(): { master: ReturnType<typeof makeEncryptionKey>; dir: string } {
  const dir = path.join(tmpProject(), "audit_logs");
  fs.mkdirSync(dir);
  return { master: testMaster(), dir };
}

async function writeTwoUsers(projectPath: string): Promise<string> {
  const logger = new AuditLogger({ sessionId: "support", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
  auditContext.run({ userId: "alice" }, () => logger.logChatInteraction({ prompt: "alice's secret question", response: "answer for alice" }));
  auditContext.run({ userId: "bob" }, () => logger.logChatInteraction({ prompt: "bob's question", response: "answer for bob" }));
  await logger.finalizeSession();
  return logger.auditDir;
}

describe("audit-logger shred", () => {
  it("destroys one user's keys: their content is unreadable, the other user's is not, every chain verifies", async () => {
    const projectPath = tmpProject();
    const auditDir = await writeTwoUsers(projectPath);
    const keyFile = path.join(projectPath, "master.key");
    fs.writeFileSync(keyFile, TEST_KEY);
    const res = await runCli(["shred", projectPath, "--user", "alice", "--reason", "GDPR request 7", "--key-file", keyFile, "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { user: string; destroyedKeyIds: string[] };
    expect(out.destroyedKeyIds).toHaveLength(1);
    const viewer = new AuditViewer({ auditPath: auditDir, encryptionKey: TEST_KEY });
    const chats = await viewer.getChatInteractions({ limit: 10 });
    const alice = chats.find((c) => c.userId === "alice")!;
    const bob = chats.find((c) => c.userId === "bob")!;
    expect((alice as { encryptedWithoutKey?: boolean }).encryptedWithoutKey).toBe(true);
    expect((await viewer.getFullInteractionContent(alice.id))?.prompt).toBeNull();
    expect((await viewer.getFullInteractionContent(bob.id))?.prompt).toBe("bob's question");
    const report = await verifyAuditLog(auditDir);
    expect(report.problems).toEqual([]);
    expect(report.notes.map((n) => n.kind)).toContain("key_shredded");
    // the request is on record, in the maintenance session's chained audit events
    const events = fs.readFileSync(path.join(auditDir, "audit_events_audit_maintenance.jsonl"), "utf8");
    expect(events).toContain('"eventType":"subject_shredded"');
    expect(events).toContain("GDPR request 7");
    expect(events).not.toContain("alice");
  });

  // Found by review 2026-12-04 (fourth session): a viewer (and `serve`) kept every data key it had
  // unwrapped, and the key stores it had read, for its lifetime: after a shred it went on
  // decrypting the subject's previews and content.
  it("a viewer opened before the shred (another process's, or this one's) cannot read the subject afterwards", async () => {
    const projectPath = tmpProject();
    const auditDir = await writeTwoUsers(projectPath);
    const viewer = new AuditViewer({ auditPath: auditDir, encryptionKey: TEST_KEY });
    const before = await viewer.getChatInteractions({ limit: 10 });
    const aliceId = before.find((c) => c.userId === "alice")!.id;
    expect((await viewer.getFullInteractionContent(aliceId))?.prompt).toBe("alice's secret question");
    const keyFile = path.join(projectPath, "master.key");
    fs.writeFileSync(keyFile, TEST_KEY);
    const res = await runCli(["shred", projectPath, "--user", "alice", "--reason", "erasure", "--key-file", keyFile]);
    expect(res.code, res.stderr).toBe(0);
    const after = await viewer.getChatInteractions({ limit: 10 });
    expect((after.find((c) => c.id === aliceId) as { encryptedWithoutKey?: boolean }).encryptedWithoutKey).toBe(true);
    expect((await viewer.getFullInteractionContent(aliceId))?.prompt).toBeNull();
    expect((await viewer.getFullInteractionContent(after.find((c) => c.userId === "bob")!.id))?.prompt).toBe("bob's question");
    // in one process: the logger's own shred, a viewer of its directory
    const p2 = tmpProject();
    const logger = new AuditLogger({ sessionId: "live", projectPath: p2, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    const id = auditContext.run({ userId: "carol" }, () => logger.logChatInteraction({ prompt: "carol's secret", response: "ok" }));
    await logger.flush();
    const v2 = new AuditViewer({ auditPath: logger.auditDir, encryptionKey: TEST_KEY });
    expect((await v2.getFullInteractionContent(id))?.prompt).toBe("carol's secret");
    expect(logger.shredSubject("carol")).toHaveLength(1);
    expect((await v2.getFullInteractionContent(id))?.prompt).toBeNull();
    await logger.finalizeSession();
  });

  // Found by review 2026-12-04 (fourth session): a store entry names its subject under the master
  // key that wrapped it, so a shred given only the current key after a rotation found nothing in
  // the older entries, destroyed nothing, and recorded the request as done.
  it("after a key rotation, a shred without the retired keys refuses (naming them) and destroys nothing; with the keyring it destroys the subject's keys", async () => {
    const projectPath = tmpProject();
    const auditDir = await writeTwoUsers(projectPath); // under TEST_KEY
    const newer = Buffer.alloc(32, 9).toString("base64");
    const rotated = new AuditLogger({ sessionId: "after_rotation", projectPath, encryptSensitiveContent: true, encryptionKey: [newer, TEST_KEY] });
    auditContext.run({ userId: "alice" }, () => rotated.logChatInteraction({ prompt: "alice again", response: "ok" }));
    await rotated.finalizeSession();
    const oldId = makeEncryptionKey(Buffer.from(TEST_KEY, "base64")).id;
    const stores = () => fs.readdirSync(auditDir).filter((n) => n.startsWith("subject_keys_")).map((n) => fs.readFileSync(path.join(auditDir, n), "utf8")).join("");
    const storesBefore = stores();
    const onlyNew = path.join(projectPath, "new.key");
    fs.writeFileSync(onlyNew, newer);
    const refused = await runCli(["shred", projectPath, "--user", "alice", "--reason", "erasure", "--key-file", onlyNew]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(oldId);
    expect(refused.stderr).toMatch(/not in the keyring[\s\S]*nothing was shredded/);
    expect(stores()).toBe(storesBefore);
    expect(fs.existsSync(path.join(auditDir, "audit_events_audit_maintenance.jsonl")) && fs.readFileSync(path.join(auditDir, "audit_events_audit_maintenance.jsonl"), "utf8").includes("subject_shredded")).toBe(false);
    const ring = path.join(projectPath, "ring.key");
    fs.writeFileSync(ring, `${newer}\n${TEST_KEY}\n`);
    const done = await runCli(["shred", projectPath, "--user", "alice", "--reason", "erasure", "--key-file", ring, "--json"]);
    expect(done.code, done.stderr).toBe(0);
    expect((JSON.parse(done.stdout) as { destroyedKeyIds: string[] }).destroyedKeyIds).toHaveLength(2);
  });

  it("a key that wraps none of the directory's data keys is refused saying nothing was shredded, and destroys nothing", async () => {
    // (until 2026-12-06 the CLI's check of a foreign key, made before the shred's own, said the key
    // "is not the trail's" but not that nothing was shredded, as the shred's own refusal does)
    const projectPath = tmpProject();
    const auditDir = await writeTwoUsers(projectPath);
    const stores = () => fs.readdirSync(auditDir).filter((n) => n.startsWith("subject_keys_")).map((n) => fs.readFileSync(path.join(auditDir, n), "utf8")).join("");
    const before = stores();
    const other = path.join(projectPath, "other.key");
    fs.writeFileSync(other, Buffer.alloc(32, 9).toString("base64"));
    const r = await runCli(["shred", projectPath, "--user", "alice", "--key-file", other]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(testMaster().id);
    expect(r.stderr).toMatch(/is not the trail's[\s\S]*nothing was shredded[\s\S]*\[AUDIT_ERR_KEY\]/);
    expect(stores()).toBe(before);
    expect(fs.readdirSync(auditDir).some((n) => n.includes("audit_maintenance"))).toBe(false);
  });

  it("needs --user and a key (exit 2)", async () => {
    const projectPath = tmpProject();
    await writeTwoUsers(projectPath);
    expect((await runCli(["shred", projectPath, "--key-file", "/nonexistent"])).code).toBe(2);
    const noKey = await runCli(["shred", projectPath, "--user", "alice"], { env: { ...process.env, AUDIT_LOGGER_KEY: "" } });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/key/);
  });
});

describe("shredding while another process writes the same key stores", () => {
  it("destroys only the shredded users' keys: keys another process appends during the rewrite are kept (they were lost, and other users' records with them)", async () => {
    const projectPath = tmpProject();
    const count = 150;
    const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/core/key-writer-child.ts");
    const child = spawn(process.execPath, [...childArgs(fixture), projectPath, String(count)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    let running = true;
    void exited.then(() => (running = false));
    const shredder = new AuditLogger({ sessionId: "maint", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    let next = 0;
    const progress = path.join(projectPath, "progress");
    const shredUpTo = (last: number) => {
      for (; next <= last; next++) shredder.shredSubject(`victim${next}`, "test");
    };
    while (running) {
      if (fs.existsSync(progress)) shredUpTo(Number(fs.readFileSync(progress, "utf8") || -1));
      await new Promise((r) => setImmediate(r));
    }
    expect(await exited, err).toBe(0);
    expect(JSON.parse(out)).toEqual({ written: count });
    shredUpTo(count - 1);
    await shredder.finalizeSession();
    const viewer = new AuditViewer({ auditPath: path.join(projectPath, "audit_logs"), encryptionKey: TEST_KEY });
    const chats = await viewer.getChatInteractions({ sessionId: "keys_writer", limit: 1000 });
    expect(chats).toHaveLength(2 * count);
    const unreadable = (who: string) => chats.filter((c) => c.userId!.startsWith(who) && (c as { encryptedWithoutKey?: boolean }).encryptedWithoutKey === true).length;
    expect({ keepersUnreadable: unreadable("keeper"), victimsUnreadable: unreadable("victim") }).toEqual({ keepersUnreadable: 0, victimsUnreadable: count });
  }, 60_000);
});

describe("two shreds at once", () => {
  it("two processes shredding two users of the same key stores at once each destroy their user's keys (the later rename brought back what the other destroyed)", async () => {
    const { master, dir } = emptyAuditDir();
    const ids = new Map<string, string>();
    for (let s = 0; s < 40; s++) {
      const w = new SubjectKeys(master, dir, `s${s}`);
      for (const u of ["x", "y", "z"]) ids.set(`${s}${u}`, w.keyFor(u).id);
    }
    const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/core/shred-child.ts");
    // both started, then let go together (see the fixture)
    const go = path.join(path.dirname(dir), "go");
    const exits = ["x", "y"].map((u) => new Promise<number | null>((resolve) => spawn(process.execPath, [...childArgs(fixture), dir, u, go], { stdio: "inherit" }).on("exit", resolve)));
    const deadline = Date.now() + 50_000;
    while (!["x", "y"].every((u) => fs.existsSync(`${go}.ready.${u}`)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    fs.writeFileSync(go, "");
    const codes = await Promise.all(exits);
    expect(codes).toEqual([0, 0]);
    const ring = openKeyring([master], dir);
    const wrong: string[] = [];
    for (let s = 0; s < 40; s++) {
      if (ring.resolve!(ids.get(`${s}x`)!) || ring.resolve!(ids.get(`${s}y`)!) || !ring.resolve!(ids.get(`${s}z`)!)) wrong.push(`s${s}`);
    }
    expect(wrong).toEqual([]);
    expect(fs.existsSync(path.join(dir, ".shred.lock"))).toBe(false);
  }, 60_000);
});

describe("a destroyed key's line written again", () => {
  it("stays destroyed: a tombstone beats a key line of the same id wherever it stands, and the next shred removes that line (a writer racing a shred appended it again, readable)", async () => {
    const { master, dir } = emptyAuditDir();
    const kid = new SubjectKeys(master, dir, "live").keyFor("x").id;
    const store = path.join(dir, "subject_keys_live.jsonl");
    const keyLine = fs.readFileSync(store, "utf8").split("\n").find((l) => l.includes(kid))!;
    expect(shredSubjectKeys([master], dir, "x")).toEqual([kid]);
    fs.appendFileSync(store, keyLine + "\n"); // what the racing writer appended after the shred's rewrite
    expect(openKeyring([master], dir).resolve!(kid)).toBeUndefined();
    shredSubjectKeys([master], dir, "nobody");
    shredSubjectKeys([master], dir, "x");
    expect(fs.readFileSync(store, "utf8")).not.toContain(keyLine);
    expect(fs.readFileSync(store, "utf8")).toContain(`"kid":"${kid}","shreddedAt"`);
  });
});

describe("the shred lock", () => {
  it("one left by this very thread's pid (a crashed shred, a former process with the same pid) is taken over at once; one a live process holds makes a thread: true logger's shred fail within the worker's call limit, and the logger goes on", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "locked", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, thread: true });
    auditContext.run({ userId: "alice" }, () => logger.logChatInteraction({ prompt: "q", response: "a" }));
    await logger.flush();
    const lock = path.join(logger.auditDir, ".shred.lock");
    const { threadId } = await import("node:worker_threads");
    const os = await import("node:os");
    // left by this process's main thread (the CLI's shred runs there), never released
    fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, threadId, hostname: os.hostname(), startedAt: new Date().toISOString() }));
    // taken over at once: not waited for as a live holder's is (10 s, then refused); half of that
    // is far above what load adds to a takeover and a small shred
    const t0 = Date.now();
    expect(shredSubjectKeys([testMaster()], logger.auditDir, "nobody")).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(fs.existsSync(lock)).toBe(false);
    // held by a live process
    const holder = spawn("sleep", ["60"]);
    try {
      fs.writeFileSync(lock, JSON.stringify({ pid: holder.pid, threadId: 0, hostname: os.hostname(), startedAt: new Date().toISOString() }));
      expect(() => logger.shredSubject("alice")).toThrow(/Another crypto-shredding holds/);
    } finally {
      holder.kill();
      fs.rmSync(lock, { force: true });
    }
    auditContext.run({ userId: "bob" }, () => logger.logChatInteraction({ prompt: "after", response: "a" }));
    expect(logger.shredSubject("alice")).toHaveLength(1);
    const summary = await logger.finalizeSession();
    expect(summary.counts.chat_interaction).toBe(2);
  }, 60_000);
});

describe("a shred lock nobody keeps alive", () => {
  it("is taken over when its holder is a thread of this process that has ended, or once it is 15 s untouched when its holder cannot be checked (another host): every later shred failed; a live process of this host is never taken over", async () => {
    const { master, dir } = emptyAuditDir();
    const kid = new SubjectKeys(master, dir, "s").keyFor("x").id;
    const lock = path.join(dir, ".shred.lock");
    const holder = spawn("sleep", ["60"]);
    try {
      // (another thread of this process is held until it ends, never by age, since 2026-12-06: one
      // whose kernel thread is gone, a tid no task of this process has)
      for (const body of [{ pid: process.pid, threadId: 99, tid: deadPid(), tidStart: "1" }, { pid: 1, threadId: 0, hostname: "elsewhere" }]) {
        fs.writeFileSync(lock, JSON.stringify({ hostname: (await import("node:os")).hostname(), ...body }));
        const old = new Date(Date.now() - 20_000);
        fs.utimesSync(lock, old, old);
        // (at once: not the 10 s wait a live holder gets, of which half is far above what load adds)
        const t0 = Date.now();
        shredSubjectKeys([master], dir, "nobody");
        expect(Date.now() - t0).toBeLessThan(5_000);
        expect(fs.existsSync(lock)).toBe(false);
      }
      expect(shredSubjectKeys([master], dir, "x")).toEqual([kid]);
      // a live process of this host, however old its lock: waited for, then refused
      fs.writeFileSync(lock, JSON.stringify({ hostname: (await import("node:os")).hostname(), pid: holder.pid, threadId: 0 }));
      const old = new Date(Date.now() - 20_000);
      fs.utimesSync(lock, old, old);
      expect(() => shredSubjectKeys([master], dir, "nobody")).toThrow(/Another crypto-shredding holds/);
      expect(fs.existsSync(lock)).toBe(true);
    } finally {
      holder.kill();
    }
  }, 30_000);
});

describe("a shred that cannot write its copy", () => {
  it("fails leaving the store as it was and no copy of its keys behind (the copy, with other subjects' keys, stayed on a full disk), nor its marker or lock", async () => {
    const { master, dir } = emptyAuditDir();
    const w = new SubjectKeys(master, dir, "s");
    const kx = w.keyFor("x").id;
    const ky = w.keyFor("y").id;
    const before = fs.readFileSync(path.join(dir, "subject_keys_s.jsonl"), "utf8");
    const real = fs.fsyncSync;
    fs.fsyncSync = () => {
      throw Object.assign(new Error("ENOSPC: no space left on device, fsync"), { code: "ENOSPC" });
    };
    try {
      expect(() => shredSubjectKeys([master], dir, "x")).toThrow(/ENOSPC/);
    } finally {
      fs.fsyncSync = real;
    }
    expect(fs.readdirSync(dir).sort()).toEqual(["subject_keys_s.jsonl"]);
    expect(fs.readFileSync(path.join(dir, "subject_keys_s.jsonl"), "utf8")).toBe(before);
    expect(shredSubjectKeys([master], dir, "x")).toEqual([kx]);
    const ring = openKeyring([master], dir);
    expect([ring.resolve!(kx), Boolean(ring.resolve!(ky))]).toEqual([undefined, true]);
  });
});
