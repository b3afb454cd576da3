/** Sessions on disk for the retention and cleanup tests. */
import { vi } from "vitest";
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
