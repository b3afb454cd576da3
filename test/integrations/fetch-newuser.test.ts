/**
 * withAuditFetch as an app uses it (the fetch new-user pass, 2026-12-05): real requests to local
 * servers, the records read back from disk.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { REDACTED, withAuditFetch } from "../../integrations/fetch.js";
import { loggerFactory } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

const newLogger = loggerFactory("fetch_newuser");
const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("withAuditFetch, as an app uses it", () => {
  it("a data: URL's content is not recorded, only its media type and length (a base64 image was recorded whole, in url and in operation); a blob: URL's operation keeps its scheme", async () => {
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    // a model's image, turned into bytes with fetch, as apps do
    const image = Buffer.from("PRIVATE-IMAGE-BYTES ".repeat(500));
    const dataUrl = `data:image/png;base64,${image.toString("base64")}`;
    const bytes = Buffer.from(await (await auditedFetch(dataUrl)).arrayBuffer());
    expect(bytes.equals(image)).toBe(true); // the app gets the content
    const blobUrl = URL.createObjectURL(new Blob(["blob content"]));
    try {
      expect(await (await auditedFetch(blobUrl)).text()).toBe("blob content");
    } finally {
      URL.revokeObjectURL(blobUrl);
    }
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect(recs.map((r) => [r.operation, (r.parameters as { url: string }).url, r.success])).toEqual([
      ["GET data:image/png;base64", `data:image/png;base64,[${dataUrl.length - "data:image/png;base64,".length} characters not recorded]`, true],
      [`GET ${blobUrl}`, blobUrl, true],
    ]);
    const text = JSON.stringify(recs);
    expect(text).not.toContain(image.toString("base64").slice(0, 40));
  });

  it("a followed redirect is recorded with the URL that answered, its secrets hidden (the record named only the first URL, as if it had answered)", async () => {
    const storage = await serve((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("the file"));
    const signed = `${storage}/bucket/report.pdf?X-Amz-Credential=AKIAEXAMPLE123&X-Amz-Signature=deadbeefcafe0123&response-content-type=text%2Fplain`;
    const api = await serve((req, res) => {
      if (req.url === "/download") res.writeHead(302, { location: signed }).end();
      else res.writeHead(200).end("direct");
    });
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    const res = await auditedFetch(`${api}/download`);
    expect([res.status, res.redirected, res.url, await res.text()]).toEqual([200, true, signed, "the file"]);
    expect(await (await auditedFetch(`${api}/plain`)).text()).toBe("direct");
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect(recs.map((r) => [r.operation, r.result])).toEqual([
      [
        `GET ${new URL(api).host}/download`,
        {
          status: 200,
          ok: true,
          statusText: "OK",
          redirected: true,
          url: `${storage}/bucket/report.pdf?X-Amz-Credential=${encodeURIComponent(REDACTED)}&X-Amz-Signature=${encodeURIComponent(REDACTED)}&response-content-type=text%2Fplain`,
        },
      ],
      [`GET ${new URL(api).host}/plain`, { status: 200, ok: true, statusText: "OK" }],
    ]);
    expect(JSON.stringify(recs)).not.toMatch(/AKIAEXAMPLE123|deadbeefcafe0123/);
  });

  it("headers fetch refuses (a key with a stray NUL, a name with a space) still leave the URL and method in the record (it said only 'fetch'), the key hidden; the app gets fetch's own error", async () => {
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    const key = "sk-proj-refusedKEY0123456789";
    const url = "http://127.0.0.1:9/v1/embeddings?api_key=queryKEY0123456789";
    const headerSets: Array<Record<string, string>> = [{ authorization: `Bearer ${key}\0`, "content-type": "application/json" }, { "x-api-key": key, "bad name": "v" }];
    for (const headers of headerSets) {
      const unwrapped = await fetch(url, { method: "POST", headers }).then(() => undefined, (e: unknown) => e as Error);
      const wrapped = await auditedFetch(url, { method: "POST", headers }).then(() => undefined, (e: unknown) => e as Error);
      expect(wrapped).toBeInstanceOf(TypeError);
      expect([wrapped!.name, wrapped!.message]).toEqual([unwrapped!.name, unwrapped!.message]);
    }
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect(recs.map((r) => [r.operation, r.parameters, r.success])).toEqual(
      Array(2).fill([
        "POST 127.0.0.1:9/v1/embeddings",
        { url: `http://127.0.0.1:9/v1/embeddings?api_key=${encodeURIComponent(REDACTED)}`, method: "POST", headers: { "[not read]": "headers fetch refuses: see the error" } },
        false,
      ]),
    );
    expect(recs.map((r) => r.errorMessage)).toEqual([`TypeError: Headers.append: "${REDACTED}" is an invalid header value.`, 'TypeError: Headers.append: "bad name" is an invalid header name.']);
    expect(JSON.stringify(recs)).not.toMatch(/refusedKEY|queryKEY/);
  });

  it("an API key in an appid parameter (OpenWeatherMap's, Wolfram|Alpha's) is hidden (it was recorded in clear); app_id stays visible", async () => {
    const api = await serve((_req, res) => res.writeHead(401).end("{}"));
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    const res = await auditedFetch(`${api}/data/2.5/weather?q=London&appid=0123456789abcdef0123456789abcdef&app_id=my-app`);
    expect(res.status).toBe(401);
    const [rec] = await recordsOf(logger, "tool_usage");
    expect((rec!.parameters as { url: string }).url).toBe(`${api}/data/2.5/weather?q=London&appid=${encodeURIComponent(REDACTED)}&app_id=my-app`);
    expect(JSON.stringify(rec)).not.toContain("0123456789abcdef");
  });

  it("a token in the URL path (Telegram's /bot<token>/, a Discord or Slack webhook's) is hidden from url, operation and a failed request's error (it was recorded in clear, in operation even when encrypted); other path secrets take a redact pattern", async () => {
    const api = await serve((_req, res) => res.end("{}"));
    const host = new URL(api).host;
    const TG = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
    const DISCORD = "abcdEFGHijklMNOPqrstUVWXyz0123456789abcdEFGHijklMNOPqrstUVWXyz01";
    const SLACK = "T00000000/B00000000/abcdEFGHijklMNOPqrstUVWX";
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    await auditedFetch(`${api}/bot${TG}/sendMessage?chat_id=42`);
    await auditedFetch(`${api}/api/webhooks/123456789012345678/${DISCORD}`);
    await auditedFetch(`${api}/api/v10/webhooks/123456789012345678/${DISCORD}/messages/1`);
    const refused = await auditedFetch(`${api.replace(/:\d+$/, ":1")}/bot${TG}/getMe`).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    // Slack's webhooks by their host (a fetch of our own answers, as no request leaves the machine)
    await withAuditFetch(async (_input: string) => new Response("ok"), { logger })(`https://hooks.slack.com/services/${SLACK}`);
    // a relative URL (a fetch with a base URL of its own)
    await withAuditFetch(async (_input: string) => new Response("ok"), { logger })(`/bot${TG}/getUpdates`);
    const recs = await recordsOf(logger, "tool_usage", 6);
    expect(recs.map((r) => r.operation)).toEqual([
      `GET ${host}/bot123456789:${REDACTED}/sendMessage`,
      `GET ${host}/api/webhooks/123456789012345678/${REDACTED}`,
      `GET ${host}/api/v10/webhooks/123456789012345678/${REDACTED}/messages/1`,
      `GET 127.0.0.1:1/bot123456789:${REDACTED}/getMe`,
      `GET hooks.slack.com/services/T00000000/B00000000/${REDACTED}`,
      `GET /bot123456789:${REDACTED}/getUpdates`,
    ]);
    expect((recs[0]!.parameters as { url: string }).url).toBe(`${api}/bot123456789:${REDACTED}/sendMessage?chat_id=42`);
    expect(recs[3]!.success).toBe(false);
    const disk = JSON.stringify(recs);
    for (const secret of ["AAHdqTcv", "abcdEFGH"]) expect(disk).not.toContain(secret);
    // a secret of no known shape in a path: a redact pattern of the logger's hides it (docs/INTEGRATIONS.md, fetch)
    const withRule = newLogger({ redact: { patterns: [{ name: "acme_key", pattern: "/keys/(?<secret>[A-Za-z0-9]{24,})" }] } });
    await withAuditFetch(fetch, { logger: withRule })(`${api}/v1/keys/AcmeKey0123456789abcdefXYZ/usage`);
    const [ruled] = await recordsOf(withRule, "tool_usage");
    expect(ruled!.operation).toBe(`GET ${host}/v1/keys/[REDACTED:acme_key]/usage`);
  });

  it("a credential in a path parameter (`;jsessionid=…`, a Java servlet's session in the URL) is hidden from url, operation and a failed request's error, as a query parameter's is (found by the security pass, 2026-12-06: recorded in clear); other path parameters stay", async () => {
    const api = await serve((_req, res) => res.end("{}"));
    const host = new URL(api).host;
    const SID = "A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6";
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    await auditedFetch(`${api}/shop/cart;jsessionid=${SID}?item=7`);
    await auditedFetch(`${api}/map;lat=50;lng=8/tiles;token=${SID}X/1.png`);
    const refused = await auditedFetch(`${api.replace(/:\d+$/, ":1")}/shop/cart;JSESSIONID=${SID}`).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    const recs = await recordsOf(logger, "tool_usage", 3);
    expect(recs.map((r) => r.operation)).toEqual([`GET ${host}/shop/cart;jsessionid=${REDACTED}`, `GET ${host}/map;lat=50;lng=8/tiles;token=${REDACTED}/1.png`, `GET 127.0.0.1:1/shop/cart;JSESSIONID=${REDACTED}`]);
    expect((recs[0]!.parameters as { url: string }).url).toBe(`${api}/shop/cart;jsessionid=${REDACTED}?item=7`);
    expect(JSON.stringify(recs)).not.toContain("A1B2C3D4");
  });

  it("the duration is up to the response's headers (fetch's promise), not its body, which the app reads after; the record is there before the body ends", async () => {
    let finish: () => void = () => {};
    const api = await serve((_req, res) => {
      res.writeHead(200).write("first part");
      finish = () => res.end("rest");
    });
    const logger = newLogger();
    const res = await withAuditFetch(fetch, { logger })(`${api}/slow-body`);
    const [rec] = await recordsOf(logger, "tool_usage"); // (the body not yet ended)
    await new Promise((r) => setTimeout(r, 400));
    finish();
    expect(await res.text()).toBe("first partrest");
    expect(rec).toMatchObject({ success: true, result: { status: 200, ok: true } });
    expect(rec!.durationSeconds as number).toBeLessThan(0.4);
    expect(await recordsOf(logger, "tool_usage")).toHaveLength(1);
  });

  it("a revoked Proxy of a fetch is an AuditConfigError saying it could not be read (it was the Proxy's bare TypeError)", () => {
    const { proxy, revoke } = Proxy.revocable(fetch, {});
    revoke();
    expect(() => withAuditFetch(proxy)).toThrow(expect.objectContaining({ code: "AUDIT_ERR_CONFIG", message: expect.stringMatching(/withAuditFetch\(\) could not read the function it was given \(reading it threw: TypeError: .*revoked/) }));
  });
});
