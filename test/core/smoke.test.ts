import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, computeRecordHash, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";

afterEach(cleanupTmp);

describe("AuditLogger basics", () => {
  it("writes the documented tree and a verifiable chain", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "basic", projectPath });
    const id = logger.logChatInteraction({ interactionType: "api_request", prompt: "Hello", response: "Hi!", model: "claude-3", tokensUsed: 45, durationSeconds: 1.2 });
    logger.logToolUsage({ toolName: "weather_api", operation: "get_forecast", parameters: { city: "Paris" }, result: { c: 21 } });
    await logger.finalizeSession();
    const dir = path.join(projectPath, "audit_logs");
    const chats = readJsonl(path.join(dir, "chat_interactions_basic.jsonl"));
    expect(chats).toHaveLength(1);
    expect(chats[0]!.id).toBe(id);
    expect(chats[0]!.seq).toBe(1);
    expect(Object.keys(chats[0]!).at(-1)).toBe("hash");
    expect(computeRecordHash(chats[0]!.prevHash as string, chats[0]!)).toBe(chats[0]!.hash);
    expect(fs.existsSync(path.join(dir, "full_interactions", `prompt_${id}.txt`))).toBe(true);
    const report = await verifyAuditLog(dir);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });
});
