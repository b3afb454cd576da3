/**
 * The times a query takes (`since`, `until`, the CLI's `--since`/`--until`): a Date, epoch
 * milliseconds, or an ISO 8601 string. A string is ISO 8601 only (a date, or a date and time with
 * or without seconds and fractions), and one without an offset is UTC, as a date alone is in
 * JavaScript and as every time the kit writes is. (`Date.parse` took "2025-05-01T10:00:00" as the
 * machine's local time and "5" as May 2001; found by review, 2026-12-04.)
 */
import type { TimeInput } from "./query.js";

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Epoch milliseconds of `v`, or NaN when it is no such time. */
export function timeMillis(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === "number") return Number.isFinite(v) ? new Date(v).getTime() : Number.NaN;
  if (typeof v !== "string") return Number.NaN;
  const m = ISO_TIME.exec(v.trim());
  if (!m) return Number.NaN;
  const text = v.trim();
  // a date and time without an offset: UTC
  return Date.parse(text.includes("T") || text.includes("t") ? (m[1] === undefined ? `${text}Z` : text) : text);
}

/** `v` as an ISO 8601 UTC string (the caller checked it is a time). */
export function isoTime(v: TimeInput): string {
  return new Date(timeMillis(v)).toISOString();
}
