/**
 * Audit logs for the viewer's tests, written by the real AuditLogger at controlled times (only
 * `Date` is faked): request → chat → tool trees, several models, failing tools, errors, one plain
 * session, one encrypted session and a small second session.
 */
import fs from "node:fs";
import path from "node:path";
import { vi } from "vitest";
import { AuditLogger, PresetConfigs } from "../../src/index.js";
import { TEST_KEY, tmpProject } from "../helpers/index.js";

export const T0 = Date.parse("2025-03-01T09:00:00.000Z");

/** The exact prompt of the first conversation (markup in it must show as text). */
export const REFUND_PROMPT = "What is the refund policy for order #4521?\nPlease answer in <b>two</b> sentences & cite the policy.";
export const REFUND_RESPONSE = "Orders can be refunded within 30 days of delivery.\nSee policy §4.2 \"Returns\".";
export const SECRET_PROMPT = "Summarise the patient note for case 77 (confidential).";

export interface ServeFixture {
  readonly projectPath: string;
  readonly auditPath: string;
  /** ids by name, e.g. ids.refundChat */
  readonly ids: Readonly<Record<string, string>>;
  /** what was logged in session "support": counts per kind, tokens, failures */
  readonly support: { chats: number; tools: number; toolFailures: number; errors: number; metrics: number; personas: number; tokens: number; models: Record<string, number> };
}

interface Chat {
  model: string;
  input: number;
  output: number;
  duration: number;
  prompt: string;
  response: string;
  tools: Array<{ name: string; ok: boolean }>;
  user: string;
  persona: string;
}

/** Builds the fixture; call `vi.useRealTimers()` is done before returning. */
export async function buildServeFixture(): Promise<ServeFixture> {
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    const projectPath = tmpProject("audit-serve-");
    let clock = T0;
    const tick = (ms: number): void => {
      clock += ms;
      vi.setSystemTime(clock);
    };
    tick(0);
    const ids: Record<string, string> = {};
    const support = { chats: 0, tools: 0, toolFailures: 0, errors: 0, metrics: 0, personas: 0, tokens: 0, models: {} as Record<string, number> };

    const logger = new AuditLogger(PresetConfigs.development("support", projectPath, { customMetadata: { team: "support" } }));
    const models = ["gpt-4o", "claude-3-5-sonnet", "gpt-4o-mini"];
    const chats: Chat[] = [];
    for (let i = 0; i < 12; i++) {
      chats.push({
        model: models[i % 3]!,
        input: 100 + i * 10,
        output: 40 + i * 5,
        duration: [0.08, 0.4, 0.9, 1.7, 3.2, 7][i % 6]!,
        prompt: i === 0 ? REFUND_PROMPT : `Question ${i}: how do I reset my password on device ${i}?`,
        response: i === 0 ? REFUND_RESPONSE : `Answer ${i}: open Settings → Security.`,
        tools: i % 4 === 3 ? [{ name: "kb_search", ok: true }, { name: "crm_lookup", ok: false }] : [{ name: "kb_search", ok: true }],
        user: i % 2 === 0 ? "alice" : "bob",
        persona: i % 3 === 0 ? "triage" : "agent",
      });
    }
    for (const [i, c] of chats.entries()) {
      const trace = `trace-${i}`;
      const requestId = `req_${i}`;
      const chatId = `chat_${i}`;
      if (i === 0) {
        ids.refundChat = chatId;
        ids.refundRequest = requestId;
      }
      logger.logPersonaActivity({ personaName: c.persona, activityType: "route", description: `routing ticket ${i}`, durationSeconds: 0.01, traceId: trace, userId: c.user, parentId: requestId });
      support.personas++;
      tick(200);
      for (const [j, t] of c.tools.entries()) {
        const toolId = `tool_${i}_${j}`;
        if (i === 0 && j === 0) ids.refundTool = toolId;
        logger.logToolUsage({
          id: toolId,
          parentId: chatId,
          traceId: trace,
          userId: c.user,
          persona: c.persona,
          toolName: t.name,
          operation: t.name === "kb_search" ? "query" : "get_customer",
          parameters: { q: `ticket ${i}` },
          result: t.ok ? { hits: 3 } : undefined,
          success: t.ok,
          ...(t.ok ? {} : { errorMessage: "CRM timeout after 5s" }),
          durationSeconds: 0.05 + j * 0.1,
        });
        support.tools++;
        if (!t.ok) support.toolFailures++;
        tick(100);
      }
      logger.logChatInteraction({
        id: chatId,
        parentId: requestId,
        traceId: trace,
        userId: c.user,
        persona: c.persona,
        interactionType: "api_request",
        prompt: c.prompt,
        response: c.response,
        model: c.model,
        provider: c.model.startsWith("gpt") ? "openai" : "anthropic",
        inputTokens: c.input,
        outputTokens: c.output,
        tokensUsed: c.input + c.output,
        durationSeconds: c.duration,
        finishReason: "stop",
        ...(i === 0 ? { toolCalls: [{ id: "call_1", type: "function", function: { name: "kb_search", arguments: '{"q":"refund policy"}' } }] } : {}),
      });
      support.chats++;
      support.tokens += c.input + c.output;
      support.models[c.model] = (support.models[c.model] ?? 0) + 1;
      tick(50);
      logger.logPerformanceMetric({ id: requestId, traceId: trace, userId: c.user, metricName: "http_request_duration", value: c.duration * 1000 + 20, unit: "ms", context: { method: "POST", route: "/api/chat", status: 200 } });
      support.metrics++;
      if (i % 5 === 4) {
        logger.logError({ errorType: "UpstreamTimeout", message: `upstream slow on ticket ${i}`, severity: i % 2 ? "warning" : "error", traceId: trace, parentId: requestId });
        support.errors++;
      }
      // spread the session over a few hours for the hourly charts
      tick(17 * 60_000);
    }
    logger.logFileOperation({ operation: "create", filePath: "/tmp/ticket_report.md", fileSize: 2048 });
    await logger.finalizeSession();

    // an encrypted session (production preset): content unreadable without the key
    tick(60_000);
    const enc = new AuditLogger(PresetConfigs.production("secure", projectPath, { encryptionKey: TEST_KEY }));
    ids.secretChat = enc.logChatInteraction({ id: "secret_chat", prompt: SECRET_PROMPT, response: "Stable; follow up in 2 weeks.", model: "gpt-4o", inputTokens: 30, outputTokens: 12, tokensUsed: 42, durationSeconds: 0.6 });
    tick(1000);
    enc.logToolUsage({ toolName: "ehr_fetch", operation: "read", parameters: { caseId: 77 }, result: { ok: true }, durationSeconds: 0.2, parentId: "secret_chat" });
    await enc.finalizeSession();

    // a small third session
    tick(60_000);
    const batch = new AuditLogger(PresetConfigs.development("batch", projectPath));
    batch.logChatInteraction({ prompt: "classify: spam?", response: "no", model: "gpt-4o-mini", inputTokens: 5, outputTokens: 1, durationSeconds: 0.1 });
    await batch.finalizeSession();

    return { projectPath, auditPath: path.join(projectPath, "audit_logs"), ids, support };
  } finally {
    vi.useRealTimers();
  }
}

/** A copy of an audit directory (for tampering without touching the original). */
export function copyAuditDir(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true });
  return to;
}

/** Changes one byte inside the first record of `file` that contains `needle`, keeping valid JSON. */
export function tamperLine(file: string, needle: string, replacement: string): void {
  const text = fs.readFileSync(file, "utf8");
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`${needle} not in ${file}`);
  fs.writeFileSync(file, text.slice(0, at) + replacement + text.slice(at + needle.length));
}
