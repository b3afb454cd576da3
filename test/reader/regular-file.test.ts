/**
 * Every read-side open of a chain, session or key file goes through src/regular-file.ts: a FIFO
 * is refused at once (it hung the reader waiting for a writer), a symbolic link is never followed,
 * a directory is refused with a coded error (it was EISDIR deep in a reader).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NotRegularFileError, openRegularSync, readRegularFile } from "../../src/regular-file.js";
import { readLines, forEachLineBytes } from "../../src/reader/lines.js";
import { readLinesSync } from "../../src/reader/lines-sync.js";
import { firstSessionId } from "../../src/sink/files.js";
import { peekTail } from "../../src/sink/recover.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterAll(cleanupTmp);

function odd(): { fifo: string; link: string; dir: string; regular: string } {
  const d = tmpProject("audit-regular-");
  const regular = path.join(d, "errors_s.jsonl");
  fs.writeFileSync(regular, '{"id":"a","sessionId":"s"}\n');
  const fifo = path.join(d, "errors_f.jsonl");
  expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
  const link = path.join(d, "errors_l.jsonl");
  fs.symlinkSync(regular, link);
  const dir = path.join(d, "errors_d.jsonl");
  fs.mkdirSync(dir);
  return { fifo, link, dir, regular };
}

describe("openRegular", () => {
  it("refuses a FIFO, a link and a directory at once, with AUDIT_ERR_PATH; opens a regular file", async () => {
    const f = odd();
    for (const p of [f.fifo, f.link, f.dir]) {
      expect(() => openRegularSync(p)).toThrow(NotRegularFileError);
      await expect(readRegularFile(p)).rejects.toMatchObject({ code: "AUDIT_ERR_PATH" });
      expect(() => [...readLinesSync(p)]).toThrow(NotRegularFileError);
      await expect((async () => { for await (const _ of readLines(p)) void _; })()).rejects.toThrow(NotRegularFileError);
      await expect(forEachLineBytes(p, () => undefined)).rejects.toThrow(NotRegularFileError);
      expect(firstSessionId(p)).toBeUndefined();
      expect(peekTail(p)).toBeUndefined();
    }
    expect(() => openRegularSync(path.join(path.dirname(f.fifo), "none.jsonl"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
    expect(firstSessionId(f.regular)).toBe("s");
    expect([...readLinesSync(f.regular)]).toHaveLength(1);
  });
});
