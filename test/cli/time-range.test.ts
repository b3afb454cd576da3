// A --since at or after --until is a range that holds no time: report and export refuse it as bad
// usage, naming both, before they read or write anything. (Found by the CLI pass, 2026-12-06:
// `report --since 2026-12-06 --until 2026-12-05` printed an empty report, and export wrote an
// empty export, each with exit 0, as if the trail held nothing in that range.)
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterAll(cleanupTmp);

describe("--since and --until that hold no time", () => {
  it("are refused by report and export (exit 2, AUDIT_ERR_CONFIG, both named), nothing written; a range that holds time works", async () => {
    const projectPath = tmpProject("audit-cli-range-");
    const logger = new AuditLogger({ sessionId: "s1", projectPath });
    logger.logToolUsage({ toolName: "t", operation: "o", success: true });
    await logger.finalizeSession();
    const out = path.join(tmpProject("audit-cli-range-out-"), "x.json");
    for (const [since, until] of [["2026-12-06", "2026-12-05"], ["2026-12-06T10:00:00Z", "2026-12-06T10:00:00Z"], ["2026-12-06T12:00:00+02:00", "2026-12-06T09:30:00Z"]]) {
      for (const args of [["report", projectPath], ["export", projectPath, "--format", "json", "--out", out], ["export", projectPath, "--format", "csv", "--kind", "tool_usage", "--out", out]]) {
        const r = await runCli([...args, "--since", since!, "--until", until!]);
        const what = `${args.join(" ")} ${since} ${until}: ${r.stderr}`;
        expect(r.code, what).toBe(2);
        expect(r.stderr, what).toContain("option --until");
        expect(r.stderr, what).toContain("--since");
        expect(r.stderr, what).toContain("[AUDIT_ERR_CONFIG]");
        expect(r.stdout, what).toBe("");
        expect(fs.existsSync(out), what).toBe(false);
      }
    }
    const ok = await runCli(["report", projectPath, "--since", "2000-01-01", "--until", "2100-01-01"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("records    1 (");
  }, 90_000);
});
