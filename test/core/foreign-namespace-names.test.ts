// Found 2026-12-06: the names the kit makes carrying its pid (a file written whole beside its place,
// one set aside, an export's staging folder, a claimed spool) and a PostgresSink's recovery claim
// were judged by that pid in this pid namespace. Two containers given one host name and sharing
// the audit directory have their own pids: a cleanup in one removed the other's file being written
// (or took its claim) when that pid was free here. A name now carries the pid namespace too
// (`<pid>n<namespace>`); one of another namespace is judged by its age only (an hour untouched),
// one of this namespace by its pid, at once, and an older name (pid only) as before. The other
// namespace is written as a process of it would write it: its tag in the name, or its `pidNs` in a
// claim's body (a second pid namespace takes privileges this test has not). Real files, real
// processes; the age is reached with the clock set an hour and more ahead (Date only).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { OWN_PROC_START } from "../../src/sink/owner.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { endedSession } from "../helpers/sessions.js";
import { auditDirOf, clockAhead, deadPid, exportedOnce, killedPid, leaveLock, OTHER_NS_TAG, OWN_NS_SUFFIX } from "../helpers/core.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** a time at which every session written now is past 30 days */
const LATER = (): number => Date.now() + 40 * DAY;
const STORE = "0123456789";

afterEach(() => {
  vi.useRealTimers();
  cleanupTmp();
});

async function cleaner(projectPath: string, sessionId: string): Promise<AuditLogger> {
  return new AuditLogger({ sessionId, projectPath, maxLogAgeDays: 30, fullContentLogging: false });
}

describe("files whose name carries the pid of the process that made them", () => {
  it("another namespace's temporary files stay while young though their pid is dead here, and go once an hour old; this namespace's of a killed process, and an older name's, go at once", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    await endedSession(projectPath, "old");
    const dead = deadPid();
    const killed = await killedPid();
    const foreign = [`session_old.json.${dead}n${OTHER_NS_TAG}.0a1b2c3d4e5f.tmp`, `subject_keys_old.jsonl.${dead}n${OTHER_NS_TAG}.1.tmp`];
    const gone = [`session_old.json.${killed}${OWN_NS_SUFFIX}.0a1b2c3d4e5f.tmp`, `subject_keys_old.jsonl.${killed}${OWN_NS_SUFFIX}.2.tmp`, `session_old.json.${dead}.0a1b2c3d4e5f.tmp`, `subject_keys_old.jsonl.${dead}.3.tmp`];
    for (const n of [...foreign, ...gone]) fs.writeFileSync(path.join(dir, n), "{}");

    const logger = await cleaner(projectPath, "cleaner");
    const r = await logger.cleanup({ now: LATER() });
    expect(r.removed.map((e) => e.sessionId)).toEqual(["old"]);
    expect(r.removed[0]!.files).toEqual(expect.arrayContaining(gone));
    for (const n of gone) expect(fs.existsSync(path.join(dir, n)), n).toBe(false);
    // (in flight in the other container, for all this one can tell)
    for (const n of foreign) expect(fs.existsSync(path.join(dir, n)), n).toBe(true);
    expect((await logger.cleanup({ now: LATER() })).leftovers).toEqual([]);
    for (const n of foreign) expect(fs.existsSync(path.join(dir, n)), n).toBe(true);

    clockAhead(HOUR + 60_000);
    const later = await logger.cleanup({ now: LATER() });
    expect(later.leftovers).toEqual([{ sessionId: "old", lastActivity: expect.any(String), files: expect.arrayContaining(foreign) }]);
    for (const n of foreign) expect(fs.existsSync(path.join(dir, n)), n).toBe(false);
    await logger.finalizeSession();
  });
});

describe("a directory export's staging folder (`export.<pid>.<random>.staging/`)", () => {
  it("of another namespace stays while young though its pid is dead here, and is removed by the next export once an hour old; this namespace's of a killed export, and an older name's, are removed at once", async () => {
    const { exportDir, exporter } = await exportedOnce("ex");
    const dead = deadPid();
    const killed = await killedPid();
    const staging = (pid: string): string => {
      const name = `export.${pid}.0a1b2c3d4e5f.staging`;
      fs.mkdirSync(path.join(exportDir, name));
      // (an export's mark, and a file it was writing)
      fs.writeFileSync(path.join(exportDir, name, ".audit-logger-staging"), "");
      fs.writeFileSync(path.join(exportDir, name, `checksums.json.${pid}.abcdefabcdef.tmp`), "{");
      return name;
    };
    const foreign = staging(`${dead}n${OTHER_NS_TAG}`);
    const gone = [staging(`${killed}${OWN_NS_SUFFIX}`), staging(String(dead))];

    await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    for (const n of gone) expect(fs.existsSync(path.join(exportDir, n)), n).toBe(false);
    expect(fs.readdirSync(path.join(exportDir, foreign)).sort()).toEqual([".audit-logger-staging", `checksums.json.${dead}n${OTHER_NS_TAG}.abcdefabcdef.tmp`]);

    clockAhead(HOUR + 60_000);
    await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    expect(fs.existsSync(path.join(exportDir, foreign))).toBe(false);
  });
});

describe("a PostgresSink's recovery claim (`.pg_recovery_<store>_<id>`)", () => {
  /** A claim as a sink of process `pid` writes it now (`pidNs`: its pid namespace). */
  const claimBody = (lock: string, pid: number, pidNs: string, procStart?: string): string =>
    JSON.stringify({ lock, pid, hostname: os.hostname(), startedAt: new Date().toISOString(), ...(procStart !== undefined ? { procStart } : {}), pidNs });

  it("of another namespace keeps its session while young though its pid is dead here, and not once an hour old; of this namespace, a killed process's goes at once; an older claim (pid only) as before", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const dead = deadPid();
    const killed = await killedPid();
    for (const s of ["foreign", "killed", "olddead", "oldlive"]) {
      await endedSession(projectPath, s);
      leaveLock(dir, s);
    }
    const marker = (s: string): string => `.pg_recovery_${STORE}_${s}`;
    const lockOf = (s: string): string => fs.readFileSync(path.join(dir, `.session_${s}.lock`), "utf8");
    fs.writeFileSync(path.join(dir, marker("foreign")), claimBody(lockOf("foreign"), dead, `pid:[${OTHER_NS_TAG}]`, "12345"));
    fs.writeFileSync(path.join(dir, marker("killed")), claimBody(lockOf("killed"), killed, fs.readlinkSync("/proc/self/ns/pid")));
    fs.writeFileSync(path.join(dir, marker("olddead")), JSON.stringify({ lock: lockOf("olddead"), pid: dead }));
    fs.writeFileSync(path.join(dir, marker("oldlive")), JSON.stringify({ lock: lockOf("oldlive"), pid: process.pid, ...(OWN_PROC_START !== undefined ? { procStart: OWN_PROC_START } : {}) }));

    const logger = await cleaner(projectPath, "cleaner");
    const r = await logger.cleanup({ now: LATER() });
    expect(r.removed.map((e) => e.sessionId).sort()).toEqual(["killed", "olddead"]);
    expect(r.skippedUnsent.map((e) => e.sessionId).sort()).toEqual(["foreign", "oldlive"]);
    expect(fs.readFileSync(path.join(dir, marker("foreign")), "utf8")).toContain(`"pid":${dead}`);

    clockAhead(HOUR + 60_000);
    const later = await logger.cleanup({ now: LATER() });
    expect(later.removed.map((e) => e.sessionId)).toEqual(["foreign"]);
    expect(later.skippedUnsent.map((e) => e.sessionId)).toEqual(["oldlive"]);
    expect(fs.existsSync(path.join(dir, marker("foreign")))).toBe(false);
    await logger.finalizeSession();
  });
});
