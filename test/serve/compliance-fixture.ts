/**
 * An audit directory as a compliance officer meets it months later, written by the real
 * AuditLogger at controlled times (only `Date` is faked) and cleaned up by the real
 * `audit-logger cleanup` command:
 *
 * - session "jan" (2025-01-15): alice's and bob's chats, a tool call and an error of alice's;
 * - session "feb" (2025-02-15, encrypted): chats of alice, bob and carol; it places a hold on
 *   "all" (released the next day), a hold on "jan" (still in force), and crypto-shreds carol;
 * - session "old" (100 days ago, maxLogAgeDays 30): one chat of alice's, removed by cleanup.
 */
import path from "node:path";
import { vi } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { runCli } from "../cli/helpers.js";
import { TEST_KEY, tmpProject } from "../helpers/index.js";

export interface ComplianceFixture {
  readonly projectPath: string;
  readonly auditPath: string;
  /** record ids by name */
  readonly ids: Readonly<Record<string, string>>;
  /** the hold still in force, and the released one */
  readonly heldId: string;
  readonly releasedId: string;
}

const DAY = 86_400_000;

export async function buildComplianceFixture(): Promise<ComplianceFixture> {
  const projectPath = tmpProject("audit-serve-compliance-");
  const ids: Record<string, string> = {};
  let heldId = "";
  let releasedId = "";
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    vi.setSystemTime(Date.parse("2025-01-15T10:00:00.000Z"));
    const jan = new AuditLogger({ sessionId: "jan", projectPath, maxLogAgeDays: 3650 });
    ids.janAlice = jan.logChatInteraction({ model: "gpt-4o", prompt: "alice in january", response: "ok", userId: "alice", inputTokens: 5, outputTokens: 2 });
    vi.setSystemTime(Date.parse("2025-01-15T11:00:00.000Z"));
    ids.janBob = jan.logChatInteraction({ model: "gpt-4o", prompt: "bob in january", response: "ok", userId: "bob" });
    vi.setSystemTime(Date.parse("2025-01-20T09:00:00.000Z"));
    ids.janAliceTool = jan.logToolUsage({ toolName: "crm_lookup", operation: "get", parameters: { customer: "alice" }, result: { ok: true }, userId: "alice" });
    ids.janAliceError = jan.logError({ errorType: "Timeout", message: "crm slow for alice", severity: "warning", userId: "alice" });
    await jan.finalizeSession();

    vi.setSystemTime(Date.parse("2025-02-15T10:00:00.000Z"));
    const feb = new AuditLogger({ sessionId: "feb", projectPath, maxLogAgeDays: 3650, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    ids.febAlice = feb.logChatInteraction({ model: "claude-3-5-sonnet", prompt: "alice in february", response: "ok", userId: "alice" });
    ids.febBob = feb.logChatInteraction({ model: "claude-3-5-sonnet", prompt: "bob in february", response: "ok", userId: "bob" });
    ids.febCarol = feb.logChatInteraction({ model: "claude-3-5-sonnet", prompt: "carol in february", response: "ok", userId: "carol" });
    vi.setSystemTime(Date.parse("2025-02-15T12:00:00.000Z"));
    releasedId = feb.placeLegalHold("all", "litigation 2024-117");
    vi.setSystemTime(Date.parse("2025-02-16T12:00:00.000Z"));
    feb.releaseLegalHold(releasedId, "case closed");
    vi.setSystemTime(Date.parse("2025-02-17T12:00:00.000Z"));
    heldId = feb.placeLegalHold("jan", "regulator inquiry 7");
    vi.setSystemTime(Date.parse("2025-02-20T12:00:00.000Z"));
    feb.shredSubject("carol", "GDPR erasure #881");
    await feb.finalizeSession();

    vi.setSystemTime(Date.now() - 100 * DAY);
    const old = new AuditLogger({ sessionId: "old", projectPath, maxLogAgeDays: 30 });
    ids.oldAlice = old.logChatInteraction({ model: "gpt-4o", prompt: "alice long ago", response: "ok", userId: "alice" });
    await old.finalizeSession();
  } finally {
    vi.useRealTimers();
  }
  const auditPath = path.join(projectPath, "audit_logs");
  // the real command, as the officer's colleague ran it: removes "old" (30 days), keeps the rest
  const r = await runCli(["cleanup", auditPath]);
  if (r.code !== 0 || !/removed old/.test(r.stdout)) throw new Error(`cleanup did not remove "old": ${r.code} ${r.stdout} ${r.stderr}`);
  return { projectPath, auditPath, ids, heldId, releasedId };
}
