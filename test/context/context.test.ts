import { EventEmitter, EventEmitterAsyncResource, on } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditTool } from "../../decorators/index.js";
import { auditContext, getDefaultAuditLogger, setDefaultAuditLogger } from "../../src/context.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { decorate } from "../decorators/apply.js";
import { newLogger, records } from "../decorators/helpers.js";

afterEach(() => {
  setDefaultAuditLogger(undefined);
  cleanupTmp();
});

const user = () => auditContext.get()?.userId;

describe("auditContext", () => {
  it("bad values are a coded AuditValidationError naming the field; a member set to undefined inherits", () => {
    const bad = (value: unknown) => () => auditContext.run(value as never, () => 1);
    expect(bad(null)).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION" }));
    expect(bad("str")).toThrow(/auditContext\.run\(\) was called with invalid input[\s\S]*value: must be an object/);
    expect(bad({ userId: 42, traceId: { id: 1 } })).toThrow(/userId: must be a string \(got number\)[\s\S]*traceId: must be a string \(got object\)/);
    expect(bad({ metadata: "xy" })).toThrow(/metadata: must be an object/);
    // the limits a record's own fields have (a 5,000-character userId reached the records, and a
    // PostgreSQL store's index refused the row: the sink stalled on it)
    expect(bad({ userId: "u".repeat(257), traceId: "" })).toThrow(/userId: must be at most 256 characters[\s\S]*traceId: must be a non-empty string/);
    expect(bad({ persona: "p".repeat(300), parentId: "x".repeat(257), sessionId: "s".repeat(257) })).toThrow(/sessionId: must be at most 256[\s\S]*persona: must be at most 256[\s\S]*parentId: must be at most 256/);
    expect(auditContext.run({ userId: "u".repeat(256), traceId: "t".repeat(256) }, () => auditContext.get()?.userId?.length)).toBe(256);
    expect(() => auditContext.run({ userId: "u1" }, () => auditContext.setUser("v".repeat(257)))).toThrow(/setUser\(\) was called with invalid input[\s\S]*userId: must be at most 256 characters/);
    expect(() => auditContext.run({ userId: "u1" }, () => auditContext.setUser(""))).toThrow(/userId: must be a non-empty string/);
    expect(auditContext.run({ userId: "u1" }, () => (auditContext.setUser("w".repeat(256)), user()?.length))).toBe(256);
    expect(() => auditContext.run({ userId: "u1" }, () => auditContext.setUser(7 as never))).toThrow(expect.objectContaining({ code: "AUDIT_ERR_VALIDATION" }));
    const session: { user?: string } = {};
    const seen = auditContext.run({ userId: "alice", persona: "p0" }, () => auditContext.run({ userId: session.user, persona: "p1" }, () => auditContext.get()));
    expect(seen).toMatchObject({ userId: "alice", persona: "p1" });
    // any member, the logger's too, whatever else is set
    const logger = { logChatInteraction() {}, logError() {} };
    const inner = auditContext.run({ logger, userId: "u1" }, () => auditContext.run({ logger: undefined, traceId: "t" }, () => auditContext.get()));
    expect(inner?.logger).toBe(logger);
    // a null metadata is none here: inherited, never carried as null (records would hold "metadata": null)
    expect(auditContext.run({ traceId: "t", metadata: null }, () => auditContext.get())).toEqual({ traceId: "t" });
    expect(auditContext.run({ metadata: { a: 1 } }, () => auditContext.run({ userId: "u", metadata: null }, () => auditContext.get()))).toEqual({ userId: "u", metadata: { a: 1 } });
    // a default logger that is not one is refused at once (not a warning on every later call)
    expect(() => setDefaultAuditLogger({ sessionId: "x" } as never)).toThrow(expect.objectContaining({ code: "AUDIT_ERR_CONFIG" }));
    expect(() => setDefaultAuditLogger("logger" as never)).toThrow(/setDefaultAuditLogger\(\) takes an AuditLogger/);
    expect(getDefaultAuditLogger()).toBeUndefined();
  });

  it("a context field written another way (userID, user_id, Trace-Id) is named in a warning, once per name (it was kept as an app's member, and the records had no user, with nothing said); the function runs, the member is still the app's", async () => {
    const logger = newLogger();
    const warnings: Array<{ code?: string; message: string }> = [];
    const onWarning = (w: Error & { code?: string }): void => void warnings.push({ code: w.code, message: w.message });
    process.on("warning", onWarning);
    try {
      const ran: string[] = [];
      for (const value of [{ userID: "u1" }, { user_id: "u1", traceId: "t" }, { "Trace-Id": "t" }, { ParentID: "p" }, { userID: "u2" }]) {
        const kept = auditContext.run({ logger, ...value } as never, () => {
          ran.push("ran");
          logger.logToolUsage({ toolName: "t", operation: "o" });
          return auditContext.get() as Record<string, unknown> | undefined;
        });
        // (the member is the app's, kept as it was)
        for (const [k, v] of Object.entries(value)) expect(kept?.[k]).toBe(v);
      }
      expect(ran).toHaveLength(5);
      await new Promise((r) => setImmediate(r));
      const ours = warnings.filter((w) => w.code === "AUDIT_WARN_CONTEXT_FIELD");
      expect(ours.map((w) => /given "([^"]+)"/.exec(w.message)?.[1])).toEqual(["userID", "user_id", "Trace-Id", "ParentID"]);
      expect(ours[0]!.message).toContain("reads as userId written another way: it is kept as the app's own member and recorded nowhere");
      expect(ours[0]!.message).toContain("The context's fields are sessionId, userId, persona, traceId, parentId, metadata, logger.");
      const tools = await records(logger, "tool");
      expect(tools).toHaveLength(5);
      expect(tools.map((r) => r.userId)).toEqual([undefined, undefined, undefined, undefined, undefined]);
      // an app's own members, and a misspelling set to undefined, are left as they were, unwarned
      const session = { id: "s" };
      expect(auditContext.run({ userId: "u1", session, userID: undefined } as never, () => (auditContext.get() as { session?: unknown } | undefined)?.session)).toBe(session);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("runs, nests (inheriting and overriding), and sets the user", () => {
    expect(auditContext.get()).toBeUndefined();
    expect(auditContext.setUser("nobody")).toBe(false);
    const seen = auditContext.run({ userId: "u1", traceId: "t1", metadata: { a: 1 } }, () => {
      const outer = { ...auditContext.get() };
      const inner = auditContext.run({ traceId: "t2", persona: "p", metadata: { b: 2 } }, () => ({ ...auditContext.get() }));
      expect(auditContext.setUser("u9")).toBe(true);
      return { outer, inner, after: auditContext.get()?.userId };
    });
    expect(seen.outer).toEqual({ userId: "u1", traceId: "t1", metadata: { a: 1 } });
    expect(seen.inner).toEqual({ userId: "u1", traceId: "t2", persona: "p", metadata: { a: 1, b: 2 } });
    expect(seen.after).toBe("u9");
    expect(auditContext.get()).toBeUndefined();
  });

  it("a context with no user of its own takes its parent's as it is when asked: a user set on the parent later reaches the child and its children, until the child sets one", async () => {
    const later = () => new Promise<void>((r) => setTimeout(r, 1));
    const seen = await auditContext.run({ traceId: "t1" }, async () => {
      const child = auditContext.run({ persona: "p" }, async () => {
        await later();
        const first = auditContext.get()?.userId;
        const grandchild = await auditContext.run({ metadata: { x: 1 } }, async () => {
          await later();
          return auditContext.get()?.userId;
        });
        auditContext.setUser("bob");
        return [first, grandchild, auditContext.get()?.userId];
      });
      auditContext.setUser("alice");
      return [...(await child), auditContext.get()?.userId];
    });
    expect(seen).toEqual(["alice", "alice", "bob", "alice"]);
  });

  it("never writes into the app's own object: setUser works on a frozen one, and a base object used for every request keeps no user", () => {
    const frozen = Object.freeze({ traceId: "t-frozen", metadata: Object.freeze({ a: 1 }) });
    expect(auditContext.run(frozen, () => auditContext.setUser("u1") && auditContext.get()?.userId)).toBe("u1");
    expect(frozen).toEqual({ traceId: "t-frozen", metadata: { a: 1 } });
    const base = { traceId: "t-base" };
    auditContext.run(base, () => auditContext.setUser("alice"));
    expect(base).toEqual({ traceId: "t-base" });
    expect(auditContext.run(base, () => auditContext.get()?.userId)).toBeUndefined();
  });

  it("survives await, timers, immediates, nextTick and microtasks", async () => {
    const seen = await auditContext.run({ userId: "timers" }, async () => {
      const out: Array<string | undefined> = [];
      await null;
      out.push(user());
      await new Promise<void>((r) => setTimeout(() => (out.push(user()), r()), 2));
      await new Promise<void>((r) => setImmediate(() => (out.push(user()), r())));
      await new Promise<void>((r) => process.nextTick(() => (out.push(user()), r())));
      await new Promise<void>((r) => queueMicrotask(() => (out.push(user()), r())));
      await new Promise<void>((r) => {
        let n = 0;
        const h = setInterval(() => {
          out.push(user());
          if (++n === 2) {
            clearInterval(h);
            r();
          }
        }, 1);
      });
      return out;
    });
    expect(seen).toEqual(Array(7).fill("timers"));
  });

  it("survives EventEmitter callbacks: emitted later from the context, from real I/O, or bound to it", async () => {
    // an emitter used within the context, emitting later from a timer of that context
    const later = await auditContext.run({ userId: "emit-later" }, () => {
      const em = new EventEmitter();
      const p = new Promise<string | undefined>((r) => em.once("done", () => r(user())));
      setTimeout(() => em.emit("done"), 2);
      return p;
    });
    expect(later).toBe("emit-later");

    // I/O emitters created in the context call back in it
    const file = path.join(tmpProject("audit-ctx-"), "data.txt");
    fs.writeFileSync(file, "x".repeat(200_000));
    const io = await auditContext.run({ userId: "io" }, () => {
      const seen = new Set<string | undefined>();
      return new Promise<Set<string | undefined>>((resolve, reject) => {
        fs.createReadStream(file, { highWaterMark: 16_384 })
          .on("data", () => seen.add(user()))
          .on("error", reject)
          .on("close", () => (seen.add(user()), resolve(seen)));
      });
    });
    expect([...io]).toEqual(["io"]);

    // an EventEmitterAsyncResource keeps its creation context even when emitted from elsewhere
    const bound = auditContext.run({ userId: "creator" }, () => new EventEmitterAsyncResource({ name: "job" }));
    const got = new Promise<string | undefined>((r) => bound.once("tick", () => r(user())));
    auditContext.run({ userId: "someone-else" }, () => bound.emit("tick"));
    expect(await got).toBe("creator");

    // events.on() async iteration
    const iterated = await auditContext.run({ userId: "events-on" }, async () => {
      const em = new EventEmitter();
      setTimeout(() => {
        em.emit("v", 1);
        em.emit("v", 2);
      }, 1);
      const out: Array<string | undefined> = [];
      for await (const [v] of on(em, "v")) {
        out.push(user());
        if (v === 2) break;
      }
      return out;
    });
    expect(iterated).toEqual(["events-on", "events-on"]);
  });

  it("survives stream iteration and pipelines", async () => {
    const seen = await auditContext.run({ userId: "streams" }, async () => {
      const out: Array<string | undefined> = [];
      async function* source() {
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 1));
          out.push(user());
          yield `chunk${i}`;
        }
      }
      for await (const _chunk of Readable.from(source())) out.push(user());
      await pipeline(
        Readable.from(["a", "b"]),
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            setTimeout(() => {
              out.push(user());
              cb(null, chunk);
            }, 1);
          },
        }),
        new Writable({
          write(_chunk, _enc, cb) {
            out.push(user());
            cb();
          },
        }),
      );
      return out;
    });
    expect(seen.length).toBe(10);
    expect(new Set(seen)).toEqual(new Set(["streams"]));
  });

  it("a null logger inherits the outer context's, as undefined does (it replaced it: the records went to the default logger, another trail)", async () => {
    const tenant = newLogger();
    const fallback = newLogger();
    setDefaultAuditLogger(fallback);
    class Tools {
      async lookup(q: string): Promise<string> {
        return q;
      }
    }
    decorate("standard", Tools, "lookup", AuditTool("lookup"));
    const tools = new Tools();
    const options: { logger?: unknown } = {};
    await auditContext.run({ logger: tenant, userId: "t-user" }, () => auditContext.run({ logger: options.logger ?? null, traceId: "inner" }, () => tools.lookup("x")));
    expect((await records(tenant, "tool")).map((r) => [r.toolName, r.userId, r.traceId])).toEqual([["lookup", "t-user", "inner"]]);
    expect(await records(fallback, "tool").catch(() => [])).toEqual([]);
    expect(auditContext.run({ logger: null }, () => auditContext.get())).toEqual({});
  });

  it("gives records made inside it the trace, user, persona and metadata", async () => {
    const logger = newLogger();
    auditContext.run({ userId: "u7", traceId: "req-7", persona: "support", metadata: { tenant: "acme" } }, () => {
      logger.logToolUsage({ toolName: "t", operation: "o" });
    });
    expect(await records(logger, "tool")).toMatchObject([{ userId: "u7", traceId: "req-7", persona: "support", metadata: { tenant: "acme" } }]);
  });

  // Found by review 2026-12-04 (fourth session): the context's sessionId was carried and recorded nowhere.
  it("records the context's sessionId (the app's session) as metadata.appSessionId, also with thread: true; metadata naming one wins", async () => {
    const { AuditLogger } = await import("../../src/index.js");
    for (const thread of [false, true]) {
      const logger = new AuditLogger({ sessionId: `ctx_session_${thread}`, projectPath: tmpProject(), thread });
      auditContext.run({ sessionId: "conversation-42", metadata: { tenant: "acme" } }, () => {
        logger.logToolUsage({ toolName: "t", operation: "o" });
        logger.logToolUsage({ toolName: "t", operation: "own", metadata: { appSessionId: "explicit" } });
      });
      logger.logToolUsage({ toolName: "t", operation: "outside" });
      await logger.finalizeSession();
      const lines = fs.readFileSync(path.join(logger.auditDir, `tool_usage_ctx_session_${thread}.jsonl`), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { sessionId: string; metadata?: Record<string, unknown> });
      expect(lines.map((r) => [r.sessionId, r.metadata])).toEqual([
        [`ctx_session_${thread}`, { tenant: "acme", appSessionId: "conversation-42" }],
        [`ctx_session_${thread}`, { tenant: "acme", appSessionId: "explicit" }],
        [`ctx_session_${thread}`, undefined],
      ]);
    }
  });

  it("keeps 100 concurrent requests apart, through decorated calls, timers and streams", async () => {
    const logger = newLogger();
    class Tools {
      async lookup(who: string) {
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        return { who, seenAs: user() };
      }
      async *pages(who: string) {
        for (let i = 0; i < 2; i++) {
          await new Promise((r) => setTimeout(r, Math.random() * 3));
          yield { who, i, seenAs: user() };
        }
      }
    }
    decorate("standard", Tools, "lookup", AuditTool("lookup", { logger }));
    decorate("legacy", Tools, "pages", AuditTool("pages", { logger }));
    const tools = new Tools();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        auditContext.run({ userId: `user${i}`, traceId: `trace${i}` }, async () => {
          const a = await tools.lookup(`user${i}`);
          const pages: Array<{ who: string; seenAs: string | undefined }> = [];
          for await (const p of Readable.from(tools.pages(`user${i}`), { objectMode: true })) pages.push(p as { who: string; seenAs: string | undefined });
          return [a, ...pages];
        }),
      ),
    );
    for (const list of results) for (const r of list) expect(r.seenAs).toBe(r.who);
    const recs = await records(logger, "tool");
    expect(recs).toHaveLength(200);
    for (const r of recs) {
      const who = (r.parameters as string[])[0]!;
      expect(r.userId).toBe(who);
      expect(r.traceId).toBe(`trace${who.slice(4)}`);
    }
  });

  it("concurrent branches in one context share it: a setUser in one branch of a Promise.all reaches its siblings and the caller; a branch run in a context of its own keeps its user to itself (as docs/INTEGRATIONS.md, Context, says)", async () => {
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    const shared = await auditContext.run({ traceId: "fan-out" }, async () => {
      const seen: Record<string, string | undefined> = {};
      await Promise.all([
        (async () => {
          await sleep(2);
          auditContext.setUser("alice");
        })(),
        (async () => {
          await sleep(20);
          seen.sibling = user();
        })(),
      ]);
      seen.caller = user();
      return seen;
    });
    expect(shared).toEqual({ sibling: "alice", caller: "alice" });
    const own = await auditContext.run({ traceId: "fan-out" }, async () => {
      const seen: Record<string, string | undefined> = {};
      await Promise.all([
        auditContext.run({}, async () => {
          await sleep(2);
          auditContext.setUser("alice");
          seen.branch = user();
        }),
        (async () => {
          await sleep(20);
          seen.sibling = user();
        })(),
      ]);
      seen.caller = user();
      return seen;
    });
    expect(own).toEqual({ branch: "alice", sibling: undefined, caller: undefined });
  });

  it("a generator's body runs in the context of whoever iterates it (as docs/INTEGRATIONS.md, Context, says): made inside run and iterated outside, it has none", async () => {
    async function* words() {
      yield user();
      await new Promise((r) => setTimeout(r, 1));
      yield user();
    }
    const made = auditContext.run({ userId: "maker" }, () => words());
    const outside: Array<string | undefined> = [];
    for await (const w of made) outside.push(w);
    expect(outside).toEqual([undefined, undefined]);
    const inside = await auditContext.run({ userId: "maker" }, async () => {
      const seen: Array<string | undefined> = [];
      for await (const w of words()) seen.push(w);
      return seen;
    });
    expect(inside).toEqual(["maker", "maker"]);
  });

  it("is one store per process: a second copy of the module sees the same context and default logger", async () => {
    const logger = newLogger();
    setDefaultAuditLogger(logger);
    vi.resetModules();
    const copy = (await import("../../src/context.js")) as typeof import("../../src/context.js");
    expect(copy.auditContext).not.toBe(auditContext);
    expect(copy.getDefaultAuditLogger()).toBe(logger);
    const fromCopy = auditContext.run({ userId: "shared" }, () => copy.auditContext.get()?.userId);
    expect(fromCopy).toBe("shared");
    copy.setDefaultAuditLogger(undefined);
    expect(getDefaultAuditLogger()).toBeUndefined();
  });
});
