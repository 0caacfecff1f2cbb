// The history page: plan versions (stale and fatal marked), baselines, and a compare of two
// plans, one row per item with its slip and why it moved. The comparison is in the URL
// (/history?from=baseline:Q4%20commit&to=latest&track=All): reload or share it.
"use strict";

(() => {
  const { el, fill, shortSha, num, skills, when, getJSON, postJSON, live } = QPlan;
  const $ = (id) => document.getElementById(id);
  const STATUS_TEXT = { slipped: "slipped", improved: "improved", added: "added", removed: "removed", unchanged: "unchanged" };
  let versions = [];
  let baselines = [];
  let shown = null; // the compare answer on screen

  function showError(text) {
    $("history-error").textContent = text;
    $("history-error").hidden = !text;
  }

  // The conditioned or raw commit behind a plan: its lineage, or its "dataset@sha" source.
  function upstream(entry, dataset) {
    const lineage = entry.lineage || {};
    if (lineage[dataset]) return lineage[dataset];
    const source = String(entry.source || "");
    return source.startsWith(`${dataset}@`) ? source.slice(dataset.length + 1) : null;
  }

  function picked(name) {
    const input = document.querySelector(`input[name="${name}-pick"]:checked`);
    return input ? input.value : null;
  }

  function badge(cls, text, title) {
    return el("span", { class: `mark-badge ${cls}`, text, title });
  }

  function marks(v, index) {
    const out = [];
    if (index === 0) out.push(badge("latest", "latest"));
    if (v.fatal) out.push(badge("fatal", "fatal", "the sheet could not be read; this plan kept the last good data"));
    if (v.stale) out.push(badge("stale", "stale", "planned from older sheet data (the newest could not be used)"));
    else if (v.problems && v.problems.error) out.push(badge("stale", `${v.problems.error} errors`, "rows with problems"));
    for (const name of v.baselines || []) out.push(badge("baseline", name, "baseline"));
    return out;
  }

  async function loadVersions() {
    let answer;
    try {
      answer = await getJSON("/api/versions?limit=200");
    } catch (err) {
      showError(`Cannot load the history: ${err.message}`);
      return;
    }
    versions = answer.versions || [];
    const keepFrom = picked("from"), keepTo = picked("to");
    fill($("versions").tBodies[0], versions.map((v, i) => el("tr", {
      class: [v.stale ? "stale" : "", v.fatal ? "fatal" : ""].join(" ").trim() || null,
      dataset: { commit: v.commit },
    },
      el("td", {}, el("input", { type: "radio", name: "from-pick", value: v.commit, "aria-label": "from",
        checked: keepFrom ? keepFrom === v.commit : i === 1, onchange: () => { $("from").value = v.commit; } })),
      el("td", {}, el("input", { type: "radio", name: "to-pick", value: v.commit, "aria-label": "to",
        checked: keepTo ? keepTo === v.commit : i === 0, onchange: () => { $("to").value = v.commit; } })),
      el("td", { class: "num", text: v.seq ?? "" }),
      el("td", { text: when(v.time) }),
      el("td", {}, el("code", { text: shortSha(v.commit) })),
      el("td", { class: "marks" }, marks(v, i)),
      el("td", {}, el("code", { text: shortSha(upstream(v, "raw")) })),
      el("td", { class: "source", text: (v.lineage && v.lineage.origin) || v.source || "" }))));
    if (!versions.length) {
      fill($("versions").tBodies[0], el("tr", {}, el("td", { colspan: 8, class: "muted", text: "no plan yet" })));
    }
    // The version picked in the From column is where a comparison starts, until one is typed.
    if (!$("from").value && !new URLSearchParams(location.search).get("from")) $("from").value = picked("from") || "";
    const choice = $("baseline-plan").value;
    fill($("baseline-plan"), el("option", { value: "latest", text: "latest" }),
      versions.slice(0, 50).map((v) => el("option", { value: v.commit, text: `#${v.seq} ${shortSha(v.commit)} · ${when(v.time)}` })));
    $("baseline-plan").value = [...$("baseline-plan").options].some((o) => o.value === choice) ? choice : "latest";
  }

  async function loadBaselines() {
    try {
      baselines = (await getJSON("/api/baselines")).baselines || [];
    } catch (err) {
      baselines = [];
    }
    fill($("baseline-buttons"), baselines.slice(-5).map((b) => el("button", {
      type: "button", class: "secondary since-baseline", dataset: { name: b.name },
      onclick: () => run(`baseline:${b.name}`, "latest"),
    }, `Since ${b.name}`)));
    let scenarios = [];
    try {
      scenarios = (await getJSON("/api/scenarios")).scenarios || [];
    } catch (err) {
      scenarios = []; // a store that keeps no scenarios: the other references still work
    }
    fill($("refs"), el("option", { value: "latest" }), baselines.map((b) => el("option", { value: `baseline:${b.name}` })),
      el("option", { value: `date:${daysAgo(7)}` }),
      scenarios.map((s) => el("option", { value: `scenario:${s.name}` })));
  }

  function daysAgo(days) {
    return new Date(Date.now() - days * 86400000).toISOString().slice(0, 10);
  }

  // -- the comparison -----------------------------------------------------------------

  function day(value, dnf, present) {
    if (!present) return el("td", { class: "muted", text: "—" });
    return dnf ? el("td", { class: "day dnf", text: "DNF" }) : el("td", { class: "day", text: value });
  }

  function shortage(map) {
    const parts = Object.entries(map || {}).map(([s, w]) => `${s} ${num(w)}`);
    return parts.length ? parts.join(", ") : "none";
  }

  function where(cause) {
    if (!cause.sheet) return null;
    const cells = (cause.cells || []).map((c) => c.cell).join(", ");
    return el("span", { class: "where", text: ` — ${cause.sheet} · ${cause.row} · ${cause.column}${cells ? ` (${cells})` : ""}` });
  }

  function causeList(row) {
    if (!row.causes || !row.causes.length) return null;
    return el("ul", { class: "causes" }, row.causes.map((c) => el("li", { class: c.kind }, c.text, where(c))));
  }

  function slipText(row) {
    const d = row.days_slipped;
    if (d === null || d === undefined) return "";
    return d > 0 ? `+${d}` : d < 0 ? `−${-d}` : "0";
  }

  function compareRow(row) {
    const inBefore = row.status !== "added", inAfter = row.status !== "removed";
    const changedShort = shortage(row.shortage_before) !== shortage(row.shortage_after);
    const cells = [
      el("td", { class: "item" }, el("code", { text: row.id }), " ", el("span", { class: "name", text: row.name ?? "" })),
      day(row.before, row.dnf_before, inBefore),
      day(row.after, row.dnf_after, inAfter),
      el("td", { class: "slip", text: slipText(row) }),
      el("td", { class: Object.keys(row.shortage_after || {}).length ? "lack short" : "lack", text: changedShort ? `${shortage(row.shortage_before)} → ${shortage(row.shortage_after)}` : (inAfter ? shortage(row.shortage_after) : "") }),
      el("td", {}, el("span", { class: `status ${row.status}`, text: STATUS_TEXT[row.status] || row.status })),
      el("td", { class: "why" }, causeList(row)),
    ];
    const labels = ["", "Before", "After", "Slip", "Shortage", "Status", "Why"];
    cells.forEach((cell, i) => { if (labels[i]) cell.dataset.label = labels[i]; });
    return el("tr", { class: row.status, dataset: { id: row.id } }, cells);
  }

  function renderRows() {
    if (!shown) return;
    const all = $("show-unchanged").checked;
    const rows = shown.rows.filter((r) => all || r.status !== "unchanged" || (r.causes && r.causes.length));
    fill($("compare-table").tBodies[0], rows.length ? rows.map(compareRow)
      : el("tr", {}, el("td", { colspan: 7, class: "muted", text: "No item moved between these two plans." })));
  }

  function renderCompare(answer) {
    shown = answer;
    $("result").hidden = false;
    $("result-title").textContent = `${label(answer.from)} → ${label(answer.to)} · ${answer.track}`;
    const c = answer.counts;
    fill($("counts"), ["slipped", "improved", "added", "removed", "unchanged"].map((s) =>
      el("span", { class: `count ${s}`, text: `${c[s]} ${s}` })));
    const notes = [];
    if (answer.unexplained) notes.push(`${answer.unexplained} items moved with no listed reason`);
    if (answer.blame) notes.push(answer.blame);
    $("blame-note").textContent = notes.join("; ");
    $("blame-note").hidden = !notes.length;
    fill($("track"), (answer.tracks || ["All"]).map((t) => el("option", { value: t, text: t })));
    $("track").value = answer.track;
    renderRows();
    loadDetails(answer.from.commit, answer.to.commit);
  }

  function label(side) {
    return side.ref && side.ref !== side.commit ? `${side.ref} (${shortSha(side.commit)})` : shortSha(side.commit);
  }

  // Edits, staffing and quarter changes, and the raw diff (GET /api/diff), each item once.
  async function loadDetails(from, to) {
    let answer;
    try {
      answer = await getJSON(`/api/diff?${new URLSearchParams({ from, to, raw: "1" })}`);
    } catch (err) {
      fill($("changes"), el("p", { class: "error", text: `Cannot load the details: ${err.message}` }));
      return;
    }
    const diff = answer.diff, groups = [];
    const seen = new Set();
    const edited = diff.items.edited.filter((m) => !seen.has(m.id) && seen.add(m.id));
    const show = (field, value) => field === "estimate" ? skills(value) : String(value ?? "");
    if (edited.length) {
      groups.push(group("Edited", edited.map((m) => el("li", {}, el("code", { text: m.id }), " ", m.name ?? "", ": ",
        Object.entries(m.fields).map(([f, c]) => `${f} ${show(f, c.before)} → ${show(f, c.after)}`).join("; ")))));
    }
    if (diff.staffing.length) {
      groups.push(group("Staffing", diff.staffing.map((s) => el("li", {
        text: `${s.track} ${s.skill}: ${num(s.before)} → ${num(s.after)} man-weeks` +
          (s.joined.length ? `; joined ${s.joined.join(", ")}` : "") + (s.left.length ? `; left ${s.left.join(", ")}` : ""),
      }))));
    }
    const params = Object.entries(diff.params || {});
    if (params.length) {
      groups.push(group("Quarter", params.map(([k, c]) => el("li", { text: `${k}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}` }))));
    }
    if (!groups.length) groups.push(el("p", { class: "muted", text: "No edits, staffing or quarter changes." }));
    fill($("changes"), groups);
    const raw = answer.raw_diff || "";
    fill($("raw-diff"), raw.split("\n").map((line) => el("span", {
      class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : null,
    }, `${line}\n`)));
    $("raw-diff").hidden = !raw;
  }

  function group(title, items) {
    return el("div", { class: "change-group" }, el("h3", {}, title, " ", el("span", { class: "muted", text: `(${items.length})` })), el("ul", {}, items));
  }

  // Show a comparison and put it in the URL (push: the back button returns to the last one).
  async function run(from, to, track, push = true) {
    from = (from || "").trim();
    to = (to || "latest").trim();
    track = track || $("track").value || "All";
    if (!from) {
      showError("Say what to compare from: a baseline, a date, or pick a version below.");
      return;
    }
    $("from").value = from;
    $("to").value = to;
    showError("");
    const query = new URLSearchParams({ from, to, track });
    if (push) history.pushState(null, "", `/history?${query}`);
    $("compare-csv").href = `/api/compare?${query}&format=csv`;
    $("compare-xlsx").href = `/api/compare?${query}&format=xlsx`;
    try {
      renderCompare(await getJSON(`/api/compare?${query}`));
    } catch (err) {
      showError(`Cannot compare: ${err.message}`);
    }
  }

  function fromUrl(push) {
    const params = new URLSearchParams(location.search);
    if (params.get("from")) run(params.get("from"), params.get("to"), params.get("track") || "All", push);
  }

  $("compare-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run($("from").value || picked("from"), $("to").value || picked("to"), $("track").value);
  });
  $("track").addEventListener("change", () => { if (shown) run($("from").value, $("to").value, $("track").value); });
  $("since-week").addEventListener("click", () => run(`date:${daysAgo(7)}`, "latest"));
  $("show-unchanged").addEventListener("change", renderRows);
  window.addEventListener("popstate", () => fromUrl(false));

  $("baseline-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("baseline-name").value.trim();
    const plan = $("baseline-plan").value;
    try {
      const answer = await postJSON("/api/baselines", { name, plan });
      $("baseline-status").textContent = `${answer.created ? "Saved" : "Already saved"}: ${answer.baseline.name} = plan ${shortSha(answer.baseline.plan)}`;
      $("baseline-status").className = "muted";
      $("baseline-name").value = "";
      await loadBaselines();
      await loadVersions();
    } catch (err) {
      $("baseline-status").textContent = err.message;
      $("baseline-status").className = "error";
    }
  });

  // The tracks of the shown plan, for the track list before any comparison.
  async function loadTracks() {
    try {
      const view = await getJSON("/api/plan");
      if (!shown) fill($("track"), view.tracks.map((t) => el("option", { value: t.name, text: t.name })));
    } catch (err) {
      // no plan yet: All is the only track
    }
  }

  (async () => {
    await Promise.all([loadVersions(), loadBaselines(), loadTracks()]);
    fromUrl(false);
  })();
  live("plan", (message) => {
    if (message.type !== "plan") return;
    loadVersions();
    if (shown && $("to").value === "latest") run($("from").value, "latest", $("track").value, false);
  });
})();
