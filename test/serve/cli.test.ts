/**
 * `audit-logger serve` as a real child process: prints the URL with its token, serves until
 * SIGTERM/SIGINT, then exits 0; bad usage exits 2.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { childArgs } from "../helpers/child-args.js";
import { runCli } from "../cli/helpers.js";
import net from "node:net";

const runner = path.join(import.meta.dirname, "run-serve.ts");
let projectPath: string;

beforeAll(async () => {
  projectPath = tmpProject("audit-serve-cli-");
  const logger = new AuditLogger({ sessionId: "cli_s", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
  logger.logChatInteraction({ id: "c1", prompt: "the secret question", response: "the answer", model: "gpt-4o" });
  await logger.finalizeSession();
});
afterAll(cleanupTmp);

function start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const { AUDIT_LOGGER_KEY: _k, ...clean } = process.env;
  const child = spawn(process.execPath, [...childArgs(runner), ...args], { env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function urlFrom(out: () => string, exit: Promise<number | null>): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const m = /Open (http:\/\/\S+)/.exec(out());
    if (m) return m[1]!;
    const done = await Promise.race([exit.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))]);
    if (done) break;
  }
  throw new Error(`no URL printed: ${out()}`);
}

describe("audit-logger serve (CLI)", () => {
  it("prints a tokened loopback URL, serves, and stops with exit code 0 on SIGTERM", async () => {
    const p = start([projectPath, "--no-open"]);
    const url = await urlFrom(p.out, p.exit);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    const u = new URL(url);
    const token = u.searchParams.get("token")!;
    expect((await fetch(new URL("/api/sessions", u))).status).toBe(401);
    const r = await fetch(new URL("/api/sessions/cli_s/records/c1", u), { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { content: { prompt: string | null; encrypted: boolean } };
    // no key given: the content stays encrypted
    expect(body.content).toMatchObject({ prompt: null, encrypted: true });
    p.child.kill("SIGTERM");
    expect(await p.exit).toBe(0);
  });

  it("opens encrypted content with --key-file and stops on SIGINT", async () => {
    const keyFile = path.join(projectPath, "key.txt");
    fs.writeFileSync(keyFile, `${TEST_KEY}\n`, { mode: 0o600 });
    const p = start([path.join(projectPath, "audit_logs"), "--key-file", keyFile, "--port", "0", "--host", "127.0.0.1", "--no-open"]);
    const u = new URL(await urlFrom(p.out, p.exit));
    const r = await fetch(new URL("/api/sessions/cli_s/records/c1", u), { headers: { authorization: `Bearer ${u.searchParams.get("token")}` } });
    expect(((await r.json()) as { content: { prompt: string } }).content.prompt).toBe("the secret question");
    expect(p.out()).not.toContain(TEST_KEY);
    p.child.kill("SIGINT");
    expect(await p.exit).toBe(0);
  });

  it("exits 2 on bad usage and prints help with --help", async () => {
    const bad = start([projectPath, "--port", "99999", "--no-open"]);
    expect(await bad.exit).toBe(2);
    expect(bad.err()).toContain("--port");
    const none = start(["--no-open"]);
    expect(await none.exit).toBe(2);
    expect(none.err()).toContain("needs a <dir>");
    const help = start(["--help"]);
    expect(await help.exit).toBe(0);
    expect(help.out()).toContain("Usage: audit-logger serve <dir>");
  });

  it("a failure to start (the port is taken) reads the same from serveCommand as from audit-logger serve: the message and its code", async () => {
    // (until 2026-12-06 serveCommand printed the message without the " [AUDIT_ERR_IO]" that the
    // audit-logger path through src/cli/run.ts adds)
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = String((taken.address() as net.AddressInfo).port);
    try {
      const api = start([projectPath, "--port", port, "--no-open"]);
      expect(await api.exit).toBe(1);
      const cli = await runCli(["serve", projectPath, "--port", port, "--no-open"]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/^audit-logger serve: .*EADDRINUSE.* \[AUDIT_ERR_IO\]\n$/);
      expect(api.err()).toBe(cli.stderr);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
