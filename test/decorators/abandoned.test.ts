import { describe, expect, it } from "vitest";
import { runFixtureChild } from "../helpers/index.js";

interface ToolRecord {
  operation: string;
  parameters: unknown[];
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
    const r = runFixtureChild<{ records: ToolRecord[]; chats: unknown[]; alive: number; spans: Record<string, number> }>("decorators/abandon-child.mts", "audit-dec-abandon-");
    expect(r.status, r.stderr).toBe(0);
    const byLabel = new Map(r.out.records.map((rec) => [rec.parameters[0], rec]));
    // each call once
    expect(r.out.records.map((rec) => rec.parameters[0]).sort()).toEqual([
      "a large argument",
      "an extra context member leads back to it",
      "args lead back to it",
      "async half-read",
      "closed, then dropped in its finally",
      "context leads back to it",
      "context metadata not plain data",
      "held by the instance",
      "never started",
      "read to the end",
      "sync half-read",
    ]);
    expect(byLabel.get("read to the end")).toMatchObject({ success: true, result: { yielded: 10, returned: "read to the end" } });
    for (const label of ["sync half-read", "async half-read", "never started", "held by the instance", "context leads back to it", "an extra context member leads back to it", "args lead back to it", "a large argument", "context metadata not plain data"]) {
      const rec = byLabel.get(label)!;
      expect(rec.success, label).toBe(false);
      expect(rec.errorMessage, label).toMatch(/^abandoned: /);
      expect(rec.result, label).toBeUndefined();
      // the time up to its last step, not up to the collection (a second later at least): within
      // what the child measured from before the call to after that step (not a fixed 0.5 s,
      // which a loaded machine's steps alone can take)
      expect(r.out.spans[label], label).toBeGreaterThan(0);
      expect(rec.durationSeconds, label).toBeLessThanOrEqual(r.out.spans[label]!);
    }
    expect(byLabel.get("sync half-read")).toMatchObject({ traceId: "trace-abandon", userId: "u-1" });
    expect(byLabel.get("async half-read")).toMatchObject({ traceId: "trace-abandon-async", userId: "u-2" });
    // the consumer did call return(): that is an abort, whenever it is recorded
    expect(byLabel.get("closed, then dropped in its finally")).toMatchObject({ success: false, errorMessage: expect.stringMatching(/^aborted: /) });
    // the context's metadata as it was at the call (plain data, copied), its known members kept
    expect(byLabel.get("context leads back to it")).toMatchObject({ metadata: { holder: {} } });
    expect(byLabel.get("an extra context member leads back to it")).toMatchObject({ traceId: "trace-extra", userId: "u-extra" });
    // arguments, items and context metadata that are not plain data (an AbortSignal, class
    // instances, a Date) are recorded from snapshots taken at the call or the yield (the
    // generator, set on them later, is not in them), one too large as "[Not kept: …]"
    expect(byLabel.get("args lead back to it")!.parameters).toEqual(["args lead back to it", { signal: {}, session: {} }]);
    expect(byLabel.get("a large argument")!.parameters).toEqual(["a large argument", "[Not kept: more than 1000 values]"]);
    expect(byLabel.get("context metadata not plain data")!.metadata).toEqual({ req: { path: "/chat" }, when: "2026-12-03T00:00:00.000Z", db: "[Not kept: more than 1000 values]", tenant: "acme" });
    expect(r.out.chats).toHaveLength(3);
    const chatByPrompt = new Map((r.out.chats as Array<{ promptPreview: string }>).map((c) => [c.promptPreview, c]));
    // plain items are kept for the record, and its response function gets them as always
    expect(chatByPrompt.get("plain items")).toMatchObject({ success: false, errorMessage: expect.stringMatching(/^abandoned: /), responsePreview: "plain items, half" });
    // class instances as their members: the response function reads `text` from them
    expect(chatByPrompt.get("items lead back to it")).toMatchObject({ success: false, errorMessage: expect.stringMatching(/^abandoned: /), responsePreview: "items lead back to it more" });
    // nothing of the test's kept alive by the registration
    // an abandoned chat's time to first token is its first text's, not its role-only first chunk's (it was)
    const slow = chatByPrompt.get("slow first token") as { timeToFirstTokenSeconds: number; durationSeconds: number; responsePreview: string } | undefined;
    expect(slow).toMatchObject({ success: false, responsePreview: "late" });
    expect(slow!.timeToFirstTokenSeconds).toBeGreaterThanOrEqual(0.05);
    expect(r.out.alive).toBe(0);
  });
});

describe("a decorated call in an Express request whose user the middleware's userId(req) gives (child process, --expose-gc)", () => {
  for (const mode of ["standard", "legacy"]) {
    it(`names the user at the call, though the handler switched it while the call ran; also read to its end later, or dropped and collected (${mode})`, () => {
      const r = runFixtureChild<{ records: ToolRecord[] }>("decorators/express-user-child.mts", "audit-dec-express-user-", [mode]);
      expect(r.status, r.stderr).toBe(0);
      const users = Object.fromEntries(r.out.records.map((rec) => [rec.parameters[0], rec.userId]));
      // (it was "bob" for the first two, the user at their end, and none for the dropped one)
      expect(users).toEqual({
        "async, awaited after the switch": "alice",
        "generator read after the switch": "alice",
        "generator dropped half-read": "alice",
      });
      expect(r.out.records.find((rec) => rec.parameters[0] === "generator dropped half-read")).toMatchObject({ success: false, errorMessage: expect.stringMatching(/^abandoned: /) });
    });
  }
});
