/**
 * A trail built with the real AuditLogger for the CLI tests: a plain session with rotated
 * segments and every kind, and an encrypted session. Canary strings mark content that must not
 * leave in an export made without --include-content.
 */
import fs from "node:fs";
import path from "node:path";
import { AuditLogger } from "../../src/index.js";
import { TEST_KEY, tmpProject } from "../helpers/index.js";

export const CANARY = {
  prompt: "CANARY_PROMPT_7f3",
  response: "CANARY_RESPONSE_9a1",
  param: "CANARY_PARAM_22b",
  result: "CANARY_RESULT_c4d",
  secretPrompt: "CANARY_SECRET_PROMPT_e5e",
  secretResponse: "CANARY_SECRET_RESPONSE_f60",
} as const;

/** A prompt that is hostile to terminals and spreadsheets. */
export const NASTY_PROMPT = `=cmd|' /C calc'!A0, "quoted", and\na newline \u001b[31mred\u001b[0m ${CANARY.prompt}`;

export interface Trail {
  readonly projectPath: string;
  readonly auditDir: string;
  readonly chatDurations: Record<string, number[]>;
  readonly toolDurations: Record<string, number[]>;
  readonly chatIds: string[];
  /** ids of the encrypted session's chats */
  readonly secretChatIds: string[];
  readonly keyFile: string;
}

/** Nearest-rank percentile, computed independently of the library. */
export function nearestRank(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

export async function buildTrail(): Promise<Trail> {
  const projectPath = tmpProject("audit-cli-");
  const chatDurations: Record<string, number[]> = { "gpt-4o": [], "claude-3-5-haiku": [] };
  const toolDurations: Record<string, number[]> = { search: [], calc: [] };
  const chatIds: string[] = [];
  const alpha = new AuditLogger({ sessionId: "alpha", projectPath, rotation: { size: "2k" } });
  for (let i = 0; i < 40; i++) {
    const model = i % 4 === 0 ? "claude-3-5-haiku" : "gpt-4o";
    const d = Math.round((0.1 + ((i * 37) % 23) / 10) * 1000) / 1000;
    chatDurations[model]!.push(d);
    chatIds.push(
      alpha.logChatInteraction({
        interactionType: i % 2 === 0 ? "api_request" : "chat",
        prompt: i === 0 ? NASTY_PROMPT : `question ${i} ${CANARY.prompt}`,
        response: `answer ${i} ${CANARY.response}`,
        model,
        inputTokens: 100 + i,
        outputTokens: 50 + i,
        durationSeconds: d,
        persona: i % 3 === 0 ? "planner" : undefined,
      }),
    );
    const tool = i % 2 === 0 ? "search" : "calc";
    const td = Math.round((0.01 + ((i * 13) % 17) / 100) * 1000) / 1000;
    toolDurations[tool]!.push(td);
    alpha.logToolUsage({
      toolName: tool,
      operation: "run",
      parameters: { q: `${CANARY.param} ${i}` },
      result: { r: `${CANARY.result} ${i}` },
      durationSeconds: td,
      ...(i % 5 === 0 ? { success: false, errorMessage: "rate limited" } : {}),
    });
  }
  alpha.logPersonaActivity({ personaName: "planner", activityType: "plan", description: "made a plan", durationSeconds: 2 });
  alpha.logFileOperation({ operation: "read", filePath: "/data/in.csv", fileSize: 1234 });
  alpha.logPerformanceMetric({ metricName: "rank_ms", value: 12.5, unit: "ms" });
  alpha.logError({ errorType: "TimeoutError", message: "upstream timed out", severity: "warning" });
  await alpha.finalizeSession();

  const secretChatIds: string[] = [];
  const beta = new AuditLogger({ sessionId: "beta", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
  for (let i = 0; i < 3; i++) {
    secretChatIds.push(beta.logChatInteraction({ prompt: `${CANARY.secretPrompt} ${i}`, response: `${CANARY.secretResponse} ${i}`, model: "gpt-4o", inputTokens: 10, outputTokens: 5, durationSeconds: 0.5 }));
  }
  beta.logToolUsage({ toolName: "vault", operation: "read", parameters: { k: CANARY.param }, result: { v: CANARY.result } });
  await beta.finalizeSession();

  const keyFile = path.join(tmpProject("audit-cli-key-"), "key.txt");
  fs.writeFileSync(keyFile, TEST_KEY + "\n", { mode: 0o600 });
  return { projectPath, auditDir: path.join(projectPath, "audit_logs"), chatDurations, toolDurations, chatIds, secretChatIds, keyFile };
}
