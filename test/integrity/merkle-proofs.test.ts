/**
 * RFC 6962 inclusion proofs (src/integrity/merkle.ts: MerkleLevels, rootFromAuditPath) against a
 * reference written here from the RFC's definitions (section 2.1: MTH, PATH), independent of the
 * kit's code: every leaf of every tree of 1 to 17 leaves, and trees continued from a frontier.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MerkleAccumulator, MerkleLevels, rootFromAuditPath } from "../../src/integrity/merkle.js";

const sha = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();

/** MTH(D[n]) of RFC 6962 2.1, recursively. */
function mth(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return sha(Buffer.from([0]), d[0]!);
  const k = largestPowerOfTwoBelow(d.length);
  return sha(Buffer.from([1]), mth(d.slice(0, k)), mth(d.slice(k)));
}

/** PATH(m, D[n]) of RFC 6962 2.1.1. */
function refPath(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length === 1) return [];
  const k = largestPowerOfTwoBelow(d.length);
  return m < k ? [...refPath(m, d.slice(0, k)), mth(d.slice(k))] : [...refPath(m - k, d.slice(k)), mth(d.slice(0, k))];
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** record hashes: 32 distinct bytes each */
const records = (n: number) => Array.from({ length: n }, (_, i) => sha(Buffer.from(`record ${i}`)));
const hex = (b: readonly Buffer[]) => b.map((x) => x.toString("hex"));

describe("RFC 6962 inclusion proofs", () => {
  it("MerkleLevels gives the reference PATH(m, D[n]) and root for every leaf of trees of 1..17 leaves, and rootFromAuditPath leads back to the root", () => {
    for (let n = 1; n <= 17; n++) {
      const d = records(n);
      const levels = new MerkleLevels(hex(d));
      const root = mth(d).toString("hex");
      expect(levels.root(), `root of ${n}`).toBe(root);
      expect(levels.root(), "the same root as the checkpoints' accumulator").toBe(accRoot(d));
      for (let m = 0; m < n; m++) {
        const path = levels.auditPath(m);
        expect(path, `PATH(${m}, D[${n}])`).toEqual(hex(refPath(m, d)));
        expect(rootFromAuditPath(d[m]!.toString("hex"), m, n, path!), `verify ${m} of ${n}`).toBe(root);
      }
    }
  });

  it("rootFromAuditPath rejects a path given for another index, size or leaf", () => {
    for (let n = 2; n <= 17; n++) {
      const d = records(n);
      const root = mth(d).toString("hex");
      for (let m = 0; m < n; m++) {
        const path = hex(refPath(m, d));
        const leaf = d[m]!.toString("hex");
        if (m + 1 < n) expect(rootFromAuditPath(leaf, m + 1, n, path)).not.toBe(root);
        expect(rootFromAuditPath(d[(m + 1) % n]!.toString("hex"), m, n, path)).not.toBe(root);
        if (path.length > 0) {
          const flipped = [...path];
          flipped[0] = flipped[0]!.replace(/^./, (c) => (c === "0" ? "1" : "0"));
          expect(rootFromAuditPath(leaf, m, n, flipped)).not.toBe(root);
          expect(rootFromAuditPath(leaf, m, n, path.slice(1))).not.toBe(root);
        }
        expect(rootFromAuditPath(leaf, m, n, [...path, path[0] ?? leaf])).toBeUndefined();
      }
      expect(rootFromAuditPath(d[0]!.toString("hex"), n, n, [])).toBeUndefined();
    }
  });

  it("a tree continued from a frontier (the first leaves pruned) gives the same paths for the leaves after it", () => {
    for (let n = 1; n <= 17; n++) {
      const d = records(n);
      for (let p = 1; p <= n; p++) {
        const acc = new MerkleAccumulator();
        for (const x of d.slice(0, p)) acc.push(x.toString("hex"));
        const levels = new MerkleLevels(hex(d.slice(p)), acc.frontier());
        expect(levels.root(), `root of ${n} from ${p}`).toBe(mth(d).toString("hex"));
        for (let m = p; m < n; m++) expect(levels.auditPath(m), `PATH(${m}, D[${n}]) from ${p}`).toEqual(hex(refPath(m, d)));
      }
    }
  });
});

function accRoot(d: readonly Buffer[]): string {
  const acc = new MerkleAccumulator();
  for (const x of d) acc.push(x.toString("hex"));
  return acc.root();
}
