import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { Redactor, type RedactionCounts } from "../../src/pipeline/redact.js";

const corpus = fs.readFileSync(new URL("../fixtures/redact/false-positives.txt", import.meta.url), "utf8");
const samples = corpus.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));

describe("false-positive corpus", () => {
  for (const mode of ["placeholder", "hmac"] as const) {
    const r = new Redactor(mode === "hmac" ? { replacement: "hmac", hmacKey: Buffer.alloc(32, 1) } : {});

    it(`${mode}: every sample line is left unchanged`, () => {
      expect(samples.length).toBeGreaterThan(80);
      const changed: string[] = [];
      const counts: RedactionCounts = {};
      for (const line of samples) {
        const out = r.redactText(line, counts);
        if (out !== line) changed.push(`${line}\n   => ${out}`);
      }
      expect(changed).toEqual([]);
      expect(counts).toEqual({});
    });

    it(`${mode}: the whole corpus as one text is left unchanged`, () => {
      const counts: RedactionCounts = {};
      expect(r.redactText(corpus, counts)).toBe(corpus);
      expect(counts).toEqual({});
    });

    it(`${mode}: the samples inside structured values are left unchanged`, () => {
      const value = { messages: samples.map((content, i) => ({ role: i % 2 ? "assistant" : "user", content })), meta: { n: samples.length } };
      const counts: RedactionCounts = {};
      expect(r.redactValue(value, counts, "parameters")).toEqual(value);
      expect(counts).toEqual({});
    });
  }
});
