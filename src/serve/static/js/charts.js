// uPlot charts (canvas). uPlot is loaded on demand; without it the pages still work.
import { h, mount } from "./dom.js";

/** Series colours, in order (the tests look for the first one's pixels). */
export const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

let loading;
async function uplot() {
  loading ??= import("/vendor/uPlot.esm.js").then((m) => m.default).catch(() => null);
  return loading;
}

function frame(title, testid) {
  const plot = h("div", { class: "plot" });
  const box = h("figure", { class: "chart", dataset: { testid } }, h("figcaption", {}, title), plot);
  return { box, plot };
}

function widthOf(el) {
  return Math.max(280, Math.floor(el.getBoundingClientRect().width || 480) - 8);
}

/**
 * A bar or line chart. `x` are numbers (epoch seconds when `time`), `series` [{ label, values }].
 * `categories` names the x positions of a category chart (x = 0, 1, 2, …).
 */
export async function chart(container, { title, testid, x, series, time = false, bars = false, categories, xLabel, yLabel, yFormat }) {
  const { box, plot } = frame(title, testid);
  container.append(box);
  const U = await uplot();
  if (!U) {
    mount(plot, h("p", { class: "muted" }, "Charts need the uplot package, which is not installed."));
    return null;
  }
  if (x.length === 0) {
    mount(plot, h("p", { class: "muted" }, "No data."));
    return null;
  }
  const yValue = (u, v) => (v === null || v === undefined ? "–" : yFormat ? yFormat(v) : String(v));
  const step = time ? 3600 : 1;
  const lo = Math.min(...x) - step / 2 - (x.length === 1 ? step : 0);
  const hi = Math.max(...x) + step / 2 + (x.length === 1 ? step : 0);
  const opts = {
    width: widthOf(plot),
    height: 220,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time, range: [lo, hi] }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      categories ? { values: (u, splits) => splits.map((i) => (Number.isInteger(i) && categories[i] !== undefined ? categories[i] : "")), splits: () => categories.map((_, i) => i) } : {},
      { label: yLabel, size: 60, values: yFormat ? (u, splits) => splits.map(yFormat) : undefined },
    ],
    series: [
      { label: xLabel || (time ? "hour" : "x"), value: categories ? (u, v) => (v === null || v === undefined ? "–" : categories[v] ?? "") : time ? (u, v) => (v === null || v === undefined ? "–" : new Date(v * 1000).toISOString().slice(0, 13).replace("T", " ") + ":00 UTC") : undefined },
      ...series.map((s, i) => {
        const color = COLORS[i % COLORS.length];
        return bars
          ? { label: s.label, stroke: color, fill: color, width: 0, paths: U.paths.bars({ size: [0.7, 80], align: 0 }), points: { show: false }, value: yValue }
          : { label: s.label, stroke: color, width: 2, points: { show: true, size: 7, fill: color }, value: yValue };
      }),
    ],
  };
  return new U(opts, [x, ...series.map((s) => s.values)], plot);
}
