// A job that reschedules itself from inside its own context (a polling loop, a recursive
// setImmediate, a decorated poll() that calls itself later): each run's context is made in the
// previous one's. Found by re-review 2026-12-04: contexts with no user linked their parent (so a
// user set later in it reaches them), and such a loop grew a chain that was never freed, every
// lookup walking all of it (200,000 runs: +16 MB, get() ~1 ms). Real child process, --expose-gc.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/core.js";

const DIST = pathToFileURL(path.join(REPO_ROOT, "dist/src/index.js")).href;

describe("auditContext: contexts made in one another", () => {
  it("a self-rescheduling job's earlier contexts are freed (the heap does not grow with its runs), and a user set in its first context still reaches the latest", () => {
    const script = `
      const { auditContext } = await import(${JSON.stringify(DIST)});
      let first, heapAt20k, n = 0;
      const N = 200000;
      await new Promise((done) => {
        function tick() {
          auditContext.run({ traceId: "t" + n }, () => {
            n++;
            if (n === 20000) { globalThis.gc(); heapAt20k = process.memoryUsage().heapUsed; }
            if (n < N) setImmediate(tick);
            else {
              globalThis.latest = auditContext.get(); // the job's context lives on (its next run)
              done(auditContext.get().userId);
            }
          });
        }
        auditContext.run({ metadata: { app: "x" } }, () => {
          first = auditContext.get();
          setImmediate(tick);
          // (in the first context: authentication finishing while the job runs)
          setTimeout(() => auditContext.setUser("alice"), 0);
        });
      }).then((user) => { globalThis.latestUser = user; });
      await new Promise((r) => setTimeout(r, 10));
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 10));
      globalThis.gc();
      const grewMB = (process.memoryUsage().heapUsed - heapAt20k) / 1e6;
      console.log(JSON.stringify({ user: globalThis.latestUser, grewUnder4MB: grewMB < 4, grewMB }));`;
    const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    const r = JSON.parse(out.trim().split("\n").at(-1)!) as { user: string; grewUnder4MB: boolean; grewMB: number };
    expect({ user: r.user, grewUnder4MB: r.grewUnder4MB }, `heap grew ${r.grewMB.toFixed(1)} MB over 180,000 runs`).toEqual({ user: "alice", grewUnder4MB: true });
  }, 60_000);
});
