import { describe, expect, it } from "vitest";
import { runFixtureChild } from "../helpers/index.js";

interface ToolRecord {
  operation: string;
  parameters: string[];
  success: boolean;
  errorMessage?: string;
  result?: unknown;
  durationSeconds: number;
  traceId?: string;
  userId?: string;
  metadata?: Record<string, unknown>;
}

describe("a decorated generator the consumer drops before it finishes (child process, --expose-gc)", () => {
  it("is recorded once when it is collected, as abandoned, with its context; one the instance holds is still collectable; one read to the end is recorded once", () => {
    const r = runFixtureChild<{ records: ToolRecord[]; chats: unknown[]; alive: number }>("decorators/abandon-child.mts", "audit-dec-abandon-");
    expect(r.status, r.stderr).toBe(0);
    const byLabel = new Map(r.out.records.map((rec) => [rec.parameters[0], rec]));
    // each call once
    expect(r.out.records.map((rec) => rec.parameters[0]).sort()).toEqual(["an extra context member leads back to it", "async half-read", "closed, then dropped in its finally", "context leads back to it", "held by the instance", "never started", "read to the end", "sync half-read"]);
    expect(byLabel.get("read to the end")).toMatchObject({ success: true, result: { yielded: 10, returned: "read to the end" } });
    for (const label of ["sync half-read", "async half-read", "never started", "held by the instance", "context leads back to it", "an extra context member leads back to it"]) {
      const rec = byLabel.get(label)!;
      expect(rec.success, label).toBe(false);
      expect(rec.errorMessage, label).toMatch(/^abandoned: /);
      expect(rec.result, label).toBeUndefined();
      // the time up to its last step, not up to the collection (the fixture waits a second first)
      expect(rec.durationSeconds, label).toBeLessThan(0.5);
    }
    expect(byLabel.get("sync half-read")).toMatchObject({ traceId: "trace-abandon", userId: "u-1" });
    expect(byLabel.get("async half-read")).toMatchObject({ traceId: "trace-abandon-async", userId: "u-2" });
    // the consumer did call return(): that is an abort, whenever it is recorded
    expect(byLabel.get("closed, then dropped in its finally")).toMatchObject({ success: false, errorMessage: expect.stringMatching(/^aborted: /) });
    // the context's metadata as it was at the call (plain data, copied), its known members kept
    expect(byLabel.get("context leads back to it")).toMatchObject({ metadata: { holder: {} } });
    expect(byLabel.get("an extra context member leads back to it")).toMatchObject({ traceId: "trace-extra", userId: "u-extra" });
    // a call with an argument (an AbortSignal) or an item (a class instance) that is not plain
    // data is not tracked: collected, recorded only if it finishes (these never do)
    expect(r.out.chats).toHaveLength(1);
    // plain items are kept for the record, and its response function gets them as always
    expect(r.out.chats[0]).toMatchObject({ success: false, errorMessage: expect.stringMatching(/^abandoned: /), responsePreview: "plain items, half" });
    // nothing of the test's kept alive by the registration
    expect(r.out.alive).toBe(0);
  });
});
