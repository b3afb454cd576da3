/**
 * The chat page of a crypto-shredded user's interaction, in headless Chromium, on a server that
 * holds the key. (Found by the viewer pass, 2026-12-05: it said "This server has no key that opens
 * it. Restart with --key-file" of a server started with the key, sending the reader after a key
 * that no longer exists, when the subject's data key had been destroyed.)
 */
import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";

const CHROMIUM = process.env.AUDIT_LOGGER_CHROMIUM ?? "/usr/bin/chromium";

let browser: Browser;
let keyed: RunningServer;
let locked: RunningServer;
const ids: Record<string, string> = {};

beforeAll(async () => {
  const projectPath = tmpProject("audit-serve-shred-");
  const logger = new AuditLogger({ sessionId: "s", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
  ids.gone = logger.logChatInteraction({ model: "m", prompt: "carol's question", response: "carol's answer", userId: "carol" });
  ids.kept = logger.logChatInteraction({ model: "m", prompt: "dave's question", response: "dave's answer", userId: "dave" });
  logger.shredSubject("carol", "erasure request");
  await logger.finalizeSession();
  const auditPath = path.join(projectPath, "audit_logs");
  keyed = await startServer({ auditPath, encryptionKey: TEST_KEY });
  locked = await startServer({ auditPath });
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([keyed?.close(), locked?.close()]);
  cleanupTmp();
});

async function notices(s: RunningServer, id: string): Promise<string[]> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(s.url);
  await page.goto(`${s.baseUrl}#/s/s/r/${id}`);
  await page.locator('[data-testid="full-prompt"], [data-testid="encrypted-notice"]').first().waitFor({ timeout: 20_000 });
  const out = await page.locator('[data-testid="encrypted-notice"]').allInnerTexts();
  await page.context().close();
  return out;
}

describe("a crypto-shredded user's chat, on a server with the key", () => {
  it("says the key was destroyed, not that the server has no key; without a key the notice asks for one", async () => {
    const shredded = await notices(keyed, ids.gone!);
    expect(shredded).toHaveLength(2);
    for (const n of shredded) {
      expect(n).not.toMatch(/has no key|Restart with/);
      expect(n).toMatch(/crypto-shredded/);
    }
    expect(await notices(keyed, ids.kept!)).toEqual([]);
    const noKey = await notices(locked, ids.gone!);
    expect(noKey).toHaveLength(2);
    for (const n of noKey) expect(n).toMatch(/has no key that opens it/);
  }, 60_000);
});
