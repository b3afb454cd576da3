// copyChainEvidence (behind the directory export's integrity/ folder) listed the audit_event
// chain's files once and then copied them by name: a rotation by a logger still writing the
// session meanwhile turned the active file into a segment that was never copied, and the newer
// active file was copied under that name, so the exported chain had a gap (found 2026-12-05,
// following the readers' rotation race). A real child process places and releases legal holds
// with 2 KiB rotation while this process copies the evidence again and again.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { copyChainEvidence } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

/** The seqs of the copied audit_event chain, segments by number then the active file. */
function copiedSeqs(exportDir: string, sessionId: string): number[] {
  const dir = path.join(exportDir, "integrity");
  const stem = `audit_events_${sessionId}`;
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.startsWith(stem)) : [];
  const segment = (n: string) => (n === `${stem}.jsonl` ? Infinity : Number(n.slice(stem.length + 1, -".jsonl".length)));
  files.sort((a, b) => segment(a) - segment(b));
  return files.flatMap((n) =>
    fs
      .readFileSync(path.join(dir, n), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { seq: number }).seq),
  );
}

/** The audit_event chain's segments in the audit directory (the active file not counted). */
function segmentsIn(auditDir: string): number {
  return fs.readdirSync(auditDir).filter((n) => /^audit_events_churn\.\d+\.jsonl$/.test(n)).length;
}

/**
 * Copies made while the chain rotated, after which the test stops the child. The race is run by a
 * rotation during a copy, not by the number of records: the code before the fix left a gap in 13
 * and 16 of 20 such copies (two runs, 2026-12-06). Until then the test copied until the child had
 * written all its 4,000 records, and each copy copies every segment so far (~660 by the end): on
 * a loaded machine (load 17 to 22 on 2 cores) it ran past its 60 s twice in two runs.
 */
const RACED = 20;

describe("copyChainEvidence while the session's logger rotates", () => {
  it("copies every audit_event record once, in order, with no gap", async () => {
    const project = tmpProject("evidence-race-");
    const stopFile = path.join(project, "stop");
    const child = startFixture("audit-event-churn-child.mts", {}, [project, "churn", "4000", stopFile]);
    children.push(child);
    await child.waitForLine((l) => l === "ready", "ready");
    const auditDir = auditDirOf(project);
    const out = tmpProject("evidence-race-out-");
    const gaps: string[] = [];
    let copies = 0;
    let raced = 0;
    while (!child.lines.includes("done") && raced < RACED) {
      const exportDir = path.join(out, String(copies++));
      const segmentsBefore = segmentsIn(auditDir);
      copyChainEvidence(auditDir, exportDir, ["churn"]);
      // the chain rotated while this copy was made
      if (segmentsIn(auditDir) > segmentsBefore) raced++;
      const seqs = copiedSeqs(exportDir, "churn");
      const want = Array.from({ length: seqs.length }, (_, i) => i + 1);
      if (JSON.stringify(seqs) !== JSON.stringify(want)) gaps.push(`copy ${copies}: ${seqs.length} records, first break after seq ${seqs.findIndex((s, i) => s !== i + 1)}`);
      fs.rmSync(exportDir, { recursive: true });
      await new Promise((r) => setImmediate(r));
    }
    fs.writeFileSync(stopFile, "");
    expect((await child.exited).code).toBe(0);
    // the race was run: copies were made while the chain rotated (RACED of them, unless the child
    // wrote its 4,000 records first, which a loaded machine's scheduling could make happen)
    expect(raced).toBeGreaterThanOrEqual(3);
    expect(gaps).toEqual([]);
  }, 60_000);
});
