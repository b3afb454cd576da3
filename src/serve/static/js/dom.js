// DOM and formatting helpers. Text always goes in through textContent, never as HTML.

/**
 * Creates an element: h("a", { href: "#/", class: "x", dataset: { testid: "y" } }, "text", child)
 * Attributes starting with "on" are listeners.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function fmtInt(n) {
  return typeof n === "number" && Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–";
}

export function fmtCost(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "–";
  return n === 0 ? "$0" : n < 0.01 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`;
}

export function fmtSeconds(s) {
  if (typeof s !== "number" || !Number.isFinite(s)) return "–";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  const hours = Math.floor(s / 3600);
  return `${hours} h ${Math.round((s % 3600) / 60)} min`;
}

export function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace("T", " ").replace("Z", "").slice(0, 23);
}

export function fmtPct(x) {
  return typeof x === "number" && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "–";
}

const KIND_LABELS = {
  chat_interaction: "chat",
  tool_usage: "tool",
  persona_activity: "persona",
  file_operation: "file",
  performance_metric: "metric",
  error: "error",
};

export const KINDS = Object.keys(KIND_LABELS);

export function kindLabel(kind) {
  return KIND_LABELS[kind] || kind;
}

export function kindBadge(kind) {
  return h("span", { class: `badge kind-${kind}` }, kindLabel(kind));
}

export function statusMark(success) {
  if (success === true) return h("span", { class: "ok", title: "success" }, "✓");
  if (success === false) return h("span", { class: "fail", title: "failed" }, "✗");
  return h("span", { class: "muted" }, "·");
}

/** A value as display text: strings as they are, everything else as indented JSON. */
export function asText(v) {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  return JSON.stringify(v, null, 2);
}

export function isEncrypted(v) {
  return typeof v === "object" && v !== null && typeof v.$enc === "string";
}

/** A definition list from [label, value] pairs (values may be nodes); empty values are left out. */
export function facts(pairs) {
  const dl = h("dl", { class: "facts" });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "") continue;
    dl.append(h("dt", {}, k), h("dd", {}, v));
  }
  return dl;
}
