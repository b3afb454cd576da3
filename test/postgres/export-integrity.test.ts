import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditExporter, AuditLogger, AuditViewer, verifyExport } from "../../src/index.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { dropSchema, freshSchema, PG_URL } from "../fixtures/postgres/db.js";

const schemas: string[] = [];
afterEach(async () => {
  for (const s of schemas.splice(0)) await dropSchema(s);
  cleanupTmp();
});

describe("a directory export of the PostgreSQL store", () => {
  it("holds each session's audit_event chain (legal holds and their releases) under integrity/, as one of the files does; the manifest's heads and verify count it", async () => {
    const schema = freshSchema("expint");
    schemas.push(schema);
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "held", projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "before" });
    const hold = logger.placeLegalHold("case 2026-117");
    logger.logToolUsage({ toolName: "t", operation: "during" });
    logger.releaseLegalHold(hold, "case closed");
    await logger.finalizeSession();
    const auditDir = logger.auditDir;
    const events = fs.readFileSync(path.join(auditDir, "audit_events_held.jsonl"), "utf8");
    expect(events.trimEnd().split("\n")).toHaveLength(2);

    const fromFiles = path.join(tmpProject(), "files");
    const fromStore = path.join(tmpProject(), "store");
    await new AuditExporter(new AuditViewer({ auditPath: auditDir })).exportCompleteAuditToDirectory(fromFiles);
    const r = await new AuditExporter(new AuditViewer({ postgres: { connectionString: PG_URL, schema } })).exportCompleteAuditToDirectory(fromStore);

    // the store's chain, byte for byte the lines of the files, listed and digested by the manifest
    expect(fs.readFileSync(path.join(fromStore, "integrity", "audit_events_held.jsonl"), "utf8")).toBe(events);
    expect(r.files).toContain("integrity/audit_events_held.jsonl");
    const heads = (dir: string) => (JSON.parse(fs.readFileSync(path.join(dir, "export_manifest.json"), "utf8")) as { manifest: { sessions: { heads: Record<string, { seq: number; hash: string }> }[] } }).manifest.sessions[0]!.heads;
    expect(heads(fromStore).audit_event).toEqual(heads(fromFiles).audit_event);
    expect(heads(fromStore).audit_event!.seq).toBe(2);
    const v = await verifyExport(fromStore);
    expect(v.problems).toEqual([]);
    expect(v.recordsChecked).toBe((await verifyExport(fromFiles)).recordsChecked);

    // an edited event in the export is caught, as in an export of the files
    const file = path.join(fromStore, "integrity", "audit_events_held.jsonl");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("case closed", "case opened"));
    expect((await verifyExport(fromStore)).ok).toBe(false);
  });
});

describe("a directory export with no audit_event chain, of the store and of the files", () => {
  it("holds the same files, and neither an integrity/ folder (none is written for a session with no chain), as verifyExport and the docs describe", async () => {
    // (the files' export made an empty integrity/ folder: the copy made the folder before it knew
    // there was anything to copy, an empty audit_events file or no line in it; the store's export
    // made none; found by the session-status pass, 2026-12-05)
    const schema = freshSchema("expnone");
    schemas.push(schema);
    const projectPath = tmpProject();
    for (const sessionId of ["first", "second"]) {
      const logger = new AuditLogger({ sessionId, projectPath, sinks: [new PostgresSink({ connectionString: PG_URL, schema })], fullContentLogging: false });
      logger.logToolUsage({ toolName: "t", operation: sessionId });
      await logger.finalizeSession();
    }
    const auditDir = path.join(projectPath, "audit_logs");
    expect(fs.readdirSync(auditDir).filter((f) => f.startsWith("audit_events_") && fs.statSync(path.join(auditDir, f)).size > 0)).toEqual([]);

    const fromFiles = path.join(tmpProject(), "files");
    const fromStore = path.join(tmpProject(), "store");
    const f = await new AuditExporter(new AuditViewer({ auditPath: auditDir })).exportCompleteAuditToDirectory(fromFiles);
    const s = await new AuditExporter(new AuditViewer({ postgres: { connectionString: PG_URL, schema } })).exportCompleteAuditToDirectory(fromStore);
    expect(fs.readdirSync(fromStore).sort()).toEqual(fs.readdirSync(fromFiles).sort());
    expect(fs.existsSync(path.join(fromFiles, "integrity"))).toBe(false);
    expect(fs.existsSync(path.join(fromStore, "integrity"))).toBe(false);
    expect([...s.files].sort()).toEqual([...f.files].sort());
    for (const dir of [fromFiles, fromStore]) {
      const v = await verifyExport(dir);
      expect(v.problems, dir).toEqual([]);
      expect(v.ok, dir).toBe(true);
    }
  });
});
