// Legal holds, crypto-shreddings and retention removals of the whole directory (or store): the
// chained audit_event records of every session, and the holds they place and release. A session
// that cleanup removed is gone from the sessions list; its removal record is here.
import { api } from "./api.js";
import { fmtInt, fmtTime, h, mount } from "./dom.js";

const TYPES = [
  ["legal_hold_placed", "hold placed"],
  ["legal_hold_released", "hold released"],
  ["subject_shredded", "subject shredded"],
  ["retention_pruned", "removed by retention"],
];
const TYPE_LABEL = Object.fromEntries(TYPES);

const list = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === "string") : []);
const scopeText = (scope) => (scope === "all" ? "every session" : `session ${scope}`);

/** What one event says, in words: [title, detail]. */
export function describeEvent(e) {
  const d = e.details && typeof e.details === "object" ? e.details : {};
  switch (e.eventType) {
    case "legal_hold_placed":
      return [`Legal hold placed on ${scopeText(d.scope)}`, `hold ${d.holdId ?? "?"}`];
    case "legal_hold_released":
      return [`Legal hold released on ${scopeText(d.scope)}`, `hold${list(d.holdIds).length === 1 ? "" : "s"} ${list(d.holdIds).join(", ") || "none in force"}`];
    case "subject_shredded": {
      const keys = list(d.keyIds);
      return [`Subject crypto-shredded: ${keys.length} data key${keys.length === 1 ? "" : "s"} destroyed`, keys.length ? `key ids ${keys.join(", ")} (the record never names the user)` : "no data keys held for that subject (the request is recorded anyway)"];
    }
    case "retention_pruned": {
      const files = list(d.files);
      const policy = d.policy && typeof d.policy === "object" ? `policy: max ${d.policy.maxLogAgeDays} days, min ${d.policy.minRetentionDays} days` : "";
      if (d.scope === "session") {
        const more = [list(d.removedSessions).length ? `it had removed ${list(d.removedSessions).join(", ")}` : "", list(d.shreddedKeyIds).length ? `shredded key ids it recorded: ${list(d.shreddedKeyIds).join(", ")}` : ""].filter(Boolean);
        return [`Session ${d.sessionId ?? "?"} removed by retention`, [`last activity ${fmtTime(d.lastActivity)}`, `${fmtInt(files.length)} file${files.length === 1 ? "" : "s"}`, policy, ...more].filter(Boolean).join("; ")];
      }
      return [
        `Oldest ${d.kind ?? "?"} segments of session ${d.sessionId ?? "?"} removed by retention`,
        [`segments ${Array.isArray(d.segments) ? d.segments.join(", ") : "?"}`, `records up to seq ${d.lastSeq ?? "?"}`, `newest record removed ${fmtTime(d.newestRecordTime)}`, policy].filter(Boolean).join("; "),
      ];
    }
    default:
      return [e.eventType || "audit event", ""];
  }
}

function holdsTable(holds) {
  return h(
    "table",
    { class: "grid", dataset: { testid: "holds-table" } },
    h("thead", {}, h("tr", {}, ["State", "Scope", "Reason", "Placed (UTC)", "By session", "Released (UTC)", "Release reason", "Hold id"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      holds.map((x) =>
        h(
          "tr",
          { dataset: { testid: "hold-row", hold: x.holdId, state: x.released ? "released" : "in-force" } },
          h("td", {}, x.released ? h("span", { class: "muted" }, "released") : h("strong", { class: "warn" }, "in force"), x.inHoldsFile === false && !x.released ? h("div", { class: "fail small" }, "not in legal_holds.json") : null, x.inHoldsFile === true && x.released ? h("div", { class: "fail small" }, "still in legal_holds.json") : null),
          h("td", {}, scopeText(x.scope)),
          h("td", {}, x.reason ?? ""),
          h("td", { class: "time" }, fmtTime(x.placedAt)),
          h("td", { class: "small" }, x.placedBySession ? h("a", { href: `#/s/${encodeURIComponent(x.placedBySession)}` }, x.placedBySession) : "–"),
          h("td", { class: "time" }, x.released ? fmtTime(x.released.at) : ""),
          h("td", {}, x.released ? x.released.reason ?? "" : ""),
          h("td", { class: "mono small" }, x.holdId),
        ),
      ),
    ),
  );
}

function eventsTable(events) {
  return h(
    "table",
    { class: "grid", dataset: { testid: "events-table" } },
    h("thead", {}, h("tr", {}, ["Time (UTC)", "Event", "What", "Reason", "Recorded by session", "Seq"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      events.map((e) => {
        const [title, detail] = describeEvent(e);
        return h(
          "tr",
          { dataset: { testid: "event-row", type: e.eventType, session: e.sessionId } },
          h("td", { class: "time" }, fmtTime(e.timestamp)),
          h("td", {}, h("span", { class: `badge event-${e.eventType}` }, TYPE_LABEL[e.eventType] || e.eventType)),
          h("td", { class: "what" }, h("span", { class: "label" }, title), detail ? h("div", { class: "small muted" }, detail) : null),
          h("td", {}, e.reason ?? ""),
          h("td", { class: "small" }, h("a", { href: `#/s/${encodeURIComponent(e.sessionId)}/integrity` }, e.sessionId)),
          h("td", { class: "num" }, e.seq ?? ""),
        );
      }),
    ),
  );
}

function filterForm(f) {
  const form = h("form", { class: "filters", dataset: { testid: "events-filters" } });
  const selected = new Set((f.type || "").split(",").filter(Boolean));
  form.append(
    h(
      "fieldset",
      { class: "kinds" },
      h("legend", {}, "Events"),
      TYPES.map(([t, label]) => h("label", { class: "kindbox" }, h("input", { type: "checkbox", name: "type", value: t, checked: selected.size === 0 || selected.has(t), dataset: { testid: `event-type-${t}` } }), label)),
    ),
    h("label", {}, "From (UTC)", h("input", { name: "since", value: f.since || "", placeholder: "2025-03-01", size: 20, dataset: { testid: "filter-since" } })),
    h("label", {}, "To (UTC, exclusive)", h("input", { name: "until", value: f.until || "", placeholder: "2025-04-01T00:00", size: 20, dataset: { testid: "filter-until" } })),
    h("button", { type: "submit" }, "Apply"),
    h("a", { href: "#/events", class: "reset" }, "Reset"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const types = [...form.querySelectorAll("input[name=type]:checked")].map((i) => i.value);
    const qs = new URLSearchParams();
    if (types.length && types.length < TYPES.length) qs.set("type", types.join(","));
    for (const k of ["since", "until"]) if (form.elements[k].value.trim()) qs.set(k, form.elements[k].value.trim());
    location.hash = `#/events${qs.size ? `?${qs}` : ""}`;
  });
  return form;
}

export async function renderEvents(main, query, stillCurrent) {
  const f = { type: query.get("type") || "", since: query.get("since") || "", until: query.get("until") || "" };
  mount(main, h("h1", {}, "Legal holds, crypto-shredding and removals"), filterForm(f), h("section", { id: "page" }, h("p", { class: "muted" }, "Loading…")));
  const r = await api("events", f);
  if (!stillCurrent()) return;
  const inForce = r.holds.filter((x) => !x.released).length;
  mount(
    main.querySelector("#page"),
    r.holdsFileError ? h("div", { class: "banner fail", dataset: { testid: "holds-file-error" } }, `⚠ ${r.holdsFileError}`) : null,
    h("h3", {}, `Legal holds (${fmtInt(inForce)} in force, ${fmtInt(r.holds.length - inForce)} released)`),
    h("p", { class: "muted small" }, "While a hold is in force, cleanup removes nothing in its scope. Every hold ever placed is listed, whatever the time range."),
    r.holds.length ? holdsTable(r.holds) : h("p", { class: "muted", dataset: { testid: "holds-empty" } }, "No legal hold was ever placed."),
    h("h3", {}, `Events (${fmtInt(r.matched)}${r.matched > r.events.length ? `, newest ${fmtInt(r.events.length)} shown` : ""})`),
    h("p", { class: "muted small" }, "Each is a chained, hash-linked record of the session that acted (audit_maintenance for the audit-logger cleanup and shred commands). A session removed by retention no longer appears in the sessions list: its removal is recorded here."),
    r.events.length ? eventsTable(r.events) : h("p", { class: "muted", dataset: { testid: "events-empty" } }, "No hold, shredding or removal recorded in this range."),
  );
}
