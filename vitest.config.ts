import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The test files that take longest, slowest first: the first seven from CI on a quiet 2-vCPU
 * machine, 2026-12-06 (98, 63, 61, 50, 48, 36 and 34 s), the next ones measured alone on a loaded
 * one the same day (subject-keys and writer-fifo ~45 s, cleanup-leftovers ~30, killed-status ~25,
 * export-proofs-numbers ~20). The two workers take the files in the order sorted, each the next
 * one once it is free; without a duration cache (a fresh clone, as CI has) vitest sorts by file
 * size, which left short files with long runs (export-dir-concurrent, key-store-held,
 * killed-status, export-proofs-numbers) towards the end, one worker idle while the other ran them.
 * Started first, they run beside the many short files. The rest keep vitest's order (by size, or
 * by the durations an earlier run cached on a developer's machine).
 */
const SLOWEST = [
  "test/core/disk-trouble.test.ts",
  "test/integrations/api-promise.test.ts",
  "test/cli/cli.test.ts",
  "test/cli/postgres.test.ts",
  "test/core/crash.test.ts",
  "test/postgres/subject-keys.test.ts",
  "test/core/writer-fifo.test.ts",
  "test/cli/export-dir-concurrent.test.ts",
  "test/core/key-store-held.test.ts",
  "test/cli/cleanup-leftovers.test.ts",
  "test/postgres/killed-status.test.ts",
  "test/cli/export-proofs-numbers.test.ts",
];

class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = SLOWEST.findIndex((s) => f.moduleId.endsWith(`/${s}`));
      return i < 0 ? SLOWEST.length : i;
    };
    // (a stable sort: the files not listed keep the base sequencer's order)
    return sorted.map((f, i) => ({ f, i, r: rank(f) })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.f);
  }
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    sequence: { sequencer: SlowestFirst },
    // the JSON report lets .ci/run print a plain "N passed, N failed" closing line
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
  },
});
