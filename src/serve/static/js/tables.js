// The tools and errors tables: one kind of the timeline, with that kind's columns.
import { api, sessionPath } from "./api.js";
import { asText, fmtSeconds, fmtTime, h, isEncrypted, mount, statusMark } from "./dom.js";
import { pager, readFilters } from "./timeline.js";

function short(v, max = 120) {
  if (v === undefined) return "";
  if (isEncrypted(v)) return h("span", { class: "encrypted" }, "[encrypted]");
  const s = asText(v).replace(/\s+/g, " ");
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const COLUMNS = {
  tool_usage: {
    title: "Tool usages",
    head: ["Time (UTC)", "Tool", "Operation", "OK", "Duration", "Parameters", "Result / error"],
    cells: (r) => [
      fmtTime(r.timestamp),
      r.toolName,
      r.operation,
      statusMark(r.success),
      fmtSeconds(r.durationSeconds),
      short(r.parameters),
      r.success === false ? h("span", { class: "fail" }, r.errorMessage || "failed") : short(r.result),
    ],
  },
  error: {
    title: "Errors",
    head: ["Time (UTC)", "Type", "Severity", "Message", "Context"],
    cells: (r) => [fmtTime(r.timestamp), r.errorType, h("span", { class: `sev sev-${r.severity}` }, r.severity), r.message, short(r.context)],
  },
};

/** The href of a tools or errors tab with these filters (empty ones left out). */
function tabHash(sid, tab, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") qs.set(k, v);
  const s = qs.toString();
  return `#/s/${encodeURIComponent(sid)}/${tab}${s ? `?${s}` : ""}`;
}

/** The From/To fields, as the timeline's (same names, same meaning: since inclusive, until exclusive). */
function rangeForm(sid, tab, f) {
  const form = h("form", { class: "filters", dataset: { testid: "range-filters" } });
  const apply = () => {
    location.hash = tabHash(sid, tab, { success: f.success, since: form.elements.since.value.trim(), until: form.elements.until.value.trim() });
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  form.addEventListener("change", apply);
  form.append(
    h("label", { title: "ISO 8601: a date, or a date and time; UTC when it has no offset" }, "From (UTC)", h("input", { name: "since", value: f.since || "", placeholder: "2025-03-01", size: 18, dataset: { testid: "filter-since" } })),
    h("label", { title: "ISO 8601, exclusive: records before this time" }, "To (UTC, exclusive)", h("input", { name: "until", value: f.until || "", placeholder: "2025-03-02T12:00", size: 18, dataset: { testid: "filter-until" } })),
    h("button", { type: "submit" }, "Apply"),
  );
  if (f.since || f.until) form.append(h("a", { href: tabHash(sid, tab, { success: f.success }), class: "reset", dataset: { testid: "range-reset" } }, "Whole session"));
  return form;
}

export async function renderTable(page, sid, kind, query, stillCurrent) {
  const f = readFilters(query);
  // (the timeline's since/until too: until 2026-12-05 these tabs had no time range, and a range
  // set on the timeline was lost on switching to them)
  const filters = { before: f.before, skip: f.skip, since: f.since, until: f.until, success: kind === "tool_usage" ? f.success : undefined };
  const data = await api(sessionPath(sid, "timeline"), { kinds: kind, limit: 50, ...filters });
  if (!stillCurrent()) return;
  const cfg = COLUMNS[kind];
  const tab = kind === "tool_usage" ? "tools" : "errors";
  const body = h("tbody");
  for (const row of data.rows) {
    const r = row.record;
    body.append(
      h(
        "tr",
        { class: r.success === false ? "failed" : "", dataset: { testid: `${tab}-row`, id: row.id }, onclick: () => (location.hash = `#/s/${encodeURIComponent(sid)}/r/${encodeURIComponent(row.id)}`) },
        cfg.cells(r).map((c) => h("td", {}, c ?? "")),
      ),
    );
  }
  const outcome =
    kind === "tool_usage"
      ? h(
          "div",
          { class: "filters" },
          "Show: ",
          [
            ["", "all"],
            ["true", "succeeded"],
            ["false", "failed"],
          ].map(([v, t]) => h("a", { class: `chip${(f.success || "") === v ? " active" : ""}`, href: tabHash(sid, tab, { success: v, since: f.since, until: f.until }) }, t)),
        )
      : null;
  const what = kind === "error" ? "errors" : f.success === "true" ? "successful tool usages" : f.success === "false" ? "failed tool usages" : "tool usages";
  const range = f.since || f.until ? ` ${f.since ? `from ${f.since}` : ""}${f.since && f.until ? " " : ""}${f.until ? `before ${f.until}` : ""} (UTC)` : "";
  mount(
    page,
    h("h2", {}, cfg.title),
    rangeForm(sid, tab, f),
    outcome,
    data.rows.length
      ? h("table", { class: "grid clickable", dataset: { testid: `${tab}-table` } }, h("thead", {}, h("tr", {}, cfg.head.map((t) => h("th", {}, t)))), body)
      : h("p", { class: "muted", dataset: { testid: `${tab}-empty` } }, `No ${what} recorded${range}.`),
    pager(sid, tab, f, data.next),
  );
}
