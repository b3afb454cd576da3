/** The fake OpenAI and Anthropic providers, started before a test file's tests and closed after them. */
import { afterAll, beforeAll } from "vitest";
import { startFakeAnthropic, type FakeAnthropic } from "./fake-anthropic.js";
import { startFakeOpenAI, type FakeOpenAI } from "./fake-openai.js";

export interface FakeProviders {
  readonly openai: FakeOpenAI;
  readonly anthropic: FakeAnthropic;
}

/** Registers the hooks; the servers are there once the file's tests run. */
export function fakeProviders(): FakeProviders {
  const fakes = {} as { openai: FakeOpenAI; anthropic: FakeAnthropic };
  beforeAll(async () => {
    fakes.openai = await startFakeOpenAI();
    fakes.anthropic = await startFakeAnthropic();
  });
  afterAll(async () => {
    await fakes.openai.close();
    await fakes.anthropic.close();
  });
  return fakes;
}
