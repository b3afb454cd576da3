/**
 * The fake OpenAI provider (test/helpers/fake-openai.ts), or with the argument `anthropic` the
 * fake Anthropic one (test/helpers/fake-anthropic.ts), as a process of its own, as a real
 * provider is another machine: started by `forkFakeProvider()` (bench/lib.ts), it sends its URL
 * to the parent and ends when the parent disconnects or sends SIGTERM.
 */
import { startFakeAnthropic } from "../test/helpers/fake-anthropic.js";
import { startFakeOpenAI } from "../test/helpers/fake-openai.js";

const fake = process.argv[2] === "anthropic" ? await startFakeAnthropic() : await startFakeOpenAI();
const close = () => void fake.close().then(() => process.exit(0));
process.on("disconnect", close);
process.on("SIGTERM", close);
process.send?.(fake.baseURL);
