// ChainFollower (what `audit-logger tail -f` reads with) against a writer that rotates at the
// worst moment: between the follower listing the segments and opening the active file. The
// writer's rename is made from inside fs.openSync, right before the follower's open.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ChainFollower } from "../../src/cli/tail-read.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { work } from "../helpers/work.js";

afterEach(cleanupTmp);

const line = (n: number) => JSON.stringify({ id: `r${n}`, seq: n });

/**
 * Runs `fn` with fs.openSync renaming `active` to `segment` (and starting a new active file
 * holding `fresh`) just before it opens `active`, or the file `at`, once per rotation, in order.
 */
function rotatingOnOpen<T>(active: string, rotations: Array<{ segment: string; fresh: string; at?: string }>, fn: () => T): T {
  const open = fs.openSync;
  (fs as { openSync: typeof fs.openSync }).openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
    const next = rotations[0] !== undefined && String(p) === (rotations[0].at ?? active) ? rotations.shift() : undefined;
    if (next) {
      fs.renameSync(active, next.segment);
      fs.writeFileSync(active, next.fresh);
    }
    return (open as (...a: unknown[]) => number)(p, ...rest);
  }) as typeof fs.openSync;
  try {
    return fn();
  } finally {
    (fs as { openSync: typeof fs.openSync }).openSync = open;
  }
}

describe("ChainFollower", () => {
  it("a rotation between listing the segments and opening the active file loses no line: the new segment is read first", () => {
    const dir = tmpProject("tail-read-");
    const active = path.join(dir, "tool_usage_s.jsonl");
    fs.writeFileSync(active, `${line(1)}\n${line(2)}\n`);
    const follower = new ChainFollower(dir, "s", "tool_usage", "start");
    const got = rotatingOnOpen(active, [{ segment: path.join(dir, "tool_usage_s.1.jsonl"), fresh: `${line(3)}\n` }], () => follower.poll());
    expect(got).toEqual([line(1), line(2), line(3)]);
    fs.appendFileSync(active, `${line(4)}\n`);
    expect(follower.poll()).toEqual([line(4)]);
    follower.close();
  });

  it("the same after a rotation it saw, when two more happen while it catches up", () => {
    const dir = tmpProject("tail-read-");
    const active = path.join(dir, "tool_usage_s.jsonl");
    fs.writeFileSync(active, `${line(1)}\n`);
    const follower = new ChainFollower(dir, "s", "tool_usage", "start");
    expect(follower.poll()).toEqual([line(1)]);
    // the writer rotates: the held file becomes segment 1, a new active file starts
    fs.appendFileSync(active, `${line(2)}\n`);
    fs.renameSync(active, path.join(dir, "tool_usage_s.1.jsonl"));
    fs.writeFileSync(active, `${line(3)}\n`);
    // (the catch-up opens the active file once, since 2026-12-05: the second rotation comes when
    // it opens the segment the first one made; the walk ends at the file it opened, segment 3 by
    // then, and the next poll reads on from there: a walk that opened the active file again for
    // every rotation it met never ended against a logger rotating every few milliseconds)
    const got = rotatingOnOpen(
      active,
      [
        { segment: path.join(dir, "tool_usage_s.2.jsonl"), fresh: `${line(4)}\n` },
        { segment: path.join(dir, "tool_usage_s.3.jsonl"), fresh: `${line(5)}\n`, at: path.join(dir, "tool_usage_s.2.jsonl") },
      ],
      () => follower.poll(),
    );
    expect([...got, ...follower.poll()]).toEqual([line(2), line(3), line(4), line(5)]);
    follower.close();
  });
});

// Found by review 2026-12-04 (fourth session): `tail -f -n` listed the files again for its history
// after the followers started, so a rotation in between made it read the new segment in full and
// the new active file up to the old one's offset: lines the follower printed as well.
describe("audit-logger tail -f -n (in process)", () => {
  it("a rotation between the followers' start and the history read prints every line once", async () => {
    const { runCli } = await import("../../src/cli/run.js");
    const { createIO } = await import("../../src/cli/io.js");
    const dir = path.join(tmpProject("tail-history-"), "audit_logs");
    fs.mkdirSync(dir);
    const rec = (n: number) => JSON.stringify({ id: `r${n}`, seq: n, type: "tool_usage", sessionId: "s", timestamp: `2026-01-01T00:00:0${n}.000Z` });
    const active = path.join(dir, "tool_usage_s.jsonl");
    fs.writeFileSync(path.join(dir, "tool_usage_s.1.jsonl"), `${rec(1)}\n${rec(2)}\n${rec(3)}\n`);
    fs.writeFileSync(active, `${rec(4)}\n${rec(5)}\n`);
    fs.writeFileSync(path.join(dir, "session_s.json"), JSON.stringify({ sessionId: "s", status: "active" }));
    // the writer rotates right after the follower has opened the active file: at the next file opened
    const open = fs.openSync;
    let followerOpened = false;
    let rotated = false;
    (fs as { openSync: typeof fs.openSync }).openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
      if (followerOpened && !rotated) {
        rotated = true;
        fs.appendFileSync(active, `${rec(6)}\n`);
        fs.renameSync(active, path.join(dir, "tool_usage_s.2.jsonl"));
        fs.writeFileSync(active, `${rec(7)}\n`);
      }
      const fd = (open as (...a: unknown[]) => number)(p, ...rest);
      if (String(p) === active) followerOpened = true;
      return fd;
    }) as typeof fs.openSync;
    const out: string[] = [];
    const controller = new AbortController();
    const stream = { write: (s: string) => (out.push(...s.trimEnd().split("\n")), true) };
    const io = createIO(stream, { write: () => true }, {}, controller.signal);
    try {
      const running = runCli(["tail", dir, "--session", "s", "--kind", "tool_usage", "-f", "-n", "100", "--json"], io);
      for (let i = 0; i < 100 && !out.some((l) => l.includes('"r7"')); i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 450)); // two more polls: nothing printed again
      controller.abort();
      expect(await running).toBe(0);
    } finally {
      (fs as { openSync: typeof fs.openSync }).openSync = open;
    }
    expect(rotated).toBe(true);
    expect(out.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(["r1", "r2", "r3", "r4", "r5", "r6", "r7"]);
  });
});

// Found by review 2026-12-05: a follower met with an unfinished last line (a torn tail, or one
// planted: a sparse file of GiBs is KiB on disk) searched it from its start for a newline at every
// poll, five times a second for as long as `tail -f` ran.
describe("ChainFollower and an unfinished last line", () => {
  it("searches the unfinished line's bytes once, not at every poll, and reads it when it ends", async () => {
    const dir = tmpProject("tail-read-");
    const active = path.join(dir, "tool_usage_s.jsonl");
    fs.writeFileSync(active, `${line(1)}\n`);
    const follower = new ChainFollower(dir, "s", "tool_usage", "end");
    const torn = 32 * 1024 * 1024;
    fs.truncateSync(active, fs.statSync(active).size + torn); // NUL bytes, no newline
    const w = await work(() => {
      for (let i = 0; i < 10; i++) expect(follower.poll()).toEqual([]);
    });
    expect(w.searched).toBeLessThan(2 * torn); // was ~10 x torn
    fs.appendFileSync(active, `\n${line(2)}\n`);
    const got = follower.poll();
    expect(got.map((l) => l.length)).toEqual([torn, line(2).length]);
    expect(got[1]).toBe(line(2));
    follower.close();
  });

  it("a torn tail cut back and written over with complete lines (a logger resuming) is read as those lines", () => {
    const dir = tmpProject("tail-read-");
    const active = path.join(dir, "tool_usage_s.jsonl");
    fs.writeFileSync(active, `${line(1)}\n`);
    const follower = new ChainFollower(dir, "s", "tool_usage", "end");
    const good = fs.statSync(active).size;
    fs.appendFileSync(active, Buffer.alloc(1024 * 1024, "x")); // torn: no newline
    expect(follower.poll()).toEqual([]);
    expect(follower.poll()).toEqual([]);
    // the logger's repair cuts the torn line and appends on: more bytes than were there before
    fs.truncateSync(active, good);
    const more = Array.from({ length: 40_000 }, (_, i) => line(i + 2));
    fs.appendFileSync(active, more.map((l) => `${l}\n`).join(""));
    expect(fs.statSync(active).size).toBeGreaterThan(good + 1024 * 1024);
    expect(follower.poll()).toEqual(more);
    follower.close();
  });
});
