import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { collect, startCli, waitFor } from "./helpers.js";

afterEach(cleanupTmp);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("audit-logger tail -f", () => {
  it("prints records written after it started, across rotation and new sessions, each once; stops on SIGINT", async () => {
    const projectPath = tmpProject("audit-cli-follow-");
    const auditDir = path.join(projectPath, "audit_logs");
    const logger = new AuditLogger({ sessionId: "live", projectPath, rotation: { size: "2k" } });
    const historyId = logger.logToolUsage({ toolName: "history", operation: "op" });
    await logger.flush();

    const child = startCli(["tail", auditDir, "-f", "-n", "1", "--json"]);
    const out = collect(child);
    try {
      await waitFor(() => out.stdout().includes(historyId), 20_000, "the history line");

      const ids: string[] = [];
      for (let batch = 0; batch < 6; batch++) {
        for (let i = 0; i < 10; i++) ids.push(logger.logToolUsage({ toolName: "t", operation: "op", parameters: { batch, i, pad: "x".repeat(60) } }));
        await logger.flush();
        await sleep(batch % 2 === 0 ? 20 : 300); // rotations both between and within polls
      }
      const errorId = logger.logError({ errorType: "LateError", message: "first error record of this session" });
      await logger.flush();
      const other = new AuditLogger({ sessionId: "late", projectPath });
      const lateId = other.logPerformanceMetric({ metricName: "m", value: 1, unit: "ms" });
      await other.flush();

      const wanted = [...ids, errorId, lateId];
      await waitFor(() => wanted.every((id) => out.stdout().includes(id)), 20_000, "every new record");
      expect(fs.readdirSync(auditDir).filter((n) => /^tool_usage_live\.\d+\.jsonl$/.test(n)).length).toBeGreaterThan(3);

      child.kill("SIGINT");
      const r = await out.done;
      expect(r.code).toBe(0);
      const got = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { id: string; type: string; seq: number });
      expect(got.map((g) => g.id).sort()).toEqual([historyId, ...wanted].sort());
      const tools = got.filter((g) => g.type === "tool_usage").map((g) => g.seq);
      expect(tools).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
      await other.finalizeSession();
    } finally {
      child.kill("SIGKILL");
      await logger.finalizeSession();
    }
  });

  it("prints the readable form of new records and stops on SIGTERM", async () => {
    const projectPath = tmpProject("audit-cli-follow-");
    const logger = new AuditLogger({ sessionId: "s", projectPath });
    logger.logToolUsage({ toolName: "first", operation: "op" });
    logger.logError({ errorType: "EarlyError", message: "before tail started", severity: "info" });
    await logger.flush();
    const child = startCli(["tail", projectPath, "--follow", "--session", "s", "--kind", "error", "-n", "1"]);
    const out = collect(child);
    try {
      await waitFor(() => out.stdout().includes("EarlyError"), 20_000, "the history line");
      logger.logToolUsage({ toolName: "not-an-error", operation: "op" });
      logger.logError({ errorType: "BoomError", message: "it went boom\nsecond line", severity: "critical" });
      await logger.flush();
      await waitFor(() => out.stdout().includes("BoomError"), 20_000, "the error line");
      child.kill("SIGTERM");
      const r = await out.done;
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^\S+Z error {14}s#1 info EarlyError: before tail started$/);
      expect(lines[1]).toMatch(/^\S+Z error {14}s#2 critical BoomError: it went boom$/);
    } finally {
      child.kill("SIGKILL");
      await logger.finalizeSession();
    }
  });
});
