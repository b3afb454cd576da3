/**
 * Response times of `audit-logger serve` on one large session, or on one small session among many.
 *
 *   npx tsx bench/serve.ts                         # 1,000,000 records in a temporary directory
 *   npx tsx bench/serve.ts --records 100000
 *   npx tsx bench/serve.ts --dir /tmp/serve-1m --keep   # generate once, keep it
 *   npx tsx bench/serve.ts --dir /tmp/serve-1m          # reuse it (generated only when missing)
 *   npx tsx bench/serve.ts --sessions 2000 [--dir /tmp/serve-2000 --keep]
 *
 * With `--sessions N`: N finished sessions of six records each (a record of each kind: eight
 * files a session, see writeSessions in bench/lib.ts), and the requests for one of them (the
 * middle one) timed as below, with a request for a session that is not there: what a request for
 * one session costs as the directory grows (it should not grow with it, but for the integrity
 * verdict, which judges every session's legal holds, and the sessions list).
 *
 * A child process writes the session with the real AuditLogger (async durability, every kind,
 * default rotation; request trees: a chat with two tool calls under it, shared trace and user).
 * Then the server starts in this process and each request is timed over real HTTP: the first
 * hit (cold: the server's line index is built by the first request that needs it) and warm
 * (median of 5 more). Target: every warm request under 300 ms.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { AuditLogger } from "../src/logger.js";
import { startServer, type RunningServer } from "../src/serve/server.js";
import { listKindFiles } from "../src/sink/files.js";
import { RECORD_KINDS } from "../src/types.js";
import { median, writeSessions } from "./lib.js";

const SESSION = "bench_serve";
const WARM_RUNS = 5;
const TARGET_WARM_MS = 300;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "claude-3-5-haiku", "my-local-model"];
const TOOLS = ["search", "calculator", "weather", "sql", "browser", "email"];
const PERSONAS = ["planner", "coder", "reviewer"];
const WORDS = "the model answered customer about refund policy order shipping account invoice delivery tracking".split(" ");

function words(rand: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += (i ? " " : "") + WORDS[Math.floor(rand() * WORDS.length)];
  return s;
}

/** Writes at least N records in request trees (chat → 2 tools) plus metrics, personas, files, errors. */
async function generate(projectPath: string, n: number): Promise<number> {
  const rand = mulberry32(7);
  const logger = new AuditLogger({ sessionId: SESSION, projectPath, durability: "async", fullContentLogging: false });
  let written = 0;
  let group = 0;
  while (written < n) {
    group++;
    const traceId = `trace-${group}`;
    const userId = `user_${Math.floor(rand() * 50)}`;
    const r = rand();
    if (r < 0.6 && n - written >= 3) {
      const chatId = logger.logChatInteraction({
        interactionType: rand() < 0.7 ? "chat" : "completion",
        prompt: words(rand, 20),
        response: words(rand, 30),
        model: MODELS[Math.floor(rand() * MODELS.length)]!,
        inputTokens: 50 + Math.floor(rand() * 2000),
        outputTokens: 10 + Math.floor(rand() * 800),
        durationSeconds: Math.round(rand() * 5000) / 1000,
        traceId,
        userId,
        ...(rand() < 0.3 ? { persona: PERSONAS[Math.floor(rand() * PERSONAS.length)]! } : {}),
        ...(rand() < 0.02 ? { success: false, errorMessage: "rate limited" } : {}),
      });
      for (let t = 0; t < 2; t++) {
        const fail = rand() < 0.05;
        logger.logToolUsage({
          toolName: TOOLS[Math.floor(rand() * TOOLS.length)]!,
          operation: "call",
          parameters: { q: words(rand, 5), n: group },
          result: { ok: !fail, items: Math.floor(rand() * 10) },
          durationSeconds: Math.round(rand() * 2000) / 1000,
          traceId,
          userId,
          parentId: chatId,
          ...(fail ? { success: false, errorMessage: rand() < 0.5 ? "timeout" : "bad request" } : {}),
        });
      }
      written += 3;
    } else if (r < 0.8) {
      logger.logPerformanceMetric({ metricName: rand() < 0.5 ? "latency_ms" : "queue_depth", value: Math.round(rand() * 10000) / 10, unit: rand() < 0.5 ? "ms" : "items", traceId, userId });
      written++;
    } else if (r < 0.88) {
      logger.logPersonaActivity({ personaName: PERSONAS[Math.floor(rand() * PERSONAS.length)]!, activityType: "step", durationSeconds: Math.round(rand() * 3000) / 1000, traceId, userId });
      written++;
    } else if (r < 0.96) {
      logger.logFileOperation({ operation: rand() < 0.5 ? "read" : "modify", filePath: `/data/file_${group % 1000}.txt`, fileSize: Math.floor(rand() * 100_000), traceId, userId });
      written++;
    } else {
      logger.logError({ errorType: rand() < 0.5 ? "TimeoutError" : "ValueError", message: words(rand, 6), severity: rand() < 0.8 ? "error" : "warning", traceId, userId });
      written++;
    }
    if (group % 5_000 === 0) await new Promise((res) => setImmediate(res));
  }
  const summary = await logger.finalizeSession();
  return summary.totalRecords;
}

function sessionBytes(auditDir: string): number {
  let total = 0;
  for (const k of RECORD_KINDS) for (const f of listKindFiles(auditDir, k, SESSION)) total += fs.statSync(f.path).size;
  return total;
}

// ---------------------------------------------------------------- timing over HTTP

interface Timed<T> {
  readonly ms: number;
  /** this process's CPU time over the request (the server's and the client's: both run here), steadier than `ms` on a shared machine */
  readonly cpuMs: number;
  readonly body: T;
}

async function get<T>(server: RunningServer, p: string, status = 200): Promise<Timed<T>> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const res = await fetch(new URL(p, server.baseUrl), { headers: { authorization: `Bearer ${server.token}` } });
  const text = await res.text();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  if (res.status !== status) throw new Error(`${p}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return { ms, cpuMs: (c.user + c.system) / 1000, body: JSON.parse(text) as T };
}


interface Row {
  readonly name: string;
  readonly path: string;
  readonly firstMs: number;
  readonly warmMs: number;
  readonly warmCpuMs: number;
  readonly note: string;
}

async function time<T>(server: RunningServer, name: string, p: string, note: (body: T) => string, status = 200): Promise<{ row: Row; body: T }> {
  const first = await get<T>(server, p, status);
  const warm: Array<Timed<T>> = [];
  for (let i = 0; i < WARM_RUNS; i++) warm.push(await get<T>(server, p, status));
  return { row: { name, path: p, firstMs: first.ms, warmMs: median(warm.map((w) => w.ms)), warmCpuMs: median(warm.map((w) => w.cpuMs)), note: note(first.body) }, body: first.body };
}

interface PageBody {
  rows: Array<{ id: string; type: string; timestamp: string; childCount: number; depth: number }>;
  next: { before: string; skip: number } | null;
}

async function measureServer(auditDir: string): Promise<Row[]> {
  const server = await startServer({ auditPath: auditDir, port: 0 });
  try {
    const rows: Row[] = [];
    const base = `/api/sessions/${SESSION}`;
    const list = await time<{ sessions: Array<{ sessionId: string; totalRecords: number; startTime?: string; lastActivity?: string }> }>(server, "sessions list", "/api/sessions", (b) => `${b.sessions.length} session(s), ${b.sessions[0]?.totalRecords ?? 0} records`);
    rows.push(list.row);
    const s = list.body.sessions.find((x) => x.sessionId === SESSION);
    if (!s?.startTime || !s.lastActivity) throw new Error("the bench session is not in the list");
    const first = await time<PageBody>(server, "timeline, first page", `${base}/timeline?limit=50`, (b) => `${b.rows.length} rows`);
    rows.push(first.row);
    if (!first.body.next) throw new Error("the first page has no next cursor");
    const next = await time<PageBody>(server, "timeline, next page", `${base}/timeline?limit=50&before=${encodeURIComponent(first.body.next.before)}&skip=${first.body.next.skip}`, (b) => `${b.rows.length} rows`);
    rows.push(next.row);
    const mid = new Date((Date.parse(s.startTime) + Date.parse(s.lastActivity)) / 2).toISOString();
    const deep = await time<PageBody>(server, "timeline, deep page (middle)", `${base}/timeline?limit=50&before=${encodeURIComponent(mid)}`, (b) => `${b.rows.length} rows, first ${b.rows[0]?.timestamp ?? "-"}`);
    rows.push(deep.row);
    const oldest = await time<PageBody>(server, "timeline, deep page (oldest)", `${base}/timeline?limit=50&before=${encodeURIComponent(new Date(Date.parse(s.startTime) + 1000).toISOString())}`, (b) => `${b.rows.length} rows`);
    rows.push(oldest.row);
    rows.push((await time<PageBody>(server, "filtered: model+failed chats", `${base}/timeline?limit=50&kinds=chat_interaction&model=claude-3-5-haiku&success=false`, (b) => `${b.rows.length} rows`)).row);
    rows.push((await time<PageBody>(server, "filtered: user, all kinds", `${base}/timeline?limit=50&user=user_7`, (b) => `${b.rows.length} rows`)).row);
    rows.push((await time<PageBody>(server, "filtered: failed tools (deep)", `${base}/timeline?limit=50&kinds=tool_usage&success=false&before=${encodeURIComponent(mid)}`, (b) => `${b.rows.length} rows`)).row);
    rows.push((await time<PageBody>(server, "filtered: no match (full scan)", `${base}/timeline?limit=50&kinds=chat_interaction&model=no-such-model`, (b) => `${b.rows.length} rows`)).row);
    const parent = deep.body.rows.find((r) => r.type === "chat_interaction" && r.childCount > 0) ?? deep.body.rows.find((r) => r.type === "chat_interaction");
    if (!parent) throw new Error("no chat on the deep page");
    rows.push(
      (await time<{ record: { id: string }; children: unknown[]; parent: unknown }>(server, "record with children", `${base}/records/${parent.id}`, (b) => `${b.children.length} children`)).row,
    );
    return rows;
  } finally {
    await server.close();
  }
}

/** The requests for one session of a directory of many (`--sessions`). */
async function measureMany(auditDir: string, sessionId: string): Promise<Row[]> {
  const server = await startServer({ auditPath: auditDir, port: 0 });
  try {
    const rows: Row[] = [];
    const base = `/api/sessions/${sessionId}`;
    rows.push((await time<{ sessions: unknown[] }>(server, "sessions list", "/api/sessions", (b) => `${b.sessions.length} session(s)`)).row);
    rows.push((await time<{ totalRecords: number }>(server, "stats", `${base}/stats`, (b) => `${b.totalRecords} records`)).row);
    const page = await time<PageBody>(server, "timeline, first page", `${base}/timeline?limit=50`, (b) => `${b.rows.length} rows`);
    rows.push(page.row);
    const chat = page.body.rows.find((r) => r.type === "chat_interaction");
    if (!chat) throw new Error("no chat on the session's timeline");
    rows.push((await time<{ children: unknown[] }>(server, "record with children", `${base}/records/${chat.id}`, (b) => `${b.children.length} children`)).row);
    rows.push((await time<unknown>(server, "analytics", `${base}/analytics`, () => "")).row);
    rows.push((await time<{ ok: boolean }>(server, "integrity", `${base}/integrity`, (b) => `ok ${b.ok}`)).row);
    rows.push((await time<unknown>(server, "unknown session (404)", "/api/sessions/no_such_session/stats", () => "404", 404)).row);
    // (not one session's: every session's audit_event chain, the holds page)
    rows.push((await time<{ matched: number }>(server, "holds page (/api/events)", "/api/events", (b) => `${b.matched} events`)).row);
    return rows;
  } finally {
    await server.close();
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: "string", default: "1000000" },
      dir: { type: "string" },
      keep: { type: "boolean", default: false },
      child: { type: "boolean", default: false },
      sessions: { type: "string" },
    },
    strict: true,
  });
  const n = Number(values.records);
  if (!Number.isSafeInteger(n) || n < 3) throw new Error(`--records must be a whole number, 3 or more, got ${values.records}`);
  const many = values.sessions === undefined ? undefined : Number(values.sessions);
  if (many !== undefined && (!Number.isSafeInteger(many) || many < 1)) throw new Error(`--sessions must be a whole number, 1 or more, got ${values.sessions}`);
  if (values.child) {
    if (!values.dir) throw new Error("--child needs --dir");
    const t0 = Date.now();
    const total = many !== undefined ? (await writeSessions(values.dir, many), many * 6) : await generate(values.dir, n);
    process.stdout.write(JSON.stringify({ records: total, seconds: (Date.now() - t0) / 1000 }) + "\n");
    return;
  }
  const projectPath = values.dir ? path.resolve(values.dir) : fs.mkdtempSync(path.join(os.tmpdir(), "bench-serve-"));
  const auditDir = path.join(projectPath, "audit_logs");
  // (the session measured: the big one, or the middle one of many)
  const measured = many !== undefined ? `s${String(Math.floor(many / 2)).padStart(5, "0")}` : SESSION;
  try {
    console.log(`bench:serve  node ${process.version}, ${os.cpus().length} CPUs`);
    if (fs.existsSync(path.join(auditDir, `session_${measured}.json`))) {
      console.log(`reusing      ${auditDir}`);
    } else {
      fs.mkdirSync(projectPath, { recursive: true });
      const self = fileURLToPath(import.meta.url);
      const what = many !== undefined ? ["--sessions", String(many)] : ["--records", String(n)];
      const r = spawnSync(process.execPath, ["--import", "tsx", self, "--child", "--dir", projectPath, ...what], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      if (r.status !== 0) throw new Error(`the generating child failed with status ${r.status}`);
      const g = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as { records: number; seconds: number };
      console.log(`generated    ${g.records.toLocaleString("en-US")} records in ${g.seconds.toFixed(1)} s`);
    }
    if (many !== undefined) console.log(`directory    ${fs.readdirSync(auditDir).length.toLocaleString("en-US")} entries; measured session ${measured}`);
    else console.log(`session      ${SESSION}: ${(sessionBytes(auditDir) / (1024 * 1024)).toFixed(0)} MB of JSONL`);
    const rows = many !== undefined ? await measureMany(auditDir, measured) : await measureServer(auditDir);
    const w = Math.max(...rows.map((r) => r.name.length));
    console.log("");
    console.log(`${"request".padEnd(w)}  ${"first hit".padStart(10)}  ${"warm (median)".padStart(14)}  ${"warm CPU".padStart(9)}  result`);
    for (const r of rows) console.log(`${r.name.padEnd(w)}  ${`${r.firstMs.toFixed(1)} ms`.padStart(10)}  ${`${r.warmMs.toFixed(1)} ms`.padStart(14)}  ${`${r.warmCpuMs.toFixed(1)} ms`.padStart(9)}  ${r.note}`);
    const worst = Math.max(...rows.map((r) => r.warmMs));
    console.log("");
    console.log(`slowest warm request ${worst.toFixed(1)} ms (target < ${TARGET_WARM_MS} ms)  ${worst < TARGET_WARM_MS ? "PASS" : "MISS"}`);
    console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    if (values.dir || values.keep) console.log(`kept ${projectPath}`);
    else fs.rmSync(projectPath, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
