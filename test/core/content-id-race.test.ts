// An explicit chat id is checked against the content files at the call; the files are written
// later (in `async`/`fsync` mode by the content-writer thread, after the tick), so two loggers,
// or two processes, on one audit directory could both pass the check with the same id: both
// records were kept, both named the same content files, and the second writer's files were
// refused as existing (an `error` event), its record verified as content_mismatch for good; in
// `sync` mode a second prompt that began with the first's completed the first's file to its own
// bytes, breaking the first record. Found by the durability pass, 2026-12-06. The id is now
// claimed at the call by creating its manifest exclusively (`wx`): the second call is refused
// with the documented duplicate-id error, and nothing else is written for it.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog, type Durability } from "../../src/index.js";
import { stopContentThread } from "../../src/sink/content-thread.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";
import { auditDirOf, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

const DURABILITIES: readonly Durability[] = ["async", "sync", "fsync"];

function chatIds(projectPath: string, sessionId: string): string[] {
  const file = path.join(auditDirOf(projectPath), `chat_interactions_${sessionId}.jsonl`);
  return fs.existsSync(file) ? readJsonl<{ id: string }>(file).map((r) => r.id) : [];
}

function promptOf(projectPath: string, id: string): string {
  return fs.readFileSync(path.join(auditDirOf(projectPath), "full_interactions", `prompt_${id}.txt`), "utf8");
}

describe("two loggers on one audit directory, the same explicit chat id in one tick", () => {
  for (const durability of DURABILITIES) {
    it(`${durability}: the second call is refused with AUDIT_ERR_VALIDATION naming id; the first's record and files stand, and the directory verifies`, async () => {
      const projectPath = tmpProject();
      const a = new AuditLogger({ sessionId: "race_a", projectPath, durability, fullContentLogging: true });
      const b = new AuditLogger({ sessionId: "race_b", projectPath, durability, fullContentLogging: true });
      const errors: Error[] = [];
      a.on("error", (e) => errors.push(e));
      b.on("error", (e) => errors.push(e));
      expect(a.logChatInteraction({ id: "shared-1", prompt: "from a", response: "ra" })).toBe("shared-1");
      // (a prompt the first's begins: `sync` mode completed the first's file to these bytes)
      expect(() => b.logChatInteraction({ id: "shared-1", prompt: "from a, and more from b", response: "rb" })).toThrow(
        expect.objectContaining({ code: "AUDIT_ERR_VALIDATION", method: "logChatInteraction", issues: [expect.objectContaining({ field: "id" })] }),
      );
      // the logger that was refused goes on as before
      expect(b.logChatInteraction({ id: "shared-2", prompt: "from b", response: "rb" })).toBe("shared-2");
      await a.finalizeSession();
      await b.finalizeSession();
      expect(errors.map((e) => e.message)).toEqual([]);
      expect(chatIds(projectPath, "race_a")).toEqual(["shared-1"]);
      expect(chatIds(projectPath, "race_b")).toEqual(["shared-2"]);
      expect(promptOf(projectPath, "shared-1")).toBe("from a");
      expect(promptOf(projectPath, "shared-2")).toBe("from b");
      const report = await verifyAuditLog(auditDirOf(projectPath));
      expect(report.problems).toEqual([]);
    });
  }
});

describe("two processes logging chats with the same explicit ids at once", () => {
  for (const durability of DURABILITIES) {
    it(`${durability}: each id is kept by exactly one of them, the other refused at the call; every content file is its record's, and the directory verifies`, async () => {
      const projectPath = tmpProject();
      const count = 300;
      const hs = ["a", "b"].map((tag) => startFixture("content-id-race-child.mts", {}, [projectPath, `race_${tag}`, durability, tag, String(count)]));
      children.push(...hs);
      for (const h of hs) await h.waitForLine((l) => l === "ready", "ready");
      for (const h of hs) h.child.kill("SIGUSR1");
      const outcome = await Promise.all(
        hs.map(async (h) => {
          const list = async (what: string): Promise<string[]> => (await h.waitForLine((l) => l.startsWith(`${what} `) || l === what, what)).slice(what.length + 1).split(",").filter(Boolean);
          const kept = await list("logged");
          const refused = await list("refused");
          const done = await h.waitForLine((l) => l.startsWith("done "), "done");
          const exit = await h.exited;
          expect(exit.code, exit.stderr).toBe(0);
          return { kept, refused, done };
        }),
      );
      const [a, b] = outcome as [(typeof outcome)[0], (typeof outcome)[0]];
      console.log(`${durability}: a kept ${a.kept.length}, refused ${a.refused.length}; b kept ${b.kept.length}, refused ${b.refused.length}`);
      // no write failed (a second writer's files were refused as existing: EEXIST)
      expect(a.done).toBe("done 0 ");
      expect(b.done).toBe("done 0 ");
      // each id kept once: by one process, refused by the other
      const all = Array.from({ length: count }, (_, i) => `race-${i}`);
      expect([...a.kept, ...b.kept].sort()).toEqual([...all].sort());
      expect(new Set(a.refused)).toEqual(new Set(b.kept));
      expect(new Set(b.refused)).toEqual(new Set(a.kept));
      // the records on disk are the calls kept, and each content file is its own record's
      expect(chatIds(projectPath, "race_a")).toEqual(a.kept);
      expect(chatIds(projectPath, "race_b")).toEqual(b.kept);
      for (const [tag, kept] of [["a", a.kept], ["b", b.kept]] as const) for (const id of kept) expect(promptOf(projectPath, id).startsWith(`${tag} ${id.slice(5)} `), id).toBe(true);
      const report = await verifyAuditLog(auditDirOf(projectPath));
      expect(report.problems).toEqual([]);
    }, 120_000);
  }
});

describe("thread: true, two loggers with the same explicit chat ids in one tick", () => {
  it("the calls pass the app threads' checks (nothing on disk yet); each id is kept by one worker, the other's claim refuses it (an error event naming the id, no record); every content file is its record's, and the directory verifies", async () => {
    const projectPath = tmpProject();
    const loggers = { a: new AuditLogger({ sessionId: "race_ta", projectPath, thread: true, fullContentLogging: true }), b: new AuditLogger({ sessionId: "race_tb", projectPath, thread: true, fullContentLogging: true }) };
    const errors: Record<"a" | "b", string[]> = { a: [], b: [] };
    loggers.a.on("error", (e) => errors.a.push(e.message));
    loggers.b.on("error", (e) => errors.b.push(e.message));
    loggers.a.logChatInteraction({ id: "shared-t", prompt: "from a", response: "ra" });
    await loggers.a.flush();
    // (a's files are there now: b's own check refuses at the call, as documented)
    expect(() => loggers.b.logChatInteraction({ id: "shared-t", prompt: "from b", response: "rb" })).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION" }));
    const ids = Array.from({ length: 100 }, (_, i) => `shared-${i}`);
    for (const id of ids) for (const tag of ["a", "b"] as const) loggers[tag].logChatInteraction({ id, prompt: `from ${tag}`, response: "r" });
    // (both queues to their workers at once)
    await Promise.all([loggers.a.flush(), loggers.b.flush()]);
    await loggers.a.finalizeSession();
    await loggers.b.finalizeSession();
    const kept = { a: chatIds(projectPath, "race_ta").filter((id) => id !== "shared-t"), b: chatIds(projectPath, "race_tb") };
    console.log(`thread: a kept ${kept.a.length}, b kept ${kept.b.length}`);
    expect([...kept.a, ...kept.b].sort()).toEqual([...ids].sort());
    for (const tag of ["a", "b"] as const) {
      for (const id of kept[tag]) expect(promptOf(projectPath, id), id).toBe(`from ${tag}`);
      const other = tag === "a" ? kept.b : kept.a;
      // each id the other kept is one error event here
      expect(errors[tag].filter((m) => /already has content files/.test(m)).length).toBe(other.length);
      expect(errors[tag].filter((m) => !/already has content files/.test(m))).toEqual([]);
    }
    const report = await verifyAuditLog(auditDirOf(projectPath));
    expect(report.problems).toEqual([]);
  });
});

describe("a claimed id's files written through libuv's thread pool (the content-writer thread gone)", () => {
  it("async: the claimed manifest is written into, the files are the record's, and the directory verifies", async () => {
    const projectPath = tmpProject();
    await stopContentThread();
    const l = new AuditLogger({ sessionId: "claim_pool", projectPath, fullContentLogging: true });
    const errors: Error[] = [];
    l.on("error", (e) => errors.push(e));
    l.logChatInteraction({ id: "pool-1", prompt: "p", response: "r" });
    await l.finalizeSession();
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(promptOf(projectPath, "pool-1")).toBe("p");
    expect(JSON.parse(fs.readFileSync(path.join(auditDirOf(projectPath), "full_interactions", "manifest_pool-1.json"), "utf8"))).toMatchObject({ interactionId: "pool-1" });
    const report = await verifyAuditLog(auditDirOf(projectPath));
    expect(report.problems).toEqual([]);
  });
});

// A process killed between an explicit id's claim (its empty manifest) and the content write left
// the id refused for good: the app's retry of the same interaction after a restart threw
// AUDIT_ERR_VALIDATION at the log call (found by review, 2026-12-06). A claim made before this
// process began (or over a minute ago) and still empty is a dead writer's, and is taken over.
describe("an explicit id whose claim a killed process left", () => {
  for (const thread of [false, true]) {
    it(`${thread ? "thread: true" : "async"}: a retry of the id in a new process is logged, its files written into the claim, and the directory verifies; a claim made since this process began is still refused`, async () => {
      const projectPath = tmpProject();
      // the killed process's claim: a real child that claims the id with its content files
      // refused (a file-size limit of 0: the manifest is created, nothing is written into it) and
      // is SIGKILLed before the record or the content reach the disk
      const h = startFixture("claim-killed-child.mts", {}, [projectPath]);
      children.push(h);
      await h.waitForLine((l) => l === "claimed", "claimed");
      h.child.kill("SIGKILL");
      await h.exited;
      const manifest = path.join(auditDirOf(projectPath), "full_interactions", "manifest_retry-1.json");
      expect(fs.statSync(manifest).size).toBe(0);
      expect(chatIds(projectPath, "killed")).toEqual([]);
      // (this test's process began before the child made the claim: the claim is dated back, as a
      // restarted app's process begins after its predecessor's claims)
      const old = new Date(Date.now() - 120_000);
      fs.utimesSync(manifest, old, old);
      const l = new AuditLogger({ sessionId: "retry", projectPath, durability: "async", fullContentLogging: true, thread });
      const errors: Error[] = [];
      l.on("error", (e) => errors.push(e));
      expect(l.logChatInteraction({ id: "retry-1", prompt: "asked again", response: "answered" })).toBe("retry-1");
      // a claim another live writer made just now is a duplicate, as before
      const fresh = path.join(auditDirOf(projectPath), "full_interactions", "manifest_live-1.json");
      fs.writeFileSync(fresh, "");
      expect(() => l.logChatInteraction({ id: "live-1", prompt: "p", response: "r" })).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION" }));
      fs.rmSync(fresh);
      // and this logger's own id, logged twice, is refused
      expect(() => l.logChatInteraction({ id: "retry-1", prompt: "again", response: "r" })).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION" }));
      await l.finalizeSession();
      expect(errors.map((e) => e.message)).toEqual([]);
      expect(chatIds(projectPath, "retry")).toEqual(["retry-1"]);
      expect(promptOf(projectPath, "retry-1")).toBe("asked again");
      expect(fs.statSync(manifest).size).toBeGreaterThan(0);
      const report = await verifyAuditLog(auditDirOf(projectPath), { sessionId: "retry" });
      expect(report.problems).toEqual([]);
    }, 60_000);
  }
});
