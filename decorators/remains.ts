/**
 * What is left of a decorated generator call for a record once its generator is dropped
 * unfinished (half-read, or never started, without `return()`): the call is then recorded when
 * the generator is garbage-collected, once, as abandoned (see src/dropped.ts).
 *
 * The FinalizationRegistry holds this until then, so nothing here may lead back to the generator
 * (else it is never collected, and never recorded): not `this` (an instance that keeps its own
 * generator), not the app's objects among the arguments, items or context (an AbortSignal whose
 * listener closes the generator, a session object it is stored on). It holds the call's ids,
 * names and times, its context's ids, and new data only: the record's own copies of the
 * arguments, the context metadata and (for `@AuditChat`) the items where those are all new plain
 * data (capture functions see what they always see), and otherwise a snapshot of them as the
 * record would write them (`toJsonSnapshot`: a class instance as its members, a Date as its ISO
 * text, taken when the call is made or the item yielded), or "[Not kept: more than 1000 values]"
 * for one whose snapshot would be larger than that (a client object, a request): capture
 * functions then see the snapshot.
 */
import { runInAuditContext } from "../src/context.js";
import type { DroppableCall, Ticket } from "../src/dropped.js";
import { safeRecord } from "../src/instrument.js";
import type { AuditLogger } from "../src/logger.js";
import { setMember, toJsonSnapshot, unreadableReason } from "../src/record/serialize.js";
import type { AuditContextValue } from "../src/types.js";
import { copyOf } from "./copy.js";
import type { CallOutcome, FinishedCall, MethodAuditSpec, YieldedItems } from "./wrap.js";

export class GeneratorRemains implements FinishedCall, DroppableCall {
  ticket: Ticket | undefined = undefined;
  userId: string | undefined;
  durationSeconds = 0;
  outcome: CallOutcome = { status: "abandoned" };
  readonly yielded: YieldedItems;
  /** (a generator is observed) */
  readonly unobserved = undefined;
  /** (read by @AuditErrors alone, which tracks no dropped generator: an abandoned call is no error) */
  readonly linkedBelow = undefined;
  /** the consumer asked the generator to return (it yielded from its `finally`, and was then dropped) */
  closing = false;
  /** when the generator's last step returned: its duration ends there */
  lastStepAt: number;

  constructor(
    private readonly spec: MethodAuditSpec,
    private readonly logger: AuditLogger,
    readonly id: string | undefined,
    readonly traceId: string | undefined,
    readonly parentId: string | undefined,
    /** the call's own copies of its arguments, or snapshots of them (see {@link keptForRemains}): new data only */
    readonly args: readonly unknown[],
    readonly method: string,
    readonly qualifiedName: string,
    readonly startedAt: number,
    readonly outer: AuditContextValue | undefined,
  ) {
    this.lastStepAt = startedAt;
    this.yielded = { count: 0, firstItemSeconds: undefined, items: spec.collectItems ? [] : undefined };
  }

  /** An item was yielded (`firstItemSeconds`: the call's, once it has one). */
  counted(firstItemSeconds: number | undefined): void {
    this.yielded.count++;
    this.yielded.firstItemSeconds = firstItemSeconds;
  }

  /** A yielded item: the call's own copy of it, or a snapshot (see {@link keptForRemains}; the call caps how many). */
  addItem(copy: unknown, seconds: number): void {
    if (this.yielded.items === undefined) return;
    this.yielded.items.push(copy);
    (this.yielded.times ??= []).push(seconds);
  }

  /** Run by the FinalizationRegistry: never throws. */
  abandon(): void {
    this.ticket = undefined;
    this.durationSeconds = (this.lastStepAt - this.startedAt) / 1000;
    this.outcome = this.closing ? { status: "aborted" } : { status: "abandoned" };
    try {
      runInAuditContext(this.outer, () => safeRecord(this.logger, () => this.spec.record(this.logger, this)));
    } catch {
      // (safeRecord reports what the record's own steps throw; nothing else here can)
    }
  }
}

/** Values a snapshot of one argument, item or context metadata walks at most (see toJsonSnapshot). */
export const SNAPSHOT_VALUES = 1000;

/**
 * What the remains keep of one value: the call's own copy when that is all new (`fresh`), else
 * a snapshot of the value as the record would write it, taken now.
 */
export function keptForRemains(copy: unknown, fresh: boolean): unknown {
  return fresh ? copy : toJsonSnapshot(copy, SNAPSHOT_VALUES);
}

/**
 * The context a call was made in, for its record: its ids, user, persona and session, and its
 * metadata as new data (see keptForRemains; left out when it has no object form).
 */
export function contextRemains(context: AuditContextValue | undefined): AuditContextValue | undefined {
  if (context === undefined) return undefined;
  const out: { -readonly [K in keyof AuditContextValue]: AuditContextValue[K] } = {};
  if (typeof context.traceId === "string") out.traceId = context.traceId;
  if (typeof context.parentId === "string") out.parentId = context.parentId;
  if (typeof context.userId === "string") out.userId = context.userId;
  if (typeof context.persona === "string") out.persona = context.persona;
  if (typeof context.sessionId === "string") out.sessionId = context.sessionId;
  if (context.metadata !== undefined) {
    const { copy, fresh } = copyOf(context.metadata);
    const metadata = fresh ? (copy as Record<string, unknown>) : metadataSnapshot(copy);
    if (metadata !== undefined) out.metadata = metadata;
  }
  return out;
}

/**
 * Context metadata holding something of the app's, member by member (each its own snapshot, so
 * one large member, a database client say, is "[Not kept: …]" and the others are kept).
 */
function metadataSnapshot(metadata: unknown): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let keys: string[];
  try {
    keys = Object.keys(metadata as object);
  } catch {
    return undefined; // (a revoked Proxy: no members to keep)
  }
  for (const key of keys) {
    let value: unknown;
    try {
      value = (metadata as Record<string, unknown>)[key];
    } catch (err) {
      setMember(out, key, `[Unreadable: ${unreadableReason(err)}]`);
      continue;
    }
    if (value !== undefined) setMember(out, key, toJsonSnapshot(value, SNAPSHOT_VALUES));
  }
  return out;
}
