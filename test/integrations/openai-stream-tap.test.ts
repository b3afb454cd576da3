import { describe, expect, it } from "vitest";
import { signalAborted, tapStream, type StreamEnd } from "../../integrations/stream-tap.js";

function source(items: number[], failAt?: number) {
  return {
    async *[Symbol.asyncIterator]() {
      for (const [i, x] of items.entries()) {
        if (i === failAt) throw new RangeError(`failed at ${i}`);
        yield x;
      }
    },
  };
}
function observer() {
  const items: number[] = [];
  const ends: StreamEnd[] = [];
  return { items, ends, obs: { onItem: (x: number) => void items.push(x), onEnd: (e: StreamEnd) => void ends.push(e) } };
}

describe("tapStream (any async iterable)", () => {
  it("returns the same object; sees every item, then one completed end", async () => {
    const s = source([1, 2, 3]);
    const o = observer();
    expect(tapStream(s, o.obs)).toBe(s);
    const got: number[] = [];
    for await (const x of s) got.push(x);
    expect(got).toEqual([1, 2, 3]);
    expect(o.items).toEqual([1, 2, 3]);
    expect(o.ends).toEqual([{ kind: "completed" }]);
  });

  it("break is one abandoned end; the source's own cleanup still runs", async () => {
    let cleaned = false;
    const s = {
      async *[Symbol.asyncIterator]() {
        try {
          yield 1;
          yield 2;
        } finally {
          cleaned = true;
        }
      },
    };
    const o = observer();
    tapStream(s, o.obs);
    for await (const x of s) if (x === 1) break;
    expect(cleaned).toBe(true);
    expect(o.ends).toEqual([{ kind: "abandoned" }]);
  });

  it("an error reaches the app unchanged and is one error end with the same object", async () => {
    const s = source([1, 2, 3], 2);
    const o = observer();
    tapStream(s, o.obs);
    const err = await (async () => {
      for await (const _ of s) {
        // read on
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(o.ends).toHaveLength(1);
    expect(o.ends[0]!.kind).toBe("error");
    expect((o.ends[0] as { error: unknown }).error).toBe(err);
  });

  it("next() hands the app the source's own promise (no extra promise per item), observed before the app resumes", async () => {
    const promises: Promise<IteratorResult<number>>[] = [];
    let i = 0;
    const inner: AsyncIterator<number> = {
      next: () => {
        const p = Promise.resolve<IteratorResult<number>>(i < 2 ? { done: false, value: ++i } : { done: true, value: undefined });
        promises.push(p);
        return p;
      },
    };
    const s = { [Symbol.asyncIterator]: () => inner };
    const o = observer();
    tapStream(s, o.obs);
    const it = s[Symbol.asyncIterator]();
    const first = it.next();
    expect(first).toBe(promises[0]);
    await first;
    expect(o.items).toEqual([1]); // seen by the time the app's await resumed
    // an iterator without return/throw stays without them
    expect("return" in it).toBe(false);
    expect("throw" in it).toBe(false);
  });

  it("a source whose next() resolves to a non-object: the app gets the same TypeError, the observer stays quiet", async () => {
    const s = { [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve(undefined as unknown as IteratorResult<number>) }) };
    const o = observer();
    tapStream(s, o.obs);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => void unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const err = await (async () => {
        for await (const _ of s) {
          // never
        }
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
      expect(o.items).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("an abort signal ends the observation even with nobody reading", async () => {
    const ac = new AbortController();
    const o = observer();
    tapStream(source([1, 2]), o.obs, { signal: ac.signal });
    ac.abort();
    await new Promise((r) => setImmediate(r));
    expect(o.ends).toEqual([{ kind: "aborted" }]);
  });

  it("a controller's abort() ends the observation with nobody reading; the abort itself is unchanged", async () => {
    const ac = new AbortController();
    const o = observer();
    tapStream(source([1, 2]), o.obs, { controller: ac });
    expect(Object.keys(ac)).toEqual([]); // observed in place, not visibly
    const reason = new Error("stop");
    ac.abort(reason);
    expect(ac.signal.aborted).toBe(true);
    expect(ac.signal.reason).toBe(reason);
    await new Promise((r) => setImmediate(r));
    expect(o.ends).toEqual([{ kind: "aborted" }]);
    ac.abort(); // a second abort is a no-op for the observer too
    await new Promise((r) => setImmediate(r));
    expect(o.ends).toHaveLength(1);
  });

  it("a controller whose abort someone already replaced, or a frozen one, is observed through its signal", async () => {
    for (const make of [
      () => Object.assign(new AbortController(), { abort: AbortController.prototype.abort }),
      () => Object.freeze(new AbortController()),
    ]) {
      const ac = make();
      const o = observer();
      tapStream(source([1, 2]), o.obs, { controller: ac });
      ac.abort();
      await new Promise((r) => setImmediate(r));
      expect(o.ends).toEqual([{ kind: "aborted" }]);
    }
  });

  it("a stream that completes before any abort stays completed", async () => {
    const ac = new AbortController();
    const s = source([1]);
    const o = observer();
    tapStream(s, o.obs, { controller: ac });
    for await (const _ of s);
    ac.abort();
    await new Promise((r) => setImmediate(r));
    expect(o.ends).toEqual([{ kind: "completed" }]);
  });

  it("a stream that ends quietly after its signal aborted (as the SDKs end an aborted read) is aborted, with Node's signals and with others", async () => {
    // a signal that is not Node's: AbortSignal's own getter refuses it, its `aborted` is read by name
    const foreign = Object.create(AbortSignal.prototype, { aborted: { value: false, writable: true }, addEventListener: { value: () => {} } }) as { aborted: boolean } & AbortSignal;
    expect(() => Object.getOwnPropertyDescriptor(AbortSignal.prototype, "aborted")!.get!.call(foreign)).toThrow();
    const ac = new AbortController();
    for (const [signal, abort] of [
      [ac.signal, () => ac.abort()],
      [foreign, () => (foreign.aborted = true)],
    ] as const) {
      const ends: StreamEnd[] = [];
      const s = {
        async *[Symbol.asyncIterator]() {
          yield 1;
          abort();
        },
      };
      tapStream(s, { onItem: () => {}, onEnd: (e) => void ends.push(e) }, { signal });
      for await (const _ of s);
      expect(ends).toEqual([{ kind: "aborted" }]);
    }
  });

  it("signalAborted reads Node's signals through AbortSignal's getter and any other signal by name", () => {
    const ac = new AbortController();
    expect(signalAborted(ac.signal)).toBe(false);
    ac.abort();
    expect(signalAborted(ac.signal)).toBe(true);
    expect(signalAborted(AbortSignal.abort())).toBe(true);
    expect(signalAborted(AbortSignal.timeout(60_000))).toBe(false);
    const foreign = (aborted: unknown) => Object.create(AbortSignal.prototype, { aborted: { value: aborted } }) as AbortSignal;
    expect(signalAborted(foreign(true))).toBe(true);
    expect(signalAborted(foreign(false))).toBe(false);
    expect(signalAborted(foreign("yes"))).toBe(false); // only `true` is aborted
  });

  it("an observer that throws never breaks the app's loop; tapping twice observes once", async () => {
    const s = source([1, 2]);
    const o = observer();
    tapStream(s, { onItem: () => { throw new Error("observer bug"); }, onEnd: () => { throw new Error("observer bug"); } });
    tapStream(s, o.obs);
    const got: number[] = [];
    for await (const x of s) got.push(x);
    expect(got).toEqual([1, 2]);
    expect(o.items).toEqual([]);
  });

  it("leaves non-iterables and frozen objects alone", () => {
    const o = observer();
    const plain = { a: 1 };
    expect(tapStream(plain, o.obs)).toBe(plain);
    const frozen = Object.freeze(source([1]));
    expect(tapStream(frozen, o.obs)).toBe(frozen);
  });
});
