/**
 * The viewer's line index: pages and record lookups from the index must equal what the
 * AuditViewer's full reads return (ServeData with `lineIndex: false`), and must follow the files
 * as they grow, rotate, shrink or are replaced.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { ServeData, type TimelineQuery } from "../../src/serve/data.js";
import { SessionIndex } from "../../src/serve/session-index.js";
import { RECORD_KINDS } from "../../src/types.js";
import { cleanupTmp, readJsonl, TEST_KEY, tmpProject } from "../helpers/index.js";

afterAll(() => cleanupTmp());

const T0 = Date.parse("2025-05-01T08:00:00.000Z");
const MODELS = ["gpt-4o", "claude-3-5-sonnet", "gpt-4o-mini"];

/** Logs `n` groups (chat → 2 tools, a metric, sometimes persona, file, error) at controlled times. */
function logGroups(logger: AuditLogger, from: number, n: number, clock: { t: number; backwardsEvery?: number }): string[] {
  const chats: string[] = [];
  for (let g = from; g < from + n; g++) {
    // many records share a millisecond; now and then the clock steps back (timestamps out of file order)
    clock.t += g % 3 === 0 ? 0 : 7;
    if (clock.backwardsEvery && g % clock.backwardsEvery === clock.backwardsEvery - 1) clock.t -= 50;
    vi.setSystemTime(clock.t);
    const userId = `user_${g % 4}`;
    const traceId = `trace-${g}`;
    const chat = logger.logChatInteraction({
      interactionType: "chat",
      prompt: `question ${g}`,
      response: `answer ${g}`,
      model: MODELS[g % 3]!,
      inputTokens: 10 + g,
      outputTokens: 5,
      durationSeconds: 0.1,
      userId,
      traceId,
      ...(g % 2 ? { persona: g % 4 === 1 ? "triage" : "agent" } : {}),
      ...(g % 5 === 0 ? { success: false, errorMessage: "rate limited" } : {}),
    });
    chats.push(chat);
    for (let t = 0; t < 2; t++) {
      logger.logToolUsage({ toolName: "kb_search", operation: "query", parameters: { g, t }, result: { ok: true }, durationSeconds: 0.01, parentId: chat, userId, traceId, ...(g % 7 === t ? { success: false, errorMessage: "timeout" } : {}) });
    }
    logger.logPerformanceMetric({ metricName: "latency_ms", value: g, unit: "ms", userId, traceId });
    if (g % 3 === 0) logger.logPersonaActivity({ personaName: g % 2 ? "triage" : "agent", activityType: "route", userId, traceId, parentId: chat });
    if (g % 4 === 0) logger.logFileOperation({ operation: "read", filePath: `/data/${g}.txt`, fileSize: g, userId, traceId });
    if (g % 6 === 0) logger.logError({ errorType: "ValueError", message: `bad ${g}`, severity: "error", userId, traceId, parentId: chat });
  }
  return chats;
}

const QUERIES: Array<Omit<TimelineQuery, "limit" | "cursor">> = [
  { kinds: RECORD_KINDS },
  { kinds: ["chat_interaction"], model: "gpt-4o" },
  { kinds: RECORD_KINDS, success: false },
  { kinds: RECORD_KINDS, userId: "user_1" },
  { kinds: RECORD_KINDS, persona: "triage" },
  { kinds: ["tool_usage", "error"], traceId: "trace-12" },
  { kinds: ["chat_interaction", "tool_usage"], model: "claude-3-5-sonnet", success: true },
  { kinds: RECORD_KINDS, model: "no-such-model" },
  // a time range (since inclusive, until exclusive; the index stops its scan at since)
  { kinds: RECORD_KINDS, since: "2025-05-01T08:00:00.100Z" },
  { kinds: RECORD_KINDS, until: "2025-05-01T08:00:00.150Z" },
  { kinds: RECORD_KINDS, userId: "user_1", since: "2025-05-01T08:00:00.050", until: "2025-05-01T08:00:00.200Z" },
];

/** Every page of a query, following the cursor, as plain JSON. */
async function allPages(data: ServeData, sessionId: string, q: Omit<TimelineQuery, "limit" | "cursor">, limit: number): Promise<unknown[]> {
  const pages: unknown[] = [];
  let cursor: TimelineQuery["cursor"];
  for (let i = 0; i < 200; i++) {
    const page = await data.timeline(sessionId, { ...q, limit, ...(cursor ? { cursor } : {}) });
    pages.push(JSON.parse(JSON.stringify(page)));
    if (!page.next) return pages;
    cursor = page.next;
  }
  throw new Error("too many pages");
}

async function expectSameAnswers(auditPath: string, sessionId: string, limit = 17, opts: { encryptionKey?: string } = {}): Promise<void> {
  const fast = new ServeData({ auditPath, ...opts });
  const slow = new ServeData({ auditPath, lineIndex: false, ...opts });
  for (const q of QUERIES) {
    expect(await allPages(fast, sessionId, q, limit), JSON.stringify(q)).toEqual(await allPages(slow, sessionId, q, limit));
  }
}

describe("line index", () => {
  it("returns the same pages and records as full reads, timestamps out of order included", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const projectPath = tmpProject("audit-index-");
      const logger = new AuditLogger({ sessionId: "s1", projectPath, rotation: { size: "8k" }, encryptionKey: TEST_KEY });
      const chats = logGroups(logger, 0, 60, { t: T0, backwardsEvery: 9 });
      await logger.finalizeSession();
      vi.useRealTimers();
      const auditPath = path.join(projectPath, "audit_logs");
      expect(fs.readdirSync(auditPath).some((n) => /^tool_usage_s1\.\d+\.jsonl$/.test(n))).toBe(true);
      await expectSameAnswers(auditPath, "s1", 17);
      await expectSameAnswers(auditPath, "s1", 50, { encryptionKey: TEST_KEY });
      const fast = new ServeData({ auditPath, encryptionKey: TEST_KEY });
      const slow = new ServeData({ auditPath, encryptionKey: TEST_KEY, lineIndex: false });
      for (const id of [chats[0]!, chats[30]!, chats[59]!]) {
        const a = await fast.record("s1", id);
        expect(a?.children.length).toBeGreaterThanOrEqual(2);
        expect(JSON.parse(JSON.stringify(a))).toEqual(JSON.parse(JSON.stringify(await slow.record("s1", id))));
        // a child's parent is found through the index too
        const child = await fast.record("s1", a!.children[0]!.id);
        expect(child?.parent?.id).toBe(id);
      }
      expect(await fast.record("s1", "01JZZZZZZZZZZZZZZZZZZZZZZZ")).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("shows records appended after the index was built, and follows a rotation", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const projectPath = tmpProject("audit-index-");
      const auditPath = path.join(projectPath, "audit_logs");
      const logger = new AuditLogger({ sessionId: "live", projectPath, rotation: { size: "16k" } });
      const clock = { t: T0 };
      logGroups(logger, 0, 5, clock);
      await logger.flush();
      const data = new ServeData({ auditPath });
      const before = await data.timeline("live", { kinds: ["chat_interaction"], limit: 50 });
      expect(before.rows).toHaveLength(5);
      const active = path.join(auditPath, "chat_interactions_live.jsonl");
      const inodeBefore = fs.statSync(active).ino;

      const added = logGroups(logger, 5, 3, clock);
      await logger.flush();
      const after = await data.timeline("live", { kinds: ["chat_interaction"], limit: 50 });
      expect(after.rows).toHaveLength(8);
      expect(after.rows.slice(0, 3).map((r) => r.id)).toEqual([...added].reverse());

      // enough to rotate the chat file at least once
      logGroups(logger, 8, 120, clock);
      await logger.flush();
      vi.useRealTimers();
      const segments = fs.readdirSync(auditPath).filter((n) => /^chat_interactions_live\.\d+\.jsonl$/.test(n));
      expect(segments.length).toBeGreaterThan(0);
      expect(fs.statSync(path.join(auditPath, "chat_interactions_live.1.jsonl")).ino).toBe(inodeBefore);
      const all = readJsonl(active).length + segments.reduce((n, s) => n + readJsonl(path.join(auditPath, s)).length, 0);
      expect(all).toBe(128);
      await expectSameAnswers(auditPath, "live", 23);
      await logger.finalizeSession();
    } finally {
      vi.useRealTimers();
    }
  });

  it("throws the index of a file away when it shrinks, is rewritten in place or is replaced", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const projectPath = tmpProject("audit-index-");
    const auditPath = path.join(projectPath, "audit_logs");
    try {
      const a = new AuditLogger({ sessionId: "a", projectPath });
      logGroups(a, 0, 20, { t: T0 });
      await a.finalizeSession();
      const b = new AuditLogger({ sessionId: "b", projectPath });
      logGroups(b, 100, 30, { t: T0 + 3_600_000 });
      await b.finalizeSession();
    } finally {
      vi.useRealTimers();
    }
    const file = path.join(auditPath, "chat_interactions_a.jsonl");
    const other = fs.readFileSync(path.join(auditPath, "chat_interactions_b.jsonl"), "utf8").split("\n").filter(Boolean);
    const data = new ServeData({ auditPath });
    const ids = async (): Promise<string[]> => (await data.timeline("a", { kinds: ["chat_interaction"], limit: 100 })).rows.map((r) => r.id);
    const idsOf = (text: string): string[] =>
      text
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { id: string }).id)
        .reverse();
    const original = fs.readFileSync(file, "utf8");
    expect(await ids()).toEqual(idsOf(original));

    // truncated (same inode, smaller)
    const lines = original.split("\n").filter(Boolean);
    fs.truncateSync(file, Buffer.byteLength(lines.slice(0, 8).join("\n") + "\n"));
    expect(await ids()).toEqual(idsOf(fs.readFileSync(file, "utf8")));

    // then grown past its old size with other records (same inode): the bytes where the index stopped differ
    fs.appendFileSync(file, other.slice(0, 25).join("\n") + "\n");
    expect(fs.statSync(file).size).toBeGreaterThan(Buffer.byteLength(original));
    expect(await ids()).toEqual(idsOf(fs.readFileSync(file, "utf8")));

    // rewritten in place with the same size (new mtime)
    const now = fs.readFileSync(file, "utf8");
    const swapped = now.replace(/"model":"gpt-4o"/g, '"model":"gpt-4x"');
    expect(swapped.length).toBe(now.length);
    expect(swapped).toContain('"model":"gpt-4x"');
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, swapped, 0, "utf8");
    fs.closeSync(fd);
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect((await data.timeline("a", { kinds: ["chat_interaction"], model: "gpt-4o", limit: 100 })).rows).toEqual([]);
    expect((await data.timeline("a", { kinds: ["chat_interaction"], model: "gpt-4x", limit: 100 })).rows.length).toBeGreaterThan(0);

    // replaced by another file (new inode) of the same name
    const tmp = path.join(projectPath, "replacement.jsonl");
    fs.writeFileSync(tmp, lines.slice(10).join("\n") + "\n");
    fs.renameSync(tmp, file);
    expect(await ids()).toEqual(idsOf(fs.readFileSync(file, "utf8")));
    await expectSameAnswers(auditPath, "a", 9);
  });

  it("never writes to the audit directory", async () => {
    const projectPath = tmpProject("audit-index-");
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const logger = new AuditLogger({ sessionId: "ro", projectPath });
      logGroups(logger, 0, 10, { t: T0 });
      await logger.finalizeSession();
    } finally {
      vi.useRealTimers();
    }
    const auditPath = path.join(projectPath, "audit_logs");
    const snapshot = (): string[] => fs.readdirSync(auditPath).map((n) => `${n}:${fs.statSync(path.join(auditPath, n)).size}:${fs.statSync(path.join(auditPath, n)).mtimeMs}`);
    const before = snapshot();
    const ix = new SessionIndex(auditPath, "ro");
    const newest = await ix.newest("tool_usage", 5, { match: () => true });
    expect(newest).toHaveLength(5);
    expect(ix.count("tool_usage")).toBe(20);
    expect(snapshot()).toEqual(before);
  });
});
