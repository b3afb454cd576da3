// Runs `audit-logger serve` in a child process for the CLI test (the lead registers the command in main.ts).
import { serveCommand } from "../../src/cli/serve.js";

process.exitCode = await serveCommand(process.argv.slice(2));
