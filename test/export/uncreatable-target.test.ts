/**
 * An export target that cannot be created fails at once with AUDIT_ERR_PATH naming the option.
 * Found 2026-12-05: under /proc, Node's recursive mkdir never returns (mkdir there answers ENOENT
 * for a parent that exists, and Node tries again forever): an export to /proc/self/x/… hung for
 * good, the CLI with it. Real loggers, real files, the real CLI as a child process (killed if it
 * hangs).
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger, AuditPathError, AuditViewer } from "../../src/index.js";
import { AuditExporter } from "../../src/export/exporter.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { auditDirOf } from "../helpers/core.js";
import { collect, startCli } from "../cli/helpers.js";

afterEach(() => cleanupTmp());

/** `p` settled, or "hung" after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown } | "hung"> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), ms)));
  try {
    return await Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), hung]);
  } finally {
    clearTimeout(timer);
  }
}

async function logged(): Promise<string> {
  const projectPath = tmpProject("audit-uncreatable-");
  const l = new AuditLogger({ sessionId: "s1", projectPath, fullContentLogging: false });
  l.logToolUsage({ toolName: "t", operation: "o" });
  await l.finalizeSession();
  return auditDirOf(projectPath);
}

const UNDER_PROC = "/proc/self/audit-export-test/deeper";
const UNDER_FILE = "/dev/null/audit-export-test";

describe("an export target that cannot be created", () => {
  it("fails promptly with AUDIT_ERR_PATH naming the option (the API: json, csv, directory)", async () => {
    const exporter = new AuditExporter(new AuditViewer({ auditPath: await logged() }));
    for (const [call, option] of [
      [(base: string) => exporter.exportToJson(path.join(base, "out.json")), "exportToJson.file"],
      [(base: string) => exporter.exportToolUsagesToCsv(path.join(base, "tools.csv")), "exportToolUsagesToCsv.file"],
      [(base: string) => exporter.exportCompleteAuditToDirectory(base), "exportCompleteAuditToDirectory.dir"],
    ] as const) {
      for (const base of [UNDER_PROC, UNDER_FILE]) {
        const r = await within<unknown>(call(base), 3000);
        expect(r, `${option} ${base}`).not.toBe("hung");
        const err = (r as { error?: unknown }).error;
        expect(err, `${option} ${base}`).toBeInstanceOf(AuditPathError);
        expect((err as AuditPathError).code).toBe("AUDIT_ERR_PATH");
        expect((err as Error).message).toContain(option);
        expect((err as Error).message).toContain("cannot be created");
      }
    }
  }, 30_000);

  it("makes `audit-logger export` exit promptly with AUDIT_ERR_PATH (dir, csv of every kind, json)", async () => {
    const dir = await logged();
    for (const args of [
      ["--format", "dir", "--out", UNDER_PROC],
      ["--format", "csv", "--out", UNDER_PROC],
      ["--format", "json", "--out", path.join(UNDER_PROC, "out.json")],
    ]) {
      const child = startCli(["export", dir, ...args]);
      const c = collect(child);
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const r = await c.done;
      clearTimeout(killer);
      expect(r.signal, args.join(" ")).toBeNull();
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr).toContain("cannot be created");
      expect(r.stderr).toContain("--out");
    }
    expect(fs.existsSync("/proc/self/audit-export-test")).toBe(false);
  }, 90_000);
});

describe("an export target in a directory that exists but cannot be written in", () => {
  // (/proc exists and takes no new file, whoever runs the test: root too. The target's directory
  // was fine, so the export went on to open its temporary file there, and failed with AUDIT_ERR_IO
  // "Writing the export /proc/x.json failed: ENOENT …", naming neither the option nor the fix; the
  // CLI's directory export named the API's exportCompleteAuditToDirectory.dir, not --out. Found by
  // the CLI pass, 2026-12-06.)
  const WRITE_PROTECTED = "/proc";

  it("fails with AUDIT_ERR_PATH naming the option and the fix (the API: json, csv, directory)", async () => {
    const exporter = new AuditExporter(new AuditViewer({ auditPath: await logged() }));
    for (const [call, option] of [
      [() => exporter.exportToJson(path.join(WRITE_PROTECTED, "out.json")), "exportToJson.file"],
      [() => exporter.exportToolUsagesToCsv(path.join(WRITE_PROTECTED, "tools.csv")), "exportToolUsagesToCsv.file"],
      [() => exporter.exportCompleteAuditToDirectory(WRITE_PROTECTED), "exportCompleteAuditToDirectory.dir"],
    ] as const) {
      const err = await call().then(() => undefined, (e: unknown) => e);
      expect(err, option).toBeInstanceOf(AuditPathError);
      expect((err as AuditPathError).code).toBe("AUDIT_ERR_PATH");
      expect((err as Error).message).toContain(`${option}: `);
      expect((err as Error).message).toMatch(/cannot be (written|created)/);
      expect((err as Error).message).toContain("nothing was written");
    }
  });

  it("makes `audit-logger export` exit 1 with AUDIT_ERR_PATH naming --out (json, csv of one kind, csv of every kind, dir)", async () => {
    const dir = await logged();
    for (const args of [
      ["--format", "json", "--out", path.join(WRITE_PROTECTED, "out.json")],
      ["--format", "csv", "--kind", "tool_usage", "--out", path.join(WRITE_PROTECTED, "tools.csv")],
      ["--format", "csv", "--out", WRITE_PROTECTED],
      ["--format", "dir", "--out", WRITE_PROTECTED],
    ]) {
      const r = await collect(startCli(["export", dir, ...args])).done;
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain("audit-logger export: option --out: ");
      expect(r.stderr).toMatch(/cannot be (written|created)/);
      expect(r.stderr).toContain("[AUDIT_ERR_PATH]");
      expect(r.stderr).not.toContain("exportCompleteAuditToDirectory");
      expect(r.stdout).toBe("");
    }
  }, 60_000);
});

describe("a projectPath that cannot be created", () => {
  it("makes new AuditLogger() throw AUDIT_ERR_IO at once (a child process, killed if it hangs: it did, for good)", async () => {
    const entry = path.resolve(__dirname, "../../src/index.ts");
    const script = `import { AuditLogger } from ${JSON.stringify(entry)};
try { new AuditLogger({ projectPath: ${JSON.stringify(UNDER_PROC)} }); console.log("created"); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: path.resolve(__dirname, "../..") });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, sig) => resolve(sig)));
    clearTimeout(killer);
    expect(signal).toBeNull();
    const r = JSON.parse(out.trim()) as { code: string; message: string };
    expect(r.code).toBe("AUDIT_ERR_IO");
    expect(r.message).toContain("Cannot create the audit directory");
    expect(r.message).toContain("projectPath");
  }, 30_000);
});
