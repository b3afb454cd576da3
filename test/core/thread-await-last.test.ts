// `thread: true`: the worker's replies come back on a port of their own that never keeps the
// process alive (ThreadLink.fromWorker, unref'd since 2026-12-06, so the exit hook can drain it):
// an app whose last pending work is an awaited flush() or finalizeSession() must still see it
// settle, in a real child process whose event loop has nothing else to do (review, 2026-12-06).
import { afterEach, describe, expect, it } from "vitest";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { killChildren, startFixture, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children.splice(0));
  cleanupTmp();
});

describe("thread: true: an awaited call that is the process's last pending work", () => {
  for (const what of ["flush", "finalizeSession"] as const) {
    it(`${what}(): settles, with every record on disk, and the process exits 0 (not 13, an unsettled top-level await)`, async () => {
      const projectPath = tmpProject();
      const h = startFixture("thread-await-last-child.mts", {}, [projectPath, what, "2000"]);
      children.push(h);
      const exit = await h.exited;
      expect(exit.code, exit.stderr).toBe(0);
      expect(h.lines).toEqual([`${what} 2000`]);
    });
  }
});
