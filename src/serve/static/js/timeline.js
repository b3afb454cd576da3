// A session's timeline: every kind merged newest first, nested by parentId, filtered and paged
// on the server (keyset cursor), so a million-record session pages as fast as a small one.
import { api, sessionPath } from "./api.js";
import { fmtInt, fmtSeconds, fmtTime, h, KINDS, kindBadge, kindLabel, mount, statusMark } from "./dom.js";

const FILTERS = ["model", "persona", "user", "success", "trace", "since", "until"];

function hashFor(sid, tab, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") qs.set(k, v);
  const s = qs.toString();
  return `#/s/${encodeURIComponent(sid)}${tab ? `/${tab}` : ""}${s ? `?${s}` : ""}`;
}

/** The filter values in the fragment's query. */
export function readFilters(query) {
  const out = {};
  for (const k of [...FILTERS, "kinds", "before", "skip"]) {
    const v = query.get(k);
    if (v) out[k] = v;
  }
  return out;
}

function filterBar(sid, f, facets) {
  const selected = new Set((f.kinds || KINDS.join(",")).split(","));
  const form = h("form", { class: "filters", dataset: { testid: "filters" } });
  const apply = () => {
    const kinds = [...form.querySelectorAll("input[name=kind]:checked")].map((i) => i.value);
    const next = { kinds: kinds.length === KINDS.length ? "" : kinds.join(",") || KINDS[0] };
    for (const k of FILTERS) next[k] = form.elements[k] ? form.elements[k].value.trim() : "";
    location.hash = hashFor(sid, "", next);
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  form.addEventListener("change", apply);
  const kindBoxes = h(
    "fieldset",
    { class: "kinds" },
    h("legend", {}, "Kinds"),
    KINDS.map((k) => h("label", { class: `kindbox kind-${k}` }, h("input", { type: "checkbox", name: "kind", value: k, checked: selected.has(k), dataset: { testid: `kind-${k}` } }), kindLabel(k))),
  );
  const text = (name, label, list) =>
    h(
      "label",
      {},
      label,
      h("input", { name, value: f[name] || "", list: list ? `${name}-list` : undefined, placeholder: "any", size: 14, dataset: { testid: `filter-${name}` } }),
      list ? h("datalist", { id: `${name}-list` }, list.map((v) => h("option", { value: v }))) : null,
    );
  form.append(
    kindBoxes,
    text("model", "Model", facets.models),
    text("persona", "Persona", facets.personas),
    text("user", "User"),
    h(
      "label",
      {},
      "Outcome",
      h(
        "select",
        { name: "success", dataset: { testid: "filter-success" } },
        [
          ["", "any"],
          ["true", "succeeded"],
          ["false", "failed"],
        ].map(([v, t]) => h("option", { value: v, selected: (f.success || "") === v ? "selected" : undefined }, t)),
      ),
    ),
    h("label", { title: "ISO 8601: a date, or a date and time; UTC when it has no offset" }, "From (UTC)", h("input", { name: "since", value: f.since || "", placeholder: "2025-03-01", size: 18, dataset: { testid: "filter-since" } })),
    h("label", { title: "ISO 8601, exclusive: records before this time" }, "To (UTC, exclusive)", h("input", { name: "until", value: f.until || "", placeholder: "2025-03-02T12:00", size: 18, dataset: { testid: "filter-until" } })),
    f.trace ? text("trace", "Trace") : h("input", { type: "hidden", name: "trace", value: "" }),
    h("button", { type: "submit" }, "Apply"),
    h("a", { href: hashFor(sid, "", {}), class: "reset" }, "Reset"),
  );
  return form;
}

/** The tree of rows as a table; clicking a row opens the record. */
export function rowsTable(sid, rows, testid, shownParent) {
  const body = h("tbody");
  for (const r of rows) {
    const link = `#/s/${encodeURIComponent(sid)}/r/${encodeURIComponent(r.id)}`;
    const indent = h("span", { class: "indent", style: `padding-left:${r.depth * 1.4}em` }, r.depth > 0 ? "└ " : "");
    const orphan = r.parentId && !r.parentOnPage && r.parentId !== shownParent ? h("a", { class: "muted small", href: `#/s/${encodeURIComponent(sid)}/r/${encodeURIComponent(r.parentId)}`, title: "the parent is on another page" }, " ↖ parent") : null;
    body.append(
      h(
        "tr",
        { class: `depth-${Math.min(r.depth, 4)}${r.success === false ? " failed" : ""}`, dataset: { testid: "timeline-row", kind: r.type, id: r.id, depth: String(r.depth) }, onclick: (e) => { if (e.target.tagName !== "A") location.hash = link; } },
        h("td", { class: "time" }, fmtTime(r.timestamp)),
        h("td", {}, indent, kindBadge(r.type)),
        h("td", { class: "what" }, h("a", { href: link, class: "label" }, r.label), orphan, r.detail ? h("div", { class: `detail${r.encrypted ? " encrypted" : ""}` }, r.detail) : null),
        h("td", { class: "center" }, statusMark(r.success)),
        h("td", { class: "num" }, r.durationSeconds !== undefined ? fmtSeconds(r.durationSeconds) : ""),
        h("td", { class: "num" }, r.tokens !== undefined ? fmtInt(r.tokens) : ""),
        // (the user's records across every session: an access request starts here)
        h("td", { class: "small" }, r.record.userId ? h("a", { href: `#/search?user=${encodeURIComponent(r.record.userId)}`, title: "this user's records in every session", dataset: { testid: "user-link" } }, r.record.userId) : ""),
      ),
    );
  }
  return h(
    "table",
    { class: "grid timeline", dataset: { testid } },
    h("thead", {}, h("tr", {}, ["Time (UTC)", "Kind", "What", "OK", "Duration", "Tokens", "User"].map((t) => h("th", {}, t)))),
    body,
  );
}

export function pager(sid, tab, f, next) {
  const base = { ...f };
  delete base.before;
  delete base.skip;
  return h(
    "div",
    { class: "pager" },
    f.before ? h("a", { class: "button", href: hashFor(sid, tab, base), dataset: { testid: "page-newest" } }, "⇤ Newest") : null,
    f.before ? h("button", { onclick: () => history.back() }, "← Newer") : null,
    next ? h("a", { class: "button", href: hashFor(sid, tab, { ...base, before: next.before, skip: next.skip ? String(next.skip) : "" }), dataset: { testid: "page-older" } }, "Older →") : h("span", { class: "muted small" }, "end of the log"),
  );
}

export async function renderTimeline(page, sid, query, stillCurrent) {
  const f = readFilters(query);
  const [data, stats] = await Promise.all([
    api(sessionPath(sid, "timeline"), { ...f, limit: 50 }),
    api(sessionPath(sid, "stats")).catch(() => ({ models: [], personas: [] })),
  ]);
  if (!stillCurrent()) return;
  const note = data.excludedKinds.length
    ? h("p", { class: "muted small" }, `Not shown: ${data.excludedKinds.map(kindLabel).join(", ")} (the model and outcome filters do not apply to them).`)
    : null;
  mount(
    page,
    filterBar(sid, f, stats),
    note,
    data.rows.length ? rowsTable(sid, data.rows, "timeline") : h("p", { class: "muted", dataset: { testid: "timeline-empty" } }, "No records match these filters."),
    pager(sid, "", f, data.next),
  );
}
