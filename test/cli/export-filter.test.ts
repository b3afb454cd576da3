/**
 * `audit-logger export --user/--since/--until`, as real child processes: a data-subject access
 * request answered from the command line. Until 2026-12-05 export took neither (exit 2, "unknown
 * option --user"): the only way to one user's records was the whole trail and a script.
 */
import fs from "node:fs";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { buildComplianceFixture, type ComplianceFixture } from "../serve/compliance-fixture.js";
import { runCli } from "./helpers.js";

let fx: ComplianceFixture;
let out: string;

beforeAll(async () => {
  fx = await buildComplianceFixture();
  out = tmpProject("audit-cli-export-filter-");
}, 90_000);

afterAll(() => cleanupTmp());

interface Doc {
  filter?: unknown;
  sessions: Array<{ sessionId: string }>;
  records: Record<string, Array<{ id: string; userId?: string; timestamp: string; promptPreview?: string }>>;
}

describe("audit-logger export --user / --since / --until", () => {
  it("--format json --user: every record of that user, of every kind and session, and only the sessions holding them", async () => {
    const file = path.join(out, "alice.json");
    const r = await runCli(["export", fx.auditPath, "--format", "json", "--out", file, "--user", "alice"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as Doc;
    expect(doc.filter).toEqual({ userId: "alice" });
    expect(doc.sessions.map((s) => s.sessionId).sort()).toEqual(["feb", "jan"]);
    const all = Object.values(doc.records).flat();
    expect(all.map((x) => x.id).sort()).toEqual([fx.ids.janAlice, fx.ids.janAliceTool, fx.ids.janAliceError, fx.ids.febAlice].sort());
    for (const x of all) expect(x.userId).toBe("alice");
    expect(doc.records.chat_interactions![0]!.promptPreview).toBe("[content withheld from export]");
  }, 60_000);

  it("--include-content --user to stdout: that user's prompts, nobody else's", async () => {
    const r = await runCli(["export", fx.auditPath, "--format", "json", "--out", "-", "--user", "bob", "--include-content", "--session", "jan"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(Object.values(doc.records).flat().map((x) => x.id)).toEqual([fx.ids.janBob]);
    expect(r.stdout).toContain("bob in january");
    expect(r.stdout).not.toContain("alice");
  }, 60_000);

  it("--format csv with a time range: since inclusive, until exclusive, one CSV per kind", async () => {
    const dir = path.join(out, "csv");
    const r = await runCli(["export", fx.auditPath, "--format", "csv", "--out", dir, "--since", "2025-01-15T11:00", "--until", "2025-02-15T10:00:00Z"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = (name: string) => parse(fs.readFileSync(path.join(dir, name), "utf8"), { columns: true }) as Array<{ id: string }>;
    // janBob is at 11:00:00.000 exactly (kept), the February chats at 2025-02-15T10:00:00.000 (left out)
    expect(rows("chat_interactions.csv").map((x) => x.id)).toEqual([fx.ids.janBob]);
    expect(rows("tool_usage.csv").map((x) => x.id)).toEqual([fx.ids.janAliceTool]);
    expect(rows("errors.csv").map((x) => x.id)).toEqual([fx.ids.janAliceError]);
  }, 60_000);

  it("refuses a filter with --format dir, and a bad time, naming the flag (exit 2)", async () => {
    const dir = await runCli(["export", fx.auditPath, "--format", "dir", "--out", path.join(out, "d"), "--user", "alice"]);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toMatch(/option --user only applies to --format json and csv/);
    expect(fs.existsSync(path.join(out, "d"))).toBe(false);
    const bad = await runCli(["export", fx.auditPath, "--format", "json", "--out", "-", "--since", "last week"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/option --since must be an ISO 8601 time/);
    expect(bad.stdout).toBe("");
  }, 60_000);
});

describe("AuditExporter's userId / since / until", () => {
  it("filter the JSON and CSV exports; a directory export refuses them, naming each, and writes nothing", async () => {
    const { AuditExporter } = await import("../../src/index.js");
    const e = new AuditExporter({ auditPath: fx.auditPath });
    const csv = path.join(out, "api-tools.csv");
    expect(await e.exportToolUsagesToCsv(csv, { userId: "bob" })).toBe(0);
    expect(await e.exportErrorsToCsv(path.join(out, "api-errors.csv"), { userId: "alice", since: new Date("2025-01-20T09:00:00Z") })).toBe(1);
    const dir = path.join(out, "api-dir");
    await expect(e.exportCompleteAuditToDirectory(dir, { userId: "alice", until: "2025-02-01" } as never)).rejects.toMatchObject({
      code: "AUDIT_ERR_CONFIG",
      issues: [expect.objectContaining({ field: "exportCompleteAuditToDirectory.userId" }), expect.objectContaining({ field: "exportCompleteAuditToDirectory.until" })],
    });
    expect(fs.existsSync(dir)).toBe(false);
    await expect(e.exportToJson(path.join(out, "bad.json"), { since: "yesterday" })).rejects.toMatchObject({ code: "AUDIT_ERR_CONFIG", issues: [expect.objectContaining({ field: "exportToJson.since" })] });
  }, 60_000);
});
