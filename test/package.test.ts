import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { exports: Record<string, unknown>; bin: Record<string, string> };

/** What each subpath must export (API.md's package table). */
const SPEC: Record<string, string[]> = {
  "audit-logger": ["AuditLogger", "AuditConfig", "PresetConfigs", "AuditViewer", "AuditExporter", "verifyAuditLog", "auditContext", "setDefaultAuditLogger", "getDefaultAuditLogger", "computeRecordHash", "AuditLoggerError", "AuditConfigError", "AuditValidationError", "AuditSessionClosedError", "AuditKeyError", "AuditSessionLockedError", "AuditPathError", "AuditIOError", "AuditRotationError", "AuditFormatError"],
  "audit-logger/config": ["AuditConfig", "PresetConfigs"],
  "audit-logger/decorators": ["AuditTool", "AuditChat", "AuditPersona", "AuditPerformance", "AuditErrors"],
  "audit-logger/integrations": ["withAudit"],
  "audit-logger/integrations/openai": ["wrapOpenAI"],
  "audit-logger/integrations/anthropic": ["wrapAnthropic"],
  "audit-logger/integrations/ai-sdk": ["auditLanguageModelMiddleware"],
  "audit-logger/integrations/fetch": ["withAuditFetch"],
  "audit-logger/integrations/express": ["auditMiddleware", "auditErrorHandler"],
  "audit-logger/postgres": ["PostgresSink"],
};

/**
 * A project with the built package installed and its own dependencies (linked from this checkout),
 * plus `extra` (e.g. `@types/node`), and none of the optional peers: for the no-peers tests.
 */
function consumerProject(prefix: string, extra: readonly string[] = []): string {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const installed = path.join(project, "node_modules", "audit-logger");
  fs.mkdirSync(installed, { recursive: true });
  fs.cpSync(path.join(ROOT, "dist"), path.join(installed, "dist"), { recursive: true });
  fs.copyFileSync(path.join(ROOT, "package.json"), path.join(installed, "package.json"));
  const deps = Object.keys((JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies);
  for (const dep of [...deps, ...extra]) {
    if (!fs.existsSync(path.join(ROOT, "node_modules", dep))) continue;
    fs.mkdirSync(path.dirname(path.join(project, "node_modules", dep)), { recursive: true });
    fs.symlinkSync(path.join(ROOT, "node_modules", dep), path.join(project, "node_modules", dep), "dir");
  }
  return project;
}

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: ROOT, encoding: "utf8" });
}

describe("the built package", () => {
  beforeAll(() => {
    // `npm test` builds first; build here too when the suite runs on its own
    if (!fs.existsSync(path.join(ROOT, "dist/src/index.js"))) execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT });
  });

  it("every subpath of the spec is in the exports map and points at a built file with types", () => {
    for (const sub of Object.keys(SPEC)) {
      const key = sub === "audit-logger" ? "." : `.${sub.slice("audit-logger".length)}`;
      const entry = pkg.exports[key] as { types: string; default: string } | undefined;
      expect(entry, key).toBeDefined();
      expect(fs.existsSync(path.join(ROOT, entry!.default)), entry!.default).toBe(true);
      expect(fs.existsSync(path.join(ROOT, entry!.types)), entry!.types).toBe(true);
    }
  });

  it("each subpath loads with import() and exports the spec's names", () => {
    const out = node([
      "--input-type=module",
      "-e",
      `const spec = ${JSON.stringify(SPEC)}; const missing = [];
       for (const [sub, names] of Object.entries(spec)) { const m = await import(sub); for (const n of names) if (!(n in m)) missing.push(sub + ":" + n); }
       console.log(JSON.stringify(missing));`,
    ]);
    expect(JSON.parse(out)).toEqual([]);
  });

  it("require() from CommonJS works too", () => {
    const out = node(["-e", `const m = require("audit-logger"); const d = require("audit-logger/decorators"); console.log(typeof m.AuditLogger, typeof m.verifyAuditLog, typeof d.AuditTool)`]);
    expect(out.trim()).toBe("function function function");
  });

  it("require() loads every subpath of the spec with the spec's names (only the main entry and the decorators were checked; API.md audit, 2026-12-05)", () => {
    const out = node([
      "-e",
      `const spec = ${JSON.stringify(SPEC)}; const missing = [];
       for (const [sub, names] of Object.entries(spec)) { const m = require(sub); for (const n of names) if (typeof m[n] === "undefined") missing.push(sub + ":" + n); }
       console.log(JSON.stringify(missing));`,
    ]);
    expect(JSON.parse(out.trim().split("\n").at(-1)!)).toEqual([]);
  });

  it("the bin runs: audit-logger --help", () => {
    const out = node([path.join(ROOT, pkg.bin["audit-logger"]!), "--help"]);
    for (const cmd of ["verify", "summary", "report", "export", "cleanup", "tail", "serve"]) expect(out).toContain(cmd);
  });

  it("type-checks without the optional peers' types: the main entry, the decorators and the fetch integration need none (skipLibCheck off)", () => {
    // (the main entry reached pg's types through the viewer's postgres option: "Cannot find
    // module 'pg'" for any TypeScript consumer without @types/pg, or `any` with skipLibCheck)
    const project = consumerProject("audit-nopeer-types-", ["@types/node", "undici-types"]);
    try {
      fs.writeFileSync(
        path.join(project, "tsconfig.json"),
        JSON.stringify({ compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, module: "nodenext", moduleResolution: "nodenext", target: "es2022", types: ["node"] }, files: ["app.ts"] }),
      );
      fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", type: "module" }));
      fs.writeFileSync(
        path.join(project, "app.ts"),
        `import { AuditLogger, AuditViewer, auditContext } from "audit-logger";
import { AuditTool } from "audit-logger/decorators";
import { withAuditFetch } from "audit-logger/integrations/fetch";
const logger = new AuditLogger({ sessionId: "s", projectPath: "." });
const viewer = new AuditViewer({ postgres: { connectionString: "postgres://x" } });
export const f = withAuditFetch(fetch, { logger });
export class S { @AuditTool("t", { logger }) run(x: number): number { return x; } }
auditContext.run({ userId: "u" }, () => viewer);
`,
      );
      let out = "";
      try {
        execFileSync(path.join(ROOT, "node_modules", ".bin", "tsc"), ["-p", path.join(project, "tsconfig.json")], { cwd: project, encoding: "utf8", stdio: "pipe" });
      } catch (err) {
        out = `${(err as { stdout?: string }).stdout ?? ""}${(err as { stderr?: string }).stderr ?? ""}`;
      }
      expect(out).toBe("");
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });

  it("loads and wraps without any of the optional SDKs installed (they are imported as types only)", () => {
    // a project that has the package and its dependencies, and none of openai, @anthropic-ai/sdk,
    // ai, express or pg
    const project = consumerProject("audit-nopeers-");
    try {
      const out = execFileSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `for (const sdk of ["openai", "@anthropic-ai/sdk", "ai", "express", "pg"]) {
             try { await import(sdk); console.log("FOUND " + sdk); } catch { /* not installed, as intended */ }
           }
           const { wrapOpenAI } = await import("audit-logger/integrations/openai");
           const { wrapAnthropic } = await import("audit-logger/integrations/anthropic");
           const { auditLanguageModelMiddleware } = await import("audit-logger/integrations/ai-sdk");
           const { auditMiddleware } = await import("audit-logger/integrations/express");
           const { withAudit } = await import("audit-logger/integrations");
           const { PostgresSink } = await import("audit-logger/postgres").catch((e) => ({ PostgresSink: "needs pg: " + e.code }));
           const client = { chat: { completions: { create: async () => ({ choices: [] }) } } };
           console.log(wrapOpenAI(client) === client, typeof wrapAnthropic, typeof auditLanguageModelMiddleware().wrapGenerate, typeof auditMiddleware({}), typeof withAudit, typeof PostgresSink);`,
        ],
        { cwd: project, encoding: "utf8" },
      );
      expect(out).not.toContain("FOUND");
      expect(out.trim().split("\n").at(-1)).toBe("true function function function function function");
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
  it("makes one AsyncLocalStorage per process: every entry point, two copies of the package, import() and require() all share it", () => {
    // the app's copy, and a second one a library brought (its own node_modules): both load every subpath
    const project = consumerProject("audit-one-als-", ["express"]);
    const second = path.join(project, "vendor", "node_modules", "audit-logger");
    fs.cpSync(path.join(project, "node_modules", "audit-logger"), second, { recursive: true });
    // counts the AsyncLocalStorage instances made, and those made by the kit's own code
    const counter = path.join(project, "count-als.cjs");
    fs.writeFileSync(
      counter,
      `const ah = require("node:async_hooks");
       const Original = ah.AsyncLocalStorage;
       let ours = 0, all = 0;
       ah.AsyncLocalStorage = class AsyncLocalStorage extends Original {
         constructor(...a) { super(...a); all++; if (/audit-logger[\\/]dist/.test(new Error().stack)) ours++; }
       };
       require("node:module").syncBuiltinESMExports();
       process.on("exit", () => console.log("ALS " + ours + " " + all));`,
    );
    const subpaths = Object.keys(SPEC).filter((s) => s !== "audit-logger/postgres"); // (pg is not installed here)
    try {
      const out = execFileSync(
        process.execPath,
        [
          "--require",
          counter,
          "--input-type=module",
          "-e",
          `import { createRequire } from "node:module";
           import { pathToFileURL } from "node:url";
           import path from "node:path";
           const subpaths = ${JSON.stringify(subpaths)};
           for (const sub of subpaths) await import(sub);
           const secondRoot = ${JSON.stringify(second)};
           for (const sub of subpaths) {
             const rel = sub === "audit-logger" ? "dist/src/index.js" : sub === "audit-logger/config" ? "dist/src/config/index.js" : sub === "audit-logger/decorators" ? "dist/decorators/index.js" : "dist/" + sub.slice("audit-logger/".length) + (sub === "audit-logger/integrations" ? "/index.js" : ".js");
             await import(pathToFileURL(path.join(secondRoot, rel)).href);
           }
           const a = await import("audit-logger");
           const b = await import(pathToFileURL(path.join(secondRoot, "dist/src/index.js")).href);
           const c = createRequire(import.meta.url)("audit-logger");
           // the context entered through one copy is the one the others see
           const seen = a.auditContext.run({ traceId: "t-1" }, () => [b.auditContext.get()?.traceId, c.auditContext.get()?.traceId]);
           // and using the kit (a context, a wrapped fetch inside it) makes no other store
           const { withAuditFetch } = await import("audit-logger/integrations/fetch");
           const fetched = withAuditFetch(async () => new Response("ok"));
           await b.auditContext.run({ traceId: "t-2" }, async () => { await (await fetched("http://127.0.0.1:1/x")).text(); });
           console.log(JSON.stringify(seen));`,
        ],
        { cwd: project, encoding: "utf8" },
      );
      const lines = out.trim().split("\n");
      expect(JSON.parse(lines.at(-2)!)).toEqual(["t-1", "t-1"]);
      expect(lines.at(-1)).toMatch(/^ALS 1 \d+$/);
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
});
