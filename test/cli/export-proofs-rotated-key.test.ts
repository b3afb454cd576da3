/**
 * `verify --export` of a session whose signing key was rotated: its older checkpoints (in
 * `proofs.history`) signed by the key rotated out, the newest by the new one. The records' proofs
 * rest on the newest checkpoint, so the new public key alone proves them; the older checkpoints
 * signed by a key not given are not checked, and a note names that key id and how to give it.
 * Until 2026-12-06 each of them was a `checkpoint_unknown_key` problem: the export failed unless
 * every key the session was ever signed with was given (found by review). The newest checkpoint
 * signed by a key not given still fails, its problem naming the key id and how to pass it. Real
 * keys, a real logger resumed with the new key, the real command.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExportProofReport } from "../../src/index.js";
import { publicKeyId } from "../../src/integrity/signing.js";
import { writeRotatedSession, type RotatedSession } from "../fixtures/integrity/rotated.js";
import { cleanupTmp } from "../helpers/index.js";
import { runCli } from "./helpers.js";

let rotatedOut: RotatedSession["rotatedOut"];
let current: RotatedSession["current"];
let exported = "";
let oldPem = "";
let newPem = "";

beforeAll(async () => {
  // session "s" signed with one key, then resumed with the next: checkpoints 1, 2 by the first, 3, 4 by the second
  const s = await writeRotatedSession({ records: 5 });
  ({ rotatedOut, current, oldPem, newPem } = s);
  const { auditDir, out } = s;
  exported = path.join(out, "s.json");
  const r = await runCli(["export", auditDir, "--format", "json", "--out", exported, "--proofs", "--include-content"]);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

afterAll(() => cleanupTmp());

async function verifyWith(...pems: string[]): Promise<{ code: number | null; report: ExportProofReport; text: string }> {
  const args = ["verify", "--export", exported, ...pems.flatMap((p) => ["--public-key", p])];
  const json = await runCli([...args, "--json"]);
  const text = await runCli(args);
  return { code: json.code, report: JSON.parse(json.stdout) as ExportProofReport, text: text.stdout };
}

describe("verify --export of a session whose signing key was rotated", () => {
  it("the export holds the older checkpoints signed by the key rotated out, the newest by the new one", () => {
    const doc = JSON.parse(fs.readFileSync(exported, "utf8")) as { proofs: { checkpoints: Array<{ checkpoint: { n: number; keyId: string } }>; history: Array<{ older: { checkpoint: { n: number; keyId: string } } }> } };
    expect(doc.proofs.checkpoints.map((c) => [c.checkpoint.n, c.checkpoint.keyId])).toEqual([[4, publicKeyId(current.publicKey)]]);
    expect(doc.proofs.history.map((h) => [h.older.checkpoint.n, h.older.checkpoint.keyId])).toEqual([
      [1, publicKeyId(rotatedOut.publicKey)],
      [2, publicKeyId(rotatedOut.publicKey)],
      [3, publicKeyId(current.publicKey)],
    ]);
  });

  it("the new key alone: every record proven, exit 0; a note names the key id of the older checkpoints not checked and how to give it", async () => {
    const { code, report, text } = await verifyWith(newPem);
    expect(report.problems).toEqual([]);
    expect(report.status).toBe("proven");
    expect(code).toBe(0);
    expect(report.records.every((r) => r.status === "proven")).toBe(true);
    const notes = report.notes.filter((n) => n.kind === "history_key_not_given");
    expect(notes).toHaveLength(1);
    expect(notes[0]!.detail).toContain(`checkpoints 1 to 2 of session s`);
    expect(notes[0]!.detail).toContain(`signed by ${publicKeyId(rotatedOut.publicKey)}`);
    expect(notes[0]!.detail).toContain("pass its public key too (another --public-key <file>");
    expect(text).toContain("history_key_not_given");
  }, 60_000);

  it("both keys: the whole history checked, no such note", async () => {
    const { code, report } = await verifyWith(newPem, oldPem);
    expect(report.problems).toEqual([]);
    expect(report.status).toBe("proven");
    expect(code).toBe(0);
    expect(report.notes.filter((n) => n.kind === "history_key_not_given")).toEqual([]);
  }, 60_000);

  it("the old key alone: the newest checkpoint is signed by a key not given: checkpoint_unknown_key naming its key id and how to pass it, every record failed, exit 1", async () => {
    const { code, report } = await verifyWith(oldPem);
    expect(code).toBe(1);
    expect(report.status).toBe("failed");
    const unknown = report.problems.filter((p) => p.kind === "checkpoint_unknown_key");
    expect(unknown.length).toBeGreaterThan(0);
    expect(unknown[0]!.detail).toContain(`The checkpoint 4 of session s was signed by ${publicKeyId(current.publicKey)}, which is not among the keys given (${publicKeyId(rotatedOut.publicKey)})`);
    expect(unknown[0]!.detail).toContain("pass its public key too (another --public-key <file>");
    expect(report.records.every((r) => r.status === "failed")).toBe(true);
  }, 60_000);
});
