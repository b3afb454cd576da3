/**
 * Audit decorators on an agent's methods: a persona plans, asks a (fake, local) model, which
 * calls a tool; an answer is streamed; a call fails. Every call is recorded with its parent link,
 * and the trace is printed from the files. No network, no API key.
 *
 *   npx tsx examples/decorators.ts              # writes to a fresh temp directory
 *   npx tsx examples/decorators.ts ./my_project # or there (a directory without an audit trail: it adds to none)
 *
 * The same class compiles with TypeScript's `experimentalDecorators` (NestJS) unchanged.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AuditChat, AuditErrors, AuditPerformance, AuditPersona, AuditTool } from "../decorators/index.js";
import { AuditLogger, auditContext, setDefaultAuditLogger, verifyAuditLog } from "../src/index.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class TravelAgent {
  private readonly forecasts: Record<string, string> = { Paris: "14-18 °C, showers", Rome: "22-27 °C, sunny" };

  @AuditTool("weather_api")
  async getForecast(city: string): Promise<{ city: string; forecast: string }> {
    await sleep(5);
    const forecast = this.forecasts[city];
    if (!forecast) throw new Error(`no forecast for ${city}`);
    return { city, forecast };
  }

  // a stand-in for an LLM client call: returns an OpenAI-shaped completion
  @AuditChat({ model: "fake-gpt", provider: "local" })
  async ask(prompt: string) {
    const city = /in (\w+)/.exec(prompt)?.[1] ?? "Paris";
    const { forecast } = await this.getForecast(city);
    return {
      choices: [{ message: { role: "assistant", content: `${city}: ${forecast}. ${forecast.includes("showers") ? "Pack an umbrella." : "Sunglasses."}` }, finish_reason: "stop" }],
      usage: { prompt_tokens: Math.ceil(prompt.length / 4), completion_tokens: 12 },
    };
  }

  @AuditPersona("planner", "plan_trip")
  async planTrip(city: string): Promise<string> {
    const answer = await this.ask(`What should I pack for a weekend in ${city}?`);
    return answer.choices[0]!.message.content;
  }

  // streamed answers are recorded when the stream ends, with time to first token
  @AuditChat({ model: "fake-gpt-stream" })
  async *streamTip(topic: string): AsyncGenerator<string> {
    for (const word of `Tip about ${topic}: book trains early.`.split(" ")) {
      await sleep(2);
      yield `${word} `;
    }
  }

  @AuditPerformance("rank_ms")
  rankCities(cities: string[]): string[] {
    return [...cities].sort();
  }

  @AuditErrors({ severity: "warning" })
  async planFor(city: string): Promise<string> {
    return this.planTrip(city);
  }
}

async function main(): Promise<void> {
  const projectPath = path.resolve(process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), "audit-decorators-example-")));
  // an audit trail of somebody's (or an earlier run's): never added to by an example, whose printout
  // would list that trail's records as its own (as the demo and openai-wrap.ts refuse it)
  const trail = path.join(projectPath, "audit_logs");
  if (fs.existsSync(trail)) {
    console.error(`${trail} exists: the example writes a fresh audit trail and deletes none. Give it a directory without one, or none (it then uses a new temporary directory).`);
    process.exitCode = 1;
    return;
  }
  const logger = new AuditLogger({ sessionId: "decorators_example", projectPath });
  setDefaultAuditLogger(logger); // decorators find it at call time
  const agent = new TravelAgent();

  await auditContext.run({ userId: "user_42", traceId: "trip-request-1" }, async () => {
    console.log("plan:", await agent.planTrip("Paris"));
  });
  let streamed = "";
  for await (const piece of agent.streamTip("Rome")) streamed += piece;
  console.log("stream:", streamed.trim());
  console.log("ranked:", agent.rankCities(["Rome", "Oslo", "Paris"]).join(", "));
  await agent.planFor("Atlantis").catch((e: Error) => console.log("failed as expected:", e.message));

  await logger.finalizeSession();
  setDefaultAuditLogger(undefined);

  // read the records back and print each trace as a tree of parent links
  const dir = logger.auditDir;
  const records = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .flatMap((f) => fs.readFileSync(path.join(dir, f), "utf8").split("\n").filter(Boolean))
    .map((l) => JSON.parse(l) as Record<string, string | number | boolean | undefined>)
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const label = (r: (typeof records)[number]) =>
    `${r.type} ${r.toolName ?? r.personaName ?? r.model ?? r.metricName ?? r.errorType}${r.success === false ? " (failed)" : ""}${r.userId ? ` user=${r.userId}` : ""}`;
  const print = (r: (typeof records)[number], depth: number): void => {
    console.log(`${"  ".repeat(depth)}- ${label(r)}`);
    for (const child of records.filter((c) => c.parentId === r.id)) print(child, depth + 1);
  };
  console.log(`\nRecords in ${dir}:`);
  for (const root of records.filter((r) => r.parentId === undefined)) print(root, 0);
  const report = await verifyAuditLog(dir);
  console.log(`\nverify: ${report.ok ? "ok" : "PROBLEMS"} (${report.recordsChecked} records)`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
