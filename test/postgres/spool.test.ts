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
});
