/**
 * New subjects' records while the disk refuses their data keys (encrypted mode). A subject's new
 * data key must be stored (wrapped, synced) in the session's key store before any record or
 * content file encrypted under it reaches the disk. Until 2026-12-06 such a record was not kept
 * ("Not kept: the data key of …"), however short the outage, where a plain record of the same
 * outage waited in memory and was written once the disk took data: nothing said the mode's window
 * was shorter for a new subject. Now the key waits in memory (its store line, wrapped) with the
 * records, which are held back until it is stored, and a subject shredded meanwhile never has its
 * key stored. Real child process, its file-size limit set from outside with util-linux `prlimit`
 * (the technique of disk-trouble.test.ts and key-store-full.test.ts). A subject shredded by
 * another process (the CLI) while its key waits: see the last describe.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it, type TestContext } from "vitest";
import { AuditLogger, AuditViewer, verifyAuditLog, type Durability } from "../../src/index.js";
import { readKeyStore, SHRED_LOCK, subjectTag } from "../../src/pipeline/keyring.js";
import { makeEncryptionKey } from "../../src/pipeline/keys.js";
import { takeDirLock } from "../../src/sink/dir-lock.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";
import { auditDirOf, filesContaining, killChildren, readKind, startFixture, type ChildHandle } from "../helpers/core.js";
import { runCli } from "../cli/helpers.js";

// Each test kills its own child when it ends, and the temporary directories go once all have run:
// the tests of a `describe.concurrent` run at once (each its own child process and directory), and
// an afterEach would kill the others' children. (Most of their time is waiting: the 2.5 s a child
// stays quiet, the signals; one after the other the file took ~34 s.)
afterAll(() => cleanupTmp());
function startOwnFixture(t: TestContext, script: string, args: readonly string[]): ChildHandle {
  const h = startFixture(script, {}, args);
  t.onTestFinished(() => killChildren([h]));
  return h;
}

/** the modes the child runs in (see key-store-held-child.mts) */
const cases = [
  { durability: "sync", thread: false },
  { durability: "async", thread: false },
  { durability: "fsync", thread: false },
  { durability: "async", thread: true },
] as const satisfies ReadonlyArray<{ durability: Durability; thread: boolean }>;

/**
 * Starts key-store-held-child.mts and brings on its outage: its file-size limit set a little past
 * its key store (the first new key line is cut there and cut off again, the next refused whole;
 * the chat chain file is past it already, the tool_usage file is not), then SIGUSR1, waiting for
 * "outage". `beforeOutage` runs once the child is ready, before the limit.
 */
async function childInOutage(t: TestContext, durability: Durability, thread: boolean, beforeOutage?: (projectPath: string, keyB64: string) => Promise<void>) {
  const projectPath = tmpProject();
  const dir = auditDirOf(projectPath);
  const keyB64 = randomBytes(32).toString("base64");
  const h = startOwnFixture(t, "key-store-held-child.mts", [projectPath, durability, keyB64, ...(thread ? ["thread"] : [])]);
  const [, pid, size] = (await h.waitForLine((l) => l.startsWith("ready "), "ready")).split(" ");
  const store = path.join(dir, "subject_keys_keyheld.jsonl");
  const storeBefore = fs.readFileSync(store);
  expect(storeBefore.length).toBe(Number(size));
  await beforeOutage?.(projectPath, keyB64);
  execFileSync("prlimit", ["--pid", pid!, `--fsize=${Number(size) + 50}:unlimited`]);
  h.child.kill("SIGUSR1");
  await h.waitForLine((l) => l === "outage", "outage");
  const ids = (method: string, user: string): string[] => h.lines.filter((l) => l.startsWith(`${method} ${user} `)).map((l) => l.split(" ")[2]!);
  return { projectPath, dir, keyB64, h, pid: pid!, store, storeBefore, ids };
}

/** Lifts the child's file-size limit and lets it run to its end (see key-store-held-child.mts): "quiet", then "done", exit 0. */
async function liftAndFinish(h: ChildHandle, pid: string): Promise<void> {
  execFileSync("prlimit", ["--pid", pid, "--fsize=unlimited:unlimited"]);
  h.child.kill("SIGUSR1");
  await h.waitForLine((l) => l === "quiet", "quiet");
  h.child.kill("SIGUSR1");
  await h.waitForLine((l) => l === "done", "done");
  const exit = await h.exited;
  expect(exit.code, exit.stderr).toBe(0);
}

/** The CLI shreds `user` with the master key in `keyFile` (`env`: its clock moved, say); it must succeed. */
async function cliShred(projectPath: string, user: string, reason: string, keyFile: string, env?: NodeJS.ProcessEnv, json = false): Promise<string> {
  const r = await runCli(["shred", projectPath, "--user", user, "--reason", reason, "--key-file", keyFile, ...(json ? ["--json"] : [])], env ? { env } : {});
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** childInOutage, the master key written to `<project>/master.key` for the CLI first; `beforeOutage` gets that file. */
async function childInOutageForCli(t: TestContext, durability: Durability, thread: boolean, beforeOutage?: (projectPath: string, keyFile: string) => Promise<void>) {
  let keyFile = "";
  const c = await childInOutage(t, durability, thread, async (project, key) => {
    keyFile = path.join(project, "master.key");
    fs.writeFileSync(keyFile, key);
    await beforeOutage?.(project, keyFile);
  });
  return { ...c, keyFile };
}

describe.concurrent("new subjects' records while the disk refuses their data keys", () => {
  for (const { durability, thread } of cases) {
    it(`${durability}${thread ? ", thread: true" : ""}: held in memory, nothing under a new key on disk before its key line; once the disk takes data the key lines, then the records and content files, are written, decrypt and verify; a subject shredded meanwhile never gets its key stored`, async (t) => {
      const { projectPath, dir, keyB64, h, pid, store, storeBefore, ids } = await childInOutage(t, durability, thread);
      // (its shred during the outage, its own shred lock held, wrote its record out without
      // waiting for that lock: the waiting keys are stored under it, see SubjectKeys.storePending)
      expect(h.lines.filter((l) => l.includes("crypto-shredding"))).toEqual([]);
      const [newbieChat] = ids("chat", "newbie");
      const [newbieTool] = ids("tool", "newbie");
      const [newbie2Chat] = ids("chat", "newbie2");
      const [shredChat] = ids("chat", "shredme");
      expect(h.lines.filter((l) => l.startsWith("threw ")), h.lines.join("\n")).toEqual([]);
      // during the outage: the key store is as it was (the cut line cut off again), and no byte of
      // a record or content file under a new key is on disk, though the tool_usage file and the
      // content files were not past the limit (u0's chat record, under its stored key, waits as
      // well: its kind's lines wait in chain order)
      // (its whole lines: a try to store a key line while the disk refuses it writes the part the
      // file-size limit lets through and cuts it off again at once; with `thread: true` that try is
      // the worker's, and a read in between saw the 50 bytes of the cut line, under load 20)
      const store0 = fs.readFileSync(store);
      expect(store0.subarray(0, store0.lastIndexOf(0x0a) + 1)).toEqual(storeBefore);
      // (the errors record of the outage names the first one's id in its message; with `thread:
      // true` the worker claims each id by its empty manifest, as it makes the record)
      const written = (id: string): string[] => filesContaining(projectPath, id).filter((f) => f !== "errors_keyheld.jsonl" && fs.statSync(path.join(dir, f)).size > 0);
      for (const id of [newbieChat!, newbieTool!, newbie2Chat!]) expect(written(id), id).toEqual([]);
      // (the shredded subject's record line waits in its kind; its content files, under the key the
      // shred destroyed in memory, may be written already: unreadable, as they are once written)
      expect(written(shredChat!).filter((f) => !f.startsWith("full_interactions/")), shredChat).toEqual([]);
      for (const text of ["newbie asks", "newbie2 asks", "shredme asks", "what newbie looks for"]) expect(filesContaining(projectPath, text), text).toEqual([]);
      // only the content files under a new key wait: u0's, under its stored key, is written as
      // usual (the content files are under the limit). Until 2026-12-06 `sync` mode held it too,
      // behind the content waiting for a key line
      const u0Outage = ids("chat", "u0")[1]!;
      expect(written(u0Outage)).toEqual(expect.arrayContaining([`full_interactions/manifest_${u0Outage}.json`]));
      // reported as a refused write, never as a record lost
      expect(h.lines.some((l) => l.startsWith("error Storing the new data key of chat_interaction record") && /EFBIG/.test(l)), h.lines.join("\n")).toBe(true);
      expect(h.lines.filter((l) => /Not kept/.test(l))).toEqual([]);
      expect(h.lines.find((l) => l.startsWith("flush "))).toMatch(/^flush rejected AUDIT_ERR_IO .*EFBIG/);
      // a sink got none of them either (u0's chat, behind them in its kind, neither)
      const sunk = (): string[] => h.lines.filter((l) => l.startsWith("sink ")).map((l) => l.split(" ")[2]!);
      for (const id of [newbieChat!, newbieTool!, newbie2Chat!, shredChat!, ids("chat", "u0")[1]!]) expect(sunk()).not.toContain(id);
      const shredded = h.lines.find((l) => l.startsWith("shredded ") || l.startsWith("shred-threw "))!;
      expect(shredded).toMatch(/^shredded d[0-9a-f]{16}$/);
      const shredKid = shredded.split(" ")[1]!;

      execFileSync("prlimit", ["--pid", pid, "--fsize=unlimited:unlimited"]);
      h.child.kill("SIGUSR1");
      // an app gone quiet: with no log call and no flush(), the kit's retry (flush timer, group
      // commit) stored the key lines and then wrote the held records and content files
      await h.waitForLine((l) => l === "quiet", "quiet");
      expect(filesContaining(projectPath, newbieChat!)).toEqual(expect.arrayContaining(["chat_interactions_keyheld.jsonl", `full_interactions/manifest_${newbieChat}.json`]));
      expect(filesContaining(projectPath, newbieTool!)).toContain("tool_usage_keyheld.jsonl");
      const quietKid = (readKind(projectPath, "chat_interaction", "keyheld").find((r) => r.id === newbieChat)!.promptPreview as { kid: string }).kid;
      expect(readKeyStore(store).keys.map((k) => k.kid)).toContain(quietKid);
      h.child.kill("SIGUSR1");
      await h.waitForLine((l) => l === "done", "done");
      const exit = await h.exited;
      expect(exit.code, exit.stderr).toBe(0);
      expect(h.lines.filter((l) => l.startsWith("flush ")).at(-1)).toBe("flush ok");
      expect(h.lines.filter((l) => /Not kept/.test(l))).toEqual([]);

      // every record logged is on disk once, in the order logged, each chain whole
      const chats = readKind(projectPath, "chat_interaction", "keyheld");
      expect(chats.map((r) => r.id)).toEqual(h.lines.filter((l) => l.startsWith("chat ")).map((l) => l.split(" ")[2]));
      expect(chats.map((r) => r.seq)).toEqual(chats.map((_r, i) => i + 1));
      expect(readKind(projectPath, "tool_usage", "keyheld").map((r) => r.id)).toEqual(h.lines.filter((l) => l.startsWith("tool ")).map((l) => l.split(" ")[2]));
      // and the sink got every one of them once, each kind in chain order
      if (!thread) {
        for (const kind of ["chat_interaction", "tool_usage"] as const) {
          expect(h.lines.filter((l) => l.startsWith(`sink ${kind} `)).map((l) => l.split(" ")[2]), kind).toEqual(readKind(projectPath, kind, "keyheld").map((r) => r.id));
        }
      }

      // the key store holds the new keys, each after the lines that were there (appended), and
      // not the shredded subject's pending one, which was never stored
      const after = fs.readFileSync(store);
      expect(after.subarray(0, storeBefore.length)).toEqual(storeBefore);
      const kids = readKeyStore(store).keys.map((k) => k.kid);
      const kidOf = (id: string): string => ((chats.find((r) => r.id === id)!.promptPreview as { kid: string }).kid);
      expect(kids).toContain(kidOf(newbieChat!));
      expect(kids).toContain(kidOf(newbie2Chat!));
      expect(kidOf(shredChat!)).toBe(shredKid);
      expect(kids).not.toContain(shredKid);
      expect(after.includes(Buffer.from(shredKid))).toBe(false);
      // the shredded subject's next record has a new key, stored
      const shredAgain = chats.find((r) => r.id === ids("chat", "shredme")[1])!;
      expect(kids).toContain(kidOf(shredAgain.id as string));

      // the reader opens every record and content file, but the shredded subject's first
      const viewer = new AuditViewer({ auditPath: dir, sessionId: "keyheld", encryptionKey: keyB64 });
      const viewed = new Map((await viewer.getChatInteractions({ limit: 100 })).map((r) => [r.id, r]));
      expect(viewed.get(newbieChat!)!.promptPreview).toBe("newbie asks during the outage");
      expect(viewed.get(newbie2Chat!)!.promptPreview).toBe("newbie2 asks during the outage");
      expect(viewed.get(ids("chat", "newbie")[1]!)!.promptPreview).toBe("newbie asks again");
      expect(viewed.get(ids("chat", "u0")[1]!)!.promptPreview).toBe("u0 asks during the outage");
      expect(typeof viewed.get(shredChat!)!.promptPreview).not.toBe("string");
      expect(viewed.get(ids("chat", "shredme")[1]!)!.promptPreview).toBe("shredme asks again");
      const content = await viewer.getFullInteractionContent(newbieChat!);
      expect(content).toMatchObject({ prompt: "newbie asks during the outage", response: "answer to newbie", verified: true });
      const tools = new Map((await viewer.getToolUsages({ limit: 10 })).map((r) => [r.id, r]));
      expect(tools.get(newbieTool!)!.parameters).toEqual({ q: "what newbie looks for" });

      // nothing was lost, so nothing is counted lost; the outage is one errors record
      const errs = readKind(projectPath, "error", "keyheld");
      expect(errs.filter((e) => e.errorType === "audit_records_not_kept")).toEqual([]);
      expect(errs.filter((e) => e.errorType === "audit_write_failed")).toHaveLength(1);
      // the shredding names the key it destroyed, never stored; and the directory verifies
      const shredRec = readJsonl(path.join(dir, "audit_events_keyheld.jsonl")).find((e) => e.eventType === "subject_shredded")!;
      expect((shredRec.details as { keyIds: string[] }).keyIds).toEqual([shredKid]);
      const report = await verifyAuditLog(dir);
      expect(report.problems).toEqual([]);
    }, 60_000);
  }
});

describe("new subjects' records past the memory bound for held record lines", () => {
  for (const durability of ["sync", "async"] as const satisfies readonly Durability[]) {
    it(`${durability}: the first 64 MiB (their key lines counted) are kept and written once the disk takes data; later ones are not kept, each reported, and counted in one errors record; what was kept decrypts and the log verifies`, async (t) => {
      const projectPath = tmpProject();
      const sid = `keybound_${durability}`;
      const keyB64 = randomBytes(32).toString("base64");
      // ~30 KB records (~40 KB encrypted), each a new subject's, 3,000 of them: ~120 MB, past the 64 MiB bound
      const h = startOwnFixture(t, "key-bound-child.mts", [projectPath, sid, durability, "3000", keyB64]);
      const exit = await h.exited;
      expect(exit.code, exit.stderr).toBe(0);
      const out = fs.readFileSync(path.join(projectPath, "child-out.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      const { logged, notKept, firstNotKept, keyRefused } = out[0] as { logged: string[]; notKept: string[]; firstNotKept: string; keyRefused: string };
      expect(logged).toHaveLength(3000);
      expect(keyRefused).toMatch(/^Storing the new data key of tool_usage record \S+'s subject in the key store subject_keys_keybound_\w+\.jsonl failed: EFBIG/);
      // (encrypted, base64: ~40 KB a record) about 1,650 within the bound, the rest past it; each
      // one reported as it was made, as a record past the bound is
      expect(notKept.length).toBeGreaterThan(1000);
      expect(notKept.length).toBeLessThan(1700);
      expect(firstNotKept).toMatch(/^Not kept: 64 MiB of records the disk refused \(.*EFBIG.*tool_usage record \S+ is lost/);
      // once the limit was lifted, flush() and finalizeSession() wrote everything kept, reporting nothing more
      expect(out[1]).toEqual({ finalized: [] });
      const kept = logged.filter((id) => !notKept.includes(id));
      const recs = readKind(projectPath, "tool_usage", sid);
      expect(recs.map((r) => r.id).slice(100)).toEqual(kept);
      // the outage is one record, and what it lost one more, with the count and the ids
      const errors = readKind(projectPath, "error", sid);
      expect(errors.map((r) => r.errorType)).toEqual(["audit_write_failed", "audit_records_not_kept"]);
      expect(errors[1]).toMatchObject({ severity: "critical", context: { notKept: { tool_usage: notKept.length }, firstId: notKept[0], lastId: notKept.at(-1) } });
      // every record kept opens (its key line was stored before it), the first and last of the outage checked by the reader
      const viewer = new AuditViewer({ auditPath: auditDirOf(projectPath), sessionId: sid, encryptionKey: keyB64 });
      const tools = new Map((await viewer.getToolUsages({ limit: 5000 })).map((r) => [r.id, r]));
      expect(tools.size).toBe(100 + kept.length);
      for (const id of kept) expect(typeof (tools.get(id)!.parameters as { i?: unknown }).i, id).toBe("number");
      const report = await verifyAuditLog(auditDirOf(projectPath), { sessionId: sid });
      expect(report.problems).toEqual([]);
    }, 240_000);
  }
});

describe.concurrent("the disk takes a kind's lines again before it takes the key store", () => {
  for (const durability of ["sync", "async"] as const satisfies readonly Durability[]) {
    it(`${durability}: the lines refused before a new key was waited for are written; those from then on wait for the key line`, async (t) => {
      const projectPath = tmpProject();
      const dir = auditDirOf(projectPath);
      const h = startOwnFixture(t, "key-store-partial-child.mts", [projectPath, durability, randomBytes(32).toString("base64")]);
      const [, pid] = (await h.waitForLine((l) => l.startsWith("ready "), "ready")).split(" ");
      execFileSync("prlimit", ["--pid", pid!, "--fsize=100:unlimited"]);
      h.child.kill("SIGUSR1");
      await h.waitForLine((l) => l === "outage", "outage");
      const [, u0Tool] = h.lines.filter((l) => l.startsWith("tool u0 ")).map((l) => l.split(" ")[2]!);
      const newbieTool = h.lines.find((l) => l.startsWith("tool newbie "))!.split(" ")[2]!;
      const toolFile = path.join(dir, "tool_usage_keypart.jsonl");
      const store = path.join(dir, "subject_keys_keypart.jsonl");
      // (past the tool_usage file and a few lines more, below the key store)
      const between = fs.statSync(toolFile).size + 4000;
      expect(fs.statSync(store).size).toBeGreaterThan(between);
      execFileSync("prlimit", ["--pid", pid!, `--fsize=${between}:unlimited`]);
      h.child.kill("SIGUSR1");
      await h.waitForLine((l) => l === "partial", "partial");
      const onDisk = (): unknown[] => readKind(projectPath, "tool_usage", "keypart").map((r) => r.id);
      expect(onDisk()).toContain(u0Tool);
      expect(onDisk()).not.toContain(newbieTool);
      expect(h.lines.find((l) => l.startsWith("flush "))).toMatch(/^flush rejected .*key store.*EFBIG/);
      execFileSync("prlimit", ["--pid", pid!, "--fsize=unlimited:unlimited"]);
      h.child.kill("SIGUSR1");
      await h.waitForLine((l) => l === "done", "done");
      expect((await h.exited).code).toBe(0);
      expect(onDisk()).toEqual(h.lines.filter((l) => l.startsWith("tool ")).map((l) => l.split(" ")[2]));
      expect((await verifyAuditLog(dir)).problems).toEqual([]);
    }, 60_000);
  }
});

// A subject shredded by another process (`audit-logger shred`) while this process holds the
// subject's new data key in memory, waiting for the disk. The other process cannot see that key:
// until 2026-12-06 it was stored once the disk took data, and the records held under it were
// readable though the subject had been shredded. Now the writer finds the shred's chained record
// as it stores the key, destroys the key again before any record under it is written, and records
// that in a `subject_shredded` record of its own session naming the key. Real child processes:
// the logger (its file-size limit set with `prlimit`) and the CLI.
describe.concurrent("a subject shredded by another process while its new data key waits for the disk", () => {
  for (const { durability, thread } of cases) {
    it(`${durability}${thread ? ", thread: true" : ""}: the key is destroyed again as it is stored; the records held under it stay unreadable, a subject_shredded record names the key, the subject's next record opens, and the directory verifies`, async (t) => {
      // (during the outage the child logs a chat and a tool call for the new user "newbie", a
      // chat for "newbie2", and, once the disk takes data, another chat for newbie) newbie2 was
      // shredded before: its key made later (during the outage) is not taken for shredded
      const { projectPath, dir, keyB64, h, pid, store, ids, keyFile } = await childInOutageForCli(t, durability, thread, async (project, kf) => void (await cliShred(project, "newbie2", "an earlier erasure", kf)));
      const [newbieChat] = ids("chat", "newbie");
      const [newbieTool] = ids("tool", "newbie");
      const [newbie2Chat] = ids("chat", "newbie2");

      // the CLI (not limited) shreds newbie: its key waits in the child's memory, no store holds one
      const shred = await cliShred(projectPath, "newbie", "erasure during the outage", keyFile, undefined, true);
      expect((JSON.parse(shred) as { destroyedKeyIds: string[] }).destroyedKeyIds).toEqual([]);

      await liftAndFinish(h, pid);
      expect(h.lines.filter((l) => l.startsWith("flush ")).at(-1)).toBe("flush ok");

      // every record is on disk, in the order logged
      const chats = readKind(projectPath, "chat_interaction", "keyheld");
      expect(chats.map((r) => r.id)).toEqual(h.lines.filter((l) => l.startsWith("chat ")).map((l) => l.split(" ")[2]));
      const kidOf = (id: string): string => (chats.find((r) => r.id === id)!.promptPreview as { kid: string }).kid;
      const newbieKid = kidOf(newbieChat!);
      // the key store holds no key line of newbie's waiting key (a tombstone in its place), and
      // holds newbie2's (made after newbie2's shred)
      const { keys, tombstones } = readKeyStore(store);
      expect(keys.map((k) => k.kid)).not.toContain(newbieKid);
      expect(tombstones.map((t) => t.kid)).toContain(newbieKid);
      const lines = fs.readFileSync(store, "utf8").split("\n").filter((l) => l.includes(newbieKid));
      for (const l of lines) expect(Object.keys(JSON.parse(l) as object).sort()).toEqual(["kid", "shreddedAt"]);
      expect(keys.map((k) => k.kid)).toContain(kidOf(newbie2Chat!));

      // the records and content file held under it are unreadable; newbie's next record, under a
      // new key, and the other subjects' open
      const viewer = new AuditViewer({ auditPath: dir, sessionId: "keyheld", encryptionKey: keyB64 });
      const viewed = new Map((await viewer.getChatInteractions({ limit: 100 })).map((r) => [r.id, r]));
      expect(typeof viewed.get(newbieChat!)!.promptPreview).not.toBe("string");
      const tools = new Map((await viewer.getToolUsages({ limit: 10 })).map((r) => [r.id, r]));
      expect(tools.get(newbieTool!)!.parameters).not.toEqual({ q: "what newbie looks for" });
      expect(await viewer.getFullInteractionContent(newbieChat!)).toMatchObject({ encrypted: true, prompt: null, response: null });
      const newbieAgain = ids("chat", "newbie")[1]!;
      expect(kidOf(newbieAgain)).not.toBe(newbieKid);
      expect(viewed.get(newbieAgain)!.promptPreview).toBe("newbie asks again");
      expect(viewed.get(newbie2Chat!)!.promptPreview).toBe("newbie2 asks during the outage");

      // the child's own chain names the key destroyed, and whose shred it was
      const shredRecs = readJsonl(path.join(dir, "audit_events_keyheld.jsonl")).filter((e) => e.eventType === "subject_shredded");
      const elsewhere = shredRecs.find((e) => (e.details as { keyIds: string[] }).keyIds.includes(newbieKid));
      expect(elsewhere, JSON.stringify(shredRecs)).toBeDefined();
      expect(elsewhere!.details).toMatchObject({ keyIds: [newbieKid], shreddedBy: { sessionId: "audit_maintenance" } });
      const report = await verifyAuditLog(dir);
      expect(report.problems).toEqual([]);
    }, 60_000);
  }
});

/** The environment that runs a child under libfaketime with its clock moved by `offset` ("+1d", "-1d"); a machine without it fails the test, saying so (.ci/run installs it). */
function skewedClock(offset: string): NodeJS.ProcessEnv {
  const lib = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"].find((f) => fs.existsSync(f));
  if (lib === undefined) throw new Error("libfaketime is needed: apt-get install -y faketime");
  return { LD_PRELOAD: lib, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: "1" };
}

// The shred and the waiting key are ordered by where the shred's record stands in its chain file
// (the key's mark: the chain files' sizes before any record was made under it), not by clocks.
// Until the shred review of 2026-12-06 the shred record's time (the shredder's clock) was compared
// with the key's creation time (the writer's): a shredder whose clock was behind left the key of
// the subject it shredded stored, and the records held under it readable; one whose clock was
// ahead had an earlier shred taken for one the key waited through, and a later subject's key
// destroyed. The CLI runs under libfaketime.
describe("a subject shredded by another process whose clock differs from the writer's", () => {
  it("sync: a shred a day behind, during the wait, destroys the waiting key; one a day ahead, before the key was made, does not", async (t) => {
    const { projectPath, dir, keyB64, h, pid, store, ids, keyFile } = await childInOutageForCli(t, "sync", false, async (project, kf) => void (await cliShred(project, "newbie2", "an earlier erasure, clock ahead", kf, skewedClock("+1d"))));
    await cliShred(projectPath, "newbie", "erasure during the outage, clock behind", keyFile, skewedClock("-1d"));
    // (the clocks do differ: the shreds' records say so)
    const maintenance = readJsonl(path.join(dir, "audit_events_audit_maintenance.jsonl")).filter((e) => e.eventType === "subject_shredded");
    expect(maintenance.map((e) => Math.round((Date.parse(String(e.timestamp)) - Date.now()) / 86_400_000))).toEqual([1, -1]);
    await liftAndFinish(h, pid);

    const chats = readKind(projectPath, "chat_interaction", "keyheld");
    const kidOf = (id: string): string => (chats.find((r) => r.id === id)!.promptPreview as { kid: string }).kid;
    const [newbieChat] = ids("chat", "newbie");
    const [newbie2Chat] = ids("chat", "newbie2");
    const kids = readKeyStore(store).keys.map((k) => k.kid);
    expect(kids).not.toContain(kidOf(newbieChat!));
    expect(fs.readFileSync(store, "utf8")).not.toMatch(new RegExp(`"kid":"${kidOf(newbieChat!)}","subject"`));
    expect(kids).toContain(kidOf(newbie2Chat!));
    const viewer = new AuditViewer({ auditPath: dir, sessionId: "keyheld", encryptionKey: keyB64 });
    const viewed = new Map((await viewer.getChatInteractions({ limit: 100 })).map((r) => [r.id, r]));
    expect(typeof viewed.get(newbieChat!)!.promptPreview).not.toBe("string");
    expect(viewed.get(newbie2Chat!)!.promptPreview).toBe("newbie2 asks during the outage");
    expect(viewed.get(ids("chat", "newbie")[1]!)!.promptPreview).toBe("newbie asks again");
    expect((await verifyAuditLog(dir)).problems).toEqual([]);
  }, 60_000);
});

// A crash as the writer stores the waiting key of a subject another process shredded meanwhile.
// Until the shred review of 2026-12-06 the key line was stored (appended, synced) and then
// destroyed again (the store rewritten): a crash between the two left the subject's key line in
// the store with no tombstone and no record under it, readable by any keyring and taken by the
// session's next logger as the subject's key. Now the key's material never reaches the store: a
// tombstone of its id is stored instead. The child is killed (SIGKILL, injected by strace
// attached to it) as it enters the first fdatasync of its key store once the disk takes data.
describe("a crash as the waiting key of a subject shredded elsewhere is stored", () => {
  it("sync: SIGKILL at the key store's first sync: no key line of the shredded subject is in the store, and the session resumed verifies", async (t) => {
    const { projectPath, dir, keyB64, h, pid, store, storeBefore, keyFile } = await childInOutageForCli(t, "sync", false);
    await cliShred(projectPath, "newbie", "erasure during the outage", keyFile);
    const st = spawn("strace", ["-f", "-p", pid, "-P", store, "-e", "trace=fdatasync", "-e", "inject=fdatasync:signal=KILL", "-o", path.join(projectPath, "strace.txt")], { stdio: ["ignore", "ignore", "pipe"] });
    t.onTestFinished(() => void st.kill("SIGKILL"));
    let stErr = "";
    const straceEnded = new Promise<number | null>((r) => st.on("close", r));
    await new Promise<void>((resolve, reject) => {
      st.on("error", (e) => reject(new Error(`strace is needed: apt-get install -y strace (${e.message})`)));
      st.stderr.setEncoding("utf8").on("data", (d: string) => {
        stErr += d;
        if (/attached/.test(stErr)) resolve();
      });
      void straceEnded.then(() => reject(new Error(`strace ended: ${stErr}`)));
    });
    execFileSync("prlimit", ["--pid", pid, "--fsize=unlimited:unlimited"]);
    h.child.kill("SIGUSR1");
    const exit = await h.exited;
    expect(exit.signal, h.lines.join("\n")).toBe("SIGKILL");
    await straceEnded;
    // the store: what it held, then one line for the shredded subject's key, holding no key
    const after = fs.readFileSync(store);
    expect(after.subarray(0, storeBefore.length)).toEqual(storeBefore);
    const tag = subjectTag(makeEncryptionKey(Buffer.from(keyB64, "base64")), "user\0newbie");
    const { keys, tombstones } = readKeyStore(store);
    expect(keys.filter((k) => k.subject === tag)).toEqual([]);
    expect(tombstones).toHaveLength(1);
    expect(after.subarray(storeBefore.length).toString("utf8")).toBe(`${JSON.stringify({ kid: tombstones[0]!.kid, shreddedAt: tombstones[0]!.shreddedAt })}\n`);

    // the session resumed: the subject's next record gets a key of its own, and the directory verifies
    const resumed = new AuditLogger({ sessionId: "keyheld", projectPath, durability: "sync", fullContentLogging: false, encryptSensitiveContent: true, encryptionKey: keyB64 });
    const again = resumed.logChatInteraction({ model: "m", prompt: "newbie asks after the crash", response: "r", userId: "newbie" });
    await resumed.finalizeSession();
    const rec = readKind(projectPath, "chat_interaction", "keyheld").find((r) => r.id === again)!;
    expect((rec.promptPreview as { kid: string }).kid).not.toBe(tombstones[0]!.kid);
    const viewer = new AuditViewer({ auditPath: dir, sessionId: "keyheld", encryptionKey: keyB64 });
    const viewed = new Map((await viewer.getChatInteractions({ limit: 100 })).map((r) => [r.id, r]));
    expect(viewed.get(again)!.promptPreview).toBe("newbie asks after the crash");
    expect((await verifyAuditLog(dir)).problems).toEqual([]);
  }, 60_000);
});

// The same, the shred made by a running app's logger (shredSubject) in async mode: its
// subject_shredded record waits in its memory for the flush interval after the stores were
// rewritten. Until the review of 2026-12-06 the writer whose key waited stored it in that window,
// found no shred record on disk, and kept the key: the records held under it were readable,
// though the subject had been shredded. Now a shred writes its record out before it lets go of
// the directory's shred lock, and a waiting key is stored and checked under that lock.
describe("a subject shredded by a running app's logger while another's new data key waits for the disk", () => {
  it("sync child, async shredder: the key stored after the shred is destroyed, the records held under it unreadable", async (t) => {
    const { projectPath, dir, keyB64, h, pid, store, ids } = await childInOutage(t, "sync", false);
    const [newbieChat] = ids("chat", "newbie");
    const shredder = new AuditLogger({ sessionId: "shredder", projectPath, durability: "async", flushIntervalMs: 60_000, fullContentLogging: false, encryptSensitiveContent: true, encryptionKey: keyB64 });
    try {
      expect(shredder.shredSubject("newbie", "erasure during the outage")).toEqual([]);
      await liftAndFinish(h, pid);
    } finally {
      await shredder.finalizeSession();
    }
    const chats = readKind(projectPath, "chat_interaction", "keyheld");
    const newbieKid = (chats.find((r) => r.id === newbieChat)!.promptPreview as { kid: string }).kid;
    expect(readKeyStore(store).keys.map((k) => k.kid)).not.toContain(newbieKid);
    const viewer = new AuditViewer({ auditPath: dir, sessionId: "keyheld", encryptionKey: keyB64 });
    const viewed = new Map((await viewer.getChatInteractions({ limit: 100 })).map((r) => [r.id, r]));
    expect(viewed.get(newbieChat!)!.promptPreview).not.toBe("newbie asks during the outage");
    const report = await verifyAuditLog(dir);
    expect(report.problems).toEqual([]);
  }, 60_000);
});

/**
 * Starts key-exit-shred-child.mts and brings on its outage (its file-size limit a little past its
 * key store, see childInOutage): it has logged a chat for "newbie", whose new key waits.
 */
async function exitChildInOutage(t: TestContext, durability: Durability, thread = false, limit?: number) {
  const projectPath = tmpProject();
  const keyB64 = randomBytes(32).toString("base64");
  const h = startOwnFixture(t, "key-exit-shred-child.mts", [projectPath, durability, keyB64, ...(thread ? ["thread"] : [])]);
  const [, pid, size] = (await h.waitForLine((l) => l.startsWith("ready "), "ready")).split(" ");
  execFileSync("prlimit", ["--pid", pid!, `--fsize=${limit ?? Number(size) + 50}:unlimited`]);
  h.child.kill("SIGUSR1");
  await h.waitForLine((l) => l === "outage", "outage");
  const newbieChat = h.lines.find((l) => l.startsWith("chat newbie "))!.split(" ")[2]!;
  return { projectPath, dir: auditDirOf(projectPath), keyB64, h, pid: pid!, newbieChat };
}

// A process that exits while its new data key waits for the disk stores it in its exit hook, under
// the directory's shred lock (see SubjectKeys.storePending). Until the review of 2026-12-06 a
// lock another process held (its shred under way) was a refusal at once there too: the key was
// not stored and the records held under it were lost with the process (their count on stderr).
// Now, as the logger ends, it waits for that lock as a shred does (a few seconds at most).
describe("a new data key waiting for the disk as the process exits while another process shreds", () => {
  for (const durability of ["sync", "async"] as const) {
    it(`${durability}: the exit hook waits for the shred lock, stores the key, and writes the record held under it`, async (t) => {
      const { projectPath, dir, keyB64, h, pid, newbieChat } = await exitChildInOutage(t, durability);
      // (another process's shred under way: its lock, held by this test's process)
      // (waiting for it: the child, in its outage, takes it for a moment at each try to store its
      // key; refused at once, the test failed in CI when it fell in one of those moments)
      const release = takeDirLock(path.join(dir, SHRED_LOCK), "test", { waitMs: 10_000, staleMs: 60_000 });
      try {
        execFileSync("prlimit", ["--pid", pid, "--fsize=unlimited:unlimited"]);
        h.child.kill("SIGUSR1");
        await h.waitForLine((l) => l === "exiting", "exiting");
        // (the shred ends a moment after the child began its exit)
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        release();
      }
      const exit = await h.exited;
      expect(exit.code, exit.stderr).toBe(0);
      const chats = readKind(projectPath, "chat_interaction", "keyexit");
      const rec = chats.find((r) => r.id === newbieChat);
      expect(rec, exit.stderr).toBeDefined();
      const viewer = new AuditViewer({ auditPath: dir, sessionId: "keyexit", encryptionKey: keyB64 });
      const viewed = new Map((await viewer.getChatInteractions({ limit: 100 })).map((r) => [r.id, r]));
      expect(viewed.get(newbieChat)!.promptPreview).toBe("newbie asks during the outage");
      expect((await verifyAuditLog(dir)).problems).toEqual([]);
    }, 60_000);
  }
});

// The same, the other process's shred still holding the lock when the child's wait for it ends.
// Until the shred review of 2026-12-06 the exit hook waited 10 s at each try (once, then once for
// each kind whose records waited: 20 s with one, the rest of its writing after), and said so on
// stderr only, as if the keys would be stored at the next write-out. Now it waits once, a bounded
// while, and an `error` event names what is not written, as its stderr line does. With `thread:
// true` that event, the worker's, never reached the app's listener (posted as the process ended,
// never delivered) until the exit hook handed the worker's events over (ThreadLink.drainEvents).
describe("a new data key waiting for the disk as the process exits while another process's shred holds the lock throughout", () => {
  for (const { durability, thread } of [{ durability: "sync", thread: false }, { durability: "async", thread: true }] as const) {
    it(`${durability}${thread ? ", thread: true" : ""}: the exit hook gives up, an error event on the app's thread names the key lines and the records held under them, stderr says they were not written, and what else it held is written`, async (t) => {
      const { projectPath, dir, h, pid, newbieChat } = await exitChildInOutage(t, durability, thread);
      // (waiting for it: the child, in its outage, takes it for a moment at each try to store its
      // key; refused at once, the test failed in CI when it fell in one of those moments)
      const release = takeDirLock(path.join(dir, SHRED_LOCK), "test", { waitMs: 10_000, staleMs: 60_000 });
      let exit: Awaited<typeof h.exited>;
      try {
        execFileSync("prlimit", ["--pid", pid!, "--fsize=unlimited:unlimited"]);
        h.child.kill("SIGUSR1");
        exit = await h.exited;
      } finally {
        release();
      }
      expect(exit.code, exit.stderr).toBe(0);
      const lost = h.lines.filter((l) => l.startsWith("error session keyexit: the new data keys waiting for the disk were not stored as the process ended"));
      expect(lost, h.lines.join("\n")).toHaveLength(1);
      expect(lost[0]).toContain("the chat_interaction records held under them and the full content of 1 interaction(s) are not written");
      expect(lost[0]).toContain(`another crypto-shredding held ${path.join(dir, SHRED_LOCK)} past the 3 s a logger waits for it as it ends`);
      expect(exit.stderr).toMatch(/could not write everything as the process ended: session keyexit: chat_interaction records and the full content of 1 interaction\(s\) not written/);
      expect(exit.stderr).not.toContain("tried again at the next write-out");
      // not written, and nothing under its key on disk; u0's record (before the outage) is, and the session's end
      const chats = readKind(projectPath, "chat_interaction", "keyexit");
      expect(chats.map((r) => r.id)).not.toContain(newbieChat);
      expect(chats).toHaveLength(1);
      expect(filesContaining(projectPath, newbieChat).filter((f) => fs.statSync(path.join(dir, f)).size > 0 && !f.startsWith("errors_"))).toEqual([]);
      expect(JSON.parse(fs.readFileSync(path.join(dir, "session_keyexit.json"), "utf8"))).toMatchObject({ status: "interrupted" });
    }, 60_000);
  }
});

// The disk refusing the shred lock file itself (its body written past the file-size limit: EFBIG;
// ENOSPC or EDQUOT alike) as the waiting keys are to be stored under it. Until 2026-12-06 every
// failure to take that lock was reported as "another crypto-shredding holds …", sending the
// operator after a shred that did not exist; now the report names the disk's error, and says the
// keys wait for the disk.
describe("a new data key waiting for the disk while the disk refuses the shred lock file too", () => {
  it("sync: the error event names the disk's error and that the keys wait for the disk, not a shred; once the disk takes data the key and the record are written", async (t) => {
    // (a limit of 10 bytes: the key line and the shred lock's body are both refused)
    const { dir, keyB64, h, pid, newbieChat } = await exitChildInOutage(t, "sync", false, 10);
    const waiting = h.lines.filter((l) => l.startsWith("error Writing chat_interaction records") && l.includes("the new data keys of records waiting in memory could not be stored"));
    expect(waiting.length, h.lines.join("\n")).toBeGreaterThan(0);
    for (const l of waiting) {
      expect(l).not.toContain("crypto-shredding");
      expect(l).toContain(`1 new data key line(s) wait for the disk: the shred lock ${path.join(dir, SHRED_LOCK)} could not be written (EFBIG: file too large`);
    }
    expect(fs.existsSync(path.join(dir, SHRED_LOCK))).toBe(false);
    execFileSync("prlimit", ["--pid", pid, "--fsize=unlimited:unlimited"]);
    h.child.kill("SIGUSR1");
    const exit = await h.exited;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toBe("");
    const viewer = new AuditViewer({ auditPath: dir, sessionId: "keyexit", encryptionKey: keyB64 });
    const viewed = new Map((await viewer.getChatInteractions({ limit: 100 })).map((r) => [r.id, r]));
    expect(viewed.get(newbieChat)!.promptPreview).toBe("newbie asks during the outage");
    expect((await verifyAuditLog(dir)).problems).toEqual([]);
  }, 60_000);

  it("sync: the process exits with the disk still refusing: the exit hook's error event and stderr name the disk's error, not a shred", async (t) => {
    const { projectPath, dir, h, newbieChat } = await exitChildInOutage(t, "sync", false, 10);
    h.child.kill("SIGUSR1");
    const exit = await h.exited;
    expect(exit.code, exit.stderr).toBe(0);
    const lost = h.lines.filter((l) => l.startsWith("error session keyexit: the new data keys waiting for the disk were not stored as the process ended"));
    expect(lost, h.lines.join("\n")).toHaveLength(1);
    expect(lost[0]).toContain(`1 new data key line(s) not stored as the logger ended: the shred lock ${path.join(dir, SHRED_LOCK)} could not be written (EFBIG: file too large`);
    expect(lost[0]).not.toContain("crypto-shredding");
    expect(exit.stderr).toMatch(/could not write everything as the process ended: session keyexit: chat_interaction\b.* not written/);
    expect(exit.stderr).not.toContain("crypto-shredding");
    expect(filesContaining(projectPath, newbieChat).filter((f) => fs.statSync(path.join(dir, f)).size > 0 && !f.startsWith("errors_"))).toEqual([]);
  }, 60_000);
});
