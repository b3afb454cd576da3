// `--key-file` inside the audit directory the command reads is refused, unread: a copy of the
// directory (a backup, a tarball for an auditor) would carry the key that opens its content. The
// writer refuses a signing key file there the same way (src/integrity/signing.ts).
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterEach(cleanupTmp);

async function encryptedLog(): Promise<{ projectPath: string; auditDir: string }> {
  const projectPath = tmpProject();
  const logger = new AuditLogger({ sessionId: "s1", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
  logger.logChatInteraction({ prompt: "the confidential question", response: "the confidential answer" });
  await logger.finalizeSession();
  return { projectPath, auditDir: logger.auditDir };
}

describe("--key-file inside the audit directory", () => {
  it("is refused by export, tail, serve and shred (exit 2, the fix named, the key not shown); the same key outside opens the content", async () => {
    const { projectPath, auditDir } = await encryptedLog();
    const inside = path.join(auditDir, "master.key");
    fs.writeFileSync(inside, TEST_KEY);
    // a link from outside to it is the same file
    const linked = path.join(projectPath, "linked.key");
    fs.symlinkSync(inside, linked);
    const out = path.join(tmpProject(), "export.json");
    const runs = {
      export: ["export", auditDir, "--format", "json", "--out", out, "--include-content", "--key-file", inside],
      "export (through a link)": ["export", auditDir, "--format", "json", "--out", out, "--include-content", "--key-file", linked],
      tail: ["tail", auditDir, "--kind", "chat_interaction", "--key-file", inside],
      serve: ["serve", auditDir, "--no-open", "--key-file", inside],
      shred: ["shred", projectPath, "--user", "alice", "--reason", "erasure", "--key-file", inside],
    };
    const results = await Promise.all(Object.values(runs).map((args) => runCli(args)));
    Object.keys(runs).forEach((name, i) => {
      const r = results[i]!;
      expect({ name, code: r.code }).toEqual({ name, code: 2 });
      expect(r.stderr, name).toContain("option --key-file:");
      expect(r.stderr, name).toContain("is inside the audit directory");
      expect(r.stderr, name).toContain("move it outside the directory");
      expect(r.stdout + r.stderr, name).not.toContain(TEST_KEY.slice(0, 12));
      expect(r.stdout, name).not.toContain("confidential");
    });
    expect(fs.existsSync(out)).toBe(false);

    const outside = path.join(projectPath, "master.key");
    fs.copyFileSync(inside, outside);
    const ok = await runCli(["export", auditDir, "--format", "json", "--out", out, "--include-content", "--key-file", outside]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(fs.readFileSync(out, "utf8")).toContain("the confidential answer");
  });
});
