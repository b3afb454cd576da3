/**
 * Compiles decorator fixtures with the real TypeScript compiler (`tsc`, TS 7) in either decorator
 * mode into a temp directory, and runs the emitted JavaScript in a child process. The fixtures
 * import the library's sources, so tsc compiles those alongside, with the same flags as a user's
 * project would.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, "../..");
export const FIXTURES = path.join(ROOT, "test/fixtures/decorators");
const TSC = path.join(ROOT, "node_modules/.bin/tsc");

export type DecoratorMode = "standard" | "legacy";

export interface Build {
  readonly dir: string;
  /** path of the emitted .js of a fixture (name without extension) */
  js(fixture: string): string;
  cleanup(): void;
}

/** Compiles `fixtures` (file names under test/fixtures/decorators) in `mode`; rejects with tsc's output on any error. */
export async function compileFixtures(mode: DecoratorMode, fixtures: readonly string[]): Promise<Build> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `audit-deco-${mode}-`));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  const legacy = mode === "legacy";
  const tsconfig = {
    extends: path.join(ROOT, "tsconfig.json"),
    compilerOptions: {
      rootDir: ROOT,
      outDir: path.join(dir, "out"),
      noEmit: false,
      declaration: false,
      sourceMap: false,
      experimentalDecorators: legacy,
      emitDecoratorMetadata: legacy,
      typeRoots: [path.join(ROOT, "node_modules/@types")],
    },
    include: [],
    files: fixtures.map((f) => path.join(FIXTURES, f)),
  };
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  try {
    // run from the repository so tsc names files relative to it
    await run(TSC, ["-p", path.join(dir, "tsconfig.json")], { cwd: ROOT });
  } catch (err) {
    // tsc still emits on type errors. Errors in the decorators or the fixtures fail the test;
    // errors elsewhere in the library's sources (another change in progress) are not ours to judge.
    const e = err as { stdout?: string; stderr?: string; message: string };
    const output = `${e.stdout ?? ""}${e.stderr ?? ""}`;
    const ours = output.split("\n").filter((l) => /^(decorators|test\/fixtures\/decorators)\//.test(l));
    const emitted = fs.existsSync(path.join(dir, "out/test/fixtures/decorators"));
    if (ours.length > 0 || !emitted) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`tsc (${mode}) failed:\n${output}${e.message}`);
    }
  }
  return {
    dir,
    js: (fixture) => path.join(dir, "out/test/fixtures/decorators", `${fixture}.js`),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs an emitted script with node; resolves to its stdout (rejects with stderr on a non-zero exit). */
export async function runNode(script: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(process.execPath, [script, ...args], { cwd: path.dirname(script), timeout: 60_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${path.basename(script)} failed: ${e.message}\n${e.stderr ?? ""}`);
  }
}
