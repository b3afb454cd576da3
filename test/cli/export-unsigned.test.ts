/**
 * `audit-logger export --format dir` of logs whose checkpoints are signed, made with no signing
 * key at hand: its `export_manifest.json` is unsigned, and `verify --public-key` of the export
 * fails it (`export_manifest_unsigned`). The export says so, and both say where the key goes.
 * (Found by the new-user pass, 2026-12-06: the README's `verify --public-key` run on a directory
 * export of the demo's signed trail said FAILED, and nothing said how to sign the export: the
 * export's help said "signed when a key is at hand".)
 */
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterAll(cleanupTmp);

const FIX = "To sign it, export again with the logger's Ed25519 private key: exportCompleteAuditToDirectory's signingKey option (a live logger's exporter uses its own), or, for audit-logger export, AUDIT_LOGGER_SIGNING_KEY_FILE (a PEM file outside the audit directory) or AUDIT_LOGGER_SIGNING_KEY (the PEM).";

describe("a directory export of signed logs", () => {
  it("made without a signing key says its manifest is unsigned and how to sign it, as verify --public-key of it does; with AUDIT_LOGGER_SIGNING_KEY_FILE it is signed and verifies", async () => {
    const root = tmpProject("audit-export-unsigned-");
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const keyFile = path.join(root, "signing.pem");
    const pubFile = path.join(root, "signing.pub.pem");
    fs.writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
    fs.writeFileSync(pubFile, publicKey.export({ type: "spki", format: "pem" }));
    const logger = new AuditLogger({ sessionId: "signed", projectPath: path.join(root, "app"), signingKey: privateKey });
    logger.logChatInteraction({ model: "gpt-4o", prompt: "question", response: "answer", inputTokens: 3, outputTokens: 2 });
    await logger.finalizeSession();
    const env = { AUDIT_LOGGER_SIGNING_KEY: "", AUDIT_LOGGER_SIGNING_KEY_FILE: "" };

    const unsigned = path.join(root, "unsigned");
    const e = await runCli(["export", logger.auditDir, "--format", "dir", "--out", unsigned], { env });
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toBe(`audit-logger export: export_manifest.json is not signed, though the logs' checkpoints are: no signing key was given. ${FIX}\n`);
    const v = await runCli(["verify", unsigned, "--public-key", pubFile], { env });
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`PROBLEM export_manifest_unsigned export_manifest.json: export_manifest.json carries no signature, but a trusted key was given: the export was made without a signing key, or its signature was stripped. ${FIX}\n`);

    const signed = path.join(root, "signed");
    const s = await runCli(["export", logger.auditDir, "--format", "dir", "--out", signed], { env: { ...env, AUDIT_LOGGER_SIGNING_KEY_FILE: keyFile } });
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toBe("");
    const sv = await runCli(["verify", signed, "--public-key", pubFile], { env });
    expect(sv.stdout).toMatch(/^OK /m);
    expect(sv.code).toBe(0);
  }, 120_000);

  it("of logs with no signed checkpoint says nothing of it (no key to expect)", async () => {
    const root = tmpProject("audit-export-unsigned-plain-");
    const logger = new AuditLogger({ sessionId: "plain", projectPath: root });
    logger.logChatInteraction({ model: "gpt-4o", prompt: "question", response: "answer" });
    await logger.finalizeSession();
    const e = await runCli(["export", logger.auditDir, "--format", "dir", "--out", path.join(root, "out")], { env: { AUDIT_LOGGER_SIGNING_KEY: "", AUDIT_LOGGER_SIGNING_KEY_FILE: "" } });
    expect(e.code).toBe(0);
    expect(e.stderr).toBe("");
  }, 120_000);
});
