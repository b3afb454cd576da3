// The router: every page lives under the URL fragment, so the server serves one document.
//   #/                         sessions
//   #/s/<sid>[?filters]        timeline
//   #/s/<sid>/tools[?success=&since=&until=]   tool usages
//   #/s/<sid>/errors[?since=&until=]           errors
//   #/s/<sid>/analytics        charts
//   #/s/<sid>/integrity        the verifier's findings
//   #/s/<sid>/r/<id>[?from=#/search…]   one record (the chat page for a chat interaction; from: the search it was opened from)
//   #/events[?type=&since=&until=]   legal holds, crypto-shreddings and retention removals
//   #/search[?user=&since=&until=&kinds=]   records across every session (a user's access request)
import { api } from "./api.js";
import { h, mount } from "./dom.js";
import { renderSessions } from "./sessions.js";
import { renderSessionFrame } from "./frame.js";
import { renderTimeline } from "./timeline.js";
import { renderTable } from "./tables.js";
import { renderRecord } from "./record.js";
import { renderAnalytics } from "./analytics.js";
import { renderIntegrity } from "./integrity.js";
import { renderEvents } from "./events.js";
import { renderSearch } from "./search.js";

const main = document.getElementById("main");
let generation = 0;

/** The current route: path segments and query of the fragment. */
export function currentRoute() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const segments = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  return { segments, query };
}

async function render() {
  const my = ++generation;
  const stillCurrent = () => my === generation;
  const { segments, query } = currentRoute();
  try {
    if (segments.length === 0) {
      await renderSessions(main, stillCurrent);
      return;
    }
    if (segments[0] === "events" && segments.length === 1) {
      await renderEvents(main, query, stillCurrent);
      return;
    }
    if (segments[0] === "search" && segments.length === 1) {
      await renderSearch(main, query, stillCurrent);
      return;
    }
    if (segments[0] === "s" && segments[1]) {
      const sid = segments[1];
      const tab = segments[2] || "timeline";
      const body = renderSessionFrame(main, sid, tab, query);
      if (tab === "timeline") await renderTimeline(body, sid, query, stillCurrent);
      else if (tab === "tools") await renderTable(body, sid, "tool_usage", query, stillCurrent);
      else if (tab === "errors") await renderTable(body, sid, "error", query, stillCurrent);
      else if (tab === "analytics") await renderAnalytics(body, sid, stillCurrent);
      else if (tab === "integrity") await renderIntegrity(body, sid, stillCurrent);
      else if (tab === "r" && segments[3]) await renderRecord(body, sid, segments[3], stillCurrent, query);
      else mount(body, h("p", { class: "error" }, "Unknown page."));
      return;
    }
    mount(main, h("p", { class: "error" }, "Unknown page. "), h("a", { href: "#/" }, "Back to the sessions"));
  } catch (err) {
    if (!stillCurrent()) return;
    const target = main.querySelector("#page") || main;
    mount(target, h("p", { class: "error", dataset: { testid: "page-error" } }, String(err && err.message ? err.message : err)));
  }
}

async function header() {
  try {
    const info = await api("info");
    document.getElementById("where").textContent = info.auditPath;
    const ks = document.getElementById("keystate");
    ks.textContent = info.hasKey ? "key loaded: encrypted content is shown" : "no key: encrypted content stays hidden";
    ks.className = `keystate ${info.hasKey ? "ok" : "muted"}`;
  } catch (err) {
    document.getElementById("where").textContent = String(err.message || err);
  }
}

window.addEventListener("hashchange", render);
void header();
void render();
