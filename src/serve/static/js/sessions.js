// The sessions list: the cheap listing first, then each row's figures and verdict as they arrive.
import { api, sessionPath } from "./api.js";
import { fmtCost, fmtInt, fmtSeconds, fmtTime, h, mount } from "./dom.js";

const PAGE = 100;

function cell(testid, text, cls) {
  return h("td", { class: cls || "", dataset: { testid } }, text);
}

/**
 * A session whose records are gone (retention, or by hand) but that a legal hold names, or whose
 * chain of holds and shreddings, key store or checkpoints are left: listed so that the hold or the
 * shredding is seen, with no figures to fetch (found by the viewer pass, 2026-12-05: it was not
 * listed at all).
 */
function goneRow(s) {
  const r = s.remains || { files: [], holds: [] };
  const what = [
    r.holds.length ? `${r.holds.length === 1 ? "a legal hold in force names it" : `${r.holds.length} legal holds in force name it`} (${r.holds.map((x) => x.reason || x.holdId).join("; ")})` : "",
    r.files.length ? `left: ${r.files.join(", ")}` : "",
  ].filter(Boolean);
  return h(
    "tr",
    { class: "records-gone", dataset: { testid: "session-row", session: s.sessionId, recordsGone: "true" } },
    h("td", {}, s.sessionId),
    cell("status", "records gone", "status-unknown"),
    h("td", { colspan: "9", class: "small", dataset: { testid: "remains" } }, `Its records are gone (removed by retention, or by hand)${what.length ? `; ${what.join("; ")}` : ""}. `, h("a", { href: "#/events" }, "Holds, shredding & removals")),
  );
}

function row(s) {
  if (s.recordsGone) return goneRow(s);
  const link = `#/s/${encodeURIComponent(s.sessionId)}`;
  const tr = h(
    "tr",
    { dataset: { testid: "session-row", session: s.sessionId } },
    h("td", {}, h("a", { href: link, dataset: { testid: "session-link" } }, s.sessionId)),
    cell("status", s.status, `status-${s.status}`),
    cell("start", fmtTime(s.startTime)),
    cell("duration", "…", "num"),
    cell("chats", fmtInt(s.counts.chat_interaction), "num"),
    cell("tools", fmtInt(s.counts.tool_usage), "num"),
    cell("errors", fmtInt(s.counts.error), "num"),
    cell("records", fmtInt(s.totalRecords), "num"),
    cell("tokens", "…", "num"),
    cell("cost", "…", "num"),
    cell("integrity", "…"),
  );
  return tr;
}

async function fill(tr, sid, stillCurrent) {
  const set = (id, value, cls) => {
    const td = tr.querySelector(`[data-testid="${id}"]`);
    mount(td, value);
    if (cls) td.className = cls;
  };
  try {
    const st = await api(sessionPath(sid, "stats"));
    if (!stillCurrent()) return;
    set("start", fmtTime(st.startTime));
    set("duration", fmtSeconds(st.durationSeconds), "num");
    set("tokens", fmtInt(st.tokens), "num");
    const short = [st.unpricedModels.length ? `no price for ${st.unpricedModels.join(", ")}` : "", st.uncostedCalls ? `${fmtInt(st.uncostedCalls)} call(s) not costed: no token counts or no input/output split` : ""].filter(Boolean);
    set("cost", short.length ? `${fmtCost(st.costUsd)}*` : fmtCost(st.costUsd), "num");
    if (short.length) tr.querySelector('[data-testid="cost"]').title = short.join("; ");
  } catch (err) {
    set("tokens", "?", "num");
  }
  try {
    const v = await api(sessionPath(sid, "integrity"));
    if (!stillCurrent()) return;
    const link = `#/s/${encodeURIComponent(sid)}/integrity`;
    set(
      "integrity",
      // ("verified" only against a trusted key: without one the verifier itself says self-consistent
      // only, and a chain rewritten whole would pass; until 2026-12-05 this said "✓ verified" then too)
      v.ok
        ? h(
            "a",
            { href: link, class: "pill ok", title: v.notes.some((n) => n.kind === "self_consistent_only") ? "no trusted public key: a chain rewritten whole would not be caught (serve --public-key)" : "" },
            `${v.notes.some((n) => n.kind === "self_consistent_only") ? "✓ self-consistent" : "✓ verified"}${v.notes.length ? ` (${v.notes.length} note${v.notes.length === 1 ? "" : "s"})` : ""}`,
          )
        : h("a", { href: link, class: "pill fail" }, `⚠ ${v.problems.length} problem${v.problems.length === 1 ? "" : "s"}`),
    );
  } catch (err) {
    set("integrity", "?");
  }
}

export async function renderSessions(main, stillCurrent) {
  const { sessions } = await api("sessions");
  if (!stillCurrent()) return;
  if (sessions.length === 0) {
    mount(main, h("h1", {}, "Sessions"), h("p", { class: "muted" }, "No sessions in this directory yet."));
    return;
  }
  const body = h("tbody");
  const table = h(
    "table",
    { class: "grid", dataset: { testid: "sessions-table" } },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Session", "Status", "Start (UTC)", "Duration", "Chats", "Tools", "Errors", "Records", "Tokens", "Cost", "Integrity"].map((t) => h("th", {}, t)),
      ),
    ),
    body,
  );
  const more = h("div", { class: "pager" });
  let shown = 0;
  const showMore = () => {
    const next = sessions.slice(shown, shown + PAGE);
    shown += next.length;
    const rows = next.map((s) => [row(s), s.sessionId]);
    for (const [tr] of rows) body.append(tr);
    mount(more, shown < sessions.length ? h("button", { onclick: showMore }, `Show ${Math.min(PAGE, sessions.length - shown)} more of ${sessions.length - shown}`) : "");
    // one session at a time: the server reads big sessions once and caches the figures
    void (async () => {
      for (const [tr, sid] of rows) {
        if (!stillCurrent()) return;
        if (tr.dataset.recordsGone) continue;
        await fill(tr, sid, stillCurrent);
      }
    })();
  };
  const note = h("p", { class: "muted small", dataset: { testid: "sessions-compliance-note" } });
  mount(main, h("h1", {}, "Sessions ", h("span", { class: "muted small" }, `${sessions.length} in this directory, newest first`)), note, table, more);
  showMore();
  // what the list cannot show: sessions removed by retention, holds, shreddings
  void api("events", { limit: 1 })
    .then((ev) => {
      if (!stillCurrent()) return;
      const n = (count, one, many) => `${count} ${count === 1 ? one : many}`;
      const inForce = ev.holds.filter((x) => !x.released).length;
      const parts = [
        n(inForce, "legal hold in force", "legal holds in force"),
        n(ev.countsByType.retention_pruned, "removal by retention", "removals by retention"),
        n(ev.countsByType.subject_shredded, "crypto-shredding", "crypto-shreddings"),
      ];
      mount(note, `${parts.join(" · ")} recorded: `, h("a", { href: "#/events" }, "see holds, shredding & removals"), ev.holdsFileError ? h("span", { class: "fail" }, ` (⚠ ${ev.holdsFileError})`) : null);
    })
    .catch(() => undefined);
}
