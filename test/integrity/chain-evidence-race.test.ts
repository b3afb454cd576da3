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

describe("copyChainEvidence while the session's logger rotates", () => {
  it("copies every audit_event record once, in order, with no gap", async () => {
    const project = tmpProject("evidence-race-");
    const child = startFixture("audit-event-churn-child.mts", {}, [project, "churn", "4000"]);
    children.push(child);
    await child.waitForLine((l) => l === "ready", "ready");
    const auditDir = auditDirOf(project);
    const out = tmpProject("evidence-race-out-");
    const gaps: string[] = [];
    let copies = 0;
    let segmentsSeen = 0;
    while (!child.lines.includes("done") && copies < 2000) {
      const exportDir = path.join(out, String(copies++));
      copyChainEvidence(auditDir, exportDir, ["churn"]);
      const seqs = copiedSeqs(exportDir, "churn");
      segmentsSeen = Math.max(segmentsSeen, fs.readdirSync(path.join(exportDir, "integrity")).filter((n) => /^audit_events_churn\.\d+\.jsonl$/.test(n)).length);
      const want = Array.from({ length: seqs.length }, (_, i) => i + 1);
      if (JSON.stringify(seqs) !== JSON.stringify(want)) gaps.push(`copy ${copies}: ${seqs.length} records, first break after seq ${seqs.findIndex((s, i) => s !== i + 1)}`);
      fs.rmSync(exportDir, { recursive: true });
      await new Promise((r) => setImmediate(r));
    }
    expect((await child.exited).code).toBe(0);
    expect(segmentsSeen).toBeGreaterThan(5); // the chain did rotate while it was copied
    // (how many copies fit in the child's run depends on the machine's load: 6 under a full
    // suite on 2 cores; the segments seen above say the race was run)
    expect(copies).toBeGreaterThanOrEqual(3);
    expect(gaps).toEqual([]);
  }, 60_000);
});
