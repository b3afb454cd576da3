import path from "node:path";
import { AuditLogger } from "../../src/logger.js";
import { readJsonl, tmpProject } from "../helpers/index.js";

export type Rec = Record<string, unknown>;

const STEMS = {
  tool: "tool_usage",
  chat: "chat_interactions",
  persona: "persona_activities",
  metric: "performance_metrics",
  error: "errors",
} as const;

/** A logger writing synchronously into a fresh temp project. */
export function newLogger(sessionId = "deco"): AuditLogger {
  return new AuditLogger({ sessionId, projectPath: tmpProject("audit-deco-unit-"), durability: "sync" });
}

/** The records of one kind, as on disk after a flush. */
export async function records(logger: AuditLogger, kind: keyof typeof STEMS): Promise<Rec[]> {
  if (!logger.isClosed) await logger.flush();
  return readJsonl<Rec>(path.join(logger.auditDir, `${STEMS[kind]}_${logger.sessionId}.jsonl`));
}
