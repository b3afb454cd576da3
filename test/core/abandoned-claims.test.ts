// An explicit chat id is claimed at the call by creating its manifest empty (`wx`); a process
// killed before it wrote the content left that empty manifest behind. The next logger with the
// same id takes it over, but no cleanup removed it: an id never reused kept its claim for good
// (an orphan_content note in every verify). Found by the durability pass, 2026-12-06. Cleanup
// (cleanupSessions, logger.cleanup(), `audit-logger cleanup`) now removes such a claim once it is
// abandoned (empty, a minute old, and older than every live writer of the directory), never the
// claim of a writer that is still alive, and names it in its result (`abandonedClaims`).
// Real child processes: one SIGKILLed after its claim, one alive (its claim in flight) during the
// cleanup.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, verifyAuditLog } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf, claimingChild as claimingChildOf, dateBack, killChildren, type ChildHandle } from "../helpers/core.js";
import { runCli } from "../cli/helpers.js";

const children: ChildHandle[] = [];
afterEach(async () => {
  await killChildren(children);
  cleanupTmp();
});

const MIN = 60_000;

const claimingChild = (projectPath: string, sessionId: string, id: string): Promise<ChildHandle> => claimingChildOf(children, projectPath, sessionId, id);

/**
 * Three claims: `dead-1`, a killed child's, 5 minutes old; `fresh-1`, a killed child's, made just
 * now; `live-1`, a live child's, its lock taken 3 minutes ago and its claim 2 minutes ago (both
 * dated back: a writer that has run for minutes with a claim in flight, as one whose content
 * files the disk refuses).
 */
async function threeClaims(projectPath: string): Promise<{ dir: string; claim: (id: string) => string }> {
  const dir = auditDirOf(projectPath);
  const claim = (id: string): string => path.join(dir, "full_interactions", `manifest_${id}.json`);
  for (const [session, id] of [["killed_a", "dead-1"], ["killed_b", "fresh-1"]] as const) {
    const h = await claimingChild(projectPath, session, id);
    h.child.kill("SIGKILL");
    await h.exited;
  }
  dateBack(claim("dead-1"), 5 * MIN);
  await claimingChild(projectPath, "live_writer", "live-1");
  const lock = path.join(dir, ".session_live_writer.lock");
  const body = JSON.parse(fs.readFileSync(lock, "utf8")) as { startedAt: string };
  fs.writeFileSync(lock, JSON.stringify({ ...body, startedAt: new Date(Date.now() - 3 * MIN).toISOString() }));
  dateBack(lock, 3 * MIN);
  dateBack(claim("live-1"), 2 * MIN);
  for (const id of ["dead-1", "fresh-1", "live-1"]) expect(fs.statSync(claim(id)).size, id).toBe(0);
  return { dir, claim };
}

describe("cleanup and the empty manifests of explicit ids' claims", () => {
  it("audit-logger cleanup removes a killed process's abandoned claim and says so; a fresh one and a live writer's stay, also in a dry run", async () => {
    const projectPath = tmpProject();
    const { dir, claim } = await threeClaims(projectPath);

    const dry = await runCli(["cleanup", dir, "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect((JSON.parse(dry.stdout) as { abandonedClaims?: unknown }).abandonedClaims).toEqual(["full_interactions/manifest_dead-1.json"]);
    expect(fs.existsSync(claim("dead-1"))).toBe(true);

    const text = await runCli(["cleanup", dir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("removed the empty manifest of 1 explicit chat id whose claim a process that died left: full_interactions/manifest_dead-1.json");
    expect(fs.existsSync(claim("dead-1"))).toBe(false);
    // a claim of the last minute, and a live writer's however old, stay
    expect(fs.statSync(claim("fresh-1")).size).toBe(0);
    expect(fs.statSync(claim("live-1")).size).toBe(0);
    // (no session was removed: nothing is recorded, and no maintenance session is made for it)
    expect(fs.readdirSync(dir).filter((n) => n.includes("audit_maintenance"))).toEqual([]);

    // the verifier no longer notes the dead claim as orphan content
    const report = await verifyAuditLog(dir);
    const orphans = report.notes.filter((n) => n.kind === "orphan_content").map((n) => n.file);
    expect(orphans).not.toContain("full_interactions/manifest_dead-1.json");
    expect(orphans).toContain("full_interactions/manifest_live-1.json");
  }, 60_000);

  it("a logger's cleanup() removes it too, keeps a live writer's claim, and the id is free again", async () => {
    const projectPath = tmpProject();
    const { claim } = await threeClaims(projectPath);
    const l = new AuditLogger({ sessionId: "cleaner", projectPath, fullContentLogging: true });
    const errors: Error[] = [];
    l.on("error", (e) => errors.push(e));
    const dry = await l.cleanup({ dryRun: true });
    expect(dry.abandonedClaims).toEqual(["full_interactions/manifest_dead-1.json"]);
    expect(fs.existsSync(claim("dead-1"))).toBe(true);
    const done = await l.cleanup();
    expect(done.abandonedClaims).toEqual(["full_interactions/manifest_dead-1.json"]);
    expect(fs.existsSync(claim("dead-1"))).toBe(false);
    expect(fs.statSync(claim("live-1")).size).toBe(0);
    // this logger's own claim of an id, made after it began, is never its cleanup's to remove
    expect(l.logChatInteraction({ id: "dead-1", prompt: "asked again", response: "answered" })).toBe("dead-1");
    await l.finalizeSession();
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(fs.statSync(claim("dead-1")).size).toBeGreaterThan(0);
  }, 60_000);
});
