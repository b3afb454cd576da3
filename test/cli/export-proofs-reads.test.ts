/**
 * `export --format json --proofs` reads each chain once for its proofs: the history's consistency
 * proofs and the records' inclusion proofs come from one tree per chain. Until 2026-12-06 the
 * tree built for the history was let go (but for the last one built), and every chain that grew
 * between checkpoints after the first the export reaches was read again for its inclusion proofs:
 * three reads with the export's own. Counted as the kernel sees them: the real command under
 * `strace -f -e trace=openat`, the opens of each chain file with proofs less those without.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { signedGrowingSessions } from "../helpers/sessions.js";
import { argsFor, REPO_ROOT } from "./helpers.js";

let auditDir = "";
let out = "";

beforeAll(async () => {
  const signer = generateKeyPairSync("ed25519");
  const projectPath = tmpProject("audit-proofs-reads-");
  out = tmpProject("audit-proofs-reads-out-");
  // three signed sessions, a checkpoint every 4 records and 2 KiB segments: each persona and
  // tool chain grew between checkpoints, over a rotated segment or two
  auditDir = await signedGrowingSessions(projectPath, ["s1", "s2", "s3"], signer.privateKey, { size: 2048 });
});
afterAll(cleanupTmp);

/** The opens of each persona and tool chain file (segments too) by `audit-logger export … [--proofs]`. */
function opensOf(proofs: boolean): Map<string, number> {
  const trace = path.join(out, `trace-${proofs}.txt`);
  const file = path.join(out, `export-${proofs}.json`);
  const args = ["export", auditDir, "--format", "json", "--out", file, "--include-content", ...(proofs ? ["--proofs"] : [])];
  const r = spawnSync("strace", ["-f", "-e", "trace=openat", "-o", trace, process.execPath, ...argsFor(args)], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  const opens = new Map<string, number>();
  for (const line of fs.readFileSync(trace, "utf8").split("\n")) {
    const m = /openat\([^"]*"([^"]+)"/.exec(line);
    if (!m || line.includes("ENOENT")) continue;
    const name = path.basename(m[1]!);
    if (path.dirname(m[1]!) !== auditDir || !/^(persona_activities|tool_usage)_s\d(\.\d+)?\.jsonl$/.test(name)) continue;
    opens.set(name, (opens.get(name) ?? 0) + 1);
  }
  return opens;
}

describe("export --proofs of several signed sessions whose chains grew between checkpoints", () => {
  it("opens every chain file as many more times than the export without proofs as one read of the chain does: the same for every chain, once for an active file", () => {
    const without = opensOf(false);
    const withProofs = opensOf(true);
    const names = [...without.keys()].sort();
    expect(names.filter((n) => /^[a-z_]+_s\d\.jsonl$/.test(n))).toHaveLength(6);
    expect(names.filter((n) => /\.\d+\.jsonl$/.test(n)).length).toBeGreaterThanOrEqual(6);
    expect([...withProofs.keys()].sort()).toEqual(names);
    const extra = Object.fromEntries(names.map((n) => [n, withProofs.get(n)! - without.get(n)!]));
    // an active file is opened once a read; a rotated segment as often in every chain (the
    // reader looks at a segment before it reads it): as often as the first chain's
    const perSegment = extra["persona_activities_s1.1.jsonl"];
    expect(extra).toEqual(Object.fromEntries(names.map((n) => [n, /\.\d+\.jsonl$/.test(n) ? perSegment : 1])));
    expect(perSegment).toBeGreaterThan(0);
    expect(perSegment).toBeLessThanOrEqual(2);
  }, 240_000);
});
