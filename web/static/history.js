// The history page: every plan version; pick two and see what changed.
"use strict";

(() => {
  const { el, fill, shortSha, num, skills, when, getJSON, live } = QPlan;
  const $ = (id) => document.getElementById(id);
  let commits = [];

  // The conditioned commit behind a plan: its lineage, or its "conditioned@sha" source.
  function upstream(entry, dataset) {
    const lineage = entry.lineage || {};
    if (lineage[dataset]) return lineage[dataset];
    const source = String(entry.source || "");
    return source.startsWith(`${dataset}@`) ? source.slice(dataset.length + 1) : null;
  }

  function picked(name) {
    const input = document.querySelector(`input[name="${name}"]:checked`);
    return input ? input.value : null;
  }

  async function loadVersions() {
    const keepFrom = picked("from"), keepTo = picked("to");
    try {
      const answer = await getJSON("/api/history?dataset=plan&limit=200");
      commits = answer.commits || [];
    } catch (err) {
      showError(`Cannot load the history: ${err.message}`);
      return;
    }
    fill($("versions").tBodies[0], commits.map((c, i) => el("tr", { dataset: { commit: c.commit } },
      el("td", {}, el("input", { type: "radio", name: "from", value: c.commit, "aria-label": "from",
        checked: keepFrom ? keepFrom === c.commit : i === 1 })),
      el("td", {}, el("input", { type: "radio", name: "to", value: c.commit, "aria-label": "to",
        checked: keepTo ? keepTo === c.commit : i === 0 })),
      el("td", { class: "num", text: c.seq ?? "" }),
      el("td", { text: when(c.time) }),
      el("td", {}, el("code", { text: shortSha(c.commit) })),
      el("td", {}, el("code", { text: shortSha(upstream(c, "conditioned")) })),
      el("td", {}, el("code", { text: shortSha(upstream(c, "raw")) })),
      el("td", { class: "source", text: (c.lineage && c.lineage.origin) || c.source || "" }))));
    if (!commits.length) {
      fill($("versions").tBodies[0], el("tr", {}, el("td", { colspan: 8, class: "muted", text: "no plan yet" })));
    }
  }

  function showError(text) {
    $("history-error").textContent = text;
    $("history-error").hidden = !text;
  }

  function outcome(o) {
    if (!o) return "—";
    const end = o.end || "DNF";
    const short = Object.entries(o.shortage || {}).map(([s, w]) => `${s} ${num(w)}`).join(", ");
    return short ? `${end}, short ${short}` : end;
  }

  function table(headers, rows) {
    return el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))),
      el("tbody", {}, rows)));
  }

  function section(title, count, body) {
    return el("div", { class: "change-group" }, el("h3", {}, title, " ", el("span", { class: "muted", text: `(${count})` })), body);
  }

  function renderDiff(answer) {
    const diff = answer.diff;
    $("result").hidden = false;
    $("result-title").textContent = `plan ${shortSha(answer.from.commit)} → ${shortSha(answer.to.commit)}`;
    const groups = [];
    const items = diff.items;
    if (items.moved.length) {
      groups.push(section("Dates or shortages moved", items.moved.length, table(
        ["Track", "Item", "Before", "After"],
        items.moved.map((m) => el("tr", { class: "moved" }, el("td", { text: m.track }), el("td", { class: "name", text: m.name }),
          el("td", { class: "before", text: outcome(m.before) }), el("td", { class: "after", text: outcome(m.after) }))))));
    }
    if (items.added.length) {
      groups.push(section("Added", items.added.length, table(["Track", "Item", "Outcome"],
        items.added.map((m) => el("tr", { class: "added" }, el("td", { text: m.track }), el("td", { class: "name", text: m.name }),
          el("td", { text: outcome(m.after) }))))));
    }
    if (items.removed.length) {
      groups.push(section("Removed", items.removed.length, table(["Track", "Item", "Was"],
        items.removed.map((m) => el("tr", { class: "removed" }, el("td", { text: m.track }), el("td", { class: "name", text: m.name }),
          el("td", { text: outcome(m.before) }))))));
    }
    if (items.edited.length) {
      const show = (field, value) => field === "estimate" ? skills(value) : String(value ?? "");
      groups.push(section("Edited", items.edited.length, table(["Track", "Item", "Changes"],
        items.edited.map((m) => el("tr", { class: "edited" }, el("td", { text: m.track }), el("td", { class: "name", text: m.name }),
          el("td", { text: Object.entries(m.fields).map(([f, c]) => `${f}: ${show(f, c.before)} → ${show(f, c.after)}`).join("; ") }))))));
    }
    if (diff.staffing.length) {
      groups.push(section("Staffing", diff.staffing.length, table(["Track", "Skill", "Man-weeks", "Joined", "Left"],
        diff.staffing.map((s) => el("tr", {}, el("td", { text: s.track }), el("td", { text: s.skill }),
          el("td", { text: `${num(s.before)} → ${num(s.after)}` }),
          el("td", { text: s.joined.join(", ") }), el("td", { text: s.left.join(", ") }))))));
    }
    const params = Object.entries(diff.params || {});
    if (params.length) {
      groups.push(section("Quarter", params.length, el("ul", {}, params.map(([k, c]) =>
        el("li", { text: `${k}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}` })))));
    }
    if (!groups.length) groups.push(el("p", { class: "muted", text: "No changes between these two plans." }));
    fill($("changes"), groups);
    const raw = answer.raw_diff || "";
    $("raw-box").hidden = !raw;
    fill($("raw-diff"), raw.split("\n").map((line) => el("span", {
      class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : null,
    }, `${line}\n`)));
  }

  async function compare() {
    const from = picked("from"), to = picked("to");
    if (!from || !to) {
      showError("Pick a version in both columns.");
      return;
    }
    showError("");
    try {
      renderDiff(await getJSON(`/api/diff?${new URLSearchParams({ from, to, raw: "1" })}`));
    } catch (err) {
      showError(`Cannot compare: ${err.message}`);
    }
  }

  $("compare").addEventListener("click", compare);
  loadVersions();
  live("plan", (message) => { if (message.type === "plan") loadVersions(); });
})();
