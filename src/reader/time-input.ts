/**
 * The times a query takes (`since`, `until`, the CLI's `--since`/`--until`): a Date, epoch
 * milliseconds, or an ISO 8601 string. A string is ISO 8601 only (a date, or a date and time with
 * or without seconds and fractions), and one without an offset is UTC, as a date alone is in
 * JavaScript and as every time the kit writes is. (`Date.parse` took "2025-05-01T10:00:00" as the
 * machine's local time and "5" as May 2001; found by review, 2026-12-04.)
 */
import type { TimeInput } from "./query.js";

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Epoch milliseconds of `v`, or NaN when it is no such time. */
export function timeMillis(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === "number") return Number.isFinite(v) ? new Date(v).getTime() : Number.NaN;
  if (typeof v !== "string") return Number.NaN;
  const text = v.trim();
  const m = ISO_TIME.exec(text);
  if (!m) return Number.NaN;
  // a date that does not exist (February 30th) or 24:00 is no time: Date.parse rolled it over
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d || h > 23 || mi > 59 || sec > 59) return Number.NaN;
  // a date and time without an offset: UTC
  return Date.parse(m[4] !== undefined && m[7] === undefined ? `${text}Z` : text);
}

/** The first and last millisecond of the years 0001-9999: the records' timestamps, and PostgreSQL's input, have four-digit years. */
const FIRST_MS = Date.parse("0001-01-01T00:00:00.000Z");
const LAST_MS = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * `v` as an ISO 8601 UTC string (the caller checked it is a time), clamped to the years 0001-9999.
 * Found by review, 2026-12-04: a time beyond them (up to JavaScript's ±8.64e15 ms) became an
 * extended-year string such as "+275760-09-13T00:00:00.000Z", which sorts below "2026-…" (the file
 * viewer's `until: 8.64e15` matched nothing) and which PostgreSQL refused (a raw DatabaseError,
 * 22009, from the store's viewer).
 */
export function isoTime(v: TimeInput): string {
  return new Date(Math.min(LAST_MS, Math.max(FIRST_MS, timeMillis(v)))).toISOString();
}
