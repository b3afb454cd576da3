/**
 * The search page's (#/search) "⤓ JSON" download leaves the records' content out (prompts,
 * responses, tool data: the exporter's default, `includeFullContent: false`), as the session
 * pages' "⤓ JSON" does, while the record page shows that content in full: an officer who took
 * "⤓ JSON" for the records as the pages show them got "[content withheld from export]" in their
 * place, the button saying so only in a tooltip (found by the viewer pass, 2026-12-05). Both
 * pages' buttons now say on their face what they hold. Headless Chromium over a directory written
 * by the real logger; the downloads' bytes are read back.
 */
import fs from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { cleanupTmp } from "../helpers/index.js";
import { buildComplianceFixture, type ComplianceFixture } from "./compliance-fixture.js";

const CHROMIUM = process.env.AUDIT_LOGGER_CHROMIUM ?? "/usr/bin/chromium";

let fx: ComplianceFixture;
let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  fx = await buildComplianceFixture();
  server = await startServer({ auditPath: fx.auditPath });
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  cleanupTmp();
});

async function openPage(hash: string): Promise<Page> {
  const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
  await page.goto(server.url);
  await page.goto(`${server.baseUrl}${hash}`);
  return page;
}

interface Rec {
  id: string;
  promptPreview?: unknown;
  contentWithheld?: string[];
}

/** The chat records of a JSON download by clicking `testid`. */
async function download(page: Page, testid: string): Promise<Rec[]> {
  const [d] = await Promise.all([page.waitForEvent("download"), page.locator(`[data-testid="${testid}"]`).click()]);
  const doc = JSON.parse(fs.readFileSync((await d.path())!, "utf8")) as { records: Record<string, Rec[]> };
  return doc.records.chat_interactions ?? [];
}

/** The two JSON buttons' visible text: what an officer reads without hovering. */
async function labels(page: Page, plain: string, full: string): Promise<[string, string]> {
  return [await page.locator(`[data-testid="${plain}"]`).innerText(), await page.locator(`[data-testid="${full}"]`).innerText()];
}

describe("the JSON downloads say on their face whether they hold the content (Chromium)", () => {
  it("the search page: 'JSON, content withheld' holds the records without their content; 'JSON with content' holds it, as the record page shows it", async () => {
    const page = await openPage("#/search?user=alice");
    await page.locator('[data-testid="search-row"]').first().waitFor({ timeout: 20_000 });
    expect(await labels(page, "search-export-json", "search-export-json-content")).toEqual(["⤓ JSON, content withheld", "⤓ JSON with content"]);
    const plain = (await download(page, "search-export-json")).find((r) => r.id === fx.ids.janAlice)!;
    expect(plain.promptPreview).toBe("[content withheld from export]");
    expect(plain.contentWithheld).toContain("promptPreview");
    const full = (await download(page, "search-export-json-content")).find((r) => r.id === fx.ids.janAlice)!;
    expect(full.promptPreview).toBe("alice in january");
    expect(full.contentWithheld).toBeUndefined();
    // the record page shows that content
    await page.goto(`${server.baseUrl}#/s/jan/r/${fx.ids.janAlice}`);
    await page.locator('[data-testid="full-prompt"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-testid="full-prompt"]').innerText()).toBe("alice in january");
    await page.context().close();
  }, 60_000);

  it("a session's pages say the same of their downloads", async () => {
    const page = await openPage("#/s/jan");
    await page.locator('[data-testid="timeline-row"]').first().waitFor({ timeout: 20_000 });
    expect(await labels(page, "export-json", "export-json-content")).toEqual(["⤓ JSON, content withheld", "⤓ JSON with content"]);
    const plain = (await download(page, "export-json")).find((r) => r.id === fx.ids.janAlice)!;
    expect(plain.promptPreview).toBe("[content withheld from export]");
    const full = (await download(page, "export-json-content")).find((r) => r.id === fx.ids.janAlice)!;
    expect(full.promptPreview).toBe("alice in january");
    await page.context().close();
  }, 60_000);
});
