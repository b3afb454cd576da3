/**
 * `logger.sessionId`, `auditDir`, `config` and `startTime` are read-only at runtime, not only in
 * TypeScript: an assignment (from JavaScript, or through `as any`) throws a TypeError in strict
 * code (this ESM file) and is ignored in sloppy code, and the records, their files and the session
 * file stay those of the session the logger opened. Until 2026-12-06 the assignment took: records
 * then named another session while going to the first one's files.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";

afterEach(() => cleanupTmp());

const FIELDS = ["sessionId", "auditDir", "config", "startTime"] as const;

describe("AuditLogger's public read-only fields", () => {
  for (const thread of [false, true]) {
    it(`cannot be reassigned at runtime${thread ? " (thread: true)" : ""}: strict code gets a TypeError, sloppy code no effect, and the records stay the session's`, async () => {
      const projectPath = tmpProject("audit-readonly-");
      const other = tmpProject("audit-readonly-other-");
      const logger = new AuditLogger({ sessionId: "s1", projectPath, thread });
      const before = { sessionId: logger.sessionId, auditDir: logger.auditDir, config: logger.config, startTime: logger.startTime };
      const replacement: Record<(typeof FIELDS)[number], unknown> = { sessionId: "other", auditDir: other, config: { sessionId: "other" }, startTime: "2000-01-01T00:00:00.000Z" };
      const loose = logger as unknown as Record<string, unknown>;
      for (const f of FIELDS) {
        expect(() => {
          loose[f] = replacement[f];
        }, f).toThrow(TypeError);
        // (sloppy-mode code, as an old CommonJS script: the assignment is silently ignored)
        // eslint-disable-next-line @typescript-eslint/no-implied-eval
        (new Function("o", "f", "v", "o[f] = v;") as (o: unknown, f: string, v: unknown) => void)(logger, f, replacement[f]);
      }
      expect({ sessionId: logger.sessionId, auditDir: logger.auditDir, config: logger.config, startTime: logger.startTime }).toEqual(before);
      expect(logger.config).toBe(before.config);
      logger.logToolUsage({ toolName: "search", operation: "run" });
      await logger.finalizeSession();
      const dir = path.join(projectPath, "audit_logs");
      const tools = readJsonl(path.join(dir, "tool_usage_s1.jsonl"));
      expect(tools.map((r) => r.sessionId)).toEqual(["s1"]);
      expect(fs.readdirSync(dir).filter((n) => n.includes("other"))).toEqual([]);
      expect(fs.readdirSync(other)).toEqual([]);
      const session = JSON.parse(fs.readFileSync(path.join(dir, "session_s1.json"), "utf8")) as { sessionId: string; startTime: string };
      expect(session).toMatchObject({ sessionId: "s1", startTime: before.startTime });
    }, 30_000);
  }
});
