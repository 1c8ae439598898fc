// ifpulse dashboard: host list, per-interface cards with SVG sparklines, refreshed every 10 s.
// Plain DOM and SVG, no library: the page must work offline, and names from hosts are
// only ever set as text (never as HTML).
"use strict";

const REFRESH_MS = 10000;
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const state = { host: decodeURIComponent(location.hash.slice(1)) || null, period: "1h" };
const PERIOD_MS = { "15m": 9e5, "1h": 36e5, "6h": 216e5, "24h": 864e5, "7d": 6048e5, "30d": 2592e6 };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function fmtRate(bytesPerSec) {
  if (bytesPerSec === null || bytesPerSec === undefined) return "–";
  const units = ["B/s", "KB/s", "MB/s", "GB/s", "TB/s"];
  let v = bytesPerSec, i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(v < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

function fmtBytes(bytes) {
  const units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
  let v = bytes, i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(i > 0 ? 1 : 0)} ${units[i]}`;
}

function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

async function api(path) {
  const headers = {};
  const token = localStorage.getItem("ifpulse-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const resp = await fetch(path, { headers });
  if (resp.status === 401) {
    const given = prompt("ifpulse api token");
    if (given) { localStorage.setItem("ifpulse-token", given); return api(path); }
  }
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
  return resp.json();
}

// A sparkline: rx and tx rates as two polylines on a shared scale. The x axis spans the
// whole period up to the newest bucket, so a host that only just started shows as such.
function sparkline(points, periodMs, stepMs) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 100 30");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.dataset.points = String(points.length);
  if (points.length === 0) return svg;
  const times = points.map((p) => Date.parse(p.timestamp));
  const end = times[times.length - 1] + stepMs;
  const t0 = end - Math.max(periodMs, stepMs), span = end - t0;
  const rate = (p, k) => p[`${k}_bytes_per_sec`] ?? 0;
  const max = Math.max(1, ...points.map((p) => Math.max(rate(p, "rx"), rate(p, "tx"))));
  for (const k of ["rx", "tx"]) {
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("class", k);
    const xy = points.map((p, i) => {
      const x = Math.max(0, ((times[i] + stepMs / 2 - t0) / span) * 100);
      return `${x.toFixed(2)},${(28 - (rate(p, k) / max) * 25).toFixed(2)}`; // 0 stays visible
    });
    line.setAttribute("points", xy.join(" "));
    svg.append(line);
  }
  return svg;
}

function hostButton(server) {
  const button = el("button", { type: "button", "data-host": server.id },
    el("span", {}, server.id),
    el("span", { class: `status ${server.status}` }, server.status));
  if (server.id === state.host) button.classList.add("selected");
  button.addEventListener("click", () => {
    state.host = server.id;
    location.hash = encodeURIComponent(server.id);
    refresh();
  });
  return button;
}

function interfaceCard(iface, points, periodMs, stepMs) {
  const errors = iface.rx_errors + iface.tx_errors;
  const drops = iface.rx_dropped + iface.tx_dropped;
  const link = iface.is_up ? "up" : "down";
  const speed = iface.speed_mbps === null ? "–" : `${iface.speed_mbps} Mb/s`;
  return el("article", { class: "card", "data-interface": iface.name },
    el("h3", {}, el("span", {}, iface.name), el("span", { class: `link ${link}` }, link)),
    el("div", { class: "rates" },
      el("span", { class: "rx" }, `↓ ${fmtRate(iface.rx_bytes_per_sec)}`),
      el("span", { class: "tx" }, `↑ ${fmtRate(iface.tx_bytes_per_sec)}`)),
    sparkline(points, periodMs, stepMs),
    el("dl", {},
      el("dt", {}, "received"), el("dd", {}, fmtBytes(iface.rx_bytes)),
      el("dt", {}, "sent"), el("dd", {}, fmtBytes(iface.tx_bytes)),
      el("dt", {}, "errors"), el("dd", { class: errors ? "bad" : "" }, String(errors)),
      el("dt", {}, "drops"), el("dd", { class: drops ? "bad" : "" }, String(drops)),
      el("dt", {}, "link"), el("dd", {}, `${iface.kind}, ${speed}, MTU ${iface.mtu ?? "–"}`)));
}

async function renderHost(id) {
  const enc = encodeURIComponent(id);
  const [server, spark] = await Promise.all([
    api(`api/v1/servers/${enc}`),
    api(`api/v1/metrics/sparkline/${enc}/network?period=${state.period}`),
  ]);
  const series = new Map((spark.series || []).map((s) => [s.interface, s.data]));
  $("host-title").textContent = server.hostname;
  $("host-meta").textContent = `${server.status} · last seen ${ago(server.last_seen)} · ` +
    `${server.interface_count} interfaces · publisher ${server.version ?? "?"}`;
  const periodMs = PERIOD_MS[spark.period], stepMs = spark.step_seconds * 1000;
  $("interfaces").replaceChildren(...server.network_interfaces.map(
    (i) => interfaceCard(i, series.get(i.name) || [], periodMs, stepMs)));
}

function renderAlerts(alerts) {
  const box = $("alerts");
  box.hidden = alerts.length === 0;
  box.replaceChildren(...alerts.map((a) =>
    el("div", {}, `⚠ ${a.server_id} ${a.interface}: ${a.reason ?? "errors or drops over threshold"}`)));
}

async function refresh() {
  try {
    const [servers, alerts] = await Promise.all([api("api/v1/servers"), api("api/v1/alerts")]);
    if (!servers.some((s) => s.id === state.host)) state.host = servers.length ? servers[0].id : null;
    $("hosts").replaceChildren(...servers.map(hostButton));
    renderAlerts(alerts);
    if (state.host) await renderHost(state.host);
    else $("host-title").textContent = "No host has reported yet";
    $("error").hidden = true;
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.ready = "true";
  } catch (err) {
    $("error").textContent = String(err.message || err);
    $("error").hidden = false;
  }
}

$("period").addEventListener("change", (e) => { state.period = e.target.value; refresh(); });
refresh();
setInterval(refresh, REFRESH_MS);
