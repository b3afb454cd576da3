/**
 * isNativePromise tells a promise of the built-in class (chained by the decorators, observed by
 * the fetch wrapper as a plain one) from a subclass or another library's promise (returned as it
 * is, observed through its own `then`).
 */
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { isNativePromise } from "../../src/instrument.js";

describe("isNativePromise", () => {
  it("is true for this realm's promises also while globalThis.Promise is another class, and for another realm's; false for subclasses and non-promises", () => {
    const NativePromise = Promise;
    class ApiPromise<T> extends Promise<T> {}
    const vmSubclass = vm.runInNewContext("class P extends Promise {}; P.resolve(1)") as Promise<unknown>;
    expect(isNativePromise(Promise.resolve(1))).toBe(true);
    expect(isNativePromise((async () => 1)())).toBe(true);
    expect(isNativePromise(vm.runInNewContext("Promise.resolve(1)") as Promise<unknown>)).toBe(true);
    expect(isNativePromise(ApiPromise.resolve(1))).toBe(false);
    expect(isNativePromise(vmSubclass)).toBe(false);
    expect(isNativePromise(Object.create(Promise.prototype) as Promise<unknown>)).toBe(true);
    expect(isNativePromise({ then() {} } as unknown as Promise<unknown>)).toBe(false);
    const { proxy, revoke } = Proxy.revocable(Promise.resolve(1), {});
    revoke();
    expect(isNativePromise(proxy)).toBe(false);
    let inReplaced: boolean;
    (globalThis as { Promise: PromiseConstructor }).Promise = class UserlandPromise<T> extends NativePromise<T> {};
    try {
      inReplaced = isNativePromise(NativePromise.resolve(1));
    } finally {
      (globalThis as { Promise: PromiseConstructor }).Promise = NativePromise;
    }
    expect(inReplaced).toBe(true);
  });
});
