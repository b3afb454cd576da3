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

  it("says how many records a JSON export holds, and warns on stderr (exit 0) when a filter matched none", async () => {
    // (until 2026-12-06 "wrote <file>" with no count, and an access request for a userId that is
    // in no record wrote an empty export, exit 0, without a word)
    const alice = path.join(out, "alice-count.json");
    const a = await runCli(["export", fx.auditPath, "--format", "json", "--out", alice, "--user", "alice"]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toBe("");
    expect(a.stdout.split("\n")[0]).toBe(`wrote ${alice} (4 records)`);

    const nobody = path.join(out, "nobody.json");
    const n = await runCli(["export", fx.auditPath, "--format", "json", "--out", nobody, "--user", "nobody"]);
    expect(n.code).toBe(0);
    expect(n.stdout.split("\n")[0]).toBe(`wrote ${nobody} (0 records)`);
    expect(n.stderr).toBe("audit-logger export: no record matched --user nobody: the export holds none.\n");
    const doc = JSON.parse(fs.readFileSync(nobody, "utf8")) as Doc;
    expect(doc.sessions).toEqual([]);
    expect(Object.values(doc.records).flat()).toEqual([]);

    const csv = await runCli(["export", fx.auditPath, "--format", "csv", "--kind", "error", "--out", "-", "--user", "nobody", "--since", "2025-01-01"]);
    expect(csv.code).toBe(0);
    expect(csv.stdout.trim().split("\n")).toHaveLength(1); // the header alone
    expect(csv.stderr).toBe("audit-logger export: no record matched --user nobody --since 2025-01-01 (of kind error): the export holds none.\n");
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

/** Every sealed line of the audit directory's chain files, by record id. */
function loggedLines(dir: string): Map<string, { sessionId: string; type: string; seq: number; hash: string; prevHash: string }> {
  const out = new Map<string, { sessionId: string; type: string; seq: number; hash: string; prevHash: string }>();
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith(".jsonl") || f.startsWith("checkpoints_")) continue;
    for (const line of fs.readFileSync(path.join(dir, f), "utf8").split("\n")) {
      if (!line) continue;
      const r = JSON.parse(line) as { id: string; sessionId: string; type: string; seq: number; hash: string; prevHash: string };
      out.set(r.id, r);
    }
  }
  return out;
}

describe("what an export of one user holds of the chain (an access request)", () => {
  it("each record keeps its own hash, which names its line in the logs, not prevHash (another user's record); sessions only by id and times; the CLI says the logs verified", async () => {
    const file = path.join(out, "alice-content.json");
    const r = await runCli(["export", fx.auditPath, "--format", "json", "--out", file, "--user", "alice", "--include-content"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*alice-content\.json \(4 records\)\nthe logs verify \(\d+ records in 3 sessions; no public key: self-consistent only, run audit-logger verify --public-key for the signed checkpoints\): each exported record's sessionId, type, seq and hash \(where kept\) name its line in them; prevHash, the link to another record, is left out\n$/);
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { sessions: Array<Record<string, unknown>>; records: Record<string, Array<Record<string, unknown>>> };
    const logged = loggedLines(fx.auditPath);
    const recs = Object.values(doc.records).flat();
    expect(recs).toHaveLength(4);
    for (const x of recs) {
      expect(x).not.toHaveProperty("prevHash");
      const line = logged.get(x.id as string)!;
      expect({ sessionId: x.sessionId, type: x.type, seq: x.seq, hash: x.hash }).toEqual({ sessionId: line.sessionId, type: line.type, seq: line.seq, hash: line.hash });
    }
    // (alice's records come first in their chains; bob's feb chat links to hers, and the export of
    // alice holds no hash of bob's)
    const bobFeb = logged.get(fx.ids.febBob!)!;
    expect(bobFeb.prevHash).toBe(logged.get(fx.ids.febAlice!)!.hash);
    expect(JSON.stringify(doc)).not.toContain(logged.get(fx.ids.janBob!)!.hash);
    expect(JSON.stringify(doc)).not.toContain(logged.get(fx.ids.febBob!)!.hash);
    for (const s of doc.sessions) expect(Object.keys(s).sort()).toEqual(["endTime", "sessionId", "startTime"]);
    // bob's: his records follow alice's in both chat chains, and the export does not hand her hashes to him
    const bob = await runCli(["export", fx.auditPath, "--format", "json", "--out", "-", "--user", "bob", "--include-content"]);
    expect(bob.code, bob.stderr).toBe(0);
    const bobDoc = JSON.parse(bob.stdout) as { records: Record<string, Array<Record<string, unknown>>> };
    expect(Object.values(bobDoc.records).flat().map((x) => x.id).sort()).toEqual([fx.ids.janBob, fx.ids.febBob].sort());
    expect(bob.stdout).not.toContain(logged.get(fx.ids.janAlice!)!.hash);
    expect(bob.stdout).not.toContain(logged.get(fx.ids.febAlice!)!.hash);
    for (const x of Object.values(bobDoc.records).flat()) expect(x.hash).toBe(logged.get(x.id as string)!.hash);
    // the CSV likewise: an empty prevHash cell
    const csvFile = path.join(out, "bob-chats.csv");
    const c = await runCli(["export", fx.auditPath, "--format", "csv", "--kind", "chat_interaction", "--out", csvFile, "--user", "bob", "--include-content"]);
    expect(c.code, c.stderr).toBe(0);
    const rows = parse(fs.readFileSync(csvFile, "utf8"), { columns: true }) as Array<{ id: string; prevHash: string; hash: string }>;
    expect(rows.map((x) => [x.prevHash, x.hash])).toEqual(rows.map((x) => ["", logged.get(x.id)!.hash]));
    // the whole trail keeps every link
    const whole = await runCli(["export", fx.auditPath, "--format", "json", "--out", "-", "--include-content"]);
    expect(whole.stdout).toContain(`"prevHash":"${bobFeb.prevHash}"`);
  }, 90_000);
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
