import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // the JSON report lets .ci/run print a plain "N passed, N failed" closing line
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
  },
});
