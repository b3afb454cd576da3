/**
 * A directory export killed (SIGKILL) during its moves into place, the real `audit-logger export`
 * child process under strace: the rename it is killed at is failed (`error=EIO`) and the process
 * killed there (`signal=SIGKILL`), which rename that is counted in a run of the same export into
 * a copy of the directory.
 *
 * Killed after its last move (the manifest), before it renamed its `replaced/` (the earlier
 * export's files) to `superseded/`: the directory holds the new export whole. Until 2026-12-06 the
 * next export there stopped (AUDIT_ERR_PATH, "holds some files of each export"); now it tells
 * that case (its staging folder holds nothing but `replaced/`, and the directory's manifest and
 * every file it lists match) and supersedes the earlier export itself, as the killed one would
 * have; verify, meanwhile, says so of the files in `replaced/`. Not when the directory does not hold a whole export (a file of it changed since): then it
 * stops, removing nothing, and says which folder holds which export's files. Killed between two
 * moves: it stops as before, saying so.
 */
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";
import { filesUnder, tracedCli, tracedRenames } from "./traced.js";

const signer = generateKeyPairSync("ed25519");
const signingPem = signer.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const env = { AUDIT_LOGGER_SIGNING_KEY: signingPem };
let projectPath = "";
let auditDir = "";
let publicPem = "";

afterAll(() => cleanupTmp());

async function session(sessionId: string, n: number): Promise<void> {
  const logger = new AuditLogger({ sessionId, projectPath, fullContentLogging: false, signingKey: signer.privateKey });
  for (let i = 0; i < n; i++) logger.logToolUsage({ toolName: "t", operation: `${sessionId} ${i}` });
  await logger.finalizeSession();
  auditDir = logger.auditDir;
}

beforeAll(async () => {
  projectPath = tmpProject("audit-superseded-");
  await session("first", 3);
  publicPem = path.join(tmpProject("audit-superseded-key-"), "signing.pub.pem");
  fs.writeFileSync(publicPem, signer.publicKey.export({ type: "spki", format: "pem" }));
}, 60_000);

const exportArgs = (out: string) => ["export", auditDir, "--format", "dir", "--out", out];

/** The staging folders in `out`. */
const stagings = (out: string) => fs.readdirSync(out).filter((n) => n.endsWith(".staging"));

/**
 * An export of the logs into `out`, then, with one more session logged, the next export into it
 * killed at the rename `pick` finds in a traced run of that export into a copy of `out`. Returns
 * the files of the first export, and the staging folder the killed one left.
 */
async function killedExport(tag: string, pick: (renames: readonly string[], copy: string) => number): Promise<{ out: string; earlier: Map<string, string>; staging: string }> {
  const out = path.join(tmpProject(`audit-superseded-${tag}-`), "export");
  const first = await runCli(exportArgs(out), { env });
  expect(first.code, first.stderr).toBe(0);
  const earlier = filesUnder(out);
  expect([...earlier.keys()].some((f) => f.startsWith("integrity/"))).toBe(true);
  await session(`more-${tag}`, 4);
  const copy = path.join(path.dirname(out), "copy");
  fs.cpSync(out, copy, { recursive: true });
  const dry = tracedCli(exportArgs(copy), path.join(path.dirname(out), "dry.trace"), undefined, env);
  expect(dry.status, dry.stderr).toBe(0);
  const renames = tracedRenames(path.join(path.dirname(out), "dry.trace"));
  const at = pick(renames, copy);
  expect(at, renames.join("\n")).toBeGreaterThan(0);
  const killed = tracedCli(exportArgs(out), path.join(path.dirname(out), "killed.trace"), `error=EIO:signal=SIGKILL:when=${at + 1}`, env);
  // (strace kills itself with its tracee's signal)
  expect(killed.signal ?? killed.status, killed.stderr).toSatisfy((s: unknown) => s === "SIGKILL" || s === 137);
  const left = stagings(out);
  expect(left).toHaveLength(1);
  return { out, earlier, staging: path.join(out, left[0]!) };
}

/**
 * The next export into `out` stops (exit 1, AUDIT_ERR_PATH) naming the staging folder's
 * `replaced/` as the earlier export's files, and changes nothing else in `out`: those files are
 * still the earlier export's. Its stderr.
 */
async function refusedNext(out: string, staging: string, earlier: ReadonlyMap<string, string>): Promise<string> {
  // (but the lock the killed export held, which one that stops under the lock takes over and releases, as any of a process gone)
  const unlocked = () => new Map([...filesUnder(out)].filter(([rel]) => rel !== "export.lock"));
  const before = unlocked();
  const next = await runCli(exportArgs(out), { env });
  expect(next.code).toBe(1);
  expect(next.stderr).toContain("[AUDIT_ERR_PATH]");
  const replaced = path.join(staging, "replaced");
  expect(next.stderr).toContain(`${replaced} holds the earlier export's files it had moved out (`);
  expect(unlocked()).toEqual(before);
  for (const [rel, bytes] of filesUnder(replaced)) expect([rel, bytes]).toEqual([rel, earlier.get(rel)]);
  return next.stderr;
}

/** The index of the rename of `…staging/replaced` to `…staging/superseded`. */
const supersedeRename = (renames: readonly string[]) => renames.findIndex((l) => /\.staging\/replaced", "[^"]+\.staging\/superseded"/.test(l));

describe("a directory export killed during its moves into place", () => {
  it("after its last move, before replaced/ became superseded/: the next export supersedes the earlier export, exits 0, and the directory verifies", async () => {
    const { out, earlier, staging } = await killedExport("last", supersedeRename);
    // what the kill left: the new export in place, whole; the earlier one's files in replaced/, nothing else in the staging folder
    expect(fs.readdirSync(staging).sort()).toEqual([".audit-logger-staging", "replaced"]);
    const replaced = filesUnder(path.join(staging, "replaced"));
    for (const [rel, bytes] of replaced) expect([rel, bytes]).toEqual([rel, earlier.get(rel)]);
    expect(fs.readFileSync(path.join(out, "audit_complete.json"), "utf8")).toContain("more-last");
    // verify says so of each file in replaced/ (not that the directory holds files of both)
    const meanwhile = await runCli(["verify", out, "--public-key", publicPem, "--json"]);
    expect(meanwhile.code).toBe(1);
    const problems = (JSON.parse(meanwhile.stdout) as { problems: Array<{ kind: string; file: string; detail: string }> }).problems;
    // (and the staging folder's mark, and the lock the killed export held)
    expect(problems.map((p) => p.kind)).toEqual(problems.map(() => "export_file_unlisted"));
    const inReplaced = problems.filter((p) => p.file.includes(".staging/replaced/"));
    expect(inReplaced.map((p) => p.file.split(".staging/replaced/")[1]).sort()).toEqual([...replaced.keys()].sort());
    for (const p of inReplaced) expect(p.detail).toContain("the directory holds the later export whole (every file as its manifest lists it). It was not checked: the next export to this directory supersedes the earlier export");

    const next = await runCli(exportArgs(out), { env });
    expect(next.stderr).not.toContain("AUDIT_ERR_PATH");
    expect(next.code, next.stderr).toBe(0);
    expect(stagings(out)).toEqual([]);
    expect(fs.existsSync(path.join(out, "export.lock"))).toBe(false);
    const verified = await runCli(["verify", out, "--public-key", publicPem]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain("OK");
  }, 240_000);

  it("after its last move, but a file of the export in place changed since: the next export stops (AUDIT_ERR_PATH), saying the directory holds no whole export, and removes nothing", async () => {
    const { out, earlier, staging } = await killedExport("changed", supersedeRename);
    fs.appendFileSync(path.join(out, "tool_usage.csv"), "one more line\n");
    const stderr = await refusedNext(out, staging, earlier);
    expect(stderr).toContain(`every file of the later export was moved out of ${staging}, but ${out} does not hold a whole export (its manifest is missing, or a file it lists is missing or differs)`);
    expect(stderr).toContain(`To keep the earlier export, move each of them back into ${out} in place of the file of the same name (or elsewhere); then remove ${staging}, and export again.`);
  }, 240_000);

  it("after its last move, but its process still running (the folder named by this test's own pid): the next export stops (AUDIT_ERR_PATH), saying the later export is in place whole, and removes nothing", async () => {
    const { out, earlier, staging: left } = await killedExport("running", supersedeRename);
    const staging = path.join(out, path.basename(left).replace(/^export\.\d+/, `export.${process.pid}`));
    fs.renameSync(left, staging);
    const stderr = await refusedNext(out, staging, earlier);
    expect(stderr).toContain(`${out} holds the later export, whole (every file of it was moved in, and they match its manifest)`);
    expect(fs.readdirSync(staging).sort()).toEqual([".audit-logger-staging", "replaced"]);
  }, 240_000);

  it("between two moves (the new manifest not moved in yet): the next export stops (AUDIT_ERR_PATH), naming the earlier export's files in replaced/ and the later one's left in the staging folder, and removes nothing", async () => {
    const { out, earlier, staging } = await killedExport("between", (renames, copy) => renames.findIndex((l) => l.includes(`.staging/export_manifest.json", "${path.join(copy, "export_manifest.json")}"`)));
    expect(fs.existsSync(path.join(out, "export_manifest.json"))).toBe(false);
    const stderr = await refusedNext(out, staging, earlier);
    expect(stderr).toContain(`${staging} still holds the files of the later export it had not moved in (export_manifest.json), and ${out} holds the rest of each export, mixed`);
    expect([...filesUnder(path.join(staging, "replaced")).keys()]).toContain("export_manifest.json");
  }, 240_000);
});
