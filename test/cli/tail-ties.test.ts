import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, withRecordTime } from "../../src/logger.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, freshSchema, PG_URL } from "../fixtures/postgres/db.js";
import { runCli } from "./helpers.js";

const schemas: string[] = [];
afterEach(async () => {
  for (const s of schemas.splice(0)) await dropSchema(s);
  cleanupTmp();
});

describe("tail over records of one millisecond", () => {
  it("prints the newest in the order they were made, whatever their kinds, over the files and over --postgres alike", async () => {
    const schema = freshSchema("tailties");
    schemas.push(schema);
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "burst", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
    const at = Date.parse("2026-12-05T12:00:00.000Z");
    // a burst: chat, tool, and now and then an error, all in one millisecond
    for (let i = 0; i < 12; i++) {
      withRecordTime(at, () => logger.logChatInteraction({ prompt: `q${i}`, response: `a${i}`, model: "m" }));
      withRecordTime(at, () => logger.logToolUsage({ toolName: "t", operation: `op${i}` }));
      if (i % 4 === 3) withRecordTime(at, () => logger.logError({ errorType: "E", message: `e${i}` }));
    }
    await logger.finalizeSession();
    const dir = logger.auditDir;
    const made = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith("_burst.jsonl"))
      .flatMap((f) => fs.readFileSync(path.join(dir, f), "utf8").split("\n").filter((l) => l !== ""))
      .filter((l) => (JSON.parse(l) as { timestamp: string }).timestamp === new Date(at).toISOString())
      .sort((a, b) => {
        const x = (JSON.parse(a) as { id: string }).id;
        const y = (JSON.parse(b) as { id: string }).id;
        return x < y ? -1 : x > y ? 1 : 0;
      });
    expect(made).toHaveLength(27);
    // (ids are ULIDs, monotonic within the process: their order is the order of the calls)
    expect(made.slice(-7).map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(["chat_interaction", "tool_usage", "chat_interaction", "tool_usage", "chat_interaction", "tool_usage", "error"]);
    const files = await runCli(["tail", dir, "-n", "7", "--json"]);
    const store = await runCli(["tail", "--postgres", PG_URL, "--schema", schema, "-n", "7", "--json"]);
    expect(files.code, files.stderr).toBe(0);
    expect(store.code, store.stderr).toBe(0);
    expect(files.stdout.trimEnd().split("\n")).toEqual(made.slice(-7));
    expect(store.stdout.trimEnd().split("\n")).toEqual(made.slice(-7));
  });
});
