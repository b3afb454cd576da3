/**
 * What an auditor meets with the CLI: evidence deleted from an audit directory must make
 * `audit-logger verify` fail (exit 1) and name what is gone; `summary` and `report` over logs that
 * fail verification must say so. Real sessions written by real loggers, the real CLI as a child
 * process. Found by the integrity pass, 2026-12-05.
 */
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterEach(cleanupTmp);

interface Written {
  readonly projectPath: string;
  readonly dir: string;
  readonly sessionId: string;
}

/** A session of three tool calls and one chat (full content on), finalized. */
async function writeSession(projectPath: string, o: { sessionId: string; signed?: boolean }): Promise<Written> {
  const signingKey = o.signed === true ? generateKeyPairSync("ed25519").privateKey : undefined;
  const logger = new AuditLogger({ projectPath, sessionId: o.sessionId, durability: "sync", fullContentLogging: true, ...(signingKey ? { signingKey } : {}) });
  for (let i = 0; i < 3; i++) logger.logToolUsage({ toolName: "search", operation: `op${i}`, success: true });
  logger.logChatInteraction({ prompt: "question", response: "answer", model: "gpt-4o" });
  await logger.finalizeSession();
  return { projectPath, dir: path.join(projectPath, "audit_logs"), sessionId: o.sessionId };
}

interface Problem {
  readonly kind: string;
  readonly file: string;
  readonly detail: string;
}

async function verifyJson(dir: string): Promise<{ code: number | null; ok: boolean; problems: Problem[] }> {
  const r = await runCli(["verify", dir, "--json"]);
  const report = JSON.parse(r.stdout) as { ok: boolean; problems: Problem[] };
  return { code: r.code, ok: report.ok, problems: report.problems };
}

describe("audit-logger verify: a deleted session file", () => {
  it("of an unsigned session is a problem (session_file_missing, exit 1) naming the file; the other session stays clean", async () => {
    const projectPath = tmpProject();
    const victim = await writeSession(projectPath, { sessionId: "victim" });
    await writeSession(projectPath, { sessionId: "other" });
    expect((await runCli(["verify", victim.dir])).code).toBe(0);
    fs.rmSync(path.join(victim.dir, "session_victim.json"));
    const r = await runCli(["verify", victim.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^PROBLEM session_file_missing session_victim\.json: Session victim has 4 records in its chain files, but its session file session_victim\.json is gone/m);
    expect(r.stdout).toMatch(/^FAILED .*1 problem/m);
    const j = await verifyJson(victim.dir);
    expect(j.code).toBe(1);
    expect(j.ok).toBe(false);
    expect(j.problems.map((p) => [p.kind, p.file])).toEqual([["session_file_missing", "session_victim.json"]]);
    // one session asked for: the same
    const one = await runCli(["verify", victim.dir, "--session", "victim"]);
    expect(one.code).toBe(1);
    expect(one.stdout).toContain("PROBLEM session_file_missing session_victim.json");
    expect((await runCli(["verify", victim.dir, "--session", "other"])).code).toBe(0);
  }, 60_000);

  it("of a signed session likewise (its checkpoints named beside its records)", async () => {
    const projectPath = tmpProject();
    const victim = await writeSession(projectPath, { sessionId: "signed_victim", signed: true });
    fs.rmSync(path.join(victim.dir, "session_signed_victim.json"));
    const j = await verifyJson(victim.dir);
    expect(j.code).toBe(1);
    expect(j.problems.map((p) => p.kind)).toEqual(["session_file_missing"]);
    expect(j.problems[0]!.detail).toMatch(/4 records in its chain files and \d+ checkpoints?,/);
  }, 60_000);

  // (a file that is there but damaged is told from a deleted one by its kind, so that an officer
  // knows which without reading the detail: session_file_damaged; found by the viewer pass,
  // 2026-12-05: both were session_file_missing)
  it("replaced by something that is not the session's file (not JSON; another session's) is a problem too: session_file_damaged, not missing", async () => {
    const projectPath = tmpProject();
    const victim = await writeSession(projectPath, { sessionId: "victim" });
    await writeSession(projectPath, { sessionId: "other" });
    const file = path.join(victim.dir, "session_victim.json");
    fs.writeFileSync(file, "not json");
    let j = await verifyJson(victim.dir);
    expect(j.code).toBe(1);
    expect(j.problems.map((p) => [p.kind, p.file])).toEqual([["session_file_damaged", "session_victim.json"]]);
    expect(j.problems[0]!.detail).toMatch(/is not the session file the kit writes \(not JSON/);
    const r = await runCli(["verify", victim.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^PROBLEM session_file_damaged session_victim\.json: /m);
    expect(r.stdout).not.toContain("session_file_missing");
    fs.copyFileSync(path.join(victim.dir, "session_other.json"), file);
    j = await verifyJson(victim.dir);
    expect(j.problems.map((p) => p.kind)).toEqual(["session_file_damaged"]);
    expect(j.problems[0]!.detail).toMatch(/names another session/);
    // deleted: session_file_missing (above), never damaged
    fs.rmSync(file);
    j = await verifyJson(victim.dir);
    expect(j.problems.map((p) => p.kind)).toEqual(["session_file_missing"]);
  }, 60_000);

  it("with every record file too: what is left (checkpoints, content manifests) tells the session existed (session_missing)", async () => {
    const projectPath = tmpProject();
    const signed = await writeSession(projectPath, { sessionId: "gone_signed", signed: true });
    await writeSession(projectPath, { sessionId: "gone_unsigned" });
    await writeSession(projectPath, { sessionId: "kept" });
    const dir = signed.dir;
    // everything of both named by session id, but the signed one's checkpoints; the content files stay
    for (const name of fs.readdirSync(dir)) {
      if (name.includes("gone_unsigned") || (name.includes("gone_signed") && !name.startsWith("checkpoints_"))) fs.rmSync(path.join(dir, name));
    }
    const j = await verifyJson(dir);
    expect(j.code).toBe(1);
    const missing = j.problems.filter((p) => p.kind === "session_missing");
    expect(missing.map((p) => p.file).sort()).toEqual(["session_gone_signed.json", "session_gone_unsigned.json"]);
    expect(missing.find((p) => p.file === "session_gone_signed.json")!.detail).toMatch(/checkpoints_gone_signed\.jsonl/);
    expect(missing.find((p) => p.file === "session_gone_unsigned.json")!.detail).toMatch(/full_interactions\/manifest_[0-9A-Z]+\.json remains/);
    expect(j.problems.filter((p) => p.kind !== "session_missing")).toEqual([]);
  }, 60_000);

  it("a session removed by retention (recorded) is no problem, its session file gone with the rest", async () => {
    const projectPath = tmpProject();
    await writeSession(projectPath, { sessionId: "old" });
    const cleaner = new AuditLogger({ projectPath, sessionId: "cleaner", durability: "sync" });
    const removed = await cleaner.cleanup({ now: Date.now() + 100 * 86_400_000 });
    expect(removed.removed.map((x) => x.sessionId)).toEqual(["old"]);
    await cleaner.finalizeSession();
    const j = await verifyJson(path.join(projectPath, "audit_logs"));
    expect(j.problems).toEqual([]);
    expect(j.code).toBe(0);
  }, 60_000);
});

/** Rewrites the tool_usage record of `seq` in `dir`'s session `sid` with `success: false`, leaving its hash (an edit). */
function editToolRecord(dir: string, sid: string, seq: number): void {
  const file = path.join(dir, `tool_usage_${sid}.jsonl`);
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const i = lines.findIndex((l) => l.includes(`"seq":${seq},`));
  expect(lines[i]).toContain('"success":true');
  lines[i] = lines[i]!.replace('"success":true', '"success":false');
  fs.writeFileSync(file, lines.join("\n"));
}

interface SummaryJson {
  readonly sessionId: string;
  readonly toolSuccessRate: number;
  readonly verification: { ok: boolean; problemCount: number; failedSessions: string[]; files: string[]; problems: Array<{ kind: string; file: string; seq?: number; sessionId?: string }> };
}

describe("audit-logger summary and report over logs that do not verify", () => {
  it("give their numbers all the same, say which session and file fail (text, --json's verification field, stderr) and exit 1, as export does", async () => {
    const projectPath = tmpProject();
    const { dir } = await writeSession(projectPath, { sessionId: "edited" });
    await writeSession(projectPath, { sessionId: "sound" });

    // sound logs: exit 0, verification ok, nothing on stderr
    const clean = await runCli(["summary", dir, "--json"]);
    expect(clean.code).toBe(0);
    expect(clean.stderr).toBe("");
    expect((JSON.parse(clean.stdout) as SummaryJson[]).map((s) => [s.sessionId, s.verification.ok])).toEqual(expect.arrayContaining([["edited", true], ["sound", true]]));
    const cleanReport = await runCli(["report", dir]);
    expect(cleanReport.code).toBe(0);
    expect(cleanReport.stdout).not.toContain("integrity");

    editToolRecord(dir, "edited", 2);
    const text = await runCli(["summary", dir]);
    expect(text.code).toBe(1);
    // the numbers are there (the edited record counted as it is now: 2 of 3 ok)...
    expect(text.stdout).toMatch(/Session edited[\s\S]*tools +3 calls, 66\.7% ok/);
    // ...and the session says they come from logs that do not verify; the sound one does not
    const blocks = text.stdout.split(/\n(?=Session )/);
    expect(blocks.find((b) => b.startsWith("Session edited"))).toMatch(/integrity +FAILED verification: 1 problem \(record_modified\) in tool_usage_edited\.jsonl: these numbers come from logs that do not verify/);
    expect(blocks.find((b) => b.startsWith("Session sound"))).not.toContain("integrity");
    expect(text.stderr).toMatch(/^audit-logger summary: the logs do not verify \(1 problem in session edited; tool_usage_edited\.jsonl\)/);

    const json = await runCli(["summary", dir, "--json"]);
    expect(json.code).toBe(1);
    const summaries = JSON.parse(json.stdout) as SummaryJson[];
    const edited = summaries.find((s) => s.sessionId === "edited")!;
    expect(edited.toolSuccessRate).toBeCloseTo(2 / 3);
    expect(edited.verification).toEqual({ ok: false, problemCount: 1, failedSessions: ["edited"], files: ["tool_usage_edited.jsonl"], problems: [{ kind: "record_modified", file: "tool_usage_edited.jsonl", seq: 2, sessionId: "edited" }] });
    expect(summaries.find((s) => s.sessionId === "sound")!.verification).toEqual({ ok: true, problemCount: 0, failedSessions: [], files: [], problems: [] });
    // one session asked for: its own verdict
    expect((await runCli(["summary", dir, "--session", "sound"])).code).toBe(0);
    expect((await runCli(["summary", dir, "--session", "edited"])).code).toBe(1);

    const report = await runCli(["report", dir]);
    expect(report.code).toBe(1);
    expect(report.stdout).toMatch(/^Audit report for .*\n  integrity +FAILED verification: 1 problem in session edited: these numbers come from logs that do not verify/);
    expect(report.stdout).toMatch(/records +8 /);
    expect(report.stderr).toMatch(/^audit-logger report: the logs do not verify/);
    const reportJson = await runCli(["report", dir, "--json"]);
    expect(reportJson.code).toBe(1);
    const r = JSON.parse(reportJson.stdout) as { totals: { records: number }; verification: SummaryJson["verification"] };
    expect(r.totals.records).toBe(8);
    expect(r.verification).toMatchObject({ ok: false, problemCount: 1, failedSessions: ["edited"], files: ["tool_usage_edited.jsonl"] });
    expect((await runCli(["report", dir, "--session", "sound", "--json"])).code).toBe(0);
  }, 120_000);
});
