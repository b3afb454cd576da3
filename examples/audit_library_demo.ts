/**
 * The seed scenario end to end: one session of an AI assistant — a chat, persona work, a tool
 * call, a file operation, a metric and an error — then finalize, verify, view and export.
 *
 *   npm run demo                      # writes ./demo_project/audit_logs and audit_exports (removed first);
 *                                     # audit_exports/signing.pub.pem is the key for `audit-logger verify --public-key`
 *   npm run demo -- /some/dir         # somewhere else: a directory without them (none is ever deleted there)
 */
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { AuditExporter, AuditLogger, AuditViewer, PresetConfigs, auditContext, verifyAuditLog } from "../src/index.js";

async function main(): Promise<void> {
  const given = process.argv[2];
  const projectPath = path.resolve(given ?? "demo_project");
  const made = [path.join(projectPath, "audit_logs"), path.join(projectPath, "audit_exports")];
  if (given === undefined) for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  else if (made.some((dir) => fs.existsSync(dir))) {
    // an audit trail of somebody's: never deleted, never added to by the demo
    const there = made.filter((dir) => fs.existsSync(dir));
    console.error(`${there.join(" and ")} ${there.length > 1 ? "exist" : "exists"}: the demo writes a fresh audit trail and deletes none. Give it a directory without one, or none (it then uses ./demo_project).`);
    process.exitCode = 1;
    return;
  }
  // an Ed25519 key pair for signed checkpoints (in production the private key lives outside the project)
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const config = PresetConfigs.development("demo_session", projectPath, {
    customMetadata: { department: "AI", compliance: "SOX" },
    signingKey: privateKey,
  });
  const logger = new AuditLogger(config);
  console.log(`Audit directory: ${logger.auditDir}`);

  await auditContext.run({ userId: "user_42", traceId: "trace_demo_1" }, async () => {
    const chatId = logger.logChatInteraction({
      interactionType: "api_request",
      prompt: "What's the weather in Paris tomorrow, and should I pack an umbrella?",
      response: "Tomorrow in Paris: 14–18 °C with showers in the afternoon. Yes, pack an umbrella ☔.",
      model: "claude-3",
      inputTokens: 21,
      outputTokens: 24,
      durationSeconds: 1.2,
      persona: "travel_assistant",
      metadata: { channel: "web" },
    });
    console.log(`logged chat interaction ${chatId}`);

    logger.logPersonaActivity({
      personaName: "travel_assistant",
      activityType: "plan",
      description: "Planned a packing list from the forecast",
      durationSeconds: 0.4,
      details: { items: ["umbrella", "light jacket"] },
    });
    console.log("logged persona activity");

    logger.logToolUsage({
      toolName: "weather_api",
      operation: "get_forecast",
      parameters: { location: "Paris", days: 1 },
      result: { tempC: [14, 18], precipitation: "showers" },
      durationSeconds: 0.31,
      parentId: chatId,
    });
    console.log("logged tool usage");

    logger.logFileOperation({ operation: "create", filePath: "reports/packing_list.md", fileSize: 312, details: { format: "markdown" } });
    console.log("logged file operation");

    logger.logPerformanceMetric({ metricName: "response_latency", value: 1200, unit: "ms", context: { model: "claude-3" } });
    console.log("logged performance metric");

    try {
      throw new TypeError("Forecast provider returned an empty body");
    } catch (err) {
      logger.logError(err as Error, { provider: "weather_api", retry: 1 });
      console.log("logged error");
    }
  });

  const summary = await logger.finalizeSession();
  console.log("\nSession summary:");
  console.log(`  records: ${summary.totalRecords} (${Object.entries(summary.counts).map(([k, v]) => `${k} ${v}`).join(", ")})`);
  console.log(`  tokens: ${summary.tokens.total} (in ${summary.tokens.input}, out ${summary.tokens.output}); models: ${JSON.stringify(summary.models)}`);
  console.log(`  tool success rate: ${summary.toolSuccessRate}; errors: ${JSON.stringify(summary.errorsBySeverity)}`);

  const report = await verifyAuditLog(logger.auditDir, { publicKey });
  console.log(`\nIntegrity: ${report.ok ? "OK" : "PROBLEMS FOUND"} — ${report.recordsChecked} records checked, ${report.problems.length} problems`);
  for (const n of report.notes) console.log(`  note (${n.kind}): ${n.detail}`);

  const viewer = new AuditViewer({ auditPath: logger.auditDir });
  const [chat] = await viewer.getChatInteractions({ limit: 1 });
  console.log(`\nViewer: newest chat ${chat?.id} (${chat?.model}, ${chat?.tokensUsed} tokens, user ${chat?.userId}, trace ${chat?.traceId})`);
  const content = await viewer.getFullInteractionContent(chat!.id);
  console.log(`  full prompt: "${content?.prompt}" — verified against manifest and hashes: ${content?.verified}`);
  const tools = await viewer.getToolUsages({ toolName: "weather_api" });
  console.log(`  tool calls to weather_api: ${tools.length}, parent ${tools[0]?.parentId}`);
  const analytics = await viewer.generateAnalyticsReport();
  const model = analytics.models["claude-3"];
  console.log(`  analytics: ${analytics.totals.chatInteractions} chats, ${analytics.totals.tokens} tokens, claude-3 cost ${model?.costUsd == null ? "unpriced (add it with the prices option)" : `$${model.costUsd.toFixed(6)}`}, p50 latency ${model?.latencySeconds.p50} s`);

  const exportDir = path.join(projectPath, "audit_exports");
  const exporter = new AuditExporter(viewer);
  await exporter.exportToJson(path.join(exportDir, "audit_complete.json"), { includeFullContent: true });
  await exporter.exportChatInteractionsToCsv(path.join(exportDir, "chats.csv"));
  await exporter.exportToolUsagesToCsv(path.join(exportDir, "tools.csv"));
  // its manifest signed with the logger's key, so that `verify complete --public-key` holds too
  // (until 2026-12-06 it was unsigned: the export verified without the key, and failed with it)
  const dirExport = await exporter.exportCompleteAuditToDirectory(path.join(exportDir, "complete"), { includeFullContent: false, signingKey: privateKey });
  console.log(`\nExports in ${exportDir}: audit_complete.json, chats.csv, tools.csv, complete/ (${dirExport.files.length} files, content withheld)`);
  const exportCheck = await verifyAuditLog(path.join(exportDir, "complete"), { publicKey });
  console.log(`  the directory export verifies against the signing key: ${exportCheck.ok}`);
  // the public half of the signing key, for the README's `audit-logger verify <dir> --public-key <file>`
  // (until 2026-12-05 the demo kept it to itself, and that command could not be run on its trail)
  const publicKeyFile = path.join(exportDir, "signing.pub.pem");
  fs.writeFileSync(publicKeyFile, publicKey.export({ type: "spki", format: "pem" }), { flag: "wx" });
  const shown = (p: string) => path.relative(process.cwd(), p) || ".";
  console.log(`  public key of the signed checkpoints: ${shown(publicKeyFile)}`);
  // In this checkout the package's own `audit-logger` command is `npm run cli --` (npm links no
  // bin of the project itself, and `npx audit-logger` failed here: "audit-logger: not found");
  // in a project that installed the package it is `npx audit-logger`.
  console.log(`  check the trail with it: npm run cli -- verify ${shown(logger.auditDir)} --public-key ${shown(publicKeyFile)}`);
  console.log(`  (in a project that installed audit-logger: npx audit-logger verify ...)`);

  console.log("\nFiles:");
  for (const name of fs.readdirSync(logger.auditDir).sort()) {
    const p = path.join(logger.auditDir, name);
    const st = fs.statSync(p);
    console.log(`  ${name}${st.isDirectory() ? `/ (${fs.readdirSync(p).length} files)` : ` (${st.size} bytes)`}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
