// A signed session (a signing key configured) whose process ends without finalizeSession() (the
// event loop runs out, process.exit()): only finalizeSession() and the periodic checkpoints
// signed, so `verify --public-key` reported the records after the last periodic checkpoint as an
// unsigned_tail (found 2026-12-05). The exit hook now signs a final checkpoint ("exit") while it
// still holds the lock. A SIGKILL runs nothing: its tail stays unsigned.
import fs from "node:fs";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, killChildren, startFixture, type ChildHandle } from "../helpers/core.js";
import { runCli } from "../cli/helpers.js";

const children: ChildHandle[] = [];

afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

interface Report {
  ok: boolean;
  problems: Array<{ kind: string }>;
  notes: Array<{ kind: string; detail: string }>;
}

function keys(projectPath: string): { pem: string; pub: string } {
  const pair = generateKeyPairSync("ed25519");
  const pub = path.join(projectPath, "signing.pub.pem");
  fs.writeFileSync(pub, pair.publicKey.export({ type: "spki", format: "pem" }).toString());
  return { pem: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), pub };
}

function checkpoints(dir: string, sid: string): Array<{ reason: string; heads: Record<string, { seq?: number }> }> {
  return fs
    .readFileSync(path.join(dir, `checkpoints_${sid}.jsonl`), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { checkpoint: { reason: string; heads: Record<string, { seq?: number }> } }).checkpoint);
}

describe("a signed session whose process ends without finalizeSession()", () => {
  for (const mode of ["end", "exit", "thread"] as const) {
    it(`gets a final signed checkpoint from the exit hook (${mode}), onCheckpoint is called with it: verify --public-key reports no unsigned tail`, async () => {
      const projectPath = tmpProject();
      const dir = auditDirOf(projectPath);
      const sid = `signed_${mode}`;
      const { pem, pub } = keys(projectPath);
      const h = startFixture("exit-signed-child.mts", { AUDIT_LOGGER_SIGNING_KEY: pem }, [projectPath, sid, mode]);
      children.push(h);
      const end = await h.exited;
      expect(end.code, end.stderr).toBe(0);
      expect(end.stderr).toBe("");
      // the periodic one over records 1..3, then the exit hook's over all 5
      const cps = checkpoints(dir, sid);
      expect(cps.map((c) => c.reason)).toEqual(["records", "exit"]);
      expect(cps.at(-1)!.heads.tool_usage!.seq).toBe(5);
      // (with the thread, the worker's checkpoint event reaches the app's thread before the process
      // ends: until 2026-12-06 it was never delivered, see ThreadLink.drainEvents)
      expect(h.lines.filter((l) => l.startsWith("onCheckpoint "))).toEqual(["onCheckpoint records", "onCheckpoint exit"]);
      expect(fs.existsSync(path.join(dir, `.session_${sid}.lock`))).toBe(false);
      const v = await runCli(["verify", dir, "--public-key", pub, "--json"]);
      expect(v.code, v.stdout).toBe(0);
      const r = JSON.parse(v.stdout) as Report;
      expect(r.ok).toBe(true);
      expect(r.problems).toEqual([]);
      expect(r.notes.filter((n) => n.kind === "unsigned_tail")).toEqual([]);
    }, 60_000);
  }

  it("one whose audit directory was removed while its process ran (a test suite's temporary directory) ends without a word on stderr, and nothing is made again", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const { pem } = keys(projectPath);
    const h = startFixture("exit-signed-child.mts", { AUDIT_LOGGER_SIGNING_KEY: pem }, [projectPath, "signed_rmdir", "rmdir"]);
    children.push(h);
    const end = await h.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toBe("");
    expect(fs.existsSync(dir)).toBe(false);
  }, 60_000);

  it("a SIGKILLed one gets none: its tail stays unsigned (unsigned_tail), as before", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const sid = "signed_kill";
    const { pem, pub } = keys(projectPath);
    const h = startFixture("exit-signed-child.mts", { AUDIT_LOGGER_SIGNING_KEY: pem }, [projectPath, sid, "kill"]);
    children.push(h);
    await h.waitForLine((l) => l.startsWith("ready "), "ready");
    h.child.kill("SIGKILL");
    expect((await h.exited).signal).toBe("SIGKILL");
    expect(checkpoints(dir, sid).map((c) => c.reason)).toEqual(["records"]);
    const v = await runCli(["verify", dir, "--public-key", pub, "--json"]);
    expect(v.code, v.stdout).toBe(0);
    const tail = (JSON.parse(v.stdout) as Report).notes.filter((n) => n.kind === "unsigned_tail");
    expect(tail).toHaveLength(1);
    expect(tail[0]!.detail).toContain("4..5");
  }, 60_000);
});
