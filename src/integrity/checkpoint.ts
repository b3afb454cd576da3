import { createHash, sign, verify, type KeyObject } from "node:crypto";
import { merkleRootOf } from "./merkle.js";
import { publicKeyId, type SigningKey } from "./signing.js";

export interface CheckpointHead {
  readonly seq: number;
  readonly hash: string;
  /** RFC 6962 Merkle root over this chain's record hashes 1..seq */
  readonly root: string;
}

/** The signed body of a checkpoint. Members in this order; the signature covers its exact JSON text. */
export interface CheckpointBody {
  readonly v: 1;
  readonly sessionId: string;
  /** 1, 2, … per session */
  readonly n: number;
  readonly time: string;
  readonly reason: string;
  /** chain heads, one per kind, in the fixed kind order */
  readonly heads: Readonly<Record<string, CheckpointHead>>;
  /** Merkle root over the kinds' roots, in the fixed kind order */
  readonly merkleRoot: string;
  readonly prevCheckpointHash: string | null;
  readonly keyId: string;
}

/** One line of `checkpoints_<sessionId>.jsonl`. */
export interface Checkpoint {
  readonly checkpoint: CheckpointBody;
  /** SHA-256 of the body's JSON text: the next checkpoint's `prevCheckpointHash` */
  readonly hash: string;
  /** Ed25519 signature over the body's JSON text, base64 */
  readonly signature: string;
}

export function rootOverHeads(heads: Readonly<Record<string, CheckpointHead>>, kinds: readonly string[]): string {
  return merkleRootOf(kinds.map((k) => heads[k]?.root ?? createHash("sha256").digest("hex")));
}

/** Builds and signs a checkpoint; returns it and its line (without newline). */
export function makeCheckpoint(
  key: SigningKey,
  fields: Omit<CheckpointBody, "v" | "keyId" | "merkleRoot">,
  kinds: readonly string[],
): { checkpoint: Checkpoint; line: string } {
  const body: CheckpointBody = {
    v: 1,
    sessionId: fields.sessionId,
    n: fields.n,
    time: fields.time,
    reason: fields.reason,
    heads: fields.heads,
    merkleRoot: rootOverHeads(fields.heads, kinds),
    prevCheckpointHash: fields.prevCheckpointHash,
    keyId: key.keyId,
  };
  const text = JSON.stringify(body);
  const hash = createHash("sha256").update(text).digest("hex");
  const signature = sign(null, Buffer.from(text, "utf8"), key.privateKey).toString("base64");
  const checkpoint: Checkpoint = { checkpoint: body, hash, signature };
  return { checkpoint, line: `{"checkpoint":${text},"hash":"${hash}","signature":"${signature}"}` };
}

/** The body's exact text, as signed (records and checkpoints are written by JSON.stringify, so it round-trips). */
export function bodyText(cp: Checkpoint): string {
  return JSON.stringify(cp.checkpoint);
}

export type SignatureCheck = "valid" | "invalid" | "unknown_key";

/** Checks a checkpoint's signature against trusted public keys, by key id. */
export function checkSignature(cp: Checkpoint, trusted: readonly KeyObject[]): SignatureCheck {
  const key = trusted.find((k) => publicKeyId(k) === cp.checkpoint.keyId);
  if (!key) return "unknown_key";
  try {
    return verify(null, Buffer.from(bodyText(cp), "utf8"), key, Buffer.from(cp.signature, "base64")) ? "valid" : "invalid";
  } catch {
    return "invalid";
  }
}

export function isCheckpoint(v: unknown): v is Checkpoint {
  const c = v as Checkpoint | undefined;
  return (
    typeof c === "object" && c !== null && typeof c.hash === "string" && typeof c.signature === "string" &&
    typeof c.checkpoint === "object" && c.checkpoint !== null && typeof c.checkpoint.n === "number" && typeof c.checkpoint.heads === "object"
  );
}
