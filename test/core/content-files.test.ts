/**
 * The full-content files' writers: the content-writer thread (`writeContent`; the thread pool
 * where that thread cannot run, `writeContent(…, true)`) and the exit hook's
 * synchronous write (`writeContentSync`) of the same files when the process exits with the
 * first under way. crash.test.ts exercises the exit itself in a child process; this pins the
 * order that made it fail about once in six runs: the thread pool's `open` landing after the
 * exit hook's write, truncating a file the process then exits with empty.
 */
import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import util from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, PresetConfigs, verifyAuditLog } from "../../src/index.js";
import { prepareContent, writeContent, writeContentSync } from "../../src/sink/content.js";
import { completable, stopContentThread, writeInThreadPool, writeOnContentThread } from "../../src/sink/content-thread.js";
import { REPO_ROOT, auditDirOf, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";

const dirs: string[] = [];
const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh directory under the OS's temporary one, removed after the test. */
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "content-files-"));
  dirs.push(dir);
  return dir;
}

/** A logger on a fresh directory, and the `error` events it emits. */
function loggerWithErrors(options: ConstructorParameters<typeof AuditLogger>[0]): { logger: AuditLogger; errors: Error[] } {
  const logger = new AuditLogger(options);
  const errors: Error[] = [];
  logger.on("error", (e) => errors.push(e));
  return { logger, errors };
}

function setup() {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, "full_interactions"));
  const content = prepareContent("01TESTCONTENT0000000000000", "the prompt ".repeat(100), "the response ".repeat(100), undefined);
  const manifest = { interactionId: "01TESTCONTENT0000000000000", sessionId: "s", recordHash: "a".repeat(64), encrypted: false, createdAt: "2026-12-02T00:00:00.000Z" };
  const files = [content.refs.prompt.file, content.refs.response.file, content.refs.manifest].map((f) => path.join(dir, f));
  return { dir, content, manifest, files };
}

describe("full-content files: the exit hook's write and the thread pool's", () => {
  it("a thread-pool write that starts after the exit hook wrote the files leaves them intact (refused as existing)", async () => {
    const { dir, content, manifest, files } = setup();
    writeContentSync(dir, content, manifest, 0o600, "async");
    const written = files.map((f) => fs.readFileSync(f));
    expect(written.every((b) => b.length > 0)).toBe(true);
    await expect(writeContent(dir, content, manifest, 0o600, "async")).rejects.toMatchObject({ code: "EEXIST" });
    expect(files.map((f) => fs.readFileSync(f))).toEqual(written);
  });

  it("the usual case: the thread pool writes the same bytes the exit hook would", async () => {
    const a = setup();
    const b = setup();
    await writeContent(a.dir, a.content, a.manifest, 0o600, "async");
    writeContentSync(b.dir, b.content, b.manifest, 0o600, "async");
    expect(a.files.map((f) => fs.readFileSync(f))).toEqual(b.files.map((f) => fs.readFileSync(f)));
  });

  it("the exit hook's synchronous write never truncates: files the thread finished are kept, one cut short is completed, one with other bytes is refused", () => {
    const { dir, content, manifest, files } = setup();
    writeContentSync(dir, content, manifest, 0o600, "async");
    const whole = files.map((f) => fs.readFileSync(f));
    const inodes = files.map((f) => fs.statSync(f).ino);
    // the prompt cut short, as by a thread that died (or still writes) part-way
    fs.truncateSync(files[0]!, 100);
    writeContentSync(dir, content, manifest, 0o600, "fsync");
    expect(files.map((f) => fs.readFileSync(f))).toEqual(whole);
    expect(files.map((f) => fs.statSync(f).ino)).toEqual(inodes);
    // other bytes under the name: not this interaction's, left alone and refused
    fs.writeFileSync(files[1]!, "someone else's");
    expect(() => writeContentSync(dir, content, manifest, 0o600, "async")).toThrow(expect.objectContaining({ code: "EEXIST" }));
    expect(fs.readFileSync(files[1]!, "utf8")).toBe("someone else's");
    expect(fs.readFileSync(files[0]!)).toEqual(whole[0]);
  });

  it("a logger whose exit hook ran while the process lives on (the app handles SIGTERM itself) reports no failure for the writes it took over, and the log verifies", async () => {
    const { logger, errors } = loggerWithErrors(PresetConfigs.development("took_over", tmpDir()));
    // the thread pool busy first, so its content writes come after the hook's (the order to test)
    const busy = Array.from({ length: Math.max(8, Number(process.env.UV_THREADPOOL_SIZE ?? 4)) }, () => util.promisify(crypto.pbkdf2)("p", "s", 200_000, 32, "sha256"));
    for (let i = 0; i < 5; i++) logger.logChatInteraction({ model: "m", prompt: `question ${i} `.repeat(50), response: `answer ${i} `.repeat(50), success: true });
    logger.flushSyncOnExit(); // what the SIGINT/SIGTERM hook does before the app's own handler runs
    await Promise.all(busy);
    await logger.flush(); // waits for the thread-pool writes it raced with
    expect(errors.map((e) => e.message)).toEqual([]);
    const report = await verifyAuditLog(logger.auditDir);
    expect(report.problems).toEqual([]);
    expect(fs.readdirSync(path.join(logger.auditDir, "full_interactions")).filter((f) => f.startsWith("manifest_"))).toHaveLength(5);
    await logger.finalizeSession();
  });

  it("the thread-pool fallback (where the content-writer thread cannot run) writes the same bytes, and refuses files that exist", async () => {
    const a = setup();
    const b = setup();
    await writeContent(a.dir, a.content, a.manifest, 0o600, "fsync", true);
    writeContentSync(b.dir, b.content, b.manifest, 0o600, "async");
    expect(a.files.map((f) => fs.readFileSync(f))).toEqual(b.files.map((f) => fs.readFileSync(f)));
    await expect(writeContent(a.dir, a.content, a.manifest, 0o600, "async", true)).rejects.toMatchObject({ code: "EEXIST" });
    expect(a.files.map((f) => fs.readFileSync(f))).toEqual(b.files.map((f) => fs.readFileSync(f)));
  });

  it("the content-writer thread creates each file with the mode asked for, in fsync mode too, and a path outside the audit directory starts no write", async () => {
    const { dir, content, manifest, files } = setup();
    await writeContent(dir, content, manifest, 0o640, "fsync");
    for (const f of files) expect(fs.statSync(f).mode & 0o777).toBe(0o640 & ~process.umask());
    const bad = { ...content, refs: { ...content.refs, manifest: "../../escape.json" } };
    await expect(writeContent(dir, bad, manifest, 0o600, "async")).rejects.toThrow();
    expect(fs.existsSync(path.join(dir, "..", "..", "escape.json"))).toBe(false);
  });

  for (const durability of ["async", "fsync"] as const) {
    it(`a chat logged while finalizeSession() runs has its content files on disk when it resolves (${durability})`, async () => {
      const { logger, errors } = loggerWithErrors({ sessionId: "late_chat", projectPath: tmpDir(), fullContentLogging: true, durability });
      const finalized = logger.finalizeSession();
      // (another request handler, during a graceful shutdown)
      const id = logger.logChatInteraction({ model: "m", prompt: "p".repeat(4 * 1024 * 1024), response: "late", success: true });
      await finalized;
      const names = fs.readdirSync(path.join(logger.auditDir, "full_interactions"));
      for (const k of ["prompt", "response", "manifest"]) expect(names.some((n) => n.startsWith(`${k}_${id}`))).toBe(true);
      const report = await verifyAuditLog(logger.auditDir);
      expect(report.problems).toEqual([]);
      expect(errors).toEqual([]);
    });
  }

  for (const thread of [false, true]) {
    it(`a process that wrote full content and has nothing left to do ends by itself, every content file on disk${thread ? " (thread: true)" : ""}`, async () => {
      const projectPath = tmpDir();
      const h = startFixture("child-logger.ts", { CORE_PROJECT: projectPath, CORE_SESSION: "content_end", CORE_MODE: "content-end", CORE_DURABILITY: "async", CORE_COUNT: "20", CORE_THREAD: thread ? "1" : "0" });
      children.push(h);
      const exit = await Promise.race([h.exited, new Promise<"still running">((r) => setTimeout(() => r("still running"), 20_000))]);
      expect(exit).not.toBe("still running");
      if (exit === "still running") return;
      expect(exit.code, exit.stderr).toBe(0);
      expect(h.lines).toContain("flushed");
      const ids = h.lines.filter((l) => l.startsWith("chat_interaction ")).map((l) => l.split(" ")[1]);
      expect(ids).toHaveLength(20);
      const names = fs.readdirSync(path.join(auditDirOf(projectPath), "full_interactions"));
      for (const id of ids) for (const kind of ["prompt", "response", "manifest"]) expect(names.some((n) => n.startsWith(`${kind}_${id}`))).toBe(true);
    }, 30_000);

    it(`the kit's workers run with the app's node flags: under --input-type=module, with a preloaded module that prints in every thread, every content file is written, nothing the workers print reaches the app's stdout, and the process ends by itself${thread ? " (thread: true)" : ""}`, async () => {
      const projectPath = tmpDir();
      // the built package, as an app runs it (from the sources the worker needs tsx)
      const script = `
        import fs from "node:fs";
        import { AuditLogger } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, "dist/src/index.js")).href)};
        const logger = new AuditLogger({ sessionId: "flags", projectPath: ${JSON.stringify(projectPath)}, thread: ${thread} });
        const errors = [];
        logger.on("error", (e) => errors.push(e.message));
        for (let i = 0; i < 3; i++) logger.logChatInteraction({ prompt: "p" + i, response: "r", model: "m" });
        await logger.flush();
        console.log(JSON.stringify({ errors, files: fs.readdirSync(logger.auditDir + "/full_interactions").length }));
        await logger.finalizeSession();`;
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        // and a preloaded module (an APM agent's, say) that prints, and notes each thread it runs in
        const preload = path.join(projectPath, "preload.cjs");
        fs.writeFileSync(preload, `console.log("preloaded"); require("node:fs").appendFileSync(${JSON.stringify(path.join(projectPath, "preloaded.txt"))}, require("node:worker_threads").isMainThread ? "main\\n" : "worker\\n");`);
        const child = spawn(process.execPath, ["--input-type=module", "-r", preload], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(script);
        // (a worker's output once kept the process alive for good)
        setTimeout(() => child.kill(), 20_000).unref();
      });
      expect(out.code, out.stderr).toBe(0);
      const [first, json, ...rest] = out.stdout.trim().split("\n");
      expect(first).toBe("preloaded"); // the app's own thread's print, once
      expect(rest).toEqual([]);
      expect(JSON.parse(json!)).toEqual({ errors: [], files: 9 });
      // the preload ran in the workers too (the app's flags apply there, as to pino's transports)
      expect(fs.readFileSync(path.join(projectPath, "preloaded.txt"), "utf8").split("\n").filter(Boolean).sort()).toEqual(thread ? ["main", "worker", "worker"] : ["main", "worker"]);
    }, 60_000);
  }

  it("the thread pool's rewrite of a job the dead thread did not confirm: a file it left whole counts, one it left cut short is completed, one with other bytes fails (EEXIST)", async () => {
    const { dir } = setup();
    const at = (name: string) => path.join(dir, "full_interactions", name);
    fs.writeFileSync(at("same.txt"), "the bytes");
    fs.writeFileSync(at("short.txt"), "the by"); // the thread died while writing it
    fs.writeFileSync(at("other.txt"), "other bytes");
    const bytes = Buffer.from("the bytes");
    for (const sync of [false, true]) {
      const suffix = sync ? "-sync" : "";
      if (sync) for (const n of ["same", "short"]) fs.copyFileSync(at(`${n}.txt`), at(`${n}${suffix}.txt`));
      await writeInThreadPool([[at(`same${suffix}.txt`), bytes], [at(`short${suffix}.txt`), bytes], [at(`fresh${suffix}.txt`), Buffer.from("new")]], 0o600, sync, true);
      expect(fs.readFileSync(at(`same${suffix}.txt`), "utf8")).toBe("the bytes");
      expect(fs.readFileSync(at(`short${suffix}.txt`), "utf8")).toBe("the bytes");
      expect(fs.readFileSync(at(`fresh${suffix}.txt`), "utf8")).toBe("new");
    }
    await expect(writeInThreadPool([[at("other.txt"), bytes]], 0o600, false, true)).rejects.toMatchObject({ code: "EEXIST" });
    expect(fs.readFileSync(at("other.txt"), "utf8")).toBe("other bytes");
    // (outside a rewrite an existing file is always refused: the exit hook may have written it)
    await expect(writeInThreadPool([[at("same.txt"), bytes]], 0o600, false)).rejects.toMatchObject({ code: "EEXIST" });
    await writeInThreadPool([], 0o600, false); // settles
  });

  it("a link planted under a content file's name (symlink or hard link to a file outside the audit directory) is never written through: refused as existing, by the synchronous write and by the pool's rewrite", async () => {
    const outside = tmpDir();
    for (const kind of ["symlink", "hardlink"] as const) {
      for (const writer of ["sync", "pool"] as const) {
        const { dir, content, manifest, files } = setup();
        // an empty file is the beginning of any bytes: the case a completing write would have taken
        const target = path.join(outside, `${kind}-${writer}-target`);
        fs.writeFileSync(target, "");
        if (kind === "symlink") fs.symlinkSync(target, files[0]!);
        else fs.linkSync(target, files[0]!);
        if (writer === "sync") {
          expect(() => writeContentSync(dir, content, manifest, 0o600, "fsync")).toThrow(expect.objectContaining({ code: "EEXIST" }));
        } else {
          await expect(writeInThreadPool([[files[0]!, content.prompt]], 0o600, true, true)).rejects.toMatchObject({ code: "EEXIST" });
        }
        expect(fs.readFileSync(target, "utf8"), `${kind}, ${writer}`).toBe("");
        // (the synchronous write still wrote the interaction's other files)
        if (writer === "sync") expect(fs.readFileSync(files[1]!)).toEqual(content.response);
      }
    }
    // a dangling symlink: the first, exclusive open already refuses it; nothing is created at its target
    const { dir, content, manifest, files } = setup();
    const nowhere = path.join(outside, "created-through-link");
    fs.symlinkSync(nowhere, files[0]!);
    expect(() => writeContentSync(dir, content, manifest, 0o600, "async")).toThrow(expect.objectContaining({ code: "EEXIST", syscall: "open" }));
    await expect(writeInThreadPool([[files[0]!, content.prompt]], 0o600, false, true)).rejects.toMatchObject({ code: "EEXIST" });
    expect(fs.existsSync(nowhere)).toBe(false);
    // a directory or a FIFO under the name: refused with the same EEXIST, nothing blocks
    fs.rmSync(files[0]!);
    fs.mkdirSync(files[0]!);
    const fifo = path.join(path.dirname(files[1]!), "planted.fifo");
    execFileSync("mkfifo", [fifo]);
    for (const file of [files[0]!, fifo]) {
      expect(() => writeContentSync(dir, { ...content, refs: { ...content.refs, prompt: { ...content.refs.prompt, file: path.relative(dir, file) } } }, manifest, 0o600, "async")).toThrow(
        expect.objectContaining({ code: "EEXIST", syscall: "open" }),
      );
      await expect(writeInThreadPool([[file, content.prompt]], 0o600, false, true)).rejects.toMatchObject({ code: "EEXIST" });
    }
  });

  it("a finished file that also has another name (a backup's hard link) is kept: only a write needs the file to have one name", async () => {
    for (const writer of ["sync", "pool"] as const) {
      const { dir, content, manifest, files } = setup();
      writeContentSync(dir, content, manifest, 0o600, "async");
      const backup = path.join(tmpDir(), "backup");
      fs.linkSync(files[0]!, backup);
      if (writer === "sync") writeContentSync(dir, content, manifest, 0o600, "fsync");
      else await writeInThreadPool([[files[0]!, content.prompt]], 0o600, true, true);
      expect(fs.readFileSync(backup)).toEqual(content.prompt);
    }
  });

  it("where there is no O_NOFOLLOW (Windows), the path's own lstat tells a symlink from the file it leads to", () => {
    const { files } = setup();
    const target = path.join(tmpDir(), "target");
    fs.writeFileSync(target, "");
    fs.symlinkSync(target, files[0]!);
    fs.writeFileSync(files[1]!, "");
    const data = Buffer.from("bytes");
    // what an open that follows the link sees (fstat of the target), against the path's lstat
    expect(completable(fs.statSync(files[0]!), fs.lstatSync(files[0]!), data)).toBe(false);
    expect(completable(fs.statSync(files[1]!), fs.lstatSync(files[1]!), data)).toBe(true);
    // a path that names another file than the one opened (swapped in between)
    expect(completable(fs.statSync(target), fs.lstatSync(files[1]!), data)).toBe(false);
    expect(completable(fs.statSync(files[1]!), fs.lstatSync(files[1]!), Buffer.alloc(0))).toBe(true);
    fs.writeFileSync(files[1]!, "longer than the bytes");
    expect(completable(fs.statSync(files[1]!), fs.lstatSync(files[1]!), data)).toBe(false);
  });

  it("a logger in sync mode whose interaction's content file name is a planted symlink reports the refusal and writes nothing through it", async () => {
    const projectPath = tmpDir();
    const outside = tmpDir();
    const { logger, errors } = loggerWithErrors(PresetConfigs.development("planted", projectPath, { durability: "sync" }));
    const id = "01PLANTEDLINK0000000000000";
    const names = prepareContent(id, "", "", undefined).refs;
    const auditDir = auditDirOf(projectPath);
    fs.mkdirSync(path.join(auditDir, "full_interactions"), { recursive: true });
    const target = path.join(outside, "target");
    fs.writeFileSync(target, "");
    fs.symlinkSync(target, path.join(auditDir, names.prompt.file));
    logger.logChatInteraction({ id, prompt: "secret prompt", response: "the answer", model: "m" });
    await logger.finalizeSession();
    expect(fs.readFileSync(target, "utf8")).toBe("");
    expect(errors.map((e) => e.message).join("\n")).toMatch(new RegExp(`full content of interaction ${id} failed`));
    expect(fs.readFileSync(path.join(auditDir, names.response.file), "utf8")).toBe("the answer");
  });

  it("bytes the content-writer thread cannot copy (no memory) are left to the caller, and leave nothing queued behind", async () => {
    const { dir } = setup();
    const good = path.join(dir, "full_interactions", "good.txt");
    const bad = path.join(dir, "full_interactions", "bad.txt");
    // a length no Uint8Array can have: its copy throws, as an allocation that fails does
    expect(writeOnContentThread([[good, Buffer.from("x")], [bad, { length: -1 } as unknown as Uint8Array]], 0o600, false)).toBeUndefined();
    await writeOnContentThread([[good, Buffer.from("good")]], 0o600, false);
    expect(fs.readFileSync(good, "utf8")).toBe("good");
    expect(fs.existsSync(bad)).toBe(false);
  });

  // (last in this file: the content writer stays stopped for the rest of the file's process)
  it("when the content-writer thread dies, what it had not confirmed and everything later is written through the thread pool", async () => {
    const { logger, errors } = loggerWithErrors(PresetConfigs.development("writer_dies", tmpDir()));
    const before = logger.logChatInteraction({ model: "m", prompt: "before", response: "answer", success: true });
    await logger.flush(); // the thread is running and wrote it
    const during = [0, 1, 2].map((i) => logger.logChatInteraction({ model: "m", prompt: `during ${i}`, response: "answer", success: true }));
    await stopContentThread(); // dies with these not confirmed
    await logger.flush();
    const after = [0, 1].map((i) => logger.logChatInteraction({ model: "m", prompt: `after ${i}`, response: "answer", success: true }));
    await logger.flush();
    expect(errors.map((e) => e.message)).toEqual([]);
    const names = fs.readdirSync(path.join(logger.auditDir, "full_interactions"));
    for (const id of [before, ...during, ...after]) for (const k of ["prompt", "response", "manifest"]) expect(names.some((n) => n.startsWith(`${k}_${id}`))).toBe(true);
    const report = await verifyAuditLog(logger.auditDir);
    expect(report.problems).toEqual([]);
    await logger.finalizeSession();
  });
});
