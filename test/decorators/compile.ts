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

/**
 * Compiles `fixtures` (file names under test/fixtures/decorators) in `mode`; rejects with tsc's
 * output on any error. `es2017`: fixtures compiled for an ES2017 target (as an app built for an
 * older runtime is, or by Babel: `async *` methods become plain functions calling a helper),
 * run against the library as the other fixtures are (compiled at its own target).
 */
export async function compileFixtures(mode: DecoratorMode, fixtures: readonly string[], { es2017 = [] }: { es2017?: readonly string[] } = {}): Promise<Build> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `audit-deco-${mode}-`));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  // (the ES2017 ones too, for the library they import, compiled here at its own target)
  await tsc(mode, dir, "out", [...fixtures, ...es2017]);
  if (es2017.length > 0) {
    // (compiled again, with the library they import, at ES2017; only the fixtures are kept)
    await tsc(mode, dir, "out-es2017", es2017, "ES2017");
    for (const f of es2017) {
      const js = `${f.replace(/\.ts$/, "")}.js`;
      fs.copyFileSync(path.join(dir, "out-es2017/test/fixtures/decorators", js), path.join(dir, "out/test/fixtures/decorators", js));
    }
  }
  return {
    dir,
    js: (fixture) => path.join(dir, "out/test/fixtures/decorators", `${fixture}.js`),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

async function tsc(mode: DecoratorMode, dir: string, out: string, fixtures: readonly string[], target?: string): Promise<void> {
  const legacy = mode === "legacy";
  const tsconfig = {
    extends: path.join(ROOT, "tsconfig.json"),
    compilerOptions: {
      ...(target !== undefined ? { target } : {}),
      rootDir: ROOT,
      outDir: path.join(dir, out),
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
  const config = path.join(dir, `tsconfig.${out}.json`);
  fs.writeFileSync(config, JSON.stringify(tsconfig, null, 2));
  try {
    // run from the repository so tsc names files relative to it
    await run(TSC, ["-p", config], { cwd: ROOT });
  } catch (err) {
    // tsc still emits on type errors. Errors in the decorators or the fixtures fail the test;
    // errors elsewhere in the library's sources (another change in progress) are not ours to judge.
    const e = err as { stdout?: string; stderr?: string; message: string };
    const output = `${e.stdout ?? ""}${e.stderr ?? ""}`;
    const ours = output.split("\n").filter((l) => /^(decorators|test\/fixtures\/decorators)\//.test(l));
    const emitted = fs.existsSync(path.join(dir, out, "test/fixtures/decorators"));
    if (ours.length > 0 || !emitted) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`tsc (${mode}${target !== undefined ? `, ${target}` : ""}) failed:\n${output}${e.message}`);
    }
  }
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
