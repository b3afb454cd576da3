/**
 * Applies a decorator to an existing class method exactly as compiled code does, so the unit
 * tests can exercise both modes without decorator syntax (which vitest's transform does not
 * lower the way tsc does; the tsc-compiled fixtures cover the syntax itself):
 * standard mode like TypeScript's `__esDecorate`, legacy mode like its `__decorate`.
 */
export type Mode = "standard" | "legacy";


export function decorate(mode: Mode, cls: abstract new (...a: never[]) => unknown, key: string | number, decorator: unknown, isStatic = false): void {
  const target = (isStatic ? cls : cls.prototype) as object;
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  if (!descriptor) throw new Error(`no method ${key}`);
  const dec = decorator as (...args: unknown[]) => unknown;
  if (mode === "legacy") {
    const result = (dec(target, key, descriptor) as PropertyDescriptor | undefined) ?? descriptor;
    Object.defineProperty(target, key, result);
    return;
  }
  const context = {
    kind: "method",
    name: key,
    static: isStatic,
    private: false,
    metadata: {},
    addInitializer() {},
    access: { has: (o: object) => key in o, get: (o: Record<string, unknown>) => o[key] },
  };
  const replacement = dec(descriptor.value, context);
  if (replacement !== undefined) Object.defineProperty(target, key, { ...descriptor, value: replacement });
}

