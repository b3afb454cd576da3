/**
 * Clients the wrappers cannot change (frozen, sealed, not extensible): wrapping one threw the
 * TypeError of the first property it failed to define, after it had changed what it could (a
 * frozen Anthropic client was left with its `messages.create` recorded and its `withOptions`
 * not), and a client whose resource alone was frozen was "wrapped" with its calls going
 * unrecorded, nothing said (found by review, 2026-12-05). Now either is an AuditConfigError
 * naming what cannot be changed, and the client is left exactly as it was.
 */
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { wrapAnthropic } from "../../integrations/anthropic.js";
import { wrapOpenAI } from "../../integrations/openai.js";
import { withAudit } from "../../integrations/with-audit.js";
import { AuditConfigError } from "../../src/errors.js";
import { fakeProviders } from "../helpers/fake-providers.js";
import { loggerFactory, thrownBy } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

const fakes = fakeProviders();
const newLogger = loggerFactory("frozen_clients", "audit-frozen-");
const messages = [{ role: "user" as const, content: "What is the capital of France?" }];
const FREEZERS: ReadonlyArray<readonly [string, (o: object) => void]> = [
  ["frozen", (o) => Object.freeze(o)],
  ["sealed", (o) => Object.seal(o)],
  ["not extensible", (o) => Object.preventExtensions(o)],
];

/** Every own member of `o` (descriptors), to tell that wrapping left it as it was. */
function ownShape(o: object): string[] {
  return Reflect.ownKeys(o).map((k) => {
    const d = Object.getOwnPropertyDescriptor(o, k)!;
    return `${String(k)}:${typeof d.value === "function" ? `fn ${(d.value as () => unknown).name}` : typeof d.value}:${d.writable}:${d.configurable}`;
  });
}

describe("a client that cannot be changed is an AuditConfigError, and is left as it was", () => {
  for (const [how, freeze] of FREEZERS) {
    it(`an OpenAI client ${how}: AuditConfigError naming it, no TypeError; its calls still work, unrecorded`, async () => {
      const logger = newLogger();
      const client = new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-test", maxRetries: 0 });
      freeze(client);
      const before = [ownShape(client), ownShape(client.chat.completions), ownShape(client.responses)];
      const err = await thrownBy(() => wrapOpenAI(client, { logger }), AuditConfigError);
      expect(err.issues.map((i) => i.field)).toEqual(["wrapOpenAI.client"]);
      expect(err.message).toMatch(/cannot be changed/);
      expect([ownShape(client), ownShape(client.chat.completions), ownShape(client.responses)]).toEqual(before);
      // (withAudit dispatches to it)
      await thrownBy(() => withAudit(client, { logger }), AuditConfigError);
      const r = await client.chat.completions.create({ model: "gpt-4o-mini", messages });
      expect(r.choices[0]?.message.content).toBeTypeOf("string");
      expect(await recordsOf(logger, "chat_interaction", 0)).toEqual([]);
    });

    it(`an Anthropic client ${how}: AuditConfigError naming it, and its messages.create left unwrapped (it was wrapped before the TypeError)`, async () => {
      const logger = newLogger();
      const client = new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: "test", maxRetries: 0 });
      freeze(client);
      const before = [ownShape(client), ownShape(client.messages), ownShape(client.beta.messages)];
      const err = await thrownBy(() => wrapAnthropic(client, { logger }), AuditConfigError);
      expect(err.issues.map((i) => i.field)).toEqual(["wrapAnthropic.client"]);
      expect([ownShape(client), ownShape(client.messages), ownShape(client.beta.messages)]).toEqual(before);
      const m = await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages });
      expect(m.content.length).toBeGreaterThan(0);
      expect(await recordsOf(logger, "chat_interaction", 0)).toEqual([]);
    });
  }

  it("a client whose resource alone is frozen (chat.completions, messages) is an AuditConfigError naming the resource, not a wrap whose calls go unrecorded with nothing said", async () => {
    const logger = newLogger();
    const openai = new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-test", maxRetries: 0 });
    Object.freeze(openai.chat.completions);
    const before = ownShape(openai);
    const e1 = await thrownBy(() => wrapOpenAI(openai, { logger }), AuditConfigError);
    expect(e1.message).toMatch(/client\.chat\.completions cannot be changed/);
    expect(ownShape(openai)).toEqual(before);

    const anthropic = new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: "test", maxRetries: 0 });
    Object.freeze(anthropic.beta.messages);
    const before2 = [ownShape(anthropic), ownShape(anthropic.messages)];
    const e2 = await thrownBy(() => wrapAnthropic(anthropic, { logger }), AuditConfigError);
    expect(e2.message).toMatch(/client\.beta\.messages cannot be changed/);
    expect([ownShape(anthropic), ownShape(anthropic.messages)]).toEqual(before2);
  });

  it("a client frozen after it was wrapped keeps recording (what the wrapper changed is in place); withOptions() of it is wrapped as before", async () => {
    const logger = newLogger();
    const client = wrapOpenAI(new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-test", maxRetries: 0 }), { logger });
    Object.freeze(client);
    await client.chat.completions.create({ model: "gpt-4o-mini", messages });
    await client.withOptions({ timeout: 5000 }).chat.completions.create({ model: "gpt-4o-mini", messages });
    expect(await recordsOf(logger, "chat_interaction", 2)).toHaveLength(2);
  });

  it("a withOptions() that makes a client the wrapper cannot change hands the app that client, and the logger says why (it threw into the app's withOptions call)", async () => {
    const logger = newLogger();
    const failures: unknown[] = [];
    logger.on("error", (e) => failures.push(e));
    const openai = new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-test", maxRetries: 0 });
    // (a subclass or a patch that freezes the clients it derives)
    Object.defineProperty(openai, "withOptions", { value: (o: object) => Object.freeze(OpenAI.prototype.withOptions.call(openai, o)), configurable: true, writable: true });
    const anthropic = new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: "test", maxRetries: 0 });
    Object.defineProperty(anthropic, "withOptions", { value: (o: object) => Object.freeze(Anthropic.prototype.withOptions.call(anthropic, o)), configurable: true, writable: true });
    wrapOpenAI(openai, { logger });
    wrapAnthropic(anthropic, { logger });
    const o2 = openai.withOptions({ timeout: 5000 });
    const a2 = anthropic.withOptions({ timeout: 5000 });
    expect(Object.isFrozen(o2) && Object.isFrozen(a2)).toBe(true);
    expect(failures.map((e) => (e as AuditConfigError).code)).toEqual(["AUDIT_ERR_CONFIG", "AUDIT_ERR_CONFIG"]);
    await o2.chat.completions.create({ model: "gpt-4o-mini", messages });
    await a2.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages });
    expect(await recordsOf(logger, "chat_interaction", 0)).toEqual([]);
  });

  it("with no logger found when withOptions() makes such a client, the process is warned, not left silent (the failure was dropped)", async () => {
    const warnings: Array<{ code?: string; message: string }> = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push({ code: w.code, message: w.message });
    process.on("warning", onWarning);
    try {
      const openai = new OpenAI({ baseURL: fakes.openai.baseURL, apiKey: "sk-test", maxRetries: 0 });
      Object.defineProperty(openai, "withOptions", { value: (o: object) => Object.freeze(OpenAI.prototype.withOptions.call(openai, o)), configurable: true, writable: true });
      const anthropic = new Anthropic({ baseURL: fakes.anthropic.baseURL, apiKey: "test", maxRetries: 0 });
      Object.defineProperty(anthropic, "withOptions", { value: (o: object) => Object.freeze(Anthropic.prototype.withOptions.call(anthropic, o)), configurable: true, writable: true });
      // (no logger option, no context, no default)
      wrapOpenAI(openai);
      wrapAnthropic(anthropic);
      expect(Object.isFrozen(openai.withOptions({ timeout: 5000 }))).toBe(true);
      expect(Object.isFrozen(anthropic.withOptions({ timeout: 5000 }))).toBe(true);
      // (process warnings are emitted on the next tick)
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    const failed = warnings.filter((w) => w.code === "AUDIT_WARN_RECORD_FAILED");
    expect(failed.map((w) => w.message.split(":")[0])).toEqual(["wrapOpenAI", "wrapAnthropic"]);
    expect(failed[0]!.message).toMatch(/withOptions\(\) could not be wrapped/);
  });
});
