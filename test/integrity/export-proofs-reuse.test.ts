/**
 * exportToJson's `proofs` builds each chain's tree once for the history's consistency proofs,
 * and hands every one to the inclusion proofs: each chain is read once for its proofs (until
 * 2026-12-06 every chain that grew between checkpoints was read twice for them and its tree built
 * twice, bench/proofs.ts; then the first the export reaches was read once, the others still
 * twice). Each proof must still be that of its own chain (checked here against trees rebuilt
 * from the log files, and by the verifier).
 */
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditExporter, verifyExportProofs } from "../../src/index.js";
import { consistencyProof, MerkleLevels } from "../../src/integrity/merkle.js";
import type { Checkpoint } from "../../src/integrity/checkpoint.js";
import { KIND_FILE_STEM, type ChainKind } from "../../src/types.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { signedGrowingSessions } from "../helpers/sessions.js";

afterEach(cleanupTmp);

interface Doc {
  proofs: { checkpoints: Checkpoint[]; history?: Array<{ older: Checkpoint; consistency: Record<string, string[]> }> };
  records: Record<string, Array<{ sessionId: string; type: ChainKind; seq: number; proof: { status: string; path?: string[]; treeSize?: number } }>>;
}

describe("exportToJson({ proofs: true }) of two signed sessions whose chains grew between checkpoints", () => {
  it("every proof is its own chain's (the trees rebuilt from the logs agree), everything verifies, and every chain is read once for its proofs (once more than by an export without them)", async () => {
    const signer = generateKeyPairSync("ed25519");
    const projectPath = tmpProject("audit-proofs-reuse-");
    const auditDir = await signedGrowingSessions(projectPath, ["s1", "s2"], signer.privateKey);
    const exporter = new AuditExporter({ auditPath: auditDir });
    const reads = new Map<string, number>();
    const records = exporter.viewer.source.records.bind(exporter.viewer.source);
    exporter.viewer.source.records = (kind, sessionId) => {
      reads.set(`${kind}/${sessionId}`, (reads.get(`${kind}/${sessionId}`) ?? 0) + 1);
      return records(kind, sessionId);
    };
    const file = path.join(projectPath, "all.json");
    await exporter.exportToJson(path.join(projectPath, "plain.json"), { includeFullContent: true });
    const plain = new Map(reads);
    reads.clear();
    await exporter.exportToJson(file, { proofs: true, includeFullContent: true });
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as Doc;

    // the trees as the log files give them, up to each session's newest checkpoint
    const newest = new Map(doc.proofs.checkpoints.map((c) => [c.checkpoint.sessionId, c.checkpoint]));
    const tree = (sessionId: string, kind: ChainKind): MerkleLevels => {
      const lines = fs.readFileSync(path.join(auditDir, `${KIND_FILE_STEM[kind]}_${sessionId}.jsonl`), "utf8").split("\n").filter((l) => l !== "");
      const size = newest.get(sessionId)!.heads[kind]!.seq;
      return new MerkleLevels(lines.map((l) => JSON.parse(l) as { seq: number; hash: string }).filter((r) => r.seq <= size).map((r) => r.hash));
    };
    const history = doc.proofs.history ?? [];
    expect(new Set(history.map((h) => h.older.checkpoint.sessionId))).toEqual(new Set(["s1", "s2"]));
    let consistencies = 0;
    for (const h of history) {
      const sessionId = h.older.checkpoint.sessionId;
      const next = [...history.map((x) => x.older), doc.proofs.checkpoints.find((c) => c.checkpoint.sessionId === sessionId)!].find((c) => c.checkpoint.sessionId === sessionId && c.checkpoint.n === h.older.checkpoint.n + 1)!;
      for (const [kind, proof] of Object.entries(h.consistency)) {
        expect(proof).toEqual(consistencyProof(tree(sessionId, kind as ChainKind), h.older.checkpoint.heads[kind as ChainKind]!.seq, next.checkpoint.heads[kind as ChainKind]!.seq));
        consistencies++;
      }
    }
    expect(consistencies).toBeGreaterThan(8);
    let covered = 0;
    for (const rec of Object.values(doc.records).flat()) {
      if (rec.proof.status !== "covered") continue;
      expect(rec.proof.path).toEqual(tree(rec.sessionId, rec.type).auditPath(rec.seq - 1));
      covered++;
    }
    expect(covered).toBeGreaterThan(40);
    const r = await verifyExportProofs(file, { publicKey: signer.publicKey });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);

    // each chain with proofs: read once more than without (for the history, its tree kept for the inclusion proofs)
    for (const chain of ["persona_activity/s1", "persona_activity/s2", "tool_usage/s1", "tool_usage/s2"]) expect([chain, reads.get(chain)! - plain.get(chain)!]).toEqual([chain, 1]);
    expect(reads.get("chat_interaction/s2")).toBe(plain.get("chat_interaction/s2"));
  });
});
