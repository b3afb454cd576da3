/**
 * A directory export whose move into place failed and could not be undone leaves the earlier
 * export's files in `<dir>/export.<pid>[n<pid namespace>].<random>.staging/replaced/`, their only copy. Until
 * 2026-12-06 the next export there, once that process was gone, removed that folder with the rest
 * of the staging folder, and the earlier export with it (found by review). Now it stops, coded
 * (AUDIT_ERR_PATH), naming the folder and the fix, and writes and removes nothing; done as it
 * says, the export goes through. The failure is real: the `audit-logger export` child process
 * under `strace -e inject=rename:error=EIO`, every rename of its main thread failing from the
 * move of `checksums.json` into place on (the moves back too); which rename that is, is counted
 * in a run of the same export into a copy of the directory.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";
import { filesUnder as files, tracedCli, tracedRenames } from "./traced.js";

afterAll(() => cleanupTmp());

async function session(projectPath: string, sessionId: string, n: number): Promise<string> {
  const logger = new AuditLogger({ sessionId, projectPath, fullContentLogging: false });
  for (let i = 0; i < n; i++) logger.logToolUsage({ toolName: "t", operation: `${sessionId} ${i}` });
  await logger.finalizeSession();
  return logger.auditDir;
}

describe("a directory export after one whose move into place failed and could not be undone", () => {
  it("stops (AUDIT_ERR_PATH) naming the replaced/ folder and the fix, writes and removes nothing; done as it says, the next export goes through and verifies", async () => {
    const projectPath = tmpProject("audit-replaced-");
    const auditDir = await session(projectPath, "first", 3);
    const out = path.join(tmpProject("audit-replaced-out-"), "export");
    const first = await runCli(["export", auditDir, "--format", "dir", "--out", out]);
    expect(first.code, first.stderr).toBe(0);
    const earlier = files(out);
    await session(projectPath, "second", 5);

    // which rename of the main thread moves the new checksums.json into place (a copy of the directory, traced)
    const copy = path.join(path.dirname(out), "copy");
    fs.cpSync(out, copy, { recursive: true });
    const dry = tracedCli(["export", auditDir, "--format", "dir", "--out", copy], path.join(projectPath, "dry.trace"));
    expect(dry.status, dry.stderr).toBe(0);
    const renames = tracedRenames(path.join(projectPath, "dry.trace"));
    const at = renames.findIndex((l) => l.includes(`.staging/checksums.json", "${path.join(copy, "checksums.json")}"`));
    expect(at, renames.join("\n")).toBeGreaterThan(0);

    // the export into the directory, every rename failing from that one on: the moves back fail too
    const failed = tracedCli(["export", auditDir, "--format", "dir", "--out", out], path.join(projectPath, "failed.trace"), `error=EIO:when=${at + 1}+`);
    expect(failed.status).toBe(1);
    const m = /the earlier files that could not be moved back are in (\S+\/export\.\d+(?:n\d+)?h[0-9a-f]{8}\.[0-9a-f]{12}\.staging\/replaced) \(left there: move them back by hand([^)]*)\)\. \[AUDIT_ERR_IO\]/.exec(failed.stderr);
    expect(m, failed.stderr).not.toBeNull();
    const replaced = m![1]!;
    const staging = path.dirname(replaced);
    const left = files(replaced);
    expect([...left.keys()]).toContain("checksums.json");
    for (const [rel, bytes] of left) expect([rel, bytes]).toEqual([rel, earlier.get(rel)]);
    const mixed = files(out);
    // (the error of the failed export says the next one stops, until 2026-12-06 not)
    const failedSays = m![2];

    // the next export (that process gone): stops, nothing written or removed
    const next = await runCli(["export", auditDir, "--format", "dir", "--out", out]);
    expect(next.code).toBe(1);
    expect(next.stderr).toContain("[AUDIT_ERR_PATH]");
    // (which folder holds which export's files: until 2026-12-06 it said only that the directory held some of each)
    expect(next.stderr).toContain(`a directory export into ${out} stopped while it moved its files into place`);
    expect(next.stderr).toContain(`${replaced} holds the earlier export's files it had moved out (${[...left.keys()].sort().slice(0, 5).join(", ")}, and ${left.size - 5} more), their only copy`);
    expect(next.stderr).toContain(`${staging} still holds the files of the later export it had not moved in (checksums.json, export_manifest.json), and ${out} holds the rest of each export, mixed`);
    expect(next.stderr).toContain(`To keep the earlier export, move each of them back into ${out} in place of the file of the same name (or elsewhere); then remove ${staging}, and export again.`);
    expect(files(out)).toEqual(mixed);
    expect(failedSays).toBe(`; until then an export to ${out} stops`);
    // verify names each of them for what it is
    const mixedVerify = await runCli(["verify", out, "--json"]);
    expect(mixedVerify.code).toBe(1);
    const problems = (JSON.parse(mixedVerify.stdout) as { problems: Array<{ kind: string; file?: string; detail: string }> }).problems;
    const named = problems.filter((p) => p.kind === "export_file_unlisted" && p.detail.includes("/replaced/, where a directory export") && p.detail.includes("the only copy of that file of the earlier export"));
    expect(named.length, JSON.stringify(problems, null, 1)).toBe(left.size);

    // done as it says: the earlier export is whole again, and the next export replaces it
    for (const rel of left.keys()) fs.renameSync(path.join(replaced, rel), path.join(out, rel));
    fs.rmSync(staging, { recursive: true });
    const restored = files(out);
    for (const [rel, bytes] of earlier) expect([rel, restored.get(rel)]).toEqual([rel, bytes]);
    const again = await runCli(["export", auditDir, "--format", "dir", "--out", out]);
    expect(again.code, again.stderr).toBe(0);
    const verified = await runCli(["verify", out]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(fs.readdirSync(out).filter((n) => n.includes("staging"))).toEqual([]);
  }, 240_000);
});
