/**
 * A directory export into a directory that holds an earlier export, failing midway, is whole or
 * nothing: the earlier export is left as it was, byte for byte, and verifies; nothing of the
 * failed export stays (no staging folder, no temporary file). Until 2026-12-06 the earlier
 * export's integrity/ files were removed first and the new files written in place one after the
 * other: a failure left the earlier top-level files partly replaced, integrity/ emptied or holding
 * the new chains, and a directory that was neither export (found by review). Real child processes
 * (`audit-logger export` under util-linux `prlimit --fsize`: the disk cuts a file short), and the
 * API with a step that fails after the JSON and the CSVs are written.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { AuditExporter, AuditIOError, AuditLogger, AuditPathError, verifyExport } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterAll(() => cleanupTmp());

/** Every entry under `dir` (folders too, with a trailing `/`), relative, with each file's bytes. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isDirectory()) {
        out.set(`${rel}/`, "");
        visit(p);
      } else out.set(rel, fs.readFileSync(p).toString("base64"));
    }
  };
  visit(dir);
  return out;
}

/** A finalized session whose audit_event chain (legal holds with long reasons) is the export's largest file. */
async function heldTrail(): Promise<{ projectPath: string; auditDir: string }> {
  const projectPath = tmpProject("audit-whole-");
  const logger = new AuditLogger({ sessionId: "held", projectPath, fullContentLogging: false });
  logger.logToolUsage({ toolName: "t", operation: "one" });
  for (let i = 0; i < 2; i++) logger.releaseLegalHold(logger.placeLegalHold(`case ${i} `.padEnd(1500, "x")), `closed ${i} `.padEnd(1500, "y"));
  await logger.finalizeSession();
  return { projectPath, auditDir: logger.auditDir };
}

/** A second session, with more holds: the next export's chain files are larger than the earlier one's. */
async function moreOf(projectPath: string): Promise<void> {
  const logger = new AuditLogger({ sessionId: "later", projectPath, fullContentLogging: false });
  logger.logToolUsage({ toolName: "t", operation: "two" });
  for (let i = 0; i < 8; i++) logger.releaseLegalHold(logger.placeLegalHold(`later ${i} `.padEnd(3000, "x")), `closed ${i} `.padEnd(3000, "y"));
  await logger.finalizeSession();
}

const leftovers = (dir: string): string[] => [...snapshot(dir).keys()].filter((n) => /staging|\.tmp$|\.pending$/.test(n));

/** An earlier directory export (by the API) of a held trail, its snapshot, and the trail grown since: the next export there differs. */
async function earlierExport(prefix: string): Promise<{ auditDir: string; out: string; before: Map<string, string> }> {
  const { projectPath, auditDir } = await heldTrail();
  const out = path.join(tmpProject(prefix), "export");
  await new AuditExporter({ auditPath: auditDir }).exportCompleteAuditToDirectory(out);
  const before = snapshot(out);
  await moreOf(projectPath);
  return { auditDir, out, before };
}

describe("a directory export over an earlier one, failing midway", () => {
  it("cut short by the disk (prlimit --fsize on the CLI): exit 1 with AUDIT_ERR_IO naming the file in --out; the earlier export is left byte for byte and verifies; the same export then succeeds", async () => {
    const { projectPath, auditDir } = await heldTrail();
    const out = path.join(tmpProject("audit-whole-out-"), "export");
    const first = await runCli(["export", auditDir, "--format", "dir", "--out", out]);
    expect(first.code, first.stderr).toBe(0);
    expect((await verifyExport(out)).problems).toEqual([]);
    const before = snapshot(out);
    expect([...before.keys()]).toContain("integrity/audit_events_held.jsonl");

    await moreOf(projectPath);
    // the new session's chain is over 40 KB, every file of the earlier export well under the limit
    const limit = 20_000;
    for (const [name, bytes] of before) expect(Buffer.from(bytes, "base64").length, name).toBeLessThan(limit);
    const cut = await runCli(["export", auditDir, "--format", "dir", "--out", out], { fileSizeLimit: limit });
    expect(cut.code, cut.stdout + cut.stderr).toBe(1);
    expect(cut.stderr).toContain("[AUDIT_ERR_IO]");
    expect(cut.stderr).toContain(path.join(out, "integrity", "audit_events_later.jsonl"));
    expect(cut.stderr).not.toContain("staging");
    expect(cut.stdout).not.toContain("export_manifest.json");

    // the earlier export, as it was: every file and folder, byte for byte, and nothing else
    expect(snapshot(out)).toEqual(before);
    expect(leftovers(out)).toEqual([]);
    const v = await verifyExport(out);
    expect(v.problems).toEqual([]);
    expect([...v.sessions]).toEqual(["held"]);

    const again = await runCli(["export", auditDir, "--format", "dir", "--out", out]);
    expect(again.code, again.stderr).toBe(0);
    const after = await verifyExport(out);
    expect(after.problems).toEqual([]);
    expect([...after.sessions].sort()).toEqual(["held", "later"]);
    expect(leftovers(out)).toEqual([]);
  }, 180_000);

  it("a step failing after the JSON, the CSVs and integrity/ are written (the API): the error reaches the caller, and the earlier export is left byte for byte and verifies", async () => {
    const { auditDir, out, before } = await earlierExport("audit-whole-api-");

    const exporter = new AuditExporter({ auditPath: auditDir });
    const boom = new Error("the analytics report failed");
    exporter.viewer.generateAnalyticsReport = () => Promise.reject(boom);
    await expect(exporter.exportCompleteAuditToDirectory(out)).rejects.toBe(boom);

    expect(snapshot(out)).toEqual(before);
    expect(leftovers(out)).toEqual([]);
    expect((await verifyExport(out)).problems).toEqual([]);
  }, 120_000);

  it("into a new directory, failing: nothing that looks written is left (no staging folder, no file of the export)", async () => {
    const { auditDir } = await heldTrail();
    const out = path.join(tmpProject("audit-whole-new-"), "export");
    const exporter = new AuditExporter({ auditPath: auditDir });
    exporter.viewer.generateAnalyticsReport = () => Promise.reject(new Error("the analytics report failed"));
    await expect(exporter.exportCompleteAuditToDirectory(out)).rejects.toThrow("the analytics report failed");
    expect(fs.existsSync(out) ? [...snapshot(out).keys()] : []).toEqual([]);
  }, 60_000);

  it("a rename failing while the files are moved into place (fs.renameSync made to fail at checksums.json): those moved are moved back, AUDIT_ERR_IO says so, and the earlier export is left byte for byte", async () => {
    const { auditDir, out, before } = await earlierExport("audit-whole-swap-");
    const rename = fs.renameSync;
    let swapped = 0;
    let failedOnce = false;
    const spy = vi.spyOn(fs, "renameSync").mockImplementation((from, to) => {
      // (the moves into place: from the staging folder to the export directory itself)
      if (path.dirname(String(to)) === out && String(from).includes(".staging")) {
        swapped++;
        if (path.basename(String(to)) === "checksums.json" && !failedOnce) {
          failedOnce = true;
          throw Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" });
        }
      }
      rename(from, to);
    });
    try {
      const err = await new AuditExporter({ auditPath: auditDir }).exportCompleteAuditToDirectory(out).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(AuditIOError);
      expect((err as Error).message).toMatch(/^Moving the directory export into .* failed \(EIO\): the earlier files are back in place, as they were\.$/);
    } finally {
      spy.mockRestore();
    }
    // (integrity/ and the JSON, the CSVs and the report had been moved in before it failed)
    expect(swapped).toBeGreaterThan(5);
    expect(snapshot(out)).toEqual(before);
    expect(leftovers(out)).toEqual([]);
    expect((await verifyExport(out)).problems).toEqual([]);
  }, 120_000);

  it("a rename failing while the files are moved into place, and the moving back failing too: AUDIT_ERR_IO names the folder the earlier files were left in, and that folder is kept", async () => {
    const { auditDir, out, before } = await earlierExport("audit-whole-stuck-");
    const earlierChecksums = Buffer.from(before.get("checksums.json")!, "base64");
    const rename = fs.renameSync;
    // (every rename to checksums.json in the export directory fails: the new one's, and the earlier one's move back)
    const spy = vi.spyOn(fs, "renameSync").mockImplementation((from, to) => {
      if (String(to) === path.join(out, "checksums.json")) throw Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" });
      rename(from, to);
    });
    let err: unknown;
    try {
      err = await new AuditExporter({ auditPath: auditDir }).exportCompleteAuditToDirectory(out).then(() => undefined, (e: unknown) => e);
    } finally {
      spy.mockRestore();
    }
    expect(err).toBeInstanceOf(AuditIOError);
    const m = /the earlier files that could not be moved back are in (\S+) \(left there: move them back by hand; until then an export to (\S+) stops\)\.$/.exec((err as Error).message);
    expect(m, (err as Error).message).not.toBeNull();
    expect(m![1]).toMatch(new RegExp(`^${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/export\\.\\d+(?:n\\d+)?h[0-9a-f]{8}\\.[0-9a-f]{12}\\.staging/replaced$`));
    expect(m![2]).toBe(out);
    expect(fs.readFileSync(path.join(m![1]!, "checksums.json")).equals(earlierChecksums)).toBe(true);
    // the next export, in this process still running (so the folder is not one a gone process
    // left): it stops once it holds the lock, naming the folder, and keeps it (until 2026-12-06 it went on)
    const mixed = snapshot(out);
    const next = await new AuditExporter({ auditPath: auditDir }).exportCompleteAuditToDirectory(out).then(() => undefined, (e: unknown) => e);
    expect(next).toBeInstanceOf(AuditPathError);
    expect((next as Error).message).toContain(`${m![1]} holds the earlier export's files it had moved out (checksums.json), their only copy`);
    expect(snapshot(out)).toEqual(mixed);
  }, 120_000);
});
