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

function exportLinks(sid) {
  const base = `/api/${sessionPath(sid)}`;
  const csv = h(
    "select",
    {
      "aria-label": "CSV export",
      dataset: { testid: "export-csv" },
      onchange: (e) => {
        const kind = e.target.value;
        if (!kind) return;
        const a = h("a", { href: `${base}/export/${kind}.csv`, download: "" });
        document.body.append(a);
        a.click();
        a.remove();
        e.target.value = "";
      },
    },
    h("option", { value: "" }, "CSV…"),
    KINDS.map((k) => h("option", { value: k }, `${kindLabel(k)} CSV`)),
  );
  return h(
    "div",
    { class: "exports" },
    h("a", { class: "button", href: `${base}/export.json`, download: "", dataset: { testid: "export-json" }, title: "prompts, responses and tool data withheld" }, "⤓ JSON"),
    h("a", { class: "button", href: `${base}/export.json?content=1`, download: "", title: "with full prompts, responses and tool data" }, "⤓ JSON + content"),
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
      exportLinks(sid),
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
