// thread: true under a burst faster than the worker writes: a log call waits for the worker once
// too many records are in flight, so a SIGKILL loses at most that many (plus the app thread's
// queue), not seconds of records whose calls had returned (it lost 19,655 of 20,000 records
// 300 ms after the last call returned; found by review, 2026-12-04).
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { startFixture, killChildren, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];

/**
 * Runs `fixture` until it printed DONE (every log call returned), then SIGKILLs it 300 ms later.
 * Returns how long each call that reported the worker behind took (none: the bound held all along).
 */
async function burstThenKill(fixture: string, env: Record<string, string>, projectPath: string): Promise<number[]> {
  const child = startFixture(fixture, env, [projectPath]);
  children.push(child);
  await child.waitForLine((l) => l.startsWith("DONE"), "DONE");
  await new Promise((r) => setTimeout(r, 300));
  child.child.kill("SIGKILL");
  await child.exited;
  return JSON.parse(child.lines.find((l) => l.startsWith("BEHIND "))!.slice("BEHIND ".length)) as number[];
}

/**
 * Whether the loss bound applies: it does unless the kit reported the worker behind. A call waits
 * for the worker at most 5 s, then the kit reports it behind and the calls go on (records in
 * flight are lost to a SIGKILL, as the report says): a machine loaded enough for the worker to
 * write fewer than half of the records in flight in 5 s (a full run beside another suite: 1,800
 * of 20,000 on disk) is past what the bound promises. Each reporting call must then have waited
 * its 5 s (a back-pressure that gave up early, or did not wait, is still caught).
 */
function boundApplies(reportingCalls: number[]): boolean {
  for (const ms of reportingCalls) expect(ms, "a call that reported the worker behind waited 5 s first").toBeGreaterThanOrEqual(4_900);
  if (reportingCalls.length > 0) console.warn(`the worker fell 5 s behind (${reportingCalls.length} report(s)): the loss bound is not checked this run`);
  return reportingCalls.length === 0;
}
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

it("a SIGKILL soon after a burst of 20,000 records loses at most the bounded backlog", async () => {
  const projectPath = tmpProject();
  const count = 20_000;
  const reportingCalls = await burstThenKill("burst-child.mts", { CORE_COUNT: String(count) }, projectPath);
  const dir = path.join(projectPath, "audit_logs");
  let onDisk = 0;
  for (const f of fs.readdirSync(dir)) if (/^(tool_usage|chat_interactions)_burst/.test(f)) onDisk += fs.readFileSync(path.join(dir, f), "utf8").split("\n").filter(Boolean).length;
  // at most the in-flight bound (2,048) and the queue (1,024) can be lost, and the worker had 300 ms
  if (boundApplies(reportingCalls)) expect(onDisk).toBeGreaterThanOrEqual(count - 3072);
}, 90_000);

// The bound counted records only: 2,048 records of 300 KB were ~600 MB in flight, and a burst of
// 120 records of 1 MB each was all in flight when its last call returned, so a SIGKILL 300 ms
// later lost most of them (found by review, 2026-12-05). The bytes in flight are bounded too now.
it("a SIGKILL soon after a burst of 1 MB records loses at most the bytes bound's few records", async () => {
  const projectPath = tmpProject();
  const count = 120;
  const reportingCalls = await burstThenKill("big-burst-child.mts", { CORE_COUNT: String(count), CORE_SIZE: String(1 << 20) }, projectPath);
  const dir = path.join(projectPath, "audit_logs");
  let onDisk = 0;
  const seen = new Set<number>();
  for (const f of fs.readdirSync(dir)) {
    if (!/^tool_usage_bigburst/.test(f)) continue;
    for (const line of fs.readFileSync(path.join(dir, f), "utf8").split("\n").filter(Boolean)) {
      onDisk++;
      seen.add((JSON.parse(line) as { metadata: { n: number } }).metadata.n);
    }
  }
  // 8 MB in flight is 8 of these records, and the app thread's queue goes out at 1 MB: at most
  // ~9 can be in flight when the last call returns, and the worker had 300 ms more for them
  if (boundApplies(reportingCalls)) expect(onDisk).toBeGreaterThanOrEqual(count - 20);
  // the oldest are the ones written: what is lost is only the newest
  expect(seen.size, "no record twice").toBe(onDisk);
  expect(Math.max(...seen)).toBe(onDisk);
}, 90_000);
