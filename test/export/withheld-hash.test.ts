// Found by review 2026-12-05: an export without content replaced tool parameters and results (and
// previews) with a marker but kept each record's chain hash. For a log that is not encrypted that
// hash is SHA-256 over prevHash and the line as written, every other member of which the export
// holds: hashing guesses recovered {"customer":"C-1001","pin":"4821"} from the JSON export in 0.5 s.
// Every later hash of the chain (the next record's prevHash and hash, the session summary's head,
// a checkpoint's head and Merkle root) is computed from it and confirmed the same guess.
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { afterEach, describe, expect, it } from "vitest";
import { AuditExporter, AuditLogger, verifyExport } from "../../src/index.js";
import { computeRecordHash, GENESIS_HASH } from "../../src/pipeline/chain.js";
import { cleanupTmp, readJsonl, tmpProject, walk } from "../helpers/index.js";

afterEach(cleanupTmp);

const PARAMS = { customer: "C-1001", pin: "4821" };

async function bankLog() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const logger = new AuditLogger({ sessionId: "bank", projectPath: tmpProject("withheld-hash-"), signingKey: privateKey });
  logger.logToolUsage({ toolName: "verify_pin", operation: "check", parameters: PARAMS, result: { ok: true } });
  logger.logToolUsage({ toolName: "audit_ping", operation: "noop" }); // no content: nothing of its own withheld
  logger.logPersonaActivity({ personaName: "teller", activityType: "serve" });
  await logger.finalizeSession();
  const written = readJsonl(path.join(logger.auditDir, "tool_usage_bank.jsonl"));
  return { auditDir: logger.auditDir, privateKey, publicKey, written };
}

/** The record as written, rebuilt from an exported one with a guess of its withheld content. */
function rebuild(exported: Record<string, unknown>, guess: { parameters: unknown; result: unknown }, prevHash: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(exported)) {
    if (k === "contentWithheld" || k === "hash" || k === "prevHash") continue;
    out[k] = k === "parameters" || k === "result" ? guess[k] : v;
    if (k === "seq") out.prevHash = prevHash;
  }
  return out;
}

/** Tries every PIN of the customer against every 64-hex string of `text`; the PIN found, or undefined. */
function bruteForce(exported: Record<string, unknown>, text: string): string | undefined {
  const hexes = new Set(text.match(/[0-9a-f]{64}/g) ?? []);
  // (seq 1: its prevHash is the genesis hash whatever the export says)
  const prev = typeof exported.prevHash === "string" ? exported.prevHash : GENESIS_HASH;
  for (let i = 0; i < 10_000; i++) {
    const pin = String(i).padStart(4, "0");
    if (hexes.has(computeRecordHash(prev, rebuild(exported, { parameters: { ...PARAMS, pin }, result: { ok: true } }, prev)))) return pin;
  }
  return undefined;
}

describe("exports without content of a log that is not encrypted", () => {
  it("the JSON export gives no hash a guess of the withheld parameters can be checked against", async () => {
    const { auditDir, written } = await bankLog();
    const file = path.join(tmpProject("withheld-hash-out-"), "all.json");
    await new AuditExporter({ auditPath: auditDir }).exportToJson(file);
    const text = fs.readFileSync(file, "utf8");
    const doc = JSON.parse(text) as { records: { tool_usage: Array<Record<string, unknown>> } };
    const [pin, ping] = doc.records.tool_usage;
    // the reconstruction is right: with the true value it gives the hash the log holds
    expect(computeRecordHash(GENESIS_HASH, rebuild(pin!, { parameters: PARAMS, result: { ok: true } }, GENESIS_HASH))).toBe(written[0]!.hash);
    expect(pin!.parameters).toBe("[content withheld from export]");
    expect(bruteForce(pin!, text)).toBeUndefined();
    for (const w of written) expect(text).not.toContain(w.hash as string);
    // the record says what it left out; so does the next record of the chain (its prevHash is that hash)
    expect(pin).not.toHaveProperty("hash");
    expect(pin).not.toHaveProperty("prevHash");
    expect(pin!.contentWithheld).toEqual(["parameters", "result", "prevHash", "hash"]);
    expect(ping).not.toHaveProperty("hash");
    expect(ping).not.toHaveProperty("prevHash");
    expect(ping!.contentWithheld).toEqual(["prevHash", "hash"]);
    expect(ping!.seq).toBe(2);
  });

  it("the CSV export leaves the hash and prevHash cells empty", async () => {
    const { auditDir, written } = await bankLog();
    const file = path.join(tmpProject("withheld-hash-out-"), "tools.csv");
    await new AuditExporter({ auditPath: auditDir }).exportToolUsagesToCsv(file);
    const text = fs.readFileSync(file, "utf8");
    for (const w of written) expect(text).not.toContain(w.hash as string);
    const rows = parse(text, { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => [r.seq, r.prevHash, r.hash])).toEqual([
      ["1", "", ""],
      ["2", "", ""],
    ]);
  });

  it("the directory export holds no such hash either (nor the session's checkpoints, which sign them), and still verifies, saying so", async () => {
    const { auditDir, privateKey, publicKey, written } = await bankLog();
    const dir = path.join(tmpProject("withheld-hash-out-"), "export");
    await new AuditExporter({ auditPath: auditDir }).exportCompleteAuditToDirectory(dir, { signingKey: privateKey });
    const text = walk(dir).map((f) => fs.readFileSync(f, "utf8")).join("\n");
    const pin = (JSON.parse(fs.readFileSync(path.join(dir, "audit_complete.json"), "utf8")) as { records: { tool_usage: Array<Record<string, unknown>> } }).records.tool_usage[0]!;
    expect(bruteForce(pin, text)).toBeUndefined();
    for (const w of written) expect(text).not.toContain(w.hash as string);
    expect(fs.existsSync(path.join(dir, "integrity", "checkpoints_bank.jsonl"))).toBe(false);
    // (nor an integrity/ folder that they left empty: no audit_event chain either; until 2026-12-05 one was left)
    expect(fs.existsSync(path.join(dir, "integrity"))).toBe(false);
    // (the log itself has checkpoints over them: the check above can fail)
    expect(fs.readFileSync(path.join(auditDir, "checkpoints_bank.jsonl"), "utf8")).toContain(written.at(-1)!.hash as string);
    const r = await verifyExport(dir, { publicKey });
    expect(r.problems).toEqual([]);
    expect(r.notes.map((n) => n.kind).sort()).toEqual(["content_withheld", "no_checkpoints"]);
    expect(r.notes.find((n) => n.kind === "content_withheld")!.detail).toMatch(/2 records have no hash and prevHash/);
    // the persona chain, which carries no content, keeps its hashes
    const persona = readJsonl(path.join(auditDir, "persona_activities_bank.jsonl"))[0]!;
    expect(text).toContain(persona.hash as string);
  });
});
