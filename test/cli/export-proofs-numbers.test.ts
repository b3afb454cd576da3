/**
 * `verify --export` and numbers JSON.parse cannot hold exactly. The verifier parses the export
 * with JSON.parse, which rounds a number to a double (9007199254740993 reads as 9007199254740992),
 * and checks each record's hash over what it parsed; a reader that keeps numbers exactly (Python's
 * json, a lossless JSON library, a database loading the export) shows the digits written. Until
 * 2026-12-06 an export whose number 9007199254740992 was edited to 9007199254740993 verified,
 * every record proven (found by review). Real child processes over a real signed log.
 *
 * (The logger writes numbers with JSON.stringify, the shortest text of their double, which JSON.parse
 * reads back exactly: the log cannot hold 9007199254740993, an application's 2 ** 53 + 1 is
 * 9007199254740992 before it is logged, so an untouched export always verifies.)
 */
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogger, auditContext, type ExportProofReport } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

const signer = generateKeyPairSync("ed25519");
let logger: AuditLogger;
let pub: string;
let exported: string;
let out: string;

beforeAll(async () => {
  const projectPath = tmpProject("audit-numbers-");
  logger = new AuditLogger({ sessionId: "numbers", projectPath, durability: "sync", signingKey: signer.privateKey, checkpointEvery: { records: 2, seconds: 3600 } });
  auditContext.run({ userId: "alice" }, () => {
    // (2 ** 53 + 1 as the application gives it: a double, 9007199254740992 once written)
    logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: "big", metadata: { ledgerId: 9007199254740993, rate: 0.1, tiny: 5e-324 } });
    logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: "after", metadata: { n: 1 } });
  });
  await logger.flush();
  pub = path.join(projectPath, "signing.pub.pem");
  fs.writeFileSync(pub, createPublicKey(signer.privateKey).export({ type: "spki", format: "pem" }).toString());
  out = tmpProject("audit-numbers-out-");
  exported = path.join(out, "alice.json");
  const r = await runCli(["export", logger.auditDir, "--format", "json", "--out", exported, "--user", "alice", "--proofs", "--include-content"]);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await logger.finalizeSession();
  cleanupTmp();
});

async function verifyJson(file: string): Promise<{ code: number | null; report: ExportProofReport }> {
  const r = await runCli(["verify", "--export", file, "--public-key", pub, "--json"]);
  return { code: r.code, report: JSON.parse(r.stdout) as ExportProofReport };
}

/** A copy of the export with `edit` applied to its text (`oneLine`: every line joined, so that the verifier reads it whole, not in the exporter's layout). */
function edited(name: string, edit: (text: string) => string, oneLine = false): string {
  const text = fs.readFileSync(exported, "utf8");
  const changed = edit(oneLine ? text.replace(/\n/g, "") : text);
  expect(changed).not.toBe(text);
  const file = path.join(out, name);
  fs.writeFileSync(file, changed);
  return file;
}

describe("verify --export and numbers beyond a double's precision", () => {
  it("an untouched export with 2^53 in a record's metadata verifies: every record proven", async () => {
    expect(fs.readFileSync(exported, "utf8")).toContain('"ledgerId":9007199254740992');
    const { code, report } = await verifyJson(exported);
    expect(report.problems).toEqual([]);
    expect(code).toBe(0);
    expect(report.records.map((r) => r.status)).toEqual(["proven", "proven"]);
    expect(report.status).toBe("proven");
    expect(report.unprovenSessions).toEqual([]);
  }, 60_000);

  for (const oneLine of [false, true]) {
    const layout = oneLine ? "read whole (another layout)" : "in the exporter's layout";
    it(`its last digit changed (9007199254740993, which JSON.parse reads as ...992), or digits added past a double's precision: record_modified naming the member, exit 1 (${layout})`, async () => {
      for (const [name, from, to] of [
        ["last-digit", "9007199254740992", "9007199254740993"],
        ["fraction", '"rate":0.1', '"rate":0.10000000000000000001'],
        ["underflow", '"tiny":5e-324', '"tiny":1e-400'],
      ] as const) {
        const file = edited(`${name}-${oneLine}.json`, (t) => t.replace(from, to), oneLine);
        const { code, report } = await verifyJson(file);
        expect(code, name).toBe(1);
        expect(report.problems.map((p) => p.kind), name).toEqual(["record_modified"]);
        expect(report.problems[0]!.seq).toBe(1);
        expect(report.problems[0]!.detail).toContain(`metadata.${from.startsWith('"') ? from.slice(1, from.indexOf('"', 1)) : "ledgerId"}`);
        expect(report.records.map((r) => r.status), name).toEqual(["failed", "proven"]);
      }
    }, 120_000);

    it(`other spellings of the same value (9.007199254740992e15, 0.10, 1.0) read alike everywhere and still verify (${layout})`, async () => {
      const file = edited(`spelling-${oneLine}.json`, (t) => t.replace("9007199254740992", "9.007199254740992e15").replace('"rate":0.1', '"rate":0.10').replace('"n":1', '"n":1.0'), oneLine);
      const { code, report } = await verifyJson(file);
      expect(report.problems).toEqual([]);
      expect(code).toBe(0);
    }, 60_000);
  }

  it("a number of a checkpoint in the header edited past a double's precision: checkpoint_modified", async () => {
    const text = fs.readFileSync(exported, "utf8");
    const m = /"checkpoint":\{[^}]*?"n":(\d+)/.exec(text);
    expect(m).not.toBeNull();
    const file = edited("checkpoint-n.json", (t) => t.replace(m![0], m![0].slice(0, -m![1]!.length) + `${m![1]}.0000000000000000001`));
    const { code, report } = await verifyJson(file);
    expect(code).toBe(1);
    expect(report.problems.map((p) => p.kind)).toContain("checkpoint_modified");
  }, 60_000);
});
