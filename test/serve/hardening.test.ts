/**
 * `audit-logger serve` and `verify` against a hostile or damaged audit directory, as real child
 * processes: a deleted key store, FIFOs, symbolic links and directories named like chain files,
 * dropped export manifests, open redirects, foreign Host headers, and timeline paging that must
 * stay within bounded memory.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { runCli } from "../cli/helpers.js";
import { childArgs } from "../helpers/child-args.js";

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
async function serve(dir: string, args: string[] = [], extraEnv: Record<string, string> = {}): Promise<Served> {
  const { AUDIT_LOGGER_KEY: _k, ...env } = process.env;
  const child = spawn(process.execPath, [...childArgs(runner), dir, "--no-open", ...args], { env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
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

interface Listing {
  sessions: Array<{ sessionId: string }>;
}

describe("files named like chain files that are not regular files", () => {
  it("a FIFO: /api/sessions and the pages still answer, verify reports it (no hang), SIGTERM stops the server", async () => {
    const { auditPath } = await project();
    const fifo = path.join(auditPath, "errors_ff.jsonl");
    const fifo2 = path.join(auditPath, "tool_usage_plain.3.jsonl");
    const fifo3 = path.join(auditPath, "chat_interactions_plain.jsonl.x");
    for (const f of [fifo, fifo2, fifo3]) expect(spawnSyncOk("mkfifo", [f])).toBe(true);
    const s = await serve(auditPath);
    const r = await s.get("/api/sessions", { ms: 10_000 });
    expect(r.status).toBe(200);
    const ids = ((await r.json()) as Listing).sessions.map((x) => x.sessionId);
    expect(ids).toEqual(expect.arrayContaining(["plain", "enc"]));
    for (const p of ["timeline", "stats", "analytics"]) expect((await s.get(`/api/sessions/plain/${p}`, { ms: 10_000 })).status).toBe(200);
    const integrity = (await (await s.get("/api/sessions/plain/integrity", { ms: 10_000 })).json()) as Report;
    expect(integrity.ok).toBe(false);
    expect(integrity.problems).toContainEqual(expect.objectContaining({ kind: "file_not_regular", file: "tool_usage_plain.3.jsonl" }));
    s.child.kill("SIGTERM");
    const code = await Promise.race([s.exit, new Promise((r) => setTimeout(() => r("hung"), 10_000))]);
    expect(code).toBe(0);
    const cli = await Promise.race([runCli(["verify", auditPath, "--json"]), new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]);
    expect(cli, "verify hung on a FIFO").toBeDefined();
    expect(cli!.code).toBe(1);
    const files = (JSON.parse(cli!.stdout) as Report).problems.filter((p) => p.kind === "file_not_regular").map((p) => p.file);
    expect(files.sort()).toEqual(["errors_ff.jsonl", "tool_usage_plain.3.jsonl"]);
  });

  it("a symbolic link to a file outside: never followed by the timeline, tail or verify", async () => {
    const { projectPath, auditPath } = await project();
    const outside = path.join(projectPath, "outside.jsonl");
    // a sealed-looking record of session "plain": what a reader following the link would show
    const line = JSON.parse(fs.readFileSync(path.join(auditPath, "errors_plain.jsonl"), "utf8").split("\n")[0]!) as Record<string, unknown>;
    fs.writeFileSync(outside, JSON.stringify({ ...line, id: "OUTSIDE_SECRET", message: "OUTSIDE_SECRET" }) + "\n");
    const outsideLn = path.join(projectPath, "outside-ln.jsonl");
    fs.writeFileSync(outsideLn, JSON.stringify({ ...line, sessionId: "ln", id: "OUTSIDE_SECRET", message: "OUTSIDE_SECRET" }) + "\n");
    fs.symlinkSync(outsideLn, path.join(auditPath, "errors_ln.jsonl"));
    fs.symlinkSync(outside, path.join(auditPath, "errors_plain.1.jsonl"));
    const s = await serve(auditPath);
    const ids = ((await (await s.get("/api/sessions")).json()) as Listing).sessions.map((x) => x.sessionId);
    expect(ids).not.toContain("ln");
    for (const sid of ["plain", ...ids]) {
      const t = await s.get(`/api/sessions/${sid}/timeline?kinds=error`);
      expect(await t.text()).not.toContain("OUTSIDE_SECRET");
    }
    const integrity = (await (await s.get("/api/sessions/plain/integrity")).json()) as Report;
    expect(integrity.problems).toContainEqual(expect.objectContaining({ kind: "file_not_regular", file: "errors_plain.1.jsonl" }));
    for (const args of [[], ["--session", "ln"], ["--session", "plain"]]) {
      const tail = await runCli(["tail", auditPath, "--json", ...args]);
      expect(tail.stdout + tail.stderr).not.toContain("OUTSIDE_SECRET");
    }
    const cli = await runCli(["verify", auditPath, "--json"]);
    expect((JSON.parse(cli.stdout) as Report).problems.filter((p) => p.kind === "file_not_regular").map((p) => p.file).sort()).toEqual(["errors_ln.jsonl", "errors_plain.1.jsonl"]);
  });

  it("a directory: /integrity, /stats and /analytics answer (no 500 EISDIR), verify reports it", async () => {
    const { auditPath } = await project();
    fs.mkdirSync(path.join(auditPath, "errors_dd.jsonl"));
    fs.mkdirSync(path.join(auditPath, "errors_plain.2.jsonl"));
    const s = await serve(auditPath);
    for (const p of ["stats", "analytics", "timeline"]) expect((await s.get(`/api/sessions/plain/${p}`)).status).toBe(200);
    const r = await s.get("/api/sessions/plain/integrity");
    expect(r.status).toBe(200);
    expect(((await r.json()) as Report).problems).toContainEqual(expect.objectContaining({ kind: "file_not_regular", file: "errors_plain.2.jsonl" }));
    const cli = await runCli(["verify", auditPath, "--json"]);
    expect(cli.code).toBe(1);
    expect((JSON.parse(cli.stdout) as Report).problems.filter((p) => p.kind === "file_not_regular").map((p) => p.file).sort()).toEqual(["errors_dd.jsonl", "errors_plain.2.jsonl"]);
  });
});

function spawnSyncOk(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args).status === 0;
}

interface Page {
  rows: Array<{ id: string }>;
  next: { before: string; skip: number } | null;
}

describe("timeline queries stay bounded", () => {
  it("repeated kinds are taken once; skip above 1000 is a 400 naming it (AUDIT_ERR_VALIDATION); paging still returns every record once", async () => {
    const { auditPath } = await project();
    const s = await serve(auditPath);
    const once = (await (await s.get("/api/sessions/plain/timeline?kinds=error")).json()) as Page;
    const thrice = (await (await s.get("/api/sessions/plain/timeline?kinds=error,error,error")).json()) as Page;
    expect(once.rows.length).toBe(1);
    expect(thrice.rows.map((r) => r.id)).toEqual(once.rows.map((r) => r.id));
    const before = encodeURIComponent(new Date().toISOString());
    const ok = await s.get(`/api/sessions/plain/timeline?before=${before}&skip=1000`);
    expect(ok.status).toBe(200);
    const big = await s.get(`/api/sessions/plain/timeline?before=${before}&skip=100000`);
    expect(big.status).toBe(400);
    const body = (await big.json()) as { error: string; code: string; fields: string[] };
    expect(body).toMatchObject({ code: "AUDIT_ERR_VALIDATION", fields: ["skip"] });
    expect(body.error).toContain("skip");
    // every record once, a page of one at a time
    const seen: string[] = [];
    let q = "limit=1";
    for (let i = 0; i < 20; i++) {
      const page = (await (await s.get(`/api/sessions/plain/timeline?${q}`)).json()) as Page;
      seen.push(...page.rows.map((r) => r.id));
      if (!page.next) break;
      q = `limit=1&before=${encodeURIComponent(page.next.before)}&skip=${page.next.skip}`;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(2);
  });
});

describe("the cached integrity verdict", () => {
  it("is recomputed when an export manifest, an integrity/ directory or audit_complete.json appears in the audit directory", async () => {
    const { auditPath } = await project();
    const s = await serve(auditPath);
    const verdict = async (): Promise<Report> => (await (await s.get("/api/sessions/plain/integrity")).json()) as Report;
    expect((await verdict()).ok).toBe(true);
    fs.writeFileSync(path.join(auditPath, "export_manifest.json"), "{}\n");
    const r = await verdict();
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.kind)).toContain("export_and_logs_mixed");
  });
});

/** One raw request (the path sent as given, any Host header): status and headers. */
function rawGet(s: Served, p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: s.base.hostname, port: s.base.port, path: p, method: "GET", headers }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("requests from elsewhere", () => {
  it("the redirect that moves the token into a cookie stays on this server (no //host)", async () => {
    const { auditPath } = await project();
    const s = await serve(auditPath);
    for (const p of [`/.//evil.example/?token=${s.token}`, `//evil.example/?token=${s.token}`, `/./\\evil.example/?token=${s.token}`, `/?token=${s.token}&x=1`]) {
      const r = await rawGet(s, p);
      expect(r.status, p).toBe(303);
      const loc = r.headers.location!;
      expect(loc, p).toMatch(/^\/(?![/\\])/);
      expect(new URL(loc, "http://127.0.0.1:1/").host, p).toBe("127.0.0.1:1");
    }
  });

  it("bound to loopback, a Host other than 127.0.0.1, localhost or [::1] at its port is refused with 421 (DNS rebinding)", async () => {
    const { auditPath } = await project();
    const s = await serve(auditPath);
    const auth = { authorization: `Bearer ${s.token}` };
    const port = s.base.port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) expect((await rawGet(s, "/api/sessions", { ...auth, host })).status, host).toBe(200);
    for (const host of [`evil.example:${port}`, "evil.example", `127.0.0.1:${Number(port) + 1}`, `localhost.evil.example:${port}`]) {
      expect((await rawGet(s, "/api/sessions", { ...auth, host })).status, host).toBe(421);
    }
  });
});

/** Every file under `dir` (recursively) whose bytes contain `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    if (fs.readFileSync(p).includes(needle)) out.push(p);
  }
  return out;
}

describe("export downloads of an encrypted log", () => {
  it("never put the decrypted content in a file: the download streams to the browser (it was written whole to a temporary file under TMPDIR first, left there if the server died)", async () => {
    const projectPath = tmpProject("audit-dl-");
    const auditPath = path.join(projectPath, "audit_logs");
    const canary = "DECRYPTED_PROMPT_CANARY";
    const enc = new AuditLogger({ sessionId: "enc", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    // ~24 MB of content: more than the sockets hold while the browser does not read
    for (let i = 0; i < 1500; i++) enc.logChatInteraction({ prompt: `${canary} ${i} ${"p".repeat(16_000)}`, response: "ok", model: "gpt-4o", userId: "alice" });
    await enc.finalizeSession();
    const keyFile = path.join(projectPath, "master.key");
    fs.writeFileSync(keyFile, TEST_KEY);
    const tmp = tmpProject("audit-dl-tmp-");
    const s = await serve(auditPath, ["--key-file", keyFile], { TMPDIR: tmp });
    for (const p of ["/api/sessions/enc/export.json?content=1", "/api/sessions/enc/export/chat_interaction.csv?content=1"]) {
      // the browser takes its time: the response is paused once its headers arrive
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.request({ host: s.base.hostname, port: s.base.port, path: p, headers: { authorization: `Bearer ${s.token}` } }, (res) => {
          expect(res.statusCode, p).toBe(200);
          res.pause();
          setTimeout(() => {
            try {
              expect(filesHolding(tmp, canary), p).toEqual([]);
            } catch (err) {
              req.destroy();
              reject(err);
              return;
            }
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
            res.resume();
          }, 500);
        });
        req.on("error", reject);
        req.end();
      });
      // and the download is whole: each prompt in its preview, and in full in the JSON's content
      expect(body.split(canary).length - 1, p).toBe(p.includes(".csv") ? 1500 : 1500 * 2);
      if (!p.includes(".csv")) expect((JSON.parse(body) as { records: { chat_interactions: unknown[] } }).records.chat_interactions.length).toBe(1500);
    }
    const head = await fetch(new URL("/api/sessions/enc/export.json?content=1", s.base), { method: "HEAD", headers: { authorization: `Bearer ${s.token}` } });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-disposition")).toBe('attachment; filename="audit_enc.json"');
    // (tsx keeps its own cache there)
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith("audit-serve-"))).toEqual([]);
    expect(filesHolding(tmp, canary)).toEqual([]);
  }, 120_000);
});
