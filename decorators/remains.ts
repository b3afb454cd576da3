/**
 * What is left of a decorated generator call for a record once its generator is dropped
 * unfinished (half-read, or never started, without `return()`): the call is then recorded when
 * the generator is garbage-collected, once, as abandoned (see src/dropped.ts).
 *
 * The FinalizationRegistry holds this until then, so nothing here may lead back to the
 * generator (else it is never collected, and never recorded): not `this` (an instance that keeps
 * its own generator), not the arguments or items as they are (an AbortSignal whose listener
 * closes the generator, a session object it is stored on), not the contexts (their metadata is
 * the app's). It holds the call's ids, names and times, and copies that share nothing with the
 * app's objects: plain data copied as for the record, anything else as the record would
 * serialise it (detached JSON data), made when the call starts and as items are yielded.
 */
import { runInAuditContext } from "../src/context.js";
import type { DroppableCall, Ticket } from "../src/dropped.js";
import { safeRecord } from "../src/instrument.js";
import type { AuditLogger } from "../src/logger.js";
import type { AuditContextValue } from "../src/types.js";
import { copyChecked, detached } from "./copy.js";
import type { CallOutcome, FinishedCall, MethodAuditSpec, YieldedItems } from "./wrap.js";

export class GeneratorRemains implements FinishedCall, DroppableCall {
  ticket: Ticket | undefined = undefined;
  userId: string | undefined;
  durationSeconds = 0;
  outcome: CallOutcome = { status: "abandoned" };
  readonly yielded: YieldedItems;
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

  /** A yielded item as copied for the call's own record: that copy when it holds nothing of the app's, else detached. */
  kept(value: unknown, copy: unknown, fresh: boolean): void {
    const items = this.yielded.items;
    if (items && items.length < MAX_REMAINS_ITEMS) items.push(fresh ? copy : detached(value));
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

/** Items kept for an abandoned call's record (as many as the call's own record keeps). */
const MAX_REMAINS_ITEMS = 100_000;

/** The context a call was made in, as a new object whose metadata shares nothing with the app's. */
export function contextRemains(context: AuditContextValue | undefined): AuditContextValue | undefined {
  if (context === undefined || context.metadata === undefined) return context === undefined ? undefined : { ...context };
  const { copy, fresh } = copyChecked(context.metadata);
  return { ...context, metadata: (fresh ? copy : detached(context.metadata)) as Record<string, unknown> };
}
