/** `audit-logger report <dir>`: the analytics report as readable tables, or JSON. */
import fs from "node:fs";
import { z } from "zod";
import type { AnalyticsReport, LatencyStats, ModelPrice } from "../reader/analytics.js";
import { EXIT_FAIL, EXIT_OK, noAuditLogsLine, parseCommand, sessionOption, timeRangeOptions, UsageError } from "./args.js";
import { clean } from "./format.js";
import { toFieldIssues } from "../record/issues.js";
import type { CliIO, Command } from "./io.js";
import { calls, num, pct, table, tokensText } from "./table.js";
import { STORE_OPTIONS, storeHelp, storeTarget } from "./store.js";
import { openSource } from "./viewer-io.js";
import { reportFailedVerification, verifyCommandFor, verifyLogs, verifyStore, type Verification } from "./verdict.js";

const HOURLY_ROWS = 24;

const HELP = `Usage: audit-logger report <dir> [--session <id>] [--since <time>] [--until <time>]
                           [--prices <file>] [--json]
       audit-logger report --postgres <url> [--schema <name>] [options]

The analytics report: per model (calls, tokens, cost, latency mean/p50/p95/p99/max), per
interaction type, per tool (success rate, latency, most frequent errors), per persona, file
operations, metrics, errors, and calls/tokens/errors per hour. Percentiles are exact.

The logs are verified too (as audit-logger verify does, without a public key; over --postgres,
as verify --postgres does): when they do not verify, the report is printed all the same with a
line saying so under its heading (in --json, its "verification" field: ok, the sessions and
files that fail, the problems), a line on stderr names them, and the exit code is 1.

  <dir>             the audit directory, or a project directory containing audit_logs/
  --session <id>    one session only (default: every session)
  --since <time>    only records at or after this time (ISO 8601, e.g. 2025-05-01T00:00:00Z)
  --until <time>    only records before this time
  --prices <file>   JSON {"<model>": {"inputPerMTok": 3, "outputPerMTok": 15}, ...} in USD per
                    million tokens, over the built-in price table (calls that give no token
                    counts, or only tokensUsed without the input/output split, cannot be priced:
                    the cost line says how many)
  --json            print the whole report as JSON (includes every hour of the time series)
${storeHelp(18)}
  -h, --help        show this help

Exit codes: 0 done, 1 no audit logs found, a read failed (or the store is unreachable), or
the logs reported on do not verify, 2 bad usage.`;

const perMTok = z
  .number({ error: (iss) => (iss.input === undefined ? "missing: a number, USD per million tokens" : `must be a number, USD per million tokens (got ${typeof iss.input})`) })
  .min(0, "must be 0 or more, USD per million tokens");
const pricesSchema = z.record(z.string(), z.strictObject({ inputPerMTok: perMTok, outputPerMTok: perMTok }));
/** how many of a --prices file's bad entries the error names */
const PRICE_ISSUES_SHOWN = 5;

function loadPrices(file: string | undefined): Record<string, ModelPrice> | undefined {
  if (file === undefined) return undefined;
  let raw: unknown;
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`option --prices: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // (not JSON.parse's message: it quotes the text around the error, and a key file given here
    // by mistake had its first characters printed; found by review, 2026-12-05)
    const at = /at position (\d+)/.exec((err as Error).message)?.[1];
    throw new UsageError(`option --prices: cannot read "${file}" as JSON (not valid JSON${at !== undefined ? ` at character ${Number(at) + 1}` : ""})`);
  }
  const r = pricesSchema.safeParse(raw);
  if (!r.success) {
    // Every bad entry, an unknown key first with the name it most likely means: `{"input": 3}`
    // said only "expected number, received undefined" of the missing inputPerMTok (new-user
    // pass, 2026-12-06).
    const issues = toFieldIssues(r.error, "", pricesSchema, "key").sort((a, b) => Number(!a.message.startsWith("unknown")) - Number(!b.message.startsWith("unknown")));
    const named = issues.slice(0, PRICE_ISSUES_SHOWN).map((i) => `at ${i.field === "(input)" ? "(top)" : clean(i.field)}: ${i.message}`);
    if (issues.length > PRICE_ISSUES_SHOWN) named.push(`and ${issues.length - PRICE_ISSUES_SHOWN} more`);
    throw new UsageError(`option --prices: "${file}" ${named.length > 0 ? named.join("; ") : "is not a price table"}; expected {"<model>": {"inputPerMTok": n, "outputPerMTok": n}}`);
  }
  return r.data;
}

function lat(l: LatencyStats): [string, string, string, string, string] {
  return [num(l.mean, 3), num(l.p50, 3), num(l.p95, 3), num(l.p99, 3), num(l.max, 3)];
}

function usd(v: number | null): string {
  return v === null ? "-" : `$${v.toFixed(v >= 100 ? 2 : 4)}`;
}

function sorted<T>(map: Readonly<Record<string, T>>, by: (v: T) => number): Array<[string, T]> {
  return Object.entries(map).sort((a, b) => by(b[1]) - by(a[1]) || (a[0] < b[0] ? -1 : 1));
}

function section(io: CliIO, title: string, body: string): void {
  io.out("");
  io.out(io.color.bold(title));
  io.out(body);
}

const R = { align: "right" } as const;

/**
 * What the cost leaves out, beside it: calls of priced models without token counts (named) or
 * without the input/output split, and the models without a price (with their calls that gave no
 * token counts, which a price would not cost either).
 */
function costNotes(r: AnalyticsReport): string[] {
  const notes: string[] = [];
  const priced = Object.entries(r.models).filter(([, m]) => m.price !== null);
  const noTokens = priced.filter(([, m]) => m.callsWithoutTokens > 0);
  const n = noTokens.reduce((k, [, m]) => k + m.callsWithoutTokens, 0);
  if (n > 0) {
    const from = noTokens.length === 1 ? clean(noTokens[0]![0]) : noTokens.slice(0, 5).map(([name, m]) => `${clean(name)} ${num(m.callsWithoutTokens)}`).join(", ") + (noTokens.length > 5 ? ", ..." : "");
    notes.push(`${calls(n)} not costed: no token counts from ${from}`);
  }
  // (calls of priced models that gave only tokensUsed: their tokens cannot be priced, so the cost is short of them)
  const unsplit = priced.reduce((k, [, m]) => k + m.callsWithoutTokenSplit, 0);
  if (unsplit > 0) notes.push(`${num(unsplit)} call${unsplit === 1 ? "'s" : "s'"} tokens not costed: no input/output split`);
  if (r.totals.unpricedModels.length > 0) {
    const names = r.totals.unpricedModels.map((name) => {
      const k = r.models[name]?.callsWithoutTokens ?? 0;
      return `${clean(name)}${k > 0 ? ` (${calls(k)} without token counts)` : ""}`;
    });
    notes.push(`no price for ${names.join(", ")}: not included; see --prices`);
  }
  return notes;
}

/** Renders the report as tables; empty sections are left out. `where` names the directory or store. */
export function printReport(r: AnalyticsReport, where: string, io: CliIO, v?: Verification): void {
  const c = io.color;
  const t = r.totals;
  io.out(c.bold(`Audit report for ${where}`));
  if (v !== undefined && !v.ok) {
    const sessions = v.failedSessions.length > 0 ? ` in session${v.failedSessions.length === 1 ? "" : "s"} ${v.failedSessions.slice(0, 5).map(clean).join(", ")}${v.failedSessions.length > 5 ? ", ..." : ""}` : "";
    io.out(c.red(`  integrity  FAILED verification: ${num(v.problemCount)} problem${v.problemCount === 1 ? "" : "s"}${sessions}: these numbers come from logs that do not verify (run audit-logger verify)`));
  }
  io.out(`  sessions   ${r.sessions.length} (${r.sessions.slice(0, 5).join(", ")}${r.sessions.length > 5 ? ", ..." : ""})`);
  io.out(`  period     ${r.period.start ?? "-"} -> ${r.period.end ?? "-"} (spans ${num(r.period.hours)} clock hour${r.period.hours === 1 ? "" : "s"}, UTC)`);
  io.out(`  records    ${num(t.records)} (chat ${num(t.chatInteractions)}, tool ${num(t.toolUsages)}, persona ${num(t.personaActivities)}, file ${num(t.fileOperations)}, metric ${num(t.performanceMetrics)}, error ${num(t.errors)})`);
  const cache = [t.cacheReadTokens > 0 ? `cache read ${num(t.cacheReadTokens)}` : "", t.cacheWriteTokens > 0 ? `cache write ${num(t.cacheWriteTokens)}` : ""].filter((x) => x !== "");
  io.out(`  tokens     ${tokensText({ ...t, total: t.tokens, input: t.inputTokens, output: t.outputTokens }, cache)}`);
  io.out(`  cost       ${usd(t.costUsd)}${costNotes(r).map((note) => c.yellow(` (${note})`)).join("")}`);
  // (models priced as the listed model they are a snapshot of, so that a wrong match shows)
  const bySnapshot = Object.entries(r.models).filter(([name, m]) => m.pricedAs !== null && m.pricedAs !== name);
  if (bySnapshot.length > 0) io.out(`  prices     ${bySnapshot.slice(0, 5).map(([name, m]) => `${clean(name)} as ${clean(m.pricedAs!)}`).join(", ")}${bySnapshot.length > 5 ? ", ..." : ""}`);
  if (r.skippedLines > 0) io.out(c.yellow(`  skipped    ${num(r.skippedLines)} line(s) that are not records: run audit-logger verify`));

  const models = sorted(r.models, (m) => m.calls);
  if (models.length > 0) {
    section(io, "Models (latency in seconds)", table(
      [{ title: "model" }, { title: "calls", ...R }, { title: "ok", ...R }, { title: "input tok", ...R }, { title: "output tok", ...R }, { title: "tokens", ...R }, { title: "cost", ...R }, { title: "mean", ...R }, { title: "p50", ...R }, { title: "p95", ...R }, { title: "p99", ...R }, { title: "max", ...R }],
      models.map(([name, m]) => {
        // (no call of the model gave a split: "-", not zeros)
        const unknown = m.inputTokens === 0 && m.outputTokens === 0 && m.callsWithoutTokenSplit > 0;
        return [clean(name), m.calls, pct(m.calls > 0 ? m.successes / m.calls : null), unknown ? "-" : m.inputTokens, unknown ? "-" : m.outputTokens, m.tokens, usd(m.costUsd), ...lat(m.latencySeconds)];
      }),
    ));
  }
  const types = sorted(r.interactionTypes, (m) => m.calls);
  if (types.length > 0) {
    section(io, "Interaction types", table(
      [{ title: "type" }, { title: "calls", ...R }, { title: "ok", ...R }, { title: "tokens", ...R }, { title: "mean", ...R }, { title: "p50", ...R }, { title: "p95", ...R }, { title: "p99", ...R }, { title: "max", ...R }],
      types.map(([name, m]) => [clean(name), m.calls, pct(m.calls > 0 ? m.successes / m.calls : null), m.tokens, ...lat(m.latencySeconds)]),
    ));
  }
  const tools = sorted(r.tools, (m) => m.calls);
  if (tools.length > 0) {
    section(io, "Tools (latency in seconds)", table(
      [{ title: "tool" }, { title: "calls", ...R }, { title: "ok", ...R }, { title: "mean", ...R }, { title: "p50", ...R }, { title: "p95", ...R }, { title: "p99", ...R }, { title: "max", ...R }, { title: "most frequent error" }],
      tools.map(([name, m]) => {
        const top = m.topErrors[0];
        return [clean(name), m.calls, pct(m.successRate), ...lat(m.latencySeconds), top ? `${clean(top.message).slice(0, 60)} (${top.count})` : "-"];
      }),
    ));
  }
  const personas = sorted(r.personas, (p) => p.activities);
  if (personas.length > 0) {
    section(io, "Personas", table(
      [{ title: "persona" }, { title: "activities", ...R }, { title: "time spent s", ...R }, { title: "activity types" }],
      personas.map(([name, p]) => [clean(name), p.activities, num(p.timeSpentSeconds, 1), sorted(p.activityTypes, (n) => n).slice(0, 4).map(([k, n]) => `${clean(k)} ${n}`).join(", ")]),
    ));
  }
  const files = sorted(r.fileOperations, (f) => f.count);
  if (files.length > 0) {
    section(io, "File operations", table(
      [{ title: "operation" }, { title: "count", ...R }, { title: "failures", ...R }, { title: "bytes", ...R }],
      files.map(([op, f]) => [clean(op), f.count, f.failures, f.bytes]),
    ));
  }
  if (r.metrics.length > 0) {
    section(io, "Metrics", table(
      [{ title: "metric" }, { title: "unit" }, { title: "count", ...R }, { title: "min", ...R }, { title: "max", ...R }, { title: "mean", ...R }, { title: "p50", ...R }, { title: "p95", ...R }],
      r.metrics.map((m) => [clean(m.metricName), clean(m.unit), m.count, num(m.min, 3), num(m.max, 3), num(m.mean, 3), num(m.p50, 3), num(m.p95, 3)]),
    ));
  }
  if (r.errors.total > 0) {
    const e = r.errors;
    section(io, `Errors (${num(e.total)}, ${num(e.ratePerHour, 2)} per hour)`, [
      table([{ title: "severity" }, { title: "count", ...R }], sorted(e.bySeverity, (n) => n).map(([k, n]) => [clean(k), n])),
      "",
      table([{ title: "type" }, { title: "count", ...R }], sorted(e.byType, (n) => n).slice(0, 20).map(([k, n]) => [clean(k), n])),
    ].join("\n"));
  }
  if (r.hourly.length > 0) {
    const rows = r.hourly.slice(-HOURLY_ROWS);
    section(io, `Per hour (UTC${r.hourly.length > HOURLY_ROWS ? `, last ${HOURLY_ROWS} of ${r.hourly.length} hours; --json has all` : ""})`, table(
      [{ title: "hour" }, { title: "calls", ...R }, { title: "tool calls", ...R }, { title: "tokens", ...R }, { title: "errors", ...R }],
      rows.map((h) => [h.hour, h.calls, h.toolCalls, h.tokens, h.errors]),
    ));
  }
}

/**
 * @example
 * // $ audit-logger report ./audit_logs --since 2025-05-01 --json > report.json
 * // $ audit-logger report --postgres postgres://audit@db:5432/audit --schema audit_logger
 */
export const reportCommand: Command = {
  name: "report",
  help: HELP,
  async run(argv, io) {
    const { values, positionals } = parseCommand("report", argv, {
      session: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      prices: { type: "string" },
      json: { type: "boolean" },
      ...STORE_OPTIONS,
    });
    if (values.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const target = storeTarget("report", positionals, values);
    const session = sessionOption(values.session);
    const { since, until } = timeRangeOptions(values.since, values.until);
    const prices = loadPrices(values.prices);
    const src = await openSource(target, session, io, undefined, { ...(prices ? { prices } : {}), ...(session !== undefined ? { sessionId: session } : {}) });
    let report: AnalyticsReport;
    let verdict: Verification | undefined;
    try {
      if (src.sessions.length === 0) {
        io.err(noAuditLogsLine("report", src.where, src.store !== undefined));
        return EXIT_FAIL;
      }
      report = await src.viewer.generateAnalyticsReport({ ...(since ? { since } : {}), ...(until ? { until } : {}) });
      // (after reading, as export does: found by the integrity pass, 2026-12-05, a tampered log's
      // numbers were reported with exit 0 and no word)
      verdict = (target.kind === "dir" ? await verifyLogs(target.dir, session) : await verifyStore(src.store!, session)).all;
    } finally {
      await src.close();
    }
    if (values.json) io.out(JSON.stringify(verdict === undefined ? report : { ...report, verification: verdict }, null, 2));
    else printReport(report, src.where, io, verdict);
    if (verdict !== undefined && !verdict.ok) {
      reportFailedVerification("report", src.where, verdict, io, verifyCommandFor(target));
      return EXIT_FAIL;
    }
    return EXIT_OK;
  },
};
