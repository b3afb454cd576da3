/**
 * `audit-logger serve` and `verify` against a hostile or damaged audit directory, as real child
 * processes: a deleted key store, FIFOs, symbolic links and directories named like chain files,
 * dropped export manifests, open redirects, foreign Host headers, and timeline paging that must
 * stay within bounded memory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { runCli } from "../cli/helpers.js";

const runner = path.join(import.meta.dirname, "run-serve.ts");

interface Served {
  readonly child: ChildProcess;
  readonly base: URL;
  readonly token: string;
  readonly exit: Promise<number | null>;
  /** GET `p` with the token; fails (does not hang) after `ms` */
  get(p: string, o?: { ms?: number; headers?: Record<string, string> }): Promise<Response>;
}

const running: Served[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) {
    s.child.kill("SIGKILL");
    await s.exit;
  }
});
afterAll(cleanupTmp);

/** Starts `audit-logger serve <dir> --no-open` in a child process and waits for its URL. */
async function serve(dir: string, args: string[] = []): Promise<Served> {
  const { AUDIT_LOGGER_KEY: _k, ...env } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", runner, dir, "--no-open", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let url: URL | undefined;
  for (let i = 0; i < 600 && !url; i++) {
    const m = /Open (http:\/\/\S+)/.exec(out);
    if (m) url = new URL(m[1]!);
    else await new Promise((r) => setTimeout(r, 100));
  }
  if (!url) {
    child.kill("SIGKILL");
    throw new Error(`serve printed no URL: ${out}`);
  }
  const token = url.searchParams.get("token")!;
  const s: Served = {
    child,
    base: url,
    token,
    exit,
    get: (p, o = {}) => fetch(new URL(p, url), { headers: { authorization: `Bearer ${token}`, ...o.headers }, redirect: "manual", signal: AbortSignal.timeout(o.ms ?? 15_000) }),
  };
  running.push(s);
  return s;
}

/** A project with one plain session "plain" and one encrypted session "enc" (user alice). */
async function project(): Promise<{ projectPath: string; auditPath: string }> {
  const projectPath = tmpProject("audit-harden-");
  const plain = new AuditLogger({ sessionId: "plain", projectPath });
  plain.logChatInteraction({ id: "p1", prompt: "hello", response: "hi", model: "gpt-4o" });
  plain.logError({ errorType: "E", message: "boom", severity: "error" });
  await plain.finalizeSession();
  const enc = new AuditLogger({ sessionId: "enc", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
  enc.logChatInteraction({ id: "e1", prompt: "the secret question", response: "the answer", model: "gpt-4o", userId: "alice" });
  await enc.finalizeSession();
  return { projectPath, auditPath: path.join(projectPath, "audit_logs") };
}

interface Report {
  ok: boolean;
  problems: Array<{ kind: string; file: string }>;
}

describe("a deleted key store, verified per session", () => {
  it("is key_missing in /api/sessions/<id>/integrity and in `verify --session`", async () => {
    const { auditPath } = await project();
    const s = await serve(auditPath);
    // verified (and cached) first, then the store goes: the verdict must not be kept
    expect(((await (await s.get("/api/sessions/enc/integrity")).json()) as Report).ok).toBe(true);
    const stores = fs.readdirSync(auditPath).filter((n) => n.startsWith("subject_keys_"));
    expect(stores.length).toBeGreaterThan(0);
    for (const n of stores) fs.rmSync(path.join(auditPath, n));
    const r = await s.get("/api/sessions/enc/integrity");
    expect(r.status).toBe(200);
    const report = (await r.json()) as Report;
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toContain("key_missing");
    // the plain session uses no data key: still fine
    expect(((await (await s.get("/api/sessions/plain/integrity")).json()) as Report).ok).toBe(true);
    const cli = await runCli(["verify", auditPath, "--session", "enc", "--json"]);
    expect(cli.code).toBe(1);
    expect((JSON.parse(cli.stdout) as Report).problems.map((p) => p.kind)).toContain("key_missing");
  });

  it("is not key_missing when the subject was shredded in another session", async () => {
    const { auditPath } = await project();
    const cli0 = await runCli(["shred", auditPath, "--user", "alice", "--reason", "erasure request"], { env: { AUDIT_LOGGER_KEY: TEST_KEY } });
    expect(cli0.code, cli0.stderr).toBe(0);
    const cli = await runCli(["verify", auditPath, "--session", "enc", "--json"]);
    const report = JSON.parse(cli.stdout) as Report;
    expect(report.problems).toEqual([]);
    expect(cli.code).toBe(0);
  });
});
