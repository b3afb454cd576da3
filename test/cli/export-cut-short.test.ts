/**
 * A directory export whose integrity/ file the disk cuts short (a file-size limit, or a full disk:
 * a short write, then EFBIG or ENOSPC). The audit_event chain was copied into integrity/ one
 * write(2) per line, whose count nobody checked: a last line cut short there was renamed into place
 * as written, listed and digested by the manifest, and the command said "wrote" and exited 0 (found
 * by the durability pass, 2026-12-06). Real child process, `audit-logger export` under util-linux
 * `prlimit --fsize`, over an audit directory and over the PostgreSQL store (whose chain is written
 * from the store's lines, by another writer).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AuditLogger, verifyExport } from "../../src/index.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { tmpProject, walk } from "../helpers/index.js";
import { pgTestScope, PG_URL } from "../fixtures/postgres/db.js";
import { runCli } from "./helpers.js";

const { schemaFor } = pgTestScope();

/** One session whose audit_event chain (four holds placed and released, long reasons) is the export's largest file by far. */
async function heldTrail(schema?: string): Promise<string> {
  const projectPath = tmpProject("audit-cut-");
  const logger = new AuditLogger({ sessionId: "held", projectPath, fullContentLogging: false, sinks: schema ? [new PostgresSink({ connectionString: PG_URL, schema })] : undefined });
  logger.logToolUsage({ toolName: "t", operation: "one" });
  for (let i = 0; i < 4; i++) logger.releaseLegalHold(logger.placeLegalHold(`case ${i} `.padEnd(1500, "x")), `closed ${i} `.padEnd(1500, "y"));
  await logger.finalizeSession();
  return projectPath;
}

const CHAIN = path.join("integrity", "audit_events_held.jsonl");

for (const source of ["an audit directory", "the PostgreSQL store"] as const) {
  describe(`audit-logger export --format dir of ${source}, its integrity/ chain cut short by the disk`, () => {
    it("fails with AUDIT_ERR_IO naming the file, exit code 1, and leaves no part of it nor a manifest; the same export then succeeds and verifies", async () => {
      const schema = source === "the PostgreSQL store" ? schemaFor("cutshort") : undefined;
      const projectPath = await heldTrail(schema);
      const from = schema === undefined ? [projectPath] : ["--postgres", PG_URL, "--schema", schema];
      const out = (name: string) => path.join(tmpProject("audit-cut-out-"), name);

      // unlimited: the size of the chain file, and every other file well under it
      const whole = out("whole");
      const w = await runCli(["export", ...from, "--format", "dir", "--out", whole]);
      expect(w.code, w.stderr).toBe(0);
      const size = fs.statSync(path.join(whole, CHAIN)).size;
      for (const f of walk(whole).filter((f) => !f.endsWith(CHAIN))) expect(fs.statSync(f).size, f).toBeLessThan(size - 500);

      // the limit falls inside the chain's last line: its write is cut short there, the rest fit
      const cut = out("cut");
      const r = await runCli(["export", ...from, "--format", "dir", "--out", cut], { fileSizeLimit: size - 100 });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.signal).toBe(null);
      expect(r.stderr).toContain("[AUDIT_ERR_IO]");
      expect(r.stderr).toContain(path.join(cut, CHAIN));
      expect(r.stdout).not.toContain("export_manifest.json");
      // nothing that looks written: no chain (whole or cut), no temporary file, no list, no manifest
      const left = fs.existsSync(cut) ? walk(cut).map((f) => path.relative(cut, f)) : [];
      expect(left.filter((f) => f.startsWith("integrity") || f.endsWith(".tmp") || f.endsWith(".pending") || f === "export_manifest.json" || f === "checksums.json"), left.join(", ")).toEqual([]);

      // lifted: the same export there is complete, the chain whole, and it verifies
      const again = await runCli(["export", ...from, "--format", "dir", "--out", cut]);
      expect(again.code, again.stderr).toBe(0);
      expect(fs.readFileSync(path.join(cut, CHAIN))).toEqual(fs.readFileSync(path.join(whole, CHAIN)));
      const v = await verifyExport(cut);
      expect(v.problems).toEqual([]);
    }, 120_000);
  });
}
