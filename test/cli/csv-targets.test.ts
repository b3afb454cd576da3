// `export --format csv` (every kind) checks every file it will write before it writes any.
// (Found by the CLI pass, 2026-12-06: a FIFO at <out>/errors.csv was refused with "nothing was
// written" after the five other CSVs had been written, exit 1, none of them reported.)
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterAll(cleanupTmp);

describe("export --format csv of every kind", () => {
  it("refuses a FIFO or a link among its file names before writing any file (exit 1, AUDIT_ERR_PATH, naming --out and the file)", async () => {
    const projectPath = tmpProject("audit-csv-targets-");
    const logger = new AuditLogger({ sessionId: "s1", projectPath });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    logger.logError(new Error("e"));
    await logger.finalizeSession();
    for (const [name, make, what] of [
      ["errors.csv", (p: string) => execFileSync("mkfifo", [p]), "a FIFO"],
      ["tool_usage.csv", (p: string) => fs.symlinkSync("/dev/null", p), "a symbolic link"],
    ] as const) {
      const out = tmpProject("audit-csv-targets-out-");
      make(path.join(out, name));
      const r = await runCli(["export", projectPath, "--format", "csv", "--out", out]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`option --out: ${path.join(out, name)} is ${what}, not a regular file`);
      expect(r.stderr).toContain("[AUDIT_ERR_PATH]");
      expect(r.stdout).toBe("");
      expect(fs.readdirSync(out)).toEqual([name]);
    }
  }, 60_000);
});
