// One record. A chat interaction gets the conversation page: full prompt and response (or a clear
// "encrypted" notice without a key), usage, timing, tool calls and the calls it made.
import { api, sessionPath } from "./api.js";
import { asText, facts, fmtInt, fmtSeconds, fmtTime, h, isEncrypted, kindBadge, mount, statusMark } from "./dom.js";
import { rowsTable } from "./timeline.js";

const ENVELOPE = new Set(["id", "type", "sessionId", "timestamp", "seq", "prevHash", "hash", "encrypted", "encryptedWithoutKey", "decryptionError"]);

// `reason`: why the key this server holds could not open it (a crypto-shredded subject's data key
// is gone; the notice said "this server has no key, restart with --key-file" of a server that had
// it until 2026-12-05, sending the reader after a key that no longer exists)
function encryptedNotice(what, reason) {
  if (reason) {
    return h("div", { class: "encrypted-box", dataset: { testid: "encrypted-notice" } }, h("strong", {}, `Encrypted: ${what.toLowerCase()} cannot be shown.`), " The key this server holds cannot open it: ", reason);
  }
  return h(
    "div",
    { class: "encrypted-box", dataset: { testid: "encrypted-notice" } },
    h("strong", {}, `Encrypted: ${what.toLowerCase()} cannot be shown.`),
    " This server has no key that opens it. Restart with ",
    h("code", {}, "audit-logger serve <dir> --key-file <file>"),
    " (or set AUDIT_LOGGER_KEY) to read it.",
  );
}

/** The reason a key gave for not opening a content file of `role` (from the content's problems), if any. */
function contentFailure(content, role) {
  const p = content.problems.find((x) => x.includes(`/${role}_`) && x.includes(" cannot be opened: "));
  return p ? p.slice(p.indexOf(" cannot be opened: ") + " cannot be opened: ".length) : undefined;
}

/** The reason a key gave for not opening the record's `field` (from its decryptionError), if any. */
function fieldFailure(rec, field) {
  if (typeof rec.decryptionError !== "string") return undefined;
  const part = rec.decryptionError.split("; ").find((x) => x.startsWith(`${field}: `));
  return part ? part.slice(field.length + 2) : undefined;
}

/** A userId as a link to that user's records in every session (the access request's page). */
function userLink(userId) {
  if (typeof userId !== "string" || userId === "") return undefined;
  return h("a", { href: `#/search?user=${encodeURIComponent(userId)}`, title: "this user's records in every session", dataset: { testid: "record-user" } }, userId);
}

/** A traceId as a link to the session's timeline of that trace. */
function traceLink(sid, traceId) {
  if (typeof traceId !== "string" || traceId === "") return undefined;
  return h("a", { href: `#/s/${encodeURIComponent(sid)}?trace=${encodeURIComponent(traceId)}`, dataset: { testid: "record-trace" } }, traceId);
}

/** The title of a record that is not a chat: what the timeline's row says of it. */
function recordTitle(r) {
  const str = (v, d) => (typeof v === "string" && v !== "" ? v : d);
  switch (r.type) {
    case "tool_usage":
      return `${str(r.toolName, "tool")}.${str(r.operation, "?")}`;
    case "persona_activity":
      return `${str(r.personaName, "persona")}: ${str(r.activityType, "?")}`;
    case "file_operation":
      return `${str(r.operation, "file")} ${str(r.filePath, "")}`.trim();
    case "performance_metric":
      return str(r.metricName, "metric");
    case "error":
      return `${str(r.errorType, "error")} (${str(r.severity, "error")})`;
    default:
      return String(r.type);
  }
}

function textBlock(title, text, format, testid) {
  let shown = text;
  if (format === "json") {
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // keep the exact text
    }
  }
  return h("section", { class: "message" }, h("h3", {}, title, format === "json" ? h("span", { class: "muted small" }, " (structured, shown as JSON)") : null), h("pre", { class: "content", dataset: { testid } }, shown));
}

function contentSection(rec, content) {
  const out = [];
  if (content) {
    const badge = content.verified
      ? h("span", { class: "pill ok", dataset: { testid: "content-verified" }, title: "the files match the digests in the hash-chained record" }, "✓ content verified")
      : content.checks && content.checks.record === false
        ? h("span", { class: "pill fail", dataset: { testid: "content-unverified" }, title: content.problems.join("; ") }, "⚠ the record was changed after it was written")
        : h("span", { class: "pill fail", dataset: { testid: "content-unverified" }, title: content.problems.join("; ") }, "⚠ content does not match its record");
    out.push(h("div", { class: "content-head" }, badge, content.encrypted ? h("span", { class: "pill muted" }, "encrypted on disk") : null));
    if (!content.verified && content.problems.length) out.push(h("ul", { class: "problems" }, content.problems.map((p) => h("li", {}, p))));
    for (const role of ["prompt", "response"]) {
      const text = content[role];
      const title = role === "prompt" ? "Prompt" : "Response";
      if (content[`${role}Captured`] === false) out.push(h("section", { class: "message" }, h("h3", {}, title), h("p", { class: "muted", dataset: { testid: `not-captured-${role}` } }, `The ${role} was not captured (the call was recorded without its content).`)));
      else if (text !== null) out.push(textBlock(title, text, content[`${role}Format`], `full-${role}`));
      else if (content.encrypted) out.push(h("section", { class: "message" }, h("h3", {}, title), encryptedNotice(`The ${role}`, contentFailure(content, role))));
      else out.push(h("section", { class: "message" }, h("h3", {}, title), h("p", { class: "error" }, `The ${role} file is missing.`)));
    }
    return out;
  }
  // no full content stored (e.g. the minimal preset): previews only
  const notCaptured = ["prompt", "response"].filter((role) => rec[`${role}Captured`] === false);
  if (notCaptured.length > 0) out.push(h("p", { class: "muted small", dataset: { testid: "not-captured" } }, `The ${notCaptured.join(" and ")} ${notCaptured.length > 1 ? "were" : "was"} not captured (the call was recorded without ${notCaptured.length > 1 ? "its content" : "it"}).`));
  if (notCaptured.length < 2) out.push(h("p", { class: "muted small" }, "Full content was not stored for this interaction; showing the previews in the record."));
  for (const [field, title] of [
    ["promptPreview", "Prompt preview"],
    ["responsePreview", "Response preview"],
  ]) {
    const v = rec[field];
    if (v === undefined) continue;
    if (isEncrypted(v)) out.push(h("section", { class: "message" }, h("h3", {}, title), encryptedNotice(title, fieldFailure(rec, field))));
    else out.push(textBlock(title, String(v), "text", field));
  }
  return out;
}

function chatPage(sid, d) {
  const r = d.record;
  const usage = facts([
    ["Tokens", fmtInt(r.tokensUsed)],
    ["Input tokens", r.inputTokens !== undefined ? fmtInt(r.inputTokens) : undefined],
    ["Output tokens", r.outputTokens !== undefined ? fmtInt(r.outputTokens) : undefined],
    ["Prompt length", r.promptCaptured === false ? "not captured" : `${fmtInt(r.promptLength)} chars`],
    ["Response length", r.responseCaptured === false ? "not captured" : `${fmtInt(r.responseLength)} chars`],
    ["Provider usage", r.usage !== undefined ? h("pre", { class: "small" }, asText(r.usage)) : undefined],
  ]);
  const timing = facts([
    ["Time", fmtTime(r.timestamp)],
    ["Duration", fmtSeconds(r.durationSeconds)],
    ["First token after", r.timeToFirstTokenSeconds !== undefined ? fmtSeconds(r.timeToFirstTokenSeconds) : undefined],
    ["Finish reason", r.finishReason],
    ["Status code", r.statusCode],
  ]);
  const who = facts([
    ["Model", r.model],
    ["Provider", r.provider],
    ["Type", r.interactionType],
    ["Persona", r.persona],
    ["User", userLink(r.userId)],
    ["Trace", traceLink(sid, r.traceId)],
    ["Outcome", r.success === false ? h("span", { class: "fail" }, `✗ ${r.errorMessage || "failed"}`) : h("span", { class: "ok" }, "✓ succeeded")],
  ]);
  let toolCalls = null;
  if (r.toolCalls !== undefined) {
    toolCalls = h("section", {}, h("h3", {}, "Tool calls requested by the model"), isEncrypted(r.toolCalls) ? encryptedNotice("The tool calls") : h("pre", { class: "content", dataset: { testid: "tool-calls" } }, asText(r.toolCalls)));
  }
  return [
    h("div", { class: "cards3" }, h("div", { class: "card" }, h("h3", {}, "Call"), who), h("div", { class: "card" }, h("h3", {}, "Usage"), usage), h("div", { class: "card" }, h("h3", {}, "Timing"), timing)),
    h("div", { class: "conversation", dataset: { testid: "conversation" } }, contentSection(r, d.content)),
    toolCalls,
  ];
}

function genericPage(sid, d) {
  const r = d.record;
  // (when, who and which request first: until 2026-12-05 a tool's, an error's or a persona's page
  // showed no time at all but in the stored JSON, and the user and trace as plain text)
  const head = [
    ["Time (UTC)", h("span", { dataset: { testid: "record-time" } }, fmtTime(r.timestamp))],
    ["User", userLink(r.userId)],
    ["Trace", traceLink(sid, r.traceId)],
  ];
  const pairs = Object.entries(r)
    .filter(([k]) => !ENVELOPE.has(k) && k !== "userId" && k !== "traceId")
    .map(([k, v]) => [k, isEncrypted(v) ? encryptedNotice(k) : typeof v === "object" ? h("pre", { class: "small" }, asText(v)) : asText(v)]);
  return [h("div", { class: "card" }, facts([...head, ...pairs]))];
}

export async function renderRecord(page, sid, id, stillCurrent, query) {
  const d = await api(sessionPath(sid, "records", id));
  if (!stillCurrent()) return;
  const r = d.record;
  const title = r.type === "chat_interaction" ? `${r.interactionType || "chat"} · ${r.model || ""}` : recordTitle(r);
  // (opened from the search of records across sessions: the way back to those results; only a
  // #/search fragment is taken, nothing else the URL could carry)
  const from = query ? query.get("from") : null;
  const back = typeof from === "string" && /^#\/search(\?|$)/.test(from) ? h("p", { class: "small" }, h("a", { href: from, dataset: { testid: "back-to-search" } }, "← back to the records found")) : null;
  const parent = d.parent
    ? h("p", { class: "small" }, "Part of ", kindBadge(d.parent.type), " ", h("a", { href: `#/s/${encodeURIComponent(sid)}/r/${encodeURIComponent(d.parent.id)}`, dataset: { testid: "parent-link" } }, d.parent.label))
    : null;
  const children = d.children.length
    ? h("section", {}, h("h3", {}, `Calls made during this ${r.type === "chat_interaction" ? "interaction" : "record"} (${d.children.length}${d.moreChildren ? "+" : ""})`), rowsTable(sid, d.children, "children", r.id))
    : null;
  mount(
    page,
    back,
    h("h2", { dataset: { testid: "record-title" } }, kindBadge(r.type), " ", title, " ", statusMark(r.success)),
    h("p", { class: "muted small mono" }, `id ${r.id} · seq ${r.seq} · hash ${String(r.hash).slice(0, 16)}…`),
    parent,
    r.decryptionError ? h("p", { class: "error" }, `The key could not open some fields: ${r.decryptionError}`) : null,
    r.type === "chat_interaction" ? chatPage(sid, d) : genericPage(sid, d),
    children,
    h("details", {}, h("summary", {}, "The stored record (JSON)"), h("pre", { class: "small" }, JSON.stringify(r, null, 2))),
  );
}
