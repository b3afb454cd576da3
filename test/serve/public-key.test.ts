/**
 * The integrity panel with a trusted public key (`serve --public-key`, `startServer({ publicKey })`).
 * Found by the viewer pass, 2026-12-05: serve verified without any, so its panel, the verdict a
 * reader of the viewer sees, could never check a checkpoint's signature: a signed session whose
 * checkpoints were signed by another key (re-signed by whoever rewrote it) showed "✓ verified".
 */
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { startServer } from "../../src/serve/server.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { childArgs } from "../helpers/child-args.js";

const runner = path.join(import.meta.dirname, "run-serve.ts");
let auditPath: string;
let trustedPem: string;
let keyFile: string;

beforeAll(async () => {
  const projectPath = tmpProject("audit-serve-pubkey-");
  // signed by a key the reader does not trust (a rewrite re-signed with the rewriter's own key)
  const other = generateKeyPairSync("ed25519");
  const logger = new AuditLogger({ sessionId: "s", projectPath, signingKey: other.privateKey });
  logger.logChatInteraction({ prompt: "q", response: "a", model: "gpt-4o" });
  await logger.finalizeSession();
  auditPath = path.join(projectPath, "audit_logs");
  trustedPem = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }).toString();
  keyFile = path.join(tmpProject(), "trusted.pem");
  fs.writeFileSync(keyFile, trustedPem);
});
afterAll(cleanupTmp);

async function integrity(base: URL, token: string): Promise<{ ok: boolean; problems: Array<{ kind: string }> }> {
  const r = await fetch(new URL("/api/sessions/s/integrity", base), { headers: { authorization: `Bearer ${token}` } });
  return (await r.json()) as { ok: boolean; problems: Array<{ kind: string }> };
}

describe("serve's integrity panel with a trusted public key", () => {
  it("checks the checkpoints' signatures against it (startServer)", async () => {
    expect((await verifyAuditLog(auditPath, { publicKey: trustedPem })).problems.map((p) => p.kind)).toContain("checkpoint_unknown_key");
    const plain = await startServer({ auditPath });
    const keyed = await startServer({ auditPath, publicKey: trustedPem });
    try {
      const a = await integrity(new URL(plain.baseUrl), new URL(plain.url).searchParams.get("token")!);
      expect(a.ok).toBe(true); // self-consistent only, as without a key
      const b = await integrity(new URL(keyed.baseUrl), new URL(keyed.url).searchParams.get("token")!);
      expect(b.ok).toBe(false);
      expect(b.problems.map((p) => p.kind)).toContain("checkpoint_unknown_key");
    } finally {
      await Promise.all([plain.close(), keyed.close()]);
    }
  });

  it("audit-logger serve --public-key <file>", async () => {
    const { AUDIT_LOGGER_KEY: _k, ...clean } = process.env;
    const child = spawn(process.execPath, [...childArgs(runner), auditPath, "--public-key", keyFile, "--port", "0", "--no-open"], { env: clean, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let url: string | undefined;
    for (let i = 0; i < 300 && url === undefined; i++) {
      url = /Open (http:\/\/\S+)/.exec(out)?.[1];
      if (url === undefined && (await Promise.race([exit.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))]))) break;
    }
    expect(url, err).toBeDefined();
    const u = new URL(url!);
    const r = await integrity(u, u.searchParams.get("token")!);
    expect(r.problems.map((p) => p.kind)).toContain("checkpoint_unknown_key");
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
  }, 60_000);
});
