// firstSessionId (the owner check of every listing: `tool_usage_a.1.jsonl` is segment 1 of "a" or
// the file of a session "a.1") reads into one buffer shared by every call since 2026-12-05, and
// decodes the first line's bytes only. Nothing of a file read before may show through, and only
// the first line counts.
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { firstSessionId } from "../../src/sink/files.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterAll(cleanupTmp);

describe("firstSessionId", () => {
  it("reads each file's first line, whatever the file read before it held", () => {
    const d = tmpProject("first-session-");
    const file = (name: string, text: string) => {
      const p = path.join(d, name);
      fs.writeFileSync(p, text);
      return p;
    };
    const long = file("long.jsonl", `{"id":"${"x".repeat(20_000)}","sessionId":"long"}\n{"sessionId":"second"}\n`);
    const short = file("short.jsonl", `{"id":"y"`);
    const secondLine = file("second.jsonl", `{"id":"z"}\n{"sessionId":"second"}\n`);
    const wide = file("wide.jsonl", `{"note":"é中😀","sessionId":"wide.1"}\n`);
    const beyond = file("beyond.jsonl", `{"id":"${"x".repeat(70_000)}","sessionId":"far"}\n`);
    expect(firstSessionId(long)).toBe("long");
    expect(firstSessionId(short)).toBeUndefined(); // (the long file's bytes are still in the buffer past this one's end)
    expect(firstSessionId(secondLine)).toBeUndefined();
    expect(firstSessionId(wide)).toBe("wide.1");
    expect(firstSessionId(beyond)).toBeUndefined(); // (read from the first 64 KiB only)
    expect(firstSessionId(long)).toBe("long");
  });
});
