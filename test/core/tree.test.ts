import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, PresetConfigs } from "../../src/index.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";
import { auditDirOf, documentedKindFiles } from "../helpers/core.js";

afterEach(cleanupTmp);

describe("documented file tree", () => {
  it("exists right after new AuditLogger(), before anything is logged", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "tree_1", projectPath });
    const dir = auditDirOf(projectPath);
    expect(logger.auditDir).toBe(dir);
    expect(logger.sessionId).toBe("tree_1");
    const names = fs.readdirSync(dir);
    for (const f of documentedKindFiles("tree_1")) {
      expect(names).toContain(f);
      expect(fs.statSync(path.join(dir, f)).size).toBe(0);
    }
    expect(names).toContain("session_tree_1.json");
    expect(fs.statSync(path.join(dir, "full_interactions")).isDirectory()).toBe(true);
    const session = JSON.parse(fs.readFileSync(path.join(dir, "session_tree_1.json"), "utf8")) as Record<string, unknown>;
    expect(session.sessionId).toBe("tree_1");
    expect(session.status).toBe("active");
    expect(typeof session.startTime).toBe("string");
    await logger.finalizeSession();
  });

  it("creates the files private to the owner (0600 files, 0700 directories)", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "tree_modes", projectPath });
    logger.logChatInteraction({ prompt: "p", response: "r" });
    await logger.finalizeSession();
    const dir = auditDirOf(projectPath);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dir, "full_interactions")).mode & 0o777).toBe(0o700);
    for (const f of [...documentedKindFiles("tree_modes"), "session_tree_modes.json"]) {
      expect(fs.statSync(path.join(dir, f)).mode & 0o777, f).toBe(0o600);
    }
    for (const f of fs.readdirSync(path.join(dir, "full_interactions"))) {
      expect(fs.statSync(path.join(dir, "full_interactions", f)).mode & 0o777, f).toBe(0o600);
    }
  });

  it("has no full_interactions/ directory when full content logging is off (minimal)", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger(PresetConfigs.minimal("tree_min", projectPath));
    const names = fs.readdirSync(auditDirOf(projectPath));
    for (const f of documentedKindFiles("tree_min")) expect(names).toContain(f);
    expect(names).not.toContain("full_interactions");
    await logger.finalizeSession();
  });

  it("finalizeSession() writes the summary to session_<id>.json and releases the lock", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "tree_fin", projectPath, customMetadata: { department: "AI" } });
    logger.logChatInteraction({ prompt: "a", response: "b", model: "m1", inputTokens: 3, outputTokens: 4 });
    logger.logChatInteraction({ prompt: "a", response: "b", model: "m2", tokensUsed: 10, success: false, errorMessage: "boom" });
    logger.logToolUsage({ toolName: "t", operation: "o", success: true });
    logger.logToolUsage({ toolName: "t", operation: "o", success: false });
    logger.logError({ errorType: "E", message: "m", severity: "critical" });
    logger.logPersonaActivity({ personaName: "planner", activityType: "plan" });
    const summary = await logger.finalizeSession();
    const dir = auditDirOf(projectPath);
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, "session_tree_fin.json"), "utf8")) as Record<string, unknown>;
    expect(onDisk.status).toBe("finalized");
    expect(onDisk.counts).toEqual(summary.counts);
    expect(summary.counts).toEqual({ chat_interaction: 2, persona_activity: 1, tool_usage: 2, file_operation: 0, performance_metric: 0, error: 1 });
    expect(summary.totalRecords).toBe(6);
    expect(summary.tokens).toEqual({ total: 17, input: 3, output: 4, callsWithoutTokenSplit: 1, callsWithoutTokens: 0 });
    expect(summary.models).toEqual({ m1: 1, m2: 1 });
    expect(summary.toolSuccessRate).toBe(0.5);
    expect(summary.chatSuccessRate).toBe(0.5);
    expect(summary.errorsBySeverity).toEqual({ critical: 1 });
    expect(summary.customMetadata).toEqual({ department: "AI" });
    const chats = readJsonl(path.join(dir, "chat_interactions_tree_fin.jsonl"));
    expect(summary.heads.chat_interaction).toEqual({ seq: 2, hash: chats[1]!.hash });
    expect(fs.readdirSync(dir).filter((n) => n.endsWith(".lock"))).toEqual([]);
    // the session is free again: a new logger continues it
    const again = new AuditLogger({ sessionId: "tree_fin", projectPath });
    await again.finalizeSession();
  });

  it("Symbol.asyncDispose finalizes the session", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "tree_dispose", projectPath });
    logger.logPerformanceMetric({ metricName: "x", value: 1, unit: "ms" });
    await logger[Symbol.asyncDispose]();
    expect(logger.isClosed).toBe(true);
    const onDisk = JSON.parse(fs.readFileSync(path.join(auditDirOf(projectPath), "session_tree_dispose.json"), "utf8")) as Record<string, unknown>;
    expect(onDisk.status).toBe("finalized");
    expect(readJsonl(path.join(auditDirOf(projectPath), "performance_metrics_tree_dispose.jsonl"))).toHaveLength(1);
  });
});
