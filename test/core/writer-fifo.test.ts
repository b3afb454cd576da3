// The writer side and a FIFO, a directory or a link where the kit reads a file of its own (found
// by review, 2026-12-05). The audit directory is writable by the app's own user; the readers and
// `cleanup` already refused such files (src/regular-file.ts), but the logger and its locks still
// opened them with a plain readFileSync: opening a FIFO waits for a writer, for good, deaf to
// SIGTERM. Each case runs in a child process (test/fixtures/core/writer-fifo-child.mts) that the
// test kills after a while, so a hang fails the test instead of hanging it.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, readJsonl, TEST_KEY, tmpProject } from "../helpers/index.js";
import { leaveLock, mkfifo, runFifoChild as runChild } from "../helpers/core.js";

afterEach(cleanupTmp);

/** A session `sid` with two tool uses, ended; its audit directory. */
async function endedSession(projectPath: string, sid: string): Promise<string> {
  const logger = new AuditLogger({ sessionId: sid, projectPath, fullContentLogging: false });
  logger.logToolUsage({ toolName: "t", operation: "first" });
  logger.logToolUsage({ toolName: "t", operation: "second" });
  await logger.finalizeSession();
  return path.join(projectPath, "audit_logs");
}

/** A new project whose audit directory holds only a FIFO named `name`: the project, the directory, the FIFO. */
function projectWithFifo(name: string): { projectPath: string; dir: string; fifo: string } {
  const projectPath = tmpProject("audit-writer-fifo-");
  const dir = path.join(projectPath, "audit_logs");
  fs.mkdirSync(dir);
  const fifo = path.join(dir, name);
  mkfifo(fifo);
  return { projectPath, dir, fifo };
}

describe("a logger resuming a session whose session file is not a regular file", () => {
  it("a FIFO or a link (to a FIFO, to a file elsewhere) is never opened: taken as an unreadable previous session file and replaced; the session's records are all kept, the chain goes on", async () => {
    const projectPath = tmpProject("audit-writer-fifo-");
    const outside = tmpProject("audit-writer-fifo-outside-");
    const dir = await endedSession(projectPath, "sf");
    await endedSession(projectPath, "sl");
    await endedSession(projectPath, "sr");
    const fifo = path.join(dir, "session_sf.json");
    fs.rmSync(fifo);
    mkfifo(fifo);
    const outsideFifo = path.join(outside, "fifo");
    mkfifo(outsideFifo);
    fs.rmSync(path.join(dir, "session_sl.json"));
    fs.symlinkSync(outsideFifo, path.join(dir, "session_sl.json"));
    // (a link to a file elsewhere: what it holds is not taken for the session's start)
    const elsewhere = path.join(outside, "session.json");
    const planted = JSON.stringify({ sessionId: "sr", startTime: "2001-01-01T00:00:00.000Z" });
    fs.writeFileSync(elsewhere, planted);
    fs.rmSync(path.join(dir, "session_sr.json"));
    fs.symlinkSync(elsewhere, path.join(dir, "session_sr.json"));

    for (const sid of ["sf", "sl", "sr"]) {
      const out = await runChild("logger", [JSON.stringify({ projectPath, sessionId: sid })]);
      if (out === "hung") throw new Error(`resuming ${sid} hung`);
      expect(out, sid).toEqual({ startTime: expect.any(String), errors: [] });
      expect(out.startTime).not.toBe("2001-01-01T00:00:00.000Z");
      const st = fs.lstatSync(path.join(dir, `session_${sid}.json`));
      expect(st.isFile(), sid).toBe(true);
      expect(JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8"))).toMatchObject({ sessionId: sid, status: "finalized" });
      const tools = readJsonl<{ seq: number; operation: string }>(path.join(dir, `tool_usage_${sid}.jsonl`));
      expect(tools.map((r) => [r.seq, r.operation]), sid).toEqual([
        [1, "first"],
        [2, "second"],
        [3, "after the resume"],
      ]);
    }
    // what the links pointed to is as it was
    expect(fs.lstatSync(outsideFifo).isFIFO()).toBe(true);
    expect(fs.readFileSync(elsewhere, "utf8")).toBe(planted);
    expect((await verifyAuditLog(dir)).problems).toEqual([]);
  }, 90_000);

  it("a directory (which no rename replaces) is refused with AUDIT_ERR_PATH naming it; nothing is removed, no lock is left", async () => {
    const projectPath = tmpProject("audit-writer-fifo-dir-");
    const dir = await endedSession(projectPath, "sd");
    const sessionFile = path.join(dir, "session_sd.json");
    fs.rmSync(sessionFile);
    fs.mkdirSync(sessionFile);
    fs.writeFileSync(path.join(sessionFile, "inside"), "x");
    const chain = fs.readFileSync(path.join(dir, "tool_usage_sd.jsonl"));
    const out = await runChild("logger", [JSON.stringify({ projectPath, sessionId: "sd" })]);
    if (out === "hung") throw new Error("resuming sd hung");
    expect(out).toEqual({ error: expect.objectContaining({ name: "NotRegularFileError", code: "AUDIT_ERR_PATH", message: expect.stringContaining("session_sd.json is a directory") }) });
    expect(fs.readFileSync(path.join(sessionFile, "inside"), "utf8")).toBe("x");
    expect(fs.readFileSync(path.join(dir, "tool_usage_sd.jsonl"))).toEqual(chain);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith(".session_sd"))).toEqual([]);
  }, 60_000);
});

describe("the session lock's takeover marker when it is not a regular file", () => {
  const old = (file: string) => {
    const t = (Date.now() - 60_000) / 1000;
    fs.lutimesSync(file, t, t);
  };

  it("an old FIFO, directory or link named `.session_<id>.lock.takeover` is never opened: taken as an unreadable marker, removed, the stale lock taken over", async () => {
    const projectPath = tmpProject("audit-writer-fifo-marker-");
    const dir = path.join(projectPath, "audit_logs");
    fs.mkdirSync(dir);
    const outside = tmpProject("audit-writer-fifo-marker-outside-");
    const outsideFifo = path.join(outside, "fifo");
    mkfifo(outsideFifo);
    const plant: Record<string, (marker: string) => void> = {
      mf: (m) => mkfifo(m),
      md: (m) => fs.mkdirSync(m),
      ml: (m) => fs.symlinkSync(outsideFifo, m),
    };
    for (const [sid, make] of Object.entries(plant)) {
      // a process of this session was killed holding its lock
      leaveLock(dir, sid);
      const marker = path.join(dir, `.session_${sid}.lock.takeover`);
      make(marker);
      old(marker);
      const out = await runChild("logger", [JSON.stringify({ projectPath, sessionId: sid })]);
      if (out === "hung") throw new Error(`taking over ${sid}'s lock hung`);
      expect(out, sid).toEqual({ startTime: expect.any(String), errors: [] });
      expect(readJsonl<{ operation: string }>(path.join(dir, `tool_usage_${sid}.jsonl`)).map((r) => r.operation), sid).toEqual(["after the resume"]);
      // (the marker went; the lock went with the finalized session; nothing set aside is left)
      expect(fs.readdirSync(dir).filter((n) => n.startsWith(`.session_${sid}.`)), sid).toEqual([]);
    }
    expect(fs.lstatSync(outsideFifo).isFIFO()).toBe(true);
  }, 90_000);

  it("a young FIFO there is waited for as a marker being written: the logger is refused (AUDIT_ERR_SESSION_LOCKED) within its 2 s, the FIFO left", async () => {
    const { projectPath, dir, fifo: marker } = projectWithFifo(".session_my.lock.takeover");
    const lock = leaveLock(dir, "my");
    // (young for the whole test, however long the child takes to start under load: dated a
    // minute ahead, it is never 5 s old)
    const ahead = (Date.now() + 60_000) / 1000;
    fs.lutimesSync(marker, ahead, ahead);
    const out = await runChild("logger", [JSON.stringify({ projectPath, sessionId: "my" })]);
    if (out === "hung") throw new Error("taking over my's lock hung");
    expect(out).toEqual({ error: expect.objectContaining({ code: "AUDIT_ERR_SESSION_LOCKED" }) });
    expect(fs.lstatSync(marker).isFIFO()).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual([lock, ".session_my.lock.takeover"]);
  }, 60_000);

  it("removeIfStill, finding a FIFO where the lock it judged was, puts it back unopened (it is not the one judged)", async () => {
    const dir = tmpProject("audit-writer-fifo-aside-");
    const file = path.join(dir, ".session_x.lock");
    mkfifo(file);
    const out = await runChild("remove-if-still", [file, '{"pid":1}', `${file}.stale.1`]);
    if (out === "hung") throw new Error("removeIfStill hung");
    expect(out).toEqual({ done: true });
    expect(fs.lstatSync(file).isFIFO()).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([".session_x.lock"]);
  }, 60_000);
});

describe("a directory lock (.shred.lock, the legal holds' lock) replaced by a FIFO while held", () => {
  it("its release does not open it: it returns, and leaves the FIFO (not its lock)", async () => {
    const dir = tmpProject("audit-writer-fifo-dirlock-");
    const file = path.join(dir, ".shred.lock");
    const out = await runChild("dir-lock", [file]);
    if (out === "hung") throw new Error("releasing the directory lock hung");
    expect(out).toEqual({ released: true });
    expect(fs.lstatSync(file).isFIFO()).toBe(true);
  }, 60_000);
});

describe("a FIFO named like a file the logger appends to", () => {
  it("checkpoints_<id>.jsonl is never opened (the first checkpoint hung the app for good): each checkpoint fails and is reported, the records are written", async () => {
    const { projectPath, dir, fifo } = projectWithFifo("checkpoints_cf.jsonl");
    const out = await runChild("logger", [JSON.stringify({ projectPath, sessionId: "cf", signed: true })]);
    if (out === "hung") throw new Error("a checkpoint hung on the FIFO");
    expect(out.error).toBeUndefined();
    const reports = (out.errors as Array<{ code: string; message: string }>).map((e) => e.message);
    expect(reports.length).toBeGreaterThan(0);
    for (const m of reports) expect(m).toMatch(/^Writing checkpoint failed: checkpoints_cf\.jsonl is a FIFO, not a regular file/);
    expect(readJsonl<{ operation: string }>(path.join(dir, "tool_usage_cf.jsonl")).map((r) => r.operation)).toEqual(["after the resume"]);
    const recorded = readJsonl<{ errorType: string; message: string }>(path.join(dir, "errors_cf.jsonl"));
    expect(recorded).toContainEqual(expect.objectContaining({ errorType: "audit_write_failed", message: expect.stringMatching(/checkpoints_cf\.jsonl is a FIFO/) }));
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
  }, 60_000);
});

describe("crypto-shredding and a FIFO named like a key store or its shredding marker", () => {
  it("another session's key store a FIFO: never opened (the shred hung for good), left; the subject's key is destroyed", async () => {
    const { projectPath, dir, fifo } = projectWithFifo("subject_keys_other.jsonl");
    const out = await runChild("shred", [JSON.stringify({ projectPath, sessionId: "sh", key: TEST_KEY })]);
    if (out === "hung") throw new Error("the shred hung on the FIFO");
    expect(out).toEqual({ destroyed: [expect.any(String)] });
    expect(fs.readFileSync(path.join(dir, "subject_keys_sh.jsonl"), "utf8")).toContain((out.destroyed as string[])[0]);
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
    expect(fs.readdirSync(dir).filter((n) => n.includes(".shredding") || n === ".shred.lock")).toEqual([]);
  }, 60_000);

  it("the shredding marker's name a FIFO: never opened to write (the shred hung for good); the shred is refused with AUDIT_ERR_PATH naming it, the key store as it was", async () => {
    const { projectPath, dir, fifo: marker } = projectWithFifo("subject_keys_sm.jsonl.shredding");
    // (old: a writer appending its key does not wait for it, see waitForShred)
    const old = (Date.now() - 60_000) / 1000;
    fs.lutimesSync(marker, old, old);
    const out = await runChild("shred", [JSON.stringify({ projectPath, sessionId: "sm", key: TEST_KEY })]);
    if (out === "hung") throw new Error("the shred hung on the FIFO");
    expect(out).toEqual({ error: expect.objectContaining({ code: "AUDIT_ERR_PATH", message: expect.stringContaining("subject_keys_sm.jsonl.shredding is a FIFO, not a regular file") }) });
    expect(fs.lstatSync(marker).isFIFO()).toBe(true);
    expect(fs.readFileSync(path.join(dir, "subject_keys_sm.jsonl"), "utf8")).not.toContain("tombstone");
    expect(fs.existsSync(path.join(dir, ".shred.lock"))).toBe(false);
  }, 60_000);
});

// Found 2026-12-05 with the above: the kit writes a file whole beside its place and renames it in
// (`<name>.<pid>.tmp`), opening that name with a plain "w": a name whoever knows the writer's pid
// can take first (a container's app is pid 1). A FIFO there hung the writer for good; a link there
// made it overwrite the file the link named, and renamed the link into the file's place.
describe("a FIFO or a link at the name of a file written whole, then renamed in", () => {
  it("the session file's (`session_<id>.json.<pid>.tmp`, the name before 2026-12-05): never opened nor followed, the file written anew; the link's target untouched", async () => {
    const projectPath = tmpProject("audit-writer-fifo-tmp-");
    const outside = path.join(tmpProject("audit-writer-fifo-tmp-outside-"), "precious.txt");
    fs.writeFileSync(outside, "precious");
    const dir = path.join(projectPath, "audit_logs");
    for (const [sid, link] of [["tf", undefined], ["tl", outside]] as const) {
      const out = await runChild("logger", [JSON.stringify({ projectPath, sessionId: sid, plant: [{ name: `session_${sid}.json.{pid}.tmp`, link }] })]);
      if (out === "hung") throw new Error(`writing ${sid}'s session file hung`);
      expect(out, sid).toEqual({ startTime: expect.any(String), errors: [] });
      expect(fs.lstatSync(path.join(dir, `session_${sid}.json`)).isFile(), sid).toBe(true);
      expect(JSON.parse(fs.readFileSync(path.join(dir, `session_${sid}.json`), "utf8")), sid).toMatchObject({ sessionId: sid, status: "finalized" });
    }
    expect(fs.readFileSync(outside, "utf8")).toBe("precious");
    // (the name written now holds a random part: what was put at the pid-only one is not the
    // writer's, and is left as it was; only it is there, nothing of the writer's own)
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".tmp")).sort()).toEqual([expect.stringMatching(/^session_tf\.json\.\d+\.tmp$/), expect.stringMatching(/^session_tl\.json\.\d+\.tmp$/)]);
    expect(fs.lstatSync(fs.readdirSync(dir).map((n) => path.join(dir, n)).find((n) => /session_tl\.json\.\d+\.tmp$/.test(n))!).isSymbolicLink()).toBe(true);
  }, 60_000);

  it("the legal holds file's (`legal_holds.json.<pid>.tmp`): the hold is written", async () => {
    const projectPath = tmpProject("audit-writer-fifo-tmp-holds-");
    const out = await runChild("logger", [JSON.stringify({ projectPath, sessionId: "th", hold: true, plant: [{ name: "legal_holds.json.{pid}.tmp" }] })]);
    if (out === "hung") throw new Error("placing the hold hung");
    expect(out).toEqual({ startTime: expect.any(String), errors: [] });
    const file = path.join(projectPath, "audit_logs", "legal_holds.json");
    expect(fs.lstatSync(file).isFile()).toBe(true);
    expect(fs.readFileSync(file, "utf8")).toContain("case 1");
  }, 60_000);

  it("a key store's rewrite (`subject_keys_<id>.jsonl.<pid>.<n>.tmp`): the subject's key is destroyed", async () => {
    const projectPath = tmpProject("audit-writer-fifo-tmp-keys-");
    const out = await runChild("shred", [JSON.stringify({ projectPath, sessionId: "tk", key: TEST_KEY, plant: [{ name: "subject_keys_tk.jsonl.{pid}.0.tmp" }] })]);
    if (out === "hung") throw new Error("the shred hung");
    expect(out).toEqual({ destroyed: [expect.any(String)] });
    const store = path.join(projectPath, "audit_logs", "subject_keys_tk.jsonl");
    expect(fs.lstatSync(store).isFile()).toBe(true);
    expect(fs.readFileSync(store, "utf8")).toContain((out.destroyed as string[])[0]);
  }, 60_000);
});

// Found with the above (2026-12-05): a directory at such a name failed the writer with an uncoded
// ERR_FS_EISDIR (from the removal of what was there, and again from the cleanup after the failure);
// then it was refused with AUDIT_ERR_PATH, for good, as the name was the pid's alone. Since the
// operator pass (2026-12-05) the name holds a random part too: nothing put there in advance is met.
describe("the name of a file written whole, then renamed in (`<file>.<pid>.<random>.tmp`)", () => {
  it("a directory at the pid-only name no longer stops the logger: it starts, writes its session file, and leaves the directory alone", async () => {
    const projectPath = tmpProject("audit-writer-dir-tmp-");
    const dir = path.join(projectPath, "audit_logs");
    const tmp = path.join(dir, `session_td.json.${process.pid}.tmp`);
    fs.mkdirSync(tmp, { recursive: true });
    const logger = new AuditLogger({ sessionId: "td", projectPath, fullContentLogging: false });
    await logger.finalizeSession();
    expect(JSON.parse(fs.readFileSync(path.join(dir, "session_td.json"), "utf8"))).toMatchObject({ sessionId: "td" });
    expect(fs.statSync(tmp).isDirectory()).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([path.basename(tmp)]);
  });

  it("another process writing a file of that name with this pid (a process of another host sharing the directory, both pid 1 in their containers) keeps its file: it is not removed under it", async () => {
    const projectPath = tmpProject("audit-writer-same-pid-");
    const dir = path.join(projectPath, "audit_logs");
    fs.mkdirSync(dir, { recursive: true });
    const theirs = path.join(dir, `session_sp.json.${process.pid}.tmp`);
    // the other process: opens its file, writes half, waits for "go", writes the rest, renames it in
    const src = `const fs=require("fs");const fd=fs.openSync(${JSON.stringify(theirs)},"wx");fs.writeSync(fd,'{"sessionId":"sp",');console.log("half");process.stdin.once("data",()=>{fs.writeSync(fd,'"from":"other"}');fs.closeSync(fd);try{fs.renameSync(${JSON.stringify(theirs)},${JSON.stringify(path.join(dir, "other.json"))});console.log("renamed")}catch(e){console.log(e.code)}})`;
    const child = spawn(process.execPath, ["-e", src], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout!.setEncoding("utf8");
    await new Promise<void>((r) => child.stdout!.on("data", (c: string) => ((out += c), out.includes("half") && r())));
    const logger = new AuditLogger({ sessionId: "sp", projectPath, fullContentLogging: false });
    await logger.finalizeSession();
    child.stdin!.end("go\n");
    await new Promise((r) => child.on("close", r));
    expect(out.trim().split("\n")).toEqual(["half", "renamed"]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, "other.json"), "utf8"))).toEqual({ sessionId: "sp", from: "other" });
    expect(JSON.parse(fs.readFileSync(path.join(dir, "session_sp.json"), "utf8"))).toMatchObject({ sessionId: "sp" });
  });
});

// Re-read of the change (2026-12-05): the directory check was the constructor's only; a directory
// put at the session file's name while the session ran failed finalizeSession() with the rename's
// bare EISDIR as the reason. The check is now in the one replace-whole write every such file uses.
describe("a directory put at the session file's name while the session runs", () => {
  it("finalizeSession() rejects (AUDIT_ERR_IO, as for any failed session file write) saying it is a directory; once it is removed, a second call finalizes", async () => {
    const projectPath = tmpProject("audit-writer-dir-final-");
    const logger = new AuditLogger({ sessionId: "tdf", projectPath, fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    const file = path.join(logger.auditDir, "session_tdf.json");
    fs.rmSync(file);
    fs.mkdirSync(file);
    await expect(logger.finalizeSession()).rejects.toMatchObject({ code: "AUDIT_ERR_IO", message: expect.stringContaining("session_tdf.json is a directory, not a regular file: not written") });
    expect(fs.readdirSync(logger.auditDir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    fs.rmdirSync(file);
    await logger.finalizeSession();
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toMatchObject({ sessionId: "tdf", status: "finalized" });
  });
});

// The writer's own opens of a kind's active chain file: at the start it checked the name (no link,
// FIFO or directory) and then opened it by path, as SonicBoom does (flags "a": no O_NOFOLLOW, no
// O_NONBLOCK); a rotation freed the name and SonicBoom's reopen() opened it again the same way. A
// FIFO put there in between hung the app for good, a link made it write its records into the
// file the link named. The child puts one there in exactly that moment (see its "window" mode).
describe("a FIFO or a link put at a kind's active name between the writer's look and its open", () => {
  const cases = [
    { durability: "sync", what: "a FIFO" },
    { durability: "sync", what: "a symbolic link" },
    { durability: "async", what: "a FIFO" },
    { durability: "async", what: "a symbolic link" },
  ] as const;

  /** Runs the child's "window" mode in a new project; `link`: a link (to a file outside the audit directory) rather than a FIFO. */
  async function windowRun(o: { at: "open" | "rotate"; durability: string; what: string; thenRemove?: boolean }, sid: string) {
    const projectPath = tmpProject("audit-writer-window-");
    const outside = path.join(projectPath, "outside.jsonl");
    const link = o.what === "a symbolic link" ? { link: outside } : {};
    const out = await runChild("window", [JSON.stringify({ projectPath, sessionId: sid, durability: o.durability, at: o.at, thenRemove: o.thenRemove, ...link })]);
    if (out === "hung") throw new Error(`the writer hung on ${o.what}`);
    const dir = path.join(projectPath, "audit_logs");
    return { out, dir, outside, active: path.join(dir, `tool_usage_${sid}.jsonl`) };
  }

  it.each(cases)("at the start ($durability, $what): the logger is refused with AUDIT_ERR_PATH naming it, nothing written through it, it is left", async (c) => {
    const { out, outside, active } = await windowRun({ at: "open", ...c }, "wo");
    expect(out).toEqual({ error: expect.objectContaining({ code: "AUDIT_ERR_PATH", message: expect.stringContaining(`tool_usage_wo.jsonl is ${c.what}, not a regular file: not written`) }) });
    expect(fs.existsSync(outside)).toBe(false);
    expect(kindOf(active)).toBe(c.what);
  }, 60_000);

  it.each(cases)("at a rotation ($durability, $what): reported once as a failed rotation naming it; the records go on to the segment, in one chain; nothing written through it", async (c) => {
    const { out, dir, outside, active } = await windowRun({ at: "rotate", ...c }, "wr");
    expect(out.error).toBeUndefined();
    // the first failure is reported; the next attempt waits a second (none came, the child took less)
    const message = `Rotating tool_usage_wr.jsonl failed: tool_usage_wr.jsonl is ${c.what}, not a regular file: not written`;
    expect(out.errors).toEqual([{ code: "AUDIT_ERR_IO", message: expect.stringContaining(message) }]);
    expect((out.errors as Array<{ message: string }>)[0]!.message).toContain("Records go on to tool_usage_wr.1.jsonl; the rotation is tried again in a second.");
    expect(readJsonl<{ operation: string }>(path.join(dir, "tool_usage_wr.1.jsonl")).map((r) => r.operation)).toEqual(["call 0", "call 1", "call 2"]);
    expect(readJsonl<{ errorType: string; message: string }>(path.join(dir, "errors_wr.jsonl"))).toContainEqual(expect.objectContaining({ errorType: "audit_write_failed", message: expect.stringContaining(message) }));
    expect(fs.existsSync(outside)).toBe(false);
    expect(kindOf(active)).toBe(c.what);
    // verify reads every record and names what was put there
    const report = await verifyAuditLog(dir);
    expect(report.problems.map((p) => [p.kind, path.basename(p.file)])).toEqual([["file_not_regular", "tool_usage_wr.jsonl"]]);
  }, 60_000);

  it.each(["sync", "async", "fsync"])("at a rotation (%s), then removed: the next attempt, a second later, opens the name again; the chain verifies across both segments and the new file", async (durability) => {
    const { out, dir } = await windowRun({ at: "rotate", durability, what: "a FIFO", thenRemove: true }, "wt");
    expect(out.error).toBeUndefined();
    expect((out.errors as unknown[]).length).toBeGreaterThanOrEqual(1);
    const ops = ["tool_usage_wt.1.jsonl", "tool_usage_wt.2.jsonl", "tool_usage_wt.jsonl"].flatMap((n) => readJsonl<{ operation: string }>(path.join(dir, n)).map((r) => r.operation));
    expect(ops).toEqual(["call 0", "call 1", "call 2", "call 3", "call 4", "call 5"]);
    const report = await verifyAuditLog(dir);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  }, 60_000);
});

/** What a path put in the audit directory is, in the writer's words ("a FIFO", "a symbolic link"). */
function kindOf(file: string): string {
  const st = fs.lstatSync(file);
  return st.isFIFO() ? "a FIFO" : st.isSymbolicLink() ? "a symbolic link" : "a regular file";
}
