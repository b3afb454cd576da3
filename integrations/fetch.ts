/**
 * `withAuditFetch`: one ToolUsage per HTTP request made through a fetch function, with secrets
 * in the URL and headers redacted before anything reaches the logger.
 */
import { isSecretName } from "../src/secret-name.js";
import { REDACTED_TEXT, UNREADABLE_ERROR, hideCredentials, isError, isInstance, isNativePromise, keepAddedMembers, readMember, resolveAuditLogger, safeRecord, secondsSince, textOf } from "../src/instrument.js";
import { currentContext, runInAuditContext, snapshotContext, userOfCall } from "../src/context.js";
import type { AuditLogger } from "../src/logger.js";
import type { ToolUsageInput } from "../src/types.js";
import { AuditConfigError } from "../src/errors.js";
import { checkedOptions } from "./options.js";

/** Options of {@link withAuditFetch}. */
export interface AuditFetchOptions {
  /** the logger to record to; otherwise the active `auditContext` logger, then the default logger */
  readonly logger?: AuditLogger | undefined;
  /**
   * More header names (strings, or patterns; both case-insensitive, a pattern's `g`/`y` flags
   * ignored) whose values are replaced by "[REDACTED]", on top of the built-in list
   * (authorization, cookie, API keys, tokens, ...).
   */
  readonly redactHeaders?: ReadonlyArray<string | RegExp> | undefined;
}

/** The value that replaces a secret. */
export const REDACTED = REDACTED_TEXT;


/**
 * Whether a header of this name carries a credential (the rule above, the same as for query
 * parameters; any case). Also the AI SDK middleware's list of the headers whose values it hides
 * from recorded errors (found by review, 2026-12-04).
 */
export function isCredentialHeader(name: string): boolean {
  return isSecretName(name);
}

/** A query parameter's name says it is a credential (see SECRET_WORDS). Also the Express chat prompt's (see queryPrompt there). */
export function isSecretParam(name: string): boolean {
  return isSecretName(name);
}
// the base a relative URL is read against (it never shows: only its path and query are recorded)
const RELATIVE_BASE = "http://relative.invalid";
const RELATIVE_HOST = new URL(RELATIVE_BASE).host;

type FetchLike = (input: never, init?: never) => Promise<unknown>;

/** Marks an audited fetch (shared by copies of the package through the global symbol registry). */
const kAudited = Symbol.for("audit-logger.fetch.audited.v1");
/**
 * On an audited fetch: the function it wraps and the options of each wrap, innermost first, so
 * that wrapping it again with more options wraps that function anew with all of them (see
 * withAuditFetch; found by review, 2026-12-04).
 */
const kWrapped = Symbol.for("audit-logger.fetch.wrapped.v1");
interface Wrapped {
  readonly fetchFn: FetchLike;
  readonly layers: readonly AuditFetchOptions[];
}

/**
 * Returns a function with `fetchFn`'s exact signature that records one ToolUsage per request:
 * toolName "fetch", operation "<METHOD> <host><path>", parameters { url, method, headers } with
 * secrets replaced by "[REDACTED]" (authorization, cookies, API keys, tokens; `api_key`,
 * `token`, `sig` and similar query parameters; URL passwords; Telegram's, Discord's and Slack's
 * tokens in the path; a data: URL's content), result
 * { status, ok, statusText } (with `redirected: true` and the `url` that answered when fetch
 * followed redirects), and the duration until the response headers arrived. A failed request is recorded, then its original
 * error is rethrown. The response body is never read. A call whose result is not a promise (nor
 * any thenable) returns it as it is, synchronously, and is recorded then. Wrapping an audited fetch again records
 * each request once: with no new options it returns it as it is; with `redactHeaders` it has not
 * got, or another `logger`, it returns a new function around the same fetch that hides the headers
 * of every wrap and records to the last `logger` given (the audited fetch it was given is left as
 * it was).
 *
 * @example
 * import { withAuditFetch } from "audit-logger/integrations/fetch";
 *
 * const auditedFetch = withAuditFetch(fetch, { logger });
 * const res = await auditedFetch("https://api.example.com/v1/items?api_key=secret", {
 *   headers: { authorization: "Bearer sk-..." },
 * }); // recorded: GET api.example.com/v1/items, url "...?api_key=%5BREDACTED%5D", authorization "[REDACTED]"
 */
export function withAuditFetch<F extends FetchLike>(fetchFn: F, given: AuditFetchOptions = {}): F {
  if (typeof fetchFn !== "function") {
    throw new AuditConfigError([{ field: "fetch", message: `withAuditFetch() needs a fetch function, such as the global fetch (got ${fetchFn === null ? "null" : typeof fetchFn})` }]);
  }
  const options = checkedOptions("withAuditFetch", given);
  let audited: unknown;
  try {
    audited = (fetchFn as F & { [kAudited]?: true })[kAudited];
    Reflect.ownKeys(fetchFn);
  } catch (err) {
    // (a revoked Proxy, or one whose traps throw: its TypeError came out of withAuditFetch as it
    // was; found by the fetch new-user pass, 2026-12-05)
    throw new AuditConfigError([{ field: "fetch", message: `withAuditFetch() could not read the function it was given (reading it threw: ${errorMessage(err)}): pass the fetch function itself, not a revoked Proxy or one whose traps throw` }]);
  }
  if (audited) {
    // An audited fetch wrapped again (an app's wrap of a library's audited fetch) with options of
    // its own: they were ignored, and a header the app asked to hide was recorded in clear (found
    // by review, 2026-12-04). Now that fetch is wrapped anew with every wrap's options: one
    // record per request still, its headers hidden by all their rules.
    const wrapped = (fetchFn as F & { [kWrapped]?: Wrapped })[kWrapped];
    const layers = wrapped?.layers ?? [];
    if (addsNothing(options, layers)) return fetchFn;
    if (wrapped === undefined) {
      // (an audited fetch of a copy of the package that keeps no record of its wraps)
      throw new AuditConfigError([{ field: "fetch", message: "withAuditFetch() was given a fetch another copy of audit-logger audited, with options of its own: give them to that wrap, or wrap the original fetch" }]);
    }
    return auditedFetch(wrapped.fetchFn as unknown as F, [...layers, options]);
  }
  return auditedFetch(fetchFn, [options]);
}

/** Whether the options of a wrap of an audited fetch (wrapped with `layers`) change nothing: no logger of their own, no header not already hidden. */
function addsNothing(options: AuditFetchOptions, layers: readonly AuditFetchOptions[]): boolean {
  const logger = layers.findLast((l) => l.logger != null)?.logger;
  if (options.logger != null && options.logger !== logger) return false;
  const known = (r: string | RegExp): boolean =>
    layers.some((l) => (l.redactHeaders ?? []).some((k) => (typeof r === "string" ? typeof k === "string" && k.toLowerCase() === r.toLowerCase() : typeof k !== "string" && k.source === r.source && k.flags === r.flags)));
  return (options.redactHeaders ?? []).every(known);
}

/** `fetchFn` audited with the options of each wrap (`layers`, innermost first): every wrap's `redactHeaders`, the last `logger` given. */
function auditedFetch<F extends FetchLike>(fetchFn: F, layers: readonly AuditFetchOptions[]): F {
  // Header names arrive lowercased, and are case-insensitive: strings compared lowercased,
  // patterns copied case-insensitive and without /g or /y (whose lastIndex made every other
  // request's header pass unredacted)
  const extra = layers.flatMap((l) => l.redactHeaders ?? []).map((r) => (typeof r === "string" ? r.toLowerCase() : new RegExp(r.source, `${r.flags.replace(/[gyi]/g, "")}i`)));
  const isSecretHeader = (name: string): boolean =>
    isSecretName(name) || extra.some((r) => (typeof r === "string" ? r === name : r.test(name)));
  // (the options are read at each call, as before: an app may still set `logger` later)
  const loggerOption = (): AuditLogger | undefined => {
    for (let i = layers.length - 1; i >= 0; i--) if (layers[i]!.logger != null) return layers[i]!.logger;
    return undefined;
  };

  /**
   * Calls `target` (fetchFn, or one of its method members: `method` then names the HTTP method)
   * and records the request.
   */
  const call = (target: (...a: unknown[]) => unknown, thisArg: unknown, args: unknown[], method?: string): unknown => {
    const logger = resolveAuditLogger(loggerOption());
    if (!logger) return target.apply(thisArg, args);
    const start = performance.now();
    let described: Described | undefined;
    try {
      // (a method member's own method wins over one in its options, as ky merges them)
      const init = args[1];
      described = describe(args[0], method === undefined ? init : { ...(typeof init === "object" && init !== null ? init : {}), method }, isSecretHeader);
    } catch {
      // an input fetch itself will reject; it is recorded from the rejection
    }
    // the user the request was made by: a setUser while it ran does not change it (see recordFrom)
    const userAtCall = userOfCall(currentContext());
    // Runs in a reaction registered here, so in the call's context (trace, user, parent).
    const record = (fields: Pick<ToolUsageInput, "result" | "success" | "errorMessage">) => {
      const input: ToolUsageInput = {
        toolName: "fetch",
        operation: described?.operation ?? "fetch",
        parameters: described?.parameters ?? {},
        durationSeconds: secondsSince(start),
        ...fields,
      };
      // (in a copy of the context with that user, not as the input's userId: the context takes
      // any text, the input only 1-256 characters, and refused the record; found by review)
      const context = currentContext();
      if (context === undefined || userAtCall === undefined || context.userId === userAtCall) safeRecord(logger, () => logger.logToolUsage(input));
      else runInAuditContext({ ...snapshotContext(context), userId: userAtCall }, () => safeRecord(logger, () => logger.logToolUsage(input)));
    };
    let pending: unknown;
    try {
      pending = target.apply(thisArg, args);
    } catch (err) {
      record({ success: false, errorMessage: errorMessage(err, described?.secrets) });
      throw err;
    }
    // (every read guarded: a response whose getters throw must reach the app as it is, not as
    // our failure, nor as an unhandled rejection of the promise we observe it through)
    const settled = (res: unknown): void => {
      const s = readMember(res, "status");
      const ok = readMember(res, "ok");
      const statusText = readMember(res, "statusText");
      const status = typeof s === "number" ? s : undefined;
      // A failure is an error status (4xx, 5xx) or none (0: a network error's Response). A 3xx
      // is an answer, not a failure, although `ok` is false: a 304 Not Modified to a conditional
      // request, a 302 that `redirect: "manual"` asked to see (in a browser an opaque redirect,
      // status 0); they were recorded as failures, "HTTP 304" (found by review, 2026-12-05).
      const answered = (status !== undefined && status >= 100 && status < 400) || (status === 0 && readMember(res, "type") === "opaqueredirect");
      const failure = ok === false && !answered;
      record({
        success: !failure,
        result: { status: status ?? null, ok: ok === true, ...(typeof statusText === "string" && statusText ? { statusText } : {}), ...redirectedTo(res, isSecretHeader) },
        ...(failure ? { errorMessage: `HTTP ${status ?? "error"}` } : {}),
      });
    };
    const failed = (err: unknown): void => record({ success: false, errorMessage: errorMessage(err, described?.secrets) });
    // A result that is not a promise (nor any thenable) is returned as it is, at once, recorded
    // then: sync stays sync. A function given for a fetch that was none (`withAudit(express)`)
    // had its result turned into a promise of it: the app got a promise instead of an app
    // (found by review, 2026-12-05).
    if (!mayBeThenable(pending)) {
      settled(pending);
      return pending;
    }
    // A Promise subclass (a client's own promise class, with methods of its own) is returned as
    // it is, observed through its own `then` (its rejection is then handled, as a decorated
    // method's is: docs/INTEGRATIONS.md).
    if (isInstance(pending, Promise) && !isNativePromise(pending)) {
      try {
        void pending.then(settled, failed);
        return pending;
      } catch {
        // (its `then` cannot be called: chained below, as a thenable)
      }
    }
    // A chained promise (not a handler on fetch's own) so an ignored failure stays an unhandled
    // rejection, with the members fetchFn added to its promise (ky's `.json()`) kept.
    const chained = Promise.resolve(pending).then(
      (res) => {
        settled(res);
        return res;
      },
      (err: unknown) => {
        failed(err);
        throw err;
      },
    );
    if (typeof pending === "object" && pending !== null) keepAddedMembers(pending, chained);
    return chained;
  };
  const audited = function auditedFetch(this: unknown, ...args: unknown[]): unknown {
    return call(fetchFn as unknown as (...a: unknown[]) => unknown, this, args);
  };
  Object.defineProperty(audited, "name", { value: fetchFn.name || "auditedFetch" });
  Object.defineProperty(audited, "length", { value: fetchFn.length });
  // the function's own members (undici's `fetch.preconnect`, say), so it keeps its type's shape;
  // a client built on fetch (ky) has a member per HTTP method, recorded as calls of the function
  // are, and makes new clients with `create`/`extend`, which are wrapped in turn (they were
  // copied as they were: requests made through them went unrecorded)
  // (only for a client shaped as ky is, with create() and extend(): another function's members
  // named get or delete may be anything, a route builder or a map's, and must stay as they are)
  const kyLike = isKyLike(fetchFn);
  for (const key of Reflect.ownKeys(fetchFn)) {
    if (key === "name" || key === "length" || key === "prototype" || key === "arguments" || key === "caller" || Object.hasOwn(audited, key)) continue;
    const d = Object.getOwnPropertyDescriptor(fetchFn, key);
    if (!d) continue;
    const member = (kyLike && typeof d.value === "function" ? d.value : undefined) as ((...a: unknown[]) => unknown) | undefined;
    if (typeof key === "string" && member && HTTP_METHOD_MEMBERS.has(key)) {
      // (ky sends the method upper-cased)
      const method = key.toUpperCase();
      d.value = keepShape(member, function (this: unknown, ...args: unknown[]): unknown {
        return call(member, this, args, method);
      });
    } else if (typeof key === "string" && member && (key === "create" || key === "extend")) {
      d.value = keepShape(member, function (this: unknown, ...args: unknown[]): unknown {
        const made = member.apply(this, args);
        return typeof made === "function" && !(made as { [kAudited]?: true })[kAudited] ? auditedFetch(made as FetchLike, layers) : made;
      });
    }
    Object.defineProperty(audited, key, d);
  }
  Object.defineProperty(audited, kAudited, { value: true });
  Object.defineProperty(audited, kWrapped, { value: { fetchFn, layers } satisfies Wrapped });
  return audited as unknown as F;
}

/**
 * Whether `v` is a thenable, or may be one: an object whose `then` cannot be read (a revoked
 * Proxy) is, as awaiting it rejects with that error (the audited fetch's promise does too).
 */
function mayBeThenable(v: unknown): boolean {
  if ((typeof v !== "object" && typeof v !== "function") || v === null) return false;
  try {
    return typeof (v as { then?: unknown }).then === "function";
  } catch {
    return true;
  }
}

/**
 * `{ redirected: true, url }` for a response fetch followed redirects to, `url` the one that
 * answered (its secrets hidden as the request's are); else nothing. The status recorded is that
 * URL's: a request to one host answered by another (a download link that redirects to storage, a
 * moved API) was recorded as the first URL's answer, with nothing saying where it went (found by
 * the fetch new-user pass, 2026-12-05).
 */
function redirectedTo(res: unknown, isSecretHeader: (name: string) => boolean): { redirected?: true; url?: string } {
  if (readMember(res, "redirected") !== true) return {};
  const url = readMember(res, "url");
  if (typeof url !== "string" || url === "") return { redirected: true };
  try {
    return { redirected: true, url: describe(url, undefined, isSecretHeader).parameters.url };
  } catch {
    return { redirected: true };
  }
}

/** A client shaped as ky is: a function with `create()` and `extend()` making new clients. */
function isKyLike(fn: unknown): boolean {
  try {
    const o = fn as { create?: unknown; extend?: unknown; get?: unknown };
    return typeof o.create === "function" && typeof o.extend === "function" && typeof o.get === "function";
  } catch {
    return false;
  }
}

/** Members of a fetch-based client (ky's) that make a request with the HTTP method of their name. */
const HTTP_METHOD_MEMBERS = new Set(["get", "post", "put", "patch", "head", "delete", "options"]);

/** `wrapper`, named and sized as `original`. */
function keepShape<W extends (...a: never[]) => unknown>(original: (...a: never[]) => unknown, wrapper: W): W {
  Object.defineProperty(wrapper, "name", { value: original.name });
  Object.defineProperty(wrapper, "length", { value: original.length });
  return wrapper;
}

/** True for a function that is not obviously something else (used by `withAudit` after the other checks). */
export function isFetchFunction(value: unknown): value is FetchLike {
  return typeof value === "function";
}

interface Described {
  operation: string;
  parameters: { url: string; method: string; headers: Record<string, string> };
  /** the secret values removed, so they can be scrubbed from error messages too */
  secrets: string[];
}

/**
 * A URL part with its %-escapes decoded, or as it is where one is malformed (a password holding a
 * literal `%`): decodeURIComponent throws there, which left the whole URL unredacted (found by
 * review, 2026-12-03).
 */
function decodedOrAsIs(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function describe(input: unknown, init: unknown, isSecretHeader: (name: string) => boolean): Described {
  const req = (typeof Request !== "undefined" && input instanceof Request) || isForeign(input, "Request") ? (input as Request) : undefined;
  const rawUrl = req ? req.url : input instanceof URL ? input.href : String(input);
  const initObj = (typeof init === "object" && init !== null ? init : {}) as { method?: unknown; headers?: unknown };
  // as fetch sends it: only DELETE, GET, HEAD, OPTIONS, POST and PUT are upper-cased (a `patch` goes as written)
  const givenMethod = typeof initObj.method === "string" ? initObj.method : (req?.method ?? "GET");
  const method = /^(delete|get|head|options|post|put)$/i.test(givenMethod) ? givenMethod.toUpperCase() : givenMethod;
  // fetch semantics: init.headers, when given, replace the Request's headers
  const given = initObj.headers ?? req?.headers ?? undefined;
  const readable = rereadable(given);
  const safeHeaders: Record<string, string> = {};
  const secrets: string[] = [];
  if (!readable) safeHeaders["[not read]"] = "headers given as an iterable fetch reads once: left for fetch";
  let headers: Headers | undefined;
  try {
    headers = new Headers(readable ? (given as ConstructorParameters<typeof Headers>[0]) : undefined);
  } catch {
    // Headers fetch refuses (a value with a NUL or a line break, a name with a space, a
    // character above U+00FF): fetch rejects, and the record still says which request failed.
    // The whole description was lost, the record read "fetch" with no URL or method (found by
    // the fetch new-user pass, 2026-12-05). The values of the headers named as secrets are
    // still collected, so that the error's text never quotes them.
    safeHeaders["[not read]"] = "headers fetch refuses: see the error";
    secrets.push(...refusedSecrets(given, isSecretHeader));
  }
  headers?.forEach((value, name) => {
    if (isSecretHeader(name)) {
      safeHeaders[name] = REDACTED;
      secrets.push(value);
    } else safeHeaders[name] = value;
  });
  let url = rawUrl;
  let operation = `${method} ${rawUrl}`;
  try {
    // a relative URL (a fetch with a base URL of its own) is read against a placeholder
    const relative = !URL.canParse(rawUrl);
    const u = new URL(rawUrl, relative ? RELATIVE_BASE : undefined);
    // credentials in the URL (https://user:pass@host, https://<token>@host)
    if (u.password) {
      secrets.push(u.password, decodedOrAsIs(u.password));
      u.password = REDACTED;
    }
    if (u.username) {
      secrets.push(u.username, decodedOrAsIs(u.username));
      u.username = REDACTED;
    }
    // Secret parameters' values replaced in the text, the other parameters left as written
    // (re-encoding the query with searchParams made `a%20b` `a+b` and `a~b` `a%7Eb`; found
    // 2026-12-04). hideParams collects the values as written and decoded; an error may also
    // quote them as encodeURIComponent writes them. A fragment is never sent, but an OAuth
    // implicit-flow URL carries its token there.
    const query = u.search.slice(1);
    for (const [key, value] of u.searchParams) if (isSecretParam(key)) secrets.push(encodeURIComponent(value));
    const hiddenQuery = hideParams(query, secrets);
    if (hiddenQuery !== query) u.search = hiddenQuery;
    if (u.hash.includes("=")) {
      const fragment = u.hash.slice(1);
      for (const [key, value] of new URLSearchParams(fragment)) if (isSecretParam(key)) secrets.push(encodeURIComponent(value));
      const hiddenFragment = hideParams(fragment, secrets);
      if (hiddenFragment !== fragment) u.hash = hiddenFragment;
    }
    // tokens that APIs take in the path, not the query (see hidePathTokens)
    const path = hidePathTokens(u.pathname, u.host, secrets);
    if (path !== u.pathname) u.pathname = path;
    // (the text tells a network path, and so does a host of its own: URL parsing skips the
    // whitespace and tabs a `//` may come with)
    if (relative && (u.host !== RELATIVE_HOST || /^[\\/]{2}/.test(rawUrl))) {
      // a network-path reference (`//user:pass@host/path`): the scheme is fetch's to add
      url = u.href.slice(u.protocol.length);
      operation = `${method} ${u.host}${u.pathname}`;
    } else if (relative) {
      // its path as given, its query and fragment as read (secrets hidden)
      const cut = rawUrl.search(/[?#]/);
      const givenPath = hidePathTokens(cut < 0 ? rawUrl : rawUrl.slice(0, cut), "", secrets);
      url = `${givenPath}${u.search}${u.hash}`;
      operation = `${method} ${givenPath}`;
    } else if (u.protocol === "data:") {
      // A data: URL carries its content, not an address: a base64 image a model made, turned
      // into a Blob with fetch. It was recorded whole, in `url` (up to the 64 KiB a string keeps)
      // and in `operation` ("GET image/png;base64,iVBOR..."): the content the kit never records
      // of a response body (found by the fetch new-user pass, 2026-12-05). Recorded: its media
      // type and how long its content is.
      const comma = rawUrl.indexOf(",");
      const header = comma < 0 ? "" : rawUrl.slice(rawUrl.indexOf(":") + 1, comma).trim();
      const length = comma < 0 ? rawUrl.length - rawUrl.indexOf(":") - 1 : rawUrl.length - comma - 1;
      url = `data:${header},[${length} characters not recorded]`;
      operation = `${method} data:${header}`;
    } else if (u.host === "") {
      // (no host: a blob: URL, a file: URL; its scheme said what it is, its path alone did not:
      // "GET nodedata:<uuid>", "GET /etc/hosts")
      url = u.href;
      operation = `${method} ${u.href.slice(0, u.href.length - u.search.length - u.hash.length)}`;
    } else {
      url = u.href;
      operation = `${method} ${u.host}${u.pathname}`;
    }
    // no scheme at all (`user:pass@host/path`, the password perhaps holding / ? or \): read as a
    // scheme `user:` with an opaque path, or as a relative path, its userinfo shown as written;
    // hidden as in a URL that does not parse
    if ((relative ? u.host === RELATIVE_HOST && !/^[\\/]{2}/.test(rawUrl.trim()) : u.host === "" && u.protocol !== "data:" && u.protocol !== "blob:") && rawUrl.includes("@")) {
      url = hideInUnparsed(rawUrl, secrets);
      operation = `${method} ${url}`;
    }
  } catch {
    // a malformed URL (fetch will reject it, quoting it): kept as given, its credentials hidden all the same
    url = hideInUnparsed(rawUrl, secrets);
    operation = `${method} ${url}`;
  }
  return { operation: operation.slice(0, 256), parameters: { url, method, headers: safeHeaders }, secrets: secrets.filter((x) => x.length >= 3) };
}

/**
 * Credentials that APIs take as a path segment, where no parameter name says so: Telegram's bot
 * token (`/bot<id>:<token>/sendMessage`), a Discord webhook's token (`/api/webhooks/<id>/<token>`)
 * and a Slack webhook's secret (`hooks.slack.com/services/T…/B…/<secret>`). Each became
 * "[REDACTED]" and joins `secrets` (an error may quote the URL). They were recorded in clear, in
 * `operation` too, which encryption does not cover (found by a new-user run, 2026-12-06). Also
 * the rule of the route the Express middleware records (integrations/express.ts). Other
 * path secrets take a `redact` pattern (docs/INTEGRATIONS.md, fetch). Per request: three substring
 * checks when the path holds none.
 */
export function hidePathTokens(path: string, host: string, secrets: string[] = []): string {
  // path parameters (`/cart;jsessionid=…`: a Java servlet's session kept in the URL) named as
  // credentials, as query parameters are (recorded in clear until 2026-12-06)
  if (path.includes(";")) {
    path = path.replace(/;([^;/=?#]+)=([^;/?#]*)/g, (whole, name: string, value: string) => {
      if (value === "" || !isSecretParam(decodedOrAsIs(name))) return whole;
      secrets.push(value, decodedOrAsIs(value));
      return `;${name}=${REDACTED}`;
    });
  }
  if (host === "hooks.slack.com") {
    const m = /^(\/(?:services|workflows|triggers)\/(?:[^/]+\/)*)([^/]+)\/?$/.exec(path);
    if (m !== null && m[2]!.length >= 8) {
      secrets.push(m[2]!);
      return `${m[1]}${REDACTED}`;
    }
    return path;
  }
  if (!path.includes("/bot") && !path.includes("/webhooks/")) return path;
  return path.replace(/(\/bot\d{3,}:)([A-Za-z0-9_-]{20,})|(\/api\/(?:v\d+\/)?webhooks\/\d+\/)([A-Za-z0-9_-]{20,})/g, (_m, bot?: string, botToken?: string, hook?: string, hookToken?: string) => {
    secrets.push((botToken ?? hookToken)!);
    return `${bot ?? hook}${REDACTED}`;
  });
}

/**
 * The values of the headers named as secrets in headers that `new Headers` refused (a plain
 * object or pairs), as given and trimmed, so that fetch's error, which may quote one, never
 * records it. Anything else (or what cannot be read) gives none.
 */
function refusedSecrets(given: unknown, isSecretHeader: (name: string) => boolean): string[] {
  const out: string[] = [];
  try {
    const pairs: unknown[] = Array.isArray(given) ? given : typeof given === "object" && given !== null && !(given instanceof Map) ? Object.entries(given) : given instanceof Map ? [...given] : [];
    for (const pair of pairs) {
      if (!Array.isArray(pair) || typeof pair[0] !== "string" || !isSecretHeader(pair[0].trim().toLowerCase())) continue;
      const value = String(pair[1]);
      out.push(value, value.trim());
    }
  } catch {
    // (a getter that throws: fetch will fail on it too, quoting nothing of ours)
  }
  return out;
}

/** A query or fragment pair's name and value, decoded as a server reads them (leniently: a stray `%` stays as it is). */
function splitPair(pair: string): [string, string] | undefined {
  const eq = pair.indexOf("=");
  if (eq < 0) return undefined;
  const [entry] = new URLSearchParams(pair);
  return entry ? [entry[0], entry[1]] : undefined;
}

/** `text` (a query or fragment) with its secret parameters' values replaced, the rest as written; the values, as written and decoded, added to `secrets`. */
function hideParams(text: string, secrets: string[]): string {
  return text
    .split("&")
    .map((pair) => {
      const kv = splitPair(pair);
      if (!kv || !isSecretParam(kv[0])) return pair;
      const eq = pair.indexOf("=");
      secrets.push(pair.slice(eq + 1), kv[1]);
      return `${pair.slice(0, eq + 1)}${encodeURIComponent(REDACTED)}`;
    })
    .join("&");
}

/** A URL that does not parse, as written but for its userinfo and secret parameters (their values added to `secrets`). */
function hideInUnparsed(raw: string, secrets: string[]): string {
  let text = raw;
  // the scheme and the slashes as the URL parser reads them: `\` as `/`, none at all after a special scheme
  const head = /^[\x00-\x20]*(?:[a-z][a-z0-9+.-]*:)?[\\/\t\n\r]*/i.exec(text)![0];
  const rest = text.slice(head.length);
  const endOf = (from: number): number => {
    const i = rest.slice(from).search(/[\\/?#]/);
    return i < 0 ? rest.length : from + i;
  };
  const end = endOf(0);
  let at = rest.lastIndexOf("@", end - 1);
  if (end === 0) at = -1;
  if (at < 0) {
    // no `@` before the first / ? #, but a `:` followed by what is not a port, and an `@` later:
    // a password holding / ? or # (base64), which is why the URL does not parse
    const colon = rest.indexOf(":");
    const next = rest.indexOf("@", end);
    // (not an IPv6 host, `[::1]:8080`, whose colons are no password's)
    if (colon >= 0 && colon < end && !rest.startsWith("[") && !/^\d*$/.test(rest.slice(colon + 1, end)) && next >= 0) at = rest.lastIndexOf("@", endOf(next + 1) - 1);
    // no scheme (`user:pa/ss@host`): what was read as a scheme is the user, and all up to the
    // `@` its password
    else if (/^[\x00-\x20]*[a-z][a-z0-9+.-]*:$/i.test(head) && rest.includes("@")) at = rest.lastIndexOf("@", endOf(rest.indexOf("@") + 1) - 1);
  }
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(":");
    for (const part of colon < 0 ? [userinfo] : [userinfo, userinfo.slice(0, colon), userinfo.slice(colon + 1)]) if (part !== "") secrets.push(part, decodedOrAsIs(part));
    text = `${head}${REDACTED}${rest.slice(at)}`;
  }
  const hash = text.indexOf("#");
  const beforeHash = hash < 0 ? text : text.slice(0, hash);
  const query = beforeHash.indexOf("?");
  let out = query < 0 ? beforeHash : `${beforeHash.slice(0, query + 1)}${hideParams(beforeHash.slice(query + 1), secrets)}`;
  if (hash >= 0) out += `#${hideParams(text.slice(hash + 1), secrets)}`;
  return out;
}

/**
 * A Request or Headers of another fetch implementation (the `undici` package's, node-fetch's):
 * not the global class, so `instanceof` misses it (a Request was recorded as "GET [object
 * Request]"); told by its tag, and read as fetch reads it (a Headers is iterable again and again).
 */
function isForeign(v: unknown, tag: "Request" | "Headers"): boolean {
  if (typeof v !== "object" || v === null || Object.prototype.toString.call(v) !== `[object ${tag}]`) return false;
  const o = v as { url?: unknown; method?: unknown; [Symbol.iterator]?: unknown };
  // (a Request as fetch would see it: one that turns into a URL of its own is read as that URL, as fetch reads it;
  // a Headers with the Headers API, not a bare iterable that reading may use up)
  const h = v as { get?: unknown; forEach?: unknown };
  return tag === "Request"
    ? typeof o.url === "string" && typeof o.method === "string" && String(v) === "[object Request]"
    : typeof o[Symbol.iterator] === "function" && typeof h.get === "function" && typeof h.forEach === "function";
}

/**
 * Whether headers given in this form can be read for the record and still reach fetch whole: a
 * Headers object, a plain object, a Map, or an array of arrays. Anything else is an iterable
 * (a generator, `map.entries()`, a wrapper around one) that reading may use up, so the request
 * would go without them: it is left to fetch, and the record says its headers were not read.
 */
function rereadable(headers: unknown): boolean {
  if (headers === undefined || headers === null || typeof headers !== "object") return true;
  if ((typeof Headers !== "undefined" && headers instanceof Headers) || isForeign(headers, "Headers")) return true;
  if (Array.isArray(headers)) return headers.every((pair) => Array.isArray(pair));
  const proto = Object.getPrototypeOf(headers) as unknown;
  // (an own Symbol.iterator makes fetch iterate the object, as any other iterable)
  return (proto === Object.prototype || proto === null || proto === Map.prototype) && !Object.hasOwn(headers, Symbol.iterator);
}

/** The error's text, with any secret of the request (which fetch may quote, e.g. the URL) scrubbed. */
function errorMessage(err: unknown, secrets: readonly string[] = []): string {
  let text: string;
  try {
    // (isError: an Error of another realm, a vm context's fetch's, is one too)
    if (isError(err)) {
      const cause = (err as { cause?: unknown }).cause;
      const detail = isError(cause) && cause.message !== err.message ? ` (${textOf(cause.message)})` : "";
      text = `${textOf(err.name)}: ${textOf(err.message)}${detail}`;
    } else text = textOf(err);
  } catch {
    // the app's error must reach the app as it is: never an error of ours made while reading it
    text = UNREADABLE_ERROR;
  }
  // (every secret of the request, however short: a user `admin`; and a header value fetch refused,
  // which its error quotes: an authorization with a stray NUL); then the credentials of every URL
  // the text quotes, also ones the fetch function built itself (ky adds its `searchParams`) and
  // a password too short to be replaced wherever it occurs
  return hideCredentials(text, secrets, 1).replace(QUOTED_URL, (url) => hideInUnparsed(url, []));
}

/** A URL with a scheme and `//`, as an error message quotes it (up to whitespace or a quote). */
// (a scheme of at most 32 characters: unbounded, dotted text made the scan quadratic, and error
// text may come from a server; found by review, 2026-12-04)
const QUOTED_URL = /\b[a-z][a-z0-9+.-]{0,31}:\/\/[^\s"'<>`]+/gi;
