// Records' timestamps are written by isoTime(), which keeps the text up to the second between
// calls: it must give exactly what Date#toISOString gives, in any order of calls.
import { describe, expect, it } from "vitest";
import { isoTime } from "../../src/record/time.js";

describe("isoTime", () => {
  it("equals new Date(t).toISOString() at the edges of a second, before 1970, beyond year 9999, and in any order", () => {
    const base = Date.UTC(2026, 11, 2, 4, 41, 27);
    const times = [
      base, base + 1, base + 9, base + 10, base + 99, base + 100, base + 999, base + 1000, base - 1, base + 5, // same second again, after others
      0, -1, -999, -1000, -1001, Date.UTC(1969, 0, 1, 0, 0, 0, 7),
      Date.UTC(10000, 0, 1, 0, 0, 0, 42), -62198755200000 /* year -0001 */, 8.64e15, -8.64e15,
    ];
    for (let i = 0; i < 2000; i++) times.push(Math.floor(base + (Math.random() - 0.5) * 86_400_000 * 400));
    for (const t of times) expect(isoTime(t), String(t)).toBe(new Date(t).toISOString());
  });

  it("a time that is not an integer number of milliseconds is left to Date, as before (it throws for an invalid one)", () => {
    expect(isoTime(1.5)).toBe(new Date(1.5).toISOString());
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    expect(() => isoTime(8.64e15 + 1)).toThrow(RangeError);
  });
});
