// An encryptionKey given with encryptSensitiveContent off wrote a plaintext trail without a word
// (found by a new-user run, 2026-12-05): now an AUDIT_WARN_KEY_UNUSED process warning, once per
// process; none when the key is there to derive an hmac redaction key. Each case runs in a child
// process, as the warning is once per process.
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { cleanupTmp, tmpProject, TEST_KEY } from "../helpers/index.js";
import { REPO_ROOT } from "../helpers/core.js";

afterEach(cleanupTmp);

function warningsOf(options: string): string {
  const script = `
    import { AuditLogger } from "./src/index.ts";
    const l = new AuditLogger({ projectPath: ${JSON.stringify(tmpProject("key-unused-"))}, ...${options} });
    const l2 = new AuditLogger({ projectPath: ${JSON.stringify(tmpProject("key-unused-"))}, ...${options} });
    l.logChatInteraction({ model: "m", prompt: "the secret prompt", response: "r" });
    await l.finalizeSession(); await l2.finalizeSession();`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO_ROOT, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stderr;
}

describe("an encryption key given and not used", () => {
  it("warns once (AUDIT_WARN_KEY_UNUSED), saying the trail is plaintext and how to encrypt", () => {
    const err = warningsOf(`{ encryptionKey: ${JSON.stringify(TEST_KEY)} }`);
    expect(err.match(/AUDIT_WARN_KEY_UNUSED/g)).toHaveLength(1);
    expect(err).toContain("written in plaintext. Set encryptSensitiveContent: true");
    expect(err).not.toContain(TEST_KEY);
  });

  it("does not warn when the key encrypts, or derives an hmac redaction key, or is not given", () => {
    expect(warningsOf(`{ encryptionKey: ${JSON.stringify(TEST_KEY)}, encryptSensitiveContent: true }`)).not.toContain("AUDIT_WARN");
    expect(warningsOf(`{ encryptionKey: ${JSON.stringify(TEST_KEY)}, redact: { replacement: "hmac" } }`)).not.toContain("AUDIT_WARN");
    expect(warningsOf(`{}`)).not.toContain("AUDIT_WARN");
  });
});
