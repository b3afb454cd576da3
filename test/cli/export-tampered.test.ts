/**
 * `audit-logger export` of logs that do not verify. An export made without content leaves out the
 * chain hashes of a log that is not encrypted (docs/VIEWER.md), so the export's own `verify` can no
 * longer see an edit made to the logs before it: the exporter is the last to see the evidence.
 * (Found by the viewer pass, 2026-12-05: an edited record was exported with exit 0 and no word, and
 * `verify` of the directory export said OK.)
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterAll(cleanupTmp);

async function trail(): Promise<string> {
  const projectPath = tmpProject("audit-export-tampered-");
  const logger = new AuditLogger({ sessionId: "s1", projectPath });
  for (let i = 0; i < 4; i++) logger.logChatInteraction({ model: "gpt-4o", prompt: `question ${i}`, response: `answer ${i}`, inputTokens: 10, outputTokens: 5 });
  logger.logToolUsage({ toolName: "kb", operation: "search", parameters: { q: "x" }, result: { hits: 1 } });
  await logger.finalizeSession();
  return path.join(projectPath, "audit_logs");
}

describe("export of logs that do not verify", () => {
  it("says so on stderr, naming the problems, and exits 1; the export is written; logs that verify export with exit 0 and no such word", async () => {
    const dir = await trail();
    const outOk = path.join(tmpProject(), "ok");
    const ok = await runCli(["export", dir, "--format", "dir", "--out", outOk]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);

    const file = path.join(dir, "chat_interactions_s1.jsonl");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace('"responsePreview":"answer 2"', '"responsePreview":"answer 7"'));
    const out = path.join(tmpProject(), "bad");
    const r = await runCli(["export", dir, "--format", "dir", "--out", out]);
    expect(r.stdout).toContain("export_manifest.json");
    expect(fs.existsSync(path.join(out, "export_manifest.json"))).toBe(true);
    expect(r.stderr).toMatch(/do not verify/);
    expect(r.stderr).toMatch(/record_modified chat_interactions_s1\.jsonl seq 3/);
    expect(r.code).toBe(1);
    // what the export's own check says: nothing (the hashes that would show it are withheld)
    const v = await runCli(["verify", out]);
    expect(v.code).toBe(0);

    for (const args of [["--format", "json", "--out", path.join(tmpProject(), "a.json")], ["--format", "csv", "--kind", "chat_interaction", "--out", path.join(tmpProject(), "a.csv")]]) {
      const j = await runCli(["export", dir, ...args]);
      expect(j.stderr).toMatch(/record_modified/);
      expect(j.code).toBe(1);
    }
  }, 60_000);
});
