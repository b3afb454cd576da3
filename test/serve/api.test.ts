/**
 * The viewer's HTTP server without a browser: access token, read-only, path confinement, and the
 * JSON API's answers checked against what the fixture logged.
 */
import http from "node:http";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { cleanupTmp, TEST_KEY } from "../helpers/index.js";
import { buildServeFixture, REFUND_PROMPT, REFUND_RESPONSE, SECRET_PROMPT, type ServeFixture } from "./fixture.js";

let fx: ServeFixture;
let server: RunningServer;
let keyed: RunningServer;

beforeAll(async () => {
  fx = await buildServeFixture();
  server = await startServer({ auditPath: fx.auditPath, port: 0 });
  keyed = await startServer({ auditPath: fx.auditPath, port: 0, encryptionKey: TEST_KEY });
});

afterAll(async () => {
  await server?.close();
  await keyed?.close();
  cleanupTmp();
});

/** A raw request: the path goes on the wire exactly as given (fetch would normalise it). */
function raw(s: RunningServer, pathOnWire: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: s.host, port: s.port, path: pathOnWire, method: opts.method ?? "GET", headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

const bearer = (s: RunningServer) => ({ authorization: `Bearer ${s.token}` });

async function getJson<T = Record<string, unknown>>(s: RunningServer, p: string): Promise<T> {
  const r = await raw(s, p, { headers: bearer(s) });
  expect(r.status, `${p}: ${r.body}`).toBe(200);
  return JSON.parse(r.body) as T;
}

describe("access", () => {
  it("binds to 127.0.0.1 by default and prints a URL with the token", () => {
    expect(server.host).toBe("127.0.0.1");
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    expect(server.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(keyed.token).not.toBe(server.token);
  });

  it("refuses every request without the token (401), including the API and static files", async () => {
    for (const p of ["/", "/index.html", "/js/app.js", "/api/sessions", "/api/sessions/support/stats", "/vendor/uPlot.esm.js"]) {
      const r = await raw(server, p);
      expect(r.status, p).toBe(401);
      expect(r.body).not.toContain("support");
    }
    expect((await raw(server, "/api/sessions", { headers: { authorization: "Bearer wrong-token-wrong-token" } })).status).toBe(401);
    expect((await raw(server, `/api/sessions?token=${keyed.token}`)).status).toBe(401);
  });

  it("takes the token from the query once, then from an HttpOnly cookie", async () => {
    const first = await raw(server, `/?token=${server.token}`);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe("/");
    const setCookie = String(first.headers["set-cookie"]);
    expect(setCookie).toContain(`audit_logger_token_${server.port}=${server.token}`);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    const cookie = setCookie.split(";")[0]!;
    const page = await raw(server, "/", { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.body).toContain('<script type="module" src="/js/app.js">');
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'");
  });

  it("is read-only: other methods get 405", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const r = await raw(server, "/api/sessions", { method, headers: bearer(server) });
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe("GET, HEAD");
    }
    const head = await raw(server, "/api/sessions", { method: "HEAD", headers: bearer(server) });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
  });

  it("never serves a file outside its static directory (404)", async () => {
    const attempts = [
      "/../../etc/passwd",
      "/../../../../../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/..%2f..%2f..%2fetc%2fpasswd",
      "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/js/..%2f..%2f..%2f..%2fetc%2fpasswd",
      "/..\\..\\etc\\passwd",
      "/%5c..%5c..%5cetc%5cpasswd",
      "/%252e%252e/%252e%252e/etc/passwd",
      "/etc/passwd",
      "//etc/passwd",
      "/index.html%00.js",
      "/vendor/../../package.json",
      "/vendor/..%2f..%2fpackage.json",
      "/vendor/package.json",
      "/../server.ts",
      "/..%2fserver.ts",
      "/../../../../package.json",
      "/session_support.json",
      "/chat_interactions_support.jsonl",
    ];
    for (const p of attempts) {
      const r = await raw(server, p, { headers: bearer(server) });
      expect(r.status, p).toBe(404);
      expect(r.body, p).not.toMatch(/root:|"sessionId"|"name": "audit-logger"/);
    }
    // and the API cannot be walked out of either
    for (const p of ["/api/sessions/..%2f..%2fetc/stats", "/api/sessions/../../etc/passwd", "/api/sessions/support/records/..%2f..%2fetc%2fpasswd", "/api/sessions/support/export/..%2fpasswd.csv"]) {
      const r = await raw(server, p, { headers: bearer(server) });
      expect(r.status, p).toBe(404);
    }
  });

  it("serves uPlot from its npm package", async () => {
    const r = await raw(server, "/vendor/uPlot.esm.js", { headers: bearer(server) });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toContain("text/javascript");
    expect(r.body).toContain("export { uPlot as default }");
  });
});

describe("API", () => {
  it("lists every session with its counts", async () => {
    const { sessions } = await getJson<{ sessions: Array<{ sessionId: string; counts: Record<string, number>; status: string }> }>(server, "/api/sessions");
    expect(sessions.map((s) => s.sessionId).sort()).toEqual(["batch", "secure", "support"]);
    const s = sessions.find((x) => x.sessionId === "support")!;
    expect(s.status).toBe("finalized");
    expect(s.counts).toEqual({ chat_interaction: fx.support.chats, tool_usage: fx.support.tools, error: fx.support.errors, performance_metric: fx.support.metrics, persona_activity: fx.support.personas, file_operation: 1 });
  });

  it("computes a session's tokens, cost, errors and duration server-side", async () => {
    const st = await getJson<Record<string, unknown>>(server, "/api/sessions/support/stats");
    expect(st.tokens).toBe(fx.support.tokens);
    expect(st.errors).toBe(fx.support.errors);
    expect(st.toolFailures).toBe(fx.support.toolFailures);
    expect(st.models).toEqual(Object.keys(fx.support.models).sort());
    expect(st.costUsd as number).toBeGreaterThan(0);
    expect(st.durationSeconds as number).toBeGreaterThan(3 * 3600);
  });

  it("pages the timeline newest first with a cursor, every record exactly once", async () => {
    const seen: string[] = [];
    let q = "limit=7";
    for (let i = 0; i < 50; i++) {
      const page = await getJson<{ rows: Array<{ id: string; timestamp: string }>; next: { before: string; skip: number } | null }>(server, `/api/sessions/support/timeline?${q}`);
      seen.push(...page.rows.map((r) => r.id));
      if (!page.next) break;
      q = `limit=7&before=${encodeURIComponent(page.next.before)}&skip=${page.next.skip}`;
    }
    const total = fx.support.chats + fx.support.tools + fx.support.errors + fx.support.metrics + fx.support.personas + 1;
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
  });

  it("nests request → chat → tool by parentId", async () => {
    const page = await getJson<{ rows: Array<{ id: string; depth: number; parentId?: string; type: string }> }>(server, "/api/sessions/support/timeline?trace=trace-0");
    const byId = new Map(page.rows.map((r) => [r.id, r]));
    expect(byId.get(fx.ids.refundRequest!)!.depth).toBe(0);
    expect(byId.get(fx.ids.refundChat!)!.depth).toBe(1);
    expect(byId.get(fx.ids.refundTool!)!.depth).toBe(2);
    // pre-order: the request, then its subtree
    const order = page.rows.map((r) => r.id);
    expect(order.indexOf(fx.ids.refundRequest!)).toBeLessThan(order.indexOf(fx.ids.refundChat!));
    expect(order.indexOf(fx.ids.refundChat!)).toBeLessThan(order.indexOf(fx.ids.refundTool!));
  });

  it("filters by kind, model, persona, user and success", async () => {
    type Page = { rows: Array<{ type: string; record: Record<string, unknown> }>; excludedKinds: string[] };
    const chats = await getJson<Page>(server, "/api/sessions/support/timeline?kinds=chat_interaction&limit=500");
    expect(chats.rows.length).toBe(fx.support.chats);
    const gpt = await getJson<Page>(server, "/api/sessions/support/timeline?model=gpt-4o&limit=500");
    expect(gpt.rows.length).toBe(fx.support.models["gpt-4o"]);
    expect(gpt.rows.every((r) => r.record.model === "gpt-4o")).toBe(true);
    expect(gpt.excludedKinds).toContain("tool_usage");
    const failed = await getJson<Page>(server, "/api/sessions/support/timeline?success=false&limit=500");
    expect(failed.rows.length).toBe(fx.support.toolFailures);
    expect(failed.rows.every((r) => r.record.success === false)).toBe(true);
    const alice = await getJson<Page>(server, "/api/sessions/support/timeline?user=alice&kinds=chat_interaction&limit=500");
    expect(alice.rows.length).toBe(6);
    const triage = await getJson<Page>(server, "/api/sessions/support/timeline?persona=triage&kinds=chat_interaction,persona_activity&limit=500");
    expect(triage.rows.length).toBe(8);
    const bad = await raw(server, "/api/sessions/support/timeline?kinds=nope", { headers: bearer(server) });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain("kinds");
  });

  it("returns a chat's exact full prompt and response, its tools and its parent", async () => {
    const d = await getJson<{ record: Record<string, unknown>; content: { prompt: string; response: string; verified: boolean }; children: Array<{ id: string }>; parent: { id: string } }>(
      server,
      `/api/sessions/support/records/${fx.ids.refundChat}`,
    );
    expect(d.content.prompt).toBe(REFUND_PROMPT);
    expect(d.content.response).toBe(REFUND_RESPONSE);
    expect(d.content.verified).toBe(true);
    expect(d.children.map((c) => c.id)).toEqual([fx.ids.refundTool]);
    expect(d.parent.id).toBe(fx.ids.refundRequest);
    expect(d.record.toolCalls).toEqual([{ id: "call_1", type: "function", function: { name: "kb_search", arguments: '{"q":"refund policy"}' } }]);
    expect((await raw(server, "/api/sessions/support/records/no_such_id", { headers: bearer(server) })).status).toBe(404);
    expect((await raw(server, "/api/sessions/nosuch/stats", { headers: bearer(server) })).status).toBe(404);
  });

  it("marks encrypted content without a key and opens it with one", async () => {
    type D = { record: Record<string, unknown>; content: { prompt: string | null; encrypted: boolean } };
    const locked = await getJson<D>(server, "/api/sessions/secure/records/secret_chat");
    expect(locked.content.encrypted).toBe(true);
    expect(locked.content.prompt).toBeNull();
    expect(locked.record.encryptedWithoutKey).toBe(true);
    expect(JSON.stringify(locked)).not.toContain("patient note");
    const open = await getJson<D>(keyed, "/api/sessions/secure/records/secret_chat");
    expect(open.content.prompt).toBe(SECRET_PROMPT);
    expect(open.record.encryptedWithoutKey).toBeUndefined();
    expect(open.record.promptPreview).toBe(SECRET_PROMPT.slice(0, String(open.record.promptPreview).length));
  });

  it("aggregates analytics and chart series on the server", async () => {
    const a = await getJson<{ report: { totals: { tokens: number; costUsd: number; errors: number } }; charts: { hourly: { tokens: number[]; costUsd: number[]; errors: number[]; hours: number[] }; latency: { models: Record<string, number[]> }; tools: Array<{ name: string; successRate: number }> } }>(
      server,
      "/api/sessions/support/analytics",
    );
    const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);
    expect(sum(a.charts.hourly.tokens)).toBe(fx.support.tokens);
    expect(sum(a.charts.hourly.errors)).toBe(fx.support.errors);
    expect(sum(a.charts.hourly.costUsd)).toBeCloseTo(a.report.totals.costUsd, 10);
    expect(a.charts.hourly.hours.length).toBeGreaterThanOrEqual(3);
    for (const [model, n] of Object.entries(fx.support.models)) expect(sum(a.charts.latency.models[model]!)).toBe(n);
    expect(a.charts.tools.find((t) => t.name === "crm_lookup")!.successRate).toBe(0);
    expect(a.charts.tools.find((t) => t.name === "kb_search")!.successRate).toBe(1);
  });

  it("reports integrity from the verifier", async () => {
    const v = await getJson<{ ok: boolean; problems: unknown[]; recordsChecked: number }>(server, "/api/sessions/support/integrity");
    expect(v.ok).toBe(true);
    expect(v.problems).toEqual([]);
    expect(v.recordsChecked).toBeGreaterThanOrEqual(fx.support.chats);
  });

  it("downloads the JSON and CSV exports, content withheld unless asked for", async () => {
    const j = await raw(server, "/api/sessions/support/export.json", { headers: bearer(server) });
    expect(j.status).toBe(200);
    expect(j.headers["content-disposition"]).toBe('attachment; filename="audit_support.json"');
    const doc = JSON.parse(j.body) as { records: Record<string, Array<Record<string, unknown>>> };
    expect(doc.records.chat_interactions!.length).toBe(fx.support.chats);
    expect(j.body).not.toContain("refund policy for order");
    const full = await raw(server, "/api/sessions/support/export.json?content=1", { headers: bearer(server) });
    expect(JSON.parse(full.body).records.chat_interactions.some((r: { content?: { prompt?: string } }) => r.content?.prompt === REFUND_PROMPT)).toBe(true);
    const c = await raw(server, "/api/sessions/support/export/tool_usage.csv", { headers: bearer(server) });
    expect(c.status).toBe(200);
    expect(c.headers["content-type"]).toContain("text/csv");
    const rows = parse(c.body, { columns: true }) as Array<Record<string, string>>;
    expect(rows.length).toBe(fx.support.tools);
    expect(rows.filter((r) => r.success === "false").length).toBe(fx.support.toolFailures);
    const byStem = await raw(server, "/api/sessions/support/export/errors.csv", { headers: bearer(server) });
    expect((parse(byStem.body, { columns: true }) as unknown[]).length).toBe(fx.support.errors);
  });
});

describe("integrity of a directory that changes while the server runs", () => {
  it("a content file rewritten in place is seen at the next request (the verdict was kept while the session's JSONL files stayed the same)", async () => {
    const { copyAuditDir } = await import("./fixture.js");
    const { verifyAuditLog } = await import("../../src/reader/verify.js");
    const fs = await import("node:fs");
    const path = await import("node:path");
    const os = await import("node:os");
    const dir = copyAuditDir(fx.auditPath, path.join(fs.mkdtempSync(path.join(os.tmpdir(), "serve-tamper-")), "audit_logs"));
    const s = await startServer({ auditPath: dir, port: 0 });
    try {
      const integrity = () => getJson<{ ok: boolean; problems: Array<{ kind: string }> }>(s, "/api/sessions/support/integrity");
      expect((await integrity()).ok).toBe(true);
      const content = fs.readdirSync(path.join(dir, "full_interactions")).find((f) => f.startsWith("prompt_") && f.includes(fx.ids.refundChat!))!;
      const file = path.join(dir, "full_interactions", content);
      const before = fs.readFileSync(file);
      fs.writeFileSync(file, Buffer.from(before.toString("latin1").replace(/[A-Za-z]/, (c) => (c === "x" ? "y" : "x")), "latin1"));
      expect((await verifyAuditLog(dir, { sessionId: "support" })).ok).toBe(false);
      const after = await integrity();
      expect(after.ok).toBe(false);
      expect(after.problems.map((p) => p.kind)).toContain("content_mismatch");
      fs.writeFileSync(file, before);
      expect((await integrity()).ok).toBe(true);
    } finally {
      await s.close();
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  it("an edit of a signed session's checkpoints file is seen at the next request", async () => {
    const { buildLog, checkpointsFile, editLines } = await import("../fixtures/integrity/tamper.js");
    const { verifyAuditLog } = await import("../../src/reader/verify.js");
    const log = await buildLog();
    const s = await startServer({ auditPath: log.auditDir, port: 0 });
    try {
      const integrity = () => getJson<{ ok: boolean; problems: Array<{ kind: string }> }>(s, `/api/sessions/${log.sessionId}/integrity`);
      expect((await integrity()).ok).toBe(true);
      editLines(checkpointsFile(log), (ls) => ls.map((l, i) => (i === 0 ? l.replace(/"hash":"([0-9a-f])/, (_m, c: string) => `"hash":"${c === "0" ? "1" : "0"}`) : l)));
      const fresh = await verifyAuditLog(log.auditDir, { sessionId: log.sessionId });
      expect(fresh.ok).toBe(false);
      const served = await integrity();
      expect(served.ok).toBe(false);
      expect(served.problems.map((p) => p.kind).sort()).toEqual(fresh.problems.map((p) => p.kind).sort());
    } finally {
      await s.close();
    }
  });

  // Found 2026-12-04 (fourth session): the key covered the session's own files and the holds
  // file, but the verifier also reads every other session's audit_event chain (the holds placed
  // and released there), so the verdict stayed "verified" after such a record appeared.
  it("a hold record in another session's chain that the session's prune broke is seen at the next request", async () => {
    const { buildLog } = await import("../fixtures/integrity/tamper.js");
    const { AuditLogger } = await import("../../src/index.js");
    const { verifyAuditLog } = await import("../../src/reader/verify.js");
    const fs = await import("node:fs");
    const path = await import("node:path");
    const log = await buildLog({ finalize: false });
    const holder = new AuditLogger({ sessionId: "holder", projectPath: log.projectPath, durability: "sync" });
    holder.placeLegalHold("all", "litigation");
    fs.rmSync(path.join(log.auditDir, "legal_holds.json"));
    // the holder's chain is away while the cleanup runs (cleanup honours the chained hold too, since
    // 2026-12-05) and while the server first verifies (its logger writes on through its open file)
    const chain = path.join(log.auditDir, "audit_events_holder.jsonl");
    const away = `${chain}.away`;
    fs.renameSync(chain, away);
    expect((await log.logger.cleanup({ now: Date.now() + 100 * 86_400_000 })).prunedSegments.length).toBeGreaterThan(0);
    await log.logger.finalizeSession();
    await holder.finalizeSession();
    expect(fs.existsSync(chain)).toBe(false);
    const s = await startServer({ auditPath: log.auditDir, port: 0 });
    try {
      const integrity = () => getJson<{ ok: boolean; problems: Array<{ kind: string }> }>(s, `/api/sessions/${log.sessionId}/integrity`);
      expect((await integrity()).ok).toBe(true);
      fs.renameSync(away, chain);
      const fresh = await verifyAuditLog(log.auditDir, { sessionId: log.sessionId });
      expect(new Set(fresh.problems.map((p) => p.kind))).toEqual(new Set(["pruned_under_hold"]));
      const served = await integrity();
      expect(served.ok).toBe(false);
      expect(served.problems).toEqual(fresh.problems);
    } finally {
      await s.close();
    }
  });
});
