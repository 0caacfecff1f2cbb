// The plan page's insight: a timeline per track, "why this date", where one more person
// helps most, and the weekly load per skill. Everything drawn from the view /api/plan
// answers (rows with start, end, why_text and forecast; the view's calendar, load and
// leverage). Spreadsheet text only ever reaches the page as textContent.
"use strict";

const QPlanInsight = (() => {
  const { el, fill, num } = QPlan;
  const SVG = "http://www.w3.org/2000/svg";
  const ROW = 26;       // px per timeline row; the label column uses the same height
  const HEAD = 30;      // px of the date axis above the rows
  const DAY_PX = 10;    // px per calendar day (a quarter is about 900 px; it scrolls on a phone)
  const DAY_MS = 86400000;

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) if (child) node.append(child);
    return node;
  }

  function day(text) {
    if (!text) return null;
    const date = new Date(`${text}T00:00:00Z`);
    return isNaN(date.getTime()) ? null : date;
  }

  function short(text) {
    const date = day(text);
    return date ? date.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" }) : "";
  }

  function percent(value) {
    return typeof value === "number" && isFinite(value) ? `${Math.round(value * 100)}%` : "—";
  }

  // The dates a row shows: deterministic end, forecast P50/P85, or DNF.
  function dateText(item) {
    return item.end ? short(item.end) : "DNF";
  }

  // --- the timeline ---------------------------------------------------------------

  function timeline(view, selected, onSelect) {
    const cal = view.calendar || {};
    const first = day(cal.start), last = day(cal.end);
    if (!first || !last || last < first) return el("p", { class: "muted", text: "The quarter has no dates yet." });
    const days = Math.round((last - first) / DAY_MS) + 1;
    const width = days * DAY_PX;
    const x = (text, after = 0) => {
      const date = day(text);
      if (!date) return null;
      const offset = Math.round((date - first) / DAY_MS) + after;
      return Math.max(0, Math.min(days, offset)) * DAY_PX;
    };
    const rows = view.work;
    const height = HEAD + Math.max(rows.length, 1) * ROW + 4;
    const chart = svg("svg", { width, height, class: "tl-svg", role: "img",
      "aria-label": `timeline of ${rows.length} items from ${short(cal.start)} to ${short(cal.end)}` });

    // Weekends and holidays shaded, weeks ticked, the quarter's end and today drawn.
    const holidays = new Set(cal.holidays || []);
    for (let i = 0; i < days; i++) {
      const date = new Date(first.getTime() + i * DAY_MS);
      const iso = date.toISOString().slice(0, 10);
      const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6;
      if (holidays.has(iso)) {
        chart.append(svg("rect", { x: i * DAY_PX, y: HEAD, width: DAY_PX, height: height - HEAD, class: "tl-holiday" },
          svg("title", { text: `holiday ${short(iso)}` })));
      } else if (weekend) {
        chart.append(svg("rect", { x: i * DAY_PX, y: HEAD, width: DAY_PX, height: height - HEAD, class: "tl-weekend" }));
      }
      if (date.getUTCDay() === 1 || i === 0) {
        chart.append(svg("line", { x1: i * DAY_PX, x2: i * DAY_PX, y1: HEAD - 6, y2: height, class: "tl-tick" }));
        chart.append(svg("text", { x: i * DAY_PX + 2, y: HEAD - 10, class: "tl-axis", text: short(iso) }));
      }
    }
    chart.append(svg("line", { x1: width, x2: width, y1: 0, y2: height, class: "tl-end" },
      svg("title", { text: `quarter ends ${short(cal.end)}` })));
    const today = day(cal.today);
    if (today && today >= first && today <= last) {
      const tx = x(cal.today);
      chart.append(svg("line", { x1: tx, x2: tx, y1: HEAD - 6, y2: height, class: "tl-today" },
        svg("title", { text: `today, ${short(cal.today)}` })));
    }

    const labels = [];
    rows.forEach((item, index) => {
      const top = HEAD + index * ROW;
      const cls = ["tl-row", item.in_cut ? "in" : "beyond", item.dnf ? "dnf" : "", selected === item.id ? "selected" : ""];
      const group = svg("g", { class: cls.filter(Boolean).join(" "), "data-id": item.id });
      group.append(svg("title", { text: `${item.name}: ${item.why_text || ""}` }));
      if (index % 2) group.append(svg("rect", { x: 0, y: top, width, height: ROW, class: "tl-stripe" }));
      const forecast = item.forecast || null;
      const start = x(item.start);
      if (start === null) {
        group.append(svg("text", { x: 4, y: top + ROW / 2 + 4, class: "tl-note", text: "not started: no estimate or no effort" }));
      } else {
        const p50 = forecast && forecast.p50 ? x(forecast.p50, 1) : null;
        const end = item.end ? x(item.end, 1) : width;
        const barEnd = p50 !== null ? p50 : end;
        group.append(svg("rect", { x: start, y: top + 6, width: Math.max(barEnd - start, 3), height: ROW - 12,
          rx: 3, class: item.dnf ? "tl-bar dnf" : "tl-bar" }));
        if (forecast) {
          const p85 = forecast.p85 ? x(forecast.p85, 1) : width;
          if (p85 > barEnd) {
            const mid = top + ROW / 2;
            group.append(svg("line", { x1: barEnd, x2: p85, y1: mid, y2: mid, class: "tl-whisker" }));
            group.append(svg("line", { x1: p85, x2: p85, y1: mid - 5, y2: mid + 5, class: forecast.p85 ? "tl-whisker" : "tl-whisker open" }));
          }
        }
        if (item.end) {
          const mark = x(item.end, 1);
          group.append(svg("path", { d: `M${mark} ${top + 3} l4 5 l-4 5 l-4 -5 z`, class: "tl-date" }));
        } else {
          group.append(svg("path", { d: `M${width - 9} ${top + 5} l8 ${ROW / 2 - 5} l-8 ${ROW / 2 - 5} z`, class: "tl-dnf" }));
        }
      }
      chart.append(group);
      const label = el("button", {
        type: "button",
        class: `tl-label ${item.in_cut ? "in" : "beyond"}${item.dnf ? " dnf" : ""}${selected === item.id ? " selected" : ""}`,
        "aria-pressed": selected === item.id ? "true" : "false",
        title: item.why_text || "",
        onclick: () => onSelect(item),
      }, el("span", { class: "tl-name", text: item.name }), el("span", { class: "tl-when", text: dateText(item) }));
      labels.push(label);
    });
    if (!rows.length) labels.push(el("p", { class: "muted", text: "no work items in this track" }));
    return el("div", { class: "tl" },
      el("div", { class: "tl-labels" }, el("div", { class: "tl-head", "aria-hidden": "true" }), labels),
      el("div", { class: "tl-scroll" }, chart));
  }

  // --- where one more person helps most ---------------------------------------------

  function leverage(view, onTry) {
    const entries = view.leverage || [];
    if (!entries.length) return [el("p", { class: "muted", text: "No scheduled skill to add a person to." })];
    const helpful = entries.filter((e) => e.dnf_to_date > 0 || e.days_pulled_in > 0);
    const rows = entries.map((entry, i) => el("tr", { class: i === 0 && helpful.length ? "best" : null },
      el("th", { text: `+1 ${entry.skill}` }),
      el("td", { class: "num", text: String(entry.dnf_to_date) }),
      el("td", { class: "num", text: String(entry.days_pulled_in) }),
      el("td", {}, view.track === "All" ? null : el("button", {
        type: "button", class: "secondary small",
        title: `try +1 ${entry.skill} on ${view.track} as a what-if`,
        onclick: () => onTry({ op: "add_people", skill: entry.skill, track: view.track, count: 1 }),
      }, "Try"))));
    const lead = helpful.length
      ? `One more ${entries[0].skill} person helps most on ${view.track}: ${entries[0].dnf_to_date} item(s) get a date, ${entries[0].days_pulled_in} work days pulled in over all items.`
      : `One more person of any scheduled skill would not change a date on ${view.track}.`;
    return [
      el("p", { class: "lead", text: lead }),
      el("table", { class: "numbers leverage" },
        el("thead", {}, el("tr", {}, el("th", { text: "Add" }), el("th", { text: "DNF → dated" }),
          el("th", { text: "Work days pulled in" }), el("th", {}))),
        el("tbody", {}, rows)),
    ];
  }

  // --- weekly load ------------------------------------------------------------------

  function heatmap(view) {
    const load = view.load || { weeks: [], skills: [] };
    if (!load.weeks.length || !load.skills.length) return [el("p", { class: "muted", text: "No load to show." })];
    const head = el("tr", {}, el("th", { class: "sticky", text: "Skill" }),
      load.weeks.map((w) => el("th", { text: short(w) })));
    const body = load.skills.map((row) => el("tr", {},
      el("th", { class: "sticky", text: row.skill }),
      row.cells.map((cell) => {
        const share = cell.percent;
        const level = share === null ? "none" : share >= 99.95 ? "full" : share >= 75 ? "high" : share >= 40 ? "mid" : share > 0 ? "low" : "zero";
        return el("td", {
          class: `heat ${level}`,
          title: `${num(cell.used)} of ${num(cell.available)} person-days used`,
        }, share === null ? "—" : `${num(share)}%`);
      })));
    const full = load.skills.reduce((n, row) => n + row.cells.filter((c) => c.full).length, 0);
    return [
      el("p", { class: "muted", text: full ? `${full} skill-week(s) fully booked (marked).` : "No week is fully booked." }),
      el("div", { class: "scroll" }, el("table", { class: "heatmap" }, el("thead", {}, head), el("tbody", {}, body))),
    ];
  }

  return { timeline, leverage, heatmap, dateText, percent, short };
})();
