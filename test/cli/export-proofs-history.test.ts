/**
 * `export --proofs` carries each session's older signed checkpoints (`proofs.history`) with RFC
 * 9162 consistency proofs from each one's trees to the next one's, and `verify --export` checks
 * them: each older checkpoint signed, named by the next (`prevCheckpointHash`), and extended by it
 * (the log only grew between them). Until 2026-12-06 an export carried the newest checkpoint
 * only. Real child processes over real signed logs; the forgeries are made with the signing key
 * (the log's own writer rewriting its past) or taken from another log with the same session id
 * and key.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogger, auditContext, type ExportProofReport } from "../../src/index.js";
import { rootOverHeads, type Checkpoint, type CheckpointBody } from "../../src/integrity/checkpoint.js";
import { CHAIN_KINDS } from "../../src/types.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

const signer = generateKeyPairSync("ed25519");
let pub: string;
let out: string;
let exported: string;
let auditDir: string;
let other: string;

interface Doc {
  proofs: { checkpoints: Checkpoint[]; history?: Array<{ older: Checkpoint; consistency: Record<string, string[]> }> };
  records: Record<string, Array<Record<string, unknown>>>;
}

/** A signed log of session "s": a checkpoint every 3 records, personas and tools of alice and bob (`tag` makes their text its own). */
async function signedLog(tag: string): Promise<string> {
  const projectPath = tmpProject("audit-history-");
  const logger = new AuditLogger({ sessionId: "s", projectPath, durability: "sync", signingKey: signer.privateKey, checkpointEvery: { records: 3, seconds: 3600 } });
  for (let i = 0; i < 7; i++) {
    auditContext.run({ userId: i % 2 === 0 ? "alice" : "bob" }, () => {
      logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: `${tag} step ${i}` });
      if (i % 3 !== 2) logger.logToolUsage({ toolName: "transfer", operation: "send", parameters: { to: `${tag}-${i}` } });
    });
  }
  await logger.finalizeSession();
  return logger.auditDir;
}

const checkpointLines = (dir: string): Checkpoint[] =>
  fs
    .readFileSync(path.join(dir, "checkpoints_s.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Checkpoint);

async function exportOf(dir: string, file: string): Promise<void> {
  const r = await runCli(["export", dir, "--format", "json", "--out", file, "--user", "alice", "--proofs", "--include-content"]);
  expect(r.code, r.stderr).toBe(0);
}

async function verifyJson(file: string): Promise<{ code: number | null; report: ExportProofReport }> {
  const r = await runCli(["verify", "--export", file, "--public-key", pub, "--json"]);
  return { code: r.code, report: JSON.parse(r.stdout) as ExportProofReport };
}

/** A copy of the export, its document edited by `edit` and written in the exporter's header layout (checkpoints one a line). */
function edited(name: string, edit: (doc: Doc) => void): string {
  const text = fs.readFileSync(exported, "utf8");
  const doc = JSON.parse(text) as Doc;
  edit(doc);
  const file = path.join(out, name);
  fs.writeFileSync(file, JSON.stringify(doc, null, 1));
  return file;
}

/** `body` signed with the log's key: the line a checkpoint of it would be. */
function signed(body: CheckpointBody): Checkpoint {
  const withRoot = { ...body, merkleRoot: rootOverHeads(body.heads, CHAIN_KINDS) };
  const text = JSON.stringify(withRoot);
  return { checkpoint: withRoot, hash: createHash("sha256").update(text).digest("hex"), signature: sign(null, Buffer.from(text, "utf8"), signer.privateKey).toString("base64") };
}

const kinds = (r: ExportProofReport) => [...new Set(r.problems.map((p) => p.kind))].sort();

beforeAll(async () => {
  auditDir = await signedLog("real");
  other = await signedLog("other");
  out = tmpProject("audit-history-out-");
  pub = path.join(out, "signing.pub.pem");
  fs.writeFileSync(pub, createPublicKey(signer.privateKey).export({ type: "spki", format: "pem" }).toString());
  exported = path.join(out, "alice.json");
  await exportOf(auditDir, exported);
}, 120_000);

afterAll(() => cleanupTmp());

describe("export --proofs: older checkpoints and their consistency proofs", () => {
  it("carries every older checkpoint of the session as the log wrote it, with a consistency proof for each chain that grew; verify --export: no problem, every covered record proven", async () => {
    const lines = checkpointLines(auditDir);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    const doc = JSON.parse(fs.readFileSync(exported, "utf8")) as Doc;
    expect(doc.proofs.checkpoints).toEqual([lines.at(-1)]);
    expect(doc.proofs.history!.map((h) => h.older)).toEqual(lines.slice(0, -1));
    // (each chain that grew between two checkpoints, and only those)
    for (const [i, h] of doc.proofs.history!.entries()) {
      const grew = CHAIN_KINDS.filter((k) => (h.older.checkpoint.heads[k]?.seq ?? 0) > 0 && h.older.checkpoint.heads[k]!.seq < (lines[i + 1]!.checkpoint.heads[k]?.seq ?? 0));
      expect(Object.keys(h.consistency).sort(), `history[${i}]`).toEqual([...grew].sort());
    }
    const { code, report } = await verifyJson(exported);
    expect(report.problems).toEqual([]);
    expect(code).toBe(0);
    expect(report.records.filter((r) => r.status === "proven").length).toBeGreaterThan(0);
  }, 60_000);

  it("the oldest checkpoints left out (the history is the newest ones, back as far as it goes): still verifies", async () => {
    const file = edited("oldest-out.json", (d) => d.proofs.history!.splice(0, 2));
    const { code, report } = await verifyJson(file);
    expect(report.problems).toEqual([]);
    expect(code).toBe(0);
  }, 60_000);

  it("an older checkpoint replaced by another log's (same session id, same signing key, validly signed): consistency_failed, exit 1", async () => {
    const forged = checkpointLines(other)[1]!;
    const file = edited("other-log.json", (d) => {
      expect(d.proofs.history![1]!.older.checkpoint.n).toBe(2);
      d.proofs.history![1]!.older = forged;
    });
    const { code, report } = await verifyJson(file);
    expect(code).toBe(1);
    expect(kinds(report)).toEqual(["consistency_failed"]);
    expect(report.problems.map((p) => p.detail).join("\n")).toMatch(/older checkpoint 2 of session s is not the one checkpoint 3 names before it/);
  }, 60_000);

  it("an older checkpoint forged by the key's holder (a persona root of another past, re-signed, and the next checkpoint re-signed to name it): consistency_failed for that chain only, into it and out of it, exit 1", async () => {
    const file = edited("rewritten.json", (d) => {
      const h = d.proofs.history!;
      const last = h.length - 1;
      const older = h[last]!.older.checkpoint;
      const persona = older.heads.persona_activity!;
      const forged = signed({ ...older, heads: { ...older.heads, persona_activity: { ...persona, root: createHash("sha256").update("another past").digest("hex") } } });
      h[last]!.older = forged;
      d.proofs.checkpoints[0] = signed({ ...d.proofs.checkpoints[0]!.checkpoint, prevCheckpointHash: forged.hash });
    });
    const { code, report } = await verifyJson(file);
    expect(code).toBe(1);
    expect(kinds(report)).toEqual(["consistency_failed"]);
    // (from the checkpoint before it to the forged one, and from the forged one to the newest)
    const n = JSON.parse(fs.readFileSync(file, "utf8")).proofs.checkpoints[0].checkpoint.n as number;
    expect(report.problems.map((p) => p.detail)).toEqual([
      expect.stringMatching(new RegExp(`^The older checkpoint ${n - 2} of session s: its persona_activity chain \\(seq \\d+\\) is not extended by that of checkpoint ${n - 1} `)),
      expect.stringMatching(new RegExp(`^The older checkpoint ${n - 1} of session s: its persona_activity chain \\(seq \\d+\\) is not extended by that of checkpoint ${n} `)),
    ]);
    // (the records rest on the newest checkpoint, whose roots are the log's: still proven)
    expect(report.records.filter((r) => r.status === "failed")).toEqual([]);
  }, 60_000);

  it("a node of a consistency proof altered, or the proof of a chain that grew taken out: consistency_failed", async () => {
    for (const [name, edit] of [
      ["node", (c: Record<string, string[]>) => (c[Object.keys(c)[0]!]![0] = createHash("sha256").update("x").digest("hex"))],
      ["dropped", (c: Record<string, string[]>) => delete c[Object.keys(c)[0]!]],
    ] as const) {
      const file = edited(`consistency-${name}.json`, (d) => {
        const c = d.proofs.history!.find((h) => Object.keys(h.consistency).length > 0)!.consistency;
        edit(c);
      });
      const { code, report } = await verifyJson(file);
      expect(code, name).toBe(1);
      expect(kinds(report), name).toEqual(["consistency_failed"]);
    }
  }, 60_000);

  it("a checkpoint taken out of the middle of the history, or given twice: consistency_failed; an older checkpoint's body edited: checkpoint_modified, and its signature fails", async () => {
    for (const [name, edit] of [
      ["middle", (d: Doc) => d.proofs.history!.splice(1, 1)],
      ["twice", (d: Doc) => d.proofs.history!.splice(1, 0, structuredClone(d.proofs.history![1]!))],
    ] as const) {
      const { code, report } = await verifyJson(edited(`history-${name}.json`, edit));
      expect(code, name).toBe(1);
      expect(kinds(report), name).toEqual(["consistency_failed"]);
    }
    const { code, report } = await verifyJson(edited("history-body.json", (d) => ((d.proofs.history![0]!.older.checkpoint as { reason: string }).reason = "edited")));
    expect(code).toBe(1);
    expect(kinds(report)).toEqual(expect.arrayContaining(["checkpoint_modified", "checkpoint_signature_invalid"]));
  }, 120_000);

  it("a consistency proof under a member named __proto__ (the exporter's layout, and another): consistency_failed naming it, exit 1; it was dropped unread, and the export proven", async () => {
    const node = "ab".repeat(32);
    const text = fs.readFileSync(exported, "utf8");
    const at = text.indexOf('"consistency":{', text.indexOf('"history":['));
    expect(at).toBeGreaterThan(0);
    const inLayout = path.join(out, "proto-layout.json");
    fs.writeFileSync(inLayout, `${text.slice(0, at)}"consistency":{"__proto__":["${node}"],${text.slice(at + '"consistency":{'.length)}`);
    // (JSON.parse gives the member as an own property, and JSON.stringify writes it again)
    const other = edited("proto-other.json", (d) => {
      const c = d.proofs.history![1]!.consistency;
      d.proofs.history![1]!.consistency = JSON.parse(`{"__proto__":${JSON.stringify(Object.values(c)[0] ?? [node])},${JSON.stringify(c).slice(1)}`) as Record<string, string[]>;
    });
    expect(fs.readFileSync(other, "utf8")).toContain('"__proto__"');
    for (const file of [inLayout, other]) {
      const { code, report } = await verifyJson(file);
      expect(kinds(report), file).toEqual(["consistency_failed"]);
      expect(report.problems[0]!.detail).toContain("__proto__, which is no chain kind");
      expect(report.status).toBe("failed");
      expect(code).toBe(1);
    }
  }, 60_000);

  it("history of a session whose newest checkpoint the export does not hold, or not a list: consistency_failed, checkpoint_malformed", async () => {
    const noNewest = edited("no-newest.json", (d) => {
      d.proofs.checkpoints = [];
      // (the records' proofs then lead nowhere: they fail on their own)
    });
    const a = await verifyJson(noNewest);
    expect(a.code).toBe(1);
    expect(kinds(a.report)).toContain("consistency_failed");
    const notList = edited("not-list.json", (d) => ((d.proofs as Record<string, unknown>).history = { older: 1 }));
    const b = await verifyJson(notList);
    expect(b.code).toBe(1);
    expect(kinds(b.report)).toEqual(["checkpoint_malformed"]);
  }, 60_000);
});

describe("export --proofs: the history's numbers as written", () => {
  /** The exporter's own text with the first older checkpoint's n respelt `<n>.0000000000000001` (JSON.parse: n), `before` put first in the document. */
  function respeltN(name: string, before = ""): string {
    const text = fs.readFileSync(exported, "utf8");
    const n = (JSON.parse(text) as Doc).proofs.history![0]!.older.checkpoint.n;
    const at = text.indexOf(`"older":{"checkpoint":{`);
    expect(at).toBeGreaterThan(0);
    const nAt = text.indexOf(`"n":${n},`, at);
    expect(nAt).toBeGreaterThan(at);
    expect(text.startsWith("{\n")).toBe(true);
    const file = path.join(out, name);
    fs.writeFileSync(file, "{\n" + before + text.slice(2, nAt) + `"n":${n}.0000000000000001,` + text.slice(nAt + `"n":${n},`.length));
    expect((JSON.parse(fs.readFileSync(file, "utf8")) as Doc).proofs.history![0]!.older.checkpoint.n).toBe(n);
    return file;
  }

  it("an older checkpoint's number written with digits JSON.parse rounds away (n 2 as 2.0000000000000001: its hash and signature still check over 2): checkpoint_modified, exit 1", async () => {
    const { code, report } = await verifyJson(respeltN("history-inexact.json"));
    expect(kinds(report)).toEqual(["checkpoint_modified"]);
    expect(report.problems[0]!.detail).toMatch(/proofs\.history\[0\]\.older\.checkpoint\.n/);
    expect(code).toBe(1);
  }, 60_000);

  it("the same, behind a hundred such numbers in a member of the header nothing signs (the scan keeps a hundred of each finding): those are named (export_malformed), so the export fails, exit 1; they passed unnamed, and hid the checkpoint's: proven", async () => {
    const junk = `"note":[${Array.from({ length: 100 }, () => "1.00000000000000001").join(",")}],`;
    const { code, report } = await verifyJson(respeltN("history-inexact-masked.json", junk));
    expect(report.status).toBe("failed");
    expect(kinds(report)).toEqual(["export_malformed"]);
    expect(report.problems[0]!.detail).toMatch(/gives note\[0\] as a number that JSON\.parse reads as another value/);
    expect(code).toBe(1);
  }, 60_000);

  it("an older checkpoint whose chain heads have no root (no checkpoint is so): that checkpoint's problems, not an unreadable export; the check threw on the missing root and named a Buffer's argument", async () => {
    const file = edited("history-no-root.json", (d) => {
      for (const head of Object.values(d.proofs.history![0]!.older.checkpoint.heads)) delete (head as { root?: string }).root;
    });
    const { code, report } = await verifyJson(file);
    expect(code).toBe(1);
    expect(kinds(report)).toEqual(["checkpoint_modified", "checkpoint_signature_invalid", "consistency_failed"]);
    expect(report.records.filter((r) => r.status === "proven").length).toBeGreaterThan(0);
  }, 60_000);
});
