/**
 * The public types under a stricter project's compiler settings: documented examples compiled
 * with the real TypeScript compiler and `exactOptionalPropertyTypes` (the project's own tsconfig
 * leaves it off). Only errors in the examples count: the library's sources are compiled with
 * the project's own settings by `npm test`.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const TSC = path.join(ROOT, "node_modules/.bin/tsc");

describe("public types", () => {
  it("documented examples type-check under exactOptionalPropertyTypes (new AuditViewer({ encryptionKey: process.env.AUDIT_LOGGER_KEY }) did not)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "audit-types-"));
    try {
      const fixture = path.join(ROOT, "test/fixtures/types/exact-optional.ts");
      const tsconfig = {
        extends: path.join(ROOT, "tsconfig.json"),
        compilerOptions: { rootDir: ROOT, noEmit: true, exactOptionalPropertyTypes: true, typeRoots: [path.join(ROOT, "node_modules/@types")] },
        include: [],
        files: [fixture],
      };
      fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
      const out = await promisify(execFile)(TSC, ["-p", path.join(dir, "tsconfig.json")], { cwd: ROOT }).then(
        (r) => r.stdout,
        (e: { stdout?: string }) => e.stdout ?? "",
      );
      const ours = out.split("\n").filter((l) => l.startsWith("test/fixtures/types/"));
      expect(ours).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
