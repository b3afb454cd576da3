/**
 * Shared tooling for the Express tests: both Express majors, a real server on 127.0.0.1, and a
 * reader that waits until a logger's records have reached the files.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import express5 from "express";
import { afterEach } from "vitest";
import { AuditLogger, KIND_FILE_STEM, type RecordType } from "../../src/index.js";
import { cleanupTmp, readJsonl, tmpProject } from "../helpers/index.js";

export type ExpressFactory = typeof express5;

// `express4` is the npm alias of express@4 (CommonJS, no types of its own): same call shape.
const require = createRequire(import.meta.url);
const express4 = require("express4") as ExpressFactory;

/** Every test runs against both majors. */
export const EXPRESS_FLAVORS: ReadonlyArray<readonly [string, ExpressFactory]> = [
  ["express 5", express5],
  ["express 4", express4],
];

export interface Served {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `app` on an ephemeral port of 127.0.0.1. */
export async function serve(app: http.RequestListener): Promise<Served> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What the client saw: status, headers (without `date`) and body. */
export interface Exchange {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export async function exchange(url: string, init?: RequestInit): Promise<Exchange> {
  const r = await fetch(url, init);
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    if (k !== "date") headers[k] = v;
  });
  return { status: r.status, headers, body: await r.text() };
}

/** The records of one kind in the logger's active file (no rotation in these tests). */
export function recordsOf(logger: AuditLogger, kind: RecordType): Array<Record<string, unknown>> {
  const file = path.join(logger.auditDir, `${KIND_FILE_STEM[kind]}_${logger.sessionId}.jsonl`);
  if (!fs.existsSync(file)) return [];
  return readJsonl(file);
}

/**
 * Waits until at least `count` records of `kind` are in the file. Needed because the server's
 * `finish` event (where the request is recorded) can come after the client has the response.
 */
export async function waitForRecords(logger: AuditLogger, kind: RecordType, count: number, timeoutMs = 10_000): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await logger.flush();
    const recs = recordsOf(logger, kind);
    if (recs.length >= count) return recs;
    if (Date.now() > deadline) throw new Error(`expected ${count} ${kind} records, found ${recs.length}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The content of a full-content file named in a chat record. */
export function contentOf(logger: AuditLogger, ref: unknown): string {
  const file = (ref as { file: string }).file;
  return fs.readFileSync(path.join(logger.auditDir, file), "utf8");
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * For a test file: `newLogger()` (a logger of session "http" in a new project) and `start(app)`
 * (the app served on 127.0.0.1, its URL); after each test its loggers (and those given to
 * `keep`) are finalized, its servers closed and its projects removed.
 */
export function expressHarness(): { newLogger(): AuditLogger; start(app: http.RequestListener): Promise<string>; keep(x: Served | AuditLogger): void } {
  const open: Array<Served | AuditLogger> = [];
  afterEach(async () => {
    for (const x of open.splice(0)) {
      if (x instanceof AuditLogger) {
        if (!x.isClosed) await x.finalizeSession();
      } else await x.close();
    }
    cleanupTmp();
  });
  return {
    newLogger() {
      const logger = new AuditLogger({ sessionId: "http", projectPath: tmpProject() });
      open.push(logger);
      return logger;
    },
    async start(app) {
      const s = await serve(app);
      open.push(s);
      return s.url;
    },
    keep(x) {
      open.push(x);
    },
  };
}
