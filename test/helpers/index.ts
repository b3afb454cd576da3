import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, expect } from "vitest";
import { AuditLogger } from "../../src/logger.js";
import type { AuditOptionsInput } from "../../src/config/schema.js";
import { openKeyring } from "../../src/pipeline/keyring.js";
import { makeEncryptionKey, type EncryptionKey } from "../../src/pipeline/keys.js";
import { childArgs } from "./child-args.js";

/** A fresh project directory under the OS temp dir; removed by `cleanupTmp()`. */
const made: string[] = [];
export function tmpProject(prefix = "audit-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function cleanupTmp(): void {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** Parses every line of a JSONL file (the whole file must be newline-terminated lines). */
export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  const text = fs.readFileSync(file, "utf8");
  if (text === "") return [];
  if (!text.endsWith("\n")) throw new Error(`${file} does not end with a newline`);
  return text.slice(0, -1).split("\n").map((l) => JSON.parse(l) as T);
}

/** The raw lines of a JSONL file. */
export function readLinesOf(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}

/** Every file under `dir`, recursively. */
export function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** A base64 32-byte test key (never a real secret). */
export const TEST_KEY = Buffer.alloc(32, 7).toString("base64");

/**
 * The test key as a keyring that opens the audit directory's per-subject data keys (records are
 * encrypted under those; the master key only wraps them).
 */
export function testKeyring(auditDir: string): EncryptionKey {
  return openKeyring([makeEncryptionKey(Buffer.from(TEST_KEY, "base64"))], auditDir);
}

/**
 * `newLogger(options?)` for a test file: each logger gets a fresh project directory, and after
 * every test the loggers still open are finalized and the directories removed.
 */
export function loggerFactory(sessionId: string, prefix?: string): (options?: Omit<AuditOptionsInput, "sessionId" | "projectPath">) => AuditLogger {
  const loggers: AuditLogger[] = [];
  afterEach(async () => {
    for (const l of loggers.splice(0)) if (!l.isClosed) await l.finalizeSession();
    cleanupTmp();
  });
  return (options = {}) => {
    const logger = new AuditLogger({ sessionId, projectPath: tmpProject(prefix), ...options });
    loggers.push(logger);
    return logger;
  };
}

/** Clears an environment variable for each test of the file and restores it afterwards. */
export function withoutEnv(name: string): void {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env[name];
    delete process.env[name];
  });
  afterEach(() => {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  });
}

/**
 * Runs a fixture under test/fixtures in a child process (`node --expose-gc --import tsx <fixture>
 * <a new project dir>`) and returns its exit status, stderr and the JSON of its last stdout line.
 */
export function runFixtureChild<T>(fixture: string, projectPrefix: string, args: readonly string[] = []): { status: number | null; stderr: string; out: T } {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const r = spawnSync(process.execPath, ["--expose-gc", ...childArgs(path.join(root, "test/fixtures", fixture)), tmpProject(projectPrefix), ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 30_000,
  });
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  return { status: r.status, stderr: r.stderr, out: (last ? JSON.parse(last) : undefined) as T };
}

/**
 * The error `run` throws, or its promise rejects with, checked to be a `cls`; the test fails when
 * it returns instead.
 *
 * @example
 * const err = await thrownBy(() => verifyAuditLog(dir, { publickey }), AuditConfigError);
 */
export async function thrownBy<T extends Error>(run: () => unknown, cls: abstract new (...args: never[]) => T): Promise<T> {
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(cls);
    return err as T;
  }
  throw new Error(`expected a ${cls.name}, but it returned`);
}
