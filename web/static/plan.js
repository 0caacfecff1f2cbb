// The plan page: one track at one triage level, live, with private what-ifs.
"use strict";

(() => {
  const { el, fill, shortSha, num, skills, when, getJSON, postJSON, live } = QPlan;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const state = {
    track: params.get("track") || "All",
    triage: params.get("triage") || "3",
    edits: [],       // the what-if edits, in order; empty = the shared plan
    view: null,      // the view on screen
    request: 0,      // the newest load; older answers are dropped
    shared: null,    // the last shared view: its version is what a what-if starts from
    chart: null,
    show: params.get("show") === "timeline" ? "timeline" : "table",
    why: null,       // the item whose "why" line is open
    note: null,      // the item whose problems are open
    scenario: params.get("scenario"),  // the saved scenario shown, or null
    scenarioEdits: null,  // its edits as applied to the newest plan (JSON), to see a change
    broken: [],      // its edits that no longer apply, each {number, edit, reason}
  };
  let scenarios = null;  // QPlanScenarios, attached once the functions below exist
  const COLUMNS = 11;  // of the work table

  function plural(count, word) {
    return `${count} ${word}${count === 1 ? "" : "s"}`;
  }

  function syncUrl() {
    const query = new URLSearchParams({ track: state.track, triage: state.triage });
    if (state.show === "timeline") query.set("show", "timeline");
    if (state.scenario) query.set("scenario", state.scenario);
    history.replaceState(null, "", `/?${query}`);
  }

  // Fetch the view for the current track and triage: shared, or with the edits applied.
  async function load() {
    const request = ++state.request;
    const saved = scenarios.unchanged();
    try {
      let view, whatif = null, shared;
      if (saved) {
        whatif = await scenarios.fetchScenario();
        if (request !== state.request) return;
        scenarios.take(whatif);
        view = whatif.view;
        shared = whatif.shared;
      } else if (state.edits.length) {
        whatif = await postJSON("/api/whatif", {
          edits: state.edits.map(wireEdit), track: state.track, triage: Number(state.triage),
        });
        view = whatif.view;
        shared = whatif.shared;
      } else {
        const query = new URLSearchParams({ track: state.track, triage: state.triage });
        view = await getJSON(`/api/plan?${query}`);
        shared = view;
      }
      if (request !== state.request) return;
      state.shared = shared;
      $("waiting").hidden = true;
      render(view, whatif);
    } catch (err) {
      if (request !== state.request) return;
      const editing = state.edits.length > 0;
      if (saved) {
        if (err.status === 503) showWaiting(`Waiting: ${err.message}`);
        else showError(`The scenario could not be opened: ${err.message}`);
        if (err.status === 404) { scenarios.leave(); load(); }
      } else if (err.status === 503 && !editing) {
        showWaiting("Waiting for data: no plan has been computed yet.");
      } else if (err.status === 404 && state.track !== "All" && !editing) {
        state.track = "All";  // a track that no longer exists: show them all
        syncUrl();
        load();
      } else if (err.status === 400 && !editing && state.triage !== "3") {
        state.triage = "3";  // a triage from a bad link: show the whole plan
        syncUrl();
        load();
      } else if (err.status === 400 && editing) {
        const dropped = state.edits.pop();
        showError(`Not applied (${describe(dropped)}): ${err.message}`);
        renderEdits();
        load();
      } else if (editing) {
        showError(`The what-if could not be computed: ${err.message}`);
      } else {
        showWaiting(`Cannot load the plan: ${err.message}`);
      }
    }
  }

  function showWaiting(text) {
    $("waiting").textContent = text;
    $("waiting").hidden = false;
  }

  function showError(text) {
    const box = $("whatif-error");
    box.textContent = text;
    box.hidden = false;
  }

  function render(view, whatif) {
    state.view = view;
    state.track = view.track;
    document.body.classList.toggle("in-whatif", Boolean(whatif));
    $("whatif-banner").hidden = !whatif && !state.scenario;  // a scenario keeps its banner
    renderTracks(view);
    renderTriage(view);
    renderStaffing(view);
    renderWork(view, Boolean(whatif));
    renderInsight(view);
    renderStaff(view);
    renderChart(view);
    renderVersion(view, whatif);
    renderTopLine(view, whatif);
    renderProblems(view);
    renderForms(view);
    scenarios.render(view, whatif);
  }

  function renderTracks(view) {
    fill($("tracks"), view.tracks.map((t) =>
      el("button", {
        type: "button",
        class: t.name === view.track ? "track here" : "track",
        "aria-current": t.name === view.track ? "true" : null,
        dataset: { track: t.name },
        onclick: () => { state.track = t.name; syncUrl(); load(); },
      }, t.name, " ", el("span", { class: "count", text: String(t.items) }))));
  }

  function renderTriage(view) {
    $("triage").value = String(view.triage);
    $("triage-value").textContent = num(view.triage);
    $("cut-count").textContent = `${view.counts.in_cut} of ${view.counts.total} items`;
  }

  function renderStaffing(view) {
    const rows = view.staffing.map((s) => el("tr", { class: s.short ? "short" : null },
      el("th", { text: s.skill }),
      el("td", { text: num(s.available) }),
      el("td", { text: num(s.required) }),
      el("td", { class: "net", text: num(s.net) })));
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "no staff and no demand" })));
    fill($("staffing").tBodies[0], rows);
  }

  // "Oct 25" style date, or DNF.
  function endText(end) {
    if (!end) return "DNF";
    const date = new Date(`${end}T00:00:00`);
    return isNaN(date.getTime()) ? String(end)
      : date.toLocaleDateString(undefined, { month: "short", day: "numeric", year: "numeric" });
  }

  function shortageText(shortage) {
    const parts = Object.entries(shortage || {}).map(([skill, weeks]) => `${skill} ${num(weeks)}`);
    return parts.length ? parts.join(", ") : "";
  }

  // A cell that shows "before → after" when a what-if changed it (before.end null is DNF).
  function changeCell(before, field, value, text, cls) {
    const now = text(value);
    if (!before) return el("td", { class: cls, text: now });
    const was = text(before[field]);
    if (was === now) return el("td", { class: cls, text: now });
    return el("td", { class: `${cls || ""} changed`.trim() },
      el("span", { class: "before", text: was || "none" }), " → ",
      el("span", { class: "after", text: now || "none" }));
  }

  function renderWork(view, whatif) {
    const rows = [];
    let cutShown = false;
    for (const item of view.work) {
      if (!item.in_cut && !cutShown) {
        cutShown = true;
        rows.push(el("tr", { class: "cut" }, el("td", { colspan: COLUMNS,
          text: `Below the cut: triage above ${num(view.triage)} (${plural(view.counts.total - view.counts.in_cut, "item")})` })));
      }
      const mark = whatif ? item.mark : null;
      const before = mark && mark.before ? mark.before : null;
      const classes = [item.in_cut ? "in" : "beyond", item.dnf ? "dnf" : "", mark ? "marked" : ""];
      rows.push(el("tr", {
        class: classes.filter(Boolean).join(" "),
        dataset: { id: item.id },
        title: "click to try a what-if on this item",
        onclick: () => editItem(item),
      },
      el("td", { class: "num", text: num(item.rank) }),
      el("td", { class: "num", text: num(item.triage) }),
      el("td", { class: "name" }, item.name, problemBadge(item)),
      el("td", { class: item.estimate && Object.keys(item.estimate).length ? null : "muted",
        text: skills(item.estimate) || "no estimate" }),
      changeCell(before, "shortage", item.shortage, shortageText, "shortage"),
      el("td", { class: "start", text: item.start ? QPlanInsight.short(item.start) : "—" }),
      endCells(item, before),
      forecastCell(item, "p50"), forecastCell(item, "p85"),
      el("td", { class: "fc num", text: item.forecast ? QPlanInsight.percent(item.forecast.p_in_quarter) : "—" })));
      if (state.note === item.id && (item.problems || item.unsized)) {
        rows.push(el("tr", { class: "note-row" }, el("td", { colspan: COLUMNS },
          el("ul", { class: "item-problems" }, itemProblems(item).map((p) => el("li", { class: `sev-${p.severity}` },
            el("strong", { text: `${p.severity}: ` }), p.message,
            p.column ? el("span", { class: "muted", text: ` (${p.sheet}, row ${p.row}, ${p.column})` }) : null))))));
      }
      if (state.why === item.id) {
        rows.push(el("tr", { class: "why-row" }, el("td", { colspan: COLUMNS },
          el("span", { class: "why-text" }, el("strong", { text: "Why: " }), item.why_text || "no reason given"))));
      }
    }
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: COLUMNS, class: "muted", text: "no work items in this track" })));
    fill($("work").tBodies[0], rows);
    $("work").classList.toggle("no-forecast", !view.forecast || view.forecast.state === "none");
  }

  // What the sheet said about an item that changes what it means: its row's problems.
  function itemProblems(item) {
    const found = [...(item.problems || [])];
    if (item.unsized && !found.some((p) => /not sized/.test(p.message || ""))) {
      found.push({ severity: "warning", message: "not sized yet: no date until it has an estimate" });
    }
    return found;
  }

  // A badge on the name: how many problems the row has (hover, tap or Enter shows them).
  function problemBadge(item) {
    const found = itemProblems(item);
    if (!found.length) return null;
    const worst = found.some((p) => p.severity === "error" || p.severity === "fatal") ? "error" : "warning";
    const label = item.unsized && found.length === 1 ? "not sized" : `${found.length} ${found.length === 1 ? "problem" : "problems"}`;
    return el("button", {
      type: "button", class: `problem-badge ${worst}`,
      title: found.map((p) => p.message).join("\n"),
      "aria-expanded": state.note === item.id ? "true" : "false",
      "aria-label": `${label} in the sheet's row of ${item.name}`,
      onclick: (event) => {
        event.stopPropagation();
        state.note = state.note === item.id ? null : item.id;
        renderWork(state.view, document.body.classList.contains("in-whatif"));
      },
    }, label);
  }

  // The date cell (before → after in a what-if; its hover says why) and the "why" button.
  function endCells(item, before) {
    const cell = changeCell(before, "end", item.end, endText, item.dnf ? "end dnf" : "end");
    cell.title = item.why_text || "";
    const button = el("button", {
      type: "button", class: "why-button",
      "aria-expanded": state.why === item.id ? "true" : "false",
      "aria-label": `why ${item.name} ends ${endText(item.end)}`,
      onclick: (event) => {
        event.stopPropagation();  // the row's own click starts a what-if edit
        state.why = state.why === item.id ? null : item.id;
        renderWork(state.view, document.body.classList.contains("in-whatif"));
        const again = document.querySelector(`#work tr[data-id="${CSS.escape(item.id)}"] .why-button`);
        if (again) again.focus();
      },
    }, "why");
    return [cell, el("td", { class: "why" }, button)];
  }

  function forecastCell(item, key) {
    const value = item.forecast ? item.forecast[key] : undefined;
    if (!item.forecast) return el("td", { class: "fc", text: "—" });
    return el("td", { class: value ? "fc" : "fc dnf", text: value ? QPlanInsight.short(value) : "after the quarter" });
  }

  // The timeline, "why", leverage and load panels, and the table/timeline toggle.
  function renderInsight(view) {
    const forecast = view.forecast || { state: "none" };
    $("forecast-note").textContent = forecast.state === "current"
      ? `Forecast: ${forecast.runs} runs with estimates drawn around the sheet's (spread ${num(forecast.spread)}). P50/P85: half / 85% of the runs finish by then.`
      : forecast.state === "other" ? "The forecast is being computed for this version of the sheet."
      : "No forecast yet: dates are the plan's alone.";
    const timeline = state.show === "timeline";
    $("work-box").hidden = timeline;
    $("timeline-box").hidden = !timeline;
    $("show-table").setAttribute("aria-pressed", String(!timeline));
    $("show-timeline").setAttribute("aria-pressed", String(timeline));
    if (timeline) {
      fill($("timeline"), QPlanInsight.timeline(view, state.why, (item) => {
        state.why = item.id;
        renderWork(state.view, document.body.classList.contains("in-whatif"));
        renderInsight(state.view);
      }));
      const picked = view.work.find((item) => item.id === state.why);
      $("why").textContent = picked ? `${picked.name} — ${QPlanInsight.dateText(picked)}: ${picked.why_text}`
        : "Pick an item to see why its date is what it is.";
    }
    fill($("leverage"), QPlanInsight.leverage(view, addEdit));
    fill($("load"), QPlanInsight.heatmap(view));
  }

  function renderStaff(view) {
    const parts = [];
    for (const [skill, names] of Object.entries(view.staff || {})) {
      if (!names.length) continue;
      parts.push(el("dt", { text: `${skill} (${names.length})` }), el("dd", { text: names.join(", ") }));
    }
    if (!parts.length) parts.push(el("dd", { class: "muted", text: "nobody on this track" }));
    fill($("staff"), parts);
  }

  function renderChart(view) {
    const data = view.chart;
    $("chart-none").hidden = data.skills.length > 0;
    if (typeof Chart === "undefined") {
      $("chart-none").hidden = false;
      $("chart-none").textContent = "The chart library is not installed (run make install).";
      return;
    }
    const datasets = [
      { label: "Demand at the cut", data: data.demand, backgroundColor: "#6c8ebf" },
      { label: "Shortage", data: data.shortage, backgroundColor: "#d9534f" },
    ];
    if (state.chart) {
      state.chart.data.labels = data.skills;
      state.chart.data.datasets.forEach((set, i) => { set.data = datasets[i].data; });
      state.chart.update();
      return;
    }
    state.chart = new Chart($("chart"), {
      type: "bar",
      data: { labels: data.skills, datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: "man-weeks" } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  function renderVersion(view, whatif) {
    const from = whatif && state.shared ? state.shared : view;
    const links = (from.chain && from.chain.length ? from.chain : [
      { dataset: "plan", commit: from.commit, time: from.time },
    ]);
    const parts = [];
    if (whatif) parts.push(el("strong", { class: "whatif-tag", text: "what-if on " }));
    links.forEach((link, i) => {
      if (i) parts.push(" ← ");
      parts.push(el("span", { class: "link", dataset: { dataset: link.dataset } },
        `${link.dataset} `, el("code", { text: shortSha(link.commit) }), ` (${when(link.time)})`));
    });
    if (view.status && view.status.stale) parts.push(el("span", { class: "error", text: " stale: the newest sheet could not be read" }));
    fill($("version"), parts);
  }

  function renderTopLine(view, whatif) {
    const from = whatif && state.shared ? state.shared : view;
    const problems = view.problems || [];
    const parts = [el("span", {}, "plan ", el("code", { text: shortSha(from.commit) }), ` (${when(from.time)})`)];
    const raw = (from.lineage || {}).raw;
    if (raw) parts.push(el("span", { class: "muted" }, " from sheet ", el("code", { text: shortSha(raw) })));
    parts.push(" · ");
    const errors = problems.filter((p) => p.severity !== "warning").length;
    parts.push(problems.length
      ? el("a", { href: "#problems-panel", class: errors ? "problem-link error" : "problem-link" },
        `${problems.length} ${problems.length === 1 ? "problem" : "problems"} in the sheet`)
      : el("span", { class: "muted", text: "no problems in the sheet" }));
    fill($("top-line"), parts);
  }

  function renderProblems(view) {
    const problems = view.problems || [];
    $("problem-count").textContent = problems.length ? `(${problems.length})` : "(none)";
    fill($("problems").tBodies[0], problems.map((p) => el("tr", { class: `sev-${p.severity}` },
      el("td", { text: p.severity }), el("td", { text: p.sheet ?? "" }), el("td", { text: p.row ?? "" }),
      el("td", { text: p.column ?? "" }), el("td", { text: p.value ?? "" }), el("td", { text: p.message ?? "" }))));
    const fatal = view.fatal || [];
    const banner = $("fatal");
    banner.hidden = !fatal.length;
    fill(banner, fatal.length ? [
      el("strong", { text: "The sheet could not be read; showing the last good plan." }), " ",
      fatal.map((p) => (p.sheet ? `${p.sheet} sheet: ${p.message}` : p.message)).join("; "),
    ] : []);
  }

  // --- what-ifs ---------------------------------------------------------------------

  function options(select, values, keep) {
    const before = select.value;
    fill(select, values.map((v) => el("option", { value: v, text: v })));
    if (keep && values.includes(before)) select.value = before;
  }

  function renderForms(view) {
    const add = $("add-people");
    options(add.elements.skill, view.skills, true);
    const tracks = view.tracks.map((t) => t.name).filter((t) => t !== "All");
    options(add.elements.track, tracks.length ? tracks : ["All"], true);
    if (view.track !== "All" && !add.dataset.touched) add.elements.track.value = view.track;
    if (view.params && view.params.start) {
      add.elements.from.min = view.params.start;
      add.elements.from.max = view.params.end;
    }
    const people = Object.values(view.staff || {}).flat().sort();
    options($("remove-person").elements.person, people, true);
  }

  function describe(edit) {
    switch (edit.op) {
      case "add_people": return `+${edit.count} ${edit.skill} on ${edit.track}${edit.from ? ` from ${edit.from}` : ""}`;
      case "remove_person": return `remove ${edit.person}`;
      case "set_estimate": return `${itemName(edit)}: estimate ${skills(edit.estimate) || "none"}`;
      case "set_rank": return `${itemName(edit)}: rank ${edit.rank}`;
      case "set_triage": return `${itemName(edit)}: triage ${edit.triage}`;
      case "set_track": return `${itemName(edit)}: track ${edit.track}`;
      default: return edit.op;
    }
  }

  // An edit's item by name where the view has it (a saved scenario keeps only the id).
  function itemName(edit) {
    if (edit.label) return edit.label;
    const item = state.view && state.view.work.find((row) => row.id === edit.item);
    return item ? item.name : edit.item;
  }

  function renderEdits() {
    const list = $("edits");
    if (!state.edits.length && !state.broken.length) {
      fill(list, el("li", { class: "muted", text: "none — this is the shared plan" }));
      return;
    }
    fill(list, state.edits.map((edit, i) => el("li", {},
      describe(edit), " ",
      el("button", { type: "button", class: "link-button", title: "drop this edit",
        onclick: () => { state.edits.splice(i, 1); renderEdits(); load(); } }, "✕"))),
      scenarios.brokenItems());
  }

  function addEdit(edit) {
    $("whatif-error").hidden = true;
    state.edits.push(edit);
    renderEdits();
    load();
  }

  // The label is for the edit list only; the planner never sees it.
  function wireEdit(edit) {
    const { label, ...wire } = edit;
    return wire;
  }

  // "Apps:3, Web:M, QA:2-3w" -> {"Apps": 3, "Web": "M", "QA": "2-3w"}: sizes are written as
  // in the workbook; the planner reads them with the conditioner's parser and names a bad one.
  function parseEstimate(text) {
    const estimate = {};
    for (const part of text.split(",")) {
      if (!part.trim()) continue;
      const at = part.indexOf(":");
      const skill = at < 0 ? "" : part.slice(0, at).trim();
      const size = at < 0 ? "" : part.slice(at + 1).trim();
      if (!skill || !size) throw new Error(`"${part.trim()}" is not Skill:size (like Apps:3 or Web:M)`);
      const value = Number(size);
      estimate[skill] = size !== "" && isFinite(value) ? value : size;
    }
    return estimate;
  }

  function editItem(item) {
    const form = $("edit-item");
    form.hidden = false;
    $("edit-name").textContent = item.name;
    form.elements.item.value = item.id;
    form.elements.estimate.value = skills(item.estimate);
    form.elements.rank.value = item.rank;
    form.elements.triage.value = String(item.triage);
    form.dataset.original = JSON.stringify(item);
    form.scrollIntoView({ block: "nearest" });
    form.elements.estimate.focus();
  }

  function wire() {
    for (const [id, show] of [["show-table", "table"], ["show-timeline", "timeline"]]) {
      $(id).addEventListener("click", () => {
        state.show = show;
        syncUrl();
        if (state.view) renderInsight(state.view);
      });
    }
    $("triage").addEventListener("input", (event) => {
      state.triage = event.target.value;
      $("triage-value").textContent = state.triage;
      syncUrl();
      load();
    });
    $("add-people").addEventListener("change", (event) => { event.currentTarget.dataset.touched = "1"; });
    $("add-people").addEventListener("submit", (event) => {
      event.preventDefault();
      const f = event.target.elements;
      const edit = { op: "add_people", skill: f.skill.value, track: f.track.value, count: Number(f.count.value) };
      if (f.from.value) edit.from = f.from.value;
      addEdit(edit);
    });
    $("remove-person").addEventListener("submit", (event) => {
      event.preventDefault();
      addEdit({ op: "remove_person", person: event.target.elements.person.value });
    });
    $("edit-item").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      const item = JSON.parse(form.dataset.original);
      const label = item.name;
      try {
        const estimate = parseEstimate(form.elements.estimate.value);
        if (skills(estimate) !== skills(item.estimate)) state.edits.push({ op: "set_estimate", item: item.id, estimate, label });
      } catch (err) {
        showError(err.message);
        return;
      }
      const rank = Number(form.elements.rank.value);
      if (form.elements.rank.value !== "" && rank !== item.rank) state.edits.push({ op: "set_rank", item: item.id, rank, label });
      const triage = Number(form.elements.triage.value);
      if (triage !== item.triage) state.edits.push({ op: "set_triage", item: item.id, triage, label });
      form.hidden = true;
      $("whatif-error").hidden = true;
      renderEdits();
      load();
    });
    $("edit-cancel").addEventListener("click", () => { $("edit-item").hidden = true; });
    $("reset").addEventListener("click", () => {
      $("whatif-error").hidden = true;
      state.edits = [];
      scenarios.leave();
      load();
    });
  }

  wire();
  scenarios = QPlanScenarios.attach({ state, load, syncUrl, renderEdits, describe, wireEdit });
  syncUrl();
  load();
  live("plan", (message) => {
    if (message.type === "hello" && message.waiting) $("waiting").hidden = false;
    if (message.type === "plan") { load(); scenarios.refreshList(); }
  });
})();
