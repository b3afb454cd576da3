import { createHash } from "node:crypto";

/**
 * RFC 6962 Merkle tree hash, kept incrementally: the tree over leaves d[0..n) is stored as its
 * perfect subtrees (the binary digits of n), so appending is amortised O(1) and the root O(log n).
 * Leaf hash = SHA-256(0x00 ‖ d), node hash = SHA-256(0x01 ‖ left ‖ right), empty tree = SHA-256("").
 */
export class MerkleAccumulator {
  private sizes: number[] = [];
  private hashes: Buffer[] = [];
  size = 0;

  /** Appends a leaf; `leaf` is the record hash as 64 hex characters. */
  push(leafHex: string): void {
    let h: Buffer = createHash("sha256").update(LEAF).update(Buffer.from(leafHex, "hex")).digest();
    let s = 1;
    while (this.sizes.length > 0 && this.sizes[this.sizes.length - 1] === s) {
      const left = this.hashes.pop()!;
      this.sizes.pop();
      h = nodeHash(left, h);
      s *= 2;
    }
    this.sizes.push(s);
    this.hashes.push(h);
    this.size++;
  }

  /** The compact form of the tree so far (its perfect subtrees), enough to continue it. */
  frontier(): MerkleFrontier {
    return { size: this.size, subtrees: this.hashes.map((h) => h.toString("hex")) };
  }

  /** Continues a tree from a frontier (e.g. one saved when the leaves before it were pruned). */
  static fromFrontier(f: MerkleFrontier): MerkleAccumulator {
    const m = new MerkleAccumulator();
    let rest = f.size;
    const sizes: number[] = [];
    for (let bit = 2 ** Math.floor(Math.log2(Math.max(1, rest))); bit >= 1; bit /= 2) {
      if (rest >= bit) {
        sizes.push(bit);
        rest -= bit;
      }
    }
    if (f.size === 0) sizes.length = 0;
    if (sizes.length !== f.subtrees.length) throw new Error(`frontier of size ${f.size} needs ${sizes.length} subtrees, has ${f.subtrees.length}`);
    m.sizes = sizes;
    m.hashes = f.subtrees.map((h) => Buffer.from(h, "hex"));
    m.size = f.size;
    return m;
  }

  /** The root as hex. */
  root(): string {
    return rootOf(this.hashes).toString("hex");
  }
}

export interface MerkleFrontier {
  readonly size: number;
  /** hex roots of the perfect subtrees, largest (leftmost) first */
  readonly subtrees: readonly string[];
}

const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash("sha256").update(NODE).update(left).update(right).digest();
}

function rootOf(subtrees: readonly Buffer[]): Buffer {
  if (subtrees.length === 0) return createHash("sha256").digest();
  let acc = subtrees[subtrees.length - 1]!;
  for (let i = subtrees.length - 2; i >= 0; i--) acc = nodeHash(subtrees[i]!, acc);
  return acc;
}

/** MTH over a list of hex digests (used for the root over the kinds' roots). */
export function merkleRootOf(leavesHex: readonly string[]): string {
  const m = new MerkleAccumulator();
  for (const l of leavesHex) m.push(l);
  return m.root();
}
