import crypto, { createHash } from "node:crypto";

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
    let h = leafHash(leafHex);
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
    const sizes = subtreeSizes(f.size);
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

/** The sizes of the perfect subtrees of a tree of `size` leaves, largest (leftmost) first: the binary digits of `size`. */
function subtreeSizes(size: number): number[] {
  const sizes: number[] = [];
  let rest = size;
  for (let bit = 2 ** Math.floor(Math.log2(Math.max(1, rest))); bit >= 1 && rest > 0; bit /= 2) {
    if (rest >= bit) {
      sizes.push(bit);
      rest -= bit;
    }
  }
  return sizes;
}

/** A leaf's hash: SHA-256(0x00 ‖ the record hash's 32 bytes). */
function leafHash(leafHex: string): Buffer {
  return createHash("sha256").update(LEAF).update(Buffer.from(leafHex, "hex")).digest();
}

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

/**
 * Every level of one RFC 6962 tree, built once, for inclusion proofs of many of its leaves (an
 * export with proofs asks for each exported record's, of a chain of any size: one pass over the
 * chain, then O(log n) per proof). Level 0 holds the leaf hashes; a level's last node without a
 * sibling is carried up unchanged, which gives RFC 6962's tree for any size (the left subtree
 * of n leaves is the largest power of two below n). Each level is one buffer of 32-byte nodes.
 *
 * A chain whose first records retention removed starts from the frontier its prune record saved:
 * those leaves are unknown, their perfect subtrees known. Every node an audit path of a later
 * leaf needs is one of those subtrees or above them (a left sibling of a later leaf is an aligned
 * perfect subtree ending at or before it, so it is a frontier subtree, or holds whole ones and
 * later leaves).
 */
export class MerkleLevels {
  private readonly levels: Array<{ nodes: Buffer; known: Uint8Array; count: number }> = [];

  /**
   * @param leavesHex the record hashes after the frontier, in order (leaf indices frontier.size …)
   * @param frontier the perfect subtrees of the leaves before them (none: the tree starts at leaf 0)
   */
  constructor(leavesHex: readonly string[], frontier?: MerkleFrontier) {
    const start = frontier?.size ?? 0;
    const n = start + leavesHex.length;
    let count = n;
    let level = { nodes: Buffer.alloc(count * 32), known: new Uint8Array(count), count };
    // (one scratch buffer and a one-shot digest per node: ~35% less than a Hash object and three updates)
    const scratch = Buffer.alloc(65);
    for (let i = 0; i < leavesHex.length; i++) {
      scratch[0] = 0;
      scratch.write(leavesHex[i]!, 1, 32, "hex");
      sha256(scratch.subarray(0, 33)).copy(level.nodes, (start + i) * 32);
      level.known[start + i] = 1;
    }
    // the frontier's subtrees, largest first, at their places: size 2^m at level m
    const preset = new Map<number, Array<[index: number, hash: Buffer]>>();
    if (frontier) {
      MerkleAccumulator.fromFrontier(frontier); // (throws when the subtrees do not fit the size)
      let at = 0;
      const sizes = subtreeSizes(frontier.size);
      frontier.subtrees.forEach((hex, i) => {
        const size = sizes[i]!;
        const m = Math.log2(size);
        const list = preset.get(m) ?? [];
        list.push([at / size, Buffer.from(hex, "hex")]);
        preset.set(m, list);
        at += size;
      });
    }
    for (let m = 0; ; m++) {
      for (const [j, h] of preset.get(m) ?? []) {
        h.copy(level.nodes, j * 32);
        level.known[j] = 1;
      }
      this.levels.push(level);
      if (count <= 1) break;
      const up = Math.ceil(count / 2);
      const next = { nodes: Buffer.alloc(up * 32), known: new Uint8Array(up), count: up };
      for (let j = 0; j < up; j++) {
        const l = 2 * j;
        const r = l + 1;
        if (r >= count) {
          if (level.known[l]) {
            level.nodes.copy(next.nodes, j * 32, l * 32, l * 32 + 32);
            next.known[j] = 1;
          }
        } else if (level.known[l] && level.known[r]) {
          scratch[0] = 1;
          level.nodes.copy(scratch, 1, l * 32, r * 32 + 32);
          sha256(scratch).copy(next.nodes, j * 32);
          next.known[j] = 1;
        }
      }
      level = next;
      count = up;
    }
  }

  /** the number of leaves */
  get size(): number {
    return this.levels[0]!.count;
  }

  /** The tree's root as hex (SHA-256 of nothing for an empty tree). */
  root(): string {
    if (this.size === 0) return createHash("sha256").digest("hex");
    const top = this.levels.at(-1)!;
    return top.known[0] ? top.nodes.toString("hex", 0, 32) : "";
  }

  /**
   * The RFC 6962 audit path of leaf `index` (0-based), nearest sibling first, as hex; undefined
   * when a node it needs is unknown (a leaf before the frontier).
   */
  auditPath(index: number): string[] | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) return undefined;
    const path: string[] = [];
    let j = index;
    for (const level of this.levels) {
      if (level.count <= 1) break;
      const sib = j ^ 1;
      if (sib < level.count) {
        if (!level.known[sib]) return undefined;
        path.push(level.nodes.toString("hex", sib * 32, sib * 32 + 32));
      }
      j >>= 1;
    }
    return path;
  }
}

// crypto.hash (Node >= 20.12): a one-shot digest without a Hash object
const oneShot = (crypto as { hash?: (alg: string, data: Buffer, enc: "buffer") => Buffer }).hash;

function sha256(data: Buffer): Buffer {
  return oneShot ? oneShot("sha256", data, "buffer") : createHash("sha256").update(data).digest();
}

/**
 * The root an RFC 6962 audit path leads to from `leafHex` (the record hash, before the leaf
 * prefix) at `index` of a tree of `size` leaves (RFC 9162, 2.1.3.2); undefined when the path
 * cannot belong to that position (too long or too short).
 */
export function rootFromAuditPath(leafHex: string, index: number, size: number, pathHex: readonly string[]): string | undefined {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leafHash(leafHex);
  for (const hex of pathHex) {
    if (sn === 0) return undefined;
    const p = Buffer.from(hex, "hex");
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r.toString("hex") : undefined;
}
