// Two copies of the package in one process (a library built against its own copy, the app
// against another) agree on what a decorated call records, as they agree on the context.
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditErrors } from "../../decorators/index.js";
import { cleanupTmp } from "../helpers/index.js";
import { decorate } from "./apply.js";
import { newLogger, records } from "./helpers.js";

afterEach(cleanupTmp);

describe("two copies of the package", () => {
  it("record an error passing through @AuditErrors methods of both once, by the innermost (each copy recorded it)", async () => {
    const logger = newLogger();
    vi.resetModules();
    const other = (await import("../../decorators/index.js")) as typeof import("../../decorators/index.js");
    expect(other.AuditErrors).not.toBe(AuditErrors);
    class Library {
      async fetchThing(): Promise<never> {
        throw new Error("upstream 503");
      }
      fail(): never {
        throw "timeout";
      }
    }
    class App {
      lib = new Library();
      async handler(): Promise<never> {
        return this.lib.fetchThing();
      }
      run(): never {
        return this.lib.fail();
      }
    }
    decorate("standard", Library, "fetchThing", other.AuditErrors({ logger }));
    decorate("standard", Library, "fail", other.AuditErrors({ logger }));
    decorate("standard", App, "handler", AuditErrors({ logger }));
    decorate("standard", App, "run", AuditErrors({ logger }));
    await expect(new App().handler()).rejects.toThrow("upstream 503");
    expect(() => new App().run()).toThrow();
    expect((await records(logger, "error")).map((r) => [r.message, (r.context as { method?: string } | undefined)?.method])).toEqual([
      ["upstream 503", "Library.fetchThing"],
      ["timeout", "Library.fail"],
    ]);
  });
});

describe("nested @AuditErrors methods recording to different loggers", () => {
  it("record the error in each logger's trail, once (the app's trail lacked what the library's method recorded)", async () => {
    const app = newLogger("app");
    const library = newLogger("library");
    class Lib {
      charge(): never {
        throw new Error("declined");
      }
    }
    class Shop {
      lib = new Lib();
      buy(): never {
        return this.lib.charge();
      }
      retry(): never {
        return this.buy();
      }
    }
    decorate("standard", Lib, "charge", AuditErrors({ logger: library }));
    decorate("standard", Shop, "buy", AuditErrors({ logger: app }));
    decorate("standard", Shop, "retry", AuditErrors({ logger: app }));
    expect(() => new Shop().retry()).toThrow("declined");
    expect((await records(library, "error")).map((r) => (r.context as { method: string }).method)).toEqual(["Lib.charge"]);
    expect((await records(app, "error")).map((r) => (r.context as { method: string }).method)).toEqual(["Shop.buy"]);
  });

  it("interleaved (the app's method, a library's, the app's again, which throws) record the error once per trail, by each trail's innermost method (the app's trail had it twice)", async () => {
    const app = newLogger("app2");
    const library = newLogger("library2");
    class Shop {
      constructor(readonly lib: { run(cb: () => never): never }) {}
      validate(): never {
        throw new Error("invalid cart");
      }
      buy(): never {
        return this.lib.run(() => this.validate());
      }
    }
    class Lib {
      run(cb: () => never): never {
        return cb();
      }
    }
    decorate("standard", Shop, "validate", AuditErrors({ logger: app }));
    decorate("standard", Shop, "buy", AuditErrors({ logger: app }));
    decorate("standard", Lib, "run", AuditErrors({ logger: library }));
    expect(() => new Shop(new Lib()).buy()).toThrow("invalid cart");
    expect((await records(app, "error")).map((r) => (r.context as { method: string }).method)).toEqual(["Shop.validate"]);
    expect((await records(library, "error")).map((r) => (r.context as { method: string }).method)).toEqual(["Lib.run"]);
  });
});
