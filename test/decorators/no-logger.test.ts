import { afterEach, describe, expect, it } from "vitest";
import { AuditChat, AuditTool } from "../../decorators/index.js";
import { auditContext, setDefaultAuditLogger } from "../../src/context.js";
import { cleanupTmp } from "../helpers/index.js";
import { decorate } from "./apply.js";
import { newLogger, records } from "./helpers.js";

// Its own file: the no-logger warning is once per process (per vitest worker here).
afterEach(cleanupTmp);

describe("a decorated call with no logger anywhere", () => {
  it("runs unrecorded, enters no context, and warns once per process", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const contexts: unknown[] = [];
    class Svc {
      add(a: number, b: number) {
        contexts.push(auditContext.get());
        return a + b;
      }
      async ask(q: string) {
        contexts.push(auditContext.get());
        return q;
      }
    }
    decorate("standard", Svc, "add", AuditTool("math"));
    decorate("legacy", Svc, "ask", AuditChat());
    const svc = new Svc();
    expect(svc.add(1, 2)).toBe(3);
    expect(svc.add(3, 4)).toBe(7);
    expect(await svc.ask("q")).toBe("q");
    expect(contexts).toEqual([undefined, undefined, undefined]);
    await new Promise((r) => setImmediate(r));
    process.off("warning", onWarning);
    const ours = warnings.filter((w) => (w as Error & { code?: string }).code === "AUDIT_WARN_NO_LOGGER");
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toMatch(/setDefaultAuditLogger/);

    // once a default logger exists, the same methods record
    const logger = newLogger();
    setDefaultAuditLogger(logger);
    try {
      expect(svc.add(5, 6)).toBe(11);
      expect(await records(logger, "tool")).toMatchObject([{ toolName: "math", parameters: [5, 6], result: 11 }]);
    } finally {
      setDefaultAuditLogger(undefined);
    }
  });
});
