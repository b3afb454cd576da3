/**
 * The folders a JSON or CSV export creates for its file are 0700, as its files are 0600 and a
 * directory export's folder is 0700 (audit data is not world-listable); a folder that was there
 * already keeps its mode. Until 2026-12-06 the created folders were 0777 less the umask (0755).
 * Real logger, real files, the exporter's API and the real CLI as a child process.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { AuditExporter } from "../../src/export/exporter.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";
import { runCli } from "../cli/helpers.js";

afterEach(() => cleanupTmp());

const modeOf = (p: string): number => fs.statSync(p).mode & 0o777;

async function logged(): Promise<{ projectPath: string; auditDir: string }> {
  const projectPath = tmpProject("audit-export-mode-");
  const l = new AuditLogger({ sessionId: "s1", projectPath, fullContentLogging: false });
  l.logToolUsage({ toolName: "t", operation: "o" });
  await l.finalizeSession();
  return { projectPath, auditDir: auditDirOf(projectPath) };
}

describe("folders an export creates", () => {
  it("exportToJson and a CSV export make their missing folders 0700, every level, and leave an existing folder's mode alone", async () => {
    const { projectPath, auditDir } = await logged();
    const exporter = new AuditExporter({ auditPath: auditDir });
    const existing = path.join(projectPath, "shared");
    fs.mkdirSync(existing);
    fs.chmodSync(existing, 0o755);
    const json = path.join(existing, "exports", "2026-12", "audit.json");
    await exporter.exportToJson(json);
    expect(modeOf(json)).toBe(0o600);
    expect(modeOf(path.dirname(json))).toBe(0o700);
    expect(modeOf(path.join(existing, "exports"))).toBe(0o700);
    expect(modeOf(existing)).toBe(0o755);
    const csv = path.join(projectPath, "csv", "tools.csv");
    expect(await exporter.exportToolUsagesToCsv(csv)).toBe(1);
    expect(modeOf(csv)).toBe(0o600);
    expect(modeOf(path.dirname(csv))).toBe(0o700);
    expect(auditDir).not.toBe(path.dirname(csv));
  });

  it("audit-logger export --out into a new folder makes it 0700 (json, and csv of one kind)", async () => {
    const { projectPath, auditDir } = await logged();
    const json = path.join(projectPath, "cli", "a", "audit.json");
    const r = await runCli(["export", auditDir, "--format", "json", "--out", json]);
    expect(r.code, r.stderr).toBe(0);
    expect(modeOf(json)).toBe(0o600);
    expect(modeOf(path.dirname(json))).toBe(0o700);
    expect(modeOf(path.join(projectPath, "cli"))).toBe(0o700);
    const csv = path.join(projectPath, "cli-csv", "tools.csv");
    const c = await runCli(["export", auditDir, "--format", "csv", "--kind", "tool_usage", "--out", csv]);
    expect(c.code, c.stderr).toBe(0);
    expect(modeOf(csv)).toBe(0o600);
    expect(modeOf(path.dirname(csv))).toBe(0o700);
  });
});
