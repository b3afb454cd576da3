/**
 * Child-process fixture: writes a session whose records are dated `AGE_DAYS` ago, then exits
 * without finalizing (as a crashed or killed app would), so its session file keeps the
 * configuration and no live lock remains. Only the clock (`Date.now`) is moved.
 *
 * env: PROJECT_PATH, SESSION_ID, AGE_DAYS, OPTIONS (JSON AuditOptions)
 */
import { AuditLogger } from "../../src/index.js";

const age = Number(process.env.AGE_DAYS ?? "0") * 86_400_000;
const realNow = Date.now.bind(Date);
Date.now = () => realNow() - age;

const logger = new AuditLogger({
  ...(JSON.parse(process.env.OPTIONS ?? "{}") as Record<string, unknown>),
  sessionId: process.env.SESSION_ID!,
  projectPath: process.env.PROJECT_PATH!,
});
logger.logChatInteraction({ prompt: "old question", response: "old answer", model: "gpt-4o" });
logger.logToolUsage({ toolName: "t", operation: "op" });
await logger.flush();
process.exit(0);
