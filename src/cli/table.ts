/** Plain-text tables for the terminal: left-aligned text, right-aligned numbers, one header rule. */
import { stripAnsi } from "./color.js";

export type Cell = string | number | null | undefined;

export interface Column {
  readonly title: string;
  /** right-align (numbers); default: right when every value is a number */
  readonly align?: "left" | "right";
}

/** Formats a number for a table: integers with thousands separators, others to `digits` places. */
export function num(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "-";
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "1 call", "9 calls". */
export function calls(n: number): string {
  return `${num(n)} call${n === 1 ? "" : "s"}`;
}

/** What the tokens line of `summary` and `report` counts. */
export interface TokenCounts {
  readonly total: number;
  readonly input: number;
  readonly output: number;
  readonly callsWithoutTokenSplit: number;
  readonly callsWithoutTokens: number;
}

/**
 * The tokens line: the total, the input/output split where calls gave one (and `more`), and the
 * calls that gave no split or no counts; an unknown split is never shown as zeros.
 *
 * @example
 * tokensText({ total: 45, input: 0, output: 0, callsWithoutTokenSplit: 1, callsWithoutTokens: 0 }) // "45 (input/output not given for 1 call)"
 */
export function tokensText(t: TokenCounts, more: readonly string[] = []): string {
  // (every call that gave tokens gave no split: the zeros would be unknowns)
  const split = t.input === 0 && t.output === 0 && t.callsWithoutTokenSplit > 0 ? [] : [`input ${num(t.input)}`, `output ${num(t.output)}`];
  const notes = [
    t.callsWithoutTokenSplit > 0 ? `input/output not given for ${calls(t.callsWithoutTokenSplit)}` : "",
    t.callsWithoutTokens > 0 ? `no token counts for ${calls(t.callsWithoutTokens)}` : "",
  ];
  return `${num(t.total)} (${[[...split, ...more].join(", "), ...notes].filter((x) => x !== "").join("; ")})`;
}

/** A ratio as a percentage, "-" without a value. */
export function pct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "-" : `${(v * 100).toFixed(1)}%`;
}

/**
 * Renders rows under their column titles, two spaces apart.
 *
 * @example
 * table([{ title: "model" }, { title: "calls", align: "right" }], [["gpt-4o", 12]]);
 */
export function table(columns: readonly Column[], rows: readonly (readonly Cell[])[], indent = "  "): string {
  const text = rows.map((r) => columns.map((_, i) => cellText(r[i])));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...text.map((r) => stripAnsi(r[i]!).length)));
  const right = columns.map((c, i) => c.align === "right" || (c.align === undefined && rows.length > 0 && rows.every((r) => typeof r[i] === "number")));
  const line = (cells: readonly string[]) =>
    indent +
    cells
      .map((s, i) => {
        const pad = " ".repeat(widths[i]! - stripAnsi(s).length);
        return right[i] ? pad + s : i === cells.length - 1 ? s : s + pad;
      })
      .join("  ");
  return [line(columns.map((c) => c.title)), line(widths.map((w) => "-".repeat(w))), ...text.map(line)].join("\n");
}

function cellText(v: Cell): string {
  if (v === null || v === undefined) return "-";
  return typeof v === "number" ? num(v) : v;
}
