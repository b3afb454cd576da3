// The frame of a session's pages: title, tabs, export downloads and the integrity banner.
import { api, sessionPath } from "./api.js";
import { h, KINDS, kindLabel, mount } from "./dom.js";

const TABS = [
  ["timeline", "Timeline"],
  ["tools", "Tools"],
  ["errors", "Errors"],
  ["analytics", "Analytics"],
  ["integrity", "Integrity"],
];

/**
 * The session's downloads. On a list (timeline, tools, errors) filtered by user or time they hold
 * those records only, and say so (until 2026-12-05 they were the whole session whatever the page
 * showed: an officer who narrowed the timeline to one user downloaded every user's records).
 */
function exportLinks(sid, query, tab) {
  const base = `/api/${sessionPath(sid)}`;
  const q = new URLSearchParams();
  // (the user filter is the timeline's only; the time range is every list's)
  if (query && LISTS.has(tab)) for (const k of tab === "timeline" ? ["user", "since", "until"] : ["since", "until"]) if (query.get(k)) q.set(k, query.get(k));
  const filtered = q.size > 0;
  const qs = q.toString();
  const withQs = (path, extra) => `${path}${qs || extra ? "?" : ""}${qs}${qs && extra ? "&" : ""}${extra || ""}`;
  const what = filtered ? ` (${[q.get("user") ? `user ${q.get("user")}` : "", q.get("since") ? `from ${q.get("since")}` : "", q.get("until") ? `before ${q.get("until")}` : ""].filter(Boolean).join(", ")})` : "";
  const csv = h(
    "select",
    {
      "aria-label": "CSV export",
      dataset: { testid: "export-csv" },
      onchange: (e) => {
        const kind = e.target.value;
        if (!kind) return;
        const a = h("a", { href: withQs(`${base}/export/${kind}.csv`), download: "" });
        document.body.append(a);
        a.click();
        a.remove();
        e.target.value = "";
      },
    },
    h("option", { value: "" }, filtered ? "CSV of these…" : "CSV…"),
    KINDS.map((k) => h("option", { value: k }, `${kindLabel(k)} CSV`)),
  );
  return h(
    "div",
    { class: "exports" },
    filtered ? h("span", { class: "muted small", dataset: { testid: "export-filter" } }, `Downloads: this session's records${what}, every kind `) : null,
    h("a", { class: "button", href: withQs(`${base}/export.json`), download: "", dataset: { testid: "export-json" }, title: `prompts, responses and tool data withheld${what}` }, "⤓ JSON, content withheld"),
    h("a", { class: "button", href: withQs(`${base}/export.json`, "content=1"), download: "", dataset: { testid: "export-json-content" }, title: `with full prompts, responses and tool data${what}` }, "⤓ JSON with content"),
    csv,
  );
}

/** The time range of `query` (since, until) for the tabs that list records, so a range set on one holds on the others. */
function rangeQuery(query) {
  const qs = new URLSearchParams();
  for (const k of ["since", "until"]) if (query && query.get(k)) qs.set(k, query.get(k));
  const s = qs.toString();
  return s ? `?${s}` : "";
}

const LISTS = new Set(["timeline", "tools", "errors"]);

/** Draws the frame into `main` and returns the element the page goes into. */
export function renderSessionFrame(main, sid, tab, query) {
  const banner = h("div", { class: "banner-slot" });
  const page = h("section", { id: "page" }, h("p", { class: "muted" }, "Loading…"));
  const active = tab === "r" ? "timeline" : tab;
  mount(
    main,
    h(
      "div",
      { class: "session-head" },
      h("div", { class: "crumbs" }, h("a", { href: "#/" }, "Sessions"), " / ", h("strong", { dataset: { testid: "session-title" } }, sid)),
      exportLinks(sid, query, tab),
    ),
    h(
      "nav",
      { class: "tabs" },
      TABS.map(([id, label]) =>
        h("a", { href: `#/s/${encodeURIComponent(sid)}${id === "timeline" ? "" : `/${id}`}${LISTS.has(id) && LISTS.has(active) ? rangeQuery(query) : ""}`, class: id === active ? "active" : "", dataset: { testid: `tab-${id}` } }, label),
      ),
    ),
    banner,
    page,
  );
  // the verdict shows on every page of the session; the server caches it
  api(sessionPath(sid, "integrity"))
    .then((r) => {
      if (!r.ok && banner.isConnected) {
        mount(
          banner,
          h(
            "div",
            { class: "banner fail", dataset: { testid: "integrity-banner" } },
            `⚠ Integrity check failed: ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"} found (damage or tampering). `,
            h("a", { href: `#/s/${encodeURIComponent(sid)}/integrity` }, "See the findings"),
          ),
        );
      }
    })
    .catch(() => undefined);
  return page;
}
