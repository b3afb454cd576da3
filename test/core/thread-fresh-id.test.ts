// With `thread: true` the worker's logger makes each record. A chat id the app gives is claimed on
// disk (its manifest made empty and exclusively, with an owner file beside it: see
// claimContentId), so that another logger with the same id is refused; an id the kit made for the
// call (the app gave none, or an integration made it) is fresh and needs no claim. Until
// 2026-12-06 the worker took every chat's id for one the app gave, and claimed it: two more files
// created and one removed per chat, on the worker (found by review). The worker's file calls are
// seen with strace, in a child process with every thread traced.
import fs from "node:fs";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, underStrace } from "../helpers/core.js";

afterEach(cleanupTmp);

it("thread: true: a chat id the kit made is not claimed on disk; one the app gave is", () => {
  const projectPath = tmpProject();
  const chats = 10;
  const { result: r, lines } = underStrace("thread-fresh-id-child.mts", "openat,symlink,symlinkat", projectPath, [String(chats)]);
  expect(r.status, r.stderr).toBe(0);
  const contentDir = path.join(auditDirOf(projectPath), "full_interactions");
  const manifests = fs.readdirSync(contentDir).filter((n) => /^manifest_.*\.json$/.test(n));
  // every chat's content was written
  expect(manifests).toHaveLength(chats + 1);
  const owners = lines.filter((l) => /\.json\.claim"/.test(l) && (/O_CREAT/.test(l) || /symlink/.test(l)));
  // one claim: the app's id's, on the worker
  expect(owners.map((l) => /manifest_([^/"]+)\.json\.claim/.exec(l)?.[1])).toEqual(["app_given_1"]);
}, 90_000);
