import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { inspect } from "node:util";
import vm from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuditConfig,
  AuditConfigError,
  AuditLogger,
  AuditLoggerError,
  AuditSessionClosedError,
  AuditValidationError,
  AuditViewer,
  auditContext,
  ERROR_CODES,
  PresetConfigs,
} from "../../src/index.js";
import { auditOptionsSchema } from "../../src/config/schema.js";
import { cleanupTmp, TEST_KEY, tmpProject, withoutEnv } from "../helpers/index.js";
import { auditDirOf, kindPath, readKind, REPO_ROOT, snapshot } from "../helpers/core.js";

const KEY_ENV = "AUDIT_LOGGER_KEY";
withoutEnv(KEY_ENV);
afterEach(cleanupTmp);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

function fieldsOf(err: unknown): string[] {
  return (err as { issues: { field: string }[] }).issues.map((i) => i.field);
}

describe("configuration validation", () => {
  it("names every bad field at once, with AUDIT_ERR_CONFIG, and creates nothing on disk", () => {
    const projectPath = tmpProject();
    const err = thrown(
      () =>
        new AuditLogger({
          projectPath,
          sessionId: "../x",
          maxLogAgeDays: -1,
          durability: "eventually",
          rotation: { size: "lots", frequency: 5, extra: 1 },
          contentPreviewChars: 1.5,
          storeContentHashes: "yes",
          bogus: 1,
          sesionId: "typo",
        } as never),
    );
    expect(err).toBeInstanceOf(AuditConfigError);
    expect(err).toBeInstanceOf(AuditLoggerError);
    expect((err as AuditConfigError).code).toBe("AUDIT_ERR_CONFIG");
    const fields = fieldsOf(err);
    expect(fields.sort()).toEqual(
      ["sessionId", "maxLogAgeDays", "durability", "rotation.size", "rotation.frequency", "rotation.extra", "contentPreviewChars", "storeContentHashes", "bogus", "sesionId"].sort(),
    );
    for (const f of fields) expect((err as Error).message).toContain(f);
    expect((err as Error).message).toMatch(/unknown option/);
    expect(fs.existsSync(auditDirOf(projectPath))).toBe(false);
  });

  // Found by review 2026-12-04 (fourth session): a BigInt or a cycle passed validation and the
  // constructor threw a bare TypeError (leaving empty files behind); a timer over 2^31-1 ms fired
  // every millisecond (a checkpoint after nearly every record).
  it("refuses customMetadata JSON cannot carry, naming the member, and a checkpoint interval longer than a timer can wait", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ customMetadata: { big: 1n } }, "customMetadata.big", /bigint is not JSON/],
      [{ customMetadata: { deep: { list: [1, () => 2] } } }, "customMetadata.deep.list.1", /function is not JSON/],
      // (zod hands the refinement a copy of the top level: the cycle is met one member down)
      [{ customMetadata: cyclic }, "customMetadata.self.self", /cycle/],
      [{ customMetadata: { m: new Map([["k", "v"]]) } }, "customMetadata.m", /Map instance is not a plain object/],
      [{ customMetadata: { n: Number.NaN } }, "customMetadata.n", /NaN is not a JSON number/],
      [{ checkpointEvery: { seconds: 30 * 86_400 } }, "checkpointEvery.seconds", /at most 2147483/],
    ];
    for (const [options, field, message] of cases) {
      const projectPath = tmpProject();
      const err = thrown(() => new AuditLogger({ projectPath, ...options } as never));
      expect(err).toBeInstanceOf(AuditConfigError);
      expect(fieldsOf(err)).toEqual([field]);
      expect((err as Error).message).toMatch(message);
      expect(fs.existsSync(auditDirOf(projectPath))).toBe(false);
    }
  });

  it("accepts customMetadata with dates, nested plain objects and arrays, and writes it into the session file", async () => {
    const projectPath = tmpProject();
    const at = new Date("2026-01-02T03:04:05.000Z");
    const logger = new AuditLogger({ projectPath, sessionId: "meta_ok", customMetadata: { at, tags: ["a", { b: null }], n: 1.5 }, checkpointEvery: { seconds: 2_147_483 } });
    await logger.finalizeSession();
    const info = JSON.parse(fs.readFileSync(path.join(auditDirOf(projectPath), "session_meta_ok.json"), "utf8")) as { customMetadata?: unknown; config?: { customMetadata?: unknown } };
    expect(JSON.stringify(info)).toContain('"at":"2026-01-02T03:04:05.000Z","tags":["a",{"b":null}],"n":1.5');
  });

  it.each([
    ["../x"],
    ["a/b"],
    [".."],
    ["."],
    [""],
    ["x".repeat(129)],
    ["a b"],
    ["a\\b"],
    ["/abs"],
    ["nul\0byte"],
    ["ümlaut"],
    // legal hold scopes: a session named "all" released every directory-wide hold with its own (review, 2026-12-04)
    ["all"],
    ["session"],
  ])("refuses sessionId %j", (sessionId) => {
    const projectPath = tmpProject();
    const err = thrown(() => new AuditLogger({ sessionId, projectPath }));
    expect(err).toBeInstanceOf(AuditConfigError);
    expect(fieldsOf(err)).toEqual(["sessionId"]);
    expect(fs.existsSync(auditDirOf(projectPath))).toBe(false);
  });

  it.each([["a"], ["x".repeat(128)], ["Session_2024-01-01.v2"], ["..."], ["-dash"]])("accepts sessionId %j", async (sessionId) => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId, projectPath });
    logger.logPerformanceMetric({ metricName: "m", value: 1, unit: "u" });
    await logger.finalizeSession();
    expect(readKind(projectPath, "performance_metric", sessionId)).toHaveLength(1);
    expect(fs.readdirSync(auditDirOf(projectPath)).every((n) => !n.includes("/"))).toBe(true);
  });

  it("fills defaults, freezes the config, and never serialises the key", () => {
    const projectPath = tmpProject();
    const config = new AuditConfig({ projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    expect(config.sessionId).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
    expect(config.auditDir).toBe(auditDirOf(projectPath));
    expect(config).toMatchObject({ fullContentLogging: true, storeContentHashes: true, durability: "async", contentPreviewChars: 200 });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.customMetadata)).toBe(true);
    expect(Object.isFrozen(config.rotation)).toBe(true);
    expect(() => {
      (config as { maxLogAgeDays: number }).maxLogAgeDays = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.customMetadata as Record<string, unknown>).x = 1;
    }).toThrow(TypeError);
    const raw = Buffer.from(TEST_KEY, "base64");
    for (const view of [JSON.stringify(config), inspect(config, { depth: 10 }), JSON.stringify(config.toJSON()), String(config)]) {
      expect(view).not.toContain(TEST_KEY);
      expect(view).not.toContain(raw.toString("hex"));
    }
    expect(config.encryptionKeyId).toMatch(/^k[0-9a-f]{16}$/);
  });

  it("toJSON() names every option the config was given (thread and requireSigning were left out), keys by their id only", () => {
    const signingKey = generateKeyPairSync("ed25519").privateKey;
    const onCheckpoint = function keepCopy(): void {};
    const config = new AuditConfig({ projectPath: tmpProject(), thread: true, requireSigning: true, signingKey, encryptSensitiveContent: true, encryptionKey: TEST_KEY, onCheckpoint });
    const json = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
    expect(json).toMatchObject({ thread: true, requireSigning: true, onCheckpoint: "keepCopy", encryptionKeyId: config.encryptionKeyId, signingKeyId: config.signingKeyId });
    // every option is there, a key under its id (never the key itself)
    const shownAs: Record<string, string> = { encryptionKey: "encryptionKeyId", signingKey: "signingKeyId" };
    for (const option of Object.keys(auditOptionsSchema.shape)) expect(json, option).toHaveProperty(shownAs[option] ?? option);
    expect(JSON.stringify(json)).not.toContain(TEST_KEY);
    expect(JSON.stringify(json)).not.toContain("PRIVATE KEY");
    // and off, they say so
    expect(new AuditConfig({ projectPath: tmpProject() }).toJSON()).toMatchObject({ thread: false, requireSigning: false, onCheckpoint: null });
    // the options rebuild a config that still requires signing
    expect(new AuditConfig(config.toOptions()).requireSigning).toBe(true);
  });

  it("an hmac redaction key is not shown by util.inspect / console.log either (found by a new-user run, 2026-12-05)", () => {
    const hmacKey = Buffer.from("0123456789abcdef0123456789abcdef");
    const config = new AuditConfig({ projectPath: tmpProject(), redact: { replacement: "hmac", hmacKey } });
    const shown = inspect(config, { depth: 10 });
    expect(shown).toMatch(/^AuditConfig \{/);
    expect(shown).toContain("replacement: 'hmac'");
    for (const leak of [hmacKey.toString("hex").match(/../g)!.slice(0, 8).join(" "), "hmacKey"]) expect(shown).not.toContain(leak);
    expect(Buffer.from((config.redact && config.redact.hmacKey) || []).equals(hmacKey)).toBe(true); // (still there for the code that uses it)
  });

  it("the session file written at start holds no key", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger({ sessionId: "v_keyfile", projectPath, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    const text = fs.readFileSync(`${auditDirOf(projectPath)}/session_v_keyfile.json`, "utf8");
    expect(text).not.toContain(TEST_KEY);
    expect(text).toContain(logger.config.encryptionKeyId!);
    await logger.finalizeSession();
  });

  it("null or another non-object as the options is an AUDIT_ERR_CONFIG naming the argument, not {} (logs in the working directory); no options or {} still default to it (found by review, 2026-12-05)", async () => {
    const cwd = process.cwd();
    const here = tmpProject();
    process.chdir(here);
    try {
      for (const [make, argument] of [
        [(v: unknown) => new AuditLogger(v as never), "new AuditLogger(options)"],
        [(v: unknown) => new AuditConfig(v as never), "new AuditConfig(options)"],
      ] as const) {
        for (const [value, shown] of [[null, "null"], ["/srv/app", "a string"], [5, "a number"], [true, "a boolean"], [[{ projectPath: here }], "an array"], [() => ({}), "a function"]] as const) {
          const err = thrown(() => make(value));
          expect(err).toBeInstanceOf(AuditConfigError);
          expect((err as AuditConfigError).code).toBe("AUDIT_ERR_CONFIG");
          expect((err as AuditConfigError).issues).toEqual([{ field: "options", message: expect.stringContaining(`${argument} must be an options object`) }]);
          const message = (err as Error).message;
          expect(message).toContain(`got ${shown}`);
          expect(message).toContain("projectPath"); // (the fix: say where the logs go)
        }
      }
      expect(fs.readdirSync(here)).toEqual([]); // nothing was created in the working directory
      // the documented default: no options, or {}, write under <cwd>/audit_logs
      for (const logger of [new AuditLogger(), new AuditLogger({}), new AuditLogger(undefined)]) {
        expect(logger.auditDir).toBe(path.join(fs.realpathSync(here), "audit_logs"));
        logger.logPerformanceMetric({ metricName: "m", value: 1, unit: "ms" });
        await logger.finalizeSession();
      }
      expect(fs.readdirSync(path.join(here, "audit_logs")).filter((n) => n.startsWith("performance_metrics_"))).toHaveLength(3);
      expect(new AuditConfig().projectPath).toBe(fs.realpathSync(here));
    } finally {
      process.chdir(cwd);
    }
  });

  it("a Map, a Date or another built-in object as the options is an AUDIT_ERR_CONFIG naming `options` and the fix, not {} (its settings ignored, logs in the working directory); an instance of the app's own class is read by its properties, getters too (found 2026-12-05)", async () => {
    const cwd = process.cwd();
    const here = tmpProject();
    process.chdir(here);
    try {
      const projectPath = tmpProject();
      for (const [make, argument] of [
        [(v: unknown) => new AuditLogger(v as never), "new AuditLogger(options)"],
        [(v: unknown) => new AuditConfig(v as never), "new AuditConfig(options)"],
      ] as const) {
        for (const [value, shown, fix] of [
          [new Map([["projectPath", projectPath]]), "a Map", "Object.fromEntries(map)"],
          [new Set(["projectPath"]), "a Set", "plain object"],
          [new Date(), "a Date", "plain object"],
          [/audit/, "a RegExp", "plain object"],
          [Promise.resolve({ projectPath }), "a Promise", "await"],
          [new Error("x"), "an Error", "plain object"],
          [new URL(`file://${projectPath}`), "a URL", "plain object"],
          [Buffer.from("{}"), "binary data", "plain object"],
          [new String("x"), "a String object", "plain object"],
          [new (class extends Map {})(), "a Map", "Object.fromEntries(map)"],
        ] as const) {
          const err = thrown(() => make(value));
          expect(err, shown).toBeInstanceOf(AuditConfigError);
          expect((err as AuditConfigError).code).toBe("AUDIT_ERR_CONFIG");
          expect((err as AuditConfigError).issues).toEqual([{ field: "options", message: expect.stringContaining(`${argument} must be a plain options object`) }]);
          expect((err as Error).message).toContain(`got ${shown}`);
          expect((err as Error).message).toContain(fix);
        }
      }
      expect(fs.readdirSync(here)).toEqual([]); // nothing was created in the working directory
      // the app's own class: own fields, and getters (also with the redact shorthand, which
      // rewrote the options and dropped every getter: the logs went to the working directory)
      class OwnFields {
        projectPath = projectPath;
        maxLogAgeDays = 5;
      }
      class Getters {
        get projectPath(): string {
          return projectPath;
        }
        get maxLogAgeDays(): number {
          return 7;
        }
        get redact(): true {
          return true;
        }
      }
      expect(new AuditConfig(new OwnFields() as never)).toMatchObject({ projectPath, maxLogAgeDays: 5 });
      const c = new AuditConfig(new Getters() as never);
      expect(c).toMatchObject({ projectPath, maxLogAgeDays: 7 });
      expect(c.redact).not.toBe(false);
      const logger = new AuditLogger(new Getters() as never);
      expect(logger.auditDir).toBe(path.join(projectPath, "audit_logs"));
      await logger.finalizeSession();
      // a plain object of another realm (a vm context, a test runner's sandbox) is a plain object:
      // its prototype is that realm's Object.prototype, whose constructor is native too
      const foreign = vm.runInNewContext("({ projectPath: p, maxLogAgeDays: 9 })", { p: projectPath }) as object;
      expect(Object.getPrototypeOf(foreign)).not.toBe(Object.prototype);
      expect(new AuditConfig(foreign as never)).toMatchObject({ projectPath, maxLogAgeDays: 9 });
      // (a misspelt own field of such an instance is still an unknown option)
      expect(thrown(() => new AuditConfig(Object.assign(new OwnFields(), { projectpath: "x" }) as never))).toBeInstanceOf(AuditConfigError);
      expect(fs.readdirSync(here)).toEqual([]);
    } finally {
      process.chdir(cwd);
    }
  });

  it('rotation sizes use pino-roll\'s vocabulary ("64k", "10m", bytes)', () => {
    const projectPath = tmpProject();
    expect(new AuditConfig({ projectPath, rotation: { size: "64k" } }).rotation.sizeBytes).toBe(65_536);
    expect(new AuditConfig({ projectPath, rotation: { size: "10m" } }).rotation.sizeBytes).toBe(10 * 1024 * 1024);
    expect(new AuditConfig({ projectPath, rotation: { size: "1g" } }).rotation.sizeBytes).toBe(1024 ** 3);
    expect(new AuditConfig({ projectPath, rotation: { size: 5000 } }).rotation.sizeBytes).toBe(5000);
    // read back under the option's own name too, in bytes, as toJSON() writes it (it was only
    // sizeBytes: config.rotation.size was undefined; found by the API.md audit, 2026-12-05)
    const c = new AuditConfig({ projectPath, rotation: { size: "64k", frequency: "hourly" } });
    expect(c.rotation).toEqual({ size: 65_536, sizeBytes: 65_536, frequency: "hourly" });
    expect((c.toJSON() as { rotation: unknown }).rotation).toEqual({ size: 65_536, frequency: "hourly" });
    expect(new AuditConfig({ projectPath }).rotation.size).toBe(100 * 1024 * 1024);
    expect(new AuditConfig({ projectPath, rotation: { frequency: "daily" } }).rotation.frequency).toBe("daily");
    for (const size of ["0k", "-1", "ten", 0, -5]) expect(() => new AuditConfig({ projectPath, rotation: { size } })).toThrow(AuditConfigError);
  });

  it('a size string without its unit ("100") is refused, naming rotation.size: pino-roll reads it as megabytes, a number here is bytes', () => {
    // (it was taken as 100 bytes: a logger given pino-roll's "100" for 100 MB wrote a segment
    // file per record, 11 tool_usage files for 10 records; found by the API.md conformance pass)
    const projectPath = tmpProject();
    for (const size of ["100", "2048", " 64 ", "1.5"]) {
      const err = thrown(() => new AuditLogger({ sessionId: "unitless", projectPath, rotation: { size } }));
      expect(err, size).toBeInstanceOf(AuditConfigError);
      expect((err as AuditConfigError).issues).toEqual([{ field: "rotation.size", message: expect.stringContaining('needs its unit: "100m"') }]);
    }
    expect(fs.existsSync(path.join(projectPath, "audit_logs"))).toBe(false);
    // with a unit, in pino-roll's sense; "b" for bytes, as pino-roll has it
    expect(new AuditConfig({ projectPath, rotation: { size: "100b" } }).rotation.size).toBe(100);
    expect(new AuditConfig({ projectPath, rotation: { size: "1.5m" } }).rotation.size).toBe(1.5 * 1024 * 1024);
    expect(new AuditConfig({ projectPath, rotation: { size: "10MB" } }).rotation.size).toBe(10 * 1024 * 1024);
  });
});

describe("messages that say what to give (found by a new-user run, 2026-12-05)", () => {
  const issuesOf = (o: Record<string, unknown>) => {
    try {
      new AuditConfig({ projectPath: tmpProject(), ...o });
    } catch (err) {
      expect(err).toBeInstanceOf(AuditConfigError);
      return (err as AuditConfigError).issues;
    }
    throw new Error("accepted");
  };

  it("a bad choice names the choices, once, not zod's 'Invalid input'", () => {
    expect(issuesOf({ rotation: { frequency: "weekly" } })).toEqual([{ field: "rotation.frequency", message: 'must be "hourly", "daily" or a number of milliseconds (at least 1000)' }]);
    expect(issuesOf({ encryptionKey: 5 })).toEqual([{ field: "encryptionKey", message: expect.stringContaining("must be a 32-byte key") }]);
    expect(issuesOf({ signingKey: 5 })).toEqual([{ field: "signingKey", message: "must be an Ed25519 private key: a PEM string or a crypto KeyObject" }]);
    expect(issuesOf({ redact: 5 })).toEqual([{ field: "redact", message: expect.stringContaining('must be false, true, "all", a list of rule names') }]);
  });

  it("a viewer query with a bad filter says nothing was read, not written; a bad context says nothing was run", async () => {
    const viewer = new AuditViewer({ auditPath: tmpProject() });
    await expect(viewer.getChatInteractions({ limit: -1 } as never)).rejects.toThrow(/getChatInteractions\(\) was called with invalid input; nothing was read:/);
    expect(() => auditContext.run("x" as never, () => 1)).toThrow(/auditContext\.run\(\) was called with invalid input; nothing was run:/);
  });

  it("a misspelt option or input field names the documented one it most likely means (it said only to check the spelling: new-user pass, 2026-12-06)", async () => {
    const meant = (name: string) => `unknown option; did you mean "${name}"?`;
    const byField = (a: { field: string }, b: { field: string }) => a.field.localeCompare(b.field);
    expect(issuesOf({ sesionId: "x", encryptSensitiveContents: false, checkpointEvery: { record: 10 }, zzz: 1 }).toSorted(byField)).toEqual(
      [
        { field: "sesionId", message: meant("sessionId") },
        { field: "encryptSensitiveContents", message: meant("encryptSensitiveContent") },
        { field: "zzz", message: "unknown option; check its spelling against the documented names" },
        { field: "checkpointEvery.record", message: meant("records") },
      ].sort(byField),
    );
    const logger = new AuditLogger({ projectPath: tmpProject(), sessionId: "typos" });
    const inputIssues = (fn: () => unknown) => (thrown(fn) as AuditValidationError).issues;
    // (a log call's input has fields, not options: it said "unknown option" for them too until 2026-12-06, new-user pass)
    const meantField = (name: string) => `unknown field; did you mean "${name}"?`;
    for (const thread of [false, true]) {
      const input = new AuditLogger({ projectPath: tmpProject(), sessionId: `fields_${thread}`, thread });
      expect(inputIssues(() => input.logChatInteraction({ prompt: "p", tokens: 4 } as never))).toEqual([{ field: "tokens", message: meantField("tokensUsed") }]);
      expect(inputIssues(() => input.logToolUsage({ toolName: "t", operation: "o", params: {} } as never))).toEqual([{ field: "params", message: meantField("parameters") }]);
      expect(inputIssues(() => input.logPerformanceMetric({ metricName: "m", value: 1, unit: "ms", contxt: {} } as never))).toEqual([{ field: "contxt", message: meantField("context") }]);
      expect(inputIssues(() => input.logPersonaActivity({ personaName: "p", activityType: "a", zzz: 1 } as never))).toEqual([{ field: "zzz", message: "unknown field; check its spelling against the documented names" }]);
      expect((thrown(() => input.logError({ errorType: "E", message: "m", severty: "high" } as never)) as Error).message).toContain('severty: unknown field; did you mean "severity"?');
      await input.finalizeSession();
    }
    await expect(logger.cleanup({ dryrun: true } as never)).rejects.toMatchObject({ issues: [{ field: "cleanup.dryrun", message: meant("dryRun") }] });
    const viewer = new AuditViewer({ auditPath: logger.auditDir });
    await expect(viewer.getChatInteractions({ modle: "x" } as never)).rejects.toMatchObject({ issues: [{ field: "modle", message: meant("model") }] });
    await logger.finalizeSession();
  });
});

describe("log input validation", () => {
  // Found by review 2026-12-04 (fourth session): a missing or non-string reason threw a bare
  // TypeError (why.trim is not a function), and releaseLegalHold's errors named placeLegalHold.
  it("legal hold calls with a reason or scope that is not a string throw AuditValidationError naming the method and field, in both modes", async () => {
    for (const thread of [false, true]) {
      const logger = new AuditLogger({ sessionId: `holds_${thread}`, projectPath: tmpProject(), thread });
      const cases: Array<[() => unknown, string, string[]]> = [
        [() => (logger.placeLegalHold as (...a: unknown[]) => unknown)(), "placeLegalHold", ["reason"]],
        [() => (logger.placeLegalHold as (...a: unknown[]) => unknown)(5), "placeLegalHold", ["reason"]],
        [() => (logger.placeLegalHold as (...a: unknown[]) => unknown)({}, 5), "placeLegalHold", ["scope", "reason"]],
        [() => (logger.releaseLegalHold as (...a: unknown[]) => unknown)("all", null), "releaseLegalHold", ["reason"]],
        [() => logger.releaseLegalHold(""), "releaseLegalHold", ["reason"]],
      ];
      for (const [call, method, fields] of cases) {
        const err = thrown(call);
        expect(err, `${method} ${fields.join()}`).toBeInstanceOf(AuditValidationError);
        expect((err as Error).message).toContain(`${method}()`);
        expect(fieldsOf(err)).toEqual(fields);
      }
      await logger.finalizeSession();
      expect(fs.existsSync(path.join(logger.auditDir, "legal_holds.json"))).toBe(false);
    }
  });

  it("invalid input throws AuditValidationError naming the fields, writes nothing and consumes no seq", async () => {
    const projectPath = tmpProject();
    const sid = "v_input";
    const logger = new AuditLogger({ sessionId: sid, projectPath, durability: "sync" });
    logger.logChatInteraction({ prompt: "ok" });
    await logger.flush();
    const before = snapshot(projectPath);
    const cases: Array<[() => unknown, string, string[]]> = [
      [() => logger.logChatInteraction({ prompt: 5, tokensUsed: -1, model: "", bogus: 1, durationSeconds: Infinity } as never), "logChatInteraction", ["prompt", "tokensUsed", "model", "bogus", "durationSeconds"]],
      [() => logger.logChatInteraction({} as never), "logChatInteraction", ["prompt"]],
      [() => logger.logPersonaActivity({ personaName: "", activityType: 3 } as never), "logPersonaActivity", ["personaName", "activityType"]],
      [() => logger.logToolUsage({ toolName: "t", operation: "o", paramters: {} } as never), "logToolUsage", ["paramters"]],
      [() => logger.logFileOperation({ operation: "explode", filePath: "", fileSize: 1.5 } as never), "logFileOperation", ["operation", "filePath", "fileSize"]],
      [() => logger.logPerformanceMetric({ metricName: "m", value: Number.NaN, unit: "u" }), "logPerformanceMetric", ["value"]],
      [() => logger.logError({ errorType: "E", message: "m", severity: "fatal" } as never), "logError", ["severity"]],
      [() => logger.logError(null as never), "logError", ["(input)"]],
      [() => logger.logToolUsage(undefined as never), "logToolUsage", ["(input)"]],
      [() => logger.logChatInteraction({ prompt: "p", id: "../../etc/passwd" }), "logChatInteraction", ["id"]],
      [() => logger.logChatInteraction({ prompt: "p", metadata: "not an object" } as never), "logChatInteraction", ["metadata"]],
      // logError's second argument is merged into the record's context: a string was spread into
      // {"0":"c","1":"t",…} and a number recorded as {} (found by the API.md audit, 2026-12-05)
      [() => logger.logError(new Error("e"), "step 2" as never), "logError", ["context"]],
      [() => logger.logError(new Error("e"), 5 as never), "logError", ["context"]],
      [() => logger.logError({ errorType: "E", message: "m" }, ["a"] as never), "logError", ["context"]],
      [() => logger.logError({ errorType: "E", message: "m" }, null as never), "logError", ["context"]],
    ];
    for (const [call, method, fields] of cases) {
      const err = thrown(call);
      expect(err, method).toBeInstanceOf(AuditValidationError);
      expect((err as AuditValidationError).code).toBe("AUDIT_ERR_VALIDATION");
      expect((err as AuditValidationError).method).toBe(method);
      expect(fieldsOf(err).sort(), method).toEqual([...fields].sort());
      expect((err as Error).message).toContain("nothing was written");
    }
    await logger.flush();
    expect(snapshot(projectPath)).toEqual(before);
    logger.logChatInteraction({ prompt: "next" });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    expect(readKind(projectPath, "chat_interaction", sid).map((r) => r.seq)).toEqual([1, 2]);
    expect(readKind(projectPath, "tool_usage", sid).map((r) => r.seq)).toEqual([1]);
    expect(readKind(projectPath, "error", sid)).toEqual([]);
  });

  it("logging after finalizeSession() throws AuditSessionClosedError from every method and writes nothing", async () => {
    const projectPath = tmpProject();
    const sid = "v_closed";
    const logger = new AuditLogger({ sessionId: sid, projectPath });
    logger.logChatInteraction({ prompt: "p" });
    await logger.finalizeSession();
    const before = snapshot(projectPath);
    const calls: Array<[string, () => unknown]> = [
      ["logChatInteraction", () => logger.logChatInteraction({ prompt: "p" })],
      ["logPersonaActivity", () => logger.logPersonaActivity({ personaName: "p", activityType: "a" })],
      ["logToolUsage", () => logger.logToolUsage({ toolName: "t", operation: "o" })],
      ["logFileOperation", () => logger.logFileOperation({ operation: "read", filePath: "/x" })],
      ["logPerformanceMetric", () => logger.logPerformanceMetric({ metricName: "m", value: 1, unit: "u" })],
      ["logError", () => logger.logError(new Error("late"))],
    ];
    for (const [method, call] of calls) {
      const err = thrown(call);
      expect(err, method).toBeInstanceOf(AuditSessionClosedError);
      expect((err as AuditSessionClosedError).code).toBe("AUDIT_ERR_SESSION_CLOSED");
      expect((err as Error).message).toContain(method);
      expect((err as Error).message).toContain(sid);
    }
    await expect(logger.finalizeSession()).rejects.toBeInstanceOf(AuditSessionClosedError);
    expect(snapshot(projectPath)).toEqual(before);
    expect(fs.readFileSync(kindPath(projectPath, "chat_interaction", sid), "utf8").split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("every error code is distinct and has a row in the README's error table", () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const c of ["AUDIT_ERR_CONFIG", "AUDIT_ERR_VALIDATION", "AUDIT_ERR_SESSION_CLOSED", "AUDIT_ERR_KEY", "AUDIT_ERR_SESSION_LOCKED"]) expect(ERROR_CODES).toContain(c);
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const rows = new Set([...readme.matchAll(/^\| `(AUDIT_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]));
    for (const c of ERROR_CODES) expect(rows.has(c), c).toBe(true);
    for (const r of rows) expect(ERROR_CODES as readonly string[]).toContain(r);
  });
});

describe("presets", () => {
  const signingKey = generateKeyPairSync("ed25519").privateKey;
  const table = {
    development: { fullContentLogging: true, encryptSensitiveContent: false, maxLogAgeDays: 30, autoCleanup: true, durability: "async" },
    production: { fullContentLogging: true, encryptSensitiveContent: true, maxLogAgeDays: 365, autoCleanup: false, durability: "sync" },
    compliance: { fullContentLogging: true, encryptSensitiveContent: true, maxLogAgeDays: 2555, minRetentionDays: 2555, autoCleanup: false, durability: "fsync" },
    minimal: { fullContentLogging: false, encryptSensitiveContent: false, maxLogAgeDays: 30, contentPreviewChars: 0, storeToolPayloads: false, storeContentHashes: false },
  } as const;

  for (const name of Object.keys(table) as Array<keyof typeof table>) {
    it(`${name}: both call forms give the table's values`, () => {
      const projectPath = tmpProject();
      const needsKey = table[name].encryptSensitiveContent;
      const overrides = { ...(needsKey ? { encryptionKey: TEST_KEY } : {}), ...(name === "compliance" ? { signingKey } : {}) };
      const positional = PresetConfigs[name](`${name}_pos`, projectPath, overrides);
      const object = PresetConfigs[name]({ sessionId: `${name}_obj`, projectPath, ...overrides });
      for (const config of [positional, object]) {
        expect(config).toBeInstanceOf(AuditConfig);
        expect(config).toMatchObject(table[name]);
        expect(config.auditDir).toBe(auditDirOf(projectPath));
        expect(Object.isFrozen(config)).toBe(true);
      }
      expect(positional.sessionId).toBe(`${name}_pos`);
      expect(object.sessionId).toBe(`${name}_obj`);
    });
  }

  it("overrides win over the preset in both call forms; invalid overrides are config errors", () => {
    const projectPath = tmpProject();
    expect(PresetConfigs.development("d1", projectPath, { maxLogAgeDays: 7, durability: "sync" })).toMatchObject({ maxLogAgeDays: 7, durability: "sync", autoCleanup: true });
    expect(PresetConfigs.development({ sessionId: "d2", projectPath, maxLogAgeDays: 7 })).toMatchObject({ maxLogAgeDays: 7 });
    const err = thrown(() => PresetConfigs.minimal("../bad", projectPath, { maxLogAgeDays: 0 }));
    expect(err).toBeInstanceOf(AuditConfigError);
    expect(fieldsOf(err).sort()).toEqual(["maxLogAgeDays", "sessionId"]);
  });

  it("an override given as undefined leaves the preset's value, as leaving it out does, in both call forms", async () => {
    // (it replaced the preset's value with the kit's default: production with
    // encryptSensitiveContent: undefined wrote prompts in plaintext, compliance with
    // requireSigning/minRetentionDays undefined ran unsigned with no retention floor; the README
    // says an optional member given as undefined is the same as leaving it out; found by the
    // API.md conformance pass)
    const projectPath = tmpProject();
    const logger = new AuditLogger(PresetConfigs.production({ sessionId: "prod_undef", projectPath, encryptionKey: TEST_KEY, encryptSensitiveContent: undefined, redact: undefined }));
    logger.logChatInteraction({ prompt: "the secret prompt", response: "r" });
    await logger.finalizeSession();
    const line = fs.readFileSync(kindPath(projectPath, "chat_interaction", "prod_undef"), "utf8");
    expect(line).toContain('"$enc"');
    expect(line).not.toContain("the secret prompt");
    expect(PresetConfigs.development("dev_undef", projectPath, { maxLogAgeDays: undefined, autoCleanup: undefined, durability: undefined })).toMatchObject({ maxLogAgeDays: 30, autoCleanup: true, durability: "async" });
    const unsigned = thrown(() => PresetConfigs.compliance({ sessionId: "comp_undef", projectPath, encryptionKey: TEST_KEY, requireSigning: undefined, minRetentionDays: undefined }));
    expect(unsigned).toMatchObject({ code: "AUDIT_ERR_KEY" });
    const { privateKey } = generateKeyPairSync("ed25519");
    expect(PresetConfigs.compliance("comp_undef", projectPath, { encryptionKey: TEST_KEY, signingKey: privateKey, minRetentionDays: undefined })).toMatchObject({ minRetentionDays: 2555, maxLogAgeDays: 2555 });
  });

  it("a preset given something that is not an options object is an AUDIT_ERR_CONFIG naming it, as new AuditConfig() is; a class instance is read by its properties", () => {
    // (overrides of 5, "x" or a Map were ignored without a word, and a Map or a class instance
    // with getters in the one-object form was read as {}: the preset's defaults, the logs under
    // the working directory)
    const projectPath = tmpProject();
    for (const overrides of [5, "x", [1], new Map([["maxLogAgeDays", 7]])]) {
      const err = thrown(() => PresetConfigs.development("d_bad", projectPath, overrides as never));
      expect(err, String(overrides)).toBeInstanceOf(AuditConfigError);
      expect(fieldsOf(err)).toEqual(["overrides"]);
    }
    expect(fieldsOf(thrown(() => PresetConfigs.minimal(new Map([["projectPath", projectPath]]) as never)))).toEqual(["options"]);
    class Settings {
      constructor(readonly sessionId: string) {}
      get projectPath(): string {
        return projectPath;
      }
    }
    expect(PresetConfigs.minimal(new Settings("from_class") as never)).toMatchObject({ sessionId: "from_class", projectPath, maxLogAgeDays: 30 });
    // (null overrides are none, as undefined)
    expect(PresetConfigs.minimal("null_overrides", projectPath, null as never)).toMatchObject({ sessionId: "null_overrides", maxLogAgeDays: 30 });
    expect(fs.readdirSync(projectPath)).toEqual([]);
  });

  it("a preset config runs a logger end to end", async () => {
    const projectPath = tmpProject();
    const logger = new AuditLogger(PresetConfigs.production("prod_run", projectPath, { encryptionKey: TEST_KEY }));
    logger.logChatInteraction({ prompt: "p", response: "r" });
    // production is sync: on disk at once
    expect(fs.readFileSync(kindPath(projectPath, "chat_interaction", "prod_run"), "utf8")).toContain('"$enc"');
    await logger.finalizeSession();
  });
});
