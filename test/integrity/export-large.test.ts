// Found by review 2026-12-04 (fourth session): the export's records document was read whole
// (readFileSync + JSON.parse), so verifying an export took memory in proportion to its size and one
// past V8's string limit (~512 MiB) could not be read at all: its manifest was signed with every
// chain head at seq 0, and it never verified. It is now read line by line in the exporter's layout;
// here the proof is a 40 MB export verified by a child process with a 48 MB heap (the whole-document
// reading ran out of memory there), and a document in another layout still read whole.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditExporter, AuditLogger, verifyExport } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { REPO_ROOT } from "../helpers/core.js";
import { childArgs } from "../helpers/child-args.js";

const RECORDS = 15_000;
let exportDir: string;

beforeAll(async () => {
  const projectPath = tmpProject("audit-export-large-");
  const logger = new AuditLogger({ sessionId: "big", projectPath, fullContentLogging: false, contentPreviewChars: 1000 });
  const text = "lorem ipsum dolor sit amet ".repeat(40);
  for (let i = 0; i < RECORDS; i++) logger.logChatInteraction({ prompt: `${i} ${text}`, response: `${text} ${i}`, model: "gpt-4o", inputTokens: 10, outputTokens: 5 });
  await logger.finalizeSession();
  exportDir = path.join(projectPath, "export");
  await new AuditExporter({ auditPath: logger.auditDir }).exportCompleteAuditToDirectory(exportDir, { includeFullContent: true });
}, 120_000);

afterAll(cleanupTmp);

describe("verifying a large directory export", () => {
  it("reads the records line by line: a 40 MB export verifies in a process with a 48 MB heap", () => {
    expect(fs.statSync(path.join(exportDir, "audit_complete.json")).size).toBeGreaterThan(35_000_000);
    const r = spawnSync(process.execPath, ["--max-old-space-size=48", ...childArgs(path.join(REPO_ROOT, "test/fixtures/integrity/verify-export.ts")), exportDir], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!)).toEqual({ ok: true, problems: [], recordsChecked: RECORDS });
  }, 150_000);

  it("a document in another layout (reformatted) is still read whole: only the file's change is reported, its chains check out", async () => {
    const copy = path.join(tmpProject("audit-export-large-copy-"), "export");
    fs.cpSync(exportDir, copy, { recursive: true });
    const doc = path.join(copy, "audit_complete.json");
    const parsed = JSON.parse(fs.readFileSync(doc, "utf8")) as unknown;
    fs.writeFileSync(doc, JSON.stringify(parsed));
    const r = await verifyExport(copy);
    expect(r.problems.map((p) => p.kind)).toEqual(["export_file_modified"]);
    expect(r.recordsChecked).toBe(RECORDS);
  }, 60_000);
});
