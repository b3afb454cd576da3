import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import vm from "node:vm";
import express from "express";
import ky from "ky";
import { Headers as UndiciHeaders, Request as UndiciRequest, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDACTED, withAuditFetch } from "../../integrations/fetch.js";
import { auditContext } from "../../src/context.js";
import { startFakeOpenAI, type FakeOpenAI } from "../helpers/fake-openai.js";
import { TEST_KEY, loggerFactory } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

let fake: FakeOpenAI;
let origin: string;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  origin = new URL(fake.baseURL).origin;
});
afterAll(async () => {
  await fake.close();
});
const newLogger = loggerFactory("fetch_test");

describe("withAuditFetch", () => {
  it("records one ToolUsage per request with secrets redacted, and returns fetch's own Response", async () => {
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    const res = await auditedFetch(`${origin}/v1/chat/completions?api_key=sk-secret-1&model=gpt&token=t0k`, {
      method: "post",
      headers: {
        authorization: "Bearer sk-secret-2",
        "x-api-key": "sk-secret-3",
        cookie: "sid=sk-secret-4",
        "proxy-authorization": "Basic c2VjcmV0",
        "x-custom-token": "sk-secret-5",
        "content-type": "application/json",
      },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [] }),
    });
    expect(res).toBeInstanceOf(Response);
    expect(((await res.json()) as { object: string }).object).toBe("chat.completion");
    expect(fake.requests.at(-1)!.headers.authorization).toBe("Bearer sk-secret-2"); // the request itself is untouched
    const recs = await recordsOf(logger, "tool_usage");
    expect(recs).toHaveLength(1);
    const rec = recs[0]!;
    expect(rec).toMatchObject({
      toolName: "fetch",
      operation: `POST ${new URL(origin).host}/v1/chat/completions`,
      success: true,
      result: { status: 200, ok: true, statusText: "OK" },
      parameters: {
        method: "POST",
        url: `${origin}/v1/chat/completions?api_key=${encodeURIComponent(REDACTED)}&model=gpt&token=${encodeURIComponent(REDACTED)}`,
        headers: {
          authorization: REDACTED,
          "x-api-key": REDACTED,
          cookie: REDACTED,
          "proxy-authorization": REDACTED,
          "x-custom-token": REDACTED,
          "content-type": "application/json",
        },
      },
    });
    expect(rec.durationSeconds).toBeGreaterThan(0);
    expect(JSON.stringify(rec)).not.toMatch(/sk-secret|t0k|c2VjcmV0/);
  });

  it("hides headers by the same word rule as query parameters (X-JWT-Assertion, Cf-Access-Jwt-Assertion, X-Passcode, X-OTP were recorded in clear), and keeps harmless ones", async () => {
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA";
    const secret = {
      "cf-access-jwt-assertion": jwt,
      "x-goog-iap-jwt-assertion": jwt,
      "x-jwt-assertion": jwt,
      "x-passcode": "hunter2hunter2",
      "x-otp": "s3cret-otp-123456",
      "x-pin": "s3cret-pin-4321",
      "x-client-secret": "s3cret-client",
      "x-hub-signature-256": "sha256=s3cret-sig",
      "cookie2": "s3cret-cookie2",
      // (hidden before, and still)
      authorization: "Bearer s3cret-auth",
      cookie: "sid=s3cret-cookie",
      "x-api-key": "s3cret-key",
      "x-auth-token": "s3cret-auth-token",
      "x-amz-security-token": "s3cret-amz",
      "ocp-apim-subscription-key": "s3cret-apim",
      "x-session-id": "s3cret-session",
      "x-webauth-user": "s3cret-webauth",
    };
    const kept = {
      "content-type": "application/json",
      accept: "application/json",
      "user-agent": "audit-test/1.0",
      "x-request-id": "req-42",
      "if-none-match": '"v1"',
      "cache-control": "no-cache",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "anthropic-version": "2023-06-01",
      // (`tokens` is not `token`, as for the max_tokens parameter)
      "x-max-tokens": "256",
    };
    await auditedFetch(`${origin}/v1/models`, { headers: { ...secret, ...kept } });
    // the request itself went with every header as given
    const sent = fake.requests.at(-1)!.headers;
    for (const [name, value] of Object.entries({ ...secret, ...kept })) expect(sent[name]).toBe(value);
    const [rec] = await recordsOf(logger, "tool_usage");
    const headers = (rec!.parameters as { headers: Record<string, string> }).headers;
    expect(headers).toEqual({ ...Object.fromEntries(Object.keys(secret).map((n) => [n, REDACTED])), ...kept });
    expect(JSON.stringify(rec)).not.toMatch(/s3cret|hunter2|eyJhbGci/);
    // and the words headers have, parameters have too (OAuth's client_assertion is a signed JWT)
    const hidden = encodeURIComponent(REDACTED);
    await auditedFetch(`${origin}/v1/models?client_assertion=${jwt}&pin=s3cret-1&passcode=s3cret-2&cookie=s3cret-3&totp=s3cret-4&page=2&max_tokens=8`);
    const [, withQuery] = await recordsOf(logger, "tool_usage", 2);
    expect((withQuery!.parameters as { url: string }).url).toBe(`${origin}/v1/models?client_assertion=${hidden}&pin=${hidden}&passcode=${hidden}&cookie=${hidden}&totp=${hidden}&page=2&max_tokens=8`);
  });

  it("hides plural one-time code names (otps, passcodes, totps, hotps, recovery_codes) in headers and parameters, as the text rules do (they were recorded in clear)", async () => {
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    const secret = { "x-otps": "s3cret-h1", "x-passcodes": "s3cret-h2", "x-totps": "s3cret-h3", "x-hotps": "s3cret-h4", "x-recovery-codes": "s3cret-h5", "x-backup-codes": "s3cret-h6" };
    await auditedFetch(`${origin}/v1/models?otps=s3cret-q1&passcodes=s3cret-q2&totps=s3cret-q3&hotps=s3cret-q4&recovery_codes=s3cret-q5&recoveryCodes=s3cret-q6&page=2`, { headers: { ...secret, accept: "application/json" } });
    // the request went as given
    expect(fake.requests.at(-1)!.headers["x-recovery-codes"]).toBe("s3cret-h5");
    await logger.flush();
    const file = path.join(logger.auditDir, `tool_usage_${logger.sessionId}.jsonl`);
    const onDisk = fs.readFileSync(file, "utf8");
    expect(onDisk).not.toMatch(/s3cret/);
    const [rec] = await recordsOf(logger, "tool_usage");
    const params = rec!.parameters as { url: string; headers: Record<string, string> };
    expect(params.headers).toEqual({ ...Object.fromEntries(Object.keys(secret).map((n) => [n, REDACTED])), accept: "application/json" });
    const hidden = encodeURIComponent(REDACTED);
    expect(params.url).toBe(`${origin}/v1/models?otps=${hidden}&passcodes=${hidden}&totps=${hidden}&hotps=${hidden}&recovery_codes=${hidden}&recoveryCodes=${hidden}&page=2`);
  });

  it("takes headers from a Request, lets init.headers replace them, and honours redactHeaders", async () => {
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger, redactHeaders: ["x-tenant", /^x-internal-/] });
    await auditedFetch(new Request(`${origin}/v1/models`, { headers: { "x-tenant": "acme", "x-internal-id": "42", accept: "application/json" } }));
    await auditedFetch(new Request(`${origin}/v1/models`, { headers: { "x-tenant": "acme" } }), { headers: { accept: "text/plain" } });
    // Node's fetch refuses URLs with credentials; the failed attempt is recorded without them
    const refused = await auditedFetch(`http://user:pa55@${new URL(origin).host}/x`).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    const [fromRequest, replaced, withUserinfo] = await recordsOf(logger, "tool_usage", 3);
    expect(fromRequest!.parameters).toEqual({
      url: `${origin}/v1/models`,
      method: "GET",
      headers: { "x-tenant": REDACTED, "x-internal-id": REDACTED, accept: "application/json" },
    });
    expect(fromRequest).toMatchObject({ success: false, errorMessage: "HTTP 404", result: { status: 404, ok: false } });
    expect((replaced!.parameters as { headers: unknown }).headers).toEqual({ accept: "text/plain" });
    expect(withUserinfo).toMatchObject({ success: false, parameters: { url: `http://${encodeURIComponent(REDACTED)}:${encodeURIComponent(REDACTED)}@${new URL(origin).host}/x` } });
    expect(JSON.stringify(withUserinfo)).not.toContain("pa55");
  });

  it("a 3xx answer (304 Not Modified, a manual redirect's 302) is recorded as a success with its status and ok: false (it was a failure, 'HTTP 304'); 4xx, 5xx and a network error's Response stay failures", async () => {
    const server = http.createServer((req, res) => {
      if (req.url === "/etag") {
        if (req.headers["if-none-match"] === '"v1"') res.writeHead(304).end();
        else res.writeHead(200, { etag: '"v1"' }).end("data");
      } else if (req.url === "/moved") res.writeHead(302, { location: "/etag" }).end();
      else if (req.url === "/boom") res.writeHead(500).end("boom");
      else res.writeHead(404).end("nothing");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    try {
      const got = [
        await auditedFetch(`${base}/etag`, { headers: { "if-none-match": '"v1"' } }),
        await auditedFetch(`${base}/moved`, { redirect: "manual" }),
        await auditedFetch(`${base}/moved`),
        await auditedFetch(`${base}/missing`),
        await auditedFetch(`${base}/boom`),
      ];
      // the app gets what fetch gives
      expect(got.map((r) => [r.status, r.ok])).toEqual([[304, false], [302, false], [200, true], [404, false], [500, false]]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    // a fetch-like function's Responses with status 0: a network error's (a failure) and a
    // browser's opaque redirect for redirect: "manual" (an answer)
    const opaqueRedirect = { type: "opaqueredirect", status: 0, ok: false, statusText: "" };
    await withAuditFetch(async (_url: string) => Response.error(), { logger })("https://example.test/error");
    await withAuditFetch(async (_url: string) => opaqueRedirect as unknown as Response, { logger })("https://example.test/opaque");
    const recs = await recordsOf(logger, "tool_usage", 7);
    expect(recs.map((r) => [r.operation, r.success, r.errorMessage, r.result])).toEqual([
      [`GET ${new URL(base).host}/etag`, true, undefined, { status: 304, ok: false, statusText: "Not Modified" }],
      [`GET ${new URL(base).host}/moved`, true, undefined, { status: 302, ok: false, statusText: "Found" }],
      [`GET ${new URL(base).host}/moved`, true, undefined, { status: 200, ok: true, statusText: "OK", redirected: true, url: `${base}/etag` }],
      [`GET ${new URL(base).host}/missing`, false, "HTTP 404", { status: 404, ok: false, statusText: "Not Found" }],
      [`GET ${new URL(base).host}/boom`, false, "HTTP 500", { status: 500, ok: false, statusText: "Internal Server Error" }],
      ["GET example.test/error", false, "HTTP 0", { status: 0, ok: false }],
      ["GET example.test/opaque", true, undefined, { status: 0, ok: false }],
    ]);
  });

  it("a failed request is recorded once and its original error rethrown", async () => {
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    const bare = await fetch("http://127.0.0.1:1/unreachable").catch((e: unknown) => e);
    const err = await auditedFetch("http://127.0.0.1:1/unreachable").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe((bare as Error).message);
    const bad = await auditedFetch("not a url").catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(TypeError);
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ success: false, operation: "GET 127.0.0.1:1/unreachable", errorMessage: expect.stringContaining("fetch failed") });
    expect(recs[0]).not.toHaveProperty("result");
    expect(recs[1]).toMatchObject({ success: false, operation: "GET not a url" });
  });

  it("an error of another realm (a vm context's fetch) is recorded as an error, with its cause, as one of this realm is", async () => {
    const logger = newLogger();
    const make = (): unknown =>
      vm.runInNewContext("(() => { const e = new TypeError('fetch failed'); e.cause = new Error('connect ECONNREFUSED 127.0.0.1:1'); return e })()");
    const local = Object.assign(new TypeError("fetch failed"), { cause: new Error("connect ECONNREFUSED 127.0.0.1:1") });
    const foreign = make();
    expect(foreign instanceof Error).toBe(false);
    for (const thrown of [local, foreign]) {
      const auditedFetch = withAuditFetch((() => Promise.reject(thrown)) as typeof fetch, { logger });
      expect(await auditedFetch("http://127.0.0.1:1/x").catch((e: unknown) => e)).toBe(thrown);
    }
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect(recs.map((r) => r.errorMessage)).toEqual(["TypeError: fetch failed (connect ECONNREFUSED 127.0.0.1:1)", "TypeError: fetch failed (connect ECONNREFUSED 127.0.0.1:1)"]);
  });

  it("wrapping twice records once (the audited fetch is returned as it is)", async () => {
    const logger = newLogger();
    const once = withAuditFetch(fetch, { logger });
    const twice = withAuditFetch(once, { logger });
    expect(twice).toBe(once);
    const res = await twice(`${origin}/v1/models`);
    expect(res.status).toBe(404);
    const recs = await recordsOf(logger, "tool_usage", 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ toolName: "fetch", operation: "GET 127.0.0.1:" + new URL(origin).port + "/v1/models", result: { status: 404 } });
  });

  it("wrapping an audited fetch again with headers to hide, or another logger, honours them and still records once (they were ignored: the header was recorded in clear)", async () => {
    // found by review, 2026-12-04
    const logger = newLogger();
    const other = newLogger();
    const lib = withAuditFetch(fetch, { logger }); // a library's audited fetch
    const app = withAuditFetch(lib, { logger, redactHeaders: ["X-Internal-Pin"] });
    expect(withAuditFetch(app, { redactHeaders: ["x-internal-pin"] })).toBe(app); // nothing new
    const more = withAuditFetch(app, { redactHeaders: [/^x-tenant-/] });
    const elsewhere = withAuditFetch(lib, { logger: other });
    const headers = { "x-internal-pin": "PIN-99887766", "x-tenant-ref": "T-4242-secret", "x-plain": "visible" };
    await (await app(`${origin}/v1/models`, { headers })).text();
    await (await more(`${origin}/v1/models`, { headers })).text();
    await (await lib(`${origin}/v1/models`, { headers })).text();
    await (await elsewhere(`${origin}/v1/models`, { headers })).text();
    const recs = await recordsOf(logger, "tool_usage", 3);
    expect(recs).toHaveLength(3); // one per request: app, more, lib
    expect(recs.map((r) => (r.parameters as { headers: Record<string, string> }).headers["x-internal-pin"]).slice(0, 2)).toEqual([REDACTED, REDACTED]);
    expect(recs.map((r) => (r.parameters as { headers: Record<string, string> }).headers["x-tenant-ref"]).slice(0, 2)).toEqual(["T-4242-secret", REDACTED]);
    expect((recs[0]!.parameters as { headers: Record<string, string> }).headers["x-plain"]).toBe("visible");
    // another logger given: the records of that wrap go there, once
    const elsewhereRecs = await recordsOf(other, "tool_usage", 1);
    expect(elsewhereRecs).toHaveLength(1);
    expect(elsewhereRecs[0]).toMatchObject({ toolName: "fetch", result: { status: 404 } });
    expect(app).not.toBe(lib); // (the library's audited fetch is left as it was)
  });

  it("hides credentials by many names, in the query, in the fragment and in relative URLs, from the url, the operation and errors", async () => {
    const logger = newLogger();
    const custom = Object.assign(
      async (input: string | URL | Request, _init?: RequestInit): Promise<Response> => {
        if (String(input).includes("fail")) throw new TypeError(`cannot fetch ${String(input)}`);
        return new Response("ok");
      },
      { preconnect: (_url: string) => undefined, flavour: "custom" },
    );
    const audited = withAuditFetch(custom, { logger });
    // the function's own members stay
    expect(audited.preconnect).toBe(custom.preconnect);
    expect(audited.flavour).toBe("custom");
    const names = ["private_token", "api_token", "auth_token", "x-api-key", "access_key", "oauth_token", "oauth_signature", "hapikey", "secret_key", "X-Amz-Signature", "sig", "key", "accessToken", "apiKey", "refreshToken", "sessionToken", "clientSecret", "bearer", "jwt", "id_token", "openai_key", "auth_key", "subscription-key", "app_key", "license_key", "authtoken", "credentials", "jsessionid", "sessionKey"];
    const query = names.map((n, i) => `${n}=s3cret-${i}`).join("&");
    await audited(`https://api.example.test/v1/items?${query}&page=2#access_token=s3cret-frag&state=xyz`, {
      headers: { "x-functions-key": "s3cret-h1", "dd-application-key": "s3cret-h2", "x-request-id": "visible-id", accept: "application/json" },
    });
    await audited("/v1/items?api_key=s3cret-rel&page=3&max_tokens=8080&token_type=bearer&sort_key=name&country_code=fr");
    await expect(audited("/v1/fail?token=s3cret-err&max_tokens=8080")).rejects.toThrow(TypeError);
    const recs = await recordsOf(logger, "tool_usage", 3);
    expect(JSON.stringify(recs)).not.toContain("s3cret");
    const [abs, rel, failed] = recs as Array<{ operation: string; parameters: { url: string; headers: Record<string, string> }; errorMessage?: string }>;
    const u = new URL(abs!.parameters.url);
    for (const n of names) expect(u.searchParams.get(n)).toBe(REDACTED);
    expect(u.searchParams.get("page")).toBe("2");
    expect(new URLSearchParams(u.hash.slice(1)).get("state")).toBe("xyz");
    expect(abs!.parameters.headers).toMatchObject({ "x-functions-key": REDACTED, "dd-application-key": REDACTED, "x-request-id": "visible-id", accept: "application/json" });
    // names read word by word: `tokens` is not `token` (max_tokens stays visible); `token_type`,
    // `sort_key` and `country_code` have a secret's word, and the rule errs on the side of hiding
    const hidden = encodeURIComponent(REDACTED);
    expect(rel).toMatchObject({ operation: "GET /v1/items", parameters: { url: `/v1/items?api_key=${hidden}&page=3&max_tokens=8080&token_type=${hidden}&sort_key=${hidden}&country_code=${hidden}` } });
    expect(failed).toMatchObject({ operation: "GET /v1/fail", success: false });
    expect(failed!.errorMessage).toContain(REDACTED);
    expect(failed!.errorMessage).toContain("max_tokens=8080"); // only secrets are cut from messages
  });

  it("the other parameters of a URL whose secret is hidden are recorded as written (re-encoding the query made a%20b a+b, a~b a%7Eb)", async () => {
    const logger = newLogger();
    const audited = withAuditFetch((async () => new Response("ok")) as typeof fetch, { logger });
    const hidden = encodeURIComponent(REDACTED);
    await audited("https://api.example.test/v1/search?q=a%20b&path=a~b&api_key=s3cret-1&tags=x,y&empty#section=a%20b&access_token=s3cret-2");
    await audited("/v1/search?q=caf%C3%A9+au+lait&token=s3cret-3&n=1");
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect(JSON.stringify(recs)).not.toContain("s3cret");
    expect(recs.map((r) => (r.parameters as { url: string }).url)).toEqual([
      `https://api.example.test/v1/search?q=a%20b&path=a~b&api_key=${hidden}&tags=x,y&empty#section=a%20b&access_token=${hidden}`,
      `/v1/search?q=caf%C3%A9+au+lait&token=${hidden}&n=1`,
    ]);
  });

  it("redactHeaders patterns hide their header on every request, whatever their flags and the name's case", async () => {
    const logger = newLogger();
    const custom = async (_input: string | URL | Request, _init?: RequestInit): Promise<Response> => new Response("ok");
    // (one header per request: a /g pattern's lastIndex is reset by any name it fails on)
    const global = withAuditFetch(custom, { logger, redactHeaders: [/^x-tenant-zone$/g] });
    const upper = withAuditFetch(custom, { logger, redactHeaders: [/^X-Org-Region$/, "X-Named"] });
    for (let i = 0; i < 3; i++) {
      await global("https://example.test/a", { headers: { "X-Tenant-Zone": `zone-000${i}` } });
      await upper("https://example.test/b", { headers: { "x-org-region": `region-${i}`, "x-named": `named-${i}` } });
    }
    const recs = await recordsOf(logger, "tool_usage", 6);
    expect(JSON.stringify(recs)).not.toMatch(/zone-000|region-\d|named-\d/);
    const headers = recs.map((r) => (r.parameters as { headers: Record<string, string> }).headers);
    expect(headers.filter((h) => h["x-tenant-zone"] === REDACTED)).toHaveLength(3);
    expect(headers.filter((h) => h["x-org-region"] === REDACTED && h["x-named"] === REDACTED)).toHaveLength(3);
  });

  it("headers given as an iterable fetch reads once reach fetch untouched (the record says they were not read); a Map or pairs are read", async () => {
    const logger = newLogger();
    const seen: Array<string | null> = [];
    const inits: unknown[] = [];
    const custom = async (_input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      inits.push(init);
      seen.push(new Headers(init?.headers).get("authorization"));
      return new Response("ok");
    };
    const audited = withAuditFetch(custom, { logger });
    const map = new Map([["authorization", "Bearer sk-1"]]);
    const source = map.entries();
    const oneShot = { method: "POST", headers: source as unknown as RequestInit["headers"] };
    // a wrapper whose iterator is new each time, over a source that is not
    const once = (function* () {
      yield ["authorization", "Bearer sk-1"];
    })();
    const wrapper = { method: "POST", headers: { [Symbol.iterator]: () => once } as unknown as RequestInit["headers"] };
    const mapInit = { headers: map as unknown as RequestInit["headers"] };
    const pairs = { headers: [["authorization", "Bearer sk-1"]] as RequestInit["headers"] };
    for (const init of [oneShot, wrapper, mapInit, pairs]) await audited("https://example.test/a", init);
    expect(seen).toEqual(["Bearer sk-1", "Bearer sk-1", "Bearer sk-1", "Bearer sk-1"]);
    for (let i = 0; i < 4; i++) expect(inits[i]).toBe([oneShot, wrapper, mapInit, pairs][i]);
    const recs = await recordsOf(logger, "tool_usage", 4);
    const headers = recs.map((r) => (r.parameters as { headers: Record<string, string> }).headers);
    expect(headers.slice(0, 2).every((h) => Object.keys(h).join() === "[not read]")).toBe(true);
    expect(headers.slice(2)).toEqual([{ authorization: REDACTED }, { authorization: REDACTED }]);
  });

  it("a network-path URL (//user:pass@host/path) has its credentials hidden from the url and the operation", async () => {
    const logger = newLogger();
    const custom = async (_input: string | URL | Request, _init?: RequestInit): Promise<Response> => new Response("ok");
    const audited = withAuditFetch(custom, { logger });
    await audited("//alice:s3cretpw@example.test/path?x=1");
    // (what URL parsing reads the same way: leading whitespace, a tab between the slashes)
    await audited(" //alice:s3cretpw@example.test/p");
    await audited("/\t/alice:s3cretpw@example.test/p");
    const [rec, ...others] = await recordsOf(logger, "tool_usage", 3);
    expect(JSON.stringify(others)).not.toMatch(/s3cretpw|alice/);
    expect(JSON.stringify(rec)).not.toMatch(/s3cretpw|alice/);
    expect(rec).toMatchObject({ operation: "GET example.test/path", parameters: { url: `//${encodeURIComponent(REDACTED)}:${encodeURIComponent(REDACTED)}@example.test/path?x=1` } });
  });

  it("hides credentials that hold a malformed %-escape (a literal '%' in a password), from the url, the operation and the error", async () => {
    const logger = newLogger();
    const custom = async (_input: string | URL | Request, _init?: RequestInit): Promise<Response> => new Response("ok");
    await withAuditFetch(custom, { logger })("https://alice:50%off-SECRETPW@api.example.test/v1/items?api_key=SECRETKEY1&x=1");
    await withAuditFetch(custom, { logger })("//bob%zz:pw@api.example.test/p?token=SECRETKEY2");
    // Node's fetch refuses credentials in a URL, and its error message quotes the URL
    const refused = await withAuditFetch(fetch, { logger })("http://carol:p%zzSECRETPW3@127.0.0.1:9/x?access_token=SECRETKEY3").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TypeError);
    const recs = await recordsOf(logger, "tool_usage", 3);
    expect(JSON.stringify(recs)).not.toMatch(/SECRETPW|SECRETKEY|alice|bob%zz|carol/);
    expect(recs[0]).toMatchObject({ operation: "GET api.example.test/v1/items", parameters: { url: `https://${encodeURIComponent(REDACTED)}:${encodeURIComponent(REDACTED)}@api.example.test/v1/items?api_key=${encodeURIComponent(REDACTED)}&x=1` } });
    expect(recs[2]).toMatchObject({ success: false, errorMessage: expect.stringContaining("127.0.0.1:9") });
  });

  it("a URL that does not parse keeps its credentials hidden (they were recorded as given, in the url, the operation and fetch's error); a secret written with + or / is hidden from the error as written", async () => {
    const logger = newLogger();
    const audited = withAuditFetch(fetch, { logger });
    // fetch rejects each of these, quoting the URL in its error
    for (const url of ["https://api.example.test:99999/v1/x?api_key=SECRET1&page=2", "https://api.exa mple.test/v1/x?access_token=SECRET2#k", "https://bob:SECRET3@api.example.test/x?token=SECRET4+a/b"]) {
      expect(await audited(url).catch((e: unknown) => e)).toBeInstanceOf(TypeError);
    }
    const recs = await recordsOf(logger, "tool_usage", 3);
    expect(JSON.stringify(recs)).not.toMatch(/SECRET|bob/);
    const hidden = encodeURIComponent(REDACTED);
    expect(recs[0]).toMatchObject({ success: false, operation: `GET https://api.example.test:99999/v1/x?api_key=${hidden}&page=2`, parameters: { url: `https://api.example.test:99999/v1/x?api_key=${hidden}&page=2` } });
    expect(recs[1]).toMatchObject({ parameters: { url: `https://api.exa mple.test/v1/x?access_token=${hidden}#k` } });
    expect(String(recs[0]!.errorMessage)).toContain("api.example.test:99999");
  });

  it("credentials in URLs that do not parse, or have no scheme, stay hidden however they are written: a password holding / ? # or :, backslashes or no slashes, a user that begins the password, a stray % in a parameter's name", async () => {
    const logger = newLogger();
    const audited = withAuditFetch(fetch, { logger });
    const cases: Array<[string, string]> = [
      ["https://user:ab/cdSECRETPW1@example.test/x", "SECRETPW1"],
      ["https://user:ab?cdSECRETPW2@example.test/x", "SECRETPW2"],
      ["https://user:ab#cdSECRETPW3@example.test/x", "SECRETPW3"],
      ["https://u:SE:CR:ET4@exa mple.test/", "SE:CR:ET4"],
      ["https:\\\\user:SECRETPW5@exa mple.test/", "SECRETPW5"],
      ["https:user:SECRETPW6@exa mple.test/", "SECRETPW6"],
      ["https://admin:admin123SECRET7@exa mple.test/", "123SECRET7"],
      ["https://exa mple.test/?api%5Fkey%=SECRETQ8", "SECRETQ8"],
      ["admin:SECRETPW9@db.example.test/x", "SECRETPW9"],
      ["a_b:SECRETPW10@db.example.test/x", "SECRETPW10"],
      // no scheme, and a password holding / ? or \ (it was recorded as written)
      ["admin:ab/SECRETPW11@db.example.test/x", "SECRETPW11"],
      ["admin:ab?SECRETPW12@db.example.test/x", "SECRETPW12"],
      ["admin:ab\\SECRETPW13@db.example.test/x", "SECRETPW13"],
    ];
    for (const [url] of cases) expect(await audited(url).catch((e: unknown) => e)).toBeInstanceOf(TypeError);
    const recs = await recordsOf(logger, "tool_usage", cases.length);
    recs.forEach((rec, i) => expect(JSON.stringify(rec), cases[i]![0]).not.toContain(cases[i]![1]));
    expect(recs[0]).toMatchObject({ parameters: { url: `https://${REDACTED}@example.test/x` } });
  });

  it("credentials in any URL an error quotes are hidden, also ones the fetch function added (ky's searchParams) and passwords of one or two characters", async () => {
    const logger = newLogger();
    // a ky-like fetch: builds the URL from its options, and quotes it when the request fails
    const kyLike = (input: string, init?: { searchParams?: Record<string, string> }): Promise<Response> =>
      Promise.reject(new Error(`Request failed with status code 401 Unauthorized: GET ${input}?${new URLSearchParams(init?.searchParams ?? {}).toString()}`));
    const audited = withAuditFetch(kyLike, { logger });
    await expect(audited("https://api.example.test/v1/items", { searchParams: { api_key: "KYSECRET1", page: "2" } })).rejects.toThrow(/401/);
    await expect(withAuditFetch(fetch, { logger })("https://u:ab@exa mple.test/")).rejects.toThrow(TypeError);
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect(String(recs[0]!.errorMessage)).toBe(`Error: Request failed with status code 401 Unauthorized: GET https://api.example.test/v1/items?api_key=${encodeURIComponent(REDACTED)}&page=2`);
    expect(String(recs[1]!.errorMessage)).toContain("exa mple.test");
    expect(String(recs[1]!.errorMessage)).not.toContain("u:ab@");
  });

  it("an object that only calls itself a Headers (its iterator works once) reaches fetch untouched; one that only calls itself a Request is recorded as what fetch makes of it", async () => {
    const logger = newLogger();
    const audited = withAuditFetch(fetch, { logger });
    let reads = 0;
    const onceHeaders = {
      [Symbol.toStringTag]: "Headers",
      *[Symbol.iterator]() {
        if (reads++ === 0) yield* [["x-a", "1"] as [string, string]];
      },
    };
    await audited(`${origin}/v1/once`, { headers: onceHeaders as unknown as Headers });
    expect(fake.requests.at(-1)!.headers["x-a"]).toBe("1");
    const requestLike = { [Symbol.toStringTag]: "Request", url: `${origin}/v1/plain`, method: "POST", toString: () => `${origin}/v1/str` };
    await audited(requestLike as unknown as Request);
    expect(fake.requests.at(-1)).toMatchObject({ method: "GET", path: "/v1/str" });
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect((recs[0]!.parameters as { headers: unknown }).headers).toEqual({ "[not read]": expect.any(String) });
    expect(recs[1]).toMatchObject({ parameters: { url: `${origin}/v1/str`, method: "GET" } });
  });

  it("a Request and Headers of the undici package (not the global classes) are read as fetch reads them (a Request was recorded as 'GET [object Request]'); a lowercase method fetch sends as written is recorded as written", async () => {
    const logger = newLogger();
    const audited = withAuditFetch(undiciFetch as unknown as typeof fetch, { logger });
    const host = new URL(origin).host;
    await audited(new UndiciRequest(`${origin}/v1/items/7`, { method: "DELETE", headers: { authorization: "Bearer sk-undici-1", "x-trace": "t1" } }) as unknown as Request);
    await audited(`${origin}/v1/h`, { headers: new UndiciHeaders({ "x-trace": "t2" }) as unknown as Headers });
    await withAuditFetch(fetch, { logger })(`${origin}/v1/p`, { method: "patch" });
    await withAuditFetch(fetch, { logger })(`${origin}/v1/d`, { method: "delete" });
    const recs = await recordsOf(logger, "tool_usage", 4);
    // (the server's HTTP parser refuses the lowercase `patch` as sent, with a 400, before any handler)
    expect(fake.requests.slice(-3).map((r) => `${r.method} ${r.path}`)).toEqual(["DELETE /v1/items/7", "GET /v1/h", "DELETE /v1/d"]);
    expect(recs[2]).toMatchObject({ result: { status: 400 }, parameters: { method: "patch" } });
    expect(recs.map((r) => r.operation)).toEqual([`DELETE ${host}/v1/items/7`, `GET ${host}/v1/h`, `patch ${host}/v1/p`, `DELETE ${host}/v1/d`]);
    expect(recs[0]!.parameters).toEqual({ url: `${origin}/v1/items/7`, method: "DELETE", headers: { authorization: REDACTED, "x-trace": "t1" } });
    expect((recs[1]!.parameters as { headers: unknown }).headers).toEqual({ "x-trace": "t2" });
    expect(JSON.stringify(recs)).not.toContain("sk-undici");
  });

  it("ky wrapped: its method members and the clients create()/extend() make are recorded too (they were copied unwrapped: their requests went unrecorded); name and length kept", async () => {
    const logger = newLogger();
    const audited = withAuditFetch(ky, { logger });
    const host = new URL(origin).host;
    const opts = { throwHttpErrors: false } as const;
    expect((await audited.get(`${origin}/v1/a`, { ...opts, searchParams: { page: 2 } })).status).toBe(404);
    await audited.post(`${origin}/v1/b`, { ...opts, json: { x: 1 }, headers: { authorization: "Bearer sk-ky-1" } }).text();
    await audited.extend({ prefixUrl: `${origin}/v1`, ...opts }).patch("c");
    await audited.create({ prefixUrl: `${origin}/v1`, ...opts }).delete("d", { method: "put" }); // (ky sends DELETE: the member's method wins)
    await audited(`${origin}/v1/e`, opts);
    const recs = await recordsOf(logger, "tool_usage", 5);
    expect(fake.requests.slice(-5).map((r) => `${r.method} ${r.path}`)).toEqual(["GET /v1/a", "POST /v1/b", "PATCH /v1/c", "DELETE /v1/d", "GET /v1/e"]);
    expect(recs.map((r) => r.operation)).toEqual([`GET ${host}/v1/a`, `POST ${host}/v1/b`, "PATCH c", "DELETE d", `GET ${host}/v1/e`]);
    expect(JSON.stringify(recs)).not.toContain("sk-ky-1");
    expect([audited.name, audited.length, audited.get.length, withAuditFetch(fetch, { logger }).length]).toEqual([ky.name, ky.length, ky.get.length, fetch.length]);
  });

  it("members named get or delete of a function that is not shaped as ky stay as they are (they were wrapped: a sync result became a promise, and recorded)", async () => {
    const logger = newLogger();
    const store = new Map([["k", "v"]]);
    const custom = Object.assign((input: string) => fetch(input), { get: (k: string) => store.get(k), delete: (k: string) => store.delete(k) });
    const audited = withAuditFetch(custom, { logger });
    expect(audited.get("k")).toBe("v");
    expect(audited.delete("missing")).toBe(false);
    await audited(`${origin}/v1/x`);
    const recs = await recordsOf(logger, "tool_usage", 1);
    expect(recs.map((r) => r.operation)).toEqual([`GET ${new URL(origin).host}/v1/x`]);
  });

  it("a data: URL holding @ (its content not recorded: see fetch-newuser.test.ts), and an IPv6 URL an error quotes, are not taken for credentials (they were cut)", async () => {
    const logger = newLogger();
    const dataUrl = "data:text/plain,mail%20bob@example.com";
    expect(await (await withAuditFetch(fetch, { logger })(dataUrl)).text()).toBe("mail bob@example.com");
    const failing = (input: string): Promise<Response> => Promise.reject(new Error(`upstream ${input} failed`));
    await expect(withAuditFetch(failing, { logger })("http://[::1]:8080/users/bob@example.com")).rejects.toThrow(/upstream/);
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect(recs[0]).toMatchObject({ operation: "GET data:text/plain", parameters: { url: "data:text/plain,[22 characters not recorded]" } });
    expect(recs[1]!.errorMessage).toBe("Error: upstream http://[::1]:8080/users/bob@example.com failed");
  });

  it("a fetch-like function's promise keeps the members it added (ky-style .json()); a Promise subclass is returned as it is", async () => {
    const logger = newLogger();
    const kyLike = (url: string) => {
      const p = Promise.resolve(new Response(JSON.stringify({ url }), { status: 200 })) as Promise<Response> & { json(): Promise<unknown> };
      p.json = async () => (await p).json();
      return p;
    };
    const audited = withAuditFetch(kyLike, { logger });
    expect(await audited("https://example.test/ky").json()).toEqual({ url: "https://example.test/ky" });
    class ResponsePromise<T> extends Promise<T> {
      text(): Promise<string> {
        return this.then((r) => (r as unknown as Response).text());
      }
    }
    const made: unknown[] = [];
    const custom = (_url: string) => {
      const p = new ResponsePromise<Response>((resolve) => resolve(new Response("sub", { status: 201 })));
      made.push(p);
      return p;
    };
    const p = withAuditFetch(custom, { logger })("https://example.test/sub");
    expect(p).toBe(made[0]);
    expect(await p.text()).toBe("sub");
    // a failure handled through such a member (ky's .json() awaits its own promise, never the one
    // returned) is no unhandled rejection (it crashed the process); a response whose getters
    // throw reaches the caller as it is, by either path, and is recorded without those fields
    const failing = (_url: string) => {
      const p = Promise.reject(new Error("HTTPError: 404")) as Promise<Response> & { json(): Promise<unknown> };
      p.json = async () => (await p).json();
      return p;
    };
    const odd = { get status(): number { throw new Error("status unreadable"); } };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    let caught: unknown;
    let oddNative: unknown;
    let oddSub: unknown;
    try {
      try {
        await withAuditFetch(failing, { logger })("https://example.test/404").json();
      } catch (e) {
        caught = e;
      }
      oddNative = await withAuditFetch(async (_url: string) => odd as unknown as Response, { logger })("https://example.test/odd");
      oddSub = await withAuditFetch((_url: string) => new ResponsePromise<Response>((resolve) => resolve(odd as unknown as Response)), { logger })("https://example.test/odd-sub");
      // a fetch function that returns a revoked Proxy: the audited one still returns a promise
      // (it threw synchronously), which rejects as awaiting the proxy does
      const revoked = Proxy.revocable({}, {});
      revoked.revoke();
      const fromRevoked = withAuditFetch((_url: string) => revoked.proxy as unknown as Promise<Response>, { logger })("https://example.test/revoked");
      await expect(fromRevoked).rejects.toThrow(TypeError);
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(caught).toEqual(expect.objectContaining({ message: "HTTPError: 404" }));
    expect(oddNative).toBe(odd);
    expect(oddSub).toBe(odd);
    expect(unhandled).toEqual([]);
    const recs = await recordsOf(logger, "tool_usage", 6);
    expect(recs.map((r) => [r.operation, r.success, r.result])).toEqual([
      ["GET example.test/ky", true, { status: 200, ok: true }],
      ["GET example.test/sub", true, { status: 201, ok: true }],
      ["GET example.test/404", false, undefined],
      ["GET example.test/odd", true, { status: null, ok: false }],
      ["GET example.test/odd-sub", true, { status: null, ok: false }],
      ["GET example.test/revoked", false, undefined],
    ]);
  });

  it("a call whose result is not a promise returns it as it is, synchronously, and is recorded (it became a promise of it: withAuditFetch(express)() gave a promise, not an app)", async () => {
    const logger = newLogger();
    // (a function that is no fetch: what withAudit gave to withAuditFetch, an Express app factory)
    const makeApp = withAuditFetch(express as unknown as (input: never) => Promise<unknown>, { logger }) as unknown as typeof express;
    const app = makeApp();
    expect(app).not.toBeInstanceOf(Promise);
    app.get("/ping", (_req, res) => void res.send("pong"));
    const server = app.listen(0, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    try {
      expect(await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`)).text()).toBe("pong");
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    const plain = { status: 201, ok: true };
    const syncFetch = withAuditFetch(((_url: string) => plain) as unknown as (input: string) => Promise<Response>, { logger });
    expect(syncFetch("https://example.test/sync")).toBe(plain);
    expect(withAuditFetch(((_url: string) => 42) as unknown as (input: string) => Promise<unknown>, { logger })("https://example.test/n")).toBe(42);
    const recs = await recordsOf(logger, "tool_usage", 3);
    expect(recs.map((r) => [r.operation, r.success, r.result])).toEqual([
      ["GET undefined", true, { status: null, ok: false }],
      ["GET example.test/sync", true, { status: 201, ok: true }],
      ["GET example.test/n", true, { status: null, ok: false }],
    ]);
  });

  it("keeps the signature and this; a custom fetch gets the same arguments", async () => {
    const logger = newLogger();
    const calls: unknown[][] = [];
    const custom = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      calls.push([input, init]);
      return new Response("hi", { status: 201 });
    };
    const audited = withAuditFetch(custom, { logger });
    const init = { method: "PUT" };
    const res = await audited("https://example.test/a", init);
    expect(await res.text()).toBe("hi");
    expect(calls).toEqual([["https://example.test/a", init]]);
    const [rec] = await recordsOf(logger, "tool_usage");
    expect(rec).toMatchObject({ operation: "PUT example.test/a", result: { status: 201, ok: true } });
  });

  it("encrypts parameters and result when the logger encrypts", async () => {
    const logger = newLogger({ encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    await withAuditFetch(fetch, { logger })(`${origin}/v1/models?q=1`);
    const [rec] = await recordsOf(logger, "tool_usage");
    expect(rec!.encrypted).toEqual(["parameters", "result"]);
    expect(JSON.stringify(rec)).not.toContain("/v1/models?q=1");
  });

  it("carries the context; with no logger the request still works unrecorded", async () => {
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch);
    const plain = await auditedFetch(`${origin}/v1/models`);
    expect(plain.status).toBe(404);
    await auditContext.run({ logger, userId: "u-7", traceId: "tr-7", parentId: "p-7" }, () => auditedFetch(`${origin}/v1/models`));
    const recs = await recordsOf(logger, "tool_usage");
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ userId: "u-7", traceId: "tr-7", parentId: "p-7" });
  });

  // (review, 2026-12-04, fifth session: `operation`, "METHOD host/path", was written as it is, an
  // identifier: a secret or an e-mail address in the URL's path was in the record in plain text,
  // and in exports and `tail`, while the same URL in `parameters` was redacted and encrypted)
  it("with redaction on, the URL path in `operation` is redacted as the parameters' URL is; with encryption too, the path's secrets are nowhere on disk", async () => {
    const logger = newLogger({ redact: {}, encryptSensitiveContent: true, encryptionKey: TEST_KEY });
    const auditedFetch = withAuditFetch(fetch, { logger });
    const token = "ghp_" + "SECRETpathTOKEN0123456789abcdefghijk".slice(0, 36);
    await (await auditedFetch(`${origin}/users/pathleak@victim.org/profile`)).text();
    await (await auditedFetch(`${origin}/bots/${token}/send`)).text();
    const recs = await recordsOf(logger, "tool_usage");
    expect(recs.map((r) => r.operation)).toEqual([`GET ${new URL(origin).host}/users/[REDACTED:email]/profile`, `GET ${new URL(origin).host}/bots/[REDACTED:github]/send`]);
    expect(recs.map((r) => r.redactions)).toEqual([expect.objectContaining({ email: expect.any(Number) }), expect.objectContaining({ github: expect.any(Number) })]);
    await logger.flush();
    const onDisk = fs.readdirSync(logger.auditDir, { recursive: true }).map((n) => path.join(logger.auditDir, String(n))).filter((f) => fs.statSync(f).isFile()).map((f) => fs.readFileSync(f, "utf8")).join("\n");
    expect(onDisk).not.toContain("pathleak@victim.org");
    expect(onDisk).not.toContain("SECRETpathTOKEN");
  });
});
