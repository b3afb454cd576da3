// Found 2026-12-06: the names the kit makes carrying its pid (a file written whole beside its place,
// one set aside, an export's staging folder, a claimed spool) and a PostgresSink's recovery claim
// were judged by that pid in this pid namespace. Two containers given one host name and sharing
// the audit directory have their own pids: a cleanup in one removed the other's file being written
// (or took its claim) when that pid was free here. A name now carries the pid namespace too
// (`<pid>n<namespace>`); one of another namespace is judged by its age only (an hour untouched),
// one of this namespace by its pid, at once, and an older name (pid only) as before. Found the same
// day: names carried no host, and two hosts sharing the directory over a network file system
// commonly have pid namespaces of one number (the initial one, on every machine): each took the
// other's names for its own, by pid. A name now carries a tag of its host too
// (`<pid>n<namespace>h<host>`), one of another host judged by its age as one of another namespace
// is. Found later that day: an older name (no host, `<pid>` or `<pid>n<namespace>`) was still
// judged by its pid here, another container's or host's writer of an older version included: it is
// judged by its age now, as a foreign one. The other namespace or host is written as a process of it would write it: its tag in the
// name, or its `pidNs` in a claim's body (a second pid namespace takes privileges this test has
// not, a second host is not at hand). Real files, real processes; the age is reached with the
// clock set an hour and more ahead (Date only).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { verifyExport } from "../../src/integrity/export.js";
import { OWN_HOST_TAG, OWN_PROC_START } from "../../src/sink/owner.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { endedSession } from "../helpers/sessions.js";
import { auditDirOf, clockAhead, deadPid, exportedOnce, killedPid, leaveLock, OTHER_HOST_TAG, OTHER_NS_TAG, OWN_NS_SUFFIX } from "../helpers/core.js";

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

/**
 * The makers a test names its files after (see NAME_PID): `foreign`, ones whose liveness cannot be
 * told here (their pid dead here), older names' (no host) among them; `gone`, ones of this host and
 * pid namespace that are gone; `said`, how verify names the first foreign one.
 */
interface MakerCase {
  readonly of: string;
  readonly foreign: (dead: number, killed: number) => readonly string[];
  readonly gone: (dead: number, killed: number) => readonly string[];
  readonly said: (dead: number) => string;
}
const NS = OWN_NS_SUFFIX.slice(1);
/**
 * Older names, naming no host (before 2026-12-06), their pid dead or killed here: judged by their
 * age as another host's (found 2026-12-06: judged by their pid here, another container's or host's
 * live writer of an older version lost its temporary file whenever that pid was free here).
 */
const older = (d: number, k: number): string[] => [`${d}`, `${k}`, `${k}${OWN_NS_SUFFIX}`];
const CASES: readonly MakerCase[] = [
  {
    of: "another namespace",
    foreign: (d, k) => [`${d}n${OTHER_NS_TAG}`, `${d}n${OTHER_NS_TAG}h${OWN_HOST_TAG}`, ...older(d, k)],
    gone: (_d, k) => [`${k}${OWN_NS_SUFFIX}h${OWN_HOST_TAG}`],
    said: (d) => `process ${d} of pid namespace ${OTHER_NS_TAG}`,
  },
  // (found 2026-12-06: names carried no host, and two hosts sharing the directory over the
  // network commonly have pid namespaces of one number, the initial one; `…h<host>` since)
  {
    of: "another host",
    foreign: (d, k) => [`${d}${OWN_NS_SUFFIX}h${OTHER_HOST_TAG}`, `${d}h${OTHER_HOST_TAG}`, ...older(d, k)],
    gone: (_d, k) => [`${k}${OWN_NS_SUFFIX}h${OWN_HOST_TAG}`, `${k}h${OWN_HOST_TAG}`],
    said: (d) => `process ${d}${NS ? ` of pid namespace ${NS}` : ""} on another host, tagged ${OTHER_HOST_TAG}`,
  },
];

describe("the names the kit makes", () => {
  it("carry its pid, pid namespace and host: `<pid>n<namespace>h<host>` (a file this process writes whole beside its place)", async () => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    const logger = new AuditLogger({ sessionId: "named", projectPath, fullContentLogging: false });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    // (the session file is written whole beside its place: its temporary file's name, caught as it is made)
    const made: string[] = [];
    const watcher = fs.watch(dir, (_e, name) => {
      if (typeof name === "string" && name.endsWith(".tmp")) made.push(name);
    });
    try {
      await logger.finalizeSession();
      const deadline = Date.now() + 20_000;
      while (made.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    } finally {
      watcher.close();
    }
    expect(made.length).toBeGreaterThan(0);
    for (const n of made) expect(n).toMatch(new RegExp(`\\.${process.pid}${OWN_NS_SUFFIX}h${OWN_HOST_TAG}\\.[0-9a-z]+\\.tmp$`));
  });
});

describe("files whose name carries the process that made them", () => {
  it.each(CASES)("of $of: temporary files stay while young though their pid is dead here, and go once an hour old; this host's and namespace's of a killed process go at once; the older names' (no host) are kept while young too", async (c) => {
    const projectPath = tmpProject();
    const dir = auditDirOf(projectPath);
    await endedSession(projectPath, "old");
    const dead = deadPid();
    const killed = await killedPid();
    // (a session file's and a key store's written whole, a lock's and a recovery marker's workings)
    const temps = (pids: readonly string[]): string[] =>
      pids.flatMap((pid, i) => [`session_old.json.${pid}.0a1b2c3d4e5${i}.tmp`, `subject_keys_old.jsonl.${pid}.${i}.tmp`, `.session_old.lock.${pid}.k3x9q.tmp`, `.pg_recovery_${STORE}_old.${pid}.k3x9q.tmp`, `.pg_recovery_${STORE}_old.stale.${pid}`]);
    // (the directory's own: a directory lock set aside, the legal holds file written whole)
    const strays = (pids: readonly string[]): string[] => pids.flatMap((pid) => [`legal_holds.json.lock.stale.${pid}.0`, `legal_holds.json.${pid}.0a1b2c3d4e5f.tmp`]);
    const foreign = temps(c.foreign(dead, killed));
    const gone = temps(c.gone(dead, killed));
    for (const n of [...foreign, ...gone, ...strays(c.foreign(dead, killed)), ...strays(c.gone(dead, killed))]) fs.writeFileSync(path.join(dir, n), "{}");

    const logger = await cleaner(projectPath, "cleaner");
    const r = await logger.cleanup({ now: LATER() });
    expect(r.removed.map((e) => e.sessionId)).toEqual(["old"]);
    expect(r.removed[0]!.files).toEqual(expect.arrayContaining(gone));
    expect([...r.directoryLeftovers].sort()).toEqual(strays(c.gone(dead, killed)).sort());
    for (const n of gone) expect(fs.existsSync(path.join(dir, n)), n).toBe(false);
    // (in flight in the other container or on the other host, for all this one can tell)
    for (const n of [...foreign, ...strays(c.foreign(dead, killed))]) expect(fs.existsSync(path.join(dir, n)), n).toBe(true);
    expect((await logger.cleanup({ now: LATER() })).leftovers).toEqual([]);
    for (const n of foreign) expect(fs.existsSync(path.join(dir, n)), n).toBe(true);

    clockAhead(HOUR + 60_000);
    const later = await logger.cleanup({ now: LATER() });
    expect(later.leftovers).toEqual([{ sessionId: "old", lastActivity: expect.any(String), files: expect.arrayContaining(foreign) }]);
    expect([...later.directoryLeftovers].sort()).toEqual(strays(c.foreign(dead, killed)).sort());
    for (const n of [...foreign, ...strays(c.foreign(dead, killed))]) expect(fs.existsSync(path.join(dir, n)), n).toBe(false);
    await logger.finalizeSession();
  });
});

describe("a directory export's staging folder (`export.<pid>.<random>.staging/`)", () => {
  it.each(CASES)("of $of stays while young though its pid is dead here (verify names its maker), and is removed by the next export once an hour old; this host's and namespace's of a killed export are removed at once; the older names' (no host) are kept while young too", async (c) => {
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
    const maker = c.foreign(dead, killed)[0]!;
    const foreign = staging(maker);
    const gone = c.gone(dead, killed).map(staging);
    const olders = older(dead, killed).map(staging);

    await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    for (const n of gone) expect(fs.existsSync(path.join(exportDir, n)), n).toBe(false);
    for (const n of olders) expect(fs.existsSync(path.join(exportDir, n)), n).toBe(true);
    expect(fs.readdirSync(path.join(exportDir, foreign)).sort()).toEqual([".audit-logger-staging", `checksums.json.${maker}.abcdefabcdef.tmp`]);
    const unlisted = (await verifyExport(exportDir)).problems.filter((p) => p.kind === "export_file_unlisted" && p.file?.startsWith(`${foreign}/`));
    expect(unlisted.map((u) => u.file).sort()).toEqual([`${foreign}/.audit-logger-staging`, `${foreign}/checksums.json.${maker}.abcdefabcdef.tmp`]);
    for (const u of unlisted) expect(u.detail).toContain(`left by an export (${c.said(dead)}) killed midway`);

    clockAhead(HOUR + 60_000);
    await exporter.exportCompleteAuditToDirectory(exportDir, { includeFullContent: false });
    for (const n of [foreign, ...olders]) expect(fs.existsSync(path.join(exportDir, n)), n).toBe(false);
    expect((await verifyExport(exportDir)).problems).toEqual([]);
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
