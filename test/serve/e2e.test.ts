/**
 * End to end in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) against
 * servers started on logs the real AuditLogger wrote. Takes screenshots of every page: into a
 * temporary directory, or into docs/screenshots/ (the README's) with AUDIT_LOGGER_SCREENSHOTS=1.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";
import { buildServeFixture, copyAuditDir, REFUND_PROMPT, SECRET_PROMPT, tamperLine, type ServeFixture } from "./fixture.js";

const CHROMIUM = process.env.AUDIT_LOGGER_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = process.env.AUDIT_LOGGER_SCREENSHOTS === "1" ? path.resolve(import.meta.dirname, "../../docs/screenshots") : tmpProject();

let fx: ServeFixture;
let server: RunningServer;
let keyed: RunningServer;
let tampered: RunningServer;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (or set AUDIT_LOGGER_CHROMIUM).`);
  fx = await buildServeFixture();
  server = await startServer({ auditPath: fx.auditPath });
  keyed = await startServer({ auditPath: fx.auditPath, encryptionKey: TEST_KEY });
  const copy = copyAuditDir(fx.auditPath, path.join(tmpProject("audit-serve-tamper-"), "audit_logs"));
  // one byte of one record: "Answer 5" → "Answar 5" in a response preview
  tamperLine(path.join(copy, "chat_interactions_support.jsonl"), '"responsePreview":"Answer 5', '"responsePreview":"Answar 5');
  tampered = await startServer({ auditPath: copy });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  fs.mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.close(), keyed?.close(), tampered?.close()]);
  cleanupTmp();
});

async function open(s: RunningServer, hash = ""): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  (page as Page & { jsErrors?: string[] }).jsErrors = errors;
  await page.goto(s.url);
  // the token moved into a cookie; the address bar no longer shows it
  expect(page.url()).toBe(s.baseUrl);
  if (hash) await page.goto(`${s.baseUrl}${hash}`);
  return page;
}

/** expect.poll with room for a busy machine (two cores shared by several test runs). */
function poll<T>(fn: () => Promise<T> | T) {
  return expect.poll(fn, { timeout: 20_000, interval: 100 });
}

function jsErrors(page: Page): string[] {
  return (page as Page & { jsErrors?: string[] }).jsErrors ?? [];
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
}

/** Pixels of the canvas that are drawn (alpha > 0), and those of exactly `rgb`. */
async function canvasPixels(page: Page, selector: string, rgb: [number, number, number]): Promise<{ drawn: number; colored: number; width: number }> {
  return page.$eval(
    selector,
    (canvas, want) => {
      // DOM types are not in this project's lib: the canvas, structurally
      const c = canvas as unknown as { width: number; height: number; getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let drawn = 0;
      let colored = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3]! > 0) drawn++;
        if (data[i] === want[0] && data[i + 1] === want[1] && data[i + 2] === want[2] && data[i + 3] === 255) colored++;
      }
      return { drawn, colored, width: c.width };
    },
    rgb,
  );
}

describe("audit-logger serve in a browser", () => {
  it("lists the sessions with the right counts and verdicts", async () => {
    const page = await open(server);
    const row = page.locator('[data-testid="session-row"][data-session="support"]');
    await row.waitFor();
    expect(await page.locator('[data-testid="session-row"]').count()).toBe(3);
    expect(await row.locator('[data-testid="chats"]').textContent()).toBe(String(fx.support.chats));
    expect(await row.locator('[data-testid="tools"]').textContent()).toBe(String(fx.support.tools));
    expect(await row.locator('[data-testid="errors"]').textContent()).toBe(String(fx.support.errors));
    await poll(() => row.locator('[data-testid="tokens"]').textContent()).toBe(fx.support.tokens.toLocaleString("en-US"));
    // (unsigned logs, no trusted key: self-consistent, not "verified"; until 2026-12-05 "✓ verified")
    await poll(() => row.locator('[data-testid="integrity"]').textContent()).toMatch(/^✓ self-consistent/);
    await poll(() => page.locator('[data-testid="session-row"][data-session="batch"] [data-testid="integrity"]').textContent()).toMatch(/^✓ self-consistent/);
    expect(await row.locator('[data-testid="cost"]').textContent()).toMatch(/^\$\d/);
    expect(await row.locator('[data-testid="duration"]').textContent()).toMatch(/h/);
    await shot(page, "sessions.png");
    expect(jsErrors(page)).toEqual([]);
    await page.close();
  });

  it("shows the timeline as a tree, filters change the rows, and a click opens the exact prompt", async () => {
    const page = await open(server);
    await page.locator('[data-testid="session-link"]', { hasText: "support" }).click();
    const rows = page.locator('[data-testid="timeline-row"]');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(50);
    // request (depth 0) → chat (1) → tool (2)
    expect(await page.locator('[data-testid="timeline-row"][data-kind="performance_metric"][data-depth="0"]').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="timeline-row"][data-kind="chat_interaction"][data-depth="1"]').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="timeline-row"][data-kind="tool_usage"][data-depth="2"]').count()).toBeGreaterThan(0);
    await shot(page, "timeline.png");

    // filter: failures only → exactly the failed tool calls
    await page.locator('[data-testid="filter-success"]').selectOption("false");
    await poll(() => rows.count()).toBe(fx.support.toolFailures);
    for (const kind of await rows.evaluateAll((els) => els.map((e) => (e as unknown as { dataset: Record<string, string> }).dataset.kind))) expect(kind).toBe("tool_usage");
    await page.locator('[data-testid="filter-success"]').selectOption("");
    await poll(() => rows.count()).toBe(50);

    // filter: kinds → errors only
    for (const k of ["chat_interaction", "tool_usage", "persona_activity", "file_operation", "performance_metric"]) {
      await page.locator(`[data-testid="kind-${k}"]`).uncheck();
    }
    await poll(() => rows.count()).toBe(fx.support.errors);
    await page.locator('.filters .reset').click();
    await poll(() => rows.count()).toBe(50);

    // filter: model (chat rows of that model only), then open the first conversation
    await page.locator('[data-testid="filter-model"]').fill("gpt-4o");
    await page.locator('[data-testid="filter-model"]').press("Enter");
    await poll(() => rows.count()).toBe(fx.support.models["gpt-4o"]);
    await page.locator(`[data-testid="timeline-row"][data-id="${fx.ids.refundChat}"] a.label`).click();
    const prompt = page.locator('[data-testid="full-prompt"]');
    await prompt.waitFor();
    expect(await prompt.textContent()).toBe(REFUND_PROMPT);
    expect(await page.locator('[data-testid="content-verified"]').count()).toBe(1);
    expect(await page.locator('[data-testid="tool-calls"]').textContent()).toContain("kb_search");
    expect(await page.locator('[data-testid="children"] [data-testid="timeline-row"]').count()).toBe(1);
    expect(await page.locator('[data-testid="parent-link"]').textContent()).toContain("POST /api/chat");
    // markup in the prompt is text, not HTML
    expect(await page.locator('[data-testid="full-prompt"] b').count()).toBe(0);
    await shot(page, "chat.png");
    expect(jsErrors(page)).toEqual([]);
    await page.close();
  });

  it("draws the analytics charts on canvas", async () => {
    const page = await open(server, "#/s/support/analytics");
    for (const id of ["chart-tokens", "chart-cost", "chart-latency", "chart-tools", "chart-errors"]) {
      await page.locator(`[data-testid="${id}"] canvas`).waitFor();
    }
    expect(await page.locator('[data-testid="total-tokens"]').textContent()).toBe(fx.support.tokens.toLocaleString("en-US"));
    const blue: [number, number, number] = [0x25, 0x63, 0xeb];
    for (const id of ["chart-tokens", "chart-cost", "chart-latency", "chart-tools", "chart-errors"]) {
      const px = await canvasPixels(page, `[data-testid="${id}"] canvas`, blue);
      expect(px.width, id).toBeGreaterThan(200);
      expect(px.drawn, id).toBeGreaterThan(1000);
      // the data series itself is drawn, not only axes and grid
      expect(px.colored, id).toBeGreaterThan(30);
    }
    await shot(page, "analytics.png");
    expect(jsErrors(page)).toEqual([]);
    await page.close();
  });

  it("shows the integrity verdict, and the warning for a tampered log", async () => {
    const good = await open(server, "#/s/support/integrity");
    await good.locator('[data-testid="integrity-ok"]').waitFor();
    expect(await good.locator('[data-testid="integrity-warning"]').count()).toBe(0);
    const verdict = await good.locator('[data-testid="integrity-ok"]').textContent();
    expect(verdict).toMatch(/^✓ Self-consistent\./);
    expect(verdict).toContain("--public-key");
    await good.close();

    const page = await open(tampered);
    const row = page.locator('[data-testid="session-row"][data-session="support"]');
    await poll(() => row.locator('[data-testid="integrity"]').textContent()).toMatch(/⚠ \d+ problem/);
    // the untouched sessions still verify
    await poll(() => page.locator('[data-testid="session-row"][data-session="batch"] [data-testid="integrity"]').textContent()).toMatch(/^✓ self-consistent/);
    await row.locator('[data-testid="integrity"] a').click();
    const warning = page.locator('[data-testid="integrity-warning"]');
    await warning.waitFor();
    expect(await warning.textContent()).toContain("Integrity check failed");
    const problems = await page.locator('[data-testid="integrity-problems"] tbody tr').allTextContents();
    expect(problems.join("\n")).toContain("chat_interactions_support.jsonl");
    await page.locator('[data-testid="integrity-banner"]').waitFor();
    await shot(page, "integrity.png");
    // every page of the session carries the banner
    await page.locator('[data-testid="tab-timeline"]').click();
    await page.locator('[data-testid="timeline-row"]').first().waitFor();
    await page.locator('[data-testid="integrity-banner"]').waitFor();
    await page.close();
  });

  it("marks encrypted content without a key and shows it with one", async () => {
    const locked = await open(server, "#/s/secure/r/secret_chat");
    await locked.locator('[data-testid="encrypted-notice"]').first().waitFor();
    expect(await locked.locator('[data-testid="encrypted-notice"]').count()).toBe(2);
    expect(await locked.locator("body").textContent()).not.toContain("patient note");
    await locked.close();
    const page = await open(keyed, "#/s/secure/r/secret_chat");
    const prompt = page.locator('[data-testid="full-prompt"]');
    await prompt.waitFor();
    expect(await prompt.textContent()).toBe(SECRET_PROMPT);
    expect(await page.locator('[data-testid="encrypted-notice"]').count()).toBe(0);
    await page.close();
  });

  it("downloads the JSON and CSV exports from the buttons", async () => {
    const page = await open(server, "#/s/support/tools");
    await page.locator('[data-testid="tools-row"]').first().waitFor();
    expect(await page.locator('[data-testid="tools-row"]').count()).toBe(fx.support.tools);
    const [json] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="export-json"]').click()]);
    expect(json.suggestedFilename()).toBe("audit_support.json");
    const doc = JSON.parse(fs.readFileSync((await json.path())!, "utf8")) as { records: Record<string, unknown[]> };
    expect(doc.records.tool_usage!.length).toBe(fx.support.tools);
    const [csv] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="export-csv"]').selectOption("error")]);
    expect(csv.suggestedFilename()).toBe("errors_support.csv");
    const lines = fs.readFileSync((await csv.path())!, "utf8").trim().split("\n");
    expect(lines.length).toBe(1 + fx.support.errors);
    await page.goto(`${server.baseUrl}#/s/support/errors`);
    await page.locator('[data-testid="errors-row"]').first().waitFor();
    expect(await page.locator('[data-testid="errors-row"]').count()).toBe(fx.support.errors);
    await page.close();
  });

  it("refuses a browser without the token (401) and paths outside the static directory (404)", async () => {
    const fresh = await browser.newContext();
    const page = await fresh.newPage();
    const res = await page.goto(server.baseUrl);
    expect(res!.status()).toBe(401);
    expect(await page.locator("body").textContent()).toContain("401");
    const api = await page.goto(`${server.baseUrl}api/sessions`);
    expect(api!.status()).toBe(401);
    await fresh.close();

    // with the token, /../../etc/passwd (sent as-is on the wire; browsers would normalise it) is 404
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: server.host, port: server.port, path: "/../../etc/passwd", headers: { authorization: `Bearer ${server.token}` } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(404);
    const authed = await open(server);
    const viaBrowser = await authed.goto(`${server.baseUrl}%2e%2e/%2e%2e/etc/passwd`);
    expect(viaBrowser!.status()).toBe(404);
    await authed.close();
  });
});
