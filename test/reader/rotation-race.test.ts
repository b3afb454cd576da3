// Found by review 2026-12-05: the viewer's record source (behind the exports, analytics and the
// session summary) listed a kind's files once and opened the active file by name when it got
// there; a rotation in between turned the old active file into a segment it never read, and it
// read the new active file instead (38 of 80 records, seqs 35..78 missing). The rotation is driven
// between the reader's steps: the iterator is consumed partway, the logger logs enough to rotate,
// then the read goes on.
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/logger.js";
import { AuditViewer } from "../../src/reader/viewer.js";
import { verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterEach(cleanupTmp);

const segmentsOf = (dir: string) => fs.readdirSync(dir).filter((n) => /^tool_usage_race\.\d+\.jsonl$/.test(n)).length;

async function readWhileRotating(pauseAfter: number): Promise<{ seqs: number[]; segmentsBefore: number; segmentsAfter: number }> {
  const logger = new AuditLogger({ sessionId: "race", projectPath: tmpProject("rotation-race-"), rotation: { size: "2k" }, fullContentLogging: false, durability: "sync" });
  try {
    for (let i = 0; i < 40; i++) logger.logToolUsage({ toolName: "t", operation: `op${i}` });
    await logger.flush();
    const segmentsBefore = segmentsOf(logger.auditDir);
    const viewer = new AuditViewer({ auditPath: logger.auditDir });
    const seqs: number[] = [];
    let segmentsAfter = segmentsBefore;
    for await (const r of viewer.iterate("tool_usage")) {
      seqs.push(r.seq);
      if (seqs.length === pauseAfter) {
        for (let i = 0; i < 40; i++) logger.logToolUsage({ toolName: "t", operation: `more${i}` });
        await logger.flush();
        segmentsAfter = segmentsOf(logger.auditDir);
      }
    }
    return { seqs, segmentsBefore, segmentsAfter };
  } finally {
    await logger.finalizeSession();
  }
}

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("reading a session while its logger rotates", () => {
  it("a rotation while the first segment is read: every record once, in chain order, none skipped", async () => {
    const { seqs, segmentsBefore, segmentsAfter } = await readWhileRotating(1);
    expect(segmentsAfter).toBeGreaterThan(segmentsBefore); // the logger did rotate meanwhile
    expect(seqs).toEqual(oneTo(80));
  });

  it("the same when the rotation comes while a later segment is read", async () => {
    const { seqs, segmentsBefore, segmentsAfter } = await readWhileRotating(20);
    expect(segmentsBefore).toBeGreaterThan(1);
    expect(segmentsAfter).toBeGreaterThan(segmentsBefore);
    expect(seqs).toEqual(oneTo(80));
  });
});

// The same for verifyAuditLog (found 2026-12-05): it listed a kind's files once, so verifying a
// live session while its logger rotated read newer records under the old active file's name and
// reported chain_broken and seq_gap with nothing tampered (10 of 10 runs).
describe("verifying a session while its logger rotates", () => {
  it("reports no problem: each chain is read as the files were, however the logger rotates meanwhile", async () => {
    const logger = new AuditLogger({ sessionId: "race", projectPath: tmpProject("verify-race-"), rotation: { size: "2k" }, fullContentLogging: false, durability: "sync" });
    try {
      for (let i = 0; i < 300; i++) logger.logToolUsage({ toolName: "t", operation: `op${i}` });
      for (let round = 0; round < 3; round++) {
        const before = segmentsOf(logger.auditDir);
        let done = false;
        const report = verifyAuditLog(logger.auditDir).finally(() => (done = true));
        while (!done) {
          logger.logToolUsage({ toolName: "t", operation: "during" });
          await new Promise((r) => setImmediate(r));
        }
        const r = await report;
        expect(segmentsOf(logger.auditDir)).toBeGreaterThan(before); // it did rotate while verify read
        expect(r.problems).toEqual([]);
        expect(r.ok).toBe(true);
      }
    } finally {
      await logger.finalizeSession();
    }
  });
});

// The same race one step earlier (seen once under load in rotation-churn.test.ts, 2026-12-05):
// verify lists the directory, then looks at each file named like a chain file; a rotation renames
// the active file and opens a new one, and a look in between found no file there, which was
// reported as "not a regular file" (file_not_regular). The rename is made from inside the look,
// right before it, and undone after (what the new active file's open does).
describe("verify looking at a file a rotation just renamed", () => {
  it("a chain file gone between the listing and the look is not reported as not regular", async () => {
    const logger = new AuditLogger({ sessionId: "gap", projectPath: tmpProject("verify-gap-"), fullContentLogging: false, durability: "sync" });
    for (let i = 0; i < 5; i++) logger.logToolUsage({ toolName: "t", operation: `op${i}` });
    await logger.finalizeSession();
    const active = `${logger.auditDir}/tool_usage_gap.jsonl`;
    const aside = `${logger.auditDir}/.rotating`;
    const lstat = fs.lstatSync;
    let looked = 0;
    (fs as { lstatSync: unknown }).lstatSync = ((p: fs.PathLike, ...rest: unknown[]) => {
      if (String(p) !== active) return (lstat as (...a: unknown[]) => unknown)(p, ...rest);
      looked++;
      fs.renameSync(active, aside);
      try {
        return (lstat as (...a: unknown[]) => unknown)(p, ...rest);
      } finally {
        fs.renameSync(aside, active);
      }
    }) as typeof fs.lstatSync;
    let r: Awaited<ReturnType<typeof verifyAuditLog>>;
    try {
      r = await verifyAuditLog(logger.auditDir);
    } finally {
      (fs as { lstatSync: unknown }).lstatSync = lstat;
    }
    expect(looked).toBeGreaterThan(0); // the look did fall in the gap
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
  });
});
