// The sensor page: a watched stream's value, prediction and band over time with its episodes
// shaded, the highest score per minute and a histogram of values, kept live over Server-Sent Events.
"use strict";
(() => {
  const sensorId = new URLSearchParams(location.search).get("id") ?? "";
  const maxPoints = 5000;
  const cols = { offset: [], ts: [], value: [], prediction: [], low: [], high: [], score: [], anomaly: [], episode: [] };
  const connection = document.getElementById("connection");
  let alerts = [];
  let renderQueued = false;
  document.getElementById("sensor-id").textContent = sensorId;
  document.title = `${sensorId} - AnomalyActors`;

  function append(batch) {
    // The stream's events may repeat what the first load returned: only readings past the last offset.
    const last = cols.offset.length ? cols.offset[cols.offset.length - 1] : -1;
    const from = batch.offset.findIndex(o => o > last);
    if (from < 0) return;
    for (const key of Object.keys(cols)) cols[key].push(...batch[key].slice(from));
    const extra = cols.ts.length - maxPoints;
    if (extra > 0) for (const key of Object.keys(cols)) cols[key].splice(0, extra);
    queueRender();
  }

  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }

  // Contiguous runs of readings inside an episode, as [from, to] in seconds.
  function episodeRanges() {
    const ranges = [];
    let start = null, last = null, current = 0;
    for (let i = 0; i < cols.ts.length; i++) {
      const e = cols.episode[i];
      if (e > 0 && e === current) { last = cols.ts[i]; continue; }
      if (current > 0) ranges.push([start / 1000, last / 1000]);
      current = e; start = last = e > 0 ? cols.ts[i] : null;
    }
    if (current > 0) ranges.push([start / 1000, last / 1000]);
    return ranges;
  }

  const shadeEpisodes = {
    hooks: {
      drawClear: [u => {
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = "rgba(185, 28, 28, 0.12)";
        for (const [from, to] of episodeRanges()) {
          const x0 = u.valToPos(from, "x", true), x1 = u.valToPos(to, "x", true);
          ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
        }
        ctx.restore();
      }],
    },
  };

  const charts = {};
  function chart(name, options, data) {
    const host = document.getElementById(name);
    if (!charts[name]) {
      charts[name] = new uPlot({ width: Math.max(300, host.clientWidth), height: name === "series-chart" ? 320 : 200, ...options }, data, host);
    } else {
      charts[name].setData(data);
    }
  }

  function render() {
    const n = cols.ts.length;
    document.getElementById("point-count").textContent = n;
    document.getElementById("latest-value").textContent = n ? Number(cols.value[n - 1]).toPrecision(6) : "-";
    document.getElementById("episode-count").textContent = alerts.length;
    document.getElementById("no-points").hidden = n > 0;
    if (n === 0) return;

    const xs = cols.ts.map(t => t / 1000);
    chart("series-chart", {
      plugins: [shadeEpisodes],
      series: [
        {},
        { label: "value", stroke: "#1d4ed8", width: 1.5 },
        { label: "prediction", stroke: "#15803d", dash: [6, 4] },
        { label: "low", stroke: "rgba(107, 114, 128, 0.8)" },
        { label: "high", stroke: "rgba(107, 114, 128, 0.8)" },
      ],
      bands: [{ series: [4, 3], fill: "rgba(107, 114, 128, 0.15)" }],
    }, [xs, cols.value, cols.prediction, cols.low, cols.high]);

    const perMinute = new Map();
    for (let i = 0; i < n; i++) {
      const minute = Math.floor(cols.ts[i] / 60000) * 60;
      perMinute.set(minute, Math.max(perMinute.get(minute) ?? 0, cols.score[i]));
    }
    const minutes = [...perMinute.keys()].sort((a, b) => a - b);
    chart("score-chart", {
      legend: { show: false },
      scales: { y: { range: [0, 1] } },
      series: [{}, { label: "score", fill: "rgba(194, 65, 12, 0.35)", stroke: "#c2410c", points: { show: false }, paths: uPlot.paths.bars({ size: [0.8] }) }],
    }, [minutes, minutes.map(m => perMinute.get(m))]);

    const bins = 20;
    let min = Infinity, max = -Infinity;
    for (const v of cols.value) { if (v < min) min = v; if (v > max) max = v; }
    const width = (max - min) / bins || 1;
    const counts = new Array(bins).fill(0);
    for (const v of cols.value) counts[Math.min(bins - 1, Math.floor((v - min) / width))]++;
    chart("histogram-chart", {
      legend: { show: false },
      scales: { x: { time: false } },
      axes: [{ values: (u, ticks) => ticks.map(t => Number(t).toPrecision(3)) }, {}],
      series: [{}, { label: "readings", fill: "rgba(29, 78, 216, 0.35)", stroke: "#1d4ed8", points: { show: false }, paths: uPlot.paths.bars({ size: [0.9] }) }],
    }, [counts.map((_, i) => min + (i + 0.5) * width), counts]);
  }

  function renderAlerts() {
    const body = document.getElementById("sensor-alerts");
    const fragment = document.createDocumentFragment();
    for (const a of alerts) {
      const tr = document.createElement("tr");
      tr.className = `severity-${a.severity}`;
      for (const text of [a.alertId, a.openedMs ? new Date(a.openedMs).toISOString() : "", a.closedMs ? new Date(a.closedMs).toISOString() : "open",
        a.value ?? "", a.grade === null || a.grade === undefined ? "" : Number(a.grade).toFixed(2), a.severity, a.acknowledgedBy ?? ""]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      tr.children[5].className = "severity";
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
  }

  async function load() {
    const response = await fetch(`/api/series?sensor=${encodeURIComponent(sensorId)}`);
    if (!response.ok) {
      document.getElementById("no-points").textContent = `Not a sensor id: ${sensorId}`;
      return;
    }
    const page = await response.json();
    // Whatever the event stream brought meanwhile is newer than the load, or repeated in it.
    const streamed = Object.fromEntries(Object.keys(cols).map(k => [k, cols[k]]));
    for (const key of Object.keys(cols)) cols[key] = [];
    append(page.points);
    append(streamed);
    alerts = page.alerts;
    renderAlerts();
  }

  function listen() {
    const events = new EventSource(`/api/series/events?sensor=${encodeURIComponent(sensorId)}`);
    events.addEventListener("open", () => { connection.dataset.state = "live"; connection.textContent = "live"; });
    events.addEventListener("error", () => { connection.dataset.state = "lost"; connection.textContent = "reconnecting"; });
    events.addEventListener("points", e => append(JSON.parse(e.data)));
  }

  // Alerts of the sensor change rarely: read again now and then.
  const [site, device, metric] = sensorId.split("/");
  setInterval(async () => {
    const response = await fetch(`/api/alerts?site=${encodeURIComponent(site)}&device=${encodeURIComponent(device)}&metric=${encodeURIComponent(metric)}`);
    if (response.ok) { alerts = (await response.json()).alerts; renderAlerts(); queueRender(); }
  }, 10000);
  // The event stream first, so nothing scored between the two is missed.
  listen();
  load();
})();
