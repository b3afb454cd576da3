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

export async function renderTable(page, sid, kind, query, stillCurrent) {
  const f = readFilters(query);
  const filters = { before: f.before, skip: f.skip, success: kind === "tool_usage" ? f.success : undefined };
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
          ].map(([v, t]) => h("a", { class: `chip${(f.success || "") === v ? " active" : ""}`, href: `#/s/${encodeURIComponent(sid)}/tools${v ? `?success=${v}` : ""}` }, t)),
        )
      : null;
  mount(
    page,
    h("h2", {}, cfg.title),
    outcome,
    data.rows.length
      ? h("table", { class: "grid clickable", dataset: { testid: `${tab}-table` } }, h("thead", {}, h("tr", {}, cfg.head.map((t) => h("th", {}, t)))), body)
      : h("p", { class: "muted" }, kind === "error" ? "No errors recorded. " : "No tool usages recorded."),
    pager(sid, tab, f, data.next),
  );
}
