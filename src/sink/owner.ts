/**
 * Who holds a lock, and whether it is provably gone: the one rule every lock and claim of the kit
 * judges its holder by (a session's lock and its takeover marker, the directory locks of legal
 * holds and shredding, an explicit id's claim, the run a session file names).
 *
 * A holder names its host, its pid, when it took the lock, and, where known (Linux), its start as
 * the kernel counts it (`procStart`) and its pid namespace (`pidNs`). It is:
 * - `unknown` when it is of another host, or of another pid namespace (a container given this
 *   host's name, sharing the directory: its pids are not this one's to ask): each lock says what
 *   it does then (by age, or held);
 * - `gone` when its pid is not alive here, or is alive with another kernel start (the pid reused
 *   since), or is this process's pid with another start (an earlier process with the same pid: a
 *   container's app is pid 1 after every restart);
 * - `live` otherwise. A holder of this process is live: it is never taken over by age (a thread
 *   of it may be stalled, never dead while the process runs; see threadGone for a thread's end).
 * A holder written before `pidNs` was recorded is judged by its pid as then.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import { threadId } from "node:worker_threads";

/** What the kit's lock files record of their holder (see the module's comment). */
export interface Owner {
  readonly pid: number;
  readonly hostname: string;
  readonly startedAt?: string;
  readonly procStart?: string;
  readonly pidNs?: string;
}

export type OwnerState = "live" | "gone" | "unknown";

/** Whether process `pid` of this host is alive (EPERM: alive, another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Field 22 of a `/proc/.../stat` file (`path`): the start in clock ticks since boot; undefined when unreadable. */
function statStart(path: string): string | undefined {
  try {
    const stat = fs.readFileSync(path, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * A process's start time as the kernel counts it (clock ticks since boot, field 22 of
 * `/proc/<pid>/stat`; undefined off Linux or when unreadable): unlike the wall clock it does not
 * move when the clock is stepped back (NTP at a container's boot), which made this process's own
 * live lock look older than the process, and taken over; and it tells a reused pid from the
 * lock's writer (review, 2026-12-04). Where it is known, a lock carries it and is compared by it.
 */
const procStart = (pid: number | "self"): string | undefined => statStart(`/proc/${pid}/stat`);

/** This process's start (see procStart), written into the kit's lock files where known. */
export const OWN_PROC_START = procStart("self");

/**
 * This process's pid namespace (`/proc/self/ns/pid`, e.g. `pid:[4026531836]`; undefined off
 * Linux): a holder names it, so that a process of another namespace given the same host name
 * (containers sharing a volume and a hostname) does not take its pid for one of its own.
 */
export const OWN_PID_NS = ((): string | undefined => {
  try {
    return fs.readlinkSync("/proc/self/ns/pid");
  } catch {
    return undefined;
  }
})();

/**
 * This process's pid namespace as the names the kit makes carry it: the namespace's inode number
 * (`pid:[4026531836]` → `4026531836`); undefined off Linux.
 */
export const OWN_NS_TAG = /^pid:\[(\d+)\]$/.exec(OWN_PID_NS ?? "")?.[1];

/**
 * This host's name as this process names itself (in its locks, claims and session file, and as it
 * judges them): `os.hostname()` read once, when this module loaded, and kept for the process's
 * life. A host name changed while the process runs (`hostname`, a container's UTS namespace
 * renamed) made its own live locks, read again, name another host: held as a foreign holder's, the
 * error saying to remove them (found 2026-12-06). A process started after the change names itself
 * by the new name, and takes this one's for another host's (never for gone).
 */
export const OWN_HOSTNAME = os.hostname();

/**
 * This host as the names the kit makes carry it: the first 8 hex digits of the SHA-256 of its
 * name (OWN_HOSTNAME: read when this module loaded). Two hosts sharing a directory over a network
 * file system commonly have pid namespaces of the same number (the initial one, 4026531836, on
 * every machine): without it each took the other's names for its own, by pid (found 2026-12-06).
 */
export const OWN_HOST_TAG = createHash("sha256").update(OWN_HOSTNAME).digest("hex").slice(0, 8);

/**
 * What a name the kit makes (a temporary file, one set aside, an export's staging folder, a spool
 * claimed) carries of the process that made it: its pid, then `n` and its pid namespace
 * (OWN_NS_TAG) where known, then `h` and its host (OWN_HOST_TAG), e.g. `1234n4026531836h0a1b2c3d`
 * (`1234h0a1b2c3d` off Linux). Names made before 2026-12-06 carry the pid only (`1234`), and then
 * until the host was added, the pid and namespace (`1234n4026531836`). NAME_PID (a regular
 * expression's source) matches all three.
 */
export const OWN_NAME_PID = `${process.pid}${OWN_NS_TAG !== undefined ? `n${OWN_NS_TAG}` : ""}h${OWN_HOST_TAG}`;
export const NAME_PID = String.raw`\d+(?:n\d+)?(?:h[0-9a-f]{8})?`;
const NAME_PID_PARTS = new RegExp(String.raw`^(\d+)(?:n(\d+))?(?:h([0-9a-f]{8}))?$`);

/** What a name's NAME_PID part gives: the pid, the pid namespace and the host tag (each undefined for a name that has none). */
export interface NameMaker {
  readonly pid: number;
  readonly ns: string | undefined;
  readonly host: string | undefined;
}

/** The maker a name's NAME_PID part names (a token that is none gives pid NaN: never taken for gone). */
export function namePid(token: string): NameMaker {
  const m = NAME_PID_PARTS.exec(token);
  return { pid: m ? Number(m[1]) : Number.NaN, ns: m?.[2], host: m?.[3] };
}

/**
 * The process a name's NAME_PID part names, in words: `process 1234`, `process 1234 of pid
 * namespace 4026531836`, `process 1234 of pid namespace 4026531836 on this host`, `… on another
 * host, tagged 0a1b2c3d`.
 */
export function nameProcess(token: string): string {
  const { pid, ns, host } = namePid(token);
  const of = ns === undefined ? "" : ` of pid namespace ${ns}`;
  return host === undefined ? `process ${pid}${of}` : `process ${pid}${of} on ${host === OWN_HOST_TAG ? "this host" : `another host, tagged ${host}`}`;
}

/**
 * How long a file whose maker cannot be asked (see nameLeftByGone) is kept, untouched, before it is
 * taken for left by one gone: its modification time (mtime) that long ago.
 */
export const FOREIGN_NAME_STALE_MS = 60 * 60 * 1000;

/**
 * How often a process refreshes (sets the mtime of) a name of its own that it holds for long: a
 * spool it replays, a recovery it claimed, an export's staging folder (see NameRefresher). A
 * twelfth of FOREIGN_NAME_STALE_MS: a live holder is never an hour untouched, stalls of minutes
 * and clocks some minutes apart included.
 */
export const FOREIGN_NAME_REFRESH_MS = FOREIGN_NAME_STALE_MS / 12;

/**
 * A file whose name or metadata changed this recently (its ctime: a rename, a write, a touch) is
 * never taken for left, whatever its mtime: a name made by renaming a file keeps that file's
 * mtime (a spool claimed for replay, one last written days ago; a lock set aside) until its maker
 * touches it.
 */
export const FOREIGN_NAME_RENAMED_MS = 10 * 60 * 1000;

/** What a foreign name's age is judged by (an fs.Stats has both). */
export interface NameTimes {
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/**
 * Whether a file of a maker that cannot be asked is left: newer names (the host tag) by its
 * mtime, which their live holders keep fresh (see NameRefresher), once it is FOREIGN_NAME_STALE_MS
 * old and the file unchanged FOREIGN_NAME_RENAMED_MS (its ctime); an older name's maker (a version
 * before 2026-12-06) refreshes nothing, so its file is judged by its ctime (a write, a rename, a
 * touch), an hour.
 */
export function foreignNameStale(times: NameTimes, hostTagged: boolean): boolean {
  const now = Date.now();
  if (!hostTagged) return now - times.ctimeMs >= FOREIGN_NAME_STALE_MS;
  return now - times.mtimeMs >= FOREIGN_NAME_STALE_MS && now - times.ctimeMs >= FOREIGN_NAME_RENAMED_MS;
}

/**
 * Whether a file whose name names its maker (`token`, NAME_PID; `started`, its kernel start where
 * the name gives it) was left by a maker that is gone, from the file's times (`times`, its lstat):
 * - named on this host (its host tag OWN_HOST_TAG) in this pid namespace: by its pid (claimLive);
 * - named on another host (a directory shared over the network), or in another pid namespace (a
 *   container sharing the directory and the host name): its pid is not this process's to ask, so
 *   by its age (foreignNameStale: an hour untouched);
 * - an older name, naming no host (pid only, `<pid>`, or `<pid>n<namespace>`: versions before
 *   2026-12-06): by its age as well (its ctime, an hour). Such a name does not say which host or
 *   container made it, and no process of this version makes one: until 2026-12-06 it was judged by
 *   its pid here, and another container's or host's live writer of an older version lost its
 *   temporary file (or its spool claim) whenever that pid was free here.
 */
export function nameLeftByGone(token: string, started: string | undefined, times: NameTimes): boolean {
  const { pid, ns, host } = namePid(token);
  if (host === undefined) return foreignNameStale(times, false);
  if (host !== OWN_HOST_TAG || (ns !== undefined && ns !== OWN_NS_TAG)) return foreignNameStale(times, true);
  return !claimLive(pid, started, times.ctimeMs);
}

/**
 * Sets the mtime of `file` (a name of this process's that it holds: see NameRefresher) to now, by
 * this process's clock, as the judges of its age compare it (foreignNameStale). Gone meanwhile (or
 * any failure): nothing, the holder finds out at its next use.
 */
export function refreshName(file: string): void {
  try {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } catch {
    // (taken over, removed, or refused: the holder's next use of it tells)
  }
}

/**
 * The names of its own that a process holds for long (a spool it replays, a recovery it claimed,
 * an export's staging folder), kept fresh for the processes that cannot ask whether it lives
 * (another host's, another pid namespace's: see nameLeftByGone): each is refreshed (refreshName)
 * as it is added, at each `touch()` (the holder's use of it), and every FOREIGN_NAME_REFRESH_MS
 * while it is held, on a timer that never keeps the process alive (unref'd) and runs only while
 * some name is held. Until 2026-12-06 such a name was never refreshed: a replay waiting out an
 * outage, or an export, an hour long, was taken for left by a process of another container or
 * host, and taken over (or removed) while it ran.
 */
export class NameRefresher {
  private readonly names = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  /** Holds `file`: refreshed now, and on the timer until `drop(file)`. */
  hold(file: string): void {
    this.names.add(file);
    refreshName(file);
    if (this.timer === undefined) {
      this.timer = setInterval(() => {
        for (const f of this.names) refreshName(f);
      }, FOREIGN_NAME_REFRESH_MS);
      this.timer.unref();
    }
  }

  /** The holder uses `file` (held): refreshed now. */
  touch(file: string): void {
    if (this.names.has(file)) refreshName(file);
  }

  /** `file` is no longer held (renamed, removed, or another's now). */
  drop(file: string): void {
    this.names.delete(file);
    if (this.names.size === 0) this.stop();
  }

  /** Every name dropped, the timer stopped. */
  stop(): void {
    this.names.clear();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * When this process started (wall clock). A holder naming this process's pid that took its lock
 * before then, and names no kernel start, was an earlier process that had the same pid (a
 * container's app is pid 1 after every restart), and is gone (found by review, 2026-12-04).
 * Worker threads share the pid and the start time. Half a second of slack for the clocks'
 * resolution.
 */
const PROCESS_START_MS = Date.now() - process.uptime() * 1000;
const START_SLACK_MS = 500;

/** This process as a holder: pid, host, now, and its kernel start and pid namespace where known. */
export function ownOwner(): Owner & { readonly startedAt: string } {
  return {
    pid: process.pid,
    hostname: OWN_HOSTNAME,
    startedAt: new Date().toISOString(),
    ...(OWN_PROC_START !== undefined ? { procStart: OWN_PROC_START } : {}),
    ...(OWN_PID_NS !== undefined ? { pidNs: OWN_PID_NS } : {}),
  };
}

/** The holder a parsed lock body names, or undefined when it names none (no numeric pid, no host). Other members are ignored. */
export function ownerOf(body: unknown): Owner | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.pid !== "number" || typeof b.hostname !== "string") return undefined;
  return {
    pid: b.pid,
    hostname: b.hostname,
    ...(typeof b.startedAt === "string" ? { startedAt: b.startedAt } : {}),
    ...(typeof b.procStart === "string" ? { procStart: b.procStart } : {}),
    ...(typeof b.pidNs === "string" ? { pidNs: b.pidNs } : {}),
  };
}

/** Whether `owner` is live, gone or cannot be told from here (see the module's comment). */
export function ownerState(owner: Owner): OwnerState {
  // (a pid of 0 or below names a process group to kill(2): never asked; no holder of the kit's)
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0 || owner.hostname !== OWN_HOSTNAME) return "unknown";
  if (owner.pidNs !== undefined && owner.pidNs !== OWN_PID_NS) return "unknown";
  if (owner.pid === process.pid) {
    if (owner.procStart !== undefined && OWN_PROC_START !== undefined) return owner.procStart === OWN_PROC_START ? "live" : "gone";
    return Date.parse(owner.startedAt ?? "") < PROCESS_START_MS - START_SLACK_MS ? "gone" : "live";
  }
  return processLive(owner.pid, owner.procStart) ? "live" : "gone";
}

/** Whether `owner` is this very process (live, and its pid). */
export function ownerIsThisProcess(owner: Owner): boolean {
  return owner.pid === process.pid && ownerState(owner) === "live";
}

/**
 * Whether process `pid` of this host lives and is the one that recorded `started` (its
 * `/proc/<pid>/stat` start, where known): a live process with another start has the pid reused.
 */
function processLive(pid: number, started: string | undefined): boolean {
  if (!alive(pid)) return false;
  const now = started === undefined ? undefined : procStart(pid);
  return now === undefined || now === started;
}

/**
 * Whether a claim that a process of this host made by naming itself in a file's name (`pid`, and
 * its kernel start `started` where it was known; `claimedAtMs`: when the claim was made, e.g. the
 * file's ctime, which a rename sets) may still be live: judged as a holder naming no pid
 * namespace is (ownerState), the claim's time as when it took its lock.
 */
export function claimLive(pid: number, started: string | undefined, claimedAtMs: number): boolean {
  const owner: Owner = { pid, hostname: OWN_HOSTNAME, startedAt: new Date(claimedAtMs).toISOString(), ...(started !== undefined ? { procStart: started } : {}) };
  return ownerState(owner) !== "gone";
}

/** A thread of this process as a holder: its Node thread id, and its kernel thread id and start where known (Linux). */
export interface ThreadOwner {
  readonly threadId: number;
  readonly tid?: number;
  readonly tidStart?: string;
}

/** This thread (see ThreadOwner); `/proc/thread-self` links to `<pid>/task/<tid>`. */
export const OWN_THREAD: ThreadOwner = ((): ThreadOwner => {
  try {
    const tid = Number(/task\/(\d+)$/.exec(fs.readlinkSync("/proc/thread-self"))?.[1]);
    const tidStart = Number.isSafeInteger(tid) ? statStart(`/proc/self/task/${tid}/stat`) : undefined;
    return tidStart === undefined ? { threadId } : { threadId, tid, tidStart };
  } catch {
    return { threadId };
  }
})();

/**
 * Whether the thread of this process that a lock body names (`body`: its `tid` and `tidStart`,
 * see OWN_THREAD) has ended: its kernel thread is gone, or has another start. False while it may
 * live: a thread stalled (blocked, swapped out) is alive, and so is one whose end cannot be told
 * (off Linux, a lock naming no thread): such a lock waits for the process to end.
 */
export function threadGone(body: Readonly<Record<string, unknown>>): boolean {
  const { tid, tidStart } = body;
  if (typeof tid !== "number" || !Number.isSafeInteger(tid) || tid <= 0 || typeof tidStart !== "string") return false;
  // (this process's threads only: /proc/self/task lists them)
  if (OWN_THREAD.tidStart === undefined) return false;
  return statStart(`/proc/self/task/${tid}/stat`) !== tidStart;
}
