// Records across every session: the timeline's filters without a session, newest first. With a
// user it answers a data-subject access request ("everything of user X"), with the downloads of
// exactly those records.
import { api } from "./api.js";
import { fmtInt, fmtSeconds, fmtTime, h, KINDS, kindBadge, kindLabel, mount, statusMark } from "./dom.js";

const FIELDS = ["user", "since", "until", "model", "persona", "success", "trace", "kinds", "before", "skip"];
/** The filters the form sets (all of /api/records' but the cursor). */
const FORM_FIELDS = ["user", "since", "until", "model", "persona", "success", "trace"];

function hashFor(params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") qs.set(k, v);
  return `#/search${qs.size ? `?${qs}` : ""}`;
}

function form(f) {
  const selected = new Set((f.kinds || KINDS.join(",")).split(","));
  const el = h("form", { class: "filters", dataset: { testid: "search-filters" } });
  el.append(
    h("label", {}, "User", h("input", { name: "user", value: f.user || "", placeholder: "a userId", size: 18, dataset: { testid: "search-user" } })),
    h("label", { title: "ISO 8601: a date, or a date and time; UTC when it has no offset" }, "From (UTC)", h("input", { name: "since", value: f.since || "", placeholder: "2025-03-01", size: 18, dataset: { testid: "search-since" } })),
    h("label", { title: "ISO 8601, exclusive" }, "To (UTC, exclusive)", h("input", { name: "until", value: f.until || "", placeholder: "2025-04-01", size: 18, dataset: { testid: "search-until" } })),
    // (the API's other filters too: until 2026-12-05 the page took only user, time and kinds)
    h("label", {}, "Model", h("input", { name: "model", value: f.model || "", placeholder: "any", size: 14, dataset: { testid: "search-model" } })),
    h("label", {}, "Persona", h("input", { name: "persona", value: f.persona || "", placeholder: "any", size: 14, dataset: { testid: "search-persona" } })),
    h(
      "label",
      {},
      "Outcome",
      h(
        "select",
        { name: "success", dataset: { testid: "search-success" } },
        [
          ["", "any"],
          ["true", "succeeded"],
          ["false", "failed"],
        ].map(([v, t]) => h("option", { value: v, selected: (f.success || "") === v ? "selected" : undefined }, t)),
      ),
    ),
    h("label", { title: "a traceId: the records of one request" }, "Trace", h("input", { name: "trace", value: f.trace || "", placeholder: "any", size: 14, dataset: { testid: "search-trace" } })),
    h("fieldset", { class: "kinds" }, h("legend", {}, "Kinds"), KINDS.map((k) => h("label", { class: `kindbox kind-${k}` }, h("input", { type: "checkbox", name: "kind", value: k, checked: selected.has(k), dataset: { testid: `search-kind-${k}` } }), kindLabel(k)))),
    h("button", { type: "submit", dataset: { testid: "search-submit" } }, "Search"),
    h("a", { href: "#/search", class: "reset" }, "Reset"),
  );
  el.addEventListener("submit", (e) => {
    e.preventDefault();
    const kinds = [...el.querySelectorAll("input[name=kind]:checked")].map((i) => i.value);
    const next = {};
    for (const k of FORM_FIELDS) next[k] = el.elements[k].value.trim();
    next.kinds = kinds.length === KINDS.length ? "" : kinds.join(",") || KINDS[0];
    location.hash = hashFor(next);
  });
  return el;
}

// The downloads' labels say what they hold, as the session pages' do (frame.js): "JSON" alone
// was the exporter's default, content withheld, while the record page shows that content in full,
// and only a tooltip said so (found by the viewer pass, 2026-12-05).
function downloads(f) {
  const q = new URLSearchParams();
  for (const k of ["user", "since", "until"]) if (f[k]) q.set(k, f[k]);
  const qs = q.toString();
  // (the exports take a user and a time range only: say so when the list is narrower)
  const narrower = ["model", "persona", "success", "trace", "kinds"].filter((k) => f[k]);
  return h(
    "div",
    { class: "exports", dataset: { testid: "search-downloads" } },
    narrower.length
      ? h("span", { class: "muted small", dataset: { testid: "search-downloads-note" } }, `Downloads hold every kind of record of this ${f.user ? "user" : ""}${f.user && (f.since || f.until) ? " and " : ""}${f.since || f.until ? "time range" : ""}${!f.user && !f.since && !f.until ? "whole trail" : ""}: the ${narrower.map((k) => (k === "success" ? "outcome" : k === "kinds" ? "kind" : k)).join(", ")} filter${narrower.length > 1 ? "s do" : " does"} not apply to them. `)
      : null,
    h("a", { class: "button", href: `/api/export.json?${qs}`, download: "", dataset: { testid: "search-export-json" }, title: "these records of every kind, prompts, responses and tool data withheld" }, "⤓ JSON, content withheld"),
    h("a", { class: "button", href: `/api/export.json?${qs}${qs ? "&" : ""}content=1`, download: "", dataset: { testid: "search-export-json-content" }, title: "these records with full prompts, responses and tool data" }, "⤓ JSON with content"),
  );
}

function table(rows) {
  const body = h("tbody");
  for (const r of rows) {
    const sid = r.record.sessionId;
    // (the record page links back to these results)
    const link = `#/s/${encodeURIComponent(sid)}/r/${encodeURIComponent(r.id)}?from=${encodeURIComponent(location.hash)}`;
    body.append(
      h(
        "tr",
        { class: r.success === false ? "failed" : "", dataset: { testid: "search-row", kind: r.type, id: r.id, session: sid }, onclick: (e) => { if (e.target.tagName !== "A") location.hash = link; } },
        h("td", { class: "time" }, fmtTime(r.timestamp)),
        h("td", { class: "small" }, h("a", { href: `#/s/${encodeURIComponent(sid)}` }, sid)),
        h("td", {}, kindBadge(r.type)),
        h("td", { class: "what" }, h("a", { href: link, class: "label" }, r.label), r.detail ? h("div", { class: `detail${r.encrypted ? " encrypted" : ""}` }, r.detail) : null),
        h("td", { class: "center" }, statusMark(r.success)),
        h("td", { class: "num" }, r.durationSeconds !== undefined ? fmtSeconds(r.durationSeconds) : ""),
        h("td", { class: "num" }, r.tokens !== undefined ? fmtInt(r.tokens) : ""),
        h("td", { class: "small" }, r.record.userId || ""),
      ),
    );
  }
  return h("table", { class: "grid timeline", dataset: { testid: "search-results" } }, h("thead", {}, h("tr", {}, ["Time (UTC)", "Session", "Kind", "What", "OK", "Duration", "Tokens", "User"].map((t) => h("th", {}, t)))), body);
}

/** How many records the page shows, and whether that is all of them (until 2026-12-05 the page gave no count). */
function recordCount(n, more, paged) {
  const records = `${fmtInt(n)} record${n === 1 ? "" : "s"}`;
  if (more) return `${records} on this page (older ones on the next)`;
  return paged ? `${records} on this last page` : `${records} found`;
}

export async function renderSearch(main, query, stillCurrent) {
  const f = {};
  for (const k of FIELDS) if (query.get(k)) f[k] = query.get(k);
  const any = FORM_FIELDS.some((k) => f[k]);
  mount(main, h("h1", {}, "Records across sessions ", h("span", { class: "muted small" }, "every kind of every session; with a user, everything of that user (an access request)")), form(f), h("section", { id: "page" }, any ? h("p", { class: "muted" }, "Searching…") : h("p", { class: "muted" }, "Give a user, a time range, or another filter.")));
  if (!any) return;
  const data = await api("records", { ...f, limit: 50 });
  if (!stillCurrent()) return;
  const base = { ...f };
  delete base.before;
  delete base.skip;
  mount(
    main.querySelector("#page"),
    h("div", { class: "session-head" }, h("p", { class: "muted small" }, h("strong", { dataset: { testid: "search-count" } }, recordCount(data.rows.length, Boolean(data.next), Boolean(f.before))), ` in ${fmtInt(data.sessionsSearched)} session${data.sessionsSearched === 1 ? "" : "s"} searched, newest first. Records of sessions that retention removed are gone: see `, h("a", { href: "#/events" }, "removals"), "."), downloads(f)),
    data.excludedKinds.length
      ? h("p", { class: "muted small", dataset: { testid: "search-excluded" } }, `Not shown: ${data.excludedKinds.map(kindLabel).join(", ")} (the model and outcome filters do not apply to them).`)
      : null,
    data.rows.length ? table(data.rows) : h("p", { class: "muted", dataset: { testid: "search-empty" } }, "No records match."),
    h(
      "div",
      { class: "pager" },
      f.before ? h("a", { class: "button", href: hashFor(base) }, "⇤ Newest") : null,
      data.next ? h("a", { class: "button", href: hashFor({ ...base, before: data.next.before, skip: data.next.skip ? String(data.next.skip) : "" }), dataset: { testid: "search-older" } }, "Older →") : h("span", { class: "muted small" }, "end of the results"),
    ),
  );
}
