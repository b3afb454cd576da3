/**
 * Encrypted mode under trouble leaves no plaintext content on disk: a real child process whose
 * writes the disk refuses for a while (RLIMIT_FSIZE set from outside with `prlimit`, as
 * disk-trouble.test.ts does), so that records and content files wait in memory and are written
 * later, then SIGKILLed mid-write, its session then resumed (the torn line repaired); on the app's
 * thread with a PostgresSink whose store never answers (its spool holds the records), and with
 * `thread: true`. Every byte left under the audit directory is read for the canaries, their
 * SHA-256, and the master key in every encoding (the security pass, 2026-12-06).
 */
import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, PresetConfigs } from "../../src/index.js";
import { cleanupTmp, tmpProject, walk } from "../helpers/index.js";
import { auditDirOf, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

const CANARY = "CANARY_TROUBLE_5e0c";
const PARTS = ["PROMPT", "RESPONSE", "TOOLCALL", "PARAMS", "RESULT"];

function holding(dir: string, needle: string): string[] {
  return walk(dir).filter((f) => fs.readFileSync(f).includes(needle));
}

describe("encrypted mode: a refused write, a SIGKILL and a resume leave no plaintext content", () => {
  for (const thread of [false, true]) {
    it(thread ? "thread: true" : "on the app's thread, with a PostgresSink spooling", async () => {
      const projectPath = tmpProject();
      const key = randomBytes(32);
      const h = startFixture("encrypted-trouble-child.mts", {
        ENC_PROJECT: projectPath,
        ENC_KEY: key.toString("base64"),
        ENC_CANARY: CANARY,
        ENC_PG: "postgres://postgres@127.0.0.1:1/none",
        ...(thread ? { ENC_THREAD: "1" } : {}),
      });
      children.push(h);
      const pid = Number((await h.waitForLine((l) => l.startsWith("ready "), "ready")).split(" ")[1]);
      execFileSync("prlimit", ["--pid", String(pid), "--fsize=100:unlimited"]);
      h.child.kill("SIGUSR1");
      expect(await h.waitForLine((l) => l.startsWith("outage-flush "), "outage flush")).toBe("outage-flush rejected");
      execFileSync("prlimit", ["--pid", String(pid), "--fsize=unlimited:unlimited"]);
      h.child.kill("SIGUSR2");
      expect(await h.waitForLine((l) => l.startsWith("flushed "), "flushed")).toBe("flushed ok");
      await h.waitForLine((l) => l === "looping", "looping");
      await new Promise((r) => setTimeout(r, 300));
      h.child.kill("SIGKILL");
      await h.exited;
      // the outage was met (the content waited in memory), and the spool holds records
      expect(h.lines.some((l) => /^error-event AUDIT_ERR_IO .*EFBIG/.test(l)), h.lines.join("\n")).toBe(true);
      const dir = auditDirOf(projectPath);
      if (!thread) expect(fs.readdirSync(dir).filter((f) => f.startsWith(".pg_spool_")).map((f) => fs.statSync(path.join(dir, f)).size)[0]).toBeGreaterThan(1000);

      // resumed: the crash's torn line is repaired, more is written
      const resumed = new AuditLogger(PresetConfigs.production({ sessionId: thread ? "trouble_thread" : "trouble_main", projectPath, encryptionKey: key.toString("base64") }));
      resumed.on("error", () => {});
      resumed.logChatInteraction({ prompt: `${CANARY}_PROMPT resumed`, response: `${CANARY}_RESPONSE resumed` });
      await resumed.finalizeSession();

      const files = walk(dir);
      expect(files.filter((f) => f.endsWith(".txt.enc")).length).toBeGreaterThan(20);
      expect(files.filter((f) => f.endsWith(".txt"))).toEqual([]);
      for (const part of PARTS) {
        const canary = `${CANARY}_${part}`;
        expect(holding(dir, canary), canary).toEqual([]);
        expect(holding(dir, createHash("sha256").update(canary).digest("hex")), `sha256 of ${canary}`).toEqual([]);
      }
      expect(holding(dir, CANARY)).toEqual([]);
      for (const enc of ["base64", "hex", "base64url"] as const) expect(holding(dir, key.toString(enc)), enc).toEqual([]);
      expect(files.filter((f) => fs.readFileSync(f).includes(key)), "raw key bytes").toEqual([]);
    });
  }
});
