// The dashboard page: recent alerts kept live over Server-Sent Events, counts, filters,
// acknowledgements, alerts per minute and the node's operations. Every value is put into the page as
// text, never as markup.
"use strict";
(() => {
  const rows = new Map();           // alertId -> the row of the highest version seen
  const fresh = new Set();          // alert ids changed since the last render, highlighted once
  const maxRows = 1000;
  const filters = document.getElementById("filters");
  const body = document.getElementById("alerts");
  const connection = document.getElementById("connection");
  let renderQueued = false;

  const fmt = (v, digits) => (v === null || v === undefined) ? "" : Number(v).toFixed(digits);
  const ago = ms => {
    if (!ms) return "";
    const minutes = Math.floor((Date.now() - ms) / 60000);
    return minutes < 1 ? "just now" : minutes < 120 ? `${minutes} min ago` : `${Math.floor(minutes / 60)} h ago`;
  };
  const when = row => row.openedMs ?? row.closedMs ?? 0;

  function upsert(row, isNew) {
    const known = rows.get(row.alertId);
    if (known && known.version >= row.version) return;
    rows.set(row.alertId, row);
    if (isNew) fresh.add(row.alertId);
    if (rows.size > maxRows) {
      const oldest = [...rows.values()].sort((a, b) => a.version - b.version).slice(0, rows.size - maxRows);
      for (const r of oldest) rows.delete(r.alertId);
    }
    queueRender();
  }

  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function render() {
    const wanted = Object.fromEntries(new FormData(filters).entries());
    const all = [...rows.values()];
    const counts = { critical: 0, major: 0, minor: 0 };
    let open = 0, unacknowledged = 0;
    const sites = new Set();
    for (const r of all) {
      counts[r.severity] = (counts[r.severity] ?? 0) + 1;
      if (r.state === "open") open++;
      if (!r.acknowledgedBy) unacknowledged++;
      sites.add(r.site);
    }
    for (const b of document.querySelectorAll("[data-severity]")) b.textContent = counts[b.dataset.severity] ?? 0;
    document.getElementById("open-count").textContent = open;
    document.getElementById("unacknowledged-count").textContent = unacknowledged;

    const siteSelect = filters.elements.site;
    for (const site of [...sites].sort()) {
      if (![...siteSelect.options].some(o => o.value === site)) siteSelect.add(new Option(site, site));
    }

    const shown = all
      .filter(r => (!wanted.site || r.site === wanted.site) && (!wanted.severity || r.severity === wanted.severity) && (!wanted.state || r.state === wanted.state))
      .sort((a, b) => when(b) - when(a) || b.version - a.version);
    const fragment = document.createDocumentFragment();
    for (const r of shown) {
      const tr = document.createElement("tr");
      tr.className = `severity-${r.severity} state-${r.state}` + (fresh.has(r.alertId) ? " fresh" : "");
      tr.dataset.alertId = r.alertId;
      cell(tr, ago(r.openedMs), "ago");
      cell(tr, r.site);
      const device = cell(tr, "");
      const link = document.createElement("a");
      link.href = `/sensor?id=${encodeURIComponent(`${r.site}/${r.device}/${r.metric}`)}`;
      link.textContent = r.device;
      device.appendChild(link);
      cell(tr, r.metric);
      cell(tr, r.alertId, "id");
      cell(tr, fmt(r.value, 3), "num");
      cell(tr, fmt(r.grade ?? r.peakGrade, 2), "num");
      cell(tr, r.severity, "severity");
      cell(tr, r.state === "open" ? "open" : "closed", "state");
      cell(tr, r.text, "text");
      const action = cell(tr, "");
      if (r.acknowledgedBy) {
        action.className = "acked";
        action.textContent = `acknowledged by ${r.acknowledgedBy}`;
      } else {
        const button = document.createElement("button");
        button.className = "ack";
        button.type = "button";
        button.textContent = "Acknowledge";
        button.addEventListener("click", () => acknowledge(r.alertId, button));
        action.appendChild(button);
      }
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
    fresh.clear();
    document.getElementById("empty").hidden = shown.length > 0;
    drawChart(all);
  }

  async function acknowledge(alertId, button) {
    button.disabled = true;
    const response = await fetch("/api/alerts/acknowledge", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ alertId, by: "dashboard" }),
    });
    if (response.ok) upsert(await response.json(), false);
    else button.disabled = false;
  }

  async function load() {
    const response = await fetch("/api/alerts?limit=1000");
    if (!response.ok) return;
    const page = await response.json();
    for (const r of page.alerts) upsert(r, false);
    queueRender();
  }

  function listen() {
    const events = new EventSource("/api/alerts/events");
    events.addEventListener("open", () => {
      connection.dataset.state = "live";
      connection.textContent = "live";
      // Whatever changed while the stream was down.
      load();
    });
    events.addEventListener("error", () => {
      connection.dataset.state = "lost";
      connection.textContent = "reconnecting";
    });
    events.addEventListener("alert", e => upsert(JSON.parse(e.data), true));
  }

  let chart = null;
  function drawChart(all) {
    const now = Math.floor(Date.now() / 60000);
    const xs = [], ys = [];
    for (let m = now - 59; m <= now; m++) { xs.push(m * 60); ys.push(0); }
    for (const r of all) {
      if (!r.openedMs) continue;
      const i = Math.floor(r.openedMs / 60000) - (now - 59);
      if (i >= 0 && i < 60) ys[i]++;
    }
    const host = document.getElementById("per-minute");
    if (!chart) {
      chart = new uPlot({
        width: Math.max(300, host.clientWidth), height: 180,
        legend: { show: false },
        scales: { y: { range: (u, min, max) => [0, Math.max(1, max)] } },
        series: [{}, { label: "alerts", points: { show: false }, fill: "rgba(185, 28, 28, 0.35)", stroke: "#b91c1c", paths: uPlot.paths.bars({ size: [0.8] }) }],
      }, [xs, ys], host);
    } else {
      chart.setData([xs, ys]);
    }
  }

  let last = null;
  async function operations() {
    try {
      const response = await fetch("/api/operations");
      if (!response.ok) return;
      const op = await response.json();
      const now = Date.now();
      document.getElementById("op-site").textContent = op.site;
      document.getElementById("op-scored").textContent = op.readingsScored.toLocaleString();
      document.getElementById("op-episodes").textContent = `${op.episodesOpened} / ${op.episodesClosed}`;
      document.getElementById("op-intake").textContent = op.intake
        ? `${op.intake.sensorsBehind.toLocaleString()} sensors behind, ${op.intake.readingsRetained.toLocaleString()} readings retained`
        : "-";
      document.getElementById("op-kafka").textContent = op.kafka
        ? op.kafka.topics.map(t => `${t.topic}: ${t.messages.toLocaleString()}`).join(", ") + (op.kafka.readingsLag === null ? "" : `; lag ${op.kafka.readingsLag.toLocaleString()}`)
        : "-";
      const letters = Object.entries(op.deadLettersByReason).filter(([, n]) => n > 0);
      document.getElementById("op-dead-letters").textContent = letters.length ? letters.map(([r, n]) => `${r}: ${n}`).join(", ") : "none";
      document.getElementById("op-members").textContent = op.members.map(m => `${m.address} ${m.status}${m.reachable ? "" : " (unreachable)"}`).join("; ");
      document.getElementById("op-replication").textContent = op.replication
        ? op.replication.map(r => `${r.site}: ${r.reachable ? "reachable" : "UNREACHABLE"}, ${r.lagRecords.toLocaleString()} behind (${Math.round(r.lagSeconds)} s), ${r.replicated.toLocaleString()} copied${r.lostRecords > 0 ? `, ${r.lostRecords.toLocaleString()} LOST` : ""}`).join("; ")
        : "-";
      if (last) {
        const rate = (op.readingsScored - last.scored) * 1000 / Math.max(1, now - last.at);
        document.getElementById("op-rate").textContent = Math.round(rate).toLocaleString();
      }
      last = { scored: op.readingsScored, at: now };
    } catch { /* the next poll tries again */ }
  }

  filters.addEventListener("change", render);
  setInterval(queueRender, 30000);
  setInterval(operations, 5000);
  operations();
  load();
  listen();
})();
