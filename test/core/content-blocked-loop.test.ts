// Content files queued for the content-writer thread were sent at the end of the tick: a loop of
// synchronous work that logs chats held them all in memory, unwritten, while the overdue flush
// wrote the record lines; a crash then left 39 record lines naming content files that were never
// written (found by review, 2026-12-05). They are now sent at once past 1 MB, and with the
// record lines when a flush is overdue.
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { startFixture, killChildren, type ChildHandle } from "../helpers/core.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

it.each([
  ["1 MB", 1 << 20],
  ["10 KB", 10_000],
])("a crash during synchronous work that logs chats (%s prompts) leaves no record line without its content files", async (_, size) => {
  const projectPath = tmpProject();
  const count = 40;
  const child = startFixture("content-loop-child.mts", { CORE_COUNT: String(count), CORE_SIZE: String(size) }, [projectPath]);
  children.push(child);
  await child.waitForLine((l) => l.startsWith("DONE"), "DONE");
  const dir = path.join(projectPath, "audit_logs");
  const recordLines = () => fs.readFileSync(path.join(dir, "chat_interactions_loop.jsonl"), "utf8").split("\n").filter(Boolean);
  /** the `n` of each record line on disk whose content files are not all there */
  const missingContent = (lines: readonly string[]): number[] => {
    const missing: number[] = [];
    for (const line of lines) {
      const r = JSON.parse(line) as { id: string; metadata: { n: number } };
      for (const f of [`prompt_${r.id}.txt`, `response_${r.id}.txt`, `manifest_${r.id}.json`]) {
        if (!fs.existsSync(path.join(dir, "full_interactions", f))) missing.push(r.metadata.n);
      }
    }
    return missing;
  };
  // The child never yields to the event loop again (it spins after DONE): the content of the
  // lines written so far is written meanwhile by the content thread, or never (the bug: it waited
  // for the end of a tick that did not come). Waited for, then the crash. (Killed at once, the
  // last lines' content could still be on its way to a thread starved of CPU (2 workers on 2
  // cores, the child spinning on one): the content_missing loss window README.md describes for
  // async mode, not this bug.)
  const deadline = Date.now() + 20_000;
  while (missingContent(recordLines()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  child.child.kill("SIGKILL");
  await child.exited;
  const lines = recordLines();
  // the overdue flush wrote the record lines while the loop ran (all but the last ~100 ms)
  expect(lines.length).toBeGreaterThanOrEqual(count - 10);
  expect(missingContent(lines), `${lines.length} record lines`).toEqual([]);
}, 90_000);
