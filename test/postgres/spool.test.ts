import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Spool } from "../../src/postgres/spool.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterEach(() => cleanupTmp());

describe("the PostgreSQL sink's spool", () => {
  it("cuts a torn final line longer than its 1 MiB read chunk whole: the next record is not glued to its rest", () => {
    const file = path.join(tmpProject(), ".pg_spool_s.jsonl");
    const torn = "x".repeat(2_500_000); // a crash in the middle of appending a 2.5 MB line
    fs.writeFileSync(file, '{"a":1}\n' + torn);
    const spool = new Spool(file);
    expect(spool.tornBytes).toBe(torn.length);
    expect(fs.readFileSync(file, "utf8")).toBe('{"a":1}\n');
    spool.append(['{"b":2}']);
    expect(spool.read(10).lines).toEqual(['{"a":1}', '{"b":2}']);
    spool.close();
  });

  it("a spool that is one torn line with no newline at all is cut to nothing", () => {
    const file = path.join(tmpProject(), ".pg_spool_t.jsonl");
    fs.writeFileSync(file, "y".repeat(3 * (1 << 20) + 5));
    const spool = new Spool(file);
    expect(spool.tornBytes).toBe(3 * (1 << 20) + 5);
    expect(spool.isEmpty).toBe(true);
    spool.append(['{"c":3}']);
    expect(spool.read(10).lines).toEqual(['{"c":3}']);
    spool.close();
  });

  // Found by a security pass, 2026-12-05: the spool's size was taken through a link and its torn
  // tail cut with a plain "r+": a link named like a spool made the sink truncate the file it
  // named (outside the audit directory) to its last newline.
  it("a link named like the spool is never opened: AUDIT_ERR_PATH naming it, the file it names as it was", () => {
    const dir = tmpProject();
    const outside = path.join(tmpProject(), "notes.txt");
    const text = "a line of the app user's\nand one without its newline";
    fs.writeFileSync(outside, text);
    const file = path.join(dir, ".pg_spool_l.jsonl");
    fs.symlinkSync(outside, file);
    expect(() => new Spool(file)).toThrow(expect.objectContaining({ code: "AUDIT_ERR_PATH", message: expect.stringContaining(".pg_spool_l.jsonl is a symbolic link, not a regular file") }));
    expect(fs.readFileSync(outside, "utf8")).toBe(text);
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(true);
  });
});
