// Found by a re-review, 2026-12-05: util.inspect / console.log of a logger printed the master
// key's bytes and the hmac redaction key (the AuditConfig alone had been fixed), a viewer's and
// an exporter's the key they open records with, a PostgresSink's the connection string's password.
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { AuditExporter, AuditLogger, AuditViewer } from "../../src/index.js";
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
