// The integrity panel: verifyAuditLog's verdict, problems and notes for one session.
import { api, sessionPath } from "./api.js";
import { fmtInt, h, mount } from "./dom.js";

function findings(items, cls, testid) {
  return h(
    "table",
    { class: `grid ${cls}`, dataset: { testid } },
    h("thead", {}, h("tr", {}, ["Kind", "File", "Seq", "Detail"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      items.map((p) => h("tr", {}, h("td", {}, h("code", {}, p.kind)), h("td", { class: "mono small" }, p.file || ""), h("td", { class: "num" }, p.seq ?? ""), h("td", {}, p.detail))),
    ),
  );
}

export async function renderIntegrity(page, sid, stillCurrent) {
  const r = await api(sessionPath(sid, "integrity"));
  if (!stillCurrent()) return;
  const selfOnly = r.notes.some((n) => n.kind === "self_consistent_only");
  const verdict = r.ok
    ? h(
        "div",
        { class: "verdict ok", dataset: { testid: "integrity-ok" } },
        h("strong", {}, selfOnly ? "✓ Self-consistent. " : "✓ Verified. "),
        `${fmtInt(r.recordsChecked)} records checked: every hash, every link to the previous record, sequence numbers, rotated segments and content files match.`,
        // (the verdict said "Verified" without a trusted key until 2026-12-05; the note saying why it
        // is not was in the notes table, under "not evidence of tampering")
        selfOnly ? " No trusted public key was checked against: someone who rewrote a whole chain (and its checkpoints) would not be caught. Start the viewer with --public-key <file> to check the signed checkpoints." : null,
      )
    : h(
        "div",
        { class: "verdict fail", dataset: { testid: "integrity-warning" } },
        h("strong", {}, `⚠ Integrity check failed: ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}. `),
        `The log was damaged or altered after it was written. ${fmtInt(r.recordsChecked)} records checked.`,
      );
  mount(
    page,
    verdict,
    h("h3", {}, `Problems (${r.problems.length})`),
    r.problems.length ? findings(r.problems, "problems", "integrity-problems") : h("p", { class: "muted" }, "None: no evidence of damage or tampering."),
    h("h3", {}, `Notes (${r.notes.length})`),
    h("p", { class: "muted small" }, "Notes are findings that are not evidence of tampering: a torn last line after a crash, records after the last signed checkpoint, a shredded key, no trusted public key given."),
    r.notes.length ? findings(r.notes, "notes", "integrity-notes") : h("p", { class: "muted" }, "None."),
  );
}
