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
 * This host as the names the kit makes carry it: the first 8 hex digits of the SHA-256 of its
 * name (`os.hostname()`, when this module loaded). Two hosts sharing a directory over a network
 * file system commonly have pid namespaces of the same number (the initial one, 4026531836, on
 * every machine): without it each took the other's names for its own, by pid (found 2026-12-06).
 */
export const OWN_HOST_TAG = createHash("sha256").update(os.hostname()).digest("hex").slice(0, 8);

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
 * How long a file named by a process of another host or pid namespace (see nameLeftByGone) is
 * kept untouched (its ctime: a write or a rename sets it) before it is taken for left by one gone.
 */
export const FOREIGN_NAME_STALE_MS = 60 * 60 * 1000;

/**
 * Whether a file whose name names its maker (`token`, NAME_PID; `started`, its kernel start where
 * the name gives it) was left by a maker that is gone, from the file's ctime (`changedMs`):
 * - named on another host (its host tag not OWN_HOST_TAG: a directory shared over the network),
 *   or in another pid namespace (a container sharing the directory and the host name): its pid is
 *   not this process's to ask, so once untouched FOREIGN_NAME_STALE_MS;
 * - named on this host in this pid namespace, or by an older name naming neither: by its pid
 *   (claimLive).
 */
export function nameLeftByGone(token: string, started: string | undefined, changedMs: number): boolean {
  const { pid, ns, host } = namePid(token);
  if ((host !== undefined && host !== OWN_HOST_TAG) || (ns !== undefined && ns !== OWN_NS_TAG)) return Date.now() - changedMs >= FOREIGN_NAME_STALE_MS;
  return !claimLive(pid, started, changedMs);
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
    hostname: os.hostname(),
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
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0 || owner.hostname !== os.hostname()) return "unknown";
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
  const owner: Owner = { pid, hostname: os.hostname(), startedAt: new Date(claimedAtMs).toISOString(), ...(started !== undefined ? { procStart: started } : {}) };
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
