/**
 * What a compliance officer needs of the viewer months after the fact (found by the viewer
 * review, 2026-12-05): the legal holds, crypto-shreddings and retention removals were nowhere in
 * it (a session cleanup removed simply vanished from the sessions list), and there was no time
 * range and no way to gather one user's records across sessions. The JSON API and the pages in
 * headless Chromium, over a directory written by the real logger and cleaned by the real CLI.
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

async function get(p: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${server.baseUrl}${p.replace(/^\//, "")}`, { headers: { authorization: `Bearer ${server.token}` } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

interface Ev {
  sessionId: string;
  timestamp: string;
  eventType: string;
  reason: string | null;
  details: Record<string, unknown>;
}
interface Hold {
  holdId: string;
  scope: string;
  reason: string | null;
  placedAt: string | null;
  placedBySession: string | null;
  released: { at: string; reason: string | null; bySession: string } | null;
  inHoldsFile: boolean | null;
}

async function openPage(hash: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(server.url);
  await page.goto(`${server.baseUrl}${hash}`);
  return page;
}

describe("holds, shredding and removals (GET /api/events)", () => {
  it("lists every hold with its placement and release, the shredding and cleanup's removal of a session, newest first", async () => {
    const r = await get("/api/events");
    expect(r.status).toBe(200);
    const holds = r.body.holds as Hold[];
    expect(holds.map((h) => [h.holdId, h.scope, h.reason, h.released?.reason ?? null, h.inHoldsFile])).toEqual([
      [fx.heldId, "jan", "regulator inquiry 7", null, true],
      [fx.releasedId, "all", "litigation 2024-117", "case closed", false],
    ]);
    expect(holds[1]).toMatchObject({ placedAt: "2025-02-15T12:00:00.000Z", placedBySession: "feb", released: { at: "2025-02-16T12:00:00.000Z", bySession: "feb" } });
    const events = r.body.events as Ev[];
    expect(events.map((e) => [e.eventType, e.sessionId, e.reason])).toEqual([
      ["retention_pruned", "audit_maintenance", expect.any(String)],
      ["subject_shredded", "feb", "GDPR erasure #881"],
      ["legal_hold_placed", "feb", "regulator inquiry 7"],
      ["legal_hold_released", "feb", "case closed"],
      ["legal_hold_placed", "feb", "litigation 2024-117"],
    ]);
    expect(events[0]!.details).toMatchObject({ scope: "session", sessionId: "old", policy: { maxLogAgeDays: 30 } });
    expect((events[0]!.details.files as string[]).length).toBeGreaterThan(0);
    expect((events[1]!.details.keyIds as string[]).length).toBeGreaterThan(0);
    expect(r.body.matched).toBe(5);
    expect(r.body.countsByType).toEqual({ legal_hold_placed: 2, legal_hold_released: 1, subject_shredded: 1, retention_pruned: 1 });
    // the removed session is indeed gone from the sessions list: this is the only trace of it
    const sessions = (await get("/api/sessions")).body.sessions as Array<{ sessionId: string }>;
    expect(sessions.map((s) => s.sessionId)).not.toContain("old");
  });

  it("filters by time (since inclusive, until exclusive) and by event type; holds are listed whatever the range", async () => {
    const r = await get("/api/events?since=2025-02-16T12:00:00Z&until=2025-02-20T12:00:00Z");
    expect((r.body.events as Ev[]).map((e) => e.eventType)).toEqual(["legal_hold_placed", "legal_hold_released"]);
    expect((r.body.holds as Hold[]).length).toBe(2);
    const shreds = await get("/api/events?type=subject_shredded,retention_pruned&limit=1");
    expect((shreds.body.events as Ev[]).map((e) => e.eventType)).toEqual(["retention_pruned"]);
    expect(shreds.body.matched).toBe(2);
  });

  it("a bad time or type is a 400 naming the parameter", async () => {
    for (const [q, field] of [
      ["since=yesterday", "since"],
      ["until=5", "until"],
      ["type=deleted", "type"],
    ] as const) {
      const r = await get(`/api/events?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.fields, q).toEqual([field]);
    }
  });

  it("a legal holds file that cannot be read is said, and the holds still come from the chained records", async () => {
    const file = `${fx.auditPath}/legal_holds.json`;
    const before = fs.readFileSync(file);
    fs.writeFileSync(file, "{ not json");
    try {
      const r = await get("/api/events");
      expect(r.body.holdsFileError).toMatch(/legal_holds\.json is not valid JSON/);
      expect((r.body.holds as Hold[]).map((h) => [h.holdId, h.inHoldsFile])).toEqual([
        [fx.heldId, null],
        [fx.releasedId, null],
      ]);
    } finally {
      fs.writeFileSync(file, before);
    }
  });
});

describe("the holds, shredding and removals page (Chromium)", () => {
  it("the sessions page says what its list cannot show: holds in force, removals, shreddings", async () => {
    const page = await openPage("#/");
    const note = page.locator('[data-testid="sessions-compliance-note"]');
    await expect.poll(() => note.innerText(), { timeout: 20_000 }).toMatch(/1 legal hold in force · 1 removal by retention · 1 crypto-shredding recorded: see holds, shredding & removals/);
    await note.locator("a").click();
    await page.locator('[data-testid="event-row"]').first().waitFor({ timeout: 20_000 });
    await page.context().close();
  }, 60_000);

  it("is reached from the header and shows the holds, the shredding and the removed session in words", async () => {
    const page = await openPage("#/");
    await page.locator('[data-testid="nav-events"]').click();
    await page.locator('[data-testid="event-row"]').first().waitFor({ timeout: 20_000 });
    const holds = page.locator('[data-testid="hold-row"]');
    expect(await holds.count()).toBe(2);
    expect(await holds.nth(0).getAttribute("data-state")).toBe("in-force");
    expect(await holds.nth(0).innerText()).toMatch(/in force[\s\S]*session jan[\s\S]*regulator inquiry 7/);
    expect(await holds.nth(1).innerText()).toMatch(/released[\s\S]*every session[\s\S]*litigation 2024-117[\s\S]*2025-02-16 12:00:00\.000[\s\S]*case closed/);
    const rows = await page.locator('[data-testid="event-row"]').allInnerTexts();
    expect(rows).toHaveLength(5);
    expect(rows[0]).toMatch(/removed by retention[\s\S]*Session old removed by retention[\s\S]*policy: max 30 days[\s\S]*audit_maintenance/);
    expect(rows[1]).toMatch(/subject shredded[\s\S]*Subject crypto-shredded: \d+ data keys? destroyed[\s\S]*GDPR erasure #881/);
    expect(rows[1]).not.toMatch(/carol/);
    await page.context().close();
  }, 60_000);

  it("narrows to a time range and to event types from its form", async () => {
    const page = await openPage("#/events");
    await page.locator('[data-testid="event-row"]').first().waitFor({ timeout: 20_000 });
    await page.locator('[data-testid="filter-since"]').fill("2025-02-16T12:00");
    await page.locator('[data-testid="filter-until"]').fill("2025-02-20T12:00");
    await page.locator('[data-testid="event-type-legal_hold_released"]').uncheck();
    await page.locator('[data-testid="events-filters"] button[type="submit"]').click();
    await page.waitForURL(/type=/);
    await page.locator('[data-testid="event-row"]').first().waitFor();
    await expect.poll(() => page.locator('[data-testid="event-row"]').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('[data-testid="event-row"]').getAttribute("data-type")).toBe("legal_hold_placed");
    expect(new URL(page.url()).hash).toBe("#/events?type=legal_hold_placed%2Csubject_shredded%2Cretention_pruned&since=2025-02-16T12%3A00&until=2025-02-20T12%3A00");
    await page.context().close();
  }, 60_000);
});

interface Row {
  id: string;
  timestamp: string;
  record: { sessionId: string; userId?: string };
}

describe("a time range on the timeline (since, until)", () => {
  it("keeps the records from since (inclusive) to until (exclusive), through every page", async () => {
    const all = await get("/api/sessions/jan/timeline");
    expect((all.body.rows as Row[]).map((r) => r.id)).toEqual([fx.ids.janAliceError, fx.ids.janAliceTool, fx.ids.janBob, fx.ids.janAlice]);
    const from = await get("/api/sessions/jan/timeline?since=2025-01-15T11:00:00Z");
    expect((from.body.rows as Row[]).map((r) => r.id)).toEqual([fx.ids.janAliceError, fx.ids.janAliceTool, fx.ids.janBob]);
    const to = await get("/api/sessions/jan/timeline?until=2025-01-15T11:00");
    expect((to.body.rows as Row[]).map((r) => r.id)).toEqual([fx.ids.janAlice]);
    const day = await get("/api/sessions/jan/timeline?since=2025-01-15&until=2025-01-16&user=bob");
    expect((day.body.rows as Row[]).map((r) => r.id)).toEqual([fx.ids.janBob]);
    // paged one by one: the cursor stays inside the range
    const seen: string[] = [];
    let q = "since=2025-01-15T10:30Z&until=2025-01-20T09:00Z&limit=1";
    for (let i = 0; i < 5; i++) {
      const p = await get(`/api/sessions/jan/timeline?${q}`);
      seen.push(...(p.body.rows as Row[]).map((r) => r.id));
      const next = p.body.next as { before: string; skip: number } | null;
      if (!next) break;
      q = `since=2025-01-15T10:30Z&until=2025-01-20T09:00Z&limit=1&before=${encodeURIComponent(next.before)}&skip=${next.skip}`;
    }
    expect(seen).toEqual([fx.ids.janBob]);
  });

  it("a bad time is a 400 naming since or until", async () => {
    for (const [q, field] of [
      ["since=last%20week", "since"],
      ["until=2025-02-30", "until"],
    ] as const) {
      const r = await get(`/api/sessions/jan/timeline?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.fields, q).toEqual([field]);
    }
  });

  it("the timeline page's From and To fields filter it (Chromium)", async () => {
    const page = await openPage("#/s/jan");
    await page.locator('[data-testid="timeline-row"]').first().waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-testid="timeline-row"]').count()).toBe(4);
    // (each field applies as it is left or submitted, as the other filters do)
    await page.locator('[data-testid="filter-since"]').fill("2025-01-15T10:30");
    await page.locator('[data-testid="filter-since"]').press("Enter");
    await expect.poll(() => page.locator('[data-testid="timeline-row"]').count(), { timeout: 10_000 }).toBe(3);
    await page.locator('[data-testid="filter-until"]').fill("2025-01-16");
    await page.locator('[data-testid="filter-until"]').press("Enter");
    await expect.poll(() => page.locator('[data-testid="timeline-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id"))), { timeout: 10_000 }).toEqual([fx.ids.janBob]);
    expect(await page.locator('[data-testid="filter-since"]').inputValue()).toBe("2025-01-15T10:30");
    await page.context().close();
  }, 60_000);
});

describe("everything of one user, across sessions (GET /api/records, #/search)", () => {
  it("finds a user's records of every kind in every session, newest first, paged, with a time range", async () => {
    const r = await get("/api/records?user=alice");
    expect(r.status).toBe(200);
    const ids = [fx.ids.febAlice, fx.ids.janAliceError, fx.ids.janAliceTool, fx.ids.janAlice];
    expect((r.body.rows as Row[]).map((x) => x.id)).toEqual(ids);
    expect((r.body.rows as Row[]).map((x) => x.record.sessionId)).toEqual(["feb", "jan", "jan", "jan"]);
    expect(r.body.sessionsSearched).toBe(3);
    expect(((await get("/api/records?user=alice&since=2025-02-01")).body.rows as Row[]).map((x) => x.id)).toEqual([fx.ids.febAlice]);
    expect(((await get("/api/records?user=bob&kinds=chat_interaction")).body.rows as Row[]).map((x) => x.id)).toEqual([fx.ids.febBob, fx.ids.janBob]);
    const seen: string[] = [];
    let q = "user=alice&limit=1";
    for (let i = 0; i < 10; i++) {
      const p = await get(`/api/records?${q}`);
      seen.push(...(p.body.rows as Row[]).map((x) => x.id));
      const next = p.body.next as { before: string; skip: number } | null;
      if (!next) break;
      q = `user=alice&limit=1&before=${encodeURIComponent(next.before)}&skip=${next.skip}`;
    }
    expect(seen).toEqual(ids);
  });

  it("downloads exactly that user's records as JSON, naming the filter and only the sessions holding them", async () => {
    const res = await fetch(`${server.baseUrl}api/export.json?user=alice`, { headers: { authorization: `Bearer ${server.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="audit_all_user_alice.json"');
    const doc = (await res.json()) as { filter: unknown; sessions: Array<{ sessionId: string }>; records: Record<string, Array<{ id: string; userId: string; promptPreview?: string }>> };
    expect(doc.filter).toEqual({ userId: "alice" });
    expect(doc.sessions.map((s) => s.sessionId).sort()).toEqual(["feb", "jan"]);
    expect(doc.records.chat_interactions!.map((x) => x.id).sort()).toEqual([fx.ids.janAlice, fx.ids.febAlice].sort());
    expect(doc.records.tool_usage!.map((x) => x.id)).toEqual([fx.ids.janAliceTool]);
    expect(doc.records.errors!.map((x) => x.id)).toEqual([fx.ids.janAliceError]);
    for (const list of Object.values(doc.records)) for (const x of list) expect(x.userId).toBe("alice");
    expect(doc.records.chat_interactions![0]!.promptPreview).toBe("[content withheld from export]");
    const csv = await fetch(`${server.baseUrl}api/sessions/jan/export/chat_interaction.csv?user=bob&content=1`, { headers: { authorization: `Bearer ${server.token}` } });
    const lines = (await csv.text()).trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(fx.ids.janBob);
    expect(lines[1]).toContain("bob in january");
  });

  it("the page: from a timeline's user to that user's records in every session, and its download (Chromium)", async () => {
    const page = await openPage("#/s/jan");
    await page.locator('[data-testid="timeline-row"]').first().waitFor({ timeout: 20_000 });
    await page.locator('[data-testid="user-link"]', { hasText: "alice" }).first().click();
    await page.locator('[data-testid="search-row"]').first().waitFor({ timeout: 20_000 });
    const rows = page.locator('[data-testid="search-row"]');
    expect(await rows.evaluateAll((els) => els.map((e) => [e.getAttribute("data-id"), e.getAttribute("data-session")]))).toEqual([
      [fx.ids.febAlice, "feb"],
      [fx.ids.janAliceError, "jan"],
      [fx.ids.janAliceTool, "jan"],
      [fx.ids.janAlice, "jan"],
    ]);
    expect(await page.locator('[data-testid="search-user"]').inputValue()).toBe("alice");
    expect(await page.locator('[data-testid="search-count"]').innerText()).toBe("4 records found");
    await page.locator('[data-testid="search-since"]').fill("2025-01-16");
    await page.locator('[data-testid="search-until"]').fill("2025-02-01");
    await page.locator('[data-testid="search-submit"]').click();
    await expect.poll(() => rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-id"))), { timeout: 10_000 }).toEqual([fx.ids.janAliceError, fx.ids.janAliceTool]);
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="search-export-json"]').click()]);
    expect(download.suggestedFilename()).toBe("audit_all_user_alice.json");
    const doc = JSON.parse(fs.readFileSync((await download.path())!, "utf8")) as { filter: unknown; records: Record<string, Array<{ id: string }>> };
    expect(doc.filter).toEqual({ userId: "alice", since: "2025-01-16T00:00:00.000Z", until: "2025-02-01T00:00:00.000Z" });
    expect(Object.values(doc.records).flat().map((x) => x.id).sort()).toEqual([fx.ids.janAliceError, fx.ids.janAliceTool].sort());
    await page.context().close();
  }, 60_000);
});

describe("the tools and errors tabs take the timeline's time range (Chromium)", () => {
  it("From and To narrow the tools table, and say what the empty table means", async () => {
    const page = await openPage("#/s/jan/tools");
    await page.locator('[data-testid="tools-row"]').first().waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-testid="tools-row"]').getAttribute("data-id")).toBe(fx.ids.janAliceTool);
    expect(await page.locator('[data-testid="range-filters"]').innerText()).not.toMatch(/null/);
    await page.locator('[data-testid="filter-since"]').fill("2025-01-20T09:00:00.001Z");
    await page.locator('[data-testid="filter-since"]').press("Enter");
    await page.locator('[data-testid="tools-empty"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="tools-empty"]').innerText()).toBe("No tool usages recorded from 2025-01-20T09:00:00.001Z (UTC).");
    expect(new URL(page.url()).hash).toBe("#/s/jan/tools?since=2025-01-20T09%3A00%3A00.001Z");
    // (the outcome chips keep the range)
    await page.locator(".chip", { hasText: "failed" }).click();
    await page.waitForURL(/success=false/);
    expect(new URL(page.url()).hash).toBe("#/s/jan/tools?success=false&since=2025-01-20T09%3A00%3A00.001Z");
    expect(await page.locator('[data-testid="filter-since"]').inputValue()).toBe("2025-01-20T09:00:00.001Z");
    await page.locator('[data-testid="filter-since"]').fill("");
    await page.locator('[data-testid="filter-since"]').press("Enter");
    await page.waitForURL(/tools\?success=false$/);
    await page.locator('[data-testid="filter-until"]').fill("2025-01-20T09:00:00.001Z");
    await page.locator('[data-testid="filter-until"]').press("Enter");
    await page.waitForURL(/until=/);
    await page.locator('[data-testid="tools-empty"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="tools-empty"]').innerText()).toBe("No failed tool usages recorded before 2025-01-20T09:00:00.001Z (UTC).");
    await page.locator(".chip", { hasText: "all" }).click();
    await expect.poll(() => page.locator('[data-testid="tools-row"]').count(), { timeout: 10_000 }).toBe(1);
    await page.context().close();
  }, 60_000);

  it("a range set on the timeline holds on the errors tab and back", async () => {
    const page = await openPage("#/s/jan?since=2025-01-16");
    await page.locator('[data-testid="timeline-row"]').first().waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-testid="timeline-row"]').count()).toBe(2);
    await page.locator('[data-testid="tab-errors"]').click();
    await page.locator('[data-testid="errors-row"]').first().waitFor({ timeout: 10_000 });
    expect(new URL(page.url()).hash).toBe("#/s/jan/errors?since=2025-01-16");
    expect(await page.locator('[data-testid="errors-row"]').getAttribute("data-id")).toBe(fx.ids.janAliceError);
    expect(await page.locator('[data-testid="filter-since"]').inputValue()).toBe("2025-01-16");
    // the errors of a range without any: none, and said so
    await page.goto(`${server.baseUrl}#/s/jan/errors?until=2025-01-16`);
    await page.locator('[data-testid="errors-empty"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="errors-empty"]').innerText()).toBe("No errors recorded before 2025-01-16 (UTC).");
    await page.locator('[data-testid="tab-timeline"]').click();
    await page.waitForURL(/#\/s\/jan\?until=2025-01-16$/);
    await expect.poll(() => page.locator('[data-testid="timeline-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id"))), { timeout: 10_000 }).toEqual([fx.ids.janBob, fx.ids.janAlice]);
    // (the analytics tab is the whole session's: no range on its link)
    expect(await page.locator('[data-testid="tab-analytics"]').getAttribute("href")).toBe("#/s/jan/analytics");
    await page.context().close();
  }, 60_000);
});

describe("the search page takes every filter of /api/records (Chromium)", () => {
  it("model, outcome and trace narrow the results; the page says which kinds they leave out and what the downloads hold", async () => {
    const page = await openPage("#/search?user=alice");
    const rows = page.locator('[data-testid="search-row"]');
    await rows.first().waitFor({ timeout: 20_000 });
    expect(await rows.count()).toBe(4);
    await page.locator('[data-testid="search-model"]').fill("gpt-4o");
    await page.locator('[data-testid="search-submit"]').click();
    await expect.poll(() => rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-id"))), { timeout: 10_000 }).toEqual([fx.ids.janAlice]);
    expect(new URL(page.url()).hash).toBe("#/search?user=alice&model=gpt-4o");
    expect(await page.locator('[data-testid="search-excluded"]').innerText()).toMatch(/^Not shown: persona, tool, file, metric, error/);
    expect(await page.locator('[data-testid="search-downloads-note"]').innerText()).toMatch(/Downloads hold every kind of record of this user: the model filter does not apply to them/);
    await page.locator('[data-testid="search-model"]').fill("");
    await page.locator('[data-testid="search-success"]').selectOption("true");
    await page.locator('[data-testid="search-submit"]').click();
    await expect.poll(() => rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-id"))), { timeout: 10_000 }).toEqual([fx.ids.febAlice, fx.ids.janAliceTool, fx.ids.janAlice]);
    expect(new URL(page.url()).hash).toBe("#/search?user=alice&success=true");
    // the outcome filter takes persona activities in (one without success counts as succeeded): only metrics and errors are left out
    expect(await page.locator('[data-testid="search-excluded"]').innerText()).toBe("Not shown: metric, error (the model and outcome filters do not apply to them).");
    await page.locator('[data-testid="search-success"]').selectOption("false");
    await page.locator('[data-testid="search-submit"]').click();
    await page.locator('[data-testid="search-empty"]').waitFor({ timeout: 10_000 });
    await page.goto(`${server.baseUrl}#/search?user=alice&trace=no-such-trace`);
    await page.locator('[data-testid="search-empty"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="search-trace"]').inputValue()).toBe("no-such-trace");
    // persona alone searches too (no user or time needed)
    await page.goto(`${server.baseUrl}#/search?persona=nobody`);
    await page.locator('[data-testid="search-empty"]').waitFor({ timeout: 10_000 });
    await page.context().close();
  }, 60_000);
});

describe("from the search results to a record and back (Chromium)", () => {
  it("a tool's or an error's page says when and for whom, links the user to their records, and leads back to the results", async () => {
    const page = await openPage("#/search?user=alice&since=2025-01-16");
    const rows = page.locator('[data-testid="search-row"]');
    await rows.first().waitFor({ timeout: 20_000 });
    await page.locator(`[data-testid="search-row"][data-id="${fx.ids.janAliceTool}"] a.label`).click();
    await page.locator('[data-testid="record-title"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="record-title"]').innerText()).toMatch(/^tool crm_lookup\.get ✓$/);
    expect(await page.locator('[data-testid="record-time"]').innerText()).toBe("2025-01-20 09:00:00.000");
    expect(await page.locator('[data-testid="record-user"]').getAttribute("href")).toBe("#/search?user=alice");
    await page.locator('[data-testid="back-to-search"]').click();
    await page.waitForURL(/#\/search\?user=alice&since=2025-01-16$/);
    await expect.poll(() => rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-id"))), { timeout: 10_000 }).toEqual([fx.ids.febAlice, fx.ids.janAliceError, fx.ids.janAliceTool]);
    await page.locator(`[data-testid="search-row"][data-id="${fx.ids.janAliceError}"] a.label`).click();
    await page.locator('[data-testid="record-title"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="record-title"]').innerText()).toMatch(/^error Timeout \(warning\)/);
    expect(await page.locator('[data-testid="record-time"]').innerText()).toBe("2025-01-20 09:00:00.000");
    // a chat's page: its user is a link to everything of that user
    await page.goto(`${server.baseUrl}#/s/jan/r/${fx.ids.janBob}`);
    await page.locator('[data-testid="record-user"]').click();
    await page.waitForURL(/#\/search\?user=bob$/);
    await expect.poll(() => rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-id"))), { timeout: 10_000 }).toEqual([fx.ids.febBob, fx.ids.janBob]);
    // (only a search can be the way back: another fragment, or a javascript: URL, is not linked)
    await page.goto(`${server.baseUrl}#/s/jan/r/${fx.ids.janBob}?from=${encodeURIComponent("javascript:alert(1)")}`);
    await page.locator('[data-testid="record-title"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="back-to-search"]').count()).toBe(0);
    await page.context().close();
  }, 60_000);
});

describe("a session's downloads follow the page's user and time range (Chromium)", () => {
  it("the timeline narrowed to one user downloads that user's records of the session, and says so", async () => {
    const page = await openPage("#/s/jan?user=bob");
    await page.locator('[data-testid="timeline-row"]').first().waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-testid="export-filter"]').innerText()).toBe("Downloads: this session's records (user bob), every kind");
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="export-json-content"]').click()]);
    expect(download.suggestedFilename()).toBe("audit_jan_user_bob.json");
    const doc = JSON.parse(fs.readFileSync((await download.path())!, "utf8")) as { filter: unknown; records: Record<string, Array<{ id: string }>> };
    expect(doc.filter).toEqual({ userId: "bob" });
    expect(Object.values(doc.records).flat().map((x) => x.id)).toEqual([fx.ids.janBob]);
    // the errors tab with a range: the CSV of these errors only
    await page.goto(`${server.baseUrl}#/s/jan/errors?until=2025-01-16`);
    await page.locator('[data-testid="errors-empty"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="export-filter"]').innerText()).toBe("Downloads: this session's records (before 2025-01-16), every kind");
    const [csv] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="export-csv"]').selectOption("error")]);
    expect(fs.readFileSync((await csv.path())!, "utf8").trim().split("\n")).toHaveLength(1);
    // unfiltered: the whole session, no note
    await page.goto(`${server.baseUrl}#/s/jan`);
    await page.locator('[data-testid="timeline-row"]').first().waitFor({ timeout: 10_000 });
    expect(await page.locator('[data-testid="export-filter"]').count()).toBe(0);
    expect(await page.locator('[data-testid="export-json"]').getAttribute("href")).toBe("/api/sessions/jan/export.json");
    await page.context().close();
  }, 60_000);
});
