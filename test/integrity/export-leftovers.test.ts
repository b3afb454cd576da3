/**
 * What an export killed midway leaves: its temporary files (`<file>.<pid>.<random>.tmp`, beside
 * the file it replaces; a directory export's, with every file it wrote, in its staging folder
 * `export.<pid>.<random>.staging/`, since 2026-12-06). `verifyExport` names such a file as not in the manifest and says what it
 * is; the next export to the same place removes those whose process (of this host) is gone, and
 * leaves those of a process still running, and anything else, alone. Until 2026-12-05 they stayed
 * for good, and `verify` failed the directory after every later export there too (found by the
 * durability pass).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditExporter, AuditLogger, AuditPathError, copyChainEvidence, EXPORT_MANIFEST, verifyExport } from "../../src/index.js";
import { writeExport } from "../../src/export/output.js";
import { childArgs } from "../helpers/child-args.js";
import { OWN_HOST_TAG } from "../../src/sink/owner.js";
import { clockAhead, deadPid, exportedOnce, nameOf } from "../helpers/core.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

/** How verify names a maker of this host and pid namespace (nameOf), as a regular expression's source. */
const said = (pid: number): string => `process ${pid}(?: of pid namespace \\d+)? on this host`;

const HOUR = 3_600_000;
const children: ChildProcess[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const c of children.splice(0)) c.kill("SIGKILL");
  cleanupTmp();
});

const FIXTURE = path.join(path.dirname(new URL(import.meta.url).pathname), "../fixtures/integrity/export-killed-child.mts");
const INTEGRITY_FIXTURE = path.join(path.dirname(new URL(import.meta.url).pathname), "../fixtures/integrity/export-killed-integrity-child.mts");
/** the temporary files under `dir`, its staging folders too (relative, `/`-separated) */
const stagedTemps = (dir: string): string[] => fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((n) => n.endsWith(".tmp"));

function livePid(): number {
  const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  children.push(sleeper);
  return sleeper.pid!;
}

describe("an export killed midway", () => {
  it("SIGKILL while a directory export writes a file: the earlier export's files are left as they were; verify names the staging folder left (not part of the export), and the next export there removes it and verifies OK", async () => {
    const projectPath = tmpProject();
    const exportDir = path.join(projectPath, "export");
    const child = spawn(process.execPath, [...childArgs(FIXTURE), projectPath, exportDir, "20000"], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
    // the first export is whole; in the second, killed as soon as a temporary file appears
    const deadline = Date.now() + 120_000;
    while (!out.includes("exported ")) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the child did not export: ${out} ${err}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const pid = Number(/exported (\d+)/.exec(out)![1]);
    expect((await verifyExport(exportDir)).problems).toEqual([]);
    const earlier = new Map(fs.readdirSync(exportDir).map((n) => [n, fs.readFileSync(path.join(exportDir, n)).toString("base64")]));
    child.kill("SIGUSR1");
    while (stagedTemps(exportDir).length === 0) {
      if (Date.now() > deadline || out.includes("exported again") || child.exitCode !== null) throw new Error(`no temporary file seen: ${out} ${err}`);
      await new Promise((r) => setImmediate(r));
    }
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    // (the files are written into export.<pid>.<random>.staging/, and moved into place only once all are written)
    const left = stagedTemps(exportDir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(new RegExp(`^export\\.${pid}(?:n\\d+)?h${OWN_HOST_TAG}\\.[0-9a-f]{12}\\.staging/[a-z_]+\\.(json|csv)\\.${pid}(?:n\\d+)?h${OWN_HOST_TAG}\\.[0-9a-f]{12}\\.tmp$`));
    // the earlier export's files as they were: none replaced, none removed
    for (const [n, bytes] of earlier) if (!n.includes("staging")) expect(fs.readFileSync(path.join(exportDir, n)).toString("base64"), n).toBe(bytes);

    // verify: the directory is not what the manifest says (the staging folder is there), and each
    // problem says what the file is; the earlier export's files all check
    const report = await verifyExport(exportDir);
    expect(report.ok).toBe(false);
    expect(report.problems.filter((p) => p.kind !== "export_file_unlisted")).toEqual([]);
    const unlisted = report.problems.filter((p) => p.kind === "export_file_unlisted");
    expect(unlisted.map((u) => u.file)).toContain(left[0]);
    for (const u of unlisted) {
      expect(u.file).toMatch(new RegExp(`^export\\.${pid}(?:n\\d+)?h${OWN_HOST_TAG}\\.[0-9a-f]{12}\\.staging/`));
      expect(u.detail).toMatch(new RegExp(`folder where a directory export writes its files before it swaps them into place, left by an export \\(process ${pid}(?: of pid namespace \\d+)? on this host\\) killed midway.*export to this directory again`));
    }

    // the next export to the directory removes it (its process is gone) and verifies OK
    await new AuditExporter({ auditPath: path.join(projectPath, "audit_logs") }).exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    expect(stagedTemps(exportDir)).toEqual([]);
    expect(fs.readdirSync(exportDir).filter((n) => n.endsWith(".pending") || n.endsWith(".staging"))).toEqual([]);
    const again = await verifyExport(exportDir);
    expect(again.problems).toEqual([]);
    expect(again.ok).toBe(true);
  }, 180_000);

  it("SIGKILL while a directory export writes integrity/ (sessions the earlier export did not have): the earlier integrity/ is left as it was, and the next export there succeeds and verifies OK", async () => {
    // (found by the durability pass, 2026-12-05: integrity/ files were written in place, so a
    // killed export left a part-written checkpoints file, and files of sessions the earlier
    // export's manifest did not list, which the next export refused as not its own, AUDIT_ERR_PATH,
    // for good)
    const projectPath = tmpProject();
    const exportDir = path.join(projectPath, "export");
    const integrity = path.join(exportDir, "integrity");
    const auditDir = path.join(projectPath, "audit_logs");
    const pair = generateKeyPairSync("ed25519");
    const pem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const publicKey = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
    const child = spawn(process.execPath, [...childArgs(INTEGRITY_FIXTURE), projectPath, exportDir, "4000"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, AUDIT_LOGGER_SIGNING_KEY: pem } });
    children.push(child);
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 120_000;
    while (!out.includes("exported ")) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the child did not export: ${out} ${err}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect((await verifyExport(exportDir, { publicKey })).problems).toEqual([]);
    const earlier = new Map(fs.readdirSync(integrity).map((n) => [n, fs.readFileSync(path.join(integrity, n)).toString("base64")]));
    // killed once the second big session's checkpoints are being copied: the first one's are in
    // the staging folder's integrity/ by then, and neither is in the earlier export's manifest
    const staged = (): string[] => fs.readdirSync(exportDir, { recursive: true, encoding: "utf8" }).filter((n) => /^export\.\d+(?:n\d+)?h[0-9a-f]{8}\.[0-9a-f]+\.staging\/integrity\//.test(n));
    child.kill("SIGUSR1");
    while (!staged().some((n) => path.basename(n).startsWith("checkpoints_big2.jsonl"))) {
      if (Date.now() > deadline || out.includes("exported again") || child.exitCode !== null) throw new Error(`the export did not reach big2: ${out} ${err}`);
      await new Promise((r) => setImmediate(r));
    }
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    // the earlier export's integrity/ as it was, nothing added; every file under its own name in
    // the staging folder's integrity/ is whole: the source's bytes
    expect(new Map(fs.readdirSync(integrity).map((n) => [n, fs.readFileSync(path.join(integrity, n)).toString("base64")]))).toEqual(earlier);
    const whole = staged().filter((n) => !n.endsWith(".tmp"));
    for (const n of whole) expect(fs.readFileSync(path.join(exportDir, n)).equals(fs.readFileSync(path.join(auditDir, path.basename(n)))), n).toBe(true);
    // verify names the files the killed export wrote for what they are, and finds nothing else
    const leftReport = await verifyExport(exportDir, { publicKey });
    expect(leftReport.problems.filter((p) => p.kind !== "export_file_unlisted")).toEqual([]);
    const killed = leftReport.problems.filter((p) => p.kind === "export_file_unlisted");
    expect(killed.map((p) => path.basename(p.file))).toContain("checkpoints_big1.jsonl");
    for (const p of killed) expect(p.detail, p.file).toMatch(/an export \(process \d+(?: of pid namespace \d+)? on this host\) killed midway.*export to this directory again/);

    // the next export there succeeds, removes what the killed one left, and verifies OK
    await new AuditExporter({ auditPath: auditDir }).exportCompleteAuditToDirectory(exportDir, { includeFullContent: false, signingKey: pem });
    const all = (d: string): string[] => fs.readdirSync(d, { recursive: true, encoding: "utf8" });
    expect(all(exportDir).filter((n) => n.endsWith(".tmp") || n.endsWith(".pending") || n.includes(".staging"))).toEqual([]);
    const report = await verifyExport(exportDir, { publicKey, requireSigned: true });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect([...report.sessions].sort()).toEqual(["big1", "big2", "early"]);
    for (const sid of ["big1", "big2"]) expect(fs.readFileSync(path.join(integrity, `checkpoints_${sid}.jsonl`)).equals(fs.readFileSync(path.join(auditDir, `checkpoints_${sid}.jsonl`)))).toBe(true);
  }, 180_000);

  it("planted: the temporary files of a gone process (manifest, JSON, CSV; old and new names) are removed by the next export; one of a live process, and a user's file, are left and named by verify", async () => {
    const { exportDir, exporter } = await exportedOnce("planted");
    const dead = deadPid();
    const live = livePid();
    const gone = [`${EXPORT_MANIFEST}.${nameOf(dead)}.0a1b2c3d4e5f.tmp`, `${EXPORT_MANIFEST}.${nameOf(dead)}.tmp`, `audit_complete.json.${nameOf(dead)}.1733400000000.tmp`, `tool_usage.csv.${nameOf(dead)}.abcdefabcdef.tmp`];
    const kept = [`checksums.json.${nameOf(live)}.0a1b2c3d4e5f.tmp`, "audit_complete.json.backup", `audit_complete.json.${nameOf(live)}.1733400000000.tmp`];
    for (const n of [...gone, ...kept]) fs.writeFileSync(path.join(exportDir, n), "partial");
    const before = await verifyExport(exportDir);
    expect(before.problems.filter((p) => p.kind === "export_file_unlisted").map((p) => p.file).sort()).toEqual([...gone, ...kept].sort());
    // (a user's file is not taken for a temporary one)
    expect(before.problems.find((p) => p.file === "audit_complete.json.backup")!.detail).toMatch(/added after the export/);

    await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    for (const n of gone) expect(fs.existsSync(path.join(exportDir, n)), n).toBe(false);
    for (const n of kept) expect(fs.readFileSync(path.join(exportDir, n), "utf8"), n).toBe("partial");
    const after = await verifyExport(exportDir);
    expect(after.problems.map((p) => [p.kind, p.file]).sort()).toEqual(kept.map((n) => ["export_file_unlisted", n]).sort());
    expect(after.problems.find((p) => p.file === kept[0])!.detail).toMatch(new RegExp(`checksums\\.json as before renaming it into place, left by an export \\(${said(live)}\\) killed midway, or one still writing`));
    // (an older version's name, `<pid>.<ms>`, all digits, is named for what it is too: it was
    // "added after the export"; found by review, 2026-12-05)
    expect(after.problems.find((p) => p.file === kept[2])!.detail).toMatch(new RegExp(`audit_complete\\.json as before renaming it into place, left by an export \\(${said(live)}\\) killed midway`));
  });

  it("planted: a folder of the user's named as a staging folder of a gone process (export.<pid>.<hex>.staging/, its own files in it) is left as it is by the next export; one an export made and was killed in is removed", async () => {
    const { exportDir, exporter } = await exportedOnce("planted-staging");
    const dead = deadPid();
    // (the user's: no mark of an export's staging folder)
    const users = path.join(exportDir, `export.${nameOf(dead)}.0a1b2c3d4e5f.staging`);
    fs.mkdirSync(path.join(users, "notes"), { recursive: true });
    fs.writeFileSync(path.join(users, "notes", "mine.txt"), "the user's own");
    await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    expect(fs.readFileSync(path.join(users, "notes", "mine.txt"), "utf8")).toBe("the user's own");
    // (verify names it as added, not as a killed export's folder that the next export removes)
    const report = await verifyExport(exportDir);
    const unlisted = report.problems.filter((p) => p.kind === "export_file_unlisted");
    expect(unlisted.map((p) => p.file)).toEqual([`export.${nameOf(dead)}.0a1b2c3d4e5f.staging/notes/mine.txt`]);
    expect(unlisted[0]!.detail).toMatch(/it was added after the export\.$/);
  });

  it("planted: a directory export takes away the integrity/ files a gone process's list names (and their temporary files, and the list); with the list of a process still running, or a file no list or manifest names, it refuses (AUDIT_ERR_PATH) and removes nothing", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "listed", projectPath, fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    const exportDir = path.join(projectPath, "export");
    const integrity = path.join(exportDir, "integrity");
    fs.mkdirSync(integrity, { recursive: true });
    const dead = deadPid();
    const live = livePid();
    const exporter = new AuditExporter({ auditPath: logger.auditDir });
    const put = (rel: string, text = "partial") => fs.writeFileSync(path.join(exportDir, rel), text);
    // a gone process's list: its last line not written whole, which names nothing
    put(`integrity.${dead}.0a1b2c3d4e5f.pending`, "integrity/checkpoints_gone.jsonl\nintegrity/audit_events_gone.jsonl\nintegrity/checkpoints_half");
    put("integrity/checkpoints_gone.jsonl");
    put(`integrity/audit_events_gone.jsonl.${nameOf(dead)}.abcdefabcdef.tmp`);
    // a file the list's unfinished line would name, and one of a list of a process still running
    put("integrity/checkpoints_half");
    await expect(exporter.exportCompleteAuditToDirectory(exportDir)).rejects.toMatchObject({ code: "AUDIT_ERR_PATH", message: expect.stringMatching(/checkpoints_half/) });
    fs.rmSync(path.join(integrity, "checkpoints_half"));
    put(`integrity.${live}.0a1b2c3d4e5f.pending`, "integrity/checkpoints_running.jsonl\n");
    put("integrity/checkpoints_running.jsonl");
    await expect(exporter.exportCompleteAuditToDirectory(exportDir)).rejects.toMatchObject({ code: "AUDIT_ERR_PATH", message: expect.stringMatching(new RegExp(`checkpoints_running\\.jsonl.*an export \\(process [\\d, ]*\\b${live}\\b[\\d, ]*\\) may be writing this directory`)) });
    expect(fs.readdirSync(integrity).sort()).toEqual([`audit_events_gone.jsonl.${nameOf(dead)}.abcdefabcdef.tmp`, "checkpoints_gone.jsonl", "checkpoints_running.jsonl"]);
    // that process ends (its list is left as a killed one's would be): the export takes both lists' files away
    fs.renameSync(path.join(exportDir, `integrity.${live}.0a1b2c3d4e5f.pending`), path.join(exportDir, `integrity.${deadPid()}.0a1b2c3d4e5f.pending`));
    // (lists are an older version's names, naming no host: whose they are cannot be told, so they
    // are taken once an hour untouched, not by their pid here; docs/FORMAT.md, "Names")
    await expect(exporter.exportCompleteAuditToDirectory(exportDir)).rejects.toMatchObject({ code: "AUDIT_ERR_PATH" });
    clockAhead(HOUR + 60_000);
    await exporter.exportCompleteAuditToDirectory(exportDir);
    expect(fs.readdirSync(exportDir).filter((n) => n.startsWith("integrity."))).toEqual([]);
    expect(fs.existsSync(integrity) ? fs.readdirSync(integrity) : []).toEqual([]);
    const report = await verifyExport(exportDir);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it("planted: the temporary file of an integrity/ file a gone process left (integrity/<file>.<pid>.<random>.tmp, as writeWholeSync names it) is named by verify for what it is, and removed by the next export", async () => {
    // (verify's explanation took only top-level names: such a file, left by a re-export killed
    // while it wrote integrity/, was "added after the export"; found by review, 2026-12-05)
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "chained", projectPath, fullContentLogging: false });
    logger.placeLegalHold("a chain to copy");
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    const exportDir = path.join(projectPath, "export");
    const exporter = new AuditExporter({ auditPath: logger.auditDir });
    await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    expect(fs.existsSync(path.join(exportDir, "integrity", "audit_events_chained.jsonl"))).toBe(true);
    const dead = deadPid();
    const left = `integrity/audit_events_chained.jsonl.${nameOf(dead)}.0a1b2c3d4e5f.tmp`;
    fs.writeFileSync(path.join(exportDir, left), "partial");
    const before = await verifyExport(exportDir);
    expect(before.problems.map((p) => [p.kind, p.file])).toEqual([["export_file_unlisted", left]]);
    expect(before.problems[0]!.detail).toMatch(new RegExp(`temporary file an export writes integrity/audit_events_chained\\.jsonl as before renaming it into place, left by an export \\(${said(dead)}\\) killed midway`));
    await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    expect(fs.existsSync(path.join(exportDir, left))).toBe(false);
    expect((await verifyExport(exportDir)).problems).toEqual([]);
  });

  it("planted: verify names the integrity/ files a killed export's list (integrity.<pid>.<random>.pending) names as that export's, and their temporary files; a file only the list's unfinished line names was added after the export", async () => {
    // (verify named the list and the temporary files for what they are, but the files the list
    // names, which the next export removes, were "added after the export"; found by review, 2026-12-05)
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "named", projectPath, fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    const exportDir = path.join(projectPath, "export");
    const exporter = new AuditExporter({ auditPath: logger.auditDir });
    await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    const dead = deadPid();
    const put = (rel: string, text = "partial") => fs.writeFileSync(path.join(exportDir, rel), text);
    fs.mkdirSync(path.join(exportDir, "integrity"), { recursive: true });
    const list = `integrity.${dead}.0a1b2c3d4e5f.pending`;
    put(list, "integrity/checkpoints_gone.jsonl\nintegrity/audit_events_gone.jsonl\nintegrity/checkpoints_half");
    put("integrity/checkpoints_gone.jsonl");
    put(`integrity/audit_events_gone.jsonl.${nameOf(dead)}.abcdefabcdef.tmp`);
    put("integrity/checkpoints_half");
    const report = await verifyExport(exportDir);
    const why = new Map(report.problems.map((p) => [p.file, `${p.kind}: ${p.detail}`]));
    expect([...why.keys()].sort()).toEqual([list, `integrity/audit_events_gone.jsonl.${nameOf(dead)}.abcdefabcdef.tmp`, "integrity/checkpoints_gone.jsonl", "integrity/checkpoints_half"].sort());
    expect(why.get("integrity/checkpoints_gone.jsonl")).toMatch(
      new RegExp(`^export_file_unlisted: .*named in ${list.replace(/\./g, "\\.")}, the list a directory export keeps of the integrity/ files it is writing: a file an export \\(process ${dead}\\) killed midway was writing.*export to this directory again`),
    );
    expect(why.get("integrity/checkpoints_gone.jsonl")).not.toMatch(/added after the export/);
    expect(why.get(`integrity/audit_events_gone.jsonl.${nameOf(dead)}.abcdefabcdef.tmp`)).toMatch(new RegExp(`temporary file an export writes integrity/audit_events_gone\\.jsonl as before renaming it into place, left by an export \\(${said(dead)}\\) killed midway`));
    // (a line not written whole names nothing, for verify as for the next export, which refuses that file)
    expect(why.get("integrity/checkpoints_half")).toMatch(/added after the export/);
    fs.rmSync(path.join(exportDir, "integrity/checkpoints_half"));
    // (the list is an older version's name, naming no host: taken once an hour untouched)
    clockAhead(HOUR + 60_000);
    await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    expect((await verifyExport(exportDir)).problems).toEqual([]);
  });

  it("an export whose integrity/ cannot be made fails with AUDIT_ERR_PATH naming the caller's option, never copyChainEvidence's own parameter (unless it is copyChainEvidence that was called)", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "held", projectPath, fullContentLogging: false });
    logger.placeLegalHold("a chain to copy");
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    const exporter = new AuditExporter({ auditPath: logger.auditDir });
    // a file named integrity in the target: refused before anything is written (checkDirectoryTarget)
    const exportDir = path.join(projectPath, "export");
    fs.mkdirSync(exportDir);
    fs.writeFileSync(path.join(exportDir, "integrity"), "mine");
    const planted = await exporter.exportCompleteAuditToDirectory(exportDir).then(() => undefined, (e: unknown) => e);
    expect(planted).toBeInstanceOf(AuditPathError);
    expect(planted).toMatchObject({ code: "AUDIT_ERR_PATH", message: expect.stringMatching(/^exportCompleteAuditToDirectory\.dir: .*integrity is not a directory/) });
    expect((planted as Error).message).not.toContain("copyChainEvidence");
    expect(fs.readFileSync(path.join(exportDir, "integrity"), "utf8")).toBe("mine");
    expect(fs.readdirSync(exportDir)).toEqual(["integrity"]);
    // a directory that is there but cannot be written in (/proc/self: the staging folder an export
    // writes its files in is its first entry there) was a bare ENOENT, without a code or an option
    const unwritable = await exporter.exportCompleteAuditToDirectory("/proc/self").then(() => undefined, (e: unknown) => e);
    expect(unwritable).toBeInstanceOf(AuditPathError);
    expect(unwritable).toMatchObject({ code: "AUDIT_ERR_PATH", message: expect.stringMatching(/^exportCompleteAuditToDirectory\.dir: .*\/proc\/self\/export\.\d+(?:n\d+)?h[0-9a-f]{8}\.[0-9a-f]{12}\.staging cannot be created \(ENOENT\).*nothing was written/) });
    // copyChainEvidence called directly: its own parameter, or the option its caller names (a file
    // named integrity was a bare ENOTDIR: the folder was made only when nothing was there)
    for (const option of [undefined, "option --dest"]) {
      const err = (() => {
        try {
          copyChainEvidence(logger.auditDir, exportDir, ["held"], undefined, option);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, option).toBeInstanceOf(AuditPathError);
      expect((err as Error).message, option).toMatch(new RegExp(`^${(option ?? "copyChainEvidence.exportDir").replace(/\./g, "\\.")}: the directory ${path.join(exportDir, "integrity").replace(/\./g, "\\.")} cannot be created \\(ENOTDIR`));
    }
    expect(fs.readdirSync(exportDir)).toEqual(["integrity"]);
  });

  it("a single-file export (exportToJson to a path) removes the temporary files of that path a gone process left, and no other", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "single", projectPath, fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    const file = path.join(projectPath, "out.json");
    const dead = deadPid();
    const live = livePid();
    const gone = [`out.json.${nameOf(dead)}.0a1b2c3d4e5f.tmp`, `out.json.${nameOf(dead)}.1733400000000.tmp`];
    const kept = [`out.json.${nameOf(live)}.0a1b2c3d4e5f.tmp`, `other.json.${nameOf(dead)}.0a1b2c3d4e5f.tmp`, `out.json.${nameOf(dead)}.tmp.keep`];
    for (const n of [...gone, ...kept]) fs.writeFileSync(path.join(projectPath, n), "partial");
    // (a directory under such a name is not a file this kit left: never removed)
    fs.mkdirSync(path.join(projectPath, `out.json.${nameOf(dead)}.abcdefabcdef.tmp`));
    await new AuditExporter({ auditPath: logger.auditDir }).exportToJson(file);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toBeTypeOf("object");
    for (const n of gone) expect(fs.existsSync(path.join(projectPath, n)), n).toBe(false);
    for (const n of kept) expect(fs.readFileSync(path.join(projectPath, n), "utf8"), n).toBe("partial");
    expect(fs.statSync(path.join(projectPath, `out.json.${nameOf(dead)}.abcdefabcdef.tmp`)).isDirectory()).toBe(true);
  });

  it("an export whose records fail before its temporary file is open (at the first record) leaves none behind, nor does one failing midway; the error reaches the caller", async () => {
    const dir = path.join(tmpProject(), "out");
    fs.mkdirSync(dir);
    // (found by review, 2026-12-05: the temporary file was removed only once its "open" event had
    // been seen, which a source failing at once came before; it stayed, for as long as the process
    // lived, beside the target)
    async function* atOnce(): AsyncGenerator<string> {
      throw new Error("the first record cannot be read");
    }
    async function* midway(): AsyncGenerator<string> {
      yield "[";
      await new Promise((r) => setTimeout(r, 5));
      throw new Error("a later record cannot be read");
    }
    await expect(writeExport(path.join(dir, "x.json"), atOnce())).rejects.toThrow(/the first record cannot be read/);
    await expect(writeExport(path.join(dir, "x.json"), midway())).rejects.toThrow(/a later record cannot be read/);
    await new Promise((r) => setTimeout(r, 100));
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
