// Decorators stacked on one method, in either order: each records the call once, and the error
// record of @AuditErrors links to the call's own record (the tool's, the chat's) whichever of
// them is written above. Found by the decorators fresh-eyes pass, 2026-12-05: written above
// @AuditTool, @AuditErrors' record was linked to the caller's parent instead (and, outside any
// trace, started a trace of its own), so the trail showed the error beside the failed tool call
// rather than under it, depending on the order the decorators were written in.
import { afterEach, describe, expect, it } from "vitest";
import { AuditErrors, AuditPersona, AuditTool } from "../../decorators/index.js";
import { auditContext } from "../../src/index.js";
import { cleanupTmp } from "../helpers/index.js";
import { decorate, type Mode } from "./apply.js";
import { newLogger, records, type Rec } from "./helpers.js";

afterEach(cleanupTmp);

describe.each(["standard", "legacy"] as const)("stacked decorators (%s)", (mode: Mode) => {
  it("@AuditErrors above or below @AuditTool: one record each, the error's parent is the tool call's record, in a trace and outside any", async () => {
    const logger = newLogger();
    class Crm {
      lookup(id: string): never {
        throw new Error(`no customer ${id}`);
      }
      async fetch(id: string): Promise<never> {
        await new Promise((r) => setTimeout(r, 5));
        throw new Error(`cannot fetch ${id}`);
      }
    }
    // applied bottom-up, as compiled code does: the first is written lowest
    decorate(mode, Crm, "lookup", AuditTool("crm", { logger }));
    decorate(mode, Crm, "lookup", AuditErrors({ logger }));
    decorate(mode, Crm, "fetch", AuditErrors({ logger }));
    decorate(mode, Crm, "fetch", AuditTool("crm", { logger }));
    const crm = new Crm();
    expect(() => crm.lookup("a")).toThrow("no customer a");
    await expect(crm.fetch("b")).rejects.toThrow("cannot fetch b");
    await auditContext.run({ traceId: "req-1", parentId: "handler-1" }, async () => {
      expect(() => crm.lookup("c")).toThrow("no customer c");
      await expect(crm.fetch("d")).rejects.toThrow("cannot fetch d");
    });
    const tools = await records(logger, "tool");
    const errors = await records(logger, "error");
    expect(tools.map((t) => t.errorMessage)).toEqual(["no customer a", "cannot fetch b", "no customer c", "cannot fetch d"]);
    expect(errors.map((e) => e.message)).toEqual(["no customer a", "cannot fetch b", "no customer c", "cannot fetch d"]);
    for (let i = 0; i < 4; i++) {
      const tool = tools[i] as Rec;
      expect(errors[i]).toMatchObject({ parentId: tool.id, traceId: tool.traceId });
    }
    expect(tools.slice(2).map((t) => [t.traceId, t.parentId])).toEqual([
      ["req-1", "handler-1"],
      ["req-1", "handler-1"],
    ]);
  });

  it("@AuditErrors above @AuditPersona above @AuditTool links to the innermost call (as written lowest it would be made inside both); an @AuditErrors method calling another decorated method is no stack: its record stays its caller's child", async () => {
    const logger = newLogger();
    class Agent {
      act(): never {
        throw new Error("act failed");
      }
      helper(): never {
        throw new Error("helper failed");
      }
      outer(): never {
        try {
          this.helper();
        } catch {
          // (a new error: the helper's is not the one rethrown)
        }
        throw new Error("outer failed");
      }
    }
    decorate(mode, Agent, "act", AuditTool("act", { logger }));
    decorate(mode, Agent, "act", AuditPersona("planner", "plan", { logger }));
    decorate(mode, Agent, "act", AuditErrors({ logger }));
    decorate(mode, Agent, "helper", AuditTool("helper", { logger }));
    decorate(mode, Agent, "outer", AuditErrors({ logger }));
    const agent = new Agent();
    await auditContext.run({ traceId: "t-2", parentId: "caller" }, () => {
      expect(() => agent.act()).toThrow("act failed");
      expect(() => agent.outer()).toThrow("outer failed");
    });
    const tools = await records(logger, "tool");
    const [persona] = await records(logger, "persona");
    const errors = await records(logger, "error");
    const act = tools.find((t) => t.toolName === "act")!;
    expect(act.parentId).toBe(persona!.id);
    expect(errors).toMatchObject([
      { message: "act failed", parentId: act.id, traceId: "t-2" },
      { message: "outer failed", parentId: "caller", traceId: "t-2" },
    ]);
  });
});
