/**
 * Results the app drops without reading them to the end (an APIPromise never awaited, a stream
 * never read or left half-read without `break`/`return()`, a decorated generator method's
 * generator), for the OpenAI and Anthropic integrations and the decorators: there is no other moment at which such a call could be recorded, so it is
 * recorded when its result is garbage-collected, once, as abandoned. A result still alive when the
 * process exits is not recorded.
 *
 * Registered without an unregister token: with one, every registration costs a runtime call and
 * a hash-table insert (and every unregistration a removal), ~1.5 µs per streamed call on Node 20
 * (bench/share-openai.ts). Instead each registration holds a ticket, and only the call's current
 * ticket records anything: `untrackResult()` drops it, so a result collected after its call was
 * recorded, or after the call moved on to its stream, runs a callback that does nothing.
 */

/** A call that can be recorded as abandoned. */
export interface DroppableCall {
  /** the call's current registration, if any (see {@link trackResult}) */
  ticket: Ticket | undefined;
  /** its result was collected unread; run by the FinalizationRegistry, so it must not throw */
  abandon(): void;
}

/** One registration of a result. */
export interface Ticket {
  /**
   * Cleared when the ticket is dropped: the registry holds its tickets until their results are
   * collected, and a ticket that still led to its call would keep the call alive, and through it
   * anything that leads back to the result (a stream's aborted signal, whose reason, a
   * DOMException, keeps the stack it was thrown in: the stream read by `break`), so that the
   * result itself never became collectable.
   */
  call: DroppableCall | undefined;
}

const dropped = new FinalizationRegistry<Ticket>((ticket) => {
  const call = ticket.call;
  if (call !== undefined && call.ticket === ticket) call.abandon();
});

/** `call` is recorded as abandoned if `result` is collected while this registration is its current one. */
export function trackResult(call: DroppableCall, result: object): void {
  untrackResult(call);
  const ticket: Ticket = { call };
  call.ticket = ticket;
  dropped.register(result, ticket);
}

/** Drops the call's current registration (it was recorded, or moved on to another result). */
export function untrackResult(call: DroppableCall): void {
  const ticket = call.ticket;
  if (ticket !== undefined) {
    ticket.call = undefined;
    call.ticket = undefined;
  }
}
