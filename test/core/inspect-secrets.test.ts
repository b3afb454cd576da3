// Found by a re-review, 2026-12-05: util.inspect / console.log of a logger printed the master
// key's bytes and the hmac redaction key (the AuditConfig alone had been fixed), a viewer's and
// an exporter's the key they open records with, a PostgresSink's the connection string's password.
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { AuditExporter, AuditLogger, AuditViewer, Redactor } from "../../src/index.js";
import { PostgresSink } from "../../src/postgres/index.js";
import { PostgresRecordSource } from "../../src/postgres/reader.js";
import { cleanupTmp, TEST_KEY, tmpProject } from "../helpers/index.js";

afterEach(cleanupTmp);

const keyBytes = Buffer.from(TEST_KEY, "base64");
const hmacKey = Buffer.from("supersecrethmackey0123456789abcd");
/** The ways a key shows in inspect's output: its bytes as a Buffer prints them, as hex, base64, text. */
const leaks = (shown: string) =>
  [
    keyBytes.toString("hex").match(/../g)!.slice(0, 8).join(" "),
    hmacKey.toString("hex").match(/../g)!.slice(0, 8).join(" "),
    keyBytes.toString("hex"),
    TEST_KEY,
    "supersecret",
    "hunter2",
  ].filter((needle) => shown.includes(needle));

describe("what util.inspect shows of the kit's objects", () => {
  it("a logger, a viewer, an exporter, a PostgresSink and a store source show no key and no password", async () => {
    const sink = new PostgresSink({ connectionString: "postgres://audit:hunter2@127.0.0.1:1/test", connectTimeoutMs: 200, closeTimeoutMs: 200 });
    const logger = new AuditLogger({ projectPath: tmpProject(), encryptSensitiveContent: true, encryptionKey: TEST_KEY, redact: { replacement: "hmac", hmacKey }, sinks: [sink] });
    logger.on("error", () => undefined);
    logger.logChatInteraction({ model: "m", prompt: "the prompt", response: "the response", userId: "u1" });
    const viewer = new AuditViewer({ auditPath: logger.auditDir, encryptionKey: TEST_KEY });
    const exporter = new AuditExporter({ auditPath: logger.auditDir, encryptionKey: TEST_KEY });
    const source = new PostgresRecordSource({ connectionString: "postgres://audit:hunter2@127.0.0.1:1/test" });
    for (const [name, o] of [["logger", logger], ["viewer", viewer], ["exporter", exporter], ["sink", sink], ["source", source]] as const) {
      const shown = inspect(o, { depth: 20, showHidden: false });
      expect(leaks(shown), `${name}: ${shown}`).toEqual([]);
    }
    expect(inspect(logger)).toMatch(new RegExp(`^AuditLogger \\{[\\s\\S]*sessionId: '${logger.sessionId}'`));
    expect(inspect(sink)).toContain("store: 'PostgresSink:");
    await logger.finalizeSession();
    await source.close();
  });
});

// Found by a security pass, 2026-12-05: only util.inspect had been fixed. JSON.stringify of the
// same objects (what pino, winston or an error serializer does with an object the app logs:
// `log.info({ audit: logger })`) still wrote the master key's bytes (as a list of numbers), the
// hmac redaction key and the connection string's password; a Redactor, through util.inspect too.
// And a password given in the connection string's query (`?password=`, which pg reads) was shown
// by inspect as given.
describe("what JSON.stringify writes of the kit's objects", () => {
  /** The ways a key shows in JSON: its bytes as a Buffer's JSON lists them, as hex, base64, text. */
  const jsonLeaks = (shown: string) =>
    [
      [...keyBytes.subarray(0, 8)].join(","),
      [...hmacKey.subarray(0, 8)].join(","),
      keyBytes.toString("hex"),
      TEST_KEY,
      "supersecret",
      "hunter2",
    ].filter((needle) => shown.includes(needle));

  it("a logger, a viewer, an exporter, a Redactor, a PostgresSink and a store source write no key and no password", async () => {
    const sink = new PostgresSink({ connectionString: "postgres://audit:hunter2@127.0.0.1:1/test", connectTimeoutMs: 200, closeTimeoutMs: 200 });
    const logger = new AuditLogger({ projectPath: tmpProject(), encryptSensitiveContent: true, encryptionKey: TEST_KEY, redact: { replacement: "hmac", hmacKey }, sinks: [sink] });
    logger.on("error", () => undefined);
    logger.logChatInteraction({ model: "m", prompt: "the prompt", response: "the response", userId: "u1" });
    const viewer = new AuditViewer({ auditPath: logger.auditDir, encryptionKey: TEST_KEY });
    const exporter = new AuditExporter({ auditPath: logger.auditDir, encryptionKey: TEST_KEY });
    const source = new PostgresRecordSource({ connectionString: "postgres://audit:hunter2@127.0.0.1:1/test" });
    const redactor = new Redactor({ replacement: "hmac", hmacKey });
    for (const [name, o] of [["logger", logger], ["viewer", viewer], ["exporter", exporter], ["sink", sink], ["source", source], ["redactor", redactor]] as const) {
      const shown = JSON.stringify({ audit: o });
      expect(jsonLeaks(shown), `${name}: ${shown.slice(0, 300)}`).toEqual([]);
    }
    expect(leaks(inspect(redactor, { depth: 20 }))).toEqual([]);
    // (what they do write: what inspect shows)
    expect(JSON.parse(JSON.stringify(logger))).toMatchObject({ sessionId: logger.sessionId, auditDir: logger.auditDir });
    expect(JSON.parse(JSON.stringify(sink))).toMatchObject({ store: expect.stringMatching(/^PostgresSink:/) });
    await logger.finalizeSession();
    await source.close();
  });

  it("a password in the connection string's query is not shown either (inspect and JSON)", async () => {
    for (const param of ["password", "sslpassword"]) {
      const url = `postgres://audit@127.0.0.1:1/test?${param}=hunter2&application_name=x`;
      const sink = new PostgresSink({ connectionString: url, connectTimeoutMs: 200, closeTimeoutMs: 200 });
      const source = new PostgresRecordSource({ connectionString: url });
      for (const o of [sink, source]) {
        expect(inspect(o, { depth: 20 })).not.toContain("hunter2");
        expect(JSON.stringify(o)).not.toContain("hunter2");
      }
      await source.close();
    }
  });
});
