/**
 * A `(self) => logger` option that throws: its own file (its own process), since the kit warns
 * once per process for a logger option that gives no logger, whatever the cause, and
 * wrapper.test.ts checks the other cause's warning.
 */
import { describe, expect, it } from "vitest";
import { AuditTool } from "../../decorators/index.js";
import { decorate } from "./apply.js";

const tick = () => new Promise<void>((r) => setTimeout(r, 1));

describe("a logger option that throws", () => {
  it("a logger function that throws is named in a process warning; the call still runs", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      class Svc {
        run() {
          return 7;
        }
      }
      decorate("standard", Svc, "run", AuditTool("t", { logger: () => {
        throw new Error("no tenant");
      } }));
      expect(new Svc().run()).toBe(7);
      await tick();
      expect(warnings.map((w) => [(w as { code?: string }).code, w.message])).toContainEqual(["AUDIT_WARN_BAD_LOGGER", expect.stringContaining("threw (no tenant)")]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});
