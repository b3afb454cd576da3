/**
 * `verify <dir>` of a session whose signing key was rotated: its older checkpoints signed by the
 * key rotated out, the newest by the new one. As `verify --export` does (see
 * export-proofs-rotated-key.test.ts), the newest checkpoint's key is the one needed: older
 * checkpoints signed by a key not given get a `history_key_not_given` note, never counted as
 * signed, and are still held against the log and linked to the newest. Until 2026-12-06 each of
 * them was a `checkpoint_unknown_key` problem: a directory whose key was rotated failed unless
 * every key it was ever signed with was given (found by review). A tampered older segment is
 * still found with the new key alone, also when the attacker re-signs the older checkpoints with
 * a key of their own. Real keys, a real logger resumed with the new key, the real command.
 */
import type { KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VerifyReport } from "../../src/index.js";
import { publicKeyId } from "../../src/integrity/signing.js";
import { writeRotatedSession } from "../fixtures/integrity/rotated.js";
import { chainFiles, checkpointsFile, editLines, newSigner, readLines, rebuildCheckpoints, rechain } from "../fixtures/integrity/tamper.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

let auditDir = "";
let oldPem = "";
let newPem = "";
let oldId = "";
let newId = "";
let currentPrivate: KeyObject | undefined;

beforeAll(async () => {
  // segments of 1 KiB, so that the records signed by the first key lie in segments the second
  // run no longer writes
  const s = await writeRotatedSession({ records: 6, memo: "m".repeat(300), rotation: { size: "1k" } });
  ({ auditDir, oldPem, newPem } = s);
  oldId = publicKeyId(s.rotatedOut.publicKey);
  newId = publicKeyId(s.current.publicKey);
  currentPrivate = s.current.privateKey;
}, 120_000);

afterAll(() => cleanupTmp());

/** The checkpoints' numbers and key ids, as in the file. */
function checkpoints(dir: string): Array<[number, string]> {
  return readLines(checkpointsFile({ auditDir: dir, sessionId: "s" })).map((l) => {
    const c = (JSON.parse(l) as { checkpoint: { n: number; keyId: string } }).checkpoint;
    return [c.n, c.keyId];
  });
}

/** A copy of the log to tamper with. */
function copy(): string {
  const dir = path.join(tmpProject("audit-dir-rotated-copy-"), "audit_logs");
  fs.cpSync(auditDir, dir, { recursive: true });
  return dir;
}

async function verifyWith(dir: string, ...pems: string[]): Promise<{ code: number | null; report: VerifyReport; text: string }> {
  const args = ["verify", dir, ...pems.flatMap((p) => ["--public-key", p])];
  const json = await runCli([...args, "--json"]);
  const text = await runCli(args);
  expect(text.code).toBe(json.code);
  return { code: json.code, report: JSON.parse(json.stdout) as VerifyReport, text: text.stdout };
}

describe("verify <dir> of a session whose signing key was rotated", () => {
  it("the log: checkpoints signed by the key rotated out, then by the new one; records of both in older segments", () => {
    const cps = checkpoints(auditDir);
    const byOld = cps.filter(([, id]) => id === oldId).map(([n]) => n);
    const byNew = cps.filter(([, id]) => id === newId).map(([n]) => n);
    expect(byOld.length).toBeGreaterThanOrEqual(2);
    expect(byNew.length).toBeGreaterThanOrEqual(2);
    expect(cps.map(([n]) => n)).toEqual([...byOld, ...byNew]);
    expect(chainFiles(auditDir, "tool_usage", "s").length).toBeGreaterThan(2);
  });

  it("the new key alone: no problem, exit 0; a note names the older checkpoints, the key rotated out and how to give it", async () => {
    const byOld = checkpoints(auditDir).filter(([, id]) => id === oldId).map(([n]) => n);
    const { code, report, text } = await verifyWith(auditDir, newPem);
    expect(report.problems).toEqual([]);
    expect(code).toBe(0);
    const notes = report.notes.filter((n) => n.kind === "history_key_not_given");
    expect(notes).toHaveLength(1);
    expect(notes[0]!.file).toBe("checkpoints_s.jsonl");
    expect(notes[0]!.detail).toContain(`The older checkpoints ${byOld[0]} to ${byOld.at(-1)} of session s are signed by ${oldId}, not among the keys given (${newId})`);
    expect(notes[0]!.detail).toContain("their signatures were not checked");
    expect(notes[0]!.detail).toContain("pass its public key (another --public-key <file>");
    expect(text).toContain("note history_key_not_given checkpoints_s.jsonl");
    expect(text).toContain("OK 12 records in 1 session");
  }, 60_000);

  it("both keys: every signature checked, no such note", async () => {
    const { code, report } = await verifyWith(auditDir, newPem, oldPem);
    expect(report.problems).toEqual([]);
    expect(report.notes).toEqual([]);
    expect(code).toBe(0);
  }, 60_000);

  it("the old key alone: the newest checkpoint's key is needed: checkpoint_unknown_key naming its key id and how to pass it, exit 1", async () => {
    const cps = checkpoints(auditDir);
    const newest = cps.at(-1)![0];
    const { code, report, text } = await verifyWith(auditDir, oldPem);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toEqual(["checkpoint_unknown_key"]);
    expect(report.problems[0]!.detail).toContain(`Checkpoint ${newest}, the newest of session s, was signed by ${newId}, which is not among the keys given (${oldId})`);
    expect(report.problems[0]!.detail).toContain("pass its public key too (another --public-key <file>");
    // the older ones signed by the new key are a note; those signed by the old key were checked
    const byNew = cps.filter(([n, id]) => id === newId && n !== newest).map(([n]) => n);
    expect(report.notes.filter((n) => n.kind === "history_key_not_given").map((n) => n.detail)).toEqual([expect.stringContaining(`The older checkpoint${byNew.length === 1 ? "" : "s"} ${byNew[0]}`)]);
    expect(text).toContain(`PROBLEM checkpoint_unknown_key checkpoints_s.jsonl: Checkpoint ${newest}, the newest of session s`);
  }, 60_000);

  it("a key of neither: checkpoint_unknown_key for the newest, exit 1", async () => {
    const dir = tmpProject("audit-dir-rotated-other-");
    const otherPem = path.join(dir, "other.pub.pem");
    fs.writeFileSync(otherPem, newSigner().publicKey.export({ type: "spki", format: "pem" }));
    const { code, report } = await verifyWith(auditDir, otherPem);
    expect(code).toBe(1);
    expect(report.problems.map((p) => p.kind)).toEqual(["checkpoint_unknown_key"]);
    expect(report.problems[0]!.detail).toContain(`was signed by ${newId}, which is not among the keys given`);
  }, 60_000);

  it("no key: self-consistent only (a note says so), as before; --require-signed without a key: a usage error naming --public-key, exit 2", async () => {
    const { code, report } = await verifyWith(auditDir);
    expect(code).toBe(0);
    expect(report.notes.map((n) => n.kind)).toEqual(["self_consistent_only"]);
    const strict = await runCli(["verify", auditDir, "--require-signed"]);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain("option --require-signed needs --public-key");
    expect(strict.stderr).toContain("[AUDIT_ERR_CONFIG]");
  }, 60_000);

  it("a directory export of it (export --format dir, its manifest signed by the new key): verify <export> with the new key alone is OK, the same note", async () => {
    const out = path.join(tmpProject("audit-dir-rotated-export-"), "export");
    const pem = currentPrivate!.export({ type: "pkcs8", format: "pem" }).toString();
    const made = await runCli(["export", auditDir, "--format", "dir", "--out", out, "--include-content"], { env: { AUDIT_LOGGER_SIGNING_KEY: pem } });
    expect(made.code, made.stderr).toBe(0);
    expect(fs.readdirSync(path.join(out, "integrity"))).toContain("checkpoints_s.jsonl");
    const { code, report } = await verifyWith(out, newPem);
    expect(report.problems).toEqual([]);
    expect(code).toBe(0);
    expect(report.notes.filter((n) => n.kind === "history_key_not_given").map((n) => n.detail)).toEqual([expect.stringContaining(`of session s are signed by ${oldId}, not among the keys given (${newId})`)]);
    const wrong = await verifyWith(out, oldPem);
    expect(wrong.code).toBe(1);
    expect(wrong.report.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(["checkpoint_unknown_key", "export_manifest_unknown_key"]));
  }, 60_000);

  it("a record of the oldest segment edited: found with the new key alone (record_modified), exit 1", async () => {
    const dir = copy();
    const first = chainFiles(dir, "tool_usage", "s")[0]!;
    editLines(first, (ls) => ls.map((l, i) => (i === 0 ? l.replace('"operation":"before 0"', '"operation":"before 9"') : l)));
    const { code, report } = await verifyWith(dir, newPem);
    expect(code).toBe(1);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "record_modified", file: path.basename(first), seq: 1 }));
  }, 60_000);

  it("the oldest segment rewritten, the chain recomputed and the older checkpoints re-signed with a key of the attacker's: found with the new key alone (the newest checkpoint's roots, its link), exit 1", async () => {
    const dir = copy();
    const cps = checkpoints(dir);
    const newest = cps.at(-1)![0];
    const byOld = cps.filter(([, id]) => id === oldId).length;
    const first = chainFiles(dir, "tool_usage", "s")[0]!;
    editLines(first, (ls) => ls.map((l, i) => (i === 0 ? l.replace('"operation":"before 0"', '"operation":"before 9"') : l)));
    rechain(dir, "tool_usage", "s");
    // (checkpoints signed by a key not given are not signature-checked: the forger signs them
    // with a key of their own; each matches the rewritten log)
    rebuildCheckpoints({ auditDir: dir, sessionId: "s" }, newSigner().privateKey, { first: byOld });
    const { code, report } = await verifyWith(dir, newPem);
    expect(code).toBe(1);
    const kinds = report.problems.map((p) => p.kind);
    // (the chain itself is self-consistent again: the attacker recomputed it)
    expect(kinds).not.toContain("chain_broken");
    // the first checkpoint signed by the new key no longer links to the one before it, and the
    // newest's tool_usage root is not that of the log now
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "checkpoint_chain_broken", detail: expect.stringContaining(`Checkpoint ${byOld + 1} (line ${byOld + 1}) does not follow checkpoint ${byOld}`) }));
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "checkpoint_mismatch", detail: expect.stringContaining(`differ from what checkpoint ${newest} signed`) }));
    // and the older checkpoints are named in the note, not counted as signed
    expect(report.notes.map((n) => n.kind)).toContain("history_key_not_given");
  }, 60_000);
});
