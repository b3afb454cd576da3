// An explicit chat id's claim (its manifest created empty at the call) was taken over by the next
// call with that id once it was a minute old, and removed by a cleanup once it was older than
// every live writer's lock: also the claim of a writer that is alive but could not write its
// content files for that long (a content-disk outage), so two writers wrote the id. Found by
// review, 2026-12-06. A claim now names its owner (an owner file beside the manifest: host, pid,
// kernel start, nonce) and is taken over only when that owner is provably gone; another host's
// owner, and a claim an older version made (no owner file), are judged by their age, as before.
// Real child processes: a live writer whose claim is dated back (fs.utimes), a SIGKILLed one.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { cleanupSessions } from "../../src/retention.js";
import { abandonedClaims, removeAbandonedClaim } from "../../src/sink/content.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";
import { auditDirOf, claimingChild, dateBack, deadPid, killChildren, nameOf, startFixture, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

const MIN = 60_000;

const manifestOf = (projectPath: string, id: string): string => path.join(auditDirOf(projectPath), "full_interactions", `manifest_${id}.json`);

/** The ids of the chat records of session `sessionId`. */
function chatIds(projectPath: string, sessionId: string): string[] {
  const file = path.join(auditDirOf(projectPath), `chat_interactions_${sessionId}.jsonl`);
  return fs.existsSync(file) ? readJsonl<{ id: string }>(file).map((r) => r.id) : [];
}

const refused = expect.objectContaining({ code: "AUDIT_ERR_VALIDATION" });

describe("an explicit id's claim names its owner", () => {
  it("a live writer's claim, untouched for 5 minutes, is neither taken over nor removed by a cleanup; once the writer is SIGKILLed, it is taken over at once", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const h = await claimingChild(children, projectPath, "stalled", "live-1");
    const manifest = manifestOf(projectPath, "live-1");
    // a writer whose content files the disk has refused for 5 minutes: nothing touched its claim since
    dateBack(manifest, 5 * MIN);
    if (fs.existsSync(`${manifest}.claim`)) dateBack(`${manifest}.claim`, 5 * MIN);
    expect(fs.statSync(manifest).size).toBe(0);

    const l = new AuditLogger({ sessionId: "taker", projectPath, durability: "async", fullContentLogging: true });
    const errors: string[] = [];
    l.on("error", (e) => errors.push(e.message));
    expect(() => l.logChatInteraction({ id: "live-1", prompt: "mine now?", response: "no" })).toThrow(refused);
    // a cleanup (this logger's lock is younger than the claim) leaves it too
    const cleaned = cleanupSessions(dir, { maxLogAgeDays: 1 });
    expect(cleaned.abandonedClaims).toEqual([]);
    expect(fs.statSync(manifest).size).toBe(0);
    // (the live writer's owner file names it)
    const owner = JSON.parse(fs.readFileSync(`${manifest}.claim`, "utf8")) as Record<string, unknown>;
    expect(owner).toMatchObject({ pid: h.child.pid, hostname: os.hostname() });
    expect(typeof owner.nonce).toBe("string");

    h.child.kill("SIGKILL");
    await h.exited;
    // its owner provably gone: taken over now, however young (a claim of the last minute is no longer needed to wait)
    fs.utimesSync(manifest, new Date(), new Date());
    expect(l.logChatInteraction({ id: "live-1", prompt: "mine now", response: "yes" })).toBe("live-1");
    await l.finalizeSession();
    expect(errors).toEqual([]);
    expect(chatIds(projectPath, "taker")).toEqual(["live-1"]);
    expect(JSON.parse(fs.readFileSync(manifest, "utf8"))).toMatchObject({ interactionId: "live-1", sessionId: "taker" });
    // the owner file goes once the content is written
    expect(fs.existsSync(`${manifest}.claim`)).toBe(false);
    const report = await verifyAuditLog(dir, { sessionId: "taker" });
    expect(report.problems).toEqual([]);
  }, 60_000);

  it("a SIGKILLed writer's claim, made after this process began and seconds old, is taken over by the next call with the id", async () => {
    const projectPath = tmpProject();
    const h = await claimingChild(children, projectPath, "killed", "retry-2");
    h.child.kill("SIGKILL");
    await h.exited;
    const manifest = manifestOf(projectPath, "retry-2");
    expect(fs.statSync(manifest).size).toBe(0);
    const l = new AuditLogger({ sessionId: "retry", projectPath, durability: "async", fullContentLogging: true });
    const errors: string[] = [];
    l.on("error", (e) => errors.push(e.message));
    expect(l.logChatInteraction({ id: "retry-2", prompt: "asked again", response: "answered" })).toBe("retry-2");
    // now this logger's: refused
    expect(() => l.logChatInteraction({ id: "retry-2", prompt: "again", response: "r" })).toThrow(refused);
    await l.finalizeSession();
    expect(errors).toEqual([]);
    expect(chatIds(projectPath, "retry")).toEqual(["retry-2"]);
    expect(fs.existsSync(`${manifest}.claim`)).toBe(false);
    expect((await verifyAuditLog(auditDirOf(projectPath), { sessionId: "retry" })).problems).toEqual([]);
  }, 60_000);

  it("an owner whose pid is alive but another process's now (another kernel start) is gone; another host's owner, and an owner file naming no one, are judged by their age", async () => {
    const projectPath = tmpProject();
    const h = await claimingChild(children, projectPath, "alive", "unrelated-1");
    const l = new AuditLogger({ sessionId: "taker", projectPath, durability: "async", fullContentLogging: true });
    const errors: string[] = [];
    l.on("error", (e) => errors.push(e.message));
    const claim = (id: string, owner: Record<string, unknown>): string => {
      const manifest = manifestOf(projectPath, id);
      fs.writeFileSync(manifest, "");
      fs.writeFileSync(`${manifest}.claim`, JSON.stringify(owner));
      return manifest;
    };
    // the live child's pid, named with a start it does not have: a claim of an earlier process that had its pid
    const reused = { pid: h.child.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), procStart: "1", nonce: "0123456789abcdef" };
    claim("reused-1", reused);
    if (fs.existsSync(`/proc/${h.child.pid}/stat`)) expect(l.logChatInteraction({ id: "reused-1", prompt: "p", response: "r" })).toBe("reused-1");
    // the same child named with its own start: alive
    const own = JSON.parse(fs.readFileSync(`${manifestOf(projectPath, "unrelated-1")}.claim`, "utf8")) as Record<string, unknown>;
    const live = claim("alive-1", { ...reused, procStart: own.procStart, nonce: "fedcba9876543210" });
    dateBack(live, 5 * MIN);
    dateBack(`${live}.claim`, 5 * MIN);
    expect(() => l.logChatInteraction({ id: "alive-1", prompt: "p", response: "r" })).toThrow(refused);
    // a dead pid, but of another pid namespace (a container given this host's name): not ours to ask, by its age
    const otherNs = claim("other-ns-1", { pid: deadPid(), hostname: os.hostname(), startedAt: new Date().toISOString(), pidNs: "pid:[1]", nonce: "11" });
    expect(() => l.logChatInteraction({ id: "other-ns-1", prompt: "p", response: "r" })).toThrow(refused);
    dateBack(otherNs, 2 * MIN);
    dateBack(`${otherNs}.claim`, 2 * MIN);
    expect(l.logChatInteraction({ id: "other-ns-1", prompt: "p", response: "r" })).toBe("other-ns-1");
    // another host's: refused while its claim is fresh, taken over once over a minute old
    const remote = claim("remote-1", { pid: 1, hostname: `not-${os.hostname()}`, startedAt: new Date().toISOString(), nonce: "00" });
    expect(() => l.logChatInteraction({ id: "remote-1", prompt: "p", response: "r" })).toThrow(refused);
    dateBack(remote, 2 * MIN);
    dateBack(`${remote}.claim`, 2 * MIN);
    expect(l.logChatInteraction({ id: "remote-1", prompt: "p", response: "r" })).toBe("remote-1");
    // an owner file that names no one (being written, or left empty by a process killed at once): by its age too
    const blank = manifestOf(projectPath, "blank-1");
    fs.writeFileSync(blank, "");
    fs.writeFileSync(`${blank}.claim`, "");
    expect(() => l.logChatInteraction({ id: "blank-1", prompt: "p", response: "r" })).toThrow(refused);
    dateBack(`${blank}.claim`, 2 * MIN);
    expect(l.logChatInteraction({ id: "blank-1", prompt: "p", response: "r" })).toBe("blank-1");
    await l.finalizeSession();
    expect(errors).toEqual([]);
    expect(chatIds(projectPath, "taker")).toEqual([...(fs.existsSync(`/proc/${h.child.pid}/stat`) ? ["reused-1"] : []), "other-ns-1", "remote-1", "blank-1"]);
  }, 60_000);

  it("a claim an older version made (an empty manifest, no owner file) is handled as before: refused while fresh, taken over once over a minute old, removed by cleanup once older than every live writer", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    fs.mkdirSync(path.join(dir, "full_interactions"), { recursive: true });
    for (const id of ["old-fresh", "old-stale", "old-gone"]) fs.writeFileSync(manifestOf(projectPath, id), "");
    dateBack(manifestOf(projectPath, "old-stale"), 2 * MIN);
    dateBack(manifestOf(projectPath, "old-gone"), 5 * MIN);
    // no writer lives: the 5-minute-old claim is a dead writer's
    expect(cleanupSessions(dir, { maxLogAgeDays: 1 }).abandonedClaims).toEqual(["full_interactions/manifest_old-gone.json", "full_interactions/manifest_old-stale.json"]);
    expect(fs.existsSync(manifestOf(projectPath, "old-gone"))).toBe(false);
    fs.writeFileSync(manifestOf(projectPath, "old-stale"), "");
    dateBack(manifestOf(projectPath, "old-stale"), 2 * MIN);
    const l = new AuditLogger({ sessionId: "newer", projectPath, durability: "async", fullContentLogging: true });
    const errors: string[] = [];
    l.on("error", (e) => errors.push(e.message));
    expect(() => l.logChatInteraction({ id: "old-fresh", prompt: "p", response: "r" })).toThrow(refused);
    expect(l.logChatInteraction({ id: "old-stale", prompt: "p", response: "r" })).toBe("old-stale");
    await l.finalizeSession();
    expect(errors).toEqual([]);
    expect(chatIds(projectPath, "newer")).toEqual(["old-stale"]);
    expect(fs.statSync(manifestOf(projectPath, "old-fresh")).size).toBe(0);
    expect(fs.existsSync(`${manifestOf(projectPath, "old-stale")}.claim`)).toBe(false);
    expect((await verifyAuditLog(dir, { sessionId: "newer" })).problems).toEqual([]);
  }, 60_000);

  it("cleanup removes the claim, and an owner file left on its own, of a writer SIGKILLed over a minute ago, while another writer lives", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const h = await claimingChild(children, projectPath, "killed", "dead-1");
    h.child.kill("SIGKILL");
    await h.exited;
    const manifest = manifestOf(projectPath, "dead-1");
    dateBack(manifest, 2 * MIN);
    // an owner file whose manifest was written (its writer killed before it removed the file)
    const written = manifestOf(projectPath, "written-1");
    fs.writeFileSync(written, "{}\n");
    fs.copyFileSync(`${manifest}.claim`, `${written}.claim`);
    dateBack(`${written}.claim`, 2 * MIN);
    // a live writer that began before (its lock dated back): its liveness does not keep a provably dead writer's claim
    const live = await claimingChild(children, projectPath, "alive", "alive-2");
    const lock = path.join(dir, ".session_alive.lock");
    dateBack(lock, 10 * MIN);
    const result = cleanupSessions(dir, { maxLogAgeDays: 1 });
    expect(result.abandonedClaims).toEqual(["full_interactions/manifest_dead-1.json", "full_interactions/manifest_written-1.json.claim"]);
    expect(fs.existsSync(manifest)).toBe(false);
    expect(fs.existsSync(`${manifest}.claim`)).toBe(false);
    expect(fs.existsSync(`${written}.claim`)).toBe(false);
    expect(fs.readFileSync(written, "utf8")).toBe("{}\n");
    expect(fs.existsSync(manifestOf(projectPath, "alive-2"))).toBe(true);
    expect(fs.readdirSync(path.join(dir, "full_interactions")).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(live.child.exitCode).toBe(null);
  }, 60_000);
});

// A takeover or a removal of a claim renames the file aside (`….<pid>.<random>.tmp`) to check it
// before the unlink; a process killed in between, or a put-back that failed (a file made under the
// name meanwhile), left it for good. Cleanup now removes it once its process is gone and it was
// renamed over a minute ago (judged as of `now`: the ctime cannot be dated back).
describe("what a claim's takeover or removal set aside", () => {
  it("is removed by cleanup once the process its name names is gone and it is over a minute old; a live process's is kept", () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const content = path.join(dir, "full_interactions");
    fs.mkdirSync(content, { recursive: true });
    const gone = deadPid();
    const names = [`manifest_a-1.json.${nameOf(gone)}.k3x9.tmp`, `manifest_a-2.json.claim.${nameOf(gone)}.q7z1.tmp`, `manifest_a-3.json.${nameOf(process.pid)}.m2p4.tmp`, `prompt_a-4.txt.${nameOf(gone)}.k3x9.tmp`];
    for (const n of names) fs.writeFileSync(path.join(content, n), "");
    // just renamed: none
    expect(abandonedClaims(dir, Date.now(), undefined)).toEqual([]);
    const later = Date.now() + 2 * MIN;
    const listed = abandonedClaims(dir, later, undefined);
    expect(listed).toEqual([`full_interactions/${names[0]}`, `full_interactions/${names[1]}`]);
    for (const rel of listed) expect(removeAbandonedClaim(dir, rel, later, undefined)).toBe(true);
    expect(fs.readdirSync(content).sort()).toEqual([names[2]!, names[3]!].sort());
  });
});

// The outage itself at the claim: the disk makes files but refuses their bytes (RLIMIT_FSIZE 0 in
// a real child). The owner file could not hold its text and was removed: the claim was then
// judged by age only, and a live writer's taken over after a minute. The owner is now named by
// a symbolic link (its target the text: no file data) when the bytes are refused.
describe("a live writer whose disk refuses the owner file's bytes at the claim", () => {
  it("names itself by a symbolic link: its claim, dated back 5 minutes, is not taken over; once it is SIGKILLed, it is", async () => {
    const projectPath = tmpProject();
    const h = startFixture("claim-outage-child.mts", {}, [projectPath, "outage", "outage-1"]);
    children.push(h);
    await h.waitForLine((l) => l === "claimed", "claimed");
    const manifest = manifestOf(projectPath, "outage-1");
    const owner = `${manifest}.claim`;
    // (made at the call when claimed; else by the content write, after the tick: waited for)
    for (let i = 0; i < 400 && !fs.existsSync(manifest); i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.statSync(manifest).size).toBe(0);
    const old = new Date(Date.now() - 5 * MIN);
    fs.utimesSync(manifest, old, old);
    if (fs.lstatSync(owner, { throwIfNoEntry: false })) fs.lutimesSync(owner, old, old);
    const l = new AuditLogger({ sessionId: "taker", projectPath, durability: "async", fullContentLogging: true });
    const errors: string[] = [];
    l.on("error", (e) => errors.push(e.message));
    expect(() => l.logChatInteraction({ id: "outage-1", prompt: "mine now?", response: "no" })).toThrow(refused);
    expect(JSON.parse(fs.readlinkSync(owner)) as Record<string, unknown>).toMatchObject({ pid: h.child.pid, hostname: os.hostname() });
    expect(cleanupSessions(auditDirOf(projectPath), { maxLogAgeDays: 1 }).abandonedClaims).toEqual([]);
    expect(fs.lstatSync(owner).isSymbolicLink()).toBe(true);
    h.child.kill("SIGKILL");
    await h.exited;
    expect(l.logChatInteraction({ id: "outage-1", prompt: "mine now", response: "yes" })).toBe("outage-1");
    await l.finalizeSession();
    expect(errors).toEqual([]);
    expect(chatIds(projectPath, "taker")).toEqual(["outage-1"]);
    expect(fs.lstatSync(owner, { throwIfNoEntry: false })).toBeUndefined();
    expect((await verifyAuditLog(auditDirOf(projectPath), { sessionId: "taker" })).problems).toEqual([]);
  }, 60_000);
});
