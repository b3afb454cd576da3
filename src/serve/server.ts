/**
 * `audit-logger serve`: a read-only local web viewer of an audit directory. A plain node:http
 * server: loopback by default, a random access token on every request (else 401), GET and HEAD
 * only (else 405), and files only from its own static directory (else 404). The pages talk to
 * the JSON API in `api.ts`.
 */
import { KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { AuditConfigError, AuditIOError } from "../errors.js";
import type { KeyInput } from "../pipeline/keys.js";
import type { ModelPrice } from "../reader/analytics.js";
import type { Pool } from "pg";
import { loadPg } from "../postgres/pg.js";
import { schemaNameSchema } from "../postgres/schema.js";
import { toFieldIssues } from "../record/issues.js";
import { listSessionIds } from "../sink/files.js";
import { isDirectory } from "../path-inside.js";
import { handleApi } from "./api.js";
import { authenticate, cookieName, newToken, tokenCookie } from "./auth.js";
import { ServeData } from "./data.js";
import { HttpError, sendHead, sendJson, sendText } from "./http.js";
import { resolveStaticPath, sendFile, staticDirFor, vendorFiles } from "./static.js";

/** Options of {@link startServer}. */
export interface ServeOptions {
  /** the audit directory (`<projectPath>/audit_logs`); give this or `postgres` */
  readonly auditPath?: string;
  /**
   * the PostgreSQL store instead of a directory: `{ connectionString, schema? }` (the server
   * opens and closes its own pool) or `{ pool, schema? }` (an open pool, not ended by the server)
   */
  readonly postgres?: ServePostgresOptions;
  /** interface to bind (default 127.0.0.1: this machine only) */
  readonly host?: string;
  /** port (default 0: any free port) */
  readonly port?: number;
  /** key or keyring to open encrypted content; the AUDIT_LOGGER_KEY variable when absent */
  readonly encryptionKey?: KeyInput | readonly KeyInput[];
  /** the access token (default: 32 random bytes); at least 16 characters */
  readonly token?: string;
  /** model prices over the built-in table, for cost figures */
  readonly prices?: Readonly<Record<string, ModelPrice>>;
  /**
   * trusted Ed25519 public keys (PEM or KeyObject) for the integrity panel (a directory): the
   * checkpoints' signatures are checked against them, as `verify --public-key` does; without one
   * the panel's verdict is self-consistent only
   */
  readonly publicKey?: string | KeyObject | readonly (string | KeyObject)[];
}

/** Where {@link startServer} reads a PostgreSQL store. */
export interface ServePostgresOptions {
  /** e.g. `postgres://audit@127.0.0.1:5432/audit` */
  readonly connectionString?: string;
  /** an open pool (not ended by the server) */
  readonly pool?: Pool;
  /** schema holding the store (default `audit_logger`) */
  readonly schema?: string;
  /**
   * the writing instance's audit directory: its key stores open encrypted records' per-user
   * keys, its files hold full content (the store holds neither)
   */
  readonly contentDir?: string;
}

/** A running viewer. */
export interface RunningServer {
  /** the URL to open: it carries the token once, the browser keeps it in a cookie */
  readonly url: string;
  /** the URL without the token */
  readonly baseUrl: string;
  readonly token: string;
  readonly host: string;
  readonly port: number;
  /** stops accepting requests and closes open connections */
  close(): Promise<void>;
}

const keyInput = z.union([z.string(), z.instanceof(Uint8Array)]);
const publicKeyInput = z.union([z.string().min(1, "must be a PEM public key"), z.custom<KeyObject>((v) => v instanceof KeyObject, "must be a PEM string or a crypto KeyObject")]);
const postgresSchema = z
  .strictObject({
    connectionString: z.string().min(1, "must be a non-empty connection string").optional(),
    pool: z.custom<Pool>((v) => typeof v === "object" && v !== null && typeof (v as Pool).query === "function", "must be a pg.Pool").optional(),
    schema: schemaNameSchema.optional(),
    contentDir: z.string().min(1, "must be the path of the writing instance's audit_logs directory").optional(),
  })
  .refine((p) => (p.connectionString === undefined) !== (p.pool === undefined), "give exactly one of connectionString or pool");
const optionsSchema = z.strictObject({
  auditPath: z.string().min(1, "must be the path of an audit_logs directory").optional(),
  postgres: postgresSchema.optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  encryptionKey: z.union([keyInput, z.array(keyInput).min(1)]).optional(),
  token: z.string().min(16, "must be at least 16 characters").regex(/^[A-Za-z0-9._~-]+$/, "must be URL-safe (A-Z a-z 0-9 . _ ~ -)").optional(),
  prices: z.record(z.string(), z.strictObject({ inputPerMTok: z.number().min(0), outputPerMTok: z.number().min(0) })).optional(),
  publicKey: z.union([publicKeyInput, z.array(publicKeyInput).min(1)]).optional(),
});

function hostForUrl(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/** Whether `host` (the address bound) is this machine only. */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * The Host headers a loopback-bound server answers: its own address and the loopback names, at
 * its port. A page of another site whose name was made to resolve to 127.0.0.1 (DNS rebinding)
 * sends its own name, and is refused (421) before the token is even looked at.
 */
function loopbackHosts(host: string, port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${hostForUrl(host)}:${port}`].map((h) => h.toLowerCase()));
}

/**
 * The path to send the browser back to once the token is in a cookie: one leading slash, so that
 * `/.//evil.example/?token=…` (whose path is `//evil.example/`) cannot become the
 * protocol-relative `Location: //evil.example/`, an open redirect (found by review, 2026-12-04).
 */
function sameOriginPath(pathname: string): string {
  return `/${pathname.replace(/^[/\\]+/, "")}`;
}

/**
 * Starts the viewer and resolves once it listens.
 *
 * @example
 * const server = await startServer({ auditPath: "./audit_logs", port: 0 });
 * // or the PostgreSQL store: startServer({ postgres: { connectionString: "postgres://audit@127.0.0.1/audit" } })
 * console.log(`open ${server.url}`);
 * // later
 * await server.close();
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const parsed = optionsSchema.safeParse(options ?? {});
  if (!parsed.success) throw new AuditConfigError(toFieldIssues(parsed.error, "startServer", optionsSchema));
  const o = parsed.data;
  if ((o.auditPath === undefined) === (o.postgres === undefined)) {
    throw new AuditConfigError([{ field: "startServer.auditPath", message: "give either auditPath (an audit_logs directory) or postgres ({ connectionString, schema? }), not both or neither" }]);
  }
  if (o.publicKey !== undefined && o.postgres) {
    throw new AuditConfigError([{ field: "startServer.publicKey", message: "applies to an auditPath: signed checkpoints are kept in each instance's audit directory, not in the store" }]);
  }
  const common = { ...(o.encryptionKey !== undefined ? { encryptionKey: o.encryptionKey } : {}), ...(o.prices ? { prices: o.prices } : {}) };
  const dirData = (auditPath: string): ServeData => new ServeData({ auditPath, ...common, ...(o.publicKey !== undefined ? { publicKey: o.publicKey } : {}) });
  let data: ServeData;
  let ownPool: Pool | undefined;
  if (o.postgres) {
    let pool = o.postgres.pool;
    if (!pool) {
      const pg = loadPg("startServer postgres");
      pool = ownPool = new pg.Pool({ connectionString: o.postgres.connectionString, max: 4, allowExitOnIdle: true, application_name: "audit-logger-serve" });
      ownPool.on("error", () => undefined); // an idle connection dropped: the next query reconnects
    }
    data = new ServeData({
      postgres: { pool, ...(o.postgres.schema !== undefined ? { schema: o.postgres.schema } : {}), ...(o.postgres.contentDir !== undefined ? { contentDir: o.postgres.contentDir } : {}) },
      ...common,
    });
  } else {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(o.auditPath!);
    } catch {
      st = undefined;
    }
    if (!st?.isDirectory()) throw new AuditIOError(`${o.auditPath} is not a directory. Point audit-logger serve at an audit_logs directory.`);
    data = dirData(o.auditPath!);
  }
  // A directory with neither sessions nor an audit_logs/ (a project directory not yet logged to,
  // as `audit-logger serve .` resolves it) is served until a logger makes its audit_logs/, then
  // that is (as a <dir> is resolved: the audit directory, or the project directory above it).
  // Until 2026-12-06 the directory itself was served for good, and the new trail never showed.
  let unsettled = o.auditPath !== undefined && listSessionIds(o.auditPath).length === 0 && !isDirectory(path.join(o.auditPath, "audit_logs")) ? o.auditPath : undefined;
  const served = (): ServeData => {
    if (unsettled === undefined) return data;
    if (listSessionIds(unsettled).length > 0) unsettled = undefined;
    else if (isDirectory(path.join(unsettled, "audit_logs"))) {
      data = dirData(path.join(unsettled, "audit_logs"));
      unsettled = undefined;
    }
    return data;
  };
  const endPool = async (): Promise<void> => {
    await ownPool?.end().catch(() => undefined);
  };
  const staticDir = staticDirFor(import.meta.url);
  const vendor = vendorFiles(import.meta.url);
  const token = o.token ?? newToken();
  const host = o.host ?? "127.0.0.1";
  let cookie = cookieName(0);
  let allowedHosts: Set<string> | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://viewer.invalid");
    } catch {
      sendText(req, res, 400, "400 Bad Request");
      return;
    }
    const hostHeader = req.headers.host;
    if (allowedHosts !== undefined && hostHeader !== undefined && !allowedHosts.has(hostHeader.toLowerCase())) {
      sendText(req, res, 421, "421 Misdirected Request: this viewer answers only as 127.0.0.1, localhost or [::1] at its port (another name is refused: DNS rebinding).");
      return;
    }
    const auth = authenticate(req, url, token, cookie);
    if (auth === null) {
      sendText(req, res, 401, "401 Unauthorized: open the URL that `audit-logger serve` printed; it carries the access token.", { "WWW-Authenticate": 'Bearer realm="audit-logger"' });
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendText(req, res, 405, "405 Method Not Allowed: the viewer is read-only.", { Allow: "GET, HEAD" });
      return;
    }
    const pathname = url.pathname;
    if (auth === "query" && !pathname.startsWith("/api/")) {
      // keep the token out of the address bar and history: a cookie from now on
      url.searchParams.delete("token");
      sendHead(res, 303, { Location: `${sameOriginPath(pathname)}${url.search}`, "Set-Cookie": tokenCookie(cookie, token), "Cache-Control": "no-store", "Content-Length": 0 });
      res.end();
      return;
    }
    if (pathname.startsWith("/api/")) {
      let segments: string[];
      try {
        segments = pathname.slice(5).split("/").map((s) => decodeURIComponent(s));
      } catch {
        throw new HttpError(404, "no such API endpoint");
      }
      await handleApi(req, res, url, segments, served());
      return;
    }
    if (pathname.startsWith("/vendor/")) {
      sendFile(req, res, vendor.get(pathname.slice("/vendor/".length)));
      return;
    }
    // the pages are one document; the route is in the fragment (#/session/…)
    sendFile(req, res, resolveStaticPath(staticDir, pathname === "/" ? "/index.html" : pathname));
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        if (req.url?.startsWith("/api/")) sendJson(req, res, { error: err.message, ...err.body }, err.status);
        else sendText(req, res, err.status, err.message);
        return;
      }
      sendJson(req, res, { error: (err as Error)?.message ?? String(err), code: (err as { code?: unknown })?.code ?? null }, 500);
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      void endPool();
      // (the CLI prefixes "audit-logger serve: ": this said "audit-logger serve could not listen" after it, and named no fix for an address not of this machine; CLI pass, 2026-12-06)
      // (a --host name that does not resolve, "locahost", had no fix named until 2026-12-06)
      const fix = err.code === "EADDRINUSE" ? " (choose another --port)" : err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND" || err.code === "EAI_AGAIN" ? " (give --host an address of this machine, such as 127.0.0.1)" : "";
      reject(new AuditIOError(`Could not listen on ${host}:${o.port ?? 0}: ${err.message}${fix}`, { cause: err }));
    };
    server.once("error", onError);
    server.listen(o.port ?? 0, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  cookie = cookieName(port);
  // (bound to another address, the names it is reached by are not known here: not checked)
  if (isLoopback(host)) allowedHosts = loopbackHosts(host, port);
  const baseUrl = `http://${hostForUrl(host)}:${port}/`;
  return {
    url: `${baseUrl}?token=${token}`,
    baseUrl,
    token,
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(endPool),
  };
}
