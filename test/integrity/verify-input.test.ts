// Found by a new-user run, 2026-12-05: verifyAuditLog took its options as given ({ publickey: pem },
// misspelt, verified with no trusted key: ok, every signature check skipped), and a directory with
// no audit logs (emptied, or the project directory above audit_logs/) was "ok" with 0 records
// checked, while the CLI failed the same directory.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditConfigError, AuditLogger, verifyAuditLog, verifyExport } from "../../src/index.js";
import { cleanupTmp, thrownBy, tmpProject } from "../helpers/index.js";
import { newSigner } from "../fixtures/integrity/tamper.js";

afterEach(cleanupTmp);

const refusal = (run: () => unknown): Promise<AuditConfigError> => thrownBy(run, AuditConfigError);

describe("verify input", () => {
  it("a misspelt or mistyped option is an AuditConfigError naming it, for verifyAuditLog and verifyExport", async () => {
    const dir = tmpProject("verify-input-");
    const pem = newSigner().publicKey.export({ type: "spki", format: "pem" }).toString();
    for (const [method, run] of [
      ["verifyAuditLog", (o: object) => verifyAuditLog(dir, o as never)],
      ["verifyExport", (o: object) => verifyExport(dir, o as never)],
    ] as const) {
      expect((await refusal(() => run({ publickey: pem }))).issues).toEqual([{ field: `${method}.publickey`, message: expect.stringMatching(/unknown option/) }]);
      expect((await refusal(() => run({ publicKey: 42 }))).issues.map((i) => i.field)).toEqual([`${method}.publicKey`]);
      expect((await refusal(() => run({ sessionId: "" }))).issues.map((i) => i.field)).toEqual([`${method}.sessionId`]);
      expect((await refusal(() => run({ trustedCheckpoints: "x" }))).issues.map((i) => i.field)).toEqual([`${method}.trustedCheckpoints`]);
    }
  });

  it("a directory that is not a path string is an AuditConfigError naming it, with the options' issues (API.md audit, 2026-12-05: a bare TypeError, and \"\" verified the working directory)", async () => {
    for (const [method, run] of [
      ["verifyAuditLog", (d: unknown, o: object) => verifyAuditLog(d as never, o as never)],
      ["verifyExport", (d: unknown, o: object) => verifyExport(d as never, o as never)],
    ] as const) {
      for (const bad of [123, undefined, null, "", { auditPath: "x" }]) {
        expect((await refusal(() => run(bad, {}))).issues.map((i) => i.field), `${method} ${String(bad)}`).toEqual([method === "verifyAuditLog" ? `${method}.auditPath` : `${method}.exportDir`]);
      }
      expect((await refusal(() => run(5, { publickey: "x" }))).issues.map((i) => i.field).sort()).toEqual([method === "verifyAuditLog" ? `${method}.auditPath` : `${method}.exportDir`, `${method}.publickey`].sort());
    }
  });

  it("a directory with no audit logs is not ok: no_audit_logs, pointing at audit_logs/ when the project directory was given", async () => {
    const project = tmpProject("verify-empty-");
    const logger = new AuditLogger({ sessionId: "s1", projectPath: project });
    logger.logToolUsage({ toolName: "t", operation: "x" });
    await logger.finalizeSession();
    expect((await verifyAuditLog(logger.auditDir)).ok).toBe(true);

    const above = await verifyAuditLog(project);
    expect(above.ok).toBe(false);
    expect(above.problems).toEqual([{ file: path.resolve(project), kind: "no_audit_logs", detail: expect.stringContaining(`verify ${logger.auditDir}`) }]);

    for (const name of fs.readdirSync(logger.auditDir)) fs.rmSync(path.join(logger.auditDir, name), { recursive: true });
    const emptied = await verifyAuditLog(logger.auditDir);
    expect(emptied.ok).toBe(false);
    expect(emptied.recordsChecked).toBe(0);
    expect(emptied.problems.map((p) => p.kind)).toEqual(["no_audit_logs"]);
  });
});
