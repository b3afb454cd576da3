/**
 * The `audit-logger` command over the PostgreSQL store (`--postgres <url> [--schema]`), run as a
 * child process against the real server, each test in its own schema. The records are written
 * once by the real AuditLogger to its files and to a PostgresSink, so every command's output over
 * the store can be compared with the same command over the files.
 */
import fs from "node:fs";
import path from "node:path";
import pgDriver from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuditLogger, auditContext } from "../../src/index.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { AuditConfigError } from "../../src/errors.js";
import { AuditExporter } from "../../src/export/exporter.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { dropSchema, freePort, freshSchema, PG_URL, sql } from "../fixtures/postgres/db.js";
import { collect, runCli, startCli, waitFor } from "./helpers.js";

const schemas: string[] = [];

function schemaFor(tag: string): string {
  const s = freshSchema(tag);
  schemas.push(s);
  return s;
}

/** Two sessions with every kind (rotated files for one), in the files and in the store. */
async function populate(schema: string): Promise<{ projectPath: string; auditDir: string; total: number }> {
  const projectPath = tmpProject("audit-cli-pg-");
  let total = 0;
  for (const sessionId of ["alpha", "beta"]) {
    const logger = new AuditLogger({ sessionId, projectPath, rotation: { size: "4k" }, sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    const n = sessionId === "alpha" ? 30 : 8;
    for (let i = 0; i < n; i++) {
      logger.logChatInteraction({
        prompt: `question ${i}, "quoted"`,
        response: `answer ${i}`,
        model: i % 3 ? "gpt-4o" : "claude-3-5-haiku",
        interactionType: i % 2 ? "chat" : "api_request",
        inputTokens: 100 + i,
        outputTokens: 20 + i,
        durationSeconds: ((i * 37) % 23) / 10,
        persona: i % 4 ? undefined : "planner",
        ...(i % 7 === 3 ? { success: false, errorMessage: "rate limited" } : {}),
      });
      logger.logToolUsage({ toolName: i % 2 ? "search" : "calc", operation: "run", parameters: { i }, result: { r: i * 2 }, durationSeconds: (i % 5) / 100, success: i % 5 !== 0 });
      if (i % 5 === 0) logger.logPersonaActivity({ personaName: "planner", activityType: "plan", durationSeconds: 1 });
      if (i % 6 === 0) logger.logFileOperation({ operation: "read", filePath: `/data/${i}.csv`, fileSize: 100 * i });
      if (i % 4 === 0) logger.logPerformanceMetric({ metricName: "rank_ms", value: i * 1.5, unit: "ms" });
      if (i % 9 === 0) logger.logError({ errorType: "TimeoutError", message: `slow ${i}`, severity: i % 2 ? "error" : "warning" });
    }
    total += (await logger.finalizeSession()).totalRecords;
  }
  return { projectPath, auditDir: path.join(projectPath, "audit_logs"), total };
}

const pg = (schema: string): string[] => ["--postgres", PG_URL, "--schema", schema];

/**
 * A session summary without `endTime` and `durationSeconds`. Known core gap: PostgresSink marks a
 * session finalized but does not store the final session file (the logger writes that file after
 * closing its sinks), so over the store a finalized session ends at its last record, not at the
 * moment finalizeSession() ran.
 */
function withoutEnd<T extends object>(summary: T): Omit<T, "endTime" | "durationSeconds"> {
  const { endTime: _e, durationSeconds: _d, ...rest } = summary as T & { endTime?: unknown; durationSeconds?: unknown };
  return rest;
}

afterEach(async () => {
  for (const s of schemas.splice(0)) await dropSchema(s);
});
afterAll(cleanupTmp);

describe("audit-logger over --postgres: the same answers as over the files", () => {
  let schema: string;
  let trail: Awaited<ReturnType<typeof populate>>;
  const shared: string[] = [];
  beforeAll(async () => {
    schema = freshSchema("cli");
    shared.push(schema);
    trail = await populate(schema);
  });
  afterAll(async () => {
    for (const s of shared) await dropSchema(s);
  });

  it("summary: JSON identical, text identical but for the source line", async () => {
    const [fromPg, fromFiles] = await Promise.all([runCli(["summary", ...pg(schema), "--json"]), runCli(["summary", trail.auditDir, "--json"])]);
    expect(fromPg.code, fromPg.stderr).toBe(0);
    expect(fromFiles.code, fromFiles.stderr).toBe(0);
    const summaries = JSON.parse(fromPg.stdout) as Array<{ sessionId: string; totalRecords: number; status: string }>;
    expect(summaries.map((s) => s.sessionId).sort()).toEqual(["alpha", "beta"]);
    expect(summaries.reduce((n, s) => n + s.totalRecords, 0)).toBe(trail.total);
    expect(summaries.every((s) => s.status === "finalized")).toBe(true);
    const want = JSON.parse(fromFiles.stdout) as typeof summaries;
    expect(summaries).toEqual(want);
    // the gap above, at its smallest: the store's end is the last record's time, never later than the file's
    for (const [i, s] of summaries.entries()) expect((s as unknown as { endTime: string }).endTime <= (want[i] as unknown as { endTime: string }).endTime).toBe(true);

    const [textPg, textFiles] = await Promise.all([runCli(["summary", ...pg(schema), "--session", "beta"]), runCli(["summary", trail.auditDir, "--session", "beta"])]);
    expect(textPg.code, textPg.stderr).toBe(0);
    const [headPg, ...restPg] = textPg.stdout.split("\n");
    const [headFiles, ...restFiles] = textFiles.stdout.split("\n");
    expect(headPg).toBe(`1 session in ${PG_URL} schema ${schema}`);
    expect(headFiles).toBe(`1 session in ${trail.auditDir}`);
    const noPeriod = (lines: string[]) => lines.filter((l) => !l.startsWith("  period "));
    expect(noPeriod(restPg)).toEqual(noPeriod(restFiles));
    expect(noPeriod(restPg).length).toBe(restPg.length - 1);
    expect(textPg.stdout).toContain("Session beta (finalized)");
  });

  it("report: JSON identical (all sessions, one session, a time window), text identical but for the title", async () => {
    const variants: string[][] = [[], ["--session", "alpha"], ["--since", "2000-01-01T00:00:00Z", "--until", "2999-01-01T00:00:00Z"]];
    for (const extra of variants) {
      const [fromPg, fromFiles] = await Promise.all([runCli(["report", ...pg(schema), "--json", ...extra]), runCli(["report", trail.auditDir, "--json", ...extra])]);
      expect(fromPg.code, fromPg.stderr).toBe(0);
      const { generatedAt, ...report } = JSON.parse(fromPg.stdout) as { generatedAt: string; totals: { records: number } };
      const want = JSON.parse(fromFiles.stdout) as Record<string, unknown>;
      delete want.generatedAt;
      expect(Date.parse(generatedAt)).toBeGreaterThan(0);
      expect(report.totals.records).toBeGreaterThan(0);
      expect(report, extra.join(" ")).toEqual(want);
    }
    const [textPg, textFiles] = await Promise.all([runCli(["report", ...pg(schema)]), runCli(["report", trail.auditDir])]);
    expect(textPg.code, textPg.stderr).toBe(0);
    expect(textPg.stdout.split("\n")[0]).toBe(`Audit report for ${PG_URL} schema ${schema}`);
    expect(textPg.stdout.split("\n").slice(1)).toEqual(textFiles.stdout.split("\n").slice(1));
    expect(textPg.stdout).toContain("Models (latency in seconds)");
  });

  it("export: CSV files byte-identical, the JSON document identical but for its source and time, a complete directory", async () => {
    const out = tmpProject("audit-cli-pg-out-");
    const csvPg = path.join(out, "csv-pg");
    const csvFiles = path.join(out, "csv-files");
    const [a, b] = await Promise.all([
      runCli(["export", ...pg(schema), "--format", "csv", "--out", csvPg]),
      runCli(["export", trail.auditDir, "--format", "csv", "--out", csvFiles]),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const names = fs.readdirSync(csvFiles).sort();
    expect(fs.readdirSync(csvPg).sort()).toEqual(names);
    expect(names.length).toBe(6);
    for (const n of names) expect(fs.readFileSync(path.join(csvPg, n), "utf8"), n).toBe(fs.readFileSync(path.join(csvFiles, n), "utf8"));
    expect(fs.readFileSync(path.join(csvPg, "tool_usage.csv"), "utf8").trimEnd().split("\n").length).toBe(1 + 30 + 8);

    const jsonPg = path.join(out, "pg.json");
    const jsonFiles = path.join(out, "files.json");
    const [c, d] = await Promise.all([
      runCli(["export", ...pg(schema), "--format", "json", "--out", jsonPg, "--session", "alpha"]),
      runCli(["export", trail.auditDir, "--format", "json", "--out", jsonFiles, "--session", "alpha"]),
    ]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/^wrote \S*\/pg\.json \(\d+ records\)\n$/);
    expect(d.code, d.stderr).toBe(0);
    const strip = (file: string) => {
      const doc = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
      const { source, exportedAt, ...rest } = doc;
      rest.sessions = (rest.sessions as object[]).map(withoutEnd); // see withoutEnd
      return { source, exportedAt, rest };
    };
    const p = strip(jsonPg);
    const f = strip(jsonFiles);
    expect(p.source).toBe(`postgres:${schema}@127.0.0.1:5432/test`); // no user, no password
    expect(p.rest).toEqual(f.rest);
    expect(JSON.stringify(p.rest)).toContain("slow 27");
    expect(JSON.stringify(p.rest)).not.toContain("question 29"); // no content without --include-content

    // content: not in the store; read from an instance's directory with --content-dir
    const withPg = path.join(out, "content-pg.json");
    const withFiles = path.join(out, "content-files.json");
    const noDir = path.join(out, "content-none.json");
    const [g, h, i] = await Promise.all([
      runCli(["export", ...pg(schema), "--format", "json", "--out", withPg, "--include-content", "--content-dir", trail.projectPath]),
      runCli(["export", trail.auditDir, "--format", "json", "--out", withFiles, "--include-content"]),
      runCli(["export", ...pg(schema), "--format", "json", "--out", noDir, "--include-content", "--session", "beta"]),
    ]);
    for (const r of [g, h, i]) expect(r.code, r.stderr).toBe(0);
    expect(strip(withPg).rest).toEqual(strip(withFiles).rest);
    const chats = (strip(withPg).rest.records as { chat_interactions: Array<{ content: { prompt: string | null; verified: boolean } }> }).chat_interactions;
    expect(chats.map((c) => c.content.prompt)).toContain('question 29, "quoted"');
    expect(chats.every((c) => c.content.verified)).toBe(true);
    const missing = (strip(noDir).rest.records as { chat_interactions: Array<{ promptPreview: string; content: { prompt: string | null; verified: boolean; problems: string[] } }> }).chat_interactions;
    expect(missing).toHaveLength(8);
    expect(missing[0]!.promptPreview).toBe('question 0, "quoted"');
    expect(missing.every((c) => c.content.prompt === null && !c.content.verified && c.content.problems.some((p) => p.endsWith("is missing")))).toBe(true);

    const dir = path.join(out, "complete");
    const e = await runCli(["export", ...pg(schema), "--format", "dir", "--out", dir]);
    expect(e.code, e.stderr).toBe(0);
    const checksums = JSON.parse(fs.readFileSync(path.join(dir, "checksums.json"), "utf8")) as unknown;
    expect(JSON.stringify(checksums)).toContain("tool_usage.csv");
    expect(fs.readFileSync(path.join(dir, "tool_usage.csv"), "utf8")).toBe(fs.readFileSync(path.join(csvFiles, "tool_usage.csv"), "utf8"));
  });

  it("export with --content-dir writes nothing inside that audit directory, as with a <dir> (its decrypted content landed beside the logs: review 2026-12-05)", async () => {
    const link = path.join(tmpProject("audit-cli-pg-ln-"), "to-logs");
    fs.symlinkSync(trail.auditDir, link);
    const before = fs.readdirSync(trail.auditDir).sort();
    for (const [format, out] of [
      ["json", path.join(trail.auditDir, "leak.json")],
      ["json", path.join(link, "leak.json")],
      ["csv", path.join(trail.auditDir, "csv")],
      ["dir", path.join(trail.auditDir, "export")],
      ["dir", trail.projectPath],
    ] as const) {
      const r = await runCli(["export", ...pg(schema), "--format", format, "--out", out, "--include-content", "--content-dir", trail.projectPath]);
      expect(r.code, `${format} ${out}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain("option --out:");
      expect(r.stderr).toMatch(/(is inside|contains) the audit directory/);
    }
    expect(fs.readdirSync(trail.auditDir).sort()).toEqual(before);
    // the library refuses it too
    const exporter = new AuditExporter({ postgres: { connectionString: PG_URL, schema, contentDir: trail.auditDir } });
    await expect(exporter.exportToJson(path.join(trail.auditDir, "leak.json"), { includeFullContent: true })).rejects.toBeInstanceOf(AuditConfigError);
    await expect(exporter.exportToolUsagesToCsv(path.join(link, "t.csv"))).rejects.toBeInstanceOf(AuditConfigError);
    await expect(exporter.exportCompleteAuditToDirectory(trail.projectPath)).rejects.toBeInstanceOf(AuditConfigError);
    expect(fs.readdirSync(trail.auditDir).sort()).toEqual(before);
    // elsewhere it is written
    const ok = path.join(tmpProject("audit-cli-pg-ok-"), "all.json");
    await exporter.exportToJson(ok, { includeFullContent: true });
    expect(fs.readFileSync(ok, "utf8")).toContain('question 29, \\"quoted\\"');
  });

  it("tail: the newest records of the store, as the files have them", async () => {
    const [fromPg, fromFiles] = await Promise.all([
      runCli(["tail", ...pg(schema), "--session", "alpha", "--kind", "tool_usage", "-n", "5", "--json"]),
      runCli(["tail", trail.auditDir, "--session", "alpha", "--kind", "tool_usage", "-n", "5", "--json"]),
    ]);
    expect(fromPg.code, fromPg.stderr).toBe(0);
    expect(fromPg.stdout.trimEnd().split("\n")).toHaveLength(5);
    expect(fromPg.stdout).toBe(fromFiles.stdout); // the exact stored lines
    expect((JSON.parse(fromPg.stdout.trimEnd().split("\n")[4]!) as { seq: number }).seq).toBe(30);

    const [allPg, allFiles] = await Promise.all([runCli(["tail", ...pg(schema), "-n", "12", "--json"]), runCli(["tail", trail.auditDir, "-n", "12", "--json"])]);
    expect(allPg.code, allPg.stderr).toBe(0);
    const lines = allPg.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(12);
    // the 12 newest by time; records of one millisecond may tie, so compare the times
    const ts = lines.map((l) => (JSON.parse(l) as { timestamp: string }).timestamp);
    const fileTs = allFiles.stdout.trimEnd().split("\n").map((l) => (JSON.parse(l) as { timestamp: string }).timestamp);
    expect(ts).toEqual([...ts].sort());
    expect(ts).toEqual([...fileTs].sort());
    expect(lines.every((l) => (JSON.parse(l) as { sessionId: string }).sessionId === "beta")).toBe(true); // written last

    const text = await runCli(["tail", ...pg(schema), "--session", "beta", "--kind", "chat_interaction", "-n", "1"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("beta#8");
    expect(text.stdout).toContain('"question 7, \\"quoted\\""');
  });

  it("tail over an encrypted store: per-user keys are opened with --content-dir (the writer's directory), and without it from the store's key table (schema version 6); --content-dir with a <dir> is bad usage", async () => {
    const encSchema = schemaFor("tailenc");
    const projectPath = tmpProject("audit-cli-pg-enc-");
    const logger = new AuditLogger({ sessionId: "enc", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY, sinks: [new PostgresSink({ connectionString: PG_URL, schema: encSchema })] });
    auditContext.run({ userId: "alice" }, () => logger.logChatInteraction({ prompt: "alice's question", response: "an answer" }));
    await logger.finalizeSession();
    const keyFile = path.join(projectPath, "master.key");
    fs.writeFileSync(keyFile, TEST_KEY);
    const args = ["tail", ...pg(encSchema), "--kind", "chat_interaction", "--key-file", keyFile];
    const opened = await runCli([...args, "--content-dir", logger.auditDir]);
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toContain("alice's question");
    const fromStore = await runCli(args);
    expect(fromStore.code, fromStore.stderr).toBe(0);
    expect(fromStore.stdout).toContain("alice's question");
    expect(fromStore.stdout).not.toContain("cannot decrypt");
    const bad = await runCli(["tail", logger.auditDir, "--content-dir", logger.auditDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--content-dir only applies with --postgres");
    const notAudit = await runCli([...args, "--content-dir", tmpProject("audit-cli-pg-home-")]);
    expect(notAudit.code).toBe(2);
    expect(notAudit.stderr).toContain("is not an audit directory");
  });

  it("verify: exit 0 over the whole store and one session", async () => {
    const all = await runCli(["verify", ...pg(schema), "--json"]);
    expect(all.code, all.stderr).toBe(0);
    const report = JSON.parse(all.stdout) as { ok: boolean; recordsChecked: number; sessions: string[]; problems: unknown[] };
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.recordsChecked).toBe(trail.total);
    expect(report.sessions).toEqual(["alpha", "beta"]);
    const one = await runCli(["verify", ...pg(schema), "--session", "beta"]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(new RegExp(`^OK \\d+ records in 1 session \\(${PG_URL.replace(/[./]/g, "\\$&")} schema ${schema}\\)`, "m"));
  });
});

describe("audit-logger verify --postgres after tampering", () => {
  it("exits 1 naming the edited record and the deleted ones", async () => {
    const schema = schemaFor("tamper");
    await populate(schema);
    const before = await runCli(["verify", ...pg(schema)]);
    expect(before.code, before.stdout + before.stderr).toBe(0);
    const q = `"${schema}".audit_records`;
    // the append-only trigger would refuse this: switched off, as an attacker with DDL rights could
    await sql(`ALTER TABLE ${q} DISABLE TRIGGER USER`);
    await sql(`UPDATE ${q} SET line = replace(line, 'answer 4"', 'answer 5"') WHERE session_id = 'alpha' AND kind = 'chat_interaction' AND seq = 5`);
    await sql(`DELETE FROM ${q} WHERE session_id = 'beta' AND kind = 'tool_usage' AND seq > 6`);
    await sql(`ALTER TABLE ${q} ENABLE TRIGGER USER`);
    const after = await runCli(["verify", ...pg(schema), "--json"]);
    expect(after.code, after.stderr).toBe(1);
    const report = JSON.parse(after.stdout) as { ok: boolean; problems: Array<{ kind: string; seq?: number; file: string }> };
    expect(report.ok).toBe(false);
    const found = report.problems.map((p) => `${p.kind}@${p.seq}`);
    expect(found).toContain("record_modified@5");
    expect(found).toContain("checkpoint_truncated@8");
    const text = await runCli(["verify", ...pg(schema), "--session", "alpha"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/PROBLEM record_modified .*session=alpha kind=chat_interaction seq 5/);
    expect(text.stdout).toMatch(/^FAILED /m);
  });
});

// Found 2026-12-05: over the files, summary and report verify what they read (exit 1 and an
// integrity line when it fails); over --postgres they did not, and counted an edited row as sound.
describe("audit-logger summary and report --postgres over a tampered store", () => {
  it("print their numbers all the same, say which session fails (text, --json, stderr) and exit 1; a session that verifies exits 0", async () => {
    const schema = schemaFor("tamper_read");
    await populate(schema);
    const sound = await runCli(["summary", ...pg(schema), "--json"]);
    expect(sound.code, sound.stderr).toBe(0);
    expect((JSON.parse(sound.stdout) as Array<{ verification: { ok: boolean } }>).map((s) => s.verification.ok)).toEqual([true, true]);

    const q = `"${schema}".audit_records`;
    await sql(`ALTER TABLE ${q} DISABLE TRIGGER USER`);
    await sql(`UPDATE ${q} SET line = replace(line, 'answer 4"', 'answer 5"') WHERE session_id = 'alpha' AND kind = 'chat_interaction' AND seq = 5`);
    await sql(`ALTER TABLE ${q} ENABLE TRIGGER USER`);

    const text = await runCli(["summary", ...pg(schema)]);
    expect(text.code, text.stderr).toBe(1);
    const alpha = text.stdout.slice(text.stdout.indexOf("Session alpha"));
    const beta = text.stdout.slice(text.stdout.indexOf("Session beta"), text.stdout.indexOf("Session alpha") > text.stdout.indexOf("Session beta") ? text.stdout.indexOf("Session alpha") : undefined);
    // (the edited line: its hash, and its columns and jsonb copy, which still say what was written)
    expect(alpha).toMatch(/integrity\s+FAILED verification: 2 problems \(record_modified, column_mismatch\) in postgres:.*session=alpha kind=chat_interaction/);
    expect(beta).toContain("Session beta");
    expect(beta).not.toContain("integrity");
    expect(text.stdout).toContain("records    "); // (the numbers are printed all the same)
    expect(text.stderr).toContain("audit-logger summary: the logs do not verify (2 problems in session alpha;");
    expect(text.stderr).toContain(`Run audit-logger verify --postgres ${PG_URL} --schema ${schema}`);

    const json = await runCli(["summary", ...pg(schema), "--json"]);
    expect(json.code).toBe(1);
    const bySession = new Map((JSON.parse(json.stdout) as Array<{ sessionId: string; verification: { ok: boolean; failedSessions: string[]; problems: Array<{ kind: string; seq?: number; sessionId?: string }> } }>).map((s) => [s.sessionId, s.verification]));
    expect(bySession.get("alpha")).toMatchObject({ ok: false, problemCount: 2, failedSessions: ["alpha"] });
    expect(bySession.get("alpha")!.problems).toEqual([
      { kind: "record_modified", seq: 5, sessionId: "alpha", file: expect.stringContaining("session=alpha kind=chat_interaction") },
      { kind: "column_mismatch", seq: 5, sessionId: "alpha", file: expect.stringContaining("session=alpha kind=chat_interaction") },
    ]);
    expect(bySession.get("beta")).toMatchObject({ ok: true, problems: [] });
    const onlyBeta = await runCli(["summary", ...pg(schema), "--session", "beta"]);
    expect(onlyBeta.code, onlyBeta.stderr).toBe(0);
    expect(onlyBeta.stderr).toBe("");

    const report = await runCli(["report", ...pg(schema)]);
    expect(report.code).toBe(1);
    expect(report.stdout.split("\n")[1]).toMatch(/^\s+integrity\s+FAILED verification: 2 problems in session alpha: these numbers come from logs that do not verify/);
    expect(report.stdout).toContain("Models (latency in seconds)");
    expect(report.stderr).toContain("audit-logger report: the logs do not verify (2 problems in session alpha;");
    const reportJson = await runCli(["report", ...pg(schema), "--json"]);
    expect(reportJson.code).toBe(1);
    expect((JSON.parse(reportJson.stdout) as { verification: unknown }).verification).toMatchObject({ ok: false, problemCount: 2, failedSessions: ["alpha"] });
    const reportBeta = await runCli(["report", ...pg(schema), "--session", "beta", "--json"]);
    expect(reportBeta.code, reportBeta.stderr).toBe(0);
    expect((JSON.parse(reportBeta.stdout) as { verification: unknown }).verification).toMatchObject({ ok: true });

    // export too (it exported the edited row with exit 0 and no word), of the whole store or of
    // one user's records; one session that verifies exports as before
    const outDir = tmpProject("audit-cli-pg-tamper-export-");
    const exported = await runCli(["export", ...pg(schema), "--format", "json", "--out", path.join(outDir, "all.json")]);
    expect(exported.code).toBe(1);
    expect(exported.stderr).toContain("audit-logger export: the logs do not verify (2 problems)");
    expect(exported.stderr).toContain(`run audit-logger verify --postgres ${PG_URL} --schema ${schema}`);
    expect(exported.stderr).toMatch(/record_modified postgres:.*session=alpha kind=chat_interaction seq 5/);
    expect(fs.existsSync(path.join(outDir, "all.json"))).toBe(true);
    const exportBeta = await runCli(["export", ...pg(schema), "--session", "beta", "--format", "json", "--out", path.join(outDir, "beta.json")]);
    expect(exportBeta.code, exportBeta.stderr).toBe(0);
  }, 120_000);
});

describe("audit-logger tail -f --postgres", () => {
  it("prints records stored after it started, each once, including a new session's; stops on SIGINT", async () => {
    const schema = schemaFor("follow");
    const projectPath = tmpProject("audit-cli-pg-follow-");
    const logger = new AuditLogger({ sessionId: "live", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    const historyId = logger.logToolUsage({ toolName: "history", operation: "op" });
    await logger.flush();
    await waitForRows(schema, 1);

    const child = startCli(["tail", ...pg(schema), "-f", "-n", "1", "--json"]);
    const out = collect(child);
    try {
      await waitFor(() => out.stdout().includes(historyId), 20_000, "the history line");
      const ids: string[] = [];
      for (let batch = 0; batch < 4; batch++) {
        for (let i = 0; i < 25; i++) ids.push(logger.logToolUsage({ toolName: "t", operation: "op", parameters: { batch, i } }));
        await logger.flush();
      }
      const errorId = logger.logError({ errorType: "LateError", message: "first error of this session" });
      await logger.finalizeSession();
      const other = new AuditLogger({ sessionId: "late", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
      const lateId = other.logPerformanceMetric({ metricName: "m", value: 1, unit: "ms" });
      await other.finalizeSession();

      const wanted = [historyId, ...ids, errorId, lateId];
      await waitFor(() => wanted.every((id) => out.stdout().includes(id)), 20_000, "every new record");
      await new Promise((r) => setTimeout(r, 600)); // a few more polls: nothing may come twice
      const printed = out.stdout().trimEnd().split("\n").map((l) => (JSON.parse(l) as { id: string }).id);
      expect(printed).toEqual(wanted);
    } finally {
      child.kill("SIGINT");
    }
    const r = await out.done;
    expect(r.code, r.stderr).toBe(0);
  });
});

describe("audit-logger tail -f --postgres, the connection lost", () => {
  it("goes on after the server ends its connection (a restart, a failover): says so on stderr, then prints every later record once", async () => {
    const schema = schemaFor("followlost");
    const projectPath = tmpProject("audit-cli-pg-lost-");
    const logger = new AuditLogger({ sessionId: "live", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    const first = logger.logToolUsage({ toolName: "t", operation: "before" });
    await logger.flush();
    await waitForRows(schema, 1);
    const child = startCli(["tail", ...pg(schema), "-f", "-n", "1", "--json"]);
    const out = collect(child);
    const ids = [first];
    try {
      await waitFor(() => out.stdout().includes(first), 20_000, "the history line");
      for (let round = 0; round < 3; round++) {
        // the CLI's poll waits on a lock, and the server ends its connection then, as at a
        // restart (an idle connection that ends is no failure: the pool opens another)
        const locker = new pgDriver.Client({ connectionString: PG_URL });
        await locker.connect();
        try {
          await locker.query("BEGIN");
          await locker.query(`LOCK TABLE "${schema}".audit_records IN ACCESS EXCLUSIVE MODE`);
          const waiting = `SELECT pid FROM pg_stat_activity WHERE application_name = 'audit-logger-cli' AND wait_event_type = 'Lock' AND query LIKE '%${schema}%'`;
          const end = Date.now() + 10_000;
          while ((await sql(waiting)).length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
          expect((await sql(`SELECT pg_terminate_backend(pid) AS t FROM (${waiting}) w`)).length).toBe(1);
        } finally {
          await locker.query("COMMIT");
          await locker.end();
        }
        for (let i = 0; i < 5; i++) ids.push(logger.logToolUsage({ toolName: "t", operation: "after", parameters: { round, i } }));
        await logger.flush();
        await waitFor(() => ids.every((id) => out.stdout().includes(id)), 20_000, `the records of round ${round}`);
      }
      await new Promise((r) => setTimeout(r, 600)); // a few more polls: nothing may come twice
      expect(out.stdout().trimEnd().split("\n").map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(ids);
      expect(out.stderr()).toMatch(/lost the connection to the store \(terminating connection due to administrator command\)/);
    } finally {
      child.kill("SIGINT");
      await logger.finalizeSession();
    }
    const r = await out.done;
    expect(r.code, r.stderr).toBe(0);
  });
});

async function waitForRows(schema: string, n: number): Promise<void> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const [r] = await sql<{ c: string }>(`SELECT count(*)::text AS c FROM "${schema}".audit_records`).catch(() => [{ c: "0" }]);
    if (Number(r!.c) >= n) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`timed out waiting for ${n} rows in ${schema}`);
}

describe("audit-logger --postgres: usage and connection errors", () => {
  it("an unreachable server exits 1 with a clear message that never shows the password", async () => {
    const port = await freePort();
    for (const cmd of ["summary", "report", "verify", "tail"]) {
      const r = await runCli([cmd, "--postgres", `postgres://postgres:s3cret-pw@127.0.0.1:${port}/test`]);
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`audit-logger ${cmd}: cannot read the PostgreSQL store at postgres://postgres:***@127.0.0.1:${port}/test`);
      expect(r.stderr).toContain("ECONNREFUSED");
      expect(r.stderr + r.stdout).not.toContain("s3cret-pw");
    }
    // pg takes the password as a query parameter too (it was printed; review, 2026-12-04)
    const q = await runCli(["summary", "--postgres", `postgres://postgres@127.0.0.1:${port}/test?password=s3cret-pw&sslpassword=s3cret-ssl&application_name=audit`]);
    expect(q.code, q.stderr).toBe(1);
    expect(q.stderr).toContain("cannot read the PostgreSQL store at postgres://postgres@127.0.0.1:");
    expect(q.stderr).toContain("application_name=audit");
    expect(q.stderr + q.stdout).not.toMatch(/s3cret/);
    const e = await runCli(["export", "--postgres", `postgres://postgres@127.0.0.1:${port}/test`, "--format", "json", "--out", path.join(tmpProject(), "x.json")]);
    expect(e.code, e.stderr).toBe(1);
    expect(e.stderr).toContain("cannot read the PostgreSQL store");
  });

  it("a schema without a store, or a missing database, exits 1 saying so", async () => {
    const missing = await runCli(["summary", ...pg("no_such_audit_schema")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no audit store in schema "no_such_audit_schema"');
    const noDb = await runCli(["verify", "--postgres", "postgres://postgres@127.0.0.1:5432/no_such_database_h7"]);
    expect(noDb.code).toBe(1);
    expect(noDb.stderr).toContain('database "no_such_database_h7" does not exist');
  });

  it("a malformed URL, a bad schema name, <dir> with --postgres, --schema alone: exit 2", async () => {
    const dir = tmpProject();
    const cases: Array<[string[], RegExp]> = [
      [["summary", "--postgres", "not a url"], /option --postgres must be a URL/],
      [["report", "--postgres", "http://127.0.0.1:5432/test"], /postgres:\/\/ or postgresql:\/\/ URL/],
      [["verify", "--postgres", "postgres://127.0.0.1:99999/test"], /option --postgres must be a URL/],
      [["tail", "--postgres"], /option --postgres needs a value/],
      [["summary", "--postgres", PG_URL, "--schema", "bad-name; drop"], /option --schema must be/],
      [["summary", dir, "--postgres", PG_URL], /give either a <dir> or --postgres <url>, not both/],
      [["export", dir, "--postgres", PG_URL, "--format", "json", "--out", path.join(dir, "..", "x.json")], /not both/],
      [["report", dir, "--schema", "audit_logger"], /--schema only applies with --postgres/],
      [["verify", "--postgres", PG_URL, "--public-key", "k.pem"], /--public-key applies to a <dir>/],
      [["export", dir, "--format", "json", "--out", path.join(dir, "..", "x.json"), "--content-dir", dir], /--content-dir only applies with --postgres/],
      [["export", "--postgres", PG_URL, "--format", "json", "--out", path.join(dir, "..", "x.json"), "--content-dir", path.join(dir, "nope")], /option --content-dir: ".*nope" does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(message);
    }
    // (review, 2026-12-04, fifth session: a keyword connection string, which is no URL, was echoed
    // in the message, password and all)
    const keyword = await runCli(["summary", "--postgres", "host=db.internal user=bob password=S3cretPW dbname=audit"]);
    expect(keyword.code).toBe(2);
    expect(keyword.stderr).toMatch(/option --postgres must be a URL/);
    expect(keyword.stderr).not.toContain("S3cretPW");
    // (twelve CLI runs, one after the other: 33 s under load 22 on 2 cores, 2026-12-06, past half
    // the 60 s it had; the timeout is for that work, ~15 s a run)
  }, 180_000);

  it("--help of each command and of the CLI mention --postgres", async () => {
    for (const cmd of ["summary", "report", "export", "verify", "tail"]) {
      const r = await runCli([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`audit-logger ${cmd} --postgres <url>`);
      expect(r.stdout).toContain("--schema <name>");
    }
    const top = await runCli(["--help"]);
    expect(top.stdout).toContain("--postgres <url>");
  });

  it("--session naming a session the store does not hold is bad usage", async () => {
    const schema = schemaFor("session");
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "only", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })] });
    logger.logError({ errorType: "E", message: "m" });
    await logger.finalizeSession();
    const r = await runCli(["report", ...pg(schema), "--session", "other"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no session "other"');
    expect(r.stderr).toContain("sessions there: only");
  });
});
