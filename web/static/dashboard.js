// The dashboard: every component's heartbeat, live, and the pipeline as a graph.
"use strict";

(() => {
  const { el, fill, shortSha, getJSON, live } = QPlan;
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const LABELS = {
    pull_raw: "pull_raw", snapshot_service: "snapshot", condition_service: "condition",
    qplan_service: "qplan", forecast_service: "forecast", web: "web", run_all: "run_all",
  };

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "never";
    return seconds < 10 ? `${seconds.toFixed(1)} s ago` : `${Math.round(seconds)} s ago`;
  }

  function renderTable(health) {
    fill($("components").tBodies[0], health.components.map((c) => el("tr", {
      class: `status-${c.status}`, dataset: { component: c.component, status: c.status },
    },
    el("th", { text: c.component }),
    el("td", {}, el("span", { class: `badge ${c.status}`, text: c.status }),
      c.detail ? el("span", { class: "detail", text: ` ${c.detail}` }) : null),
    el("td", { text: age(c.age) }),
    el("td", { text: String(c.in_per_min) }),
    el("td", { text: String(c.out_per_min) }),
    el("td", {}, el("code", { text: shortSha(c.last_sha) })),
    el("td", { text: c.errors ?? "—" }),
    el("td", { text: c.restarts ?? "—" }),
    el("td", { class: "pid", text: c.pid ?? "—" }))));
    $("as-of").textContent = `updated ${new Date(health.time * 1000).toLocaleTimeString()}`;
  }

  function renderGraph(health) {
    const byName = Object.fromEntries(health.components.map((c) => [c.component, c]));
    const names = health.pipeline;
    const beside = health.beside || {};
    const width = 150, gap = 40, height = 64, row = height + 24;
    const rows = Object.keys(beside).length ? 2 : 1;
    const total = names.length * width + (names.length - 1) * gap;
    const bottom = 10 + (rows - 1) * row + height;
    const root = svg("svg", { viewBox: `-4 0 ${total + 8} ${bottom + 30}`, role: "img", "aria-label": "the pipeline" });
    const defs = svg("defs", {});
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
    defs.append(marker);
    root.append(defs);
    const node = (name, x, y) => {
      const c = byName[name] || { status: "missing", detail: "" };
      const group = svg("g", { class: `node ${c.status}`, "data-component": name });
      group.append(svg("rect", { x, y, width, height, rx: 10 }));
      group.append(svg("text", { x: x + width / 2, y: y + 28, "text-anchor": "middle", class: "node-name" }, LABELS[name] || name));
      group.append(svg("text", { x: x + width / 2, y: y + 48, "text-anchor": "middle", class: "node-status" }, c.status));
      root.append(group);
    };
    const edge = (x1, y1, x2, y2) => root.append(svg("line", { x1, y1, x2, y2, class: "edge", "marker-end": "url(#arrow)" }));
    const mid = 10 + height / 2;
    names.forEach((name, i) => {
      const x = i * (width + gap);
      node(name, x, 10);
      if (i < names.length - 1) edge(x + width, mid, x + width + gap - 2, mid);
    });
    // A stage beside another: the same input (the node before it), the same consumer (after).
    for (const [name, twin] of Object.entries(beside)) {
      const i = names.indexOf(twin);
      if (i < 1 || i >= names.length - 1) continue;
      const x = i * (width + gap), y = 10 + row;
      node(name, x, y);
      edge(x - gap + 2, mid + 10, x, y + height / 2);
      edge(x + width, y + height / 2, x + width + gap - 2, mid + 10);
    }
    const sup = byName.run_all;
    if (sup) {
      root.append(svg("text", { x: total / 2, y: bottom + 24, "text-anchor": "middle", class: `supervisor ${sup.status}` },
        `supervised by run_all: ${sup.status}${sup.detail ? ` (${sup.detail})` : ""}`));
    }
    fill($("graph"), root);
  }

  function render(health) {
    renderTable(health);
    renderGraph(health);
  }

  // The websocket's first health message comes within a second; this fills the page sooner.
  getJSON("/api/health").then(render).catch((error) => console.error("health:", error));
  live("health", (message) => { if (message.type === "health") render(message); });
})();
