/**
 * The access token of a running viewer: a random secret given once in the URL (`?token=`), then
 * kept in an HttpOnly cookie; an `Authorization: Bearer` header works too (scripts, curl).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** A fresh random token: 32 bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Cookie name for a server on `port`: cookies ignore ports, so two viewers must not share one. */
export function cookieName(port: number): string {
  return `audit_logger_token_${port}`;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** How a request proved it holds the token, or null when it did not. */
export type AuthResult = "query" | "cookie" | "header" | null;

/**
 * Checks the token in the query (`token`), the cookie, or `Authorization: Bearer <token>`.
 *
 * @example
 * if (authenticate(req, url, token, cookieName(port)) === null) return sendText(req, res, 401, "token required");
 */
export function authenticate(req: IncomingMessage, url: URL, token: string, cookie: string): AuthResult {
  const q = url.searchParams.get("token");
  if (q !== null && same(q, token)) return "query";
  const c = cookieValue(req.headers.cookie, cookie);
  if (c !== undefined && same(c, token)) return "cookie";
  const h = req.headers.authorization;
  if (typeof h === "string" && /^Bearer\s+/i.test(h) && same(h.replace(/^Bearer\s+/i, "").trim(), token)) return "header";
  return null;
}

/** The Set-Cookie value that keeps the token for this browser session (HttpOnly, SameSite=Strict). */
export function tokenCookie(cookie: string, token: string): string {
  return `${cookie}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}
