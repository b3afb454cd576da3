/**
 * Lines and files longer than anything the kit writes, planted in an audit directory: a line
 * past V8's longest string (MAX_LINE_BYTES, ~512 MiB), as a sparse file that takes a few KiB on
 * disk. Until 2026-12-05 every reader held such a line whole: `summary`, `report`, `tail`,
 * `export` and the viewer's pages failed with ERR_STRING_TOO_LONG (no AUDIT_ code) after ~20 s and
 * 1.3 GB, and a 5 GiB one took 5 GB of memory and 100 s before failing (found by review). Now such
 * a line is passed over, never held, and counted as a line that is not a record.
 */
import { constants } from "node:buffer";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { LineSplitter } from "../../src/reader/lines.js";
import { startServer } from "../../src/serve/server.js";
import { runCli } from "../cli/helpers.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterAll(cleanupTmp);

describe("LineSplitter with a line longer than its limit", () => {
  it("gives an empty line carrying the length for it, holds none of it, and splits the lines around it as before", () => {
    const split = new LineSplitter(true, 8);
    const text = `ab\n${"x".repeat(20)}\ncd\n${"y".repeat(9)}\nefgh12\n${"z".repeat(30)}`;
    const got: Array<string | number> = [];
    let maxPending = 0;
    for (let i = 0; i < text.length; i += 3) {
      split.feed(Buffer.from(text.slice(i, i + 3)));
      while (split.next()) got.push(split.oversizedLength ?? split.data.toString("utf8", split.start, split.end));
      maxPending = Math.max(maxPending, (split as unknown as { held: number }).held);
    }
    const rest = split.rest();
    expect(rest?.length).toBe(0);
    got.push(split.oversizedLength!);
    expect(got).toEqual(["ab", 20, "cd", 9, "efgh12", 30]);
    expect(maxPending).toBeLessThanOrEqual(8);
  });
});

/** Appends `n` zero bytes to `file` without writing them (a sparse hole), then `tail`. */
function appendHole(file: string, n: number, tail = ""): void {
  const size = fs.statSync(file).size;
  fs.truncateSync(file, size + n);
  if (tail) fs.appendFileSync(file, tail);
}

describe("a planted line past MAX_LINE_BYTES (sparse: a few KiB on disk)", () => {
  it("summary, tail, export and verify answer with the other records and say what they skipped; the viewer's pages answer", async () => {
    const projectPath = tmpProject("audit-oversized-");
    const auditPath = path.join(projectPath, "audit_logs");
    const logger = new AuditLogger({ sessionId: "s1", projectPath, fullContentLogging: true });
    const chatId = logger.logChatInteraction({ prompt: "the prompt", response: "the response", model: "gpt-4o", inputTokens: 3, outputTokens: 2 });
    logger.logToolUsage({ toolName: "search", operation: "run", durationSeconds: 0.1 });
    logger.logError({ errorType: "E", message: "kept error" });
    logger.logPerformanceMetric({ metricName: "m", value: 1, unit: "ms" });
    await logger.finalizeSession();
    const other = new AuditLogger({ sessionId: "s2", projectPath });
    other.logError({ errorType: "E2", message: "other session" });
    await other.finalizeSession();

    // (MAX_LINE_BYTES is V8's longest string)
    const huge = constants.MAX_STRING_LENGTH + 1;
    // a whole (terminated) line in a chain file, then a torn one after it; a content file
    appendHole(path.join(auditPath, "errors_s1.jsonl"), huge, "\n");
    appendHole(path.join(auditPath, "errors_s1.jsonl"), 1, "{");
    const prompt = fs.readdirSync(path.join(auditPath, "full_interactions")).find((n) => n.startsWith("prompt_"))!;
    appendHole(path.join(auditPath, "full_interactions", prompt), huge);
    // and a session file longer than the kit writes
    appendHole(path.join(auditPath, "session_s2.json"), 64 * 1024 * 1024 + 1); // SESSION_FILE_MAX_BYTES

    const summary = await runCli(["summary", auditPath, "--json"]);
    // (given, and exit 1: the logs do not verify; since 2026-12-05 summary says so, as export does)
    expect(summary.code, summary.stderr).toBe(1);
    expect(summary.stderr).toMatch(/^audit-logger summary: the logs do not verify/);
    const sessions = JSON.parse(summary.stdout) as Array<{ sessionId: string; skippedLines: number; counts: Record<string, number>; verification: { ok: boolean; problems: Array<{ kind: string; file: string }> } }>;
    const s1 = sessions.find((s) => s.sessionId === "s1")!;
    expect(s1.verification.ok).toBe(false);
    expect(s1.verification.problems).toContainEqual(expect.objectContaining({ kind: "malformed_line", file: "errors_s1.jsonl" }));
    expect(s1.skippedLines).toBe(2); // the long line and the torn one
    expect(s1.counts.error).toBe(1);
    expect(sessions.map((s) => s.sessionId).sort()).toEqual(["s1", "s2"]);

    const tail = await runCli(["tail", auditPath, "--kind", "error", "--session", "s1"]);
    expect(tail.code, tail.stderr).toBe(0);
    expect(tail.stdout).toContain("kept error");
    expect(tail.stdout).toContain(`(unreadable line) "[a line of ${huge} bytes: too long to read]"`);

    const out = path.join(tmpProject("audit-oversized-out-"), "all.json");
    const exp = await runCli(["export", auditPath, "--format", "json", "--include-content", "--out", out]);
    // (written, and exit 1: the logs do not verify, malformed_line; since 2026-12-05 export says so)
    expect(exp.code, exp.stderr).toBe(1);
    expect(exp.stderr).toContain("2 lines of the logs are not a whole record");
    expect(exp.stderr).toMatch(/the logs do not verify[^]*malformed_line errors_s1\.jsonl/);
    const doc = JSON.parse(fs.readFileSync(out, "utf8")) as { records: Record<string, Array<{ id: string; message?: string; content?: { prompt: string | null; problems: string[] } }>> };
    expect(doc.records.errors!.map((r) => r.message).sort()).toEqual(["kept error", "other session"]);
    const chat = doc.records.chat_interactions!.find((r) => r.id === chatId)!;
    expect(chat.content!.prompt).toBeNull();
    // (longer than its record says: not read at all since 2026-12-05; before, read whole and found
    // too long to show as text)
    expect(chat.content!.problems.join("; ")).toContain(`differs from the digest in its record (${huge + 10} bytes, the record says 10): not read`);

    const verify = await runCli(["verify", auditPath, "--json"]);
    expect(verify.code, verify.stderr).toBe(1);
    const v = JSON.parse(verify.stdout) as { problems: Array<{ kind: string; file: string; detail: string }>; notes: Array<{ kind: string; file: string }> };
    expect(v.problems).toContainEqual(expect.objectContaining({ kind: "malformed_line", file: "errors_s1.jsonl", detail: expect.stringContaining(`is ${huge} bytes long`) }));
    expect(v.notes).toContainEqual(expect.objectContaining({ kind: "torn_final_line", file: "errors_s1.jsonl" }));

    const server = await startServer({ auditPath });
    try {
      const get = async (p: string) => {
        const r = await fetch(new URL(p, server.baseUrl), { headers: { authorization: `Bearer ${server.token}` } });
        return { status: r.status, body: await r.text() };
      };
      const list = await get("/api/sessions");
      expect(list.status, list.body).toBe(200);
      const listed = (JSON.parse(list.body) as { sessions: Array<{ sessionId: string; status: string }> }).sessions;
      expect(listed.find((s) => s.sessionId === "s2")?.status).toBe("unknown");
      // (the chat's own page and the export with content read the content file: as `export` above)
      for (const p of ["stats", "timeline", "integrity", "export/errors.csv"]) {
        const r = await get(`/api/sessions/s1/${p}`);
        expect(r.status, `${p}: ${r.body.slice(0, 300)}`).toBe(200);
      }
      const t = JSON.parse((await get("/api/sessions/s1/timeline?kinds=error")).body) as { rows: Array<{ label: string }> };
      expect(t.rows).toHaveLength(1);
    } finally {
      await server.close();
    }
  }, 300_000);

  it("the logger resuming a session cuts a torn final line longer than MAX_LINE_BYTES without reading it, and records the repair (it failed with ERR_STRING_TOO_LONG)", async () => {
    const projectPath = tmpProject("audit-oversized-resume-");
    const auditPath = path.join(projectPath, "audit_logs");
    const first = new AuditLogger({ sessionId: "r1", projectPath, fullContentLogging: false });
    first.logToolUsage({ toolName: "search", operation: "before" });
    await first.finalizeSession();
    const file = path.join(auditPath, "tool_usage_r1.jsonl");
    const whole = fs.statSync(file).size;
    const huge = constants.MAX_STRING_LENGTH + 1;
    appendHole(file, huge); // a crash's torn tail, no newline
    const resumed = new AuditLogger({ sessionId: "r1", projectPath, fullContentLogging: false });
    resumed.logToolUsage({ toolName: "search", operation: "after" });
    await resumed.finalizeSession();
    expect(fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { operation: string }).operation)).toEqual(["before", "after"]);
    expect(fs.statSync(file).size).toBeGreaterThan(whole);
    expect(fs.statSync(file).size).toBeLessThan(whole + 4096);
    const errors = fs.readFileSync(path.join(auditPath, "errors_r1.jsonl"), "utf8");
    expect(errors).toContain(`Cut a torn final line (${huge} bytes) from tool_usage_r1.jsonl`);
    const verify = await runCli(["verify", auditPath, "--json"]);
    expect(verify.code, verify.stdout).toBe(0);
  }, 120_000);
});
