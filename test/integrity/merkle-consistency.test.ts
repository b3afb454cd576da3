/**
 * RFC 9162 consistency proofs (src/integrity/merkle.ts): made from a chain's tree, checked with the
 * two roots alone. Every pair of sizes up to 40 leaves against roots computed leaf by leaf; and
 * the proofs of another tree, an altered node, a wrong size or root all fail.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { consistencyProof, MerkleAccumulator, MerkleLevels, rootsConsistent } from "../../src/integrity/merkle.js";

const hashes = (n: number, tag = "r") => Array.from({ length: n }, (_, i) => createHash("sha256").update(`${tag}${i}`).digest("hex"));
const rootOf = (leaves: readonly string[]) => {
  const m = new MerkleAccumulator();
  for (const l of leaves) m.push(l);
  return m.root();
};

describe("consistency proofs", () => {
  it("for every 0 <= m <= n <= 40: the proof from the tree of m leaves to the tree of n verifies with the two roots, and fails with another first root, another size or an altered node", () => {
    const all = hashes(40);
    const other = hashes(40, "forged");
    for (let n = 1; n <= all.length; n++) {
      const levels = new MerkleLevels(all.slice(0, n));
      const newRoot = rootOf(all.slice(0, n));
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(levels, m)!;
        expect(proof, `${m} -> ${n}`).toBeDefined();
        const oldRoot = rootOf(all.slice(0, m));
        expect(rootsConsistent(m, n, oldRoot, newRoot, proof), `${m} -> ${n}`).toBe(true);
        if (m === 0) continue;
        // a forged first tree (its last leaf another): its root is not a prefix of the second tree
        const forged = rootOf([...all.slice(0, m - 1), other[m - 1]!]);
        expect(rootsConsistent(m, n, forged, newRoot, proof), `forged ${m} -> ${n}`).toBe(false);
        if (m === n) continue;
        expect(rootsConsistent(m, n, oldRoot, rootOf([...all.slice(0, n - 1), other[n - 1]!]), proof), `second forged ${m} -> ${n}`).toBe(false);
        for (let i = 0; i < proof.length; i++) {
          const altered = proof.map((h, j) => (j === i ? createHash("sha256").update(h).digest("hex") : h));
          expect(rootsConsistent(m, n, oldRoot, newRoot, altered), `altered node ${i} of ${m} -> ${n}`).toBe(false);
        }
        expect(rootsConsistent(m, n, oldRoot, newRoot, proof.slice(0, -1)), `shortened ${m} -> ${n}`).toBe(false);
        expect(rootsConsistent(m, n, oldRoot, newRoot, [...proof, proof[0]!]), `lengthened ${m} -> ${n}`).toBe(false);
        if (m + 1 < n) expect(rootsConsistent(m + 1, n, oldRoot, newRoot, proof), `size ${m + 1} -> ${n}`).toBe(false);
      }
    }
  });

  it("equal sizes need equal roots and an empty proof; a first size beyond the second, or out of range, is no proof", () => {
    const all = hashes(7);
    const root = rootOf(all);
    expect(rootsConsistent(7, 7, root, root, [])).toBe(true);
    expect(rootsConsistent(7, 7, rootOf(hashes(7, "x")), root, [])).toBe(false);
    expect(rootsConsistent(8, 7, root, root, [])).toBe(false);
    expect(consistencyProof(new MerkleLevels(all), 8)).toBeUndefined();
    expect(consistencyProof(new MerkleLevels(all), -1)).toBeUndefined();
  });

  it("from a tree continued from a frontier (leaves pruned): a proof from a size at or past the frontier is made and verifies; one that needs a pruned leaf's node is undefined", () => {
    const all = hashes(37);
    const acc = new MerkleAccumulator();
    for (const l of all.slice(0, 13)) acc.push(l);
    const levels = new MerkleLevels(all.slice(13), acc.frontier());
    const newRoot = rootOf(all);
    for (let m = 13; m <= 37; m++) {
      const proof = consistencyProof(levels, m);
      if (proof === undefined) continue;
      expect(rootsConsistent(m, 37, rootOf(all.slice(0, m)), newRoot, proof), `${m}`).toBe(true);
    }
    expect(consistencyProof(levels, 13)).toBeDefined();
    // 5 leaves: the node over leaves 4..5 is needed, and leaf 5 is pruned (only the subtrees 8, 4, 1 of 13 are known)
    expect(consistencyProof(levels, 5)).toBeUndefined();
  });
});
