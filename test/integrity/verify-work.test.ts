// verify looked for encrypted-key references from each line's start to the end of its 1 MiB chunk
// (noteKeyRefs, since 2026-12-04): a chain of 30,000 short lines was verified at ~4 MB/s, not
// ~100 (bench/verify.ts: ratio 0.03 against bare SHA-256, target 0.5; found 2026-12-05). Counted,
// not timed: the bytes Buffer#indexOf looks at stay within a few passes over the chain's bytes.
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { listKindFiles } from "../../src/sink/files.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { work } from "../helpers/work.js";

afterEach(cleanupTmp);

describe("the work verify does", () => {
  it("searches each line's bytes a few times, not the rest of its chunk per line", async () => {
    const logger = new AuditLogger({ sessionId: "work", projectPath: tmpProject("verify-work-"), fullContentLogging: false });
    for (let i = 0; i < 6000; i++) logger.logToolUsage({ toolName: "t", operation: `op${i}`, parameters: { i } });
    await logger.finalizeSession();
    const bytes = listKindFiles(logger.auditDir, "tool_usage", "work").reduce((n, f) => n + fs.statSync(f.path).size, 0);
    expect(bytes).toBeGreaterThan(1 << 20); // (more than one chunk)
    let ok = false;
    const w = await work(async () => {
      ok = (await verifyAuditLog(logger.auditDir)).ok;
    });
    expect(ok).toBe(true);
    expect(w.searched).toBeLessThan(8 * bytes);
  });
});
