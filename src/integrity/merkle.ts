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
   * MTH of leaves [start, start + count) as hex, a subtree of this tree as RFC 6962 splits it
   * (a perfect one aligned on its size is a node; any other splits at the largest power of two
   * below `count`); undefined when a node it needs is unknown.
   */
  rangeHash(start: number, count: number): string | undefined {
    const h = this.rangeNode(start, count);
    return h?.toString("hex");
  }

  private rangeNode(start: number, count: number): Buffer | undefined {
    if (count < 1 || start < 0 || start + count > this.size) return undefined;
    if ((count & (count - 1)) === 0 && start % count === 0) {
      const level = this.levels[Math.log2(count)];
      const j = start / count;
      if (!level || !level.known[j]) return undefined;
      return level.nodes.subarray(j * 32, j * 32 + 32);
    }
    const k = 2 ** Math.floor(Math.log2(count - 1));
    const left = this.rangeNode(start, k);
    const right = left && this.rangeNode(start + k, count - k);
    return left && right ? nodeHash(left, right) : undefined;
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
 * One step up a proof as RFC 9162 walks it (2.1.3.2, 2.1.4.2), at node `fn` of a last node `sn`:
 * the proof's next hash is a left sibling (`onLeft`: hashed before) or a right one (`onRight`).
 * Returns the next `fn` and `sn`.
 */
function walkStep(fn: number, sn: number, onLeft: () => void, onRight: () => void): [number, number] {
  if (fn % 2 === 1 || fn === sn) {
    onLeft();
    while (fn % 2 === 0 && fn !== 0) {
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
  } else onRight();
  return [Math.floor(fn / 2), Math.floor(sn / 2)];
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
    [fn, sn] = walkStep(
      fn,
      sn,
      () => (r = nodeHash(p, r)),
      () => (r = nodeHash(r, p)),
    );
  }
  return sn === 0 ? r.toString("hex") : undefined;
}

/**
 * The RFC 9162 (2.1.4.1) consistency proof that the tree of the first `first` leaves of `levels`
 * is a prefix of the tree of its first `second` (by default all of them): the subtree hashes a verifier needs, as
 * hex, to get from the older root to the newer one ({@link rootsConsistent}). Empty when `first`
 * is 0 or `second`; undefined when a size is out of range or a node it needs is unknown
 * (leaves retention removed before the frontier).
 *
 * @example
 * const proof = consistencyProof(new MerkleLevels(hashes), 5); // tree of 5 leaves → tree of hashes.length
 */
export function consistencyProof(levels: MerkleLevels, first: number, second = levels.size): string[] | undefined {
  if (!Number.isSafeInteger(second) || second < 0 || second > levels.size) return undefined;
  const size = second;
  if (!Number.isSafeInteger(first) || first < 0 || first > size) return undefined;
  if (first === 0 || first === size) return [];
  const out: string[] = [];
  // SUBPROOF(m, D[start:start+n], b)
  const sub = (m: number, start: number, n: number, whole: boolean): boolean => {
    if (m === n) {
      if (whole) return true;
      const h = levels.rangeHash(start, n);
      if (h === undefined) return false;
      out.push(h);
      return true;
    }
    const k = 2 ** Math.floor(Math.log2(n - 1));
    if (m <= k) {
      if (!sub(m, start, k, whole)) return false;
      const h = levels.rangeHash(start + k, n - k);
      if (h === undefined) return false;
      out.push(h);
    } else {
      if (!sub(m - k, start + k, n - k, false)) return false;
      const h = levels.rangeHash(start, k);
      if (h === undefined) return false;
      out.push(h);
    }
    return true;
  };
  return sub(first, 0, size, true) ? out : undefined;
}

/**
 * Whether `proof` shows the tree of `first` leaves with root `firstRoot` is a prefix of the tree
 * of `second` leaves with root `secondRoot` (RFC 9162, 2.1.4.2; roots and nodes hex). Equal sizes
 * need equal roots and an empty proof; a first tree of no leaves is a prefix of any.
 */
export function rootsConsistent(first: number, second: number, firstRoot: string, secondRoot: string, proofHex: readonly string[]): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) return false;
  // (roots come from an export's checkpoints as parsed: one that is no digest is no root; it threw
  // a TypeError from Buffer.from, and verify --export called the whole export unreadable)
  const isDigest = (h: unknown) => typeof h === "string" && /^[0-9a-f]{64}$/.test(h);
  if (first > 0 && (!isDigest(firstRoot) || !isDigest(secondRoot))) return false;
  if (first === second) return proofHex.length === 0 && firstRoot === secondRoot;
  if (first === 0) return proofHex.length === 0;
  if (!proofHex.every(isDigest)) return false;
  const path = proofHex.map((h) => Buffer.from(h, "hex"));
  // (a first tree that is a perfect subtree is itself the proof's first node)
  if ((first & (first - 1)) === 0) path.unshift(Buffer.from(firstRoot, "hex"));
  if (path.length === 0) return false;
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = path[0]!;
  let sr: Buffer = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    [fn, sn] = walkStep(
      fn,
      sn,
      () => {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
      },
      () => (sr = nodeHash(sr, c)),
    );
  }
  return sn === 0 && fr.toString("hex") === firstRoot && sr.toString("hex") === secondRoot;
}
