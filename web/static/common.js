// What every page shares: safe DOM building, JSON fetches, the live websocket.
// All spreadsheet text is untrusted: it only ever reaches the page as textContent.
"use strict";

const QPlan = (() => {
  // Build an element; attrs are properties/attributes, children are nodes or plain text.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Replace every child of node with the given ones.
  function fill(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  }

  function shortSha(sha) {
    return sha ? String(sha).slice(0, 8) : "—";
  }

  // A number without float noise: 2 decimals at most, no trailing zeros.
  function num(value) {
    if (typeof value !== "number" || !isFinite(value)) return "—";
    return String(Math.round(value * 100) / 100);
  }

  // "Apps:3, Web:M" from {"Apps": 3, "Web": "M"} (a size written as text stays text).
  function skills(map) {
    const parts = Object.entries(map || {}).map(
      ([skill, weeks]) => `${skill}:${typeof weeks === "string" ? weeks : num(weeks)}`);
    return parts.join(", ");
  }

  function when(time) {
    if (!time) return "—";
    const date = typeof time === "number" ? new Date(time * 1000) : new Date(time);
    if (isNaN(date.getTime())) return String(time);
    return date.toLocaleString(undefined, {
      month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  // fetch + JSON; rejects with the API's {"error"} message on a 4xx/5xx.
  async function getJSON(url, options) {
    const response = await fetch(url, options);
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = { error: `bad answer (${response.status})` };
    }
    if (!response.ok) {
      const error = new Error((body && body.error) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function postJSON(url, value) {
    return getJSON(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(value),
    });
  }

  // The live connection: reconnects with back-off (0.5 s doubling to 10 s).
  function live(want, onMessage) {
    const badge = document.getElementById("live");
    let delay = 500;
    let socket = null;
    function status(text, cls) {
      if (!badge) return;
      badge.textContent = text;
      badge.className = `live ${cls}`;
    }
    function connect() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${location.host}/ws?want=${want}`);
      socket.addEventListener("open", () => {
        delay = 500;
        status("live", "on");
      });
      socket.addEventListener("message", (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (err) {
          return;
        }
        onMessage(message);
      });
      socket.addEventListener("close", () => {
        status(`reconnecting in ${Math.round(delay / 100) / 10} s`, "off");
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      });
    }
    connect();
    return { get socket() { return socket; } };
  }

  return { el, fill, shortSha, num, skills, when, getJSON, postJSON, live };
})();
