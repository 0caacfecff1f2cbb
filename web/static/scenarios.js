// Saved scenarios and downloads on the plan page: save the what-if under a name, list and
// open saved ones (/?scenario=NAME), compare a what-if with the shared plan, and the CSV /
// Excel links of the view on screen. plan.js owns the page's state and calls attach().
// Spreadsheet text only ever reaches the page as textContent.
"use strict";

const QPlanScenarios = (() => {
  const { el, fill, when, getJSON, postJSON } = QPlan;
  const $ = (id) => document.getElementById(id);

  function endText(end) {
    return end ? QPlanInsight.short(end) : "DNF";
  }

  // Calendar days between two ISO dates (DNF counts as after every date).
  function daysBetween(before, after) {
    const a = new Date(`${before}T00:00:00Z`), b = new Date(`${after}T00:00:00Z`);
    return Math.round((b - a) / 86400000);
  }

  // One line per item whose date or shortage the what-if changed, as the marks say.
  function compareRows(view) {
    const rows = [];
    for (const item of view.work) {
      const mark = item.mark;
      if (!mark) continue;
      const before = mark.before, after = mark.after || { end: item.end };
      let change, cls;
      if (!before) { change = "added"; cls = "added"; }
      else if (before.end === after.end) { change = "shortage changed"; cls = "changed"; }
      else if (!before.end) { change = "now finishes"; cls = "improved"; }
      else if (!after.end) { change = "no longer finishes"; cls = "slipped"; }
      else {
        const days = daysBetween(before.end, after.end);
        change = days < 0 ? `${-days} days earlier` : `${days} days later`;
        cls = days < 0 ? "improved" : "slipped";
      }
      rows.push({ item, before, after, change, cls });
    }
    const order = { slipped: 0, improved: 1, added: 2, changed: 3 };
    return rows.sort((a, b) => order[a.cls] - order[b.cls]);
  }

  function attach(page) {
    const { state } = page;

    function scenarioUrl(name) {
      return `/api/scenarios/${encodeURIComponent(name)}`;
    }

    function say(text, error) {
      const box = $("scenario-message");
      box.textContent = text;
      box.className = error ? "error" : "muted";
      box.hidden = !text;
    }

    async function refreshList() {
      let answer;
      try {
        answer = await getJSON("/api/scenarios");
      } catch (err) {
        fill($("scenarios"), el("li", { class: "error", text: `Cannot list the scenarios: ${err.message}` }));
        return;
      }
      if (!answer.scenarios.length) {
        fill($("scenarios"), el("li", { class: "muted", text: "none saved yet" }));
        return;
      }
      fill($("scenarios"), answer.scenarios.map((s) => el("li", {
        class: s.name === state.scenario ? "here" : null, dataset: { name: s.name },
      },
      el("a", { href: s.url, class: "scenario-link", text: s.name }),
      el("span", { class: "muted", text: ` ${s.edits} ${s.edits === 1 ? "edit" : "edits"}, saved ${when(s.saved)}` }), " ",
      el("a", { href: `/history?${new URLSearchParams({ from: "latest", to: `scenario:${s.name}` })}`,
        class: "small-link", title: `compare ${s.name} with the shared plan, item by item` }, "compare"), " ",
      el("button", { type: "button", class: "link-button", title: `delete ${s.name}`,
        "aria-label": `delete scenario ${s.name}`, onclick: () => remove(s.name) }, "✕"))));
    }

    async function save(name) {
      const edits = state.edits.map(page.wireEdit);
      if (!edits.length) {
        say("Nothing to save: add an edit (a what-if) first.", true);
        return;
      }
      const dropped = (state.broken || []).length;
      try {
        const answer = await postJSON("/api/scenarios", { name, edits });
        state.scenario = answer.scenario.name;
        state.scenarioEdits = JSON.stringify(edits);
        state.broken = [];
        page.syncUrl();
        page.renderEdits();
        render(state.view, true);
        const gone = dropped ? ` The ${dropped} that no longer applied ${dropped === 1 ? "is" : "are"} not kept.` : "";
        say(`Saved “${answer.scenario.name}” (${answer.created ? "new" : "replaced"}); its link opens it again.${gone}`);
        page.load();
      } catch (err) {
        say(`Not saved: ${err.message}`, true);
      }
      refreshList();
    }

    async function remove(name) {
      try {
        await getJSON(scenarioUrl(name), { method: "DELETE", headers: { "Content-Type": "application/json" } });
        say(`Deleted “${name}”.`);
        if (state.scenario === name) leave();
      } catch (err) {
        say(`Not deleted: ${err.message}`, true);
      }
      refreshList();
    }

    // Leave the scenario (its edits stay on screen as an unsaved what-if).
    function leave() {
      state.scenario = null;
      state.scenarioEdits = null;
      state.broken = [];
      page.syncUrl();
      page.renderEdits();
      render(state.view, document.body.classList.contains("in-whatif"));
    }

    // The saved scenario re-applied to the newest shared plan: what load() shows.
    function fetchScenario() {
      const query = new URLSearchParams({ track: state.track, triage: state.triage });
      return getJSON(`${scenarioUrl(state.scenario)}?${query}`);
    }

    // Take the edits of a fetched scenario: those that apply, and those that no longer do.
    function take(answer) {
      state.edits = answer.applied.map((n) => answer.edits[n - 1]);
      state.broken = answer.broken;
      state.scenarioEdits = JSON.stringify(state.edits.map(page.wireEdit));
      page.renderEdits();
    }

    // True when the page shows the saved scenario as saved (no edit added or dropped since).
    function unchanged() {
      return Boolean(state.scenario) && (state.scenarioEdits === null
        || state.scenarioEdits === JSON.stringify(state.edits.map(page.wireEdit)));
    }

    function brokenItems() {
      return (state.broken || []).map((b) => el("li", { class: "broken" },
        el("strong", { text: `No longer applies (saved edit ${b.number}): ` }), page.describe(b.edit),
        el("span", { class: "muted", text: ` — ${b.reason}` }), " ",
        el("button", { type: "button", class: "link-button", title: "drop this edit",
          onclick: () => { state.broken = state.broken.filter((x) => x !== b); page.renderEdits(); } }, "✕")));
    }

    function downloads(view) {
      const query = new URLSearchParams({ track: view.track, triage: String(view.triage) });
      const saved = unchanged();
      if (saved) query.set("scenario", state.scenario);
      for (const [id, format] of [["download-csv", "csv"], ["download-xlsx", "xlsx"]]) {
        query.set("format", format);
        $(id).href = `/api/export?${query}`;
      }
      const editing = state.edits.length > 0 && !saved;
      $("download-note").hidden = !editing;
    }

    function renderCompare(view, whatif) {
      const card = $("compare-card");
      card.hidden = !whatif;
      if (!whatif) return;
      const rows = compareRows(view);
      $("compare-count").textContent = rows.length
        ? `${rows.length} ${rows.length === 1 ? "item" : "items"} of ${view.track} differ` : "";
      fill($("compare").tBodies[0], rows.length ? rows.map((r) => el("tr", { class: r.cls, dataset: { id: r.item.id } },
        el("td", { class: "name", text: r.item.name }),
        el("td", { class: "before", text: r.before ? endText(r.before.end) : "—" }),
        el("td", { class: "after", text: endText(r.after.end) }),
        el("td", { class: "change", text: r.change })))
        : el("tr", {}, el("td", { colspan: 4, class: "muted", text: "No date or shortage of this track differs from the shared plan." })));
    }

    function render(view, whatif) {
      if (!view) return;
      const tag = $("scenario-tag");
      tag.hidden = !state.scenario;
      if (state.scenario) {
        tag.textContent = `Scenario “${state.scenario}”${unchanged() ? "" : " (changed, not saved)"}`;
        if (!$("scenario-name").value) $("scenario-name").value = state.scenario;
      }
      renderCompare(view, whatif);
      downloads(view);
    }

    $("save-scenario").addEventListener("submit", (event) => {
      event.preventDefault();
      save($("scenario-name").value.trim());
    });
    refreshList();
    return { fetchScenario, take, unchanged, brokenItems, render, leave, refreshList };
  }

  return { attach, compareRows };
})();
