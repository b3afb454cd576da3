/**
 * `audit-logger export --format json --proofs` and `audit-logger verify --export`, as real child
 * processes over a real signed log: a user's export (a data-subject access request) that a third
 * party checks with the export and the public key alone, and the edits that check catches.
 */
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogger, auditContext, computeRecordHash, rebuildWritten, type ExportProofReport } from "../../src/index.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

interface Built {
  readonly auditDir: string;
  readonly pub: string;
  readonly logger: AuditLogger;
}

/**
 * A signed log with a checkpoint every 5 records: personas and tools of alice and bob (10
 * records, two checkpoints), then one more persona of alice that no checkpoint covers yet.
 */
async function build(o: { encrypt: boolean; privateKey: KeyObject }): Promise<Built> {
  const projectPath = tmpProject("audit-proofs-");
  const logger = new AuditLogger({
    sessionId: o.encrypt ? "enc" : "plain",
    projectPath,
    durability: "sync",
    signingKey: o.privateKey,
    checkpointEvery: { records: 5, seconds: 3600 },
    ...(o.encrypt ? { encryptSensitiveContent: true, encryptionKey: TEST_KEY } : {}),
  });
  for (let i = 0; i < 5; i++) {
    auditContext.run({ userId: i % 2 === 0 ? "alice" : "bob" }, () => {
      logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: `step ${i}`, metadata: { amount: i * 10 } });
      logger.logToolUsage({ toolName: "transfer", operation: "send", parameters: { to: `acct-${i}` }, result: { ok: true, n: i } });
    });
  }
  auditContext.run({ userId: "alice" }, () => logger.logPersonaActivity({ personaName: "planner", activityType: "plan", description: "late step" }));
  await logger.flush();
  const pub = path.join(projectPath, "signing.pub.pem");
  fs.writeFileSync(pub, createPublicKey(o.privateKey).export({ type: "spki", format: "pem" }).toString());
  return { auditDir: logger.auditDir, pub, logger };
}

const signer = generateKeyPairSync("ed25519");
let enc: Built;
let out: string;

beforeAll(async () => {
  enc = await build({ encrypt: true, privateKey: signer.privateKey });
  out = tmpProject("audit-proofs-out-");
}, 60_000);

afterAll(async () => {
  await enc.logger.finalizeSession();
  cleanupTmp();
});

async function exportAlice(file: string, extra: string[] = [], from = enc): Promise<void> {
  const r = await runCli(["export", from.auditDir, "--format", "json", "--out", file, "--user", "alice", "--proofs", ...extra]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain("each carries its inclusion proof");
}

async function verifyJson(file: string, extra: string[] = [], pub = enc.pub): Promise<{ code: number | null; report: ExportProofReport; stderr: string }> {
  const r = await runCli(["verify", "--export", file, "--public-key", pub, "--json", ...extra]);
  return { code: r.code, report: JSON.parse(r.stdout) as ExportProofReport, stderr: r.stderr };
}

const problemKinds = (r: ExportProofReport) => [...new Set(r.problems.map((p) => p.kind))].sort();

describe("export --proofs and verify --export", () => {
  let alice: string;
  beforeAll(async () => {
    alice = path.join(out, "alice.json");
    await exportAlice(alice);
  }, 60_000);

  it("a user's export with proofs verifies with the public key alone; the record newer than the last checkpoint is named as uncovered", async () => {
    const doc = JSON.parse(fs.readFileSync(alice, "utf8")) as { proofs: { checkpoints: unknown[] }; records: Record<string, Array<{ userId: string; seq: number; proof: { status: string } }>> };
    expect(doc.proofs.checkpoints).toHaveLength(1);
    const all = Object.values(doc.records).flat();
    expect(all.map((x) => x.userId)).toEqual(all.map(() => "alice"));
    const { code, report } = await verifyJson(alice);
    expect(report.problems).toEqual([]);
    expect(code).toBe(0);
    // ok (exit 0), and yet not every record proven: a status of its own, naming the session
    expect(report.ok).toBe(true);
    expect(report.status).toBe("unproven");
    expect(report.unprovenSessions).toEqual(["enc"]);
    // alice: personas seq 1, 3, 5 and the late one (6); tools seq 1, 3, 5
    expect(report.records.map((r) => `${r.type} ${r.seq} ${r.status}`)).toEqual([
      "persona_activity 1 proven",
      "persona_activity 3 proven",
      "persona_activity 5 proven",
      "persona_activity 6 uncovered",
      "tool_usage 1 proven",
      "tool_usage 3 proven",
      "tool_usage 5 proven",
    ]);
    const uncovered = report.notes.filter((n) => n.kind === "record_uncovered");
    expect(uncovered.map((n) => n.seq)).toEqual([6]);
    expect(uncovered[0]!.detail).toContain("newer than session enc's last checkpoint");
    // (tool payloads are withheld and encrypted in the log: what is checked is their ciphertext)
    expect(report.records.find((r) => r.type === "tool_usage")!.unchecked).toEqual(["parameters", "result", "encryptedWithoutKey", "contentWithheld"]);
    expect(report.records.find((r) => r.type === "persona_activity")!.unchecked).toBeUndefined();

    const text = await runCli(["verify", "--export", alice, "--public-key", enc.pub]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/note record_uncovered .* seq 6: The persona_activity record/);
    expect(text.stdout).toContain("6 of 7 records proven against signed checkpoints; 1 not covered by a signed checkpoint yet");
    expect(text.stdout.trimEnd().split("\n").at(-1)).toBe("NOT PROVEN 1 of 7 records (session enc) has no proof against a signed checkpoint: nothing but the exporter vouches for it. Use --require-signed to fail on this.");
  }, 60_000);

  it("--require-signed: the uncovered record is a problem (not_signed), exit 1", async () => {
    const { code, report } = await verifyJson(alice, ["--require-signed"]);
    expect(code).toBe(1);
    expect(problemKinds(report)).toEqual(["not_signed"]);
    expect(report.problems[0]!.seq).toBe(6);
    expect(report.status).toBe("failed");
  }, 60_000);

  /** A copy of alice's export with `edit` applied to its text. */
  function edited(name: string, edit: (text: string) => string): string {
    const file = path.join(out, name);
    const text = fs.readFileSync(alice, "utf8");
    const changed = edit(text);
    expect(changed).not.toBe(text);
    fs.writeFileSync(file, changed);
    return file;
  }

  type EditedRecord = Record<string, unknown> & { proof: { written?: Record<string, unknown>; added?: string[] } };

  /** A copy of alice's export, parsed, edited by `edit` and written back (in another layout: read whole). */
  function editedDoc(name: string, edit: (personas: EditedRecord[]) => void): string {
    const file = path.join(out, name);
    const doc = JSON.parse(fs.readFileSync(alice, "utf8")) as { records: Record<string, EditedRecord[]> };
    edit(doc.records.persona_activities!);
    fs.writeFileSync(file, JSON.stringify(doc, null, 1));
    return file;
  }

  /** verify --export of `file` fails (exit 1) with problems of `kind` only, at `seqs` (undefined: a problem naming no seq). */
  async function expectProblems(file: string, kind: string, seqs: Array<number | undefined>): Promise<ExportProofReport> {
    const { code, report } = await verifyJson(file);
    expect(code).toBe(1);
    expect(problemKinds(report)).toEqual([kind]);
    expect(report.problems.map((p) => p.seq)).toEqual(seqs);
    return report;
  }

  it("one exported record's field altered: record_modified, naming that record", async () => {
    const file = edited("field.json", (t) => t.replace('"description":"step 2"', '"description":"step 7"'));
    const { code, report } = await verifyJson(file);
    expect(code).toBe(1);
    expect(problemKinds(report)).toEqual(["record_modified"]);
    expect(report.problems[0]!.seq).toBe(3);
    expect(report.records.filter((r) => r.status === "failed").map((r) => `${r.type} ${r.seq}`)).toEqual(["persona_activity 3"]);
  }, 60_000);

  it("the field altered and the record's hash recomputed to match: proof_mismatch", async () => {
    const file = editedDoc("field-rehashed.json", ([, rec]) => {
      rec!.description = "step 7";
      const rebuilt = rebuildWritten(rec!, rec!.proof.written ?? {}, []);
      rec!.hash = computeRecordHash(String(rebuilt.prevHash), rebuilt);
    });
    await expectProblems(file, "proof_mismatch", [3]);
  }, 60_000);

  it("the field altered with its signed value moved into the proof's written (or an invented member listed as added): proof_malformed", async () => {
    const file = editedDoc("field-written.json", ([first, second]) => {
      first!.proof.written = { ...first!.proof.written, description: first!.description };
      first!.description = "approved by the board";
      second!.approvedBy = "the board";
      second!.proof.added = ["approvedBy"];
    });
    const report = await expectProblems(file, "proof_malformed", [1, 3]);
    expect(report.problems[0]!.detail).toContain("written.description");
  }, 60_000);

  it("a proof's written given a member named __proto__ (an own member, as JSON.parse reads it): proof_malformed naming it; it was dropped unread, the record proven", async () => {
    const file = editedDoc("written-proto.json", ([rec]) => {
      rec!.proof.written = JSON.parse(`{"__proto__":"approved by the board",${JSON.stringify(rec!.proof.written ?? {}).slice(1)}`) as Record<string, unknown>;
    });
    expect(fs.readFileSync(file, "utf8")).toContain('"__proto__": "approved by the board"');
    const report = await expectProblems(file, "proof_malformed", [1]);
    expect(report.problems[0]!.detail).toContain("written.__proto__");
  }, 60_000);

  it("an edited record whose proof is replaced by an 'uncovered' claim, though a checkpoint the export holds covers it: proof_missing", async () => {
    const file = editedDoc("claimed-uncovered.json", ([rec]) => {
      rec!.description = "approved by the board";
      (rec as Record<string, unknown>).proof = { status: "uncovered", detail: "not signed yet" };
    });
    await expectProblems(file, "proof_missing", [1]);
  }, 60_000);

  it("one hash of an audit path altered: proof_mismatch", async () => {
    const file = edited("path.json", (t) => {
      const m = /"path":\["([0-9a-f])/.exec(t)!;
      return t.slice(0, m.index) + `"path":["${m[1] === "0" ? "1" : "0"}` + t.slice(m.index + m[0].length);
    });
    const { code, report } = await verifyJson(file);
    expect(code).toBe(1);
    expect(problemKinds(report)).toEqual(["proof_mismatch"]);
    expect(report.problems).toHaveLength(1);
  }, 60_000);

  it("the checkpoint's body altered: checkpoint_modified (and its signature no longer verifies); with its hash recomputed: checkpoint_signature_invalid", async () => {
    const body = edited("body.json", (t) => t.replace(/"reason":"[a-z]+"/, '"reason":"edited"'));
    const a = await verifyJson(body);
    expect(a.code).toBe(1);
    expect(problemKinds(a.report)).toEqual(["checkpoint_modified", "checkpoint_signature_invalid"]);
    // every record resting on it is failed, none proven
    expect(a.report.records.filter((r) => r.status === "proven")).toEqual([]);

    const file = path.join(out, "body-rehashed.json");
    const doc = JSON.parse(fs.readFileSync(body, "utf8")) as { proofs: { checkpoints: Array<{ checkpoint: unknown; hash: string }> } };
    const cp = doc.proofs.checkpoints[0]!;
    cp.hash = createHash("sha256").update(JSON.stringify(cp.checkpoint)).digest("hex");
    fs.writeFileSync(file, JSON.stringify(doc));
    const b = await verifyJson(file);
    expect(b.code).toBe(1);
    expect(problemKinds(b.report)).toEqual(["checkpoint_signature_invalid"]);
  }, 60_000);

  it("the checkpoint's signature altered: checkpoint_signature_invalid", async () => {
    const file = edited("sig.json", (t) => t.replace(/"signature":"([A-Za-z0-9+/])/, (_m, c: string) => `"signature":"${c === "A" ? "B" : "A"}`));
    const { code, report } = await verifyJson(file);
    expect(code).toBe(1);
    expect(problemKinds(report)).toEqual(["checkpoint_signature_invalid"]);
  }, 60_000);

  it("a wrong public key: checkpoint_unknown_key, exit 1", async () => {
    const other = path.join(out, "other.pub.pem");
    fs.writeFileSync(other, generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }).toString());
    const { code, report } = await verifyJson(alice, [], other);
    expect(code).toBe(1);
    expect(problemKinds(report)).toEqual(["checkpoint_unknown_key"]);
    expect(report.records.filter((r) => r.status === "proven")).toEqual([]);
  }, 60_000);

  it("a record without its proof, or an export made without --proofs: proof_missing, export_malformed", async () => {
    const file = edited("noproof.json", (t) => {
      const lines = t.split("\n");
      const i = lines.findIndex((l) => l.includes('"proof":{"status":"covered"'));
      const comma = lines[i]!.endsWith(",");
      const rec = JSON.parse(comma ? lines[i]!.slice(0, -1) : lines[i]!) as Record<string, unknown>;
      delete rec.proof;
      lines[i] = JSON.stringify(rec) + (comma ? "," : "");
      return lines.join("\n");
    });
    const a = await verifyJson(file);
    expect(a.code).toBe(1);
    expect(problemKinds(a.report)).toEqual(["proof_missing"]);

    const plain = path.join(out, "plain.json");
    const r = await runCli(["export", enc.auditDir, "--format", "json", "--out", plain, "--user", "alice"]);
    expect(r.code, r.stderr).toBe(0);
    const b = await verifyJson(plain);
    expect(b.code).toBe(1);
    expect(problemKinds(b.report)).toEqual(["export_malformed"]);
  }, 60_000);

  it("a proven record shown twice (or a seq claimed by two records): duplicate_record, naming the second", async () => {
    const file = editedDoc("duplicated.json", (personas) => {
      personas.push(structuredClone(personas[0]!));
    });
    await expectProblems(file, "duplicate_record", [1]);
  }, 60_000);

  it("a member given twice, the signed value last (what JSON.parse keeps) and another first (what a first-wins reader shows): duplicate_member, in the exporter's layout and in another", async () => {
    const inLayout = edited("dup-member.json", (t) => t.replace('"description":"step 2"', '"description":"approved by the board","description":"step 2"'));
    await expectProblems(inLayout, "duplicate_member", [3]);
    const pretty = edited("dup-member-pretty.json", (t) => JSON.stringify(JSON.parse(t), null, 1).replace('"description": "step 2"', '"description": "approved by the board",\n"description": "step 2"'));
    await expectProblems(pretty, "duplicate_member", [3]);
    // (the whole document's records given twice: the header's first, the exporter's last)
    const header = edited("dup-records.json", (t) => t.replace('\n"proofs":', '\n"records":{"persona_activities":[{"description":"approved by the board"}]},\n"proofs":'));
    await expectProblems(header, "duplicate_member", [undefined]);
  }, 60_000);

  it("an edited record claiming 'uncovered' with its seq made a string (or left out), so that no checkpoint seems to cover it: proof_malformed", async () => {
    const file = editedDoc("uncovered-seq.json", ([first, second]) => {
      first!.description = "approved by the board";
      first!.seq = "1";
      (first as Record<string, unknown>).proof = { status: "uncovered", detail: "not signed yet" };
      second!.description = "approved by the board";
      delete second!.seq;
      (second as Record<string, unknown>).proof = { status: "uncovered", detail: "not signed yet" };
    });
    await expectProblems(file, "proof_malformed", [undefined, undefined]);
  }, 60_000);

  it("a record of another directory's log with the same session id and signing key, carried with that log's checkpoint: fork (an export carries one checkpoint per session)", async () => {
    const projectPath = tmpProject("audit-proofs-other-");
    const other = new AuditLogger({ sessionId: "enc", projectPath, durability: "sync", signingKey: signer.privateKey, checkpointEvery: { records: 3, seconds: 3600 }, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    for (let i = 0; i < 9; i++) auditContext.run({ userId: "alice" }, () => other.logPersonaActivity({ personaName: "planner", activityType: "plan", description: `approved ${i}` }));
    await other.finalizeSession();
    const theirs = path.join(out, "other-alice.json");
    await exportAlice(theirs, [], { auditDir: other.auditDir, pub: enc.pub, logger: other });
    const o = JSON.parse(fs.readFileSync(theirs, "utf8")) as { proofs: { checkpoints: Array<{ checkpoint: { n: number } }> }; records: Record<string, EditedRecord[]> };
    const graft = o.records.persona_activities!.find((r) => r.seq === 8)!;
    const file = path.join(out, "grafted.json");
    const doc = JSON.parse(fs.readFileSync(alice, "utf8")) as { proofs: { checkpoints: Array<{ checkpoint: { n: number } }> }; records: Record<string, EditedRecord[]> };
    expect(o.proofs.checkpoints[0]!.checkpoint.n).not.toBe(doc.proofs.checkpoints[0]!.checkpoint.n);
    doc.proofs.checkpoints.push(o.proofs.checkpoints[0]!);
    // (alice's record newer than her log's checkpoint is left out: the other checkpoint covers its seq)
    doc.records.persona_activities = [...doc.records.persona_activities!.filter((r) => (r.proof as { status?: string }).status === "covered"), graft];
    fs.writeFileSync(file, JSON.stringify(doc, null, 1));
    const report = await expectProblems(file, "fork", [undefined]);
    expect(report.records.find((r) => r.seq === 8)!.status).toBe("failed");
  }, 60_000);

  it("records under a name no kind has, or a kind's member that is no list, which the check would pass over: export_malformed", async () => {
    const extra = edited("extra-kind.json", (t) => {
      const doc = JSON.parse(t) as { records: Record<string, unknown[]> };
      doc.records.approvals = [{ ...(doc.records.persona_activities![0] as object), description: "approved by the board" }];
      return JSON.stringify(doc, null, 1);
    });
    await expectProblems(extra, "export_malformed", [undefined]);
    const notList = edited("not-list.json", (t) => {
      const doc = JSON.parse(t) as { records: Record<string, unknown> };
      doc.records.tool_usages = { ...(doc.records.tool_usages as unknown[]) };
      return JSON.stringify(doc, null, 1);
    });
    await expectProblems(notList, "export_malformed", [undefined]);
  }, 60_000);

  it("a member only a chat's export adds (content) listed as added to another kind's record: proof_malformed", async () => {
    const file = editedDoc("content-added.json", ([first]) => {
      first!.content = { prompt: "transfer everything", response: "approved" };
      first!.proof.added = [...(first!.proof.added ?? []), "content"];
    });
    await expectProblems(file, "proof_malformed", [1]);
  }, 60_000);

  it("usage: --export needs --public-key and no <dir>; --proofs only with --format json (exit 2)", async () => {
    const a = await runCli(["verify", "--export", alice]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("--export needs --public-key");
    const b = await runCli(["verify", enc.auditDir, "--export", alice, "--public-key", enc.pub]);
    expect(b.code).toBe(2);
    const c = await runCli(["export", enc.auditDir, "--format", "csv", "--out", path.join(out, "csv"), "--proofs"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("--proofs only applies to --format json");
  }, 60_000);
});

describe("export --proofs of a log that is not encrypted", () => {
  let plain: Built;
  beforeAll(async () => {
    plain = await build({ encrypt: false, privateKey: signer.privateKey });
  }, 60_000);
  afterAll(async () => {
    await plain.logger.finalizeSession();
  });

  it("without content: no checkpoint and no proof for its session (they would confirm a guess of the withheld content), each record saying so", async () => {
    const file = path.join(out, "plain-alice.json");
    await exportAlice(file, [], plain);
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { proofs: { checkpoints: unknown[] } };
    expect(doc.proofs.checkpoints).toEqual([]);
    const { code, report } = await verifyJson(file, [], plain.pub);
    expect(code).toBe(0);
    expect([...new Set(report.records.map((r) => r.status))]).toEqual(["withheld"]);
    expect(report.notes.filter((n) => n.kind === "proof_withheld")).toHaveLength(7);
  }, 60_000);

  it("with content: every covered record is proven, nothing shown otherwise than as written", async () => {
    const file = path.join(out, "plain-alice-content.json");
    await exportAlice(file, ["--include-content"], plain);
    const { code, report } = await verifyJson(file, [], plain.pub);
    expect(report.problems).toEqual([]);
    expect(code).toBe(0);
    expect(report.records.map((r) => r.status)).toEqual(["proven", "proven", "proven", "uncovered", "proven", "proven", "proven"]);
    expect(report.records.every((r) => r.unchecked === undefined)).toBe(true);
  }, 60_000);
});
