// Analytics: totals, charts drawn from server-side aggregates, and the per-model / per-tool tables.
import { api, sessionPath } from "./api.js";
import { chart } from "./charts.js";
import { fmtCost, fmtInt, fmtPct, fmtSeconds, h, mount } from "./dom.js";

function card(label, value, testid) {
  return h("div", { class: "stat" }, h("div", { class: "stat-value", dataset: { testid } }, value), h("div", { class: "stat-label" }, label));
}

/** The cost card's label, with what the cost leaves out. */
function costTitle(t) {
  const short = [t.unpricedModels.length ? `no price: ${t.unpricedModels.join(", ")}` : "", t.uncostedCalls ? `${fmtInt(t.uncostedCalls)} call(s) not costed: no token counts or split` : ""].filter(Boolean);
  return short.length ? `cost (${short.join("; ")})` : "cost";
}

function bucketLabels(edges) {
  const fmt = (s) => (s < 1 ? `${Math.round(s * 1000)}ms` : `${s}s`);
  return [...edges.map((e) => `≤${fmt(e)}`), `>${fmt(edges[edges.length - 1])}`];
}

function modelsTable(report) {
  const rows = Object.entries(report.models).map(([name, m]) =>
    h(
      "tr",
      {},
      h("td", {}, name),
      h("td", { class: "num" }, fmtInt(m.calls)),
      h("td", { class: "num" }, fmtInt(m.failures)),
      h("td", { class: "num" }, fmtInt(m.tokens)),
      h("td", { class: "num" }, m.costUsd === null ? "no price" : fmtCost(m.costUsd)),
      h("td", { class: "num" }, fmtSeconds(m.latencySeconds.p50)),
      h("td", { class: "num" }, fmtSeconds(m.latencySeconds.p95)),
      h("td", { class: "num" }, fmtSeconds(m.latencySeconds.p99)),
      h("td", { class: "num" }, fmtSeconds(m.latencySeconds.max)),
    ),
  );
  return h("table", { class: "grid", dataset: { testid: "models-table" } }, h("thead", {}, h("tr", {}, ["Model", "Calls", "Failed", "Tokens", "Cost", "p50", "p95", "p99", "max"].map((t) => h("th", {}, t)))), h("tbody", {}, rows));
}

function toolsTable(report) {
  const rows = Object.entries(report.tools).map(([name, t]) =>
    h(
      "tr",
      {},
      h("td", {}, name),
      h("td", { class: "num" }, fmtInt(t.calls)),
      h("td", { class: "num" }, fmtPct(t.successRate)),
      h("td", { class: "num" }, fmtSeconds(t.latencySeconds.p95)),
      h("td", { class: "small" }, t.topErrors.map((e) => `${e.message} (${e.count})`).join("; ")),
    ),
  );
  return h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["Tool", "Calls", "Success", "p95", "Top errors"].map((t) => h("th", {}, t)))), h("tbody", {}, rows));
}

export async function renderAnalytics(page, sid, stillCurrent) {
  const { report, charts } = await api(sessionPath(sid, "analytics"));
  if (!stillCurrent()) return;
  const t = report.totals;
  const grid = h("div", { class: "charts" });
  mount(
    page,
    h(
      "div",
      { class: "stats" },
      card("records", fmtInt(t.records), "total-records"),
      card("chat interactions", fmtInt(t.chatInteractions), "total-chats"),
      card("tool calls", fmtInt(t.toolUsages), "total-tools"),
      card("errors", fmtInt(t.errors), "total-errors"),
      card("tokens", fmtInt(t.tokens), "total-tokens"),
      card(costTitle(t), fmtCost(t.costUsd), "total-cost"),
    ),
    grid,
    h("h3", {}, "Models"),
    Object.keys(report.models).length ? modelsTable(report) : h("p", { class: "muted" }, "No chat interactions."),
    h("h3", {}, "Tools"),
    Object.keys(report.tools).length ? toolsTable(report) : h("p", { class: "muted" }, "No tool usages."),
    h("p", { class: "muted small" }, `Percentiles: ${report.percentileMethod}. Period ${report.period.start || "–"} to ${report.period.end || "–"} (UTC).`),
  );
  const hr = charts.hourly;
  await chart(grid, { title: "Tokens per hour", testid: "chart-tokens", x: hr.hours, time: true, bars: true, series: [{ label: "tokens", values: hr.tokens }] });
  await chart(grid, { title: "Cost per hour (USD)", testid: "chart-cost", x: hr.hours, time: true, bars: true, series: [{ label: "cost", values: hr.costUsd }], yFormat: (v) => `$${v.toFixed(v < 1 ? 3 : 2)}` });
  const models = Object.entries(charts.latency.models);
  const labels = bucketLabels(charts.latency.edges);
  await chart(grid, {
    title: "Latency distribution per model (calls per bucket)",
    testid: "chart-latency",
    xLabel: "latency",
    x: labels.map((_, i) => i),
    categories: labels,
    series: models.map(([name, counts]) => ({ label: name, values: counts })),
  });
  await chart(grid, {
    title: "Tool success rate (%)",
    testid: "chart-tools",
    xLabel: "tool",
    x: charts.tools.map((_, i) => i),
    categories: charts.tools.map((x) => x.name),
    bars: true,
    series: [{ label: "success %", values: charts.tools.map((x) => Math.round(x.successRate * 1000) / 10) }],
  });
  await chart(grid, { title: "Errors per hour", testid: "chart-errors", x: hr.hours, time: true, bars: true, series: [{ label: "errors", values: hr.errors }] });
}
