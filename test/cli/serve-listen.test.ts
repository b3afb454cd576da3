// `audit-logger serve` that cannot listen says where and what to change, once, with its code.
// (Found by the CLI pass, 2026-12-06: "audit-logger serve: audit-logger serve could not listen on
// …", the command named twice, and an address of no interface of this machine had no fix named.)
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { runCli } from "./helpers.js";

afterAll(cleanupTmp);

describe("audit-logger serve that cannot listen", () => {
  it("a port in use, an address not of this machine: exit 1, AUDIT_ERR_IO, the option to change named, the command once", async () => {
    const projectPath = tmpProject("audit-serve-listen-");
    const logger = new AuditLogger({ sessionId: "s1", projectPath });
    logger.logToolUsage({ toolName: "t", operation: "o" });
    await logger.finalizeSession();
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const inUse = await runCli(["serve", projectPath, "--no-open", "--port", String(port)]);
      expect(inUse.code, inUse.stderr).toBe(1);
      expect(inUse.stderr).toContain(`audit-logger serve: Could not listen on 127.0.0.1:${port}`);
      expect(inUse.stderr).toContain("EADDRINUSE");
      expect(inUse.stderr).toContain("choose another --port");
      expect(inUse.stderr).toContain("[AUDIT_ERR_IO]");
      expect(inUse.stderr.match(/audit-logger serve/g)).toHaveLength(1);
      expect(inUse.stdout).not.toContain("http://");
    } finally {
      taken.close();
    }
    // (192.0.2.1: TEST-NET-1, documentation only, never an address of this machine)
    const notHere = await runCli(["serve", projectPath, "--no-open", "--host", "192.0.2.1"]);
    expect(notHere.code, notHere.stderr).toBe(1);
    expect(notHere.stderr).toContain("audit-logger serve: Could not listen on 192.0.2.1");
    expect(notHere.stderr).toContain("EADDRNOTAVAIL");
    expect(notHere.stderr).toContain("give --host an address of this machine");
    expect(notHere.stderr.match(/audit-logger serve/g)).toHaveLength(1);
    // a --host name that does not resolve (a typo of localhost): the fix named too (until 2026-12-06 none was)
    // (.invalid: a name no resolver answers, RFC 2606)
    const noName = await runCli(["serve", projectPath, "--no-open", "--host", "locahost.invalid"]);
    expect(noName.code, noName.stderr).toBe(1);
    expect(noName.stderr).toContain("audit-logger serve: Could not listen on locahost.invalid");
    expect(noName.stderr).toMatch(/ENOTFOUND|EAI_AGAIN/);
    expect(noName.stderr).toContain("give --host an address of this machine, such as 127.0.0.1");
    expect(noName.stderr).toContain("[AUDIT_ERR_IO]");
  }, 60_000);
});
