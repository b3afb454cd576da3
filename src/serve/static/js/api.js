// The JSON API client. The access token travels in an HttpOnly cookie set by the server.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET /api/<path> as JSON; `query` values that are undefined or "" are left out. */
export async function api(path, query) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  const url = `/api/${path}${qs.size ? `?${qs}` : ""}`;
  const res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json();
      if (body && body.error) msg = body.error;
    } catch {
      // not JSON (401 text)
    }
    if (res.status === 401) msg = "Not authorised: open the URL printed by `audit-logger serve` (it carries the access token).";
    throw new ApiError(res.status, msg);
  }
  return res.json();
}

export function sessionPath(sid, ...rest) {
  return ["sessions", encodeURIComponent(sid), ...rest.map(encodeURIComponent)].join("/");
}
