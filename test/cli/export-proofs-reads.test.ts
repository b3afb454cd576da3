/**
 * `export --format json --proofs` reads each chain once for its proofs: the history's consistency
 * proofs and the records' inclusion proofs come from one tree per chain. Until 2026-12-06 the
 * tree built for the history was let go (but for the last one built), and every chain that grew
 * between checkpoints after the first the export reaches was read again for its inclusion proofs:
 * three reads with the export's own. Without content, the chat and tool chains of each session
 * are read in the same read for the withheld-in-clear decision: until 2026-12-06 that took a
 * read of its own, whole when the content is encrypted (two more reads of those chains than an
 * export without proofs). Counted as the kernel sees them: the real command under
 * `strace -f -e trace=openat`, the opens of each chain file with proofs less those without.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { signedGrowingSessions } from "../helpers/sessions.js";
import { argsFor, REPO_ROOT } from "./helpers.js";

let auditDir = "";
let encryptedDir = "";
let out = "";

beforeAll(async () => {
  const signer = generateKeyPairSync("ed25519");
  const projectPath = tmpProject("audit-proofs-reads-");
  out = tmpProject("audit-proofs-reads-out-");
  // three signed sessions, a checkpoint every 4 records and 2 KiB segments: each persona and
  // tool chain grew between checkpoints, over a rotated segment or two
  auditDir = await signedGrowingSessions(projectPath, ["s1", "s2", "s3"], signer.privateKey, { rotation: { size: 2048 } });
  // the same, content encrypted, with a chat after each tool use: an export without content
  // withholds nothing in clear, so each session gets proofs
  encryptedDir = await signedGrowingSessions(tmpProject("audit-proofs-reads-enc-"), ["s1", "s2", "s3"], signer.privateKey, { rotation: { size: 2048 }, encryptionKey: TEST_KEY, chats: true });
});
afterAll(cleanupTmp);

/** The opens of each file (segments too) of the chains named by `stems` in `dir` by `audit-logger export … [--proofs]`. */
function opensOf(dir: string, stems: readonly string[], proofs: boolean, content: boolean): Map<string, number> {
  const tag = `${path.basename(path.dirname(dir))}-${proofs}-${content}`;
  const trace = path.join(out, `trace-${tag}.txt`);
  const file = path.join(out, `export-${tag}.json`);
  const args = ["export", dir, "--format", "json", "--out", file, ...(content ? ["--include-content"] : []), ...(proofs ? ["--proofs"] : [])];
  const r = spawnSync("strace", ["-f", "-e", "trace=openat", "-o", trace, process.execPath, ...argsFor(args)], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  if (proofs) {
    // (each session proven: none withheld, the header holds its checkpoint)
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { proofs: { checkpoints: unknown[] }; records: Record<string, Array<{ proof: { status: string } }>> };
    expect(doc.proofs.checkpoints).toHaveLength(3);
    expect(new Set(Object.values(doc.records).flat().map((x) => x.proof.status))).toEqual(new Set(["covered"]));
  }
  const opens = new Map<string, number>();
  for (const line of fs.readFileSync(trace, "utf8").split("\n")) {
    const m = /openat\([^"]*"([^"]+)"/.exec(line);
    if (!m || line.includes("ENOENT")) continue;
    const name = path.basename(m[1]!);
    if (path.dirname(m[1]!) !== dir || !new RegExp(`^(${stems.join("|")})_s\\d(\\.\\d+)?\\.jsonl$`).test(name)) continue;
    opens.set(name, (opens.get(name) ?? 0) + 1);
  }
  return opens;
}

/** The opens of each chain file with proofs less those without, checked to be one read's: once for an active file, for a rotated segment as often in every chain. */
function expectOneReadMore(dir: string, stems: readonly string[], content: boolean): void {
  const without = opensOf(dir, stems, false, content);
  const withProofs = opensOf(dir, stems, true, content);
  const chains = 3 * stems.length;
  const names = [...without.keys()].sort();
  expect(names.filter((n) => /^[a-z_]+_s\d\.jsonl$/.test(n))).toHaveLength(chains);
  expect(names.filter((n) => /\.\d+\.jsonl$/.test(n)).length).toBeGreaterThanOrEqual(chains);
  expect([...withProofs.keys()].sort()).toEqual(names);
  const extra = Object.fromEntries(names.map((n) => [n, withProofs.get(n)! - without.get(n)!]));
  // an active file is opened once a read; a rotated segment as often in every chain (the
  // reader looks at a segment before it reads it): as often as the first chain's
  const perSegment = extra["persona_activities_s1.1.jsonl"];
  expect(extra).toEqual(Object.fromEntries(names.map((n) => [n, /\.\d+\.jsonl$/.test(n) ? perSegment : 1])));
  expect(perSegment).toBeGreaterThan(0);
  expect(perSegment).toBeLessThanOrEqual(2);
}

describe("export --proofs of several signed sessions whose chains grew between checkpoints", () => {
  it("opens every chain file as many more times than the export without proofs as one read of the chain does: the same for every chain, once for an active file", () => {
    expectOneReadMore(auditDir, ["persona_activities", "tool_usage"], true);
  }, 240_000);

  it("of an encrypted log, without content: the chat and tool chains too, their withheld-in-clear check made in the read that builds their trees", () => {
    expectOneReadMore(encryptedDir, ["persona_activities", "tool_usage", "chat_interactions"], false);
  }, 240_000);
});
