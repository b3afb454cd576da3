// Two copies of the package in one process (a library built against its own copy, the app
// against another) agree on what a decorated call records, as they agree on the context.
import { afterEach, describe, expect, it, vi } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { AuditErrors, AuditTool } from "../../decorators/index.js";
import { auditContext } from "../../src/index.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";
import { decorate } from "./apply.js";
import { ROOT, compileFixtures, runNode } from "./compile.js";
import { newLogger, records, type Rec } from "./helpers.js";

afterEach(cleanupTmp);

describe("two copies of the package", () => {
  it("record an error passing through @AuditErrors methods of both once, by the innermost (each copy recorded it)", async () => {
    const logger = newLogger();
    vi.resetModules();
    const other = (await import("../../decorators/index.js")) as typeof import("../../decorators/index.js");
    expect(other.AuditErrors).not.toBe(AuditErrors);
    class Library {
      async fetchThing(): Promise<never> {
        throw new Error("upstream 503");
      }
      fail(): never {
        throw "timeout";
      }
    }
    class App {
      lib = new Library();
      async handler(): Promise<never> {
        return this.lib.fetchThing();
      }
      run(): never {
        return this.lib.fail();
      }
    }
    decorate("standard", Library, "fetchThing", other.AuditErrors({ logger }));
    decorate("standard", Library, "fail", other.AuditErrors({ logger }));
    decorate("standard", App, "handler", AuditErrors({ logger }));
    decorate("standard", App, "run", AuditErrors({ logger }));
    await expect(new App().handler()).rejects.toThrow("upstream 503");
    expect(() => new App().run()).toThrow();
    expect((await records(logger, "error")).map((r) => [r.message, (r.context as { method?: string } | undefined)?.method])).toEqual([
      ["upstream 503", "Library.fetchThing"],
      ["timeout", "Library.fail"],
    ]);
  });
});

describe("nested @AuditErrors methods recording to different loggers", () => {
  it("record the error in each logger's trail, once (the app's trail lacked what the library's method recorded)", async () => {
    const app = newLogger("app");
    const library = newLogger("library");
    class Lib {
      charge(): never {
        throw new Error("declined");
      }
    }
    class Shop {
      lib = new Lib();
      buy(): never {
        return this.lib.charge();
      }
      retry(): never {
        return this.buy();
      }
    }
    decorate("standard", Lib, "charge", AuditErrors({ logger: library }));
    decorate("standard", Shop, "buy", AuditErrors({ logger: app }));
    decorate("standard", Shop, "retry", AuditErrors({ logger: app }));
    expect(() => new Shop().retry()).toThrow("declined");
    expect((await records(library, "error")).map((r) => (r.context as { method: string }).method)).toEqual(["Lib.charge"]);
    expect((await records(app, "error")).map((r) => (r.context as { method: string }).method)).toEqual(["Shop.buy"]);
  });

  it("interleaved (the app's method, a library's, the app's again, which throws) record the error once per trail, by each trail's innermost method (the app's trail had it twice)", async () => {
    const app = newLogger("app2");
    const library = newLogger("library2");
    class Shop {
      constructor(readonly lib: { run(cb: () => never): never }) {}
      validate(): never {
        throw new Error("invalid cart");
      }
      buy(): never {
        return this.lib.run(() => this.validate());
      }
    }
    class Lib {
      run(cb: () => never): never {
        return cb();
      }
    }
    decorate("standard", Shop, "validate", AuditErrors({ logger: app }));
    decorate("standard", Shop, "buy", AuditErrors({ logger: app }));
    decorate("standard", Lib, "run", AuditErrors({ logger: library }));
    expect(() => new Shop(new Lib()).buy()).toThrow("invalid cart");
    expect((await records(app, "error")).map((r) => (r.context as { method: string }).method)).toEqual(["Shop.validate"]);
    expect((await records(library, "error")).map((r) => (r.context as { method: string }).method)).toEqual(["Lib.run"]);
  });
});

// Two copies stacked on one method (a library's copy decorates a method, the app's copy adds a
// decorator above it): the stacking link (the error record is the tool call's child) and "recorded
// once" hold as within one copy. Each copy kept its own set of wrappers and its own hand-over
// slot, so neither saw the other's wrapper below it (found by the Express/decorators leftovers
// pass, 2026-12-05).
describe.each(["standard", "legacy"] as const)("decorators of two copies stacked on one method (%s)", (mode) => {
  it("@AuditErrors of one copy above @AuditTool of the other, either way round: one record each, the error's parent is the tool call's record", async () => {
    const logger = newLogger();
    vi.resetModules();
    const other = (await import("../../decorators/index.js")) as typeof import("../../decorators/index.js");
    expect(other.AuditTool).not.toBe(AuditTool);
    class Crm {
      lookup(id: string): never {
        throw new Error(`no customer ${id}`);
      }
      async fetch(id: string): Promise<never> {
        await new Promise((r) => setTimeout(r, 2));
        throw new Error(`cannot fetch ${id}`);
      }
    }
    // (applied bottom-up: the first is written lowest)
    decorate(mode, Crm, "lookup", other.AuditTool("crm", { logger }));
    decorate(mode, Crm, "lookup", AuditErrors({ logger }));
    decorate(mode, Crm, "fetch", AuditTool("crm", { logger }));
    decorate(mode, Crm, "fetch", other.AuditErrors({ logger }));
    const crm = new Crm();
    expect(() => crm.lookup("a")).toThrow("no customer a");
    await expect(crm.fetch("b")).rejects.toThrow("cannot fetch b");
    await auditContext.run({ traceId: "req-9", parentId: "handler-9" }, async () => {
      expect(() => crm.lookup("c")).toThrow("no customer c");
      await expect(crm.fetch("d")).rejects.toThrow("cannot fetch d");
    });
    const tools = await records(logger, "tool");
    const errors = await records(logger, "error");
    expect(tools.map((t) => t.errorMessage)).toEqual(["no customer a", "cannot fetch b", "no customer c", "cannot fetch d"]);
    expect(errors.map((e) => e.message)).toEqual(["no customer a", "cannot fetch b", "no customer c", "cannot fetch d"]);
    for (let i = 0; i < 4; i++) expect(errors[i]).toMatchObject({ parentId: tools[i]!.id, traceId: tools[i]!.traceId });
  });
});

// (the built package: `npm run build` first, as test/package.test.ts)
describe("the built package loaded from two paths (dist copied twice, as two node_modules copies are)", () => {
  it("decorators of each, stacked on one method in either decorator mode: one record each, the error's parent is the tool call's record", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "audit-two-dists-"));
    try {
      for (const copy of ["a", "b"]) {
        fs.cpSync(path.join(ROOT, "dist"), path.join(dir, copy, "dist"), { recursive: true });
        fs.writeFileSync(path.join(dir, copy, "package.json"), JSON.stringify({ type: "module" }));
      }
      fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
      const projectPath = tmpProject("audit-two-dists-");
      const script = path.join(dir, "run.mjs");
      fs.writeFileSync(
        script,
        `
import { AuditLogger, auditContext } from "./a/dist/src/index.js";
import * as a from "./a/dist/decorators/index.js";
import * as b from "./b/dist/decorators/index.js";
if (a.AuditTool === b.AuditTool) throw new Error("one copy");
// each mode as TypeScript's emit calls a decorator (see test/decorators/apply.ts)
function decorate(mode, cls, key, dec) {
  const d = Object.getOwnPropertyDescriptor(cls.prototype, key);
  if (mode === "legacy") return Object.defineProperty(cls.prototype, key, dec(cls.prototype, key, d) ?? d);
  const ctx = { kind: "method", name: key, static: false, private: false, metadata: {}, addInitializer() {}, access: { has: (o) => key in o, get: (o) => o[key] } };
  Object.defineProperty(cls.prototype, key, { ...d, value: dec(d.value, ctx) });
}
const logger = new AuditLogger({ sessionId: "two", projectPath: process.argv[2], durability: "sync" });
for (const mode of ["standard", "legacy"]) {
  class Crm {
    lookup(id) { throw new Error("no customer " + id); }
    async fetch(id) { await new Promise((r) => setTimeout(r, 2)); throw new Error("cannot fetch " + id); }
  }
  decorate(mode, Crm, "lookup", a.AuditTool("crm", { logger }));
  decorate(mode, Crm, "lookup", b.AuditErrors({ logger }));
  decorate(mode, Crm, "fetch", b.AuditTool("crm", { logger }));
  decorate(mode, Crm, "fetch", a.AuditErrors({ logger }));
  const crm = new Crm();
  try { crm.lookup(mode); } catch {}
  await crm.fetch(mode).catch(() => {});
  await auditContext.run({ traceId: "t-" + mode }, async () => {
    try { crm.lookup(mode + "-in"); } catch {}
    await crm.fetch(mode + "-in").catch(() => {});
  });
}
await logger.finalizeSession();
`,
      );
      await runNode(script, [projectPath]);
      const auditDir = path.join(projectPath, "audit_logs");
      const tools = readJsonl<Rec>(path.join(auditDir, "tool_usage_two.jsonl"));
      const errors = readJsonl<Rec>(path.join(auditDir, "errors_two.jsonl"));
      expect(tools).toHaveLength(8);
      expect(errors.map((e) => e.message)).toEqual(tools.map((t) => t.errorMessage));
      for (let i = 0; i < 8; i++) expect(errors[i]).toMatchObject({ parentId: tools[i]!.id, traceId: tools[i]!.traceId });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.each(["standard", "legacy"] as const)("two copies stacked in decorator syntax, compiled by tsc (%s)", (mode) => {
  it("@AuditErrors of one copy above @AuditTool of the other, either way round: one record each, the error's parent is the tool call's record", async () => {
    const build = await compileFixtures(mode, ["two-copies.ts"]);
    try {
      // the compiled library, copied to another directory: a second copy
      const out = path.join(build.dir, "out");
      for (const part of ["src", "decorators"]) fs.cpSync(path.join(out, part), path.join(build.dir, "copy2", part), { recursive: true });
      const projectPath = tmpProject(`audit-two-copies-${mode}-`);
      await runNode(build.js("two-copies"), [projectPath, mode, pathToFileURL(path.join(build.dir, "copy2/decorators/index.js")).href]);
      const auditDir = path.join(projectPath, "audit_logs");
      const tools = readJsonl<Rec>(path.join(auditDir, `tool_usage_two_${mode}.jsonl`));
      const errors = readJsonl<Rec>(path.join(auditDir, `errors_two_${mode}.jsonl`));
      expect(tools.map((t) => t.errorMessage)).toEqual(["no customer a", "cannot fetch b", "no customer c", "cannot fetch d"]);
      expect(errors.map((e) => e.message)).toEqual(["no customer a", "cannot fetch b", "no customer c", "cannot fetch d"]);
      for (let i = 0; i < 4; i++) expect(errors[i]).toMatchObject({ parentId: tools[i]!.id, traceId: tools[i]!.traceId });
    } finally {
      build.cleanup();
    }
  }, 180_000);
});
