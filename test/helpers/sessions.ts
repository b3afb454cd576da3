/** Sessions on disk for the retention and cleanup tests. */
import type { KeyObject } from "node:crypto";
import { vi } from "vitest";
import { auditContext } from "../../src/context.js";
import { AuditLogger } from "../../src/logger.js";

const DAY = 86_400_000;

/** A finalized session whose records are dated `ageDays` ago (only Date is faked). */
export async function oldSession(projectPath: string, sessionId: string, ageDays: number): Promise<void> {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() - ageDays * DAY);
  try {
    const logger = new AuditLogger({ sessionId, projectPath, fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "op" });
    await logger.finalizeSession();
  } finally {
    vi.useRealTimers();
  }
}

/** A session that ended cleanly, today: records (a tool use, a chat), a session file, no lock. */
export async function endedSession(projectPath: string, sessionId: string): Promise<void> {
  const logger = new AuditLogger({ sessionId, projectPath, fullContentLogging: false });
  logger.logToolUsage({ toolName: "t", operation: "op" });
  logger.logChatInteraction({ prompt: "q", response: "a", model: "m" });
  await logger.finalizeSession();
}

/**
 * Signed sessions whose persona and tool chains grow between checkpoints (one every 4 records):
 * 14 persona activities and 10 tool uses each, of alice and bob in turn; with `chats`, a chat
 * after each tool use too. With `encryptionKey`, their content is encrypted in the log. Returns
 * the audit directory.
 */
export async function signedGrowingSessions(
  projectPath: string,
  sessionIds: readonly string[],
  signingKey: KeyObject,
  o: { rotation?: { size: number }; encryptionKey?: string; chats?: boolean } = {},
): Promise<string> {
  let auditDir = "";
  for (const sessionId of sessionIds) {
    const logger = new AuditLogger({
      sessionId,
      projectPath,
      durability: "sync",
      signingKey,
      checkpointEvery: { records: 4, seconds: 3600 },
      ...(o.rotation ? { rotation: o.rotation } : {}),
      ...(o.encryptionKey ? { encryptSensitiveContent: true, encryptionKey: o.encryptionKey } : {}),
    });
    for (let i = 0; i < 14; i++) {
      auditContext.run({ userId: i % 2 === 0 ? "alice" : "bob" }, () => {
        logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: `${sessionId} step ${i}` });
        if (i % 3 !== 2) logger.logToolUsage({ toolName: "transfer", operation: "send", parameters: { to: `${sessionId}-${i}` } });
        if (o.chats && i % 3 !== 2) logger.logChatInteraction({ prompt: `pin ${1000 + i}?`, response: `ok ${i}`, model: "m" });
      });
    }
    await logger.finalizeSession();
    auditDir = logger.auditDir;
  }
  return auditDir;
}
