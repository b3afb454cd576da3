// ChainFollower (what `audit-logger tail -f` reads with) against a writer that rotates at the
// worst moment: between the follower listing the segments and opening the active file. The
// writer's rename is made from inside fs.openSync, right before the follower's open.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ChainFollower } from "../../src/cli/tail-read.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterEach(cleanupTmp);

const line = (n: number) => JSON.stringify({ id: `r${n}`, seq: n });

/** Runs `fn` with fs.openSync renaming `active` to `segment` (and starting a new active file holding `fresh`) just before it opens `active`, `times` times. */
function rotatingOnOpen<T>(active: string, rotations: Array<{ segment: string; fresh: string }>, fn: () => T): T {
  const open = fs.openSync;
  (fs as { openSync: typeof fs.openSync }).openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
    const next = String(p) === active ? rotations.shift() : undefined;
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
    const got = rotatingOnOpen(
      active,
      [
        { segment: path.join(dir, "tool_usage_s.2.jsonl"), fresh: `${line(4)}\n` },
        { segment: path.join(dir, "tool_usage_s.3.jsonl"), fresh: `${line(5)}\n` },
      ],
      () => follower.poll(),
    );
    expect(got).toEqual([line(2), line(3), line(4), line(5)]);
    follower.close();
  });
});
