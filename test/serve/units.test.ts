/**
 * The viewer's parts on their own: where the static files are found (source and compiled
 * layouts), path confinement, keyset paging when many records share a millisecond, and caches
 * that follow a live session as it grows.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { ServeData } from "../../src/serve/data.js";
import { resolveStaticPath, staticDirFor, vendorFiles } from "../../src/serve/static.js";
import { buildTree, MAX_TIMELINE_SKIP, mergePage } from "../../src/serve/timeline.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterEach(() => {
  vi.useRealTimers();
  cleanupTmp();
});

const repo = path.resolve(import.meta.dirname, "../..");
const staticSrc = path.join(repo, "src/serve/static");

describe("static files", () => {
  it("are found beside the TypeScript source and from the compiled dist/src/serve/ module", () => {
    expect(staticDirFor(pathToFileURL(path.join(repo, "src/serve/server.ts")).href)).toBe(staticSrc);
    expect(staticDirFor(pathToFileURL(path.join(repo, "dist/src/serve/server.js")).href)).toBe(staticSrc);
    expect(() => staticDirFor(pathToFileURL("/nowhere/at/all/server.js").href)).toThrow(/static files are missing/);
  });

  it("resolves uPlot from node_modules for both layouts", () => {
    for (const mod of ["src/serve/server.ts", "dist/src/serve/server.js"]) {
      const v = vendorFiles(pathToFileURL(path.join(repo, mod)).href);
      expect(fs.existsSync(v.get("uPlot.esm.js")!)).toBe(true);
      expect(fs.existsSync(v.get("uPlot.min.css")!)).toBe(true);
    }
  });

  it("confines paths to the static directory", () => {
    expect(resolveStaticPath(staticSrc, "/index.html")).toBe(path.join(staticSrc, "index.html"));
    expect(resolveStaticPath(staticSrc, "/js/app.js")).toBe(path.join(staticSrc, "js/app.js"));
    for (const bad of ["/../server.ts", "/..%2fserver.ts", "/js/../../server.ts", "/%2e%2e/server.ts", "/js%5c..%5c..%5cserver.ts", "/%E0%A4%A", "/index.html%00", "/js", "/", "/./index.html"]) {
      expect(resolveStaticPath(staticSrc, bad), bad).toBeUndefined();
    }
  });

  it("does not follow a symlink out of the static directory", () => {
    const root = tmpProject("audit-static-");
    fs.writeFileSync(path.join(root, "ok.txt"), "ok");
    const outside = tmpProject("audit-outside-");
    fs.writeFileSync(path.join(outside, "secret.txt"), "secret");
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(root, "link.txt"));
    expect(resolveStaticPath(root, "/ok.txt")).toBe(path.join(root, "ok.txt"));
    expect(resolveStaticPath(root, "/link.txt")).toBeUndefined();
  });
});

describe("timeline paging", () => {
  it("returns every record exactly once when many share one millisecond", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.parse("2025-05-01T00:00:00.000Z"));
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "same_ms", projectPath });
    const ids: string[] = [];
    for (let i = 0; i < 23; i++) ids.push(logger.logToolUsage({ toolName: "t", operation: `op${i}` }));
    vi.setSystemTime(Date.parse("2025-05-01T00:00:00.001Z"));
    for (let i = 0; i < 5; i++) ids.push(logger.logError({ errorType: "E", message: `m${i}` }));
    vi.setSystemTime(Date.parse("2025-05-01T00:00:00.002Z"));
    for (let i = 0; i < 9; i++) ids.push(logger.logChatInteraction({ prompt: `p${i}`, response: "r" }));
    await logger.finalizeSession();
    vi.useRealTimers();
    const data = new ServeData({ auditPath: logger.auditDir });
    for (const limit of [1, 4, 7, 50]) {
      const seen: string[] = [];
      let cursor: { before: string; skip: number } | undefined;
      for (let guard = 0; guard < 100; guard++) {
        const page = await data.timeline("same_ms", { kinds: ["chat_interaction", "tool_usage", "error"], limit, ...(cursor ? { cursor } : {}) });
        seen.push(...page.rows.map((r) => r.id));
        if (!page.next) break;
        cursor = page.next;
      }
      expect(seen.length, `limit ${limit}`).toBe(ids.length);
      expect(new Set(seen)).toEqual(new Set(ids));
      // newest first: the chats (latest millisecond) come first
      expect(seen.slice(0, 9).sort()).toEqual(ids.slice(28).sort());
    }
  });

  it("mergePage ends with next = null on the last page", () => {
    const rec = (id: string, ms: number) => ({ id, type: "error", sessionId: "s", seq: 1, timestamp: new Date(ms).toISOString() });
    const all = [rec("a", 3), rec("b", 2), rec("c", 1)];
    expect(mergePage([all], 3, undefined).next).toBeNull();
    const first = mergePage([all], 2, undefined);
    expect(first.page.map((r) => r.id)).toEqual(["a", "b"]);
    expect(first.next).toEqual({ before: new Date(3).toISOString(), skip: 1 });
  });

  it("buildTree nests by parentId, keeps orphans as roots and survives a cycle", () => {
    const r = (id: string, ms: number, parentId?: string) => ({ id, type: "tool_usage", sessionId: "s", seq: ms, timestamp: new Date(ms).toISOString(), ...(parentId ? { parentId } : {}) });
    const rows = buildTree([r("req", 9), r("chat", 8, "req"), r("t2", 7, "chat"), r("t1", 6, "chat"), r("orphan", 5, "gone"), r("x", 4, "y"), r("y", 3, "x")]);
    expect(rows.map((x) => [x.id, x.depth])).toEqual([
      ["req", 0],
      ["chat", 1],
      ["t1", 2],
      ["t2", 2],
      ["orphan", 0],
      ["x", 0],
      ["y", 1],
    ]);
    expect(rows.find((x) => x.id === "orphan")!.parentOnPage).toBe(false);
    expect(rows.find((x) => x.id === "chat")!.childCount).toBe(2);
  });
});

describe("caches", () => {
  it("recompute a live session's figures after it grows", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "live", projectPath });
    logger.logChatInteraction({ prompt: "a", response: "b", model: "gpt-4o", inputTokens: 10, outputTokens: 5, tokensUsed: 15 });
    await logger.flush();
    const data = new ServeData({ auditPath: logger.auditDir });
    expect((await data.stats("live")).tokens).toBe(15);
    expect((await data.stats("live")).tokens).toBe(15);
    logger.logChatInteraction({ prompt: "c", response: "d", model: "gpt-4o", inputTokens: 1, outputTokens: 1, tokensUsed: 2 });
    await logger.flush();
    expect((await data.stats("live")).tokens).toBe(17);
    expect((await data.integrity("live")).ok).toBe(true);
    await logger.finalizeSession();
    expect((await data.stats("live")).status).toBe("finalized");
  });
});

describe("mergePage past MAX_TIMELINE_SKIP", () => {
  it("moves the cursor to the next older millisecond instead of skipping more than the cap", () => {
    const t = "2025-01-01T00:00:00.500Z";
    const recs = Array.from({ length: 1200 }, (_, i) => ({ id: `r${String(i).padStart(4, "0")}`, type: "error", sessionId: "s", seq: 1200 - i, timestamp: t }));
    const before = new Date(Date.parse(t) + 1).toISOString();
    const within = mergePage([recs], 200, { before, skip: 600 });
    expect(within.next).toEqual({ before, skip: 800 });
    const past = mergePage([recs], 300, { before, skip: 800 });
    expect(past.page).toHaveLength(300);
    expect(past.next).toEqual({ before: t, skip: 0 });
    expect(800 + 300).toBeGreaterThan(MAX_TIMELINE_SKIP);
  });
});
