/**
 * The examples the README points to run as written (child processes, as a user runs them) and
 * end with a verified audit log.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { cleanupTmp, tmpProject } from "./helpers/index.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);
afterEach(cleanupTmp);

async function example(file: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", path.join(ROOT, "examples", file), ...args], { cwd: ROOT, timeout: 60_000 });
  return stdout;
}

describe("examples", () => {
  it("the demo and the examples given a directory that holds an audit trail delete nothing, add nothing and exit with 1", async () => {
    // (decorators.ts and express-chat-server.ts added to it until 2026-12-06, and printed its records as theirs)
    for (const file of ["audit_library_demo.ts", "openai-wrap.ts", "decorators.ts", "express-chat-server.ts"]) {
      const dir = tmpProject("audit-example-kept-");
      fs.mkdirSync(path.join(dir, "audit_logs"), { recursive: true });
      fs.writeFileSync(path.join(dir, "audit_logs", "chat_interactions_prod.jsonl"), "kept\n");
      const err = (await example(file, dir).then(() => undefined, (e: unknown) => e)) as { code?: number; stderr?: string } | undefined;
      expect(err?.code, file).toBe(1);
      expect(err?.stderr).toMatch(/exists: the (demo|example) writes a fresh audit trail and deletes none/);
      expect(fs.readFileSync(path.join(dir, "audit_logs", "chat_interactions_prod.jsonl"), "utf8")).toBe("kept\n");
      expect(fs.readdirSync(path.join(dir, "audit_logs"))).toEqual(["chat_interactions_prod.jsonl"]);
    }
    // both of the demo's directories there: named both, "exist" (it said "… and … exists")
    const both = tmpProject("audit-example-kept-");
    for (const d of ["audit_logs", "audit_exports"]) fs.mkdirSync(path.join(both, d));
    const err = (await example("audit_library_demo.ts", both).then(() => undefined, (e: unknown) => e)) as { code?: number; stderr?: string } | undefined;
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain(`${path.join(both, "audit_logs")} and ${path.join(both, "audit_exports")} exist: the demo writes a fresh audit trail`);
  });

  it("the demo leaves the public key of its signed checkpoints, so the README's `verify --public-key` runs on its trail", async () => {
    const dir = tmpProject("audit-example-demo-");
    const out = await example("audit_library_demo.ts", dir);
    const pem = path.join(dir, "audit_exports", "signing.pub.pem");
    expect(out).toContain("Integrity: OK");
    expect(out).toContain(`--public-key ${path.relative(ROOT, pem)}`);
    // the command the demo prints runs here, in the checkout, as printed (until 2026-12-05 it
    // printed `npx audit-logger verify ...`, which npm cannot run in the project itself:
    // "audit-logger: not found")
    const printed = /check the trail with it: (npm run cli -- verify \S+ --public-key \S+)$/m.exec(out)?.[1];
    expect(printed).toBeDefined();
    const viaNpm = await run("sh", ["-c", printed!], { cwd: ROOT, timeout: 60_000 });
    expect(viaNpm.stdout).toMatch(/^OK 6 records in 1 session/m);
    const { stdout } = await run(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/main.ts"), "verify", path.join(dir, "audit_logs"), "--public-key", pem, "--require-signed", "--json"], { cwd: ROOT, timeout: 60_000 });
    const report = JSON.parse(stdout) as { ok: boolean; recordsChecked: number; problems: unknown[]; notes: Array<{ kind: string }> };
    // checked against the key: signed, and more than self-consistent
    expect(report).toMatchObject({ ok: true, recordsChecked: 6, problems: [] });
    expect(report.notes.map((n) => n.kind)).not.toContain("self_consistent_only");
    // its directory export too: the manifest is signed with the trail's key (it was unsigned, and
    // `verify <export> --public-key` said FAILED, export_manifest_unsigned: new-user pass, 2026-12-06)
    expect(out).toContain("the directory export verifies against the signing key: true");
    const exported = await run(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/main.ts"), "verify", path.join(dir, "audit_exports", "complete"), "--public-key", pem, "--json"], { cwd: ROOT, timeout: 60_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code, stdout: e.stdout ?? "" }),
    );
    expect(exported.code, exported.stdout).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ ok: true, problems: [] });
  }, 120_000);

  it("decorators.ts records decorated calls with parent links and verifies", async () => {
    const out = await example("decorators.ts", tmpProject("audit-example-dec-"));
    expect(out).toContain("tool_usage weather_api");
    // the tree the example prints from each record's parentId: persona > chat > tool, nested
    expect(out).toMatch(/^- persona_activity planner user=user_42\n {2}- chat_interaction fake-gpt user=user_42\n {4}- tool_usage weather_api user=user_42$/m);
    expect(out).toMatch(/^- persona_activity planner \(failed\)\n {2}- chat_interaction fake-gpt \(failed\)\n {4}- tool_usage weather_api \(failed\)$/m);
    expect(out).toMatch(/verify: ok \(\d+ records\)/);
  });

  it("openai-wrap.ts records wrapped OpenAI calls against the local fake provider and verifies", async () => {
    const out = await example("openai-wrap.ts", tmpProject("audit-example-oa-"));
    expect(out).toContain("FAILED 429 RateLimitError");
    expect(out).toMatch(/verify: ok \(5 records\)/);
  });

  it("express-chat-server.ts records the request, its chat route and the wrapped client call under one trace", async () => {
    const out = await example("express-chat-server.ts", tmpProject("audit-example-ex-"));
    expect(out).toContain("POST /api/chat -> 200");
    expect(out.match(/trace=req-0001 user=alice/g)).toHaveLength(3);
    // the request's metric is the root; the chat route's record and the wrapped client's call are its children
    const metric = /performance_metric id=(\w+) trace=req-0001 user=alice parent=-/.exec(out);
    expect(metric).not.toBeNull();
    expect(out.match(new RegExp(`chat_interaction +id=\\w+ trace=req-0001 user=alice parent=${metric![1]}`, "g"))).toHaveLength(2);
    expect(out).toContain('"responsePreview":"The capital of France is Paris."');
    expect(out).toContain("verifyAuditLog: ok=true, 3 records checked, 0 problems");
  });
});
