/**
 * Work counters for tests that must show an algorithm linear without timing it: the bytes passed
 * to `Buffer.concat`, and the bytes `indexOf` / `lastIndexOf` looked at, while `run` runs.
 */
import { vi } from "vitest";

export async function work(run: () => unknown): Promise<{ joined: number; searched: number }> {
  const w = { joined: 0, searched: 0 };
  const concat = Buffer.concat.bind(Buffer);
  vi.spyOn(Buffer, "concat").mockImplementation((list: readonly Uint8Array[], total?: number) => {
    const r = concat(list, total);
    w.joined += r.length;
    return r;
  });
  const indexOf = Buffer.prototype.indexOf;
  vi.spyOn(Buffer.prototype, "indexOf").mockImplementation(function (this: Buffer, value: unknown, offset?: unknown, enc?: unknown) {
    const r = indexOf.call(this, value as number, offset as number, enc as BufferEncoding);
    const from = typeof offset === "number" ? (offset < 0 ? Math.max(0, this.length + offset) : offset) : 0;
    w.searched += r === -1 ? Math.max(0, this.length - from) : r - from + 1;
    return r;
  });
  const lastIndexOf = Buffer.prototype.lastIndexOf;
  vi.spyOn(Buffer.prototype, "lastIndexOf").mockImplementation(function (this: Buffer, value: unknown, offset?: unknown, enc?: unknown) {
    const r = lastIndexOf.call(this, value as number, offset as number, enc as BufferEncoding);
    const from = typeof offset === "number" ? (offset < 0 ? this.length + offset : Math.min(offset, this.length - 1)) : this.length - 1;
    w.searched += r === -1 ? from + 1 : from - r + 1;
    return r;
  });
  try {
    await run();
  } finally {
    vi.restoreAllMocks();
  }
  return w;
}
