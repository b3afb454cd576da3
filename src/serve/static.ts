/**
 * The viewer's static front end: plain HTML, CSS and JavaScript modules under `src/serve/static`,
 * plus uPlot's files from its npm package. Request paths are decoded and normalised, and nothing
 * outside these two places is ever served.
 */
import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sendHead, sendText } from "./http.js";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
};

/**
 * Where the front end's files are for a module at `moduleUrl`: `./static` beside the TypeScript
 * source (`src/serve/*.ts`, run with tsx or vitest), or `../../../src/serve/static` from the
 * compiled `dist/src/serve/*.js` (the build does not copy non-TypeScript files).
 *
 * @example
 * staticDirFor(import.meta.url) // "/app/node_modules/audit-logger/src/serve/static"
 */
export function staticDirFor(moduleUrl: string): string {
  const here = path.dirname(fileURLToPath(moduleUrl));
  const candidates = [path.join(here, "static"), path.join(here, "../../../src/serve/static")];
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, "index.html"))) return dir;
  }
  throw new Error(`audit-logger serve: the viewer's static files are missing (looked in ${candidates.join(" and ")}). Reinstall the package.`);
}

/** uPlot's browser files, served under /vendor/; empty when the package is not installed. */
export function vendorFiles(moduleUrl: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  try {
    const require = createRequire(moduleUrl);
    const dist = path.dirname(require.resolve("uplot/dist/uPlot.esm.js"));
    out.set("uPlot.esm.js", path.join(dist, "uPlot.esm.js"));
    out.set("uPlot.min.css", path.join(dist, "uPlot.min.css"));
  } catch {
    // charts then show "chart library not installed"; everything else works
  }
  return out;
}

/**
 * The file under `root` that URL path `urlPath` names, or undefined when the path is malformed,
 * escapes `root` (`..`, encoded or not, backslashes, NUL) or names no regular file.
 *
 * @example
 * resolveStaticPath("/srv/static", "/js/app.js")        // "/srv/static/js/app.js"
 * resolveStaticPath("/srv/static", "/..%2f..%2fetc/passwd") // undefined
 */
export function resolveStaticPath(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return undefined;
  const segments = decoded.split("/");
  // refuse any dot segment outright rather than resolving it: a viewer never needs one
  if (segments.some((s) => s === ".." || s === ".")) return undefined;
  const rel = path.posix.normalize(`/${decoded}`).replace(/^\/+/, "");
  if (rel === "") return undefined;
  const full = path.resolve(root, rel);
  const back = path.relative(root, full);
  if (back === "" || back.startsWith("..") || path.isAbsolute(back)) return undefined;
  let st: fs.Stats;
  try {
    // the real path must stay inside too (a symlink planted in the static dir)
    const real = fs.realpathSync(full);
    const realRoot = fs.realpathSync(root);
    const r = path.relative(realRoot, real);
    if (r === "" || r.startsWith("..") || path.isAbsolute(r)) return undefined;
    st = fs.statSync(real);
  } catch {
    return undefined;
  }
  return st.isFile() ? full : undefined;
}

/** Sends one static file (whole; they are small), or 404. */
export function sendFile(req: IncomingMessage, res: ServerResponse, file: string | undefined): void {
  if (file === undefined) {
    sendText(req, res, 404, "404 Not Found");
    return;
  }
  let body: Buffer;
  try {
    body = fs.readFileSync(file);
  } catch {
    sendText(req, res, 404, "404 Not Found");
    return;
  }
  sendHead(res, 200, {
    "Content-Type": TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream",
    "Content-Length": body.length,
    "Cache-Control": "no-cache",
  });
  res.end(req.method === "HEAD" ? undefined : body);
}
