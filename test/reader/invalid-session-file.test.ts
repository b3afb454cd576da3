/**
 * A file named like one of the kit's that names a session id no session can have ("x.1", "..":
 * by its own name, or by its first record's `sessionId`). The kit never writes one. Until
 * 2026-12-05 `listSessionIds` listed the id, and `verifyAuditLog` and `audit-logger verify` threw
 * AuditPathError on it (one planted file stopped the verification of every session), as did the
 * viewer's queries over all sessions, export, summary, report and cleanup; serve listed it as a
 * session. Now verify reports it (`session_id_invalid`, naming the file) and verifies everything
 * else; the readers leave it out.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditExporter, AuditLogger, AuditViewer, cleanupSessions, verifyAuditLog } from "../../src/index.js";
import { invalidSessionFiles, listSessionIds } from "../../src/sink/files.js";
import { startServer } from "../../src/serve/server.js";
import { cleanupTmp, readLinesOf, tmpProject } from "../helpers/index.js";
import { runCli } from "../cli/helpers.js";

afterAll(cleanupTmp);

/** Two finalized sessions, "a" and "b", of 3 tool records each. */
async function twoSessions(): Promise<string> {
  const projectPath = tmpProject("audit-badsid-");
  let dir = "";
  for (const sessionId of ["a", "b"]) {
    const logger = new AuditLogger({ sessionId, projectPath, durability: "sync", autoCleanup: false });
    for (let i = 0; i < 3; i++) logger.logToolUsage({ toolName: "t", operation: "op", parameters: { i }, result: { ok: true } });
    await logger.finalizeSession();
    dir = logger.auditDir;
  }
  return dir;
}

/** The planted files: every way an invalid id came in. */
const PLANTS: Record<string, string> = {
  // an empty session file named for "x.1"
  "session_x.1.json": "{}",
  // a session file named for ".."
  "session_...json": "{}",
  // a chain file whose first record names "x.1" (its name could be segment 1 of "x", or the active file of "x.1")
  "errors_x.1.jsonl": '{"id":"e","type":"error","sessionId":"x.1"}\n',
  // a file named like segment 1 of session "a" whose first record names "a.1"
  "tool_usage_a.1.jsonl": '{"id":"f","type":"tool_usage","sessionId":"a.1"}\n',
};

function plant(dir: string): void {
  for (const [name, text] of Object.entries(PLANTS)) fs.writeFileSync(path.join(dir, name), text);
}

describe("a file naming an invalid session id", () => {
  it("verify reports each one (session_id_invalid, naming the file) and checks every other record", async () => {
    const dir = await twoSessions();
    plant(dir);
    // and real damage in session b, which must still be found
    const b = path.join(dir, "tool_usage_b.jsonl");
    const lines = readLinesOf(b);
    lines[1] = lines[1]!.replace('"op"', '"OP"');
    fs.writeFileSync(b, lines.join("\n") + "\n");

    const report = await verifyAuditLog(dir);
    expect(report.ok).toBe(false);
    const invalid = report.problems.filter((p) => p.kind === "session_id_invalid");
    expect(invalid.map((p) => p.file).sort()).toEqual(Object.keys(PLANTS).sort());
    expect(invalid.find((p) => p.file === "errors_x.1.jsonl")?.detail).toContain('"x.1"');
    expect([...report.sessions].sort()).toEqual(["a", "b"]);
    // 3 tool records and the audit_event chain of each session
    expect(report.recordsChecked).toBe((await verifyAuditLog(await twoSessions())).recordsChecked);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "record_modified", file: "tool_usage_b.jsonl" }));

    // one session: only the files named like that session's
    const a = await verifyAuditLog(dir, { sessionId: "a" });
    expect(a.problems.filter((p) => p.kind === "session_id_invalid").map((p) => p.file)).toEqual(["tool_usage_a.1.jsonl"]);

    const cli = await runCli(["verify", dir, "--json"]);
    expect(cli.stderr).toBe("");
    expect(cli.code).toBe(1);
    expect((JSON.parse(cli.stdout) as { problems: Array<{ kind: string; file: string }> }).problems.filter((p) => p.kind === "session_id_invalid").map((p) => p.file).sort()).toEqual(Object.keys(PLANTS).sort());
  });

  it("listSessionIds leaves them out, and the readers that list sessions do not throw", async () => {
    const dir = await twoSessions();
    plant(dir);
    expect(listSessionIds(dir)).toEqual(["a", "b"]);
    expect(invalidSessionFiles(dir).map((f) => [f.name, f.sessionId])).toEqual([
      ["errors_x.1.jsonl", "x.1"],
      ["session_...json", ".."],
      ["session_x.1.json", "x.1"],
      ["tool_usage_a.1.jsonl", "a.1"],
    ]);

    const viewer = new AuditViewer({ auditPath: dir });
    expect((await viewer.listSessions()).map((s) => s.sessionId).sort()).toEqual(["a", "b"]);
    expect(await viewer.getToolUsages({ limit: 100 })).toHaveLength(6);
    await viewer.generateAnalyticsReport();

    const out = path.join(tmpProject("audit-badsid-out-"), "all.json");
    await new AuditExporter({ auditPath: dir }).exportToJson(out);
    expect(fs.readFileSync(out, "utf8")).not.toContain("x.1");

    // (every file made old: only a, b are sessions to remove; the planted files stay)
    const old = new Date("2020-01-01");
    for (const n of fs.readdirSync(dir)) if (fs.statSync(path.join(dir, n)).isFile()) fs.utimesSync(path.join(dir, n), old, old);
    const dry = cleanupSessions(dir, { maxLogAgeDays: 1, dryRun: true, now: Date.parse("2030-01-01") });
    expect(dry.removed.map((e) => e.sessionId).sort()).toEqual(["a", "b"]);

    const server = await startServer({ auditPath: dir, port: 0 });
    try {
      const get = (p: string) => fetch(`http://${server.host}:${server.port}${p}`, { headers: { authorization: `Bearer ${server.token}` } });
      const r = await get("/api/sessions");
      expect(r.status).toBe(200);
      expect(((await r.json()) as { sessions: Array<{ sessionId: string }> }).sessions.map((s) => s.sessionId).sort()).toEqual(["a", "b"]);
      const integrity = await get("/api/sessions/a/integrity");
      expect(integrity.status).toBe(200);
      expect(((await integrity.json()) as { problems: Array<{ kind: string; file: string }> }).problems).toContainEqual(expect.objectContaining({ kind: "session_id_invalid", file: "tool_usage_a.1.jsonl" }));
    } finally {
      await server.close();
    }

    const tail = await runCli(["tail", dir]);
    expect(tail.stderr).toBe("");
    expect(tail.code).toBe(0);
    // (they give their numbers, and say that the directory does not verify, as export does: the
    // planted files are problems of verify; since 2026-12-05)
    for (const args of [["summary", dir], ["report", dir]]) {
      const r = await runCli(args);
      expect(r.stderr, args[0]).toMatch(new RegExp(`^audit-logger ${args[0]}: the logs do not verify \\(\\d+ problems?; [^)]*tool_usage_a\\.1\\.jsonl`));
      expect(r.stdout, args[0]).toMatch(/tool +\d/);
      expect(r.code, args[0]).toBe(1);
    }
  });
});
