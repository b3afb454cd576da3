import fs from "node:fs";
import { appendWholeSync, isRegularFileSync, openRegularForAppendSync, type DirectorySync } from "../regular-file.js";
import { AuditIOError } from "../errors.js";
import { reason as reasonOf } from "../error-type.js";
import path from "node:path";
import { readLinesSync } from "../reader/lines-sync.js";
import { listKindFiles } from "../sink/files.js";
import { repairTornTail, type TailRepair } from "../sink/recover.js";
import { furthestPrunes, readPruneRecords } from "../sink/prunes.js";
import { splitSealedLine } from "../pipeline/chain.js";
import { CHAIN_KINDS, type ChainKind, type Durability } from "../types.js";
import { isCheckpoint, makeCheckpoint, type Checkpoint, type CheckpointHead } from "./checkpoint.js";
import { MerkleAccumulator } from "./merkle.js";
import type { SigningKey } from "./signing.js";

export function checkpointFileName(sessionId: string): string {
  return `checkpoints_${sessionId}.jsonl`;
}

/** Reads a session's checkpoints file; malformed lines are returned as `undefined` entries. */
export function readCheckpoints(auditDir: string, sessionId: string): Array<{ line: number; checkpoint: Checkpoint | undefined; text: string }> {
  const file = path.join(auditDir, checkpointFileName(sessionId));
  if (!fs.existsSync(file) || !isRegularFileSync(file)) return []; // (a link, a FIFO: never read; verify reports it)
  const out: Array<{ line: number; checkpoint: Checkpoint | undefined; text: string }> = [];
  for (const l of readLinesSync(file)) {
    if (!l.terminated) continue;
    let cp: unknown;
    try {
      cp = JSON.parse(l.text);
    } catch {
      cp = undefined;
    }
    out.push({ line: l.line, checkpoint: isCheckpoint(cp) ? cp : undefined, text: l.text });
  }
  return out;
}

/**
 * Keeps a Merkle accumulator per chain and writes signed checkpoints to
 * `checkpoints_<sessionId>.jsonl`. The owner calls `push` for every sealed record and `write`
 * when a checkpoint is due, after the records it covers have been handed to the OS.
 */
export class Checkpointer {
  private readonly merkle = {} as Record<ChainKind, MerkleAccumulator>;
  private readonly heads = {} as Record<ChainKind, { seq: number; hash: string }>;
  /** checkpoints in the file (each links to the one before: see append) */
  private n = 0;
  /** the last checkpoint that counts: in the file and, in `fsync` mode, its sync returned (see unconfirmed) */
  private confirmed = 0;
  private prevHash: string | null = null;
  private sinceLast = 0;
  readonly file: string;
  /** the checkpoints file was opened by this checkpointer (it exists: see append) */
  private opened = false;
  /** the torn last line a crash left, repaired when the session was resumed (see the constructor) */
  readonly repair: TailRepair | undefined;

  constructor(
    auditDir: string,
    private readonly sessionId: string,
    private readonly signer: SigningKey,
    private readonly durability: Durability,
    /** the audit directory's names, synced in `fsync` mode after the checkpoints file is created */
    private readonly names?: DirectorySync,
  ) {
    this.file = path.join(auditDir, checkpointFileName(sessionId));
    for (const kind of CHAIN_KINDS) {
      this.merkle[kind] = new MerkleAccumulator();
      this.heads[kind] = { seq: 0, hash: "0".repeat(64) };
    }
    // continue a resumed session: rebuild every chain's tree from its records, and the checkpoint
    // chain; a chain whose first segments retention removed continues from the tree its prune
    // record saved (rebuilt from the records left, the roots signed after a resume covered only
    // those, and a clean export of the session failed verification; found by review, 2026-12-04)
    const pruned = furthestPrunes(readPruneRecords(auditDir, sessionId));
    for (const kind of CHAIN_KINDS) {
      const start = pruned[kind];
      if (start) {
        this.merkle[kind] = MerkleAccumulator.fromFrontier(start.merkleFrontier);
        this.heads[kind] = { seq: start.lastSeq, hash: start.lastHash };
      }
      for (const f of listKindFiles(auditDir, kind, sessionId)) {
        for (const l of readLinesSync(f.path)) {
          if (!l.terminated) continue;
          const sealed = splitSealedLine(l.text);
          const m = /"seq":(\d+),/.exec(l.text);
          if (!sealed || !m || (start && Number(m[1]) <= start.lastSeq)) continue;
          this.push(kind, Number(m[1]), sealed.hash);
        }
      }
    }
    // a torn last line (a crash mid-append, or a line an earlier version left cut by a full disk)
    // is cut off, or completed when it is a whole checkpoint that lost its newline: appended to,
    // it made one malformed line of it and the next checkpoint, and the checkpoints' chain broke
    // for good (checkpoint_malformed, checkpoint_missing; found by the durability pass, 2026-12-06)
    this.repair = repairTornTail(this.file, (text) => {
      try {
        return isCheckpoint(JSON.parse(text));
      } catch {
        return false;
      }
    });
    const existing = readCheckpoints(auditDir, sessionId).filter((c) => c.checkpoint);
    const last = existing.at(-1)?.checkpoint;
    if (last) {
      this.n = this.confirmed = last.checkpoint.n;
      this.prevHash = last.hash;
    }
    this.sinceLast = 0;
  }

  push(kind: ChainKind, seq: number, hash: string): void {
    this.merkle[kind].push(hash);
    this.heads[kind] = { seq, hash };
    this.sinceLast++;
  }

  get recordsSinceLast(): number {
    return this.sinceLast;
  }

  /**
   * Every chain's current head (and tree root), to sign later with {@link write}: what a group
   * commit has just handed to the OS, signed once its fdatasync has returned. `n`: the checkpoints
   * written so far, so that one written meanwhile (covering more) is not followed by this older one.
   */
  snapshot(): CheckpointHeads {
    const heads = {} as Record<ChainKind, CheckpointHead>;
    for (const kind of CHAIN_KINDS) heads[kind] = { ...this.heads[kind], root: this.merkle[kind].root() };
    return { heads, records: this.sinceLast, n: this.n };
  }

  /** how many checkpoints this session has appended to its file, counted or not (see snapshot) */
  get appended(): number {
    return this.n;
  }

  /**
   * The last checkpoint that counts: appended and, in `fsync` mode, synced (its file and, once it
   * was created, the directory). One whose sync failed does not (see unconfirmed).
   */
  get written(): number {
    return this.confirmed;
  }

  /**
   * Signs and appends a checkpoint over every chain's current head, or over the heads of `at`
   * (see snapshot): the records pushed since then count towards the next one. In `fsync` mode
   * the checkpoints file is fdatasync'ed before this returns, on the calling thread.
   */
  write(reason: string, at?: CheckpointHeads): Checkpoint {
    const { checkpoint, fd, covered } = this.append(reason, at);
    try {
      if (this.durability === "fsync") {
        let what = `fdatasync of ${path.basename(this.file)}`;
        try {
          fs.fdatasyncSync(fd);
          what = this.names?.what ?? what;
          this.names?.syncSync();
        } catch (err) {
          throw this.unconfirmed(checkpoint, covered, what, err);
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    this.confirm(checkpoint);
    return checkpoint;
  }

  /**
   * As {@link write}, but the fdatasync of the checkpoints file runs on libuv's thread pool:
   * `synced` settles once it has returned (rejects with its failure). The line is appended here,
   * on the calling thread (a `write(2)` to the page cache), so checkpoints stay in the file in the
   * order they are signed whatever syncs after; a process that dies meanwhile keeps it, a machine
   * that loses power before `synced` may not.
   */
  writeSyncingLater(reason: string, at?: CheckpointHeads): { checkpoint: Checkpoint; synced: Promise<void> } {
    const { checkpoint, fd, covered } = this.append(reason, at);
    const fileSync = `fdatasync of ${path.basename(this.file)}`;
    const synced = new Promise<void>((resolve, reject) => {
      fs.fdatasync(fd, (err) => fs.close(fd, (closeErr) => (err ?? closeErr ? reject(this.unconfirmed(checkpoint, covered, fileSync, err ?? closeErr)) : resolve())));
    })
      .then(() => (this.durability === "fsync" ? this.names?.sync().catch((err: unknown) => Promise.reject(this.unconfirmed(checkpoint, covered, this.names!.what, err))) : undefined))
      .then(() => this.confirm(checkpoint));
    return { checkpoint, synced };
  }

  private confirm(checkpoint: Checkpoint): void {
    this.confirmed = Math.max(this.confirmed, checkpoint.checkpoint.n);
  }

  /**
   * A checkpoint whose sync failed does not count: its line is in the file (the next one links to
   * it) but not known to be on stable storage, so it is not {@link written}, no `checkpoint`
   * event announces it, and the records it covered count towards the next one again (signed at
   * the next record past the count, the next interval, or the exit). Until 2026-12-06 it counted
   * as made: retention removed files under it, and with the count reset a session that went
   * quiet had no checkpoint on disk over those records (found by the durability review).
   */
  private unconfirmed(checkpoint: Checkpoint, covered: number, what: string, err: unknown): AuditIOError {
    this.sinceLast += covered;
    return new AuditIOError(
      `${what} failed: ${reasonOf(err)}. Checkpoint ${checkpoint.checkpoint.n} is in ${path.basename(this.file)} but not known to be on stable storage: it does not count, and the next checkpoint (at the next record past the count, the next interval, or the session's end) is signed over its records again.`,
      { cause: err },
    );
  }

  /**
   * Signs a checkpoint and appends its line; returns it with the checkpoints file's fd, open, for
   * the caller to sync (or not) and close, and how many records it took off the count towards the
   * next one. It is in the file, and the next one links to it; in `fsync` mode it counts (see
   * {@link written}) once its sync has returned.
   */
  private append(reason: string, at: CheckpointHeads | undefined): { checkpoint: Checkpoint; fd: number; covered: number } {
    const heads: Record<string, CheckpointHead> = {};
    for (const kind of CHAIN_KINDS) heads[kind] = at ? at.heads[kind] : { ...this.heads[kind], root: this.merkle[kind].root() };
    const { checkpoint, line } = makeCheckpoint(
      this.signer,
      { sessionId: this.sessionId, n: this.n + 1, time: new Date().toISOString(), reason, heads, prevCheckpointHash: this.prevHash },
      CHAIN_KINDS,
    );
    // (never a FIFO or a link put under its name: see openRegularForAppendSync)
    // (looked for until this checkpointer has opened it once: a stat per checkpoint no more)
    const existed = this.opened || fs.existsSync(this.file);
    const fd = openRegularForAppendSync(this.file, 0o600);
    this.opened = true;
    if (!existed) this.names?.mark();
    try {
      appendWholeSync(fd, Buffer.from(line + "\n", "utf8"));
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    this.n++;
    this.prevHash = checkpoint.hash;
    const before = this.sinceLast;
    this.sinceLast = at ? Math.max(0, this.sinceLast - at.records) : 0;
    if (this.durability !== "fsync") this.confirm(checkpoint);
    return { checkpoint, fd, covered: before - this.sinceLast };
  }
}

/** Every chain's head at one moment, to be signed later (see Checkpointer.snapshot). */
export interface CheckpointHeads {
  readonly heads: Readonly<Record<ChainKind, CheckpointHead>>;
  /** the records pushed since the last checkpoint, at that moment */
  readonly records: number;
  /** the checkpoints written before it */
  readonly n: number;
}
