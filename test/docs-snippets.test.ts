/**
 * The documentation's examples that are whole programs (their imports included) compile under a
 * new project's strict settings (`tsc --init`: `exactOptionalPropertyTypes`, `nodenext`) and run
 * as written, from a project that imports the package by its name, as a user copying them does.
 * Each is taken from the Markdown as it stands; only a path or schema of the machine is swapped
 * in, and each swap must apply once (so an edit of the example is noticed).
 * (Found by the new-user pass, 2026-12-06: docs/POSTGRES.md's first example used `AuditViewer`
 * without importing it, a ReferenceError, and read a new store before the sink had created it.)
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { verifyAuditLog } from "../src/index.js";
import { dropSchema, freshSchema, PG_URL } from "./fixtures/postgres/db.js";
import { cleanupTmp, tmpProject } from "./helpers/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);
const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await dropSchema(s);
  cleanupTmp();
});

/** The one ```ts block of `doc` that holds the line `marker`, with each swap applied exactly once. */
function snippet(doc: string, marker: string, swaps: ReadonlyArray<readonly [string, string]> = []): string {
  const text = fs.readFileSync(path.join(ROOT, doc), "utf8");
  const blocks = [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).filter((b) => b.split("\n").includes(marker));
  expect(blocks, `${doc}: one \`\`\`ts block with the line ${marker}`).toHaveLength(1);
  let code = blocks[0]!;
  for (const [from, to] of swaps) {
    expect(code.split(from).length - 1, `${doc}: ${from} once in the example`).toBe(1);
    code = code.replace(from, to);
  }
  return code;
}

/**
 * A user's project: ESM, the strict settings `tsc --init` writes, and `audit-logger` (with its
 * subpaths, from package.json's `exports`) resolved to this checkout's sources, for tsc and tsx.
 */
function userProject(prefix: string): string {
  const dir = tmpProject(prefix);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { exports: Record<string, string | { default: string }> };
  const paths: Record<string, string[]> = {};
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const js = typeof target === "string" ? target : target.default;
    if (!js.startsWith("./dist/")) continue;
    paths[path.posix.join("audit-logger", sub)] = [path.join(ROOT, js.slice("./dist/".length).replace(/\.js$/, ".ts"))];
  }
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
  const compilerOptions = {
    module: "nodenext", target: "esnext", strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true, isolatedModules: true, skipLibCheck: true, noEmit: true,
    types: ["node"], typeRoots: [path.join(ROOT, "node_modules/@types")], paths,
  };
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["*.ts"] }));
  return dir;
}

/** tsc's errors in the project's own files (the library's sources are compiled with the repository's settings elsewhere). */
async function typeErrors(dir: string): Promise<string[]> {
  const out = await run(path.join(ROOT, "node_modules/.bin/tsc"), ["-p", path.join(dir, "tsconfig.json")], { cwd: dir }).then(
    (r) => r.stdout,
    (e: { stdout?: string }) => e.stdout ?? "",
  );
  return out.split("\n").filter((l) => /^[\w-]+\.ts\(/.test(l));
}

async function runTs(dir: string, file: string, env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  const tsx = path.join(ROOT, "node_modules/tsx/dist/loader.mjs");
  return run(process.execPath, ["--import", tsx, path.join(dir, file)], { cwd: dir, env: { ...process.env, ...env }, timeout: 60_000 });
}

describe("the documentation's whole-program examples", () => {
  it("README's Quick start compiles under strict settings, runs, and leaves a trail that verifies", async () => {
    const dir = userProject("audit-snippet-quick-");
    fs.writeFileSync(path.join(dir, "quick-start.ts"), snippet("README.md", '  sessionId: "support_bot_2024_06_01",'));
    expect(await typeErrors(dir)).toEqual([]);
    await runTs(dir, "quick-start.ts");
    const auditDir = path.join(dir, "audit_logs");
    const session = "support_bot_2024_06_01";
    for (const kind of ["chat_interactions", "persona_activities", "tool_usage", "file_operations", "performance_metrics", "errors"]) {
      expect(fs.readFileSync(path.join(auditDir, `${kind}_${session}.jsonl`), "utf8").split("\n").filter(Boolean), kind).toHaveLength(1);
    }
    expect(JSON.parse(fs.readFileSync(path.join(auditDir, `session_${session}.json`), "utf8"))).toMatchObject({ status: "finalized", totalRecords: 6 });
    expect(await verifyAuditLog(auditDir)).toMatchObject({ ok: true, recordsChecked: 6, problems: [] });
  }, 120_000);

  it("README's 'Capture without log calls' compiles under strict settings with what it leaves to the app (a logger, an Express app), and runs: its options are checked where it wraps and decorates", async () => {
    const dir = userProject("audit-snippet-capture-");
    // the SDKs the example imports, as the app has them installed
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
    const prelude = [
      'import OpenAI from "openai";',
      'import express from "express";',
      'import { AuditLogger } from "audit-logger";',
      "const logger = new AuditLogger({ projectPath: process.cwd() });",
      "const app = express();",
    ].join("\n");
    const code = snippet("README.md", 'import { AuditTool, AuditChat } from "audit-logger/decorators";', [["async forecast(city: string) { … }", "async forecast(city: string) { return city; }"]]);
    fs.writeFileSync(path.join(dir, "capture.ts"), `${prelude}\n${code}\nconsole.log(typeof openai.chat.completions.create, await new Weather().forecast("Paris"));\nawait logger.finalizeSession();\n`);
    expect(await typeErrors(dir)).toEqual([]);
    const { stdout, stderr } = await runTs(dir, "capture.ts", { OPENAI_API_KEY: "sk-snippet" });
    expect(stderr).toBe("");
    expect(stdout).toBe("function Paris\n");
    const tools = fs.readFileSync(path.join(dir, "audit_logs", `tool_usage_${fs.readdirSync(path.join(dir, "audit_logs")).find((f) => f.startsWith("session_"))!.slice("session_".length, -".json".length)}.jsonl`), "utf8");
    expect(tools).toContain('"toolName":"weather_api"');
  }, 120_000);

  it("docs/POSTGRES.md's first example compiles, and run against a new store finds the chat it logged (it threw ReferenceError: AuditViewer is not defined)", async () => {
    const dir = userProject("audit-snippet-pg-");
    const schema = freshSchema("snippet");
    schemas.push(schema);
    const code = snippet("docs/POSTGRES.md", 'import { PostgresSink } from "audit-logger/postgres";', [
      ['"/var/lib/myapp"', JSON.stringify(dir)],
      ['schema: "audit_logger"', `schema: ${JSON.stringify(schema)}`],
      ["{ postgres: { connectionString: process.env.AUDIT_PG_URL } }", `{ postgres: { connectionString: process.env.AUDIT_PG_URL, schema: ${JSON.stringify(schema)} } }`],
      ['await viewer.getChatInteractions({ model: "gpt-4o", limit: 20 });', 'console.log(JSON.stringify(await viewer.getChatInteractions({ model: "gpt-4o", limit: 20 })));'],
    ]);
    fs.writeFileSync(path.join(dir, "postgres.ts"), code);
    expect(await typeErrors(dir)).toEqual([]);
    const { stdout } = await runTs(dir, "postgres.ts", { AUDIT_PG_URL: PG_URL, HOSTNAME: "snippet" });
    const chats = JSON.parse(stdout) as Array<{ model: string; promptPreview: string; sessionId: string }>;
    expect(chats).toHaveLength(1);
    expect(chats[0]).toMatchObject({ model: "gpt-4o", promptPreview: "Where is my order?" });
    expect(chats[0]!.sessionId).toMatch(/^checkout_snippet_\d+$/);
  }, 120_000);
});
