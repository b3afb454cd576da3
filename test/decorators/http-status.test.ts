import { HttpException, InternalServerErrorException, NotFoundException } from "@nestjs/common";
import OpenAI, { RateLimitError } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuditChat, AuditErrors } from "../../decorators/index.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { cleanupTmp } from "../helpers/index.js";
import { decorate } from "./apply.js";
import { newLogger, records } from "./helpers.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
afterEach(cleanupTmp);

describe("the HTTP status an error carries", () => {
  it("@AuditErrors records a NestJS HttpException's status in its context, a 4xx as a warning unless a severity is given, as auditErrorHandler does (the record did not say it was a 404, and made it an error)", async () => {
    const logger = newLogger();
    class ItemsController {
      find(id: string): never {
        throw new NotFoundException(`no item ${id}`);
      }
      async create(): Promise<never> {
        throw new HttpException({ message: "slow down", detail: "kept out" }, 429);
      }
      crash(): never {
        throw new InternalServerErrorException();
      }
      check(): never {
        throw Object.assign(new Error("not HTTP"), { status: "active", statusCode: 42 });
      }
    }
    decorate("legacy", ItemsController, "find", AuditErrors({ logger }));
    // (a severity given is the record's, whatever the status)
    decorate("standard", ItemsController, "create", AuditErrors({ logger, severity: "critical" }));
    decorate("standard", ItemsController, "crash", AuditErrors({ logger }));
    decorate("legacy", ItemsController, "check", AuditErrors({ logger }));
    const c = new ItemsController();
    const thrown = (() => {
      try {
        c.find("7");
      } catch (e) {
        return e;
      }
    })();
    expect(thrown).toBeInstanceOf(NotFoundException);
    expect((thrown as NotFoundException).getStatus()).toBe(404);
    const rejected = await c.create().catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(HttpException);
    expect(() => c.check()).toThrow("not HTTP");
    expect(() => c.crash()).toThrow(InternalServerErrorException);
    const errs = await records(logger, "error");
    expect(errs).toMatchObject([
      { errorType: "NotFoundException", message: "no item 7", severity: "warning", context: { method: "ItemsController.find", status: 404 } },
      { errorType: "HttpException", message: "slow down", severity: "critical", context: { method: "ItemsController.create", status: 429 } },
      { errorType: "Error", message: "not HTTP", severity: "error", context: { method: "ItemsController.check" } },
      { errorType: "InternalServerErrorException", severity: "error", context: { method: "ItemsController.crash", status: 500 } },
    ]);
    expect(errs[2]!.context).not.toHaveProperty("status");
    expect(JSON.stringify(errs)).not.toContain("kept out");
  });

  it("@AuditChat records the statusCode of the SDK error a model call failed with (a 429 over real HTTP), as the wrapped clients do (it had none)", async () => {
    const logger = newLogger();
    const openai = new OpenAI({ baseURL: fake.baseURL, apiKey: "sk-test", maxRetries: 0 });
    class Assistant {
      async ask(question: string): Promise<string> {
        const r = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: question }] });
        return r.choices[0]?.message.content ?? "";
      }
    }
    decorate("standard", Assistant, "ask", AuditChat({ logger, model: "gpt-4o-mini" }));
    fake.enqueue({ status: 429, errorMessage: "rate limited" });
    const err = await new Assistant().ask("hi").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    const [chat] = await records(logger, "chat");
    expect(chat).toMatchObject({ success: false, statusCode: 429, model: "gpt-4o-mini", promptPreview: "hi" });
    expect(chat!.errorMessage).toContain("rate limited");
  });
});
