// `--key-file` inside the audit directory the command reads is refused, unread: a copy of the
// directory (a backup, a tarball for an auditor) would carry the key that opens its content. The
// writer refuses a signing key file there the same way (src/integrity/signing.ts).
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { collect, runCli, startCli } from "./helpers.js";

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

describe("a key that is not the trail's", () => {
  // (found by the CLI pass, 2026-12-06: export --include-content with another 32-byte key wrote its
  // export, every prompt still encrypted and marked "cannot decrypt", with exit 0 and no word on
  // stderr; tail and serve showed "[encrypted … cannot decrypt]" on every record, exit 0)
  const OTHER_KEY = Buffer.alloc(32, 9).toString("base64");

  /** Runs the CLI, killed after `ms` (serve that does not refuse runs until stopped). */
  async function run(args: string[], env: NodeJS.ProcessEnv = {}, ms = 20_000) {
    const child = startCli(args, { env });
    const timer = setTimeout(() => child.kill("SIGINT"), ms);
    const r = await collect(child).done;
    clearTimeout(timer);
    return r;
  }

  it("is refused by export, tail and serve before anything is read or written (exit 2, AUDIT_ERR_KEY, the master key ids named, no key shown), from --key-file and from AUDIT_LOGGER_KEY", async () => {
    const { projectPath, auditDir } = await encryptedLog();
    const store = fs.readdirSync(auditDir).find((n) => n.startsWith("subject_keys_"))!;
    const wrappedBy = (JSON.parse(fs.readFileSync(path.join(auditDir, store), "utf8").split("\n")[0]!) as { wrappedBy: string }).wrappedBy;
    const keyFile = path.join(projectPath, "other.key");
    fs.writeFileSync(keyFile, OTHER_KEY + "\n");
    const out = path.join(tmpProject(), "export.json");
    const commands = {
      export: ["export", auditDir, "--format", "json", "--out", out, "--include-content"],
      tail: ["tail", auditDir, "--kind", "chat_interaction"],
      serve: ["serve", auditDir, "--no-open"],
    };
    for (const [name, args] of Object.entries(commands)) {
      for (const [how, extra, env, source] of [
        ["--key-file", ["--key-file", keyFile], {}, "option --key-file"],
        ["AUDIT_LOGGER_KEY", [], { AUDIT_LOGGER_KEY: OTHER_KEY }, "AUDIT_LOGGER_KEY"],
      ] as const) {
        const r = await run([...args, ...extra], env);
        const what = `${name} ${how}: ${r.stderr}`;
        expect(r.code, what).toBe(2);
        expect(r.stderr, what).toContain(source);
        expect(r.stderr, what).toContain(wrappedBy);
        expect(r.stderr, what).toContain("[AUDIT_ERR_KEY]");
        expect(r.stdout + r.stderr, what).not.toContain(OTHER_KEY.slice(0, 12));
        expect(r.stdout, what).not.toContain("http://");
        expect(r.stdout, what).not.toContain("chat_interaction");
      }
    }
    expect(fs.existsSync(out)).toBe(false);
    // the trail's own key still opens it
    const ok = await runCli(["export", auditDir, "--format", "json", "--out", out, "--include-content"], { env: { AUDIT_LOGGER_KEY: TEST_KEY } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(fs.readFileSync(out, "utf8")).toContain("the confidential answer");
  }, 120_000);

  it("a --key-file that holds no usable key is named as the file, not as \"the encryptionKey option\", and never shown", async () => {
    const { projectPath, auditDir } = await encryptedLog();
    const keyFile = path.join(projectPath, "short.key");
    fs.writeFileSync(keyFile, "c2hvcnQtc2VjcmV0\n");
    const r = await runCli(["tail", auditDir, "--key-file", keyFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`option --key-file: The encryption key from ${keyFile} is not 32 bytes`);
    expect(r.stderr).not.toContain("encryptionKey option");
    expect(r.stderr).not.toContain("c2hvcnQtc2VjcmV0");
  });
});

describe("a --public-key that is no Ed25519 public key", () => {
  it("is bad usage coded as a key error (exit 2, AUDIT_ERR_KEY), as a bad --key-file is", async () => {
    const { projectPath, auditDir } = await encryptedLog();
    const notAKey = path.join(projectPath, "not-a-key.pem");
    fs.writeFileSync(notAKey, "hello\n");
    const r = await runCli(["verify", auditDir, "--public-key", notAKey]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option --public-key: A public key given to the verifier is not an Ed25519 public key");
    expect(r.stderr).toContain("[AUDIT_ERR_KEY]");
    // in words, with the fix: not OpenSSL's "error:1E08010C:DECODER routines::unsupported"
    expect(r.stderr).toContain("the text is not a PEM key OpenSSL can read");
    expect(r.stderr).toContain("Give the public half of the logger's Ed25519 signing key");
    expect(r.stderr).not.toMatch(/error:[0-9A-F]{8}:/);
    const served = await runCli(["serve", auditDir, "--no-open", "--public-key", notAKey]);
    expect(served.code).toBe(2);
    expect(served.stderr).toContain(`option --public-key: cannot read a public key from "${notAKey}"`);
    expect(served.stderr).toContain("[AUDIT_ERR_KEY]");
  });
});
