// Found 2026-12-05: walkChain (behind verify, the viewer's records, the evidence copy, the
// PostgreSQL backfill and `tail`) listed the directory again whenever a rotation had made new
// segments, and each listing opens every segment's first line. Against a logger rotating every few
// milliseconds (2 KiB segments), once there were some 1,600 segments a listing took longer than
// the next rotation: the walk read 5,369 segments in 20 s (1,600 at its start, a new one every
// 5 ms) and never reached the active file, and `verify` of the live session was still running
// after 30 s. A real child process writes; the walk is bounded by a deadline here, and verify runs
// in a process of its own that is killed when it overruns, so the test fails instead of hanging.
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { walkChain } from "../../src/reader/chain-files.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { startCli } from "../cli/helpers.js";
import { auditDirOf, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

const SEGMENTS = 1600;
const segmentsOf = (dir: string) => fs.readdirSync(dir).filter((n) => /^tool_usage_churn\.\d+\.jsonl$/.test(n)).length;

/** A child logging tool usage with 2 KiB rotation, once it has made `SEGMENTS` segments (it goes on, a segment every few ms). */
async function churning(): Promise<string> {
  const project = tmpProject("rotation-churn-");
  const child = startFixture("rotation-churn-child.mts", {}, [project, "churn", String(SEGMENTS)]);
  children.push(child);
  await child.waitForLine((l) => l === "ready", "ready");
  const auditDir = auditDirOf(project);
  expect(segmentsOf(auditDir)).toBeGreaterThanOrEqual(SEGMENTS);
  return auditDir;
}

/** The seqs of a file's complete lines (the file by name, or the descriptor the walk opened). */
function seqsOf(source: string | number): number[] {
  const lines = fs.readFileSync(source, "utf8").split("\n");
  lines.pop(); // (the part after the last newline: empty, or a line still being written)
  return lines.map((l) => (JSON.parse(l) as { seq: number }).seq);
}

describe("walking a chain while its logger rotates every few milliseconds", () => {
  it("ends within 20 s, having read every segment there was at the start and every record from seq 1 once, in order", async () => {
    const auditDir = await churning();
    const atStart = segmentsOf(auditDir);
    const started = Date.now();
    const seqs: number[] = [];
    let ended = false;
    let lastSegment = 0;
    const steps = walkChain(auditDir, "tool_usage", "churn");
    try {
      for (let step = steps.next(); ; step = steps.next()) {
        if (step.done) {
          ended = true;
          break;
        }
        const cur = step.value;
        if (cur.kind === "active") {
          try {
            seqs.push(...seqsOf(cur.fd));
          } finally {
            fs.closeSync(cur.fd);
          }
        } else {
          seqs.push(...seqsOf(cur.file.path));
          lastSegment = cur.segment;
        }
        if (Date.now() - started > 20_000) break;
      }
    } finally {
      steps.return(undefined);
    }
    const ms = Date.now() - started;
    expect(ended, `after ${ms} ms, ${lastSegment} segments read (${atStart} at the start, ${segmentsOf(auditDir)} now)`).toBe(true);
    expect(lastSegment).toBeGreaterThanOrEqual(atStart); // (every segment there was at the start)
    const gap = seqs.findIndex((s, i) => s !== i + 1);
    expect(gap, `first break after seq ${gap}`).toBe(-1);
  }, 120_000);

  it("verify of the live session ends and reports no problem", async () => {
    const auditDir = await churning();
    // (the built command under `npm test`, as the other CLI tests: see test/cli/helpers.ts)
    const verify = startCli(["verify", auditDir, "--session", "churn", "--json"]);
    let out = "";
    let err = "";
    verify.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    verify.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const ended = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        verify.kill("SIGKILL");
        resolve(false);
      }, 30_000);
      verify.on("close", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    expect(ended, `verify still running after 30 s (${segmentsOf(auditDir)} segments now)`).toBe(true);
    const report = JSON.parse(out) as { ok: boolean; problems: unknown[]; recordsChecked: number };
    expect(report.problems, err).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.recordsChecked).toBeGreaterThan(SEGMENTS);
  }, 120_000);
});
