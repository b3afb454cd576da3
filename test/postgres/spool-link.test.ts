// A link named like a session's own PostgreSQL spool (`.pg_spool_<store>_<sessionId>.jsonl`, a
// name built from the session id) when its sink opens (found by a security pass, 2026-12-05):
// the sink took the spool's size through the link and cut its "torn tail" with a plain "r+", so
// the file the link named, outside the audit directory, was truncated to its last newline, and
// the sink reported that file's bytes as records still spooled.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";
import { freePort, freshSchema, PgProxy } from "../fixtures/postgres/db.js";

const proxies: PgProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.stop();
  cleanupTmp();
});

describe("a link named like a session's own spool", () => {
  it("is never opened by its sink: the file it names is left as it was, the failure reported naming the link", async () => {
    const store = new PgProxy(await freePort()); // down: the sink spools
    proxies.push(store);
    const schema = freshSchema("splink");
    const projectPath = tmpProject();
    const dir = path.join(projectPath, "audit_logs");
    // the spool's name for this store: the one a first session of the directory left
    const first = new AuditLogger({ sessionId: "first", projectPath, sinks: [new PostgresSink({ connectionString: store.url, schema, closeTimeoutMs: 300 })], fullContentLogging: false });
    first.on("error", () => undefined);
    first.logToolUsage({ toolName: "t", operation: "op" });
    await first.finalizeSession();
    const spool = fs.readdirSync(dir).find((n) => n.startsWith(".pg_spool_") && n.endsWith("_first.jsonl"));
    expect(spool).toBeDefined();
    const outside = path.join(tmpProject(), "notes.txt");
    const text = "a line of the app user's\nand one without its newline";
    fs.writeFileSync(outside, text);
    const link = path.join(dir, spool!.replace(/_first\.jsonl$/, "_second.jsonl"));
    fs.symlinkSync(outside, link);

    const second = new AuditLogger({ sessionId: "second", projectPath, sinks: [new PostgresSink({ connectionString: store.url, schema, closeTimeoutMs: 300 })], fullContentLogging: false });
    second.on("error", () => undefined);
    second.logToolUsage({ toolName: "t", operation: "op" });
    await second.finalizeSession();
    expect(fs.readFileSync(outside, "utf8")).toBe(text);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    // (the sink opens in the logger's constructor, before a listener can be added: its report is
    // the errors record, and the process warning)
    const recorded = readJsonl<{ errorType: string; message: string }>(path.join(dir, "errors_second.jsonl"));
    expect(recorded).toContainEqual(expect.objectContaining({ errorType: "audit_write_failed", message: expect.stringContaining(`${path.basename(link)} is a symbolic link, not a regular file`) }));
    // the outage's report says where the records are: with no spool, in the session's files
    // (it said "kept in the spool (none)")
    const outage = recorded.find((r) => r.message.startsWith("PostgresSink cannot store records"));
    expect(outage?.message).toContain("The spool could not be opened: they are in the session's files only");
    expect(outage?.message).not.toContain("(none)");
  }, 60_000);
});
