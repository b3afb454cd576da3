/**
 * How a test starts a TypeScript child process (a fixture under test/fixtures, a script):
 * `node ...childArgs(file), ...args`.
 *
 * By default the child runs the file through tsx (`--import tsx <file>`), importing the sources.
 * Under `npm test` (AUDIT_CLI_DIST=1, after `npm run build`) it runs a plain JavaScript copy of
 * the file instead, written beside it (`.<name>.child.mjs`, same directory: paths the file makes
 * from `import.meta.url` hold), whose imports of the kit (`src/`, `integrations/`, `decorators/`)
 * name the build (`dist/`) and whose imports of other test files name their own copies. Node 20
 * runs module hooks on another thread, ~4.5 ms of CPU for each module a child loads: a child
 * started with tsx spent ~1.5 s of CPU more than one loading JavaScript (2026-12-05, 2-vCPU VM),
 * and the suite starts some hundreds of them. What the child runs is the build users run.
 *
 * `tsx: true` keeps tsx for a child that must load the sources themselves (two copies of the
 * package, say).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { transformSync } from "esbuild";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const KIT_DIRS = ["src", "integrations", "decorators"].map((d) => path.join(REPO_ROOT, d) + path.sep);
const compiled = new Map<string, string>();

export function childArgs(file: string, o: { tsx?: boolean } = {}): string[] {
  if (o.tsx === true || process.env.AUDIT_CLI_DIST !== "1") return ["--import", "tsx", file];
  return [compile(path.resolve(file))];
}

/** The JavaScript copy of `file` (and of the test files it imports), made once per process. */
function compile(file: string): string {
  const done = compiled.get(file);
  if (done !== undefined) return done;
  const out = path.join(path.dirname(file), `.${path.basename(file).replace(/\.(m|c)?ts$/, "")}.child.mjs`);
  compiled.set(file, out); // (before the imports: a cycle ends here)
  const source = fs.readFileSync(file, "utf8");
  let { code } = transformSync(source, { loader: "ts", format: "esm", target: "node20", sourcefile: file, tsconfigRaw: { compilerOptions: { useDefineForClassFields: true } } });
  code = code.replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"']+)\2/g, (whole, lead: string, q: string, spec: string) => `${lead}${q}${rewrite(file, spec)}${q}`);
  // (written whole under a unique name, then renamed: two test workers may make the same copy)
  const tmp = `${out}.${process.pid}.${crypto.randomBytes(4).toString("hex")}`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, out);
  return out;
}

/** A relative import of `from`'s, as its JavaScript copy makes it. */
function rewrite(from: string, spec: string): string {
  const target = path.resolve(path.dirname(from), spec);
  const kit = KIT_DIRS.find((d) => target.startsWith(d));
  const rel = (to: string): string => {
    const r = path.relative(path.dirname(from), to);
    // (a copy's own name starts with a dot, `.name.child.mjs`: only `./` and `../` are relative)
    return r.startsWith("./") || r.startsWith("../") ? r : `./${r}`;
  };
  if (kit !== undefined) return rel(path.join(REPO_ROOT, "dist", path.relative(REPO_ROOT, target)));
  // another test file: its TypeScript source, copied too
  const ts = [target.replace(/\.js$/, ".ts"), target.replace(/\.mjs$/, ".mts"), target].find((p) => /\.(m|c)?ts$/.test(p) && fs.existsSync(p));
  return ts !== undefined ? rel(compile(ts)) : spec;
}
